//! Following a task: the one polling loop, shared by [`crate::Client::wait`] and by callers that
//! follow tasks on their own (a background watcher), so pacing lives in one place.
//!
//! Polls follow the task's `eta` when it gives one, otherwise a growing, jittered interval; a
//! `Retry-After` is honoured; every delay stays within [`Pacing`]'s bounds. Transient failures
//! are polled through; lasting ones (auth, unknown task) end the loop.

use std::future::Future;
use std::time::Duration;

use rand::RngExt as _;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::result::TaskResult;

/// How often a loop polls.
#[derive(Clone, Debug)]
pub struct Pacing {
    /// Delay before the first poll (zero: at once).
    pub first_delay: Duration,
    /// Delay before the second poll when the task gives no eta; later delays grow from here.
    pub first_interval: Duration,
    /// Shortest delay between polls.
    pub min_interval: Duration,
    /// Longest delay between polls.
    pub max_interval: Duration,
    /// Shortest delay when the task's eta says it is about to end (it may be below
    /// `min_interval`: near the end, a result is worth seeing at once).
    pub near_end: Duration,
}

impl Default for Pacing {
    /// At once, then from 1 s growing to 5 s (0.5 s at the least, near the end too).
    fn default() -> Self {
        Pacing {
            first_delay: Duration::ZERO,
            first_interval: Duration::from_secs(1),
            min_interval: Duration::from_millis(500),
            max_interval: Duration::from_secs(5),
            near_end: Duration::from_millis(500),
        }
    }
}

/// What one round of a poll loop saw.
#[derive(Debug)]
pub enum Polled {
    /// The platform answered (or failed to).
    Answer(Result<TaskResult>),
    /// This round was left out (someone else is polling the task right now).
    Skipped,
}

/// Polls with `query` until the task ends, `deadline` passes, or `cancel` fires.
///
/// Returns the terminal state, or at the deadline the latest state seen (a wait that runs out
/// is not an error; with no state seen, the last error or [`Error::Timeout`]). An error that
/// `lasting` says will not go away (for a caller's wait: not [`Error::is_transient`]) ends the
/// loop at once; others are polled through; cancellation ends it with [`Error::Cancelled`]. With a deadline, each
/// query is bounded by it (plus a second), so a hung request cannot hold the caller. `on_update`
/// sees every state received. Without a deadline the loop runs until the task ends.
pub async fn poll_until<Q, F>(
    pacing: &Pacing,
    deadline: Option<Instant>,
    cancel: &CancellationToken,
    mut query: Q,
    lasting: impl Fn(&Error) -> bool,
    mut on_update: impl FnMut(&TaskResult),
) -> Result<TaskResult>
where
    Q: FnMut() -> F,
    F: Future<Output = Polled>,
{
    let started = Instant::now();
    let waited = |deadline: Instant| deadline.saturating_duration_since(started);
    let mut latest: Option<TaskResult> = None;
    let mut last_error: Option<Error> = None;
    let mut interval = pacing.first_interval;
    // Polls in a row whose eta said the task was about to end.
    let mut overdue = 0u32;
    let mut delay = pacing.first_delay;
    loop {
        if !delay.is_zero() {
            tokio::select! {
                biased;
                () = cancel.cancelled() => return Err(Error::Cancelled),
                () = tokio::time::sleep(delay) => {}
            }
        }
        let polled = match deadline {
            Some(deadline) => {
                let bounded = tokio::time::timeout_at(
                    deadline
                        .checked_add(Duration::from_secs(1))
                        .unwrap_or(deadline),
                    query(),
                );
                tokio::select! {
                    biased;
                    () = cancel.cancelled() => return Err(Error::Cancelled),
                    polled = bounded => polled
                        .unwrap_or_else(|_| Polled::Answer(Err(Error::Timeout(waited(deadline))))),
                }
            }
            None => tokio::select! {
                biased;
                () = cancel.cancelled() => return Err(Error::Cancelled),
                polled = query() => polled,
            },
        };
        let mut retry_after = None;
        match polled {
            Polled::Answer(Ok(result)) => {
                on_update(&result);
                if result.status.is_terminal() {
                    return Ok(result);
                }
                latest = Some(result);
                last_error = None;
            }
            Polled::Answer(Err(e)) if !lasting(&e) => {
                tracing::debug!(error = %e, "poll failed; will try again");
                retry_after = e.retry_after();
                last_error = Some(e);
            }
            Polled::Answer(Err(e)) => return Err(e),
            Polled::Skipped => {}
        }
        let now = Instant::now();
        if let Some(deadline) = deadline
            && now >= deadline
        {
            return match (latest, last_error) {
                (Some(result), _) => Ok(result),
                (None, Some(e)) => Err(e),
                (None, None) => Err(Error::Timeout(waited(deadline))),
            };
        }
        let eta = latest
            .as_ref()
            .and_then(|r| r.eta_seconds)
            .filter(|_| last_error.is_none());
        let longest = pacing.max_interval.max(pacing.min_interval);
        delay = match (retry_after, eta) {
            (Some(asked), _) => asked.clamp(pacing.min_interval, longest),
            // Overdue ("any moment now"): look again soon, then less and less often.
            (None, Some(0)) => {
                let d = pacing.near_end.saturating_mul(1 << overdue.min(16));
                overdue += 1;
                d.clamp(pacing.near_end.min(longest), longest)
            }
            // The platform's estimate sets the pace, closer than usual near the end, so a
            // result is seen (and its short-lived links used) soon after it is ready.
            (None, Some(seconds)) => {
                overdue = 0;
                Duration::from_secs(seconds)
                    .clamp(pacing.near_end.min(pacing.min_interval), longest)
            }
            (None, None) => {
                let d = jitter(interval);
                interval = interval.mul_f32(1.5).min(pacing.max_interval);
                d.clamp(pacing.min_interval, longest)
            }
        };
        if let Some(deadline) = deadline {
            delay = delay.min(deadline - now);
        }
    }
}

/// `d` spread by ±20 %, so that many clients do not poll in step.
pub(crate) fn jitter(d: Duration) -> Duration {
    let factor = rand::rng().random_range(0.8..1.2);
    d.mul_f64(factor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::SystemTime;

    fn state(status: &str, eta: Option<u64>) -> TaskResult {
        let mut task = serde_json::json!({"task_id": "t", "status": status});
        if let Some(eta) = eta {
            task["eta"] = eta.into();
        }
        TaskResult::from_json(&serde_json::json!({ "task": task }), "t", SystemTime::now())
    }

    #[tokio::test(start_paused = true)]
    async fn skipped_rounds_and_transient_failures_are_polled_through_until_the_end() {
        let rounds = AtomicU32::new(0);
        let seen = AtomicU32::new(0);
        let result = poll_until(
            &Pacing::default(),
            None,
            &CancellationToken::new(),
            || {
                let n = rounds.fetch_add(1, Ordering::SeqCst);
                async move {
                    match n {
                        0 => Polled::Skipped,
                        1 => Polled::Answer(Err(Error::Timeout(Duration::from_secs(1)))),
                        2 => Polled::Answer(Ok(state("TASK_STATUS_PROCESSING", Some(3)))),
                        _ => Polled::Answer(Ok(state("TASK_STATUS_SUCCEED", None))),
                    }
                }
            },
            |e| !e.is_transient(),
            |_| {
                seen.fetch_add(1, Ordering::SeqCst);
            },
        )
        .await
        .unwrap();
        assert_eq!(result.status, crate::TaskStatus::Succeeded);
        assert_eq!(rounds.load(Ordering::SeqCst), 4);
        assert_eq!(
            seen.load(Ordering::SeqCst),
            2,
            "only answers reach on_update"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_lasting_error_ends_the_loop_and_a_deadline_returns_the_latest_state() {
        let lasting = poll_until(
            &Pacing::default(),
            None,
            &CancellationToken::new(),
            || async {
                Polled::Answer(Err(Error::NotFound {
                    task_id: "t".into(),
                }))
            },
            |e| !e.is_transient(),
            |_| {},
        )
        .await;
        assert!(matches!(lasting, Err(Error::NotFound { .. })));

        let started = Instant::now();
        let latest = poll_until(
            &Pacing::default(),
            Some(started + Duration::from_secs(10)),
            &CancellationToken::new(),
            || async { Polled::Answer(Ok(state("TASK_STATUS_QUEUED", Some(60)))) },
            |e| !e.is_transient(),
            |_| {},
        )
        .await
        .unwrap();
        assert_eq!(latest.status, crate::TaskStatus::Queued);
        assert!(started.elapsed() <= Duration::from_secs(11));
    }
}
