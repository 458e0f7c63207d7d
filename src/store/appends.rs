//! The rows a history batch only appends (queue events, IVR steps, agent state changes), held
//! until the batch's records are applied and then written a few to an INSERT (`multi_row`), in
//! the order the records made them. Nothing a batch applies reads these tables back, so holding
//! them changes no row; only an agent state change's `previous_state_ms` looks at the agent's
//! previous change, and a change held in the same batch answers that here.

use std::collections::HashMap;

use sqlx::AnyConnection;

use super::multi_row::insert;
use super::StoreError;
use crate::engine::{AgentId, CallId, QueueEventKind, QueueId, Timestamp};

struct QueueEvent {
    call: String,
    queue: String,
    agent: Option<String>,
    kind: &'static str,
    detail: String,
    at: i64,
}

pub(super) struct FlowStep {
    pub(super) call: String,
    pub(super) flow: String,
    pub(super) node: String,
    pub(super) kind: String,
    pub(super) digits: String,
    pub(super) outcome: String,
    pub(super) at: i64,
    pub(super) survey: bool,
}

struct AgentState {
    agent: String,
    from: &'static str,
    to: &'static str,
    cause: &'static str,
    reason: Option<String>,
    at: i64,
    /// When the agent's previous change held in this batch happened; none: read the stored one.
    previous_at: Option<i64>,
}

/// One batch's appended rows, in the order its records made them.
#[derive(Default)]
pub(super) struct Appends {
    queue_events: Vec<QueueEvent>,
    flow_steps: Vec<FlowStep>,
    agent_states: Vec<AgentState>,
    last_state_at: HashMap<String, i64>,
}

impl Appends {
    /// A queue event of a record, in the history's terms.
    pub(super) fn queue_event(
        &mut self,
        call: &CallId,
        queue: &QueueId,
        agent: Option<&AgentId>,
        kind: QueueEventKind,
        detail: String,
        at: Timestamp,
    ) {
        self.queue_events.push(QueueEvent {
            call: call.to_string(),
            queue: queue.as_str().to_owned(),
            agent: agent.map(|a| a.as_str().to_owned()),
            kind: kind.as_str(),
            detail,
            at: at.as_millis(),
        });
    }

    pub(super) fn flow_step(&mut self, step: FlowStep) {
        self.flow_steps.push(step);
    }

    pub(super) fn agent_state(
        &mut self,
        agent: String,
        (from, to): (&'static str, &'static str),
        cause: &'static str,
        reason: Option<String>,
        at: i64,
    ) {
        let previous_at = self.last_state_at.insert(agent.clone(), at);
        self.agent_states.push(AgentState {
            agent,
            from,
            to,
            cause,
            reason,
            at,
            previous_at,
        });
    }

    /// Writes what the batch appended. Runs in its transaction, after its records.
    pub(super) async fn write(self, conn: &mut AnyConnection) -> Result<(), StoreError> {
        insert(
            conn,
            "queue_events (call_id, queue_id, agent_id, kind, detail, at)",
            6,
            &self.queue_events,
            None,
            |query, e| {
                query
                    .bind(e.call.as_str())
                    .bind(e.queue.as_str())
                    .bind(e.agent.clone())
                    .bind(e.kind)
                    .bind(e.detail.as_str())
                    .bind(e.at)
            },
        )
        .await?;
        insert(
            conn,
            "flow_steps (call_id, flow_id, node, kind, digits, outcome, at, survey)",
            8,
            &self.flow_steps,
            None,
            |query, s| {
                query
                    .bind(s.call.as_str())
                    .bind(s.flow.as_str())
                    .bind(s.node.as_str())
                    .bind(s.kind.as_str())
                    .bind(s.digits.as_str())
                    .bind(s.outcome.as_str())
                    .bind(s.at)
                    .bind(i64::from(s.survey))
            },
        )
        .await?;
        // p: agent, from, to, cause, at, previous change held in the batch, reason.
        let agent_state_row = |p: &[String]| {
            format!(
                "{agent}, {from}, {to}, {cause}, {at}, {at} - COALESCE({held}, \
                 (SELECT s.at FROM agent_state_changes s WHERE s.agent_id = {agent} \
                 ORDER BY s.id DESC LIMIT 1)), {reason}",
                agent = p[0],
                from = p[1],
                to = p[2],
                cause = p[3],
                at = p[4],
                held = p[5],
                reason = p[6],
            )
        };
        insert(
            conn,
            "agent_state_changes \
             (agent_id, from_status, to_status, cause, at, previous_state_ms, reason)",
            7,
            &self.agent_states,
            Some(&agent_state_row),
            |query, a| {
                query
                    .bind(a.agent.as_str())
                    .bind(a.from)
                    .bind(a.to)
                    .bind(a.cause)
                    .bind(a.at)
                    .bind(a.previous_at)
                    .bind(a.reason.clone())
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agents_second_change_in_a_batch_measures_from_the_first_and_the_first_from_the_store() {
        let mut appends = Appends::default();
        appends.agent_state(
            "1001".into(),
            ("available", "offered"),
            "offer",
            None,
            1_000,
        );
        appends.agent_state(
            "1002".into(),
            ("available", "offered"),
            "offer",
            None,
            1_500,
        );
        appends.agent_state("1001".into(), ("offered", "on_call"), "answer", None, 4_000);
        let held: Vec<Option<i64>> = appends.agent_states.iter().map(|a| a.previous_at).collect();
        assert_eq!(held, [None, None, Some(1_000)]);
    }
}
