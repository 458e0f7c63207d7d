//! The read model the engine publishes for REST and the demo's status line.

use serde::Serialize;

use super::core::{Counters, Engine};
use super::ids::{AgentId, CallId, QueueId};
use super::model::{AgentState, CallState};
use super::record::AgentStatus;
use super::time::Timestamp;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Snapshot {
    pub at: Option<Timestamp>,
    pub counters: Counters,
    pub queues: Vec<QueueView>,
    pub agents: Vec<AgentView>,
    pub calls: Vec<CallView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct QueueView {
    pub id: QueueId,
    pub name: String,
    pub moh: String,
    pub waiting: usize,
    pub agents: usize,
    pub agents_available: usize,
    pub oldest_wait_since: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AgentView {
    pub id: AgentId,
    pub name: String,
    pub status: AgentStatus,
    pub since: Timestamp,
    /// Set while the agent sits out after a failed offer.
    pub eligible_at: Option<Timestamp>,
    pub call: Option<CallId>,
    pub queues: Vec<QueueId>,
    pub calls_answered: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CallView {
    pub id: CallId,
    pub switch: String,
    pub channel: String,
    pub queue: QueueId,
    pub caller_number: String,
    pub caller_name: String,
    pub state: &'static str,
    pub priority: i32,
    pub entered_at: Timestamp,
    pub agent: Option<AgentId>,
    pub agent_channel: Option<String>,
}

impl Snapshot {
    pub fn waiting(&self) -> usize {
        self.queues.iter().map(|q| q.waiting).sum()
    }

    pub fn agents_busy(&self) -> usize {
        self.agents
            .iter()
            .filter(|a| matches!(a.status, AgentStatus::Offered | AgentStatus::OnCall))
            .count()
    }
}

impl Engine {
    /// Everything a supervisor sees, sorted for stable output. O(agents + calls): published at
    /// a bounded rate, never per input.
    pub fn snapshot(&self, now: Timestamp) -> Snapshot {
        let mut queues: Vec<QueueView> = self
            .queues
            .values()
            .map(|q| QueueView {
                id: q.settings.id.clone(),
                name: q.settings.name.clone(),
                moh: q.settings.moh.clone(),
                waiting: q.waiting.len(),
                agents: q.members,
                agents_available: q.idle_agents.len(),
                oldest_wait_since: q.waiting.iter().map(|k| k.entered_at).min(),
            })
            .collect();
        queues.sort_by(|a, b| a.id.cmp(&b.id));
        let mut agents: Vec<AgentView> = self
            .agents
            .values()
            .map(|a| AgentView {
                id: a.settings.id.clone(),
                name: a.settings.name.clone(),
                status: a.state.status(),
                since: a.since,
                eligible_at: match a.state {
                    AgentState::Backoff { until } => Some(until),
                    _ => None,
                },
                call: match &a.state {
                    AgentState::Offered { call, .. } | AgentState::OnCall { call, .. } => {
                        Some(*call)
                    }
                    _ => None,
                },
                queues: a.settings.queues.iter().map(|m| m.queue.clone()).collect(),
                calls_answered: a.calls_answered,
            })
            .collect();
        agents.sort_by(|a, b| a.id.cmp(&b.id));
        let mut calls: Vec<CallView> = self
            .calls
            .values()
            .map(|c| {
                let (state, agent, leg) = match &c.state {
                    CallState::Waiting => ("waiting", None, None),
                    CallState::Ringing { agent, leg, .. } => {
                        ("ringing", Some(agent.clone()), Some(leg.to_string()))
                    }
                    CallState::Bridged { agent, leg, .. } => {
                        ("bridged", Some(agent.clone()), Some(leg.to_string()))
                    }
                };
                CallView {
                    id: c.id,
                    switch: c.switch.to_string(),
                    channel: c.caller.to_string(),
                    queue: c.queue.clone(),
                    caller_number: c.caller_number.clone(),
                    caller_name: c.caller_name.clone(),
                    state,
                    priority: c.wait_key.priority.0,
                    entered_at: c.wait_key.entered_at,
                    agent,
                    agent_channel: leg,
                }
            })
            .collect();
        calls.sort_by(|a, b| a.entered_at.cmp(&b.entered_at).then(a.id.cmp(&b.id)));
        Snapshot {
            at: Some(now),
            counters: self.counters(),
            queues,
            agents,
            calls,
        }
    }
}
