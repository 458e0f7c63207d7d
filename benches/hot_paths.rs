//! The engine's hot paths as fixed, seeded workloads, for instruction counts under callgrind:
//! `.ci/callgrind-check` runs each path in a process of its own under
//! `valgrind --tool=callgrind --toggle-collect=<its measured function>` and compares the
//! instructions per operation with `benches/hot_paths.baseline` (`docs/performance.md`,
//! "Instruction counts (callgrind)").
//!
//! Each path builds its engine (or its input) first, warms up with a few operations made
//! without the measured function, then makes its counted operations through it; what must
//! happen between two operations (a caller hanging up, an agent logging out again) happens
//! outside it. The measured functions are `#[inline(never)]` and do nothing but the operation,
//! so callgrind's count for them, divided by the operations counted, is the cost of one operation.
//!
//! `cargo bench --bench hot_paths` runs every path natively and prints its time per operation;
//! `-- --list` prints each path's name, measured function and iteration count (what the check
//! script reads); `-- --path <name>` runs one path.

mod common;

use std::time::{Duration, Instant};

use freeswitch_esl_tokio::parse_channel_dump;
use switchboard::engine::{
    CallId, ChannelId, CommandError, Effect, Engine, Input, RequestedState, Strategy,
    SwitchCommand, SwitchName, Timestamp,
};
use switchboard::esl::command::{render, UnsafeValue, Wire};
use switchboard::esl::translate::{translate, Translated};

use common::{
    agent_id, caller, caller_skills, calls_in_progress, engine_with, enter_flow, fill_waiting,
    hang_up, park, prompt_ended, serve_bench_flow, switch, Rng, Setup,
};

/// How many operations a path makes: `warm_up` first, outside the measured function, so
/// first-time growth of tables is not counted; then `counted` through it. Engine paths count
/// 1,000 (an average over many callers, agents and pool positions); the ESL event paths count
/// 100, since decoding one event costs as much as a hundred routing decisions and each counted
/// operation is the same bytes anyway.
#[derive(Debug, Clone, Copy)]
struct Workload {
    warm_up: usize,
    counted: usize,
}

const ENGINE: Workload = Workload {
    warm_up: 100,
    counted: 1_000,
};
const EVENT: Workload = Workload {
    warm_up: 10,
    counted: 100,
};
/// Idle agents when a call arrives.
const IDLE_AGENTS: usize = 1_000;
/// Calls waiting when an agent frees up, and the agents taking turns to free up.
const WAITING_CALLS: usize = 1_000;
const FREEING_AGENTS: usize = 100;
/// Other callers inside the IVR flow while one presses a key.
const CALLERS_IN_FLOW: usize = 1_000;

/// A captured CHANNEL_PARK of a caller our dialplan parked for queue `support`, and the
/// CHANNEL_ANSWER of an agent leg we originated (FreeSWITCH 1.10.12, `switchboard-basic` in
/// `../shared/esl-traces`), each as the frame the switch wrote: outer headers, then the event.
const CHANNEL_PARK_FRAME: &str = include_str!("common/events/channel_park.plain");
const CHANNEL_ANSWER_FRAME: &str = include_str!("common/events/channel_answer_agent_leg.plain");

/// The functions callgrind counts: one operation each, nothing else.
mod measured {
    use super::*;

    #[inline(never)]
    pub fn route_arriving_call(engine: &mut Engine, now: Timestamp, call: Input) -> Vec<Effect> {
        engine.handle(now, call)
    }

    #[inline(never)]
    pub fn free_agent(
        engine: &mut Engine,
        now: Timestamp,
        agent: &switchboard::engine::AgentId,
    ) -> Result<Vec<Effect>, CommandError> {
        engine.set_agent_state(now, agent, RequestedState::Available)
    }

    #[inline(never)]
    pub fn press_key(engine: &mut Engine, now: Timestamp, key: Input) -> Vec<Effect> {
        engine.handle(now, key)
    }

    /// An event's text as the ESL client decodes a `text/event-plain` body (the same
    /// percent-decoding of `Name: value` lines), then translated into the engine's input.
    #[inline(never)]
    pub fn decode_and_translate(switch: &SwitchName, event_body: &str) -> Translated {
        match parse_channel_dump(event_body) {
            Ok(event) => translate(switch, &event),
            Err(e) => Translated::Malformed(e.to_string()),
        }
    }

    #[inline(never)]
    pub fn render_originate(command: &SwitchCommand) -> Result<Wire, UnsafeValue> {
        render(command, "")
    }
}

/// One hot path: its name in the baseline, the function callgrind counts, and its workload.
struct HotPath {
    name: &'static str,
    measured: &'static str,
    workload: Workload,
    run: fn(Workload) -> Duration,
}

const PATHS: &[HotPath] = &[
    HotPath {
        name: "call_arrives_plain",
        measured: "route_arriving_call",
        workload: ENGINE,
        run: |w| call_arrives(Setup::Plain, w),
    },
    HotPath {
        name: "call_arrives_skills",
        measured: "route_arriving_call",
        workload: ENGINE,
        run: |w| call_arrives(Setup::Skills(Strategy::LongestIdleAgent), w),
    },
    HotPath {
        name: "agent_frees_up_plain",
        measured: "free_agent",
        workload: ENGINE,
        run: |w| agent_frees_up(Setup::Plain, w),
    },
    HotPath {
        name: "agent_frees_up_skills",
        measured: "free_agent",
        workload: ENGINE,
        run: |w| agent_frees_up(Setup::Skills(Strategy::LongestIdleAgent), w),
    },
    HotPath {
        name: "ivr_key_press",
        measured: "press_key",
        workload: ENGINE,
        run: ivr_key_press,
    },
    HotPath {
        name: "esl_channel_park",
        measured: "decode_and_translate",
        workload: EVENT,
        run: |w| esl_event(CHANNEL_PARK_FRAME, "CallParked", w),
    },
    HotPath {
        name: "esl_channel_answer",
        measured: "decode_and_translate",
        workload: EVENT,
        run: |w| esl_event(CHANNEL_ANSWER_FRAME, "ChannelAnswered", w),
    },
    HotPath {
        name: "originate_render",
        measured: "render_originate",
        workload: ENGINE,
        run: originate_render,
    },
];

fn rang(effects: &[Effect]) -> bool {
    effects.iter().any(|e| {
        matches!(
            e,
            Effect::Switch {
                command: SwitchCommand::Originate { .. },
                ..
            }
        )
    })
}

/// A call arrives among `IDLE_AGENTS` idle agents and one is rung; the caller hangs up before
/// the next call, freeing the agent again.
fn call_arrives(setup: Setup, workload: Workload) -> Duration {
    let mut engine = engine_with(IDLE_AGENTS, setup, true);
    calls_in_progress(&mut engine, setup);
    let mut rng = Rng(7);
    let mut spent = Duration::ZERO;
    for n in 0..(workload.warm_up + workload.counted) as u128 {
        let now = Timestamp::from_millis(1_000_000 + n as i64);
        let call = park(n, caller_skills(setup, &mut rng));
        let effects = if n < workload.warm_up as u128 {
            engine.handle(now, call)
        } else {
            let start = Instant::now();
            let effects = measured::route_arriving_call(&mut engine, now, call);
            spent += start.elapsed();
            effects
        };
        assert!(rang(&effects), "call {n} rang no agent");
        drop(effects);
        hang_up(&mut engine, now, caller(n));
    }
    spent
}

/// An agent becomes available while `WAITING_CALLS` wait, and is offered the best call it may
/// take; it logs out again before the next one, which puts that call back at its place.
fn agent_frees_up(setup: Setup, workload: Workload) -> Duration {
    let mut engine = engine_with(FREEING_AGENTS, setup, false);
    let start_at = fill_waiting(&mut engine, setup, WAITING_CALLS);
    let mut spent = Duration::ZERO;
    for r in 0..workload.warm_up + workload.counted {
        let agent = agent_id(r % FREEING_AGENTS);
        let now = start_at.plus(Duration::from_millis(r as u64));
        let effects = if r < workload.warm_up {
            engine.set_agent_state(now, &agent, RequestedState::Available)
        } else {
            let start = Instant::now();
            let effects = measured::free_agent(&mut engine, now, &agent);
            spent += start.elapsed();
            effects
        };
        assert!(
            effects.as_deref().is_ok_and(rang),
            "agent {agent} took no call"
        );
        drop(effects);
        let _ = engine.set_agent_state(now, &agent, RequestedState::LoggedOut);
    }
    spent
}

/// A caller in the bench flow's menu presses 1 (set, condition, enqueue, and the queue's
/// routing), with `CALLERS_IN_FLOW` others in the flow; entering and the prompt's end come
/// before, the hangup after.
fn ivr_key_press(workload: Workload) -> Duration {
    let mut engine = engine_with(100, Setup::Plain, false);
    serve_bench_flow(&mut engine);
    let start = Timestamp::from_millis(1_000_000);
    for n in 0..CALLERS_IN_FLOW as u128 {
        engine.handle(start, enter_flow(1_000_000 + n));
    }
    let mut spent = Duration::ZERO;
    for n in 0..(workload.warm_up + workload.counted) as u128 {
        let now = Timestamp::from_millis(1_000_000 + n as i64);
        engine.handle(now, enter_flow(n));
        engine.handle(now, prompt_ended(n));
        let key = Input::Dtmf {
            switch: switch(),
            channel: caller(n),
            digit: '1',
        };
        let effects = if n < workload.warm_up as u128 {
            engine.handle(now, key)
        } else {
            let begin = Instant::now();
            let effects = measured::press_key(&mut engine, now, key);
            spent += begin.elapsed();
            effects
        };
        assert!(!effects.is_empty(), "key press {n} did nothing");
        drop(effects);
        hang_up(&mut engine, now, caller(n));
    }
    spent
}

/// The event inside a captured `text/event-plain` frame: what follows the outer headers, as
/// long as their `Content-Length` says.
fn event_body(frame: &str) -> &str {
    let (head, rest) = frame.split_once("\n\n").expect("a frame has outer headers");
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("Content-Length: "))
        .expect("a Content-Length")
        .parse()
        .expect("a numeric Content-Length");
    &rest[..length]
}

/// One captured event decoded and translated, checked to become the input `expected` names.
fn esl_event(frame: &str, expected: &str, workload: Workload) -> Duration {
    let body = event_body(frame);
    let switch = switch();
    for _ in 0..workload.warm_up {
        let translated = match parse_channel_dump(body) {
            Ok(event) => translate(&switch, &event),
            Err(e) => Translated::Malformed(e.to_string()),
        };
        let Translated::Input(input) = translated else {
            panic!("the captured event translated to {translated:?}, not {expected}");
        };
        assert!(format!("{input:?}").starts_with(expected), "{input:?}");
    }
    let start = Instant::now();
    for _ in 0..workload.counted {
        drop(measured::decode_and_translate(&switch, body));
    }
    start.elapsed()
}

/// The originate of an agent's leg for a caller who came through a flow with two variables
/// set (a screen pop's account and product).
fn originate_render(workload: Workload) -> Duration {
    let command = SwitchCommand::Originate {
        leg: ChannelId::from_uuid(uuid::Uuid::from_u128(
            0x4745_e712_0452_4773_a002_25e4_197b_5d65,
        )),
        call: CallId::from_uuid(uuid::Uuid::from_u128(42)),
        agent: agent_id(7),
        queue: common::queue(),
        dial_string: "user/1001".into(),
        timeout: Duration::from_secs(20),
        caller_number: "+4930123456".into(),
        caller_name: "Erika Mustermann".into(),
        queue_name: "Support".into(),
        variables: vec![
            ("account".into(), "+4930123456".into()),
            ("product".into(), "billing".into()),
        ],
    };
    for _ in 0..workload.warm_up {
        let wire = render(&command, "").expect("the originate renders");
        assert!(matches!(wire, Wire::BgApi(_)), "{wire:?}");
    }
    let start = Instant::now();
    for _ in 0..workload.counted {
        drop(measured::render_originate(&command));
    }
    start.elapsed()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        for path in PATHS {
            println!("{} {} {}", path.name, path.measured, path.workload.counted);
        }
        return;
    }
    let only = args
        .iter()
        .position(|a| a == "--path")
        .map(|i| args.get(i + 1).expect("--path <name>").as_str());
    let mut ran = 0;
    for path in PATHS
        .iter()
        .filter(|p| only.is_none_or(|name| name == p.name))
    {
        let spent = (path.run)(path.workload);
        let counted = path.workload.counted;
        println!(
            "{:<24} {:>9.2} µs per operation ({counted} operations)",
            path.name,
            spent.as_secs_f64() * 1e6 / counted as f64
        );
        ran += 1;
    }
    assert!(ran > 0, "no hot path named {only:?}");
}
