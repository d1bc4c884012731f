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
use veo_mock::{MockConfig, MockServer};

mod load;

pub use load::*;

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
    program_command(Path::new(BIN), env, args)
}

/// `program` with `args`, only `env` in its environment, stdin and stdout piped.
pub fn program_command(program: &Path, env: &[(String, String)], args: &[&str]) -> Command {
    let mut command = Command::new(program);
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
        StdioServer::spawn_program(Path::new(BIN), env)
    }

    /// Starts `program` (an MCP server on stdio) and initializes it.
    pub fn spawn_program(program: &Path, env: &[(String, String)]) -> StdioServer {
        let mut child = program_command(program, env, &[])
            .spawn()
            .unwrap_or_else(|e| panic!("{} starts: {e}", program.display()));
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

/// Submits, through `server`, a task that stays running and one that finishes at once, waits
/// until the finished one's video is saved, and returns both task ids (`label` marks the prompts).
pub fn running_and_finished(server: &StdioServer, label: &str) -> (String, String) {
    let first = small_frame_base64([250, 120, 0], [10, 10, 80]);
    let last = small_frame_base64([10, 10, 80], [250, 220, 120]);
    let submit = |prompt: String| {
        let submitted = server.call(
            "generate_transition_video",
            json!({"image": first, "last_image": last, "prompt": prompt, "allow_duplicate": true}),
        );
        submitted["task_id"].as_str().expect("task id").to_string()
    };
    let running = submit(format!("{label}, running [mock:processing_ms=86400000]"));
    let finished = submit(format!("{label}, finished [mock:duration_ms=1]"));
    std::thread::sleep(Duration::from_millis(50));
    let report = server.call(
        "get_task_result",
        json!({"task_id": finished, "wait_seconds": 10}),
    );
    assert!(
        report["videos"][0]["saved_path"].is_string(),
        "saved: {report}"
    );
    (running, finished)
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
        HttpServer::spawn_program(Path::new(BIN), env, &["serve", "--http"])
    }

    /// Starts `program` with `args` and a free loopback address as the last argument, and
    /// waits until it listens there.
    pub fn spawn_program(program: &Path, env: &[(String, String)], args: &[&str]) -> HttpServer {
        let addr = free_addr();
        let listen = addr.to_string();
        let mut args = args.to_vec();
        args.push(&listen);
        let child = program_command(program, env, &args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} starts: {e}", program.display()));
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "the server did not listen");
            std::thread::sleep(Duration::from_millis(5));
        }
        HttpServer { child, addr }
    }
}

/// A loopback address with a port free a moment ago.
pub fn free_addr() -> SocketAddr {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    ([127, 0, 0, 1], port).into()
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
