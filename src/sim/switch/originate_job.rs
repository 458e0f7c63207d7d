//! When an originate returns, and what a `uuid_bridge` does to it before then, as the
//! `bridge-before-and-after-job` capture and every answered leg of the `switchboard-*`
//! captures show.
//!
//! The originate does not return when the leg answers but about one core tick later
//! (`SimConfig::originate_return`, 20 ms captured): CHANNEL_ANSWER, then (for a `user/…`
//! dial string) CHANNEL_OUTGOING, the job `+OK <leg>`, and the leg runs `&park()`; a
//! `sofia/…` leg sends no second CHANNEL_OUTGOING (`originate-bridge-record`). A `uuid_bridge` naming the leg (as either
//! argument) inside that window takes the leg out of its originate: the leg goes to
//! CS_HIBERNATE / CS_RESET and sends CHANNEL_OUTGOING (now with its other leg) at once; when
//! the originate would have returned it answers `-ERR ORIGINATOR_CANCEL`, and only then does
//! the other leg leave what it runs (as a bridge ends it, PLAYBACK ERROR, even when a
//! `uuid_break` came just before the bridge) and the bridge complete (part A5). The leg never runs its
//! `park`, stays up and bridged, and ends like any bridged call.
//!
//! What no capture shows, and the simulator decides: if the other leg is gone when the
//! originate returns, the leg is hung up (`NORMAL_CLEARING`); a second `uuid_bridge` naming
//! either leg inside the window does nothing; with a window wider than the captured 20 ms the
//! other leg still waits for the originate to return before it leaves what it runs; a `sofia/…` leg bridged inside the window
//! sends no CHANNEL_OUTGOING either (only `user/…` legs were captured racing).

use super::{Core, Initiator, Timer};

/// An answered leg whose originate has not returned yet.
#[derive(Clone, Debug, Default)]
pub(crate) struct Race {
    /// Dialled as `user/…`: the `user` endpoint's CHANNEL_OUTGOING ends the originate.
    user_endpoint: bool,
    /// The leg answered; the originate returns when `Timer::OriginateReturn` fires.
    pub(super) returning: bool,
    /// A `uuid_bridge <a> <b>` that named the leg before the originate returned.
    pub(super) bridge: Option<(String, String)>,
    /// This channel is one of the two legs of such a bridge.
    in_pending_bridge: bool,
}

impl Race {
    pub(super) fn new(user_endpoint: bool) -> Race {
        Race {
            user_endpoint,
            ..Race::default()
        }
    }
}

impl Core {
    /// The CHANNEL_OUTGOING a `user/…` leg sends when its originate ends.
    fn originate_ends(&mut self, leg: &str) {
        if self.channels.get(leg).is_some_and(|c| c.race.user_endpoint) {
            self.chan_event(leg, "CHANNEL_OUTGOING", &[], &[]);
        }
    }

    /// How long after an answer later originates return (`SimHandle::set_originate_return`).
    pub(crate) fn set_originate_return(&mut self, after: std::time::Duration) {
        self.originate_return = after;
    }

    /// The leg answered: its originate returns one tick later.
    pub(super) fn leg_answered(&mut self, uuid: &str) {
        self.with_chan(uuid, |c| c.race.returning = true);
        let after = self.originate_return;
        self.timer(after, Timer::OriginateReturn(uuid.to_string()));
    }

    /// The leg of a `uuid_bridge` whose originate has not returned, if any.
    pub(super) fn racing_leg(&self, a: &str, b: &str) -> Option<String> {
        [a, b]
            .into_iter()
            .find(|u| self.channels.get(*u).is_some_and(|c| c.race.returning))
            .map(str::to_string)
    }

    /// Whether a bridge naming this channel waits for an originate to return.
    pub(super) fn bridge_pending(&self, uuid: &str) -> bool {
        self.channels
            .get(uuid)
            .is_some_and(|c| c.race.in_pending_bridge)
    }

    /// `uuid_bridge` caught `leg` inside its originate: it leaves the originate now, the rest
    /// of the bridge waits for the originate to return.
    pub(super) fn bridge_racing(&mut self, a: &str, b: &str, leg: &str) {
        self.set_state(leg, "CS_HIBERNATE", 8);
        self.set_state(leg, "CS_RESET", 9);
        self.originate_ends(leg);
        self.with_chan(leg, |c| {
            c.race.bridge = Some((a.to_string(), b.to_string()))
        });
        for u in [a, b] {
            self.with_chan(u, |c| c.race.in_pending_bridge = true);
            self.forget_break(u);
        }
    }

    pub(super) fn originate_returns(&mut self, uuid: &str) {
        let Some(c) = self.channels.get_mut(uuid) else {
            return;
        };
        if !c.race.returning || c.hangup_cause.is_some() {
            return;
        }
        c.race.returning = false;
        let bridge = c.race.bridge.take();
        self.changed = true;
        let Some((a, b)) = bridge else {
            self.originate_ends(uuid);
            self.finish_job(uuid, &format!("+OK {uuid}\n"));
            self.set_state(uuid, "CS_EXECUTE", 4);
            if !self.start_eavesdrop(uuid) && !self.start_conference(uuid) {
                self.park(uuid);
            }
            return;
        };
        for u in [&a, &b] {
            self.with_chan(u, |c| c.race.in_pending_bridge = false);
        }
        self.finish_job(uuid, "-ERR ORIGINATOR_CANCEL\n");
        let other = if a == uuid { &b } else { &a };
        // A leg bridged elsewhere meanwhile is pulled out of that bridge (`rebridge`).
        let alive = self
            .channels
            .get(other)
            .is_some_and(|c| c.hangup_cause.is_none());
        if alive {
            self.bridge_rest(&a, &b, Some(uuid));
        } else {
            self.hangup(uuid, "NORMAL_CLEARING", Initiator::Local, None);
        }
    }
}
