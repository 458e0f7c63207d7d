//! Consult (attended) transfer over REST: the agent of a connected call (or a supervisor)
//! calls another agent while the caller waits with the queue's music on hold, then completes
//! (the caller is bridged to that agent, under the same call id), cancels (back to the caller)
//! or swaps (talks to the caller while the target waits, and back).
//!
//! Switch side, as `api-transfer-and-hold` part D (Batch 4) shows it, with the caller `C`, the
//! agent's leg `A` and the consult leg `K`:
//! - start: `originate {origination_uuid=K}<target's dial string> &park()` (the caller still
//!   talks to the agent while it rings);
//! - `K` answered: `uuid_setvar <C> park_after_bridge true`, the same on `A`, `uuid_bridge <A>
//!   <K>` (C leaves its bridge and is parked), `uuid_broadcast <C> <queue music> aleg`;
//! - complete: `park_after_bridge false` on `A`, `C` and `K`, then `uuid_bridge <C> <K>`: `A`,
//!   left alone, hangs up; that hangup ends the first agent's part as `transfer` (kind
//!   `attended`), the call is the target's from then on;
//! - cancel: `park_after_bridge false` on `A` (and on `C` unless it waits for a survey), then
//!   `uuid_bridge <C> <A>`: `K`, left alone, hangs up; when swapped, `uuid_kill <K>`;
//! - swap: `uuid_setvar <K> park_after_bridge true`, `uuid_bridge <C> <A>` (K is parked),
//!   `uuid_broadcast <K> <music> aleg`; back: `park_after_bridge false` on `K`, `uuid_bridge
//!   <A> <K>` (C is parked again), `uuid_broadcast <C> <music> aleg`.
//!
//! `park_after_bridge` on `A` keeps the agent's phone when the target hangs up first: `A` is
//! parked (not hung up) and the engine bridges the caller back to it.
//!
//! While a consult runs, the first agent stays on the call (no offers) and the target is
//! `offered`, then `on_call` for it. Each step is a `consult` queue event; the completion is
//! a `transfer` queue event (`call.transferred`). The caller hanging up ends the call once
//! and the consult with it; the first agent hanging up mid-consult ends the call (the caller
//! is hung up: there is no one left to take it).

use std::collections::HashMap;

use serde::Serialize;
use thiserror::Error;

use super::core::{answered_record, millis_between, queue_event};
use super::hold::HoldBy;
use super::ids::{AgentId, CallId, ChannelId};
use super::io::{Effect, HangupCause, Input, SwitchCommand};
use super::model::{AgentState, CallState, LegOwner};
use super::record::{QueueEventKind, StateCause};
use super::time::Timestamp;
use super::Engine;

/// Where a consult stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsultPhase {
    /// The target's phone rings; the agent still talks to the caller.
    Ringing,
    /// The agent talks to the target; the caller hears music.
    Talking,
    /// The agent talks to the caller again; the target hears music.
    Swapped,
    /// Asked to complete: waiting for the agent's leg to leave.
    Completing,
    /// Asked to cancel: waiting for the consult leg to end.
    Cancelling,
}

/// What to do with a consult in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsultAction {
    Complete,
    Cancel,
    Swap,
}

impl ConsultAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsultAction::Complete => "complete",
            ConsultAction::Cancel => "cancel",
            ConsultAction::Swap => "swap",
        }
    }
}

/// What a REST request asks of a call's consult.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsultAsked {
    /// Call this agent while the caller waits.
    Start {
        target: AgentId,
    },
    Action(ConsultAction),
    /// Call this external number (through `[transfer] external_dial`) while the caller waits.
    Number {
        number: String,
    },
}

/// A consult as the snapshot shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsultView {
    /// The agent consulted (`None` for an external number).
    pub target: Option<AgentId>,
    /// The external number consulted (see `dialout`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// A blind transfer to a number, ringing: it completes by itself when answered.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub blind: bool,
    pub channel: String,
    pub phase: ConsultPhase,
    pub since: Timestamp,
}

/// Why a consult request is refused; the API turns these into problem details (404 for an
/// unknown call or agent, 403 for another agent's call, 409 for the rest).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConsultError {
    #[error("no call {0} in progress")]
    UnknownCall(CallId),
    #[error("call {call} is not agent {agent}'s: an agent consults on its own call only")]
    NotTheAgentsCall { call: CallId, agent: AgentId },
    #[error("call {0} is not connected to an agent")]
    NotConnected(CallId),
    #[error("call {0} is on hold: resume it first")]
    OnHold(CallId),
    #[error("call {0} already has a consult in progress")]
    AlreadyConsulting(CallId),
    #[error("call {0} has no consult in progress")]
    NoConsult(CallId),
    #[error("no agent {0}")]
    UnknownAgent(AgentId),
    #[error("agent {0} is the call's own agent")]
    SameAgent(AgentId),
    #[error("agent {0} is not available for a consult")]
    TargetBusy(AgentId),
    #[error("agent {0}'s phone cannot be reached from the caller's switch")]
    Unreachable(AgentId),
    #[error("no dial template for external numbers: set [transfer] external_dial")]
    NoExternalDial,
    #[error("{0}")]
    BadNumber(String),
    #[error(
        "the consult of call {0} already has a step waiting for the target's leg to be established"
    )]
    StepPending(CallId),
    #[error("call {0} is in a conference")]
    InConference(CallId),
    #[error("the consult of call {call} cannot {action} while {phase:?}")]
    WrongPhase {
        call: CallId,
        action: &'static str,
        phase: ConsultPhase,
    },
}

/// Whom a consult calls: one of our agents or an external number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ConsultTarget {
    Agent(AgentId),
    Number(String),
}

impl ConsultTarget {
    pub(super) fn agent(&self) -> Option<&AgentId> {
        match self {
            ConsultTarget::Agent(a) => Some(a),
            ConsultTarget::Number(_) => None,
        }
    }
}

impl std::fmt::Display for ConsultTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConsultTarget::Agent(a) => write!(f, "{a}"),
            ConsultTarget::Number(n) => write!(f, "number:{n}"),
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Consult {
    pub(super) agent_leg: ChannelId,
    pub(super) target: ConsultTarget,
    pub(super) leg: ChannelId,
    pub(super) phase: ConsultPhase,
    pub(super) since: Timestamp,
    pub(super) by: HoldBy,
    /// The target's leg answered (its originate's late `-ERR` does not end it).
    pub(super) answered: bool,
    /// A blind transfer to a number: completed as soon as the number answers.
    pub(super) blind: bool,
    /// The target's leg answered and its originate returned (see `consult_race`): until
    /// then a step asked is kept in `pending`, not sent.
    pub(super) established: bool,
    /// A step asked while the consult leg was not established, carried out when it is.
    pub(super) pending: Option<(ConsultAction, HoldBy)>,
}

/// Consults in progress, by call, and their legs.
#[derive(Debug, Default)]
pub(super) struct Consults {
    pub(super) calls: super::tracked::Tracked<CallId, Consult>,
    pub(super) legs: HashMap<ChannelId, CallId>,
    /// How external numbers are dialled (`[transfer]`), see `dialout`.
    pub(super) external: Option<super::dialout::ExternalDial>,
}

impl Consults {
    pub(super) fn remove(&mut self, call: CallId) -> Option<Consult> {
        let c = self.calls.remove(&call)?;
        self.legs.remove(&c.leg);
        Some(c)
    }
}

impl Engine {
    /// A consult request from the API.
    pub fn consult(
        &mut self,
        now: Timestamp,
        call: CallId,
        asked: ConsultAsked,
        by: HoldBy,
    ) -> Result<Vec<Effect>, ConsultError> {
        match asked {
            ConsultAsked::Start { target } => self.request_consult(now, call, target, by),
            ConsultAsked::Action(action) => self.consult_action(now, call, action, by),
            ConsultAsked::Number { number } => {
                self.request_number_consult(now, call, &number, by, false)
            }
        }
    }

    /// Starts a consult of `call` with agent `target`: the target's phone rings.
    pub fn request_consult(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        target: AgentId,
        by: HoldBy,
    ) -> Result<Vec<Effect>, ConsultError> {
        let call = self
            .calls
            .get(&call_id)
            .ok_or(ConsultError::UnknownCall(call_id))?;
        let CallState::Bridged {
            agent, leg: a_leg, ..
        } = &call.state
        else {
            return Err(ConsultError::NotConnected(call_id));
        };
        if self.consults.calls.contains_key(&call_id) {
            return Err(ConsultError::AlreadyConsulting(call_id));
        }
        if self.in_conference(call_id) {
            return Err(ConsultError::InConference(call_id));
        }
        if self
            .hold_view(call_id)
            .is_some_and(|h| h.held_since.is_some())
        {
            return Err(ConsultError::OnHold(call_id));
        }
        if agent == &target {
            return Err(ConsultError::SameAgent(target));
        }
        let t = self
            .agents
            .get(&target)
            .ok_or_else(|| ConsultError::UnknownAgent(target.clone()))?;
        if t.state != AgentState::Available || t.calls_elsewhere > 0 || !t.registered {
            return Err(ConsultError::TargetBusy(target));
        }
        let dial_string = match self.agent_dial(&target, &call.switch) {
            super::reach::AgentDial::Local(d) | super::reach::AgentDial::Routed(d) => d,
            super::reach::AgentDial::NoRoute { .. } => {
                return Err(ConsultError::Unreachable(target))
            }
        };
        let first_name = self
            .agents
            .get(agent)
            .map(|a| a.settings.name.clone())
            .unwrap_or_default();
        let (agent, a_leg) = (agent.clone(), a_leg.clone());
        let (switch, caller, queue) =
            (call.switch.clone(), call.caller.clone(), call.queue.clone());
        let (number, name) = (call.caller_number.clone(), call.caller_name.clone());
        let timeout = self
            .queues
            .get(&queue)
            .map(|q| q.settings.ring_timeout)
            .unwrap_or_default();
        let leg = ChannelId::from_uuid(self.new_uuid());
        let mut effects = Vec::new();
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
            Some(agent.clone()),
            QueueEventKind::Consult,
            format!("step=start to={target} leg={leg} by={by}"),
            now,
        ));
        effects.push(Effect::switch(
            &switch,
            &caller,
            SwitchCommand::Originate {
                leg: leg.clone(),
                call: call_id,
                agent: target.clone(),
                queue,
                dial_string,
                timeout,
                caller_number: number,
                caller_name: name,
                queue_name: format!("Consult {first_name}"),
                variables: Vec::new(),
            },
        ));
        self.consults.legs.insert(leg.clone(), call_id);
        self.consults.calls.insert(
            call_id,
            Consult {
                agent_leg: a_leg,
                target: ConsultTarget::Agent(target),
                leg,
                phase: ConsultPhase::Ringing,
                since: now,
                by,
                answered: false,
                blind: false,
                established: false,
                pending: None,
            },
        );
        Ok(effects)
    }

    /// Completes, cancels or swaps the consult of `call`.
    pub fn consult_action(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        action: ConsultAction,
        by: HoldBy,
    ) -> Result<Vec<Effect>, ConsultError> {
        let call = self
            .calls
            .get(&call_id)
            .ok_or(ConsultError::UnknownCall(call_id))?;
        let consult = self
            .consults
            .calls
            .get(&call_id)
            .cloned()
            .ok_or(ConsultError::NoConsult(call_id))?;
        let (switch, c, queue) = (call.switch.clone(), call.caller.clone(), call.queue.clone());
        let survey = call.survey.is_some();
        let (a, k) = (consult.agent_leg.clone(), consult.leg.clone());
        let first = match &call.state {
            CallState::Bridged { agent, .. } => agent.clone(),
            _ => return Err(ConsultError::NotConnected(call_id)),
        };
        let wrong = || ConsultError::WrongPhase {
            call: call_id,
            action: action.as_str(),
            phase: consult.phase,
        };
        if consult.phase == ConsultPhase::Talking && !consult.established {
            return self.consult_step_held(call_id, action, by);
        }
        let cmd = |command: SwitchCommand| Effect::switch(&switch, &c, command);
        let park = |channel: &ChannelId, on: bool| {
            cmd(SwitchCommand::SetParkAfterBridge {
                channel: channel.clone(),
                on,
            })
        };
        let moh = self
            .queues
            .get(&queue)
            .map(|q| q.settings.moh.clone())
            .filter(|m| !m.is_empty());
        let mut effects = Vec::new();
        let next = match (action, consult.phase) {
            (ConsultAction::Complete, ConsultPhase::Talking | ConsultPhase::Swapped) => {
                effects.push(park(&a, false));
                effects.push(park(&c, false));
                effects.push(park(&k, false));
                effects.push(cmd(SwitchCommand::Bridge {
                    caller: c.clone(),
                    agent_leg: k.clone(),
                }));
                if let Some(call) = self.calls.get_mut(&call_id) {
                    // No post-call survey after a transfer (see `transfer`).
                    call.survey = None;
                }
                ConsultPhase::Completing
            }
            (ConsultAction::Cancel, ConsultPhase::Ringing) => {
                effects.push(cmd(SwitchCommand::Kill {
                    channel: k.clone(),
                    cause: HangupCause::OriginatorCancel,
                }));
                ConsultPhase::Cancelling
            }
            (ConsultAction::Cancel, ConsultPhase::Talking) => {
                effects.push(park(&a, false));
                if !survey {
                    effects.push(park(&c, false));
                }
                effects.push(cmd(SwitchCommand::Bridge {
                    caller: c.clone(),
                    agent_leg: a.clone(),
                }));
                ConsultPhase::Cancelling
            }
            (ConsultAction::Cancel, ConsultPhase::Swapped) => {
                effects.push(park(&a, false));
                if !survey {
                    effects.push(park(&c, false));
                }
                effects.push(cmd(SwitchCommand::Kill {
                    channel: k.clone(),
                    cause: HangupCause::NormalClearing,
                }));
                ConsultPhase::Cancelling
            }
            (ConsultAction::Swap, ConsultPhase::Talking) => {
                effects.push(park(&k, true));
                effects.push(cmd(SwitchCommand::Bridge {
                    caller: c.clone(),
                    agent_leg: a.clone(),
                }));
                if let Some(source) = moh {
                    effects.push(cmd(SwitchCommand::Broadcast { channel: k, source }));
                }
                ConsultPhase::Swapped
            }
            (ConsultAction::Swap, ConsultPhase::Swapped) => {
                effects.push(park(&k, false));
                effects.push(cmd(SwitchCommand::Bridge {
                    caller: a.clone(),
                    agent_leg: k.clone(),
                }));
                if let Some(source) = moh {
                    effects.push(cmd(SwitchCommand::Broadcast {
                        channel: c.clone(),
                        source,
                    }));
                }
                ConsultPhase::Talking
            }
            _ => return Err(wrong()),
        };
        effects.push(queue_event(
            call_id,
            &queue,
            Some(first),
            QueueEventKind::Consult,
            format!(
                "step={} to={} leg={} by={by}",
                action.as_str(),
                consult.target,
                consult.leg
            ),
            now,
        ));
        if let Some(c) = self.consults.calls.get_mut(&call_id) {
            c.phase = next;
            c.by = by;
        }
        Ok(effects)
    }

    /// Inputs about a consult's legs are taken here; the rest go on (`Some`). Some are taken
    /// here and then handed to the usual handling with the consult gone.
    pub(super) fn consult_input(
        &mut self,
        now: Timestamp,
        input: Input,
        effects: &mut Vec<Effect>,
    ) -> Option<Input> {
        if self.consults.calls.is_empty() {
            return Some(input);
        }
        match &input {
            Input::ChannelAnswered { channel, .. } => {
                let Some(call) = self.consults.legs.get(channel).copied() else {
                    return Some(input);
                };
                self.consult_answered(now, call, effects);
                None
            }
            Input::OriginateFailed { leg, cause, .. } => {
                let Some(call) = self.consults.legs.get(leg).copied() else {
                    return Some(input);
                };
                // A leg that answered lives on (its job says ORIGINATOR_CANCEL once bridged).
                if self.consults.calls.get(&call).is_some_and(|c| !c.answered) {
                    let cause = cause.clone();
                    self.consult_leg_gone(now, call, &cause, true, effects);
                } else {
                    let leg = leg.clone();
                    self.consult_leg_returned(now, &leg, effects);
                }
                None
            }
            Input::OriginateReturned { leg, .. } if self.consults.legs.contains_key(leg) => {
                let leg = leg.clone();
                self.consult_leg_returned(now, &leg, effects);
                None
            }
            Input::ChannelHungUp { channel, cause, .. } => {
                if let Some(call) = self.consults.legs.get(channel).copied() {
                    let cause = cause.clone();
                    self.consult_leg_gone(now, call, &cause, true, effects);
                    return None;
                }
                let owner = self.legs.get(channel).cloned();
                match owner {
                    Some(LegOwner::Caller(call)) if self.consults.calls.contains_key(&call) => {
                        self.consult_caller_gone(now, call, effects);
                        Some(input)
                    }
                    Some(LegOwner::Agent { call, .. })
                        if self
                            .consults
                            .calls
                            .get(&call)
                            .is_some_and(|c| &c.agent_leg == channel) =>
                    {
                        self.consult_agent_gone(now, call, input, effects);
                        None
                    }
                    _ => Some(input),
                }
            }
            // A failed bridge of a consult changes nothing the consult did not already know:
            // the leg that is gone says so with its own hangup.
            Input::CommandFailed {
                command: SwitchCommand::Bridge { caller, agent_leg },
                ..
            } if self.consult_bridge(caller, agent_leg) => None,
            _ => Some(input),
        }
    }

    /// Whether a bridge of these two legs is one a consult asked for.
    fn consult_bridge(&self, x: &ChannelId, y: &ChannelId) -> bool {
        self.consults.calls.iter().any(|(id, c)| {
            let caller = self.calls.get(id).map(|call| &call.caller);
            let ours = |l: &ChannelId| l == &c.leg || l == &c.agent_leg || Some(l) == caller;
            ours(x) && ours(y)
        })
    }

    /// The target answered: the agent talks to it, the caller hears music.
    fn consult_answered(&mut self, now: Timestamp, call_id: CallId, effects: &mut Vec<Effect>) {
        let Some(consult) = self.consults.calls.get_mut(&call_id) else {
            return;
        };
        if consult.phase != ConsultPhase::Ringing {
            // Cancelled while it rang: the kill is on its way.
            return;
        }
        consult.phase = ConsultPhase::Talking;
        consult.answered = true;
        if consult.blind {
            self.blind_number_answered(now, call_id, effects);
            return;
        }
        let (target, k, a) = (
            consult.target.clone(),
            consult.leg.clone(),
            consult.agent_leg.clone(),
        );
        let Some(call) = self.calls.get(&call_id) else {
            return;
        };
        let (switch, c, queue) = (call.switch.clone(), call.caller.clone(), call.queue.clone());
        let first = match &call.state {
            CallState::Bridged { agent, .. } => Some(agent.clone()),
            _ => None,
        };
        let moh = self
            .queues
            .get(&queue)
            .map(|q| q.settings.moh.clone())
            .filter(|m| !m.is_empty());
        let cmd = |command| Effect::switch(&switch, &c, command);
        effects.push(cmd(SwitchCommand::ParkAfterBridge { channel: c.clone() }));
        effects.push(cmd(SwitchCommand::SetParkAfterBridge {
            channel: a.clone(),
            on: true,
        }));
        effects.push(cmd(SwitchCommand::Bridge {
            caller: a,
            agent_leg: k.clone(),
        }));
        if let Some(source) = moh {
            effects.push(cmd(SwitchCommand::Broadcast {
                channel: c.clone(),
                source,
            }));
        }
        effects.push(queue_event(
            call_id,
            &queue,
            first,
            QueueEventKind::Consult,
            format!("step=answered to={target} leg={k}"),
            now,
        ));
        if let ConsultTarget::Agent(target) = &target {
            self.transition(
                now,
                target,
                AgentState::OnCall {
                    call: call_id,
                    leg: k,
                },
                StateCause::Switch,
                effects,
            );
        }
    }

    /// The consult leg is gone: never answered, hung up by the target, cancelled, or (after a
    /// completion) it carries the call, which `consult_agent_gone` already handed over.
    fn consult_leg_gone(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        cause: &str,
        rebridge: bool,
        effects: &mut Vec<Effect>,
    ) {
        let Some(consult) = self.consults.remove(call_id) else {
            return;
        };
        let Some(call) = self.calls.get(&call_id) else {
            self.consult_target_free(now, &consult.target, effects);
            return;
        };
        let (switch, c, queue) = (call.switch.clone(), call.caller.clone(), call.queue.clone());
        let survey = call.survey.is_some();
        let first = match &call.state {
            CallState::Bridged { agent, .. } => Some(agent.clone()),
            _ => None,
        };
        let cmd = |command| Effect::switch(&switch, &c, command);
        match consult.phase {
            // The target hung up on the agent: its leg was parked (`park_after_bridge`), the
            // caller is bridged back to it.
            ConsultPhase::Talking => {
                effects.push(cmd(SwitchCommand::SetParkAfterBridge {
                    channel: consult.agent_leg.clone(),
                    on: false,
                }));
                if !survey {
                    effects.push(cmd(SwitchCommand::SetParkAfterBridge {
                        channel: c.clone(),
                        on: false,
                    }));
                }
                if rebridge {
                    effects.push(cmd(SwitchCommand::Bridge {
                        caller: c.clone(),
                        agent_leg: consult.agent_leg.clone(),
                    }));
                }
            }
            ConsultPhase::Swapped => {
                effects.push(cmd(SwitchCommand::SetParkAfterBridge {
                    channel: consult.agent_leg.clone(),
                    on: false,
                }));
                if !survey {
                    effects.push(cmd(SwitchCommand::SetParkAfterBridge {
                        channel: c.clone(),
                        on: false,
                    }));
                }
            }
            ConsultPhase::Ringing | ConsultPhase::Cancelling | ConsultPhase::Completing => {}
        }
        effects.push(queue_event(
            call_id,
            &queue,
            first,
            QueueEventKind::Consult,
            format!(
                "step=ended to={} leg={} cause={cause}",
                consult.target, consult.leg
            ),
            now,
        ));
        self.consult_target_free(now, &consult.target, effects);
    }

    /// The caller hung up mid-consult: the consult leg goes too (the call's end is the usual
    /// one, handled next).
    fn consult_caller_gone(&mut self, now: Timestamp, call_id: CallId, effects: &mut Vec<Effect>) {
        let Some(consult) = self.consults.remove(call_id) else {
            return;
        };
        self.kill(&call_id, &consult.leg, HangupCause::NormalClearing, effects);
        if consult.phase != ConsultPhase::Ringing {
            // Its agent leg may be parked or bridged to the consult leg, not to the caller.
            self.kill(
                &call_id,
                &consult.agent_leg,
                HangupCause::NormalClearing,
                effects,
            );
        }
        self.consult_target_free(now, &consult.target, effects);
    }

    /// The first agent's leg is gone: after a completion the call is the target's; otherwise
    /// the agent left mid-consult and the call ends.
    fn consult_agent_gone(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        input: Input,
        effects: &mut Vec<Effect>,
    ) {
        let Some(consult) = self.consults.calls.get(&call_id).cloned() else {
            return;
        };
        if consult.phase == ConsultPhase::Completing {
            self.consults.remove(call_id);
            if let ConsultTarget::Number(number) = &consult.target {
                let number = number.clone();
                self.number_completed(now, call_id, &consult, &number, input, effects);
                return;
            }
            self.consult_completed(now, call_id, consult, effects);
            return;
        }
        self.consults.remove(call_id);
        let caller = self.calls.get(&call_id).map(|c| c.caller.clone());
        self.kill(&call_id, &consult.leg, HangupCause::NormalClearing, effects);
        if consult.phase != ConsultPhase::Ringing {
            // The caller is parked (or parks now): no one hangs it up but us.
            if let Some(c) = &caller {
                self.kill(&call_id, c, HangupCause::NormalClearing, effects);
            }
        }
        if let Some(call) = self.calls.get_mut(&call_id) {
            call.survey = None;
        }
        self.consult_target_free(now, &consult.target, effects);
        effects.extend(self.handle(now, input));
        if consult.phase != ConsultPhase::Ringing {
            if let Some(c) = caller {
                // Known until its hangup, so its park is not taken for a new caller.
                self.legs.insert(c, LegOwner::Retired(call_id));
            }
        }
    }

    /// The agent's leg left after `uuid_bridge <C> <K>`: its part ends as an attended
    /// transfer and the target talks to the caller, same call.
    fn consult_completed(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        consult: Consult,
        effects: &mut Vec<Effect>,
    ) {
        let ConsultTarget::Agent(target) = consult.target.clone() else {
            return;
        };
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        let CallState::Bridged {
            agent, answered_at, ..
        } = call.state.clone()
        else {
            return;
        };
        let wait_ms = millis_between(call.wait_key.entered_at, answered_at);
        call.state = CallState::Bridged {
            agent: target.clone(),
            leg: consult.leg.clone(),
            answered_at: now,
        };
        call.survey = None;
        let queue = call.queue.clone();
        let talk_ms = millis_between(answered_at, now);
        self.legs.remove(&consult.agent_leg);
        self.legs.insert(
            consult.leg.clone(),
            LegOwner::Agent {
                call: call_id,
                agent: target.clone(),
            },
        );
        self.answered_legs.insert(consult.leg.clone());
        effects.push(queue_event(
            call_id,
            &queue,
            Some(agent.clone()),
            QueueEventKind::Transfer,
            format!(
                "kind=attended from={agent} to=agent:{} by={} talk_ms={talk_ms}",
                target, consult.by
            ),
            now,
        ));
        effects.push(answered_record(
            now,
            call_id,
            &target,
            &consult.leg,
            wait_ms,
        ));
        effects.push(queue_event(
            call_id,
            &queue,
            Some(target.clone()),
            QueueEventKind::Connect,
            format!("consult leg={}", consult.leg),
            now,
        ));
        self.count_talk(&agent, &queue, talk_ms);
        self.start_wrap_up(now, &agent, &queue, effects);
    }

    /// After a reconnect: a consult whose leg the switch no longer has (and had when the
    /// listing began) ended while we were away.
    pub(super) fn consults_resync(
        &mut self,
        now: Timestamp,
        switch: &super::ids::SwitchName,
        present: &HashMap<ChannelId, &super::io::ChannelSnapshot>,
        marks: Option<&std::collections::HashSet<ChannelId>>,
        effects: &mut Vec<Effect>,
    ) {
        let mut gone: Vec<(CallId, ChannelId)> = self
            .consults
            .calls
            .iter()
            .filter(|(id, c)| {
                self.calls
                    .get(id)
                    .is_some_and(|call| &call.switch == switch)
                    && !present.contains_key(&c.leg)
                    && marks.is_none_or(|m| m.contains(&c.leg))
            })
            .map(|(id, c)| (*id, c.leg.clone()))
            .collect();
        gone.sort_by(|a, b| a.1.cmp(&b.1));
        for (call, _) in gone {
            // The resync that follows bridges the caller back (a bridge it finds missing).
            self.consult_leg_gone(now, call, "CHANNEL_LOST", false, effects);
        }
        self.consults_established_at_resync(now, switch, present, effects);
    }

    /// The consult of a call, for the snapshot.
    pub(super) fn consult_view(&self, call: CallId) -> Option<ConsultView> {
        let c = self.consults.calls.get(&call)?;
        Some(ConsultView {
            target: c.target.agent().cloned(),
            number: match &c.target {
                ConsultTarget::Number(n) => Some(n.clone()),
                ConsultTarget::Agent(_) => None,
            },
            blind: c.blind,
            channel: c.leg.to_string(),
            phase: c.phase,
            since: c.since,
        })
    }

    /// The consult legs in progress, with their call and target (for invariant checks).
    pub fn consult_legs(&self) -> Vec<(CallId, Option<AgentId>, ChannelId)> {
        let mut out: Vec<_> = self
            .consults
            .calls
            .iter()
            .map(|(id, c)| (*id, c.target.agent().cloned(), c.leg.clone()))
            .collect();
        out.sort_by(|a, b| a.2.cmp(&b.2));
        out
    }
}

impl Consults {
    /// Entry counts, for `sizes`.
    pub(super) fn sizes(&self, out: &mut Vec<(&'static str, usize)>) {
        out.push(("consults.calls", self.calls.len()));
        out.push(("consults.legs", self.legs.len()));
    }
}
