//! The MCP tools: one small function per tool, turning arguments into a veo-core call and the
//! outcome into a structured result plus a short text.
//!
//! Tools are declared by hand rather than through rmcp's macros so that their input schemas are
//! exactly veo-core's host-friendly schemas, and so that *every* argument problem, wrong types
//! included, comes back as a readable tool error (`isError: true`) rather than a JSON-RPC error.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    InitializeResult, JsonObject, ListToolsResult, PaginatedRequestParams,
    ProgressNotificationParam, ProgressToken, ServerCapabilities, ServerConfig, Tool,
    ToolAnnotations,
};
use rmcp::service::{Peer, RequestContext};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::watch;
use veo_core::schema::host_friendly_schema;
use veo_core::{
    Client, EffectiveParameters, Error, ImageFormat, Model, TaskResult, TaskStatus,
    TransitionRequest, WaitOptions, prepare_json,
};

use crate::config::Config;
use crate::journal::{Begin, Journal, NewSubmit, SubmitState, TaskEntry};
use crate::watcher::{SavedVideo, Watcher};

/// Name of the submit tool.
pub const GENERATE_TOOL: &str = "generate_transition_video";
/// Name of the result tool.
pub const RESULT_TOOL: &str = "get_task_result";
/// Name of the journal tool.
pub const LIST_TOOL: &str = "list_tasks";
/// Key in a tool error's `_meta` naming its class (see [`error_kind`]), so programs such as
/// the CLI can tell invalid input from auth, upstream and local failures without parsing text.
pub const ERROR_KIND_META: &str = "veo/error";

/// How often a waiting `get_task_result` reports progress, at the least.
const PROGRESS_EVERY: Duration = Duration::from_secs(3);
/// `wait_seconds` used when a caller gives none.
const DEFAULT_WAIT_SECONDS: u64 = 30;

const INSTRUCTIONS: &str = "Makes short videos that move from a first frame to a last frame (Veo 3.1). \
Call generate_transition_video once with both frames and a prompt: it returns a task_id at once and \
costs money, so never call it again for the same video. Then call get_task_result with that task_id \
and wait_seconds (up to the server's limit) until status is succeeded or failed. Finished videos are \
saved to the server's output directory automatically (saved_path); their URLs expire about an hour \
after they are made. Lost a task_id? list_tasks shows recent tasks.";

/// The MCP server: the two tools over one veo-core client.
#[derive(Clone)]
pub struct VeoServer {
    shared: Arc<Shared>,
}

struct Shared {
    config: Config,
    client: Client,
    tools: Vec<Tool>,
    journal: Journal,
    watcher: Watcher,
}

/// What `generate_transition_video` returns.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Submitted {
    /// Id of the new task; pass it to get_task_result.
    pub task_id: String,
    /// Always "submitted": the task is queued on the platform.
    pub status: String,
    /// True when this identical request (same frames, prompt and parameters) had already been
    /// submitted recently: the earlier task is returned and nothing was paid again.
    pub deduplicated: bool,
    /// Model that generates the video.
    pub model: Model,
    /// Every parameter as sent, defaults filled in.
    pub parameters: EffectiveParameters,
    /// What was read from each frame.
    pub frames: Vec<FrameSummary>,
    /// Things worth knowing that did not stop the request (e.g. aspect ratio mismatches).
    pub warnings: Vec<String>,
    /// What to do next.
    pub next_step: String,
}

/// A frame as the server saw it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct FrameSummary {
    /// Which frame: "image" (first) or "last_image".
    pub field: String,
    /// How it was given: "url", "file" or "base64".
    pub source: String,
    /// Image format ("jpeg" or "png"); absent for URLs, which the platform fetches itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<ImageFormat>,
    /// Width in pixels, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Height in pixels, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Size in bytes, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

/// What `get_task_result` returns.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TaskReport {
    /// The task's id.
    pub task_id: String,
    /// Normalized status: queued, processing, succeeded, failed, or unknown.
    pub status: TaskStatus,
    /// The status exactly as the platform sent it.
    pub platform_status: String,
    /// True once the task has succeeded or failed; it will not change any more.
    pub done: bool,
    /// Progress from 0 to 100, if reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress_percent: Option<u8>,
    /// Estimated seconds until done, if reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eta_seconds: Option<u64>,
    /// Why the task failed, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// The generated videos (one per sample), once succeeded.
    pub videos: Vec<VideoReport>,
    /// Seconds this call waited.
    pub waited_seconds: f64,
    /// What to do next.
    pub next_step: String,
}

/// One generated video.
#[derive(Debug, Serialize, JsonSchema)]
pub struct VideoReport {
    /// Signed download URL; it stops working at expires_at.
    pub url: String,
    /// File type, e.g. "mp4".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_type: Option<String>,
    /// When the URL expires (RFC 3339, UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Seconds until the URL expires, from now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in_seconds: Option<u64>,
    /// Where the video was saved on the server's machine, once saved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saved_path: Option<String>,
}

/// What `list_tasks` returns.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TaskList {
    /// Recent tasks, newest first.
    pub tasks: Vec<TaskSummary>,
    /// Where videos are saved, when saving is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_dir: Option<String>,
}

/// One task from the journal.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TaskSummary {
    /// The task's id; absent when the submit never got one (see submit_state).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// How the submit stands: submitted, sending, outcome_unknown (the platform may have created
    /// the task; do not resubmit blindly) or rejected (nothing was created).
    pub submit_state: String,
    /// Latest status seen: queued, processing, succeeded, failed or unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskStatus>,
    /// Latest progress seen, 0-100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress_percent: Option<u8>,
    /// Model name.
    pub model: String,
    /// The prompt's first 100 characters.
    pub prompt: String,
    /// When it was submitted (RFC 3339, UTC).
    pub created_at: String,
    /// Failure reason, or why the submit failed or is in doubt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The task's videos with their links and saved files.
    pub videos: Vec<VideoReport>,
    /// Why saving failed, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub save_error: Option<String>,
}

/// Arguments of `list_tasks` (for its schema).
#[derive(Debug, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct ListTasksArgs {
    /// Only tasks with this status (or submit state). Default: all.
    status: Option<TaskFilter>,
    /// How many tasks to return, newest first. Default 20.
    #[schemars(range(min = 1, max = 100))]
    limit: Option<u32>,
}

/// Filter values of `list_tasks`.
#[derive(Debug, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
enum TaskFilter {
    Queued,
    Processing,
    Succeeded,
    Failed,
    Unknown,
    Sending,
    OutcomeUnknown,
    Rejected,
}

/// The values `list_tasks` (and the `tasks` command) accept as a status filter.
pub const TASK_FILTERS: [&str; 8] = [
    "queued",
    "processing",
    "succeeded",
    "failed",
    "unknown",
    "sending",
    "outcome_unknown",
    "rejected",
];

/// Arguments of `get_task_result` (for its schema; parsing is done by hand for clear errors).
#[derive(Debug, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct TaskResultArgs {
    /// The task_id returned by generate_transition_video.
    task_id: String,
    /// Seconds to wait for the task to finish before answering, 0 to just look. Default 30; at
    /// most the server's limit (50 by default), so a single call never outlives the host's
    /// timeout. Progress notifications are sent while waiting.
    #[schemars(range(min = 0, max = 600))]
    wait_seconds: Option<u32>,
}

impl VeoServer {
    /// A server for `config`: opens the task journal and (when `config.resume`) resumes the tasks
    /// an earlier run left unfinished or unsaved (in the background, on the current tokio
    /// runtime). The platform is
    /// not contacted until a tool or a resumed task needs it.
    pub async fn start(config: Config) -> Result<VeoServer, String> {
        let journal = match &config.journal {
            Some(path) => Journal::open(path),
            None => Journal::in_memory(),
        }
        .map_err(|e| e.to_string())?;
        let interrupted = journal
            .recover_interrupted(config.client.submit_timeout + Duration::from_secs(60))
            .await
            .map_err(|e| e.to_string())?;
        if interrupted > 0 {
            tracing::warn!(
                interrupted,
                "submits interrupted by a stop are marked outcome_unknown"
            );
        }
        let client = Client::new(config.client.clone());
        let watcher = Watcher::new(
            client.clone(),
            journal.clone(),
            config.output_dir.clone(),
            config.watch.clone(),
        );
        let tools = tool_definitions(&config);
        let server = VeoServer {
            shared: Arc::new(Shared {
                config,
                client,
                tools,
                journal,
                watcher,
            }),
        };
        if server.shared.config.resume {
            let resume = server.shared.watcher.clone();
            tokio::spawn(async move { resume.resume().await });
        }
        Ok(server)
    }

    /// The task journal.
    pub fn journal(&self) -> &Journal {
        &self.shared.journal
    }

    /// Stops the background watcher (tasks are resumed from the journal at the next start).
    pub fn stop_background(&self) {
        self.shared.watcher.stop();
    }

    /// The tools this server offers.
    pub fn tools(&self) -> &[Tool] {
        &self.shared.tools
    }

    async fn generate(&self, args: JsonObject) -> CallToolResult {
        let mut args = args;
        let allow_duplicate = match args.remove("allow_duplicate") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => b,
            Some(other) => {
                return tool_error(&Error::InvalidInput(veo_core::InvalidInput {
                    problems: vec![veo_core::Problem::new(
                        "allow_duplicate",
                        &other,
                        "must be true or false",
                    )],
                }));
            }
        };
        if !args.contains_key("model") {
            args.insert("model".into(), json!(self.shared.config.default_model));
        }
        let prepared =
            match prepare_json(&Value::Object(args), &self.shared.config.image_policy).await {
                Ok(p) => p,
                Err(invalid) => return tool_error(&Error::InvalidInput(invalid)),
            };
        let local_id = match self.record_submit(&prepared, allow_duplicate).await {
            Ok(id) => id,
            Err(done) => return done,
        };
        let task_id = match self.shared.client.submit(&prepared).await {
            Ok(id) => id,
            Err(e) => {
                let maybe_created = matches!(
                    e,
                    Error::SubmitOutcomeUnknown { .. }
                        | Error::Timeout(_)
                        | Error::Network {
                            may_have_reached_server: true,
                            ..
                        }
                );
                if let Err(je) = self
                    .shared
                    .journal
                    .submit_failed(local_id, maybe_created, &e.to_string())
                    .await
                {
                    tracing::error!("cannot record the failed submit: {je}");
                }
                return tool_error(&e);
            }
        };
        tracing::info!(%task_id, model = %prepared.request.model, "task submitted");
        // The platform created (and charged for) the task: its id must reach the journal.
        for attempt in 1..=5u32 {
            match self.shared.journal.submitted(local_id, &task_id).await {
                Ok(()) => break,
                Err(e) if attempt < 5 => {
                    tracing::warn!(%task_id, attempt, "cannot record the task id yet: {e}");
                    tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
                }
                Err(e) => tracing::error!(%task_id, "cannot record the task id: {e}"),
            }
        }
        self.shared.watcher.watch(task_id.clone());
        self.submitted_result(&prepared, task_id, false)
    }

    /// Writes the submit down before it is sent. `Err` carries the tool result to return
    /// instead of sending: a recent identical task, or why it cannot be recorded.
    async fn record_submit(
        &self,
        prepared: &veo_core::PreparedRequest,
        allow_duplicate: bool,
    ) -> Result<i64, CallToolResult> {
        let journal = &self.shared.journal;
        let endpoint = prepared.request.model.endpoint_path();
        let fingerprint = veo_core::body::encode(prepared)
            .fingerprint(endpoint)
            .await
            .map_err(|e| {
                text_error(
                    "local_file",
                    format!(
                        "Error: a frame file could not be read again ({e}). Nothing was sent and nothing was charged.\nMake sure the frame files stay in place while the request is made, then call again."
                    ),
                )
            })?;
        let new = NewSubmit {
            fingerprint,
            model: prepared.request.model.to_string(),
            prompt: prepared.request.prompt.clone(),
            parameters: serde_json::to_value(EffectiveParameters::from(&prepared.request))
                .unwrap_or(Value::Null),
        };
        let window = self.shared.config.dedup_window;
        let allow_duplicate = allow_duplicate || window.is_zero();
        // Wait for an identical request that is being sent right now (a retry racing the
        // original), but never past what a host allows a tool call.
        let give_up = Instant::now() + self.shared.config.max_wait.min(Duration::from_secs(30));
        let stale_after = self.shared.config.client.submit_timeout + Duration::from_secs(30);
        loop {
            let begun = journal
                .begin_submit(new.clone(), window, allow_duplicate)
                .await
                .map_err(|e| {
                    text_error("journal", format!(
                        "Error: cannot record the request in the task journal ({e}), so it was not sent. Nothing was charged.\nCheck that the journal's directory is writable (VEO_JOURNAL)."
                    ))
                })?;
            let entry = match begun {
                Begin::Proceed(id) => return Ok(id),
                Begin::Duplicate(entry) => entry,
            };
            match (entry.submit_state, &entry.task_id) {
                (SubmitState::Submitted, Some(task_id)) => {
                    tracing::info!(%task_id, "identical request within the window: not resubmitted");
                    return Err(self.submitted_result(prepared, task_id.clone(), true));
                }
                (SubmitState::Sending, _)
                    if entry.created_at.elapsed().unwrap_or_default() < stale_after =>
                {
                    if Instant::now() >= give_up {
                        return Err(text_error(
                            "submit_in_progress",
                            format!(
                                "Error: an identical request (same frames, prompt and parameters) has been being sent since {}; it was not sent again.\nCall list_tasks in a minute to see its task_id, then get_task_result with it.",
                                rfc3339(entry.created_at)
                            ),
                        ));
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                _ => {
                    return Err(text_error(
                        "submit_outcome_unknown",
                        format!(
                            "Error: an identical request (same frames, prompt and parameters) was sent at {} and its outcome is unknown: {}. It was not sent again, so nothing was charged now.\nThe platform may have created that task. Wait a minute, check list_tasks, and tell the user before any retry; to submit anyway, call again with allow_duplicate: true.",
                            rfc3339(entry.created_at),
                            entry.detail.as_deref().unwrap_or("no task id came back")
                        ),
                    ));
                }
            }
        }
    }

    fn submitted_result(
        &self,
        prepared: &veo_core::PreparedRequest,
        task_id: String,
        deduplicated: bool,
    ) -> CallToolResult {
        let frames = [
            ("image", &prepared.first_frame),
            ("last_image", &prepared.last_frame),
        ]
        .into_iter()
        .map(|(field, frame)| FrameSummary {
            field: field.to_string(),
            source: match &frame.payload {
                veo_core::image::FramePayload::Url(_) => "url",
                veo_core::image::FramePayload::File { .. } => "file",
                veo_core::image::FramePayload::Bytes(_) => "base64",
            }
            .to_string(),
            format: frame.format,
            width: frame.dimensions.map(|d| d.0),
            height: frame.dimensions.map(|d| d.1),
            bytes: frame.payload.byte_len(),
        })
        .collect();
        let submitted = Submitted {
            status: "submitted".into(),
            deduplicated,
            model: prepared.request.model,
            parameters: EffectiveParameters::from(&prepared.request),
            frames,
            warnings: prepared.warnings.clone(),
            next_step: format!(
                "Generation takes from under a minute to several minutes. Call {RESULT_TOOL} with task_id \"{task_id}\" and wait_seconds {} until done is true. Do not submit this request again: that would pay twice.",
                suggested_wait(self.max_wait_seconds())
            ),
            task_id,
        };
        let mut text = format!(
            "{} task {} ({}, {} video{}, {} s, {}, {}).",
            if deduplicated {
                "This identical request was already submitted recently, so nothing was paid again; returning"
            } else {
                "Submitted"
            },
            submitted.task_id,
            submitted.model,
            submitted.parameters.sample_count,
            if submitted.parameters.sample_count == 1 {
                ""
            } else {
                "s"
            },
            submitted.parameters.duration_seconds.seconds(),
            serde_json::to_value(submitted.parameters.resolution)
                .unwrap_or_default()
                .as_str()
                .unwrap_or_default(),
            serde_json::to_value(submitted.parameters.aspect_ratio)
                .unwrap_or_default()
                .as_str()
                .unwrap_or_default(),
        );
        for w in &submitted.warnings {
            text.push_str(&format!("\nWarning: {w}."));
        }
        if deduplicated {
            text.push_str("\nTo really generate another video from the same input, call again with allow_duplicate: true.");
        }
        text.push('\n');
        text.push_str(&submitted.next_step);
        structured(&submitted, text)
    }

    fn max_wait_seconds(&self) -> u64 {
        self.shared.config.max_wait.as_secs()
    }

    async fn task_result(
        &self,
        args: JsonObject,
        context: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let (task_id, requested_wait) = match parse_result_args(&args) {
            Ok(parsed) => parsed,
            Err(e) => return tool_error(&e),
        };
        let cap = self.max_wait_seconds();
        let wait_seconds = requested_wait.unwrap_or(DEFAULT_WAIT_SECONDS).min(cap);
        let started = Instant::now();
        let outcome = if wait_seconds == 0 {
            // "Just look": one query, bounded by the client's query timeout.
            self.shared.client.task_result_once(&task_id).await
        } else {
            let options = WaitOptions {
                timeout: Duration::from_secs(wait_seconds),
                cancel: context.ct.child_token(),
                // At most 7.5 polls a minute; near the end the task's eta sets the pace.
                max_interval: Duration::from_secs(8),
                ..WaitOptions::default()
            };
            let _waiting = self.shared.watcher.waiting_on(&task_id);
            let token = context.meta.get_progress_token();
            let (updates, reporter) = match token {
                Some(token) => {
                    let (tx, rx) = watch::channel(None);
                    (
                        Some(tx),
                        Some(tokio::spawn(report_progress(
                            context.peer.clone(),
                            token,
                            rx,
                        ))),
                    )
                }
                None => (None, None),
            };
            let result = self
                .shared
                .client
                .wait(&task_id, &options, |r| {
                    if let Some(tx) = &updates {
                        tx.send_replace(Some(r.clone()));
                    }
                })
                .await;
            drop(updates);
            if let Some(reporter) = reporter {
                let _ = reporter.await;
            }
            result
        };
        let capped = requested_wait.is_some_and(|w| w > cap);
        let result = match outcome {
            Ok(r) => r,
            Err(e) => return self.report_from_journal(&task_id, e).await,
        };
        let journal = &self.shared.journal;
        if let Err(e) = journal.record_result(&result).await {
            tracing::warn!(%task_id, "cannot record status: {e}");
        }
        let watcher = &self.shared.watcher;
        let mut saved = Vec::new();
        let mut saving_note = None;
        if result.status == TaskStatus::Succeeded && watcher.saving() {
            // Save now so the answer can name the files; if it takes too long, the download
            // goes on in the background and a later call (or list_tasks) shows the paths.
            let budget = Duration::from_secs(wait_seconds)
                .saturating_sub(started.elapsed())
                .max(Duration::from_secs(3));
            let saver = watcher.clone();
            let to_save = result.clone();
            let job = tokio::spawn(async move { saver.save(&to_save).await });
            match tokio::time::timeout(budget, job).await {
                Ok(Ok(paths)) => saved = paths,
                _ => {
                    saving_note = Some(
                        "The videos are still being saved in the background; call again shortly for their local paths.",
                    )
                }
            }
            if saved.iter().any(|s| s.path.is_none())
                && let Ok(Some(entry)) = journal.get(&task_id).await
                && let Some(error) = entry.save_error
            {
                saving_note = Some(
                    "Saving failed (see save_error in list_tasks); the URLs still work until they expire.",
                );
                tracing::warn!(%task_id, "saving failed: {error}");
            }
        } else if !result.status.is_terminal() {
            watcher.watch(task_id.clone());
        }
        let waited = started.elapsed().as_secs_f64();
        let mut report = task_report(&result, waited, cap, capped);
        for (video, saved) in report.videos.iter_mut().zip(&saved) {
            video.saved_path = saved.path.as_ref().map(|p| p.display().to_string());
        }
        if let Some(note) = saving_note {
            report.next_step = format!("{note} {}", report.next_step);
        } else if report.videos.iter().any(|v| v.saved_path.is_some()) {
            report.next_step = "Done. The videos are saved at saved_path on the server's machine; the URLs expire at expires_at.".to_string();
        }
        let text = report_text(&report);
        let mut reply = structured(&report, text);
        reply.content.extend(resource_links(&saved));
        reply
    }

    /// When the platform cannot be asked, answers from the journal if it knows the task (a saved
    /// video is never lost because its link expired); otherwise reports the error.
    async fn report_from_journal(&self, task_id: &str, error: Error) -> CallToolResult {
        let entry = match self.shared.journal.get(task_id).await {
            Ok(Some(entry)) if entry.status.is_some_and(TaskStatus::is_terminal) => entry,
            _ => return tool_error(&error),
        };
        let status = entry.status.unwrap_or(TaskStatus::Unknown);
        let videos = entry_videos(&entry);
        let report = TaskReport {
            task_id: task_id.to_string(),
            status,
            platform_status: status.as_str().to_string(),
            done: true,
            progress_percent: entry.progress_percent,
            eta_seconds: None,
            failure_reason: entry
                .detail
                .clone()
                .filter(|_| status == TaskStatus::Failed),
            videos,
            waited_seconds: 0.0,
            next_step: format!(
                "From the local task journal, because the platform could not be asked ({error})."
            ),
        };
        let text = report_text(&report);
        structured(&report, text)
    }

    async fn list_tasks(&self, args: JsonObject) -> CallToolResult {
        let mut problems = unknown_fields(&args, &["status", "limit"]);
        let filter = match args.get("status") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if TASK_FILTERS.contains(&s.as_str()) => Some(s.clone()),
            Some(other) => {
                problems.push(veo_core::Problem::new(
                    "status",
                    other,
                    format!("must be one of {}", TASK_FILTERS.join(", ")),
                ));
                None
            }
        };
        let limit = match args.get("limit") {
            None | Some(Value::Null) => 20,
            Some(v) => match v.as_u64().filter(|n| (1..=100).contains(n)) {
                Some(n) => n as u32,
                None => {
                    problems.push(veo_core::Problem::new(
                        "limit",
                        v,
                        "must be a whole number from 1 to 100",
                    ));
                    20
                }
            },
        };
        if !problems.is_empty() {
            return tool_error(&Error::InvalidInput(veo_core::InvalidInput { problems }));
        }
        let entries = match self.shared.journal.list(filter, limit).await {
            Ok(entries) => entries,
            Err(e) => {
                return text_error(
                    "journal",
                    format!("Error: cannot read the task journal: {e}"),
                );
            }
        };
        let tasks: Vec<TaskSummary> = entries.iter().map(task_summary).collect();
        let mut text = if tasks.is_empty() {
            "No tasks in the journal match.".to_string()
        } else {
            format!(
                "{} task{}, newest first:",
                tasks.len(),
                if tasks.len() == 1 { "" } else { "s" }
            )
        };
        for t in &tasks {
            text.push_str(&format!(
                "\n- {} [{}] {} \"{}\" ({})",
                t.task_id.as_deref().unwrap_or("(no task id)"),
                t.status
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_else(|| t.submit_state.clone()),
                t.model,
                t.prompt,
                t.created_at
            ));
            for v in &t.videos {
                if let Some(path) = &v.saved_path {
                    text.push_str(&format!("\n    saved: {path}"));
                }
            }
            if let Some(detail) = &t.detail {
                text.push_str(&format!("\n    {detail}"));
            }
        }
        let list = TaskList {
            tasks,
            output_dir: self
                .shared
                .watcher
                .output_dir()
                .map(|d| d.display().to_string()),
        };
        structured(&list, text)
    }
}

/// A problem for each argument not in `known`.
fn unknown_fields(args: &JsonObject, known: &[&str]) -> Vec<veo_core::Problem> {
    args.keys()
        .filter(|key| !known.contains(&key.as_str()))
        .map(|key| {
            veo_core::Problem::new(
                key,
                "",
                format!(
                    "is not a known field; the fields are {}",
                    known.join(" and ")
                ),
            )
        })
        .collect()
}

fn parse_result_args(args: &JsonObject) -> Result<(String, Option<u64>), Error> {
    let mut problems = unknown_fields(args, &["task_id", "wait_seconds"]);
    let task_id = match args.get("task_id") {
        Some(Value::String(s)) if valid_task_id(s.trim()) => s.trim().to_string(),
        Some(Value::String(s)) => {
            problems.push(veo_core::Problem::new("task_id", format!("{s:?}"), "must be the task_id returned by generate_transition_video (letters, digits, '-', '_', '.', at most 200 characters)"));
            String::new()
        }
        Some(other) => {
            problems.push(veo_core::Problem::new("task_id", other, "must be a string"));
            String::new()
        }
        None => {
            problems.push(veo_core::Problem::new(
                "task_id",
                "",
                "is required: the task_id returned by generate_transition_video",
            ));
            String::new()
        }
    };
    let wait = match args.get("wait_seconds") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64().or_else(|| {
            v.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                .map(|f| f as u64)
        }) {
            Some(n) => Some(n),
            None => {
                problems.push(veo_core::Problem::new(
                    "wait_seconds",
                    v,
                    "must be a whole number of seconds, 0 or more",
                ));
                None
            }
        },
    };
    if problems.is_empty() {
        Ok((task_id, wait))
    } else {
        Err(Error::InvalidInput(veo_core::InvalidInput { problems }))
    }
}

fn valid_task_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 200
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Sends a progress notification at every update, and at least every [`PROGRESS_EVERY`].
/// Progress values strictly increase, as the protocol requires.
async fn report_progress(
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
                    "{}{}{}{}",
                    r.status.as_str(),
                    r.progress_percent
                        .map(|p| format!(", {p}%"))
                        .unwrap_or_default(),
                    // Between polls, count the platform's estimate down rather than repeat it.
                    r.eta_seconds
                        .map(|e| e.saturating_sub(seen_at.elapsed().as_secs()))
                        .filter(|e| *e > 0)
                        .map(|e| format!(", about {e} s left"))
                        .unwrap_or_default(),
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

fn task_summary(entry: &TaskEntry) -> TaskSummary {
    TaskSummary {
        task_id: entry.task_id.clone(),
        submit_state: entry.submit_state.as_str().to_string(),
        status: entry.status,
        progress_percent: entry.progress_percent,
        model: entry.model.clone(),
        prompt: entry.prompt.chars().take(100).collect(),
        created_at: rfc3339(entry.created_at),
        detail: entry.detail.clone(),
        videos: entry_videos(entry),
        save_error: entry.save_error.clone(),
    }
}

fn entry_videos(entry: &TaskEntry) -> Vec<VideoReport> {
    let now = SystemTime::now();
    entry
        .videos
        .iter()
        .map(|v| VideoReport {
            url: v.url.clone(),
            file_type: Some("mp4".to_string()),
            expires_at: v.expires_at.map(rfc3339),
            expires_in_seconds: v
                .expires_at
                .map(|t| t.duration_since(now).unwrap_or_default().as_secs()),
            saved_path: v.path.as_ref().map(|p| p.display().to_string()),
        })
        .collect()
}

/// An MCP `resource_link` for each saved video.
fn resource_links(saved: &[SavedVideo]) -> Vec<ContentBlock> {
    saved
        .iter()
        .filter_map(|s| {
            let path = s.path.as_ref()?;
            let uri = url::Url::from_file_path(path).ok()?;
            let name = path.file_name()?.to_string_lossy().into_owned();
            let mut resource = rmcp::model::Resource::new(uri.to_string(), name);
            resource.mime_type = Some("video/mp4".to_string());
            resource.size = s.bytes;
            Some(ContentBlock::resource_link(resource))
        })
        .collect()
}

fn task_report(result: &TaskResult, waited: f64, cap: u64, capped: bool) -> TaskReport {
    let now = SystemTime::now();
    let videos = result
        .videos
        .iter()
        .map(|v| VideoReport {
            url: v.url.clone(),
            file_type: v.file_type.clone(),
            expires_at: v.expires_at.map(rfc3339),
            expires_in_seconds: v
                .expires_at
                .map(|t| t.duration_since(now).unwrap_or_default().as_secs()),
            saved_path: None,
        })
        .collect::<Vec<_>>();
    let capped_note = if capped {
        format!(" (wait_seconds is capped at {cap} per call)")
    } else {
        String::new()
    };
    let next_step = match result.status {
        TaskStatus::Succeeded if videos.is_empty() => "The task succeeded but the platform returned no video URL; try get_task_result again in a moment.".to_string(),
        TaskStatus::Succeeded => "Done. Download or share the video URLs before they expire (see expires_at).".to_string(),
        TaskStatus::Failed => "The task failed and was not completed; fix what the failure reason says before submitting a new request.".to_string(),
        _ => format!("Not finished yet{capped_note}. Call {RESULT_TOOL} again with the same task_id and wait_seconds {}; do not resubmit.", suggested_wait(cap)),
    };
    TaskReport {
        task_id: result.task_id.clone(),
        status: result.status,
        platform_status: result.raw_status.clone(),
        done: result.status.is_terminal(),
        progress_percent: result.progress_percent,
        eta_seconds: result.eta_seconds,
        failure_reason: result
            .reason
            .clone()
            .filter(|_| result.status == TaskStatus::Failed),
        videos,
        waited_seconds: (waited * 10.0).round() / 10.0,
        next_step,
    }
}

/// The `wait_seconds` to suggest to a caller: the default, within the server's cap.
fn suggested_wait(cap: u64) -> u64 {
    cap.clamp(1, DEFAULT_WAIT_SECONDS)
}

fn report_text(report: &TaskReport) -> String {
    let mut text = format!("Task {}: {}", report.task_id, report.status.as_str());
    if let Some(p) = report.progress_percent.filter(|_| !report.done) {
        text.push_str(&format!(", {p}%"));
    }
    if let Some(eta) = report.eta_seconds.filter(|e| *e > 0 && !report.done) {
        text.push_str(&format!(", about {eta} s left"));
    }
    if let Some(reason) = &report.failure_reason {
        text.push_str(&format!(". Reason: {reason}"));
    }
    text.push('.');
    for (i, v) in report.videos.iter().enumerate() {
        text.push_str(&format!("\nVideo {}: {}", i + 1, v.url));
        if let Some(at) = &v.expires_at {
            text.push_str(&format!(" (expires {at})"));
        }
    }
    text.push('\n');
    text.push_str(&report.next_step);
    text
}

fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn structured(value: &impl Serialize, text: String) -> CallToolResult {
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = Some(serde_json::to_value(value).unwrap_or(Value::Null));
    result
}

/// A tool error with this exact text, marked with its [`error_kind`] in `_meta`.
fn text_error(kind: &'static str, text: String) -> CallToolResult {
    let mut result = CallToolResult::error(vec![ContentBlock::text(text)]);
    let mut meta = rmcp::model::MetaObject::new();
    meta.0.insert(ERROR_KIND_META.into(), json!(kind));
    result.meta = Some(meta);
    result
}

/// The class of a tool error, as put in the result's `_meta` under [`ERROR_KIND_META`]:
/// `invalid_input`, `missing_api_key`, `auth`, `rate_limited`, `not_found`, `upstream`,
/// `submit_outcome_unknown`, `network`, `timeout`, `bad_response`, `link_expired`,
/// `local_file`, `cancelled`, `journal` (the task journal could not be used) or
/// `submit_in_progress` (an identical request is being sent right now).
pub fn error_kind(error: &Error) -> &'static str {
    match error {
        Error::InvalidInput(_) => "invalid_input",
        Error::MissingApiKey => "missing_api_key",
        Error::Auth { .. } => "auth",
        Error::RateLimited { .. } => "rate_limited",
        Error::NotFound { .. } => "not_found",
        Error::Upstream { .. } => "upstream",
        Error::SubmitOutcomeUnknown { .. } => "submit_outcome_unknown",
        Error::Network { .. } => "network",
        Error::Timeout(_) => "timeout",
        Error::BadResponse { .. } => "bad_response",
        Error::LinkExpired { .. } => "link_expired",
        Error::LocalFile { .. } => "local_file",
        Error::Cancelled => "cancelled",
    }
}

/// A tool error the model can read and act on.
fn tool_error(error: &Error) -> CallToolResult {
    let advice = match error {
        Error::InvalidInput(_) => {
            "Fix the fields above and call again. Nothing was sent and nothing was charged."
        }
        Error::MissingApiKey => {
            "Ask the user to set JIEKOU_API_KEY in this MCP server's environment (the host's server configuration) and restart it. Nothing was sent."
        }
        Error::Auth { .. } => {
            "The API key is wrong, expired or lacks access: ask the user to check JIEKOU_API_KEY. Retrying will not help."
        }
        Error::RateLimited { .. } => "Wait a little and call again.",
        Error::NotFound { .. } => "Use the exact task_id returned by generate_transition_video.",
        Error::SubmitOutcomeUnknown { .. } => {
            "Tell the user the outcome is unknown. list_tasks shows this submit as outcome_unknown; an identical call is refused while it is in doubt (allow_duplicate: true overrides that, at the risk of paying twice)."
        }
        Error::Network {
            may_have_reached_server: false,
            ..
        } => "Nothing was charged. Check the network or JIEKOU_BASE_URL, then call again.",
        Error::Network { .. } | Error::Timeout(_) => {
            "Call again in a moment; the request may need to be checked with get_task_result if it was a submit."
        }
        Error::Upstream { status, .. } if *status >= 500 => {
            "The platform is having trouble; try again in a minute."
        }
        Error::Upstream { .. } => {
            "The platform rejected the request; change what its message says before trying again."
        }
        Error::BadResponse { .. } => "The platform answered unexpectedly; try again in a minute.",
        Error::LinkExpired { .. } => {
            "Call get_task_result again for fresh links; the saved copy (if any) is listed by list_tasks."
        }
        Error::LocalFile { .. } => {
            "Check that the output directory exists and is writable (VEO_OUTPUT_DIR)."
        }
        Error::Cancelled => "The call was cancelled.",
    };
    tracing::debug!(error = %error, "tool error");
    text_error(error_kind(error), format!("Error: {error}\n{advice}"))
}

fn output_schema<T: JsonSchema>() -> Arc<JsonObject> {
    Arc::new(host_friendly_schema::<T>())
}

fn tool_definitions(config: &Config) -> Vec<Tool> {
    let max_wait = config.max_wait.as_secs();
    let generate_description = format!(
        "Generate a short video (4-8 s) that transitions from a first frame to a last frame, guided by a prompt (Google Veo 3.1 via JieKou AI). \
Frames can be http(s) URLs, local file paths on the server's machine, data: URLs, or Base64 (JPEG or PNG, at most 20 MB each; ideally the same aspect ratio as the video). \
Costs money per video: call it once per video the user wants, never as a retry. It returns a task_id immediately; generation then takes from under a minute to several minutes. \
Next, call {RESULT_TOOL} with the task_id and wait_seconds (up to {max_wait}) until it reports done. \
Repeating an identical request (same frames, prompt and parameters) within {} s returns the earlier task (deduplicated: true) instead of paying again; set allow_duplicate: true only when the user really wants another video from the same input. Default model: {}.",
        config.dedup_window.as_secs(),
        config.default_model
    );
    let mut generate_schema = host_friendly_schema::<TransitionRequest>();
    if let Some(model) = generate_schema
        .get_mut("properties")
        .and_then(|p| p.get_mut("model"))
        .and_then(Value::as_object_mut)
    {
        model.insert("default".into(), json!(config.default_model));
    }
    if let Some(properties) = generate_schema
        .get_mut("properties")
        .and_then(Value::as_object_mut)
    {
        properties.insert(
            "allow_duplicate".into(),
            json!({
                "type": "boolean",
                "default": false,
                "description": "Submit even if an identical request was submitted recently (that pays for a second video). Leave false when retrying."
            }),
        );
    }
    let mut result_schema = host_friendly_schema::<TaskResultArgs>();
    if let Some(wait) = result_schema
        .get_mut("properties")
        .and_then(|p| p.get_mut("wait_seconds"))
        .and_then(Value::as_object_mut)
    {
        wait.insert("maximum".into(), json!(max_wait));
        wait.insert("default".into(), json!(DEFAULT_WAIT_SECONDS.min(max_wait)));
    }
    vec![
        Tool::new(GENERATE_TOOL, generate_description, Arc::new(generate_schema))
            .with_title("Generate transition video")
            .with_raw_output_schema(output_schema::<Submitted>())
            .with_annotations(
                ToolAnnotations::with_title("Generate transition video")
                    .read_only(false)
                    .destructive(false)
                    .idempotent(false)
                    .open_world(true),
            ),
        Tool::new(
            RESULT_TOOL,
            format!(
                "Check a video task started by {GENERATE_TOOL}, optionally waiting up to wait_seconds (0 = just look, at most {max_wait}) for it to finish, with progress notifications meanwhile. \
Returns the status (queued, processing, succeeded, failed), progress, eta, the failure reason, and each video's URL with its expiry time (links expire about an hour after generation). \
Safe to call repeatedly; it never submits anything or costs money."
            ),
            Arc::new(result_schema),
        )
        .with_title("Get video task result")
        .with_raw_output_schema(output_schema::<TaskReport>())
        .with_annotations(
            ToolAnnotations::with_title("Get video task result")
                .read_only(true)
                .destructive(false)
                .idempotent(true)
                .open_world(true),
        ),
        Tool::new(
            LIST_TOOL,
            String::from(
                "List recent video tasks from this server's journal, newest first, with status, prompt excerpt, creation time, video links and saved files. \
Use it to find a task_id that was lost, or to check a submit whose outcome was unknown before submitting again. Filter by status; it never contacts the platform or costs money.",
            ),
            Arc::new(host_friendly_schema::<ListTasksArgs>()),
        )
        .with_title("List video tasks")
        .with_raw_output_schema(output_schema::<TaskList>())
        .with_annotations(
            ToolAnnotations::with_title("List video tasks")
                .read_only(true)
                .destructive(false)
                .idempotent(true)
                .open_world(false),
        ),
    ]
}

impl ServerHandler for VeoServer {
    fn get_info(&self) -> ServerConfig {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(
                Implementation::new("veo", env!("CARGO_PKG_VERSION"))
                    .with_title("Veo transition videos"),
            )
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(self.shared.tools.clone()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let args = request.arguments.unwrap_or_default();
        let result = match request.name.as_ref() {
            GENERATE_TOOL => self.generate(args).await,
            RESULT_TOOL => self.task_result(args, context).await,
            LIST_TOOL => self.list_tasks(args).await,
            other => {
                return Err(McpError::invalid_params(
                    format!(
                        "unknown tool \"{other}\"; the tools are {GENERATE_TOOL}, {RESULT_TOOL} and {LIST_TOOL}"
                    ),
                    None,
                ));
            }
        };
        Ok(result.into())
    }
}
