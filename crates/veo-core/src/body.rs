//! Encoding: a [`PreparedRequest`] becomes the exact JSON body of its model's endpoint.
//!
//! Frames dominate the body (two 20 MB frames are ~54 MB of Base64), so the body is never built
//! as one string: [`RequestBody`] is a list of parts whose Base64 is produced chunk by chunk while
//! the body is sent, straight from the decoded bytes or from the file on disk; Base64 a caller
//! gave in canonical form is sent as given. Its exact length is known up front, so it goes out
//! with a `Content-Length` like any other JSON request.

use std::io::Read as _;
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use futures_util::stream::{self, BoxStream, StreamExt};
use serde_json::{Map, Value, json};
use tokio::io::AsyncReadExt;

use crate::image::FramePayload;
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

/// The body's small fields (everything but the frames) under the model's wire names.
pub fn wire_fields(prepared: &PreparedRequest) -> Map<String, Value> {
    let r = &prepared.request;
    let mut fields = Map::new();
    fields.insert("prompt".into(), json!(r.prompt));
    if let Some(seed) = r.seed {
        fields.insert("seed".into(), json!(seed));
    }
    fields.insert("resolution".into(), json!(r.resolution));
    fields.insert("aspect_ratio".into(), json!(r.aspect_ratio));
    fields.insert("sample_count".into(), json!(r.sample_count));
    fields.insert("enhance_prompt".into(), json!(r.enhance_prompt));
    fields.insert("generate_audio".into(), json!(r.generate_audio));
    if let Some(negative) = &r.negative_prompt {
        fields.insert("negative_prompt".into(), json!(negative));
    }
    fields.insert(r.model.duration_field().into(), json!(r.duration_seconds));
    fields.insert("person_generation".into(), json!(r.person_generation));
    fields
}

/// Encodes a prepared request as the body of its model's submit endpoint.
pub fn encode(prepared: &PreparedRequest) -> RequestBody {
    let model = prepared.request.model;
    let rest = Value::Object(wire_fields(prepared)).to_string();
    let mut parts = vec![Part::Json(Bytes::from_static(b"{\"image\":"))];
    parts.extend(frame_part(&prepared.first_frame.payload));
    parts.push(Part::Json(Bytes::from(format!(
        ",\"{}\":",
        model.last_frame_field()
    ))));
    parts.extend(frame_part(&prepared.last_frame.payload));
    // `rest` is a non-empty object ("prompt" is always present): splice it in after a comma.
    parts.push(Part::Json(Bytes::from(format!(",{}", &rest[1..]))));
    let len = parts.iter().map(Part::encoded_len).sum();
    RequestBody { parts, len }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::ImagePolicy;
    use crate::request::{
        AspectRatio, DurationSeconds, Model, PersonGeneration, Resolution, TransitionRequest,
    };
    use crate::sample::gradient_png;
    use crate::validate::prepare;

    fn png(seed: u8) -> Vec<u8> {
        gradient_png(16, 9, [seed, 0, 0], [0, seed, 0])
    }

    async fn body_for(request: TransitionRequest) -> (Value, RequestBody) {
        let prepared = prepare(request, &ImagePolicy::default()).await.unwrap();
        let body = encode(&prepared);
        let bytes = body.to_bytes().await.unwrap();
        assert_eq!(
            bytes.len() as u64,
            body.content_length(),
            "declared length must match"
        );
        (serde_json::from_slice(&bytes).unwrap(), body)
    }

    fn full_request(model: Model, first: &[u8], last: &[u8]) -> TransitionRequest {
        TransitionRequest {
            model,
            image: format!("data:image/png;base64,{}", STANDARD.encode(first)),
            last_image: STANDARD.encode(last),
            prompt: "the sun sets \"slowly\"".into(),
            seed: Some(42),
            resolution: Resolution::P1080,
            aspect_ratio: AspectRatio::Landscape,
            sample_count: 2,
            enhance_prompt: true,
            generate_audio: true,
            negative_prompt: Some("text, watermark".into()),
            duration_seconds: DurationSeconds::Seconds6,
            person_generation: PersonGeneration::DontAllow,
        }
    }

    #[tokio::test]
    async fn golden_body_for_veo_3_1_and_fast() {
        let (first, last) = (png(200), png(100));
        for model in [Model::Veo31, Model::Veo31Fast] {
            let (body, _) = body_for(full_request(model, &first, &last)).await;
            assert_eq!(
                body,
                json!({
                    "image": STANDARD.encode(&first),
                    "last_image": STANDARD.encode(&last),
                    "prompt": "the sun sets \"slowly\"",
                    "seed": 42,
                    "resolution": "1080p",
                    "aspect_ratio": "16:9",
                    "sample_count": 2,
                    "enhance_prompt": true,
                    "generate_audio": true,
                    "negative_prompt": "text, watermark",
                    "duration_seconds": 6,
                    "person_generation": "dont_allow"
                })
            );
        }
    }

    #[tokio::test]
    async fn golden_body_for_lite_uses_its_own_names() {
        let (first, last) = (png(200), png(100));
        let (body, _) = body_for(full_request(Model::Veo31Lite, &first, &last)).await;
        assert_eq!(
            body,
            json!({
                "image": STANDARD.encode(&first),
                "last_frame_image": STANDARD.encode(&last),
                "prompt": "the sun sets \"slowly\"",
                "seed": 42,
                "resolution": "1080p",
                "aspect_ratio": "16:9",
                "sample_count": 2,
                "enhance_prompt": true,
                "generate_audio": true,
                "negative_prompt": "text, watermark",
                "duration": 6,
                "person_generation": "dont_allow"
            })
        );
    }

    #[tokio::test]
    async fn exact_bytes_of_a_minimal_url_request() {
        let prepared = prepare(
            TransitionRequest::new("https://x.test/a.png", "https://x.test/b.png", "go"),
            &ImagePolicy::default(),
        )
        .await
        .unwrap();
        let bytes = encode(&prepared).to_bytes().await.unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            r#"{"image":"https://x.test/a.png","last_image":"https://x.test/b.png","aspect_ratio":"16:9","duration_seconds":8,"enhance_prompt":true,"generate_audio":false,"person_generation":"allow_adult","prompt":"go","resolution":"720p","sample_count":1}"#
        );
    }

    #[tokio::test]
    async fn files_stream_in_chunks_and_match_their_base64() {
        let dir = tempfile::tempdir().unwrap();
        // Larger than several chunks, and not a multiple of 3.
        let first = gradient_png(300, 200, [1, 2, 3], [250, 250, 250]);
        let path = dir.path().join("first.png");
        std::fs::write(&path, &first).unwrap();
        let policy = ImagePolicy {
            allowed_roots: vec![dir.path().to_path_buf()],
        };
        let last = png(7);
        let request = TransitionRequest::new(path.to_str().unwrap(), STANDARD.encode(&last), "p");
        let prepared = prepare(request, &policy).await.unwrap();
        let body = encode(&prepared);
        let chunks: Vec<Bytes> = body.stream().map(|c| c.unwrap()).collect().await;
        assert!(chunks.len() > 4, "the file is sent in several chunks");
        let bytes: Vec<u8> = chunks.concat();
        assert_eq!(bytes.len() as u64, body.content_length());
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(value["image"], STANDARD.encode(&first));
        assert_eq!(value["last_image"], STANDARD.encode(&last));
    }

    #[tokio::test]
    async fn a_file_that_changes_before_sending_fails_the_body() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.png");
        std::fs::write(&path, png(1)).unwrap();
        let policy = ImagePolicy {
            allowed_roots: vec![dir.path().to_path_buf()],
        };
        let request = TransitionRequest::new(path.to_str().unwrap(), path.to_str().unwrap(), "p");
        let prepared = prepare(request, &policy).await.unwrap();
        std::fs::write(&path, gradient_png(64, 64, [0, 0, 0], [1, 1, 1])).unwrap();
        let e = encode(&prepared).to_bytes().await.unwrap_err();
        assert!(
            e.to_string().contains("changed while it was being sent"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn fingerprints_follow_content_not_form() {
        let dir = tempfile::tempdir().unwrap();
        let (first, last) = (png(9), png(10));
        let path = dir.path().join("first.png");
        std::fs::write(&path, &first).unwrap();
        let policy = ImagePolicy {
            allowed_roots: vec![dir.path().to_path_buf()],
        };
        let fingerprint = |request: TransitionRequest| {
            let policy = policy.clone();
            async move {
                let prepared = prepare(request, &policy).await.unwrap();
                encode(&prepared)
                    .fingerprint(prepared.request.model.endpoint_path())
                    .await
                    .unwrap()
            }
        };
        let from_file =
            TransitionRequest::new(path.to_str().unwrap(), STANDARD.encode(&last), "a fox");
        let from_base64 =
            TransitionRequest::new(STANDARD.encode(&first), STANDARD.encode(&last), "a fox");
        let a = fingerprint(from_file.clone()).await;
        assert_eq!(a.len(), 64);
        assert_eq!(a, fingerprint(from_file.clone()).await, "stable");
        assert_eq!(a, fingerprint(from_base64).await, "same bytes, same video");
        let mut other_prompt = from_file.clone();
        other_prompt.prompt = "a wolf".into();
        assert_ne!(a, fingerprint(other_prompt).await);
        let mut other_model = from_file.clone();
        other_model.model = Model::Veo31Fast;
        assert_ne!(a, fingerprint(other_model).await);
        let mut other_seed = from_file.clone();
        other_seed.seed = Some(1);
        assert_ne!(a, fingerprint(other_seed).await);
        std::fs::write(&path, png(11)).unwrap();
        let changed =
            TransitionRequest::new(path.to_str().unwrap(), STANDARD.encode(&last), "a fox");
        assert_ne!(
            a,
            fingerprint(changed).await,
            "other image bytes, other video"
        );
    }

    #[tokio::test]
    async fn base64_in_any_accepted_form_gives_the_canonical_body() {
        // 16×9 PNGs of three lengths modulo 3, so padding of 0, 1 and 2 characters is covered.
        for (w, h) in [(16, 9), (17, 9), (18, 9)] {
            let first = gradient_png(w, h, [1, 2, 3], [4, 5, 6]);
            let canonical = STANDARD.encode(&first);
            let unpadded = canonical.trim_end_matches('=').to_string();
            let url_safe = canonical.replace('+', "-").replace('/', "_");
            let wrapped: String = canonical
                .as_bytes()
                .chunks(76)
                .map(|c| std::str::from_utf8(c).unwrap().to_string() + "\r\n")
                .collect();
            let data_url = format!("data:image/png;base64,{canonical}");
            for form in [&canonical, &unpadded, &url_safe, &wrapped, &data_url] {
                let (body, _) = body_for(TransitionRequest::new(
                    form.as_str(),
                    canonical.as_str(),
                    "p",
                ))
                .await;
                assert_eq!(body["image"], canonical, "{w}×{h}: {form:?}");
                assert_eq!(body["last_image"], canonical);
            }
        }
    }

    #[tokio::test]
    async fn canonical_base64_is_sent_as_given_and_the_rest_is_reencoded() {
        let bytes = png(3);
        let canonical = STANDARD.encode(&bytes);
        let kept = |request: TransitionRequest| {
            let bytes = bytes.clone();
            async move {
                let prepared = prepare(request, &ImagePolicy::default()).await.unwrap();
                match prepared.first_frame.payload {
                    FramePayload::Bytes { raw, base64 } => {
                        assert_eq!(raw, bytes.as_slice());
                        base64
                    }
                    other => panic!("{other:?}"),
                }
            }
        };
        let given = kept(TransitionRequest::new(
            canonical.as_str(),
            canonical.as_str(),
            "p",
        ))
        .await;
        assert_eq!(given.as_deref(), Some(canonical.as_bytes()));
        let unpadded = canonical.trim_end_matches('=');
        assert_ne!(unpadded, canonical, "the test needs padding");
        assert_eq!(
            kept(TransitionRequest::new(unpadded, canonical.as_str(), "p")).await,
            None
        );
        // Non-zero bits after the last byte decode (leniently) but are not canonical: with
        // padding, the last character's index in the alphabet is a multiple of 4; the next one
        // sets a trailing bit.
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut trailing = canonical.clone().into_bytes();
        let last = trailing.iter().rposition(|b| *b != b'=').unwrap();
        let index = ALPHABET.iter().position(|c| *c == trailing[last]).unwrap();
        assert_eq!(index % 4, 0);
        trailing[last] = ALPHABET[index + 1];
        let trailing = String::from_utf8(trailing).unwrap();
        assert_eq!(
            kept(TransitionRequest::new(
                trailing.as_str(),
                canonical.as_str(),
                "p"
            ))
            .await,
            None
        );
    }

    #[tokio::test]
    async fn fingerprints_do_not_depend_on_the_base64_spelling() {
        let (first, last) = (png(20), png(21));
        let canonical = STANDARD.encode(&first);
        let fingerprint = |image: String| {
            let last = STANDARD.encode(&last);
            async move {
                let prepared = prepare(
                    TransitionRequest::new(image, last, "p"),
                    &ImagePolicy::default(),
                )
                .await
                .unwrap();
                prepared.fingerprint().await.unwrap()
            }
        };
        let a = fingerprint(canonical.clone()).await;
        for form in [
            canonical.trim_end_matches('=').to_string(),
            canonical.replace('+', "-").replace('/', "_"),
            format!("data:image/png;base64,{canonical}"),
            format!("{}\n{}", &canonical[..40], &canonical[40..]),
        ] {
            assert_eq!(a, fingerprint(form).await);
        }
        assert_ne!(a, fingerprint(STANDARD.encode(png(22))).await);
    }

    #[tokio::test]
    async fn large_frames_fingerprint_like_small_ones() {
        // Above HASH_INLINE_MAX, in memory and as a file: the digest is computed elsewhere but
        // the same way.
        let dir = tempfile::tempdir().unwrap();
        let big = gradient_png(300, 300, [1, 1, 1], [2, 2, 2]);
        assert!(big.len() > HASH_INLINE_MAX);
        let path = dir.path().join("big.png");
        std::fs::write(&path, &big).unwrap();
        let policy = ImagePolicy {
            allowed_roots: vec![dir.path().to_path_buf()],
        };
        let last = STANDARD.encode(png(1));
        let mut fingerprints = Vec::new();
        for image in [path.to_str().unwrap().to_string(), STANDARD.encode(&big)] {
            let prepared = prepare(TransitionRequest::new(image, last.as_str(), "p"), &policy)
                .await
                .unwrap();
            fingerprints.push(prepared.fingerprint().await.unwrap());
        }
        assert_eq!(fingerprints[0], fingerprints[1]);
        // A file that changed length since it was checked is refused.
        let prepared = prepare(
            TransitionRequest::new(path.to_str().unwrap(), last.as_str(), "p"),
            &policy,
        )
        .await
        .unwrap();
        std::fs::write(&path, png(1)).unwrap();
        let e = prepared.fingerprint().await.unwrap_err();
        assert!(e.to_string().contains("changed while being read"), "{e}");
    }

    #[test]
    fn hex_is_lower_case_and_two_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0xab, 0x0f, 0xf0]), "00ab0ff0");
        assert_eq!(hex(&[]), "");
    }

    #[tokio::test]
    async fn a_small_body_in_one_buffer_is_the_streamed_body() {
        let (first, last) = (png(5), png(6));
        let canonical = STANDARD.encode(&first);
        // Canonical (sent as given) and unpadded (re-encoded) frames.
        let request = TransitionRequest::new(
            canonical.as_str(),
            STANDARD.encode(&last).trim_end_matches('='),
            "p",
        );
        let prepared = prepare(request, &ImagePolicy::default()).await.unwrap();
        let body = encode(&prepared);
        let one = body.small_in_memory().expect("small and in memory");
        assert_eq!(one.len() as u64, body.content_length());
        assert_eq!(one.as_ref(), body.to_bytes().await.unwrap().as_slice());

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.png");
        std::fs::write(&path, &first).unwrap();
        let policy = ImagePolicy {
            allowed_roots: vec![dir.path().to_path_buf()],
        };
        let with_file = TransitionRequest::new(path.to_str().unwrap(), canonical.as_str(), "p");
        let prepared = prepare(with_file, &policy).await.unwrap();
        assert!(
            encode(&prepared).small_in_memory().is_none(),
            "files are streamed"
        );
    }
}
