//! Task results: the platform's loosely typed answer, read tolerantly into a normalized form.
//!
//! Real responses mix numbers and strings for the same kind of field (`"3600"` vs `3600`), omit
//! fields or leave them empty, and may add new ones. [`TaskResult::from_json`] accepts all of that;
//! an unknown status is kept as [`TaskStatus::Unknown`] with its raw text, never a crash.

use std::time::{Duration, SystemTime};

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Number, Value};

mod reply;

/// Where a task is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Waiting to start.
    Queued,
    /// Being generated.
    Processing,
    /// Finished; the videos are ready.
    Succeeded,
    /// Finished without a video; see the reason.
    Failed,
    /// A status this client does not know; see the raw status.
    Unknown,
}

impl TaskStatus {
    /// Normalizes the platform's status text (`TASK_STATUS_SUCCEED`, …).
    pub fn from_platform(raw: &str) -> TaskStatus {
        let upper = raw.trim().to_ascii_uppercase();
        match upper.strip_prefix("TASK_STATUS_").unwrap_or(&upper) {
            "QUEUED" | "QUEUEING" | "PENDING" | "WAITING" | "SUBMITTED" => TaskStatus::Queued,
            "PROCESSING" | "RUNNING" | "IN_PROGRESS" | "GENERATING" => TaskStatus::Processing,
            "SUCCEED" | "SUCCEEDED" | "SUCCESS" | "COMPLETED" | "DONE" => TaskStatus::Succeeded,
            "FAILED" | "FAIL" | "FAILURE" | "ERROR" | "CANCELED" | "CANCELLED" => {
                TaskStatus::Failed
            }
            _ => TaskStatus::Unknown,
        }
    }

    /// Whether the task will not change any more.
    pub fn is_terminal(self) -> bool {
        matches!(self, TaskStatus::Succeeded | TaskStatus::Failed)
    }

    /// The lowercase name used in tool results.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Queued => "queued",
            TaskStatus::Processing => "processing",
            TaskStatus::Succeeded => "succeeded",
            TaskStatus::Failed => "failed",
            TaskStatus::Unknown => "unknown",
        }
    }
}

/// One generated file (video, image or audio) behind a signed, expiring URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaFile {
    /// Signed download URL.
    pub url: String,
    /// File type as the platform names it (`mp4`, `png`, `wav`), if given.
    pub file_type: Option<String>,
    /// Lifetime of the URL in seconds, as given.
    pub ttl_seconds: Option<u64>,
    /// When the URL stops working: the time the result was fetched plus the TTL.
    pub expires_at: Option<SystemTime>,
}

/// The state of a task as the platform reported it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskResult {
    /// The task's id (as asked for, if the response omits it).
    pub task_id: String,
    /// Normalized status.
    pub status: TaskStatus,
    /// Status text exactly as the platform sent it.
    pub raw_status: String,
    /// Why the task failed, when it did.
    pub reason: Option<String>,
    /// Estimated seconds until done.
    pub eta_seconds: Option<u64>,
    /// Progress from 0 to 100.
    pub progress_percent: Option<u8>,
    /// Generated videos, one per sample.
    pub videos: Vec<MediaFile>,
    /// Generated images, if any.
    pub images: Vec<MediaFile>,
    /// Generated audio tracks, if any.
    pub audios: Vec<MediaFile>,
    /// The seed the platform used, if it said.
    pub seed: Option<u64>,
    /// When this result was received.
    pub fetched_at: SystemTime,
}

impl TaskResult {
    /// Reads a task-result response from its bytes, received at `fetched_at`, as
    /// [`TaskResult::from_json`] reads it, or says why the bytes are not a JSON object.
    pub fn from_slice(
        bytes: &[u8],
        task_id: &str,
        fetched_at: SystemTime,
    ) -> Result<TaskResult, UnreadableReply> {
        if let Some(result) = reply::read(bytes, task_id, fetched_at) {
            return Ok(result);
        }
        let body: Value = serde_json::from_slice(bytes).map_err(UnreadableReply::NotJson)?;
        if !body.is_object() {
            return Err(UnreadableReply::NotAnObject);
        }
        Ok(TaskResult::from_json(&body, task_id, fetched_at))
    }

    /// Reads a task-result response received at `fetched_at`, tolerating sloppy typing.
    ///
    /// `task_id` fills in for a response that does not repeat it.
    pub fn from_json(body: &Value, task_id: &str, fetched_at: SystemTime) -> TaskResult {
        let task = body.get("task").unwrap_or(&Value::Null);
        let files = |list: &str, prefix: &str| -> Vec<MediaFile> {
            body.get(list)
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|item| {
                            let url = item.get(format!("{prefix}_url")).and_then(lenient_string)?;
                            Some(MediaFile::fetched(
                                url,
                                item.get(format!("{prefix}_type")).and_then(lenient_string),
                                item.get(format!("{prefix}_url_ttl")).and_then(lenient_u64),
                                fetched_at,
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        Fields {
            task_id: task.get("task_id").and_then(lenient_string),
            raw_status: task.get("status").and_then(lenient_string),
            reason: task.get("reason").and_then(lenient_string),
            eta_seconds: task.get("eta").and_then(lenient_u64),
            progress_percent: task.get("progress_percent").and_then(lenient_u64),
            videos: files("videos", "video"),
            images: files("images", "image"),
            audios: files("audios", "audio"),
            seed: body
                .get("extra")
                .and_then(|e| e.get("seed"))
                .and_then(lenient_u64),
        }
        .into_result(task_id, fetched_at)
    }
}

/// Why a task-result reply gives no result.
#[derive(Debug)]
pub enum UnreadableReply {
    /// The bytes are not JSON; the parser's reason.
    NotJson(serde_json::Error),
    /// JSON, but not an object.
    NotAnObject,
}

impl MediaFile {
    /// A file at `url` fetched at `fetched_at`, whose link lasts `ttl_seconds` (0: not said).
    fn fetched(
        url: String,
        file_type: Option<String>,
        ttl_seconds: Option<u64>,
        fetched_at: SystemTime,
    ) -> MediaFile {
        let ttl_seconds = ttl_seconds.filter(|t| *t > 0);
        MediaFile {
            url,
            file_type,
            ttl_seconds,
            expires_at: ttl_seconds.map(|t| fetched_at + Duration::from_secs(t)),
        }
    }
}

/// What a reply says, each field read tolerantly; both readings (`from_json` and
/// `reply::read`) fill it in, and [`Fields::into_result`] makes the [`TaskResult`].
struct Fields {
    task_id: Option<String>,
    raw_status: Option<String>,
    reason: Option<String>,
    eta_seconds: Option<u64>,
    progress_percent: Option<u64>,
    videos: Vec<MediaFile>,
    images: Vec<MediaFile>,
    audios: Vec<MediaFile>,
    seed: Option<u64>,
}

impl Fields {
    /// The result, with `asked` as the id of a reply that does not repeat it.
    fn into_result(self, asked: &str, fetched_at: SystemTime) -> TaskResult {
        let raw_status = self.raw_status.unwrap_or_default();
        TaskResult {
            task_id: self.task_id.unwrap_or_else(|| asked.to_string()),
            status: TaskStatus::from_platform(&raw_status),
            raw_status,
            reason: self.reason,
            eta_seconds: self.eta_seconds,
            progress_percent: self.progress_percent.map(|p| p.min(100) as u8),
            videos: self.videos,
            images: self.images,
            audios: self.audios,
            seed: self.seed,
            fetched_at,
        }
    }
}

/// A non-empty string from a string or a number.
fn lenient_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => lenient_text(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The text as given, unless it is empty or white space only.
fn lenient_text(s: &str) -> Option<String> {
    (!s.trim().is_empty()).then(|| s.to_string())
}

/// A non-negative integer from a number or a numeric string (fractions are rounded).
fn lenient_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => lenient_number_u64(n),
        Value::String(s) => lenient_str_u64(s),
        _ => None,
    }
}

/// A non-negative integer from a JSON number (fractions are rounded).
fn lenient_number_u64(n: &Number) -> Option<u64> {
    n.as_u64().or_else(|| {
        n.as_f64()
            .filter(|f| *f >= 0.0 && f.is_finite())
            .map(|f| f.round() as u64)
    })
}

/// A non-negative integer from a numeric string (fractions are rounded).
fn lenient_str_u64(s: &str) -> Option<u64> {
    let s = s.trim();
    s.parse::<u64>().ok().or_else(|| {
        s.parse::<f64>()
            .ok()
            .filter(|f| *f >= 0.0 && f.is_finite())
            .map(|f| f.round() as u64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    #[test]
    fn reads_the_documented_example() {
        let body = json!({
            "extra": {"seed": "123", "debug_info": {"submit_time_ms": "1710000000000"}},
            "task": {"task_id": "t1", "task_type": "x", "status": "TASK_STATUS_SUCCEED", "reason": "", "eta": 0, "progress_percent": 100},
            "images": [{"image_url": "https://i", "image_url_ttl": 3600, "image_type": "png"}],
            "videos": [{"video_url": "https://v", "video_url_ttl": "3600", "video_type": "mp4"}],
            "audios": [{"audio_url": "https://a", "audio_url_ttl": "3600", "audio_type": "wav", "audio_metadata": {"text": "hi", "start_time": 0, "end_time": 5}}]
        });
        let r = TaskResult::from_json(&body, "asked", at());
        assert_eq!(r.task_id, "t1");
        assert_eq!(r.status, TaskStatus::Succeeded);
        assert_eq!(r.raw_status, "TASK_STATUS_SUCCEED");
        assert_eq!(r.reason, None, "an empty reason is no reason");
        assert_eq!(r.progress_percent, Some(100));
        assert_eq!(r.seed, Some(123));
        assert_eq!(r.videos.len(), 1);
        assert_eq!(r.videos[0].ttl_seconds, Some(3600));
        assert_eq!(
            r.videos[0].expires_at,
            Some(at() + Duration::from_secs(3600))
        );
        assert_eq!(r.videos[0].file_type.as_deref(), Some("mp4"));
        assert_eq!(r.images[0].ttl_seconds, Some(3600));
        assert_eq!(r.audios[0].url, "https://a");
    }

    #[test]
    fn numbers_and_strings_are_interchangeable() {
        let body = json!({
            "extra": {"seed": 77},
            "task": {"status": "TASK_STATUS_PROCESSING", "eta": "42", "progress_percent": "37.6"},
            "videos": [{"video_url": "https://v", "video_url_ttl": 600}]
        });
        let r = TaskResult::from_json(&body, "asked", at());
        assert_eq!(r.task_id, "asked");
        assert_eq!(r.status, TaskStatus::Processing);
        assert_eq!(r.eta_seconds, Some(42));
        assert_eq!(r.progress_percent, Some(38));
        assert_eq!(r.seed, Some(77));
        assert_eq!(r.videos[0].ttl_seconds, Some(600));
    }

    #[test]
    fn missing_empty_and_unknown_fields_are_tolerated() {
        let r = TaskResult::from_json(&json!({}), "t", at());
        assert_eq!(r.status, TaskStatus::Unknown);
        assert!(r.videos.is_empty());
        let body = json!({
            "task": {"status": "TASK_STATUS_PAUSED", "eta": null, "progress_percent": "n/a", "new_field": [1]},
            "videos": [{"video_url": ""}, {"video_url_ttl": "3600"}, {"video_url": "https://ok"}],
            "images": null,
            "surprise": {"a": 1}
        });
        let r = TaskResult::from_json(&body, "t", at());
        assert_eq!(r.status, TaskStatus::Unknown);
        assert_eq!(r.raw_status, "TASK_STATUS_PAUSED");
        assert_eq!(r.eta_seconds, None);
        assert_eq!(r.progress_percent, None);
        assert_eq!(r.videos.len(), 1, "entries without a URL are skipped");
        assert_eq!(r.videos[0].expires_at, None, "no TTL, no expiry time");
    }

    #[test]
    fn statuses_normalize() {
        assert_eq!(
            TaskStatus::from_platform("TASK_STATUS_QUEUED"),
            TaskStatus::Queued
        );
        assert_eq!(
            TaskStatus::from_platform("task_status_failed"),
            TaskStatus::Failed
        );
        assert_eq!(
            TaskStatus::from_platform("SUCCEEDED"),
            TaskStatus::Succeeded
        );
        assert!(TaskStatus::Failed.is_terminal());
        assert!(!TaskStatus::Unknown.is_terminal());
    }

    #[test]
    fn failure_reason_is_kept() {
        let body = json!({"task": {"status": "TASK_STATUS_FAILED", "reason": "content policy"}});
        let r = TaskResult::from_json(&body, "t", at());
        assert_eq!(r.status, TaskStatus::Failed);
        assert_eq!(r.reason.as_deref(), Some("content policy"));
    }
}
