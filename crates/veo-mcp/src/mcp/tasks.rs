//! MCP's Tasks extension (SEP-2663, `io.modelcontextprotocol/tasks`, protocol 2026-07-28):
//! a `generate_transition_video` call from a client that declared the extension answers with
//! a task handle; `tasks/get` reports it from the journal and the platform ([`App::look`]);
//! `tasks/cancel` and `tasks/update` are acknowledged as the extension requires.
//!
//! The task id is the platform's task id: it outlives a restart of this server (the journal
//! keeps every submit, so `ttlMs` is `null`), identical requests within the dedup window get
//! the same task, and `get_task_result` works with it too. A finished task's `result` is
//! exactly what `get_task_result` answers; a failed generation is a `completed` task whose
//! result has `isError: true` (the extension keeps `failed` for JSON-RPC errors). The
//! platform cannot cancel a generation, which is paid once submitted: `tasks/cancel` is
//! acknowledged, the generation goes on and its videos are still saved, and the task ends
//! `completed`. Tasks carry no progress notifications (the extension does not support them on
//! tasks); `statusMessage` says how far along the video is.

use std::time::{Duration, SystemTime};

use rmcp::model::{
    CallToolResult, ClientCapabilities, CreateTaskResult, DetailedTask, GetTaskResult, JsonObject,
    MetaObject, ProtocolVersion, Task, TaskPayload, TaskStatus,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer};
use serde_json::Value;

use super::reply;
use crate::app::error::rfc3339;
use crate::app::{App, AppError, Submitted, TaskState};

/// Key in a task handle's `_meta` holding the submit's structured result (parameters, frames,
/// warnings, estimated cost, whether it was deduplicated).
pub const SUBMITTED_META: &str = "veo/submitted";

/// Whether the request in `context` may be answered with a task: the client declared the
/// extension on a protocol version that has it (2026-07-28 on; the extension does not apply
/// to earlier versions).
pub fn client_wants_tasks(context: &RequestContext<RoleServer>) -> bool {
    let modern = context
        .protocol_version()
        .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
    modern
        && context
            .client_capabilities()
            .is_some_and(|c| c.supports_tasks())
}

/// Refuses a `tasks/*` request from a client that may not use tasks (see
/// [`client_wants_tasks`]): rmcp lets through a session client that declared the extension at
/// `initialize`, but on those protocol versions the extension does not apply.
pub fn require_extension(context: &RequestContext<RoleServer>) -> Result<(), McpError> {
    if client_wants_tasks(context) {
        Ok(())
    } else {
        Err(McpError::missing_required_client_capability(
            ClientCapabilities::builder().enable_tasks().build(),
        ))
    }
}

/// The handle for a task just submitted (or found again by deduplication): `working`, to be
/// looked at after the watcher's first pause, with the submit's report in `_meta`.
pub async fn created(app: &App, submitted: &Submitted) -> CreateTaskResult {
    let now = SystemTime::now();
    let created_at = match app.journal().get(&submitted.task_id).await {
        Ok(Some(entry)) => entry.created_at,
        _ => now,
    };
    let message = if submitted.deduplicated {
        "an identical request was submitted recently: this is its task, nothing was paid again"
    } else {
        "submitted; queued on the platform"
    };
    let task = Task::new(
        submitted.task_id.clone(),
        TaskStatus::Working,
        rfc3339(created_at),
        rfc3339(now),
    )
    .with_status_message(message)
    .with_poll_interval_ms(millis(app.config().watch.first));
    let mut meta = MetaObject::new();
    if let Ok(mut value) = serde_json::to_value(submitted) {
        value["next_step"] = format!(
            "Poll tasks/get with taskId \"{}\" until it is completed (get_task_result works with the same id). Do not submit this request again: that would pay twice.",
            submitted.task_id
        )
        .into();
        meta.0.insert(SUBMITTED_META.into(), value);
    }
    CreateTaskResult::new(task).with_meta(meta)
}

/// `tasks/get`: where `task_id` stands. A task this server's journal does not know is an
/// invalid-params error, as the extension requires.
pub async fn get(app: &App, task_id: &str) -> Result<GetTaskResult, McpError> {
    let view = app
        .look(task_id)
        .await
        .map_err(|e| McpError::internal_error(e.to_string(), None))?
        .ok_or_else(|| unknown(task_id))?;
    let task = Task::new(
        task_id,
        TaskStatus::Working,
        rfc3339(view.created_at),
        rfc3339(view.updated_at.max(view.created_at)),
    );
    let detailed = match view.state {
        TaskState::Working {
            message,
            poll_after,
        } => DetailedTask::new(
            task.with_status_message(message)
                .with_poll_interval_ms(millis(poll_after)),
            TaskPayload::Working,
        ),
        TaskState::Done(outcome) => {
            let (message, result) = finished(outcome);
            DetailedTask::new(
                task.with_status_message(message),
                TaskPayload::Completed {
                    result: object(&result)?,
                },
            )
        }
    };
    Ok(GetTaskResult::new(detailed))
}

/// The status message and the result of a finished task: what `get_task_result` answers,
/// marked as an error when the generation failed.
fn finished(outcome: Result<crate::app::TaskReport, AppError>) -> (String, CallToolResult) {
    match outcome {
        Ok(report) => {
            let mut result = reply::task_report(&report);
            let succeeded = report.status == veo_core::TaskStatus::Succeeded;
            let message = match (&report.failure_reason, report.files.len()) {
                _ if !succeeded && report.failure_reason.is_none() => {
                    report.status.as_str().to_string()
                }
                (Some(reason), _) => format!("failed: {reason}"),
                (None, 0) => "succeeded".to_string(),
                (None, saved) => format!("succeeded; {saved} saved"),
            };
            if !succeeded {
                result.is_error = Some(true);
            }
            (message, result)
        }
        Err(error) => {
            let message = format!("failed: {error}");
            (message, CallToolResult::from(error))
        }
    }
}

/// `tasks/cancel` and `tasks/update`: acknowledged for a task the journal knows (nothing
/// changes: a paid generation cannot be stopped, and no task of this server waits for input);
/// an invalid-params error otherwise.
pub async fn acknowledge(app: &App, task_id: &str, what: &str) -> Result<(), McpError> {
    let known = app
        .knows(task_id)
        .await
        .map_err(|e| McpError::internal_error(e.to_string(), None))?;
    if !known {
        return Err(unknown(task_id));
    }
    tracing::info!(
        task_id,
        "{what} acknowledged; the generation goes on (the platform cannot stop it) and its videos are still saved"
    );
    Ok(())
}

/// The output schema of `generate_transition_video` for a client that may receive tasks: its
/// result is the submit's (`submitted`) or, from a finished task, `get_task_result`'s
/// (`report`). Every property of either; required, what both require; a property both have
/// keeps its allowed values only if both list them.
pub fn either_output_schema(submitted: &JsonObject, report: &JsonObject) -> JsonObject {
    let mut merged = submitted.clone();
    let props = |s: &JsonObject| {
        s.get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let mut properties = props(submitted);
    for (name, theirs) in props(report) {
        match properties.get_mut(&name).and_then(Value::as_object_mut) {
            Some(ours) => {
                let enums = (
                    ours.get("enum").and_then(Value::as_array).cloned(),
                    theirs.get("enum").and_then(Value::as_array).cloned(),
                );
                match enums {
                    (Some(mut a), Some(b)) => {
                        a.extend(b.into_iter().filter(|v| !a.contains(v)).collect::<Vec<_>>());
                        ours.insert("enum".into(), Value::Array(a));
                    }
                    _ => {
                        ours.remove("enum");
                    }
                }
            }
            None => {
                properties.insert(name, theirs);
            }
        }
    }
    let required = |s: &JsonObject| -> Vec<Value> {
        s.get("required")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let theirs = required(report);
    let both: Vec<Value> = required(submitted)
        .into_iter()
        .filter(|r| theirs.contains(r))
        .collect();
    merged.insert("properties".into(), Value::Object(properties));
    merged.insert("required".into(), Value::Array(both));
    merged.remove("additionalProperties");
    merged
}

fn unknown(task_id: &str) -> McpError {
    McpError::invalid_params(
        format!(
            "Failed to retrieve task: no task \"{}\" in this server's journal",
            task_id.chars().take(80).collect::<String>()
        ),
        None,
    )
}

fn object(result: &CallToolResult) -> Result<JsonObject, McpError> {
    match serde_json::to_value(result) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(McpError::internal_error(
            "the task's result could not be serialized",
            None,
        )),
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj(value: Value) -> JsonObject {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn either_schema_admits_both_results() {
        let submitted = obj(json!({
            "type": "object",
            "properties": {"task_id": {"type": "string"}, "status": {"type": "string"},
                           "deduplicated": {"type": "boolean"}},
            "required": ["task_id", "status", "deduplicated"],
        }));
        let report = obj(json!({
            "type": "object",
            "properties": {"task_id": {"type": "string"},
                           "status": {"type": "string", "enum": ["queued", "failed"]},
                           "done": {"type": "boolean"}},
            "required": ["task_id", "status", "done"],
        }));
        let merged = either_output_schema(&submitted, &report);
        assert_eq!(merged["required"], json!(["task_id", "status"]));
        let properties = merged["properties"].as_object().unwrap();
        assert!(properties.contains_key("deduplicated") && properties.contains_key("done"));
        assert!(
            properties["status"].get("enum").is_none(),
            "\"submitted\" must stay allowed"
        );
    }

    #[test]
    fn enums_both_sides_list_are_joined() {
        let a = obj(json!({"properties": {"s": {"type": "string", "enum": ["a"]}}}));
        let b = obj(json!({"properties": {"s": {"type": "string", "enum": ["b", "a"]}}}));
        let merged = either_output_schema(&a, &b);
        assert_eq!(merged["properties"]["s"]["enum"], json!(["a", "b"]));
    }

    #[test]
    fn a_failed_generation_is_a_tool_error_and_says_why() {
        let result = veo_core::TaskResult::from_json(
            &json!({"task": {"task_id": "t1", "status": "TASK_STATUS_FAILED", "reason": "blocked"}}),
            "t1",
            SystemTime::now(),
        );
        let report = crate::app::TaskReport::from_result(&result, 0.0, 50, false);
        let (message, reply) = finished(Ok(report));
        assert_eq!(reply.is_error, Some(true));
        assert_eq!(message, "failed: blocked");
        let (_, reply) = finished(Err(AppError::Core(veo_core::Error::NotFound {
            task_id: "t2".into(),
        })));
        assert_eq!(reply.is_error, Some(true));
    }
}
