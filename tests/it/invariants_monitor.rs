//! The monitoring part of the invariants checked when a `TestApp` is dropped: monitoring never
//! changes who handles the call, except a take over. A supervisor's leg
//! (`switchboard_role=monitor`) is never bridged on the switch unless its session ended
//! `took_over`, and is never a call's agent leg in the history; each session in the history
//! starts at most once and ends at most once, and one that ended (other than by a take over)
//! has its leg gone on the switch.

use std::collections::HashMap;

/// A supervisor's leg as the switch reported it.
pub struct SupervisorLeg {
    pub uuid: String,
    pub bridged: bool,
    pub hung_up: bool,
}

/// `(monitor id, kind, reason)` of every monitoring history row, and every call's agent leg.
type History = (Vec<(String, String, Option<String>)>, Vec<String>);

fn read(database_url: &str) -> Result<History, String> {
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
            let events =
                sqlx::query("SELECT monitor_id, kind, reason FROM monitor_events ORDER BY id")
                    .fetch_all(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?
                    .into_iter()
                    .map(|r| (r.get(0), r.get(1), r.get(2)))
                    .collect();
            let agent_legs =
                sqlx::query("SELECT agent_channel FROM calls WHERE agent_channel IS NOT NULL")
                    .fetch_all(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?
                    .into_iter()
                    .map(|r| r.get(0))
                    .collect();
            Ok((events, agent_legs))
        })
    })
    .join()
    .map_err(|_| "the monitoring history reader panicked".to_owned())?
}

/// Every broken promise about monitoring, one line each.
pub fn violations(legs: &[SupervisorLeg], database_url: &str) -> Vec<String> {
    let (events, agent_legs) = match read(database_url) {
        Ok(history) => history,
        Err(e) => return vec![format!("cannot read the monitoring history: {e}")],
    };
    let mut broken = Vec::new();
    let took_over: Vec<&str> = events
        .iter()
        .filter(|(_, kind, reason)| kind == "ended" && reason.as_deref() == Some("took_over"))
        .map(|(monitor, _, _)| monitor.as_str())
        .collect();
    for leg in legs {
        if leg.bridged && !took_over.contains(&leg.uuid.as_str()) {
            broken.push(format!(
                "supervisor leg {} was bridged: monitoring changed who handles a call",
                leg.uuid
            ));
        }
        if agent_legs.contains(&leg.uuid) {
            broken.push(format!(
                "supervisor leg {} is a call's agent leg in the history",
                leg.uuid
            ));
        }
    }
    let mut counts: HashMap<(&str, &str), usize> = HashMap::new();
    for (monitor, kind, _) in &events {
        *counts.entry((monitor.as_str(), kind.as_str())).or_default() += 1;
    }
    for ((monitor, kind), n) in &counts {
        if *kind != "mode_changed" && *n > 1 {
            broken.push(format!("monitoring session {monitor} {kind} {n} times"));
        }
        if *kind == "ended" {
            if !counts.contains_key(&(*monitor, "started")) {
                broken.push(format!(
                    "monitoring session {monitor} ended without starting"
                ));
            }
            let gone_or_took_over =
                took_over.contains(monitor) || legs.iter().all(|l| l.uuid != *monitor || l.hung_up);
            if !gone_or_took_over {
                broken.push(format!(
                    "monitoring session {monitor} ended in the history while its leg is up"
                ));
            }
        }
    }
    broken
}
