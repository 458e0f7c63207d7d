//! The engines the instruction-count bench (`hot_paths`) routes in: the agents, queue, callers
//! and IVR flow shared by the routing bench (`benches/routing.rs`) and the instruction-count
//! bench (`hot_paths`), seeded so every run builds the same engine; and in `controller`, the
//! whole controller the end-to-end benches start.

// Each bench that includes this module uses its own part of it.
#![allow(dead_code)]

pub mod controller;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use switchboard::engine::{
    parse_skill_list, AgentId, AgentSettings, AgentStatus, CallerSkills, ChannelId, Effect, Engine,
    EscalationStep, FlowCall, Input, Membership, ParkedCall, QueueId, QueueRouting, QueueSettings,
    SkillLevel, Strategy, SwitchCommand, SwitchName, Timer, Timestamp,
};

/// Languages callers ask for, with their share of calls (and of agents' first language).
const LANGUAGES: [(&str, u64); 5] = [
    ("english", 40),
    ("spanish", 25),
    ("german", 15),
    ("french", 10),
    ("turkish", 10),
];
const PRODUCTS: [&str; 5] = ["billing", "internet", "mobile", "tv", "sales"];
/// The level a caller's language is asked for at (the first escalation step requires it).
pub const CALLER_LEVEL: u8 = 7;

/// SplitMix64, so every run builds the same agents and calls.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn language(&mut self) -> &'static str {
        let total: u64 = LANGUAGES.iter().map(|(_, share)| share).sum();
        let mut draw = self.below(total);
        for (name, share) in LANGUAGES {
            if draw < share {
                return name;
            }
            draw -= share;
        }
        LANGUAGES[0].0
    }

    /// 2-4 skills at levels 1-10: a first language, then any of the languages and products.
    pub fn agent_skills(&mut self) -> String {
        let count = 2 + self.below(3) as usize;
        let mut names = vec![self.language()];
        let all: Vec<&str> = LANGUAGES
            .iter()
            .map(|(name, _)| *name)
            .chain(PRODUCTS)
            .collect();
        while names.len() < count {
            let name = all[self.below(all.len() as u64) as usize];
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
            .iter()
            .map(|name| format!("{name}:{}", 1 + self.below(10)))
            .collect::<Vec<_>>()
            .join(",")
    }
}

pub fn queue() -> QueueId {
    QueueId::new("support").expect("id")
}

pub fn switch() -> SwitchName {
    SwitchName::new("fs1").expect("name")
}

/// How the engine under test is set up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Setup {
    /// No skills, no steps, longest-idle-agent (the measurement before skills routing).
    Plain,
    /// Agents with skills; a queue with the escalation steps of `skills_routing`; callers who
    /// ask for a language.
    Skills(Strategy),
}

impl Setup {
    pub fn label(self) -> String {
        match self {
            Setup::Plain => "no skills, longest-idle-agent".to_owned(),
            Setup::Skills(strategy) => format!("skills, {strategy}"),
        }
    }
}

/// Step 0: the caller's language at the level asked (`spanish:7`); from 30 s: any agent, those
/// with the caller's language at that level first; from 90 s: any agent, the caller's skills
/// ignored. (A step cannot lower the level of a skill the caller brings, so "the caller's
/// language at 3 or more from 30 s" is written as a preference.)
pub fn skills_routing(strategy: Strategy) -> QueueRouting {
    QueueRouting {
        strategy,
        steps: vec![
            EscalationStep {
                after: Duration::ZERO,
                caller_skills: CallerSkills::Require,
                ..EscalationStep::default()
            },
            EscalationStep {
                after: Duration::from_secs(30),
                caller_skills: CallerSkills::Prefer,
                ..EscalationStep::default()
            },
            EscalationStep {
                after: Duration::from_secs(90),
                caller_skills: CallerSkills::Ignore,
                ..EscalationStep::default()
            },
        ],
        ..QueueRouting::default()
    }
}

/// One queue and `agents` agents in it, available or logged out.
pub fn engine_with(agents: usize, setup: Setup, logged_in: bool) -> Engine {
    let mut engine = Engine::new(1);
    let routing = match setup {
        Setup::Plain => QueueRouting::default(),
        Setup::Skills(strategy) => skills_routing(strategy),
    };
    engine.provision_queue(QueueSettings {
        id: queue(),
        name: "Support".into(),
        moh: "local_stream://moh".into(),
        wrap_up: Duration::ZERO,
        ring_timeout: Duration::from_secs(20),
        busy_backoff: Duration::from_secs(10),
        routing,
    });
    let status = if logged_in {
        AgentStatus::Available
    } else {
        AgentStatus::LoggedOut
    };
    let mut rng = Rng(42);
    for i in 0..agents {
        let skills = match setup {
            Setup::Plain => Vec::new(),
            Setup::Skills(_) => parse_skill_list(&rng.agent_skills()).expect("skills"),
        };
        engine.provision_agent(Timestamp::from_millis(i as i64), agent(i, skills), status);
    }
    engine
}

pub fn agent_id(i: usize) -> AgentId {
    AgentId::new(format!("a{i}")).expect("id")
}

pub fn agent(i: usize, skills: Vec<SkillLevel>) -> AgentSettings {
    AgentSettings {
        id: agent_id(i),
        name: format!("Agent {i}"),
        dial_string: format!("user/{}", 10_000 + i),
        queues: vec![Membership {
            weight: 1 + (i % 3) as u32,
            ..Membership::new(queue(), i as u32 + 1)
        }],
        skills,
        pin: None,
    }
}

pub fn caller(n: u128) -> ChannelId {
    ChannelId::from_uuid(uuid::Uuid::from_u128(n + 1))
}

pub fn park(n: u128, skills: Vec<SkillLevel>) -> Input {
    Input::CallParked(ParkedCall {
        switch: switch(),
        channel: caller(n),
        queue: queue(),
        caller_number: format!("+49301{n:07}"),
        caller_name: "Caller".into(),
        destination: "5000".into(),
        priority: 0,
        skills,
    })
}

/// What a caller asks for under `setup`: a language at `CALLER_LEVEL`, or nothing.
pub fn caller_skills(setup: Setup, rng: &mut Rng) -> Vec<SkillLevel> {
    match setup {
        Setup::Plain => Vec::new(),
        Setup::Skills(_) => {
            parse_skill_list(&format!("{}:{CALLER_LEVEL}", rng.language())).expect("skills")
        }
    }
}

pub fn hang_up(engine: &mut Engine, now: Timestamp, channel: ChannelId) {
    engine.handle(
        now,
        Input::ChannelHungUp {
            switch: switch(),
            channel,
            cause: "NORMAL_CLEARING".into(),
        },
    );
}

/// Escalation timers the engine asked for, fired by `fire_due` when their time comes.
#[derive(Default)]
struct Timers {
    due: BinaryHeap<Reverse<(Timestamp, usize)>>,
    timers: Vec<Option<Timer>>,
}

impl Timers {
    fn collect(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            if let Effect::SetTimer {
                at,
                timer: timer @ Timer::Escalate { .. },
            } = effect
            {
                self.due.push(Reverse((at, self.timers.len())));
                self.timers.push(Some(timer));
            }
        }
    }

    fn fire_due(&mut self, engine: &mut Engine, now: Timestamp) {
        while let Some(Reverse((at, i))) = self.due.peek().copied() {
            if at > now {
                break;
            }
            self.due.pop();
            if let Some(timer) = self.timers[i].take() {
                let effects = engine.handle(at, Input::TimerFired(timer));
                self.collect(effects);
            }
        }
    }
}

/// Keeps the pools of each language's first two steps alive, as calls in progress do in a busy
/// contact center (without them, the next call that needs a pool builds it from every idle
/// agent).
pub fn calls_in_progress(engine: &mut Engine, setup: Setup) {
    if setup == Setup::Plain {
        return;
    }
    let mut n = 1_000_000u128;
    for (language, _) in LANGUAGES {
        for step in 0..2usize {
            n += 1;
            let skills = parse_skill_list(&format!("{language}:{CALLER_LEVEL}")).expect("skills");
            let effects = engine.handle(Timestamp::from_millis(0), park(n, skills));
            let leg = effects.iter().find_map(|e| match e {
                Effect::Switch {
                    command: SwitchCommand::Originate { leg, .. },
                    ..
                } => Some(leg.clone()),
                _ => None,
            });
            let mut timers = Timers::default();
            timers.collect(effects);
            if step > 0 {
                timers.fire_due(engine, Timestamp::from_millis(31_000));
            }
            if let Some(leg) = leg {
                engine.handle(
                    Timestamp::from_millis(31_000),
                    Input::ChannelAnswered {
                        switch: switch(),
                        channel: leg,
                    },
                );
            }
        }
    }
}

/// Parks `calls` calls over 100 s and lets their escalation timers fire, so under skills
/// routing they wait spread over the three steps. Returns the time at the end.
pub fn fill_waiting(engine: &mut Engine, setup: Setup, calls: usize) -> Timestamp {
    let span_ms = 100_000usize;
    let mut rng = Rng(11);
    let mut timers = Timers::default();
    for n in 0..calls {
        let at = Timestamp::from_millis((n * span_ms / calls) as i64);
        timers.fire_due(engine, at);
        let effects = engine.handle(at, park(n as u128, caller_skills(setup, &mut rng)));
        timers.collect(effects);
    }
    let end = Timestamp::from_millis(span_ms as i64);
    timers.fire_due(engine, end);
    end
}

/// A flow of the usual shape: a menu whose key 1 tags the call, routes it on a variable and
/// puts it in the queue (`BENCH_FLOW` of `benches/routing.rs`).
pub const BENCH_FLOW: &str = r#"
start = "menu"
entry_points = ["bench"]

[node.menu]
kind = "menu"
prompt = "ivr/menu.wav"
on_invalid = "bye"
[node.menu.options]
1 = "tag"

[node.tag]
kind = "set"
variables = { product = "billing", account = "{{caller_number}}" }
next = "route"

[node.route]
kind = "condition"
otherwise = "queue"
[[node.route.when]]
variable = "product"
equals = "billing"
next = "queue"

[node.queue]
kind = "enqueue"
queue = "support"
skills = "{{product}}"

[node.bye]
kind = "hangup"
"#;

/// `engine` serving the bench flow at entry point `bench`.
pub fn serve_bench_flow(engine: &mut Engine) {
    let flow = switchboard::flow::parse_flow(BENCH_FLOW, std::path::Path::new("bench.toml"))
        .expect("bench flow");
    engine.set_flows(switchboard::flow::FlowSet::new(vec![flow]).expect("bench flow set"));
}

/// A caller `n` enters the bench flow (answer, menu prompt).
pub fn enter_flow(n: u128) -> Input {
    Input::FlowCall(FlowCall {
        switch: switch(),
        channel: caller(n),
        entry: "bench".into(),
        caller_number: format!("+49301{n:07}"),
        caller_name: "Caller".into(),
        destination: "5000".into(),
    })
}

/// The menu prompt played to caller `n` ended: the menu listens for a key.
pub fn prompt_ended(n: u128) -> Input {
    Input::MediaDone {
        switch: switch(),
        channel: caller(n),
        application: "playback".into(),
        data: String::new(),
        response: "FILE PLAYED".into(),
    }
}
