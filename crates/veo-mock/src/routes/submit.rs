//! `POST /v3/async/{endpoint}`: a submit checked as the platform checks it, then a task.

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use futures_util::StreamExt;
use serde_json::json;

use super::{AppState, Flavor, Reply, Shared, after, before, cut, not_found};
use crate::conn::ConnInfo;
use crate::faults::{Fault, Scope};
use crate::model::Model;
use crate::stats::Endpoint;
use crate::validate;

pub(super) async fn submit(
    State(s): AppState,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    Path(endpoint): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(model) = Model::from_endpoint_name(&endpoint) else {
        return not_found(State(s)).await;
    };
    let ep = Endpoint::Submit(model);
    let reply = submit_inner(&s, &conn, model, &headers, body).await;
    reply.finish(&s.stats, ep)
}

async fn submit_inner(
    s: &Shared,
    conn: &ConnInfo,
    model: Model,
    headers: &HeaderMap,
    body: Body,
) -> Reply {
    // Read the body first so an error reply is not mistaken for a broken upload.
    let body = match read_body(body, headers, s.config.max_body_bytes).await {
        Ok(b) => b,
        Err(reply) => return *reply,
    };
    let post = match before(s.pick_fault(Scope::Submit), conn, Flavor::Api).await {
        Ok(post) => post,
        Err(reply) => return *reply,
    };
    if let Err(reply) = s.auth(headers) {
        return *reply;
    }
    let submission = match validate::validate(model, &body, s.limits) {
        Ok(sub) => sub,
        Err(invalid) => {
            return Reply::api_error_with(
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST_BODY",
                &invalid.message,
                json!({ "fields": invalid.fields }),
            );
        }
    };
    drop(body);
    let task = s
        .store
        .create(model, &submission, s.defaults, s.clock.now_ms());
    s.stats.task_created();
    let out = json!({ "task_id": &*task.id }).to_string().into_bytes();
    let reply = if post == Some(Fault::MalformedJson) {
        Reply::json(cut(&out))
    } else {
        Reply::json(out)
    };
    after(post, conn, Flavor::Api, reply)
}

async fn read_body(body: Body, headers: &HeaderMap, max: usize) -> Result<Vec<u8>, Box<Reply>> {
    let too_large = || {
        Box::new(Reply::api_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "REQUEST_BODY_TOO_LARGE",
            &format!("request body exceeds {max} bytes"),
        ))
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(too_large());
    }
    let mut buf = Vec::with_capacity(declared.unwrap_or(0));
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            Box::new(Reply::api_error(
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST_BODY",
                &format!("could not read the request body: {e}"),
            ))
        })?;
        if buf.len() + chunk.len() > max {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}
