//! When a failed delivery is tried again, and when it is given up. A screen-pop matters only
//! while the agent's phone rings: a fast retry or two, then missed. Everything else is retried
//! with exponential backoff and jitter for hours, then dead-lettered.

use std::time::Duration;

use crate::engine::Timestamp;
use crate::store::{DeliveryClass, DeliveryStatus};

/// How long one attempt may take.
pub fn timeout(class: DeliveryClass) -> Duration {
    match class {
        DeliveryClass::Pop => Duration::from_secs(2),
        DeliveryClass::Durable => Duration::from_secs(10),
    }
}

/// After attempt number `attempts` (1 for the first) failed at `now`: when to try again, or
/// `None` to give up (with `give_up`'s status). `jitter` in [0, 1) spreads retries of many
/// deliveries that failed together.
pub fn next_attempt(
    class: DeliveryClass,
    attempts: u32,
    now: Timestamp,
    jitter: f64,
) -> Option<Timestamp> {
    match class {
        DeliveryClass::Pop => (attempts < POP_ATTEMPTS)
            .then(|| now.plus(Duration::from_millis(250 * u64::from(attempts)))),
        DeliveryClass::Durable => {
            if attempts >= DURABLE_ATTEMPTS {
                return None;
            }
            let base = DURABLE_FIRST_DELAY
                .saturating_mul(1u32 << attempts.saturating_sub(1).min(16))
                .min(DURABLE_MAX_DELAY);
            // Between half and the whole of the delay.
            Some(now.plus(base.mul_f64(0.5 + jitter.clamp(0.0, 1.0) / 2.0)))
        }
    }
}

/// What a delivery becomes when it is given up.
pub fn give_up(class: DeliveryClass) -> DeliveryStatus {
    match class {
        DeliveryClass::Pop => DeliveryStatus::Missed,
        DeliveryClass::Durable => DeliveryStatus::Dead,
    }
}

/// A screen-pop is tried this many times in all.
pub const POP_ATTEMPTS: u32 = 3;
/// A durable delivery is tried this many times in all: with the delays below, over about 14
/// hours.
pub const DURABLE_ATTEMPTS: u32 = 24;
const DURABLE_FIRST_DELAY: Duration = Duration::from_secs(5);
const DURABLE_MAX_DELAY: Duration = Duration::from_secs(3600);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pop_is_retried_twice_quickly_then_missed() {
        let now = Timestamp::from_millis(0);
        assert_eq!(
            next_attempt(DeliveryClass::Pop, 1, now, 0.0),
            Some(Timestamp::from_millis(250))
        );
        assert_eq!(
            next_attempt(DeliveryClass::Pop, 2, now, 0.0),
            Some(Timestamp::from_millis(500))
        );
        assert_eq!(next_attempt(DeliveryClass::Pop, 3, now, 0.0), None);
        assert_eq!(give_up(DeliveryClass::Pop), DeliveryStatus::Missed);
    }

    #[test]
    fn durable_retries_back_off_exponentially_with_jitter_up_to_an_hour_then_die() {
        let now = Timestamp::from_millis(0);
        let at = |n, jitter| {
            next_attempt(DeliveryClass::Durable, n, now, jitter).map(Timestamp::as_millis)
        };
        assert_eq!(at(1, 1.0), Some(5_000));
        assert_eq!(at(1, 0.0), Some(2_500));
        assert_eq!(at(2, 1.0), Some(10_000));
        assert_eq!(at(5, 1.0), Some(80_000));
        assert_eq!(at(19, 1.0), Some(3_600_000));
        assert_eq!(at(24, 1.0), None);
        let total: i64 = (1..DURABLE_ATTEMPTS).filter_map(|n| at(n, 1.0)).sum();
        assert!(total > 12 * 3_600_000, "retried over hours: {total} ms");
        assert_eq!(give_up(DeliveryClass::Durable), DeliveryStatus::Dead);
    }
}
