//! The same end-to-end scenario on either switch kind: a controller driving the FreeSWITCH
//! simulator over ESL, or the Asterisk simulator over ARI. A scenario says what a caller or a
//! phone does and what must follow; this module turns that into each simulator's own terms
//! (dialplan entries, channel views, far-end hangups), so `switch_kinds` holds one body per
//! scenario and runs it on both.

use std::time::Duration;

use switchboard::ari::AriSettings;
use switchboard::engine::SwitchName;
use switchboard::sim::{CallSpec, EntryPoint, PhoneSpec};
use switchboard::sim_ari::{AriEntryPoint, AriSimConfig, AriSimHandle, AriSimulator};
use switchboard::store::QueueRow;
use tokio::net::TcpListener;

use crate::harness::{start_sim_with, Agent, TestApp};

/// Which switch the controller drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    FreeSwitch,
    Asterisk,
}

/// Where a dialled number takes a caller, in either switch's dialplan: the FreeSWITCH
/// dialplan's variables before `park`, or Asterisk's `Stasis(switchboard,<args>)`.
#[derive(Debug, Clone)]
pub enum Entry {
    Queue {
        number: &'static str,
        queue: &'static str,
    },
    Flow {
        number: &'static str,
        entry: &'static str,
    },
    /// What the shipped feature-code dialplan does with `number` dialled from a phone
    /// (`dialplans/switchboard-features.xml`, `asterisk-conf/extensions_switchboard.conf`);
    /// hot-desking's collected agent number and PIN are 1001 and 4711.
    FeatureCode { number: &'static str },
}

/// What a caller keys at `*21` in the feature-code scenarios: agent 1001, PIN 4711.
const HOT_DESK_FS: [(&str, &str); 2] = [
    ("switchboard_agent_number", "1001"),
    ("switchboard_pin", "4711"),
];
const HOT_DESK_ARI: [(&str, &str); 2] = [("AGENT_NUMBER", "1001"), ("PIN", "4711")];

impl Entry {
    fn freeswitch(&self) -> EntryPoint {
        match self {
            Entry::Queue { number, queue } => EntryPoint {
                number: (*number).into(),
                variables: vec![("switchboard_queue".into(), (*queue).into())],
            },
            Entry::Flow { number, entry } => EntryPoint {
                number: (*number).into(),
                variables: vec![
                    ("switchboard_flow".into(), (*entry).into()),
                    ("playback_terminators".into(), "#".into()),
                    ("hangup_after_bridge".into(), "true".into()),
                ],
            },
            Entry::FeatureCode { number } => {
                crate::harness::shipped_feature_codes(&[number], &HOT_DESK_FS)
                    .into_iter()
                    .next()
                    .expect("the shipped dialplan's extension")
            }
        }
    }

    fn asterisk(&self) -> AriEntryPoint {
        let (number, args) = match self {
            Entry::Queue { number, queue } => (*number, vec![(*queue).to_owned()]),
            Entry::Flow { number, entry } => (*number, vec![(*entry).to_owned()]),
            Entry::FeatureCode { number } => (
                *number,
                crate::asterisk_conf::shipped_asterisk_stasis_args(number, &HOT_DESK_ARI),
            ),
        };
        let args = match self {
            Entry::Queue { .. } => [vec!["queue".to_owned()], args].concat(),
            Entry::Flow { .. } => [vec!["flow".to_owned()], args].concat(),
            Entry::FeatureCode { .. } => args,
        };
        AriEntryPoint {
            number: number.into(),
            app: APP.into(),
            args,
            answer_first: false,
            variables: Vec::new(),
        }
    }
}

/// The Stasis application the controller registers on the simulated Asterisk.
pub const APP: &str = "switchboard";
const ARI_USER: &str = "switchboard";
const ARI_PASSWORD: &str = "ClueCon";
/// Where the simulated Asterisk writes recordings (Asterisk's default spool).
pub const ASTERISK_RECORDINGS: &str = "/var/spool/asterisk/recording";

/// The controller's `[[switch]] kind = "asterisk"` settings for `ari`.
pub fn ari_settings(
    ari: &AriSimHandle,
    recordings_mount: Option<std::path::PathBuf>,
) -> AriSettings {
    AriSettings {
        name: SwitchName::new("sim").expect("name"),
        url: format!("http://{}", ari.http_addr()),
        user: ARI_USER.into(),
        password: ARI_PASSWORD.into(),
        app: APP.into(),
        liveness_timeout: Duration::from_secs(5),
        reconnect_max: Duration::from_millis(300),
        recordings_dir: ASTERISK_RECORDINGS.into(),
        recordings_mount,
    }
}

/// What a scenario's controller and switch start with.
#[derive(Default)]
pub struct KindSetup {
    pub queues: Vec<QueueRow>,
    pub agents: Vec<Agent>,
    /// Dialplan entries besides `ENTRY` (the `support` queue).
    pub entries: Vec<Entry>,
    /// The IVR flows directory.
    pub flows: Option<std::path::PathBuf>,
    /// Publish BLF presence in this domain.
    pub presence_domain: Option<&'static str>,
    pub pause_reasons: Vec<switchboard::store::PauseReasonRow>,
}

/// A controller set up as `setup` on a simulator of `kind`; connected and resynced.
pub async fn spawn_on(kind: Kind, setup: KindSetup) -> TestApp {
    let KindSetup {
        queues,
        agents,
        entries,
        flows,
        presence_domain,
        pause_reasons,
    } = setup;
    let fs_entries = entries.iter().map(Entry::freeswitch).collect();
    let sim = start_sim_with(fs_entries).await;
    let mut app = match kind {
        Kind::FreeSwitch => {
            for a in &agents {
                sim.add_phone(phone(a));
            }
            let ledger = crate::invariants::Ledger::listen(sim.esl_addr()).await;
            TestApp::unstarted(sim, ledger)
        }
        Kind::Asterisk => {
            let mut ari_entries = vec![Entry::Queue {
                number: crate::harness::ENTRY,
                queue: "support",
            }
            .asterisk()];
            ari_entries.extend(entries.iter().map(Entry::asterisk));
            let ari = AriSimulator::start(
                TcpListener::bind("127.0.0.1:0").await.expect("bind ari"),
                AriSimConfig {
                    user: ARI_USER.into(),
                    password: ARI_PASSWORD.into(),
                    entry_points: ari_entries,
                    ..AriSimConfig::default()
                },
            )
            .await
            .expect("start the Asterisk simulator");
            for a in &agents {
                ari.add_phone(phone(a));
            }
            let ledger = crate::invariants_ari::listen(&ari).await;
            let mut app = TestApp::unstarted(sim, ledger);
            app.ari = Some(ari);
            app
        }
    };
    app.flows = flows;
    app.presence_domain = presence_domain.map(str::to_owned);
    app.pause_reasons = pause_reasons;
    app.start_with(queues, &agents).await;
    app.connected().await;
    app
}

fn phone(agent: &Agent) -> PhoneSpec {
    PhoneSpec {
        user: agent.id.into(),
        behavior: agent.behavior.clone(),
        hangup_after_talk: agent.hangup_after_talk,
    }
}

/// What a scenario does on the switch and reads back from it, in either simulator's terms.
impl TestApp {
    /// A caller dials; returns the caller's channel id.
    pub fn dial(&self, spec: CallSpec) -> String {
        self.dial_pressing(spec, Vec::new())
    }

    /// A caller dials and presses `keys` at their offsets after the answer.
    pub fn dial_pressing(&self, spec: CallSpec, keys: Vec<(Duration, String)>) -> String {
        match &self.ari {
            Some(ari) => ari.place_call_pressing(spec, keys),
            None => self.sim.place_call_pressing(spec, keys),
        }
    }

    /// The far end of `channel` (a caller or a phone) hangs up.
    pub fn far_end_hangs_up(&self, channel: &str) -> bool {
        match &self.ari {
            Some(ari) => ari.hangup(channel),
            None => self.sim.hangup(channel, "NORMAL_CLEARING"),
        }
    }

    /// The desk phone on `leg` blind-transfers its call to `number` (a SIP REFER).
    pub fn phone_blind_transfers(&self, leg: &str, number: &str) -> bool {
        match &self.ari {
            Some(ari) => ari.phone_blind_transfer(leg, number),
            None => self.sim.phone_blind_transfer(leg, number),
        }
    }

    /// The desk phone on `leg` calls the phone `target` for a consultation; the consulting
    /// phone's channel.
    pub fn phone_consult_call(&self, leg: &str, target: &str) -> Option<String> {
        match &self.ari {
            Some(ari) => ari.phone_consult_call(leg, target),
            None => self.sim.phone_consult_call(leg, target),
        }
    }

    /// The desk phone on `leg` joins its call with its consultation `consult` (an attended
    /// transfer: REFER with Replaces).
    pub fn phone_attended_transfers(&self, leg: &str, consult: &str) -> bool {
        match &self.ari {
            Some(ari) => ari.phone_attended_transfer(leg, consult),
            None => self.sim.phone_attended_transfer(leg, consult),
        }
    }

    /// The channel `channel` is bridged to, if any (on Asterisk: the other channel of its
    /// bridge, when it has exactly one other).
    pub fn partner_of(&self, channel: &str) -> Option<String> {
        match &self.ari {
            Some(ari) => {
                let bridge = ari.channel(channel)?.bridge?;
                let bridge = ari.bridges().into_iter().find(|b| b.id == bridge)?;
                let others: Vec<String> = bridge
                    .channels
                    .into_iter()
                    .filter(|c| c != channel)
                    .collect();
                match others.as_slice() {
                    [one] => Some(one.clone()),
                    _ => None,
                }
            }
            None => self.sim.channel(channel)?.bridged_to,
        }
    }

    /// Whether `channel` is still up on the switch.
    pub fn is_up(&self, channel: &str) -> bool {
        match &self.ari {
            Some(ari) => ari.channel(channel).is_some(),
            None => self.sim.channel(channel).is_some(),
        }
    }

    /// How many channels the switch has.
    pub fn channel_count(&self) -> usize {
        match &self.ari {
            Some(ari) => ari.channels().len(),
            None => self.sim.channels().len(),
        }
    }

    /// A screen-pop variable the controller set on an agent's leg (`switchboard_var_<name>` on
    /// FreeSWITCH, `SWITCHBOARD_VAR_<name>` on Asterisk).
    pub fn leg_variable(&self, leg: &str, name: &str) -> Option<String> {
        match &self.ari {
            Some(ari) => ari
                .channel(leg)?
                .variables
                .into_iter()
                .find(|(k, _)| *k == format!("SWITCHBOARD_VAR_{name}"))
                .map(|(_, v)| v),
            None => self
                .sim
                .channel(leg)?
                .variable(&format!("switchboard_var_{name}"))
                .map(str::to_owned),
        }
    }

    /// A desk phone (a supervisor's) that answers after 50 ms.
    pub fn add_answering_phone(&self, user: &str) {
        let spec = PhoneSpec::answering(user, Duration::from_millis(50));
        match &self.ari {
            Some(ari) => ari.add_phone(spec),
            None => self.sim.add_phone(spec),
        }
    }

    /// What an agent's BLF key shows: `off`, `blinking` or `lit` (FreeSWITCH: the dialog
    /// state of `agent+<id>`'s latest PRESENCE_IN; Asterisk: the custom device state
    /// `Stasis:switchboard-agent-<id>`, as a hint turns it into a lamp).
    pub fn blf(&self, agent: &str) -> Option<&'static str> {
        match &self.ari {
            Some(ari) => {
                let name = format!("Stasis:switchboard-agent-{agent}");
                let state = ari
                    .device_states()
                    .into_iter()
                    .rev()
                    .find(|(device, _)| *device == name)?
                    .1;
                Some(match state.as_str() {
                    "NOT_INUSE" => "off",
                    "RINGING" | "RINGINUSE" | "ONHOLD" => "blinking",
                    _ => "lit",
                })
            }
            None => {
                let lamp = self.sim.lamp(&format!("agent+{agent}"))?;
                Some(match lamp.dialog_state.as_deref() {
                    Some("early") => "blinking",
                    Some("confirmed") => "lit",
                    _ => "off",
                })
            }
        }
    }

    /// Recordings the switch has finished (a file written or a metadata-only recording
    /// stopped).
    pub fn finished_recordings(&self) -> usize {
        match &self.ari {
            Some(ari) => ari
                .recordings()
                .iter()
                .filter(|r| r.state == "done")
                .count(),
            None => self.sim.recorded().len(),
        }
    }

    /// The paused and the masked stretches of the switch's finished recordings, in all.
    pub fn recorded_pauses_and_masks(&self) -> (usize, usize) {
        match &self.ari {
            Some(ari) => ari
                .recordings()
                .iter()
                .filter(|r| r.state == "done")
                .fold((0, 0), |(p, m), r| {
                    (p + r.paused_intervals.len(), m + r.muted_intervals.len())
                }),
            None => self.sim.recorded().iter().fold((0, 0), |(p, m), (_, r)| {
                (p + r.paused_intervals.len(), m + r.masked_intervals.len())
            }),
        }
    }

    /// The switch restarts (FreeSWITCH: `shutdown`, then started again; Asterisk: `core
    /// restart now`): each hangs up every channel first, then closes the connections, and
    /// comes back empty.
    pub async fn restart_switch(&self) {
        match &self.ari {
            Some(ari) => {
                ari.restart()
                    .await
                    .expect("the Asterisk simulator restarts");
                // Asterisk's channel ids are `<unix seconds>.<counter>` and the counter starts
                // again at a restart: a call in the same second would take the id of one from
                // before it. A real restart takes longer than the simulator's (0.64 s in the
                // `restart` capture, still within a second): wait for the next second so the
                // history and the ledger have one channel per id.
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                let next = Duration::from_secs(now.as_secs() + 1);
                tokio::time::sleep(next.saturating_sub(now)).await;
            }
            None => {
                self.sim.shutdown().await;
                self.sim.restart().await.expect("the simulator restarts");
            }
        }
    }

    /// The switch loses the controller's event connection (FreeSWITCH: every ESL connection;
    /// Asterisk: the WebSocket, closed without a close frame). Calls stay up on the switch.
    pub async fn drop_switch_connections(&self) {
        match &self.ari {
            Some(ari) => ari.drop_websockets().await,
            None => self.sim.drop_connections().await,
        }
    }

    /// Every open connection to the switch falls silent both ways, not closed (a network that
    /// lost the peer without a FIN); new connections are served. `release_frozen` closes them.
    pub fn freeze_switch_connections(&self) {
        match &self.ari {
            Some(ari) => ari.freeze_connections(),
            None => self.sim.freeze_connections(),
        }
    }

    /// Closes the frozen connections, and waits until the invariants' ledger, whose own
    /// connection froze too, listens again.
    pub async fn release_frozen(&self) {
        match &self.ari {
            Some(ari) => ari.release_frozen(),
            None => self.sim.release_frozen(),
        }
        if let Some(ledger) = &self.ledger {
            ledger.connected_times(2).await;
        }
    }

    /// Waits until the controller has (re)connected `n` times in all.
    pub async fn connected_times(&self, n: u64) {
        let metrics = self.running().metrics.clone();
        crate::harness::eventually(&format!("the controller connected {n} times"), || {
            let m = metrics.clone();
            async move { m.esl_connects.load(std::sync::atomic::Ordering::Relaxed) >= n }
        })
        .await;
    }
}
