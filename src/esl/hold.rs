//! CHANNEL_HOLD / CHANNEL_UNHOLD: a leg's endpoint put on hold or taken off it. Both fire on
//! the held leg itself (the phone that sent the re-INVITE, or the `uuid_hold` target), with
//! the same headers either way (captures `phone-hold`, `api-transfer-and-hold` part A); the
//! engine tells from the leg whose call it is.

use freeswitch_esl_tokio::EslEvent;

use super::translate::Translated;
use crate::engine::{ChannelId, Input, SwitchName};

pub(super) fn hold(switch: &SwitchName, event: &EslEvent, held: bool) -> Translated {
    let name = if held {
        "CHANNEL_HOLD"
    } else {
        "CHANNEL_UNHOLD"
    };
    let Some(raw) = event.header_str("Unique-ID") else {
        return Translated::Malformed(format!("{name}: no Unique-ID"));
    };
    match ChannelId::parse(raw) {
        Ok(channel) => Translated::Input(Input::LegHold {
            switch: switch.clone(),
            channel,
            held,
        }),
        Err(e) => Translated::Malformed(format!("{name}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::command::{render, Wire};
    use super::super::translate::{translate, SUBSCRIBED_EVENTS};
    use super::*;
    use crate::engine::SwitchCommand;

    const LEG: &str = "ed969d29-a87f-46b2-a727-62ccf6bc954d";

    fn event(name: &str) -> EslEvent {
        let mut e = EslEvent::new();
        e.set_header("Event-Name", name);
        e.set_header("Unique-ID", LEG);
        e
    }

    fn sw() -> SwitchName {
        SwitchName::new("fs1").expect("name")
    }

    #[test]
    fn channel_hold_and_unhold_are_the_held_legs_hold_and_its_end() {
        for (name, held) in [("CHANNEL_HOLD", true), ("CHANNEL_UNHOLD", false)] {
            assert_eq!(
                translate(&sw(), &event(name)),
                Translated::Input(Input::LegHold {
                    switch: sw(),
                    channel: ChannelId::parse(LEG).expect("uuid"),
                    held,
                })
            );
        }
        let mut nameless = EslEvent::new();
        nameless.set_header("Event-Name", "CHANNEL_HOLD");
        assert!(matches!(
            translate(&sw(), &nameless),
            Translated::Malformed(_)
        ));
    }

    #[test]
    fn hold_events_are_subscribed_before_custom() {
        let words: Vec<&str> = SUBSCRIBED_EVENTS.split_whitespace().collect();
        let at = |name: &str| words.iter().position(|w| *w == name);
        for name in ["CHANNEL_HOLD", "CHANNEL_UNHOLD"] {
            assert!(at(name).is_some_and(|i| Some(i) < at("CUSTOM")), "{name}");
        }
    }

    #[test]
    fn hold_commands_are_the_captured_uuid_hold_and_a_checked_hold_music() {
        let channel = ChannelId::parse(LEG).expect("uuid");
        let line = |command: SwitchCommand| match render(&command, "") {
            Ok(Wire::Api(line)) => line,
            other => panic!("not an api line: {other:?}"),
        };
        assert_eq!(
            line(SwitchCommand::Hold {
                channel: channel.clone(),
                on: true
            }),
            format!("uuid_hold {LEG}")
        );
        assert_eq!(
            line(SwitchCommand::Hold {
                channel: channel.clone(),
                on: false
            }),
            format!("uuid_hold off {LEG}")
        );
        assert_eq!(
            line(SwitchCommand::HoldMusic {
                channel: channel.clone(),
                source: "local_stream://moh".into()
            }),
            format!("uuid_setvar {LEG} hold_music local_stream://moh")
        );
        for bad in ["shell_stream://rm -rf /", "moh.wav\napi shutdown", "${x}"] {
            let refused = render(
                &SwitchCommand::HoldMusic {
                    channel: channel.clone(),
                    source: bad.into(),
                },
                "",
            );
            assert!(refused.is_err(), "{bad:?}");
        }
    }
}
