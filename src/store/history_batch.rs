//! History batches written exactly once. A connection can be lost after the database received
//! COMMIT but before its answer came back; the writer cannot tell from the error whether the
//! batch is in. Each batch therefore writes its id into `history_writer` in its own
//! transaction, and the writer, after a failure, reads it back before writing the batch again.

use super::{Store, StoreError};
use crate::engine::Record;

impl Store {
    /// As [`Store::write`], also noting `batch` as the last batch written, in the same
    /// transaction (see [`Store::last_history_batch`]).
    pub async fn write_batch(&self, records: &[Record], batch: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        self.check_epoch(&mut tx).await?;
        let mut appends = super::appends::Appends::default();
        let mut announcements = super::announce::Announcements::default();
        for record in records {
            if super::history::apply(&mut tx, &mut appends, record).await? {
                announcements.announce(&mut tx, record).await?;
            }
        }
        appends.write(&mut tx).await?;
        announcements.write(&mut tx).await?;
        sqlx::query(
            "INSERT INTO history_writer (id, last_batch) VALUES (1, $1) \
             ON CONFLICT (id) DO UPDATE SET last_batch = excluded.last_batch",
        )
        .bind(batch)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The id of the last batch [`Store::write_batch`] committed, if any.
    pub async fn last_history_batch(&self) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT last_batch FROM history_writer WHERE id = 1")
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(batch,)| batch))
    }
}

impl StoreError {
    /// Whether trying again later may succeed: the database unreachable, restarting, busy or
    /// out of space, as opposed to a batch it will always refuse.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Connect { .. } => true,
            StoreError::Query(e) => match e {
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed => true,
                sqlx::Error::Database(db) => db.code().is_some_and(|code| transient_code(&code)),
                _ => false,
            },
            _ => false,
        }
    }
}

/// PostgreSQL: connection exceptions (08…), shutdown and start-up (57P01-57P03), too many
/// connections and other resource limits (53…), serialization failures and deadlocks.
/// SQLite (primary result codes): BUSY, LOCKED, IOERR, FULL.
fn transient_code(code: &str) -> bool {
    if code.starts_with("08") || code.starts_with("53") {
        return true;
    }
    if matches!(code, "57P01" | "57P02" | "57P03" | "40001" | "40P01") {
        return true;
    }
    code.parse::<u32>()
        .is_ok_and(|n| matches!(n & 0xff, 5 | 6 | 10 | 13))
}

#[cfg(test)]
mod tests {
    use super::transient_code;

    #[test]
    fn a_restarting_or_busy_database_is_transient_and_a_constraint_is_not() {
        assert!(transient_code("57P01"));
        assert!(transient_code("08006"));
        assert!(transient_code("5"));
        assert!(transient_code("517"));
        assert!(transient_code("13"));
        assert!(!transient_code("23505"));
        assert!(!transient_code("2067"));
        assert!(!transient_code("19"));
    }
}
