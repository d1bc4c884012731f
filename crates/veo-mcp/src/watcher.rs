//! Background following: after a submit, the server follows the task on its own (polite polling
//! through veo-core's one polling loop, a bounded number of queries at a time), records what it
//! sees in the journal, and has the [`Saver`] save the videos well before their links expire,
//! even if no client ever asks again. Tasks left unfinished or unsaved by an earlier run are
//! picked up again at startup.

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
    watching: Mutex<HashSet<String>>,
    /// Tasks a result call is waiting on right now (with how many calls): the watcher leaves
    /// their polling to those calls.
    foreground: Mutex<HashMap<String, usize>>,
    stop: CancellationToken,
}

impl Watcher {
    /// A watcher that records into `journal` and saves through `saver`.
    pub fn new(client: Client, journal: Journal, saver: Saver, timing: PollTiming) -> Watcher {
        Watcher {
            inner: Arc::new(Inner {
                client,
                journal,
                saver,
                timing,
                poll_permits: Semaphore::new(CONCURRENT_POLLS),
                watching: Mutex::new(HashSet::new()),
                foreground: Mutex::new(HashMap::new()),
                stop: CancellationToken::new(),
            }),
        }
    }

    /// Stops every background watch (at its next wait).
    pub fn stop(&self) {
        self.inner.stop.cancel();
    }

    /// Picks up the journal's unfinished and unsaved tasks. Returns how many.
    pub async fn resume(&self) -> usize {
        match self.inner.journal.pending(self.inner.saver.saving()).await {
            Ok(ids) => {
                let n = ids.len();
                for id in ids {
                    self.watch_after(id, Duration::ZERO);
                }
                if n > 0 {
                    tracing::info!(tasks = n, "resuming tasks from the journal");
                }
                n
            }
            Err(e) => {
                tracing::error!("cannot read pending tasks: {e}");
                0
            }
        }
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

    /// Follows `task_id` in the background until it ends and its videos are saved.
    pub fn watch(&self, task_id: String) {
        self.watch_after(task_id, self.inner.timing.first);
    }

    fn watch_after(&self, task_id: String, first: Duration) {
        if !lock(&self.inner.watching).insert(task_id.clone()) {
            return;
        }
        let watcher = self.clone();
        tokio::spawn(async move {
            watcher.follow(&task_id, first).await;
            lock(&watcher.inner.watching).remove(&task_id);
        });
    }

    async fn follow(&self, task_id: &str, first: Duration) {
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
        match poll_until(&pacing, None, &inner.stop, query, lasting, |_| {}).await {
            Ok(result) if result.status == TaskStatus::Succeeded && inner.saver.saving() => {
                let saving = inner.saver.save_until_done(result, inner.timing.min);
                tokio::select! {
                    () = inner.stop.cancelled() => {}
                    _ = saving => {}
                }
            }
            Ok(_) | Err(Error::Cancelled) => {}
            Err(e) => tracing::warn!(task_id, "stopped watching: {e}"),
        }
    }
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
