//! Property tests for conferences: random calls, parties added (in `stay` or `end` mode),
//! dropped, and hangups of any leg, against a small model of the switch (bridges as in
//! `properties_consult`; `uuid_transfer -both conference` takes the caller and its partner out
//! of their bridge into the conference without hanging anyone up; a conference member's
//! hangup touches no one else). After every step: a call is bridged to (or has on it) two
//! agents only when it is in a conference, and then every agent on it is its agent or a
//! joined party; a caller in a conference is bridged to no one; every offer is a ringing leg.
//! At the end every call has ended exactly once and no agent is left on a call or offered.

use std::collections::{HashMap, HashSet, VecDeque};

use proptest::prelude::{any, prop_oneof, proptest, ProptestConfig};
use proptest::strategy::Strategy as _;

use super::*;
use crate::engine::conference::{AgentLeaves, ConferenceAsked};
use crate::engine::hold::HoldBy;
use crate::engine::model::{AgentState, CallState};

#[derive(Debug, Clone)]
enum Op {
    Park,
    Answer(usize),
    RingFails(usize),
    HangUp(usize),
    Add(usize, usize, bool),
    Drop(usize, usize),
    Advance(i64),
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    prop_oneof![
        2 => proptest::strategy::Just(Op::Park),
        4 => any::<usize>().prop_map(Op::Answer),
        1 => any::<usize>().prop_map(Op::RingFails),
        2 => any::<usize>().prop_map(Op::HangUp),
        3 => (any::<usize>(), 0..AGENTS.len(), any::<bool>()).prop_map(|(c, a, e)| Op::Add(c, a, e)),
        2 => (any::<usize>(), 0..AGENTS.len()).prop_map(|(c, a)| Op::Drop(c, a)),
        1 => (0..30_000i64).prop_map(Op::Advance),
    ]
}

const AGENTS: [&str; 4] = ["a0", "a1", "a2", "a3"];

/// The engine and a model of the switch's legs and bridges.
struct World {
    engine: Engine,
    now: i64,
    next_channel: u32,
    timers: Vec<(Timestamp, Timer)>,
    alive: HashSet<ChannelId>,
    ringing: Vec<ChannelId>,
    callers: Vec<ChannelId>,
    partner: HashMap<ChannelId, ChannelId>,
    parks: HashSet<ChannelId>,
    /// Legs in a conference.
    in_conf: HashSet<ChannelId>,
    entered: HashSet<CallId>,
    ended: HashMap<CallId, usize>,
}

impl World {
    fn new() -> Self {
        let mut engine = Engine::new(5);
        engine.provision_queue(queue("q", QueueRouting::default()));
        for a in AGENTS {
            engine.provision_agent(ts(0), agent(a, &["q"], ""), AgentStatus::Available);
        }
        Self {
            engine,
            now: 0,
            next_channel: 1,
            timers: Vec::new(),
            alive: HashSet::new(),
            ringing: Vec::new(),
            callers: Vec::new(),
            partner: HashMap::new(),
            parks: HashSet::new(),
            in_conf: HashSet::new(),
            entered: HashSet::new(),
            ended: HashMap::new(),
        }
    }

    fn input(&mut self, input: Input) {
        let effects = self.engine.handle(ts(self.now), input);
        self.apply(effects);
    }

    fn apply(&mut self, effects: Vec<Effect>) {
        let mut gone = VecDeque::new();
        for effect in effects {
            match effect {
                Effect::Switch { command, .. } => match command {
                    SwitchCommand::Originate { leg, .. }
                    | SwitchCommand::ConferenceDial { leg, .. } => {
                        self.alive.insert(leg.clone());
                        self.ringing.push(leg);
                    }
                    SwitchCommand::ConferenceJoin { channel, .. } => {
                        if let Some(p) = self.partner.remove(&channel) {
                            self.partner.remove(&p);
                            self.in_conf.insert(p);
                        }
                        self.in_conf.insert(channel);
                    }
                    SwitchCommand::Bridge { caller, agent_leg } => {
                        self.bridge(caller, agent_leg, &mut gone)
                    }
                    SwitchCommand::ParkAfterBridge { channel } => {
                        self.parks.insert(channel);
                    }
                    SwitchCommand::SetParkAfterBridge { channel, on } => {
                        if on {
                            self.parks.insert(channel);
                        } else {
                            self.parks.remove(&channel);
                        }
                    }
                    SwitchCommand::Kill { channel, .. }
                    | SwitchCommand::Hangup { channel, .. }
                    | SwitchCommand::Transfer { channel, .. }
                    | SwitchCommand::Voicemail { channel, .. } => gone.push_back(channel),
                    _ => {}
                },
                Effect::Persist(Record::CallEntered { call, .. }) => {
                    assert!(self.entered.insert(call), "call {call} entered twice");
                }
                Effect::Persist(Record::CallEnded { call, .. }) => {
                    *self.ended.entry(call).or_default() += 1;
                    assert_eq!(self.ended[&call], 1, "call {call} ended twice");
                }
                Effect::SetTimer { at, timer } => self.timers.push((at, timer)),
                _ => {}
            }
        }
        while let Some(channel) = gone.pop_front() {
            self.hang_up(channel);
        }
    }

    /// `uuid_bridge <x> <y>`: each leg leaves the bridge it was in; a partner left alone
    /// parks (`park_after_bridge`) or hangs up.
    fn bridge(&mut self, x: ChannelId, y: ChannelId, gone: &mut VecDeque<ChannelId>) {
        if !self.alive.contains(&x) || !self.alive.contains(&y) || x == y {
            let failed = Input::CommandFailed {
                switch: sw(),
                command: SwitchCommand::Bridge {
                    caller: x,
                    agent_leg: y,
                },
                reply: "-ERR Invalid uuid".into(),
            };
            let effects = self.engine.handle(ts(self.now), failed);
            self.apply(effects);
            return;
        }
        if self.partner.get(&x) == Some(&y) {
            return;
        }
        for leg in [&x, &y] {
            if let Some(old) = self.partner.remove(leg) {
                self.partner.remove(&old);
                if !self.parks.contains(&old) {
                    gone.push_back(old);
                }
            }
        }
        self.ringing.retain(|l| *l != x && *l != y);
        self.partner.insert(x.clone(), y.clone());
        self.partner.insert(y, x);
    }

    /// A leg hangs up; its partner goes too unless it parks.
    fn hang_up(&mut self, channel: ChannelId) {
        if !self.alive.remove(&channel) {
            return;
        }
        self.ringing.retain(|l| *l != channel);
        self.callers.retain(|c| *c != channel);
        self.in_conf.remove(&channel);
        let partner = self.partner.remove(&channel);
        if let Some(p) = &partner {
            self.partner.remove(p);
        }
        self.input(Input::ChannelHungUp {
            switch: sw(),
            channel,
            cause: "NORMAL_CLEARING".into(),
        });
        if let Some(p) = partner {
            if !self.parks.contains(&p) {
                self.hang_up(p);
            }
        }
    }

    fn calls(&self) -> Vec<CallId> {
        let mut ids: Vec<CallId> = self.engine.calls.keys().copied().collect();
        ids.sort();
        ids
    }

    fn step(&mut self, op: Op) {
        self.now += 50;
        match op {
            Op::Park => {
                let channel = chan(self.next_channel);
                self.next_channel += 1;
                self.alive.insert(channel.clone());
                self.callers.push(channel.clone());
                self.input(Input::CallParked(ParkedCall {
                    switch: sw(),
                    channel,
                    queue: qid("q"),
                    caller_number: "4930".into(),
                    caller_name: "Caller".into(),
                    destination: "5000".into(),
                    priority: 0,
                    skills: Vec::new(),
                }));
            }
            Op::Answer(i) => {
                if let Some(leg) = pick(&self.ringing, i) {
                    self.ringing.retain(|l| *l != leg);
                    if self
                        .engine
                        .conference_legs()
                        .iter()
                        .any(|(_, _, l)| *l == leg)
                    {
                        self.in_conf.insert(leg.clone());
                    }
                    self.input(Input::ChannelAnswered {
                        switch: sw(),
                        channel: leg,
                    });
                }
            }
            Op::RingFails(i) => {
                if let Some(leg) = pick(&self.ringing, i) {
                    self.hang_up(leg);
                }
            }
            Op::HangUp(i) => {
                let mut legs: Vec<ChannelId> = self.alive.iter().cloned().collect();
                legs.sort();
                if let Some(leg) = pick(&legs, i) {
                    self.hang_up(leg);
                }
            }
            Op::Add(i, a, end) => {
                if let Some(call) = pick(&self.calls(), i) {
                    let asked = ConferenceAsked::Add {
                        agent: aid(AGENTS[a]),
                        agent_leaves: if end {
                            AgentLeaves::End
                        } else {
                            AgentLeaves::Stay
                        },
                    };
                    let by = HoldBy::Token("t".into());
                    if let Ok(effects) = self.engine.conference(ts(self.now), call, asked, by) {
                        self.apply(effects);
                    }
                }
            }
            Op::Drop(i, a) => {
                if let Some(call) = pick(&self.calls(), i) {
                    let asked = ConferenceAsked::Drop {
                        party: AGENTS[a].to_string(),
                    };
                    let by = HoldBy::Token("t".into());
                    if let Ok(effects) = self.engine.conference(ts(self.now), call, asked, by) {
                        self.apply(effects);
                    }
                }
            }
            Op::Advance(ms) => {
                self.now += ms;
                self.fire_due();
            }
        }
    }

    fn fire_due(&mut self) {
        loop {
            self.timers.sort_by_key(|(at, _)| *at);
            let Some(i) = self.timers.iter().position(|(at, _)| *at <= ts(self.now)) else {
                return;
            };
            let (_, timer) = self.timers.remove(i);
            self.input(Input::TimerFired(timer));
        }
    }

    fn check_invariants(&self) {
        let engine = &self.engine;
        let parties: HashMap<ChannelId, (CallId, AgentId)> = engine
            .conference_legs()
            .into_iter()
            .map(|(call, agent, leg)| (leg, (call, agent)))
            .collect();
        for call in engine.calls.values() {
            // A caller is bridged only to the leg of the agent the engine has on its call, and
            // to no one once in a conference.
            if let Some(p) = self.partner.get(&call.caller) {
                assert!(
                    !engine.in_conference(call.id),
                    "a caller in a conference still bridged"
                );
                match &call.state {
                    CallState::Bridged { leg, .. } => {
                        assert_eq!(p, leg, "caller bridged to another leg than its agent's")
                    }
                    other => panic!("caller bridged while {other:?}"),
                }
            }
            let on_call: Vec<&AgentId> = engine
                .agents
                .iter()
                .filter(|(_, a)| matches!(&a.state, AgentState::OnCall { call: c, .. } if *c == call.id))
                .map(|(id, _)| id)
                .collect();
            if on_call.len() > 1 {
                assert!(
                    engine.in_conference(call.id),
                    "{} agents on a call not in a conference",
                    on_call.len()
                );
            }
        }
        for (id, agent) in &engine.agents {
            match &agent.state {
                AgentState::Offered { call, leg } => {
                    let rings = matches!(
                        engine.calls.get(call).map(|c| &c.state),
                        Some(CallState::Ringing { rings, .. }) if rings.iter().any(|r| &r.leg == leg)
                    );
                    let party = parties.get(leg) == Some(&(*call, id.clone()));
                    assert!(rings || party, "{id} offered without a ringing leg");
                    assert!(self.alive.contains(leg), "{id} offered on a dead leg");
                }
                AgentState::OnCall { call, leg } => {
                    let bridged = matches!(
                        engine.calls.get(call).map(|c| &c.state),
                        Some(CallState::Bridged { agent, leg: l, .. }) if agent == id && l == leg
                    );
                    let party = parties.get(leg) == Some(&(*call, id.clone()));
                    assert!(bridged || party, "{id} on a call that is not its");
                }
                _ => {}
            }
        }
    }

    fn drain(&mut self) {
        for caller in self.callers.clone() {
            self.hang_up(caller);
        }
        let mut legs: Vec<ChannelId> = self.alive.iter().cloned().collect();
        legs.sort();
        for leg in legs {
            self.hang_up(leg);
        }
        self.now += 1_000_000;
        self.fire_due();
        assert!(self.engine.calls.is_empty(), "calls left");
        assert!(
            self.engine.conference_legs().is_empty(),
            "conference parties left"
        );
        for call in &self.entered {
            assert_eq!(
                self.ended.get(call),
                Some(&1),
                "call {call} did not end once"
            );
        }
        for (id, agent) in &self.engine.agents {
            assert!(
                !matches!(
                    agent.state,
                    AgentState::OnCall { .. } | AgentState::Offered { .. }
                ),
                "{id} left {:?}",
                agent.state
            );
        }
    }
}

fn pick<T: Clone>(items: &[T], i: usize) -> Option<T> {
    (!items.is_empty()).then(|| items[i % items.len()].clone())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn two_agents_share_a_call_only_in_a_conference_and_every_call_ends_once(
        ops in proptest::collection::vec(op(), 1..80),
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
