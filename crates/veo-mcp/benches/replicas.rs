//! One replica against two, on each journal backend: streamable HTTP throughput of
//! `get_task_result` (a running task) and `generate_transition_video` (small frames,
//! `allow_duplicate`), with the load spread round-robin over the replicas as a load balancer
//! would, and the CPU time per call of the replicas and of PostgreSQL.
//!
//! `cargo bench -p veo-mcp --bench replicas`. PostgreSQL is measured (in a build with the
//! `postgres` feature) when `VEO_TEST_POSTGRES` names a server (each configuration gets a
//! scratch schema of its own); `VEO_MCP_BENCH_JOURNAL=sqlite` (or `postgresql`) measures one
//! journal only; `VEO_MCP_BENCH_ROUNDS`, `VEO_MCP_BENCH_SECS` and `VEO_MCP_BENCH_CONNS` change
//! the rounds (3), their length (3 s) and the connections (64). Without `--bench` it makes a
//! short smoke run.
//!
//! This machine has two cores, shared by the replicas, PostgreSQL, the mock and the load
//! generator: a second replica adds no core, so calls/s show what the coordination costs, and
//! CPU per call what each call costs wherever it runs.

mod support;

use std::path::Path;

use serde_json::json;
use support::*;
#[cfg(feature = "postgres")]
use veo_mcp::journal::postgres::{PostgresUrl, scratch_schema};

/// Where the replicas of one configuration keep their journal.
enum Backend {
    Sqlite,
    #[cfg(feature = "postgres")]
    Postgres(PostgresUrl),
}

impl Backend {
    fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => "PostgreSQL",
        }
    }

    /// A fresh, empty journal for `label`.
    fn fresh_journal(&self, dir: &Path, label: &str) -> String {
        match self {
            Backend::Sqlite => dir.join(format!("{label}.sqlite3")).display().to_string(),
            #[cfg(feature = "postgres")]
            Backend::Postgres(server) => {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                runtime
                    .block_on(scratch_schema(server, "veo_bench"))
                    .expect("scratch schema")
                    .connection_string()
                    .to_string()
            }
        }
    }
}

/// The journals to measure: SQLite, and PostgreSQL when `VEO_TEST_POSTGRES` names a server in
/// a build with the `postgres` feature.
fn backends() -> Vec<Backend> {
    #[cfg(feature = "postgres")]
    match std::env::var("VEO_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => {
            let server = PostgresUrl::parse(&url).expect("a URL");
            return vec![Backend::Sqlite, Backend::Postgres(server)];
        }
        _ => println!("PostgreSQL not measured: VEO_TEST_POSTGRES is not set"),
    }
    #[cfg(not(feature = "postgres"))]
    println!("PostgreSQL not measured: built without the `postgres` feature");
    vec![Backend::Sqlite]
}

fn main() {
    let (rounds, secs, warm_up) = if smoke() {
        println!("smoke run (use `cargo bench` for figures)");
        (1, 0.3, 0.1)
    } else {
        (
            env_or("VEO_MCP_BENCH_ROUNDS", 3),
            env_or("VEO_MCP_BENCH_SECS", 3.0),
            1.0,
        )
    };
    let conns: usize = env_or("VEO_MCP_BENCH_CONNS", 64);
    let backends = backends();
    let mock = Mock::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let first = small_frame_base64([250, 120, 0], [10, 10, 80]);
    let last = small_frame_base64([10, 10, 80], [250, 220, 120]);
    println!("binary: {BIN}");
    println!(
        "\n## replicas over streamable HTTP, {conns} connections spread round-robin ({rounds} rounds of {secs} s after {warm_up} s warm-up)"
    );
    println!(
        "| journal | replicas | tool | round | calls/s | p50 | p99 | upstream req/s | CPU per call: replicas / PostgreSQL |\n|---|---|---|---|---|---|---|---|---|"
    );
    let mut summary = Vec::new();
    let only = std::env::var("VEO_MCP_BENCH_JOURNAL").unwrap_or_default();
    for backend in backends
        .iter()
        .filter(|b| only.is_empty() || b.name().eq_ignore_ascii_case(&only))
    {
        for replicas in [1usize, 2] {
            for tool in ["get_task_result", "generate_transition_video"] {
                let mut rates = Vec::new();
                let mut cpu = Vec::new();
                let mut db_cpu = Vec::new();
                let mut p99s = Vec::new();
                for round in 1..=rounds {
                    let label = format!("{}-{replicas}-{tool}-{round}", backend.name());
                    let journal = backend.fresh_journal(dir.path(), &label);
                    let env = server_env(&mock, dir.path(), &journal);
                    let servers: Vec<HttpServer> =
                        (0..replicas).map(|_| HttpServer::spawn(&env)).collect();
                    let arguments = if tool == "get_task_result" {
                        // One long-running task, submitted through the first replica and
                        // asked after through all of them.
                        let submit = http_call(
                            servers[0].addr,
                            "generate_transition_video",
                            json!({"image": first, "last_image": last,
                                   "prompt": "polled [mock:processing_ms=86400000]"}),
                        );
                        let task_id = submit_once(servers[0].addr, &submit);
                        json!({"task_id": task_id, "wait_seconds": 0})
                    } else {
                        json!({"image": first, "last_image": last, "allow_duplicate": true,
                               "prompt": "throughput [mock:processing_ms=86400000]"})
                    };
                    let targets: Vec<_> = servers
                        .iter()
                        .map(|s| (s.addr, http_call(s.addr, tool, arguments.clone())))
                        .collect();
                    let pids: Vec<u32> = servers.iter().map(|s| s.child.id()).collect();
                    let mut result = drive_spread(&mock, &pids, &targets, conns, warm_up, secs);
                    let wall = result.elapsed.as_secs_f64().max(1e-9);
                    result.latencies_us.sort_unstable();
                    let calls = result.calls.max(1) as f64;
                    let rate = result.calls as f64 / wall;
                    let p50 = percentile(&result.latencies_us, 0.5) as f64 / 1e3;
                    let p99 = percentile(&result.latencies_us, 0.99) as f64 / 1e3;
                    let per_call = result.cpu_server / calls * 1e6;
                    let db_per_call = result.cpu_database / calls * 1e6;
                    let upstream = result.mock_requests as f64 / wall;
                    println!(
                        "| {} | {replicas} | {tool} | {round} | {rate:.0} | {p50:.2} ms | {p99:.2} ms | {upstream:.0} | {per_call:.0} µs / {db_per_call:.0} µs |",
                        backend.name()
                    );
                    rates.push(rate);
                    cpu.push(per_call);
                    db_cpu.push(db_per_call);
                    p99s.push(p99);
                }
                summary.push((
                    backend.name(),
                    replicas,
                    tool,
                    median(rates),
                    median(p99s),
                    median(cpu),
                    median(db_cpu),
                ));
            }
        }
    }
    println!(
        "\n| journal | replicas | tool | median calls/s | median p99 | median CPU per call: replicas / PostgreSQL |\n|---|---|---|---|---|---|"
    );
    for (backend, replicas, tool, rate, p99, cpu, db_cpu) in summary {
        println!(
            "| {backend} | {replicas} | {tool} | {rate:.0} | {p99:.2} ms | {cpu:.0} µs / {db_cpu:.0} µs |"
        );
    }
}

/// Sends one `request` to `addr` and returns the task id of its result.
fn submit_once(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut conn = Conn::open(addr).await;
        let status = conn.roundtrip(request).await.expect("submit");
        let body = String::from_utf8_lossy(&conn.body).into_owned();
        assert_eq!(status, 200, "{body}");
        let json_text = body
            .lines()
            .find_map(|l| l.strip_prefix("data:"))
            .unwrap_or(&body)
            .trim()
            .to_string();
        let reply: serde_json::Value = serde_json::from_str(&json_text).expect("JSON-RPC reply");
        reply["result"]["structuredContent"]["task_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no task id in {reply}"))
            .to_string()
    })
}
