//! A queue's figures from its visits: what "offered", "service level", "ASA" and "AHT" mean.
//! Each definition is written once, here, and in `docs/statistics.md` next to its column.

use serde::Serialize;

/// What a queue is measured on: `service_level_percent` % of calls answered within
/// `within_ms`; callers who hang up before `short_abandon_ms` are short abandons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Targets {
    pub service_level_percent: u8,
    pub within_ms: i64,
    pub short_abandon_ms: i64,
}

impl Default for Targets {
    /// 80 % within 20 s, abandons under 5 s short.
    fn default() -> Self {
        Targets {
            service_level_percent: 80,
            within_ms: 20_000,
            short_abandon_ms: 5_000,
        }
    }
}

/// Sums over a queue's visits offered in one 15-minute bucket, or in any fold of buckets. The
/// counts that depend on a target were computed with the `within_ms`/`short_abandon_ms` of the
/// query that made them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueBucket {
    /// Visits that entered the queue.
    pub offered: i64,
    /// Visits an agent answered.
    pub answered: i64,
    /// Answered with a wait of at most `within_ms`.
    pub answered_within: i64,
    /// The caller hung up while waiting in the queue (ringing included).
    pub abandoned: i64,
    /// Abandoned after waiting less than `short_abandon_ms`.
    pub short_abandoned: i64,
    /// Abandoned after waiting more than `within_ms`.
    pub abandoned_after_target: i64,
    /// Sent elsewhere by the queue (max wait, no agents, an exit key, moved).
    pub overflowed: i64,
    /// Still waiting: neither answered nor gone yet.
    pub waiting: i64,
    /// Visits an agent transferred away (to another agent, queue or number).
    pub transfers_out: i64,
    /// Visits whose caller asked for a callback.
    pub callbacks: i64,
    /// Total wait of the answered visits.
    pub answered_wait_ms: i64,
    /// The longest wait of an answered visit.
    pub longest_answered_wait_ms: Option<i64>,
    /// Answered visits whose talk is over (their talk time is known).
    pub handled: i64,
    /// Connected time of the handled visits, hold included.
    pub connected_ms: i64,
    pub hold_ms: i64,
    pub wrap_ms: i64,
    /// When the earliest of these visits entered the queue (how long the calls have been
    /// arriving, for a rate over a window that began before the first of them).
    pub first_entered_at: Option<i64>,
}

impl QueueBucket {
    /// Adds `other`'s counts to these: buckets fold into intervals.
    pub fn add(&mut self, other: &QueueBucket) {
        self.offered += other.offered;
        self.answered += other.answered;
        self.answered_within += other.answered_within;
        self.abandoned += other.abandoned;
        self.short_abandoned += other.short_abandoned;
        self.abandoned_after_target += other.abandoned_after_target;
        self.overflowed += other.overflowed;
        self.waiting += other.waiting;
        self.transfers_out += other.transfers_out;
        self.callbacks += other.callbacks;
        self.answered_wait_ms += other.answered_wait_ms;
        self.longest_answered_wait_ms = match (
            self.longest_answered_wait_ms,
            other.longest_answered_wait_ms,
        ) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.handled += other.handled;
        self.connected_ms += other.connected_ms;
        self.hold_ms += other.hold_ms;
        self.wrap_ms += other.wrap_ms;
        self.first_entered_at = match (self.first_entered_at, other.first_entered_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

/// A queue's published figures over a period (the live `today` and `window`, a report row).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueTotals {
    pub offered: i64,
    pub answered: i64,
    pub answered_within_target: i64,
    pub abandoned: i64,
    pub short_abandoned: i64,
    pub abandoned_after_target: i64,
    pub overflowed: i64,
    pub still_waiting: i64,
    pub transfers_out: i64,
    pub callbacks: i64,
    /// The headline service level: answered within the target over the offered visits that
    /// have a result, short abandons excluded (`service_level_short_excluded_percent`).
    pub service_level_percent: Option<f64>,
    /// Answered within the target over the offered visits that have a result.
    pub service_level_offered_percent: Option<f64>,
    /// Answered within the target over the answered visits.
    pub service_level_answered_percent: Option<f64>,
    /// Answered within the target over the answered ones plus those abandoned after the target.
    pub service_level_abandons_after_target_percent: Option<f64>,
    /// Answered within the target over the offered visits with a result, short abandons left out.
    pub service_level_short_excluded_percent: Option<f64>,
    /// Average speed of answer: the answered visits' mean wait.
    pub asa_ms: Option<i64>,
    /// Average handling time: talk + hold + wrap-up per handled visit.
    pub aht_ms: Option<i64>,
    pub talk_ms: i64,
    pub hold_ms: i64,
    pub wrap_ms: i64,
    pub avg_talk_ms: Option<i64>,
    pub avg_hold_ms: Option<i64>,
    pub avg_wrap_ms: Option<i64>,
    /// Abandoned over the offered visits that have a result.
    pub abandon_rate_percent: Option<f64>,
    pub longest_answered_wait_ms: Option<i64>,
}

/// `part` of `whole` in percent, to one decimal; `None` when `whole` is zero.
pub fn percent(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| ((part as f64) * 1000.0 / (whole as f64)).round() / 10.0)
}

/// `total / count`, rounded to the millisecond; `None` when `count` is zero.
pub fn average(total: i64, count: i64) -> Option<i64> {
    (count > 0).then(|| ((total as f64) / (count as f64)).round() as i64)
}

impl QueueTotals {
    pub fn from_bucket(b: &QueueBucket) -> QueueTotals {
        let decided = b.offered - b.waiting;
        let talk_ms = (b.connected_ms - b.hold_ms).max(0);
        let short_excluded = percent(b.answered_within, decided - b.short_abandoned);
        QueueTotals {
            offered: b.offered,
            answered: b.answered,
            answered_within_target: b.answered_within,
            abandoned: b.abandoned,
            short_abandoned: b.short_abandoned,
            abandoned_after_target: b.abandoned_after_target,
            overflowed: b.overflowed,
            still_waiting: b.waiting,
            transfers_out: b.transfers_out,
            callbacks: b.callbacks,
            service_level_percent: short_excluded,
            service_level_offered_percent: percent(b.answered_within, decided),
            service_level_answered_percent: percent(b.answered_within, b.answered),
            service_level_abandons_after_target_percent: percent(
                b.answered_within,
                b.answered + b.abandoned_after_target,
            ),
            service_level_short_excluded_percent: short_excluded,
            asa_ms: average(b.answered_wait_ms, b.answered),
            aht_ms: average(b.connected_ms + b.wrap_ms, b.handled),
            talk_ms,
            hold_ms: b.hold_ms,
            wrap_ms: b.wrap_ms,
            avg_talk_ms: average(talk_ms, b.handled),
            avg_hold_ms: average(b.hold_ms, b.handled),
            avg_wrap_ms: average(b.wrap_ms, b.handled),
            abandon_rate_percent: percent(b.abandoned, decided),
            longest_answered_wait_ms: b.longest_answered_wait_ms,
        }
    }

    /// The report's columns, in order (the CSV header and the docs' table).
    pub const COLUMNS: [&'static str; 25] = [
        "offered",
        "answered",
        "answered_within_target",
        "abandoned",
        "short_abandoned",
        "abandoned_after_target",
        "overflowed",
        "still_waiting",
        "transfers_out",
        "callbacks",
        "service_level_percent",
        "service_level_offered_percent",
        "service_level_answered_percent",
        "service_level_abandons_after_target_percent",
        "service_level_short_excluded_percent",
        "asa_ms",
        "aht_ms",
        "talk_ms",
        "hold_ms",
        "wrap_ms",
        "avg_talk_ms",
        "avg_hold_ms",
        "avg_wrap_ms",
        "abandon_rate_percent",
        "longest_answered_wait_ms",
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket() -> QueueBucket {
        // 10 offered: 6 answered (4 within 20 s), 3 abandoned (1 short, 1 after 20 s), 1 waiting.
        QueueBucket {
            offered: 10,
            answered: 6,
            answered_within: 4,
            abandoned: 3,
            short_abandoned: 1,
            abandoned_after_target: 1,
            overflowed: 0,
            waiting: 1,
            transfers_out: 1,
            callbacks: 0,
            answered_wait_ms: 6 * 15_000,
            longest_answered_wait_ms: Some(40_000),
            handled: 5,
            connected_ms: 5 * 200_000,
            hold_ms: 5 * 20_000,
            wrap_ms: 5 * 10_000,
            first_entered_at: Some(1_000),
        }
    }

    #[test]
    fn every_service_level_variant_has_its_own_denominator() {
        let t = QueueTotals::from_bucket(&bucket());
        // 9 visits have a result (one still waits).
        assert_eq!(t.service_level_offered_percent, Some(44.4)); // 4 / 9
        assert_eq!(t.service_level_answered_percent, Some(66.7)); // 4 / 6
        assert_eq!(t.service_level_abandons_after_target_percent, Some(57.1)); // 4 / 7
        assert_eq!(t.service_level_short_excluded_percent, Some(50.0)); // 4 / 8
        assert_eq!(
            t.service_level_percent,
            t.service_level_short_excluded_percent
        );
        assert_eq!(t.abandon_rate_percent, Some(33.3)); // 3 / 9
    }

    #[test]
    fn aht_is_talk_plus_hold_plus_wrap_up_per_handled_call() {
        let t = QueueTotals::from_bucket(&bucket());
        assert_eq!(t.asa_ms, Some(15_000));
        assert_eq!(t.aht_ms, Some(210_000));
        assert_eq!(t.avg_talk_ms, Some(180_000));
        assert_eq!(t.avg_hold_ms, Some(20_000));
        assert_eq!(t.avg_wrap_ms, Some(10_000));
        assert_eq!(
            t.avg_talk_ms.unwrap() + t.avg_hold_ms.unwrap() + t.avg_wrap_ms.unwrap(),
            t.aht_ms.unwrap()
        );
    }

    #[test]
    fn nothing_to_average_gives_null_not_zero() {
        let t = QueueTotals::from_bucket(&QueueBucket::default());
        assert_eq!(t.service_level_percent, None);
        assert_eq!(t.asa_ms, None);
        assert_eq!(t.aht_ms, None);
        assert_eq!(t.abandon_rate_percent, None);
        assert_eq!(t.longest_answered_wait_ms, None);
        // Only a caller still waiting: offered, but no result yet.
        let waiting = QueueBucket {
            offered: 1,
            waiting: 1,
            ..QueueBucket::default()
        };
        assert_eq!(
            QueueTotals::from_bucket(&waiting).service_level_percent,
            None
        );
    }

    #[test]
    fn the_columns_are_the_fields_in_order() {
        let value = serde_json::to_value(QueueTotals::from_bucket(&bucket())).unwrap();
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut sorted_columns = QueueTotals::COLUMNS.to_vec();
        sorted_columns.sort_unstable();
        let mut sorted_keys = keys.clone();
        sorted_keys.sort_unstable();
        assert_eq!(sorted_keys, sorted_columns);
    }

    #[test]
    fn folding_buckets_adds_counts_and_keeps_the_longest_wait() {
        let mut total = QueueBucket::default();
        total.add(&bucket());
        total.add(&QueueBucket {
            offered: 1,
            answered: 1,
            longest_answered_wait_ms: Some(50_000),
            answered_wait_ms: 50_000,
            ..QueueBucket::default()
        });
        assert_eq!(total.offered, 11);
        assert_eq!(total.answered, 7);
        assert_eq!(total.longest_answered_wait_ms, Some(50_000));
    }
}
