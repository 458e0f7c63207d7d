//! The caller's wait: periodic announcements (position, estimated wait), exit keys and
//! callback (virtual hold), as transitions of the call next to routing's.

use super::core::{answered_record, millis_between, queue_event, Engine};
use super::ids::{AgentId, CallId, ChannelId, SwitchName};
use super::io::{Effect, HangupCause, SayKind, SwitchCommand, Timer};
use super::model::{CallState, Callback, LegOwner};
use super::record::{CallOutcome, QueueEventKind, Record, StateCause};
use super::time::Timestamp;

/// What an agent hears while a callback's customer is being called (ringback, 440+480 Hz).
pub const RINGBACK: &str = "tone_stream://%(2000,4000,440,480);loops=-1";

/// Digits a callback may dial: an optional `+`, then 3 to 20 digits.
pub fn callback_number(raw: &str) -> Option<String> {
    let digits = raw.strip_prefix('+').unwrap_or(raw);
    let ok = (3..=20).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit());
    ok.then(|| raw.to_owned())
}

impl Engine {
    fn push_caller_command(
        &self,
        call_id: CallId,
        command: SwitchCommand,
        effects: &mut Vec<Effect>,
    ) {
        if let Some(call) = self.calls.get(&call_id) {
            effects.push(Effect::switch(&call.switch, &call.caller, command));
        }
    }

    /// The periodic announcement: break the hold music, say what is configured, resume it.
    pub(super) fn announce(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        hops: u32,
        effects: &mut Vec<Effect>,
    ) {
        let Some(call) = self.calls.get(&call_id) else {
            return;
        };
        if call.hops != hops || call.is_virtual() {
            return;
        }
        let Some(queue) = self.queues.get(&call.queue) else {
            return;
        };
        let settings = queue.settings.routing.announcements.clone();
        let Some(every) = settings.every else {
            return;
        };
        effects.push(Effect::SetTimer {
            at: now.plus(every),
            timer: Timer::Announce {
                call: call_id,
                hops,
            },
        });
        // Only a caller on hold hears it: one being connected, or typing a callback number,
        // must not be interrupted (the chain goes on for when it waits again).
        if call.state != CallState::Waiting || !call.on_hold || call.callback.is_some() {
            return;
        }
        let position = self
            .pool(call.pool)
            .map_or(1, |p| p.waiting.range(..call.wait_key).count() + 1);
        let agents = queue.logged_in.max(1) as u64;
        let wait_secs = queue
            .handle_ms
            .map(|handle| (position as u64 * handle / agents).div_ceil(60_000) * 60);
        let channel = call.caller.clone();
        let moh = queue.settings.moh.clone();
        let mut say = vec![SwitchCommand::Break {
            channel: channel.clone(),
        }];
        let play = |source: &Option<String>| {
            source.clone().map(|source| SwitchCommand::Play {
                channel: channel.clone(),
                source,
            })
        };
        let speak = |kind, text: String| SwitchCommand::Say {
            channel: channel.clone(),
            language: settings.language.clone(),
            kind,
            text,
        };
        say.extend(play(&settings.prompt));
        if settings.position {
            say.extend(play(&settings.position_prompt));
            say.push(speak(SayKind::Number, position.to_string()));
        }
        if let Some(secs) = wait_secs.filter(|_| settings.wait_time) {
            say.extend(play(&settings.wait_prompt));
            say.push(speak(SayKind::Duration, secs.to_string()));
        }
        say.push(SwitchCommand::PlayHold {
            channel: channel.clone(),
            source: moh,
        });
        for command in say {
            self.push_caller_command(call_id, command, effects);
        }
    }

    /// A key pressed by a caller in a queue: a callback number being typed, an exit key, or
    /// the callback key.
    pub(super) fn dtmf(
        &mut self,
        now: Timestamp,
        channel: &ChannelId,
        digit: char,
        effects: &mut Vec<Effect>,
    ) {
        let Some(LegOwner::Caller(call_id)) = self.legs.get(channel).cloned() else {
            return;
        };
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        if !matches!(call.state, CallState::Waiting | CallState::Ringing { .. }) {
            return;
        }
        if let Some(Callback::Confirming { digits, .. }) = &mut call.callback {
            match digit {
                '#' => {
                    let typed = std::mem::take(digits);
                    self.confirm_callback(now, call_id, typed, effects);
                }
                '*' => self.cancel_callback(call_id, effects),
                d if d.is_ascii_digit() && digits.len() < 20 => {
                    digits.push(d);
                    // Each key gives the caller the full timeout again.
                    self.arm_callback_confirm(now, call_id, effects);
                }
                _ => {}
            }
            return;
        }
        if self.consent_opt_out(now, call_id, digit) {
            return;
        }
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        let Some(queue) = self.queues.get(&call.queue) else {
            return;
        };
        let routing = &queue.settings.routing;
        let queue_id = call.queue.clone();
        if let Some(exit) = routing.exit_keys.iter().find(|k| k.digit == digit) {
            let destination = exit.destination.clone();
            effects.push(queue_event(
                call_id,
                &queue_id,
                None,
                QueueEventKind::ExitWithKey,
                format!("key={digit}"),
                now,
            ));
            self.overflow(now, call_id, destination, "exit_key", effects);
            return;
        }
        let Some(callback) = routing.callback.clone().filter(|c| c.key == digit) else {
            return;
        };
        call.callback = Some(Callback::Confirming {
            digits: String::new(),
            epoch: 0,
        });
        let number = call.caller_number.clone();
        let moh = queue.settings.moh.clone();
        let language = routing.announcements.language.clone();
        let channel = call.caller.clone();
        let mut commands = vec![SwitchCommand::Break {
            channel: channel.clone(),
        }];
        if let Some(source) = callback.offer_prompt {
            commands.push(SwitchCommand::Play {
                channel: channel.clone(),
                source,
            });
        }
        if let Some(number) = callback_number(&number) {
            commands.push(SwitchCommand::Say {
                channel: channel.clone(),
                language,
                kind: SayKind::Digits,
                text: number.trim_start_matches('+').to_owned(),
            });
        }
        commands.push(SwitchCommand::PlayHold {
            channel,
            source: moh,
        });
        for command in commands {
            self.push_caller_command(call_id, command, effects);
        }
        self.arm_callback_confirm(now, call_id, effects);
    }

    /// (Re)starts the confirmation timeout of a callback request; earlier timers go stale.
    fn arm_callback_confirm(&mut self, now: Timestamp, call_id: CallId, effects: &mut Vec<Effect>) {
        let epoch = self.next_seq();
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        let timeout = self
            .queues
            .get(&call.queue)
            .and_then(|q| q.settings.routing.callback.as_ref())
            .map_or(std::time::Duration::from_secs(10), |c| c.confirm_timeout);
        if let Some(Callback::Confirming { epoch: current, .. }) = &mut call.callback {
            *current = epoch;
            effects.push(Effect::SetTimer {
                at: now.plus(timeout),
                timer: Timer::CallbackConfirm {
                    call: call_id,
                    epoch,
                },
            });
        }
    }

    pub(super) fn callback_confirm_timeout(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        epoch: u64,
        effects: &mut Vec<Effect>,
    ) {
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        if !matches!(call.state, CallState::Waiting | CallState::Ringing { .. }) {
            return;
        }
        let typed = match &mut call.callback {
            Some(Callback::Confirming { digits, epoch: e }) if *e == epoch => {
                std::mem::take(digits)
            }
            _ => return,
        };
        // Digits typed without `#` count if they make a number; otherwise the caller ID.
        let typed = callback_number(&typed).unwrap_or_default();
        self.confirm_callback(now, call_id, typed, effects);
    }

    /// The caller changed its mind (`*`) or gave no usable number: it simply waits on.
    fn cancel_callback(&mut self, call_id: CallId, effects: &mut Vec<Effect>) {
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        call.callback = None;
        let channel = call.caller.clone();
        let moh = self
            .queues
            .get(&call.queue)
            .map(|q| q.settings.moh.clone())
            .unwrap_or_default();
        self.push_caller_command(
            call_id,
            SwitchCommand::Break {
                channel: channel.clone(),
            },
            effects,
        );
        self.push_caller_command(
            call_id,
            SwitchCommand::PlayHold {
                channel,
                source: moh,
            },
            effects,
        );
    }

    /// The number is confirmed: the caller hears the confirmation and is hung up, and the call
    /// keeps its place without a channel.
    fn confirm_callback(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        typed: String,
        effects: &mut Vec<Effect>,
    ) {
        let Some(call) = self.calls.get(&call_id) else {
            return;
        };
        let raw = if typed.is_empty() {
            call.caller_number.clone()
        } else {
            typed
        };
        let Some(number) = callback_number(&raw) else {
            self.cancel_callback(call_id, effects);
            return;
        };
        let Some(settings) = self
            .queues
            .get(&call.queue)
            .and_then(|q| q.settings.routing.callback.clone())
        else {
            self.cancel_callback(call_id, effects);
            return;
        };
        let confirm_prompt = settings.confirm_prompt.clone();
        let (queue_id, channel) = (call.queue.clone(), call.caller.clone());
        // Agents ringing for a caller who is about to hang up are released; the call is
        // offered again, now as a callback.
        self.cancel_rings(now, call_id, effects);
        let mut commands = vec![SwitchCommand::Break {
            channel: channel.clone(),
        }];
        if let Some(source) = confirm_prompt {
            commands.push(SwitchCommand::Play {
                channel: channel.clone(),
                source,
            });
        }
        commands.push(SwitchCommand::HangupAfterPrompts {
            channel: channel.clone(),
        });
        for command in commands {
            self.push_caller_command(call_id, command, effects);
        }
        effects.push(queue_event(
            call_id,
            &queue_id,
            None,
            QueueEventKind::CallbackRequested,
            format!("number={number}"),
            now,
        ));
        self.legs.insert(channel, LegOwner::Retired(call_id));
        if let Some(call) = self.calls.get_mut(&call_id) {
            call.on_hold = false;
            call.callback = Some(Callback::Requested {
                number,
                attempts: 0,
                settings,
                not_before: None,
            });
        }
        self.requeue(now, call_id, effects);
    }

    /// A callback's agent answered: the agent hears ringback while the customer is called.
    pub(super) fn call_customer_back(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        agent_id: &AgentId,
        agent_leg: &ChannelId,
        effects: &mut Vec<Effect>,
    ) {
        let customer_leg = ChannelId::from_uuid(self.new_uuid());
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        let Some(Callback::Requested {
            number, settings, ..
        }) = call.callback.clone()
        else {
            return;
        };
        call.state = CallState::CallingBack {
            agent: agent_id.clone(),
            agent_leg: agent_leg.clone(),
            customer_leg: customer_leg.clone(),
        };
        let (switch, affinity, queue_id) =
            (call.switch.clone(), call.caller.clone(), call.queue.clone());
        self.legs
            .insert(customer_leg.clone(), LegOwner::Customer(call_id));
        self.transition(
            now,
            agent_id,
            super::model::AgentState::OnCall {
                call: call_id,
                leg: agent_leg.clone(),
            },
            StateCause::Routing,
            effects,
        );
        let whisper = self.whisper_of(call_id);
        let command = |command| Effect::switch(&switch, &affinity, command);
        // The whisper first, then ringback: both are queued on the agent leg, and the
        // customer's answer breaks whatever still plays.
        if let Some(source) = whisper {
            effects.push(command(SwitchCommand::Play {
                channel: agent_leg.clone(),
                source,
            }));
        }
        effects.push(command(SwitchCommand::PlayHold {
            channel: agent_leg.clone(),
            source: RINGBACK.to_owned(),
        }));
        effects.push(command(SwitchCommand::Dial {
            leg: customer_leg.clone(),
            call: call_id,
            queue: queue_id.clone(),
            dial_string: settings.dial_string(&number),
            timeout: settings.ring_timeout,
        }));
        // The switch gives up at originate_timeout; this guards against a reply that never comes.
        effects.push(Effect::SetTimer {
            at: now
                .plus(settings.ring_timeout)
                .plus(std::time::Duration::from_secs(5)),
            timer: Timer::RingTimeout { leg: customer_leg },
        });
    }

    /// The customer picked up: bridge it to the waiting agent; from now on it is the caller.
    pub(super) fn customer_answered(
        &mut self,
        now: Timestamp,
        switch: &SwitchName,
        call_id: CallId,
        channel: &ChannelId,
        effects: &mut Vec<Effect>,
    ) {
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        let CallState::CallingBack {
            agent,
            agent_leg,
            customer_leg,
        } = call.state.clone()
        else {
            return;
        };
        if &customer_leg != channel {
            return;
        }
        let attempts = match call.callback.take() {
            Some(Callback::Requested { attempts, .. }) => attempts + 1,
            _ => 1,
        };
        call.caller = customer_leg.clone();
        call.state = CallState::Bridged {
            agent: agent.clone(),
            leg: agent_leg.clone(),
            answered_at: now,
        };
        let wait_ms = millis_between(call.wait_key.entered_at, now);
        let queue_id = call.queue.clone();
        self.note_wait_outcome(&queue_id, wait_ms, true, now);
        self.legs
            .insert(customer_leg.clone(), LegOwner::Caller(call_id));
        let command = |command| Effect::switch(switch, &customer_leg, command);
        effects.push(command(SwitchCommand::Break {
            channel: agent_leg.clone(),
        }));
        effects.push(command(SwitchCommand::Bridge {
            caller: customer_leg.clone(),
            agent_leg: agent_leg.clone(),
        }));
        effects.push(answered_record(now, call_id, &agent, &agent_leg, wait_ms));
        for (kind, detail) in [
            (
                QueueEventKind::CallbackConnected,
                format!("attempt={attempts}"),
            ),
            (QueueEventKind::Connect, format!("wait_ms={wait_ms}")),
        ] {
            effects.push(queue_event(
                call_id,
                &queue_id,
                Some(agent.clone()),
                kind,
                detail,
                now,
            ));
        }
        self.count_answer(&agent);
        self.record_by_policy(now, call_id, effects);
    }

    /// The customer did not answer (or the dial failed): free the agent, and try again later
    /// or give up.
    pub(super) fn customer_gone(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        channel: &ChannelId,
        cause: &str,
        effects: &mut Vec<Effect>,
    ) {
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        let CallState::CallingBack {
            agent,
            agent_leg,
            customer_leg,
        } = call.state.clone()
        else {
            return;
        };
        if &customer_leg != channel {
            return;
        }
        let Some(Callback::Requested {
            number,
            attempts,
            settings,
            ..
        }) = call.callback.clone()
        else {
            return;
        };
        let attempts = attempts + 1;
        let retries = (settings.retries, settings.retry_delay);
        call.callback = Some(Callback::Requested {
            number: number.clone(),
            attempts,
            settings,
            not_before: Some(now.plus(retries.1)),
        });
        call.state = CallState::Waiting;
        let queue_id = call.queue.clone();
        self.kill(&call_id, &agent_leg, HangupCause::NormalClearing, effects);
        self.legs.remove(&agent_leg);
        let gave_up = attempts > retries.0;
        effects.push(queue_event(
            call_id,
            &queue_id,
            Some(agent.clone()),
            if gave_up {
                QueueEventKind::CallbackFailed
            } else {
                QueueEventKind::CallbackAttempted
            },
            format!("attempt={attempts} number={number} cause={cause}"),
            now,
        ));
        self.make_eligible(now, &agent, StateCause::Routing, effects);
        if gave_up {
            if self.remove_call(call_id).is_some() {
                effects.push(Effect::Persist(Record::CallEnded {
                    call: call_id,
                    outcome: CallOutcome::CallbackFailed,
                    hangup_cause: cause.to_owned(),
                    talk_ms: None,
                    wait_ms: None,
                    at: now,
                }));
            }
            return;
        }
        effects.push(Effect::SetTimer {
            at: now.plus(retries.1),
            timer: Timer::CallbackRetry {
                call: call_id,
                attempt: attempts,
            },
        });
    }

    pub(super) fn callback_retry(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        attempt: u32,
        effects: &mut Vec<Effect>,
    ) {
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        let due = call.state == CallState::Waiting
            && matches!(call.callback, Some(Callback::Requested { attempts, .. }) if attempts == attempt);
        if !due {
            return;
        }
        if let Some(Callback::Requested { not_before, .. }) = &mut call.callback {
            *not_before = None;
        }
        self.route_call(now, call_id, effects);
    }
}

/// A callback the history says was requested and never connected, to be restored at start:
/// callbacks have no channel a resync could find.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingCallback {
    pub call: CallId,
    pub switch: SwitchName,
    /// The caller's original channel (gone); kept for command ordering only.
    pub channel: ChannelId,
    pub queue: super::ids::QueueId,
    pub caller_number: String,
    pub caller_name: String,
    pub destination: String,
    pub entered_at: Timestamp,
    pub priority: i32,
    pub number: String,
    pub attempts: u32,
}

impl Engine {
    /// Puts a callback from the history back in its queue, at its original place.
    pub fn restore_callback(&mut self, now: Timestamp, pending: PendingCallback) -> Vec<Effect> {
        let mut effects = Vec::new();
        if self.calls.contains_key(&pending.call) || !self.queues.contains_key(&pending.queue) {
            return effects;
        }
        let Some(number) = callback_number(&pending.number) else {
            return effects;
        };
        let Some(settings) = self
            .queues
            .get(&pending.queue)
            .and_then(|q| q.settings.routing.callback.clone())
        else {
            effects.push(Effect::Persist(Record::CallEnded {
                call: pending.call,
                outcome: CallOutcome::CallbackFailed,
                hangup_cause: "NO_CALLBACK_SETTINGS".to_owned(),
                talk_ms: None,
                wait_ms: None,
                at: now,
            }));
            return effects;
        };
        self.insert_call(super::model::Call {
            id: pending.call,
            switch: pending.switch,
            caller: pending.channel.clone(),
            queue: pending.queue,
            caller_number: pending.caller_number,
            caller_name: pending.caller_name,
            destination: pending.destination,
            wait_key: super::model::WaitKey {
                priority: std::cmp::Reverse(pending.priority),
                entered_at: pending.entered_at,
                seq: 0,
                call: pending.call,
            },
            skills: Vec::new(),
            step: 0,
            pool: super::model::PoolId(0),
            state: CallState::Waiting,
            hops: 0,
            offer_epoch: 0,
            on_hold: false,
            callback: Some(Callback::Requested {
                number,
                attempts: pending.attempts,
                settings,
                not_before: None,
            }),
            variables: Vec::new(),
            survey: None,
            consent: Default::default(),
            recordings: 0,
            notice_playing: None,
            whisper_pending: false,
        });
        // The caller channel is long gone: it must not be taken for the call's.
        self.legs.remove(&pending.channel);
        self.enter_queue(now, pending.call, &mut effects);
        effects
    }
}
