//! Saving a result video: streamed to a temporary file beside the destination, checked (status,
//! length, MP4 signature), flushed to disk, then renamed into place, so a file under its final
//! name is always complete.
//!
//! Result links are pre-signed: they carry their own authorization and may point at a storage
//! host, so the API key is never sent with a download.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt as _;
use reqwest::StatusCode;
use tokio::io::AsyncWriteExt as _;

use crate::client::{Client, describe, transport_error};
use crate::error::{Error, Result};

/// Longest time one download may take.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(600);

impl Client {
    fn scrub_text(&self, text: String) -> String {
        String::from_utf8_lossy(&self.scrub(bytes::Bytes::from(text))).into_owned()
    }

    /// Downloads the video at `url` to `dest` and returns its size in bytes.
    ///
    /// The bytes go to a hidden temporary file in `dest`'s directory first; only a complete file
    /// whose length matches `Content-Length` and whose boxes make a whole MP4 ([`check_mp4`]) is
    /// renamed to `dest`. On any failure the temporary file is removed and `dest` is left untouched.
    /// An expired link is [`Error::LinkExpired`]; network failures and 5xx are transient
    /// ([`Error::is_transient`]) and worth retrying.
    pub async fn download(&self, url: &str, dest: &Path) -> Result<u64> {
        let temp = temp_path(dest);
        let outcome = self
            .download_to(url, dest, &temp)
            .await
            .map_err(|e| self.redacted(e));
        if outcome.is_err() {
            let _ = tokio::fs::remove_file(&temp).await;
        }
        outcome
    }

    async fn download_to(&self, url: &str, dest: &Path, temp: &Path) -> Result<u64> {
        let http = self.http()?;
        let idle = self.config().download_idle_timeout;
        // A link that never answers must not hold a download slot either.
        let response = tokio::time::timeout(idle, http.get(url).timeout(DOWNLOAD_TIMEOUT).send())
            .await
            .map_err(|_| Error::Network {
                may_have_reached_server: true,
                message: format!("the file host did not answer within {idle:?}"),
            })?
            .map_err(|e| transport_error(&e, DOWNLOAD_TIMEOUT))?;
        let status = response.status();
        let config = self.config();
        if status == StatusCode::FORBIDDEN || status == StatusCode::GONE {
            let body = self.scrub_text(error_text(response, config.download_idle_timeout).await);
            return Err(Error::LinkExpired {
                status: status.as_u16(),
                message: first_line(&body),
            });
        }
        if !status.is_success() {
            let body = self.scrub_text(error_text(response, config.download_idle_timeout).await);
            return Err(Error::Upstream {
                status: status.as_u16(),
                reason: None,
                message: format!("video download refused: {}", first_line(&body)),
            });
        }
        let expected = response.content_length();
        let too_large = |bytes: u64| Error::BadResponse {
            status: status.as_u16(),
            detail: format!(
                "the video is larger than the {} bytes accepted ({bytes} bytes)",
                config.max_download_bytes
            ),
        };
        if let Some(expected) = expected.filter(|len| *len > config.max_download_bytes) {
            return Err(too_large(expected));
        }
        let local = |e: std::io::Error| Error::LocalFile {
            path: temp.to_path_buf(),
            message: e.to_string(),
        };
        let mut file = tokio::fs::File::create(temp).await.map_err(local)?;
        let mut written: u64 = 0;
        let mut head: Vec<u8> = Vec::with_capacity(12);
        let mut stream = response.bytes_stream();
        loop {
            // A link that stops sending must not hold a download slot until the overall timeout.
            let Ok(next) = tokio::time::timeout(idle, stream.next()).await else {
                return Err(Error::Network {
                    may_have_reached_server: true,
                    message: format!(
                        "the download stalled: no data for {idle:?} after {written} bytes"
                    ),
                });
            };
            let Some(chunk) = next else { break };
            let chunk = chunk.map_err(|e| Error::Network {
                may_have_reached_server: true,
                message: format!(
                    "the download broke off after {written} bytes: {}",
                    describe(&e)
                ),
            })?;
            if head.len() < 12 {
                head.extend(chunk.iter().take(12 - head.len()));
            }
            written += chunk.len() as u64;
            if written > config.max_download_bytes {
                return Err(too_large(written));
            }
            file.write_all(&chunk).await.map_err(local)?;
        }
        if let Some(expected) = expected
            && written != expected
        {
            return Err(Error::Network {
                may_have_reached_server: true,
                message: format!("the download ended after {written} of {expected} bytes"),
            });
        }
        if head.len() < 8 || &head[4..8] != b"ftyp" {
            return Err(Error::BadResponse {
                status: status.as_u16(),
                detail: format!(
                    "the file is not an MP4 video ({written} bytes, starting {:02x?})",
                    head
                ),
            });
        }
        file.sync_all().await.map_err(local)?;
        drop(file);
        check_mp4_file(temp, written)
            .await
            .map_err(|detail| Error::BadResponse {
                status: status.as_u16(),
                detail: format!("the video file is incomplete or corrupt: {detail}"),
            })?;
        tokio::fs::rename(temp, dest)
            .await
            .map_err(|e| Error::LocalFile {
                path: dest.to_path_buf(),
                message: e.to_string(),
            })?;
        Ok(written)
    }
}

/// The start of an error reply's body (at most 64 KiB, within `idle`), for its message.
async fn error_text(response: reqwest::Response, idle: Duration) -> String {
    const MOST: usize = 64 * 1024;
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while body.len() < MOST {
        match tokio::time::timeout(idle, stream.next()).await {
            Ok(Some(Ok(chunk))) => {
                let room = MOST - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            _ => break,
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

/// Checks that `bytes` are a whole MP4 file by walking its top-level boxes: they must start with
/// `ftyp`, include `moov`, and end exactly at the end of the data. A file cut short (even one
/// whose `Content-Length` matched the short body) fails, because its last box claims more bytes
/// than remain. Only the box headers are read; the media itself is not decoded.
///
/// The error says what is wrong, e.g. ``box `mdat` at byte 60 claims 508 bytes but only 250
/// remain``.
///
/// ```
/// let mut mp4 = Vec::new();
/// for (kind, body) in [(b"ftyp", &b"isom"[..]), (b"moov", &[0; 8][..]), (b"mdat", &[1; 16][..])] {
///     mp4.extend_from_slice(&(body.len() as u32 + 8).to_be_bytes());
///     mp4.extend_from_slice(kind);
///     mp4.extend_from_slice(body);
/// }
/// assert_eq!(veo_core::download::check_mp4(&mp4), Ok(()));
/// assert!(veo_core::download::check_mp4(&mp4[..mp4.len() - 1]).is_err());
/// assert!(veo_core::download::check_mp4(b"<html>not a video</html>").is_err());
/// ```
pub fn check_mp4(bytes: &[u8]) -> std::result::Result<(), String> {
    check_mp4_reader(std::io::Cursor::new(bytes), bytes.len() as u64)
}

/// [`check_mp4`] for the first `len` bytes of a reader, such as an open file: only the box headers
/// are read (seeking past the bodies), so a large video costs a few small reads.
pub fn check_mp4_reader(mut reader: impl Read + Seek, len: u64) -> std::result::Result<(), String> {
    let mut offset = 0u64;
    let mut seen_moov = false;
    let mut first = true;
    while offset < len {
        if len - offset < 8 {
            return Err(format!("{} stray bytes at the end", len - offset));
        }
        reader
            .seek(SeekFrom::Start(offset))
            .map_err(|e| e.to_string())?;
        let mut header = [0u8; 16];
        let want = if len - offset >= 16 { 16 } else { 8 };
        reader
            .read_exact(&mut header[..want])
            .map_err(|e| e.to_string())?;
        let size32 = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        let kind = [header[4], header[5], header[6], header[7]];
        let size = match size32 {
            0 => len - offset,
            1 if want == 16 => u64::from_be_bytes([
                header[8], header[9], header[10], header[11], header[12], header[13], header[14],
                header[15],
            ]),
            1 => return Err("a box header is cut off".to_string()),
            n => u64::from(n),
        };
        if first && &kind != b"ftyp" {
            return Err("it does not start with an ftyp box".to_string());
        }
        first = false;
        seen_moov |= &kind == b"moov";
        if size < 8 || size > len - offset {
            return Err(format!(
                "box `{}` at byte {offset} claims {size} bytes but only {} remain",
                String::from_utf8_lossy(&kind),
                len - offset
            ));
        }
        offset += size;
    }
    if !seen_moov {
        return Err("it has no moov box".to_string());
    }
    Ok(())
}

/// [`check_mp4_reader`] over the file at `path`, on tokio's blocking pool.
async fn check_mp4_file(path: &Path, len: u64) -> std::result::Result<(), String> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&path).map_err(|e| e.to_string())?;
        check_mp4_reader(file, len)
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Removes the temporary files that interrupted downloads to `dest` left beside it, when older
/// than `older_than` (younger ones may belong to a download still running, e.g. in another
/// process sharing the directory).
pub async fn remove_stale_partials(dest: &Path, older_than: Duration) {
    let (Some(dir), Some(name)) = (dest.parent(), dest.file_name()) else {
        return;
    };
    let prefix = format!(".{}.", name.to_string_lossy());
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
        return;
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let file = entry.file_name().to_string_lossy().into_owned();
        if !(file.starts_with(&prefix) && file.ends_with(PARTIAL_SUFFIX)) {
            continue;
        }
        let stale = entry
            .metadata()
            .await
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= older_than);
        if stale {
            let _ = tokio::fs::remove_file(entry.path()).await;
        }
    }
}

const PARTIAL_SUFFIX: &str = ".partial";

/// `.<name>.<random>.partial` in the same directory, so the final rename stays on one file system.
fn temp_path(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "video".to_string());
    let tag: u32 = rand::random();
    dest.with_file_name(format!(".{name}.{tag:08x}{PARTIAL_SUFFIX}"))
}

fn first_line(body: &str) -> String {
    let line = body.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    line.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mp4_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.extend_from_slice(body);
        b
    }

    /// Checks `bytes` both in memory and as a file; the two must agree.
    async fn check(bytes: &[u8]) -> std::result::Result<(), String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.mp4");
        std::fs::write(&path, bytes).unwrap();
        let from_file = check_mp4_file(&path, bytes.len() as u64).await;
        assert_eq!(check_mp4(bytes), from_file);
        from_file
    }

    #[test]
    fn large_boxes_and_odd_endings_are_walked() {
        // A 64-bit size (size32 == 1) followed by the real size.
        let mut large = mp4_box(b"ftyp", b"isom");
        large.extend_from_slice(&mp4_box(b"moov", &[0; 8]));
        large.extend_from_slice(&1u32.to_be_bytes());
        large.extend_from_slice(b"mdat");
        large.extend_from_slice(&(16u64 + 32).to_be_bytes());
        large.extend_from_slice(&[3; 32]);
        assert_eq!(check_mp4(&large), Ok(()));
        assert!(check_mp4(&large[..large.len() - 1]).is_err());

        let whole = [mp4_box(b"ftyp", b"isom"), mp4_box(b"moov", &[0; 8])].concat();
        let stray = [whole.as_slice(), &[0; 5]].concat();
        assert_eq!(
            check_mp4(&stray),
            Err("5 stray bytes at the end".to_string())
        );
        assert_eq!(
            check_mp4(&mp4_box(b"moov", &[0; 8])),
            Err("it does not start with an ftyp box".to_string())
        );
        let tiny = [whole.as_slice(), &[0, 0, 0, 4], b"free"].concat();
        assert!(check_mp4(&tiny).unwrap_err().contains("claims 4 bytes"));
        assert!(check_mp4(&[]).unwrap_err().contains("moov"));
    }

    #[tokio::test]
    async fn only_old_partial_files_of_the_destination_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("v.mp4");
        let ours = temp_path(&dest);
        let other = temp_path(&dir.path().join("w.mp4"));
        std::fs::write(&ours, b"x").unwrap();
        std::fs::write(&other, b"x").unwrap();
        remove_stale_partials(&dest, Duration::from_secs(60)).await;
        assert!(ours.exists(), "a young partial may still be written");
        remove_stale_partials(&dest, Duration::ZERO).await;
        assert!(!ours.exists());
        assert!(other.exists(), "another file's partial is left alone");
    }

    #[tokio::test]
    async fn whole_files_pass_and_cut_or_foreign_ones_fail() {
        let whole = [
            mp4_box(b"ftyp", b"isom\0\0\x02\0"),
            mp4_box(b"moov", &[7; 40]),
            mp4_box(b"mdat", &[9; 500]),
        ]
        .concat();
        assert_eq!(check(&whole).await, Ok(()));
        let cut = check(&whole[..whole.len() / 2]).await.unwrap_err();
        assert!(cut.contains("mdat") && cut.contains("remain"), "{cut}");
        assert!(check(&whole[..whole.len() - 3]).await.is_err());
        let no_moov = [mp4_box(b"ftyp", b"isom"), mp4_box(b"mdat", &[1; 20])].concat();
        assert!(check(&no_moov).await.unwrap_err().contains("moov"));
        let html = b"<html><body>not a video</body></html>";
        assert!(check(html).await.is_err());
        // A last box of size 0 runs to the end of the file.
        let mut open_ended = [mp4_box(b"ftyp", b"isom"), mp4_box(b"moov", &[0; 8])].concat();
        open_ended.extend_from_slice(&[0, 0, 0, 0]);
        open_ended.extend_from_slice(b"mdat");
        open_ended.extend_from_slice(&[5; 100]);
        assert_eq!(check(&open_ended).await, Ok(()));
    }
}
