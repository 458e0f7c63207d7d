//! CTI: what CRMs and desktops hear about calls and agents. Events are written to the outbox
//! with the history (`store::outbox`); this module holds the pure parts of delivering them:
//! Standard Webhooks signatures and the retry policy of each delivery class. The worker that
//! posts them lives in `app::webhooks`.

pub mod retry;
pub mod signing;
pub mod subscription;

pub use subscription::EVENT_TYPES;

/// A time as CTI payloads write it (RFC 3339, UTC); `None` out of jiff's range.
pub fn rfc3339(at: crate::engine::Timestamp) -> Option<String> {
    jiff::Timestamp::from_millisecond(at.as_millis())
        .ok()
        .map(|t| t.to_string())
}
