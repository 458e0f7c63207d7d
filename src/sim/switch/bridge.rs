//! Bridging two legs (`uuid_bridge`, an answered originate's `&bridge`) and taking a
//! bridge apart, with the events in the order FreeSWITCH sends them.

use super::*;

impl Core {
    pub(super) fn bridge(&mut self, a: &str, b: &str) {
        if self.bridge_pending(a) || self.bridge_pending(b) {
            return;
        }
        let ts = (self.now_us() / 1_000_000).to_string();
        self.counters.bridged.fetch_add(1, Ordering::Relaxed);
        self.changed = true;
        for (me, other) in [(a, b), (b, a)] {
            let source = format!("{ts}:{}:uuid_br:{other}", new_uuid());
            self.with_chan(me, |c| {
                c.other_leg = Some(other.to_string());
                c.profile.index = 2;
                c.profile.transfer_source = Some(source.clone());
                c.state_num = 8;
                c.push_transfer(source);
            });
        }
        match self.racing_leg(a, b) {
            Some(leg) => self.bridge_racing(a, b, &leg),
            None => self.bridge_rest(a, b, None),
        }
    }

    /// Both legs leave what they run and are bridged; `racing` already left its originate.
    pub(super) fn bridge_rest(&mut self, a: &str, b: &str, racing: Option<&str>) {
        // A leg already bridged is pulled out of its bridge (see `rebridge`).
        let (a_pulled, b_pulled) = (self.is_bridged(a), self.is_bridged(b));
        if racing != Some(b) {
            // What the moh-break-bridge capture shows for the caller (part B) holds for the
            // agent leg too: a prompt still playing on it is cut short.
            self.abort_app(b, "PLAYBACK ERROR");
            if !b_pulled {
                self.chan_event(b, "CHANNEL_UNPARK", &[], &[]);
            }
            if let Some(app) = self.channels.get_mut(b).and_then(|c| c.park.take()) {
                self.complete_app(b, &app, None);
            }
            self.set_state(b, "CS_HIBERNATE", 8);
            self.set_state(b, "CS_RESET", 9);
        }
        if b_pulled {
            self.leave_bridge(b);
        }
        if racing != Some(a) {
            self.abort_app(a, "PLAYBACK ERROR");
            self.with_chan(a, |c| c.state_num = 8);
            if self.channels.get(a).is_some_and(|c| c.park.is_some()) {
                self.unpark(a);
            }
            self.set_state(a, "CS_HIBERNATE", 8);
            self.set_state(a, "CS_RESET", 9);
        }
        self.set_state(a, "CS_SOFT_EXECUTE", 3);
        self.set_state(b, "CS_SOFT_EXECUTE", 3);
        if a_pulled {
            self.leave_bridge(a);
        }
        for (me, other) in [(a, b), (b, a)] {
            self.with_chan(me, |c| {
                c.set_var("current_application_data", other);
                c.set_var("current_application", "uuid_bridge");
            });
            self.chan_event(
                me,
                "CHANNEL_EXECUTE",
                &[],
                &[
                    ("Application", "uuid_bridge".to_string()),
                    ("Application-Data", other.to_string()),
                ],
            );
        }
        let now = self.now_us();
        let a_name = self
            .channels
            .get(a)
            .map(|c| c.name.clone())
            .unwrap_or_default();
        let b_name = self
            .channels
            .get(b)
            .map(|c| c.name.clone())
            .unwrap_or_default();
        for (me, other, other_name, is_a) in [(a, b, &b_name, true), (b, a, &a_name, false)] {
            self.with_chan(me, |c| {
                c.bridged_to = Some(other.to_string());
                c.bridge_a = is_a;
                c.bridged_us = now;
                c.set_var("bridge_channel", other_name.clone());
                c.set_var("bridge_uuid", other);
                c.set_var("signal_bond", other);
            });
        }
        for (me, other) in [(a, b), (b, a)] {
            let mut snap = self.channels.get(other).cloned().map(Box::new);
            if let Some(s) = snap.as_mut() {
                s.other_snap = None;
                s.vars = Vec::new();
            }
            self.with_chan(me, |c| c.other_snap = snap);
        }
        self.recordings_hear_media(a);
        self.recordings_hear_media(b);
        self.chan_event(
            a,
            "CHANNEL_BRIDGE",
            &[
                ("Bridge-A-Unique-ID", a.to_string()),
                ("Bridge-B-Unique-ID", b.to_string()),
            ],
            &[],
        );
        self.with_chan(b, |c| c.call_uuid = a.to_string());
        if racing != Some(b) {
            self.set_state(b, "CS_CONSUME_MEDIA", 7);
        }
        self.set_state(b, "CS_EXCHANGE_MEDIA", 5);
        for leg in [a, b] {
            let talk = self
                .channels
                .get(leg)
                .and_then(|c| {
                    if c.talk_timer_set {
                        None
                    } else {
                        c.call.as_ref()
                    }
                })
                .and_then(|s| s.talk_time);
            if let Some(t) = talk {
                self.with_chan(leg, |c| c.talk_timer_set = true);
                self.timer(t, Timer::RemoteHangup(leg.to_string()));
            }
        }
    }
}
