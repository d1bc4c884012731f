//! The router over the handlers' shared state, their replies and faults; each endpoint's handlers in
//! their own module (`submit`, `task_result`, `download`, `admin`).
//!
//! Each platform request goes: faults (before) → auth → work → faults (after) → counters.
//! "Before" faults (500, 502, 429, reset, delay) happen without doing anything; "after" faults
//! (malformed body, created-then-500, created-then-reset) replace a successful reply after the
//! work is done, so a submit creates its task and the client cannot tell.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::json;

use crate::config::MockConfig;
use crate::conn::ConnInfo;
use crate::faults::{Fault, Faults, Scope};
use crate::files::{self, Signer};
use crate::stats::{Endpoint, Outcome, Stats};
use crate::tasks::{Clock, Store, TaskDefaults, TaskSummary};
use crate::validate::Limits;

mod admin;
mod download;
mod submit;
mod task_result;

use admin::{
    admin_clear_faults, admin_faults, admin_reset, admin_set_faults, admin_stats, admin_tasks,
};
use download::download;
use submit::submit;
use task_result::task_result;

/// Everything the handlers share.
pub(crate) struct Shared {
    pub config: MockConfig,
    pub base_url: String,
    pub clock: Clock,
    pub store: Store,
    pub faults: Faults,
    pub stats: Stats,
    signer: Signer,
    defaults: TaskDefaults,
    limits: Limits,
}

impl Shared {
    pub(crate) fn new(config: MockConfig, base_url: String) -> Shared {
        let defaults = TaskDefaults {
            queue_ms: config.queue_ms,
            processing_ms: config.processing_ms,
            ttl_ms: config.link_ttl_ms,
            failure_rate: config.failure_rate,
        };
        let limits = Limits {
            max_image_bytes: config.max_image_bytes,
            accept_data_urls: config.accept_data_urls,
        };
        Shared {
            base_url,
            clock: Clock::new(),
            store: Store::new(config.seed),
            faults: Faults::new(config.faults.clone(), config.seed),
            stats: Stats::new(),
            signer: Signer::new(config.seed.rotate_left(29) ^ 0x7369_676e_6564_7572),
            defaults,
            limits,
            config,
        }
    }

    /// Back to the state at startup: no tasks, zero counters, the configured faults.
    pub(crate) fn reset(&self) {
        self.store.clear(self.config.seed);
        self.faults
            .set(self.config.faults.clone(), Some(self.config.seed));
        self.stats.reset();
    }

    /// Every task held, oldest first, with its status now.
    pub(crate) fn task_summaries(&self) -> Vec<TaskSummary> {
        let now = self.clock.now_ms();
        self.store.list().iter().map(|t| t.summary(now)).collect()
    }

    fn auth(&self, headers: &HeaderMap) -> Result<(), Box<Reply>> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(Box::new(Reply::api_error(
                StatusCode::UNAUTHORIZED,
                "INVALID_API_KEY",
                "missing `Authorization: Bearer <API key>` header",
            )));
        };
        let token = value.to_str().ok().and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
        let ok = match token {
            None | Some("") => false,
            Some(t) => {
                self.config.api_keys.is_empty() || self.config.api_keys.iter().any(|k| k == t)
            }
        };
        if ok {
            Ok(())
        } else {
            Err(Box::new(Reply::api_error(
                StatusCode::UNAUTHORIZED,
                "INVALID_API_KEY",
                "invalid API key: expected `Authorization: Bearer <API key>` with a valid key",
            )))
        }
    }

    fn pick_fault(&self, scope: Scope) -> Option<Fault> {
        let fault = self.faults.pick(scope);
        if fault.is_some() {
            self.stats.fault_injected();
        }
        fault
    }
}

type AppState = State<Arc<Shared>>;

/// A response, or a connection to cut.
pub(crate) struct Reply {
    response: Response,
    reset: bool,
}

impl Reply {
    fn new(response: Response) -> Reply {
        Reply {
            response,
            reset: false,
        }
    }

    fn reset(conn: &ConnInfo) -> Reply {
        conn.reset();
        Reply {
            response: StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            reset: true,
        }
    }

    /// The platform's error shape: `{"code","reason","message","metadata"}`.
    fn api_error(status: StatusCode, reason: &str, message: &str) -> Reply {
        Reply::api_error_with(status, reason, message, json!({}))
    }

    fn api_error_with(
        status: StatusCode,
        reason: &str,
        message: &str,
        metadata: serde_json::Value,
    ) -> Reply {
        #[derive(Serialize)]
        struct ErrorBody<'a> {
            code: u16,
            reason: &'a str,
            message: &'a str,
            metadata: serde_json::Value,
        }
        let body = ErrorBody {
            code: status.as_u16(),
            reason,
            message,
            metadata,
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        Reply::new((status, json_headers(), bytes).into_response())
    }

    fn json(body: Vec<u8>) -> Reply {
        Reply::new((StatusCode::OK, json_headers(), body).into_response())
    }

    fn xml(status: StatusCode, body: String) -> Reply {
        let headers = [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml"),
        )];
        Reply::new((status, headers, body).into_response())
    }

    /// Counts the outcome and hands the response to the HTTP layer.
    fn finish(self, stats: &Stats, endpoint: Endpoint) -> Response {
        let outcome = if self.reset {
            Outcome::Reset
        } else {
            Outcome::Status(self.response.status().as_u16())
        };
        stats.record(endpoint, outcome);
        self.response
    }
}

fn json_headers() -> [(header::HeaderName, HeaderValue); 1] {
    [(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    )]
}

/// What a storage front answers on trouble, vs. what the API answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Api,
    Storage,
}

const BAD_GATEWAY_HTML: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

fn server_error(flavor: Flavor) -> Reply {
    match flavor {
        Flavor::Api => Reply::api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_SERVER_ERROR",
            "internal server error, please try again later",
        ),
        Flavor::Storage => Reply::xml(
            StatusCode::INTERNAL_SERVER_ERROR,
            files::xml_error(
                "InternalError",
                "We encountered an internal error. Please try again.",
                "",
            ),
        ),
    }
}

/// The part of a fault that happens before any work. `Err` ends the request; `Ok` carries the
/// part to apply after the work, if any.
async fn before(
    fault: Option<Fault>,
    conn: &ConnInfo,
    flavor: Flavor,
) -> Result<Option<Fault>, Box<Reply>> {
    match fault {
        None => Ok(None),
        Some(Fault::Slow { delay_ms }) => {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            Ok(None)
        }
        Some(Fault::Http500) => Err(Box::new(server_error(flavor))),
        Some(Fault::Http502Html) => {
            let headers = [(header::CONTENT_TYPE, HeaderValue::from_static("text/html"))];
            Err(Box::new(Reply::new(
                (StatusCode::BAD_GATEWAY, headers, BAD_GATEWAY_HTML).into_response(),
            )))
        }
        Some(Fault::RateLimited { retry_after_s }) => {
            let mut reply = match flavor {
                Flavor::Api => Reply::api_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "RATE_LIMIT_EXCEEDED",
                    "too many requests, please slow down",
                ),
                Flavor::Storage => Reply::xml(
                    StatusCode::TOO_MANY_REQUESTS,
                    files::xml_error("SlowDown", "Please reduce your request rate.", ""),
                ),
            };
            reply
                .response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_s));
            Err(Box::new(reply))
        }
        Some(Fault::ConnectionReset) => Err(Box::new(Reply::reset(conn))),
        Some(
            f @ (Fault::MalformedJson
            | Fault::CreatedThen500
            | Fault::CreatedThenReset
            | Fault::Stall),
        ) => Ok(Some(f)),
    }
}

/// The part of a fault that replaces a successful reply after the work was done.
fn after(fault: Option<Fault>, conn: &ConnInfo, flavor: Flavor, ok: Reply) -> Reply {
    if !ok.response.status().is_success() {
        return ok;
    }
    match fault {
        Some(Fault::CreatedThen500) => server_error(flavor),
        Some(Fault::CreatedThenReset) => Reply::reset(conn),
        Some(Fault::Stall) => stall(ok),
        _ => ok,
    }
}

/// `ok` with its status and headers (its length included) and the first 16 bytes of its body,
/// then nothing: the connection stays open and silent.
fn stall(ok: Reply) -> Reply {
    use futures_util::StreamExt as _;
    let (mut parts, body) = ok.response.into_parts();
    if let Some(len) = axum::body::HttpBody::size_hint(&body).exact() {
        parts
            .headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    let first = async move {
        axum::body::to_bytes(body, usize::MAX)
            .await
            .map(|b| b.slice(..b.len().min(16)))
    };
    let stalled = futures_util::stream::once(first).chain(futures_util::stream::pending());
    Reply::new(Response::from_parts(parts, Body::from_stream(stalled)))
}

/// The first half of a body: cut-off JSON, or a truncated file.
fn cut(body: &[u8]) -> Vec<u8> {
    body[..body.len() / 2].to_vec()
}

/// Builds the router over `shared`.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v3/async/task-result", get(task_result))
        .route("/v3/async/{endpoint}", post(submit))
        .route("/files/{task_id}/{file}", get(download))
        .route("/_mock/stats", get(admin_stats))
        .route("/_mock/reset", post(admin_reset))
        .route("/_mock/tasks", get(admin_tasks))
        .route(
            "/_mock/faults",
            get(admin_faults)
                .post(admin_set_faults)
                .delete(admin_clear_faults),
        )
        .route("/_mock/health", get(|| async { "ok" }))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(shared)
}

async fn not_found(State(s): AppState) -> Response {
    Reply::api_error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such endpoint")
        .finish(&s.stats, Endpoint::Other)
}

async fn method_not_allowed(State(s): AppState) -> Response {
    Reply::api_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        "method not allowed on this endpoint",
    )
    .finish(&s.stats, Endpoint::Other)
}
