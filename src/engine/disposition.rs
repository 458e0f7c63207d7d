//! Disposition codes and the end of after-call work.
//!
//! An agent gives the call it is on, or the one it is wrapping up, a code from the call's
//! queue's list (`wrap_up_work`), over REST or from the phone; the latest wins and is written
//! on the call's history row. When the agent leaves wrap-up (its end, cut short, or no
//! wrap-up at all), `call.wrapped_up` is announced with the disposition. A queue with
//! `disposition_required` keeps the agent in wrap-up, past its end, until a code is given.
//! Wrap-up may be extended up to the queue's `max_wrap_up`.

use std::time::Duration;

use thiserror::Error;

use super::core::Engine;
use super::ids::{AgentId, CallId, QueueId};
use super::io::{Effect, Timer};
use super::model::{AgentState, Handled};
use super::phone::PhoneOutcome;
use super::record::{Record, StateCause};
use super::time::Timestamp;

/// Why a disposition or an extension was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum WrapUpError {
    #[error("no agent is on call {0} or wrapping it up")]
    NotHandled(CallId),
    #[error("call {call} is not agent {agent}'s")]
    NotTheAgentsCall { call: CallId, agent: AgentId },
    #[error("queue {0} has no disposition codes")]
    NoCodes(QueueId),
    #[error("queue {queue} has no disposition code {code:?}; its codes are {listed}")]
    UnknownCode {
        queue: QueueId,
        code: String,
        listed: String,
    },
    #[error("no agent {0}")]
    UnknownAgent(AgentId),
    #[error("agent {0} is not in wrap-up")]
    NotInWrapUp(AgentId),
    #[error("queue {0} does not let wrap-up be extended (no max_wrap_up)")]
    NoExtension(QueueId),
}

/// A disposition taken: which agent, which queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispositionSet {
    pub agent: AgentId,
    pub queue: QueueId,
}

impl Engine {
    /// The agent handling `call` (on it, or wrapping it up) and the call's queue.
    fn handler_of(&self, call: CallId) -> Option<(AgentId, QueueId)> {
        let mut agents: Vec<&AgentId> = self.agents.keys().collect();
        agents.sort();
        for id in agents {
            let agent = &self.agents[id];
            match (&agent.state, &agent.handled) {
                (AgentState::WrapUp { .. } | AgentState::OnCall { .. }, Some(h))
                    if h.call == call =>
                {
                    return Some((id.clone(), h.queue.clone()))
                }
                (AgentState::OnCall { call: on, .. }, _) if *on == call => {
                    let queue = self.calls.get(&call)?.queue.clone();
                    return Some((id.clone(), queue));
                }
                _ => {}
            }
        }
        None
    }

    /// Gives `call` the disposition `code`. With `agent`, only if that agent handles it.
    pub fn set_disposition(
        &mut self,
        now: Timestamp,
        call: CallId,
        code: &str,
        agent: Option<&AgentId>,
    ) -> Result<(DispositionSet, Vec<Effect>), WrapUpError> {
        let Some((handler, queue)) = self.handler_of(call) else {
            return Err(match agent {
                // An agent learns nothing about calls that are not theirs.
                Some(agent) => WrapUpError::NotTheAgentsCall {
                    call,
                    agent: agent.clone(),
                },
                None => WrapUpError::NotHandled(call),
            });
        };
        if let Some(agent) = agent.filter(|a| **a != handler) {
            return Err(WrapUpError::NotTheAgentsCall {
                call,
                agent: agent.clone(),
            });
        }
        let work = self
            .queues
            .get(&queue)
            .map(|q| q.settings.routing.wrap_up_work.clone())
            .unwrap_or_default();
        if work.disposition_codes.is_empty() {
            return Err(WrapUpError::NoCodes(queue));
        }
        if !work.knows(code) {
            return Err(WrapUpError::UnknownCode {
                queue,
                code: code.to_owned(),
                listed: work.listed(),
            });
        }
        let mut effects = vec![Effect::Persist(Record::CallDisposition {
            call,
            agent: handler.clone(),
            code: code.to_owned(),
            at: now,
        })];
        let Some(agent) = self.agents.get_mut(&handler) else {
            return Err(WrapUpError::UnknownAgent(handler));
        };
        match &mut agent.handled {
            Some(h) if h.call == call => h.code = Some(code.to_owned()),
            other => {
                *other = Some(Handled {
                    call,
                    queue: queue.clone(),
                    code: Some(code.to_owned()),
                    wrap_up_since: None,
                })
            }
        }
        // A wrap-up held past its end for want of a code ends now.
        if matches!(agent.state, AgentState::WrapUp { until } if until <= now) {
            self.make_eligible(now, &handler, StateCause::Routing, &mut effects);
        }
        Ok((
            DispositionSet {
                agent: handler,
                queue,
            },
            effects,
        ))
    }

    /// A disposition keyed in from the agent's phone, for the call it is on or wrapping up:
    /// a code not in the queue's list is an invalid entry.
    pub(super) fn phone_disposition(
        &mut self,
        now: Timestamp,
        agent_id: &AgentId,
        code: Option<&str>,
        effects: &mut Vec<Effect>,
    ) -> PhoneOutcome {
        let Some(agent) = self.agents.get(agent_id) else {
            return PhoneOutcome::UnknownPhone;
        };
        let call = match (&agent.state, &agent.handled) {
            (AgentState::WrapUp { .. }, Some(h)) => h.call,
            (AgentState::OnCall { call, .. }, _) => *call,
            _ => return PhoneOutcome::NotNow,
        };
        let Some(code) = code else {
            return PhoneOutcome::InvalidReason;
        };
        match self.set_disposition(now, call, code, Some(agent_id)) {
            Ok((_, done)) => {
                effects.extend(done);
                PhoneOutcome::DispositionSet
            }
            Err(WrapUpError::UnknownCode { .. } | WrapUpError::NoCodes(_)) => {
                PhoneOutcome::InvalidReason
            }
            Err(_) => PhoneOutcome::NotNow,
        }
    }

    /// Lengthens the agent's wrap-up by `by`, up to its queue's `max_wrap_up` from the start
    /// of the wrap-up; returns when it now ends.
    pub fn extend_wrap_up(
        &mut self,
        now: Timestamp,
        agent_id: &AgentId,
        by: Duration,
    ) -> Result<(Timestamp, Vec<Effect>), WrapUpError> {
        let agent = self
            .agents
            .get(agent_id)
            .ok_or_else(|| WrapUpError::UnknownAgent(agent_id.clone()))?;
        let (AgentState::WrapUp { until }, Some(handled)) = (&agent.state, &agent.handled) else {
            return Err(WrapUpError::NotInWrapUp(agent_id.clone()));
        };
        let queue = handled.queue.clone();
        let started = handled.wrap_up_since.unwrap_or(now);
        let max = self
            .queues
            .get(&queue)
            .and_then(|q| q.settings.routing.wrap_up_work.max_wrap_up)
            .ok_or_else(|| WrapUpError::NoExtension(queue.clone()))?;
        let limit = started.plus(max);
        let wanted = (*until).max(now).plus(by);
        let until = if wanted > limit { limit } else { wanted };
        let mut effects = Vec::new();
        let Some(agent) = self.agents.get_mut(agent_id) else {
            return Err(WrapUpError::UnknownAgent(agent_id.clone()));
        };
        // The old timer is recognised as stale by the new epoch.
        agent.state = AgentState::WrapUp { until };
        agent.epoch += 1;
        effects.push(Effect::SetTimer {
            at: until,
            timer: Timer::WrapUpEnds {
                agent: agent_id.clone(),
                epoch: agent.epoch,
            },
        });
        Ok((until, effects))
    }

    /// At the start of wrap-up: the call the agent is leaving becomes the one it wraps up.
    pub(super) fn note_wrap_up(&mut self, now: Timestamp, agent_id: &AgentId, queue: &QueueId) {
        let Some(agent) = self.agents.get_mut(agent_id) else {
            return;
        };
        let AgentState::OnCall { call, .. } = agent.state else {
            return;
        };
        match &mut agent.handled {
            Some(h) if h.call == call => h.wrap_up_since = Some(now),
            other => {
                *other = Some(Handled {
                    call,
                    queue: queue.clone(),
                    code: None,
                    wrap_up_since: Some(now),
                })
            }
        }
    }

    /// Whether the agent's call needs a disposition it has not been given.
    pub(super) fn needs_disposition(&self, agent_id: &AgentId) -> bool {
        let Some(handled) = self.agents.get(agent_id).and_then(|a| a.handled.as_ref()) else {
            return false;
        };
        handled.code.is_none()
            && self
                .queues
                .get(&handled.queue)
                .is_some_and(|q| q.settings.routing.wrap_up_work.disposition_required)
    }

    /// Whether the agent must stay in wrap-up for want of a required disposition.
    pub(super) fn holds_for_disposition(&self, agent_id: &AgentId) -> bool {
        self.agents
            .get(agent_id)
            .is_some_and(|a| matches!(a.state, AgentState::WrapUp { .. }))
            && self.needs_disposition(agent_id)
    }

    /// After a transition: an agent that left its call and wrap-up has wrapped the call up.
    pub(super) fn wrapped_up(
        &mut self,
        now: Timestamp,
        agent_id: &AgentId,
        effects: &mut Vec<Effect>,
    ) {
        let Some(agent) = self.agents.get_mut(agent_id) else {
            return;
        };
        if matches!(
            agent.state,
            AgentState::OnCall { .. } | AgentState::WrapUp { .. }
        ) {
            return;
        }
        let Some(handled) = agent.handled.take() else {
            return;
        };
        let wrap_up_ms = handled
            .wrap_up_since
            .map_or(0, |since| (now.as_millis() - since.as_millis()).max(0));
        effects.push(Effect::Persist(Record::CallWrappedUp {
            call: handled.call,
            agent: agent_id.clone(),
            queue: handled.queue,
            disposition: handled.code,
            wrap_up_ms,
            at: now,
        }));
    }
}
