//! The simulated Asterisk behind one mutex: channels, bridges, playbacks, recordings, the
//! Stasis applications connected over WebSockets and which events each of them receives.
//!
//! Nothing here does I/O or waits: timers are queued (`Core::timers`) and started by the
//! caller once the lock is released; events go to each socket's unbounded queue.

pub(crate) mod bridges;
pub(crate) mod calls;
pub(crate) mod hangup;
pub(crate) mod media;
pub(crate) mod transfer;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::sync::mpsc;

use super::wire::{ari_timestamp, quote, str_list, Obj};
use super::{AriSimConfig, AriSimStats};
use crate::sim::PhoneSpec;

/// What the server does with a WebSocket connection.
#[derive(Debug)]
pub(crate) enum WsOut {
    /// A text frame.
    Text(String),
    /// A text frame written a moment later, so that the HTTP response of the request that
    /// caused it goes out first (`events_first` off).
    Later(String),
    /// End the TCP connection without a close frame.
    Fin,
    /// Fall silent both ways (nothing read, nothing written, the socket left open), as when
    /// the network loses the peer without a FIN, until a `Fin` closes it.
    Freeze,
}

/// One Stasis application registered by a WebSocket.
pub(crate) struct App {
    pub name: String,
    pub conn: u64,
    pub subscribe_all: bool,
    pub tx: mpsc::UnboundedSender<WsOut>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChanState {
    Down,
    Ring,
    Ringing,
    Up,
}

impl ChanState {
    pub fn as_str(self) -> &'static str {
        match self {
            ChanState::Down => "Down",
            ChanState::Ring => "Ring",
            ChanState::Ringing => "Ringing",
            ChanState::Up => "Up",
        }
    }
}

/// How a channel came to be, which decides its hangup sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A caller through the dialplan (`PJSIP/callers-…`).
    Inbound,
    /// `POST /channels` (dials at once) or `/channels/create` (`created`: in Stasis at once,
    /// dials on `/dial`).
    Originated {
        endpoint: String,
        dialstring: String,
        created: bool,
        timeout: Option<Duration>,
        /// `PJSIP/<ep>/sip:…`: nothing answers there; SIP timer B ends it after 32 s.
        unreachable: bool,
    },
    Snoop {
        spied: String,
    },
    /// A half of a Local channel pair (a phone's transfer): it ends with its `peer`.
    Local {
        peer: String,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct Channel {
    pub id: String,
    pub name: String,
    pub state: ChanState,
    pub protocol_id: String,
    pub caller: (String, String),
    pub connected: (String, String),
    pub dialplan: (String, String, i64, String, String),
    pub creationtime: String,
    pub origin: Origin,
    /// The endpoint (`callers`, `agent1`) for device states and `GET /endpoints`.
    pub endpoint: String,
    pub stasis: Option<(String, Vec<String>)>,
    /// Entry point index for inbound channels.
    pub entry: Option<usize>,
    pub bridge: Option<String>,
    pub moh: Option<String>,
    pub on_hold: bool,
    pub variables: Vec<(String, String)>,
    /// Apps subscribed to this channel (not counting subscribeAll ones).
    pub subscribed: BTreeSet<String>,
    pub digits: String,
    pub playing: Option<String>,
    pub dialing: bool,
    pub destroyed: bool,
    /// A simulated caller's timers (inbound only).
    pub plan: Option<calls::CallerPlan>,
    /// The app and args an originated leg enters Stasis with once answered.
    pub stasis_pending: Option<(String, Vec<String>)>,
}

impl Channel {
    pub fn variable(&self, name: &str) -> Option<&str> {
        self.variables
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn set_variable(&mut self, name: &str, value: &str) {
        let name = name.trim_start_matches('_');
        if let Some(slot) = self.variables.iter_mut().find(|(k, _)| k == name) {
            slot.1 = value.to_string();
        } else {
            self.variables.push((name.to_string(), value.to_string()));
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Bridge {
    pub id: String,
    pub bridge_type: String,
    pub name: String,
    pub channels: Vec<String>,
    pub creationtime: String,
    pub subscribed: BTreeSet<String>,
    pub technology: &'static str,
    /// A bridge the dialplan made (`Dial()`), not the app: when one party hangs up, the
    /// others are hung up too.
    pub dialplan: bool,
}

/// A phone (PJSIP endpoint with a contact when registered).
#[derive(Clone, Debug)]
pub(crate) struct Phone {
    pub spec: PhoneSpec,
    pub registered: bool,
}

/// A timer the core asked for; fired through `Core::fire`.
#[derive(Clone, Debug)]
pub(crate) enum Timer {
    /// The dialplan's `Answer()` waited for media; now `Stasis()`.
    EnterStasis {
        channel: String,
    },
    PhoneAnswers {
        channel: String,
    },
    PhoneHangsUp {
        channel: String,
    },
    /// The caller's patience ran out (CANCEL while ringing, BYE once answered).
    CallerGivesUp {
        channel: String,
    },
    /// The caller hangs up after talking (`talk_time`).
    CallerHangsUp {
        channel: String,
    },
    OriginateTimeout {
        channel: String,
    },
    SipTimerB {
        channel: String,
    },
    PlaybackStep {
        playback: String,
        step: u64,
    },
    RecordingLimit {
        name: String,
        serial: u64,
    },
    Dtmf {
        channel: String,
        digits: String,
    },
    /// A snoop channel's creation and StasisStart, after the snoop request's 200.
    SnoopEntersStasis {
        channel: String,
        app: String,
        args: Vec<String>,
    },
}

/// An event before it is addressed to an application.
pub(crate) struct Event {
    /// Keys written before `type` (ChannelVarset, a ChannelHangupRequest with a cause).
    pub prefix: String,
    pub kind: &'static str,
    /// Keys after `timestamp`, written as JSON fragments `"k":v,…` (without braces).
    pub body: String,
    pub layout: Layout,
    pub channels: Vec<String>,
    pub bridges: Vec<String>,
    /// subscribeAll apps get it twice (bridge recordings and playbacks).
    pub doubled: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    Normal,
    DeviceState,
}

pub(crate) struct Core {
    pub config: AriSimConfig,
    pub phones: Vec<(String, Phone)>,
    pub channels: BTreeMap<String, Channel>,
    pub channel_order: Vec<String>,
    pub bridges: Vec<Bridge>,
    pub playbacks: media::Playbacks,
    pub recordings: media::Recordings,
    pub snoops: Vec<super::AriSnoopView>,
    pub device_states: Vec<(String, String)>,
    /// Global dialplan variables (`/asterisk/variable`).
    pub globals: Vec<(String, String)>,
    pub endpoint_states: BTreeMap<String, String>,
    pub apps: Vec<App>,
    pub id_counter: u64,
    pub name_counter: u64,
    pub played: Vec<(String, String)>,
    pub stats: AriSimStats,
    pub timers: Vec<(Duration, Timer)>,
    pub startup_time: String,
    /// The next HTTP request gets `503 Asterisk not booted` (after a restart).
    pub booting: bool,
    /// Send a request's events before its HTTP response (the order the captures mostly show).
    pub events_first: bool,
    pub stasis_delay: Duration,
    /// A phone's consultation call being dialled: the consulted phone's channel → the
    /// consulting phone's own channel (`transfer`).
    pub consult_dials: BTreeMap<String, String>,
}

impl Core {
    pub fn new(config: AriSimConfig) -> Self {
        Core {
            phones: Vec::new(),
            channels: BTreeMap::new(),
            channel_order: Vec::new(),
            bridges: Vec::new(),
            playbacks: media::Playbacks::default(),
            recordings: media::Recordings::default(),
            snoops: Vec::new(),
            device_states: Vec::new(),
            globals: Vec::new(),
            endpoint_states: BTreeMap::new(),
            apps: Vec::new(),
            id_counter: 0,
            name_counter: 0,
            played: Vec::new(),
            stats: AriSimStats::default(),
            timers: Vec::new(),
            startup_time: ari_timestamp(),
            booting: false,
            events_first: true,
            stasis_delay: config.answer_delay,
            consult_dials: BTreeMap::new(),
            config,
        }
    }

    pub fn schedule(&mut self, after: Duration, timer: Timer) {
        self.timers.push((after, timer));
    }

    pub fn asterisk_id(&self) -> &str {
        &self.config.asterisk_id
    }

    // ---- ids ---------------------------------------------------------------------------

    /// `<unix secs>.<counter>`; the counter is also consumed by ids the client chose.
    pub fn next_channel_id(&mut self, chosen: Option<&str>) -> String {
        let n = self.id_counter;
        self.id_counter += 1;
        match chosen {
            Some(id) => id.to_string(),
            None => format!("{}.{}", super::wire::unix_seconds(), n),
        }
    }

    pub fn next_channel_name(&mut self, endpoint: &str) -> String {
        let n = self.name_counter;
        self.name_counter += 1;
        format!("PJSIP/{endpoint}-{n:08x}")
    }

    // ---- JSON ----------------------------------------------------------------------------

    pub fn channel_json(&self, ch: &Channel) -> String {
        self.channel_json_with(ch, &ch.protocol_id)
    }

    pub fn channel_json_with(&self, ch: &Channel, protocol_id: &str) -> String {
        let caller = Obj::new()
            .str("name", &ch.caller.0)
            .str("number", &ch.caller.1)
            .done();
        let connected = Obj::new()
            .str("name", &ch.connected.0)
            .str("number", &ch.connected.1)
            .done();
        let dialplan = Obj::new()
            .str("context", &ch.dialplan.0)
            .str("exten", &ch.dialplan.1)
            .num("priority", ch.dialplan.2)
            .str("app_name", &ch.dialplan.3)
            .str("app_data", &ch.dialplan.4)
            .done();
        let mut obj = Obj::new()
            .str("id", &ch.id)
            .str("name", &ch.name)
            .str("state", ch.state.as_str())
            .str("protocol_id", protocol_id)
            .raw("caller", &caller)
            .raw("connected", &connected)
            .str("accountcode", "")
            .raw("dialplan", &dialplan)
            .str("creationtime", &ch.creationtime)
            .str("language", "en");
        if !self.config.channelvars.is_empty() {
            let mut vars = Obj::new();
            for name in &self.config.channelvars {
                let value = calls::read_variable(ch, name).unwrap_or_default();
                vars = vars.str(name, &value);
            }
            obj = obj.raw("channelvars", &vars.done());
        }
        obj.done()
    }

    pub fn bridge_json(&self, b: &Bridge) -> String {
        Obj::new()
            .str("id", &b.id)
            .str("technology", b.technology)
            .str("bridge_type", &b.bridge_type)
            .str("bridge_class", "stasis")
            .str("creator", "Stasis")
            .str("name", &b.name)
            .strs("channels", &b.channels)
            .str("creationtime", &b.creationtime)
            .str("video_mode", "talker")
            .done()
    }

    // ---- events ------------------------------------------------------------------------

    /// An event about one channel: `type,timestamp,<fields>,channel,…`.
    pub fn channel_event(&mut self, kind: &'static str, id: &str, fields: &str) {
        let Some(ch) = self.channels.get(id) else {
            return;
        };
        let body = format!("{fields}\"channel\":{}", self.channel_json(ch));
        self.emit(Event {
            prefix: String::new(),
            kind,
            body,
            layout: Layout::Normal,
            channels: vec![id.to_string()],
            bridges: Vec::new(),
            doubled: false,
        });
    }

    pub fn varset(&mut self, id: &str, variable: &str, value: &str) {
        let Some(ch) = self.channels.get(id) else {
            return;
        };
        let body = format!("\"channel\":{}", self.channel_json(ch));
        self.emit(Event {
            prefix: format!(
                "\"variable\":{},\"value\":{},",
                quote(variable),
                quote(value)
            ),
            kind: "ChannelVarset",
            body,
            layout: Layout::Normal,
            channels: vec![id.to_string()],
            bridges: Vec::new(),
            doubled: false,
        });
    }

    /// A global variable set: a ChannelVarset without `channel`.
    pub fn set_global(&mut self, variable: &str, value: &str) {
        match self.globals.iter_mut().find(|(k, _)| k == variable) {
            Some(slot) => slot.1 = value.to_string(),
            None => self.globals.push((variable.to_string(), value.to_string())),
        }
        self.emit(Event {
            prefix: format!(
                "\"variable\":{},\"value\":{},",
                quote(variable),
                quote(value)
            ),
            kind: "ChannelVarset",
            body: String::new(),
            layout: Layout::Normal,
            channels: Vec::new(),
            bridges: Vec::new(),
            doubled: false,
        });
    }

    /// A ChannelHangupRequest; `cause` None: a far-end BYE.
    pub fn hangup_request(&mut self, id: &str, cause: Option<i64>, soft: bool, tech: Option<i64>) {
        let Some(ch) = self.channels.get(id) else {
            return;
        };
        let mut prefix = String::new();
        if let Some(c) = cause {
            prefix.push_str(&format!("\"cause\":{c},"));
            if soft {
                prefix.push_str("\"soft\":true,");
            }
            if let Some(t) = tech {
                prefix.push_str(&format!("\"tech_cause\":{t},"));
            }
        }
        let body = format!("\"channel\":{}", self.channel_json(ch));
        self.emit(Event {
            prefix,
            kind: "ChannelHangupRequest",
            body,
            layout: Layout::Normal,
            channels: vec![id.to_string()],
            bridges: Vec::new(),
            doubled: false,
        });
    }

    pub fn dial_event(&mut self, id: &str, dialstatus: &str) {
        let Some(ch) = self.channels.get(id) else {
            return;
        };
        let dialstring = match &ch.origin {
            Origin::Originated { dialstring, .. } => dialstring.clone(),
            _ => String::new(),
        };
        let body = format!(
            "\"dialstatus\":{},\"forward\":\"\",\"dialstring\":{},\"peer\":{}",
            quote(dialstatus),
            quote(&dialstring),
            self.channel_json(ch)
        );
        self.emit(Event {
            prefix: String::new(),
            kind: "Dial",
            body,
            layout: Layout::Normal,
            channels: vec![id.to_string()],
            bridges: Vec::new(),
            doubled: false,
        });
    }

    pub fn bridge_event(&mut self, kind: &'static str, bridge: &str, channel: Option<&str>) {
        let Some(b) = self.bridges.iter().find(|b| b.id == bridge) else {
            return;
        };
        let mut body = format!("\"bridge\":{}", self.bridge_json(b));
        let mut channels = Vec::new();
        if let Some(id) = channel {
            if let Some(ch) = self.channels.get(id) {
                body.push_str(&format!(",\"channel\":{}", self.channel_json(ch)));
                channels.push(id.to_string());
            }
        }
        self.emit(Event {
            prefix: String::new(),
            kind,
            body,
            layout: Layout::Normal,
            channels,
            bridges: vec![bridge.to_string()],
            doubled: false,
        });
    }

    pub fn device_state_event(&mut self, name: &str, state: &str) {
        let body = Obj::new().str("name", name).str("state", state).done();
        self.emit(Event {
            prefix: String::new(),
            kind: "DeviceStateChanged",
            body: format!("\"device_state\":{body}"),
            layout: Layout::DeviceState,
            channels: Vec::new(),
            bridges: Vec::new(),
            doubled: false,
        });
    }

    fn receives(&self, app: &App, ev: &Event) -> bool {
        if app.subscribe_all {
            return true;
        }
        ev.channels.iter().any(|c| {
            self.channels
                .get(c)
                .is_some_and(|ch| ch.subscribed.contains(&app.name))
        }) || ev.bridges.iter().any(|b| {
            self.bridges
                .iter()
                .any(|x| &x.id == b && x.subscribed.contains(&app.name))
        })
    }

    pub fn emit(&mut self, ev: Event) {
        let timestamp = ari_timestamp();
        let mut sent = 0;
        for app in &self.apps {
            if !self.receives(app, &ev) {
                continue;
            }
            let text = render(&ev, &timestamp, self.asterisk_id(), &app.name);
            let times = if ev.doubled && app.subscribe_all {
                2
            } else {
                1
            };
            for _ in 0..times {
                let out = if self.events_first {
                    WsOut::Text(text.clone())
                } else {
                    WsOut::Later(text.clone())
                };
                if app.tx.send(out).is_ok() {
                    sent += 1;
                }
            }
        }
        self.stats.events_sent += sent;
    }

    // ---- applications --------------------------------------------------------------------

    /// Registers `names` for a new socket; an app already registered elsewhere is replaced
    /// (its old socket gets ApplicationReplaced and nothing more).
    pub fn register_apps(
        &mut self,
        conn: u64,
        names: &[String],
        subscribe_all: bool,
        tx: mpsc::UnboundedSender<WsOut>,
    ) {
        for name in names {
            if let Some(pos) = self.apps.iter().position(|a| &a.name == name) {
                let old = self.apps.remove(pos);
                let text = Obj::new()
                    .str("type", "ApplicationReplaced")
                    .str("timestamp", &ari_timestamp())
                    .str("application", name)
                    .str("asterisk_id", self.asterisk_id())
                    .done();
                let _ = old.tx.send(WsOut::Text(text));
            }
            self.apps.push(App {
                name: name.clone(),
                conn,
                subscribe_all,
                tx: tx.clone(),
            });
        }
    }

    pub fn unregister_conn(&mut self, conn: u64) {
        self.apps.retain(|a| a.conn != conn);
    }

    pub fn application_json(&self, app: &App) -> String {
        let all = |topic: &str| {
            if app.subscribe_all {
                str_list(&[topic.to_string()])
            } else {
                "[]".to_string()
            }
        };
        Obj::new()
            .str("name", &app.name)
            .raw("channel_ids", &all("__AST_CHANNEL_ALL_TOPIC"))
            .raw("bridge_ids", &all("__AST_BRIDGE_ALL_TOPIC"))
            .raw("endpoint_ids", &all("__AST_ENDPOINT_ALL_TOPIC"))
            .raw("device_names", &all("__AST_DEVICE_STATE_ALL_TOPIC"))
            .raw("events_allowed", "[]")
            .raw("events_disallowed", "[]")
            .done()
    }

    // ---- device states -------------------------------------------------------------------

    pub fn phone(&self, user: &str) -> Option<&Phone> {
        self.phones.iter().find(|(u, _)| u == user).map(|(_, p)| p)
    }

    /// The state of `PJSIP/<endpoint>` from its channels.
    pub fn endpoint_device_state(&self, endpoint: &str) -> String {
        let mut ringing = false;
        let mut hold = false;
        let mut inuse = false;
        for ch in self.channels.values() {
            if ch.endpoint != endpoint || ch.destroyed {
                continue;
            }
            match ch.state {
                ChanState::Ringing => ringing = true,
                ChanState::Up if ch.on_hold => hold = true,
                ChanState::Up => inuse = true,
                _ => {}
            }
        }
        let state = if ringing && inuse {
            "RINGINUSE"
        } else if ringing {
            "RINGING"
        } else if hold {
            "ONHOLD"
        } else if inuse {
            "INUSE"
        } else if self.phone(endpoint).is_some_and(|p| p.registered) {
            "NOT_INUSE"
        } else {
            "UNAVAILABLE"
        };
        state.to_string()
    }

    /// Publishes `PJSIP/<endpoint>` if its state changed.
    pub fn refresh_device(&mut self, endpoint: &str) {
        if endpoint.is_empty() {
            return;
        }
        let state = self.endpoint_device_state(endpoint);
        let known = self.endpoint_states.get(endpoint).cloned();
        let previous = known.unwrap_or_else(|| {
            if self.phone(endpoint).is_some_and(|p| p.registered) {
                "NOT_INUSE".to_string()
            } else {
                "UNAVAILABLE".to_string()
            }
        });
        if previous != state {
            self.endpoint_states
                .insert(endpoint.to_string(), state.clone());
            self.device_state_event(&format!("PJSIP/{endpoint}"), &state);
        }
    }

    pub fn stats_snapshot(&self) -> AriSimStats {
        let mut s = self.stats.clone();
        s.active_channels = self.channels.len();
        s
    }
}

/// An event's text for one application, keys in Asterisk's order for its type.
fn render(ev: &Event, timestamp: &str, asterisk_id: &str, app: &str) -> String {
    match ev.layout {
        Layout::DeviceState => format!(
            "{{\"type\":{},\"application\":{},\"timestamp\":{},{},\"asterisk_id\":{}}}",
            quote(ev.kind),
            quote(app),
            quote(timestamp),
            ev.body,
            quote(asterisk_id)
        ),
        Layout::Normal => {
            let body = if ev.body.is_empty() {
                String::new()
            } else {
                format!("{},", ev.body)
            };
            format!(
                "{{{}\"type\":{},\"timestamp\":{},{}\"asterisk_id\":{},\"application\":{}}}",
                ev.prefix,
                quote(ev.kind),
                quote(timestamp),
                body,
                quote(asterisk_id),
                quote(app)
            )
        }
    }
}
