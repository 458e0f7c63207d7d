//! The deterministic core: all contact-center state and every decision.
//!
//! Driven as `engine.handle(now, input) -> effects`. It does no I/O, spawns nothing and reads
//! no clock; the ESL adapter, the API and the timer wheel only send it inputs.

pub mod ids;
pub mod record;
pub mod time;

pub use ids::{AgentId, CallId, ChannelUuid, FlowId, IdError, QueueId, RecordingId, SkillId, SwitchName};
pub use record::{AgentStatus, CallOutcome, QueueEventKind, Record, StateCause};
pub use time::Timestamp;
