//! Provisioning over REST: agents and pause reasons, created, replaced and removed while the
//! controller runs.
//!
//! Bodies mirror the provisioning file's `[[agent]]` and `[[pause_reason]]` and go through the
//! same validation (`config`). Each change is stored first, then applied to the running
//! engine, one change at a time, so the store and the engine never disagree about what
//! exists. PINs arrive in clear only here: they are hashed at once and never echoed.

use std::collections::HashSet;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::{parse_agent_id, refused, ApiState, Problem};
use crate::config::{
    check_agent_skills, check_memberships, is_pause_code, DialString, DisplayName, MembershipEntry,
    RefusedEntry,
};
use crate::engine::pin::{is_pin, PIN_RULE};
use crate::engine::{AgentId, Membership, PinHash, QueueId};
use crate::store::{AgentRow, PauseReasonRow};

/// `PUT /v1/agents/{id}`: the fields of a `[[agent]]` entry, plus a PIN in clear.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct AgentBody {
    name: String,
    dial_string: String,
    /// `"spanish:7,billing"` or `["spanish:7", "billing"]`.
    #[serde(default)]
    #[schemars(schema_with = "skills_schema")]
    skills: Value,
    /// Queue ids, or `{"queue": .., "tier": .., "position": .., "weight": ..}`.
    #[serde(default)]
    #[schemars(schema_with = "queues_schema")]
    queues: Vec<Value>,
    /// Absent: keep the agent's PIN; `null`: clear it; digits: set it.
    #[serde(default, deserialize_with = "present")]
    pin: Option<Option<String>>,
    /// As `pin`, with a hash from `switchboard hash-pin`.
    #[serde(default, deserialize_with = "present")]
    pin_hash: Option<Option<String>>,
}

/// What [`skill_texts`] takes.
fn skills_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "anyOf": [
            { "type": "string" },
            { "type": "array", "items": { "type": "string" } },
            { "type": "null" },
        ]
    })
}

/// What [`MembershipEntry`] takes, one per queue.
fn queues_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "items": { "anyOf": [{ "type": "string" }, { "type": "object" }] },
    })
}

/// Tells a field given as `null` (`Some(None)`) from one left out (`None`, by `default`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// What is provisioned for an agent, as `GET /v1/agents/{id}/provisioning` and the writes
/// return it: the body's shape, with `has_pin` instead of the PIN.
#[derive(Serialize, JsonSchema)]
pub(super) struct AgentProvisioning<'a> {
    #[schemars(with = "String")]
    id: &'a AgentId,
    name: &'a str,
    dial_string: &'a str,
    skills: Vec<String>,
    /// `{"queue": .., "tier": .., "position": .., "weight": ..}` per queue.
    #[schemars(with = "Vec<serde_json::Map<String, Value>>")]
    queues: &'a [Membership],
    has_pin: bool,
}

impl<'a> AgentProvisioning<'a> {
    fn of(row: &'a AgentRow) -> Self {
        Self {
            id: &row.id,
            name: &row.name,
            dial_string: row.dial_string.as_str(),
            skills: row.skills.iter().map(ToString::to_string).collect(),
            queues: &row.queues,
            has_pin: row.pin_hash.is_some(),
        }
    }
}

/// A body that must be a JSON object of `shape` (serde would also take a struct from an array).
fn json_object<T: serde::de::DeserializeOwned>(body: &[u8], shape: &str) -> Result<T, Problem> {
    let refused =
        |e: &dyn std::fmt::Display| Problem::bad_request(format!("body must be {shape}: {e}"));
    let object: serde_json::Map<String, Value> =
        serde_json::from_slice(body).map_err(|e| refused(&e))?;
    T::deserialize(Value::Object(object)).map_err(|e| refused(&e))
}

/// What `pin` and `pin_hash` ask for.
enum PinChange {
    Keep,
    Clear,
    Set(String),
    SetHash(PinHash),
}

fn at(field: &str, e: RefusedEntry) -> Problem {
    Problem::invalid(format!("{field}[{}]", e.index), e.message)
}

fn skill_texts(skills: &Value) -> Result<Vec<&str>, Problem> {
    const EXPECTED: &str =
        "a list of skills like [\"spanish:7\", \"billing\"] or a string like \"spanish:7,billing\"";
    match skills {
        Value::Null => Ok(Vec::new()),
        Value::String(text) => Ok(text.split(',').filter(|s| !s.trim().is_empty()).collect()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.as_str()
                    .ok_or_else(|| Problem::invalid(format!("skills[{i}]"), EXPECTED))
            })
            .collect(),
        _ => Err(Problem::invalid("skills", EXPECTED)),
    }
}

fn pin_change(body: &AgentBody) -> Result<PinChange, Problem> {
    match (&body.pin, &body.pin_hash) {
        (Some(_), Some(_)) => Err(Problem::invalid(
            "pin",
            "give either \"pin\" or \"pin_hash\", not both",
        )),
        (None, None) => Ok(PinChange::Keep),
        (Some(None), None) | (None, Some(None)) => Ok(PinChange::Clear),
        (Some(Some(pin)), None) if is_pin(pin) => Ok(PinChange::Set(pin.clone())),
        (Some(Some(_)), None) => Err(Problem::invalid("pin", PIN_RULE)),
        (None, Some(Some(hash))) => hash
            .parse()
            .map(PinChange::SetHash)
            .map_err(|e| Problem::invalid("pin_hash", e)),
    }
}

/// Checks a body as the provisioning file's `[[agent]]` is checked, against the stored queues.
fn agent_row(
    id: AgentId,
    body: &AgentBody,
    queues: &HashSet<QueueId>,
) -> Result<AgentRow, Problem> {
    let name = DisplayName::try_from(body.name.clone()).map_err(|e| Problem::invalid("name", e))?;
    let dial_string =
        DialString::parse(&body.dial_string).map_err(|e| Problem::invalid("dial_string", e))?;
    let skills = check_agent_skills(skill_texts(&body.skills)?).map_err(|e| at("skills", e))?;
    let mut entries = Vec::with_capacity(body.queues.len());
    for (i, raw) in body.queues.iter().enumerate() {
        let entry = MembershipEntry::deserialize(raw).map_err(|e| {
            Problem::invalid(
                format!("queues[{i}]"),
                format!("expected a queue id or {{\"queue\": .., \"tier\": .., \"position\": .., \"weight\": ..}}: {e}"),
            )
        })?;
        entries.push(entry);
    }
    let memberships = check_memberships(entries, |q| queues.contains(q), "is not provisioned")
        .map_err(|e| at("queues", e))?;
    Ok(AgentRow {
        id,
        name: name.0,
        dial_string,
        queues: memberships,
        skills,
        pin_hash: None,
    })
}

/// Creates (201) or replaces (200) an agent, stores it and applies it to the running engine.
pub(super) async fn put_agent(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Problem> {
    let id = parse_agent_id(&id)?;
    let body: AgentBody = json_object(
        &body,
        "{\"name\": .., \"dial_string\": .., \"skills\": .., \"queues\": [..], \"pin\": ..}",
    )?;
    let pin = pin_change(&body)?;
    let _one_change_at_a_time = state.provisioning.lock().await;
    let store = &state.store;
    let queues: HashSet<QueueId> = store
        .list_queues()
        .await
        .map_err(|e| Problem::internal(&e))?
        .into_iter()
        .map(|q| q.id)
        .collect();
    let mut row = agent_row(id.clone(), &body, &queues)?;
    let existing = store
        .get_agent(&id)
        .await
        .map_err(|e| Problem::internal(&e))?;
    row.pin_hash = match pin {
        PinChange::Keep => existing.as_ref().and_then(|a| a.pin_hash.clone()),
        PinChange::Clear => None,
        PinChange::SetHash(hash) => Some(hash),
        PinChange::Set(pin) => Some(hash_pin(pin).await?),
    };
    store
        .upsert_agent(&row)
        .await
        .map_err(|e| Problem::internal(&e))?;
    state
        .engine
        .provision_agent(row.clone())
        .await
        .map_err(|gone| Problem::unavailable(gone.to_string()))?;
    let status = if existing.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(AgentProvisioning::of(&row))).into_response())
}

/// PBKDF2 takes milliseconds on purpose: off the async workers.
async fn hash_pin(pin: String) -> Result<PinHash, Problem> {
    tokio::task::spawn_blocking(move || PinHash::new(&pin, rand::random()))
        .await
        .map_err(|e| Problem::internal(&e))
}

pub(super) async fn get_agent_provisioning(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let id = parse_agent_id(&id)?;
    let row = state
        .store
        .get_agent(&id)
        .await
        .map_err(|e| Problem::internal(&e))?
        .ok_or_else(|| Problem::not_found(format!("no agent {id}")))?;
    Ok(Json(AgentProvisioning::of(&row)).into_response())
}

/// Removes an agent: 409 while it is rung or on a call, else logged out and forgotten (its
/// history stays).
pub(super) async fn delete_agent(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let id = parse_agent_id(&id)?;
    let _one_change_at_a_time = state.provisioning.lock().await;
    state
        .engine
        .deprovision_agent(id.clone())
        .await
        .map_err(|gone| Problem::unavailable(gone.to_string()))?
        .map_err(refused)?;
    state
        .store
        .delete_agent(&id)
        .await
        .map_err(|e| Problem::internal(&e))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `PUT /v1/pause-reasons/{code}`, as `[[pause_reason]]` without the code.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PauseReasonBody {
    name: String,
    #[serde(default)]
    productive: bool,
}

fn pause_code(code: String) -> Result<String, Problem> {
    if is_pause_code(&code) {
        Ok(code)
    } else {
        Err(Problem::invalid(
            "code",
            format!("{code:?} is not a pause code: use 1-32 letters, digits, '-', '_' or '.'"),
        ))
    }
}

/// Creates (201) or replaces (200) a pause reason.
pub(super) async fn put_pause_reason(
    State(state): State<ApiState>,
    Path(code): Path<String>,
    body: Bytes,
) -> Result<Response, Problem> {
    let code = pause_code(code)?;
    let body: PauseReasonBody = json_object(&body, "{\"name\": \"Lunch\", \"productive\": false}")?;
    let name = DisplayName::try_from(body.name).map_err(|e| Problem::invalid("name", e))?;
    let reason = PauseReasonRow {
        code,
        name: name.0,
        productive: body.productive,
    };
    let _one_change_at_a_time = state.provisioning.lock().await;
    let existed = state.pause_reasons().iter().any(|r| r.code == reason.code);
    state
        .store
        .upsert_pause_reason(&reason)
        .await
        .map_err(|e| Problem::internal(&e))?;
    reload_pause_reasons(&state).await?;
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(reason)).into_response())
}

/// Removes a pause reason. Agents paused with it stay paused; new pauses cannot give it.
pub(super) async fn delete_pause_reason(
    State(state): State<ApiState>,
    Path(code): Path<String>,
) -> Result<Response, Problem> {
    let code = pause_code(code)?;
    let _one_change_at_a_time = state.provisioning.lock().await;
    let deleted = state
        .store
        .delete_pause_reason(&code)
        .await
        .map_err(|e| Problem::internal(&e))?;
    if !deleted {
        return Err(Problem::not_found(format!("no pause reason {code:?}")));
    }
    reload_pause_reasons(&state).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The API's list and the engine's codes, from the store.
async fn reload_pause_reasons(state: &ApiState) -> Result<(), Problem> {
    let reasons = state
        .store
        .list_pause_reasons()
        .await
        .map_err(|e| Problem::internal(&e))?;
    let codes = reasons.iter().map(|r| r.code.clone()).collect();
    state.set_pause_reasons(reasons);
    state
        .engine
        .set_pause_reasons(codes)
        .await
        .map_err(|gone| Problem::unavailable(gone.to_string()))
}
