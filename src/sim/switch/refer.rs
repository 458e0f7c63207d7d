//! A desk phone's blind transfer (a SIP REFER in the agent's dialog), as `phone-blind-transfer`
//! and `phone-refer-to-queue-entry` (Batch 4) show it: no event announces the REFER; the
//! switch hangs up the referring leg (NORMAL_CLEARING, `send_bye`) with the transfer in its
//! variables, then its partner's UNBRIDGE, and routes the partner to the Refer-To user in the
//! partner's own context, keeping its Unique-ID. An entry point there parks it again.
//!
//! What the simulator does not model: the stock `public_extensions` → `Local_Extension` →
//! `bridge user/10xx` path (a phone as the target answers and plays silence here, like any
//! other extension), attended transfers (Replaces) and `fire-transfer-events`.

use super::{Core, HOST_IP};

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
}
