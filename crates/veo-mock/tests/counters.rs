//! Counters: per endpoint and status, tasks created, downloads, faults injected; admin requests
//! are not counted; a reset (in-process or over HTTP) zeroes everything.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};
use veo_mock::{
    Endpoint, Fault, FaultRule, MockConfig, MockServer, Model, Outcome, Scope, StatsSnapshot,
};

/// `GET /_mock/stats`, parsed.
async fn http_stats(server: &MockServer) -> (Value, StatsSnapshot) {
    let (status, v) = admin_get(server, "/_mock/stats").await;
    assert_eq!(status, 200, "{v}");
    let parsed = serde_json::from_value(v.clone()).expect("stats shape");
    (v, parsed)
}

fn assert_zero(stats: &StatsSnapshot) {
    assert_eq!(stats.total_requests(), 0, "{stats:?}");
    assert_eq!(stats.tasks_created, 0);
    assert_eq!(stats.tasks_stored, 0);
    assert_eq!(stats.downloads, 0);
    assert_eq!(stats.faults_injected, 0);
    assert!(stats.requests.values().all(|e| e.by_status.is_empty()));
}

/// A mixed workload with known outcomes: 4 submits (2 tasks), the polls of one task (their
/// number is returned) plus 2 failed queries, 3 download attempts (2 served) and 2 others.
async fn workload(server: &MockServer) -> u64 {
    let c = client();
    // Submits: 2 × 200 (standard), 1 × 400 (fast, bad body), 1 × 401 (lite, no key).
    let a = submit(server, "one [mock:duration_ms=20]").await;
    submit(server, "two").await;
    let (status, _) = post(server, FAST_PATH, &json!({ "prompt": "no frames" })).await;
    assert_eq!(status, 400);
    let resp = c
        .post(server.url(LITE_PATH))
        .json(&json!({}))
        .send()
        .await
        .expect("response");
    assert_eq!(resp.status().as_u16(), 401);

    // Queries: 200s until done, then one 404 and one 400.
    let polls = poll_to_end(server, &a).await;
    let url = polls.last().expect("result")["videos"][0]["video_url"]
        .as_str()
        .expect("url")
        .to_owned();
    assert_eq!(query(server, "missing").await.0, 404);
    let resp = c
        .get(server.url("/v3/async/task-result"))
        .bearer_auth(server.api_key())
        .send()
        .await
        .expect("response");
    assert_eq!(resp.status().as_u16(), 400);

    // Downloads: 200, 206, and a 403 for a forged signature (not a download).
    assert_eq!(download(&url).await.0, 200);
    let resp = c
        .get(&url)
        .header("range", "bytes=0-3")
        .send()
        .await
        .expect("response");
    assert_eq!(resp.status().as_u16(), 206);
    let forged = url.replace("sig=", "sig=0");
    assert_eq!(download(&forged).await.0, 403);

    // Other: an unknown path and a wrong method.
    assert_eq!(
        c.get(server.url("/v3/nope")).send().await.unwrap().status(),
        404
    );
    let resp = c
        .delete(server.url("/v3/async/task-result"))
        .send()
        .await
        .expect("response");
    assert_eq!(resp.status().as_u16(), 405);
    polls.len() as u64
}

#[tokio::test]
async fn counts_per_endpoint_and_status() {
    let server = start(MockConfig::fast()).await;
    assert_zero(&server.stats());
    let polls = workload(&server).await;

    let s = server.stats();
    let std_ep = Endpoint::Submit(Model::Standard);
    assert_eq!(s.count(std_ep, Outcome::Status(200)), 2);
    assert_eq!(s.requests_to(std_ep), 2);
    assert_eq!(
        s.count(Endpoint::Submit(Model::Fast), Outcome::Status(400)),
        1
    );
    assert_eq!(
        s.count(Endpoint::Submit(Model::Lite), Outcome::Status(401)),
        1
    );
    assert_eq!(s.submits(), 4);

    assert_eq!(s.count(Endpoint::TaskResult, Outcome::Status(200)), polls);
    assert_eq!(s.count(Endpoint::TaskResult, Outcome::Status(404)), 1);
    assert_eq!(s.count(Endpoint::TaskResult, Outcome::Status(400)), 1);
    assert_eq!(s.task_results(), polls + 2);

    assert_eq!(s.count(Endpoint::Download, Outcome::Status(200)), 1);
    assert_eq!(s.count(Endpoint::Download, Outcome::Status(206)), 1);
    assert_eq!(s.count(Endpoint::Download, Outcome::Status(403)), 1);
    assert_eq!(s.requests_to(Endpoint::Download), 3);

    assert_eq!(s.count(Endpoint::Other, Outcome::Status(404)), 1);
    assert_eq!(s.count(Endpoint::Other, Outcome::Status(405)), 1);
    assert_eq!(s.requests_to(Endpoint::Other), 2);

    assert_eq!(s.total_requests(), 4 + polls + 2 + 3 + 2);
    assert_eq!(s.tasks_created, 2);
    assert_eq!(s.tasks_stored, 2);
    assert_eq!(
        s.downloads, 2,
        "200 and 206 count as downloads, 403 does not"
    );
    assert_eq!(s.faults_injected, 0);

    // The HTTP view is the same snapshot, keyed by endpoint name and status code.
    let (raw, parsed) = http_stats(&server).await;
    assert_eq!(parsed, s);
    assert_eq!(raw["requests"]["submit_standard"]["by_status"]["200"], 2);
    assert_eq!(raw["requests"]["submit_lite"]["total"], 1);
    assert_eq!(raw["requests"]["download"]["by_status"]["206"], 1);
    assert_eq!(raw["tasks_created"], 2);
    for name in [
        "submit_standard",
        "submit_fast",
        "submit_lite",
        "task_result",
        "download",
        "other",
    ] {
        assert!(raw["requests"][name]["total"].is_u64(), "{name}: {raw}");
    }
}

#[tokio::test]
async fn faults_and_resets_are_counted() {
    let server = start(MockConfig::fast()).await;
    let id = submit(&server, "x").await;
    server.set_faults(vec![
        FaultRule::next(Scope::Query, Fault::Http500, 2),
        FaultRule::next(Scope::Query, Fault::ConnectionReset, 1),
        FaultRule::next(Scope::Submit, Fault::CreatedThen500, 1),
    ]);
    assert_eq!(query(&server, &id).await.0, 500);
    assert_eq!(query(&server, &id).await.0, 500);
    let dropped = client()
        .get(server.url("/v3/async/task-result"))
        .query(&[("task_id", id.as_str())])
        .bearer_auth(server.api_key())
        .send()
        .await;
    assert!(dropped.is_err());
    assert_eq!(query(&server, &id).await.0, 200);
    assert_eq!(post(&server, STANDARD_PATH, &body("y")).await.0, 500);

    let s = server.stats();
    assert_eq!(s.faults_injected, 4);
    assert_eq!(s.count(Endpoint::TaskResult, Outcome::Status(500)), 2);
    assert_eq!(s.count(Endpoint::TaskResult, Outcome::Reset), 1);
    assert_eq!(s.count(Endpoint::TaskResult, Outcome::Status(200)), 1);
    assert_eq!(s.task_results(), 4);
    assert_eq!(
        s.tasks_created, 2,
        "created-then-500 still created its task"
    );
    let (raw, _) = http_stats(&server).await;
    assert_eq!(raw["requests"]["task_result"]["by_status"]["reset"], 1);
    assert_eq!(raw["faults_injected"], 4);
}

#[tokio::test]
async fn admin_requests_are_not_counted() {
    let server = start(MockConfig::fast()).await;
    for path in [
        "/_mock/stats",
        "/_mock/faults",
        "/_mock/tasks",
        "/_mock/health",
    ] {
        let resp = client()
            .get(server.url(path))
            .send()
            .await
            .expect("response");
        assert_eq!(resp.status().as_u16(), 200, "{path}");
    }
    let rules = r#"{"rules":[{"scope":"download","kind":"http_500","next":1}]}"#;
    assert_eq!(
        admin_send(&server, Method::POST, "/_mock/faults", rules)
            .await
            .0,
        200
    );
    assert_eq!(
        admin_send(&server, Method::POST, "/_mock/faults", "{bad")
            .await
            .0,
        400
    );
    assert_eq!(
        admin_send(&server, Method::DELETE, "/_mock/faults", "")
            .await
            .0,
        200
    );
    assert_zero(&server.stats());
    let (_, parsed) = http_stats(&server).await;
    assert_zero(&parsed);

    // Counting still works afterwards: one platform request shows up.
    assert_eq!(query(&server, "nope").await.0, 404);
    assert_eq!(server.stats().total_requests(), 1);
}

#[tokio::test]
async fn reset_in_process_zeroes_counters_and_forgets_tasks() {
    let server = start(MockConfig::fast()).await;
    workload(&server).await;
    server.add_fault(FaultRule::next(Scope::Query, Fault::Http500, 1));
    let id = submit(&server, "kept?").await;
    assert_eq!(query(&server, &id).await.0, 500);
    let before = server.stats();
    assert!(before.total_requests() > 10 && before.tasks_created == 3);
    assert_eq!(before.faults_injected, 1);

    server.reset();
    assert_zero(&server.stats());
    let (_, parsed) = http_stats(&server).await;
    assert_zero(&parsed);
    // The task is gone, and the 404 is counted from zero.
    assert_eq!(query(&server, &id).await.0, 404);
    let s = server.stats();
    assert_eq!(s.total_requests(), 1);
    assert_eq!(s.count(Endpoint::TaskResult, Outcome::Status(404)), 1);
}

#[tokio::test]
async fn reset_over_http_zeroes_counters_and_forgets_tasks() {
    let server = start(MockConfig::fast()).await;
    workload(&server).await;
    assert!(server.stats().total_requests() > 10);

    let (status, v) = admin_send(&server, Method::POST, "/_mock/reset", "").await;
    assert_eq!((status, v), (200, json!({ "ok": true })));
    let (raw, parsed) = http_stats(&server).await;
    assert_zero(&parsed);
    assert_eq!(raw["tasks_stored"], 0);
    assert_zero(&server.stats());
    assert!(server.tasks().is_empty());

    // Only POST resets; a GET is refused and counted as "other".
    let resp = client()
        .get(server.url("/_mock/reset"))
        .send()
        .await
        .expect("response");
    assert_eq!(resp.status().as_u16(), 405);
}
