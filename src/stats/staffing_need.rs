//! The agents an interval's observed calls needed: its offered visits and AHT put through
//! Erlang C for the queue's service-level target, with the ASA and occupancy that staffing
//! gives. One definition for the live `staffing` entry ("needed now", from the rolling window)
//! and the reports' per-interval columns.
//!
//! Erlang C, not A: the buckets carry no total wait of the abandoned callers, so the patience
//! Erlang A needs is not estimated here; `GET /v1/staffing?patience=` answers with Erlang A.

use std::time::Duration;

use serde::Serialize;

use super::totals::{QueueBucket, QueueTotals, Targets};
use crate::staffing::{self, Demand, Model, Target};

/// What Erlang C says an interval needed, and what that many agents give.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StaffingNeed {
    pub model: &'static str,
    pub agents_needed: u32,
    /// The offered load, in Erlangs.
    pub traffic_erlangs: f64,
    pub staffed_service_level_percent: f64,
    pub staffed_asa_ms: i64,
    pub staffed_occupancy_percent: f64,
}

impl StaffingNeed {
    /// The report's columns for it, in order.
    pub const COLUMNS: [&'static str; 5] = [
        "agents_needed",
        "traffic_erlangs",
        "staffed_service_level_percent",
        "staffed_asa_ms",
        "staffed_occupancy_percent",
    ];
}

/// The agents `bucket`'s calls needed over `interval_ms` to meet `targets`; `None` while no
/// call was handled in it (no AHT to plan with) or when the load is beyond the model.
pub fn needed(bucket: &QueueBucket, interval_ms: i64, targets: &Targets) -> Option<StaffingNeed> {
    let aht_ms = QueueTotals::from_bucket(bucket).aht_ms?;
    let demand = Demand {
        offered: u64::try_from(bucket.offered).ok()?,
        interval: Duration::from_millis(u64::try_from(interval_ms).ok()?),
        aht: Duration::from_millis(u64::try_from(aht_ms).ok()?),
    };
    let target = Target {
        percent: f64::from(targets.service_level_percent),
        within: Duration::from_millis(u64::try_from(targets.within_ms).ok()?),
        max_occupancy: None,
    };
    let plan = staffing::plan(&demand, &target, Model::ErlangC).ok()?;
    let tenth = |share: f64| (share * 1000.0).round() / 10.0;
    Some(StaffingNeed {
        model: Model::ErlangC.name(),
        agents_needed: plan.agents,
        traffic_erlangs: (plan.traffic * 100.0).round() / 100.0,
        staffed_service_level_percent: tenth(plan.service_level),
        staffed_asa_ms: i64::try_from(plan.asa.as_millis()).unwrap_or(i64::MAX),
        staffed_occupancy_percent: tenth(plan.occupancy),
    })
}

/// The shortest span a rate is taken over: one call a second after the first would
/// otherwise read as a storm.
const MIN_RATE_SPAN_MS: i64 = 60_000;

/// "Needed now": the agents the calls of the rolling window `[now - window_ms, now)` need.
/// Their rate is taken from when they began arriving when that is later than the window's
/// start (the morning's first calls, a controller just installed), so a window that is still
/// filling does not understate it.
pub fn needed_now(
    window: &QueueBucket,
    window_ms: i64,
    now: i64,
    targets: &Targets,
) -> Option<StaffingNeed> {
    let start = (now - window_ms).max(window.first_entered_at.unwrap_or(now - window_ms));
    let span = (now - start).clamp(MIN_RATE_SPAN_MS.min(window_ms), window_ms);
    needed(window, span, targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interval(offered: i64, aht_s: i64) -> QueueBucket {
        QueueBucket {
            offered,
            answered: offered,
            handled: offered,
            connected_ms: offered * aht_s * 1000,
            ..QueueBucket::default()
        }
    }

    #[test]
    fn the_classic_worked_example_needs_fourteen_agents() {
        // Call Centre Helper's example (as in src/staffing/tests.rs): 100 calls in 30 minutes,
        // AHT 3 minutes, 80 % within 20 s: 10 Erlangs, 14 agents, 88.8 % with them.
        let need = needed(&interval(100, 180), 30 * 60_000, &Targets::default()).expect("a plan");
        assert_eq!(need.agents_needed, 14);
        assert_eq!(need.traffic_erlangs, 10.0);
        assert_eq!(need.staffed_service_level_percent, 88.8);
        assert_eq!(need.model, "erlang_c");
    }

    #[test]
    fn needed_now_takes_the_rate_from_the_first_call_of_a_window_still_filling() {
        // 100 calls of 3 minutes in the 30 minutes since the first: the classic example's
        // load, although the window is an hour long.
        let now = 10_000_000;
        let filling = QueueBucket {
            first_entered_at: Some(now - 30 * 60_000),
            ..interval(100, 180)
        };
        let need = needed_now(&filling, 60 * 60_000, now, &Targets::default()).expect("a plan");
        assert_eq!(need.agents_needed, 14);
        let full = QueueBucket {
            first_entered_at: Some(now - 60 * 60_000 + 5),
            ..interval(100, 180)
        };
        let need = needed_now(&full, 60 * 60_000, now, &Targets::default()).expect("a plan");
        assert_eq!(need.traffic_erlangs, 5.0, "a full window: its whole length");
    }

    #[test]
    fn an_interval_without_a_handled_call_has_no_plan() {
        let waiting_only = QueueBucket {
            offered: 3,
            waiting: 3,
            ..QueueBucket::default()
        };
        assert_eq!(needed(&waiting_only, 900_000, &Targets::default()), None);
    }

    #[test]
    fn a_quiet_interval_with_handled_calls_needs_at_least_one_agent() {
        let need = needed(&interval(1, 60), 900_000, &Targets::default()).expect("a plan");
        assert!(need.agents_needed >= 1);
    }
}
