//! The soak: steady traffic for a long time, to show that memory stays flat and that no call
//! or agent is leaked. Ignored by default (it runs for as long as it is told):
//!
//! ```text
//! SOAK_MINUTES=60 SOAK_RATE=10 nice -n 19 cargo test --locked --test it soak -- --ignored --nocapture
//! ```
//!
//! The controller and the simulator run in this process, so the process's resident memory
//! (`VmRSS`) covers both. The harness's switch ledger is left out here: it keeps every channel
//! it ever saw, which would grow with the run; the soak checks what it stands for itself (every
//! call ended once in the history, nothing left on the switch or in the engine).

use std::time::{Duration, Instant};

use switchboard::engine::recording::{RecordingMode, RecordingPolicy};
use switchboard::engine::{AgentStatus, QueueRouting};
use switchboard::sim::{CallSpec, PhoneBehavior};

use crate::harness::{queue_row, spawn_setup, Agent, Setup, TestApp, ENTRY};

/// One sample of the run, as printed (and compared) every `SOAK_SAMPLE_SECS`.
#[derive(Debug, Clone)]
struct Sample {
    at: Duration,
    placed: u64,
    rss_kib: u64,
    /// `RssAnon` (the heap: growth here is ours) and `RssFile` (mapped files: the binary and
    /// its debug info paged in, which grows as code runs for the first time).
    anon_kib: u64,
    file_kib: u64,
    /// Calls the engine holds (waiting, ringing, talking).
    engine_calls: usize,
    /// Caller legs on the switch.
    switch_callers: usize,
    /// Agents the engine shows offered or on a call while no leg of theirs is on the switch.
    agents_astray: usize,
    /// Agents paused (auto-paused after missed offers) or unreachable.
    agents_out: usize,
    /// The engine's collections that hold anything, as `name=len` (see
    /// `engine::sizes`): one that follows the calls placed rather than those in progress leaks.
    collections: String,
}

impl Sample {
    fn line(&self) -> String {
        format!(
            "t={:>5}s placed={:>7} rss={:>7} KiB (anon {:>7}, file {:>7}) engine_calls={:>4} switch_callers={:>4} agents_astray={} agents_out={}\n          engine: {}",
            self.at.as_secs(),
            self.placed,
            self.rss_kib,
            self.anon_kib,
            self.file_kib,
            self.engine_calls,
            self.switch_callers,
            self.agents_astray,
            self.agents_out,
            self.collections
        )
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `VmRSS`, `RssAnon` and `RssFile` of this process, in KiB.
fn rss_kib() -> (u64, u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("RssAnon:"), field("RssFile:"))
}

/// The least-squares slope of `value` over the samples' times, per minute (0 for fewer than
/// two samples).
fn slope_per_min(samples: &[&Sample], value: impl Fn(&Sample) -> u64) -> f64 {
    let points: Vec<(f64, f64)> = samples
        .iter()
        .map(|s| (s.at.as_secs_f64() / 60.0, value(s) as f64))
        .collect();
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    if sxx == 0.0 {
        0.0
    } else {
        sxy / sxx
    }
}

fn sample(app: &TestApp, started: Instant, placed: u64) -> Sample {
    let snapshot = app.running().snapshot();
    let channels = app.sim.channels();
    let agents_astray = snapshot
        .agents
        .iter()
        .filter(|a| matches!(a.status, AgentStatus::Offered | AgentStatus::OnCall))
        .filter(|a| {
            !channels
                .iter()
                .any(|c| c.variable("switchboard_agent_id") == Some(a.id.as_str()))
        })
        .count();
    let agents_out = snapshot
        .agents
        .iter()
        .filter(|a| matches!(a.status, AgentStatus::Paused | AgentStatus::Unreachable))
        .count();
    let (rss_kib, anon_kib, file_kib) = rss_kib();
    Sample {
        agents_out,
        at: started.elapsed(),
        placed,
        rss_kib,
        anon_kib,
        file_kib,
        collections: snapshot.collections.line(),
        engine_calls: snapshot.calls.len(),
        switch_callers: channels.iter().filter(|c| !c.is_outbound_leg).count(),
        agents_astray,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a long run: SOAK_MINUTES (default 20) at SOAK_RATE calls/s (default 10)"]
async fn soak_keeps_memory_flat_and_leaks_no_call_or_agent() {
    let minutes: f64 = env_or("SOAK_MINUTES", 20.0);
    let rate: f64 = env_or("SOAK_RATE", 10.0);
    let agents_n: usize = env_or("SOAK_AGENTS", 80);
    let sample_every = Duration::from_secs(env_or("SOAK_SAMPLE_SECS", 60));
    let duration = Duration::from_secs_f64(minutes * 60.0);
    // Caches, pools and the allocator's arenas settle within the first minutes.
    let warm_up = Duration::from_secs_f64((minutes * 60.0 / 6.0).clamp(60.0, 600.0));
    // Growth after warm-up allowed: a quarter, and at least 32 MiB of noise (SQLite's page
    // cache and the allocator on a two-core machine under other load).
    let growth_allowed = |base: u64| (base / 4).max(32 * 1024);

    let agents: Vec<Agent> = (0..agents_n)
        .map(|i| {
            let id: &'static str = Box::leak(format!("{}", 2001 + i).into_boxed_str());
            Agent::answering(id)
                .with(PhoneBehavior::Answer {
                    after: Duration::from_millis(100 + (i as u64 % 5) * 100),
                })
                .hanging_up_after(Duration::from_millis(1_000 + (i as u64 % 4) * 500))
        })
        .collect();
    let mut support = queue_row("support", QueueRouting::default());
    // The phones answer within half a second; a ring timeout as long as a real queue's keeps a
    // process starved of CPU by its neighbours (a niced soak on a shared machine) from turning
    // late answers into missed offers and auto-paused agents.
    support.ring_timeout_ms = 15_000;
    support.routing.recording = RecordingPolicy {
        mode: RecordingMode::Always,
        ..RecordingPolicy::default()
    };
    let mut app = spawn_setup(Setup {
        queues: vec![support],
        agents,
        entries: Vec::new(),
    })
    .await;
    // See the module's doc: the soak checks what the ledger stands for itself.
    drop(app.ledger.take());
    app.connected().await;

    let started = Instant::now();
    let gap = Duration::from_secs_f64(1.0 / rate);
    let mut next = Instant::now();
    let mut placed = 0u64;
    let mut samples = vec![sample(&app, started, placed)];
    let mut next_sample = Instant::now() + sample_every;
    println!(
        "soak: {minutes} min at {rate} calls/s, {agents_n} agents, sampled every {sample_every:?}"
    );
    println!("{}", samples[0].line());
    while started.elapsed() < duration {
        while Instant::now() >= next {
            placed += 1;
            // One caller in ten gives up after a second (abandoned in the queue or while an
            // agent rings); the others wait up to a minute, so a machine too busy to keep up
            // shows as abandoned calls, not as a queue growing for the whole run.
            let patience = if placed % 10 == 0 {
                Duration::from_secs(1)
            } else {
                Duration::from_secs(60)
            };
            app.sim.place_call(CallSpec {
                caller_number: format!("+4930555{:05}", placed % 100_000),
                caller_name: format!("Soak {placed}"),
                destination: ENTRY.into(),
                patience: Some(patience),
                talk_time: None,
            });
            next += gap;
        }
        if Instant::now() >= next_sample {
            next_sample += sample_every;
            let s = sample(&app, started, placed);
            println!("{}", s.line());
            samples.push(s);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Drain: no new callers; everyone on the line finishes, and then nothing may be left.
    let drained = app
        .sim
        .wait_until(Duration::from_secs(180), |sim| sim.channels().is_empty())
        .await;
    let running = app.running();
    let mut settled = false;
    for _ in 0..600 {
        let snapshot = running.snapshot();
        if snapshot.calls.is_empty()
            && snapshot
                .agents
                .iter()
                .all(|a| a.status == AgentStatus::Available)
        {
            settled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let end = sample(&app, started, placed);
    println!("end: {}", end.line());
    let snapshot = running.snapshot();
    let stuck: Vec<_> = snapshot
        .agents
        .iter()
        .filter(|a| a.status != AgentStatus::Available)
        .map(|a| format!("{} {:?}", a.id, a.status))
        .collect();
    app.stop_controller().await;

    let pool = sqlx::SqlitePool::connect(&app.database_url)
        .await
        .expect("open the database");
    let (rows, open, ended_twice): (i64, i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), \
                COALESCE(SUM(CASE WHEN ended_at IS NULL THEN 1 ELSE 0 END), 0), \
                (SELECT COUNT(*) FROM (SELECT caller_channel FROM calls \
                 GROUP BY caller_channel HAVING COUNT(*) > 1)) \
         FROM calls",
    )
    .fetch_one(&pool)
    .await
    .expect("count calls");
    let outcomes: Vec<(Option<String>, i64)> =
        sqlx::query_as("SELECT outcome, COUNT(*) FROM calls GROUP BY outcome ORDER BY outcome")
            .fetch_all(&pool)
            .await
            .expect("count outcomes");
    pool.close().await;
    println!("soak outcomes: {outcomes:?}");

    let base = samples
        .iter()
        .find(|s| s.at >= warm_up)
        .cloned()
        .unwrap_or_else(|| end.clone());
    let peak = samples.iter().map(|s| s.rss_kib).max().unwrap_or(0);
    let backlog = samples.iter().map(|s| s.engine_calls).max().unwrap_or(0);
    println!(
        "soak figures: ran {:.1} min at {rate}/s; placed {placed}; history rows {rows} (open {open}, \
         doubled {ended_twice}); RSS start {} KiB, after warm-up ({:?}) {} KiB, peak {peak} KiB, \
         end {} KiB; most calls held at a sample {backlog}; engine calls at end {}; agents stuck {stuck:?}",
        started.elapsed().as_secs_f64() / 60.0,
        samples[0].rss_kib,
        base.at,
        base.rss_kib,
        end.rss_kib,
        end.engine_calls,
    );
    let settled_samples: Vec<&Sample> = samples.iter().filter(|s| s.at >= warm_up).collect();
    println!(
        "soak slope after warm-up: rss {:.1} KiB/min, anon {:.1} KiB/min, file {:.1} KiB/min \
         ({:.0} bytes of RSS per call placed)",
        slope_per_min(&settled_samples, |s| s.rss_kib),
        slope_per_min(&settled_samples, |s| s.anon_kib),
        slope_per_min(&settled_samples, |s| s.file_kib),
        slope_per_min(&settled_samples, |s| s.rss_kib) * 1024.0 / (rate * 60.0),
    );

    assert!(drained, "callers left on the switch after the drain");
    assert!(
        settled,
        "the engine still holds calls or busy agents: {stuck:?}"
    );
    assert_eq!(rows, placed as i64, "one history row per call placed");
    assert_eq!(open, 0, "every call ended in the history");
    assert_eq!(ended_twice, 0, "no caller recorded twice");
    assert_eq!(end.agents_astray, 0);
    for s in samples.iter().filter(|s| s.at >= warm_up) {
        assert!(
            s.rss_kib <= base.rss_kib + growth_allowed(base.rss_kib),
            "memory grew after warm-up: {s:?} against {base:?}"
        );
    }
    assert!(end.rss_kib <= base.rss_kib + growth_allowed(base.rss_kib));
}
