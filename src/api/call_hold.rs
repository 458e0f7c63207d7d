//! `POST /v1/calls/{id}/hold` and `POST /v1/calls/{id}/resume`: an agent's desktop or CRM
//! holding its own call, a supervisor or an admin any call.
//!
//! The switch holds the agent's leg (`uuid_hold`), so the caller hears the queue's music on
//! hold; the hold is recorded when the switch reports it, as `token:<name>`'s, so the reply
//! is 202: asked, not yet done. For an agent, another's call is 403 whether it exists or not.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use schemars::JsonSchema;
use serde::Serialize;

use super::{ApiState, Principal, Problem};
use crate::engine::{CallId, HoldBy, HoldError};

/// What was asked of the switch.
#[derive(Serialize, JsonSchema)]
pub(super) struct HoldReply {
    /// The call's id.
    call: String,
    /// `hold` or `resume`.
    requested: &'static str,
}

fn refused(e: HoldError) -> Problem {
    match e {
        HoldError::UnknownCall(_) => Problem::not_found(e.to_string()),
        HoldError::NotTheAgentsCall { .. } => Problem::forbidden(e.to_string()),
        HoldError::NotConnected(_)
        | HoldError::AlreadyHeld(_)
        | HoldError::NotHeld(_)
        | HoldError::Consulting(_) => Problem::conflict(e.to_string()),
    }
}

pub(super) async fn hold(
    state: State<ApiState>,
    who: Extension<Principal>,
    id: Path<String>,
) -> Result<Response, Problem> {
    request(state, who, id, true).await
}

pub(super) async fn resume(
    state: State<ApiState>,
    who: Extension<Principal>,
    id: Path<String>,
) -> Result<Response, Problem> {
    request(state, who, id, false).await
}

async fn request(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    held: bool,
) -> Result<Response, Problem> {
    let call = CallId::parse(&id).map_err(|e| Problem::bad_request(e.to_string()))?;
    let agent = match who.only_agent() {
        None => None,
        Some(Some(agent)) => Some(agent.clone()),
        Some(None) => {
            return Err(Problem::forbidden(format!(
                "token {:?} is an agent's token without an agent",
                who.token
            )))
        }
    };
    let by = HoldBy::Token(who.token.clone());
    match state.engine.hold(call, held, by, agent).await {
        Err(gone) => Err(Problem::unavailable(gone.to_string())),
        Ok(Err(e)) => Err(refused(e)),
        Ok(Ok(())) => Ok((
            StatusCode::ACCEPTED,
            Json(HoldReply {
                call: call.to_string(),
                requested: if held { "hold" } else { "resume" },
            }),
        )
            .into_response()),
    }
}
