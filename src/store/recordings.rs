//! Call recordings: the metadata the engine's recording records write (in the history batch
//! that carries them), and the reads, evaluations, legal holds and removals built on it.

use sqlx::AnyConnection;

use super::StoreError;
use crate::engine::recording::RecordingActor;
use crate::engine::Record;

/// A recording's status, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
