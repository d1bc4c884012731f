//! Against the floor (issue 12): a minimal rmcp server whose one tool makes one reqwest GET to a
//! local axum handler, built from `../shared/bench/floor` (or `VEO_BENCH_FLOOR`) in a scratch
//! directory, and veo-mcp, run interleaved in the same run: `VEO_MCP_BENCH_ROUNDS` rounds (3),
//! each with fresh processes of both. Each round measures, floor then veo-mcp:
//!
//! - cold start: spawn → `initialize` reply over stdio, 20 starts of each, alternating;
//! - idle RSS after `initialize` and `tools/list`, 1 s idle (both binaries are dropped from the
//!   page cache once, after the builds, so that a freshly linked one is not mapped more widely);
//! - stdio `get_task_result` latency, sequential, 300 warm-up calls then `VEO_MCP_BENCH_CALLS`
//!   (3,000): veo-mcp on a running task (one query to the mock per call) and on a finished task
//!   whose video is saved; the floor's one tool (one GET per call) stands for both;
//! - streamable HTTP (stateless 2026-07-28 calls, 64 keep-alive connections, 1 s warm-up then
//!   `VEO_MCP_BENCH_SECS`, 3 s): the same calls, then veo-mcp's `generate_transition_video` with
//!   two 64×36 PNG frames inline (a fresh server and journal), with the server's CPU time and
//!   context switches per call; the floor, which has no such tool, gets its one tool called with
//!   the same frames and prompt among its arguments (ignored by it): a request of the same size
//!   through rmcp, and one GET;
//!
//! and once, the binaries' sizes (stripped with `strip`). Each server's platform is a process
//! of its own: the floor's axum handler (`srv mock`), and veo-mock's binary, built in the same
//! scratch directory (the bench's in-process mock if it cannot be built). veo-mcp is the server
//! build (`--no-default-features`, release profile) built in the same scratch directory;
//! `VEO_BENCH_SERVER_BUILD=0` measures the bench's own binary (default features) instead. If the
//! floor cannot be built, the run says why and measures veo-mcp alone. A smoke run (without
//! `--bench`) builds neither, and measures veo-mcp alone, briefly.

mod build;

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::*;

/// One round's figures of one server, by key.
type Round = BTreeMap<String, f64>;

/// How a figure is read against its target.
#[derive(Clone, Copy)]
enum Target {
    /// Informative only.
    None,
    /// veo-mcp ÷ floor at most this.
    RatioAtMost(f64),
    /// veo-mcp ÷ floor at least this.
    RatioAtLeast(f64),
    /// veo-mcp at most the floor plus this.
    FloorPlus(f64),
    /// veo-mcp at most this, whatever the floor.
    AtMost(f64),
    /// veo-mcp at least this, whatever the floor.
    AtLeast(f64),
}

/// One row of the table: veo-mcp's figure `key`, the floor's `floor` (if it has one).
struct Figure {
    label: &'static str,
    key: &'static str,
    floor: Option<&'static str>,
    target: Target,
    digits: usize,
}

const fn fig(
    label: &'static str,
    key: &'static str,
    floor: Option<&'static str>,
    target: Target,
    digits: usize,
) -> Figure {
    Figure {
        label,
        key,
        floor,
        target,
        digits,
    }
}

#[rustfmt::skip]
const FIGURES: &[Figure] = &[
    fig("cold start, stdio spawn → initialize reply (ms)", "cold_ms", Some("cold_ms"), Target::RatioAtMost(1.0), 2),
    fig("idle RSS (MiB)", "idle_rss_mib", Some("idle_rss_mib"), Target::FloorPlus(1.5), 1),
    fig("binary (MB)", "binary_mb", Some("binary_mb"), Target::None, 1),
    fig("binary, stripped (MB)", "stripped_mb", Some("stripped_mb"), Target::RatioAtMost(1.3), 1),
    fig("stdio get_task_result, running task, p50 (ms)", "stdio_running_p50", Some("stdio_running_p50"), Target::RatioAtMost(1.2), 3),
    fig("… p99 (ms)", "stdio_running_p99", Some("stdio_running_p99"), Target::None, 3),
    fig("stdio get_task_result, finished and saved task, p50 (ms)", "stdio_finished_p50", Some("stdio_running_p50"), Target::RatioAtMost(0.8), 3),
    fig("… p99 (ms)", "stdio_finished_p99", Some("stdio_running_p99"), Target::None, 3),
    fig("HTTP get_task_result, running task (calls/s)", "http_running_rate", Some("http_running_rate"), Target::RatioAtLeast(0.9), 0),
    fig("… p99 (ms)", "http_running_p99", Some("http_running_p99"), Target::None, 2),
    fig("… server CPU per call (µs)", "http_running_cpu_us", Some("http_running_cpu_us"), Target::None, 0),
    fig("… server context switches per call", "http_running_cs", Some("http_running_cs"), Target::AtMost(1.5), 2),
    fig("… of which voluntary (waits, hand-offs)", "http_running_vcs", Some("http_running_vcs"), Target::None, 2),
    fig("HTTP get_task_result, finished and saved task (calls/s)", "http_finished_rate", Some("http_running_rate"), Target::RatioAtLeast(1.2), 0),
    fig("… p99 (ms)", "http_finished_p99", Some("http_running_p99"), Target::None, 2),
    fig("… server CPU per call (µs)", "http_finished_cpu_us", Some("http_running_cpu_us"), Target::None, 0),
    fig("… server context switches per call", "http_finished_cs", Some("http_running_cs"), Target::None, 2),
    fig("… of which voluntary (waits, hand-offs)", "http_finished_vcs", Some("http_running_vcs"), Target::None, 2),
    fig("HTTP generate_transition_video, tiny frames (calls/s)", "http_generate_rate", Some("http_generate_rate"), Target::AtLeast(6000.0), 0),
    fig("… p99 (ms)", "http_generate_p99", Some("http_generate_p99"), Target::AtMost(15.0), 2),
    fig("… server CPU per call (µs)", "http_generate_cpu_us", Some("http_generate_cpu_us"), Target::None, 0),
    fig("… server context switches per call", "http_generate_cs", Some("http_generate_cs"), Target::None, 2),
    fig("… of which voluntary (waits, hand-offs)", "http_generate_vcs", Some("http_generate_vcs"), Target::None, 2),
];

/// How much each round measures.
struct Sizes {
    rounds: usize,
    starts: usize,
    warm_up_calls: usize,
    calls: usize,
    idle: Duration,
    http_warm_up: f64,
    http_secs: f64,
    conns: usize,
}

impl Sizes {
    fn get() -> Sizes {
        if smoke() {
            return Sizes {
                rounds: 1,
                starts: 2,
                warm_up_calls: 5,
                calls: 20,
                idle: Duration::from_millis(50),
                http_warm_up: 0.1,
                http_secs: 0.3,
                conns: 8,
            };
        }
        Sizes {
            rounds: env_or("VEO_MCP_BENCH_ROUNDS", 3),
            starts: 20,
            warm_up_calls: 300,
            calls: env_or("VEO_MCP_BENCH_CALLS", 3000),
            idle: Duration::from_secs(1),
            http_warm_up: 1.0,
            http_secs: env_or("VEO_MCP_BENCH_SECS", 3.0),
            conns: env_or("VEO_MCP_BENCH_CONNS", 64),
        }
    }
}

/// A server's platform as a process of its own, stopped when dropped: the floor's
/// (`srv mock ADDR`) or veo-mcp's (the `veo-mock` binary).
struct Platform(HttpServer);

impl Platform {
    /// The API key veo-mock is started with.
    const VEO_MOCK_KEY: &str = "floor-bench-key";

    /// The floor's platform.
    fn floor(floor: &Path) -> Platform {
        Platform::start(floor, &["mock"])
    }

    /// veo-mcp's platform: veo-mock, accepting [`Platform::VEO_MOCK_KEY`].
    fn veo_mock(bin: &Path) -> Platform {
        Platform::start(bin, &["--api-key", Platform::VEO_MOCK_KEY, "--addr"])
    }

    /// Runs `program` with `args` and a free address after them (the one it listens on).
    fn start(program: &Path, args: &[&str]) -> Platform {
        Platform(HttpServer::spawn_program(program, &[], args))
    }

    /// Where it answers.
    fn base(&self) -> String {
        format!("http://{}", self.0.addr)
    }

    /// veo-mcp's `env` with this veo-mock as its platform.
    fn platform_of(&self, mut env: Vec<(String, String)>) -> Vec<(String, String)> {
        for (name, value) in &mut env {
            match name.as_str() {
                "JIEKOU_BASE_URL" => *value = self.base(),
                "JIEKOU_API_KEY" => *value = Platform::VEO_MOCK_KEY.to_string(),
                _ => {}
            }
        }
        env
    }
}

/// Builds the floor (and veo-mcp's server build), runs both interleaved and prints every figure
/// with its ratio to the floor.
pub fn against_floor(mock: &Mock, dir: &Path) {
    let sizes = Sizes::get();
    let scratch = build::scratch_dir();
    println!(
        "\n## against the floor (issue 12): {} interleaved rounds",
        sizes.rounds
    );
    let (floor, veo) = if smoke() {
        println!("smoke run: the floor is not built; veo-mcp alone, briefly");
        (None, PathBuf::from(BIN))
    } else {
        builds(&scratch)
    };
    let upstream = floor.as_deref().map(Platform::floor);
    let floor_env: Vec<(String, String)> = upstream
        .iter()
        .map(|u| ("FLOOR_BASE".to_string(), u.base()))
        .collect();
    // Like the floor's, veo-mcp's platform runs as a process of its own, not in the bench's
    // process beside the load generator; the smoke run keeps the bench's in-process mock.
    let platform = if smoke() {
        None
    } else {
        match build::build_mock(&scratch) {
            Ok(bin) => Some(Platform::veo_mock(&bin)),
            Err(e) => {
                println!("VEO-MOCK NOT BUILT: {e}\nveo-mcp's platform is the bench's own mock.");
                None
            }
        }
    };
    let veo_env_for = |env: Vec<(String, String)>| match &platform {
        Some(platform) => platform.platform_of(env),
        None => env,
    };
    let journal = dir.join("floor-veo.sqlite3").display().to_string();
    let veo_env = veo_env_for(server_env(mock, dir, &journal));
    let (running, finished) = veo_tasks(&veo, &veo_env);
    let floor_args = json!({"task_id": "t"});
    let running_args = json!({"task_id": running, "wait_seconds": 0});
    let finished_args = json!({"task_id": finished, "wait_seconds": 0});
    let frames = GenerateFrames::new();
    let floor_generate = json!({"task_id": "t", "image": frames.first,
        "last_image": frames.last, "prompt": GENERATE_PROMPT});

    let mut floor_rounds: Vec<Round> = Vec::new();
    let mut veo_rounds: Vec<Round> = Vec::new();
    for round in 1..=sizes.rounds {
        let mut f = Round::new();
        let mut v = Round::new();
        let (mut floor_ms, mut veo_ms) = (Vec::new(), Vec::new());
        for _ in 0..sizes.starts {
            if let Some(bin) = &floor {
                floor_ms.push(cold_start(bin, &floor_env));
            }
            veo_ms.push(cold_start(&veo, &veo_env));
        }
        if let Some(bin) = &floor {
            f.insert("cold_ms".into(), median(floor_ms));
            stdio(bin, &floor_env, &[("running", &floor_args)], &sizes, &mut f);
        }
        v.insert("cold_ms".into(), median(veo_ms));
        let calls = [("running", &running_args), ("finished", &finished_args)];
        stdio(&veo, &veo_env, &calls, &sizes, &mut v);
        if let Some(bin) = &floor {
            let server = HttpServer::spawn_program(bin, &floor_env, &["http"]);
            http(
                mock,
                &server,
                "running",
                (READ_TOOL, &floor_args),
                &sizes,
                &mut f,
            );
            http(
                mock,
                &server,
                "generate",
                (READ_TOOL, &floor_generate),
                &sizes,
                &mut f,
            );
        }
        let server = HttpServer::spawn_program(&veo, &veo_env, &["serve", "--http"]);
        http(
            mock,
            &server,
            "running",
            (READ_TOOL, &running_args),
            &sizes,
            &mut v,
        );
        http(
            mock,
            &server,
            "finished",
            (READ_TOOL, &finished_args),
            &sizes,
            &mut v,
        );
        drop(server);
        let journal = dir.join(format!("floor-generate-{round}.sqlite3"));
        let env = veo_env_for(server_env(mock, dir, &journal.display().to_string()));
        generate(mock, &veo, &env, &frames, &sizes, &mut v);
        if !f.is_empty() {
            println!("round {round}: floor {f:.3?}");
        }
        println!("round {round}: veo-mcp {v:.3?}");
        floor_rounds.push(f);
        veo_rounds.push(v);
    }
    for (bin, rounds) in [
        (floor.as_ref(), &mut floor_rounds),
        (Some(&veo), &mut veo_rounds),
    ] {
        if let Some(bin) = bin {
            let (size, stripped) = build::sizes(bin, &scratch_or_temp(&scratch));
            for r in rounds.iter_mut() {
                r.insert("binary_mb".into(), size as f64 / 1e6);
                if let Some(stripped) = stripped {
                    r.insert("stripped_mb".into(), stripped as f64 / 1e6);
                }
            }
        }
    }
    report(&floor_rounds, &veo_rounds);
}

/// The floor and veo-mcp's server build; each failure said, with what is measured instead.
fn builds(scratch: &Path) -> (Option<PathBuf>, PathBuf) {
    if let Err(e) = std::fs::create_dir_all(scratch) {
        println!("FLOOR NOT BUILT: cannot create {}: {e}", scratch.display());
        return (None, PathBuf::from(BIN));
    }
    println!(
        "building the floor from {} in {} …",
        build::floor_sources().display(),
        scratch.display()
    );
    let floor = match build::build_floor(scratch) {
        Ok(bin) => Some(bin),
        Err(e) => {
            println!("FLOOR NOT BUILT: {e}\nveo-mcp's figures follow, without ratios.");
            None
        }
    };
    let veo = if std::env::var("VEO_BENCH_SERVER_BUILD").as_deref() == Ok("0") {
        PathBuf::from(BIN)
    } else {
        println!("building veo-mcp's server build (--no-default-features, release) …");
        build::build_server(scratch).unwrap_or_else(|e| {
            println!("SERVER BUILD FAILED: {e}\nmeasuring the bench's binary (default features).");
            PathBuf::from(BIN)
        })
    };
    if let Some(floor) = &floor {
        println!("floor: {}", floor.display());
    }
    println!("veo-mcp: {}", veo.display());
    for bin in floor.iter().chain([&veo]) {
        if let Err(e) = build::settle(bin) {
            println!("{} stays in the page cache as built: {e}", bin.display());
        }
    }
    (floor, veo)
}

fn scratch_or_temp(scratch: &Path) -> PathBuf {
    if scratch.is_dir() {
        scratch.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// A running task and a finished one whose video is saved, in veo-mcp's journal.
fn veo_tasks(veo: &Path, env: &[(String, String)]) -> (String, String) {
    let server = StdioServer::spawn_program(veo, env);
    running_and_finished(&server, "floor")
}

/// Spawn → `initialize` reply over stdio, in milliseconds.
fn cold_start(bin: &Path, env: &[(String, String)]) -> f64 {
    let started = Instant::now();
    let mut child = program_command(bin, env, &[]).spawn().expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let request = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}});
    let _ = writeln!(stdin, "{request}");
    let _ = stdin.flush();
    let mut line = String::new();
    stdout.read_line(&mut line).expect("initialize reply");
    let elapsed = started.elapsed();
    assert!(line.contains("\"result\""), "initialize reply: {line}");
    drop(stdin);
    let _ = child.wait();
    elapsed.as_secs_f64() * 1e3
}

/// `tools/call get_task_result` with `args`; panics on an error of either kind.
fn call(server: &StdioServer, args: &Value) {
    let reply = server.request(
        "tools/call",
        json!({"name": "get_task_result", "arguments": args}),
    );
    let result = reply.get("result").unwrap_or_else(|| panic!("{reply}"));
    assert_ne!(result["isError"], true, "{result}");
}

/// Idle RSS, then the stdio latency of each kind of call, into `out`.
fn stdio(
    bin: &Path,
    env: &[(String, String)],
    calls: &[(&str, &Value)],
    sizes: &Sizes,
    out: &mut Round,
) {
    let server = StdioServer::spawn_program(bin, env);
    let tools = server.request("tools/list", json!({}));
    assert!(tools["result"]["tools"].is_array(), "{tools}");
    std::thread::sleep(sizes.idle);
    out.insert("idle_rss_mib".into(), vm_rss_kib(server.pid()) / 1024.0);
    for (kind, args) in calls {
        for _ in 0..sizes.warm_up_calls {
            call(&server, args);
        }
        let mut us = Vec::with_capacity(sizes.calls);
        for _ in 0..sizes.calls {
            let t = Instant::now();
            call(&server, args);
            us.push(t.elapsed().as_secs_f64() * 1e6);
        }
        us.sort_by(f64::total_cmp);
        out.insert(format!("stdio_{kind}_p50"), percentile(&us, 0.5) / 1e3);
        out.insert(format!("stdio_{kind}_p99"), percentile(&us, 0.99) / 1e3);
    }
}

/// One HTTP load run of `tool` with `args` against `server`, into `out` as `kind`.
fn http(
    mock: &Mock,
    server: &HttpServer,
    kind: &str,
    (tool, args): (&str, &Value),
    sizes: &Sizes,
    out: &mut Round,
) {
    let request = http_call(server.addr, tool, args.clone());
    let result = drive(
        mock,
        server.child.id(),
        server.addr,
        request,
        sizes.conns,
        sizes.http_warm_up,
        sizes.http_secs,
    );
    record(kind, result, out);
}

/// The tool both servers have: veo-mcp's status query, and the floor's one tool.
const READ_TOOL: &str = "get_task_result";

/// The prompt of the `generate_transition_video` runs: the mock keeps the tasks running.
const GENERATE_PROMPT: &str = "floor generate [mock:processing_ms=86400000]";

/// The two tiny frames of the `generate_transition_video` runs, as Base64.
struct GenerateFrames {
    first: String,
    last: String,
}

impl GenerateFrames {
    fn new() -> GenerateFrames {
        GenerateFrames {
            first: small_frame_base64([250, 120, 0], [10, 10, 80]),
            last: small_frame_base64([10, 10, 80], [250, 220, 120]),
        }
    }
}

/// `generate_transition_video` with tiny frames over HTTP, on a fresh server (with `env`, which
/// names a fresh journal).
fn generate(
    mock: &Mock,
    veo: &Path,
    env: &[(String, String)],
    frames: &GenerateFrames,
    sizes: &Sizes,
    out: &mut Round,
) {
    let server = HttpServer::spawn_program(veo, env, &["serve", "--http"]);
    let args = json!({"image": frames.first, "last_image": frames.last,
                      "prompt": GENERATE_PROMPT, "allow_duplicate": true});
    http(
        mock,
        &server,
        "generate",
        ("generate_transition_video", &args),
        sizes,
        out,
    );
}

fn record(kind: &str, mut result: RoundResult, out: &mut Round) {
    let wall = result.elapsed.as_secs_f64().max(1e-9);
    let calls = result.calls.max(1) as f64;
    result.latencies_us.sort_unstable();
    out.insert(format!("http_{kind}_rate"), result.calls as f64 / wall);
    out.insert(
        format!("http_{kind}_p99"),
        percentile(&result.latencies_us, 0.99) as f64 / 1e3,
    );
    out.insert(
        format!("http_{kind}_cpu_us"),
        result.cpu_server / calls * 1e6,
    );
    out.insert(
        format!("http_{kind}_cs"),
        result.context_switches as f64 / calls,
    );
    out.insert(
        format!("http_{kind}_vcs"),
        result.voluntary_switches as f64 / calls,
    );
}

fn vm_rss_kib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// The table: medians over the rounds, side by side, with ratios and targets.
fn report(floor: &[Round], veo: &[Round]) {
    let med = |rounds: &[Round], key: &str| {
        let values: Vec<f64> = rounds.iter().filter_map(|r| r.get(key).copied()).collect();
        (!values.is_empty()).then(|| median(values))
    };
    println!(
        "\n| figure (median of {} rounds) | floor | veo-mcp | ratio | target | |\n|---|---|---|---|---|---|",
        veo.len()
    );
    for figure in FIGURES {
        let Some(v) = med(veo, figure.key) else {
            continue;
        };
        let f = figure.floor.and_then(|key| med(floor, key));
        let d = figure.digits;
        let ratio = f.filter(|f| *f > 0.0).map(|f| v / f);
        let (target, mut met) = match figure.target {
            Target::None => (String::new(), None),
            Target::RatioAtMost(x) => (format!("≤ {x}× floor"), ratio.map(|r| r <= x)),
            Target::RatioAtLeast(x) => (format!("≥ {x}× floor"), ratio.map(|r| r >= x)),
            Target::FloorPlus(x) => (format!("≤ floor + {x}"), f.map(|f| v <= f + x)),
            Target::AtMost(x) => (format!("≤ {x}"), Some(v <= x)),
            Target::AtLeast(x) => (format!("≥ {x}"), Some(v >= x)),
        };
        if smoke() {
            met = None; // a debug build, briefly: no verdicts
        }
        println!(
            "| {} | {} | {v:.d$} | {} | {target} | {} |",
            figure.label,
            f.map_or("–".into(), |f| format!("{f:.d$}")),
            ratio.map_or("–".into(), |r| format!("{r:.2}")),
            match met {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "",
            }
        );
    }
}
