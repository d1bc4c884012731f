//! `veo-mcp demo`: the flow an agent goes through, offline and free.
//!
//! A [`veo_mock::MockServer`] plays the platform on loopback, a [`VeoServer`] runs in this
//! process with an in-memory journal, and an MCP client connected to it over an in-memory pipe
//! calls `generate_transition_video` with two generated frames, then `get_task_result` with a
//! wait. Progress notifications are shown on stderr as they arrive; each call's arguments and
//! result (text and structured JSON, as the agent sees them) are printed on stdout; the server
//! saves the MP4, and its path is printed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rmcp::model::CallToolResult;
use serde_json::{Value, json};
use veo_mock::{MockConfig, MockServer};

use crate::cli::{
    Exit, Failure, ProgressDisplay, Session, note, out, print_json, structured_or_failure,
};
use crate::config::CommonArgs;
use crate::server::{GENERATE_TOOL, RESULT_TOOL};
use crate::{Config, VeoServer};

/// How long the demo's tasks stay queued, then processing, on the mock.
const QUEUED: Duration = Duration::from_millis(300);
const PROCESSING: Duration = Duration::from_millis(2_500);

const PROMPT: &str =
    "A warm sunrise slowly gives way to a deep blue night; the camera drifts gently forward";

/// Runs the demo. `common` supplies `--output-dir`, `--no-save` and `--default-model`; the
/// key, base URL and journal are the demo's own.
pub async fn run(common: &CommonArgs) -> Result<(), Failure> {
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

    let mut config = Config::from_args(common)
        .map_err(|e| Failure::new(Exit::InvalidInput, format!("invalid settings: {e}")))?;
    config.client = config
        .client
        .with_api_key(mock.api_key())
        .with_base_url(mock.base_url())
        .map_err(|e| Failure::new(Exit::Other, e.to_string()))?;
    config.image_policy.allowed_roots = vec![dir.clone()];
    config.journal = None;
    config.resume = false;
    config.max_wait = Duration::from_secs(crate::config::DEFAULT_MAX_WAIT_SECONDS);
    if !common.no_save {
        config.output_dir = Some(
            common
                .output_dir
                .clone()
                .unwrap_or_else(|| dir.join("videos")),
        );
    }
    let output_dir = config.output_dir.clone();

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
    let server = VeoServer::start(config)
        .await
        .map_err(|e| Failure::new(Exit::Other, format!("cannot start the server: {e}")))?;
    let display = ProgressDisplay::stderr();
    let session = Session::connect(server, Some(display.clone())).await?;
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
    let reply = call_and_show(session, GENERATE_TOOL, arguments, display).await?;
    let submitted = structured_or_failure(&reply)?;
    let task_id = crate::cli::task_id_of(&submitted);

    note!("\nWaiting for task {task_id}; progress notifications as they arrive:");
    let arguments = json!({ "task_id": task_id, "wait_seconds": 30 });
    let reply = call_and_show(session, RESULT_TOOL, arguments, display).await?;
    let report = structured_or_failure(&reply)?;
    if report.get("status").and_then(Value::as_str) != Some("succeeded") {
        return Err(Failure::new(
            Exit::Failed,
            format!(
                "the demo task did not succeed: {}",
                crate::cli::result_text(&reply)
            ),
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

/// Checks that `path` looks like an MP4 (an `ftyp` box first) and returns its size.
fn check_mp4(path: &Path) -> std::io::Result<u64> {
    let bytes = std::fs::read(path)?;
    if bytes.get(4..8) != Some(b"ftyp") {
        return Err(std::io::Error::other(
            "it does not start with an MP4 ftyp box",
        ));
    }
    Ok(bytes.len() as u64)
}
