//! The application layer on its own, without MCP: the operations the tools and the command line
//! adapt, called directly against veo-mock.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use veo_core::{ImagePolicy, PreparedRequest, TaskStatus, TransitionRequest};
use veo_mcp::app::{App, ErrorClass, ResultOptions};
use veo_mcp::journal::{Begin, JournalLocation, NewSubmit, TaskFilter};
use veo_mcp::spend::CannotAsk;
use veo_mock::MockConfig;
use veo_tests::{config, mock, png_base64};

async fn prepared(prompt: &str) -> PreparedRequest {
    let request = TransitionRequest::new(png_base64(64, 36), png_base64(64, 36), prompt);
    veo_core::prepare(request, &ImagePolicy::default())
        .await
        .expect("a valid request")
}

#[tokio::test]
async fn the_app_submits_once_waits_with_updates_and_saves() {
    let mock = mock(MockConfig::fast()).await;
    let out = tempfile::tempdir().unwrap();
    let app = App::start(
        config(mock.base_url(), Some(mock.api_key()))
            .with_background(false)
            .with_output_dir(Some(out.path().to_path_buf())),
    )
    .await
    .unwrap();
    let request = prepared("straight to the app").await;
    let submitted = app.submit(&request, false, &CannotAsk).await.unwrap();
    assert!(!submitted.deduplicated);
    let again = app.submit(&request, false, &CannotAsk).await.unwrap();
    assert!(again.deduplicated);
    assert_eq!(again.task_id, submitted.task_id);
    assert_eq!(mock.stats().tasks_created, 1, "nothing was paid twice");

    let updates = Arc::new(AtomicUsize::new(0));
    let seen = updates.clone();
    let options = ResultOptions {
        wait_seconds: Some(15),
        ..ResultOptions::default()
    };
    let report = app
        .result(&submitted.task_id, options, move |_| {
            seen.fetch_add(1, Ordering::SeqCst);
        })
        .await
        .unwrap();
    assert_eq!(report.status, TaskStatus::Succeeded);
    assert!(
        updates.load(Ordering::SeqCst) >= 1,
        "the wait reported updates"
    );
    let saved = report.videos[0].saved_path.as_deref().expect("saved");
    let bytes = std::fs::read(saved).unwrap();
    veo_core::download::check_mp4(&bytes).expect("a complete MP4");
    assert_eq!(report.files.len(), 1);

    let listed = app.list(Some(TaskFilter::Succeeded), 10).await.unwrap();
    assert_eq!(listed.tasks.len(), 1);
    assert_eq!(listed.tasks[0].videos[0].saved_path.as_deref(), Some(saved));
}

#[tokio::test]
async fn errors_carry_their_class_and_nothing_is_sent_for_them() {
    let mock = mock(MockConfig::fast()).await;
    let no_key = App::start(config(mock.base_url(), None).with_background(false))
        .await
        .unwrap();
    let refused = no_key
        .submit(&prepared("no key").await, false, &CannotAsk)
        .await
        .unwrap_err();
    assert_eq!(refused.class(), ErrorClass::MissingApiKey);
    assert_eq!(mock.stats().total_requests(), 0, "nothing was sent");

    let app = App::start(config(mock.base_url(), Some(mock.api_key())).with_background(false))
        .await
        .unwrap();
    let look = ResultOptions {
        wait_seconds: Some(0),
        ..ResultOptions::default()
    };
    let unknown = app.result("no-such-task", look, |_| {}).await.unwrap_err();
    assert_eq!(unknown.class(), ErrorClass::NotFound);

    let mut bad = TransitionRequest::new("", "", "");
    bad.sample_count = 9;
    let invalid = veo_core::prepare(bad, &ImagePolicy::default())
        .await
        .unwrap_err();
    let error = veo_mcp::AppError::from(invalid);
    assert_eq!(error.class(), ErrorClass::InvalidInput);
}

#[tokio::test]
async fn only_an_app_with_a_background_watcher_follows_tasks_unasked() {
    let mock = mock(MockConfig::fast()).await;
    // The test config's watcher polls 300 ms after a submit.
    for background in [false, true] {
        mock.reset();
        let app =
            App::start(config(mock.base_url(), Some(mock.api_key())).with_background(background))
                .await
                .unwrap();
        app.submit(
            &prepared(&format!("background {background}")).await,
            false,
            &CannotAsk,
        )
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let polls = mock.stats().task_results();
        if background {
            assert!(polls >= 1, "the watcher follows the task");
        } else {
            assert_eq!(polls, 0, "a one-shot app polls only when asked");
        }
        app.stop_background();
    }
}

#[tokio::test]
async fn a_submit_left_half_sent_by_a_process_that_is_gone_is_judged_at_once() {
    // A process that started sending this very request, then was killed.
    let mut sender = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let owner = veo_mcp::process::owner_of(sender.id());
    sender.kill().unwrap();
    sender.wait().unwrap();
    let Some(owner) = owner else {
        return; // no /proc here: such submits are judged by age, as before
    };
    let mock = mock(MockConfig::fast()).await;
    let dir = tempfile::tempdir().unwrap();
    let journal = JournalLocation::File(dir.path().join("journal.sqlite3"));
    let request = prepared("interrupted mid-send").await;
    {
        let j = veo_mcp::journal::open(&journal).await.unwrap();
        let begun = j
            .begin_submit(
                NewSubmit {
                    fingerprint: request.fingerprint().await.unwrap(),
                    prompt: request.request.prompt.clone(),
                    parameters: (&request.request).into(),
                    owner: Some(owner),
                },
                Duration::from_secs(600),
                false,
                None,
            )
            .await
            .unwrap();
        assert!(matches!(begun, Begin::Proceed(_)));
    }
    let app = App::start(
        config(mock.base_url(), Some(mock.api_key()))
            .with_background(false)
            .with_journal(journal),
    )
    .await
    .unwrap();
    let listed = app.list(None, 10).await.unwrap();
    assert_eq!(
        listed.tasks[0].submit_state, "outcome_unknown",
        "judged at start"
    );
    let started = std::time::Instant::now();
    let retry = app.submit(&request, false, &CannotAsk).await.unwrap_err();
    assert_eq!(retry.class(), ErrorClass::SubmitOutcomeUnknown, "{retry}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no waiting on a dead sender"
    );
    assert_eq!(mock.stats().total_requests(), 0, "never resent");
}

#[tokio::test]
async fn a_finished_saved_task_is_answered_from_the_journal_without_asking() {
    let mock = mock(MockConfig::fast()).await;
    let out = tempfile::tempdir().unwrap();
    let app = App::start(
        config(mock.base_url(), Some(mock.api_key()))
            .with_background(false)
            .with_output_dir(Some(out.path().to_path_buf())),
    )
    .await
    .unwrap();
    let wait = || ResultOptions {
        wait_seconds: Some(15),
        ..ResultOptions::default()
    };
    let mut tasks = Vec::new();
    for prompt in ["long-lived links", "short-lived links [mock:ttl_s=60]"] {
        let task_id = app
            .submit(&prepared(prompt).await, false, &CannotAsk)
            .await
            .unwrap()
            .task_id;
        let done = app.result(&task_id, wait(), |_| {}).await.unwrap();
        assert!(done.videos[0].saved_path.is_some(), "{done:?}");
        tasks.push((task_id, done));
    }

    // Saved, with links valid for an hour: nothing to ask, nothing to write.
    let (task_id, first) = &tasks[0];
    let before = mock.stats().total_requests();
    let written = app
        .journal()
        .get(task_id)
        .await
        .unwrap()
        .unwrap()
        .updated_at;
    let again = app.result(task_id, wait(), |_| {}).await.unwrap();
    assert_eq!(mock.stats().total_requests(), before, "no request");
    assert_eq!(
        app.journal()
            .get(task_id)
            .await
            .unwrap()
            .unwrap()
            .updated_at,
        written,
        "no write"
    );
    assert_eq!(again.status, TaskStatus::Succeeded);
    assert_eq!(again.platform_status, first.platform_status);
    assert_eq!(again.videos[0].saved_path, first.videos[0].saved_path);
    assert_eq!(again.videos[0].url, first.videos[0].url);
    assert_eq!(again.next_step, first.next_step);

    // Links about to expire: the platform is asked, for fresh ones.
    let (task_id, _) = &tasks[1];
    let before = mock.stats().task_results();
    app.result(task_id, wait(), |_| {}).await.unwrap();
    assert_eq!(
        mock.stats().task_results(),
        before + 1,
        "asked for fresh links"
    );

    // The saved file gone: asked again (and saved again).
    let (task_id, first) = &tasks[0];
    std::fs::remove_file(first.videos[0].saved_path.as_ref().unwrap()).unwrap();
    let before = mock.stats().task_results();
    let resaved = app.result(task_id, wait(), |_| {}).await.unwrap();
    assert_eq!(mock.stats().task_results(), before + 1);
    assert!(std::path::Path::new(resaved.videos[0].saved_path.as_ref().unwrap()).is_file());
}
