//! Two applications sharing one journal file and one output directory, as two servers on one
//! machine do (or replicas on a shared volume): a server that shuts down hands its tasks over at
//! once, and two saving the same video at the same moment leave one whole file.

use std::time::{Duration, Instant};

use veo_core::{ImagePolicy, TaskStatus, TransitionRequest};
use veo_mcp::app::{App, ResultOptions};
use veo_mcp::journal::JournalLocation;
use veo_mcp::spend::CannotAsk;
use veo_mock::{FaultRule, MockConfig};
use veo_tests::{config, mock, png_base64};

async fn submit(app: &App, prompt: &str) -> String {
    let request = TransitionRequest::new(png_base64(64, 36), png_base64(64, 36), prompt);
    let prepared = veo_core::prepare(request, &ImagePolicy::default())
        .await
        .expect("a valid request");
    app.submit(&prepared, false, &CannotAsk)
        .await
        .expect("submitted")
        .task_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_shuts_down_hands_its_tasks_over_at_once() {
    let mock = mock(MockConfig::fast()).await;
    let dir = tempfile::tempdir().unwrap();
    let journal = JournalLocation::File(dir.path().join("journal.sqlite3"));
    // A long lease: only a hand-over lets anyone else follow the task soon.
    let shared = config(mock.base_url(), Some(mock.api_key()))
        .with_journal(journal.clone())
        .with_lease(Duration::from_secs(600));
    let first = App::start(shared.clone()).await.unwrap();
    let task_id = submit(&first, "handed over [mock:processing_ms=600000]").await;
    // Its watcher holds the task from the write that recorded its id, before any poll.
    let probe = veo_mcp::journal::open(&journal).await.unwrap();
    let lease = Duration::from_secs(600);
    assert!(
        !probe
            .claim(&task_id, "another server", lease)
            .await
            .unwrap(),
        "held by the first server"
    );

    first.shutdown().await;
    assert!(
        probe
            .claim(&task_id, "another server", lease)
            .await
            .unwrap(),
        "handed back at shutdown, not when the lease runs out"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_saving_one_video_at_once_leave_one_whole_file() {
    let mock = mock(MockConfig::fast()).await;
    // Slow downloads, so that both are under way at the same time.
    mock.add_fault("download:slow=2000".parse::<FaultRule>().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("videos");
    let shared = config(mock.base_url(), Some(mock.api_key()))
        .with_journal(JournalLocation::File(dir.path().join("journal.sqlite3")))
        .with_output_dir(Some(out.clone()))
        .with_background(false);
    let one = App::start(shared.clone()).await.unwrap();
    let other = App::start(shared).await.unwrap();
    let task_id = submit(&one, "saved twice at once").await;
    let started = Instant::now();
    loop {
        let look = ResultOptions {
            wait_seconds: Some(0),
            save_budget: Some(Duration::ZERO),
            ..ResultOptions::default()
        };
        if one.result(&task_id, look, |_| {}).await.unwrap().status == TaskStatus::Succeeded {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "never done");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let save = || ResultOptions {
        wait_seconds: Some(0),
        save_budget: Some(Duration::from_secs(20)),
        ..ResultOptions::default()
    };
    let downloads_before = mock.stats().downloads;
    let (a, b) = tokio::join!(
        one.result(&task_id, save(), |_| {}),
        other.result(&task_id, save(), |_| {})
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        mock.stats().downloads - downloads_before,
        2,
        "both saved it at the same time"
    );
    let path = a.videos[0].saved_path.clone().expect("saved by one");
    assert_eq!(
        b.videos[0].saved_path.as_ref(),
        Some(&path),
        "the same file"
    );
    let bytes = std::fs::read(&path).unwrap();
    veo_core::download::check_mp4(&bytes).expect("one whole MP4");
    let names: Vec<String> = std::fs::read_dir(std::path::Path::new(&path).parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "no copy, no leftover: {names:?}");
    let entry = one.journal().get(&task_id).await.unwrap().unwrap();
    assert!(entry.all_saved());
}
