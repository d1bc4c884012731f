//! Progress notifications while a result call waits: one at every status update, and a
//! heartbeat at least every [`PROGRESS_EVERY`], so hosts see the call is alive.

use std::time::{Duration, Instant};

use rmcp::RoleServer;
use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::Peer;
use tokio::sync::watch;
use veo_core::{TaskResult, TaskStatus};

use crate::app::report::status_phrase;

/// How often a waiting call reports progress, at the least.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(3);

/// Sends a progress notification at every update, and at least every [`PROGRESS_EVERY`].
/// Progress values strictly increase, as the protocol requires.
pub async fn report_progress(
    peer: Peer<RoleServer>,
    token: ProgressToken,
    mut updates: watch::Receiver<Option<TaskResult>>,
) {
    let mut last_sent = -1.0f64;
    let started = Instant::now();
    let mut seen_at = started;
    loop {
        let changed = tokio::time::timeout(PROGRESS_EVERY, updates.changed()).await;
        if matches!(changed, Ok(Err(_))) {
            return; // the wait is over
        }
        if matches!(changed, Ok(Ok(()))) {
            seen_at = Instant::now();
        }
        let latest = updates.borrow_and_update().clone();
        let (percent, message) = match &latest {
            Some(r) => (
                f64::from(r.progress_percent.unwrap_or(0)),
                format!(
                    "{}{}",
                    // Between polls, count the platform's estimate down rather than repeat it.
                    status_phrase(
                        r.status,
                        r.progress_percent,
                        r.eta_seconds
                            .map(|e| e.saturating_sub(seen_at.elapsed().as_secs()))
                    ),
                    // A heartbeat repeats the last poll: say how old it is.
                    match seen_at.elapsed().as_secs() {
                        0 | 1 => String::new(),
                        s => format!(" (as of {s} s ago; still waiting)"),
                    }
                ),
            ),
            None => (
                0.0,
                format!(
                    "waiting for the platform ({} s)",
                    started.elapsed().as_secs()
                ),
            ),
        };
        let done = latest
            .as_ref()
            .is_some_and(|r| r.status == TaskStatus::Succeeded);
        // Until the task is done, progress stays below 99 (a platform may say 100 % while
        // still processing) so heartbeats always have room to increase, as they must.
        let progress = if done {
            100.0
        } else {
            (percent * 0.99).max(last_sent + 0.001).min(99.999)
        };
        if progress <= last_sent {
            continue;
        }
        last_sent = progress;
        let param = ProgressNotificationParam::new(token.clone(), progress)
            .with_total(100.0)
            .with_message(message);
        if peer.notify_progress(param).await.is_err() {
            return;
        }
    }
}
