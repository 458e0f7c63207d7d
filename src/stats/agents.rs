//! An agent's figures: time in each state from its state changes (each span split across the
//! intervals it crosses), calls handled and offers missed from the queue events, hold from its
//! calls' visits.

use std::collections::BTreeMap;

use serde::Serialize;

use super::intervals::Period;
use super::totals::{average, percent};
use crate::engine::AgentStatus;

/// One row of `agent_state_changes`: from `at` on, the agent was in `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    pub agent: String,
    pub status: AgentStatus,
    pub reason: Option<String>,
    pub at: i64,
}

/// What one agent did in one interval.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentBucket {
    /// Calls connected to the agent (queue `connect` events).
    pub handled: i64,
    /// Offers the agent let ring out or rejected (`ring_no_answer`).
    pub missed_offers: i64,
    /// Hold time of the calls the agent answered.
    pub hold_ms: i64,
    /// Time in each state.
    pub state_ms: BTreeMap<&'static str, i64>,
    pub paused_ms_by_reason: BTreeMap<String, i64>,
}

impl AgentBucket {
    pub fn add(&mut self, other: &AgentBucket) {
        self.handled += other.handled;
        self.missed_offers += other.missed_offers;
        self.hold_ms += other.hold_ms;
        for (k, v) in &other.state_ms {
            *self.state_ms.entry(k).or_default() += v;
        }
        for (k, v) in &other.paused_ms_by_reason {
            *self.paused_ms_by_reason.entry(k.clone()).or_default() += v;
        }
    }

    fn in_state(&self, status: AgentStatus) -> i64 {
        self.state_ms.get(status.as_str()).copied().unwrap_or(0)
    }
}

/// Splits each agent's state spans across the period's intervals: `(agent, interval)` →
/// time per state. `changes` are sorted by agent, then time; an agent's first change may be
/// before the period (the state it was in when the period began). The last span runs to the
/// end of the period or `now`, whichever is earlier.
pub fn fold_states(
    changes: &[StateChange],
    period: &Period,
    now: i64,
) -> BTreeMap<(String, usize), AgentBucket> {
    let mut out: BTreeMap<(String, usize), AgentBucket> = BTreeMap::new();
    let end = period.to.min(now);
    // One agent's changes at a time, into a bucket per interval: no key built per piece.
    for agent_changes in changes.chunk_by(|a, b| a.agent == b.agent) {
        let mut intervals: Vec<Option<AgentBucket>> = vec![None; period.len()];
        for (i, change) in agent_changes.iter().enumerate() {
            let until = agent_changes
                .get(i + 1)
                .map_or(end, |next| next.at)
                .min(end);
            let mut start = change.at.max(period.from);
            while start < until {
                let index = period.index_of(start);
                let piece_end = period.end_of(index).min(until);
                if piece_end <= start {
                    break;
                }
                let ms = piece_end - start;
                let Some(slot) = intervals.get_mut(index) else {
                    break;
                };
                let bucket = slot.get_or_insert_with(AgentBucket::default);
                *bucket.state_ms.entry(change.status.as_str()).or_default() += ms;
                if change.status == AgentStatus::Paused {
                    let reason = change.reason.as_deref().unwrap_or_default();
                    match bucket.paused_ms_by_reason.get_mut(reason) {
                        Some(total) => *total += ms,
                        None => {
                            bucket.paused_ms_by_reason.insert(reason.to_owned(), ms);
                        }
                    }
                }
                start = piece_end;
            }
        }
        for (index, bucket) in intervals.into_iter().enumerate() {
            if let Some(bucket) = bucket {
                out.insert((agent_changes[0].agent.clone(), index), bucket);
            }
        }
    }
    out
}

/// An agent's published figures over a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentTotals {
    pub handled: i64,
    /// Time on calls, hold excluded.
    pub talk_ms: i64,
    pub hold_ms: i64,
    /// Time in wrap-up.
    pub wrap_ms: i64,
    pub avg_talk_ms: Option<i64>,
    pub avg_hold_ms: Option<i64>,
    pub avg_wrap_ms: Option<i64>,
    /// Busy (on a call or wrapping up) over busy + available + ringing.
    pub occupancy_percent: Option<f64>,
    /// Busy over logged-in time.
    pub utilisation_percent: Option<f64>,
    /// Time in any state but logged out.
    pub logged_in_ms: i64,
    pub available_ms: i64,
    pub ringing_ms: i64,
    pub paused_ms: i64,
    pub unreachable_ms: i64,
    pub paused_ms_by_reason: BTreeMap<String, i64>,
    pub missed_offers: i64,
}

impl AgentTotals {
    pub fn from_bucket(b: &AgentBucket) -> AgentTotals {
        let on_call = b.in_state(AgentStatus::OnCall);
        let wrap = b.in_state(AgentStatus::WrapUp);
        let available = b.in_state(AgentStatus::Available);
        let ringing = b.in_state(AgentStatus::Offered);
        let logged_in: i64 = AgentStatus::ALL
            .iter()
            .filter(|s| **s != AgentStatus::LoggedOut)
            .map(|s| b.in_state(*s))
            .sum();
        let hold = b.hold_ms.min(on_call);
        let talk = on_call - hold;
        let busy = on_call + wrap;
        AgentTotals {
            handled: b.handled,
            talk_ms: talk,
            hold_ms: hold,
            wrap_ms: wrap,
            avg_talk_ms: average(talk, b.handled),
            avg_hold_ms: average(hold, b.handled),
            avg_wrap_ms: average(wrap, b.handled),
            occupancy_percent: percent(busy, busy + available + ringing),
            utilisation_percent: percent(busy, logged_in),
            logged_in_ms: logged_in,
            available_ms: available,
            ringing_ms: ringing,
            paused_ms: b.in_state(AgentStatus::Paused),
            unreachable_ms: b.in_state(AgentStatus::Unreachable),
            paused_ms_by_reason: b.paused_ms_by_reason.clone(),
            missed_offers: b.missed_offers,
        }
    }

    /// The report's columns, in order; `paused_ms_by_reason` is one `paused_ms:<reason>`
    /// column per reason in CSV.
    pub const COLUMNS: [&'static str; 16] = [
        "handled",
        "talk_ms",
        "hold_ms",
        "wrap_ms",
        "avg_talk_ms",
        "avg_hold_ms",
        "avg_wrap_ms",
        "occupancy_percent",
        "utilisation_percent",
        "logged_in_ms",
        "available_ms",
        "ringing_ms",
        "paused_ms",
        "unreachable_ms",
        "missed_offers",
        "paused_ms_by_reason",
    ];
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::intervals::Interval;

    const H: i64 = 3_600_000;

    fn change(status: AgentStatus, at: i64) -> StateChange {
        StateChange {
            agent: "1001".to_owned(),
            status,
            reason: (status == AgentStatus::Paused).then(|| "lunch".to_owned()),
            at,
        }
    }

    #[test]
    fn a_span_across_an_interval_boundary_is_split_between_both() {
        let tz = jiff::tz::TimeZone::UTC;
        let period = Period::cut(&tz, 0, 2 * H, Interval::Hour).unwrap();
        // Logged in before the period; on a call from 0:50 to 1:10; paused from 1:30.
        let changes = [
            change(AgentStatus::Available, -H),
            change(AgentStatus::OnCall, 50 * 60_000),
            change(AgentStatus::WrapUp, 70 * 60_000),
            change(AgentStatus::Available, 75 * 60_000),
            change(AgentStatus::Paused, 90 * 60_000),
        ];
        let folded = fold_states(&changes, &period, 10 * H);
        let first = &folded[&("1001".to_owned(), 0)];
        let second = &folded[&("1001".to_owned(), 1)];
        assert_eq!(first.state_ms["available"], 50 * 60_000);
        assert_eq!(first.state_ms["on_call"], 10 * 60_000);
        assert_eq!(second.state_ms["on_call"], 10 * 60_000);
        assert_eq!(second.state_ms["wrap_up"], 5 * 60_000);
        assert_eq!(second.state_ms["available"], 15 * 60_000);
        assert_eq!(second.paused_ms_by_reason["lunch"], 30 * 60_000);
        let totals = AgentTotals::from_bucket(second);
        assert_eq!(totals.logged_in_ms, H);
        // Busy 15 min of 30 min staffed (paused left out); 15 min of the logged-in hour.
        assert_eq!(totals.occupancy_percent, Some(50.0));
        assert_eq!(totals.utilisation_percent, Some(25.0));
    }

    #[test]
    fn the_last_span_ends_now_not_at_the_end_of_the_period() {
        let period = Period::whole(0, 24 * H);
        let changes = [change(AgentStatus::Available, 0)];
        let folded = fold_states(&changes, &period, 2 * H);
        assert_eq!(folded[&("1001".to_owned(), 0)].state_ms["available"], 2 * H);
    }

    #[test]
    fn hold_is_part_of_the_call_and_talk_is_what_remains() {
        let mut b = AgentBucket {
            handled: 2,
            hold_ms: 60_000,
            ..AgentBucket::default()
        };
        b.state_ms.insert("on_call", 400_000);
        b.state_ms.insert("wrap_up", 20_000);
        let t = AgentTotals::from_bucket(&b);
        assert_eq!(t.talk_ms, 340_000);
        assert_eq!(t.avg_talk_ms, Some(170_000));
        assert_eq!(t.avg_hold_ms, Some(30_000));
        assert_eq!(t.avg_wrap_ms, Some(10_000));
        assert_eq!(t.occupancy_percent, Some(100.0));
    }
}
