//! Shared helpers for the end-to-end tests: an MCP client that records progress notifications,
//! connected to a [`VeoServer`] in-process or over streamable HTTP.

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
    let (server_end, client_end) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_end).await {
            let _ = running.waiting().await;
        }
    });
    let recorder = Recorder::default();
    let client = recorder
        .clone()
        .serve(client_end)
        .await
        .expect("client connects");
    (client, recorder)
}

/// A server configuration pointing at `base_url` with `api_key` (if any) and test-friendly limits.
pub fn config(base_url: &str, api_key: Option<&str>) -> Config {
    let cli =
        <veo_mcp::config::Cli as clap::Parser>::parse_from(["veo-mcp", "--base-url", base_url]);
    let mut config = Config::from_args(&cli.common).expect("config");
    config.client.api_key = api_key.and_then(veo_core::ApiKey::new);
    config.max_wait = std::time::Duration::from_secs(20);
    config
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
