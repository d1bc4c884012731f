//! Checks a submit body against the platform's rules, from raw JSON.
//!
//! The body is read into a borrowed view of its top-level object: strings without escapes are
//! slices of the request buffer, so a body with two 20 MiB frames is not copied. Frames sent as
//! Base64 are decoded in small chunks to check format and decoded size, never held whole.
//! Every problem is reported at once; the message names each field.

use crate::markers::{self, Markers};
use crate::model::Model;

mod frames;
mod value;

use frames::check_frame;
#[cfg(test)]
use frames::sniff_image;
use value::Object;
#[cfg(test)]
use value::Val;

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

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

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
