//! Saved videos over HTTP at `/videos/<task_id>/<n>.mp4?expires=<unix>&sig=<hex>`, the signed
//! links of [`crate::links`]: the signature is the authorization (no bearer token), the path is
//! resolved through the journal (task id and number → the saved file), never joined to a
//! directory, and the file is served with `Range` support as `video/mp4`. A path that names no
//! saved video is 404, a wrong or expired signature 403.

use std::time::SystemTime;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower_http::services::ServeFile;

use crate::app::App;
use crate::links::{PATH_PREFIX, Refusal};

/// The video routes (everything under `/videos/`), checked against `app`'s link settings; with
/// none, every such request is 404.
pub fn video_routes(app: App) -> Router {
    Router::new()
        .route(
            &format!("{PATH_PREFIX}{{*rest}}"),
            axum::routing::get(serve_video),
        )
        .with_state(app)
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no such video\n").into_response()
}

async fn serve_video(State(app): State<App>, request: Request) -> Response {
    let Some(links) = app.config().video_links.as_ref() else {
        return not_found();
    };
    let uri = request.uri();
    let (task_id, n) = match links.verify(uri.path(), uri.query(), SystemTime::now()) {
        Ok(named) => named,
        Err(Refusal::NotAVideo) => return not_found(),
        Err(Refusal::BadSignature) => {
            return (
                StatusCode::FORBIDDEN,
                "this link is not valid: its signature is wrong or it has expired\n",
            )
                .into_response();
        }
    };
    let entry = match app.journal().get(&task_id).await {
        Ok(Some(entry)) => entry,
        Ok(None) => return not_found(),
        Err(e) => {
            tracing::warn!(%task_id, "cannot read the journal for a video link: {e}");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "the task journal cannot be read right now\n",
            )
                .into_response();
        }
    };
    let Some(path) = entry
        .videos
        .iter()
        .find(|v| u64::from(v.index) + 1 == u64::from(n))
        .and_then(|v| v.path.clone())
    else {
        return not_found();
    };
    match ServeFile::new(&path).try_call(request).await {
        Ok(response) => {
            let mut response = response.map(axum::body::Body::new);
            if response.status().is_success() {
                response
                    .headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static("video/mp4"));
                // The link is a capability: keep it out of shared caches and referrers.
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("private"));
                response.headers_mut().insert(
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("no-referrer"),
                );
            }
            response
        }
        Err(e) => {
            tracing::warn!(%task_id, "cannot serve {}: {e}", path.display());
            not_found()
        }
    }
}
