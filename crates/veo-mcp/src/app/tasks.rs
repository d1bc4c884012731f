//! A submitted task seen as a durable, pollable handle (what MCP's Tasks extension calls a
//! task): where it stands from the journal and one query to the platform, a sentence a person
//! can read, and how soon to look again. Nothing here knows MCP; `mcp::tasks` renders it.
//!
//! The handle is the platform's task id, so it survives restarts (the journal never forgets a
//! submit) and means the same to `get_task_result`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use tokio_util::sync::CancellationToken;
use veo_core::TaskStatus;

use super::report::{TaskReport, status_phrase};
use super::{App, AppError, ResultOptions};
use crate::config::PollTiming;

/// The longest a look at a succeeded task spends saving its videos before it answers
/// (saving goes on in the background after that).
const LOOK_SAVE_BUDGET: Duration = Duration::from_secs(2);
/// The longest a look waits for the platform, so a host's `tasks/get` never hangs on it.
const LOOK_QUERY_BUDGET: Duration = Duration::from_secs(10);

/// Where a task stands, for a host following it.
#[derive(Debug)]
pub struct TaskView {
    /// When the submit was written down.
    pub created_at: SystemTime,
    /// When anything about it last changed in the journal.
    pub updated_at: SystemTime,
    /// Still going, or finished.
    pub state: TaskState,
}

/// Still going, or finished.
#[derive(Debug)]
pub enum TaskState {
    /// Queued, processing, or succeeded with its videos still being saved.
    Working {
        /// What is happening, for a person: `processing, 40%, about 50 s left`.
        message: String,
        /// When looking again is worth it (from the platform's eta, within the watcher's pacing).
        poll_after: Duration,
    },
    /// Finished: exactly what `get_task_result` answers now (a report whose status is
    /// `succeeded` or `failed`), or the error it gives for a task the platform does not know.
    Done(Result<TaskReport, AppError>),
}

/// Recent looks at working tasks, so hosts polling the same task together cost the platform
/// one query per [`PollTiming::near_end`] at most.
#[derive(Debug, Default)]
pub(super) struct RecentLooks(Mutex<HashMap<String, (Instant, String, Duration)>>);

impl RecentLooks {
    fn fresh(&self, task_id: &str, within: Duration) -> Option<(String, Duration)> {
        let looks = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (at, message, poll_after) = looks.get(task_id)?;
        (at.elapsed() < within).then(|| (message.clone(), *poll_after))
    }

    fn remember(&self, task_id: &str, message: &str, poll_after: Duration) {
        let mut looks = self.0.lock().unwrap_or_else(|e| e.into_inner());
        looks.retain(|_, (at, _, _)| at.elapsed() < Duration::from_secs(600));
        looks.insert(
            task_id.to_string(),
            (Instant::now(), message.to_string(), poll_after),
        );
    }

    fn forget(&self, task_id: &str) {
        let mut looks = self.0.lock().unwrap_or_else(|e| e.into_inner());
        looks.remove(task_id);
    }
}

/// How soon a host should look at a task again whose platform eta is `eta_seconds`: the eta
/// itself, no sooner than the watcher would near the end and no later than its longest pause;
/// without an eta, the watcher's shortest pause.
pub fn poll_after(timing: &PollTiming, eta_seconds: Option<u64>) -> Duration {
    let soonest = timing.near_end.min(timing.min);
    let latest = timing.max.max(timing.min);
    match eta_seconds {
        Some(seconds) => Duration::from_secs(seconds).clamp(soonest, latest),
        None => timing.min.clamp(soonest, latest),
    }
}

impl App {
    /// Where `task_id` stands, or `None` when the journal has no such task (it was not
    /// submitted through this journal). Asks the platform once (a host polling faster than
    /// the watcher's quickest pace is answered from the last look); a succeeded task counts as
    /// finished once its videos are saved (or saving failed, or is off). A platform that cannot
    /// be asked leaves the task working, with the reason in the message.
    pub async fn look(&self, task_id: &str) -> Result<Option<TaskView>, AppError> {
        let journal = &self.inner.journal;
        let Some(entry) = journal.get(task_id).await.map_err(AppError::JournalRead)? else {
            return Ok(None);
        };
        let timing = &self.inner.config.watch;
        let view = |state| TaskView {
            created_at: entry.created_at,
            updated_at: entry.updated_at,
            state,
        };
        if let Some((message, poll_after)) = self
            .inner
            .looks
            .fresh(task_id, timing.near_end.min(timing.min))
        {
            return Ok(Some(view(TaskState::Working {
                message,
                poll_after,
            })));
        }
        let options = ResultOptions {
            wait_seconds: Some(0),
            save_budget: Some(LOOK_SAVE_BUDGET),
            cancel: CancellationToken::new(),
        };
        let looked = tokio::time::timeout(
            LOOK_QUERY_BUDGET + LOOK_SAVE_BUDGET,
            self.result(task_id, options, |_| {}),
        )
        .await
        .unwrap_or(Err(AppError::Core(veo_core::Error::Timeout(
            LOOK_QUERY_BUDGET + LOOK_SAVE_BUDGET,
        ))));
        let report = match looked {
            Ok(report) => report,
            Err(AppError::Core(veo_core::Error::NotFound { task_id: id })) => {
                self.inner.looks.forget(task_id);
                let error = AppError::Core(veo_core::Error::NotFound { task_id: id });
                return Ok(Some(view(TaskState::Done(Err(error)))));
            }
            Err(e) => {
                let known = status_phrase(
                    entry.status.unwrap_or(TaskStatus::Unknown),
                    entry.progress_percent,
                    None,
                );
                let message =
                    format!("{known} (last known); the platform cannot be asked right now: {e}");
                return Ok(Some(view(TaskState::Working {
                    message,
                    poll_after: timing.max.max(timing.min),
                })));
            }
        };
        let saving = report.status == TaskStatus::Succeeded
            && self.inner.saver.saving()
            && report.unsaved_videos() > 0;
        let save_failed = saving
            && journal
                .get(task_id)
                .await
                .ok()
                .flatten()
                .is_some_and(|e| e.save_error.is_some());
        let still_saving = saving && !save_failed;
        let state = if report.done && !still_saving {
            self.inner.looks.forget(task_id);
            TaskState::Done(Ok(report))
        } else {
            let (message, poll_after) = if report.done {
                let left = report.unsaved_videos();
                let noun = if left == 1 { "video" } else { "videos" };
                (
                    format!("succeeded; saving {left} {noun} to the output directory"),
                    timing.near_end.max(Duration::from_secs(1)),
                )
            } else {
                (
                    status_phrase(report.status, report.progress_percent, report.eta_seconds),
                    poll_after(timing, report.eta_seconds),
                )
            };
            self.inner.looks.remember(task_id, &message, poll_after);
            TaskState::Working {
                message,
                poll_after,
            }
        };
        Ok(Some(view(state)))
    }

    /// Whether the journal knows `task_id` (so a handle for it is valid).
    pub async fn knows(&self, task_id: &str) -> Result<bool, AppError> {
        let entry = self
            .inner
            .journal
            .get(task_id)
            .await
            .map_err(AppError::JournalRead)?;
        Ok(entry.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing() -> PollTiming {
        PollTiming::default()
    }

    #[test]
    fn the_eta_sets_the_pace_within_the_watchers_bounds() {
        let t = timing();
        assert_eq!(poll_after(&t, Some(12)), Duration::from_secs(12));
        assert_eq!(
            poll_after(&t, Some(0)),
            Duration::from_secs(1),
            "near the end"
        );
        assert_eq!(
            poll_after(&t, Some(3600)),
            Duration::from_secs(20),
            "never longer"
        );
        assert_eq!(
            poll_after(&t, None),
            Duration::from_secs(5),
            "no eta: the shortest pause"
        );
    }

    #[test]
    fn recent_looks_answer_only_while_fresh() {
        let looks = RecentLooks::default();
        looks.remember("t1", "queued", Duration::from_secs(5));
        assert_eq!(
            looks.fresh("t1", Duration::from_secs(60)),
            Some(("queued".to_string(), Duration::from_secs(5)))
        );
        assert_eq!(looks.fresh("t1", Duration::ZERO), None);
        assert_eq!(looks.fresh("t2", Duration::from_secs(60)), None);
        looks.forget("t1");
        assert_eq!(looks.fresh("t1", Duration::from_secs(60)), None);
    }
}
