//! CHANNEL_HOLD / CHANNEL_UNHOLD: a leg's endpoint put on hold or taken off it. Both fire on
//! the held leg itself (the phone that sent the re-INVITE, or the `uuid_hold` target), with
//! the same headers either way (captures `phone-hold`, `api-transfer-and-hold` part A); the
//! engine tells from the leg whose call it is.

use freeswitch_esl_tokio::EslEvent;

use super::translate::Translated;
use crate::engine::{ChannelUuid, Input, SwitchName};

pub(super) fn hold(switch: &SwitchName, event: &EslEvent, held: bool) -> Translated {
    let name = if held {
        "CHANNEL_HOLD"
    } else {
        "CHANNEL_UNHOLD"
    };
    let Some(raw) = event.header_str("Unique-ID") else {
        return Translated::Malformed(format!("{name}: no Unique-ID"));
    };
    match ChannelUuid::parse(raw) {
        Ok(channel) => Translated::Input(Input::LegHold {
            switch: switch.clone(),
            channel,
            held,
        }),
        Err(e) => Translated::Malformed(format!("{name}: {e}")),
    }
}
