//! The `veo-mock` binary as a person runs it: start on a free port, read the ready line, go
//! through submit → poll → download, stop it.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{STANDARD_PATH, client, jpeg_b64, png_b64};
use serde_json::{Value, json};
use veo_mock::SAMPLE_MP4;

/// A running `veo-mock` process, killed when dropped.
struct Running {
    child: Child,
    base_url: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary with `args` and waits (generously) for its one ready line.
fn spawn(args: &[&str]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_veo-mock"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("veo-mock starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = tx.send(line);
        // Keep reading so the process never writes into a closed pipe.
        let mut rest = String::new();
        while reader.read_line(&mut rest).is_ok_and(|n| n > 0) {
            rest.clear();
        }
    });
    let mut running = Running {
        child,
        base_url: String::new(),
    };
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("a ready line within 30 s");
    let url = line.trim().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "ready line: {line:?}");
    let port: u16 = url.rsplit(':').next().unwrap_or("").parse().expect("port");
    assert_ne!(port, 0, "port 0 was replaced by the bound port");
    running.base_url = url;
    running
}

/// Waits up to 10 s for the process to exit.
fn wait_exit(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "veo-mock did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn get_json(c: &reqwest::Client, url: &str, key: &str) -> (u16, Value) {
    let resp = c.get(url).bearer_auth(key).send().await.expect("response");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn binary_serves_a_full_submit_poll_download_cycle() {
    let mock = spawn(&[
        "--addr",
        "127.0.0.1:0",
        "--queue-ms",
        "20",
        "--processing-ms",
        "200",
        "--api-key",
        "cli-key",
    ]);
    let c = client();
    let base = &mock.base_url;

    // Submit.
    let resp = c
        .post(format!("{base}{STANDARD_PATH}"))
        .bearer_auth("cli-key")
        .json(&json!({
            "image": png_b64(),
            "last_image": jpeg_b64(),
            "prompt": "a paper boat drifts across the pond",
            "sample_count": 2,
        }))
        .send()
        .await
        .expect("response");
    assert_eq!(resp.status().as_u16(), 200);
    let v: Value = resp.json().await.expect("json");
    let id = v["task_id"].as_str().expect("task_id").to_owned();

    // Poll until terminal.
    let deadline = Instant::now() + Duration::from_secs(20);
    let done = loop {
        let (status, v) = get_json(
            &c,
            &format!("{base}/v3/async/task-result?task_id={id}"),
            "cli-key",
        )
        .await;
        assert_eq!(status, 200, "{v}");
        match v["task"]["status"].as_str() {
            Some("TASK_STATUS_SUCCEED") => break v,
            Some("TASK_STATUS_QUEUED" | "TASK_STATUS_PROCESSING") => {}
            other => panic!("unexpected status {other:?}: {v}"),
        }
        assert!(Instant::now() < deadline, "task never finished");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert_eq!(done["task"]["task_id"], id.as_str());
    assert_eq!(done["task"]["progress_percent"], 100);
    assert_eq!(done["videos"][0]["video_url_ttl"], "3600");

    // Download both videos: real MP4 bytes from the mock itself.
    let videos = done["videos"].as_array().expect("videos");
    assert_eq!(videos.len(), 2);
    for video in videos {
        let url = video["video_url"].as_str().expect("video_url");
        assert!(url.starts_with(&format!("{base}/files/{id}/")), "{url}");
        let resp = c.get(url).send().await.expect("response");
        assert_eq!(resp.status().as_u16(), 200);
        assert_eq!(resp.headers()["content-type"], "video/mp4");
        let bytes = resp.bytes().await.expect("body");
        assert_eq!(veo_core::download::check_mp4(&bytes), Ok(()));
        assert_eq!(bytes.as_ref(), SAMPLE_MP4);
    }

    // The counters saw it all; the wrong key is refused.
    let (status, stats) = get_json(&c, &format!("{base}/_mock/stats"), "").await;
    assert_eq!(status, 200);
    assert_eq!(stats["tasks_created"], 1);
    assert_eq!(stats["downloads"], 2);
    let (status, v) = get_json(
        &c,
        &format!("{base}/v3/async/task-result?task_id={id}"),
        "mock-key",
    )
    .await;
    assert_eq!(status, 401, "{v}");
    drop(mock);
}

#[cfg(unix)]
#[tokio::test]
async fn binary_stops_cleanly_on_sigterm() {
    let mut mock = spawn(&["--addr", "127.0.0.1:0"]);
    let resp = client()
        .get(format!("{}/_mock/health", mock.base_url))
        .send()
        .await
        .expect("response");
    assert_eq!(resp.status().as_u16(), 200);
    let pid = mock.child.id().to_string();
    let sent = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    let status = wait_exit(&mut mock.child);
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn binary_applies_fault_flags() {
    let mock = spawn(&[
        "--addr",
        "127.0.0.1:0",
        "--preset",
        "fast",
        "--fault",
        "submit:created_then_500:next=1",
        "--fault",
        "query:rate_limited=4:next=1",
    ]);
    let c = client();
    let base = &mock.base_url;
    let submit = || {
        c.post(format!("{base}{STANDARD_PATH}"))
            .bearer_auth("mock-key")
            .json(&json!({ "image": png_b64(), "last_image": png_b64(), "prompt": "p" }))
            .send()
    };
    assert_eq!(submit().await.expect("response").status().as_u16(), 500);
    // The task exists behind the 500.
    let (_, tasks) = get_json(&c, &format!("{base}/_mock/tasks"), "").await;
    let id = tasks["tasks"][0]["task_id"]
        .as_str()
        .expect("a task")
        .to_owned();
    let query = format!("{base}/v3/async/task-result?task_id={id}");
    let resp = c
        .get(&query)
        .bearer_auth("mock-key")
        .send()
        .await
        .expect("response");
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(resp.headers()["retry-after"], "4");
    assert_eq!(get_json(&c, &query, "mock-key").await.0, 200);
    assert_eq!(submit().await.expect("response").status().as_u16(), 200);
}

#[test]
fn binary_rejects_bad_settings() {
    for args in [
        &["--failure-rate", "2"][..],
        &["--fault", "nowhere:http_500"][..],
        &["--fault", "submit:slow"][..],
        &["--addr", "not-an-address"][..],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_veo-mock"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "no ready line for {args:?}");
        assert!(!out.stderr.is_empty(), "an explanation for {args:?}");
    }
}
