//! Transports: stdio, and streamable HTTP at `/mcp` with Host/Origin checks, an optional bearer
//! token and a body limit large enough for two 20 MB frames in Base64; health checks for a load
//! balancer at `/livez` and `/readyz`; saved videos by signed link at `/videos/…`
//! ([`crate::http_videos`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rmcp::ServiceExt as _;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use subtle::ConstantTimeEq as _;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::mcp::VeoServer;

mod idle_body;

/// Largest HTTP request body accepted: two 20 MB frames as Base64 (~54 MB) plus the rest.
pub const MAX_HTTP_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Error type of the transport entry points.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Serves MCP over stdin/stdout until the client disconnects.
pub async fn serve_stdio(server: VeoServer) -> Result<(), BoxError> {
    let running = server.serve(rmcp::transport::stdio_pipes()).await?;
    running.waiting().await?;
    Ok(())
}

/// How to serve over HTTP.
#[derive(Clone, Debug, Default)]
pub struct HttpOptions {
    /// Bearer token clients must present; `None` accepts every client (loopback only).
    pub auth_token: Option<String>,
    /// Host header values accepted besides the loopback names.
    pub allowed_hosts: Vec<String>,
    /// Origin values accepted besides loopback origins.
    pub allowed_origins: Vec<String>,
    /// Longest a client may take to send a request's headers (`None`: 10 s).
    pub header_timeout: Option<Duration>,
    /// Longest a request body may go without a byte arriving (`None`: 30 s).
    pub body_idle_timeout: Option<Duration>,
}

/// Default of [`HttpOptions::header_timeout`].
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default of [`HttpOptions::body_idle_timeout`].
const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Most client connections open at once.
const MAX_CONNECTIONS: usize = 1024;
/// How long open connections get to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Checks the options against the address: a non-loopback address needs a token.
pub fn check_http_options(addr: SocketAddr, options: &HttpOptions) -> Result<(), String> {
    if !addr.ip().is_loopback()
        && options
            .auth_token
            .as_deref()
            .is_none_or(|t| t.trim().is_empty())
    {
        return Err(format!(
            "refusing to serve on {addr} without a bearer token: set VEO_AUTH_TOKEN (or --auth-token), or bind a loopback address such as 127.0.0.1"
        ));
    }
    Ok(())
}

/// The axum router serving MCP at `/mcp` and the health checks (see [`health_routes`]);
/// `shutdown` ends open sessions and streams.
pub fn http_router(
    server: VeoServer,
    options: &HttpOptions,
    shutdown: CancellationToken,
) -> Router {
    let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1", "[::1]"]
        .map(String::from)
        .to_vec();
    hosts.extend(options.allowed_hosts.iter().cloned());
    let mut origins: Vec<String> = [
        "http://localhost:*",
        "http://127.0.0.1:*",
        "http://[::1]:*",
        "https://localhost:*",
        "https://127.0.0.1:*",
    ]
    .map(String::from)
    .to_vec();
    origins.extend(options.allowed_origins.iter().cloned());
    // A stateless (2026-07-28) call whose first message is its result is answered as one
    // `application/json` body; one that sends progress or asks the client first still gets an
    // event stream. Sessions of older versions keep their streams either way.
    let config = StreamableHttpServerConfig::default()
        .with_json_response(true)
        .with_allowed_hosts(hosts)
        .with_allowed_origins(origins)
        .with_max_request_body_bytes(MAX_HTTP_BODY_BYTES)
        .with_cancellation_token(shutdown.clone());
    let health = health_routes(server.app().clone(), shutdown);
    let videos = crate::http_videos::video_routes(server.app().clone());
    let endpoint = Arc::new(McpEndpoint {
        service: StreamableHttpService::new(
            move || Ok(server.clone()),
            Arc::new(LocalSessionManager::default()),
            config,
        ),
        token: options.auth_token.as_deref().map(|t| Arc::from(t.trim())),
        body_idle: options.body_idle_timeout.unwrap_or(BODY_IDLE_TIMEOUT),
    });
    let mcp =
        axum::routing::any(move |request: Request| async move { endpoint.serve(request).await });
    // Any other path is answered 404, so an OAuth-aware host probing `/.well-known/oauth-*`
    // learns there is no OAuth here instead of trying to register. A load balancer checks
    // health without the token, and a video link's signature is its authorization.
    Router::new()
        .nest_service("/mcp", mcp)
        .merge(health)
        .merge(videos)
}

/// `/mcp`: the SDK's streamable HTTP service behind the checks of this server, in one
/// handler rather than a stack of middleware layers (each of which would clone the service
/// below it and box a future for every request).
struct McpEndpoint {
    service: StreamableHttpService<VeoServer, LocalSessionManager>,
    /// Bearer token clients must present, when one is set.
    token: Option<Arc<str>>,
    /// Longest a request body may go without a byte arriving.
    body_idle: Duration,
}

impl McpEndpoint {
    async fn serve(&self, request: Request) -> Response {
        if let Some(refused) = self.refuse(&request) {
            return refused;
        }
        let last_event_id = last_event_id(&request);
        let (parts, body) = request.into_parts();
        let body = axum::body::Body::new(idle_body::IdleTimeoutBody::new(body, self.body_idle));
        let response = self
            .service
            .handle(Request::from_parts(parts, body))
            .await
            .into_response();
        let response = parse_errors_as_json_rpc(response).await;
        match last_event_id {
            Some(id) if is_event_stream(&response) => resume_after_event(response, id),
            _ => response,
        }
    }

    /// The answer to a request refused before the SDK sees it: 401 without the bearer token
    /// (when one is set; the scheme is case-insensitive, as HTTP auth schemes are), 413 at once
    /// for a body declared larger than the limit (rather than reading it until the limit is
    /// reached, or waiting for bytes that never come).
    fn refuse(&self, request: &Request) -> Option<Response> {
        if let Some(expected) = &self.token {
            let presented = request
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().split_once(' '))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, token)| token.trim());
            let matches =
                presented.is_some_and(|p| bool::from(p.as_bytes().ct_eq(expected.as_bytes())));
            if !matches {
                return Some(
                    (
                        StatusCode::UNAUTHORIZED,
                        [(header::WWW_AUTHENTICATE, "Bearer")],
                        "missing or wrong bearer token",
                    )
                        .into_response(),
                );
            }
        }
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|len| len > MAX_HTTP_BODY_BYTES as u64) {
            return Some(
                (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the request body may be at most {MAX_HTTP_BODY_BYTES} bytes"),
                )
                    .into_response(),
            );
        }
        None
    }
}

/// Longest a readiness check waits for the journal.
const READY_TIMEOUT: Duration = Duration::from_secs(5);

/// Health checks for a load balancer, answered without the bearer token and telling nothing
/// secret: `GET /livez` is 200 while the process serves; `GET /readyz` is 200 when the journal
/// answers (within 5 s), and 503 when it does not (the reason goes to the log) or the server is
/// shutting down, so that no new calls are sent its way.
pub fn health_routes(app: App, shutdown: CancellationToken) -> Router {
    let ready = move || {
        let (app, shutdown) = (app.clone(), shutdown.clone());
        async move {
            if shutdown.is_cancelled() {
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "shutting down\n".to_string(),
                );
            }
            match tokio::time::timeout(READY_TIMEOUT, app.ready()).await {
                Ok(Ok(())) => (StatusCode::OK, "ready\n".to_string()),
                // The reason goes to the log only: this answer needs no token, and the journal's
                // errors name its host and user.
                Ok(Err(e)) => {
                    tracing::warn!("not ready: {e}");
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "not ready: the task journal cannot be used (the server's log says why)\n"
                            .to_string(),
                    )
                }
                Err(_) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the journal did not answer within 5 s\n".to_string(),
                ),
            }
        }
    };
    Router::new()
        .route("/livez", axum::routing::get(|| async { "live\n" }))
        .route("/readyz", axum::routing::get(ready))
}

/// Answers a body that is not JSON as JSON-RPC says (a parse error, code -32700) rather than
/// with the SDK's "415 Unsupported Media Type", which clients take for a content-type problem.
async fn parse_errors_as_json_rpc(response: Response) -> Response {
    if response.status() != StatusCode::UNSUPPORTED_MEDIA_TYPE {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let detail = String::from_utf8_lossy(&text);
    let Some(why) = detail.strip_prefix("fail to deserialize request body") else {
        return Response::from_parts(parts, axum::body::Body::from(text));
    };
    let error = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": { "code": -32700, "message": format!("Parse error: the body is not valid JSON ({})", why.trim()) },
    });
    (StatusCode::BAD_REQUEST, axum::Json(error)).into_response()
}

/// The `Last-Event-ID` a client resumes an event stream with, if any.
fn last_event_id(request: &Request) -> Option<String> {
    request
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Whether `response` is an event stream (only those are resumed).
fn is_event_stream(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("text/event-stream"))
}

/// Works around rmcp 3.11 replaying one event too many when a client resumes an event stream
/// with `Last-Event-ID` (its `CachedTx::sync` starts at the named event instead of after it): a
/// resumed stream drops the event the client says it already has, so a progress notification
/// or a result does not arrive twice.
fn resume_after_event(response: Response, last: String) -> Response {
    let (parts, body) = response.into_parts();
    let events = SkipEvent::new(futures_util::StreamExt::fuse(body.into_data_stream()), last);
    Response::from_parts(parts, axum::body::Body::from_stream(events.into_stream()))
}

/// An SSE byte stream with the event whose id is `id` left out (once).
struct SkipEvent<S> {
    inner: S,
    id: Option<String>,
    pending: Vec<u8>,
}

impl<S> SkipEvent<S>
where
    S: futures_util::Stream<Item = Result<axum::body::Bytes, axum::Error>> + Unpin + Send + 'static,
{
    fn new(inner: S, id: String) -> Self {
        SkipEvent {
            inner,
            id: Some(id),
            pending: Vec::new(),
        }
    }

    fn into_stream(
        self,
    ) -> impl futures_util::Stream<Item = Result<axum::body::Bytes, axum::Error>> + Send {
        futures_util::stream::unfold(self, |mut this| async move {
            use futures_util::StreamExt as _;
            loop {
                let Some(id) = this.id.clone() else {
                    // Done skipping: pass everything on as it comes.
                    if !this.pending.is_empty() {
                        let rest = std::mem::take(&mut this.pending);
                        return Some((Ok(axum::body::Bytes::from(rest)), this));
                    }
                    let next = this.inner.next().await?;
                    return Some((next, this));
                };
                // Whole events are separated by a blank line.
                if let Some(end) = find_event_end(&this.pending) {
                    let event: Vec<u8> = this.pending.drain(..end).collect();
                    if event_id(&event).as_deref() == Some(id.as_str()) {
                        this.id = None;
                        continue;
                    }
                    return Some((Ok(axum::body::Bytes::from(event)), this));
                }
                match this.inner.next().await {
                    Some(Ok(chunk)) => this.pending.extend_from_slice(&chunk),
                    Some(Err(e)) => return Some((Err(e), this)),
                    None => {
                        this.id = None;
                    }
                }
            }
        })
    }
}

/// The length of the first whole event in `buffer`, its blank line included.
fn find_event_end(buffer: &[u8]) -> Option<usize> {
    let lf = buffer.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    let crlf = buffer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4);
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The `id:` field of one SSE event.
fn event_id(event: &[u8]) -> Option<String> {
    String::from_utf8_lossy(event).lines().find_map(|line| {
        line.strip_prefix("id:")
            .map(|id| id.strip_prefix(' ').unwrap_or(id).trim_end().to_string())
    })
}

/// Serves MCP over HTTP on a bound listener until `shutdown` fires (then gives open
/// connections a moment to finish). Every wait on a client is bounded: its request headers must
/// arrive within the header timeout, and its body may not pause longer than the body timeout, so
/// half-open connections cannot pile up.
pub async fn serve_http_on(
    listener: tokio::net::TcpListener,
    server: VeoServer,
    options: &HttpOptions,
    shutdown: CancellationToken,
) -> Result<(), BoxError> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;

    let router = http_router(server, options, shutdown.clone());
    let header_timeout = options.header_timeout.unwrap_or(HEADER_TIMEOUT);
    // HTTP/1.1 only (MCP clients speak it): its header timeout then covers every request,
    // where a connection still deciding between HTTP/1 and HTTP/2 would have none; and no
    // HTTP/2 server code in the binary.
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let connections = hyper_util::server::graceful::GracefulShutdown::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        // At most MAX_CONNECTIONS at once; stalled ones leave within the timeouts.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            () = shutdown.cancelled() => break,
        };
        let Ok(slot) = slot else { break };
        let (tcp, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::warn!("cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        // Replies (SSE events especially) go out in several small writes: without TCP_NODELAY,
        // Nagle's algorithm meets the client's delayed ACK and a reply can stall for ~40 ms.
        let _ = tcp.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let builder = builder.clone();
        let watcher = connections.watcher();
        tokio::spawn(async move {
            let _slot = slot;
            // A client that connects and says nothing is dropped like one whose headers stall.
            let mut first = [0u8; 1];
            match tokio::time::timeout(header_timeout, tcp.peek(&mut first)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => return,
            }
            let connection = builder.serve_connection(TokioIo::new(tcp), service);
            if let Err(e) = watcher.watch(connection).await {
                tracing::debug!("connection ended: {e}");
            }
        });
    }
    if tokio::time::timeout(SHUTDOWN_GRACE, connections.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after {SHUTDOWN_GRACE:?}; leaving them");
    }
    Ok(())
}

/// Resolves when the process receives SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_addresses_need_a_token() {
        let public: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert!(
            check_http_options(public, &HttpOptions::default())
                .unwrap_err()
                .contains("VEO_AUTH_TOKEN")
        );
        assert!(check_http_options(local, &HttpOptions::default()).is_ok());
        let with_token = HttpOptions {
            auth_token: Some("t".into()),
            ..HttpOptions::default()
        };
        assert!(check_http_options(public, &with_token).is_ok());
    }
}
