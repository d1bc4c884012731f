//! The PostgreSQL journal, for several replicas (or machines) sharing one: a pool of
//! connections (`deadpool-postgres`), tables prefixed `veo_`, the schema versioned and migrated
//! at start by `schema`. Atomic steps are transactions; identical submits are serialised by an
//! advisory lock on their fingerprint (and every submit by one more when a spend budget is
//! checked); leases are claimed with `FOR UPDATE SKIP LOCKED` on the database's clock.
//!
//! Every wait is bounded: connecting (10 s), getting a connection from the pool (10 s), and each
//! operation as a whole (30 s); TCP keepalives find a silent server.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use deadpool_postgres::{GenericClient as _, Pool};
use veo_core::{TaskResult, TaskStatus};

mod connect;
mod failure;
mod rows;
mod schema;
mod scratch;
mod url;

use failure::Failure;
pub(super) use failure::message;
pub use scratch::scratch_schema;

use rows::{FIND_DUPLICATE, PENDING, load_entry, spending};

pub use url::PostgresUrl;

use super::stored::{INTERRUPTED, duration_ms, millis, parameters_text, submit_failure_state};
use super::{
    Begin, Budget, JournalError, JournalStore, Lease, NewSubmit, SubmitFailure, SubmitId,
    TaskEntry, TaskFilter,
};

/// Longest wait for a new connection, and for a free one from the pool.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest any one journal operation may take, all its round trips included.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections per process.
const POOL_SIZE: usize = 16;
/// The advisory lock key every submit takes when a spend budget is checked ("veo-spen").
const SPEND_LOCK: i64 = 0x7665_6f2d_7370_656e;

/// The database's clock in milliseconds: leases compare times of several machines.
const NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/// The PostgreSQL backend of [`JournalStore`].
pub struct PostgresJournal {
    pool: Pool,
    location: String,
    /// What this process last recorded of each task (see `RecentResults`).
    recent: super::stored::RecentResults,
}

impl std::fmt::Debug for PostgresJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresJournal")
            .field("location", &self.location)
            .finish()
    }
}

#[async_trait::async_trait]
impl JournalStore for PostgresJournal {
    async fn recover_interrupted(
        &self,
        older_than: Duration,
        owner_gone: &(dyn for<'s> Fn(&'s str) -> bool + Sync),
    ) -> Result<usize, JournalError> {
        let cutoff = millis(SystemTime::now()) - duration_ms(older_than);
        self.bounded(async {
            let c = self.pool.get().await?;
            let sending = c
                .query(&c.prepare_cached("SELECT id, owner, created_at FROM veo_submits WHERE submit_state = 'sending'").await?,
                    &[],
                )
                .await?;
            let mut marked = 0;
            for row in sending {
                let (id, owner, created_at): (i64, Option<String>, i64) =
                    (row.get(0), row.get(1), row.get(2));
                if created_at > cutoff && !owner.as_deref().is_some_and(owner_gone) {
                    continue;
                }
                // Only if it is still being sent: its process may have finished meanwhile.
                marked += c
                    .execute(&c.prepare_cached("UPDATE veo_submits SET submit_state = 'outcome_unknown', updated_at = $2,
                         submit_error = $3 WHERE id = $1 AND submit_state = 'sending'").await?,
                        &[&id, &millis(SystemTime::now()), &INTERRUPTED],
                    )
                    .await? as usize;
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
        self.bounded(async {
            let parameters = parameters_text(&new.parameters).map_err(Failure::Other)?;
            let mut c = self.pool.get().await?;
            let tx = c.transaction().await?;
            // Identical submits reaching any replica at the same moment take turns here.
            tx.execute(&tx.prepare_cached("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))").await?,
                &[&new.fingerprint],
            )
            .await?;
            if !allow_duplicate
                && let Some(row) = tx
                    .query_opt(&tx.prepare_cached(FIND_DUPLICATE).await?, &[&new.fingerprint, &since])
                    .await?
            {
                let entry = load_entry(&tx, row.get(0)).await?;
                tx.commit().await?;
                return Ok(Begin::Duplicate(Box::new(entry)));
            }
            if let Some(budget) = budget {
                tx.execute(&tx.prepare_cached("SELECT pg_advisory_xact_lock($1)").await?, &[&SPEND_LOCK])
                    .await?;
                let period_start = now.checked_sub(budget.period).unwrap_or(UNIX_EPOCH);
                let spent = spending(&tx, period_start).await?;
                if let Err(spend) = budget.check(&spent, seconds, now) {
                    return Ok(Begin::OverBudget(spend));
                }
            }
            let row = tx
                .query_one(&tx.prepare_cached("INSERT INTO veo_submits (fingerprint, model, prompt, parameters, video_seconds,
                         created_at, updated_at, submit_state, owner)
                     VALUES ($1, $2, $3, $4, $5, $6, $6, 'sending', $7) RETURNING id").await?,
                    &[
                        &new.fingerprint,
                        &new.parameters.model.as_str(),
                        &new.prompt,
                        &parameters,
                        &i64::try_from(seconds).unwrap_or(i64::MAX),
                        &millis(now),
                        &new.owner,
                    ],
                )
                .await?;
            tx.commit().await?;
            Ok(Begin::Proceed(SubmitId(row.get(0))))
        })
        .await
    }

    async fn find_duplicate(
        &self,
        fingerprint: &str,
        window: Duration,
    ) -> Result<Option<TaskEntry>, JournalError> {
        let since = millis(SystemTime::now()) - duration_ms(window);
        self.bounded(async {
            let c = self.pool.get().await?;
            match c
                .query_opt(
                    &c.prepare_cached(FIND_DUPLICATE).await?,
                    &[&fingerprint, &since],
                )
                .await?
            {
                Some(row) => Ok(Some(load_entry(&c, row.get(0)).await?)),
                None => Ok(None),
            }
        })
        .await
    }

    async fn spending(&self, since: SystemTime) -> Result<Vec<(SystemTime, u64)>, JournalError> {
        self.bounded(async {
            let c = self.pool.get().await?;
            Ok(spending(&c, since).await?)
        })
        .await
    }

    async fn record_submitted(
        &self,
        id: SubmitId,
        task_id: &str,
        lease: Option<Lease<'_>>,
    ) -> Result<(), JournalError> {
        let holder = lease.map(|l| l.holder);
        let lease = lease.map(|l| duration_ms(l.duration));
        self.bounded(async {
            let mut c = self.pool.get().await?;
            let tx = c.transaction().await?;
            tx.execute(&tx.prepare_cached("UPDATE veo_submits SET task_id = task_id || '~superseded-' || id
                 WHERE task_id = $2 AND id <> $1").await?,
                &[&id.0, &task_id],
            )
            .await?;
            tx.execute(&tx.prepare_cached(&format!(
                    "UPDATE veo_submits SET submit_state = 'submitted', task_id = $2, updated_at = $3,
                     lease_holder = COALESCE($4, lease_holder), lease_until = COALESCE({NOW_MS} + $5, lease_until)
                     WHERE id = $1")).await?,
                &[&id.0, &task_id, &millis(SystemTime::now()), &holder, &lease],
            )
            .await?;
            tx.commit().await?;
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
        self.bounded(async {
            let c = self.pool.get().await?;
            c.execute(
                &c.prepare_cached(
                    "UPDATE veo_submits SET submit_state = $2, submit_error = $3, updated_at = $4
                 WHERE id = $1",
                )
                .await?,
                &[&id.0, &state.as_str(), &detail, &millis(SystemTime::now())],
            )
            .await?;
            Ok(())
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
        let path = path.display().to_string();
        self.bounded(async {
            let c = self.pool.get().await?;
            let now = millis(SystemTime::now());
            let changed = c
                .execute(&c.prepare_cached("INSERT INTO veo_videos (submit_id, idx, url, path, bytes, saved_at)
                     SELECT id, $2, $3, $4, $5, $6 FROM veo_submits WHERE task_id = $1
                     ON CONFLICT (submit_id, idx) DO UPDATE SET
                         path = excluded.path, bytes = excluded.bytes, saved_at = excluded.saved_at").await?,
                    &[
                        &task_id,
                        &i64::from(index),
                        &url,
                        &path,
                        &i64::try_from(bytes).unwrap_or(i64::MAX),
                        &now,
                    ],
                )
                .await?;
            if changed == 0 {
                return Err(Failure::Other(format!("the journal does not know task {task_id}")));
            }
            c.execute(&c.prepare_cached("UPDATE veo_submits SET save_error = NULL, updated_at = $2 WHERE task_id = $1").await?,
                &[&task_id, &now],
            )
            .await?;
            Ok(())
        })
        .await
    }

    async fn record_save_failed(&self, task_id: &str, error: &str) -> Result<(), JournalError> {
        self.bounded(async {
            let c = self.pool.get().await?;
            c.execute(&c.prepare_cached("UPDATE veo_submits s SET save_error = $2, updated_at = $3 WHERE task_id = $1
                 AND (NOT EXISTS (SELECT 1 FROM veo_videos v WHERE v.submit_id = s.id)
                      OR EXISTS (SELECT 1 FROM veo_videos v WHERE v.submit_id = s.id AND v.path IS NULL))").await?,
                &[&task_id, &error, &millis(SystemTime::now())],
            )
            .await?;
            Ok(())
        })
        .await
    }

    async fn get(&self, task_id: &str) -> Result<Option<TaskEntry>, JournalError> {
        self.bounded(async {
            let c = self.pool.get().await?;
            match c
                .query_opt(
                    &c.prepare_cached("SELECT id FROM veo_submits WHERE task_id = $1")
                        .await?,
                    &[&task_id],
                )
                .await?
            {
                Some(row) => Ok(Some(load_entry(&c, row.get(0)).await?)),
                None => Ok(None),
            }
        })
        .await
    }

    async fn get_local(&self, id: SubmitId) -> Result<Option<TaskEntry>, JournalError> {
        self.bounded(async {
            let c = self.pool.get().await?;
            let known = c
                .query_opt(
                    &c.prepare_cached("SELECT 1 FROM veo_submits WHERE id = $1")
                        .await?,
                    &[&id.0],
                )
                .await?;
            match known {
                Some(_) => Ok(Some(load_entry(&c, id.0).await?)),
                None => Ok(None),
            }
        })
        .await
    }

    async fn list(
        &self,
        filter: Option<TaskFilter>,
        limit: u32,
    ) -> Result<Vec<TaskEntry>, JournalError> {
        let filter = filter.map(veo_core::ClosedSet::as_str);
        self.bounded(async {
            let c = self.pool.get().await?;
            let rows = c
                .query(
                    &c.prepare_cached(
                        "SELECT id FROM veo_submits
                     WHERE $1::text IS NULL OR status = $1 OR (status IS NULL AND submit_state = $1)
                     ORDER BY id DESC LIMIT $2",
                    )
                    .await?,
                    &[&filter, &i64::from(limit)],
                )
                .await?;
            let mut entries = Vec::with_capacity(rows.len());
            for row in rows {
                entries.push(load_entry(&c, row.get(0)).await?);
            }
            Ok(entries)
        })
        .await
    }

    async fn list_saved(
        &self,
        before: Option<SubmitId>,
        limit: u32,
    ) -> Result<Vec<TaskEntry>, JournalError> {
        let before = before.map(|id| id.0);
        self.bounded(async {
            let c = self.pool.get().await?;
            let sql = "SELECT s.id FROM veo_submits s WHERE ($1::bigint IS NULL OR s.id < $1)
                 AND EXISTS (SELECT 1 FROM veo_videos v WHERE v.submit_id = s.id AND v.path IS NOT NULL)
                 ORDER BY s.id DESC LIMIT $2";
            let rows = c
                .query(&c.prepare_cached(sql).await?, &[&before, &i64::from(limit)])
                .await?;
            let mut entries = Vec::with_capacity(rows.len());
            for row in rows {
                entries.push(load_entry(&c, row.get(0)).await?);
            }
            Ok(entries)
        })
        .await
    }

    async fn pending(&self, saving: bool) -> Result<Vec<String>, JournalError> {
        self.bounded(async {
            let c = self.pool.get().await?;
            let rows = c
                .query(
                    &c.prepare_cached(&format!(
                        "SELECT s.task_id FROM veo_submits s WHERE {PENDING} ORDER BY s.id"
                    ))
                    .await?,
                    &[&saving],
                )
                .await?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
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
        self.bounded(async {
            let mut c = self.pool.get().await?;
            let tx = c.transaction().await?;
            tx.execute(
                &tx.prepare_cached(&format!(
                    "UPDATE veo_submits s SET lease_until = {NOW_MS} + $3
                     WHERE {PENDING} AND s.lease_holder = $2"
                ))
                .await?,
                &[&saving, &holder, &duration_ms(lease)],
            )
            .await?;
            // Rows another replica is claiming right now are skipped, not waited for.
            tx.execute(
                &tx.prepare_cached(&format!(
                    "UPDATE veo_submits SET lease_holder = $2, lease_until = {NOW_MS} + $3
                     WHERE id IN (
                         SELECT s.id FROM veo_submits s WHERE {PENDING}
                           AND (s.lease_until IS NULL OR s.lease_until <= {NOW_MS})
                         ORDER BY s.id LIMIT $4
                         FOR UPDATE SKIP LOCKED)"
                ))
                .await?,
                &[&saving, &holder, &duration_ms(lease), &i64::from(limit)],
            )
            .await?;
            let held = tx
                .query(
                    &tx.prepare_cached(&format!(
                        "SELECT s.task_id FROM veo_submits s WHERE {PENDING} AND s.lease_holder = $2
                         ORDER BY s.id"
                    ))
                    .await?,
                    &[&saving, &holder],
                )
                .await?;
            tx.commit().await?;
            Ok(held.iter().map(|r| r.get(0)).collect())
        })
        .await
    }

    async fn claim(
        &self,
        task_id: &str,
        holder: &str,
        lease: Duration,
    ) -> Result<bool, JournalError> {
        self.bounded(async {
            let c = self.pool.get().await?;
            let changed = c
                .execute(&c.prepare_cached(&format!(
                        "UPDATE veo_submits SET lease_holder = $2, lease_until = {NOW_MS} + $3
                         WHERE task_id = $1
                           AND (lease_until IS NULL OR lease_until <= {NOW_MS} OR lease_holder = $2)"
                    )).await?,
                    &[&task_id, &holder, &duration_ms(lease)],
                )
                .await?;
            Ok(changed == 1)
        })
        .await
    }

    async fn release(&self, task_id: &str, holder: &str) -> Result<(), JournalError> {
        self.bounded(async {
            let c = self.pool.get().await?;
            c.execute(
                &c.prepare_cached(
                    "UPDATE veo_submits SET lease_holder = NULL, lease_until = NULL
                 WHERE task_id = $1 AND lease_holder = $2",
                )
                .await?,
                &[&task_id, &holder],
            )
            .await?;
            Ok(())
        })
        .await
    }

    async fn release_all(&self, holder: &str) -> Result<usize, JournalError> {
        self.bounded(async {
            let c = self.pool.get().await?;
            let released = c
                .execute(
                    &c.prepare_cached(
                        "UPDATE veo_submits SET lease_holder = NULL, lease_until = NULL
                     WHERE lease_holder = $1",
                    )
                    .await?,
                    &[&holder],
                )
                .await?;
            Ok(released as usize)
        })
        .await
    }

    async fn check(&self) -> Result<(), JournalError> {
        self.bounded(async {
            let c = self.pool.get().await?;
            c.query_one(
                &c.prepare_cached("SELECT version FROM veo_schema").await?,
                &[],
            )
            .await?;
            Ok(())
        })
        .await
    }
}

impl PostgresJournal {
    /// Records `result` in the database (see [`JournalStore::record_result`]).
    async fn record_result_now(&self, result: &TaskResult) -> Result<(), JournalError> {
        let status = result.status.as_str();
        let progress = result.progress_percent.map(i64::from);
        let task_id = result.task_id.as_str();
        self.bounded(async {
            let mut c = self.pool.get().await?;
            // The common case, a poll that saw nothing new, is one read and no write.
            let known = c
                .query_opt(&c.prepare_cached("SELECT status, progress FROM veo_submits WHERE task_id = $1").await?,
                    &[&task_id],
                )
                .await?;
            if let Some(row) = &known
                && row.get::<_, Option<&str>>(0) == Some(status)
                && row.get::<_, Option<i64>>(1) == progress
                && result.videos.is_empty()
                && result.status != TaskStatus::Failed
            {
                return Ok(());
            }
            let now = millis(SystemTime::now());
            let tx = c.transaction().await?;
            // A task this journal did not submit (another tool, an older journal) is adopted,
            // so its status and saved files are kept too; two replicas adopting it at once
            // make one entry.
            tx.execute(&tx.prepare_cached("INSERT INTO veo_submits (fingerprint, model, prompt, parameters, created_at,
                     updated_at, submit_state, task_id)
                 VALUES ('', '', '', 'null', $1, $1, 'submitted', $2)
                 ON CONFLICT (task_id) DO NOTHING").await?,
                &[&now, &task_id],
            )
            .await?;
            let row = tx
                .query_one(&tx.prepare_cached("SELECT id, status, progress FROM veo_submits WHERE task_id = $1 FOR UPDATE").await?,
                    &[&task_id],
                )
                .await?;
            let (id, old_status, old_progress): (i64, Option<String>, Option<i64>) =
                (row.get(0), row.get(1), row.get(2));
            let reason = result
                .reason
                .as_deref()
                .filter(|_| result.status == TaskStatus::Failed);
            if old_status.as_deref() != Some(status) || old_progress != progress || reason.is_some()
            {
                tx.execute(&tx.prepare_cached("INSERT INTO veo_status_events (submit_id, at, status, platform_status, progress)
                     VALUES ($1, $2, $3, $4, $5)").await?,
                    &[&id, &now, &status, &result.raw_status, &progress],
                )
                .await?;
                tx.execute(&tx.prepare_cached("UPDATE veo_submits SET status = $2, progress = COALESCE($3, progress),
                     failure_reason = COALESCE($4, failure_reason), updated_at = $5 WHERE id = $1").await?,
                    &[&id, &status, &progress, &reason, &now],
                )
                .await?;
            }
            for (idx, video) in result.videos.iter().enumerate() {
                tx.execute(&tx.prepare_cached("INSERT INTO veo_videos (submit_id, idx, url, expires_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (submit_id, idx) DO UPDATE
                         SET url = excluded.url, expires_at = excluded.expires_at").await?,
                    &[&id, &(idx as i64), &video.url, &video.expires_at.map(millis)],
                )
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests;
