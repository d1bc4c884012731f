//! The task journal: an SQLite database that remembers every submit and what became of it, so
//! a paid video is never lost and an identical request is never paid for twice by accident.
//!
//! A submit is written down *before* it is sent (state `sending`), then marked `submitted` with
//! its task id, or `unknown` when the reply was lost, or `rejected` when the platform certainly
//! refused it. Statuses, video links (with expiry) and saved files follow. Several server
//! processes may share one journal file: writes are short transactions in WAL mode, and the
//! duplicate check and the insert happen in one `IMMEDIATE` transaction.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior, params};
use serde_json::Value;
use veo_core::{TaskResult, TaskStatus};

/// How a submit stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubmitState {
    /// Written down; the request is being sent (or the process stopped while sending).
    Sending,
    /// The platform accepted it and gave a task id.
    Submitted,
    /// The request may have reached the platform, but no task id came back.
    Unknown,
    /// The platform certainly did not create a task (refused, rate limited, unreachable).
    Rejected,
}

impl SubmitState {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            SubmitState::Sending => "sending",
            SubmitState::Submitted => "submitted",
            SubmitState::Unknown => "outcome_unknown",
            SubmitState::Rejected => "rejected",
        }
    }

    fn parse(s: &str) -> SubmitState {
        match s {
            "sending" => SubmitState::Sending,
            "submitted" => SubmitState::Submitted,
            "outcome_unknown" => SubmitState::Unknown,
            _ => SubmitState::Rejected,
        }
    }
}

/// One journal entry: a submit and everything known about its task.
#[derive(Clone, Debug)]
pub struct TaskEntry {
    /// Local id of the submit (stable, also for submits that never got a task id).
    pub local_id: i64,
    /// The platform's task id, once known.
    pub task_id: Option<String>,
    /// How the submit stands.
    pub submit_state: SubmitState,
    /// Latest normalized status seen, if any.
    pub status: Option<TaskStatus>,
    /// Latest progress seen, 0-100.
    pub progress_percent: Option<u8>,
    /// Why the task failed, or why the submit was rejected or is in doubt.
    pub detail: Option<String>,
    /// Model name.
    pub model: String,
    /// The prompt.
    pub prompt: String,
    /// The effective parameters, as JSON.
    pub parameters: Value,
    /// When the submit was written down.
    pub created_at: SystemTime,
    /// When anything about it last changed.
    pub updated_at: SystemTime,
    /// The task's videos, in order.
    pub videos: Vec<VideoEntry>,
    /// The last error while saving videos, if saving has not succeeded.
    pub save_error: Option<String>,
}

/// One video of a task.
#[derive(Clone, Debug)]
pub struct VideoEntry {
    /// Position among the task's videos, from 0.
    pub index: u32,
    /// Latest link.
    pub url: String,
    /// When the link expires.
    pub expires_at: Option<SystemTime>,
    /// Where it was saved, once saved.
    pub path: Option<PathBuf>,
    /// Size of the saved file.
    pub bytes: Option<u64>,
}

impl TaskEntry {
    /// True when every video of a succeeded task is on disk.
    pub fn all_saved(&self) -> bool {
        !self.videos.is_empty() && self.videos.iter().all(|v| v.path.is_some())
    }
}

/// A new submit, before it is sent.
#[derive(Clone, Debug)]
pub struct NewSubmit {
    /// Fingerprint of the request (endpoint, parameters, frame bytes).
    pub fingerprint: String,
    /// Model name.
    pub model: String,
    /// The prompt.
    pub prompt: String,
    /// The effective parameters, as JSON.
    pub parameters: Value,
}

/// What [`Journal::begin_submit`] decided.
#[derive(Clone, Debug)]
pub enum Begin {
    /// No identical request is recent: go ahead; the entry has this local id.
    Proceed(i64),
    /// An identical request was submitted within the window: do not pay again.
    Duplicate(Box<TaskEntry>),
}

/// Errors of the journal; the message names the file.
#[derive(Debug, thiserror::Error)]
#[error("task journal {path}: {message}")]
pub struct JournalError {
    path: String,
    message: String,
}

/// A unit of work for the journal's thread.
type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// The task journal. Cheap to clone. One dedicated thread owns the SQLite connection and runs
/// the operations in order, with cached (compiled once) statements; async callers wait for
/// their result without blocking the runtime.
#[derive(Clone)]
pub struct Journal {
    jobs: std::sync::mpsc::Sender<Job>,
    path: Arc<str>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").field("path", &self.path).finish()
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS submits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint TEXT NOT NULL,
    model TEXT NOT NULL,
    prompt TEXT NOT NULL,
    parameters TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    submit_state TEXT NOT NULL,
    task_id TEXT UNIQUE,
    status TEXT,
    progress INTEGER,
    detail TEXT,
    save_error TEXT
);
CREATE INDEX IF NOT EXISTS submits_by_fingerprint ON submits (fingerprint, created_at);
CREATE TABLE IF NOT EXISTS status_events (
    submit_id INTEGER NOT NULL REFERENCES submits(id),
    at INTEGER NOT NULL,
    status TEXT NOT NULL,
    platform_status TEXT NOT NULL,
    progress INTEGER
);
CREATE TABLE IF NOT EXISTS videos (
    submit_id INTEGER NOT NULL REFERENCES submits(id),
    idx INTEGER NOT NULL,
    url TEXT NOT NULL,
    expires_at INTEGER,
    path TEXT,
    bytes INTEGER,
    saved_at INTEGER,
    PRIMARY KEY (submit_id, idx)
);
";

fn millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn from_millis(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

impl Journal {
    /// Opens (creating if needed) the journal at `path`, and marks submits that a stopped
    /// process left in `sending` as `outcome_unknown`.
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        let fail = |message: String| JournalError {
            path: path.display().to_string(),
            message,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| fail(format!("cannot create {}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path).map_err(|e| fail(e.to_string()))?;
        Journal::setup(conn, path.display().to_string())
    }

    /// A journal kept in memory only (for tests and for `--journal :memory:`).
    pub fn in_memory() -> Result<Journal, JournalError> {
        let conn = Connection::open_in_memory().map_err(|e| JournalError {
            path: ":memory:".into(),
            message: e.to_string(),
        })?;
        Journal::setup(conn, ":memory:".into())
    }

    fn setup(conn: Connection, path: String) -> Result<Journal, JournalError> {
        let fail = |e: rusqlite::Error| JournalError {
            path: path.clone(),
            message: e.to_string(),
        };
        conn.busy_timeout(Duration::from_secs(10)).map_err(fail)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(fail)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(fail)?;
        conn.execute_batch(SCHEMA).map_err(fail)?;
        conn.set_prepared_statement_cache_capacity(64);
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("veo-journal".into())
            .spawn(move || {
                let mut conn = conn;
                // Ends when every `Journal` clone is gone.
                while let Ok(job) = queue.recv() {
                    job(&mut conn);
                }
            })
            .map_err(|e| JournalError {
                path: path.clone(),
                message: format!("cannot start the journal thread: {e}"),
            })?;
        Ok(Journal {
            jobs,
            path: path.into(),
        })
    }

    /// Where the journal lives.
    pub fn path(&self) -> &str {
        &self.path
    }

    async fn run<T, F>(&self, f: F) -> Result<T, JournalError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = reply.send(f(conn));
        });
        let fail = |message: String| JournalError {
            path: self.path.to_string(),
            message,
        };
        self.jobs
            .send(job)
            .map_err(|_| fail("the journal thread has stopped".into()))?;
        match answer.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(fail(e.to_string())),
            Err(_) => Err(fail("the journal operation was abandoned".into())),
        }
    }

    /// Marks submits left in `sending` by a process that stopped as `outcome_unknown`.
    /// `older_than` spares submits another live process may be sending right now.
    pub async fn recover_interrupted(&self, older_than: Duration) -> Result<usize, JournalError> {
        let cutoff = millis(SystemTime::now()) - duration_ms(older_than);
        self.run(move |c| {
            c.prepare_cached("UPDATE submits SET submit_state = 'outcome_unknown', updated_at = ?1,
                 detail = 'the server stopped while this request was being sent; it may or may not have reached the platform'
                 WHERE submit_state = 'sending' AND created_at <= ?2")?.execute(
                params![millis(SystemTime::now()), cutoff],
            )
        })
        .await
    }

    /// Records a submit about to be sent, unless an identical one (same fingerprint) was
    /// submitted within `window` and did not fail: then that one is returned instead.
    /// With `allow_duplicate`, always records a new submit.
    pub async fn begin_submit(
        &self,
        new: NewSubmit,
        window: Duration,
        allow_duplicate: bool,
    ) -> Result<Begin, JournalError> {
        let now = millis(SystemTime::now());
        let since = now - duration_ms(window);
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if !allow_duplicate {
                let existing: Option<i64> = tx.prepare_cached("SELECT id FROM submits
                         WHERE fingerprint = ?1 AND created_at > ?2
                           AND submit_state IN ('sending', 'submitted', 'outcome_unknown')
                           AND (status IS NULL OR status != 'failed')
                         ORDER BY id DESC LIMIT 1")?.query_row(
                        params![new.fingerprint, since],
                        |row| row.get(0),
                    )
                    .optional()?;
                if let Some(id) = existing {
                    let entry = load_entry(&tx, id)?;
                    tx.commit()?;
                    return Ok(Begin::Duplicate(Box::new(entry)));
                }
            }
            tx.prepare_cached("INSERT INTO submits (fingerprint, model, prompt, parameters, created_at, updated_at, submit_state)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, 'sending')")?.execute(
                params![new.fingerprint, new.model, new.prompt, new.parameters.to_string(), now],
            )?;
            let id = tx.last_insert_rowid();
            tx.commit()?;
            Ok(Begin::Proceed(id))
        })
        .await
    }

    /// Records the task id the platform gave a submit.
    ///
    /// Should an older entry already hold this id (the platform issued it again: a restarted
    /// local mock does, the real platform does not), the older entry keeps its history under
    /// `<id>~superseded-<local id>` so the new, paid task is never the one left unrecorded.
    pub async fn submitted(&self, local_id: i64, task_id: &str) -> Result<(), JournalError> {
        let task_id = task_id.to_string();
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.prepare_cached(
                "UPDATE submits SET task_id = task_id || '~superseded-' || id
                 WHERE task_id = ?2 AND id != ?1",
            )?
            .execute(params![local_id, task_id])?;
            tx.prepare_cached("UPDATE submits SET submit_state = 'submitted', task_id = ?2, updated_at = ?3 WHERE id = ?1")?.execute(
                params![local_id, task_id, millis(SystemTime::now())],
            )?;
            tx.commit()
        })
        .await
    }

    /// Records that a submit failed: `maybe_created` when the platform may have created the
    /// task anyway (the outcome is unknown), otherwise it certainly did not.
    pub async fn submit_failed(
        &self,
        local_id: i64,
        maybe_created: bool,
        detail: &str,
    ) -> Result<(), JournalError> {
        let state = if maybe_created {
            SubmitState::Unknown
        } else {
            SubmitState::Rejected
        };
        let detail = detail.to_string();
        self.run(move |c| {
            c.prepare_cached(
                "UPDATE submits SET submit_state = ?2, detail = ?3, updated_at = ?4 WHERE id = ?1",
            )?
            .execute(params![
                local_id,
                state.as_str(),
                detail,
                millis(SystemTime::now())
            ])
            .map(drop)
        })
        .await
    }

    /// Records a task's state as just seen: status and progress (with an event, only when they
    /// changed), failure reason and the latest video links. A task id the journal does not know
    /// is adopted (recorded as submitted elsewhere).
    pub async fn record_result(&self, result: &TaskResult) -> Result<(), JournalError> {
        let result = result.clone();
        self.run(move |c| {
            // The common case, a poll that saw nothing new, is one cached read and no write.
            let known: Option<(Option<String>, Option<i64>)> = c
                .prepare_cached("SELECT status, progress FROM submits WHERE task_id = ?1")?
                .query_row(params![result.task_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let Some((status, progress)) = known
                && status.as_deref() == Some(result.status.as_str())
                && progress == result.progress_percent.map(i64::from)
                && result.videos.is_empty()
                && result.status != TaskStatus::Failed
            {
                return Ok(());
            }
            // IMMEDIATE: a read that turns into a write inside a deferred transaction fails at
            // once (without waiting out the busy timeout) when another process wrote meanwhile.
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let row: Option<(i64, Option<String>, Option<i64>)> = tx.prepare_cached("SELECT id, status, progress FROM submits WHERE task_id = ?1")?.query_row(
                    params![result.task_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let now = millis(SystemTime::now());
            let (id, old_status, old_progress) = match row {
                Some(row) => row,
                None => {
                    // A task this journal did not submit (another tool, an older journal):
                    // adopt it, so its status and saved files are kept too.
                    tx.prepare_cached(
                        "INSERT INTO submits (fingerprint, model, prompt, parameters, created_at, updated_at, submit_state, task_id)
                         VALUES ('', '', '', 'null', ?1, ?1, 'submitted', ?2)",
                    )?
                    .execute(params![now, result.task_id])?;
                    (tx.last_insert_rowid(), None, None)
                }
            };
            let status = result.status.as_str();
            let progress = result.progress_percent.map(i64::from);
            let detail = result.reason.clone().filter(|_| result.status == TaskStatus::Failed);
            if old_status.as_deref() != Some(status) || old_progress != progress || detail.is_some() {
                tx.prepare_cached("INSERT INTO status_events (submit_id, at, status, platform_status, progress) VALUES (?1, ?2, ?3, ?4, ?5)")?.execute(
                    params![id, now, status, result.raw_status, progress],
                )?;
                tx.prepare_cached("UPDATE submits SET status = ?2, progress = COALESCE(?3, progress), detail = COALESCE(?4, detail), updated_at = ?5 WHERE id = ?1")?.execute(
                    params![id, status, progress, detail, now],
                )?;
            }
            for (idx, video) in result.videos.iter().enumerate() {
                tx.prepare_cached("INSERT INTO videos (submit_id, idx, url, expires_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (submit_id, idx) DO UPDATE SET url = excluded.url, expires_at = excluded.expires_at")?.execute(
                    params![id, idx as i64, video.url, video.expires_at.map(millis)],
                )?;
            }
            tx.commit()
        })
        .await
    }

    /// Records that video `index` of `task_id`, fetched from `url`, was saved at `path`.
    /// Fails if the journal does not know the task.
    pub async fn saved(
        &self,
        task_id: &str,
        index: u32,
        url: &str,
        path: &Path,
        bytes: u64,
    ) -> Result<(), JournalError> {
        let task_id = task_id.to_string();
        let url = url.to_string();
        let path = path.display().to_string();
        self.run(move |c| {
            let now = millis(SystemTime::now());
            let changed = c
                .prepare_cached(
                    "INSERT INTO videos (submit_id, idx, url, path, bytes, saved_at)
                 SELECT id, ?2, ?3, ?4, ?5, ?6 FROM submits WHERE task_id = ?1
                 ON CONFLICT (submit_id, idx) DO UPDATE SET
                     path = excluded.path, bytes = excluded.bytes, saved_at = excluded.saved_at",
                )?
                .execute(params![
                    task_id,
                    i64::from(index),
                    url,
                    path,
                    bytes as i64,
                    now
                ])?;
            if changed == 0 {
                return Err(rusqlite::Error::QueryReturnedNoRows);
            }
            c.prepare_cached(
                "UPDATE submits SET save_error = NULL, updated_at = ?2 WHERE task_id = ?1",
            )?
            .execute(params![task_id, now])
            .map(drop)
        })
        .await
    }

    /// Records why saving a task's videos failed (cleared by the next successful save). Ignored
    /// when every video is saved already (another process may have saved them meanwhile).
    pub async fn save_failed(&self, task_id: &str, error: &str) -> Result<(), JournalError> {
        let (task_id, error) = (task_id.to_string(), error.to_string());
        self.run(move |c| {
            c.prepare_cached("UPDATE submits SET save_error = ?2, updated_at = ?3 WHERE task_id = ?1
                 AND (NOT EXISTS (SELECT 1 FROM videos v WHERE v.submit_id = submits.id)
                      OR EXISTS (SELECT 1 FROM videos v WHERE v.submit_id = submits.id AND v.path IS NULL))")?.execute(
                params![task_id, error, millis(SystemTime::now())],
            )
            .map(drop)
        })
        .await
    }

    /// The entry of `task_id`, if the journal knows it.
    pub async fn get(&self, task_id: &str) -> Result<Option<TaskEntry>, JournalError> {
        let task_id = task_id.to_string();
        self.run(move |c| {
            let id: Option<i64> = c
                .prepare_cached("SELECT id FROM submits WHERE task_id = ?1")?
                .query_row(params![task_id], |r| r.get(0))
                .optional()?;
            id.map(|id| load_entry(c, id)).transpose()
        })
        .await
    }

    /// The entry with local id `local_id`.
    pub async fn get_local(&self, local_id: i64) -> Result<Option<TaskEntry>, JournalError> {
        self.run(move |c| load_entry(c, local_id).optional()).await
    }

    /// The most recent entries first, optionally only those whose status (or, for submits
    /// without a task, submit state) is `filter`.
    pub async fn list(
        &self,
        filter: Option<String>,
        limit: u32,
    ) -> Result<Vec<TaskEntry>, JournalError> {
        self.run(move |c| {
            let ids: Vec<i64> = {
                let mut stmt = c.prepare_cached(
                    "SELECT id FROM submits
                     WHERE ?1 IS NULL OR status = ?1 OR (status IS NULL AND submit_state = ?1)
                     ORDER BY id DESC LIMIT ?2",
                )?;
                stmt.query_map(params![filter, i64::from(limit)], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?
            };
            ids.into_iter().map(|id| load_entry(c, id)).collect()
        })
        .await
    }

    /// Task ids that still need attention: submitted tasks not yet finished, and (when
    /// `saving`) succeeded tasks whose videos are not all saved.
    pub async fn pending(&self, saving: bool) -> Result<Vec<String>, JournalError> {
        self.run(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT s.task_id FROM submits s
                 WHERE s.submit_state = 'submitted' AND s.task_id IS NOT NULL AND (
                     s.status IS NULL OR s.status NOT IN ('succeeded', 'failed')
                     OR (?1 AND s.status = 'succeeded' AND (
                         NOT EXISTS (SELECT 1 FROM videos v WHERE v.submit_id = s.id)
                         OR EXISTS (SELECT 1 FROM videos v WHERE v.submit_id = s.id AND v.path IS NULL))))
                 ORDER BY s.id",
            )?;
            stmt.query_map(params![saving], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()
        })
        .await
    }
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn load_entry(c: &Connection, id: i64) -> rusqlite::Result<TaskEntry> {
    let mut entry = c
        .prepare_cached(
            "SELECT id, task_id, submit_state, status, progress, detail, model, prompt, parameters,
                created_at, updated_at, save_error
         FROM submits WHERE id = ?1",
        )?
        .query_row(params![id], |r| {
            let status: Option<String> = r.get(3)?;
            let progress: Option<i64> = r.get(4)?;
            let parameters: String = r.get(8)?;
            Ok(TaskEntry {
                local_id: r.get(0)?,
                task_id: r.get(1)?,
                submit_state: SubmitState::parse(&r.get::<_, String>(2)?),
                status: status.as_deref().map(TaskStatus::from_platform),
                progress_percent: progress.and_then(|p| u8::try_from(p).ok()),
                detail: r.get(5)?,
                model: r.get(6)?,
                prompt: r.get(7)?,
                parameters: serde_json::from_str(&parameters).unwrap_or(Value::Null),
                created_at: from_millis(r.get(9)?),
                updated_at: from_millis(r.get(10)?),
                videos: Vec::new(),
                save_error: r.get(11)?,
            })
        })?;
    let mut stmt = c.prepare_cached(
        "SELECT idx, url, expires_at, path, bytes FROM videos WHERE submit_id = ?1 ORDER BY idx",
    )?;
    entry.videos = stmt
        .query_map(params![id], |r| {
            let expires: Option<i64> = r.get(2)?;
            let path: Option<String> = r.get(3)?;
            let bytes: Option<i64> = r.get(4)?;
            Ok(VideoEntry {
                index: u32::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                url: r.get(1)?,
                expires_at: expires.map(from_millis),
                path: path.map(PathBuf::from),
                bytes: bytes.and_then(|b| u64::try_from(b).ok()),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn submit(fingerprint: &str) -> NewSubmit {
        NewSubmit {
            fingerprint: fingerprint.into(),
            model: "veo-3.1".into(),
            prompt: "a fox".into(),
            parameters: json!({"sample_count": 1}),
        }
    }

    fn result(task_id: &str, status: &str, videos: usize) -> TaskResult {
        let videos: Vec<Value> = (0..videos)
            .map(|i| json!({"video_url": format!("http://x/{i}.mp4"), "video_url_ttl": "3600", "video_type": "mp4"}))
            .collect();
        TaskResult::from_json(
            &json!({"task": {"task_id": task_id, "status": status, "progress_percent": 50}, "videos": videos}),
            task_id,
            SystemTime::now(),
        )
    }

    #[tokio::test]
    async fn identical_requests_within_the_window_are_one_task() {
        let j = Journal::in_memory().unwrap();
        let Begin::Proceed(id) = j
            .begin_submit(submit("f1"), Duration::from_secs(600), false)
            .await
            .unwrap()
        else {
            panic!("first submit proceeds")
        };
        // While the first is still being sent, a twin sees it.
        let Begin::Duplicate(twin) = j
            .begin_submit(submit("f1"), Duration::from_secs(600), false)
            .await
            .unwrap()
        else {
            panic!("twin is a duplicate")
        };
        assert_eq!(twin.submit_state, SubmitState::Sending);
        j.submitted(id, "t-1").await.unwrap();
        let Begin::Duplicate(entry) = j
            .begin_submit(submit("f1"), Duration::from_secs(600), false)
            .await
            .unwrap()
        else {
            panic!("duplicate")
        };
        assert_eq!(entry.task_id.as_deref(), Some("t-1"));
        assert!(matches!(
            j.begin_submit(submit("f1"), Duration::from_secs(600), true)
                .await
                .unwrap(),
            Begin::Proceed(_)
        ));
        assert!(matches!(
            j.begin_submit(submit("f2"), Duration::from_secs(600), false)
                .await
                .unwrap(),
            Begin::Proceed(_)
        ));
        // Outside the window, or after the task failed, a new submit goes ahead.
        assert!(matches!(
            j.begin_submit(submit("f1"), Duration::ZERO, false)
                .await
                .unwrap(),
            Begin::Proceed(_)
        ));
        let Begin::Proceed(id3) = j
            .begin_submit(submit("f3"), Duration::from_secs(600), false)
            .await
            .unwrap()
        else {
            panic!()
        };
        j.submitted(id3, "t-3").await.unwrap();
        j.record_result(&result("t-3", "TASK_STATUS_FAILED", 0))
            .await
            .unwrap();
        let Begin::Proceed(_) = j
            .begin_submit(submit("f3"), Duration::from_secs(600), false)
            .await
            .unwrap()
        else {
            panic!("a failed task does not block a new attempt")
        };
    }

    #[tokio::test]
    async fn statuses_videos_and_saves_are_recorded_and_listed() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(&dir.path().join("sub/journal.sqlite3")).unwrap();
        let Begin::Proceed(id) = j
            .begin_submit(submit("f"), Duration::from_secs(600), false)
            .await
            .unwrap()
        else {
            panic!()
        };
        j.submitted(id, "t-9").await.unwrap();
        assert_eq!(j.pending(true).await.unwrap(), vec!["t-9".to_string()]);
        j.record_result(&result("t-9", "TASK_STATUS_PROCESSING", 0))
            .await
            .unwrap();
        j.record_result(&result("t-9", "TASK_STATUS_SUCCEED", 2))
            .await
            .unwrap();
        assert_eq!(j.pending(true).await.unwrap(), vec!["t-9".to_string()]);
        assert!(j.pending(false).await.unwrap().is_empty());
        j.saved(
            "t-9",
            0,
            "http://x/0.mp4",
            Path::new("/out/t-9/t-9-1.mp4"),
            10,
        )
        .await
        .unwrap();
        assert_eq!(j.pending(true).await.unwrap().len(), 1, "one still unsaved");
        j.saved(
            "t-9",
            1,
            "http://x/1.mp4",
            Path::new("/out/t-9/t-9-2.mp4"),
            10,
        )
        .await
        .unwrap();
        assert!(j.pending(true).await.unwrap().is_empty());
        j.save_failed("t-9", "late error from another process")
            .await
            .unwrap();
        assert_eq!(
            j.get("t-9").await.unwrap().unwrap().save_error,
            None,
            "all saved: no error"
        );
        assert!(
            j.saved("unknown", 0, "u", Path::new("/x"), 1)
                .await
                .is_err(),
            "a save of a task the journal does not know is an error, not silence"
        );
        let entry = j.get("t-9").await.unwrap().unwrap();
        assert_eq!(entry.status, Some(TaskStatus::Succeeded));
        assert!(entry.all_saved());
        assert!(entry.videos[0].expires_at.is_some());
        let listed = j.list(Some("succeeded".into()), 10).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert!(j.list(Some("failed".into()), 10).await.unwrap().is_empty());
        // Reopening the file keeps everything.
        drop(j);
        let j = Journal::open(&dir.path().join("sub/journal.sqlite3")).unwrap();
        assert!(j.get("t-9").await.unwrap().unwrap().all_saved());
    }

    #[tokio::test]
    async fn a_reissued_task_id_does_not_lose_the_new_task() {
        let j = Journal::in_memory().unwrap();
        let mut ids = Vec::new();
        for fingerprint in ["old", "new"] {
            let Begin::Proceed(id) = j
                .begin_submit(submit(fingerprint), Duration::from_secs(600), false)
                .await
                .unwrap()
            else {
                panic!()
            };
            j.submitted(id, "same-id").await.unwrap();
            ids.push(id);
        }
        assert_eq!(j.get("same-id").await.unwrap().unwrap().local_id, ids[1]);
        let old = j.get_local(ids[0]).await.unwrap().unwrap();
        assert_eq!(
            old.task_id.as_deref(),
            Some(format!("same-id~superseded-{}", ids[0]).as_str())
        );
    }

    #[tokio::test]
    async fn a_submit_interrupted_by_a_crash_becomes_unknown() {
        let j = Journal::in_memory().unwrap();
        let Begin::Proceed(id) = j
            .begin_submit(submit("f"), Duration::from_secs(600), false)
            .await
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(
            j.recover_interrupted(Duration::from_secs(60))
                .await
                .unwrap(),
            0,
            "too recent"
        );
        assert_eq!(j.recover_interrupted(Duration::ZERO).await.unwrap(), 1);
        let entry = j.get_local(id).await.unwrap().unwrap();
        assert_eq!(entry.submit_state, SubmitState::Unknown);
        assert!(entry.detail.unwrap().contains("stopped"));
        let listed = j.list(Some("outcome_unknown".into()), 10).await.unwrap();
        assert_eq!(listed.len(), 1);
    }
}
