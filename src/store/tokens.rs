//! API tokens (by name, kept as SHA-256 digests) and the audit log of state-changing requests.

use serde::Serialize;
use sqlx::any::AnyRow;

use super::rows::Columns;
use super::{Store, StoreError};
use crate::config::{ProvisionedToken, Role, TokenHash, TokenName};
use crate::engine::{AgentId, Timestamp};

/// One API token as stored: never the token itself. `Debug` shows no digest (`TokenHash`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub name: TokenName,
    pub role: Role,
    pub agent: Option<AgentId>,
    pub hash: TokenHash,
    pub created_at: Timestamp,
}

impl TokenRow {
    /// The row for a `[[token]]` of the provisioning file, created `now` if it is new.
    pub fn from_provisioned(t: &ProvisionedToken, now: Timestamp) -> Self {
        TokenRow {
            name: t.name.clone(),
            role: t.role,
            agent: t.agent.clone(),
            hash: t.hash,
            created_at: now,
        }
    }
}

/// A request for the audit log: who, what, when, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: Timestamp,
    /// The token's name (or what stands for the caller when authentication is off).
    pub token: String,
    pub role: Role,
    pub method: String,
    /// The request's path, without the query.
    pub path: String,
    pub status: u16,
}

/// An audit log entry as read back, with its place in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRow {
    pub id: i64,
    pub at: Timestamp,
    pub token: String,
    pub role: Role,
    pub method: String,
    pub path: String,
    pub status: u16,
}

const TOKEN_COLUMNS: &str = "name, role, agent_id, token_sha256, created_at";

fn token_row(row: &AnyRow) -> Result<TokenRow, StoreError> {
    let c = Columns::new(row, "api_tokens", "name");
    Ok(TokenRow {
        name: c.parsed("name", |s: &str| TokenName::new(s))?,
        role: c.parsed("role", str::parse::<Role>)?,
        agent: c.opt_parsed("agent_id", |s: &str| AgentId::new(s))?,
        hash: c.parsed("token_sha256", str::parse::<TokenHash>)?,
        created_at: Timestamp::from_millis(c.int("created_at")?),
    })
}

fn audit_row(row: &AnyRow) -> Result<AuditRow, StoreError> {
    let c = Columns::new(row, "audit_log", "id");
    Ok(AuditRow {
        id: c.int("id")?,
        at: Timestamp::from_millis(c.int("at")?),
        token: c.text("token_name")?,
        role: c.parsed("role", str::parse::<Role>)?,
        method: c.text("method")?,
        path: c.text("path")?,
        status: c.ranged("status")?,
    })
}

impl Store {
    /// Creates a token, or replaces the role, agent and digest of the one with its name (the
    /// provisioning file wins for the names it lists); a replaced token keeps its `created_at`.
    pub async fn upsert_token(&self, token: &TokenRow) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO api_tokens ({TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (name) DO UPDATE SET role = excluded.role, \
             agent_id = excluded.agent_id, token_sha256 = excluded.token_sha256"
        ))
        .bind(token.name.as_str())
        .bind(token.role.as_str())
        .bind(token.agent.as_ref().map(AgentId::as_str))
        .bind(token.hash.to_hex())
        .bind(token.created_at.as_millis())
        .execute(&self.pool)
        .await?;
        self.changed(super::Change::Tokens).await;
        Ok(())
    }

    /// Adds a token unless one with its name exists (`false` then, and nothing changes).
    pub async fn insert_token(&self, token: &TokenRow) -> Result<bool, StoreError> {
        let done = sqlx::query(&format!(
            "INSERT INTO api_tokens ({TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (name) DO NOTHING"
        ))
        .bind(token.name.as_str())
        .bind(token.role.as_str())
        .bind(token.agent.as_ref().map(AgentId::as_str))
        .bind(token.hash.to_hex())
        .bind(token.created_at.as_millis())
        .execute(&self.pool)
        .await?;
        self.changed(super::Change::Tokens).await;
        Ok(done.rows_affected() > 0)
    }

    /// Removes a token; `false` when there was none with this name. The audit log keeps its
    /// entries.
    pub async fn delete_token(&self, name: &TokenName) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM api_tokens WHERE name = $1")
            .bind(name.as_str())
            .execute(&self.pool)
            .await?;
        self.changed(super::Change::Tokens).await;
        Ok(done.rows_affected() > 0)
    }

    /// All tokens, by name.
    pub async fn list_tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens"))
            .fetch_all(&self.pool)
            .await?;
        let mut tokens = rows.iter().map(token_row).collect::<Result<Vec<_>, _>>()?;
        tokens.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(tokens)
    }

    /// The token whose digest this is, if any.
    pub async fn token_by_hash(&self, hash: &TokenHash) -> Result<Option<TokenRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_sha256 = $1"
        ))
        .bind(hash.to_hex())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(token_row).transpose()
    }

    /// Appends one entry to the audit log.
    pub async fn write_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_log (at, token_name, role, method, path, status) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(entry.at.as_millis())
        .bind(entry.token.as_str())
        .bind(entry.role.as_str())
        .bind(entry.method.as_str())
        .bind(entry.path.as_str())
        .bind(i64::from(entry.status))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The audit log, newest first: at most `limit` entries, from `since` on when given.
    pub async fn audit_entries(
        &self,
        since: Option<Timestamp>,
        limit: u32,
    ) -> Result<Vec<AuditRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, token_name, role, method, path, status FROM audit_log \
             WHERE at >= $1 ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(since.map_or(i64::MIN, Timestamp::as_millis))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(audit_row).collect()
    }
}
