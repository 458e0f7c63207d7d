//! Supervisor monitoring over REST: `POST /v1/calls/{id}/monitor` rings the supervisor's phone
//! and joins the call (listen, whisper or barge) when it answers; `PATCH /v1/monitors/{id}`
//! changes the mode without redialling; `DELETE /v1/monitors/{id}` ends the session;
//! `POST /v1/monitors/{id}/take-over` hands the call to the supervisor; `GET /v1/monitors`
//! lists the sessions in progress and `GET /v1/calls/{id}/monitoring` a call's monitoring
//! history. Supervisors and admins only: an agent never monitors (403,
//! from the route's rule). The supervisor's phone is given with each request (`phone`, a
//! dial string checked like an agent's); the session is recorded as the token's.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ApiState, Principal, Problem};
use crate::config::DialString;
use crate::engine::{CallId, MonitorError, MonitorId, MonitorMode, MonitorRequest, MonitorView};
use crate::store::MonitorEventRow;

const MODES: &str = "\"listen\", \"whisper\" or \"barge\"";

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct MonitorBody {
    /// `listen` (silent), `whisper` (the agent hears the supervisor, the caller does not) or
    /// `barge` (three-way).
    mode: String,
    /// The supervisor's phone, as an agent's dial string: `user/<name>[@domain]`,
    /// `sofia/<profile>/<user>@<host>[:port]` or `loopback/<ext>[/<context>]`.
    phone: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct MonitorModeBody {
    /// `listen`, `whisper` or `barge`.
    mode: String,
}

/// A monitoring session.
#[derive(Serialize, JsonSchema)]
pub(super) struct MonitorReply {
    /// The session's id (also the supervisor's leg on the switch).
    id: String,
    call: String,
    queue: String,
    /// The agent on the call.
    agent: String,
    /// Who monitors (the API token's name).
    supervisor: String,
    phone: String,
    /// `listen`, `whisper` or `barge`.
    mode: String,
    /// `ringing` (the supervisor's phone rings) or `joined`.
    phase: String,
    /// Milliseconds since 1970.
    requested_at: i64,
    joined_at: Option<i64>,
}

impl From<MonitorView> for MonitorReply {
    fn from(v: MonitorView) -> Self {
        MonitorReply {
            id: v.id.to_string(),
            call: v.call.to_string(),
            queue: v.queue.as_str().to_owned(),
            agent: v.agent.as_str().to_owned(),
            supervisor: v.supervisor,
            phone: v.phone,
            mode: v.mode.as_str().to_owned(),
            phase: match v.phase {
                crate::engine::monitor::MonitorPhase::Ringing => "ringing",
                crate::engine::monitor::MonitorPhase::Joined => "joined",
            }
            .to_owned(),
            requested_at: v.requested_at.as_millis(),
            joined_at: v.joined_at.map(|t| t.as_millis()),
        }
    }
}

/// The sessions in progress.
#[derive(Serialize, JsonSchema)]
pub(super) struct MonitorList {
    monitors: Vec<MonitorReply>,
}

/// One change of a session in the history.
#[derive(Serialize, JsonSchema)]
pub(super) struct MonitorEventReply {
    monitor: String,
    call: String,
    queue: String,
    agent: String,
    supervisor: String,
    /// `started`, `mode_changed` or `ended`.
    kind: String,
    /// The mode after the change.
    mode: String,
    previous_mode: Option<String>,
    /// Why it ended: `requested`, `call_ended` or `supervisor_hung_up cause=<cause>`.
    reason: Option<String>,
    /// Milliseconds since 1970.
    at: i64,
}

impl From<MonitorEventRow> for MonitorEventReply {
    fn from(r: MonitorEventRow) -> Self {
        MonitorEventReply {
            monitor: r.monitor,
            call: r.call,
            queue: r.queue,
            agent: r.agent,
            supervisor: r.supervisor,
            kind: r.kind,
            mode: r.mode,
            previous_mode: r.previous_mode,
            reason: r.reason,
            at: r.at,
        }
    }
}

/// A call's monitoring history.
#[derive(Serialize, JsonSchema)]
pub(super) struct MonitorHistory {
    events: Vec<MonitorEventReply>,
}

fn refused(e: MonitorError) -> Problem {
    match e {
        MonitorError::UnknownCall(_) | MonitorError::UnknownMonitor(_) => {
            Problem::not_found(e.to_string())
        }
        MonitorError::NotConnected(_)
        | MonitorError::NotJoined(_)
        | MonitorError::SameMode(..)
        | MonitorError::BargeIsFixed(_)
        | MonitorError::Ending(_) => Problem::conflict(e.to_string()),
    }
}

fn mode(raw: &str) -> Result<MonitorMode, Problem> {
    MonitorMode::parse(raw)
        .ok_or_else(|| Problem::bad_request(format!("mode {raw:?} is not one of {MODES}")))
}

async fn ask(state: &ApiState, request: MonitorRequest) -> Result<MonitorView, Problem> {
    match state.engine.monitor(request).await {
        Err(gone) => Err(Problem::unavailable(gone.to_string())),
        Ok(Err(e)) => Err(refused(e)),
        Ok(Ok(view)) => Ok(view),
    }
}

fn monitor_id(id: &str) -> Result<MonitorId, Problem> {
    MonitorId::parse(id).map_err(|e| Problem::bad_request(e.to_string()))
}

pub(super) async fn start(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Problem> {
    let call = CallId::parse(&id).map_err(|e| Problem::bad_request(e.to_string()))?;
    let body: MonitorBody = serde_json::from_slice(&body).map_err(|e| {
        Problem::bad_request(format!(
            "body must be {{\"mode\": {MODES}, \"phone\": \"<dial string>\"}}: {e}"
        ))
    })?;
    let mode = mode(&body.mode)?;
    let phone = DialString::parse(&body.phone).map_err(|e| Problem::bad_request(e.to_string()))?;
    let view = ask(
        &state,
        MonitorRequest::Start {
            call,
            mode,
            supervisor: who.token.clone(),
            phone: phone.as_str().to_owned(),
        },
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(MonitorReply::from(view))).into_response())
}

pub(super) async fn change(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Problem> {
    let monitor = monitor_id(&id)?;
    let body: MonitorModeBody = serde_json::from_slice(&body)
        .map_err(|e| Problem::bad_request(format!("body must be {{\"mode\": {MODES}}}: {e}")))?;
    let mode = mode(&body.mode)?;
    let view = ask(&state, MonitorRequest::Mode { monitor, mode }).await?;
    Ok(Json(MonitorReply::from(view)).into_response())
}

pub(super) async fn end(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let monitor = monitor_id(&id)?;
    let view = ask(&state, MonitorRequest::End { monitor }).await?;
    Ok((StatusCode::ACCEPTED, Json(MonitorReply::from(view))).into_response())
}

/// The supervisor takes the call over: the caller is bridged to the supervisor's phone and
/// the agent's leg is hung up; the agent's part ends as a transfer to the supervisor.
pub(super) async fn take_over(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let monitor = monitor_id(&id)?;
    let view = ask(&state, MonitorRequest::TakeOver { monitor }).await?;
    Ok((StatusCode::ACCEPTED, Json(MonitorReply::from(view))).into_response())
}

pub(super) async fn list(State(state): State<ApiState>) -> Json<MonitorList> {
    let snapshot = state.engine.snapshot();
    Json(MonitorList {
        monitors: snapshot
            .monitors
            .iter()
            .cloned()
            .map(MonitorReply::from)
            .collect(),
    })
}

pub(super) async fn history(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<MonitorHistory>, Problem> {
    let call = CallId::parse(&id).map_err(|e| Problem::bad_request(e.to_string()))?;
    let rows = state
        .store
        .monitor_events(call)
        .await
        .map_err(|e| Problem::internal(&e))?;
    Ok(Json(MonitorHistory {
        events: rows.into_iter().map(MonitorEventReply::from).collect(),
    }))
}
