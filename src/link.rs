//! What the engine task and a switch adapter (`esl` for FreeSWITCH, `ari` for Asterisk) pass
//! each other, whichever switch it drives: commands out, inputs in, stamped for latency.

use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::sync::mpsc;

use crate::engine::{ChannelId, Input, SwitchCommand, SwitchName};

/// A command for a switch, with the arrival time of the event that caused it.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub affinity: ChannelId,
    pub command: SwitchCommand,
    pub caused_by: Option<Instant>,
}

/// An engine input from a switch, stamped on arrival.
#[derive(Debug)]
pub struct SwitchInput {
    pub input: Input,
    pub received: Instant,
}

/// The handle the engine task holds for one switch.
#[derive(Debug, Clone)]
pub struct SwitchLink {
    pub name: SwitchName,
    pub commands: mpsc::Sender<Outgoing>,
}

/// The command lane of `affinity` among `lanes`: one call's commands always take the same lane,
/// so they reach the switch in the order the engine issued them.
pub fn lane_of(affinity: &ChannelId, lanes: usize) -> usize {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    affinity.hash(&mut hasher);
    (hasher.finish() % lanes.max(1) as u64) as usize
}

/// How long to wait before reconnection attempt `attempt`: exponential from 100 ms up to `max`,
/// with full jitter on the upper half so a fleet of controllers does not reconnect in step.
pub fn backoff(attempt: u32, max: Duration) -> Duration {
    let base = Duration::from_millis(100).saturating_mul(1u32 << attempt.min(16));
    let capped = base.min(max);
    let half = capped / 2;
    let jitter = rand::rng().random_range(0..=half.as_millis().max(1) as u64);
    half + Duration::from_millis(jitter)
}
