//! Service-level alarms: once a second the engine looks at each queue that has thresholds
//! (callers waiting, the longest wait, the service level over a window) and announces a
//! `queue.threshold` record when one is crossed or is met again. A second is fine-grained
//! enough for a supervisor and costs one pass over the calls, whatever the traffic.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use super::core::Engine;
use super::ids::QueueId;
use super::io::{Effect, Timer};
use super::model::CallState;
use super::record::{Record, ThresholdMetric};
use super::time::Timestamp;

/// How often thresholds are looked at.
pub const THRESHOLD_CHECK_EVERY: Duration = Duration::from_secs(1);

/// A queue's alarms that are up, and the calls of its service-level window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueAlarms {
    pub raised: BTreeSet<ThresholdMetric>,
    /// When each call stopped waiting, and whether it counts as answered within the target.
    samples: VecDeque<(Timestamp, bool)>,
}

impl QueueAlarms {
    /// Percent met over the window ending `now`, once `min_calls` are in it.
    fn service_level(&mut self, now: Timestamp, window: Duration, min_calls: u32) -> Option<i64> {
        let since = now.as_millis() - i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        while self
            .samples
            .front()
            .is_some_and(|(at, _)| at.as_millis() < since)
        {
            self.samples.pop_front();
        }
        let total = self.samples.len();
        if total == 0 || total < min_calls as usize {
            return None;
        }
        let met = self.samples.iter().filter(|(_, met)| *met).count();
        i64::try_from(met * 100 / total).ok()
    }
}

impl Engine {
    /// Arms the periodic check when any queue has thresholds; the check re-arms itself.
    pub fn start_threshold_checks(&mut self, now: Timestamp) -> Vec<Effect> {
        if self.threshold_checks_armed || !self.any_thresholds() {
            return Vec::new();
        }
        self.threshold_checks_armed = true;
        vec![Effect::SetTimer {
            at: now.plus(THRESHOLD_CHECK_EVERY),
            timer: Timer::Thresholds,
        }]
    }

    fn any_thresholds(&self) -> bool {
        self.queues
            .values()
            .any(|q| q.settings.routing.thresholds.any())
    }

    /// A call of `queue` stopped waiting: answered after `wait_ms`, or abandoned after it.
    pub(super) fn note_wait_outcome(
        &mut self,
        queue: &QueueId,
        wait_ms: i64,
        answered: bool,
        now: Timestamp,
    ) {
        let Some(q) = self.queues.get_mut(queue) else {
            return;
        };
        let Some(target) = &q.settings.routing.thresholds.service_level else {
            return;
        };
        let within = i64::try_from(target.within.as_millis()).unwrap_or(i64::MAX);
        match (answered, wait_ms <= within) {
            (true, met) => q.alarms.samples.push_back((now, met)),
            (false, false) => q.alarms.samples.push_back((now, false)),
            // Hung up before the target: not held against the queue.
            (false, true) => {}
        }
    }

    pub(super) fn check_thresholds(&mut self, now: Timestamp, effects: &mut Vec<Effect>) {
        self.threshold_checks_armed = false;
        let mut waiting: HashMap<&QueueId, (i64, Option<Timestamp>)> = HashMap::new();
        for call in self.calls.values() {
            if matches!(call.state, CallState::Waiting | CallState::Ringing { .. }) {
                let entry = waiting.entry(&call.queue).or_insert((0, None));
                entry.0 += 1;
                let entered = call.wait_key.entered_at;
                entry.1 = Some(entry.1.map_or(entered, |oldest| oldest.min(entered)));
            }
        }
        let mut ids: Vec<QueueId> = self
            .queues
            .iter()
            .filter(|(_, q)| q.settings.routing.thresholds.any() || !q.alarms.raised.is_empty())
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        for id in ids {
            let Some(queue) = self.queues.get_mut(&id) else {
                continue;
            };
            let thresholds = queue.settings.routing.thresholds.clone();
            let (count, oldest) = waiting.get(&id).copied().unwrap_or((0, None));
            // (metric, value, limit, breached) of each metric watched and judged.
            let mut readings = Vec::with_capacity(3);
            if let Some(limit) = thresholds.waiting {
                let limit = i64::from(limit);
                readings.push((ThresholdMetric::Waiting, count, limit, count > limit));
            }
            if let Some(limit) = thresholds.longest_wait {
                let longest = oldest.map_or(0, |t| (now.as_millis() - t.as_millis()).max(0));
                let limit = i64::try_from(limit.as_millis()).unwrap_or(i64::MAX);
                readings.push((
                    ThresholdMetric::LongestWait,
                    longest,
                    limit,
                    longest > limit,
                ));
            }
            if let Some(target) = &thresholds.service_level {
                let level = queue
                    .alarms
                    .service_level(now, target.window, target.min_calls);
                let limit = i64::from(target.percent);
                // Too few calls to judge: an alarm that is up stays up.
                if let Some(level) = level {
                    readings.push((ThresholdMetric::ServiceLevel, level, limit, level < limit));
                }
            }
            // A threshold removed by a new provisioning clears its alarm.
            let dropped: Vec<ThresholdMetric> = queue
                .alarms
                .raised
                .iter()
                .copied()
                .filter(|m| !thresholds_watch(&thresholds, *m))
                .collect();
            for metric in dropped {
                queue.alarms.raised.remove(&metric);
                effects.push(Effect::Persist(Record::QueueThreshold {
                    queue: id.clone(),
                    metric,
                    raised: false,
                    value: 0,
                    limit: 0,
                    at: now,
                }));
            }
            for (metric, value, limit, breached) in readings {
                let was = queue.alarms.raised.contains(&metric);
                if breached == was {
                    continue;
                }
                if breached {
                    queue.alarms.raised.insert(metric);
                } else {
                    queue.alarms.raised.remove(&metric);
                }
                effects.push(Effect::Persist(Record::QueueThreshold {
                    queue: id.clone(),
                    metric,
                    raised: breached,
                    value,
                    limit,
                    at: now,
                }));
            }
        }
        effects.extend(self.start_threshold_checks(now));
    }
}

fn thresholds_watch(thresholds: &super::routing::Thresholds, metric: ThresholdMetric) -> bool {
    match metric {
        ThresholdMetric::Waiting => thresholds.waiting.is_some(),
        ThresholdMetric::LongestWait => thresholds.longest_wait.is_some(),
        ThresholdMetric::ServiceLevel => thresholds.service_level.is_some(),
    }
}
