//! Saved videos as MCP resources (`veo://videos/<task_id>/<n>.mp4`): listing (saved videos
//! only, newest first, a page at a time), reading (the file's bytes), and the refusals, over
//! the in-process pipe and over stateless streamable HTTP.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use rmcp::ServiceError;
use rmcp::model::{ErrorCode, PaginatedRequestParams, ReadResourceRequestParams, ResourceContents};
use serde_json::{Value, json};
use veo_core::TaskResult;
use veo_mcp::journal::{Begin, NewSubmit};
use veo_mcp::mcp::resources::{MAX_READ_BYTES, PAGE_TASKS, URI_TEMPLATE, video_uri};
use veo_mcp::{Config, VeoServer};
use veo_tests::{McpClient, connect_in_process, serve_http};

/// The newest task's prompt: longer than a title.
const LONG_PROMPT: &str = "A slow dolly shot from the snowy mountain ridge at dawn down into the valley town, where the market opens as the sun rises";

/// Saved tasks made by [`setup`]: more than one page.
const SAVED: usize = PAGE_TASKS as usize + 3;

/// A server whose journal holds [`SAVED`] tasks with one saved video each (`saved-0` oldest),
/// a succeeded task whose video is not saved (`unsaved`), and one whose second video is
/// saved under a task id that needs percent-encoding (`odd id/é`).
async fn setup(out: &std::path::Path) -> VeoServer {
    let mut config: Config =
        veo_tests::config("http://127.0.0.1:9", Some("k")).with_output_dir(Some(out.to_path_buf()));
    config.background = false;
    let server = veo_tests::server(config).await;
    let journal = server.app().journal().clone();
    let succeeded = |task_id: &str, videos: usize| {
        let videos: Vec<Value> = (0..videos)
            .map(|i| json!({"video_url": format!("http://x/{i}.mp4"), "video_url_ttl": "3600"}))
            .collect();
        TaskResult::from_json(
            &json!({"task": {"task_id": task_id, "status": "TASK_STATUS_SUCCEED", "progress_percent": 100}, "videos": videos}),
            task_id,
            SystemTime::now(),
        )
    };
    let save = async |task_id: &str, index: u32| {
        let path = out.join(format!("{}-{index}.mp4", task_id.replace(['/', ' '], "_")));
        let bytes = video_bytes(task_id, index);
        std::fs::write(&path, &bytes).unwrap();
        journal
            .record_saved(task_id, index, "http://x/0.mp4", &path, bytes.len() as u64)
            .await
            .unwrap();
    };
    journal
        .record_result(&succeeded("odd id/é", 2))
        .await
        .unwrap();
    save("odd id/é", 1).await;
    for n in 0..SAVED {
        let task_id = format!("saved-{n}");
        if n == SAVED - 1 {
            // The newest was submitted here, with a prompt long enough to be shortened.
            let new =
                NewSubmit {
                    fingerprint: "f".into(),
                    prompt: LONG_PROMPT.into(),
                    parameters: veo_core::EffectiveParameters::from(
                        &veo_core::TransitionRequest::new("a", "b", LONG_PROMPT),
                    ),
                    owner: None,
                };
            let Ok(Begin::Proceed(id)) =
                journal.begin_submit(new, Duration::ZERO, true, None).await
            else {
                panic!("the submit is recorded");
            };
            journal.record_submitted(id, &task_id, None).await.unwrap();
        }
        journal
            .record_result(&succeeded(&task_id, 1))
            .await
            .unwrap();
        save(&task_id, 0).await;
    }
    journal
        .record_result(&succeeded("unsaved", 1))
        .await
        .unwrap();
    server
}

/// The bytes of a task's saved video: different for every video.
fn video_bytes(task_id: &str, index: u32) -> Vec<u8> {
    format!("not really an mp4: {task_id} #{index}")
        .into_bytes()
        .repeat(1000)
}

/// The URIs every listed page names, in order, through the client's `resources/list`.
async fn list_all(client: &McpClient) -> (Vec<rmcp::model::Resource>, usize) {
    let (mut all, mut pages, mut cursor) = (Vec::new(), 0, None);
    loop {
        let page = client
            .peer()
            .list_resources(Some(PaginatedRequestParams::default().with_cursor(cursor)))
            .await
            .unwrap();
        pages += 1;
        all.extend(page.resources);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return (all, pages),
        }
    }
}

async fn read_error(client: &McpClient, uri: &str) -> rmcp::ErrorData {
    match client
        .peer()
        .read_resource(ReadResourceRequestParams::new(uri))
        .await
    {
        Err(ServiceError::McpError(error)) => error,
        other => panic!("{uri}: expected an MCP error, got {other:?}"),
    }
}

#[tokio::test]
async fn saved_videos_are_listed_newest_first_and_read_byte_for_byte() {
    let out = tempfile::tempdir().unwrap();
    let server = setup(out.path()).await;
    let (client, _) = connect_in_process(server).await;
    let info = client.peer().peer_info().expect("server info");
    assert!(
        info.capabilities.resources.is_some(),
        "resources advertised"
    );

    let (listed, pages) = list_all(&client).await;
    assert_eq!(pages, 2, "more than one page");
    let uris: Vec<&str> = listed.iter().map(|r| r.uri.as_str()).collect();
    let mut expected: Vec<String> = (0..SAVED)
        .rev()
        .map(|n| video_uri(&format!("saved-{n}"), 1))
        .collect();
    expected.push("veo://videos/odd%20id%2F%C3%A9/2.mp4".into());
    assert_eq!(uris, expected, "only saved videos, newest first");
    let first = &listed[0];
    assert_eq!(first.mime_type.as_deref(), Some("video/mp4"));
    let newest = format!("saved-{}", SAVED - 1);
    assert_eq!(first.size, Some(video_bytes(&newest, 0).len() as u64));
    assert_eq!(first.name, format!("{newest}-0.mp4"));
    let title = first.title.as_deref().expect("a title");
    assert!(
        title.ends_with('…') && title.chars().count() == 81,
        "{title}"
    );
    assert!(LONG_PROMPT.starts_with(title.trim_end_matches('…')));
    // Tasks adopted from the platform have no prompt in the journal, so no title.
    assert_eq!(listed[1].title, None);

    for (uri, task_id, index) in [
        (expected[0].as_str(), format!("saved-{}", SAVED - 1), 0),
        (expected[SAVED].as_str(), "odd id/é".to_string(), 1),
    ] {
        let read = client
            .peer()
            .read_resource(ReadResourceRequestParams::new(uri))
            .await
            .unwrap();
        let [
            ResourceContents::BlobResourceContents {
                uri: read_uri,
                mime_type,
                blob,
                ..
            },
        ] = read.contents.as_slice()
        else {
            panic!("one blob: {:?}", read.contents);
        };
        assert_eq!(read_uri, uri);
        assert_eq!(mime_type.as_deref(), Some("video/mp4"));
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(blob)
            .unwrap();
        assert_eq!(bytes, video_bytes(&task_id, index), "{uri}");
    }

    let templates = client
        .peer()
        .list_resource_templates(None)
        .await
        .unwrap()
        .resource_templates;
    assert_eq!(templates.len(), 1);
    assert_eq!(templates[0].uri_template, URI_TEMPLATE);

    let bad_cursor = client
        .peer()
        .list_resources(Some(
            PaginatedRequestParams::default().with_cursor(Some("nonsense".into())),
        ))
        .await;
    assert!(
        matches!(bad_cursor, Err(ServiceError::McpError(ref e)) if e.code == ErrorCode::INVALID_PARAMS),
        "{bad_cursor:?}"
    );
}

#[tokio::test]
async fn unknown_malformed_unsaved_and_deleted_videos_are_refused_clearly() {
    let out = tempfile::tempdir().unwrap();
    let server = setup(out.path()).await;
    let (client, _) = connect_in_process(server).await;
    let cases = [
        (video_uri("no-such-task", 1), "no task no-such-task"),
        (
            "veo://videos/saved-1/x.mp4".to_string(),
            "not a veo video URI",
        ),
        ("file:///etc/passwd".to_string(), "not a veo video URI"),
        (video_uri("saved-1", 2), "has no video 2"),
        (video_uri("unsaved", 1), "is not saved"),
        (video_uri("odd id/é", 1), "is not saved"),
    ];
    for (uri, says) in &cases {
        let error = read_error(&client, uri).await;
        assert_eq!(error.code, ErrorCode::RESOURCE_NOT_FOUND, "{uri}");
        assert!(error.message.contains(says), "{uri}: {}", error.message);
        assert!(
            error.message.contains(URI_TEMPLATE),
            "says what is allowed: {}",
            error.message
        );
    }

    std::fs::remove_file(out.path().join("saved-4-0.mp4")).unwrap();
    let error = read_error(&client, &video_uri("saved-4", 1)).await;
    assert_eq!(error.code, ErrorCode::RESOURCE_NOT_FOUND);
    assert!(
        error.message.contains("no longer on disk"),
        "{}",
        error.message
    );

    // A file grown past the limit is refused, naming the limit.
    let big = std::fs::File::options()
        .write(true)
        .open(out.path().join("saved-5-0.mp4"))
        .unwrap();
    big.set_len(MAX_READ_BYTES + 1).unwrap();
    let error = read_error(&client, &video_uri("saved-5", 1)).await;
    assert_eq!(error.code, ErrorCode::INVALID_REQUEST);
    assert!(
        error.message.contains(&MAX_READ_BYTES.to_string()),
        "{}",
        error.message
    );
}

/// A stateless 2026-07-28 request of `method` with `params` (and `name` in `Mcp-Name`), from a
/// client that declared nothing.
async fn stateless(addr: SocketAddr, method: &str, params: Value, name: Option<&str>) -> Value {
    veo_tests::stateless_request(addr, method, params, &json!({}), name).await
}

#[tokio::test]
async fn resources_are_served_over_stateless_http() {
    let out = tempfile::tempdir().unwrap();
    let (addr, shutdown) = serve_http(setup(out.path()).await).await;

    let first = stateless(addr, "resources/list", json!({}), None).await;
    let resources = first["result"]["resources"].as_array().expect("a list");
    assert_eq!(resources.len(), PAGE_TASKS as usize, "{first}");
    let cursor = first["result"]["nextCursor"].as_str().expect("a cursor");
    let second = stateless(addr, "resources/list", json!({"cursor": cursor}), None).await;
    let rest = second["result"]["resources"].as_array().expect("a list");
    assert_eq!(rest.len(), SAVED - PAGE_TASKS as usize + 1, "{second}");
    assert!(second["result"].get("nextCursor").is_none(), "{second}");

    let uri = resources[0]["uri"].as_str().unwrap();
    assert_eq!(uri, video_uri(&format!("saved-{}", SAVED - 1), 1));
    let read = stateless(addr, "resources/read", json!({"uri": uri}), Some(uri)).await;
    let contents = &read["result"]["contents"][0];
    assert_eq!(contents["mimeType"], "video/mp4", "{read}");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(contents["blob"].as_str().unwrap())
        .unwrap();
    assert_eq!(bytes, video_bytes(&format!("saved-{}", SAVED - 1), 0));

    let unknown = video_uri("nope", 1);
    let refused = stateless(
        addr,
        "resources/read",
        json!({"uri": unknown}),
        Some(&unknown),
    )
    .await;
    // On 2026-07-28, rmcp sends resource-not-found as -32602, as that version asks.
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("no task nope")),
        "{refused}"
    );
    let malformed = "veo://videos/nope";
    let refused = stateless(
        addr,
        "resources/read",
        json!({"uri": malformed}),
        Some(malformed),
    )
    .await;
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(URI_TEMPLATE)),
        "{refused}"
    );

    let templates = stateless(addr, "resources/templates/list", json!({}), None).await;
    assert_eq!(
        templates["result"]["resourceTemplates"][0]["uriTemplate"],
        URI_TEMPLATE
    );
    shutdown.cancel();
}
