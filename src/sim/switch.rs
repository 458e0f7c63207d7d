//! The simulated switch core: channels, their event sequences (in the order the real
//! FreeSWITCH 1.10 emits them), the api/bgapi/sendmsg commands, ESL subscriptions and
//! filters, and the fan-out of rendered events to connections.
//!
//! Everything here runs under one mutex (`Shared::run`) and never blocks or awaits:
//! timers are queued on the core and spawned by `Shared` once the lock is released.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::endpoints::{parse_originate, PhoneBehavior, PhoneSpec, Target};
use super::media::{self, SoundFiles};
use super::wire::{self, Command, Event, Format};
use super::{CallSpec, ChannelView, SimConfig, SimStats};

mod admin_api;
mod apps;
mod bridge;
mod commands;
pub(crate) mod conference;
pub(super) mod dialplan;
mod disk;
pub(crate) mod eavesdrop;
mod esl_commands;
mod faults;
mod gateway;
mod hangup;
mod headers;
pub(crate) mod hold;
mod local_extension;
mod loopback;
mod originate;
mod originate_job;
mod presence;
mod rebridge;
mod refer;
mod registrations;
mod requeue;
mod sendmsg_queue;
mod session_record;
mod show;
pub(super) mod watchers;

use headers::{add_profile, origin, playback_headers, q850};
use show::uptime_text;

pub(crate) type ConnId = u64;

/// What a connection task is told to do, in order.
pub(crate) enum Out {
    Data(Vec<u8>),
    /// A blocking command (`api originate`) has answered: read the next command.
    Resume,
    /// Flush what is queued, then close (FIN).
    Close,
    /// Close at once without a notice (fault injection).
    Abort,
    /// Half-open (fault injection): write and read nothing more, keep the socket open until
    /// `Abort`.
    Freeze,
}

/// Event names the simulator can emit; a subscription is a bitmask over this list.
const EVENT_NAMES: &[&str] = &[
    "CHANNEL_CREATE",
    "CHANNEL_DESTROY",
    "CHANNEL_STATE",
    "CHANNEL_CALLSTATE",
    "CHANNEL_ANSWER",
    "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE",
    "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_BRIDGE",
    "CHANNEL_UNBRIDGE",
    "CHANNEL_PROGRESS",
    "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_OUTGOING",
    "CHANNEL_PARK",
    "CHANNEL_UNPARK",
    "CHANNEL_ORIGINATE",
    "API",
    "BACKGROUND_JOB",
    "HEARTBEAT",
    "SHUTDOWN",
    "PRESENCE_IN",
    "PRESENCE_PROBE",
    "PLAYBACK_START",
    "PLAYBACK_STOP",
    "DTMF",
    "CUSTOM",
    "MESSAGE_QUERY",
    "RECORD_START",
    "RECORD_STOP",
    "MEDIA_BUG_START",
    "MEDIA_BUG_STOP",
    "CHANNEL_UUID",
    "CHANNEL_HOLD",
    "CHANNEL_UNHOLD",
];

fn event_bit(name: &str) -> Option<u64> {
    EVENT_NAMES
        .iter()
        .position(|n| *n == name)
        .map(|i| 1u64 << i)
}

/// Per-connection ESL session state kept by the core.
pub(crate) struct ConnState {
    tx: mpsc::UnboundedSender<Out>,
    format: Option<Format>,
    all: bool,
    mask: u64,
    /// CUSTOM subclasses subscribed to (the words after `CUSTOM` in `event`).
    subclasses: Vec<String>,
    filters: Vec<(String, String)>,
}

impl ConnState {
    fn send(&self, bytes: Vec<u8>) {
        // A closed receiver means the connection task is gone; nothing to do.
        let _ = self.tx.send(Out::Data(bytes));
    }

    fn wants(&self, bit: u64) -> bool {
        self.format.is_some() && (self.all || self.mask & bit != 0)
    }

    /// As `mod_event_socket`: `ALL` gets everything; otherwise the event's bit must be
    /// set and a CUSTOM event with a subclass must have that subclass subscribed.
    fn wants_event(&self, bit: u64, ev: &Event) -> bool {
        if !self.wants(bit) {
            return false;
        }
        if self.all || Some(bit) != event_bit("CUSTOM") {
            return true;
        }
        match ev.get("Event-Subclass") {
            None => true,
            Some(sub) => self.subclasses.iter().any(|s| s == sub),
        }
    }

    fn passes_filters(&self, ev: &Event) -> bool {
        self.filters.is_empty()
            || self
                .filters
                .iter()
                .any(|(k, v)| ev.get(k).is_some_and(|x| x == v))
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Dir {
    Inbound,
    Outbound,
}

impl Dir {
    fn as_str(self) -> &'static str {
        match self {
            Dir::Inbound => "inbound",
            Dir::Outbound => "outbound",
        }
    }
}

/// The caller profile (`Caller-*` / `Other-Leg-*` headers).
#[derive(Clone, Debug)]
struct Profile {
    username: Option<String>,
    dialplan: Option<&'static str>,
    cid_name: Option<String>,
    cid_number: String,
    orig_cid_name: Option<String>,
    orig_cid_number: String,
    callee_name: Option<String>,
    callee_number: Option<String>,
    network_addr: Option<String>,
    ani: String,
    destination: String,
    source: &'static str,
    transfer_source: Option<String>,
    context: String,
    index: u32,
    created_us: u64,
}

/// An application running on a channel (`park`, or `playback` on top of it).
#[derive(Clone, Debug)]
struct App {
    name: String,
    arg: String,
    uuid: String,
}

/// A file being played (PLAYBACK_START sent, PLAYBACK_STOP not yet).
#[derive(Clone, Debug)]
struct Playing {
    path: String,
    token: u64,
    started: Instant,
}

/// A pending `originate` result: a bgapi job or a blocked `api` connection.
#[derive(Clone, Debug)]
struct Job {
    job_uuid: Option<String>,
    api_conn: Option<ConnId>,
    arg: String,
    api_seq: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Initiator {
    /// The far end (caller's BYE/CANCEL, phone's BYE/refusal).
    Remote,
    /// The switch (uuid_kill, the other leg of a bridge, shutdown).
    Local,
}

#[derive(Clone)]
struct Channel {
    uuid: String,
    name: String,
    dir: Dir,
    state: &'static str,
    state_num: u8,
    call_state: &'static str,
    answer_state: &'static str,
    presence_id: Option<String>,
    call_uuid: String,
    profile_ready: bool,
    profile: Profile,
    answered_us: u64,
    progress_us: u64,
    progress_media_us: u64,
    hangup_us: u64,
    bridged_us: u64,
    media: bool,
    vars: Vec<(String, String)>,
    hangup_cause: Option<String>,
    park: Option<App>,
    /// The application running on top of park (playback, say, play_and_get_digits,
    /// voicemail, or the transferred-to extension's playback).
    app: Option<App>,
    /// The file being played for `app`.
    playing: Option<Playing>,
    /// Digit collection state of a running `play_and_get_digits`.
    pagd: Option<apps::Pagd>,
    /// The file a running `record` writes.
    recording: Option<apps::Recording>,
    /// The `uuid_record` recordings running on this channel.
    session_recordings: Vec<session_record::SessionRecording>,
    presence_count: u32,
    transferred_to: Option<String>,
    digits: String,
    /// Keys the caller will press, timed from the answer.
    dtmf_plan: Vec<(Duration, String)>,
    /// The originate timed out (its job result comes before HANGUP_COMPLETE).
    timed_out: bool,
    bridged_to: Option<String>,
    bridge_a: bool,
    other_leg: Option<String>,
    /// The other leg as it was when bridged (its `Other-Leg-*` headers outlive it).
    other_snap: Option<Box<Channel>>,
    job: Option<Job>,
    phone: Option<String>,
    call: Option<CallSpec>,
    talk_timer_set: bool,
    /// Nested, suspended and waiting `sendmsg` executes.
    exec: sendmsg_queue::Exec,
    /// An answered leg whose originate has not returned yet.
    race: originate_job::Race,
    hold: hold::HoldState,
    /// A supervisor's leg running `eavesdrop` or `three_way` (see `eavesdrop`).
    eavesdrop: Option<eavesdrop::Eavesdrop>,
}

impl Channel {
    /// A channel as the switch makes it, before anything happened to it (an originated leg's
    /// state; an inbound call starts a step earlier, in `CS_NEW`).
    fn new(uuid: &str, name: String, dir: Dir, profile: Profile) -> Channel {
        Channel {
            uuid: uuid.to_owned(),
            name,
            dir,
            state: "CS_NONE",
            state_num: 1,
            call_state: "DOWN",
            answer_state: "ringing",
            presence_id: None,
            call_uuid: uuid.to_owned(),
            profile_ready: true,
            profile,
            answered_us: 0,
            progress_us: 0,
            progress_media_us: 0,
            hangup_us: 0,
            bridged_us: 0,
            media: false,
            vars: Vec::with_capacity(32),
            hangup_cause: None,
            park: None,
            app: None,
            playing: None,
            pagd: None,
            recording: None,
            session_recordings: Vec::new(),
            presence_count: 0,
            transferred_to: None,
            digits: String::new(),
            dtmf_plan: Vec::new(),
            timed_out: false,
            bridged_to: None,
            bridge_a: false,
            other_leg: None,
            other_snap: None,
            job: None,
            phone: None,
            call: None,
            talk_timer_set: false,
            exec: Default::default(),
            race: Default::default(),
            hold: Default::default(),
            eavesdrop: None,
        }
    }

    fn set_var(&mut self, name: &str, value: impl Into<String>) {
        // Like switch_channel_set_variable: the header moves to the end.
        self.vars.retain(|(k, _)| k != name);
        self.vars.push((name.to_string(), value.into()));
    }

    /// A new `transfer_source`, appended to `transfer_history` (`ARRAY::a|:b` from the
    /// second one on).
    fn push_transfer(&mut self, source: String) {
        let history = match self.var("transfer_history") {
            None => source.clone(),
            Some(h) if h.starts_with("ARRAY::") => format!("{h}|:{source}"),
            Some(h) => format!("ARRAY::{h}|:{source}"),
        };
        self.set_var("transfer_history", history);
        self.set_var("transfer_source", source);
    }

    fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn view(&self) -> ChannelView {
        ChannelView {
            uuid: self.uuid.clone(),
            answered: self.answered_us != 0,
            bridged_to: self.bridged_to.clone(),
            variables: self.vars.clone(),
            destination: self.profile.destination.clone(),
            caller_number: self.profile.cid_number.clone(),
            is_outbound_leg: self.dir == Dir::Outbound,
            transferred_to: self.transferred_to.clone(),
            running_app: self.app.as_ref().map(|a| a.name.clone()),
            digits: self.digits.clone(),
            recordings: self
                .session_recordings
                .iter()
                .map(session_record::SessionRecording::view)
                .collect(),
        }
    }
}

struct Phone {
    /// How it answers when registered; never `PhoneBehavior::Unregistered`.
    behavior: PhoneBehavior,
    hangup_after_talk: Option<Duration>,
    reg: registrations::Registration,
}

/// Timers the core asks for; `Shared` spawns them after releasing the lock.
#[derive(Debug)]
pub(crate) enum Timer {
    PhoneAnswer(String),
    LegFail {
        uuid: String,
        cause: &'static str,
        status: &'static str,
        phrase: &'static str,
    },
    OriginateTimeout(String),
    /// An answered leg's originate returns.
    OriginateReturn(String),
    /// The running application notices a `uuid_break` (one core tick later).
    Break(String),
    RemoteHangup(String),
    Patience(String),
    PlaybackDone {
        uuid: String,
        token: u64,
    },
    /// `play_and_get_digits` waited long enough for the next digit.
    DigitTimeout {
        uuid: String,
        token: u64,
    },
    /// A `record` reached its time limit, or the caller's silence after speaking.
    RecordDone {
        uuid: String,
        token: u64,
        cause: &'static str,
    },
    /// A `uuid_record` with a limit has written that much.
    SessionRecordLimit {
        uuid: String,
        token: u64,
    },
    /// A BACKGROUND_JOB held back by a fault (`faults`).
    LateJob {
        job_uuid: String,
        cmd: String,
        arg: String,
        result: String,
    },
    /// The caller presses keys (planned by `place_call_pressing`).
    Dtmf {
        uuid: String,
        digits: String,
    },
}

/// Counters behind `SimHandle::stats`.
#[derive(Default)]
pub(crate) struct Counters {
    pub calls_placed: AtomicU64,
    pub answered_by_phones: AtomicU64,
    pub bridged: AtomicU64,
    pub hung_up: AtomicU64,
    pub originates: AtomicU64,
    pub originate_failures: AtomicU64,
    pub transfers: AtomicU64,
    pub commands: AtomicU64,
    pub events_sent: AtomicU64,
    pub connections: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self, active_channels: usize) -> SimStats {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        SimStats {
            calls_placed: g(&self.calls_placed),
            answered_by_phones: g(&self.answered_by_phones),
            bridged: g(&self.bridged),
            hung_up: g(&self.hung_up),
            originates: g(&self.originates),
            originate_failures: g(&self.originate_failures),
            transfers: g(&self.transfers),
            commands: g(&self.commands),
            events_sent: g(&self.events_sent),
            connections: g(&self.connections),
            active_channels,
        }
    }
}

const FS_VERSION: &str = "1.10.12-release+git~20240802T210227Z~a88d069d6f~64bit";
const FS_VERSION_SHORT: &str = "1.10.12-release git a88d069 2024-08-02 21:02:27Z 64bit";
const HOST_IP: &str = "127.0.0.1";

/// Outcome of a command for the connection task.
pub(crate) enum Flow {
    Continue,
    /// Wait for `Out::Resume` before reading the next command.
    Blocked,
    Close,
    /// `fsctl shutdown`: the listener must go too.
    Shutdown,
}

pub(crate) struct Core {
    hostname: String,
    admin: admin_api::Admin,
    entry_points: HashMap<String, Vec<(String, String)>>,
    /// What runs before an entry point's variables, and where callers arrive.
    dialplan: dialplan::Dialplan,
    core_uuid: String,
    seq: u64,
    base_us: u64,
    started: Instant,
    channels: HashMap<String, Channel>,
    phones: HashMap<String, Phone>,
    conns: HashMap<ConnId, ConnState>,
    next_conn: ConnId,
    pub(crate) up: bool,
    pub(crate) epoch: u64,
    sessions_since_startup: u64,
    session_id: u64,
    timers: Vec<(Duration, Timer)>,
    changed: bool,
    counters: Arc<Counters>,
    sounds: SoundFiles,
    /// Installed sound files whose playback lasts a given time (others: `media::duration`).
    sound_lengths: HashMap<String, Duration>,
    /// How long a caller speaks into a `record` before falling silent.
    message_length: Duration,
    next_token: u64,
    /// SIP port handed to the next phone added (`network-port` of its registration).
    next_phone_port: u16,
    /// Every `sendevent` received, as its event name and headers, in order.
    /// The latest events clients sent (`sendevent`), oldest first, at most [`SENT_EVENTS_KEPT`].
    sent_events: VecDeque<(String, Vec<(String, String)>)>,
    /// The latest files played (PLAYBACK_START), as channel uuid and path, oldest first.
    played: VecDeque<(String, String)>,
    /// The latest `uuid_record` recordings stopped, as channel uuid and recording, oldest first.
    recorded: VecDeque<(String, crate::sim::SessionRecordingView)>,
    /// The latest `uuid_broadcast`s, oldest first.
    broadcasts: VecDeque<crate::sim::Broadcast>,
    /// The real folder standing for the switch's `/`: stopped `uuid_record`s are written there.
    disk_root: Option<std::path::PathBuf>,
    /// Phones watching BLF names, what they were sent, the lamps they show.
    watchers: watchers::Watchers,
    /// Live loopback pairs, A leg to B leg.
    loopbacks: HashMap<String, String>,
    /// How long after a leg's answer its originate returns.
    originate_return: Duration,
    faults: faults::Faults,
    /// `sofia/gateway/…` links to other simulators and the calls crossing them.
    gateways: gateway::Gateways,
    /// Conferences in progress (see `conference`).
    conferences: conference::Conferences,
}

/// How many playbacks [`Core::played`] remembers.
const PLAYED_KEPT: usize = 4096;

/// How many sent events [`Core::sent_events`] remembers (a long run publishes lamps for ever).
const SENT_EVENTS_KEPT: usize = 4096;

fn now_unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl Core {
    pub(crate) fn new(config: &SimConfig, counters: Arc<Counters>) -> Core {
        Core {
            hostname: config.hostname.clone(),
            admin: admin_api::Admin::from_config(config),
            entry_points: config
                .entry_points
                .iter()
                .map(|e| (e.number.clone(), e.variables.clone()))
                .collect(),
            dialplan: config.dialplan,
            core_uuid: new_uuid(),
            seq: 0,
            base_us: now_unix_us(),
            started: Instant::now(),
            channels: HashMap::with_capacity(1024),
            phones: HashMap::new(),
            conns: HashMap::new(),
            next_conn: 1,
            up: true,
            epoch: 0,
            sessions_since_startup: 0,
            session_id: 0,
            timers: Vec::new(),
            changed: false,
            counters,
            sounds: config.sound_files.clone(),
            sound_lengths: HashMap::new(),
            message_length: apps::MESSAGE_LENGTH,
            next_token: 0,
            next_phone_port: registrations::FIRST_PHONE_PORT,
            sent_events: VecDeque::new(),
            played: VecDeque::new(),
            recorded: VecDeque::new(),
            broadcasts: VecDeque::new(),
            disk_root: config.disk_root.clone(),
            watchers: watchers::Watchers::default(),
            loopbacks: HashMap::new(),
            originate_return: config.originate_return,
            faults: faults::Faults::default(),
            gateways: gateway::Gateways::default(),
            conferences: conference::Conferences::default(),
        }
    }

    /// A fresh switch process: new Core-UUID, no channels, sequence restarted.
    pub(crate) fn restart(&mut self) {
        self.core_uuid = new_uuid();
        self.seq = 0;
        self.base_us = now_unix_us();
        self.started = Instant::now();
        self.channels.clear();
        self.gateways.forget_calls();
        self.up = true;
        self.epoch += 1;
        self.sessions_since_startup = 0;
        self.changed = true;
    }

    // ---- time and sequence -------------------------------------------------------

    /// The 20 ms core timer tick: many events share one timestamp.
    fn now_us(&self) -> u64 {
        let el = self.started.elapsed().as_micros() as u64;
        self.base_us + el / 20_000 * 20_000
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn timer(&mut self, after: Duration, t: Timer) {
        self.timers.push((after, t));
    }

    pub(crate) fn take_timers(&mut self) -> Vec<(Duration, Timer)> {
        std::mem::take(&mut self.timers)
    }

    pub(crate) fn take_changed(&mut self) -> bool {
        std::mem::replace(&mut self.changed, false)
    }

    // ---- connections ---------------------------------------------------------------

    pub(crate) fn add_conn(&mut self, tx: mpsc::UnboundedSender<Out>) -> ConnId {
        let id = self.next_conn;
        self.next_conn += 1;
        self.conns.insert(
            id,
            ConnState {
                tx,
                format: None,
                all: false,
                mask: 0,
                subclasses: Vec::new(),
                filters: Vec::new(),
            },
        );
        id
    }

    pub(crate) fn remove_conn(&mut self, id: ConnId) {
        self.conns.remove(&id);
    }

    fn reply(&self, conn: ConnId, bytes: Vec<u8>) {
        if let Some(c) = self.conns.get(&conn) {
            c.send(bytes);
        }
    }

    pub(crate) fn drop_connections(&mut self) {
        for (_, c) in self.conns.drain() {
            let _ = c.tx.send(Out::Abort);
        }
    }

    fn wanted(&self, bit: u64) -> bool {
        self.conns.values().any(|c| c.wants(bit))
    }

    // ---- event construction and fan-out --------------------------------------------

    fn base_event(
        &self,
        name: &'static str,
        seq: u64,
        origin: (&'static str, &'static str, &'static str),
    ) -> Event {
        let ts = self.now_us();
        let mut ev = Event::with_capacity(96);
        ev.add("Event-Name", name);
        ev.add("Core-UUID", self.core_uuid.clone());
        ev.add("FreeSWITCH-Hostname", self.hostname.clone());
        ev.add("FreeSWITCH-Switchname", self.hostname.clone());
        ev.add("FreeSWITCH-IPv4", HOST_IP);
        ev.add("FreeSWITCH-IPv6", "::1");
        ev.add("Event-Date-Local", wire::date_local(ts));
        ev.add("Event-Date-GMT", wire::date_gmt(ts));
        ev.add("Event-Date-Timestamp", ts.to_string());
        ev.add("Event-Calling-File", origin.0);
        ev.add("Event-Calling-Function", origin.1);
        ev.add("Event-Calling-Line-Number", origin.2);
        ev.add("Event-Sequence", seq.to_string());
        ev
    }

    fn dispatch(&self, bit: u64, ev: &Event) {
        let mut plain: Option<Vec<u8>> = None;
        let mut json: Option<Vec<u8>> = None;
        for c in self.conns.values() {
            if !c.wants_event(bit, ev) || !c.passes_filters(ev) {
                continue;
            }
            let bytes = match c.format {
                Some(Format::Json) => json.get_or_insert_with(|| ev.frame(Format::Json)).clone(),
                _ => plain.get_or_insert_with(|| ev.frame(Format::Plain)).clone(),
            };
            c.send(bytes);
            self.counters.events_sent.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Fires a non-channel event; `build` adds the headers after the common block.
    fn fire(&mut self, name: &'static str, seq: Option<u64>, build: impl FnOnce(&mut Event)) {
        let seq = seq.unwrap_or_else(|| self.next_seq());
        let bit = event_bit(name).unwrap_or(0);
        if !self.wanted(bit) {
            return;
        }
        let mut ev = self.base_event(name, seq, origin(name, ""));
        build(&mut ev);
        self.dispatch(bit, &ev);
    }

    /// Fires a channel event: `pre` headers, channel data, `post` headers, variables.
    fn chan_event(
        &mut self,
        uuid: &str,
        name: &'static str,
        pre: &[(&'static str, String)],
        post: &[(&'static str, String)],
    ) {
        let seq = self.next_seq();
        let bit = event_bit(name).unwrap_or(0);
        if !self.wanted(bit) {
            return;
        }
        let Some(ch) = self.channels.get(uuid) else {
            return;
        };
        let with_vars = !matches!(
            name,
            "CHANNEL_STATE" | "CHANNEL_CALLSTATE" | "PRESENCE_IN" | "CHANNEL_OUTGOING" | "DTMF"
        );
        let app = post
            .iter()
            .find(|(k, _)| *k == "Application")
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        let mut ev = self.base_event(
            name,
            seq,
            origin(
                name,
                if name == "CHANNEL_STATE" {
                    ch.state
                } else {
                    app
                },
            ),
        );
        for (k, v) in pre {
            ev.add(*k, v.clone());
        }
        self.channel_data(ch, &mut ev);
        for (k, v) in post {
            ev.add(*k, v.clone());
        }
        if with_vars {
            for (k, v) in &ch.vars {
                ev.add(format!("variable_{k}"), v.clone());
            }
        }
        self.dispatch(bit, &ev);
    }

    fn channel_data(&self, ch: &Channel, ev: &mut Event) {
        ev.add("Channel-State", ch.state);
        ev.add("Channel-Call-State", ch.call_state);
        ev.add("Channel-State-Number", ch.state_num.to_string());
        ev.add("Channel-Name", ch.name.clone());
        ev.add("Unique-ID", ch.uuid.clone());
        ev.add("Call-Direction", ch.dir.as_str());
        ev.add("Presence-Call-Direction", ch.dir.as_str());
        ev.add(
            "Channel-HIT-Dialplan",
            if ch.dir == Dir::Inbound {
                "true"
            } else {
                "false"
            },
        );
        if ch.profile_ready {
            if let Some(p) = &ch.presence_id {
                ev.add("Channel-Presence-ID", p.clone());
            }
        }
        ev.add("Channel-Call-UUID", ch.call_uuid.clone());
        ev.add("Answer-State", ch.answer_state);
        if let Some(cause) = &ch.hangup_cause {
            ev.add("Hangup-Cause", cause.clone());
        }
        if ch.media {
            ev.add("Channel-Read-Codec-Name", "PCMU");
            ev.add("Channel-Read-Codec-Rate", "8000");
            ev.add("Channel-Read-Codec-Bit-Rate", "64000");
            ev.add("Channel-Write-Codec-Name", "PCMU");
            ev.add("Channel-Write-Codec-Rate", "8000");
            ev.add("Channel-Write-Codec-Bit-Rate", "64000");
        }
        if !ch.profile_ready {
            return;
        }
        add_profile(ev, "Caller", ch, true);
        let live = ch.other_leg.as_ref().and_then(|o| self.channels.get(o));
        if let Some(other) = live.or(ch.other_snap.as_deref()) {
            ev.add(
                "Other-Type",
                if ch.dir == Dir::Outbound {
                    "originator"
                } else {
                    "originatee"
                },
            );
            add_profile(ev, "Other-Leg", other, false);
        }
    }

    // ---- channel state helpers -------------------------------------------------------

    fn with_chan(&mut self, uuid: &str, f: impl FnOnce(&mut Channel)) {
        if let Some(ch) = self.channels.get_mut(uuid) {
            f(ch);
        }
    }

    fn set_state(&mut self, uuid: &str, state: &'static str, num: u8) {
        self.with_chan(uuid, |c| {
            c.state = state;
            c.state_num = num;
        });
        self.chan_event(uuid, "CHANNEL_STATE", &[], &[]);
    }

    fn set_callstate(&mut self, uuid: &str, new: &'static str) {
        let Some(ch) = self.channels.get_mut(uuid) else {
            return;
        };
        let orig = ch.call_state;
        ch.call_state = new;
        let num = match new {
            "DOWN" => 0,
            "RINGING" => 2,
            "EARLY" => 3,
            "ACTIVE" => 4,
            _ => 7,
        };
        self.chan_event(
            uuid,
            "CHANNEL_CALLSTATE",
            &[
                ("Original-Channel-Call-State", orig.to_string()),
                ("Channel-Call-State-Number", num.to_string()),
            ],
            &[],
        );
    }

    /// PRESENCE_IN of an inbound channel; `event_count` counts them per channel.
    fn presence(&mut self, uuid: &str, status: &str, info_state: &str) {
        let Some(ch) = self.channels.get_mut(uuid) else {
            return;
        };
        // A caller from the `external` profile has no presence_id: no PRESENCE_IN.
        if ch.dir != Dir::Inbound || ch.presence_id.is_none() {
            return;
        }
        let count = ch.presence_count;
        ch.presence_count += 1;
        let from = ch.presence_id.clone().unwrap_or_default();
        let post = [
            ("proto", "any".to_string()),
            ("login", "src/switch_channel.c".to_string()),
            ("from", from),
            ("rpid", "unknown".to_string()),
            ("status", status.to_string()),
            ("event_type", "presence".to_string()),
            ("alt_event_type", "dialog".to_string()),
            ("presence-call-info-state", info_state.to_string()),
            ("presence-call-direction", "inbound".to_string()),
            ("event_count", count.to_string()),
        ];
        self.chan_event(uuid, "PRESENCE_IN", &[], &post);
    }

    /// CHANNEL_EXECUTE of `park` (as `as_park`) or of an application on top of it. Like
    /// `switch_core_session_exec`, it clears the last application response.
    fn start_app(&mut self, uuid: &str, name: &str, arg: &str, app_uuid: String, as_park: bool) {
        let app = App {
            name: name.to_string(),
            arg: arg.to_string(),
            uuid: app_uuid,
        };
        self.with_chan(uuid, |c| {
            c.vars.retain(|(k, _)| k != "current_application_response");
            if arg.is_empty() {
                // As captured (CHANNEL_PARK after the dialplan's `set`s): no data, no variable.
                c.vars.retain(|(k, _)| k != "current_application_data");
            } else {
                c.set_var("current_application_data", arg);
            }
            c.set_var("current_application", name);
            if as_park {
                c.park = Some(app.clone());
            } else {
                c.app = Some(app.clone());
                c.exec.meta = c.exec.next.take().unwrap_or_default();
            }
        });
        let mut post = vec![("Application", app.name.clone())];
        if !app.arg.is_empty() {
            post.push(("Application-Data", app.arg.clone()));
        }
        post.push(("Application-UUID", app.uuid.clone()));
        self.chan_event(uuid, "CHANNEL_EXECUTE", &[], &post);
        self.changed = true;
    }

    /// CHANNEL_EXECUTE_COMPLETE of `app`. `response` is what the application reported
    /// (`current_application_response`); without one the event says `_none_`, or what an
    /// earlier application reported if nothing ran since (park's completion).
    fn complete_app(&mut self, uuid: &str, app: &App, response: Option<&str>) {
        let Some(ch) = self.channels.get_mut(uuid) else {
            return;
        };
        if let Some(r) = response {
            ch.set_var("current_application_response", r);
        }
        let shown = ch
            .var("current_application_response")
            .unwrap_or("_none_")
            .to_string();
        let mut post = vec![("Application", app.name.clone())];
        if !app.arg.is_empty() {
            post.push(("Application-Data", app.arg.clone()));
        }
        post.push(("Application-Response", shown));
        post.push(("Application-UUID", app.uuid.clone()));
        self.chan_event(uuid, "CHANNEL_EXECUTE_COMPLETE", &[], &post);
        self.changed = true;
    }

    /// Ends the application running on top of park (if any) with `response`; what it was
    /// nested in, or what waited for it, goes on.
    fn finish_app(&mut self, uuid: &str, response: Option<&str>) {
        let Some(app) = self.channels.get_mut(uuid).and_then(|c| {
            c.pagd = None;
            c.app.take()
        }) else {
            return;
        };
        self.complete_app(uuid, &app, response);
        self.after_app(uuid);
    }

    fn park(&mut self, uuid: &str) {
        self.with_chan(uuid, |c| {
            let cu = c.call_uuid.clone();
            c.set_var("call_uuid", cu);
        });
        self.start_app(uuid, "park", "", new_uuid(), true);
        self.chan_event(uuid, "CHANNEL_PARK", &[], &[]);
    }

    /// The latest playbacks started, as channel uuid and path, oldest first.
    pub(crate) fn played(&self) -> Vec<(String, String)> {
        self.played.iter().cloned().collect()
    }

    /// PLAYBACK_START of `path` for the running application, and its end timer.
    fn start_playing(&mut self, uuid: &str, path: &str) {
        self.next_token += 1;
        let token = self.next_token;
        self.with_chan(uuid, |c| {
            c.playing = Some(Playing {
                path: path.to_string(),
                token,
                started: Instant::now(),
            })
        });
        if self.played.len() == PLAYED_KEPT {
            self.played.pop_front();
        }
        self.played.push_back((uuid.to_owned(), path.to_owned()));
        self.chan_event(uuid, "PLAYBACK_START", &[], &playback_headers(path, None));
        if let Some(d) = self.playback_length(path) {
            self.timer(
                d,
                Timer::PlaybackDone {
                    uuid: uuid.to_string(),
                    token,
                },
            );
        }
    }

    /// PLAYBACK_STOP with `status` (`done`, `break`) and the `playback_*` variables.
    fn stop_playing(&mut self, uuid: &str, status: &str) -> bool {
        let Some(p) = self.channels.get_mut(uuid).and_then(|c| c.playing.take()) else {
            return false;
        };
        let ms = p.started.elapsed().as_millis() as u64;
        let samples = ms * 8;
        self.with_chan(uuid, |c| {
            c.set_var("playback_last_offset_pos", samples.to_string());
            c.set_var("playback_seconds", (ms / 1000).to_string());
            c.set_var("playback_ms", ms.to_string());
            c.set_var("playback_samples", samples.to_string());
        });
        self.chan_event(
            uuid,
            "PLAYBACK_STOP",
            &[],
            &playback_headers(&p.path, Some(status)),
        );
        true
    }

    /// The running applications are cut short by a hangup, bridge or transfer: each
    /// playback stops (`done`) and its application completes. A `playback` reports `response`.
    fn abort_app(&mut self, uuid: &str, playback_response: &str) {
        self.unwind_apps(uuid, playback_response);
    }

    fn unpark(&mut self, uuid: &str) {
        let Some(app) = self.channels.get_mut(uuid).and_then(|c| c.park.take()) else {
            return;
        };
        self.chan_event(uuid, "CHANNEL_UNPARK", &[], &[]);
        // Parked by the core after a bridge: no application to complete.
        if !app.uuid.is_empty() {
            self.complete_app(uuid, &app, None);
        }
    }

    // ---- inbound calls ------------------------------------------------------------

    pub(crate) fn place_call(&mut self, spec: CallSpec) -> String {
        self.place_call_pressing(spec, Vec::new())
    }

    pub(crate) fn place_call_pressing(
        &mut self,
        spec: CallSpec,
        dtmf: Vec<(Duration, String)>,
    ) -> String {
        let uuid = new_uuid();
        if !self.up {
            return uuid;
        }
        self.counters.calls_placed.fetch_add(1, Ordering::Relaxed);
        self.sessions_since_startup += 1;
        self.session_id += 1;
        let port = 5100 + (self.session_id % 800);
        let from_uri = format!("{}@{HOST_IP}:{port}", spec.caller_number);
        let arrival = self.arrival(&spec.caller_number, &from_uri);
        let name = arrival.name.clone();
        let now = self.now_us();
        let profile = Profile {
            username: Some(spec.caller_number.clone()),
            dialplan: Some("XML"),
            cid_name: Some(spec.caller_name.clone()),
            cid_number: spec.caller_number.clone(),
            orig_cid_name: Some(spec.caller_name.clone()),
            orig_cid_number: spec.caller_number.clone(),
            callee_name: None,
            callee_number: None,
            network_addr: Some(HOST_IP.to_string()),
            ani: spec.caller_number.clone(),
            destination: spec.destination.clone(),
            source: "mod_sofia",
            transfer_source: None,
            context: arrival.context.to_string(),
            index: 1,
            created_us: now,
        };
        let mut ch = Channel {
            state: "CS_NEW",
            state_num: 0,
            presence_id: arrival.presence_id.clone(),
            profile_ready: false,
            dtmf_plan: dtmf,
            call: Some(spec.clone()),
            ..Channel::new(&uuid, name.clone(), Dir::Inbound, profile)
        };
        ch.set_var("direction", "inbound");
        ch.set_var("uuid", uuid.clone());
        ch.set_var("call_uuid", uuid.clone());
        ch.set_var("session_id", self.session_id.to_string());
        ch.set_var("sip_from_user", spec.caller_number.clone());
        ch.set_var("sip_from_port", port.to_string());
        ch.set_var("sip_from_uri", from_uri.clone());
        ch.set_var("sip_from_host", HOST_IP);
        ch.set_var("channel_name", name);
        if arrival.phone {
            Self::directory_vars(&mut ch, &spec.caller_number);
        }
        ch.set_var(
            "sip_call_id",
            format!("{}-{}@{HOST_IP}", self.session_id, port),
        );
        ch.set_var("sip_network_ip", HOST_IP);
        ch.set_var("sip_network_port", port.to_string());
        ch.set_var("sofia_profile_name", arrival.profile);
        ch.set_var("sip_from_display", spec.caller_name.clone());
        ch.set_var(
            "sip_full_from",
            format!(
                "\"{}\" <sip:{from_uri}>;tag={}",
                spec.caller_name, self.session_id
            ),
        );
        ch.set_var("sip_req_user", spec.destination.clone());
        ch.set_var("sip_to_user", spec.destination.clone());
        if let Some(presence) = arrival.presence_id {
            ch.set_var("presence_id", presence);
        }
        self.channels.insert(uuid.clone(), ch);
        self.changed = true;

        self.chan_event(&uuid, "CHANNEL_STATE", &[], &[]);
        self.with_chan(&uuid, |c| c.profile_ready = true);
        self.set_state(&uuid, "CS_INIT", 1);
        self.with_chan(&uuid, |c| c.state_num = 2);
        self.chan_event(&uuid, "CHANNEL_CREATE", &[], &[]);
        self.with_chan(&uuid, |c| c.state = "CS_ROUTING");
        self.set_callstate(&uuid, "RINGING");
        self.chan_event(&uuid, "CHANNEL_STATE", &[], &[]);
        self.with_chan(&uuid, |c| c.state_num = 4);
        self.presence(&uuid, "CS_ROUTING", "alerting");
        self.set_state(&uuid, "CS_EXECUTE", 4);
        // The dialplan (the stock extensions, the entry point's variables); any call parks but
        // one to a phone, which the stock `Local_Extension` bridges (`local_extension`).
        if self.enter_dialplan(&uuid) || !self.bridge_to_phone(&uuid) {
            self.park(&uuid);
        }
        if let Some(p) = spec.patience {
            self.timer(p, Timer::Patience(uuid.clone()));
        }
        uuid
    }

    fn answer_inbound(&mut self, uuid: &str) {
        let now = self.now_us();
        let Some(ch) = self.channels.get_mut(uuid) else {
            return;
        };
        if ch.answered_us != 0 || ch.hangup_cause.is_some() {
            return;
        }
        ch.media = true;
        ch.progress_media_us = now;
        ch.answer_state = "early";
        ch.set_var("read_codec", "PCMU");
        ch.set_var("write_codec", "PCMU");
        self.chan_event(uuid, "CHANNEL_PROGRESS_MEDIA", &[], &[]);
        self.set_callstate(uuid, "EARLY");
        self.with_chan(uuid, |c| {
            c.answered_us = now;
            c.answer_state = "answered";
        });
        self.chan_event(uuid, "CHANNEL_ANSWER", &[], &[]);
        self.presence(uuid, "answered", "active");
        self.set_callstate(uuid, "ACTIVE");
        self.changed = true;
        // The caller's keypresses are timed from the answer.
        let presses = self
            .channels
            .get_mut(uuid)
            .map(|c| std::mem::take(&mut c.dtmf_plan))
            .unwrap_or_default();
        for (after, digits) in presses {
            self.timer(
                after,
                Timer::Dtmf {
                    uuid: uuid.to_string(),
                    digits,
                },
            );
        }
    }

    // ---- timers -------------------------------------------------------------------

    pub(crate) fn on_timer(&mut self, t: Timer) {
        match t {
            Timer::PhoneAnswer(u) => self.phone_answer(&u),
            Timer::LegFail {
                uuid,
                cause,
                status,
                phrase,
            } => {
                if self.channels.get(&uuid).is_some_and(|c| c.answered_us == 0) {
                    self.hangup(&uuid, cause, Initiator::Remote, Some((status, phrase)));
                }
            }
            Timer::OriginateReturn(u) => self.originate_returns(&u),
            Timer::Break(u) => self.break_noticed(&u),
            Timer::OriginateTimeout(u) => {
                if self
                    .channels
                    .get(&u)
                    .is_some_and(|c| c.answered_us == 0 && c.job.is_some())
                {
                    self.with_chan(&u, |c| c.timed_out = true);
                    self.hangup(&u, "NO_ANSWER", Initiator::Local, None);
                }
            }
            Timer::RemoteHangup(u) => {
                let cause = self.remote_cause(&u);
                self.hangup(&u, cause, Initiator::Remote, None);
            }
            Timer::Patience(u) => {
                if self.channels.get(&u).is_some_and(|c| c.bridged_us == 0) {
                    let cause = self.remote_cause(&u);
                    self.hangup(&u, cause, Initiator::Remote, None);
                }
            }
            Timer::PlaybackDone { uuid, token } => self.playback_done(&uuid, token),
            Timer::DigitTimeout { uuid, token } => self.digit_timeout(&uuid, token),
            Timer::RecordDone { uuid, token, cause } => self.record_done(&uuid, token, cause),
            Timer::SessionRecordLimit { uuid, token } => self.session_record_limit(&uuid, token),
            Timer::Dtmf { uuid, digits } => {
                self.dtmf(&uuid, &digits);
            }
            Timer::LateJob {
                job_uuid,
                cmd,
                arg,
                result,
            } => self.fire_background_job(&job_uuid, &cmd, &arg, &result),
        }
    }

    fn remote_cause(&self, uuid: &str) -> &'static str {
        match self.channels.get(uuid) {
            Some(c) if c.answered_us == 0 && c.dir == Dir::Inbound => "ORIGINATOR_CANCEL",
            _ => "NORMAL_CLEARING",
        }
    }

    pub(crate) fn heartbeat(&mut self) {
        let up = self.started.elapsed();
        let sessions = self.channels.len();
        let since = self.sessions_since_startup;
        self.fire("HEARTBEAT", None, |ev| {
            ev.add("Event-Info", "System Ready");
            ev.add("Up-Time", uptime_text(up));
            ev.add("FreeSWITCH-Version", FS_VERSION);
            ev.add("Uptime-msec", up.as_millis().to_string());
            ev.add("Session-Count", sessions.to_string());
            ev.add("Max-Sessions", "1000");
            ev.add("Session-Per-Sec", "30");
            ev.add("Session-Per-Sec-Last", "0");
            ev.add("Session-Per-Sec-Max", "0");
            ev.add("Session-Per-Sec-FiveMin", "0");
            ev.add("Session-Since-Startup", since.to_string());
            ev.add("Session-Peak-Max", sessions.to_string());
            ev.add("Session-Peak-FiveMin", sessions.to_string());
            ev.add("Idle-CPU", "99.000000");
        });
    }

    // ---- handle-level operations --------------------------------------------------

    pub(crate) fn add_phone(&mut self, spec: PhoneSpec) {
        let phone = self.new_phone(spec.behavior, spec.hangup_after_talk);
        self.phones.insert(spec.user, phone);
    }

    /// `Unregistered` drops the registration silently (no events); any other behaviour
    /// becomes the answer behaviour and (silently) registers the phone.
    pub(crate) fn set_phone_behavior(&mut self, user: &str, b: PhoneBehavior) {
        if !self.phones.contains_key(user) {
            let phone = self.new_phone(b, None);
            self.phones.insert(user.to_string(), phone);
            return;
        }
        let now = self.now_us();
        if let Some(p) = self.phones.get_mut(user) {
            if b == PhoneBehavior::Unregistered {
                p.reg.registered = false;
            } else {
                p.behavior = b;
                if !p.reg.registered {
                    p.reg.registered = true;
                    p.reg.registered_us = now;
                }
            }
        }
    }

    pub(crate) fn remote_hangup(&mut self, uuid: &str, cause: &str) -> bool {
        self.hangup(uuid, cause, Initiator::Remote, None)
    }

    pub(crate) fn channel_view(&self, uuid: &str) -> Option<ChannelView> {
        self.channels.get(uuid).map(Channel::view)
    }

    pub(crate) fn channel_views(&self) -> Vec<ChannelView> {
        self.channels.values().map(Channel::view).collect()
    }

    pub(crate) fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// SHUTDOWN, every channel hung up `SYSTEM_SHUTDOWN`, the notice, then every
    /// connection closed.
    pub(crate) fn shutdown(&mut self) {
        if !self.up {
            return;
        }
        self.fire("SHUTDOWN", None, |ev| {
            ev.add("Event-Info", "System Shutting Down")
        });
        let uuids: Vec<String> = self.channels.keys().cloned().collect();
        for u in uuids {
            self.hangup(&u, "SYSTEM_SHUTDOWN", Initiator::Local, None);
        }
        for (_, c) in self.conns.drain() {
            c.send(wire::disconnect_notice(wire::SHUTTING_DOWN));
            let _ = c.tx.send(Out::Close);
        }
        self.channels.clear();
        self.up = false;
        self.changed = true;
    }
}

/// The shared state behind every `SimHandle` clone and connection task.
pub(crate) struct Shared {
    core: Mutex<Core>,
    pub(crate) counters: Arc<Counters>,
    changes: watch::Sender<u64>,
    pub(crate) reply_delay_us: AtomicU64,
    pub(crate) heartbeat_interval: Duration,
    pub(crate) password: String,
    pub(crate) runtime: Mutex<Runtime>,
    /// Other simulators by the gateway name this one reaches them under.
    links: Mutex<HashMap<String, std::sync::Weak<Shared>>>,
}

/// Tasks that live as long as the switch is up.
pub(crate) struct Runtime {
    pub(crate) addr: std::net::SocketAddr,
    pub(crate) accept: Option<JoinHandle<()>>,
    pub(crate) heartbeat: Option<JoinHandle<()>>,
}

impl Shared {
    pub(crate) fn new(config: &SimConfig, addr: std::net::SocketAddr) -> Arc<Shared> {
        let counters = Arc::new(Counters::default());
        let (changes, _) = watch::channel(0);
        Arc::new(Shared {
            core: Mutex::new(Core::new(config, counters.clone())),
            counters,
            changes,
            reply_delay_us: AtomicU64::new(0),
            heartbeat_interval: config.heartbeat_interval,
            password: config.password.clone(),
            runtime: Mutex::new(Runtime {
                addr,
                accept: None,
                heartbeat: None,
            }),
            links: Mutex::new(HashMap::new()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Core> {
        // A panic while holding the lock leaves the core usable for the next caller.
        self.core.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn lock_runtime(&self) -> MutexGuard<'_, Runtime> {
        self.runtime.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the core, then spawns the timers it asked for and publishes a change.
    pub(crate) fn run<R>(self: &Arc<Self>, f: impl FnOnce(&mut Core) -> R) -> R {
        let (r, timers, changed, epoch, outbox) = {
            let mut core = self.lock();
            let r = f(&mut core);
            let outbox = core.gateways.take_outbox();
            (
                r,
                core.take_timers(),
                core.take_changed(),
                core.epoch,
                outbox,
            )
        };
        self.after_run(timers, changed, epoch);
        self.deliver(outbox);
        r
    }

    /// Links gateway `name` to `other` (`sofia/gateway/<name>/…` reaches its phones).
    pub(crate) fn link_gateway(self: &Arc<Self>, name: &str, other: &Arc<Shared>) {
        self.links
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned(), Arc::downgrade(other));
        self.run(|core| core.gateways.link(name));
    }

    /// Hands what gateway calls tell the other switch to it, with no lock of ours held.
    fn deliver(self: &Arc<Self>, outbox: Vec<(gateway::Dest, gateway::Msg)>) {
        for (dest, msg) in outbox {
            let target = match dest {
                gateway::Dest::Gateway(name) => self
                    .links
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(&name)
                    .and_then(std::sync::Weak::upgrade),
                gateway::Dest::Peer(peer) => peer.upgrade(),
            };
            if let Some(target) = target {
                let from = Arc::downgrade(self);
                target.run(|core| core.gateway_in(from, msg));
            }
        }
    }

    fn after_run(self: &Arc<Self>, timers: Vec<(Duration, Timer)>, changed: bool, epoch: u64) {
        for (after, t) in timers {
            let limit = t
                .recording_limit()
                .map(|(uuid, token)| (uuid.to_owned(), token));
            let me = Arc::clone(self);
            let task = tokio::spawn(async move {
                tokio::time::sleep(after).await;
                me.fire_timer(t, epoch);
            });
            // A recording's limit timer lives no longer than its recording (issue 16).
            if let Some((uuid, token)) = limit {
                self.lock()
                    .hold_limit_timer(&uuid, token, task.abort_handle());
            }
        }
        if changed {
            self.changes.send_modify(|v| *v = v.wrapping_add(1));
        }
    }

    fn fire_timer(self: &Arc<Self>, t: Timer, epoch: u64) {
        let (timers, changed, now_epoch, outbox) = {
            let mut core = self.lock();
            if core.epoch == epoch && core.up {
                core.on_timer(t);
            }
            let outbox = core.gateways.take_outbox();
            (core.take_timers(), core.take_changed(), core.epoch, outbox)
        };
        self.after_run(timers, changed, now_epoch);
        self.deliver(outbox);
    }

    pub(crate) fn subscribe_changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    pub(crate) fn peek<R>(&self, f: impl FnOnce(&Core) -> R) -> R {
        f(&self.lock())
    }
}

/// FreeSWITCH's `switch_true`: how a channel variable says yes.
fn is_true(value: &str) -> bool {
    matches!(
        value.to_ascii_lowercase().as_str(),
        "true" | "yes" | "on" | "enabled" | "active" | "allow" | "1"
    )
}
