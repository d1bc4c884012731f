//! MCP's Tasks extension (SEP-2663) end to end against veo-mock: rmcp's own client declaring
//! the extension over an in-memory pipe (2026-07-28), generate → task → `tasks/get` until
//! completed; failures, a restart between create and get, cancel, deduplication, and clients
//! without the extension.

use std::time::Duration;

use rmcp::RoleClient;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CancelTaskParams, ErrorCode,
    GetTaskParams, TaskPayload, TaskStatus,
};
use rmcp::service::{RunningService, ServiceError};
use serde_json::{Value, json};
use veo_mock::MockConfig;
use veo_tests::{
    TasksClient, config, connect_2026, mock, output_schema, request, schema_mismatches,
};

type Client = RunningService<RoleClient, TasksClient>;

fn quick_mock() -> MockConfig {
    MockConfig::default().with_timing(Duration::from_millis(300), Duration::from_millis(1500))
}

/// Calls generate_transition_video and returns the task id of the handle it answers with.
async fn create(client: &Client, args: Value) -> (String, rmcp::model::CreateTaskResult) {
    let Value::Object(args) = args else {
        panic!("arguments must be an object")
    };
    let response = client
        .peer()
        .call_tool_once(
            CallToolRequestParams::new("generate_transition_video").with_arguments(args),
        )
        .await
        .expect("tools/call answered");
    match response {
        CallToolResponse::Task(created) => (created.task.task_id.clone(), created),
        other => panic!("expected a task, got {other:?}"),
    }
}

/// Polls `tasks/get` until the task is terminal; returns the status messages seen while it
/// worked and the final result.
async fn until_completed(client: &Client, task_id: &str) -> (Vec<String>, CallToolResult) {
    let mut messages = Vec::new();
    for _ in 0..200 {
        let got = client
            .peer()
            .get_task(GetTaskParams::new(task_id))
            .await
            .expect("tasks/get answered");
        let task = &got.task.task;
        assert_eq!(task.task_id, task_id);
        assert_eq!(task.ttl_ms, None, "the journal keeps every task: no TTL");
        match &got.task.payload {
            TaskPayload::Working => {
                messages.push(task.status_message.clone().unwrap_or_default());
                let interval = task.poll_interval_ms.expect("a suggested poll interval");
                // Within the watcher's pace of the tests' configuration: 200 ms to 1 s.
                assert!((200..=1000).contains(&interval), "{task:?}");
                tokio::time::sleep(Duration::from_millis(interval.min(250))).await;
            }
            TaskPayload::Completed { result } => {
                let result: CallToolResult =
                    serde_json::from_value(Value::Object(result.clone())).expect("a tool result");
                return (messages, result);
            }
            other => panic!("unexpected task state {other:?}"),
        }
    }
    panic!("the task did not complete; messages: {messages:?}")
}

fn assert_fits_schema(result: &CallToolResult, schema: &Value) {
    let content = result
        .structured_content
        .as_ref()
        .expect("structured content");
    let problems = schema_mismatches(content, schema);
    assert!(problems.is_empty(), "{problems:#?}\n{content}");
}

fn mcp_error(error: ServiceError) -> rmcp::ErrorData {
    match error {
        ServiceError::McpError(e) => e,
        other => panic!("expected a JSON-RPC error, got {other}"),
    }
}

#[tokio::test]
async fn a_generation_is_a_task_that_completes_with_get_task_results_answer() {
    let mock = mock(quick_mock()).await;
    let out = tempfile::tempdir().unwrap();
    let server = veo_tests::server(
        config(mock.base_url(), Some(mock.api_key())).with_output_dir(Some(out.path().into())),
    )
    .await;
    let client = connect_2026(server, TasksClient).await;

    let (task_id, created) = create(&client, request("a kite rises over the dunes")).await;
    assert_eq!(created.task.status, TaskStatus::Working);
    assert_eq!(
        created.task.poll_interval_ms,
        Some(300),
        "the watcher's first pause"
    );
    let submitted = &created.meta.as_ref().expect("_meta")["veo/submitted"];
    assert_eq!(submitted["task_id"], task_id.as_str(), "{submitted}");
    assert_eq!(submitted["deduplicated"], false);
    assert_eq!(mock.stats().tasks_created, 1);

    let (messages, result) = until_completed(&client, &task_id).await;
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("queued") || m.starts_with("processing")),
        "readable status messages while working: {messages:?}"
    );
    assert_eq!(result.is_error, Some(false));
    assert_fits_schema(
        &result,
        &output_schema(&client, "generate_transition_video").await,
    );
    let report = result.structured_content.clone().unwrap();
    assert_eq!(report["status"], "succeeded", "{report}");
    assert_eq!(report["done"], true);
    let saved = report["videos"][0]["saved_path"].as_str().expect("saved");
    assert!(std::path::Path::new(saved).is_file());
    assert!(
        result
            .content
            .iter()
            .any(|c| c.as_resource_link().is_some()),
        "the saved video as a resource link"
    );

    // get_task_result works for a task created this way, and agrees.
    let look = client
        .peer()
        .call_tool(
            CallToolRequestParams::new("get_task_result").with_arguments(
                json!({"task_id": task_id, "wait_seconds": 0})
                    .as_object()
                    .cloned()
                    .unwrap(),
            ),
        )
        .await
        .unwrap();
    let look = look.structured_content.unwrap();
    assert_eq!(look["status"], "succeeded");
    assert_eq!(look["videos"][0]["saved_path"], saved);
    assert_eq!(mock.stats().tasks_created, 1, "nothing was submitted again");
}

#[tokio::test]
async fn a_failed_generation_completes_with_a_tool_error() {
    let mock = mock(quick_mock()).await;
    let server = veo_tests::server(config(mock.base_url(), Some(mock.api_key()))).await;
    let client = connect_2026(server, TasksClient).await;
    let (task_id, _) = create(&client, request("a storm [mock:fail=content policy]")).await;
    let (_, result) = until_completed(&client, &task_id).await;
    assert_eq!(result.is_error, Some(true), "{result:?}");
    assert_fits_schema(
        &result,
        &output_schema(&client, "generate_transition_video").await,
    );
    let report = result.structured_content.unwrap();
    assert_eq!(report["status"], "failed");
    assert_eq!(report["failure_reason"], "content policy");
}

#[tokio::test]
async fn a_task_outlives_a_restart_of_the_server() {
    let mock = mock(
        MockConfig::default().with_timing(Duration::from_millis(300), Duration::from_millis(2500)),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let journal = veo_mcp::journal::JournalLocation::File(dir.path().join("journal.sqlite3"));
    let settings = || config(mock.base_url(), Some(mock.api_key())).with_journal(journal.clone());

    let first = veo_tests::server(settings()).await;
    let client = connect_2026(first.clone(), TasksClient).await;
    let (task_id, _) = create(&client, request("a lighthouse blinks at dusk")).await;
    client.cancel().await.unwrap();
    first.app().stop_background();
    drop(first);

    let second = veo_tests::server(settings()).await;
    let client = connect_2026(second, TasksClient).await;
    let (_, result) = until_completed(&client, &task_id).await;
    assert_eq!(result.structured_content.unwrap()["status"], "succeeded");
    assert_eq!(mock.stats().tasks_created, 1);

    let unknown = client
        .peer()
        .get_task(GetTaskParams::new("no-such-task"))
        .await
        .expect_err("an unknown task id is an error");
    assert_eq!(mcp_error(unknown).code, ErrorCode::INVALID_PARAMS);
}

#[tokio::test]
async fn cancel_is_acknowledged_and_the_paid_video_is_still_made() {
    let mock = mock(quick_mock()).await;
    let server = veo_tests::server(config(mock.base_url(), Some(mock.api_key()))).await;
    let client = connect_2026(server, TasksClient).await;
    let (task_id, _) = create(&client, request("a bridge at night")).await;
    client
        .peer()
        .cancel_task(CancelTaskParams::new(task_id.clone()))
        .await
        .expect("cancel is acknowledged");
    let (_, result) = until_completed(&client, &task_id).await;
    assert_eq!(result.structured_content.unwrap()["status"], "succeeded");

    let unknown = client
        .peer()
        .cancel_task(CancelTaskParams::new("no-such-task"))
        .await
        .expect_err("cancelling an unknown task is an error");
    assert_eq!(mcp_error(unknown).code, ErrorCode::INVALID_PARAMS);
}

#[tokio::test]
async fn an_identical_request_returns_the_same_task() {
    let mock = mock(quick_mock()).await;
    let server = veo_tests::server(config(mock.base_url(), Some(mock.api_key()))).await;
    let client = connect_2026(server, TasksClient).await;
    let (first, _) = create(&client, request("twice the same")).await;
    let (second, created) = create(&client, request("twice the same")).await;
    assert_eq!(first, second);
    assert_eq!(created.meta.unwrap()["veo/submitted"]["deduplicated"], true);
    assert_eq!(mock.stats().tasks_created, 1);
}

#[tokio::test]
async fn clients_without_the_extension_get_todays_result() {
    let mock = mock(quick_mock()).await;
    let server = veo_tests::server(config(mock.base_url(), Some(mock.api_key()))).await;

    // A 2026-07-28 client that declared nothing.
    let plain = connect_2026(server.clone(), ()).await;
    let args = request("no tasks here").as_object().cloned().unwrap();
    let response = plain
        .peer()
        .call_tool_once(
            CallToolRequestParams::new("generate_transition_video").with_arguments(args),
        )
        .await
        .unwrap();
    let CallToolResponse::Complete(result) = response else {
        panic!("expected a plain result, got {response:?}")
    };
    let task_id = result.structured_content.as_ref().unwrap()["task_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        output_schema(&plain, "generate_transition_video").await["required"]
            .as_array()
            .map(|r| r.contains(&json!("deduplicated"))),
        Some(true),
        "today's output schema"
    );
    let refused = plain
        .peer()
        .get_task(GetTaskParams::new(task_id.clone()))
        .await
        .expect_err("tasks/get needs the extension");
    assert_eq!(
        mcp_error(refused).code,
        ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY
    );

    // A session client (2025-11-25) that declared it at initialize: the extension does not
    // apply to that protocol version.
    let legacy = veo_tests::connect_with(server.clone(), TasksClient).await;
    let args = request("an older protocol").as_object().cloned().unwrap();
    let response = legacy
        .peer()
        .call_tool_once(
            CallToolRequestParams::new("generate_transition_video").with_arguments(args),
        )
        .await
        .unwrap();
    assert!(
        matches!(response, CallToolResponse::Complete(_)),
        "{response:?}"
    );
    let refused = legacy
        .peer()
        .get_task(GetTaskParams::new(task_id.clone()))
        .await
        .expect_err("no tasks/get before 2026-07-28");
    assert_eq!(
        mcp_error(refused).code,
        ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY
    );

    // A task made the plain way can still be followed as a task by a client that has it.
    let tasks = connect_2026(server, TasksClient).await;
    let (_, result) = until_completed(&tasks, &task_id).await;
    assert_eq!(result.structured_content.unwrap()["status"], "succeeded");
}

#[tokio::test]
async fn a_submit_whose_outcome_is_unknown_is_said_so_not_made_a_task() {
    use veo_mock::{Fault, FaultRule, Scope};
    let mock = mock(MockConfig::fast().with_fault(FaultRule::next(
        Scope::Submit,
        Fault::CreatedThenReset,
        1,
    )))
    .await;
    let server = veo_tests::server(config(mock.base_url(), Some(mock.api_key()))).await;
    let client = connect_2026(server, TasksClient).await;
    for attempt in ["the first call", "an identical retry"] {
        let args = request("lost reply").as_object().cloned().unwrap();
        let response = client
            .peer()
            .call_tool_once(
                CallToolRequestParams::new("generate_transition_video").with_arguments(args),
            )
            .await
            .unwrap();
        let CallToolResponse::Complete(result) = response else {
            panic!("{attempt}: no task for a submit in doubt, got {response:?}")
        };
        assert_eq!(result.is_error, Some(true), "{attempt}");
        let class = &result.meta.as_ref().expect("_meta")["veo/error"];
        assert_eq!(class, "submit_outcome_unknown", "{attempt}");
    }
    assert_eq!(mock.stats().submits(), 1, "never sent again while in doubt");
}

#[tokio::test]
async fn a_platform_that_cannot_be_asked_leaves_the_task_working_and_says_why() {
    use veo_mock::{Fault, FaultRule, Scope};
    let mock = mock(quick_mock()).await;
    let cfg = veo_tests::without_background_polls(config(mock.base_url(), Some(mock.api_key())));
    let client = connect_2026(veo_tests::server(cfg).await, TasksClient).await;
    let (task_id, _) = create(&client, request("a quiet harbour")).await;
    mock.set_faults(vec![FaultRule::always(Scope::Query, Fault::Http500)]);
    let got = client
        .peer()
        .get_task(GetTaskParams::new(task_id.clone()))
        .await
        .expect("tasks/get answers while the platform fails");
    assert_eq!(got.task.task.status, TaskStatus::Working);
    let message = got.task.task.status_message.unwrap_or_default();
    assert!(message.contains("cannot be asked"), "{message}");
    mock.set_faults(Vec::new());
    let (_, result) = until_completed(&client, &task_id).await;
    assert_eq!(result.structured_content.unwrap()["status"], "succeeded");
}

#[tokio::test]
async fn the_tool_description_says_what_tasks_and_cancel_do() {
    let server = veo_tests::server(config("http://127.0.0.1:9", Some("k"))).await;
    let client = connect_2026(server, TasksClient).await;
    let tools = client.peer().list_all_tools().await.unwrap();
    let generate = tools
        .iter()
        .find(|t| t.name == "generate_transition_video")
        .and_then(|t| t.description.clone())
        .unwrap();
    for expected in ["tasks/get", "tasks/cancel", "still made and saved"] {
        assert!(generate.contains(expected), "{expected} in: {generate}");
    }
    let widened = output_schema(&client, "generate_transition_video").await;
    let problems = veo_core::schema::host_compatibility_problems(&widened);
    assert!(problems.is_empty(), "{problems:?}");
    assert!(widened["properties"].get("done").is_some(), "{widened}");
}

#[tokio::test]
async fn a_platform_that_hangs_does_not_hold_tasks_get() {
    use veo_mock::{Fault, FaultRule, Scope};
    let mock = mock(quick_mock()).await;
    let cfg = veo_tests::without_background_polls(config(mock.base_url(), Some(mock.api_key())));
    let client = connect_2026(veo_tests::server(cfg).await, TasksClient).await;
    let (task_id, _) = create(&client, request("a slow answer")).await;
    mock.set_faults(vec![FaultRule::always(Scope::Query, Fault::Stall)]);
    let started = std::time::Instant::now();
    let got = client
        .peer()
        .get_task(GetTaskParams::new(task_id))
        .await
        .expect("tasks/get answers");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(got.task.task.status, TaskStatus::Working);
    let message = got.task.task.status_message.unwrap_or_default();
    assert!(message.contains("did not answer"), "{message}");
}
