//! Conferences on the wire (capture `three-way-conference`): the caller and its agent's leg
//! moved together into a conference of ours (`uuid_transfer <C> -both conference:<name>@default
//! inline`), a party rung with an originate whose application joins it
//! (`&conference(<name>@default)`). `switchboard_role=agent` marks the party's leg as ours, so
//! its answer and its failed originate reach the engine. The name is ours (`sb-<call id>`) and
//! is checked again here: letters, digits and `-` only.

use super::command::{check_dial_string, sanitize_name, sanitize_number, UnsafeValue, Wire};
use crate::engine::SwitchCommand;

/// The conference profile every conference of ours uses (the capture's).
const PROFILE: &str = "default";

fn check_name(name: &str) -> Result<&str, UnsafeValue> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(name)
    } else {
        Err(UnsafeValue::Rejected {
            what: "conference name",
            value: name.to_owned(),
        })
    }
}

/// Renders the conference commands (any other command is refused).
pub(super) fn render(command: &SwitchCommand) -> Result<Wire, UnsafeValue> {
    match command {
        SwitchCommand::ConferenceJoin { channel, name } => Ok(Wire::Api(format!(
            "uuid_transfer {channel} -both conference:{}@{PROFILE} inline",
            check_name(name)?
        ))),
        SwitchCommand::ConferenceDial {
            leg,
            call,
            agent,
            queue,
            name,
            dial_string,
            timeout,
            caller_number,
            caller_name,
        } => {
            let dial = check_dial_string(dial_string)?;
            let name = check_name(name)?;
            let mut vars = format!(
                "origination_uuid={leg},originate_timeout={},switchboard_role=agent,\
                 switchboard_call_id={call},switchboard_queue={queue}",
                timeout.as_secs().max(1)
            );
            // An external number's leg has no agent id: no agent's phone is busy with it.
            if let Some(agent) = agent {
                vars.push_str(&format!(",switchboard_agent_id={agent}"));
            }
            let number = sanitize_number(caller_number);
            if !number.is_empty() {
                vars.push_str(&format!(",origination_caller_id_number={number}"));
            }
            let shown = match sanitize_name(caller_name) {
                n if n.is_empty() => number,
                n => n,
            };
            let label = if shown.is_empty() {
                "[Conference]".to_owned()
            } else {
                format!("[Conference] {shown}")
            };
            vars.push_str(&format!(",origination_caller_id_name='{label}'"));
            Ok(Wire::BgApi(format!(
                "originate {{{vars}}}{dial} &conference({name}@{PROFILE})"
            )))
        }
        _ => Err(UnsafeValue::Rejected {
            what: "conference command",
            value: "another command".to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::command::render as render_any;
    use super::*;
    use crate::engine::{AgentId, CallId, ChannelId, QueueId};

    const C: &str = "5054fd9b-1ca5-495d-a2ad-a23f0d7aadfe";
    const T: &str = "71410106-4295-4413-b8a6-941217389767";

    fn uuid(s: &str) -> ChannelId {
        ChannelId::parse(s).expect("uuid")
    }

    #[test]
    fn join_moves_both_legs_into_our_conference() {
        let w = render_any(
            &SwitchCommand::ConferenceJoin {
                channel: uuid(C),
                name: "sb-42".into(),
            },
            "",
        )
        .expect("render");
        assert_eq!(
            w,
            Wire::Api(format!(
                "uuid_transfer {C} -both conference:sb-42@default inline"
            ))
        );
    }

    #[test]
    fn an_unsafe_name_or_dial_string_never_reaches_the_switch() {
        for name in ["x y", "a@b", "", "sb;1", "a'b"] {
            let cmd = SwitchCommand::ConferenceJoin {
                channel: uuid(C),
                name: name.into(),
            };
            assert!(render_any(&cmd, "").is_err(), "{name}");
        }
        let dial = |d: &str| SwitchCommand::ConferenceDial {
            leg: uuid(T),
            call: CallId::from_uuid(uuid::Uuid::from_u128(7)),
            agent: Some(AgentId::new("1002").expect("id")),
            queue: QueueId::new("support").expect("id"),
            name: "sb-7".into(),
            dial_string: d.into(),
            timeout: Duration::from_secs(20),
            caller_number: "2501".into(),
            caller_name: "Caller".into(),
        };
        assert!(render_any(&dial("user/1002 &park()"), "").is_err());
        let Wire::BgApi(text) = render_any(&dial("user/1002"), "").expect("render") else {
            panic!("not bgapi");
        };
        assert!(text.starts_with(&format!("originate {{origination_uuid={T},")));
        assert!(text.contains("switchboard_role=agent"));
        assert!(
            text.ends_with("}user/1002 &conference(sb-7@default)"),
            "{text}"
        );
    }
}
