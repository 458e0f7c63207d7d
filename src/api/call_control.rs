//! Call control over REST beyond hold (see `engine::redirect`):
//! - `POST /v1/calls/{id}/hangup`: hang a call up (an agent its own call, supervisors any);
//! - `POST /v1/calls/{id}/transfer`: blind transfer of a connected call to a queue, an agent or
//!   a dialplan extension (an agent its own call, supervisors any);
//! - `POST /v1/calls/{id}/move`, `/offer`, `/remove`: a waiting caller to another queue, rung
//!   as a direct call to a named agent, or out of the queues (supervisors and admins only).
//!
//! Every reply is 202: the switch is asked, and the history follows what it reports. For an
//! agent, another's call is 403 whether it exists or not.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ApiState, Principal, Problem};
use crate::engine::{
    AgentId, CallId, Destination, QueueId, RedirectAction, RedirectError, TransferTarget,
};

/// The longest a direct offer may ring.
const MAX_OFFER_TIMEOUT: Duration = Duration::from_secs(300);

/// What was asked of the switch.
#[derive(Serialize, JsonSchema)]
pub(super) struct ControlReply {
    /// The call's id.
    call: String,
    /// `hangup`, `transfer`, `move`, `offer` or `remove`.
    requested: &'static str,
}

/// Where a connected call goes (`to` says which kind).
#[derive(Deserialize, JsonSchema)]
#[serde(tag = "to", rename_all = "snake_case")]
pub(super) enum TransferBody {
    /// Into a queue.
    Queue {
        queue: String,
        /// Keep the caller's place (its first entry time); default true.
        keep_place: Option<bool>,
    },
    /// Rung as a direct call to one agent (available now); unanswered, the call waits in
    /// `fallback_queue` (default: its own queue) at its old place.
    Agent {
        agent: String,
        /// How long the agent's phone rings, 1 to 300 s (default: the queue's ring timeout).
        timeout_s: Option<u64>,
        fallback_queue: Option<String>,
    },
    /// An IVR flow's entry point (`entry_points` of a loaded flow): the caller runs the flow
    /// under the same call id.
    Flow { entry: String },
    /// A dialplan extension (an IVR flow's entry point, an external number's extension):
    /// letters, digits and `*#+._-`. The call is out of our queues until the caller hangs up.
    Extension {
        extension: String,
        /// Default `default`.
        context: Option<String>,
    },
    /// An external number through the configured dial template (`[transfer] external_dial`):
    /// an optional `+` then 3 to 20 digits. It rings first while the caller stays with the
    /// agent; answered, the caller is bridged to it and the agent's part ends.
    Number { number: String },
}

/// A waiting caller to another queue.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct MoveBody {
    queue: String,
    /// Keep the caller's place (its entry time); default true.
    keep_place: Option<bool>,
}

/// A waiting caller rung as a direct call to one available agent.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct OfferBody {
    agent: String,
    /// How long the agent's phone rings, 1 to 300 s (default: the queue's ring timeout).
    timeout_s: Option<u64>,
}

/// A waiting caller out of the queues.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RemoveBody {
    /// `extension:<number>[@<context>]`, `voicemail:<mailbox>@<domain>` or
    /// `hangup[:<cause>]`.
    to: String,
}

fn refused(e: RedirectError) -> Problem {
    match e {
        RedirectError::UnknownCall(_) => Problem::not_found(e.to_string()),
        RedirectError::NotTheAgentsCall { .. } => Problem::forbidden(e.to_string()),
        RedirectError::UnknownQueue(_)
        | RedirectError::UnknownAgent(_)
        | RedirectError::BadDestination(_) => Problem::bad_request(e.to_string()),
        RedirectError::NotConnected(_)
        | RedirectError::NotWaiting(_)
        | RedirectError::AlreadyTransferring(_)
        | RedirectError::AgentNotAvailable { .. }
        | RedirectError::SameAgent(_)
        | RedirectError::SameQueue { .. }
        | RedirectError::NoExternalDial
        | RedirectError::InConference(_) => Problem::conflict(e.to_string()),
    }
}

fn body<T: for<'de> Deserialize<'de>>(bytes: &Bytes, shape: &str) -> Result<T, Problem> {
    serde_json::from_slice(bytes)
        .map_err(|e| Problem::bad_request(format!("body must be {shape}: {e}")))
}

fn queue(raw: &str) -> Result<QueueId, Problem> {
    QueueId::new(raw).map_err(|e| Problem::bad_request(format!("queue: {e}")))
}

fn agent(raw: &str) -> Result<AgentId, Problem> {
    AgentId::new(raw).map_err(|e| Problem::bad_request(format!("agent: {e}")))
}

fn timeout(secs: Option<u64>) -> Result<Option<Duration>, Problem> {
    match secs.map(Duration::from_secs) {
        Some(t) if t.is_zero() || t > MAX_OFFER_TIMEOUT => Err(Problem::bad_request(format!(
            "timeout_s must be 1 to {}",
            MAX_OFFER_TIMEOUT.as_secs()
        ))),
        t => Ok(t),
    }
}

pub(super) async fn hangup(
    state: State<ApiState>,
    who: Extension<Principal>,
    id: Path<String>,
) -> Result<Response, Problem> {
    request(state, who, id, |_| Ok(RedirectAction::Hangup)).await
}

pub(super) async fn transfer(
    state: State<ApiState>,
    who: Extension<Principal>,
    id: Path<String>,
    bytes: Bytes,
) -> Result<Response, Problem> {
    request(state, who, id, move |_| {
        let shape = "{\"to\": \"queue\"|\"agent\"|\"flow\"|\"extension\"|\"number\", ...}";
        let target = match body::<TransferBody>(&bytes, shape)? {
            TransferBody::Queue {
                queue: q,
                keep_place,
            } => TransferTarget::Queue {
                queue: queue(&q)?,
                keep_place: keep_place.unwrap_or(true),
            },
            TransferBody::Agent {
                agent: a,
                timeout_s,
                fallback_queue,
            } => TransferTarget::Agent {
                agent: agent(&a)?,
                timeout: timeout(timeout_s)?,
                fallback: fallback_queue.as_deref().map(queue).transpose()?,
            },
            TransferBody::Flow { entry } if entry.is_empty() || entry.len() > 64 => {
                return Err(Problem::bad_request("entry must be 1 to 64 characters"))
            }
            TransferBody::Flow { entry } => TransferTarget::Flow { entry },
            TransferBody::Extension { extension, context } => TransferTarget::Extension {
                number: extension,
                context: context.unwrap_or_else(|| Destination::DEFAULT_CONTEXT.to_owned()),
            },
            TransferBody::Number { number } => TransferTarget::Number { number },
        };
        Ok(RedirectAction::Transfer(target))
    })
    .await
}

pub(super) async fn move_call(
    state: State<ApiState>,
    who: Extension<Principal>,
    id: Path<String>,
    bytes: Bytes,
) -> Result<Response, Problem> {
    request(state, who, id, move |_| {
        let b: MoveBody = body(&bytes, "{\"queue\": <id>, \"keep_place\": <bool>}")?;
        Ok(RedirectAction::Move {
            queue: queue(&b.queue)?,
            keep_place: b.keep_place.unwrap_or(true),
        })
    })
    .await
}

pub(super) async fn offer(
    state: State<ApiState>,
    who: Extension<Principal>,
    id: Path<String>,
    bytes: Bytes,
) -> Result<Response, Problem> {
    request(state, who, id, move |_| {
        let b: OfferBody = body(&bytes, "{\"agent\": <id>, \"timeout_s\": <seconds>}")?;
        Ok(RedirectAction::Offer {
            agent: agent(&b.agent)?,
            timeout: timeout(b.timeout_s)?,
        })
    })
    .await
}

pub(super) async fn remove(
    state: State<ApiState>,
    who: Extension<Principal>,
    id: Path<String>,
    bytes: Bytes,
) -> Result<Response, Problem> {
    request(state, who, id, move |_| {
        let b: RemoveBody = body(&bytes, "{\"to\": <destination>}")?;
        let destination: Destination =
            b.to.parse()
                .map_err(|e| Problem::bad_request(format!("to: {e}")))?;
        Ok(RedirectAction::Remove { destination })
    })
    .await
}

async fn request(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    action: impl FnOnce(CallId) -> Result<RedirectAction, Problem>,
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
    let action = action(call)?;
    let requested = action.name();
    let by = format!("token:{}", who.token);
    match state.engine.redirect(call, action, by, agent).await {
        Err(gone) => Err(Problem::unavailable(gone.to_string())),
        Ok(Err(e)) => Err(refused(e)),
        Ok(Ok(())) => Ok((
            StatusCode::ACCEPTED,
            Json(ControlReply {
                call: call.to_string(),
                requested,
            }),
        )
            .into_response()),
    }
}
