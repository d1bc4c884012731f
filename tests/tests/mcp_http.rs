//! Streamable HTTP transport: bearer token, Host/Origin checks, the body limit, and a real rmcp
//! HTTP client talking to the server.

use std::net::SocketAddr;

use rmcp::ServiceExt as _;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use veo_mcp::transport::{HttpOptions, serve_http_on};
use veo_tests::{Recorder, config, post, rpc_reply};

const TOKEN: &str = "test-token-123";

async fn start(options: HttpOptions) -> (SocketAddr, CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = veo_tests::server(config("http://127.0.0.1:9", Some("k"))).await;
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
    assert_eq!(tools.len(), 3);
    client.cancel().await.unwrap();
    shutdown.cancel();
}

/// Starts veo-mcp over HTTP in front of `mock`.
async fn start_in_front_of(mock: &veo_mock::MockServer) -> (SocketAddr, CancellationToken) {
    veo_tests::serve_http(veo_tests::server(config(mock.base_url(), Some(mock.api_key()))).await)
        .await
}

#[tokio::test]
async fn an_rmcp_http_client_generates_a_video_from_two_20_mb_frames() {
    use base64::Engine as _;
    let mock = veo_mock::MockServer::start(veo_mock::MockConfig::default().with_timing(
        std::time::Duration::from_millis(200),
        std::time::Duration::from_millis(1500),
    ))
    .await
    .unwrap();
    let (addr, shutdown) = start_in_front_of(&mock).await;
    let recorder = Recorder::default();
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("http://{addr}/mcp")),
    );
    let client = recorder.clone().serve(transport).await.unwrap();

    // Two frames of about 20 MB each (stored, uncompressed PNG), about 53 MB of JSON as Base64.
    let first = veo_core::sample::gradient_png(2580, 2580, [255, 0, 0], [0, 0, 255]);
    let last = veo_core::sample::gradient_png(2580, 2580, [0, 255, 0], [255, 255, 0]);
    assert!(first.len() > 19_000_000 && first.len() as u64 <= veo_core::image::MAX_IMAGE_BYTES);
    let b64 = base64::engine::general_purpose::STANDARD;
    let submitted = veo_tests::call(
        &client,
        "generate_transition_video",
        json!({
            "image": b64.encode(&first),
            "last_image": b64.encode(&last),
            "prompt": "red turns to green",
            "aspect_ratio": "16:9",
        }),
    )
    .await;
    drop((first, last));
    assert_eq!(
        submitted.is_error,
        Some(false),
        "{}",
        veo_tests::text(&submitted)
    );
    let summary = submitted.structured_content.clone().unwrap();
    assert_eq!(summary["frames"][0]["width"], 2580);
    assert!(
        summary["warnings"][0]
            .as_str()
            .unwrap_or("")
            .contains("aspect"),
        "square frames for a 16:9 video are flagged: {summary}"
    );
    let stats = mock.stats();
    assert_eq!(stats.tasks_created, 1, "the mock accepted the 53 MB body");

    let report = veo_tests::call(
        &client,
        "get_task_result",
        json!({"task_id": summary["task_id"], "wait_seconds": 15}),
    )
    .await;
    let report = report.structured_content.unwrap();
    assert_eq!(report["status"], "succeeded", "{report}");
    assert_eq!(report["videos"].as_array().unwrap().len(), 1);
    assert!(
        !recorder.progress.lock().unwrap().is_empty(),
        "progress notifications arrive over HTTP too"
    );
    client.cancel().await.unwrap();
    shutdown.cancel();
}

#[tokio::test]
async fn session_clients_and_stateless_2026_clients_are_both_served() {
    let mock = veo_mock::MockServer::start(veo_mock::MockConfig::fast())
        .await
        .unwrap();
    let (addr, shutdown) = start_in_front_of(&mock).await;

    // 2025-06-18, as most hosts speak today: initialize, a session id, then calls in the session.
    let init = post(addr, initialize().to_string(), &[]).await;
    assert_eq!(init.status(), 200);
    let session = init
        .headers()
        .get("mcp-session-id")
        .expect("a session id")
        .to_str()
        .unwrap()
        .to_string();
    let reply = rpc_reply(init).await;
    assert_eq!(reply["result"]["protocolVersion"], "2025-06-18");
    let headers = [
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-06-18"),
    ];
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert!(
        post(addr, initialized.to_string(), &headers)
            .await
            .status()
            .is_success()
    );
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let reply = rpc_reply(post(addr, list.to_string(), &headers).await).await;
    assert_eq!(reply["result"]["tools"].as_array().unwrap().len(), 3);
    let look = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
        "name": "get_task_result", "arguments": {"task_id": "nope", "wait_seconds": 0}}});
    let reply = rpc_reply(post(addr, look.to_string(), &headers).await).await;
    assert_eq!(reply["result"]["isError"], true, "{reply}");

    // 2026-07-28: no handshake and no session; each request carries its protocol metadata.
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
    });
    let list =
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": meta}});
    let response = post(
        addr,
        list.to_string(),
        &[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/list"),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("mcp-session-id").is_none());
    let reply = rpc_reply(response).await;
    assert_eq!(
        reply["result"]["tools"].as_array().map(Vec::len),
        Some(3),
        "{reply}"
    );
    shutdown.cancel();
}

#[tokio::test]
async fn oauth_probes_find_nothing_and_any_case_of_bearer_works() {
    let (addr, shutdown) = start(HttpOptions {
        auth_token: Some(TOKEN.into()),
        ..HttpOptions::default()
    })
    .await;
    let http = reqwest::Client::new();
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/oauth-protected-resource/mcp",
        "/register",
    ] {
        let response = http
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
    let bearer = format!("bearer {TOKEN}");
    let response = post(
        addr,
        initialize().to_string(),
        &[("authorization", bearer.as_str())],
    )
    .await;
    assert_eq!(response.status(), 200);
    shutdown.cancel();
}

#[tokio::test]
async fn a_declared_body_over_the_limit_is_refused_at_once() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let (addr, shutdown) = start(HttpOptions::default()).await;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // Declares 1 GiB, sends 16 bytes, and waits.
    stream
        .write_all(
            b"POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\ncontent-length: 1073741824\r\n\r\n{\"jsonrpc\":\"2.0\"",
        )
        .await
        .unwrap();
    let mut head = vec![0u8; 64];
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut head))
        .await
        .expect("an answer without waiting for the body")
        .unwrap();
    let head = String::from_utf8_lossy(&head[..read]);
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    shutdown.cancel();
}

#[tokio::test]
async fn a_body_that_is_not_json_gets_a_json_rpc_parse_error() {
    let (addr, shutdown) = start(HttpOptions::default()).await;
    let response = post(
        addr,
        r#"{"jsonrpc": "2.0", "id": 1, "method": "#.into(),
        &[],
    )
    .await;
    assert_eq!(response.status(), 400);
    let reply: Value = response.json().await.unwrap();
    assert_eq!(reply["error"]["code"], -32700, "{reply}");
    assert_eq!(reply["id"], Value::Null);
    shutdown.cancel();
}

#[tokio::test]
async fn only_event_streams_are_resumed_after_a_last_event_id() {
    let (addr, shutdown) = start(HttpOptions::default()).await;
    // A plain JSON answer to a request that names a last event keeps its length: it is not
    // an event stream, so nothing in it is skipped or re-chunked.
    let response = post(addr, "not json".into(), &[("last-event-id", "0")]).await;
    assert_eq!(response.status(), 400);
    assert!(
        response.headers().contains_key("content-length"),
        "{:?}",
        response.headers()
    );
    let reply: Value = response.json().await.unwrap();
    assert_eq!(reply["error"]["code"], -32700, "{reply}");
    shutdown.cancel();
}

#[tokio::test]
async fn clients_that_stall_are_cut_off() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let (addr, shutdown) = start(HttpOptions {
        header_timeout: Some(std::time::Duration::from_millis(500)),
        body_idle_timeout: Some(std::time::Duration::from_millis(500)),
        ..HttpOptions::default()
    })
    .await;
    let answer = |mut stream: tokio::net::TcpStream| async move {
        let mut reply = Vec::new();
        tokio::time::timeout(
            std::time::Duration::from_secs(5),
            stream.read_to_end(&mut reply),
        )
        .await
        .expect("the server does not wait forever")
        .ok();
        String::from_utf8_lossy(&reply).into_owned()
    };
    // A connection that says nothing at all.
    let silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    let reply = answer(silent).await;
    assert!(!reply.starts_with("HTTP/1.1 200"), "{reply}");
    // Headers that never end; many of them at once (a slow-header attack).
    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\n")
            .await
            .unwrap();
        slow.push(stream);
    }
    for stream in slow {
        let reply = answer(stream).await;
        assert!(!reply.starts_with("HTTP/1.1 200"), "{reply}");
    }
    // A body that stops halfway.
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\ncontent-length: 100\r\n\r\n{\"jsonrpc\":")
        .await
        .unwrap();
    let reply = answer(stream).await;
    assert!(!reply.starts_with("HTTP/1.1 200"), "{reply}");
    // The server still serves everyone else.
    let ok = post(addr, initialize().to_string(), &[]).await;
    assert_eq!(ok.status(), 200);
    shutdown.cancel();
}

/// The SSE events of `response` that arrive within `within`, as (id, data) pairs.
async fn sse_events(
    response: reqwest::Response,
    within: std::time::Duration,
    most: usize,
) -> Vec<(String, String)> {
    let mut events = Vec::new();
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();
    let deadline = tokio::time::Instant::now() + within;
    while events.len() < most {
        let Ok(Some(Ok(chunk))) =
            tokio::time::timeout_at(deadline, futures_util::StreamExt::next(&mut stream)).await
        else {
            break;
        };
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            let id = event
                .lines()
                .find_map(|l| l.strip_prefix("id:"))
                .map(|s| s.trim().to_string());
            let data = event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .collect::<Vec<_>>()
                .join("");
            if let Some(id) = id {
                events.push((id, data));
            }
        }
    }
    events
}

#[tokio::test]
async fn a_resumed_stream_does_not_repeat_the_last_event_seen() {
    let mock = veo_mock::MockServer::start(veo_mock::MockConfig::default().with_timing(
        std::time::Duration::from_millis(100),
        std::time::Duration::from_secs(20),
    ))
    .await
    .unwrap();
    let (addr, shutdown) = start_in_front_of(&mock).await;
    let init = post(addr, initialize().to_string(), &[]).await;
    let session = init.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    let _ = rpc_reply(init).await;
    let headers = [
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-06-18"),
    ];
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    post(addr, initialized.to_string(), &headers).await;
    let generate = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "generate_transition_video", "arguments": veo_tests::request("resume me")}});
    let submitted = rpc_reply(post(addr, generate.to_string(), &headers).await).await;
    let task_id = submitted["result"]["structuredContent"]["task_id"].clone();

    // A waiting call with progress: take its first events, then drop the connection.
    let wait = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
        "name": "get_task_result", "arguments": {"task_id": task_id, "wait_seconds": 15},
        "_meta": {"progressToken": "p"}}});
    let first = post(addr, wait.to_string(), &headers).await;
    let seen = sse_events(first, std::time::Duration::from_secs(8), 2).await;
    assert!(!seen.is_empty(), "events before the drop");
    let (last_id, _) = seen.last().unwrap().clone();

    // Resume after the last event seen: it must not come again.
    let resumed = reqwest::Client::new()
        .get(format!("http://{addr}/mcp"))
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-06-18")
        .header("last-event-id", &last_id)
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.status(), 200);
    let again = sse_events(resumed, std::time::Duration::from_secs(5), 2).await;
    assert!(
        again.iter().all(|(id, _)| *id != last_id),
        "{last_id} was sent again: {again:?}"
    );
    assert!(!again.is_empty(), "the stream goes on after the resume");
    shutdown.cancel();
}
