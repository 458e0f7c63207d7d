//! Hold: a connected call put on hold and taken off it, from a desk phone (its re-INVITE, seen
//! as CHANNEL_HOLD / CHANNEL_UNHOLD on its own leg) or over REST (`uuid_hold [off] <agent
//! leg>`, whose events are the same).
//!
//! The switch is the truth: a hold is recorded when the switch reports it, never when it is
//! asked for, so the history matches what the switch did. A REST request only remembers who
//! asked, and the next hold event of the call is attributed to it. Each hold is a
//! `Record::CallHeld`, each end a `Record::CallResumed` carrying the call's running total; a
//! call that ends while held has its hold closed by the end, before its `CallEnded`. The
//! queue's recording policy may pause the call's recording for the hold (`pause_on_hold`),
//! through the recording machinery, and resume it after.
//!
//! Talk time already spans the hold (it runs from the answer to the end), so the handle time
//! the engine averages per queue includes hold; the hold total is reported beside it.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::core::{millis_between, Engine};
use super::ids::{AgentId, CallId, ChannelId, QueueId};
use super::io::{Effect, SwitchCommand};
use super::model::{CallState, LegOwner};
use super::record::Record;
use super::recording::{RecordingAction, RecordingActor};
use super::time::Timestamp;

/// Who put a call on hold, or took it off.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum HoldBy {
    /// The agent's desk phone (its hold key).
    AgentPhone,
    /// The caller's own phone held the agent.
    CallerPhone,
    /// A REST request with an API token (its name).
    Token(String),
}

impl fmt::Display for HoldBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HoldBy::AgentPhone => f.write_str("agent_phone"),
            HoldBy::CallerPhone => f.write_str("caller_phone"),
            HoldBy::Token(name) => write!(f, "token:{name}"),
        }
    }
}

/// A call's holds so far.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CallHold {
    queue: QueueId,
    /// The agent the call was connected to when last held.
    agent: AgentId,
    /// The hold in progress: since when, by whom, on which leg.
    current: Option<(Timestamp, HoldBy, ChannelId)>,
    count: u32,
    total_ms: i64,
    /// The hold paused the call's recording (to be resumed when it ends).
    paused_recording: bool,
}

/// Holds of the calls in progress, and REST requests waiting for the switch's event.
#[derive(Debug, Default)]
pub(super) struct Holds {
    calls: super::tracked::Tracked<CallId, CallHold>,
    requested: HashMap<CallId, HoldBy>,
    /// Hold time of finished holds, per agent, since start (like talk time).
    agent_ms: super::tracked::Tracked<AgentId, u64>,
}

/// A call's hold as the snapshot shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HoldView {
    /// Held now, since then.
    pub held_since: Option<Timestamp>,
    pub holds: u32,
    /// Finished holds only (the current one counts from `held_since`).
    pub hold_ms: i64,
}

/// Why a hold or resume request is refused; the API turns these into problem details (404 for
/// an unknown call, 409 for the rest).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HoldError {
    #[error("no call {0} in progress")]
    UnknownCall(CallId),
    #[error("call {call} is not agent {agent}'s: an agent holds its own call only")]
    NotTheAgentsCall { call: CallId, agent: AgentId },
    #[error("call {0} is not connected to an agent: there is nothing to hold")]
    NotConnected(CallId),
    #[error("call {0} is already on hold")]
    AlreadyHeld(CallId),
    #[error("call {0} is not on hold")]
    NotHeld(CallId),
    #[error("call {0} has a consult in progress: its caller already hears music")]
    Consulting(CallId),
}

impl Engine {
    /// A leg of ours was held (`held`) or taken off hold by its endpoint (CHANNEL_HOLD /
    /// CHANNEL_UNHOLD). Legs of calls not connected are of no consequence.
    pub(super) fn leg_hold(
        &mut self,
        now: Timestamp,
        channel: &ChannelId,
        held: bool,
        effects: &mut Vec<Effect>,
    ) {
        let (call_id, phone) = match self.legs.get(channel) {
            Some(LegOwner::Caller(call)) => (*call, HoldBy::CallerPhone),
            Some(LegOwner::Agent { call, .. }) => (*call, HoldBy::AgentPhone),
            _ => return,
        };
        let Some(call) = self.calls.get(&call_id) else {
            return;
        };
        let CallState::Bridged { agent, .. } = &call.state else {
            return;
        };
        let (agent, queue) = (agent.clone(), call.queue.clone());
        let by = self.holds.requested.remove(&call_id).unwrap_or(phone);
        let hold = self.holds.calls.entry(call_id).or_insert(CallHold {
            queue: queue.clone(),
            agent: agent.clone(),
            current: None,
            count: 0,
            total_ms: 0,
            paused_recording: false,
        });
        if held {
            // Both phones may hold at once: the call is on hold from the first to the last.
            if hold.current.is_some() {
                return;
            }
            hold.current = Some((now, by.clone(), channel.clone()));
            hold.agent = agent.clone();
            hold.count += 1;
            effects.push(Effect::Persist(Record::CallHeld {
                call: call_id,
                queue,
                agent: Some(agent),
                by,
                at: now,
            }));
            self.pause_recording_for_hold(now, call_id, effects);
        } else {
            match &hold.current {
                Some((_, _, leg)) if leg == channel => {}
                _ => return,
            }
            self.end_hold(now, call_id, by, effects);
        }
    }

    /// Closes the call's hold in progress (`CallResumed`), and resumes a recording the hold
    /// paused.
    fn end_hold(&mut self, now: Timestamp, call_id: CallId, by: HoldBy, effects: &mut Vec<Effect>) {
        let Some(hold) = self.holds.calls.get_mut(&call_id) else {
            return;
        };
        let Some((since, _, _)) = hold.current.take() else {
            return;
        };
        let held_ms = millis_between(since, now);
        hold.total_ms += held_ms;
        let (total_ms, holds) = (hold.total_ms, hold.count);
        let resume_recording = std::mem::take(&mut hold.paused_recording);
        let (queue, agent) = (hold.queue.clone(), hold.agent.clone());
        *self.holds.agent_ms.entry(agent.clone()).or_default() +=
            u64::try_from(held_ms).unwrap_or(0);
        effects.push(Effect::Persist(Record::CallResumed {
            call: call_id,
            queue,
            agent: Some(agent),
            by,
            held_ms,
            total_ms,
            holds,
            at: now,
        }));
        if resume_recording {
            if let Some(r) = self.recording_of(call_id).filter(|r| r.paused) {
                // Refused only if not paused, which was just checked.
                let _ = self.change_recording(
                    now,
                    r.id,
                    RecordingAction::Resume,
                    RecordingActor::Hold,
                    effects,
                );
            }
        }
    }

    fn pause_recording_for_hold(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        effects: &mut Vec<Effect>,
    ) {
        let wanted = self
            .calls
            .get(&call_id)
            .and_then(|c| self.queues.get(&c.queue))
            .is_some_and(|q| q.settings.routing.recording.pause_on_hold);
        if !wanted {
            return;
        }
        // A recording already paused (by a supervisor) stays as they left it after the hold.
        let Some(r) = self.recording_of(call_id).filter(|r| !r.paused) else {
            return;
        };
        if self
            .change_recording(
                now,
                r.id,
                RecordingAction::Pause,
                RecordingActor::Hold,
                effects,
            )
            .is_ok()
        {
            if let Some(hold) = self.holds.calls.get_mut(&call_id) {
                hold.paused_recording = true;
            }
        }
    }

    /// Puts a connected call on hold (`held`) or takes it off, over REST: the agent's leg is
    /// held (`uuid_hold <leg>`), so the caller hears the agent leg's `hold_music`, set first
    /// to the queue's music on hold. What the switch then reports is recorded, as `by`'s.
    pub fn request_hold(
        &mut self,
        call_id: CallId,
        held: bool,
        by: HoldBy,
    ) -> Result<Vec<Effect>, HoldError> {
        let call = self
            .calls
            .get(&call_id)
            .ok_or(HoldError::UnknownCall(call_id))?;
        let CallState::Bridged { leg, .. } = &call.state else {
            return Err(HoldError::NotConnected(call_id));
        };
        if self.consult_view(call_id).is_some() {
            return Err(HoldError::Consulting(call_id));
        }
        let is_held = self
            .holds
            .calls
            .get(&call_id)
            .is_some_and(|h| h.current.is_some());
        match (held, is_held) {
            (true, true) => return Err(HoldError::AlreadyHeld(call_id)),
            (false, false) => return Err(HoldError::NotHeld(call_id)),
            _ => {}
        }
        let mut effects = Vec::new();
        // The switch holds the leg the hold is on: a caller's phone that held is taken off
        // hold on its own leg.
        let target = match self
            .holds
            .calls
            .get(&call_id)
            .and_then(|h| h.current.as_ref())
        {
            Some((_, _, held_leg)) if !held => held_leg.clone(),
            _ => leg.clone(),
        };
        let moh = self
            .queues
            .get(&call.queue)
            .map(|q| q.settings.moh.clone())
            .filter(|m| !m.is_empty());
        if held {
            if let Some(source) = moh {
                effects.push(Effect::switch(
                    &call.switch,
                    &call.caller,
                    SwitchCommand::HoldMusic {
                        channel: target.clone(),
                        source,
                    },
                ));
            }
        }
        effects.push(Effect::switch(
            &call.switch,
            &call.caller,
            SwitchCommand::Hold {
                channel: target,
                on: held,
            },
        ));
        self.holds.requested.insert(call_id, by);
        Ok(effects)
    }

    /// A held leg hung up while its call goes on (a transfer moved the caller away): the hold
    /// ends with the leg, as the switch's does.
    pub(super) fn held_leg_gone(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        leg: &ChannelId,
        effects: &mut Vec<Effect>,
    ) {
        let by = match self
            .holds
            .calls
            .get(&call_id)
            .and_then(|h| h.current.as_ref())
        {
            Some((_, by, held)) if held == leg => by.clone(),
            _ => return,
        };
        self.end_hold(now, call_id, by, effects);
    }

    /// The switch refused a `uuid_hold`: the request it carried is forgotten, so a later hold
    /// from a phone is not taken for it.
    pub(super) fn hold_refused(&mut self, channel: &ChannelId) {
        let call = match self.legs.get(channel) {
            Some(LegOwner::Caller(call) | LegOwner::Agent { call, .. }) => *call,
            _ => return,
        };
        self.holds.requested.remove(&call);
    }

    /// Calls ending in `effects` that are on hold have their hold closed first (a hold ends
    /// with its call), and their hold state is dropped.
    pub(super) fn close_holds_of_ended_calls(&mut self, now: Timestamp, effects: &mut Vec<Effect>) {
        if self.holds.calls.is_empty() && self.holds.requested.is_empty() {
            return;
        }
        let ended: Vec<(usize, CallId)> = effects
            .iter()
            .enumerate()
            .filter_map(|(i, e)| match e {
                Effect::Persist(Record::CallEnded { call, .. }) => Some((i, *call)),
                _ => None,
            })
            .collect();
        for (i, call) in ended.into_iter().rev() {
            self.holds.requested.remove(&call);
            let Some(hold) = self.holds.calls.get(&call) else {
                continue;
            };
            if let Some((_, by, _)) = hold.current.clone() {
                let mut closing = Vec::new();
                self.end_hold(now, call, by, &mut closing);
                let resumed = closing
                    .into_iter()
                    .filter(|e| matches!(e, Effect::Persist(Record::CallResumed { .. })));
                effects.splice(i..i, resumed);
            }
            self.holds.calls.remove(&call);
        }
    }

    /// The call's holds, for the snapshot.
    pub(super) fn hold_view(&self, call: CallId) -> Option<HoldView> {
        let h = self.holds.calls.get(&call)?;
        Some(HoldView {
            held_since: h.current.as_ref().map(|(since, _, _)| *since),
            holds: h.count,
            hold_ms: h.total_ms,
        })
    }

    /// An agent's hold time of finished holds since start.
    pub(super) fn agent_hold_ms(&self, agent: &AgentId) -> u64 {
        self.holds.agent_ms.get(agent).copied().unwrap_or(0)
    }
}

impl Holds {
    /// Calls whose hold changed since the last publish.
    pub(super) fn take_changed_calls(&mut self) -> HashSet<CallId> {
        self.calls.take_changed()
    }

    /// Agents whose hold time changed since the last publish.
    pub(super) fn take_changed_agents(&mut self) -> HashSet<AgentId> {
        self.agent_ms.take_changed()
    }

    /// Entry counts, for `sizes`.
    pub(super) fn sizes(&self, out: &mut Vec<(&'static str, usize)>) {
        out.push(("holds.calls", self.calls.len()));
        out.push(("holds.requested", self.requested.len()));
        out.push(("holds.agent_ms", self.agent_ms.len()));
    }
}
