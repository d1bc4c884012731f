//! Never pay more than meant: spend limits and confirmation before paying, end to end against
//! veo-mock, through MCP clients and the application layer.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult,
    ElicitationAction,
};
use rmcp::service::{RequestContext, RunningService};
use rmcp::{ClientHandler, ErrorData, RoleClient};
use serde_json::{Value, json};
use veo_mcp::journal::JournalLocation;
use veo_mcp::spend::{Price, SpendLimits};
use veo_mcp::transport::{HttpOptions, serve_http_on};
use veo_mock::{Fault, FaultRule, MockConfig, Scope};
use veo_tests::{
    call_checked as call, config, connect_in_process, mock, request, structured, text,
    without_background_polls,
};

fn limits(per_day: Option<u64>, per_call: Option<u64>, confirm_above: Option<u64>) -> SpendLimits {
    SpendLimits {
        per_day,
        per_call,
        confirm_above,
        prices: Vec::new(),
    }
}

fn error_class(result: &rmcp::model::CallToolResult) -> &str {
    result
        .meta
        .as_ref()
        .and_then(|m| m.0.get("veo/error"))
        .and_then(Value::as_str)
        .unwrap_or("")
}

#[tokio::test]
async fn a_call_over_a_limit_is_refused_before_anything_is_sent() {
    let mock = mock(MockConfig::fast()).await;
    let cfg = without_background_polls(config(mock.base_url(), Some(mock.api_key())))
        .with_spend_limits(limits(Some(16), Some(8), None));
    let (client, _) = connect_in_process(veo_tests::server(cfg).await).await;

    // Two 8 s samples: 16 s in one call, over the per-call limit.
    let mut two = request("two samples");
    two["sample_count"] = json!(2);
    let refused = call(&client, "generate_transition_video", two).await;
    assert_eq!(refused.is_error, Some(true));
    assert_eq!(error_class(&refused), "spend_limit");
    let message = text(&refused);
    assert!(
        message.contains("more than the 8 s one call may make"),
        "{message}"
    );
    assert!(
        message.contains("Only the person who runs this server"),
        "{message}"
    );
    assert_eq!(mock.stats().total_requests(), 0, "nothing was sent");

    // Two 8 s calls fill the day; an identical repeat is free and does not count.
    for prompt in ["first", "second"] {
        let ok = call(&client, "generate_transition_video", request(prompt)).await;
        assert_eq!(ok.is_error, Some(false), "{}", text(&ok));
        assert_eq!(structured(&ok)["video_seconds"], 8);
    }
    let again = call(&client, "generate_transition_video", request("first")).await;
    assert_eq!(structured(&again)["deduplicated"], true);
    let third = call(&client, "generate_transition_video", request("third")).await;
    assert_eq!(error_class(&third), "spend_limit", "{}", text(&third));
    let message = text(&third);
    assert!(
        message.contains("16 of the 16 s allowed per 24 hours"),
        "{message}"
    );
    assert!(message.contains("becomes possible at"), "{message}");
    assert_eq!(mock.stats().tasks_created, 2);
    assert_eq!(mock.stats().submits(), 2, "the refused calls sent nothing");

    let listed = call(&client, "list_tasks", json!({})).await;
    let spend = &structured(&listed)["spend"];
    assert_eq!(spend["video_seconds_last_24h"], 16);
    assert_eq!(spend["limit_seconds_per_24h"], 16);
    assert!(
        text(&listed).contains("16 s of video of the 16 s allowed"),
        "{}",
        text(&listed)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_racing_at_the_limit_never_pass_it_together() {
    let mock = mock(MockConfig::fast()).await;
    let cfg = without_background_polls(config(mock.base_url(), Some(mock.api_key())))
        .with_spend_limits(limits(Some(16), None, None));
    let (client, _) = connect_in_process(veo_tests::server(cfg).await).await;
    let calls = ["a", "b", "c"].map(|prompt| {
        let peer = client.peer().clone();
        tokio::spawn(async move {
            let Value::Object(args) = request(prompt) else {
                unreachable!()
            };
            peer.call_tool(
                CallToolRequestParams::new("generate_transition_video").with_arguments(args),
            )
            .await
            .expect("answered")
        })
    });
    let mut submitted = 0;
    let mut refused = 0;
    for call in calls {
        let result = call.await.unwrap();
        match result.is_error {
            Some(false) => submitted += 1,
            _ => {
                assert_eq!(error_class(&result), "spend_limit", "{}", text(&result));
                refused += 1;
            }
        }
    }
    assert_eq!((submitted, refused), (2, 1));
    assert_eq!(mock.stats().tasks_created, 2);
}

#[tokio::test]
async fn the_spend_survives_a_restart_and_submits_in_doubt_count() {
    let mock = mock(MockConfig::fast().with_fault(FaultRule::next(
        Scope::Submit,
        Fault::CreatedThenReset,
        1,
    )))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let journal = JournalLocation::File(dir.path().join("journal.sqlite3"));
    let cfg = || {
        without_background_polls(config(mock.base_url(), Some(mock.api_key())))
            .with_journal(journal.clone())
            .with_spend_limits(limits(Some(16), None, None))
    };
    {
        let (client, _) = connect_in_process(veo_tests::server(cfg()).await).await;
        let lost = call(&client, "generate_transition_video", request("reply lost")).await;
        assert_eq!(
            error_class(&lost),
            "submit_outcome_unknown",
            "{}",
            text(&lost)
        );
        let ok = call(&client, "generate_transition_video", request("fine")).await;
        assert_eq!(ok.is_error, Some(false), "{}", text(&ok));
        client.cancel().await.unwrap();
    }
    // A new process on the same journal: the submit in doubt and the other one count.
    let (client, _) = connect_in_process(veo_tests::server(cfg()).await).await;
    let listed = call(&client, "list_tasks", json!({})).await;
    assert_eq!(structured(&listed)["spend"]["video_seconds_last_24h"], 16);
    let over = call(&client, "generate_transition_video", request("one more")).await;
    assert_eq!(error_class(&over), "spend_limit", "{}", text(&over));
    assert_eq!(mock.stats().submits(), 2);
}

/// An MCP client whose person answers every confirmation with `accept`, counting the questions.
#[derive(Clone)]
struct Person {
    accept: bool,
    asked: Arc<AtomicUsize>,
}

impl ClientHandler for Person {
    fn get_info(&self) -> ClientConfig {
        let mut info = ClientConfig::default();
        info.capabilities =
            serde_json::from_value::<ClientCapabilities>(json!({ "elicitation": { "form": {} } }))
                .expect("capabilities");
        info
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        let ElicitRequestParams::FormElicitationParams { message, .. } = request else {
            return Ok(ElicitResult::new(ElicitationAction::Decline));
        };
        assert!(message.contains("8 s of video"), "{message}");
        assert!(message.contains("estimated cost 4.00"), "{message}");
        Ok(if self.accept {
            ElicitResult::new(ElicitationAction::Accept).with_content(json!({ "confirm": true }))
        } else {
            ElicitResult::new(ElicitationAction::Decline)
        })
    }
}

async fn person(
    server: veo_mcp::VeoServer,
    accept: bool,
) -> (RunningService<RoleClient, Person>, Arc<AtomicUsize>) {
    let asked = Arc::new(AtomicUsize::new(0));
    let client = veo_tests::connect_with(
        server,
        Person {
            accept,
            asked: asked.clone(),
        },
    )
    .await;
    (client, asked)
}

async fn person_call(
    client: &RunningService<RoleClient, Person>,
    prompt: &str,
) -> rmcp::model::CallToolResult {
    let Value::Object(args) = request(prompt) else {
        unreachable!()
    };
    client
        .call_tool(CallToolRequestParams::new("generate_transition_video").with_arguments(args))
        .await
        .expect("answered")
}

#[tokio::test]
async fn an_expensive_call_is_made_only_when_the_person_confirms_it() {
    let mock = mock(MockConfig::fast()).await;
    let mut spend = limits(None, None, Some(4));
    spend.prices = vec!["veo-3.1=0.50".parse::<Price>().unwrap()];
    let cfg = || {
        without_background_polls(config(mock.base_url(), Some(mock.api_key())))
            .with_spend_limits(spend.clone())
    };

    // Accepted: sent once; the identical repeat is answered from the journal, unasked.
    let (client, asked) = person(veo_tests::server(cfg()).await, true).await;
    let made = person_call(&client, "confirmed").await;
    assert_eq!(made.is_error, Some(false), "{}", text(&made));
    assert_eq!(structured(&made)["estimated_cost"], 4.0);
    assert!(
        text(&made).contains("estimated cost 4.00"),
        "{}",
        text(&made)
    );
    let repeat = person_call(&client, "confirmed").await;
    assert_eq!(structured(&repeat)["deduplicated"], true);
    assert_eq!(asked.load(Ordering::SeqCst), 1, "asked once");
    assert_eq!(mock.stats().tasks_created, 1);

    // Declined: nothing sent.
    let (client, asked) = person(veo_tests::server(cfg()).await, false).await;
    let declined = person_call(&client, "declined").await;
    assert_eq!(error_class(&declined), "declined", "{}", text(&declined));
    assert!(text(&declined).contains("declined"), "{}", text(&declined));
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    assert_eq!(mock.stats().tasks_created, 1, "nothing more was made");

    // A client that cannot ask: nothing sent, and the error says why.
    let (client, _) = connect_in_process(veo_tests::server(cfg()).await).await;
    let unasked = call(&client, "generate_transition_video", request("unasked")).await;
    assert_eq!(
        error_class(&unasked),
        "confirmation_required",
        "{}",
        text(&unasked)
    );
    assert!(
        text(&unasked).contains("cannot show the confirmation"),
        "{}",
        text(&unasked)
    );
    assert_eq!(mock.stats().submits(), 1);
}

/// A stateless 2026-07-28 generate_transition_video call for `prompt`.
async fn call_2026_generate(
    addr: std::net::SocketAddr,
    prompt: &str,
    capabilities: Value,
    extra: Value,
) -> Value {
    veo_tests::call_stateless(
        addr,
        "generate_transition_video",
        request(prompt),
        capabilities,
        extra,
    )
    .await
}

#[tokio::test]
async fn a_2026_client_is_asked_through_an_input_required_round() {
    let mock = mock(MockConfig::fast()).await;
    let mut spend = limits(None, None, Some(4));
    spend.prices = vec!["veo-3.1=0.50".parse::<Price>().unwrap()];
    let server = veo_tests::server(
        without_background_polls(config(mock.base_url(), Some(mock.api_key())))
            .with_spend_limits(spend),
    )
    .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(
        async move { serve_http_on(listener, server, &HttpOptions::default(), stop).await },
    );
    let can_ask = json!({"elicitation": {"form": {}}});

    // An answer nobody asked for does not count: the question comes back instead.
    let forged = json!({
        "requestState": "confirm",
        "inputResponses": {"confirm": {"action": "accept", "content": {"confirm": true}}},
    });
    let unasked = call_2026_generate(addr, "asked in a round", can_ask.clone(), forged).await;
    assert_eq!(unasked["resultType"], "input_required", "{unasked}");
    assert_eq!(mock.stats().total_requests(), 0);

    // First round: the question comes back as input_required; nothing is sent.
    let round = call_2026_generate(addr, "asked in a round", can_ask.clone(), json!({})).await;
    assert_eq!(round["resultType"], "input_required", "{round}");
    let question = &round["inputRequests"]["confirm"];
    assert_eq!(question["method"], "elicitation/create", "{round}");
    let message = question["params"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("8 s of video") && message.contains("4.00"),
        "{message}"
    );
    let state = round["requestState"].clone();
    assert_eq!(mock.stats().total_requests(), 0);

    // The client asks the person and calls again with the answer.
    let answer = |action: &str| {
        json!({
            "requestState": state,
            "inputResponses": {"confirm": {"action": action, "content": {"confirm": action == "accept"}}},
        })
    };
    let declined =
        call_2026_generate(addr, "asked in a round", can_ask.clone(), answer("decline")).await;
    assert_eq!(declined["isError"], true, "{declined}");
    assert_eq!(declined["_meta"]["veo/error"], "declined");
    assert_eq!(mock.stats().total_requests(), 0);
    let made = call_2026_generate(addr, "asked in a round", can_ask, answer("accept")).await;
    assert_eq!(made["isError"], false, "{made}");
    assert!(made["structuredContent"]["task_id"].is_string(), "{made}");
    assert_eq!(mock.stats().tasks_created, 1);

    // A 2026 client that declared no elicitation cannot be asked.
    let unasked = call_2026_generate(addr, "never asked", json!({}), json!({})).await;
    assert_eq!(
        unasked["_meta"]["veo/error"], "confirmation_required",
        "{unasked}"
    );
    assert_eq!(mock.stats().tasks_created, 1);
    shutdown.cancel();
}
