//! How many entries each of the engine's collections holds: printed with every sample of the
//! soak (`tests/it/soak.rs`), so a run shows at once which one grows, and read by the
//! regression test that nothing kept per call outlives its call
//! (`tests::sizes`).
//!
//! Counts only (no byte sizes): a collection whose count follows the number of calls ever
//! placed, rather than the calls in progress, is a leak.

use super::Engine;

/// Named entry counts, in a fixed order. Collections bounded by provisioning (queues, agents,
/// phones, routes) are listed too, so a report is complete.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectionSizes(pub Vec<(&'static str, usize)>);

impl CollectionSizes {
    /// The count named `name` (0 when there is no such collection).
    pub fn get(&self, name: &str) -> usize {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, len)| *len)
    }

    /// The collections that hold anything, as `name=len` separated by spaces.
    pub fn line(&self) -> String {
        self.0
            .iter()
            .filter(|(_, len)| *len > 0)
            .map(|(n, len)| format!("{n}={len}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Names of the collections kept per call or per leg, which must be empty once every
    /// call has ended (provisioning, resume memory, pools of queues and per-agent totals
    /// excluded).
    pub fn per_call_nonempty(&self) -> Vec<(&'static str, usize)> {
        self.0
            .iter()
            .filter(|(n, len)| *len > 0 && !BOUNDED.contains(n))
            .copied()
            .collect()
    }
}

/// Collections that do not follow calls: sized by provisioning, by switches, or capped.
const BOUNDED: &[&str] = &[
    "queues",
    "agents",
    "pools",
    "pool_index",
    "free_pools",
    "resumable",
    "phone_users",
    "pause_codes",
    "registered_on",
    "reach.routes",
    "reach.sat_out",
    "recordings.dirs",
    "holds.agent_ms",
    "resync_marks",
];

impl Engine {
    /// Entry counts of every collection the engine keeps (see [`CollectionSizes`]).
    #[doc(hidden)]
    pub fn collection_sizes(&self) -> CollectionSizes {
        let mut out = vec![
            ("queues", self.queues.len()),
            ("agents", self.agents.len()),
            ("calls", self.calls.len()),
            ("legs", self.legs.len()),
            ("answered_legs", self.answered_legs.len()),
            (
                "resync_marks",
                self.resync_marks.values().map(|m| m.len()).sum(),
            ),
            ("pools", self.pools.iter().flatten().count()),
            ("pool_index", self.pool_index.len()),
            ("free_pools", self.free_pools.len()),
            ("resumable", self.resumable.len()),
            ("phone_users", self.phone_users.len()),
            ("pause_codes", self.pause_codes.len()),
            ("registered_on", self.registered_on.len()),
            ("calls_elsewhere", self.calls_elsewhere.len()),
            ("flow_sessions", self.flow_sessions.len()),
            ("pending_surveys", self.pending_surveys.len()),
            ("http_waits", self.http_waits.len()),
            (
                "pool_waiting",
                self.pools.iter().flatten().map(|p| p.waiting.len()).sum(),
            ),
        ];
        self.reach.sizes(&mut out);
        self.recordings.sizes(&mut out);
        self.holds.sizes(&mut out);
        self.transfers.sizes(&mut out);
        self.redirects.sizes(&mut out);
        self.consults.sizes(&mut out);
        self.monitors.sizes(&mut out);
        CollectionSizes(out)
    }
}
