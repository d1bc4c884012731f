//! Several `veo-mcp serve --http` processes sharing one journal and one veo-mock, as a team
//! runs them behind one address: on PostgreSQL (in a build with the `postgres` feature, when
//! `VEO_TEST_POSTGRES` names a server; `.ci/run` sets it) and on one SQLite file (processes on
//! one machine).
//!
//! - Distinct and identical requests spread over the replicas at once make one upstream task
//!   each, and with ambiguous submit faults no request is sent twice.
//! - A task created through one replica is reported by another.
//! - A replica killed with SIGKILL while its tasks run and download has them taken over: every
//!   video is saved, once, with no call from any agent.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};
use veo_mcp::journal::{self, JournalLocation};
use veo_mock::{FaultRule, MockConfig, MockServer};

/// The journals the replicas can share: one SQLite file in `dir`, and (in a build with the
/// `postgres` feature) a fresh PostgreSQL schema when the test server is set.
async fn shared_journals(dir: &Path) -> Vec<(&'static str, String)> {
    let sqlite = ("sqlite", dir.join("journal.sqlite3").display().to_string());
    #[cfg(feature = "postgres")]
    if let Some(schema) = postgres::scratch_journal().await {
        return vec![sqlite, ("postgres", schema)];
    }
    vec![sqlite]
}

/// One `veo-mcp serve --http` process.
struct Replica {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Replica {
    /// Starts a replica on `journal`, saving to `out` (or not, with `None`), with `lease`.
    async fn start(mock: &MockServer, journal: &str, out: Option<&Path>, lease: u64) -> Replica {
        let mut command = Command::new(env!("CARGO_BIN_EXE_veo-mcp"));
        command
            .args(["serve", "--http", "127.0.0.1:0"])
            .env("JIEKOU_API_KEY", mock.api_key())
            .env("JIEKOU_BASE_URL", mock.base_url())
            .env("VEO_JOURNAL", journal)
            .env("VEO_LEASE_SECONDS", lease.to_string())
            .env(
                "RUST_LOG",
                std::env::var("REPLICA_LOG").unwrap_or("info,rmcp=warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        match out {
            Some(out) => command.env("VEO_OUTPUT_DIR", out).env_remove("VEO_NO_SAVE"),
            None => command.env("VEO_NO_SAVE", "true"),
        };
        let mut child = command.spawn().expect("veo-mcp starts");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let log = Arc::new(Mutex::new(Vec::new()));
        let addr = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                log.lock().unwrap().push(line.clone());
                if let Some(rest) = line.split("streamable HTTP at http://").nth(1) {
                    return rest.trim_end_matches("/mcp").parse::<SocketAddr>().ok();
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("the replica did not start: {:?}", log.lock().unwrap()));
        let keep = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                keep.lock().unwrap().push(line);
            }
        });
        Replica { child, addr, log }
    }

    async fn generate(&self, prompt: &str) -> Value {
        call_stateless(self.addr, "generate_transition_video", request(prompt)).await
    }

    async fn result(&self, task_id: &str) -> Value {
        let arguments = json!({"task_id": task_id, "wait_seconds": 0});
        call_stateless(self.addr, "get_task_result", arguments).await
    }

    async fn list(&self, limit: u32) -> Value {
        let arguments = json!({"limit": limit});
        call_stateless(self.addr, "list_tasks", arguments).await
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

/// Valid generate_transition_video arguments for `prompt`: two small PNG frames.
fn request(prompt: &str) -> Value {
    use base64::Engine as _;
    let frame = base64::engine::general_purpose::STANDARD.encode(veo_core::sample::gradient_png(
        32,
        18,
        [200, 40, 40],
        [40, 40, 200],
    ));
    json!({"image": frame, "last_image": frame, "prompt": prompt})
}

/// An HTTP client whose every request is bounded, so a wedged replica fails a test instead of
/// hanging it.
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .expect("HTTP client")
}

/// A stateless 2026-07-28 `tools/call` of `tool` over HTTP; returns the JSON-RPC result.
async fn call_stateless(addr: SocketAddr, tool: &str, arguments: Value) -> Value {
    let params = json!({"name": tool, "arguments": arguments});
    rpc(addr, "tools/call", params, json!({}), tool).await["result"].clone()
}

/// One stateless 2026-07-28 request (`name`: its `Mcp-Name` header) from a client with
/// `capabilities`; returns the JSON-RPC reply.
async fn rpc(
    addr: SocketAddr,
    method: &str,
    mut params: Value,
    capabilities: Value,
    name: &str,
) -> Value {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": capabilities,
        "io.modelcontextprotocol/clientInfo": {"name": "replicas", "version": "1"},
    });
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let body = http()
        .post(format!("http://{addr}/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", method)
        .header("mcp-name", name)
        .body(call.to_string())
        .send()
        .await
        .expect("replica answers")
        .text()
        .await
        .expect("reply body");
    serde_json::from_str(&body).unwrap_or_else(|_| {
        body.lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
            .find(|v| v.get("id").is_some())
            .unwrap_or_else(|| panic!("no JSON-RPC reply in {body}"))
    })
}

fn task_id_of(result: &Value) -> Option<String> {
    (result["isError"] != true)
        .then(|| {
            result["structuredContent"]["task_id"]
                .as_str()
                .map(String::from)
        })
        .flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_spread_over_replicas_make_one_task_each_and_none_is_sent_twice() {
    let dir = tempfile::tempdir().unwrap();
    for (backend, journal) in shared_journals(dir.path()).await {
        let mock = MockServer::start(MockConfig::fast()).await.unwrap();
        // Submits the platform receives, then fails to answer: veo cannot know their outcome.
        for fault in [
            "submit:created_then_500:rate=0.04",
            "submit:created_then_reset:rate=0.04",
        ] {
            mock.add_fault(fault.parse::<FaultRule>().unwrap());
        }
        let mut replicas = Vec::new();
        for _ in 0..3 {
            let replica = Replica::start(&mock, &journal, None, 30).await;
            // What a load balancer asks, without the token.
            for (path, answer) in [("livez", "live"), ("readyz", "ready")] {
                let response = http()
                    .get(format!("http://{}/{path}", replica.addr))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200, "{backend}: /{path}");
                assert_eq!(response.text().await.unwrap().trim(), answer);
            }
            replicas.push(replica);
        }
        let replicas = Arc::new(replicas);
        let calls = (0..250).map(|n| {
            let replicas = replicas.clone();
            tokio::spawn(async move {
                let prompt = if n < 200 {
                    format!("distinct {n}")
                } else {
                    "identical".into()
                };
                let result = replicas[n % 3].generate(&prompt).await;
                (n, result)
            })
        });
        let mut distinct = Vec::new();
        let mut identical = HashSet::new();
        for call in calls {
            let (n, result) = call.await.unwrap();
            assert!(result.is_object(), "{backend}: call {n} got no result");
            match (n < 200, task_id_of(&result)) {
                (true, Some(task_id)) => distinct.push((n, task_id)),
                (false, Some(task_id)) => {
                    identical.insert(task_id);
                }
                (_, None) => {}
            }
        }
        let stats = mock.stats();
        assert_eq!(
            stats.submits(),
            201,
            "{backend}: each distinct request is sent once ({stats:?})"
        );
        assert_eq!(stats.tasks_created, 201, "{backend}");
        assert!(
            identical.len() <= 1,
            "{backend}: identical calls got {identical:?}"
        );
        let unique: HashSet<&String> = distinct.iter().map(|(_, id)| id).collect();
        assert_eq!(
            unique.len(),
            distinct.len(),
            "{backend}: a task id was given twice"
        );
        assert!(
            distinct.len() >= 150,
            "{backend}: only {} submits answered",
            distinct.len()
        );

        // A task created through one replica is reported by the others, from the platform
        // and from the shared journal.
        let prompts: std::collections::HashMap<&str, usize> =
            distinct.iter().map(|(n, id)| (id.as_str(), *n)).collect();
        let (_, task_id) = distinct.iter().find(|(n, _)| n % 3 == 0).unwrap();
        let mut listed_by = Vec::new();
        for other in &replicas[1..] {
            let report = other.result(task_id).await;
            assert_ne!(report["isError"], true, "{backend}: {report}");
            assert_eq!(report["structuredContent"]["task_id"], task_id.as_str());
            let listed = other.list(100).await;
            let tasks = listed["structuredContent"]["tasks"]
                .as_array()
                .unwrap()
                .clone();
            assert_eq!(tasks.len(), 100, "{backend}: {listed}");
            for task in &tasks {
                if let (Some(id), Some(prompt)) =
                    (task["task_id"].as_str(), task["prompt"].as_str())
                    && let Some(n) = prompts.get(id)
                {
                    assert_eq!(prompt, format!("distinct {n}"), "{backend}");
                }
            }
            let ids: Vec<Value> = tasks.iter().map(|t| t["task_id"].clone()).collect();
            listed_by.push(ids);
        }
        // A client of the Tasks extension asks any replica about a task made through another.
        let tasks = json!({"extensions": {"io.modelcontextprotocol/tasks": {}}});
        let got = rpc(
            replicas[2].addr,
            "tasks/get",
            json!({"taskId": task_id}),
            tasks,
            task_id,
        )
        .await;
        assert_eq!(
            got["result"]["taskId"],
            task_id.as_str(),
            "{backend}: {got}"
        );
        assert!(
            ["working", "completed"].contains(&got["result"]["status"].as_str().unwrap_or("")),
            "{backend}: {got}"
        );
        assert_eq!(
            listed_by[0], listed_by[1],
            "{backend}: both replicas list the same journal"
        );
        let made_elsewhere = listed_by[0]
            .iter()
            .filter(|id| {
                id.as_str()
                    .and_then(|id| prompts.get(id))
                    .is_some_and(|n| n % 3 != 1)
            })
            .count();
        assert!(
            made_elsewhere > 0,
            "{backend}: replica 1 lists tasks made through the others"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replica_s_tasks_are_taken_over_and_every_video_is_saved_once() {
    const TASKS: usize = 6;
    const LEASE_SECONDS: u64 = 2;
    let dir = tempfile::tempdir().unwrap();
    for (backend, journal) in shared_journals(dir.path()).await {
        let out = dir.path().join(format!("videos-{backend}"));
        let mock = MockServer::start(
            MockConfig::default().with_timing(Duration::from_millis(100), Duration::from_secs(3)),
        )
        .await
        .unwrap();
        // Downloads take a while, so the kill finds some under way.
        mock.add_fault("download:slow=1500".parse::<FaultRule>().unwrap());
        let mut doomed = Replica::start(&mock, &journal, Some(&out), LEASE_SECONDS).await;
        let survivor = Replica::start(&mock, &journal, Some(&out), LEASE_SECONDS).await;
        let mut tasks = Vec::new();
        for n in 0..TASKS {
            let submitted = doomed.generate(&format!("taken over {n}")).await;
            tasks.push(task_id_of(&submitted).unwrap_or_else(|| panic!("{submitted}")));
        }
        // The doomed replica holds them all: it followed them since their submit.
        let started = Instant::now();
        while mock.stats().downloads == 0
            && mock.stats().requests_to(veo_mock::Endpoint::Download) == 0
        {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{backend}: no download began"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        doomed.child.start_kill().unwrap();
        doomed.child.wait().await.unwrap();
        let killed_at = Instant::now();
        let log_at_kill = survivor.log.lock().unwrap().len();

        // Nobody calls a tool from here on: the survivor must find the tasks by itself.
        let location = JournalLocation::parse(&journal).unwrap();
        let reader = journal::open(&location).await.unwrap();
        loop {
            let mut saved = 0;
            for task_id in &tasks {
                let entry = reader.get(task_id).await.unwrap().unwrap();
                if entry.all_saved() {
                    saved += 1;
                }
            }
            if saved == TASKS {
                break;
            }
            // The lease runs out, the next sweep takes the tasks, and the last downloads
            // (1.5 s each, two at a time) end: seconds, with room for a loaded machine.
            assert!(
                killed_at.elapsed() < Duration::from_secs(30),
                "{backend}: {saved} of {TASKS} saved after the kill\n{}",
                survivor.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        for task_id in &tasks {
            let entry = reader.get(task_id).await.unwrap().unwrap();
            let path = entry.videos[0].path.clone().unwrap();
            let bytes = std::fs::read(&path).unwrap();
            assert_eq!(Some(bytes.len() as u64), entry.videos[0].bytes, "{backend}");
            veo_core::download::check_mp4(&bytes).unwrap();
            // One video file per task: no copy under another name.
            let videos: Vec<_> = std::fs::read_dir(path.parent().unwrap())
                .unwrap()
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| !name.starts_with('.'))
                .collect();
            assert_eq!(videos.len(), 1, "{backend}: {videos:?}");
        }
        let after_kill = survivor.log.lock().unwrap()[log_at_kill..].join("\n");
        assert!(
            after_kill.contains("following tasks from the journal"),
            "{backend}: the survivor took the tasks over after the kill\n{}",
            survivor.log()
        );
        // Each video was fetched once, but for those the kill cut short (two at a time).
        let downloads = mock.stats().downloads;
        assert!(
            (TASKS as u64..=TASKS as u64 + 2).contains(&downloads),
            "{backend}: {downloads} downloads for {TASKS} videos"
        );
    }
}

/// The PostgreSQL journal's part, in a build with the `postgres` feature.
#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use veo_mcp::journal::postgres::{PostgresUrl, scratch_schema};

    /// A fresh PostgreSQL schema's connection string when the test server is set (otherwise
    /// the skip is said on stderr).
    pub(super) async fn scratch_journal() -> Option<String> {
        match std::env::var("VEO_TEST_POSTGRES") {
            Ok(url) if !url.is_empty() => {
                let server = PostgresUrl::parse(&url).expect("VEO_TEST_POSTGRES is a URL");
                let scratch = scratch_schema(&server, "veo_test")
                    .await
                    .expect("scratch schema");
                Some(scratch.connection_string().to_string())
            }
            _ => {
                use std::io::Write as _;
                let _ = writeln!(
                    std::io::stderr(),
                    "note: {} skips PostgreSQL: VEO_TEST_POSTGRES is not set (.ci/run sets it)",
                    std::thread::current().name().unwrap_or("a replica test")
                );
                None
            }
        }
    }

    #[tokio::test]
    async fn a_replica_is_ready_only_while_its_database_is() {
        let Some(server) = std::env::var("VEO_TEST_POSTGRES")
            .ok()
            .filter(|s| !s.is_empty())
        else {
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "note: a_replica_is_ready_only_while_its_database_is skipped: VEO_TEST_POSTGRES is not set (.ci/run sets it)"
            );
            return;
        };
        let server = PostgresUrl::parse(&server).unwrap();
        let scratch = scratch_schema(&server, "veo_test").await.unwrap();
        let mock = MockServer::start(MockConfig::fast()).await.unwrap();
        let replica = Replica::start(&mock, scratch.connection_string(), None, 30).await;
        let ready = || async {
            let response = http()
                .get(format!("http://{}/readyz", replica.addr))
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        };
        assert_eq!(ready().await.0, 200);
        // The journal's tables go away (a wrong database, a restore gone bad): not ready, and why.
        let schema = scratch
            .connection_string()
            .split("search_path%3D")
            .nth(1)
            .unwrap()
            .to_string();
        let (client, connection) =
            tokio_postgres::connect(server.connection_string(), tokio_postgres::NoTls)
                .await
                .unwrap();
        tokio::spawn(connection);
        client
            .batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
            .await
            .unwrap();
        let (status, reason) = ready().await;
        assert_eq!(status, 503, "{reason}");
        assert!(reason.contains("journal cannot be used"), "{reason}");
        assert!(
            !reason.contains("postgres"),
            "no database details without a token: {reason}"
        );
        assert!(replica.log().contains("veo_schema"), "the log says why");
        let live = http()
            .get(format!("http://{}/livez", replica.addr))
            .send()
            .await
            .unwrap();
        assert_eq!(live.status(), 200, "alive all the same");
    }
}
