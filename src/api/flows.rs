//! IVR flows over REST: what is loaded, each flow as JSON or drawn, the callers who went through
//! it and where they left it, and reloading the directory (a set that fails a check is refused
//! and the previous one serves on).

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{ApiState, Problem};
use crate::app::ReloadError;
use crate::engine::{FlowId, Timestamp};
use crate::flow::{render, Flow, FlowSet, Format, Target};

fn parse_flow_id(raw: &str) -> Result<FlowId, Problem> {
    FlowId::new(raw).map_err(|e| Problem::bad_request(e.to_string()))
}

fn loaded(state: &ApiState, raw: &str) -> Result<(std::sync::Arc<FlowSet>, FlowId), Problem> {
    let id = parse_flow_id(raw)?;
    let set = state.flows.current();
    if set.get(&id).is_none() {
        return Err(Problem::not_found(format!("no flow {:?}", id.as_str())));
    }
    Ok((set, id))
}

fn listing(set: &FlowSet) -> Vec<Value> {
    set.flows()
        .map(|f| {
            json!({
                "id": f.id,
                "name": f.name,
                "entry_points": f.entry_points,
                "start": f.start.as_str(),
                "nodes": f.nodes.len(),
                "file": f.file.display().to_string(),
            })
        })
        .collect()
}

pub(super) async fn list(State(state): State<ApiState>) -> Json<Value> {
    let set = state.flows.current();
    Json(json!({
        "directory": state.flows.dir().map(|d| d.display().to_string()),
        "flows": listing(&set),
    }))
}

pub(super) async fn one(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    let (set, id) = loaded(&state, &id)?;
    let flow = set
        .get(&id)
        .ok_or_else(|| Problem::not_found(format!("no flow {:?}", id.as_str())))?;
    Ok(Json(flow_json(flow)))
}

fn flow_json(flow: &Flow) -> Value {
    let nodes: Vec<Value> = flow
        .nodes
        .values()
        .map(|node| {
            let branches: Vec<Value> = node
                .kind
                .branches()
                .into_iter()
                .map(|(label, target)| match target {
                    Target::Node(id) => json!({ "label": label, "node": id.as_str() }),
                    Target::Flow(f) => json!({ "label": label, "flow": f }),
                })
                .collect();
            json!({
                "id": node.id.as_str(),
                "kind": node.kind.name(),
                "summary": node.summary(),
                "line": node.line,
                "waits_for_caller": node.kind.waits_for_caller(),
                "branches": branches,
            })
        })
        .collect();
    json!({
        "id": flow.id,
        "name": flow.name,
        "file": flow.file.display().to_string(),
        "entry_points": flow.entry_points,
        "start": flow.start.as_str(),
        "nodes": nodes,
    })
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct DiagramQuery {
    /// `svg` (the default), `dot` or `mermaid`.
    format: Option<String>,
}

pub(super) async fn diagram(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    query: Result<Query<DiagramQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let Query(query) = query.map_err(|e| Problem::bad_request(e.body_text()))?;
    let name = query.format.as_deref().unwrap_or("svg");
    let format = Format::parse(name)
        .ok_or_else(|| Problem::bad_request(format!("format {name:?}: use svg, dot or mermaid")))?;
    let (set, id) = loaded(&state, &id)?;
    let flow = set
        .get(&id)
        .ok_or_else(|| Problem::not_found(format!("no flow {:?}", id.as_str())))?;
    Ok((
        [(header::CONTENT_TYPE, format.content_type())],
        render(flow, format),
    )
        .into_response())
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ExitsQuery {
    /// Sessions entered at or after this time (unix milliseconds).
    since: Option<i64>,
    /// Sessions entered before this time (unix milliseconds).
    until: Option<i64>,
}

/// Where callers left a flow: per node, how many ended sessions had their last step there, by
/// outcome (`abandoned`: the caller hung up there). Answers for any flow id, loaded or not:
/// the history outlives the files.
pub(super) async fn exits(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    query: Result<Query<ExitsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, Problem> {
    let id = parse_flow_id(&id)?;
    let Query(query) = query.map_err(|e| Problem::bad_request(e.body_text()))?;
    let since = query.since.map(Timestamp::from_millis);
    let until = query.until.map(Timestamp::from_millis);
    let exits = state
        .store
        .flow_exits(&id, since, until)
        .await
        .map_err(|e| Problem::internal(&e))?;
    let abandoned: i64 = exits
        .iter()
        .filter(|e| e.outcome == crate::engine::record::FlowOutcome::Abandoned)
        .map(|e| e.sessions)
        .sum();
    Ok(Json(json!({
        "flow": id,
        "since": query.since,
        "until": query.until,
        "abandoned": abandoned,
        "exits": exits,
    })))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SessionsQuery {
    /// Sessions entered at or after this time (unix milliseconds).
    since: Option<i64>,
    /// Sessions entered before this time (unix milliseconds).
    until: Option<i64>,
    /// At most this many (default 50, at most 500).
    limit: Option<u32>,
}

/// The callers who entered a flow, newest first: each with its entry, times, outcome, variables
/// and number of steps, including those who never reached a queue. A flow that is no longer
/// loaded still answers while the history has sessions of it; one that is neither is a 404.
pub(super) async fn sessions(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    query: Result<Query<SessionsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, Problem> {
    let id = parse_flow_id(&id)?;
    let Query(query) = query.map_err(|e| Problem::bad_request(e.body_text()))?;
    let limit = query.limit.unwrap_or(50).clamp(1, 500);
    let since = query.since.map(Timestamp::from_millis);
    let until = query.until.map(Timestamp::from_millis);
    let sessions = state
        .store
        .flow_sessions(&id, since, until, limit)
        .await
        .map_err(|e| Problem::internal(&e))?;
    if sessions.is_empty()
        && state.flows.current().get(&id).is_none()
        && state
            .store
            .flow_sessions(&id, None, None, 1)
            .await
            .map_err(|e| Problem::internal(&e))?
            .is_empty()
    {
        return Err(Problem::not_found(format!("no flow {:?}", id.as_str())));
    }
    Ok(Json(json!({
        "flow": id,
        "since": query.since,
        "until": query.until,
        "limit": limit,
        "sessions": sessions,
    })))
}

/// Re-reads the flows directory. A set that fails a check is refused (422, naming the file,
/// line and key) and the previous set keeps serving; otherwise new callers get the new set.
pub(super) async fn reload(State(state): State<ApiState>) -> Result<Json<Value>, Problem> {
    match state.flows.reload(&state.store, &state.engine).await {
        Ok(set) => Ok(Json(json!({ "reloaded": true, "flows": listing(&set) }))),
        Err(ReloadError::Invalid(e)) => Err(Problem::invalid_file(&e)),
        Err(e @ ReloadError::NotConfigured) => Err(Problem::conflict(e.to_string())),
        Err(e @ ReloadError::Engine(_)) => Err(Problem::unavailable(e.to_string())),
        Err(e) => Err(Problem::internal(&e)),
    }
}
