//! After-call work over REST: `PUT /v1/calls/{id}/disposition` gives a call (connected, or
//! being wrapped up) a disposition code from its queue's list (an agent on its own call, a
//! supervisor or an admin any); `POST /v1/agents/{id}/wrap-up` extends the agent's wrap-up up
//! to its queue's `max_wrap_up` (the agent itself, a supervisor or an admin).

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ApiState, Principal, Problem};
use crate::engine::wrap_up_work::is_disposition_code;
use crate::engine::{AgentId, CallId, WrapUpError};

/// Most seconds one extension may ask for.
const MAX_EXTENSION_SECONDS: u64 = 3_600;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct DispositionBody {
    /// A code of the call's queue (`disposition_codes`).
    code: String,
}

#[derive(Serialize, JsonSchema)]
pub(super) struct DispositionReply {
    call: String,
    disposition: String,
    /// The agent the call is counted to.
    agent: String,
    queue: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ExtendBody {
    /// Seconds to add to the wrap-up (1-3600); the queue's `max_wrap_up` caps the total.
    extend_seconds: u64,
}

#[derive(Serialize, JsonSchema)]
pub(super) struct ExtendReply {
    agent: String,
    /// When the wrap-up now ends (RFC 3339).
    until: String,
    /// The same, in milliseconds since the Unix epoch.
    until_ms: i64,
}

fn refused(e: WrapUpError) -> Problem {
    match e {
        WrapUpError::NotTheAgentsCall { .. } => Problem::forbidden(e.to_string()),
        WrapUpError::UnknownAgent(_) => Problem::not_found(e.to_string()),
        WrapUpError::NotHandled(_) | WrapUpError::NotInWrapUp(_) => {
            Problem::conflict(e.to_string())
        }
        WrapUpError::NoCodes(_) | WrapUpError::UnknownCode { .. } | WrapUpError::NoExtension(_) => {
            Problem::bad_request(e.to_string())
        }
    }
}

pub(super) async fn set_disposition(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Problem> {
    let call = CallId::parse(&id).map_err(|e| Problem::bad_request(e.to_string()))?;
    let body: DispositionBody = serde_json::from_slice(&body)
        .map_err(|e| Problem::bad_request(format!("body must be {{\"code\": \"...\"}}: {e}")))?;
    if !is_disposition_code(&body.code) {
        return Err(Problem::bad_request(
            "\"code\" must be 1-32 letters, digits, '-', '_' or '.'",
        ));
    }
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
    match state
        .engine
        .set_disposition(call, body.code.clone(), agent)
        .await
    {
        Err(gone) => Err(Problem::unavailable(gone.to_string())),
        Ok(Err(e)) => Err(refused(e)),
        Ok(Ok(set)) => Ok(Json(DispositionReply {
            call: call.to_string(),
            disposition: body.code,
            agent: set.agent.to_string(),
            queue: set.queue.to_string(),
        })
        .into_response()),
    }
}

pub(super) async fn extend(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Problem> {
    let agent = AgentId::new(&id).map_err(|e| Problem::bad_request(e.to_string()))?;
    let body: ExtendBody = serde_json::from_slice(&body).map_err(|e| {
        Problem::bad_request(format!(
            "body must be {{\"extend_seconds\": <1-3600>}}: {e}"
        ))
    })?;
    if !(1..=MAX_EXTENSION_SECONDS).contains(&body.extend_seconds) {
        return Err(Problem::bad_request(format!(
            "\"extend_seconds\" must be from 1 to {MAX_EXTENSION_SECONDS}"
        )));
    }
    let by = Duration::from_secs(body.extend_seconds);
    match state.engine.extend_wrap_up(agent.clone(), by).await {
        Err(gone) => Err(Problem::unavailable(gone.to_string())),
        Ok(Err(e)) => Err(refused(e)),
        Ok(Ok(until)) => Ok(Json(ExtendReply {
            agent: agent.to_string(),
            until: crate::cti::rfc3339(until).unwrap_or_default(),
            until_ms: until.as_millis(),
        })
        .into_response()),
    }
}
