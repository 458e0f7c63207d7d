//! The routing benchmark: `cargo bench --bench routing`.
//!
//! (a) the engine alone: the cost of one routing decision at 100, 1,000, 10,000 and 50,000
//! agents, without skills and with skills routing (agents holding 2-4 skills, a queue with
//! escalation steps, callers asking for a language), when a call arrives among idle agents and
//! when an agent frees up while 1,000 calls wait; (b) memory per agent and per waiting call,
//! counted by a wrapping allocator; (c) end to end over loopback TCP, the simulator as load
//! generator: sustained calls per second and routing latency (routable event received → agent
//! originate accepted), once without and once with skills routing.
//!
//! Quick mode (`--quick`, `SWITCHBOARD_BENCH_QUICK=1`, or any run without cargo bench's
//! `--bench` argument such as `cargo test --benches`) uses fewer rounds, skips 50,000 agents and
//! shortens the end-to-end runs. `-- --end-to-end` runs only (c), at full length.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

mod common;

use common::*;
use switchboard::engine::{
    AgentId, Effect, Engine, Input, RequestedState, Strategy, SwitchCommand, Timestamp,
};

struct Counting;
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> isize {
    LIVE_BYTES.load(Ordering::Relaxed)
}

/// Per-decision samples: median and 99th percentile (the median, not the mean, because the
/// cores are shared and a preempted round would otherwise count for thousands), and how many
/// rounds did what the measurement is about (rang an agent).
struct Cost {
    median: Duration,
    p99: Duration,
    missed: usize,
}

impl Cost {
    fn of(mut samples: Vec<Duration>, missed: usize) -> Cost {
        samples.sort();
        let at = |q: usize| samples[(samples.len() * q / 100).min(samples.len() - 1)];
        Cost {
            median: at(50),
            p99: at(99),
            missed,
        }
    }
}

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

impl std::fmt::Display for Cost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        if self.median >= Duration::from_millis(1) {
            write!(
                f,
                "{:.1} ms ({:.1})",
                us(self.median) / 1e3,
                us(self.p99) / 1e3
            )?;
        } else {
            write!(f, "{:.2} µs ({:.1})", us(self.median), us(self.p99))?;
        }
        if self.missed > 0 {
            write!(f, " [{} rang none]", self.missed)?;
        }
        Ok(())
    }
}

/// A call arrives while `agents` agents are idle; the engine picks one by the queue's strategy
/// and rings it. Between rounds (not timed) the caller hangs up, which frees the agent again.
fn decision_call_arrives(agents: usize, setup: Setup, rounds: usize) -> Cost {
    let mut engine = engine_with(agents, setup, true);
    calls_in_progress(&mut engine, setup);
    let mut rng = Rng(7);
    let mut samples = Vec::with_capacity(rounds);
    let mut missed = 0;
    for n in 0..rounds as u128 {
        let now = Timestamp::from_millis(1_000_000 + n as i64);
        let input = park(n, caller_skills(setup, &mut rng));
        let start = Instant::now();
        let effects = engine.handle(now, input);
        samples.push(start.elapsed());
        missed += usize::from(!rang(&effects));
        drop(effects);
        hang_up(&mut engine, now, caller(n));
    }
    Cost::of(samples, missed)
}

/// As `decision_call_arrives`, but no other call needs the caller's requirement, so the engine
/// builds its pool on arrival: it walks every idle agent of the queue.
fn decision_cold_pool(agents: usize, rounds: usize) -> Cost {
    let setup = Setup::Skills(Strategy::LongestIdleAgent);
    let mut engine = engine_with(agents, setup, true);
    let mut rng = Rng(7);
    let mut samples = Vec::with_capacity(rounds);
    let mut missed = 0;
    for n in 0..rounds as u128 {
        let now = Timestamp::from_millis(1_000_000 + n as i64);
        let input = park(n, caller_skills(setup, &mut rng));
        let start = Instant::now();
        let effects = engine.handle(now, input);
        samples.push(start.elapsed());
        missed += usize::from(!rang(&effects));
        drop(effects);
        hang_up(&mut engine, now, caller(n));
    }
    Cost::of(samples, missed)
}

/// How `fill_waiting` spreads calls over the steps (from 1, as the snapshot counts them).
fn waiting_by_step(calls: usize) -> [usize; 3] {
    let setup = Setup::Skills(Strategy::LongestIdleAgent);
    let mut engine = engine_with(10, setup, false);
    let end = fill_waiting(&mut engine, setup, calls);
    let mut by_step = [0; 3];
    for call in engine.snapshot(end).calls {
        if call.state == "waiting" {
            by_step[call.step.clamp(1, 3) - 1] += 1;
        }
    }
    by_step
}

/// An agent becomes available while `waiting` calls wait; the best call it may take is chosen
/// and offered. Between rounds (not timed) the agent logs out again, which puts the call back
/// at its place, so the queue stays full.
fn decision_agent_frees_up(agents: usize, waiting: usize, setup: Setup, rounds: usize) -> Cost {
    let mut engine = engine_with(agents, setup, false);
    let start_at = fill_waiting(&mut engine, setup, waiting);
    let ids: Vec<AgentId> = (0..agents)
        .map(|i| AgentId::new(format!("a{i}")).expect("id"))
        .collect();
    let mut samples = Vec::with_capacity(rounds);
    let mut missed = 0;
    for r in 0..rounds {
        let id = &ids[r % agents];
        let now = start_at.plus(Duration::from_millis(r as u64));
        let start = Instant::now();
        let effects = engine.set_agent_state(now, id, RequestedState::Available);
        samples.push(start.elapsed());
        missed += usize::from(!effects.as_deref().is_ok_and(rang));
        drop(effects);
        let _ = engine.set_agent_state(now, id, RequestedState::LoggedOut);
    }
    Cost::of(samples, missed)
}

/// Calls that end and calls that arrive between two publishes: 100 of each, so about 200 calls
/// and 200 agents changed, what 100 ms at 2,000 calls/s change.
const CHANGED_PER_PUBLISH: usize = 100;

/// What publishing the read model costs, with `agents` logged in and one call in progress
/// for every five (20,000 at 100,000 agents), all answered: the publish after a batch of
/// changes (`CHANGED_PER_PUBLISH`), and beside it the full rebuild it replaces (the engine
/// no longer does one; it is the debug builds' reference). Also the memory the engine keeps
/// for the published views, per agent and per call.
fn snapshot_cost(agents: usize, rounds: usize) -> ReadModelCost {
    let setup = Setup::Skills(Strategy::LongestIdleAgent);
    let mut engine = engine_with(agents, setup, true);
    let mut rng = Rng(3);
    let mut now = Timestamp::from_millis(1_000_000);
    let mut next = 0u128;
    let mut in_progress = std::collections::VecDeque::new();
    let mut arrive = |engine: &mut Engine, now: Timestamp| {
        next += 1;
        let effects = engine.handle(now, park(next, caller_skills(setup, &mut rng)));
        let leg = effects.iter().find_map(|e| match e {
            Effect::Switch {
                command: SwitchCommand::Originate { leg, .. },
                ..
            } => Some(leg.clone()),
            _ => None,
        });
        if let Some(leg) = &leg {
            engine.handle(
                now,
                Input::ChannelAnswered {
                    switch: switch(),
                    channel: leg.clone(),
                },
            );
        }
        (next, leg)
    };
    // The first publish builds every view and empties the sets of changed keys provisioning
    // filled (one per agent, measured apart and added back): what is left is the read model.
    let changed_sets = {
        let before = live();
        let ids: std::collections::HashSet<AgentId> = (0..agents)
            .map(|i| AgentId::new(format!("a{i}")).expect("id"))
            .collect();
        let bytes = live() - before;
        drop(ids);
        bytes
    };
    let before = live();
    drop(engine.snapshot(now));
    let agent_bytes = (live() - before + changed_sets) as f64 / agents as f64;
    let views_without_calls = {
        let before = live();
        let snapshot = engine.full_snapshot(now);
        let bytes = live() - before;
        drop(snapshot);
        bytes
    };
    for _ in 0..agents / 5 {
        in_progress.push_back(arrive(&mut engine, now));
    }
    let calls = in_progress.len();
    drop(engine.snapshot(now));
    let call_bytes = {
        let before = live();
        let snapshot = engine.full_snapshot(now);
        let bytes = live() - before;
        drop(snapshot);
        (bytes - views_without_calls) as f64 / calls.max(1) as f64
    };
    let mut held = engine.snapshot(now);
    let mut publish = Vec::with_capacity(rounds);
    let mut rebuild = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        for _ in 0..CHANGED_PER_PUBLISH {
            if let Some((n, leg)) = in_progress.pop_front() {
                hang_up(&mut engine, now, caller(n));
                if let Some(leg) = leg {
                    hang_up(&mut engine, now, leg);
                }
            }
            in_progress.push_back(arrive(&mut engine, now));
        }
        now = now.plus(Duration::from_millis(100));
        // As in the engine task, readers still hold the snapshot before (the watch channel
        // does): the tree nodes a publish changes are copied, not changed in place.
        let start = Instant::now();
        let snapshot = engine.snapshot(now);
        publish.push(start.elapsed());
        held = snapshot;
        let start = Instant::now();
        let snapshot = engine.full_snapshot(now);
        rebuild.push(start.elapsed());
        drop(snapshot);
    }
    drop(held);
    ReadModelCost {
        calls,
        publish: Cost::of(publish, 0),
        rebuild: Cost::of(rebuild, 0),
        agent_bytes,
        call_bytes,
    }
}

struct ReadModelCost {
    calls: usize,
    publish: Cost,
    rebuild: Cost,
    /// What the engine keeps for the published views, per agent and per call in progress.
    agent_bytes: f64,
    call_bytes: f64,
}

/// Engine state per agent: idle, in every pool it qualifies for (under skills routing with the
/// pools of calls in progress, as in `decision_call_arrives`).
fn memory_per_agent(agents: usize, setup: Setup) -> f64 {
    let before = live();
    let mut engine = engine_with(agents, setup, true);
    calls_in_progress(&mut engine, setup);
    let after = live();
    drop(engine);
    (after - before) as f64 / agents as f64
}

/// Engine state per waiting call (without its effects, which the engine hands off at once).
fn memory_per_call(calls: usize, setup: Setup) -> f64 {
    let mut engine = engine_with(1, setup, false);
    let before = live();
    fill_waiting(&mut engine, setup, calls);
    let after = live();
    (after - before) as f64 / calls as f64
}

/// One IVR step at a time, with `in_flows` other callers inside the flow meanwhile: a caller
/// enters (answer, menu prompt), the prompt ends (the menu listens), the caller presses 1
/// (set, condition, enqueue: three nodes and the queue's routing). Median and p99 per input.
fn ivr_steps(in_flows: usize, rounds: usize) -> [Cost; 3] {
    let mut engine = engine_with(100, Setup::Plain, false);
    let flow = switchboard::flow::parse_flow(BENCH_FLOW, std::path::Path::new("bench.toml"))
        .expect("bench flow");
    engine.set_flows(switchboard::flow::FlowSet::new(vec![flow]).expect("bench flow set"));
    let enter = |engine: &mut Engine, n: u128, now: Timestamp| {
        engine.handle(
            now,
            Input::FlowCall(switchboard::engine::FlowCall {
                switch: switch(),
                channel: caller(n),
                entry: "bench".into(),
                caller_number: format!("+49301{n:07}"),
                caller_name: "Caller".into(),
                destination: "5000".into(),
            }),
        )
    };
    let prompt_ends = |n: u128| Input::MediaDone {
        switch: switch(),
        channel: caller(n),
        application: "playback".into(),
        data: String::new(),
        response: "FILE PLAYED".into(),
    };
    let start = Timestamp::from_millis(1_000_000);
    for n in 0..in_flows as u128 {
        enter(&mut engine, 1_000_000 + n, start);
    }
    let mut samples: [Vec<Duration>; 3] = Default::default();
    for n in 0..rounds as u128 {
        let now = Timestamp::from_millis(1_000_000 + n as i64);
        let timed = |engine: &mut Engine, input: Input| {
            let begin = Instant::now();
            let effects = engine.handle(now, input);
            let took = begin.elapsed();
            drop(effects);
            took
        };
        let begin = Instant::now();
        drop(enter(&mut engine, n, now));
        samples[0].push(begin.elapsed());
        samples[1].push(timed(&mut engine, prompt_ends(n)));
        let key = Input::Dtmf {
            switch: switch(),
            channel: caller(n),
            digit: '1',
        };
        samples[2].push(timed(&mut engine, key));
        hang_up(&mut engine, now, caller(n));
    }
    samples.map(|s| Cost::of(s, 0))
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn print_row(label: &str, cells: &[String]) {
    print!("| {label:<62} |");
    for cell in cells {
        print!(" {cell:>17} |");
    }
    println!();
}

/// The read model's rows (`--read-model`: only these).
fn read_model_rows(quick: bool) {
    let snapshot_rounds = if quick { 5 } else { 50 };
    let read_model_sizes: &[usize] = if quick {
        &[1_000, 10_000]
    } else {
        &[1_000, 10_000, 50_000, 100_000]
    };
    let read_model: Vec<ReadModelCost> = read_model_sizes
        .iter()
        .map(|n| snapshot_cost(*n, snapshot_rounds))
        .collect();
    println!(
        "## Not a decision: publishing the read model, median (p99), {snapshot_rounds} rounds, \
         after {} calls ended and {} arrived",
        CHANGED_PER_PUBLISH, CHANGED_PER_PUBLISH
    );
    let header: Vec<String> = read_model
        .iter()
        .zip(read_model_sizes)
        .map(|(r, n)| format!("{} / {}", thousands(*n), thousands(r.calls)))
        .collect();
    print_row("agents / calls in progress", &header);
    let cells = |f: &dyn Fn(&ReadModelCost) -> String| -> Vec<String> {
        read_model.iter().map(f).collect()
    };
    print_row("publish (what changed)", &cells(&|r| r.publish.to_string()));
    print_row(
        "full rebuild (reference only)",
        &cells(&|r| r.rebuild.to_string()),
    );
    print_row(
        "read model kept, bytes per agent / per call",
        &cells(&|r| format!("{:.0} / {:.0}", r.agent_bytes, r.call_bytes)),
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: keep that run short.
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick")
        || !args.iter().any(|a| a == "--bench")
        || std::env::var_os("SWITCHBOARD_BENCH_QUICK").is_some();
    let sizes: &[usize] = if quick {
        &[100, 1_000, 10_000]
    } else {
        &[100, 1_000, 10_000, 50_000]
    };
    if args.iter().any(|a| a == "--read-model") {
        read_model_rows(quick);
        return;
    }
    // `--end-to-end`: only (c), at full length.
    if args.iter().any(|a| a == "--end-to-end") {
        end_to_end_runs(false);
        return;
    }
    let rounds = if quick { 1_000 } else { 20_000 };
    let cold_rounds = if quick { 50 } else { 500 };
    let strategies: &[Strategy] = if quick {
        &[Strategy::LongestIdleAgent, Strategy::BestSkillMatch]
    } else {
        &[
            Strategy::LongestIdleAgent,
            Strategy::BestSkillMatch,
            Strategy::RoundRobin,
            Strategy::WeightedRandom,
        ]
    };
    let setups: Vec<Setup> = std::iter::once(Setup::Plain)
        .chain(strategies.iter().map(|s| Setup::Skills(*s)))
        .collect();
    let waiting = 1_000;

    println!(
        "## Engine alone: one routing decision, median (p99 in the same unit), {} rounds{}",
        thousands(rounds),
        if quick { " [quick]" } else { "" }
    );
    let header: Vec<String> = sizes
        .iter()
        .map(|n| format!("{} agents", thousands(*n)))
        .collect();
    print_row("decision", &header);
    print_row(
        &"-".repeat(62),
        &sizes.iter().map(|_| "-".repeat(17)).collect::<Vec<_>>(),
    );
    for setup in &setups {
        let cells: Vec<String> = sizes
            .iter()
            .map(|n| decision_call_arrives(*n, *setup, rounds).to_string())
            .collect();
        print_row(
            &format!("call arrives, all idle ({})", setup.label()),
            &cells,
        );
    }
    for setup in &setups {
        let cells: Vec<String> = sizes
            .iter()
            .map(|n| decision_agent_frees_up(*n, waiting, *setup, rounds).to_string())
            .collect();
        print_row(
            &format!(
                "agent frees up, {} waiting ({})",
                thousands(waiting),
                setup.label()
            ),
            &cells,
        );
    }
    let cells: Vec<String> = sizes
        .iter()
        .map(|n| decision_cold_pool(*n, cold_rounds).to_string())
        .collect();
    print_row(
        &format!(
            "call arrives, no other call keeps its pool ({} rounds)",
            thousands(cold_rounds)
        ),
        &cells,
    );
    read_model_rows(quick);

    let [first, second, third] = waiting_by_step(waiting);
    println!(
        "Skills: agents hold 2-4 of 5 languages and 5 products at levels 1-10; a caller asks for a \
         language at {CALLER_LEVEL} (required in step 1, preferred from 30 s, ignored from 90 s). \
         The {} waiting calls wait in steps 1/2/3: {first}/{second}/{third}.",
        thousands(waiting)
    );
    println!(
        "## IVR: one step, median (p99), {} callers, 1,000 others in the flow",
        thousands(rounds)
    );
    let [entered, prompt_ended, key_to_queue] = ivr_steps(1_000, rounds);
    print_row(
        "a caller enters a flow (answer, menu prompt)",
        &[entered.to_string()],
    );
    print_row(
        "the prompt ends (the menu listens)",
        &[prompt_ended.to_string()],
    );
    print_row(
        "a key: set, condition, enqueue (with routing)",
        &[key_to_queue.to_string()],
    );
    println!("## Memory (engine state)");
    for setup in [Setup::Plain, Setup::Skills(Strategy::LongestIdleAgent)] {
        println!(
            "per agent, 10,000 idle agents ({}): {:>7.0} bytes",
            setup.label(),
            memory_per_agent(10_000, setup)
        );
        println!(
            "per waiting call, 10,000 calls ({}): {:>7.0} bytes",
            setup.label(),
            memory_per_call(10_000, setup)
        );
    }

    end_to_end_runs(quick);
}

/// (c): the whole controller under load, with and without skills, with a webhook receiver that
/// is down or hangs.
fn end_to_end_runs(quick: bool) {
    println!("## End to end (simulator → ESL → controller → ESL → simulator)");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let seconds = if quick { 2 } else { 10 };
    use end_to_end::Receiver;
    let runs: &[(u32, bool, Receiver)] = if quick {
        &[
            (500, false, Receiver::None),
            (500, true, Receiver::None),
            (500, false, Receiver::Down),
        ]
    } else {
        // The receiver rows right after the row they compare with, before saturation; the
        // saturating run last but one, since its callers linger in its simulator.
        &[
            (500, false, Receiver::None),
            (500, false, Receiver::Down),
            (500, false, Receiver::Hanging),
            (1_000, false, Receiver::None),
            (1_000, false, Receiver::Hanging),
            (500, true, Receiver::None),
            (1_000, true, Receiver::None),
            (2_000, false, Receiver::None),
        ]
    };
    for (rate, skills, receiver) in runs {
        let report = runtime.block_on(end_to_end::run(
            *rate,
            Duration::from_secs(seconds),
            500,
            *skills,
            *receiver,
        ));
        println!("{report}");
    }
}

mod end_to_end {
    use std::time::{Duration, Instant};

    use switchboard::config::DialString;
    use switchboard::engine::{
        parse_skill_list, AgentId, CallerSkills, EscalationStep, Membership, QueueId, QueueRouting,
        SkillLevel, Strategy,
    };
    use switchboard::sim::{CallSpec, EntryPoint, PhoneBehavior, PhoneSpec, SimConfig, Simulator};
    use switchboard::store::{AgentRow, QueueRow};
    use tokio::net::TcpListener;

    use crate::common;

    /// The CRM webhook receiver during a run: every event type is subscribed to it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Receiver {
        /// No subscription.
        None,
        /// Nothing listens: every delivery fails at once and is retried.
        Down,
        /// Accepts connections and never answers: every delivery waits out its timeout.
        Hanging,
    }

    /// A subscription to every event type at a receiver that is down or hangs; the listener
    /// of a hanging one is kept alive by the returned task.
    async fn receiver(kind: Receiver) -> Vec<switchboard::store::Subscription> {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        match kind {
            Receiver::None => return Vec::new(),
            Receiver::Down => drop(listener),
            Receiver::Hanging => {
                tokio::spawn(async move {
                    let mut held = Vec::new();
                    while let Ok((socket, _)) = listener.accept().await {
                        held.push(socket);
                    }
                });
            }
        }
        vec![switchboard::store::Subscription {
            name: "crm".into(),
            url,
            events: switchboard::cti::EVENT_TYPES
                .iter()
                .map(|t| (*t).to_owned())
                .collect(),
            queues: Vec::new(),
            secrets: vec![switchboard::cti::signing::Secret::generate()],
            enabled: true,
            disabled_reason: None,
        }]
    }

    /// An agent as the run wants it provisioned.
    struct BenchAgent {
        id: AgentId,
        user: String,
        skills: Vec<SkillLevel>,
    }

    /// The store rows for the run: the only code that knows `QueueRow` and `AgentRow`.
    fn rows(routing: &QueueRouting, agents: &[BenchAgent]) -> (Vec<QueueRow>, Vec<AgentRow>) {
        let queue = QueueRow {
            id: QueueId::new("support").expect("id"),
            name: "Support".into(),
            moh: "local_stream://moh".into(),
            wrap_up_ms: 0,
            ring_timeout_ms: 20_000,
            busy_backoff_ms: None,
            routing: routing.clone(),
        };
        let agents = agents
            .iter()
            .map(|a| AgentRow {
                id: a.id.clone(),
                name: format!("Agent {}", a.id),
                dial_string: DialString::parse(&format!("user/{}", a.user)).expect("dial"),
                queues: vec![Membership::new(queue.id.clone(), 1)],
                skills: a.skills.clone(),
                pin_hash: None,
            })
            .collect();
        (vec![queue], agents)
    }

    /// Skills routing for the end-to-end run: English at 5 or better first (asked for by the
    /// queue itself, so the step has a requirement even where the caller's `switchboard_skills`
    /// is not read), plus whatever the caller asks for; from 30 s the caller's skills only
    /// rank; from 90 s anyone.
    fn routing(skills: bool) -> QueueRouting {
        if !skills {
            return QueueRouting::default();
        }
        let english = |level: u8| parse_skill_list(&format!("english:{level}")).expect("skill");
        QueueRouting {
            strategy: Strategy::LongestIdleAgent,
            steps: vec![
                EscalationStep {
                    after: Duration::ZERO,
                    require: english(5),
                    caller_skills: CallerSkills::Require,
                    ..EscalationStep::default()
                },
                EscalationStep {
                    after: Duration::from_secs(30),
                    require: english(1),
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

    /// Offers `rate` calls per second for `duration` to `agents` agents whose phones answer at
    /// once and hang up after 200 ms; reports what the controller sustained. With `skills`,
    /// agents hold English at 4-10 and one to three other skills, the queue has escalation
    /// steps, and the dialplan sets `switchboard_skills` on every caller.
    pub async fn run(
        rate: u32,
        duration: Duration,
        agents: usize,
        skills: bool,
        crm: Receiver,
    ) -> String {
        let caller_skills = "english:5";
        let mut variables = vec![("switchboard_queue".into(), "support".into())];
        if skills {
            variables.push(("switchboard_skills".into(), caller_skills.into()));
        }
        let sim = Simulator::start(
            TcpListener::bind("127.0.0.1:0").await.expect("bind"),
            SimConfig {
                entry_points: vec![EntryPoint {
                    number: "5000".into(),
                    variables,
                }],
                ..SimConfig::default()
            },
        )
        .await
        .expect("sim");
        let mut rng = super::Rng(99);
        let mut bench_agents = Vec::new();
        for i in 0..agents {
            let user = format!("{}", 10_000 + i);
            sim.add_phone(PhoneSpec {
                user: user.clone(),
                behavior: PhoneBehavior::Answer {
                    after: Duration::ZERO,
                },
                hangup_after_talk: Some(Duration::from_millis(200)),
            });
            let skills = if skills {
                let others = rng.agent_skills();
                let list = format!("english:{},{others}", 4 + rng.below(7));
                parse_skill_list(&list).expect("skills")
            } else {
                Vec::new()
            };
            bench_agents.push(BenchAgent {
                id: AgentId::new(format!("a{i}")).expect("id"),
                user,
                skills,
            });
        }
        let (queues, rows) = rows(&routing(skills), &bench_agents);
        let dir = tempfile::tempdir().expect("tempdir");
        let running = common::controller::start(
            dir.path(),
            sim.esl_addr().port(),
            common::controller::Setup {
                queues,
                agents: rows,
                flows: None,
                webhooks: receiver(crm).await,
            },
        )
        .await;
        // What reached the engine: agents' skills at start, callers' skills while calls wait
        // or talk (sampled from the published snapshot).
        let agents_with_skills = running
            .snapshot()
            .agents
            .iter()
            .filter(|a| !a.skills.is_empty())
            .count();
        let mut callers_with_skills = false;
        let mut last_sample = Instant::now();
        let started = Instant::now();
        let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
        let mut next = Instant::now();
        let mut placed = 0u64;
        while started.elapsed() < duration {
            while Instant::now() >= next {
                placed += 1;
                sim.place_call(CallSpec {
                    caller_number: format!("{placed}"),
                    caller_name: "Load".into(),
                    destination: "5000".into(),
                    patience: Some(Duration::from_secs(30)),
                    talk_time: None,
                });
                next += interval;
            }
            if skills && !callers_with_skills && last_sample.elapsed() >= Duration::from_millis(200)
            {
                last_sample = Instant::now();
                callers_with_skills = running
                    .snapshot()
                    .calls
                    .iter()
                    .any(|c| !c.skills.is_empty());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let offered_window = started.elapsed();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let snapshot = running.snapshot();
        let h = &running.metrics.routing_latency;
        let mut mode = if !skills {
            "no skills".to_owned()
        } else {
            let yes_no = |b: bool| if b { "yes" } else { "NO" };
            format!(
                "skills: agents with skills in the engine {agents_with_skills}/{agents}, callers' skills reached the engine: {}",
                yes_no(callers_with_skills)
            )
        };
        match crm {
            Receiver::None => {}
            Receiver::Down => mode.push_str(", webhook receiver down"),
            Receiver::Hanging => mode.push_str(", webhook receiver hanging"),
        }
        let report = format!(
            "[{mode}] offered {rate:>5}/s for {:?} to {agents} agents: placed={placed} routed={} answered={} ({:.0}/s) abandoned={} routing latency p50<={:?} p99<={:?}",
            offered_window,
            h.count(),
            snapshot.counters.answered,
            snapshot.counters.answered as f64 / offered_window.as_secs_f64(),
            snapshot.counters.abandoned,
            h.quantile(0.5).unwrap_or_default(),
            h.quantile(0.99).unwrap_or_default(),
        );
        running.stop().await.expect("stop");
        report
    }
}
