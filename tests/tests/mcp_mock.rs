//! The MCP tools end to end against veo-mock, in-process: an rmcp client over an in-memory pipe,
//! the veo server, veo-core's HTTP client, and the mock's counters as the witness of what was sent.

use std::time::Duration;

use rmcp::model::{CallToolRequest, CallToolRequestParams, ClientRequest};
use rmcp::service::PeerRequestOptions;
use serde_json::{Value, json};
use veo_mock::{Endpoint, Fault, FaultRule, MockConfig, Outcome, Scope};
use veo_tests::{
    call_checked as call, config, connect_in_process, mock, png_base64, request, structured,
    task_id, text, without_background_polls,
};

#[tokio::test]
async fn a_video_is_generated_waited_for_with_progress_and_downloadable() {
    let mock = mock(
        MockConfig::default().with_timing(Duration::from_millis(300), Duration::from_millis(2500)),
    )
    .await;
    let (client, recorder) =
        connect_in_process(veo_tests::server(config(mock.base_url(), Some(mock.api_key()))).await)
            .await;

    let mut args = request("a paper boat drifts from dawn into dusk");
    args["sample_count"] = json!(2);
    args["resolution"] = json!("1080p");
    let submitted = call(&client, "generate_transition_video", args).await;
    assert_eq!(submitted.is_error, Some(false), "{}", text(&submitted));
    let task_id = structured(&submitted)["task_id"]
        .as_str()
        .expect("task_id")
        .to_string();
    assert_eq!(structured(&submitted)["parameters"]["sample_count"], 2);
    assert_eq!(structured(&submitted)["parameters"]["resolution"], "1080p");
    assert!(text(&submitted).contains("get_task_result"));
    assert_eq!(mock.stats().tasks_created, 1);

    let report = call(
        &client,
        "get_task_result",
        json!({"task_id": task_id, "wait_seconds": 15}),
    )
    .await;
    assert_eq!(report.is_error, Some(false), "{}", text(&report));
    let report = structured(&report).clone();
    assert_eq!(report["status"], "succeeded", "{report}");
    assert_eq!(report["done"], true);
    let videos = report["videos"].as_array().expect("videos");
    assert_eq!(videos.len(), 2, "one video per sample");

    // Progress was reported while waiting: increasing values, ending at 100 of 100.
    let progress = recorder.progress.lock().unwrap().clone();
    assert!(progress.len() >= 2, "progress notifications: {progress:?}");
    assert!(
        progress.windows(2).all(|w| w[0].progress < w[1].progress),
        "{progress:?}"
    );
    let last = progress.last().unwrap();
    assert_eq!((last.progress, last.total), (100.0, Some(100.0)));
    let first = progress[0].message.clone().unwrap_or_default();
    assert!(
        first.starts_with("queued") || first.starts_with("processing"),
        "{progress:?}"
    );
    assert!(
        last.message
            .as_deref()
            .unwrap_or("")
            .starts_with("succeeded"),
        "{progress:?}"
    );

    // Each link serves a real MP4 and states when it expires.
    for video in videos {
        assert!(video["expires_at"].as_str().is_some(), "{video}");
        assert!(video["expires_in_seconds"].as_u64().unwrap() > 3000);
        assert!(
            video.get("saved_path").is_none(),
            "saving is off in this configuration: links only"
        );
        let bytes = reqwest::get(video["url"].as_str().unwrap())
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(&bytes[4..8], b"ftyp", "an MP4 file");
        veo_core::download::check_mp4(&bytes).expect("a complete MP4");
    }
    let stats = mock.stats();
    assert_eq!(stats.tasks_created, 1, "exactly one paid task");
    assert_eq!(stats.submits(), 1);
}

#[tokio::test]
async fn a_failing_task_reports_its_reason() {
    let mock = mock(MockConfig::fast()).await;
    let (client, _) =
        connect_in_process(veo_tests::server(config(mock.base_url(), Some(mock.api_key()))).await)
            .await;
    let submitted = call(
        &client,
        "generate_transition_video",
        request("a storm [mock:fail=content policy: violence]"),
    )
    .await;
    assert_eq!(submitted.is_error, Some(false), "{}", text(&submitted));
    let task_id = structured(&submitted)["task_id"].clone();
    let report = call(
        &client,
        "get_task_result",
        json!({"task_id": task_id, "wait_seconds": 10}),
    )
    .await;
    assert_eq!(
        report.is_error,
        Some(false),
        "a failed task is a result, not a tool error"
    );
    let value = structured(&report);
    assert_eq!(value["status"], "failed");
    assert_eq!(value["done"], true);
    assert_eq!(value["failure_reason"], "content policy: violence");
    assert!(value["videos"].as_array().unwrap().is_empty());
    assert!(text(&report).contains("Reason: content policy: violence"));
}

#[tokio::test]
async fn every_class_of_bad_input_is_refused_before_anything_is_sent() {
    let mock = mock(MockConfig::fast()).await;
    let dir = tempfile::tempdir().unwrap();
    let gif = dir.path().join("frame.gif");
    std::fs::write(&gif, b"GIF89a\x01\x00\x01\x00\x00\x00\x00;").unwrap();
    let mut cfg = config(mock.base_url(), Some(mock.api_key()));
    cfg.image_policy = veo_core::ImagePolicy {
        allowed_roots: vec![dir.path().to_path_buf()],
    };
    let (client, _) = connect_in_process(veo_tests::server(cfg).await).await;

    let png = png_base64(16, 9);
    let cases: Vec<(Value, &[&str])> = vec![
        (json!({"image": png, "last_image": png}), &["prompt"]),
        (
            json!({"image": png, "last_image": png, "prompt": "   "}),
            &["prompt", "empty"],
        ),
        (
            json!({"image": png, "last_image": png, "prompt": "x".repeat(6000)}),
            &["prompt", "5000"],
        ),
        (
            json!({"image": png, "last_image": png, "prompt": "p", "sample_count": 9}),
            &["sample_count", "1"],
        ),
        (
            json!({"image": png, "last_image": png, "prompt": "p", "seed": -1}),
            &["seed"],
        ),
        (
            json!({"image": png, "last_image": png, "prompt": "p", "seed": 5_000_000_000u64}),
            &["seed"],
        ),
        (
            json!({"image": png, "last_image": png, "prompt": "p", "resolution": "4k"}),
            &["resolution", "720p", "1080p"],
        ),
        (
            json!({"image": png, "last_image": png, "prompt": "p", "aspect_ratio": "4:3"}),
            &["aspect_ratio", "16:9"],
        ),
        (
            json!({"image": png, "last_image": png, "prompt": "p", "duration_seconds": 5}),
            &["duration_seconds", "4", "6", "8"],
        ),
        (
            json!({"image": png, "last_image": png, "prompt": "p", "person_generation": "everyone"}),
            &["person_generation"],
        ),
        (
            json!({"image": png, "last_image": png, "prompt": "p", "model": "veo-2"}),
            &["model", "veo-3.1"],
        ),
        (
            json!({"image": png, "last_image": png, "prompt": "p", "generate_audio": "yes"}),
            &["generate_audio"],
        ),
        (
            json!({"image": png, "last_image": png, "prompt": "p", "negative_promt": "blur"}),
            &["negative_promt", "negative_prompt"],
        ),
        (
            json!({"image": "not base64 at all!", "last_image": png, "prompt": "p"}),
            &["image"],
        ),
        (
            json!({"image": gif.display().to_string(), "last_image": png, "prompt": "p"}),
            &["image", "JPEG", "PNG"],
        ),
        (
            json!({"image": dir.path().join("missing.png").display().to_string(), "last_image": png, "prompt": "p"}),
            &["image", "does not exist"],
        ),
        (
            json!({"image": "/etc/hostname", "last_image": png, "prompt": "p"}),
            &["image", "VEO_ALLOWED_ROOTS"],
        ),
        (
            json!({"image": "C:\\Users\\me\\first.png", "last_image": png, "prompt": "p"}),
            &["image", "Windows"],
        ),
        (
            json!({"image": "ftp://example.com/a.png", "last_image": png, "prompt": "p"}),
            &["image"],
        ),
        (
            json!({"image": png, "last_image": dir.path().display().to_string(), "prompt": "p"}),
            &["last_image", "directory"],
        ),
    ];
    for (args, expected) in cases {
        let result = call(&client, "generate_transition_video", args.clone()).await;
        let message = text(&result);
        assert_eq!(result.is_error, Some(true), "{args}: {message}");
        for needle in expected {
            assert!(
                message.to_lowercase().contains(&needle.to_lowercase()),
                "expected {needle:?} in: {message}"
            );
        }
        assert!(message.contains("Nothing was sent"), "{message}");
    }
    // Several problems at once are reported together.
    let result = call(
        &client,
        "generate_transition_video",
        json!({"image": png, "last_image": "", "sample_count": 0, "resolution": "8k"}),
    )
    .await;
    let message = text(&result);
    for field in ["last_image", "prompt", "sample_count", "resolution"] {
        assert!(message.contains(field), "{field} in {message}");
    }
    assert_eq!(
        mock.stats().total_requests(),
        0,
        "no request reached the platform"
    );
}

#[tokio::test]
async fn a_missing_key_and_a_wrong_key_are_explained() {
    let mock = mock(MockConfig::fast()).await;
    let (client, _) =
        connect_in_process(veo_tests::server(config(mock.base_url(), None)).await).await;
    let result = call(&client, "generate_transition_video", request("p")).await;
    assert_eq!(result.is_error, Some(true));
    assert!(
        text(&result).contains("JIEKOU_API_KEY"),
        "{}",
        text(&result)
    );
    assert_eq!(
        mock.stats().total_requests(),
        0,
        "nothing sent without a key"
    );

    let (client, _) =
        connect_in_process(veo_tests::server(config(mock.base_url(), Some("wrong-key"))).await)
            .await;
    let result = call(&client, "generate_transition_video", request("p")).await;
    let message = text(&result);
    assert_eq!(result.is_error, Some(true));
    assert!(message.contains("JIEKOU_API_KEY"), "{message}");
    assert!(!message.contains("wrong-key"), "the key is never echoed");
    let stats = mock.stats();
    assert_eq!(
        stats.count(
            Endpoint::Submit(veo_mock::Model::Standard),
            Outcome::Status(401)
        ),
        1,
        "one attempt, not retried"
    );
    assert_eq!(stats.tasks_created, 0);
}

#[tokio::test]
async fn a_rate_limit_is_reported_with_when_to_retry() {
    let mock = mock(MockConfig::fast().with_fault(FaultRule::always(
        Scope::Submit,
        Fault::RateLimited { retry_after_s: 60 },
    )))
    .await;
    let (client, _) =
        connect_in_process(veo_tests::server(config(mock.base_url(), Some(mock.api_key()))).await)
            .await;
    let result = call(&client, "generate_transition_video", request("p")).await;
    let message = text(&result);
    assert_eq!(result.is_error, Some(true), "{message}");
    assert!(message.to_lowercase().contains("rate"), "{message}");
    assert!(
        message.contains("60"),
        "the Retry-After is passed on: {message}"
    );
    assert_eq!(mock.stats().tasks_created, 0);
}

#[tokio::test]
async fn an_ambiguous_submit_is_not_retried_and_says_so() {
    for fault in [Fault::CreatedThen500, Fault::CreatedThenReset] {
        let mock =
            mock(MockConfig::fast().with_fault(FaultRule::next(Scope::Submit, fault, 1))).await;
        let (client, _) = connect_in_process(
            veo_tests::server(config(mock.base_url(), Some(mock.api_key()))).await,
        )
        .await;
        let result = call(&client, "generate_transition_video", request("p")).await;
        let message = text(&result);
        assert_eq!(result.is_error, Some(true), "{message}");
        assert!(
            message.contains("may have") || message.contains("unknown"),
            "{message}"
        );
        assert!(message.contains("do not resubmit"), "{message}");
        let stats = mock.stats();
        assert_eq!(stats.submits(), 1, "never resubmitted automatically");
        assert_eq!(stats.tasks_created, 1);
    }
}

#[tokio::test]
async fn transient_query_failures_are_ridden_out_and_unknown_tasks_reported() {
    let mock = mock(MockConfig::fast()).await;
    // The background watcher stays quiet, so the faults below hit this call's queries.
    let cfg = without_background_polls(config(mock.base_url(), Some(mock.api_key())));
    let (client, _) = connect_in_process(veo_tests::server(cfg).await).await;
    let submitted = call(&client, "generate_transition_video", request("p")).await;
    let task_id = structured(&submitted)["task_id"].clone();
    mock.set_faults(vec![
        FaultRule::next(Scope::Query, Fault::Http502Html, 1),
        FaultRule::next(Scope::Query, Fault::ConnectionReset, 1),
    ]);
    let report = call(
        &client,
        "get_task_result",
        json!({"task_id": task_id, "wait_seconds": 10}),
    )
    .await;
    assert_eq!(report.is_error, Some(false), "{}", text(&report));
    assert_eq!(structured(&report)["status"], "succeeded");
    assert_eq!(mock.stats().faults_injected, 2, "both faults met this call");

    let unknown = call(
        &client,
        "get_task_result",
        json!({"task_id": "no-such-task", "wait_seconds": 0}),
    )
    .await;
    assert_eq!(unknown.is_error, Some(true));
    assert!(
        text(&unknown).contains("no-such-task"),
        "{}",
        text(&unknown)
    );
}

#[tokio::test]
async fn cancelling_a_wait_stops_the_polling() {
    let mock = mock(
        MockConfig::default().with_timing(Duration::from_millis(100), Duration::from_secs(120)),
    )
    .await;
    // The background watcher stays quiet here, so every poll counted is the wait's.
    let cfg = without_background_polls(config(mock.base_url(), Some(mock.api_key())));
    let (client, recorder) = connect_in_process(veo_tests::server(cfg).await).await;
    let submitted = call(&client, "generate_transition_video", request("p")).await;
    let task_id = task_id(&submitted);

    let mut args = serde_json::Map::new();
    args.insert("task_id".into(), json!(task_id));
    args.insert("wait_seconds".into(), json!(20));
    let handle = client
        .peer()
        .send_cancellable_request(
            ClientRequest::CallToolRequest(CallToolRequest::new(
                CallToolRequestParams::new("get_task_result").with_arguments(args),
            )),
            PeerRequestOptions::no_options(),
        )
        .await
        .expect("request sent");
    // Let the wait get going: at least one poll and one progress notification.
    for _ in 0..100 {
        if mock.stats().task_results() >= 1 && !recorder.progress.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(mock.stats().task_results() >= 1);
    handle
        .cancel(Some("user changed their mind".into()))
        .await
        .expect("cancel sent");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let polls_after_cancel = mock.stats().task_results();
    let notes_after_cancel = recorder.progress.lock().unwrap().len();
    // Longer than both the longest poll interval (5 s) and the progress heartbeat (3 s).
    tokio::time::sleep(Duration::from_millis(5500)).await;
    assert_eq!(
        mock.stats().task_results(),
        polls_after_cancel,
        "no polling after the cancellation"
    );
    assert_eq!(
        recorder.progress.lock().unwrap().len(),
        notes_after_cancel,
        "no progress after the cancellation"
    );
    // The server is still fine for the next call.
    let look = call(
        &client,
        "get_task_result",
        json!({"task_id": task_id, "wait_seconds": 0}),
    )
    .await;
    assert_eq!(structured(&look)["status"], "processing");
}

#[tokio::test]
async fn a_waiting_call_and_the_background_watcher_do_not_both_poll() {
    let mock =
        mock(MockConfig::default().with_timing(Duration::from_millis(100), Duration::from_secs(5)))
            .await;
    // The test watcher would poll every 200 ms to 1 s if it polled during the wait.
    let (client, _) =
        connect_in_process(veo_tests::server(config(mock.base_url(), Some(mock.api_key()))).await)
            .await;
    let submitted = call(&client, "generate_transition_video", request("polite")).await;
    let task_id = structured(&submitted)["task_id"].clone();
    let report = call(
        &client,
        "get_task_result",
        json!({"task_id": task_id, "wait_seconds": 15}),
    )
    .await;
    assert_eq!(structured(&report)["status"], "succeeded");
    let polls = mock.stats().task_results();
    assert!(
        polls <= 5,
        "a 5 s task waited on by one call took {polls} task-result requests"
    );
}

#[tokio::test]
async fn a_cut_off_reply_to_a_status_query_is_asked_again() {
    let mock = mock(MockConfig::fast()).await;
    let cfg = without_background_polls(config(mock.base_url(), Some(mock.api_key())));
    let (client, _) = connect_in_process(veo_tests::server(cfg).await).await;
    let submitted = call(&client, "generate_transition_video", request("p")).await;
    let task_id = structured(&submitted)["task_id"].clone();
    // A 200 whose JSON is cut off: a read, so it is simply asked again.
    mock.set_faults(vec![FaultRule::next(Scope::Query, Fault::MalformedJson, 1)]);
    let report = call(
        &client,
        "get_task_result",
        json!({"task_id": task_id, "wait_seconds": 10}),
    )
    .await;
    assert_eq!(report.is_error, Some(false), "{}", text(&report));
    assert_eq!(structured(&report)["status"], "succeeded");
    assert_eq!(mock.stats().faults_injected, 1);
}
