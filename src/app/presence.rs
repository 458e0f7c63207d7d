//! BLF lamps: agents' and queues' states published as presence to every switch.
//!
//! Derived from the snapshot the engine publishes (at most every 100 ms), so a burst of
//! changes costs one update per lamp, and the engine stays free of it. Only what changed is
//! sent; a (re)connected switch gets everything again.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tracing::debug;

use crate::engine::{AgentStatus, ChannelId, Lamp, Presence, Snapshot, SwitchCommand};
use crate::esl::Outgoing;
use crate::metrics::Metrics;
use crate::store::PauseReasonRow;

/// What a lamp shows, without the update counter.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LampState {
    lamp: Lamp,
    status: String,
    rpid: &'static str,
}

/// The presence of every agent and queue in a snapshot, keyed by `(proto, id)`. A pause shows
/// its reason's name where `reason_names` has the code.
fn lamps(
    snapshot: &Snapshot,
    reason_names: &HashMap<String, String>,
) -> HashMap<(&'static str, String), LampState> {
    let mut lamps = HashMap::new();
    for agent in &snapshot.agents {
        let code = agent.reason.as_deref().unwrap_or_default();
        let reason = reason_names.get(code).map_or(code, String::as_str);
        let (lamp, status, rpid) = match agent.status {
            AgentStatus::Available if agent.busy_elsewhere => {
                (Lamp::Lit, "On The Phone".to_owned(), "on-the-phone")
            }
            AgentStatus::Available => (Lamp::Off, "Available".to_owned(), "unknown"),
            AgentStatus::Offered => (Lamp::Blinking, "Ringing".to_owned(), "active"),
            AgentStatus::OnCall => (Lamp::Lit, "On The Phone".to_owned(), "on-the-phone"),
            AgentStatus::WrapUp => (Lamp::Lit, "Wrap-up".to_owned(), "busy"),
            AgentStatus::Paused => (Lamp::Lit, format!("Paused {reason}"), "away"),
            AgentStatus::Unreachable => (Lamp::Lit, "Unreachable".to_owned(), "away"),
            AgentStatus::LoggedOut => (Lamp::Off, "Logged Out".to_owned(), "away"),
        };
        lamps.insert(
            ("agent", agent.id.to_string()),
            LampState {
                lamp,
                status: status.trim().to_owned(),
                rpid,
            },
        );
    }
    for queue in &snapshot.queues {
        let (lamp, status, rpid) = match queue.waiting {
            0 => (Lamp::Off, "No callers waiting".to_owned(), "unknown"),
            n => (Lamp::Blinking, format!("{n} waiting"), "active"),
        };
        lamps.insert(
            ("queue", queue.id.to_string()),
            LampState { lamp, status, rpid },
        );
    }
    lamps
}

/// A stable dialog id per lamp, so phones see one dialog changing state.
fn dialog_id(proto: &str, id: &str) -> uuid::Uuid {
    let mut hash: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for byte in proto.bytes().chain([b'+']).chain(id.bytes()) {
        hash ^= u128::from(byte);
        hash = hash.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013B);
    }
    uuid::Builder::from_random_bytes(hash.to_le_bytes()).into_uuid()
}

/// Keeps what each lamp last showed and turns a new snapshot into the updates to send.
#[derive(Default)]
pub struct PresenceTracker {
    shown: HashMap<(&'static str, String), LampState>,
    count: u64,
}

impl PresenceTracker {
    /// The updates for lamps that changed since the last call (all of them the first time).
    pub fn updates(
        &mut self,
        snapshot: &Snapshot,
        domain: &str,
        reason_names: &HashMap<String, String>,
    ) -> Vec<Presence> {
        let mut updates = Vec::new();
        let mut current: Vec<_> = lamps(snapshot, reason_names).into_iter().collect();
        current.sort_by(|a, b| a.0.cmp(&b.0));
        for (key, state) in current {
            if self.shown.get(&key) == Some(&state) {
                continue;
            }
            self.count += 1;
            updates.push(Presence {
                proto: key.0,
                id: key.1.clone(),
                domain: domain.to_owned(),
                lamp: state.lamp,
                status: state.status.clone(),
                rpid: state.rpid,
                dialog: dialog_id(key.0, &key.1),
                count: self.count,
            });
            self.shown.insert(key, state);
        }
        updates
    }

    /// Forget one lamp, so it is sent again with the next update (a phone just subscribed).
    pub fn forget(&mut self, proto: &str, id: &str) {
        self.shown.retain(|(p, i), _| !(*p == proto && i == id));
    }

    /// Forget what was shown, so everything is sent again (after a switch reconnects).
    pub fn reset(&mut self) {
        self.shown.clear();
    }
}

/// Publishes lamp changes to every switch until the snapshot channel closes. After a switch
/// (re)connects, every lamp is sent again.
pub async fn publish(
    mut snapshots: watch::Receiver<Arc<Snapshot>>,
    switches: Vec<mpsc::Sender<Outgoing>>,
    domain: String,
    pause_reasons: Arc<RwLock<Vec<PauseReasonRow>>>,
    metrics: Arc<Metrics>,
    mut probes: mpsc::UnboundedReceiver<(String, String)>,
) {
    let mut tracker = PresenceTracker::default();
    let connects = || metrics.esl_connects.load(Ordering::Relaxed);
    let mut seen_connects = connects();
    // Presence updates share one command lane, apart from any call's.
    let lane = ChannelId::from_uuid(uuid::Uuid::nil());
    loop {
        let snapshot = snapshots.borrow_and_update().clone();
        let reason_names: HashMap<String, String> = pause_reasons
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|r| (r.code.clone(), r.name.clone()))
            .collect();
        for presence in tracker.updates(&snapshot, &domain, &reason_names) {
            for switch in &switches {
                let out = Outgoing {
                    affinity: lane.clone(),
                    command: SwitchCommand::Presence(presence.clone()),
                    caused_by: None,
                };
                if switch.try_send(out).is_err() {
                    debug!("presence update dropped: the switch's command queue is full");
                }
            }
        }
        tokio::select! {
            changed = snapshots.changed() => if changed.is_err() { return },
            // A new subscriber: FreeSWITCH sends it nothing until we publish that lamp again.
            Some((proto, id)) = probes.recv() => tracker.forget(&proto, &id),
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        if connects() != seen_connects {
            seen_connects = connects();
            tracker.reset();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{AgentId, Timestamp};

    fn agent(
        id: &str,
        status: AgentStatus,
        reason: Option<&str>,
    ) -> crate::engine::snapshot::AgentView {
        crate::engine::snapshot::AgentView {
            id: AgentId::new(id).expect("id"),
            name: id.to_owned(),
            status,
            reason: reason.map(str::to_owned),
            since: Timestamp::from_millis(0),
            eligible_at: None,
            call: None,
            queues: Vec::new(),
            skills: Vec::new(),
            calls_answered: 0,
            talk_ms: 0,
            hold_ms: 0,
            missed_in_a_row: 0,
            busy_elsewhere: false,
            registered_on: Vec::new(),
            after_call: None,
        }
    }

    #[test]
    fn lamps_follow_agent_states_and_only_changes_are_sent() {
        let mut tracker = PresenceTracker::default();
        let names = HashMap::new();
        let mut snapshot = Snapshot {
            agents: [agent("1001", AgentStatus::Available, None)]
                .into_iter()
                .collect(),
            ..Snapshot::default()
        };
        let first = tracker.updates(&snapshot, "pbx.example.com", &names);
        assert_eq!(first.len(), 1);
        assert_eq!(
            (first[0].lamp, first[0].status.as_str()),
            (Lamp::Off, "Available")
        );
        assert!(tracker
            .updates(&snapshot, "pbx.example.com", &names)
            .is_empty());
        snapshot.agents = [agent("1001", AgentStatus::Offered, None)]
            .into_iter()
            .collect();
        let ringing = tracker.updates(&snapshot, "pbx.example.com", &names);
        assert_eq!(ringing[0].lamp, Lamp::Blinking);
        snapshot.agents = [agent("1001", AgentStatus::Paused, Some("lunch"))]
            .into_iter()
            .collect();
        let paused = tracker.updates(&snapshot, "pbx.example.com", &names);
        assert_eq!(
            (paused[0].lamp, paused[0].status.as_str(), paused[0].rpid),
            (Lamp::Lit, "Paused lunch", "away")
        );
        assert!(paused[0].count > ringing[0].count);
        assert_eq!(paused[0].dialog, ringing[0].dialog, "one dialog per lamp");
        tracker.forget("agent", "1001");
        assert_eq!(
            tracker.updates(&snapshot, "pbx.example.com", &names).len(),
            1
        );
        tracker.reset();
        assert_eq!(
            tracker.updates(&snapshot, "pbx.example.com", &names).len(),
            1
        );
    }

    #[test]
    fn a_paused_lamp_names_the_reason_the_phone_keyed_in() {
        let mut tracker = PresenceTracker::default();
        let names = HashMap::from([("1".to_owned(), "Lunch".to_owned())]);
        let snapshot = Snapshot {
            agents: [agent("1001", AgentStatus::Paused, Some("1"))]
                .into_iter()
                .collect(),
            ..Snapshot::default()
        };
        let paused = tracker.updates(&snapshot, "pbx.example.com", &names);
        assert_eq!(paused[0].status, "Paused Lunch");
    }
}
