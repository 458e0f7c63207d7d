//! `POST /v1/calls/{id}/conference` and `DELETE /v1/calls/{id}/conference/parties/{party}`:
//! a conference asked by the agent on the call (or a party of its conference) or by a
//! supervisor or an admin on any call.
//!
//! Adding an agent moves the caller and the call's agent into a conference of ours (the first
//! time) and rings the agent, who joins when it answers. `agent_leaves` says what happens
//! when the call's agent leaves: the others `stay` (default; a party becomes the call's
//! agent) or the call `end`s. Dropping a party hangs up its leg. The reply is 202: asked of
//! the switch; what happens is in `GET /v1/calls/{id}` (`conference`) and in the history.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ApiState, Principal, Problem};
use crate::engine::{AgentId, AgentLeaves, CallId, ConferenceAsked, ConferenceError, HoldBy};

/// Whom to add (an agent or a number, not both), and what happens when the call's agent leaves.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ConferenceRequest {
    /// The agent to add (an available agent not already on the call).
    #[serde(default)]
    agent: Option<String>,
    /// An external number to add (digits, a leading `+` allowed), dialled through the queue's
    /// dial template for external numbers (for now its callback's `dial`).
    #[serde(default)]
    number: Option<String>,
    /// `stay` (default): the others go on when the call's agent leaves; `end`: the call ends.
    #[serde(default)]
    agent_leaves: Option<LeavesBody>,
}

#[derive(Deserialize, JsonSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub(super) enum LeavesBody {
    Stay,
    End,
}

/// What was asked of the switch.
#[derive(Serialize, JsonSchema)]
pub(super) struct ConferenceReply {
    /// The call's id.
    call: String,
    /// `add` or `drop`.
    requested: &'static str,
    /// The party added or dropped: an agent id or a number.
    party: String,
}

fn refused(e: ConferenceError) -> Problem {
    match e {
        ConferenceError::UnknownCall(_)
        | ConferenceError::UnknownAgent(_)
        | ConferenceError::UnknownParty { .. } => Problem::not_found(e.to_string()),
        ConferenceError::BadNumber(_) => Problem::bad_request(e.to_string()),
        ConferenceError::NotTheAgentsCall { .. } => Problem::forbidden(e.to_string()),
        ConferenceError::AlreadyOnCall(_) => Problem::bad_request(e.to_string()),
        ConferenceError::NotConnected(_)
        | ConferenceError::OnHold(_)
        | ConferenceError::Consulting(_)
        | ConferenceError::TargetBusy(_)
        | ConferenceError::Unreachable(_)
        | ConferenceError::NoConference(_)
        | ConferenceError::NumberAlreadyIn(_)
        | ConferenceError::NoDialTemplate => Problem::conflict(e.to_string()),
    }
}

pub(super) async fn add(
    state: State<ApiState>,
    who: Extension<Principal>,
    id: Path<String>,
    body: Bytes,
) -> Result<Response, Problem> {
    let request: ConferenceRequest = serde_json::from_slice(&body).map_err(|e| {
        Problem::bad_request(format!(
            "body must be {{\"agent\": \"<id>\", \"agent_leaves\": \"stay\"|\"end\"}}: {e}"
        ))
    })?;
    let agent_leaves = match request.agent_leaves {
        None | Some(LeavesBody::Stay) => AgentLeaves::Stay,
        Some(LeavesBody::End) => AgentLeaves::End,
    };
    let (asked, shown) = match (request.agent, request.number) {
        (Some(agent), None) => {
            let agent = AgentId::new(&agent).map_err(|e| Problem::bad_request(e.to_string()))?;
            let shown = agent.to_string();
            let asked = ConferenceAsked::Add {
                agent,
                agent_leaves,
            };
            (asked, shown)
        }
        (None, Some(number)) => {
            let asked = ConferenceAsked::AddNumber {
                number: number.clone(),
                agent_leaves,
            };
            (asked, number)
        }
        _ => {
            return Err(Problem::bad_request(
                "give either \"agent\" or \"number\"".to_owned(),
            ))
        }
    };
    ask(state, who, id.0, asked, "add", shown).await
}

pub(super) async fn drop_party(
    state: State<ApiState>,
    who: Extension<Principal>,
    Path((id, party)): Path<(String, String)>,
) -> Result<Response, Problem> {
    // An agent id or a number party's number; anything else is simply no party of the call.
    if party.is_empty() || party.len() > 64 {
        return Err(Problem::bad_request(
            "a party is an agent id or a number".to_owned(),
        ));
    }
    let shown = party.clone();
    ask(
        state,
        who,
        id,
        ConferenceAsked::Drop { party },
        "drop",
        shown,
    )
    .await
}

async fn ask(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    id: String,
    asked: ConferenceAsked,
    requested: &'static str,
    shown: String,
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
    match state.engine.conference(call, asked, by, agent).await {
        Err(gone) => Err(Problem::unavailable(gone.to_string())),
        Ok(Err(e)) => Err(refused(e)),
        Ok(Ok(())) => Ok((
            StatusCode::ACCEPTED,
            Json(ConferenceReply {
                call: call.to_string(),
                requested,
                party: shown,
            }),
        )
            .into_response()),
    }
}
