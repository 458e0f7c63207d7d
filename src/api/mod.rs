//! The REST API (axum): the only module with HTTP types.
//!
//! Reads come from the engine's published snapshot or from the store; writes are requests to
//! the engine task. Every error is a problem details document.

mod flows;
mod problem;
mod provisioning;
mod webhooks;

use std::sync::{Arc, PoisonError, RwLock};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

pub use problem::Problem;

use crate::app::{EngineHandle, Flows};
use crate::engine::{parse_skill_list, AgentId, CallId, CallUpdate, CommandError, RequestedState};
use crate::metrics::Metrics;
use crate::store::{PauseReasonRow, Store};

#[derive(Clone)]
pub struct ApiState {
    engine: EngineHandle,
    store: Store,
    metrics: Arc<Metrics>,
    /// The provisioned pause reasons; when there are any, a pause must give one of them.
    pause_reasons: Arc<RwLock<Vec<PauseReasonRow>>>,
    /// Held by each provisioning write, from reading the store to applying to the engine.
    provisioning: Arc<tokio::sync::Mutex<()>>,
    /// The IVR flows being served, and their directory for reloads.
    flows: Arc<Flows>,
}

impl ApiState {
    pub fn new(
        engine: EngineHandle,
        store: Store,
        metrics: Arc<Metrics>,
        pause_reasons: Vec<PauseReasonRow>,
        flows: Arc<Flows>,
    ) -> Self {
        Self {
            engine,
            store,
            metrics,
            pause_reasons: Arc::new(RwLock::new(pause_reasons)),
            provisioning: Arc::new(tokio::sync::Mutex::new(())),
            flows,
        }
    }

    fn pause_reasons(&self) -> Vec<PauseReasonRow> {
        self.pause_reasons
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_pause_reasons(&self, reasons: Vec<PauseReasonRow>) {
        *self
            .pause_reasons
            .write()
            .unwrap_or_else(PoisonError::into_inner) = reasons;
    }
}

pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/v1/queues", get(queues))
        .route("/v1/agents", get(agents))
        .route(
            "/v1/agents/{id}",
            get(agent)
                .put(provisioning::put_agent)
                .delete(provisioning::delete_agent),
        )
        .route(
            "/v1/agents/{id}/provisioning",
            get(provisioning::get_agent_provisioning),
        )
        .route("/v1/agents/{id}/state", put(set_agent_state))
        .route("/v1/agents/{id}/states", get(agent_states))
        .route("/v1/pause-reasons", get(pause_reasons))
        .route(
            "/v1/pause-reasons/{code}",
            put(provisioning::put_pause_reason).delete(provisioning::delete_pause_reason),
        )
        .route("/v1/calls", get(calls))
        .route("/v1/calls/{id}", get(call).patch(update_call))
        .route("/v1/flows", get(flows::list))
        .route("/v1/flows/reload", post(flows::reload))
        .route("/v1/flows/{id}", get(flows::one))
        .route("/v1/flows/{id}/diagram", get(flows::diagram))
        .route("/v1/flows/{id}/exits", get(flows::exits))
        .route("/v1/flows/{id}/sessions", get(flows::sessions))
        .route("/v1/webhooks", get(webhooks::list))
        .route(
            "/v1/webhooks/{name}",
            put(webhooks::put).delete(webhooks::delete),
        )
        .route("/v1/webhook-deliveries", get(webhooks::deliveries))
        .route("/v1/webhook-deliveries/{id}", get(webhooks::delivery))
        .route("/v1/webhook-deliveries/{id}/replay", post(webhooks::replay))
        .fallback(|| async { Problem::not_found("no such endpoint") })
        .with_state(state)
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

async fn metrics(State(state): State<ApiState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

async fn queues(State(state): State<ApiState>) -> Json<serde_json::Value> {
    let snapshot = state.engine.snapshot();
    Json(json!({ "queues": snapshot.queues }))
}

async fn agents(State(state): State<ApiState>) -> Json<serde_json::Value> {
    let snapshot = state.engine.snapshot();
    let now = wall_clock_ms();
    let agents: Vec<serde_json::Value> = snapshot
        .agents
        .iter()
        .map(|a| with_time_in_state(a, now))
        .collect();
    Json(json!({ "agents": agents }))
}

fn wall_clock_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The agent as published, plus how long it has been in its state at the time of the request
/// (the published snapshot only says since when).
fn with_time_in_state(
    agent: &crate::engine::snapshot::AgentView,
    now_ms: i64,
) -> serde_json::Value {
    let mut value = serde_json::to_value(agent).unwrap_or_default();
    if let Some(fields) = value.as_object_mut() {
        let ms = now_ms.saturating_sub(agent.since.as_millis()).max(0);
        fields.insert("time_in_state_ms".to_owned(), json!(ms));
    }
    value
}

fn parse_agent_id(raw: &str) -> Result<AgentId, Problem> {
    AgentId::new(raw).map_err(|e| Problem::bad_request(e.to_string()))
}

async fn agent(State(state): State<ApiState>, Path(id): Path<String>) -> Result<Response, Problem> {
    let id = parse_agent_id(&id)?;
    let snapshot = state.engine.snapshot();
    let agent = snapshot
        .agents
        .iter()
        .find(|a| a.id == id)
        .ok_or_else(|| Problem::not_found(format!("no agent {id}")))?;
    Ok(Json(with_time_in_state(agent, wall_clock_ms())).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StateChange {
    state: String,
    /// Required with `paused`: the pause reason code.
    reason: Option<String>,
}

/// Maps an engine refusal to its problem document.
fn refused(e: CommandError) -> Problem {
    match e {
        CommandError::UnknownAgent(_) | CommandError::UnknownCall(_) => {
            Problem::not_found(e.to_string())
        }
        CommandError::Conflict { .. } => Problem::conflict(e.to_string()),
    }
}

/// A pause needs a reason code: a provisioned one when any are provisioned.
fn pause_reason(reason: Option<String>, known: &[PauseReasonRow]) -> Result<String, Problem> {
    let reason = reason.unwrap_or_default();
    if !crate::config::is_pause_code(&reason) {
        return Err(Problem::bad_request(
            "\"paused\" needs a \"reason\": a code of 1-32 letters, digits, '-', '_' or '.'",
        ));
    }
    if !known.is_empty() && !known.iter().any(|r| r.code == reason) {
        let codes: Vec<String> = known
            .iter()
            .map(|r| format!("{:?} ({})", r.code, r.name))
            .collect();
        return Err(Problem::bad_request(format!(
            "no pause reason {reason:?}; the provisioned ones are {}",
            codes.join(", ")
        )));
    }
    Ok(reason)
}

async fn pause_reasons(State(state): State<ApiState>) -> Json<serde_json::Value> {
    Json(json!({ "pause_reasons": state.pause_reasons() }))
}

async fn set_agent_state(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Problem> {
    let id = parse_agent_id(&id)?;
    let change: StateChange = serde_json::from_slice(&body).map_err(|e| {
        Problem::bad_request(format!(
            "body must be {{\"state\": \"available\" | \"logged_out\" | \"paused\", \"reason\": ...}}: {e}"
        ))
    })?;
    let requested = match change.state.as_str() {
        "available" => RequestedState::Available,
        "logged_out" => RequestedState::LoggedOut,
        "paused" => RequestedState::Paused {
            reason: pause_reason(change.reason.clone(), &state.pause_reasons())?,
        },
        other => {
            return Err(Problem::bad_request(format!(
                "state {other:?} is not one of \"available\", \"logged_out\", \"paused\""
            )))
        }
    };
    match state.engine.set_agent_state(id.clone(), requested).await {
        Err(gone) => Err(Problem::unavailable(gone.to_string())),
        Ok(Err(e)) => Err(refused(e)),
        Ok(Ok(())) => Ok((
            StatusCode::OK,
            Json(json!({ "agent": id, "state": change.state, "reason": change.reason })),
        )
            .into_response()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CallChange {
    priority: Option<i32>,
    /// `"spanish:7,billing"`; an empty string clears the caller's skills.
    skills: Option<String>,
}

/// Changes a waiting (or ringing) call's priority or skills; it takes its new place at once.
async fn update_call(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Problem> {
    let id = CallId::parse(&id).map_err(|e| Problem::bad_request(e.to_string()))?;
    let change: CallChange = serde_json::from_slice(&body).map_err(|e| {
        Problem::bad_request(format!(
            "body must be {{\"priority\": <integer>, \"skills\": \"skill:level,...\"}}: {e}"
        ))
    })?;
    let skills = change
        .skills
        .as_deref()
        .map(parse_skill_list)
        .transpose()
        .map_err(|e| Problem::bad_request(format!("skills: {e}")))?;
    if change.priority.is_none() && skills.is_none() {
        return Err(Problem::bad_request(
            "nothing to change: give \"priority\" and/or \"skills\"",
        ));
    }
    let update = CallUpdate {
        priority: change.priority,
        skills,
    };
    match state.engine.update_call(id, update).await {
        Err(gone) => Err(Problem::unavailable(gone.to_string())),
        Ok(Err(e)) => Err(refused(e)),
        Ok(Ok(())) => Ok(Json(json!({ "call": id, "updated": true })).into_response()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitQuery {
    limit: Option<u32>,
}

/// An agent's state changes, newest first: when, from what to what, why (cause and pause
/// reason), and how long the agent had been in the state it left.
async fn agent_states(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    query: Result<Query<LimitQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, Problem> {
    let id = parse_agent_id(&id)?;
    let Query(query) = query.map_err(|e| Problem::bad_request(e.body_text()))?;
    if !state.engine.snapshot().agents.iter().any(|a| a.id == id) {
        return Err(Problem::not_found(format!("no agent {id}")));
    }
    let limit = query.limit.unwrap_or(50).clamp(1, 1000);
    let changes = state
        .store
        .agent_state_changes(&id, limit)
        .await
        .map_err(|e| Problem::internal(&e))?;
    Ok(Json(json!({ "agent": id, "changes": changes })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CallsQuery {
    limit: Option<u32>,
}

async fn calls(
    State(state): State<ApiState>,
    query: Result<Query<CallsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, Problem> {
    let Query(query) = query.map_err(|e| Problem::bad_request(e.body_text()))?;
    let limit = query.limit.unwrap_or(50).clamp(1, 1000);
    let recent = state
        .store
        .recent_calls(limit)
        .await
        .map_err(|e| Problem::internal(&e))?;
    let snapshot = state.engine.snapshot();
    Ok(Json(json!({ "active": snapshot.calls, "recent": recent })))
}

/// A call's history: its queue row and events when it reached a queue, and its IVR session
/// (`flow`, with the steps) when it came through a flow. A caller who never left the IVR has
/// only the session (`call` is null).
async fn call(State(state): State<ApiState>, Path(id): Path<String>) -> Result<Response, Problem> {
    let id = CallId::parse(&id).map_err(|e| Problem::bad_request(e.to_string()))?;
    let call = state
        .store
        .call(id)
        .await
        .map_err(|e| Problem::internal(&e))?;
    let flow = state
        .store
        .flow_session(id)
        .await
        .map_err(|e| Problem::internal(&e))?;
    if call.is_none() && flow.is_none() {
        return Err(Problem::not_found(format!("no call {id}")));
    }
    let events = match call {
        Some(_) => state
            .store
            .queue_events(id)
            .await
            .map_err(|e| Problem::internal(&e))?,
        None => Vec::new(),
    };
    let survey = match call {
        Some(_) => state
            .store
            .call_survey(id)
            .await
            .map_err(|e| Problem::internal(&e))?,
        None => None,
    };
    let mut body = json!({ "call": call, "queue_events": events });
    if let Some(flow) = flow {
        body["flow"] = json!(flow);
    }
    if let Some(survey) = survey {
        body["survey"] = json!(survey);
    }
    Ok(Json(body).into_response())
}
