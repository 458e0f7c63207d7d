//! Webhook subscriptions and their deliveries over REST: provision a receiver, see what was
//! delivered, missed or dead-lettered and why, and send a delivery again.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{wall_clock_ms, ApiState, Problem};
use crate::cti::signing::Secret;
use crate::cti::subscription;
use crate::engine::{CallId, QueueId, Timestamp};
use crate::store::{DeliveryFilter, DeliveryStatus, Subscription, EVENT_TYPES};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SubscriptionBody {
    /// Where deliveries are posted: an http:// or https:// URL.
    url: String,
    /// Event types, such as `call.answered` (`GET /v1/webhooks` lists them).
    events: Vec<String>,
    /// Only events of these queues; none: every queue.
    #[serde(default)]
    queues: Vec<String>,
    /// `whsec_…` secrets; none: one is made and shown in the reply, once.
    #[serde(default)]
    secrets: Vec<String>,
}

fn shown(s: &Subscription) -> Value {
    json!({
        "name": s.name,
        "url": s.url,
        "events": s.events,
        "queues": s.queues,
        "secrets": s.secrets.len(),
        "enabled": s.enabled,
        "disabled_reason": s.disabled_reason,
    })
}

fn check_name(name: &str) -> Result<(), Problem> {
    subscription::check_name(name).map_err(Problem::bad_request)
}

pub(super) async fn put(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    body: Result<Json<SubscriptionBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, Problem> {
    check_name(&name)?;
    let Json(body) = body.map_err(|e| Problem::bad_body(&e, e.body_text()))?;
    subscription::check_target(&body.url, state.allow_private_webhook_targets)
        .map_err(|e| Problem::invalid("url", e))?;
    subscription::check_events(&body.events).map_err(|e| Problem::invalid("events", e))?;
    let queues = body
        .queues
        .iter()
        .map(|q| QueueId::new(q).map_err(|e| Problem::invalid("queues", e)))
        .collect::<Result<Vec<_>, _>>()?;
    for secret in &body.secrets {
        Secret::parse(secret).map_err(|e| Problem::invalid("secrets", e))?;
    }
    let made = body.secrets.is_empty().then(Secret::generate);
    let subscription = Subscription {
        name,
        url: body.url,
        events: body.events,
        queues,
        secrets: made.iter().cloned().chain(body.secrets).collect(),
        enabled: true,
        disabled_reason: None,
    };
    state
        .store
        .put_subscription(&subscription)
        .await
        .map_err(|e| Problem::internal(&e))?;
    let mut reply = shown(&subscription);
    if let Some(secret) = made {
        reply["secret"] = json!(secret);
    }
    Ok((StatusCode::OK, Json(reply)).into_response())
}

pub(super) async fn list(State(state): State<ApiState>) -> Result<Json<Value>, Problem> {
    let all = state
        .store
        .subscriptions()
        .await
        .map_err(|e| Problem::internal(&e))?;
    Ok(Json(json!({
        "subscriptions": all.iter().map(shown).collect::<Vec<_>>(),
        "event_types": EVENT_TYPES,
    })))
}

pub(super) async fn delete(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<StatusCode, Problem> {
    check_name(&name)?;
    match state.store.delete_subscription(&name).await {
        Ok(true) => Ok(StatusCode::NO_CONTENT),
        Ok(false) => Err(Problem::not_found(format!("no subscription {name:?}"))),
        Err(e) => Err(Problem::internal(&e)),
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub(super) struct DeliveryQuery {
    /// `pending`, `delivered`, `missed` or `dead`.
    status: Option<String>,
    /// A subscription's name.
    subscription: Option<String>,
    /// A call id.
    call: Option<String>,
    /// At most this many (default 100, at most 1000).
    limit: Option<u32>,
}

pub(super) async fn deliveries(
    State(state): State<ApiState>,
    query: Result<Query<DeliveryQuery>, QueryRejection>,
) -> Result<Json<Value>, Problem> {
    let Query(query) = query.map_err(|e| Problem::bad_request(e.body_text()))?;
    let status = query
        .status
        .as_deref()
        .map(|s| {
            DeliveryStatus::parse(s).ok_or_else(|| {
                Problem::bad_request(format!(
                    "status {s:?}: one of pending, delivered, missed, dead"
                ))
            })
        })
        .transpose()?;
    let call = query
        .call
        .as_deref()
        .map(|c| CallId::parse(c).map_err(|e| Problem::bad_request(e.to_string())))
        .transpose()?;
    let filter = DeliveryFilter {
        status,
        subscription: query.subscription,
        call,
        limit: query.limit.unwrap_or(100).clamp(1, 1000),
    };
    let rows = state
        .store
        .deliveries(&filter)
        .await
        .map_err(|e| Problem::internal(&e))?;
    Ok(Json(json!({ "deliveries": rows })))
}

/// A delivery's id from the path: a number.
fn delivery_id(id: Result<Path<i64>, PathRejection>) -> Result<i64, Problem> {
    let Path(id) = id.map_err(|e| {
        Problem::bad_request(format!("a delivery id is a number: {}", e.body_text()))
    })?;
    Ok(id)
}

pub(super) async fn delivery(
    State(state): State<ApiState>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<Value>, Problem> {
    let id = delivery_id(id)?;
    let row = state
        .store
        .delivery(id)
        .await
        .map_err(|e| Problem::internal(&e))?
        .ok_or_else(|| Problem::not_found(format!("no delivery {id}")))?;
    let payload: Value = serde_json::from_str(&row.payload).unwrap_or(Value::Null);
    let mut body = json!(row);
    body["payload"] = payload;
    Ok(Json(body))
}

pub(super) async fn replay(
    State(state): State<ApiState>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<StatusCode, Problem> {
    let id = delivery_id(id)?;
    let now = Timestamp::from_millis(wall_clock_ms());
    match state.store.replay_delivery(id, now).await {
        Ok(true) => Ok(StatusCode::ACCEPTED),
        Ok(false) => Err(Problem::not_found(format!("no delivery {id}"))),
        Err(e) => Err(Problem::internal(&e)),
    }
}
