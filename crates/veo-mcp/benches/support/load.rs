//! The HTTP load generator: keep-alive HTTP/1.1 connections with one call in flight each, and
//! the CPU time and context switches of the processes involved, read from `/proc`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use veo_mock::MockServer;

use super::Mock;

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
    /// Context switches (voluntary and not) of the server processes' threads.
    pub context_switches: u64,
    /// Of those, the voluntary ones: a thread waiting (a hand-off, a worker parking), not
    /// preempted.
    pub voluntary_switches: u64,
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
    pub context_switches: u64,
    pub voluntary_switches: u64,
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
            context_switches: server_pids
                .iter()
                .map(|pid| context_switches(*pid, false))
                .sum(),
            voluntary_switches: server_pids
                .iter()
                .map(|pid| context_switches(*pid, true))
                .sum(),
        }
    }
}

/// Context switches of the live threads of process `pid` so far (from
/// `/proc/PID/task/*/status`; a thread that has exited is no longer counted): both kinds, or
/// with `voluntary_only` the voluntary ones.
pub fn context_switches(pid: u32, voluntary_only: bool) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok())
        .flat_map(|status| {
            status
                .lines()
                .filter(|l| {
                    l.starts_with("voluntary_ctxt_switches:")
                        || (!voluntary_only && l.starts_with("nonvoluntary_ctxt_switches:"))
                })
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
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
            context_switches: stop.context_switches.saturating_sub(start.context_switches),
            voluntary_switches: stop
                .voluntary_switches
                .saturating_sub(start.voluntary_switches),
        }
    })
}
