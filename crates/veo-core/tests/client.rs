//! The client against a scripted local HTTP server: what goes on the wire, which failures are
//! retried, and which are not (a submit is never repeated once it may have reached the server).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use veo_core::{
    CancellationToken, Client, ClientConfig, Error, ImagePolicy, Model, PreparedRequest,
    RetryPolicy, TaskStatus, TransitionRequest, WaitOptions, prepare, sample,
};

const KEY: &str = "sk-test-secret-key";

/// One scripted reply: status, extra headers, body.
type Reply = (u16, Vec<(&'static str, &'static str)>, String);

#[derive(Default)]
struct Script {
    submits: Mutex<Vec<Reply>>,
    queries: Mutex<Vec<Reply>>,
    submit_count: AtomicUsize,
    query_count: AtomicUsize,
    last_submit: Mutex<Option<(String, HeaderMap, Bytes)>>,
}

fn next(replies: &Mutex<Vec<Reply>>) -> Reply {
    let mut replies = replies.lock().unwrap();
    if replies.len() > 1 {
        replies.remove(0)
    } else {
        replies[0].clone()
    }
}

fn respond((status, headers, body): Reply) -> Response {
    let mut response = (StatusCode::from_u16(status).unwrap(), body).into_response();
    for (k, v) in headers {
        response.headers_mut().insert(k, v.parse().unwrap());
    }
    response
}

async fn submit(
    State(s): State<Arc<Script>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    s.submit_count.fetch_add(1, Ordering::SeqCst);
    *s.last_submit.lock().unwrap() = Some((uri.path().to_string(), headers, body));
    respond(next(&s.submits))
}

async fn query(State(s): State<Arc<Script>>, Query(q): Query<Vec<(String, String)>>) -> Response {
    s.query_count.fetch_add(1, Ordering::SeqCst);
    let (status, headers, body) = next(&s.queries);
    let task_id = q
        .iter()
        .find(|(k, _)| k == "task_id")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    respond((status, headers, body.replace("{task_id}", &task_id)))
}

async fn start(script: Arc<Script>) -> String {
    let app = Router::new()
        .route("/v3/async/{endpoint}", post(submit))
        .route("/v3/async/task-result", get(query))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(script);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn script(submits: Vec<Reply>, queries: Vec<Reply>) -> Arc<Script> {
    Arc::new(Script {
        submits: Mutex::new(submits),
        queries: Mutex::new(queries),
        ..Script::default()
    })
}

fn client(base_url: &str) -> Client {
    let mut config = ClientConfig::default()
        .with_api_key(KEY)
        .with_base_url(base_url)
        .unwrap();
    config.retry = RetryPolicy {
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        ..RetryPolicy::default()
    };
    config.query_timeout = Duration::from_secs(2);
    config.submit_timeout = Duration::from_secs(2);
    Client::new(config)
}

async fn prepared(model: Model) -> PreparedRequest {
    let png = base64::engine::general_purpose::STANDARD.encode(sample::gradient_png(
        32,
        18,
        [0, 0, 0],
        [255, 0, 0],
    ));
    let mut request = TransitionRequest::new(png.clone(), png, "a slow zoom");
    request.model = model;
    prepare(request, &ImagePolicy::default()).await.unwrap()
}

fn ok_task() -> Reply {
    (200, vec![], r#"{"task_id":"task-1"}"#.into())
}

fn assert_no_key(e: &Error) {
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains(KEY), "the key leaked: {shown}");
}

#[tokio::test]
async fn submit_sends_the_body_to_the_model_endpoint_with_the_key() {
    let s = script(vec![ok_task()], vec![]);
    let base = start(s.clone()).await;
    for model in Model::ALL {
        let p = prepared(model).await;
        assert_eq!(client(&base).submit(&p).await.unwrap(), "task-1");
        let (path, headers, body) = s.last_submit.lock().unwrap().clone().unwrap();
        assert_eq!(path, model.endpoint_path());
        assert_eq!(headers["authorization"], format!("Bearer {KEY}"));
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(headers["content-length"], body.len().to_string());
        let sent: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(sent[model.last_frame_field()], sent["image"]);
        assert_eq!(sent[model.duration_field()], 8);
        assert_eq!(sent["prompt"], "a slow zoom");
    }
}

#[tokio::test]
async fn without_a_key_nothing_is_sent() {
    let s = script(vec![ok_task()], vec![ok_task()]);
    let base = start(s.clone()).await;
    let client = Client::new(ClientConfig::default().with_base_url(&base).unwrap());
    assert!(matches!(
        client.submit(&prepared(Model::Veo31).await).await,
        Err(Error::MissingApiKey)
    ));
    assert!(matches!(
        client.task_result("t").await,
        Err(Error::MissingApiKey)
    ));
    assert_eq!(
        s.submit_count.load(Ordering::SeqCst) + s.query_count.load(Ordering::SeqCst),
        0
    );
}

#[tokio::test]
async fn a_rate_limited_submit_is_retried_after_the_requested_delay() {
    let s = script(
        vec![
            (
                429,
                vec![("retry-after", "1")],
                r#"{"code":429,"reason":"RATE_LIMITED","message":"slow down"}"#.into(),
            ),
            ok_task(),
        ],
        vec![],
    );
    let base = start(s.clone()).await;
    let started = std::time::Instant::now();
    assert_eq!(
        client(&base)
            .submit(&prepared(Model::Veo31).await)
            .await
            .unwrap(),
        "task-1"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After was not honoured"
    );
    assert_eq!(s.submit_count.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_submit_answered_with_5xx_is_never_retried() {
    for (status, body) in [
        (500, r#"{"code":500,"reason":"INTERNAL","message":"boom"}"#),
        (502, "<html><body>Bad Gateway</body></html>"),
    ] {
        let s = script(vec![(status, vec![], body.into()), ok_task()], vec![]);
        let base = start(s.clone()).await;
        let e = client(&base)
            .submit(&prepared(Model::Veo31).await)
            .await
            .unwrap_err();
        assert!(matches!(e, Error::SubmitOutcomeUnknown { .. }), "{e:?}");
        assert!(e.to_string().contains("do not resubmit blindly"), "{e}");
        assert_eq!(
            s.submit_count.load(Ordering::SeqCst),
            1,
            "a possibly-paid submit must not be repeated"
        );
        assert_no_key(&e);
    }
}

#[tokio::test]
async fn a_success_without_a_task_id_is_an_unknown_outcome() {
    let s = script(vec![(200, vec![], "{}".into())], vec![]);
    let base = start(s.clone()).await;
    let e = client(&base)
        .submit(&prepared(Model::Veo31).await)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::SubmitOutcomeUnknown { .. }), "{e:?}");
}

#[tokio::test]
async fn definite_rejections_are_reported_with_the_platforms_words() {
    let s = script(
        vec![(
            401,
            vec![],
            r#"{"code":401,"reason":"UNAUTHORIZED","message":"invalid api key"}"#.into(),
        )],
        vec![],
    );
    let base = start(s.clone()).await;
    let e = client(&base)
        .submit(&prepared(Model::Veo31).await)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Auth { status: 401, .. }), "{e:?}");
    assert!(e.to_string().contains("invalid api key"));
    assert_no_key(&e);

    let s = script(
        vec![(
            400,
            vec![],
            r#"{"code":400,"reason":"INVALID_REQUEST_BODY","message":"prompt too long"}"#.into(),
        )],
        vec![],
    );
    let base = start(s.clone()).await;
    let e = client(&base)
        .submit(&prepared(Model::Veo31).await)
        .await
        .unwrap_err();
    match &e {
        Error::Upstream {
            status,
            reason,
            message,
        } => {
            assert_eq!(
                (*status, reason.as_deref(), message.as_str()),
                (400, Some("INVALID_REQUEST_BODY"), "prompt too long")
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.submit_count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_connection_dropped_after_sending_is_an_unknown_outcome_and_not_retried() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                // Read the whole request (headers and body), then hang up without answering.
                let mut buf = vec![0u8; 1 << 16];
                let mut seen = Vec::new();
                loop {
                    let n = socket.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&seen);
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len: usize = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap())
                            })
                            .unwrap_or(0);
                        if seen.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                let _ = socket.shutdown().await;
            });
        }
    });
    let e = client(&format!("http://{addr}"))
        .submit(&prepared(Model::Veo31).await)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::SubmitOutcomeUnknown { .. }), "{e:?}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "the submit must not be sent again"
    );
}

#[tokio::test]
async fn a_refused_connection_is_reported_as_not_sent() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let e = client(&format!("http://{addr}"))
        .submit(&prepared(Model::Veo31).await)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Network {
                may_have_reached_server: false,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("did not reach"), "{e}");
}

fn task_json(status: &str, progress: u32, eta: u32) -> String {
    json!({
        "task": {"task_id": "{task_id}", "status": status, "progress_percent": progress, "eta": eta, "reason": ""},
        "videos": if status == "TASK_STATUS_SUCCEED" { json!([{"video_url": "https://files.test/v.mp4", "video_url_ttl": "3600", "video_type": "mp4"}]) } else { json!([]) }
    })
    .to_string()
}

#[tokio::test]
async fn queries_retry_transient_failures_and_map_the_rest() {
    let s = script(
        vec![],
        vec![
            (502, vec![], "<html>Bad Gateway</html>".into()),
            (200, vec![], task_json("TASK_STATUS_PROCESSING", 40, 10)),
        ],
    );
    let base = start(s.clone()).await;
    let r = client(&base).task_result("abc").await.unwrap();
    assert_eq!(
        (r.task_id.as_str(), r.status, r.progress_percent),
        ("abc", TaskStatus::Processing, Some(40))
    );
    assert_eq!(s.query_count.load(Ordering::SeqCst), 2);

    let s = script(
        vec![],
        vec![(
            404,
            vec![],
            r#"{"code":404,"reason":"TASK_NOT_FOUND","message":"no task"}"#.into(),
        )],
    );
    let base = start(s.clone()).await;
    assert!(matches!(
        client(&base).task_result("nope").await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(
        s.query_count.load(Ordering::SeqCst),
        1,
        "a missing task is not retried"
    );

    let s = script(vec![], vec![(200, vec![], "<html>oops</html>".into())]);
    let base = start(s.clone()).await;
    let e = client(&base).task_result("t").await.unwrap_err();
    assert!(matches!(e, Error::BadResponse { status: 200, .. }), "{e:?}");
    assert!(e.to_string().contains("<html>oops</html>"), "{e}");

    let s = script(vec![], vec![(500, vec![], String::new())]);
    let base = start(s.clone()).await;
    let e = client(&base).task_result("t").await.unwrap_err();
    assert!(e.to_string().contains("empty body"), "{e}");
    assert_eq!(
        s.query_count.load(Ordering::SeqCst),
        3,
        "transient failures use every attempt"
    );
}

fn fast_wait(timeout: Duration) -> WaitOptions {
    WaitOptions {
        timeout,
        first_interval: Duration::from_millis(20),
        min_interval: Duration::from_millis(10),
        max_interval: Duration::from_millis(50),
        cancel: CancellationToken::new(),
    }
}

#[tokio::test]
async fn wait_follows_the_task_to_its_end_and_reports_every_state() {
    let s = script(
        vec![],
        vec![
            (200, vec![], task_json("TASK_STATUS_QUEUED", 0, 1)),
            (503, vec![], "busy".into()),
            (200, vec![], task_json("TASK_STATUS_PROCESSING", 50, 1)),
            (200, vec![], task_json("TASK_STATUS_SUCCEED", 100, 0)),
        ],
    );
    let base = start(s.clone()).await;
    let mut seen = Vec::new();
    let r = client(&base)
        .wait("t9", &fast_wait(Duration::from_secs(10)), |r| {
            seen.push(r.status)
        })
        .await
        .unwrap();
    assert_eq!(r.status, TaskStatus::Succeeded);
    assert_eq!(r.videos[0].url, "https://files.test/v.mp4");
    assert_eq!(
        seen,
        [
            TaskStatus::Queued,
            TaskStatus::Processing,
            TaskStatus::Succeeded
        ]
    );
}

#[tokio::test]
async fn wait_returns_the_latest_state_at_its_deadline() {
    let s = script(
        vec![],
        vec![(200, vec![], task_json("TASK_STATUS_PROCESSING", 10, 300))],
    );
    let base = start(s.clone()).await;
    let started = std::time::Instant::now();
    let r = client(&base)
        .wait("t", &fast_wait(Duration::from_millis(300)), |_| {})
        .await
        .unwrap();
    assert_eq!(r.status, TaskStatus::Processing);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    // With max_interval 50 ms over 300 ms, polling is bounded.
    assert!(s.query_count.load(Ordering::SeqCst) <= 12);
}

#[tokio::test]
async fn wait_stops_promptly_when_cancelled() {
    let s = script(
        vec![],
        vec![(200, vec![], task_json("TASK_STATUS_PROCESSING", 10, 300))],
    );
    let base = start(s.clone()).await;
    let options = WaitOptions {
        max_interval: Duration::from_secs(5),
        ..fast_wait(Duration::from_secs(30))
    };
    let cancel = options.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        cancel.cancel();
    });
    let started = std::time::Instant::now();
    let e = client(&base).wait("t", &options, |_| {}).await.unwrap_err();
    assert!(matches!(e, Error::Cancelled), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn wait_ends_at_once_on_a_lasting_failure() {
    let s = script(
        vec![],
        vec![(
            401,
            vec![],
            r#"{"code":401,"reason":"UNAUTHORIZED","message":"bad key"}"#.into(),
        )],
    );
    let base = start(s.clone()).await;
    let e = client(&base)
        .wait("t", &fast_wait(Duration::from_secs(10)), |_| {})
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Auth { .. }), "{e:?}");
    assert_eq!(s.query_count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_key_the_platform_echoes_back_is_never_shown() {
    let echoed = format!(r#"{{"reason":"UNAUTHORIZED","message":"bad key Bearer {KEY}"}}"#);
    let s = script(
        vec![(401, vec![], echoed.clone())],
        vec![(500, vec![], format!("<html>{KEY}</html>"))],
    );
    let base = start(s.clone()).await;
    let veo = client(&base);
    let refused = veo.submit(&prepared(Model::Veo31).await).await.unwrap_err();
    assert!(matches!(refused, Error::Auth { .. }), "{refused:?}");
    assert_no_key(&refused);
    assert!(refused.to_string().contains("<redacted>"), "{refused}");
    let failed = veo.task_result("t").await.unwrap_err();
    assert_no_key(&failed);
    let s = script(
        vec![(200, vec![], format!("{{\"oops\":\"{KEY}\"}}"))],
        vec![],
    );
    let base = start(s).await;
    let unknown = client(&base)
        .submit(&prepared(Model::Veo31).await)
        .await
        .unwrap_err();
    assert!(
        matches!(unknown, Error::SubmitOutcomeUnknown { .. }),
        "{unknown:?}"
    );
    assert_no_key(&unknown);

    // In a successful reply's reason, and where an excerpt would cut the key in two.
    let failed_task = format!(
        r#"{{"task":{{"task_id":"t","status":"TASK_STATUS_FAILED","reason":"refused {KEY}"}}}}"#
    );
    let cut = format!("<html>{}{KEY}</html>", "x".repeat(190));
    let s = script(vec![(502, vec![], cut)], vec![(200, vec![], failed_task)]);
    let base = start(s).await;
    let veo = client(&base);
    let result = veo.task_result("t").await.unwrap();
    let reason = result.reason.unwrap_or_default();
    assert!(
        !reason.contains(KEY) && reason.contains("<redacted>"),
        "{reason}"
    );
    let cut_off = veo.submit(&prepared(Model::Veo31).await).await.unwrap_err();
    let shown = format!("{cut_off} {cut_off:?}");
    assert!(
        !shown.contains(&KEY[..8]),
        "a part of the key leaked: {shown}"
    );
}

#[tokio::test]
async fn a_stalled_or_oversized_download_is_given_up_without_a_file() {
    use futures_util::{StreamExt as _, stream};
    // One link sends 16 bytes and then nothing, another declares more than is accepted.
    let stalled = || async {
        let first = stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(&[0; 16]))]);
        let body = axum::body::Body::from_stream(first.chain(stream::pending()));
        Response::builder()
            .header("content-length", "1000")
            .body(body)
            .unwrap()
    };
    let huge = || async {
        Response::builder()
            .header("content-length", "5000")
            .body(axum::body::Body::from(vec![0u8; 5000]))
            .unwrap()
    };
    let app = Router::new()
        .route("/stalled.mp4", get(stalled))
        .route("/huge.mp4", get(huge));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let mut config = ClientConfig::default().with_api_key(KEY);
    config.download_idle_timeout = Duration::from_millis(300);
    config.max_download_bytes = 4096;
    let client = Client::new(config);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("v.mp4");

    let started = std::time::Instant::now();
    let stalled = client
        .download(&format!("http://{addr}/stalled.mp4"), &dest)
        .await
        .unwrap_err();
    assert!(stalled.to_string().contains("stalled"), "{stalled}");
    assert!(stalled.is_transient(), "worth another try");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "given up when idle"
    );

    let huge = client
        .download(&format!("http://{addr}/huge.mp4"), &dest)
        .await
        .unwrap_err();
    assert!(huge.to_string().contains("larger than"), "{huge}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no file left"
    );
}
