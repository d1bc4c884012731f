//! Signed links to saved videos: `<public url>/videos/<task_id>/<n>.mp4?expires=<unix>&sig=<hex>`,
//! where `sig` is HMAC-SHA256 of the path and the expiry under a server secret. The app puts them
//! into reports ([`VideoLinks::link`]); the HTTP transport checks them ([`VideoLinks::verify`]).
//! Nothing here knows HTTP servers.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

/// What every video link's path starts with.
pub const PATH_PREFIX: &str = "/videos/";
/// Default lifetime of a link, in days.
pub const DEFAULT_DAYS: u32 = 7;
/// Shortest secret accepted from the operator, in bytes.
pub const MIN_SECRET_BYTES: usize = 16;

/// How links to saved videos are made: where the server is reached, the signing secret and how
/// long a link lasts.
#[derive(Clone)]
pub struct VideoLinks {
    base_url: String,
    secret: Vec<u8>,
    lifetime: Duration,
}

impl std::fmt::Debug for VideoLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VideoLinks")
            .field("base_url", &self.base_url)
            .field("secret", &"[redacted]")
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

/// Why a link is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The path names no video link (→ 404).
    NotAVideo,
    /// The signature or expiry is missing, wrong or past (→ 403).
    BadSignature,
}

impl VideoLinks {
    /// Links under `public_url` (an http(s) URL without query), signed with `secret` (at least
    /// [`MIN_SECRET_BYTES`]; `None`: a random one, so links die with the process), lasting
    /// `days`.
    pub fn new(public_url: &str, secret: Option<&str>, days: u32) -> Result<VideoLinks, String> {
        let parsed = url::Url::parse(public_url.trim())
            .map_err(|e| format!("--public-url {public_url:?} is not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https")
            || parsed.query().is_some()
            || parsed.fragment().is_some()
            || parsed.cannot_be_a_base()
        {
            return Err(format!(
                "--public-url must be an http(s) URL without query or fragment, e.g. https://veo.example.com (got {public_url:?})"
            ));
        }
        let secret = match secret.map(str::trim) {
            Some(s) if s.len() < MIN_SECRET_BYTES => {
                return Err(format!(
                    "the video link secret must be at least {MIN_SECRET_BYTES} characters"
                ));
            }
            Some(s) => s.as_bytes().to_vec(),
            None => rand::random::<[u8; 32]>().to_vec(),
        };
        if days == 0 {
            return Err("video links must last at least 1 day".to_string());
        }
        Ok(VideoLinks {
            base_url: parsed.as_str().trim_end_matches('/').to_string(),
            secret,
            lifetime: Duration::from_secs(u64::from(days) * 86_400),
        })
    }

    /// The origin links point at (`scheme://host[:port]`), for a browser's content policy.
    pub fn origin(&self) -> String {
        url::Url::parse(&self.base_url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|_| self.base_url.clone())
    }

    /// The same links with another lifetime (tests use short ones).
    pub fn with_lifetime(mut self, lifetime: Duration) -> VideoLinks {
        self.lifetime = lifetime;
        self
    }

    /// The signed link to video `n` (from 1) of `task_id`, made at `now`, and when it expires.
    pub fn link(&self, task_id: &str, n: u32, now: SystemTime) -> (String, SystemTime) {
        let expires = unix(now).saturating_add(self.lifetime.as_secs());
        let path = video_path(task_id, n);
        let sig = self.sign(&path, expires);
        (
            format!("{}{path}?expires={expires}&sig={sig}", self.base_url),
            UNIX_EPOCH + Duration::from_secs(expires),
        )
    }

    /// Checks a request for `path` with `query` at `now`: the task id and video number it
    /// names, or why it is refused. The signature is compared in constant time.
    pub fn verify(
        &self,
        path: &str,
        query: Option<&str>,
        now: SystemTime,
    ) -> Result<(String, u32), Refusal> {
        let named = parse_path(path).ok_or(Refusal::NotAVideo)?;
        let (mut expires, mut sig) = (None, None);
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match key.as_ref() {
                "expires" if expires.is_none() => expires = value.parse::<u64>().ok(),
                "sig" if sig.is_none() => sig = Some(value.into_owned()),
                _ => {}
            }
        }
        let (Some(expires), Some(sig)) = (expires, sig) else {
            return Err(Refusal::BadSignature);
        };
        let expected = self.sign(path, expires);
        // A signature is 64 hex digits; an empty one never matches, whatever `sign` gave.
        let matches = expected.len() == 64 && bool::from(expected.as_bytes().ct_eq(sig.as_bytes()));
        if !matches || expires <= unix(now) {
            return Err(Refusal::BadSignature);
        }
        Ok(named)
    }

    /// Hex HMAC-SHA256 of `path` and `expires`.
    fn sign(&self, path: &str, expires: u64) -> String {
        // HMAC accepts keys of any length.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.secret) else {
            return String::new();
        };
        mac.update(path.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        let mut hex = String::with_capacity(64);
        for byte in mac.finalize().into_bytes() {
            let _ = write!(hex, "{byte:02x}");
        }
        hex
    }
}

fn unix(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// The path of video `n` (from 1) of `task_id`: `/videos/<task_id>/<n>.mp4` (see
/// [`crate::video_name`]).
pub fn video_path(task_id: &str, n: u32) -> String {
    crate::video_name::name(PATH_PREFIX, task_id, n)
}

/// The task id and video number a path names; `None` unless it is exactly what [`video_path`]
/// makes for some task id and number (so `..`, `%2e` and other spellings are refused).
pub fn parse_path(path: &str) -> Option<(String, u32)> {
    crate::video_name::parse(PATH_PREFIX, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links() -> VideoLinks {
        VideoLinks::new("https://veo.example.com/", Some("0123456789abcdef"), 7).unwrap()
    }

    fn split(link: &str) -> (&str, &str) {
        let rest = link.strip_prefix("https://veo.example.com").unwrap();
        rest.split_once('?').unwrap()
    }

    #[test]
    fn the_origin_is_scheme_host_and_port_only() {
        assert_eq!(links().origin(), "https://veo.example.com");
        let deep = VideoLinks::new("http://127.0.0.1:8080/veo/", None, 1).unwrap();
        assert_eq!(deep.origin(), "http://127.0.0.1:8080");
    }

    #[test]
    fn a_link_verifies_until_it_expires_and_not_when_changed() {
        let now = SystemTime::now();
        let (link, expires) = links().link("task a/1", 2, now);
        let (path, query) = split(&link);
        assert_eq!(path, "/videos/task%20a%2F1/2.mp4");
        assert_eq!(
            links().verify(path, Some(query), now),
            Ok(("task a/1".to_string(), 2))
        );
        assert_eq!(
            links().verify(path, Some(query), expires),
            Err(Refusal::BadSignature)
        );
        let other = VideoLinks::new("https://veo.example.com", Some("another secret 1234"), 7);
        assert_eq!(
            other.unwrap().verify(path, Some(query), now),
            Err(Refusal::BadSignature)
        );
        let tampered = query.replace("expires=", "expires=1");
        assert_eq!(
            links().verify(path, Some(&tampered), now),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            links().verify("/videos/task%20a%2F1/3.mp4", Some(query), now),
            Err(Refusal::BadSignature)
        );
        assert_eq!(links().verify(path, None, now), Err(Refusal::BadSignature));
        let unsigned = format!("expires={}&sig=", unix(expires));
        assert_eq!(
            links().verify(path, Some(&unsigned), now),
            Err(Refusal::BadSignature),
            "an empty signature"
        );
        // `%2E%2E` is the canonical spelling of the task id "..": looked up in the journal, never a
        // directory. Other spellings name nothing.
        for bad in [
            "/videos/../1.mp4",
            "/videos/%2e%2e/1.mp4",
            "/videos/a/01.mp4",
            "/videos/a/1",
        ] {
            assert_eq!(
                links().verify(bad, Some(query), now),
                Err(Refusal::NotAVideo)
            );
        }
    }

    #[test]
    fn settings_are_checked() {
        assert!(VideoLinks::new("ftp://x", None, 7).is_err());
        assert!(VideoLinks::new("https://x?a=b", None, 7).is_err());
        assert!(VideoLinks::new("https://x", Some("short"), 7).is_err());
        assert!(VideoLinks::new("https://x", None, 0).is_err());
        let debug = format!("{:?}", links());
        assert!(!debug.contains("0123456789abcdef"), "{debug}");
    }
}
