//! Hold in the history: a queue event per hold (`hold`) and per end of one (`unhold`, with
//! how long it lasted), and the call row's total, added to rather than overwritten so a
//! controller restart (whose engine counts from zero again) loses nothing already written.

use sqlx::AnyConnection;

use super::StoreError;
use crate::engine::{QueueEventKind, Record};

pub(super) async fn apply(
    conn: &mut AnyConnection,
    appends: &mut super::appends::Appends,
    record: &Record,
) -> Result<(), StoreError> {
    let (call, queue, agent, kind, detail, at) = match record {
        Record::CallHeld {
            call,
            queue,
            agent,
            by,
            at,
        } => (
            call,
            queue,
            agent,
            QueueEventKind::Hold,
            format!("by={by}"),
            at,
        ),
        Record::CallResumed {
            call,
            queue,
            agent,
            by,
            held_ms,
            at,
            ..
        } => {
            sqlx::query(
                "UPDATE calls SET hold_ms = COALESCE(hold_ms, 0) + $2, \
                 holds = COALESCE(holds, 0) + 1 WHERE id = $1",
            )
            .bind(call.to_string())
            .bind(*held_ms)
            .execute(&mut *conn)
            .await?;
            (
                call,
                queue,
                agent,
                QueueEventKind::Unhold,
                format!("by={by} held_ms={held_ms}"),
                at,
            )
        }
        _ => return Ok(()),
    };
    appends.queue_event(call, queue, agent.as_ref(), kind, detail, *at);
    Ok(())
}
