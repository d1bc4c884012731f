//! What the operations return: typed reports that are, as JSON, exactly the tools' structured
//! results (and `--json` on the command line), with the short texts that go with them.
//!
//! The texts speak to agents in the names of the operations they call ([`GENERATE_TOOL`],
//! [`RESULT_TOOL`], [`LIST_TOOL`]): those names are the product's vocabulary.

use std::path::PathBuf;
use std::time::SystemTime;

use schemars::JsonSchema;
use serde::Serialize;
use veo_core::{
    ClosedSet as _, EffectiveParameters, ImageFormat, Model, PreparedRequest, TaskResult,
    TaskStatus,
};

use super::error::rfc3339;
use crate::journal::TaskEntry;
use crate::links::VideoLinks;
use crate::saver::SavedFile;
use crate::spend::SpendLimits;

/// Name of the submit operation (the `generate_transition_video` tool).
pub const GENERATE_TOOL: &str = "generate_transition_video";
/// Name of the result operation (the `get_task_result` tool).
pub const RESULT_TOOL: &str = "get_task_result";
/// Name of the journal operation (the `list_tasks` tool).
pub const LIST_TOOL: &str = "list_tasks";

/// `wait_seconds` used when a caller gives none.
pub const DEFAULT_WAIT_SECONDS: u64 = 30;

/// The `wait_seconds` to suggest to a caller: the default, within the server's cap.
pub fn suggested_wait(cap: u64) -> u64 {
    cap.clamp(1, DEFAULT_WAIT_SECONDS)
}

/// A task's state in a few words: `processing, 40%, about 50 s left` (an eta of 0 is left out).
pub fn status_phrase(status: TaskStatus, progress: Option<u8>, eta_seconds: Option<u64>) -> String {
    let mut phrase = status.as_str().to_string();
    if let Some(p) = progress {
        phrase.push_str(&format!(", {p}%"));
    }
    if let Some(eta) = eta_seconds.filter(|e| *e > 0) {
        phrase.push_str(&format!(", about {eta} s left"));
    }
    phrase
}

/// What a submit returns.
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
    /// Seconds of video this task makes (duration_seconds × sample_count), what it is paid by.
    pub video_seconds: u64,
    /// Estimated cost, when the server knows the model's price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_cost: Option<f64>,
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

impl Submitted {
    /// The report of a submit of `prepared` that has (or, deduplicated, already had) `task_id`;
    /// `cap` is the longest wait one result call may ask for; `estimated_cost` its price, if known.
    pub fn new(
        prepared: &PreparedRequest,
        task_id: String,
        deduplicated: bool,
        cap: u64,
        estimated_cost: Option<f64>,
    ) -> Submitted {
        let parameters = EffectiveParameters::from(&prepared.request);
        let frames = [
            ("image", &prepared.first_frame),
            ("last_image", &prepared.last_frame),
        ]
        .into_iter()
        .map(|(field, frame)| FrameSummary {
            field: field.to_string(),
            source: frame.payload.kind().to_string(),
            format: frame.format,
            width: frame.dimensions.map(|d| d.0),
            height: frame.dimensions.map(|d| d.1),
            bytes: frame.payload.byte_len(),
        })
        .collect();
        Submitted {
            status: "submitted".into(),
            deduplicated,
            model: prepared.request.model,
            video_seconds: parameters.video_seconds(),
            estimated_cost,
            parameters,
            frames,
            warnings: prepared.warnings.clone(),
            next_step: format!(
                "Generation takes from under a minute to several minutes. Call {RESULT_TOOL} with task_id \"{task_id}\" and wait_seconds {} until done is true. Do not submit this request again: that would pay twice.",
                suggested_wait(cap)
            ),
            task_id,
        }
    }

    /// One line: what was submitted (or found already submitted).
    pub fn summary(&self) -> String {
        let p = &self.parameters;
        format!(
            "{} task {} ({}, {} video{}, {} s, {}, {}).",
            if self.deduplicated {
                "This identical request was already submitted recently, so nothing was paid again; returning"
            } else {
                "Submitted"
            },
            self.task_id,
            self.model,
            p.sample_count,
            if p.sample_count == 1 { "" } else { "s" },
            p.duration_seconds.seconds(),
            p.resolution.as_str(),
            match self.estimated_cost {
                Some(cost) => format!("{}; estimated cost {cost:.2}", p.aspect_ratio.as_str()),
                None => p.aspect_ratio.as_str().to_string(),
            },
        )
    }

    /// The summary, the warnings and the next step, for an agent.
    pub fn text(&self) -> String {
        let mut text = self.summary();
        for w in &self.warnings {
            text.push_str(&format!("\nWarning: {w}."));
        }
        if self.deduplicated {
            text.push_str("\nTo really generate another video from the same input, call again with allow_duplicate: true.");
        }
        text.push('\n');
        text.push_str(&self.next_step);
        text
    }
}

/// What a result call returns.
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
    /// The videos saved (or found saved) during this call, for links to them.
    #[serde(skip)]
    #[schemars(skip)]
    pub files: Vec<SavedVideo>,
}

/// A video of a report that is saved on disk.
#[derive(Clone, Debug)]
pub struct SavedVideo {
    /// Which video of the task it is, from 1.
    pub n: u32,
    /// Where it is saved.
    pub file: SavedFile,
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
    /// A link to the saved video served by this server, valid until link_expires_at (long
    /// after url expires); present when the server has a public URL and the video is saved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// When link expires (RFC 3339, UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_expires_at: Option<String>,
}

impl VideoReport {
    fn new(
        url: &str,
        file_type: Option<String>,
        expires_at: Option<SystemTime>,
        saved: Option<&PathBuf>,
    ) -> VideoReport {
        VideoReport {
            url: url.to_string(),
            file_type,
            expires_at: expires_at.map(rfc3339),
            expires_in_seconds: expires_at.map(|t| {
                t.duration_since(SystemTime::now())
                    .unwrap_or_default()
                    .as_secs()
            }),
            saved_path: saved.map(|p| p.display().to_string()),
            link: None,
            link_expires_at: None,
        }
    }
}

/// Puts a signed link into each saved video of `videos` (of `task_id`), when `links` is set.
pub fn add_links(videos: &mut [VideoReport], task_id: &str, links: Option<&VideoLinks>) {
    let Some(links) = links else { return };
    let now = SystemTime::now();
    for (index, video) in videos.iter_mut().enumerate() {
        let n = u32::try_from(index + 1).unwrap_or(u32::MAX);
        if video.saved_path.is_some() {
            let (link, expires) = links.link(task_id, n, now);
            video.link = Some(link);
            video.link_expires_at = Some(rfc3339(expires));
        } else {
            video.link = None;
            video.link_expires_at = None;
        }
    }
}

impl TaskReport {
    /// The report of `result` as just fetched, after `waited` seconds; `cap` is the longest
    /// wait one call may ask for and `capped` says whether this call asked for more.
    pub fn from_result(result: &TaskResult, waited: f64, cap: u64, capped: bool) -> TaskReport {
        let videos: Vec<VideoReport> = result
            .videos
            .iter()
            .map(|v| VideoReport::new(&v.url, v.file_type.clone(), v.expires_at, None))
            .collect();
        let next_step = next_step_after(result.status, !videos.is_empty(), cap, capped);
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
            files: Vec::new(),
        }
    }

    /// The report of a task that finished for good, from its journal entry alone (see
    /// [`crate::app::App::result`]): the same fields as from the platform, the saved files
    /// included.
    pub fn finished(entry: &TaskEntry, task_id: &str, cap: u64, capped: bool) -> TaskReport {
        let status = entry.status.unwrap_or(TaskStatus::Unknown);
        let files = entry
            .videos
            .iter()
            .map(|v| {
                v.path.clone().map(|path| SavedFile {
                    path,
                    bytes: v.bytes,
                })
            })
            .collect();
        let report = TaskReport {
            task_id: task_id.to_string(),
            status,
            // The platform's own name for the final states (the journal keeps them normalized).
            platform_status: match status {
                TaskStatus::Succeeded => "TASK_STATUS_SUCCEED".to_string(),
                TaskStatus::Failed => "TASK_STATUS_FAILED".to_string(),
                other => other.as_str().to_string(),
            },
            done: true,
            progress_percent: entry.progress_percent,
            eta_seconds: None,
            failure_reason: entry
                .failure_reason
                .clone()
                .filter(|_| status == TaskStatus::Failed),
            videos: entry_videos(entry),
            waited_seconds: 0.0,
            next_step: next_step_after(status, !entry.videos.is_empty(), cap, capped),
            files: Vec::new(),
        };
        if status == TaskStatus::Succeeded {
            report.with_saved(files, None)
        } else {
            report
        }
    }

    /// The report from the journal when the platform could not be asked (`why`).
    pub fn from_journal(entry: &TaskEntry, task_id: &str, why: &str) -> TaskReport {
        let status = entry.status.unwrap_or(TaskStatus::Unknown);
        TaskReport {
            task_id: task_id.to_string(),
            status,
            platform_status: status.as_str().to_string(),
            done: true,
            progress_percent: entry.progress_percent,
            eta_seconds: None,
            failure_reason: entry
                .failure_reason
                .clone()
                .filter(|_| status == TaskStatus::Failed),
            videos: entry_videos(entry),
            waited_seconds: 0.0,
            next_step: format!(
                "From the local task journal, because the platform could not be asked ({why})."
            ),
            files: Vec::new(),
        }
    }

    /// Puts where each video was saved into the report, with the matching next step.
    /// `files[i]` is video `i`'s file, or `None` if it is not saved; `note` says why not.
    pub fn with_saved(mut self, files: Vec<Option<SavedFile>>, note: Option<&str>) -> TaskReport {
        for (video, file) in self.videos.iter_mut().zip(&files) {
            video.saved_path = file.as_ref().map(|f| f.path.display().to_string());
        }
        if let Some(note) = note {
            self.next_step = format!("{note} {}", self.next_step);
        } else if self.videos.iter().any(|v| v.saved_path.is_some()) {
            self.next_step = "Done. The videos are saved at saved_path on the server's machine; the URLs expire at expires_at.".to_string();
        }
        self.files = files
            .into_iter()
            .zip(1u32..)
            .filter_map(|(file, n)| Some(SavedVideo { n, file: file? }))
            .collect();
        self
    }

    /// How many videos are not saved on disk.
    pub fn unsaved_videos(&self) -> usize {
        self.videos
            .iter()
            .filter(|v| v.saved_path.is_none())
            .count()
    }

    /// The status, progress, reason, links and next step, for an agent.
    pub fn text(&self) -> String {
        let mut text = if self.done {
            format!("Task {}: {}", self.task_id, self.status.as_str())
        } else {
            let phrase = status_phrase(self.status, self.progress_percent, self.eta_seconds);
            format!("Task {}: {phrase}", self.task_id)
        };
        if let Some(reason) = &self.failure_reason {
            text.push_str(&format!(". Reason: {reason}"));
        }
        text.push('.');
        for (i, v) in self.videos.iter().enumerate() {
            text.push_str(&format!("\nVideo {}: {}", i + 1, v.url));
            if let Some(at) = &v.expires_at {
                text.push_str(&format!(" (expires {at})"));
            }
            if let (Some(link), Some(at)) = (&v.link, &v.link_expires_at) {
                text.push_str(&format!("\n  Lasting link: {link} (until {at})"));
            }
        }
        text.push('\n');
        text.push_str(&self.next_step);
        text
    }
}

/// What a listing returns.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TaskList {
    /// Recent tasks, newest first.
    pub tasks: Vec<TaskSummary>,
    /// Where videos are saved, when saving is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_dir: Option<String>,
    /// Seconds of video submitted lately, and the limits.
    pub spend: SpendReport,
}

/// Seconds of video submitted in the current window, and the limits set on it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SpendReport {
    /// Seconds of video (duration × samples) of every submit in the last 24 hours that may have
    /// been paid.
    pub video_seconds_last_24h: u64,
    /// Most seconds of video per rolling 24 hours, when limited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_seconds_per_24h: Option<u64>,
    /// Most seconds of video per call, when limited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_seconds_per_call: Option<u64>,
    /// Calls above this many seconds of video need the person's confirmation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirm_above_seconds: Option<u64>,
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
    /// Seconds of video the task makes (duration × samples), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video_seconds: Option<u64>,
    /// Estimated cost, when the server knows the model's price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_cost: Option<f64>,
    /// The task's videos with their links and saved files.
    pub videos: Vec<VideoReport>,
    /// Why saving failed, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub save_error: Option<String>,
}

impl TaskSummary {
    /// The summary of `entry`, its cost estimated with `spend`'s prices.
    pub fn new(entry: &TaskEntry, spend: &SpendLimits) -> TaskSummary {
        TaskSummary {
            task_id: entry.task_id.clone(),
            submit_state: entry.submit_state.as_str().to_string(),
            status: entry.status,
            progress_percent: entry.progress_percent,
            model: entry
                .parameters
                .as_ref()
                .map(|p| p.model.to_string())
                .unwrap_or_default(),
            prompt: entry.prompt.chars().take(100).collect(),
            created_at: rfc3339(entry.created_at),
            detail: entry
                .failure_reason
                .clone()
                .or_else(|| entry.submit_error.clone()),
            video_seconds: entry.parameters.as_ref().map(|p| p.video_seconds()),
            estimated_cost: entry.parameters.as_ref().and_then(|p| spend.estimate(p)),
            videos: entry_videos(entry),
            save_error: entry.save_error.clone(),
        }
    }
}

impl TaskList {
    /// One line per task (with saved files and details), for agents and people.
    pub fn text(&self) -> String {
        let mut text = if self.tasks.is_empty() {
            "No tasks in the journal match.".to_string()
        } else {
            format!(
                "{} task{}, newest first:",
                self.tasks.len(),
                if self.tasks.len() == 1 { "" } else { "s" }
            )
        };
        for t in &self.tasks {
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
        let spend = &self.spend;
        text.push_str(&format!(
            "\nSpent in the last 24 hours: {} s of video",
            spend.video_seconds_last_24h
        ));
        if let Some(limit) = spend.limit_seconds_per_24h {
            text.push_str(&format!(" of the {limit} s allowed"));
        }
        text.push('.');
        text
    }
}

/// What to do after a look at a task in `status` (with `videos` or not); `cap` is the longest
/// wait one call may ask for and `capped` says whether this call asked for more.
fn next_step_after(status: TaskStatus, videos: bool, cap: u64, capped: bool) -> String {
    let capped_note = if capped {
        format!(" (wait_seconds is capped at {cap} per call)")
    } else {
        String::new()
    };
    match status {
        TaskStatus::Succeeded if !videos => format!("The task succeeded but the platform returned no video URL; try {RESULT_TOOL} again in a moment."),
        TaskStatus::Succeeded => "Done. Download or share the video URLs before they expire (see expires_at).".to_string(),
        TaskStatus::Failed => "The task failed and was not completed; fix what the failure reason says before submitting a new request.".to_string(),
        _ => format!("Not finished yet{capped_note}. Call {RESULT_TOOL} again with the same task_id and wait_seconds {}; do not resubmit.", suggested_wait(cap)),
    }
}

fn entry_videos(entry: &TaskEntry) -> Vec<VideoReport> {
    entry
        .videos
        .iter()
        .map(|v| {
            VideoReport::new(
                &v.url,
                Some("mp4".to_string()),
                v.expires_at,
                v.path.as_ref(),
            )
        })
        .collect()
}
