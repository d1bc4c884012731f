//! MCP-level benchmarks of the `veo-mcp` binary against veo-mock on loopback.
//!
//! Run everything: `cargo bench -p veo-mcp --bench mcp`. One part only:
//! `VEO_MCP_BENCH_ONLY=<part> cargo bench -p veo-mcp --bench mcp`, where `<part>` is one (or a
//! comma-separated list) of:
//!
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
//! smoke run only.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use veo_mock::{MockConfig, MockServer};

const BIN: &str = env!("CARGO_BIN_EXE_veo-mcp");
const PROTOCOL: &str = "2025-06-18";
const STATELESS: &str = "2026-07-28";

fn smoke() -> bool {
    !std::env::args().any(|a| a == "--bench")
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let only = std::env::var("VEO_MCP_BENCH_ONLY").unwrap_or_default();
    let want = |part: &str| only.is_empty() || only.split(',').any(|p| p.trim() == part);
    if smoke() {
        println!("smoke run (use `cargo bench` for figures)");
    }
    println!("binary: {BIN}");
    let mock = Mock::start();
    let work = tempfile::tempdir().expect("temp dir");
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

// ---------------------------------------------------------------------------------------------
// The mock and the server process

/// veo-mock on its own 2-worker runtime in this process.
struct Mock {
    server: MockServer,
    _runtime: tokio::runtime::Runtime,
}

impl Mock {
    fn start() -> Mock {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("mock")
            .enable_all()
            .build()
            .expect("mock runtime");
        let server = runtime
            .block_on(MockServer::start(MockConfig::default()))
            .expect("mock starts");
        Mock {
            server,
            _runtime: runtime,
        }
    }

    fn task_results(&self) -> u64 {
        self.server.stats().task_results()
    }
}

/// The environment the server runs with: nothing inherited but what is set here.
fn server_env(mock: &Mock, dir: &Path, journal: &str) -> Vec<(String, String)> {
    [
        ("HOME", dir.display().to_string()),
        ("JIEKOU_API_KEY", mock.server.api_key().to_string()),
        ("JIEKOU_BASE_URL", mock.server.base_url().to_string()),
        ("VEO_JOURNAL", journal.to_string()),
        ("VEO_OUTPUT_DIR", dir.join("videos").display().to_string()),
        ("VEO_ALLOWED_ROOTS", dir.display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn server_command(env: &[(String, String)], args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    command
}

/// A `veo-mcp` process serving stdio, with concurrent requests routed by id.
struct StdioServer {
    child: Child,
    stdin: Mutex<Option<ChildStdin>>,
    pending: Arc<Mutex<HashMap<u64, mpsc::Sender<Value>>>>,
    next_id: AtomicU64,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl StdioServer {
    fn spawn(env: &[(String, String)]) -> StdioServer {
        let mut child = server_command(env, &[]).spawn().expect("veo-mcp starts");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let pending: Arc<Mutex<HashMap<u64, mpsc::Sender<Value>>>> = Arc::default();
        let routes = Arc::clone(&pending);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let Ok(message) = serde_json::from_str::<Value>(&line) else {
                    panic!("stdout is not JSON-RPC: {line}");
                };
                if let Some(id) = message.get("id").and_then(Value::as_u64)
                    && let Some(tx) = routes.lock().unwrap().remove(&id)
                {
                    let _ = tx.send(message);
                }
            }
        });
        let server = StdioServer {
            child,
            stdin: Mutex::new(Some(stdin)),
            pending,
            next_id: AtomicU64::new(1),
            reader: Some(reader),
        };
        let reply = server.request(
            "initialize",
            json!({"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}),
        );
        assert!(reply.get("result").is_some(), "initialize: {reply}");
        server.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        server
    }

    fn send(&self, message: &Value) {
        let mut line = serde_json::to_vec(message).expect("json");
        line.push(b'\n');
        let mut stdin = self.stdin.lock().unwrap();
        let stdin = stdin.as_mut().expect("stdin open");
        stdin.write_all(&line).expect("write to the server");
        stdin.flush().expect("flush");
    }

    fn request(&self, method: &str, params: Value) -> Value {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel();
        self.pending.lock().unwrap().insert(id, tx);
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        rx.recv_timeout(Duration::from_secs(600))
            .unwrap_or_else(|_| panic!("no reply to {method}"))
    }

    /// Calls a tool; panics on a JSON-RPC error or a tool error.
    fn call(&self, tool: &str, args: Value) -> Value {
        let reply = self.request("tools/call", json!({"name": tool, "arguments": args}));
        let result = reply
            .get("result")
            .cloned()
            .unwrap_or_else(|| panic!("{tool}: {reply}"));
        assert_eq!(result["isError"], false, "{tool}: {result}");
        result["structuredContent"].clone()
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for StdioServer {
    fn drop(&mut self) {
        drop(self.stdin.lock().unwrap().take());
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
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

fn percentile<T: Copy + Default>(sorted: &[T], p: f64) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn small_frame_base64(from: [u8; 3], to: [u8; 3]) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(veo_core::sample::gradient_png(64, 36, from, to))
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
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
    let first = small_frame_base64([250, 120, 0], [10, 10, 80]);
    let last = small_frame_base64([10, 10, 80], [250, 220, 120]);
    let submit = |prompt: &str| {
        let submitted = server.call(
            "generate_transition_video",
            json!({"image": first, "last_image": last, "prompt": prompt, "allow_duplicate": true}),
        );
        submitted["task_id"].as_str().expect("task id").to_string()
    };
    let running = submit("latency, running [mock:processing_ms=86400000]");
    let finished = submit("latency, finished [mock:duration_ms=1]");
    std::thread::sleep(Duration::from_millis(50));
    // Let the finished task be saved before timing.
    let report = server.call(
        "get_task_result",
        json!({"task_id": finished, "wait_seconds": 10}),
    );
    assert!(
        report["videos"][0]["saved_path"].is_string(),
        "saved: {report}"
    );
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

/// A `veo-mcp serve --http` process.
struct HttpServer {
    child: Child,
    addr: SocketAddr,
}

impl HttpServer {
    fn spawn(env: &[(String, String)]) -> HttpServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let listen = addr.to_string();
        let child = server_command(env, &["serve", "--http", &listen])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("veo-mcp serve starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "the server did not listen");
            std::thread::sleep(Duration::from_millis(5));
        }
        HttpServer { child, addr }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A stateless (2026-07-28) `tools/call` as raw HTTP/1.1 bytes.
fn http_call(addr: SocketAddr, tool: &str, args: Value) -> Vec<u8> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
    "name": tool, "arguments": args,
    "_meta": {
        "io.modelcontextprotocol/protocolVersion": STATELESS,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
    }}})
    .to_string();
    let mut request = format!(
        "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nMcp-Protocol-Version: {STATELESS}\r\nMcp-Method: tools/call\r\nMcp-Name: {tool}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body.as_bytes());
    request
}

/// One keep-alive HTTP/1.1 connection; reads `Content-Length` and chunked bodies.
struct Conn {
    stream: tokio::net::TcpStream,
    buf: Vec<u8>,
    pos: usize,
    body: Vec<u8>,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Conn {
        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Conn {
            stream,
            buf: Vec::with_capacity(64 * 1024),
            pos: 0,
            body: Vec::with_capacity(16 * 1024),
        }
    }

    async fn fill(&mut self) -> Result<(), String> {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        if self.buf.capacity() - self.buf.len() < 4096 {
            self.buf.reserve(64 * 1024);
        }
        match self.stream.read_buf(&mut self.buf).await {
            Ok(0) => Err("connection closed".into()),
            Ok(_) => Ok(()),
            Err(e) => Err(format!("read: {e}")),
        }
    }

    /// Bytes up to and including the next CRLF.
    async fn line(&mut self) -> Result<std::ops::Range<usize>, String> {
        loop {
            if let Some(i) = find(&self.buf[self.pos..], b"\r\n") {
                let range = self.pos..self.pos + i;
                self.pos += i + 2;
                return Ok(range);
            }
            self.fill().await?;
        }
    }

    async fn take(&mut self, n: usize) -> Result<(), String> {
        while self.buf.len() - self.pos < n {
            self.fill().await?;
        }
        self.body
            .extend_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(())
    }

    /// Sends `request`, reads the response; returns its status (the body is in `self.body`).
    async fn roundtrip(&mut self, request: &[u8]) -> Result<u16, String> {
        self.stream
            .write_all(request)
            .await
            .map_err(|e| format!("write: {e}"))?;
        self.body.clear();
        let status_line = self.line().await?;
        let status = std::str::from_utf8(&self.buf[status_line])
            .ok()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or("bad status line")?;
        let mut length = None;
        let mut chunked = false;
        loop {
            let range = self.line().await?;
            if range.is_empty() {
                break;
            }
            let header = String::from_utf8_lossy(&self.buf[range]).to_ascii_lowercase();
            if let Some(v) = header.strip_prefix("content-length:") {
                length = v.trim().parse::<usize>().ok();
            } else if header.starts_with("transfer-encoding:") && header.contains("chunked") {
                chunked = true;
            }
        }
        if chunked {
            loop {
                let range = self.line().await?;
                let text = String::from_utf8_lossy(&self.buf[range]).into_owned();
                let size = usize::from_str_radix(text.split(';').next().unwrap_or("").trim(), 16)
                    .map_err(|_| format!("bad chunk size {text:?}"))?;
                if size == 0 {
                    self.line().await?;
                    break;
                }
                self.take(size).await?;
                self.line().await?;
            }
        } else {
            self.take(length.ok_or("neither Content-Length nor chunked")?)
                .await?;
        }
        Ok(status)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// CPU time (user + system) of a process or a thread, from its `stat` file, in seconds.
fn cpu_seconds(stat_path: &str) -> f64 {
    let stat = std::fs::read_to_string(stat_path).unwrap_or_default();
    let after_comm = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Fields 14 and 15 of the file (utime, stime) are 11 and 12 after the command name.
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds of this process's threads whose name starts with `prefix`.
fn thread_cpu(prefix: &str) -> f64 {
    std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm"))
                .is_ok_and(|c| c.trim_start().starts_with(prefix))
        })
        .map(|t| cpu_seconds(&t.path().join("stat").display().to_string()))
        .sum()
}

struct RoundResult {
    calls: u64,
    elapsed: Duration,
    latencies_us: Vec<u32>,
    mock_requests: u64,
    cpu_server: f64,
    cpu_mock: f64,
    cpu_load: f64,
}

/// Counters read at the start and the end of a measured window.
#[derive(Clone, Copy)]
struct Snapshot {
    at: Instant,
    mock_requests: u64,
    cpu_server: f64,
    cpu_mock: f64,
    cpu_load: f64,
}

impl Snapshot {
    fn take(mock: &MockServer, server_pid: u32) -> Snapshot {
        Snapshot {
            at: Instant::now(),
            mock_requests: mock.stats().total_requests(),
            cpu_server: cpu_seconds(&format!("/proc/{server_pid}/stat")),
            cpu_mock: thread_cpu("mock"),
            cpu_load: thread_cpu("loadgen"),
        }
    }
}

/// Runs `conns` connections against `addr` for `warm_up` then `secs`, one call in flight
/// each, on a current-thread runtime on a thread named `loadgen`.
fn drive(
    mock: &Mock,
    server_pid: u32,
    addr: SocketAddr,
    request: Vec<u8>,
    conns: usize,
    warm_up: f64,
    secs: f64,
) -> RoundResult {
    let request: Arc<[u8]> = request.into();
    let mock = &mock.server;
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("loadgen".into())
            .spawn_scoped(scope, move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("load runtime");
                runtime.block_on(async move {
                    let mut open = Vec::with_capacity(conns);
                    for _ in 0..conns {
                        open.push(Conn::open(addr).await);
                    }
                    let measure = Instant::now() + Duration::from_secs_f64(warm_up);
                    let end = measure + Duration::from_secs_f64(secs);
                    let tasks: Vec<_> = open
                        .into_iter()
                        .map(|mut conn| {
                            let request = Arc::clone(&request);
                            tokio::spawn(async move {
                                let mut latencies = Vec::with_capacity(16 * 1024);
                                loop {
                                    let sent = Instant::now();
                                    if sent >= end {
                                        break;
                                    }
                                    let status = conn
                                        .roundtrip(&request)
                                        .await
                                        .unwrap_or_else(|e| panic!("call failed: {e}"));
                                    let body = String::from_utf8_lossy(&conn.body);
                                    assert!(
                                        status == 200 && body.contains("\"isError\":false"),
                                        "status {status}: {}",
                                        &body[..body.len().min(400)]
                                    );
                                    if sent >= measure {
                                        latencies.push(
                                            u32::try_from(sent.elapsed().as_micros())
                                                .unwrap_or(u32::MAX),
                                        );
                                    }
                                }
                                latencies
                            })
                        })
                        .collect();
                    tokio::time::sleep_until(measure.into()).await;
                    let start = Snapshot::take(mock, server_pid);
                    let mut latencies_us = Vec::new();
                    for t in tasks {
                        latencies_us.extend(t.await.expect("connection task"));
                    }
                    let stop = Snapshot::take(mock, server_pid);
                    (latencies_us, start, stop)
                })
            })
            .expect("loadgen thread");
        let (latencies_us, start, stop) = handle.join().expect("loadgen");
        RoundResult {
            calls: latencies_us.len() as u64,
            elapsed: stop.at - start.at,
            latencies_us,
            mock_requests: stop.mock_requests - start.mock_requests,
            cpu_server: stop.cpu_server - start.cpu_server,
            cpu_mock: stop.cpu_mock - start.cpu_mock,
            cpu_load: stop.cpu_load - start.cpu_load,
        }
    })
}

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
