//! Supervisor monitoring on the wire (capture `eavesdrop`): the supervisor's leg is an
//! originate of ours whose application joins the caller's call, `&eavesdrop(<caller>)` to
//! listen (with `eavesdrop_whisper_aleg=true` to whisper: the eavesdropped caller's read
//! stream carries the supervisor to its partner, the agent) or `&three_way(<caller>)` to
//! barge. `switchboard_role=monitor` marks the leg as ours, so its answer is no call elsewhere
//! and no caller, and its failed originate reaches the engine. A mode change is a key sent to
//! the eavesdrop (`uuid_recv_dtmf`, assumed: no capture shows it); the notice to the agent is
//! `uuid_broadcast <agent leg> <source> aleg`.

use super::command::{check_dial_string, UnsafeValue, Wire};
use crate::engine::monitor::MonitorMode;
use crate::engine::SwitchCommand;

/// Renders the monitoring commands (any other command is refused).
pub(super) fn render(command: &SwitchCommand) -> Result<Wire, UnsafeValue> {
    match command {
        SwitchCommand::Monitor {
            leg,
            call,
            target,
            mode,
            dial_string,
            timeout,
        } => check_dial_string(dial_string).map(|dial| {
            let mut vars = format!(
                "origination_uuid={leg},originate_timeout={},switchboard_role=monitor,\
                 switchboard_call_id={call}",
                timeout.as_secs().max(1)
            );
            if *mode == MonitorMode::Whisper {
                vars.push_str(",eavesdrop_whisper_aleg=true");
            }
            let app = match mode {
                MonitorMode::Barge => "three_way",
                MonitorMode::Listen | MonitorMode::Whisper => "eavesdrop",
            };
            Wire::BgApi(format!("originate {{{vars}}}{dial} &{app}({target})"))
        }),
        SwitchCommand::MonitorKey { leg, digit } => {
            if matches!(digit, '0' | '1' | '2' | '3') {
                Ok(Wire::Api(format!("uuid_recv_dtmf {leg} {digit}")))
            } else {
                Err(UnsafeValue::Rejected {
                    what: "eavesdrop key",
                    value: digit.to_string(),
                })
            }
        }
        SwitchCommand::TakeOver { caller, leg } => {
            Ok(Wire::Api(format!("uuid_bridge {caller} {leg}")))
        }
        _ => Err(UnsafeValue::Rejected {
            what: "monitoring command",
            value: "another command".to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::command::render as render_any;
    use super::*;
    use crate::engine::{CallId, ChannelId};

    const S: &str = "2ec39703-c0e2-4d88-b638-4fc06752645c";
    const CALLER: &str = "bd61181c-f26c-48d9-9687-f788b9996cfc";

    fn monitor(mode: MonitorMode, dial: &str) -> SwitchCommand {
        SwitchCommand::Monitor {
            leg: ChannelId::parse(S).expect("uuid"),
            call: CallId::from_uuid(uuid::Uuid::from_u128(7)),
            target: ChannelId::parse(CALLER).expect("uuid"),
            mode,
            dial_string: dial.into(),
            timeout: Duration::from_secs(30),
        }
    }

    fn bgapi(command: SwitchCommand) -> String {
        match render_any(&command, "") {
            Ok(Wire::BgApi(line)) => line,
            other => panic!("not a bgapi line: {other:?}"),
        }
    }

    #[test]
    fn each_mode_is_the_captured_originate() {
        let call = CallId::from_uuid(uuid::Uuid::from_u128(7));
        let vars = format!(
            "origination_uuid={S},originate_timeout=30,switchboard_role=monitor,switchboard_call_id={call}"
        );
        assert_eq!(
            bgapi(monitor(MonitorMode::Listen, "user/1003")),
            format!("originate {{{vars}}}user/1003 &eavesdrop({CALLER})")
        );
        assert_eq!(
            bgapi(monitor(MonitorMode::Whisper, "user/1003")),
            format!(
                "originate {{{vars},eavesdrop_whisper_aleg=true}}user/1003 &eavesdrop({CALLER})"
            )
        );
        assert_eq!(
            bgapi(monitor(MonitorMode::Barge, "sofia/internal/1003@10.0.0.5")),
            format!("originate {{{vars}}}sofia/internal/1003@10.0.0.5 &three_way({CALLER})")
        );
    }

    #[test]
    fn a_dial_string_that_could_smuggle_options_is_refused() {
        for bad in [
            "user/1003,user/1004",
            "{x=y}user/1003",
            "user/1003 &park()",
            "user/1003\napi shutdown",
        ] {
            assert!(
                render_any(&monitor(MonitorMode::Listen, bad), "").is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn keys_and_notices_are_checked() {
        let leg = ChannelId::parse(S).expect("uuid");
        let line = |c: SwitchCommand| match render_any(&c, "") {
            Ok(Wire::Api(line)) => line,
            other => panic!("not an api line: {other:?}"),
        };
        assert_eq!(
            line(SwitchCommand::MonitorKey {
                leg: leg.clone(),
                digit: '1'
            }),
            format!("uuid_recv_dtmf {S} 1")
        );
        assert!(render_any(
            &SwitchCommand::MonitorKey {
                leg: leg.clone(),
                digit: '*'
            },
            ""
        )
        .is_err());
        assert_eq!(
            line(SwitchCommand::TakeOver {
                caller: ChannelId::parse(CALLER).expect("uuid"),
                leg: leg.clone()
            }),
            format!("uuid_bridge {CALLER} {S}")
        );
        assert_eq!(
            line(SwitchCommand::Broadcast {
                channel: leg.clone(),
                source: "tone_stream://%(500,0,440)".into()
            }),
            format!("uuid_broadcast {S} tone_stream://%(500,0,440) aleg")
        );
        assert!(render_any(
            &SwitchCommand::Broadcast {
                channel: leg,
                source: "shell_stream://rm -rf /".into()
            },
            ""
        )
        .is_err());
    }
}
