//! MCP behaviour that needs no upstream: tool listing, schemas, and input rejected before any
//! request could be made. The server is pointed at a port where nothing listens, so an attempt to
//! send would show up as a network error instead of the expected tool error.

use serde_json::{Value, json};
use veo_core::schema::host_compatibility_problems;
use veo_tests::{call, config, connect_in_process, png_base64, text};

fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

#[tokio::test]
async fn tools_list_publishes_three_tools_with_host_friendly_schemas() {
    let (client, _) =
        connect_in_process(veo_tests::server(config(&closed_port_url(), None)).await).await;
    let tools = client.peer().list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(
        names,
        ["generate_transition_video", "get_task_result", "list_tasks"]
    );
    for tool in &tools {
        let input = Value::Object((*tool.input_schema).clone());
        assert_eq!(
            host_compatibility_problems(&input),
            Vec::<String>::new(),
            "{} input: {input:#}",
            tool.name
        );
        assert_eq!(input["type"], "object");
        let output = Value::Object((**tool.output_schema.as_ref().expect("output schema")).clone());
        assert_eq!(
            host_compatibility_problems(&output),
            Vec::<String>::new(),
            "{} output: {output:#}",
            tool.name
        );
        assert!(tool.title.is_some() && tool.description.as_ref().is_some_and(|d| d.len() > 100));
    }
    let generate = &tools[0];
    let annotations = generate.annotations.as_ref().unwrap();
    assert_eq!(
        (
            annotations.read_only_hint,
            annotations.destructive_hint,
            annotations.idempotent_hint,
            annotations.open_world_hint
        ),
        (Some(false), Some(false), Some(false), Some(true))
    );
    let description = generate.description.as_deref().unwrap();
    assert!(
        description.contains("Costs money") && description.contains("get_task_result"),
        "{description}"
    );
    let result = &tools[1];
    let annotations = result.annotations.as_ref().unwrap();
    assert_eq!(
        (annotations.read_only_hint, annotations.idempotent_hint),
        (Some(true), Some(true))
    );
    assert_eq!(
        result.input_schema["properties"]["wait_seconds"]["maximum"], 20,
        "the cap is the configured one"
    );
    assert_eq!(
        generate.input_schema["properties"]["allow_duplicate"]["type"],
        "boolean"
    );
    let list = &tools[2];
    let annotations = list.annotations.as_ref().unwrap();
    assert_eq!(
        (annotations.read_only_hint, annotations.open_world_hint),
        (Some(true), Some(false))
    );
    assert_eq!(list.input_schema["properties"]["limit"]["maximum"], 100);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn bad_input_is_a_readable_tool_error_and_nothing_is_sent() {
    let (client, _) =
        connect_in_process(veo_tests::server(config(&closed_port_url(), Some("k"))).await).await;
    let result = call(
        &client,
        "generate_transition_video",
        json!({"image": "C:\\Users\\me\\a.png", "last_image": "/definitely/not/here.png", "prompt": "", "resolution": "4k", "sample_count": 7, "duration": 8}),
    )
    .await;
    assert_eq!(result.is_error, Some(true));
    let text = text(&result);
    for needle in [
        "invalid input (6 problems); nothing was sent",
        "image (got C:\\Users\\me\\a.png): this looks like a Windows path",
        "last_image (got /definitely/not/here.png): /definitely/not/here.png does not exist on the machine where veo runs",
        "prompt: must not be empty",
        "resolution (got \"4k\"): must be \"720p\" or \"1080p\"",
        "sample_count (got 7): must be an integer from 1 to 4",
        "duration: is not a known field; did you mean \"duration_seconds\"?",
        "Nothing was sent and nothing was charged",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_missing_api_key_is_explained_and_nothing_is_sent() {
    let (client, _) =
        connect_in_process(veo_tests::server(config(&closed_port_url(), None)).await).await;
    let frame = png_base64(16, 9);
    let result = call(
        &client,
        "generate_transition_video",
        json!({"image": frame, "last_image": frame, "prompt": "pan"}),
    )
    .await;
    assert_eq!(result.is_error, Some(true));
    assert!(
        text(&result).contains("set JIEKOU_API_KEY"),
        "{}",
        text(&result)
    );
    let result = call(
        &client,
        "get_task_result",
        json!({"task_id": "abc", "wait_seconds": 0}),
    )
    .await;
    assert!(
        text(&result).contains("JIEKOU_API_KEY"),
        "{}",
        text(&result)
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn result_arguments_are_checked_too() {
    let (client, _) =
        connect_in_process(veo_tests::server(config(&closed_port_url(), Some("k"))).await).await;
    let result = call(
        &client,
        "get_task_result",
        json!({"task_id": "../etc/passwd", "wait_seconds": -3, "extra": 1}),
    )
    .await;
    assert_eq!(result.is_error, Some(true));
    let text = text(&result);
    assert!(text.contains("task_id (got \"../etc/passwd\")"), "{text}");
    assert!(text.contains("wait_seconds (got -3)"), "{text}");
    assert!(text.contains("extra: is not a known field"), "{text}");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn an_unknown_tool_is_a_protocol_error() {
    let (client, _) =
        connect_in_process(veo_tests::server(config(&closed_port_url(), Some("k"))).await).await;
    let outcome = client
        .peer()
        .call_tool(rmcp::model::CallToolRequestParams::new("make_coffee"))
        .await;
    assert!(outcome.is_err(), "{outcome:?}");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn hostile_arguments_are_not_echoed_back_in_bulk() {
    let (client, _) =
        connect_in_process(veo_tests::server(config(&closed_port_url(), Some("k"))).await).await;
    let mut args = serde_json::Map::new();
    for i in 0..10_000 {
        args.insert(format!("unknown_argument_{i}"), json!(i));
    }
    args.insert("x".repeat(100_000), json!(1));
    let result = client
        .peer()
        .call_tool(
            rmcp::model::CallToolRequestParams::new("generate_transition_video")
                .with_arguments(args),
        )
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(true));
    let reply = serde_json::to_string(&result).unwrap();
    assert!(reply.len() < 16 * 1024, "a {} byte error", reply.len());
    assert!(text(&result).contains("more"), "{}", text(&result));

    let name = "t".repeat(1_000_000);
    let refused = client
        .peer()
        .call_tool(rmcp::model::CallToolRequestParams::new(name))
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.len() < 1024, "a {} byte error", refused.len());
    client.cancel().await.unwrap();
}

/// A client that shares one directory as its root.
#[derive(Clone)]
struct SharesRoot(std::path::PathBuf);

impl rmcp::ClientHandler for SharesRoot {
    fn get_info(&self) -> rmcp::model::ClientConfig {
        let mut info = rmcp::model::ClientConfig::default();
        info.capabilities = serde_json::from_value(json!({ "roots": { "listChanged": true } }))
            .expect("capabilities");
        info
    }

    #[allow(deprecated)]
    async fn list_roots(
        &self,
        _context: rmcp::service::RequestContext<rmcp::RoleClient>,
    ) -> Result<rmcp::model::ListRootsResult, rmcp::ErrorData> {
        let uri = url::Url::from_directory_path(&self.0).unwrap().to_string();
        Ok(rmcp::model::ListRootsResult::new(vec![
            rmcp::model::Root::new(uri),
        ]))
    }
}

#[tokio::test]
async fn frames_may_be_read_below_the_roots_the_client_shares() {
    let shared = tempfile::tempdir().unwrap();
    let frame = shared.path().join("frame.png");
    std::fs::write(
        &frame,
        veo_core::sample::gradient_png(64, 36, [0, 0, 0], [9, 9, 9]),
    )
    .unwrap();
    // The server's own roots do not include the shared directory; no key, so nothing is sent.
    let cfg = config(&closed_port_url(), None)
        .with_allowed_roots(vec![std::env::temp_dir().join("elsewhere")]);
    let args = json!({"image": frame.display().to_string(), "last_image": frame.display().to_string(), "prompt": "p"});

    let (plain, _) = connect_in_process(veo_tests::server(cfg.clone()).await).await;
    let refused = call(&plain, "generate_transition_video", args.clone()).await;
    assert!(
        text(&refused).contains("invalid input"),
        "{}",
        text(&refused)
    );

    let server = veo_tests::server(cfg).await;
    let sharing =
        veo_tests::connect_with(server, SharesRoot(shared.path().canonicalize().unwrap())).await;
    let Value::Object(args) = args else {
        unreachable!()
    };
    let result = sharing
        .peer()
        .call_tool(
            rmcp::model::CallToolRequestParams::new("generate_transition_video")
                .with_arguments(args),
        )
        .await
        .unwrap();
    // The frames were accepted: what stops it now is the missing key.
    assert!(
        text(&result).contains("JIEKOU_API_KEY"),
        "{}",
        text(&result)
    );
}
