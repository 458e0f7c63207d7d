//! Call recordings: the metadata the engine's recording records write (in the history batch
//! that carries them), and the reads, evaluations, legal holds and removals built on it.
//!
//! Reads hand back what a search or a player needs without a second trip: a recording's legal
//! hold (on it or its call) is read with it, and its paused and masked intervals are derived
//! from its changes here, so the API and any other reader agree on them.

use std::fmt;

use schemars::JsonSchema;
use serde::{Serialize, Serializer};
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use super::rows::Columns;
use super::{Store, StoreError};
use crate::config::CriterionScore;
use crate::engine::recording::{RecordingAction, RecordingActor, RecordingReason};
use crate::engine::{
    AgentId, CallId, ChannelId, QueueId, Record, RecordingId, SwitchName, Timestamp,
};

/// A recording's status, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordingStatus {
    /// The switch was asked to record and has not stopped.
    Recording,
    Stopped,
    /// The switch refused or lost it.
    Failed,
    /// The caller pressed the opt-out key: no file.
    Declined,
}

impl RecordingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordingStatus::Recording => "recording",
            RecordingStatus::Stopped => "stopped",
            RecordingStatus::Failed => "failed",
            RecordingStatus::Declined => "declined",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "recording" => RecordingStatus::Recording,
            "stopped" => RecordingStatus::Stopped,
            "failed" => RecordingStatus::Failed,
            "declined" => RecordingStatus::Declined,
            _ => return None,
        })
    }
}

/// Writes one recording record, inside the history batch's transaction.
pub(super) async fn apply(conn: &mut AnyConnection, record: &Record) -> Result<(), StoreError> {
    match record {
        Record::RecordingStarted {
            recording,
            call,
            switch,
            channel,
            agent_channel,
            queue,
            agent,
            caller_number,
            destination,
            path,
            relative_path,
            stereo,
            reason,
            by,
            consent,
            at,
        } => {
            sqlx::query(
                "INSERT INTO recordings (id, call_id, switch, channel, agent_channel, queue_id, \
                 agent_id, caller_number, destination, path, relative_path, stereo, reason, \
                 started_by, status, started_at, notice_at, opted_out_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
                 $17, $18) ON CONFLICT (id) DO NOTHING",
            )
            .bind(recording.to_string())
            .bind(call.to_string())
            .bind(switch.as_str())
            .bind(channel.as_str())
            .bind(agent_channel.as_ref().map(|c| c.as_str().to_owned()))
            .bind(queue.as_ref().map(|q| q.as_str().to_owned()))
            .bind(agent.as_ref().map(|a| a.as_str().to_owned()))
            .bind(caller_number.as_str())
            .bind(destination.as_str())
            .bind(path.as_str())
            .bind(relative_path.as_str())
            .bind(i64::from(*stereo))
            .bind(reason.as_str())
            .bind(by.to_string())
            .bind(RecordingStatus::Recording.as_str())
            .bind(at.as_millis())
            .bind(consent.notice_at.map(|t| t.as_millis()))
            .bind(consent.opted_out_at.map(|t| t.as_millis()))
            .execute(&mut *conn)
            .await?;
        }
        Record::RecordingDeclined {
            recording,
            call,
            switch,
            queue,
            agent,
            caller_number,
            destination,
            consent,
            retain_until,
            at,
        } => {
            sqlx::query(
                "INSERT INTO recordings (id, call_id, switch, queue_id, agent_id, caller_number, \
                 destination, reason, started_by, status, started_at, stopped_at, duration_ms, \
                 notice_at, opted_out_at, retain_until) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, 0, $12, $13, $14) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(recording.to_string())
            .bind(call.to_string())
            .bind(switch.as_str())
            .bind(queue.as_str())
            .bind(agent.as_ref().map(|a| a.as_str().to_owned()))
            .bind(caller_number.as_str())
            .bind(destination.as_str())
            .bind("declined")
            .bind(RecordingActor::Policy.to_string())
            .bind(RecordingStatus::Declined.as_str())
            .bind(at.as_millis())
            .bind(consent.notice_at.map(|t| t.as_millis()))
            .bind(consent.opted_out_at.map(|t| t.as_millis()))
            .bind(retain_until.map(|t| t.as_millis()))
            .execute(&mut *conn)
            .await?;
        }
        Record::RecordingChanged {
            recording,
            action,
            by,
            offset_ms,
            at,
        } => {
            sqlx::query(
                "INSERT INTO recording_changes (recording_id, action, actor, offset_ms, at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(recording.to_string())
            .bind(action.as_str())
            .bind(by.to_string())
            .bind(*offset_ms)
            .bind(at.as_millis())
            .execute(&mut *conn)
            .await?;
        }
        Record::RecordingStopped {
            recording,
            by,
            duration_ms,
            error,
            retain_until,
            at,
        } => {
            let status = match error {
                None => RecordingStatus::Stopped,
                Some(_) => RecordingStatus::Failed,
            };
            // The first stop stands: a RECORD_STOP after the engine already closed it is news
            // to nobody.
            sqlx::query(
                "UPDATE recordings SET status = $2, stopped_at = $3, stopped_by = $4, \
                 duration_ms = $5, error = $6, retain_until = $7 \
                 WHERE id = $1 AND stopped_at IS NULL",
            )
            .bind(recording.to_string())
            .bind(status.as_str())
            .bind(at.as_millis())
            .bind(by.to_string())
            .bind(*duration_ms)
            .bind(error.clone())
            .bind(retain_until.map(|t| t.as_millis()))
            .execute(&mut *conn)
            .await?;
        }
        _ => {}
    }
    Ok(())
}

/// A call's end closes its recordings still open (`stopped_at` NULL), inside the batch that
/// writes the end. The engine ends every recording it knows of before the call's end, so this
/// only finds those it lost: a controller restart forgets recordings in progress while the
/// switch goes on recording, and its RECORD_STOP names nothing the new engine knows. Such a row
/// would stay `recording` for ever, and the purge never takes one.
///
/// The row is closed as the switch closed the file, with the caller's hangup: status
/// `stopped`, `stopped_by` = `switch`, `stopped_at` = the call's end, `error` NULL. The
/// duration is the wall time less the pauses read from its changes; a pause still open (its
/// auto-resume timer was lost with the engine, so the switch stayed paused) runs to the end.
/// This is as exact as the changes: a change asked for after the restart reached no row.
/// `retain_until` comes from the queue's retention as provisioned now (the policy at the
/// start is not stored); a recording without a queue, or whose queue is gone or keeps its
/// recordings, keeps NULL (until erased).
pub(super) async fn close_open_of_call(
    conn: &mut AnyConnection,
    call: &CallId,
    end: Timestamp,
) -> Result<(), StoreError> {
    let open = sqlx::query(
        "SELECT id, started_at, queue_id FROM recordings \
         WHERE call_id = $1 AND stopped_at IS NULL AND status = $2",
    )
    .bind(call.to_string())
    .bind(RecordingStatus::Recording.as_str())
    .fetch_all(&mut *conn)
    .await?;
    for row in &open {
        let c = Columns::new(row, "recordings", "id");
        let id = c.text("id")?;
        let started_at = c.int("started_at")?;
        let queue = c.opt_text("queue_id")?;
        let changes: Vec<RecordingChangeRow> = sqlx::query(
            "SELECT id, action, actor, offset_ms, at FROM recording_changes \
             WHERE recording_id = $1 ORDER BY id",
        )
        .bind(id.as_str())
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .filter_map(|r| {
            change_row(r)
                .inspect_err(|e| tracing::warn!(recording = %id, error = %e, "change not read"))
                .ok()
        })
        .collect();
        let stop = end.as_millis().saturating_sub(started_at).max(0);
        let (paused, _) = intervals(&changes, Some(stop));
        let paused_ms: i64 = paused
            .iter()
            .map(|p| p.end_ms.unwrap_or(stop).saturating_sub(p.start_ms).max(0))
            .sum();
        let retain_until = match queue {
            Some(queue) => queue_retention(conn, &queue).await?.map(|d| end.plus(d)),
            None => None,
        };
        sqlx::query(
            "UPDATE recordings SET status = $2, stopped_at = $3, stopped_by = $4, \
             duration_ms = $5, retain_until = $6 WHERE id = $1 AND stopped_at IS NULL",
        )
        .bind(id.as_str())
        .bind(RecordingStatus::Stopped.as_str())
        .bind(end.as_millis().max(started_at))
        .bind(RecordingActor::Switch.to_string())
        .bind(stop.saturating_sub(paused_ms).max(0))
        .bind(retain_until.map(|t| t.as_millis()))
        .execute(&mut *conn)
        .await?;
        tracing::info!(recording = %id, %call, "recording left open closed with its call's end");
    }
    Ok(())
}

/// A queue's recording retention as provisioned now; a queue gone or unreadable has none.
async fn queue_retention(
    conn: &mut AnyConnection,
    queue: &str,
) -> Result<Option<std::time::Duration>, StoreError> {
    let routing: Option<String> = sqlx::query_scalar("SELECT routing FROM queues WHERE id = $1")
        .bind(queue)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(routing.and_then(|text| {
        serde_json::from_str::<crate::engine::QueueRouting>(&text)
            .inspect_err(|e| tracing::warn!(%queue, error = %e, "queue routing not read"))
            .ok()
            .and_then(|r| r.recording.retention)
    }))
}

impl RecordingStatus {
    pub const ALL: [RecordingStatus; 4] = [
        RecordingStatus::Recording,
        RecordingStatus::Stopped,
        RecordingStatus::Failed,
        RecordingStatus::Declined,
    ];
}

/// A recording's metadata, as a search lists it. Times are RFC 3339 (UTC) in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct RecordingRow {
    #[schemars(with = "String")]
    pub id: RecordingId,
    #[schemars(with = "String")]
    pub call: CallId,
    #[schemars(with = "String")]
    pub switch: SwitchName,
    /// The channel recorded (the caller's); null for a declined recording.
    #[schemars(with = "Option<String>")]
    pub channel: Option<ChannelId>,
    /// The agent's leg of the call.
    #[schemars(with = "Option<String>")]
    pub agent_channel: Option<ChannelId>,
    #[schemars(with = "Option<String>")]
    pub queue: Option<QueueId>,
    #[schemars(with = "Option<String>")]
    pub agent: Option<AgentId>,
    pub caller_number: String,
    /// The number the caller dialled.
    pub destination: String,
    /// The file on the switch's disk; null when there is no file (declined).
    pub path: Option<String>,
    /// The file under the switch's recordings directory (and under the controller's mount).
    pub relative_path: Option<String>,
    /// Caller and agent on separate channels.
    pub stereo: bool,
    /// `always`, `sampled` or `on_demand`; null for a declined recording.
    #[schemars(with = "Option<String>")]
    pub reason: Option<RecordingReason>,
    /// `policy`, `token:<name>`, `flow:<node>`.
    #[serde(serialize_with = "display")]
    #[schemars(with = "String")]
    pub started_by: RecordingActor,
    /// As `started_by`, or `switch` (the call ended, a limit, an error), `auto_resume`.
    #[serde(serialize_with = "opt_display")]
    #[schemars(with = "Option<String>")]
    pub stopped_by: Option<RecordingActor>,
    pub status: RecordingStatus,
    #[serde(serialize_with = "rfc3339")]
    #[schemars(with = "String")]
    pub started_at: Timestamp,
    #[serde(serialize_with = "opt_rfc3339")]
    #[schemars(with = "Option<String>")]
    pub stopped_at: Option<Timestamp>,
    /// The file's length: wall time less paused time (masked time is in the file, silent).
    pub duration_ms: Option<i64>,
    /// Why the switch refused or lost the recording (status `failed`).
    pub error: Option<String>,
    pub consent: ConsentRow,
    /// When the retention purge may remove it; null: kept until erased.
    #[serde(serialize_with = "opt_rfc3339")]
    #[schemars(with = "Option<String>")]
    pub retain_until: Option<Timestamp>,
    /// A legal hold stands on the recording or its call: neither purge nor erasure removes it.
    pub legal_hold: bool,
}

/// What the caller was told about recording and what they said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ConsentRow {
    /// When the recording notice started to play; null: the queue plays none.
    #[serde(serialize_with = "opt_rfc3339")]
    #[schemars(with = "Option<String>")]
    pub notice_at: Option<Timestamp>,
    /// When the caller pressed the opt-out key.
    #[serde(serialize_with = "opt_rfc3339")]
    #[schemars(with = "Option<String>")]
    pub opted_out_at: Option<Timestamp>,
    pub opted_out: bool,
}

/// One pause, resume, mask or unmask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct RecordingChangeRow {
    /// `pause`, `resume`, `mask` or `unmask`.
    #[schemars(with = "String")]
    pub action: RecordingAction,
    /// `token:<name>`, `flow:<node>`, `auto_resume`, ...
    #[serde(serialize_with = "display")]
    #[schemars(with = "String")]
    pub actor: RecordingActor,
    /// Wall time since the recording started.
    pub offset_ms: i64,
    #[serde(serialize_with = "rfc3339")]
    #[schemars(with = "String")]
    pub at: Timestamp,
}

/// A stretch of a recording that was paused (left out of the file) or masked (silence in it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
pub struct RecordingInterval {
    /// Wall time since the recording started.
    pub start_ms: i64,
    /// Wall time since the recording started; null while the recording runs and it is still
    /// open. One still open when the recording stopped ends at the stop.
    pub end_ms: Option<i64>,
    /// Where it falls in the audio file (paused time before it is not in the file): a masked
    /// interval is silent from here for its length; a paused one is a cut here.
    pub file_offset_ms: i64,
}

/// A recording with its changes and the intervals read from them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct RecordingDetail {
    #[serde(flatten)]
    pub recording: RecordingRow,
    /// In the order they happened.
    pub changes: Vec<RecordingChangeRow>,
    pub paused: Vec<RecordingInterval>,
    pub masked: Vec<RecordingInterval>,
}

/// Where a page of search results ends: the next page starts after it (newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordingCursor {
    pub started_at: Timestamp,
    pub id: RecordingId,
}

impl fmt::Display for RecordingCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.started_at.as_millis(), self.id)
    }
}

impl std::str::FromStr for RecordingCursor {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a cursor: pass the \"next\" of the previous page");
        let (at, id) = s.split_once('_').ok_or_else(bad)?;
        Ok(Self {
            started_at: Timestamp::from_millis(at.parse().map_err(|_| bad())?),
            id: RecordingId::parse(id).map_err(|_| bad())?,
        })
    }
}

impl Serialize for RecordingCursor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// What a search asks for; every filter given must hold. Newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingSearch {
    /// Started at or after.
    pub since: Option<Timestamp>,
    /// Started before.
    pub until: Option<Timestamp>,
    pub agent: Option<AgentId>,
    pub queue: Option<QueueId>,
    /// The caller's number or the number dialled, exactly.
    pub number: Option<String>,
    pub call: Option<CallId>,
    pub status: Option<RecordingStatus>,
    /// At most this many (at least one).
    pub limit: u32,
    /// Only recordings after this cursor (older, in the listing's order).
    pub before: Option<RecordingCursor>,
}

impl Default for RecordingSearch {
    fn default() -> Self {
        Self {
            since: None,
            until: None,
            agent: None,
            queue: None,
            number: None,
            call: None,
            status: None,
            limit: 50,
            before: None,
        }
    }
}

/// One page of a search, and where the next starts when there may be more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingPage {
    pub recordings: Vec<RecordingRow>,
    pub next: Option<RecordingCursor>,
}

/// A supervisor's evaluation of a recording, to be kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvaluation {
    pub recording: RecordingId,
    pub form: String,
    /// The token's name.
    pub evaluator: String,
    /// Checked against the form by the caller; the totals are summed from them.
    pub scores: Vec<CriterionScore>,
    pub notes: String,
    pub at: Timestamp,
}

/// An evaluation as kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct EvaluationRow {
    pub id: i64,
    #[schemars(with = "String")]
    pub recording: RecordingId,
    pub form: String,
    pub evaluator: String,
    /// Each criterion's score and maximum, in the form's order.
    pub scores: Vec<CriterionScore>,
    pub total: i64,
    pub max_total: i64,
    pub notes: String,
    #[serde(serialize_with = "rfc3339")]
    #[schemars(with = "String")]
    pub at: Timestamp,
}

fn rfc3339<S: Serializer>(at: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::cti::rfc3339(*at).unwrap_or_default())
}

fn opt_rfc3339<S: Serializer>(at: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => rfc3339(at, s),
        None => s.serialize_none(),
    }
}

fn display<T: fmt::Display, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

fn opt_display<T: fmt::Display, S: Serializer>(value: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

/// Inverts `RecordingActor`'s `Display`.
fn actor(s: &str) -> Result<RecordingActor, String> {
    Ok(match s {
        "policy" => RecordingActor::Policy,
        "auto_resume" => RecordingActor::AutoResume,
        "switch" => RecordingActor::Switch,
        _ => match s.split_once(':') {
            Some(("token", name)) => RecordingActor::Token(name.to_owned()),
            Some(("flow", node)) => RecordingActor::Flow(node.to_owned()),
            _ => return Err(format!("{s:?} is not a recording actor")),
        },
    })
}

/// Inverts `RecordingReason::as_str`; a declined recording's `declined` is no reason to record.
fn reason(s: &str) -> Result<Option<RecordingReason>, String> {
    [
        RecordingReason::Always,
        RecordingReason::Sampled,
        RecordingReason::OnDemand,
    ]
    .into_iter()
    .find(|r| r.as_str() == s)
    .map(Some)
    .or((s == "declined").then_some(None))
    .ok_or_else(|| format!("{s:?} is not a recording reason"))
}

fn status(s: &str) -> Result<RecordingStatus, String> {
    RecordingStatus::parse(s).ok_or_else(|| format!("{s:?} is not a recording status"))
}

fn action(s: &str) -> Result<RecordingAction, String> {
    RecordingAction::parse(s).ok_or_else(|| format!("{s:?} is not a recording action"))
}

/// Whether a standing legal hold covers the row `r` (on the recording or on its call).
const HOLD: &str = "CAST(CASE WHEN EXISTS (SELECT 1 FROM legal_holds h \
     WHERE h.released_at IS NULL AND (h.recording_id = r.id OR h.call_id = r.call_id)) \
     THEN 1 ELSE 0 END AS BIGINT)";

const RECORDING_COLUMNS: &str = "r.id, r.call_id, r.switch, r.channel, r.agent_channel, \
     r.queue_id, r.agent_id, r.caller_number, r.destination, r.path, r.relative_path, r.stereo, \
     r.reason, r.started_by, r.stopped_by, r.status, r.started_at, r.stopped_at, r.duration_ms, \
     r.error, r.notice_at, r.opted_out_at, r.retain_until";

fn recording_row(row: &AnyRow) -> Result<RecordingRow, StoreError> {
    let c = Columns::new(row, "recordings", "id");
    let opted_out_at = c.opt_int("opted_out_at")?.map(Timestamp::from_millis);
    Ok(RecordingRow {
        id: c.parsed("id", RecordingId::parse)?,
        call: c.parsed("call_id", CallId::parse)?,
        switch: c.parsed("switch", |s: &str| SwitchName::new(s))?,
        channel: c.opt_parsed("channel", ChannelId::parse)?,
        agent_channel: c.opt_parsed("agent_channel", ChannelId::parse)?,
        queue: c.opt_parsed("queue_id", |s: &str| QueueId::new(s))?,
        agent: c.opt_parsed("agent_id", |s: &str| AgentId::new(s))?,
        caller_number: c.text("caller_number")?,
        destination: c.text("destination")?,
        path: c.opt_text("path")?,
        relative_path: c.opt_text("relative_path")?,
        stereo: c.int("stereo")? != 0,
        reason: c.parsed("reason", reason)?,
        started_by: c.parsed("started_by", actor)?,
        stopped_by: c.opt_parsed("stopped_by", actor)?,
        status: c.parsed("status", status)?,
        started_at: Timestamp::from_millis(c.int("started_at")?),
        stopped_at: c.opt_int("stopped_at")?.map(Timestamp::from_millis),
        duration_ms: c.opt_int("duration_ms")?,
        error: c.opt_text("error")?,
        consent: ConsentRow {
            notice_at: c.opt_int("notice_at")?.map(Timestamp::from_millis),
            opted_out_at,
            opted_out: opted_out_at.is_some(),
        },
        retain_until: c.opt_int("retain_until")?.map(Timestamp::from_millis),
        legal_hold: c.int("legal_hold")? != 0,
    })
}

fn change_row(row: &AnyRow) -> Result<RecordingChangeRow, StoreError> {
    let c = Columns::new(row, "recording_changes", "id");
    Ok(RecordingChangeRow {
        action: c.parsed("action", action)?,
        actor: c.parsed("actor", actor)?,
        offset_ms: c.int("offset_ms")?,
        at: Timestamp::from_millis(c.int("at")?),
    })
}

fn evaluation_row(row: &AnyRow) -> Result<EvaluationRow, StoreError> {
    let c = Columns::new(row, "recording_evaluations", "id");
    Ok(EvaluationRow {
        id: c.int("id")?,
        recording: c.parsed("recording_id", RecordingId::parse)?,
        form: c.text("form")?,
        evaluator: c.text("evaluator")?,
        scores: c.json("scores")?,
        total: c.int("total")?,
        max_total: c.int("max_total")?,
        notes: c.text("notes")?,
        at: Timestamp::from_millis(c.int("at")?),
    })
}

/// The paused and masked intervals of a recording, from its changes in order. `stop` is the
/// stop's offset when the recording has stopped: an interval still open then ends there.
/// A second pause while paused (or mask while masked), and a resume with nothing paused, change
/// nothing: the engine refuses them, and a stray one in the history must not split intervals.
pub fn intervals(
    changes: &[RecordingChangeRow],
    stop: Option<i64>,
) -> (Vec<RecordingInterval>, Vec<RecordingInterval>) {
    let mut paused = Vec::new();
    let mut masked = Vec::new();
    let mut paused_before = 0_i64;
    let mut open_pause: Option<RecordingInterval> = None;
    let mut open_mask: Option<RecordingInterval> = None;
    // Where wall offset `at` falls in the file: less every paused stretch before it.
    let in_file = |at: i64, paused_before: i64, open: &Option<RecordingInterval>| {
        let pausing = open.map_or(0, |p| at.saturating_sub(p.start_ms).max(0));
        at.saturating_sub(paused_before)
            .saturating_sub(pausing)
            .max(0)
    };
    for change in changes {
        let at = change.offset_ms;
        match change.action {
            RecordingAction::Pause if open_pause.is_none() => {
                open_pause = Some(RecordingInterval {
                    start_ms: at,
                    end_ms: None,
                    file_offset_ms: in_file(at, paused_before, &None),
                });
            }
            RecordingAction::Resume => {
                if let Some(mut p) = open_pause.take() {
                    let end = at.max(p.start_ms);
                    p.end_ms = Some(end);
                    paused_before = paused_before.saturating_add(end - p.start_ms);
                    paused.push(p);
                }
            }
            RecordingAction::Mask if open_mask.is_none() => {
                open_mask = Some(RecordingInterval {
                    start_ms: at,
                    end_ms: None,
                    file_offset_ms: in_file(at, paused_before, &open_pause),
                });
            }
            RecordingAction::Unmask => {
                if let Some(mut m) = open_mask.take() {
                    m.end_ms = Some(at.max(m.start_ms));
                    masked.push(m);
                }
            }
            _ => {}
        }
    }
    for (open, list) in [(open_pause, &mut paused), (open_mask, &mut masked)] {
        if let Some(mut interval) = open {
            interval.end_ms = stop.map(|s| s.max(interval.start_ms));
            list.push(interval);
        }
    }
    (paused, masked)
}

/// A value bound to a search's query, in order.
enum Bound {
    Int(i64),
    Text(String),
}

impl Store {
    /// Recordings matching `search`, newest first (by start, then id), at most `search.limit`,
    /// with the cursor of the next page when there may be one. Only the filters given enter
    /// the query, so each can use its index (start time, agent, queue, call, caller).
    pub async fn search_recordings(
        &self,
        search: &RecordingSearch,
    ) -> Result<RecordingPage, StoreError> {
        let mut conditions: Vec<String> = Vec::new();
        let mut bound: Vec<Bound> = Vec::new();
        let mut bind = |value: Bound| {
            bound.push(value);
            format!("${}", bound.len())
        };
        if let Some(since) = search.since {
            let p = bind(Bound::Int(since.as_millis()));
            conditions.push(format!("r.started_at >= {p}"));
        }
        if let Some(until) = search.until {
            let p = bind(Bound::Int(until.as_millis()));
            conditions.push(format!("r.started_at < {p}"));
        }
        if let Some(agent) = &search.agent {
            let p = bind(Bound::Text(agent.as_str().to_owned()));
            conditions.push(format!("r.agent_id = {p}"));
        }
        if let Some(queue) = &search.queue {
            let p = bind(Bound::Text(queue.as_str().to_owned()));
            conditions.push(format!("r.queue_id = {p}"));
        }
        if let Some(number) = &search.number {
            let p = bind(Bound::Text(number.clone()));
            conditions.push(format!("(r.caller_number = {p} OR r.destination = {p})"));
        }
        if let Some(call) = search.call {
            let p = bind(Bound::Text(call.to_string()));
            conditions.push(format!("r.call_id = {p}"));
        }
        if let Some(status) = search.status {
            let p = bind(Bound::Text(status.as_str().to_owned()));
            conditions.push(format!("r.status = {p}"));
        }
        if let Some(before) = search.before {
            let at = bind(Bound::Int(before.started_at.as_millis()));
            let id = bind(Bound::Text(before.id.to_string()));
            conditions.push(format!(
                "(r.started_at < {at} OR (r.started_at = {at} AND r.id < {id}))"
            ));
        }
        let limit = search.limit.max(1);
        let p = bind(Bound::Int(i64::from(limit) + 1));
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let sql = format!(
            "SELECT {RECORDING_COLUMNS}, {HOLD} AS legal_hold FROM recordings r {filter} \
             ORDER BY r.started_at DESC, r.id DESC LIMIT {p}"
        );
        let mut query = sqlx::query(&sql);
        for value in bound {
            query = match value {
                Bound::Int(n) => query.bind(n),
                Bound::Text(s) => query.bind(s),
            };
        }
        let rows = query.fetch_all(&self.pool).await?;
        let mut recordings = rows
            .iter()
            .map(recording_row)
            .collect::<Result<Vec<_>, _>>()?;
        let more = recordings.len() > limit as usize;
        recordings.truncate(limit as usize);
        let next = recordings
            .last()
            .filter(|_| more)
            .map(|last| RecordingCursor {
                started_at: last.started_at,
                id: last.id,
            });
        Ok(RecordingPage { recordings, next })
    }

    /// How many recordings started at or after `since`, declined ones included.
    pub async fn count_recordings_since(&self, since: Timestamp) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM recordings WHERE started_at >= $1")
            .bind(since.as_millis())
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// One recording with its changes and intervals.
    pub async fn recording(&self, id: RecordingId) -> Result<Option<RecordingDetail>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {RECORDING_COLUMNS}, {HOLD} AS legal_hold FROM recordings r WHERE r.id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let Some(recording) = row.as_ref().map(recording_row).transpose()? else {
            return Ok(None);
        };
        let changes = sqlx::query(
            "SELECT id, action, actor, offset_ms, at FROM recording_changes \
             WHERE recording_id = $1 ORDER BY id",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(change_row)
        .collect::<Result<Vec<_>, _>>()?;
        let stop = recording.stopped_at.map(|s| {
            s.as_millis()
                .saturating_sub(recording.started_at.as_millis())
        });
        let (paused, masked) = intervals(&changes, stop);
        Ok(Some(RecordingDetail {
            recording,
            changes,
            paused,
            masked,
        }))
    }

    /// Keeps an evaluation, its totals summed from its scores; `None` when there is no such
    /// recording (checked in the same statement, so a purge cannot slip between).
    pub async fn add_evaluation(
        &self,
        evaluation: &NewEvaluation,
    ) -> Result<Option<EvaluationRow>, StoreError> {
        let total: i64 = evaluation.scores.iter().map(|s| i64::from(s.score)).sum();
        let max_total: i64 = evaluation.scores.iter().map(|s| i64::from(s.max)).sum();
        let scores = serde_json::to_string(&evaluation.scores).map_err(StoreError::Encode)?;
        let row = sqlx::query(
            "INSERT INTO recording_evaluations \
             (recording_id, form, evaluator, scores, total, max_total, notes, at) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8 \
             WHERE EXISTS (SELECT 1 FROM recordings WHERE id = $1) RETURNING id",
        )
        .bind(evaluation.recording.to_string())
        .bind(evaluation.form.as_str())
        .bind(evaluation.evaluator.as_str())
        .bind(scores)
        .bind(total)
        .bind(max_total)
        .bind(evaluation.notes.as_str())
        .bind(evaluation.at.as_millis())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let id = Columns::new(&row, "recording_evaluations", "id").int("id")?;
        Ok(Some(EvaluationRow {
            id,
            recording: evaluation.recording,
            form: evaluation.form.clone(),
            evaluator: evaluation.evaluator.clone(),
            scores: evaluation.scores.clone(),
            total,
            max_total,
            notes: evaluation.notes.clone(),
            at: evaluation.at,
        }))
    }

    /// A recording's evaluations, oldest first.
    pub async fn evaluations(
        &self,
        recording: RecordingId,
    ) -> Result<Vec<EvaluationRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, recording_id, form, evaluator, scores, total, max_total, notes, at \
             FROM recording_evaluations WHERE recording_id = $1 ORDER BY id",
        )
        .bind(recording.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(evaluation_row).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(action: RecordingAction, offset_ms: i64) -> RecordingChangeRow {
        RecordingChangeRow {
            action,
            actor: RecordingActor::Token("sup".into()),
            offset_ms,
            at: Timestamp::from_millis(offset_ms),
        }
    }

    fn interval(start_ms: i64, end_ms: Option<i64>, file_offset_ms: i64) -> RecordingInterval {
        RecordingInterval {
            start_ms,
            end_ms,
            file_offset_ms,
        }
    }

    #[test]
    fn intervals_pair_changes_and_place_them_in_the_file() {
        use RecordingAction::{Mask, Pause, Resume, Unmask};
        let changes = [
            change(Pause, 1_000),
            change(Resume, 4_000),
            change(Mask, 6_000),
            change(Pause, 7_000),
            change(Unmask, 8_000),
            change(Resume, 9_000),
        ];
        let (paused, masked) = intervals(&changes, Some(20_000));
        assert_eq!(
            paused,
            vec![
                interval(1_000, Some(4_000), 1_000),
                interval(7_000, Some(9_000), 4_000)
            ]
        );
        assert_eq!(masked, vec![interval(6_000, Some(8_000), 3_000)]);
    }

    #[test]
    fn an_interval_open_at_the_stop_ends_there_and_stays_open_while_recording() {
        use RecordingAction::{Mask, Pause, Resume};
        let changes = [
            change(Pause, 2_000),
            change(Resume, 3_000),
            change(Mask, 5_000),
        ];
        let (_, masked) = intervals(&changes, Some(12_000));
        assert_eq!(masked, vec![interval(5_000, Some(12_000), 4_000)]);
        let (_, masked) = intervals(&changes, None);
        assert_eq!(masked, vec![interval(5_000, None, 4_000)]);
        let (paused, _) = intervals(&[change(Pause, 2_000)], Some(1_500));
        assert_eq!(paused, vec![interval(2_000, Some(2_000), 2_000)]);
    }

    #[test]
    fn repeated_or_unmatched_changes_do_not_split_intervals() {
        use RecordingAction::{Pause, Resume, Unmask};
        let changes = [
            change(Resume, 500),
            change(Unmask, 600),
            change(Pause, 1_000),
            change(Pause, 2_000),
            change(Resume, 3_000),
            change(Resume, 3_500),
        ];
        let (paused, masked) = intervals(&changes, Some(5_000));
        assert_eq!(paused, vec![interval(1_000, Some(3_000), 1_000)]);
        assert!(masked.is_empty());
    }

    #[test]
    fn every_stored_word_reads_back() {
        for s in RecordingStatus::ALL {
            assert_eq!(status(s.as_str()), Ok(s));
        }
        for a in RecordingAction::ALL {
            assert_eq!(action(a.as_str()), Ok(a));
        }
        for r in [
            RecordingReason::Always,
            RecordingReason::Sampled,
            RecordingReason::OnDemand,
        ] {
            assert_eq!(reason(r.as_str()), Ok(Some(r)));
        }
        assert_eq!(reason("declined"), Ok(None));
        assert!(reason("whim").is_err());
        for a in [
            RecordingActor::Policy,
            RecordingActor::Token("alice:desk".into()),
            RecordingActor::Flow("pci".into()),
            RecordingActor::AutoResume,
            RecordingActor::Switch,
        ] {
            assert_eq!(actor(&a.to_string()), Ok(a));
        }
        assert!(actor("someone").is_err());
    }

    #[test]
    fn a_cursor_reads_back_and_refuses_anything_else() {
        let cursor = RecordingCursor {
            started_at: Timestamp::from_millis(1_700_000_000_123),
            id: RecordingId::from_uuid(uuid::Uuid::nil()),
        };
        assert_eq!(cursor.to_string().parse(), Ok(cursor));
        for bad in ["", "123", "abc_00000000-0000-0000-0000-000000000000", "1_x"] {
            assert!(bad.parse::<RecordingCursor>().is_err(), "{bad}");
        }
    }
}
