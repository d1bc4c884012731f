//! The SQLite journal: bundled SQLite in WAL mode, owned by one dedicated thread that runs the
//! operations in order with cached statements, so async callers never block the runtime.
//!
//! The schema is versioned with `PRAGMA user_version`; `schema` brings any older journal
//! up to date when it is opened, and a journal from a newer version of veo is refused.
//! (`tokio-rusqlite` has the same design, but pins an older rusqlite than the one used here.)

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension as _, params};
use veo_core::{ClosedSet as _, TaskResult, TaskStatus};

mod checkpoint;
mod rows;
mod schema;
mod thread;

use checkpoint::Checkpoints;
use rows::{load_entry, spending};

use super::stored::{INTERRUPTED, duration_ms, millis, parameters_text, submit_failure_state};
use super::{
    Begin, Budget, JournalError, JournalLocation, JournalStore, Lease, NewSubmit, SubmitFailure,
    SubmitId, TaskEntry, TaskFilter,
};
use schema::{migrate, setup_retrying};

/// The duplicate check of `begin_submit` and `find_duplicate`.
const FIND_DUPLICATE: &str = "SELECT id FROM submits
     WHERE fingerprint = ?1 AND created_at > ?2
       AND submit_state != 'rejected'
       AND (status IS NULL OR status != 'failed')
     ORDER BY id DESC LIMIT 1";

/// The condition of [`JournalStore::pending`] on `submits s`, with `?1` = whether videos are
/// saved; the first line is [`super::FOLLOW_HORIZON`] (seven days, in milliseconds), so that a
/// sweep reads recent history only (through the index on `created_at`).
const PENDING: &str = "s.created_at > CAST(unixepoch('now') AS INTEGER) * 1000 - 604800000
     AND s.submit_state = 'submitted' AND s.task_id IS NOT NULL AND (
     s.status IS NULL OR s.status NOT IN ('succeeded', 'failed')
     OR (?1 AND s.status = 'succeeded' AND (
         NOT EXISTS (SELECT 1 FROM videos v WHERE v.submit_id = s.id)
         OR EXISTS (SELECT 1 FROM videos v WHERE v.submit_id = s.id AND v.path IS NULL))))";

/// The SQLite backend of [`JournalStore`].
pub struct SqliteJournal {
    jobs: thread::Jobs,
    location: Arc<str>,
    /// What this process last recorded of each task (see `RecentResults`).
    recent: super::stored::RecentResults,
}

impl std::fmt::Debug for SqliteJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteJournal")
            .field("location", &self.location)
            .finish()
    }
}

impl SqliteJournal {
    /// Opens (creating if needed, with its directory) the journal at `location` and brings its
    /// schema up to date.
    pub fn open(location: &JournalLocation) -> Result<SqliteJournal, JournalError> {
        let name = location.to_string();
        let fail = |message: String| JournalError {
            location: name.clone(),
            message,
        };
        let mut conn = match location {
            JournalLocation::Memory => Connection::open_in_memory(),
            #[cfg(feature = "postgres")]
            JournalLocation::Postgres(_) => return Err(fail("PostgreSQL, not SQLite".into())),
            JournalLocation::File(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| fail(format!("cannot create {}: {e}", dir.display())))?;
                }
                Connection::open(path)
            }
        }
        .map_err(|e| fail(e.to_string()))?;
        setup_retrying(&conn).map_err(|e| fail(e.to_string()))?;
        migrate(&conn).map_err(fail)?;
        let checkpoints = Checkpoints::start(&mut conn).map_err(fail)?;
        let jobs = thread::start(conn, checkpoints)
            .map_err(|e| fail(format!("cannot start the journal thread: {e}")))?;
        Ok(SqliteJournal {
            recent: Default::default(),
            jobs,
            location: name.into(),
        })
    }

    /// Runs `f`, which only reads, on the journal's thread.
    async fn read<T, F>(&self, f: F) -> Result<T, JournalError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        self.run(false, f).await
    }

    /// Runs `f` on the journal's thread in a write transaction shared with the writes queued
    /// with it; answers once that is committed. `f` failing undoes its own writes only.
    async fn write<T, F>(&self, f: F) -> Result<T, JournalError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        self.run(true, f).await
    }

    async fn run<T, F>(&self, writes: bool, f: F) -> Result<T, JournalError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let fail = |message: String| JournalError {
            location: self.location.to_string(),
            message,
        };
        self.jobs
            .send(Box::new(thread::Operation::new(writes, f, reply)))
            .map_err(|_| fail("the journal thread has stopped".into()))?;
        match answer.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(message)) => Err(fail(message)),
            Err(_) => Err(fail("the journal operation was abandoned".into())),
        }
    }
}

#[async_trait::async_trait]
impl JournalStore for SqliteJournal {
    async fn recover_interrupted(
        &self,
        older_than: Duration,
        owner_gone: &(dyn for<'s> Fn(&'s str) -> bool + Sync),
    ) -> Result<usize, JournalError> {
        let cutoff = millis(SystemTime::now()) - duration_ms(older_than);
        let sending: Vec<(i64, Option<String>, i64)> = self
            .read(|c| {
                c.prepare_cached(
                    "SELECT id, owner, created_at FROM submits WHERE submit_state = 'sending'",
                )?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect()
            })
            .await?;
        let interrupted: Vec<i64> = sending
            .into_iter()
            .filter(|(_, owner, created_at)| {
                *created_at <= cutoff || owner.as_deref().is_some_and(owner_gone)
            })
            .map(|(id, _, _)| id)
            .collect();
        self.write(move |c| {
            let now = millis(SystemTime::now());
            let mut marked = 0;
            for id in interrupted {
                // Only if it is still being sent: its process may have finished meanwhile.
                marked += c
                    .prepare_cached(
                        "UPDATE submits SET submit_state = 'outcome_unknown', updated_at = ?2,
                         submit_error = ?3, detail = ?3
                         WHERE id = ?1 AND submit_state = 'sending'",
                    )?
                    .execute(params![id, now, INTERRUPTED])?;
            }
            Ok(marked)
        })
        .await
    }

    async fn begin_submit(
        &self,
        new: NewSubmit,
        window: Duration,
        allow_duplicate: bool,
        budget: Option<Budget>,
    ) -> Result<Begin, JournalError> {
        let now = SystemTime::now();
        let since = millis(now) - duration_ms(window);
        let seconds = new.parameters.video_seconds();
        let parameters = parameters_text(&new.parameters).map_err(|message| JournalError {
            location: self.location.to_string(),
            message,
        })?;
        self.write(move |c| {
            let duplicate: Option<i64> = if allow_duplicate {
                None
            } else {
                c.prepare_cached(FIND_DUPLICATE)?
                    .query_row(params![new.fingerprint, since], |row| row.get(0))
                    .optional()?
            };
            if let Some(id) = duplicate {
                let entry = load_entry(c, id)?;
                return Ok(Begin::Duplicate(Box::new(entry)));
            }
            if let Some(budget) = budget {
                let spent = spending(c, now.checked_sub(budget.period).unwrap_or(UNIX_EPOCH))?;
                if let Err(spend) = budget.check(&spent, seconds, now) {
                    return Ok(Begin::OverBudget(spend));
                }
            }
            c.prepare_cached(
                "INSERT INTO submits (fingerprint, model, prompt, parameters, video_seconds, created_at, updated_at, submit_state, owner)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, 'sending', ?7)",
            )?
            .execute(params![
                new.fingerprint,
                new.parameters.model.as_str(),
                new.prompt,
                parameters,
                i64::try_from(seconds).unwrap_or(i64::MAX),
                millis(now),
                new.owner
            ])?;
            let id = c.last_insert_rowid();
            Ok(Begin::Proceed(SubmitId(id)))
        })
        .await
    }

    async fn find_duplicate(
        &self,
        fingerprint: &str,
        window: Duration,
    ) -> Result<Option<TaskEntry>, JournalError> {
        let fingerprint = fingerprint.to_string();
        let since = millis(SystemTime::now()) - duration_ms(window);
        self.read(move |c| {
            let id: Option<i64> = c
                .prepare_cached(FIND_DUPLICATE)?
                .query_row(params![fingerprint, since], |row| row.get(0))
                .optional()?;
            id.map(|id| load_entry(c, id)).transpose()
        })
        .await
    }

    async fn spending(&self, since: SystemTime) -> Result<Vec<(SystemTime, u64)>, JournalError> {
        self.read(move |c| spending(c, since)).await
    }

    async fn record_submitted(
        &self,
        id: SubmitId,
        task_id: &str,
        lease: Option<Lease<'_>>,
    ) -> Result<(), JournalError> {
        let (task_id, holder) = (task_id.to_string(), lease.map(|l| l.holder.to_string()));
        let lease = lease.map(|l| duration_ms(l.duration));
        self.write(move |c| {
            c.prepare_cached(
                "UPDATE submits SET task_id = task_id || '~superseded-' || id
                 WHERE task_id = ?2 AND id != ?1",
            )?
            .execute(params![id.0, task_id])?;
            let now = millis(SystemTime::now());
            c.prepare_cached(
                "UPDATE submits SET submit_state = 'submitted', task_id = ?2, updated_at = ?3,
                 lease_holder = COALESCE(?4, lease_holder), lease_until = COALESCE(?5, lease_until)
                 WHERE id = ?1",
            )?
            .execute(params![
                id.0,
                task_id,
                now,
                holder,
                lease.map(|ms| now + ms)
            ])?;
            Ok(())
        })
        .await
    }

    async fn record_submit_failed(
        &self,
        id: SubmitId,
        failure: SubmitFailure,
        detail: &str,
    ) -> Result<(), JournalError> {
        let state = submit_failure_state(failure);
        let detail = detail.to_string();
        self.write(move |c| {
            c.prepare_cached(
                "UPDATE submits SET submit_state = ?2, submit_error = ?3, detail = ?3, updated_at = ?4 WHERE id = ?1",
            )?
            .execute(params![
                id.0,
                state.as_str(),
                detail,
                millis(SystemTime::now())
            ])
            .map(drop)
        })
        .await
    }

    async fn record_result(&self, result: &TaskResult) -> Result<(), JournalError> {
        if self.recent.unchanged(result) {
            return Ok(());
        }
        self.record_result_now(result).await?;
        self.recent.remember(result);
        Ok(())
    }

    async fn record_saved(
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
        self.write(move |c| {
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
                    i64::try_from(bytes).unwrap_or(i64::MAX),
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

    async fn record_save_failed(&self, task_id: &str, error: &str) -> Result<(), JournalError> {
        let (task_id, error) = (task_id.to_string(), error.to_string());
        self.write(move |c| {
            c.prepare_cached(
                "UPDATE submits SET save_error = ?2, updated_at = ?3 WHERE task_id = ?1
                 AND (NOT EXISTS (SELECT 1 FROM videos v WHERE v.submit_id = submits.id)
                      OR EXISTS (SELECT 1 FROM videos v WHERE v.submit_id = submits.id AND v.path IS NULL))",
            )?
            .execute(params![task_id, error, millis(SystemTime::now())])
            .map(drop)
        })
        .await
    }

    async fn get(&self, task_id: &str) -> Result<Option<TaskEntry>, JournalError> {
        let task_id = task_id.to_string();
        self.read(move |c| {
            let id: Option<i64> = c
                .prepare_cached("SELECT id FROM submits WHERE task_id = ?1")?
                .query_row(params![task_id], |r| r.get(0))
                .optional()?;
            id.map(|id| load_entry(c, id)).transpose()
        })
        .await
    }

    async fn get_local(&self, id: SubmitId) -> Result<Option<TaskEntry>, JournalError> {
        self.read(move |c| load_entry(c, id.0).optional()).await
    }

    async fn list(
        &self,
        filter: Option<TaskFilter>,
        limit: u32,
    ) -> Result<Vec<TaskEntry>, JournalError> {
        let filter = filter.map(TaskFilter::as_str);
        self.read(move |c| {
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

    async fn list_saved(
        &self,
        before: Option<SubmitId>,
        limit: u32,
    ) -> Result<Vec<TaskEntry>, JournalError> {
        let before = before.map(|id| id.0);
        self.read(move |c| {
            let ids: Vec<i64> = c
                .prepare_cached(
                    "SELECT s.id FROM submits s WHERE (?1 IS NULL OR s.id < ?1) AND EXISTS
                     (SELECT 1 FROM videos v WHERE v.submit_id = s.id AND v.path IS NOT NULL)
                     ORDER BY s.id DESC LIMIT ?2",
                )?
                .query_map(params![before, i64::from(limit)], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            ids.into_iter().map(|id| load_entry(c, id)).collect()
        })
        .await
    }

    async fn pending(&self, saving: bool) -> Result<Vec<String>, JournalError> {
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT s.task_id FROM submits s WHERE {PENDING} ORDER BY s.id"
            ))?
            .query_map(params![saving], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()
        })
        .await
    }

    async fn claim_pending(
        &self,
        holder: &str,
        lease: Duration,
        saving: bool,
        limit: u32,
    ) -> Result<Vec<String>, JournalError> {
        let holder = holder.to_string();
        self.write(move |c| {
            // The clock is read once the lock is held: waiting for it must not shorten leases.
            let now = millis(SystemTime::now());
            c.prepare_cached(&format!(
                "UPDATE submits AS s SET lease_until = ?3 WHERE {PENDING} AND s.lease_holder = ?2"
            ))?
            .execute(params![saving, holder, now + duration_ms(lease)])?;
            c.prepare_cached(&format!(
                "UPDATE submits SET lease_holder = ?2, lease_until = ?4 WHERE id IN (
                     SELECT s.id FROM submits s WHERE {PENDING}
                       AND (s.lease_until IS NULL OR s.lease_until <= ?3)
                     ORDER BY s.id LIMIT ?5)"
            ))?
            .execute(params![
                saving,
                holder,
                now,
                now + duration_ms(lease),
                i64::from(limit)
            ])?;
            let held: Vec<String> = c
                .prepare_cached(&format!(
                    "SELECT s.task_id FROM submits s WHERE {PENDING} AND s.lease_holder = ?2
                     ORDER BY s.id"
                ))?
                .query_map(params![saving, holder], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(held)
        })
        .await
    }

    async fn claim(
        &self,
        task_id: &str,
        holder: &str,
        lease: Duration,
    ) -> Result<bool, JournalError> {
        let (task_id, holder) = (task_id.to_string(), holder.to_string());
        self.write(move |c| {
            // The clock is read once the lock is held: waiting for it must not shorten the lease.
            let now = millis(SystemTime::now());
            let changed = c
                .prepare_cached(
                    "UPDATE submits SET lease_holder = ?2, lease_until = ?4 WHERE task_id = ?1
                     AND (lease_until IS NULL OR lease_until <= ?3 OR lease_holder = ?2)",
                )?
                .execute(params![task_id, holder, now, now + duration_ms(lease)])?;
            Ok(changed == 1)
        })
        .await
    }

    async fn release(&self, task_id: &str, holder: &str) -> Result<(), JournalError> {
        let (task_id, holder) = (task_id.to_string(), holder.to_string());
        self.write(move |c| {
            c.prepare_cached(
                "UPDATE submits SET lease_holder = NULL, lease_until = NULL
                 WHERE task_id = ?1 AND lease_holder = ?2",
            )?
            .execute(params![task_id, holder])
            .map(drop)
        })
        .await
    }

    async fn release_all(&self, holder: &str) -> Result<usize, JournalError> {
        let holder = holder.to_string();
        self.write(move |c| {
            c.prepare_cached(
                "UPDATE submits SET lease_holder = NULL, lease_until = NULL WHERE lease_holder = ?1",
            )?
            .execute(params![holder])
        })
        .await
    }

    async fn check(&self) -> Result<(), JournalError> {
        self.read(|c| {
            c.prepare_cached("SELECT count(*) FROM submits")?
                .query_row([], |_| Ok(()))
        })
        .await
    }
}

impl SqliteJournal {
    /// Records `result` in the database (see [`JournalStore::record_result`]).
    async fn record_result_now(&self, result: &TaskResult) -> Result<(), JournalError> {
        let result = result.clone();
        self.write(move |c| {
            let status = result.status.as_str();
            let progress = result.progress_percent.map(i64::from);
            let row: Option<(i64, Option<String>, Option<i64>)> = c
                .prepare_cached("SELECT id, status, progress FROM submits WHERE task_id = ?1")?
                .query_row(params![result.task_id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()?;
            // The common case, a poll that saw nothing new, is one cached read and no write.
            if let Some((_, old_status, old_progress)) = &row
                && old_status.as_deref() == Some(status)
                && *old_progress == progress
                && result.videos.is_empty()
                && result.status != TaskStatus::Failed
            {
                return Ok(());
            }
            let now = millis(SystemTime::now());
            let (id, old_status, old_progress) = match row {
                Some(row) => row,
                None => {
                    // A task this journal did not submit (another tool, an older journal):
                    // adopt it, so its status and saved files are kept too.
                    c.prepare_cached(
                        "INSERT INTO submits (fingerprint, model, prompt, parameters, created_at, updated_at, submit_state, task_id)
                         VALUES ('', '', '', 'null', ?1, ?1, 'submitted', ?2)",
                    )?
                    .execute(params![now, result.task_id])?;
                    (c.last_insert_rowid(), None, None)
                }
            };
            let reason = result
                .reason
                .clone()
                .filter(|_| result.status == TaskStatus::Failed);
            if old_status.as_deref() != Some(status) || old_progress != progress || reason.is_some()
            {
                c.prepare_cached(
                    "INSERT INTO status_events (submit_id, at, status, platform_status, progress) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![id, now, status, result.raw_status, progress])?;
                c.prepare_cached(
                    "UPDATE submits SET status = ?2, progress = COALESCE(?3, progress),
                     failure_reason = COALESCE(?4, failure_reason), detail = COALESCE(?4, detail),
                     updated_at = ?5 WHERE id = ?1",
                )?
                .execute(params![id, status, progress, reason, now])?;
            }
            for (idx, video) in result.videos.iter().enumerate() {
                c.prepare_cached(
                    "INSERT INTO videos (submit_id, idx, url, expires_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (submit_id, idx) DO UPDATE SET url = excluded.url, expires_at = excluded.expires_at",
                )?
                .execute(params![id, idx as i64, video.url, video.expires_at.map(millis)])?;
            }
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests;
