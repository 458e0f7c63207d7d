//! What the engine task and a switch adapter (`esl` for FreeSWITCH, `ari` for Asterisk) pass
//! each other, whichever switch it drives: commands out, inputs in, stamped for latency.

use std::time::Instant;

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
