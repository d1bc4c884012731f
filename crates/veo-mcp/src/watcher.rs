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
//! given up. A task that cannot be followed now (the platform does not know it, the key is
//! refused, its videos cannot be saved) rests: its lease is kept, so that neither this process
//! nor another tries it again at every sweep, and it is tried again after a while.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use veo_core::poll::{Pacing, Polled, poll_until};
use veo_core::{Client, Error, TaskStatus};

use crate::config::PollTiming;
use crate::journal::{Journal, Lease};
use crate::saver::{Saver, lock};

/// Status queries the watcher makes at the same time, across all tasks.
const CONCURRENT_POLLS: usize = 4;
/// Most tasks one sweep claims.
const CLAIMS_PER_SWEEP: u32 = 256;
/// Longest a stopping watcher spends handing its leases back.
const RELEASE_TIME: Duration = Duration::from_secs(2);
/// How long a task rests after an answer asking again cannot change (unknown, key refused).
const REST_AFTER_LASTING: Duration = Duration::from_secs(3600);
/// How long a task rests after its saving gave up for now (disk full, links refused…).
const REST_AFTER_UNSAVED: Duration = Duration::from_secs(600);

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
    /// Tasks held but left alone until the time given (see the module's notes).
    resting: Mutex<HashMap<String, Instant>>,
    /// Tasks another process held when this one last tried to claim them, and when.
    held_elsewhere: Mutex<HashMap<String, Instant>>,
    /// The sweeping task, once started.
    sweeping: Mutex<Option<tokio::task::JoinHandle<()>>>,
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
                resting: Mutex::new(HashMap::new()),
                held_elsewhere: Mutex::new(HashMap::new()),
                sweeping: Mutex::new(None),
                foreground: Mutex::new(HashMap::new()),
                stop: CancellationToken::new(),
            }),
        }
    }

    /// Stops every background watch (at its next wait) and the sweeps.
    pub fn stop(&self) {
        self.inner.stop.cancel();
    }

    /// Stops, and hands every lease this watcher holds back to the journal, so that another
    /// process sharing it takes the tasks over at once (within two seconds at most; otherwise
    /// the leases run out by themselves).
    pub async fn stop_and_release(&self) {
        self.stop();
        let sweeping = lock(&self.inner.sweeping).take();
        let handed_back = async {
            // A sweep under way may still claim: let it end first.
            if let Some(sweeping) = sweeping {
                let _ = sweeping.await;
            }
            self.inner.journal.release_all(&self.inner.holder).await
        };
        match tokio::time::timeout(RELEASE_TIME, handed_back).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!("leases not handed back, they run out by themselves: {e}"),
            Err(_) => tracing::warn!("leases not handed back in time; they run out by themselves"),
        }
    }

    /// Starts sweeping in the background until stopped: every third of the lease, claims the
    /// journal's unfinished and unsaved tasks nobody else holds (renewing this watcher's own)
    /// and follows those not followed yet; a followed task whose lease another process took is
    /// given up.
    pub fn start_sweeping(&self) {
        let watcher = self.clone();
        let interval = self.inner.lease / 3;
        let handle = tokio::spawn(async move {
            loop {
                watcher.sweep().await;
                tokio::select! {
                    () = watcher.inner.stop.cancelled() => return,
                    () = tokio::time::sleep(interval) => {}
                }
            }
        });
        *lock(&self.inner.sweeping) = Some(handle);
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
        let now = Instant::now();
        for task_id in &claimed {
            // A resting task stays held (renewed just now) and left alone until its time.
            let rests = {
                let mut resting = lock(&inner.resting);
                let until = resting.get(task_id).copied();
                if until.is_some_and(|until| until <= now) {
                    resting.remove(task_id);
                }
                until.is_some_and(|until| until > now)
            };
            if !rests && self.follow_in_background(task_id.clone(), Duration::ZERO) {
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

    /// The lease this watcher takes on a task it follows, for a journal write that claims the
    /// task itself (see [`Watcher::follow_claimed`]).
    pub fn lease(&self) -> Lease<'_> {
        Lease {
            holder: &self.inner.holder,
            duration: self.inner.lease,
        }
    }

    /// Follows `task_id`, just submitted and claimed for this watcher with [`Watcher::lease`]
    /// in the journal, in the background until it ends and its videos are saved.
    pub fn follow_claimed(&self, task_id: String) {
        self.follow_in_background(task_id, self.inner.timing.first);
    }

    /// Follows `task_id` (just submitted) in the background until it ends and its videos are
    /// saved, unless another process sharing the journal holds it. Should the journal not
    /// answer, it is followed anyway: following twice costs a few queries, not following may
    /// lose a paid video.
    pub fn watch(&self, task_id: String) {
        // Called at every look at a running task: followed here already, or known to be held
        // by another process a moment ago, it costs nothing (no journal write).
        if lock(&self.inner.watching).contains_key(&task_id) {
            return;
        }
        let recheck = self.inner.lease / 3;
        if lock(&self.inner.held_elsewhere)
            .get(&task_id)
            .is_some_and(|seen| seen.elapsed() < recheck)
        {
            return;
        }
        let watcher = self.clone();
        tokio::spawn(async move {
            let inner = &watcher.inner;
            match inner
                .journal
                .claim(&task_id, &inner.holder, inner.lease)
                .await
            {
                Ok(true) => {}
                // Held by another process, unless the journal does not know the task (its id
                // could not be recorded): then it is followed, and adopted at the first look.
                Ok(false) => {
                    if !matches!(inner.journal.get(&task_id).await, Ok(None)) {
                        let mut elsewhere = lock(&inner.held_elsewhere);
                        elsewhere.retain(|_, seen| seen.elapsed() < inner.lease);
                        elsewhere.insert(task_id, Instant::now());
                        return;
                    }
                    tracing::warn!(task_id, "following a task the journal does not know");
                }
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
            let rest = match ended {
                Ended::Lasting => Some(REST_AFTER_LASTING),
                Ended::Unsaved => Some(REST_AFTER_UNSAVED),
                Ended::Done | Ended::Stopped => None,
            };
            if let Some(rest) = rest {
                // Keep the lease: the sweeps renew it and leave the task alone meanwhile.
                lock(&inner.resting).insert(task_id.clone(), Instant::now() + rest);
            } else if ended == Ended::Done && !inner.stop.is_cancelled() {
                // Released while still marked as followed, so that no sweep starts following
                // it again in between and then loses the lease to this release.
                let _ = inner.journal.release(&task_id, &inner.holder).await;
            }
            lock(&inner.watching).remove(&task_id);
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
                    saved = saving => {
                        if !saved.is_empty() && saved.iter().all(Option::is_some) {
                            Ended::Done
                        } else {
                            Ended::Unsaved
                        }
                    }
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
    /// The task ended (and its videos were saved, or saving is off).
    Done,
    /// The task succeeded, but saving its videos gave up for now.
    Unsaved,
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
