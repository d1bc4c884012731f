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
    Bytes {
        /// The decoded image.
        raw: Bytes,
        /// The caller's Base64 text, kept when it is canonical (standard alphabet, padded, no
        /// white space): exactly what encoding `raw` gives, so the body sends it as is.
        base64: Option<Bytes>,
    },
}

impl FramePayload {
    /// Which form the frame was given in: `"url"`, `"file"` or `"base64"` (data URLs included).
    pub fn kind(&self) -> &'static str {
        match self {
            FramePayload::Url(_) => "url",
            FramePayload::File { .. } => "file",
            FramePayload::Bytes { .. } => "base64",
        }
    }

    /// The frame's size in bytes, when known locally.
    pub fn byte_len(&self) -> Option<u64> {
        match self {
            FramePayload::Url(_) => None,
            FramePayload::File { len, .. } => Some(*len),
            FramePayload::Bytes { raw, .. } => Some(raw.len() as u64),
        }
    }
}

/// What one pass over a text found: which kinds of bytes it holds (bits of [`Scan::URL_SAFE`],
/// [`Scan::WHITESPACE`], [`Scan::OTHER`]; the standard alphabet and `=` set none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Scan(u8);

impl Scan {
    /// `-` or `_` (the URL-safe alphabet).
    const URL_SAFE: u8 = 1;
    /// ASCII white space.
    const WHITESPACE: u8 = 2;
    /// Anything that is neither Base64 (either alphabet, `=`) nor ASCII white space.
    const OTHER: u8 = 4;

    /// Scans all of `text`. The usual frame, canonical Base64, holds none of the kinds flagged
    /// and passes a SIMD check; anything else is scanned branch-free, 32 bytes abreast so that
    /// the compiler vectorizes it.
    fn of(text: &[u8]) -> Scan {
        if base64_simd::STANDARD.check(text).is_ok() {
            return Scan(0);
        }
        let mut lanes = [0u8; 32];
        let mut blocks = text.chunks_exact(32);
        for block in &mut blocks {
            for (lane, &b) in lanes.iter_mut().zip(block) {
                *lane |= Scan::kind(b);
            }
        }
        let rest = blocks
            .remainder()
            .iter()
            .fold(0u8, |acc, &b| acc | Scan::kind(b));
        Scan(lanes.iter().fold(rest, |acc, lane| acc | lane))
    }

    #[inline(always)]
    fn kind(b: u8) -> u8 {
        let letter = (b | 0x20).wrapping_sub(b'a') < 26;
        let digit = b.wrapping_sub(b'0') < 10;
        let standard = letter | digit | (b == b'+') | (b == b'/') | (b == b'=');
        let url_safe = (b == b'-') | (b == b'_');
        // The same set as `u8::is_ascii_whitespace`.
        let space = (b == b' ') | (b == b'\t') | (b == b'\n') | (b == b'\r') | (b == 0x0c);
        (u8::from(url_safe) * Scan::URL_SAFE)
            | (u8::from(space) * Scan::WHITESPACE)
            | (u8::from(!(standard | url_safe | space)) * Scan::OTHER)
    }

    /// Only Base64 characters (either alphabet, `=`) and white space.
    fn is_base64_text(self) -> bool {
        self.0 & Scan::OTHER == 0
    }

    fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
}

/// Shortest raw Base64 accepted; shorter text is read as a path (the smallest real PNG or JPEG
/// is longer than this once encoded).
const MIN_RAW_BASE64_CHARS: usize = 64;

/// Classifies a frame string by its form. The error explains which forms are accepted.
pub fn classify(input: &str) -> Result<FrameInput, String> {
    Ok(match classify_form(input)? {
        Form::Url(url) => FrameInput::Url(url.to_string()),
        Form::File(path) => FrameInput::File(path),
        Form::Base64(text, _) => FrameInput::Base64(text.to_string()),
    })
}

/// A frame string classified by form, borrowing the caller's text (no copy of the Base64).
enum Form<'a> {
    Url(&'a str),
    File(PathBuf),
    /// Base64 text and what a scan of it found.
    Base64(&'a str, Scan),
}

fn classify_form(input: &str) -> Result<Form<'_>, String> {
    let s = input.trim();
    if s.is_empty() {
        return Err(FORMS.to_string() + " The value is empty.");
    }
    let starts = |prefix: &str| {
        s.as_bytes()
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
    };
    if starts("http://") || starts("https://") {
        let url = url::Url::parse(s).map_err(|e| format!("not a valid URL ({e}). {FORMS}"))?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("the URL has no host. {FORMS}"));
        }
        return Ok(Form::Url(s));
    }
    if starts("data:") {
        let data = parse_data_url(s)?;
        return Ok(Form::Base64(data, Scan::of(data.as_bytes())));
    }
    if starts("file:") {
        let url = url::Url::parse(s).map_err(|e| format!("not a valid file:// URL ({e})"))?;
        let path = url.to_file_path().map_err(|()| {
            "a file:// URL must name an absolute local path, e.g. file:///home/me/a.png".to_string()
        })?;
        return Ok(Form::File(path));
    }
    // A scheme is the text before the first "://" when it is only letters, digits, '+' and
    // '-': that "://" is then where the first other character is, so the look ends there
    // (within a few characters for Base64, which has '/' and '=') instead of searching the text.
    let scheme_end = s
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || b == b'+' || b == b'-'))
        .unwrap_or(s.len());
    if scheme_end > 0 && s[scheme_end..].starts_with("://") {
        let scheme = &s[..scheme_end];
        return Err(format!(
            "the URL scheme \"{scheme}\" is not supported. {FORMS}"
        ));
    }
    if looks_like_windows_path(s) {
        return Err(format!(
            "this looks like a Windows path, but veo runs on {} and cannot read it. Pass an http(s) URL, Base64, or a path on the machine where veo runs",
            std::env::consts::OS
        ));
    }
    if s.len() >= MIN_RAW_BASE64_CHARS {
        let scan = Scan::of(s.as_bytes());
        if scan.is_base64_text() {
            return Ok(Form::Base64(s, scan));
        }
    }
    if let Some(rest) = s.strip_prefix("~/").or_else(|| (s == "~").then_some("")) {
        let home =
            dirs::home_dir().ok_or("\"~\" cannot be expanded: the server has no home directory")?;
        return Ok(Form::File(home.join(rest)));
    }
    let path = PathBuf::from(s);
    if path.is_absolute() {
        Ok(Form::File(path))
    } else {
        let cwd = std::env::current_dir()
            .map_err(|e| format!("relative path, but the current directory is unknown ({e})"))?;
        Ok(Form::File(cwd.join(path)))
    }
}

const FORMS: &str = "A frame must be an http(s) URL, a local file path (absolute, ~/..., or file://...), a data:image/png;base64,... or data:image/jpeg;base64,... URL, or raw Base64 of a JPEG or PNG.";

fn looks_like_windows_path(s: &str) -> bool {
    let b = s.as_bytes();
    (b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && (b[2] == b'\\' || b[2] == b'/'))
        || s.starts_with("\\\\")
}

fn parse_data_url(s: &str) -> Result<&str, String> {
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
    Ok(data)
}

/// Frame text longer than this is scanned and decoded with [`tokio::task::block_in_place`]:
/// at about a millisecond a megabyte, the runtime's other tasks should not wait for it.
const IN_PLACE_ABOVE: usize = 1 << 20;

/// Turns a frame string into a [`Frame`]: checks, sniffs and measures it.
///
/// Blocking file-system work runs on tokio's blocking pool; on a multi-thread runtime, Base64
/// of more than a megabyte is decoded on a thread that first hands its other tasks on. The
/// error message says what is wrong and what to do instead; the caller attaches the field name.
pub async fn load_frame(input: &str, policy: &ImagePolicy) -> Result<Frame, String> {
    let long = input.len() > IN_PLACE_ABOVE;
    let form = if long {
        in_place(|| classify_form(input))
    } else {
        classify_form(input)
    };
    match form? {
        Form::Url(url) => Ok(Frame {
            payload: FramePayload::Url(url.to_string()),
            format: None,
            dimensions: None,
        }),
        Form::Base64(text, scan) if long => in_place(|| decode_base64_frame(text, scan)),
        Form::Base64(text, scan) => decode_base64_frame(text, scan),
        Form::File(path) => {
            let policy = policy.clone();
            tokio::task::spawn_blocking(move || inspect_file(&path, &policy))
                .await
                .map_err(|e| format!("reading the file failed: {e}"))?
        }
    }
}

/// Runs `work`, milliseconds of computing, so that the runtime's other tasks go on meanwhile:
/// on a multi-thread runtime its worker hands them to another thread first; elsewhere (a
/// current-thread runtime, no runtime) it simply runs.
fn in_place<R>(work: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
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

/// Decodes Base64 text that `scan` describes. Canonical text (standard alphabet, padded, no
/// white space) is decoded strictly and kept for the body; anything else the lenient engines
/// accept (URL-safe alphabet, missing padding, wrapped lines) is decoded once, leniently.
fn decode_base64_frame(text: &str, scan: Scan) -> Result<Frame, String> {
    let compact: String;
    let text = if scan.has(Scan::WHITESPACE) {
        compact = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        compact.as_str()
    } else {
        text
    };
    let approx_len = (text.len() as u64) / 4 * 3;
    if approx_len > MAX_IMAGE_BYTES + 3 {
        return Err(too_large(approx_len));
    }
    let url_safe = scan.has(Scan::URL_SAFE);
    let may_be_canonical = !url_safe && !scan.has(Scan::WHITESPACE) && text.len() % 4 == 0;
    // A strict decode succeeds only on canonical text, which is then exactly the encoding of
    // the bytes; it fails cheaply on what is not, which the lenient engine then reads.
    let (bytes, canonical) = match may_be_canonical.then(|| decode_canonical(text)).flatten() {
        Some(bytes) => (bytes, true),
        None => (
            lenient_engine(url_safe)
                .decode(text)
                .map_err(|e| format!("not valid Base64 ({e}). {FORMS}"))?,
            false,
        ),
    };
    if bytes.len() as u64 > MAX_IMAGE_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    let (format, dimensions) = sniff_and_measure(&bytes)?;
    Ok(Frame {
        payload: FramePayload::Bytes {
            raw: Bytes::from(bytes),
            base64: canonical.then(|| Bytes::copy_from_slice(text.as_bytes())),
        },
        format: Some(format),
        dimensions,
    })
}

/// Decodes `text` if it is canonical Base64: the standard alphabet, padded, and the unused bits
/// of its last character zero (base64-simd's strict decoder refuses set ones), so that it is
/// exactly the encoding of the bytes it gives.
fn decode_canonical(text: &str) -> Option<Vec<u8>> {
    base64_simd::STANDARD.decode_to_vec(text).ok()
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
mod tests;
