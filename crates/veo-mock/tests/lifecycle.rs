//! Task lifecycle, result shape, markers, downloads and link expiry.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use veo_mock::{Endpoint, MockConfig, Outcome, SAMPLE_MP4};

fn status(v: &Value) -> &str {
    v["task"]["status"].as_str().unwrap_or("")
}

#[tokio::test]
async fn queued_processing_succeed_with_rising_progress() {
    let server = start(MockConfig::fast()).await;
    let id = submit(
        &server,
        "a cat [mock:queue_ms=1000] [mock:processing_ms=1500]",
    )
    .await;
    let seen = poll_to_end(&server, &id).await;

    let statuses: Vec<&str> = seen.iter().map(status).collect();
    assert_eq!(statuses[0], "TASK_STATUS_QUEUED", "{statuses:?}");
    assert!(statuses.contains(&"TASK_STATUS_PROCESSING"), "{statuses:?}");
    assert_eq!(*statuses.last().unwrap(), "TASK_STATUS_SUCCEED");
    // Status only moves forward.
    let rank = |s: &str| {
        [
            "TASK_STATUS_QUEUED",
            "TASK_STATUS_PROCESSING",
            "TASK_STATUS_SUCCEED",
        ]
        .iter()
        .position(|x| *x == s)
        .unwrap()
    };
    assert!(statuses.windows(2).all(|w| rank(w[0]) <= rank(w[1])));

    let processing: Vec<&Value> = seen
        .iter()
        .filter(|v| status(v) == "TASK_STATUS_PROCESSING")
        .collect();
    let progress: Vec<u64> = processing
        .iter()
        .map(|v| v["task"]["progress_percent"].as_u64().unwrap())
        .collect();
    let etas: Vec<u64> = processing
        .iter()
        .map(|v| v["task"]["eta"].as_u64().unwrap())
        .collect();
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert!(progress.first() < progress.last(), "{progress:?}");
    assert!(progress.iter().all(|p| *p < 100));
    assert!(etas.windows(2).all(|w| w[0] >= w[1]), "{etas:?}");
    assert!(*etas.first().unwrap() >= 1);

    let queued = &seen[0];
    assert_eq!(queued["task"]["progress_percent"], 0);
    assert!(queued["task"]["eta"].as_u64().unwrap() >= 1);
    assert!(queued["videos"].as_array().unwrap().is_empty());

    let done = seen.last().unwrap();
    assert_eq!(done["task"]["progress_percent"], 100);
    assert_eq!(done["task"]["eta"], 0);
    assert_eq!(done["task"]["reason"], "");
    assert_eq!(done["task"]["task_id"], id.as_str());
    assert_eq!(done["task"]["task_type"], "veo-3.1-generate-firstlastframe");
    assert_eq!(done["images"], json!([]));
    assert_eq!(done["audios"], json!([]));
    let videos = done["videos"].as_array().unwrap();
    assert_eq!(videos.len(), 1);
    assert_eq!(videos[0]["video_url_ttl"], "3600");
    assert_eq!(videos[0]["video_type"], "mp4");

    // Sloppy typing as on the platform: numbers as strings.
    let extra = &done["extra"];
    assert!(extra["seed"].as_str().unwrap().parse::<u32>().is_ok());
    let info = &extra["debug_info"];
    let t = |k: &str| info[k].as_str().unwrap().parse::<u64>().unwrap();
    assert!(t("submit_time_ms") <= t("execute_time_ms"));
    assert!(t("execute_time_ms") <= t("complete_time_ms"));
    assert!(
        info["request_info"]
            .as_str()
            .unwrap()
            .contains("sample_count=1")
    );
}

#[tokio::test]
async fn sample_count_videos_and_seed_echo() {
    let server = start(MockConfig::fast()).await;
    let mut b = body("three please");
    b["sample_count"] = json!(3);
    b["seed"] = json!(123);
    let (code, v) = post(&server, FAST_PATH, &b).await;
    assert_eq!(code, 200);
    let id = v["task_id"].as_str().unwrap();
    let done = poll_to_end(&server, id).await.pop().unwrap();
    assert_eq!(status(&done), "TASK_STATUS_SUCCEED");
    assert_eq!(done["extra"]["seed"], "123");
    assert_eq!(
        done["task"]["task_type"],
        "veo-3.1-fast-generate-firstlastframe"
    );
    let urls: Vec<&str> = done["videos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["video_url"].as_str().unwrap())
        .collect();
    assert_eq!(urls.len(), 3);
    for (n, url) in urls.iter().enumerate() {
        assert!(
            url.starts_with(&format!("{}/files/{id}/{n}.mp4?", server.base_url())),
            "{url}"
        );
        let resp = client().get(*url).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        assert_eq!(resp.headers()["content-type"], "video/mp4");
        assert_eq!(resp.bytes().await.unwrap().as_ref(), SAMPLE_MP4);
    }
    assert_eq!(server.stats().downloads, 3);
}

#[tokio::test]
async fn fail_marker_fails_with_reason() {
    let server = start(MockConfig::fast()).await;
    let id = submit(&server, "x [mock:fail=content policy violation]").await;
    let done = poll_to_end(&server, &id).await.pop().unwrap();
    assert_eq!(status(&done), "TASK_STATUS_FAILED");
    assert_eq!(done["task"]["reason"], "content policy violation");
    assert!(done["videos"].as_array().unwrap().is_empty());
    assert!(done["extra"]["debug_info"]["complete_time_ms"].is_string());
}

#[tokio::test]
async fn failure_rate_is_seeded_and_overridable() {
    let server = start(MockConfig::fast().with_failure_rate(1.0)).await;
    let id = submit(&server, "doomed [mock:duration_ms=50]").await;
    let done = poll_to_end(&server, &id).await.pop().unwrap();
    assert_eq!(status(&done), "TASK_STATUS_FAILED");
    assert!(!done["task"]["reason"].as_str().unwrap().is_empty());
    let id = submit(&server, "saved [mock:succeed] [mock:duration_ms=50]").await;
    let done = poll_to_end(&server, &id).await.pop().unwrap();
    assert_eq!(status(&done), "TASK_STATUS_SUCCEED");
}

#[tokio::test]
async fn same_seed_same_ids_after_reset() {
    let server = start(MockConfig::fast().with_seed(99)).await;
    let a = submit(&server, "p").await;
    server.reset();
    let b = submit(&server, "p").await;
    assert_eq!(a, b);
    let other = start(MockConfig::fast().with_seed(100)).await;
    assert_ne!(submit(&other, "p").await, a);
}

#[tokio::test]
async fn duration_marker_sets_total_time() {
    let server = start(MockConfig::default()).await; // 3.5 s by default
    let id = submit(&server, "quick [mock:duration_ms=100]").await;
    let done = poll_to_end(&server, &id).await.pop().unwrap();
    assert_eq!(status(&done), "TASK_STATUS_SUCCEED");
    let info = &done["extra"]["debug_info"];
    let t = |k: &str| info[k].as_str().unwrap().parse::<u64>().unwrap();
    assert_eq!(t("complete_time_ms") - t("submit_time_ms"), 100);
}

#[tokio::test]
async fn links_serve_until_ttl_then_403() {
    let server = start(MockConfig::fast()).await;
    let id = submit(
        &server,
        "short-lived [mock:duration_ms=20] [mock:ttl_ms=2000]",
    )
    .await;
    let done = poll_to_end(&server, &id).await.pop().unwrap();
    assert_eq!(done["videos"][0]["video_url_ttl"], "2");
    let url = done["videos"][0]["video_url"].as_str().unwrap().to_owned();

    // Before expiry: served, also by range.
    let resp = client().get(&url).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let resp = client()
        .get(&url)
        .header("range", "bytes=0-7")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 206);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &SAMPLE_MP4[..8]);

    // A tampered link is refused at once.
    let tampered = url.replace("expires=", "expires=9");
    let resp = client().get(&tampered).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    assert!(resp.text().await.unwrap().contains("SignatureDoesNotMatch"));

    // After expiry: 403 with a storage-style body.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let resp = client().get(&url).send().await.unwrap();
        if resp.status().as_u16() == 403 {
            assert_eq!(resp.headers()["content-type"], "application/xml");
            let text = resp.text().await.unwrap();
            assert!(text.contains("Request has expired"), "{text}");
            break;
        }
        assert_eq!(resp.status().as_u16(), 200);
        assert!(Instant::now() < deadline, "link never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A fresh query gives a fresh link.
    let (_, again) = query(&server, &id).await;
    let fresh = again["videos"][0]["video_url"].as_str().unwrap();
    assert_eq!(
        client().get(fresh).send().await.unwrap().status().as_u16(),
        200
    );

    let stats = server.stats();
    assert_eq!(stats.count(Endpoint::Download, Outcome::Status(403)), 2);
}

#[tokio::test]
async fn links_signed_at_completion_expire_for_everyone() {
    let config = MockConfig {
        sign_links_at_completion: true,
        ..MockConfig::fast().with_link_ttl(Duration::from_millis(300))
    };
    let server = start(config).await;
    let id = submit(&server, "p [mock:duration_ms=20]").await;
    let first = poll_to_end(&server, &id).await.pop().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, v) = query(&server, &id).await;
        let url = v["videos"][0]["video_url"].as_str().unwrap();
        assert_eq!(url, first["videos"][0]["video_url"].as_str().unwrap());
        if client().get(url).send().await.unwrap().status().as_u16() == 403 {
            break;
        }
        assert!(Instant::now() < deadline, "link never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn downloads_of_missing_things() {
    let server = start(MockConfig::fast()).await;
    let id = submit(&server, "p [mock:duration_ms=20]").await;
    let done = poll_to_end(&server, &id).await.pop().unwrap();
    let url = done["videos"][0]["video_url"].as_str().unwrap();

    // Unsigned link.
    let bare = url.split('?').next().unwrap();
    let resp = client().get(bare).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    // Another index is signed differently.
    let other = url.replace("/0.mp4", "/1.mp4");
    assert_eq!(
        client().get(&other).send().await.unwrap().status().as_u16(),
        403
    );
    // Not a file name.
    let resp = client()
        .get(server.url(&format!("/files/{id}/x.txt")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    assert!(resp.text().await.unwrap().contains("NoSuchKey"));
    // After a reset the task is gone.
    server.reset();
    assert_eq!(
        client().get(url).send().await.unwrap().status().as_u16(),
        404
    );
}

#[tokio::test]
async fn served_file_is_an_mp4() {
    // ISO BMFF: ftyp first, a moov box, sizes add up to the file; and it carries media data.
    assert_eq!(veo_core::download::check_mp4(SAMPLE_MP4), Ok(()));
    assert!(SAMPLE_MP4.windows(4).any(|w| w == b"mdat"));
}
