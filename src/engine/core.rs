//! The engine proper: state transitions and routing decisions as plain functions.
//!
//! Calls move through `Waiting` (in their pool's waiting set), `Ringing` (one or more agent
//! legs) and `Bridged`; agents through the states of `AgentState`. Every decision is taken at
//! the moment a call becomes routable or an agent eligible, from the pool index in `pools`.

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

use super::ids::{AgentId, CallId, ChannelId, QueueId, SwitchName};
use super::io::{
    ChannelRole, ChannelSnapshot, Effect, HangupCause, HttpRequestId, Input, ParkedCall,
    SwitchCommand, Timer,
};
use super::model::{
    Agent, AgentSettings, AgentState, Call, CallState, LegOwner, Pool, PoolId, Queue,
    QueueSettings, Requirement, Ring, WaitKey,
};
use super::pools::{requirement, steps};
use super::record::{AgentStatus, CallOutcome, QueueEventKind, Record, StateCause};
use super::recording::RecordingAction;
use super::rng::SplitMix64;
use super::routing::{Destination, SkillLevel, Strategy};
use super::time::Timestamp;
use crate::flow::FlowSet;

/// How far past the switch's own `originate_timeout` we wait for an answer or a failure.
pub(super) const RING_GRACE: Duration = Duration::from_secs(5);
/// Overflows between queues a call may take before it is held where it is.
const MAX_QUEUE_HOPS: u32 = 8;
/// Abandoned callers remembered for resume, at most (older entries are pruned first).
pub const MAX_RESUMABLE: usize = 100_000;
/// The pause reason routing gives an agent who missed too many offers in a row.
pub const NO_ANSWER_PAUSE: &str = "no-answer";

/// A request the engine refuses; the API turns these into problem details.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CommandError {
    #[error("no agent {0}")]
    UnknownAgent(AgentId),
    #[error("no call {0} in a queue")]
    UnknownCall(CallId),
    #[error("agent {agent} is {status} and cannot be made {requested} now")]
    Conflict {
        agent: AgentId,
        status: &'static str,
        requested: &'static str,
    },
}

/// The states an API caller may put an agent in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestedState {
    Available,
    LoggedOut,
    Paused { reason: String },
}

impl RequestedState {
    fn name(&self) -> &'static str {
        match self {
            RequestedState::Available => "available",
            RequestedState::LoggedOut => "logged_out",
            RequestedState::Paused { .. } => "paused",
        }
    }
}

/// A change to a call in a queue (from the IVR, a CRM or a supervisor).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallUpdate {
    pub priority: Option<i32>,
    pub skills: Option<Vec<SkillLevel>>,
}

/// Running totals since start, for status lines and the wallboard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    pub offered: u64,
    pub answered: u64,
    pub abandoned: u64,
    pub lost: u64,
    pub ring_no_answer: u64,
    pub overflowed: u64,
    /// Originate failures reported for legs already answered (bridged before the job
    /// returned): ignored, the leg goes on.
    pub late_originate_failures: u64,
}

/// Where an abandoned caller stood, kept for `abandoned_resume`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Resumable {
    pub(super) entered_at: Timestamp,
    pub(super) priority: i32,
    pub(super) until: Timestamp,
}

pub struct Engine {
    pub(super) queues: HashMap<QueueId, Queue>,
    /// Tracked: every change marks the agent or call for the next publish (see `publish`).
    pub(super) agents: super::tracked::Tracked<AgentId, Agent>,
    pub(super) calls: super::tracked::Tracked<CallId, Call>,
    pub(super) legs: HashMap<ChannelId, LegOwner>,
    /// Our legs the switch said were answered and has not yet said were hung up: an originate
    /// failure reported for one of them does not end it.
    pub(super) answered_legs: HashSet<ChannelId>,
    /// Per switch, the legs known when its resync began listing channels: the only ones the
    /// listing can judge.
    pub(super) resync_marks: HashMap<SwitchName, HashSet<ChannelId>>,
    pub(super) pools: Vec<Option<Pool>>,
    pub(super) pool_index: HashMap<(QueueId, Requirement), PoolId>,
    pub(super) free_pools: Vec<PoolId>,
    pub(super) counters: Counters,
    pub(super) resumable: HashMap<(QueueId, String), Resumable>,
    /// Agents by the SIP user of their phone.
    pub(super) phone_users: HashMap<String, AgentId>,
    /// Pause reason codes agents may key in on the phone (empty: any).
    pub(super) pause_codes: HashSet<String>,
    /// The switches each phone (SIP user) is registered on, as far as we were told.
    pub(super) registered_on: super::tracked::Tracked<String, HashSet<SwitchName>>,
    /// Routes between switches, for agents registered elsewhere than the caller (see `reach`).
    pub(super) reach: super::reach::Reach,
    /// Hot-desking at a second phone while logged in at another is refused (else it moves).
    pub(super) hot_desk_refuses: bool,
    pub(super) phone_prompts: super::phone::PhonePrompts,
    pub(super) hot_desk_extension: Option<String>,
    /// Channels that keep an agent's phone busy without being ours.
    pub(super) calls_elsewhere: HashMap<ChannelId, (SwitchName, Vec<AgentId>)>,
    /// The flows new callers run (see `ivr`).
    pub(super) flows: Arc<FlowSet>,
    /// Callers inside a flow, by channel: not calls yet, untouched by queue logic.
    pub(super) flow_sessions: HashMap<ChannelId, super::ivr::FlowSession>,
    /// Callers whose agent hung up, waiting to be parked for their survey.
    pub(super) pending_surveys: HashMap<ChannelId, super::ivr::PendingSurvey>,
    /// Which caller waits for each HTTP request of a flow.
    pub(super) http_waits: HashMap<HttpRequestId, ChannelId>,
    pub(super) http_seq: u64,
    pub(super) rng: SplitMix64,
    seq: u64,
    /// The periodic threshold check's timer is set (see `thresholds`).
    pub(super) threshold_checks_armed: bool,
    /// Recordings in progress and where each switch keeps them (see `recording_session`).
    pub(super) recordings: super::recording_session::Recordings,
    /// Calls on hold and their totals (see `hold`).
    pub(super) holds: super::hold::Holds,
    /// Callers an agent's phone transferred away (see `transfer`).
    pub(super) transfers: super::transfer::Transfers,
    /// REST hang-ups, transfers and moves in progress (see `redirect`).
    pub(super) redirects: super::redirect::Redirects,
    /// Consult transfers asked over REST (see `consult`).
    pub(super) consults: super::consult::Consults,
    /// Conferences asked over REST (see `conference`).
    pub(super) conferences: super::conference::Conferences,
    /// Supervisors' monitoring sessions (see `monitor`).
    pub(super) monitors: super::monitor::Monitors,
    /// The read model as last published, updated by what changed since (see `publish`).
    pub(super) published: super::publish::Published,
}

impl Engine {
    /// `seed` feeds the generator of our call ids, agent-leg UUIDs and random strategies:
    /// fixed in tests, random in production.
    pub fn new(seed: u64) -> Self {
        Self {
            queues: HashMap::new(),
            agents: Default::default(),
            calls: Default::default(),
            legs: HashMap::new(),
            answered_legs: HashSet::new(),
            resync_marks: HashMap::new(),
            pools: Vec::new(),
            pool_index: HashMap::new(),
            free_pools: Vec::new(),
            counters: Counters::default(),
            resumable: HashMap::new(),
            phone_users: HashMap::new(),
            pause_codes: HashSet::new(),
            hot_desk_refuses: false,
            phone_prompts: super::phone::PhonePrompts::default(),
            hot_desk_extension: Some(super::phone::HOT_DESK_EXTENSION.to_owned()),
            registered_on: Default::default(),
            reach: Default::default(),
            calls_elsewhere: HashMap::new(),
            flows: Arc::new(FlowSet::default()),
            flow_sessions: HashMap::new(),
            pending_surveys: HashMap::new(),
            http_waits: HashMap::new(),
            http_seq: 0,
            rng: SplitMix64::new(seed),
            seq: 0,
            threshold_checks_armed: false,
            transfers: Default::default(),
            redirects: Default::default(),
            recordings: Default::default(),
            holds: Default::default(),
            consults: Default::default(),
            conferences: Default::default(),
            monitors: Default::default(),
            published: Default::default(),
        }
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Adds or replaces a queue. Calls already waiting keep their place and current step.
    pub fn provision_queue(&mut self, settings: QueueSettings) {
        let id = settings.id.clone();
        match self.queues.get_mut(&id) {
            Some(queue) => queue.settings = settings,
            None => {
                self.queues.insert(
                    id.clone(),
                    Queue {
                        settings,
                        pools: Vec::new(),
                        step_pools: Vec::new(),
                        members: 0,
                        logged_in: 0,
                        last_position: None,
                        handle_ms: None,
                        alarms: Default::default(),
                    },
                );
            }
        }
        self.rebuild_step_pools(&id);
        // The strategy may have changed: rank the idle members again.
        let idle: Vec<AgentId> = self
            .queues
            .get(&id)
            .and_then(|q| q.pools.first().copied())
            .and_then(|base| self.pool(base))
            .map(|p| p.idle.iter().map(|k| k.agent.clone()).collect())
            .unwrap_or_default();
        for agent in idle {
            self.unindex_agent(&agent);
            for pool in self.pools_of(&agent) {
                self.index_agent_in(pool, &agent);
            }
        }
    }

    /// Adds or replaces an agent, logged out unless `initial` says otherwise (states kept across
    /// a restart come back this way). Queues must be provisioned first; unknown ones are skipped.
    pub fn provision_agent(
        &mut self,
        now: Timestamp,
        mut settings: AgentSettings,
        initial: AgentStatus,
    ) -> Vec<Effect> {
        settings
            .queues
            .retain(|m| self.queues.contains_key(&m.queue));
        super::routing::canonical(&mut settings.skills);
        let mut effects = Vec::new();
        let id = settings.id.clone();
        let previous_user = self
            .agents
            .get(&id)
            .and_then(|a| a.settings.phone_user().map(str::to_owned));
        if let Some(user) = previous_user {
            self.phone_users.remove(&user);
        }
        if let Some(user) = settings.phone_user() {
            self.phone_users.insert(user.to_owned(), id.clone());
        }
        if let Some(existing) = self.agents.get(&id) {
            let logged_in = existing.state != AgentState::LoggedOut;
            let available = existing.state == AgentState::Available;
            let old: Vec<QueueId> = existing
                .settings
                .queues
                .iter()
                .map(|m| m.queue.clone())
                .collect();
            let new: Vec<QueueId> = settings.queues.iter().map(|m| m.queue.clone()).collect();
            self.count_members(&old, -1, logged_in);
            self.count_members(&new, 1, logged_in);
            self.unindex_agent(&id);
            if let Some(agent) = self.agents.get_mut(&id) {
                agent.settings = settings;
            }
            if available {
                self.make_eligible(now, &id, StateCause::Provisioning, &mut effects);
            }
            // A queue may have lost its last logged-in member.
            self.overflow_queues_without_agents(now, &mut effects);
            return effects;
        }
        let queues: Vec<QueueId> = settings.queues.iter().map(|m| m.queue.clone()).collect();
        self.count_members(&queues, 1, false);
        self.agents.insert(
            id.clone(),
            Agent {
                settings,
                state: AgentState::LoggedOut,
                since: now,
                idle: Vec::new(),
                idle_since: now,
                epoch: 0,
                calls_answered: 0,
                talk_ms: 0,
                missed_in_a_row: 0,
                calls_elsewhere: 0,
                registered: true,
                contact: None,
                after_call: None,
                handled: None,
            },
        );
        match initial {
            AgentStatus::LoggedOut => {}
            AgentStatus::Paused => self.transition(
                now,
                &id,
                AgentState::Paused {
                    reason: "restored".to_owned(),
                },
                StateCause::Provisioning,
                &mut effects,
            ),
            _ => self.make_eligible(now, &id, StateCause::Provisioning, &mut effects),
        }
        effects
    }

    fn count_members(&mut self, queues: &[QueueId], delta: isize, logged_in: bool) {
        for q in queues {
            if let Some(queue) = self.queues.get_mut(q) {
                queue.members = queue.members.saturating_add_signed(delta);
                if logged_in {
                    queue.logged_in = queue.logged_in.saturating_add_signed(delta);
                }
            }
        }
    }

    pub fn handle(&mut self, now: Timestamp, input: Input) -> Vec<Effect> {
        let mut effects = Vec::new();
        match &input {
            Input::ChannelAnswered { channel, .. } if self.legs.contains_key(channel) => {
                self.answered_legs.insert(channel.clone());
            }
            Input::ChannelHungUp { channel, .. } => {
                self.answered_legs.remove(channel);
            }
            Input::CommandFailed {
                command: SwitchCommand::Hold { channel, .. },
                ..
            } => self.hold_refused(channel),
            Input::CommandFailed {
                command:
                    SwitchCommand::ParkInline { channel } | SwitchCommand::Transfer { channel, .. },
                ..
            } => self.redirect_refused(channel),
            Input::CommandFailed {
                command: SwitchCommand::TakeOver { leg, .. },
                ..
            } => self.take_over_refused(leg),
            Input::LegTransferred(t) => {
                self.answered_legs.remove(&t.leg);
            }
            _ => {}
        }
        let Some(input) = self.consult_input(now, input, &mut effects) else {
            self.close_holds_of_ended_calls(now, &mut effects);
            return effects;
        };
        let Some(input) = self.conference_input(now, input, &mut effects) else {
            self.close_holds_of_ended_calls(now, &mut effects);
            return effects;
        };
        match input {
            Input::ChannelHungUp { channel, cause, .. } if self.monitors.taken_from(&channel) => {
                self.monitor_took_over(now, &channel, &cause, &mut effects)
            }
            Input::ChannelAnswered { channel, .. } if self.monitors.holds(&channel) => {
                self.monitor_leg_answered(now, &channel, &mut effects)
            }
            Input::ChannelHungUp { channel, cause, .. }
            | Input::OriginateFailed {
                leg: channel,
                cause,
                ..
            } if self.monitors.holds(&channel) => {
                self.monitor_leg_gone(now, &channel, &cause, &mut effects)
            }
            Input::CallParked(parked) => self.call_parked(now, parked, &mut effects),
            Input::RecordingStopped {
                switch,
                channel,
                path,
            } => self.recording_stopped_by_switch(now, &switch, &channel, &path, &mut effects),
            Input::ChannelAnswered { switch, channel } => {
                self.channel_answered(now, &switch, &channel, &mut effects)
            }
            Input::OriginateFailed { leg, .. } if self.answered_legs.contains(&leg) => {
                self.counters.late_originate_failures += 1;
            }
            Input::OriginateFailed { switch, leg, cause } => {
                let hung_up = Input::ChannelHungUp {
                    switch,
                    channel: leg,
                    cause,
                };
                return self.handle(now, hung_up);
            }
            Input::LegTransferred(t) => self.leg_transferred(now, t, &mut effects),
            Input::BridgedLegAnswered {
                switch,
                channel,
                partner,
                users,
            } => self.bridged_leg_answered(now, switch, channel, &partner, &users, &mut effects),
            Input::ChannelHungUp {
                switch,
                channel,
                cause,
            } if self.redirects.leaving(&channel) => {
                self.redirected_leg_gone(now, switch, channel, cause, &mut effects)
            }
            Input::ChannelHungUp { channel, cause, .. } if self.transfers.holds(&channel) => {
                self.transferred_caller_gone(now, &channel, &cause, &mut effects)
            }
            Input::ChannelHungUp { channel, .. } if self.in_flow(&channel) => {
                self.flow_caller_gone(now, &channel, &mut effects)
            }
            Input::ChannelHungUp { channel, cause, .. } => {
                self.pending_surveys.remove(&channel);
                self.transfers.end_consult(&channel);
                self.call_elsewhere_ended(now, &channel, &mut effects);
                self.channel_hung_up(now, &channel, &cause, &mut effects)
            }
            Input::ChannelInUse {
                switch,
                channel,
                users,
            } => {
                self.note_consult(now, &channel, &users, &mut effects);
                self.call_elsewhere_started(switch, channel, &users)
            }
            Input::CommandFailed {
                switch,
                command:
                    SwitchCommand::SessionRecord {
                        channel,
                        action: RecordingAction::Start,
                        path,
                        ..
                    },
                reply,
            } => self.recording_start_failed(now, &switch, &channel, &path, reply, &mut effects),
            Input::CommandFailed {
                switch, command, ..
            } => self.command_failed(now, &switch, command, &mut effects),
            Input::ResyncStarted { switch } => {
                let known = self
                    .legs
                    .keys()
                    .chain(self.flow_sessions.keys())
                    .cloned()
                    .chain(self.consult_legs().into_iter().map(|(_, _, leg)| leg))
                    .chain(self.conference_channels())
                    .collect();
                self.resync_marks.insert(switch, known);
            }
            Input::SwitchResynced { switch, channels } => {
                let answered: Vec<ChannelId> = channels
                    .iter()
                    .filter(|c| c.answered)
                    .map(|c| c.channel.clone())
                    .collect();
                self.resync(now, &switch, channels, &mut effects);
                let legs = &self.legs;
                self.answered_legs.retain(|leg| legs.contains_key(leg));
                self.note_answered_in_resync(&answered);
                self.settle_after_call(now, &mut effects);
            }
            Input::TimerFired(timer) => self.timer_fired(now, timer, &mut effects),
            Input::PresenceProbe { .. } => {}
            Input::RegistrationsListed { switch, users } => {
                self.registrations_listed(now, &switch, users, &mut effects)
            }
            Input::FeatureCode {
                switch,
                channel,
                feature,
                user,
                reason,
                agent_number,
                pin,
                destination,
                context,
            } => {
                let asked = super::phone::Asked {
                    feature,
                    user,
                    reason,
                    agent_number,
                    pin,
                    destination,
                    context,
                };
                self.feature_code(now, &switch, &channel, asked, &mut effects)
            }
            Input::PhoneRegistration {
                switch,
                user,
                registered,
                cause,
            } => {
                // Touched only when the set changes: a refresh republishes nobody.
                let known = self.registered_on.get(&user);
                if known.map_or(registered, |on| on.contains(&switch) != registered) {
                    let on = self.registered_on.entry(user.clone()).or_default();
                    if registered {
                        on.insert(switch);
                    } else {
                        on.remove(&switch);
                    }
                }
                // Registered on any switch is registered.
                let registered = self
                    .registered_on
                    .get(&user)
                    .is_some_and(|on| !on.is_empty());
                self.phone_registration(now, &user, registered, &cause, &mut effects)
            }
            // Keys pressed while the call's recording is paused or masked (a card number read
            // out) go no further: no flow, queue, history or event ever sees them.
            Input::Dtmf { channel, .. } if self.dtmf_is_private(&channel) => {}
            Input::Dtmf { channel, digit, .. } if self.in_flow(&channel) => {
                self.flow_dtmf(now, &channel, digit, &mut effects)
            }
            Input::Dtmf { channel, digit, .. } => self.dtmf(now, &channel, digit, &mut effects),
            Input::FlowCall(call) => self.flow_call(now, call, &mut effects),
            Input::HttpDone { request, outcome } => {
                self.flow_http_done(now, request, outcome, &mut effects)
            }
            Input::MediaDone {
                channel,
                application,
                ..
            } if self.in_flow(&channel) => {
                self.flow_media_done(now, &channel, &application, &mut effects)
            }
            Input::MediaDone {
                channel,
                application,
                data,
                ..
            } => self.media_done(now, &channel, &application, &data, &mut effects),
            Input::LegHold { channel, held, .. } => {
                self.leg_hold(now, &channel, held, &mut effects)
            }
            // Only consults wait for it (`consult_race`).
            Input::OriginateReturned { .. } => {}
        }
        self.close_holds_of_ended_calls(now, &mut effects);
        self.after_redirects(now, &mut effects);
        self.end_monitors_of_ended_calls(&mut effects);
        effects
    }

    /// A supervisor or agent asks for a state change over the API.
    pub fn set_agent_state(
        &mut self,
        now: Timestamp,
        agent_id: &AgentId,
        requested: RequestedState,
    ) -> Result<Vec<Effect>, CommandError> {
        let mut effects = Vec::new();
        self.request_state(now, agent_id, requested, StateCause::Api, &mut effects)?;
        Ok(effects)
    }

    /// A state asked for by a person (over the API, or from the phone).
    pub(super) fn request_state(
        &mut self,
        now: Timestamp,
        agent_id: &AgentId,
        requested: RequestedState,
        cause: StateCause,
        effects: &mut Vec<Effect>,
    ) -> Result<(), CommandError> {
        let agent = self
            .agents
            .get(agent_id)
            .ok_or_else(|| CommandError::UnknownAgent(agent_id.clone()))?;
        let target = match &requested {
            RequestedState::Available => AgentState::Available,
            RequestedState::LoggedOut => AgentState::LoggedOut,
            RequestedState::Paused { reason } => AgentState::Paused {
                reason: reason.clone(),
            },
        };
        match (&requested, agent.state.clone()) {
            (RequestedState::Available, AgentState::Available | AgentState::Backoff { .. })
            | (RequestedState::LoggedOut, AgentState::LoggedOut) => {}
            // Unreachable: what is asked takes effect when the phone registers again.
            (
                RequestedState::Available | RequestedState::Paused { .. },
                AgentState::Unreachable {
                    cause: unreachable_cause,
                    ..
                },
            ) => {
                let unreachable = AgentState::Unreachable {
                    cause: unreachable_cause,
                    previous: Box::new(target),
                };
                self.transition(now, agent_id, unreachable, cause, effects);
            }
            (RequestedState::LoggedOut, AgentState::Unreachable { .. }) => {
                self.transition(now, agent_id, target, cause, effects);
            }
            (
                RequestedState::Available,
                _state @ (AgentState::LoggedOut
                | AgentState::WrapUp { .. }
                | AgentState::Paused { .. }),
            ) => {
                self.make_eligible(now, agent_id, cause, effects);
            }
            (
                RequestedState::LoggedOut | RequestedState::Paused { .. },
                AgentState::Available
                | AgentState::Backoff { .. }
                | AgentState::WrapUp { .. }
                | AgentState::Paused { .. }
                | AgentState::LoggedOut,
            ) => {
                self.transition(now, agent_id, target, cause, effects);
            }
            (
                RequestedState::LoggedOut | RequestedState::Paused { .. },
                AgentState::Offered { call, leg },
            ) => {
                self.withdraw_ring(call, &leg, HangupCause::OriginatorCancel, effects);
                self.transition(now, agent_id, target, cause, effects);
                self.after_ring_removed(now, call, effects);
            }
            (_, state @ AgentState::OnCall { .. })
            | (RequestedState::Available, state @ AgentState::Offered { .. }) => {
                return Err(CommandError::Conflict {
                    agent: agent_id.clone(),
                    status: state.status().as_str(),
                    requested: requested.name(),
                });
            }
        }
        if requested == RequestedState::LoggedOut {
            self.overflow_queues_without_agents(now, effects);
        }
        Ok(())
    }

    /// Changes the priority or the skills of a call in a queue. A waiting call takes its new
    /// place at once (and is offered if its new requirement has an idle agent).
    pub fn update_call(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        update: CallUpdate,
    ) -> Result<Vec<Effect>, CommandError> {
        let call = self
            .calls
            .get(&call_id)
            .ok_or(CommandError::UnknownCall(call_id))?;
        let mut effects = Vec::new();
        let waiting = call.state == CallState::Waiting;
        let (queue, pool, key, step) = (call.queue.clone(), call.pool, call.wait_key, call.step);
        if waiting {
            if let Some(p) = self.pool_mut(pool) {
                p.waiting.remove(&key);
            }
        }
        if let Some(priority) = update.priority {
            if priority != key.priority.0 {
                if let Some(call) = self.calls.get_mut(&call_id) {
                    call.wait_key.priority = Reverse(priority);
                }
                effects.push(queue_event(
                    call_id,
                    &queue,
                    None,
                    QueueEventKind::Priority,
                    format!("from={} to={priority}", key.priority.0),
                    now,
                ));
            }
        }
        if let Some(mut skills) = update.skills {
            super::routing::canonical(&mut skills);
            let shown = skills
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",");
            if let Some(call) = self.calls.get_mut(&call_id) {
                call.skills = skills;
            }
            self.set_step(call_id, step);
            effects.push(queue_event(
                call_id,
                &queue,
                None,
                QueueEventKind::Escalate,
                format!("step={} skills={shown}", step + 1),
                now,
            ));
        }
        if !effects.is_empty() {
            effects.extend(self.placed(now, call_id));
        }
        if waiting {
            self.route_call(now, call_id, &mut effects);
        }
        Ok(effects)
    }

    pub(super) fn new_uuid(&mut self) -> uuid::Uuid {
        let bytes = self.rng.next_u128().to_le_bytes();
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    pub(super) fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn call_parked(&mut self, now: Timestamp, parked: ParkedCall, effects: &mut Vec<Effect>) {
        let mut parked = parked;
        if self.requeue_parked(now, &mut parked, effects) {
            return;
        }
        if self.transfers.holds(&parked.channel) {
            self.readmit_transferred(now, parked, effects);
            return;
        }
        if self.pending_surveys.contains_key(&parked.channel) {
            self.start_survey(now, &parked.channel, effects);
            return;
        }
        if self.legs.contains_key(&parked.channel) || self.in_flow(&parked.channel) {
            return;
        }
        self.admit_call(now, None, parked, Vec::new(), true, effects);
    }

    /// A caller enters its queue: parked there by the dialplan (`call: None`, an id is minted),
    /// or handed over by a flow with the id its session had, already answered.
    pub(super) fn admit_call(
        &mut self,
        now: Timestamp,
        call: Option<CallId>,
        parked: ParkedCall,
        variables: Vec<(String, String)>,
        answer: bool,
        effects: &mut Vec<Effect>,
    ) {
        let Some(queue) = self.queues.get(&parked.queue) else {
            effects.push(Effect::switch(
                &parked.switch,
                &parked.channel,
                SwitchCommand::Kill {
                    channel: parked.channel.clone(),
                    cause: HangupCause::NoRouteDestination,
                },
            ));
            return;
        };
        let resume_window = queue.settings.routing.abandoned_resume;
        let resumed = resume_window
            .filter(|_| !parked.caller_number.is_empty())
            .and_then(|_| {
                self.resumable
                    .remove(&(parked.queue.clone(), parked.caller_number.clone()))
            })
            .filter(|r| r.until >= now);
        let call = match call {
            Some(call) => call,
            None => CallId::from_uuid(self.new_uuid()),
        };
        let (entered_at, priority) = match resumed {
            Some(r) => (r.entered_at, r.priority.max(parked.priority)),
            None => (now, parked.priority),
        };
        let entered_at = self.transfers.take_entry().unwrap_or(entered_at);
        effects.push(Effect::Persist(Record::CallEntered {
            call,
            switch: parked.switch.clone(),
            channel: parked.channel.clone(),
            queue: parked.queue.clone(),
            caller_number: parked.caller_number.clone(),
            caller_name: parked.caller_name.clone(),
            destination: parked.destination.clone(),
            priority,
            at: now,
        }));
        let skills = parked
            .skills
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        effects.push(queue_event(
            call,
            &parked.queue,
            None,
            QueueEventKind::Enter,
            if skills.is_empty() {
                format!("priority={priority}")
            } else {
                format!("priority={priority} skills={skills}")
            },
            now,
        ));
        if resumed.is_some() {
            let waited = millis_between(entered_at, now);
            effects.push(queue_event(
                call,
                &parked.queue,
                None,
                QueueEventKind::Resume,
                format!("since_ms={waited}"),
                now,
            ));
        }
        self.counters.offered += 1;
        let switch = parked.switch.clone();
        let channel = parked.channel.clone();
        let mut skills = parked.skills;
        super::routing::canonical(&mut skills);
        let has_skills = !skills.is_empty();
        self.insert_call(Call {
            id: call,
            switch: parked.switch,
            caller: parked.channel,
            queue: parked.queue,
            caller_number: parked.caller_number,
            caller_name: parked.caller_name,
            destination: parked.destination,
            wait_key: WaitKey {
                priority: Reverse(priority),
                entered_at,
                seq: self.seq + 1,
                call,
            },
            skills,
            step: 0,
            pool: PoolId(0),
            state: CallState::Waiting,
            hops: 0,
            offer_epoch: 0,
            on_hold: false,
            callback: None,
            variables,
            survey: None,
            consent: Default::default(),
            recordings: 0,
            notice_playing: None,
            whisper_pending: false,
        });
        if resumed.is_some() || has_skills {
            effects.extend(self.placed(now, call));
        }
        // Routing first: the agent's phone starts ringing before the caller's own setup.
        self.enter_queue(now, call, effects);
        self.start_hold(now, call, &switch, &channel, answer, effects);
    }

    /// Answers the caller (unless it already is) and starts its queue's hold music, if the
    /// call is still ours; the recording notice plays first when it is due.
    pub(super) fn start_hold(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        switch: &SwitchName,
        channel: &ChannelId,
        answer: bool,
        effects: &mut Vec<Effect>,
    ) {
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        if matches!(call.state, CallState::Bridged { .. }) {
            return;
        }
        call.on_hold = true;
        let moh = self
            .queues
            .get(&call.queue)
            .map(|q| q.settings.moh.clone())
            .unwrap_or_default();
        if answer {
            effects.push(Effect::switch(
                switch,
                channel,
                SwitchCommand::Answer {
                    channel: channel.clone(),
                },
            ));
        }
        if let Some(source) = self.consent_notice(now, call_id) {
            if let Some(call) = self.calls.get_mut(&call_id) {
                call.notice_playing = Some(source.clone());
            }
            effects.push(Effect::switch(
                switch,
                channel,
                SwitchCommand::Play {
                    channel: channel.clone(),
                    source,
                },
            ));
        }
        effects.push(Effect::switch(
            switch,
            channel,
            SwitchCommand::PlayHold {
                channel: channel.clone(),
                source: moh,
            },
        ));
    }

    /// Registers a new call, pointing at its queue's base pool until `enter_queue` places it.
    pub(super) fn insert_call(&mut self, mut call: Call) {
        call.wait_key.seq = self.next_seq();
        let base = self
            .queues
            .get(&call.queue)
            .and_then(|q| q.pools.first().copied())
            .unwrap_or(PoolId(0));
        call.pool = base;
        self.move_call_to_pool(None, base);
        self.legs
            .insert(call.caller.clone(), LegOwner::Caller(call.id));
        self.calls.insert(call.id, call);
    }

    /// The call (new, adopted or overflowed here) takes its place in its queue: the escalation
    /// step its wait has reached, its timers, and an offer if an agent is free.
    pub(super) fn enter_queue(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        effects: &mut Vec<Effect>,
    ) {
        let Some(call) = self.calls.get(&call_id) else {
            return;
        };
        let Some(queue) = self.queues.get(&call.queue) else {
            return;
        };
        let routing = &queue.settings.routing;
        if queue.logged_in == 0 && !call.is_virtual() {
            if let Some(destination) = routing.on_no_agents.clone() {
                self.overflow(now, call_id, destination, "no_agents", effects);
                return;
            }
        }
        let entered_at = call.wait_key.entered_at;
        let waited = now.since(entered_at);
        let steps = steps(queue);
        let step = steps.iter().rposition(|s| s.after <= waited).unwrap_or(0);
        let next_after = steps.get(step + 1).map(|s| s.after);
        let hops = call.hops;
        let max_wait = routing.max_wait.filter(|_| !call.is_virtual());
        let announce_every = routing.announcements.every;
        self.set_step(call_id, step);
        if let Some(every) = announce_every {
            effects.push(Effect::SetTimer {
                at: now.plus(every),
                timer: Timer::Announce {
                    call: call_id,
                    hops,
                },
            });
        }
        if let Some(after) = next_after {
            effects.push(Effect::SetTimer {
                at: entered_at.plus(after),
                timer: Timer::Escalate {
                    call: call_id,
                    hops,
                    step: step + 1,
                },
            });
        }
        if let Some(max_wait) = max_wait {
            effects.push(Effect::SetTimer {
                at: entered_at.plus(max_wait),
                timer: Timer::MaxWait {
                    call: call_id,
                    hops,
                },
            });
        }
        self.route_call(now, call_id, effects);
    }

    /// Points the call at the pool of `step` of its queue, for its own skills.
    pub(super) fn set_step(&mut self, call_id: CallId, step: usize) {
        let Some(call) = self.calls.get(&call_id) else {
            return;
        };
        let Some(queue) = self.queues.get(&call.queue) else {
            return;
        };
        let steps = steps(queue);
        let step = step.min(steps.len() - 1);
        let (queue_id, old) = (call.queue.clone(), call.pool);
        let pool = match (queue.step_pools.get(step), call.skills.is_empty()) {
            (Some(pool), true) => *pool,
            _ => {
                let requirement = requirement(&steps[step], &call.skills);
                self.pool_for(&queue_id, requirement)
            }
        };
        self.move_call_to_pool(Some(old), pool);
        if let Some(call) = self.calls.get_mut(&call_id) {
            call.step = step;
            call.pool = pool;
        }
    }

    /// The call is routable: offer it by its queue's strategy, or let it wait in its pool.
    pub(super) fn route_call(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        effects: &mut Vec<Effect>,
    ) {
        let Some(call) = self.calls.get(&call_id) else {
            return;
        };
        if call.state != CallState::Waiting || call.held_until(now) {
            return;
        }
        let (pool, key) = (call.pool, call.wait_key);
        if self.direct_offer(now, call_id, effects) {
            return;
        }
        let agents = self.select_agents(pool);
        if agents.is_empty() {
            if let Some(p) = self.pool_mut(pool) {
                p.waiting.insert(key);
            }
            return;
        }
        self.offer(now, call_id, agents, effects);
    }

    /// Rings `agents` for the call, which leaves its pool's waiting set.
    fn offer(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        agents: Vec<AgentId>,
        effects: &mut Vec<Effect>,
    ) {
        let agents: Vec<AgentId> = agents
            .into_iter()
            .filter(|a| !self.sat_out_unrouted(now, call_id, a, effects))
            .collect();
        if agents.is_empty() {
            // Those chosen sit out: the call goes to the next agent, or waits.
            self.route_call(now, call_id, effects);
            return;
        }
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        let (pool, key) = (call.pool, call.wait_key);
        call.state = CallState::Ringing {
            rings: Vec::new(),
            since: now,
        };
        call.offer_epoch += 1;
        let epoch = call.offer_epoch;
        let queue_id = call.queue.clone();
        if let Some(p) = self.pool_mut(pool) {
            p.waiting.remove(&key);
        }
        for agent in agents {
            self.ring_agent(now, call_id, &agent, effects);
        }
        if let Some(queue) = self.queues.get(&queue_id) {
            if queue.settings.routing.strategy == Strategy::RingProgressively {
                effects.push(Effect::SetTimer {
                    at: now.plus(queue.settings.routing.ring_progressively_every),
                    timer: Timer::RingMore {
                        call: call_id,
                        epoch,
                    },
                });
            }
        }
    }

    /// Adds one agent leg to a ringing call.
    fn ring_agent(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        agent_id: &AgentId,
        effects: &mut Vec<Effect>,
    ) {
        self.ring_agent_for(now, call_id, agent_id, None, effects)
    }

    /// Adds one agent leg to a ringing call, ringing for `timeout` (the queue's when `None`).
    pub(super) fn ring_agent_for(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        agent_id: &AgentId,
        timeout: Option<Duration>,
        effects: &mut Vec<Effect>,
    ) {
        let leg = ChannelId::from_uuid(self.new_uuid());
        let Some(caller_switch) = self.calls.get(&call_id).map(|c| c.switch.clone()) else {
            return;
        };
        let dial_string = match self.agent_dial(agent_id, &caller_switch) {
            super::reach::AgentDial::Local(dial) | super::reach::AgentDial::Routed(dial) => dial,
            super::reach::AgentDial::NoRoute { .. } => return,
        };
        let Some(agent) = self.agents.get(agent_id) else {
            return;
        };
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        let CallState::Ringing { rings, .. } = &mut call.state else {
            return;
        };
        rings.push(Ring {
            agent: agent_id.clone(),
            leg: leg.clone(),
        });
        let (switch, caller_channel, caller_number, caller_name, queue_id, variables) = (
            call.switch.clone(),
            call.caller.clone(),
            call.caller_number.clone(),
            call.caller_name.clone(),
            call.queue.clone(),
            call.variables.clone(),
        );
        let position = agent.settings.membership(&queue_id).map(|m| m.position);
        let Some(queue) = self.queues.get_mut(&queue_id) else {
            return;
        };
        if queue.settings.routing.strategy == Strategy::RoundRobin {
            queue.last_position = position;
        }
        let ring_timeout = timeout.unwrap_or(queue.settings.ring_timeout);
        let queue_name = queue.settings.name.clone();
        self.legs.insert(
            leg.clone(),
            LegOwner::Agent {
                call: call_id,
                agent: agent_id.clone(),
            },
        );
        self.transition(
            now,
            agent_id,
            AgentState::Offered {
                call: call_id,
                leg: leg.clone(),
            },
            StateCause::Routing,
            effects,
        );
        effects.push(queue_event(
            call_id,
            &queue_id,
            Some(agent_id.clone()),
            QueueEventKind::Offer,
            format!("leg={leg}"),
            now,
        ));
        effects.push(Effect::Switch {
            affinity: caller_channel,
            switch,
            command: SwitchCommand::Originate {
                leg: leg.clone(),
                call: call_id,
                agent: agent_id.clone(),
                queue: queue_id,
                dial_string,
                timeout: ring_timeout,
                caller_number,
                caller_name,
                queue_name,
                variables,
            },
        });
        // The switch gives up at originate_timeout; this guards against a reply that never comes.
        effects.push(Effect::SetTimer {
            at: now.plus(ring_timeout).plus(RING_GRACE),
            timer: Timer::RingTimeout { leg },
        });
    }

    /// Changes an agent's state, keeping the idle index, the queues' logged-in counts and the
    /// history in step.
    pub(super) fn transition(
        &mut self,
        now: Timestamp,
        agent_id: &AgentId,
        next: AgentState,
        cause: StateCause,
        effects: &mut Vec<Effect>,
    ) {
        self.unindex_agent(agent_id);
        let Some(agent) = self.agents.get_mut(agent_id) else {
            return;
        };
        let was_logged_in = agent.state != AgentState::LoggedOut;
        let is_logged_in = next != AgentState::LoggedOut;
        let from = agent.state.status();
        let to = next.status();
        let reason_changed = agent.state.reason() != next.reason();
        let reason = next.reason().map(str::to_owned);
        agent.state = next;
        agent.epoch += 1;
        if from != to || reason_changed {
            agent.since = now;
            effects.push(Effect::Persist(Record::AgentState {
                agent: agent_id.clone(),
                from,
                to,
                cause,
                reason,
                at: now,
            }));
        }
        if !is_logged_in {
            if let Some(phone) = agent.contact.take() {
                // Hot-desking ends: the phone is free again and the agent's own is theirs.
                let own = agent.settings.phone_user().map(str::to_owned);
                if self.phone_users.get(&phone) == Some(agent_id) {
                    self.phone_users.remove(&phone);
                }
                if let Some(own) = own {
                    self.phone_users.insert(own, agent_id.clone());
                }
            }
        }
        let Some(agent) = self.agents.get_mut(agent_id) else {
            return;
        };
        if was_logged_in != is_logged_in {
            let queues: Vec<QueueId> = agent
                .settings
                .queues
                .iter()
                .map(|m| m.queue.clone())
                .collect();
            for q in queues {
                if let Some(queue) = self.queues.get_mut(&q) {
                    queue.logged_in = if is_logged_in {
                        queue.logged_in + 1
                    } else {
                        queue.logged_in.saturating_sub(1)
                    };
                }
            }
        }
        self.forget_stale_after_call(now, agent_id, effects);
        self.wrapped_up(now, agent_id, effects);
    }

    /// How long an agent that could not take a call of `queue` sits out (none for a queue
    /// that is gone).
    pub(super) fn busy_backoff_of(&self, queue: &QueueId) -> Duration {
        self.queues
            .get(queue)
            .map(|q| q.settings.busy_backoff)
            .unwrap_or_default()
    }

    /// The agent sits out `backoff` before it is offered calls again.
    pub(super) fn back_off(
        &mut self,
        now: Timestamp,
        agent_id: &AgentId,
        backoff: Duration,
        effects: &mut Vec<Effect>,
    ) {
        let until = now.plus(backoff);
        self.transition_until(
            now,
            agent_id,
            AgentState::Backoff { until },
            until,
            |agent, epoch| Timer::BackoffEnds { agent, epoch },
            effects,
        );
    }

    /// Puts an agent in a state that ends by itself, with a timer tied to the new epoch.
    fn transition_until(
        &mut self,
        now: Timestamp,
        agent_id: &AgentId,
        state: AgentState,
        until: Timestamp,
        timer: fn(AgentId, u64) -> Timer,
        effects: &mut Vec<Effect>,
    ) {
        self.transition(now, agent_id, state, StateCause::Routing, effects);
        if let Some(agent) = self.agents.get(agent_id) {
            effects.push(Effect::SetTimer {
                at: until,
                timer: timer(agent_id.clone(), agent.epoch),
            });
        }
    }

    /// The agent is available: it takes the best waiting call it may serve, or goes idle in
    /// every pool whose requirement it meets.
    pub(super) fn make_eligible(
        &mut self,
        now: Timestamp,
        agent_id: &AgentId,
        cause: StateCause,
        effects: &mut Vec<Effect>,
    ) {
        if self.holds_for_disposition(agent_id) {
            return;
        }
        if self.apply_after_call(now, agent_id, effects) {
            return;
        }
        if self.agents.get(agent_id).is_some_and(|a| !a.registered) {
            let unreachable = AgentState::Unreachable {
                cause: "unregistered".to_owned(),
                previous: Box::new(AgentState::Available),
            };
            self.transition(
                now,
                agent_id,
                unreachable,
                StateCause::Registration,
                effects,
            );
            return;
        }
        if self
            .agents
            .get(agent_id)
            .is_some_and(|a| a.state != AgentState::Available)
        {
            self.transition(now, agent_id, AgentState::Available, cause, effects);
        }
        self.unindex_agent(agent_id);
        let Some(agent) = self.agents.get_mut(agent_id) else {
            return;
        };
        agent.idle_since = now;
        agent.epoch += 1;
        if agent.calls_elsewhere > 0 {
            return;
        }
        let pools = self.pools_of(agent_id);
        if let Some(call) = self.best_waiting_call(&pools) {
            self.offer(now, call, vec![agent_id.clone()], effects);
            return;
        }
        for pool in pools {
            self.index_agent_in(pool, agent_id);
        }
    }

    /// A switch's full list of registered phones: agents' phones registered nowhere are
    /// unreachable, those listed are reachable.
    fn registrations_listed(
        &mut self,
        now: Timestamp,
        switch: &SwitchName,
        users: Vec<String>,
        effects: &mut Vec<Effect>,
    ) {
        let listed: HashSet<String> = users.into_iter().collect();
        // Sets are touched only where they change: a listing republishes nobody else.
        let gone: Vec<String> = self
            .registered_on
            .iter()
            .filter(|(user, on)| !listed.contains(*user) && on.contains(switch))
            .map(|(user, _)| user.clone())
            .collect();
        for user in gone {
            if let Some(on) = self.registered_on.get_mut(&user) {
                on.remove(switch);
            }
        }
        for user in &listed {
            if !self
                .registered_on
                .get(user)
                .is_some_and(|on| on.contains(switch))
            {
                self.registered_on
                    .entry(user.clone())
                    .or_default()
                    .insert(switch.clone());
            }
        }
        // Only directory users register: a `sofia/…/user@host` contact never does.
        let mut phones: Vec<(String, bool)> = self
            .phone_users
            .iter()
            .filter(|(_, agent)| {
                self.agents.get(*agent).is_some_and(|a| {
                    a.contact.is_some() || a.settings.dial_string.starts_with("user/")
                })
            })
            .map(|(user, _)| {
                let registered = self
                    .registered_on
                    .get(user)
                    .is_some_and(|on| !on.is_empty());
                (user.clone(), registered)
            })
            .collect();
        phones.sort();
        for (user, registered) in phones {
            let changed = self
                .phone_users
                .get(&user)
                .and_then(|a| self.agents.get(a))
                .is_some_and(|a| a.registered != registered);
            if changed {
                let cause = if registered {
                    "register"
                } else {
                    "not_registered"
                };
                self.phone_registration(now, &user, registered, cause, effects);
            }
        }
    }

    /// The switch says an agent's phone registered or lost its registration.
    fn phone_registration(
        &mut self,
        now: Timestamp,
        user: &str,
        registered: bool,
        cause: &str,
        effects: &mut Vec<Effect>,
    ) {
        let Some(agent_id) = self.phone_users.get(user).cloned() else {
            return;
        };
        let Some(agent) = self.agents.get_mut(&agent_id) else {
            return;
        };
        agent.registered = registered;
        let state = agent.state.clone();
        if registered {
            let AgentState::Unreachable { previous, .. } = state else {
                return;
            };
            match *previous {
                AgentState::Paused { reason } => self.transition(
                    now,
                    &agent_id,
                    AgentState::Paused { reason },
                    StateCause::Registration,
                    effects,
                ),
                _ => self.make_eligible(now, &agent_id, StateCause::Registration, effects),
            }
            return;
        }
        let unreachable = |previous: AgentState| AgentState::Unreachable {
            cause: cause.to_owned(),
            previous: Box::new(previous),
        };
        match state {
            // On a call the phone still works for that call; the agent is unreachable after it.
            AgentState::LoggedOut
            | AgentState::OnCall { .. }
            | AgentState::WrapUp { .. }
            | AgentState::Unreachable { .. } => {}
            AgentState::Available | AgentState::Backoff { .. } => self.transition(
                now,
                &agent_id,
                unreachable(AgentState::Available),
                StateCause::Registration,
                effects,
            ),
            paused @ AgentState::Paused { .. } => self.transition(
                now,
                &agent_id,
                unreachable(paused),
                StateCause::Registration,
                effects,
            ),
            AgentState::Offered { call, leg } => {
                self.withdraw_ring(call, &leg, HangupCause::OriginatorCancel, effects);
                self.transition(
                    now,
                    &agent_id,
                    unreachable(AgentState::Available),
                    StateCause::Registration,
                    effects,
                );
                self.after_ring_removed(now, call, effects);
            }
        }
    }

    /// The agent's phone is on a call that is not ours: no offers until it ends.
    /// Every agent whose phone the channel involves (both, for a call between two agents).
    pub(super) fn call_elsewhere_started(
        &mut self,
        switch: SwitchName,
        channel: ChannelId,
        users: &[String],
    ) {
        if matches!(
            self.legs.get(&channel),
            Some(LegOwner::Agent { .. } | LegOwner::Customer(_))
        ) || self.calls_elsewhere.contains_key(&channel)
        {
            return;
        }
        let mut agents: Vec<AgentId> = users
            .iter()
            .filter_map(|u| self.phone_users.get(u))
            .cloned()
            .collect();
        agents.sort();
        agents.dedup();
        if agents.is_empty() {
            return;
        }
        for agent_id in &agents {
            self.unindex_agent(agent_id);
            if let Some(agent) = self.agents.get_mut(agent_id) {
                agent.calls_elsewhere += 1;
            }
        }
        self.calls_elsewhere.insert(channel, (switch, agents));
    }

    /// The agents a call elsewhere keeps busy (none if the channel is not one).
    pub(super) fn elsewhere_agents(&self, channel: &ChannelId) -> Vec<AgentId> {
        self.calls_elsewhere
            .get(channel)
            .map(|(_, agents)| agents.clone())
            .unwrap_or_default()
    }

    pub(super) fn call_elsewhere_ended(
        &mut self,
        now: Timestamp,
        channel: &ChannelId,
        effects: &mut Vec<Effect>,
    ) {
        let Some((_, agents)) = self.calls_elsewhere.remove(channel) else {
            return;
        };
        for agent_id in agents {
            let Some(agent) = self.agents.get_mut(&agent_id) else {
                continue;
            };
            agent.calls_elsewhere = agent.calls_elsewhere.saturating_sub(1);
            if agent.calls_elsewhere == 0 && agent.state == AgentState::Available {
                self.make_eligible(now, &agent_id, StateCause::Switch, effects);
            }
        }
    }

    fn channel_answered(
        &mut self,
        now: Timestamp,
        switch: &SwitchName,
        channel: &ChannelId,
        effects: &mut Vec<Effect>,
    ) {
        let (call, agent) = match self.legs.get(channel).cloned() {
            Some(LegOwner::Agent { call, agent }) => (call, agent),
            Some(LegOwner::Customer(call)) => {
                self.customer_answered(now, switch, call, channel, effects);
                return;
            }
            _ => return,
        };
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let CallState::Ringing { rings, .. } = &c.state else {
            return;
        };
        if !rings.iter().any(|r| &r.leg == channel) {
            return;
        }
        let losers: Vec<Ring> = rings
            .iter()
            .filter(|r| &r.leg != channel)
            .cloned()
            .collect();
        if c.is_virtual() {
            self.call_customer_back(now, call, &agent, channel, effects);
            for loser in losers {
                self.kill(&call, &loser.leg, HangupCause::LoseRace, effects);
                self.legs.remove(&loser.leg);
                self.make_eligible(now, &loser.agent, StateCause::Routing, effects);
            }
            return;
        }
        // A caller still deciding on a callback is served now.
        c.callback = None;
        let whisper = self.whisper_of(call);
        let mut waits = false;
        if let Some(c) = self.calls.get_mut(&call) {
            let (agent, leg, answered_at) = (agent.clone(), channel.clone(), now);
            c.whisper_pending = whisper.is_some();
            waits = c.whisper_pending || c.notice_playing.is_some();
            c.state = if waits {
                CallState::Whispering {
                    agent,
                    leg,
                    answered_at,
                }
            } else {
                CallState::Bridged {
                    agent,
                    leg,
                    answered_at,
                }
            };
        }
        match whisper {
            Some(source) => self.start_whisper(now, call, source, effects),
            None if waits => self.guard_whisper(now, call, effects),
            None => self.connect(now, call, false, effects),
        }
        self.transition(
            now,
            &agent,
            AgentState::OnCall {
                call,
                leg: channel.clone(),
            },
            StateCause::Routing,
            effects,
        );
        for loser in losers {
            self.kill(&call, &loser.leg, HangupCause::LoseRace, effects);
            self.legs.remove(&loser.leg);
            self.make_eligible(now, &loser.agent, StateCause::Routing, effects);
        }
    }

    /// An agent took a call: the totals and the agent's own counts.
    pub(super) fn count_answer(&mut self, agent_id: &AgentId) {
        self.counters.answered += 1;
        if let Some(a) = self.agents.get_mut(agent_id) {
            a.calls_answered += 1;
            a.missed_in_a_row = 0;
        }
    }

    fn channel_hung_up(
        &mut self,
        now: Timestamp,
        channel: &ChannelId,
        cause: &str,
        effects: &mut Vec<Effect>,
    ) {
        match self.legs.remove(channel) {
            None => {}
            Some(LegOwner::Caller(call)) => self.caller_gone(now, call, cause, effects),
            Some(LegOwner::Agent { call, agent }) => {
                self.agent_leg_gone(now, call, &agent, channel, cause, effects)
            }
            Some(LegOwner::Customer(call)) => {
                self.customer_gone(now, call, channel, cause, effects)
            }
            Some(LegOwner::Retired(_)) => {}
        }
    }

    /// Forgets a call that leaves the engine: its pool entry, its caller leg, its pool reference.
    pub(super) fn remove_call(&mut self, call_id: CallId) -> Option<Call> {
        let call = self.calls.remove(&call_id)?;
        self.legs.remove(&call.caller);
        if let Some(pool) = self.pool_mut(call.pool) {
            pool.waiting.remove(&call.wait_key);
        }
        self.release_pool(call.pool);
        Some(call)
    }

    fn caller_gone(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        cause: &str,
        effects: &mut Vec<Effect>,
    ) {
        let Some(call) = self.remove_call(call_id) else {
            return;
        };
        self.recording_caller_gone(now, call_id, effects);
        match call.state.clone() {
            CallState::Waiting => self.abandon(now, &call, cause, effects),
            CallState::Ringing { rings, .. } => {
                for ring in &rings {
                    effects.push(Effect::switch(
                        &call.switch,
                        &call.caller,
                        SwitchCommand::Kill {
                            channel: ring.leg.clone(),
                            cause: HangupCause::OriginatorCancel,
                        },
                    ));
                    self.legs.remove(&ring.leg);
                }
                self.abandon(now, &call, cause, effects);
                for ring in rings {
                    self.make_eligible(now, &ring.agent, StateCause::Routing, effects);
                }
            }
            // The caller never heard the agent: an abandon. The agent did no work for it and is
            // available again at once, without wrap-up.
            CallState::Whispering { agent, leg, .. } => {
                self.legs.remove(&leg);
                effects.push(Effect::switch(
                    &call.switch,
                    &call.caller,
                    SwitchCommand::Kill {
                        channel: leg,
                        cause: HangupCause::NormalClearing,
                    },
                ));
                self.abandon(now, &call, cause, effects);
                self.make_eligible(now, &agent, StateCause::Routing, effects);
            }
            CallState::Bridged {
                agent,
                leg,
                answered_at,
            } => {
                self.legs.remove(&leg);
                let by = self.redirects.take_hangup(call_id);
                let ended_by = by.as_deref().unwrap_or("caller");
                self.complete(now, &call, &agent, answered_at, ended_by, cause, effects);
            }
            // A callback has no caller channel of its own; nothing to do.
            CallState::CallingBack { .. } => {}
        }
    }

    fn agent_leg_gone(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        agent_id: &AgentId,
        channel: &ChannelId,
        cause: &str,
        effects: &mut Vec<Effect>,
    ) {
        let Some(call) = self.calls.get(&call_id) else {
            return;
        };
        match call.state.clone() {
            CallState::Ringing { rings, .. } if rings.iter().any(|r| &r.leg == channel) => {
                self.ring_failed(now, call_id, agent_id, channel, cause, effects);
            }
            // Hanging up on the whisper is refusing the call: the caller keeps its place (and
            // its hold music) and the agent sits out a back-off, as after a busy phone.
            CallState::Whispering { leg, .. } if &leg == channel => {
                self.back_to_ringing(now, call_id, agent_id, &leg);
                let cause = format!("{cause} in whisper");
                self.ring_failed(now, call_id, agent_id, &leg, &cause, effects);
            }
            CallState::Bridged {
                leg, answered_at, ..
            } if &leg == channel => {
                self.recording_bridge_over(now, call_id, effects);
                let Some(call) = self.remove_call(call_id) else {
                    return;
                };
                // The switch hangs the caller up by itself (its hangup event finds nothing),
                // or parks it for its survey.
                self.complete(now, &call, agent_id, answered_at, "agent", cause, effects);
                self.survey_after_agent(&call, agent_id, effects);
            }
            CallState::CallingBack {
                agent_leg,
                customer_leg,
                ..
            } if &agent_leg == channel => {
                // The agent gave up before the customer answered: the callback waits again,
                // and the agent sits out a back-off rather than being rung for it at once.
                self.kill(
                    &call_id,
                    &customer_leg,
                    HangupCause::OriginatorCancel,
                    effects,
                );
                self.legs.remove(&customer_leg);
                let backoff = self.busy_backoff_of(&call.queue);
                self.back_off(now, agent_id, backoff, effects);
                self.requeue(now, call_id, effects);
            }
            _ => {}
        }
    }

    /// Takes one leg out of a ringing call (the agent's state is the caller's business).
    fn withdraw_ring(
        &mut self,
        call_id: CallId,
        leg: &ChannelId,
        cause: HangupCause,
        effects: &mut Vec<Effect>,
    ) {
        self.kill(&call_id, leg, cause, effects);
        self.legs.remove(leg);
        if let Some(call) = self.calls.get_mut(&call_id) {
            if let CallState::Ringing { rings, .. } = &mut call.state {
                rings.retain(|r| &r.leg != leg);
            }
        }
    }

    /// After a leg left a ringing call: with no leg left, the call waits again in its place.
    fn after_ring_removed(&mut self, now: Timestamp, call_id: CallId, effects: &mut Vec<Effect>) {
        let empty = self.calls.get(&call_id).is_some_and(
            |c| matches!(&c.state, CallState::Ringing { rings, .. } if rings.is_empty()),
        );
        if empty {
            self.requeue(now, call_id, effects);
        }
    }

    /// The agent's phone was busy, rejected the call or did not answer: the agent sits out (or
    /// is paused after too many misses in a row) and the caller keeps its place.
    fn ring_failed(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        agent_id: &AgentId,
        leg: &ChannelId,
        cause: &str,
        effects: &mut Vec<Effect>,
    ) {
        self.legs.remove(leg);
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        if let CallState::Ringing { rings, .. } = &mut call.state {
            rings.retain(|r| &r.leg != leg);
        }
        let queue_id = call.queue.clone();
        let Some(queue) = self.queues.get(&queue_id) else {
            return;
        };
        let settings = &queue.settings;
        let no_answer = matches!(
            cause,
            "NO_ANSWER" | "NO_USER_RESPONSE" | "ALLOTTED_TIMEOUT" | "RECOVERY_ON_TIMER_EXPIRE"
        );
        let backoff = match cause {
            "CALL_REJECTED" | "USER_CHALLENGE" => settings.routing.reject_backoff,
            _ if no_answer => settings.routing.no_answer_backoff,
            _ => None,
        }
        .unwrap_or(settings.busy_backoff);
        let max_no_answer = settings.routing.max_no_answer;
        effects.push(queue_event(
            call_id,
            &queue_id,
            Some(agent_id.clone()),
            QueueEventKind::RingNoAnswer,
            cause.to_owned(),
            now,
        ));
        self.counters.ring_no_answer += 1;
        let missed = match self.agents.get_mut(agent_id) {
            Some(agent) if no_answer => {
                agent.missed_in_a_row += 1;
                agent.missed_in_a_row
            }
            Some(agent) => agent.missed_in_a_row,
            None => 0,
        };
        let still_offered = self.agents.get(agent_id).is_some_and(|a| match &a.state {
            AgentState::Offered { leg: l, .. } | AgentState::OnCall { leg: l, .. } => l == leg,
            _ => false,
        });
        if still_offered {
            if max_no_answer > 0 && missed >= max_no_answer {
                self.transition(
                    now,
                    agent_id,
                    AgentState::Paused {
                        reason: NO_ANSWER_PAUSE.to_owned(),
                    },
                    StateCause::AutoPause,
                    effects,
                );
                effects.push(queue_event(
                    call_id,
                    &queue_id,
                    Some(agent_id.clone()),
                    QueueEventKind::AutoPause,
                    format!("missed={missed}"),
                    now,
                ));
            } else {
                self.back_off(now, agent_id, backoff, effects);
            }
        }
        self.after_ring_removed(now, call_id, effects);
    }

    /// The call waits again with its original key, so it keeps its place.
    pub(super) fn requeue(&mut self, now: Timestamp, call_id: CallId, effects: &mut Vec<Effect>) {
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        call.state = CallState::Waiting;
        // A caller whose hold music was stopped for a bridge that failed hears it again.
        let music_stopped = !call.on_hold && !call.is_virtual();
        let (switch, channel) = (call.switch.clone(), call.caller.clone());
        if music_stopped {
            self.start_hold(now, call_id, &switch, &channel, false, effects);
        }
        if self.catch_up_on_wait(now, call_id, effects) {
            return;
        }
        self.route_call(now, call_id, effects);
    }

    /// Escalation and max-wait timers that fired while the call was being connected were
    /// ignored; a call waiting again takes the step its wait has reached, and leaves if its
    /// max wait is over. True when the call left the queue.
    fn catch_up_on_wait(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        effects: &mut Vec<Effect>,
    ) -> bool {
        let Some(call) = self.calls.get(&call_id) else {
            return true;
        };
        let Some(queue) = self.queues.get(&call.queue) else {
            return false;
        };
        let waited = now.since(call.wait_key.entered_at);
        let overdue = !call.is_virtual()
            && queue
                .settings
                .routing
                .max_wait
                .is_some_and(|max| waited >= max);
        if overdue {
            self.max_wait_reached(now, call_id, effects);
            return true;
        }
        let reached = steps(queue)
            .iter()
            .rposition(|s| s.after <= waited)
            .unwrap_or(0);
        if reached > call.step {
            self.escalate(now, call_id, reached, effects);
            return true;
        }
        false
    }

    fn abandon(&mut self, now: Timestamp, call: &Call, cause: &str, effects: &mut Vec<Effect>) {
        let wait_ms = millis_between(call.wait_key.entered_at, now);
        self.note_wait_outcome(&call.queue, wait_ms, false, now);
        effects.push(queue_event(
            call.id,
            &call.queue,
            None,
            QueueEventKind::Abandon,
            format!("wait_ms={wait_ms}"),
            now,
        ));
        effects.push(Effect::Persist(Record::CallEnded {
            call: call.id,
            outcome: CallOutcome::Abandoned,
            hangup_cause: cause.to_owned(),
            talk_ms: None,
            wait_ms: Some(wait_ms),
            at: now,
        }));
        self.counters.abandoned += 1;
        let window = self
            .queues
            .get(&call.queue)
            .and_then(|q| q.settings.routing.abandoned_resume);
        if let Some(window) = window.filter(|_| !call.caller_number.is_empty()) {
            if self.resumable.len() >= MAX_RESUMABLE {
                self.resumable.retain(|_, r| r.until >= now);
            }
            if self.resumable.len() < MAX_RESUMABLE {
                self.resumable.insert(
                    (call.queue.clone(), call.caller_number.clone()),
                    Resumable {
                        entered_at: call.wait_key.entered_at,
                        priority: call.wait_key.priority.0,
                        until: now.plus(window),
                    },
                );
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn complete(
        &mut self,
        now: Timestamp,
        call: &Call,
        agent_id: &AgentId,
        answered_at: Timestamp,
        ended_by: &str,
        cause: &str,
        effects: &mut Vec<Effect>,
    ) {
        let talk_ms = millis_between(answered_at, now);
        effects.push(queue_event(
            call.id,
            &call.queue,
            Some(agent_id.clone()),
            QueueEventKind::Complete,
            format!("by={ended_by} talk_ms={talk_ms}"),
            now,
        ));
        effects.push(Effect::Persist(Record::CallEnded {
            call: call.id,
            outcome: CallOutcome::Completed,
            hangup_cause: cause.to_owned(),
            talk_ms: Some(talk_ms),
            wait_ms: None,
            at: now,
        }));
        if let Some(agent) = self.agents.get_mut(agent_id) {
            agent.talk_ms += u64::try_from(talk_ms).unwrap_or(0);
        }
        if let Some(queue) = self.queues.get_mut(&call.queue) {
            let wrap_up = u64::try_from(queue.settings.wrap_up.as_millis()).unwrap_or(0);
            let handled = u64::try_from(talk_ms).unwrap_or(0).saturating_add(wrap_up);
            // An exponential moving average: recent calls count most.
            queue.handle_ms = Some(match queue.handle_ms {
                Some(avg) => (avg * 4 + handled) / 5,
                None => handled,
            });
        }
        self.start_wrap_up(now, agent_id, &call.queue, effects);
    }

    pub(super) fn start_wrap_up(
        &mut self,
        now: Timestamp,
        agent_id: &AgentId,
        queue: &QueueId,
        effects: &mut Vec<Effect>,
    ) {
        let on_call = self
            .agents
            .get(agent_id)
            .is_some_and(|a| matches!(a.state, AgentState::OnCall { .. }));
        if !on_call {
            return;
        }
        self.note_wrap_up(now, agent_id, queue);
        let wrap_up = self
            .queues
            .get(queue)
            .map(|q| q.settings.wrap_up)
            .unwrap_or_default();
        if wrap_up.is_zero() && !self.needs_disposition(agent_id) {
            self.make_eligible(now, agent_id, StateCause::Routing, effects);
            return;
        }
        let until = now.plus(wrap_up);
        self.transition_until(
            now,
            agent_id,
            AgentState::WrapUp { until },
            until,
            |agent, epoch| Timer::WrapUpEnds { agent, epoch },
            effects,
        );
    }

    fn timer_fired(&mut self, now: Timestamp, timer: Timer, effects: &mut Vec<Effect>) {
        match timer {
            Timer::RecordingAutoResume { recording, epoch } => {
                self.recording_auto_resume(now, recording, epoch, effects)
            }
            Timer::RecordingBeep { recording } => self.recording_beep(now, recording, effects),
            Timer::Flow { channel, epoch } => self.flow_timer(now, &channel, epoch, effects),
            Timer::WrapUpEnds { agent, epoch } | Timer::BackoffEnds { agent, epoch } => {
                let current = self.agents.get(&agent).map(|a| a.epoch);
                if current == Some(epoch) {
                    self.make_eligible(now, &agent, StateCause::Routing, effects);
                }
            }
            Timer::RingTimeout { leg } => {
                let (call, agent) = match self.legs.get(&leg).cloned() {
                    Some(LegOwner::Agent { call, agent }) => (call, agent),
                    Some(LegOwner::Customer(call)) => {
                        self.kill(&call, &leg, HangupCause::NoAnswer, effects);
                        self.legs.remove(&leg);
                        self.customer_gone(now, call, &leg, "NO_ANSWER", effects);
                        return;
                    }
                    _ => return,
                };
                let ringing = matches!(
                    self.calls.get(&call).map(|c| &c.state),
                    Some(CallState::Ringing { rings, .. }) if rings.iter().any(|r| r.leg == leg)
                );
                if ringing {
                    self.kill(&call, &leg, HangupCause::NoAnswer, effects);
                    self.ring_failed(now, call, &agent, &leg, "NO_ANSWER", effects);
                }
            }
            Timer::Escalate { call, hops, step } => {
                let due = self.calls.get(&call).is_some_and(|c| {
                    c.hops == hops
                        && c.step < step
                        && !matches!(
                            c.state,
                            CallState::Bridged { .. } | CallState::Whispering { .. }
                        )
                });
                if due {
                    self.escalate(now, call, step, effects);
                }
            }
            Timer::MaxWait { call, hops } => {
                let due = self.calls.get(&call).is_some_and(|c| {
                    c.hops == hops
                        && !c.is_virtual()
                        && matches!(c.state, CallState::Waiting | CallState::Ringing { .. })
                });
                if due {
                    self.max_wait_reached(now, call, effects);
                }
            }
            Timer::RingMore { call, epoch } => self.ring_more(now, call, epoch, effects),
            Timer::Announce { call, hops } => self.announce(now, call, hops, effects),
            Timer::CallbackConfirm { call, epoch } => {
                self.callback_confirm_timeout(now, call, epoch, effects)
            }
            Timer::CallbackRetry { call, attempt } => {
                self.callback_retry(now, call, attempt, effects)
            }
            Timer::WhisperEnds { call, epoch } => self.whisper_timed_out(now, call, epoch, effects),
            Timer::Thresholds => self.check_thresholds(now, effects),
        }
    }

    /// The call has waited into its queue's next step: it now needs what that step asks.
    fn escalate(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        step: usize,
        effects: &mut Vec<Effect>,
    ) {
        let Some(call) = self.calls.get(&call_id) else {
            return;
        };
        let (pool, key, waiting) = (call.pool, call.wait_key, call.state == CallState::Waiting);
        let (queue_id, entered_at, hops) = (call.queue.clone(), key.entered_at, call.hops);
        if waiting {
            if let Some(p) = self.pool_mut(pool) {
                p.waiting.remove(&key);
            }
        }
        self.set_step(call_id, step);
        effects.push(queue_event(
            call_id,
            &queue_id,
            None,
            QueueEventKind::Escalate,
            format!("step={}", step + 1),
            now,
        ));
        let next = self
            .queues
            .get(&queue_id)
            .and_then(|q| steps(q).get(step + 1).map(|s| s.after));
        if let Some(after) = next {
            effects.push(Effect::SetTimer {
                at: entered_at.plus(after),
                timer: Timer::Escalate {
                    call: call_id,
                    hops,
                    step: step + 1,
                },
            });
        }
        if waiting {
            self.route_call(now, call_id, effects);
        }
    }

    /// Ring-progressively: one more agent joins the offer while it still rings.
    fn ring_more(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        epoch: u64,
        effects: &mut Vec<Effect>,
    ) {
        let Some(call) = self.calls.get(&call_id) else {
            return;
        };
        if call.offer_epoch != epoch || !matches!(call.state, CallState::Ringing { .. }) {
            return;
        }
        let (pool, queue_id) = (call.pool, call.queue.clone());
        while let Some(agent) = self.select_agents(pool).into_iter().next() {
            if !self.sat_out_unrouted(now, call_id, &agent, effects) {
                self.ring_agent(now, call_id, &agent, effects);
                break;
            }
        }
        if let Some(queue) = self.queues.get(&queue_id) {
            effects.push(Effect::SetTimer {
                at: now.plus(queue.settings.routing.ring_progressively_every),
                timer: Timer::RingMore {
                    call: call_id,
                    epoch,
                },
            });
        }
    }

    fn max_wait_reached(&mut self, now: Timestamp, call_id: CallId, effects: &mut Vec<Effect>) {
        let Some(call) = self.calls.get(&call_id) else {
            return;
        };
        let queue_id = call.queue.clone();
        let wait_ms = millis_between(call.wait_key.entered_at, now);
        effects.push(queue_event(
            call_id,
            &queue_id,
            None,
            QueueEventKind::Timeout,
            format!("wait_ms={wait_ms}"),
            now,
        ));
        let destination = self
            .queues
            .get(&queue_id)
            .and_then(|q| q.settings.routing.on_max_wait.clone())
            .unwrap_or(Destination::Hangup {
                cause: "NORMAL_CLEARING".to_owned(),
            });
        self.overflow(now, call_id, destination, "max_wait", effects);
    }

    /// Stops every leg still ringing for the call; their agents are free again.
    pub(super) fn cancel_rings(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        effects: &mut Vec<Effect>,
    ) {
        let rings = match self.calls.get_mut(&call_id) {
            Some(call) => match std::mem::replace(&mut call.state, CallState::Waiting) {
                CallState::Ringing { rings, .. } => rings,
                other => {
                    call.state = other;
                    return;
                }
            },
            None => return,
        };
        for ring in rings {
            self.kill(&call_id, &ring.leg, HangupCause::OriginatorCancel, effects);
            self.legs.remove(&ring.leg);
            self.make_eligible(now, &ring.agent, StateCause::Routing, effects);
        }
    }

    /// The queue lets the caller go: to another queue (keeping its enqueue time and priority),
    /// or out of our hands to an extension, voicemail or a hangup.
    pub(super) fn overflow(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        destination: Destination,
        reason: &str,
        effects: &mut Vec<Effect>,
    ) {
        self.cancel_rings(now, call_id, effects);
        let Some(call) = self.calls.get(&call_id) else {
            return;
        };
        let from = call.queue.clone();
        let described = describe(&destination);
        effects.push(queue_event(
            call_id,
            &from,
            None,
            QueueEventKind::Overflow,
            format!("reason={reason} to={described}"),
            now,
        ));
        if let Destination::Queue { queue } = &destination {
            if self.queues.contains_key(queue) && *queue != from && call.hops < MAX_QUEUE_HOPS {
                self.move_to_queue(now, call_id, queue, effects);
                return;
            }
        }
        let Some(call) = self.remove_call(call_id) else {
            return;
        };
        let (switch, channel) = (call.switch.clone(), call.caller.clone());
        let command = |command| Effect::switch(&switch, &channel, command);
        if call.on_hold {
            effects.push(command(SwitchCommand::Break {
                channel: channel.clone(),
            }));
        }
        let cause = match destination {
            Destination::Extension { number, context } => {
                effects.push(command(SwitchCommand::Transfer {
                    channel: channel.clone(),
                    extension: number,
                    context,
                }));
                "TRANSFER".to_owned()
            }
            Destination::Voicemail { domain, mailbox } => {
                effects.push(command(SwitchCommand::Voicemail {
                    channel: channel.clone(),
                    domain,
                    mailbox,
                }));
                "VOICEMAIL".to_owned()
            }
            Destination::Hangup { cause } => {
                effects.push(command(SwitchCommand::Hangup {
                    channel: channel.clone(),
                    cause: cause.clone(),
                }));
                cause
            }
            // A queue we could not move to (gone, the same queue, or too many hops): hang up.
            Destination::Queue { .. } => {
                let cause = "NORMAL_CLEARING".to_owned();
                effects.push(command(SwitchCommand::Hangup {
                    channel: channel.clone(),
                    cause: cause.clone(),
                }));
                cause
            }
        };
        effects.push(Effect::Persist(Record::CallEnded {
            call: call_id,
            outcome: CallOutcome::Overflowed,
            hangup_cause: cause,
            talk_ms: None,
            wait_ms: Some(millis_between(call.wait_key.entered_at, now)),
            at: now,
        }));
        self.counters.overflowed += 1;
    }

    fn move_to_queue(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        queue_id: &QueueId,
        effects: &mut Vec<Effect>,
    ) {
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        let from = std::mem::replace(&mut call.queue, queue_id.clone());
        // A callback being confirmed was asked of the old queue.
        if matches!(
            call.callback,
            Some(super::model::Callback::Confirming { .. })
        ) {
            call.callback = None;
        }
        call.hops += 1;
        call.step = 0;
        let (pool, key, on_hold) = (call.pool, call.wait_key, call.on_hold);
        let (switch, channel) = (call.switch.clone(), call.caller.clone());
        if let Some(p) = self.pool_mut(pool) {
            p.waiting.remove(&key);
        }
        effects.push(queue_event(
            call_id,
            queue_id,
            None,
            QueueEventKind::Enter,
            format!("priority={} from={from}", key.priority.0),
            now,
        ));
        effects.extend(self.placed(now, call_id));
        let moh = |q: &QueueId| self.queues.get(q).map(|q| q.settings.moh.clone());
        let new_music = on_hold && moh(&from) != moh(queue_id);
        self.enter_queue(now, call_id, effects);
        // A caller who has not heard a recording notice hears the new queue's, if it has one.
        let notice_due = on_hold && self.consent_notice_due(call_id).is_some();
        if (new_music || notice_due) && self.calls.contains_key(&call_id) {
            effects.push(Effect::switch(
                &switch,
                &channel,
                SwitchCommand::Break {
                    channel: channel.clone(),
                },
            ));
            self.start_hold(now, call_id, &switch, &channel, false, effects);
        }
    }

    /// Queues whose last member logged out send their waiting callers to `on_no_agents`.
    pub(super) fn overflow_queues_without_agents(
        &mut self,
        now: Timestamp,
        effects: &mut Vec<Effect>,
    ) {
        let mut stranded: Vec<(WaitKey, CallId, Destination)> = self
            .calls
            .values()
            .filter(|c| c.state == CallState::Waiting && !c.is_virtual())
            .filter_map(|c| {
                let queue = self.queues.get(&c.queue)?;
                let destination = queue.settings.routing.on_no_agents.clone()?;
                (queue.logged_in == 0).then_some((c.wait_key, c.id, destination))
            })
            .collect();
        // Best placed first, so they keep their order wherever they go.
        stranded.sort_by_key(|s| s.0);
        for (_, call, destination) in stranded {
            self.overflow(now, call, destination, "no_agents", effects);
        }
    }

    /// Hangs up a leg on the switch its call lives on.
    pub(super) fn kill(
        &self,
        call: &CallId,
        leg: &ChannelId,
        cause: HangupCause,
        effects: &mut Vec<Effect>,
    ) {
        if let Some(c) = self.calls.get(call) {
            effects.push(Effect::switch(
                &c.switch,
                &c.caller,
                SwitchCommand::Kill {
                    channel: leg.clone(),
                    cause,
                },
            ));
        }
    }

    /// A command the engine issued failed. A failed bridge means one of the legs is gone or
    /// never was: drop the agent leg and put the caller back in line.
    fn command_failed(
        &mut self,
        now: Timestamp,
        switch: &SwitchName,
        command: SwitchCommand,
        effects: &mut Vec<Effect>,
    ) {
        let agent_leg = match command {
            SwitchCommand::Bridge { caller, agent_leg } => {
                self.caller_orphaned_by_failed_bridge(switch, &caller, &agent_leg, effects);
                agent_leg
            }
            SwitchCommand::Play { ref channel, .. }
            | SwitchCommand::Say { ref channel, .. }
            | SwitchCommand::Record { ref channel, .. }
                if self.in_flow(channel) =>
            {
                self.flow_command_failed(now, &command, effects);
                return;
            }
            // A whisper the switch would not play is over before it began.
            SwitchCommand::Play { channel, .. } => {
                if let Some(LegOwner::Agent { call, .. }) = self.legs.get(&channel) {
                    let call = *call;
                    self.end_whisper(now, call, &channel, effects);
                }
                return;
            }
            _ => return,
        };
        let Some(LegOwner::Agent { call, agent }) = self.legs.get(&agent_leg).cloned() else {
            return;
        };
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if !matches!(&c.state, CallState::Bridged { leg, .. } if *leg == agent_leg) {
            return;
        }
        effects.push(Effect::switch(
            switch,
            &c.caller,
            SwitchCommand::Kill {
                channel: agent_leg.clone(),
                cause: HangupCause::NormalClearing,
            },
        ));
        self.recording_bridge_over(now, call, effects);
        self.back_to_ringing(now, call, &agent, &agent_leg);
        self.ring_failed(now, call, &agent, &agent_leg, "BRIDGE_FAILED", effects);
    }

    /// Puts an answered call back to ringing on its one leg, so a connection that fails goes
    /// the way of a busy phone.
    fn back_to_ringing(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        agent: &AgentId,
        leg: &ChannelId,
    ) {
        if let Some(call) = self.calls.get_mut(&call_id) {
            call.state = CallState::Ringing {
                rings: vec![Ring {
                    agent: agent.clone(),
                    leg: leg.clone(),
                }],
                since: now,
            };
        }
    }

    /// Reconciles our view of one switch with what it holds after a (re)connect.
    ///
    /// Legs originated while reconciling (an agent freed here takes a waiting call at once),
    /// or since the listing was taken, are not in the snapshot: only legs known when the
    /// listing began (`ResyncStarted`; else when it arrives) are judged by it.
    fn resync(
        &mut self,
        now: Timestamp,
        switch: &SwitchName,
        channels: Vec<ChannelSnapshot>,
        effects: &mut Vec<Effect>,
    ) {
        let present: HashMap<ChannelId, &ChannelSnapshot> =
            channels.iter().map(|c| (c.channel.clone(), c)).collect();
        let marks = self.resync_marks.remove(switch);
        self.flow_resync(now, switch, &present, marks.as_ref(), effects);
        self.pending_surveys_resync(now, switch, &present, effects);
        self.transfers_resync(now, switch, &present, effects);
        self.consults_resync(now, switch, &present, marks.as_ref(), effects);
        let legs_before: HashSet<ChannelId> = match marks {
            Some(marked) => marked
                .into_iter()
                .filter(|leg| self.legs.contains_key(leg))
                .collect(),
            None => self.legs.keys().cloned().collect(),
        };
        let judged = |leg: &ChannelId| legs_before.contains(leg);

        // 0. Calls on agents' phones that ended while we were away.
        let mut ended_elsewhere: Vec<ChannelId> = self
            .calls_elsewhere
            .iter()
            .filter(|(channel, (on, _))| on == switch && !present.contains_key(*channel))
            .map(|(channel, _)| channel.clone())
            .collect();
        ended_elsewhere.sort();
        for channel in ended_elsewhere {
            self.call_elsewhere_ended(now, &channel, effects);
        }

        // 1. Calls we know on this switch, best placed first.
        let mut ours: Vec<(WaitKey, CallId)> = self
            .calls
            .values()
            .filter(|c| &c.switch == switch)
            .map(|c| (c.wait_key, c.id))
            .collect();
        ours.sort();
        for (_, call_id) in ours {
            let Some(call) = self.calls.get(&call_id) else {
                continue;
            };
            let caller = call.caller.clone();
            let state = call.state.clone();
            let virtual_call = call.is_virtual();
            let caller_snap = present.get(&caller).copied();
            if caller_snap.is_none() && !virtual_call {
                self.lose_call(now, call_id, effects);
                continue;
            }
            match state {
                CallState::Waiting => {
                    // An answer and hold music dropped at the reconnect are sent again.
                    if caller_snap.is_some_and(|s| !s.answered) && !virtual_call {
                        self.start_hold(now, call_id, switch, &caller, true, effects);
                    }
                }
                CallState::Ringing { rings, .. } => {
                    for ring in rings {
                        let still_ringing = matches!(
                            self.calls.get(&call_id).map(|c| &c.state),
                            Some(CallState::Ringing { rings, .. }) if rings.contains(&ring)
                        );
                        if !still_ringing || !judged(&ring.leg) {
                            continue;
                        }
                        match present.get(&ring.leg) {
                            None => self.ring_failed(
                                now,
                                call_id,
                                &ring.agent,
                                &ring.leg,
                                "CHANNEL_LOST",
                                effects,
                            ),
                            Some(snap) if snap.answered => {
                                self.channel_answered(now, switch, &ring.leg, effects)
                            }
                            Some(_) => {}
                        }
                    }
                }
                CallState::Whispering { leg, .. } => {
                    if !judged(&leg) {
                        continue;
                    }
                    if !present.contains_key(&leg) {
                        self.channel_hung_up(now, &leg, "CHANNEL_LOST", effects);
                        continue;
                    }
                    if caller_snap.is_some_and(|s| !s.answered) {
                        self.start_hold(now, call_id, switch, &caller, true, effects);
                    }
                    // The whisper may have been dropped at the reconnect, or have ended while
                    // its end went unheard: it plays again from the start (the guard timer
                    // still bounds it). A notice whose end went unheard is taken as over.
                    let whispering = self.calls.get(&call_id).is_some_and(|c| c.whisper_pending);
                    match self.whisper_of(call_id).filter(|_| whispering) {
                        Some(source) => {
                            for command in [
                                SwitchCommand::Break {
                                    channel: leg.clone(),
                                },
                                SwitchCommand::Play {
                                    channel: leg,
                                    source,
                                },
                            ] {
                                effects.push(Effect::switch(switch, &caller, command));
                            }
                        }
                        None => self.connect_anyway(now, call_id, effects),
                    }
                }
                CallState::Bridged { leg, .. } => {
                    if !judged(&leg) {
                        continue;
                    }
                    if !present.contains_key(&leg) {
                        self.channel_hung_up(now, &leg, "CHANNEL_LOST", effects);
                    } else if caller_snap.is_some_and(|s| s.bridged_to.as_ref() != Some(&leg))
                        // Mid-consult the caller waits parked, or bridged to the agent: as asked.
                        && self.consult_view(call_id).is_none()
                        && !self.in_conference(call_id)
                    {
                        // The bridge was decided but dropped at the reconnect: do it now.
                        for command in [
                            SwitchCommand::Break {
                                channel: caller.clone(),
                            },
                            SwitchCommand::Bridge {
                                caller: caller.clone(),
                                agent_leg: leg.clone(),
                            },
                        ] {
                            effects.push(Effect::switch(switch, &caller, command));
                        }
                    }
                }
                CallState::CallingBack {
                    agent_leg,
                    customer_leg,
                    ..
                } => {
                    for leg in [agent_leg, customer_leg] {
                        if judged(&leg) && !present.contains_key(&leg) {
                            self.channel_hung_up(now, &leg, "CHANNEL_LOST", effects);
                        }
                    }
                }
            }
        }

        // 2. Channels of ours we do not know: the controller restarted while they lived.
        // Callers first, so an agent leg bridged to one is recognised whatever the order.
        let known: HashSet<ChannelId> = self
            .legs
            .keys()
            .chain(self.flow_channels().map(|(c, _)| c))
            .cloned()
            .chain(self.consult_legs().into_iter().map(|(_, _, leg)| leg))
            .chain(self.conference_channels())
            .collect();
        let unknown = || channels.iter().filter(|c| !known.contains(&c.channel));
        for snap in unknown().filter(|c| c.role == ChannelRole::Caller) {
            if snap.queue.is_some() {
                self.adopt_caller(now, switch, snap, &present, effects);
            } else {
                self.adopt_flow_caller(now, switch, snap, effects);
            }
        }
        for snap in unknown().filter(|c| c.role == ChannelRole::Agent) {
            let bridged_to_known_caller = snap
                .bridged_to
                .as_ref()
                .is_some_and(|b| self.legs.contains_key(b));
            if !bridged_to_known_caller && !self.legs.contains_key(&snap.channel) {
                effects.push(Effect::switch(
                    switch,
                    &snap.channel,
                    SwitchCommand::Kill {
                        channel: snap.channel.clone(),
                        cause: HangupCause::NormalClearing,
                    },
                ));
            }
        }
    }

    fn adopt_caller(
        &mut self,
        now: Timestamp,
        switch: &SwitchName,
        snap: &ChannelSnapshot,
        present: &HashMap<ChannelId, &ChannelSnapshot>,
        effects: &mut Vec<Effect>,
    ) {
        let standing = self.stored_standing(snap);
        let Some(queue_id) = standing
            .as_ref()
            .map(|s| s.queue.clone())
            .or_else(|| snap.queue.clone().filter(|q| self.queues.contains_key(q)))
        else {
            return;
        };
        // A call we hold already (a callback whose old caller channel still lives) stays ours.
        if snap
            .stored
            .as_ref()
            .is_some_and(|s| self.calls.contains_key(&s.call))
        {
            return;
        }
        // A callback's customer leg (it carries the call's id): restored from the history
        // before this resync, the callback takes its conversation back, or dials again.
        if let Some(call_id) = snap
            .call
            .filter(|c| self.calls.get(c).is_some_and(Call::is_virtual))
        {
            self.reattach_customer(now, switch, call_id, snap, present, effects);
            return;
        }
        let (call_id, entered_at, priority, skills, hops, stored) = match standing {
            Some(s) => (s.call, s.waiting_since, s.priority, s.skills, s.hops, true),
            None => (
                CallId::from_uuid(self.new_uuid()),
                now,
                0,
                Vec::new(),
                0,
                false,
            ),
        };
        if !stored {
            effects.push(Effect::Persist(Record::CallEntered {
                call: call_id,
                switch: switch.clone(),
                channel: snap.channel.clone(),
                queue: queue_id.clone(),
                caller_number: snap.caller_number.clone(),
                caller_name: snap.caller_name.clone(),
                destination: snap.destination.clone(),
                priority,
                at: now,
            }));
            effects.push(queue_event(
                call_id,
                &queue_id,
                None,
                QueueEventKind::Enter,
                format!("priority={priority} adopted"),
                now,
            ));
            self.counters.offered += 1;
        }
        let agent_leg = snap
            .bridged_to
            .as_ref()
            .and_then(|b| present.get(b))
            .filter(|a| a.role == ChannelRole::Agent)
            .and_then(|a| a.agent.clone().map(|agent| (a.channel.clone(), agent)))
            .filter(|(_, agent)| self.agents.contains_key(agent));
        let adopted = Call {
            id: call_id,
            switch: switch.clone(),
            caller: snap.channel.clone(),
            queue: queue_id,
            caller_number: snap.caller_number.clone(),
            caller_name: snap.caller_name.clone(),
            destination: snap.destination.clone(),
            wait_key: WaitKey {
                priority: Reverse(priority),
                entered_at,
                seq: 0,
                call: call_id,
            },
            skills,
            step: 0,
            pool: PoolId(0),
            state: CallState::Waiting,
            hops,
            offer_epoch: 0,
            on_hold: snap.answered,
            callback: None,
            variables: snap
                .stored_flow
                .as_ref()
                .map(|f| f.variables.clone())
                .unwrap_or_default(),
            survey: None,
            consent: Default::default(),
            recordings: 0,
            notice_playing: None,
            whisper_pending: false,
        };
        // A caller its agent transferred away talks on elsewhere: not queued again.
        if let Some(transfer) = snap.stored.as_ref().and_then(|s| s.transferred) {
            if agent_leg.is_none() {
                let answered_at = snap.stored.as_ref().and_then(|s| s.answered_at);
                self.adopt_transferred(adopted, transfer, answered_at);
                return;
            }
        }
        self.insert_call(adopted);
        if let Some((leg, agent)) = agent_leg {
            self.legs.insert(
                leg.clone(),
                LegOwner::Agent {
                    call: call_id,
                    agent: agent.clone(),
                },
            );
            let answered_at = snap
                .stored
                .as_ref()
                .and_then(|s| s.answered_at)
                .unwrap_or(now);
            if let Some(call) = self.calls.get_mut(&call_id) {
                call.on_hold = false;
                call.state = CallState::Bridged {
                    agent: agent.clone(),
                    leg: leg.clone(),
                    answered_at,
                };
            }
            self.transition(
                now,
                &agent,
                AgentState::OnCall { call: call_id, leg },
                StateCause::Switch,
                effects,
            );
            return;
        }
        let ringing = self.ringing_leg_of(call_id, present);
        if ringing.is_some() {
            self.hold_for_adopted_ring(now, call_id);
        }
        self.enter_queue(now, call_id, effects);
        if let Some((leg, agent)) = ringing {
            self.adopt_ring(now, call_id, leg, agent, effects);
        }
        if !snap.answered {
            self.start_hold(now, call_id, switch, &snap.channel, true, effects);
        }
    }

    /// After a controller restart, a restored callback finds its customer leg: bridged to its
    /// agent, the conversation goes on as the call's; otherwise the leg is dropped and the
    /// callback waits for its turn again.
    fn reattach_customer(
        &mut self,
        now: Timestamp,
        switch: &SwitchName,
        call_id: CallId,
        snap: &ChannelSnapshot,
        present: &HashMap<ChannelId, &ChannelSnapshot>,
        effects: &mut Vec<Effect>,
    ) {
        let agent_leg = snap
            .bridged_to
            .as_ref()
            .and_then(|b| present.get(b))
            .and_then(|a| a.agent.clone().map(|agent| (a.channel.clone(), agent)))
            .filter(|(_, agent)| self.agents.contains_key(agent));
        let Some((leg, agent)) = agent_leg else {
            effects.push(Effect::switch(
                switch,
                &snap.channel,
                SwitchCommand::Kill {
                    channel: snap.channel.clone(),
                    cause: HangupCause::OriginatorCancel,
                },
            ));
            return;
        };
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        if let Some(pool) = self
            .pools
            .get_mut(call.pool.0 as usize)
            .and_then(Option::as_mut)
        {
            pool.waiting.remove(&call.wait_key);
        }
        call.callback = None;
        call.caller = snap.channel.clone();
        call.state = CallState::Bridged {
            agent: agent.clone(),
            leg: leg.clone(),
            answered_at: now,
        };
        self.legs
            .insert(snap.channel.clone(), LegOwner::Caller(call_id));
        self.legs.insert(
            leg.clone(),
            LegOwner::Agent {
                call: call_id,
                agent: agent.clone(),
            },
        );
        self.transition(
            now,
            &agent,
            AgentState::OnCall { call: call_id, leg },
            StateCause::Switch,
            effects,
        );
    }

    /// The switch no longer has the caller: close the call and free its agents.
    fn lose_call(&mut self, now: Timestamp, call_id: CallId, effects: &mut Vec<Effect>) {
        let Some(call) = self.remove_call(call_id) else {
            return;
        };
        self.recording_caller_gone(now, call_id, effects);
        effects.push(Effect::Persist(Record::CallEnded {
            call: call_id,
            outcome: CallOutcome::Lost,
            hangup_cause: "CHANNEL_LOST".to_owned(),
            talk_ms: None,
            wait_ms: None,
            at: now,
        }));
        self.counters.lost += 1;
        match call.state {
            CallState::Waiting => {}
            CallState::Ringing { rings, .. } => {
                for ring in rings {
                    self.legs.remove(&ring.leg);
                    effects.push(Effect::switch(
                        &call.switch,
                        &call.caller,
                        SwitchCommand::Kill {
                            channel: ring.leg,
                            cause: HangupCause::OriginatorCancel,
                        },
                    ));
                    self.make_eligible(now, &ring.agent, StateCause::Switch, effects);
                }
            }
            CallState::Whispering { agent, leg, .. } => {
                self.legs.remove(&leg);
                effects.push(Effect::switch(
                    &call.switch,
                    &call.caller,
                    SwitchCommand::Kill {
                        channel: leg,
                        cause: HangupCause::NormalClearing,
                    },
                ));
                self.make_eligible(now, &agent, StateCause::Switch, effects);
            }
            CallState::Bridged { agent, leg, .. } => {
                self.legs.remove(&leg);
                self.start_wrap_up(now, &agent, &call.queue, effects);
            }
            CallState::CallingBack {
                agent,
                agent_leg,
                customer_leg,
            } => {
                for leg in [agent_leg, customer_leg] {
                    self.legs.remove(&leg);
                    effects.push(Effect::switch(
                        &call.switch,
                        &call.caller,
                        SwitchCommand::Kill {
                            channel: leg,
                            cause: HangupCause::NormalClearing,
                        },
                    ));
                }
                self.make_eligible(now, &agent, StateCause::Switch, effects);
            }
        }
    }
}

pub(super) fn queue_event(
    call: CallId,
    queue: &QueueId,
    agent: Option<AgentId>,
    kind: QueueEventKind,
    detail: String,
    at: Timestamp,
) -> Effect {
    Effect::Persist(Record::QueueEvent {
        call,
        queue: queue.clone(),
        agent,
        kind,
        detail,
        at,
    })
}

pub(super) fn answered_record(
    now: Timestamp,
    call: CallId,
    agent: &AgentId,
    agent_channel: &ChannelId,
    wait_ms: i64,
) -> Effect {
    Effect::Persist(Record::CallAnswered {
        call,
        agent: agent.clone(),
        agent_channel: agent_channel.clone(),
        wait_ms,
        at: now,
    })
}

pub(super) fn millis_between(from: Timestamp, to: Timestamp) -> i64 {
    i64::try_from(to.since(from).as_millis()).unwrap_or(i64::MAX)
}

/// A destination as queue events show it (`queue:sales`, `extension:9000@default`).
pub fn describe(destination: &Destination) -> String {
    match destination {
        Destination::Queue { queue } => format!("queue:{queue}"),
        Destination::Extension { number, context } => format!("extension:{number}@{context}"),
        Destination::Voicemail { domain, mailbox } => format!("voicemail:{mailbox}@{domain}"),
        Destination::Hangup { cause } => format!("hangup:{cause}"),
    }
}
