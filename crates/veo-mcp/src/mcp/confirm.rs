//! Confirmation through the MCP host: a form elicitation the host shows the person, when the
//! client declared it can (protocol versions that allow server-to-client requests).

use std::time::Duration;

use rmcp::service::{ElicitationError, Peer};
use rmcp::{RoleServer, elicit_safe};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::spend::{Confirm, ConfirmRequest, Confirmation};

/// How long the person has to answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(300);

/// The form: one yes/no question.
#[derive(Debug, Deserialize, JsonSchema)]
struct Approval {
    /// Make this video and pay for it.
    confirm: bool,
}

elicit_safe!(Approval);

/// Asks the person through the client of `peer`.
pub struct Elicitation {
    /// The client of the call being confirmed.
    pub peer: Peer<RoleServer>,
}

#[async_trait::async_trait]
impl Confirm for Elicitation {
    async fn confirm(&self, request: &ConfirmRequest) -> Confirmation {
        let asked = self
            .peer
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
                // No answer came (a timeout, a broken connection, a protocol that forbids
                // asking): nothing is sent without one.
                tracing::info!("no confirmation: {e}");
                Confirmation::Unavailable
            }
        }
    }
}
