//! `/_mock/*`: counters, the tasks held, reset, and faults set at run time.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::{AppState, Reply};
use crate::faults::FaultRule;

pub(super) async fn admin_stats(State(s): AppState) -> Response {
    axum::Json(s.stats.snapshot(s.store.len())).into_response()
}

/// Every task held, oldest first: how a test finds the task behind a submit whose reply was
/// replaced by a fault.
pub(super) async fn admin_tasks(State(s): AppState) -> Response {
    axum::Json(json!({ "tasks": s.task_summaries() })).into_response()
}

pub(super) async fn admin_reset(State(s): AppState) -> Response {
    s.reset();
    axum::Json(json!({ "ok": true })).into_response()
}

pub(super) async fn admin_faults(State(s): AppState) -> Response {
    axum::Json(json!({ "rules": s.faults.rules() })).into_response()
}

/// Body of `POST /_mock/faults`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetFaults {
    rules: Vec<FaultRule>,
    #[serde(default)]
    mode: SetMode,
}

#[derive(Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum SetMode {
    #[default]
    Replace,
    Add,
}

pub(super) async fn admin_set_faults(State(s): AppState, body: Bytes) -> Response {
    let parsed: SetFaults = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            return Reply::api_error(
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST_BODY",
                &format!(
                    "expected {{\"rules\":[{{\"scope\":\"submit\",\"kind\":\"http_500\",\"next\":1}}],\"mode\":\"replace\"|\"add\"}}: {e}"
                ),
            )
            .response;
        }
    };
    if parsed.mode == SetMode::Add {
        s.faults.add(parsed.rules);
    } else {
        s.faults.set(parsed.rules, None);
    }
    axum::Json(json!({ "rules": s.faults.rules() })).into_response()
}

pub(super) async fn admin_clear_faults(State(s): AppState) -> Response {
    s.faults.set(Vec::new(), None);
    axum::Json(json!({ "rules": [] })).into_response()
}
