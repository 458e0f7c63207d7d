//! `uuid_transfer <uuid> park inline`: a caller sent back to `park` by the controller
//! (`api-transfer-and-hold` part E). A bridged partner is hung up first (HANGUP up to
//! HANGUP_COMPLETE), then the caller's UNBRIDGE (no Other-Leg, the new profile's
//! `Caller-Dialplan: inline`, destination `park`), CALLSTATE RINGING, CS_ROUTING, CALLSTATE
//! ACTIVE, CS_EXECUTE with its destination back to what it was, EXECUTE `park` and
//! CHANNEL_PARK carrying every variable it had (`requeue_reason` among them), and only then
//! the partner's DESTROY. The caller stays in its own context.

use std::sync::atomic::Ordering;

use super::{Core, Initiator};

impl Core {
    /// Sends `uuid` back to `park` inline, as the capture shows.
    pub(super) fn transfer_park_inline(&mut self, uuid: &str) {
        let Some(ch) = self.channels.get(uuid) else {
            return;
        };
        if ch.hangup_cause.is_some() {
            return;
        }
        let peer = ch.bridged_to.clone();
        let (destination, context) = (ch.profile.destination.clone(), ch.profile.context.clone());
        self.changed = true;
        self.counters.transfers.fetch_add(1, Ordering::Relaxed);
        if let Some(peer) = &peer {
            self.p_hangup(peer, "NORMAL_CLEARING", Initiator::Local, None);
            self.p_state_hangup(peer);
            self.p_complete(peer);
        } else {
            self.abort_app(uuid, "PLAYBACK ERROR");
            self.unpark(uuid);
        }
        self.new_transfer_profile(uuid, "park", "inline", &context);
        self.with_chan(uuid, |c| c.profile.dialplan = Some("inline"));
        if let Some(peer) = &peer {
            self.unbridge(uuid, peer);
        }
        self.set_callstate(uuid, "RINGING");
        self.set_state(uuid, "CS_ROUTING", 2);
        self.with_chan(uuid, |c| {
            c.state_num = 4;
            c.profile.destination = destination;
        });
        self.set_callstate(uuid, "ACTIVE");
        self.set_state(uuid, "CS_EXECUTE", 4);
        self.park(uuid);
        if let Some(peer) = &peer {
            self.p_destroy(peer);
        }
    }
}
