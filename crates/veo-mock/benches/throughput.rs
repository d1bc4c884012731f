//! How fast the mock answers task-result queries, and what accepting a submit with two 20 MB
//! frames costs it.
//!
//! Run: `cargo bench -p veo-mock --bench throughput`.
//!
//! 1. Throughput: one finished task is created, then 64 keep-alive HTTP/1.1 connections each
//!    send `GET /v3/async/task-result?task_id=...` with one request in flight, for several
//!    rounds of a few seconds. The server runs on its own multi-thread tokio runtime (2
//!    workers) and the load generator, a small hand-written HTTP/1.1 client, on its own
//!    current-thread runtime, so the generator takes at most one core's worth of time. The same
//!    load against a bare axum handler returning the same bytes is the baseline. With
//!    `VEO_MOCK_BENCH_SERVER=process` the mock runs as the `veo-mock` binary instead (its own
//!    process, 2 workers).
//! 2. Large submit: the `veo-mock` binary (its own process, so its memory is its own) accepts
//!    one submit of two ~20 MB PNG frames in Base64 (~54 MB of JSON); wall time per submit and
//!    the process's peak RSS over its idle RSS (`VmHWM` after resetting it, minus `VmRSS`).
//!
//! Settings (environment): `VEO_MOCK_BENCH_ROUNDS` (5), `VEO_MOCK_BENCH_SECS` (3),
//! `VEO_MOCK_BENCH_CONNS` (64), `VEO_MOCK_BENCH_SERVER` (`in-process` or `process`),
//! `VEO_MOCK_BENCH_ONLY` (`throughput` or `submit`). Run without `--bench` (as
//! `cargo test --all-targets` does) it makes one short throughput round only, as a smoke test.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::header;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use veo_mock::{MockConfig, MockServer};

const TASK_RESULT: &str = "/v3/async/task-result";
const SUBMIT: &str = "/v3/async/veo-3.1-generate-firstlastframe";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `cargo bench` passes `--bench`; without it (`cargo test --all-targets`) a short smoke run
/// checks the benchmark still works without taking a minute.
fn smoke() -> bool {
    !std::env::args().any(|a| a == "--bench")
}

fn main() {
    let only = std::env::var("VEO_MOCK_BENCH_ONLY").unwrap_or_default();
    if smoke() {
        println!("smoke run (use `cargo bench` for figures)");
    }
    if only.is_empty() || only == "throughput" {
        throughput();
    }
    if (only.is_empty() && !smoke()) || only == "submit" {
        large_submit();
    }
}

// ---------------------------------------------------------------------------------------------
// Throughput

/// Where the server under load runs; dropping it stops it.
enum Target {
    /// A server on its own runtime in this process.
    InProcess {
        addr: SocketAddr,
        stop: Option<std::sync::mpsc::Sender<()>>,
        thread: Option<std::thread::JoinHandle<()>>,
    },
    /// The `veo-mock` binary.
    Process { addr: SocketAddr, child: Child },
}

impl Target {
    fn addr(&self) -> SocketAddr {
        match self {
            Target::InProcess { addr, .. } | Target::Process { addr, .. } => *addr,
        }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        match self {
            Target::InProcess { stop, thread, .. } => {
                drop(stop.take());
                if let Some(t) = thread.take() {
                    let _ = t.join();
                }
            }
            Target::Process { child, .. } => {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Runs `make` (which starts a server and returns its address) on a new 2-worker runtime on
/// its own threads, kept alive until the returned target is dropped.
fn in_process<F, Fut, S>(make: F) -> Target
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = (SocketAddr, S)>,
    S: Send + 'static,
{
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("server")
            .enable_all()
            .build()
            .expect("server runtime");
        let (addr, keep) = runtime.block_on(make());
        addr_tx.send(addr).expect("report address");
        // Serve until the target is dropped (the sender closes).
        let _ = stop_rx.recv();
        drop(keep);
        runtime.shutdown_timeout(Duration::from_secs(1));
    });
    let addr = addr_rx.recv().expect("server started");
    Target::InProcess {
        addr,
        stop: Some(stop_tx),
        thread: Some(thread),
    }
}

/// Starts the `veo-mock` binary with `args` and reads its ready line.
fn spawn_binary(args: &[&str]) -> (SocketAddr, Child) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_veo-mock"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("veo-mock starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("ready line");
    let addr = line
        .trim()
        .trim_start_matches("http://")
        .parse()
        .unwrap_or_else(|e| panic!("ready line {line:?}: {e}"));
    (addr, child)
}

/// One keep-alive connection of the load generator.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Conn {
            stream,
            buf: Vec::with_capacity(16 * 1024),
        }
    }

    /// Sends `request` and reads one response; returns its status and body.
    async fn roundtrip(&mut self, request: &[u8]) -> Result<(u16, &[u8]), String> {
        self.stream
            .write_all(request)
            .await
            .map_err(|e| format!("write: {e}"))?;
        self.buf.clear();
        let head_end = loop {
            self.fill().await?;
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
        };
        let (status, len) = parse_head(&self.buf[..head_end])?;
        while self.buf.len() < head_end + len {
            self.fill().await?;
        }
        if self.buf.len() > head_end + len {
            return Err("more bytes than Content-Length".to_owned());
        }
        Ok((status, &self.buf[head_end..]))
    }

    async fn fill(&mut self) -> Result<(), String> {
        if self.buf.capacity() - self.buf.len() < 4096 {
            self.buf.reserve(16 * 1024);
        }
        match self.stream.read_buf(&mut self.buf).await {
            Ok(0) => Err("connection closed".to_owned()),
            Ok(_) => Ok(()),
            Err(e) => Err(format!("read: {e}")),
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Status code and Content-Length of a response head.
fn parse_head(head: &[u8]) -> Result<(u16, usize), String> {
    let text = std::str::from_utf8(head).map_err(|_| "head is not UTF-8".to_owned())?;
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line in {text:?}"))?;
    let len = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .ok_or_else(|| format!("no Content-Length in {text:?}"))?;
    Ok((status, len))
}

struct Round {
    requests: u64,
    elapsed: Duration,
    latencies_us: Vec<u32>,
}

/// Drives every connection for `secs`, one request in flight each.
async fn round(conns: Vec<Conn>, request: Arc<[u8]>, secs: f64) -> (Vec<Conn>, Round) {
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(secs);
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut conn| {
            let request = Arc::clone(&request);
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(8192);
                loop {
                    let sent = Instant::now();
                    if sent >= deadline {
                        break;
                    }
                    match conn.roundtrip(&request).await {
                        Ok((200, _)) => {}
                        Ok((status, body)) => panic!(
                            "status {status}: {}",
                            String::from_utf8_lossy(&body[..body.len().min(300)])
                        ),
                        Err(e) => panic!("{e}"),
                    }
                    let us = sent.elapsed().as_micros();
                    latencies.push(u32::try_from(us).unwrap_or(u32::MAX));
                }
                (conn, latencies)
            })
        })
        .collect();
    let mut conns = Vec::with_capacity(tasks.len());
    let mut latencies_us = Vec::new();
    for t in tasks {
        let (conn, lat) = t.await.expect("connection task");
        conns.push(conn);
        latencies_us.extend(lat);
    }
    let elapsed = started.elapsed();
    let requests = latencies_us.len() as u64;
    (
        conns,
        Round {
            requests,
            elapsed,
            latencies_us,
        },
    )
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Loads `addr` with `request` and prints a line per round and a summary.
fn load(label: &str, addr: SocketAddr, request: Vec<u8>) -> (f64, u32, u32) {
    let (rounds, secs, warm_up) = if smoke() {
        (1, 0.2, 0.1)
    } else {
        (
            env_or("VEO_MOCK_BENCH_ROUNDS", 5),
            env_or("VEO_MOCK_BENCH_SECS", 3.0),
            1.0,
        )
    };
    let n_conns: usize = env_or("VEO_MOCK_BENCH_CONNS", 64);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("load runtime");
    runtime.block_on(async {
        let request: Arc<[u8]> = request.into();
        let mut conns = Vec::with_capacity(n_conns);
        for _ in 0..n_conns {
            conns.push(Conn::open(addr).await);
        }
        // Warm-up, not reported.
        let (c, _) = round(conns, Arc::clone(&request), warm_up).await;
        conns = c;
        let mut rates = Vec::new();
        let mut p50s = Vec::new();
        let mut p99s = Vec::new();
        for r in 1..=rounds {
            let (c, mut result) = round(conns, Arc::clone(&request), secs).await;
            conns = c;
            result.latencies_us.sort_unstable();
            let rate = result.requests as f64 / result.elapsed.as_secs_f64();
            let p50 = percentile(&result.latencies_us, 0.50);
            let p99 = percentile(&result.latencies_us, 0.99);
            println!(
                "  {label} round {r}: {rate:>9.0} req/s  ({} requests in {:.2} s)  p50 {p50} µs  p99 {p99} µs",
                result.requests,
                result.elapsed.as_secs_f64()
            );
            rates.push(rate);
            p50s.push(f64::from(p50));
            p99s.push(f64::from(p99));
        }
        let (rate, p50, p99) = (median(rates), median(p50s), median(p99s));
        println!(
            "  {label} median of {rounds}: {rate:.0} req/s, latency p50 {p50:.0} µs, p99 {p99:.0} µs"
        );
        (rate, p50 as u32, p99 as u32)
    })
}

fn get_request(addr: SocketAddr, path: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer mock-key\r\nUser-Agent: veo-mock-bench\r\n\r\n"
    )
    .into_bytes()
}

/// Creates one task that is finished at once; returns its id and a task-result body.
fn create_task(addr: SocketAddr) -> (String, Vec<u8>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let body = serde_json::json!({
            "image": STANDARD.encode(png(1, 1)),
            "last_image": STANDARD.encode(png(1, 1)),
            "prompt": "bench [mock:duration_ms=0]",
        });
        let v: serde_json::Value = client
            .post(format!("http://{addr}{SUBMIT}"))
            .bearer_auth("mock-key")
            .json(&body)
            .send()
            .await
            .expect("submit")
            .json()
            .await
            .expect("json");
        let id = v["task_id"].as_str().expect("task_id").to_owned();
        let result = client
            .get(format!("http://{addr}{TASK_RESULT}?task_id={id}"))
            .bearer_auth("mock-key")
            .send()
            .await
            .expect("query")
            .bytes()
            .await
            .expect("body");
        let v: serde_json::Value = serde_json::from_slice(&result).expect("json");
        assert_eq!(v["task"]["status"], "TASK_STATUS_SUCCEED", "{v}");
        (id, result.to_vec())
    })
}

fn throughput() {
    let server_mode = std::env::var("VEO_MOCK_BENCH_SERVER").unwrap_or_default();
    let conns: usize = env_or("VEO_MOCK_BENCH_CONNS", 64);
    println!("== task-result throughput ==");
    println!(
        "load: hand-written HTTP/1.1 client on its own current-thread tokio runtime, {conns} keep-alive connections, 1 request in flight each"
    );

    let mock = if server_mode == "process" {
        println!("mock: the veo-mock binary (separate process, 2 tokio workers)");
        let (addr, child) = spawn_binary(&["--addr", "127.0.0.1:0", "--log", "error"]);
        Target::Process { addr, child }
    } else {
        println!("mock: in-process MockServer on its own multi-thread tokio runtime (2 workers)");
        in_process(|| async {
            let server = MockServer::start(MockConfig::default())
                .await
                .expect("mock starts");
            (server.addr(), server)
        })
    };
    let (id, sample) = create_task(mock.addr());
    println!(
        "query: one finished task (status SUCCEED, one signed video link), response body {} bytes",
        sample.len()
    );
    let path = format!("{TASK_RESULT}?task_id={id}");

    // Baseline: a bare axum handler answering the same bytes, same runtime set-up.
    let static_body: &'static [u8] = sample.leak();
    let bare = in_process(move || async move {
        let app = Router::new().route(
            TASK_RESULT,
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], static_body) }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move { axum::serve(listener, app).await });
        (addr, task)
    });
    let baseline = load("bare axum", bare.addr(), get_request(bare.addr(), &path));
    drop(bare);
    let measured = load("veo-mock ", mock.addr(), get_request(mock.addr(), &path));
    drop(mock);
    println!(
        "veo-mock: {:.0} req/s median (p50 {} µs, p99 {} µs); bare axum baseline {:.0} req/s ({:.0} % of it); target ≥ 50000 req/s: {}",
        measured.0,
        measured.1,
        measured.2,
        baseline.0,
        measured.0 / baseline.0 * 100.0,
        if smoke() {
            "not judged in a smoke run"
        } else if measured.0 >= 50_000.0 {
            "met"
        } else {
            "NOT met"
        }
    );
}

// ---------------------------------------------------------------------------------------------
// Large submit

fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn large_submit() {
    const RUNS: usize = 5;
    println!("== submit with two 20 MB frames ==");
    if !std::path::Path::new("/proc/self/status").exists() {
        println!("skipped: needs /proc (Linux) to read the mock's memory");
        return;
    }
    // 2600×2600 RGB stored uncompressed: ~20.3 MB each, just under the 20 MiB limit.
    let first = png(2600, 2600);
    let last = png(2600, 2600);
    let body = serde_json::to_vec(&serde_json::json!({
        "image": STANDARD.encode(&first),
        "last_image": STANDARD.encode(&last),
        "prompt": "a long transition [mock:duration_ms=0]",
    }))
    .expect("body");
    println!(
        "frames: 2 × {:.2} MB PNG ({:.2} MiB); body {:.1} MB of JSON",
        first.len() as f64 / 1e6,
        first.len() as f64 / 1048576.0,
        body.len() as f64 / 1e6
    );
    let body = bytes::Bytes::from(body);
    drop((first, last));

    let (addr, mut child) = spawn_binary(&["--addr", "127.0.0.1:0", "--log", "error"]);
    let pid = child.id();
    println!("mock: the veo-mock binary (separate process, pid {pid}); client in this process");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let client = reqwest::Client::new();
    let url = format!("http://{addr}{SUBMIT}");
    let send = |body: bytes::Bytes| {
        let request = client
            .post(&url)
            .bearer_auth("mock-key")
            .header("content-type", "application/json")
            .body(body);
        async move {
            let resp = request.send().await.expect("response");
            let status = resp.status().as_u16();
            let text = resp.text().await.expect("text");
            assert_eq!(status, 200, "{text}");
            assert!(text.contains("task_id"), "{text}");
        }
    };
    // Warm up the HTTP stack with a small submit, then take the idle baseline.
    let small = serde_json::json!({
        "image": STANDARD.encode(png(1, 1)),
        "last_image": STANDARD.encode(png(1, 1)),
        "prompt": "warm-up",
    });
    runtime.block_on(send(bytes::Bytes::from(
        serde_json::to_vec(&small).expect("json"),
    )));
    std::thread::sleep(Duration::from_millis(200));

    let mut times = Vec::new();
    let mut extra_kib = Vec::new();
    let mut idle_kib = 0;
    for _ in 0..RUNS {
        idle_kib = status_kib(pid, "VmRSS:");
        // Reset the peak to the current RSS (allowed for our own child).
        let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
        let started = Instant::now();
        runtime.block_on(send(body.clone()));
        times.push(started.elapsed());
        let peak = status_kib(pid, "VmHWM:");
        extra_kib.push(peak.saturating_sub(idle_kib));
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();

    times.sort();
    let mut sorted_extra = extra_kib.clone();
    sorted_extra.sort_unstable();
    let mib = |k: u64| k as f64 / 1024.0;
    println!(
        "submit (send ~54 MB, validate, create task, reply), median of {RUNS}: {:.1} ms (min {:.1}, max {:.1})",
        times[RUNS / 2].as_secs_f64() * 1000.0,
        times[0].as_secs_f64() * 1000.0,
        times[RUNS - 1].as_secs_f64() * 1000.0
    );
    println!(
        "mock peak RSS over idle per submit: median {:.1} MiB (min {:.1}, max {:.1}); body {:.1} MiB; idle RSS {:.1} MiB",
        mib(sorted_extra[RUNS / 2]),
        mib(sorted_extra[0]),
        mib(sorted_extra[RUNS - 1]),
        body.len() as f64 / 1048576.0,
        mib(idle_kib)
    );
}

/// A real RGB PNG, stored uncompressed (a little over 3 bytes per pixel).
fn png(width: u32, height: u32) -> Vec<u8> {
    veo_core::sample::gradient_png(width, height, [250, 120, 0], [10, 10, 80])
}
