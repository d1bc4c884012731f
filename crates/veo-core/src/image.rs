//! Frames: from the string a caller gives to bytes the platform accepts.
//!
//! A frame string is classified into a [`FrameInput`] (URL, local file, data URL, raw Base64),
//! then [`load_frame`] turns it into a [`Frame`]: URLs pass through untouched; for every form whose
//! bytes we hold, the real format is sniffed from the bytes (JPEG or PNG only), the size is checked
//! against [`MAX_IMAGE_BYTES`], and the pixel size is read from the header without decoding.
//! Local files are read only below the [`ImagePolicy`]'s allowed roots, and are not read into
//! memory here: the request body streams them (see [`crate::body`]).

use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use bytes::Bytes;

/// Largest accepted frame, in bytes (20 MB).
pub const MAX_IMAGE_BYTES: u64 = 20 * 1024 * 1024;

/// The image formats the platform accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    /// JPEG.
    Jpeg,
    /// PNG.
    Png,
}

impl ImageFormat {
    /// Sniffs the format from the first bytes of an image (at least 12 are needed); `None` for
    /// anything but JPEG and PNG.
    pub fn sniff(head: &[u8]) -> Option<ImageFormat> {
        match imagesize::image_type(head) {
            Ok(imagesize::ImageType::Jpeg) => Some(ImageFormat::Jpeg),
            Ok(imagesize::ImageType::Png) => Some(ImageFormat::Png),
            _ => None,
        }
    }
}

/// Where the server may read local frames from.
#[derive(Clone, Debug)]
pub struct ImagePolicy {
    /// Directories below which local files may be read. Empty means no local files at all.
    pub allowed_roots: Vec<PathBuf>,
}

impl Default for ImagePolicy {
    /// The current directory and the user's home directory, but never a filesystem root: a
    /// server started in `/` (as some desktop hosts do) must not read the whole disk.
    fn default() -> Self {
        ImagePolicy::from_candidates([std::env::current_dir().ok(), dirs::home_dir()])
    }
}

impl ImagePolicy {
    /// The candidates that are present and not a filesystem root (`/`, `C:\`).
    fn from_candidates(candidates: impl IntoIterator<Item = Option<PathBuf>>) -> ImagePolicy {
        let allowed_roots = candidates
            .into_iter()
            .flatten()
            .filter(|dir| dir.parent().is_some())
            .collect();
        ImagePolicy { allowed_roots }
    }
}

/// A frame string, classified by form; nothing has been read or decoded yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameInput {
    /// An `http` or `https` URL, passed to the platform as is.
    Url(String),
    /// A local file path (already expanded from `~` or `file://`).
    File(PathBuf),
    /// Base64 text (from a data URL or given raw), not yet decoded.
    Base64(String),
}

/// A frame ready to be sent.
#[derive(Clone, Debug)]
pub struct Frame {
    /// Where the bytes come from.
    pub payload: FramePayload,
    /// Sniffed format; `None` for URLs (the platform fetches them).
    pub format: Option<ImageFormat>,
    /// Width and height in pixels, read from the header; `None` for URLs.
    pub dimensions: Option<(u32, u32)>,
}

/// The bytes of a frame, or a reference the platform resolves.
#[derive(Clone, Debug)]
pub enum FramePayload {
    /// A URL the platform downloads itself.
    Url(String),
    /// A local file of known length, streamed and encoded when the body is sent.
    File {
        /// Canonical path.
        path: PathBuf,
        /// Length in bytes when it was checked.
        len: u64,
    },
    /// Decoded bytes held in memory.
    Bytes(Bytes),
}

impl FramePayload {
    /// Which form the frame was given in: `"url"`, `"file"` or `"base64"` (data URLs included).
    pub fn kind(&self) -> &'static str {
        match self {
            FramePayload::Url(_) => "url",
            FramePayload::File { .. } => "file",
            FramePayload::Bytes(_) => "base64",
        }
    }

    /// The frame's size in bytes, when known locally.
    pub fn byte_len(&self) -> Option<u64> {
        match self {
            FramePayload::Url(_) => None,
            FramePayload::File { len, .. } => Some(*len),
            FramePayload::Bytes(b) => Some(b.len() as u64),
        }
    }
}

fn is_base64_text(s: &str) -> bool {
    s.bytes().all(|b| {
        b.is_ascii_alphanumeric()
            || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_')
            || b.is_ascii_whitespace()
    })
}

/// Shortest raw Base64 accepted; shorter text is read as a path (the smallest real PNG or JPEG
/// is longer than this once encoded).
const MIN_RAW_BASE64_CHARS: usize = 64;

/// Classifies a frame string by its form. The error explains which forms are accepted.
pub fn classify(input: &str) -> Result<FrameInput, String> {
    let s = input.trim();
    if s.is_empty() {
        return Err(FORMS.to_string() + " The value is empty.");
    }
    let lower = s.get(..s.len().min(12)).unwrap_or("").to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        let url = url::Url::parse(s).map_err(|e| format!("not a valid URL ({e}). {FORMS}"))?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("the URL has no host. {FORMS}"));
        }
        return Ok(FrameInput::Url(s.to_string()));
    }
    if lower.starts_with("data:") {
        return parse_data_url(s).map(FrameInput::Base64);
    }
    if lower.starts_with("file:") {
        let url = url::Url::parse(s).map_err(|e| format!("not a valid file:// URL ({e})"))?;
        let path = url.to_file_path().map_err(|()| {
            "a file:// URL must name an absolute local path, e.g. file:///home/me/a.png".to_string()
        })?;
        return Ok(FrameInput::File(path));
    }
    if let Some(scheme_end) = s.find("://") {
        let scheme = &s[..scheme_end];
        if !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-')
        {
            return Err(format!(
                "the URL scheme \"{scheme}\" is not supported. {FORMS}"
            ));
        }
    }
    if looks_like_windows_path(s) {
        return Err(format!(
            "this looks like a Windows path, but veo runs on {} and cannot read it. Pass an http(s) URL, Base64, or a path on the machine where veo runs",
            std::env::consts::OS
        ));
    }
    if s.len() >= MIN_RAW_BASE64_CHARS && is_base64_text(s) {
        return Ok(FrameInput::Base64(s.to_string()));
    }
    if let Some(rest) = s.strip_prefix("~/").or_else(|| (s == "~").then_some("")) {
        let home =
            dirs::home_dir().ok_or("\"~\" cannot be expanded: the server has no home directory")?;
        return Ok(FrameInput::File(home.join(rest)));
    }
    let path = PathBuf::from(s);
    if path.is_absolute() {
        Ok(FrameInput::File(path))
    } else {
        let cwd = std::env::current_dir()
            .map_err(|e| format!("relative path, but the current directory is unknown ({e})"))?;
        Ok(FrameInput::File(cwd.join(path)))
    }
}

const FORMS: &str = "A frame must be an http(s) URL, a local file path (absolute, ~/..., or file://...), a data:image/png;base64,... or data:image/jpeg;base64,... URL, or raw Base64 of a JPEG or PNG.";

fn looks_like_windows_path(s: &str) -> bool {
    let b = s.as_bytes();
    (b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && (b[2] == b'\\' || b[2] == b'/'))
        || s.starts_with("\\\\")
}

fn parse_data_url(s: &str) -> Result<String, String> {
    let (meta, data) = s
        .split_once(',')
        .ok_or("a data URL needs a comma before its data, e.g. data:image/png;base64,iVBOR...")?;
    let meta = meta[5..].to_ascii_lowercase();
    if !meta.ends_with(";base64") {
        return Err("only Base64 data URLs are accepted: data:image/png;base64,... or data:image/jpeg;base64,...".into());
    }
    let mime = meta.trim_end_matches(";base64");
    if !mime.is_empty() && !mime.starts_with("image/") {
        return Err(format!(
            "the data URL's type is {mime}; it must be image/png or image/jpeg"
        ));
    }
    Ok(data.to_string())
}

/// Turns a frame string into a [`Frame`]: checks, sniffs and measures it.
///
/// Blocking file-system work runs on tokio's blocking pool. The error message says what is wrong
/// and what to do instead; the caller attaches the field name.
pub async fn load_frame(input: &str, policy: &ImagePolicy) -> Result<Frame, String> {
    match classify(input)? {
        FrameInput::Url(url) => Ok(Frame {
            payload: FramePayload::Url(url),
            format: None,
            dimensions: None,
        }),
        FrameInput::Base64(text) => decode_base64_frame(&text),
        FrameInput::File(path) => {
            let policy = policy.clone();
            tokio::task::spawn_blocking(move || inspect_file(&path, &policy))
                .await
                .map_err(|e| format!("reading the file failed: {e}"))?
        }
    }
}

fn lenient_engine(url_safe: bool) -> GeneralPurpose {
    let alphabet = if url_safe {
        base64::alphabet::URL_SAFE
    } else {
        base64::alphabet::STANDARD
    };
    GeneralPurpose::new(
        &alphabet,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    )
}

fn decode_base64_frame(text: &str) -> Result<Frame, String> {
    let compact: String;
    let text = if text.bytes().any(|b| b.is_ascii_whitespace()) {
        compact = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        compact.as_str()
    } else {
        text
    };
    let approx_len = (text.len() as u64) / 4 * 3;
    if approx_len > MAX_IMAGE_BYTES + 3 {
        return Err(too_large(approx_len));
    }
    let url_safe = text.bytes().any(|b| b == b'-' || b == b'_');
    let bytes = lenient_engine(url_safe)
        .decode(text)
        .map_err(|e| format!("not valid Base64 ({e}). {FORMS}"))?;
    if bytes.len() as u64 > MAX_IMAGE_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    let (format, dimensions) = sniff_and_measure(&bytes)?;
    Ok(Frame {
        payload: FramePayload::Bytes(Bytes::from(bytes)),
        format: Some(format),
        dimensions,
    })
}

fn too_large(len: u64) -> String {
    format!(
        "the image is {:.1} MB; the platform accepts at most {} MB. Downscale or recompress it (JPEG is smaller)",
        len as f64 / 1_048_576.0,
        MAX_IMAGE_BYTES / 1_048_576
    )
}

fn sniff_and_measure(bytes: &[u8]) -> Result<(ImageFormat, Option<(u32, u32)>), String> {
    let format = ImageFormat::sniff(bytes).ok_or_else(|| not_jpeg_or_png(bytes))?;
    let dimensions = imagesize::blob_size(bytes)
        .ok()
        .map(|s| (s.width as u32, s.height as u32));
    Ok((format, dimensions))
}

fn not_jpeg_or_png(head: &[u8]) -> String {
    match imagesize::image_type(head) {
        Ok(kind) => format!(
            "the data is a {kind:?} image; only JPEG and PNG are accepted. Convert it to PNG or JPEG first"
        ),
        Err(_) => "the data is not a JPEG or PNG image (its first bytes match neither)".to_string(),
    }
}

fn sandbox_hint(path: &Path) -> String {
    format!(
        "{} does not exist on the machine where veo runs. If an app or sandbox gave you this path, it may exist only there: pass an http(s) URL or the image's Base64 instead, or a path this server can see",
        path.display()
    )
}

fn inspect_file(path: &Path, policy: &ImagePolicy) -> Result<Frame, String> {
    let canonical = match std::fs::canonicalize(path) {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(sandbox_hint(path)),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return Err(format!(
                "{}: permission denied for the server's user",
                path.display()
            ));
        }
        Err(e) => return Err(format!("{}: cannot be read ({e})", path.display())),
    };
    let allowed = policy
        .allowed_roots
        .iter()
        .filter_map(|root| std::fs::canonicalize(root).ok())
        .any(|root| canonical.starts_with(&root));
    if !allowed {
        let roots: Vec<String> = policy
            .allowed_roots
            .iter()
            .map(|r| r.display().to_string())
            .collect();
        return Err(format!(
            "{} is outside the directories veo may read images from ({}). Move the file there, pass a URL or Base64, or add its directory to the allowed roots (VEO_ALLOWED_ROOTS)",
            path.display(),
            if roots.is_empty() {
                "none configured".to_string()
            } else {
                roots.join(", ")
            }
        ));
    }
    let meta = std::fs::metadata(&canonical)
        .map_err(|e| format!("{}: cannot be read ({e})", path.display()))?;
    if meta.is_dir() {
        return Err(format!(
            "{} is a directory, not an image file",
            path.display()
        ));
    }
    if meta.len() > MAX_IMAGE_BYTES {
        return Err(too_large(meta.len()));
    }
    if meta.len() == 0 {
        return Err(format!("{} is empty", path.display()));
    }
    let file = std::fs::File::open(&canonical).map_err(|e| match e.kind() {
        std::io::ErrorKind::PermissionDenied => format!(
            "{}: permission denied for the server's user",
            path.display()
        ),
        _ => format!("{}: cannot be read ({e})", path.display()),
    })?;
    let mut head = [0u8; 16];
    let mut reader = BufReader::new(file);
    let n = read_up_to(&mut reader, &mut head)
        .map_err(|e| format!("{}: cannot be read ({e})", path.display()))?;
    let format = ImageFormat::sniff(&head[..n])
        .ok_or_else(|| format!("{}: {}", path.display(), not_jpeg_or_png(&head[..n])))?;
    let dimensions = imagesize::size(&canonical)
        .ok()
        .map(|s| (s.width as u32, s.height as u32));
    Ok(Frame {
        payload: FramePayload::File {
            path: canonical,
            len: meta.len(),
        },
        format: Some(format),
        dimensions,
    })
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{gradient_png, jpeg_header};

    fn png_bytes(w: u32, h: u32) -> Vec<u8> {
        gradient_png(w, h, [10, 20, 30], [200, 100, 50])
    }

    fn jpeg_bytes(w: u16, h: u16) -> Vec<u8> {
        jpeg_header(w, h)
    }

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    #[test]
    fn classifies_every_form() {
        assert_eq!(
            classify("https://x.test/a.png"),
            Ok(FrameInput::Url("https://x.test/a.png".into()))
        );
        assert_eq!(
            classify(" HTTP://x.test/a.png "),
            Ok(FrameInput::Url("HTTP://x.test/a.png".into()))
        );
        assert_eq!(
            classify("/tmp/a.png"),
            Ok(FrameInput::File("/tmp/a.png".into()))
        );
        assert_eq!(
            classify("file:///tmp/a%20b.png"),
            Ok(FrameInput::File("/tmp/a b.png".into()))
        );
        let home = dirs::home_dir().unwrap();
        assert_eq!(
            classify("~/a.png"),
            Ok(FrameInput::File(home.join("a.png")))
        );
        let raw = b64(&png_bytes(4, 4));
        assert_eq!(classify(&raw), Ok(FrameInput::Base64(raw.clone())));
        assert_eq!(
            classify(&format!("data:image/png;base64,{raw}")),
            Ok(FrameInput::Base64(raw.clone()))
        );
        assert_eq!(
            classify("a.png"),
            Ok(FrameInput::File(
                std::env::current_dir().unwrap().join("a.png")
            ))
        );
    }

    #[test]
    fn rejects_unsupported_forms_with_the_reason() {
        assert!(
            classify("ftp://x.test/a.png")
                .unwrap_err()
                .contains("\"ftp\" is not supported")
        );
        assert!(
            classify("C:\\Users\\me\\a.png")
                .unwrap_err()
                .contains("Windows path")
        );
        assert!(
            classify("data:text/plain;base64,aGk=")
                .unwrap_err()
                .contains("image/png")
        );
        assert!(
            classify("data:image/png,rawdata")
                .unwrap_err()
                .contains("Base64 data URLs")
        );
        assert!(classify("   ").unwrap_err().contains("empty"));
        assert!(classify("https://").is_err());
    }

    #[test]
    fn only_jpeg_and_png_are_sniffed() {
        assert_eq!(ImageFormat::sniff(&png_bytes(2, 2)), Some(ImageFormat::Png));
        assert_eq!(
            ImageFormat::sniff(&jpeg_bytes(2, 2)),
            Some(ImageFormat::Jpeg)
        );
        assert_eq!(
            ImageFormat::sniff(b"GIF89a\x01\x00\x01\x00\x80\x00\x00"),
            None
        );
        assert_eq!(ImageFormat::sniff(b"hello, not an image"), None);
        assert_eq!(ImageFormat::sniff(b""), None);
    }

    #[tokio::test]
    async fn payloads_name_their_form() {
        let policy = ImagePolicy::default();
        let url = load_frame("https://x.test/a.png", &policy).await.unwrap();
        assert_eq!(url.payload.kind(), "url");
        let bytes = load_frame(&b64(&png_bytes(4, 4)), &policy).await.unwrap();
        assert_eq!(bytes.payload.kind(), "base64");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.png");
        std::fs::write(&path, png_bytes(4, 4)).unwrap();
        let policy = ImagePolicy {
            allowed_roots: vec![dir.path().to_path_buf()],
        };
        let file = load_frame(path.to_str().unwrap(), &policy).await.unwrap();
        assert_eq!(file.payload.kind(), "file");
    }

    #[tokio::test]
    async fn base64_frames_are_sniffed_and_measured() {
        let policy = ImagePolicy::default();
        let png = load_frame(&b64(&png_bytes(64, 36)), &policy).await.unwrap();
        assert_eq!(png.format, Some(ImageFormat::Png));
        assert_eq!(png.dimensions, Some((64, 36)));
        let jpeg = load_frame(
            &format!("data:image/jpeg;base64,{}", b64(&jpeg_bytes(90, 160))),
            &policy,
        )
        .await
        .unwrap();
        assert_eq!(jpeg.format, Some(ImageFormat::Jpeg));
        assert_eq!(jpeg.dimensions, Some((90, 160)));
        // Wrapped lines and missing padding are tolerated.
        let wrapped: String = b64(&png_bytes(3, 3))
            .trim_end_matches('=')
            .as_bytes()
            .chunks(20)
            .map(|c| std::str::from_utf8(c).unwrap().to_string() + "\n")
            .collect();
        assert!(load_frame(&wrapped, &policy).await.is_ok());
    }

    #[tokio::test]
    async fn non_images_and_wrong_formats_are_refused() {
        let policy = ImagePolicy::default();
        let gif = b64(b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x00\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;");
        let gif = format!("{gif}{}", "A".repeat(0));
        let e = load_frame(&format!("data:image/gif;base64,{gif}"), &policy)
            .await
            .unwrap_err();
        assert!(e.contains("Gif"), "{e}");
        assert!(e.contains("only JPEG and PNG"), "{e}");
        let text = b64(&[b'x'; 100]);
        let e = load_frame(&text, &policy).await.unwrap_err();
        assert!(e.contains("not a JPEG or PNG"), "{e}");
        let e = load_frame(
            &format!("data:image/png;base64,{}!!", "A".repeat(80)),
            &policy,
        )
        .await
        .unwrap_err();
        assert!(e.contains("not valid Base64"), "{e}");
    }

    #[tokio::test]
    async fn oversized_base64_is_refused_before_decoding() {
        let big = "A".repeat((MAX_IMAGE_BYTES as usize / 3 + 10) * 4);
        let e = load_frame(&big, &ImagePolicy::default()).await.unwrap_err();
        assert!(e.contains("at most 20 MB"), "{e}");
    }

    #[tokio::test]
    async fn files_are_confined_to_allowed_roots() {
        let dir = tempfile::tempdir().unwrap();
        let inside = dir.path().join("first.png");
        std::fs::write(&inside, png_bytes(32, 18)).unwrap();
        let policy = ImagePolicy {
            allowed_roots: vec![dir.path().to_path_buf()],
        };

        let frame = load_frame(inside.to_str().unwrap(), &policy).await.unwrap();
        assert_eq!(frame.format, Some(ImageFormat::Png));
        assert_eq!(frame.dimensions, Some((32, 18)));
        assert!(
            matches!(frame.payload, FramePayload::File { len, .. } if len == png_bytes(32, 18).len() as u64)
        );

        let url = url::Url::from_file_path(&inside).unwrap().to_string();
        assert!(load_frame(&url, &policy).await.is_ok());

        let other = tempfile::tempdir().unwrap();
        let outside = other.path().join("x.png");
        std::fs::write(&outside, png_bytes(2, 2)).unwrap();
        let e = load_frame(outside.to_str().unwrap(), &policy)
            .await
            .unwrap_err();
        assert!(e.contains("outside the directories"), "{e}");

        // A symlink inside the root that points outside is still outside.
        #[cfg(unix)]
        {
            let link = dir.path().join("link.png");
            std::os::unix::fs::symlink(&outside, &link).unwrap();
            let e = load_frame(link.to_str().unwrap(), &policy)
                .await
                .unwrap_err();
            assert!(e.contains("outside the directories"), "{e}");
        }

        let e = load_frame(dir.path().join("missing.png").to_str().unwrap(), &policy)
            .await
            .unwrap_err();
        assert!(
            e.contains("does not exist on the machine where veo runs"),
            "{e}"
        );
        assert!(e.contains("sandbox"), "{e}");

        let e = load_frame(dir.path().to_str().unwrap(), &policy)
            .await
            .unwrap_err();
        assert!(e.contains("is a directory"), "{e}");

        let text = dir.path().join("notes.png");
        std::fs::write(&text, "hello, not an image").unwrap();
        let e = load_frame(text.to_str().unwrap(), &policy)
            .await
            .unwrap_err();
        assert!(e.contains("not a JPEG or PNG"), "{e}");

        let huge = dir.path().join("huge.png");
        let f = std::fs::File::create(&huge).unwrap();
        f.set_len(MAX_IMAGE_BYTES + 1).unwrap();
        let e = load_frame(huge.to_str().unwrap(), &policy)
            .await
            .unwrap_err();
        assert!(e.contains("at most 20 MB"), "{e}");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn unreadable_files_say_so() {
        use std::os::unix::fs::PermissionsExt;
        if running_as_root() {
            return; // root reads everything; the check cannot be exercised.
        }
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("locked.png");
        std::fs::write(&p, png_bytes(2, 2)).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o000)).unwrap();
        let policy = ImagePolicy {
            allowed_roots: vec![dir.path().to_path_buf()],
        };
        let e = load_frame(p.to_str().unwrap(), &policy).await.unwrap_err();
        assert!(e.contains("permission denied"), "{e}");
    }

    #[cfg(unix)]
    fn running_as_root() -> bool {
        std::fs::read_to_string("/proc/self/status")
            .map(|s| {
                s.lines()
                    .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
            })
            .unwrap_or(false)
    }

    #[test]
    fn a_filesystem_root_is_never_a_default_root() {
        let policy = ImagePolicy::from_candidates([
            Some(PathBuf::from("/")),
            Some(PathBuf::from("/home/someone")),
            None,
        ]);
        assert_eq!(policy.allowed_roots, [PathBuf::from("/home/someone")]);
    }
}
