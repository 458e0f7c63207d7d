//! What the engine asks the store to keep: append-only history, one variant per fact.

use serde::Serialize;

use super::ids::{AgentId, CallId, ChannelUuid, QueueId, SwitchName};
use super::time::Timestamp;

/// An agent's state, as seen by supervisors and kept in the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    LoggedOut,
    Available,
    Offered,
    OnCall,
    WrapUp,
}

impl AgentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::LoggedOut => "logged_out",
            AgentStatus::Available => "available",
            AgentStatus::Offered => "offered",
            AgentStatus::OnCall => "on_call",
            AgentStatus::WrapUp => "wrap_up",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "logged_out" => AgentStatus::LoggedOut,
            "available" => AgentStatus::Available,
            "offered" => AgentStatus::Offered,
            "on_call" => AgentStatus::OnCall,
            "wrap_up" => AgentStatus::WrapUp,
            _ => return None,
        })
    }
}

/// Why an agent's state changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StateCause {
    /// A REST request (an agent, a supervisor or an integration).
    Api,
    /// Provisioning at start or a reload.
    Provisioning,
    /// Routing: an offer, an answer, a hangup, the end of wrap-up.
    Routing,
    /// The switch's side: a restart or a lost channel.
    Switch,
}

impl StateCause {
    pub fn as_str(self) -> &'static str {
        match self {
            StateCause::Api => "api",
            StateCause::Provisioning => "provisioning",
            StateCause::Routing => "routing",
            StateCause::Switch => "switch",
        }
    }
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// Talked to an agent.
    Completed,
    /// The caller hung up before an agent answered.
    Abandoned,
    /// The switch lost the call (restart, channel gone while we were away).
    Lost,
}

impl CallOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Completed => "completed",
            CallOutcome::Abandoned => "abandoned",
            CallOutcome::Lost => "lost",
        }
    }
}

/// Queue events in the spirit of Asterisk's `queue_log`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueEventKind {
    Enter,
    Connect,
    Abandon,
    RingNoAnswer,
    Complete,
}

impl QueueEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            QueueEventKind::Enter => "enter",
            QueueEventKind::Connect => "connect",
            QueueEventKind::Abandon => "abandon",
            QueueEventKind::RingNoAnswer => "ring_no_answer",
            QueueEventKind::Complete => "complete",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// A call entered a queue: the history row is created.
    CallEntered {
        call: CallId,
        switch: SwitchName,
        channel: ChannelUuid,
        queue: QueueId,
        caller_number: String,
        caller_name: String,
        destination: String,
        priority: i32,
        at: Timestamp,
    },
    /// An agent answered: the call is connected.
    CallAnswered {
        call: CallId,
        agent: AgentId,
        agent_channel: ChannelUuid,
        wait_ms: i64,
        at: Timestamp,
    },
    /// The call is over; the history row is closed.
    CallEnded {
        call: CallId,
        outcome: CallOutcome,
        hangup_cause: String,
        talk_ms: Option<i64>,
        at: Timestamp,
    },
    QueueEvent {
        call: CallId,
        queue: QueueId,
        agent: Option<AgentId>,
        kind: QueueEventKind,
        /// A cause or a duration, depending on the kind (`USER_BUSY`, `wait=1200`).
        detail: String,
        at: Timestamp,
    },
    AgentState {
        agent: AgentId,
        from: AgentStatus,
        to: AgentStatus,
        cause: StateCause,
        at: Timestamp,
    },
}
