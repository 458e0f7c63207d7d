//! A leg's hangup that is a transfer: the switch hangs up the leg whose phone sent a REFER and
//! says so only in variables (Batch 4: `Hangup-Cause` stays `NORMAL_CLEARING`).
//! `variable_transfer_to` is `blind:<the leg transferred>` or `att:<its new partner>`;
//! `variable_transfer_destination` is `blind:<Refer-To user>`.

use freeswitch_esl_tokio::EslEvent;

use crate::engine::{ChannelId, Input, LegTransfer, SwitchName, TransferKind};

/// The transfer a hangup with `variable_transfer_to` reports, or why it cannot be read.
pub(super) fn leg_transferred(switch: &SwitchName, event: &EslEvent) -> Result<Input, String> {
    let leg = event
        .header_str("Unique-ID")
        .ok_or("CHANNEL_HANGUP: no Unique-ID")
        .and_then(|raw| ChannelId::parse(raw).map_err(|_| "CHANNEL_HANGUP: bad Unique-ID"))?;
    let raw = event.variable_str("transfer_to").unwrap_or_default();
    let (kind, partner) = match raw.split_once(':') {
        Some(("blind", p)) => (TransferKind::Blind, p),
        Some(("att", p)) => (TransferKind::Attended, p),
        _ => {
            return Err(format!(
                "CHANNEL_HANGUP {leg}: transfer_to is neither blind: nor att:"
            ))
        }
    };
    let partner =
        ChannelId::parse(partner).map_err(|e| format!("CHANNEL_HANGUP {leg}: transfer_to: {e}"))?;
    let destination = event
        .variable_str("transfer_destination")
        .map(|d| d.strip_prefix("blind:").unwrap_or(d))
        .unwrap_or_default()
        .to_owned();
    Ok(Input::LegTransferred(LegTransfer {
        switch: switch.clone(),
        leg,
        kind,
        partner,
        destination,
        cause: event
            .header_str("Hangup-Cause")
            .unwrap_or("UNSPECIFIED")
            .to_owned(),
    }))
}

/// The leg that bridged this outbound one, for a leg the switch's `bridge` app created
/// (`Other-Leg-Unique-ID` from its CHANNEL_CREATE on, `Other-Type: originator`).
pub(super) fn bridged_by_dialplan(event: &EslEvent) -> Option<ChannelId> {
    if event.header_str("Call-Direction") != Some("outbound")
        || event.header_str("Other-Type") != Some("originator")
    {
        return None;
    }
    ChannelId::parse(event.header_str("Other-Leg-Unique-ID")?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hangup(vars: &[(&str, &str)]) -> EslEvent {
        let mut e = EslEvent::new();
        e.set_header("Event-Name", "CHANNEL_HANGUP");
        e.set_header("Unique-ID", "922c2f1a-05a3-41c1-a8f0-e7bb12e85ac9");
        e.set_header("Hangup-Cause", "NORMAL_CLEARING");
        for (k, v) in vars {
            e.set_header(format!("variable_{k}"), *v);
        }
        e
    }

    fn sw() -> SwitchName {
        SwitchName::new("fs1").expect("a valid switch name")
    }

    #[test]
    fn a_leg_hung_up_by_a_blind_refer_is_a_blind_transfer_of_its_partner() {
        let e = hangup(&[
            ("transfer_to", "blind:90167103-3616-4f23-b560-4256403b7ca9"),
            ("transfer_destination", "blind:9199"),
            ("endpoint_disposition", "BLIND_TRANSFER"),
        ]);
        let Ok(Input::LegTransferred(t)) = leg_transferred(&sw(), &e) else {
            panic!("not a transfer");
        };
        assert_eq!(t.kind, TransferKind::Blind);
        assert_eq!(t.partner.as_str(), "90167103-3616-4f23-b560-4256403b7ca9");
        assert_eq!(t.destination, "9199");
        assert_eq!(t.cause, "NORMAL_CLEARING");
    }

    #[test]
    fn a_leg_replaced_by_an_attended_transfer_names_the_new_partner() {
        let e = hangup(&[("transfer_to", "att:2a37edf4-2753-4c9f-b628-c514d6e0cd6d")]);
        let Ok(Input::LegTransferred(t)) = leg_transferred(&sw(), &e) else {
            panic!("not a transfer");
        };
        assert_eq!(t.kind, TransferKind::Attended);
        assert_eq!(t.partner.as_str(), "2a37edf4-2753-4c9f-b628-c514d6e0cd6d");
        assert_eq!(t.destination, "");
    }

    #[test]
    fn an_unreadable_transfer_target_is_malformed() {
        let e = hangup(&[("transfer_to", "sideways:x")]);
        assert!(leg_transferred(&sw(), &e).is_err());
    }

    #[test]
    fn a_phone_leg_the_dialplan_bridged_names_its_partner_when_answered() {
        let mut e = EslEvent::new();
        for (k, v) in [
            ("Event-Name", "CHANNEL_ANSWER"),
            ("Unique-ID", "6e9acbb0-9df8-41dd-9c1f-db9b74323f7e"),
            ("Channel-Name", "sofia/internal/1002@127.0.0.1:5312"),
            ("Call-Direction", "outbound"),
            ("Other-Type", "originator"),
            (
                "Other-Leg-Unique-ID",
                "8a4e68ed-ec15-4952-ab11-a7d8eddfbacf",
            ),
            ("variable_dialed_user", "1002"),
        ] {
            e.set_header(k, v);
        }
        let partner = bridged_by_dialplan(&e).expect("a leg the dialplan bridged");
        assert_eq!(partner.as_str(), "8a4e68ed-ec15-4952-ab11-a7d8eddfbacf");
    }
}
