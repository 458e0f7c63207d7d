//! "After this call": a pause or a log-out asked for while the agent is on a call (or, when
//! asked so, in wrap-up) is kept pending on the agent and applied when the call and its
//! wrap-up end, instead of being refused. A later request replaces it; an `available`
//! request cancels it.
//!
//! The pending state is announced as `Record::AgentAfterCall` (set, replaced, cancelled,
//! applied), so the history, the event stream and a restarted controller see it.

use super::core::{CommandError, Engine, RequestedState};
use super::ids::AgentId;
use super::io::Effect;
use super::model::{AfterCall, AgentState};
use super::record::{AgentStatus, Record, StateCause};
use super::time::Timestamp;

/// What became of a state request made through `Engine::request_state_after_call`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateRequestOutcome {
    /// The state took effect at once.
    Applied,
    /// Kept until the agent's call and wrap-up end.
    Pending,
    /// An `available` request while a pending state waited: the pending one is dropped and
    /// the agent stays on its call (or in wrap-up).
    Cancelled,
}

impl StateRequestOutcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            StateRequestOutcome::Applied => "applied",
            StateRequestOutcome::Pending => "pending",
            StateRequestOutcome::Cancelled => "cancelled",
        }
    }
}

/// The state an agent will take after its call, as the snapshot and REST show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AfterCallView {
    /// `paused` or `logged_out`.
    pub status: AgentStatus,
    pub reason: Option<String>,
    pub since: Timestamp,
}

/// The pending state as shown.
pub(super) fn view(pending: &AfterCall) -> AfterCallView {
    AfterCallView {
        status: pending.state.status(),
        reason: pending.state.reason().map(str::to_owned),
        since: pending.since,
    }
}

/// The agent state a request asks for (`None` for `available`, which nothing waits for).
fn target_of(state: RequestedState) -> Option<AgentState> {
    match state {
        RequestedState::Available => None,
        RequestedState::LoggedOut => Some(AgentState::LoggedOut),
        RequestedState::Paused { reason } => Some(AgentState::Paused { reason }),
    }
}

/// Whether the agent is busy with a call in a way that a state can wait for.
fn busy_with_call(state: &AgentState, in_wrap_up_too: bool) -> bool {
    match state {
        AgentState::OnCall { .. } => true,
        AgentState::WrapUp { .. } => in_wrap_up_too,
        _ => false,
    }
}

impl Engine {
    /// A state asked for over REST. While the agent is on a call, `paused` and `logged_out`
    /// wait for the call and its wrap-up to end (with `after_call`, also while in wrap-up);
    /// `available` then cancels what waits. Otherwise it is `set_agent_state`, and drops any
    /// pending state.
    pub fn request_state_after_call(
        &mut self,
        now: Timestamp,
        agent_id: &AgentId,
        requested: RequestedState,
        after_call: bool,
    ) -> Result<(StateRequestOutcome, Vec<Effect>), CommandError> {
        let agent = self
            .agents
            .get(agent_id)
            .ok_or_else(|| CommandError::UnknownAgent(agent_id.clone()))?;
        let mut effects = Vec::new();
        if busy_with_call(&agent.state, after_call) {
            let outcome = if let Some(target) = target_of(requested.clone()) {
                self.set_after_call(now, agent_id, Some(target), &mut effects);
                StateRequestOutcome::Pending
            } else {
                if agent.after_call.is_none() && !after_call {
                    // Nothing pending: `available` on a call is the conflict it always was.
                    return Err(CommandError::Conflict {
                        agent: agent_id.clone(),
                        status: agent.state.status().as_str(),
                        requested: "available",
                    });
                }
                self.set_after_call(now, agent_id, None, &mut effects);
                StateRequestOutcome::Cancelled
            };
            return Ok((outcome, effects));
        }
        if requested == RequestedState::Available && self.holds_for_disposition(agent_id) {
            // The queue wants a disposition before the agent takes calls again.
            return Err(CommandError::Conflict {
                agent: agent_id.clone(),
                status: "wrap_up (disposition required)",
                requested: "available",
            });
        }
        self.drop_after_call(now, agent_id, &mut effects);
        self.request_state(now, agent_id, requested, StateCause::Api, &mut effects)?;
        Ok((StateRequestOutcome::Applied, effects))
    }

    /// What the agent will do after its call, if anything waits.
    pub fn after_call_of(&self, agent_id: &AgentId) -> Option<AfterCallView> {
        self.agents.get(agent_id)?.after_call.as_ref().map(view)
    }

    /// Sets (or with `None`, clears) the agent's pending state and announces it.
    fn set_after_call(
        &mut self,
        now: Timestamp,
        agent_id: &AgentId,
        state: Option<AgentState>,
        effects: &mut Vec<Effect>,
    ) {
        let Some(agent) = self.agents.get_mut(agent_id) else {
            return;
        };
        let next = state.map(|state| AfterCall { state, since: now });
        if agent.after_call.as_ref().map(|a| &a.state) == next.as_ref().map(|a| &a.state) {
            return;
        }
        agent.after_call = next;
        let (status, reason) = match &agent.after_call {
            Some(pending) => (
                Some(pending.state.status()),
                pending.state.reason().map(str::to_owned),
            ),
            None => (None, None),
        };
        effects.push(Effect::Persist(Record::AgentAfterCall {
            agent: agent_id.clone(),
            status,
            reason,
            applied: false,
            at: now,
        }));
    }

    /// Drops a pending state the agent no longer waits for (a later request took effect).
    pub(super) fn drop_after_call(
        &mut self,
        now: Timestamp,
        agent_id: &AgentId,
        effects: &mut Vec<Effect>,
    ) {
        if self
            .agents
            .get(agent_id)
            .is_some_and(|a| a.after_call.is_some())
        {
            self.set_after_call(now, agent_id, None, effects);
        }
    }

    /// Called where the agent would become available again after a call (wrap-up over, or
    /// none): applies what waits instead, and says whether it did.
    pub(super) fn apply_after_call(
        &mut self,
        now: Timestamp,
        agent_id: &AgentId,
        effects: &mut Vec<Effect>,
    ) -> bool {
        let Some(agent) = self.agents.get_mut(agent_id) else {
            return false;
        };
        if !busy_with_call(&agent.state, true) {
            return false;
        }
        let Some(pending) = agent.after_call.take() else {
            return false;
        };
        let registered = agent.registered;
        effects.push(Effect::Persist(Record::AgentAfterCall {
            agent: agent_id.clone(),
            status: Some(pending.state.status()),
            reason: pending.state.reason().map(str::to_owned),
            applied: true,
            at: now,
        }));
        let target = match pending.state {
            // A phone gone while the call ran: paused once it registers again.
            paused @ AgentState::Paused { .. } if !registered => AgentState::Unreachable {
                cause: "unregistered".to_owned(),
                previous: Box::new(paused),
            },
            other => other,
        };
        let logged_out = target == AgentState::LoggedOut;
        self.transition(now, agent_id, target, StateCause::Routing, effects);
        if logged_out {
            self.overflow_queues_without_agents(now, effects);
        }
        true
    }

    /// A pending state is dropped once the agent has left its call and wrap-up some other way
    /// (a state asked for from the phone in wrap-up, a removal).
    pub(super) fn forget_stale_after_call(
        &mut self,
        now: Timestamp,
        agent_id: &AgentId,
        effects: &mut Vec<Effect>,
    ) {
        let stale = self
            .agents
            .get(agent_id)
            .is_some_and(|a| a.after_call.is_some() && !busy_with_call(&a.state, true));
        if stale {
            self.set_after_call(now, agent_id, None, effects);
        }
    }

    /// Puts back a pending state a restarted controller read from the history. It waits for
    /// the resync: an agent the resync finds on a call keeps it for after that call, any
    /// other takes it then (`settle_after_call`).
    pub fn restore_after_call(
        &mut self,
        agent_id: &AgentId,
        state: RequestedState,
        since: Timestamp,
    ) {
        let Some(target) = target_of(state) else {
            return;
        };
        if let Some(agent) = self.agents.get_mut(agent_id) {
            agent.after_call = Some(AfterCall {
                state: target,
                since,
            });
        }
    }

    /// After a resync: agents with a state waiting who are on no call (theirs ended while the
    /// controller was away) take it now.
    pub(super) fn settle_after_call(&mut self, now: Timestamp, effects: &mut Vec<Effect>) {
        let mut idle: Vec<AgentId> = self
            .agents
            .iter()
            .filter(|(_, a)| a.after_call.is_some() && !busy_with_call(&a.state, true))
            .map(|(id, _)| id.clone())
            .collect();
        idle.sort();
        for agent_id in idle {
            let Some(pending) = self
                .agents
                .get_mut(&agent_id)
                .and_then(|a| a.after_call.take())
            else {
                continue;
            };
            effects.push(Effect::Persist(Record::AgentAfterCall {
                agent: agent_id.clone(),
                status: Some(pending.state.status()),
                reason: pending.state.reason().map(str::to_owned),
                applied: true,
                at: now,
            }));
            let requested = match pending.state {
                AgentState::Paused { reason } => RequestedState::Paused { reason },
                _ => RequestedState::LoggedOut,
            };
            let _ = self.request_state(now, &agent_id, requested, StateCause::Routing, effects);
        }
    }
}
