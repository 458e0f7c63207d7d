//! The conference part of the invariants checked when a `TestApp` is dropped: a call is never
//! with two agents of ours at once unless in a conference. Two answered agent legs we
//! originated for the same call (`switchboard_call_id`) are up together (longer than a ring-all
//! race's loser takes to go) only for a call whose history has a conference, or a consult
//! (the first agent talks to the target while the caller waits).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// An answered agent leg we originated, as the switch reported it.
pub struct AgentLeg {
    pub uuid: String,
    pub call: String,
    pub answered: Instant,
    pub hung_up: Option<Instant>,
}

/// Longer than a ring-all loser or a transfer's old leg stays up next to the winner.
const OVERLAP: Duration = Duration::from_millis(500);

/// The calls whose history has a conference or a consult.
fn read(database_url: &str) -> Result<HashSet<String>, String> {
    let url = database_url.to_owned();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async move {
            use sqlx::Row;
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
                .await
                .map_err(|e| e.to_string())?;
            Ok(sqlx::query(
                "SELECT DISTINCT call_id FROM queue_events WHERE kind IN ('conference', 'consult')",
            )
            .fetch_all(&mut conn)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|r| r.get(0))
            .collect())
        })
    })
    .join()
    .map_err(|_| "the conference history reader panicked".to_owned())?
}

/// Every call with two agents at once outside a conference, one line each.
pub fn violations(legs: &[AgentLeg], database_url: &str) -> Vec<String> {
    let mut by_call: HashMap<&str, Vec<&AgentLeg>> = HashMap::new();
    for leg in legs {
        by_call.entry(leg.call.as_str()).or_default().push(leg);
    }
    by_call.retain(|_, legs| legs.len() > 1);
    if by_call.is_empty() {
        return Vec::new();
    }
    let allowed = match read(database_url) {
        Ok(calls) => calls,
        Err(e) => return vec![format!("cannot read the conference history: {e}")],
    };
    let mut broken = Vec::new();
    for (call, mut legs) in by_call {
        if allowed.contains(call) {
            continue;
        }
        legs.sort_by_key(|l| l.answered);
        for (i, first) in legs.iter().enumerate() {
            for later in &legs[i + 1..] {
                let end = match (first.hung_up, later.hung_up) {
                    (Some(a), Some(b)) => a.min(b),
                    (Some(a), None) | (None, Some(a)) => a,
                    (None, None) => Instant::now(),
                };
                if end.saturating_duration_since(later.answered) > OVERLAP {
                    broken.push(format!(
                        "call {call} had agent legs {} and {} up together outside a conference",
                        first.uuid, later.uuid
                    ));
                }
            }
        }
    }
    broken
}
