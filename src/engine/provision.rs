//! Provisioning while running: agents added, replaced or removed over the REST API.
//!
//! `provision_agent` (in `core`) adds and replaces; this module adds what only a running
//! engine needs: telling a new agent from a replaced one, and removing an agent without
//! leaving it in a pool, a queue's member count or the phone index.

use super::core::{CommandError, Engine, RequestedState};
use super::ids::AgentId;
use super::io::Effect;
use super::model::{AgentSettings, AgentState};
use super::record::{AgentStatus, StateCause};
use super::time::Timestamp;

/// Whether an upsert created the agent or replaced one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provisioned {
    Created,
    Replaced,
}

impl Engine {
    /// Adds an agent (logged out) or replaces one, keeping its state. A new agent's timers
    /// start at a random epoch: wrap-up and back-off timers of a removed agent with the same
    /// id may still be pending, and must not end the new agent's states.
    pub fn upsert_agent(
        &mut self,
        now: Timestamp,
        settings: AgentSettings,
    ) -> (Provisioned, Vec<Effect>) {
        let id = settings.id.clone();
        let outcome = if self.agents.contains_key(&id) {
            Provisioned::Replaced
        } else {
            Provisioned::Created
        };
        let effects = self.provision_agent(now, settings, AgentStatus::LoggedOut);
        if outcome == Provisioned::Created {
            let epoch = self.rng.next_u64() >> 1;
            if let Some(agent) = self.agents.get_mut(&id) {
                agent.epoch = epoch;
            }
        }
        (outcome, effects)
    }

    /// Removes an agent: refused while its phone rings for a call or it is on one; otherwise
    /// it is logged out (recorded with cause `api`) and forgotten.
    pub fn deprovision_agent(
        &mut self,
        now: Timestamp,
        agent_id: &AgentId,
    ) -> Result<Vec<Effect>, CommandError> {
        let agent = self
            .agents
            .get(agent_id)
            .ok_or_else(|| CommandError::UnknownAgent(agent_id.clone()))?;
        if matches!(
            agent.state,
            AgentState::Offered { .. } | AgentState::OnCall { .. }
        ) {
            return Err(CommandError::Conflict {
                agent: agent_id.clone(),
                status: agent.state.status().as_str(),
                requested: "removed",
            });
        }
        let mut effects = Vec::new();
        self.request_state(
            now,
            agent_id,
            RequestedState::LoggedOut,
            StateCause::Api,
            &mut effects,
        )?;
        // Logged out: in no pool and no longer counted as logged in.
        self.unindex_agent(agent_id);
        let Some(agent) = self.agents.remove(agent_id) else {
            return Ok(effects);
        };
        for membership in &agent.settings.queues {
            if let Some(queue) = self.queues.get_mut(&membership.queue) {
                queue.members = queue.members.saturating_sub(1);
            }
        }
        self.phone_users.retain(|_, owner| owner != agent_id);
        Ok(effects)
    }
}
