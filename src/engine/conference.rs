//! Conference over REST: a connected call's agent (or a supervisor) adds another agent as a
//! third party, drops a party, and says what happens when the call's agent leaves: the others
//! stay (default) or the call ends.
//!
//! Switch side, as `three-way-conference` (Batch 4) shows it, with the caller `C`, the agent's
//! leg `A` and a party's leg `T`:
//! - start: `uuid_transfer <C> -both conference:<name>@default inline` moves `C` and `A` into
//!   the conference (nobody hangs up), then `originate {origination_uuid=T}<dial>
//!   &conference(<name>@default)` rings the party; its answer joins it;
//! - another party: only the originate;
//! - a member leaving hangs up its own leg only (the others are untouched), so the engine
//!   hangs up what the switch will not: the caller when the last agent of ours leaves, every
//!   leg when the call's agent leaves in `end` mode, the agents' legs when the caller leaves;
//! - drop a party: `uuid_kill <leg>`.
//!
//! The name is ours (`sb-<call id>`), never from a request. The call's agent stays the call's
//! agent in the model (`CallState::Bridged`); parties are on_call for the same call. When the
//! call's agent leaves and the others stay, the earliest party that answered becomes the
//! call's agent (a `conference` queue event `step=agent_left`, then `connect`), and the agent
//! who left goes to wrap-up. The call ends once, when the last agent of ours leaves.

use std::collections::HashMap;

use serde::Serialize;
use thiserror::Error;

use super::core::{millis_between, queue_event};
use super::hold::HoldBy;
use super::ids::{AgentId, CallId, ChannelId};
use super::io::{Effect, HangupCause, Input, SwitchCommand};
use super::model::{AgentState, CallState, LegOwner};
use super::record::{QueueEventKind, StateCause};
use super::time::Timestamp;
use super::Engine;

/// What happens to the others when the call's agent leaves the conference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentLeaves {
    /// The caller and the parties go on talking; a party becomes the call's agent.
    #[default]
    Stay,
    /// Every other leg is hung up: the call ends.
    End,
}

impl AgentLeaves {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentLeaves::Stay => "stay",
            AgentLeaves::End => "end",
        }
    }
}

/// A party as the snapshot shows it: an agent of ours, or an external number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartyView {
    pub agent: Option<AgentId>,
    pub number: Option<String>,
    pub channel: String,
    /// `ringing` until its phone answers, then `joined`.
    pub status: &'static str,
    pub since: Timestamp,
}

/// A conference as the snapshot shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConferenceView {
    pub name: String,
    pub since: Timestamp,
    pub agent_leaves: AgentLeaves,
    /// The call's agent (the first one, or the party that took over).
    pub agent: Option<AgentId>,
    pub parties: Vec<PartyView>,
}

/// Why a conference request is refused (404 unknown call/agent/party, 403 another agent's
/// call, 409 the rest).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConferenceError {
    #[error("no call {0} in progress")]
    UnknownCall(CallId),
    #[error("call {call} is not agent {agent}'s: an agent conferences on its own call only")]
    NotTheAgentsCall { call: CallId, agent: AgentId },
    #[error("call {0} is not connected to an agent")]
    NotConnected(CallId),
    #[error("call {0} is on hold: resume it first")]
    OnHold(CallId),
    #[error("call {0} has a consult in progress")]
    Consulting(CallId),
    #[error("no agent {0}")]
    UnknownAgent(AgentId),
    #[error("agent {0} is already on this call")]
    AlreadyOnCall(AgentId),
    #[error("agent {0} is not available for a conference")]
    TargetBusy(AgentId),
    #[error("agent {0}'s phone cannot be reached from the caller's switch")]
    Unreachable(AgentId),
    #[error("call {0} has no conference")]
    NoConference(CallId),
    #[error("{party} is not a party of call {call}'s conference")]
    UnknownParty { call: CallId, party: String },
    #[error("number {0} is already in the conference")]
    NumberAlreadyIn(String),
    #[error("{0:?} is not a phone number (digits, a leading + allowed, 3 to 20)")]
    BadNumber(String),
    #[error("no dial template for external numbers: set [transfer] external_dial")]
    NoDialTemplate,
}

/// What a REST request asks of a call's conference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConferenceAsked {
    /// Ring this agent into the conference (started if need be).
    Add {
        agent: AgentId,
        agent_leaves: AgentLeaves,
    },
    /// Ring an external number into the conference, through the queue's dial template.
    AddNumber {
        number: String,
        agent_leaves: AgentLeaves,
    },
    /// Hang up this party's leg: an agent id, or a number party's number.
    Drop { party: String },
}

#[derive(Debug, Clone)]
struct Party {
    /// An agent of ours, or `None` for an external number.
    agent: Option<AgentId>,
    number: Option<String>,
    leg: ChannelId,
    since: Timestamp,
    answered_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
struct Conference {
    name: String,
    since: Timestamp,
    agent_leaves: AgentLeaves,
    /// The call's queue (its history rows, the parties' wrap-up).
    queue: super::ids::QueueId,
    /// Where the call's commands go, also once the call itself has ended.
    switch: super::ids::SwitchName,
    caller: ChannelId,
    parties: Vec<Party>,
    /// The call is ending: the remaining legs were hung up by us.
    ending: bool,
}

impl Party {
    /// How requests and history name the party: its agent id or its number.
    fn name(&self) -> String {
        match (&self.agent, &self.number) {
            (Some(a), _) => a.to_string(),
            (None, Some(n)) => n.clone(),
            (None, None) => String::new(),
        }
    }
}

/// Conferences in progress, by call, and their parties' legs.
#[derive(Debug, Default)]
pub(super) struct Conferences {
    calls: super::tracked::Tracked<CallId, Conference>,
    legs: HashMap<ChannelId, CallId>,
}

impl Conferences {
    /// Calls whose conference changed since the last publish.
    pub(super) fn take_changed(&mut self) -> std::collections::HashSet<CallId> {
        self.calls.take_changed()
    }
}

/// The conference name of a call: ours, made of the call id's characters only.
pub fn conference_name(call: CallId) -> String {
    format!("sb-{call}")
}

impl Engine {
    /// A conference request from the API.
    pub fn conference(
        &mut self,
        now: Timestamp,
        call: CallId,
        asked: ConferenceAsked,
        by: HoldBy,
    ) -> Result<Vec<Effect>, ConferenceError> {
        match asked {
            ConferenceAsked::Add {
                agent,
                agent_leaves,
            } => self.conference_add(now, call, agent, agent_leaves, by),
            ConferenceAsked::AddNumber {
                number,
                agent_leaves,
            } => self.conference_add_number(now, call, number, agent_leaves, by),
            ConferenceAsked::Drop { party } => self.conference_drop(now, call, &party, by),
        }
    }

    /// Adds agent `target` to `call`'s conference, starting the conference if needed.
    pub fn conference_add(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        target: AgentId,
        agent_leaves: AgentLeaves,
        by: HoldBy,
    ) -> Result<Vec<Effect>, ConferenceError> {
        let call = self
            .calls
            .get(&call_id)
            .ok_or(ConferenceError::UnknownCall(call_id))?;
        let CallState::Bridged {
            agent, leg: a_leg, ..
        } = &call.state
        else {
            return Err(ConferenceError::NotConnected(call_id));
        };
        if self.consult_view(call_id).is_some() {
            return Err(ConferenceError::Consulting(call_id));
        }
        if self
            .hold_view(call_id)
            .is_some_and(|h| h.held_since.is_some())
        {
            return Err(ConferenceError::OnHold(call_id));
        }
        let existing = self.conferences.calls.get(&call_id);
        if agent == &target
            || existing.is_some_and(|c| c.parties.iter().any(|p| p.agent.as_ref() == Some(&target)))
        {
            return Err(ConferenceError::AlreadyOnCall(target));
        }
        let t = self
            .agents
            .get(&target)
            .ok_or_else(|| ConferenceError::UnknownAgent(target.clone()))?;
        if t.state != AgentState::Available || t.calls_elsewhere > 0 || !t.registered {
            return Err(ConferenceError::TargetBusy(target));
        }
        let dial_string = match self.agent_dial(&target, &call.switch) {
            super::reach::AgentDial::Local(d) | super::reach::AgentDial::Routed(d) => d,
            super::reach::AgentDial::NoRoute { .. } => {
                return Err(ConferenceError::Unreachable(target))
            }
        };
        let first = agent.clone();
        let _ = a_leg;
        let (switch, caller, queue) =
            (call.switch.clone(), call.caller.clone(), call.queue.clone());
        let (number, name) = (call.caller_number.clone(), call.caller_name.clone());
        let timeout = self
            .queues
            .get(&queue)
            .map(|q| q.settings.ring_timeout)
            .unwrap_or_default();
        let conference = conference_name(call_id);
        let starting = existing.is_none();
        let leg = ChannelId::from_uuid(self.new_uuid());
        let mut effects = Vec::new();
        if starting {
            effects.push(Effect::switch(
                &switch,
                &caller,
                SwitchCommand::ConferenceJoin {
                    channel: caller.clone(),
                    name: conference.clone(),
                },
            ));
            effects.push(queue_event(
                call_id,
                &queue,
                Some(first.clone()),
                QueueEventKind::Conference,
                format!(
                    "step=started name={conference} agent_leaves={} by={by}",
                    agent_leaves.as_str()
                ),
                now,
            ));
        }
        self.transition(
            now,
            &target,
            AgentState::Offered {
                call: call_id,
                leg: leg.clone(),
            },
            StateCause::Api,
            &mut effects,
        );
        effects.push(queue_event(
            call_id,
            &queue,
            Some(first),
            QueueEventKind::Conference,
            format!("step=adding party={target} leg={leg} by={by}"),
            now,
        ));
        effects.push(Effect::switch(
            &switch,
            &caller,
            SwitchCommand::ConferenceDial {
                leg: leg.clone(),
                call: call_id,
                agent: Some(target.clone()),
                queue: queue.clone(),
                name: conference.clone(),
                dial_string,
                timeout,
                caller_number: number,
                caller_name: name,
            },
        ));
        self.conferences.legs.insert(leg.clone(), call_id);
        let c = self
            .conferences
            .calls
            .entry(call_id)
            .or_insert_with(|| Conference {
                name: conference,
                since: now,
                agent_leaves,
                queue: queue.clone(),
                switch: switch.clone(),
                caller: caller.clone(),
                parties: Vec::new(),
                ending: false,
            });
        c.agent_leaves = agent_leaves;
        c.parties.push(Party {
            agent: Some(target),
            number: None,
            leg,
            since: now,
            answered_at: None,
        });
        Ok(effects)
    }

    /// Rings an external number into `call`'s conference (started if need be), checked and
    /// dialled through `[transfer] external_dial` like a consult's or a transfer's number.
    pub fn conference_add_number(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        number: String,
        agent_leaves: AgentLeaves,
        by: HoldBy,
    ) -> Result<Vec<Effect>, ConferenceError> {
        let dial = self
            .consults
            .external
            .as_ref()
            .ok_or(ConferenceError::NoDialTemplate)?;
        let number = super::dialout::external_number(&number, &dial.allowed_prefixes)
            .map_err(ConferenceError::BadNumber)?;
        let dial_string = dial.template.replacen("{number}", &number, 1);
        let call = self
            .calls
            .get(&call_id)
            .ok_or(ConferenceError::UnknownCall(call_id))?;
        let CallState::Bridged { agent, .. } = &call.state else {
            return Err(ConferenceError::NotConnected(call_id));
        };
        if self.consult_view(call_id).is_some() {
            return Err(ConferenceError::Consulting(call_id));
        }
        if self
            .hold_view(call_id)
            .is_some_and(|h| h.held_since.is_some())
        {
            return Err(ConferenceError::OnHold(call_id));
        }
        let existing = self.conferences.calls.get(&call_id);
        if existing.is_some_and(|c| c.parties.iter().any(|p| p.number.as_ref() == Some(&number))) {
            return Err(ConferenceError::NumberAlreadyIn(number));
        }
        let queue = call.queue.clone();
        let first = agent.clone();
        let (switch, caller) = (call.switch.clone(), call.caller.clone());
        let (caller_number, caller_name) = (call.caller_number.clone(), call.caller_name.clone());
        let conference = conference_name(call_id);
        let starting = existing.is_none();
        let leg = ChannelId::from_uuid(self.new_uuid());
        let mut effects = Vec::new();
        if starting {
            effects.push(Effect::switch(
                &switch,
                &caller,
                SwitchCommand::ConferenceJoin {
                    channel: caller.clone(),
                    name: conference.clone(),
                },
            ));
            effects.push(queue_event(
                call_id,
                &queue,
                Some(first.clone()),
                QueueEventKind::Conference,
                format!(
                    "step=started name={conference} agent_leaves={} by={by}",
                    agent_leaves.as_str()
                ),
                now,
            ));
        }
        effects.push(queue_event(
            call_id,
            &queue,
            Some(first),
            QueueEventKind::Conference,
            format!("step=adding party={number} leg={leg} by={by}"),
            now,
        ));
        effects.push(Effect::switch(
            &switch,
            &caller,
            SwitchCommand::ConferenceDial {
                leg: leg.clone(),
                call: call_id,
                agent: None,
                queue: queue.clone(),
                name: conference.clone(),
                dial_string,
                timeout: super::dialout::EXTERNAL_RING_TIMEOUT,
                caller_number,
                caller_name,
            },
        ));
        self.conferences.legs.insert(leg.clone(), call_id);
        let c = self
            .conferences
            .calls
            .entry(call_id)
            .or_insert_with(|| Conference {
                name: conference,
                since: now,
                agent_leaves,
                queue,
                switch: switch.clone(),
                caller: caller.clone(),
                parties: Vec::new(),
                ending: false,
            });
        c.agent_leaves = agent_leaves;
        c.parties.push(Party {
            agent: None,
            number: Some(number),
            leg,
            since: now,
            answered_at: None,
        });
        Ok(effects)
    }

    /// Drops a party (or the call's agent) from `call`'s conference: its leg is hung up.
    pub fn conference_drop(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        party: &str,
        by: HoldBy,
    ) -> Result<Vec<Effect>, ConferenceError> {
        let call = self
            .calls
            .get(&call_id)
            .ok_or(ConferenceError::UnknownCall(call_id))?;
        let conf = self
            .conferences
            .calls
            .get(&call_id)
            .ok_or(ConferenceError::NoConference(call_id))?;
        let (leg, agent) = match &call.state {
            CallState::Bridged { agent, leg, .. } if agent.as_str() == party => {
                (leg.clone(), Some(agent.clone()))
            }
            _ => conf
                .parties
                .iter()
                .find(|p| p.name() == party)
                .map(|p| (p.leg.clone(), p.agent.clone()))
                .ok_or_else(|| ConferenceError::UnknownParty {
                    call: call_id,
                    party: party.to_owned(),
                })?,
        };
        let mut effects = vec![queue_event(
            call_id,
            &call.queue,
            agent,
            QueueEventKind::Conference,
            format!("step=drop party={party} leg={leg} by={by}"),
            now,
        )];
        self.kill(&call_id, &leg, HangupCause::NormalClearing, &mut effects);
        Ok(effects)
    }

    /// Inputs about a conference's legs are taken here; the rest go on (`Some`).
    pub(super) fn conference_input(
        &mut self,
        now: Timestamp,
        input: Input,
        effects: &mut Vec<Effect>,
    ) -> Option<Input> {
        if self.conferences.calls.is_empty() {
            return Some(input);
        }
        match &input {
            Input::ChannelAnswered { channel, .. } => {
                let call = self.conferences.legs.get(channel).copied()?;
                self.party_answered(now, call, channel, effects);
                None
            }
            Input::OriginateFailed { leg, cause, .. } => {
                let call = self.conferences.legs.get(leg).copied()?;
                let answered = self
                    .party(call, leg)
                    .is_some_and(|p| p.answered_at.is_some());
                if !answered {
                    let cause = cause.clone();
                    self.party_gone(now, call, leg, &cause, effects);
                }
                None
            }
            Input::ChannelHungUp { channel, cause, .. } => {
                if let Some(call) = self.conferences.legs.get(channel).copied() {
                    let cause = cause.clone();
                    self.party_gone(now, call, channel, &cause, effects);
                    return None;
                }
                match self.legs.get(channel).cloned() {
                    Some(LegOwner::Caller(call)) if self.conferences.calls.contains_key(&call) => {
                        self.conference_caller_gone(now, call, effects);
                        Some(input)
                    }
                    Some(LegOwner::Agent { call, .. })
                        if self.conferences.calls.get(&call).is_some_and(|c| !c.ending)
                            && self.bridged_leg(call).as_ref() == Some(channel) =>
                    {
                        self.conference_agent_gone(now, call, input, effects)
                    }
                    _ => Some(input),
                }
            }
            _ => Some(input),
        }
    }

    fn party(&self, call: CallId, leg: &ChannelId) -> Option<&Party> {
        self.conferences
            .calls
            .get(&call)?
            .parties
            .iter()
            .find(|p| &p.leg == leg)
    }

    fn bridged_leg(&self, call: CallId) -> Option<ChannelId> {
        match &self.calls.get(&call)?.state {
            CallState::Bridged { leg, .. } => Some(leg.clone()),
            _ => None,
        }
    }

    fn party_answered(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        leg: &ChannelId,
        effects: &mut Vec<Effect>,
    ) {
        let Some((ending, switch, caller)) = self
            .conferences
            .calls
            .get(&call_id)
            .map(|c| (c.ending, c.switch.clone(), c.caller.clone()))
        else {
            return;
        };
        let Some(party) = self
            .conferences
            .calls
            .get_mut(&call_id)
            .and_then(|c| c.parties.iter_mut().find(|p| &p.leg == leg))
        else {
            return;
        };
        party.answered_at = Some(now);
        let (agent, name) = (party.agent.clone(), party.name());
        if ending {
            // Answered after its call ended (the kill crossed the answer): hung up again, its
            // call may be gone from the engine already.
            effects.push(Effect::switch(
                &switch,
                &caller,
                SwitchCommand::Kill {
                    channel: leg.clone(),
                    cause: HangupCause::NormalClearing,
                },
            ));
            return;
        }
        if let Some(call) = self.calls.get(&call_id) {
            effects.push(queue_event(
                call_id,
                &call.queue,
                agent.clone(),
                QueueEventKind::Conference,
                format!("step=added party={name} leg={leg}"),
                now,
            ));
        }
        let Some(agent) = agent else {
            return;
        };
        self.transition(
            now,
            &agent,
            AgentState::OnCall {
                call: call_id,
                leg: leg.clone(),
            },
            StateCause::Switch,
            effects,
        );
    }

    /// A party's leg is gone: never answered, dropped, or it hung up.
    fn party_gone(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        leg: &ChannelId,
        cause: &str,
        effects: &mut Vec<Effect>,
    ) {
        self.conferences.legs.remove(leg);
        let Some(conf) = self.conferences.calls.get_mut(&call_id) else {
            return;
        };
        let Some(i) = conf.parties.iter().position(|p| &p.leg == leg) else {
            return;
        };
        let party = conf.parties.remove(i);
        let conf_queue = conf.queue.clone();
        let done = conf.ending && conf.parties.is_empty();
        if done {
            self.conferences.calls.remove(&call_id);
        }
        let queue = self
            .calls
            .get(&call_id)
            .map(|c| c.queue.clone())
            .or(Some(conf_queue));
        if let Some(queue) = &queue {
            effects.push(queue_event(
                call_id,
                queue,
                party.agent.clone(),
                QueueEventKind::Conference,
                format!("step=left party={} leg={leg} cause={cause}", party.name()),
                now,
            ));
        }
        let Some(agent) = &party.agent else {
            return;
        };
        match (party.answered_at, queue) {
            (Some(at), Some(queue)) => {
                self.count_talk(agent, &queue, millis_between(at, now));
                self.start_wrap_up(now, agent, &queue, effects);
            }
            _ => self.make_eligible(now, agent, StateCause::Switch, effects),
        }
    }

    /// The caller left: every agent leg in the conference is hung up (the switch will not);
    /// the call ends the usual way next.
    fn conference_caller_gone(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        effects: &mut Vec<Effect>,
    ) {
        let Some(conf) = self.conferences.calls.get_mut(&call_id) else {
            return;
        };
        conf.ending = true;
        effects.push(queue_event(
            call_id,
            &conf.queue,
            None,
            QueueEventKind::Conference,
            "step=ended by=caller".to_owned(),
            now,
        ));
        let legs: Vec<ChannelId> = conf.parties.iter().map(|p| p.leg.clone()).collect();
        if conf.parties.is_empty() {
            self.conferences.calls.remove(&call_id);
        }
        for leg in legs {
            self.kill(&call_id, &leg, HangupCause::NormalClearing, effects);
        }
        if let Some(a) = self.bridged_leg(call_id) {
            self.kill(&call_id, &a, HangupCause::NormalClearing, effects);
        }
    }

    /// The call's agent left the conference: a party takes over (`stay`), or the call ends.
    fn conference_agent_gone(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        input: Input,
        effects: &mut Vec<Effect>,
    ) -> Option<Input> {
        let conf = self.conferences.calls.get(&call_id)?;
        let next = conf
            .parties
            .iter()
            .filter(|p| p.answered_at.is_some() && p.agent.is_some())
            .min_by_key(|p| p.answered_at)
            .cloned();
        let mode = conf.agent_leaves;
        match (mode, next) {
            (AgentLeaves::Stay, Some(next)) if !conf.ending => {
                self.conference_hand_over(now, call_id, next, effects);
                None
            }
            _ => {
                // The call ends with its agent: the caller and every party are hung up.
                let (caller, legs) = {
                    let conf = self.conferences.calls.get_mut(&call_id)?;
                    conf.ending = true;
                    let legs: Vec<ChannelId> = conf.parties.iter().map(|p| p.leg.clone()).collect();
                    (self.calls.get(&call_id).map(|c| c.caller.clone()), legs)
                };
                if legs.is_empty() {
                    self.conferences.calls.remove(&call_id);
                }
                for leg in &legs {
                    self.kill(&call_id, leg, HangupCause::NormalClearing, effects);
                }
                if let Some(c) = &caller {
                    self.kill(&call_id, c, HangupCause::NormalClearing, effects);
                }
                if let Some(q) = self.calls.get(&call_id).map(|c| c.queue.clone()) {
                    effects.push(queue_event(
                        call_id,
                        &q,
                        None,
                        QueueEventKind::Conference,
                        format!("step=ended agent_leaves={}", mode.as_str()),
                        now,
                    ));
                }
                effects.extend(self.handle(now, input));
                if let Some(c) = caller {
                    // Known until its hangup, so its park is not taken for a new caller.
                    self.legs.insert(c, LegOwner::Retired(call_id));
                }
                None
            }
        }
    }

    /// The earliest party that answered becomes the call's agent; the one who left wraps up.
    fn conference_hand_over(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        next: Party,
        effects: &mut Vec<Effect>,
    ) {
        let Some(next_agent) = next.agent.clone() else {
            return;
        };
        if let Some(conf) = self.conferences.calls.get_mut(&call_id) {
            conf.parties.retain(|p| p.leg != next.leg);
        }
        self.conferences.legs.remove(&next.leg);
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        let CallState::Bridged {
            agent,
            leg,
            answered_at,
        } = call.state.clone()
        else {
            return;
        };
        call.state = CallState::Bridged {
            agent: next_agent.clone(),
            leg: next.leg.clone(),
            answered_at: next.answered_at.unwrap_or(now),
        };
        call.survey = None;
        let queue = call.queue.clone();
        let talk_ms = millis_between(answered_at, now);
        self.legs.remove(&leg);
        self.legs.insert(
            next.leg.clone(),
            LegOwner::Agent {
                call: call_id,
                agent: next_agent.clone(),
            },
        );
        self.answered_legs.insert(next.leg.clone());
        effects.push(queue_event(
            call_id,
            &queue,
            Some(agent.clone()),
            QueueEventKind::Conference,
            format!(
                "step=agent_left from={agent} to={} leg={leg} talk_ms={talk_ms}",
                next_agent
            ),
            now,
        ));
        effects.push(queue_event(
            call_id,
            &queue,
            Some(next_agent.clone()),
            QueueEventKind::Connect,
            format!("conference leg={}", next.leg),
            now,
        ));
        self.count_talk(&agent, &queue, talk_ms);
        self.start_wrap_up(now, &agent, &queue, effects);
    }

    /// A call's conference, for the snapshot.
    pub(super) fn conference_view(&self, call: CallId) -> Option<ConferenceView> {
        let c = self.conferences.calls.get(&call)?;
        let agent = match &self.calls.get(&call)?.state {
            CallState::Bridged { agent, .. } => Some(agent.clone()),
            _ => None,
        };
        Some(ConferenceView {
            name: c.name.clone(),
            since: c.since,
            agent_leaves: c.agent_leaves,
            agent,
            parties: c
                .parties
                .iter()
                .map(|p| PartyView {
                    agent: p.agent.clone(),
                    number: p.number.clone(),
                    channel: p.leg.to_string(),
                    status: if p.answered_at.is_some() {
                        "joined"
                    } else {
                        "ringing"
                    },
                    since: p.since,
                })
                .collect(),
        })
    }

    /// The parties' legs of every conference, with call and agent (for invariant checks).
    pub fn conference_legs(&self) -> Vec<(CallId, AgentId, ChannelId)> {
        let mut out: Vec<_> = self
            .conferences
            .calls
            .iter()
            .flat_map(|(id, c)| {
                c.parties
                    .iter()
                    .filter_map(move |p| Some((*id, p.agent.clone()?, p.leg.clone())))
            })
            .collect();
        out.sort_by(|a, b| a.2.cmp(&b.2));
        out
    }

    /// Every party's leg, agents' and numbers' (for the resync's known legs).
    pub(super) fn conference_channels(&self) -> Vec<ChannelId> {
        let mut out: Vec<ChannelId> = self
            .conferences
            .calls
            .values()
            .flat_map(|c| c.parties.iter().map(|p| p.leg.clone()))
            .collect();
        out.sort();
        out
    }

    /// Whether `agent` is a party (ringing or joined) of `call`'s conference.
    pub fn is_conference_party(&self, call: CallId, agent: &AgentId) -> bool {
        self.conferences
            .calls
            .get(&call)
            .is_some_and(|c| c.parties.iter().any(|p| p.agent.as_ref() == Some(agent)))
    }

    /// Whether `call` is in a conference (several agents of ours may then be on it).
    pub fn in_conference(&self, call: CallId) -> bool {
        self.conferences.calls.contains_key(&call)
    }
}
