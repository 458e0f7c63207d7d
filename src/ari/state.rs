//! What Asterisk leaves to its client, kept per switch connection: which channels are ours and
//! why, the bridge of each call, our playbacks and recordings (by the ids we chose, so an
//! event that overtakes its HTTP response still finds them), and per-leg marks the engine set
//! (park after bridge, hold music). Shared by the event loop and the command lanes behind one
//! mutex held only for table updates, never across a request.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use crate::engine::monitor::MonitorMode;
use crate::engine::{AgentId, CallId, ChannelId, Input, QueueId};

/// Why a channel is ours.
#[derive(Debug, Clone, PartialEq)]
pub enum Role {
    /// A caller our dialplan handed to the app; `parked` is what its StasisStart meant
    /// (`CallParked` or `FlowCall`), given again when it is parked after a bridge.
    Caller { parked: Option<Box<Input>> },
    /// An agent's leg we originated.
    Agent {
        agent: AgentId,
        call: CallId,
        queue: QueueId,
    },
    /// A callback customer's leg we originated.
    Callback { call: CallId, queue: QueueId },
    /// A supervisor's leg: answered, it spies on `target`.
    Monitor {
        target: ChannelId,
        mode: MonitorMode,
        call: CallId,
    },
    /// A conference party: answered, it joins the conference bridge `name`.
    Conference { name: String },
    /// A snoop channel of a supervisor's leg.
    Snoop,
    /// A half of the Local channel pair Asterisk made for a phone's transfer (`ari::transfer`):
    /// `;1` stands in our bridge for the leg that transferred. The engine never hears of it.
    Local,
}

impl Role {
    pub fn originated(&self) -> bool {
        !matches!(self, Role::Caller { .. } | Role::Snoop | Role::Local)
    }
}

#[derive(Debug, Clone)]
pub struct ChannelInfo {
    pub role: Role,
    /// In Stasis (answered, for legs we originated).
    pub in_stasis: bool,
    pub answered: bool,
    /// The bridge we put it in.
    pub bridge: Option<String>,
    pub park_after_bridge: bool,
    /// What its partner hears while it is held (a media source).
    pub hold_music: Option<String>,
    /// The cause the engine gave when it asked for the hangup: reported as is, as FreeSWITCH
    /// reports `uuid_kill <uuid> <cause>` (ORIGINATOR_CANCEL has no Q.850 number to carry it).
    pub hangup_cause: Option<String>,
}

impl ChannelInfo {
    pub fn new(role: Role) -> Self {
        Self {
            role,
            in_stasis: false,
            answered: false,
            bridge: None,
            park_after_bridge: false,
            hold_music: None,
            hangup_cause: None,
        }
    }
}

/// Why a playback was started, so its end is reported as FreeSWITCH would.
#[derive(Debug, Clone, PartialEq)]
pub enum PlaybackPurpose {
    /// A prompt: its end is `MediaDone{application, data}`.
    Prompt {
        application: &'static str,
        data: String,
    },
    /// Hold music from a file or tone: played again until broken off.
    Loop { source: String, media: String },
    /// Nothing to report (a beep, a broadcast).
    Quiet,
}

#[derive(Debug, Clone)]
pub struct PlaybackInfo {
    pub channel: ChannelId,
    pub purpose: PlaybackPurpose,
}

/// Why a recording runs.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordingPurpose {
    /// A flow's message: its end is `MediaDone{record}`.
    Message { path: String },
    /// A call recording: its end is `RecordingStopped{path}`.
    Session { path: String },
}

#[derive(Debug, Clone)]
pub struct RecordingInfo {
    pub channel: ChannelId,
    pub purpose: RecordingPurpose,
}

#[derive(Debug, Clone)]
pub struct SnoopInfo {
    /// The snoop channel's id (ours).
    pub snoop: ChannelId,
    /// The bridge of supervisor + snoop.
    pub bridge: String,
}

#[derive(Debug, Default)]
pub struct Tables {
    pub channels: HashMap<ChannelId, ChannelInfo>,
    /// Bridge id → members we put there.
    pub bridges: HashMap<String, Vec<ChannelId>>,
    pub playbacks: HashMap<String, PlaybackInfo>,
    pub recordings: HashMap<String, RecordingInfo>,
    /// Supervisor leg → its snoop.
    pub snoops: HashMap<ChannelId, SnoopInfo>,
    /// Channels to hang up once their queued prompts have played.
    pub hangup_after_prompts: HashSet<ChannelId>,
    /// Non-Stasis channels reported in use, and byte-identical duplicate events seen lately.
    pub in_use: HashSet<ChannelId>,
    pub recent_events: std::collections::VecDeque<String>,
    /// Legs a phone transferred, and the bridge they left, until their stand-in arrives.
    pub transferred_from: HashMap<ChannelId, String>,
    /// Stand-ins (`;1`) by their Local pair's name (`Local/<exten>@<context>-<n>`).
    pub local_pairs: HashMap<String, ChannelId>,
}

impl Tables {
    pub fn channel_mut(&mut self, channel: &ChannelId) -> Option<&mut ChannelInfo> {
        self.channels.get_mut(channel)
    }

    /// Puts channels in a bridge, taking them out of the bridges they were in.
    pub fn join(&mut self, bridge: &str, channels: &[ChannelId]) {
        for channel in channels {
            self.leave(channel);
            if let Some(info) = self.channels.get_mut(channel) {
                info.bridge = Some(bridge.to_owned());
            }
        }
        let members = self.bridges.entry(bridge.to_owned()).or_default();
        for channel in channels {
            if !members.contains(channel) {
                members.push(channel.clone());
            }
        }
    }

    /// Takes a channel out of its bridge; returns that bridge and who is left in it.
    pub fn leave(&mut self, channel: &ChannelId) -> Option<(String, Vec<ChannelId>)> {
        let bridge = self.channels.get_mut(channel)?.bridge.take()?;
        let members = self.bridges.entry(bridge.clone()).or_default();
        members.retain(|c| c != channel);
        let left = members.clone();
        if left.is_empty() {
            self.bridges.remove(&bridge);
        }
        Some((bridge, left))
    }

    pub fn partner_of(&self, channel: &ChannelId) -> Option<ChannelId> {
        let bridge = self.channels.get(channel)?.bridge.as_ref()?;
        self.bridges
            .get(bridge)?
            .iter()
            .find(|c| *c != channel)
            .cloned()
    }

    pub fn bridge_of(&self, channel: &ChannelId) -> Option<String> {
        self.channels.get(channel)?.bridge.clone()
    }

    pub fn playbacks_of(&self, channel: &ChannelId) -> Vec<String> {
        self.playbacks
            .iter()
            .filter(|(_, p)| &p.channel == channel)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Whether this exact event text came lately: subscribeAll=true delivers every
    /// bridge-playback and bridge-recording event twice, byte-identical (README: record).
    pub fn is_duplicate(&mut self, text: &str) -> bool {
        if self.recent_events.iter().any(|e| e == text) {
            return true;
        }
        if self.recent_events.len() >= 16 {
            self.recent_events.pop_front();
        }
        self.recent_events.push_back(text.to_owned());
        false
    }
}

/// The tables of one switch, shared.
#[derive(Debug, Clone, Default)]
pub struct Shared(Arc<Mutex<Tables>>);

impl Shared {
    pub fn with<R>(&self, f: impl FnOnce(&mut Tables) -> R) -> R {
        let mut tables = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut tables)
    }
}
