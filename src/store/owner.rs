//! One controller per SQLite file: `serve` holds an exclusive lock on `<file>.lock` for its
//! whole life. SQLite itself would let two controllers share the file, each routing the same
//! calls; a standby needs PostgreSQL.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use rustix::fs::{flock, FlockOperation};

use super::StoreError;

/// Holds the lock until dropped (the process's end).
#[derive(Debug)]
pub struct SqliteOwner {
    _file: File,
}

/// The database file of a `sqlite:` URL; `None` for an in-memory database.
fn file_of(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.contains(":memory:") || url.contains("mode=memory") {
        return None;
    }
    Some(PathBuf::from(path))
}

/// Takes the controller lock of the SQLite database of `url` (nothing for another URL or an
/// in-memory database), or says which process holds it.
pub fn claim_sqlite(url: &str) -> Result<Option<SqliteOwner>, StoreError> {
    let Some(db) = file_of(url) else {
        return Ok(None);
    };
    let mut lock_path = db.clone().into_os_string();
    lock_path.push(".lock");
    let lock_path = PathBuf::from(lock_path);
    let io = |source: std::io::Error| StoreError::OwnerLock {
        file: lock_path.display().to_string(),
        source,
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(io)?;
    if flock(&file, FlockOperation::NonBlockingLockExclusive).is_err() {
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        return Err(StoreError::SecondController {
            file: display(&db),
            pid: holder.trim().chars().take(20).collect(),
        });
    }
    file.set_len(0).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    writeln!(file, "{}", std::process::id()).map_err(io)?;
    Ok(Some(SqliteOwner { _file: file }))
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_claim_on_one_file_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/a.db", dir.path().display());
        let first = claim_sqlite(&url).expect("first claim");
        assert!(first.is_some());
        let second = claim_sqlite(&url).expect_err("second claim");
        let text = second.to_string();
        assert!(text.contains("another controller is using"), "{text}");
        assert!(text.contains(&std::process::id().to_string()), "{text}");
        drop(first);
        assert!(claim_sqlite(&url).expect("claim after release").is_some());
    }

    #[test]
    fn in_memory_and_postgres_databases_need_no_claim() {
        assert!(claim_sqlite("sqlite::memory:").expect("memory").is_none());
        assert!(claim_sqlite("postgres://h/db").expect("pg").is_none());
    }
}
