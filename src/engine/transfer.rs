//! Transfers from desk phones: the agent's phone sends a REFER and the switch moves the caller
//! itself (Batch 4: `phone-blind-transfer`, `phone-attended-transfer`,
//! `phone-refer-to-queue-entry`). No event announces the REFER; the agent leg's hangup carries
//! `transfer_to`, and the caller keeps its channel.
//!
//! Why the call is kept rather than ended: the caller is still on the line, so the call (one
//! call id) lasts until the caller hangs up. The agent's part ends as a `transfer` queue event
//! (not `complete`) and the agent goes to wrap-up. If the target is one of our queue entry
//! points, the switch parks the same channel again and the call re-enters that queue with its
//! first entry time (its wait counts from the first queue; the new queue's own wait runs from
//! its `enter` event). A caller enqueued with a post-call survey never goes to the survey after
//! a transfer: the survey is about an agent who hung up, and here the caller is elsewhere.
//!
//! The recording follows the caller: it runs on the caller's channel, so it goes on in the
//! same file while the caller talks to the target, and ends when the caller hangs up. A
//! transfer back into a queue closes it there; that queue's policy starts the next segment,
//! linked to the same call.

use std::collections::HashMap;

use super::core::{answered_record, millis_between, queue_event};
use super::ids::{AgentId, CallId, ChannelId, QueueId, SwitchName};
use super::io::{ChannelSnapshot, Effect, Input, LegTransfer, ParkedCall};
use super::model::{AgentState, Call, CallState, LegOwner};
use super::record::{CallOutcome, QueueEventKind, Record, StateCause};
use super::snapshot::CallView;
use super::time::Timestamp;
use super::Engine;

/// Callers an agent transferred out of our hands, by caller channel.
#[derive(Debug, Default)]
pub(super) struct Transfers {
    away: HashMap<ChannelId, Away>,
    /// The first entry time of a transferred caller being admitted again (read by
    /// `admit_call`).
    entering: Option<Timestamp>,
    /// Second calls on the phone of an agent on a call of ours (consultations), by channel.
    /// They still keep the phone busy, but as part of that call, not as a call elsewhere.
    consults: HashMap<ChannelId, (CallId, AgentId)>,
    /// How many of `consults` each agent has (tracked: `busy_elsewhere` in its view).
    pub(super) consults_per_agent: super::tracked::Tracked<AgentId, u32>,
}

/// A caller out of our queues after a transfer: its call as it was, for its row's end or for
/// an agent of ours who receives it.
#[derive(Debug)]
struct Away {
    call: CallId,
    entered_at: Timestamp,
    /// The talk time of the agent who transferred it (the row's talk time if it ends there).
    talk_ms: i64,
    /// How long the caller waited for its first agent.
    wait_ms: i64,
    recordings: u32,
    gone: Box<Call>,
}

impl Transfers {
    pub(super) fn holds(&self, caller: &ChannelId) -> bool {
        self.away.contains_key(caller)
    }

    /// A caller sent away that enters a flow under its call id: no longer away. Its call id
    /// and the talk time of the agent who transferred it.
    pub(super) fn leave_for_flow(&mut self, caller: &ChannelId) -> Option<(CallId, i64)> {
        self.away.remove(caller).map(|a| (a.call, a.talk_ms))
    }

    /// A caller sent away whose wait is to start over when it re-enters a queue.
    pub(super) fn restart_wait(&mut self, caller: &ChannelId, at: Timestamp) {
        if let Some(away) = self.away.get_mut(caller) {
            away.entered_at = at;
        }
    }

    pub(super) fn take_entry(&mut self) -> Option<Timestamp> {
        self.entering.take()
    }

    fn start_consult(&mut self, channel: ChannelId, call: CallId, agent: AgentId) {
        *self.consults_per_agent.entry(agent.clone()).or_default() += 1;
        if let Some((_, replaced)) = self.consults.insert(channel, (call, agent)) {
            self.forget_consult_of(&replaced);
        }
    }

    pub(super) fn end_consult(&mut self, channel: &ChannelId) {
        if let Some((_, agent)) = self.consults.remove(channel) {
            self.forget_consult_of(&agent);
        }
    }

    fn forget_consult_of(&mut self, agent: &AgentId) {
        let left = self.consults_per_agent.get_mut(agent).map(|n| {
            *n = n.saturating_sub(1);
            *n
        });
        if left == Some(0) {
            self.consults_per_agent.remove(agent);
        }
    }

    /// How many of an agent's calls elsewhere are consultations of its call.
    pub(super) fn consults_of(&self, agent: &AgentId) -> u32 {
        self.consults_per_agent.get(agent).copied().unwrap_or(0)
    }
}

impl Engine {
    /// The agent's phone transferred the caller: its part ends, the caller goes on.
    pub(super) fn leg_transferred(
        &mut self,
        now: Timestamp,
        transfer: LegTransfer,
        effects: &mut Vec<Effect>,
    ) {
        let Some(LegOwner::Agent { call, agent }) = self.legs.get(&transfer.leg).cloned() else {
            return self.transfer_as_hangup(now, transfer, effects);
        };
        let answered_at = match self.calls.get(&call).map(|c| &c.state) {
            Some(CallState::Bridged {
                leg, answered_at, ..
            }) if leg == &transfer.leg => *answered_at,
            _ => return self.transfer_as_hangup(now, transfer, effects),
        };
        let Some(gone) = self.remove_call(call) else {
            return;
        };
        self.legs.remove(&transfer.leg);
        let talk_ms = millis_between(answered_at, now);
        let to = match transfer.kind {
            super::io::TransferKind::Blind => transfer.destination.clone(),
            super::io::TransferKind::Attended => format!("leg:{}", transfer.partner),
        };
        effects.push(queue_event(
            call,
            &gone.queue,
            Some(agent.clone()),
            QueueEventKind::Transfer,
            format!(
                "kind={} from={agent} to={to} by={agent} talk_ms={talk_ms}",
                transfer.kind.as_str()
            ),
            now,
        ));
        self.count_talk(&agent, &gone.queue, talk_ms);
        self.start_wrap_up(now, &agent, &gone.queue, effects);
        self.legs
            .insert(gone.caller.clone(), LegOwner::Retired(gone.id));
        let caller = gone.caller.clone();
        self.transfers.away.insert(
            caller.clone(),
            Away {
                call,
                entered_at: gone.wait_key.entered_at,
                talk_ms,
                wait_ms: millis_between(gone.wait_key.entered_at, answered_at),
                recordings: gone.recordings,
                gone: Box::new(gone),
            },
        );
        if transfer.kind == super::io::TransferKind::Attended {
            self.attended_target(now, &caller, &transfer.partner, effects);
        }
    }

    /// A caller the history says its agent transferred away, found on the switch by a resync
    /// after a controller restart: away again, as before the restart, so its hangup ends its
    /// call as `transferred` (or an entry point or one of our agents takes it again).
    pub(super) fn adopt_transferred(
        &mut self,
        gone: Call,
        transfer: super::io::StoredTransfer,
        answered_at: Option<Timestamp>,
    ) {
        let entered_at = gone.wait_key.entered_at;
        let wait_ms = answered_at.map_or(0, |at| millis_between(entered_at, at));
        self.legs
            .insert(gone.caller.clone(), LegOwner::Retired(gone.id));
        self.transfers.away.insert(
            gone.caller.clone(),
            Away {
                call: gone.id,
                entered_at,
                talk_ms: transfer.talk_ms,
                wait_ms,
                recordings: gone.recordings,
                gone: Box::new(gone),
            },
        );
    }

    /// A transfer of a leg that is not a connected agent's: only its hangup matters.
    fn transfer_as_hangup(&mut self, now: Timestamp, t: LegTransfer, effects: &mut Vec<Effect>) {
        let hung_up = Input::ChannelHungUp {
            switch: t.switch,
            channel: t.leg,
            cause: t.cause,
        };
        effects.extend(self.handle(now, hung_up));
    }

    pub(super) fn count_talk(&mut self, agent: &AgentId, queue: &QueueId, talk_ms: i64) {
        let talk = u64::try_from(talk_ms).unwrap_or(0);
        if let Some(agent) = self.agents.get_mut(agent) {
            agent.talk_ms += talk;
        }
        if let Some(queue) = self.queues.get_mut(queue) {
            let wrap_up = u64::try_from(queue.settings.wrap_up.as_millis()).unwrap_or(0);
            let handled = talk.saturating_add(wrap_up);
            queue.handle_ms = Some(match queue.handle_ms {
                Some(avg) => (avg * 4 + handled) / 5,
                None => handled,
            });
        }
    }

    /// The transferred caller hung up wherever it was sent: the call ends once, here.
    pub(super) fn transferred_caller_gone(
        &mut self,
        now: Timestamp,
        channel: &ChannelId,
        cause: &str,
        effects: &mut Vec<Effect>,
    ) {
        let Some(away) = self.transfers.away.remove(channel) else {
            return;
        };
        self.legs.remove(channel);
        self.recording_caller_gone(now, away.call, effects);
        effects.push(Effect::Persist(Record::CallEnded {
            call: away.call,
            outcome: CallOutcome::Transferred,
            hangup_cause: cause.to_owned(),
            talk_ms: Some(away.talk_ms),
            wait_ms: None,
            at: now,
        }));
    }

    /// The target was one of our queue entry points: the switch parked the same caller again.
    /// It enters that queue under its call id, its wait counting from its first entry.
    pub(super) fn readmit_transferred(
        &mut self,
        now: Timestamp,
        parked: ParkedCall,
        effects: &mut Vec<Effect>,
    ) {
        let Some(away) = self.transfers.away.remove(&parked.channel) else {
            return;
        };
        self.legs.remove(&parked.channel);
        self.recording_bridge_over(now, away.call, effects);
        self.transfers.entering = Some(away.entered_at);
        let mut admitted = Vec::new();
        self.admit_call(
            now,
            Some(away.call),
            parked,
            Vec::new(),
            false,
            &mut admitted,
        );
        self.transfers.entering = None;
        // The same call: counted once.
        self.counters.offered = self.counters.offered.saturating_sub(1);
        // The call's row exists since its first entry: no second `call.entered`.
        admitted.retain(|e| !matches!(e, Effect::Persist(Record::CallEntered { call, .. }) if *call == away.call));
        // The new queue's own wait runs from this `enter`; `since_ms` is the wait so far.
        let since_ms = millis_between(away.entered_at, now);
        for effect in &mut admitted {
            if let Effect::Persist(Record::QueueEvent {
                call,
                kind: QueueEventKind::Enter,
                detail,
                ..
            }) = effect
            {
                if *call == away.call {
                    detail.push_str(&format!(" transferred since_ms={since_ms}"));
                }
            }
        }
        effects.extend(admitted);
        if let Some(call) = self.calls.get_mut(&away.call) {
            call.recordings = away.recordings;
        }
        effects.extend(self.placed(now, away.call));
    }

    /// A leg the switch's dialplan bridged to `partner` was answered (`bridge user/1002`
    /// after a transfer to a phone). When `partner` is a caller we transferred away and the
    /// phone is an agent's who is free to take it, that agent is on the call: the call is ours
    /// again, bridged to this leg. Otherwise it is a call elsewhere for the phones it involves.
    pub(super) fn bridged_leg_answered(
        &mut self,
        now: Timestamp,
        switch: SwitchName,
        channel: ChannelId,
        partner: &ChannelId,
        users: &[String],
        effects: &mut Vec<Effect>,
    ) {
        let receiver = self.free_agent_of(users);
        let (Some(agent), true) = (receiver, self.transfers.holds(partner)) else {
            return self.call_elsewhere_started(switch, channel, users);
        };
        self.take_over(now, partner, channel, agent, effects);
    }

    /// The first agent among the phones' users who may take a transferred caller: logged in,
    /// not ringing or talking for another call of ours.
    fn free_agent_of(&self, users: &[String]) -> Option<AgentId> {
        users
            .iter()
            .filter_map(|u| self.phone_users.get(u))
            .find(|a| self.may_take_transfer(a))
            .cloned()
    }

    fn may_take_transfer(&self, agent: &AgentId) -> bool {
        self.agents.get(agent).is_some_and(|a| {
            matches!(
                a.state,
                AgentState::Available | AgentState::Paused { .. } | AgentState::WrapUp { .. }
            )
        })
    }

    /// After an attended transfer the caller's new partner is the leg the agent's phone
    /// called to consult (already answered, so a call elsewhere of the phone it rang): when
    /// that phone is an agent's, that agent takes the call.
    fn attended_target(
        &mut self,
        now: Timestamp,
        caller: &ChannelId,
        target: &ChannelId,
        effects: &mut Vec<Effect>,
    ) {
        let Some(agent) = self
            .elsewhere_agents(target)
            .into_iter()
            .find(|a| self.may_take_transfer(a))
        else {
            return;
        };
        // On the call first, so the phone's call elsewhere ending frees nobody for an offer.
        self.take_over(now, caller, target.clone(), agent, effects);
        self.call_elsewhere_ended(now, target, effects);
    }

    /// `agent` talks to the transferred caller on `leg`: the call is ours again, bridged.
    fn take_over(
        &mut self,
        now: Timestamp,
        partner: &ChannelId,
        channel: ChannelId,
        agent: AgentId,
        effects: &mut Vec<Effect>,
    ) {
        let Some(away) = self.transfers.away.remove(partner) else {
            return;
        };
        let mut call = *away.gone;
        call.state = CallState::Bridged {
            agent: agent.clone(),
            leg: channel.clone(),
            answered_at: now,
        };
        call.survey = None;
        call.on_hold = false;
        call.recordings = away.recordings;
        let queue = call.queue.clone();
        self.legs.remove(partner);
        self.insert_call(call);
        self.legs.insert(
            channel.clone(),
            LegOwner::Agent {
                call: away.call,
                agent: agent.clone(),
            },
        );
        effects.push(answered_record(
            now,
            away.call,
            &agent,
            &channel,
            away.wait_ms,
        ));
        effects.push(queue_event(
            away.call,
            &queue,
            Some(agent.clone()),
            QueueEventKind::Connect,
            format!("transferred leg={channel}"),
            now,
        ));
        self.transition(
            now,
            &agent,
            AgentState::OnCall {
                call: away.call,
                leg: channel,
            },
            StateCause::Switch,
            effects,
        );
    }

    /// After a reconnect: a transferred caller the switch no longer has hung up while we were
    /// away; its call ends.
    pub(super) fn transfers_resync(
        &mut self,
        now: Timestamp,
        switch: &SwitchName,
        present: &HashMap<ChannelId, &ChannelSnapshot>,
        effects: &mut Vec<Effect>,
    ) {
        let mut gone: Vec<ChannelId> = self
            .transfers
            .away
            .iter()
            .filter(|(caller, away)| &away.gone.switch == switch && !present.contains_key(*caller))
            .map(|(caller, _)| caller.clone())
            .collect();
        gone.sort();
        for caller in gone {
            self.transferred_caller_gone(now, &caller, "CHANNEL_LOST", effects);
        }
    }

    /// Transferred callers as the snapshot shows them: state `transferred`, no agent of ours.
    pub(super) fn transferred_views(&self) -> Vec<CallView> {
        self.transfers
            .away
            .values()
            .map(|away| {
                let c = &away.gone;
                CallView {
                    id: c.id,
                    switch: c.switch.to_string(),
                    channel: c.caller.to_string(),
                    queue: c.queue.clone(),
                    caller_number: c.caller_number.clone(),
                    caller_name: c.caller_name.clone(),
                    state: "transferred",
                    priority: c.wait_key.priority.0,
                    skills: c.skills.clone(),
                    step: c.step + 1,
                    entered_at: c.wait_key.entered_at,
                    agent: None,
                    agent_channel: None,
                    ringing: Vec::new(),
                    variables: c.variables.clone(),
                    hold: self.hold_view(c.id),
                    consult: None,
                    conference: None,
                    recording: self.recording_of(c.id),
                    consent: c.consent,
                }
            })
            .collect()
    }

    /// A second call on the phone of an agent talking to one of our callers is a consultation
    /// of that call (an attended transfer may follow): the history says so.
    pub(super) fn note_consult(
        &mut self,
        now: Timestamp,
        channel: &ChannelId,
        users: &[String],
        effects: &mut Vec<Effect>,
    ) {
        if self.legs.contains_key(channel) || self.transfers.consults.contains_key(channel) {
            return;
        }
        let on_call = users
            .iter()
            .filter_map(|u| self.phone_users.get(u))
            .find_map(|a| match self.agents.get(a).map(|agent| &agent.state) {
                Some(AgentState::OnCall { call, leg }) if leg != channel => {
                    Some((*call, a.clone()))
                }
                _ => None,
            });
        let Some((call, agent)) = on_call else {
            return;
        };
        let Some(queue) = self.calls.get(&call).map(|c| c.queue.clone()) else {
            return;
        };
        effects.push(queue_event(
            call,
            &queue,
            Some(agent.clone()),
            QueueEventKind::Consult,
            format!("leg={channel} users={}", users.join(",")),
            now,
        ));
        self.transfers.start_consult(channel.clone(), call, agent);
    }
}

impl Transfers {
    /// Entry counts, for `sizes`.
    pub(super) fn sizes(&self, out: &mut Vec<(&'static str, usize)>) {
        out.push(("transfers.away", self.away.len()));
        out.push(("transfers.consults", self.consults.len()));
    }
}
