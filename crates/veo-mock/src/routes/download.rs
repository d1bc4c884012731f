//! `GET /files/{task_id}/{file}`: a finished task's video, behind a signed, expiring link.

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{AppState, Flavor, Reply, Shared, after, before, cut};
use crate::conn::ConnInfo;
use crate::faults::{Fault, Scope};
use crate::files::{self, LinkError, SAMPLE_MP4};
use crate::stats::Endpoint;
use crate::tasks::Phase;

pub(super) async fn download(
    State(s): AppState,
    ConnectInfo(conn): ConnectInfo<ConnInfo>,
    Path((task_id, file)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let reply = download_inner(&s, &conn, &task_id, &file, query.as_deref(), &headers).await;
    if reply.response.status().is_success() {
        s.stats.download();
    }
    reply.finish(&s.stats, Endpoint::Download)
}

async fn download_inner(
    s: &Shared,
    conn: &ConnInfo,
    task_id: &str,
    file: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Reply {
    let post = match before(s.pick_fault(Scope::Download), conn, Flavor::Storage).await {
        Ok(post) => post,
        Err(reply) => return *reply,
    };
    let no_such_key = || {
        Reply::xml(
            StatusCode::NOT_FOUND,
            files::xml_error("NoSuchKey", "The specified key does not exist.", ""),
        )
    };
    let Some(index) = file
        .strip_suffix(".mp4")
        .and_then(|n| n.parse::<u32>().ok())
    else {
        return no_such_key();
    };
    let now = s.clock.now_ms();
    match s.signer.verify(task_id, index, query, now) {
        Ok(()) => {}
        Err(LinkError::Malformed) => {
            return Reply::xml(
                StatusCode::FORBIDDEN,
                files::xml_error(
                    "AccessDenied",
                    "Query-string authentication requires the expires and sig parameters.",
                    "",
                ),
            );
        }
        Err(LinkError::BadSignature) => {
            return Reply::xml(
                StatusCode::FORBIDDEN,
                files::xml_error(
                    "SignatureDoesNotMatch",
                    "The request signature we calculated does not match the signature you provided.",
                    "",
                ),
            );
        }
        Err(LinkError::Expired { expires_ms }) => {
            return Reply::xml(
                StatusCode::FORBIDDEN,
                files::xml_error(
                    "AccessDenied",
                    "Request has expired",
                    &format!(
                        "Request signature expired at: {}; server time: {}",
                        files::iso8601(expires_ms),
                        files::iso8601(now)
                    ),
                ),
            );
        }
    }
    let exists = s
        .store
        .get(task_id)
        .is_some_and(|t| index < u32::from(t.sample_count) && t.phase_at(now) == Phase::Succeed);
    if !exists {
        return no_such_key();
    }

    let mut reply = if post == Some(Fault::MalformedJson) {
        Reply::new((StatusCode::OK, Body::from(cut(SAMPLE_MP4))).into_response())
    } else {
        let range = headers
            .get(header::RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| files::parse_range(v, SAMPLE_MP4.len()));
        match range {
            None => Reply::new(
                (StatusCode::OK, Body::from(Bytes::from_static(SAMPLE_MP4))).into_response(),
            ),
            Some(Err(())) => {
                let mut r = Reply::new(StatusCode::RANGE_NOT_SATISFIABLE.into_response());
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{}", SAMPLE_MP4.len())) {
                    r.response.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                r
            }
            Some(Ok((start, end))) => {
                let part = Bytes::from_static(SAMPLE_MP4).slice(start..=end);
                let mut r =
                    Reply::new((StatusCode::PARTIAL_CONTENT, Body::from(part)).into_response());
                if let Ok(v) =
                    HeaderValue::from_str(&format!("bytes {start}-{end}/{}", SAMPLE_MP4.len()))
                {
                    r.response.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                r
            }
        }
    };
    if reply.response.status().is_success() {
        let h = reply.response.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("video/mp4"));
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    }
    reply = after(post, conn, Flavor::Storage, reply);
    reply
}
