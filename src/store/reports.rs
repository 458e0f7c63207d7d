//! The interval reports' reading of the history: per queue or agent, per interval of a
//! period, the sums of its visits and the time in each state, folded from the store's
//! 15-minute buckets by `stats`' definitions. Shared by `GET /v1/reports/...`, the live
//! statistics and the benchmark (`benches/history.rs`).

use std::collections::{BTreeMap, BTreeSet};

use super::{Store, StoreError};
use crate::stats::{agents::fold_states, AgentBucket, Period, QueueBucket, Targets};

/// Per queue, per interval of `period`, the sums of its visits. A queue is measured on its
/// entry in `targets`, one missing there on `default` (one query per distinct target).
pub async fn queue_intervals(
    store: &Store,
    period: &Period,
    targets: &BTreeMap<String, Targets>,
    default: Targets,
    only: Option<&str>,
) -> Result<BTreeMap<String, Vec<QueueBucket>>, StoreError> {
    let target_of = |queue: &str| {
        let t = targets.get(queue).copied().unwrap_or(default);
        (t.within_ms, t.short_abandon_ms)
    };
    let pairs: BTreeSet<(i64, i64)> = match only {
        Some(queue) => BTreeSet::from([target_of(queue)]),
        None => targets
            .values()
            .map(|t| (t.within_ms, t.short_abandon_ms))
            .chain([(default.within_ms, default.short_abandon_ms)])
            .collect(),
    };
    let mut out: BTreeMap<String, Vec<QueueBucket>> = BTreeMap::new();
    for (within, short) in pairs {
        let rows = store
            .queue_buckets(period.from, period.to, within, short, only)
            .await?;
        for row in rows {
            if target_of(&row.queue) != (within, short) {
                continue;
            }
            let index = period.index_of(row.bucket);
            let intervals = out
                .entry(row.queue)
                .or_insert_with(|| vec![QueueBucket::default(); period.len()]);
            if let Some(slot) = intervals.get_mut(index) {
                slot.add(&row.sums);
            }
        }
    }
    Ok(out)
}

/// Per agent, per interval of `period`: time in each state (spans split at the intervals'
/// boundaries, the last one ending `now`), calls handled, offers missed, hold.
pub async fn agent_intervals(
    store: &Store,
    period: &Period,
    now: i64,
    only: Option<&str>,
) -> Result<BTreeMap<String, Vec<AgentBucket>>, StoreError> {
    let changes = store
        .state_changes_between(period.from, period.to, only)
        .await?;
    let mut out: BTreeMap<String, Vec<AgentBucket>> = BTreeMap::new();
    let mut slot = |agent: String, index: usize, b: &AgentBucket| {
        let intervals = out
            .entry(agent)
            .or_insert_with(|| vec![AgentBucket::default(); period.len()]);
        if let Some(s) = intervals.get_mut(index) {
            s.add(b);
        }
    };
    for ((agent, index), b) in fold_states(&changes, period, now) {
        slot(agent, index, &b);
    }
    for row in store.agent_buckets(period.from, period.to, only).await? {
        slot(row.agent, period.index_of(row.bucket), &row.counts);
    }
    Ok(out)
}
