//! What goes into the engine and what comes out of it.

use std::time::Duration;

use serde::Serialize;

use super::ids::{AgentId, CallId, ChannelId, FlowId, QueueId, RecordingId, SwitchName};
use super::record::{FlowOutcome, Record};
use super::recording::RecordingAction;
use super::routing::SkillLevel;
use super::time::Timestamp;

/// A normalized fact from a switch, the API or the timer wheel.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Our dialplan handed a caller over for a queue (FreeSWITCH: parked it with
    /// `switchboard_queue`; Asterisk: `Stasis(<app>,queue,<queue>…)`).
    CallParked(ParkedCall),
    /// A channel was answered (for agent legs: the agent picked up).
    ChannelAnswered {
        switch: SwitchName,
        channel: ChannelId,
    },
    /// A channel is gone. `cause` is a Q.850 cause name (`NORMAL_CLEARING`, `USER_BUSY`…),
    /// whichever switch reported it.
    ChannelHungUp {
        switch: SwitchName,
        channel: ChannelId,
        cause: String,
    },
    /// A channel hung up because its phone transferred its partner away (a SIP REFER: the
    /// switch hangs up the referring leg with `variable_transfer_to`). The partner lives on:
    /// `blind:<partner>` sends it to `destination`, `att:<new partner>` bridges it to the leg the
    /// phone had called for the consultation (see `transfer`).
    LegTransferred(LegTransfer),
    /// An originate of ours failed with `cause` (FreeSWITCH: the BACKGROUND_JOB's `-ERR CAUSE`
    /// for our `origination_uuid`; Asterisk: `500 Allocation failed`, or the leg destroyed
    /// before it answered). A leg that never answered is over, even when no channel event ever
    /// came (`USER_NOT_REGISTERED`). A leg that answered lives on: on FreeSWITCH, bridging it
    /// before its originate returned makes the switch answer `-ERR ORIGINATOR_CANCEL` while the
    /// leg stays up and bridged (Batch 3 captures); only its hangup ends it.
    OriginateFailed {
        switch: SwitchName,
        leg: ChannelId,
        cause: String,
    },
    /// A command the engine asked for was refused by the switch.
    CommandFailed {
        switch: SwitchName,
        command: SwitchCommand,
        reply: String,
    },
    /// The adapter (re)connected and is about to list what the switch holds: legs the engine
    /// creates after this are not in that listing and must not be judged by it.
    ResyncStarted { switch: SwitchName },
    /// The adapter (re)connected and listed what the switch holds now.
    SwitchResynced {
        switch: SwitchName,
        channels: Vec<ChannelSnapshot>,
    },
    /// A timer the engine set has expired.
    TimerFired(Timer),
    /// A channel that is not one of our agent legs was answered. `users` are the SIP users it
    /// involves (the calling and the called phone): an agent whose phone is among them is on a
    /// call and must not be offered another until the channel hangs up.
    ChannelInUse {
        switch: SwitchName,
        channel: ChannelId,
        users: Vec<String>,
    },
    /// A channel that is not one of our agent legs was answered, and the switch's dialplan
    /// bridged it to `partner` (a `bridge` app's leg: `Other-Leg-Unique-ID` from its
    /// creation). Like `ChannelInUse`, unless `partner` is a caller an agent transferred
    /// to this phone (see `transfer`).
    BridgedLegAnswered {
        switch: SwitchName,
        channel: ChannelId,
        partner: ChannelId,
        users: Vec<String>,
    },
    /// The phones registered on a switch when the controller (re)connected (`show
    /// registrations`): the phones of logged-in agents missing from every switch's list are
    /// unreachable.
    RegistrationsListed {
        switch: SwitchName,
        users: Vec<String>,
    },
    /// A phone registered to the switch, or its registration ended (`sofia::register`,
    /// `sofia::unregister`, `sofia::expire`). `user` is the SIP user (`1001`).
    PhoneRegistration {
        switch: SwitchName,
        user: String,
        registered: bool,
        /// What the switch said: `register`, `unregister` or `expire`.
        cause: String,
    },
    /// An agent dialled a feature code from a phone: our dialplan parked the call with
    /// `switchboard_feature` (and `switchboard_reason` for a pause). `user` is the phone's SIP
    /// user. The controller answers, confirms with a tone or refuses with another, hangs up.
    FeatureCode {
        switch: SwitchName,
        channel: ChannelId,
        feature: Feature,
        user: String,
        reason: Option<String>,
        /// Hot-desking: the agent number and PIN keyed in at a phone that is not the agent's.
        agent_number: Option<String>,
        pin: Option<super::pin::Pin>,
        /// The dialled number (`*22`) and the dialplan context it was dialled in: a log-in
        /// from a phone no agent has is sent on to the hot-desk code there.
        destination: String,
        context: String,
    },
    /// A phone subscribed to a BLF key (`agent+<id>` or `queue+<id>`) and the switch asks who
    /// can tell its state (PRESENCE_PROBE). Not the engine's business: the presence publisher
    /// answers it.
    PresenceProbe {
        switch: SwitchName,
        proto: String,
        id: String,
    },
    /// Our dialplan parked a caller for an IVR flow (`switchboard_flow=<entry point>`).
    FlowCall(FlowCall),
    /// The reply to a flow's HTTP request ([`Effect::Http`]), or why there is none.
    HttpDone {
        request: HttpRequestId,
        outcome: HttpOutcome,
    },
    /// The caller pressed a key (a DTMF event, in-band or RFC 2833).
    Dtmf {
        switch: SwitchName,
        channel: ChannelId,
        digit: char,
    },
    /// The switch stopped recording a channel (RECORD_STOP): asked to, at the channel's
    /// hangup, at the recording's limit, or on an error. `path` is `Record-File-Path`.
    RecordingStopped {
        switch: SwitchName,
        channel: ChannelId,
        path: String,
    },
    /// An application finished on one of our channels (CHANNEL_EXECUTE_COMPLETE): a prompt
    /// played to its end, was broken off (`uuid_break`) or was not found, `park` ended at a
    /// bridge, a digit collection returned. `response` is the switch's `Application-Response`
    /// (`FILE PLAYED`, `FILE NOT FOUND`, `PLAYBACK ERROR`, `_none_`), which for some
    /// applications is only the last response of an earlier one.
    MediaDone {
        switch: SwitchName,
        channel: ChannelId,
        /// `playback`, `say`, `park`, `play_and_get_digits`…
        application: String,
        /// What it ran (`Application-Data`): for a playback, the file played.
        data: String,
        response: String,
    },
    /// A leg's endpoint was put on hold (`held`) or taken off it: CHANNEL_HOLD / CHANNEL_UNHOLD
    /// on that leg (a phone's re-INVITE, or `uuid_hold`).
    LegHold {
        switch: SwitchName,
        channel: ChannelId,
        held: bool,
    },
    /// An originate of ours has returned: the leg answered and is ours to bridge at once
    /// (FreeSWITCH: the BACKGROUND_JOB's `+OK`, the leg runs its `park`; Asterisk: the leg's
    /// StasisStart, which comes only on answer). Only consults wait for it (see
    /// `consult_race`); everything else ignores it.
    OriginateReturned { switch: SwitchName, leg: ChannelId },
}

/// What the switch said about a leg that left by a transfer (Batch 4 captures).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegTransfer {
    pub switch: SwitchName,
    /// The leg that sent the REFER and hung up.
    pub leg: ChannelId,
    pub kind: TransferKind,
    /// Blind: the partner that was transferred; attended: its new partner.
    pub partner: ChannelId,
    /// Where to (`transfer_destination` without `blind:`; empty when the switch gave none).
    pub destination: String,
    pub cause: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferKind {
    Blind,
    Attended,
}

impl TransferKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TransferKind::Blind => "blind",
            TransferKind::Attended => "attended",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParkedCall {
    pub switch: SwitchName,
    pub channel: ChannelId,
    pub queue: QueueId,
    pub caller_number: String,
    pub caller_name: String,
    pub destination: String,
    pub priority: i32,
    /// Skills the caller needs, from the `switchboard_skills` channel variable.
    pub skills: Vec<SkillLevel>,
}

/// A caller our dialplan parked for a flow: `entry` is the `switchboard_flow` variable, an
/// entry point of one of the loaded flows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowCall {
    pub switch: SwitchName,
    pub channel: ChannelId,
    pub entry: String,
    pub caller_number: String,
    pub caller_name: String,
    pub destination: String,
}

/// Names one HTTP request of a flow, so its reply finds the caller who waits for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct HttpRequestId(pub u64);

/// A request a flow's `http` node makes (to a CRM). The app runs it apart from the engine and
/// answers with [`Input::HttpDone`], always, by `timeout` at the latest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub id: HttpRequestId,
    pub method: crate::flow::HttpMethod,
    /// Already filled in (variables URL-encoded).
    pub url: String,
    /// A JSON body (POST), already filled in.
    pub body: Option<String>,
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpOutcome {
    /// Any HTTP reply, whatever its status: the engine decides what counts as an error.
    Reply { status: u16, body: String },
    /// No reply: the timeout passed, the connection was refused, the URL did not resolve.
    Failed { reason: String },
}

/// Which part a channel plays for us, read from the `switchboard_*` channel variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelRole {
    Caller,
    Agent,
    /// Not ours (a personal or direct call): only its presence matters, for agents whose
    /// phone it keeps busy.
    Other,
}

/// One channel found on a switch during a resync, with what the store remembers of its call.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelSnapshot {
    pub channel: ChannelId,
    pub role: ChannelRole,
    pub answered: bool,
    pub bridged_to: Option<ChannelId>,
    /// For callers: the queue the dialplan parked them for, or (filled from the store) the one
    /// a flow enqueued them in. For agent legs: the call's queue.
    pub queue: Option<QueueId>,
    /// For callers our dialplan parked for a flow: the entry point (`switchboard_flow`).
    pub flow_entry: Option<String>,
    /// For agent legs: whose phone this is.
    pub agent: Option<AgentId>,
    pub call: Option<CallId>,
    pub caller_number: String,
    pub caller_name: String,
    pub destination: String,
    /// From the store: when the call first entered the queue, so it keeps its place.
    pub stored: Option<StoredCall>,
    /// From the store: the caller's latest flow session, for a caller with a `flow_entry`.
    pub stored_flow: Option<StoredFlow>,
}

/// What the store remembers of a caller's flow session, for a controller that restarts.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFlow {
    pub call: CallId,
    pub flow: FlowId,
    /// How it ended, if it has.
    pub outcome: Option<FlowOutcome>,
    /// What the caller entered and the CRM returned (kept when the session ended, and as
    /// they were at its last wait while it runs).
    pub variables: Vec<(String, String)>,
    /// Where an open session waited (`Record::FlowWaiting`): its flow and node.
    pub waiting_at: Option<(FlowId, String)>,
}

impl ChannelSnapshot {
    /// A channel that is not ours, listed so the engine knows it is still up.
    pub fn other(channel: ChannelId, answered: bool) -> Self {
        Self {
            channel,
            role: ChannelRole::Other,
            answered,
            bridged_to: None,
            queue: None,
            agent: None,
            call: None,
            caller_number: String::new(),
            caller_name: String::new(),
            destination: String::new(),
            flow_entry: None,
            stored: None,
            stored_flow: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredCall {
    pub call: CallId,
    pub entered_at: Timestamp,
    pub priority: i32,
    /// When an agent answered it, if one did: an adopted bridged call's talk time counts from
    /// there, not from the restart.
    pub answered_at: Option<Timestamp>,
    /// Where it stood when it last changed (`Record::CallPlaced`), if it moved, changed or
    /// resumed since it entered: this wins over `entered_at` and `priority`.
    pub place: Option<StoredPlace>,
    /// The agent's part ended by a transfer from its phone (the call's last queue event is a
    /// `transfer`): the caller talks on elsewhere, out of our queues, until it hangs up.
    pub transferred: Option<StoredTransfer>,
}

/// What the history says of a caller an agent transferred away (see [`StoredCall`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredTransfer {
    /// The transferring agent's talk time, the call's if it ends there.
    pub talk_ms: i64,
}

/// A waiting call's queue, priority, skills, moves and the time its place counts from, as the
/// store last heard them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPlace {
    pub queue: QueueId,
    pub priority: i32,
    pub skills: Vec<SkillLevel>,
    pub hops: u32,
    pub waiting_since: Timestamp,
}

/// What the engine asks the edges to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Switch {
        switch: SwitchName,
        /// The caller channel of the call the command is for: commands with the same affinity
        /// reach the switch in the order the engine issued them.
        affinity: ChannelId,
        command: SwitchCommand,
    },
    Persist(Record),
    /// An HTTP request for a flow (see [`HttpRequest`]).
    Http(HttpRequest),
    SetTimer {
        at: Timestamp,
        timer: Timer,
    },
}

impl Effect {
    /// A command for `switch`, in the command lane of `affinity` (the call's caller channel).
    pub fn switch(switch: &SwitchName, affinity: &ChannelId, command: SwitchCommand) -> Self {
        Effect::Switch {
            switch: switch.clone(),
            affinity: affinity.clone(),
            command,
        }
    }
}

/// A command for one switch. Every value in it is typed and validated, so the adapter can
/// format it without quoting decisions of its own beyond the ones it documents.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum SwitchCommand {
    Answer {
        channel: ChannelId,
    },
    /// Hold music until broken.
    PlayHold {
        channel: ChannelId,
        source: String,
    },
    /// Ring an agent with a leg whose UUID we chose, parked when answered.
    Originate {
        leg: ChannelId,
        call: CallId,
        agent: AgentId,
        queue: QueueId,
        dial_string: String,
        timeout: Duration,
        caller_number: String,
        caller_name: String,
        /// Shown on the agent's phone before the caller: `[<queue name>] <caller>`.
        queue_name: String,
        /// What the caller entered in a flow and the CRM returned, set on the agent's leg as
        /// `switchboard_var_<name>` (for screen pops). Names are `[A-Za-z][A-Za-z0-9_]*`.
        variables: Vec<(String, String)>,
    },
    /// Stop whatever plays on the channel (hold music) before bridging.
    Break {
        channel: ChannelId,
    },
    Bridge {
        caller: ChannelId,
        agent_leg: ChannelId,
    },
    /// When the agent hangs up, park the caller rather than hang it up
    /// (`uuid_setvar <uuid> park_after_bridge true`): it has a survey to answer.
    ParkAfterBridge {
        channel: ChannelId,
    },
    Kill {
        channel: ChannelId,
        cause: HangupCause,
    },
    /// Send the caller to a dialplan extension (`uuid_transfer <uuid> <extension> XML <context>`);
    /// the call leaves our hands.
    Transfer {
        channel: ChannelId,
        extension: String,
        context: String,
    },
    /// Record the caller (`record <path> <max seconds>`): a message left in a flow. The switch
    /// stops at `max`, on silence or on `#`, then reports CHANNEL_EXECUTE_COMPLETE `record`.
    Record {
        channel: ChannelId,
        /// Where the file goes on the switch; letters, digits and `/._-` only.
        path: String,
        max: Duration,
    },
    /// Run the voicemail application on the caller (`voicemail default <domain> <mailbox>`).
    Voicemail {
        channel: ChannelId,
        domain: String,
        mailbox: String,
    },
    /// Hang up the caller with a cause given by the admin (a Q.850 cause name).
    Hangup {
        channel: ChannelId,
        cause: String,
    },
    /// Play a prompt once (queued behind whatever the channel runs: break first to interrupt).
    Play {
        channel: ChannelId,
        source: String,
    },
    /// FreeSWITCH's `say` (`<language> <kind> <method> <text>`), for positions, wait times and
    /// numbers read back.
    Say {
        channel: ChannelId,
        language: String,
        kind: SayKind,
        text: String,
    },
    /// Hang the caller up once the prompts queued before it have played (the `hangup` app).
    HangupAfterPrompts {
        channel: ChannelId,
    },
    /// Publish a BLF/presence state (`sendevent PRESENCE_IN`, `proto: agent|queue`), which the
    /// switch turns into NOTIFYs for phones subscribed to `agent+<id>@<domain>` or
    /// `queue+<id>@<domain>`.
    Presence(Presence),
    /// Record a call apart from what runs on it (`uuid_record <uuid> <action> <path>
    /// [<limit>]`): the switch's `session_record` media bug, which the captures show answers
    /// `+OK Success` and sends RECORD_START / RECORD_STOP only for start and stop.
    SessionRecord {
        channel: ChannelId,
        action: RecordingAction,
        /// The file on the switch's disk; letters, digits and `/._-` only.
        path: String,
        /// Start only: the switch stops by itself after this long.
        limit: Option<Duration>,
    },
    /// Record the next recording of this channel in stereo, caller and agent on channels of
    /// their own (`uuid_setvar <uuid> RECORD_STEREO true`).
    RecordStereo {
        channel: ChannelId,
    },
    /// A short tone both parties of a bridged call hear: the periodic recording beep
    /// (`uuid_broadcast <uuid> tone_stream://… both`).
    Beep {
        channel: ChannelId,
    },
    /// What a leg's partner hears while the leg is held (`uuid_setvar <uuid> hold_music
    /// <source>`).
    HoldMusic {
        channel: ChannelId,
        source: String,
    },
    /// Hold the leg's endpoint, or take it off hold (`uuid_hold [off] <uuid>`): its partner
    /// hears the leg's `hold_music` meanwhile.
    Hold {
        channel: ChannelId,
        on: bool,
    },
    /// Mark why a caller is sent back to `park` (`uuid_setvar <uuid> requeue_reason
    /// <reason>`), before [`SwitchCommand::ParkInline`]; `reason` is `[a-z_]+`.
    RequeueReason {
        channel: ChannelId,
        reason: String,
    },
    /// Send a caller back to `park` (`uuid_transfer <uuid> park inline`): a bridged partner
    /// is hung up first and the caller's CHANNEL_PARK comes back (`api-transfer-and-hold`
    /// part E), so it can be queued again or offered to an agent.
    ParkInline {
        channel: ChannelId,
    },
    /// Park the leg when its bridge ends (`on`), or let it hang up as usual
    /// (`uuid_setvar <uuid> park_after_bridge true|false`): the legs of a consult.
    SetParkAfterBridge {
        channel: ChannelId,
        on: bool,
    },
    /// Play a source to one leg alone (`uuid_broadcast <uuid> <source> aleg`): hold music to
    /// a parked leg bridged to nothing (the caller or the target waiting through a consult),
    /// or a queue's `monitor_notice` to the agent's leg when monitoring starts.
    Broadcast {
        channel: ChannelId,
        source: String,
    },
    /// Ring a supervisor's phone with a leg whose UUID we chose; answered, it joins the
    /// caller's call in `mode` (`&eavesdrop(<target>)`, with `eavesdrop_whisper_aleg=true` for
    /// whisper, or `&three_way(<target>)` for barge; see `monitor`).
    Monitor {
        leg: ChannelId,
        call: CallId,
        target: ChannelId,
        mode: super::monitor::MonitorMode,
        dial_string: String,
        timeout: Duration,
    },
    /// A supervisor takes the call over: the caller is bridged to the supervisor's leg
    /// (`uuid_bridge <caller> <leg>`), which leaves its eavesdrop; the agent's leg, losing its
    /// partner, hangs up.
    TakeOver {
        caller: ChannelId,
        leg: ChannelId,
    },
    /// A key to a supervisor's eavesdrop, changing what it does (`uuid_recv_dtmf <leg> <digit>`).
    MonitorKey {
        leg: ChannelId,
        digit: char,
    },
    /// Move a connected caller and its agent's leg into a conference of ours
    /// (`uuid_transfer <caller> -both conference:<name>@default inline`; see `conference`).
    ConferenceJoin {
        channel: ChannelId,
        name: String,
    },
    /// Ring a conference party with a leg whose UUID we chose; answered, it joins the
    /// conference (`originate {...}<dial> &conference(<name>@default)`).
    ConferenceDial {
        leg: ChannelId,
        call: CallId,
        /// The agent rung, or `None` for an external number.
        agent: Option<AgentId>,
        queue: QueueId,
        name: String,
        dial_string: String,
        timeout: Duration,
        caller_number: String,
        caller_name: String,
    },
    /// Call the customer of a callback, with a leg whose UUID we chose, parked when answered.
    Dial {
        leg: ChannelId,
        call: CallId,
        queue: QueueId,
        dial_string: String,
        timeout: Duration,
    },
}

/// What an agent can do from the phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    Login,
    Logout,
    /// Pause with a reason code keyed in after the feature code.
    Pause,
    /// Available again (from paused, wrap-up or logged out).
    Ready,
    /// End the wrap-up now.
    EndWrapUp,
    /// A BLF key pressed: available ↔ paused (or log in when logged out).
    Toggle,
    /// A disposition code keyed in after the feature code, for the call the agent is on or
    /// wrapping up.
    Disposition,
}

impl Feature {
    pub const ALL: [Feature; 7] = [
        Feature::Login,
        Feature::Logout,
        Feature::Pause,
        Feature::Ready,
        Feature::EndWrapUp,
        Feature::Toggle,
        Feature::Disposition,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Feature::Login => "login",
            Feature::Logout => "logout",
            Feature::Pause => "pause",
            Feature::Ready => "ready",
            Feature::EndWrapUp => "end_wrap_up",
            Feature::Toggle => "toggle",
            Feature::Disposition => "disposition",
        }
    }

    pub fn parse(s: &str) -> Option<Feature> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// One presence state for a BLF key. A dialog BLF lamp shows `lamp`; a presence (pidf) key
/// shows `status` and `rpid`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Presence {
    /// `agent` or `queue`: the subscription is `<proto>+<id>@<domain>`.
    pub proto: &'static str,
    pub id: String,
    pub domain: String,
    pub lamp: Lamp,
    /// Free text shown by presence keys (`Available`, `Paused: lunch`, `3 waiting`).
    pub status: String,
    /// `unknown`, `active`, `on-the-phone`, `away` or `busy`.
    pub rpid: &'static str,
    /// The dialog id for a lit or blinking lamp (stable per entity).
    #[serde(serialize_with = "uuid_text")]
    pub dialog: uuid::Uuid,
    /// Increases with every update of this entity.
    pub count: u64,
}

fn uuid_text<S: serde::Serializer>(id: &uuid::Uuid, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(id)
}

/// A dialog BLF lamp: off, blinking, or lit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Lamp {
    Off,
    Blinking,
    Lit,
}

/// What `say` reads and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SayKind {
    /// "forty-two".
    Number,
    /// "four two": a phone number read back.
    Digits,
    /// Seconds as "3 minutes 20 seconds".
    Duration,
    /// An amount: "twelve dollars and fifty cents" (`12.50`).
    Money,
    /// A date, given as seconds since 1970: "Sunday, November 22".
    Date,
}

impl SayKind {
    /// The `<type> <method>` part of the `say` arguments.
    pub fn as_args(self) -> &'static str {
        match self {
            SayKind::Number => "number pronounced",
            SayKind::Digits => "number iterated",
            SayKind::Duration => "time_measurement pronounced",
            SayKind::Money => "currency pronounced",
            SayKind::Date => "current_date pronounced",
        }
    }
}

/// Hangup causes the engine sends; the switch reports causes as free text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum HangupCause {
    OriginatorCancel,
    NoAnswer,
    NoRouteDestination,
    NormalClearing,
    /// Another agent leg of the same ring-all offer answered first.
    LoseRace,
}

impl HangupCause {
    pub fn as_str(self) -> &'static str {
        match self {
            HangupCause::OriginatorCancel => "ORIGINATOR_CANCEL",
            HangupCause::NoAnswer => "NO_ANSWER",
            HangupCause::NoRouteDestination => "NO_ROUTE_DESTINATION",
            HangupCause::NormalClearing => "NORMAL_CLEARING",
            HangupCause::LoseRace => "LOSE_RACE",
        }
    }
}

/// Timers carry the epoch of what set them; a timer whose epoch is stale is ignored.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    WrapUpEnds {
        agent: AgentId,
        epoch: u64,
    },
    BackoffEnds {
        agent: AgentId,
        epoch: u64,
    },
    RingTimeout {
        leg: ChannelId,
    },
    /// The call has waited long enough for its queue's next escalation step.
    Escalate {
        call: CallId,
        hops: u32,
        step: usize,
    },
    /// The call has waited its queue's maximum.
    MaxWait {
        call: CallId,
        hops: u32,
    },
    /// Ring-progressively: time to ring one more agent for this offer.
    RingMore {
        call: CallId,
        epoch: u64,
    },
    /// Time for the periodic announcement to a waiting caller.
    Announce {
        call: CallId,
        hops: u32,
    },
    /// The caller asked for a callback and did not confirm in time: take the caller ID.
    CallbackConfirm {
        call: CallId,
        epoch: u64,
    },
    /// A callback whose customer did not answer is tried again.
    CallbackRetry {
        call: CallId,
        attempt: u32,
    },
    /// The whisper to the agent should be over by now: connect the caller even if the
    /// switch never said it ended. `epoch` is the call's offer epoch.
    WhisperEnds {
        call: CallId,
        epoch: u64,
    },
    /// A caller in a flow waited long enough (no key, no more keys, a prompt or a request
    /// that never ended). `epoch` is the flow session's step counter: a stale timer is ignored.
    Flow {
        channel: ChannelId,
        epoch: u64,
    },
    /// Time to look at the queues' service-level thresholds.
    Thresholds,
    /// A paused or masked recording resumes by itself. `epoch` counts the recording's
    /// changes: a timer from before the last one is stale.
    RecordingAutoResume {
        recording: RecordingId,
        epoch: u64,
    },
    /// Time for the periodic beep of a recorded call.
    RecordingBeep {
        recording: RecordingId,
    },
}
