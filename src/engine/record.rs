//! What the engine asks the store to keep: append-only history, one variant per fact.

use serde::{Deserialize, Serialize};

use super::ids::{AgentId, CallId, ChannelId, FlowId, QueueId, RecordingId, SwitchName};
use super::recording::{Consent, RecordingAction, RecordingActor, RecordingReason};
use super::routing::SkillLevel;
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
    /// Logged in but taking no calls, with a reason (a break, or auto-pause after missed offers).
    Paused,
    /// Logged in, but the phone is not registered.
    Unreachable,
}

impl AgentStatus {
    pub const ALL: [AgentStatus; 7] = [
        AgentStatus::LoggedOut,
        AgentStatus::Available,
        AgentStatus::Offered,
        AgentStatus::OnCall,
        AgentStatus::WrapUp,
        AgentStatus::Paused,
        AgentStatus::Unreachable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::LoggedOut => "logged_out",
            AgentStatus::Available => "available",
            AgentStatus::Offered => "offered",
            AgentStatus::OnCall => "on_call",
            AgentStatus::WrapUp => "wrap_up",
            AgentStatus::Paused => "paused",
            AgentStatus::Unreachable => "unreachable",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "logged_out" => AgentStatus::LoggedOut,
            "available" => AgentStatus::Available,
            "offered" => AgentStatus::Offered,
            "on_call" => AgentStatus::OnCall,
            "wrap_up" => AgentStatus::WrapUp,
            "paused" => AgentStatus::Paused,
            "unreachable" => AgentStatus::Unreachable,
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
    /// Routing paused the agent after too many offers in a row went unanswered.
    AutoPause,
    /// The agent's phone registered or unregistered.
    Registration,
    /// A feature code or BLF key on the agent's phone.
    Phone,
}

impl StateCause {
    pub const ALL: [StateCause; 7] = [
        StateCause::Api,
        StateCause::Provisioning,
        StateCause::Routing,
        StateCause::Switch,
        StateCause::AutoPause,
        StateCause::Registration,
        StateCause::Phone,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StateCause::Api => "api",
            StateCause::Provisioning => "provisioning",
            StateCause::Routing => "routing",
            StateCause::Switch => "switch",
            StateCause::AutoPause => "auto_pause",
            StateCause::Registration => "registration",
            StateCause::Phone => "phone",
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
    /// The queue sent the caller elsewhere (max wait, no agents, an exit key) or hung up on it.
    Overflowed,
    /// A callback whose customer never answered, after every retry.
    CallbackFailed,
    /// An agent transferred the caller out of our queues, and the caller hung up there.
    Transferred,
}

impl CallOutcome {
    pub const ALL: [CallOutcome; 6] = [
        CallOutcome::Completed,
        CallOutcome::Abandoned,
        CallOutcome::Lost,
        CallOutcome::Overflowed,
        CallOutcome::CallbackFailed,
        CallOutcome::Transferred,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Completed => "completed",
            CallOutcome::Abandoned => "abandoned",
            CallOutcome::Lost => "lost",
            CallOutcome::Overflowed => "overflowed",
            CallOutcome::CallbackFailed => "callback_failed",
            CallOutcome::Transferred => "transferred",
        }
    }
}

/// Queue events in the spirit of Asterisk's `queue_log`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueEventKind {
    Enter,
    /// An agent's phone rings for the call.
    Offer,
    Connect,
    Abandon,
    RingNoAnswer,
    Complete,
    /// The call moved to its next escalation step.
    Escalate,
    /// The caller's priority changed while waiting.
    Priority,
    /// Max wait reached.
    Timeout,
    /// The caller pressed an exit key.
    ExitWithKey,
    /// The call left for another destination (after a timeout or for lack of agents).
    Overflow,
    /// A caller who abandoned came back within the window and got its place back.
    Resume,
    CallbackRequested,
    CallbackAttempted,
    CallbackConnected,
    CallbackFailed,
    /// An agent was paused after too many unanswered offers.
    AutoPause,
    /// The call was put on hold (`by=<who>`).
    Hold,
    /// The call came off hold, or ended while held (`by=<who> held_ms=<n>`).
    Unhold,
    /// The agent's part ended by a transfer from its phone (`kind=`, `to=`, `by=`, `talk_ms=`).
    Transfer,
    /// The agent's phone is on a second call while on this one (a consultation before an
    /// attended transfer): `leg=`, `users=`.
    Consult,
    /// A conference step (`step=started|adding|added|left|drop|agent_left|ended`, `party=`,
    /// `leg=`, `by=`; see `conference`).
    Conference,
}

impl QueueEventKind {
    pub const ALL: [QueueEventKind; 22] = [
        QueueEventKind::Enter,
        QueueEventKind::Offer,
        QueueEventKind::Connect,
        QueueEventKind::Abandon,
        QueueEventKind::RingNoAnswer,
        QueueEventKind::Complete,
        QueueEventKind::Escalate,
        QueueEventKind::Priority,
        QueueEventKind::Timeout,
        QueueEventKind::ExitWithKey,
        QueueEventKind::Overflow,
        QueueEventKind::Resume,
        QueueEventKind::CallbackRequested,
        QueueEventKind::CallbackAttempted,
        QueueEventKind::CallbackConnected,
        QueueEventKind::CallbackFailed,
        QueueEventKind::AutoPause,
        QueueEventKind::Hold,
        QueueEventKind::Unhold,
        QueueEventKind::Transfer,
        QueueEventKind::Consult,
        QueueEventKind::Conference,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            QueueEventKind::Enter => "enter",
            QueueEventKind::Offer => "offer",
            QueueEventKind::Connect => "connect",
            QueueEventKind::Abandon => "abandon",
            QueueEventKind::RingNoAnswer => "ring_no_answer",
            QueueEventKind::Complete => "complete",
            QueueEventKind::Escalate => "escalate",
            QueueEventKind::Priority => "priority",
            QueueEventKind::Timeout => "timeout",
            QueueEventKind::ExitWithKey => "exit_with_key",
            QueueEventKind::Overflow => "overflow",
            QueueEventKind::Resume => "resume",
            QueueEventKind::CallbackRequested => "callback_requested",
            QueueEventKind::CallbackAttempted => "callback_attempted",
            QueueEventKind::CallbackConnected => "callback_connected",
            QueueEventKind::CallbackFailed => "callback_failed",
            QueueEventKind::AutoPause => "auto_pause",
            QueueEventKind::Hold => "hold",
            QueueEventKind::Unhold => "unhold",
            QueueEventKind::Transfer => "transfer",
            QueueEventKind::Consult => "consult",
            QueueEventKind::Conference => "conference",
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
        channel: ChannelId,
        queue: QueueId,
        caller_number: String,
        caller_name: String,
        destination: String,
        priority: i32,
        at: Timestamp,
    },
    /// Where a waiting call stands now, when it differs from what `CallEntered` said: the
    /// queue it overflowed into (after `hops` moves), its priority and skills as changed while
    /// it waited, and the time its place counts from (earlier than its entry for a caller who
    /// resumed an abandoned place). A restarted controller adopts the call from this.
    CallPlaced {
        call: CallId,
        queue: QueueId,
        priority: i32,
        skills: Vec<SkillLevel>,
        hops: u32,
        waiting_since: Timestamp,
        at: Timestamp,
    },
    /// An agent answered: the call is connected.
    CallAnswered {
        call: CallId,
        agent: AgentId,
        agent_channel: ChannelId,
        wait_ms: i64,
        at: Timestamp,
    },
    /// The call is over; the history row is closed.
    CallEnded {
        call: CallId,
        outcome: CallOutcome,
        hangup_cause: String,
        talk_ms: Option<i64>,
        /// How long a caller who was never answered waited in the queue (an abandon, an
        /// overflow out of the queue); an answered call's wait came with `CallAnswered`.
        wait_ms: Option<i64>,
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
    /// A connected call was put on hold (the switch said so: CHANNEL_HOLD on one of its legs).
    CallHeld {
        call: CallId,
        queue: QueueId,
        agent: Option<AgentId>,
        by: super::hold::HoldBy,
        at: Timestamp,
    },
    /// A call came off hold, or ended while held (then `at` is its end). `total_ms` and `holds`
    /// are the call's running totals as the engine counts them; the history adds `held_ms` to
    /// the call row, so totals from before a controller restart are kept.
    CallResumed {
        call: CallId,
        queue: QueueId,
        agent: Option<AgentId>,
        by: super::hold::HoldBy,
        held_ms: i64,
        total_ms: i64,
        holds: u32,
        at: Timestamp,
    },
    /// A supervisor's monitoring session of a call joined, changed mode, or ended (see
    /// `monitor`). `mode` is the mode after the change; `previous` the one before it.
    Monitor {
        monitor: super::ids::MonitorId,
        call: CallId,
        queue: QueueId,
        agent: AgentId,
        supervisor: String,
        kind: super::monitor::MonitorEventKind,
        mode: super::monitor::MonitorMode,
        previous: Option<super::monitor::MonitorMode>,
        /// Ended: why (`requested`, `call_ended`, `supervisor_hung_up cause=…`).
        reason: Option<String>,
        at: Timestamp,
    },
    AgentState {
        agent: AgentId,
        from: AgentStatus,
        to: AgentStatus,
        cause: StateCause,
        /// Why the agent is paused (a provisioned reason code, or `no-answer` for auto-pause).
        reason: Option<String>,
        at: Timestamp,
    },
    /// A state waiting for the agent's call and wrap-up to end: set or replaced (`status`),
    /// cancelled (`status: None`), or taken (`applied`). See `after_call`.
    AgentAfterCall {
        agent: AgentId,
        status: Option<AgentStatus>,
        reason: Option<String>,
        applied: bool,
        at: Timestamp,
    },
    /// The agent gave the call a disposition code from its queue's list (the latest wins).
    CallDisposition {
        call: CallId,
        agent: AgentId,
        code: String,
        at: Timestamp,
    },
    /// The agent's after-call work for the call is over (wrap-up ended, cut short, or none):
    /// announced as `call.wrapped_up`, with the disposition if one was given.
    CallWrappedUp {
        call: CallId,
        agent: AgentId,
        queue: QueueId,
        disposition: Option<String>,
        wrap_up_ms: i64,
        at: Timestamp,
    },
    /// A caller entered a flow: the IVR history row of the call is created. `call` is the id
    /// the call keeps if it reaches a queue.
    FlowEntered {
        call: CallId,
        switch: SwitchName,
        channel: ChannelId,
        flow: FlowId,
        entry: String,
        caller_number: String,
        caller_name: String,
        destination: String,
        at: Timestamp,
    },
    /// One node a caller went through: what was pressed there and how it ended (`next`, a key,
    /// `invalid`, `no input`, `open`, `error`, ...), so a report can show where callers leave.
    FlowStep {
        call: CallId,
        flow: FlowId,
        node: String,
        kind: String,
        /// Keys pressed at this node (empty for none). Never a PIN: see the node's `secret`.
        digits: String,
        outcome: String,
        /// A step of the post-call survey, not of the IVR before the queue.
        survey: bool,
        at: Timestamp,
    },
    /// A caller in a flow waits at `node` of `flow` (for keys, media, a reply) with these
    /// variables (no secrets): a restarted controller resumes the caller there.
    FlowWaiting {
        call: CallId,
        flow: FlowId,
        node: String,
        variables: Vec<(String, String)>,
        at: Timestamp,
    },
    /// The agent hung up and the caller went on to the survey flow of the queue it was
    /// enqueued from: the answers are kept with the call.
    SurveyStarted {
        call: CallId,
        flow: FlowId,
        /// Who the survey is about.
        agent: AgentId,
        at: Timestamp,
    },
    /// The survey is over (the caller hung up, or the flow hung up or sent it on). `answers`
    /// are the variables the survey set or changed.
    SurveyEnded {
        call: CallId,
        outcome: FlowOutcome,
        answers: Vec<(String, String)>,
        at: Timestamp,
    },
    /// The caller left the flows: into a queue, to an extension, voicemail, a hangup, or by
    /// hanging up. `variables` are what the caller entered and the CRM returned.
    FlowEnded {
        call: CallId,
        outcome: FlowOutcome,
        variables: Vec<(String, String)>,
        at: Timestamp,
    },
    /// The switch was asked to record a call (`uuid_record … start`), by the queue's policy
    /// or on demand. The recording row is created.
    RecordingStarted {
        recording: RecordingId,
        call: CallId,
        switch: SwitchName,
        /// The channel recorded: the caller's.
        channel: ChannelId,
        agent_channel: Option<ChannelId>,
        queue: Option<QueueId>,
        agent: Option<AgentId>,
        caller_number: String,
        destination: String,
        /// The file on the switch's disk (its `recordings_dir` joined with `relative_path`).
        path: String,
        /// The file under the switch's recordings directory (and under the controller's mount
        /// of it, for downloads).
        relative_path: String,
        stereo: bool,
        reason: RecordingReason,
        by: RecordingActor,
        consent: Consent,
        at: Timestamp,
    },
    /// A call the queue's policy would have recorded is not, because the caller pressed the
    /// opt-out key after the notice. A recording row without a file keeps that.
    RecordingDeclined {
        recording: RecordingId,
        call: CallId,
        switch: SwitchName,
        queue: QueueId,
        agent: Option<AgentId>,
        caller_number: String,
        destination: String,
        consent: Consent,
        /// When this row may be purged (the queue's retention); `None`: kept until erased.
        retain_until: Option<Timestamp>,
        at: Timestamp,
    },
    /// A recording was paused, resumed, masked or unmasked. `offset_ms` is how far into the
    /// call's recording (wall time since its start) it happened.
    RecordingChanged {
        recording: RecordingId,
        action: RecordingAction,
        by: RecordingActor,
        offset_ms: i64,
        at: Timestamp,
    },
    /// A recording ended: asked to stop, the call ended, or the switch refused or stopped it.
    /// `duration_ms` is the file's length: wall time less the paused time (masked time is in
    /// the file, as silence).
    RecordingStopped {
        recording: RecordingId,
        by: RecordingActor,
        duration_ms: i64,
        /// `None` for a recording that ended well; else why it failed (the switch's reply).
        error: Option<String>,
        /// When the file and its metadata may be purged (the queue's retention from the end);
        /// `None`: kept until erased.
        retain_until: Option<Timestamp>,
        at: Timestamp,
    },
    /// A queue crossed one of its service-level thresholds (`raised`), or is back within it.
    /// Kept only as a CTI event (`queue.threshold`).
    QueueThreshold {
        queue: QueueId,
        metric: ThresholdMetric,
        raised: bool,
        /// Callers, milliseconds or percent, as `metric` says; `limit` in the same unit.
        value: i64,
        limit: i64,
        at: Timestamp,
    },
}

/// What a queue threshold watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdMetric {
    /// Callers waiting (value and limit are counts).
    Waiting,
    /// The longest wait of a caller still waiting (milliseconds).
    LongestWait,
    /// Percent of calls answered within the target, over the window.
    ServiceLevel,
}

impl ThresholdMetric {
    pub const ALL: [ThresholdMetric; 3] = [
        ThresholdMetric::Waiting,
        ThresholdMetric::LongestWait,
        ThresholdMetric::ServiceLevel,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ThresholdMetric::Waiting => "waiting",
            ThresholdMetric::LongestWait => "longest_wait",
            ThresholdMetric::ServiceLevel => "service_level",
        }
    }
}

/// How a caller left the flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowOutcome {
    Enqueued,
    Transferred,
    Voicemail,
    HungUp,
    /// The caller hung up inside the flow.
    Abandoned,
}

impl FlowOutcome {
    pub const ALL: [FlowOutcome; 5] = [
        FlowOutcome::Enqueued,
        FlowOutcome::Transferred,
        FlowOutcome::Voicemail,
        FlowOutcome::HungUp,
        FlowOutcome::Abandoned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FlowOutcome::Enqueued => "enqueued",
            FlowOutcome::Transferred => "transferred",
            FlowOutcome::Voicemail => "voicemail",
            FlowOutcome::HungUp => "hung_up",
            FlowOutcome::Abandoned => "abandoned",
        }
    }

    pub fn parse(s: &str) -> Option<FlowOutcome> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A variant missing from an `ALL` list would make its history rows unreadable.
    #[test]
    fn every_variant_is_listed_once_in_all() {
        let kinds = |k: QueueEventKind| match k {
            QueueEventKind::Enter
            | QueueEventKind::Offer
            | QueueEventKind::Connect
            | QueueEventKind::Abandon
            | QueueEventKind::RingNoAnswer
            | QueueEventKind::Complete
            | QueueEventKind::Escalate
            | QueueEventKind::Priority
            | QueueEventKind::Timeout
            | QueueEventKind::ExitWithKey
            | QueueEventKind::Overflow
            | QueueEventKind::Resume
            | QueueEventKind::CallbackRequested
            | QueueEventKind::CallbackAttempted
            | QueueEventKind::CallbackConnected
            | QueueEventKind::CallbackFailed
            | QueueEventKind::AutoPause
            | QueueEventKind::Hold
            | QueueEventKind::Unhold
            | QueueEventKind::Transfer
            | QueueEventKind::Consult
            | QueueEventKind::Conference => 22,
        };
        let outcomes = |o: CallOutcome| match o {
            CallOutcome::Completed
            | CallOutcome::Abandoned
            | CallOutcome::Lost
            | CallOutcome::Overflowed
            | CallOutcome::CallbackFailed
            | CallOutcome::Transferred => 6,
        };
        let causes = |c: StateCause| match c {
            StateCause::Api
            | StateCause::Provisioning
            | StateCause::Routing
            | StateCause::Switch
            | StateCause::AutoPause
            | StateCause::Registration
            | StateCause::Phone => 7,
        };
        let statuses = |s: AgentStatus| match s {
            AgentStatus::LoggedOut
            | AgentStatus::Available
            | AgentStatus::Offered
            | AgentStatus::OnCall
            | AgentStatus::WrapUp
            | AgentStatus::Paused
            | AgentStatus::Unreachable => 7,
        };
        fn distinct<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> usize {
            let names: std::collections::HashSet<_> = all.iter().map(|v| name(*v)).collect();
            names.len()
        }
        assert_eq!(
            distinct(&QueueEventKind::ALL, QueueEventKind::as_str),
            kinds(QueueEventKind::Enter)
        );
        assert_eq!(
            distinct(&CallOutcome::ALL, CallOutcome::as_str),
            outcomes(CallOutcome::Lost)
        );
        assert_eq!(
            distinct(&StateCause::ALL, StateCause::as_str),
            causes(StateCause::Api)
        );
        assert_eq!(
            distinct(&AgentStatus::ALL, AgentStatus::as_str),
            statuses(AgentStatus::Paused)
        );
        for s in AgentStatus::ALL {
            assert_eq!(AgentStatus::parse(s.as_str()), Some(s));
        }
    }
}
