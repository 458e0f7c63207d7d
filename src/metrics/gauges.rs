//! Gauges read at scrape time: per queue and per agent state from the engine's published
//! snapshot, and the webhook outbox's backlog and the database's reachability from the store
//! (the API reads those and hands them in, so this stays plain rendering).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use super::escape_label;
use crate::engine::snapshot::Snapshot;
use crate::engine::{AgentStatus, Timestamp};

/// The webhook deliveries not yet delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxBacklog {
    pub pending: u64,
    /// Since the oldest pending delivery's event happened; `None` when nothing is pending.
    pub oldest_age: Option<Duration>,
}

/// What the store said at scrape time: `None` when it could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreView {
    pub outbox: Option<OutboxBacklog>,
}

fn header(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
}

/// The gauges in the text exposition format.
pub fn render(snapshot: &Snapshot, now: Timestamp, store: StoreView) -> String {
    let mut out = String::new();
    header(
        &mut out,
        "switchboard_queue_waiting",
        "Calls waiting in the queue for an agent.",
    );
    for q in &snapshot.queues {
        let _ = writeln!(
            out,
            "switchboard_queue_waiting{{queue=\"{}\"}} {}",
            escape_label(q.id.as_str()),
            q.waiting
        );
    }
    header(
        &mut out,
        "switchboard_queue_longest_wait_seconds",
        "How long the queue's longest-waiting call has waited; 0 when none waits.",
    );
    for q in &snapshot.queues {
        let seconds = q
            .oldest_wait_since
            .map_or(0.0, |since| now.since(since).as_secs_f64());
        let _ = writeln!(
            out,
            "switchboard_queue_longest_wait_seconds{{queue=\"{}\"}} {seconds}",
            escape_label(q.id.as_str()),
        );
    }
    header(
        &mut out,
        "switchboard_queue_agents",
        "The queue's member agents in each state.",
    );
    for q in &snapshot.queues {
        let mut by_state: BTreeMap<&str, u64> =
            AgentStatus::ALL.iter().map(|s| (s.as_str(), 0)).collect();
        for agent in snapshot.agents.iter().filter(|a| a.queues.contains(&q.id)) {
            *by_state.entry(agent.status.as_str()).or_default() += 1;
        }
        for (state, n) in by_state {
            let _ = writeln!(
                out,
                "switchboard_queue_agents{{queue=\"{}\",state=\"{state}\"}} {n}",
                escape_label(q.id.as_str()),
            );
        }
    }
    header(&mut out, "switchboard_agents", "Agents in each state.");
    let mut by_state: BTreeMap<&str, u64> =
        AgentStatus::ALL.iter().map(|s| (s.as_str(), 0)).collect();
    let mut paused: BTreeMap<&str, u64> = BTreeMap::new();
    for agent in &snapshot.agents {
        *by_state.entry(agent.status.as_str()).or_default() += 1;
        if agent.status == AgentStatus::Paused {
            *paused
                .entry(agent.reason.as_deref().unwrap_or(""))
                .or_default() += 1;
        }
    }
    for (state, n) in by_state {
        let _ = writeln!(out, "switchboard_agents{{state=\"{state}\"}} {n}");
    }
    header(
        &mut out,
        "switchboard_agents_paused",
        "Paused agents by pause reason.",
    );
    for (reason, n) in paused {
        let _ = writeln!(
            out,
            "switchboard_agents_paused{{reason=\"{}\"}} {n}",
            escape_label(reason)
        );
    }
    header(
        &mut out,
        "switchboard_database_up",
        "Whether the database answered this scrape: 1 yes, 0 no.",
    );
    let _ = writeln!(
        out,
        "switchboard_database_up {}",
        u8::from(store.outbox.is_some())
    );
    if let Some(outbox) = store.outbox {
        header(
            &mut out,
            "switchboard_outbox_pending",
            "Webhook deliveries not yet delivered (pending, retrying included).",
        );
        let _ = writeln!(out, "switchboard_outbox_pending {}", outbox.pending);
        header(
            &mut out,
            "switchboard_outbox_oldest_pending_age_seconds",
            "Age of the event of the oldest pending webhook delivery; 0 when none is pending.",
        );
        let _ = writeln!(
            out,
            "switchboard_outbox_oldest_pending_age_seconds {}",
            outbox.oldest_age.unwrap_or_default().as_secs_f64()
        );
    }
    out
}
