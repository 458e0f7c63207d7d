//! The routing benchmark: `cargo bench --bench routing`.
//!
//! (a) the engine alone: one routing decision with 1,000 and 10,000 agents and 1,000 waiting
//! calls; (b) end to end over loopback TCP, the simulator as load generator: sustained calls per
//! second and routing latency (routable event received → agent originate accepted);
//! (c) memory per agent and per active call, counted by a wrapping allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use switchboard::engine::{
    AgentId, AgentSettings, AgentStatus, ChannelUuid, Engine, Input, Membership, ParkedCall,
    QueueId, QueueRouting, QueueSettings, RequestedState, SwitchName, Timestamp,
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

fn queue() -> QueueId {
    QueueId::new("support").expect("id")
}

fn engine_with(agents: usize, logged_in: bool) -> Engine {
    let mut engine = Engine::new(1);
    engine.provision_queue(QueueSettings {
        id: queue(),
        name: "Support".into(),
        moh: "local_stream://moh".into(),
        wrap_up: Duration::ZERO,
        ring_timeout: Duration::from_secs(20),
        busy_backoff: Duration::from_secs(10),
        routing: QueueRouting::default(),
    });
    for i in 0..agents {
        let status = if logged_in {
            AgentStatus::Available
        } else {
            AgentStatus::LoggedOut
        };
        engine.provision_agent(Timestamp::from_millis(i as i64), agent(i), status);
    }
    engine
}

fn agent(i: usize) -> AgentSettings {
    AgentSettings {
        id: AgentId::new(format!("a{i}")).expect("id"),
        name: format!("Agent {i}"),
        dial_string: format!("user/{}", 10_000 + i),
        queues: vec![Membership::new(queue(), 1)],
        skills: Vec::new(),
    }
}

fn park(n: u128) -> Input {
    Input::CallParked(ParkedCall {
        switch: SwitchName::new("fs1").expect("name"),
        channel: ChannelUuid::from_uuid(uuid::Uuid::from_u128(n + 1)),
        queue: queue(),
        caller_number: "+4930123456".into(),
        caller_name: "Caller".into(),
        destination: "5000".into(),
        priority: 0,
        skills: Vec::new(),
    })
}

/// A call arrives and the longest-idle of `agents` idle agents is chosen.
fn decision_call_arrives(agents: usize) -> Duration {
    let mut engine = engine_with(agents, true);
    let rounds = 20_000u128;
    let mut spent = Duration::ZERO;
    for n in 0..rounds {
        let now = Timestamp::from_millis(1_000_000 + n as i64);
        let start = Instant::now();
        let effects = engine.handle(now, park(n));
        spent += start.elapsed();
        // The caller gives up while the agent rings, which frees the agent again.
        let channel = ChannelUuid::from_uuid(uuid::Uuid::from_u128(n + 1));
        drop(effects);
        engine.handle(
            now,
            Input::ChannelHungUp {
                switch: SwitchName::new("fs1").expect("name"),
                channel,
                cause: "NORMAL_CLEARING".into(),
            },
        );
    }
    spent / rounds as u32
}

/// An agent becomes available while `waiting` calls wait; the best call is chosen.
fn decision_agent_frees_up(agents: usize, waiting: usize) -> Duration {
    let mut engine = engine_with(agents, false);
    for n in 0..waiting as u128 {
        engine.handle(Timestamp::from_millis(n as i64), park(n));
    }
    let rounds = 20_000usize;
    let mut spent = Duration::ZERO;
    for r in 0..rounds {
        let id = AgentId::new(format!("a{}", r % agents)).expect("id");
        let now = Timestamp::from_millis(2_000_000 + r as i64);
        let start = Instant::now();
        let effects = engine.set_agent_state(now, &id, RequestedState::Available);
        spent += start.elapsed();
        drop(effects);
        // Logging out while offered puts the call back at its place: the queue stays full.
        let _ = engine.set_agent_state(now, &id, RequestedState::LoggedOut);
    }
    spent / rounds as u32
}

fn memory_per_agent(agents: usize) -> f64 {
    let before = live();
    let engine = engine_with(agents, true);
    let after = live();
    drop(engine);
    (after - before) as f64 / agents as f64
}

fn memory_per_call(calls: usize) -> f64 {
    let mut engine = engine_with(1, false);
    let before = live();
    for n in 0..calls as u128 {
        engine.handle(Timestamp::from_millis(n as i64), park(n));
    }
    let after = live();
    (after - before) as f64 / calls as f64
}

fn main() {
    // `cargo test --benches` runs bench targets with `--bench`-less args; keep that quick.
    let quick = std::env::args().any(|a| a == "--quick")
        || std::env::var_os("SWITCHBOARD_BENCH_QUICK").is_some();
    println!("## Engine alone (one routing decision)");
    for agents in [1_000, 10_000] {
        println!(
            "call arrives, {agents:>6} idle agents:                 {:>8.2?}",
            decision_call_arrives(agents)
        );
        println!(
            "agent frees up, {agents:>6} agents, 1,000 waiting calls: {:>8.2?}",
            decision_agent_frees_up(agents, 1_000)
        );
    }
    println!("## Memory (engine state)");
    println!(
        "per agent (10,000 agents): {:>7.0} bytes",
        memory_per_agent(10_000)
    );
    println!(
        "per waiting call (10,000 calls): {:>7.0} bytes",
        memory_per_call(10_000)
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let seconds = if quick { 3 } else { 10 };
    for rate in [500u32, 1_000, 2_000] {
        let report = runtime.block_on(end_to_end::run(rate, Duration::from_secs(seconds), 500));
        println!("{report}");
    }
}

mod end_to_end {
    use std::time::{Duration, Instant};

    use switchboard::app::{self, StartOptions};
    use switchboard::config::DialString;
    use switchboard::engine::{AgentId, Membership, QueueId, QueueRouting, SwitchName};
    use switchboard::esl::SwitchSettings;
    use switchboard::sim::{CallSpec, EntryPoint, PhoneBehavior, PhoneSpec, SimConfig, Simulator};
    use switchboard::store::{AgentRow, QueueRow};
    use tokio::net::TcpListener;

    /// Offers `rate` calls per second for `duration` to `agents` agents whose phones answer at
    /// once and hang up after 200 ms; reports what the controller sustained.
    pub async fn run(rate: u32, duration: Duration, agents: usize) -> String {
        let sim = Simulator::start(
            TcpListener::bind("127.0.0.1:0").await.expect("bind"),
            SimConfig {
                entry_points: vec![EntryPoint {
                    number: "5000".into(),
                    variables: vec![("switchboard_queue".into(), "support".into())],
                }],
                ..SimConfig::default()
            },
        )
        .await
        .expect("sim");
        let mut rows = Vec::new();
        for i in 0..agents {
            let user = format!("{}", 10_000 + i);
            sim.add_phone(PhoneSpec {
                user: user.clone(),
                behavior: PhoneBehavior::Answer {
                    after: Duration::ZERO,
                },
                hangup_after_talk: Some(Duration::from_millis(200)),
            });
            rows.push(AgentRow {
                id: AgentId::new(format!("a{i}")).expect("id"),
                name: format!("Agent {i}"),
                dial_string: DialString::parse(&format!("user/{user}")).expect("dial"),
                queues: vec![Membership::new(QueueId::new("support").expect("id"), 1)],
                skills: Vec::new(),
            });
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let running = app::start(StartOptions {
            http: TcpListener::bind("127.0.0.1:0").await.expect("bind"),
            database_url: format!("sqlite://{}", dir.path().join("bench.db").display()),
            switches: vec![SwitchSettings {
                name: SwitchName::new("sim").expect("name"),
                host: "127.0.0.1".into(),
                port: sim.esl_addr().port(),
                password: "ClueCon".into(),
                liveness_timeout: Duration::from_secs(30),
                reconnect_max: Duration::from_secs(1),
                command_connections: 4,
            }],
            queues: vec![QueueRow {
                id: QueueId::new("support").expect("id"),
                name: "Support".into(),
                moh: "local_stream://moh".into(),
                wrap_up_ms: 0,
                ring_timeout_ms: 20_000,
                busy_backoff_ms: None,
                routing: QueueRouting::default(),
            }],
            log_in: rows.iter().map(|r| r.id.clone()).collect(),
            agents: rows,
            busy_backoff: Duration::from_secs(1),
            seed: 1,
        })
        .await
        .expect("start");
        while running
            .metrics
            .esl_connects
            .load(std::sync::atomic::Ordering::Relaxed)
            == 0
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
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
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let offered_window = started.elapsed();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let snapshot = running.snapshot();
        let h = &running.metrics.routing_latency;
        let report = format!(
            "offered {rate:>5}/s for {:?} to {agents} agents: placed={placed} routed={} answered={} ({:.0}/s) abandoned={} routing latency p50<={:?} p99<={:?}",
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
