//! Background watching and saving: after a submit, the server follows the task on its own
//! (polite polling, a bounded number of requests at a time), records what it sees in the
//! journal, and saves the videos to the output directory well before their links expire, even
//! if no client ever asks again. Tasks left unfinished or unsaved by an earlier run are picked
//! up again at startup.

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use veo_core::{Client, Error, TaskResult, TaskStatus};

use crate::journal::{Journal, TaskEntry};

/// How the background watcher polls.
#[derive(Clone, Debug)]
pub struct PollTiming {
    /// Delay before the first poll after a submit.
    pub first: Duration,
    /// Shortest delay between polls.
    pub min: Duration,
    /// Longest delay between polls.
    pub max: Duration,
}

impl Default for PollTiming {
    /// First poll after 10 s, then every 5 to 20 s following the task's eta.
    fn default() -> Self {
        PollTiming {
            first: Duration::from_secs(10),
            min: Duration::from_secs(5),
            max: Duration::from_secs(20),
        }
    }
}

/// Attempts to download one video within one save round.
const SAVE_ATTEMPTS: u32 = 5;
/// Save rounds (each with fresh links) before the watcher leaves a task to the next start.
const MAX_SAVE_ROUNDS: u32 = 30;
/// Longest pause between save rounds.
const MAX_SAVE_DELAY: Duration = Duration::from_secs(120);
/// Status queries the watcher makes at the same time, across all tasks.
const CONCURRENT_POLLS: usize = 4;
/// Downloads the watcher makes at the same time, across all tasks.
const CONCURRENT_DOWNLOADS: usize = 2;
/// A temporary download file older than this was left by an interrupted download (possibly
/// of another process sharing the output directory; younger ones may still be written).
const STALE_PARTIAL: Duration = Duration::from_secs(900);

/// Watches tasks in the background and saves their videos.
#[derive(Clone)]
pub struct Watcher {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    journal: Journal,
    output_dir: Option<PathBuf>,
    timing: PollTiming,
    permits: Semaphore,
    download_permits: Semaphore,
    watching: Mutex<HashSet<String>>,
    /// Tasks a `get_task_result` call is waiting on right now (with how many calls): the
    /// watcher leaves their polling to those calls.
    foreground: Mutex<HashMap<String, usize>>,
    save_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    stop: CancellationToken,
}

/// A video of a task with where it was saved, if it was.
#[derive(Clone, Debug)]
pub struct SavedVideo {
    /// The file, once saved.
    pub path: Option<PathBuf>,
    /// Its size in bytes.
    pub bytes: Option<u64>,
}

impl Watcher {
    /// A watcher saving into `output_dir` (or only recording links, when `None`).
    pub fn new(
        client: Client,
        journal: Journal,
        output_dir: Option<PathBuf>,
        timing: PollTiming,
    ) -> Watcher {
        Watcher {
            inner: Arc::new(Inner {
                client,
                journal,
                output_dir,
                timing,
                permits: Semaphore::new(CONCURRENT_POLLS),
                download_permits: Semaphore::new(CONCURRENT_DOWNLOADS),
                watching: Mutex::new(HashSet::new()),
                foreground: Mutex::new(HashMap::new()),
                save_locks: Mutex::new(HashMap::new()),
                stop: CancellationToken::new(),
            }),
        }
    }

    /// Whether videos are saved to disk.
    pub fn saving(&self) -> bool {
        self.inner.output_dir.is_some()
    }

    /// The output directory, when saving.
    pub fn output_dir(&self) -> Option<&Path> {
        self.inner.output_dir.as_deref()
    }

    /// Stops every background watch (at its next wait).
    pub fn stop(&self) {
        self.inner.stop.cancel();
    }

    /// Picks up the journal's unfinished and unsaved tasks. Returns how many.
    pub async fn resume(&self) -> usize {
        match self.inner.journal.pending(self.saving()).await {
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
        *self
            .inner
            .foreground
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(task_id.to_string())
            .or_default() += 1;
        ForegroundWait {
            watcher: self.clone(),
            task_id: task_id.to_string(),
        }
    }

    fn foreground_waits(&self, task_id: &str) -> bool {
        self.inner
            .foreground
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(task_id)
    }

    /// Follows `task_id` in the background until it ends and its videos are saved.
    pub fn watch(&self, task_id: String) {
        self.watch_after(task_id, self.inner.timing.first);
    }

    fn watch_after(&self, task_id: String, first: Duration) {
        {
            let mut watching = self
                .inner
                .watching
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if !watching.insert(task_id.clone()) {
                return;
            }
        }
        let watcher = self.clone();
        tokio::spawn(async move {
            watcher.follow(&task_id, first).await;
            watcher
                .inner
                .watching
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&task_id);
        });
    }

    async fn follow(&self, task_id: &str, first: Duration) {
        let timing = &self.inner.timing;
        let mut delay = first;
        let mut failures = 0u32;
        let mut save_rounds = 0u32;
        loop {
            tokio::select! {
                _ = self.inner.stop.cancelled() => return,
                _ = tokio::time::sleep(delay) => {}
            }
            if self.foreground_waits(task_id) {
                delay = timing.max;
                continue;
            }
            let polled = {
                let _permit = self.inner.permits.acquire().await;
                self.inner.client.task_result(task_id).await
            };
            match polled {
                Ok(result) => {
                    failures = 0;
                    if let Err(e) = self.inner.journal.record_result(&result).await {
                        tracing::warn!(task_id, "cannot record status: {e}");
                    }
                    match result.status {
                        TaskStatus::Succeeded if !self.saving() => return,
                        TaskStatus::Succeeded => {
                            let saved = self.save(&result).await;
                            if !saved.is_empty() && saved.iter().all(|s| s.path.is_some()) {
                                return;
                            }
                            // Not saved yet (no links yet, or downloads failing): keep trying,
                            // less and less often, with fresh links from each poll.
                            save_rounds += 1;
                            if save_rounds > MAX_SAVE_ROUNDS {
                                tracing::error!(
                                    task_id,
                                    "giving up saving after {MAX_SAVE_ROUNDS} rounds; the journal keeps the links and the next start tries again"
                                );
                                return;
                            }
                            delay = (timing.min * 2u32.saturating_pow(save_rounds.min(10)))
                                .min(MAX_SAVE_DELAY);
                            continue;
                        }
                        TaskStatus::Failed => return,
                        _ => {}
                    }
                    delay = result
                        .eta_seconds
                        .map(Duration::from_secs)
                        .unwrap_or(timing.max)
                        .clamp(timing.min, timing.max);
                }
                Err(e @ (Error::NotFound { .. } | Error::Auth { .. } | Error::MissingApiKey)) => {
                    tracing::warn!(task_id, "stopped watching: {e}");
                    return;
                }
                Err(e) => {
                    failures += 1;
                    tracing::debug!(task_id, failures, "poll failed: {e}");
                    delay = (timing.min * 2u32.saturating_pow(failures.min(6))).min(timing.max * 3);
                }
            }
        }
    }

    /// Saves every video of a succeeded task that is not saved yet, and returns where each one
    /// is. Safe to call from several places at once: one caller downloads, the others wait and
    /// see its result. Does nothing (and returns no paths) when saving is off.
    pub async fn save(&self, result: &TaskResult) -> Vec<SavedVideo> {
        let task_id = result.task_id.as_str();
        let Some(output_dir) = self.inner.output_dir.clone() else {
            return Vec::new();
        };
        let lock = {
            let mut locks = self
                .inner
                .save_locks
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            Arc::clone(locks.entry(task_id.to_string()).or_default())
        };
        let saved = {
            let _guard = lock.lock().await;
            self.save_locked(result, &output_dir).await
        };
        // Forget the lock once nobody else holds or waits for it, so the map does not grow.
        let mut locks = self
            .inner
            .save_locks
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if Arc::strong_count(&lock) <= 2 {
            locks.remove(task_id);
        }
        saved
    }

    async fn save_locked(&self, result: &TaskResult, output_dir: &Path) -> Vec<SavedVideo> {
        let task_id = result.task_id.as_str();
        let journal = &self.inner.journal;
        let mut entry = journal.get(task_id).await;
        if !matches!(&entry, Ok(Some(e)) if e.videos.len() >= result.videos.len()) {
            // Not recorded yet (or without these links): record first, so saves can be noted.
            if let Err(e) = journal.record_result(result).await {
                tracing::warn!(task_id, "cannot record the task: {e}");
                return Vec::new();
            }
            entry = journal.get(task_id).await;
        }
        let entry = match entry {
            Ok(Some(entry)) => entry,
            Ok(None) => return Vec::new(),
            Err(e) => {
                tracing::warn!(task_id, "cannot read the journal: {e}");
                return Vec::new();
            }
        };
        let Some(dir) = task_dir(output_dir, task_id) else {
            let _ = journal
                .save_failed(task_id, "the task id cannot be used as a directory name")
                .await;
            return Vec::new();
        };
        let count = result.videos.len();
        let mut saved = Vec::with_capacity(count);
        let mut last_error = None;
        for (index, video) in result.videos.iter().enumerate() {
            let index = u32::try_from(index).unwrap_or(u32::MAX);
            if let Some(done) = already_saved(&entry, index) {
                saved.push(done);
                continue;
            }
            let path = dir.join(file_name(task_id, index, count));
            match self
                .download_with_retries(task_id, index, &video.url, &dir, &path)
                .await
            {
                Ok(bytes) => {
                    if let Err(e) = journal
                        .saved(task_id, index, &video.url, &path, bytes)
                        .await
                    {
                        tracing::warn!(task_id, "cannot record the saved file: {e}");
                    }
                    tracing::info!(task_id, path = %path.display(), bytes, "video saved");
                    saved.push(SavedVideo {
                        path: Some(path),
                        bytes: Some(bytes),
                    });
                }
                Err(e) => {
                    tracing::warn!(task_id, index, "saving the video failed: {e}");
                    last_error = Some(e.to_string());
                    saved.push(SavedVideo {
                        path: None,
                        bytes: None,
                    });
                }
            }
        }
        if let Some(error) = last_error {
            let _ = journal.save_failed(task_id, &error).await;
        }
        saved
    }

    async fn download_with_retries(
        &self,
        task_id: &str,
        index: u32,
        url: &str,
        dir: &Path,
        path: &Path,
    ) -> Result<u64, Error> {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| Error::LocalFile {
                path: dir.to_path_buf(),
                message: e.to_string(),
            })?;
        veo_core::download::remove_stale_partials(path, STALE_PARTIAL).await;
        let mut url = url.to_string();
        let mut attempt = 1;
        loop {
            let outcome = {
                let _permit = self.inner.download_permits.acquire().await;
                self.inner.client.download(&url, path).await
            };
            let error = match outcome {
                Ok(bytes) => return Ok(bytes),
                Err(e) => e,
            };
            if attempt >= SAVE_ATTEMPTS {
                return Err(error);
            }
            if matches!(error, Error::LinkExpired { .. }) {
                // Ask the platform again: a fresh query may carry freshly signed links.
                if let Ok(fresh) = self.inner.client.task_result(task_id).await
                    && let Some(video) = fresh.videos.get(index as usize)
                {
                    let _ = self.inner.journal.record_result(&fresh).await;
                    if video.url == url {
                        return Err(error);
                    }
                    url = video.url.clone();
                }
            }
            let delay = Duration::from_millis(250 * 2u64.pow(attempt - 1));
            tracing::debug!(
                task_id,
                attempt,
                ?delay,
                "download failed, retrying: {error}"
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
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
        let mut waits = self
            .watcher
            .inner
            .foreground
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = waits.get_mut(&self.task_id) {
            *n -= 1;
            if *n == 0 {
                waits.remove(&self.task_id);
            }
        }
    }
}

fn already_saved(entry: &TaskEntry, index: u32) -> Option<SavedVideo> {
    let video = entry.videos.iter().find(|v| v.index == index)?;
    let path = video.path.clone()?;
    path.is_file().then_some(SavedVideo {
        path: Some(path),
        bytes: video.bytes,
    })
}

/// `task_id` as a file-name stem: itself when it is only ASCII letters, digits, `-` and `_`;
/// otherwise the other characters become `_` and a hash of the original id is appended, so two
/// ids never share a name.
fn safe_stem(task_id: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if task_id.chars().all(plain) {
        return task_id.to_string();
    }
    let cleaned: String = task_id
        .chars()
        .map(|c| if plain(c) { c } else { '_' })
        .collect();
    // FNV-1a: stable across runs and platforms, enough to tell ids apart.
    let hash = task_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{cleaned}-{:08x}", hash as u32)
}

/// `<output_dir>/<task_id>`, or `None` if the id would not stay one plain directory inside it.
pub fn task_dir(output_dir: &Path, task_id: &str) -> Option<PathBuf> {
    let name = safe_stem(task_id);
    let relative = Path::new(&name);
    let single = relative.components().count() == 1
        && matches!(relative.components().next(), Some(Component::Normal(_)));
    (!name.is_empty() && name.len() <= 200 && single).then(|| output_dir.join(relative))
}

/// `<task_id>.mp4` for a single video, `<task_id>-<n>.mp4` (from 1) for several.
fn file_name(task_id: &str, index: u32, count: usize) -> String {
    let stem = safe_stem(task_id);
    if count <= 1 {
        format!("{stem}.mp4")
    } else {
        format!("{stem}-{}.mp4", index + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_directories_stay_inside_the_output_directory() {
        let out = Path::new("/out");
        assert_eq!(
            task_dir(out, "abc-123"),
            Some(PathBuf::from("/out/abc-123"))
        );
        for hostile in ["..", "../x", "/etc", "a/../../b", "C:\\x", "."] {
            let dir = task_dir(out, hostile);
            assert!(
                dir.as_ref().is_none_or(|d| d.parent() == Some(out)),
                "{hostile} → {dir:?}"
            );
        }
        assert_eq!(task_dir(out, ""), None);
        assert_ne!(
            task_dir(out, "a.b"),
            task_dir(out, "a_b"),
            "no two ids share a folder"
        );
        assert_ne!(file_name("a:b", 0, 1), file_name("a_b", 0, 1));
        assert_eq!(file_name("t", 0, 1), "t.mp4");
        assert_eq!(file_name("t", 1, 2), "t-2.mp4");
    }
}
