//! The engine's plain data: provisioned settings and the live state of queues, agents and calls.

use std::cmp::Reverse;
use std::collections::BTreeSet;
use std::time::Duration;

use super::ids::{AgentId, CallId, ChannelUuid, QueueId, SwitchName};
use super::record::AgentStatus;
use super::routing::{Membership, QueueRouting, SkillLevel};
use super::time::Timestamp;

#[derive(Debug, Clone, PartialEq)]
pub struct QueueSettings {
    pub id: QueueId,
    pub name: String,
    /// What callers hear while they wait (`local_stream://moh`).
    pub moh: String,
    pub wrap_up: Duration,
    /// How long an agent's phone rings before the offer is given up.
    pub ring_timeout: Duration,
    /// How long an agent whose phone was busy is left out (and, unless the routing settings
    /// say otherwise, one who rejected or did not answer).
    pub busy_backoff: Duration,
    pub routing: QueueRouting,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AgentSettings {
    pub id: AgentId,
    pub name: String,
    /// Validated by `config::DialString` before it gets here.
    pub dial_string: String,
    pub queues: Vec<Membership>,
    /// Sorted by skill, one entry per skill (see `routing::canonical`).
    pub skills: Vec<SkillLevel>,
}

impl AgentSettings {
    pub fn membership(&self, queue: &QueueId) -> Option<&Membership> {
        self.queues.iter().find(|m| &m.queue == queue)
    }

    pub fn level(&self, skill: &super::ids::SkillId) -> u8 {
        self.skills
            .binary_search_by(|s| s.skill.cmp(skill))
            .map_or(0, |i| self.skills[i].level.get())
    }
}

/// Waiting calls are ordered by priority (higher first), then by when they entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct WaitKey {
    pub priority: Reverse<i32>,
    pub entered_at: Timestamp,
    pub seq: u64,
    pub call: CallId,
}

/// Idle agents are ordered by how long they have been idle (longest first).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct IdleKey {
    pub idle_since: Timestamp,
    pub seq: u64,
    pub agent: AgentId,
}

#[derive(Debug)]
pub struct Queue {
    pub settings: QueueSettings,
    pub waiting: BTreeSet<WaitKey>,
    pub idle_agents: BTreeSet<IdleKey>,
    pub members: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AgentState {
    LoggedOut,
    /// Eligible for offers, in every one of its queues' idle sets.
    Available,
    /// Logged in but left out until `until` after a failed offer.
    Backoff {
        until: Timestamp,
    },
    Offered {
        call: CallId,
        leg: ChannelUuid,
    },
    OnCall {
        call: CallId,
        leg: ChannelUuid,
    },
    WrapUp {
        until: Timestamp,
    },
}

impl AgentState {
    pub fn status(&self) -> AgentStatus {
        match self {
            AgentState::LoggedOut => AgentStatus::LoggedOut,
            AgentState::Available | AgentState::Backoff { .. } => AgentStatus::Available,
            AgentState::Offered { .. } => AgentStatus::Offered,
            AgentState::OnCall { .. } => AgentStatus::OnCall,
            AgentState::WrapUp { .. } => AgentStatus::WrapUp,
        }
    }
}

#[derive(Debug)]
pub struct Agent {
    pub settings: AgentSettings,
    pub state: AgentState,
    pub since: Timestamp,
    /// Present exactly when the agent is `Available`.
    pub idle_key: Option<IdleKey>,
    /// Bumped on every state change so stale timers are recognised.
    pub epoch: u64,
    pub calls_answered: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CallState {
    Waiting,
    Ringing {
        agent: AgentId,
        leg: ChannelUuid,
        since: Timestamp,
    },
    Bridged {
        agent: AgentId,
        leg: ChannelUuid,
        answered_at: Timestamp,
    },
}

#[derive(Debug)]
pub struct Call {
    pub id: CallId,
    pub switch: SwitchName,
    pub caller: ChannelUuid,
    pub queue: QueueId,
    pub caller_number: String,
    pub caller_name: String,
    pub destination: String,
    pub wait_key: WaitKey,
    pub state: CallState,
}

/// Which call a channel belongs to, and as what.
#[derive(Debug, Clone, PartialEq)]
pub enum LegOwner {
    Caller(CallId),
    Agent { call: CallId, agent: AgentId },
}
