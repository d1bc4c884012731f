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

#[test]
fn the_demo_generates_and_saves_a_video_without_a_key() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("videos");
    let output = std::process::Command::new(BIN)
        .args(["demo", "--output-dir"])
        .arg(&out)
        .env_clear()
        .env("HOME", tmp.path())
        .env("TMPDIR", tmp.path())
        // Settings that would break a demo that used them: it must use its own.
        .env("JIEKOU_BASE_URL", "http://127.0.0.1:9")
        .env(
            "VEO_JOURNAL",
            tmp.path().join("no-such-dir/journal.sqlite3"),
        )
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status.code()
    );

    // The agent's view: both calls, their texts and structured results, the task id.
    for expected in [
        "tools/call generate_transition_video",
        "tools/call get_task_result",
        "structuredContent:",
        "\"status\": \"succeeded\"",
        "Saved video: ",
    ] {
        assert!(stdout.contains(expected), "{expected} in:\n{stdout}");
    }
    let task_id = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("\"task_id\": \""))
        .and_then(|rest| rest.split('"').next())
        .expect("the task id in stdout");
    assert!(!task_id.is_empty());

    // The video, saved by the server under the task's id, is an MP4.
    let videos = mp4_files(&out);
    assert_eq!(videos.len(), 1, "{videos:?}");
    assert!(videos[0].to_string_lossy().contains(task_id), "{videos:?}");
    let bytes = std::fs::read(&videos[0]).unwrap();
    assert_eq!(&bytes[4..8], b"ftyp");
    veo_core::download::check_mp4(&bytes).expect("a complete MP4");
    assert!(stdout.contains(&videos[0].display().to_string()));

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
