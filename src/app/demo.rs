//! `switchboard demo`: a whole contact center on one machine, with nothing to set up.
//!
//! The built-in FreeSWITCH simulator plays the switch, simulated desk phones play the agents,
//! a stream of simulated callers calls in; the controller is the real one, over real TCP,
//! with a real SQLite file.

use std::io::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::Rng;
use tokio::net::TcpListener;

use super::{start, StartOptions};
use crate::config::DialString;
use crate::engine::{AgentId, Membership, QueueId, QueueRouting, SwitchName};
use crate::esl::SwitchSettings;
use crate::sim::{CallSpec, EntryPoint, PhoneBehavior, PhoneSpec, SimConfig, Simulator};
use crate::store::{AgentRow, QueueRow};

pub struct DemoOptions {
    pub duration: Option<Duration>,
    pub listen: SocketAddr,
    pub agents: usize,
    pub rate: f64,
}

const ENTRY_NUMBER: &str = "5000";

pub async fn run(options: DemoOptions) -> anyhow::Result<()> {
    let sim = Simulator::start(
        TcpListener::bind("127.0.0.1:0").await?,
        SimConfig {
            heartbeat_interval: Duration::from_secs(5),
            entry_points: vec![EntryPoint {
                number: ENTRY_NUMBER.into(),
                variables: vec![("switchboard_queue".into(), "support".into())],
            }],
            ..SimConfig::default()
        },
    )
    .await
    .context("cannot start the FreeSWITCH simulator")?;

    let mut agents = Vec::new();
    for i in 0..options.agents.max(1) {
        let user = format!("{}", 1001 + i);
        let mut rng = rand::rng();
        sim.add_phone(PhoneSpec {
            user: user.clone(),
            behavior: PhoneBehavior::Answer {
                after: Duration::from_millis(rng.random_range(300..1500)),
            },
            hangup_after_talk: Some(Duration::from_millis(rng.random_range(4000..12000))),
        });
        agents.push(AgentRow {
            id: AgentId::new(&user)?,
            name: format!("Agent {user}"),
            dial_string: DialString::parse(&format!("user/{user}"))?,
            queues: vec![Membership::new(QueueId::new("support")?, 1)],
            skills: Vec::new(),
            pin_hash: None,
        });
    }

    let data_dir = std::env::temp_dir().join(format!("switchboard-demo-{}", std::process::id()));
    std::fs::create_dir_all(&data_dir)?;
    let database_url = format!("sqlite://{}", data_dir.join("switchboard.db").display());
    let http = TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("cannot listen on {} (use --listen)", options.listen))?;
    let log_in = agents.iter().map(|a| a.id.clone()).collect();
    let running = start(StartOptions {
        http,
        database_url: database_url.clone(),
        switches: vec![SwitchSettings {
            name: SwitchName::new("sim")?,
            host: sim.esl_addr().ip().to_string(),
            port: sim.esl_addr().port(),
            password: SimConfig::default().password,
            liveness_timeout: Duration::from_secs(20),
            reconnect_max: Duration::from_secs(2),
            command_connections: 2,
        }],
        queues: vec![QueueRow {
            id: QueueId::new("support")?,
            name: "Support".into(),
            moh: "local_stream://moh".into(),
            wrap_up_ms: 2_000,
            ring_timeout_ms: 15_000,
            busy_backoff_ms: None,
            routing: QueueRouting::default(),
        }],
        agents,
        log_in,
        busy_backoff: Duration::from_secs(5),
        seed: 0,
        presence_domain: None,
        pause_reasons: Vec::new(),
        hot_desk_moves: true,
        phone_prompts: Default::default(),
        hot_desk_extension: Some(crate::engine::HOT_DESK_EXTENSION.to_owned()),
        flows: None,
        auth: Default::default(),
    })
    .await?;

    println!(
        "Switchboard demo: simulated FreeSWITCH at {}, database {database_url}",
        sim.esl_addr()
    );
    println!(
        "REST API: http://{}/v1/queues  /v1/agents  /v1/calls  /metrics",
        running.http_addr
    );

    let started = Instant::now();
    let mut next_caller = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    let mut last_status = Instant::now();
    let mut callers = 0u64;
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stdout());
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = tokio::signal::ctrl_c() => break,
        }
        if options.duration.is_some_and(|d| started.elapsed() >= d) {
            break;
        }
        while Instant::now() >= next_caller && options.rate > 0.0 {
            callers += 1;
            let mut rng = rand::rng();
            sim.place_call(CallSpec {
                caller_number: format!("+49301234{:04}", callers % 10_000),
                caller_name: format!("Caller {callers}"),
                destination: ENTRY_NUMBER.into(),
                patience: Some(Duration::from_millis(rng.random_range(8_000..40_000))),
                talk_time: None,
            });
            let gap = rng.random_range(0.2..1.8) / options.rate;
            next_caller += Duration::from_secs_f64(gap);
        }
        if last_status.elapsed() >= Duration::from_secs(1) {
            last_status = Instant::now();
            let line = status_line(&running.snapshot(), options.agents, running.http_addr);
            if interactive {
                print!("\r{line}   ");
                let _ = std::io::stdout().flush();
            } else {
                println!("{line}");
            }
        }
    }
    // Let calls that are mid-setup reach the history before the totals are read.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let totals = running.snapshot().counters;
    running.stop().await?;
    if interactive {
        println!();
    }
    println!(
        "offered={} answered={} abandoned={}",
        totals.offered, totals.answered, totals.abandoned
    );
    Ok(())
}

fn status_line(snapshot: &crate::engine::Snapshot, agents: usize, api: SocketAddr) -> String {
    let c = snapshot.counters;
    format!(
        "offered={} answered={} abandoned={} waiting={} agents_busy={}/{} api=http://{api}",
        c.offered,
        c.answered,
        c.abandoned,
        snapshot.waiting(),
        snapshot.agents_busy(),
        agents
    )
}
