//! Persistence: provisioning (queues, agents, pause reasons, API tokens), the append-only
//! history (calls, queue events, agent state changes, IVR sessions and their steps) and the
//! audit log, in SQLite or PostgreSQL through sqlx.
//!
//! This is the only module that speaks SQL. One set of runtime queries serves both backends
//! (ids as `TEXT`, timestamps as `BIGINT` unix milliseconds, `$n` placeholders); each backend has
//! its own migrations, applied on connect. The store makes no decisions: it keeps what the
//! engine reports and hands it back, validated into the engine's types.
//!
//! Why `sqlx::AnyPool` rather than an enum of `SqlitePool`/`PgPool`: every query exists once,
//! and the `Any` driver's limited type set (integers, text, null) is all the schema uses. The
//! price is that backend-specific connection settings go through the URL or SQL (WAL below;
//! SQLite foreign keys are on by sqlx's default, which the conformance suite checks).

mod after_call;
mod announce;
mod appends;
mod history;
mod history_batch;
mod hold;
mod hold_events;
mod leadership;
mod migrations;
mod monitor;
mod multi_row;
mod outbox;
mod owner;
mod provisioning;
mod queue_visits;
mod recordings;
pub mod reports;
mod restart;
mod retention;
mod rows;
mod tokens;
// Call search with filters and a cursor (`GET /v1/calls?...`).
mod call_search;

use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::{Any, AnyPool, Executor, Transaction};
use thiserror::Error;

use crate::config::redact_url;
use crate::engine::CallId;

pub use after_call::PendingAfterCall;
pub use call_search::{CallCursor, CallSearch, CallSearchPage, NumberFilter, OutcomeFilter};
pub use leadership::{
    controller_url, Change, ChangeListener, LeaderConnection, LeadershipRow, CHANGES_CHANNEL,
};
pub use monitor::MonitorEventRow;
pub use outbox::{
    AttemptResult, DeliveryClass, DeliveryFilter, DeliveryRow, DeliveryStatus, EventFilter,
    EventMark, StoredEvent, Subscription, EVENT_TYPES,
};
pub use owner::{claim_sqlite, SqliteOwner};
pub use queue_visits::{AgentBucketRow, QueueBucketRow};
pub use recordings::{
    intervals, ConsentRow, EvaluationRow, NewEvaluation, RecordingChangeRow, RecordingCursor,
    RecordingDetail, RecordingInterval, RecordingPage, RecordingRow, RecordingSearch,
    RecordingStatus,
};
pub use restart::FlowPlace;
pub use retention::{
    CallErasure, CallOfCaller, DataRemovalRow, ErasedRows, HoldFilter, HoldPlaced, HoldState,
    HoldTarget, LegalHoldRow, RecordingFile, Removal, RemovalFilter, RemovalKind, ERASED_DELIVERY,
};
pub use rows::{
    AgentRow, AgentStateRow, CallRow, FlowExitRow, FlowSessionRow, FlowSessionSummary, FlowStepRow,
    PauseReasonRow, QueueEventRow, QueueRow, SurveyRow,
};
pub use tokens::{AuditEntry, AuditRow, TokenRow};

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("unsupported database URL {url:?}: expected sqlite://<path> or postgres://…")]
    UnsupportedUrl { url: String },
    #[error("cannot open the database {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot apply the database migrations: {0}")]
    Migrate(#[from] MigrateError),
    #[error("database query failed: {0}")]
    Query(#[from] sqlx::Error),
    #[error("cannot encode a value for the database: {0}")]
    Encode(#[source] serde_json::Error),
    /// A record that completes a call (`CallAnswered`, `CallEnded`) or a flow session
    /// (`FlowEnded`) names one the history does not have; the whole batch is rejected.
    #[error("{record} for call {call}, which is not in the history")]
    UnknownCall { call: CallId, record: &'static str },
    /// A stored row does not decode into the engine's types.
    #[error("corrupt row in {table} (id {id}): {reason}")]
    Corrupt {
        table: &'static str,
        id: String,
        reason: String,
    },
    /// A history batch of a leader whose epoch has ended (another controller took over).
    #[error("this controller's leadership (epoch {mine}) ended: epoch {current} leads")]
    Deposed { mine: i64, current: i64 },
    #[error(
        "another controller is using {file} (pid {pid}); SQLite allows one controller: use \
         PostgreSQL for a standby"
    )]
    SecondController { file: String, pid: String },
    #[error("cannot lock {file}: {source}")]
    OwnerLock {
        file: String,
        #[source]
        source: std::io::Error,
    },
}

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Backend, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl {
                url: redact_url(url),
            })
        }
    }
}

/// A handle on the database; cheap to clone (it shares one pool).
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The leadership epoch history batches must belong to (see [`Store::fenced`]).
    epoch: Option<i64>,
}

impl Store {
    /// Opens `sqlite://path` (creating the file if missing, in WAL mode, foreign keys on) or
    /// `postgres://…`, and applies the backend's pending migrations.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let connect_error = |source| StoreError::Connect {
            url: redact_url(url),
            source,
        };
        let pool = match backend {
            Backend::Sqlite if is_in_memory(url) => {
                // Every connection to `:memory:` is its own empty database: keep exactly one,
                // forever.
                AnyPoolOptions::new()
                    .min_connections(1)
                    .max_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .connect(url)
                    .await
                    .map_err(connect_error)?
            }
            Backend::Sqlite => {
                let pool = AnyPoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(Duration::from_secs(10))
                    // A write waits for the one running instead of failing with "database is
                    // locked" (the Any driver cannot set it through its options).
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute(SQLITE_BUSY_TIMEOUT).await?;
                            Ok(())
                        })
                    })
                    .connect(&with_create_mode(url))
                    .await
                    .map_err(connect_error)?;
                // WAL is a property of the file, set once: readers (REST) never wait for the
                // writer (the engine's history batches).
                sqlx::query("PRAGMA journal_mode = WAL")
                    .execute(&pool)
                    .await
                    .map_err(connect_error)?;
                pool
            }
            Backend::Postgres => AnyPoolOptions::new()
                .max_connections(10)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await
                .map_err(connect_error)?,
        };
        let store = Store {
            pool,
            backend,
            epoch: None,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the pending migrations; a no-op when the schema is current. `connect` already
    /// calls it. On PostgreSQL it holds an advisory lock, so controllers starting together do
    /// not race.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let embedded = match self.backend {
            Backend::Sqlite => migrations::SQLITE,
            Backend::Postgres => migrations::POSTGRES,
        };
        let migrator = Migrator::new(migrations::EmbeddedMigrations(embedded)).await?;
        migrator.run(&self.pool).await?;
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Begins a transaction that writes. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`), waiting up to the busy timeout for a writer that holds it: a deferred
    /// transaction that reads first and writes later would fail with "database is locked" as
    /// soon as another writer committed in between, without waiting.
    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, Any>, StoreError> {
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(tx)
    }

    /// Waits for the pool's connections to close.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Whether the database answers a trivial query (for `/readyz` and `/metrics`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// How long a SQLite write waits for another to finish before it fails: long enough for any
/// history batch or erasure, short enough to surface a stuck writer.
const SQLITE_BUSY_TIMEOUT: &str = "PRAGMA busy_timeout = 30000";

fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// `sqlite://path` opens an existing file only; ask for it to be created unless the URL already
/// says which mode it wants.
fn with_create_mode(url: &str) -> String {
    if url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_ask_for_the_file_to_be_created() {
        assert_eq!(with_create_mode("sqlite://a.db"), "sqlite://a.db?mode=rwc");
        assert_eq!(
            with_create_mode("sqlite://a.db?cache=shared"),
            "sqlite://a.db?cache=shared&mode=rwc"
        );
        assert_eq!(
            with_create_mode("sqlite://a.db?mode=ro"),
            "sqlite://a.db?mode=ro"
        );
    }

    #[test]
    fn only_sqlite_and_postgres_urls_are_accepted() {
        assert_eq!(
            Backend::from_url("sqlite://x.db").ok(),
            Some(Backend::Sqlite)
        );
        assert_eq!(
            Backend::from_url("postgresql://u@h/db").ok(),
            Some(Backend::Postgres)
        );
        let err = Backend::from_url("mysql://u:pw@h/db")
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("u:***@h") && !e.contains("pw")));
    }
}
