//! Never pay twice, never lose a video: duplicate submits, ambiguous submits, background saving,
//! download faults and the list_tasks tool, end to end against veo-mock.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use veo_mock::{Fault, FaultRule, MockConfig, MockServer, Scope};
use veo_tests::{
    call_checked as call, config, connect_in_process, mock, png_base64, request, structured,
    task_id, text, without_background_polls,
};

/// A server config that saves into `out`.
fn saving_config(mock: &MockServer, out: &Path) -> veo_mcp::Config {
    let mut cfg = config(mock.base_url(), Some(mock.api_key()));
    cfg.output_dir = Some(out.to_path_buf());
    cfg
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    for _ in 0..600 {
        if let Some(value) = check() {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}")
}

#[tokio::test]
async fn identical_submits_make_one_task_unless_a_duplicate_is_asked_for() {
    let mock = mock(MockConfig::fast()).await;
    let (client, _) =
        connect_in_process(veo_tests::server(config(mock.base_url(), Some(mock.api_key()))).await)
            .await;
    let args = request("a lighthouse at dusk");
    let first = call(&client, "generate_transition_video", args.clone()).await;
    assert_eq!(first.is_error, Some(false), "{}", text(&first));
    assert_eq!(structured(&first)["deduplicated"], false);

    // The agent retries the same call: same task, nothing paid again.
    let again = call(&client, "generate_transition_video", args.clone()).await;
    assert_eq!(again.is_error, Some(false), "{}", text(&again));
    assert_eq!(structured(&again)["deduplicated"], true);
    assert_eq!(structured(&again)["task_id"], structured(&first)["task_id"]);
    assert!(text(&again).contains("allow_duplicate"), "{}", text(&again));
    assert_eq!(mock.stats().tasks_created, 1);
    assert_eq!(mock.stats().submits(), 1);

    // A different prompt, or an explicit duplicate, is a new paid task.
    let other = call(
        &client,
        "generate_transition_video",
        request("a lighthouse at dawn"),
    )
    .await;
    assert_eq!(structured(&other)["deduplicated"], false);
    let mut twice = args.clone();
    twice["allow_duplicate"] = json!(true);
    let explicit = call(&client, "generate_transition_video", twice).await;
    assert_eq!(structured(&explicit)["deduplicated"], false);
    assert_ne!(
        structured(&explicit)["task_id"],
        structured(&first)["task_id"]
    );
    assert_eq!(mock.stats().tasks_created, 3);

    // Two identical calls racing each other still make one task.
    let racing = request("two agents at once");
    let (a, b) = tokio::join!(
        call(&client, "generate_transition_video", racing.clone()),
        call(&client, "generate_transition_video", racing.clone()),
    );
    assert_eq!(structured(&a)["task_id"], structured(&b)["task_id"]);
    assert_eq!(mock.stats().tasks_created, 4);

    let bad = call(
        &client,
        "generate_transition_video",
        json!({"image": png_base64(8, 8), "last_image": png_base64(8, 8), "prompt": "p", "allow_duplicate": "yes"}),
    )
    .await;
    assert_eq!(bad.is_error, Some(true));
    assert!(text(&bad).contains("allow_duplicate"), "{}", text(&bad));
}

#[tokio::test]
async fn an_ambiguous_submit_stays_visible_and_is_not_paid_twice() {
    let mock = mock(MockConfig::fast().with_fault(FaultRule::next(
        Scope::Submit,
        Fault::CreatedThenReset,
        1,
    )))
    .await;
    let (client, _) =
        connect_in_process(veo_tests::server(config(mock.base_url(), Some(mock.api_key()))).await)
            .await;
    let args = request("the reply to this one is lost");
    let lost = call(&client, "generate_transition_video", args.clone()).await;
    assert_eq!(lost.is_error, Some(true), "{}", text(&lost));
    assert_eq!(mock.stats().tasks_created, 1, "the platform created it");

    // The agent retries: the server refuses to pay again while the outcome is unknown.
    let retry = call(&client, "generate_transition_video", args.clone()).await;
    assert_eq!(retry.is_error, Some(true));
    let message = text(&retry);
    assert!(message.contains("outcome is unknown"), "{message}");
    assert!(message.contains("allow_duplicate"), "{message}");
    assert_eq!(mock.stats().submits(), 1, "no second request was sent");
    assert_eq!(mock.stats().tasks_created, 1);

    // The journal shows the submit in doubt.
    let listed = call(&client, "list_tasks", json!({"status": "outcome_unknown"})).await;
    let tasks = structured(&listed)["tasks"].as_array().unwrap().clone();
    assert_eq!(tasks.len(), 1, "{listed:?}");
    assert_eq!(tasks[0]["submit_state"], "outcome_unknown");
    assert_eq!(tasks[0]["prompt"], "the reply to this one is lost");
    assert!(tasks[0].get("task_id").is_none());
    assert!(
        tasks[0]["detail"]
            .as_str()
            .unwrap()
            .contains("outcome is unknown")
    );

    // Only an explicit decision pays again.
    let mut explicit = args;
    explicit["allow_duplicate"] = json!(true);
    let paid = call(&client, "generate_transition_video", explicit).await;
    assert_eq!(paid.is_error, Some(false), "{}", text(&paid));
    assert_eq!(mock.stats().tasks_created, 2);
}

#[tokio::test]
async fn a_task_that_finishes_with_nobody_asking_is_saved_before_its_link_expires() {
    let mut mock_config = MockConfig::fast().with_link_ttl(Duration::from_secs(3));
    mock_config.sign_links_at_completion = true;
    let mock = mock(mock_config).await;
    let out = tempfile::tempdir().unwrap();
    let (client, _) =
        connect_in_process(veo_tests::server(saving_config(&mock, out.path())).await).await;
    let submitted = call(
        &client,
        "generate_transition_video",
        request("saved while nobody waits"),
    )
    .await;
    let task_id = task_id(&submitted);
    // The client goes away and never asks for the result.
    client.cancel().await.unwrap();

    let file = out.path().join(&task_id).join(format!("{task_id}.mp4"));
    let saved = eventually("the video to be saved", || std::fs::read(&file).ok()).await;
    assert_eq!(saved, veo_mock::SAMPLE_MP4, "the complete video");
    assert_eq!(mock.stats().downloads, 1);
    assert_eq!(
        files_in(&out.path().join(&task_id)),
        vec![format!("{task_id}.mp4")],
        "nothing but the video"
    );
}

#[tokio::test]
async fn download_faults_are_retried_and_no_truncated_file_is_left() {
    let mock = mock(
        MockConfig::fast()
            .with_fault(FaultRule::next(Scope::Download, Fault::MalformedJson, 1))
            .with_fault(FaultRule::next(Scope::Download, Fault::ConnectionReset, 1))
            .with_fault(FaultRule::next(Scope::Download, Fault::Http500, 1)),
    )
    .await;
    let out = tempfile::tempdir().unwrap();
    // This test's own get_task_result call does the saving.
    let cfg = without_background_polls(saving_config(&mock, out.path()));
    let (client, _) = connect_in_process(veo_tests::server(cfg).await).await;
    let mut args = request("two samples");
    args["sample_count"] = json!(2);
    let submitted = call(&client, "generate_transition_video", args).await;
    let task_id = task_id(&submitted);
    let report = call(
        &client,
        "get_task_result",
        json!({"task_id": task_id, "wait_seconds": 15}),
    )
    .await;
    assert_eq!(report.is_error, Some(false), "{}", text(&report));
    let value = structured(&report);
    assert_eq!(value["status"], "succeeded");
    let dir = out.path().join(&task_id);
    for (i, video) in value["videos"].as_array().unwrap().iter().enumerate() {
        let path = PathBuf::from(video["saved_path"].as_str().expect("saved_path"));
        assert_eq!(path, dir.join(format!("{task_id}-{}.mp4", i + 1)));
        assert_eq!(std::fs::read(&path).unwrap(), veo_mock::SAMPLE_MP4);
    }
    assert_eq!(
        files_in(&dir),
        vec![format!("{task_id}-1.mp4"), format!("{task_id}-2.mp4")],
        "no partial files left"
    );
    assert!(mock.stats().faults_injected >= 3);
    // Each saved file is also offered as an MCP resource link.
    let links: Vec<String> = report
        .content
        .iter()
        .filter_map(|c| match c {
            rmcp::model::ContentBlock::ResourceLink(r) => Some(r.uri.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(links.len(), 2, "{:?}", report.content);
    assert_eq!(links[0], veo_mcp::mcp::resources::video_uri(&task_id, 1));
    assert_eq!(links[1], veo_mcp::mcp::resources::video_uri(&task_id, 2));

    // list_tasks shows where the videos are.
    let listed = call(&client, "list_tasks", json!({"status": "succeeded"})).await;
    let task = &structured(&listed)["tasks"][0];
    assert_eq!(task["task_id"], task_id.as_str());
    assert!(task["videos"][1]["saved_path"].as_str().is_some());
    assert!(text(&listed).contains("saved:"), "{}", text(&listed));
}

#[tokio::test]
async fn a_download_that_keeps_failing_leaves_no_file_and_says_so() {
    let mock = mock(
        MockConfig::fast().with_fault(FaultRule::always(Scope::Download, Fault::MalformedJson)),
    )
    .await;
    let out = tempfile::tempdir().unwrap();
    let cfg = without_background_polls(saving_config(&mock, out.path()));
    let (client, _) = connect_in_process(veo_tests::server(cfg).await).await;
    let submitted = call(&client, "generate_transition_video", request("never whole")).await;
    let task_id = task_id(&submitted);
    let report = call(
        &client,
        "get_task_result",
        json!({"task_id": task_id, "wait_seconds": 20}),
    )
    .await;
    let value = structured(&report);
    assert_eq!(value["status"], "succeeded");
    assert!(value["videos"][0].get("saved_path").is_none());
    assert!(
        value["videos"][0]["url"].as_str().is_some(),
        "the link is still given"
    );
    assert!(text(&report).contains("Saving failed"), "{}", text(&report));
    assert!(
        files_in(&out.path().join(&task_id)).is_empty(),
        "no truncated file under any name"
    );
    let listed = call(&client, "list_tasks", json!({})).await;
    assert!(
        structured(&listed)["tasks"][0]["save_error"]
            .as_str()
            .is_some(),
        "{listed:?}"
    );
}

#[tokio::test]
async fn list_tasks_checks_its_arguments_and_finds_lost_task_ids() {
    let mock = mock(MockConfig::fast()).await;
    let (client, _) =
        connect_in_process(veo_tests::server(config(mock.base_url(), Some(mock.api_key()))).await)
            .await;
    let empty = call(&client, "list_tasks", json!({})).await;
    assert_eq!(structured(&empty)["tasks"], json!([]));
    for prompt in ["first", "second", "third"] {
        call(&client, "generate_transition_video", request(prompt)).await;
    }
    let listed = call(&client, "list_tasks", json!({"limit": 2})).await;
    let tasks = structured(&listed)["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[0]["prompt"], "third", "newest first");
    assert_eq!(tasks[1]["prompt"], "second");
    assert!(tasks[0]["created_at"].as_str().unwrap().ends_with('Z'));
    for bad in [
        json!({"status": "done"}),
        json!({"limit": 0}),
        json!({"limit": 101}),
        json!({"colour": "red"}),
    ] {
        let result = call(&client, "list_tasks", bad.clone()).await;
        assert_eq!(result.is_error, Some(true), "{bad}");
    }
    let result = call(&client, "list_tasks", json!({"status": "done"})).await;
    assert!(text(&result).contains("succeeded"), "{}", text(&result));
}

#[tokio::test]
async fn a_download_failing_longer_than_one_round_is_saved_later_unasked() {
    // More failures than one save round absorbs: the watcher must come back on its own.
    let mock =
        mock(MockConfig::fast().with_fault(FaultRule::next(Scope::Download, Fault::Http500, 8)))
            .await;
    let out = tempfile::tempdir().unwrap();
    let (client, _) =
        connect_in_process(veo_tests::server(saving_config(&mock, out.path())).await).await;
    let submitted = call(
        &client,
        "generate_transition_video",
        request("stubborn storage"),
    )
    .await;
    let task_id = task_id(&submitted);
    let file = out.path().join(&task_id).join(format!("{task_id}.mp4"));
    let saved = eventually("the video to be saved after the storage recovers", || {
        std::fs::read(&file).ok()
    })
    .await;
    assert_eq!(saved, veo_mock::SAMPLE_MP4);
    assert!(mock.stats().faults_injected >= 8);
    let listed = call(&client, "list_tasks", json!({})).await;
    let task = &structured(&listed)["tasks"][0];
    assert!(
        task.get("save_error").is_none(),
        "the error is cleared once saved: {task}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn videos_whose_links_live_seconds_are_saved_unasked() {
    // Links live 5 s from completion; tasks take 2 to 9 s; nobody asks for a result. The
    // watcher's own timing (not the tests' quick one) must see each completion in time.
    let mut mock_config = MockConfig::fast()
        .with_timing(Duration::from_millis(100), Duration::from_secs(2))
        .with_link_ttl(Duration::from_secs(5));
    mock_config.sign_links_at_completion = true;
    let mock = mock(mock_config).await;
    let out = tempfile::tempdir().unwrap();
    let cfg =
        saving_config(&mock, out.path()).with_poll_timing(veo_mcp::config::PollTiming::default());
    let (client, _) = connect_in_process(veo_tests::server(cfg).await).await;
    let mut ids = Vec::new();
    for (i, seconds) in [2, 3, 4, 5, 6, 7, 8, 9].into_iter().enumerate() {
        let prompt = format!(
            "short-lived link {i} [mock:processing_ms={}]",
            seconds * 1000
        );
        let submitted = call(&client, "generate_transition_video", request(&prompt)).await;
        ids.push(task_id(&submitted));
    }
    let saved = |id: &str| {
        std::fs::read_dir(out.path().join(id))
            .map(|d| d.count() == 1)
            .unwrap_or(false)
    };
    eventually("every video saved", || {
        ids.iter().all(|id| saved(id)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_links_do_not_keep_other_videos_from_being_saved() {
    let mock = mock(MockConfig::fast()).await;
    let out = tempfile::tempdir().unwrap();
    let mut cfg = saving_config(&mock, out.path());
    cfg.client.download_idle_timeout = Duration::from_secs(2);
    let (client, _) = connect_in_process(veo_tests::server(cfg).await).await;
    // The first two downloads send 16 bytes and hang; six more videos wait behind them.
    mock.set_faults(vec![FaultRule::next(Scope::Download, Fault::Stall, 2)]);
    let mut ids = Vec::new();
    for i in 0..8 {
        let submitted = call(
            &client,
            "generate_transition_video",
            request(&format!("v{i}")),
        )
        .await;
        ids.push(task_id(&submitted));
    }
    let saved = |id: &str| {
        std::fs::read_dir(out.path().join(id))
            .map(|d| {
                d.filter_map(Result::ok)
                    .any(|e| e.path().extension().is_some_and(|x| x == "mp4"))
            })
            .unwrap_or(false)
    };
    eventually("every video saved", || {
        ids.iter().all(|id| saved(id)).then_some(())
    })
    .await;
    assert_eq!(mock.stats().faults_injected, 2, "both links stalled");
}
