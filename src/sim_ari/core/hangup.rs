//! How channels end: the event sequence of each way a channel can go (far-end BYE, CANCEL,
//! DELETE, busy, no answer, shutdown, a snoop losing its spied channel), as captured.
//! Asterisk never hangs up a partner: nothing here touches another channel but snoops.

use super::{ChanState, Core, Origin};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    /// The far end sent BYE.
    Bye,
    /// The caller CANCELled before answer (cause 127, SIP 487).
    Cancel,
    /// `DELETE /channels/<id>` with this Q.850 cause.
    Delete(i64),
    /// The phone answered 486.
    Busy,
    /// The phone answered 603.
    Rejected,
    /// The originate's `timeout` ran out while the phone rang.
    Timeout,
    /// SIP timer B: nobody at the address (cause 18, 408).
    SipTimeout,
    /// `core restart now`.
    Shutdown,
    /// A snoop whose spied channel went away.
    SpiedGone,
    /// `continue` into the dialplan's `Hangup()`.
    DialplanHangup,
}

pub(crate) fn cause_text(cause: i64) -> &'static str {
    match cause {
        0 => "Unknown",
        1 => "Unallocated (unassigned) number",
        16 => "Normal Clearing",
        17 => "User busy",
        18 => "No user responding",
        19 => "User alerting, no answer",
        21 => "Call Rejected",
        27 => "Destination out of order",
        34 => "Circuit/channel congestion",
        38 => "Network out of order",
        127 => "Interworking, unspecified",
        _ => "Unknown",
    }
}

const RTP_QOS: [(&str, &str); 5] = [
    ("RTPAUDIOQOS", "ssrc=0;themssrc=0;lp=0;rxjitter=0.000000;rxcount=0;txjitter=0.000000;txcount=0;rlp=0;rtt=0.000000;rxmes=0.000000;txmes=0.000000"),
    ("RTPAUDIOQOSJITTER", "minrxjitter=000.000000;maxrxjitter=000.000000;avgrxjitter=000.000000;stdevrxjitter=000.000000;mintxjitter=000.000000;maxtxjitter=000.000000;avgtxjitter=000.000000;stdevtxjitter=000.000000;"),
    ("RTPAUDIOQOSLOSS", "  minrxlost=000.000000;  maxrxlost=000.000000;  avgrxlost=000.000000;  stdevrxlost=000.000000;  mintxlost=000.000000;  maxtxlost=000.000000;  avgtxlost=000.000000;  stdevtxlost=000.000000;"),
    ("RTPAUDIOQOSRTT", "     minrtt=000.000000;     maxrtt=000.000000;     avgrtt=000.000000;     stdevrtt=000.000000;"),
    ("RTPAUDIOQOSMES", "   minrxmes=000.000000;   maxrxmes=000.000000;   avgrxmes=000.000000;   stdevrxmes=000.000000;   mintxmes=000.000000;   maxtxmes=000.000000;   avgtxmes=000.000000;   stdevtxmes=000.000000;"),
];

impl Core {
    /// Ends channel `id` the way `ending` says; false if it does not exist.
    pub fn end_channel(&mut self, id: &str, ending: Ending) -> bool {
        let Some(ch) = self.channels.get(id).cloned() else {
            return false;
        };
        if ch.destroyed {
            return false;
        }
        if let Some(c) = self.channels.get_mut(id) {
            c.destroyed = true;
        }
        let answered = ch.state == ChanState::Up;
        let is_snoop = matches!(ch.origin, Origin::Snoop { .. });
        let from_dialplan = ch.origin == Origin::Inbound;
        let peer = ch.bridge.as_ref().and_then(|b| {
            self.bridges
                .iter()
                .find(|x| &x.id == b)
                .and_then(|x| x.channels.iter().find(|c| *c != id).cloned())
        });

        if answered && !is_snoop && !matches!(ending, Ending::Shutdown | Ending::SpiedGone) {
            for (name, value) in RTP_QOS {
                self.varset(id, name, value);
                if let Some(p) = &peer {
                    if matches!(ending, Ending::Bye) {
                        self.varset(p, &format!("{name}BRIDGED"), value);
                    }
                }
            }
        }

        let (cause, tech): (i64, Option<i64>) = match ending {
            Ending::Bye => (if ch.bridge.is_some() { 16 } else { 0 }, None),
            Ending::Cancel => (127, Some(487)),
            Ending::Delete(c) => (c, None),
            Ending::Busy => (17, Some(486)),
            Ending::Rejected => (21, Some(603)),
            Ending::Timeout => (19, Some(480)),
            Ending::SipTimeout => (18, Some(408)),
            Ending::Shutdown | Ending::SpiedGone => (0, None),
            Ending::DialplanHangup => (16, None),
        };

        match ending {
            Ending::Bye => self.hangup_request(id, None, false, None),
            Ending::Cancel => self.hangup_request(id, Some(127), false, Some(487)),
            Ending::Delete(_) => self.hangup_request(id, Some(32), true, None),
            Ending::Busy => self.hangup_request(id, Some(17), false, Some(486)),
            Ending::Rejected => self.hangup_request(id, Some(21), false, Some(603)),
            Ending::SipTimeout => self.hangup_request(id, Some(18), false, Some(408)),
            Ending::Timeout if ch.stasis.is_some() => self.hangup_request(id, Some(32), true, None),
            Ending::Shutdown => self.hangup_request(id, Some(4), true, None),
            Ending::Timeout | Ending::SpiedGone | Ending::DialplanHangup => {}
        }

        if let Some(bridge) = ch.bridge.clone() {
            if peer.is_some() && !is_snoop {
                self.varset(id, "BRIDGEPEER", "");
                self.varset(id, "BRIDGEPVTCALLID", "");
            }
            self.leave_bridge(id, &bridge);
        }
        let dialplan_partners: Vec<String> = ch
            .bridge
            .as_ref()
            .and_then(|b| self.bridge(b))
            .filter(|b| b.dialplan)
            .map(|b| b.channels.clone())
            .unwrap_or_default();

        let outbound_unanswered =
            matches!(ch.origin, Origin::Originated { .. }) && !answered && ch.stasis.is_none();
        if outbound_unanswered {
            match ending {
                Ending::Delete(_) | Ending::SipTimeout => self.dial_event(id, "NOANSWER"),
                Ending::Busy => self.dial_event(id, "BUSY"),
                Ending::Rejected => self.dial_event(id, "CONGESTION"),
                _ => {}
            }
        }

        if ch.stasis.is_some() && ending != Ending::DialplanHangup {
            self.channel_event("StasisEnd", id, "");
            if from_dialplan {
                if let Some(c) = self.channels.get_mut(id) {
                    c.subscribed.clear();
                }
            }
            self.varset(id, "STASISSTATUS", "SUCCESS");
        }
        if from_dialplan {
            let tech_soft = if ending == Ending::Cancel {
                Some(487)
            } else {
                None
            };
            self.hangup_request(id, Some(16), true, tech_soft);
        }

        let mut fields = format!("\"cause\":{cause},\"cause_txt\":\"{}\",", cause_text(cause));
        if let Some(t) = tech {
            fields.push_str(&format!("\"tech_cause\":{t},"));
        }
        self.destroy_event(id, &fields);
        self.channels.remove(id);
        self.channel_order.retain(|c| c != id);
        self.stats.hung_up += 1;
        self.refresh_device(&ch.endpoint);
        self.playbacks_on_channel_gone(id);
        self.recordings_on_target_gone(&format!("channel:{id}"));

        // A dialplan bridge ends with either party (`Dial()` hangs up the other).
        for partner in dialplan_partners {
            self.end_channel(&partner, Ending::Delete(16));
        }
        if let Some(dialled) = self
            .consult_dials
            .iter()
            .find(|(_, consulting)| *consulting == id)
            .map(|(dialled, _)| dialled.clone())
        {
            self.consult_dials.remove(&dialled);
            self.end_channel(&dialled, Ending::Delete(16));
        }
        if let Some(consulting) = self.consult_dials.remove(id) {
            self.end_channel(&consulting, Ending::Delete(17));
        }
        if let Origin::Local { peer } = &ch.origin {
            // A Local pair ends together (*assumed*, as `core/local.c` hangs up the other half).
            self.end_channel(peer, Ending::Delete(16));
        }
        let snoops: Vec<String> = self
            .channels
            .values()
            .filter(|c| matches!(&c.origin, Origin::Snoop { spied } if spied == id))
            .map(|c| c.id.clone())
            .collect();
        for snoop in snoops {
            self.end_channel(&snoop, Ending::SpiedGone);
        }
        true
    }

    /// ChannelDestroyed: the dialplan object is stale (inbound: `app_name ""`).
    fn destroy_event(&mut self, id: &str, fields: &str) {
        let Some(mut ch) = self.channels.get(id).cloned() else {
            return;
        };
        if ch.origin == Origin::Inbound {
            ch.dialplan.3 = String::new();
            ch.dialplan.4 = String::new();
        }
        let body = format!("{fields}\"channel\":{}", self.channel_json(&ch));
        self.emit(super::Event {
            prefix: String::new(),
            kind: "ChannelDestroyed",
            body,
            layout: super::Layout::Normal,
            channels: vec![id.to_string()],
            bridges: Vec::new(),
            doubled: false,
        });
    }

    /// The far end hangs up: CANCEL while an inbound call rings, BYE otherwise.
    pub fn far_end_hangup(&mut self, id: &str) -> bool {
        let Some(ch) = self.channels.get(id) else {
            return false;
        };
        let ending = match (&ch.origin, ch.state) {
            (Origin::Inbound, ChanState::Ring) => Ending::Cancel,
            (Origin::Originated { .. }, s) if s != ChanState::Up => Ending::Busy,
            _ => Ending::Bye,
        };
        self.end_channel(id, ending)
    }
}

impl Core {
    /// `core restart now`, first half: every channel gets the shutdown sequence.
    pub fn shutdown(&mut self) {
        let ids: Vec<String> = self.channel_order.clone();
        for id in ids {
            let is_snoop = self
                .channels
                .get(&id)
                .is_some_and(|c| matches!(c.origin, Origin::Snoop { .. }));
            if !is_snoop {
                self.end_channel(&id, Ending::Shutdown);
            }
        }
        let rest: Vec<String> = self.channel_order.clone();
        for id in rest {
            self.end_channel(&id, Ending::Shutdown);
        }
        self.apps.clear();
    }

    /// `core restart now`, second half: a fresh process (stored recordings stay on disk).
    pub fn reboot(&mut self) {
        self.channels.clear();
        self.channel_order.clear();
        self.bridges.clear();
        self.playbacks = Default::default();
        self.recordings.live.clear();
        self.snoops.clear();
        self.endpoint_states.clear();
        self.apps.clear();
        self.id_counter = 0;
        self.name_counter = 0;
        self.startup_time = crate::sim_ari::wire::ari_timestamp();
        self.booting = true;
    }
}
