//! Configuration of a mock server: accepted keys, timing, link lifetime, limits and faults.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::faults::FaultRule;

/// The API key accepted by [`MockConfig::default`].
pub const DEFAULT_API_KEY: &str = "mock-key";

/// Largest decoded frame the platform accepts: 20 MiB.
pub const DEFAULT_MAX_IMAGE_BYTES: usize = 20 * 1024 * 1024;

/// Default request body limit: 64 MiB, enough for two 20 MiB frames in Base64 plus the rest.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Everything a mock server can be told at startup.
///
/// `Default` gives a quick, demo-friendly server (0.5 s queued, 3 s processing, links valid one
/// hour, key [`DEFAULT_API_KEY`]); [`MockConfig::fast`] suits tests and [`MockConfig::realistic`]
/// behaves like the real platform's timing. The `with_*` methods adjust one field each.
/// As a JSON config file every field is optional.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MockConfig {
    /// Accepted `Authorization: Bearer` keys. Empty: any non-empty key is accepted.
    pub api_keys: Vec<String>,
    /// Seed for every random choice (task ids, seeds, failures, fault rates).
    pub seed: u64,
    /// How long a new task stays `TASK_STATUS_QUEUED`, in milliseconds.
    pub queue_ms: u64,
    /// How long a task stays `TASK_STATUS_PROCESSING` before its terminal state, in milliseconds.
    pub processing_ms: u64,
    /// Lifetime of a result link, in milliseconds (reported as `video_url_ttl` in seconds).
    pub link_ttl_ms: u64,
    /// Links expire `link_ttl_ms` after the task completed instead of after the query that
    /// returned them.
    pub sign_links_at_completion: bool,
    /// Fraction (0.0..=1.0) of tasks that end `TASK_STATUS_FAILED` with a generation error.
    pub failure_rate: f64,
    /// Largest accepted decoded frame, in bytes.
    pub max_image_bytes: usize,
    /// Largest accepted request body, in bytes (larger bodies get 413).
    pub max_body_bytes: usize,
    /// Accept frames sent as `data:image/...;base64,` URLs (the platform documents raw Base64).
    pub accept_data_urls: bool,
    /// Base URL written into result links; by default the address the server is bound to.
    pub public_base_url: Option<String>,
    /// Faults active from startup (and again after a reset).
    pub faults: Vec<FaultRule>,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            api_keys: vec![DEFAULT_API_KEY.to_owned()],
            seed: 0,
            queue_ms: 500,
            processing_ms: 3_000,
            link_ttl_ms: 3_600_000,
            sign_links_at_completion: false,
            failure_rate: 0.0,
            max_image_bytes: DEFAULT_MAX_IMAGE_BYTES,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            accept_data_urls: false,
            public_base_url: None,
            faults: Vec::new(),
        }
    }
}

impl MockConfig {
    /// Timing for tests: 20 ms queued, 200 ms processing.
    pub fn fast() -> Self {
        MockConfig {
            queue_ms: 20,
            processing_ms: 200,
            ..MockConfig::default()
        }
    }

    /// Timing like the real platform: 10 s queued, 90 s processing.
    pub fn realistic() -> Self {
        MockConfig {
            queue_ms: 10_000,
            processing_ms: 90_000,
            ..MockConfig::default()
        }
    }

    /// Replaces the accepted API keys (empty: any non-empty key).
    pub fn with_api_keys<I, S>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.api_keys = keys.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the seed of every random choice.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets how long tasks stay queued and then processing.
    pub fn with_timing(mut self, queue: Duration, processing: Duration) -> Self {
        self.queue_ms = duration_ms(queue);
        self.processing_ms = duration_ms(processing);
        self
    }

    /// Sets the lifetime of result links.
    pub fn with_link_ttl(mut self, ttl: Duration) -> Self {
        self.link_ttl_ms = duration_ms(ttl);
        self
    }

    /// Sets the fraction of tasks that fail with a generation error.
    pub fn with_failure_rate(mut self, rate: f64) -> Self {
        self.failure_rate = rate;
        self
    }

    /// Adds a fault active from startup.
    pub fn with_fault(mut self, rule: FaultRule) -> Self {
        self.faults.push(rule);
        self
    }

    /// Sets the base URL written into result links.
    pub fn with_public_base_url(mut self, url: impl Into<String>) -> Self {
        self.public_base_url = Some(url.into());
        self
    }

    /// The first accepted key, or a placeholder when any key is accepted: handy for clients.
    pub fn client_key(&self) -> &str {
        self.api_keys
            .first()
            .map(String::as_str)
            .unwrap_or(DEFAULT_API_KEY)
    }

    /// Checks the values that have a range; the message names the field.
    pub fn check(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.failure_rate) {
            return Err(format!(
                "failure_rate must be within 0.0..=1.0, got {}",
                self.failure_rate
            ));
        }
        if self.max_body_bytes == 0 || self.max_image_bytes == 0 {
            return Err("max_body_bytes and max_image_bytes must be positive".to_owned());
        }
        for rule in &self.faults {
            rule.check()?;
        }
        Ok(())
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
