//! Streamable HTTP transport: bearer token, Host/Origin checks, the body limit, and a real rmcp
//! HTTP client talking to the server.

use std::net::SocketAddr;

use rmcp::ServiceExt as _;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use veo_mcp::VeoServer;
use veo_mcp::transport::{HttpOptions, serve_http_on};
use veo_tests::{Recorder, config};

const TOKEN: &str = "test-token-123";

async fn start(options: HttpOptions) -> (SocketAddr, CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = VeoServer::new(config("http://127.0.0.1:9", Some("k")));
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        serve_http_on(listener, server, &options, stop)
            .await
            .unwrap()
    });
    (addr, shutdown)
}

fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
}

async fn post(addr: SocketAddr, body: String, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(format!("http://{addr}/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn the_bearer_token_is_required_when_set() {
    let (addr, shutdown) = start(HttpOptions {
        auth_token: Some(TOKEN.into()),
        ..HttpOptions::default()
    })
    .await;
    assert_eq!(
        post(addr, initialize().to_string(), &[]).await.status(),
        401
    );
    assert_eq!(
        post(
            addr,
            initialize().to_string(),
            &[("authorization", "Bearer wrong")]
        )
        .await
        .status(),
        401
    );
    let ok = post(
        addr,
        initialize().to_string(),
        &[("authorization", &format!("Bearer {TOKEN}"))],
    )
    .await;
    assert_eq!(ok.status(), 200);
    shutdown.cancel();
}

#[tokio::test]
async fn foreign_hosts_and_origins_are_refused() {
    let (addr, shutdown) = start(HttpOptions::default()).await;
    let rebinding = post(
        addr,
        initialize().to_string(),
        &[("host", "evil.example.com")],
    )
    .await;
    assert!(
        rebinding.status().is_client_error(),
        "{}",
        rebinding.status()
    );
    let origin = post(
        addr,
        initialize().to_string(),
        &[("origin", "https://evil.example.com")],
    )
    .await;
    assert!(origin.status().is_client_error(), "{}", origin.status());
    let local = post(
        addr,
        initialize().to_string(),
        &[("origin", &format!("http://localhost:{}", addr.port()))],
    )
    .await;
    assert_eq!(local.status(), 200);
    shutdown.cancel();
}

#[tokio::test]
async fn requests_with_two_large_frames_fit_the_body_limit() {
    let (addr, shutdown) = start(HttpOptions::default()).await;
    // ~50 MB of JSON: well over rmcp's 4 MiB default, within the server's limit. It is not a
    // valid MCP exchange (no session), so the answer is a protocol refusal, not 413.
    let big = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"},
        "padding": "A".repeat(50 * 1024 * 1024)}});
    let response = post(addr, big.to_string(), &[]).await;
    assert_ne!(
        response.status(),
        413,
        "a 50 MB request must not be refused for its size"
    );
    let too_big = "A".repeat(80 * 1024 * 1024);
    assert_eq!(post(addr, too_big, &[]).await.status(), 413);
    shutdown.cancel();
}

#[tokio::test]
async fn an_rmcp_http_client_lists_the_tools_with_a_token() {
    let (addr, shutdown) = start(HttpOptions {
        auth_token: Some(TOKEN.into()),
        ..HttpOptions::default()
    })
    .await;
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("http://{addr}/mcp"))
            .auth_header(TOKEN),
    );
    let client = Recorder::default().serve(transport).await.unwrap();
    let tools = client.peer().list_all_tools().await.unwrap();
    assert_eq!(tools.len(), 2);
    client.cancel().await.unwrap();
    shutdown.cancel();
}
