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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::snapshot::{AgentView, QueueView};
    use crate::engine::{AgentId, QueueId};

    fn queue(id: &str, waiting: usize, oldest: Option<i64>) -> QueueView {
        QueueView {
            id: QueueId::new(id).expect("id"),
            name: id.to_owned(),
            moh: String::new(),
            strategy: Default::default(),
            waiting,
            agents: 0,
            agents_logged_in: 0,
            agents_available: 0,
            oldest_wait_since: oldest.map(Timestamp::from_millis),
            alarms: Vec::new(),
            disposition_codes: Vec::new(),
            disposition_required: false,
            thresholds: Default::default(),
        }
    }

    fn agent(id: &str, status: AgentStatus, reason: Option<&str>, queues: &[&str]) -> AgentView {
        AgentView {
            id: AgentId::new(id).expect("id"),
            name: id.to_owned(),
            status,
            reason: reason.map(str::to_owned),
            since: Timestamp::from_millis(0),
            eligible_at: None,
            call: None,
            queues: queues
                .iter()
                .map(|q| QueueId::new(*q).expect("id"))
                .collect(),
            skills: Vec::new(),
            calls_answered: 0,
            talk_ms: 0,
            hold_ms: 0,
            missed_in_a_row: 0,
            busy_elsewhere: false,
            registered_on: Vec::new(),
            after_call: None,
        }
    }

    #[test]
    fn queues_and_agents_are_counted_per_state_with_zeros_and_the_outbox_only_when_read() {
        let snapshot = Snapshot {
            queues: vec![queue("support", 2, Some(1_000)), queue("sales", 0, None)],
            agents: [
                agent("1001", AgentStatus::OnCall, None, &["support", "sales"]),
                agent("1002", AgentStatus::Paused, Some("lunch"), &["support"]),
                agent("1003", AgentStatus::Paused, Some("lunch"), &["sales"]),
            ]
            .into_iter()
            .collect(),
            ..Snapshot::default()
        };
        let now = Timestamp::from_millis(31_500);
        let read = StoreView {
            outbox: Some(OutboxBacklog {
                pending: 3,
                oldest_age: Some(Duration::from_secs(90)),
            }),
        };
        let text = render(&snapshot, now, read);
        for line in [
            "switchboard_queue_waiting{queue=\"support\"} 2",
            "switchboard_queue_waiting{queue=\"sales\"} 0",
            "switchboard_queue_longest_wait_seconds{queue=\"support\"} 30.5",
            "switchboard_queue_longest_wait_seconds{queue=\"sales\"} 0",
            "switchboard_queue_agents{queue=\"support\",state=\"on_call\"} 1",
            "switchboard_queue_agents{queue=\"support\",state=\"paused\"} 1",
            "switchboard_queue_agents{queue=\"support\",state=\"available\"} 0",
            "switchboard_queue_agents{queue=\"sales\",state=\"on_call\"} 1",
            "switchboard_agents{state=\"on_call\"} 1",
            "switchboard_agents{state=\"paused\"} 2",
            "switchboard_agents{state=\"unreachable\"} 0",
            "switchboard_agents_paused{reason=\"lunch\"} 2",
            "switchboard_database_up 1",
            "switchboard_outbox_pending 3",
            "switchboard_outbox_oldest_pending_age_seconds 90",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
        let unread = render(&snapshot, now, StoreView { outbox: None });
        assert!(unread.lines().any(|l| l == "switchboard_database_up 0"));
        assert!(!unread.contains("switchboard_outbox_pending"));
    }
}
