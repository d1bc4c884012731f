//! Result files: signed, expiring links and the MP4 they serve.
//!
//! A link is `{base}/files/{task_id}/{n}.mp4?expires={unix_ms}&sig={hex}`. The signature is a
//! keyed hash of task, index and expiry under a per-server secret, so a link cannot be edited
//! to live longer. Failures answer like a cloud storage signed URL: 403 with an XML body.

use std::hash::{DefaultHasher, Hash, Hasher};

/// A real, playable 2-second 160×90 H.264 MP4 (16 frames), served for every result.
pub const SAMPLE_MP4: &[u8] = include_bytes!("../assets/sample.mp4");

/// Signs and checks result links.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Signer {
    secret: u64,
}

/// Why a download is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LinkError {
    /// `expires` or `sig` missing or unreadable.
    Malformed,
    /// The signature does not match.
    BadSignature,
    /// The link's time is up.
    Expired { expires_ms: u64 },
}

impl Signer {
    pub(crate) fn new(secret: u64) -> Signer {
        Signer { secret }
    }

    fn sig(&self, task_id: &str, index: u32, expires_ms: u64) -> u64 {
        let mut h = DefaultHasher::new();
        self.secret.hash(&mut h);
        task_id.hash(&mut h);
        index.hash(&mut h);
        expires_ms.hash(&mut h);
        self.secret.rotate_left(17).hash(&mut h);
        h.finish()
    }

    /// The signed link of file `index` of `task_id`, valid until `expires_ms`.
    pub(crate) fn link(&self, base: &str, task_id: &str, index: u32, expires_ms: u64) -> String {
        format!(
            "{base}/files/{task_id}/{index}.mp4?expires={expires_ms}&sig={:016x}",
            self.sig(task_id, index, expires_ms)
        )
    }

    /// Checks a link's query string at `now_ms`.
    pub(crate) fn verify(
        &self,
        task_id: &str,
        index: u32,
        query: Option<&str>,
        now_ms: u64,
    ) -> Result<(), LinkError> {
        let query = query.ok_or(LinkError::Malformed)?;
        let expires = query_param(query, "expires")
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or(LinkError::Malformed)?;
        let sig = query_param(query, "sig").ok_or(LinkError::Malformed)?;
        // Compared as text, like a storage front does: `sig=0<sig>` is not the same link.
        if sig != format!("{:016x}", self.sig(task_id, index, expires)) {
            return Err(LinkError::BadSignature);
        }
        if now_ms >= expires {
            return Err(LinkError::Expired {
                expires_ms: expires,
            });
        }
        Ok(())
    }
}

/// The raw value of `name` in a query string (no percent-decoding).
pub(crate) fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}

/// Formats unix milliseconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn iso8601(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Civil-from-days (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// A storage-style XML error document.
pub(crate) fn xml_error(code: &str, message: &str, details: &str) -> String {
    format!(
        "<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}</Message><Details>{details}</Details></Error>"
    )
}

/// A parsed single `Range: bytes=a-b` header, clamped to `len`.
pub(crate) fn parse_range(header: &str, len: usize) -> Option<Result<(usize, usize), ()>> {
    if len == 0 {
        return None;
    }
    let spec = header.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None; // several ranges: serve the whole file
    }
    let (a, b) = spec.split_once('-')?;
    let range = match (a.trim(), b.trim()) {
        ("", suffix) => {
            let n: usize = suffix.parse().ok()?;
            if n == 0 {
                return Some(Err(()));
            }
            (len.saturating_sub(n), len - 1)
        }
        (start, "") => (start.parse().ok()?, len - 1),
        (start, end) => {
            let s: usize = start.parse().ok()?;
            let e: usize = end.parse().ok()?;
            if e < s {
                return None;
            }
            (s, e.min(len - 1))
        }
    };
    if range.0 >= len {
        return Some(Err(()));
    }
    Some(Ok(range))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_verify_until_they_expire() {
        let s = Signer::new(42);
        let link = s.link("http://x", "abc", 0, 5_000);
        let query = link.split_once('?').map(|(_, q)| q);
        assert_eq!(s.verify("abc", 0, query, 4_999), Ok(()));
        assert_eq!(
            s.verify("abc", 0, query, 5_000),
            Err(LinkError::Expired { expires_ms: 5_000 })
        );
        assert_eq!(s.verify("abc", 1, query, 0), Err(LinkError::BadSignature));
        let padded = query.unwrap().replace("sig=", "sig=0");
        assert_eq!(
            s.verify("abc", 0, Some(&padded), 0),
            Err(LinkError::BadSignature)
        );
        let forged = query.unwrap().replace("5000", "9000");
        assert_eq!(
            s.verify("abc", 0, Some(&forged), 0),
            Err(LinkError::BadSignature)
        );
        assert_eq!(s.verify("abc", 0, None, 0), Err(LinkError::Malformed));
    }

    #[test]
    fn formats_dates_and_ranges() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_710_000_000_000), "2024-03-09T16:00:00Z");
        assert_eq!(parse_range("bytes=0-9", 100), Some(Ok((0, 9))));
        assert_eq!(parse_range("bytes=90-", 100), Some(Ok((90, 99))));
        assert_eq!(parse_range("bytes=-10", 100), Some(Ok((90, 99))));
        assert_eq!(parse_range("bytes=100-", 100), Some(Err(())));
        assert_eq!(parse_range("items=1-2", 100), None);
    }

    #[test]
    fn sample_is_an_mp4() {
        assert_eq!(&SAMPLE_MP4[4..8], b"ftyp");
    }
}
