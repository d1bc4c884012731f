//! Client configuration, kept apart from the transport: where the platform is, the key, timeouts
//! and retry limits.

use std::fmt;
use std::time::Duration;

use crate::error::{Error, InvalidInput, Problem};

/// The platform's public base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.jiekou.ai";
/// Environment variable holding the API key.
pub const API_KEY_ENV: &str = "JIEKOU_API_KEY";
/// Environment variable overriding the base URL.
pub const BASE_URL_ENV: &str = "JIEKOU_BASE_URL";

/// An API key. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key; surrounding whitespace is removed. `None` if nothing is left.
    pub fn new(key: impl Into<String>) -> Option<ApiKey> {
        let key = key.into().trim().to_string();
        (!key.is_empty()).then_some(ApiKey(key))
    }

    /// The key itself, for the `Authorization` header and nothing else.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How often and how long to retry.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts for one task-result query, the first included.
    pub query_attempts: u32,
    /// Attempts for a submit, the first included; only failures that certainly did not reach the
    /// platform (connection refused, DNS) and 429s are retried.
    pub submit_attempts: u32,
    /// First backoff delay; it doubles per attempt.
    pub base_delay: Duration,
    /// Longest backoff delay before jitter (which adds up to as much again, so that many
    /// clients do not retry in step).
    pub max_delay: Duration,
    /// Longest `Retry-After` this client waits for before giving up and reporting the limit.
    pub max_retry_after: Duration,
}

impl RetryPolicy {
    /// The backoff for an operation allowed `attempts` tries in all (the first included):
    /// exponential from `base_delay` up to `max_delay`, with jitter. Every retry in veo goes
    /// through a backoff built here; *what* may be retried is the caller's rule
    /// ([`Error::is_transient`] for queries and downloads, [`Error::is_safe_to_resend`] for
    /// submits).
    pub fn backoff(&self, attempts: u32) -> backon::ExponentialBuilder {
        backon::ExponentialBuilder::default()
            .with_min_delay(self.base_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(attempts.saturating_sub(1) as usize)
            .with_jitter()
    }

    /// The delay before the next attempt after `error`: the platform's `Retry-After` when it
    /// gave one (no retry when it asks for more than `max_retry_after`), else the backoff's
    /// `delay`. `None` ends the retrying.
    pub fn honour_retry_after(&self, error: &Error, delay: Option<Duration>) -> Option<Duration> {
        let delay = delay?;
        match error.retry_after() {
            Some(asked) => (asked <= self.max_retry_after).then_some(asked),
            None => Some(delay),
        }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            query_attempts: 3,
            submit_attempts: 3,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(4),
            max_retry_after: Duration::from_secs(10),
        }
    }
}

/// Everything the client needs to reach the platform.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// API key; without one, every request fails with [`Error::MissingApiKey`] before sending.
    pub api_key: Option<ApiKey>,
    /// Base URL, without a trailing slash.
    pub base_url: String,
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Time allowed for one task-result query.
    pub query_timeout: Duration,
    /// Time allowed for one submit, upload included (two 20 MB frames are ~54 MB).
    pub submit_timeout: Duration,
    /// Longest a video download may go without receiving a byte before it is given up.
    pub download_idle_timeout: Duration,
    /// Largest video file accepted.
    pub max_download_bytes: u64,
    /// `User-Agent` header.
    pub user_agent: String,
    /// Retry limits.
    pub retry: RetryPolicy,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            api_key: None,
            base_url: DEFAULT_BASE_URL.to_string(),
            connect_timeout: Duration::from_secs(10),
            query_timeout: Duration::from_secs(30),
            submit_timeout: Duration::from_secs(300),
            download_idle_timeout: Duration::from_secs(30),
            max_download_bytes: 2 * 1024 * 1024 * 1024,
            user_agent: concat!("veo/", env!("CARGO_PKG_VERSION")).to_string(),
            retry: RetryPolicy::default(),
        }
    }
}

impl ClientConfig {
    /// Defaults, with the key from `JIEKOU_API_KEY` and the base URL from `JIEKOU_BASE_URL`.
    pub fn from_env() -> Result<ClientConfig, Error> {
        let mut config = ClientConfig {
            api_key: std::env::var(API_KEY_ENV).ok().and_then(ApiKey::new),
            ..ClientConfig::default()
        };
        if let Ok(url) = std::env::var(BASE_URL_ENV)
            && !url.trim().is_empty()
        {
            config = config.with_base_url(&url)?;
        }
        Ok(config)
    }

    /// Sets the API key.
    pub fn with_api_key(mut self, key: impl Into<String>) -> ClientConfig {
        self.api_key = ApiKey::new(key);
        self
    }

    /// Sets the base URL after checking that it is an absolute `http(s)` URL.
    pub fn with_base_url(mut self, url: &str) -> Result<ClientConfig, Error> {
        let trimmed = url.trim().trim_end_matches('/');
        let parsed = url::Url::parse(trimmed)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if parsed.is_none() {
            return Err(Error::InvalidInput(InvalidInput {
                problems: vec![Problem::new(
                    BASE_URL_ENV,
                    url,
                    "must be an absolute http(s) URL such as https://api.jiekou.ai",
                )],
            }));
        }
        self.base_url = trimmed.to_string();
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_never_shows() {
        let config = ClientConfig::default().with_api_key("sk-very-secret");
        let shown = format!(
            "{config:?} {:?} {}",
            config.api_key,
            config.api_key.clone().unwrap()
        );
        assert!(!shown.contains("sk-very-secret"), "{shown}");
        assert!(shown.contains("<redacted>"));
        assert_eq!(ApiKey::new("  "), None);
    }

    #[test]
    fn base_urls_are_checked_and_normalized() {
        let c = ClientConfig::default()
            .with_base_url("http://127.0.0.1:8787/")
            .unwrap();
        assert_eq!(c.base_url, "http://127.0.0.1:8787");
        let e = ClientConfig::default()
            .with_base_url("api.jiekou.ai")
            .unwrap_err();
        assert!(e.to_string().contains("JIEKOU_BASE_URL"), "{e}");
    }
}
