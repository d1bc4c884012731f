//! A server process killed mid-task (SIGKILL, no chance to clean up) loses nothing: started
//! again on the same journal, it lists the task and saves the video without being asked.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use rmcp::ServiceExt as _;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use veo_mock::{MockConfig, MockServer};

type Client = RunningService<rmcp::RoleClient, ()>;

/// Starts `veo-mcp` over stdio with its journal and output directory under `dir`.
async fn start_server(mock: &MockServer, dir: &Path) -> (Child, Client) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_veo-mcp"))
        .env("JIEKOU_API_KEY", mock.api_key())
        .env("JIEKOU_BASE_URL", mock.base_url())
        .env("VEO_JOURNAL", dir.join("data").join("journal.sqlite3"))
        .env("VEO_OUTPUT_DIR", dir.join("out"))
        .env_remove("VEO_NO_SAVE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("veo-mcp starts");
    let stdout = child.stdout.take().unwrap();
    let stdin = child.stdin.take().unwrap();
    let client = ().serve((stdout, stdin)).await.expect("MCP handshake");
    (child, client)
}

async fn call(client: &Client, tool: &'static str, args: Value) -> CallToolResult {
    let Value::Object(args) = args else {
        unreachable!()
    };
    client
        .peer()
        .call_tool(CallToolRequestParams::new(tool).with_arguments(args))
        .await
        .expect("tools/call")
}

fn png_base64() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(veo_core::sample::gradient_png(
        32,
        18,
        [200, 40, 40],
        [40, 40, 200],
    ))
}

#[tokio::test]
async fn a_killed_server_picks_its_task_up_again_and_saves_the_video() {
    let mock = MockServer::start(
        MockConfig::default().with_timing(Duration::from_millis(200), Duration::from_secs(4)),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();

    let (mut first, client) = start_server(&mock, dir.path()).await;
    let submitted = call(
        &client,
        "generate_transition_video",
        json!({"image": png_base64(), "last_image": png_base64(), "prompt": "survives a crash"}),
    )
    .await;
    assert_eq!(submitted.is_error, Some(false), "{submitted:?}");
    let task_id = submitted.structured_content.unwrap()["task_id"]
        .as_str()
        .unwrap()
        .to_string();
    // SIGKILL while the task is still processing on the platform.
    first.start_kill().unwrap();
    first.wait().await.unwrap();
    drop(client);
    let video = dir
        .path()
        .join("out")
        .join(&task_id)
        .join(format!("{task_id}.mp4"));
    assert!(!video.exists(), "killed before the task finished");

    let (mut second, client) = start_server(&mock, dir.path()).await;
    let listed = call(&client, "list_tasks", json!({})).await;
    let tasks = listed.structured_content.unwrap()["tasks"].clone();
    assert_eq!(tasks[0]["task_id"], task_id.as_str(), "{tasks}");
    assert_eq!(tasks[0]["prompt"], "survives a crash");

    // Nobody asks for the result: the restarted server saves the video on its own.
    let mut saved = false;
    for _ in 0..300 {
        if std::fs::read(&video).is_ok_and(|bytes| bytes == veo_mock::SAMPLE_MP4) {
            saved = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(saved, "the video was saved after the restart");
    let listed = call(&client, "list_tasks", json!({"status": "succeeded"})).await;
    let task = &listed.structured_content.unwrap()["tasks"][0];
    assert_eq!(task["videos"][0]["saved_path"], video.display().to_string());
    assert_eq!(mock.stats().tasks_created, 1, "nothing was submitted again");
    second.start_kill().unwrap();
    second.wait().await.unwrap();
}
