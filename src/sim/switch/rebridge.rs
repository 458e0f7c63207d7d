//! `uuid_bridge` naming a leg that is already bridged, and `uuid_broadcast <parked leg> <file>
//! aleg`, as `api-transfer-and-hold` part D (Batch 4) shows them: what a consult transfer
//! driven from ESL does.
//!
//! `uuid_bridge <X> <Y>` with X (or Y) bridged to P pulls X out of that bridge: the old
//! bridge's A side fires CHANNEL_UNBRIDGE (Bridge-A = the A side, Bridge-B = the other), and P,
//! left alone, is parked again when it has `park_after_bridge=true` (CHANNEL_STATE CS_PARK
//! then CHANNEL_PARK, no EXECUTE park before it) or else hangs up (CS_EXECUTE, then
//! CHANNEL_HANGUP NORMAL_CLEARING and the rest of a hangup): "a leg that was `uuid_bridge`d
//! from `park` hangs up as soon as it loses its partner". A pulled second argument leaves its
//! old partner right after its HIBERNATE/RESET (part D's swap: the agent leg's UNBRIDGE and
//! hangup come before the caller's playback stops); a pulled first argument after both legs'
//! CS_SOFT_EXECUTE (part D's consult: the caller's UNBRIDGE and PARK after K's SOFT_EXECUTE).
//! A pulled leg is not parked: it gets no CHANNEL_UNPARK.
//!
//! `uuid_broadcast <uuid> <path> aleg` on a parked leg that is bridged to nothing plays the
//! file there: CHANNEL_EXECUTE `playback` + PLAYBACK_START (`local_stream://moh`: until the
//! next bridge, which stops it with PLAYBACK_STOP + EXECUTE_COMPLETE before the UNPARK).

use super::{App, Core, Initiator};

impl Core {
    /// Whether `uuid` is a live leg bridged to another.
    pub(super) fn is_bridged(&self, uuid: &str) -> bool {
        self.channels
            .get(uuid)
            .is_some_and(|c| c.hangup_cause.is_none() && c.bridged_to.is_some())
    }

    /// `uuid` leaves the bridge it is in (for a new `uuid_bridge`): the old bridge's A side
    /// fires CHANNEL_UNBRIDGE, and the partner left alone parks or hangs up.
    pub(super) fn leave_bridge(&mut self, uuid: &str) {
        let Some(ch) = self.channels.get(uuid) else {
            return;
        };
        let Some(partner) = ch.bridged_to.clone() else {
            return;
        };
        let (a, b) = if ch.bridge_a {
            (uuid.to_string(), partner.clone())
        } else {
            (partner.clone(), uuid.to_string())
        };
        self.unbridge(&a, &b);
        let parks = self
            .channels
            .get(&partner)
            .and_then(|c| c.var("park_after_bridge"))
            .is_some_and(super::is_true);
        if parks {
            self.set_state(&partner, "CS_PARK", 6);
            self.with_chan(&partner, |c| {
                c.park = Some(App {
                    name: "park".to_owned(),
                    arg: String::new(),
                    uuid: String::new(),
                })
            });
            self.chan_event(&partner, "CHANNEL_PARK", &[], &[]);
        } else {
            self.set_state(&partner, "CS_EXECUTE", 4);
            self.hangup(&partner, "NORMAL_CLEARING", Initiator::Local, None);
        }
        self.changed = true;
    }

    /// `uuid_broadcast <uuid> <path> aleg` on a parked leg bridged to nothing: the file plays
    /// there as an application on top of park.
    pub(super) fn broadcast_to_parked(&mut self, uuid: &str, path: &str, legs: &str) {
        if legs != "aleg" {
            return;
        }
        let idle_parked = self.channels.get(uuid).is_some_and(|c| {
            c.hangup_cause.is_none()
                && c.bridged_to.is_none()
                && c.park.is_some()
                && c.app.is_none()
        });
        if !idle_parked {
            return;
        }
        self.start_app(uuid, "playback", path, super::new_uuid(), false);
        self.start_playing(uuid, path);
    }
}
