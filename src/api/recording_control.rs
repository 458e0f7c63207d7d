//! `POST /v1/calls/{id}/recording`: start, stop, pause, resume, mask or unmask the recording
//! of a call in progress (PCI: pause or mask while a card number is read out).
//!
//! A supervisor or an admin acts on any call, an agent's token on the call its agent is on
//! only; for an agent, another's call is 403 whether it exists or not, so the reply tells
//! nothing about calls that are not its own. The engine keeps who asked
//! (`token:<name>`) with the recording's change.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ApiState, Principal, Problem};
use crate::engine::recording::{RecordingAction, RecordingActor};
use crate::engine::{CallId, RecordingControlError};

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RecordingRequest {
    /// `start`, `stop`, `pause`, `resume`, `mask` or `unmask`.
    action: String,
}

/// The recording acted on, and what it is now.
#[derive(Serialize, JsonSchema)]
pub(super) struct RecordingControlReply {
    /// The recording's id.
    recording: String,
    /// The call's id.
    call: String,
    /// What was done.
    action: String,
    /// Whether the call is still being recorded (false after `stop`).
    active: bool,
    /// Nothing is written to the file (the time is left out of it).
    paused: bool,
    /// Silence is written to the file.
    masked: bool,
}

fn refused(e: RecordingControlError) -> Problem {
    match e {
        RecordingControlError::UnknownCall(_) => Problem::not_found(e.to_string()),
        RecordingControlError::NotTheAgentsCall { .. } => Problem::forbidden(e.to_string()),
        RecordingControlError::NotConnected(_)
        | RecordingControlError::AlreadyRecording { .. }
        | RecordingControlError::NotRecording(_)
        | RecordingControlError::DeclinedByCaller(_)
        | RecordingControlError::AlreadyPaused(_)
        | RecordingControlError::NotPaused(_)
        | RecordingControlError::AlreadyMasked(_)
        | RecordingControlError::NotMasked(_) => Problem::conflict(e.to_string()),
    }
}

pub(super) async fn control(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Problem> {
    let call = CallId::parse(&id).map_err(|e| Problem::bad_request(e.to_string()))?;
    let request: RecordingRequest = serde_json::from_slice(&body).map_err(|e| {
        Problem::bad_request(format!(
            "body must be {{\"action\": \"start\" | \"stop\" | \"pause\" | \"resume\" | \"mask\" | \"unmask\"}}: {e}"
        ))
    })?;
    let action = RecordingAction::parse(&request.action).ok_or_else(|| {
        Problem::bad_request(format!(
            "action {:?} is not one of \"start\", \"stop\", \"pause\", \"resume\", \"mask\", \"unmask\"",
            request.action
        ))
    })?;
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
    let by = RecordingActor::Token(who.token.clone());
    let done = match state
        .engine
        .control_recording(call, action, by, agent)
        .await
    {
        Err(gone) => return Err(Problem::unavailable(gone.to_string())),
        Ok(Err(e)) => return Err(refused(e)),
        Ok(Ok(done)) => done,
    };
    Ok(Json(RecordingControlReply {
        recording: done.recording.to_string(),
        call: call.to_string(),
        action: action.as_str().to_owned(),
        active: done.now.is_some(),
        paused: done.now.is_some_and(|r| r.paused),
        masked: done.now.is_some_and(|r| r.masked),
    })
    .into_response())
}
