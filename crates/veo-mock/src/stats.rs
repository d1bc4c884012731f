//! Request counters: per endpoint and status, tasks created, downloads, faults injected.
//! Plain atomics; admin requests are not counted.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::model::Model;

/// An endpoint the counters distinguish.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// A submit endpoint.
    Submit(Model),
    /// `GET /v3/async/task-result`.
    TaskResult,
    /// `GET /files/...`.
    Download,
    /// Any other path (unknown routes, wrong methods).
    Other,
}

impl Endpoint {
    /// Every endpoint, in a fixed order.
    pub const ALL: [Endpoint; 6] = [
        Endpoint::Submit(Model::Standard),
        Endpoint::Submit(Model::Fast),
        Endpoint::Submit(Model::Lite),
        Endpoint::TaskResult,
        Endpoint::Download,
        Endpoint::Other,
    ];

    /// The name used as key in [`StatsSnapshot::requests`].
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Submit(Model::Standard) => "submit_standard",
            Endpoint::Submit(Model::Fast) => "submit_fast",
            Endpoint::Submit(Model::Lite) => "submit_lite",
            Endpoint::TaskResult => "task_result",
            Endpoint::Download => "download",
            Endpoint::Other => "other",
        }
    }

    fn index(self) -> usize {
        match self {
            Endpoint::Submit(Model::Standard) => 0,
            Endpoint::Submit(Model::Fast) => 1,
            Endpoint::Submit(Model::Lite) => 2,
            Endpoint::TaskResult => 3,
            Endpoint::Download => 4,
            Endpoint::Other => 5,
        }
    }
}

/// How a request ended, for counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A response with this status code was sent.
    Status(u16),
    /// The connection was closed without a response.
    Reset,
}

const CODES: [u16; 13] = [
    200, 206, 400, 401, 403, 404, 405, 413, 416, 429, 500, 502, 503,
];
const OTHER: usize = CODES.len();
const RESET: usize = CODES.len() + 1;
const SLOTS: usize = CODES.len() + 2;

/// The live counters.
pub(crate) struct Stats {
    requests: [[AtomicU64; SLOTS]; 6],
    tasks_created: AtomicU64,
    downloads: AtomicU64,
    faults_injected: AtomicU64,
}

impl Stats {
    pub(crate) fn new() -> Stats {
        Stats {
            requests: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            tasks_created: AtomicU64::new(0),
            downloads: AtomicU64::new(0),
            faults_injected: AtomicU64::new(0),
        }
    }

    pub(crate) fn record(&self, endpoint: Endpoint, outcome: Outcome) {
        let slot = match outcome {
            Outcome::Reset => RESET,
            Outcome::Status(code) => CODES.iter().position(|c| *c == code).unwrap_or(OTHER),
        };
        self.requests[endpoint.index()][slot].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn task_created(&self) {
        self.tasks_created.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn download(&self) {
        self.downloads.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn fault_injected(&self) {
        self.faults_injected.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn reset(&self) {
        for row in &self.requests {
            for c in row {
                c.store(0, Ordering::Relaxed);
            }
        }
        self.tasks_created.store(0, Ordering::Relaxed);
        self.downloads.store(0, Ordering::Relaxed);
        self.faults_injected.store(0, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self, tasks_stored: usize) -> StatsSnapshot {
        let mut requests = BTreeMap::new();
        for ep in Endpoint::ALL {
            let row = &self.requests[ep.index()];
            let mut by_status = BTreeMap::new();
            let mut total = 0;
            for (slot, counter) in row.iter().enumerate() {
                let n = counter.load(Ordering::Relaxed);
                if n == 0 {
                    continue;
                }
                total += n;
                let key = match slot {
                    RESET => "reset".to_owned(),
                    OTHER => "other".to_owned(),
                    i => CODES[i].to_string(),
                };
                by_status.insert(key, n);
            }
            requests.insert(ep.name().to_owned(), EndpointStats { total, by_status });
        }
        StatsSnapshot {
            requests,
            tasks_created: self.tasks_created.load(Ordering::Relaxed),
            tasks_stored,
            downloads: self.downloads.load(Ordering::Relaxed),
            faults_injected: self.faults_injected.load(Ordering::Relaxed),
        }
    }
}

/// Counts for one endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointStats {
    /// Requests that ended (with a response or a reset).
    pub total: u64,
    /// Requests by outcome: `"200"`, `"429"`, …, `"reset"` (closed without a response) and
    /// `"other"`; only non-zero entries.
    pub by_status: BTreeMap<String, u64>,
}

/// A copy of the counters at one moment (also what `GET /_mock/stats` returns).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsSnapshot {
    /// Per endpoint, keyed by [`Endpoint::name`]: `submit_standard`, `submit_fast`,
    /// `submit_lite`, `task_result`, `download`, `other`.
    pub requests: BTreeMap<String, EndpointStats>,
    /// Tasks created (including those whose reply was then replaced by a fault).
    pub tasks_created: u64,
    /// Tasks currently held.
    pub tasks_stored: usize,
    /// Result files served in full or in part (200 or 206).
    pub downloads: u64,
    /// Requests a fault was applied to.
    pub faults_injected: u64,
}

impl StatsSnapshot {
    /// Requests that ended at `endpoint`.
    pub fn requests_to(&self, endpoint: Endpoint) -> u64 {
        self.requests.get(endpoint.name()).map_or(0, |e| e.total)
    }

    /// Requests at `endpoint` that ended with `outcome`.
    pub fn count(&self, endpoint: Endpoint, outcome: Outcome) -> u64 {
        let key = match outcome {
            Outcome::Status(code) if CODES.contains(&code) => code.to_string(),
            Outcome::Status(_) => "other".to_owned(),
            Outcome::Reset => "reset".to_owned(),
        };
        self.requests
            .get(endpoint.name())
            .and_then(|e| e.by_status.get(&key))
            .copied()
            .unwrap_or(0)
    }

    /// Requests to any submit endpoint.
    pub fn submits(&self) -> u64 {
        Model::ALL
            .into_iter()
            .map(|m| self.requests_to(Endpoint::Submit(m)))
            .sum()
    }

    /// Requests to the task-result endpoint.
    pub fn task_results(&self) -> u64 {
        self.requests_to(Endpoint::TaskResult)
    }

    /// Requests to any counted endpoint (admin requests are never counted).
    pub fn total_requests(&self) -> u64 {
        self.requests.values().map(|e| e.total).sum()
    }
}
