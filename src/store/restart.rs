//! What a restarted controller (or a standby taking over) reads back to adopt callers where
//! they were: a waiting call's queue, priority, skills and place; an IVR caller's node; the
//! callers who abandoned recently enough to resume. The engine reports these as history
//! records (`CallPlaced`, `FlowWaiting`), written in the same batch as the facts they follow.

use sqlx::AnyConnection;

use super::rows::Columns;
use super::{Store, StoreError};
use crate::engine::{
    Abandoned, CallId, FlowId, QueueId, Record, SkillLevel, StoredPlace, Timestamp,
};

/// Where an open IVR session waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowPlace {
    pub flow: FlowId,
    pub node: String,
}

/// Writes one placement record, inside the history batch's transaction. A call or session
/// that has ended keeps its row as it was.
pub(super) async fn apply(conn: &mut AnyConnection, record: &Record) -> Result<(), StoreError> {
    match record {
        Record::CallPlaced {
            call,
            queue,
            priority,
            skills,
            hops,
            waiting_since,
            ..
        } => {
            let skills = serde_json::to_string(skills).map_err(StoreError::Encode)?;
            sqlx::query(
                "UPDATE calls SET current_queue = $2, current_priority = $3, current_skills = $4, \
                 hops = $5, waiting_since = $6 WHERE id = $1 AND ended_at IS NULL",
            )
            .bind(call.to_string())
            .bind(queue.as_str())
            .bind(i64::from(*priority))
            .bind(skills)
            .bind(i64::from(*hops))
            .bind(waiting_since.as_millis())
            .execute(&mut *conn)
            .await?;
        }
        Record::FlowWaiting {
            call,
            flow,
            node,
            variables,
            ..
        } => {
            let variables = super::history::json_object(variables)?;
            sqlx::query(
                "UPDATE flow_sessions SET current_flow = $2, current_node = $3, variables = $4 \
                 WHERE call_id = $1 AND ended_at IS NULL",
            )
            .bind(call.to_string())
            .bind(flow.as_str())
            .bind(node.as_str())
            .bind(variables)
            .execute(&mut *conn)
            .await?;
        }
        _ => {}
    }
    Ok(())
}

impl Store {
    /// Where each open call stands now, by call: only calls that moved, changed or resumed
    /// since they entered (the others stand where their row says).
    pub async fn open_call_places(&self) -> Result<Vec<(CallId, StoredPlace)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, current_queue, current_priority, current_skills, hops, waiting_since \
             FROM calls WHERE ended_at IS NULL AND current_queue IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let c = Columns::new(row, "calls", "id");
                let skills: Vec<SkillLevel> = c.json("current_skills")?;
                let priority = c.int("current_priority")?;
                let place = StoredPlace {
                    queue: c.parsed("current_queue", |s: &str| QueueId::new(s))?,
                    priority: i32::try_from(priority)
                        .map_err(|_| c.corrupt(format!("current_priority: {priority}")))?,
                    skills,
                    hops: c.ranged("hops")?,
                    waiting_since: Timestamp::from_millis(c.int("waiting_since")?),
                };
                Ok((c.parsed("id", CallId::parse)?, place))
            })
            .collect()
    }

    /// The node an open IVR session of `call` waits at, if it reported one.
    pub async fn flow_place(&self, call: CallId) -> Result<Option<FlowPlace>, StoreError> {
        let row = sqlx::query(
            "SELECT call_id, current_flow, current_node FROM flow_sessions \
             WHERE call_id = $1 AND ended_at IS NULL AND current_node IS NOT NULL",
        )
        .bind(call.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            let c = Columns::new(&row, "flow_sessions", "call_id");
            Ok(FlowPlace {
                flow: c.parsed("current_flow", |s: &str| FlowId::new(s))?,
                node: c.text("current_node")?,
            })
        })
        .transpose()
    }

    /// Callers who abandoned a queue at `since` or later and have not called that queue
    /// again since, latest first, at most `limit`: the resume memory a restart restores
    /// (the engine keeps the ones still inside their queue's window).
    pub async fn abandoned_since(
        &self,
        since: Timestamp,
        limit: u32,
    ) -> Result<Vec<Abandoned>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.id, COALESCE(c.current_queue, c.queue_id) AS left_queue, c.caller_number, \
             COALESCE(c.waiting_since, c.entered_at) AS since, \
             COALESCE(c.current_priority, c.priority) AS left_priority, c.ended_at \
             FROM calls c WHERE c.outcome = 'abandoned' AND c.ended_at >= $1 \
             AND c.caller_number <> '' \
             AND NOT EXISTS (SELECT 1 FROM calls l WHERE l.caller_number = c.caller_number \
             AND l.queue_id = COALESCE(c.current_queue, c.queue_id) \
             AND l.entered_at >= c.ended_at AND l.entered_at >= $1 AND l.id <> c.id) \
             ORDER BY c.ended_at DESC, c.id LIMIT $2",
        )
        .bind(since.as_millis())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let c = Columns::new(row, "calls", "id");
                let priority = c.int("left_priority")?;
                Ok(Abandoned {
                    queue: c.parsed("left_queue", |s: &str| QueueId::new(s))?,
                    caller_number: c.text("caller_number")?,
                    waiting_since: Timestamp::from_millis(c.int("since")?),
                    priority: i32::try_from(priority)
                        .map_err(|_| c.corrupt(format!("priority: {priority}")))?,
                    ended_at: Timestamp::from_millis(c.int("ended_at")?),
                })
            })
            .collect()
    }
}
