//! The REST API (axum): the only module with HTTP types.
//!
//! Reads come from the engine's published snapshot or from the store; writes are requests to
//! the engine task. Every error is a problem details document. Every request but `/healthz`,
//! the API's description (`openapi`) and the web pages' files (`pages`, which hold no data)
//! needs a token whose role the route allows (`auth`).

mod after_call;
pub mod auth;
mod call_conference;
mod call_consult;
mod call_control;
mod call_hold;
mod events;
mod flows;
mod monitor;
mod openapi;
mod operations;
mod pages;
mod problem;
mod provisioning;
mod queue_provisioning;
mod recording_control;
mod recordings;
mod reports;
mod retention;
mod search_filters;
mod server;
mod staffing;
mod standby;
mod stats;
mod webhooks;
mod wrap_up;
// `GET /v1/calls` with filters and a cursor.
mod call_search;

use std::sync::{Arc, PoisonError, RwLock};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::handler::Handler;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::on;
use axum::{Extension, Json, Router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

pub use auth::{Auth, Principal};
pub use openapi::document as openapi_document;
pub use problem::Problem;
pub use server::{serve, HttpLimits};

use auth::Verb;
use call_search::CallsQuery;

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
    /// The tokens, and whether requests need one.
    auth: Arc<Auth>,
    /// History batches committed so far: live event streams wait on it for new events.
    outbox_batches: tokio::sync::watch::Receiver<u64>,
    /// Where the controller reads each switch's recordings directory (switches without a
    /// mount are absent): recordings are served and purged from there.
    recording_mounts: Arc<RecordingMounts>,
    /// What supervisors score recordings with.
    evaluation_forms: Arc<Vec<crate::config::EvaluationForm>>,
    /// Subscriptions may name loopback, link-local and private addresses.
    allow_private_webhook_targets: bool,
    /// Whether this controller leads (a standby sends writes and live reads to the leader).
    leadership: tokio::sync::watch::Receiver<crate::app::leadership::View>,
    /// `[routing]` defaults for queues created over REST (see `queue_provisioning`).
    routing_defaults: crate::config::RoutingDefaults,
    /// `[stats]` and the live numbers' one-second cache (see `stats`).
    stats: Arc<stats::LiveStats>,
}

/// Each switch's recordings directory as the controller mounts it.
pub type RecordingMounts =
    std::collections::BTreeMap<crate::engine::SwitchName, std::path::PathBuf>;

impl ApiState {
    pub fn new(
        engine: EngineHandle,
        store: Store,
        metrics: Arc<Metrics>,
        pause_reasons: Arc<RwLock<Vec<PauseReasonRow>>>,
        flows: Arc<Flows>,
        auth: Auth,
        outbox_batches: tokio::sync::watch::Receiver<u64>,
    ) -> Self {
        Self {
            engine,
            store,
            metrics,
            pause_reasons,
            provisioning: Arc::new(tokio::sync::Mutex::new(())),
            flows,
            auth: Arc::new(auth),
            outbox_batches,
            recording_mounts: Arc::new(RecordingMounts::new()),
            evaluation_forms: Arc::new(crate::config::forms_or_standard(Vec::new())),
            allow_private_webhook_targets: false,
            leadership: crate::app::leadership::View::single(),
            routing_defaults: crate::config::RoutingDefaults::default(),
            stats: Arc::new(stats::LiveStats::new(stats::StatsSettings::default())),
        }
    }

    /// `[stats]` of the config: the time zone, window and default targets of the numbers.
    pub fn with_stats(mut self, config: crate::config::StatsConfig) -> Self {
        self.stats = Arc::new(stats::LiveStats::new(stats::StatsSettings::from_config(
            &config,
        )));
        self
    }

    /// `[routing]` of the config: what queues created over REST get when they set nothing.
    pub fn with_routing_defaults(mut self, defaults: crate::config::RoutingDefaults) -> Self {
        self.routing_defaults = defaults;
        self
    }

    /// The leadership of a controller pair, as this controller sees it.
    pub fn with_leadership(
        mut self,
        view: tokio::sync::watch::Receiver<crate::app::leadership::View>,
    ) -> Self {
        self.leadership = view;
        self
    }

    /// The token table, which the other controller of a pair's changes reload.
    pub fn shared_auth(&self) -> Arc<Auth> {
        self.auth.clone()
    }

    /// `[webhook_settings] allow_private_targets` of the provisioning file.
    pub fn with_private_webhook_targets(mut self, allow: bool) -> Self {
        self.allow_private_webhook_targets = allow;
        self
    }

    /// Where recordings can be read, per switch.
    pub fn with_recording_mounts(mut self, mounts: RecordingMounts) -> Self {
        self.recording_mounts = Arc::new(mounts);
        self
    }

    /// The evaluation forms of the provisioning file; the standard form when it has none.
    pub fn with_evaluation_forms(mut self, forms: Vec<crate::config::EvaluationForm>) -> Self {
        self.evaluation_forms = Arc::new(crate::config::forms_or_standard(forms));
        self
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

/// The router's routes, each added with one method, and the list of them that the rule table
/// (`auth::RULES`) is checked against.
struct Routes {
    router: Router<ApiState>,
    listed: Vec<(Verb, &'static str)>,
}

impl Routes {
    fn add<H, T>(mut self, verb: Verb, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, ApiState>,
        T: 'static,
    {
        self.router = self.router.route(path, on(verb.filter(), handler));
        self.listed.push((verb, path));
        self
    }
}

fn routes() -> Routes {
    use Verb::{Delete, Get, Patch, Post, Put};
    Routes {
        router: Router::new(),
        listed: Vec::new(),
    }
    .add(Get, "/healthz", healthz)
    .add(Get, "/metrics", metrics)
    .add(Get, "/v1/openapi.json", openapi::serve)
    .add(Get, "/v1/queues", queues)
    .add(Post, "/v1/queues", queue_provisioning::post_queue)
    .add(Put, "/v1/queues/{id}", queue_provisioning::put_queue)
    .add(Delete, "/v1/queues/{id}", queue_provisioning::delete_queue)
    .add(
        Get,
        "/v1/queues/{id}/provisioning",
        queue_provisioning::get_queue_provisioning,
    )
    .add(Get, "/v1/agents", agents)
    .add(Get, "/v1/agents/{id}", agent)
    .add(Put, "/v1/agents/{id}", provisioning::put_agent)
    .add(Delete, "/v1/agents/{id}", provisioning::delete_agent)
    .add(
        Get,
        "/v1/agents/{id}/provisioning",
        provisioning::get_agent_provisioning,
    )
    .add(Put, "/v1/agents/{id}/state", set_agent_state)
    .add(Get, "/v1/agents/{id}/states", agent_states)
    .add(Get, "/v1/pause-reasons", pause_reasons)
    .add(
        Put,
        "/v1/pause-reasons/{code}",
        provisioning::put_pause_reason,
    )
    .add(
        Delete,
        "/v1/pause-reasons/{code}",
        provisioning::delete_pause_reason,
    )
    .add(Get, "/v1/calls", calls)
    .add(Get, "/v1/calls/{id}", call)
    .add(Patch, "/v1/calls/{id}", update_call)
    .add(Post, "/v1/calls/{id}/recording", recording_control::control)
    .add(Post, "/v1/calls/{id}/hold", call_hold::hold)
    .add(Post, "/v1/calls/{id}/resume", call_hold::resume)
    .add(Post, "/v1/calls/{id}/hangup", call_control::hangup)
    .add(Post, "/v1/calls/{id}/transfer", call_control::transfer)
    .add(Post, "/v1/calls/{id}/move", call_control::move_call)
    .add(Post, "/v1/calls/{id}/offer", call_control::offer)
    .add(Post, "/v1/calls/{id}/remove", call_control::remove)
    .add(Post, "/v1/calls/{id}/consult", call_consult::start)
    .add(
        Post,
        "/v1/calls/{id}/consult/complete",
        call_consult::complete,
    )
    .add(Post, "/v1/calls/{id}/consult/cancel", call_consult::cancel)
    .add(Post, "/v1/calls/{id}/consult/swap", call_consult::swap)
    .add(Post, "/v1/calls/{id}/conference", call_conference::add)
    .add(
        Delete,
        "/v1/calls/{id}/conference/parties/{party}",
        call_conference::drop_party,
    )
    .add(Put, "/v1/calls/{id}/disposition", wrap_up::set_disposition)
    .add(Post, "/v1/agents/{id}/wrap-up", wrap_up::extend)
    .add(Get, "/v1/flows", flows::list)
    .add(Post, "/v1/flows/reload", flows::reload)
    .add(Get, "/v1/flows/{id}", flows::one)
    .add(Get, "/v1/flows/{id}/diagram", flows::diagram)
    .add(Get, "/v1/flows/{id}/exits", flows::exits)
    .add(Get, "/v1/flows/{id}/sessions", flows::sessions)
    .add(Get, "/v1/webhooks", webhooks::list)
    .add(Put, "/v1/webhooks/{name}", webhooks::put)
    .add(Delete, "/v1/webhooks/{name}", webhooks::delete)
    .add(Get, "/v1/webhook-deliveries", webhooks::deliveries)
    .add(Get, "/v1/webhook-deliveries/{id}", webhooks::delivery)
    .add(Post, "/v1/webhook-deliveries/{id}/replay", webhooks::replay)
    .add(Get, "/v1/tokens", auth::list_tokens)
    .add(Post, "/v1/tokens", auth::create_token)
    .add(Delete, "/v1/tokens/{name}", auth::delete_token)
    .add(Get, "/v1/audit", auth::audit)
    .add(Get, "/v1/events", events::stream)
    .add(Get, "/v1/recordings", recordings::list)
    .add(Get, "/v1/recordings/{id}", recordings::one)
    .add(Get, "/v1/recordings/{id}/audio", recordings::audio)
    .add(
        Get,
        "/v1/recordings/{id}/evaluations",
        recordings::evaluations,
    )
    .add(
        Post,
        "/v1/recordings/{id}/evaluations",
        recordings::evaluate,
    )
    .add(Get, "/v1/evaluation-forms", recordings::forms)
    .add(
        Put,
        "/v1/recordings/{id}/legal-hold",
        retention::hold_recording,
    )
    .add(
        Delete,
        "/v1/recordings/{id}/legal-hold",
        retention::release_recording,
    )
    .add(Put, "/v1/calls/{id}/legal-hold", retention::hold_call)
    .add(Delete, "/v1/calls/{id}/legal-hold", retention::release_call)
    .add(Get, "/v1/legal-holds", retention::holds)
    .add(Post, "/v1/recordings/purge", retention::purge)
    .add(Post, "/v1/erasures", retention::erase)
    .add(Get, "/v1/data-removals", retention::removals)
    .add(Post, "/v1/calls/{id}/monitor", monitor::start)
    .add(Get, "/v1/calls/{id}/monitoring", monitor::history)
    .add(Get, "/v1/monitors", monitor::list)
    .add(Patch, "/v1/monitors/{id}", monitor::change)
    .add(Delete, "/v1/monitors/{id}", monitor::end)
    .add(Post, "/v1/monitors/{id}/take-over", monitor::take_over)
    .add(Get, "/v1/staffing", staffing::calculate)
    .add(Get, "/readyz", operations::readyz)
    .add(Get, "/wallboard", pages::wallboard)
    .add(Get, "/console", pages::console)
    .add(Get, "/pages/{asset}", pages::asset)
    .add(Get, "/v1/stats/queues", stats::queues)
    .add(Get, "/v1/stats/agents", stats::agents)
    .add(Get, "/v1/reports/queues", reports::queues)
    .add(Get, "/v1/reports/agents", reports::agents)
}

pub fn router(state: ApiState) -> Router {
    routes()
        .router
        .fallback(|| async { Problem::not_found("no such endpoint") })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            standby::to_the_leader,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authorize,
        ))
        .layer(axum::middleware::from_fn(problem::problems_only))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            operations::count_requests,
        ))
        .with_state(state)
}

/// Up, and this controller's part in a pair: `role` (`leader` or `standby`), the `epoch` and
/// the `leader` (name and URL) when known.
async fn healthz(State(state): State<ApiState>) -> Json<serde_json::Value> {
    let view = state.leadership.borrow().clone();
    let leader = view
        .leader
        .map(|(name, url)| json!({ "name": name, "url": url }));
    Json(json!({
        "status": "ok",
        "role": view.role.as_str(),
        "epoch": view.epoch,
        "leader": leader,
    }))
}

/// Prometheus' text exposition format.
const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4";

async fn metrics(State(state): State<ApiState>) -> Response {
    (
        [(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)],
        operations::render_metrics(&state).await,
    )
        .into_response()
}

async fn queues(State(state): State<ApiState>) -> Json<serde_json::Value> {
    let snapshot = state.engine.snapshot();
    Json(json!({ "queues": snapshot.queues }))
}

/// Every agent; an agent's token sees only its own.
async fn agents(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
) -> Json<serde_json::Value> {
    let snapshot = state.engine.snapshot();
    let now = wall_clock_ms();
    let only = who.only_agent();
    let agents: Vec<serde_json::Value> = snapshot
        .agents
        .iter()
        .filter(|a| only.is_none_or(|me| me == Some(&a.id)))
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
        .get(&id)
        .ok_or_else(|| Problem::not_found(format!("no agent {id}")))?;
    Ok(Json(with_time_in_state(agent, wall_clock_ms())).into_response())
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct StateChange {
    /// `available`, `logged_out` or `paused`.
    state: String,
    /// Required with `paused`: the pause reason code.
    reason: Option<String>,
    /// `paused` or `logged_out` asked for while the agent is on a call always waits for the
    /// call and its wrap-up to end (202, `pending`); with `true` it also waits out a wrap-up
    /// in progress instead of cutting it short.
    after_call: Option<bool>,
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
    let after_call = change.after_call.unwrap_or(false);
    match state
        .engine
        .set_agent_state_after_call(id.clone(), requested, after_call)
        .await
    {
        Err(gone) => Err(Problem::unavailable(gone.to_string())),
        Ok(Err(e)) => Err(refused(e)),
        Ok(Ok(outcome)) => Ok(after_call::state_reply(
            &id,
            &change.state,
            change.reason,
            outcome,
        )),
    }
}

#[derive(Deserialize, JsonSchema)]
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

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct LimitQuery {
    /// At most this many (default 50, at most 1000).
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
    if state.engine.snapshot().agents.get(&id).is_none() {
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

/// Whether `agent` is on `call` or rung for it.
fn involves(call: &crate::engine::snapshot::CallView, agent: &AgentId) -> bool {
    call.agent.as_ref() == Some(agent)
        || call.ringing.contains(agent)
        || call
            .consult
            .as_ref()
            .is_some_and(|c| c.target.as_ref() == Some(agent))
        || call
            .conference
            .as_ref()
            .is_some_and(|c| c.parties.iter().any(|p| p.agent.as_ref() == Some(agent)))
}

/// Active calls and recent history; an agent's token sees only the calls it is rung for, is
/// on, or answered. With a filter or a cursor, a search of the history (`call_search`).
async fn calls(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    query: Result<Query<CallsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, Problem> {
    let Query(query) = query.map_err(|e| Problem::bad_request(e.body_text()))?;
    if query.searches() {
        return call_search::search(&state, &who, query).await;
    }
    let limit = query.clamped_limit();
    let snapshot = state.engine.snapshot();
    let (active, recent) = match who.only_agent() {
        None => (
            snapshot.calls.iter().collect::<Vec<_>>(),
            state.store.recent_calls(limit).await,
        ),
        Some(None) => (Vec::new(), Ok(Vec::new())),
        Some(Some(me)) => (
            snapshot.calls.iter().filter(|c| involves(c, me)).collect(),
            state.store.recent_calls_of_agent(me, limit).await,
        ),
    };
    let recent = recent.map_err(|e| Problem::internal(&e))?;
    Ok(Json(json!({ "active": active, "recent": recent })))
}

/// A call's history: its queue row and events when it reached a queue, and its IVR session
/// (`flow`, with the steps) when it came through a flow. A caller who never left the IVR has
/// only the session (`call` is null).
/// An agent's token reads only a call it is rung for, is on, or answered (403 otherwise).
async fn call(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
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
    if let Some(me) = who.only_agent() {
        let answered = call
            .as_ref()
            .is_some_and(|c| c.agent.is_some() && c.agent.as_ref() == me);
        let offered = me.is_some_and(|me| {
            state
                .engine
                .snapshot()
                .calls
                .get(id)
                .is_some_and(|c| involves(c, me))
        });
        if !answered && !offered {
            return Err(Problem::forbidden(format!(
                "token {:?} is an agent's: it reads only calls its agent was offered or answered",
                who.token
            )));
        }
    }
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
    // A consult transfer in progress (live, from the snapshot).
    if let Some(consult) = state
        .engine
        .snapshot()
        .calls
        .get(id)
        .and_then(|c| c.consult.clone())
    {
        body["consult"] = json!(consult);
    }
    // A conference in progress (live, from the snapshot).
    if let Some(conference) = state
        .engine
        .snapshot()
        .calls
        .get(id)
        .and_then(|c| c.conference.clone())
    {
        body["conference"] = json!(conference);
    }
    Ok(Json(body).into_response())
}
