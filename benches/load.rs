//! The load benchmark: `cargo bench --bench load`.
//!
//! The whole controller under sustained load, with the simulated FreeSWITCH in a child process
//! of its own (this binary, run again with `--simulator`), so that what is measured in this
//! process is the controller alone: its CPU time per call, its threads' share of the cores, its
//! resident memory per agent and per call. Callers arrive at a steady rate, half straight into
//! the queue, half through a short IVR menu where they press 1; agents' phones answer at once
//! and hang up after a talk time. Routing latency is the controller's own histogram (routable
//! event received → agent leg's originate accepted by the switch). A rate counts as sustained
//! only if the history keeps up too: each run ends with how many records the history writer
//! has yet to commit.
//!
//! `-- --runs rate[,rate…]` picks the rates (default 500, 1000, 2000, 3000), `-- --scale` runs
//! only the scale run (100,000 agents, 20,000 calls in progress), `-- --quick` shortens
//! everything (also any run without cargo bench's `--bench` argument), `-- --statements` also
//! counts the SQL statements a call costs (sqlx's statement log, which itself costs CPU: count
//! in one run, measure CPU in another).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use switchboard::app;
use switchboard::config::DialString;
use switchboard::engine::{AgentId, Membership, QueueId, QueueRouting};
use switchboard::metrics::HistogramSample;
use switchboard::sim::{CallSpec, EntryPoint, PhoneBehavior, PhoneSpec, SimConfig, Simulator};
use switchboard::store::{AgentRow, QueueRow};
use tokio::net::TcpListener;

mod common;

/// The controller binary's allocator (`src/main.rs`), so the bench measures what it runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// SQL statements run so far, when `--statements` counts them.
static STATEMENTS: AtomicU64 = AtomicU64::new(0);
/// Whether `--statements` counts them.
static COUNTING_STATEMENTS: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Counts sqlx's statement log events (one per statement run).
struct StatementCounter;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for StatementCounter {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() == "sqlx::query" {
            STATEMENTS.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn count_statements() {
    use tracing_subscriber::layer::SubscriberExt;
    let subscriber = tracing_subscriber::registry().with(tracing_subscriber::Layer::with_filter(
        StatementCounter,
        tracing_subscriber::filter::Targets::new()
            .with_target("sqlx::query", tracing::Level::DEBUG),
    ));
    if tracing::subscriber::set_global_default(subscriber).is_ok() {
        COUNTING_STATEMENTS.store(true, Ordering::Relaxed);
    }
}

/// The number that parks callers straight into the queue.
const QUEUE_NUMBER: &str = "5000";
/// The number that parks callers into the IVR flow.
const FLOW_NUMBER: &str = "5003";
/// The IVR: one menu, key 1 to the queue (any other way ends there too).
const LOAD_FLOW: &str = r#"
name = "Load line"
start = "menu"
entry_points = ["load"]

[node.menu]
kind = "menu"
prompt = "ivr/ivr-generic_greeting.wav"
timeout = "3s"
retries = 1
on_invalid = "support"
on_no_input = "support"
[node.menu.options]
1 = "support"

[node.support]
kind = "enqueue"
queue = "support"
"#;
/// When the IVR caller presses 1, after its call is answered: during the menu prompt, which
/// takes it at once (barge-in).
const KEY_AFTER: Duration = Duration::from_millis(100);

/// One run's shape.
#[derive(Debug, Clone, Copy)]
struct Shape {
    rate: u32,
    seconds: u64,
    agents: usize,
    talk: Duration,
    /// Measure only the last seconds (the first ones fill the contact center up).
    settle: u64,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--simulator") {
        simulator_process(&args);
        return;
    }
    if args.iter().any(|a| a == "--statements") {
        count_statements();
    }
    let quick = args.iter().any(|a| a == "--quick")
        || std::env::var_os("SWITCHBOARD_BENCH_QUICK").is_some()
        || !args.iter().any(|a| a == "--bench");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let seconds = if quick { 3 } else { 15 };
    println!("## Load (simulator in its own process → ESL → controller → ESL → simulator)");
    println!("{}", machine());
    if args.iter().any(|a| a == "--scale") || !quick && !args.iter().any(|a| a == "--runs") {
        let shape = if quick {
            Shape {
                rate: 200,
                seconds: 8,
                agents: 10_000,
                talk: Duration::from_secs(5),
                settle: 5,
            }
        } else {
            Shape {
                rate: 500,
                seconds: 60,
                agents: 100_000,
                talk: Duration::from_secs(40),
                settle: 42,
            }
        };
        let small = Shape {
            agents: 1_000,
            talk: Duration::from_millis(200),
            ..shape
        };
        for s in [small, shape] {
            println!("{}", runtime.block_on(run(s)));
        }
        if args.iter().any(|a| a == "--scale") {
            return;
        }
    }
    let rates: Vec<u32> = match args.iter().position(|a| a == "--runs") {
        Some(i) => args
            .get(i + 1)
            .map(|list| list.split(',').filter_map(|r| r.parse().ok()).collect())
            .unwrap_or_default(),
        None if quick => vec![500],
        None => vec![500, 1_000, 2_000, 3_000],
    };
    for rate in rates {
        let shape = Shape {
            rate,
            seconds,
            agents: 1_000,
            talk: Duration::from_millis(200),
            settle: 2,
        };
        println!("{}", runtime.block_on(run(shape)));
    }
}

/// What this machine is, for the report.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("machine: {model}, {cores} cores")
}

/// The simulator's process, started by [`Sim::spawn`].
struct Sim {
    child: Child,
    stdin: ChildStdin,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
    port: u16,
}

impl Sim {
    fn spawn(shape: Shape) -> Sim {
        let exe = std::env::current_exe().expect("the bench's path");
        let mut child = Command::new(exe)
            .args([
                "--simulator".to_owned(),
                shape.agents.to_string(),
                shape.rate.to_string(),
                shape.seconds.to_string(),
                shape.talk.as_millis().to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the simulator's process starts");
        let stdin = child.stdin.take().expect("stdin");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let port = expect_line(&mut lines, "esl ")
            .parse()
            .expect("the simulator's port");
        Sim {
            child,
            stdin,
            lines,
            port,
        }
    }

    fn tell(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("the simulator listens");
        self.stdin.flush().expect("flush");
    }
}

fn expect_line(lines: &mut impl Iterator<Item = std::io::Result<String>>, prefix: &str) -> String {
    for line in lines.by_ref() {
        let line = line.expect("the simulator's output");
        if let Some(rest) = line.strip_prefix(prefix) {
            return rest.to_owned();
        }
    }
    panic!("the simulator ended before saying {prefix:?}");
}

/// The child: a simulator with `agents` phones, placing `rate` calls a second for `seconds`
/// once told `go`, half of them through the IVR; says how many it placed and its own CPU time,
/// then keeps the switch up until told `stop`.
fn simulator_process(args: &[String]) {
    let number = |i: usize| -> u64 {
        args.get(i)
            .and_then(|a| a.parse().ok())
            .expect("simulator arguments: agents rate seconds talk_ms")
    };
    let (agents, rate, seconds, talk_ms) = (number(2), number(3), number(4), number(5));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let sim = Simulator::start(
            TcpListener::bind("127.0.0.1:0").await.expect("bind"),
            SimConfig {
                heartbeat_interval: Duration::from_secs(20),
                entry_points: vec![
                    EntryPoint {
                        number: QUEUE_NUMBER.into(),
                        variables: vec![("switchboard_queue".into(), "support".into())],
                    },
                    EntryPoint {
                        number: FLOW_NUMBER.into(),
                        variables: vec![("switchboard_flow".into(), "load".into())],
                    },
                ],
                ..SimConfig::default()
            },
        )
        .await
        .expect("sim");
        for i in 0..agents {
            sim.add_phone(PhoneSpec {
                user: phone_user(i as usize),
                behavior: PhoneBehavior::Answer {
                    after: Duration::ZERO,
                },
                hangup_after_talk: Some(Duration::from_millis(talk_ms)),
            });
        }
        println!("esl {}", sim.esl_addr().port());
        let mut commands = tokio::io::BufReader::new(tokio::io::stdin());
        let mut line = String::new();
        use tokio::io::AsyncBufReadExt;
        commands.read_line(&mut line).await.expect("go");
        let cpu_before = process_cpu();
        let started = Instant::now();
        let interval = Duration::from_secs_f64(1.0 / rate as f64);
        let mut next = Instant::now();
        let mut placed = 0u64;
        while started.elapsed() < Duration::from_secs(seconds) {
            while Instant::now() >= next {
                placed += 1;
                let spec = CallSpec {
                    caller_number: format!("{placed}"),
                    caller_name: "Load".into(),
                    destination: String::new(),
                    patience: Some(Duration::from_secs(60)),
                    talk_time: None,
                };
                if placed % 2 == 0 {
                    sim.place_call(CallSpec {
                        destination: QUEUE_NUMBER.into(),
                        ..spec
                    });
                } else {
                    sim.place_call_pressing(
                        CallSpec {
                            destination: FLOW_NUMBER.into(),
                            ..spec
                        },
                        vec![(KEY_AFTER, "1".into())],
                    );
                }
                next += interval;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        println!(
            "placed {placed} {}",
            (process_cpu() - cpu_before).as_micros()
        );
        line.clear();
        let _ = commands.read_line(&mut line).await;
    });
}

fn phone_user(i: usize) -> String {
    format!("{}", 100_000 + i)
}

/// CPU time (user + system) of this whole process so far.
fn process_cpu() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a whole rusage into the pointer it is given.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// Resident memory of this process, in bytes.
fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// CPU time of each of this process's threads, by thread name (threads of one name summed).
fn thread_cpu() -> std::collections::BTreeMap<String, Duration> {
    let mut out = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for task in tasks.flatten() {
        let path = task.path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        let name = name.trim().trim_end_matches(|c: char| c.is_ascii_digit());
        let name = name.trim_end_matches(['-', ' ']).to_owned();
        let ns = std::fs::read_to_string(path.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0);
        *out.entry(name).or_default() += Duration::from_nanos(ns);
    }
    out
}

/// One run: a fresh controller and simulator, `shape.rate` calls a second.
async fn run(shape: Shape) -> String {
    let mut sim = Sim::spawn(shape);
    let dir = tempfile::tempdir().expect("tempdir");
    let flows = dir.path().join("flows");
    std::fs::create_dir_all(&flows).expect("flows dir");
    std::fs::write(flows.join("load.toml"), LOAD_FLOW).expect("flow file");
    let queue = QueueRow {
        id: QueueId::new("support").expect("id"),
        name: "Support".into(),
        moh: "local_stream://moh".into(),
        wrap_up_ms: 0,
        ring_timeout_ms: 20_000,
        busy_backoff_ms: None,
        routing: QueueRouting::default(),
    };
    let rss_empty = resident_bytes();
    let agents: Vec<AgentRow> = (0..shape.agents)
        .map(|i| AgentRow {
            id: AgentId::new(format!("a{i}")).expect("id"),
            name: format!("Agent {i}"),
            dial_string: DialString::parse(&format!("user/{}", phone_user(i))).expect("dial"),
            queues: vec![Membership::new(queue.id.clone(), 1)],
            skills: Vec::new(),
            pin_hash: None,
        })
        .collect();
    let running = common::controller::start(
        dir.path(),
        sim.port,
        common::controller::Setup {
            queues: vec![queue],
            agents,
            flows: Some(flows),
            webhooks: Vec::new(),
        },
    )
    .await;
    // Logging in and announcing many agents takes the controller a while after it connects:
    // callers start once it is idle (under a tenth of a core over half a second).
    let idle_by = Instant::now() + Duration::from_secs(300);
    loop {
        let before = process_cpu();
        tokio::time::sleep(Duration::from_millis(500)).await;
        if process_cpu() - before < Duration::from_millis(50) || Instant::now() > idle_by {
            break;
        }
    }
    let rss_agents = resident_bytes();
    let latency = &running.metrics.routing_latency;
    sim.tell("go");
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(shape.settle)).await;
    let from = Sample::take(&running, latency);
    let (placed, sim_cpu) = tokio::task::block_in_place(|| {
        let line = expect_line(&mut sim.lines, "placed ");
        let mut parts = line
            .split_whitespace()
            .map(|p| p.parse::<u64>().unwrap_or(0));
        (
            parts.next().unwrap_or(0),
            Duration::from_micros(parts.next().unwrap_or(0)),
        )
    });
    let offered_window = started.elapsed();
    let to = Sample::take(&running, latency);
    let in_progress = running.snapshot().calls.len();
    let rss_loaded = resident_bytes();
    // Let the last calls finish before the controller stops.
    sim.tell("stop");
    tokio::time::sleep(Duration::from_millis(300)).await;
    running.stop().await.expect("stop");
    let _ = sim.child.wait();
    to.report(&from, shape, placed, offered_window, sim_cpu, in_progress)
        + &format!(
            "\n  memory (resident, whole process): {:.0} MiB before the agents, {:.0} MiB with them ({:.0} bytes an agent), {:.0} MiB with {in_progress} calls in progress ({} bytes a call)",
            mib(rss_empty),
            mib(rss_agents),
            rss_agents.saturating_sub(rss_empty) as f64 / shape.agents as f64,
            mib(rss_loaded),
            if in_progress > 0 {
                format!("{:.0}", rss_loaded.saturating_sub(rss_agents) as f64 / in_progress as f64)
            } else {
                "-".into()
            },
        )
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// The controller's counters and clocks at one moment.
struct Sample {
    at: Instant,
    latency: HistogramSample,
    turns: HistogramSample,
    publishes: HistogramSample,
    answered: u64,
    events: u64,
    commands: u64,
    statements: u64,
    history_waiting: u64,
    cpu: Duration,
    threads: std::collections::BTreeMap<String, Duration>,
}

impl Sample {
    fn take(running: &app::Running, latency: &switchboard::metrics::Histogram) -> Sample {
        Sample {
            at: Instant::now(),
            latency: latency.sample(),
            turns: running.metrics.engine_turn.sample(),
            publishes: running.metrics.engine_publish.sample(),
            answered: running.snapshot().counters.answered,
            events: running.metrics.events_received.load(Ordering::Relaxed),
            commands: running.metrics.commands_sent.load(Ordering::Relaxed),
            statements: STATEMENTS.load(Ordering::Relaxed),
            history_waiting: running.metrics.history_records_waiting(),
            cpu: process_cpu(),
            threads: thread_cpu(),
        }
    }

    fn report(
        &self,
        from: &Sample,
        shape: Shape,
        placed: u64,
        offered_window: Duration,
        sim_cpu: Duration,
        in_progress: usize,
    ) -> String {
        let window = self.at - from.at;
        let latency = self.latency.since(&from.latency);
        let turns = self.turns.since(&from.turns);
        let publishes = self.publishes.since(&from.publishes);
        let answered = self.answered - from.answered;
        let per_call = |n: u64| n as f64 / answered.max(1) as f64;
        let events = per_call(self.events - from.events);
        let commands = per_call(self.commands - from.commands);
        let statements = if COUNTING_STATEMENTS.load(Ordering::Relaxed) {
            format!(
                ", {:.1} SQL statements",
                per_call(self.statements - from.statements)
            )
        } else {
            String::new()
        };
        let cpu = self.cpu - from.cpu;
        let share = |d: Duration| 100.0 * d.as_secs_f64() / window.as_secs_f64();
        let threads: Vec<String> = self
            .threads
            .iter()
            .filter_map(|(name, t)| {
                let used = t.saturating_sub(from.threads.get(name).copied().unwrap_or_default());
                (share(used) >= 0.5).then(|| format!("{name} {:.0} %", share(used)))
            })
            .collect();
        format!(
            "offered {:>5}/s for {:?} to {} agents (talk {:?}), half through the IVR: placed {placed}; measured over the last {:.1} s: answered {answered} ({:.0}/s), routed {}, routing latency p50 <= {:?}, p99 <= {:?}, max <= {:?}; {in_progress} calls in progress at the end\n  engine task: {} turns, p50 <= {:?}, p99 <= {:?}, max <= {:?}; read model published {} times, p50 <= {:?}, p99 <= {:?}, max <= {:?}\n  controller CPU {:.0} % of one core, {:.0} µs a call answered ({events:.1} events, {commands:.1} commands{statements} a call; history {} records behind at the end); threads: {}\n  simulator process CPU {:.0} % of one core over the offered window",
            shape.rate,
            offered_window,
            shape.agents,
            shape.talk,
            window.as_secs_f64(),
            answered as f64 / window.as_secs_f64(),
            latency.count(),
            latency.quantile(0.5).unwrap_or_default(),
            latency.quantile(0.99).unwrap_or_default(),
            latency.quantile(1.0).unwrap_or_default(),
            turns.count(),
            turns.quantile(0.5).unwrap_or_default(),
            turns.quantile(0.99).unwrap_or_default(),
            turns.quantile(1.0).unwrap_or_default(),
            publishes.count(),
            publishes.quantile(0.5).unwrap_or_default(),
            publishes.quantile(0.99).unwrap_or_default(),
            publishes.quantile(1.0).unwrap_or_default(),
            share(cpu),
            if answered > 0 { cpu.as_micros() as f64 / answered as f64 } else { 0.0 },
            self.history_waiting,
            threads.join(", "),
            100.0 * sim_cpu.as_secs_f64() / offered_window.as_secs_f64(),
        )
    }
}
