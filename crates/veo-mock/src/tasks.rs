//! Tasks: created on submit, their state computed from timestamps on every query.
//!
//! No timers run per task. A task records when it was submitted, how long it queues and
//! processes, and how it ends; [`Task::phase_at`] derives status, progress and eta from the
//! current time. The store is sharded so concurrent queries rarely touch the same lock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::model::Model;
use crate::validate::Submission;

/// Reasons picked for tasks failed by `failure_rate`.
const FAILURE_REASONS: [&str; 3] = [
    "The generated video was blocked by the safety filter. Please adjust the prompt or images and try again.",
    "Video generation failed: the model could not produce a result for this input.",
    "Upstream service error: generation timed out.",
];

/// Wall-clock milliseconds since the Unix epoch, advancing monotonically from server start.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    start: Instant,
    start_unix_ms: u64,
}

impl Clock {
    pub(crate) fn new() -> Clock {
        let start_unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        Clock {
            start: Instant::now(),
            start_unix_ms,
        }
    }

    pub(crate) fn now_ms(&self) -> u64 {
        let elapsed = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.start_unix_ms.saturating_add(elapsed)
    }
}

/// How a task ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    Succeed,
    Fail(Box<str>),
}

/// One generation task.
#[derive(Debug)]
pub(crate) struct Task {
    pub id: Box<str>,
    /// Creation order since startup or the last reset, from 0.
    pub seq: u64,
    pub model: Model,
    pub submit_ms: u64,
    pub queue_ms: u64,
    pub processing_ms: u64,
    pub ending: Ending,
    pub sample_count: u8,
    pub seed: String,
    pub ttl_ms: u64,
    pub request_info: Box<str>,
}

/// Where a task is at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Queued { eta_s: u64 },
    Processing { progress: u8, eta_s: u64 },
    Succeed,
    Failed,
}

impl Phase {
    /// The platform's name for this phase, e.g. `TASK_STATUS_PROCESSING`.
    pub(crate) fn status_name(self) -> &'static str {
        match self {
            Phase::Queued { .. } => "TASK_STATUS_QUEUED",
            Phase::Processing { .. } => "TASK_STATUS_PROCESSING",
            Phase::Succeed => "TASK_STATUS_SUCCEED",
            Phase::Failed => "TASK_STATUS_FAILED",
        }
    }
}

/// One task as `GET /_mock/tasks` and [`crate::MockServer::tasks`] list it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSummary {
    /// The id a submit returned (or would have returned, had a fault not replaced the reply).
    pub task_id: String,
    /// The endpoint it was submitted to.
    pub model: Model,
    /// Its status now, e.g. `TASK_STATUS_QUEUED`.
    pub status: String,
    /// When it was submitted, in Unix milliseconds.
    pub submit_time_ms: u64,
}

impl Task {
    pub(crate) fn summary(&self, now_ms: u64) -> TaskSummary {
        TaskSummary {
            task_id: self.id.to_string(),
            model: self.model,
            status: self.phase_at(now_ms).status_name().to_owned(),
            submit_time_ms: self.submit_ms,
        }
    }

    pub(crate) fn execute_ms(&self) -> u64 {
        self.submit_ms.saturating_add(self.queue_ms)
    }

    pub(crate) fn complete_ms(&self) -> u64 {
        self.execute_ms().saturating_add(self.processing_ms)
    }

    pub(crate) fn phase_at(&self, now_ms: u64) -> Phase {
        let execute = self.execute_ms();
        let complete = self.complete_ms();
        let eta = |until: u64| until.saturating_sub(now_ms).div_ceil(1000);
        if now_ms < execute {
            Phase::Queued {
                eta_s: eta(complete),
            }
        } else if now_ms < complete {
            let done = u128::from(now_ms - execute) * 100 / u128::from(self.processing_ms.max(1));
            Phase::Processing {
                progress: u8::try_from(done.min(99)).unwrap_or(99),
                eta_s: eta(complete),
            }
        } else {
            match self.ending {
                Ending::Succeed => Phase::Succeed,
                Ending::Fail(_) => Phase::Failed,
            }
        }
    }
}

/// Timing and failure settings that shape new tasks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TaskDefaults {
    pub queue_ms: u64,
    pub processing_ms: u64,
    pub ttl_ms: u64,
    pub failure_rate: f64,
}

const SHARDS: usize = 32;

type Shard = RwLock<HashMap<Box<str>, Arc<Task>>>;

/// All tasks, sharded by id.
pub(crate) struct Store {
    shards: Box<[Shard]>,
    ids: Mutex<Generator>,
    count: AtomicU64,
}

/// Ids, seeds and failure rolls, plus the creation counter; one lock so both stay in step.
struct Generator {
    rng: StdRng,
    next_seq: u64,
}

impl Generator {
    fn new(seed: u64) -> Generator {
        Generator {
            rng: StdRng::seed_from_u64(seed),
            next_seq: 0,
        }
    }
}

impl Store {
    pub(crate) fn new(seed: u64) -> Store {
        Store {
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
            ids: Mutex::new(Generator::new(seed)),
            count: AtomicU64::new(0),
        }
    }

    fn shard(&self, id: &str) -> &Shard {
        // FNV-1a: cheap and good enough to spread ids over shards.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in id.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        &self.shards[(h % SHARDS as u64) as usize]
    }

    /// Creates and stores a task for a validated submission.
    pub(crate) fn create(
        &self,
        model: Model,
        sub: &Submission,
        defaults: TaskDefaults,
        now_ms: u64,
    ) -> Arc<Task> {
        let (id, seq, seed, random_fail) = {
            let mut ids = self.ids.lock().unwrap_or_else(|p| p.into_inner());
            let seq = ids.next_seq;
            ids.next_seq += 1;
            let rng = &mut ids.rng;
            let a: u64 = rng.random();
            let b: u64 = rng.random();
            let id = format!(
                "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
                a >> 32,
                (a >> 16) & 0xffff,
                a & 0x0fff,
                0x8000 | (b >> 48) & 0x3fff,
                b & 0xffff_ffff_ffff
            );
            let seed = sub.seed.unwrap_or_else(|| rng.random());
            let roll: f64 = rng.random();
            let reason_ix = rng.random_range(0..FAILURE_REASONS.len());
            let random_fail =
                (roll < defaults.failure_rate).then(|| FAILURE_REASONS[reason_ix].to_owned());
            (id, seq, seed, random_fail)
        };
        let m = &sub.markers;
        let ending = match (&m.fail, m.succeed, random_fail) {
            (Some(reason), _, _) => Ending::Fail(reason.as_str().into()),
            (None, false, Some(reason)) => Ending::Fail(reason.into()),
            _ => Ending::Succeed,
        };
        let request_info = format!(
            "model={} resolution={} aspect_ratio={} duration={}s sample_count={} generate_audio={}",
            model.endpoint_name(),
            sub.resolution,
            sub.aspect_ratio,
            sub.duration_s,
            sub.sample_count,
            sub.generate_audio
        );
        let task = Arc::new(Task {
            id: id.into_boxed_str(),
            seq,
            model,
            submit_ms: now_ms,
            queue_ms: m.queue_ms.unwrap_or(defaults.queue_ms),
            processing_ms: m.processing_ms.unwrap_or(defaults.processing_ms),
            ending,
            sample_count: sub.sample_count,
            seed: seed.to_string(),
            ttl_ms: m.ttl_ms.unwrap_or(defaults.ttl_ms),
            request_info: request_info.into_boxed_str(),
        });
        self.shard(&task.id)
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(task.id.clone(), Arc::clone(&task));
        self.count.fetch_add(1, Ordering::Relaxed);
        task
    }

    /// The task with this id.
    pub(crate) fn get(&self, id: &str) -> Option<Arc<Task>> {
        self.shard(id)
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    /// Every task held, oldest first.
    pub(crate) fn list(&self) -> Vec<Arc<Task>> {
        let mut all: Vec<Arc<Task>> = self
            .shards
            .iter()
            .flat_map(|shard| {
                shard
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .values()
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .collect();
        all.sort_by_key(|t| t.seq);
        all
    }

    /// Number of tasks held.
    pub(crate) fn len(&self) -> usize {
        usize::try_from(self.count.load(Ordering::Relaxed)).unwrap_or(usize::MAX)
    }

    /// Forgets every task and restarts the generator from `seed`.
    pub(crate) fn clear(&self, seed: u64) {
        for shard in self.shards.iter() {
            shard.write().unwrap_or_else(|p| p.into_inner()).clear();
        }
        self.count.store(0, Ordering::Relaxed);
        *self.ids.lock().unwrap_or_else(|p| p.into_inner()) = Generator::new(seed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(ending: Ending) -> Task {
        Task {
            id: "t".into(),
            seq: 0,
            model: Model::Standard,
            submit_ms: 1_000,
            queue_ms: 100,
            processing_ms: 1_000,
            ending,
            sample_count: 1,
            seed: "1".into(),
            ttl_ms: 1_000,
            request_info: "".into(),
        }
    }

    #[test]
    fn phases_follow_the_clock() {
        let t = task(Ending::Succeed);
        assert_eq!(t.phase_at(1_000), Phase::Queued { eta_s: 2 });
        assert_eq!(
            t.phase_at(1_100),
            Phase::Processing {
                progress: 0,
                eta_s: 1
            }
        );
        assert_eq!(
            t.phase_at(1_600),
            Phase::Processing {
                progress: 50,
                eta_s: 1
            }
        );
        assert_eq!(t.phase_at(2_100), Phase::Succeed);
        assert_eq!(
            task(Ending::Fail("x".into())).phase_at(5_000),
            Phase::Failed
        );
    }
}
