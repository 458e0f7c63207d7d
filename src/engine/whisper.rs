//! The whisper: a prompt (usually the queue's name) the agent hears after answering and before
//! the caller is connected, so the agent knows which line the call came in on.
//!
//! The controller plays it on the agent leg and bridges when the switch reports that the
//! playback finished (`MediaDone`), or when a guard timer runs out, so a lost event or a
//! prompt that never ends cannot strand the caller. The caller keeps its hold music meanwhile
//! and the agent is already on the call.
//!
//! The caller's consent notice gates the bridge the same way: an agent who answers while the
//! caller still hears it waits for its end (the bridge would cut it short and the call would
//! be recorded without the caller having heard why), within the same guard.

use std::time::Duration;

use super::core::{answered_record, millis_between, queue_event, Engine};
use super::ids::{CallId, ChannelId};
use super::io::{Effect, SwitchCommand, Timer};
use super::model::{CallState, LegOwner};
use super::record::QueueEventKind;
use super::time::Timestamp;

/// Longest the caller waits for the agent's whisper to end before it is connected anyway.
pub const WHISPER_GUARD: Duration = Duration::from_secs(30);

/// The application whose completion on a whispering agent leg ends the whisper.
const PLAYBACK: &str = "playback";

impl Engine {
    /// The queue's whisper prompt, if it has one.
    pub(super) fn whisper_of(&self, call_id: CallId) -> Option<String> {
        let call = self.calls.get(&call_id)?;
        self.queues
            .get(&call.queue)?
            .settings
            .routing
            .whisper
            .clone()
    }

    /// The agent answered a call whose queue whispers: the prompt plays on the agent leg
    /// (queued behind its `park`, in the call's command lane) and the guard timer starts.
    pub(super) fn start_whisper(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        source: String,
        effects: &mut Vec<Effect>,
    ) {
        let Some(call) = self.calls.get(&call_id) else {
            return;
        };
        let CallState::Whispering { leg, .. } = &call.state else {
            return;
        };
        effects.push(Effect::switch(
            &call.switch,
            &call.caller,
            SwitchCommand::Play {
                channel: leg.clone(),
                source,
            },
        ));
        self.guard_whisper(now, call_id, effects);
    }

    /// The guard timer of an answered call waiting for its whisper or the caller's notice.
    pub(super) fn guard_whisper(&self, now: Timestamp, call_id: CallId, effects: &mut Vec<Effect>) {
        let Some(call) = self.calls.get(&call_id) else {
            return;
        };
        effects.push(Effect::SetTimer {
            at: now.plus(WHISPER_GUARD),
            timer: Timer::WhisperEnds {
                call: call_id,
                epoch: call.offer_epoch,
            },
        });
    }

    /// An application finished on a channel. Only the end of a whisper matters to routing
    /// for now; everything else (hold music broken for a bridge, `park` ending, a caller's
    /// announcement) is already accounted for.
    pub(super) fn media_done(
        &mut self,
        now: Timestamp,
        channel: &ChannelId,
        application: &str,
        data: &str,
        effects: &mut Vec<Effect>,
    ) {
        if application != PLAYBACK {
            return;
        }
        match self.legs.get(channel) {
            Some(LegOwner::Agent { call, .. }) => {
                let call = *call;
                self.end_whisper(now, call, channel, effects);
            }
            Some(LegOwner::Caller(call_id)) => {
                let call_id = *call_id;
                let Some(call) = self.calls.get_mut(&call_id) else {
                    return;
                };
                if call.notice_playing.as_deref() == Some(data) {
                    call.notice_playing = None;
                    self.connect_when_ready(now, call_id, effects);
                }
            }
            _ => {}
        }
    }

    /// The guard timer of a whisper: the call is connected if it still whispers for the same
    /// offer.
    pub(super) fn whisper_timed_out(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        epoch: u64,
        effects: &mut Vec<Effect>,
    ) {
        let (switch, caller, leg) = match self.calls.get(&call_id) {
            Some(call) if call.offer_epoch == epoch => match &call.state {
                CallState::Whispering { leg, .. } if call.whisper_pending => {
                    (call.switch.clone(), call.caller.clone(), Some(leg.clone()))
                }
                _ => (call.switch.clone(), call.caller.clone(), None),
            },
            _ => return,
        };
        // A whisper still playing would go on over the caller once bridged.
        if let Some(leg) = leg {
            effects.push(Effect::switch(
                &switch,
                &caller,
                SwitchCommand::Break { channel: leg },
            ));
        }
        self.connect_anyway(now, call_id, effects);
    }

    /// Connects a call waiting for its whisper or notice whatever they are doing (its guard
    /// ran out, or a resync cannot tell).
    pub(super) fn connect_anyway(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        effects: &mut Vec<Effect>,
    ) {
        if let Some(call) = self.calls.get_mut(&call_id) {
            call.whisper_pending = false;
            call.notice_playing = None;
        }
        self.connect_when_ready(now, call_id, effects);
    }

    /// The whisper on `leg` is over (played, missing, broken off or timed out): the caller's
    /// hold music stops and the two legs are bridged.
    pub(super) fn end_whisper(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        leg: &ChannelId,
        effects: &mut Vec<Effect>,
    ) {
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        if !matches!(&call.state, CallState::Whispering { leg: whispering, .. } if whispering == leg)
        {
            return;
        }
        call.whisper_pending = false;
        self.connect_when_ready(now, call_id, effects);
    }

    /// An answered call waiting for its whisper and the caller's notice is connected once
    /// neither plays any more.
    fn connect_when_ready(&mut self, now: Timestamp, call_id: CallId, effects: &mut Vec<Effect>) {
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        let CallState::Whispering {
            agent,
            leg,
            answered_at,
        } = call.state.clone()
        else {
            return;
        };
        if call.whisper_pending || call.notice_playing.is_some() {
            return;
        }
        call.state = CallState::Bridged {
            agent,
            leg,
            answered_at,
        };
        self.connect(now, call_id, true, effects);
    }

    /// The call has just become `Bridged`: the caller's hold music stops, the legs are bridged
    /// and the answer goes on record. The answer is dated when the agent picked up; with a
    /// whisper, the `connect` queue event comes when the caller hears the agent and says how
    /// long the whisper took.
    pub(super) fn connect(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        whispered: bool,
        effects: &mut Vec<Effect>,
    ) {
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
        let on_hold = std::mem::replace(&mut call.on_hold, false);
        let survey = call.survey.is_some();
        let (switch, caller, queue) =
            (call.switch.clone(), call.caller.clone(), call.queue.clone());
        let entered_at = call.wait_key.entered_at;
        if on_hold {
            effects.push(Effect::switch(
                &switch,
                &caller,
                SwitchCommand::Break {
                    channel: caller.clone(),
                },
            ));
        }
        // The switch hangs the caller up when the agent does, unless it has a survey to go to.
        if survey {
            effects.push(Effect::switch(
                &switch,
                &caller,
                SwitchCommand::ParkAfterBridge {
                    channel: caller.clone(),
                },
            ));
        }
        effects.push(Effect::switch(
            &switch,
            &caller,
            SwitchCommand::Bridge {
                caller: caller.clone(),
                agent_leg: leg.clone(),
            },
        ));
        let wait_ms = millis_between(entered_at, answered_at);
        self.note_wait_outcome(&queue, wait_ms, true, answered_at);
        effects.push(answered_record(answered_at, call_id, &agent, &leg, wait_ms));
        let detail = if whispered {
            let whisper_ms = millis_between(answered_at, now);
            format!("wait_ms={wait_ms} whisper_ms={whisper_ms}")
        } else {
            format!("wait_ms={wait_ms}")
        };
        effects.push(queue_event(
            call_id,
            &queue,
            Some(agent.clone()),
            QueueEventKind::Connect,
            detail,
            now,
        ));
        self.count_answer(&agent);
        self.record_by_policy(now, call_id, effects);
    }
}
