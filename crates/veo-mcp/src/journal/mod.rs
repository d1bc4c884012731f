//! The task journal: remembers every submit and what became of it, so a paid video is never lost
//! and an identical request is never paid for twice by accident.
//!
//! A submit is written down *before* it is sent ([`SubmitState::Sending`]), then marked
//! `submitted` with its task id, or `outcome_unknown` when the reply was lost, or `rejected` when
//! the platform certainly refused it. Statuses, video links (with expiry) and saved files follow.
//!
//! [`JournalStore`] is the whole contract, in typed values; [`sqlite`] is the embedded backend,
//! `postgres` (cargo feature `postgres`, on by default) the one several machines share. Several
//! processes may share one journal: the duplicate check and the insert of a new submit are one
//! atomic step, and following a task is shared out by leases, so each task has one follower at
//! a time. [`JournalLocation`] says which backend a `--journal` value names.

#[cfg(test)]
mod contract_tests;
mod location;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod sqlite;
mod stored;

pub use location::JournalLocation;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use veo_core::{EffectiveParameters, TaskResult, TaskStatus};

/// How far back the background following looks: a task submitted longer ago is not followed
/// any more (its links expired days ago), so that following costs the same however long the
/// journal's history grows. `get_task_result` still asks for any task.
pub const FOLLOW_HORIZON: Duration = Duration::from_secs(7 * 24 * 3600);

/// The shared handle every part of veo-mcp uses.
pub type Journal = Arc<dyn JournalStore>;

/// Opens the journal at `location`, bringing its schema up to date.
pub async fn open(location: &JournalLocation) -> Result<Journal, JournalError> {
    #[cfg(feature = "postgres")]
    if let JournalLocation::Postgres(url) = location {
        return Ok(Arc::new(postgres::PostgresJournal::open(url).await?));
    }
    Ok(Arc::new(sqlite::SqliteJournal::open(location)?))
}

/// The local id of a submit: stable, also for submits that never got a task id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SubmitId(pub i64);

/// How a submit stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubmitState {
    /// Written down; the request is being sent (or the process stopped while sending).
    Sending,
    /// The platform accepted it and gave a task id.
    Submitted,
    /// The request may have reached the platform, but no task id came back.
    OutcomeUnknown,
    /// The platform certainly did not create a task (refused, rate limited, unreachable).
    Rejected,
}

impl SubmitState {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            SubmitState::Sending => "sending",
            SubmitState::Submitted => "submitted",
            SubmitState::OutcomeUnknown => "outcome_unknown",
            SubmitState::Rejected => "rejected",
        }
    }

    /// The state for a stored name. A name this version does not know reads as
    /// [`SubmitState::OutcomeUnknown`]: the platform may have created that task, so it is never
    /// treated as safe to send again.
    pub fn from_name(name: &str) -> SubmitState {
        match name {
            "sending" => SubmitState::Sending,
            "submitted" => SubmitState::Submitted,
            "rejected" => SubmitState::Rejected,
            _ => SubmitState::OutcomeUnknown,
        }
    }
}

/// How a submit that got no task id ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubmitFailure {
    /// The platform certainly did not create a task.
    Rejected,
    /// It may have: the outcome is unknown.
    OutcomeUnknown,
}

/// What `list` may select by: a task status, or (for submits without a task) a submit state.
/// Its names are `queued`, `processing`, `succeeded`, `failed`, `unknown` (statuses) and
/// `sending`, `outcome_unknown`, `rejected` (submit states).
// The variants carry no doc comments: the derived schema stays a plain list of names.
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskFilter {
    Queued,
    Processing,
    Succeeded,
    Failed,
    Unknown,
    Sending,
    OutcomeUnknown,
    Rejected,
}

impl veo_core::ClosedSet for TaskFilter {
    const ALL: &'static [TaskFilter] = &[
        TaskFilter::Queued,
        TaskFilter::Processing,
        TaskFilter::Succeeded,
        TaskFilter::Failed,
        TaskFilter::Unknown,
        TaskFilter::Sending,
        TaskFilter::OutcomeUnknown,
        TaskFilter::Rejected,
    ];

    fn as_str(self) -> &'static str {
        match self {
            TaskFilter::Queued => "queued",
            TaskFilter::Processing => "processing",
            TaskFilter::Succeeded => "succeeded",
            TaskFilter::Failed => "failed",
            TaskFilter::Unknown => "unknown",
            TaskFilter::Sending => "sending",
            TaskFilter::OutcomeUnknown => "outcome_unknown",
            TaskFilter::Rejected => "rejected",
        }
    }
}

/// One journal entry: a submit and everything known about its task.
#[derive(Clone, Debug)]
pub struct TaskEntry {
    /// Local id of the submit.
    pub local_id: SubmitId,
    /// The platform's task id, once known.
    pub task_id: Option<String>,
    /// How the submit stands.
    pub submit_state: SubmitState,
    /// Latest status seen, if any.
    pub status: Option<TaskStatus>,
    /// Latest progress seen, 0-100.
    pub progress_percent: Option<u8>,
    /// Why the task failed, when it did.
    pub failure_reason: Option<String>,
    /// Why the submit was rejected or is in doubt, when it is.
    pub submit_error: Option<String>,
    /// The prompt.
    pub prompt: String,
    /// Every parameter as sent (the model included); `None` for a task adopted from elsewhere,
    /// whose request this journal never saw.
    pub parameters: Option<EffectiveParameters>,
    /// When the submit was written down.
    pub created_at: SystemTime,
    /// When anything about it last changed.
    pub updated_at: SystemTime,
    /// The task's videos, in order.
    pub videos: Vec<VideoEntry>,
    /// The last error while saving videos, if saving has not succeeded.
    pub save_error: Option<String>,
    /// The process that wrote the submit, when it could be told.
    pub owner: Option<String>,
}

impl TaskEntry {
    /// True when every video of a succeeded task is on disk.
    pub fn all_saved(&self) -> bool {
        !self.videos.is_empty() && self.videos.iter().all(|v| v.path.is_some())
    }
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

/// A new submit, before it is sent.
#[derive(Clone, Debug)]
pub struct NewSubmit {
    /// Fingerprint of the request (endpoint, parameters, frame bytes).
    pub fingerprint: String,
    /// The prompt.
    pub prompt: String,
    /// Every parameter as it will be sent (the model included).
    pub parameters: EffectiveParameters,
    /// The process sending it (see [`crate::process`]), when it can be told.
    pub owner: Option<String>,
}

/// What [`JournalStore::begin_submit`] decided.
#[derive(Clone, Debug)]
pub enum Begin {
    /// No identical request is recent: go ahead; the entry has this id.
    Proceed(SubmitId),
    /// An identical request was submitted within the window: do not pay again.
    Duplicate(Box<TaskEntry>),
    /// Sending it would pass the spend budget: nothing was recorded.
    OverBudget(Spend),
}

/// A lease on a task: `holder` follows it, and no other holder claims it, for `duration`
/// from the moment it is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lease<'a> {
    /// Who holds it (a watcher's name).
    pub holder: &'a str,
    /// How long it lasts unless renewed.
    pub duration: Duration,
}

/// A ceiling on the seconds of video submitted within a rolling period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Most seconds of video (duration × samples) per period.
    pub limit_seconds: u64,
    /// The rolling period, e.g. 24 hours.
    pub period: Duration,
}

/// How much of a [`Budget`] is used, when a request does not fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spend {
    /// Seconds of video already submitted (or maybe submitted) within the period.
    pub used_seconds: u64,
    /// The seconds the request asked for.
    pub requested_seconds: u64,
    /// The budget.
    pub budget: Budget,
    /// When a request of this size fits again; `None` if it never does (it is larger than the
    /// whole budget).
    pub fits_at: Option<SystemTime>,
}

impl Budget {
    /// Whether `requested` seconds fit beside `spent` (when and how many seconds of every
    /// submit that may have been paid within the period, any order) at `now`; if not, how the
    /// budget stands and when a request of this size fits again.
    pub fn check(
        &self,
        spent: &[(SystemTime, u64)],
        requested: u64,
        now: SystemTime,
    ) -> Result<(), Spend> {
        let since = now
            .checked_sub(self.period)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let mut within: Vec<(SystemTime, u64)> = spent
            .iter()
            .copied()
            .filter(|(at, _)| *at > since)
            .collect();
        let used: u64 = within.iter().map(|(_, s)| s).sum();
        if used.saturating_add(requested) <= self.limit_seconds {
            return Ok(());
        }
        // The oldest submits leave the window first: find the one whose leaving makes room.
        within.sort_by_key(|(at, _)| *at);
        let mut remaining = used;
        let fits_at = if requested > self.limit_seconds {
            None
        } else {
            within.iter().find_map(|(at, seconds)| {
                remaining -= seconds;
                (remaining + requested <= self.limit_seconds).then(|| *at + self.period)
            })
        };
        Err(Spend {
            used_seconds: used,
            requested_seconds: requested,
            budget: *self,
            fits_at,
        })
    }
}

/// A journal failure; the text names the journal.
#[derive(Debug, thiserror::Error)]
#[error("task journal {location}: {message}")]
pub struct JournalError {
    /// Where the journal lives.
    pub location: String,
    /// What went wrong.
    pub message: String,
}

/// The journal's contract. Every backend keeps the same promises: each method is atomic, the
/// duplicate check and the insert of [`JournalStore::begin_submit`] are one step even across
/// processes, and nothing is ever deleted.
#[async_trait::async_trait]
pub trait JournalStore: Send + Sync + std::fmt::Debug {
    /// Marks submits left in `sending` by a process that stopped as outcome unknown: those whose
    /// owner `owner_gone` says has stopped, and those older than `older_than` (a process that
    /// cannot be told). Returns how many.
    async fn recover_interrupted(
        &self,
        older_than: Duration,
        owner_gone: &(dyn for<'s> Fn(&'s str) -> bool + Sync),
    ) -> Result<usize, JournalError>;

    /// Records a submit about to be sent, unless an identical one (same fingerprint) was
    /// submitted within `window` and did not fail: then that one is returned instead (with
    /// `allow_duplicate`, never). With a `budget`, a submit whose seconds of video would pass
    /// it is not recorded either. The checks and the insert are one atomic step, so concurrent
    /// submits (of any process sharing the journal) never pass the budget together.
    async fn begin_submit(
        &self,
        new: NewSubmit,
        window: Duration,
        allow_duplicate: bool,
        budget: Option<Budget>,
    ) -> Result<Begin, JournalError>;

    /// The most recent identical submit (same fingerprint) within `window` that did not fail,
    /// if any: what [`JournalStore::begin_submit`] would answer with, without recording.
    async fn find_duplicate(
        &self,
        fingerprint: &str,
        window: Duration,
    ) -> Result<Option<TaskEntry>, JournalError>;

    /// When and how many seconds of video every submit since `since` that may have been paid
    /// (all but the rejected) asked for.
    async fn spending(&self, since: SystemTime) -> Result<Vec<(SystemTime, u64)>, JournalError>;

    /// Records the task id the platform gave a submit. Should an older entry hold the same id
    /// (the platform issued it again: a restarted local mock does), the older one keeps its
    /// history under `<id>~superseded-<local id>`, so the new, paid task is never unrecorded.
    /// With `lease`, the task is claimed for its holder in the same write (as
    /// [`JournalStore::claim`] would, for a task nobody holds yet).
    async fn record_submitted(
        &self,
        id: SubmitId,
        task_id: &str,
        lease: Option<Lease<'_>>,
    ) -> Result<(), JournalError>;

    /// Records that a submit got no task id, and whether a task may exist anyway.
    async fn record_submit_failed(
        &self,
        id: SubmitId,
        failure: SubmitFailure,
        detail: &str,
    ) -> Result<(), JournalError>;

    /// Records a task's state as just seen: status and progress (with an event, only when they
    /// changed), failure reason and the latest video links. A task id the journal does not know
    /// is adopted (recorded as submitted elsewhere).
    async fn record_result(&self, result: &TaskResult) -> Result<(), JournalError>;

    /// Records that video `index` of `task_id`, fetched from `url`, was saved at `path`.
    /// Fails if the journal does not know the task.
    async fn record_saved(
        &self,
        task_id: &str,
        index: u32,
        url: &str,
        path: &std::path::Path,
        bytes: u64,
    ) -> Result<(), JournalError>;

    /// Records why saving a task's videos failed (cleared by the next successful save). Ignored
    /// when every video is saved already (another process may have saved them meanwhile).
    async fn record_save_failed(&self, task_id: &str, error: &str) -> Result<(), JournalError>;

    /// The entry of `task_id`, if the journal knows it.
    async fn get(&self, task_id: &str) -> Result<Option<TaskEntry>, JournalError>;

    /// The entry with local id `id`.
    async fn get_local(&self, id: SubmitId) -> Result<Option<TaskEntry>, JournalError>;

    /// The most recent entries first, at most `limit`, optionally only those `filter` selects.
    async fn list(
        &self,
        filter: Option<TaskFilter>,
        limit: u32,
    ) -> Result<Vec<TaskEntry>, JournalError>;

    /// Entries with at least one saved video (a `path`), the most recent first, at most
    /// `limit`; with `before`, only those older than that entry (pagination).
    async fn list_saved(
        &self,
        before: Option<SubmitId>,
        limit: u32,
    ) -> Result<Vec<TaskEntry>, JournalError>;

    /// Task ids that still need attention: submitted tasks not yet finished, and (when
    /// `saving`) succeeded tasks whose videos are not all saved; of those submitted within
    /// [`FOLLOW_HORIZON`].
    async fn pending(&self, saving: bool) -> Result<Vec<String>, JournalError>;

    /// Renews, for `lease` from now, the leases `holder` has on tasks [`pending`] lists, and
    /// claims for it at most `limit` more of them that no other holder has a live lease on (the
    /// oldest first). Returns the task ids it holds now, in the order of their submits. Holders
    /// claiming at the same moment never claim the same task.
    ///
    /// [`pending`]: JournalStore::pending
    async fn claim_pending(
        &self,
        holder: &str,
        lease: Duration,
        saving: bool,
        limit: u32,
    ) -> Result<Vec<String>, JournalError>;

    /// Claims (or renews) `task_id` for `holder` for `lease` from now, unless another holder
    /// has a live lease on it. Returns whether `holder` holds it now; false also for a task the
    /// journal does not know.
    async fn claim(
        &self,
        task_id: &str,
        holder: &str,
        lease: Duration,
    ) -> Result<bool, JournalError>;

    /// Ends `holder`'s lease on `task_id`, if it still has it, so another holder may claim the
    /// task at once.
    async fn release(&self, task_id: &str, holder: &str) -> Result<(), JournalError>;

    /// Ends every lease `holder` has (a process shutting down), so that other holders may
    /// claim those tasks at once. Returns how many.
    async fn release_all(&self, holder: &str) -> Result<usize, JournalError>;

    /// Whether the journal can be used now (a readiness check): one round trip that reads its
    /// tables.
    async fn check(&self) -> Result<(), JournalError>;
}
