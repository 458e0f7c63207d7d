//! A controller that starts while an agent's phone rings for a caller it adopts (a restart, or
//! the standby of a pair taking over) keeps that ring as the call's offer. Killing the leg and
//! offering the caller again would originate an agent twice for one call.

use std::collections::HashMap;

use super::core::{Engine, RING_GRACE};
use super::ids::{AgentId, CallId, ChannelId};
use super::io::{ChannelRole, ChannelSnapshot, Effect, Timer};
use super::model::{AgentState, CallState, LegOwner, Ring};
use super::record::StateCause;
use super::time::Timestamp;

impl Engine {
    /// An agent leg of `call` that rings (not answered, not bridged) among the channels a
    /// resync listed, whose agent could take an offer now.
    pub(super) fn ringing_leg_of(
        &self,
        call: CallId,
        present: &HashMap<ChannelId, &ChannelSnapshot>,
    ) -> Option<(ChannelId, AgentId)> {
        let mut legs: Vec<&ChannelSnapshot> = present
            .values()
            .copied()
            .filter(|s| {
                s.role == ChannelRole::Agent
                    && s.call == Some(call)
                    && !s.answered
                    && s.bridged_to.is_none()
                    && !self.legs.contains_key(&s.channel)
            })
            .collect();
        legs.sort_by(|a, b| a.channel.cmp(&b.channel));
        legs.into_iter().find_map(|s| {
            let agent = s.agent.clone()?;
            let free = self.agents.get(&agent).is_some_and(|a| {
                matches!(a.state, AgentState::Available | AgentState::Backoff { .. })
            });
            free.then(|| (s.channel.clone(), agent))
        })
    }

    /// Holds `call` out of routing while it is put in its queue, because a ring is adopted.
    pub(super) fn hold_for_adopted_ring(&mut self, now: Timestamp, call: CallId) {
        if let Some(c) = self.calls.get_mut(&call) {
            c.state = CallState::Ringing {
                rings: Vec::new(),
                since: now,
            };
        }
    }

    /// Makes the ringing `leg` the call's offer to `agent`, as if routing had just offered it:
    /// the agent is offered, the leg is the call's, and the ring timeout guards it.
    pub(super) fn adopt_ring(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        leg: ChannelId,
        agent: AgentId,
        effects: &mut Vec<Effect>,
    ) {
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        let CallState::Ringing { rings, .. } = &mut call.state else {
            return;
        };
        rings.push(Ring {
            agent: agent.clone(),
            leg: leg.clone(),
        });
        call.offer_epoch += 1;
        let ring_timeout = self
            .queues
            .get(&call.queue)
            .map(|q| q.settings.ring_timeout)
            .unwrap_or_default();
        self.legs.insert(
            leg.clone(),
            LegOwner::Agent {
                call: call_id,
                agent: agent.clone(),
            },
        );
        self.transition(
            now,
            &agent,
            AgentState::Offered {
                call: call_id,
                leg: leg.clone(),
            },
            StateCause::Switch,
            effects,
        );
        effects.push(Effect::SetTimer {
            at: now.plus(ring_timeout).plus(RING_GRACE),
            timer: Timer::RingTimeout { leg },
        });
    }
}
