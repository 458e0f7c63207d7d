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
pub(crate) mod conference;
pub(super) mod dialplan;
mod disk;
pub(crate) mod eavesdrop;
mod esl_commands;
mod faults;
mod gateway;
pub(crate) mod hold;
mod local_extension;
mod loopback;
mod originate_job;
mod presence;
mod rebridge;
mod refer;
mod registrations;
mod requeue;
mod sendmsg_queue;
mod session_record;
pub(super) mod watchers;

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

    // ---- originate ----------------------------------------------------------------

    /// Starts an originate. Returns the immediate failure text (no channel created) if any.
    fn originate(&mut self, arg: &str, job: Job) -> Result<(), String> {
        self.counters.originates.fetch_add(1, Ordering::Relaxed);
        let req = match parse_originate(arg) {
            Ok(r) => r,
            Err(_) => {
                return Err("-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]\n".to_string())
            }
        };
        if let Some((exten, context)) = loopback::parse(&req.dial) {
            return self.originate_loopback(&req, &exten, &context, job);
        }
        let target = Target::parse(&req.dial);
        let gateway = gateway::parse(&req.dial);
        if let Some((name, _)) = &gateway {
            if let Err(e) = self.gateway_known(name) {
                self.counters
                    .originate_failures
                    .fetch_add(1, Ordering::Relaxed);
                return Err(e);
            }
        }
        let phone_state = target
            .user()
            .and_then(|u| self.phones.get(u))
            .map(|p| p.effective_behavior());
        let (user, host) = match &target {
            Target::Unsupported(_) if gateway.is_some() => gateway
                .clone()
                .map(|(name, user)| (user, name))
                .unwrap_or_default(),
            Target::Unsupported(_) => {
                self.counters
                    .originate_failures
                    .fetch_add(1, Ordering::Relaxed);
                return Err("-ERR CHAN_NOT_IMPLEMENTED\n".to_string());
            }
            Target::User { user, domain } => {
                if matches!(phone_state, None | Some(PhoneBehavior::Unregistered)) {
                    self.counters
                        .originate_failures
                        .fetch_add(1, Ordering::Relaxed);
                    return Err("-ERR USER_NOT_REGISTERED\n".to_string());
                }
                (user.clone(), domain.clone())
            }
            Target::Sofia { user, host, .. } => (user.clone(), host.clone()),
        };
        let uuid = req
            .var("origination_uuid")
            .map(str::to_string)
            .unwrap_or_else(new_uuid);
        if self.channels.contains_key(&uuid) {
            self.counters
                .originate_failures
                .fetch_add(1, Ordering::Relaxed);
            return Err("-ERR DESTINATION_OUT_OF_ORDER\n".to_string());
        }
        let timeout = req
            .var("originate_timeout")
            .and_then(|t| t.parse::<u64>().ok())
            .map(Duration::from_secs)
            .unwrap_or(Duration::from_secs(60));
        self.sessions_since_startup += 1;
        self.session_id += 1;
        let name = format!("sofia/internal/{user}@{host}");
        let now = self.now_us();
        let cid_number = req
            .var("origination_caller_id_number")
            .unwrap_or("0000000000")
            .to_string();
        let cid_name = req.var("origination_caller_id_name").map(str::to_string);
        let profile = Profile {
            username: None,
            dialplan: None,
            cid_name: cid_name.clone(),
            cid_number: cid_number.clone(),
            orig_cid_name: cid_name,
            orig_cid_number: cid_number.clone(),
            callee_name: Some("Outbound Call".to_string()),
            callee_number: Some(user.clone()),
            network_addr: None,
            ani: cid_number,
            destination: user.clone(),
            source: "src/switch_ivr_originate.c",
            transfer_source: None,
            context: "default".to_string(),
            index: 1,
            created_us: now,
        };
        let mut ch = Channel {
            job: Some(job),
            phone: Some(user.clone()),
            race: originate_job::Race::new(matches!(target, Target::User { .. })),
            ..Channel::new(&uuid, name.clone(), Dir::Outbound, profile)
        };
        ch.set_var("direction", "outbound");
        ch.set_var("is_outbound", "true");
        ch.set_var("uuid", uuid.clone());
        ch.set_var("call_uuid", uuid.clone());
        ch.set_var("session_id", self.session_id.to_string());
        ch.set_var("sip_profile_name", "internal");
        ch.set_var("channel_name", name);
        ch.set_var("sip_destination_url", format!("sip:{user}@{host}"));
        for (k, v) in &req.vars {
            ch.set_var(k, v.clone());
        }
        ch.set_var("originate_early_media", "true");
        ch.set_var("originate_endpoint", "sofia");
        ch.set_var("sip_req_uri", format!("{user}@{host}"));
        ch.set_var("sofia_profile_name", "internal");
        if req.app != "park" {
            ch.set_var(
                "originate_application",
                format!("{}({})", req.app, req.app_arg),
            );
        }
        self.channels.insert(uuid.clone(), ch);
        self.changed = true;

        self.chan_event(&uuid, "CHANNEL_OUTGOING", &[], &[]);
        self.set_state(&uuid, "CS_INIT", 1);
        self.with_chan(&uuid, |c| c.state_num = 2);
        self.chan_event(&uuid, "CHANNEL_CREATE", &[], &[]);
        self.chan_event(&uuid, "CHANNEL_ORIGINATE", &[], &[]);
        self.set_state(&uuid, "CS_ROUTING", 2);
        self.set_state(&uuid, "CS_CONSUME_MEDIA", 7);

        if let Some((name, user)) = gateway {
            self.with_chan(&uuid, |c| c.phone = None);
            self.timer(timeout, Timer::OriginateTimeout(uuid.clone()));
            self.gateway_invite(&uuid, &name, &user);
            return Ok(());
        }
        let fail = |cause, status, phrase| Timer::LegFail {
            uuid: uuid.clone(),
            cause,
            status,
            phrase,
        };
        match phone_state {
            None | Some(PhoneBehavior::Unregistered) => self.timer(
                Duration::from_millis(5),
                fail("NORMAL_TEMPORARY_FAILURE", "503", "Service Unavailable"),
            ),
            Some(PhoneBehavior::Busy) => self.timer(
                Duration::from_millis(20),
                fail("USER_BUSY", "486", "Busy Here"),
            ),
            Some(PhoneBehavior::Reject) => self.timer(
                Duration::from_millis(20),
                fail("CALL_REJECTED", "603", "Decline"),
            ),
            Some(PhoneBehavior::NoAnswer) => {
                self.ring(&uuid);
                self.timer(timeout, Timer::OriginateTimeout(uuid.clone()));
            }
            Some(PhoneBehavior::Answer { after }) => {
                self.ring(&uuid);
                self.timer(timeout, Timer::OriginateTimeout(uuid.clone()));
                self.timer(after, Timer::PhoneAnswer(uuid.clone()));
            }
        }
        Ok(())
    }

    fn ring(&mut self, uuid: &str) {
        let now = self.now_us();
        self.with_chan(uuid, |c| {
            c.profile.network_addr = Some(HOST_IP.to_string());
            c.progress_us = now;
        });
        self.chan_event(uuid, "CHANNEL_PROGRESS", &[], &[]);
        self.set_callstate(uuid, "RINGING");
    }

    fn phone_answer(&mut self, uuid: &str) {
        if self.is_gateway_incoming(uuid) {
            return self.gateway_answered(uuid);
        }
        let now = self.now_us();
        let Some(ch) = self.channels.get_mut(uuid) else {
            return;
        };
        if ch.answered_us != 0 || ch.hangup_cause.is_some() {
            return;
        }
        ch.media = true;
        ch.answered_us = now;
        ch.answer_state = "answered";
        ch.set_var("sip_call_id", new_uuid());
        ch.set_var("read_codec", "PCMU");
        ch.set_var("write_codec", "PCMU");
        let phone = ch.phone.clone();
        self.counters
            .answered_by_phones
            .fetch_add(1, Ordering::Relaxed);
        self.chan_event(uuid, "CHANNEL_ANSWER", &[], &[]);
        self.set_callstate(uuid, "ACTIVE");
        if self.bridge_leg_answered(uuid) {
            self.changed = true;
            return;
        }
        self.leg_answered(uuid);
        self.changed = true;
        if let Some(d) = phone
            .and_then(|p| self.phones.get(&p))
            .and_then(|p| p.hangup_after_talk)
        {
            self.timer(d, Timer::RemoteHangup(uuid.to_string()));
        }
    }

    /// Delivers an originate result: BACKGROUND_JOB (after its API event) or the
    /// deferred `api originate` reply.
    fn finish_job(&mut self, uuid: &str, result: &str) {
        let Some(job) = self.channels.get_mut(uuid).and_then(|c| c.job.take()) else {
            return;
        };
        if !result.starts_with("+OK") {
            self.counters
                .originate_failures
                .fetch_add(1, Ordering::Relaxed);
        }
        self.api_event(job.api_seq, "originate", &job.arg);
        if let Some(conn) = job.api_conn {
            self.reply(conn, wire::api_response(result));
            if let Some(c) = self.conns.get(&conn) {
                let _ = c.tx.send(Out::Resume);
            }
        }
        if let Some(job_uuid) = job.job_uuid {
            self.background_job(&job_uuid, "originate", &job.arg, result);
        }
    }

    fn background_job(&mut self, job_uuid: &str, cmd: &str, arg: &str, result: &str) {
        if self.job_held_back(job_uuid, cmd, arg, result) {
            return;
        }
        self.fire_background_job(job_uuid, cmd, arg, result);
    }

    fn fire_background_job(&mut self, job_uuid: &str, cmd: &str, arg: &str, result: &str) {
        self.fire("BACKGROUND_JOB", None, |ev| {
            ev.add("Job-UUID", job_uuid);
            ev.add("Job-Command", cmd);
            if !arg.is_empty() {
                ev.add("Job-Command-Arg", arg);
            }
            ev.body = Some(result.to_string());
        });
    }

    fn api_event(&mut self, seq: u64, cmd: &str, arg: &str) {
        self.fire("API", Some(seq), |ev| {
            ev.add("API-Command", cmd);
            if !arg.is_empty() {
                ev.add("API-Command-Argument", arg);
            }
        });
    }

    // ---- hangup -------------------------------------------------------------------

    fn disposition(c: &Channel, initiator: Initiator) -> &'static str {
        match (initiator, c.answered_us != 0, c.dir) {
            (Initiator::Remote, true, _) => "recv_bye",
            (Initiator::Remote, false, Dir::Inbound) => "recv_cancel",
            (Initiator::Remote, false, Dir::Outbound) => "recv_refuse",
            (Initiator::Local, true, _) => "send_bye",
            (Initiator::Local, false, Dir::Outbound) => "send_cancel",
            (Initiator::Local, false, Dir::Inbound) => "send_refuse",
        }
    }

    /// Variables the far end's BYE/CANCEL/final response sets before CHANNEL_HANGUP.
    fn remote_hangup_vars(c: &mut Channel, cause: &str, status: Option<(&str, &str)>) {
        let disposition = Self::disposition(c, Initiator::Remote);
        if disposition != "recv_bye" {
            c.set_var("sip_hangup_disposition", disposition);
        }
        let (code, phrase, term_cause) = match (disposition, status) {
            (_, Some((code, phrase))) => (code, Some(phrase), q850(cause)),
            ("recv_cancel", None) => ("487", Some("CANCEL"), "487"),
            ("recv_bye", None) => ("200", None, "16"),
            (_, None) => return,
        };
        if let Some(phrase) = phrase {
            c.set_var("sip_invite_failure_status", code);
            c.set_var("sip_invite_failure_phrase", phrase);
        }
        c.set_var("sip_term_status", code);
        c.set_var("proto_specific_hangup_cause", format!("sip:{code}"));
        c.set_var("sip_term_cause", term_cause);
    }

    /// Variables set once the hangup is under way (seen from CHANNEL_HANGUP_COMPLETE on).
    fn later_hangup_vars(c: &mut Channel, cause: &str, initiator: Initiator) {
        let disposition = Self::disposition(c, initiator);
        c.set_var("hangup_cause", cause);
        c.set_var("sip_hangup_disposition", disposition);
        if disposition == "send_cancel" {
            c.set_var("sip_invite_failure_status", "487");
            c.set_var("sip_invite_failure_phrase", "CANCEL");
        }
    }

    /// Step 1: CHANNEL_HANGUP (and the NO_ANSWER job result, and the apps ending).
    fn p_hangup(
        &mut self,
        uuid: &str,
        cause: &str,
        initiator: Initiator,
        status: Option<(&str, &str)>,
    ) {
        self.gateway_hung_up(uuid);
        let now = self.now_us();
        let Some(c) = self.channels.get_mut(uuid) else {
            return;
        };
        c.hangup_cause = Some(cause.to_string());
        c.answer_state = "hangup";
        c.state_num = 10;
        c.hangup_us = now;
        hold::HoldState::hangup_vars(c, now);
        if initiator == Initiator::Remote {
            Self::remote_hangup_vars(c, cause, status);
        }
        let bridged = c.bridged_to.is_some();
        let timed_out = c.timed_out;
        self.chan_event(uuid, "CHANNEL_HANGUP", &[], &[]);
        self.with_chan(uuid, |c| Self::later_hangup_vars(c, cause, initiator));
        if timed_out {
            // The originate gave up waiting: its result comes before HANGUP_COMPLETE.
            self.finish_job(uuid, &format!("-ERR {cause}\n"));
        }
        self.stop_eavesdrop(uuid);
        self.leave_conference(uuid);
        if !bridged {
            // A BYE breaks the media read (PLAYBACK ERROR); uuid_kill lets a playback end
            // as played (the transfer capture).
            let response = match initiator {
                Initiator::Remote => "PLAYBACK ERROR",
                Initiator::Local => "FILE PLAYED",
            };
            self.abort_app(uuid, response);
            self.unpark(uuid);
        }
    }

    /// Step 2: CS_HANGUP and the HANGUP call state.
    fn p_state_hangup(&mut self, uuid: &str) {
        self.set_state(uuid, "CS_HANGUP", 10);
        self.set_callstate(uuid, "HANGUP");
        self.stop_session_recordings(uuid, |_| true);
    }

    /// Step 3: presence, CS_REPORTING, HANGUP_COMPLETE, and a failed job's result.
    fn p_complete(&mut self, uuid: &str) {
        self.with_chan(uuid, |c| c.state_num = 11);
        self.presence(uuid, "CS_HANGUP", "idle");
        self.set_state(uuid, "CS_REPORTING", 11);
        let cause = self
            .channels
            .get(uuid)
            .and_then(|c| c.hangup_cause.clone())
            .unwrap_or_default();
        self.chan_event(
            uuid,
            "CHANNEL_HANGUP_COMPLETE",
            &[("Hangup-Cause", cause.clone())],
            &[],
        );
        self.finish_job(uuid, &format!("-ERR {cause}\n"));
    }

    /// Step 4: CHANNEL_DESTROY, CS_DESTROY, gone.
    fn p_destroy(&mut self, uuid: &str) {
        self.with_chan(uuid, |c| c.state_num = 12);
        self.chan_event(uuid, "CHANNEL_DESTROY", &[], &[]);
        self.set_state(uuid, "CS_DESTROY", 12);
        self.conference_leg_destroyed(uuid);
        if self.channels.remove(uuid).is_some() {
            self.counters.hung_up.fetch_add(1, Ordering::Relaxed);
        }
        self.changed = true;
    }

    fn unbridge(&mut self, a: &str, b: &str) {
        self.chan_event(
            a,
            "CHANNEL_UNBRIDGE",
            &[
                ("Bridge-A-Unique-ID", a.to_string()),
                ("Bridge-B-Unique-ID", b.to_string()),
            ],
            &[],
        );
        for u in [a, b] {
            self.with_chan(u, |c| {
                c.bridged_to = None;
                c.set_var("last_bridge_to", if u == a { b } else { a });
            });
        }
    }

    /// Hangs up `uuid` with the event order of the real switch, including the other
    /// leg of a bridge. Returns false if there is no such live channel.
    fn hangup(
        &mut self,
        uuid: &str,
        cause: &str,
        initiator: Initiator,
        status: Option<(&str, &str)>,
    ) -> bool {
        let alive = self
            .channels
            .get(uuid)
            .is_some_and(|c| c.hangup_cause.is_none());
        let eavesdroppers = if alive {
            self.eavesdroppers_losing(uuid)
        } else {
            Vec::new()
        };
        let done = self.hangup_one(uuid, cause, initiator, status);
        for leg in eavesdroppers {
            self.hangup_one(&leg, "NORMAL_CLEARING", Initiator::Local, None);
        }
        done
    }

    fn hangup_one(
        &mut self,
        uuid: &str,
        cause: &str,
        initiator: Initiator,
        status: Option<(&str, &str)>,
    ) -> bool {
        let Some(ch) = self.channels.get(uuid) else {
            return false;
        };
        if ch.hangup_cause.is_some() {
            return false;
        }
        self.changed = true;
        let peer = ch.bridged_to.clone();
        let is_a = ch.bridge_a;
        match peer {
            None => {
                self.p_hangup(uuid, cause, initiator, status);
                self.p_state_hangup(uuid);
                self.p_complete(uuid);
                self.p_destroy(uuid);
            }
            Some(peer) if is_a => {
                // The bridging (A) leg goes: the peer is hung up with it.
                self.p_hangup(uuid, cause, initiator, status);
                self.p_hangup(&peer, "NORMAL_CLEARING", Initiator::Local, None);
                self.p_state_hangup(&peer);
                self.unbridge(uuid, &peer);
                self.p_state_hangup(uuid);
                self.p_complete(&peer);
                self.p_destroy(&peer);
                self.p_complete(uuid);
                self.p_destroy(uuid);
            }
            Some(a)
                if self
                    .channels
                    .get(&a)
                    .and_then(|c| c.var("park_after_bridge"))
                    .is_some_and(is_true) =>
            {
                // `park_after_bridge` on A: the bridge ends and A is parked again
                // (switch_ivr_park_session), its park event fired by the core, not by an app.
                self.p_hangup(uuid, cause, initiator, status);
                self.p_state_hangup(uuid);
                self.p_complete(uuid);
                self.unbridge(&a, uuid);
                self.p_destroy(uuid);
                self.set_state(&a, "CS_PARK", 6);
                self.with_chan(&a, |c| {
                    c.park = Some(App {
                        name: "park".to_owned(),
                        arg: String::new(),
                        uuid: String::new(),
                    })
                });
                self.chan_event(&a, "CHANNEL_PARK", &[], &[]);
            }
            Some(a) => {
                // The B leg leaves first; the switch then hangs up A by itself.
                self.p_hangup(uuid, cause, initiator, status);
                self.p_state_hangup(uuid);
                self.p_complete(uuid);
                self.unbridge(&a, uuid);
                self.set_state(&a, "CS_EXECUTE", 4);
                self.p_hangup(&a, "NORMAL_CLEARING", Initiator::Local, None);
                self.p_state_hangup(&a);
                self.p_destroy(uuid);
                self.p_complete(&a);
                self.p_destroy(&a);
            }
        }
        true
    }

    // ---- bridge -------------------------------------------------------------------

    fn bridge(&mut self, a: &str, b: &str) {
        if self.bridge_pending(a) || self.bridge_pending(b) {
            return;
        }
        let ts = (self.now_us() / 1_000_000).to_string();
        self.counters.bridged.fetch_add(1, Ordering::Relaxed);
        self.changed = true;
        for (me, other) in [(a, b), (b, a)] {
            let source = format!("{ts}:{}:uuid_br:{other}", new_uuid());
            self.with_chan(me, |c| {
                c.other_leg = Some(other.to_string());
                c.profile.index = 2;
                c.profile.transfer_source = Some(source.clone());
                c.state_num = 8;
                c.push_transfer(source);
            });
        }
        match self.racing_leg(a, b) {
            Some(leg) => self.bridge_racing(a, b, &leg),
            None => self.bridge_rest(a, b, None),
        }
    }

    /// Both legs leave what they run and are bridged; `racing` already left its originate.
    fn bridge_rest(&mut self, a: &str, b: &str, racing: Option<&str>) {
        // A leg already bridged is pulled out of its bridge (see `rebridge`).
        let (a_pulled, b_pulled) = (self.is_bridged(a), self.is_bridged(b));
        if racing != Some(b) {
            // What the moh-break-bridge capture shows for the caller (part B) holds for the
            // agent leg too: a prompt still playing on it is cut short.
            self.abort_app(b, "PLAYBACK ERROR");
            if !b_pulled {
                self.chan_event(b, "CHANNEL_UNPARK", &[], &[]);
            }
            if let Some(app) = self.channels.get_mut(b).and_then(|c| c.park.take()) {
                self.complete_app(b, &app, None);
            }
            self.set_state(b, "CS_HIBERNATE", 8);
            self.set_state(b, "CS_RESET", 9);
        }
        if b_pulled {
            self.leave_bridge(b);
        }
        if racing != Some(a) {
            self.abort_app(a, "PLAYBACK ERROR");
            self.with_chan(a, |c| c.state_num = 8);
            if self.channels.get(a).is_some_and(|c| c.park.is_some()) {
                self.unpark(a);
            }
            self.set_state(a, "CS_HIBERNATE", 8);
            self.set_state(a, "CS_RESET", 9);
        }
        self.set_state(a, "CS_SOFT_EXECUTE", 3);
        self.set_state(b, "CS_SOFT_EXECUTE", 3);
        if a_pulled {
            self.leave_bridge(a);
        }
        for (me, other) in [(a, b), (b, a)] {
            self.with_chan(me, |c| {
                c.set_var("current_application_data", other);
                c.set_var("current_application", "uuid_bridge");
            });
            self.chan_event(
                me,
                "CHANNEL_EXECUTE",
                &[],
                &[
                    ("Application", "uuid_bridge".to_string()),
                    ("Application-Data", other.to_string()),
                ],
            );
        }
        let now = self.now_us();
        let a_name = self
            .channels
            .get(a)
            .map(|c| c.name.clone())
            .unwrap_or_default();
        let b_name = self
            .channels
            .get(b)
            .map(|c| c.name.clone())
            .unwrap_or_default();
        for (me, other, other_name, is_a) in [(a, b, &b_name, true), (b, a, &a_name, false)] {
            self.with_chan(me, |c| {
                c.bridged_to = Some(other.to_string());
                c.bridge_a = is_a;
                c.bridged_us = now;
                c.set_var("bridge_channel", other_name.clone());
                c.set_var("bridge_uuid", other);
                c.set_var("signal_bond", other);
            });
        }
        for (me, other) in [(a, b), (b, a)] {
            let mut snap = self.channels.get(other).cloned().map(Box::new);
            if let Some(s) = snap.as_mut() {
                s.other_snap = None;
                s.vars = Vec::new();
            }
            self.with_chan(me, |c| c.other_snap = snap);
        }
        self.recordings_hear_media(a);
        self.recordings_hear_media(b);
        self.chan_event(
            a,
            "CHANNEL_BRIDGE",
            &[
                ("Bridge-A-Unique-ID", a.to_string()),
                ("Bridge-B-Unique-ID", b.to_string()),
            ],
            &[],
        );
        self.with_chan(b, |c| c.call_uuid = a.to_string());
        if racing != Some(b) {
            self.set_state(b, "CS_CONSUME_MEDIA", 7);
        }
        self.set_state(b, "CS_EXCHANGE_MEDIA", 5);
        for leg in [a, b] {
            let talk = self
                .channels
                .get(leg)
                .and_then(|c| {
                    if c.talk_timer_set {
                        None
                    } else {
                        c.call.as_ref()
                    }
                })
                .and_then(|s| s.talk_time);
            if let Some(t) = talk {
                self.with_chan(leg, |c| c.talk_timer_set = true);
                self.timer(t, Timer::RemoteHangup(leg.to_string()));
            }
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

    // ---- ESL commands -------------------------------------------------------------

    /// Runs one command of an authenticated connection; replies go out in order with
    /// the events the command causes.
    pub(crate) fn command(&mut self, conn: ConnId, cmd: &Command) -> Flow {
        self.counters.commands.fetch_add(1, Ordering::Relaxed);
        let line = cmd.line.as_str();
        let (verb, rest) = match line.split_once(' ') {
            Some((v, r)) => (v, r.trim()),
            None => (line, ""),
        };
        let flow = self.run_command(conn, cmd, verb, rest);
        self.sync_loopback();
        self.after_command(line);
        flow
    }

    fn run_command(&mut self, conn: ConnId, cmd: &Command, verb: &str, rest: &str) -> Flow {
        match verb {
            "exit" => {
                self.reply(conn, wire::command_reply("+OK bye"));
                self.reply(conn, wire::disconnect_notice(wire::GOODBYE));
                Flow::Close
            }
            "event" => {
                self.subscribe(conn, rest);
                Flow::Continue
            }
            "noevents" => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.format = None;
                    c.all = false;
                    c.mask = 0;
                    c.subclasses.clear();
                }
                self.reply(
                    conn,
                    wire::command_reply("+OK no longer listening for events"),
                );
                Flow::Continue
            }
            "nixevent" => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    let mut custom = false;
                    for name in rest.split_whitespace() {
                        if custom {
                            c.subclasses.retain(|s| s != name);
                        } else if name == "ALL" {
                            c.all = false;
                            c.mask = 0;
                        } else if let Some(bit) = event_bit(name) {
                            c.mask &= !bit;
                            custom = name == "CUSTOM";
                        }
                    }
                }
                self.reply(conn, wire::command_reply("+OK events nixed"));
                Flow::Continue
            }
            "filter" => {
                self.filter(conn, rest);
                Flow::Continue
            }
            "linger" => {
                self.reply(conn, wire::command_reply("+OK will linger"));
                Flow::Continue
            }
            "nolinger" => {
                self.reply(conn, wire::command_reply("+OK will not linger"));
                Flow::Continue
            }
            "api" => self.api(conn, rest),
            "bgapi" => {
                self.bgapi(conn, rest);
                Flow::Continue
            }
            "sendevent" => {
                self.sendevent(conn, rest, cmd);
                Flow::Continue
            }
            "sendmsg" => {
                let target = if rest.is_empty() {
                    cmd.header("Unique-ID").unwrap_or("").to_string()
                } else {
                    rest.to_string()
                };
                self.sendmsg(conn, &target, cmd);
                Flow::Continue
            }
            _ => {
                self.reply(conn, wire::command_reply("-ERR command not found"));
                Flow::Continue
            }
        }
    }

    fn filter(&mut self, conn: ConnId, rest: &str) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let text = if let Some(del) = rest.strip_prefix("delete") {
            let del = del.trim();
            let (h, v) = del.split_once(' ').unwrap_or((del, ""));
            if h == "all" || h.is_empty() {
                c.filters.clear();
                "+OK filter deleted. [all][]".to_string()
            } else {
                c.filters
                    .retain(|(k, val)| !(k == h && (v.is_empty() || val == v)));
                format!("+OK filter deleted. [{h}][{v}]")
            }
        } else {
            match rest.split_once(' ') {
                Some((h, v)) => {
                    c.filters.push((h.to_string(), v.trim().to_string()));
                    format!("+OK filter added. [{h}]=[{}]", v.trim())
                }
                None => "-ERR invalid syntax".to_string(),
            }
        };
        self.reply(conn, wire::command_reply(&text));
    }

    fn sendmsg(&mut self, conn: ConnId, uuid: &str, cmd: &Command) {
        if !self.channels.contains_key(uuid) {
            self.reply(
                conn,
                wire::command_reply(&format!("-ERR invalid session id [{uuid}]")),
            );
            return;
        }
        self.reply(conn, wire::command_reply("+OK"));
        match cmd.header("call-command").unwrap_or("") {
            "execute" => {
                let app_uuid = cmd
                    .header("Event-UUID")
                    .map(str::to_string)
                    .unwrap_or_else(new_uuid);
                let msg = sendmsg_queue::Msg::parse(cmd, app_uuid);
                self.deliver(uuid, msg);
            }
            "hangup" => {
                let cause = cmd
                    .header("hangup-cause")
                    .unwrap_or("NORMAL_CLEARING")
                    .to_string();
                self.hangup(uuid, &cause, Initiator::Local, None);
            }
            _ => {}
        }
    }

    fn bgapi(&mut self, conn: ConnId, rest: &str) {
        let job_uuid = new_uuid();
        self.reply(conn, wire::bgapi_reply(&job_uuid));
        let (cmd, arg) = match rest.split_once(' ') {
            Some((c, a)) => (c, a.trim()),
            None => (rest, ""),
        };
        if cmd == "originate" {
            let api_seq = self.next_seq();
            let job = Job {
                job_uuid: Some(job_uuid.clone()),
                api_conn: None,
                arg: arg.to_string(),
                api_seq,
            };
            if let Err(text) = self.originate(arg, job) {
                self.api_event(api_seq, "originate", arg);
                self.background_job(&job_uuid, "originate", arg, &text);
            }
            return;
        }
        let api_seq = self.next_seq();
        let (body, after) = self.run_api(cmd, arg, None);
        if let Some(after) = after {
            after(self);
        }
        self.api_event(api_seq, cmd, arg);
        self.background_job(&job_uuid, cmd, arg, &body);
    }

    fn api(&mut self, conn: ConnId, rest: &str) -> Flow {
        let (cmd, arg) = match rest.split_once(' ') {
            Some((c, a)) => (c, a.trim()),
            None => (rest, ""),
        };
        let api_seq = self.next_seq();
        if cmd == "originate" {
            let job = Job {
                job_uuid: None,
                api_conn: Some(conn),
                arg: arg.to_string(),
                api_seq,
            };
            return match self.originate(arg, job) {
                Ok(()) => Flow::Blocked,
                Err(text) => {
                    self.reply(conn, wire::api_response(&text));
                    self.api_event(api_seq, cmd, arg);
                    Flow::Continue
                }
            };
        }
        let (body, after) = self.run_api(cmd, arg, Some(conn));
        // mod_event_socket's api_exec: an empty result is sent as `-ERR no reply`.
        let body = if body.is_empty() {
            esl_commands::NO_REPLY.to_string()
        } else {
            body
        };
        self.reply(conn, wire::api_response(&body));
        if let Some(after) = after {
            after(self);
        }
        self.api_event(api_seq, cmd, arg);
        if cmd == "fsctl" && arg == "shutdown" {
            return Flow::Shutdown;
        }
        Flow::Continue
    }

    /// Runs an api command: its reply body, and the work that follows the reply (so the
    /// reply is delivered before the events it causes, as on the real switch).
    #[allow(clippy::type_complexity)]
    fn run_api(
        &mut self,
        cmd: &str,
        arg: &str,
        _conn: Option<ConnId>,
    ) -> (String, Option<Box<dyn FnOnce(&mut Core)>>) {
        let mut args = arg.split_whitespace();
        let first = args.next().unwrap_or("").to_string();
        let exists = self
            .channels
            .get(&first)
            .is_some_and(|c| c.hangup_cause.is_none());
        const NO_SUCH: &str = "-ERR No such channel!\n";
        match cmd {
            "status" => (self.status_text(), None),
            "version" => (
                format!(
                    "FreeSWITCH Version {FS_VERSION} (git a88d069 2024-08-02 21:02:27Z 64bit)\n"
                ),
                None,
            ),
            "hostname" => (self.hostname.clone(), None),
            "global_getvar" => match first.as_str() {
                "hostname" => (self.hostname.clone(), None),
                "core_uuid" => (self.core_uuid.clone(), None),
                "default_password" => (self.admin.default_password.clone(), None),
                "hold_music" => (hold::GLOBAL_HOLD_MUSIC.to_string(), None),
                _ => (String::new(), None),
            },
            "uuid_exists" => ((if exists { "true" } else { "false" }).to_string(), None),
            "uuid_answer" => {
                if !exists {
                    return ("-ERROR\n".to_string(), None);
                }
                (
                    "+OK\n".to_string(),
                    Some(Box::new(move |core: &mut Core| {
                        core.answer_inbound(&first);
                        core.loopback_answered(&first);
                    })),
                )
            }
            "uuid_kill" => {
                if !exists {
                    return (NO_SUCH.to_string(), None);
                }
                let cause = args.next().unwrap_or("NORMAL_CLEARING").to_string();
                (
                    "+OK\n".to_string(),
                    Some(Box::new(move |core: &mut Core| {
                        core.hangup(&first, &cause, Initiator::Local, None);
                    })),
                )
            }
            "uuid_break" => {
                let all = args.next().is_some_and(|flag| flag.contains("all"));
                if !exists {
                    return (NO_SUCH.to_string(), None);
                }
                (
                    "+OK\n".to_string(),
                    Some(Box::new(move |core: &mut Core| {
                        core.break_media(&first, all);
                    })),
                )
            }
            "uuid_transfer" => {
                const USAGE: &str =
                    "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n";
                if first.is_empty() {
                    return (USAGE.to_string(), None);
                }
                if !exists {
                    return (NO_SUCH.to_string(), None);
                }
                let mut rest: Vec<String> = args.map(str::to_string).collect();
                let mut target = first.clone();
                match rest.first().map(String::as_str) {
                    Some("-bleg") => {
                        rest.remove(0);
                        match self.channels.get(&first).and_then(|c| c.bridged_to.clone()) {
                            Some(peer) => target = peer,
                            None => return (NO_SUCH.to_string(), None),
                        }
                    }
                    Some("-both") => {
                        let dest = rest.get(1).cloned().unwrap_or_default();
                        let inline = rest.get(2).map(String::as_str) == Some("inline");
                        let target = dest.strip_prefix("conference:").map(str::to_owned);
                        return match target {
                            Some(t) if inline && conference::parse_target(&t).is_some() => (
                                "+OK\n".to_string(),
                                Some(Box::new(move |core: &mut Core| {
                                    core.transfer_both_to_conference(&first, &t)
                                })),
                            ),
                            _ => (
                                "-ERR only -both conference:<name> inline is modelled by the simulator\n"
                                    .to_string(),
                                None,
                            ),
                        };
                    }
                    _ => {}
                }
                let Some(extension) = rest.first().cloned() else {
                    return (USAGE.to_string(), None);
                };
                let dialplan = rest.get(1).cloned().unwrap_or_else(|| "XML".to_string());
                if dialplan == "inline" {
                    if extension != "park" {
                        return (
                            "-ERR only park inline is modelled by the simulator\n".to_string(),
                            None,
                        );
                    }
                    return (
                        "+OK\n".to_string(),
                        Some(Box::new(move |core: &mut Core| {
                            core.transfer_park_inline(&target)
                        })),
                    );
                }
                let context = rest
                    .get(2)
                    .cloned()
                    .unwrap_or_else(|| "default".to_string());
                (
                    "+OK\n".to_string(),
                    Some(Box::new(move |core: &mut Core| {
                        core.transfer(&target, &extension, &dialplan, &context)
                    })),
                )
            }
            "uuid_bridge" if self.is_take_over(&first, args.clone().next()) => {
                let second = args.next().unwrap_or("").to_string();
                (
                    format!("+OK {second}\n"),
                    Some(Box::new(move |core: &mut Core| {
                        core.take_over_bridge(&first, &second)
                    })),
                )
            }
            "uuid_bridge" => {
                let second = args.next().unwrap_or("").to_string();
                // A leg already bridged is pulled out of its bridge (`rebridge`), unless
                // the two are bridged to each other.
                let partners = self
                    .channels
                    .get(&first)
                    .is_some_and(|c| c.bridged_to.as_deref() == Some(second.as_str()));
                let ok_b = self
                    .channels
                    .get(&second)
                    .is_some_and(|c| c.hangup_cause.is_none());
                let ok_a = exists && first != second && !partners;
                if !ok_a || !ok_b {
                    return ("-ERR Invalid uuid\n".to_string(), None);
                }
                (
                    format!("+OK {second}\n"),
                    Some(Box::new(move |core: &mut Core| {
                        core.bridge(&first, &second)
                    })),
                )
            }
            "uuid_setvar" => {
                if !exists {
                    return (NO_SUCH.to_string(), None);
                }
                let rest = arg[first.len()..].trim_start();
                let (name, value) = match rest.split_once(|c: char| c.is_whitespace() || c == '=') {
                    Some((n, v)) => (n.to_string(), Some(v.trim().to_string())),
                    None => (rest.to_string(), None),
                };
                if name.is_empty() {
                    return ("-USAGE: <uuid> <var> [value]\n".to_string(), None);
                }
                self.with_chan(&first, |c| match value {
                    Some(v) if !v.is_empty() => c.set_var(&name, v),
                    _ => c.vars.retain(|(k, _)| k != &name),
                });
                self.changed = true;
                ("+OK\n".to_string(), None)
            }
            "uuid_getvar" => {
                if !exists {
                    return (NO_SUCH.to_string(), None);
                }
                let name = args.next().unwrap_or("");
                let v = self
                    .channels
                    .get(&first)
                    .and_then(|c| c.var(name))
                    .or((name == "hold_music").then_some(hold::GLOBAL_HOLD_MUSIC))
                    .unwrap_or("_undef_")
                    .to_string();
                (v, None)
            }
            "uuid_display" => {
                if !exists {
                    return (NO_SUCH.to_string(), None);
                }
                let rest = arg[first.len()..].trim();
                let (name, number) = rest.split_once('|').unwrap_or((rest, ""));
                self.with_chan(&first, |c| {
                    c.set_var("last_sent_callee_id_name", name);
                    if !number.is_empty() {
                        c.set_var("last_sent_callee_id_number", number);
                    }
                });
                ("+OK Success\n".to_string(), None)
            }
            "uuid_send_dtmf" => self.uuid_send_dtmf(arg),
            "uuid_hold" => (self.uuid_hold(arg), None),
            "uuid_recv_dtmf" => (self.uuid_recv_dtmf(arg), None),
            "uuid_record" => self.uuid_record(arg, exists),
            "uuid_broadcast" => (self.uuid_broadcast(arg, exists), None),
            "uuid_dump" => {
                if !exists {
                    return (NO_SUCH.to_string(), None);
                }
                let json = args.next() == Some("json");
                (self.dump(&first, json), None)
            }
            "show" if first == "registrations" => (self.show_registrations(arg), None),
            "show" => (self.show(arg), None),
            "fsctl" if first == "shutdown" => (
                "+OK\n".to_string(),
                Some(Box::new(|core: &mut Core| core.shutdown())),
            ),
            _ => (self.admin_api(cmd, arg), None),
        }
    }

    fn dump(&mut self, uuid: &str, json: bool) -> String {
        let seq = self.next_seq();
        let Some(ch) = self.channels.get(uuid) else {
            return "-ERR No such channel!\n".to_string();
        };
        let mut ev = self.base_event(
            "CHANNEL_DATA",
            seq,
            ("mod_commands.c", "uuid_dump_function", "6468"),
        );
        self.channel_data(ch, &mut ev);
        for (k, v) in &ch.vars {
            ev.add(format!("variable_{k}"), v.clone());
        }
        let bytes = if json {
            ev.render_json_body()
        } else {
            ev.render_plain_body()
        };
        String::from_utf8_lossy(&bytes).into_owned()
    }

    fn show(&self, arg: &str) -> String {
        let words: Vec<&str> = arg.split_whitespace().collect();
        let what = words.first().copied().unwrap_or("");
        let json = words.ends_with(&["as", "json"]);
        let like = words
            .iter()
            .position(|w| *w == "like")
            .and_then(|i| words.get(i + 1))
            .copied();
        if what != "channels" {
            return "-USAGE: show channels [like <match string>] [as json]\n".to_string();
        }
        let mut chans: Vec<&Channel> = self
            .channels
            .values()
            .filter(|c| c.hangup_cause.is_none())
            .filter(|c| {
                like.is_none_or(|l| {
                    c.uuid.contains(l)
                        || c.name.contains(l)
                        || c.profile.cid_number.contains(l)
                        || c.profile.destination.contains(l)
                })
            })
            .collect();
        chans.sort_by_key(|c| c.profile.created_us);
        let rows: Vec<Vec<(&'static str, String)>> =
            chans.iter().map(|c| self.show_row(c)).collect();
        if json {
            if rows.is_empty() {
                return "{\"row_count\": 0}\n".to_string();
            }
            let mut out = Vec::with_capacity(1024 * rows.len());
            out.extend_from_slice(format!("{{\"row_count\":{},\"rows\":[", rows.len()).as_bytes());
            for (i, row) in rows.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.push(b'{');
                for (j, (k, v)) in row.iter().enumerate() {
                    if j > 0 {
                        out.push(b',');
                    }
                    wire::json_string_into(&mut out, k);
                    out.push(b':');
                    wire::json_string_into(&mut out, v);
                }
                out.push(b'}');
            }
            out.extend_from_slice(b"]}");
            return String::from_utf8_lossy(&out).into_owned();
        }
        let mut out = String::new();
        let cols: Vec<&str> = SHOW_COLUMNS.to_vec();
        out.push_str(&cols.join(","));
        out.push('\n');
        for row in &rows {
            let vals: Vec<&str> = row.iter().map(|(_, v)| v.as_str()).collect();
            out.push_str(&vals.join(","));
            out.push('\n');
        }
        out.push_str(&format!("\n{} total.\n", rows.len()));
        out
    }

    fn show_row(&self, c: &Channel) -> Vec<(&'static str, String)> {
        let created_s = c.profile.created_us / 1_000_000;
        let app = c.var("current_application").unwrap_or("").to_string();
        let app_data = if c.park.is_some() && c.app.is_none() && app == "park" {
            String::new()
        } else {
            c.var("current_application_data").unwrap_or("").to_string()
        };
        let inbound = c.dir == Dir::Inbound;
        let callstate = c.call_state;
        let vals: Vec<String> = vec![
            c.uuid.clone(),
            c.dir.as_str().to_string(),
            wire::date_local(c.profile.created_us),
            created_s.to_string(),
            c.name.clone(),
            c.state.to_string(),
            c.profile.cid_name.clone().unwrap_or_default(),
            c.profile.cid_number.clone(),
            c.profile
                .network_addr
                .clone()
                .filter(|_| inbound)
                .unwrap_or_default(),
            c.profile.destination.clone(),
            app,
            app_data,
            c.profile.dialplan.unwrap_or("").to_string(),
            c.profile.context.to_string(),
            if c.media { "PCMU" } else { "" }.to_string(),
            if c.media { "8000" } else { "" }.to_string(),
            if c.media { "64000" } else { "" }.to_string(),
            if c.media { "PCMU" } else { "" }.to_string(),
            if c.media { "8000" } else { "" }.to_string(),
            if c.media { "64000" } else { "" }.to_string(),
            String::new(),
            self.hostname.clone(),
            c.presence_id.clone().unwrap_or_default(),
            String::new(),
            String::new(),
            callstate.to_string(),
            String::new(),
            String::new(),
            String::new(),
            if c.bridged_to.is_some() {
                c.call_uuid.clone()
            } else {
                String::new()
            },
            String::new(),
            String::new(),
            c.profile.orig_cid_name.clone().unwrap_or_default(),
            c.profile.orig_cid_number.clone(),
            c.profile
                .network_addr
                .clone()
                .filter(|_| inbound)
                .unwrap_or_default(),
            c.profile.destination.clone(),
            c.profile.dialplan.unwrap_or("").to_string(),
            c.profile.context.to_string(),
        ];
        SHOW_COLUMNS.iter().copied().zip(vals).collect()
    }

    fn status_text(&self) -> String {
        let up = self.started.elapsed();
        let n = self.channels.len();
        format!(
            "UP {}\nFreeSWITCH (Version {FS_VERSION_SHORT}) is ready\n{} session(s) since startup\n{n} session(s) - peak {n}, last 5min {n} \n0 session(s) per Sec out of max 30, peak 0, last 5min 0 \n1000 session(s) max\nmin idle cpu 0.00/99.00\nCurrent Stack Size/Max 240K/8192K\n",
            uptime_text(up),
            self.sessions_since_startup
        )
    }
}

/// The fixed column set of `show channels` (custom variables never appear here).
const SHOW_COLUMNS: &[&str] = &[
    "uuid",
    "direction",
    "created",
    "created_epoch",
    "name",
    "state",
    "cid_name",
    "cid_num",
    "ip_addr",
    "dest",
    "application",
    "application_data",
    "dialplan",
    "context",
    "read_codec",
    "read_rate",
    "read_bit_rate",
    "write_codec",
    "write_rate",
    "write_bit_rate",
    "secure",
    "hostname",
    "presence_id",
    "presence_data",
    "accountcode",
    "callstate",
    "callee_name",
    "callee_num",
    "callee_direction",
    "call_uuid",
    "sent_callee_name",
    "sent_callee_num",
    "initial_cid_name",
    "initial_cid_num",
    "initial_ip_addr",
    "initial_dest",
    "initial_dialplan",
    "initial_context",
];

fn uptime_text(up: Duration) -> String {
    let total = up.as_secs();
    let (d, h, m, s) = (
        total / 86_400,
        (total % 86_400) / 3600,
        (total % 3600) / 60,
        total % 60,
    );
    let plural = |n: u64, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    format!(
        "0 years, {}, {}, {}, {}, {}, {}",
        plural(d, "day"),
        plural(h, "hour"),
        plural(m, "minute"),
        plural(s, "second"),
        plural(up.subsec_millis() as u64, "millisecond"),
        plural((up.subsec_micros() % 1000) as u64, "microsecond"),
    )
}

fn playback_headers(path: &str, status: Option<&str>) -> Vec<(&'static str, String)> {
    let mut v = Vec::with_capacity(3);
    if let Some(t) = media::file_type(path) {
        v.push(("Playback-File-Type", t.to_string()));
    }
    v.push(("Playback-File-Path", path.to_string()));
    if let Some(s) = status {
        v.push(("Playback-Status", s.to_string()));
    }
    v
}

fn add_profile(ev: &mut Event, prefix: &'static str, ch: &Channel, own: bool) {
    let p = &ch.profile;
    let h = |name: &str| -> Cow<'static, str> { Cow::Owned(format!("{prefix}-{name}")) };
    ev.add(h("Direction"), ch.dir.as_str());
    ev.add(h("Logical-Direction"), ch.dir.as_str());
    if let Some(u) = &p.username {
        ev.add(h("Username"), u.clone());
    }
    if let Some(d) = p.dialplan {
        ev.add(h("Dialplan"), d);
    }
    if let Some(n) = &p.cid_name {
        ev.add(h("Caller-ID-Name"), n.clone());
    }
    ev.add(h("Caller-ID-Number"), p.cid_number.clone());
    if let Some(n) = &p.orig_cid_name {
        ev.add(h("Orig-Caller-ID-Name"), n.clone());
    }
    ev.add(h("Orig-Caller-ID-Number"), p.orig_cid_number.clone());
    if let Some(n) = &p.callee_name {
        ev.add(h("Callee-ID-Name"), n.clone());
    }
    if let Some(n) = &p.callee_number {
        ev.add(h("Callee-ID-Number"), n.clone());
    }
    if let Some(a) = &p.network_addr {
        ev.add(h("Network-Addr"), a.clone());
    }
    ev.add(h("ANI"), p.ani.clone());
    ev.add(h("Destination-Number"), p.destination.clone());
    ev.add(h("Unique-ID"), ch.uuid.clone());
    ev.add(h("Source"), p.source);
    if let Some(t) = &p.transfer_source {
        ev.add(h("Transfer-Source"), t.clone());
    }
    ev.add(h("Context"), p.context.clone());
    ev.add(h("Channel-Name"), ch.name.clone());
    if own {
        ev.add(h("Profile-Index"), p.index.to_string());
    }
    let t = |v: u64| v.to_string();
    ev.add(h("Profile-Created-Time"), t(p.created_us));
    ev.add(h("Channel-Created-Time"), t(p.created_us));
    ev.add(h("Channel-Answered-Time"), t(ch.answered_us));
    ev.add(h("Channel-Progress-Time"), t(ch.progress_us));
    ev.add(h("Channel-Progress-Media-Time"), t(ch.progress_media_us));
    ev.add(h("Channel-Hangup-Time"), t(ch.hangup_us));
    ev.add(h("Channel-Transfer-Time"), "0");
    ev.add(h("Channel-Resurrect-Time"), "0");
    ev.add(h("Channel-Bridged-Time"), t(ch.bridged_us));
    // Another leg's profile shows no hold (the captures' `Other-Leg-Channel-Last-Hold: 0`).
    let (last_hold, hold_accum) = if own {
        (ch.hold.last_us, ch.hold.accum_us)
    } else {
        (0, 0)
    };
    ev.add(h("Channel-Last-Hold"), t(last_hold));
    ev.add(h("Channel-Hold-Accum"), t(hold_accum));
    ev.add(h("Screen-Bit"), "true");
    ev.add(h("Privacy-Hide-Name"), "false");
    ev.add(h("Privacy-Hide-Number"), "false");
}

/// The Q.850 code FreeSWITCH gives a hangup cause name (the ones the simulator produces).
fn q850(cause: &str) -> &'static str {
    match cause {
        "NORMAL_CLEARING" => "16",
        "USER_BUSY" => "17",
        "NO_USER_RESPONSE" => "18",
        "NO_ANSWER" => "19",
        "CALL_REJECTED" => "21",
        "NORMAL_TEMPORARY_FAILURE" => "41",
        _ => "16",
    }
}

/// `Event-Calling-File/Function/Line-Number` as the real switch reports them.
fn origin(name: &str, detail: &str) -> (&'static str, &'static str, &'static str) {
    match name {
        "CHANNEL_STATE" => (
            "switch_channel.c",
            "switch_channel_perform_set_running_state",
            "2408",
        ),
        "CHANNEL_CALLSTATE" => (
            "switch_channel.c",
            "switch_channel_perform_set_callstate",
            "301",
        ),
        "CHANNEL_CREATE" => (
            "switch_core_state_machine.c",
            "switch_core_session_run",
            "626",
        ),
        "CHANNEL_ORIGINATE" => (
            "switch_core_state_machine.c",
            "switch_core_session_run",
            "632",
        ),
        "CHANNEL_OUTGOING" => (
            "switch_core_session.c",
            "switch_core_session_outgoing_channel",
            "768",
        ),
        "CHANNEL_DESTROY" => (
            "switch_core_session.c",
            "switch_core_session_perform_destroy",
            "1584",
        ),
        "CHANNEL_ANSWER" => (
            "switch_channel.c",
            "switch_channel_perform_mark_answered",
            "3846",
        ),
        "CHANNEL_PROGRESS" => (
            "switch_channel.c",
            "switch_channel_perform_mark_ring_ready_value",
            "3505",
        ),
        "CHANNEL_PROGRESS_MEDIA" => (
            "switch_channel.c",
            "switch_channel_perform_mark_pre_answered",
            "3560",
        ),
        "CHANNEL_HANGUP" => ("switch_channel.c", "switch_channel_perform_hangup", "3445"),
        "CHANNEL_HANGUP_COMPLETE" => (
            "switch_core_state_machine.c",
            "switch_core_session_reporting_state",
            "943",
        ),
        "CHANNEL_EXECUTE" if detail == "uuid_bridge" => {
            ("switch_ivr_bridge.c", "uuid_bridge_on_soft_execute", "1236")
        }
        "CHANNEL_EXECUTE" => ("switch_core_session.c", "switch_core_session_exec", "2944"),
        "CHANNEL_EXECUTE_COMPLETE" => ("switch_core_session.c", "switch_core_session_exec", "2967"),
        "CHANNEL_PARK" => ("switch_ivr.c", "switch_ivr_park", "1002"),
        "CHANNEL_UNPARK" => ("switch_ivr.c", "switch_ivr_park", "1213"),
        "CHANNEL_BRIDGE" => (
            "switch_ivr_bridge.c",
            "switch_ivr_multi_threaded_bridge",
            "1689",
        ),
        "CHANNEL_UNBRIDGE" => (
            "switch_ivr_bridge.c",
            "switch_ivr_multi_threaded_bridge",
            "1879",
        ),
        "PRESENCE_IN" => ("switch_channel.c", "switch_channel_perform_presence", "805"),
        "MEDIA_BUG_START" => (
            "switch_core_media_bug.c",
            "switch_core_media_bug_add",
            "1014",
        ),
        "MEDIA_BUG_STOP" => (
            "switch_core_media_bug.c",
            "switch_core_media_bug_destroy",
            "84",
        ),
        "PLAYBACK_START" => ("switch_ivr_play_say.c", "switch_ivr_play_file", "1646"),
        "PLAYBACK_STOP" => ("switch_ivr_play_say.c", "switch_ivr_play_file", "2020"),
        "DTMF" => ("switch_channel.c", "switch_channel_dequeue_dtmf", "677"),
        "API" => ("switch_loadable_module.c", "switch_api_execute", "2954"),
        "BACKGROUND_JOB" => ("mod_event_socket.c", "api_exec", "1572"),
        "HEARTBEAT" => ("switch_core.c", "send_heartbeat", "95"),
        "SHUTDOWN" => ("switch_core.c", "switch_core_destroy", "3023"),
        _ => ("switch_event.c", "switch_event_fire", "0"),
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
