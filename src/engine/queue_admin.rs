//! Queues removed while running (REST `DELETE /v1/queues/{id}`).
//!
//! `provision_queue` (in `core`) adds and replaces a queue; this module removes one. A queue
//! is removed only when nothing leads to it or stands in it any more: no call of any state
//! (waiting, ringing, connected, a callback) belongs to it, no agent is its member and no
//! other queue sends callers to it. Otherwise the removal is refused with what holds it, so
//! the caller can clear that first (move the callers, change the agents or the other queue).
//! A removed queue frees every pool it had, so a queue created again with the same id starts
//! empty.

use super::core::Engine;
use super::ids::{AgentId, CallId, QueueId};
use super::io::Effect;
use super::model::{CallState, QueueSettings};
use super::routing::{Destination, QueueRouting};
use super::time::Timestamp;

/// Why a queue cannot be removed now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueRemovalError {
    #[error("no queue {0}")]
    Unknown(QueueId),
    #[error("queue {queue} still has calls ({}): move them to another queue first", list(.calls))]
    HasCalls { queue: QueueId, calls: Vec<CallId> },
    #[error("queue {queue} still has members ({}): take it out of their queues first", list(.agents))]
    HasMembers {
        queue: QueueId,
        agents: Vec<AgentId>,
    },
    #[error("queue {queue} is where queue {from} sends callers: change queue {from} first")]
    OverflowTarget { queue: QueueId, from: QueueId },
}

fn list<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The queues a queue's routing sends callers to: `on_max_wait`, `on_no_agents` and its exit
/// keys, in that order, without repeats.
pub fn overflow_targets(routing: &QueueRouting) -> Vec<QueueId> {
    let mut out: Vec<QueueId> = Vec::new();
    let destinations = routing
        .on_max_wait
        .iter()
        .chain(routing.on_no_agents.iter())
        .chain(routing.exit_keys.iter().map(|k| &k.destination));
    for destination in destinations {
        if let Destination::Queue { queue } = destination {
            if !out.contains(queue) {
                out.push(queue.clone());
            }
        }
    }
    out
}

impl Engine {
    /// Whether the engine has this queue.
    pub fn has_queue(&self, id: &QueueId) -> bool {
        self.queues.contains_key(id)
    }

    /// Adds or replaces a queue while running, then routes its waiting callers again at once:
    /// a change of strategy, steps or skills may make an idle member eligible for one of them.
    /// Waiting callers keep their place, entry time and current step; timers already armed
    /// for them (`max_wait`, the next step) keep the times they had.
    pub fn upsert_queue(&mut self, now: Timestamp, settings: QueueSettings) -> Vec<Effect> {
        let id = settings.id.clone();
        self.provision_queue(settings);
        let mut waiting: Vec<(super::model::WaitKey, CallId, usize, super::model::PoolId)> = self
            .calls
            .values()
            .filter(|c| c.queue == id && c.state == CallState::Waiting)
            .map(|c| (c.wait_key, c.id, c.step, c.pool))
            .collect();
        waiting.sort();
        // Each caller leaves its pool's waiting set and is pointed at the pool of its step as
        // the queue now has it (a step removed: the last one), before any is routed.
        for (key, call, step, pool) in &waiting {
            if let Some(p) = self.pool_mut(*pool) {
                p.waiting.remove(key);
            }
            self.set_step(*call, *step);
        }
        let mut effects = Vec::new();
        for (_, call, _, _) in waiting {
            self.route_call(now, call, &mut effects);
        }
        effects
    }

    /// Removes a queue and frees its pools, or says what still holds it.
    pub fn remove_queue(&mut self, id: &QueueId) -> Result<(), QueueRemovalError> {
        if !self.queues.contains_key(id) {
            return Err(QueueRemovalError::Unknown(id.clone()));
        }
        let mut calls: Vec<CallId> = self
            .calls
            .values()
            .filter(|c| &c.queue == id)
            .map(|c| c.id)
            .collect();
        if !calls.is_empty() {
            calls.sort();
            return Err(QueueRemovalError::HasCalls {
                queue: id.clone(),
                calls,
            });
        }
        let mut agents: Vec<AgentId> = self
            .agents
            .values()
            .filter(|a| a.settings.membership(id).is_some())
            .map(|a| a.settings.id.clone())
            .collect();
        if !agents.is_empty() {
            agents.sort();
            return Err(QueueRemovalError::HasMembers {
                queue: id.clone(),
                agents,
            });
        }
        let mut others: Vec<&QueueId> = self.queues.keys().filter(|q| *q != id).collect();
        others.sort();
        for other in others {
            let targets = self
                .queues
                .get(other)
                .map(|q| overflow_targets(&q.settings.routing))
                .unwrap_or_default();
            if targets.contains(id) {
                return Err(QueueRemovalError::OverflowTarget {
                    queue: id.clone(),
                    from: other.clone(),
                });
            }
        }
        let Some(queue) = self.queues.remove(id) else {
            return Err(QueueRemovalError::Unknown(id.clone()));
        };
        for pool_id in queue.pools {
            let Some(pool) = self
                .pools
                .get_mut(pool_id.0 as usize)
                .and_then(Option::take)
            else {
                continue;
            };
            // No member is left, so no agent lists this pool as one it idles in; be sure.
            for key in &pool.idle {
                if let Some(agent) = self.agents.get_mut(&key.agent) {
                    agent.idle.retain(|(p, _)| *p != pool_id);
                }
            }
            self.pool_index.remove(&(pool.queue, pool.requirement));
            self.free_pools.push(pool_id);
        }
        self.resumable.retain(|(queue, _), _| queue != id);
        Ok(())
    }

    /// How many pools are in use, for tests that check a removed queue freed its pools.
    pub fn pools_in_use(&self) -> usize {
        self.pools.iter().filter(|p| p.is_some()).count()
    }
}
