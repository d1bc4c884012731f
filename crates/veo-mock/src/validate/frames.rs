//! Frames: an `http(s)` URL, or Base64 of a JPEG or PNG, checked with SIMD (canonical text) or
//! decoded in small chunks (anything else, to say what is wrong and where) to check its format
//! and decoded size, never held whole.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::Limits;

/// Checks a frame: an `http(s)` URL, or Base64 of a JPEG or PNG of at most the size limit.
pub(super) fn check_frame(value: &str, limits: Limits) -> Result<(), String> {
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
fn check_base64_image(b64: &[u8], max: usize) -> Result<(), String> {
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
    if let Some(checked) = check_canonical(b64) {
        return checked;
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

/// The common case, canonical Base64, checked with SIMD and only its sniffed prefix decoded.
/// `None` when the text is not canonical Base64: the chunked decode then finds what is wrong and
/// where (and has the last word on what is accepted).
fn check_canonical(b64: &[u8]) -> Option<Result<(), String>> {
    let whole = b64.len() <= SNIFF_CHARS;
    // Text the sniff decodes whole is checked by that decode; a longer one is checked first.
    if !whole {
        base64_simd::STANDARD.check(b64).ok()?;
    }
    // A prefix of whole quads holds no padding, so it decodes on its own.
    let sniffed = &b64[..b64.len().min(SNIFF_CHARS)];
    let prefix = base64_simd::STANDARD.decode_to_vec(sniffed).ok()?;
    Some(sniff_image(&prefix, whole))
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
pub(super) fn sniff_image(data: &[u8], complete: bool) -> Result<(), String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Base64 of a PNG header followed by `len` zero bytes: longer than the sniffed prefix.
    fn long_png(len: usize) -> String {
        let mut png = vec![
            0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R', 0,
            0, 0, 1, 0, 0, 0, 1,
        ];
        png.resize(png.len() + len, 0);
        STANDARD.encode(png)
    }

    #[test]
    fn canonical_text_is_checked_whole_without_the_chunked_decode() {
        let text = long_png(100_000);
        assert!(text.len() > SNIFF_CHARS);
        assert_eq!(check_canonical(text.as_bytes()), Some(Ok(())));
        assert_eq!(check_base64_image(text.as_bytes(), usize::MAX), Ok(()));
        let short = long_png(1_000);
        assert!(short.len() <= SNIFF_CHARS);
        assert_eq!(check_canonical(short.as_bytes()), Some(Ok(())));
        // Canonical Base64 of something else is refused by the sniff, not passed on.
        let gif = STANDARD.encode(b"GIF89a and more bytes");
        assert!(matches!(check_canonical(gif.as_bytes()), Some(Err(_))));
    }

    #[test]
    fn other_text_falls_back_to_the_chunked_decode_and_its_message() {
        let mut text = long_png(100_000).into_bytes();
        text[80_000] = b'*';
        assert_eq!(check_canonical(&text), None);
        let refused = check_base64_image(&text, usize::MAX).unwrap_err();
        assert!(refused.contains("position 80000"), "{refused}");
        // A stray bit after the last byte: not canonical, refused by both decoders.
        let mut stray = STANDARD.encode([0x89, b'P', b'N', b'G']).into_bytes();
        let last = stray.len() - 3;
        stray[last] = b'h';
        assert_eq!(check_canonical(&stray), None);
        assert!(check_base64_image(&stray, usize::MAX).is_err());
    }
}
