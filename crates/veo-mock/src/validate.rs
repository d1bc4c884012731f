//! Checks a submit body against the platform's rules, from raw JSON.
//!
//! The body is read into a borrowed view of its top-level object: strings without escapes are
//! slices of the request buffer, so a body with two 20 MiB frames is not copied. Frames sent as
//! Base64 are decoded in small chunks to check format and decoded size, never held whole.
//! Every problem is reported at once; the message names each field.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::markers::{self, Markers};
use crate::model::Model;

/// Limits that apply to a submit body.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub max_image_bytes: usize,
    pub accept_data_urls: bool,
}

/// A submit body that passed every rule: what the task needs to know.
#[derive(Clone, Debug)]
pub(crate) struct Submission {
    pub seed: Option<u32>,
    pub sample_count: u8,
    pub resolution: &'static str,
    pub aspect_ratio: &'static str,
    pub duration_s: u8,
    pub generate_audio: bool,
    pub markers: Markers,
}

/// Why a body was rejected: one message naming every bad field.
#[derive(Clone, Debug)]
pub(crate) struct Invalid {
    pub message: String,
    pub fields: Vec<String>,
}

impl Invalid {
    fn whole(message: String) -> Invalid {
        Invalid {
            message,
            fields: Vec::new(),
        }
    }
}

const COMMON_FIELDS: [&str; 10] = [
    "image",
    "prompt",
    "seed",
    "resolution",
    "aspect_ratio",
    "sample_count",
    "enhance_prompt",
    "generate_audio",
    "negative_prompt",
    "person_generation",
];

const RESOLUTIONS: [&str; 2] = ["720p", "1080p"];
const ASPECT_RATIOS: [&str; 2] = ["16:9", "9:16"];
const PERSON_GENERATION: [&str; 3] = ["allow_adult", "dont_allow", "allow_all"];
const DURATIONS: [u64; 3] = [4, 6, 8];

/// Validates `body` as a submit request to `model`'s endpoint.
pub(crate) fn validate(model: Model, body: &[u8], limits: Limits) -> Result<Submission, Invalid> {
    let object: Object<'_> = serde_json::from_slice(body).map_err(|e| {
        Invalid::whole(if e.is_data() {
            format!("request body must be a JSON object: {e}")
        } else {
            format!("request body is not valid JSON: {e}")
        })
    })?;
    let mut problems = Problems::default();

    // Unknown and repeated fields first, with the sibling endpoint's names explained.
    let last_field = model.last_frame_field();
    let duration_field = model.duration_field();
    for (i, (key, _)) in object.0.iter().enumerate() {
        let key: &str = key;
        let known = COMMON_FIELDS.contains(&key) || key == last_field || key == duration_field;
        if !known {
            let hint = match (model, key) {
                (Model::Lite, "duration_seconds") => {
                    " (the Lite endpoint calls it `duration`)".to_owned()
                }
                (Model::Lite, "last_image") => {
                    " (the Lite endpoint calls it `last_frame_image`)".to_owned()
                }
                (_, "duration") => " (this endpoint calls it `duration_seconds`)".to_owned(),
                (_, "last_frame_image") => {
                    " (this endpoint calls it `last_image`; `last_frame_image` is Lite's)"
                        .to_owned()
                }
                _ => String::new(),
            };
            problems.add(key, format!("unknown field{hint}"));
        } else if object.0[..i].iter().any(|(k, _)| k == key) {
            problems.add(key, "appears more than once".to_owned());
        }
    }
    let get = |name: &str| object.0.iter().find(|(k, _)| k == name).map(|(_, v)| v);

    for field in ["image", last_field] {
        match get(field) {
            None => problems.add(field, "is required".to_owned()),
            Some(v) => match v.as_str(field) {
                Err(e) => problems.add(field, e),
                Ok(s) => {
                    if let Err(e) = check_frame(s, limits) {
                        problems.add(field, e);
                    }
                }
            },
        }
    }

    let mut markers = Markers::default();
    match get("prompt") {
        None => problems.add("prompt", "is required".to_owned()),
        Some(v) => match v.as_str("prompt") {
            Err(e) => problems.add("prompt", e),
            Ok(s) if s.trim().is_empty() => problems.add("prompt", "must not be empty".to_owned()),
            Ok(s) => match markers::parse(s) {
                Ok(m) => markers = m,
                Err(e) => problems.add("prompt", e),
            },
        },
    }
    if let Some(v) = get("negative_prompt")
        && let Err(e) = v.as_str("negative_prompt")
    {
        problems.add("negative_prompt", e);
    }

    let seed = match get("seed").map(|v| v.as_int("seed", 0, u64::from(u32::MAX))) {
        None => None,
        Some(Ok(n)) => u32::try_from(n).ok(),
        Some(Err(e)) => {
            problems.add("seed", e);
            None
        }
    };
    let sample_count = match get("sample_count").map(|v| v.as_int("sample_count", 1, 4)) {
        None => 1,
        Some(Ok(n)) => u8::try_from(n).unwrap_or(1),
        Some(Err(e)) => {
            problems.add("sample_count", e);
            1
        }
    };
    let duration_s = match get(duration_field).map(|v| v.as_choice_int(duration_field, &DURATIONS))
    {
        None => 8,
        Some(Ok(n)) => u8::try_from(n).unwrap_or(8),
        Some(Err(e)) => {
            problems.add(duration_field, e);
            8
        }
    };
    let mut choice =
        |field: &'static str, allowed: &[&'static str], default: &'static str| match get(field)
            .map(|v| v.as_choice(field, allowed))
        {
            None => default,
            Some(Ok(s)) => s,
            Some(Err(e)) => {
                problems.add(field, e);
                default
            }
        };
    let resolution = choice("resolution", &RESOLUTIONS, "720p");
    let aspect_ratio = choice("aspect_ratio", &ASPECT_RATIOS, "16:9");
    choice("person_generation", &PERSON_GENERATION, "allow_adult");

    if let Some(v) = get("enhance_prompt")
        && let Err(e) = v.as_bool("enhance_prompt")
    {
        problems.add("enhance_prompt", e);
    }
    let generate_audio = match get("generate_audio").map(|v| v.as_bool("generate_audio")) {
        None => false,
        Some(Ok(b)) => b,
        Some(Err(e)) => {
            problems.add("generate_audio", e);
            false
        }
    };

    problems.finish()?;
    Ok(Submission {
        seed,
        sample_count,
        resolution,
        aspect_ratio,
        duration_s,
        generate_audio,
        markers,
    })
}

#[derive(Default)]
struct Problems {
    messages: Vec<String>,
    fields: Vec<String>,
}

impl Problems {
    fn add(&mut self, field: &str, problem: String) {
        self.messages.push(format!("`{field}` {problem}"));
        if !self.fields.iter().any(|f| f == field) {
            self.fields.push(field.to_owned());
        }
    }

    fn finish(self) -> Result<(), Invalid> {
        if self.messages.is_empty() {
            Ok(())
        } else {
            Err(Invalid {
                message: self.messages.join("; "),
                fields: self.fields,
            })
        }
    }
}

/// Checks a frame: an `http(s)` URL, or Base64 of a JPEG or PNG of at most the size limit.
pub(crate) fn check_frame(value: &str, limits: Limits) -> Result<(), String> {
    if value.is_empty() {
        return Err("must not be empty: send an image URL or the image's Base64".to_owned());
    }
    let lower_prefix = value.get(..8).unwrap_or(value).to_ascii_lowercase();
    if lower_prefix.starts_with("http://") || lower_prefix.starts_with("https://") {
        return check_url(value);
    }
    if lower_prefix.starts_with("data:") {
        if !limits.accept_data_urls {
            return Err(
                "is a data: URL; send the image's raw Base64 without the `data:...;base64,` prefix"
                    .to_owned(),
            );
        }
        let Some((header, data)) = value.split_once(',') else {
            return Err("is a data: URL without a comma before its data".to_owned());
        };
        let header = header.to_ascii_lowercase();
        if !matches!(
            header.as_str(),
            "data:image/png;base64" | "data:image/jpeg;base64" | "data:image/jpg;base64"
        ) {
            return Err(format!(
                "is a data: URL of an unsupported kind `{header}`; use data:image/png;base64 or data:image/jpeg;base64"
            ));
        }
        return check_base64_image(data.as_bytes(), limits.max_image_bytes);
    }
    check_base64_image(value.as_bytes(), limits.max_image_bytes)
}

fn check_url(value: &str) -> Result<(), String> {
    if value.len() > 8192 {
        return Err("is a URL longer than 8192 characters".to_owned());
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("is a URL containing whitespace or control characters".to_owned());
    }
    let rest = value.split_once("://").map(|(_, r)| r).unwrap_or("");
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.starts_with(':') || host.starts_with('@') {
        return Err("is a URL without a host".to_owned());
    }
    Ok(())
}

/// Decoded bytes inspected to recognise the format.
const SNIFF_CHARS: usize = 64 * 1024;
/// Base64 characters decoded per step after the sniffed prefix.
const CHUNK_CHARS: usize = 16 * 1024;

/// Checks that `b64` is standard, padded Base64 of a JPEG or PNG of at most `max` bytes, decoding
/// chunk by chunk (at most 48 KiB held at a time).
pub(crate) fn check_base64_image(b64: &[u8], max: usize) -> Result<(), String> {
    if !b64.len().is_multiple_of(4) {
        let bad = b64
            .iter()
            .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')));
        return Err(match bad {
            Some(pos) => format!(
                "is neither an http(s) URL nor valid Base64 (unexpected character at position {pos})"
            ),
            None => format!(
                "is not valid Base64: its length {} is not a multiple of 4 (padding missing?)",
                b64.len()
            ),
        });
    }
    let padding = b64.iter().rev().take(2).filter(|&&b| b == b'=').count();
    let decoded_len = b64.len() / 4 * 3 - padding;
    if decoded_len > max {
        return Err(format!(
            "decodes to {decoded_len} bytes; the limit is {} ({max} bytes)",
            human_size(max)
        ));
    }
    let decode_err = |e: base64::DecodeSliceError, offset: usize| match e {
        base64::DecodeSliceError::DecodeError(base64::DecodeError::InvalidByte(at, _)) => {
            format!(
                "is neither an http(s) URL nor valid Base64 (invalid character at position {})",
                offset + at
            )
        }
        other => format!("is not valid Base64 ({other})"),
    };
    let chunk_err = |offset: usize| {
        format!(
            "is neither an http(s) URL nor valid Base64 (misplaced padding near position {offset})"
        )
    };

    let sniff_end = b64.len().min(SNIFF_CHARS);
    let first = &b64[..sniff_end];
    let whole = sniff_end == b64.len();
    if !whole && first.last() == Some(&b'=') {
        return Err(chunk_err(sniff_end));
    }
    let mut prefix = vec![0u8; first.len() / 4 * 3];
    let n = STANDARD
        .decode_slice(first, &mut prefix)
        .map_err(|e| decode_err(e, 0))?;
    prefix.truncate(n);
    sniff_image(&prefix, whole)?;
    drop(prefix);

    let mut buf = [0u8; CHUNK_CHARS / 4 * 3];
    let mut offset = sniff_end;
    while offset < b64.len() {
        let end = b64.len().min(offset + CHUNK_CHARS);
        let chunk = &b64[offset..end];
        if end < b64.len() && chunk.last() == Some(&b'=') {
            return Err(chunk_err(end));
        }
        STANDARD
            .decode_slice(chunk, &mut buf)
            .map_err(|e| decode_err(e, offset))?;
        offset = end;
    }
    Ok(())
}

fn human_size(bytes: usize) -> String {
    if bytes.is_multiple_of(1024 * 1024) {
        format!("{} MiB", bytes / (1024 * 1024))
    } else {
        format!("{bytes} bytes")
    }
}

/// Recognises a PNG (signature + IHDR) or a JPEG (SOI, then a frame header before the scan).
/// `complete` says `data` is the whole image, so running out of data is an error.
pub(crate) fn sniff_image(data: &[u8], complete: bool) -> Result<(), String> {
    const PNG_SIG: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    if data.starts_with(&PNG_SIG) {
        let ihdr = data.get(8..24);
        return match ihdr {
            Some(h) if &h[4..8] == b"IHDR" => {
                let w = u32::from_be_bytes([h[8], h[9], h[10], h[11]]);
                let hgt = u32::from_be_bytes([h[12], h[13], h[14], h[15]]);
                if w == 0 || hgt == 0 {
                    Err("is a PNG with zero width or height".to_owned())
                } else {
                    Ok(())
                }
            }
            _ => Err("is a PNG without an IHDR header (truncated or corrupt)".to_owned()),
        };
    }
    if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return sniff_jpeg(data, complete);
    }
    Err("decodes to bytes that are neither a JPEG nor a PNG image".to_owned())
}

fn sniff_jpeg(data: &[u8], complete: bool) -> Result<(), String> {
    let truncated = || {
        if complete {
            Err("is a JPEG without a frame header (truncated or corrupt)".to_owned())
        } else {
            Ok(())
        }
    };
    let mut pos = 2;
    loop {
        // Markers may be preceded by fill bytes 0xFF.
        let Some(&byte) = data.get(pos) else {
            return truncated();
        };
        if byte != 0xFF {
            return Err("is a JPEG with a corrupt segment structure".to_owned());
        }
        while data.get(pos) == Some(&0xFF) {
            pos += 1;
        }
        let Some(&marker) = data.get(pos) else {
            return truncated();
        };
        pos += 1;
        match marker {
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                let Some(h) = data.get(pos..pos + 7) else {
                    return truncated();
                };
                let width = u16::from_be_bytes([h[5], h[6]]);
                return if width == 0 {
                    Err("is a JPEG with zero width".to_owned())
                } else {
                    Ok(())
                };
            }
            0xD9 | 0xDA => {
                return Err("is a JPEG without a frame header before its image data".to_owned());
            }
            0x01 | 0xD0..=0xD7 => {}
            _ => {
                let Some(len) = data.get(pos..pos + 2) else {
                    return truncated();
                };
                let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
                if len < 2 {
                    return Err("is a JPEG with a corrupt segment length".to_owned());
                }
                pos += len;
            }
        }
    }
}

/// A JSON value of the top-level object, borrowing strings from the body where it can.
#[derive(Debug)]
enum Val<'a> {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    Str(Cow<'a, str>),
    Array,
    Object,
}

impl<'a> Val<'a> {
    fn kind(&self) -> &'static str {
        match self {
            Val::Null => "null",
            Val::Bool(_) => "a boolean",
            Val::Number(_) => "a number",
            Val::Str(_) => "a string",
            Val::Array => "an array",
            Val::Object => "an object",
        }
    }

    fn wrong(&self, want: &str) -> String {
        match self {
            Val::Null => format!("must be {want}, got null (omit the field to use the default)"),
            other => format!("must be {want}, got {}", other.kind()),
        }
    }

    fn as_str(&self, _field: &str) -> Result<&str, String> {
        match self {
            Val::Str(s) => Ok(s),
            other => Err(other.wrong("a string")),
        }
    }

    fn as_bool(&self, _field: &str) -> Result<bool, String> {
        match self {
            Val::Bool(b) => Ok(*b),
            other => Err(other.wrong("a boolean (true or false)")),
        }
    }

    fn as_int(&self, _field: &str, min: u64, max: u64) -> Result<u64, String> {
        let Val::Number(n) = self else {
            return Err(self.wrong(&format!("an integer in {min}..={max}")));
        };
        if let Some(u) = n.as_u64() {
            if (min..=max).contains(&u) {
                return Ok(u);
            }
            return Err(format!("must be within {min}..={max}, got {u}"));
        }
        if let Some(i) = n.as_i64() {
            return Err(format!("must be within {min}..={max}, got {i}"));
        }
        match n.as_f64() {
            Some(f) if f.fract() == 0.0 => Err(format!("must be within {min}..={max}, got {n}")),
            _ => Err(format!("must be an integer in {min}..={max}, got {n}")),
        }
    }

    fn as_choice_int(&self, field: &str, allowed: &[u64]) -> Result<u64, String> {
        let list = allowed
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let Val::Number(n) = self else {
            return Err(self.wrong(&format!("one of the integers {list}")));
        };
        match n.as_u64() {
            Some(u) if allowed.contains(&u) => Ok(u),
            _ => {
                let _ = field;
                Err(format!("must be one of {list}, got {n}"))
            }
        }
    }

    fn as_choice(&self, _field: &str, allowed: &[&'static str]) -> Result<&'static str, String> {
        let list = allowed
            .iter()
            .map(|a| format!("\"{a}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let Val::Str(s) = self else {
            return Err(self.wrong(&format!("one of {list}")));
        };
        allowed
            .iter()
            .find(|a| **a == s.as_ref())
            .copied()
            .ok_or_else(|| format!("must be one of {list}, got \"{}\"", shorten(s)))
    }
}

fn shorten(s: &str) -> Cow<'_, str> {
    match s.char_indices().nth(40) {
        Some((i, _)) => Cow::Owned(format!("{}…", &s[..i])),
        None => Cow::Borrowed(s),
    }
}

/// The top-level object, in body order (duplicates kept so they can be reported).
struct Object<'a>(Vec<(Cow<'a, str>, Val<'a>)>);

struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for Val<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Val<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Val::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Val::Null)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Val::Bool(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Val::Number(v.into()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Val::Number(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                serde_json::Number::from_f64(v)
                    .map(Val::Number)
                    .ok_or_else(|| E::custom("number out of range"))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Val::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Val::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Val::Str(Cow::Owned(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Val::Array)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Val::Object)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Object<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Object<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields = Vec::new();
                while let Some((Key(k), v)) = map.next_entry::<Key<'de>, Val<'de>>()? {
                    fields.push((k, v));
                }
                Ok(Object(fields))
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_formats() {
        let png = [
            0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R', 0,
            0, 0, 1, 0, 0, 0, 1,
        ];
        assert!(sniff_image(&png, true).is_ok());
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0, 0, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0, 1, 0, 1,
        ];
        assert!(sniff_image(&jpeg, true).is_ok());
        assert!(sniff_image(&jpeg[..6], true).is_err());
        assert!(sniff_image(&jpeg[..6], false).is_ok());
        assert!(sniff_image(b"GIF89a", true).is_err());
    }

    #[test]
    fn strings_borrow_from_the_body() {
        let body = br#"{"image":"QUJD","x":[1,{"a":2}],"n":null}"#;
        let o: Object<'_> = serde_json::from_slice(body).unwrap();
        assert!(matches!(o.0[0].1, Val::Str(Cow::Borrowed("QUJD"))));
        assert!(matches!(o.0[1].1, Val::Array));
        assert!(matches!(o.0[2].1, Val::Null));
    }
}
