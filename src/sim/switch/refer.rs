//! A desk phone's blind transfer (a SIP REFER in the agent's dialog), as `phone-blind-transfer`
//! and `phone-refer-to-queue-entry` (Batch 4) show it: no event announces the REFER; the
//! switch hangs up the referring leg (NORMAL_CLEARING, `send_bye`) with the transfer in its
//! variables, then its partner's UNBRIDGE, and routes the partner to the Refer-To user in the
//! partner's own context, keeping its Unique-ID. An entry point there parks it again.
//!
//! An attended transfer (`phone-attended-transfer`): the phone's consultation call `B` (a call
//! from the same phone, bridged by the stock dialplan to the target's leg `D`), then a REFER
//! with Replaces in the first dialog: `B` unbridges from `D` and hangs up (`ATTENDED_TRANSFER`,
//! `replaced`), the agent leg hangs up with `transfer_to: att:<D>` (`refer_uuid` = `B`), the
//! caller's UNBRIDGE already names `D` as its other leg, then `uuid_bridge` runs on the caller
//! and on `D` and the caller gets CHANNEL_BRIDGE with `D`.
//!
//! A phone that held the caller before consulting (as in the capture): the caller's hold
//! music stops first, and the agent leg comes off hold (UNHELD, CHANNEL_UNHOLD) just before it
//! hangs up.
//!
//! Not modelled: `fire-transfer-events`, a REFER sent on the consultation dialog.

use std::sync::atomic::Ordering;

use super::{Core, Initiator, HOST_IP};

impl Core {
    /// The phone on `leg` (bridged to its partner) sends a blind REFER to `target`. False if
    /// `leg` is not a live, bridged channel.
    pub(crate) fn phone_blind_transfer(&mut self, leg: &str, target: &str) -> bool {
        let Some(ch) = self.channels.get(leg) else {
            return false;
        };
        if ch.hangup_cause.is_some() {
            return false;
        }
        let Some(partner) = ch.bridged_to.clone() else {
            return false;
        };
        let user = ch
            .name
            .rsplit('/')
            .next()
            .and_then(|u| u.split('@').next())
            .unwrap_or_default()
            .to_string();
        let Some(context) = self
            .channels
            .get(&partner)
            .map(|c| c.profile.context.clone())
        else {
            return false;
        };
        self.with_chan(leg, |c| {
            c.set_var("transfer_to", format!("blind:{partner}"));
            c.set_var("transfer_destination", format!("blind:{target}"));
            c.set_var("endpoint_disposition", "BLIND_TRANSFER");
            c.set_var("transfer_disposition", "recv_replace");
            c.set_var("transfer_fallback_extension", user.clone());
        });
        self.with_chan(&partner, |c| {
            c.set_var("sip_refer_to", format!("<sip:{target}@{HOST_IP}>"));
            c.set_var("sip_h_Referred-By", format!("<sip:{user}@{HOST_IP}>"));
        });
        self.transfer(&partner, target, "XML", &context);
        true
    }

    /// The phone on agent leg `leg` calls `target` for a consultation (a second dialog from
    /// the same phone). Returns the consultation call's uuid.
    pub(crate) fn phone_consult_call(&mut self, leg: &str, target: &str) -> Option<String> {
        let user = self.channels.get(leg)?.phone.clone()?;
        let spec = crate::sim::CallSpec::new(&user, target);
        Some(self.place_call(spec))
    }

    /// The phone on `leg` completes an attended transfer: REFER with Replaces naming its
    /// consultation call `consult`. False unless both are bridged.
    pub(crate) fn phone_attended_transfer(&mut self, leg: &str, consult: &str) -> bool {
        let (Some(caller), Some(target)) = (
            self.channels.get(leg).and_then(|c| c.bridged_to.clone()),
            self.channels
                .get(consult)
                .and_then(|c| c.bridged_to.clone()),
        ) else {
            return false;
        };
        self.counters.transfers.fetch_add(1, Ordering::Relaxed);
        self.stop_hold_music_for_refer(leg);
        self.with_chan(consult, |c| {
            c.set_var("endpoint_disposition", "ATTENDED_TRANSFER");
            c.set_var("transfer_disposition", "replaced");
        });
        self.unbridge(consult, &target);
        self.p_hangup(consult, "NORMAL_CLEARING", Initiator::Local, None);
        let bridge_app = self
            .channels
            .get_mut(consult)
            .and_then(|c| c.app.take_if(|a| a.name == "bridge"));
        if let Some(app) = bridge_app {
            self.complete_app(consult, &app, None);
        }
        self.p_state_hangup(consult);
        self.p_complete(consult);
        self.p_destroy(consult);
        self.with_chan(leg, |c| {
            c.set_var("refer_uuid", consult);
            c.set_var("transfer_to", format!("att:{target}"));
            c.set_var("transfer_disposition", "recv_replace");
        });
        self.release_hold_for_refer(leg);
        self.p_hangup(leg, "NORMAL_CLEARING", Initiator::Local, None);
        self.p_state_hangup(leg);
        self.with_chan(&caller, |c| c.other_leg = Some(target.clone()));
        self.unbridge(&caller, leg);
        self.p_complete(leg);
        self.p_destroy(leg);
        self.set_state(&caller, "CS_RESET", 9);
        self.set_state(&caller, "CS_SOFT_EXECUTE", 3);
        self.set_state(&target, "CS_SOFT_EXECUTE", 3);
        for (me, other) in [(&caller, &target), (&target, &caller)] {
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
        self.dialplan_bridged(&caller, &target);
        true
    }
}
