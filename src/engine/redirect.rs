//! Call control over REST beyond hold: hang a call up, transfer a connected call blind (to a
//! queue, to a named agent, to a dialplan extension), and move a waiting caller (to another
//! queue, to a named agent, out of the queues to a destination).
//!
//! The switch is the truth here as for desk phones (see `transfer`):
//! - A connected call is transferred by moving the caller (`uuid_transfer <C> ...`); the switch
//!   hangs the agent leg up first (captures `transfer` part B, `api-transfer-and-hold` parts C
//!   and E). The agent's part ends when that hangup arrives, as a desk phone's REFER does
//!   (`transfer` queue event, `by=token:<name>`, wrap-up), and the caller is then "away" under
//!   its call id until it comes back or hangs up.
//! - Back to a queue or to an agent, the caller is sent to `park` inline after a
//!   `requeue_reason` variable (`api-transfer-and-hold` part E): its CHANNEL_PARK comes back
//!   and re-admits it under the same call id, into the target queue, keeping its first entry
//!   time unless asked to start over.
//! - An agent as target is a direct offer: the call enters the fallback queue (the caller's
//!   queue unless another is given) and rings only that agent, for the given time; a ring that
//!   fails leaves the call waiting there like any other, at its place.
//! - A waiting caller is moved, offered or removed at once: it is ours, parked, hearing music.
//!
//! A hangup of a connected call ends it as `completed` with `by=token:<name>` on its
//! `complete` event; a waiting caller hung up leaves as `overflowed` (`reason=hangup`).

use std::collections::HashMap;
use std::time::Duration;

use thiserror::Error;

use super::core::describe;
use super::ids::{AgentId, CallId, ChannelId, QueueId, SwitchName};
use super::io::{
    Effect, FlowCall, HangupCause, Input, LegTransfer, ParkedCall, SwitchCommand, TransferKind,
};
use super::model::{AgentState, CallState};
use super::record::{CallOutcome, FlowOutcome, QueueEventKind, Record};
use super::routing::Destination;
use super::time::Timestamp;
use super::Engine;

/// Where a connected call is transferred.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferTarget {
    /// Into a queue; `keep_place`: its wait counts from its first entry (else from now).
    Queue { queue: QueueId, keep_place: bool },
    /// Rung as a direct call to one agent, for `timeout` (the fallback queue's ring timeout
    /// when `None`); if it is not answered, the call waits in `fallback` (the caller's own
    /// queue when `None`) at its old place.
    Agent {
        agent: AgentId,
        timeout: Option<Duration>,
        fallback: Option<QueueId>,
    },
    /// A dialplan extension (checked like every destination): an IVR flow's entry point, an
    /// external number's extension. The caller leaves our queues, as after a desk phone's
    /// blind transfer.
    Extension { number: String, context: String },
    /// An IVR flow's entry point (one of the loaded flows claims it): the caller is sent back
    /// to `park` and runs the flow under its call id. If the flow enqueues it, it is a queued
    /// call again; otherwise its call ends (`transferred`) when the caller hangs up.
    Flow { entry: String },
    /// An external number through `[transfer] external_dial`: it is rung first, and the caller
    /// is bridged to it once it answers (see `dialout`).
    Number { number: String },
}

/// What is asked of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedirectAction {
    /// Hang the call up (connected or waiting).
    Hangup,
    /// Blind transfer of a connected call.
    Transfer(TransferTarget),
    /// A waiting caller to another queue.
    Move { queue: QueueId, keep_place: bool },
    /// A waiting caller rung as a direct call to one agent; unanswered, it waits on.
    Offer {
        agent: AgentId,
        timeout: Option<Duration>,
    },
    /// A waiting caller out of the queues: an extension, voicemail or a hangup cause.
    Remove { destination: Destination },
}

impl RedirectAction {
    pub fn name(&self) -> &'static str {
        match self {
            RedirectAction::Hangup => "hangup",
            RedirectAction::Transfer(_) => "transfer",
            RedirectAction::Move { .. } => "move",
            RedirectAction::Offer { .. } => "offer",
            RedirectAction::Remove { .. } => "remove",
        }
    }
}

/// Why a request is refused; the API turns these into problem details (404 for an unknown
/// call, 403 for another agent's call, 400 for a bad target, 409 for the rest).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RedirectError {
    #[error("no call {0} in progress")]
    UnknownCall(CallId),
    #[error("call {call} is not agent {agent}'s: an agent acts on its own call only")]
    NotTheAgentsCall { call: CallId, agent: AgentId },
    #[error("call {0} is not connected to an agent")]
    NotConnected(CallId),
    #[error("call {0} is not waiting in a queue (connected calls are transferred)")]
    NotWaiting(CallId),
    #[error("call {0} is already being transferred")]
    AlreadyTransferring(CallId),
    #[error("no queue {0}")]
    UnknownQueue(QueueId),
    #[error("no agent {0}")]
    UnknownAgent(AgentId),
    #[error("agent {agent} is {status}: only an available agent can be offered a call")]
    AgentNotAvailable {
        agent: AgentId,
        status: &'static str,
    },
    #[error("agent {0} is already on this call")]
    SameAgent(AgentId),
    #[error("call {call} is already in queue {queue}")]
    SameQueue { call: CallId, queue: QueueId },
    #[error("{0}")]
    BadDestination(String),
    #[error("no dial template for external numbers: set [transfer] external_dial")]
    NoExternalDial,
    #[error("call {0} is in a conference: drop the parties first")]
    InConference(CallId),
}

/// A transfer asked for a connected call, until the switch hangs the agent leg up.
#[derive(Debug, Clone)]
struct Leaving {
    call: CallId,
    caller: ChannelId,
    switch: SwitchName,
    /// What the `transfer` event names as the target.
    to: String,
    by: String,
    /// Back to a queue (with a direct offer): what to do at the caller's CHANNEL_PARK.
    requeue: Option<Requeue>,
}

#[derive(Debug, Clone)]
struct Requeue {
    call: CallId,
    queue: QueueId,
    keep_place: bool,
    direct: Option<Direct>,
    /// Into this flow entry point rather than a queue.
    flow: Option<String>,
}

/// A direct offer to one agent, made when the call is next routed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Direct {
    agent: AgentId,
    timeout: Option<Duration>,
}

/// REST call control in progress.
#[derive(Debug, Default)]
pub(super) struct Redirects {
    /// Agent legs the switch is about to hang up for a transfer, by leg.
    leaving: HashMap<ChannelId, Leaving>,
    /// Transferred callers to be re-admitted at their CHANNEL_PARK, by caller channel.
    requeues: HashMap<ChannelId, Requeue>,
    /// Calls to be offered to one agent the next time they are routed.
    direct: HashMap<CallId, Direct>,
    /// Connected calls hung up over REST: who asked (the `complete` event's `by=`).
    hangups: HashMap<CallId, String>,
    /// Transferred callers running a flow under their call id, by channel, with the talk time
    /// of the agent who transferred them.
    in_flow: HashMap<ChannelId, (CallId, i64)>,
    /// Such callers the flow let go (not to a queue), until they hang up.
    left_flow: HashMap<ChannelId, (CallId, i64)>,
}

impl Redirects {
    /// A channel whose hangup is ours to read: an agent leg leaving for a transfer, or a
    /// transferred caller a flow let go.
    pub(super) fn leaving(&self, channel: &ChannelId) -> bool {
        self.leaving.contains_key(channel) || self.left_flow.contains_key(channel)
    }

    /// Who hung the call up over REST, if someone did.
    pub(super) fn take_hangup(&mut self, call: CallId) -> Option<String> {
        self.hangups.remove(&call)
    }

    fn transferring(&self, call: CallId) -> bool {
        self.leaving.values().any(|l| l.call == call)
            || self.requeues.values().any(|r| r.call == call)
    }

    fn is_empty(&self) -> bool {
        self.leaving.is_empty()
            && self.requeues.is_empty()
            && self.direct.is_empty()
            && self.hangups.is_empty()
            && self.in_flow.is_empty()
            && self.left_flow.is_empty()
    }
}

impl Engine {
    /// Carries out `action` on `call` for `by` (`token:<name>`).
    pub fn redirect(
        &mut self,
        now: Timestamp,
        call: CallId,
        action: RedirectAction,
        by: String,
    ) -> Result<Vec<Effect>, RedirectError> {
        let mut effects = Vec::new();
        match action {
            RedirectAction::Hangup => self.request_hangup(now, call, by, &mut effects)?,
            RedirectAction::Transfer(target) => {
                self.request_transfer(now, call, target, by, &mut effects)?
            }
            RedirectAction::Move { queue, keep_place } => {
                self.request_move(now, call, queue, keep_place, by, &mut effects)?
            }
            RedirectAction::Offer { agent, timeout } => {
                self.request_offer(now, call, agent, timeout, &mut effects)?
            }
            RedirectAction::Remove { destination } => {
                self.request_remove(now, call, destination, by, &mut effects)?
            }
        }
        Ok(effects)
    }

    fn request_hangup(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        by: String,
        effects: &mut Vec<Effect>,
    ) -> Result<(), RedirectError> {
        let call = self
            .calls
            .get(&call_id)
            .ok_or(RedirectError::UnknownCall(call_id))?;
        match &call.state {
            // A callback without its caller on the line is removed the same way.
            CallState::Waiting | CallState::Ringing { .. } => {
                let destination = Destination::Hangup {
                    cause: HangupCause::NormalClearing.as_str().to_owned(),
                };
                self.overflow(
                    now,
                    call_id,
                    destination,
                    &format!("hangup by={by}"),
                    effects,
                );
            }
            // An agent waiting for a callback's customer: the agent ends it from the phone.
            CallState::CallingBack { .. } => return Err(RedirectError::NotConnected(call_id)),
            CallState::Bridged { .. } | CallState::Whispering { .. } => {
                // The caller's hangup ends the call (`complete`, or an abandon while the agent
                // still hears the whisper); the switch then hangs the agent leg up.
                effects.push(Effect::switch(
                    &call.switch,
                    &call.caller,
                    SwitchCommand::Kill {
                        channel: call.caller.clone(),
                        cause: HangupCause::NormalClearing,
                    },
                ));
                self.redirects.hangups.insert(call_id, by);
            }
        }
        Ok(())
    }

    fn request_transfer(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        target: TransferTarget,
        by: String,
        effects: &mut Vec<Effect>,
    ) -> Result<(), RedirectError> {
        let call = self
            .calls
            .get(&call_id)
            .ok_or(RedirectError::UnknownCall(call_id))?;
        let CallState::Bridged {
            agent: current,
            leg,
            ..
        } = &call.state
        else {
            return Err(RedirectError::NotConnected(call_id));
        };
        if self.redirects.transferring(call_id) {
            return Err(RedirectError::AlreadyTransferring(call_id));
        }
        if self.in_conference(call_id) {
            return Err(RedirectError::InConference(call_id));
        }
        let (switch, caller) = (call.switch.clone(), call.caller.clone());
        let (to, requeue, command) = match target {
            TransferTarget::Number { number } => {
                return self.blind_to_number(now, call_id, &number, by, effects);
            }
            TransferTarget::Queue { queue, keep_place } => {
                self.known_queue(&queue)?;
                let requeue = Requeue {
                    call: call_id,
                    queue: queue.clone(),
                    keep_place,
                    direct: None,
                    flow: None,
                };
                (format!("queue:{queue}"), Some(requeue), None)
            }
            TransferTarget::Agent {
                agent,
                timeout,
                fallback,
            } => {
                if &agent == current {
                    return Err(RedirectError::SameAgent(agent));
                }
                self.available_agent(&agent)?;
                let queue = fallback.unwrap_or_else(|| call.queue.clone());
                self.known_queue(&queue)?;
                let requeue = Requeue {
                    call: call_id,
                    queue,
                    keep_place: true,
                    direct: Some(Direct {
                        agent: agent.clone(),
                        timeout,
                    }),
                    flow: None,
                };
                (format!("agent:{agent}"), Some(requeue), None)
            }
            TransferTarget::Flow { entry } => {
                if self.flows.for_entry_point(&entry).is_none() {
                    return Err(RedirectError::BadDestination(format!(
                        "no loaded flow has the entry point {entry:?}"
                    )));
                }
                let requeue = Requeue {
                    call: call_id,
                    queue: call.queue.clone(),
                    keep_place: true,
                    direct: None,
                    flow: Some(entry.clone()),
                };
                (format!("flow:{entry}"), Some(requeue), None)
            }
            TransferTarget::Extension { number, context } => {
                let destination = Destination::Extension { number, context };
                destination
                    .check()
                    .map_err(|e| RedirectError::BadDestination(e.to_string()))?;
                let Destination::Extension { number, context } = destination.clone() else {
                    return Err(RedirectError::BadDestination(describe(&destination)));
                };
                let command = SwitchCommand::Transfer {
                    channel: caller.clone(),
                    extension: number,
                    context,
                };
                (describe(&destination), None, Some(command))
            }
        };
        let command = match (&requeue, command) {
            (_, Some(command)) => command,
            _ => {
                effects.push(Effect::switch(
                    &switch,
                    &caller,
                    SwitchCommand::RequeueReason {
                        channel: caller.clone(),
                        reason: "transfer".to_owned(),
                    },
                ));
                SwitchCommand::ParkInline {
                    channel: caller.clone(),
                }
            }
        };
        effects.push(Effect::switch(&switch, &caller, command));
        self.redirects.leaving.insert(
            leg.clone(),
            Leaving {
                call: call_id,
                caller,
                switch,
                to,
                by,
                requeue,
            },
        );
        Ok(())
    }

    fn known_queue(&self, queue: &QueueId) -> Result<(), RedirectError> {
        if self.queues.contains_key(queue) {
            Ok(())
        } else {
            Err(RedirectError::UnknownQueue(queue.clone()))
        }
    }

    fn available_agent(&self, agent: &AgentId) -> Result<(), RedirectError> {
        let a = self
            .agents
            .get(agent)
            .ok_or_else(|| RedirectError::UnknownAgent(agent.clone()))?;
        if matches!(a.state, AgentState::Available) && a.calls_elsewhere == 0 {
            Ok(())
        } else {
            let status = if a.calls_elsewhere > 0 {
                "on a call elsewhere"
            } else {
                a.state.status().as_str()
            };
            Err(RedirectError::AgentNotAvailable {
                agent: agent.clone(),
                status,
            })
        }
    }

    /// A waiting (or ringing) caller, not a callback without its caller.
    fn waiting_call(&self, call_id: CallId) -> Result<&super::model::Call, RedirectError> {
        let call = self
            .calls
            .get(&call_id)
            .ok_or(RedirectError::UnknownCall(call_id))?;
        match call.state {
            CallState::Waiting | CallState::Ringing { .. } => Ok(call),
            _ => Err(RedirectError::NotWaiting(call_id)),
        }
    }

    fn request_move(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        queue: QueueId,
        keep_place: bool,
        by: String,
        effects: &mut Vec<Effect>,
    ) -> Result<(), RedirectError> {
        let call = self.waiting_call(call_id)?;
        self.known_queue(&queue)?;
        if call.queue == queue {
            return Err(RedirectError::SameQueue {
                call: call_id,
                queue,
            });
        }
        self.redirects.direct.remove(&call_id);
        if !keep_place {
            self.restart_place(now, call_id);
        }
        let destination = Destination::Queue { queue };
        let keep = if keep_place { "keep" } else { "reset" };
        self.overflow(
            now,
            call_id,
            destination,
            &format!("move by={by} place={keep}"),
            effects,
        );
        Ok(())
    }

    /// The call's wait starts over now (it is taken out of its pool's waiting set first, so
    /// its old key is not left behind).
    fn restart_place(&mut self, now: Timestamp, call_id: CallId) {
        let Some(call) = self.calls.get(&call_id) else {
            return;
        };
        let (pool, key) = (call.pool, call.wait_key);
        if let Some(p) = self.pool_mut(pool) {
            p.waiting.remove(&key);
        }
        let seq = self.next_seq();
        if let Some(call) = self.calls.get_mut(&call_id) {
            call.wait_key.entered_at = now;
            call.wait_key.seq = seq;
        }
    }

    fn request_offer(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        agent: AgentId,
        timeout: Option<Duration>,
        effects: &mut Vec<Effect>,
    ) -> Result<(), RedirectError> {
        let call = self.waiting_call(call_id)?;
        if call.is_virtual() {
            return Err(RedirectError::NotWaiting(call_id));
        }
        if matches!(&call.state, CallState::Ringing { rings, .. } if rings.iter().any(|r| r.agent == agent))
        {
            return Err(RedirectError::SameAgent(agent));
        }
        self.available_agent(&agent)?;
        // Whoever rings for it now stops; the call is offered to the one agent at once.
        self.cancel_rings(now, call_id, effects);
        let Some(call) = self.calls.get(&call_id) else {
            return Ok(());
        };
        let (pool, key) = (call.pool, call.wait_key);
        if let Some(p) = self.pool_mut(pool) {
            p.waiting.remove(&key);
        }
        self.redirects
            .direct
            .insert(call_id, Direct { agent, timeout });
        self.route_call(now, call_id, effects);
        Ok(())
    }

    fn request_remove(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        destination: Destination,
        by: String,
        effects: &mut Vec<Effect>,
    ) -> Result<(), RedirectError> {
        self.waiting_call(call_id)?;
        if matches!(destination, Destination::Queue { .. }) {
            return Err(RedirectError::BadDestination(
                "a queue is not a removal: move the call instead".to_owned(),
            ));
        }
        destination
            .check()
            .map_err(|e| RedirectError::BadDestination(e.to_string()))?;
        self.redirects.direct.remove(&call_id);
        self.overflow(
            now,
            call_id,
            destination,
            &format!("removed by={by}"),
            effects,
        );
        Ok(())
    }

    /// Called when a call is routed: a direct offer waiting for it rings its one agent, if
    /// that agent can still take it (true: the call rings). Otherwise it is routed as usual.
    pub(super) fn direct_offer(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        effects: &mut Vec<Effect>,
    ) -> bool {
        if self.redirects.direct.is_empty() {
            return false;
        }
        let Some(direct) = self.redirects.direct.remove(&call_id) else {
            return false;
        };
        if self.available_agent(&direct.agent).is_err()
            || self.sat_out_unrouted(now, call_id, &direct.agent, effects)
        {
            return false;
        }
        let Some(call) = self.calls.get_mut(&call_id) else {
            return false;
        };
        let (pool, key) = (call.pool, call.wait_key);
        call.state = CallState::Ringing {
            rings: Vec::new(),
            since: now,
        };
        call.offer_epoch += 1;
        if let Some(p) = self.pool_mut(pool) {
            p.waiting.remove(&key);
        }
        self.ring_agent_for(now, call_id, &direct.agent, direct.timeout, effects);
        let rings = matches!(
            self.calls.get(&call_id).map(|c| &c.state),
            Some(CallState::Ringing { rings, .. }) if !rings.is_empty()
        );
        if !rings {
            if let Some(call) = self.calls.get_mut(&call_id) {
                call.state = CallState::Waiting;
            }
        }
        rings
    }

    /// The switch hung up an agent leg we asked it to leave for a transfer: the agent's part
    /// ends as a transfer, the caller goes on (away until it parks again or hangs up).
    pub(super) fn redirected_leg_gone(
        &mut self,
        now: Timestamp,
        switch: SwitchName,
        leg: ChannelId,
        cause: String,
        effects: &mut Vec<Effect>,
    ) {
        if let Some((call, talk_ms)) = self.redirects.left_flow.remove(&leg) {
            effects.push(Effect::Persist(Record::CallEnded {
                call,
                outcome: CallOutcome::Transferred,
                hangup_cause: cause,
                talk_ms: Some(talk_ms),
                wait_ms: None,
                at: now,
            }));
            return;
        }
        let Some(leaving) = self.redirects.leaving.remove(&leg) else {
            return;
        };
        let still_bridged = matches!(
            self.calls.get(&leaving.call).map(|c| &c.state),
            Some(CallState::Bridged { leg: l, .. }) if l == &leg
        );
        if !still_bridged {
            let hung_up = Input::ChannelHungUp {
                switch,
                channel: leg,
                cause,
            };
            effects.extend(self.handle(now, hung_up));
            return;
        }
        let mut transferred = Vec::new();
        self.held_leg_gone(now, leaving.call, &leg, &mut transferred);
        self.leg_transferred(
            now,
            LegTransfer {
                switch: leaving.switch.clone(),
                leg,
                kind: TransferKind::Blind,
                partner: leaving.caller.clone(),
                destination: leaving.to.clone(),
                cause,
            },
            &mut transferred,
        );
        // The transfer is the token's, not the agent's phone's.
        for effect in &mut transferred {
            if let Effect::Persist(Record::QueueEvent {
                kind: QueueEventKind::Transfer,
                detail,
                ..
            }) = effect
            {
                if let Some(at) = detail.find(" by=") {
                    let rest = detail[at + 4..]
                        .find(' ')
                        .map(|i| detail[at + 4 + i..].to_owned())
                        .unwrap_or_default();
                    detail.truncate(at);
                    detail.push_str(&format!(" by={}{rest}", leaving.by));
                }
            }
        }
        effects.extend(transferred);
        if let Some(requeue) = leaving.requeue {
            if !requeue.keep_place {
                self.transfers.restart_wait(&leaving.caller, now);
            }
            self.redirects.requeues.insert(leaving.caller, requeue);
        }
    }

    /// A caller we sent to `park` for a requeue parked again: it enters its target queue
    /// (and rings the agent it was transferred to), as the same call, when this returns
    /// false; true when it was taken into a flow instead.
    pub(super) fn requeue_parked(
        &mut self,
        now: Timestamp,
        parked: &mut ParkedCall,
        effects: &mut Vec<Effect>,
    ) -> bool {
        let Some(requeue) = self.redirects.requeues.remove(&parked.channel) else {
            return false;
        };
        parked.queue = requeue.queue;
        if let Some(direct) = requeue.direct {
            self.redirects.direct.insert(requeue.call, direct);
        }
        match requeue.flow {
            Some(entry) => {
                self.enter_flow_after_transfer(now, parked, entry, effects);
                true
            }
            None => false,
        }
    }

    /// The transferred caller runs the flow of `entry` under its call id.
    fn enter_flow_after_transfer(
        &mut self,
        now: Timestamp,
        parked: &ParkedCall,
        entry: String,
        effects: &mut Vec<Effect>,
    ) {
        let channel = parked.channel.clone();
        let Some((call, talk_ms)) = self.transfers.leave_for_flow(&channel) else {
            return;
        };
        self.legs.remove(&channel);
        self.recording_bridge_over(now, call, effects);
        let flow_call = FlowCall {
            switch: parked.switch.clone(),
            channel: channel.clone(),
            entry,
            caller_number: parked.caller_number.clone(),
            caller_name: parked.caller_name.clone(),
            destination: parked.destination.clone(),
        };
        if self.enter_flow_as(now, call, flow_call, effects) {
            self.redirects.in_flow.insert(channel, (call, talk_ms));
        } else {
            // The flow was unloaded since: the caller is hung up, and its call ends then.
            effects.push(Effect::switch(
                &parked.switch,
                &channel,
                SwitchCommand::Kill {
                    channel: channel.clone(),
                    cause: HangupCause::NoRouteDestination,
                },
            ));
            self.redirects.left_flow.insert(channel, (call, talk_ms));
        }
    }

    /// The switch refused a transfer we asked for: nothing will move, the call goes on.
    pub(super) fn redirect_refused(&mut self, caller: &ChannelId) {
        self.redirects.leaving.retain(|_, l| &l.caller != caller);
    }

    /// After each input: a transferred caller's flow that let it go other than to a queue
    /// leaves its call to end at the caller's hangup (at once when that was the hangup);
    /// what was pending for calls that ended is forgotten.
    pub(super) fn after_redirects(&mut self, now: Timestamp, effects: &mut Vec<Effect>) {
        if self.redirects.is_empty() {
            return;
        }
        let flows_ended: Vec<(CallId, FlowOutcome)> = effects
            .iter()
            .filter_map(|e| match e {
                Effect::Persist(Record::FlowEnded { call, outcome, .. }) => Some((*call, *outcome)),
                _ => None,
            })
            .collect();
        for (call, outcome) in flows_ended {
            let Some(channel) = self
                .redirects
                .in_flow
                .iter()
                .find(|(_, (c, _))| *c == call)
                .map(|(ch, _)| ch.clone())
            else {
                continue;
            };
            let Some((call, talk_ms)) = self.redirects.in_flow.remove(&channel) else {
                continue;
            };
            match outcome {
                FlowOutcome::Enqueued => {}
                FlowOutcome::Abandoned => effects.push(Effect::Persist(Record::CallEnded {
                    call,
                    outcome: CallOutcome::Transferred,
                    hangup_cause: "NORMAL_CLEARING".to_owned(),
                    talk_ms: Some(talk_ms),
                    wait_ms: None,
                    at: now,
                })),
                _ => {
                    self.redirects.left_flow.insert(channel, (call, talk_ms));
                }
            }
        }
        for effect in effects.iter() {
            if let Effect::Persist(Record::CallEnded { call, .. }) = effect {
                let call = *call;
                self.redirects.hangups.remove(&call);
                self.redirects.direct.remove(&call);
                self.redirects.leaving.retain(|_, l| l.call != call);
                self.redirects.requeues.retain(|_, r| r.call != call);
                self.redirects.in_flow.retain(|_, (c, _)| *c != call);
                self.redirects.left_flow.retain(|_, (c, _)| *c != call);
            }
        }
    }
}

impl Redirects {
    /// Entry counts, for `sizes`.
    pub(super) fn sizes(&self, out: &mut Vec<(&'static str, usize)>) {
        out.push(("redirects.leaving", self.leaving.len()));
        out.push(("redirects.requeues", self.requeues.len()));
        out.push(("redirects.direct", self.direct.len()));
        out.push(("redirects.hangups", self.hangups.len()));
        out.push(("redirects.in_flow", self.in_flow.len()));
        out.push(("redirects.left_flow", self.left_flow.len()));
    }
}
