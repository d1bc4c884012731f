//! Contract tests: hand-written JSON bodies against every validation rule, auth, 404s.

mod common;

use common::*;
use serde_json::{Value, json};
use veo_mock::{Endpoint, MockConfig, Model, Outcome};

/// Submits `body` to `path` and returns the 400 message (asserting the error shape).
async fn rejected(server: &veo_mock::MockServer, path: &str, body: Value) -> String {
    let (status, v) = post(server, path, &body).await;
    let msg = error_message(status, &v, 400);
    assert_eq!(v["reason"], "INVALID_REQUEST_BODY");
    msg
}

fn with(mut base: Value, field: &str, value: Value) -> Value {
    base[field] = value;
    base
}

fn without(mut base: Value, field: &str) -> Value {
    base.as_object_mut().expect("object").remove(field);
    base
}

#[tokio::test]
async fn every_field_accepted_on_every_endpoint() {
    let server = start(MockConfig::fast()).await;
    let full = json!({
        "image": png_b64(),
        "last_image": "https://example.com/last.jpg",
        "prompt": "a cat walks from the sofa to the window",
        "seed": 4294967295u64,
        "resolution": "1080p",
        "aspect_ratio": "9:16",
        "sample_count": 4,
        "enhance_prompt": false,
        "generate_audio": true,
        "negative_prompt": "blur",
        "duration_seconds": 6,
        "person_generation": "dont_allow",
    });
    for path in [STANDARD_PATH, FAST_PATH] {
        let (status, v) = post(&server, path, &full).await;
        assert_eq!(status, 200, "{path}: {v}");
        assert!(v["task_id"].as_str().is_some_and(|s| !s.is_empty()));
    }
    let lite = json!({
        "image": "http://example.com/first.png",
        "last_frame_image": jpeg_b64(),
        "prompt": "p",
        "seed": 0,
        "resolution": "720p",
        "aspect_ratio": "16:9",
        "sample_count": 1,
        "enhance_prompt": true,
        "generate_audio": false,
        "negative_prompt": "",
        "duration": 4,
        "person_generation": "allow_all",
    });
    let (status, v) = post(&server, LITE_PATH, &lite).await;
    assert_eq!(status, 200, "{v}");

    // Minimal bodies use the defaults.
    let (status, _) = post(&server, STANDARD_PATH, &body("minimal")).await;
    assert_eq!(status, 200);
    let stats = server.stats();
    assert_eq!(stats.tasks_created, 4);
    assert_eq!(
        stats.count(Endpoint::Submit(Model::Fast), Outcome::Status(200)),
        1
    );
    assert_eq!(
        stats.count(Endpoint::Submit(Model::Lite), Outcome::Status(200)),
        1
    );
    assert_eq!(
        stats.count(Endpoint::Submit(Model::Standard), Outcome::Status(200)),
        2
    );
}

#[tokio::test]
async fn missing_required_fields() {
    let server = start(MockConfig::fast()).await;
    for field in ["image", "last_image", "prompt"] {
        let msg = rejected(&server, STANDARD_PATH, without(body("p"), field)).await;
        assert!(msg.contains(&format!("`{field}` is required")), "{msg}");
    }
    let msg = rejected(&server, STANDARD_PATH, json!({})).await;
    for field in ["image", "last_image", "prompt"] {
        assert!(msg.contains(field), "{msg}");
    }
    let msg = rejected(
        &server,
        STANDARD_PATH,
        with(body("p"), "prompt", json!("  ")),
    )
    .await;
    assert!(msg.contains("`prompt` must not be empty"), "{msg}");
    assert_eq!(server.stats().tasks_created, 0);
}

#[tokio::test]
async fn wrong_types() {
    let server = start(MockConfig::fast()).await;
    let cases = [
        ("image", json!(123), "must be a string"),
        ("last_image", json!(["x"]), "must be a string"),
        ("prompt", json!({"text": "x"}), "must be a string"),
        ("negative_prompt", json!(false), "must be a string"),
        ("seed", json!("42"), "integer"),
        ("seed", json!(1.5), "must be an integer"),
        ("sample_count", json!("2"), "integer"),
        ("enhance_prompt", json!("true"), "must be a boolean"),
        ("generate_audio", json!(1), "must be a boolean"),
        ("resolution", json!(720), "one of"),
        ("duration_seconds", json!("8"), "one of the integers"),
        ("person_generation", json!(null), "got null"),
    ];
    for (field, value, want) in cases {
        let msg = rejected(
            &server,
            STANDARD_PATH,
            with(body("p"), field, value.clone()),
        )
        .await;
        assert!(
            msg.contains(&format!("`{field}`")),
            "{field}={value}: {msg}"
        );
        assert!(msg.contains(want), "{field}={value}: {msg}");
    }
}

#[tokio::test]
async fn out_of_range_and_bad_enums() {
    let server = start(MockConfig::fast()).await;
    let cases = [
        ("seed", json!(-1), "0..=4294967295"),
        ("seed", json!(4294967296u64), "0..=4294967295"),
        ("sample_count", json!(0), "1..=4"),
        ("sample_count", json!(5), "1..=4"),
        ("duration_seconds", json!(5), "4, 6, 8"),
        ("duration_seconds", json!(10), "4, 6, 8"),
        ("resolution", json!("4k"), "\"720p\", \"1080p\""),
        ("resolution", json!("720P"), "\"720p\", \"1080p\""),
        ("aspect_ratio", json!("1:1"), "\"16:9\", \"9:16\""),
        ("person_generation", json!("everyone"), "\"allow_adult\""),
    ];
    for (field, value, want) in cases {
        let msg = rejected(
            &server,
            STANDARD_PATH,
            with(body("p"), field, value.clone()),
        )
        .await;
        assert!(
            msg.contains(&format!("`{field}`")),
            "{field}={value}: {msg}"
        );
        assert!(msg.contains(want), "{field}={value}: {msg}");
    }
    // Every problem is reported at once.
    let many = with(with(body("p"), "seed", json!(-5)), "sample_count", json!(9));
    let (status, v) = post(&server, STANDARD_PATH, &many).await;
    assert_eq!(status, 400);
    assert_eq!(v["metadata"]["fields"], json!(["seed", "sample_count"]));
}

#[tokio::test]
async fn bad_frames() {
    let server = start(MockConfig::fast()).await;
    let gif = b64(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;");
    let truncated_jpeg = b64(&[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 0x4A, 0x46]);
    let png_without_ihdr = b64(&PNG_1X1[..12]);
    let cases = [
        (json!(""), "must not be empty"),
        (json!("not base64!!"), "valid Base64"),
        (json!("QUJD="), "Base64"),
        (json!("QU=D"), "Base64"),
        (json!(b64(b"hello, plain text")), "neither a JPEG nor a PNG"),
        (json!(gif), "neither a JPEG nor a PNG"),
        (json!(truncated_jpeg), "JPEG without a frame header"),
        (json!(png_without_ihdr), "PNG without an IHDR"),
        (
            json!(format!("data:image/png;base64,{}", png_b64())),
            "data: URL",
        ),
        (json!("ftp://example.com/a.png"), "Base64"),
        (json!("https:///nohost.png"), "without a host"),
        (json!("https://exa mple.com/a.png"), "whitespace"),
    ];
    for (value, want) in cases {
        let msg = rejected(
            &server,
            STANDARD_PATH,
            with(body("p"), "image", value.clone()),
        )
        .await;
        assert!(msg.contains("`image`"), "{value}: {msg}");
        assert!(msg.contains(want), "{value}: {msg}");
    }
    let msg = rejected(
        &server,
        STANDARD_PATH,
        with(body("p"), "last_image", json!("%%%%")),
    )
    .await;
    assert!(msg.contains("`last_image`"), "{msg}");
}

#[tokio::test]
async fn data_urls_when_enabled() {
    let config = MockConfig {
        accept_data_urls: true,
        ..MockConfig::fast()
    };
    let server = start(config).await;
    let ok = with(
        body("p"),
        "image",
        json!(format!("data:image/png;base64,{}", png_b64())),
    );
    assert_eq!(post(&server, STANDARD_PATH, &ok).await.0, 200);
    let bad = with(body("p"), "image", json!("data:image/gif;base64,R0lG"));
    let msg = rejected(&server, STANDARD_PATH, bad).await;
    assert!(msg.contains("unsupported kind"), "{msg}");
}

#[tokio::test]
async fn size_limit_is_on_decoded_bytes() {
    let server = start(MockConfig::fast()).await;
    let limit = veo_mock::DEFAULT_MAX_IMAGE_BYTES;
    let mut big = PNG_1X1.to_vec();
    big.resize(limit + 1, 0);
    let msg = rejected(
        &server,
        STANDARD_PATH,
        with(body("p"), "image", json!(b64(&big))),
    )
    .await;
    assert!(
        msg.contains(&format!("decodes to {} bytes", limit + 1)),
        "{msg}"
    );
    assert!(msg.contains("20 MiB"), "{msg}");

    big.truncate(limit);
    let (status, v) = post(
        &server,
        STANDARD_PATH,
        &with(body("p"), "image", json!(b64(&big))),
    )
    .await;
    assert_eq!(status, 200, "{v}");
}

#[tokio::test]
async fn body_limit_gives_413() {
    let config = MockConfig {
        max_body_bytes: 1000,
        ..MockConfig::fast()
    };
    let server = start(config).await;
    let (status, v) = post_raw(&server, STANDARD_PATH, "x".repeat(2000)).await;
    error_message(status, &v, 413);
}

#[tokio::test]
async fn unknown_and_repeated_fields() {
    let server = start(MockConfig::fast()).await;
    let msg = rejected(
        &server,
        STANDARD_PATH,
        with(body("p"), "colour", json!("red")),
    )
    .await;
    assert!(msg.contains("`colour` unknown field"), "{msg}");
    let msg = rejected(
        &server,
        STANDARD_PATH,
        with(body("p"), "duration", json!(8)),
    )
    .await;
    assert!(msg.contains("`duration` unknown field"), "{msg}");
    assert!(msg.contains("duration_seconds"), "{msg}");
    let msg = rejected(
        &server,
        FAST_PATH,
        with(body("p"), "last_frame_image", json!(png_b64())),
    )
    .await;
    assert!(msg.contains("`last_frame_image` unknown field"), "{msg}");

    let raw = format!(
        r#"{{"image":"{0}","last_image":"{0}","prompt":"a","prompt":"b"}}"#,
        png_b64()
    );
    let (status, v) = post_raw(&server, STANDARD_PATH, raw).await;
    let msg = error_message(status, &v, 400);
    assert!(msg.contains("`prompt` appears more than once"), "{msg}");
}

#[tokio::test]
async fn lite_uses_its_own_names() {
    let server = start(MockConfig::fast()).await;
    // The standard names are rejected on Lite, with a hint.
    let msg = rejected(
        &server,
        LITE_PATH,
        with(body("p"), "duration_seconds", json!(8)),
    )
    .await;
    assert!(msg.contains("`last_image` unknown field"), "{msg}");
    assert!(msg.contains("`duration_seconds` unknown field"), "{msg}");
    assert!(msg.contains("`duration`"), "{msg}");
    assert!(msg.contains("`last_frame_image` is required"), "{msg}");

    let lite =
        json!({"image": png_b64(), "last_frame_image": png_b64(), "prompt": "p", "duration": 6});
    assert_eq!(post(&server, LITE_PATH, &lite).await.0, 200);
    let msg = rejected(&server, LITE_PATH, with(lite.clone(), "duration", json!(7))).await;
    assert!(msg.contains("`duration` must be one of 4, 6, 8"), "{msg}");
}

#[tokio::test]
async fn not_json_or_not_an_object() {
    let server = start(MockConfig::fast()).await;
    for raw in ["", "{", "not json", "{\"image\":1} trailing"] {
        let (status, v) = post_raw(&server, STANDARD_PATH, raw.to_owned()).await;
        let msg = error_message(status, &v, 400);
        assert!(msg.contains("not valid JSON"), "{raw:?}: {msg}");
    }
    for raw in ["[]", "\"x\"", "42", "null"] {
        let (status, v) = post_raw(&server, STANDARD_PATH, raw.to_owned()).await;
        let msg = error_message(status, &v, 400);
        assert!(msg.contains("must be a JSON object"), "{raw:?}: {msg}");
    }
    // Escaped strings are read correctly too.
    let raw = format!(
        r#"{{"image":"{}","last_image":"https:\/\/example.com\/a.png","prompt":"caf\u00e9 \"quoted\""}}"#,
        png_b64()
    );
    assert_eq!(post_raw(&server, STANDARD_PATH, raw).await.0, 200);
}

#[tokio::test]
async fn markers_are_checked() {
    let server = start(MockConfig::fast()).await;
    let msg = rejected(&server, STANDARD_PATH, body("a [mock:fial=x] typo")).await;
    assert!(
        msg.contains("`prompt`") && msg.contains("unknown marker"),
        "{msg}"
    );
}

#[tokio::test]
async fn auth_is_required() {
    let server = start(MockConfig::fast().with_api_keys(["k1", "k2"])).await;
    let c = client();
    let url = server.url(STANDARD_PATH);
    let cases: [Option<&str>; 5] = [
        None,
        Some("Bearer wrong"),
        Some("Bearer "),
        Some("Basic k1"),
        Some("k1"),
    ];
    for auth in cases {
        let mut req = c.post(&url).json(&body("p"));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await.expect("response");
        let status = resp.status().as_u16();
        let v: Value = resp.json().await.expect("json");
        error_message(status, &v, 401);
    }
    let resp = c
        .get(server.url("/v3/async/task-result?task_id=x"))
        .send()
        .await
        .expect("response");
    assert_eq!(resp.status().as_u16(), 401);
    for key in ["k1", "k2"] {
        let resp = c
            .post(&url)
            .bearer_auth(key)
            .json(&body("p"))
            .send()
            .await
            .expect("r");
        assert_eq!(resp.status().as_u16(), 200);
    }
    let stats = server.stats();
    assert_eq!(
        stats.count(Endpoint::Submit(Model::Standard), Outcome::Status(401)),
        5
    );
    assert_eq!(stats.count(Endpoint::TaskResult, Outcome::Status(401)), 1);
    assert_eq!(stats.tasks_created, 2);
}

#[tokio::test]
async fn any_key_when_list_is_empty() {
    let server = start(MockConfig::fast().with_api_keys(Vec::<String>::new())).await;
    let resp = client()
        .post(server.url(STANDARD_PATH))
        .bearer_auth("whatever")
        .json(&body("p"))
        .send()
        .await
        .expect("response");
    assert_eq!(resp.status().as_u16(), 200);
}

#[tokio::test]
async fn unknown_task_and_paths() {
    let server = start(MockConfig::fast()).await;
    let (status, v) = query(&server, "no-such-task").await;
    let msg = error_message(status, &v, 404);
    assert!(msg.contains("no-such-task"), "{msg}");

    let resp = client()
        .get(server.url("/v3/async/task-result"))
        .bearer_auth(server.api_key())
        .send()
        .await
        .expect("response");
    assert_eq!(resp.status().as_u16(), 400);

    let (status, v) = post(&server, "/v3/async/veo-4-generate", &body("p")).await;
    error_message(status, &v, 404);
    let resp = client()
        .get(server.url(STANDARD_PATH))
        .send()
        .await
        .expect("response");
    assert_eq!(resp.status().as_u16(), 405);
    assert_eq!(server.stats().requests_to(Endpoint::Other), 2);
}
