//! What the benchmarks share: veo-mock in-process, `veo-mcp` processes (stdio and streamable
//! HTTP), a keep-alive HTTP/1.1 load generator, CPU and memory readings from `/proc`, and
//! percentiles. Each benchmark uses part of it.
#![allow(dead_code)]

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

pub const BIN: &str = env!("CARGO_BIN_EXE_veo-mcp");
pub const PROTOCOL: &str = "2025-06-18";
pub const STATELESS: &str = "2026-07-28";

pub fn smoke() -> bool {
    !std::env::args().any(|a| a == "--bench")
}

pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// ---------------------------------------------------------------------------------------------
// The mock and the server process

/// veo-mock on its own 2-worker runtime in this process.
pub struct Mock {
    pub server: MockServer,
    pub _runtime: tokio::runtime::Runtime,
}

impl Mock {
    pub fn start() -> Mock {
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

    pub fn task_results(&self) -> u64 {
        self.server.stats().task_results()
    }
}

/// The environment the server runs with: nothing inherited but what is set here.
pub fn server_env(mock: &Mock, dir: &Path, journal: &str) -> Vec<(String, String)> {
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

pub fn server_command(env: &[(String, String)], args: &[&str]) -> Command {
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
pub struct StdioServer {
    pub child: Child,
    pub stdin: Mutex<Option<ChildStdin>>,
    pub pending: Arc<Mutex<HashMap<u64, mpsc::Sender<Value>>>>,
    pub next_id: AtomicU64,
    pub reader: Option<std::thread::JoinHandle<()>>,
}

impl StdioServer {
    pub fn spawn(env: &[(String, String)]) -> StdioServer {
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

    pub fn send(&self, message: &Value) {
        let mut line = serde_json::to_vec(message).expect("json");
        line.push(b'\n');
        let mut stdin = self.stdin.lock().unwrap();
        let stdin = stdin.as_mut().expect("stdin open");
        stdin.write_all(&line).expect("write to the server");
        stdin.flush().expect("flush");
    }

    pub fn request(&self, method: &str, params: Value) -> Value {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel();
        self.pending.lock().unwrap().insert(id, tx);
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        rx.recv_timeout(Duration::from_secs(600))
            .unwrap_or_else(|_| panic!("no reply to {method}"))
    }

    /// Calls a tool; panics on a JSON-RPC error or a tool error.
    pub fn call(&self, tool: &str, args: Value) -> Value {
        let reply = self.request("tools/call", json!({"name": tool, "arguments": args}));
        let result = reply
            .get("result")
            .cloned()
            .unwrap_or_else(|| panic!("{tool}: {reply}"));
        assert_eq!(result["isError"], false, "{tool}: {result}");
        result["structuredContent"].clone()
    }

    pub fn pid(&self) -> u32 {
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

pub fn percentile<T: Copy + Default>(sorted: &[T], p: f64) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

pub fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

pub fn small_frame_base64(from: [u8; 3], to: [u8; 3]) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(veo_core::sample::gradient_png(64, 36, from, to))
}

pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// 5. Throughput over streamable HTTP

/// A `veo-mcp serve --http` process.
pub struct HttpServer {
    pub child: Child,
    pub addr: SocketAddr,
}

impl HttpServer {
    pub fn spawn(env: &[(String, String)]) -> HttpServer {
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
pub fn http_call(addr: SocketAddr, tool: &str, args: Value) -> Vec<u8> {
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
pub struct Conn {
    pub stream: tokio::net::TcpStream,
    pub buf: Vec<u8>,
    pub pos: usize,
    pub body: Vec<u8>,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> Conn {
        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Conn {
            stream,
            buf: Vec::with_capacity(64 * 1024),
            pos: 0,
            body: Vec::with_capacity(16 * 1024),
        }
    }

    pub async fn fill(&mut self) -> Result<(), String> {
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
    pub async fn line(&mut self) -> Result<std::ops::Range<usize>, String> {
        loop {
            if let Some(i) = find(&self.buf[self.pos..], b"\r\n") {
                let range = self.pos..self.pos + i;
                self.pos += i + 2;
                return Ok(range);
            }
            self.fill().await?;
        }
    }

    pub async fn take(&mut self, n: usize) -> Result<(), String> {
        while self.buf.len() - self.pos < n {
            self.fill().await?;
        }
        self.body
            .extend_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(())
    }

    /// Sends `request`, reads the response; returns its status (the body is in `self.body`).
    pub async fn roundtrip(&mut self, request: &[u8]) -> Result<u16, String> {
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

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// CPU time (user + system) of a process or a thread, from its `stat` file, in seconds.
pub fn cpu_seconds(stat_path: &str) -> f64 {
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
pub fn thread_cpu(prefix: &str) -> f64 {
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

pub struct RoundResult {
    pub calls: u64,
    pub elapsed: Duration,
    pub latencies_us: Vec<u32>,
    pub mock_requests: u64,
    /// CPU seconds of every server process driven.
    pub cpu_server: f64,
    /// CPU seconds of the machine's PostgreSQL processes.
    pub cpu_database: f64,
    pub cpu_mock: f64,
    pub cpu_load: f64,
}

/// Counters read at the start and the end of a measured window.
#[derive(Clone, Copy)]
pub struct Snapshot {
    pub at: Instant,
    pub mock_requests: u64,
    pub cpu_server: f64,
    pub cpu_database: f64,
    pub cpu_mock: f64,
    pub cpu_load: f64,
}

impl Snapshot {
    pub fn take(mock: &MockServer, server_pids: &[u32]) -> Snapshot {
        Snapshot {
            at: Instant::now(),
            mock_requests: mock.stats().total_requests(),
            cpu_server: server_pids
                .iter()
                .map(|pid| cpu_seconds(&format!("/proc/{pid}/stat")))
                .sum(),
            cpu_database: process_cpu("postgres"),
            cpu_mock: thread_cpu("mock"),
            cpu_load: thread_cpu("loadgen"),
        }
    }
}

/// CPU seconds of this machine's processes whose command name starts with `prefix`.
pub fn process_cpu(prefix: &str) -> f64 {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|p| {
            p.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|p| {
            std::fs::read_to_string(p.path().join("comm"))
                .is_ok_and(|c| c.trim_start().starts_with(prefix))
        })
        .map(|p| cpu_seconds(&p.path().join("stat").display().to_string()))
        .sum()
}

/// Runs `conns` connections against `addr` for `warm_up` then `secs`, one call in flight
/// each, on a current-thread runtime on a thread named `loadgen`.
pub fn drive(
    mock: &Mock,
    server_pid: u32,
    addr: SocketAddr,
    request: Vec<u8>,
    conns: usize,
    warm_up: f64,
    secs: f64,
) -> RoundResult {
    drive_spread(
        mock,
        &[server_pid],
        &[(addr, request)],
        conns,
        warm_up,
        secs,
    )
}

/// [`drive`] over several servers: connection `n` sends `targets[n % len]`'s request to its
/// address, as a round-robin load balancer would; `server_pids` are the processes whose CPU
/// time is counted.
pub fn drive_spread(
    mock: &Mock,
    server_pids: &[u32],
    targets: &[(SocketAddr, Vec<u8>)],
    conns: usize,
    warm_up: f64,
    secs: f64,
) -> RoundResult {
    let targets: Vec<(SocketAddr, Arc<[u8]>)> = targets
        .iter()
        .map(|(addr, request)| (*addr, Arc::from(request.as_slice())))
        .collect();
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
                    for n in 0..conns {
                        let (addr, request) = &targets[n % targets.len()];
                        open.push((Conn::open(*addr).await, Arc::clone(request)));
                    }
                    let measure = Instant::now() + Duration::from_secs_f64(warm_up);
                    let end = measure + Duration::from_secs_f64(secs);
                    let tasks: Vec<_> = open
                        .into_iter()
                        .map(|(mut conn, request)| {
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
                    let start = Snapshot::take(mock, server_pids);
                    let mut latencies_us = Vec::new();
                    for t in tasks {
                        latencies_us.extend(t.await.expect("connection task"));
                    }
                    let stop = Snapshot::take(mock, server_pids);
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
            cpu_database: stop.cpu_database - start.cpu_database,
            cpu_mock: stop.cpu_mock - start.cpu_mock,
            cpu_load: stop.cpu_load - start.cpu_load,
        }
    })
}
