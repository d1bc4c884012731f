//! How the backends store values: times as milliseconds since the Unix epoch, statuses and
//! states by name, parameters as JSON. One place, so that every backend reads what the others
//! would write.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use veo_core::{EffectiveParameters, TaskStatus};

use super::{SubmitFailure, SubmitState};

/// Why a submit is in doubt after its process stopped mid-send.
pub(super) const INTERRUPTED: &str = "the server stopped while this request was being sent; it may or may not have reached the platform";

/// `t` as stored.
pub(super) fn millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A stored time.
pub(super) fn from_millis(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// `d` in stored units.
pub(super) fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The status for a stored name; a name this version does not know is `Unknown`.
pub(super) fn status_from_name(name: &str) -> TaskStatus {
    [
        TaskStatus::Queued,
        TaskStatus::Processing,
        TaskStatus::Succeeded,
        TaskStatus::Failed,
    ]
    .into_iter()
    .find(|s| s.as_str() == name)
    .unwrap_or(TaskStatus::Unknown)
}

/// The submit state a failure leaves.
pub(super) fn submit_failure_state(failure: SubmitFailure) -> SubmitState {
    match failure {
        SubmitFailure::Rejected => SubmitState::Rejected,
        SubmitFailure::OutcomeUnknown => SubmitState::OutcomeUnknown,
    }
}

/// The parameters as stored.
pub(super) fn parameters_text(parameters: &EffectiveParameters) -> Result<String, String> {
    serde_json::to_string(parameters).map_err(|e| format!("cannot store the parameters: {e}"))
}

/// The stored parameters; `None` for a task adopted from elsewhere (stored as `null`: its
/// request was not seen), and for parameters this version cannot read (a newer veo's), which
/// must not make the rest of the entry unreadable.
pub(super) fn read_parameters(id: i64, text: &str) -> Option<EffectiveParameters> {
    match serde_json::from_str(text) {
        Ok(parameters) => parameters,
        Err(e) => {
            tracing::warn!(
                submit = id,
                "the journal's parameters of this submit cannot be read: {e}"
            );
            None
        }
    }
}

/// What this process last recorded of each task's state, so that a lookup that sees nothing new
/// (the common case: an agent asking about a running task) costs no journal round trip at all.
/// Another process sharing the journal may have recorded more since; skipping leaves its
/// record, which is at least as new.
#[derive(Debug, Default)]
pub(super) struct RecentResults {
    seen: std::sync::Mutex<std::collections::HashMap<String, (TaskStatus, Option<u8>)>>,
}

/// Tasks remembered at most; past it the memory starts afresh.
const RECENT_RESULTS: usize = 4096;

impl RecentResults {
    /// Whether recording `result` would change nothing this process has recorded: the same
    /// status and progress, no video links and no failure (those are always recorded).
    pub(super) fn unchanged(&self, result: &veo_core::TaskResult) -> bool {
        result.videos.is_empty()
            && result.status != TaskStatus::Failed
            && self
                .lock()
                .get(&result.task_id)
                .is_some_and(|seen| *seen == (result.status, result.progress_percent))
    }

    /// Remembers `result` as recorded.
    pub(super) fn remember(&self, result: &veo_core::TaskResult) {
        let mut seen = self.lock();
        if seen.len() >= RECENT_RESULTS {
            seen.clear();
        }
        seen.insert(
            result.task_id.clone(),
            (result.status, result.progress_percent),
        );
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, (TaskStatus, Option<u8>)>>
    {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::contract_tests::result;

    #[test]
    fn only_a_lookup_that_saw_nothing_new_is_skipped() {
        let recent = RecentResults::default();
        let processing = result("t", "TASK_STATUS_PROCESSING", 0);
        assert!(!recent.unchanged(&processing), "never recorded here");
        recent.remember(&processing);
        assert!(recent.unchanged(&processing));
        assert!(!recent.unchanged(&result("other", "TASK_STATUS_PROCESSING", 0)));
        assert!(
            !recent.unchanged(&result("t", "TASK_STATUS_SUCCEED", 0)),
            "a new status"
        );
        let done = result("t", "TASK_STATUS_SUCCEED", 1);
        recent.remember(&done);
        assert!(!recent.unchanged(&done), "links are always recorded");
        let failed = result("f", "TASK_STATUS_FAILED", 0);
        recent.remember(&failed);
        assert!(!recent.unchanged(&failed), "failures are always recorded");
    }
}
