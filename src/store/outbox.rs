//! The webhook outbox: the CTI events and delivery rows that `announce` writes in the same
//! transaction as the history change they announce, the delivery rows the webhook worker
//! (`app::webhooks`) claims, updates and replays, and the subscriptions.

use serde::Serialize;

use super::rows::Columns;
use super::{Store, StoreError};
use crate::engine::{AgentId, CallId, QueueId, Timestamp};

pub use crate::cti::subscription::Subscription;
pub use crate::cti::EVENT_TYPES;

/// How a delivery is retried: a screen-pop is worth something only while the phone rings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryClass {
    /// `call.offered`: a short timeout, a fast retry or two, then `missed`.
    Pop,
    /// Everything else: retried with backoff for hours, then `dead`.
    Durable,
}

impl DeliveryClass {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryClass::Pop => "pop",
            DeliveryClass::Durable => "durable",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [DeliveryClass::Pop, DeliveryClass::Durable]
            .into_iter()
            .find(|c| c.as_str() == s)
    }

    pub(super) fn of(event_type: &str) -> Self {
        if event_type == "call.offered" {
            DeliveryClass::Pop
        } else {
            DeliveryClass::Durable
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    /// A screen-pop that could not be delivered while it mattered.
    Missed,
    /// Given up after the last retry, or the receiver answered 410 Gone.
    Dead,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Missed => "missed",
            DeliveryStatus::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            DeliveryStatus::Pending,
            DeliveryStatus::Delivered,
            DeliveryStatus::Missed,
            DeliveryStatus::Dead,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
    }
}

/// One delivery of one event to one subscription, as the worker and the REST API see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryRow {
    pub id: i64,
    pub event_id: String,
    pub event_type: String,
    pub subscription: String,
    pub call: Option<CallId>,
    pub class: DeliveryClass,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub last_attempt_at: Option<Timestamp>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_at: Option<Timestamp>,
    /// The event as it is posted (the body signed).
    #[serde(skip)]
    pub payload: String,
}

/// What the worker learned from one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptResult {
    Delivered {
        status: u16,
    },
    /// Try again at `retry_at`, or give up with `give_up` (missed or dead).
    Failed {
        status: Option<u16>,
        error: String,
        retry_at: Option<Timestamp>,
        give_up: DeliveryStatus,
    },
    /// 410 Gone: the subscription is disabled.
    Gone,
}

fn list(items: &[impl AsRef<str>]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let mut out = String::from(",");
    for item in items {
        out.push_str(item.as_ref());
        out.push(',');
    }
    out
}

fn unlist(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

const DELIVERY_COLUMNS: &str = "d.id, d.event_id, e.type, d.subscription, d.call_id, d.class, \
     d.status, d.attempts, d.next_attempt_at, d.last_attempt_at, d.last_status, d.last_error, \
     d.delivered_at, e.payload";

fn delivery_row(row: &sqlx::any::AnyRow) -> Result<DeliveryRow, StoreError> {
    let c = Columns::new(row, "webhook_deliveries", "id");
    Ok(DeliveryRow {
        id: c.int("id")?,
        event_id: c.text("event_id")?,
        event_type: c.text("type")?,
        subscription: c.text("subscription")?,
        call: c.opt_parsed("call_id", CallId::parse)?,
        class: c.parsed("class", |s: &str| {
            DeliveryClass::parse(s).ok_or_else(|| format!("{s:?} is not a delivery class"))
        })?,
        status: c.parsed("status", |s: &str| {
            DeliveryStatus::parse(s).ok_or_else(|| format!("{s:?} is not a delivery status"))
        })?,
        attempts: c.int("attempts")?,
        next_attempt_at: Timestamp::from_millis(c.int("next_attempt_at")?),
        last_attempt_at: c.opt_int("last_attempt_at")?.map(Timestamp::from_millis),
        last_status: c.opt_int("last_status")?,
        last_error: c.opt_text("last_error")?,
        delivered_at: c.opt_int("delivered_at")?.map(Timestamp::from_millis),
        payload: c.text("payload")?,
    })
}

fn subscription_row(row: &sqlx::any::AnyRow) -> Result<Subscription, StoreError> {
    let c = Columns::new(row, "webhook_subscriptions", "name");
    Ok(Subscription {
        name: c.text("name")?,
        url: c.text("url")?,
        events: unlist(&c.text("events")?),
        queues: unlist(&c.text("queues")?)
            .iter()
            .map(|q| QueueId::new(q).map_err(|e| c.corrupt(format!("queues: {e}"))))
            .collect::<Result<_, _>>()?,
        secrets: c
            .text("secrets")?
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        enabled: c.int("enabled")? != 0,
        disabled_reason: c.opt_text("disabled_reason")?,
    })
}

/// Filters for listing deliveries.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub status: Option<DeliveryStatus>,
    pub subscription: Option<String>,
    pub call: Option<CallId>,
    pub limit: u32,
}

impl Store {
    /// Creates or replaces a subscription (enabled again if it was disabled).
    pub async fn put_subscription(&self, s: &Subscription) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO webhook_subscriptions \
             (name, url, events, queues, secrets, enabled, disabled_reason) \
             VALUES ($1, $2, $3, $4, $5, $6, NULL) ON CONFLICT (name) DO UPDATE SET \
             url = excluded.url, events = excluded.events, queues = excluded.queues, \
             secrets = excluded.secrets, enabled = excluded.enabled, disabled_reason = NULL",
        )
        .bind(s.name.as_str())
        .bind(s.url.as_str())
        .bind(list(&s.events))
        .bind(list(
            &s.queues.iter().map(QueueId::as_str).collect::<Vec<_>>(),
        ))
        .bind(s.secrets.join(" "))
        .bind(i64::from(s.enabled))
        .execute(&self.pool)
        .await?;
        self.changed(super::Change::Subscriptions).await;
        Ok(())
    }

    pub async fn delete_subscription(&self, name: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM webhook_subscriptions WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await?;
        self.changed(super::Change::Subscriptions).await;
        Ok(done.rows_affected() > 0)
    }

    pub async fn subscriptions(&self) -> Result<Vec<Subscription>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, url, events, queues, secrets, enabled, disabled_reason \
             FROM webhook_subscriptions ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(subscription_row).collect()
    }

    /// Deliveries due at `now`, oldest first, at most `limit`: for each subscription and call,
    /// only the oldest pending durable one (a call's events arrive in order). A screen-pop
    /// waits for nothing: it is worth something only while the phone rings.
    pub async fn due_deliveries(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d \
             JOIN cti_events e ON e.event_id = d.event_id \
             WHERE d.status = 'pending' AND d.next_attempt_at <= $1 \
             AND (d.class = 'pop' OR NOT EXISTS (SELECT 1 FROM webhook_deliveries p \
                 WHERE p.subscription = d.subscription AND p.call_id = d.call_id \
                 AND p.id < d.id AND p.status = 'pending' AND p.class = 'durable')) \
             ORDER BY d.id LIMIT $2"
        ))
        .bind(now.as_millis())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(delivery_row).collect()
    }

    /// Records what an attempt gave.
    pub async fn delivery_attempted(
        &self,
        id: i64,
        at: Timestamp,
        result: &AttemptResult,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let (status, next, last_status, error, delivered) = match result {
            AttemptResult::Delivered { status } => (
                DeliveryStatus::Delivered,
                None,
                Some(i64::from(*status)),
                None,
                Some(at.as_millis()),
            ),
            AttemptResult::Failed {
                status,
                error,
                retry_at,
                give_up,
            } => (
                if retry_at.is_some() {
                    DeliveryStatus::Pending
                } else {
                    *give_up
                },
                retry_at.map(Timestamp::as_millis),
                status.map(i64::from),
                Some(error.clone()),
                None,
            ),
            AttemptResult::Gone => (
                DeliveryStatus::Dead,
                None,
                Some(410),
                Some("410 Gone: the subscription is disabled".to_owned()),
                None,
            ),
        };
        // An erasure that gave the delivery up while it was in flight has the last word.
        sqlx::query(
            "UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1, \
             next_attempt_at = COALESCE($3, next_attempt_at), last_attempt_at = $4, \
             last_status = $5, last_error = $6, delivered_at = $7 \
             WHERE id = $1 AND NOT (status = 'dead' AND last_error = $8)",
        )
        .bind(id)
        .bind(status.as_str())
        .bind(next)
        .bind(at.as_millis())
        .bind(last_status)
        .bind(error)
        .bind(delivered)
        .bind(super::retention::ERASED_DELIVERY)
        .execute(&mut *tx)
        .await?;
        if matches!(result, AttemptResult::Gone) {
            sqlx::query(
                "UPDATE webhook_subscriptions SET enabled = 0, \
                 disabled_reason = 'the receiver answered 410 Gone' \
                 WHERE name = (SELECT subscription FROM webhook_deliveries WHERE id = $1)",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn deliveries(
        &self,
        filter: &DeliveryFilter,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d \
             JOIN cti_events e ON e.event_id = d.event_id \
             WHERE ($1 IS NULL OR d.status = $1) AND ($2 IS NULL OR d.subscription = $2) \
             AND ($3 IS NULL OR d.call_id = $3) ORDER BY d.id DESC LIMIT $4"
        ))
        .bind(filter.status.map(DeliveryStatus::as_str))
        .bind(filter.subscription.clone())
        .bind(filter.call.map(|c| c.to_string()))
        .bind(i64::from(filter.limit.max(1)))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(delivery_row).collect()
    }

    pub async fn delivery(&self, id: i64) -> Result<Option<DeliveryRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d \
             JOIN cti_events e ON e.event_id = d.event_id WHERE d.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(delivery_row).transpose()
    }

    /// Sends a delivery again (whatever became of it): pending now, attempts from zero.
    pub async fn replay_delivery(&self, id: i64, now: Timestamp) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, \
             next_attempt_at = $2, delivered_at = NULL WHERE id = $1",
        )
        .bind(id)
        .bind(now.as_millis())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}

/// A CTI event as a live stream sends it: its place in the outbox and the webhook body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Increases with every event; a stream resumes after the last one it sent.
    pub seq: i64,
    pub event_type: String,
    /// Exactly the body a webhook receiver gets.
    pub payload: String,
}

/// The newest event: where a stream that starts now begins, and when it happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventMark {
    pub seq: i64,
    pub at: Timestamp,
}

/// Which events a stream wants; every part that is set must match, an empty list matches all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Event types (see `EVENT_TYPES`).
    pub types: Vec<String>,
    /// Events of calls in these queues, and the state changes of `members`.
    pub queues: Vec<QueueId>,
    /// With `queues`: the agents whose state changes pass (an agent event has no queue).
    pub members: Vec<AgentId>,
    /// One agent's events: its state changes and the calls offered to it, answered by it or
    /// ended after it answered.
    pub agent: Option<AgentId>,
}

/// `$first, $first+1, ...` for `count` values.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl EventFilter {
    /// The WHERE clause after `seq > $1`, and its text parameters from `$2` on.
    fn sql(&self) -> (String, Vec<String>) {
        let mut clause = String::new();
        let mut params: Vec<String> = Vec::new();
        if !self.types.is_empty() {
            let list = placeholders(params.len() + 2, self.types.len());
            clause.push_str(&format!(" AND e.type IN ({list})"));
            params.extend(self.types.iter().cloned());
        }
        if !self.queues.is_empty() {
            let list = placeholders(params.len() + 2, self.queues.len());
            params.extend(self.queues.iter().map(|q| q.as_str().to_owned()));
            if self.members.is_empty() {
                clause.push_str(&format!(" AND e.queue_id IN ({list})"));
            } else {
                let members = placeholders(params.len() + 2, self.members.len());
                params.extend(self.members.iter().map(|a| a.as_str().to_owned()));
                clause.push_str(&format!(
                    " AND (e.queue_id IN ({list}) OR (e.queue_id IS NULL AND e.type = \
                     'agent.state_changed' AND e.agent_id IN ({members})))"
                ));
            }
        }
        if let Some(agent) = &self.agent {
            clause.push_str(&format!(" AND e.agent_id = ${}", params.len() + 2));
            params.push(agent.as_str().to_owned());
        }
        (clause, params)
    }
}

impl Store {
    /// Events after `after_seq` that pass `filter`, oldest first, at most `limit`.
    ///
    /// One history writer commits one batch at a time, so events become visible in `seq`
    /// order: a reader that continues after the last `seq` it saw misses none.
    pub async fn events_after(
        &self,
        after_seq: i64,
        filter: &EventFilter,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let (clause, params) = filter.sql();
        let sql = format!(
            "SELECT e.seq, e.type, e.payload FROM cti_events e WHERE e.seq > $1{clause} \
             ORDER BY e.seq LIMIT ${}",
            params.len() + 2
        );
        let mut query = sqlx::query(&sql).bind(after_seq);
        for param in params {
            query = query.bind(param);
        }
        let rows = query
            .bind(i64::from(limit.max(1)))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let c = Columns::new(row, "cti_events", "seq");
                Ok(StoredEvent {
                    seq: c.int("seq")?,
                    event_type: c.text("type")?,
                    payload: c.text("payload")?,
                })
            })
            .collect()
    }

    /// The newest event, if there is any.
    pub async fn last_event(&self) -> Result<Option<EventMark>, StoreError> {
        let row = sqlx::query("SELECT seq, at FROM cti_events ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            let c = Columns::new(&row, "cti_events", "seq");
            Ok(EventMark {
                seq: c.int("seq")?,
                at: Timestamp::from_millis(c.int("at")?),
            })
        })
        .transpose()
    }

    /// The deliveries not yet delivered (pending, retries included), and when the event of the
    /// oldest of them happened: the outbox's backlog, for `/metrics`.
    pub async fn outbox_backlog(&self) -> Result<(u64, Option<Timestamp>), StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS pending, MIN(e.at) AS oldest FROM webhook_deliveries d \
             JOIN cti_events e ON e.event_id = d.event_id WHERE d.status = 'pending'",
        )
        .fetch_one(&self.pool)
        .await?;
        let c = Columns::new(&row, "webhook_deliveries", "pending");
        let pending = u64::try_from(c.int("pending")?).unwrap_or(0);
        let oldest = c.opt_int("oldest")?.map(Timestamp::from_millis);
        Ok((pending, oldest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_written_for_one_like_and_read_back() {
        assert_eq!(
            list(&["call.offered", "call.ended"]),
            ",call.offered,call.ended,"
        );
        assert_eq!(list(&[] as &[&str]), "");
        assert_eq!(unlist(",a,b,"), ["a", "b"]);
    }

    #[test]
    fn an_event_filter_numbers_its_parameters_after_the_seq() {
        let filter = EventFilter {
            types: vec!["call.offered".to_owned(), "agent.state_changed".to_owned()],
            queues: vec![QueueId::new("sales").unwrap_or_else(|e| panic!("{e}"))],
            members: vec![AgentId::new("1002").unwrap_or_else(|e| panic!("{e}"))],
            agent: Some(AgentId::new("1002").unwrap_or_else(|e| panic!("{e}"))),
        };
        let (clause, params) = filter.sql();
        assert_eq!(
            clause,
            " AND e.type IN ($2, $3) AND (e.queue_id IN ($4) OR (e.queue_id IS NULL AND \
             e.type = 'agent.state_changed' AND e.agent_id IN ($5))) AND e.agent_id = $6"
        );
        assert_eq!(
            params,
            [
                "call.offered",
                "agent.state_changed",
                "sales",
                "1002",
                "1002"
            ]
        );
        assert_eq!(EventFilter::default().sql(), (String::new(), Vec::new()));
    }

    #[test]
    fn an_abandon_is_announced_before_the_end_and_only_offers_with_an_agent_pop() {
        assert_eq!(DeliveryClass::of("call.offered"), DeliveryClass::Pop);
        assert_eq!(DeliveryClass::of("call.ended"), DeliveryClass::Durable);
    }
}
