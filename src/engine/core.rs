//! The engine proper: state transitions and routing decisions as plain functions.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap, HashSet};

use thiserror::Error;

use super::ids::{AgentId, CallId, ChannelUuid, QueueId, SwitchName};
use super::io::{
    ChannelRole, ChannelSnapshot, Effect, HangupCause, Input, ParkedCall, SwitchCommand, Timer,
};
use super::model::{
    Agent, AgentSettings, AgentState, Call, CallState, IdleKey, LegOwner, Queue, QueueSettings,
    WaitKey,
};
use super::record::{AgentStatus, CallOutcome, QueueEventKind, Record, StateCause};
use super::rng::SplitMix64;
use super::time::Timestamp;

/// A request the engine refuses; the API turns these into problem details.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CommandError {
    #[error("no agent {0}")]
    UnknownAgent(AgentId),
    #[error("agent {agent} is {status} and cannot be made {requested} now")]
    Conflict {
        agent: AgentId,
        status: &'static str,
        requested: &'static str,
    },
}

/// The states an API caller may put an agent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestedState {
    Available,
    LoggedOut,
}

/// Running totals since start, for status lines and the wallboard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    pub offered: u64,
    pub answered: u64,
    pub abandoned: u64,
    pub lost: u64,
    pub ring_no_answer: u64,
}

pub struct Engine {
    pub(super) queues: HashMap<QueueId, Queue>,
    pub(super) agents: HashMap<AgentId, Agent>,
    pub(super) calls: HashMap<CallId, Call>,
    pub(super) legs: HashMap<ChannelUuid, LegOwner>,
    pub(super) counters: Counters,
    rng: SplitMix64,
    seq: u64,
}

impl Engine {
    /// `seed` feeds the generator of our call ids and agent-leg UUIDs: fixed in tests, random
    /// in production.
    pub fn new(seed: u64) -> Self {
        Self {
            queues: HashMap::new(),
            agents: HashMap::new(),
            calls: HashMap::new(),
            legs: HashMap::new(),
            counters: Counters::default(),
            rng: SplitMix64::new(seed),
            seq: 0,
        }
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Adds or replaces a queue. Calls already waiting stay where they are.
    pub fn provision_queue(&mut self, settings: QueueSettings) {
        match self.queues.get_mut(&settings.id) {
            Some(queue) => queue.settings = settings,
            None => {
                self.queues.insert(
                    settings.id.clone(),
                    Queue {
                        settings,
                        waiting: BTreeSet::new(),
                        idle_agents: BTreeSet::new(),
                        members: 0,
                    },
                );
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
        let mut effects = Vec::new();
        if let Some(existing) = self.agents.get(&settings.id) {
            let old_queues = existing.settings.queues.clone();
            let idle_key = existing.idle_key.clone();
            for q in &old_queues {
                if let Some(queue) = self.queues.get_mut(&q.queue) {
                    queue.members = queue.members.saturating_sub(1);
                    if let Some(key) = &idle_key {
                        queue.idle_agents.remove(key);
                    }
                }
            }
            for q in &settings.queues {
                if let Some(queue) = self.queues.get_mut(&q.queue) {
                    queue.members += 1;
                    if let Some(key) = &idle_key {
                        queue.idle_agents.insert(key.clone());
                    }
                }
            }
            let id = settings.id.clone();
            if let Some(agent) = self.agents.get_mut(&id) {
                agent.settings = settings;
            }
            if idle_key.is_some() {
                self.offer_waiting_call_to(now, &id, &mut effects);
            }
            return effects;
        }
        for q in &settings.queues {
            if let Some(queue) = self.queues.get_mut(&q.queue) {
                queue.members += 1;
            }
        }
        let id = settings.id.clone();
        self.agents.insert(
            id.clone(),
            Agent {
                settings,
                state: AgentState::LoggedOut,
                since: now,
                idle_key: None,
                epoch: 0,
                calls_answered: 0,
            },
        );
        if initial == AgentStatus::Available {
            self.make_eligible(now, &id, &mut effects);
        }
        effects
    }

    pub fn handle(&mut self, now: Timestamp, input: Input) -> Vec<Effect> {
        let mut effects = Vec::new();
        match input {
            Input::CallParked(parked) => self.call_parked(now, parked, &mut effects),
            Input::ChannelAnswered { switch, channel } => {
                self.channel_answered(now, &switch, &channel, &mut effects)
            }
            Input::ChannelHungUp {
                switch,
                channel,
                cause,
            } => self.channel_hung_up(now, &switch, &channel, &cause, &mut effects),
            Input::CommandFailed {
                switch, command, ..
            } => self.command_failed(now, &switch, command, &mut effects),
            Input::SwitchResynced { switch, channels } => {
                self.resync(now, &switch, channels, &mut effects)
            }
            Input::TimerFired(timer) => self.timer_fired(now, timer, &mut effects),
            Input::Dtmf { .. } => {}
        }
        effects
    }

    /// A supervisor or agent asks for a state change over the API.
    pub fn set_agent_state(
        &mut self,
        now: Timestamp,
        agent_id: &AgentId,
        requested: RequestedState,
    ) -> Result<Vec<Effect>, CommandError> {
        let agent = self
            .agents
            .get(agent_id)
            .ok_or_else(|| CommandError::UnknownAgent(agent_id.clone()))?;
        let mut effects = Vec::new();
        match (requested, agent.state.clone()) {
            (RequestedState::Available, AgentState::Available | AgentState::Backoff { .. }) => {}
            (RequestedState::Available, AgentState::LoggedOut | AgentState::WrapUp { .. }) => {
                self.transition(
                    now,
                    agent_id,
                    AgentState::Available,
                    StateCause::Api,
                    &mut effects,
                );
                self.make_eligible(now, agent_id, &mut effects);
            }
            (RequestedState::LoggedOut, AgentState::LoggedOut) => {}
            (
                RequestedState::LoggedOut,
                AgentState::Available | AgentState::Backoff { .. } | AgentState::WrapUp { .. },
            ) => {
                self.transition(
                    now,
                    agent_id,
                    AgentState::LoggedOut,
                    StateCause::Api,
                    &mut effects,
                );
            }
            (RequestedState::LoggedOut, AgentState::Offered { call, leg }) => {
                self.kill(&call, &leg, HangupCause::OriginatorCancel, &mut effects);
                self.legs.remove(&leg);
                self.transition(
                    now,
                    agent_id,
                    AgentState::LoggedOut,
                    StateCause::Api,
                    &mut effects,
                );
                self.requeue(now, call, &mut effects);
            }
            (requested, state @ AgentState::OnCall { .. })
            | (requested @ RequestedState::Available, state @ AgentState::Offered { .. }) => {
                return Err(CommandError::Conflict {
                    agent: agent_id.clone(),
                    status: state.status().as_str(),
                    requested: match requested {
                        RequestedState::Available => "available",
                        RequestedState::LoggedOut => "logged_out",
                    },
                });
            }
        }
        Ok(effects)
    }

    fn new_uuid(&mut self) -> uuid::Uuid {
        let bytes = self.rng.next_u128().to_le_bytes();
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn call_parked(&mut self, now: Timestamp, parked: ParkedCall, effects: &mut Vec<Effect>) {
        if self.legs.contains_key(&parked.channel) {
            return;
        }
        if !self.queues.contains_key(&parked.queue) {
            effects.push(Effect::Switch {
                affinity: parked.channel.clone(),
                switch: parked.switch,
                command: SwitchCommand::Kill {
                    channel: parked.channel,
                    cause: HangupCause::NoRouteDestination,
                },
            });
            return;
        }
        let call = CallId::from_uuid(self.new_uuid());
        let seq = self.next_seq();
        let wait_key = WaitKey {
            priority: Reverse(parked.priority),
            entered_at: now,
            seq,
            call,
        };
        effects.push(Effect::Persist(Record::CallEntered {
            call,
            switch: parked.switch.clone(),
            channel: parked.channel.clone(),
            queue: parked.queue.clone(),
            caller_number: parked.caller_number.clone(),
            caller_name: parked.caller_name.clone(),
            destination: parked.destination.clone(),
            priority: parked.priority,
            at: now,
        }));
        effects.push(Effect::Persist(Record::QueueEvent {
            call,
            queue: parked.queue.clone(),
            agent: None,
            kind: QueueEventKind::Enter,
            detail: format!("priority={}", parked.priority),
            at: now,
        }));
        self.counters.offered += 1;
        let switch = parked.switch.clone();
        let channel = parked.channel.clone();
        let moh = self
            .queues
            .get(&parked.queue)
            .map(|q| q.settings.moh.clone())
            .unwrap_or_default();
        self.insert_waiting_call(Call {
            id: call,
            switch: parked.switch,
            caller: parked.channel,
            queue: parked.queue,
            caller_number: parked.caller_number,
            caller_name: parked.caller_name,
            destination: parked.destination,
            wait_key,
            state: CallState::Waiting,
        });
        // Routing first: the agent's phone starts ringing before the caller's own setup.
        self.route_call(now, call, effects);
        effects.push(Effect::Switch {
            affinity: channel.clone(),
            switch: switch.clone(),
            command: SwitchCommand::Answer {
                channel: channel.clone(),
            },
        });
        effects.push(Effect::Switch {
            affinity: channel.clone(),
            switch,
            command: SwitchCommand::PlayHold {
                channel,
                source: moh,
            },
        });
    }

    fn insert_waiting_call(&mut self, call: Call) {
        if let Some(queue) = self.queues.get_mut(&call.queue) {
            queue.waiting.insert(call.wait_key);
        }
        self.legs
            .insert(call.caller.clone(), LegOwner::Caller(call.id));
        self.calls.insert(call.id, call);
    }

    /// The call is routable: give it to the longest-idle agent of its queue, if any.
    fn route_call(&mut self, now: Timestamp, call_id: CallId, effects: &mut Vec<Effect>) {
        let Some(call) = self.calls.get(&call_id) else {
            return;
        };
        let Some(queue) = self.queues.get(&call.queue) else {
            return;
        };
        let Some(agent) = queue.idle_agents.first().map(|k| k.agent.clone()) else {
            return;
        };
        self.offer(now, call_id, &agent, effects);
    }

    /// The agent became eligible: give it the best waiting call across its queues.
    ///
    /// Invariant: a queue never holds both waiting calls and idle agents, so a waiting call
    /// found here has no better agent than this one.
    fn offer_waiting_call_to(
        &mut self,
        now: Timestamp,
        agent_id: &AgentId,
        effects: &mut Vec<Effect>,
    ) {
        let Some(agent) = self.agents.get(agent_id) else {
            return;
        };
        let best = agent
            .settings
            .queues
            .iter()
            .filter_map(|q| self.queues.get(&q.queue))
            .filter_map(|q| q.waiting.first())
            .min()
            .map(|k| k.call);
        if let Some(call) = best {
            self.offer(now, call, agent_id, effects);
        }
    }

    fn offer(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        agent_id: &AgentId,
        effects: &mut Vec<Effect>,
    ) {
        let leg = ChannelUuid::from_uuid(self.new_uuid());
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        let Some(queue) = self.queues.get_mut(&call.queue) else {
            return;
        };
        queue.waiting.remove(&call.wait_key);
        let ring_timeout = queue.settings.ring_timeout;
        call.state = CallState::Ringing {
            agent: agent_id.clone(),
            leg: leg.clone(),
            since: now,
        };
        let (switch, caller_channel, caller_number, caller_name, queue_id) = (
            call.switch.clone(),
            call.caller.clone(),
            call.caller_number.clone(),
            call.caller_name.clone(),
            call.queue.clone(),
        );
        self.legs.insert(
            leg.clone(),
            LegOwner::Agent {
                call: call_id,
                agent: agent_id.clone(),
            },
        );
        let dial_string = match self.agents.get(agent_id) {
            Some(agent) => agent.settings.dial_string.clone(),
            None => return,
        };
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
        effects.push(Effect::Switch {
            affinity: caller_channel.clone(),
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
            },
        });
        // The switch gives up at originate_timeout; this guards against a reply that never comes.
        effects.push(Effect::SetTimer {
            at: now
                .plus(ring_timeout)
                .plus(std::time::Duration::from_secs(5)),
            timer: Timer::RingTimeout { leg },
        });
    }

    /// Changes an agent's state, keeping the idle index and the history in step.
    fn transition(
        &mut self,
        now: Timestamp,
        agent_id: &AgentId,
        next: AgentState,
        cause: StateCause,
        effects: &mut Vec<Effect>,
    ) {
        let Some(agent) = self.agents.get_mut(agent_id) else {
            return;
        };
        if let Some(key) = agent.idle_key.take() {
            for q in &agent.settings.queues {
                if let Some(queue) = self.queues.get_mut(&q.queue) {
                    queue.idle_agents.remove(&key);
                }
            }
        }
        let from = agent.state.status();
        let to = next.status();
        agent.state = next;
        agent.epoch += 1;
        if from != to {
            agent.since = now;
            effects.push(Effect::Persist(Record::AgentState {
                agent: agent_id.clone(),
                from,
                to,
                cause,
                reason: None,
                at: now,
            }));
        }
    }

    /// Puts an agent in its queues' idle sets and offers it a waiting call if there is one.
    fn make_eligible(&mut self, now: Timestamp, agent_id: &AgentId, effects: &mut Vec<Effect>) {
        let seq = self.next_seq();
        if self
            .agents
            .get(agent_id)
            .is_some_and(|a| !matches!(a.state, AgentState::Available))
        {
            self.transition(
                now,
                agent_id,
                AgentState::Available,
                StateCause::Routing,
                effects,
            );
        }
        let Some(agent) = self.agents.get_mut(agent_id) else {
            return;
        };
        let key = IdleKey {
            idle_since: now,
            seq,
            agent: agent_id.clone(),
        };
        for q in &agent.settings.queues {
            if let Some(queue) = self.queues.get_mut(&q.queue) {
                queue.idle_agents.insert(key.clone());
            }
        }
        agent.idle_key = Some(key);
        self.offer_waiting_call_to(now, agent_id, effects);
    }

    fn channel_answered(
        &mut self,
        now: Timestamp,
        switch: &SwitchName,
        channel: &ChannelUuid,
        effects: &mut Vec<Effect>,
    ) {
        let Some(LegOwner::Agent { call, agent }) = self.legs.get(channel).cloned() else {
            return;
        };
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if !matches!(&c.state, CallState::Ringing { leg, .. } if leg == channel) {
            return;
        }
        c.state = CallState::Bridged {
            agent: agent.clone(),
            leg: channel.clone(),
            answered_at: now,
        };
        let wait = now.since(c.wait_key.entered_at);
        let caller = c.caller.clone();
        let queue = c.queue.clone();
        effects.push(Effect::Switch {
            affinity: caller.clone(),
            switch: switch.clone(),
            command: SwitchCommand::Break {
                channel: caller.clone(),
            },
        });
        effects.push(Effect::Switch {
            affinity: caller.clone(),
            switch: switch.clone(),
            command: SwitchCommand::Bridge {
                caller,
                agent_leg: channel.clone(),
            },
        });
        let wait_ms = i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
        effects.push(Effect::Persist(Record::CallAnswered {
            call,
            agent: agent.clone(),
            agent_channel: channel.clone(),
            wait_ms,
            at: now,
        }));
        effects.push(Effect::Persist(Record::QueueEvent {
            call,
            queue,
            agent: Some(agent.clone()),
            kind: QueueEventKind::Connect,
            detail: format!("wait_ms={wait_ms}"),
            at: now,
        }));
        self.counters.answered += 1;
        if let Some(a) = self.agents.get_mut(&agent) {
            a.calls_answered += 1;
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
    }

    fn channel_hung_up(
        &mut self,
        now: Timestamp,
        _switch: &SwitchName,
        channel: &ChannelUuid,
        cause: &str,
        effects: &mut Vec<Effect>,
    ) {
        match self.legs.remove(channel) {
            None => {}
            Some(LegOwner::Caller(call)) => self.caller_gone(now, call, cause, effects),
            Some(LegOwner::Agent { call, agent }) => {
                self.agent_leg_gone(now, call, &agent, channel, cause, effects)
            }
        }
    }

    fn caller_gone(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        cause: &str,
        effects: &mut Vec<Effect>,
    ) {
        let Some(call) = self.calls.remove(&call_id) else {
            return;
        };
        if let Some(queue) = self.queues.get_mut(&call.queue) {
            queue.waiting.remove(&call.wait_key);
        }
        match call.state.clone() {
            CallState::Waiting => self.abandon(now, &call, cause, effects),
            CallState::Ringing { agent, leg, .. } => {
                effects.push(Effect::Switch {
                    affinity: call.caller.clone(),
                    switch: call.switch.clone(),
                    command: SwitchCommand::Kill {
                        channel: leg.clone(),
                        cause: HangupCause::OriginatorCancel,
                    },
                });
                self.legs.remove(&leg);
                self.abandon(now, &call, cause, effects);
                self.make_eligible(now, &agent, effects);
            }
            CallState::Bridged {
                agent,
                leg,
                answered_at,
            } => {
                self.legs.remove(&leg);
                self.complete(now, &call, &agent, answered_at, "caller", cause, effects);
            }
        }
    }

    fn agent_leg_gone(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        agent_id: &AgentId,
        channel: &ChannelUuid,
        cause: &str,
        effects: &mut Vec<Effect>,
    ) {
        let Some(call) = self.calls.get(&call_id) else {
            return;
        };
        match call.state.clone() {
            CallState::Ringing { leg, .. } if &leg == channel => {
                self.ring_no_answer(now, call_id, agent_id, cause, effects);
            }
            CallState::Bridged {
                leg, answered_at, ..
            } if &leg == channel => {
                let Some(call) = self.calls.remove(&call_id) else {
                    return;
                };
                // The switch hangs the caller up by itself; its hangup event finds nothing.
                self.legs.remove(&call.caller);
                self.complete(now, &call, agent_id, answered_at, "agent", cause, effects);
            }
            _ => {}
        }
    }

    /// The agent's phone was busy, rejected the call or did not answer: the agent sits out for
    /// the back-off and the caller goes back to its place in the queue.
    fn ring_no_answer(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        agent_id: &AgentId,
        cause: &str,
        effects: &mut Vec<Effect>,
    ) {
        let Some(call) = self.calls.get(&call_id) else {
            return;
        };
        let queue_id = call.queue.clone();
        let backoff = self
            .queues
            .get(&queue_id)
            .map(|q| q.settings.busy_backoff)
            .unwrap_or_default();
        effects.push(Effect::Persist(Record::QueueEvent {
            call: call_id,
            queue: queue_id,
            agent: Some(agent_id.clone()),
            kind: QueueEventKind::RingNoAnswer,
            detail: cause.to_owned(),
            at: now,
        }));
        self.counters.ring_no_answer += 1;
        let until = now.plus(backoff);
        self.transition_until(
            now,
            agent_id,
            AgentState::Backoff { until },
            until,
            |agent, epoch| Timer::BackoffEnds { agent, epoch },
            effects,
        );
        self.requeue(now, call_id, effects);
    }

    /// The call waits again with its original key, so it keeps its place.
    fn requeue(&mut self, now: Timestamp, call_id: CallId, effects: &mut Vec<Effect>) {
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        call.state = CallState::Waiting;
        if let Some(queue) = self.queues.get_mut(&call.queue) {
            queue.waiting.insert(call.wait_key);
        }
        self.route_call(now, call_id, effects);
    }

    fn abandon(&mut self, now: Timestamp, call: &Call, cause: &str, effects: &mut Vec<Effect>) {
        let wait_ms =
            i64::try_from(now.since(call.wait_key.entered_at).as_millis()).unwrap_or(i64::MAX);
        effects.push(Effect::Persist(Record::QueueEvent {
            call: call.id,
            queue: call.queue.clone(),
            agent: None,
            kind: QueueEventKind::Abandon,
            detail: format!("wait_ms={wait_ms}"),
            at: now,
        }));
        effects.push(Effect::Persist(Record::CallEnded {
            call: call.id,
            outcome: CallOutcome::Abandoned,
            hangup_cause: cause.to_owned(),
            talk_ms: None,
            at: now,
        }));
        self.counters.abandoned += 1;
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
        let talk_ms = i64::try_from(now.since(answered_at).as_millis()).unwrap_or(i64::MAX);
        effects.push(Effect::Persist(Record::QueueEvent {
            call: call.id,
            queue: call.queue.clone(),
            agent: Some(agent_id.clone()),
            kind: QueueEventKind::Complete,
            detail: format!("by={ended_by} talk_ms={talk_ms}"),
            at: now,
        }));
        effects.push(Effect::Persist(Record::CallEnded {
            call: call.id,
            outcome: CallOutcome::Completed,
            hangup_cause: cause.to_owned(),
            talk_ms: Some(talk_ms),
            at: now,
        }));
        self.start_wrap_up(now, agent_id, &call.queue, effects);
    }

    fn start_wrap_up(
        &mut self,
        now: Timestamp,
        agent_id: &AgentId,
        queue: &QueueId,
        effects: &mut Vec<Effect>,
    ) {
        let wrap_up = self
            .queues
            .get(queue)
            .map(|q| q.settings.wrap_up)
            .unwrap_or_default();
        if wrap_up.is_zero() {
            self.make_eligible(now, agent_id, effects);
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

    fn timer_fired(&mut self, now: Timestamp, timer: Timer, effects: &mut Vec<Effect>) {
        match timer {
            Timer::WrapUpEnds { agent, epoch } | Timer::BackoffEnds { agent, epoch } => {
                let current = self.agents.get(&agent).map(|a| a.epoch);
                if current == Some(epoch) {
                    self.make_eligible(now, &agent, effects);
                }
            }
            Timer::RingTimeout { leg } => {
                let Some(LegOwner::Agent { call, agent }) = self.legs.get(&leg).cloned() else {
                    return;
                };
                let ringing = matches!(
                    self.calls.get(&call).map(|c| &c.state),
                    Some(CallState::Ringing { leg: l, .. }) if *l == leg
                );
                if ringing {
                    self.kill(&call, &leg, HangupCause::NoAnswer, effects);
                    self.legs.remove(&leg);
                    self.ring_no_answer(now, call, &agent, "NO_ANSWER", effects);
                }
            }
        }
    }

    /// Hangs up a leg on the switch its call lives on.
    fn kill(
        &self,
        call: &CallId,
        leg: &ChannelUuid,
        cause: HangupCause,
        effects: &mut Vec<Effect>,
    ) {
        if let Some(c) = self.calls.get(call) {
            effects.push(Effect::Switch {
                affinity: c.caller.clone(),
                switch: c.switch.clone(),
                command: SwitchCommand::Kill {
                    channel: leg.clone(),
                    cause,
                },
            });
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
        if let SwitchCommand::Bridge { agent_leg, .. } = command {
            let Some(LegOwner::Agent { call, agent }) = self.legs.remove(&agent_leg) else {
                return;
            };
            let Some(c) = self.calls.get_mut(&call) else {
                return;
            };
            if matches!(&c.state, CallState::Bridged { leg, .. } if *leg == agent_leg) {
                effects.push(Effect::Switch {
                    affinity: c.caller.clone(),
                    switch: switch.clone(),
                    command: SwitchCommand::Kill {
                        channel: agent_leg,
                        cause: HangupCause::NormalClearing,
                    },
                });
                self.ring_no_answer(now, call, &agent, "BRIDGE_FAILED", effects);
            }
        }
    }

    /// Reconciles our view of one switch with what it holds after a (re)connect.
    fn resync(
        &mut self,
        now: Timestamp,
        switch: &SwitchName,
        channels: Vec<ChannelSnapshot>,
        effects: &mut Vec<Effect>,
    ) {
        let present: HashMap<ChannelUuid, &ChannelSnapshot> =
            channels.iter().map(|c| (c.channel.clone(), c)).collect();

        // 1. Calls we know on this switch.
        let ours: Vec<CallId> = self
            .calls
            .values()
            .filter(|c| &c.switch == switch)
            .map(|c| c.id)
            .collect();
        for call_id in ours {
            let Some(call) = self.calls.get(&call_id) else {
                continue;
            };
            let caller = call.caller.clone();
            let state = call.state.clone();
            if !present.contains_key(&caller) {
                self.lose_call(now, call_id, effects);
                continue;
            }
            match state {
                CallState::Waiting => {}
                CallState::Ringing { agent, leg, .. } => match present.get(&leg) {
                    None => {
                        self.legs.remove(&leg);
                        self.ring_no_answer(now, call_id, &agent, "CHANNEL_LOST", effects)
                    }
                    Some(snap) if snap.answered => {
                        self.channel_answered(now, switch, &leg, effects)
                    }
                    Some(_) => {}
                },
                CallState::Bridged { leg, .. } => {
                    if !present.contains_key(&leg) {
                        self.channel_hung_up(now, switch, &leg, "CHANNEL_LOST", effects);
                    }
                }
            }
        }

        // 2. Channels of ours we do not know: the controller restarted while they lived.
        let known: HashSet<ChannelUuid> = self.legs.keys().cloned().collect();
        for snap in channels.iter().filter(|c| !known.contains(&c.channel)) {
            match snap.role {
                ChannelRole::Caller => self.adopt_caller(now, switch, snap, &present, effects),
                ChannelRole::Agent => {
                    let bridged_to_known_caller = snap
                        .bridged_to
                        .as_ref()
                        .is_some_and(|b| self.legs.contains_key(b));
                    if !bridged_to_known_caller && !self.legs.contains_key(&snap.channel) {
                        effects.push(Effect::Switch {
                            affinity: snap.channel.clone(),
                            switch: switch.clone(),
                            command: SwitchCommand::Kill {
                                channel: snap.channel.clone(),
                                cause: HangupCause::NormalClearing,
                            },
                        });
                    }
                }
            }
        }
    }

    fn adopt_caller(
        &mut self,
        now: Timestamp,
        switch: &SwitchName,
        snap: &ChannelSnapshot,
        present: &HashMap<ChannelUuid, &ChannelSnapshot>,
        effects: &mut Vec<Effect>,
    ) {
        let Some(queue_id) = snap.queue.clone().filter(|q| self.queues.contains_key(q)) else {
            return;
        };
        let (call_id, entered_at, priority, stored) = match snap.stored {
            Some(stored) => (stored.call, stored.entered_at, stored.priority, true),
            None => (CallId::from_uuid(self.new_uuid()), now, 0, false),
        };
        let seq = self.next_seq();
        let wait_key = WaitKey {
            priority: Reverse(priority),
            entered_at,
            seq,
            call: call_id,
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
            self.counters.offered += 1;
        }
        let agent_leg = snap
            .bridged_to
            .as_ref()
            .and_then(|b| present.get(b))
            .filter(|a| a.role == ChannelRole::Agent)
            .and_then(|a| a.agent.clone().map(|agent| (a.channel.clone(), agent)))
            .filter(|(_, agent)| self.agents.contains_key(agent));
        let call = Call {
            id: call_id,
            switch: switch.clone(),
            caller: snap.channel.clone(),
            queue: queue_id,
            caller_number: snap.caller_number.clone(),
            caller_name: snap.caller_name.clone(),
            destination: snap.destination.clone(),
            wait_key,
            state: CallState::Waiting,
        };
        if let Some((leg, agent)) = agent_leg {
            self.legs
                .insert(call.caller.clone(), LegOwner::Caller(call_id));
            self.legs.insert(
                leg.clone(),
                LegOwner::Agent {
                    call: call_id,
                    agent: agent.clone(),
                },
            );
            self.calls.insert(
                call_id,
                Call {
                    state: CallState::Bridged {
                        agent: agent.clone(),
                        leg: leg.clone(),
                        answered_at: now,
                    },
                    ..call
                },
            );
            self.transition(
                now,
                &agent,
                AgentState::OnCall { call: call_id, leg },
                StateCause::Switch,
                effects,
            );
            return;
        }
        let answered = snap.answered;
        let moh = self
            .queues
            .get(&call.queue)
            .map(|q| q.settings.moh.clone())
            .unwrap_or_default();
        let channel = call.caller.clone();
        self.insert_waiting_call(call);
        self.route_call(now, call_id, effects);
        if !answered {
            effects.push(Effect::Switch {
                affinity: channel.clone(),
                switch: switch.clone(),
                command: SwitchCommand::Answer {
                    channel: channel.clone(),
                },
            });
            effects.push(Effect::Switch {
                affinity: channel.clone(),
                switch: switch.clone(),
                command: SwitchCommand::PlayHold {
                    channel,
                    source: moh,
                },
            });
        }
    }

    /// The switch no longer has the caller: close the call and free its agent.
    fn lose_call(&mut self, now: Timestamp, call_id: CallId, effects: &mut Vec<Effect>) {
        let Some(call) = self.calls.remove(&call_id) else {
            return;
        };
        self.legs.remove(&call.caller);
        if let Some(queue) = self.queues.get_mut(&call.queue) {
            queue.waiting.remove(&call.wait_key);
        }
        effects.push(Effect::Persist(Record::CallEnded {
            call: call_id,
            outcome: CallOutcome::Lost,
            hangup_cause: "CHANNEL_LOST".to_owned(),
            talk_ms: None,
            at: now,
        }));
        self.counters.lost += 1;
        match call.state {
            CallState::Waiting => {}
            CallState::Ringing { agent, leg, .. } => {
                self.legs.remove(&leg);
                effects.push(Effect::Switch {
                    affinity: call.caller.clone(),
                    switch: call.switch.clone(),
                    command: SwitchCommand::Kill {
                        channel: leg,
                        cause: HangupCause::OriginatorCancel,
                    },
                });
                self.make_eligible(now, &agent, effects);
            }
            CallState::Bridged { agent, leg, .. } => {
                self.legs.remove(&leg);
                self.start_wrap_up(now, &agent, &call.queue, effects);
            }
        }
    }
}
