//! `POST /v1/calls/{id}/consult` and `/consult/complete`, `/consult/cancel`, `/consult/swap`:
//! a consult (attended) transfer asked by the agent on the call (its desktop or CRM) or by a
//! supervisor or an admin on any call.
//!
//! The target's phone rings while the agent still talks to the caller; once it answers the
//! caller hears the queue's music on hold while the agent talks to the target. The reply is
//! 202: asked of the switch; what happens is in `GET /v1/calls/{id}` (`consult`) and in the
//! history. For an agent, another's call is 403 whether it exists or not.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ApiState, Principal, Problem};
use crate::engine::{AgentId, CallId, ConsultAction, ConsultAsked, ConsultError, HoldBy};

/// Whom to consult: exactly one of `agent` and `number`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ConsultRequest {
    /// The agent to call (an available agent other than the call's own).
    agent: Option<String>,
    /// An external number to call through the configured dial template (`[transfer]
    /// external_dial`): an optional `+` then 3 to 20 digits.
    number: Option<String>,
}

/// What was asked of the switch.
#[derive(Serialize, JsonSchema)]
pub(super) struct ConsultReply {
    /// The call's id.
    call: String,
    /// `consult`, `complete`, `cancel` or `swap`.
    requested: &'static str,
}

fn refused(e: ConsultError) -> Problem {
    match e {
        ConsultError::UnknownCall(_) | ConsultError::UnknownAgent(_) => {
            Problem::not_found(e.to_string())
        }
        ConsultError::NotTheAgentsCall { .. } => Problem::forbidden(e.to_string()),
        ConsultError::SameAgent(_) | ConsultError::BadNumber(_) => {
            Problem::bad_request(e.to_string())
        }
        ConsultError::NoExternalDial => Problem::conflict(e.to_string()),
        ConsultError::NotConnected(_)
        | ConsultError::OnHold(_)
        | ConsultError::AlreadyConsulting(_)
        | ConsultError::NoConsult(_)
        | ConsultError::TargetBusy(_)
        | ConsultError::Unreachable(_)
        | ConsultError::WrongPhase { .. }
        | ConsultError::StepPending(_)
        | ConsultError::InConference(_) => Problem::conflict(e.to_string()),
    }
}

pub(super) async fn start(
    state: State<ApiState>,
    who: Extension<Principal>,
    id: Path<String>,
    body: Bytes,
) -> Result<Response, Problem> {
    let shape = "{\"agent\": \"<id>\"} or {\"number\": \"<digits>\"}";
    let request: ConsultRequest = serde_json::from_slice(&body)
        .map_err(|e| Problem::bad_request(format!("body must be {shape}: {e}")))?;
    let asked = match (request.agent, request.number) {
        (Some(agent), None) => ConsultAsked::Start {
            target: AgentId::new(&agent).map_err(|e| Problem::bad_request(e.to_string()))?,
        },
        (None, Some(number)) => ConsultAsked::Number { number },
        _ => {
            return Err(Problem::bad_request(format!(
                "body must be {shape}: exactly one of agent and number"
            )))
        }
    };
    ask(state, who, id, asked, "consult").await
}

pub(super) async fn complete(
    state: State<ApiState>,
    who: Extension<Principal>,
    id: Path<String>,
) -> Result<Response, Problem> {
    let asked = ConsultAsked::Action(ConsultAction::Complete);
    ask(state, who, id, asked, "complete").await
}

pub(super) async fn cancel(
    state: State<ApiState>,
    who: Extension<Principal>,
    id: Path<String>,
) -> Result<Response, Problem> {
    let asked = ConsultAsked::Action(ConsultAction::Cancel);
    ask(state, who, id, asked, "cancel").await
}

pub(super) async fn swap(
    state: State<ApiState>,
    who: Extension<Principal>,
    id: Path<String>,
) -> Result<Response, Problem> {
    let asked = ConsultAsked::Action(ConsultAction::Swap);
    ask(state, who, id, asked, "swap").await
}

async fn ask(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    asked: ConsultAsked,
    requested: &'static str,
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
    match state.engine.consult(call, asked, by, agent).await {
        Err(gone) => Err(Problem::unavailable(gone.to_string())),
        Ok(Err(e)) => Err(refused(e)),
        Ok(Ok(())) => Ok((
            StatusCode::ACCEPTED,
            Json(ConsultReply {
                call: call.to_string(),
                requested,
            }),
        )
            .into_response()),
    }
}
