//! A FreeSWITCH simulator: an ESL (inbound mode) server that behaves like FreeSWITCH
//! 1.10.12 as captured in `shared/esl-traces`, with simulated callers and desk phones.
//!
//! It owns the simulated switch (channels, event sequences, api/bgapi/sendmsg, filters,
//! faults) and its endpoints. It is used by integration tests, benchmarks (as a load
//! generator) and `switchboard demo`. It must not depend on any other Switchboard module.
//!
//! Code map: `wire` (bytes), `endpoints` (phones, callers, dial strings), `media` (sound
//! files, prompts, digit-collection arguments), `switch` (the core behind one mutex; its
//! `apps` submodule runs applications, DTMF and transfers; `registrations` phone REGISTER,
//! unregister and expiry; `presence` and `watchers` BLF publishing and what watching phones
//! receive; `esl_commands` generic mod_event_socket replies; `loopback` loopback endpoints;
//! `dialplan` where callers arrive and the stock extensions they run before parking),
//! `server` (sockets).

mod endpoints;
mod media;
mod server;
mod switch;
pub mod wire;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

pub use endpoints::{
    parse_originate, CallSpec, OriginateParseError, OriginateRequest, PhoneBehavior, PhoneSpec,
    Target,
};
pub use media::SoundFiles;
pub use switch::dialplan::Dialplan;
pub use switch::eavesdrop::EavesdropView;
pub use switch::watchers::{DialogView, Notify, PhoneLamp, WatchKind};

use switch::hold::HoldBy;
use switch::Shared;

/// Simulator configuration.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// ESL password (`auth <password>`).
    pub password: String,
    /// `FreeSWITCH-Hostname` / `FreeSWITCH-Switchname`.
    pub hostname: String,
    /// HEARTBEAT period (the real switch: 20 s).
    pub heartbeat_interval: Duration,
    /// Destination numbers of the shipped dialplan and the variables they set before `park`.
    /// A call transferred (`uuid_transfer`) to one of these numbers is parked again with
    /// its variables; any other destination answers and plays `silence_stream://-1` (the
    /// capture rig's extension 9199) until the caller hangs up.
    pub entry_points: Vec<EntryPoint>,
    /// What runs before an entry point's variables are set and the call parks (and before
    /// the extension a transferred call is sent to): the stock configuration's extensions of
    /// the call's context (`Dialplan::Stock`, the default, as in the Batch 3 rig) or nothing
    /// (`Dialplan::Bare`, the Batch 1-2 rig); and where callers arrive. See [`Dialplan`].
    pub dialplan: Dialplan,
    /// Which sound files `playback`, `say` and `play_and_get_digits` find.
    pub sound_files: SoundFiles,
    /// A real folder standing for the switch's `/`: a `uuid_record` to
    /// `/var/lib/freeswitch/recordings/x.wav` leaves a WAV file at
    /// `<disk_root>/var/lib/freeswitch/recordings/x.wav` when it stops (nothing is ever written
    /// outside it). None (the default): recordings are kept as metadata only.
    pub disk_root: Option<PathBuf>,
    /// Modules `module_exists` answers `false` for (every other module is loaded). The APIs
    /// of `mod_commands` (`module_exists`, `file_exists`, `xml_locate`, `acl`) and
    /// `mod_local_stream` (`local_stream`) then answer "Command not found".
    pub missing_modules: Vec<String>,
    /// The dialplan as `xml_locate dialplan context name <context>` returns it: a context's
    /// name and its `<context name=…>` element as XML. `public` and `default`, unless given
    /// here, are built from `entry_points` (one extension per number, in order, setting its
    /// variables and parking). This is what the switch shows an administrator; calls are still
    /// routed by `entry_points`.
    pub dialplan_xml: Vec<(String, String)>,
    /// `local_stream show`: each stream's name and folder. Default: the stock
    /// `local_stream.conf.xml` (`default` and `moh/8000` … `moh/48000`).
    pub local_streams: Vec<(String, String)>,
    /// The network lists of `acl.conf.xml` for `acl <ip> <list>`: a name and the CIDRs it
    /// allows (anything else denied). Default: the shipped `switchboard` list, placeholder
    /// replaced (`127.0.0.0/8`, `::1/128`).
    pub acl_lists: Vec<(String, Vec<String>)>,
    /// `apply-inbound-acl` of `event_socket.conf.xml`: a connection from an address any of
    /// these lists denies gets `text/rude-rejection` and is closed, as on the real switch.
    /// Empty: the real switch's default, `loopback.auto`. Default: `switchboard`.
    pub esl_inbound_acl: Vec<String>,
    /// `listen-ip` of `event_socket.conf.xml` as `xml_locate` shows it (default `127.0.0.1`).
    pub esl_listen_ip: String,
    /// `default_password` of `vars.xml` (`global_getvar default_password`). The stock `1234`
    /// makes the stock `global` extension sleep 10 s on every call from a phone.
    pub default_password: String,
    /// How long after an originated leg answers its originate returns (the job's `+OK`, then
    /// the leg's `&park()`); a `uuid_bridge` of the leg inside this window turns the job into
    /// `-ERR ORIGINATOR_CANCEL`. The real switch: about 20 ms (`bridge-before-and-after-job`).
    pub originate_return: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            password: "ClueCon".to_string(),
            hostname: "sim".to_string(),
            heartbeat_interval: Duration::from_secs(20),
            entry_points: Vec::new(),
            dialplan: Dialplan::default(),
            sound_files: SoundFiles::default(),
            disk_root: None,
            missing_modules: Vec::new(),
            dialplan_xml: Vec::new(),
            local_streams: ["default", "moh/8000", "moh/16000", "moh/32000", "moh/48000"]
                .iter()
                .map(|name| {
                    let rate = name.strip_prefix("moh/").unwrap_or("8000");
                    let folder = format!("/usr/share/freeswitch/sounds/music/{rate}");
                    (name.to_string(), folder)
                })
                .collect(),
            acl_lists: vec![(
                "switchboard".to_string(),
                vec!["127.0.0.0/8".to_string(), "::1/128".to_string()],
            )],
            esl_inbound_acl: vec!["switchboard".to_string()],
            esl_listen_ip: "127.0.0.1".to_string(),
            default_password: "changed-from-1234".to_string(),
            originate_return: Duration::from_millis(20),
        }
    }
}

/// A dialplan entry: calls to `number` get `variables` (one `set` each, in order) and are
/// parked. Which context the call runs in (and so what runs before the `set`s) depends on
/// who calls, not on the entry point: see [`Dialplan`].
#[derive(Clone, Debug)]
pub struct EntryPoint {
    pub number: String,
    pub variables: Vec<(String, String)>,
}

/// A snapshot of one channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelView {
    pub uuid: String,
    pub answered: bool,
    pub bridged_to: Option<String>,
    /// Channel variables in the switch's order (as in `uuid_dump`).
    pub variables: Vec<(String, String)>,
    pub destination: String,
    pub caller_number: String,
    pub is_outbound_leg: bool,
    /// The extension `uuid_transfer` sent this channel to (the latest, if several).
    pub transferred_to: Option<String>,
    /// The application running on top of `park` (or in the transferred-to extension):
    /// `playback`, `say`, `play_and_get_digits`, `voicemail`; `None` when only parked,
    /// bridged or idle.
    pub running_app: Option<String>,
    /// Every key the caller pressed so far, in order.
    pub digits: String,
    /// The `uuid_record` recordings running on this channel.
    pub recordings: Vec<SessionRecordingView>,
}

/// A running `uuid_record`, with what was paused (left out of the file) and masked
/// (kept as silence), as offsets from its start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecordingView {
    pub path: String,
    /// 2 when the channel's `RECORD_STEREO` was true at the start (caller and agent apart).
    pub channels: u16,
    pub paused: bool,
    pub masked: bool,
    /// How long the file is (so far): the time since start minus the paused time.
    pub written: Duration,
    pub paused_intervals: Vec<RecordingInterval>,
    pub masked_intervals: Vec<RecordingInterval>,
}

/// One `uuid_broadcast <uuid> <path> [<legs>]` the switch carried out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broadcast {
    pub uuid: String,
    pub path: String,
    /// As given (`aleg`, `bleg`, `holdb`, `both`); empty when none was.
    pub legs: String,
}

/// A stretch of a recording, as offsets from its start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordingInterval {
    pub from: Duration,
    pub to: Duration,
}

impl ChannelView {
    pub fn variable(&self, name: &str) -> Option<&str> {
        self.variables
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Counters since start (not reset by restart).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    pub calls_placed: u64,
    pub answered_by_phones: u64,
    pub bridged: u64,
    pub hung_up: u64,
    pub originates: u64,
    pub originate_failures: u64,
    /// `uuid_transfer`s carried out (callers sent to another extension).
    pub transfers: u64,
    pub commands: u64,
    pub events_sent: u64,
    pub connections: u64,
    pub active_channels: usize,
}

/// Entry point: `Simulator::start(listener, config)`.
pub struct Simulator;

impl Simulator {
    /// Serves ESL on `listener` (bind port 0 in tests) until shut down.
    pub async fn start(listener: TcpListener, config: SimConfig) -> std::io::Result<SimHandle> {
        let addr = listener.local_addr()?;
        let shared = Shared::new(&config, addr);
        server::spawn_runtime(&shared, listener);
        Ok(SimHandle { shared })
    }
}

/// Control handle for a running simulator; cheap to clone.
#[derive(Clone)]
pub struct SimHandle {
    shared: Arc<Shared>,
}

impl SimHandle {
    /// The ESL address (stays the same across restarts).
    pub fn esl_addr(&self) -> SocketAddr {
        self.shared.lock_runtime().addr
    }

    /// Adds (or replaces) a phone. It starts registered, silently (no events), unless its
    /// behaviour is `PhoneBehavior::Unregistered`: then it is unreachable until
    /// `register_phone`, after which it rings without answering (`NoAnswer`) until
    /// `set_phone_behavior` says otherwise.
    pub fn add_phone(&self, spec: PhoneSpec) {
        self.shared.run(|core| core.add_phone(spec));
    }

    /// `PhoneBehavior::Unregistered` drops the phone's registration silently (no events)
    /// and keeps its answer behaviour for a later `register_phone`; any other behaviour
    /// becomes its answer behaviour and silently registers it.
    pub fn set_phone_behavior(&self, user: &str, b: PhoneBehavior) {
        self.shared.run(|core| core.set_phone_behavior(user, b));
    }

    /// The phone sends REGISTER (`Expires: 120`) and becomes reachable with its answer
    /// behaviour. Events (as captured): CUSTOM `sofia::pre_register`,
    /// `sofia::register_attempt`, `sofia::register`, plus MESSAGE_QUERY on the phone's
    /// first REGISTER ever (phones from `add_phone` count as having registered). Also a
    /// re-register of a registered phone. False (nothing happens) for an unknown user.
    pub fn register_phone(&self, user: &str) -> bool {
        self.shared.run(|core| core.register_phone(user))
    }

    /// The phone sends REGISTER with `Expires: 0`; originates to it then fail with
    /// `USER_NOT_REGISTERED`. Events: CUSTOM `sofia::pre_register`,
    /// `sofia::register_attempt`, PRESENCE_IN (`status: Unregistered`), CUSTOM
    /// `sofia::unregister`. False (nothing happens) if the user is unknown or not registered.
    pub fn unregister_phone(&self, user: &str) -> bool {
        self.shared.run(|core| core.unregister_phone(user))
    }

    /// The switch expires the phone's registration (the phone stopped refreshing it);
    /// originates to it then fail with `USER_NOT_REGISTERED`. Events: CUSTOM
    /// `sofia::expire` then PRESENCE_IN (`rpid: away`). Happens at once (the real switch
    /// takes Expires + 60 s, checked every 30 s). False (nothing happens) if the user is
    /// unknown or not registered.
    pub fn expire_phone(&self, user: &str) -> bool {
        self.shared.run(|core| core.expire_phone(user))
    }

    /// A phone registered as `watcher` subscribes a BLF key to `target` (`agent+1001`): the
    /// switch fires PRESENCE_PROBE, as the real one does. Same as
    /// `subscribe_watcher(watcher, target, WatchKind::Dialog)`.
    pub fn probe_presence(&self, watcher: &str, target: &str) {
        self.shared.run(|core| core.probe_presence(watcher, target))
    }

    /// The phone registered as `user` subscribes to `entity` (`agent+1001`, `queue+support`;
    /// `@<switch ip>` is added when there is no domain) with `Event: dialog` or `presence`.
    /// As captured: the switch fires PRESENCE_PROBE and sends the phone no NOTIFY; each later
    /// PRESENCE_IN for the entity sends it one.
    pub fn subscribe_watcher(&self, user: &str, entity: &str, kind: WatchKind) {
        self.shared
            .run(|core| core.subscribe_watcher(user, entity, kind))
    }

    /// The phone unsubscribes (`Expires: 0`): one last NOTIFY `terminated;reason=noresource`
    /// without a body, and a PRESENCE_PROBE with `expires: 0`. False if it was not subscribed.
    pub fn unsubscribe_watcher(&self, user: &str, entity: &str, kind: WatchKind) -> bool {
        self.shared
            .run(|core| core.unsubscribe_watcher(user, entity, kind))
    }

    /// Every NOTIFY the phone `user` received for `entity`, oldest first (all its
    /// subscriptions to it, both kinds).
    pub fn notifies(&self, user: &str, entity: &str) -> Vec<Notify> {
        self.shared.peek(|core| core.watcher_notifies(user, entity))
    }

    /// What a phone watching `entity` shows now (from the latest PRESENCE_IN for it, whether
    /// or not anyone watches); None before the first one.
    pub fn lamp(&self, entity: &str) -> Option<PhoneLamp> {
        self.shared.peek(|core| core.lamp(entity))
    }

    /// Every `sendevent` received so far: the event name and its headers, in order.
    pub fn sent_events(&self) -> Vec<(String, Vec<(String, String)>)> {
        self.shared.peek(|core| core.sent_events())
    }

    /// The latest files played on any channel (up to 4,096), as channel uuid and path, oldest
    /// first: what a caller or an agent heard.
    pub fn played(&self) -> Vec<(String, String)> {
        self.shared.peek(|core| core.played())
    }

    /// The latest `uuid_record` recordings stopped (up to 4,096), as channel uuid and
    /// recording, oldest first.
    pub fn recorded(&self) -> Vec<(String, SessionRecordingView)> {
        self.shared.peek(|core| core.recorded())
    }

    /// Writes the files of recordings stopped from now on below `root` (see
    /// [`SimConfig::disk_root`]); None: metadata only.
    pub fn set_disk_root(&self, root: Option<PathBuf>) {
        self.shared.run(|core| core.set_disk_root(root));
    }

    /// Where the file of the switch's `path` is on the real disk (see
    /// [`SimConfig::disk_root`]); None without a disk root or for a path that could not be
    /// written.
    pub fn disk_file(&self, path: &str) -> Option<PathBuf> {
        self.shared.peek(|core| core.disk_file(path))
    }

    /// The supervisors' legs running `eavesdrop` or `three_way` now, by leg.
    pub fn eavesdrops(&self) -> Vec<EavesdropView> {
        self.shared.peek(|core| core.eavesdrops())
    }

    /// The members of a conference in progress, as (leg, Member-ID), in joining order.
    pub fn conference_members(&self, name: &str) -> Vec<(String, u32)> {
        self.shared.peek(|core| core.conference_members(name))
    }

    /// The latest `uuid_broadcast`s to live channels (up to 4,096), oldest first.
    pub fn broadcasts(&self) -> Vec<Broadcast> {
        self.shared.peek(|core| core.broadcasts())
    }

    /// What one channel heard, in order: the paths of [`SimHandle::played`] on `uuid`.
    pub fn played_on(&self, uuid: &str) -> Vec<String> {
        self.played()
            .into_iter()
            .filter(|(channel, _)| channel == uuid)
            .map(|(_, path)| path)
            .collect()
    }

    /// Whether the phone is registered; `None` for an unknown user.
    pub fn phone_registered(&self, user: &str) -> Option<bool> {
        self.shared.peek(|core| core.phone_registered(user))
    }

    /// Places an inbound call; returns the caller channel's uuid. With [`Dialplan::Stock`] a
    /// caller whose number is one of the phones (`add_phone`) is that phone dialing (profile
    /// `internal`, context `default`), any other comes from outside (profile `external`,
    /// context `public`); with [`Dialplan::Bare`] every caller arrives on `internal` in
    /// `public`.
    pub fn place_call(&self, spec: CallSpec) -> String {
        self.shared.run(|core| core.place_call(spec))
    }

    /// Places an inbound call whose caller presses keys: each `(after, keys)` entry sends
    /// its keys at once (one DTMF event per key) `after` the call is answered. Nothing is
    /// pressed if the call is never answered.
    pub fn place_call_pressing(&self, spec: CallSpec, dtmf: Vec<(Duration, String)>) -> String {
        self.shared.run(|core| core.place_call_pressing(spec, dtmf))
    }

    /// Hangs up `uuid` from the far end (caller's BYE/CANCEL, phone's BYE) with `cause`.
    pub fn hangup(&self, uuid: &str, cause: &str) -> bool {
        self.shared.run(|core| {
            let done = core.remote_hangup(uuid, cause);
            core.sync_loopback();
            done
        })
    }

    /// The desk phone of leg `uuid` puts its call on hold (re-INVITE `a=sendonly`), as in
    /// the `phone-hold` capture. False if there is no such answered leg or it is held.
    pub fn phone_hold(&self, uuid: &str) -> bool {
        self.shared.run(|core| core.hold_leg(uuid, HoldBy::Phone))
    }

    /// The desk phone of leg `uuid` takes its call off hold (re-INVITE `a=sendrecv`).
    /// False if there is no such live leg or it is not held.
    pub fn phone_unhold(&self, uuid: &str) -> bool {
        self.shared.run(|core| core.unhold_leg(uuid, HoldBy::Phone))
    }

    /// The desk phone on agent leg `leg` blind-transfers its partner to `target` (a SIP REFER,
    /// `phone-blind-transfer`): the leg hangs up with `transfer_to`, the partner runs `target`
    /// in its own context (an entry point parks it again). False if `leg` is not bridged.
    pub fn phone_blind_transfer(&self, leg: &str, target: &str) -> bool {
        self.shared
            .run(|core| core.phone_blind_transfer(leg, target))
    }

    /// The desk phone on agent leg `leg` calls `target` for a consultation (a second dialog,
    /// `phone-attended-transfer`): the stock dialplan rings the target's phone. Returns the
    /// consultation call's uuid (`B`); None if `leg` is not a phone's leg.
    pub fn phone_consult_call(&self, leg: &str, target: &str) -> Option<String> {
        self.shared.run(|core| core.phone_consult_call(leg, target))
    }

    /// The desk phone on `leg` completes an attended transfer (REFER with Replaces naming its
    /// consultation call `consult`): the caller is bridged to the consulted phone's leg.
    pub fn phone_attended_transfer(&self, leg: &str, consult: &str) -> bool {
        self.shared
            .run(|core| core.phone_attended_transfer(leg, consult))
    }

    /// The caller on `uuid` presses `digits` now (RFC 2833: one DTMF event per key,
    /// `DTMF-Source: RTP`). False if there is no such answered, live channel.
    pub fn send_dtmf(&self, uuid: &str, digits: &str) -> bool {
        self.shared.run(|core| core.dtmf(uuid, digits))
    }

    /// How long callers speak into a `record` before they fall silent (default 2 s).
    pub fn set_message_length(&self, length: Duration) {
        self.shared.run(|core| core.set_message_length(length));
    }

    /// Replaces the set of sound files the switch has.
    pub fn set_sound_files(&self, files: SoundFiles) {
        self.shared.run(|core| core.set_sound_files(files));
    }

    /// Installs one sound file (for `SoundFiles::Only`), like copying a prompt onto the
    /// real switch: later playbacks find it.
    pub fn install_sound_file(&self, path: &str) {
        self.shared.run(|core| core.install_sound_file(path));
    }

    /// Installs one sound file (as [`SimHandle::install_sound_file`]) whose playback lasts
    /// `length` (other files play for 0.4 s): a real prompt's length, so that a caller can
    /// press a key while it still plays.
    pub fn install_sound_file_lasting(&self, path: &str, length: Duration) {
        self.shared
            .run(|core| core.install_sound_file_lasting(path, length));
    }

    pub fn channel(&self, uuid: &str) -> Option<ChannelView> {
        self.shared.peek(|core| core.channel_view(uuid))
    }

    pub fn channels(&self) -> Vec<ChannelView> {
        self.shared.peek(|core| core.channel_views())
    }

    pub fn stats(&self) -> SimStats {
        let n = self.shared.peek(|core| core.channel_count());
        self.shared.counters.snapshot(n)
    }

    /// Closes every ESL connection abruptly (no notice); channels survive.
    pub async fn drop_connections(&self) {
        self.shared.run(|core| core.drop_connections());
    }

    /// SHUTDOWN: channels hang up `SYSTEM_SHUTDOWN`, connections get the notice and
    /// are closed, and the port refuses connections until `restart`.
    pub async fn shutdown(&self) {
        self.shared.run(|core| core.shutdown());
        server::stop_runtime(&self.shared);
        // Let aborted tasks drop the listener before returning.
        tokio::task::yield_now().await;
    }

    /// Starts the switch again on the same address: new Core-UUID, no channels.
    pub async fn restart(&self) -> std::io::Result<()> {
        server::stop_runtime(&self.shared);
        let addr = self.esl_addr();
        let mut last = None;
        for _ in 0..50 {
            match TcpListener::bind(addr).await {
                Ok(l) => {
                    self.shared.run(|core| core.restart());
                    server::spawn_runtime(&self.shared, l);
                    return Ok(());
                }
                Err(e) => {
                    last = Some(e);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("bind failed")))
    }

    /// Half-open connections: every open ESL connection falls silent both ways (no events, no
    /// HEARTBEAT, no replies, nothing read) without being closed, as when the network between
    /// loses the peer without a FIN. New connections are served as usual. The sockets stay
    /// open until [`SimHandle::release_frozen`].
    pub fn freeze_connections(&self) {
        self.shared.run(|core| core.freeze_connections());
    }

    /// Closes the sockets [`SimHandle::freeze_connections`] froze, abruptly.
    pub fn release_frozen(&self) {
        self.shared.run(|core| core.release_frozen());
    }

    /// Writes a frame no ESL parser can read (a `Content-Length` that is not a number) on
    /// every open connection.
    pub fn send_garbage_frame(&self) {
        self.shared.run(|core| core.send_garbage_frame());
    }

    /// Drops every ESL connection (as [`SimHandle::drop_connections`]) right after the switch
    /// has carried out the next `api`/`bgapi` named `command` (`originate`, `uuid_bridge`),
    /// before its reply is written. One shot.
    pub fn drop_connections_after(&self, command: &str) {
        self.shared.run(|core| core.drop_connections_after(command));
    }

    /// Holds every BACKGROUND_JOB back by `d` (zero: as usual), so a job's result arrives
    /// after later events of its channel.
    pub fn set_job_delay(&self, d: Duration) {
        self.shared.run(|core| core.set_job_delay(d));
    }

    /// How long after a leg answers its originate returns from now on (captured: 20 ms;
    /// `SimConfig::originate_return`): a wider window lets a test land a command inside it.
    pub fn set_originate_return(&self, d: Duration) {
        self.shared.run(|core| core.set_originate_return(d));
    }

    /// How many open connections are subscribed to events.
    pub fn listening_connections(&self) -> usize {
        self.shared.peek(|core| core.listening_connections())
    }

    /// Declares gateway `name` on this switch as reaching `other`: an originate to
    /// `sofia/gateway/<name>/<user>` rings `user`'s phone on `other` (see `switch/gateway.rs`).
    /// One-way: link `other` back for calls the other way.
    pub fn link_gateway(&self, name: &str, other: &SimHandle) {
        self.shared.link_gateway(name, &other.shared);
    }

    /// Delays every api/bgapi reply (and what it causes) by `d`.
    pub fn set_reply_delay(&self, d: Duration) {
        self.shared
            .reply_delay_us
            .store(d.as_micros() as u64, Ordering::Relaxed);
    }

    /// Bumps on every channel change, for waiting on a condition without sleeping.
    pub fn subscribe_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.shared.subscribe_changes()
    }

    /// Waits until `cond` holds on the channel list, or `timeout` passes.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        mut cond: impl FnMut(&SimHandle) -> bool,
    ) -> bool {
        let mut rx = self.subscribe_changes();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if cond(self) {
                return true;
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                _ => return cond(self),
            }
        }
    }
}
