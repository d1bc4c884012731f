//! Saving videos: where a task's videos go (`<output dir>/<task id>/<task id>[-n].mp4`), one
//! saver per task at a time, downloads retried with fresh links, and every save written down in
//! the journal. Both a result call and the background watcher save through here.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backon::Retryable as _;
use sha2::Digest as _;
use tokio::sync::Semaphore;
use veo_core::{Client, Error, TaskResult};

use crate::journal::{Journal, TaskEntry};

/// Attempts to download one video within one save.
const SAVE_ATTEMPTS: u32 = 5;
/// Save rounds (each with fresh links) before [`Saver::save_until_done`] gives up; the journal
/// keeps the links and the watcher tries again later.
const MAX_SAVE_ROUNDS: u32 = 30;
/// Longest pause between save rounds.
const MAX_SAVE_PAUSE: Duration = Duration::from_secs(120);
/// Downloads at the same time, across all tasks.
const CONCURRENT_DOWNLOADS: usize = 2;
/// A temporary download file older than this was left by an interrupted download (possibly
/// of another process sharing the output directory; younger ones may still be written).
const STALE_PARTIAL: Duration = Duration::from_secs(900);

/// A video file on disk.
#[derive(Clone, Debug)]
pub struct SavedFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its size in bytes, when known.
    pub bytes: Option<u64>,
}

/// Saves the videos of succeeded tasks. Cheap to clone.
#[derive(Clone)]
pub struct Saver {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    journal: Journal,
    output_dir: Option<PathBuf>,
    download_permits: Semaphore,
    task_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Saver {
    /// A saver into `output_dir`; with `None`, saving is off and [`Saver::save`] does nothing.
    pub fn new(client: Client, journal: Journal, output_dir: Option<PathBuf>) -> Saver {
        Saver {
            inner: Arc::new(Inner {
                client,
                journal,
                output_dir,
                download_permits: Semaphore::new(CONCURRENT_DOWNLOADS),
                task_locks: Mutex::new(HashMap::new()),
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

    /// Saves every video of a succeeded task that is not saved yet, and returns where each one
    /// is (`None` for one that could not be saved). Safe to call from several places at once:
    /// one caller downloads, the others wait and see its result. Returns nothing when saving is
    /// off.
    pub async fn save(&self, result: &TaskResult) -> Vec<Option<SavedFile>> {
        let task_id = result.task_id.as_str();
        let Some(output_dir) = self.inner.output_dir.clone() else {
            return Vec::new();
        };
        let task_lock = {
            let mut locks = lock(&self.inner.task_locks);
            Arc::clone(locks.entry(task_id.to_string()).or_default())
        };
        let saved = {
            let _guard = task_lock.lock().await;
            self.save_locked(result, &output_dir).await
        };
        // Forget the lock once nobody else holds or waits for it, so the map does not grow.
        let mut locks = lock(&self.inner.task_locks);
        if Arc::strong_count(&task_lock) <= 2 {
            locks.remove(task_id);
        }
        saved
    }

    /// Saves a succeeded task's videos in rounds, each with fresh links from the platform and
    /// a longer pause before it (from twice `min_pause` up to two minutes), until every one is
    /// on disk or the rounds run out. Returns where each video is after the last round.
    pub async fn save_until_done(
        &self,
        first: TaskResult,
        min_pause: Duration,
    ) -> Vec<Option<SavedFile>> {
        let task_id = first.task_id.clone();
        let known = Mutex::new(Some(first));
        let last = Mutex::new(Vec::new());
        let round = || async {
            let fresh = lock(&known).take();
            let result = match fresh {
                Some(result) => result,
                None => {
                    let result = self
                        .inner
                        .client
                        .task_result(&task_id)
                        .await
                        .map_err(Some)?;
                    let _ = self.inner.journal.record_result(&result).await;
                    result
                }
            };
            let saved = self.save(&result).await;
            let done = !saved.is_empty() && saved.iter().all(Option::is_some);
            *lock(&last) = saved;
            // Not saved yet: no links yet, or downloads failing.
            if done { Ok(()) } else { Err(None) }
        };
        let rounds = veo_core::RetryPolicy {
            base_delay: min_pause * 2,
            max_delay: MAX_SAVE_PAUSE,
            ..veo_core::RetryPolicy::default()
        };
        let outcome = round
            .retry(rounds.backoff(MAX_SAVE_ROUNDS + 1))
            .when(|e: &Option<Error>| {
                !matches!(
                    e,
                    Some(Error::NotFound { .. } | Error::Auth { .. } | Error::MissingApiKey)
                )
            })
            .notify(|_, pause| {
                tracing::debug!(task_id, ?pause, "not all videos saved; trying again")
            })
            .await;
        if outcome.is_err() {
            tracing::error!(
                task_id,
                "not all videos could be saved; the journal keeps the links and they are tried again later"
            );
        }
        std::mem::take(&mut *lock(&last))
    }

    async fn save_locked(&self, result: &TaskResult, output_dir: &Path) -> Vec<Option<SavedFile>> {
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
                .record_save_failed(task_id, "the task id cannot be used as a directory name")
                .await;
            return Vec::new();
        };
        let count = result.videos.len();
        let mut saved = Vec::with_capacity(count);
        let mut last_error = None;
        for (index, video) in result.videos.iter().enumerate() {
            let index = u32::try_from(index).unwrap_or(u32::MAX);
            if let Some(done) = already_saved(&entry, index) {
                saved.push(Some(done));
                continue;
            }
            let path = dir.join(file_name(task_id, index, count));
            match self.download(task_id, index, &video.url, &dir, &path).await {
                Ok((url, bytes)) => {
                    if let Err(e) = journal
                        .record_saved(task_id, index, &url, &path, bytes)
                        .await
                    {
                        tracing::warn!(task_id, "cannot record the saved file: {e}");
                    }
                    tracing::info!(task_id, path = %path.display(), bytes, "video saved");
                    saved.push(Some(SavedFile {
                        path,
                        bytes: Some(bytes),
                    }));
                }
                Err(e) => {
                    tracing::warn!(task_id, index, "saving the video failed: {e}");
                    last_error = Some(e.to_string());
                    saved.push(None);
                }
            }
        }
        if let Some(error) = last_error {
            let _ = journal.record_save_failed(task_id, &error).await;
        }
        saved
    }

    /// Downloads video `index` of `task_id` to `path`, retrying failures; an expired link is
    /// replaced by a fresh one from the platform. Returns the link that worked and the size.
    async fn download(
        &self,
        task_id: &str,
        index: u32,
        url: &str,
        dir: &Path,
        path: &Path,
    ) -> Result<(String, u64), Error> {
        let client = &self.inner.client;
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| Error::LocalFile {
                path: dir.to_path_buf(),
                message: e.to_string(),
            })?;
        veo_core::download::remove_stale_partials(path, STALE_PARTIAL).await;
        let url = Mutex::new(url.to_string());
        let expired = AtomicBool::new(false);
        let no_fresh_link = AtomicBool::new(false);
        let attempt = || async {
            if expired.swap(false, Ordering::SeqCst) {
                // Ask the platform again: a fresh query may carry freshly signed links.
                if let Ok(fresh) = client.task_result(task_id).await
                    && let Some(video) = fresh.videos.get(index as usize)
                {
                    let _ = self.inner.journal.record_result(&fresh).await;
                    let mut current = lock(&url);
                    if video.url == *current {
                        no_fresh_link.store(true, Ordering::SeqCst);
                        return Err(Error::LinkExpired {
                            status: 410,
                            message: "the platform gives no fresher link".into(),
                        });
                    }
                    *current = video.url.clone();
                }
            }
            let current = lock(&url).clone();
            let _permit = self.inner.download_permits.acquire().await;
            match client.download(&current, path).await {
                Ok(bytes) => Ok((current, bytes)),
                Err(e) => {
                    expired.store(matches!(e, Error::LinkExpired { .. }), Ordering::SeqCst);
                    Err(e)
                }
            }
        };
        let policy = &client.config().retry;
        attempt
            .retry(policy.backoff(SAVE_ATTEMPTS))
            // Every failure is worth another try (the file is checked before it counts), but
            // an expired link the platform cannot refresh stays expired.
            .when(|_| !no_fresh_link.load(Ordering::SeqCst))
            .notify(|e, delay| {
                tracing::debug!(task_id, ?delay, "download failed, retrying: {e}");
            })
            .await
    }
}

/// The video `index` of `entry` if it is saved and still on disk.
fn already_saved(entry: &TaskEntry, index: u32) -> Option<SavedFile> {
    let video = entry.videos.iter().find(|v| v.index == index)?;
    let path = video.path.clone()?;
    path.is_file().then_some(SavedFile {
        path,
        bytes: video.bytes,
    })
}

/// Locks `mutex`, recovering it if a panicking holder poisoned it (the data stays usable).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Longest task id used as a file name as it is.
const MAX_PLAIN_STEM: usize = 100;

/// `task_id` as a file-name stem: itself when it is only ASCII letters, digits, `-` and `_` and
/// at most 100 characters; otherwise (at most 64 of) its characters with the others made `_`,
/// then `.` and 16 hex digits of its SHA-256. A plain id never contains `.`, so no plain id
/// and no other id can share a name, and every name fits a file system's limit.
fn safe_stem(task_id: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if task_id.chars().all(plain) && !task_id.is_empty() && task_id.len() <= MAX_PLAIN_STEM {
        return task_id.to_string();
    }
    let cleaned: String = task_id
        .chars()
        .take(64)
        .map(|c| if plain(c) { c } else { '_' })
        .collect();
    let hash = sha2::Sha256::digest(task_id.as_bytes());
    let hex: String = hash.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{cleaned}.{hex}")
}

/// `<output_dir>/<stem of task_id>`, always one plain directory inside it.
pub fn task_dir(output_dir: &Path, task_id: &str) -> Option<PathBuf> {
    let name = safe_stem(task_id);
    let relative = Path::new(&name);
    let single = relative.components().count() == 1
        && matches!(relative.components().next(), Some(Component::Normal(_)));
    single.then(|| output_dir.join(relative))
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
        assert!(task_dir(out, "").is_some_and(|d| d.parent() == Some(out)));
        // No two ids share a name: not a cleaned one and a plain one, not two long ones.
        let hashed = safe_stem("a.b");
        for (one, other) in [
            ("a.b", "a_b"),
            ("a.b", hashed.as_str()),
            ("a:b", "a_b"),
            (&"x".repeat(300), &format!("{}y", "x".repeat(299))),
        ] {
            assert_ne!(task_dir(out, one), task_dir(out, other), "{one} / {other}");
            assert_ne!(file_name(one, 0, 1), file_name(other, 0, 1));
        }
        let long = "t".repeat(1000);
        let dir = task_dir(out, &long).expect("a long id still has a directory");
        assert!(dir.file_name().unwrap().len() < 100, "{dir:?}");
        assert_eq!(file_name("t", 0, 1), "t.mp4");
        assert_eq!(file_name("t", 1, 2), "t-2.mp4");
    }
}
