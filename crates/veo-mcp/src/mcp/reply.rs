//! Tool results: a report as structured content plus its text, and the one conversion of an
//! [`AppError`] into a tool error an agent can read and act on.

use rmcp::model::{CallToolResult, ContentBlock, MetaObject};
use serde::Serialize;
use serde_json::{Value, json};
use veo_core::Error;

use crate::app::report::SavedVideo;
use crate::app::{AppError, TaskReport};
use crate::mcp::resources;

/// Key in a tool error's `_meta` naming its [`crate::app::ErrorClass`], so programs can tell invalid input
/// from auth, upstream and local failures without parsing text.
pub const ERROR_CLASS_META: &str = "veo/error";

/// A successful result: `value` as structured content, `text` as its first content block.
pub fn structured(value: &impl Serialize, text: String) -> CallToolResult {
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = Some(serde_json::to_value(value).unwrap_or(Value::Null));
    result
}

/// The result of `get_task_result` for `report`: the report as structured content and text,
/// and a `resource_link` for each saved video.
pub fn task_report(report: &TaskReport) -> CallToolResult {
    let mut reply = structured(report, report.text());
    reply
        .content
        .extend(resource_links(&report.task_id, &report.files));
    reply
}

/// An MCP `resource_link` for each saved video of `task_id`: its `veo://videos/…` resource,
/// which `resources/read` serves over stdio and HTTP alike (the path on the server's machine
/// is in the description, the text and `saved_path`).
pub fn resource_links(task_id: &str, videos: &[SavedVideo]) -> Vec<ContentBlock> {
    videos
        .iter()
        .map(|video| {
            let path = &video.file.path;
            let name = path.file_name().map_or_else(
                || format!("{task_id}-{}.mp4", video.n),
                |name| name.to_string_lossy().into_owned(),
            );
            let mut resource =
                rmcp::model::Resource::new(resources::video_uri(task_id, video.n), name)
                    .with_description(format!("Saved at {}", path.display()))
                    .with_mime_type(resources::MIME_TYPE);
            resource.size = video.file.bytes;
            ContentBlock::resource_link(resource)
        })
        .collect()
}

impl From<AppError> for CallToolResult {
    /// `Error: <what happened>` and what to do about it, marked `isError` and with its class in
    /// `_meta` under [`ERROR_CLASS_META`].
    fn from(error: AppError) -> CallToolResult {
        tracing::debug!(error = %error, "tool error");
        let what = match &error {
            AppError::Core(Error::NotFound { task_id }) => format!(
                "unknown task {task_id}: the platform has no such task (check the id; list_tasks shows recent ones)"
            ),
            other => other.to_string(),
        };
        let text = match advice(&error) {
            Some(advice) => format!("Error: {what}\n{advice}"),
            None => format!("Error: {what}"),
        };
        let mut result = CallToolResult::error(vec![ContentBlock::text(text)]);
        let mut meta = MetaObject::new();
        meta.0
            .insert(ERROR_CLASS_META.into(), json!(error.class().as_str()));
        result.meta = Some(meta);
        result
    }
}

/// What an agent should do about `error`.
fn advice(error: &AppError) -> Option<&'static str> {
    Some(match error {
        AppError::Invalid(_) => {
            "Fix the fields above and call again. Nothing was sent and nothing was charged."
        }
        AppError::Core(core) => core_advice(core),
        AppError::JournalWrite(_) => {
            "Check that the journal's directory is writable (VEO_JOURNAL)."
        }
        AppError::JournalRead(_) => return None,
        AppError::FrameUnreadable(_) => {
            "Make sure the frame files stay in place while the request is made, then call again."
        }
        AppError::SubmitInProgress { .. } => {
            "Call list_tasks in a minute to see its task_id, then get_task_result with it."
        }
        AppError::LimitReached(_) => {
            "Only the person who runs this server can raise the limit; an agent cannot. Tell the user the limit and when the next call fits, or ask for fewer samples or a shorter video."
        }
        AppError::Declined { .. } => {
            "Do not submit it again unless the user asks for it; a shorter video or fewer samples may not need confirmation."
        }
        AppError::ConfirmationPending { .. } => {
            "Ask the user to confirm, then call again with the same arguments and their answer."
        }
        AppError::ConfirmationUnavailable { .. } => {
            "This host cannot show the confirmation (it does not support MCP elicitation). Ask for a shorter video or fewer samples, or ask the person who runs this server to raise --confirm-above-seconds (VEO_CONFIRM_ABOVE_SECONDS)."
        }
        AppError::OutcomeInDoubt { .. } => {
            "The platform may have created that task. Wait a minute, check list_tasks, and tell the user before any retry; to submit anyway, call again with allow_duplicate: true."
        }
    })
}

fn core_advice(error: &Error) -> &'static str {
    match error {
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
    }
}
