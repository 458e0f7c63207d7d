//! What the switch says late, after the engine has moved on.
//!
//! A bridge refused after the call was already over for the engine: the engine counts a call as connected when it sends `uuid_bridge`, and the switch hangs the
//! caller up by itself when the agent leg of a bridge ends. When replies run late, the agent
//! can hang up before the switch has carried out the bridge: the engine completes the call on
//! the agent's hangup, the bridge then fails (`-ERR Invalid uuid`), and the caller, never
//! bridged, would be left parked in silence with nobody owning it. The controller hangs it up.
//!
//! An originate's job that fails after a resync found its leg answered: when the link drops
//! between the originate and its answer, the leg's CHANNEL_ANSWER is never heard, only seen in
//! the resync; the job's `-ERR ORIGINATOR_CANCEL` (the engine bridged the leg before the
//! originate returned) then reaches the new connection. It must be taken for what it is, a late
//! failure of a leg that answered, not the leg's end.

use super::core::Engine;
use super::ids::{ChannelId, SwitchName};
use super::io::{Effect, HangupCause, SwitchCommand};

impl Engine {
    /// After a failed `uuid_bridge`: hangs the caller up if the engine no longer holds it nor
    /// its agent leg (the call ended on the agent's side) and no flow or survey waits for it.
    pub(super) fn caller_orphaned_by_failed_bridge(
        &self,
        switch: &SwitchName,
        caller: &ChannelId,
        agent_leg: &ChannelId,
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

impl Engine {
    /// After a resync: the legs the engine owns that the switch listed as answered count as
    /// answered, as if their CHANNEL_ANSWER had been heard.
    pub(super) fn note_answered_in_resync(&mut self, answered: &[ChannelId]) {
        for channel in answered {
            if self.legs.contains_key(channel) {
                self.answered_legs.insert(channel.clone());
            }
        }
    }
}
