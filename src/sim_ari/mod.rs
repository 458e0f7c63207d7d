//! An Asterisk simulator: an ARI server (HTTP/1.1 and a WebSocket of events) that behaves like
//! Asterisk 22.10.1 as captured in `shared/ari-traces`, with simulated callers and desk
//! phones. Used by the integration tests and `switchboard demo --switch asterisk`. It must not
//! depend on any other Switchboard module but `sim`'s plain endpoint types.
//!
//! Code map: `wire` (HTTP and WebSocket bytes, JSON text in Asterisk's key order), `sha1`
//! (the handshake's accept key), `routes` (the REST resources and their exact errors; `channels`),
//! `core` (the switch behind one mutex: `calls` callers and originates, `hangup` the ending
//! sequences, `bridges`, `media` playbacks, recordings and snoops), `server` (sockets, timers,
//! restart).

mod core;
mod routes;
mod server;
mod sha1;
#[cfg(test)]
mod tests;
pub mod wire;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use self::core::Core;
use self::server::{with_core, Shared};
use crate::sim::{CallSpec, PhoneBehavior, PhoneSpec};

/// Simulator configuration; `Default` is the capture rig's ARI user with no entry points.
#[derive(Clone, Debug)]
pub struct AriSimConfig {
    /// The `ari.conf` user and password (`switchboard` / `ClueCon`).
    pub user: String,
    pub password: String,
    /// The dialplan: number -> `Stasis(app, args…)`.
    pub entry_points: Vec<AriEntryPoint>,
    /// Names `sound:` finds (`queue-*` matches every name with that prefix); any other sound
    /// plays as PlaybackStarted then PlaybackFinished `failed`.
    pub sound_files: Vec<String>,
    pub moh_classes: Vec<String>,
    /// A real folder standing for the switch's `/`: a stopped recording `<name>` is written
    /// to `<disk_root>/var/spool/asterisk/recording/<name>.wav`. None: metadata only.
    pub disk_root: Option<PathBuf>,
    pub asterisk_id: String,
    /// ari.conf `channelvars`: every channel object gets a last key `channelvars` with these.
    pub channelvars: Vec<String>,
    /// How long `Answer()` in the dialplan waits for media before `Stasis()` (the rig: 0.5 s
    /// for a caller that sends no RTP).
    pub answer_delay: Duration,
    /// What `GET /asterisk/modules` lists as running (no capture shows that resource: its
    /// shape is read from `res/ari/resource_asterisk.c`). Default: those of the rig's 299
    /// that Switchboard uses.
    pub modules: Vec<String>,
}

/// The rig's modules that Switchboard uses (README: Setup), for `AriSimConfig::modules`.
pub const RIG_MODULES: &[&str] = &[
    "res_http_websocket",
    "res_ari",
    "res_ari_channels",
    "res_ari_bridges",
    "res_ari_playbacks",
    "res_ari_recordings",
    "res_ari_device_states",
    "res_ari_asterisk",
    "res_ari_applications",
    "res_ari_events",
    "res_ari_endpoints",
    "res_ari_sounds",
    "res_stasis",
    "res_stasis_answer",
    "res_stasis_playback",
    "res_stasis_recording",
    "res_stasis_snoop",
    "res_stasis_device_state",
    "app_stasis",
    "chan_pjsip",
    "res_pjsip",
    "res_musiconhold",
    "bridge_simple",
    "bridge_softmix",
    "bridge_native_rtp",
    "app_queue",
    "format_wav",
    "codec_ulaw",
];

impl Default for AriSimConfig {
    fn default() -> Self {
        AriSimConfig {
            user: "switchboard".into(),
            password: "ClueCon".into(),
            entry_points: Vec::new(),
            sound_files: vec![
                "queue-minutes".into(),
                "queue-callswaiting".into(),
                "queue-thankyou".into(),
                "queue-seconds".into(),
                "queue-youarenext".into(),
                "queue-reporthold".into(),
                "beep".into(),
                "hello-world".into(),
                "queue-periodic-announce".into(),
                "queue-thereare".into(),
                "queue-less-than".into(),
                "queue-holdtime".into(),
            ],
            moh_classes: vec!["default".into()],
            disk_root: None,
            asterisk_id: "02:fc:00:00:00:01".into(),
            channelvars: Vec::new(),
            answer_delay: Duration::from_millis(500),
            modules: RIG_MODULES.iter().map(|m| (*m).to_owned()).collect(),
        }
    }
}

/// A dialplan extension in `from-callers`: `[NoOp|Answer]`, one `Set()` per variable, then
/// `Stasis(app, args…)` and `Hangup()`. An empty `app` is an extension that never enters
/// Stasis (the rig's 6009: `Answer`, `Wait(30)`, `Hangup`).
#[derive(Clone, Debug, Default)]
pub struct AriEntryPoint {
    pub number: String,
    pub app: String,
    pub args: Vec<String>,
    /// `Answer()` before `Stasis()`: StasisStart comes `answer_delay` later with state Up.
    pub answer_first: bool,
    /// `Set()` before Stasis (a ChannelVarset each; `CALLERID(name)` a ChannelCallerId).
    pub variables: Vec<(String, String)>,
}

impl AriEntryPoint {
    /// `number` -> `Stasis(app, args…)`.
    pub fn stasis(number: &str, app: &str, args: &[&str]) -> Self {
        AriEntryPoint {
            number: number.into(),
            app: app.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
            answer_first: false,
            variables: Vec::new(),
        }
    }
}

/// A snapshot of one channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AriChannelView {
    pub id: String,
    pub name: String,
    /// `Down`, `Ring`, `Ringing`, `Up`.
    pub state: String,
    pub in_stasis: bool,
    pub stasis_args: Vec<String>,
    pub bridge: Option<String>,
    /// The music-on-hold class playing, if any.
    pub moh: Option<String>,
    pub on_hold: bool,
    pub variables: Vec<(String, String)>,
    pub caller_number: String,
    pub context: String,
    pub exten: String,
    /// The media URI playing now.
    pub playing: Option<String>,
    /// Every key pressed so far.
    pub digits: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AriBridgeView {
    pub id: String,
    pub name: String,
    pub channels: Vec<String>,
}

/// A recording, live or finished; intervals are offsets from its start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AriRecordingView {
    pub name: String,
    /// `channel:<id>` or `bridge:<id>`.
    pub target: String,
    pub format: String,
    /// `queued`, `recording`, `paused`, `done`, `canceled` (DELETEd live: no file).
    pub state: String,
    /// Recorded so far (paused time left out).
    pub duration: Duration,
    pub paused_intervals: Vec<(Duration, Duration)>,
    pub muted_intervals: Vec<(Duration, Duration)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AriSnoopView {
    pub id: String,
    pub spied: String,
    pub spy: String,
    pub whisper: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AriSimStats {
    pub calls_placed: u64,
    pub originates: u64,
    pub bridged: u64,
    pub hung_up: u64,
    pub events_sent: u64,
    pub requests: u64,
    pub active_channels: usize,
}

pub struct AriSimulator;

impl AriSimulator {
    pub async fn start(
        listener: TcpListener,
        config: AriSimConfig,
    ) -> std::io::Result<AriSimHandle> {
        let addr = listener.local_addr()?;
        let shared = Shared::new(Core::new(config), addr);
        server::start_accepting(&shared, listener);
        Ok(AriSimHandle { shared })
    }
}

#[derive(Clone)]
pub struct AriSimHandle {
    shared: Arc<Shared>,
}

impl AriSimHandle {
    /// ARI is at `http://<addr>/ari/…`.
    pub fn http_addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// A PJSIP endpoint named `spec.user` with a contact (online) unless its behaviour is
    /// `Unregistered`.
    pub fn add_phone(&self, spec: PhoneSpec) {
        with_core(&self.shared, |core| {
            let registered = spec.behavior != PhoneBehavior::Unregistered;
            let user = spec.user.clone();
            core.phones.retain(|(u, _)| *u != user);
            core.phones.push((user, core::Phone { spec, registered }));
        })
    }

    pub fn set_phone_behavior(&self, user: &str, behavior: PhoneBehavior) {
        with_core(&self.shared, |core| {
            let Some((_, p)) = core.phones.iter_mut().find(|(u, _)| u == user) else {
                return;
            };
            if behavior == PhoneBehavior::Unregistered {
                p.registered = false;
            }
            p.spec.behavior = behavior;
            core.refresh_device(user);
        })
    }

    /// The endpoint gets a contact (online); false if unknown. A phone added as
    /// `Unregistered` then answers after 1 s.
    pub fn register_phone(&self, user: &str) -> bool {
        self.set_registered(user, true)
    }

    /// The endpoint loses its contact: originates to it fail with 500 Allocation failed.
    pub fn unregister_phone(&self, user: &str) -> bool {
        self.set_registered(user, false)
    }

    fn set_registered(&self, user: &str, on: bool) -> bool {
        with_core(&self.shared, |core| {
            let Some((_, p)) = core.phones.iter_mut().find(|(u, _)| u == user) else {
                return false;
            };
            p.registered = on;
            if on && p.spec.behavior == PhoneBehavior::Unregistered {
                p.spec.behavior = PhoneBehavior::Answer {
                    after: Duration::from_secs(1),
                };
            }
            core.refresh_device(user);
            true
        })
    }

    /// A caller dials `spec.destination`; the caller channel's id. `patience`: CANCEL (or BYE
    /// once answered) unless bridged by then; `talk_time`: BYE that long after first bridged.
    pub fn place_call(&self, spec: CallSpec) -> String {
        with_core(&self.shared, |core| core.place_call(spec, Vec::new()))
    }

    /// As `place_call`; the caller presses `dtmf` keys at these offsets after answer.
    pub fn place_call_pressing(&self, spec: CallSpec, dtmf: Vec<(Duration, String)>) -> String {
        with_core(&self.shared, |core| core.place_call(spec, dtmf))
    }

    /// As `place_call`; the caller's INVITE carries these SIP headers (what
    /// `PJSIP_HEADER(read,<name>)` returns).
    pub fn place_call_with_headers(
        &self,
        spec: CallSpec,
        headers: Vec<(String, String)>,
    ) -> String {
        with_core(&self.shared, |core| {
            core.place_call_with_headers(spec, Vec::new(), headers)
        })
    }

    /// A stored recording already on the switch's disk (from before), `length` long.
    pub fn store_recording(&self, name: &str, length: Duration) {
        with_core(&self.shared, |core| core.store_recording(name, length))
    }

    /// The far end (caller or phone) hangs up: BYE, or CANCEL while an inbound call rings.
    /// The desk phone on `leg` calls the phone `target` for a consultation (a plain
    /// `Dial()` in the phones' context, never in Stasis); the consulting phone's channel, or
    /// `None` if `leg` or `target` is no phone.
    pub fn phone_consult_call(&self, leg: &str, target: &str) -> Option<String> {
        with_core(&self.shared, |core| core.phone_consult_call(leg, target))
    }

    /// The desk phone on `leg` completes an attended transfer to its consultation `consult`
    /// (REFER with Replaces; *assumed*, from Asterisk's source): Local stand-ins in both
    /// bridges, the consultation channel hung up, `BridgeAttendedTransfer`, then the phone's
    /// BYE on `leg`. False unless both are bridged.
    pub fn phone_attended_transfer(&self, leg: &str, consult: &str) -> bool {
        with_core(&self.shared, |core| {
            core.phone_attended_transfer(leg, consult)
        })
    }

    /// The desk phone on `leg` (a phone's channel in a bridge) blind-transfers the other party
    /// to `exten` (a SIP REFER; *assumed*, from Asterisk's source): a Local pair, `;1` in the
    /// bridge in the leg's place (StasisStart with `replace_channel`), `BridgeBlindTransfer`,
    /// `;2` running `exten` (an entry point enters Stasis), then the phone's BYE. False if
    /// `leg` is not a phone's bridged channel.
    pub fn phone_blind_transfer(&self, leg: &str, exten: &str) -> bool {
        with_core(&self.shared, |core| core.phone_blind_transfer(leg, exten))
    }

    pub fn hangup(&self, channel: &str) -> bool {
        with_core(&self.shared, |core| core.far_end_hangup(channel))
    }

    /// The far end presses keys now (a ChannelDtmfReceived per digit).
    pub fn send_dtmf(&self, channel: &str, digits: &str) -> bool {
        with_core(&self.shared, |core| core.dtmf(channel, digits))
    }

    pub fn channel(&self, id: &str) -> Option<AriChannelView> {
        with_core(&self.shared, |core| core.channels.get(id).map(view))
    }

    pub fn channels(&self) -> Vec<AriChannelView> {
        with_core(&self.shared, |core| {
            core.channel_order
                .iter()
                .filter_map(|id| core.channels.get(id))
                .map(view)
                .collect()
        })
    }

    pub fn bridges(&self) -> Vec<AriBridgeView> {
        with_core(&self.shared, |core| {
            core.bridges
                .iter()
                .map(|b| AriBridgeView {
                    id: b.id.clone(),
                    name: b.name.clone(),
                    channels: b.channels.clone(),
                })
                .collect()
        })
    }

    /// (target URI, media URI) of every playback started, oldest first.
    pub fn played(&self) -> Vec<(String, String)> {
        with_core(&self.shared, |core| core.played.clone())
    }

    pub fn recordings(&self) -> Vec<AriRecordingView> {
        with_core(&self.shared, |core| core.recording_views())
    }

    /// `Stasis:*` device states set through `PUT /deviceStates`.
    pub fn device_states(&self) -> Vec<(String, String)> {
        with_core(&self.shared, |core| core.device_states.clone())
    }

    pub fn snoops(&self) -> Vec<AriSnoopView> {
        with_core(&self.shared, |core| core.snoops.clone())
    }

    /// Bare TCP close of every event socket; channels stay in Stasis.
    pub async fn drop_websockets(&self) {
        server::drop_connections(&self.shared, true);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    /// Half-open connections: every open connection (HTTP keep-alive and WebSocket) falls
    /// silent both ways without being closed, as when the network loses the peer without a
    /// FIN; new connections are served as usual. Asterisk sends no pings, so only the client's
    /// own liveness check can notice. [`AriSimHandle::release_frozen`] closes them.
    pub fn freeze_connections(&self) {
        server::freeze_connections(&self.shared);
    }

    /// Closes the connections [`AriSimHandle::freeze_connections`] froze, abruptly.
    pub fn release_frozen(&self) {
        server::release_frozen(&self.shared);
    }

    /// `core restart now`: shutdown sequence for every channel, sockets closed without close
    /// frames, connections refused briefly, one `503 Asterisk not booted`, then a fresh switch.
    pub async fn restart(&self) -> std::io::Result<()> {
        server::restart(&self.shared).await
    }

    pub fn stats(&self) -> AriSimStats {
        with_core(&self.shared, |core| core.stats_snapshot())
    }

    /// Events of a request before (true, the default: what the captures mostly show) or after
    /// its HTTP response is written. A client must cope with both.
    pub fn set_events_first(&self, first: bool) {
        with_core(&self.shared, |core| core.events_first = first)
    }

    /// ari.conf `channelvars` changed and `module reload res_ari.so` ran.
    pub fn set_channelvars(&self, names: Vec<String>) {
        with_core(&self.shared, |core| core.config.channelvars = names)
    }

    /// Waits until `cond` holds (checked every 10 ms); false if `timeout` passed first.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        mut cond: impl FnMut(&AriSimHandle) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if cond(self) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Where a stopped recording's file is, when `disk_root` is set and it was written.
    pub fn recording_file(&self, name: &str) -> Option<PathBuf> {
        with_core(&self.shared, |core| core.recording_path(name)).filter(|p| p.exists())
    }
}

fn view(c: &core::Channel) -> AriChannelView {
    AriChannelView {
        id: c.id.clone(),
        name: c.name.clone(),
        state: c.state.as_str().to_string(),
        in_stasis: c.stasis.is_some(),
        stasis_args: c
            .stasis
            .as_ref()
            .map(|(_, a)| a.clone())
            .unwrap_or_default(),
        bridge: c.bridge.clone(),
        moh: c.moh.clone(),
        on_hold: c.on_hold,
        variables: c.variables.clone(),
        caller_number: c.caller.1.clone(),
        context: c.dialplan.0.clone(),
        exten: c.dialplan.1.clone(),
        playing: c.playing.clone(),
        digits: c.digits.clone(),
    }
}
