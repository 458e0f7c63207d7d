//! The leadership of a controller pair on PostgreSQL: the advisory lock, the one-row
//! `leadership` table (epoch, leader, lease in database time), the epoch check of history
//! batches, and the change notifications that keep the other controller's memory current.
//!
//! The lock lives on a connection of its own ([`LeaderConnection`]), never on the pool: a
//! pooled connection goes back to the pool and the lock with it. Lease times are the database's
//! own clock (`clock_timestamp()`), so the two controllers never compare their clocks.

use std::time::Duration;

use sqlx::postgres::{PgConnection, PgListener};
use sqlx::{Connection, Row};

use super::{Backend, Store, StoreError};
use crate::config::redact_url;

/// The advisory lock key of the leadership ("SWBD"); within the database's own lock space.
const LOCK_KEY: i64 = 0x5357_4244;

/// The channel the controllers LISTEN on.
pub const CHANGES_CHANNEL: &str = "switchboard_changes";

/// What changed, as a notification names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Tokens,
    PauseReasons,
    Subscriptions,
    Agents,
    Flows,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Tokens => "tokens",
            Change::PauseReasons => "pause_reasons",
            Change::Subscriptions => "subscriptions",
            Change::Agents => "agents",
            Change::Flows => "flows",
        }
    }

    pub fn parse(payload: &str) -> Option<Change> {
        [
            Change::Tokens,
            Change::PauseReasons,
            Change::Subscriptions,
            Change::Agents,
            Change::Flows,
        ]
        .into_iter()
        .find(|c| c.as_str() == payload)
    }
}

/// The `leadership` row as a controller reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadershipRow {
    pub epoch: i64,
    pub leader: String,
    pub advertise_url: String,
    /// The leader process's `application_name` (see [`controller_url`]).
    pub session: String,
    /// `lease_until` is past by database time (or was never set).
    pub lease_expired: bool,
}

/// A dedicated PostgreSQL connection that takes, holds and renews the leadership.
pub struct LeaderConnection {
    conn: PgConnection,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl LeaderConnection {
    pub async fn connect(url: &str) -> Result<LeaderConnection, StoreError> {
        let conn = PgConnection::connect(url)
            .await
            .map_err(|source| StoreError::Connect {
                url: redact_url(url),
                source,
            })?;
        Ok(LeaderConnection { conn })
    }

    /// Takes the advisory lock if no one holds it; held until this connection closes.
    pub async fn try_lock(&mut self) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT pg_try_advisory_lock($1)")
            .bind(LOCK_KEY)
            .fetch_one(&mut self.conn)
            .await?;
        Ok(row.try_get::<bool, _>(0)?)
    }

    pub async fn read(&mut self) -> Result<LeadershipRow, StoreError> {
        let row = sqlx::query(
            "SELECT epoch, leader, advertise_url, session, \
             (lease_until IS NULL OR lease_until <= clock_timestamp()) AS expired \
             FROM leadership WHERE id = 1",
        )
        .fetch_one(&mut self.conn)
        .await?;
        Ok(LeadershipRow {
            epoch: row.try_get("epoch")?,
            leader: row.try_get("leader")?,
            advertise_url: row.try_get("advertise_url")?,
            session: row.try_get("session")?,
            lease_expired: row.try_get("expired")?,
        })
    }

    /// Becomes the leader (the lock must be held): the next epoch, with this controller's name,
    /// URL and a fresh lease. Returns the new epoch.
    pub async fn claim(
        &mut self,
        name: &str,
        advertise_url: &str,
        lease: Duration,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "UPDATE leadership SET epoch = epoch + 1, leader = $1, advertise_url = $2, \
             session = current_setting('application_name'), \
             lease_until = clock_timestamp() + $3 * INTERVAL '1 millisecond' \
             WHERE id = 1 RETURNING epoch",
        )
        .bind(name)
        .bind(advertise_url)
        .bind(millis(lease))
        .fetch_one(&mut self.conn)
        .await?;
        Ok(row.try_get("epoch")?)
    }

    /// Extends the lease of `epoch`; `false` when another epoch has begun.
    pub async fn renew(&mut self, epoch: i64, lease: Duration) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE leadership SET lease_until = clock_timestamp() + $2 * INTERVAL '1 millisecond' \
             WHERE id = 1 AND epoch = $1",
        )
        .bind(epoch)
        .bind(millis(lease))
        .execute(&mut self.conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends the lease of `epoch` now (a clean stop), so the standby need not wait it out.
    pub async fn release(&mut self, epoch: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE leadership SET lease_until = clock_timestamp() WHERE id = 1 AND epoch = $1",
        )
        .bind(epoch)
        .execute(&mut self.conn)
        .await?;
        Ok(())
    }

    /// Ends the database sessions of a leader whose lease ran out but whose lock lives on
    /// (paused, hung or cut off): the lock holder's and every other session of the same
    /// controller (its `application_name`, see [`controller_url`]), whose open transaction
    /// could otherwise hold the leadership row and block the takeover. Returns how many.
    pub async fn evict_holder(&mut self) -> Result<u64, StoreError> {
        let rows = sqlx::query(
            "WITH holders AS ( \
               SELECT l.pid, a.application_name FROM pg_locks l \
               JOIN pg_stat_activity a ON a.pid = l.pid \
               WHERE l.locktype = 'advisory' AND l.classid = 0 AND l.objid::bigint = $1 \
               AND l.objsubid = 1 AND l.granted AND l.pid <> pg_backend_pid() \
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())) \
             SELECT pg_terminate_backend(s.pid) FROM pg_stat_activity s \
             WHERE s.pid <> pg_backend_pid() AND s.datname = current_database() \
             AND (s.pid IN (SELECT pid FROM holders) \
                  OR s.application_name IN \
                     (SELECT application_name FROM holders WHERE application_name LIKE 'switchboard %'))",
        )
        .bind(LOCK_KEY)
        .fetch_all(&mut self.conn)
        .await?;
        Ok(rows.len() as u64)
    }
}

impl LeaderConnection {
    /// Ends every session of the previous leader process (its lease has run out, so it no longer
    /// commands), so that none of its open transactions holds up the claim. Returns how many.
    pub async fn end_sessions_of(&mut self, session: &str) -> Result<u64, StoreError> {
        if !session.starts_with("switchboard ") {
            return Ok(0);
        }
        let rows = sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = $1 AND pid <> pg_backend_pid() \
             AND datname = current_database()",
        )
        .bind(session)
        .fetch_all(&mut self.conn)
        .await?;
        Ok(rows.len() as u64)
    }
}

/// `url` with an `application_name` naming this controller process (unless the URL names
/// one), so that a standby can end every session of a leader it replaces.
pub fn controller_url(url: &str, name: &str) -> String {
    if url.contains("application_name=") {
        return url.to_owned();
    }
    let safe: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(32)
        .collect();
    let instance = uuid::Uuid::new_v4().simple().to_string();
    let separator = if url.contains('?') { '&' } else { '?' };
    format!(
        "{url}{separator}application_name=switchboard%20{safe}%20{}",
        &instance[..12]
    )
}

/// Listens for [`Change`]s made by any controller of the database.
pub struct ChangeListener {
    listener: PgListener,
}

impl ChangeListener {
    pub async fn connect(url: &str) -> Result<ChangeListener, StoreError> {
        let mut listener =
            PgListener::connect(url)
                .await
                .map_err(|source| StoreError::Connect {
                    url: redact_url(url),
                    source,
                })?;
        listener.listen(CHANGES_CHANNEL).await?;
        Ok(ChangeListener { listener })
    }

    /// The next change; `None` for a payload this version does not know. After a lost
    /// connection the listener reconnects by itself (notifications in between are lost:
    /// [`ChangeListener::recv`] returns `Err`, and the caller reloads everything).
    pub async fn recv(&mut self) -> Result<Option<Change>, StoreError> {
        let notification = self.listener.recv().await?;
        Ok(Change::parse(notification.payload()))
    }
}

impl Store {
    /// Tells every controller listening (PostgreSQL) that `what` changed. A notification that
    /// cannot be sent is not an error of the change itself: the other controller reads the
    /// table again when it takes over.
    pub async fn changed(&self, what: Change) {
        if self.backend != Backend::Postgres {
            return;
        }
        let _ = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANGES_CHANNEL)
            .bind(what.as_str())
            .execute(&self.pool)
            .await;
    }

    /// A handle whose history batches are written only while `epoch` is the database's: a
    /// deposed leader's batches are refused.
    pub fn fenced(&self, epoch: i64) -> Store {
        Store {
            epoch: Some(epoch),
            ..self.clone()
        }
    }

    /// Inside a history transaction: the batch belongs to the current epoch. `FOR SHARE` makes a
    /// takeover's epoch bump wait for this batch's commit, so no batch of an old epoch commits
    /// after a new one began.
    pub(super) async fn check_epoch(
        &self,
        conn: &mut sqlx::AnyConnection,
    ) -> Result<(), StoreError> {
        let Some(mine) = self.epoch else {
            return Ok(());
        };
        let row = sqlx::query("SELECT epoch FROM leadership WHERE id = 1 FOR SHARE")
            .fetch_one(&mut *conn)
            .await?;
        let current: i64 = row.try_get("epoch")?;
        if current != mine {
            return Err(StoreError::Deposed { mine, current });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_reads_back_from_its_payload() {
        for change in [
            Change::Tokens,
            Change::PauseReasons,
            Change::Subscriptions,
            Change::Agents,
            Change::Flows,
        ] {
            assert_eq!(Change::parse(change.as_str()), Some(change));
        }
        assert_eq!(Change::parse("queues?"), None);
    }

    #[test]
    fn each_controller_process_gets_an_application_name_of_its_own() {
        let a = controller_url("postgres://u@h/db", "a b");
        let b = controller_url("postgres://u@h/db", "a b");
        assert!(a.starts_with("postgres://u@h/db?application_name=switchboard%20ab%20"));
        assert_ne!(a, b);
        assert!(
            controller_url("postgres://h/db?sslmode=require", "a").contains("&application_name=")
        );
        assert_eq!(
            controller_url("postgres://h/db?application_name=x", "a"),
            "postgres://h/db?application_name=x"
        );
    }
}
