//! The deterministic core: all contact-center state and every decision.
//!
//! Driven as `engine.handle(now, input) -> effects`. It does no I/O, spawns nothing and reads
//! no clock; the ESL adapter, the API and the timer wheel only send it inputs. Routing is
//! event-driven and indexed: per queue and requirement, a pool of idle agents ordered by the
//! queue's strategy and of waiting calls ordered by priority then arrival, so one decision
//! costs O(log n).

mod adopt_ring;
mod after_call;
mod conference;
mod consult;
mod consult_race;
mod core;
mod dialout;
mod disposition;
mod forgotten;
mod hold;
pub mod ids;
pub mod io;
mod ivr;
mod late_outcomes;
pub mod model;
pub mod monitor;
mod phone;
pub mod pin;
mod pools;
mod provision;
mod publish;
pub mod queue_admin;
mod reach;
pub mod record;
pub mod recording;
mod recording_session;
mod redirect;
mod restart;
mod rng;
pub mod routing;
pub mod sizes;
pub mod snapshot;
pub mod thresholds;
pub mod time;
mod tracked;
mod transfer;
mod wait;
mod whisper;
pub mod wrap_up_work;

#[cfg(test)]
mod tests;

pub use self::core::{
    describe, CallUpdate, CommandError, Counters, Engine, RequestedState, MAX_RESUMABLE,
    NO_ANSWER_PAUSE,
};
pub use after_call::{AfterCallView, StateRequestOutcome};
pub use conference::{
    conference_name, AgentLeaves, ConferenceAsked, ConferenceError, ConferenceView, PartyView,
};
pub use consult::{ConsultAction, ConsultAsked, ConsultError, ConsultPhase, ConsultView};
pub use dialout::{external_number, ExternalDial, EXTERNAL_RING_TIMEOUT};
pub use disposition::{DispositionSet, WrapUpError};
pub use hold::{HoldBy, HoldError, HoldView};
pub use ids::MonitorId;
pub use ids::{
    AgentId, CallId, ChannelId, FlowId, IdError, QueueId, RecordingId, SkillId, SwitchName,
};
pub use io::{
    ChannelRole, ChannelSnapshot, Effect, Feature, FlowCall, HangupCause, HttpOutcome, HttpRequest,
    HttpRequestId, Input, Lamp, LegTransfer, ParkedCall, Presence, SayKind, StoredCall, StoredFlow,
    StoredPlace, StoredTransfer, SwitchCommand, Timer, TransferKind,
};
pub use ivr::{HTTP_GUARD, RECORD_GUARD};
pub use model::{AgentSettings, QueueSettings};
pub use monitor::{MonitorError, MonitorMode, MonitorRequest, MonitorView};
pub use phone::{PhoneOutcome, PhonePrompts, HOT_DESK_EXTENSION};
pub use pin::PinHash;
pub use provision::Provisioned;
pub use queue_admin::{overflow_targets, QueueRemovalError};
pub use record::{AgentStatus, CallOutcome, QueueEventKind, Record, StateCause, ThresholdMetric};
pub use recording_session::{CallRecordingView, RecordingControlError, RECORDING_LIMIT};
pub use redirect::{RedirectAction, RedirectError, TransferTarget};
pub use restart::Abandoned;
pub use routing::{
    parse_skill_list, Announcements, CallbackSettings, CallerSkills, Destination, EscalationStep,
    ExitKey, Membership, Proficiency, QueueRouting, SkillLevel, Strategy,
};
pub use snapshot::Snapshot;
pub use time::Timestamp;
pub use wait::PendingCallback;
pub use whisper::WHISPER_GUARD;
