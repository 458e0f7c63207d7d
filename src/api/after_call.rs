//! The reply to `PUT /v1/agents/{id}/state` when the state may wait for the agent's call
//! ("after this call", `engine::after_call`): 200 when it took effect, 202 when it waits for
//! the call and its wrap-up to end (`pending`), 200 with `cancelled` when an `available`
//! dropped what waited.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use schemars::JsonSchema;
use serde::Serialize;

use crate::engine::{AgentId, StateRequestOutcome};

/// What became of a state change.
#[derive(Debug, Serialize, JsonSchema)]
pub(super) struct StateReply {
    pub agent: String,
    /// The state asked for.
    pub state: String,
    pub reason: Option<String>,
    /// `applied` (in effect now), `pending` (waits for the call and its wrap-up to end; shown
    /// as the agent's `after_call`) or `cancelled` (an `available` dropped what waited).
    pub outcome: String,
    /// Whether the state waits for the agent's call.
    pub pending: bool,
}

pub(super) fn state_reply(
    agent: &AgentId,
    state: &str,
    reason: Option<String>,
    outcome: StateRequestOutcome,
) -> Response {
    let pending = outcome == StateRequestOutcome::Pending;
    let status = if pending {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    let reply = StateReply {
        agent: agent.as_str().to_owned(),
        state: state.to_owned(),
        reason,
        outcome: outcome.as_str().to_owned(),
        pending,
    };
    (status, Json(reply)).into_response()
}
