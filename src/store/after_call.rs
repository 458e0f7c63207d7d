//! After-call states in the history (`agent_after_call`, migration 0017): every time a pause
//! or log-out waiting for an agent's call is set, cancelled or applied, one row; what still
//! waits is read back by a restarted controller.

use sqlx::AnyConnection;

use super::rows::{agent_status, Columns};
use super::{Store, StoreError};
use crate::engine::{AgentId, AgentStatus, Record, Timestamp};

pub(super) async fn apply(conn: &mut AnyConnection, record: &Record) -> Result<(), StoreError> {
    let Record::AgentAfterCall {
        agent,
        status,
        reason,
        applied,
        at,
    } = record
    else {
        return Ok(());
    };
    sqlx::query(
        "INSERT INTO agent_after_call (agent_id, status, reason, applied, at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(agent.as_str())
    .bind(status.map(|s| s.as_str()))
    .bind(reason.clone())
    .bind(i64::from(*applied))
    .bind(at.as_millis())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A state still waiting for an agent's call, as the history has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingAfterCall {
    pub agent: AgentId,
    /// `Paused` or `LoggedOut`.
    pub status: AgentStatus,
    pub reason: Option<String>,
    pub since: Timestamp,
}

impl Store {
    /// Every agent whose latest after-call row is a state set and neither cancelled nor
    /// applied since.
    pub async fn pending_after_call(&self) -> Result<Vec<PendingAfterCall>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.id, a.agent_id, a.status, a.reason, a.at FROM agent_after_call a \
             WHERE a.status IS NOT NULL AND a.applied = 0 AND a.id = (SELECT MAX(m.id) \
             FROM agent_after_call m WHERE m.agent_id = a.agent_id) ORDER BY a.id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut pending = Vec::with_capacity(rows.len());
        for row in &rows {
            let c = Columns::new(row, "agent_after_call", "id");
            pending.push(PendingAfterCall {
                agent: c.parsed("agent_id", |s: &str| AgentId::new(s))?,
                status: c.parsed("status", agent_status)?,
                reason: c.opt_text("reason")?,
                since: Timestamp::from_millis(c.int("at")?),
            });
        }
        Ok(pending)
    }
}
