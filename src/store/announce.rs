//! What a history record announces: the CTI events (`call.offered`, `agent.state_changed`, …)
//! with their payloads, and a webhook delivery for each subscription that wants one.
//!
//! A payload is built from the rows the transaction has just written, so it carries the call as
//! the history knows it (caller, queue, priority, wait so far) and the variables the caller
//! entered in the IVR. The events of a whole transaction are written together just before it
//! commits, a few rows per statement (`multi_row`).

use std::collections::BTreeMap;

use serde_json::{json, Value};
use sqlx::AnyConnection;

use super::multi_row::insert;
use super::outbox::DeliveryClass;
use super::rows::Columns;
use super::StoreError;
use crate::engine::{AgentId, CallId, CallOutcome, QueueEventKind, Record, Timestamp};

/// One CTI event waiting for its transaction's commit.
struct PendingEvent {
    event_id: String,
    event_type: &'static str,
    call: Option<String>,
    queue: Option<String>,
    agent: Option<String>,
    at: i64,
    payload: String,
}

/// The events one transaction announces, in the order of its records.
#[derive(Default)]
pub(super) struct Announcements {
    events: Vec<PendingEvent>,
}

/// The value of `name=value` in a queue event's detail.
fn detail_field(detail: &str, name: &str) -> Option<String> {
    detail
        .split_whitespace()
        .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
        .map(str::to_owned)
}

/// A transfer's queue-event detail (`kind=blind from=a to=9199 by=a talk_ms=…`) as the
/// `call.transferred` payload.
fn transfer_details(detail: &str) -> serde_json::Value {
    let field = |name: &str| detail_field(detail, name);
    json!({
        "kind": field("kind"),
        "from_agent": field("from"),
        "to": field("to"),
        "by_agent": field("by"),
        "talk_ms": field("talk_ms").and_then(|t| t.parse::<i64>().ok()),
    })
}

/// A consult's queue-event detail (`step=start to=1002 leg=… by=token:alice`, or a desk
/// phone's `leg=… users=…`) as the `call.consult` payload.
fn consult_details(detail: &str) -> serde_json::Value {
    let field = |name: &str| detail_field(detail, name);
    json!({
        "step": field("step"),
        "target_agent": field("to"),
        "consult_leg": field("leg"),
        "by": field("by"),
        "cause": field("cause"),
        "users": field("users"),
    })
}

/// A conference step's queue-event detail (`step=added party=1002 leg=…`) as the
/// `call.conference` payload.
fn conference_details(detail: &str) -> serde_json::Value {
    let field = |name: &str| detail_field(detail, name);
    json!({
        "step": field("step"),
        "conference": field("name"),
        "party": field("party"),
        "party_leg": field("leg"),
        "agent_leaves": field("agent_leaves"),
        "from_agent": field("from"),
        "to_agent": field("to"),
        "by": field("by"),
        "cause": field("cause"),
    })
}

/// The events a record announces, in order.
fn event_types(record: &Record) -> Vec<&'static str> {
    match record {
        Record::CallEntered { .. } => vec!["call.entered"],
        Record::QueueEvent {
            kind: QueueEventKind::Offer,
            agent: Some(_),
            ..
        } => vec!["call.offered"],
        Record::QueueEvent {
            kind: QueueEventKind::Transfer,
            ..
        } => vec!["call.transferred"],
        Record::QueueEvent {
            kind: QueueEventKind::Consult,
            ..
        } => vec!["call.consult"],
        Record::QueueEvent {
            kind: QueueEventKind::Conference,
            ..
        } => vec!["call.conference"],
        Record::CallAnswered { .. } => vec!["call.answered"],
        Record::CallHeld { .. } => vec!["call.held"],
        Record::CallResumed { .. } => vec!["call.resumed"],
        Record::CallEnded {
            outcome: CallOutcome::Abandoned,
            ..
        } => vec!["call.abandoned", "call.ended"],
        Record::CallEnded { .. } => vec!["call.ended"],
        Record::AgentState { .. } => vec!["agent.state_changed"],
        Record::AgentAfterCall { .. } => vec!["agent.after_call"],
        Record::CallWrappedUp { .. } => vec!["call.wrapped_up"],
        Record::QueueThreshold { .. } => vec!["queue.threshold"],
        Record::Monitor { .. } => super::monitor::event_type(record).into_iter().collect(),
        _ => Vec::new(),
    }
}

impl Announcements {
    /// Builds the events `record` announces from what the transaction holds now (`record` just
    /// applied), to be written by [`Announcements::write`] before the transaction commits.
    pub(super) async fn announce(
        &mut self,
        conn: &mut AnyConnection,
        record: &Record,
    ) -> Result<(), StoreError> {
        let types = event_types(record);
        if types.is_empty() {
            return Ok(());
        }
        // The queue of an event that is about a queue rather than a call.
        let mut queue_of_event = None;
        let (call, agent, at, mut details) = match record {
            Record::CallEntered { call, at, .. } => (Some(*call), None, *at, json!({})),
            Record::QueueThreshold {
                queue,
                metric,
                raised,
                value,
                limit,
                at,
            } => {
                queue_of_event = Some(queue.as_str().to_owned());
                (
                    None,
                    None,
                    *at,
                    json!({
                        "queue": queue.as_str(),
                        "metric": metric.as_str(),
                        "state": if *raised { "raised" } else { "cleared" },
                        "value": value,
                        "limit": limit,
                    }),
                )
            }
            Record::QueueEvent {
                call,
                agent,
                kind: QueueEventKind::Transfer,
                detail,
                at,
                ..
            } => (Some(*call), agent.clone(), *at, transfer_details(detail)),
            Record::QueueEvent {
                call,
                agent,
                kind: QueueEventKind::Consult,
                detail,
                at,
                ..
            } => (Some(*call), agent.clone(), *at, consult_details(detail)),
            Record::QueueEvent {
                call,
                agent,
                kind: QueueEventKind::Conference,
                detail,
                at,
                ..
            } => (Some(*call), agent.clone(), *at, conference_details(detail)),
            Record::QueueEvent {
                call,
                agent,
                detail,
                at,
                ..
            } => {
                let leg = detail_field(detail, "leg");
                (Some(*call), agent.clone(), *at, json!({ "agent_leg": leg }))
            }
            Record::CallAnswered {
                call,
                agent,
                agent_channel,
                wait_ms,
                at,
            } => (
                Some(*call),
                Some(agent.clone()),
                *at,
                json!({ "agent_leg": agent_channel, "wait_ms": wait_ms }),
            ),
            Record::CallHeld {
                call, agent, by, ..
            }
            | Record::CallResumed {
                call, agent, by, ..
            } => {
                let (at, mut details) = super::hold_events::details(record);
                if let Some(object) = details.as_object_mut() {
                    object.insert("by".into(), json!(by.to_string()));
                }
                (Some(*call), agent.clone(), at, details)
            }
            Record::Monitor {
                call, agent, at, ..
            } => (
                Some(*call),
                Some(agent.clone()),
                *at,
                super::monitor::details(record),
            ),
            Record::CallEnded {
                call,
                outcome,
                hangup_cause,
                talk_ms,
                at,
                ..
            } => (
                Some(*call),
                None,
                *at,
                json!({ "outcome": outcome, "hangup_cause": hangup_cause, "talk_ms": talk_ms }),
            ),
            Record::AgentState {
                agent,
                from,
                to,
                cause,
                reason,
                at,
            } => (
                None,
                Some(agent.clone()),
                *at,
                json!({
                    "from": from.as_str(),
                    "to": to.as_str(),
                    "cause": cause.as_str(),
                    "reason": reason,
                }),
            ),
            Record::CallWrappedUp {
                call,
                agent,
                disposition,
                wrap_up_ms,
                at,
                ..
            } => (
                Some(*call),
                Some(agent.clone()),
                *at,
                json!({ "disposition": disposition, "wrap_up_ms": wrap_up_ms }),
            ),
            Record::AgentAfterCall {
                agent,
                status,
                reason,
                applied,
                at,
            } => (
                None,
                Some(agent.clone()),
                *at,
                json!({
                    "state": status.map(|s| s.as_str()),
                    "reason": reason,
                    "pending": status.is_some() && !applied,
                    "applied": applied,
                }),
            ),
            _ => return Ok(()),
        };
        let looked_up = look_up(conn, call, agent.as_ref(), at).await?;
        let queue = looked_up
            .call
            .as_ref()
            .and_then(|c| c.get("queue"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or(queue_of_event);
        if let Some(object) = details.as_object_mut() {
            object.retain(|_, v| !v.is_null());
        }
        for event_type in types {
            let event_id = format!("evt_{}", uuid::Uuid::new_v4().simple());
            let payload = json!({
                "id": event_id,
                "type": event_type,
                "timestamp": rfc3339(at),
                "data": {
                    "call": looked_up.call,
                    "agent": looked_up.agent_json,
                    "variables": looked_up.variables,
                    "details": details,
                },
            });
            let payload = serde_json::to_string(&payload).map_err(StoreError::Encode)?;
            self.events.push(PendingEvent {
                event_id,
                event_type,
                call: call.map(|c| c.to_string()),
                queue: queue.clone(),
                agent: looked_up.agent.as_ref().map(|a| a.as_str().to_owned()),
                at: at.as_millis(),
                payload,
            });
        }
        Ok(())
    }
}

impl Announcements {
    /// Writes the events and their deliveries. Runs in the transaction that applied the
    /// records, last, so they commit together.
    pub(super) async fn write(self, conn: &mut AnyConnection) -> Result<(), StoreError> {
        if self.events.is_empty() {
            return Ok(());
        }
        insert(
            conn,
            "cti_events (event_id, type, call_id, queue_id, agent_id, at, payload)",
            7,
            &self.events,
            None,
            |query, event| {
                query
                    .bind(event.event_id.as_str())
                    .bind(event.event_type)
                    .bind(event.call.clone())
                    .bind(event.queue.clone())
                    .bind(event.agent.clone())
                    .bind(event.at)
                    .bind(event.payload.as_str())
            },
        )
        .await?;
        let subscriptions: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT name, events, queues FROM webhook_subscriptions WHERE enabled = 1 \
             ORDER BY name",
        )
        .fetch_all(&mut *conn)
        .await?;
        let deliveries: Vec<(&PendingEvent, &str)> = self
            .events
            .iter()
            .flat_map(|event| {
                subscriptions
                    .iter()
                    .filter(|(_, events, queues)| wants(events, queues, event))
                    .map(move |(name, _, _)| (event, name.as_str()))
            })
            .collect();
        insert(
            conn,
            "webhook_deliveries \
             (event_id, subscription, call_id, class, status, attempts, next_attempt_at)",
            7,
            &deliveries,
            None,
            |query, (event, subscription)| {
                query
                    .bind(event.event_id.as_str())
                    .bind(*subscription)
                    .bind(event.call.clone())
                    .bind(DeliveryClass::of(event.event_type).as_str())
                    .bind("pending")
                    .bind(0_i64)
                    .bind(event.at)
            },
        )
        .await
    }
}

/// Whether a subscription (its `events` and `queues` as stored: `,a,b,`, or empty for every
/// queue) wants `event`. An event with no queue goes only to subscriptions for every queue.
fn wants(events: &str, queues: &str, event: &PendingEvent) -> bool {
    events.contains(&format!(",{},", event.event_type))
        && (queues.is_empty()
            || event
                .queue
                .as_ref()
                .is_some_and(|q| queues.contains(&format!(",{q},"))))
}

/// What an event's payload says about its call and agent, read in one statement.
struct LookedUp {
    call: Option<Value>,
    /// The record's agent, or for a call that names none, the agent who answered it.
    agent: Option<AgentId>,
    agent_json: Option<Value>,
    variables: BTreeMap<String, String>,
}

/// The call as a payload shows it (with the wait so far at `at`), its agent, and what the
/// caller entered in the IVR and the CRM returned (kept when its flow ended).
async fn look_up(
    conn: &mut AnyConnection,
    call: Option<CallId>,
    agent: Option<&AgentId>,
    at: Timestamp,
) -> Result<LookedUp, StoreError> {
    let row = sqlx::query(
        "SELECT c.id, c.switch, c.caller_channel, c.queue_id, c.caller_number, c.caller_name, \
         c.destination, c.priority, c.entered_at, c.answered_at, c.agent_id, c.agent_channel, \
         c.hold_ms, c.holds, c.disposition, \
         a.id AS agent_row_id, a.name AS agent_name, a.dial_string AS agent_dial_string, \
         f.variables \
         FROM (SELECT 1 AS one) AS o \
         LEFT JOIN calls c ON c.id = $1 \
         LEFT JOIN agents a ON a.id = COALESCE($2, c.agent_id) \
         LEFT JOIN flow_sessions f ON f.call_id = $1",
    )
    .bind(call.map(|c| c.to_string()))
    .bind(agent.map(|a| a.as_str().to_owned()))
    .fetch_one(&mut *conn)
    .await?;
    let c = Columns::new(&row, "calls", "id");
    let call_json = match c.opt_text("id")? {
        Some(id) => {
            let entered_at = c.int("entered_at")?;
            let waited_until = c.opt_int("answered_at")?.unwrap_or(at.as_millis());
            Some(json!({
                "id": id,
                "switch": c.text("switch")?,
                "caller_channel": c.text("caller_channel")?,
                "agent_channel": c.opt_text("agent_channel")?,
                "caller_number": c.text("caller_number")?,
                "caller_name": c.text("caller_name")?,
                "destination": c.text("destination")?,
                "queue": c.text("queue_id")?,
                "priority": c.int("priority")?,
                "entered_at": rfc3339(Timestamp::from_millis(entered_at)),
                "wait_ms": (waited_until - entered_at).max(0),
                "agent_id": c.opt_text("agent_id")?,
                "hold_ms": c.opt_int("hold_ms")?.unwrap_or(0),
                "holds": c.opt_int("holds")?.unwrap_or(0),
                "disposition": c.opt_text("disposition")?,
            }))
        }
        None => None,
    };
    let agent = agent.cloned().or_else(|| {
        call_json
            .as_ref()
            .and_then(|c| c.get("agent_id"))
            .and_then(Value::as_str)
            .and_then(|a| AgentId::new(a).ok())
    });
    let agent_json = match (&agent, c.opt_text("agent_row_id")?) {
        (Some(agent), Some(id)) if id == agent.as_str() => {
            let dial_string = c.text("agent_dial_string")?;
            Some(json!({
                "id": id,
                "name": c.text("agent_name")?,
                "extension": extension(&dial_string),
            }))
        }
        (Some(agent), _) => Some(json!({ "id": agent.as_str() })),
        (None, _) => None,
    };
    let variables = c
        .opt_text("variables")?
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    Ok(LookedUp {
        call: call_json,
        agent,
        agent_json,
        variables,
    })
}

fn rfc3339(at: Timestamp) -> String {
    crate::cti::rfc3339(at).unwrap_or_default()
}

/// `user/1001@example.com` → `1001`; any other dial string as it is.
fn extension(dial_string: &str) -> String {
    dial_string
        .strip_prefix("user/")
        .map(|rest| rest.split('@').next().unwrap_or(rest))
        .unwrap_or(dial_string)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dial_string_shows_its_extension() {
        assert_eq!(extension("user/1001@example.com"), "1001");
        assert_eq!(extension("sofia/gateway/x/123"), "sofia/gateway/x/123");
    }

    #[test]
    fn a_subscription_wants_its_types_and_queues_and_queueless_events_only_when_for_every_queue() {
        let event = |queue: Option<&str>| PendingEvent {
            event_id: "evt_1".into(),
            event_type: "call.offered",
            call: None,
            queue: queue.map(str::to_owned),
            agent: None,
            at: 0,
            payload: String::new(),
        };
        assert!(wants(",call.offered,", "", &event(Some("sales"))));
        assert!(wants(",call.offered,", ",sales,", &event(Some("sales"))));
        assert!(!wants(",call.offered,", ",sales,", &event(Some("sale"))));
        assert!(!wants(",call.offered,", ",sales,", &event(None)));
        assert!(wants(",call.offered,", "", &event(None)));
        assert!(!wants(",call.ended,", "", &event(Some("sales"))));
    }
}
