//! Signed links to saved videos over HTTP (`serve --http` with a public URL): a result carries
//! `link`; the link works without the bearer token, with `Range`; a tampered or expired
//! signature is 403; a path naming no saved video is 404; without a public URL results carry
//! no link.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_util::sync::CancellationToken;
use veo_mcp::links::{VideoLinks, video_path};
use veo_mcp::transport::{HttpOptions, serve_http_on};
use veo_tests::{post, rpc_reply};

const TOKEN: &str = "video-links-token";
const SECRET: &str = "a shared secret for tests";

/// veo-mcp over HTTP (with a bearer token) in front of `mock`, saving to `out`; with links
/// under its own address when `links` is set.
async fn start(
    mock: &veo_mock::MockServer,
    out: &std::path::Path,
    links: bool,
) -> (SocketAddr, Option<VideoLinks>, CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let links = links.then(|| VideoLinks::new(&format!("http://{addr}"), Some(SECRET), 7).unwrap());
    let config = veo_tests::config(mock.base_url(), Some(mock.api_key()))
        .with_output_dir(Some(out.to_path_buf()))
        .with_video_links(links.clone());
    let server = veo_tests::server(config).await;
    let options = HttpOptions {
        auth_token: Some(TOKEN.into()),
        ..HttpOptions::default()
    };
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        serve_http_on(listener, server, &options, stop)
            .await
            .unwrap()
    });
    (addr, links, shutdown)
}

/// A stateless 2026-07-28 request with the bearer token; its JSON-RPC reply.
async fn rpc(addr: SocketAddr, method: &str, mut params: Value, name: Option<&str>) -> Value {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
    });
    let request = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let bearer = format!("Bearer {TOKEN}");
    let mut headers = vec![
        ("authorization", bearer.as_str()),
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", method),
    ];
    headers.extend(name.map(|name| ("mcp-name", name)));
    rpc_reply(post(addr, request.to_string(), &headers).await).await
}

/// A tool call's structured result, checked against the tool's published output schema.
async fn call(addr: SocketAddr, tool: &str, arguments: Value) -> Value {
    let params = json!({"name": tool, "arguments": arguments});
    let reply = rpc(addr, "tools/call", params, Some(tool)).await;
    let result = reply["result"].clone();
    assert_ne!(result["isError"], true, "{reply}");
    let tools = rpc(addr, "tools/list", json!({}), None).await;
    let schema = tools["result"]["tools"]
        .as_array()
        .and_then(|tools| tools.iter().find(|t| t["name"] == tool))
        .map(|t| t["outputSchema"].clone())
        .expect("the tool's output schema");
    let structured = result["structuredContent"].clone();
    let mismatches = veo_tests::schema_mismatches(&structured, &schema);
    assert!(mismatches.is_empty(), "{mismatches:?} in {structured}");
    structured
}

/// Generates a video and waits until it is saved; the result's first video.
async fn generate_and_save(addr: SocketAddr) -> Value {
    let submitted = call(
        addr,
        "generate_transition_video",
        veo_tests::request("links"),
    )
    .await;
    let task_id = submitted["task_id"]
        .as_str()
        .expect("a task id")
        .to_string();
    for _ in 0..20 {
        let result = call(
            addr,
            "get_task_result",
            json!({"task_id": task_id, "wait_seconds": 10}),
        )
        .await;
        let video = &result["videos"][0];
        if video.get("saved_path").is_some() {
            return json!({"task_id": task_id, "video": video});
        }
    }
    panic!("the video of {task_id} was not saved");
}

async fn get(url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(url);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    request.send().await.unwrap()
}

/// The status code of a GET of `target` exactly as written (no client normalizes its `..`).
async fn raw_status(addr: SocketAddr, target: &str) -> u16 {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    tcp.read_to_end(&mut reply).await.unwrap();
    let reply = String::from_utf8_lossy(&reply);
    reply
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {reply}"))
}

#[tokio::test]
async fn saved_videos_are_served_by_signed_link_with_ranges() {
    let mock = veo_tests::mock(veo_mock::MockConfig::fast()).await;
    let out = tempfile::tempdir().unwrap();
    let (addr, links, shutdown) = start(&mock, out.path(), true).await;
    let links = links.unwrap();
    let generated = generate_and_save(addr).await;
    let task_id = generated["task_id"].as_str().unwrap();
    let video = &generated["video"];
    let link = video["link"].as_str().expect("a link");
    assert!(
        link.starts_with(&format!("http://{addr}{}?expires=", video_path(task_id, 1))),
        "{link}"
    );
    let tools = rpc(addr, "tools/list", json!({}), None).await;
    let result_tool = tools["result"]["tools"]
        .as_array()
        .and_then(|tools| tools.iter().find(|t| t["name"] == "get_task_result"))
        .expect("get_task_result is listed");
    let video_schema = &result_tool["outputSchema"]["properties"]["videos"]["items"];
    for field in ["link", "link_expires_at"] {
        assert_eq!(
            video_schema["properties"][field]["type"], "string",
            "{video_schema}"
        );
    }
    let expires_at = video["link_expires_at"].as_str().expect("when it expires");
    assert_ne!(video["expires_at"].as_str(), Some(expires_at));
    let saved = std::fs::read(video["saved_path"].as_str().unwrap()).unwrap();

    // No bearer token: the signature is the authorization.
    let whole = get(link, &[]).await;
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.headers()["content-type"], "video/mp4");
    assert_eq!(whole.bytes().await.unwrap(), saved);

    let part = get(link, &[("range", "bytes=0-99")]).await;
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-type"], "video/mp4");
    assert_eq!(part.bytes().await.unwrap(), saved[..100]);

    // A changed signature, and a link signed correctly that has expired.
    let (before_sig, sig) = link.rsplit_once("sig=").unwrap();
    let flipped = if sig.starts_with('0') { "1" } else { "0" };
    let tampered = format!("{before_sig}sig={flipped}{}", &sig[1..]);
    assert_eq!(get(&tampered, &[]).await.status(), 403);
    assert_eq!(get(before_sig, &[]).await.status(), 403);
    let long_ago = SystemTime::now() - Duration::from_secs(8 * 86_400);
    let (expired, _) = links.link(task_id, 1, long_ago);
    assert_eq!(get(&expired, &[]).await.status(), 403);
    // Another video number of the same task keeps its own signature.
    let other_number = link.replace("/1.mp4?", "/2.mp4?");
    assert_eq!(get(&other_number, &[]).await.status(), 403);

    // Correctly signed links to videos that are not saved here, sent as written (a client
    // would turn `%2E%2E` into `..` and drop it).
    let now = SystemTime::now();
    let base = format!("http://{addr}");
    for (task, n) in [("nope", 1), (task_id, 2), ("..", 1), ("../..", 1)] {
        let (url, _) = links.link(task, n, now);
        let target = url.strip_prefix(&base).unwrap();
        assert_eq!(raw_status(addr, target).await, 404, "{target}");
    }
    // Paths that are no video path at all, as sent (no client normalization).
    let query = link.split_once('?').unwrap().1;
    for target in [
        format!("/videos/../{task_id}/1.mp4?{query}"),
        format!("/videos/{task_id}/../1.mp4?{query}"),
        format!("/videos/%2e%2e/1.mp4?{query}"),
        format!("/videos/{task_id}/01.mp4?{query}"),
        "/videos/".to_string(),
    ] {
        assert_eq!(raw_status(addr, &target).await, 404, "{target}");
    }
    // The MCP endpoint still needs the token.
    assert_eq!(post(addr, "{}".into(), &[]).await.status(), 401);

    // list_tasks carries the link too.
    let listed = call(addr, "list_tasks", json!({})).await;
    let listed_link = listed["tasks"][0]["videos"][0]["link"].as_str();
    assert!(
        listed_link.is_some_and(|l| l.contains(&video_path(task_id, 1))),
        "{listed}"
    );
    shutdown.cancel();
}

#[tokio::test]
async fn without_a_public_url_results_carry_no_link() {
    let mock = veo_tests::mock(veo_mock::MockConfig::fast()).await;
    let out = tempfile::tempdir().unwrap();
    let (addr, _, shutdown) = start(&mock, out.path(), false).await;
    let generated = generate_and_save(addr).await;
    let video = &generated["video"];
    assert!(video.get("link").is_none(), "{video}");
    assert!(video.get("link_expires_at").is_none(), "{video}");
    // Links from some other server's secret are nothing here.
    let task_id = generated["task_id"].as_str().unwrap();
    let elsewhere = VideoLinks::new(&format!("http://{addr}"), Some(SECRET), 7).unwrap();
    let (url, _) = elsewhere.link(task_id, 1, SystemTime::now());
    assert_eq!(get(&url, &[]).await.status(), 404);
    shutdown.cancel();
}
