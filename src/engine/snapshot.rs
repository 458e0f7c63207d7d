//! The read model the engine publishes for REST and the demo's status line.
//!
//! Each view is built from the engine's state by one function here (`agent_view`,
//! `call_view`, `queue_views`); `publish` calls them for what changed, `full_snapshot` for
//! everything (the reference the incremental publish is checked against).

use std::sync::Arc;

use imbl::OrdMap;
use serde::{Serialize, Serializer};

use super::core::{Counters, Engine};
use super::ids::{AgentId, CallId, QueueId};
use super::model::{AgentState, CallState};
use super::record::AgentStatus;
use super::routing::{SkillLevel, Strategy};
use super::time::Timestamp;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Snapshot {
    pub at: Option<Timestamp>,
    pub counters: Counters,
    pub queues: Vec<QueueView>,
    pub agents: AgentViews,
    pub calls: CallViews,
    /// Supervisors' monitoring sessions in progress (see `monitor`).
    pub monitors: Vec<super::monitor::MonitorView>,
    /// Entry counts of the engine's collections (for the soak; not served).
    #[serde(skip)]
    pub collections: super::sizes::CollectionSizes,
}

#[derive(Debug, Clone, Serialize)]
pub struct QueueView {
    pub id: QueueId,
    pub name: String,
    pub moh: String,
    pub strategy: Strategy,
    pub waiting: usize,
    pub agents: usize,
    pub agents_logged_in: usize,
    pub agents_available: usize,
    pub oldest_wait_since: Option<Timestamp>,
    /// Service-level alarms that are up (`waiting`, `longest_wait`, `service_level`).
    pub alarms: Vec<&'static str>,
    /// The codes agents give this queue's calls, and whether one is required.
    pub disposition_codes: Vec<super::wrap_up_work::DispositionCode>,
    pub disposition_required: bool,
    /// The queue's service-level thresholds (`[queue.thresholds]`), the target of its
    /// statistics when it sets one.
    pub thresholds: super::routing::Thresholds,
}

#[derive(Debug, Clone, Serialize)]
pub struct AgentView {
    pub id: AgentId,
    pub name: String,
    pub status: AgentStatus,
    /// Why the agent is paused.
    pub reason: Option<String>,
    pub since: Timestamp,
    /// Set while the agent sits out after a failed offer.
    pub eligible_at: Option<Timestamp>,
    pub call: Option<CallId>,
    pub queues: Vec<QueueId>,
    pub skills: Vec<SkillLevel>,
    pub calls_answered: u64,
    pub talk_ms: u64,
    /// Time the agent's calls spent on hold (finished holds), since start; part of `talk_ms`.
    pub hold_ms: u64,
    pub missed_in_a_row: u32,
    /// On a call the controller did not route (a personal or direct call): no offers meanwhile.
    pub busy_elsewhere: bool,
    /// The switches the agent's phone is registered on, as far as they told us.
    pub registered_on: Vec<String>,
    /// A pause or log-out waiting for the agent's call and wrap-up to end.
    pub after_call: Option<super::after_call::AfterCallView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CallView {
    pub id: CallId,
    pub switch: String,
    pub channel: String,
    pub queue: QueueId,
    pub caller_number: String,
    pub caller_name: String,
    pub state: &'static str,
    pub priority: i32,
    pub skills: Vec<SkillLevel>,
    /// The escalation step reached, from 1.
    pub step: usize,
    pub entered_at: Timestamp,
    /// The agent talking to the caller, or the first one ringing.
    pub agent: Option<AgentId>,
    pub agent_channel: Option<String>,
    /// Every agent whose phone rings for this call (several under ring-all).
    pub ringing: Vec<AgentId>,
    /// What the caller entered and the CRM returned in a flow before the queue.
    pub variables: Vec<(String, String)>,
    /// The recording in progress, and whether it is paused or masked.
    pub recording: Option<super::recording_session::CallRecordingView>,
    /// When the caller heard the recording notice, and when it pressed the opt-out key.
    pub consent: super::recording::Consent,
    /// Held now and the holds so far; `None` if never held.
    pub hold: Option<super::hold::HoldView>,
    /// A consult transfer in progress (REST), if any.
    pub consult: Option<super::consult::ConsultView>,
    /// A conference in progress (REST), if any.
    pub conference: Option<super::conference::ConferenceView>,
}

impl Snapshot {
    pub fn waiting(&self) -> usize {
        self.queues.iter().map(|q| q.waiting).sum()
    }

    pub fn agents_busy(&self) -> usize {
        self.agents
            .iter()
            .filter(|a| matches!(a.status, AgentStatus::Offered | AgentStatus::OnCall))
            .count()
    }
}

// The snapshot's agents and calls are persistent ordered maps: a published snapshot shares
// every unchanged view with the one before it, cloning is O(1) and the next publish changes
// only the entries that changed (see `publish`). Views sit behind an `Arc`, so the tree nodes
// a publish copies (those still shared with a snapshot a reader holds) copy pointers only. Readers see sequences in the old order
// (agents by id, calls by entry time then id) and the JSON is the same array as ever.

/// Agents by id.
#[derive(Debug, Clone, Default)]
pub struct AgentViews(OrdMap<AgentId, Arc<AgentView>>);

/// Calls in order of entry (then id), with each call's place for lookups by id.
#[derive(Debug, Clone, Default)]
pub struct CallViews {
    by_entry: OrdMap<(Timestamp, CallId), Arc<CallView>>,
    entered_at: OrdMap<CallId, Timestamp>,
}

impl AgentViews {
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &AgentView> + ExactSizeIterator {
        self.0.values().map(|v| &**v)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, id: &AgentId) -> Option<&AgentView> {
        self.0.get(id).map(|v| &**v)
    }

    pub fn first(&self) -> Option<&AgentView> {
        self.0.get_min().map(|(_, v)| &**v)
    }

    pub(super) fn put(&mut self, view: AgentView) {
        self.0.insert(view.id.clone(), Arc::new(view));
    }

    pub(super) fn take(&mut self, id: &AgentId) {
        self.0.remove(id);
    }
}

impl CallViews {
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &CallView> + ExactSizeIterator {
        self.by_entry.values().map(|v| &**v)
    }

    pub fn len(&self) -> usize {
        self.by_entry.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_entry.is_empty()
    }

    pub fn get(&self, id: CallId) -> Option<&CallView> {
        let entered_at = *self.entered_at.get(&id)?;
        self.by_entry.get(&(entered_at, id)).map(|v| &**v)
    }

    pub fn first(&self) -> Option<&CallView> {
        self.by_entry.get_min().map(|(_, v)| &**v)
    }

    pub(super) fn put(&mut self, view: CallView) {
        self.take(view.id);
        self.entered_at.insert(view.id, view.entered_at);
        self.by_entry
            .insert((view.entered_at, view.id), Arc::new(view));
    }

    pub(super) fn take(&mut self, id: CallId) {
        if let Some(entered_at) = self.entered_at.remove(&id) {
            self.by_entry.remove(&(entered_at, id));
        }
    }
}

/// Positional reads walk from the start: O(i), for tests and small snapshots.
impl std::ops::Index<usize> for AgentViews {
    type Output = AgentView;

    fn index(&self, i: usize) -> &AgentView {
        self.iter().nth(i).expect("an agent view at this position")
    }
}

/// Positional reads walk from the start: O(i), for tests and small snapshots.
impl std::ops::Index<usize> for CallViews {
    type Output = CallView;

    fn index(&self, i: usize) -> &CallView {
        self.iter().nth(i).expect("a call view at this position")
    }
}

impl FromIterator<AgentView> for AgentViews {
    fn from_iter<I: IntoIterator<Item = AgentView>>(views: I) -> Self {
        let mut out = Self::default();
        views.into_iter().for_each(|v| out.put(v));
        out
    }
}

impl FromIterator<CallView> for CallViews {
    fn from_iter<I: IntoIterator<Item = CallView>>(views: I) -> Self {
        let mut out = Self::default();
        views.into_iter().for_each(|v| out.put(v));
        out
    }
}

impl<'a> IntoIterator for &'a AgentViews {
    type Item = &'a AgentView;
    type IntoIter = Box<dyn Iterator<Item = &'a AgentView> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl<'a> IntoIterator for &'a CallViews {
    type Item = &'a CallView;
    type IntoIter = Box<dyn Iterator<Item = &'a CallView> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl IntoIterator for AgentViews {
    type Item = AgentView;
    type IntoIter = Box<dyn Iterator<Item = AgentView>>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.0.into_iter().map(|(_, v)| Arc::unwrap_or_clone(v)))
    }
}

impl IntoIterator for CallViews {
    type Item = CallView;
    type IntoIter = Box<dyn Iterator<Item = CallView>>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(
            self.by_entry
                .into_iter()
                .map(|(_, v)| Arc::unwrap_or_clone(v)),
        )
    }
}

impl Serialize for AgentViews {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl Serialize for CallViews {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl Engine {
    /// Everything a supervisor sees, rebuilt from scratch: O(agents + calls). The engine
    /// publishes with `snapshot` (what changed only); this is its reference.
    pub fn full_snapshot(&self, now: Timestamp) -> Snapshot {
        let agents = self
            .agents
            .keys()
            .filter_map(|id| self.agent_view(id))
            .collect();
        let calls = self
            .calls
            .keys()
            .filter_map(|id| self.call_view(*id))
            .chain(self.transferred_views())
            .collect();
        Snapshot {
            at: Some(now),
            counters: self.counters(),
            queues: self.queue_views(),
            agents,
            calls,
            monitors: self.monitor_views(),
            collections: self.collection_sizes(),
        }
    }

    /// The queues, sorted by id: O(queues · pools).
    pub(super) fn queue_views(&self) -> Vec<QueueView> {
        let mut queues: Vec<QueueView> = self
            .queues
            .values()
            .map(|q| {
                let pools = q.pools.iter().filter_map(|p| self.pool(*p));
                let waiting = pools.clone().map(|p| p.waiting.len()).sum();
                let oldest = pools.filter_map(|p| p.waiting.oldest_entry()).min();
                let available = q
                    .pools
                    .first()
                    .and_then(|p| self.pool(*p))
                    .map_or(0, |p| p.idle.len());
                QueueView {
                    id: q.settings.id.clone(),
                    name: q.settings.name.clone(),
                    moh: q.settings.moh.clone(),
                    strategy: q.settings.routing.strategy,
                    waiting,
                    agents: q.members,
                    agents_logged_in: q.logged_in,
                    agents_available: available,
                    oldest_wait_since: oldest,
                    alarms: q.alarms.raised.iter().map(|m| m.as_str()).collect(),
                    disposition_codes: q.settings.routing.wrap_up_work.disposition_codes.clone(),
                    disposition_required: q.settings.routing.wrap_up_work.disposition_required,
                    thresholds: q.settings.routing.thresholds.clone(),
                }
            })
            .collect();
        queues.sort_by(|a, b| a.id.cmp(&b.id));
        queues
    }

    /// The agent as a supervisor sees it: O(1) lookups.
    pub(super) fn agent_view(&self, id: &AgentId) -> Option<AgentView> {
        let a = self.agents.get(id)?;
        Some(AgentView {
            id: a.settings.id.clone(),
            name: a.settings.name.clone(),
            status: a.state.status(),
            reason: a
                .state
                .reason()
                .or_else(|| self.sat_out_reason(&a.settings.id))
                .map(str::to_owned),
            since: a.since,
            eligible_at: match a.state {
                AgentState::Backoff { until } => Some(until),
                _ => None,
            },
            call: match &a.state {
                AgentState::Offered { call, .. } | AgentState::OnCall { call, .. } => Some(*call),
                _ => None,
            },
            queues: a.settings.queues.iter().map(|m| m.queue.clone()).collect(),
            skills: a.settings.skills.clone(),
            calls_answered: a.calls_answered,
            talk_ms: a.talk_ms,
            hold_ms: self.agent_hold_ms(&a.settings.id),
            missed_in_a_row: a.missed_in_a_row,
            busy_elsewhere: a.calls_elsewhere > self.transfers.consults_of(&a.settings.id),
            registered_on: self.phone_switches(&a.settings.id),
            after_call: self.after_call_of(&a.settings.id),
        })
    }

    /// A call of ours as a supervisor sees it (transferred ones: `transferred_views`).
    pub(super) fn call_view(&self, id: CallId) -> Option<CallView> {
        let c = self.calls.get(&id)?;
        let (state, agent, leg, ringing) = match &c.state {
            CallState::Waiting if c.is_virtual() => ("callback", None, None, Vec::new()),
            CallState::Waiting => ("waiting", None, None, Vec::new()),
            CallState::CallingBack {
                agent, agent_leg, ..
            } => (
                "calling_back",
                Some(agent.clone()),
                Some(agent_leg.to_string()),
                Vec::new(),
            ),
            CallState::Ringing { rings, .. } => (
                "ringing",
                rings.first().map(|r| r.agent.clone()),
                rings.first().map(|r| r.leg.to_string()),
                rings.iter().map(|r| r.agent.clone()).collect(),
            ),
            CallState::Whispering { agent, leg, .. } => (
                "whispering",
                Some(agent.clone()),
                Some(leg.to_string()),
                Vec::new(),
            ),
            CallState::Bridged { agent, leg, .. } => (
                "bridged",
                Some(agent.clone()),
                Some(leg.to_string()),
                Vec::new(),
            ),
        };
        Some(CallView {
            id: c.id,
            switch: c.switch.to_string(),
            channel: c.caller.to_string(),
            queue: c.queue.clone(),
            caller_number: c.caller_number.clone(),
            caller_name: c.caller_name.clone(),
            state,
            priority: c.wait_key.priority.0,
            skills: c.skills.clone(),
            step: c.step + 1,
            entered_at: c.wait_key.entered_at,
            agent,
            agent_channel: leg,
            ringing,
            variables: c.variables.clone(),
            recording: self.recording_of(c.id),
            hold: self.hold_view(c.id),
            consult: self.consult_view(c.id),
            conference: self.conference_view(c.id),
            consent: c.consent,
        })
    }
}
