//! MCP-level benchmarks of the `veo-mcp` binary against veo-mock on loopback.
//!
//! Run everything: `cargo bench -p veo-mcp --bench mcp`. One part only:
//! `VEO_MCP_BENCH_ONLY=<part> cargo bench -p veo-mcp --bench mcp`, where `<part>` is one (or a
//! comma-separated list) of:
//!
//! - `floor`: side by side with the floor of issue 12 (a minimal rmcp server with one HTTP hop,
//!   built from `../shared/bench/floor`, or `VEO_BENCH_FLOOR`, in `<target>/bench-floor`), 3
//!   interleaved rounds: cold start, idle RSS, binary size, stdio latency and HTTP throughput
//!   of `get_task_result` on a running and a finished task, `generate_transition_video` over
//!   HTTP; each figure with its ratio to the floor and its target (see `floor/mod.rs`).
//! - `cold_start`: spawn the binary (stdio) → `initialize` reply; also `--version` (process
//!   spawn and exit, the floor) and an in-memory journal (what the journal costs).
//! - `latency`: sequential `tools/call get_task_result` (`wait_seconds: 0`) over stdio, each
//!   including the HTTP hop to the mock; a running task and a finished, saved one.
//! - `idle_rss`: the server's peak RSS (`VmHWM`) after `initialize` and `tools/list`.
//! - `large_submit`: `generate_transition_video` with two 20 MB PNG files; wall time and the
//!   server's peak RSS over its RSS just before.
//! - `throughput`: streamable HTTP (stateless 2026-07-28 requests), 64 keep-alive connections
//!   with one call in flight each: `generate_transition_video` with small frames
//!   (`allow_duplicate: true`, a fresh server and journal per round) and `get_task_result`;
//!   calls/s, p50/p99, the mock's request rate and the CPU time of server, mock and load
//!   generator. `VEO_MCP_BENCH_TOOL=get_task_result` (or `generate_transition_video`) runs one
//!   tool only; `VEO_MCP_BENCH_ROUNDS`, `VEO_MCP_BENCH_SECS` and `VEO_MCP_BENCH_CONNS` change the
//!   rounds (5), their length (3 s) and the connections (64).
//! - `waiting`: tasks of known duration waited on with `get_task_result` (`wait_seconds` 50, called
//!   again until done, as an agent does); lag from the task's completion on the mock to the
//!   call's return, and upstream task-result requests per minute waited.
//!
//! The binary runs as its own process (built with the bench profile: release, thin LTO), with
//! its default logging, a journal file and an output directory in a temporary directory. The
//! mock runs in this process on its own 2-worker runtime; the HTTP load generator on its own
//! thread. Run without `--bench` (as `cargo test --all-targets` does) every part makes a short
//! smoke run only (`floor` then builds nothing and measures veo-mcp alone).

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

mod floor;
mod support;

use support::*;

fn main() {
    let only = std::env::var("VEO_MCP_BENCH_ONLY").unwrap_or_default();
    let want = |part: &str| only.is_empty() || only.split(',').any(|p| p.trim() == part);
    if smoke() {
        println!("smoke run (use `cargo bench` for figures)");
    }
    println!("binary: {BIN}");
    let mock = Mock::start();
    let work = tempfile::tempdir().expect("temp dir");
    if want("floor") {
        floor::against_floor(&mock, work.path());
    }
    if want("cold_start") {
        cold_start(&mock, work.path());
    }
    if want("latency") {
        latency(&mock, work.path());
    }
    if want("idle_rss") {
        idle_rss(&mock, work.path());
    }
    if want("large_submit") {
        large_submit(&mock, work.path());
    }
    if want("throughput") {
        throughput(&mock, work.path());
    }
    if want("waiting") {
        waiting(&mock, work.path());
    }
}

/// `VmHWM` and `VmRSS` of a process, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Resets a process's `VmHWM` to its current RSS.
fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

// ---------------------------------------------------------------------------------------------
// 1. Cold start

/// Spawns the binary with `args`, sends `initialize` at once, and times spawn → reply
/// (or spawn → exit when `initialize` is false).
fn time_start(env: &[(String, String)], args: &[&str], initialize: bool) -> Duration {
    let started = Instant::now();
    let mut child = server_command(env, args).spawn().expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let elapsed = if initialize {
        let request = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}});
        let _ = writeln!(stdin, "{request}");
        let _ = stdin.flush();
        let mut line = String::new();
        stdout.read_line(&mut line).expect("initialize reply");
        let elapsed = started.elapsed();
        assert!(line.contains("\"result\""), "initialize reply: {line}");
        elapsed
    } else {
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut rest);
        let _ = child.wait();
        started.elapsed()
    };
    drop(stdin);
    let _ = child.wait();
    elapsed
}

fn cold_start(mock: &Mock, dir: &Path) {
    let runs = if smoke() {
        2
    } else {
        env_or("VEO_MCP_BENCH_RUNS", 40)
    };
    let journal = dir.join("cold-journal.sqlite3").display().to_string();
    let with_file = server_env(mock, dir, &journal);
    let in_memory = server_env(mock, dir, ":memory:");
    // The first start creates the journal; later starts open it, as a host's restarts do.
    time_start(&with_file, &[], true);
    println!("\n## cold start: spawn → initialize reply ({runs} runs each, interleaved)");
    let mut file_ms = Vec::new();
    let mut memory_ms = Vec::new();
    let mut version_ms = Vec::new();
    for _ in 0..runs {
        file_ms.push(time_start(&with_file, &[], true).as_secs_f64() * 1e3);
        memory_ms.push(time_start(&in_memory, &[], true).as_secs_f64() * 1e3);
        version_ms.push(time_start(&with_file, &["--version"], false).as_secs_f64() * 1e3);
    }
    let show = |label: &str, v: Vec<f64>| {
        let mut sorted = v.clone();
        sorted.sort_by(f64::total_cmp);
        println!(
            "| {label} | {:.2} ms | {:.2} – {:.2} ms |",
            median(v),
            sorted.first().copied().unwrap_or(0.0),
            sorted.last().copied().unwrap_or(0.0)
        );
    };
    println!("| start | median | min – max |\n|---|---|---|");
    show("stdio, journal file (default settings)", file_ms);
    show("stdio, `VEO_JOURNAL=:memory:`", memory_ms);
    show("`veo-mcp --version` (spawn, exec, exit)", version_ms);
}

// ---------------------------------------------------------------------------------------------
// 2. tools/call latency over stdio

fn latency(mock: &Mock, dir: &Path) {
    let calls = if smoke() {
        20
    } else {
        env_or("VEO_MCP_BENCH_CALLS", 3000)
    };
    let journal = dir.join("latency-journal.sqlite3").display().to_string();
    let server = StdioServer::spawn(&server_env(mock, dir, &journal));
    // Let the finished task be saved before timing.
    let (running, finished) = running_and_finished(&server, "latency");
    let warm_up = 300.min(calls);
    println!(
        "\n## get_task_result (wait_seconds 0) over stdio, sequential, {calls} calls after {warm_up} warm-up"
    );
    println!("| task | p50 | p99 | mean | mock requests per call |\n|---|---|---|---|---|");
    for (label, task_id) in [
        ("running (processing)", &running),
        ("succeeded, video saved", &finished),
    ] {
        let args = json!({"task_id": task_id, "wait_seconds": 0});
        for _ in 0..warm_up {
            server.call("get_task_result", args.clone());
        }
        let before = mock.task_results();
        let mut us = Vec::with_capacity(calls);
        for _ in 0..calls {
            let t = Instant::now();
            server.call("get_task_result", args.clone());
            us.push(t.elapsed().as_secs_f64() * 1e6);
        }
        let per_call = (mock.task_results() - before) as f64 / calls as f64;
        let mean = us.iter().sum::<f64>() / us.len() as f64;
        us.sort_by(f64::total_cmp);
        println!(
            "| {label} | {:.3} ms | {:.3} ms | {:.3} ms | {per_call:.2} |",
            percentile(&us, 0.5) / 1e3,
            percentile(&us, 0.99) / 1e3,
            mean / 1e3
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Idle RSS

fn idle_rss(mock: &Mock, dir: &Path) {
    let journal = dir.join("idle-journal.sqlite3").display().to_string();
    let mut figures = Vec::new();
    let runs = if smoke() { 1 } else { 5 };
    for _ in 0..runs {
        let server = StdioServer::spawn(&server_env(mock, dir, &journal));
        let tools = server.request("tools/list", json!({}));
        assert!(tools["result"]["tools"].is_array(), "{tools}");
        std::thread::sleep(Duration::from_millis(if smoke() { 50 } else { 1000 }));
        figures.push(memory_kib(server.pid()));
    }
    println!("\n## idle server after initialize + tools/list ({runs} processes)");
    println!(
        "| measure | median |\n|---|---|\n| peak RSS (VmHWM) | {:.1} MiB |\n| RSS (VmRSS) | {:.1} MiB |",
        mib(median(figures.iter().map(|f| f.0 as f64).collect()) as u64),
        mib(median(figures.iter().map(|f| f.1 as f64).collect()) as u64)
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Two 20 MB frames

fn large_submit(mock: &Mock, dir: &Path) {
    let side = if smoke() { 256 } else { 2600 };
    let frames = dir.join("large");
    std::fs::create_dir_all(&frames).unwrap();
    let first = frames.join("first.png");
    let last = frames.join("last.png");
    std::fs::write(
        &first,
        veo_core::sample::gradient_png(side, side, [250, 120, 0], [10, 10, 80]),
    )
    .unwrap();
    std::fs::write(
        &last,
        veo_core::sample::gradient_png(side, side, [10, 10, 80], [250, 220, 120]),
    )
    .unwrap();
    let bytes = std::fs::metadata(&first).unwrap().len();
    let journal = dir.join("large-journal.sqlite3").display().to_string();
    let server = StdioServer::spawn(&server_env(mock, dir, &journal));
    let runs = if smoke() { 1 } else { 5 };
    let mut ms = Vec::new();
    let mut over_idle = Vec::new();
    let mut idle = Vec::new();
    for i in 0..=runs {
        std::thread::sleep(Duration::from_millis(200));
        reset_peak(server.pid());
        let (_, before) = memory_kib(server.pid());
        let t = Instant::now();
        server.call(
            "generate_transition_video",
            json!({"image": first.display().to_string(), "last_image": last.display().to_string(),
                   "prompt": format!("large {i}"), "allow_duplicate": true}),
        );
        let elapsed = t.elapsed();
        let (peak, _) = memory_kib(server.pid());
        if i > 0 {
            ms.push(elapsed.as_secs_f64() * 1e3);
            over_idle.push(peak.saturating_sub(before) as f64);
            idle.push(before as f64);
        }
    }
    println!(
        "\n## generate_transition_video with two {:.1} MB PNG files (stdio; median of {runs} after 1 warm-up)",
        bytes as f64 / 1e6
    );
    println!(
        "| measure | figure |\n|---|---|\n| tools/call wall time | {:.1} ms (min {:.1}, max {:.1}) |\n| server peak RSS over its RSS before the call | {:.1} MiB (RSS before: {:.1} MiB) |",
        median(ms.clone()),
        ms.iter().copied().fold(f64::MAX, f64::min),
        ms.iter().copied().fold(0.0, f64::max),
        mib(median(over_idle) as u64),
        mib(median(idle) as u64)
    );
}

// ---------------------------------------------------------------------------------------------
// 5. Throughput over streamable HTTP

fn throughput(mock: &Mock, dir: &Path) {
    let (rounds, secs, warm_up) = if smoke() {
        (1, 0.3, 0.1)
    } else {
        (
            env_or("VEO_MCP_BENCH_ROUNDS", 5),
            env_or("VEO_MCP_BENCH_SECS", 3.0),
            1.0,
        )
    };
    let conns: usize = env_or("VEO_MCP_BENCH_CONNS", 64);
    let first = small_frame_base64([250, 120, 0], [10, 10, 80]);
    let last = small_frame_base64([10, 10, 80], [250, 220, 120]);
    println!(
        "\n## streamable HTTP, {conns} connections, one stateless call in flight each ({rounds} rounds of {secs} s after {warm_up} s warm-up)"
    );
    println!(
        "| tool | round | calls/s | p50 | p99 | mock req/s | CPU s/s: server / mock / load generator |\n|---|---|---|---|---|---|---|"
    );
    let mut summary = Vec::new();
    let only_tool = std::env::var("VEO_MCP_BENCH_TOOL").unwrap_or_default();
    for tool in ["generate_transition_video", "get_task_result"] {
        if !only_tool.is_empty() && only_tool != tool {
            continue;
        }
        let mut rates = Vec::new();
        let mut p50s = Vec::new();
        let mut p99s = Vec::new();
        let mut mock_rates = Vec::new();
        // get_task_result polls one running task on one server for every round.
        let mut shared: Option<(HttpServer, Vec<u8>)> = None;
        for round in 1..=rounds {
            let (server, request) = match tool {
                "generate_transition_video" => {
                    // A fresh server and journal per round: every call creates a task the
                    // server then watches in the background (first poll after 10 s).
                    let journal = dir
                        .join(format!("http-generate-{round}.sqlite3"))
                        .display()
                        .to_string();
                    let server = HttpServer::spawn(&server_env(mock, dir, &journal));
                    let request = http_call(
                        server.addr,
                        tool,
                        json!({"image": first, "last_image": last,
                               "prompt": "throughput [mock:processing_ms=86400000]", "allow_duplicate": true}),
                    );
                    (server, request)
                }
                _ => {
                    if shared.is_none() {
                        let journal = dir.join("http-poll.sqlite3").display().to_string();
                        let server = HttpServer::spawn(&server_env(mock, dir, &journal));
                        let task_id = {
                            let stdio_journal =
                                dir.join("http-poll-submit.sqlite3").display().to_string();
                            let submitter =
                                StdioServer::spawn(&server_env(mock, dir, &stdio_journal));
                            let submitted = submitter.call(
                                "generate_transition_video",
                                json!({"image": first, "last_image": last,
                                       "prompt": "poll target [mock:processing_ms=86400000]", "allow_duplicate": true}),
                            );
                            submitted["task_id"].as_str().unwrap().to_string()
                        };
                        let request = http_call(
                            server.addr,
                            tool,
                            json!({"task_id": task_id, "wait_seconds": 0}),
                        );
                        shared = Some((server, request));
                    }
                    let (server, request) = shared.take().unwrap();
                    (server, request)
                }
            };
            let pid = server.child.id();
            let mut result = drive(
                mock,
                pid,
                server.addr,
                request.clone(),
                conns,
                warm_up,
                secs,
            );
            let wall = result.elapsed.as_secs_f64().max(1e-9);
            result.latencies_us.sort_unstable();
            let rate = result.calls as f64 / wall;
            let p50 = percentile(&result.latencies_us, 0.5) as f64 / 1e3;
            let p99 = percentile(&result.latencies_us, 0.99) as f64 / 1e3;
            let mock_rate = result.mock_requests as f64 / wall;
            println!(
                "| {tool} | {round} | {rate:.0} | {p50:.2} ms | {p99:.2} ms | {mock_rate:.0} | {:.2} / {:.2} / {:.2} |",
                result.cpu_server / wall,
                result.cpu_mock / wall,
                result.cpu_load / wall,
            );
            rates.push(rate);
            p50s.push(p50);
            p99s.push(p99);
            mock_rates.push(mock_rate);
            if tool == "get_task_result" {
                shared = Some((server, request));
            }
        }
        summary.push((
            tool,
            median(rates),
            median(p50s),
            median(p99s),
            median(mock_rates),
        ));
    }
    println!(
        "\n| tool | median calls/s | median p50 | median p99 | median mock req/s |\n|---|---|---|---|---|"
    );
    for (tool, rate, p50, p99, mock_rate) in summary {
        println!("| {tool} | {rate:.0} | {p50:.2} ms | {p99:.2} ms | {mock_rate:.0} |");
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Waiting lag

fn waiting(mock: &Mock, dir: &Path) {
    // Tasks finishing 12 s to 82 s after submission (2 s queued), all waited on at once. At
    // the same time, the same tasks on a second mock and server that nobody waits for: what the
    // background watcher polls on its own.
    let durations_ms: Vec<u64> = if smoke() {
        vec![1_000, 1_500]
    } else {
        (1..=8).map(|i| 2_000 + i * 10_000).collect()
    };
    let queue_ms = if smoke() { 200 } else { 2_000 };
    let first = small_frame_base64([250, 120, 0], [10, 10, 80]);
    let last = small_frame_base64([10, 10, 80], [250, 220, 120]);
    let submit = move |server: &StdioServer, i: usize, total: u64| {
        let submitted = server.call(
            "generate_transition_video",
            json!({"image": first, "last_image": last, "allow_duplicate": true,
                   "prompt": format!("wait {i} [mock:queue_ms={queue_ms}][mock:processing_ms={}]", total - queue_ms)}),
        );
        submitted["task_id"].as_str().unwrap().to_string()
    };
    let submit = Arc::new(submit);

    let quiet_mock = Mock::start();
    let quiet_dir = dir.join("quiet");
    std::fs::create_dir_all(&quiet_dir).unwrap();
    let quiet_journal = quiet_dir.join("journal.sqlite3").display().to_string();
    let quiet = StdioServer::spawn(&server_env(&quiet_mock, &quiet_dir, &quiet_journal));
    for (i, &total) in durations_ms.iter().enumerate() {
        submit(&quiet, i, total);
    }
    let quiet_started = Instant::now();

    let journal = dir.join("waiting-journal.sqlite3").display().to_string();
    let server = Arc::new(StdioServer::spawn(&server_env(mock, dir, &journal)));
    let polls_before = mock.task_results();
    let started = Instant::now();
    let handles: Vec<_> = durations_ms
        .iter()
        .enumerate()
        .map(|(i, &total)| {
            let server = Arc::clone(&server);
            let submit = Arc::clone(&submit);
            std::thread::spawn(move || {
                let submitted_ms = unix_ms();
                let task_id = submit(&server, i, total);
                let mut calls = 0;
                loop {
                    calls += 1;
                    let report = server.call(
                        "get_task_result",
                        json!({"task_id": task_id, "wait_seconds": 50}),
                    );
                    if report["done"] == true {
                        return (task_id, submitted_ms, unix_ms(), calls);
                    }
                }
            })
        })
        .collect();
    let outcomes: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let polls = mock.task_results() - polls_before;
    let tasks: HashMap<String, u64> = mock
        .server
        .tasks()
        .into_iter()
        .map(|t| (t.task_id, t.submit_time_ms))
        .collect();
    println!(
        "\n## waiting: {} tasks of {:.0}–{:.0} s waited on at once with get_task_result (wait_seconds 50)",
        durations_ms.len(),
        durations_ms.first().copied().unwrap_or(0) as f64 / 1e3,
        durations_ms.last().copied().unwrap_or(0) as f64 / 1e3
    );
    println!("| task duration | lag after completion | get_task_result calls |\n|---|---|---|");
    let mut lags = Vec::new();
    let mut waited_minutes = 0.0;
    for ((task_id, submitted_ms, returned_ms, calls), total) in outcomes.iter().zip(&durations_ms) {
        let submit_time = tasks.get(task_id).copied().unwrap_or(*submitted_ms);
        let completed = submit_time + total;
        let lag = returned_ms.saturating_sub(completed) as f64 / 1e3;
        waited_minutes += returned_ms.saturating_sub(*submitted_ms) as f64 / 60_000.0;
        lags.push(lag);
        println!("| {:.0} s | {lag:.2} s | {calls} |", *total as f64 / 1e3);
    }
    println!(
        "\nmedian lag {:.2} s (max {:.2} s); {polls} upstream task-result requests over {waited_minutes:.2} task-minutes waited = {:.1} per minute waited (wall {:.0} s)",
        median(lags.clone()),
        lags.iter().copied().fold(0.0, f64::max),
        polls as f64 / waited_minutes.max(1e-9),
        started.elapsed().as_secs_f64()
    );

    if smoke() {
        return; // the watcher's first poll comes 10 s after a submit
    }
    // The watcher alone: wait until it has seen every task end (list_tasks reads the journal).
    let deadline =
        quiet_started + Duration::from_millis(durations_ms.iter().max().unwrap() + 60_000);
    loop {
        let list = quiet.call("list_tasks", json!({"limit": 100}));
        let done = list["tasks"]
            .as_array()
            .is_some_and(|t| t.iter().all(|t| t["status"] == "succeeded"));
        if done || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let quiet_polls = quiet_mock.task_results();
    let task_minutes = durations_ms.iter().sum::<u64>() as f64 / 60_000.0;
    println!(
        "background watcher alone (same tasks, nobody waiting): {quiet_polls} task-result requests over {task_minutes:.2} task-minutes = {:.1} per task-minute",
        quiet_polls as f64 / task_minutes
    );
}
