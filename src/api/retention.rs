//! Legal holds, the retention purge, erasures and their audit over REST: an admin's
//! (compliance) business, since each either keeps data past its retention or destroys it.
//!
//! The work is `app::retention`'s; here are the requests' checks and the replies. A caller
//! number sent for erasure is never written anywhere: the audit keeps its SHA-256, the request
//! log only the path.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::{wall_clock_ms, ApiState, Principal, Problem};
use crate::app::retention::{self, ErasureReport, PurgeReport};
use crate::engine::{CallId, RecordingId, Timestamp};
use crate::store::{HoldFilter, HoldPlaced, HoldState, HoldTarget, RemovalFilter, RemovalKind};

/// The longest hold reason kept.
const MAX_REASON: usize = 500;
/// The longest caller number an erasure accepts (caller ids are short; this is generous).
const MAX_NUMBER: usize = 128;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct HoldBody {
    /// Why the data must be kept: a case or matter reference (up to 500 characters).
    reason: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ErasureBody {
    /// The caller number whose data is erased, exactly as calls show it (`caller_number`).
    caller_number: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct HoldsQuery {
    /// `standing` (the default), `released` or `all`.
    state: Option<String>,
    /// Only the holds on this recording.
    recording: Option<String>,
    /// Only the holds on this call.
    call: Option<String>,
    /// At most this many (default 100, at most 1000).
    limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RemovalsQuery {
    /// Removals at or after this time (unix milliseconds).
    since: Option<i64>,
    /// `purge` or `erasure`.
    kind: Option<String>,
    /// At most this many (default 100, at most 1000).
    limit: Option<u32>,
}

fn now() -> Timestamp {
    Timestamp::from_millis(wall_clock_ms())
}

fn recording_id(raw: &str) -> Result<RecordingId, Problem> {
    RecordingId::parse(raw).map_err(|e| Problem::bad_request(e.to_string()))
}

fn call_id(raw: &str) -> Result<CallId, Problem> {
    CallId::parse(raw).map_err(|e| Problem::bad_request(e.to_string()))
}

fn reason(
    body: Result<Json<HoldBody>, axum::extract::rejection::JsonRejection>,
) -> Result<String, Problem> {
    let Json(body) = body.map_err(|e| {
        Problem::bad_body(
            &e,
            format!("body must be {{\"reason\": \"...\"}}: {}", e.body_text()),
        )
    })?;
    let reason = body.reason.trim();
    if reason.is_empty() {
        return Err(Problem::invalid("reason", "must say why the data is held"));
    }
    if reason.chars().count() > MAX_REASON {
        return Err(Problem::invalid(
            "reason",
            format!("is longer than {MAX_REASON} characters"),
        ));
    }
    if reason.chars().any(char::is_control) {
        return Err(Problem::invalid("reason", "must be one line of text"));
    }
    Ok(reason.to_owned())
}

async fn place(
    state: &ApiState,
    who: &Principal,
    target: HoldTarget,
    reason: String,
) -> Result<Response, Problem> {
    match state
        .store
        .place_legal_hold(target, &reason, &who.token, now())
        .await
        .map_err(|e| Problem::internal(&e))?
    {
        HoldPlaced::Placed(hold) => Ok((StatusCode::CREATED, Json(hold)).into_response()),
        HoldPlaced::AlreadyStanding(hold) => Ok((StatusCode::OK, Json(hold)).into_response()),
        HoldPlaced::UnknownTarget => Err(Problem::not_found(format!("no {target}"))),
    }
}

async fn release(
    state: &ApiState,
    who: &Principal,
    target: HoldTarget,
) -> Result<Response, Problem> {
    let released = state
        .store
        .release_legal_hold(target, &who.token, now())
        .await
        .map_err(|e| Problem::internal(&e))?;
    if released.is_empty() {
        return Err(Problem::not_found(format!(
            "no standing legal hold on {target}"
        )));
    }
    Ok(Json(json!({ "released": released })).into_response())
}

/// Places a legal hold on a recording: neither the purge nor an erasure removes it while the
/// hold stands. 201 with the hold; 200 with the one already standing.
pub(super) async fn hold_recording(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: Result<Json<HoldBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, Problem> {
    let target = HoldTarget::Recording(recording_id(&id)?);
    place(&state, &who, target, reason(body)?).await
}

pub(super) async fn release_recording(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    release(&state, &who, HoldTarget::Recording(recording_id(&id)?)).await
}

/// Places a legal hold on a call: all its recordings, and its history for erasures.
pub(super) async fn hold_call(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: Result<Json<HoldBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, Problem> {
    let target = HoldTarget::Call(call_id(&id)?);
    place(&state, &who, target, reason(body)?).await
}

pub(super) async fn release_call(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    release(&state, &who, HoldTarget::Call(call_id(&id)?)).await
}

pub(super) async fn holds(
    State(state): State<ApiState>,
    query: Result<Query<HoldsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let Query(query) = query.map_err(|e| Problem::bad_request(e.body_text()))?;
    let filter = HoldFilter {
        state: match query.state.as_deref() {
            None => HoldState::Standing,
            Some(s) => HoldState::parse(s).ok_or_else(|| {
                Problem::bad_request(format!("state {s:?}: one of standing, released, all"))
            })?,
        },
        recording: query.recording.as_deref().map(recording_id).transpose()?,
        call: query.call.as_deref().map(call_id).transpose()?,
        limit: query.limit.unwrap_or(100).clamp(1, 1000),
    };
    let holds = state
        .store
        .legal_holds(&filter)
        .await
        .map_err(|e| Problem::internal(&e))?;
    Ok(Json(json!({ "legal_holds": holds })).into_response())
}

/// Runs one retention purge pass now and reports it.
pub(super) async fn purge(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
) -> Result<Json<PurgeReport>, Problem> {
    retention::purge(&state.store, &state.recording_mounts, now(), &who.token)
        .await
        .map(Json)
        .map_err(|e| Problem::internal(&e))
}

/// Erases what is kept about a caller number and reports it.
pub(super) async fn erase(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    body: Result<Json<ErasureBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<ErasureReport>, Problem> {
    let Json(body) = body.map_err(|e| {
        Problem::bad_body(
            &e,
            format!(
                "body must be {{\"caller_number\": \"...\"}}: {}",
                e.body_text()
            ),
        )
    })?;
    // Never echoed back or logged: it is what is to be forgotten.
    let number = body.caller_number.trim();
    if number.is_empty() {
        return Err(Problem::invalid("caller_number", "must not be empty"));
    }
    if number.chars().count() > MAX_NUMBER || number.chars().any(char::is_control) {
        return Err(Problem::invalid(
            "caller_number",
            format!("must be one line of at most {MAX_NUMBER} characters"),
        ));
    }
    retention::erase(
        &state.store,
        &state.recording_mounts,
        number,
        &who.token,
        now(),
    )
    .await
    .map(Json)
    .map_err(|e| Problem::internal(&e))
}

/// The audit of what the purge and erasures removed, newest first.
pub(super) async fn removals(
    State(state): State<ApiState>,
    query: Result<Query<RemovalsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let Query(query) = query.map_err(|e| Problem::bad_request(e.body_text()))?;
    let kind = query
        .kind
        .as_deref()
        .map(|k| {
            RemovalKind::parse(k)
                .ok_or_else(|| Problem::bad_request(format!("kind {k:?}: one of purge, erasure")))
        })
        .transpose()?;
    let filter = RemovalFilter {
        since: query.since.map(Timestamp::from_millis),
        kind,
        limit: query.limit.unwrap_or(100).clamp(1, 1000),
    };
    let removals = state
        .store
        .data_removals(&filter)
        .await
        .map_err(|e| Problem::internal(&e))?;
    Ok(Json(json!({ "removals": removals })).into_response())
}
