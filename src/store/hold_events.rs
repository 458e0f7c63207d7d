//! What `call.held` and `call.resumed` say beside the call: when, and for a resume how long
//! that hold lasted and the call's holds so far (the call row's `hold_ms`/`holds` in the
//! payload's `call` are the history's totals, which survive a controller restart).

use serde_json::{json, Value};

use crate::engine::{Record, Timestamp};

pub(super) fn details(record: &Record) -> (Timestamp, Value) {
    match record {
        Record::CallResumed {
            held_ms,
            total_ms,
            holds,
            at,
            ..
        } => (
            *at,
            json!({ "held_ms": held_ms, "total_hold_ms": total_ms, "holds": holds }),
        ),
        Record::CallHeld { at, .. } => (*at, json!({})),
        _ => (Timestamp::from_millis(0), json!({})),
    }
}
