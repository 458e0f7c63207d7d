//! A desk phone's blind transfer (SIP REFER) of the call on its leg, as Asterisk carries it
//! out for a leg in a Stasis bridge. *Assumed*: no capture shows a REFER on Asterisk; the
//! sequence follows the source (`main/bridge.c` `ast_bridge_transfer_blind` →
//! `blind_transfer_bridge`, `res/stasis/stasis_bridge.c`, `res/res_pjsip_refer.c`):
//! `BLINDTRANSFER` set on the bridge's channels, a Local pair created, `;1` entering the app
//! with `replace_channel` and swapped into the bridge for the transferring leg, the
//! `BridgeBlindTransfer` event, `;2` running the destination in the phone's context, and the
//! phone's BYE once it hears the transfer went through. An attended transfer joins the call
//! with the phone's consultation (a plain `Dial()` to another phone, never in Stasis): `;1`
//! stands in for the phone's leg in our bridge, `;2` for its consultation channel in the
//! dialplan's bridge, the consultation channel is hung up, and `BridgeAttendedTransfer` says
//! who was joined to whom.

use std::time::Duration;

use super::calls::{Originate, PHONES_CONTEXT};
use super::hangup::Ending;
use super::{ChanState, Core, Origin, Timer};
use crate::sim_ari::wire::str_list;

/// How long after the REFER the phone hangs up its own leg (its BYE after NOTIFY 200).
const BYE_AFTER_REFER: Duration = Duration::from_millis(20);

impl Core {
    /// The phone on `leg` (a phone's channel in a bridge) blind-transfers the other party to
    /// `exten`; false if `leg` is not a phone's bridged channel.
    pub fn phone_blind_transfer(&mut self, leg: &str, exten: &str) -> bool {
        let Some(transferer) = self.channels.get(leg).cloned() else {
            return false;
        };
        if self.phone(&transferer.endpoint).is_none() {
            return false;
        }
        let Some(bridge) = transferer.bridge.clone() else {
            return false;
        };
        let Some(transferee) = self
            .bridge(&bridge)
            .and_then(|b| b.channels.iter().find(|c| *c != leg).cloned())
        else {
            return false;
        };
        for member in [&transferee, &leg.to_owned()] {
            self.varset(member, "BLINDTRANSFER", &transferer.name);
        }
        let (one, two) = self.local_pair(exten, PHONES_CONTEXT, &transferee);
        self.varset(&one, "BLINDTRANSFER", &transferer.name);

        // `;1` goes to the app in place of the transferring leg, and takes its place.
        self.set_state(&one, ChanState::Up);
        let app = stasis_app_of(&transferer);
        self.start_stasis_replacing(&one, &app, leg);
        self.leave_bridge(leg, &bridge);
        self.add_to_bridge(&bridge, &one);
        self.blind_transfer_event(leg, &one, &transferee, &bridge, exten);

        // `;2` runs the destination in the phone's context.
        self.run_local(&two, exten);
        self.schedule(
            BYE_AFTER_REFER,
            Timer::PhoneHangsUp {
                channel: leg.to_owned(),
            },
        );
        true
    }

    /// `Local/<exten>@<context>-<n>;1` and `;2`, each created; their ids.
    fn local_pair(&mut self, exten: &str, context: &str, caller_of: &str) -> (String, String) {
        let serial = self.name_counter;
        self.name_counter += 1;
        let base = format!("Local/{exten}@{context}-{serial:08x}");
        let one = self.next_channel_id(None);
        let two = self.next_channel_id(None);
        let caller = self
            .channels
            .get(caller_of)
            .map(|c| c.caller.clone())
            .unwrap_or_default();
        for (id, half, peer) in [(&one, 1, &two), (&two, 2, &one)] {
            let mut ch = self.new_channel(
                id.clone(),
                format!("{base};{half}"),
                "",
                Origin::Local { peer: peer.clone() },
            );
            ch.caller = caller.clone();
            ch.dialplan = (
                context.into(),
                exten.into(),
                1,
                String::new(),
                String::new(),
            );
            self.insert_channel(ch);
            self.created_event(id);
        }
        (one, two)
    }

    /// StasisStart with `replace_channel`: the channel stands in for `replaced`.
    fn start_stasis_replacing(&mut self, id: &str, app: &str, replaced: &str) {
        self.varset(id, "STASISSTATUS", "");
        if let Some(c) = self.channels.get_mut(id) {
            c.stasis = Some((app.to_owned(), Vec::new()));
            if self.apps.iter().any(|a| a.name == app) {
                c.subscribed.insert(app.to_owned());
            }
        }
        let (Some(ch), Some(old)) = (self.channels.get(id), self.channels.get(replaced)) else {
            return;
        };
        let body = format!(
            "\"args\":{},\"channel\":{},\"replace_channel\":{}",
            str_list(&[]),
            self.channel_json(ch),
            self.channel_json(old)
        );
        self.emit(super::Event {
            prefix: String::new(),
            kind: "StasisStart",
            body,
            layout: super::Layout::Normal,
            channels: vec![id.to_owned(), replaced.to_owned()],
            bridges: Vec::new(),
            doubled: false,
        });
    }

    fn blind_transfer_event(
        &mut self,
        leg: &str,
        stand_in: &str,
        transferee: &str,
        bridge: &str,
        exten: &str,
    ) {
        let json = |id: &str| {
            self.channels
                .get(id)
                .map(|c| self.channel_json(c))
                .unwrap_or_else(|| "{}".into())
        };
        let bridge_json = self
            .bridge(bridge)
            .map(|b| self.bridge_json(b))
            .unwrap_or_else(|| "{}".into());
        let body = format!(
            "\"channel\":{},\"replace_channel\":{},\"transferee\":{},\"bridge\":{bridge_json},\"exten\":{},\"context\":{},\"is_external\":true,\"result\":\"Success\"",
            json(leg),
            json(stand_in),
            json(transferee),
            crate::sim_ari::wire::quote(exten),
            crate::sim_ari::wire::quote(PHONES_CONTEXT),
        );
        self.emit(super::Event {
            prefix: String::new(),
            kind: "BridgeBlindTransfer",
            body,
            layout: super::Layout::Normal,
            channels: vec![leg.to_owned(), stand_in.to_owned(), transferee.to_owned()],
            bridges: vec![bridge.to_owned()],
            doubled: false,
        });
    }

    /// `;2` runs `exten`: an entry point as a caller would, anything else answers and waits
    /// (the simulator knows no other extensions).
    fn run_local(&mut self, id: &str, exten: &str) {
        let entry = self
            .config
            .entry_points
            .iter()
            .position(|e| e.number == exten);
        match entry {
            Some(index) => {
                if let Some(c) = self.channels.get_mut(id) {
                    c.entry = Some(index);
                }
                self.run_entry(id, index, 1);
            }
            None => {
                self.dialplan_step(id, 1, "Answer", "");
                self.set_state(id, ChanState::Up);
            }
        }
    }

    /// The phone on `leg` calls the phone `target` for a consultation, as the phones' own
    /// dialplan would (`Dial(PJSIP/<target>)`, never in Stasis): the consulting phone's new
    /// channel, or `None` if `leg` or `target` is no phone.
    pub fn phone_consult_call(&mut self, leg: &str, target: &str) -> Option<String> {
        let user = self.channels.get(leg)?.endpoint.clone();
        self.phone(&user)?;
        self.phone(target)?;
        let id = self.next_channel_id(None);
        let name = self.next_channel_name(&user);
        let mut ch = self.new_channel(id.clone(), name, &user, Origin::Inbound);
        ch.state = ChanState::Ring;
        ch.caller = (user.clone(), user.clone());
        ch.dialplan = (
            PHONES_CONTEXT.into(),
            target.into(),
            1,
            String::new(),
            String::new(),
        );
        ch.protocol_id = uuid::Uuid::new_v4().to_string();
        self.insert_channel(ch);
        self.created_event(&id);
        self.dialplan_step(&id, 1, "Dial", &format!("PJSIP/{target}"));
        let dialled = self.originate(Originate {
            endpoint: format!("PJSIP/{target}"),
            app: String::new(),
            app_args: Vec::new(),
            channel_id: None,
            caller_id: Some((user.clone(), user)),
            timeout: None,
            variables: Vec::new(),
        });
        match dialled {
            Ok((dialled, _)) => {
                self.consult_dials.insert(dialled, id.clone());
            }
            Err(_) => {
                self.end_channel(&id, Ending::Delete(20));
                return None;
            }
        }
        Some(id)
    }

    /// The consulted phone answered: the consulting channel answers and both are bridged by
    /// the dialplan.
    pub(crate) fn consultation_answered(&mut self, consulting: &str, dialled: &str) {
        self.set_state(consulting, ChanState::Up);
        let Ok(bridge) = self.create_bridge(None, Some("mixing"), None) else {
            return;
        };
        if let Some(b) = self.bridges.iter_mut().find(|b| b.id == bridge) {
            b.dialplan = true;
        }
        self.add_to_bridge(&bridge, consulting);
        self.add_to_bridge(&bridge, dialled);
    }

    /// The phone on `leg` joins its call with its consultation `consult` (a REFER with
    /// Replaces sent on the held call); false unless both are bridged.
    pub fn phone_attended_transfer(&mut self, leg: &str, consult: &str) -> bool {
        let bridge_of =
            |core: &Core, id: &str| core.channels.get(id).and_then(|c| c.bridge.clone());
        let (Some(ours), Some(theirs)) = (bridge_of(self, leg), bridge_of(self, consult)) else {
            return false;
        };
        let other = |core: &Core, bridge: &str, me: &str| {
            core.bridge(bridge)
                .and_then(|b| b.channels.iter().find(|c| *c != me).cloned())
        };
        let (Some(transferee), Some(target)) =
            (other(self, &ours, leg), other(self, &theirs, consult))
        else {
            return false;
        };
        let Some(transferer) = self.channels.get(leg).cloned() else {
            return false;
        };
        for member in [&transferee, &leg.to_owned()] {
            self.varset(member, "ATTENDEDTRANSFER", &transferer.name);
        }
        let (one, two) = self.local_pair("_attended", "transfer", &transferee);
        self.set_state(&two, ChanState::Up);
        self.leave_bridge(consult, &theirs);
        self.add_to_bridge(&theirs, &two);
        self.set_state(&one, ChanState::Up);
        let app = stasis_app_of(&transferer);
        self.start_stasis_replacing(&one, &app, leg);
        self.leave_bridge(leg, &ours);
        self.add_to_bridge(&ours, &one);
        let json = |core: &Core, id: &str| {
            core.channels
                .get(id)
                .map(|c| core.channel_json(c))
                .unwrap_or_else(|| "{}".into())
        };
        let bridge_json = |core: &Core, id: &str| {
            core.bridge(id)
                .map(|b| core.bridge_json(b))
                .unwrap_or_else(|| "{}".into())
        };
        let body = format!(
            "\"transferer_first_leg\":{},\"transferer_second_leg\":{},\"transferee\":{},\"transfer_target\":{},\"transferer_first_leg_bridge\":{},\"transferer_second_leg_bridge\":{},\"destination_type\":\"link\",\"destination_link_first_leg\":{},\"destination_link_second_leg\":{},\"is_external\":true,\"result\":\"Success\"",
            json(self, leg),
            json(self, consult),
            json(self, &transferee),
            json(self, &target),
            bridge_json(self, &ours),
            bridge_json(self, &theirs),
            json(self, &one),
            json(self, &two),
        );
        self.end_channel(consult, Ending::Delete(16));
        self.emit(super::Event {
            prefix: String::new(),
            kind: "BridgeAttendedTransfer",
            body,
            layout: super::Layout::Normal,
            channels: vec![leg.to_owned(), transferee, target],
            bridges: vec![ours, theirs],
            doubled: false,
        });
        self.schedule(
            BYE_AFTER_REFER,
            Timer::PhoneHangsUp {
                channel: leg.to_owned(),
            },
        );
        true
    }
}

/// The Stasis app a channel is in (the transferring leg's: its stand-in enters the same one).
fn stasis_app_of(channel: &super::Channel) -> String {
    channel
        .stasis
        .as_ref()
        .map(|(app, _)| app.clone())
        .unwrap_or_default()
}
