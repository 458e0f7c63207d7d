//! Property tests: random event sequences against a small contact center, checking after every
//! step the promises routing makes (exclusive offers, one bridge per call, one end per call,
//! first come first served within a priority and a requirement, the pool invariant).

use std::collections::{BTreeMap, HashMap, HashSet};

use proptest::prelude::{any, prop_oneof, proptest, ProptestConfig};
use proptest::strategy::Strategy as _;

use super::*;
use crate::engine::model::{AgentState, CallState, PoolId, WaitKey};

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
    /// The agent is removed (when it may be) and provisioned again, as over the REST API.
    Reprovision(usize),
    /// An application finishes: 0 the whisper on an agent leg, 1 that leg's `park`, 2 a
    /// caller's hold music.
    MediaDone(usize, usize),
    /// The switch's late `-ERR ORIGINATOR_CANCEL` for an answered leg that was bridged before
    /// its originate returned: the leg talks on.
    LateOriginatorCancel(usize),
    /// A bridged agent's phone blind-transfers the caller: out of our queues (0), or to a
    /// queue's entry point, where the switch parks the same caller again (1 + queue).
    PhoneTransfers(usize, usize),
    /// A REST request on a call (see `redirect`): 0 hang up, 1-2 transfer to a queue (keeping
    /// the place or not), 3 transfer to an agent, 4 transfer to an extension, 5 move, 6 offer to
    /// an agent, 7 remove; the last number picks the target queue or agent.
    Redirect(usize, usize, usize),
    /// A queue is changed while callers wait, as over the REST API (`PUT /v1/queues/{id}`):
    /// 0 its steps cleared, 1 a Spanish step then anyone, 2 its strategy swapped.
    ChangeQueue(usize, usize),
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
        1 => (0..6usize, 0..6usize).prop_map(|(a, s)| Op::SetState(a, s)),
        1 => (any::<usize>(), 0..4i32).prop_map(|(i, p)| Op::Priority(i, p)),
        1 => (0..6usize).prop_map(Op::Reprovision),
        2 => (any::<usize>(), 0..3usize).prop_map(|(i, k)| Op::MediaDone(i, k)),
        1 => any::<usize>().prop_map(Op::LateOriginatorCancel),
        1 => (any::<usize>(), 0..4usize).prop_map(|(i, t)| Op::PhoneTransfers(i, t)),
        2 => (any::<usize>(), 0..8usize, 0..6usize).prop_map(|(i, k, t)| Op::Redirect(i, k, t)),
        1 => (0..3usize, 0..3usize).prop_map(|(q, k)| Op::ChangeQueue(q, k)),
    ]
}

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
    /// Answered agent legs hearing their queue's whisper.
    whispering: Vec<ChannelId>,
    /// Legs that were played a whisper, and those whose whisper ended (played or timed out).
    whispered: HashSet<ChannelId>,
    whisper_over: HashSet<ChannelId>,
    bridged: Vec<(ChannelId, ChannelId)>,
    entered: HashSet<CallId>,
    ended: HashMap<CallId, usize>,
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
                ..QueueRouting::default()
            },
        ));
        engine.provision_queue(queue(
            "q2",
            QueueRouting {
                strategy: Strategy::RingAll,
                weight: 2,
                whisper: Some("switchboard/q2.wav".into()),
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
                whisper: Some("switchboard/q3.wav".into()),
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
            whispering: Vec::new(),
            whispered: HashSet::new(),
            whisper_over: HashSet::new(),
            bridged: Vec::new(),
            entered: HashSet::new(),
            ended: HashMap::new(),
        }
    }

    fn input(&mut self, input: Input) {
        self.input_at(ts(self.now), input);
    }

    /// One engine input, checked for first-come-first-served on its own.
    fn input_at(&mut self, at: Timestamp, input: Input) {
        let before = self.waiting();
        let effects = self.engine.handle(at, input);
        self.check_first_come_first_served(&before);
        self.apply(effects);
    }

    /// Plays the switch's part: new legs ring, killed channels hang up (reported back), a
    /// caller sent away leaves.
    fn apply(&mut self, effects: Vec<Effect>) {
        let mut gone = Vec::new();
        let mut moved = Vec::new();
        for effect in effects {
            match effect {
                Effect::Switch { command, .. } => match command {
                    // A bridged caller sent elsewhere: the switch hangs its agent leg up first
                    // (`transfer` part B, `api-transfer-and-hold` parts C and E); sent to
                    // `park` inline, it parks again.
                    SwitchCommand::Transfer { channel, .. }
                        if self.bridged.iter().any(|(c, _)| *c == channel) =>
                    {
                        moved.push((channel, false))
                    }
                    SwitchCommand::ParkInline { channel } => moved.push((channel, true)),
                    SwitchCommand::Originate { leg, .. } => self.ringing.push(leg),
                    SwitchCommand::Play { channel, .. } if self.ringing.contains(&channel) => {
                        self.ringing.retain(|l| *l != channel);
                        self.whispered.insert(channel.clone());
                        self.whispering.push(channel);
                    }
                    SwitchCommand::Break { channel } => {
                        let whispering = self.engine.calls.values().any(|c| {
                            c.caller == channel && matches!(c.state, CallState::Whispering { .. })
                        });
                        assert!(!whispering, "hold music broken during a whisper");
                    }
                    SwitchCommand::Bridge { caller, agent_leg } => {
                        assert!(
                            !self.whispered.contains(&agent_leg)
                                || self.whisper_over.contains(&agent_leg),
                            "bridged before the whisper ended"
                        );
                        assert!(
                            !self.bridged.iter().any(|(c, _)| *c == caller),
                            "caller {caller} bridged to a second agent leg"
                        );
                        self.ringing.retain(|l| *l != agent_leg);
                        self.whispering.retain(|l| *l != agent_leg);
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
        for (caller, parks) in moved {
            self.caller_moved(caller, parks);
        }
    }

    fn caller_moved(&mut self, caller: ChannelId, parks: bool) {
        if !self.callers.contains(&caller) {
            return;
        }
        if let Some(i) = self.bridged.iter().position(|(c, _)| *c == caller) {
            let (_, leg) = self.bridged.remove(i);
            self.input(Input::ChannelHungUp {
                switch: sw(),
                channel: leg,
                cause: "NORMAL_CLEARING".into(),
            });
        }
        if parks && self.callers.contains(&caller) {
            self.input(Input::CallParked(ParkedCall {
                switch: sw(),
                channel: caller,
                queue: qid("q1"),
                caller_number: "49309".into(),
                caller_name: "Caller".into(),
                destination: "5000".into(),
                priority: 0,
                skills: Vec::new(),
            }));
        }
    }

    fn redirect(&mut self, i: usize, kind: usize, target: usize) {
        use crate::engine::redirect::{RedirectAction, TransferTarget};
        let mut ids: Vec<CallId> = self.engine.calls.keys().copied().collect();
        ids.sort();
        let Some(call) = pick(&ids, i) else {
            return;
        };
        let queue = qid(QUEUES[target % QUEUES.len()]);
        let agent = aid(AGENTS[target % AGENTS.len()]);
        let extension = || crate::engine::routing::Destination::Extension {
            number: "9199".into(),
            context: "default".into(),
        };
        let action = match kind {
            0 => RedirectAction::Hangup,
            1 | 2 => RedirectAction::Transfer(TransferTarget::Queue {
                queue,
                keep_place: kind == 1,
            }),
            3 => RedirectAction::Transfer(TransferTarget::Agent {
                agent,
                timeout: Some(Duration::from_secs(10)),
                fallback: (target % 2 == 0).then_some(queue),
            }),
            4 => RedirectAction::Transfer(TransferTarget::Extension {
                number: "9199".into(),
                context: "default".into(),
            }),
            5 => RedirectAction::Move {
                queue,
                keep_place: target % 2 == 0,
            },
            6 => RedirectAction::Offer {
                agent,
                timeout: None,
            },
            _ => RedirectAction::Remove {
                destination: extension(),
            },
        };
        if let Ok(effects) = self
            .engine
            .redirect(ts(self.now), call, action, "token:sup".into())
        {
            self.apply(effects);
        }
    }

    fn channel_gone(&mut self, channel: ChannelId, cause: &str) {
        let known = self.ringing.contains(&channel)
            || self.whispering.contains(&channel)
            || self.callers.contains(&channel)
            || self
                .bridged
                .iter()
                .any(|(c, a)| *c == channel || *a == channel);
        if !known {
            return;
        }
        self.ringing.retain(|l| *l != channel);
        self.whispering.retain(|l| *l != channel);
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

    /// Agent legs that answered and are up: bridged, or hearing their whisper.
    fn answered_legs(&self) -> Vec<ChannelId> {
        self.bridged
            .iter()
            .map(|(_, a)| a.clone())
            .chain(self.whispering.iter().cloned())
            .collect()
    }

    fn step(&mut self, op: Op) {
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
                if let Some(leg) = pick(&self.answered_legs(), i) {
                    self.channel_gone(leg, "NORMAL_CLEARING");
                }
            }
            Op::PhoneTransfers(i, target) => {
                let Some((caller, leg)) = pick(&self.bridged, i) else {
                    return;
                };
                self.bridged.retain(|(_, a)| *a != leg);
                self.input(Input::LegTransferred(crate::engine::io::LegTransfer {
                    switch: sw(),
                    leg,
                    kind: crate::engine::io::TransferKind::Blind,
                    partner: caller.clone(),
                    destination: "9199".into(),
                    cause: "NORMAL_CLEARING".into(),
                }));
                if let Some(queue) = target.checked_sub(1).and_then(|q| QUEUES.get(q)) {
                    self.input(Input::CallParked(ParkedCall {
                        switch: sw(),
                        channel: caller,
                        queue: qid(queue),
                        caller_number: "49309".into(),
                        caller_name: "Caller".into(),
                        destination: "5010".into(),
                        priority: 0,
                        skills: Vec::new(),
                    }));
                }
            }
            Op::Redirect(i, kind, target) => self.redirect(i, kind, target),
            Op::MediaDone(i, kind) => {
                let (pool, application) = match kind {
                    0 => (&self.whispering, "playback"),
                    1 => (&self.whispering, "park"),
                    _ => (&self.callers, "playback"),
                };
                if let Some(channel) = pick(pool, i) {
                    if kind == 0 {
                        self.whisper_over.insert(channel.clone());
                    }
                    self.input(Input::MediaDone {
                        switch: sw(),
                        channel,
                        application: application.into(),
                        data: String::new(),
                        response: "FILE PLAYED".into(),
                    });
                }
            }
            Op::LateOriginatorCancel(i) => {
                if let Some(leg) = pick(&self.answered_legs(), i) {
                    let ends_before: usize = self.ended.values().sum();
                    let bridges_before = self.bridged.len();
                    self.input(Input::OriginateFailed {
                        switch: sw(),
                        leg,
                        cause: "ORIGINATOR_CANCEL".into(),
                    });
                    assert_eq!(self.ended.values().sum::<usize>(), ends_before);
                    assert_eq!(self.bridged.len(), bridges_before);
                }
            }
            Op::Advance(ms) => {
                self.now += ms;
                self.fire_due();
            }
            Op::SetState(agent, state) => {
                let requested = match state % 3 {
                    0 => RequestedState::Available,
                    1 => RequestedState::LoggedOut,
                    _ => RequestedState::Paused {
                        reason: "break".into(),
                    },
                };
                let before = self.waiting();
                // 3-5: over REST, where a pause or log-out on a call waits for its end (5: and
                // for its wrap-up).
                let result = if state < 3 {
                    self.engine
                        .set_agent_state(ts(self.now), &aid(AGENTS[agent]), requested)
                } else {
                    self.engine
                        .request_state_after_call(
                            ts(self.now),
                            &aid(AGENTS[agent]),
                            requested,
                            state == 5,
                        )
                        .map(|(_, effects)| effects)
                };
                if let Ok(effects) = result {
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
            Op::ChangeQueue(queue, kind) => {
                let mut settings = self.engine.queues[&qid(QUEUES[queue])].settings.clone();
                match kind {
                    0 => settings.routing.steps.clear(),
                    1 => {
                        settings.routing.steps = vec![
                            EscalationStep {
                                require: parse_skill_list("spanish:5").expect("skills"),
                                ..EscalationStep::default()
                            },
                            EscalationStep {
                                after: Duration::from_secs(20),
                                caller_skills: CallerSkills::Ignore,
                                ..EscalationStep::default()
                            },
                        ]
                    }
                    _ => {
                        settings.routing.strategy = match settings.routing.strategy {
                            Strategy::RingAll => Strategy::LongestIdleAgent,
                            Strategy::LongestIdleAgent => Strategy::RoundRobin,
                            _ => Strategy::RingAll,
                        }
                    }
                }
                let effects = self.engine.upsert_queue(ts(self.now), settings);
                self.apply(effects);
            }
            Op::Reprovision(agent) => {
                let id = aid(AGENTS[agent]);
                let settings = self.engine.agents[&id].settings.clone();
                if let Ok(effects) = self.engine.deprovision_agent(ts(self.now), &id) {
                    self.apply(effects);
                    let (_, effects) = self.engine.upsert_agent(ts(self.now), settings);
                    self.apply(effects);
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
                    if let Timer::WhisperEnds { call, .. } = &timer {
                        if let Some(CallState::Whispering { leg, .. }) =
                            self.engine.calls.get(call).map(|c| &c.state)
                        {
                            self.whisper_over.insert(leg.clone());
                        }
                    }
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
            .map(|c| (c.id, (c.pool, c.wait_key)))
            .collect()
    }

    fn check_invariants(&self) {
        let engine = &self.engine;
        // What waits for a call, and the call being wrapped up, belong to an agent busy with
        // one: an agent that left its call and wrap-up took what waited.
        for agent in engine.agents.values() {
            if agent.after_call.is_some() || agent.handled.is_some() {
                assert!(
                    matches!(
                        agent.state,
                        AgentState::OnCall { .. } | AgentState::WrapUp { .. }
                    ),
                    "agent {} is {:?} with {:?} waiting and {:?} in hand",
                    agent.settings.id,
                    agent.state,
                    agent.after_call,
                    agent.handled
                );
            }
        }
        let mut offers: HashMap<&AgentId, usize> = HashMap::new();
        for call in engine.calls.values() {
            match &call.state {
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
                CallState::CallingBack { .. } => {}
                CallState::Whispering { .. } if !call.on_hold => {
                    panic!("a whispering call's caller lost its hold music")
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
                    matches!(engine.calls.get(call).map(|c| &c.state), Some(CallState::Bridged { agent, .. } | CallState::Whispering { agent, .. }) if agent == id),
                    "{id} on a call that is not bridged to it"
                ),
                AgentState::Available => {}
                _ => assert!(agent.idle.is_empty(), "{id} idle while {:?}", agent.state),
            }
        }
        for (id, queue) in &engine.queues {
            let members: Vec<_> = engine
                .agents
                .values()
                .filter(|a| a.settings.membership(id).is_some())
                .collect();
            let logged_in = members
                .iter()
                .filter(|a| a.state != AgentState::LoggedOut)
                .count();
            assert_eq!(queue.members, members.len(), "{id}'s member count");
            assert_eq!(queue.logged_in, logged_in, "{id}'s logged-in count");
        }
        for pool in engine.pools.iter().flatten() {
            for key in &pool.idle {
                assert!(
                    engine
                        .agents
                        .get(&key.agent)
                        .is_some_and(|a| a.state == AgentState::Available),
                    "a pool of {} holds {}, who is not available",
                    pool.queue,
                    key.agent
                );
            }
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
        assert!(
            self.engine.calls.is_empty(),
            "calls left: {}",
            self.engine.calls.len()
        );
        for call in &self.entered {
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn routing_keeps_its_promises_under_any_event_order(
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
