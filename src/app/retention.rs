//! Retention and erasure: the scheduled purge of recordings whose retention has passed, and the
//! erasure of what Switchboard keeps about a caller number (GDPR Art. 17). Both delete the
//! files they can reach through the controller's mount of each switch's recordings folder, then
//! the metadata, and leave an audit row per removal in `data_removals`.
//!
//! A file is deleted before its rows, each recording on its own: a crash in between leaves rows
//! whose file is gone, which the next pass finds "already missing" and finishes. A file that
//! cannot be deleted (permissions, a mount that cannot be read) keeps its rows, so the next
//! pass tries again, and is reported and logged; a switch without a mount cannot be reached at
//! all, so its recordings' rows go and the audit says the file was left on the switch.
//! Legal holds are checked when recordings are chosen, again just before each file is
//! deleted, and once more in the transaction that deletes the rows.
//!
//! The purge runs every `[recordings] purge_every` on a task of its own, in batches, reading
//! the app's clock; `POST /v1/recordings/purge` runs one pass at once.
//!
//! An erasure is all or nothing: every file is looked at first (a mount that cannot be read,
//! a path that leads out of it: that recording is kept, rows and file, and reported), then all
//! its rows go in one transaction with their audit rows and the request's summary, and only
//! after the commit are the files deleted. A failed transaction leaves every row and every
//! file as it was. A file that cannot be deleted after the commit (rare: it was checked just
//! before) is reported in `files_not_deleted`, logged with its path, and has an audit row of
//! its own; the audit written in the transaction says `"file": "delete_after_commit"`, never
//! that a file was deleted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use tracing::{debug, info, warn};

use super::clock::Clock;
use crate::api::RecordingMounts;
use crate::engine::recording::is_safe_relative_path;
use crate::engine::{RecordingId, SwitchName, Timestamp};
use crate::store::{
    ErasedRows, RecordingFile, RecordingStatus, Removal, RemovalKind, Store, StoreError,
};

/// Recordings read and removed per batch: a pass goes through every due recording, a batch at
/// a time, so neither memory nor one query grows with the backlog.
pub const BATCH: u32 = 500;

/// A report lists at most this many of the recordings it had to keep.
const MAX_KEPT_SHOWN: usize = 100;

/// The actor of the scheduled purge's removals (a purge run over REST names its token).
pub const SCHEDULED: &str = "retention";

/// A recording whose file could not be deleted: its metadata is kept for the next pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct KeptRecording {
    pub recording: String,
    pub error: String,
}

/// What one purge pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct PurgeReport {
    /// Recordings whose metadata was removed (with their file, where it could be reached).
    pub recordings_removed: u64,
    /// Files deleted through the controller's mount.
    pub files_deleted: u64,
    /// Files that were already gone.
    pub files_missing: u64,
    /// Files on a switch without a `recordings_mount`: left there, their metadata removed.
    pub files_unreachable: u64,
    /// Recordings whose retention has passed but which a legal hold keeps.
    pub recordings_held: u64,
    /// Recordings whose file could not be deleted: kept, tried again at the next pass.
    pub recordings_kept: u64,
    /// The first of them (at most 100), with why.
    pub kept: Vec<KeptRecording>,
}

/// What an erasure removed for a caller number, and what it could not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ErasureReport {
    /// The SHA-256 (hex) of the number: how the audit names it.
    pub subject: String,
    /// Recordings removed, metadata and (where reachable) file.
    pub recordings_removed: u64,
    /// Recordings a legal hold (on them or their call) keeps.
    pub recordings_held: u64,
    /// Recordings still being made: not removed; erase again after the call.
    pub recordings_in_progress: u64,
    pub files_deleted: u64,
    pub files_missing: u64,
    /// Files on a switch without a `recordings_mount`: left there, their metadata removed.
    pub files_unreachable: u64,
    /// Recordings whose file could not be deleted: kept; erase again.
    pub recordings_kept: u64,
    /// The first of them (at most 100), with why.
    pub kept: Vec<KeptRecording>,
    /// Files of erased recordings that could not be deleted after the rows were: logged
    /// with their path, to be deleted by hand.
    pub files_not_deleted: Vec<KeptRecording>,
    /// Calls of the number in the history (queue or IVR).
    pub calls: u64,
    /// Calls a legal hold keeps as they are.
    pub calls_held: u64,
    /// Calls not over yet: what they keep from now on is not erased; erase again after them.
    pub calls_in_progress: u64,
    /// IVR sessions whose variables (what the caller entered, what the CRM returned) were
    /// cleared.
    pub ivr_sessions_cleared: u64,
    /// IVR and survey steps whose keyed digits were cleared.
    pub ivr_steps_cleared: u64,
    /// Post-call surveys whose answers were cleared.
    pub surveys_cleared: u64,
    /// Pending webhook deliveries given up (dead, "erased"): the CRM never gets them.
    pub webhook_deliveries_cancelled: u64,
    /// Stored CTI event payloads replaced by a stub: every event of the erased calls, the
    /// event stream's replay and delivered deliveries included.
    pub webhook_payloads_removed: u64,
    /// History rows (`calls`, `flow_sessions`) whose caller number and name became the
    /// pseudonym `erased:` + the first 16 hex digits of `subject` (calls in progress keep the
    /// number until they end: erase again then).
    pub calls_pseudonymised: u64,
}

/// What became of a recording's file.
#[derive(Debug, Clone, PartialEq, Eq)]
enum FileOutcome {
    Deleted,
    AlreadyMissing,
    /// A declined recording: there never was a file.
    NoFile,
    /// The switch has no mount on the controller.
    NotReachable,
    Failed(String),
}

impl FileOutcome {
    fn as_str(&self) -> &'static str {
        match self {
            FileOutcome::Deleted => "deleted",
            FileOutcome::AlreadyMissing => "already_missing",
            FileOutcome::NoFile => "no_file",
            FileOutcome::NotReachable => "not_reachable",
            FileOutcome::Failed(_) => "error",
        }
    }
}

/// The SHA-256 (hex) of a caller number: what the audit keeps instead of the number.
pub fn subject_of(caller_number: &str) -> String {
    Sha256::digest(caller_number.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The recording's file on the controller, if its switch has a mount and its path stays
/// below it.
fn file_path(mounts: &RecordingMounts, file: &RecordingFile) -> Result<PathBuf, FileOutcome> {
    let Some(relative) = &file.relative_path else {
        return Err(FileOutcome::NoFile);
    };
    let Some(mount) = mounts.get(&file.switch) else {
        return Err(FileOutcome::NotReachable);
    };
    if !is_safe_relative_path(relative) {
        return Err(FileOutcome::Failed(format!(
            "the stored path {relative:?} could leave the recordings folder: not deleted"
        )));
    }
    Ok(mount.join(relative))
}

/// Whether the file's folder, links resolved, is still under the mount's resolved path `root`:
/// a linked folder on the share must not make the purge delete a file elsewhere. A folder
/// already gone is fine (so is the file, then).
async fn stays_under_mount(root: &Path, path: &Path) -> Result<(), String> {
    let Some(folder) = path.parent() else {
        return Ok(());
    };
    match tokio::fs::canonicalize(folder).await {
        Ok(real) if real.starts_with(root) => Ok(()),
        Ok(real) => Err(format!(
            "{} leads out of the mount (to {}): not deleted",
            path.display(),
            real.display()
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot resolve {}: {e}", folder.display())),
    }
}

/// One pass's state: what became of each file so far, and each mount's health, looked at
/// once per pass (a mount that is down must not pass for files that are gone, nor flood the
/// log with one warning per recording).
struct Pass<'a> {
    mounts: &'a RecordingMounts,
    /// Each mount's resolved path, or why it cannot be read.
    mount_health: HashMap<SwitchName, Result<PathBuf, String>>,
    removed: u64,
    deleted: u64,
    missing: u64,
    unreachable: u64,
    kept: Vec<KeptRecording>,
    kept_count: u64,
}

impl<'a> Pass<'a> {
    fn new(mounts: &'a RecordingMounts) -> Self {
        Self {
            mounts,
            mount_health: HashMap::new(),
            removed: 0,
            deleted: 0,
            missing: 0,
            unreachable: 0,
            kept: Vec::new(),
            kept_count: 0,
        }
    }

    /// The resolved path of the switch's mount, looked at once per pass.
    async fn mount_root(&mut self, switch: &SwitchName, mount: &Path) -> Result<PathBuf, String> {
        if let Some(health) = self.mount_health.get(switch) {
            return health.clone();
        }
        let health = match tokio::fs::metadata(mount).await {
            Ok(meta) if meta.is_dir() => tokio::fs::canonicalize(mount)
                .await
                .map_err(|e| format!("the mount {} cannot be read: {e}", mount.display())),
            Ok(_) => Err(format!("the mount {} is not a folder", mount.display())),
            Err(e) => Err(format!("the mount {} cannot be read: {e}", mount.display())),
        };
        if let Err(error) = &health {
            warn!(switch = %switch.as_str(), %error, "recordings of this switch are kept until its mount can be read");
        }
        self.mount_health.insert(switch.clone(), health.clone());
        health
    }

    /// The file of a recording, checked for deletion: its mount can be read and its path
    /// stays under it.
    async fn checked_path(&mut self, file: &RecordingFile) -> Result<PathBuf, FileOutcome> {
        let path = file_path(self.mounts, file)?;
        let Some(mount) = self.mounts.get(&file.switch) else {
            return Err(FileOutcome::NotReachable);
        };
        let root = self
            .mount_root(&file.switch, mount)
            .await
            .map_err(FileOutcome::Failed)?;
        stays_under_mount(&root, &path)
            .await
            .map_err(FileOutcome::Failed)?;
        Ok(path)
    }

    /// What an erasure will do with a recording's file, decided before its transaction:
    /// `Ok(Some(path))` to delete after the commit, `Ok(None)` with the outcome already known
    /// (no file, missing, unreachable), `Err` when it cannot be deleted (the recording is kept).
    async fn plan_file(
        &mut self,
        file: &RecordingFile,
    ) -> Result<(Option<PathBuf>, FileOutcome), String> {
        let path = match self.checked_path(file).await {
            Ok(path) => path,
            Err(FileOutcome::Failed(error)) => return Err(error),
            Err(outcome) => return Ok((None, outcome)),
        };
        match tokio::fs::symlink_metadata(&path).await {
            Ok(_) => Ok((Some(path), FileOutcome::Deleted)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok((None, FileOutcome::AlreadyMissing))
            }
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// Records a recording kept because its file cannot be deleted.
    fn keep(&mut self, file: &RecordingFile, error: String) {
        debug!(recording = %file.recording, %error, "a recording's file cannot be deleted");
        self.kept_count += 1;
        if self.kept.len() < MAX_KEPT_SHOWN {
            self.kept.push(KeptRecording {
                recording: file.recording.to_string(),
                error,
            });
        }
    }

    async fn delete_file(&mut self, file: &RecordingFile) -> FileOutcome {
        let path = match self.checked_path(file).await {
            Ok(path) => path,
            Err(outcome) => return outcome,
        };
        match tokio::fs::remove_file(&path).await {
            Ok(()) => FileOutcome::Deleted,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => FileOutcome::AlreadyMissing,
            Err(e) => FileOutcome::Failed(format!("cannot delete {}: {e}", path.display())),
        }
    }

    /// Deletes a recording's file, then its rows with the audit row `removal` (its detail
    /// filled in here). `false` when it was not removed because a hold now covers it (or
    /// another pass removed it first).
    async fn remove(
        &mut self,
        store: &Store,
        file: &RecordingFile,
        mut removal: Removal,
    ) -> Result<bool, StoreError> {
        if store.is_held(file.recording, file.call).await? {
            return Ok(false);
        }
        let outcome = self.delete_file(file).await;
        if let FileOutcome::Failed(error) = outcome {
            self.keep(file, error);
            return Ok(true);
        }
        removal.recording = Some(file.recording);
        removal.call = Some(file.call);
        removal.detail = json!({
            "file": outcome.as_str(),
            "switch": file.switch.as_str(),
            "relative_path": file.relative_path,
            "status": file.status.as_str(),
            "retain_until": file.retain_until,
        });
        if !store.remove_recording(file.recording, &removal).await? {
            return Ok(false);
        }
        self.removed += 1;
        match outcome {
            FileOutcome::Deleted => self.deleted += 1,
            FileOutcome::AlreadyMissing => self.missing += 1,
            FileOutcome::NotReachable => self.unreachable += 1,
            FileOutcome::NoFile | FileOutcome::Failed(_) => {}
        }
        Ok(true)
    }

    /// Logs the files that could not be deleted, once for the pass.
    fn warn_kept(&self) {
        if let Some(first) = self.kept.first() {
            warn!(
                kept = self.kept_count,
                first = %first.error,
                "recordings' files could not be deleted; their metadata is kept and the next \
                 pass tries again"
            );
        }
    }
}

/// One purge pass at `now`: every recording whose retention has passed, that is not being
/// recorded and that no legal hold keeps. `actor` names who ran it in the audit.
pub async fn purge(
    store: &Store,
    mounts: &RecordingMounts,
    now: Timestamp,
    actor: &str,
) -> Result<PurgeReport, StoreError> {
    let mut pass = Pass::new(mounts);
    let mut after = None;
    loop {
        let batch = store.due_recordings(now, after, BATCH).await?;
        for file in &batch {
            let removal = Removal {
                kind: RemovalKind::Purge,
                recording: None,
                call: None,
                subject: None,
                detail: Value::Null,
                actor: actor.to_owned(),
                at: now,
            };
            pass.remove(store, file, removal).await?;
        }
        match batch.last() {
            Some(last) if batch.len() >= BATCH as usize => {
                after = Some((last.retain_until.unwrap_or(now), last.recording));
            }
            _ => break,
        }
    }
    pass.warn_kept();
    Ok(PurgeReport {
        recordings_removed: pass.removed,
        files_deleted: pass.deleted,
        files_missing: pass.missing,
        files_unreachable: pass.unreachable,
        recordings_held: store.held_due_recordings(now).await?,
        recordings_kept: pass.kept_count,
        kept: pass.kept,
    })
}

/// Erases what is kept about `caller_number` (matched exactly as the switch gave it): its
/// recordings, the IVR variables, keyed digits and survey answers of its calls, the payloads
/// of all their CTI events (stream replay and deliveries alike), and the number and name in
/// their history rows, pseudonymised. Legal holds exempt a recording or a call.
/// `actor` (the token's name) is kept in the audit with the number's SHA-256, never the
/// number.
pub async fn erase(
    store: &Store,
    mounts: &RecordingMounts,
    caller_number: &str,
    actor: &str,
    now: Timestamp,
) -> Result<ErasureReport, StoreError> {
    let subject = subject_of(caller_number);
    let removal = |detail: Value| Removal {
        kind: RemovalKind::Erasure,
        recording: None,
        call: None,
        subject: Some(subject.clone()),
        detail,
        actor: actor.to_owned(),
        at: now,
    };
    let mut report = ErasureReport {
        subject: subject.clone(),
        ..ErasureReport::default()
    };
    let mut pass = Pass::new(mounts);

    // What the transaction will remove, each with its audit row, and the files to delete
    // after it.
    let mut recordings = Vec::new();
    let mut planned: HashMap<RecordingId, (RecordingFile, Option<PathBuf>, FileOutcome)> =
        HashMap::new();
    for file in store.recordings_of_caller(caller_number).await? {
        if file.status == RecordingStatus::Recording && !file.held {
            report.recordings_in_progress += 1;
            continue;
        }
        if file.held {
            report.recordings_held += 1;
            continue;
        }
        let (path, outcome) = match pass.plan_file(&file).await {
            Ok(plan) => plan,
            Err(error) => {
                pass.keep(&file, error);
                continue;
            }
        };
        let mut audit = removal(Value::Null);
        audit.recording = Some(file.recording);
        audit.call = Some(file.call);
        audit.detail = json!({
            "file": if path.is_some() { "delete_after_commit" } else { outcome.as_str() },
            "switch": file.switch.as_str(),
            "relative_path": file.relative_path,
            "status": file.status.as_str(),
            "retain_until": file.retain_until,
        });
        recordings.push((file.recording, audit));
        planned.insert(file.recording, (file, path, outcome));
    }
    pass.warn_kept();

    let mut calls = Vec::new();
    for call in store.calls_of_caller(caller_number).await? {
        report.calls += 1;
        if call.open {
            report.calls_in_progress += 1;
        }
        if call.held {
            report.calls_held += 1;
            continue;
        }
        let mut audit = removal(json!({}));
        audit.call = Some(call.call);
        calls.push((call.call, audit));
    }

    // All rows in one transaction, with the request's summary: what the rows say was done
    // is exactly what was committed.
    let mut files_to_delete = Vec::new();
    let summary = |done: &ErasedRows| {
        report.recordings_held += done.recordings_held.len() as u64;
        report.recordings_removed = done.recordings_removed.len() as u64;
        for recording in &done.recordings_removed {
            match planned.remove(recording) {
                Some((file, Some(path), _)) => files_to_delete.push((file, path)),
                Some((_, None, FileOutcome::AlreadyMissing)) => report.files_missing += 1,
                Some((_, None, FileOutcome::NotReachable)) => report.files_unreachable += 1,
                _ => {}
            }
        }
        for (_, erased) in &done.calls {
            match erased {
                None => report.calls_held += 1,
                Some(erased) => {
                    report.ivr_sessions_cleared += erased.ivr_sessions_cleared;
                    report.ivr_steps_cleared += erased.ivr_steps_cleared;
                    report.surveys_cleared += erased.surveys_cleared;
                    report.webhook_deliveries_cancelled += erased.webhook_deliveries_cancelled;
                    report.webhook_payloads_removed += erased.webhook_payloads_removed;
                    report.calls_pseudonymised += erased.calls_pseudonymised;
                }
            }
        }
        report.recordings_kept = pass.kept_count;
        report.kept = std::mem::take(&mut pass.kept);
        // The request itself is kept, even when nothing matched: it was answered.
        let summary = serde_json::to_value(&report).map_err(StoreError::Encode)?;
        Ok(removal(json!({
            "request": summary,
            "files_to_delete_after_commit": files_to_delete.len(),
        })))
    };
    store.erase_rows(&recordings, &calls, summary).await?;

    // The rows are gone: now the files.
    for (file, path) in files_to_delete {
        match tokio::fs::remove_file(&path).await {
            Ok(()) => report.files_deleted += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => report.files_missing += 1,
            Err(e) => {
                let error = format!("cannot delete {}: {e}", path.display());
                warn!(recording = %file.recording, %error, "an erased recording's file is left: delete it by hand");
                let mut audit = removal(json!({ "file": "error", "error": error.as_str() }));
                audit.recording = Some(file.recording);
                audit.call = Some(file.call);
                if let Err(e) = store.add_data_removal(&audit).await {
                    warn!(recording = %file.recording, error = %e, "cannot audit a file left by an erasure");
                }
                report.files_not_deleted.push(KeptRecording {
                    recording: file.recording.to_string(),
                    error,
                });
            }
        }
    }
    info!(
        %subject,
        recordings = report.recordings_removed,
        files_deleted = report.files_deleted,
        calls = report.calls,
        "erasure done"
    );
    Ok(report)
}

/// The scheduled purge: a pass at start, then every `every`, until `stop`.
pub async fn run(
    store: Store,
    mounts: RecordingMounts,
    clock: Clock,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let pass = purge(&store, &mounts, clock.now(), SCHEDULED);
        let report = tokio::select! {
            report = pass => report,
            // A pass stopped between recordings leaves nothing half done (see above).
            _ = stop.wait_for(|s| *s) => return,
        };
        match report {
            Ok(report) if report.recordings_removed > 0 || report.recordings_kept > 0 => info!(
                removed = report.recordings_removed,
                files_deleted = report.files_deleted,
                kept = report.recordings_kept,
                held = report.recordings_held,
                "retention purge"
            ),
            Ok(_) => {}
            Err(e) => warn!(error = %e, "the retention purge failed; the next pass tries again"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{CallId, RecordingId};

    fn file(switch: &str, relative: Option<&str>) -> RecordingFile {
        RecordingFile {
            recording: RecordingId::from_uuid(uuid::Uuid::nil()),
            call: CallId::from_uuid(uuid::Uuid::nil()),
            switch: SwitchName::new(switch).unwrap_or_else(|e| panic!("{e}")),
            relative_path: relative.map(str::to_owned),
            status: RecordingStatus::Stopped,
            retain_until: None,
            held: false,
        }
    }

    #[test]
    fn the_subject_is_the_numbers_sha256_in_hex() {
        assert_eq!(
            subject_of("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_file_is_found_only_below_its_switchs_mount() {
        let mut mounts = RecordingMounts::new();
        let sim = SwitchName::new("sim").unwrap_or_else(|e| panic!("{e}"));
        mounts.insert(sim, PathBuf::from("/mnt/sim"));
        assert_eq!(
            file_path(&mounts, &file("sim", Some("2024-01-01/a.wav"))),
            Ok(PathBuf::from("/mnt/sim/2024-01-01/a.wav"))
        );
        assert_eq!(
            file_path(&mounts, &file("other", Some("a.wav"))),
            Err(FileOutcome::NotReachable)
        );
        assert_eq!(
            file_path(&mounts, &file("sim", None)),
            Err(FileOutcome::NoFile)
        );
        for bad in ["../etc/passwd", "/etc/passwd", "a/../../b.wav", "a b.wav"] {
            assert!(
                matches!(
                    file_path(&mounts, &file("sim", Some(bad))),
                    Err(FileOutcome::Failed(_))
                ),
                "{bad}"
            );
        }
    }
}
