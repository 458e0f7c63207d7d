//! Property test for supervisor monitoring: random calls, answers, hangups and monitoring
//! requests (start in any mode with a supervisor's own phone or an agent's, the supervisor's
//! answer, hangup or failed originate, mode changes, ends, take overs), checking after every
//! step that monitoring never changes who handles a call (a take over moves its own call from
//! its agent and no other), that its kills only ever hit supervisors'
//! legs, that an agent is never offered a call while its phone is monitoring, that each
//! session starts and ends at most once in the history, and that every call ends once.

use std::collections::{HashMap, HashSet};

use proptest::prelude::{any, prop_oneof, proptest, ProptestConfig};
use proptest::strategy::Strategy as _;

use super::*;
use crate::engine::model::CallState;
use crate::engine::monitor::{MonitorEventKind, MonitorMode, MonitorRequest};
use crate::engine::MonitorId;

#[derive(Debug, Clone)]
enum Op {
    Park,
    Answer(usize),
    CallerHangsUp(usize),
    AgentHangsUp(usize),
    Advance(i64),
    /// Call, mode, phone (0: the supervisor's own, 1..: an agent's).
    Start(usize, usize, usize),
    SupervisorAnswers(usize),
    SupervisorHangsUp(usize),
    SupervisorFails(usize),
    Mode(usize, usize),
    End(usize),
    /// The supervisor takes the call over; the switch then hangs the agent's leg up.
    TakeOver(usize),
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    prop_oneof![
        2 => proptest::strategy::Just(Op::Park),
        3 => any::<usize>().prop_map(Op::Answer),
        1 => any::<usize>().prop_map(Op::CallerHangsUp),
        1 => any::<usize>().prop_map(Op::AgentHangsUp),
        1 => (0..30_000i64).prop_map(Op::Advance),
        3 => (any::<usize>(), 0..3usize, 0..4usize).prop_map(|(c, m, p)| Op::Start(c, m, p)),
        3 => any::<usize>().prop_map(Op::SupervisorAnswers),
        1 => any::<usize>().prop_map(Op::SupervisorHangsUp),
        1 => any::<usize>().prop_map(Op::SupervisorFails),
        2 => (any::<usize>(), 0..3usize).prop_map(|(i, m)| Op::Mode(i, m)),
        1 => any::<usize>().prop_map(Op::End),
        1 => any::<usize>().prop_map(Op::TakeOver),
    ]
}

const AGENTS: [&str; 3] = ["a0", "a1", "a2"];

struct World {
    engine: Engine,
    now: i64,
    next_channel: u32,
    timers: Vec<(Timestamp, Timer)>,
    callers: Vec<ChannelId>,
    /// Agent legs ringing, by agent.
    ringing: Vec<(ChannelId, AgentId)>,
    /// Agent legs answered, by agent.
    agent_legs: Vec<(ChannelId, AgentId)>,
    /// Supervisor legs asked for, with the agent whose phone they ring (if any).
    supervisors: Vec<(MonitorId, Option<AgentId>)>,
    answered_supervisors: HashSet<MonitorId>,
    /// Supervisors' legs that took a call over: no longer sessions, still up.
    took_over: Vec<ChannelId>,
    started: HashMap<MonitorId, usize>,
    ended_sessions: HashMap<MonitorId, usize>,
    ended_calls: HashMap<CallId, usize>,
}

impl World {
    fn new() -> Self {
        let mut engine = Engine::new(5);
        engine.provision_queue(queue(
            "q1",
            QueueRouting {
                monitor_notice: Some("tone_stream://%(500,0,440)".into()),
                ..QueueRouting::default()
            },
        ));
        let mut world = World {
            engine,
            now: 0,
            next_channel: 1,
            timers: Vec::new(),
            callers: Vec::new(),
            ringing: Vec::new(),
            agent_legs: Vec::new(),
            supervisors: Vec::new(),
            answered_supervisors: HashSet::new(),
            took_over: Vec::new(),
            started: HashMap::new(),
            ended_sessions: HashMap::new(),
            ended_calls: HashMap::new(),
        };
        for a in AGENTS {
            let effects =
                world
                    .engine
                    .provision_agent(ts(0), agent(a, &["q1"], ""), AgentStatus::Available);
            world.absorb(effects);
        }
        world
    }

    fn absorb(&mut self, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::Switch {
                    command: SwitchCommand::Originate { leg, agent, .. },
                    ..
                } => {
                    // Never offered while its phone is a supervisor's leg that is up.
                    let busy = self
                        .supervisors
                        .iter()
                        .any(|(_, a)| a.as_ref() == Some(&agent));
                    assert!(!busy, "agent {agent} offered a call while monitoring");
                    self.ringing.push((leg, agent));
                }
                Effect::Switch {
                    command: SwitchCommand::Kill { channel, .. },
                    ..
                } if self.callers.contains(&channel)
                    || self.agent_legs.iter().any(|(l, _)| *l == channel) =>
                {
                    // Kills of agent legs that lost a race are the engine's own business;
                    // monitoring's kills are checked in `monitor`.
                }
                Effect::SetTimer { at, timer } => self.timers.push((at, timer)),
                Effect::Persist(Record::CallEnded { call, .. }) => {
                    *self.ended_calls.entry(call).or_default() += 1;
                }
                Effect::Persist(Record::Monitor { monitor, kind, .. }) => match kind {
                    MonitorEventKind::Started => *self.started.entry(monitor).or_default() += 1,
                    MonitorEventKind::Ended => {
                        assert!(
                            self.started.contains_key(&monitor),
                            "session {monitor} ended without starting"
                        );
                        *self.ended_sessions.entry(monitor).or_default() += 1
                    }
                    MonitorEventKind::ModeChanged => {
                        assert!(self.started.contains_key(&monitor));
                    }
                },
                _ => {}
            }
        }
    }

    fn handle(&mut self, input: Input) {
        let effects = self.engine.handle(ts(self.now), input);
        self.absorb(effects);
    }

    fn handlers(&self) -> HashMap<CallId, (AgentId, ChannelId)> {
        self.engine
            .calls
            .values()
            .filter_map(|c| match &c.state {
                CallState::Bridged { agent, leg, .. } => Some((c.id, (agent.clone(), leg.clone()))),
                _ => None,
            })
            .collect()
    }

    /// A monitoring request: whatever it does, every connected call keeps its agent and
    /// leg, and the only leg it may hang up is a supervisor's.
    fn monitor(&mut self, request: MonitorRequest) -> Option<MonitorId> {
        let before = self.handlers();
        let result = self.engine.monitor(ts(self.now), request);
        let after = self.handlers();
        assert_eq!(
            before, after,
            "a monitoring request changed who handles a call"
        );
        let (view, effects) = result.ok()?;
        for e in &effects {
            if let Effect::Switch { command, .. } = e {
                match command {
                    SwitchCommand::Kill { channel, .. } => assert!(
                        self.supervisors
                            .iter()
                            .any(|(id, _)| ChannelId::from_uuid(id.as_uuid()) == *channel),
                        "monitoring hung up {channel}, not a supervisor's leg"
                    ),
                    SwitchCommand::Monitor { .. } | SwitchCommand::MonitorKey { .. } => {}
                    // A take over bridges a caller to the session's own leg, nothing else.
                    SwitchCommand::TakeOver { caller, leg } => {
                        assert_eq!(*leg, ChannelId::from_uuid(view.id.as_uuid()));
                        assert!(self.callers.contains(caller), "took over {caller}");
                    }
                    other => panic!("monitoring sent {other:?}"),
                }
            }
        }
        self.absorb(effects);
        Some(view.id)
    }

    fn supervisor_leg(&self, i: usize) -> Option<(MonitorId, ChannelId)> {
        let (id, _) = self
            .supervisors
            .get(i % self.supervisors.len().max(1))?
            .clone();
        Some((id, ChannelId::from_uuid(id.as_uuid())))
    }

    fn supervisor_gone(&mut self, id: MonitorId) {
        self.supervisors.retain(|(s, _)| *s != id);
        self.answered_supervisors.remove(&id);
    }

    fn step(&mut self, op: Op) {
        match op {
            Op::Park => {
                let channel = chan(self.next_channel);
                self.next_channel += 1;
                self.callers.push(channel.clone());
                self.handle(Input::CallParked(ParkedCall {
                    switch: sw(),
                    channel,
                    queue: qid("q1"),
                    caller_number: "100".into(),
                    caller_name: String::new(),
                    destination: "5000".into(),
                    priority: 0,
                    skills: Vec::new(),
                }));
            }
            Op::Answer(i) if !self.ringing.is_empty() => {
                let (leg, agent) = self.ringing.remove(i % self.ringing.len());
                self.agent_legs.push((leg.clone(), agent));
                self.handle(Input::ChannelAnswered {
                    switch: sw(),
                    channel: leg,
                });
            }
            Op::CallerHangsUp(i) if !self.callers.is_empty() => {
                let channel = self.callers.remove(i % self.callers.len());
                self.handle(Input::ChannelHungUp {
                    switch: sw(),
                    channel,
                    cause: "NORMAL_CLEARING".into(),
                });
            }
            Op::AgentHangsUp(i) if !self.agent_legs.is_empty() => {
                let (channel, _) = self.agent_legs.remove(i % self.agent_legs.len());
                self.handle(Input::ChannelHungUp {
                    switch: sw(),
                    channel,
                    cause: "NORMAL_CLEARING".into(),
                });
            }
            Op::Advance(ms) => {
                self.now += ms;
                let now = ts(self.now);
                let (due, later): (Vec<_>, Vec<_>) =
                    self.timers.drain(..).partition(|(at, _)| *at <= now);
                self.timers = later;
                for (_, timer) in due {
                    self.handle(Input::TimerFired(timer));
                }
            }
            Op::Start(c, m, p) => {
                let calls: Vec<CallId> = {
                    let mut ids: Vec<CallId> = self.engine.calls.keys().copied().collect();
                    ids.sort();
                    ids
                };
                let Some(call) = (!calls.is_empty()).then(|| calls[c % calls.len()]) else {
                    return;
                };
                let (phone, agent) = match p {
                    0 => ("user/sup".to_owned(), None),
                    n => {
                        let a = AGENTS[(n - 1) % AGENTS.len()];
                        (format!("user/{a}"), Some(aid(a)))
                    }
                };
                if let Some(id) = self.monitor(MonitorRequest::Start {
                    call,
                    mode: MonitorMode::ALL[m],
                    supervisor: "sup".into(),
                    phone,
                }) {
                    self.supervisors.push((id, agent));
                }
            }
            Op::SupervisorAnswers(i) => {
                if let Some((id, leg)) = self.supervisor_leg(i) {
                    self.answered_supervisors.insert(id);
                    self.handle(Input::ChannelAnswered {
                        switch: sw(),
                        channel: leg,
                    });
                }
            }
            Op::SupervisorHangsUp(i) => {
                if let Some((id, leg)) = self.supervisor_leg(i) {
                    self.supervisor_gone(id);
                    self.handle(Input::ChannelHungUp {
                        switch: sw(),
                        channel: leg,
                        cause: "NORMAL_CLEARING".into(),
                    });
                }
            }
            Op::SupervisorFails(i) => {
                if let Some((id, leg)) = self.supervisor_leg(i) {
                    if !self.answered_supervisors.contains(&id) {
                        self.supervisor_gone(id);
                        self.handle(Input::OriginateFailed {
                            switch: sw(),
                            leg,
                            cause: "USER_BUSY".into(),
                        });
                    }
                }
            }
            Op::Mode(i, m) => {
                if let Some((monitor, _)) = self.supervisor_leg(i) {
                    self.monitor(MonitorRequest::Mode {
                        monitor,
                        mode: MonitorMode::ALL[m],
                    });
                }
            }
            Op::TakeOver(i) => {
                let Some((monitor, leg)) = self.supervisor_leg(i) else {
                    return;
                };
                let before = self.handlers();
                let Some(call) = self
                    .engine
                    .monitor_views()
                    .into_iter()
                    .find(|v| v.id == monitor)
                    .map(|v| v.call)
                else {
                    return;
                };
                if self.monitor(MonitorRequest::TakeOver { monitor }).is_none() {
                    return;
                }
                // The switch: the agent's leg loses its partner and hangs up.
                let Some((_, agent_leg)) = before.get(&call).cloned() else {
                    panic!("took over call {call}, which was not connected");
                };
                self.agent_legs.retain(|(l, _)| *l != agent_leg);
                self.handle(Input::ChannelHungUp {
                    switch: sw(),
                    channel: agent_leg,
                    cause: "NORMAL_CLEARING".into(),
                });
                let after = self.handlers();
                assert!(
                    !after.contains_key(&call),
                    "call {call} still with its agent"
                );
                for (other, handler) in &before {
                    if *other != call {
                        assert_eq!(after.get(other), Some(handler), "a take over moved {other}");
                    }
                }
                self.supervisor_gone(monitor);
                self.took_over.push(leg);
            }
            Op::End(i) => {
                if let Some((monitor, _)) = self.supervisor_leg(i) {
                    self.monitor(MonitorRequest::End { monitor });
                }
            }
            _ => {}
        }
    }

    fn check_invariants(&self) {
        for (call, n) in &self.ended_calls {
            assert_eq!(*n, 1, "call {call} ended {n} times");
        }
        for (id, n) in &self.started {
            assert_eq!(*n, 1, "session {id} started {n} times");
        }
        for (id, n) in &self.ended_sessions {
            assert_eq!(*n, 1, "session {id} ended {n} times");
        }
        // Sessions the engine keeps are exactly the legs still up.
        let kept: HashSet<MonitorId> = self.engine.monitor_views().iter().map(|v| v.id).collect();
        let up: HashSet<MonitorId> = self.supervisors.iter().map(|(id, _)| *id).collect();
        assert_eq!(kept, up);
    }

    /// Every supervisor's leg hangs up: every session that started has ended.
    fn drain(&mut self) {
        for leg in std::mem::take(&mut self.took_over) {
            self.handle(Input::ChannelHungUp {
                switch: sw(),
                channel: leg,
                cause: "NORMAL_CLEARING".into(),
            });
        }
        while let Some((id, _)) = self.supervisors.first().cloned() {
            self.supervisor_gone(id);
            self.handle(Input::ChannelHungUp {
                switch: sw(),
                channel: ChannelId::from_uuid(id.as_uuid()),
                cause: "NORMAL_CLEARING".into(),
            });
        }
        for id in self.started.keys() {
            assert_eq!(
                self.ended_sessions.get(id),
                Some(&1),
                "session {id} never ended"
            );
        }
        assert!(self.engine.monitor_views().is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn monitoring_never_changes_who_handles_a_call(
        ops in proptest::collection::vec(op(), 1..100),
    ) {
        let mut world = World::new();
        for op in ops {
            world.step(op);
            world.check_invariants();
            super::publish::assert_published_is_rebuilt(
                &mut world.engine,
                Timestamp::from_millis(world.now),
            );
        }
        world.drain();
    }
}
