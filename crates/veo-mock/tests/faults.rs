//! Fault injection: each kind in a scope, scope isolation, `Next` counts running out, seeded
//! rates, the ambiguous "created, then failed" submits, and the admin API for faults.

mod common;

use std::time::{Duration, Instant};

use common::*;
use reqwest::Method;
use serde_json::{Value, json};
use veo_mock::{
    Endpoint, Fault, FaultRule, MockConfig, MockServer, Model, Outcome, SAMPLE_MP4, Scope,
};

const SUBMIT: Endpoint = Endpoint::Submit(Model::Standard);

/// The task ids the server holds, read through `GET /_mock/tasks`.
async fn held_task_ids(server: &MockServer) -> Vec<String> {
    let (status, v) = admin_get(server, "/_mock/tasks").await;
    assert_eq!(status, 200, "{v}");
    v["tasks"]
        .as_array()
        .expect("tasks array")
        .iter()
        .map(|t| t["task_id"].as_str().expect("task_id").to_owned())
        .collect()
}

/// Submits a valid body; returns the status and the raw reply body.
async fn submit_raw(server: &MockServer) -> (u16, String) {
    let resp = client()
        .post(server.url(STANDARD_PATH))
        .bearer_auth(server.api_key())
        .json(&body("faulty day [mock:duration_ms=20]"))
        .send()
        .await
        .expect("response");
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

/// Submits a valid body and expects the connection to be cut without a response.
async fn submit_expect_reset(server: &MockServer) {
    let result = client()
        .post(server.url(STANDARD_PATH))
        .bearer_auth(server.api_key())
        .json(&body("cut off [mock:duration_ms=20]"))
        .send()
        .await;
    match result {
        Ok(resp) => panic!("expected a dropped connection, got {}", resp.status()),
        Err(e) => assert!(!e.is_timeout(), "expected a reset, not a timeout: {e}"),
    }
}

/// GETs a task result; returns the status, headers and raw body.
async fn query_raw(server: &MockServer, id: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let resp = client()
        .get(server.url("/v3/async/task-result"))
        .query(&[("task_id", id)])
        .bearer_auth(server.api_key())
        .send()
        .await
        .expect("response");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.expect("body"))
}

/// The platform's JSON error shape with this code.
fn assert_api_error(status: u16, text: &str, want: u16) -> Value {
    let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
    error_message(status, &v, want);
    v
}

#[tokio::test]
async fn http_500_on_submit_creates_nothing_spares_queries_and_runs_out() {
    let server = start(MockConfig::fast()).await;
    let url = finished_video_url(&server).await;
    let existing = held_task_ids(&server).await;
    assert_eq!(existing.len(), 1);
    server.set_faults(vec![FaultRule::next(Scope::Submit, Fault::Http500, 2)]);

    // Scope isolation: queries and downloads are untouched while the submit rule is armed.
    let (status, _, text) = query_raw(&server, &existing[0]).await;
    assert_eq!(status, 200, "{text}");
    let (status, _, bytes) = download(&url).await;
    assert_eq!((status, bytes.as_slice()), (200, SAMPLE_MP4));

    for _ in 0..2 {
        let (status, text) = submit_raw(&server).await;
        let v = assert_api_error(status, &text, 500);
        assert_eq!(v["reason"], "INTERNAL_SERVER_ERROR");
    }
    // Nothing was created behind the 500s.
    assert_eq!(server.stats().tasks_created, 1);
    assert_eq!(held_task_ids(&server).await, existing);

    // `Next(2)` has run out: the rule is gone and the next submit goes through.
    assert!(server.faults().is_empty(), "{:?}", server.faults());
    let (status, text) = submit_raw(&server).await;
    assert_eq!(status, 200, "{text}");
    let stats = server.stats();
    assert_eq!(stats.tasks_created, 2);
    assert_eq!(stats.faults_injected, 2);
    assert_eq!(stats.count(SUBMIT, Outcome::Status(500)), 2);
    assert_eq!(stats.count(Endpoint::TaskResult, Outcome::Status(500)), 0);
}

#[tokio::test]
async fn http_500_on_download_is_a_storage_error() {
    let server = start(MockConfig::fast()).await;
    let url = finished_video_url(&server).await;
    server.set_faults(vec![FaultRule::next(Scope::Download, Fault::Http500, 1)]);
    let (status, content_type, bytes) = download(&url).await;
    assert_eq!(status, 500);
    assert_eq!(content_type, "application/xml");
    let text = String::from_utf8(bytes).expect("text");
    assert!(text.contains("<Code>InternalError</Code>"), "{text}");
    // Ran out after one: the same link serves the file again.
    let (status, _, bytes) = download(&url).await;
    assert_eq!((status, bytes.as_slice()), (200, SAMPLE_MP4));
    assert_eq!(server.stats().downloads, 1);
}

#[tokio::test]
async fn http_502_html_on_query_leaves_submits_alone() {
    let server = start(MockConfig::fast()).await;
    server.set_faults(vec![FaultRule::always(Scope::Query, Fault::Http502Html)]);
    let id = submit(&server, "behind a proxy").await; // submits are not in scope

    for _ in 0..3 {
        let (status, headers, text) = query_raw(&server, &id).await;
        assert_eq!(status, 502);
        assert_eq!(headers["content-type"], "text/html");
        assert!(
            text.contains("<html>") && text.contains("502 Bad Gateway"),
            "{text}"
        );
        assert!(serde_json::from_str::<Value>(&text).is_err(), "not JSON");
    }
    // `Always` stays until removed.
    assert_eq!(server.faults().len(), 1);
    server.clear_faults();
    let (status, _, text) = query_raw(&server, &id).await;
    assert_eq!(status, 200, "{text}");

    let stats = server.stats();
    assert_eq!(stats.count(Endpoint::TaskResult, Outcome::Status(502)), 3);
    assert_eq!(stats.count(SUBMIT, Outcome::Status(200)), 1);
    assert_eq!(stats.faults_injected, 3);
}

#[tokio::test]
async fn rate_limited_carries_retry_after() {
    let server = start(MockConfig::fast()).await;
    let url = finished_video_url(&server).await;
    let id = held_task_ids(&server).await.remove(0);
    server.set_faults(vec![
        FaultRule::next(Scope::Submit, Fault::RateLimited { retry_after_s: 7 }, 1),
        FaultRule::next(Scope::Download, Fault::RateLimited { retry_after_s: 2 }, 1),
    ]);

    // Queries are in neither scope.
    let (status, headers, _) = query_raw(&server, &id).await;
    assert_eq!(status, 200);
    assert!(headers.get("retry-after").is_none());

    let resp = client()
        .post(server.url(STANDARD_PATH))
        .bearer_auth(server.api_key())
        .json(&body("too eager"))
        .send()
        .await
        .expect("response");
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(resp.headers()["retry-after"], "7");
    let text = resp.text().await.expect("body");
    let v = assert_api_error(429, &text, 429);
    assert_eq!(v["reason"], "RATE_LIMIT_EXCEEDED");
    assert_eq!(server.stats().tasks_created, 1, "a 429 creates nothing");

    let resp = client().get(&url).send().await.expect("response");
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(resp.headers()["retry-after"], "2");
    let text = resp.text().await.expect("body");
    assert!(text.contains("<Code>SlowDown</Code>"), "{text}");

    assert!(server.faults().is_empty());
    let (status, _) = submit_raw(&server).await;
    assert_eq!(status, 200);
    assert_eq!(server.stats().faults_injected, 2);
}

#[tokio::test]
async fn connection_reset_sends_no_response() {
    let server = start(MockConfig::fast()).await;
    let id = submit(&server, "fine").await;
    server.set_faults(vec![
        FaultRule::next(Scope::Query, Fault::ConnectionReset, 1),
        FaultRule::next(Scope::Submit, Fault::ConnectionReset, 1),
    ]);

    let result = client()
        .get(server.url("/v3/async/task-result"))
        .query(&[("task_id", id.as_str())])
        .bearer_auth(server.api_key())
        .send()
        .await;
    match result {
        Ok(resp) => panic!("expected a dropped connection, got {}", resp.status()),
        Err(e) => assert!(!e.is_timeout(), "{e}"),
    }
    // The query rule is used up; the submit rule is still armed.
    assert_eq!(
        server.faults(),
        vec![FaultRule::next(Scope::Submit, Fault::ConnectionReset, 1)]
    );
    let (status, _, _) = query_raw(&server, &id).await;
    assert_eq!(status, 200);

    // A plain reset on submit happens before any work: no task.
    submit_expect_reset(&server).await;
    let stats = server.stats();
    assert_eq!(stats.tasks_created, 1);
    assert_eq!(held_task_ids(&server).await, vec![id]);
    assert_eq!(stats.count(Endpoint::TaskResult, Outcome::Reset), 1);
    assert_eq!(stats.count(SUBMIT, Outcome::Reset), 1);
    assert_eq!(stats.faults_injected, 2);
}

#[tokio::test]
async fn slow_download_is_delayed_then_served_whole() {
    let server = start(MockConfig::fast()).await;
    let url = finished_video_url(&server).await;
    let delay = Duration::from_millis(400);
    server.set_faults(vec![FaultRule::next(
        Scope::Download,
        Fault::Slow { delay_ms: 400 },
        2,
    )]);

    // Queries are not slowed (the reply comes back before the download rule is touched).
    let id = held_task_ids(&server).await.remove(0);
    let (status, _, _) = query_raw(&server, &id).await;
    assert_eq!(status, 200);
    assert_eq!(server.faults().len(), 1);

    // A client that waits less than the delay gives up: the reply cannot come earlier.
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .expect("client");
    let err = impatient.get(&url).send().await.expect_err("timed out");
    assert!(err.is_timeout(), "{err}");

    // A patient one gets the whole file, no sooner than the delay.
    let started = Instant::now();
    let (status, _, bytes) = download(&url).await;
    assert!(started.elapsed() >= delay);
    assert_eq!((status, bytes.as_slice()), (200, SAMPLE_MP4));
    assert!(server.faults().is_empty());
    assert_eq!(server.stats().faults_injected, 2);
}

#[tokio::test]
async fn malformed_json_submit_created_the_task() {
    let server = start(MockConfig::fast()).await;
    server.set_faults(vec![FaultRule::next(
        Scope::Submit,
        Fault::MalformedJson,
        1,
    )]);
    let (status, text) = submit_raw(&server).await;
    assert_eq!(status, 200);
    assert!(text.starts_with("{\"task_id\""), "{text}");
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");

    // The task exists although the client could not read its id.
    assert_eq!(server.stats().tasks_created, 1);
    let ids = held_task_ids(&server).await;
    assert_eq!(ids.len(), 1);
    assert_eq!(
        server
            .tasks()
            .iter()
            .map(|t| t.task_id.clone())
            .collect::<Vec<_>>(),
        ids
    );
    let done = poll_to_end(&server, &ids[0]).await.pop().expect("result");
    assert_eq!(done["task"]["status"], "TASK_STATUS_SUCCEED");
}

#[tokio::test]
async fn malformed_json_on_query_and_truncated_download() {
    let server = start(MockConfig::fast()).await;
    let url = finished_video_url(&server).await;
    let id = held_task_ids(&server).await.remove(0);
    server.set_faults(vec![
        FaultRule::next(Scope::Query, Fault::MalformedJson, 1),
        FaultRule::next(Scope::Download, Fault::MalformedJson, 1),
    ]);

    let (status, _, text) = query_raw(&server, &id).await;
    assert_eq!(status, 200);
    assert!(text.starts_with('{') && text.contains(&id[..4]), "{text}");
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");
    let (status, _, text) = query_raw(&server, &id).await;
    assert_eq!(status, 200);
    assert!(serde_json::from_str::<Value>(&text).is_ok(), "{text}");

    let (status, _, bytes) = download(&url).await;
    assert_eq!(status, 200);
    assert!(bytes.len() < SAMPLE_MP4.len() && !bytes.is_empty());
    assert!(SAMPLE_MP4.starts_with(&bytes), "a prefix of the file");
    let (_, _, bytes) = download(&url).await;
    assert_eq!(bytes, SAMPLE_MP4);
}

#[tokio::test]
async fn created_then_500_created_the_task() {
    let server = start(MockConfig::fast()).await;
    server.set_faults(vec![FaultRule::always(
        Scope::Submit,
        Fault::CreatedThen500,
    )]);

    let (status, text) = submit_raw(&server).await;
    let v = assert_api_error(status, &text, 500);
    assert!(v.get("task_id").is_none(), "{v}");

    let stats = server.stats();
    assert_eq!(stats.tasks_created, 1);
    assert_eq!(stats.count(SUBMIT, Outcome::Status(500)), 1);
    let ids = held_task_ids(&server).await;
    assert_eq!(ids.len(), 1);
    // Queries are out of the rule's scope: the task is there and finishes.
    let done = poll_to_end(&server, &ids[0]).await.pop().expect("result");
    assert_eq!(done["task"]["status"], "TASK_STATUS_SUCCEED");
    assert_eq!(done["task"]["task_id"], ids[0].as_str());

    // A blind retry pays twice: a second task.
    let (status, _) = submit_raw(&server).await;
    assert_eq!(status, 500);
    assert_eq!(server.stats().tasks_created, 2);
    assert_eq!(held_task_ids(&server).await.len(), 2);
}

#[tokio::test]
async fn created_then_500_on_download_after_serving() {
    let server = start(MockConfig::fast()).await;
    let url = finished_video_url(&server).await;
    server.set_faults(vec![FaultRule::next(
        Scope::Download,
        Fault::CreatedThen500,
        1,
    )]);
    let (status, content_type, _) = download(&url).await;
    assert_eq!((status, content_type.as_str()), (500, "application/xml"));
    let (status, _, _) = download(&url).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn created_then_reset_created_the_task() {
    let server = start(MockConfig::fast()).await;
    server.set_faults(vec![FaultRule::next(
        Scope::Submit,
        Fault::CreatedThenReset,
        1,
    )]);
    submit_expect_reset(&server).await;

    let stats = server.stats();
    assert_eq!(stats.tasks_created, 1);
    assert_eq!(stats.count(SUBMIT, Outcome::Reset), 1);
    let tasks = server.tasks();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].model, Model::Standard);
    assert_eq!(held_task_ids(&server).await, vec![tasks[0].task_id.clone()]);
    let done = poll_to_end(&server, &tasks[0].task_id)
        .await
        .pop()
        .expect("result");
    assert_eq!(done["task"]["status"], "TASK_STATUS_SUCCEED");

    // The rule ran out; the next submit answers normally with a new id.
    let (status, text) = submit_raw(&server).await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).expect("json");
    assert_ne!(v["task_id"], tasks[0].task_id.as_str());
}

#[tokio::test]
async fn any_scope_hits_every_endpoint() {
    let server = start(MockConfig::fast()).await;
    let url = finished_video_url(&server).await;
    let id = held_task_ids(&server).await.remove(0);
    server.set_faults(vec![FaultRule::next(Scope::Any, Fault::Http500, 3)]);
    assert_eq!(submit_raw(&server).await.0, 500);
    assert_eq!(query_raw(&server, &id).await.0, 500);
    assert_eq!(download(&url).await.0, 500);
    assert!(server.faults().is_empty());
    assert_eq!(query_raw(&server, &id).await.0, 200);
}

/// Statuses of `n` queries for an unknown task: 500 where the rate rule fired, else 404.
async fn rate_pattern(server: &MockServer, n: usize) -> Vec<u16> {
    let c = client();
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let resp = c
            .get(server.url("/v3/async/task-result?task_id=no-such-task"))
            .bearer_auth(server.api_key())
            .send()
            .await
            .expect("response");
        out.push(resp.status().as_u16());
    }
    out
}

#[tokio::test]
async fn seeded_rates_repeat_after_reset() {
    let rule = FaultRule::rate(Scope::Query, Fault::Http500, 0.5);
    let server = start(MockConfig::fast().with_seed(7).with_fault(rule.clone())).await;
    let first = rate_pattern(&server, 40).await;
    assert!(first.iter().all(|s| *s == 500 || *s == 404), "{first:?}");
    let hits = first.iter().filter(|s| **s == 500).count();
    assert!((5..=35).contains(&hits), "{first:?}");
    assert_eq!(server.stats().faults_injected, hits as u64);

    // In-process reset: the configured rule is back and the generator restarts.
    server.clear_faults();
    server.reset();
    assert_eq!(server.faults(), vec![rule.clone()]);
    assert_eq!(rate_pattern(&server, 40).await, first);

    // Reset over HTTP does the same.
    let (status, _) = admin_send(&server, Method::POST, "/_mock/reset", "").await;
    assert_eq!(status, 200);
    assert_eq!(rate_pattern(&server, 40).await, first);

    // Another server with the same seed draws the same; another seed draws differently.
    let twin = start(MockConfig::fast().with_seed(7).with_fault(rule.clone())).await;
    assert_eq!(rate_pattern(&twin, 40).await, first);
    let other = start(MockConfig::fast().with_seed(8).with_fault(rule)).await;
    assert_ne!(rate_pattern(&other, 40).await, first);
}

#[tokio::test]
async fn admin_api_sets_adds_lists_and_clears_rules() {
    let server = start(MockConfig::fast()).await;
    let (status, v) = admin_get(&server, "/_mock/faults").await;
    assert_eq!((status, v), (200, json!({ "rules": [] })));

    let (status, v) = admin_send(
        &server,
        Method::POST,
        "/_mock/faults",
        r#"{"rules":[{"scope":"submit","kind":"rate_limited","retry_after_s":3,"next":2}]}"#,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["rules"],
        json!([{"scope":"submit","kind":"rate_limited","retry_after_s":3,"next":2}])
    );
    assert_eq!(
        server.faults(),
        vec![FaultRule::next(
            Scope::Submit,
            Fault::RateLimited { retry_after_s: 3 },
            2
        )]
    );

    // `add` appends; the default mode replaces.
    let (status, v) = admin_send(
        &server,
        Method::POST,
        "/_mock/faults",
        r#"{"mode":"add","rules":[{"scope":"download","kind":"slow","delay_ms":5,"rate":0.25}]}"#,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["rules"].as_array().map(Vec::len), Some(2));

    // The rules act, and the listing shows what is left of `next`.
    let (status, text) = submit_raw(&server).await;
    assert_eq!(status, 429, "{text}");
    let (_, v) = admin_get(&server, "/_mock/faults").await;
    assert_eq!(v["rules"][0]["next"], 1);
    assert_eq!(
        v["rules"][1],
        json!({"scope":"download","kind":"slow","delay_ms":5,"rate":0.25})
    );

    let (status, v) = admin_send(
        &server,
        Method::POST,
        "/_mock/faults",
        r#"{"rules":[{"scope":"query","kind":"http_502_html"}]}"#,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["rules"],
        json!([{"scope":"query","kind":"http_502_html"}])
    );
    assert_eq!(
        server.faults(),
        vec![FaultRule::always(Scope::Query, Fault::Http502Html)]
    );

    let (status, v) = admin_send(&server, Method::DELETE, "/_mock/faults", "").await;
    assert_eq!((status, v), (200, json!({ "rules": [] })));
    assert!(server.faults().is_empty());
    let (status, _) = submit_raw(&server).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn admin_api_rejects_bad_rules_and_keeps_the_old_ones() {
    let server = start(MockConfig::fast()).await;
    server.set_faults(vec![FaultRule::always(Scope::Query, Fault::Http500)]);
    let bad = [
        r#"{"rules":[{"scope":"submit","kind":"http_500","rate":1.5}]}"#,
        r#"{"rules":[{"scope":"submit","kind":"explode"}]}"#,
        r#"{"rules":[{"scope":"everywhere","kind":"http_500"}]}"#,
        r#"{"rules":[{"scope":"submit","kind":"slow"}]}"#,
        r#"{"rules":[{"scope":"submit","kind":"http_500","rate":0.5,"next":1}]}"#,
        r#"{"rules":[{"scope":"submit","kind":"http_500","delay_ms":5}]}"#,
        r#"{"rules":[],"mode":"merge"}"#,
        r#"{"rule":[]}"#,
        "not json",
    ];
    for body in bad {
        let (status, v) = admin_send(&server, Method::POST, "/_mock/faults", body).await;
        let msg = error_message(status, &v, 400);
        assert!(!msg.is_empty(), "{body}");
    }
    assert_eq!(
        server.faults(),
        vec![FaultRule::always(Scope::Query, Fault::Http500)]
    );
}

#[tokio::test]
async fn configured_faults_apply_from_startup() {
    let server =
        start(MockConfig::fast().with_fault("submit:http_502_html:next=1".parse().expect("rule")))
            .await;
    let (status, text) = submit_raw(&server).await;
    assert_eq!(status, 502, "{text}");
    let (status, _) = submit_raw(&server).await;
    assert_eq!(status, 200);
    // A reset re-arms the configured rule.
    server.reset();
    assert_eq!(submit_raw(&server).await.0, 502);
}

#[tokio::test]
async fn task_listing_is_oldest_first_and_emptied_by_reset() {
    let server = start(MockConfig::fast()).await;
    let mut ids = Vec::new();
    for n in 0..6 {
        let (status, v) = post(&server, LITE_PATH, &lite_body(&format!("task {n}"))).await;
        assert_eq!(status, 200, "{v}");
        ids.push(v["task_id"].as_str().expect("id").to_owned());
    }
    assert_eq!(held_task_ids(&server).await, ids);
    let (_, v) = admin_get(&server, "/_mock/tasks").await;
    let first = &v["tasks"][0];
    assert_eq!(first["model"], "lite");
    assert!(
        first["status"]
            .as_str()
            .is_some_and(|s| s.starts_with("TASK_STATUS_"))
    );
    assert!(first["submit_time_ms"].as_u64().is_some_and(|t| t > 0));
    server.reset();
    assert!(held_task_ids(&server).await.is_empty());
    assert!(server.tasks().is_empty());
}

fn lite_body(prompt: &str) -> Value {
    json!({ "image": png_b64(), "last_frame_image": png_b64(), "prompt": prompt })
}
