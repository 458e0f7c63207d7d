//! Supervisor monitoring in the history: one `monitor_events` row per session change
//! (`started`, `mode_changed`, `ended`), and what its CTI event (`monitor.started`,
//! `monitor.mode_changed`, `monitor.ended`) says beside the call.

use serde::Serialize;
use serde_json::{json, Value};
use sqlx::{AnyConnection, Row};

use super::{Store, StoreError};
use crate::engine::{CallId, Record};

pub(super) async fn apply(conn: &mut AnyConnection, record: &Record) -> Result<(), StoreError> {
    let Record::Monitor {
        monitor,
        call,
        queue,
        agent,
        supervisor,
        kind,
        mode,
        previous,
        reason,
        at,
    } = record
    else {
        return Ok(());
    };
    sqlx::query(
        "INSERT INTO monitor_events (monitor_id, call_id, queue_id, agent_id, supervisor, kind, \
         mode, previous_mode, reason, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(monitor.to_string())
    .bind(call.to_string())
    .bind(queue.as_str())
    .bind(agent.as_str())
    .bind(supervisor.as_str())
    .bind(kind.as_str())
    .bind(mode.as_str())
    .bind(previous.map(|p| p.as_str()))
    .bind(reason.clone())
    .bind(at.as_millis())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The event type a monitor record announces.
pub(super) fn event_type(record: &Record) -> Option<&'static str> {
    match record {
        Record::Monitor { kind, .. } => Some(kind.event_type()),
        _ => None,
    }
}

/// What a monitor event says beside the call.
pub(super) fn details(record: &Record) -> Value {
    match record {
        Record::Monitor {
            monitor,
            supervisor,
            mode,
            previous,
            reason,
            ..
        } => json!({
            "monitor": monitor.to_string(),
            "supervisor": supervisor,
            "mode": mode.as_str(),
            "previous_mode": previous.map(|p| p.as_str()),
            "reason": reason,
        }),
        _ => json!({}),
    }
}

/// One row of a call's monitoring history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonitorEventRow {
    pub monitor: String,
    pub call: String,
    pub queue: String,
    pub agent: String,
    pub supervisor: String,
    pub kind: String,
    pub mode: String,
    pub previous_mode: Option<String>,
    pub reason: Option<String>,
    pub at: i64,
}

impl Store {
    /// The monitoring history of a call, in order.
    pub async fn monitor_events(&self, call: CallId) -> Result<Vec<MonitorEventRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT monitor_id, call_id, queue_id, agent_id, supervisor, kind, mode, \
             previous_mode, reason, at FROM monitor_events WHERE call_id = $1 ORDER BY id",
        )
        .bind(call.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(MonitorEventRow {
                    monitor: r.try_get(0)?,
                    call: r.try_get(1)?,
                    queue: r.try_get(2)?,
                    agent: r.try_get(3)?,
                    supervisor: r.try_get(4)?,
                    kind: r.try_get(5)?,
                    mode: r.try_get(6)?,
                    previous_mode: r.try_get(7)?,
                    reason: r.try_get(8)?,
                    at: r.try_get(9)?,
                })
            })
            .collect()
    }
}
