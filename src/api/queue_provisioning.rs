//! Queues provisioned over REST: `POST /v1/queues`, `PUT /v1/queues/{id}`,
//! `GET /v1/queues/{id}/provisioning` and `DELETE /v1/queues/{id}`.
//!
//! A body is the provisioning file's `[[queue]]` entry as JSON and goes through the file's own
//! parser (`config::queue_from_json`), so the same rules give the same messages; queues it
//! sends callers to are checked against the queues that exist. As for agents, each change is
//! stored first, then applied to the running engine, one change at a time. What the file
//! leaves to `[routing]` (wrap-up, ring timeout, busy back-off) comes from the config.
//!
//! A queue is removed only when nothing holds it: no call in it (of any state), no member, no
//! other queue sending callers to it and no IVR flow handing callers to it; each is a 409
//! naming what holds it.

use std::collections::{BTreeMap, HashSet};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use super::{ApiState, Problem};
use crate::config::queue_from_json;
use crate::engine::{overflow_targets, QueueId, QueueRemovalError};
use crate::store::QueueRow;

/// A queue: the fields of a `[[queue]]` entry of the provisioning file (`id` only in a POST;
/// `step` for its escalation steps). Durations are texts such as `"30s"` or `"5m"`; `null`
/// is the same as leaving a field out.
pub(super) struct QueueBody;

impl JsonSchema for QueueBody {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "QueueBody".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        queue_body_schema()
    }
}

fn queue_body_schema() -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "required": ["name"],
        "properties": {
            "id": { "type": "string" },
            "name": { "type": "string" },
            "moh": { "type": "string" },
            "strategy": { "type": "string" },
            "wrap_up": { "type": "string" },
            "ring_timeout": { "type": "string" },
            "busy_backoff": { "type": "string" },
            "max_wait": { "type": "string" },
            "on_max_wait": { "type": "string" },
            "on_no_agents": { "type": "string" },
            "step": { "type": "array", "items": { "type": "object" } },
        },
        "additionalProperties": true,
    })
}

/// A queue as stored: durations in milliseconds after the config's defaults, and its routing
/// settings.
#[derive(Serialize, JsonSchema)]
pub(super) struct QueueProvisioning<'a> {
    #[schemars(with = "String")]
    id: &'a QueueId,
    name: &'a str,
    moh: &'a str,
    wrap_up_ms: i64,
    ring_timeout_ms: i64,
    /// `null`: the config's `[routing] busy_backoff`.
    busy_backoff_ms: Option<i64>,
    #[schemars(with = "serde_json::Map<String, Value>")]
    routing: &'a crate::engine::QueueRouting,
}

impl<'a> QueueProvisioning<'a> {
    fn of(row: &'a QueueRow) -> Self {
        Self {
            id: &row.id,
            name: &row.name,
            moh: &row.moh,
            wrap_up_ms: row.wrap_up_ms,
            ring_timeout_ms: row.ring_timeout_ms,
            busy_backoff_ms: row.busy_backoff_ms,
            routing: &row.routing,
        }
    }
}

fn parse_queue_id(raw: &str) -> Result<QueueId, Problem> {
    QueueId::new(raw).map_err(|e| Problem::invalid("id", e))
}

fn object(body: &[u8]) -> Result<Map<String, Value>, Problem> {
    serde_json::from_slice(body).map_err(|e| {
        Problem::bad_request(format!(
            "body must be a queue like {{\"name\": \"Overflow\", \"strategy\": \"longest-idle-agent\"}}: {e}"
        ))
    })
}

/// Every stored queue but `except`, with the queues each sends callers to.
async fn known_queues(
    state: &ApiState,
    except: &QueueId,
) -> Result<(BTreeMap<QueueId, Vec<QueueId>>, bool), Problem> {
    let mut known = BTreeMap::new();
    let mut exists = false;
    for row in state
        .store
        .list_queues()
        .await
        .map_err(|e| Problem::internal(&e))?
    {
        if &row.id == except {
            exists = true;
            continue;
        }
        known.insert(row.id.clone(), overflow_targets(&row.routing));
    }
    Ok((known, exists))
}

/// Checks, stores and applies a queue; `Ok(existed)`.
async fn provision(
    state: &ApiState,
    id: QueueId,
    mut body: Map<String, Value>,
    create_only: bool,
) -> Result<Response, Problem> {
    body.insert("id".to_owned(), Value::String(id.as_str().to_owned()));
    let _one_change_at_a_time = state.provisioning.lock().await;
    let (known, existed) = known_queues(state, &id).await?;
    if existed && create_only {
        return Err(Problem::conflict(format!(
            "queue {id} exists: PUT /v1/queues/{id} replaces it"
        )));
    }
    let queue = queue_from_json(body, &known).map_err(|e| Problem::invalid(e.field, e.message))?;
    let row = QueueRow::from_provisioned(&queue, &state.routing_defaults);
    state
        .store
        .upsert_queue(&row)
        .await
        .map_err(|e| Problem::internal(&e))?;
    state
        .engine
        .provision_queue(row.clone(), state.routing_defaults.busy_backoff)
        .await
        .map_err(|gone| Problem::unavailable(gone.to_string()))?;
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(QueueProvisioning::of(&row))).into_response())
}

/// Creates a queue (201); 409 when one has this id.
pub(super) async fn post_queue(
    State(state): State<ApiState>,
    body: Bytes,
) -> Result<Response, Problem> {
    let body = object(&body)?;
    let id = match body.get("id") {
        Some(Value::String(id)) => parse_queue_id(id)?,
        _ => return Err(Problem::invalid("id", "a queue needs an \"id\"")),
    };
    provision(&state, id, body, true).await
}

/// Creates (201) or replaces (200) a queue. Callers waiting keep their place; routing uses the
/// new settings at once.
pub(super) async fn put_queue(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Problem> {
    let id = parse_queue_id(&id)?;
    let body = object(&body)?;
    match body.get("id") {
        None => {}
        Some(Value::String(given)) if given == id.as_str() => {}
        Some(_) => {
            return Err(Problem::invalid(
                "id",
                format!("the body names another queue than the path ({id})"),
            ))
        }
    }
    provision(&state, id, body, false).await
}

pub(super) async fn get_queue_provisioning(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let id = parse_queue_id(&id)?;
    let row = state
        .store
        .get_queue(&id)
        .await
        .map_err(|e| Problem::internal(&e))?
        .ok_or_else(|| Problem::not_found(format!("no queue {id}")))?;
    Ok(Json(QueueProvisioning::of(&row)).into_response())
}

/// Removes a queue (204), or says with a 409 what still holds it.
pub(super) async fn delete_queue(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let id = parse_queue_id(&id)?;
    let _one_change_at_a_time = state.provisioning.lock().await;
    let (known, existed) = known_queues(&state, &id).await?;
    if !existed {
        return Err(Problem::not_found(format!("no queue {id}")));
    }
    if let Some((from, _)) = known.iter().find(|(_, targets)| targets.contains(&id)) {
        return Err(Problem::conflict(
            QueueRemovalError::OverflowTarget {
                queue: id.clone(),
                from: from.clone(),
            }
            .to_string(),
        ));
    }
    let remaining: HashSet<QueueId> = known.keys().cloned().collect();
    if let Err(e) = state.flows.current().check_queues(&remaining) {
        return Err(Problem::conflict(format!(
            "queue {id} is where an IVR flow sends callers ({e}): change the flow first"
        )));
    }
    match state
        .engine
        .remove_queue(id.clone())
        .await
        .map_err(|gone| Problem::unavailable(gone.to_string()))?
    {
        // The store has it and the engine not: nothing runs in it, so the row can go.
        Ok(()) | Err(QueueRemovalError::Unknown(_)) => {}
        Err(e) => return Err(Problem::conflict(e.to_string())),
    }
    state
        .store
        .delete_queue(&id)
        .await
        .map_err(|e| Problem::internal(&e))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
