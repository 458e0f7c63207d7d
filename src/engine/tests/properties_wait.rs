//! Property tests: random event sequences against a small contact center, checking after every
//! step the promises routing makes (exclusive offers, one bridge per call, one end per call,
//! first come first served within a priority and a requirement, the pool invariant).

use std::collections::{BTreeMap, HashMap, HashSet};

use proptest::prelude::{any, prop_oneof, proptest, ProptestConfig};
use proptest::strategy::Strategy as _;

use super::*;
use crate::engine::model::{AgentState, CallState, LegOwner, PoolId, WaitKey};

#[derive(Debug, Clone)]
enum Op {
    Park {
        queue: usize,
        priority: i32,
        skills: usize,
    },
    Answer(usize),
    LegFails(usize, usize),
    CallerHangsUp(usize),
    AgentHangsUp(usize),
    Advance(i64),
    SetState(usize, usize),
    Priority(usize, i32),
    Key(usize, usize),
    InUse(usize),
    InUseEnds(usize),
    BridgeFails(usize),
    Resync(Option<usize>),
    LateAnswer(usize),
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    prop_oneof![
        3 => (0..3usize, 0..3i32, 0..3usize)
            .prop_map(|(queue, priority, skills)| Op::Park { queue, priority, skills }),
        3 => any::<usize>().prop_map(Op::Answer),
        1 => (any::<usize>(), 0..4usize).prop_map(|(i, c)| Op::LegFails(i, c)),
        1 => any::<usize>().prop_map(Op::CallerHangsUp),
        2 => any::<usize>().prop_map(Op::AgentHangsUp),
        2 => (0..40_000i64).prop_map(Op::Advance),
        1 => (0..6usize, 0..3usize).prop_map(|(a, s)| Op::SetState(a, s)),
        1 => (any::<usize>(), 0..4i32).prop_map(|(i, p)| Op::Priority(i, p)),
        3 => (any::<usize>(), 0..KEYS.len()).prop_map(|(i, k)| Op::Key(i, k)),
        1 => (0..6usize).prop_map(Op::InUse),
        1 => any::<usize>().prop_map(Op::InUseEnds),
        1 => any::<usize>().prop_map(Op::BridgeFails),
        1 => proptest::option::of(any::<usize>()).prop_map(Op::Resync),
        1 => any::<usize>().prop_map(Op::LateAnswer),
    ]
}

const KEYS: [char; 6] = ['9', '#', '*', '0', '1', '5'];
const AGENTS: [&str; 6] = ["a0", "a1", "a2", "a3", "a4", "a5"];
const QUEUES: [&str; 3] = ["q1", "q2", "q3"];
const CALLER_SKILLS: [&str; 3] = ["", "spanish:3", "french:5"];
const FAILURES: [&str; 4] = [
    "USER_BUSY",
    "NO_ANSWER",
    "CALL_REJECTED",
    "USER_NOT_REGISTERED",
];

/// The engine plus a crude switch: which legs exist, which timers are due, what was recorded.
struct World {
    engine: Engine,
    now: i64,
    next_channel: u32,
    timers: Vec<(Timestamp, Timer)>,
    callers: Vec<ChannelId>,
    ringing: Vec<ChannelId>,
    bridged: Vec<(ChannelId, ChannelId)>,
    entered: HashSet<CallId>,
    ended: HashMap<CallId, usize>,
    /// Channels busy elsewhere (not ours), by index.
    elsewhere: Vec<ChannelId>,
    /// Legs we originated: agent legs by agent, customer legs as None.
    originated: HashMap<ChannelId, Option<AgentId>>,
}

impl World {
    fn new(first_strategy: Strategy) -> Self {
        let mut engine = Engine::new(11);
        let step = |after: u64, require: &str, caller_skills| EscalationStep {
            after: Duration::from_secs(after),
            require: parse_skill_list(require).expect("skills"),
            caller_skills,
            ..EscalationStep::default()
        };
        engine.provision_queue(queue(
            "q1",
            QueueRouting {
                strategy: first_strategy,
                steps: vec![
                    step(0, "spanish:5", CallerSkills::Require),
                    step(20, "", CallerSkills::Ignore),
                ],
                max_wait: Some(Duration::from_secs(120)),
                on_max_wait: Some(Destination::Queue { queue: qid("q2") }),
                abandoned_resume: Some(Duration::from_secs(30)),
                max_no_answer: 3,
                callback: Some(CallbackSettings {
                    key: '9',
                    dial: "sofia/gateway/pstn/{number}".into(),
                    retries: 1,
                    retry_delay: Duration::from_secs(30),
                    ..CallbackSettings::default()
                }),
                announcements: Announcements {
                    every: Some(Duration::from_secs(15)),
                    prompt: Some("hold.wav".into()),
                    ..Announcements::default()
                },
                ..QueueRouting::default()
            },
        ));
        engine.provision_queue(queue(
            "q2",
            QueueRouting {
                strategy: Strategy::RingAll,
                weight: 2,
                ..QueueRouting::default()
            },
        ));
        engine.provision_queue(queue(
            "q3",
            QueueRouting {
                strategy: Strategy::RingProgressively,
                ring_progressively_every: Duration::from_secs(3),
                max_no_answer: 2,
                on_no_agents: Some(Destination::Hangup {
                    cause: "USER_BUSY".into(),
                }),
                exit_keys: vec![ExitKey {
                    digit: '0',
                    destination: Destination::Queue { queue: qid("q2") },
                }],
                callback: Some(CallbackSettings {
                    key: '9',
                    dial: "sofia/gateway/pstn/{number}".into(),
                    retries: 0,
                    ..CallbackSettings::default()
                }),
                ..QueueRouting::default()
            },
        ));
        let agents = [
            agent("a0", &["q1", "q2"], "spanish:7"),
            agent("a1", &["q1"], "spanish:4,french:6"),
            agent("a2", &["q2", "q3"], ""),
            agent("a3", &["q1", "q3"], "french:9"),
            agent("a4", &["q3"], "spanish:2"),
            agent("a5", &["q1", "q2", "q3"], "spanish:5,french:5"),
        ];
        for a in agents {
            engine.provision_agent(ts(0), a, AgentStatus::Available);
        }
        Self {
            engine,
            now: 0,
            next_channel: 1,
            timers: Vec::new(),
            callers: Vec::new(),
            ringing: Vec::new(),
            bridged: Vec::new(),
            entered: HashSet::new(),
            ended: HashMap::new(),
            elsewhere: Vec::new(),
            originated: HashMap::new(),
        }
    }

    fn input(&mut self, input: Input) {
        self.input_at(ts(self.now), input);
    }

    /// One engine input, checked for first-come-first-served on its own.
    fn input_at(&mut self, at: Timestamp, input: Input) {
        let before = self.waiting();
        let trace = std::env::var("TRACE").is_ok();
        if trace {
            eprintln!("@{} {:?}", at.as_millis(), input);
        }
        let effects = self.engine.handle(at, input);
        if trace {
            for e in &effects {
                eprintln!("    {e:?}");
            }
        }
        self.check_first_come_first_served(&before);
        self.apply(effects);
    }

    /// Plays the switch's part: new legs ring, killed channels hang up (reported back), a
    /// caller sent away leaves.
    fn apply(&mut self, effects: Vec<Effect>) {
        let mut gone = Vec::new();
        for effect in effects {
            match effect {
                Effect::Switch { command, .. } => match command {
                    SwitchCommand::Originate { leg, agent, .. } => {
                        self.originated.insert(leg.clone(), Some(agent));
                        self.ringing.push(leg)
                    }
                    SwitchCommand::Dial { leg, .. } => {
                        self.originated.insert(leg.clone(), None);
                        self.ringing.push(leg)
                    }
                    SwitchCommand::HangupAfterPrompts { channel } => {
                        gone.push((channel, "NORMAL_CLEARING".to_owned()))
                    }
                    SwitchCommand::Bridge { caller, agent_leg } => {
                        self.ringing.retain(|l| *l != agent_leg && *l != caller);
                        if !self.callers.contains(&caller) {
                            self.callers.push(caller.clone());
                        }
                        self.bridged.push((caller, agent_leg));
                    }
                    SwitchCommand::Kill { channel, cause } => {
                        gone.push((channel, cause.as_str().to_owned()))
                    }
                    SwitchCommand::Transfer { channel, .. }
                    | SwitchCommand::Voicemail { channel, .. } => {
                        gone.push((channel, "NORMAL_CLEARING".to_owned()))
                    }
                    SwitchCommand::Hangup { channel, cause } => gone.push((channel, cause)),
                    _ => {}
                },
                Effect::Persist(Record::CallEntered { call, .. }) => {
                    assert!(self.entered.insert(call), "call {call} entered twice");
                }
                Effect::Persist(Record::CallEnded { call, .. }) => {
                    *self.ended.entry(call).or_default() += 1;
                    assert_eq!(self.ended[&call], 1, "call {call} ended twice");
                }
                Effect::Persist(_) => {}
                Effect::SetTimer { at, timer } => self.timers.push((at, timer)),
                Effect::Http(_) => {}
            }
        }
        for (channel, cause) in gone {
            self.channel_gone(channel, &cause);
        }
    }

    fn channel_gone(&mut self, channel: ChannelId, cause: &str) {
        let known = self.ringing.contains(&channel)
            || self.callers.contains(&channel)
            || self
                .bridged
                .iter()
                .any(|(c, a)| *c == channel || *a == channel);
        if !known {
            return;
        }
        self.ringing.retain(|l| *l != channel);
        self.callers.retain(|c| *c != channel);
        // A bridged pair goes down together; the agent leg's hangup comes first.
        let pair = self
            .bridged
            .iter()
            .position(|(c, a)| *c == channel || *a == channel)
            .map(|i| self.bridged.remove(i));
        let channels = match pair {
            Some((caller, agent)) if agent == channel => vec![agent, caller],
            Some((caller, agent)) => vec![caller, agent],
            None => vec![channel],
        };
        for ch in channels {
            self.callers.retain(|c| *c != ch);
            self.input(Input::ChannelHungUp {
                switch: sw(),
                channel: ch,
                cause: cause.to_owned(),
            });
        }
    }

    fn step(&mut self, op: Op) {
        if std::env::var("TRACE").is_ok() {
            eprintln!("OP {op:?}");
        }
        self.now += 50;
        match op {
            Op::Park {
                queue,
                priority,
                skills,
            } => {
                let channel = chan(self.next_channel);
                // Few distinct numbers, so abandon-and-resume happens.
                let number = format!("4930{}", self.next_channel % 4);
                self.next_channel += 1;
                self.callers.push(channel.clone());
                self.input(Input::CallParked(ParkedCall {
                    switch: sw(),
                    channel,
                    queue: qid(QUEUES[queue]),
                    caller_number: number,
                    caller_name: "Caller".into(),
                    destination: "5000".into(),
                    priority,
                    skills: parse_skill_list(CALLER_SKILLS[skills]).expect("skills"),
                }));
            }
            Op::Answer(i) => {
                if let Some(leg) = pick(&self.ringing, i) {
                    self.input(Input::ChannelAnswered {
                        switch: sw(),
                        channel: leg,
                    });
                }
            }
            Op::LegFails(i, cause) => {
                if let Some(leg) = pick(&self.ringing, i) {
                    self.channel_gone(leg, FAILURES[cause]);
                }
            }
            Op::CallerHangsUp(i) => {
                if let Some(caller) = pick(&self.callers, i) {
                    self.channel_gone(caller, "NORMAL_CLEARING");
                }
            }
            Op::AgentHangsUp(i) => {
                let legs: Vec<ChannelId> = self.bridged.iter().map(|(_, a)| a.clone()).collect();
                if let Some(leg) = pick(&legs, i) {
                    self.channel_gone(leg, "NORMAL_CLEARING");
                }
            }
            Op::Key(i, k) => {
                if let Some(caller) = pick(&self.callers, i) {
                    self.input(Input::Dtmf {
                        switch: sw(),
                        channel: caller,
                        digit: KEYS[k],
                    });
                }
            }
            Op::InUse(a) => {
                let channel = chan(100_000 + self.next_channel);
                self.next_channel += 1;
                self.elsewhere.push(channel.clone());
                self.input(Input::ChannelInUse {
                    switch: sw(),
                    channel,
                    users: vec![AGENTS[a].to_owned()],
                });
            }
            Op::InUseEnds(i) => {
                if let Some(channel) = pick(&self.elsewhere, i) {
                    self.elsewhere.retain(|c| *c != channel);
                    self.input(Input::ChannelHungUp {
                        switch: sw(),
                        channel,
                        cause: "NORMAL_CLEARING".into(),
                    });
                }
            }
            Op::BridgeFails(i) => {
                if let Some((caller, agent_leg)) = pick(&self.bridged, i) {
                    self.bridged.retain(|(_, a)| *a != agent_leg);
                    self.ringing.push(agent_leg.clone());
                    let command = SwitchCommand::Bridge { caller, agent_leg };
                    let before = self.waiting();
                    let effects = self.engine.handle(
                        ts(self.now),
                        Input::CommandFailed {
                            switch: sw(),
                            command,
                            reply: "-ERR".into(),
                        },
                    );
                    self.check_first_come_first_served(&before);
                    self.apply(effects);
                }
            }
            Op::LateAnswer(i) => {
                // An answer event for any leg we ever originated (races with kills and timeouts).
                let mut all: Vec<ChannelId> = self.originated.keys().cloned().collect();
                all.sort();
                if let Some(leg) = pick(&all, i) {
                    self.input(Input::ChannelAnswered {
                        switch: sw(),
                        channel: leg,
                    });
                }
            }
            Op::Resync(lose) => {
                // A channel that went away while the link was down: gone without an event.
                let everything: Vec<ChannelId> = self
                    .callers
                    .iter()
                    .chain(self.ringing.iter())
                    .chain(self.bridged.iter().map(|(_, a)| a))
                    .cloned()
                    .collect();
                if let Some(gone) = lose.and_then(|i| pick(&everything, i)) {
                    self.callers.retain(|c| *c != gone);
                    self.ringing.retain(|c| *c != gone);
                    // Its bridged partner goes too.
                    if let Some(i) = self
                        .bridged
                        .iter()
                        .position(|(c, a)| *c == gone || *a == gone)
                    {
                        let (c, a) = self.bridged.remove(i);
                        self.callers.retain(|x| *x != c && *x != a);
                    }
                }
                let mut channels = Vec::new();
                let bridged_to = |ch: &ChannelId| {
                    self.bridged.iter().find_map(|(c, a)| {
                        if c == ch {
                            Some(a.clone())
                        } else if a == ch {
                            Some(c.clone())
                        } else {
                            None
                        }
                    })
                };
                let all: Vec<ChannelId> = self
                    .callers
                    .iter()
                    .chain(self.ringing.iter())
                    .chain(self.bridged.iter().map(|(_, a)| a))
                    .cloned()
                    .collect();
                for ch in all {
                    let answered = !self.ringing.contains(&ch);
                    let (role, agent) = match self.originated.get(&ch) {
                        Some(Some(agent)) => (ChannelRole::Agent, Some(agent.clone())),
                        _ => (ChannelRole::Caller, None),
                    };
                    let queue = self
                        .engine
                        .calls
                        .values()
                        .find(|c| c.caller == ch)
                        .map(|c| c.queue.clone())
                        .or(Some(qid("q1")));
                    channels.push(ChannelSnapshot {
                        channel: ch.clone(),
                        role,
                        answered,
                        bridged_to: bridged_to(&ch),
                        queue,
                        agent,
                        call: None,
                        caller_number: "493011".into(),
                        caller_name: String::new(),
                        destination: String::new(),
                        stored: None,
                        flow_entry: None,
                        stored_flow: None,
                    });
                }
                self.input(Input::SwitchResynced {
                    switch: sw(),
                    channels,
                });
            }
            Op::Advance(ms) => {
                self.now += ms;
                self.fire_due();
            }
            Op::SetState(agent, state) => {
                let requested = match state {
                    0 => RequestedState::Available,
                    1 => RequestedState::LoggedOut,
                    _ => RequestedState::Paused {
                        reason: "break".into(),
                    },
                };
                let before = self.waiting();
                if let Ok(effects) =
                    self.engine
                        .set_agent_state(ts(self.now), &aid(AGENTS[agent]), requested)
                {
                    self.check_first_come_first_served(&before);
                    self.apply(effects);
                }
            }
            Op::Priority(i, priority) => {
                let mut ids: Vec<CallId> = self.engine.calls.keys().copied().collect();
                ids.sort();
                if let Some(call) = pick(&ids, i) {
                    let update = CallUpdate {
                        priority: Some(priority),
                        skills: None,
                    };
                    if let Ok(effects) = self.engine.update_call(ts(self.now), call, update) {
                        self.apply(effects);
                    }
                }
            }
        }
    }

    fn fire_due(&mut self) {
        loop {
            self.timers.sort_by_key(|(at, _)| *at);
            match self.timers.first() {
                Some((at, _)) if at.as_millis() <= self.now => {
                    let (at, timer) = self.timers.remove(0);
                    self.input_at(at, Input::TimerFired(timer));
                }
                _ => return,
            }
        }
    }

    /// Waiting calls by key, to check nobody was overtaken by the next step.
    fn waiting(&self) -> BTreeMap<CallId, (PoolId, WaitKey)> {
        self.engine
            .calls
            .values()
            .filter(|c| c.state == CallState::Waiting)
            .filter(|c| {
                self.engine
                    .pool(c.pool)
                    .is_some_and(|p| p.waiting.contains(&c.wait_key))
            })
            .map(|c| (c.id, (c.pool, c.wait_key)))
            .collect()
    }

    fn check_invariants(&self) {
        let engine = &self.engine;
        let mut offers: HashMap<&AgentId, usize> = HashMap::new();
        for call in engine.calls.values() {
            match &call.state {
                CallState::Waiting if call.is_virtual() => {}
                CallState::Waiting => {
                    let pool = engine.pool(call.pool).expect("call's pool exists");
                    assert!(
                        pool.waiting.contains(&call.wait_key),
                        "waiting call not in its pool"
                    );
                }
                CallState::Ringing { rings, .. } => {
                    assert!(!rings.is_empty(), "a ringing call with no leg");
                    for ring in rings {
                        *offers.entry(&ring.agent).or_default() += 1;
                        let agent = &engine.agents[&ring.agent];
                        assert_eq!(
                            agent.state,
                            AgentState::Offered {
                                call: call.id,
                                leg: ring.leg.clone()
                            },
                            "agent {} rings for {} but is {:?}",
                            ring.agent,
                            call.id,
                            agent.state
                        );
                    }
                }
                CallState::CallingBack {
                    agent, agent_leg, ..
                } => {
                    assert_eq!(
                        engine.agents[agent].state,
                        AgentState::OnCall {
                            call: call.id,
                            leg: agent_leg.clone()
                        },
                        "calling back for an agent that is not on it"
                    );
                }
                CallState::Whispering { agent, leg, .. }
                | CallState::Bridged { agent, leg, .. } => {
                    assert_eq!(
                        engine.agents[agent].state,
                        AgentState::OnCall {
                            call: call.id,
                            leg: leg.clone()
                        },
                        "bridged call's agent is not on it"
                    );
                }
            }
        }
        for (agent, n) in offers {
            assert_eq!(n, 1, "agent {agent} holds {n} offers");
        }
        for (id, agent) in &engine.agents {
            match &agent.state {
                AgentState::Offered { call, .. } => assert!(
                    matches!(
                        engine.calls.get(call).map(|c| &c.state),
                        Some(CallState::Ringing { .. })
                    ),
                    "{id} offered a call that does not ring"
                ),
                AgentState::OnCall { call, .. } => assert!(
                    matches!(engine.calls.get(call).map(|c| &c.state), Some(CallState::Bridged { agent, .. } | CallState::Whispering { agent, .. } | CallState::CallingBack { agent, .. }) if agent == id),
                    "{id} on a call that is not bridged to it: {:?}",
                    engine.calls.get(call).map(|c| &c.state)
                ),
                AgentState::Available => {}
                _ => assert!(agent.idle.is_empty(), "{id} idle while {:?}", agent.state),
            }
        }
        for (id, agent) in &engine.agents {
            if agent.calls_elsewhere > 0 {
                assert!(agent.idle.is_empty(), "{id} idle while busy elsewhere");
            }
            if agent.state == AgentState::Available && agent.calls_elsewhere == 0 {
                let mut want = engine.pools_of(id);
                let mut have: Vec<PoolId> = agent.idle.iter().map(|(p, _)| *p).collect();
                want.sort();
                have.sort();
                assert_eq!(have, want, "{id} idle in the wrong pools");
            }
        }
        for (leg, owner) in &engine.legs {
            match owner {
                LegOwner::Caller(call) | LegOwner::Customer(call) => {
                    assert!(engine.calls.contains_key(call), "leg {leg} of a gone call")
                }
                // A callback's old caller hearing its confirmation; gone at its hangup.
                LegOwner::Retired(_) => {}
                LegOwner::Agent { call, agent } => {
                    let ok = match engine.calls.get(call).map(|c| &c.state) {
                        Some(CallState::Ringing { rings, .. }) => {
                            rings.iter().any(|r| &r.leg == leg)
                        }
                        Some(CallState::Bridged { leg: l, .. }) => l == leg,
                        Some(CallState::CallingBack { agent_leg, .. }) => agent_leg == leg,
                        _ => false,
                    };
                    assert!(ok, "stale agent leg {leg} of {agent}");
                }
            }
        }
        for pool in engine.pools.iter().flatten() {
            assert!(
                pool.idle.is_empty() || pool.waiting.is_empty(),
                "a pool of {} has idle agents and waiting calls",
                pool.queue
            );
            for key in &pool.waiting {
                assert!(
                    matches!(
                        engine.calls.get(&key.call).map(|c| &c.state),
                        Some(CallState::Waiting)
                    ),
                    "a pool lists a call that is not waiting"
                );
            }
        }
    }

    /// First come, first served: a call that left the waiting set for an agent had no
    /// better-placed call waiting in the same pool.
    fn check_first_come_first_served(&self, before: &BTreeMap<CallId, (PoolId, WaitKey)>) {
        let engine = &self.engine;
        let now = self.waiting();
        for (id, (pool, key)) in before {
            let offered = engine
                .calls
                .get(id)
                .is_some_and(|c| c.state != CallState::Waiting && c.pool == *pool);
            if !offered {
                continue;
            }
            for (other, (other_pool, other_key)) in &now {
                if other_pool == pool && before.contains_key(other) {
                    assert!(
                        other_key > key,
                        "call {other} waited ahead of {id} in the same pool and was overtaken"
                    );
                }
            }
        }
    }

    /// Everyone hangs up; every call that entered must have ended exactly once.
    fn drain(&mut self) {
        for caller in self.callers.clone() {
            self.channel_gone(caller, "NORMAL_CLEARING");
        }
        self.now += 1_000_000;
        self.fire_due();
        let left: Vec<_> = self
            .engine
            .calls
            .values()
            .filter(|c| !c.is_virtual())
            .map(|c| (c.id, c.state.clone()))
            .collect();
        assert!(left.is_empty(), "calls left: {left:?}");
        for call in self
            .entered
            .iter()
            .filter(|c| !self.engine.calls.contains_key(c))
        {
            assert_eq!(
                self.ended.get(call),
                Some(&1),
                "call {call} did not end once"
            );
        }
    }
}

fn pick<T: Clone>(items: &[T], i: usize) -> Option<T> {
    (!items.is_empty()).then(|| items[i % items.len()].clone())
}

fn run_ops(strategy: usize, ops: &[Op]) {
    let mut world = World::new(Strategy::ALL[strategy]);
    for op in ops {
        world.step(op.clone());
        world.check_invariants();
        super::publish::assert_published_is_rebuilt(
            &mut world.engine,
            Timestamp::from_millis(world.now),
        );
    }
    world.drain();
}

#[test]
#[ignore]
fn ddmin_replay() {
    use Op::*;
    let strategy = 4;
    let mut ops: Vec<Op> = vec![
        Park {
            queue: 0,
            priority: 1,
            skills: 1,
        },
        LegFails(6734329216298549337, 3),
        Answer(10904185115028728166),
        InUse(5),
        LateAnswer(16228207775943771837),
        LegFails(447477746903052515, 1),
        AgentHangsUp(5617678247994795541),
        AgentHangsUp(14569407414406887144),
        Advance(34789),
        Advance(16582),
        Key(6967014620585146938, 4),
        Priority(398731383008975299, 3),
        Answer(18302018074781843496),
        LegFails(9733700363725312887, 2),
        Park {
            queue: 2,
            priority: 1,
            skills: 2,
        },
        Key(11023597078709914172, 4),
        BridgeFails(7635192975977430431),
        Park {
            queue: 1,
            priority: 1,
            skills: 2,
        },
        Park {
            queue: 2,
            priority: 2,
            skills: 1,
        },
        Answer(12086858859865496819),
        Park {
            queue: 2,
            priority: 0,
            skills: 1,
        },
        Key(17248531897958892167, 3),
        Park {
            queue: 2,
            priority: 2,
            skills: 0,
        },
        Answer(12463114463742976056),
        Advance(9592),
        Key(11253556510625279036, 4),
        Park {
            queue: 2,
            priority: 0,
            skills: 0,
        },
        Key(129948914989153897, 3),
        InUse(1),
        Key(15076417727543525005, 1),
        Park {
            queue: 2,
            priority: 0,
            skills: 0,
        },
        Park {
            queue: 2,
            priority: 0,
            skills: 1,
        },
        Park {
            queue: 1,
            priority: 1,
            skills: 1,
        },
        AgentHangsUp(9207902018009889269),
        Resync(Some(15141187536431005287)),
        LegFails(1160084045598945103, 2),
        Park {
            queue: 1,
            priority: 0,
            skills: 0,
        },
        Answer(5727447370445007973),
        Resync(None),
        Key(15210380604277528542, 0),
        InUse(0),
        Park {
            queue: 2,
            priority: 1,
            skills: 1,
        },
        BridgeFails(892884171806918155),
        Answer(3917076392162758642),
        InUse(5),
        Answer(13602365210369873272),
        CallerHangsUp(1095475607305855201),
        Park {
            queue: 0,
            priority: 1,
            skills: 0,
        },
        SetState(5, 1),
        Park {
            queue: 2,
            priority: 2,
            skills: 0,
        },
        Resync(Some(13905204441960888482)),
        CallerHangsUp(9606802984658300008),
        Key(1210644756202834077, 3),
        Park {
            queue: 0,
            priority: 1,
            skills: 0,
        },
        Answer(13666812862136488958),
        Key(8202897784312993236, 4),
        Advance(37035),
        Answer(14440245796125601096),
        Park {
            queue: 2,
            priority: 2,
            skills: 2,
        },
        SetState(0, 2),
        Answer(8396804577330915699),
        Answer(8134517750135319755),
        Resync(Some(4953239880322972902)),
        Park {
            queue: 1,
            priority: 2,
            skills: 2,
        },
        Advance(38276),
        AgentHangsUp(15133145441490767182),
        BridgeFails(8266983103242161377),
        CallerHangsUp(12572709278093396592),
        InUse(0),
        Answer(12300072678992449929),
        Key(1786218837169899658, 2),
        LegFails(7798446640086323950, 3),
        BridgeFails(16138181615307286477),
        Priority(4553005431063210194, 3),
        BridgeFails(225901638746775517),
        SetState(3, 1),
        Advance(254),
        Answer(15935975133742693681),
        AgentHangsUp(1072228020913968245),
        Resync(Some(10234175918893488754)),
        Key(12515789221272299876, 4),
        Key(14557249385389741460, 5),
        AgentHangsUp(18392421752686869968),
        Advance(20206),
        LegFails(2460303547790575807, 0),
        Advance(33078),
        Advance(27041),
        LateAnswer(12879077694297672013),
        AgentHangsUp(11689622701376277258),
        Priority(10101480223750046991, 2),
        LegFails(1581244426493810942, 0),
        LegFails(6327438414748472774, 0),
        InUseEnds(2942978119780494436),
        Resync(None),
        Park {
            queue: 2,
            priority: 0,
            skills: 2,
        },
        Resync(Some(10615941731415578350)),
        AgentHangsUp(3393677377320302442),
        Answer(16989595702176900849),
        AgentHangsUp(15238781389992160516),
        InUseEnds(4689491835888144650),
        Advance(14977),
        SetState(5, 2),
        SetState(2, 1),
        InUseEnds(10706455994957959162),
        Key(14656864782798939904, 4),
        Answer(17066012869243385727),
        InUseEnds(10949046243892506014),
        Answer(2154804608914630905),
        SetState(5, 2),
    ];
    std::panic::set_hook(Box::new(|_| {}));
    let fails = |ops: &[Op]| std::panic::catch_unwind(|| run_ops(strategy, ops)).is_err();
    assert!(fails(&ops));
    let mut changed = true;
    while changed {
        changed = false;
        let mut i = 0;
        while i < ops.len() {
            let mut candidate = ops.clone();
            candidate.remove(i);
            if fails(&candidate) {
                ops = candidate;
                changed = true;
            } else {
                i += 1;
            }
        }
    }
    let _ = std::panic::take_hook();
    eprintln!("MINIMAL {} ops: {ops:?}", ops.len());
    std::env::set_var("TRACE", "1");
    run_ops(strategy, &ops);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256), ..ProptestConfig::default() })]

    #[test]
    fn routing_keeps_its_promises_with_keys_callbacks_and_calls_elsewhere(
        strategy in 0..Strategy::ALL.len(),
        ops in proptest::collection::vec(op(), 1..120),
    ) {
        let mut world = World::new(Strategy::ALL[strategy]);
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
