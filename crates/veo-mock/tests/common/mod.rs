//! Helpers shared by the integration tests: tiny real frames, a client, polling.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use veo_mock::{MockConfig, MockServer};

/// A valid 1×1 RGB PNG.
pub const PNG_1X1: [u8; 69] = [
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
    0xDE, 0x00, 0x00, 0x00, 0x0C, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0x00,
    0x00, 0x03, 0x01, 0x01, 0x00, 0xC9, 0xFE, 0x92, 0xEF, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E,
    0x44, 0xAE, 0x42, 0x60, 0x82,
];

/// The header of a 16×9 baseline JPEG: SOI, APP0 (JFIF), SOF0, EOI.
pub fn jpeg_16x9() -> Vec<u8> {
    let mut j = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
    j.extend_from_slice(b"JFIF\0\x01\x01\x00\x00\x01\x00\x01\x00\x00");
    j.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 0x08, 0x00, 0x09, 0x00, 0x10]);
    j.extend_from_slice(&[0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01]);
    j.extend_from_slice(&[0xFF, 0xD9]);
    j
}

pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

pub fn png_b64() -> String {
    b64(&PNG_1X1)
}

pub fn jpeg_b64() -> String {
    b64(&jpeg_16x9())
}

pub const STANDARD_PATH: &str = "/v3/async/veo-3.1-generate-firstlastframe";
pub const FAST_PATH: &str = "/v3/async/veo-3.1-fast-generate-firstlastframe";
pub const LITE_PATH: &str = "/v3/async/veo-3.1-lite-firstlastframe";

/// A valid body for the standard/fast endpoints.
pub fn body(prompt: &str) -> Value {
    json!({
        "image": png_b64(),
        "last_image": jpeg_b64(),
        "prompt": prompt,
    })
}

pub async fn start(config: MockConfig) -> MockServer {
    MockServer::start(config).await.expect("mock starts")
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

/// POSTs `body` to `path` with the server's key; returns status and parsed JSON (Null if none).
pub async fn post(server: &MockServer, path: &str, body: &Value) -> (u16, Value) {
    send(
        client()
            .post(server.url(path))
            .bearer_auth(server.api_key())
            .json(body),
    )
    .await
}

/// POSTs a raw body string.
pub async fn post_raw(server: &MockServer, path: &str, body: String) -> (u16, Value) {
    send(
        client()
            .post(server.url(path))
            .bearer_auth(server.api_key())
            .header("content-type", "application/json")
            .body(body),
    )
    .await
}

pub async fn submit(server: &MockServer, prompt: &str) -> String {
    let (status, v) = post(server, STANDARD_PATH, &body(prompt)).await;
    assert_eq!(status, 200, "{v}");
    v["task_id"].as_str().expect("task_id").to_owned()
}

pub async fn query(server: &MockServer, task_id: &str) -> (u16, Value) {
    send(
        client()
            .get(server.url("/v3/async/task-result"))
            .query(&[("task_id", task_id)])
            .bearer_auth(server.api_key()),
    )
    .await
}

/// Polls until the task is terminal; returns every observed result, last one terminal.
pub async fn poll_to_end(server: &MockServer, task_id: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut seen = Vec::new();
    loop {
        let (status, v) = query(server, task_id).await;
        assert_eq!(status, 200, "{v}");
        let s = v["task"]["status"].as_str().unwrap_or("").to_owned();
        seen.push(v);
        if s == "TASK_STATUS_SUCCEED" || s == "TASK_STATUS_FAILED" {
            return seen;
        }
        assert!(Instant::now() < deadline, "task never finished: {seen:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The 400 message, asserting the shape of the platform's error body.
pub fn error_message(status: u16, v: &Value, want_status: u16) -> String {
    assert_eq!(status, want_status, "{v}");
    assert_eq!(v["code"], json!(want_status), "{v}");
    assert!(v["reason"].is_string(), "{v}");
    assert!(v["metadata"].is_object(), "{v}");
    v["message"].as_str().expect("message").to_owned()
}

/// GETs an admin path (`/_mock/...`); returns status and parsed JSON (Null if none).
pub async fn admin_get(server: &MockServer, path: &str) -> (u16, Value) {
    send(client().get(server.url(path))).await
}

/// Sends an admin request with a raw body (`POST`, `DELETE`, ...); returns status and JSON.
pub async fn admin_send(
    server: &MockServer,
    method: reqwest::Method,
    path: &str,
    body: &str,
) -> (u16, Value) {
    send(
        client()
            .request(method, server.url(path))
            .header("content-type", "application/json")
            .body(body.to_owned()),
    )
    .await
}

/// Submits a quick task, waits for it to succeed and returns its first video link.
pub async fn finished_video_url(server: &MockServer) -> String {
    let id = submit(server, "ready soon [mock:duration_ms=20]").await;
    let done = poll_to_end(server, &id).await.pop().expect("a result");
    assert_eq!(done["task"]["status"], "TASK_STATUS_SUCCEED", "{done}");
    done["videos"][0]["video_url"]
        .as_str()
        .expect("video_url")
        .to_owned()
}

/// GETs a result link; returns status, `Content-Type` and the body.
pub async fn download(url: &str) -> (u16, String, Vec<u8>) {
    let resp = client().get(url).send().await.expect("response");
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let bytes = resp.bytes().await.expect("body").to_vec();
    (status, content_type, bytes)
}

/// Sends a request; returns the status and the parsed JSON body (Null if none).
pub async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let resp = request.send().await.expect("response");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}
