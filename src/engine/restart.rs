//! What a controller restart (or a standby's takeover) must not lose, beyond the channels the
//! resync finds: a waiting call's queue, priority, skills and moves (`Record::CallPlaced`,
//! read back as [`StoredPlace`]), and the callers who abandoned recently enough to resume
//! their place ([`Abandoned`], read back from the calls the history closed as abandoned).
//!
//! The engine reports a call's standing whenever it differs from what `CallEntered` said, so
//! the history alone is enough to adopt the call where it was: a restart neither re-runs an
//! overflow (no second timeout, overflow or enter events) nor forgets a supervisor's change.

use super::core::{Engine, Resumable, MAX_RESUMABLE};
use super::ids::{CallId, QueueId};
use super::io::{ChannelSnapshot, Effect, StoredPlace};
use super::record::Record;
use super::routing::SkillLevel;
use super::time::Timestamp;

/// A caller who abandoned a queue, as the history remembers them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Abandoned {
    /// The queue they left (the one they had overflowed into, if they had).
    pub queue: QueueId,
    pub caller_number: String,
    /// When their place counted from, and with what priority.
    pub waiting_since: Timestamp,
    pub priority: i32,
    pub ended_at: Timestamp,
}

/// How an adopted caller stands: its id, place, priority, skills and queue moves.
pub(super) struct Standing {
    pub(super) call: CallId,
    pub(super) queue: QueueId,
    pub(super) waiting_since: Timestamp,
    pub(super) priority: i32,
    pub(super) skills: Vec<SkillLevel>,
    pub(super) hops: u32,
}

impl Engine {
    /// The call's standing as a `CallPlaced` record.
    pub(super) fn placed(&self, now: Timestamp, call_id: CallId) -> Option<Effect> {
        let call = self.calls.get(&call_id)?;
        Some(Effect::Persist(Record::CallPlaced {
            call: call_id,
            queue: call.queue.clone(),
            priority: call.wait_key.priority.0,
            skills: call.skills.clone(),
            hops: call.hops,
            waiting_since: call.wait_key.entered_at,
            at: now,
        }))
    }

    /// The standing a stored caller is adopted with: as the store last placed it, else as it
    /// entered. A queue deprovisioned since gives way to the one the channel names, the rest
    /// of the standing kept. `None` for a caller the store does not know.
    pub(super) fn stored_standing(&self, snap: &ChannelSnapshot) -> Option<Standing> {
        let stored = snap.stored.as_ref()?;
        let exists = |q: &QueueId| self.queues.contains_key(q);
        let entry_queue = snap.queue.clone().filter(exists);
        Some(match &stored.place {
            Some(StoredPlace {
                queue,
                priority,
                skills,
                hops,
                waiting_since,
            }) => {
                let mut skills = skills.clone();
                super::routing::canonical(&mut skills);
                Standing {
                    call: stored.call,
                    queue: Some(queue.clone()).filter(exists).or(entry_queue)?,
                    waiting_since: *waiting_since,
                    priority: *priority,
                    skills,
                    hops: *hops,
                }
            }
            None => Standing {
                call: stored.call,
                queue: entry_queue?,
                waiting_since: stored.entered_at,
                priority: stored.priority,
                skills: Vec::new(),
                hops: 0,
            },
        })
    }

    /// How far back the resume memory reaches: the end of the longest `abandoned_resume`
    /// window of any queue (`None`: no queue resumes).
    pub fn resume_memory_since(&self, now: Timestamp) -> Option<Timestamp> {
        let longest = self
            .queues
            .values()
            .filter_map(|q| q.settings.routing.abandoned_resume)
            .max()?;
        Some(Timestamp::from_millis(now.as_millis().saturating_sub(
            i64::try_from(longest.as_millis()).unwrap_or(i64::MAX),
        )))
    }

    /// Restores the resume memory from the history: callers who abandoned a queue whose
    /// `abandoned_resume` window has not yet passed get their place back if they call again.
    /// Returns how many were restored.
    pub fn restore_abandoned(&mut self, now: Timestamp, abandoned: Vec<Abandoned>) -> usize {
        let mut restored = 0;
        for gone in abandoned {
            if gone.caller_number.is_empty() || self.resumable.len() >= MAX_RESUMABLE {
                continue;
            }
            let Some(window) = self
                .queues
                .get(&gone.queue)
                .and_then(|q| q.settings.routing.abandoned_resume)
            else {
                continue;
            };
            let until = gone.ended_at.plus(window);
            if until < now {
                continue;
            }
            let key = (gone.queue, gone.caller_number);
            // The latest abandon of a caller is the place it resumes.
            let later = self.resumable.get(&key).is_some_and(|r| r.until >= until);
            if !later {
                self.resumable.insert(
                    key,
                    Resumable {
                        entered_at: gone.waiting_since,
                        priority: gone.priority,
                        until,
                    },
                );
                restored += 1;
            }
        }
        restored
    }
}
