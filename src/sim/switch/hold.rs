//! Hold and unhold, from a desk phone's re-INVITE or from `uuid_hold [off] <uuid>`, as in
//! the `phone-hold` and `api-transfer-and-hold` (part A) captures:
//! - the events are on the held leg X (the one whose endpoint is told "held"): CALLSTATE
//!   HELD, CHANNEL_HOLD, and for a phone's own re-INVITE PRESENCE_IN (`status: hold`,
//!   `held`) and a CUSTOM `sofia::reinvite` (neither for `uuid_hold`);
//! - X's bridged partner hears X's `hold_music` (unset: the global `local_stream://moh`):
//!   CHANNEL_EXECUTE `playback` + PLAYBACK_START on the partner;
//! - unhold from the phone: the partner's PLAYBACK_STOP (`break`), EXECUTE_COMPLETE
//!   (`FILE PLAYED`), then X CALLSTATE UNHELD, CHANNEL_UNHOLD (`Caller-Channel-Hold-Accum` =
//!   µs held), PRESENCE_IN (`unhold`), `sofia::reinvite`, CALLSTATE ACTIVE; `uuid_hold off`
//!   on the agent leg: UNHELD, the partner's stop, UNHOLD, ACTIVE; on the caller's leg:
//!   UNHELD, ACTIVE, the partner's stop, UNHOLD;
//! - at hangup every leg has `hold_accum_seconds/_ms/_usec` and `last_hold_epoch` (0 if
//!   never held), a held one `hold_events` (`{{start,end},…}`, latest first).
//!
//! What the simulator decides where no capture shows it: the hold music plays as one
//! playback for the whole hold (the real switch loops a finite stream, one pair per loop;
//! `local_stream://moh`, the only source Switchboard uses, is one pair); holding a held leg,
//! or unholding one that is not held, changes nothing and `uuid_hold` still replies
//! `+OK Success`; a leg hung up while held closes its last interval at the hangup.

use super::{Channel, Core, Dir};

/// What the real switch plays when the held leg has no `hold_music` of its own.
pub(crate) const GLOBAL_HOLD_MUSIC: &str = "local_stream://moh";
const SUCCESS: &str = "+OK Success\n";
const NO_SUCH: &str = "-ERR No such channel!\n";

/// A leg's hold history (`Caller-Channel-Last-Hold`, `-Hold-Accum`, `hold_events`).
#[derive(Clone, Debug, Default)]
pub(crate) struct HoldState {
    /// When the current hold began (µs since the epoch), while held.
    pub(crate) since_us: Option<u64>,
    pub(crate) last_us: u64,
    pub(crate) accum_us: u64,
    /// Finished holds, oldest first.
    pub(crate) events: Vec<(u64, u64)>,
    /// The partner that plays this leg's hold music.
    pub(crate) music_on: Option<String>,
}

impl HoldState {
    /// The variables the real switch sets at hangup.
    pub(super) fn hangup_vars(c: &mut Channel, now_us: u64) {
        if let Some(since) = c.hold.since_us.take() {
            c.hold.accum_us += now_us.saturating_sub(since);
            c.hold.events.push((since, now_us));
        }
        let accum = c.hold.accum_us;
        c.set_var("hold_accum_seconds", (accum / 1_000_000).to_string());
        c.set_var("hold_accum_ms", (accum / 1_000).to_string());
        c.set_var("hold_accum_usec", accum.to_string());
        c.set_var("last_hold_epoch", (c.hold.last_us / 1_000_000).to_string());
        if !c.hold.events.is_empty() {
            let list: Vec<String> = c
                .hold
                .events
                .iter()
                .rev()
                .map(|(s, e)| format!("{{{s},{e}}}"))
                .collect();
            c.set_var("hold_events", format!("{{{}}}", list.join(",")));
        }
    }
}

/// Who asked for the hold: the phone's re-INVITE fires `sofia::reinvite`, `uuid_hold` not.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum HoldBy {
    Phone,
    Api,
}

impl Core {
    /// `uuid_hold [off|toggle] <uuid>`.
    pub(super) fn uuid_hold(&mut self, arg: &str) -> String {
        let mut words = arg.split_whitespace();
        let (on, uuid) = match (words.next(), words.next()) {
            (Some("off"), Some(u)) => (Some(false), u),
            (Some("toggle"), Some(u)) => (None, u),
            (Some(u), None) => (Some(true), u),
            _ => return "-USAGE: [off|toggle] <uuid> [<display>]\n".to_string(),
        };
        let Some(held) = self
            .channels
            .get(uuid)
            .filter(|c| c.hangup_cause.is_none())
            .map(|c| c.hold.since_us.is_some())
        else {
            return NO_SUCH.to_string();
        };
        let uuid = uuid.to_string();
        match on.unwrap_or(!held) {
            true => self.hold_leg(&uuid, HoldBy::Api),
            false => self.unhold_leg(&uuid, HoldBy::Api),
        };
        SUCCESS.to_string()
    }

    /// The leg's endpoint is held (its phone sent `a=sendonly`/`inactive`, or `uuid_hold`).
    /// False if there is no such answered, bridged leg or it is already held.
    pub(crate) fn hold_leg(&mut self, uuid: &str, by: HoldBy) -> bool {
        let now = self.now_us();
        let Some(c) = self.channels.get_mut(uuid) else {
            return false;
        };
        if c.hangup_cause.is_some() || c.answered_us == 0 || c.hold.since_us.is_some() {
            return false;
        }
        c.hold.since_us = Some(now);
        c.hold.last_us = now;
        let music = c.var("hold_music").unwrap_or(GLOBAL_HOLD_MUSIC).to_string();
        let partner = c.bridged_to.clone();
        self.set_callstate(uuid, "HELD");
        self.chan_event(uuid, "CHANNEL_HOLD", &[], &[]);
        if by == HoldBy::Phone {
            self.hold_presence(uuid, "hold", "held");
        }
        if let Some(p) = partner {
            let idle = self
                .channels
                .get(&p)
                .is_some_and(|c| c.app.is_none() && c.hangup_cause.is_none());
            if idle {
                self.start_app(&p, "playback", &music, super::new_uuid(), false);
                self.start_playing(&p, &music);
                self.with_chan(uuid, |c| c.hold.music_on = Some(p.clone()));
            }
        }
        if by == HoldBy::Phone {
            self.reinvite(uuid);
        }
        self.changed = true;
        true
    }

    /// The leg is taken off hold. False if there is no such live leg or it is not held.
    pub(crate) fn unhold_leg(&mut self, uuid: &str, by: HoldBy) -> bool {
        let now = self.now_us();
        let Some(c) = self.channels.get_mut(uuid) else {
            return false;
        };
        if c.hangup_cause.is_some() {
            return false;
        }
        let Some(since) = c.hold.since_us.take() else {
            return false;
        };
        c.hold.accum_us += now.saturating_sub(since);
        c.hold.events.push((since, now));
        let caller_leg = c.dir == Dir::Inbound;
        match (by, caller_leg) {
            (HoldBy::Phone, _) => {
                self.stop_hold_music(uuid);
                self.set_callstate(uuid, "UNHELD");
                self.chan_event(uuid, "CHANNEL_UNHOLD", &[], &[]);
                self.hold_presence(uuid, "unhold", "active");
                self.reinvite(uuid);
                self.set_callstate(uuid, "ACTIVE");
            }
            (HoldBy::Api, false) => {
                self.set_callstate(uuid, "UNHELD");
                self.stop_hold_music(uuid);
                self.chan_event(uuid, "CHANNEL_UNHOLD", &[], &[]);
                self.set_callstate(uuid, "ACTIVE");
            }
            (HoldBy::Api, true) => {
                self.set_callstate(uuid, "UNHELD");
                self.set_callstate(uuid, "ACTIVE");
                self.stop_hold_music(uuid);
                self.chan_event(uuid, "CHANNEL_UNHOLD", &[], &[]);
            }
        }
        self.changed = true;
        true
    }

    /// A held agent leg whose phone completes an attended transfer (`phone-attended-transfer`):
    /// its partner's hold music stops first; later, just before the leg hangs up, it comes
    /// off hold with CALLSTATE UNHELD and CHANNEL_UNHOLD (no re-INVITE of its own).
    pub(crate) fn stop_hold_music_for_refer(&mut self, uuid: &str) {
        self.stop_hold_music(uuid);
    }

    /// See [`Core::stop_hold_music_for_refer`]: the leg's hold ends as it is replaced.
    pub(crate) fn release_hold_for_refer(&mut self, uuid: &str) {
        let now = self.now_us();
        let Some(c) = self.channels.get_mut(uuid) else {
            return;
        };
        let Some(since) = c.hold.since_us.take() else {
            return;
        };
        c.hold.accum_us += now.saturating_sub(since);
        c.hold.events.push((since, now));
        self.set_callstate(uuid, "UNHELD");
        self.chan_event(uuid, "CHANNEL_UNHOLD", &[], &[]);
        self.changed = true;
    }

    /// The partner's hold music ends (`break`), its playback completes as played.
    fn stop_hold_music(&mut self, uuid: &str) {
        let Some(p) = self
            .channels
            .get_mut(uuid)
            .and_then(|c| c.hold.music_on.take())
        else {
            return;
        };
        self.stop_playing(&p, "break");
        if let Some(app) = self.channels.get_mut(&p).and_then(|c| c.app.take()) {
            self.complete_app(&p, &app, Some("FILE PLAYED"));
            self.after_app(&p);
        }
    }

    fn reinvite(&mut self, uuid: &str) {
        let uuid = uuid.to_string();
        self.fire("CUSTOM", None, move |ev| {
            ev.headers
                .insert(0, ("Event-Subclass".into(), "sofia::reinvite".to_string()));
            ev.add("Unique-ID", uuid);
        });
    }

    /// PRESENCE_IN of a phone's leg (the agent leg is outbound, unlike `presence`'s callers).
    fn hold_presence(&mut self, uuid: &str, status: &str, info_state: &str) {
        let Some(ch) = self.channels.get_mut(uuid) else {
            return;
        };
        // A phone's leg is presence `<user>@<domain>` (`Channel-Presence-ID` of the capture).
        let Some(from) = ch
            .presence_id
            .clone()
            .or_else(|| ch.phone.as_ref().map(|u| format!("{u}@{}", super::HOST_IP)))
        else {
            return;
        };
        let count = ch.presence_count;
        ch.presence_count += 1;
        let dir = ch.dir;
        let post = [
            ("proto", "any".to_string()),
            ("login", "src/switch_channel.c".to_string()),
            ("from", from),
            ("rpid", "unknown".to_string()),
            ("status", status.to_string()),
            ("event_type", "presence".to_string()),
            ("alt_event_type", "dialog".to_string()),
            ("presence-call-info-state", info_state.to_string()),
            (
                "presence-call-direction",
                if dir == Dir::Inbound {
                    "inbound"
                } else {
                    "outbound"
                }
                .to_string(),
            ),
            ("event_count", count.to_string()),
        ];
        self.chan_event(uuid, "PRESENCE_IN", &[], &post);
    }
}
