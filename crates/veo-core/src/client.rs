//! The HTTP client: the only code that talks to the platform.
//!
//! What may be retried is decided here. A submit costs money and is not idempotent, so it is
//! retried only when the request certainly did not reach the platform (connection refused, DNS)
//! or was turned away with 429 ([`Error::is_safe_to_resend`]); any other failure after sending is
//! reported as [`Error::SubmitOutcomeUnknown`]. Queries are safe to repeat and are retried on
//! transient failures ([`Error::is_transient`]). The retrying itself is `backon`'s, with the
//! backoff of [`crate::RetryPolicy::backoff`]. [`Client::wait`] polls until a task ends or a
//! deadline passes, through the one polling loop in [`crate::poll`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use backon::Retryable as _;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::body::{RequestBody, encode};
use crate::config::ClientConfig;
use crate::error::{Error, Result, shorten};
use crate::poll::{Pacing, Polled, poll_until};
use crate::request::Model;
use crate::result::{TaskResult, UnreadableReply};
use crate::validate::PreparedRequest;

/// Keys shorter than this are scrubbed from replies only as whole tokens (see `Client::scrub`).
const SHORT_KEY: usize = 16;

/// Path of the task-result endpoint.
pub const TASK_RESULT_PATH: &str = "/v3/async/task-result";

/// An async client for the platform. Cheap to clone; clones share connections.
///
/// Creating one does no work: the HTTP stack (TLS roots included) is built on first use, which
/// keeps program start-up fast.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: ClientConfig,
    http: OnceLock<reqwest::Client>,
    /// The task-result endpoint, parsed once (`None`: the base URL does not parse, and each
    /// request reports that).
    task_result_url: OnceLock<Option<reqwest::Url>>,
}

/// How long and how politely [`Client::wait`] polls.
#[derive(Clone, Debug)]
pub struct WaitOptions {
    /// Give up waiting (and return the latest state) after this long.
    pub timeout: Duration,
    /// Delay before the second poll; later delays grow from here.
    pub first_interval: Duration,
    /// Shortest delay between polls.
    pub min_interval: Duration,
    /// Longest delay between polls.
    pub max_interval: Duration,
    /// Stops the wait promptly with [`Error::Cancelled`] when triggered.
    pub cancel: CancellationToken,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            timeout: Duration::from_secs(50),
            first_interval: Duration::from_secs(1),
            min_interval: Duration::from_millis(500),
            max_interval: Duration::from_secs(5),
            cancel: CancellationToken::new(),
        }
    }
}

/// Marks a failure of our own request body (a frame file that went away), so it is not mistaken
/// for a network failure after sending.
#[derive(Debug)]
struct BodyReadError(std::io::Error);

impl std::fmt::Display for BodyReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "reading a frame failed: {}", self.0)
    }
}

impl std::error::Error for BodyReadError {}

impl Client {
    /// A client for `config`. Does not touch the network or the TLS stack.
    pub fn new(config: ClientConfig) -> Client {
        Client {
            inner: Arc::new(Inner {
                config,
                http: OnceLock::new(),
                task_result_url: OnceLock::new(),
            }),
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    pub(crate) fn http(&self) -> Result<&reqwest::Client> {
        if let Some(http) = self.inner.http.get() {
            return Ok(http);
        }
        let config = &self.inner.config;
        let tls = tls_config().map_err(|e| Error::Network {
            may_have_reached_server: false,
            message: format!("cannot set up TLS: {e}"),
        })?;
        let built = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(config.connect_timeout)
            .user_agent(config.user_agent.clone())
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| Error::Network {
                may_have_reached_server: false,
                message: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(self.inner.http.get_or_init(|| built))
    }

    fn key(&self) -> Result<&str> {
        self.inner
            .config
            .api_key
            .as_ref()
            .map(|k| k.expose())
            .ok_or(Error::MissingApiKey)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.inner.config.base_url, path)
    }

    /// Submits a prepared request and returns the new task's id.
    ///
    /// Only a [`PreparedRequest`] can be submitted, so nothing unvalidated is ever sent.
    pub async fn submit(&self, prepared: &PreparedRequest) -> Result<String> {
        self.submit_body(prepared.request.model, &encode(prepared))
            .await
    }

    /// `body` with every occurrence of the API key replaced by `<redacted>` (of a key shorter
    /// than 16 bytes, every whole-token occurrence): a reply may echo
    /// what was sent, and nothing read from it (shortened or not) may show the key.
    pub(crate) fn scrub(&self, body: bytes::Bytes) -> bytes::Bytes {
        let Some(key) = self
            .inner
            .config
            .api_key
            .as_ref()
            .map(|k| k.expose().as_bytes())
        else {
            return body;
        };
        let finder = memchr::memmem::Finder::new(key);
        if key.is_empty() || finder.find(&body).is_none() {
            return body;
        }
        // A short key can also occur inside a field name or a value ("k" in "task_id"), and
        // cutting there would break the reply: it is taken out only as a whole token. A key of
        // a real length is taken out wherever it occurs, also glued to other text, so that no
        // excerpt of the reply can show a piece of it.
        let short = key.len() < SHORT_KEY;
        let token_byte = |b: &u8| short && (b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_');
        let mut clean = Vec::with_capacity(body.len());
        let mut copied = 0;
        let mut from = 0;
        while let Some(found) = finder.find(&body[from..]) {
            let at = from + found;
            let end = at + key.len();
            let whole = !at.checked_sub(1).is_some_and(|i| token_byte(&body[i]))
                && !body.get(end).is_some_and(token_byte);
            if whole {
                clean.extend_from_slice(&body[copied..at]);
                clean.extend_from_slice(b"<redacted>");
                copied = end;
                from = end;
            } else {
                from = at + 1;
            }
        }
        if copied == 0 {
            return body;
        }
        clean.extend_from_slice(&body[copied..]);
        bytes::Bytes::from(clean)
    }

    /// `error` with the API key taken out of every text the platform sent back.
    pub(crate) fn redacted(&self, error: Error) -> Error {
        match &self.inner.config.api_key {
            Some(key) => error.redact(key.expose()),
            None => error,
        }
    }

    async fn submit_body(&self, model: Model, body: &RequestBody) -> Result<String> {
        self.submit_body_raw(model, body)
            .await
            .map_err(|e| self.redacted(e))
    }

    async fn submit_body_raw(&self, model: Model, body: &RequestBody) -> Result<String> {
        let key = self.key()?;
        let http = self.http()?;
        let policy = &self.inner.config.retry;
        let url = self.url(model.endpoint_path());
        // A frame that could not be read fails again the same way: not worth another attempt.
        let frame_unreadable = AtomicBool::new(false);
        let send = || async {
            let request = http
                .post(&url)
                .bearer_auth(key)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(reqwest::header::CONTENT_LENGTH, body.content_length())
                .timeout(self.inner.config.submit_timeout)
                .body(match body.small_in_memory() {
                    Some(bytes) => reqwest::Body::from(bytes),
                    None => reqwest::Body::wrap_stream(body.stream_marked()),
                });
            match request.send().await {
                Err(e) if is_body_error(&e) || e.is_connect() => {
                    frame_unreadable.store(is_body_error(&e), Ordering::Relaxed);
                    Err(Error::Network {
                        may_have_reached_server: false,
                        message: describe(&e),
                    })
                }
                Err(e) => {
                    let what = if e.is_timeout() {
                        format!(
                            "no answer within {:?} after sending",
                            self.inner.config.submit_timeout
                        )
                    } else {
                        format!("the connection failed after sending ({})", describe(&e))
                    };
                    Err(Error::SubmitOutcomeUnknown { detail: what })
                }
                Ok(response) => submit_response(response, |b| self.scrub(b)).await,
            }
            // Each attempt's error is clean before it is logged below.
            .map_err(|e| self.redacted(e))
        };
        send.retry(policy.backoff(policy.submit_attempts))
            .when(|e| e.is_safe_to_resend() && !frame_unreadable.load(Ordering::Relaxed))
            .adjust(|e, delay| policy.honour_retry_after(e, delay))
            .notify(|e, delay| tracing::warn!(?delay, error = %e, "submit did not reach the platform; retrying"))
            .await
    }

    /// Fetches a task's current state, retrying transient failures (see [`crate::RetryPolicy`]).
    pub async fn task_result(&self, task_id: &str) -> Result<TaskResult> {
        let policy = &self.inner.config.retry;
        (|| self.task_result_once(task_id))
            .retry(policy.backoff(policy.query_attempts))
            .when(Error::is_transient)
            .adjust(|e, delay| policy.honour_retry_after(e, delay))
            .notify(|e, delay| tracing::debug!(?delay, error = %e, "task-result query failed; retrying"))
            .await
    }

    /// Fetches a task's current state once, without retrying.
    pub async fn task_result_once(&self, task_id: &str) -> Result<TaskResult> {
        self.task_result_raw(task_id)
            .await
            .map_err(|e| self.redacted(e))
    }

    async fn task_result_raw(&self, task_id: &str) -> Result<TaskResult> {
        let key = self.key()?;
        let http = self.http()?;
        let timeout = self.inner.config.query_timeout;
        let url = self
            .inner
            .task_result_url
            .get_or_init(|| reqwest::Url::parse(&self.url(TASK_RESULT_PATH)).ok());
        let request = match url {
            Some(url) => http.get(url.clone()),
            None => http.get(self.url(TASK_RESULT_PATH)),
        };
        let response = request
            .query(&[("task_id", task_id)])
            .bearer_auth(key)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| transport_error(&e, timeout))?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let bytes = response
            .bytes()
            .await
            .map_err(|e| transport_error(&e, timeout))?;
        // Before anything is read out of it (a reason, a status, an excerpt for an error).
        let bytes = self.scrub(bytes);
        let fetched_at = SystemTime::now();
        if status == StatusCode::NOT_FOUND {
            return Err(Error::NotFound {
                task_id: task_id.to_string(),
            });
        }
        if !status.is_success() {
            return Err(error_from_response(status, retry_after, &bytes));
        }
        TaskResult::from_slice(&bytes, task_id, fetched_at).map_err(|unreadable| {
            let detail = match unreadable {
                UnreadableReply::NotJson(e) => format!("not JSON ({e}): {}", excerpt(&bytes)),
                UnreadableReply::NotAnObject => {
                    format!("expected a JSON object: {}", excerpt(&bytes))
                }
            };
            Error::BadResponse {
                status: status.as_u16(),
                detail,
            }
        })
    }

    /// Polls a task until it ends, the timeout passes, or the wait is cancelled.
    ///
    /// Returns the latest state seen, terminal or not: a wait that times out is not an error.
    /// The pacing is [`crate::poll::poll_until`]'s: the first poll at once, later ones following
    /// the task's `eta`, always honouring `Retry-After`. Transient query failures are polled
    /// through until the deadline; lasting ones (auth, unknown task) end the wait.
    /// `on_update` sees every state received.
    pub async fn wait(
        &self,
        task_id: &str,
        options: &WaitOptions,
        on_update: impl FnMut(&TaskResult),
    ) -> Result<TaskResult> {
        let pacing = Pacing {
            first_delay: Duration::ZERO,
            first_interval: options.first_interval,
            min_interval: options.min_interval,
            max_interval: options.max_interval,
            near_end: options.min_interval,
        };
        // A wait too long to represent is as good as a year.
        let deadline = Instant::now()
            .checked_add(options.timeout)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(365 * 24 * 3600));
        poll_until(
            &pacing,
            Some(deadline),
            &options.cancel,
            || async { Polled::Answer(self.task_result_once(task_id).await) },
            |e| !e.is_transient(),
            on_update,
        )
        .await
    }
}

impl RequestBody {
    /// The body stream with its read errors marked as ours (see [`BodyReadError`]).
    fn stream_marked(
        &self,
    ) -> impl futures_util::Stream<Item = std::result::Result<bytes::Bytes, BodyReadError>>
    + Send
    + 'static {
        use futures_util::TryStreamExt as _;
        self.stream().map_err(BodyReadError)
    }
}

async fn submit_response(
    response: reqwest::Response,
    scrub: impl FnOnce(bytes::Bytes) -> bytes::Bytes,
) -> Result<String> {
    let status = response.status();
    let retry_after = retry_after(response.headers());
    let bytes = match response.bytes().await {
        Ok(b) => scrub(b),
        Err(e) if status.is_success() => {
            return Err(Error::SubmitOutcomeUnknown {
                detail: format!(
                    "the platform accepted the request (HTTP {status}) but the reply was cut off ({})",
                    describe(&e)
                ),
            });
        }
        Err(_) => Default::default(),
    };
    if status.is_success() {
        let task_id = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v.get("task_id").and_then(Value::as_str).map(str::to_string))
            .filter(|id| !id.trim().is_empty());
        return task_id.ok_or_else(|| Error::SubmitOutcomeUnknown {
            detail: format!(
                "the platform answered HTTP {} without a task id: {}",
                status.as_u16(),
                excerpt(&bytes)
            ),
        });
    }
    if status.is_server_error() {
        return Err(Error::SubmitOutcomeUnknown {
            detail: format!(
                "the platform answered HTTP {}: {}",
                status.as_u16(),
                platform_message(&bytes).1
            ),
        });
    }
    Err(error_from_response(status, retry_after, &bytes))
}

fn error_from_response(status: StatusCode, retry_after: Option<Duration>, body: &[u8]) -> Error {
    let (reason, message) = platform_message(body);
    match status.as_u16() {
        401 | 403 => Error::Auth {
            status: status.as_u16(),
            message,
        },
        429 => Error::RateLimited {
            retry_after,
            message,
        },
        code => Error::Upstream {
            status: code,
            reason,
            message,
        },
    }
}

/// The platform's `reason` and `message` from an error body, or an excerpt of a non-JSON body.
fn platform_message(body: &[u8]) -> (Option<String>, String) {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(name))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let reason = field("reason");
    let message = field("message")
        .or_else(|| reason.clone())
        .unwrap_or_else(|| {
            if body.is_empty() {
                "empty body".to_string()
            } else {
                format!("non-JSON body: {}", excerpt(body))
            }
        });
    (reason, message)
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    shorten(&flat, 200)
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(SystemTime::now()).unwrap_or_default())
}

fn is_body_error(e: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<BodyReadError>() {
            return true;
        }
        source = s.source();
    }
    false
}

pub(crate) fn transport_error(e: &reqwest::Error, timeout: Duration) -> Error {
    if e.is_timeout() {
        Error::Timeout(timeout)
    } else {
        Error::Network {
            may_have_reached_server: !e.is_connect(),
            message: describe(e),
        }
    }
}

/// An error's message with its causes, which carry the useful part (e.g. "connection refused").
pub(crate) fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// TLS for the platform: rustls with the ring provider (set here, not process-wide, so an
/// application embedding this client keeps its own default), the platform's certificate
/// verifier, TLS 1.2 and 1.3, and HTTP/1.1 announced by ALPN.
fn tls_config() -> std::result::Result<rustls::ClientConfig, rustls::Error> {
    use rustls_platform_verifier::BuilderVerifierExt as _;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_platform_verifier()?
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_is_rustls_with_ring_and_http1() {
        let config = tls_config().expect("builds without a process-wide provider");
        assert_eq!(config.alpn_protocols, [b"http/1.1".to_vec()]);
        let config = ClientConfig::default().with_base_url("https://example.invalid");
        let client = Client::new(config.unwrap());
        assert!(client.http().is_ok(), "the reqwest client builds with it");
    }

    fn scrubbed(key: &str, body: &str) -> String {
        let client = Client::new(ClientConfig::default().with_api_key(key));
        String::from_utf8(client.scrub(bytes::Bytes::from(body.to_string())).to_vec()).unwrap()
    }

    #[test]
    fn a_short_key_is_scrubbed_as_a_token_and_a_real_one_everywhere() {
        // A one-letter key must not cut "task_id" apart, but goes where it stands alone.
        let reply = r#"{"task_id":"t-1","message":"bad key k"}"#;
        assert_eq!(
            scrubbed("k", reply),
            r#"{"task_id":"t-1","message":"bad key <redacted>"}"#
        );
        assert_eq!(scrubbed("k", r#"{"task_id":"t"}"#), r#"{"task_id":"t"}"#);
        // A key of a real length goes wherever it is, glued to other text too.
        let key = "sk-0123456789abcdef";
        assert_eq!(
            scrubbed(key, &format!("xx{key}yy and {key}")),
            "xx<redacted>yy and <redacted>"
        );
    }
}
