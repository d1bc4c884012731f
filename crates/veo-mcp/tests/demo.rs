//! `veo-mcp demo`, run as the real binary with no key and no network settings: it succeeds,
//! shows progress on stderr and the tool results on stdout, and saves a real MP4.

use std::path::{Path, PathBuf};

const BIN: &str = env!("CARGO_BIN_EXE_veo-mcp");

fn mp4_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "mp4") {
                found.push(path);
            }
        }
    }
    found
}

/// Runs `veo-mcp demo` with `extra` arguments; returns its stdout, stderr and output directory
/// (inside `tmp`).
fn run_demo(tmp: &Path, extra: &[&str]) -> (String, String, PathBuf) {
    let out = tmp.join("videos");
    let output = std::process::Command::new(BIN)
        .arg("demo")
        .args(extra)
        .arg("--output-dir")
        .arg(&out)
        .env_clear()
        .env("HOME", tmp)
        .env("TMPDIR", tmp)
        // Settings that would break a demo that used them: it must use its own.
        .env("JIEKOU_BASE_URL", "http://127.0.0.1:9")
        .env("VEO_JOURNAL", tmp.join("no-such-dir/journal.sqlite3"))
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status.code()
    );
    (stdout, stderr, out)
}

/// The saved video: one MP4 under the task's id, named on stdout; returns the task id.
fn check_saved_video(stdout: &str, out: &Path) -> String {
    let task_id = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("\"task_id\": \""))
        .and_then(|rest| rest.split('"').next())
        .expect("the task id in stdout");
    assert!(!task_id.is_empty());

    // The video, saved by the server under the task's id, is an MP4.
    let videos = mp4_files(out);
    assert_eq!(videos.len(), 1, "{videos:?}");
    assert!(videos[0].to_string_lossy().contains(task_id), "{videos:?}");
    let bytes = std::fs::read(&videos[0]).unwrap();
    assert_eq!(&bytes[4..8], b"ftyp");
    veo_core::download::check_mp4(&bytes).expect("a complete MP4");
    assert!(stdout.contains(&videos[0].display().to_string()));
    assert!(stdout.contains("Saved video: "), "{stdout}");
    task_id.to_string()
}

#[test]
fn the_demo_follows_a_task_through_the_tasks_extension() {
    let tmp = tempfile::tempdir().unwrap();
    let (stdout, stderr, out) = run_demo(tmp.path(), &[]);
    for expected in [
        "tools/call generate_transition_video",
        "a task (MCP Tasks extension)",
        "\"resultType\": \"task\"",
        ": completed ===",
        "\"status\": \"succeeded\"",
        "resource_link",
    ] {
        assert!(stdout.contains(expected), "{expected} in:\n{stdout}");
    }
    assert!(!stdout.contains("tools/call get_task_result"), "{stdout}");
    assert!(
        stderr.contains("Waiting the Tasks extension's way")
            && stderr
                .lines()
                .any(|l| l.starts_with("tasks/get: working: ")),
        "the way used and the status messages on stderr:\n{stderr}"
    );
    check_saved_video(&stdout, &out);
}

#[test]
fn the_demo_without_tasks_waits_with_get_task_result() {
    let tmp = tempfile::tempdir().unwrap();
    let (stdout, stderr, out) = run_demo(tmp.path(), &["--without-tasks"]);

    // The agent's view: both calls, their texts and structured results, the task id.
    for expected in [
        "tools/call generate_transition_video",
        "tools/call get_task_result",
        "structuredContent:",
        "\"status\": \"succeeded\"",
    ] {
        assert!(stdout.contains(expected), "{expected} in:\n{stdout}");
    }
    assert!(
        stderr.contains("Waiting the get_task_result way"),
        "{stderr}"
    );
    check_saved_video(&stdout, &out);

    // Progress notifications arrived while waiting, and went to stderr only.
    assert!(
        stderr.lines().any(|l| l.starts_with("progress: ")),
        "progress lines in:\n{stderr}"
    );
    assert!(!stdout.contains("progress: "));
    // The frames went to the temporary directory given, not elsewhere.
    assert!(
        std::fs::read_dir(tmp.path())
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("veo-demo-")),
        "frames written under TMPDIR"
    );
}
