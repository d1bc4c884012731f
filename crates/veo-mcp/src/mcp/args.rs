//! Tool arguments, read from untrusted JSON with *every* problem reported at once (wrong types
//! and unknown fields included), so an agent can fix its call in one go. The value rules are
//! veo-core's.

use rmcp::model::JsonObject;
use schemars::JsonSchema;
use serde_json::Value;
use veo_core::{
    ClosedSet, ImagePolicy, InvalidInput, Model, PreparedRequest, Problem, parse_request_from,
    prepare,
};

use crate::journal::TaskFilter;

/// Arguments of `get_task_result` (for its schema; parsing is [`result_args`]).
#[derive(Debug, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
pub struct TaskResultArgs {
    /// The task_id returned by generate_transition_video.
    task_id: String,
    /// Seconds to wait for the task to finish before answering, 0 to just look. Default 30; at
    /// most the server's limit (50 by default), so a single call never outlives the host's
    /// timeout. Progress notifications are sent while waiting.
    #[schemars(range(min = 0, max = 600))]
    wait_seconds: Option<u32>,
}

/// Arguments of `list_tasks` (for its schema; parsing is [`list_args`]).
#[derive(Debug, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ListTasksArgs {
    /// Only tasks with this status (or submit state). Default: all.
    status: Option<TaskFilter>,
    /// How many tasks to return, newest first. Default 20.
    #[schemars(range(min = 1, max = 100))]
    limit: Option<u32>,
}

/// Default `limit` of `list_tasks`.
pub const DEFAULT_LIST_LIMIT: u32 = 20;

/// The `generate_transition_video` arguments, checked and prepared (frames loaded), with
/// `allow_duplicate`. A request that names no model gets `default_model`.
pub async fn generate_args(
    mut args: JsonObject,
    default_model: Model,
    policy: &ImagePolicy,
) -> Result<(PreparedRequest, bool), InvalidInput> {
    let mut problems = Vec::new();
    let allow_duplicate = match args.remove("allow_duplicate") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => b,
        Some(other) => {
            problems.push(Problem::new(
                "allow_duplicate",
                &other,
                "must be true or false",
            ));
            false
        }
    };
    let model_given = args.get("model").is_some_and(|v| !v.is_null());
    let prepared = match parse_request_from(&mut args) {
        Ok(mut request) => {
            if !model_given {
                request.model = default_model;
            }
            prepare(request, policy).await
        }
        // Prepares what it can, so problems with the frames are reported too.
        Err(_) => veo_core::prepare_json(&Value::Object(args), policy).await,
    };
    match prepared {
        Ok(prepared) if problems.is_empty() => Ok((prepared, allow_duplicate)),
        Ok(_) => Err(InvalidInput { problems }),
        Err(mut invalid) => {
            invalid.problems.append(&mut problems);
            Err(invalid)
        }
    }
}

/// The `get_task_result` arguments: the task id and the requested wait, if any.
pub fn result_args(args: &JsonObject) -> Result<(String, Option<u64>), InvalidInput> {
    let mut problems = unknown_fields(args, &["task_id", "wait_seconds"]);
    let task_id = match args.get("task_id") {
        Some(Value::String(s)) if veo_core::validate::is_task_id(s.trim()) => s.trim().to_string(),
        Some(Value::String(s)) => {
            problems.push(Problem::new(
                "task_id",
                format!("{s:?}"),
                "must be the task_id returned by generate_transition_video (letters, digits, '-', '_', '.', at most 200 characters)",
            ));
            String::new()
        }
        Some(other) => {
            problems.push(Problem::new("task_id", other, "must be a string"));
            String::new()
        }
        None => {
            problems.push(Problem::new(
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
                problems.push(Problem::new(
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
        Err(InvalidInput { problems })
    }
}

/// The `list_tasks` arguments: the filter, if any, and the limit.
pub fn list_args(args: &JsonObject) -> Result<(Option<TaskFilter>, u32), InvalidInput> {
    let mut problems = unknown_fields(args, &["status", "limit"]);
    let filter = match args.get("status") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_str().and_then(TaskFilter::from_name) {
            Some(filter) => Some(filter),
            None => {
                let names: Vec<&str> = TaskFilter::ALL.iter().map(|f| f.as_str()).collect();
                problems.push(Problem::new(
                    "status",
                    v,
                    format!("must be one of {}", names.join(", ")),
                ));
                None
            }
        },
    };
    let limit = match args.get("limit") {
        None | Some(Value::Null) => DEFAULT_LIST_LIMIT,
        Some(v) => match v
            .as_u64()
            .filter(|n| (1..=100).contains(n))
            .and_then(|n| u32::try_from(n).ok())
        {
            Some(n) => n,
            None => {
                problems.push(Problem::new(
                    "limit",
                    v,
                    "must be a whole number from 1 to 100",
                ));
                DEFAULT_LIST_LIMIT
            }
        },
    };
    if problems.is_empty() {
        Ok((filter, limit))
    } else {
        Err(InvalidInput { problems })
    }
}

/// A problem for each argument not in `known`.
fn unknown_fields(args: &JsonObject, known: &[&str]) -> Vec<Problem> {
    args.keys()
        .filter(|key| !known.contains(&key.as_str()))
        .map(|key| {
            Problem::new(
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
