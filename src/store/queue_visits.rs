//! Statistics' facts: one row per visit of a call to a queue (`queue_visits`), kept by the
//! history writer in the same transaction as the records it derives from, and the report
//! queries over it and over agents' state changes.
//!
//! Why a table of visits rather than reading `calls`: a call may visit several queues
//! (overflow, a move, a transfer into a queue) and each queue is measured on its own part;
//! why aggregate per 15-minute UTC bucket in SQL: a month is then ~3,000 rows per queue
//! whatever the traffic, and the time zone's calendar stays in Rust (`stats::intervals`).

use sqlx::AnyConnection;

use super::rows::{agent_status, Columns};
use super::{Store, StoreError};
use crate::engine::{CallOutcome, QueueEventKind, Record};
use crate::stats::{AgentBucket, QueueBucket, StateChange, BUCKET_MS};

/// The visit a later record of `(call, queue)` updates: the latest one.
const LATEST: &str =
    "id = (SELECT MAX(v.id) FROM queue_visits v WHERE v.call_id = $1 AND v.queue_id = $2)";

/// `talk_ms=<n>` from a `complete` or `transfer` event's detail.
fn talk_of(detail: &str) -> Option<i64> {
    detail
        .split(' ')
        .find_map(|part| part.strip_prefix("talk_ms="))
        .and_then(|n| n.parse().ok())
}

/// Keeps the visits up to date with one record (already written to the history).
pub(super) async fn apply(conn: &mut AnyConnection, record: &Record) -> Result<(), StoreError> {
    match record {
        Record::QueueEvent {
            call,
            queue,
            agent,
            kind,
            detail,
            at,
        } => {
            let call = call.to_string();
            let at = at.as_millis();
            match kind {
                QueueEventKind::Enter => {
                    // Whatever visit of the call is still open ends here (a transfer into a
                    // queue, a move that did not say overflow first).
                    sqlx::query(
                        "UPDATE queue_visits SET ended_at = $2, \
                         outcome = COALESCE(outcome, 'overflowed'), \
                         wait_ms = COALESCE(wait_ms, $2 - entered_at) \
                         WHERE call_id = $1 AND ended_at IS NULL",
                    )
                    .bind(&call)
                    .bind(at)
                    .execute(&mut *conn)
                    .await?;
                    sqlx::query(
                        "INSERT INTO queue_visits (call_id, queue_id, entered_at, bucket) \
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(&call)
                    .bind(queue.as_str())
                    .bind(at)
                    .bind(at - at.rem_euclid(BUCKET_MS))
                    .execute(&mut *conn)
                    .await?;
                }
                QueueEventKind::Connect => {
                    sqlx::query(&format!(
                        "UPDATE queue_visits SET answered_at = $3, agent_id = $4, \
                         outcome = 'answered', wait_ms = $3 - entered_at \
                         WHERE {LATEST} AND answered_at IS NULL"
                    ))
                    .bind(&call)
                    .bind(queue.as_str())
                    .bind(at)
                    .bind(agent.as_ref().map(|a| a.as_str().to_owned()))
                    .execute(&mut *conn)
                    .await?;
                }
                QueueEventKind::Abandon | QueueEventKind::Overflow => {
                    let outcome = if *kind == QueueEventKind::Abandon {
                        "abandoned"
                    } else {
                        "overflowed"
                    };
                    sqlx::query(&format!(
                        "UPDATE queue_visits SET ended_at = $3, outcome = $4, \
                         wait_ms = $3 - entered_at \
                         WHERE {LATEST} AND answered_at IS NULL AND ended_at IS NULL"
                    ))
                    .bind(&call)
                    .bind(queue.as_str())
                    .bind(at)
                    .bind(outcome)
                    .execute(&mut *conn)
                    .await?;
                }
                QueueEventKind::Complete | QueueEventKind::Transfer => {
                    let transferred = i64::from(*kind == QueueEventKind::Transfer);
                    sqlx::query(&format!(
                        "UPDATE queue_visits SET talk_ms = COALESCE(talk_ms, 0) + $3, \
                         transferred_out = CASE WHEN $4 = 1 THEN 1 ELSE transferred_out END, \
                         ended_at = CASE WHEN $4 = 1 THEN ended_at ELSE $5 END \
                         WHERE {LATEST} AND answered_at IS NOT NULL"
                    ))
                    .bind(&call)
                    .bind(queue.as_str())
                    .bind(talk_of(detail).unwrap_or(0))
                    .bind(transferred)
                    .bind(at)
                    .execute(&mut *conn)
                    .await?;
                }
                QueueEventKind::CallbackRequested => {
                    sqlx::query(&format!(
                        "UPDATE queue_visits SET callback = 1 WHERE {LATEST}"
                    ))
                    .bind(&call)
                    .bind(queue.as_str())
                    .execute(&mut *conn)
                    .await?;
                }
                _ => {}
            }
        }
        Record::CallResumed {
            call,
            queue,
            held_ms,
            ..
        } => {
            sqlx::query(&format!(
                "UPDATE queue_visits SET hold_ms = hold_ms + $3 WHERE {LATEST}"
            ))
            .bind(call.to_string())
            .bind(queue.as_str())
            .bind(*held_ms)
            .execute(&mut *conn)
            .await?;
        }
        Record::CallWrappedUp {
            call,
            queue,
            wrap_up_ms,
            ..
        } => {
            sqlx::query(&format!(
                "UPDATE queue_visits SET wrap_ms = COALESCE(wrap_ms, 0) + $3 WHERE {LATEST}"
            ))
            .bind(call.to_string())
            .bind(queue.as_str())
            .bind(*wrap_up_ms)
            .execute(&mut *conn)
            .await?;
        }
        Record::CallEnded {
            call, outcome, at, ..
        } => {
            // Visits the call's end finds open: unanswered ones get the call's outcome; an
            // answered one whose talk no `complete` gave (a call lost while connected) talks
            // until the end.
            let unanswered = match outcome {
                CallOutcome::Completed | CallOutcome::Transferred => "overflowed",
                other => other.as_str(),
            };
            sqlx::query(
                "UPDATE queue_visits SET ended_at = $2, \
                 outcome = CASE WHEN answered_at IS NULL THEN $3 ELSE outcome END, \
                 wait_ms = CASE WHEN answered_at IS NULL THEN $2 - entered_at ELSE wait_ms END, \
                 talk_ms = CASE WHEN answered_at IS NOT NULL AND talk_ms IS NULL \
                     THEN $2 - answered_at ELSE talk_ms END \
                 WHERE call_id = $1 AND ended_at IS NULL",
            )
            .bind(call.to_string())
            .bind(at.as_millis())
            .bind(unanswered)
            .execute(&mut *conn)
            .await?;
        }
        _ => {}
    }
    Ok(())
}

/// A queue's sums in one bucket, as the report queries return them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueBucketRow {
    pub queue: String,
    /// Unix ms of the bucket's start (a multiple of `BUCKET_MS`).
    pub bucket: i64,
    pub sums: QueueBucket,
}

/// An agent's counts in one bucket (connects, missed offers, hold of its calls).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentBucketRow {
    pub agent: String,
    pub bucket: i64,
    pub counts: AgentBucket,
}

impl Store {
    /// Per queue and 15-minute bucket, the sums over the visits that entered in `[from, to)`,
    /// with `within_ms` and `short_abandon_ms` as the targets (`queue`: only that one). Read
    /// in the order of `queue_visits_by_bucket`, so grouping needs no sort.
    pub async fn queue_buckets(
        &self,
        from: i64,
        to: i64,
        within_ms: i64,
        short_abandon_ms: i64,
        queue: Option<&str>,
    ) -> Result<Vec<QueueBucketRow>, StoreError> {
        let yes = |condition: &str| {
            format!("CAST(SUM(CASE WHEN {condition} THEN 1 ELSE 0 END) AS BIGINT)")
        };
        let answered = "answered_at IS NOT NULL";
        let sql = format!(
            "SELECT queue_id, bucket, COUNT(*) AS offered, \
             {} AS answered, {} AS answered_within, {} AS abandoned, {} AS short_abandoned, \
             {} AS abandoned_after_target, {} AS overflowed, {} AS waiting, \
             CAST(SUM(transferred_out) AS BIGINT) AS transfers_out, \
             CAST(SUM(callback) AS BIGINT) AS callbacks, \
             CAST(SUM(CASE WHEN {answered} THEN wait_ms ELSE 0 END) AS BIGINT) AS answered_wait_ms, \
             MAX(CASE WHEN {answered} THEN wait_ms END) AS longest_answered_wait_ms, \
             {} AS handled, \
             CAST(SUM(CASE WHEN {answered} AND talk_ms IS NOT NULL THEN talk_ms ELSE 0 END) AS BIGINT) AS connected_ms, \
             CAST(SUM(CASE WHEN {answered} AND talk_ms IS NOT NULL THEN hold_ms ELSE 0 END) AS BIGINT) AS hold_ms, \
             CAST(SUM(CASE WHEN {answered} AND talk_ms IS NOT NULL THEN COALESCE(wrap_ms, 0) ELSE 0 END) AS BIGINT) AS wrap_ms, \
             MIN(entered_at) AS first_entered_at \
             FROM queue_visits WHERE bucket >= $6 AND bucket < $2 \
             AND entered_at >= $1 AND entered_at < $2 AND ($5 = '' OR queue_id = $5) \
             GROUP BY bucket, queue_id",
            yes(answered),
            yes("answered_at IS NOT NULL AND wait_ms <= $3"),
            yes("outcome = 'abandoned'"),
            yes("outcome = 'abandoned' AND wait_ms < $4"),
            yes("outcome = 'abandoned' AND wait_ms > $3"),
            yes("outcome = 'overflowed'"),
            yes("answered_at IS NULL AND ended_at IS NULL"),
            yes("answered_at IS NOT NULL AND talk_ms IS NOT NULL"),
        );
        let rows = sqlx::query(&sql)
            .bind(from)
            .bind(to)
            .bind(within_ms)
            .bind(short_abandon_ms)
            .bind(queue.unwrap_or(""))
            .bind(from - from.rem_euclid(BUCKET_MS))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let c = Columns::new(row, "queue_visits", "queue_id");
                Ok(QueueBucketRow {
                    queue: c.text("queue_id")?,
                    bucket: c.int("bucket")?,
                    sums: QueueBucket {
                        offered: c.int("offered")?,
                        answered: c.int("answered")?,
                        answered_within: c.int("answered_within")?,
                        abandoned: c.int("abandoned")?,
                        short_abandoned: c.int("short_abandoned")?,
                        abandoned_after_target: c.int("abandoned_after_target")?,
                        overflowed: c.int("overflowed")?,
                        waiting: c.int("waiting")?,
                        transfers_out: c.int("transfers_out")?,
                        callbacks: c.int("callbacks")?,
                        answered_wait_ms: c.int("answered_wait_ms")?,
                        longest_answered_wait_ms: c.opt_int("longest_answered_wait_ms")?,
                        handled: c.int("handled")?,
                        connected_ms: c.int("connected_ms")?,
                        hold_ms: c.int("hold_ms")?,
                        wrap_ms: c.int("wrap_ms")?,
                        first_entered_at: c.opt_int("first_entered_at")?,
                    },
                })
            })
            .collect()
    }

    /// Agents' state changes in `[from, to)`, each agent's last one before `from` first (the
    /// state it was in as the period began); sorted by agent, then time (`agent`: only that
    /// one).
    pub async fn state_changes_between(
        &self,
        from: i64,
        to: i64,
        agent: Option<&str>,
    ) -> Result<Vec<StateChange>, StoreError> {
        let before = sqlx::query(
            "SELECT s.agent_id, s.to_status, s.reason, s.at, s.id \
             FROM (SELECT id FROM agents UNION SELECT agent_id AS id FROM agent_state_changes \
             WHERE at >= $1 AND at < $3) g \
             JOIN agent_state_changes s ON s.id = (SELECT p.id FROM agent_state_changes p \
             WHERE p.agent_id = g.id AND p.at < $1 ORDER BY p.at DESC, p.id DESC LIMIT 1) \
             WHERE ($2 = '' OR g.id = $2)",
        )
        .bind(from)
        .bind(agent.unwrap_or(""))
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        let within = sqlx::query(
            "SELECT agent_id, to_status, reason, at, id FROM agent_state_changes \
             WHERE at >= $1 AND at < $2 AND ($3 = '' OR agent_id = $3)",
        )
        .bind(from)
        .bind(to)
        .bind(agent.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        let mut changes = Vec::with_capacity(before.len() + within.len());
        for row in before.iter().chain(within.iter()) {
            let c = Columns::new(row, "agent_state_changes", "id");
            changes.push((
                c.int("id")?,
                StateChange {
                    agent: c.text("agent_id")?,
                    status: c.parsed("to_status", agent_status)?,
                    reason: c.opt_text("reason")?,
                    at: c.int("at")?,
                },
            ));
        }
        changes.sort_by(|(ia, a), (ib, b)| {
            (a.agent.as_str(), a.at, ia).cmp(&(b.agent.as_str(), b.at, ib))
        });
        Ok(changes.into_iter().map(|(_, c)| c).collect())
    }

    /// Per agent and 15-minute bucket: calls connected and offers missed (by the event's
    /// time), and the hold time of the visits it answered (by the answer's time).
    pub async fn agent_buckets(
        &self,
        from: i64,
        to: i64,
        agent: Option<&str>,
    ) -> Result<Vec<AgentBucketRow>, StoreError> {
        let events = sqlx::query(
            "SELECT agent_id, (at / 900000) * 900000 AS bucket, \
             CAST(SUM(CASE WHEN kind = 'connect' THEN 1 ELSE 0 END) AS BIGINT) AS handled, \
             CAST(SUM(CASE WHEN kind = 'ring_no_answer' THEN 1 ELSE 0 END) AS BIGINT) AS missed \
             FROM queue_events WHERE kind IN ('connect', 'ring_no_answer') \
             AND at >= $1 AND at < $2 AND agent_id IS NOT NULL AND ($3 = '' OR agent_id = $3) \
             GROUP BY agent_id, (at / 900000) * 900000",
        )
        .bind(from)
        .bind(to)
        .bind(agent.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        let holds = sqlx::query(
            "SELECT agent_id, (answered_at / 900000) * 900000 AS bucket, \
             CAST(SUM(hold_ms) AS BIGINT) AS hold_ms FROM queue_visits \
             WHERE answered_at >= $1 AND answered_at < $2 AND agent_id IS NOT NULL \
             AND ($3 = '' OR agent_id = $3) \
             GROUP BY agent_id, (answered_at / 900000) * 900000",
        )
        .bind(from)
        .bind(to)
        .bind(agent.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(events.len() + holds.len());
        for row in &events {
            let c = Columns::new(row, "queue_events", "agent_id");
            out.push(AgentBucketRow {
                agent: c.text("agent_id")?,
                bucket: c.int("bucket")?,
                counts: AgentBucket {
                    handled: c.int("handled")?,
                    missed_offers: c.int("missed")?,
                    ..AgentBucket::default()
                },
            });
        }
        for row in &holds {
            let c = Columns::new(row, "queue_visits", "agent_id");
            out.push(AgentBucketRow {
                agent: c.text("agent_id")?,
                bucket: c.int("bucket")?,
                counts: AgentBucket {
                    hold_ms: c.int("hold_ms")?,
                    ..AgentBucket::default()
                },
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::talk_of;

    #[test]
    fn talk_is_read_from_complete_and_transfer_details() {
        assert_eq!(talk_of("by=caller talk_ms=4200"), Some(4200));
        assert_eq!(
            talk_of("kind=blind from=1001 to=number:5 by=1001 talk_ms=10"),
            Some(10)
        );
        assert_eq!(talk_of("wait_ms=3"), None);
    }
}
