//! Queues, agents and pause reasons: upserts (an idempotent apply of the provisioning file, or a REST edit)
//! and reads.

use std::collections::BTreeMap;

use sqlx::AnyConnection;

use super::rows::{queue_row, AgentRow, Columns, PauseReasonRow, QueueRow};
use super::{Store, StoreError};
use crate::config::{
    DialString, ProvisionedAgent, ProvisionedQueue, Provisioning, RoutingDefaults,
};
use crate::engine::{AgentId, Membership, QueueId};

const UPSERT_QUEUE: &str = "\
INSERT INTO queues (id, name, moh, wrap_up_ms, ring_timeout_ms, busy_backoff_ms, routing)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (id) DO UPDATE SET
    name = excluded.name,
    moh = excluded.moh,
    wrap_up_ms = excluded.wrap_up_ms,
    ring_timeout_ms = excluded.ring_timeout_ms,
    busy_backoff_ms = excluded.busy_backoff_ms,
    routing = excluded.routing";

const UPSERT_AGENT: &str = "\
INSERT INTO agents (id, name, dial_string, skills, pin_hash) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (id) DO UPDATE SET
    name = excluded.name,
    dial_string = excluded.dial_string,
    skills = excluded.skills,
    pin_hash = excluded.pin_hash";

const INSERT_MEMBERSHIP: &str = "\
INSERT INTO agent_queues (agent_id, queue_id, ordinal, position, tier, weight)
VALUES ($1, $2, $3, $4, $5, $6)";

const QUEUE_COLUMNS: &str = "id, name, moh, wrap_up_ms, ring_timeout_ms, busy_backoff_ms, routing";

const AGENT_COLUMNS: &str = "id, name, dial_string, skills, pin_hash";

const MEMBERSHIP_COLUMNS: &str = "agent_id, queue_id, position, tier, weight";

fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl QueueRow {
    /// The row for a queue from the provisioning file, with the config's routing defaults for
    /// what the file leaves out.
    pub fn from_provisioned(q: &ProvisionedQueue, defaults: &RoutingDefaults) -> Self {
        QueueRow {
            id: q.id.clone(),
            name: q.name.clone(),
            moh: q.moh.clone(),
            wrap_up_ms: millis(q.wrap_up.unwrap_or(defaults.wrap_up)),
            ring_timeout_ms: millis(q.ring_timeout.unwrap_or(defaults.ring_timeout)),
            busy_backoff_ms: q.busy_backoff.map(millis),
            routing: q.routing.clone(),
        }
    }
}

impl AgentRow {
    pub fn from_provisioned(a: &ProvisionedAgent) -> Self {
        AgentRow {
            id: a.id.clone(),
            name: a.name.clone(),
            dial_string: a.dial_string.clone(),
            queues: a.queues.clone(),
            skills: a.skills.clone(),
            pin_hash: a.pin_hash.clone(),
        }
    }
}

async fn upsert_queue(conn: &mut AnyConnection, q: &QueueRow) -> Result<(), StoreError> {
    sqlx::query(UPSERT_QUEUE)
        .bind(q.id.as_str())
        .bind(q.name.as_str())
        .bind(q.moh.as_str())
        .bind(q.wrap_up_ms)
        .bind(q.ring_timeout_ms)
        .bind(q.busy_backoff_ms)
        .bind(to_json(&q.routing)?)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn upsert_agent(conn: &mut AnyConnection, a: &AgentRow) -> Result<(), StoreError> {
    sqlx::query(UPSERT_AGENT)
        .bind(a.id.as_str())
        .bind(a.name.as_str())
        .bind(a.dial_string.as_str())
        .bind(to_json(&a.skills)?)
        .bind(a.pin_hash.as_ref().map(ToString::to_string))
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM agent_queues WHERE agent_id = $1")
        .bind(a.id.as_str())
        .execute(&mut *conn)
        .await?;
    for (ordinal, m) in (0_i64..).zip(&a.queues) {
        sqlx::query(INSERT_MEMBERSHIP)
            .bind(a.id.as_str())
            .bind(m.queue.as_str())
            .bind(ordinal)
            .bind(i64::from(m.position))
            .bind(i64::from(m.tier))
            .bind(i64::from(m.weight))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(StoreError::Encode)
}

impl Store {
    /// Creates or replaces a queue, by id.
    pub async fn upsert_queue(&self, queue: &QueueRow) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        upsert_queue(&mut tx, queue).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Creates or replaces an agent, by id, and replaces their queue membership with
    /// `agent.queues` (in that order). Every queue must exist.
    pub async fn upsert_agent(&self, agent: &AgentRow) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        upsert_agent(&mut tx, agent).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a queue and every agent's membership of it; `false` when there was no such
    /// queue. Its calls and queue events stay in the history.
    pub async fn delete_queue(&self, id: &QueueId) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM agent_queues WHERE queue_id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM queues WHERE id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Removes an agent and their queue membership; `false` when there was no such agent.
    /// Their calls and state changes stay in the history.
    pub async fn delete_agent(&self, id: &AgentId) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM agent_queues WHERE agent_id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM agents WHERE id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// Applies a provisioning file in one transaction: upserts every queue, then every agent
    /// with their membership; then its pause reasons, tokens and webhooks (a new token is created `now`).
    /// Idempotent; what the file does not list is left as it is (removing things is an
    /// explicit API action).
    pub async fn apply_provisioning(
        &self,
        provisioning: &Provisioning,
        defaults: &RoutingDefaults,
        now: crate::engine::Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for q in &provisioning.queues {
            upsert_queue(&mut tx, &QueueRow::from_provisioned(q, defaults)).await?;
        }
        for a in &provisioning.agents {
            upsert_agent(&mut tx, &AgentRow::from_provisioned(a)).await?;
        }
        tx.commit().await?;
        for r in &provisioning.pause_reasons {
            self.upsert_pause_reason(&PauseReasonRow::from_provisioned(r))
                .await?;
        }
        for t in &provisioning.tokens {
            self.upsert_token(&super::TokenRow::from_provisioned(t, now))
                .await?;
        }
        for w in &provisioning.webhooks {
            self.put_subscription(w).await?;
        }
        Ok(())
    }

    /// Adds or replaces a pause reason.
    pub async fn upsert_pause_reason(&self, reason: &PauseReasonRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO pause_reasons (code, name, productive) VALUES ($1, $2, $3) \
             ON CONFLICT (code) DO UPDATE SET name = excluded.name, \
             productive = excluded.productive",
        )
        .bind(reason.code.as_str())
        .bind(reason.name.as_str())
        .bind(i64::from(reason.productive))
        .execute(&self.pool)
        .await?;
        self.changed(super::Change::PauseReasons).await;
        Ok(())
    }

    /// Removes a pause reason; `false` when there was none with this code. Agents paused
    /// with it stay paused, and the history keeps it.
    pub async fn delete_pause_reason(&self, code: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM pause_reasons WHERE code = $1")
            .bind(code)
            .execute(&self.pool)
            .await?;
        self.changed(super::Change::PauseReasons).await;
        Ok(done.rows_affected() > 0)
    }

    /// All pause reasons, by code.
    pub async fn list_pause_reasons(&self) -> Result<Vec<PauseReasonRow>, StoreError> {
        let rows = sqlx::query("SELECT code, name, productive FROM pause_reasons")
            .fetch_all(&self.pool)
            .await?;
        let mut reasons = Vec::with_capacity(rows.len());
        for row in &rows {
            let c = Columns::new(row, "pause_reasons", "code");
            reasons.push(PauseReasonRow {
                code: c.text("code")?,
                name: c.text("name")?,
                productive: c.int("productive")? != 0,
            });
        }
        reasons.sort_by(|a, b| a.code.cmp(&b.code));
        Ok(reasons)
    }

    /// All queues, by id.
    pub async fn list_queues(&self) -> Result<Vec<QueueRow>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {QUEUE_COLUMNS} FROM queues"))
            .fetch_all(&self.pool)
            .await?;
        let mut queues = rows.iter().map(queue_row).collect::<Result<Vec<_>, _>>()?;
        // Sorted here, not in SQL: text collation differs between the backends.
        queues.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(queues)
    }

    pub async fn get_queue(&self, id: &QueueId) -> Result<Option<QueueRow>, StoreError> {
        let row = sqlx::query(&format!("SELECT {QUEUE_COLUMNS} FROM queues WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(queue_row).transpose()
    }

    /// All agents with their queues, by id.
    pub async fn list_agents(&self) -> Result<Vec<AgentRow>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let agents = sqlx::query(&format!("SELECT {AGENT_COLUMNS} FROM agents"))
            .fetch_all(&mut *conn)
            .await?;
        let memberships = sqlx::query(&format!(
            "SELECT {MEMBERSHIP_COLUMNS} FROM agent_queues ORDER BY agent_id, ordinal"
        ))
        .fetch_all(&mut *conn)
        .await?;
        let mut queues_of: BTreeMap<String, Vec<Membership>> = BTreeMap::new();
        for row in &memberships {
            let c = Columns::new(row, "agent_queues", "agent_id");
            queues_of
                .entry(c.text("agent_id")?)
                .or_default()
                .push(membership(&c)?);
        }
        let mut out = Vec::with_capacity(agents.len());
        for row in &agents {
            let id = Columns::new(row, "agents", "id").text("id")?;
            let queues = queues_of.remove(&id).unwrap_or_default();
            out.push(agent_row(row, queues)?);
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    pub async fn get_agent(&self, id: &AgentId) -> Result<Option<AgentRow>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let Some(row) = sqlx::query(&format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(&mut *conn)
            .await?
        else {
            return Ok(None);
        };
        let memberships = sqlx::query(&format!(
            "SELECT {MEMBERSHIP_COLUMNS} FROM agent_queues WHERE agent_id = $1 ORDER BY ordinal"
        ))
        .bind(id.as_str())
        .fetch_all(&mut *conn)
        .await?;
        let queues = memberships
            .iter()
            .map(|m| membership(&Columns::new(m, "agent_queues", "agent_id")))
            .collect::<Result<Vec<_>, _>>()?;
        agent_row(&row, queues).map(Some)
    }
}

fn agent_row(row: &sqlx::any::AnyRow, queues: Vec<Membership>) -> Result<AgentRow, StoreError> {
    let c = Columns::new(row, "agents", "id");
    Ok(AgentRow {
        id: c.parsed("id", |s: &str| AgentId::new(s))?,
        name: c.text("name")?,
        dial_string: c.parsed("dial_string", DialString::parse)?,
        queues,
        skills: c.json("skills")?,
        pin_hash: c
            .opt_text("pin_hash")?
            .map(|h| h.parse())
            .transpose()
            .map_err(|e: crate::engine::pin::PinHashError| c.corrupt(format!("pin_hash: {e}")))?,
    })
}

fn membership(c: &Columns<'_>) -> Result<Membership, StoreError> {
    Ok(Membership {
        queue: c.parsed("queue_id", |s: &str| QueueId::new(s))?,
        tier: c.ranged("tier")?,
        position: c.ranged("position")?,
        weight: c.ranged("weight")?,
    })
}
