//! The clock the engine is given: wall time at start plus monotonic elapsed time.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::engine::Timestamp;

#[derive(Debug, Clone, Copy)]
pub struct Clock {
    started: Instant,
    started_unix_ms: i64,
}

impl Clock {
    pub fn start() -> Self {
        let started_unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Self {
            started: Instant::now(),
            started_unix_ms,
        }
    }

    pub fn now(&self) -> Timestamp {
        self.at(Instant::now())
    }

    pub fn at(&self, instant: Instant) -> Timestamp {
        let elapsed = instant.saturating_duration_since(self.started).as_millis();
        Timestamp::from_millis(self.started_unix_ms + i64::try_from(elapsed).unwrap_or(i64::MAX))
    }

    /// The instant a timestamp from this clock stands for (never before start).
    pub fn instant_of(&self, at: Timestamp) -> Instant {
        let offset = at.as_millis().saturating_sub(self.started_unix_ms).max(0);
        self.started + std::time::Duration::from_millis(u64::try_from(offset).unwrap_or(0))
    }
}
