//! HTTP handlers: submit, task-result, file download, admin, and their shared state.
//!
//! Each platform request goes: faults (before) → auth → work → faults (after) → counters.
//! "Before" faults (500, 502, 429, reset, delay) happen without doing anything; "after" faults
//! (malformed body, created-then-500, created-then-reset) replace a successful reply after the
//! work is done, so a submit creates its task and the client cannot tell.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::MockConfig;
use crate::conn::ConnInfo;
use crate::faults::{Fault, FaultRule, Faults, Scope};
use crate::files::{self, LinkError, SAMPLE_MP4, Signer};
use crate::model::Model;
use crate::stats::{Endpoint, Outcome, Stats};
use crate::tasks::{Clock, Ending, Phase, Store, Task, TaskDefaults, TaskSummary};
use crate::validate::{self, Limits};

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

async fn submit(
    State(s): AppState,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    Path(endpoint): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(model) = Model::from_endpoint_name(&endpoint) else {
        return not_found(State(s)).await;
    };
    let ep = Endpoint::Submit(model);
    let reply = submit_inner(&s, &conn, model, &headers, body).await;
    reply.finish(&s.stats, ep)
}

async fn submit_inner(
    s: &Shared,
    conn: &ConnInfo,
    model: Model,
    headers: &HeaderMap,
    body: Body,
) -> Reply {
    // Read the body first so an error reply is not mistaken for a broken upload.
    let body = match read_body(body, headers, s.config.max_body_bytes).await {
        Ok(b) => b,
        Err(reply) => return *reply,
    };
    let post = match before(s.pick_fault(Scope::Submit), conn, Flavor::Api).await {
        Ok(post) => post,
        Err(reply) => return *reply,
    };
    if let Err(reply) = s.auth(headers) {
        return *reply;
    }
    let submission = match validate::validate(model, &body, s.limits) {
        Ok(sub) => sub,
        Err(invalid) => {
            return Reply::api_error_with(
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST_BODY",
                &invalid.message,
                json!({ "fields": invalid.fields }),
            );
        }
    };
    drop(body);
    let task = s
        .store
        .create(model, &submission, s.defaults, s.clock.now_ms());
    s.stats.task_created();
    let out = json!({ "task_id": &*task.id }).to_string().into_bytes();
    let reply = if post == Some(Fault::MalformedJson) {
        Reply::json(cut(&out))
    } else {
        Reply::json(out)
    };
    after(post, conn, Flavor::Api, reply)
}

async fn read_body(body: Body, headers: &HeaderMap, max: usize) -> Result<Vec<u8>, Box<Reply>> {
    let too_large = || {
        Box::new(Reply::api_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "REQUEST_BODY_TOO_LARGE",
            &format!("request body exceeds {max} bytes"),
        ))
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(too_large());
    }
    let mut buf = Vec::with_capacity(declared.unwrap_or(0));
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            Box::new(Reply::api_error(
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST_BODY",
                &format!("could not read the request body: {e}"),
            ))
        })?;
        if buf.len() + chunk.len() > max {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

async fn task_result(
    State(s): AppState,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let reply = task_result_inner(&s, &conn, query.as_deref(), &headers).await;
    reply.finish(&s.stats, Endpoint::TaskResult)
}

async fn task_result_inner(
    s: &Shared,
    conn: &ConnInfo,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Reply {
    let post = match before(s.pick_fault(Scope::Query), conn, Flavor::Api).await {
        Ok(post) => post,
        Err(reply) => return *reply,
    };
    if let Err(reply) = s.auth(headers) {
        return *reply;
    }
    let id = query
        .and_then(|q| files::query_param(q, "task_id"))
        .map(percent_decode)
        .unwrap_or_default();
    if id.is_empty() {
        return Reply::api_error_with(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST_PARAMS",
            "`task_id` is required",
            json!({ "fields": ["task_id"] }),
        );
    }
    let Some(task) = s.store.get(&id) else {
        return Reply::api_error(
            StatusCode::NOT_FOUND,
            "TASK_NOT_FOUND",
            &format!("task `{}` not found", shorten(&id)),
        );
    };
    let out = render_result(s, &task, s.clock.now_ms());
    let reply = if post == Some(Fault::MalformedJson) {
        Reply::json(cut(&out))
    } else {
        Reply::json(out)
    };
    after(post, conn, Flavor::Api, reply)
}

fn shorten(s: &str) -> &str {
    match s.char_indices().nth(80) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn percent_decode(raw: &str) -> Cow<'_, str> {
    if !raw.contains(['%', '+']) {
        return Cow::Borrowed(raw);
    }
    let hex = |c: Option<&u8>| c.and_then(|c| (*c as char).to_digit(16));
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
                (Some(h), Some(l)) => {
                    out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

#[derive(Serialize)]
struct ResultBody<'a> {
    extra: Extra<'a>,
    task: TaskView<'a>,
    images: &'static [()],
    videos: Vec<VideoView>,
    audios: &'static [()],
}

#[derive(Serialize)]
struct Extra<'a> {
    seed: &'a str,
    debug_info: DebugInfo<'a>,
}

#[derive(Serialize)]
struct DebugInfo<'a> {
    request_info: &'a str,
    submit_time_ms: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    execute_time_ms: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    complete_time_ms: Option<String>,
}

#[derive(Serialize)]
struct TaskView<'a> {
    task_id: &'a str,
    task_type: &'static str,
    status: &'static str,
    reason: &'a str,
    eta: u64,
    progress_percent: u8,
}

#[derive(Serialize)]
struct VideoView {
    video_url: String,
    video_url_ttl: String,
    video_type: &'static str,
}

/// The task-result body of `task` at `now_ms`.
fn render_result(s: &Shared, task: &Task, now_ms: u64) -> Vec<u8> {
    let phase = task.phase_at(now_ms);
    let status = phase.status_name();
    let (eta, progress) = match phase {
        Phase::Queued { eta_s } => (eta_s, 0),
        Phase::Processing { progress, eta_s } => (eta_s, progress),
        Phase::Succeed => (0, 100),
        Phase::Failed => (0, 0),
    };
    let reason = match (&task.ending, phase) {
        (Ending::Fail(r), Phase::Failed) => r.as_ref(),
        _ => "",
    };
    let videos = if phase == Phase::Succeed {
        let signed_at = if s.config.sign_links_at_completion {
            task.complete_ms()
        } else {
            now_ms
        };
        let expires = signed_at.saturating_add(task.ttl_ms);
        let ttl = task.ttl_ms.div_ceil(1000).to_string();
        (0..u32::from(task.sample_count))
            .map(|n| VideoView {
                video_url: s.signer.link(&s.base_url, &task.id, n, expires),
                video_url_ttl: ttl.clone(),
                video_type: "mp4",
            })
            .collect()
    } else {
        Vec::new()
    };
    let started = !matches!(phase, Phase::Queued { .. });
    let done = matches!(phase, Phase::Succeed | Phase::Failed);
    let body = ResultBody {
        extra: Extra {
            seed: &task.seed,
            debug_info: DebugInfo {
                request_info: &task.request_info,
                submit_time_ms: task.submit_ms.to_string(),
                execute_time_ms: started.then(|| task.execute_ms().to_string()),
                complete_time_ms: done.then(|| task.complete_ms().to_string()),
            },
        },
        task: TaskView {
            task_id: &task.id,
            task_type: task.model.endpoint_name(),
            status,
            reason,
            eta,
            progress_percent: progress,
        },
        images: &[],
        videos,
        audios: &[],
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

async fn download(
    State(s): AppState,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    Path((task_id, file)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let reply = download_inner(&s, &conn, &task_id, &file, query.as_deref(), &headers).await;
    if reply.response.status().is_success() {
        s.stats.download();
    }
    reply.finish(&s.stats, Endpoint::Download)
}

async fn download_inner(
    s: &Shared,
    conn: &ConnInfo,
    task_id: &str,
    file: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Reply {
    let post = match before(s.pick_fault(Scope::Download), conn, Flavor::Storage).await {
        Ok(post) => post,
        Err(reply) => return *reply,
    };
    let no_such_key = || {
        Reply::xml(
            StatusCode::NOT_FOUND,
            files::xml_error("NoSuchKey", "The specified key does not exist.", ""),
        )
    };
    let Some(index) = file
        .strip_suffix(".mp4")
        .and_then(|n| n.parse::<u32>().ok())
    else {
        return no_such_key();
    };
    let now = s.clock.now_ms();
    match s.signer.verify(task_id, index, query, now) {
        Ok(()) => {}
        Err(LinkError::Malformed) => {
            return Reply::xml(
                StatusCode::FORBIDDEN,
                files::xml_error(
                    "AccessDenied",
                    "Query-string authentication requires the expires and sig parameters.",
                    "",
                ),
            );
        }
        Err(LinkError::BadSignature) => {
            return Reply::xml(
                StatusCode::FORBIDDEN,
                files::xml_error(
                    "SignatureDoesNotMatch",
                    "The request signature we calculated does not match the signature you provided.",
                    "",
                ),
            );
        }
        Err(LinkError::Expired { expires_ms }) => {
            return Reply::xml(
                StatusCode::FORBIDDEN,
                files::xml_error(
                    "AccessDenied",
                    "Request has expired",
                    &format!(
                        "Request signature expired at: {}; server time: {}",
                        files::iso8601(expires_ms),
                        files::iso8601(now)
                    ),
                ),
            );
        }
    }
    let exists = s
        .store
        .get(task_id)
        .is_some_and(|t| index < u32::from(t.sample_count) && t.phase_at(now) == Phase::Succeed);
    if !exists {
        return no_such_key();
    }

    let mut reply = if post == Some(Fault::MalformedJson) {
        Reply::new((StatusCode::OK, Body::from(cut(SAMPLE_MP4))).into_response())
    } else {
        let range = headers
            .get(header::RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| files::parse_range(v, SAMPLE_MP4.len()));
        match range {
            None => Reply::new(
                (StatusCode::OK, Body::from(Bytes::from_static(SAMPLE_MP4))).into_response(),
            ),
            Some(Err(())) => {
                let mut r = Reply::new(StatusCode::RANGE_NOT_SATISFIABLE.into_response());
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{}", SAMPLE_MP4.len())) {
                    r.response.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                r
            }
            Some(Ok((start, end))) => {
                let part = Bytes::from_static(SAMPLE_MP4).slice(start..=end);
                let mut r =
                    Reply::new((StatusCode::PARTIAL_CONTENT, Body::from(part)).into_response());
                if let Ok(v) =
                    HeaderValue::from_str(&format!("bytes {start}-{end}/{}", SAMPLE_MP4.len()))
                {
                    r.response.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                r
            }
        }
    };
    if reply.response.status().is_success() {
        let h = reply.response.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("video/mp4"));
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    }
    reply = after(post, conn, Flavor::Storage, reply);
    reply
}

async fn admin_stats(State(s): AppState) -> Response {
    axum::Json(s.stats.snapshot(s.store.len())).into_response()
}

/// Every task held, oldest first: how a test finds the task behind a submit whose reply was
/// replaced by a fault.
async fn admin_tasks(State(s): AppState) -> Response {
    axum::Json(json!({ "tasks": s.task_summaries() })).into_response()
}

async fn admin_reset(State(s): AppState) -> Response {
    s.reset();
    axum::Json(json!({ "ok": true })).into_response()
}

async fn admin_faults(State(s): AppState) -> Response {
    axum::Json(json!({ "rules": s.faults.rules() })).into_response()
}

/// Body of `POST /_mock/faults`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetFaults {
    rules: Vec<FaultRule>,
    #[serde(default)]
    mode: SetMode,
}

#[derive(Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum SetMode {
    #[default]
    Replace,
    Add,
}

async fn admin_set_faults(State(s): AppState, body: Bytes) -> Response {
    let parsed: SetFaults = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            return Reply::api_error(
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST_BODY",
                &format!(
                    "expected {{\"rules\":[{{\"scope\":\"submit\",\"kind\":\"http_500\",\"next\":1}}],\"mode\":\"replace\"|\"add\"}}: {e}"
                ),
            )
            .response;
        }
    };
    if parsed.mode == SetMode::Add {
        s.faults.add(parsed.rules);
    } else {
        s.faults.set(parsed.rules, None);
    }
    axum::Json(json!({ "rules": s.faults.rules() })).into_response()
}

async fn admin_clear_faults(State(s): AppState) -> Response {
    s.faults.set(Vec::new(), None);
    axum::Json(json!({ "rules": [] })).into_response()
}
