//! Invariants of after-call work, checked with the others when a test's app is dropped: while
//! a pause or log-out waits for an agent's call, the agent is never made available or offered
//! a call (it takes what waits instead), and a disposition is only on a call an agent answered.
//! Read from the CTI events, whose `seq` orders state changes and after-call changes as written.
//! A restarted controller's provisioning (cause `provisioning`) is left out: it shows agents
//! available before its resync finds their calls.

use std::collections::HashMap;

use serde_json::Value;

/// Every broken promise, one line each.
pub fn violations(database_url: &str) -> Vec<String> {
    match read(database_url) {
        Ok((events, disposed_unanswered)) => {
            let mut broken = pending_violations(&events);
            broken.extend(
                disposed_unanswered
                    .into_iter()
                    .map(|call| format!("call {call} has a disposition but no agent answered it")),
            );
            broken
        }
        Err(e) => vec![format!("cannot read the after-call history: {e}")],
    }
}

type Events = Vec<(String, String, Value)>;

/// `(type, agent, details)` of the agent events in order, and calls with a disposition but no
/// agent.
fn read(database_url: &str) -> Result<(Events, Vec<String>), String> {
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
            let rows = sqlx::query(
                "SELECT type, agent_id, payload FROM cti_events WHERE type IN \
                 ('agent.state_changed', 'agent.after_call') ORDER BY seq",
            )
            .fetch_all(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
            let events = rows
                .into_iter()
                .filter_map(|r| {
                    let agent: Option<String> = r.get("agent_id");
                    let payload: Option<String> = r.get("payload");
                    let details =
                        serde_json::from_str::<Value>(&payload?).ok()?["data"]["details"].clone();
                    Some((r.get("type"), agent?, details))
                })
                .collect();
            let disposed = sqlx::query(
                "SELECT id FROM calls WHERE disposition IS NOT NULL AND agent_id IS NULL",
            )
            .fetch_all(&mut conn)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|r| r.get("id"))
            .collect();
            Ok((events, disposed))
        })
    })
    .join()
    .map_err(|_| "the after-call reader panicked".to_owned())?
}

fn pending_violations(events: &Events) -> Vec<String> {
    let mut pending: HashMap<&str, bool> = HashMap::new();
    let mut broken = Vec::new();
    for (kind, agent, details) in events {
        match kind.as_str() {
            "agent.after_call" => {
                pending.insert(agent, details["pending"] == Value::Bool(true));
            }
            _ => {
                let to = details["to"].as_str().unwrap_or_default();
                // A restarted controller provisions its agents before its resync finds their
                // calls: that first `available` is the restart's, not routing's.
                let restart = details["cause"] == "provisioning";
                if pending.get(agent.as_str()) == Some(&true)
                    && !restart
                    && matches!(to, "available" | "offered")
                {
                    broken.push(format!(
                        "agent {agent} became {to} while a pause or log-out waited for its call"
                    ));
                }
            }
        }
    }
    broken
}
