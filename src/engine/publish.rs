//! Publishing the read model at the cost of what changed, never the whole engine.
//!
//! The engine keeps the last published agents and calls (persistent maps, see `snapshot`)
//! and, at each publish, rebuilds only the views whose state changed since: the `Tracked`
//! maps the views read say which keys were touched, whoever touched them. Queues, counters,
//! monitors and transferred callers are few and rebuilt each time. In debug builds every
//! publish is compared with a full rebuild, so every test checks the tracking is complete.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::core::Engine;
use super::ids::{AgentId, CallId};
use super::reach::user_of;
use super::snapshot::{AgentViews, CallViews, Snapshot};
use super::time::Timestamp;

/// The read model as last published.
#[derive(Debug, Default)]
pub(super) struct Published {
    agents: AgentViews,
    calls: CallViews,
    /// The transferred callers shown last time, taken out and shown anew at each publish.
    transferred: Vec<CallId>,
    /// Agents by the SIP user of their phone, as of the last publish: a change to where a
    /// phone is registered republishes its agents.
    agents_by_user: HashMap<String, BTreeSet<AgentId>>,
    user_of_agent: HashMap<AgentId, String>,
}

impl Published {
    fn set_user(&mut self, agent: &AgentId, user: Option<String>) {
        if self.user_of_agent.get(agent) == user.as_ref() {
            return;
        }
        if let Some(old) = self.user_of_agent.remove(agent) {
            if let Some(agents) = self.agents_by_user.get_mut(&old) {
                agents.remove(agent);
                if agents.is_empty() {
                    self.agents_by_user.remove(&old);
                }
            }
        }
        if let Some(user) = user {
            self.agents_by_user
                .entry(user.clone())
                .or_default()
                .insert(agent.clone());
            self.user_of_agent.insert(agent.clone(), user);
        }
    }
}

impl Engine {
    /// Everything a supervisor sees, for publishing: O(changes since the last call · log n).
    /// Cloning the result is O(1); it shares every unchanged view with the one before.
    pub fn snapshot(&mut self, now: Timestamp) -> Snapshot {
        let agents = self.changed_agents();
        let calls = self.changed_calls();
        let mut published = std::mem::take(&mut self.published);
        for id in &agents {
            match self.agent_view(id) {
                Some(view) => published.agents.put(view),
                None => published.agents.take(id),
            }
        }
        for id in published.transferred.drain(..) {
            published.calls.take(id);
        }
        for id in calls {
            match self.call_view(id) {
                Some(view) => published.calls.put(view),
                None => published.calls.take(id),
            }
        }
        for view in self.transferred_views() {
            published.transferred.push(view.id);
            published.calls.put(view);
        }
        let snapshot = Snapshot {
            at: Some(now),
            counters: self.counters(),
            queues: self.queue_views(),
            agents: published.agents.clone(),
            calls: published.calls.clone(),
            monitors: self.monitor_views(),
            collections: self.collection_sizes(),
        };
        self.published = published;
        #[cfg(debug_assertions)]
        check_against_full_rebuild(&snapshot, &self.full_snapshot(now));
        snapshot
    }

    /// Agents whose view may have changed: their own state, their hold time, their sitting
    /// out, their consultations, or where their phone is registered.
    fn changed_agents(&mut self) -> HashSet<AgentId> {
        let mut changed = self.agents.take_changed();
        for id in &changed {
            let user = self
                .agents
                .get(id)
                .and_then(|a| user_of(&a.dial_string()).map(str::to_owned));
            self.published.set_user(id, user);
        }
        changed.extend(self.holds.take_changed_agents());
        changed.extend(self.reach.sat_out.take_changed());
        changed.extend(self.transfers.consults_per_agent.take_changed());
        for user in self.registered_on.take_changed() {
            if let Some(agents) = self.published.agents_by_user.get(&user) {
                changed.extend(agents.iter().cloned());
            }
        }
        changed
    }

    /// Calls whose view may have changed: their own state, hold, consult, conference or
    /// recording.
    fn changed_calls(&mut self) -> HashSet<CallId> {
        let mut changed = self.calls.take_changed();
        changed.extend(self.holds.take_changed_calls());
        changed.extend(self.consults.calls.take_changed());
        changed.extend(self.conferences.take_changed());
        changed.extend(self.recordings.by_call.take_changed());
        // A recording ended is also gone from `by_call` (marked there); one changed names its call.
        let recordings = self.recordings.active.take_changed();
        changed.extend(
            recordings
                .iter()
                .filter_map(|id| self.recordings.active.get(id).map(|r| r.call)),
        );
        changed
    }
}

/// Panics with the first difference between the published snapshot and a full rebuild.
#[cfg(debug_assertions)]
fn check_against_full_rebuild(published: &Snapshot, rebuilt: &Snapshot) {
    first_difference("agent", published.agents.iter(), rebuilt.agents.iter());
    first_difference("call", published.calls.iter(), rebuilt.calls.iter());
    first_difference("queue", published.queues.iter(), rebuilt.queues.iter());
    first_difference(
        "monitor",
        published.monitors.iter(),
        rebuilt.monitors.iter(),
    );
    assert_eq!(published.counters, rebuilt.counters);
}

#[cfg(debug_assertions)]
fn first_difference<'a, T: std::fmt::Debug + 'a>(
    what: &str,
    mut published: impl Iterator<Item = &'a T>,
    mut rebuilt: impl Iterator<Item = &'a T>,
) {
    for position in 0.. {
        let (p, r) = (published.next(), rebuilt.next());
        if p.is_none() && r.is_none() {
            return;
        }
        let (p, r) = (format!("{p:?}"), format!("{r:?}"));
        assert!(
            p == r,
            "the published snapshot's {what} #{position} is not what a full rebuild \
             shows:\n published: {p}\n rebuilt:   {r}"
        );
    }
}
