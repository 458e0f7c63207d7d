//! Engine scenarios, without sockets: each renders its effects as a readable call trace.

use std::collections::HashMap;
use std::time::Duration;

use expect_test::{expect, Expect};

use super::*;

mod adopt_ring;
mod after_call;
mod conference;
mod consult;
mod consult_race;
mod dialout;
mod disposition;
mod hold;
mod ivr;
mod monitor;
mod originate_race;
mod phone;
mod properties;
mod properties_conference;
mod properties_consult;
mod properties_monitor;
mod properties_wait;
mod provision;
mod publish;
mod queue_admin;
mod reach;
mod recording;
mod redirect;
mod registration;
mod regressions;
mod restart;
mod routing;
mod sizes;
mod thresholds;
mod transfer;
mod wait;
mod whisper;

const SW: &str = "fs1";

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

fn sw() -> SwitchName {
    SwitchName::new(SW).expect("valid switch name")
}

fn chan(n: u32) -> ChannelId {
    ChannelId::parse(&format!("00000000-0000-4000-8000-{n:012}")).expect("valid uuid")
}

/// A test bench: an engine with one queue and `agents` agents, and a renderer that names
/// UUIDs in order of appearance so traces stay readable.
struct Bench {
    engine: Engine,
    names: HashMap<String, String>,
    legs: Vec<ChannelId>,
    trace: Vec<String>,
    /// Timers the engine set and that have not fired yet, for `advance`.
    timers: Vec<(Timestamp, Timer)>,
    /// Who was rung, in order (one entry per originate).
    rung: Vec<String>,
    /// `call.wrapped_up` records, as `agent disposition wrap_up_ms` (kept out of the traces so
    /// every wrap-up does not add a line to them).
    wrap_ups: Vec<String>,
}

fn qid(id: &str) -> QueueId {
    QueueId::new(id).expect("queue id")
}

fn aid(id: &str) -> AgentId {
    AgentId::new(id).expect("agent id")
}

/// A queue with the bench's defaults (no wrap-up, 20 s ring timeout, 10 s back-off).
fn queue(id: &str, routing: QueueRouting) -> QueueSettings {
    QueueSettings {
        id: qid(id),
        name: id.to_owned(),
        moh: format!("local_stream://{id}"),
        wrap_up: Duration::ZERO,
        ring_timeout: Duration::from_secs(20),
        busy_backoff: Duration::from_secs(10),
        routing,
    }
}

/// An agent in `queues` (given as `queue` or `queue/tier/position`) with `skills` such as
/// `"spanish:7,billing"`.
fn agent(id: &str, queues: &[&str], skills: &str) -> AgentSettings {
    let queues = queues
        .iter()
        .zip(1..)
        .map(|(spec, index)| {
            let mut parts = spec.split('/');
            let mut membership = Membership::new(qid(parts.next().unwrap_or_default()), index);
            if let Some(tier) = parts.next() {
                membership.tier = tier.parse().expect("tier");
            }
            if let Some(position) = parts.next() {
                membership.position = position.parse().expect("position");
            }
            if let Some(weight) = parts.next() {
                membership.weight = weight.parse().expect("weight");
            }
            membership
        })
        .collect();
    AgentSettings {
        id: aid(id),
        name: format!("Agent {id}"),
        dial_string: format!("user/{id}"),
        queues,
        skills: parse_skill_list(skills).expect("skills"),
        pin: None,
    }
}

impl Bench {
    /// An engine with the given queues and agents, all logged out.
    fn with(queues: Vec<QueueSettings>, agents: Vec<AgentSettings>) -> Self {
        let mut engine = Engine::new(7);
        for q in queues {
            engine.provision_queue(q);
        }
        for a in agents {
            let effects = engine.provision_agent(ts(0), a, AgentStatus::LoggedOut);
            assert!(effects.is_empty());
        }
        Self {
            engine,
            names: HashMap::new(),
            legs: Vec::new(),
            trace: Vec::new(),
            timers: Vec::new(),
            rung: Vec::new(),
            wrap_ups: Vec::new(),
        }
    }

    /// A caller parks for `queue` with a priority and skills of its own.
    fn enqueue(&mut self, at: i64, channel: u32, queue: &str, priority: i32, skills: &str) {
        let effects = self.engine.handle(
            ts(at),
            Input::CallParked(ParkedCall {
                switch: sw(),
                channel: chan(channel),
                queue: qid(queue),
                caller_number: format!("49301234{channel}"),
                caller_name: format!("Caller {channel}"),
                destination: "5000".into(),
                priority,
                skills: parse_skill_list(skills).expect("skills"),
            }),
        );
        self.record(at, &format!("chan{channel} parked for {queue}"), effects);
    }

    fn set_state(&mut self, at: i64, agent: &str, state: RequestedState) {
        let label = format!("{agent} requests {state:?}");
        let effects = self
            .engine
            .set_agent_state(ts(at), &aid(agent), state)
            .expect("allowed");
        self.record(at, &label, effects);
    }

    /// Fires, in time order, every timer due by `at` (stale ones too: the engine must ignore
    /// them), as the timer wheel would.
    fn advance(&mut self, at: i64) {
        loop {
            self.timers.sort_by_key(|(when, _)| *when);
            let Some(index) = self.timers.iter().position(|(when, _)| *when <= ts(at)) else {
                return;
            };
            let (when, timer) = self.timers.remove(index);
            let effects = self.engine.handle(when, Input::TimerFired(timer.clone()));
            if !effects.is_empty() {
                let label = format!("{timer:?}")
                    .split([' ', '{'])
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                self.record(when.as_millis(), &format!("{label} fired"), effects);
            }
        }
    }

    /// The latest leg rung for `agent`.
    fn leg_of(&self, agent: &str) -> ChannelId {
        let index = self
            .rung
            .iter()
            .rposition(|a| a == agent)
            .expect("agent was rung");
        self.legs[index].clone()
    }

    fn answer(&mut self, at: i64, agent: &str) {
        let channel = self.leg_of(agent);
        let effects = self.engine.handle(
            ts(at),
            Input::ChannelAnswered {
                switch: sw(),
                channel,
            },
        );
        self.record(at, &format!("{agent} answered"), effects);
    }

    fn press(&mut self, at: i64, channel: u32, digits: &str) {
        for digit in digits.chars() {
            let effects = self.engine.handle(
                ts(at),
                Input::Dtmf {
                    switch: sw(),
                    channel: chan(channel),
                    digit,
                },
            );
            self.record(at, &format!("chan{channel} pressed {digit}"), effects);
        }
    }

    /// The switch reports that `application` finished on `channel`.
    fn media_done(&mut self, at: i64, channel: ChannelId, application: &str, response: &str) {
        self.media_done_of(at, channel, application, "", response);
    }

    /// As `media_done`, for an application that ran `data` (a playback's file).
    fn media_done_of(
        &mut self,
        at: i64,
        channel: ChannelId,
        application: &str,
        data: &str,
        response: &str,
    ) {
        let label = format!(
            "{} {application} done: {response}",
            self.name(channel.as_str())
        );
        let effects = self.engine.handle(
            ts(at),
            Input::MediaDone {
                switch: sw(),
                channel,
                application: application.into(),
                data: data.into(),
                response: response.into(),
            },
        );
        self.record(at, &label, effects);
    }

    fn agent_hangs_up(&mut self, at: i64, agent: &str, cause: &str) {
        self.hangup(at, self.leg_of(agent), cause);
    }

    fn status(&self, agent: &str) -> AgentStatus {
        self.engine.agents[&aid(agent)].state.status()
    }

    fn new(agents: &[&str], wrap_up_ms: u64) -> Self {
        let mut engine = Engine::new(7);
        engine.provision_queue(QueueSettings {
            id: QueueId::new("support").expect("id"),
            name: "Support".into(),
            moh: "local_stream://moh".into(),
            wrap_up: Duration::from_millis(wrap_up_ms),
            ring_timeout: Duration::from_secs(20),
            busy_backoff: Duration::from_secs(10),
            routing: QueueRouting::default(),
        });
        let mut bench = Self {
            engine,
            names: HashMap::new(),
            legs: Vec::new(),
            trace: Vec::new(),
            timers: Vec::new(),
            rung: Vec::new(),
            wrap_ups: Vec::new(),
        };
        for a in agents {
            let effects = bench.engine.provision_agent(
                ts(0),
                AgentSettings {
                    id: AgentId::new(*a).expect("id"),
                    name: format!("Agent {a}"),
                    dial_string: format!("user/{a}"),
                    queues: vec![Membership::new(QueueId::new("support").expect("id"), 1)],
                    skills: Vec::new(),
                    pin: None,
                },
                AgentStatus::LoggedOut,
            );
            assert!(effects.is_empty());
        }
        bench
    }

    fn name(&mut self, uuid: &str) -> String {
        if uuid.starts_with("00000000-0000-4000-8000-") {
            return format!(
                "chan{}",
                uuid.trim_start_matches("00000000-0000-4000-8000-")
                    .trim_start_matches('0')
            );
        }
        let n = self.names.len() + 1;
        self.names
            .entry(uuid.to_owned())
            .or_insert_with(|| format!("id{n}"))
            .clone()
    }

    /// `text` with every UUID in it replaced by its name (recording paths name the call).
    fn names_in(&mut self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find(|c: char| c.is_ascii_hexdigit()) {
            let candidate = rest.get(start..start + 36).unwrap_or_default();
            out.push_str(&rest[..start]);
            if uuid::Uuid::parse_str(candidate).is_ok() && candidate.len() == 36 {
                let name = self.name(candidate);
                out.push_str(&name);
                rest = &rest[start + 36..];
            } else {
                let next = rest[start..].chars().next().map_or(1, char::len_utf8);
                out.push_str(&rest[start..start + next]);
                rest = &rest[start + next..];
            }
        }
        out.push_str(rest);
        out
    }

    fn record(&mut self, at: i64, label: &str, effects: Vec<Effect>) {
        publish::assert_published_is_rebuilt(&mut self.engine, ts(at));
        self.trace.push(format!("@{at} {label}"));
        for e in effects {
            let line = match e {
                Effect::Switch { command, .. } => match command {
                    SwitchCommand::Answer { channel } => {
                        format!("answer {}", self.name(channel.as_str()))
                    }
                    SwitchCommand::SessionRecord {
                        channel,
                        action,
                        path,
                        limit,
                    } => {
                        let path = self.names_in(&path);
                        let limit = limit
                            .map(|l| format!(" limit {}s", l.as_secs()))
                            .unwrap_or_default();
                        format!(
                            "uuid_record {} {} {path}{limit}",
                            self.name(channel.as_str()),
                            action.as_str()
                        )
                    }
                    SwitchCommand::RecordStereo { channel } => {
                        format!("record stereo {}", self.name(channel.as_str()))
                    }
                    SwitchCommand::RequeueReason { channel, reason } => {
                        format!("requeue reason {} {reason}", self.name(channel.as_str()))
                    }
                    SwitchCommand::ParkInline { channel } => {
                        format!("park inline {}", self.name(channel.as_str()))
                    }
                    SwitchCommand::Beep { channel } => {
                        format!("beep {}", self.name(channel.as_str()))
                    }
                    SwitchCommand::PlayHold { channel, source } => {
                        format!("hold {} {source}", self.name(channel.as_str()))
                    }
                    SwitchCommand::Originate {
                        leg,
                        agent,
                        dial_string,
                        variables,
                        ..
                    } => {
                        self.legs.push(leg.clone());
                        self.rung.push(agent.to_string());
                        let variables = if variables.is_empty() {
                            String::new()
                        } else {
                            format!(" with {variables:?}")
                        };
                        format!(
                            "originate {} to {agent} via {dial_string}{variables}",
                            self.name(leg.as_str())
                        )
                    }
                    SwitchCommand::Break { channel } => {
                        format!("break {}", self.name(channel.as_str()))
                    }
                    SwitchCommand::Bridge { caller, agent_leg } => format!(
                        "bridge {} {}",
                        self.name(caller.as_str()),
                        self.name(agent_leg.as_str())
                    ),
                    SwitchCommand::Kill { channel, cause } => {
                        format!("kill {} {}", self.name(channel.as_str()), cause.as_str())
                    }
                    SwitchCommand::Transfer {
                        channel,
                        extension,
                        context,
                    } => format!(
                        "transfer {} to {extension}@{context}",
                        self.name(channel.as_str())
                    ),
                    SwitchCommand::Record { channel, path, max } => format!(
                        "record {} {path} max {}s",
                        self.name(channel.as_str()),
                        max.as_secs()
                    ),
                    SwitchCommand::Voicemail {
                        channel,
                        domain,
                        mailbox,
                    } => format!(
                        "voicemail {} {mailbox}@{domain}",
                        self.name(channel.as_str())
                    ),
                    SwitchCommand::Hangup { channel, cause } => {
                        format!("hangup {} {cause}", self.name(channel.as_str()))
                    }
                    SwitchCommand::Play { channel, source } => {
                        format!("play {} {source}", self.name(channel.as_str()))
                    }
                    SwitchCommand::Say {
                        channel,
                        language,
                        kind,
                        text,
                    } => format!(
                        "say {} {language} {} {text}",
                        self.name(channel.as_str()),
                        kind.as_args()
                    ),
                    SwitchCommand::Presence(p) => format!("presence {}+{}", p.proto, p.id),
                    SwitchCommand::HangupAfterPrompts { channel } => {
                        format!("hangup {} after prompts", self.name(channel.as_str()))
                    }
                    SwitchCommand::ParkAfterBridge { channel } => {
                        format!("park {} after bridge", self.name(channel.as_str()))
                    }
                    SwitchCommand::HoldMusic { channel, source } => {
                        format!("hold music of {} {source}", self.name(channel.as_str()))
                    }
                    SwitchCommand::Hold { channel, on } => format!(
                        "uuid_hold {}{}",
                        if on { "" } else { "off " },
                        self.name(channel.as_str())
                    ),
                    SwitchCommand::SetParkAfterBridge { channel, on } => {
                        format!("park_after_bridge {} {on}", self.name(channel.as_str()))
                    }
                    SwitchCommand::Broadcast { channel, source } => {
                        format!("broadcast {} {source}", self.name(channel.as_str()))
                    }
                    SwitchCommand::ConferenceJoin { channel, name } => {
                        format!("conference {} and its agent into {name}", self.name(channel.as_str()))
                    }
                    SwitchCommand::ConferenceDial {
                        leg,
                        agent,
                        name,
                        dial_string,
                        ..
                    } => {
                        let agent = agent.map(|a| a.to_string()).unwrap_or_else(|| "number".into());
                        self.legs.push(leg.clone());
                        self.rung.push(agent.clone());
                        format!(
                            "originate {} to {agent} via {dial_string} into {name}",
                            self.name(leg.as_str())
                        )
                    }
                    SwitchCommand::Dial {
                        leg, dial_string, ..
                    } => {
                        self.legs.push(leg.clone());
                        self.rung.push("customer".into());
                        format!("dial {} via {dial_string}", self.name(leg.as_str()))
                    }
                    SwitchCommand::Monitor {
                        leg,
                        target,
                        mode,
                        dial_string,
                        ..
                    } => {
                        self.legs.push(leg.clone());
                        self.rung.push("supervisor".into());
                        format!(
                            "monitor {} ({mode}) via {dial_string} as {}",
                            self.name(target.as_str()),
                            self.name(leg.as_str())
                        )
                    }
                    SwitchCommand::TakeOver { caller, leg } => format!(
                        "take over: bridge {} {}",
                        self.name(caller.as_str()),
                        self.name(leg.as_str())
                    ),
                    SwitchCommand::MonitorKey { leg, digit } => {
                        format!("key {digit} to {}", self.name(leg.as_str()))
                    }
                },
                Effect::Persist(record) => match record {
                    Record::RecordingStarted { reason, by, .. } => {
                        format!("store recording started ({}) by {by}", reason.as_str())
                    }
                    Record::RecordingDeclined { .. } => "store recording declined".to_owned(),
                    Record::RecordingChanged {
                        action,
                        by,
                        offset_ms,
                        ..
                    } => format!(
                        "store recording {} by {by} at +{offset_ms}ms",
                        action.as_str()
                    ),
                    Record::RecordingStopped {
                        by, duration_ms, ..
                    } => format!("store recording stopped by {by} after {duration_ms}ms"),
                    Record::CallEntered {
                        queue,
                        caller_number,
                        ..
                    } => {
                        format!("store call entered {queue} from {caller_number}")
                    }
                    Record::CallPlaced {
                        queue,
                        priority,
                        skills,
                        hops,
                        waiting_since,
                        ..
                    } => {
                        let skills: Vec<String> = skills.iter().map(ToString::to_string).collect();
                        format!(
                            "store call placed {queue} priority={priority} skills={} hops={hops} since={waiting_since}",
                            skills.join(",")
                        )
                    }
                    Record::FlowWaiting {
                        node, variables, ..
                    } => format!("store flow waits at {node} {variables:?}"),
                    Record::CallAnswered { agent, wait_ms, .. } => {
                        format!("store call answered by {agent} after {wait_ms}ms")
                    }
                    Record::CallEnded {
                        outcome,
                        hangup_cause,
                        talk_ms,
                        ..
                    } => format!(
                        "store call ended {} {hangup_cause} talk={talk_ms:?}",
                        outcome.as_str()
                    ),
                    Record::QueueEvent {
                        kind,
                        agent,
                        detail,
                        ..
                    } => {
                        let detail = match detail.strip_prefix("leg=") {
                            Some(leg) => format!("leg={}", self.name(leg)),
                            None => detail,
                        };
                        format!(
                            "store queue {} {} {detail}",
                            kind.as_str(),
                            agent.map(|a| a.to_string()).unwrap_or_else(|| "-".into())
                        )
                    }
                    Record::AgentState {
                        agent,
                        from,
                        to,
                        reason,
                        ..
                    } => format!(
                        "store agent {agent} {} -> {}{}",
                        from.as_str(),
                        to.as_str(),
                        reason.map(|r| format!(" ({r})")).unwrap_or_default()
                    ),
                    Record::CallDisposition { agent, code, .. } => {
                        format!("store disposition {code} by {agent}")
                    }
                    Record::CallWrappedUp {
                        agent,
                        disposition,
                        wrap_up_ms,
                        ..
                    } => {
                        self.wrap_ups.push(format!(
                            "{agent} {} {wrap_up_ms}",
                            disposition.as_deref().unwrap_or("-")
                        ));
                        String::new()
                    }
                    Record::AgentAfterCall {
                        agent,
                        status,
                        reason,
                        applied,
                        ..
                    } => match (status, applied) {
                        (None, _) => format!("store agent {agent} after call: cancelled"),
                        (Some(status), applied) => format!(
                            "store agent {agent} after call: {}{}{}",
                            status.as_str(),
                            reason.map(|r| format!(" ({r})")).unwrap_or_default(),
                            if applied { " applied" } else { " pending" }
                        ),
                    },
                    Record::FlowEntered {
                        flow,
                        entry,
                        caller_number,
                        ..
                    } => format!("store flow entered {flow} via {entry} from {caller_number}"),
                    Record::FlowStep {
                        node,
                        kind,
                        digits,
                        outcome,
                        ..
                    } => format!("store flow step {node} ({kind}) keys={digits:?} -> {outcome}"),
                    Record::FlowEnded {
                        outcome, variables, ..
                    } => format!("store flow ended {} {variables:?}", outcome.as_str()),
                    Record::SurveyStarted { flow, agent, .. } => {
                        format!("store survey {flow} about {agent}")
                    }
                    Record::SurveyEnded {
                        outcome, answers, ..
                    } => format!("store survey ended {} {answers:?}", outcome.as_str()),
                    Record::CallHeld { by, .. } => format!("store call held by {by}"),
                    Record::Monitor {
                        supervisor,
                        kind,
                        mode,
                        previous,
                        reason,
                        ..
                    } => format!(
                        "store monitor {} by {supervisor} {mode}{}{}",
                        kind.as_str(),
                        previous.map(|p| format!(" (was {p})")).unwrap_or_default(),
                        reason.map(|r| format!(" ({r})")).unwrap_or_default()
                    ),
                    Record::CallResumed {
                        by,
                        held_ms,
                        total_ms,
                        holds,
                        ..
                    } => format!(
                        "store call resumed by {by} held={held_ms}ms total={total_ms}ms holds={holds}"
                    ),
                    Record::QueueThreshold {
                        queue,
                        metric,
                        raised,
                        value,
                        limit,
                        ..
                    } => format!(
                        "store threshold {queue} {} {} value={value} limit={limit}",
                        metric.as_str(),
                        if raised { "raised" } else { "cleared" }
                    ),
                },
                Effect::Http(request) => format!(
                    "http {:?} {} {}",
                    request.method,
                    request.url,
                    request.body.unwrap_or_default()
                ),
                Effect::SetTimer { at, timer } => {
                    self.timers.push((at, timer.clone()));
                    match timer {
                        Timer::WrapUpEnds { agent, .. } => {
                            format!("timer {at} wrap-up of {agent} ends")
                        }
                        Timer::BackoffEnds { agent, .. } => {
                            format!("timer {at} back-off of {agent} ends")
                        }
                        Timer::RingTimeout { leg } => {
                            format!("timer {at} ring timeout {}", self.name(leg.as_str()))
                        }
                        Timer::Escalate { step, .. } => {
                            format!("timer {at} escalate to step {}", step + 1)
                        }
                        Timer::MaxWait { .. } => format!("timer {at} max wait"),
                        Timer::RingMore { .. } => format!("timer {at} ring one more"),
                        Timer::Announce { .. } => format!("timer {at} announce"),
                        Timer::CallbackConfirm { .. } => format!("timer {at} callback confirm"),
                        Timer::CallbackRetry { attempt, .. } => {
                            format!("timer {at} callback retry after attempt {attempt}")
                        }
                        Timer::WhisperEnds { .. } => format!("timer {at} whisper ends"),
                        Timer::Thresholds => format!("timer {at} thresholds"),
                        Timer::RecordingAutoResume { .. } => {
                            format!("timer {at} recording auto-resume")
                        }
                        Timer::RecordingBeep { .. } => format!("timer {at} recording beep"),
                        Timer::Flow { channel, .. } => {
                            format!("timer {at} flow waits on {}", self.name(channel.as_str()))
                        }
                    }
                }
            };
            if !line.is_empty() {
                self.trace.push(format!("  {line}"));
            }
        }
    }

    /// The one call in progress, in scenarios with a single caller.
    fn only_call(&self) -> CallId {
        *self.engine.calls.keys().next().expect("a call in progress")
    }

    /// `agent` goes available at 0, caller 1 enters `queue` at 100 and `agent` answers it at
    /// 1,000: the connected call most call-control scenarios start from.
    fn talking(&mut self, agent: &str, queue: &str) {
        self.set_state(0, agent, RequestedState::Available);
        self.enqueue(100, 1, queue, 0, "");
        self.answer(1_000, agent);
    }

    fn available(&mut self, at: i64, agent: &str) {
        let effects = self
            .engine
            .set_agent_state(
                ts(at),
                &AgentId::new(agent).expect("id"),
                RequestedState::Available,
            )
            .expect("allowed");
        self.record(at, &format!("{agent} available"), effects);
    }

    fn park(&mut self, at: i64, channel: u32, caller: &str) {
        let effects = self.engine.handle(
            ts(at),
            Input::CallParked(ParkedCall {
                switch: sw(),
                channel: chan(channel),
                queue: QueueId::new("support").expect("id"),
                caller_number: caller.into(),
                caller_name: format!("Caller {caller}"),
                destination: "5000".into(),
                priority: 0,
                skills: Vec::new(),
            }),
        );
        self.record(at, &format!("chan{channel} parked"), effects);
    }

    fn leg(&self, n: usize) -> ChannelId {
        self.legs[n - 1].clone()
    }

    fn answer_leg(&mut self, at: i64, n: usize) {
        let channel = self.leg(n);
        let effects = self.engine.handle(
            ts(at),
            Input::ChannelAnswered {
                switch: sw(),
                channel,
            },
        );
        self.record(at, &format!("leg {n} answered"), effects);
    }

    fn hangup(&mut self, at: i64, channel: ChannelId, cause: &str) {
        let label = format!("{} hung up {cause}", self.name(channel.as_str()));
        let effects = self.engine.handle(
            ts(at),
            Input::ChannelHungUp {
                switch: sw(),
                channel,
                cause: cause.into(),
            },
        );
        self.record(at, &label, effects);
    }

    /// The switch's BACKGROUND_JOB `-ERR <cause>` for the n-th leg's originate.
    fn originate_failed(&mut self, at: i64, n: usize, cause: &str) {
        let label = format!("originate of leg {n} failed {cause}");
        let effects = self.engine.handle(
            ts(at),
            Input::OriginateFailed {
                switch: sw(),
                leg: self.leg(n),
                cause: cause.into(),
            },
        );
        self.record(at, &label, effects);
    }

    fn timer(&mut self, at: i64, timer: Timer) {
        let effects = self.engine.handle(ts(at), Input::TimerFired(timer));
        self.record(at, "timer fired", effects);
    }

    fn check(&self, expected: Expect) {
        expected.assert_eq(&(self.trace.join("\n") + "\n"));
    }
}

#[test]
fn a_call_reaches_an_available_agent_and_is_bridged_then_wraps_up() {
    let mut b = Bench::new(&["1001"], 5000);
    b.available(0, "1001");
    b.park(100, 1, "4930123");
    b.answer_leg(300, 1);
    b.hangup(10_300, b.leg(1), "NORMAL_CLEARING");
    let epoch = b.engine.agents[&AgentId::new("1001").expect("id")].epoch;
    b.timer(
        15_300,
        Timer::WrapUpEnds {
            agent: AgentId::new("1001").expect("id"),
            epoch,
        },
    );
    b.check(expect![[r#"
        @0 1001 available
          store agent 1001 logged_out -> available
        @100 chan1 parked
          store call entered support from 4930123
          store queue enter - priority=0
          store agent 1001 available -> offered
          store queue offer 1001 leg=id1
          originate id1 to 1001 via user/1001
          timer 25100ms ring timeout id1
          answer chan1
          hold chan1 local_stream://moh
        @300 leg 1 answered
          break chan1
          bridge chan1 id1
          store call answered by 1001 after 200ms
          store queue connect 1001 wait_ms=200
          store agent 1001 offered -> on_call
        @10300 id1 hung up NORMAL_CLEARING
          store queue complete 1001 by=agent talk_ms=10000
          store call ended completed NORMAL_CLEARING talk=Some(10000)
          store agent 1001 on_call -> wrap_up
          timer 15300ms wrap-up of 1001 ends
        @15300 timer fired
          store agent 1001 wrap_up -> available
    "#]]);
}

#[test]
fn a_busy_agent_is_skipped_and_the_next_one_gets_the_call() {
    let mut b = Bench::new(&["1001", "1002"], 0);
    b.available(0, "1001");
    b.available(10, "1002");
    b.park(100, 1, "111");
    b.hangup(150, b.leg(1), "USER_BUSY");
    b.answer_leg(400, 2);
    b.check(expect![[r#"
        @0 1001 available
          store agent 1001 logged_out -> available
        @10 1002 available
          store agent 1002 logged_out -> available
        @100 chan1 parked
          store call entered support from 111
          store queue enter - priority=0
          store agent 1001 available -> offered
          store queue offer 1001 leg=id1
          originate id1 to 1001 via user/1001
          timer 25100ms ring timeout id1
          answer chan1
          hold chan1 local_stream://moh
        @150 id1 hung up USER_BUSY
          store queue ring_no_answer 1001 USER_BUSY
          store agent 1001 offered -> available
          timer 10150ms back-off of 1001 ends
          store agent 1002 available -> offered
          store queue offer 1002 leg=id2
          originate id2 to 1002 via user/1002
          timer 25150ms ring timeout id2
        @400 leg 2 answered
          break chan1
          bridge chan1 id2
          store call answered by 1002 after 300ms
          store queue connect 1002 wait_ms=300
          store agent 1002 offered -> on_call
    "#]]);
}

#[test]
fn a_waiting_caller_is_routed_the_moment_an_agent_becomes_available() {
    let mut b = Bench::new(&["1001"], 0);
    b.park(100, 1, "111");
    b.available(2_000, "1001");
    b.check(expect![[r#"
        @100 chan1 parked
          store call entered support from 111
          store queue enter - priority=0
          answer chan1
          hold chan1 local_stream://moh
        @2000 1001 available
          store agent 1001 logged_out -> available
          store agent 1001 available -> offered
          store queue offer 1001 leg=id1
          originate id1 to 1001 via user/1001
          timer 27000ms ring timeout id1
    "#]]);
}

#[test]
fn a_caller_hanging_up_while_waiting_is_an_abandon() {
    let mut b = Bench::new(&["1001"], 0);
    b.park(100, 1, "111");
    b.hangup(3_100, chan(1), "ORIGINATOR_CANCEL");
    assert_eq!(b.engine.counters().abandoned, 1);
    assert!(b
        .engine
        .pools
        .iter()
        .flatten()
        .all(|p| p.waiting.is_empty()));
    b.check(expect![[r#"
        @100 chan1 parked
          store call entered support from 111
          store queue enter - priority=0
          answer chan1
          hold chan1 local_stream://moh
        @3100 chan1 hung up ORIGINATOR_CANCEL
          store queue abandon - wait_ms=3000
          store call ended abandoned ORIGINATOR_CANCEL talk=None
    "#]]);
}

#[test]
fn caller_hangup_while_agent_rings_cancels_the_agent_leg_and_frees_the_agent() {
    let mut b = Bench::new(&["1001"], 0);
    b.available(0, "1001");
    b.park(100, 1, "111");
    b.hangup(2_000, chan(1), "NORMAL_CLEARING");
    // The switch then reports the cancelled leg; it changes nothing.
    b.hangup(2_010, b.leg(1), "ORIGINATOR_CANCEL");
    b.check(expect![[r#"
        @0 1001 available
          store agent 1001 logged_out -> available
        @100 chan1 parked
          store call entered support from 111
          store queue enter - priority=0
          store agent 1001 available -> offered
          store queue offer 1001 leg=id1
          originate id1 to 1001 via user/1001
          timer 25100ms ring timeout id1
          answer chan1
          hold chan1 local_stream://moh
        @2000 chan1 hung up NORMAL_CLEARING
          kill id1 ORIGINATOR_CANCEL
          store queue abandon - wait_ms=1900
          store call ended abandoned NORMAL_CLEARING talk=None
          store agent 1001 offered -> available
        @2010 id1 hung up ORIGINATOR_CANCEL
    "#]]);
}

#[test]
fn callers_are_served_in_arrival_order_and_agents_longest_idle_first() {
    let mut b = Bench::new(&["a", "b"], 0);
    b.park(10, 1, "first");
    b.park(20, 2, "second");
    b.available(30, "b");
    b.available(40, "a");
    let calls: Vec<_> = b
        .trace
        .iter()
        .filter(|l| l.contains("originate"))
        .cloned()
        .collect();
    assert_eq!(
        calls,
        [
            "  originate id1 to b via user/b",
            "  originate id2 to a via user/a"
        ]
    );
    let ringing_first = b
        .engine
        .calls
        .values()
        .find(|c| c.caller == chan(1))
        .map(|c| c.state.clone());
    assert!(
        matches!(ringing_first, Some(model::CallState::Ringing { rings, .. }) if rings[0].agent.as_str() == "b")
    );
}

#[test]
fn a_call_keeps_its_place_after_a_ring_no_answer() {
    let mut b = Bench::new(&["a"], 0);
    b.park(10, 1, "first");
    b.park(20, 2, "second");
    b.available(30, "a");
    b.hangup(60, b.leg(1), "NO_ANSWER");
    let epoch = b.engine.agents[&AgentId::new("a").expect("id")].epoch;
    b.timer(
        10_060,
        Timer::BackoffEnds {
            agent: AgentId::new("a").expect("id"),
            epoch,
        },
    );
    let last = b
        .trace
        .iter()
        .rev()
        .find(|l| l.contains("originate"))
        .cloned();
    assert_eq!(last.as_deref(), Some("  originate id2 to a via user/a"));
    // id2 is the second leg; the call it rings is still the first caller.
    let ringing = b
        .engine
        .calls
        .values()
        .find(|c| matches!(c.state, model::CallState::Ringing { .. }));
    assert_eq!(ringing.map(|c| c.caller.clone()), Some(chan(1)));
}

#[test]
fn a_stale_timer_changes_nothing() {
    let mut b = Bench::new(&["a"], 1000);
    b.available(0, "a");
    let effects = b.engine.handle(
        ts(5),
        Input::TimerFired(Timer::WrapUpEnds {
            agent: AgentId::new("a").expect("id"),
            epoch: 0,
        }),
    );
    assert!(effects.is_empty());
}

#[test]
fn logging_out_an_agent_on_a_call_is_refused() {
    let mut b = Bench::new(&["a"], 0);
    b.available(0, "a");
    b.park(10, 1, "x");
    b.answer_leg(20, 1);
    let refused = b.engine.set_agent_state(
        ts(30),
        &AgentId::new("a").expect("id"),
        RequestedState::LoggedOut,
    );
    assert!(matches!(refused, Err(CommandError::Conflict { .. })));
}

#[test]
fn resync_after_a_controller_restart_adopts_a_waiting_caller_with_its_original_place() {
    let mut b = Bench::new(&["a"], 0);
    let stored_call = CallId::from_uuid(uuid::Uuid::from_u128(42));
    let effects = b.engine.handle(
        ts(60_000),
        Input::SwitchResynced {
            switch: sw(),
            channels: vec![ChannelSnapshot {
                channel: chan(9),
                role: ChannelRole::Caller,
                answered: true,
                bridged_to: None,
                queue: Some(QueueId::new("support").expect("id")),
                agent: None,
                call: Some(stored_call),
                caller_number: "555".into(),
                caller_name: "Caller".into(),
                destination: "5000".into(),
                stored: Some(StoredCall {
                    call: stored_call,
                    entered_at: ts(1_000),
                    priority: 3,
                    answered_at: None,
                    place: None,
                    transferred: None,
                }),
                flow_entry: None,
                stored_flow: None,
            }],
        },
    );
    assert!(
        effects.is_empty(),
        "an answered, stored caller needs nothing: {effects:?}"
    );
    let call = &b.engine.calls[&stored_call];
    assert_eq!(call.wait_key.entered_at, ts(1_000));
    assert_eq!(call.wait_key.priority.0, 3);
    b.available(61_000, "a");
    assert!(b.trace.iter().any(|l| l.contains("originate")));
}

#[test]
fn resync_closes_calls_the_switch_no_longer_has_and_frees_their_agents() {
    let mut b = Bench::new(&["a"], 0);
    b.available(0, "a");
    b.park(10, 1, "x");
    b.answer_leg(20, 1);
    let effects = b.engine.handle(
        ts(5_000),
        Input::SwitchResynced {
            switch: sw(),
            channels: vec![],
        },
    );
    b.record(5_000, "resync: switch empty", effects);
    assert_eq!(b.engine.counters().lost, 1);
    assert!(b.engine.calls.is_empty());
    assert!(b.trace.iter().any(|l| l.contains("store call ended lost")));
    assert!(b.trace.iter().any(|l| l.contains("on_call -> available")));
}
