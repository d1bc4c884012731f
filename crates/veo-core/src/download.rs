//! Saving a result video: streamed to a temporary file beside the destination, checked (status,
//! length, MP4 signature), flushed to disk, then renamed into place, so a file under its final
//! name is always complete.
//!
//! Result links are pre-signed: they carry their own authorization and may point at a storage
//! host, so the API key is never sent with a download.

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
    /// Downloads the video at `url` to `dest` and returns its size in bytes.
    ///
    /// The bytes go to a hidden temporary file in `dest`'s directory first; only a complete file
    /// whose length matches `Content-Length` and which starts like an MP4 (`ftyp` box) is renamed
    /// to `dest`. On any failure the temporary file is removed and `dest` is left untouched.
    /// An expired link is [`Error::LinkExpired`]; network failures and 5xx are transient
    /// ([`Error::is_transient`]) and worth retrying.
    pub async fn download(&self, url: &str, dest: &Path) -> Result<u64> {
        let temp = temp_path(dest);
        let outcome = self.download_to(url, dest, &temp).await;
        if outcome.is_err() {
            let _ = tokio::fs::remove_file(&temp).await;
        }
        outcome
    }

    async fn download_to(&self, url: &str, dest: &Path, temp: &Path) -> Result<u64> {
        let http = self.http()?;
        let response = http
            .get(url)
            .timeout(DOWNLOAD_TIMEOUT)
            .send()
            .await
            .map_err(|e| transport_error(&e, DOWNLOAD_TIMEOUT))?;
        let status = response.status();
        if status == StatusCode::FORBIDDEN || status == StatusCode::GONE {
            let body = response.text().await.unwrap_or_default();
            return Err(Error::LinkExpired {
                status: status.as_u16(),
                message: first_line(&body),
            });
        }
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(Error::Upstream {
                status: status.as_u16(),
                reason: None,
                message: format!("video download refused: {}", first_line(&body)),
            });
        }
        let expected = response.content_length();
        let local = |e: std::io::Error| Error::LocalFile {
            path: temp.to_path_buf(),
            message: e.to_string(),
        };
        let mut file = tokio::fs::File::create(temp).await.map_err(local)?;
        let mut written: u64 = 0;
        let mut head: Vec<u8> = Vec::with_capacity(12);
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
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
            file.write_all(&chunk).await.map_err(local)?;
            written += chunk.len() as u64;
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
        tokio::fs::rename(temp, dest)
            .await
            .map_err(|e| Error::LocalFile {
                path: dest.to_path_buf(),
                message: e.to_string(),
            })?;
        Ok(written)
    }
}

/// `.<name>.<random>.partial` in the same directory, so the final rename stays on one file system.
fn temp_path(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "video".to_string());
    let tag: u32 = rand::random();
    dest.with_file_name(format!(".{name}.{tag:08x}.partial"))
}

fn first_line(body: &str) -> String {
    let line = body.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    line.chars().take(200).collect()
}
