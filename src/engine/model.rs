//! The engine's plain data: provisioned settings and the live state of queues, agents and calls.

use std::cmp::Reverse;
use std::collections::{btree_set, BTreeMap, BTreeSet};
use std::ops::RangeBounds;
use std::time::Duration;

use super::ids::{AgentId, CallId, ChannelId, FlowId, QueueId, SwitchName};
use super::record::AgentStatus;
use super::routing::{Membership, QueueRouting, SkillLevel};
use super::time::Timestamp;

#[derive(Debug, Clone, PartialEq)]
pub struct QueueSettings {
    pub id: QueueId,
    pub name: String,
    /// What callers hear while they wait (`local_stream://moh`).
    pub moh: String,
    pub wrap_up: Duration,
    /// How long an agent's phone rings before the offer is given up.
    pub ring_timeout: Duration,
    /// How long an agent whose phone was busy is left out (and, unless the routing settings
    /// say otherwise, one who rejected or did not answer).
    pub busy_backoff: Duration,
    pub routing: QueueRouting,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AgentSettings {
    pub id: AgentId,
    pub name: String,
    /// Validated by `config::DialString` before it gets here.
    pub dial_string: String,
    pub queues: Vec<Membership>,
    /// Sorted by skill, one entry per skill (see `routing::canonical`).
    pub skills: Vec<SkillLevel>,
    /// For logging in at any phone (hot-desking); `None`: only at the agent's own phone.
    pub pin: Option<super::pin::PinHash>,
}

impl Agent {
    /// Where offers ring: the hot-desk phone when logged in at one, else the provisioned
    /// dial string. A hot-desk phone keeps the domain of the provisioned `user/…@domain`.
    pub fn dial_string(&self) -> String {
        match &self.contact {
            Some(phone) => match self.settings.dial_string.split_once('@') {
                Some((_, domain)) if self.settings.dial_string.starts_with("user/") => {
                    format!("user/{phone}@{domain}")
                }
                _ => format!("user/{phone}"),
            },
            None => self.settings.dial_string.clone(),
        }
    }
}

impl AgentSettings {
    /// The SIP user of the agent's phone, read from its dial string (`user/1001@domain`,
    /// `sofia/internal/1001@host`), for recognising its other calls.
    pub fn phone_user(&self) -> Option<&str> {
        let rest = self.dial_string.strip_prefix("user/").or_else(|| {
            self.dial_string
                .strip_prefix("sofia/")
                .and_then(|r| r.split_once('/').map(|(_, user)| user))
        })?;
        let user = rest.split('@').next()?;
        (!user.is_empty()).then_some(user)
    }

    pub fn membership(&self, queue: &QueueId) -> Option<&Membership> {
        self.queues.iter().find(|m| &m.queue == queue)
    }

    pub fn level(&self, skill: &super::ids::SkillId) -> u8 {
        self.skills
            .binary_search_by(|s| s.skill.cmp(skill))
            .map_or(0, |i| self.skills[i].level.get())
    }
}

/// Waiting calls are ordered by priority (higher first), then by when they entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct WaitKey {
    pub priority: Reverse<i32>,
    pub entered_at: Timestamp,
    pub seq: u64,
    pub call: CallId,
}

/// A pool's waiting calls in routing order, with their entry times counted apart so the
/// oldest is found in O(log n) (the snapshot's queue views ask at every publish).
#[derive(Debug, Default)]
pub struct WaitingCalls {
    order: BTreeSet<WaitKey>,
    entered_at: BTreeMap<Timestamp, usize>,
}

impl WaitingCalls {
    pub fn insert(&mut self, key: WaitKey) -> bool {
        let added = self.order.insert(key);
        if added {
            *self.entered_at.entry(key.entered_at).or_default() += 1;
        }
        added
    }

    pub fn remove(&mut self, key: &WaitKey) -> bool {
        let removed = self.order.remove(key);
        if removed {
            if let Some(n) = self.entered_at.get_mut(&key.entered_at) {
                *n -= 1;
                if *n == 0 {
                    self.entered_at.remove(&key.entered_at);
                }
            }
        }
        removed
    }

    pub fn contains(&self, key: &WaitKey) -> bool {
        self.order.contains(key)
    }

    /// The call to route first.
    pub fn first(&self) -> Option<&WaitKey> {
        self.order.first()
    }

    pub fn range<R: RangeBounds<WaitKey>>(&self, range: R) -> btree_set::Range<'_, WaitKey> {
        self.order.range(range)
    }

    pub fn iter(&self) -> btree_set::Iter<'_, WaitKey> {
        self.order.iter()
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// When the longest-waiting call entered, whatever its priority.
    pub fn oldest_entry(&self) -> Option<Timestamp> {
        self.entered_at.keys().next().copied()
    }
}

impl<'a> IntoIterator for &'a WaitingCalls {
    type Item = &'a WaitKey;
    type IntoIter = btree_set::Iter<'a, WaitKey>;

    fn into_iter(self) -> Self::IntoIter {
        self.order.iter()
    }
}

/// A pool's idle agents are ordered by a rank the queue's strategy computes when the agent
/// becomes idle (see `pools::rank`); the first is the one to offer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct IdleKey {
    pub rank: (u64, u64, u64),
    pub agent: AgentId,
}

/// Index of a pool in the engine's pool table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PoolId(pub u32);

/// What an agent needs to take a call at one escalation step: canonical (sorted, one entry
/// per skill) so equal requirements share one pool.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Requirement {
    pub required: Vec<SkillLevel>,
    pub preferred: Vec<SkillLevel>,
    pub max_tier: Option<u8>,
}

/// The agents of one queue who meet one requirement, and the calls that wait for them.
///
/// Invariant: a pool never holds both idle agents and waiting calls; whichever arrives second
/// is matched at once.
#[derive(Debug)]
pub struct Pool {
    pub queue: QueueId,
    pub requirement: Requirement,
    pub idle: BTreeSet<IdleKey>,
    pub waiting: WaitingCalls,
    /// Kept while a step of its queue uses it; otherwise dropped with its last call.
    pub permanent: bool,
    /// Calls whose current step points here.
    pub calls: usize,
    /// The last rank taken, for random strategies (new draws start above it).
    pub floor: u64,
}

#[derive(Debug)]
pub struct Queue {
    pub settings: QueueSettings,
    /// Every pool of this queue; the first has no requirement and holds every idle member.
    pub pools: Vec<PoolId>,
    /// The pool of each escalation step for calls without skills of their own.
    pub step_pools: Vec<PoolId>,
    pub members: usize,
    /// Members not logged out.
    pub logged_in: usize,
    /// Round-robin: the position of the member offered last.
    pub last_position: Option<u32>,
    /// Moving average of handle time (talk plus wrap-up), for estimated-wait announcements.
    pub handle_ms: Option<u64>,
    /// Service-level alarms that are up, and the window they are judged over.
    pub alarms: super::thresholds::QueueAlarms,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AgentState {
    LoggedOut,
    /// Eligible for offers, in the idle sets of the pools it matches.
    Available,
    /// Logged in but left out until `until` after a failed offer.
    Backoff {
        until: Timestamp,
    },
    Offered {
        call: CallId,
        leg: ChannelId,
    },
    OnCall {
        call: CallId,
        leg: ChannelId,
    },
    WrapUp {
        until: Timestamp,
    },
    Paused {
        reason: String,
    },
    /// Logged in, but the phone is not registered (`unregister` or `expire`): no offers until
    /// it registers again, when the agent returns to `previous` (available or paused).
    Unreachable {
        cause: String,
        previous: Box<AgentState>,
    },
}

impl AgentState {
    pub fn status(&self) -> AgentStatus {
        match self {
            AgentState::LoggedOut => AgentStatus::LoggedOut,
            AgentState::Available | AgentState::Backoff { .. } => AgentStatus::Available,
            AgentState::Offered { .. } => AgentStatus::Offered,
            AgentState::OnCall { .. } => AgentStatus::OnCall,
            AgentState::WrapUp { .. } => AgentStatus::WrapUp,
            AgentState::Paused { .. } => AgentStatus::Paused,
            AgentState::Unreachable { .. } => AgentStatus::Unreachable,
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            AgentState::Paused { reason } => Some(reason),
            AgentState::Unreachable { cause, .. } => Some(cause),
            _ => None,
        }
    }
}

#[derive(Debug)]
pub struct Agent {
    pub settings: AgentSettings,
    pub state: AgentState,
    pub since: Timestamp,
    /// The pools the agent is idle in, with its key in each: non-empty only when `Available`.
    pub idle: Vec<(PoolId, IdleKey)>,
    /// When the agent last became available (longest-idle ranks by it).
    pub idle_since: Timestamp,
    /// Bumped on every state change so stale timers are recognised.
    pub epoch: u64,
    pub calls_answered: u64,
    pub talk_ms: u64,
    /// Offers in a row that rang out; reset by an answer.
    pub missed_in_a_row: u32,
    /// Calls on the agent's phone that are not ours (a personal call, a direct call): while
    /// any is up, the agent gets no offer.
    pub calls_elsewhere: u32,
    /// Whether the agent's phone is registered, as far as the switch has told us (assumed
    /// until it says otherwise).
    pub registered: bool,
    /// Hot-desking: the SIP user of the phone the agent logged in at, where offers ring until
    /// the agent logs out.
    pub contact: Option<String>,
    /// A pause or log-out asked for during a call, applied when the call and its wrap-up end
    /// (`after_call`).
    pub after_call: Option<AfterCall>,
    /// The call the agent is wrapping up (or gave a disposition to while on it), until the
    /// agent leaves wrap-up (`disposition`).
    pub handled: Option<Handled>,
}

/// A call in an agent's after-call work: its disposition so far and when wrap-up began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    pub call: CallId,
    pub queue: QueueId,
    pub code: Option<String>,
    pub wrap_up_since: Option<Timestamp>,
}

/// A state waiting for the agent's call and wrap-up to end: `Paused` or `LoggedOut`.
#[derive(Debug, Clone, PartialEq)]
pub struct AfterCall {
    pub state: AgentState,
    pub since: Timestamp,
}

/// One agent leg of an offer.
#[derive(Debug, Clone, PartialEq)]
pub struct Ring {
    pub agent: AgentId,
    pub leg: ChannelId,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CallState {
    Waiting,
    /// One leg, or several under ring-all and ring-progressively.
    Ringing {
        rings: Vec<Ring>,
        since: Timestamp,
    },
    /// The agent answered and hears the queue's whisper prompt; the caller still hears hold
    /// music and is bridged when the prompt ends. The agent is already on the call.
    Whispering {
        agent: AgentId,
        leg: ChannelId,
        answered_at: Timestamp,
    },
    Bridged {
        agent: AgentId,
        leg: ChannelId,
        answered_at: Timestamp,
    },
    /// A callback's agent answered and hears ringing while the customer is called.
    CallingBack {
        agent: AgentId,
        agent_leg: ChannelId,
        customer_leg: ChannelId,
    },
}

/// A caller's request to be called back instead of waiting on the line.
#[derive(Debug, Clone, PartialEq)]
pub enum Callback {
    /// The caller pressed the key and may type another number, ended with `#`. `epoch` ties
    /// the confirmation timer to this request (and to the last key typed).
    Confirming { digits: String, epoch: u64 },
    /// The caller hung up; the call keeps its place without a channel.
    Requested {
        number: String,
        attempts: u32,
        /// The queue's callback settings when the caller confirmed, so a later overflow or
        /// re-provisioning cannot leave it without a way to dial.
        settings: crate::engine::routing::CallbackSettings,
        /// Not offered before this time (the delay before a retry).
        not_before: Option<Timestamp>,
    },
}

#[derive(Debug)]
pub struct Call {
    pub id: CallId,
    pub switch: SwitchName,
    pub caller: ChannelId,
    pub queue: QueueId,
    pub caller_number: String,
    pub caller_name: String,
    pub destination: String,
    pub wait_key: WaitKey,
    /// What the caller asked for (dialplan, IVR, CRM, API).
    pub skills: Vec<SkillLevel>,
    /// The current escalation step of the queue, and its pool.
    pub step: usize,
    pub pool: PoolId,
    pub state: CallState,
    /// Bumped when the call changes queue, so timers of the old queue are recognised.
    pub hops: u32,
    /// Bumped on every new offer, so ring-progressively timers of an old offer are ignored.
    pub offer_epoch: u64,
    /// Hold music was started (so it must be broken before anything else plays).
    pub on_hold: bool,
    pub callback: Option<Callback>,
    /// What the caller entered and the CRM returned in a flow, for the agent's leg.
    pub variables: Vec<(String, String)>,
    /// The flow the caller goes to when the agent hangs up (the enqueue node's `survey`).
    pub survey: Option<FlowId>,
    /// Whether the caller heard the recording notice, and declined.
    pub consent: super::recording::Consent,
    /// Recordings started on this call so far: a later one gets a file of its own.
    pub recordings: u32,
    /// The consent notice while it plays: an agent who answers meanwhile waits for its end
    /// (a bridge would cut it short), as for a whisper.
    pub notice_playing: Option<String>,
    /// The agent answered and hears the queue's whisper: the caller is connected at its end.
    pub whisper_pending: bool,
}

impl Call {
    /// A callback whose caller has hung up: no channel of its own until the customer is called.
    pub fn is_virtual(&self) -> bool {
        matches!(self.callback, Some(Callback::Requested { .. }))
    }

    /// A callback waiting out its retry delay.
    pub fn held_until(&self, now: Timestamp) -> bool {
        matches!(self.callback, Some(Callback::Requested { not_before: Some(t), .. }) if t > now)
    }
}

/// Which call a channel belongs to, and as what.
#[derive(Debug, Clone, PartialEq)]
pub enum LegOwner {
    Caller(CallId),
    Agent {
        call: CallId,
        agent: AgentId,
    },
    /// The customer leg of a callback, until it answers and becomes the caller.
    Customer(CallId),
    /// A caller channel the call no longer uses (a callback's caller hearing the confirmation
    /// before its hangup): known, so a resync does not adopt it again, but of no consequence.
    Retired(CallId),
}
