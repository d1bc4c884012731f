//! MCP's Tasks extension over stateless streamable HTTP (2026-07-28), as hand-written JSON-RPC:
//! what a client implementing the extension's client side sends and reads on the wire.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;
use veo_tests::{config, mock, request, schema_mismatches, stateless_request};

async fn start(mock: &veo_mock::MockServer) -> (SocketAddr, CancellationToken) {
    veo_tests::serve_http(veo_tests::server(config(mock.base_url(), Some(mock.api_key()))).await)
        .await
}

#[tokio::test]
async fn a_stateless_http_client_follows_a_generation_as_a_task() {
    let mock = mock(
        veo_mock::MockConfig::default()
            .with_timing(Duration::from_millis(300), Duration::from_millis(1500)),
    )
    .await;
    let (addr, shutdown) = start(&mock).await;
    let tasks = json!({"extensions": {"io.modelcontextprotocol/tasks": {}}});

    let generate = "generate_transition_video";
    let call = json!({"name": generate, "arguments": request("a tram crosses the square")});
    let created = stateless_request(addr, "tools/call", call.clone(), &tasks, Some(generate)).await;
    let created = &created["result"];
    assert_eq!(created["resultType"], "task", "{created}");
    assert_eq!(created["status"], "working");
    assert!(created["ttlMs"].is_null(), "{created}");
    let task_id = created["taskId"].as_str().expect("taskId").to_string();

    let mut seen_working = false;
    let completed = loop {
        let got = stateless_request(
            addr,
            "tasks/get",
            json!({"taskId": task_id}),
            &tasks,
            Some(&task_id),
        )
        .await;
        let got = got["result"].clone();
        assert_eq!(got["resultType"], "complete", "{got}");
        assert_eq!(got["taskId"], task_id.as_str());
        match got["status"].as_str() {
            Some("working") => {
                seen_working = true;
                assert!(got["statusMessage"].is_string(), "{got}");
                let wait = got["pollIntervalMs"].as_u64().expect("pollIntervalMs");
                tokio::time::sleep(Duration::from_millis(wait.min(250))).await;
            }
            Some("completed") => break got,
            _ => panic!("unexpected {got}"),
        }
    };
    assert!(seen_working);
    let result = &completed["result"];
    assert_eq!(result["isError"], false, "{result}");
    assert_eq!(result["structuredContent"]["status"], "succeeded");

    // The result fits the output schema this client is told.
    let listed = stateless_request(addr, "tools/list", json!({}), &tasks, None).await;
    let schema = listed["result"]["tools"]
        .as_array()
        .and_then(|tools| tools.iter().find(|t| t["name"] == generate))
        .map(|t| t["outputSchema"].clone())
        .expect("the tool's output schema");
    let problems = schema_mismatches(&result["structuredContent"], &schema);
    assert!(problems.is_empty(), "{problems:#?}");

    // Cancel is an empty acknowledgement; the task stays completed.
    let ack = stateless_request(
        addr,
        "tasks/cancel",
        json!({"taskId": task_id}),
        &tasks,
        Some(&task_id),
    )
    .await;
    assert_eq!(ack["result"], json!({"resultType": "complete"}), "{ack}");
    let again = stateless_request(
        addr,
        "tasks/get",
        json!({"taskId": task_id}),
        &tasks,
        Some(&task_id),
    )
    .await;
    assert_eq!(again["result"]["status"], "completed");

    // Without the extension: today's result, and no tasks/get.
    let plain = stateless_request(addr, "tools/call", call, &json!({}), Some(generate)).await;
    assert_eq!(
        plain["result"]["structuredContent"]["task_id"],
        task_id.as_str()
    );
    assert_eq!(plain["result"]["structuredContent"]["deduplicated"], true);
    assert!(
        plain["result"]
            .get("resultType")
            .is_none_or(|t| t != "task")
    );
    let refused = stateless_request(
        addr,
        "tasks/get",
        json!({"taskId": task_id}),
        &json!({}),
        Some(&task_id),
    )
    .await;
    assert_eq!(refused["error"]["code"], -32021, "{refused}");
    let unknown = stateless_request(
        addr,
        "tasks/get",
        json!({"taskId": "nope"}),
        &tasks,
        Some("nope"),
    )
    .await;
    assert_eq!(unknown["error"]["code"], -32602, "{unknown}");
    assert_eq!(mock.stats().tasks_created, 1);
    shutdown.cancel();
}
