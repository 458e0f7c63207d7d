//! What reads return: plain structs (serialized as JSON by the REST API), and the checked
//! decoding of database rows into them.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::StoreError;
use crate::config::DialString;
use crate::engine::record::FlowOutcome;
use crate::engine::{
    AgentId, AgentStatus, CallId, CallOutcome, ChannelId, FlowId, Membership, QueueEventKind,
    QueueId, QueueRouting, SkillLevel, StateCause, SwitchName, Timestamp,
};

/// A reason an agent may pause for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct PauseReasonRow {
    /// What the agent enters (digits from the phone) or the API sends.
    pub code: String,
    pub name: String,
    /// Time in this pause counts as work (training, back office).
    pub productive: bool,
}

impl PauseReasonRow {
    pub fn from_provisioned(r: &crate::config::ProvisionedPauseReason) -> Self {
        Self {
            code: r.code.clone(),
            name: r.name.clone(),
            productive: r.productive,
        }
    }
}

/// A queue as provisioned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueRow {
    pub id: QueueId,
    pub name: String,
    /// Hold music source, such as `local_stream://moh`.
    pub moh: String,
    pub wrap_up_ms: i64,
    pub ring_timeout_ms: i64,
    /// `None`: the config's `[routing] busy_backoff`.
    pub busy_backoff_ms: Option<i64>,
    pub routing: QueueRouting,
}

/// An agent as provisioned, with the queues they serve in their order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentRow {
    pub id: AgentId,
    pub name: String,
    pub dial_string: DialString,
    pub queues: Vec<Membership>,
    /// Sorted by skill, one entry per skill.
    pub skills: Vec<SkillLevel>,
    /// Never shown: a hash, but of a short secret.
    #[serde(skip)]
    pub pin_hash: Option<crate::engine::PinHash>,
}

/// One call's history row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallRow {
    pub id: CallId,
    pub switch: SwitchName,
    pub caller_channel: ChannelId,
    pub queue: QueueId,
    pub caller_number: String,
    pub caller_name: String,
    pub destination: String,
    pub priority: i32,
    pub entered_at: Timestamp,
    pub answered_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub agent: Option<AgentId>,
    pub agent_channel: Option<ChannelId>,
    pub wait_ms: Option<i64>,
    pub talk_ms: Option<i64>,
    pub outcome: Option<CallOutcome>,
    pub hangup_cause: Option<String>,
    /// The call's finished holds: their total and number (None: never held).
    pub hold_ms: Option<i64>,
    pub holds: Option<i64>,
    /// The disposition code the agent gave the call (None: none given).
    pub disposition: Option<String>,
}

/// One `queue_log`-style event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueEventRow {
    /// Position in the log: events are read back in the order they were written.
    pub seq: i64,
    pub call: CallId,
    pub queue: QueueId,
    pub agent: Option<AgentId>,
    pub kind: QueueEventKind,
    pub detail: String,
    pub at: Timestamp,
}

/// One agent state change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentStateRow {
    pub seq: i64,
    pub agent: AgentId,
    pub from: AgentStatus,
    pub to: AgentStatus,
    pub cause: StateCause,
    /// Why the agent was paused, when the change says.
    pub reason: Option<String>,
    pub at: Timestamp,
    /// Time spent in `from`, when the previous change for this agent is in the history.
    pub previous_state_ms: Option<i64>,
}

/// One caller's way through the IVR: where they came in, how they left, what they entered,
/// and every node on the way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowSessionRow {
    /// The call's id: the same as in `calls` when the caller reached a queue.
    pub call: CallId,
    pub switch: SwitchName,
    pub caller_channel: ChannelId,
    /// The flow the caller entered (a `goto` may have taken them on; see each step's flow).
    pub flow: FlowId,
    /// The `switchboard_flow` entry point the dialplan parked the caller with.
    pub entry: String,
    pub caller_number: String,
    pub caller_name: String,
    pub destination: String,
    pub entered_at: Timestamp,
    pub ended_at: Option<Timestamp>,
    pub outcome: Option<FlowOutcome>,
    /// What the caller entered and the CRM returned: so far while the session runs (as of
    /// its last wait), all of it once it has ended. Never `secret` collects.
    pub variables: BTreeMap<String, String>,
    pub steps: Vec<FlowStepRow>,
}

/// One node a caller went through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowStepRow {
    pub seq: i64,
    pub flow: FlowId,
    pub node: String,
    pub kind: String,
    pub digits: String,
    pub outcome: String,
    pub at: Timestamp,
}

/// A caller's post-call survey: the agent it is about, the answers, the steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SurveyRow {
    pub call: CallId,
    pub flow: FlowId,
    pub agent: AgentId,
    pub started_at: Timestamp,
    pub ended_at: Option<Timestamp>,
    pub outcome: Option<FlowOutcome>,
    /// The variables the survey set (`rating`, ...); empty until it ends.
    pub answers: BTreeMap<String, String>,
    pub steps: Vec<FlowStepRow>,
}

/// One session in a flow's listing: who called, how they came in and left, and how many nodes
/// they went through (one session's steps are read with the call).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowSessionSummary {
    pub call: CallId,
    pub caller_number: String,
    pub caller_name: String,
    pub destination: String,
    /// The `switchboard_flow` entry point the dialplan parked the caller with.
    pub entry: String,
    pub entered_at: Timestamp,
    pub ended_at: Option<Timestamp>,
    pub outcome: Option<FlowOutcome>,
    /// What the caller entered and the CRM returned: so far while the session runs (as of
    /// its last wait), all of it once it has ended. Never `secret` collects.
    pub variables: BTreeMap<String, String>,
    pub step_count: i64,
}

/// How many ended sessions had their last step at one node, by how they ended: where callers
/// leave the IVR (`abandoned`: they hung up there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowExitRow {
    pub node: String,
    pub kind: String,
    pub outcome: FlowOutcome,
    pub sessions: i64,
}

/// Decodes the columns of one row, turning every failure into `StoreError::Corrupt` naming the
/// table and the row.
pub(super) struct Columns<'r> {
    row: &'r AnyRow,
    table: &'static str,
    id: String,
}

impl<'r> Columns<'r> {
    /// `id_column` names the row in errors; it is read as text or as an integer.
    pub(super) fn new(row: &'r AnyRow, table: &'static str, id_column: &str) -> Self {
        let id = row
            .try_get::<String, _>(id_column)
            .or_else(|_| row.try_get::<i64, _>(id_column).map(|n| n.to_string()))
            .unwrap_or_else(|_| "?".to_owned());
        Self { row, table, id }
    }

    pub(super) fn corrupt(&self, reason: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            table: self.table,
            id: self.id.clone(),
            reason: reason.into(),
        }
    }

    pub(super) fn text(&self, column: &str) -> Result<String, StoreError> {
        self.row
            .try_get::<String, _>(column)
            .map_err(|e| self.corrupt(format!("{column}: {e}")))
    }

    pub(super) fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        self.row
            .try_get::<Option<String>, _>(column)
            .map_err(|e| self.corrupt(format!("{column}: {e}")))
    }

    pub(super) fn int(&self, column: &str) -> Result<i64, StoreError> {
        self.row
            .try_get::<i64, _>(column)
            .map_err(|e| self.corrupt(format!("{column}: {e}")))
    }

    pub(super) fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
        self.row
            .try_get::<Option<i64>, _>(column)
            .map_err(|e| self.corrupt(format!("{column}: {e}")))
    }

    /// A text column parsed into a typed value.
    pub(super) fn parsed<T, E: std::fmt::Display>(
        &self,
        column: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, StoreError> {
        let text = self.text(column)?;
        parse(&text).map_err(|e| self.corrupt(format!("{column}: {e}")))
    }

    /// An integer column that must fit `T` (a tier, a position, a weight).
    pub(super) fn ranged<T: TryFrom<i64>>(&self, column: &str) -> Result<T, StoreError> {
        let n = self.int(column)?;
        T::try_from(n).map_err(|_| self.corrupt(format!("{column}: {n} is out of range")))
    }

    /// A text column holding JSON.
    pub(super) fn json<T: serde::de::DeserializeOwned>(
        &self,
        column: &str,
    ) -> Result<T, StoreError> {
        let text = self.text(column)?;
        serde_json::from_str(&text).map_err(|e| self.corrupt(format!("{column}: {e}")))
    }

    pub(super) fn opt_parsed<T, E: std::fmt::Display>(
        &self,
        column: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<Option<T>, StoreError> {
        match self.opt_text(column)? {
            Some(text) => parse(&text)
                .map(Some)
                .map_err(|e| self.corrupt(format!("{column}: {e}"))),
            None => Ok(None),
        }
    }
}

// The engine's enums have `as_str` and an `ALL` list (kept complete by tests in
// `engine::record`); these invert `as_str`.

pub(super) fn agent_status(s: &str) -> Result<AgentStatus, String> {
    AgentStatus::parse(s).ok_or_else(|| format!("{s:?} is not an agent status"))
}

pub(super) fn call_outcome(s: &str) -> Result<CallOutcome, String> {
    CallOutcome::ALL
        .into_iter()
        .find(|o| o.as_str() == s)
        .ok_or_else(|| format!("{s:?} is not a call outcome"))
}

pub(super) fn queue_event_kind(s: &str) -> Result<QueueEventKind, String> {
    QueueEventKind::ALL
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| format!("{s:?} is not a queue event kind"))
}

pub(super) fn state_cause(s: &str) -> Result<StateCause, String> {
    StateCause::ALL
        .into_iter()
        .find(|c| c.as_str() == s)
        .ok_or_else(|| format!("{s:?} is not a state cause"))
}

pub(super) fn call_row(row: &AnyRow) -> Result<CallRow, StoreError> {
    let c = Columns::new(row, "calls", "id");
    let priority = c.int("priority")?;
    Ok(CallRow {
        id: c.parsed("id", CallId::parse)?,
        switch: c.parsed("switch", |s: &str| SwitchName::new(s))?,
        caller_channel: c.parsed("caller_channel", ChannelId::parse)?,
        queue: c.parsed("queue_id", |s: &str| QueueId::new(s))?,
        caller_number: c.text("caller_number")?,
        caller_name: c.text("caller_name")?,
        destination: c.text("destination")?,
        priority: i32::try_from(priority)
            .map_err(|_| c.corrupt(format!("priority: {priority} is out of range")))?,
        entered_at: Timestamp::from_millis(c.int("entered_at")?),
        answered_at: c.opt_int("answered_at")?.map(Timestamp::from_millis),
        ended_at: c.opt_int("ended_at")?.map(Timestamp::from_millis),
        agent: c.opt_parsed("agent_id", |s: &str| AgentId::new(s))?,
        agent_channel: c.opt_parsed("agent_channel", ChannelId::parse)?,
        wait_ms: c.opt_int("wait_ms")?,
        talk_ms: c.opt_int("talk_ms")?,
        outcome: c.opt_parsed("outcome", call_outcome)?,
        hangup_cause: c.opt_text("hangup_cause")?,
        hold_ms: c.opt_int("hold_ms")?,
        holds: c.opt_int("holds")?,
        disposition: c.opt_text("disposition")?,
    })
}

pub(super) fn queue_event_row(row: &AnyRow) -> Result<QueueEventRow, StoreError> {
    let c = Columns::new(row, "queue_events", "id");
    Ok(QueueEventRow {
        seq: c.int("id")?,
        call: c.parsed("call_id", CallId::parse)?,
        queue: c.parsed("queue_id", |s: &str| QueueId::new(s))?,
        agent: c.opt_parsed("agent_id", |s: &str| AgentId::new(s))?,
        kind: c.parsed("kind", queue_event_kind)?,
        detail: c.text("detail")?,
        at: Timestamp::from_millis(c.int("at")?),
    })
}

pub(super) fn agent_state_row(row: &AnyRow) -> Result<AgentStateRow, StoreError> {
    let c = Columns::new(row, "agent_state_changes", "id");
    Ok(AgentStateRow {
        seq: c.int("id")?,
        agent: c.parsed("agent_id", |s: &str| AgentId::new(s))?,
        from: c.parsed("from_status", agent_status)?,
        to: c.parsed("to_status", agent_status)?,
        cause: c.parsed("cause", state_cause)?,
        reason: c.opt_text("reason")?,
        at: Timestamp::from_millis(c.int("at")?),
        previous_state_ms: c.opt_int("previous_state_ms")?,
    })
}

pub(super) fn flow_outcome(s: &str) -> Result<FlowOutcome, String> {
    FlowOutcome::parse(s).ok_or_else(|| format!("{s:?} is not a flow outcome"))
}

/// A session without its steps (read separately).
pub(super) fn flow_session_row(row: &AnyRow) -> Result<FlowSessionRow, StoreError> {
    let c = Columns::new(row, "flow_sessions", "call_id");
    let variables = match c.opt_text("variables")? {
        Some(text) => {
            serde_json::from_str(&text).map_err(|e| c.corrupt(format!("variables: {e}")))?
        }
        None => BTreeMap::new(),
    };
    Ok(FlowSessionRow {
        call: c.parsed("call_id", CallId::parse)?,
        switch: c.parsed("switch", |s: &str| SwitchName::new(s))?,
        caller_channel: c.parsed("caller_channel", ChannelId::parse)?,
        flow: c.parsed("flow_id", |s: &str| FlowId::new(s))?,
        entry: c.text("entry")?,
        caller_number: c.text("caller_number")?,
        caller_name: c.text("caller_name")?,
        destination: c.text("destination")?,
        entered_at: Timestamp::from_millis(c.int("entered_at")?),
        ended_at: c.opt_int("ended_at")?.map(Timestamp::from_millis),
        outcome: c.opt_parsed("outcome", flow_outcome)?,
        variables,
        steps: Vec::new(),
    })
}

/// A survey without its steps (read separately).
pub(super) fn survey_row(row: &AnyRow) -> Result<SurveyRow, StoreError> {
    let c = Columns::new(row, "call_surveys", "call_id");
    let answers = match c.opt_text("answers")? {
        Some(text) => {
            serde_json::from_str(&text).map_err(|e| c.corrupt(format!("answers: {e}")))?
        }
        None => BTreeMap::new(),
    };
    Ok(SurveyRow {
        call: c.parsed("call_id", CallId::parse)?,
        flow: c.parsed("flow_id", |s: &str| FlowId::new(s))?,
        agent: c.parsed("agent_id", |s: &str| AgentId::new(s))?,
        started_at: Timestamp::from_millis(c.int("started_at")?),
        ended_at: c.opt_int("ended_at")?.map(Timestamp::from_millis),
        outcome: c.opt_parsed("outcome", flow_outcome)?,
        answers,
        steps: Vec::new(),
    })
}

pub(super) fn flow_step_row(row: &AnyRow) -> Result<FlowStepRow, StoreError> {
    let c = Columns::new(row, "flow_steps", "id");
    Ok(FlowStepRow {
        seq: c.int("id")?,
        flow: c.parsed("flow_id", |s: &str| FlowId::new(s))?,
        node: c.text("node")?,
        kind: c.text("kind")?,
        digits: c.text("digits")?,
        outcome: c.text("outcome")?,
        at: Timestamp::from_millis(c.int("at")?),
    })
}

/// A session read with its `step_count` column.
pub(super) fn flow_session_summary_row(row: &AnyRow) -> Result<FlowSessionSummary, StoreError> {
    let session = flow_session_row(row)?;
    let step_count = Columns::new(row, "flow_sessions", "call_id").int("step_count")?;
    Ok(FlowSessionSummary {
        call: session.call,
        caller_number: session.caller_number,
        caller_name: session.caller_name,
        destination: session.destination,
        entry: session.entry,
        entered_at: session.entered_at,
        ended_at: session.ended_at,
        outcome: session.outcome,
        variables: session.variables,
        step_count,
    })
}

pub(super) fn flow_exit_row(row: &AnyRow) -> Result<FlowExitRow, StoreError> {
    let c = Columns::new(row, "flow_steps", "node");
    Ok(FlowExitRow {
        node: c.text("node")?,
        kind: c.text("kind")?,
        outcome: c.parsed("outcome", flow_outcome)?,
        sessions: c.int("sessions")?,
    })
}

pub(super) fn queue_row(row: &AnyRow) -> Result<QueueRow, StoreError> {
    let c = Columns::new(row, "queues", "id");
    Ok(QueueRow {
        id: c.parsed("id", |s: &str| QueueId::new(s))?,
        name: c.text("name")?,
        moh: c.text("moh")?,
        wrap_up_ms: c.int("wrap_up_ms")?,
        ring_timeout_ms: c.int("ring_timeout_ms")?,
        busy_backoff_ms: c.opt_int("busy_backoff_ms")?,
        routing: queue_routing(&c)?,
    })
}

/// Destinations go into switch commands: a stored one is checked again, as on input.
fn queue_routing(c: &Columns<'_>) -> Result<QueueRouting, StoreError> {
    let routing: QueueRouting = c.json("routing")?;
    for destination in [&routing.on_max_wait, &routing.on_no_agents]
        .into_iter()
        .flatten()
    {
        destination
            .check()
            .map_err(|e| c.corrupt(format!("routing: {e}")))?;
    }
    Ok(routing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_enum_value_the_engine_writes_reads_back() {
        for o in CallOutcome::ALL {
            assert_eq!(call_outcome(o.as_str()), Ok(o));
        }
        for k in QueueEventKind::ALL {
            assert_eq!(queue_event_kind(k.as_str()), Ok(k));
        }
        for c in StateCause::ALL {
            assert_eq!(state_cause(c.as_str()), Ok(c));
        }
        for s in AgentStatus::ALL {
            assert_eq!(agent_status(s.as_str()), Ok(s));
        }
        for o in FlowOutcome::ALL {
            assert_eq!(flow_outcome(o.as_str()), Ok(o));
        }
        assert!(call_outcome("won").is_err());
    }
}
