//! The `generate`, `status` and `tasks` commands, run as the real binary against an in-process
//! veo-mock: results and `--json` on stdout, progress on stderr, exit codes per failure class,
//! the journal shared between runs (listing and deduplication), nothing sent for bad input.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use veo_mock::{MockConfig, MockServer};

const BIN: &str = env!("CARGO_BIN_EXE_veo-mcp");
/// A key distinctive enough to search for in every output.
const KEY: &str = "sk-cli-test-7f3a91c2e5";

/// A mock, a working directory with two frames, and the environment pointing at both.
struct Setup {
    mock: MockServer,
    dir: tempfile::TempDir,
}

impl Setup {
    async fn new() -> Setup {
        let mock = MockServer::start(MockConfig::fast().with_api_keys([KEY]))
            .await
            .expect("mock starts");
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, from, to) in [
            ("first.png", [250, 120, 0], [10, 10, 80]),
            ("last.png", [10, 10, 80], [250, 220, 120]),
        ] {
            std::fs::write(
                dir.path().join(name),
                veo_core::sample::gradient_png(320, 180, from, to),
            )
            .unwrap();
        }
        Setup { mock, dir }
    }

    fn out_dir(&self) -> PathBuf {
        self.dir.path().join("videos")
    }

    /// Runs the binary with `args`, the mock's URL, the key (unless `key` is `None`), and a
    /// journal and output directory of this setup; nothing else from the environment.
    async fn run_with_key(&self, key: Option<&str>, args: &[&str]) -> Run {
        let mut command = tokio::process::Command::new(BIN);
        command
            .args(args)
            .env_clear()
            .current_dir(self.dir.path())
            .env("HOME", self.dir.path())
            .env("JIEKOU_BASE_URL", self.mock.base_url())
            .env("VEO_JOURNAL", self.dir.path().join("journal.sqlite3"))
            .env("VEO_OUTPUT_DIR", self.out_dir());
        if let Some(key) = key {
            command.env("JIEKOU_API_KEY", key);
        }
        let output = command.output().await.expect("the binary runs");
        Run::from(output)
    }

    async fn run(&self, args: &[&str]) -> Run {
        self.run_with_key(Some(KEY), args).await
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        let run = Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        assert!(
            !run.stdout.contains(KEY) && !run.stderr.contains(KEY),
            "the API key was printed:\n{}\n{}",
            run.stdout,
            run.stderr
        );
        run
    }
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON document ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    fn expect(&self, code: i32) -> &Run {
        assert_eq!(
            self.code, code,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

fn is_mp4(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|b| veo_core::download::check_mp4(&b).is_ok())
}

const GENERATE: [&str; 6] = [
    "generate",
    "--first",
    "first.png",
    "--last",
    "last.png",
    "--prompt",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generate_waits_saves_and_prints_the_tool_results_as_json() {
    let s = Setup::new().await;
    let mut args = GENERATE.to_vec();
    args.extend([
        "the camera pushes in",
        "--model",
        "veo-3.1-fast",
        "--resolution",
        "1080p",
        "--aspect-ratio",
        "16:9",
        "--duration",
        "6",
        "--seed",
        "42",
        "--sample-count",
        "1",
        "--negative-prompt",
        "blur",
        "--enhance-prompt",
        "--generate-audio",
        "--person-generation",
        "dont_allow",
        "--json",
        // The whole command on one worker thread: the frame files, the wait and the save.
        "--workers",
        "1",
    ]);
    let run = s.run(&args).await;
    run.expect(0);
    let json = run.json();
    let submitted = &json["submitted"];
    let task_id = submitted["task_id"].as_str().expect("a task id");
    assert_eq!(submitted["deduplicated"], false);
    let parameters = &submitted["parameters"];
    assert_eq!(parameters["model"], "veo-3.1-fast");
    assert_eq!(parameters["resolution"], "1080p");
    assert_eq!(parameters["duration_seconds"], 6);
    assert_eq!(parameters["seed"], 42);
    assert_eq!(parameters["negative_prompt"], "blur");
    assert_eq!(parameters["generate_audio"], true);
    assert_eq!(parameters["person_generation"], "dont_allow");

    let result = &json["result"];
    assert_eq!(result["task_id"], task_id);
    assert_eq!(result["status"], "succeeded");
    assert_eq!(result["done"], true);
    let saved = result["videos"][0]["saved_path"]
        .as_str()
        .expect("a saved path");
    assert!(Path::new(saved).starts_with(s.out_dir()), "{saved}");
    assert!(is_mp4(Path::new(saved)), "{saved} is an MP4");

    let tasks = s.mock.tasks();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].task_id, task_id);
    assert_eq!(tasks[0].model, veo_mock::Model::Fast);
    assert!(run.stderr.contains("Submitted task"), "{}", run.stderr);
    assert!(
        run.stderr.contains("the get_task_result way"),
        "the way it waits:\n{}",
        run.stderr
    );
    assert!(
        run.stderr.lines().any(|l| l.starts_with("progress: ")),
        "progress on stderr:\n{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identical_generate_is_deduplicated_and_tasks_lists_it() {
    let s = Setup::new().await;
    let mut args = GENERATE.to_vec();
    args.push("a slow dissolve");
    let first = s.run(&args).await;
    first.expect(0);
    assert!(
        first.stdout.contains("status:  succeeded"),
        "{}",
        first.stdout
    );
    let saved_line = first
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("saved:   "))
        .expect("the saved path is printed");
    assert!(is_mp4(Path::new(saved_line)));

    let second = s.run(&args).await;
    second.expect(0);
    assert!(
        second.stderr.contains("already submitted recently"),
        "{}",
        second.stderr
    );
    assert_eq!(s.mock.stats().tasks_created, 1, "nothing was paid twice");

    let listed = s.run(&["tasks", "--json"]).await;
    listed.expect(0);
    let list = listed.json();
    let tasks = list["tasks"].as_array().expect("tasks");
    assert_eq!(tasks.len(), 1, "{list}");
    assert_eq!(tasks[0]["status"], "succeeded");
    assert_eq!(tasks[0]["prompt"], "a slow dissolve");
    assert_eq!(tasks[0]["videos"][0]["saved_path"], saved_line);

    let human = s.run(&["tasks", "--status", "succeeded"]).await;
    human.expect(0);
    let task_id = tasks[0]["task_id"].as_str().unwrap();
    assert!(human.stdout.contains(task_id), "{}", human.stdout);
    let none = s.run(&["tasks", "--status", "failed", "--json"]).await;
    none.expect(0);
    assert_eq!(none.json()["tasks"].as_array().map(Vec::len), Some(0));

    // --allow-duplicate really submits again.
    let mut again = args.clone();
    again.push("--allow-duplicate");
    s.run(&again).await.expect(0);
    assert_eq!(s.mock.stats().tasks_created, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_task_exits_4() {
    let s = Setup::new().await;
    let mut args = GENERATE.to_vec();
    args.push("a storm [mock:fail=content filtered]");
    let run = s.run(&args).await;
    run.expect(4);
    assert!(
        run.stdout.contains("failed: content filtered"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("content filtered"), "{}", run.stderr);

    args.push("--json");
    args.push("--allow-duplicate");
    let run = s.run(&args).await;
    run.expect(4);
    assert_eq!(run.json()["result"]["status"], "failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_input_exits_2_and_sends_nothing() {
    let s = Setup::new().await;
    // Checked by the tool: every problem at once, named by its option.
    let run = s
        .run(&[
            "generate",
            "--first",
            "missing.png",
            "--last",
            "last.png",
            "--prompt",
            "",
            "--sample-count",
            "9",
        ])
        .await;
    run.expect(2);
    for option in ["--first", "--prompt", "--sample-count"] {
        assert!(run.stderr.contains(option), "{option}: {}", run.stderr);
    }
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    // Checked by the argument parser.
    let mut args = GENERATE.to_vec();
    args.extend(["p", "--resolution", "4k"]);
    s.run(&args).await.expect(2);
    s.run(&["generate", "--first", "first.png", "--last", "last.png"])
        .await
        .expect(2);
    s.run(&["status", "not a task id!"]).await.expect(2);
    s.run(&["tasks", "--limit", "0"]).await.expect(2);
    assert_eq!(s.mock.stats().total_requests(), 0, "nothing was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_refused_key_exits_3() {
    let s = Setup::new().await;
    let mut args = GENERATE.to_vec();
    args.push("p");
    let run = s.run_with_key(None, &args).await;
    run.expect(3);
    assert!(run.stderr.contains("JIEKOU_API_KEY"), "{}", run.stderr);
    assert_eq!(s.mock.stats().total_requests(), 0, "nothing was sent");

    let run = s.run_with_key(Some("wrong-key"), &args).await;
    run.expect(3);
    assert_eq!(s.mock.stats().tasks_created, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_looks_and_waits() {
    let s = Setup::new().await;
    // A task that takes ten minutes: looking reports it running (exit 0), waiting briefly ends
    // with it still running (exit 5).
    let mut args = GENERATE.to_vec();
    args.extend(["slow [mock:processing_ms=600000]", "--no-wait", "--json"]);
    let run = s.run(&args).await;
    run.expect(0);
    let json = run.json();
    assert!(json.get("result").is_none(), "{json}");
    let slow = json["submitted"]["task_id"].as_str().unwrap().to_string();

    let look = s.run(&["status", &slow]).await;
    look.expect(0);
    assert!(look.stdout.contains(&slow), "{}", look.stdout);
    let waited = s.run(&["status", &slow, "--wait", "1", "--json"]).await;
    waited.expect(5);
    assert_eq!(waited.json()["done"], false);
    assert!(waited.stderr.contains("Still running"), "{}", waited.stderr);

    // A task that takes a moment: waiting for it saves the video.
    let mut args = GENERATE.to_vec();
    args.extend(["quick [mock:processing_ms=1500]", "--no-wait"]);
    let run = s.run(&args).await;
    run.expect(0);
    let quick = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("task:    "))
        .expect("the task id is printed")
        .to_string();
    let waited = s.run(&["status", &quick, "--wait", "60", "--json"]).await;
    waited.expect(0);
    let report = waited.json();
    assert_eq!(report["status"], "succeeded");
    let saved = report["videos"][0]["saved_path"].as_str().expect("saved");
    assert!(is_mp4(Path::new(saved)));

    // An id the platform does not know.
    let unknown = s.run(&["status", "no-such-task"]).await;
    unknown.expect(4);
    assert!(
        unknown.stderr.contains("no-such-task"),
        "{}",
        unknown.stderr
    );
    // Any wait the option accepts is fine, however long.
    s.run(&["status", "no-such-task", "--wait", &u64::MAX.to_string()])
        .await
        .expect(4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_covers_every_option_with_examples() {
    let s = Setup::new().await;
    let run = s.run(&["generate", "--help"]).await;
    run.expect(0);
    for option in [
        "--first",
        "--last",
        "--prompt",
        "--model",
        "--resolution",
        "--aspect-ratio",
        "--duration",
        "--seed",
        "--sample-count",
        "--negative-prompt",
        "--enhance-prompt",
        "--generate-audio",
        "--person-generation",
        "--allow-duplicate",
        "--no-wait",
        "--wait",
        "--json",
        "Examples:",
        "Exit codes:",
    ] {
        assert!(run.stdout.contains(option), "{option} in:\n{}", run.stdout);
    }
    let top = s.run(&["--help"]).await;
    top.expect(0);
    let demo = cfg!(feature = "demo").then_some("demo");
    for word in ["generate", "status", "tasks", "serve", "Exit codes"]
        .into_iter()
        .chain(demo)
    {
        assert!(top.stdout.contains(word), "{word} in:\n{}", top.stdout);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_saves_a_finished_video_even_when_the_download_is_slow() {
    let s = Setup::new().await;
    let mut args = GENERATE.to_vec();
    args.extend(["slow download", "--no-wait", "--json"]);
    let run = s.run(&args).await;
    run.expect(0);
    let task_id = run.json()["submitted"]["task_id"]
        .as_str()
        .unwrap()
        .to_string();
    // Let the task finish on the mock first.
    for _ in 0..200 {
        if s.mock
            .tasks()
            .iter()
            .any(|t| t.task_id == task_id && t.status == "TASK_STATUS_SUCCEED")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Downloads take 15 s: longer than the server gives a save within a call that just looks,
    // so the command must wait for the download rather than exit in the middle of it.
    s.mock
        .add_fault("download:slow=15000".parse().expect("fault rule"));
    let looked = s.run(&["status", &task_id, "--json"]).await;
    looked.expect(0);
    let report = looked.json();
    assert_eq!(report["status"], "succeeded", "{report}");
    let saved = report["videos"][0]["saved_path"]
        .as_str()
        .unwrap_or_else(|| panic!("saved: {report}"));
    assert!(is_mp4(Path::new(saved)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spend_limits_and_confirmation_guard_the_command_line_and_tasks_shows_the_spend() {
    let s = Setup::new().await;
    let mut args = GENERATE.to_vec();
    args.extend(["a careful video", "--duration", "8"]);

    let mut capped = args.clone();
    capped.extend(["--max-video-seconds-per-call", "4"]);
    let run = s.run(&capped).await;
    run.expect(6);
    assert!(
        run.stderr.contains("--max-video-seconds-per-call"),
        "{}",
        run.stderr
    );

    // Above the confirmation threshold with nobody at a terminal: refused unless --yes.
    let mut confirm = args.clone();
    confirm.extend(["--confirm-above-seconds", "4"]);
    let run = s.run(&confirm).await;
    run.expect(6);
    assert!(run.stderr.contains("--yes"), "{}", run.stderr);
    assert_eq!(s.mock.stats().total_requests(), 0, "nothing was sent");

    confirm.extend(["--yes", "--price", "veo-3.1=0.50", "--json", "--no-wait"]);
    let run = s.run(&confirm).await;
    run.expect(0);
    let submitted = &run.json()["submitted"];
    assert_eq!(submitted["video_seconds"], 8);
    assert_eq!(submitted["estimated_cost"], 4.0);
    assert!(run.stderr.contains("estimated cost 4.00"), "{}", run.stderr);

    let listed = s.run(&["tasks"]).await;
    listed.expect(0);
    assert!(
        listed
            .stdout
            .contains("Spent in the last 24 hours: 8 s of video"),
        "{}",
        listed.stdout
    );
    let listed = s
        .run(&["tasks", "--json", "--max-video-seconds-per-day", "20"])
        .await;
    listed.expect(0);
    let spend = &listed.json()["spend"];
    assert_eq!(spend["video_seconds_last_24h"], 8);
    assert_eq!(spend["limit_seconds_per_24h"], 20);
}

#[test]
fn a_database_password_never_shows_in_errors_or_help() {
    const PASSWORD: &str = "pw-cli-test-93b1";
    let run = |args: &[&str], journal: &str| {
        let output = std::process::Command::new(BIN)
            .args(args)
            .env("VEO_JOURNAL", journal)
            .env_remove("RUST_LOG")
            .output()
            .expect("veo-mcp runs");
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    };
    for (args, journal) in [
        // A malformed URL (clap would repeat the value), key/value settings, a server that
        // is not there, and the help that shows environment values.
        (
            &["tasks"][..],
            format!("postgres://veo:{PASSWORD}@db:notaport/veo"),
        ),
        (
            &["tasks"][..],
            format!("host=db user=veo password={PASSWORD}"),
        ),
        (
            &["tasks"][..],
            format!("postgres://veo:{PASSWORD}@127.0.0.1:9/veo"),
        ),
        (
            &["--help"][..],
            format!("postgres://veo:{PASSWORD}@db:5432/veo"),
        ),
    ] {
        let shown = run(args, &journal);
        assert!(!shown.contains(PASSWORD), "{args:?} {journal}:\n{shown}");
        assert!(
            shown.contains("journal") || shown.contains("JOURNAL"),
            "{shown}"
        );
    }
}

/// A build without the `postgres` feature refuses a PostgreSQL journal at once, by flag or by
/// environment, and says how to get one; it never opens the URL as an SQLite file.
#[cfg(not(feature = "postgres"))]
#[test]
fn a_build_without_postgres_refuses_a_postgres_journal() {
    let tmp = tempfile::tempdir().unwrap();
    for (flag, env) in [
        (Some("postgres://veo@db.internal:5432/veo"), None),
        (None, Some("postgresql://veo@db.internal/veo")),
    ] {
        let mut command = std::process::Command::new(BIN);
        command.current_dir(tmp.path()).arg("tasks");
        command.env_remove("VEO_JOURNAL").env_remove("RUST_LOG");
        if let Some(url) = flag {
            command.args(["--journal", url]);
        }
        if let Some(url) = env {
            command.env("VEO_JOURNAL", url);
        }
        let output = command.output().expect("veo-mcp runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        for needed in [
            "--journal (VEO_JOURNAL)",
            "no PostgreSQL journal",
            "--features postgres",
        ] {
            assert!(stderr.contains(needed), "{needed} in:\n{stderr}");
        }
        let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
        assert!(left.is_empty(), "no SQLite file made: {left:?}");
    }
}
