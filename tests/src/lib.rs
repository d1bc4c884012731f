//! Shared helpers for the end-to-end tests: an MCP client that records progress notifications,
//! connected to a [`VeoServer`] in-process or over streamable HTTP.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use rmcp::model::{CallToolRequestParams, CallToolResult, ProgressNotificationParam};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::{ClientHandler, RoleClient, ServiceExt as _};
use serde_json::Value;
use veo_mcp::{Config, VeoServer};

/// An MCP client handler that keeps every progress notification it receives.
#[derive(Clone, Default)]
pub struct Recorder {
    /// Progress notifications, in arrival order.
    pub progress: Arc<Mutex<Vec<ProgressNotificationParam>>>,
}

impl ClientHandler for Recorder {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.progress.lock().expect("progress lock").push(params);
    }
}

/// A connected MCP client.
pub type McpClient = RunningService<RoleClient, Recorder>;

/// Starts `server` in-process and connects a recording client to it over an in-memory pipe.
pub async fn connect_in_process(server: VeoServer) -> (McpClient, Recorder) {
    let recorder = Recorder::default();
    (connect_with(server, recorder.clone()).await, recorder)
}

/// Starts `server` in-process and connects a client with `handler` to it over an in-memory pipe.
pub async fn connect_with<H: ClientHandler>(
    server: VeoServer,
    handler: H,
) -> RunningService<RoleClient, H> {
    let (server_end, client_end) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_end).await {
            let _ = running.waiting().await;
        }
    });
    handler.serve(client_end).await.expect("client connects")
}

/// A server configuration pointing at `base_url` with `api_key` (if any) and test-friendly limits:
/// a journal in memory, no saving, a quick background watcher.
pub fn config(base_url: &str, api_key: Option<&str>) -> Config {
    let mut client = veo_core::ClientConfig::default()
        .with_base_url(base_url)
        .expect("base URL");
    client.api_key = api_key.and_then(veo_core::ApiKey::new);
    Config::default()
        .with_client(client)
        .with_max_wait(std::time::Duration::from_secs(20))
        .with_journal(veo_mcp::journal::JournalLocation::Memory)
        .with_output_dir(None)
        .with_poll_timing(veo_mcp::config::PollTiming {
            first: std::time::Duration::from_millis(300),
            min: std::time::Duration::from_millis(200),
            max: std::time::Duration::from_secs(1),
            near_end: std::time::Duration::from_millis(200),
        })
}

/// Starts a server for `config` (journal and watcher included) on the current runtime.
pub async fn server(config: Config) -> VeoServer {
    VeoServer::start(config).await.expect("server starts")
}

/// Calls a tool with JSON arguments.
pub async fn call(client: &McpClient, tool: &'static str, args: Value) -> CallToolResult {
    let Value::Object(args) = args else {
        panic!("arguments must be an object")
    };
    client
        .peer()
        .call_tool(CallToolRequestParams::new(tool).with_arguments(args))
        .await
        .expect("tools/call answered")
}

/// The text of a tool result's first content block.
pub fn text(result: &CallToolResult) -> String {
    result
        .content
        .first()
        .and_then(|c| c.as_text())
        .map(|t| t.text.clone())
        .unwrap_or_default()
}

/// A tool result's structured content (panics if it has none).
pub fn structured(result: &CallToolResult) -> &Value {
    result
        .structured_content
        .as_ref()
        .expect("structured content")
}

/// The `task_id` of a `generate_transition_video` result.
pub fn task_id(result: &CallToolResult) -> String {
    structured(result)["task_id"]
        .as_str()
        .expect("task_id")
        .to_string()
}

/// Serves `server` over streamable HTTP (default options) on a free loopback port; cancel the
/// token to stop it.
pub async fn serve_http(server: VeoServer) -> (SocketAddr, tokio_util::sync::CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        veo_mcp::transport::serve_http_on(
            listener,
            server,
            &veo_mcp::transport::HttpOptions::default(),
            stop,
        )
        .await
        .unwrap()
    });
    (addr, shutdown)
}

/// Starts veo-mock in-process on a free port.
pub async fn mock(config: veo_mock::MockConfig) -> veo_mock::MockServer {
    veo_mock::MockServer::start(config)
        .await
        .expect("mock starts")
}

/// Valid `generate_transition_video` arguments: two small 16:9 PNG frames and `prompt`.
pub fn request(prompt: &str) -> Value {
    serde_json::json!({
        "image": png_base64(64, 36),
        "last_image": png_base64(64, 36),
        "prompt": prompt,
    })
}

/// `config` with the background watcher kept quiet (its first poll an hour away), for tests
/// that count or fault the requests a tool call makes itself.
pub fn without_background_polls(mut config: Config) -> Config {
    config.watch.first = std::time::Duration::from_secs(3600);
    config
}

/// A small valid PNG as raw Base64.
pub fn png_base64(width: u32, height: u32) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(veo_core::sample::gradient_png(
        width,
        height,
        [250, 120, 0],
        [10, 10, 80],
    ))
}

/// Checks `value` against the subset of JSON Schema the tools publish (type, properties,
/// required, enum, items, minimum/maximum); returns every mismatch with its path. MCP clients
/// validate structured content against the output schema, so a `null` where the schema says
/// "string" breaks them.
pub fn schema_mismatches(value: &Value, schema: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    check_node(value, schema, "$", &mut problems);
    problems
}

fn check_node(value: &Value, schema: &Value, path: &str, problems: &mut Vec<String>) {
    if let Some(expected) = schema.get("type").and_then(Value::as_str) {
        let ok = match expected {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "boolean" => value.is_boolean(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "null" => value.is_null(),
            _ => true,
        };
        if !ok {
            problems.push(format!("{path}: expected {expected}, got {value}"));
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        problems.push(format!("{path}: {value} is not one of {allowed:?}"));
    }
    if let (Some(min), Some(n)) = (
        schema.get("minimum").and_then(Value::as_f64),
        value.as_f64(),
    ) && n < min
    {
        problems.push(format!("{path}: {n} < minimum {min}"));
    }
    if let (Some(max), Some(n)) = (
        schema.get("maximum").and_then(Value::as_f64),
        value.as_f64(),
    ) && n > max
    {
        problems.push(format!("{path}: {n} > maximum {max}"));
    }
    if let Some(object) = value.as_object() {
        for key in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !object.contains_key(key) {
                problems.push(format!("{path}: required {key} is missing"));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (key, child) in object {
            match properties.and_then(|p| p.get(key)) {
                Some(child_schema) => {
                    check_node(child, child_schema, &format!("{path}.{key}"), problems)
                }
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    problems.push(format!("{path}: {key} is not in the schema"))
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            check_node(item, items, &format!("{path}[{i}]"), problems);
        }
    }
}

/// Calls a tool and checks that its structured content (if any) matches the tool's published
/// output schema, as strict MCP clients do.
pub async fn call_checked(client: &McpClient, tool: &'static str, args: Value) -> CallToolResult {
    let result = call(client, tool, args).await;
    if let Some(content) = &result.structured_content {
        let tools = client.peer().list_all_tools().await.expect("tools/list");
        let schema = tools
            .iter()
            .find(|t| t.name == tool)
            .and_then(|t| t.output_schema.clone())
            .expect("the tool publishes an output schema");
        let problems = schema_mismatches(content, &Value::Object((*schema).clone()));
        assert!(
            problems.is_empty(),
            "{tool} result does not match its output schema: {problems:#?}\n{content}"
        );
    }
    result
}

/// POSTs a JSON-RPC `body` to veo-mcp's `/mcp` at `addr` with extra `headers`.
pub async fn post(addr: SocketAddr, body: String, headers: &[(&str, &str)]) -> reqwest::Response {
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

/// Reads the JSON-RPC message of a reply sent either as JSON or as a server-sent event stream.
pub async fn rpc_reply(response: reqwest::Response) -> Value {
    let body = response.text().await.unwrap();
    if let Ok(value) = serde_json::from_str::<Value>(&body) {
        return value;
    }
    body.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
        .find(|v| v.get("id").is_some())
        .unwrap_or_else(|| panic!("no JSON-RPC reply in {body}"))
}

/// One stateless 2026-07-28 request of `method` with `params`, as raw JSON-RPC over HTTP to
/// veo-mcp at `addr`, from a client whose capabilities are `capabilities`; `name` is the
/// request's `Mcp-Name` header, if its method has one. Returns the whole JSON-RPC reply.
pub async fn stateless_request(
    addr: SocketAddr,
    method: &str,
    mut params: Value,
    capabilities: &Value,
    name: Option<&str>,
) -> Value {
    params["_meta"] = serde_json::json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": capabilities,
        "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
    });
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let mut headers = vec![
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", method),
    ];
    if let Some(name) = name {
        headers.push(("mcp-name", name));
    }
    rpc_reply(post(addr, body.to_string(), &headers).await).await
}

/// A stateless 2026-07-28 `tools/call` of `tool` with `arguments`, as raw JSON-RPC over HTTP to
/// veo-mcp at `addr`, from a client with `capabilities`, carrying `extra` parameters (an
/// answer to an input request, say). Returns the JSON-RPC `result`.
pub async fn call_stateless(
    addr: SocketAddr,
    tool: &str,
    arguments: Value,
    capabilities: Value,
    extra: Value,
) -> Value {
    let mut params = serde_json::json!({
        "name": tool,
        "arguments": arguments,
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": capabilities,
            "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
        },
    });
    if let (Some(params), Some(extra)) = (params.as_object_mut(), extra.as_object()) {
        params.extend(extra.clone());
    }
    let call =
        serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params});
    let headers = [
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", tool),
    ];
    rpc_reply(post(addr, call.to_string(), &headers).await).await["result"].clone()
}

/// A client handler that declares MCP's Tasks extension (and nothing else).
#[derive(Clone, Default)]
pub struct TasksClient;

impl ClientHandler for TasksClient {
    fn get_info(&self) -> rmcp::model::ClientConfig {
        rmcp::model::ClientConfig::new(
            rmcp::model::ClientCapabilities::builder()
                .enable_tasks()
                .build(),
            rmcp::model::Implementation::new("veo-tests", "1"),
        )
    }
}

/// Starts `server` in-process and connects a client with `handler` over an in-memory pipe,
/// speaking protocol 2026-07-28 (`server/discover`, capabilities sent with each request).
pub async fn connect_2026<H: ClientHandler>(
    server: VeoServer,
    handler: H,
) -> RunningService<RoleClient, H> {
    use rmcp::service::{ClientLifecycleMode, ClientServiceExt as _};
    let (server_end, client_end) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_end).await {
            let _ = running.waiting().await;
        }
    });
    let lifecycle = ClientLifecycleMode::Discover {
        preferred_versions: vec![rmcp::model::ProtocolVersion::V_2026_07_28],
    };
    handler
        .serve_with_lifecycle(client_end, lifecycle)
        .await
        .expect("client connects")
}

/// The output schema `client` is told for `tool`.
pub async fn output_schema<H: ClientHandler>(
    client: &RunningService<RoleClient, H>,
    tool: &str,
) -> Value {
    let tools = client.peer().list_all_tools().await.expect("tools/list");
    let schema = tools
        .iter()
        .find(|t| t.name == tool)
        .and_then(|t| t.output_schema.clone())
        .expect("the tool publishes an output schema");
    Value::Object((*schema).clone())
}
