//! The application: what veo does, whoever asks. [`App`] submits a prepared request (journal
//! first, duplicates folded), reports a task's result (waiting within a budget, with progress,
//! saving the videos, falling back to the journal) and lists the journal. The MCP tools
//! (`mcp`) and the command line (`cli`) are thin adapters over it; nothing here knows either.

pub mod error;
mod memory;
pub mod report;
pub mod tasks;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use backon::Retryable as _;
use tokio_util::sync::CancellationToken;
use veo_core::{Client, EffectiveParameters, PreparedRequest, TaskResult, TaskStatus, WaitOptions};

pub use error::{AppError, ErrorClass};
pub use report::{SpendReport, Submitted, TaskList, TaskReport, TaskSummary, VideoReport};
pub use tasks::{TaskState, TaskView};

use crate::config::Config;
use crate::journal::{
    self, Begin, Journal, NewSubmit, Spend, SubmitFailure, SubmitState, TaskFilter,
};
use crate::process;
use crate::saver::Saver;
use crate::spend::{self, Confirm, ConfirmRequest, Confirmation, LimitKind, LimitReached};
use crate::watcher::Watcher;

/// Longest a submit waits for an identical request that is being sent right now.
const RACING_SUBMIT_WAIT: Duration = Duration::from_secs(30);
/// The least time a result call gives a save, even when its wait is used up.
const MIN_SAVE_BUDGET: Duration = Duration::from_secs(3);
/// A finished task is answered from the journal only while its links stay valid this long.
const FRESH_LINK_MARGIN: Duration = Duration::from_secs(300);
/// A result call waiting on a task polls at least this often (7.5 polls a minute); near the
/// end the task's eta sets the pace.
const WAIT_MAX_INTERVAL: Duration = Duration::from_secs(8);

/// The application. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    client: Client,
    journal: Journal,
    saver: Saver,
    /// Present when `config.background` is set.
    watcher: Option<Watcher>,
    /// Recent looks at working tasks ([`App::look`]).
    looks: tasks::RecentLooks,
    /// Entries of tasks that finished for good, answered from memory (see
    /// `finished_in_journal`; a finished entry does not change), and tasks last seen working.
    remembered: memory::Remembered,
}

/// How a result call waits and saves.
#[derive(Clone, Debug, Default)]
pub struct ResultOptions {
    /// How long to wait for the task to end, in seconds (`None`: the default, 30); capped at
    /// the configured `max_wait`. Zero looks once.
    pub wait_seconds: Option<u64>,
    /// How long a succeeded task's saving may take; `None`: what is left of the wait, at
    /// least 3 s (after that, saving goes on in the background when there is one).
    pub save_budget: Option<Duration>,
    /// Ends the wait early with [`veo_core::Error::Cancelled`].
    pub cancel: CancellationToken,
}

impl App {
    /// Opens the journal (marking submits a stopped process left half-sent as outcome
    /// unknown) and, with `config.background`, starts the watcher on the current runtime: it
    /// follows the journal's unfinished tasks that no other process sharing the journal holds.
    /// The platform is not contacted until needed.
    pub async fn start(config: Config) -> Result<App, AppError> {
        let journal = journal::open(&config.journal)
            .await
            .map_err(AppError::JournalRead)?;
        let interrupted = journal
            .recover_interrupted(interrupted_after(&config), &process::is_gone)
            .await
            .map_err(AppError::JournalRead)?;
        if interrupted > 0 {
            tracing::warn!(
                interrupted,
                "submits interrupted by a stop are marked outcome_unknown"
            );
        }
        let client = Client::new(config.client.clone());
        let saver = Saver::new(client.clone(), journal.clone(), config.output_dir.clone());
        let watcher = config.background.then(|| {
            Watcher::new(
                client.clone(),
                journal.clone(),
                saver.clone(),
                config.watch.clone(),
                config.lease,
            )
        });
        if let Some(watcher) = &watcher {
            watcher.start_sweeping();
        }
        Ok(App {
            inner: Arc::new(Inner {
                config,
                client,
                journal,
                saver,
                watcher,
                looks: tasks::RecentLooks::default(),
                remembered: Default::default(),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The task journal.
    pub fn journal(&self) -> &Journal {
        &self.inner.journal
    }

    /// Stops the background watcher (tasks are resumed from the journal at the next start).
    pub fn stop_background(&self) {
        if let Some(watcher) = &self.inner.watcher {
            watcher.stop();
        }
    }

    /// Stops the background watcher and hands its tasks back to the journal, so that another
    /// process sharing it follows them at once rather than when the leases run out.
    pub async fn shutdown(&self) {
        if let Some(watcher) = &self.inner.watcher {
            watcher.stop_and_release().await;
        }
    }

    /// Whether the app can serve calls now: the journal answers. For readiness checks.
    pub async fn ready(&self) -> Result<(), AppError> {
        self.inner
            .journal
            .check()
            .await
            .map_err(AppError::JournalRead)
    }

    /// The longest wait one result call may use, in seconds.
    pub fn max_wait_seconds(&self) -> u64 {
        self.inner.config.max_wait.as_secs()
    }

    /// Submits `prepared` once: written down in the journal first; an identical request within
    /// the dedup window is answered with the earlier task (unless `allow_duplicate`), one being
    /// sent right now is waited for briefly, and one in doubt is never resent. A call that would
    /// pass a spend limit is refused, and one above the confirmation threshold is sent only if
    /// `confirm` says the person accepted; in both cases nothing is sent otherwise.
    pub async fn submit(
        &self,
        prepared: &PreparedRequest,
        allow_duplicate: bool,
        confirm: &dyn Confirm,
    ) -> Result<Submitted, AppError> {
        let config = &self.inner.config;
        let spend = &config.spend;
        let cap = self.max_wait_seconds();
        let parameters = EffectiveParameters::from(&prepared.request);
        let seconds = parameters.video_seconds();
        let estimate = spend.estimate(&parameters);
        if let Some(limit) = spend.per_call.filter(|limit| seconds > *limit) {
            return Err(AppError::LimitReached(LimitReached {
                kind: LimitKind::PerCall,
                limit_seconds: limit,
                used_seconds: 0,
                requested_seconds: seconds,
                fits_at: None,
            }));
        }
        let new = NewSubmit {
            fingerprint: prepared
                .fingerprint()
                .await
                .map_err(AppError::FrameUnreadable)?,
            prompt: prepared.request.prompt.clone(),
            parameters,
            owner: process::this_process(),
        };
        let submitted = |task_id: String, deduplicated: bool| {
            Submitted::new(prepared, task_id, deduplicated, cap, estimate)
        };
        let allow_duplicate = allow_duplicate || config.dedup_window.is_zero();
        let budget = spend.daily_budget();
        let needs_confirmation = spend.confirm_above.is_some_and(|above| seconds > above);
        let journal = &self.inner.journal;
        // Ask the person only about a call that would really be sent: not one answered from
        // the journal, nor one a limit refuses anyway.
        let mut confirmed = !needs_confirmation;
        if !confirmed {
            let duplicate = if allow_duplicate {
                None
            } else {
                journal
                    .find_duplicate(&new.fingerprint, config.dedup_window)
                    .await
                    .map_err(AppError::JournalWrite)?
            };
            if duplicate.is_none() {
                if let Some(budget) = budget {
                    let spent = journal
                        .spending(SystemTime::now() - budget.period)
                        .await
                        .map_err(AppError::JournalWrite)?;
                    budget
                        .check(&spent, seconds, SystemTime::now())
                        .map_err(|spend| AppError::LimitReached(daily_limit(spend)))?;
                }
                self.confirm(confirm, &new, estimate).await?;
                confirmed = true;
            }
        }
        // Wait for an identical request that is being sent right now (a retry racing the
        // original), but never past what a host allows a tool call.
        let give_up = Instant::now() + config.max_wait.min(RACING_SUBMIT_WAIT);
        let stale_after = config.client.submit_timeout + Duration::from_secs(30);
        let id = 'begin: loop {
            let begun = journal
                .begin_submit(new.clone(), config.dedup_window, allow_duplicate, budget)
                .await
                .map_err(AppError::JournalWrite)?;
            let entry = match begun {
                Begin::Proceed(id) if confirmed => break id,
                Begin::Proceed(id) => {
                    // The identical request seen before asking went away meanwhile (it
                    // failed): this one is new after all, so the person decides now. Nothing
                    // stays half-sent while they do: the entry is closed, and a new one is
                    // begun after their consent.
                    let _ = journal
                        .record_submit_failed(
                            id,
                            SubmitFailure::Rejected,
                            "not sent: waiting for the person's confirmation",
                        )
                        .await;
                    self.confirm(confirm, &new, estimate).await?;
                    confirmed = true;
                    continue 'begin;
                }
                Begin::Duplicate(entry) => entry,
                Begin::OverBudget(spend) => return Err(AppError::LimitReached(daily_limit(spend))),
            };
            match (entry.submit_state, entry.task_id) {
                (SubmitState::Submitted, Some(task_id)) => {
                    tracing::info!(%task_id, "identical request within the window: not resubmitted");
                    return Ok(submitted(task_id, true));
                }
                (SubmitState::Sending, _)
                    if entry.created_at.elapsed().unwrap_or_default() < stale_after
                        && !entry.owner.as_deref().is_some_and(process::is_gone) =>
                {
                    if Instant::now() >= give_up {
                        return Err(AppError::SubmitInProgress {
                            since: entry.created_at,
                        });
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                (state, _) => {
                    if state == SubmitState::Sending {
                        // Its process stopped mid-send: say so in the journal now.
                        let _ = journal
                            .recover_interrupted(interrupted_after(config), &process::is_gone)
                            .await;
                    }
                    return Err(AppError::OutcomeInDoubt {
                        since: entry.created_at,
                        detail: entry.submit_error,
                    });
                }
            }
        };
        let task_id = match self.inner.client.submit(prepared).await {
            Ok(task_id) => task_id,
            Err(e) => {
                let failure = if e.may_have_created_task() {
                    SubmitFailure::OutcomeUnknown
                } else {
                    SubmitFailure::Rejected
                };
                if let Err(je) = journal
                    .record_submit_failed(id, failure, &e.to_string())
                    .await
                {
                    tracing::error!("cannot record the failed submit: {je}");
                }
                return Err(e.into());
            }
        };
        tracing::info!(%task_id, model = %prepared.request.model, "task submitted");
        // The platform created (and charged for) the task: its id must reach the journal.
        // The watcher's lease is taken in the same write: one journal write, not two.
        let watcher = self.inner.watcher.as_ref();
        let lease = watcher.map(Watcher::lease);
        let recorded = (|| journal.record_submitted(id, &task_id, lease))
            .retry(config.client.retry.backoff(5))
            .notify(|e, _| tracing::warn!(%task_id, "cannot record the task id yet: {e}"))
            .await;
        match (watcher, recorded) {
            (Some(watcher), Ok(())) => watcher.follow_claimed(task_id.clone()),
            (None, Ok(())) => {}
            (watcher, Err(e)) => {
                tracing::error!(%task_id, "cannot record the task id: {e}");
                if let Some(watcher) = watcher {
                    watcher.watch(task_id.clone());
                }
            }
        }
        Ok(submitted(task_id, false))
    }

    /// Asks the person through `confirm` whether to make the video `new` describes.
    async fn confirm(
        &self,
        confirm: &dyn Confirm,
        new: &NewSubmit,
        estimate: Option<f64>,
    ) -> Result<(), AppError> {
        let seconds = new.parameters.video_seconds();
        let request = ConfirmRequest {
            message: spend::confirmation_question(&new.parameters, estimate),
            video_seconds: seconds,
            estimated_cost: estimate,
            fingerprint: new.fingerprint.clone(),
        };
        match confirm.confirm(&request).await {
            Confirmation::Accepted => Ok(()),
            Confirmation::Declined => Err(AppError::Declined {
                video_seconds: seconds,
            }),
            Confirmation::Unavailable => Err(AppError::ConfirmationUnavailable {
                video_seconds: seconds,
                threshold: self.inner.config.spend.confirm_above.unwrap_or_default(),
            }),
            Confirmation::AskInAnotherRound => Err(AppError::ConfirmationPending {
                question: request.message,
                fingerprint: request.fingerprint,
            }),
        }
    }

    /// Reports where `task_id` stands, waiting up to the requested time for it to end;
    /// `on_update` sees every state polled. A succeeded task's videos are saved within the save
    /// budget. When the platform cannot be asked, a finished task is reported from the journal.
    pub async fn result(
        &self,
        task_id: &str,
        options: ResultOptions,
        on_update: impl FnMut(&TaskResult) + Send,
    ) -> Result<TaskReport, AppError> {
        let mut report = self.result_unlinked(task_id, options, on_update).await?;
        let links = self.inner.config.video_links.as_ref();
        report::add_links(&mut report.videos, &report.task_id, links);
        Ok(report)
    }

    /// [`App::result`] without links to the saved videos.
    async fn result_unlinked(
        &self,
        task_id: &str,
        options: ResultOptions,
        on_update: impl FnMut(&TaskResult) + Send,
    ) -> Result<TaskReport, AppError> {
        let cap = self.max_wait_seconds();
        let wait_seconds = options
            .wait_seconds
            .unwrap_or(report::DEFAULT_WAIT_SECONDS)
            .min(cap);
        let capped = options.wait_seconds.is_some_and(|w| w > cap);
        let started = Instant::now();
        if let Some(report) = self.finished_in_journal(task_id, cap, capped).await {
            return Ok(report);
        }
        let polled = if wait_seconds == 0 {
            // "Just look": one query, bounded by the client's query timeout.
            self.inner.client.task_result_once(task_id).await
        } else {
            let wait = WaitOptions {
                timeout: Duration::from_secs(wait_seconds),
                cancel: options.cancel.clone(),
                max_interval: WAIT_MAX_INTERVAL,
                ..WaitOptions::default()
            };
            let _waiting = self.inner.watcher.as_ref().map(|w| w.waiting_on(task_id));
            self.inner.client.wait(task_id, &wait, on_update).await
        };
        let result = match polled {
            Ok(result) => result,
            Err(e) => return self.report_from_journal(task_id, e).await,
        };
        self.inner.remembered.saw(task_id, result.status);
        if let Err(e) = self.inner.journal.record_result(&result).await {
            tracing::warn!(%task_id, "cannot record status: {e}");
        }
        let report = TaskReport::from_result(&result, 0.0, cap, capped);
        let report = if result.status == TaskStatus::Succeeded && self.inner.saver.saving() {
            let budget = options.save_budget.unwrap_or_else(|| {
                Duration::from_secs(wait_seconds)
                    .saturating_sub(started.elapsed())
                    .max(MIN_SAVE_BUDGET)
            });
            self.save_within(&result, budget, report).await
        } else {
            if !result.status.is_terminal()
                && let Some(watcher) = &self.inner.watcher
            {
                watcher.watch(task_id.to_string());
            }
            report
        };
        Ok(TaskReport {
            waited_seconds: (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
            ..report
        })
    }

    /// Saves a succeeded task's videos within `budget` and puts the paths into `report`. With a
    /// background watcher, a save that takes longer goes on after the call returns; a one-shot
    /// process stops it (a later run resumes from the journal).
    async fn save_within(
        &self,
        result: &TaskResult,
        budget: Duration,
        report: TaskReport,
    ) -> TaskReport {
        let task_id = result.task_id.as_str();
        let saved = if self.inner.watcher.is_some() {
            // The watcher saves whatever this call could not, later.
            let saver = self.inner.saver.clone();
            let to_save = result.clone();
            let job = tokio::spawn(async move { saver.save(&to_save).await });
            tokio::time::timeout(budget, job)
                .await
                .ok()
                .and_then(Result::ok)
        } else {
            // Nobody saves after this call: keep trying (fresh links each round) within it.
            let saving = self
                .inner
                .saver
                .save_until_done(result.clone(), self.inner.config.watch.min);
            tokio::time::timeout(budget, saving).await.ok()
        };
        let Some(saved) = saved else {
            let note = if self.inner.watcher.is_some() {
                "The videos are still being saved in the background; call again shortly for their local paths."
            } else {
                "The videos could not be saved in time; asking for this task again saves them."
            };
            return report.with_saved(Vec::new(), Some(note));
        };
        let mut note = None;
        if saved.iter().any(Option::is_none)
            && let Ok(Some(entry)) = self.inner.journal.get(task_id).await
            && let Some(error) = entry.save_error
        {
            tracing::warn!(%task_id, "saving failed: {error}");
            note = Some(
                "Saving failed (see save_error in list_tasks); the URLs still work until they expire.",
            );
        }
        report.with_saved(saved, note)
    }

    /// The report of a task the journal knows has finished for good (its entry is remembered
    /// after the first such answer), when the platform has nothing to add: a failed task, or a
    /// succeeded one whose videos are all on disk with links that stay valid for at least
    /// [`FRESH_LINK_MARGIN`] more. Such a call makes no request and writes nothing. A succeeded
    /// task with a video not saved (saving off, or not done yet), or with a link about to
    /// expire, is asked again: the caller may need a fresh link. A task this process's last look
    /// saw working is not looked up: the platform is asked in any case.
    async fn finished_in_journal(
        &self,
        task_id: &str,
        cap: u64,
        capped: bool,
    ) -> Option<TaskReport> {
        let remembered = &self.inner.remembered;
        let entry = match remembered.finished(task_id) {
            Some(entry) => entry,
            // Seen working by this process's last look: its entry cannot answer this call.
            None if remembered.working(task_id) => return None,
            None => self.inner.journal.get(task_id).await.ok()??,
        };
        let fresh_until = SystemTime::now() + FRESH_LINK_MARGIN;
        let answerable = match entry.status? {
            TaskStatus::Failed => true,
            TaskStatus::Succeeded => {
                entry.all_saved()
                    && entry.videos.iter().all(|v| {
                        v.path.as_ref().is_some_and(|p| p.is_file())
                            && v.expires_at.is_some_and(|at| at > fresh_until)
                    })
            }
            _ => false,
        };
        if !answerable {
            remembered.forget_finished(task_id);
            return None;
        }
        remembered.remember_finished(task_id, &entry);
        Some(TaskReport::finished(&entry, task_id, cap, capped))
    }

    /// When the platform cannot be asked, answers from the journal if it knows the task has
    /// finished (a saved video is never lost because its link expired); otherwise the error.
    async fn report_from_journal(
        &self,
        task_id: &str,
        error: veo_core::Error,
    ) -> Result<TaskReport, AppError> {
        match self.inner.journal.get(task_id).await {
            Ok(Some(entry)) if entry.status.is_some_and(TaskStatus::is_terminal) => Ok(
                TaskReport::from_journal(&entry, task_id, &error.to_string()),
            ),
            _ => Err(error.into()),
        }
    }

    /// The most recent tasks of the journal, at most `limit`, optionally only those `filter`
    /// selects. Never contacts the platform.
    pub async fn list(&self, filter: Option<TaskFilter>, limit: u32) -> Result<TaskList, AppError> {
        let entries = self
            .inner
            .journal
            .list(filter, limit)
            .await
            .map_err(AppError::JournalRead)?;
        let limits = &self.inner.config.spend;
        let spent = self
            .inner
            .journal
            .spending(SystemTime::now() - spend::DAY)
            .await
            .map_err(AppError::JournalRead)?;
        Ok(TaskList {
            tasks: entries
                .iter()
                .map(|entry| {
                    let mut summary = TaskSummary::new(entry, limits);
                    if let Some(task_id) = &summary.task_id {
                        let links = self.inner.config.video_links.as_ref();
                        report::add_links(&mut summary.videos, task_id, links);
                    }
                    summary
                })
                .collect(),
            output_dir: self
                .inner
                .saver
                .output_dir()
                .map(|d| d.display().to_string()),
            spend: SpendReport {
                video_seconds_last_24h: spent.iter().map(|(_, seconds)| seconds).sum(),
                limit_seconds_per_24h: limits.per_day,
                limit_seconds_per_call: limits.per_call,
                confirm_above_seconds: limits.confirm_above,
            },
        })
    }
}

/// How long a submit may stay `sending` before it counts as interrupted even when its process
/// cannot be told: longer than any submit can take.
fn interrupted_after(config: &Config) -> Duration {
    config.client.submit_timeout + Duration::from_secs(60)
}

fn daily_limit(spend: Spend) -> LimitReached {
    LimitReached {
        kind: LimitKind::PerDay,
        limit_seconds: spend.budget.limit_seconds,
        used_seconds: spend.used_seconds,
        requested_seconds: spend.requested_seconds,
        fits_at: spend.fits_at,
    }
}
