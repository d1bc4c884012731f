//! Encoding: a [`PreparedRequest`] becomes the exact JSON body of its model's endpoint.
//!
//! Frames dominate the body (two 20 MB frames are ~54 MB of Base64), so the body is never built
//! as one string: [`RequestBody`] is a list of parts whose Base64 is produced chunk by chunk while
//! the body is sent, straight from the decoded bytes or from the file on disk; Base64 a caller
//! gave in canonical form is sent as given. Its exact length is known up front, so it goes out
//! with a `Content-Length` like any other JSON request.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use futures_util::stream::{self, BoxStream, StreamExt};
use serde::Serialize;
use serde_json::Value;
use tokio::io::AsyncReadExt;

use crate::image::FramePayload;
use crate::request::{AspectRatio, DurationSeconds, PersonGeneration, Resolution};
use crate::validate::PreparedRequest;

/// Raw bytes encoded per chunk (a multiple of 3, so chunks concatenate into valid Base64).
const RAW_CHUNK: usize = 3 * 16 * 1024;

/// Bodies up to this size, with no file part, are sent as one buffer rather than streamed.
const SMALL_BODY_MAX: u64 = 1024 * 1024;

/// In-memory frames up to this size are hashed on the async thread; larger ones, and files, on
/// the blocking pool.
const HASH_INLINE_MAX: usize = 256 * 1024;

/// The JSON body of a submit, ready to stream; cheap to clone (for a retry).
#[derive(Clone, Debug)]
pub struct RequestBody {
    parts: Vec<Part>,
    len: u64,
}

#[derive(Clone, Debug)]
enum Part {
    Json(Bytes),
    /// A frame in memory: its bytes, and their Base64 when the caller gave it canonical.
    Base64 {
        raw: Bytes,
        encoded: Option<Bytes>,
    },
    Base64File {
        path: PathBuf,
        len: u64,
    },
}

impl Part {
    fn encoded_len(&self) -> u64 {
        match self {
            Part::Json(b) => b.len() as u64,
            Part::Base64 {
                encoded: Some(text),
                ..
            } => text.len() as u64,
            Part::Base64 { raw, .. } => base64_len(raw.len() as u64),
            Part::Base64File { len, .. } => base64_len(*len),
        }
    }

    fn into_stream(self) -> BoxStream<'static, std::io::Result<Bytes>> {
        match self {
            Part::Json(b)
            | Part::Base64 {
                encoded: Some(b), ..
            } => stream::once(async move { Ok(b) }).boxed(),
            Part::Base64 { raw: bytes, .. } => {
                stream::iter((0..bytes.len()).step_by(RAW_CHUNK).map(move |start| {
                    let end = (start + RAW_CHUNK).min(bytes.len());
                    Ok(Bytes::from(STANDARD.encode(&bytes[start..end])))
                }))
                .boxed()
            }
            Part::Base64File { path, len } => file_base64_stream(path, len),
        }
    }
}

fn base64_len(raw: u64) -> u64 {
    raw.div_ceil(3) * 4
}

fn file_base64_stream(path: PathBuf, expected: u64) -> BoxStream<'static, std::io::Result<Bytes>> {
    struct State {
        file: Option<tokio::fs::File>,
        path: PathBuf,
        read: u64,
        expected: u64,
        buf: Vec<u8>,
    }
    let state = State {
        file: None,
        path,
        read: 0,
        expected,
        buf: vec![0; RAW_CHUNK],
    };
    stream::try_unfold(state, |mut s| async move {
        if s.file.is_none() {
            s.file = Some(tokio::fs::File::open(&s.path).await?);
        }
        let Some(file) = s.file.as_mut() else {
            return Ok(None);
        };
        let mut filled = 0;
        while filled < RAW_CHUNK {
            let n = file.read(&mut s.buf[filled..]).await?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        s.read += filled as u64;
        if s.read > s.expected || (filled == 0 && s.read != s.expected) {
            return Err(std::io::Error::other(format!(
                "{} changed while it was being sent (expected {} bytes)",
                s.path.display(),
                s.expected
            )));
        }
        if filled == 0 {
            return Ok(None);
        }
        let chunk = Bytes::from(STANDARD.encode(&s.buf[..filled]));
        Ok(Some((chunk, s)))
    })
    .boxed()
}

impl RequestBody {
    /// Exact length of the body in bytes.
    pub fn content_length(&self) -> u64 {
        self.len
    }

    /// The body as a stream of chunks; frames are read and encoded as the stream is polled.
    pub fn stream(&self) -> BoxStream<'static, std::io::Result<Bytes>> {
        stream::iter(self.parts.clone())
            .flat_map(Part::into_stream)
            .boxed()
    }

    /// The body as one buffer when it is small and has no file part (a request with inline or
    /// URL frames): cheaper to send than a stream of parts. `None` otherwise.
    pub(crate) fn small_in_memory(&self) -> Option<Bytes> {
        if self.len > SMALL_BODY_MAX
            || self
                .parts
                .iter()
                .any(|p| matches!(p, Part::Base64File { .. }))
        {
            return None;
        }
        let mut out = Vec::with_capacity(self.len as usize);
        for part in &self.parts {
            match part {
                Part::Json(b)
                | Part::Base64 {
                    encoded: Some(b), ..
                } => out.extend_from_slice(b),
                Part::Base64 { raw, .. } => {
                    let start = out.len();
                    out.resize(start + base64_len(raw.len() as u64) as usize, 0);
                    let written = STANDARD.encode_slice(raw, &mut out[start..]).ok()?;
                    out.truncate(start + written);
                }
                Part::Base64File { .. } => return None,
            }
        }
        Some(Bytes::from(out))
    }

    /// The whole body in memory (for tests and inspection; sending uses [`Self::stream`]).
    pub async fn to_bytes(&self) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(self.len as usize);
        let mut chunks = self.stream();
        while let Some(chunk) = chunks.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }
}

impl RequestBody {
    /// A SHA-256 (hex) of the endpoint and the body's content, the frames' decoded bytes
    /// included: two requests with the same fingerprint ask the platform for the same video,
    /// whichever form (file, Base64, data URL) their frames were given in.
    ///
    /// Each frame's raw bytes are hashed on their own with BLAKE3 (several times faster than
    /// SHA-256 on 20 MB frames), both frames at once and off the async threads (files are read
    /// for it, not encoded); the endpoint, the body's JSON parts and each frame's length and
    /// digest are then hashed together with SHA-256.
    pub async fn fingerprint(&self, endpoint: &str) -> std::io::Result<String> {
        use sha2::Digest as _;
        let digests =
            futures_util::future::try_join_all(self.parts.iter().map(Part::content_digest)).await?;
        let mut hash = sha2::Sha256::new();
        hash.update(endpoint.as_bytes());
        hash.update([0]);
        for (part, digest) in self.parts.iter().zip(digests) {
            match (part, digest) {
                (Part::Json(b), _) => hash.update(b),
                (_, Some((len, digest))) => {
                    hash.update(len.to_le_bytes());
                    hash.update(digest);
                }
                (_, None) => {}
            }
        }
        Ok(hex(&hash.finalize()))
    }
}

impl Part {
    /// For a frame, its length in bytes and the BLAKE3 hash of its raw bytes; `None` for JSON.
    async fn content_digest(&self) -> std::io::Result<Option<(u64, [u8; 32])>> {
        match self {
            Part::Json(_) => Ok(None),
            Part::Base64 { raw, .. } if raw.len() <= HASH_INLINE_MAX => {
                Ok(Some((raw.len() as u64, *blake3::hash(raw).as_bytes())))
            }
            Part::Base64 { raw, .. } => {
                let (len, raw) = (raw.len() as u64, raw.clone());
                let digest = tokio::task::spawn_blocking(move || *blake3::hash(&raw).as_bytes())
                    .await
                    .map_err(std::io::Error::other)?;
                Ok(Some((len, digest)))
            }
            Part::Base64File { path, len } => {
                let (path, len) = (path.clone(), *len);
                let digest = tokio::task::spawn_blocking(move || hash_file(&path, len))
                    .await
                    .map_err(std::io::Error::other)??;
                Ok(Some((len, digest)))
            }
        }
    }
}

/// Lower-case hexadecimal, in one allocation.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// The BLAKE3 hash of a file's bytes; an error if it is no longer `len` bytes long.
fn hash_file(path: &std::path::Path, len: u64) -> std::io::Result<[u8; 32]> {
    let mut hash = blake3::Hasher::new();
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut seen = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        seen += n as u64;
        hash.update(&buf[..n]);
    }
    if seen != len {
        return Err(std::io::Error::other(format!(
            "{} changed while being read ({seen} bytes, {len} expected)",
            path.display()
        )));
    }
    Ok(*hash.finalize().as_bytes())
}

fn frame_part(payload: &FramePayload) -> Vec<Part> {
    match payload {
        FramePayload::Url(url) => vec![Part::Json(Bytes::from(
            Value::from(url.as_str()).to_string(),
        ))],
        FramePayload::Bytes { raw, base64 } => vec![
            quote(),
            Part::Base64 {
                raw: raw.clone(),
                encoded: base64.clone(),
            },
            quote(),
        ],
        FramePayload::File { path, len } => {
            vec![
                quote(),
                Part::Base64File {
                    path: path.clone(),
                    len: *len,
                },
                quote(),
            ]
        }
    }
}

fn quote() -> Part {
    Part::Json(Bytes::from_static(b"\""))
}

/// One of the body's small fields, as it is written: each serializes exactly as the request's
/// own field does.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(untagged)]
pub enum WireField<'a> {
    /// The prompt or the negative prompt.
    Text(&'a str),
    /// The seed or the sample count.
    Number(u64),
    /// `enhance_prompt`, `generate_audio`.
    Flag(bool),
    /// `resolution`.
    Resolution(Resolution),
    /// `aspect_ratio`.
    AspectRatio(AspectRatio),
    /// The duration, under the model's name for it.
    Duration(DurationSeconds),
    /// `person_generation`.
    PersonGeneration(PersonGeneration),
}

/// The body's small fields (everything but the frames) under the model's wire names, in the
/// order they are written (by name). Borrowed from the request: nothing is copied.
pub fn wire_fields(prepared: &PreparedRequest) -> BTreeMap<&'static str, WireField<'_>> {
    let r = &prepared.request;
    let mut fields = BTreeMap::new();
    fields.insert("prompt", WireField::Text(&r.prompt));
    if let Some(seed) = r.seed {
        fields.insert("seed", WireField::Number(u64::from(seed)));
    }
    fields.insert("resolution", WireField::Resolution(r.resolution));
    fields.insert("aspect_ratio", WireField::AspectRatio(r.aspect_ratio));
    fields.insert("sample_count", WireField::Number(u64::from(r.sample_count)));
    fields.insert("enhance_prompt", WireField::Flag(r.enhance_prompt));
    fields.insert("generate_audio", WireField::Flag(r.generate_audio));
    if let Some(negative) = &r.negative_prompt {
        fields.insert("negative_prompt", WireField::Text(negative));
    }
    fields.insert(
        r.model.duration_field(),
        WireField::Duration(r.duration_seconds),
    );
    fields.insert(
        "person_generation",
        WireField::PersonGeneration(r.person_generation),
    );
    fields
}

/// Encodes a prepared request as the body of its model's submit endpoint.
pub fn encode(prepared: &PreparedRequest) -> RequestBody {
    let model = prepared.request.model;
    // Plain strings, numbers, flags and unit enums under string keys: serializing cannot fail.
    let rest = serde_json::to_string(&wire_fields(prepared)).unwrap_or_else(|_| "{}".into());
    let mut parts = vec![Part::Json(Bytes::from_static(b"{\"image\":"))];
    parts.extend(frame_part(&prepared.first_frame.payload));
    parts.push(Part::Json(Bytes::from(format!(
        ",\"{}\":",
        model.last_frame_field()
    ))));
    parts.extend(frame_part(&prepared.last_frame.payload));
    // `rest` is a non-empty object ("prompt" is always present): splice it in after a comma.
    parts.push(Part::Json(Bytes::from(format!(
        ",{}",
        rest.strip_prefix('{').unwrap_or(&rest)
    ))));
    let len = parts.iter().map(Part::encoded_len).sum();
    RequestBody { parts, len }
}

#[cfg(test)]
mod tests;
