//! Background following: after a submit, the server follows the task on its own (polite polling
//! through veo-core's one polling loop, a bounded number of queries at a time), records what it
//! sees in the journal, and has the [`Saver`] save the videos well before their links expire,
//! even if no client ever asks again.
//!
//! Processes sharing a journal (replicas of a team's server, two hosts' servers on a laptop)
//! share the following out by leases: a process follows only the tasks it holds a lease on. A
//! sweep every third of the lease claims the journal's unfinished and unsaved tasks that nobody
//! holds (those of a process that stopped, once its lease ran out, and those of an earlier run)
//! and renews the leases of the tasks followed; a task whose lease another process took is
//! given up.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use veo_core::poll::{Pacing, Polled, poll_until};
use veo_core::{Client, Error, TaskStatus};

use crate::config::PollTiming;
use crate::journal::Journal;
use crate::saver::{Saver, lock};

/// Status queries the watcher makes at the same time, across all tasks.
const CONCURRENT_POLLS: usize = 4;
/// Most tasks one sweep claims.
const CLAIMS_PER_SWEEP: u32 = 256;
/// Longest a stopping watcher spends handing its leases back.
const RELEASE_TIME: Duration = Duration::from_secs(2);

/// Follows tasks in the background. Cheap to clone.
#[derive(Clone)]
pub struct Watcher {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    journal: Journal,
    saver: Saver,
    timing: PollTiming,
    poll_permits: Semaphore,
    /// Who this watcher is in the journal's leases: unique to the process and the watcher.
    holder: String,
    lease: Duration,
    /// The tasks followed now, each with what stops its following.
    watching: Mutex<HashMap<String, CancellationToken>>,
    /// Tasks whose following ended with what asking again cannot change; not claimed again.
    gave_up: Mutex<HashSet<String>>,
    /// Tasks a result call is waiting on right now (with how many calls): the watcher leaves
    /// their polling to those calls.
    foreground: Mutex<HashMap<String, usize>>,
    stop: CancellationToken,
}

impl Watcher {
    /// A watcher that records into `journal`, saves through `saver` and holds its tasks for
    /// `lease` at a time.
    pub fn new(
        client: Client,
        journal: Journal,
        saver: Saver,
        timing: PollTiming,
        lease: Duration,
    ) -> Watcher {
        Watcher {
            inner: Arc::new(Inner {
                client,
                journal,
                saver,
                timing,
                poll_permits: Semaphore::new(CONCURRENT_POLLS),
                holder: holder_name(),
                lease,
                watching: Mutex::new(HashMap::new()),
                gave_up: Mutex::new(HashSet::new()),
                foreground: Mutex::new(HashMap::new()),
                stop: CancellationToken::new(),
            }),
        }
    }

    /// Stops every background watch (at its next wait) and the sweeps.
    pub fn stop(&self) {
        self.inner.stop.cancel();
    }

    /// Stops, and hands the leases of the tasks being followed back to the journal, so that
    /// another process sharing it takes them over at once (within two seconds at most).
    pub async fn stop_and_release(&self) {
        self.stop();
        let held: Vec<String> = lock(&self.inner.watching).keys().cloned().collect();
        let journal = &self.inner.journal;
        let holder = &self.inner.holder;
        let release = futures_util::future::join_all(
            held.iter().map(|task_id| journal.release(task_id, holder)),
        );
        if tokio::time::timeout(RELEASE_TIME, release).await.is_err() {
            tracing::warn!("leases not all handed back; they run out by themselves");
        }
    }

    /// Sweeps until stopped: every third of the lease, claims the journal's unfinished and
    /// unsaved tasks nobody else holds (renewing this watcher's own) and follows those not
    /// followed yet; a followed task whose lease another process took is given up.
    pub async fn sweep_until_stopped(&self) {
        let interval = self.inner.lease / 3;
        loop {
            self.sweep().await;
            tokio::select! {
                () = self.inner.stop.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
        }
    }

    /// One sweep; returns how many tasks it started following.
    pub async fn sweep(&self) -> usize {
        let inner = &self.inner;
        let claimed = match inner
            .journal
            .claim_pending(
                &inner.holder,
                inner.lease,
                inner.saver.saving(),
                CLAIMS_PER_SWEEP,
            )
            .await
        {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::warn!("cannot claim tasks to follow: {e}");
                return 0;
            }
        };
        let mut started = 0;
        for task_id in &claimed {
            if lock(&inner.gave_up).contains(task_id) {
                let _ = inner.journal.release(task_id, &inner.holder).await;
            } else if self.follow_in_background(task_id.clone(), Duration::ZERO) {
                started += 1;
            }
        }
        if started > 0 {
            tracing::info!(tasks = started, "following tasks from the journal");
        }
        // Followed tasks the sweep did not renew: finished meanwhile, or taken by another.
        let unrenewed: Vec<(String, CancellationToken)> = lock(&inner.watching)
            .iter()
            .filter(|(id, _)| !claimed.contains(id))
            .map(|(id, stop)| (id.clone(), stop.clone()))
            .collect();
        for (task_id, stop) in unrenewed {
            if let Ok(false) = inner
                .journal
                .claim(&task_id, &inner.holder, inner.lease)
                .await
            {
                tracing::info!(task_id, "another process follows this task now");
                stop.cancel();
            }
        }
        started
    }

    /// Marks `task_id` as waited on by a caller until the guard is dropped; meanwhile the
    /// background watcher does not poll it (the caller's wait does).
    pub fn waiting_on(&self, task_id: &str) -> ForegroundWait {
        *lock(&self.inner.foreground)
            .entry(task_id.to_string())
            .or_default() += 1;
        ForegroundWait {
            watcher: self.clone(),
            task_id: task_id.to_string(),
        }
    }

    fn foreground_waits(&self, task_id: &str) -> bool {
        lock(&self.inner.foreground).contains_key(task_id)
    }

    /// Follows `task_id` (just submitted) in the background until it ends and its videos are
    /// saved, unless another process sharing the journal holds it. Should the journal not
    /// answer, it is followed anyway: following twice costs a few queries, not following may
    /// lose a paid video.
    pub fn watch(&self, task_id: String) {
        let watcher = self.clone();
        tokio::spawn(async move {
            let inner = &watcher.inner;
            match inner
                .journal
                .claim(&task_id, &inner.holder, inner.lease)
                .await
            {
                Ok(false) => return,
                Ok(true) => {}
                Err(e) => tracing::warn!(task_id, "following without a lease: {e}"),
            }
            watcher.follow_in_background(task_id, inner.timing.first);
        });
    }

    /// Starts following `task_id` after `first`, unless it is followed already. Returns
    /// whether it started.
    fn follow_in_background(&self, task_id: String, first: Duration) -> bool {
        let stop = self.inner.stop.child_token();
        {
            let mut watching = lock(&self.inner.watching);
            if watching.contains_key(&task_id) {
                return false;
            }
            watching.insert(task_id.clone(), stop.clone());
        }
        let watcher = self.clone();
        tokio::spawn(async move {
            let inner = &watcher.inner;
            let ended = watcher.follow(&task_id, first, &stop).await;
            lock(&inner.watching).remove(&task_id);
            if ended == Ended::Lasting {
                lock(&inner.gave_up).insert(task_id.clone());
            }
            // Stopped by a shutdown: `stop_and_release` hands the lease back.
            if !inner.stop.is_cancelled() {
                let _ = inner.journal.release(&task_id, &inner.holder).await;
            }
        });
        true
    }

    async fn follow(&self, task_id: &str, first: Duration, stop: &CancellationToken) -> Ended {
        let inner = &self.inner;
        let pacing = Pacing {
            first_delay: first,
            // Without an eta, the longest interval: the watcher is in no hurry.
            first_interval: inner.timing.max,
            min_interval: inner.timing.min,
            max_interval: inner.timing.max,
            near_end: inner.timing.near_end,
        };
        let query = || async {
            if self.foreground_waits(task_id) {
                return Polled::Skipped;
            }
            let polled = {
                let _permit = inner.poll_permits.acquire().await;
                inner.client.task_result(task_id).await
            };
            if let Ok(result) = &polled
                && let Err(e) = inner.journal.record_result(result).await
            {
                tracing::warn!(task_id, "cannot record status: {e}");
            }
            Polled::Answer(polled)
        };
        // Only what asking again cannot change ends the following; the rest is polled through.
        let lasting = |e: &Error| {
            matches!(
                e,
                Error::NotFound { .. } | Error::Auth { .. } | Error::MissingApiKey
            )
        };
        match poll_until(&pacing, None, stop, query, lasting, |_| {}).await {
            Ok(result) if result.status == TaskStatus::Succeeded && inner.saver.saving() => {
                let saving = inner.saver.save_until_done(result, inner.timing.min);
                tokio::select! {
                    () = stop.cancelled() => Ended::Stopped,
                    _ = saving => Ended::Done,
                }
            }
            Ok(_) => Ended::Done,
            Err(Error::Cancelled) => Ended::Stopped,
            Err(e) => {
                tracing::warn!(task_id, "stopped watching: {e}");
                if lasting(&e) {
                    Ended::Lasting
                } else {
                    Ended::Done
                }
            }
        }
    }
}

/// How following a task ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ended {
    /// The task ended (and its videos were saved, or saving gave up for now).
    Done,
    /// Stopped: a shutdown, or another process took the task.
    Stopped,
    /// Asking again cannot change the answer (an unknown task, a refused key).
    Lasting,
}

/// This watcher's name in the journal's leases: the process (see [`crate::process`]) and a
/// random part, so that two watchers of one process are told apart too.
fn holder_name() -> String {
    use std::hash::{BuildHasher as _, Hasher as _};
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let process =
        crate::process::this_process().unwrap_or_else(|| format!("pid {}", std::process::id()));
    format!("{process}#{random:016x}")
}

/// Returned by [`Watcher::waiting_on`]; ends the foreground wait when dropped.
pub struct ForegroundWait {
    watcher: Watcher,
    task_id: String,
}

impl Drop for ForegroundWait {
    fn drop(&mut self) {
        let mut waits = lock(&self.watcher.inner.foreground);
        if let Some(n) = waits.get_mut(&self.task_id) {
            *n -= 1;
            if *n == 0 {
                waits.remove(&self.task_id);
            }
        }
    }
}
