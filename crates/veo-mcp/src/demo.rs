//! `veo-mcp demo`: the flow an agent goes through, offline and free.
//!
//! A [`veo_mock::MockServer`] plays the platform on loopback, a [`VeoServer`] runs in this
//! process with an in-memory journal, and an MCP client connected to it over an in-memory pipe
//! calls `generate_transition_video` with two generated frames, then waits for the video in one
//! of the two ways a host can: by default the client declares MCP's Tasks extension (2026-07-28)
//! and polls `tasks/get` until the task is completed, showing its status messages; with
//! `--without-tasks` it calls `get_task_result` with a wait, showing progress notifications as
//! they arrive. The way used is printed. Each call's arguments and result (text and structured
//! JSON, as the agent sees them) are printed on stdout; the server saves the MP4, and its path is
//! printed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ClientCapabilities, ClientConfig,
    GetTaskParams, Implementation, ProgressNotificationParam, ProtocolVersion, TaskPayload,
};
use rmcp::service::{
    ClientLifecycleMode, ClientServiceExt as _, NotificationContext, RunningService,
};
use rmcp::{ClientHandler, RoleClient, ServiceExt as _};
use serde_json::{Value, json};
use veo_mock::{MockConfig, MockServer};

use crate::VeoServer;
use crate::app::report::{GENERATE_TOOL, RESULT_TOOL};
use crate::cli::args::{CommonArgs, DemoArgs};
use crate::cli::{Exit, Failure, ProgressDisplay, note, out, print_json};
use crate::journal::JournalLocation;

/// How long the demo's tasks stay queued, then processing, on the mock.
const QUEUED: Duration = Duration::from_millis(300);
const PROCESSING: Duration = Duration::from_millis(2_500);

const PROMPT: &str =
    "A warm sunrise slowly gives way to a deep blue night; the camera drifts gently forward";

/// Runs the demo. `common` supplies `--output-dir`, `--no-save` and `--default-model`; the
/// key, base URL and journal are the demo's own; `args` choose how the client waits.
pub async fn run(common: &CommonArgs, args: &DemoArgs) -> Result<(), Failure> {
    let started = Instant::now();
    let other = |what: &str| {
        let what = what.to_string();
        move |e: std::io::Error| Failure::new(Exit::Other, format!("{what}: {e}"))
    };
    let mock = MockServer::start(MockConfig::default().with_timing(QUEUED, PROCESSING))
        .await
        .map_err(other("cannot start the local mock"))?;
    let dir = demo_dir().map_err(other("cannot create the demo directory"))?;
    let (first, last) = write_frames(&dir).map_err(other("cannot write the demo frames"))?;

    let settings = common
        .config()
        .map_err(|e| Failure::new(Exit::InvalidInput, format!("invalid settings: {e}")))?;
    let client = settings
        .client
        .clone()
        .with_api_key(mock.api_key())
        .with_base_url(mock.base_url())
        .map_err(|e| Failure::new(Exit::Other, e.to_string()))?;
    let output_dir = (!common.no_save).then(|| {
        common
            .output_dir
            .clone()
            .unwrap_or_else(|| dir.join("videos"))
    });
    let config = settings
        .with_client(client)
        .with_allowed_roots(vec![dir.clone()])
        .with_journal(JournalLocation::Memory)
        .with_background(false)
        .with_max_wait(Duration::from_secs(crate::config::DEFAULT_MAX_WAIT_SECONDS))
        .with_output_dir(output_dir.clone());

    note!(
        "veo demo: no API key, no network. A local veo-mock at {} plays the JieKou API ({} ms queued, {} ms processing); the veo MCP server and an MCP client run in this process.",
        mock.base_url(),
        QUEUED.as_millis(),
        PROCESSING.as_millis()
    );
    note!(
        "Frames: {} and {} (640×360 PNG).",
        first.display(),
        last.display()
    );
    let server = VeoServer::start(config).await.map_err(|e| {
        let failure = Failure::from(e);
        Failure::new(
            failure.exit,
            format!("cannot start the server: {}", failure.message),
        )
    })?;
    let display = ProgressDisplay::stderr();
    let tasks = !args.without_tasks;
    let session = Session::connect(server, display.clone(), tasks).await?;
    let outcome = conversation(&session, &first, &last, &display).await;
    session.close().await;
    let stats = mock.stats();
    mock.shutdown().await;
    let saved = outcome?;

    match (saved, &output_dir) {
        (Some((path, bytes)), _) => {
            out!("Saved video: {} ({bytes} bytes, MP4)", path.display());
        }
        (None, None) => {
            out!("Not saved (--no-save); the video URL above works until it expires.")
        }
        (None, Some(dir)) => {
            return Err(Failure::new(
                Exit::Other,
                format!(
                    "the video was not saved into {} (see the result above)",
                    dir.display()
                ),
            ));
        }
    }
    note!(
        "Done in {:.1} s: {} submit, {} status polls and {} download on the mock. With a real key, the same calls go to the JieKou API.",
        started.elapsed().as_secs_f64(),
        stats.submits(),
        stats.task_results(),
        stats.downloads
    );
    Ok(())
}

/// The two tool calls; returns the saved file and its size, if the server saved one.
async fn conversation(
    session: &Session,
    first: &Path,
    last: &Path,
    display: &ProgressDisplay,
) -> Result<Option<(PathBuf, u64)>, Failure> {
    let arguments = json!({
        "image": first.display().to_string(),
        "last_image": last.display().to_string(),
        "prompt": PROMPT,
        "duration_seconds": 4,
    });
    show_call(GENERATE_TOOL, &arguments);
    let reply = match session.call_once(GENERATE_TOOL, arguments).await? {
        CallToolResponse::Task(created) => {
            out!("--- result: a task (MCP Tasks extension) ---");
            print_json(&serde_json::to_value(&created).unwrap_or_default());
            let task_id = created.task.task_id;
            note!(
                "\nWaiting the Tasks extension's way: tasks/get for task {task_id} until it is completed (status messages as they change):"
            );
            session.until_completed(&task_id).await?
        }
        CallToolResponse::Complete(reply) => {
            show_result(&reply);
            let submitted = structured_or_failure(&reply)?;
            let task_id = submitted
                .get("task_id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            note!(
                "\nWaiting the get_task_result way for task {task_id}; progress notifications as they arrive:"
            );
            let arguments = json!({ "task_id": task_id, "wait_seconds": 30 });
            call_and_show(session, RESULT_TOOL, arguments, display).await?
        }
        other => {
            return Err(Failure::new(
                Exit::Other,
                format!("unexpected answer to {GENERATE_TOOL}: {other:?}"),
            ));
        }
    };
    let report = structured_or_failure(&reply)?;
    if report.get("status").and_then(Value::as_str) != Some("succeeded") {
        return Err(Failure::new(
            Exit::Failed,
            format!("the demo task did not succeed: {}", text_of(&reply)),
        ));
    }
    let saved = report
        .get("videos")
        .and_then(Value::as_array)
        .and_then(|v| v.first())
        .and_then(|v| v.get("saved_path"))
        .and_then(Value::as_str)
        .map(PathBuf::from);
    match saved {
        Some(path) => {
            let bytes = check_mp4(&path).map_err(|e| {
                Failure::new(
                    Exit::Other,
                    format!("the saved file {} is not right: {e}", path.display()),
                )
            })?;
            Ok(Some((path, bytes)))
        }
        None => Ok(None),
    }
}

async fn call_and_show(
    session: &Session,
    tool: &str,
    arguments: Value,
    display: &ProgressDisplay,
) -> Result<CallToolResult, Failure> {
    show_call(tool, &arguments);
    let reply = session.call(tool, arguments).await;
    display.finish();
    let reply = reply?;
    show_result(&reply);
    Ok(reply)
}

fn show_call(tool: &str, arguments: &Value) {
    out!("\n=== tools/call {tool} ===");
    out!("arguments:");
    print_json(arguments);
}

/// Prints a tool result as the agent receives it: each content block, then the structured JSON.
fn show_result(reply: &CallToolResult) {
    out!(
        "--- result{} ---",
        if reply.is_error == Some(true) {
            " (isError: true)"
        } else {
            ""
        }
    );
    for block in &reply.content {
        if let Some(text) = block.as_text() {
            out!("content (text):");
            for line in text.text.lines() {
                out!("  {line}");
            }
        } else if let Some(link) = block.as_resource_link() {
            out!(
                "content (resource_link): {} ({}{})",
                link.uri,
                link.mime_type.as_deref().unwrap_or("?"),
                link.size
                    .map(|s| format!(", {s} bytes"))
                    .unwrap_or_default()
            );
        } else {
            out!(
                "content: {}",
                serde_json::to_string(block).unwrap_or_default()
            );
        }
    }
    if let Some(structured) = &reply.structured_content {
        out!("structuredContent:");
        print_json(structured);
    }
}

/// A new directory for this run's frames (and videos, unless `--output-dir` is given). It is
/// kept after the demo so the video can be watched.
fn demo_dir() -> std::io::Result<PathBuf> {
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("veo-demo-{}-{stamp}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn write_frames(dir: &Path) -> std::io::Result<(PathBuf, PathBuf)> {
    let first = dir.join("first.png");
    let last = dir.join("last.png");
    std::fs::write(
        &first,
        veo_core::sample::gradient_png(640, 360, [255, 170, 60], [200, 60, 40]),
    )?;
    std::fs::write(
        &last,
        veo_core::sample::gradient_png(640, 360, [20, 30, 90], [5, 5, 25]),
    )?;
    Ok((first, last))
}

/// Checks that `path` is a complete MP4 (veo-core's box walk) and returns its size.
fn check_mp4(path: &Path) -> std::io::Result<u64> {
    let bytes = std::fs::read(path)?;
    veo_core::download::check_mp4(&bytes).map_err(std::io::Error::other)?;
    Ok(bytes.len() as u64)
}

/// The MCP client side of the demo: shows progress notifications as they arrive; declares the
/// Tasks extension when `tasks` is set.
#[derive(Clone)]
struct DemoClient {
    display: ProgressDisplay,
    tasks: bool,
}

impl ClientHandler for DemoClient {
    fn get_info(&self) -> ClientConfig {
        let capabilities = if self.tasks {
            ClientCapabilities::builder().enable_tasks().build()
        } else {
            ClientCapabilities::default()
        };
        ClientConfig::new(
            capabilities,
            Implementation::new("veo-demo", env!("CARGO_PKG_VERSION")),
        )
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let total = params.total.filter(|t| *t > 0.0).unwrap_or(100.0);
        self.display.show(
            params.progress / total * 100.0,
            params.message.as_deref().unwrap_or(""),
        );
    }
}

/// An MCP client connected to a [`VeoServer`] in this process, over an in-memory pipe.
struct Session {
    client: RunningService<RoleClient, DemoClient>,
}

impl Session {
    /// Serves `server` on one end of a pipe and connects a client to the other: with `tasks`,
    /// one declaring the Tasks extension on protocol 2026-07-28 (`server/discover`); otherwise
    /// one without it (`initialize`).
    async fn connect(
        server: VeoServer,
        display: ProgressDisplay,
        tasks: bool,
    ) -> Result<Session, Failure> {
        let (server_end, client_end) = tokio::io::duplex(1 << 20);
        tokio::spawn(async move {
            match server.serve(server_end).await {
                Ok(running) => {
                    let _ = running.waiting().await;
                }
                Err(e) => tracing::error!("the in-process MCP server did not start: {e}"),
            }
        });
        let client = DemoClient { display, tasks };
        let client = if tasks {
            let lifecycle = ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            };
            client.serve_with_lifecycle(client_end, lifecycle).await
        } else {
            client.serve(client_end).await
        };
        let client = client.map_err(|e| {
            Failure::new(
                Exit::Other,
                format!("cannot connect to the MCP server: {e}"),
            )
        })?;
        Ok(Session { client })
    }

    /// Calls `tool` with `args` (a JSON object) and returns its result as is.
    async fn call(&self, tool: &str, args: Value) -> Result<CallToolResult, Failure> {
        let Value::Object(args) = args else {
            return Err(Failure::new(
                Exit::Other,
                "tool arguments must be an object",
            ));
        };
        self.client
            .peer()
            .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(args))
            .await
            .map_err(|e| Failure::new(Exit::Other, format!("the {tool} call failed: {e}")))
    }

    /// Calls `tool` once with `args` and returns whichever answer came: a result or a task.
    async fn call_once(&self, tool: &str, args: Value) -> Result<CallToolResponse, Failure> {
        let Value::Object(args) = args else {
            return Err(Failure::new(
                Exit::Other,
                "tool arguments must be an object",
            ));
        };
        self.client
            .peer()
            .call_tool_once(CallToolRequestParams::new(tool.to_string()).with_arguments(args))
            .await
            .map_err(|e| Failure::new(Exit::Other, format!("the {tool} call failed: {e}")))
    }

    /// Polls `tasks/get` at the pace the server suggests until the task is completed; shows
    /// each new status message on stderr and the final result on stdout.
    async fn until_completed(&self, task_id: &str) -> Result<CallToolResult, Failure> {
        let failed = |e: String| Failure::new(Exit::Other, format!("tasks/get failed: {e}"));
        let mut last_message = None;
        loop {
            let got = self
                .client
                .peer()
                .get_task(GetTaskParams::new(task_id))
                .await
                .map_err(|e| failed(e.to_string()))?;
            let task = &got.task.task;
            match &got.task.payload {
                TaskPayload::Working => {
                    if task.status_message != last_message {
                        let message = task.status_message.as_deref().unwrap_or("working");
                        note!("tasks/get: working: {message}");
                        last_message = task.status_message.clone();
                    }
                    let pause = task.poll_interval_ms.unwrap_or(1_000).clamp(100, 20_000);
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
                TaskPayload::Completed { result } => {
                    out!("\n=== tasks/get {task_id}: completed ===");
                    let reply: CallToolResult =
                        serde_json::from_value(Value::Object(result.clone()))
                            .map_err(|e| failed(e.to_string()))?;
                    show_result(&reply);
                    return Ok(reply);
                }
                other => return Err(failed(format!("the task ended {other:?}"))),
            }
        }
    }

    /// Closes the connection.
    async fn close(self) {
        let _ = self.client.cancel().await;
    }
}

/// A tool result's structured content; a tool error becomes a [`Failure`] with its text.
fn structured_or_failure(result: &CallToolResult) -> Result<Value, Failure> {
    if result.is_error == Some(true) {
        return Err(Failure::new(Exit::Other, text_of(result)));
    }
    result.structured_content.clone().ok_or_else(|| {
        Failure::new(
            Exit::Other,
            format!("no structured result: {}", text_of(result)),
        )
    })
}

/// The text of a tool result's first content block.
fn text_of(result: &CallToolResult) -> String {
    result
        .content
        .first()
        .and_then(|c| c.as_text())
        .map(|t| t.text.clone())
        .unwrap_or_default()
}
