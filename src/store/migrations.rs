//! The schema versions of each backend, embedded in the binary and applied with sqlx's
//! migrator (which records them, with checksums, in `_sqlx_migrations`).

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType};

/// `(version, description, sql)`; the file is `migrations/<backend>/<version>_<description>.sql`.
type Embedded = (i64, &'static str, &'static str);

pub(super) const SQLITE: &[Embedded] = &[
    (
        1,
        "initial",
        include_str!("../../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        "routing",
        include_str!("../../migrations/sqlite/0002_routing.sql"),
    ),
    (
        3,
        "pause_reasons",
        include_str!("../../migrations/sqlite/0003_pause_reasons.sql"),
    ),
    (
        4,
        "agent_pins",
        include_str!("../../migrations/sqlite/0004_agent_pins.sql"),
    ),
    (
        5,
        "flows",
        include_str!("../../migrations/sqlite/0005_flows.sql"),
    ),
    (
        6,
        "surveys",
        include_str!("../../migrations/sqlite/0006_surveys.sql"),
    ),
    (
        7,
        "tokens_audit",
        include_str!("../../migrations/sqlite/0007_tokens_audit.sql"),
    ),
    (
        8,
        "webhooks",
        include_str!("../../migrations/sqlite/0008_webhooks.sql"),
    ),
    (
        9,
        "recordings",
        include_str!("../../migrations/sqlite/0009_recordings.sql"),
    ),
    (
        10,
        "restart_state",
        include_str!("../../migrations/sqlite/0010_restart_state.sql"),
    ),
    (
        11,
        "leadership",
        include_str!("../../migrations/sqlite/0011_leadership.sql"),
    ),
    (
        12,
        "history_writer",
        include_str!("../../migrations/sqlite/0012_history_writer.sql"),
    ),
    (
        13,
        "hold",
        include_str!("../../migrations/sqlite/0013_hold.sql"),
    ),
    (
        14,
        "queue_visits",
        include_str!("../../migrations/sqlite/0014_queue_visits.sql"),
    ),
    (
        15,
        "call_search",
        include_str!("../../migrations/sqlite/0015_call_search.sql"),
    ),
    (
        16,
        "monitoring",
        include_str!("../../migrations/sqlite/0016_monitoring.sql"),
    ),
    (
        17,
        "after_call",
        include_str!("../../migrations/sqlite/0017_after_call.sql"),
    ),
];

pub(super) const POSTGRES: &[Embedded] = &[
    (
        1,
        "initial",
        include_str!("../../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "routing",
        include_str!("../../migrations/postgres/0002_routing.sql"),
    ),
    (
        3,
        "pause_reasons",
        include_str!("../../migrations/postgres/0003_pause_reasons.sql"),
    ),
    (
        4,
        "agent_pins",
        include_str!("../../migrations/postgres/0004_agent_pins.sql"),
    ),
    (
        5,
        "flows",
        include_str!("../../migrations/postgres/0005_flows.sql"),
    ),
    (
        6,
        "surveys",
        include_str!("../../migrations/postgres/0006_surveys.sql"),
    ),
    (
        7,
        "tokens_audit",
        include_str!("../../migrations/postgres/0007_tokens_audit.sql"),
    ),
    (
        8,
        "webhooks",
        include_str!("../../migrations/postgres/0008_webhooks.sql"),
    ),
    (
        9,
        "recordings",
        include_str!("../../migrations/postgres/0009_recordings.sql"),
    ),
    (
        10,
        "restart_state",
        include_str!("../../migrations/postgres/0010_restart_state.sql"),
    ),
    (
        11,
        "leadership",
        include_str!("../../migrations/postgres/0011_leadership.sql"),
    ),
    (
        12,
        "history_writer",
        include_str!("../../migrations/postgres/0012_history_writer.sql"),
    ),
    (
        13,
        "hold",
        include_str!("../../migrations/postgres/0013_hold.sql"),
    ),
    (
        14,
        "queue_visits",
        include_str!("../../migrations/postgres/0014_queue_visits.sql"),
    ),
    (
        15,
        "call_search",
        include_str!("../../migrations/postgres/0015_call_search.sql"),
    ),
    (
        16,
        "monitoring",
        include_str!("../../migrations/postgres/0016_monitoring.sql"),
    ),
    (
        17,
        "after_call",
        include_str!("../../migrations/postgres/0017_after_call.sql"),
    ),
];

/// A `MigrationSource` over embedded files, standing in for `sqlx::migrate!` (a macro we do not
/// build: the crate compiles sqlx without its `macros` feature).
#[derive(Debug)]
pub(super) struct EmbeddedMigrations(pub(super) &'static [Embedded]);

impl MigrationSource<'static> for EmbeddedMigrations {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 'static>> {
        let migrations = self
            .0
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    Cow::Borrowed(sql),
                    false,
                )
            })
            .collect();
        Box::pin(std::future::ready(Ok(migrations)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_disk(backend: &str) -> Vec<(i64, String)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(backend);
        let mut found: Vec<(i64, String)> = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter_map(|name| {
                        let stem = name.strip_suffix(".sql")?;
                        let (version, description) = stem.split_once('_')?;
                        Some((version.parse().ok()?, description.to_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        found
    }

    fn embedded(list: &[Embedded]) -> Vec<(i64, String)> {
        list.iter().map(|&(v, d, _)| (v, d.to_owned())).collect()
    }

    #[test]
    fn every_migration_file_is_embedded_and_both_backends_share_versions() {
        assert_eq!(embedded(SQLITE), on_disk("sqlite"));
        assert_eq!(embedded(POSTGRES), on_disk("postgres"));
        assert_eq!(embedded(SQLITE), embedded(POSTGRES));
    }
}
