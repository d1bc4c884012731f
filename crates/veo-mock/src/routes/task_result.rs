//! `GET /v3/async/task-result`: a task's state, in the platform's shape.

use std::borrow::Cow;

use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Serialize;
use serde_json::json;

use super::{AppState, Flavor, Reply, Shared, after, before, cut};
use crate::conn::ConnInfo;
use crate::faults::{Fault, Scope};
use crate::files;
use crate::stats::Endpoint;
use crate::tasks::{Ending, Phase, Task};

pub(super) async fn task_result(
    State(s): AppState,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let reply = task_result_inner(&s, &conn, query.as_deref(), &headers).await;
    reply.finish(&s.stats, Endpoint::TaskResult)
}

async fn task_result_inner(
    s: &Shared,
    conn: &ConnInfo,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Reply {
    let post = match before(s.pick_fault(Scope::Query), conn, Flavor::Api).await {
        Ok(post) => post,
        Err(reply) => return *reply,
    };
    if let Err(reply) = s.auth(headers) {
        return *reply;
    }
    let id = query
        .and_then(|q| files::query_param(q, "task_id"))
        .map(percent_decode)
        .unwrap_or_default();
    if id.is_empty() {
        return Reply::api_error_with(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST_PARAMS",
            "`task_id` is required",
            json!({ "fields": ["task_id"] }),
        );
    }
    let Some(task) = s.store.get(&id) else {
        return Reply::api_error(
            StatusCode::NOT_FOUND,
            "TASK_NOT_FOUND",
            &format!("task `{}` not found", shorten(&id)),
        );
    };
    let out = render_result(s, &task, s.clock.now_ms());
    let reply = if post == Some(Fault::MalformedJson) {
        Reply::json(cut(&out))
    } else {
        Reply::json(out)
    };
    after(post, conn, Flavor::Api, reply)
}

fn shorten(s: &str) -> &str {
    match s.char_indices().nth(80) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn percent_decode(raw: &str) -> Cow<'_, str> {
    if !raw.contains(['%', '+']) {
        return Cow::Borrowed(raw);
    }
    let hex = |c: Option<&u8>| c.and_then(|c| (*c as char).to_digit(16));
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
                (Some(h), Some(l)) => {
                    out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

#[derive(Serialize)]
struct ResultBody<'a> {
    extra: Extra<'a>,
    task: TaskView<'a>,
    images: &'static [()],
    videos: Vec<VideoView>,
    audios: &'static [()],
}

#[derive(Serialize)]
struct Extra<'a> {
    seed: &'a str,
    debug_info: DebugInfo<'a>,
}

#[derive(Serialize)]
struct DebugInfo<'a> {
    request_info: &'a str,
    submit_time_ms: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    execute_time_ms: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    complete_time_ms: Option<String>,
}

#[derive(Serialize)]
struct TaskView<'a> {
    task_id: &'a str,
    task_type: &'static str,
    status: &'static str,
    reason: &'a str,
    eta: u64,
    progress_percent: u8,
}

#[derive(Serialize)]
struct VideoView {
    video_url: String,
    video_url_ttl: String,
    video_type: &'static str,
}

/// The task-result body of `task` at `now_ms`.
fn render_result(s: &Shared, task: &Task, now_ms: u64) -> Vec<u8> {
    let phase = task.phase_at(now_ms);
    let status = phase.status_name();
    let (eta, progress) = match phase {
        Phase::Queued { eta_s } => (eta_s, 0),
        Phase::Processing { progress, eta_s } => (eta_s, progress),
        Phase::Succeed => (0, 100),
        Phase::Failed => (0, 0),
    };
    let reason = match (&task.ending, phase) {
        (Ending::Fail(r), Phase::Failed) => r.as_ref(),
        _ => "",
    };
    let videos = if phase == Phase::Succeed {
        let signed_at = if s.config.sign_links_at_completion {
            task.complete_ms()
        } else {
            now_ms
        };
        let expires = signed_at.saturating_add(task.ttl_ms);
        let ttl = task.ttl_ms.div_ceil(1000).to_string();
        (0..u32::from(task.sample_count))
            .map(|n| VideoView {
                video_url: s.signer.link(&s.base_url, &task.id, n, expires),
                video_url_ttl: ttl.clone(),
                video_type: "mp4",
            })
            .collect()
    } else {
        Vec::new()
    };
    let started = !matches!(phase, Phase::Queued { .. });
    let done = matches!(phase, Phase::Succeed | Phase::Failed);
    let body = ResultBody {
        extra: Extra {
            seed: &task.seed,
            debug_info: DebugInfo {
                request_info: &task.request_info,
                submit_time_ms: task.submit_ms.to_string(),
                execute_time_ms: started.then(|| task.execute_ms().to_string()),
                complete_time_ms: done.then(|| task.complete_ms().to_string()),
            },
        },
        task: TaskView {
            task_id: &task.id,
            task_type: task.model.endpoint_name(),
            status,
            reason,
            eta,
            progress_percent: progress,
        },
        images: &[],
        videos,
        audios: &[],
    };
    serde_json::to_vec(&body).unwrap_or_default()
}
