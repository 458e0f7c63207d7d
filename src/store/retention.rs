//! What retention and erasure need from the database: legal holds, the recordings a purge or
//! an erasure may remove, their removal, the clearing of a call's IVR answers and CTI event
//! payloads and the pseudonymisation of its caller, and the `data_removals` audit kept after the data is gone.
//!
//! These are the only writes that change history after the fact. Each removal is one
//! transaction that also writes its audit row, and re-checks the legal holds inside it: a hold
//! placed while a purge runs wins over the purge's earlier look. Deleting files is not the
//! store's business (`app::retention` does it, before the rows go).

use serde::Serialize;
use serde_json::{json, Value};

use super::rows::Columns;
use super::{RecordingStatus, Store, StoreError};
use crate::engine::{CallId, RecordingId, SwitchName, Timestamp};

/// What a legal hold is on: one recording, or a call (all its recordings and its history).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldTarget {
    Recording(RecordingId),
    Call(CallId),
}

impl std::fmt::Display for HoldTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HoldTarget::Recording(id) => write!(f, "recording {id}"),
            HoldTarget::Call(id) => write!(f, "call {id}"),
        }
    }
}

/// One legal hold, standing (`released_at` none) or released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LegalHoldRow {
    pub id: i64,
    /// Set for a hold on one recording.
    pub recording: Option<RecordingId>,
    /// Set for a hold on a call.
    pub call: Option<CallId>,
    pub reason: String,
    /// The token that placed it.
    pub placed_by: String,
    pub placed_at: Timestamp,
    pub released_by: Option<String>,
    pub released_at: Option<Timestamp>,
}

/// What placing a hold did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldPlaced {
    /// A new hold.
    Placed(LegalHoldRow),
    /// A hold on the same target already stood; it is unchanged.
    AlreadyStanding(LegalHoldRow),
    /// No such recording, or no call of that id in the history.
    UnknownTarget,
}

/// Which holds a listing wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HoldState {
    #[default]
    Standing,
    Released,
    All,
}

impl HoldState {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "standing" => HoldState::Standing,
            "released" => HoldState::Released,
            "all" => HoldState::All,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct HoldFilter {
    pub state: HoldState,
    pub recording: Option<RecordingId>,
    pub call: Option<CallId>,
    pub limit: u32,
}

/// Why data was removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemovalKind {
    /// The retention purge: the recording's retention had passed.
    Purge,
    /// An erasure request for a caller number (GDPR Art. 17).
    Erasure,
}

impl RemovalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RemovalKind::Purge => "purge",
            RemovalKind::Erasure => "erasure",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [RemovalKind::Purge, RemovalKind::Erasure]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// One audit row of `data_removals`, to write.
#[derive(Debug, Clone, PartialEq)]
pub struct Removal {
    pub kind: RemovalKind,
    pub recording: Option<RecordingId>,
    pub call: Option<CallId>,
    /// For an erasure: the SHA-256 (hex) of the caller number, never the number.
    pub subject: Option<String>,
    /// What was removed.
    pub detail: Value,
    /// `retention` for the scheduled purge, else the token's name.
    pub actor: String,
    pub at: Timestamp,
}

/// One audit row of `data_removals`, as read back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DataRemovalRow {
    pub id: i64,
    pub kind: RemovalKind,
    pub recording: Option<RecordingId>,
    pub call: Option<CallId>,
    pub subject: Option<String>,
    pub detail: Value,
    pub actor: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, Default)]
pub struct RemovalFilter {
    pub since: Option<Timestamp>,
    pub kind: Option<RemovalKind>,
    pub limit: u32,
}

/// A recording as retention sees it: where its file is, and what it may do with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingFile {
    pub recording: RecordingId,
    pub call: CallId,
    pub switch: SwitchName,
    /// Under the switch's recordings directory; none for a declined recording (no file).
    pub relative_path: Option<String>,
    pub status: RecordingStatus,
    pub retain_until: Option<Timestamp>,
    /// A standing legal hold on it or on its call.
    pub held: bool,
}

/// A call of a caller number, as an erasure sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallOfCaller {
    pub call: CallId,
    /// A standing legal hold on the call.
    pub held: bool,
    /// The call (or its IVR session) has not ended: what it keeps from now on is not erased.
    pub open: bool,
}

/// What clearing one call's data removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct CallErasure {
    /// IVR sessions whose variables were cleared.
    pub ivr_sessions_cleared: u64,
    /// IVR and survey steps whose keyed digits were cleared.
    pub ivr_steps_cleared: u64,
    /// Post-call surveys whose answers were cleared.
    pub surveys_cleared: u64,
    /// Pending webhook deliveries given up (dead, "erased").
    pub webhook_deliveries_cancelled: u64,
    /// CTI event payloads replaced by a stub: every event of the call, delivered or not (the
    /// event stream's replay and every delivery read them).
    pub webhook_payloads_removed: u64,
    /// History rows (`calls`, `flow_sessions`) whose caller number and name were replaced by
    /// the pseudonym; not done while the call is in progress.
    pub calls_pseudonymised: u64,
}

impl CallErasure {
    fn is_empty(&self) -> bool {
        *self == CallErasure::default()
    }
}

/// What [`Store::erase_rows`] did, in one transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErasedRows {
    /// Recordings whose rows were removed.
    pub recordings_removed: Vec<RecordingId>,
    /// Recordings a hold placed since they were chosen keeps.
    pub recordings_held: Vec<RecordingId>,
    /// Each call with what was cleared, `None` when a hold now covers it.
    pub calls: Vec<(CallId, Option<CallErasure>)>,
}

/// The last error of a delivery an erasure gave up.
pub const ERASED_DELIVERY: &str = "erased: the caller's data was erased on request";

/// A standing hold on the recording `r` (aliased) or on its call.
const HELD: &str = "EXISTS (SELECT 1 FROM legal_holds h WHERE h.released_at IS NULL \
     AND (h.recording_id = r.id OR h.call_id = r.call_id))";

const HOLD_COLUMNS: &str =
    "id, recording_id, call_id, reason, placed_by, placed_at, released_by, released_at";

fn hold_row(row: &sqlx::any::AnyRow) -> Result<LegalHoldRow, StoreError> {
    let c = Columns::new(row, "legal_holds", "id");
    Ok(LegalHoldRow {
        id: c.int("id")?,
        recording: c.opt_parsed("recording_id", RecordingId::parse)?,
        call: c.opt_parsed("call_id", CallId::parse)?,
        reason: c.text("reason")?,
        placed_by: c.text("placed_by")?,
        placed_at: Timestamp::from_millis(c.int("placed_at")?),
        released_by: c.opt_text("released_by")?,
        released_at: c.opt_int("released_at")?.map(Timestamp::from_millis),
    })
}

fn recording_file(row: &sqlx::any::AnyRow) -> Result<RecordingFile, StoreError> {
    let c = Columns::new(row, "recordings", "id");
    Ok(RecordingFile {
        recording: c.parsed("id", RecordingId::parse)?,
        call: c.parsed("call_id", CallId::parse)?,
        switch: c.parsed("switch", |s: &str| SwitchName::new(s))?,
        relative_path: c.opt_text("relative_path")?,
        status: c.parsed("status", |s: &str| {
            RecordingStatus::parse(s).ok_or_else(|| format!("{s:?} is not a recording status"))
        })?,
        retain_until: c.opt_int("retain_until")?.map(Timestamp::from_millis),
        held: c.int("held")? != 0,
    })
}

fn removal_row(row: &sqlx::any::AnyRow) -> Result<DataRemovalRow, StoreError> {
    let c = Columns::new(row, "data_removals", "id");
    Ok(DataRemovalRow {
        id: c.int("id")?,
        kind: c.parsed("kind", |s: &str| {
            RemovalKind::parse(s).ok_or_else(|| format!("{s:?} is not a removal kind"))
        })?,
        recording: c.opt_parsed("recording_id", RecordingId::parse)?,
        call: c.opt_parsed("call_id", CallId::parse)?,
        subject: c.opt_text("subject")?,
        detail: c.json("detail")?,
        actor: c.text("actor")?,
        at: Timestamp::from_millis(c.int("at")?),
    })
}

const FILE_COLUMNS: &str = "r.id, r.call_id, r.switch, r.relative_path, r.status, r.retain_until";

async fn insert_removal(
    conn: &mut sqlx::AnyConnection,
    removal: &Removal,
) -> Result<(), StoreError> {
    let detail = serde_json::to_string(&removal.detail).map_err(StoreError::Encode)?;
    sqlx::query(
        "INSERT INTO data_removals (kind, recording_id, call_id, subject, detail, actor, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(removal.kind.as_str())
    .bind(removal.recording.map(|r| r.to_string()))
    .bind(removal.call.map(|c| c.to_string()))
    .bind(removal.subject.clone())
    .bind(detail)
    .bind(removal.actor.as_str())
    .bind(removal.at.as_millis())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// `payload`, which an erasure has already replaced by its stub.
fn is_erased_payload(payload: &str) -> bool {
    serde_json::from_str::<Value>(payload)
        .ok()
        .and_then(|v| v.get("erased").and_then(Value::as_bool))
        .unwrap_or(false)
}

/// What an event's payload becomes once the caller's data is erased: still a well-formed
/// event (a stream, a replay or a CRM reads it like any other), with nothing about the caller:
/// its id, type and time, the agent and the details (wait, talk time, outcome, hangup cause)
/// stay; the call (number, name, channel, destination) and the IVR variables go.
fn erased_payload(event_id: &str, event_type: &str, at: Timestamp, original: &Value) -> Value {
    let data = original.get("data");
    let kept = |key: &str| {
        data.and_then(|d| d.get(key))
            .filter(|v| v.is_object())
            .cloned()
    };
    json!({
        "id": event_id,
        "type": event_type,
        "timestamp": crate::cti::rfc3339(at).unwrap_or_default(),
        "erased": true,
        "data": {
            "call": null,
            "agent": kept("agent").unwrap_or(Value::Null),
            "variables": {},
            "details": kept("details").unwrap_or_else(|| json!({})),
        },
    })
}

/// What an erasure writes in place of a caller's number and name: `erased:` and the first 16
/// hex digits of the number's SHA-256 (the audit's `subject`), so statistics per caller still
/// group, and the number cannot be read back.
fn pseudonym(subject: Option<&str>) -> String {
    match subject {
        Some(subject) => format!("erased:{}", subject.get(..16).unwrap_or(subject)),
        None => "erased".to_owned(),
    }
}

/// Deletes a recording's rows (its changes and evaluations too) and writes `removal`, inside
/// the caller's transaction; `false`, with nothing written, when a standing hold covers it or
/// it is gone already.
async fn remove_recording_in(
    tx: &mut sqlx::AnyConnection,
    recording: RecordingId,
    removal: &Removal,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "DELETE FROM recordings WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM legal_holds h \
         WHERE h.released_at IS NULL \
         AND (h.recording_id = recordings.id OR h.call_id = recordings.call_id))",
    )
    .bind(recording.to_string())
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    for table in ["recording_changes", "recording_evaluations"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE recording_id = $1"))
            .bind(recording.to_string())
            .execute(&mut *tx)
            .await?;
    }
    insert_removal(tx, removal).await?;
    Ok(true)
}

/// [`Store::erase_call_data`] inside the caller's transaction.
async fn erase_call_data_in(
    tx: &mut sqlx::AnyConnection,
    call: CallId,
    removal: &Removal,
) -> Result<Option<CallErasure>, StoreError> {
    let id = call.to_string();
    let held = sqlx::query(
        "SELECT id FROM legal_holds WHERE released_at IS NULL AND call_id = $1 LIMIT 1",
    )
    .bind(id.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    if held.is_some() {
        return Ok(None);
    }
    let mut erased = CallErasure {
        ivr_sessions_cleared: sqlx::query(
            "UPDATE flow_sessions SET variables = '{}' WHERE call_id = $1 \
             AND variables IS NOT NULL AND variables <> '{}'",
        )
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected(),
        ivr_steps_cleared: sqlx::query(
            "UPDATE flow_steps SET digits = '' WHERE call_id = $1 AND digits <> ''",
        )
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected(),
        surveys_cleared: sqlx::query(
            "UPDATE call_surveys SET answers = '{}' WHERE call_id = $1 \
             AND answers IS NOT NULL AND answers <> '{}'",
        )
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected(),
        webhook_deliveries_cancelled: sqlx::query(
            "UPDATE webhook_deliveries SET status = 'dead', last_error = $2 \
             WHERE call_id = $1 AND status = 'pending'",
        )
        .bind(id.as_str())
        .bind(ERASED_DELIVERY)
        .execute(&mut *tx)
        .await?
        .rows_affected(),
        webhook_payloads_removed: 0,
        calls_pseudonymised: 0,
    };
    // A call in progress keeps the number until it ends, so that erasing again then finds it.
    let open = sqlx::query(
        "SELECT 1 FROM calls WHERE id = $1 AND ended_at IS NULL UNION ALL \
         SELECT 1 FROM flow_sessions WHERE call_id = $1 AND ended_at IS NULL",
    )
    .bind(id.as_str())
    .fetch_optional(&mut *tx)
    .await?
    .is_some();
    if !open {
        let pseudonym = pseudonym(removal.subject.as_deref());
        for (table, key) in [("calls", "id"), ("flow_sessions", "call_id")] {
            erased.calls_pseudonymised += sqlx::query(&format!(
                "UPDATE {table} SET caller_number = $2, caller_name = $2 WHERE {key} = $1 \
                 AND (caller_number <> $2 OR caller_name <> $2)"
            ))
            .bind(id.as_str())
            .bind(pseudonym.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
    }
    let events = sqlx::query(
        "SELECT e.seq, e.event_id, e.type, e.at, e.payload FROM cti_events e \
         WHERE e.call_id = $1 ORDER BY e.seq",
    )
    .bind(id.as_str())
    .fetch_all(&mut *tx)
    .await?;
    for row in &events {
        let c = Columns::new(row, "cti_events", "seq");
        let payload = c.text("payload")?;
        if is_erased_payload(&payload) {
            continue;
        }
        let original = serde_json::from_str::<Value>(&payload).unwrap_or(Value::Null);
        let (event_id, event_type) = (c.text("event_id")?, c.text("type")?);
        let at = Timestamp::from_millis(c.int("at")?);
        let stub = erased_payload(&event_id, &event_type, at, &original);
        sqlx::query("UPDATE cti_events SET payload = $2 WHERE seq = $1")
            .bind(c.int("seq")?)
            .bind(serde_json::to_string(&stub).map_err(StoreError::Encode)?)
            .execute(&mut *tx)
            .await?;
        erased.webhook_payloads_removed += 1;
    }
    if !erased.is_empty() {
        let mut removal = removal.clone();
        let counts = serde_json::to_value(erased).map_err(StoreError::Encode)?;
        match (removal.detail.as_object_mut(), counts) {
            (Some(detail), Value::Object(counts)) => detail.extend(counts),
            (_, counts) => removal.detail = counts,
        }
        insert_removal(tx, &removal).await?;
    }
    Ok(Some(erased))
}

impl Store {
    /// Places a hold on `target`, unless one already stands (then that one is returned,
    /// unchanged). The recording, or the call (in `calls` or `flow_sessions`), must exist.
    pub async fn place_legal_hold(
        &self,
        target: HoldTarget,
        reason: &str,
        by: &str,
        at: Timestamp,
    ) -> Result<HoldPlaced, StoreError> {
        let mut tx = self.begin_write().await?;
        let (exists_sql, column, id) = match target {
            HoldTarget::Recording(id) => (
                "SELECT 1 FROM recordings WHERE id = $1",
                "recording_id",
                id.to_string(),
            ),
            HoldTarget::Call(id) => (
                "SELECT 1 FROM calls WHERE id = $1 UNION ALL \
                 SELECT 1 FROM flow_sessions WHERE call_id = $1 UNION ALL \
                 SELECT 1 FROM recordings WHERE call_id = $1",
                "call_id",
                id.to_string(),
            ),
        };
        if sqlx::query(exists_sql)
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .is_none()
        {
            return Ok(HoldPlaced::UnknownTarget);
        }
        let standing = sqlx::query(&format!(
            "SELECT {HOLD_COLUMNS} FROM legal_holds WHERE {column} = $1 \
             AND released_at IS NULL ORDER BY id LIMIT 1"
        ))
        .bind(id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = standing {
            return Ok(HoldPlaced::AlreadyStanding(hold_row(&row)?));
        }
        let row = sqlx::query(&format!(
            "INSERT INTO legal_holds ({column}, reason, placed_by, placed_at) \
             VALUES ($1, $2, $3, $4) RETURNING {HOLD_COLUMNS}"
        ))
        .bind(id.as_str())
        .bind(reason)
        .bind(by)
        .bind(at.as_millis())
        .fetch_one(&mut *tx)
        .await?;
        let placed = hold_row(&row)?;
        tx.commit().await?;
        Ok(HoldPlaced::Placed(placed))
    }

    /// Releases the standing holds on `target` (there is normally one); returns them as
    /// released, none when nothing stood.
    pub async fn release_legal_hold(
        &self,
        target: HoldTarget,
        by: &str,
        at: Timestamp,
    ) -> Result<Vec<LegalHoldRow>, StoreError> {
        let (column, id) = match target {
            HoldTarget::Recording(id) => ("recording_id", id.to_string()),
            HoldTarget::Call(id) => ("call_id", id.to_string()),
        };
        let rows = sqlx::query(&format!(
            "UPDATE legal_holds SET released_by = $2, released_at = $3 \
             WHERE {column} = $1 AND released_at IS NULL RETURNING {HOLD_COLUMNS}"
        ))
        .bind(id)
        .bind(by)
        .bind(at.as_millis())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(hold_row).collect()
    }

    /// Legal holds, newest first.
    pub async fn legal_holds(&self, filter: &HoldFilter) -> Result<Vec<LegalHoldRow>, StoreError> {
        let state = match filter.state {
            HoldState::Standing => " AND released_at IS NULL",
            HoldState::Released => " AND released_at IS NOT NULL",
            HoldState::All => "",
        };
        let rows = sqlx::query(&format!(
            "SELECT {HOLD_COLUMNS} FROM legal_holds \
             WHERE ($1 IS NULL OR recording_id = $1) AND ($2 IS NULL OR call_id = $2){state} \
             ORDER BY placed_at DESC, id DESC LIMIT $3"
        ))
        .bind(filter.recording.map(|r| r.to_string()))
        .bind(filter.call.map(|c| c.to_string()))
        .bind(i64::from(filter.limit.max(1)))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(hold_row).collect()
    }

    /// Whether a standing hold covers the recording (on it, or on its call).
    pub async fn is_held(&self, recording: RecordingId, call: CallId) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT id FROM legal_holds WHERE released_at IS NULL \
             AND (recording_id = $1 OR call_id = $2) LIMIT 1",
        )
        .bind(recording.to_string())
        .bind(call.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// Recordings due for the purge at `now`: retention passed, not still recording, no
    /// standing hold; ordered by `retain_until` then id, after `after` (the last one of the
    /// previous batch), at most `limit`.
    pub async fn due_recordings(
        &self,
        now: Timestamp,
        after: Option<(Timestamp, RecordingId)>,
        limit: u32,
    ) -> Result<Vec<RecordingFile>, StoreError> {
        let (after_at, after_id) = match after {
            Some((at, id)) => (at.as_millis(), id.to_string()),
            None => (i64::MIN, String::new()),
        };
        let rows = sqlx::query(&format!(
            "SELECT {FILE_COLUMNS}, 0 AS held FROM recordings r \
             WHERE r.retain_until IS NOT NULL AND r.retain_until <= $1 \
             AND r.status <> 'recording' AND NOT {HELD} \
             AND (r.retain_until > $2 OR (r.retain_until = $2 AND r.id > $3)) \
             ORDER BY r.retain_until, r.id LIMIT $4"
        ))
        .bind(now.as_millis())
        .bind(after_at)
        .bind(after_id)
        .bind(i64::from(limit.max(1)))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(recording_file).collect()
    }

    /// How many recordings would be due at `now` but for a standing legal hold.
    pub async fn held_due_recordings(&self, now: Timestamp) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM recordings r WHERE r.retain_until IS NOT NULL \
             AND r.retain_until <= $1 AND r.status <> 'recording' AND {HELD}"
        ))
        .bind(now.as_millis())
        .fetch_one(&self.pool)
        .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// The recordings of `caller_number` (exactly as stored), and those of its calls, held or
    /// not.
    pub async fn recordings_of_caller(
        &self,
        caller_number: &str,
    ) -> Result<Vec<RecordingFile>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {FILE_COLUMNS}, CASE WHEN {HELD} THEN 1 ELSE 0 END AS held \
             FROM recordings r WHERE r.caller_number = $1 \
             OR r.call_id IN (SELECT id FROM calls WHERE caller_number = $1) \
             OR r.call_id IN (SELECT call_id FROM flow_sessions WHERE caller_number = $1) \
             ORDER BY r.started_at, r.id"
        ))
        .bind(caller_number)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(recording_file).collect()
    }

    /// The calls of `caller_number` (exactly as stored): those that reached a queue and those
    /// that stayed in the IVR.
    pub async fn calls_of_caller(
        &self,
        caller_number: &str,
    ) -> Result<Vec<CallOfCaller>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.call_id, \
             CASE WHEN EXISTS (SELECT 1 FROM legal_holds h WHERE h.released_at IS NULL \
                 AND h.call_id = c.call_id) THEN 1 ELSE 0 END AS held, \
             CASE WHEN EXISTS (SELECT 1 FROM calls o WHERE o.id = c.call_id \
                 AND o.ended_at IS NULL) OR EXISTS (SELECT 1 FROM flow_sessions f \
                 WHERE f.call_id = c.call_id AND f.ended_at IS NULL) THEN 1 ELSE 0 END AS open \
             FROM (SELECT id AS call_id FROM calls WHERE caller_number = $1 \
                   UNION SELECT call_id FROM flow_sessions WHERE caller_number = $1) AS c \
             ORDER BY c.call_id",
        )
        .bind(caller_number)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let c = Columns::new(row, "calls", "call_id");
                Ok(CallOfCaller {
                    call: c.parsed("call_id", CallId::parse)?,
                    held: c.int("held")? != 0,
                    open: c.int("open")? != 0,
                })
            })
            .collect()
    }

    /// Deletes a recording's rows (its changes and evaluations too) and writes `removal`, in
    /// one transaction; `false`, with nothing written, when a standing hold now covers it or
    /// another pass removed it first.
    pub async fn remove_recording(
        &self,
        recording: RecordingId,
        removal: &Removal,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        if !remove_recording_in(&mut tx, recording, removal).await? {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Clears what a call kept of its caller, unless a standing hold covers the call: the IVR
    /// session's variables, the digits of its IVR and survey steps, the survey's answers; its
    /// pending webhook deliveries are given up, the payloads of all its CTI events (what the
    /// event stream replays and every delivery, delivered or not, holds) are replaced by a
    /// stub, and once the call is over its caller number and name in `calls` and
    /// `flow_sessions` become the pseudonym made from `removal.subject`. Writes `removal` (its detail extended
    /// with the counts) when anything was cleared. `None` when the call is held.
    pub async fn erase_call_data(
        &self,
        call: CallId,
        removal: &Removal,
    ) -> Result<Option<CallErasure>, StoreError> {
        let mut tx = self.begin_write().await?;
        let erased = erase_call_data_in(&mut tx, call, removal).await?;
        if erased.is_some() {
            tx.commit().await?;
        }
        Ok(erased)
    }

    /// An erasure's rows, all or nothing in one transaction: each recording of `recordings`
    /// removed with its audit row (unless a hold now covers it), each call of `calls` cleared
    /// as [`Store::erase_call_data`] does, then the audit row `summary` makes of what was
    /// done. Nothing is written when any step fails.
    pub async fn erase_rows(
        &self,
        recordings: &[(RecordingId, Removal)],
        calls: &[(CallId, Removal)],
        summary: impl FnOnce(&ErasedRows) -> Result<Removal, StoreError>,
    ) -> Result<ErasedRows, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut done = ErasedRows::default();
        for (recording, removal) in recordings {
            if remove_recording_in(&mut tx, *recording, removal).await? {
                done.recordings_removed.push(*recording);
            } else {
                done.recordings_held.push(*recording);
            }
        }
        for (call, removal) in calls {
            let erased = erase_call_data_in(&mut tx, *call, removal).await?;
            done.calls.push((*call, erased));
        }
        insert_removal(&mut tx, &summary(&done)?).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Writes one audit row of `data_removals` on its own.
    pub async fn add_data_removal(&self, removal: &Removal) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        insert_removal(&mut conn, removal).await
    }

    /// The audit of removals, newest first.
    pub async fn data_removals(
        &self,
        filter: &RemovalFilter,
    ) -> Result<Vec<DataRemovalRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, kind, recording_id, call_id, subject, detail, actor, at \
             FROM data_removals WHERE at >= $1 AND ($2 IS NULL OR kind = $2) \
             ORDER BY at DESC, id DESC LIMIT $3",
        )
        .bind(filter.since.map_or(i64::MIN, Timestamp::as_millis))
        .bind(filter.kind.map(RemovalKind::as_str))
        .bind(i64::from(filter.limit.max(1)))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(removal_row).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_erased_payload_is_a_well_formed_event_that_says_so() {
        let original = json!({
            "data": {
                "call": { "caller_number": "+4930123456", "caller_name": "Ada" },
                "agent": { "id": "alice" },
                "variables": { "account": "42" },
                "details": { "outcome": "answered", "talk_ms": 5000 },
            },
        });
        let stub = erased_payload("evt_1", "call.ended", Timestamp::from_millis(0), &original);
        assert_eq!(stub["type"], "call.ended");
        assert_eq!(stub["data"]["call"], Value::Null);
        assert_eq!(stub["data"]["variables"], json!({}));
        assert_eq!(stub["data"]["agent"]["id"], "alice");
        assert_eq!(stub["data"]["details"]["talk_ms"], 5000);
        assert!(!stub.to_string().contains("+4930123456"));
        assert!(!stub.to_string().contains("Ada"));
        let text = stub.to_string();
        assert!(is_erased_payload(&text));
        assert!(!is_erased_payload(r#"{"id":"evt_1","data":{}}"#));
        assert!(!is_erased_payload("not json"));
    }

    #[test]
    fn a_pseudonym_is_the_subjects_first_16_hex_digits() {
        let subject = "0123456789abcdef0123456789abcdef";
        assert_eq!(pseudonym(Some(subject)), "erased:0123456789abcdef");
        assert_eq!(pseudonym(None), "erased");
    }

    #[test]
    fn removal_kinds_and_hold_states_read_back() {
        for kind in [RemovalKind::Purge, RemovalKind::Erasure] {
            assert_eq!(RemovalKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(HoldState::parse("standing"), Some(HoldState::Standing));
        assert_eq!(HoldState::parse("released"), Some(HoldState::Released));
        assert_eq!(HoldState::parse("all"), Some(HoldState::All));
        assert_eq!(HoldState::parse("open"), None);
    }
}
