//! A bridge the switch refused after the call was already over for the engine.
//!
//! The engine counts a call as connected when it sends `uuid_bridge`, and the switch hangs the
//! caller up by itself when the agent leg of a bridge ends. When replies run late, the agent
//! can hang up before the switch has carried out the bridge: the engine completes the call on
//! the agent's hangup, the bridge then fails (`-ERR Invalid uuid`), and the caller, never
//! bridged, would be left parked in silence with nobody owning it. The controller hangs it up.

use super::core::Engine;
use super::ids::{ChannelUuid, SwitchName};
use super::io::{Effect, HangupCause, SwitchCommand};

impl Engine {
    /// After a failed `uuid_bridge`: hangs the caller up if the engine no longer holds it nor
    /// its agent leg (the call ended on the agent's side) and no flow or survey waits for it.
    pub(super) fn caller_orphaned_by_failed_bridge(
        &self,
        switch: &SwitchName,
        caller: &ChannelUuid,
        agent_leg: &ChannelUuid,
        effects: &mut Vec<Effect>,
    ) {
        if self.legs.contains_key(agent_leg)
            || self.legs.contains_key(caller)
            || self.in_flow(caller)
            || self.pending_surveys.contains_key(caller)
        {
            return;
        }
        effects.push(Effect::switch(
            switch,
            caller,
            SwitchCommand::Kill {
                channel: caller.clone(),
                cause: HangupCause::NormalClearing,
            },
        ));
    }
}
