//! Invariants of provisioned queues, checked with the others when a test's app is dropped:
//! whatever REST created, changed or removed, no agent is a member of a queue that does not
//! exist and no queue sends callers (`on_max_wait`, `on_no_agents`, exit keys) to one.

use std::collections::HashSet;

use switchboard::engine::{overflow_targets, QueueRouting};

/// Every broken promise, one line each.
pub fn violations(database_url: &str) -> Vec<String> {
    match read(database_url) {
        Ok((queues, memberships)) => {
            let ids: HashSet<&str> = queues.iter().map(|(id, _)| id.as_str()).collect();
            let mut broken = Vec::new();
            for (agent, queue) in &memberships {
                if !ids.contains(queue.as_str()) {
                    broken.push(format!(
                        "agent {agent} is a member of missing queue {queue}"
                    ));
                }
            }
            for (id, routing) in &queues {
                for target in overflow_targets(routing) {
                    if !ids.contains(target.as_str()) {
                        broken.push(format!(
                            "queue {id} sends callers to missing queue {target}"
                        ));
                    }
                }
            }
            broken
        }
        Err(e) => vec![format!("cannot read the provisioned queues: {e}")],
    }
}

type Read = (Vec<(String, QueueRouting)>, Vec<(String, String)>);

fn read(database_url: &str) -> Result<Read, String> {
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
            let queues = sqlx::query("SELECT id, routing FROM queues")
                .fetch_all(&mut conn)
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|r| {
                    let routing: String = r.get("routing");
                    serde_json::from_str::<QueueRouting>(&routing)
                        .map(|routing| (r.get("id"), routing))
                        .map_err(|e| e.to_string())
                })
                .collect::<Result<Vec<_>, _>>()?;
            let memberships = sqlx::query("SELECT agent_id, queue_id FROM agent_queues")
                .fetch_all(&mut conn)
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|r| (r.get("agent_id"), r.get("queue_id")))
                .collect();
            Ok((queues, memberships))
        })
    })
    .join()
    .map_err(|_| "the reading thread panicked".to_owned())?
}
