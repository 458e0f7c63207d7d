//! The routing index: per queue, one pool per distinct requirement in use, each holding the
//! idle agents who meet it (ordered by the queue's strategy) and the calls waiting for it
//! (ordered by priority, then arrival).
//!
//! A decision reads the first element of one or a few sorted sets, so its cost does not grow
//! with the number of agents. The price is paid when an agent becomes idle: it is inserted
//! into each pool of its queues whose requirement it meets (a handful per queue).

use std::collections::BTreeSet;

/// Pools made for callers' own skills that a queue keeps after their last call.
const KEPT_UNUSED_POOLS: usize = 8;

use super::core::Engine;
use super::ids::{AgentId, CallId, QueueId};
use super::model::{Agent, IdleKey, Pool, PoolId, Queue, Requirement};
use super::routing::{CallerSkills, EscalationStep, Membership, SkillLevel, Strategy};
use super::time::Timestamp;

/// The requirement of one step for a call with the caller's own `skills`.
pub(super) fn requirement(step: &EscalationStep, skills: &[SkillLevel]) -> Requirement {
    let mut required = step.require.clone();
    let mut preferred = step.prefer.clone();
    match step.caller_skills {
        CallerSkills::Require => required.extend_from_slice(skills),
        CallerSkills::Prefer => preferred.extend_from_slice(skills),
        CallerSkills::Ignore => {}
    }
    super::routing::canonical(&mut required);
    super::routing::canonical(&mut preferred);
    Requirement {
        required,
        preferred,
        max_tier: step.max_tier,
    }
}

/// The step of a queue that declares none: no requirement, for the whole wait.
static NO_REQUIREMENT: EscalationStep = EscalationStep {
    after: std::time::Duration::ZERO,
    require: Vec::new(),
    prefer: Vec::new(),
    max_tier: None,
    caller_skills: CallerSkills::Require,
};

/// The queue's steps, or the one implicit step without requirements.
pub(super) fn steps(queue: &Queue) -> &[EscalationStep] {
    if queue.settings.routing.steps.is_empty() {
        std::slice::from_ref(&NO_REQUIREMENT)
    } else {
        &queue.settings.routing.steps
    }
}

/// Whether an agent with this membership may take calls of this requirement.
pub(super) fn meets(agent: &Agent, membership: &Membership, requirement: &Requirement) -> bool {
    requirement
        .max_tier
        .is_none_or(|max| membership.tier <= max)
        && requirement
            .required
            .iter()
            .all(|need| agent.settings.level(&need.skill) >= need.level.get())
}

fn preferred_score(agent: &Agent, requirement: &Requirement) -> u64 {
    requirement
        .preferred
        .iter()
        .filter(|want| agent.settings.level(&want.skill) >= want.level.get())
        .count() as u64
}

fn skill_score(agent: &Agent, requirement: &Requirement) -> u64 {
    let wanted = requirement.required.iter().chain(&requirement.preferred);
    wanted
        .map(|s| u64::from(agent.settings.level(&s.skill)))
        .sum()
}

fn millis(t: Timestamp) -> u64 {
    u64::try_from(t.as_millis()).unwrap_or(0)
}

impl Engine {
    /// The pool for `requirement` in `queue`, created (and filled from the queue's idle members)
    /// if no call has needed it yet.
    pub(super) fn pool_for(&mut self, queue_id: &QueueId, requirement: Requirement) -> PoolId {
        if let Some(id) = self
            .pool_index
            .get(&(queue_id.clone(), requirement.clone()))
        {
            return *id;
        }
        let id = match self.free_pools.pop() {
            Some(id) => id,
            None => {
                self.pools.push(None);
                PoolId(u32::try_from(self.pools.len() - 1).unwrap_or(u32::MAX))
            }
        };
        self.pool_index
            .insert((queue_id.clone(), requirement.clone()), id);
        let base = self
            .queues
            .get(queue_id)
            .and_then(|q| q.pools.first().copied());
        self.pools[id.0 as usize] = Some(Pool {
            queue: queue_id.clone(),
            requirement,
            idle: BTreeSet::new(),
            waiting: Default::default(),
            permanent: false,
            calls: 0,
            floor: 0,
        });
        if let Some(queue) = self.queues.get_mut(queue_id) {
            queue.pools.push(id);
        }
        // Fill from the base pool, which holds every idle member of the queue.
        let idle: Vec<AgentId> = base
            .and_then(|b| self.pool(b))
            .map(|b| b.idle.iter().map(|k| k.agent.clone()).collect())
            .unwrap_or_default();
        for agent_id in idle {
            let qualifies = self.agents.get(&agent_id).is_some_and(|agent| {
                agent.settings.membership(queue_id).is_some_and(|m| {
                    self.pool(id)
                        .is_some_and(|p| meets(agent, m, &p.requirement))
                })
            });
            if qualifies {
                self.index_agent_in(id, &agent_id);
            }
        }
        id
    }

    pub(super) fn pool(&self, id: PoolId) -> Option<&Pool> {
        self.pools.get(id.0 as usize).and_then(Option::as_ref)
    }

    pub(super) fn pool_mut(&mut self, id: PoolId) -> Option<&mut Pool> {
        self.pools.get_mut(id.0 as usize).and_then(Option::as_mut)
    }

    /// Makes the pools of a queue's steps (and its base pool) permanent, dropping pools of
    /// steps that no longer exist once their calls are gone.
    pub(super) fn rebuild_step_pools(&mut self, queue_id: &QueueId) {
        let Some(queue) = self.queues.get(queue_id) else {
            return;
        };
        let old: Vec<PoolId> = queue.step_pools.clone();
        let steps = steps(queue).to_vec();
        for id in old {
            if let Some(pool) = self.pool_mut(id) {
                pool.permanent = false;
            }
        }
        let base = self.pool_for(queue_id, Requirement::default());
        let mut step_pools = Vec::with_capacity(steps.len());
        for step in &steps {
            step_pools.push(self.pool_for(queue_id, requirement(step, &[])));
        }
        for id in std::iter::once(base).chain(step_pools.iter().copied()) {
            if let Some(pool) = self.pool_mut(id) {
                pool.permanent = true;
            }
        }
        if let Some(queue) = self.queues.get_mut(queue_id) {
            queue.step_pools = step_pools;
        }
        let pools: Vec<PoolId> = self
            .queues
            .get(queue_id)
            .map(|q| q.pools.clone())
            .unwrap_or_default();
        for id in pools {
            self.drop_pool_if_unused(id);
        }
    }

    /// Points a call at a pool, keeping the pools' call counts (and so their lifetimes) right.
    pub(super) fn move_call_to_pool(&mut self, from: Option<PoolId>, to: PoolId) {
        if from == Some(to) {
            return;
        }
        if let Some(pool) = self.pool_mut(to) {
            pool.calls += 1;
        }
        if let Some(from) = from {
            if let Some(pool) = self.pool_mut(from) {
                pool.calls = pool.calls.saturating_sub(1);
            }
            self.drop_pool_if_unused(from);
        }
    }

    pub(super) fn release_pool(&mut self, id: PoolId) {
        if let Some(pool) = self.pool_mut(id) {
            pool.calls = pool.calls.saturating_sub(1);
        }
        self.drop_pool_if_unused(id);
    }

    fn drop_pool_if_unused(&mut self, id: PoolId) {
        let unused = self
            .pool(id)
            .is_some_and(|p| !p.permanent && p.calls == 0 && p.waiting.is_empty());
        if !unused {
            return;
        }
        // Building a pool scans the queue's idle agents, so a few unused ones are kept for the
        // next call with the same skills; beyond that, each costs every agent going idle.
        let pools_in_queue = self
            .pool(id)
            .and_then(|p| self.queues.get(&p.queue))
            .map_or(0, |q| q.pools.len().saturating_sub(q.step_pools.len() + 1));
        if pools_in_queue <= KEPT_UNUSED_POOLS {
            return;
        }
        let Some(pool) = self.pools.get_mut(id.0 as usize).and_then(Option::take) else {
            return;
        };
        for key in &pool.idle {
            if let Some(agent) = self.agents.get_mut(&key.agent) {
                agent.idle.retain(|(p, _)| *p != id);
            }
        }
        if let Some(queue) = self.queues.get_mut(&pool.queue) {
            queue.pools.retain(|p| *p != id);
        }
        self.pool_index.remove(&(pool.queue, pool.requirement));
        self.free_pools.push(id);
    }

    /// The pools (across the agent's queues) whose requirement the agent meets.
    pub(super) fn pools_of(&self, agent_id: &AgentId) -> Vec<PoolId> {
        let Some(agent) = self.agents.get(agent_id) else {
            return Vec::new();
        };
        let mut found = Vec::new();
        for membership in &agent.settings.queues {
            let Some(queue) = self.queues.get(&membership.queue) else {
                continue;
            };
            for id in &queue.pools {
                if self
                    .pool(*id)
                    .is_some_and(|p| meets(agent, membership, &p.requirement))
                {
                    found.push(*id);
                }
            }
        }
        found
    }

    /// The best waiting call among `pools`: higher priority first, then the heavier queue,
    /// then the longest wait.
    pub(super) fn best_waiting_call(&self, pools: &[PoolId]) -> Option<CallId> {
        pools
            .iter()
            .filter_map(|id| self.pool(*id))
            .filter_map(|p| {
                let key = p.waiting.first()?;
                let weight = self
                    .queues
                    .get(&p.queue)
                    .map_or(1, |q| q.settings.routing.weight);
                Some((
                    key.priority,
                    std::cmp::Reverse(weight),
                    key.entered_at,
                    key.seq,
                    key.call,
                ))
            })
            .min()
            .map(|k| k.4)
    }

    /// Adds an idle agent to one pool with the rank the pool's queue strategy gives it.
    pub(super) fn index_agent_in(&mut self, pool_id: PoolId, agent_id: &AgentId) {
        let Some(pool) = self.pool(pool_id) else {
            return;
        };
        let Some(queue) = self.queues.get(&pool.queue) else {
            return;
        };
        let Some(agent) = self.agents.get(agent_id) else {
            return;
        };
        let Some(membership) = agent.settings.membership(&pool.queue) else {
            return;
        };
        let strategy = queue.settings.routing.strategy;
        let pref = u64::MAX - preferred_score(agent, &pool.requirement);
        let idle_since = millis(agent.idle_since);
        let seq = agent.epoch;
        let position = u64::from(membership.position);
        let rank = match strategy {
            Strategy::LongestIdleAgent => (pref, idle_since, seq),
            Strategy::RoundRobin
            | Strategy::TopDown
            | Strategy::RingAll
            | Strategy::RingProgressively => (pref, position, seq),
            Strategy::SequentiallyByAgentOrder => {
                (pref, (u64::from(membership.tier) << 32) | position, seq)
            }
            Strategy::AgentWithLeastTalkTime => (pref, agent.talk_ms, idle_since),
            Strategy::AgentWithFewestCalls => (pref, agent.calls_answered, idle_since),
            Strategy::BestSkillMatch => (
                u64::MAX - skill_score(agent, &pool.requirement),
                idle_since,
                seq,
            ),
            Strategy::Random | Strategy::WeightedRandom => {
                let weight = if strategy == Strategy::WeightedRandom {
                    membership.weight.max(1)
                } else {
                    1
                };
                let floor = pool.floor;
                (
                    pref,
                    floor.saturating_add(self.exponential_draw(weight)),
                    seq,
                )
            }
        };
        let key = IdleKey {
            rank,
            agent: agent_id.clone(),
        };
        if let Some(pool) = self.pool_mut(pool_id) {
            pool.idle.insert(key.clone());
        }
        if let Some(agent) = self.agents.get_mut(agent_id) {
            agent.idle.push((pool_id, key));
        }
    }

    /// A draw from Exp(weight), scaled to integers. Keys drawn this way and taken smallest first
    /// pick each agent with probability proportional to its weight; memorylessness keeps that
    /// true for agents who have waited through earlier draws, provided new draws start at the
    /// pool's floor.
    fn exponential_draw(&mut self, weight: u32) -> u64 {
        let uniform = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let draw = -(1.0 - uniform).ln() / f64::from(weight);
        (draw * 1e9) as u64
    }

    /// Removes an agent from every pool it is idle in.
    pub(super) fn unindex_agent(&mut self, agent_id: &AgentId) {
        let Some(agent) = self.agents.get_mut(agent_id) else {
            return;
        };
        let idle = std::mem::take(&mut agent.idle);
        for (pool_id, key) in idle {
            if let Some(pool) = self.pool_mut(pool_id) {
                pool.idle.remove(&key);
            }
        }
    }

    /// The agents a routable call in `pool_id` should ring now, by the queue's strategy.
    pub(super) fn select_agents(&mut self, pool_id: PoolId) -> Vec<AgentId> {
        let Some(pool) = self.pool(pool_id) else {
            return Vec::new();
        };
        let Some(queue) = self.queues.get(&pool.queue) else {
            return Vec::new();
        };
        let chosen: Vec<IdleKey> = match queue.settings.routing.strategy {
            Strategy::RingAll => pool.idle.iter().cloned().collect(),
            Strategy::RoundRobin => {
                let Some(first) = pool.idle.first() else {
                    return Vec::new();
                };
                let after = queue.last_position.map_or(0, |p| u64::from(p) + 1);
                let start = IdleKey {
                    rank: (first.rank.0, after, 0),
                    agent: first.agent.clone(),
                };
                // Idle keys carry the agent's epoch (at least 1) as `rank.2`, so `start` sorts
                // before every key at or after `after`, whatever its agent.
                let next = pool
                    .idle
                    .range(start..)
                    .next()
                    .filter(|k| k.rank.0 == first.rank.0)
                    .unwrap_or(first);
                vec![next.clone()]
            }
            _ => pool.idle.first().cloned().into_iter().collect(),
        };
        if let Some(last) = chosen.last() {
            let rank = last.rank.1;
            if let Some(pool) = self.pool_mut(pool_id) {
                pool.floor = pool.floor.max(rank);
            }
        }
        chosen.into_iter().map(|k| k.agent).collect()
    }
}
