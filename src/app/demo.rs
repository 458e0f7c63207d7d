//! `switchboard demo`: a whole contact center on one machine, with nothing to set up.
//!
//! The built-in FreeSWITCH simulator (or, with `--switch asterisk`, the Asterisk one over ARI)
//! plays the switch, simulated desk phones play the agents,
//! a stream of simulated callers calls in; the controller is the real one, over real TCP,
//! with a real SQLite file. Half the callers go straight to the queue, the other half through
//! an IVR flow embedded in the binary (`demo_flows/`), pressing keys on cue, so the flows run
//! too without a CRM, a schedule or a queue anyone has to provision. The support queue records
//! every call (after a consent notice): the simulator writes the files into a folder of the
//! data directory standing for the switch's disk, which the controller mounts, so recordings
//! can be listed and played over REST.

use std::collections::HashSet;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::Rng;
use tokio::net::TcpListener;

use super::{start, StartOptions};
use crate::config::DialString;
use crate::engine::recording::{ConsentNotice, RecordingMode, RecordingPolicy};
use crate::engine::{AgentId, Membership, QueueId, QueueRouting, SwitchName};
use crate::esl::SwitchSettings;
use crate::sim::{CallSpec, EntryPoint, PhoneBehavior, PhoneSpec, SimConfig, SimHandle, Simulator};
use crate::sim_ari::{AriEntryPoint, AriSimConfig, AriSimHandle, AriSimulator};
use crate::store::{AgentRow, QueueRow};

pub struct DemoOptions {
    pub duration: Option<Duration>,
    pub listen: SocketAddr,
    pub agents: usize,
    pub rate: f64,
    pub switch: DemoSwitch,
}

/// Which switch the demo simulates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DemoSwitch {
    /// The FreeSWITCH simulator, driven over ESL.
    #[default]
    Freeswitch,
    /// The Asterisk simulator, driven over ARI.
    Asterisk,
}

/// The simulated switch of a demo run, whichever kind it is.
enum DemoSim {
    FreeSwitch(SimHandle),
    Asterisk(AriSimHandle),
}

impl DemoSim {
    fn describe(&self) -> String {
        match self {
            DemoSim::FreeSwitch(sim) => format!("simulated FreeSWITCH (ESL) at {}", sim.esl_addr()),
            DemoSim::Asterisk(ari) => {
                format!("simulated Asterisk (ARI) at http://{}/ari", ari.http_addr())
            }
        }
    }

    fn add_phone(&self, spec: PhoneSpec) {
        match self {
            DemoSim::FreeSwitch(sim) => sim.add_phone(spec),
            DemoSim::Asterisk(ari) => ari.add_phone(spec),
        }
    }

    fn place_call_pressing(&self, spec: CallSpec, keys: Vec<(Duration, String)>) -> String {
        match self {
            DemoSim::FreeSwitch(sim) => sim.place_call_pressing(spec, keys),
            DemoSim::Asterisk(ari) => ari.place_call_pressing(spec, keys),
        }
    }

    /// `None`: the channel is gone; `Some(bridged)` otherwise.
    fn bridged(&self, channel: &str) -> Option<bool> {
        match self {
            DemoSim::FreeSwitch(sim) => sim.channel(channel).map(|c| c.bridged_to.is_some()),
            DemoSim::Asterisk(ari) => ari.channel(channel).map(|c| c.bridge.is_some()),
        }
    }

    /// Every caller still on the line hangs up (on Asterisk every channel: an agent's phone
    /// hanging up ends its call too).
    fn hang_up_callers(&self) {
        match self {
            DemoSim::FreeSwitch(sim) => {
                for channel in sim.channels() {
                    if !channel.is_outbound_leg {
                        sim.hangup(&channel.uuid, "NORMAL_CLEARING");
                    }
                }
            }
            DemoSim::Asterisk(ari) => {
                for channel in ari.channels() {
                    ari.hangup(&channel.id);
                }
            }
        }
    }

    fn active_channels(&self) -> usize {
        match self {
            DemoSim::FreeSwitch(sim) => sim.stats().active_channels,
            DemoSim::Asterisk(ari) => ari.channels().len(),
        }
    }
}

/// What a demo run did, as printed when it stops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DemoReport {
    /// The controller's counters: calls that entered the queue (flow callers too, once
    /// enqueued), answered by an agent, abandoned in the queue.
    pub offered: u64,
    pub answered: u64,
    pub abandoned: u64,
    /// Callers who dialled the IVR number, and how many of them were bridged to an agent.
    pub ivr_callers: u64,
    pub ivr_to_agent: u64,
    /// Recordings the support queue started during the run.
    pub recordings: u64,
}

/// The number that parks callers for the support queue.
const QUEUE_NUMBER: &str = "5000";
/// The number that parks callers for the demo flow (as `dialplans/switchboard.xml`'s 5003).
const FLOW_NUMBER: &str = "5003";
/// The entry point the demo flow claims.
const FLOW_ENTRY: &str = "demo";
/// The demo's flow set, written into its data directory at start.
const FLOW_FILES: &[(&str, &str)] = &[("demo.toml", include_str!("demo_flows/demo.toml"))];
/// The Stasis application of the demo's Asterisk.
const ARI_APP: &str = "switchboard";
/// Where Asterisk writes recordings unless `astspooldir` moves it.
const ASTERISK_RECORDINGS_DIR: &str = "/var/spool/asterisk/recording";
/// The folder of the data directory that stands for the simulated switch's `/`.
const SWITCH_DISK: &str = "switch-disk";
/// What callers of the support queue hear before the hold music.
const RECORDING_NOTICE: &str = "switchboard/calls-are-recorded.wav";
/// How long the demo keeps its recordings.
const RETENTION: Duration = Duration::from_secs(7 * 86_400);

/// What one simulated caller does. Callers take turns, so a short run shows every kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    /// Dials the queue's number.
    Queue,
    /// Dials the IVR and presses 1 (support).
    PressesOne,
    /// Presses 2 and types an account number, which the agent's leg carries.
    GivesAccount,
    /// Presses nothing: the menu's timeouts send it to support.
    PressesNothing,
    /// Hangs up while the menu waits for a key.
    HangsUpInMenu,
}

impl Caller {
    /// The `n`th caller (from 1): odd ones through the IVR, in turn.
    fn nth(n: u64) -> Caller {
        if n % 2 == 0 {
            return Caller::Queue;
        }
        match (n / 2) % 4 {
            0 => Caller::PressesOne,
            1 => Caller::GivesAccount,
            2 => Caller::PressesNothing,
            _ => Caller::HangsUpInMenu,
        }
    }
}

/// Runs the demo with its database and flows in a fresh temporary directory.
pub async fn run(options: DemoOptions) -> anyhow::Result<()> {
    let data_dir = std::env::temp_dir().join(format!("switchboard-demo-{}", std::process::id()));
    run_in(options, &data_dir).await.map(|_| ())
}

/// The demo with its SQLite file and flow files in `data_dir` (created when missing), until
/// Ctrl-C or the duration; returns what it printed last.
pub async fn run_in(options: DemoOptions, data_dir: &Path) -> anyhow::Result<DemoReport> {
    let disk = data_dir.join(SWITCH_DISK);
    let recordings_dir = match options.switch {
        DemoSwitch::Freeswitch => crate::config::DEFAULT_RECORDINGS_DIR,
        DemoSwitch::Asterisk => ASTERISK_RECORDINGS_DIR,
    }
    .trim_end_matches('/');
    let mount = disk.join(recordings_dir.trim_start_matches('/'));
    std::fs::create_dir_all(&mount)
        .with_context(|| format!("cannot create {}", mount.display()))?;
    let (sim, switches, asterisk) = match options.switch {
        DemoSwitch::Freeswitch => {
            let sim = Simulator::start(
                TcpListener::bind("127.0.0.1:0").await?,
                SimConfig {
                    heartbeat_interval: Duration::from_secs(5),
                    entry_points: vec![
                        EntryPoint {
                            number: QUEUE_NUMBER.into(),
                            variables: vec![("switchboard_queue".into(), "support".into())],
                        },
                        EntryPoint {
                            number: FLOW_NUMBER.into(),
                            variables: vec![("switchboard_flow".into(), FLOW_ENTRY.into())],
                        },
                    ],
                    disk_root: Some(disk),
                    ..SimConfig::default()
                },
            )
            .await
            .context("cannot start the FreeSWITCH simulator")?;
            let settings = SwitchSettings {
                name: SwitchName::new("sim")?,
                host: sim.esl_addr().ip().to_string(),
                port: sim.esl_addr().port(),
                password: SimConfig::default().password,
                liveness_timeout: Duration::from_secs(20),
                reconnect_max: Duration::from_secs(2),
                command_connections: 2,
                recordings_dir: recordings_dir.into(),
                recordings_mount: Some(mount.clone()),
            };
            (DemoSim::FreeSwitch(sim), vec![settings], Vec::new())
        }
        DemoSwitch::Asterisk => {
            let config = AriSimConfig {
                entry_points: vec![
                    AriEntryPoint {
                        number: QUEUE_NUMBER.into(),
                        app: ARI_APP.into(),
                        args: vec!["queue".into(), "support".into()],
                        answer_first: false,
                        variables: Vec::new(),
                    },
                    AriEntryPoint {
                        number: FLOW_NUMBER.into(),
                        app: ARI_APP.into(),
                        args: vec!["flow".into(), FLOW_ENTRY.into()],
                        answer_first: false,
                        variables: Vec::new(),
                    },
                ],
                disk_root: Some(disk),
                ..AriSimConfig::default()
            };
            let settings = crate::ari::AriSettings {
                name: SwitchName::new("sim")?,
                url: String::new(),
                user: config.user.clone(),
                password: config.password.clone(),
                app: ARI_APP.into(),
                liveness_timeout: Duration::from_secs(20),
                reconnect_max: Duration::from_secs(2),
                recordings_dir: recordings_dir.into(),
                recordings_mount: Some(mount.clone()),
            };
            let ari = AriSimulator::start(TcpListener::bind("127.0.0.1:0").await?, config)
                .await
                .context("cannot start the Asterisk simulator")?;
            let settings = crate::ari::AriSettings {
                url: format!("http://{}", ari.http_addr()),
                ..settings
            };
            (DemoSim::Asterisk(ari), Vec::new(), vec![settings])
        }
    };

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

    let flows_dir = data_dir.join("flows");
    std::fs::create_dir_all(&flows_dir)
        .with_context(|| format!("cannot create {}", flows_dir.display()))?;
    for (name, text) in FLOW_FILES {
        let file = flows_dir.join(name);
        std::fs::write(&file, text).with_context(|| format!("cannot write {}", file.display()))?;
    }
    let database_url = format!("sqlite://{}", data_dir.join("switchboard.db").display());
    let http = TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("cannot listen on {} (use --listen)", options.listen))?;
    let log_in = agents.iter().map(|a| a.id.clone()).collect();
    let running = start(StartOptions {
        http,
        database_url: database_url.clone(),
        switches,
        asterisk,
        queues: vec![QueueRow {
            id: QueueId::new("support")?,
            name: "Support".into(),
            moh: "local_stream://moh".into(),
            wrap_up_ms: 2_000,
            ring_timeout_ms: 15_000,
            busy_backoff_ms: None,
            routing: QueueRouting {
                recording: RecordingPolicy {
                    mode: RecordingMode::Always,
                    // ARI records a bridge in mono (see docs/decisions.md).
                    stereo: options.switch == DemoSwitch::Freeswitch,
                    consent: Some(ConsentNotice {
                        announcement: RECORDING_NOTICE.into(),
                        opt_out_digit: Some('9'),
                    }),
                    retention: Some(RETENTION),
                    ..RecordingPolicy::default()
                },
                ..QueueRouting::default()
            },
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
        flows: Some(flows_dir),
        auth: Default::default(),
        webhooks: Vec::new(),
        allow_private_webhook_targets: false,
        evaluation_forms: Vec::new(),
        purge_every: Some(crate::config::RecordingsConfig::default().purge_every),
        http_limits: crate::api::HttpLimits::default(),
        reach: Vec::new(),
        routing_defaults: Default::default(),
        external_dial: None,
        stats: Default::default(),
    })
    .await?;

    // Callers start once the controller is connected: a flow caller parked before that would
    // not be adopted by the resync (it names no queue) and would wait unanswered.
    let connecting = Instant::now();
    while running.metrics.esl_connects.load(Ordering::Relaxed) == 0 {
        if connecting.elapsed() > Duration::from_secs(10) {
            running.stop().await?;
            anyhow::bail!("the controller did not connect to the simulator within 10 s");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!(
        "Switchboard demo: {}, database {database_url}",
        sim.describe()
    );
    println!(
        "Callers: {QUEUE_NUMBER} straight to the support queue, {FLOW_NUMBER} through the IVR flow \
         \"{FLOW_ENTRY}\" (1: support, 2: account number, nothing: support)"
    );
    println!(
        "Recordings: every support call, in stereo, after a notice (9 opts out); files in {}",
        mount.display()
    );
    println!(
        "REST API: http://{}/v1/queues  /v1/agents  /v1/calls  /v1/flows/demo/sessions  \
         /v1/recordings  /metrics  /readyz",
        running.http_addr
    );

    let started = Instant::now();
    let since = super::clock::Clock::start().now();
    let mut next_caller = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    let mut last_status = Instant::now();
    let mut callers = 0u64;
    let mut ivr = IvrCallers::default();
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let mut signals = super::signals::StopSignals::listen();
    let stop = signals.wait();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = &mut stop => break,
        }
        if options.duration.is_some_and(|d| started.elapsed() >= d) {
            break;
        }
        while Instant::now() >= next_caller && options.rate > 0.0 {
            callers += 1;
            let kind = Caller::nth(callers);
            let uuid = place(&sim, callers, kind);
            if kind != Caller::Queue {
                ivr.placed(uuid);
            }
            let gap = rand::rng().random_range(0.2..1.8) / options.rate;
            next_caller += Duration::from_secs_f64(gap);
        }
        if last_status.elapsed() >= Duration::from_secs(1) {
            last_status = Instant::now();
            let snapshot = running.snapshot();
            let in_ivr = ivr.census(&sim, &snapshot);
            let line = status_line(&snapshot, in_ivr, options.agents, running.http_addr);
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
    let snapshot = running.snapshot();
    ivr.census(&sim, &snapshot);
    let totals = snapshot.counters;
    hang_up_everyone(&sim, &running).await;
    let store = running.store.clone();
    running.stop().await?;
    // Counted once the history writer has written everything.
    let recordings = store.count_recordings_since(since).await?;
    store.close().await;
    if interactive {
        println!();
    }
    let report = DemoReport {
        offered: totals.offered,
        answered: totals.answered,
        abandoned: totals.abandoned,
        ivr_callers: ivr.placed,
        ivr_to_agent: ivr.to_agent,
        recordings,
    };
    println!(
        "offered={} answered={} abandoned={} ivr_callers={} ivr_to_agent={} recordings={}",
        report.offered,
        report.answered,
        report.abandoned,
        report.ivr_callers,
        report.ivr_to_agent,
        report.recordings
    );
    Ok(report)
}

/// The callers still on the line hang up as the demo ends, so every recording ends with its
/// file on the switch's disk and no call is left open in the demo's database. Waits (a few
/// seconds at most) until the controller has seen them go.
async fn hang_up_everyone(sim: &DemoSim, running: &super::Running) {
    sim.hang_up_callers();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline
        && (!running.snapshot().calls.is_empty() || sim.active_channels() > 0)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The snapshot trails the engine by up to 100 ms: let the last ends reach the history.
    tokio::time::sleep(Duration::from_millis(200)).await;
}

/// Places the `n`th caller, of `kind`; returns its channel's uuid. Keys are timed from the
/// answer: the greeting and the menu prompt take under a second on the simulator, and keys
/// pressed during them reach the menu anyway (barge-in, typed ahead).
fn place(sim: &DemoSim, n: u64, kind: Caller) -> String {
    let mut rng = rand::rng();
    let at = Duration::from_millis;
    let wait = at(rng.random_range(8_000..40_000));
    // Patience runs from the arrival: a flow caller's includes the IVR, up to 8 s without a key.
    let in_flow = wait + at(8_000);
    let (destination, patience, keys) = match kind {
        Caller::Queue => (QUEUE_NUMBER, wait, Vec::new()),
        Caller::PressesOne => (FLOW_NUMBER, in_flow, vec![(at(1_000), "1".to_owned())]),
        Caller::GivesAccount => {
            let account = format!("{:06}#", rng.random_range(0..1_000_000));
            let keys = vec![(at(1_000), "2".to_owned()), (at(1_800), account)];
            (FLOW_NUMBER, in_flow, keys)
        }
        Caller::PressesNothing => (FLOW_NUMBER, in_flow, Vec::new()),
        Caller::HangsUpInMenu => (FLOW_NUMBER, at(rng.random_range(1_500..3_000)), Vec::new()),
    };
    let spec = CallSpec {
        caller_number: format!("+49301234{:04}", n % 10_000),
        caller_name: format!("Caller {n}"),
        destination: destination.into(),
        patience: Some(patience),
        talk_time: None,
    };
    sim.place_call_pressing(spec, keys)
}

/// The IVR callers still on the switch and not yet with an agent, watched from the simulator's
/// side: the demo's callers are its own.
#[derive(Default)]
struct IvrCallers {
    live: Vec<String>,
    placed: u64,
    to_agent: u64,
}

impl IvrCallers {
    fn placed(&mut self, uuid: String) {
        self.placed += 1;
        self.live.push(uuid);
    }

    /// Forgets callers who hung up, counts those bridged to an agent, and returns how many are
    /// in the IVR (on the switch, in no queue).
    fn census(&mut self, sim: &DemoSim, snapshot: &crate::engine::Snapshot) -> usize {
        let queued: HashSet<&str> = snapshot.calls.iter().map(|c| c.channel.as_str()).collect();
        let mut in_ivr = 0;
        let mut to_agent = 0;
        self.live.retain(|uuid| match sim.bridged(uuid) {
            None => false,
            Some(true) => {
                to_agent += 1;
                false
            }
            Some(false) => {
                if !queued.contains(uuid.as_str()) {
                    in_ivr += 1;
                }
                true
            }
        });
        self.to_agent += to_agent;
        in_ivr
    }
}

fn status_line(
    snapshot: &crate::engine::Snapshot,
    in_ivr: usize,
    agents: usize,
    api: SocketAddr,
) -> String {
    let c = snapshot.counters;
    format!(
        "offered={} answered={} abandoned={} in_ivr={in_ivr} waiting={} agents_busy={}/{} \
         api=http://{api}",
        c.offered,
        c.answered,
        c.abandoned,
        snapshot.waiting(),
        snapshot.agents_busy(),
        agents
    )
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::path::Path;

    use super::*;
    use crate::flow::{parse_flow, FlowSet};

    #[test]
    fn the_embedded_demo_flows_pass_the_checks_against_the_demos_queue() {
        let flows = FLOW_FILES
            .iter()
            .map(|(name, text)| parse_flow(text, Path::new(name)))
            .collect::<Result<Vec<_>, _>>()
            .expect("the demo flows parse");
        let set = FlowSet::new(flows).expect("the demo flows pass the set's checks");
        let support: HashSet<QueueId> = [QueueId::new("support").expect("id")].into();
        set.check_queues(&support)
            .expect("they enqueue to support only");
        assert!(set.for_entry_point(FLOW_ENTRY).is_some());
    }

    #[test]
    fn half_the_callers_go_through_the_ivr_and_every_kind_comes_in_turn() {
        let kinds: Vec<Caller> = (1..=8).map(Caller::nth).collect();
        assert_eq!(
            kinds,
            [
                Caller::PressesOne,
                Caller::Queue,
                Caller::GivesAccount,
                Caller::Queue,
                Caller::PressesNothing,
                Caller::Queue,
                Caller::HangsUpInMenu,
                Caller::Queue,
            ]
        );
    }
}
