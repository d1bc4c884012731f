//! Confirmation through the MCP host, as the client's protocol allows:
//! - before 2026-07-28, a form elicitation request the host shows the person while the call waits;
//! - from 2026-07-28 (no server-to-client requests), an `input_required` answer carrying the
//!   same form: the client asks the person and calls again with the answer (SEP-2322);
//! - a client that declared no elicitation cannot be asked.

use std::time::Duration;

use rmcp::model::{
    ElicitRequest, ElicitRequestParams, ElicitationSchema, InputRequest, InputRequests,
    InputRequiredResult, InputResponses, ProtocolVersion,
};
use rmcp::service::{ElicitationError, Peer, RequestContext};
use rmcp::{RoleServer, elicit_safe};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::spend::{Confirm, ConfirmRequest, Confirmation};

/// How long the person has to answer a form shown during the call.
const ANSWER_WITHIN: Duration = Duration::from_secs(300);
/// Key of the confirmation among a round's input requests, and the start of its request state.
const CONFIRM_KEY: &str = "confirm";

/// The form: one yes/no question.
#[derive(Debug, Deserialize, JsonSchema)]
struct Approval {
    /// Make this video and pay for it.
    confirm: bool,
}

elicit_safe!(Approval);

/// Asks the person through the client of one tool call.
pub enum HostConfirm {
    /// Send an elicitation request and wait for the answer.
    Elicitation(Peer<RoleServer>),
    /// Answer with `input_required`, or read the answer the client sent with this call (with
    /// the request state it echoed).
    InputRequired(Option<(Value, Option<String>)>),
    /// The client cannot be asked.
    CannotAsk,
}

impl HostConfirm {
    /// The way to ask the client of the call in `context`; `responses` are the answers the
    /// client sent with it (an `input_required` round's).
    pub fn for_call(
        context: &RequestContext<RoleServer>,
        responses: Option<InputResponses>,
        state: Option<String>,
    ) -> HostConfirm {
        let stateless = context
            .protocol_version()
            .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
        if !stateless {
            return HostConfirm::Elicitation(context.peer.clone());
        }
        let can_elicit = context
            .client_capabilities()
            .and_then(|c| c.elicitation)
            .is_some_and(|e| e.form.is_some() || e.url.is_none());
        if !can_elicit {
            return HostConfirm::CannotAsk;
        }
        HostConfirm::InputRequired(
            responses
                .and_then(|mut r| r.remove(CONFIRM_KEY))
                .map(|answer| (answer, state)),
        )
    }
}

/// The request state of a confirmation round for the request with `fingerprint`: an answer
/// counts only for the request it was asked about.
fn round_state(fingerprint: &str) -> String {
    format!("{CONFIRM_KEY}:{fingerprint}")
}

/// The `input_required` result that asks `question` about the request with `fingerprint`.
pub fn input_required(question: &str, fingerprint: &str) -> InputRequiredResult {
    let mut requests = InputRequests::new();
    if let Ok(schema) = ElicitationSchema::from_type::<Approval>() {
        requests.insert(
            CONFIRM_KEY.to_string(),
            InputRequest::Elicitation(ElicitRequest::new(
                ElicitRequestParams::FormElicitationParams {
                    meta: None,
                    message: question.to_string(),
                    requested_schema: schema,
                },
            )),
        );
    }
    InputRequiredResult::new(Some(requests), Some(round_state(fingerprint)))
}

#[async_trait::async_trait]
impl Confirm for HostConfirm {
    async fn confirm(&self, request: &ConfirmRequest) -> Confirmation {
        match self {
            HostConfirm::Elicitation(peer) => elicit(peer, request).await,
            HostConfirm::InputRequired(None) => Confirmation::AskInAnotherRound,
            HostConfirm::InputRequired(Some((_, state)))
                if state.as_deref() != Some(round_state(&request.fingerprint).as_str()) =>
            {
                // Not an answer to a question about this request (unasked, or about another
                // one): ask.
                Confirmation::AskInAnotherRound
            }
            HostConfirm::InputRequired(Some((answer, _))) => {
                let accepted = answer.get("action").and_then(Value::as_str) == Some("accept")
                    && answer
                        .get("content")
                        .and_then(|c| c.get("confirm"))
                        .and_then(Value::as_bool)
                        == Some(true);
                if accepted {
                    Confirmation::Accepted
                } else {
                    Confirmation::Declined
                }
            }
            HostConfirm::CannotAsk => Confirmation::Unavailable,
        }
    }
}

async fn elicit(peer: &Peer<RoleServer>, request: &ConfirmRequest) -> Confirmation {
    let asked = peer
        .elicit_with_timeout::<Approval>(request.message.clone(), Some(ANSWER_WITHIN))
        .await;
    match asked {
        Ok(Some(Approval { confirm: true })) => Confirmation::Accepted,
        Ok(_)
        | Err(
            ElicitationError::UserDeclined
            | ElicitationError::UserCancelled
            | ElicitationError::Service(rmcp::ServiceError::Timeout { .. }),
        ) => Confirmation::Declined,
        Err(ElicitationError::CapabilityNotSupported) => Confirmation::Unavailable,
        Err(e) => {
            // No answer could come (a broken connection, a malformed reply): nothing is sent
            // without one.
            tracing::info!("no confirmation: {e}");
            Confirmation::Unavailable
        }
    }
}
