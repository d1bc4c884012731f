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
