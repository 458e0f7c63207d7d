//! Hangups: each leg's hangup variables and disposition as the real switch sets them, and
//! the CHANNEL_HANGUP .. CHANNEL_DESTROY sequence, for one leg or a bridged pair.

use super::*;

impl Core {
    pub(super) fn disposition(c: &Channel, initiator: Initiator) -> &'static str {
        match (initiator, c.answered_us != 0, c.dir) {
            (Initiator::Remote, true, _) => "recv_bye",
            (Initiator::Remote, false, Dir::Inbound) => "recv_cancel",
            (Initiator::Remote, false, Dir::Outbound) => "recv_refuse",
            (Initiator::Local, true, _) => "send_bye",
            (Initiator::Local, false, Dir::Outbound) => "send_cancel",
            (Initiator::Local, false, Dir::Inbound) => "send_refuse",
        }
    }

    /// Variables the far end's BYE/CANCEL/final response sets before CHANNEL_HANGUP.
    pub(super) fn remote_hangup_vars(c: &mut Channel, cause: &str, status: Option<(&str, &str)>) {
        let disposition = Self::disposition(c, Initiator::Remote);
        if disposition != "recv_bye" {
            c.set_var("sip_hangup_disposition", disposition);
        }
        let (code, phrase, term_cause) = match (disposition, status) {
            (_, Some((code, phrase))) => (code, Some(phrase), q850(cause)),
            ("recv_cancel", None) => ("487", Some("CANCEL"), "487"),
            ("recv_bye", None) => ("200", None, "16"),
            (_, None) => return,
        };
        if let Some(phrase) = phrase {
            c.set_var("sip_invite_failure_status", code);
            c.set_var("sip_invite_failure_phrase", phrase);
        }
        c.set_var("sip_term_status", code);
        c.set_var("proto_specific_hangup_cause", format!("sip:{code}"));
        c.set_var("sip_term_cause", term_cause);
    }

    /// Variables set once the hangup is under way (seen from CHANNEL_HANGUP_COMPLETE on).
    pub(super) fn later_hangup_vars(c: &mut Channel, cause: &str, initiator: Initiator) {
        let disposition = Self::disposition(c, initiator);
        c.set_var("hangup_cause", cause);
        c.set_var("sip_hangup_disposition", disposition);
        if disposition == "send_cancel" {
            c.set_var("sip_invite_failure_status", "487");
            c.set_var("sip_invite_failure_phrase", "CANCEL");
        }
    }

    /// Step 1: CHANNEL_HANGUP (and the NO_ANSWER job result, and the apps ending).
    pub(super) fn p_hangup(
        &mut self,
        uuid: &str,
        cause: &str,
        initiator: Initiator,
        status: Option<(&str, &str)>,
    ) {
        self.gateway_hung_up(uuid);
        let now = self.now_us();
        let Some(c) = self.channels.get_mut(uuid) else {
            return;
        };
        c.hangup_cause = Some(cause.to_string());
        c.answer_state = "hangup";
        c.state_num = 10;
        c.hangup_us = now;
        hold::HoldState::hangup_vars(c, now);
        if initiator == Initiator::Remote {
            Self::remote_hangup_vars(c, cause, status);
        }
        let bridged = c.bridged_to.is_some();
        let timed_out = c.timed_out;
        self.chan_event(uuid, "CHANNEL_HANGUP", &[], &[]);
        self.with_chan(uuid, |c| Self::later_hangup_vars(c, cause, initiator));
        if timed_out {
            // The originate gave up waiting: its result comes before HANGUP_COMPLETE.
            self.finish_job(uuid, &format!("-ERR {cause}\n"));
        }
        self.stop_eavesdrop(uuid);
        self.leave_conference(uuid);
        if !bridged {
            // A BYE breaks the media read (PLAYBACK ERROR); uuid_kill lets a playback end
            // as played (the transfer capture).
            let response = match initiator {
                Initiator::Remote => "PLAYBACK ERROR",
                Initiator::Local => "FILE PLAYED",
            };
            self.abort_app(uuid, response);
            self.unpark(uuid);
        }
    }

    /// Step 2: CS_HANGUP and the HANGUP call state.
    pub(super) fn p_state_hangup(&mut self, uuid: &str) {
        self.set_state(uuid, "CS_HANGUP", 10);
        self.set_callstate(uuid, "HANGUP");
        self.stop_session_recordings(uuid, |_| true);
    }

    /// Step 3: presence, CS_REPORTING, HANGUP_COMPLETE, and a failed job's result.
    pub(super) fn p_complete(&mut self, uuid: &str) {
        self.with_chan(uuid, |c| c.state_num = 11);
        self.presence(uuid, "CS_HANGUP", "idle");
        self.set_state(uuid, "CS_REPORTING", 11);
        let cause = self
            .channels
            .get(uuid)
            .and_then(|c| c.hangup_cause.clone())
            .unwrap_or_default();
        self.chan_event(
            uuid,
            "CHANNEL_HANGUP_COMPLETE",
            &[("Hangup-Cause", cause.clone())],
            &[],
        );
        self.finish_job(uuid, &format!("-ERR {cause}\n"));
    }

    /// Step 4: CHANNEL_DESTROY, CS_DESTROY, gone.
    pub(super) fn p_destroy(&mut self, uuid: &str) {
        self.with_chan(uuid, |c| c.state_num = 12);
        self.chan_event(uuid, "CHANNEL_DESTROY", &[], &[]);
        self.set_state(uuid, "CS_DESTROY", 12);
        self.conference_leg_destroyed(uuid);
        if self.channels.remove(uuid).is_some() {
            self.counters.hung_up.fetch_add(1, Ordering::Relaxed);
        }
        self.changed = true;
    }

    pub(super) fn unbridge(&mut self, a: &str, b: &str) {
        self.chan_event(
            a,
            "CHANNEL_UNBRIDGE",
            &[
                ("Bridge-A-Unique-ID", a.to_string()),
                ("Bridge-B-Unique-ID", b.to_string()),
            ],
            &[],
        );
        for u in [a, b] {
            self.with_chan(u, |c| {
                c.bridged_to = None;
                c.set_var("last_bridge_to", if u == a { b } else { a });
            });
        }
    }

    /// Hangs up `uuid` with the event order of the real switch, including the other
    /// leg of a bridge. Returns false if there is no such live channel.
    pub(super) fn hangup(
        &mut self,
        uuid: &str,
        cause: &str,
        initiator: Initiator,
        status: Option<(&str, &str)>,
    ) -> bool {
        let alive = self
            .channels
            .get(uuid)
            .is_some_and(|c| c.hangup_cause.is_none());
        let eavesdroppers = if alive {
            self.eavesdroppers_losing(uuid)
        } else {
            Vec::new()
        };
        let done = self.hangup_one(uuid, cause, initiator, status);
        for leg in eavesdroppers {
            self.hangup_one(&leg, "NORMAL_CLEARING", Initiator::Local, None);
        }
        done
    }

    pub(super) fn hangup_one(
        &mut self,
        uuid: &str,
        cause: &str,
        initiator: Initiator,
        status: Option<(&str, &str)>,
    ) -> bool {
        let Some(ch) = self.channels.get(uuid) else {
            return false;
        };
        if ch.hangup_cause.is_some() {
            return false;
        }
        self.changed = true;
        let peer = ch.bridged_to.clone();
        let is_a = ch.bridge_a;
        match peer {
            None => {
                self.p_hangup(uuid, cause, initiator, status);
                self.p_state_hangup(uuid);
                self.p_complete(uuid);
                self.p_destroy(uuid);
            }
            Some(peer) if is_a => {
                // The bridging (A) leg goes: the peer is hung up with it.
                self.p_hangup(uuid, cause, initiator, status);
                self.p_hangup(&peer, "NORMAL_CLEARING", Initiator::Local, None);
                self.p_state_hangup(&peer);
                self.unbridge(uuid, &peer);
                self.p_state_hangup(uuid);
                self.p_complete(&peer);
                self.p_destroy(&peer);
                self.p_complete(uuid);
                self.p_destroy(uuid);
            }
            Some(a)
                if self
                    .channels
                    .get(&a)
                    .and_then(|c| c.var("park_after_bridge"))
                    .is_some_and(is_true) =>
            {
                // `park_after_bridge` on A: the bridge ends and A is parked again
                // (switch_ivr_park_session), its park event fired by the core, not by an app.
                self.p_hangup(uuid, cause, initiator, status);
                self.p_state_hangup(uuid);
                self.p_complete(uuid);
                self.unbridge(&a, uuid);
                self.p_destroy(uuid);
                self.set_state(&a, "CS_PARK", 6);
                self.with_chan(&a, |c| {
                    c.park = Some(App {
                        name: "park".to_owned(),
                        arg: String::new(),
                        uuid: String::new(),
                    })
                });
                self.chan_event(&a, "CHANNEL_PARK", &[], &[]);
            }
            Some(a) => {
                // The B leg leaves first; the switch then hangs up A by itself.
                self.p_hangup(uuid, cause, initiator, status);
                self.p_state_hangup(uuid);
                self.p_complete(uuid);
                self.unbridge(&a, uuid);
                self.set_state(&a, "CS_EXECUTE", 4);
                self.p_hangup(&a, "NORMAL_CLEARING", Initiator::Local, None);
                self.p_state_hangup(&a);
                self.p_destroy(uuid);
                self.p_complete(&a);
                self.p_destroy(&a);
            }
        }
        true
    }
}
