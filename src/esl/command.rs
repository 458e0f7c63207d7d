//! Engine commands in ESL wire form. Everything that reaches the switch passes through here,
//! so this is where values from callers, the API and provisioning are checked or neutralised.

use freeswitch_esl_tokio::EslEvent;
use thiserror::Error;

use crate::config::{
    is_switch_word, CONTEXT_CHARS, EXTENSION_CHARS, HANGUP_CAUSE_CHARS, MAILBOX_CHARS,
    SAY_TEXT_CHARS, VOICEMAIL_DOMAIN_CHARS,
};
use crate::engine::recording::RecordingAction;
use crate::engine::{Lamp, SwitchCommand};

#[derive(Debug, Error, PartialEq, Eq)]
pub enum UnsafeValue {
    #[error("{what} {value:?} contains characters that could change the command")]
    Rejected { what: &'static str, value: String },
}

/// How a command goes to the switch.
#[derive(Debug, Clone, PartialEq)]
pub enum Wire {
    /// `api <line>`: waits for the result.
    Api(String),
    /// `bgapi <line>`: the result comes later as BACKGROUND_JOB.
    BgApi(String),
    /// `sendmsg <uuid>` with headers.
    Execute {
        uuid: String,
        app: &'static str,
        arg: String,
        event_uuid: String,
    },
    /// `sendevent <name>` with headers, in order.
    SendEvent {
        name: &'static str,
        headers: Vec<(&'static str, String)>,
    },
}

impl Wire {
    /// The sendmsg as an event for the client crate. Every execute holds the channel's event
    /// lock while it runs: without it a message sent behind it runs nested inside it, and a
    /// queued `hangup` ends the call before the prompts ahead of it are heard (capture
    /// `sendmsg-event-lock`). With it, messages run one after the other, as the engine means
    /// them; `uuid_break` is how the engine cuts one short.
    pub fn execute_event(app: &str, arg: &str, event_uuid: &str) -> EslEvent {
        let mut event = EslEvent::new();
        event.set_header("call-command", "execute");
        event.set_header("execute-app-name", app);
        event.set_header("execute-app-arg", arg);
        event.set_header("event-lock", "true");
        event.set_header("Event-UUID", event_uuid);
        event
    }
}

/// A dial string from provisioning, checked again here: one endpoint, no `{}`/`[]` variable
/// blocks, no `,`/`|` leg separators, no spaces that would start the next originate argument.
pub fn check_dial_string(value: &str) -> Result<&str, UnsafeValue> {
    let ok = !value.is_empty()
        && value.len() <= 256
        && value.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '/' | '@' | ':' | '.' | '_' | '-' | '+')
        });
    if ok {
        Ok(value)
    } else {
        Err(UnsafeValue::Rejected {
            what: "dial string",
            value: value.to_owned(),
        })
    }
}

/// A media source (hold music, prompts, tones): a plain file path or one of the allowed
/// `scheme://` streams ([`crate::config::SOUND_SCHEMES`]), one header line, no variable block or
/// expansion. The config and flow files were checked with the same rule; this is the last
/// guard before the switch (a `shell_stream://` would run a command there).
pub use crate::config::{sanitize_name, sanitize_number};

pub fn check_media_source(value: &str) -> Result<&str, UnsafeValue> {
    match crate::config::sound_source_problem(value) {
        None => Ok(value),
        Some(_) => Err(UnsafeValue::Rejected {
            what: "media source",
            value: value.to_owned(),
        }),
    }
}

/// The energy below which `record` counts the caller as silent (the value of FreeSWITCH's own
/// examples); after its default 3 s of silence the recording stops.
pub const RECORD_SILENCE_THRESHOLD: u32 = 200;

/// The periodic recording beep: 200 ms of 1400 Hz.
pub const RECORDING_BEEP: &str = "tone_stream://%(200,0,1400)";

/// A recording's file on the switch: absolute, made of path characters only, with no empty,
/// `.` or `..` folder, so it can neither leave the recordings directory nor split the command.
pub fn check_recording_path(value: &str) -> Result<&str, UnsafeValue> {
    let ok = value.len() <= 512
        && value
            .strip_prefix('/')
            .is_some_and(crate::engine::recording::is_safe_relative_path);
    if ok {
        Ok(value)
    } else {
        Err(UnsafeValue::Rejected {
            what: "recording path",
            value: value.to_owned(),
        })
    }
}

/// At most this many flow variables ride on an agent leg; the rest stay in the history.
pub const MAX_LEG_VARIABLES: usize = 32;
/// A flow variable's value on an agent leg is cut to this many characters.
pub const MAX_LEG_VARIABLE_CHARS: usize = 256;

/// A flow variable's name, checked again: it becomes part of a channel variable's name.
fn check_variable_name(name: &str) -> Result<&str, UnsafeValue> {
    let mut chars = name.chars();
    let ok = name.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(name)
    } else {
        Err(UnsafeValue::Rejected {
            what: "flow variable name",
            value: name.to_owned(),
        })
    }
}

/// A flow variable's value (typed by a caller or returned by a CRM), made safe inside a
/// single-quoted originate variable: no quote, leg or block separator, no `${...}` expansion,
/// no escape, no line break. Anything else is kept, so a screen pop still reads it.
pub fn sanitize_variable_value(value: &str) -> String {
    let cleaned: String = value
        .chars()
        .take(MAX_LEG_VARIABLE_CHARS)
        .map(|c| {
            let unsafe_here = c.is_control()
                || matches!(
                    c,
                    ',' | '\'' | '"' | '{' | '}' | '[' | ']' | '^' | '$' | '\\' | '|' | '<' | '>'
                );
            if unsafe_here {
                ' '
            } else {
                c
            }
        })
        .collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Renders one engine command. `event_uuid` names a sendmsg so its CHANNEL_EXECUTE events
/// can be matched (ignored when the command is not a sendmsg).
pub fn render(command: &SwitchCommand, event_uuid: &str) -> Result<Wire, UnsafeValue> {
    Ok(match command {
        SwitchCommand::Monitor { .. }
        | SwitchCommand::MonitorKey { .. }
        | SwitchCommand::TakeOver { .. } => super::monitor::render(command)?,
        SwitchCommand::ConferenceJoin { .. } | SwitchCommand::ConferenceDial { .. } => {
            super::conference::render(command)?
        }
        SwitchCommand::Answer { channel } => Wire::Api(format!("uuid_answer {channel}")),
        SwitchCommand::PlayHold { channel, source } => Wire::Execute {
            uuid: channel.to_string(),
            app: "playback",
            arg: check_media_source(source)?.to_owned(),
            event_uuid: event_uuid.to_owned(),
        },
        SwitchCommand::Originate {
            leg,
            call,
            agent,
            queue,
            dial_string,
            timeout,
            caller_number,
            caller_name,
            queue_name,
            variables,
        } => {
            let dial = check_dial_string(dial_string)?;
            let mut vars = format!(
                "origination_uuid={leg},originate_timeout={},switchboard_role=agent,\
                 switchboard_call_id={call},switchboard_agent_id={agent},switchboard_queue={queue}",
                timeout.as_secs().max(1)
            );
            let number = sanitize_number(caller_number);
            if !number.is_empty() {
                vars.push_str(&format!(",origination_caller_id_number={number}"));
            }
            // The agent's display while it rings: `[Support] Caller Name` (or the number).
            let caller = match sanitize_name(caller_name) {
                name if name.is_empty() => number.clone(),
                name => name,
            };
            let label = sanitize_name(queue_name);
            let name = match (label.is_empty(), caller.is_empty()) {
                (true, _) => caller,
                (false, true) => format!("[{label}]"),
                (false, false) => format!("[{label}] {caller}"),
            };
            if !name.is_empty() {
                vars.push_str(&format!(",origination_caller_id_name='{name}'"));
            }
            for (name, value) in variables.iter().take(MAX_LEG_VARIABLES) {
                let name = check_variable_name(name)?;
                let value = sanitize_variable_value(value);
                vars.push_str(&format!(",switchboard_var_{name}='{value}'"));
            }
            Wire::BgApi(format!("originate {{{vars}}}{dial} &park()"))
        }
        SwitchCommand::Break { channel } => Wire::Api(format!("uuid_break {channel} all")),
        SwitchCommand::Bridge { caller, agent_leg } => {
            Wire::Api(format!("uuid_bridge {caller} {agent_leg}"))
        }
        SwitchCommand::ParkAfterBridge { channel } => {
            Wire::Api(format!("uuid_setvar {channel} park_after_bridge true"))
        }
        SwitchCommand::Kill { channel, cause } => {
            Wire::Api(format!("uuid_kill {channel} {}", cause.as_str()))
        }
        SwitchCommand::Transfer {
            channel,
            extension,
            context,
        } => Wire::Api(format!(
            "uuid_transfer {channel} {} XML {}",
            check_token("extension", extension, EXTENSION_CHARS)?,
            check_token("dialplan context", context, CONTEXT_CHARS)?
        )),
        SwitchCommand::Record { channel, path, max } => Wire::Execute {
            uuid: channel.to_string(),
            app: "record",
            // Without a threshold `record` never stops on silence, only at `max` or a key.
            arg: format!(
                "{} {} {RECORD_SILENCE_THRESHOLD}",
                check_token("recording path", path, "/._-")?,
                max.as_secs().max(1)
            ),
            event_uuid: event_uuid.to_owned(),
        },
        SwitchCommand::SessionRecord {
            channel,
            action,
            path,
            limit,
        } => {
            let path = check_recording_path(path)?;
            match (action, limit) {
                (RecordingAction::Start, Some(limit)) => Wire::Api(format!(
                    "uuid_record {channel} start {path} {}",
                    limit.as_secs().max(1)
                )),
                _ => Wire::Api(format!("uuid_record {channel} {} {path}", action.as_str())),
            }
        }
        SwitchCommand::HoldMusic { channel, source } => Wire::Api(format!(
            "uuid_setvar {channel} hold_music {}",
            check_media_source(source)?
        )),
        SwitchCommand::Hold { channel, on: true } => Wire::Api(format!("uuid_hold {channel}")),
        SwitchCommand::Hold { channel, on: false } => Wire::Api(format!("uuid_hold off {channel}")),
        SwitchCommand::RecordStereo { channel } => {
            Wire::Api(format!("uuid_setvar {channel} RECORD_STEREO true"))
        }
        SwitchCommand::RequeueReason { channel, reason } => Wire::Api(format!(
            "uuid_setvar {channel} requeue_reason {}",
            check_token("requeue reason", reason, "_")?
        )),
        SwitchCommand::ParkInline { channel } => {
            Wire::Api(format!("uuid_transfer {channel} park inline"))
        }
        SwitchCommand::SetParkAfterBridge { channel, on } => {
            Wire::Api(format!("uuid_setvar {channel} park_after_bridge {on}"))
        }
        SwitchCommand::Broadcast { channel, source } => Wire::Api(format!(
            "uuid_broadcast {channel} {} aleg",
            check_media_source(source)?
        )),
        SwitchCommand::Beep { channel } => {
            Wire::Api(format!("uuid_broadcast {channel} {RECORDING_BEEP} both"))
        }
        SwitchCommand::Voicemail {
            channel,
            domain,
            mailbox,
        } => Wire::Execute {
            uuid: channel.to_string(),
            app: "voicemail",
            arg: format!(
                "default {} {}",
                check_token("voicemail domain", domain, VOICEMAIL_DOMAIN_CHARS)?,
                check_token("mailbox", mailbox, MAILBOX_CHARS)?
            ),
            event_uuid: event_uuid.to_owned(),
        },
        SwitchCommand::Hangup { channel, cause } => Wire::Api(format!(
            "uuid_kill {channel} {}",
            check_token("hangup cause", cause, HANGUP_CAUSE_CHARS)?
        )),
        SwitchCommand::Play { channel, source } => Wire::Execute {
            uuid: channel.to_string(),
            app: "playback",
            arg: check_media_source(source)?.to_owned(),
            event_uuid: event_uuid.to_owned(),
        },
        SwitchCommand::Say {
            channel,
            language,
            kind,
            text,
        } => Wire::Execute {
            uuid: channel.to_string(),
            app: "say",
            arg: format!(
                "{} {} {}",
                check_token("say language", language, "_")?,
                kind.as_args(),
                // `.` for amounts (`12.50`).
                check_token("say text", text, SAY_TEXT_CHARS)?
            ),
            event_uuid: event_uuid.to_owned(),
        },
        SwitchCommand::HangupAfterPrompts { channel } => Wire::Execute {
            uuid: channel.to_string(),
            app: "hangup",
            arg: "NORMAL_CLEARING".to_owned(),
            event_uuid: event_uuid.to_owned(),
        },
        SwitchCommand::Presence(p) => {
            let from = format!(
                "{}@{}",
                check_token("presence id", &p.id, "._-")?,
                check_token("presence domain", &p.domain, ".-")?
            );
            let mut headers = vec![
                ("proto", p.proto.to_owned()),
                ("from", from.clone()),
                ("login", from),
                ("event_type", "presence".to_owned()),
                ("alt_event_type", "dialog".to_owned()),
                ("event_count", p.count.to_string()),
                ("status", sanitize_name(&p.status)),
                ("rpid", p.rpid.to_owned()),
            ];
            // As in the presence-blf capture: no unique-id is an idle lamp; `early` blinks,
            // `confirmed` lights it. With a unique-id the switch shows the phone `On The Phone`
            // or `Available` whatever the status says, unless `force-status` names the text
            // (capture `presence-states`).
            match p.lamp {
                Lamp::Off => {}
                Lamp::Blinking | Lamp::Lit => {
                    let (state, answer) = match p.lamp {
                        Lamp::Blinking => ("CS_ROUTING", "early"),
                        _ => ("CS_EXECUTE", "confirmed"),
                    };
                    headers.push(("unique-id", p.dialog.to_string()));
                    headers.push(("channel-state", state.to_owned()));
                    headers.push(("answer-state", answer.to_owned()));
                    headers.push(("presence-call-direction", "outbound".to_owned()));
                    headers.push(("force-status", sanitize_name(&p.status)));
                }
            }
            Wire::SendEvent {
                name: "PRESENCE_IN",
                headers,
            }
        }
        SwitchCommand::Dial {
            leg,
            call,
            queue,
            dial_string,
            timeout,
        } => {
            let dial = check_dial_string(dial_string)?;
            Wire::BgApi(format!(
                "originate {{origination_uuid={leg},originate_timeout={},switchboard_role=callback,\
                 switchboard_call_id={call},switchboard_queue={queue}}}{dial} &park()",
                timeout.as_secs().max(1)
            ))
        }
    })
}

/// A single word for a command line: ASCII letters and digits plus a few listed characters,
/// so it can neither split the command nor smuggle options.
pub fn check_token<'a>(
    what: &'static str,
    value: &'a str,
    extra: &str,
) -> Result<&'a str, UnsafeValue> {
    if is_switch_word(value, extra) {
        Ok(value)
    } else {
        Err(UnsafeValue::Rejected {
            what,
            value: value.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::engine::{AgentId, CallId, ChannelId, Lamp, Presence, QueueId};

    fn originate(number: &str, name: &str, dial: &str) -> Result<Wire, UnsafeValue> {
        render(
            &SwitchCommand::Originate {
                leg: ChannelId::parse("c27d4048-9d23-4e28-8b5c-8db4120b83e2").expect("uuid"),
                call: CallId::from_uuid(uuid::Uuid::from_u128(1)),
                agent: AgentId::new("1001").expect("id"),
                queue: QueueId::new("support").expect("id"),
                dial_string: dial.into(),
                timeout: Duration::from_secs(20),
                caller_number: number.into(),
                caller_name: name.into(),
                queue_name: "Support".into(),
                variables: Vec::new(),
            },
            "",
        )
    }

    fn originate_with(variables: &[(&str, &str)]) -> Result<String, UnsafeValue> {
        let command = SwitchCommand::Originate {
            leg: ChannelId::parse("c27d4048-9d23-4e28-8b5c-8db4120b83e2").expect("uuid"),
            call: CallId::from_uuid(uuid::Uuid::from_u128(1)),
            agent: AgentId::new("1001").expect("id"),
            queue: QueueId::new("support").expect("id"),
            dial_string: "user/1001".into(),
            timeout: Duration::from_secs(20),
            caller_number: "1001".into(),
            caller_name: String::new(),
            queue_name: String::new(),
            variables: variables
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        match render(&command, "")? {
            Wire::BgApi(line) => Ok(line),
            other => panic!("originate is a bgapi: {other:?}"),
        }
    }

    fn session_record(
        action: RecordingAction,
        path: &str,
        limit: Option<u64>,
    ) -> Result<Wire, UnsafeValue> {
        render(
            &SwitchCommand::SessionRecord {
                channel: ChannelId::parse("c27d4048-9d23-4e28-8b5c-8db4120b83e2").expect("uuid"),
                action,
                path: path.into(),
                limit: limit.map(Duration::from_secs),
            },
            "",
        )
    }

    #[test]
    fn uuid_record_lines_are_the_captured_form_with_the_limit_on_start_only() {
        let uuid = "c27d4048-9d23-4e28-8b5c-8db4120b83e2";
        let path = "/var/lib/freeswitch/recordings/2026-11-23/support/a.wav";
        assert_eq!(
            session_record(RecordingAction::Start, path, Some(3600)),
            Ok(Wire::Api(format!("uuid_record {uuid} start {path} 3600")))
        );
        for action in [
            RecordingAction::Mask,
            RecordingAction::Pause,
            RecordingAction::Stop,
        ] {
            assert_eq!(
                session_record(action, path, None),
                Ok(Wire::Api(format!(
                    "uuid_record {uuid} {} {path}",
                    action.as_str()
                )))
            );
        }
    }

    #[test]
    fn recording_paths_that_could_escape_or_inject_are_refused() {
        for bad in [
            "relative/a.wav",
            "/rec/../etc/passwd",
            "/rec//a.wav",
            "/rec/a.wav\napi fsctl shutdown",
            "/rec/a b.wav",
            "/rec/a.wav all",
            "/rec/${x}.wav",
        ] {
            assert!(
                session_record(RecordingAction::Start, bad, None).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn flow_variables_ride_on_the_agent_leg_as_quoted_switchboard_vars() {
        let line = originate_with(&[("account", "123456"), ("tier", "Gold member")]).expect("safe");
        assert!(
            line.ends_with(
                ",switchboard_var_account='123456',switchboard_var_tier='Gold member'}user/1001 &park()"
            ),
            "{line}"
        );
    }

    #[test]
    fn flow_variable_values_cannot_inject_variables_expansions_legs_or_commands() {
        let hostile = [
            "x',execute_on_answer='system rm -rf /",
            "}sofia/gateway/evil/900,{a=b",
            "${system(touch /tmp/owned)}",
            "^^:a=b:c=d",
            "a\\'b",
            "line\n\napi fsctl shutdown\r",
            "[leg_var=1]user/666|user/667",
        ];
        for value in hostile {
            let line = originate_with(&[("note", value)]).expect("sanitized, not rejected");
            assert!(
                !line.contains(['\n', '\r', '$', '\\', '^', '|', '[']),
                "{line}"
            );
            assert_eq!(line.matches('{').count(), 1, "{line}");
            assert_eq!(line.matches('}').count(), 1, "{line}");
            assert_eq!(line.matches('\'').count(), 4, "only our own quotes: {line}");
            let block = &line[..line.find('}').expect("block")];
            assert_eq!(block.matches(',').count(), 8, "no extra variable: {line}");
            assert!(line.ends_with("}user/1001 &park()"), "{line}");
        }
    }

    #[test]
    fn flow_variables_are_capped_in_number_and_length() {
        let long = "9".repeat(10_000);
        let many: Vec<(String, String)> =
            (0..100).map(|i| (format!("v{i}"), long.clone())).collect();
        let refs: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let line = originate_with(&refs).expect("safe");
        assert_eq!(line.matches("switchboard_var_").count(), MAX_LEG_VARIABLES);
        assert!(line.contains(&format!(
            "switchboard_var_v0='{}'",
            "9".repeat(MAX_LEG_VARIABLE_CHARS)
        )));
        assert!(!line.contains(&"9".repeat(MAX_LEG_VARIABLE_CHARS + 1)));
    }

    #[test]
    fn a_flow_variable_name_that_is_not_a_plain_word_is_refused() {
        for bad in ["", "1st", "a=b", "a,b", "a b", "a}", "ä"] {
            assert!(originate_with(&[(bad, "v")]).is_err(), "{bad:?} accepted");
        }
        assert!(originate_with(&[("Account_2", "v")]).is_ok());
    }

    #[test]
    fn say_money_and_dates_use_the_say_modules_types() {
        let channel = ChannelId::parse("c27d4048-9d23-4e28-8b5c-8db4120b83e2").expect("uuid");
        let say = |kind, text: &str| {
            render(
                &SwitchCommand::Say {
                    channel: channel.clone(),
                    language: "en".into(),
                    kind,
                    text: text.into(),
                },
                "e",
            )
        };
        let arg = |wire: Result<Wire, UnsafeValue>| match wire {
            Ok(Wire::Execute {
                app: "say", arg, ..
            }) => arg,
            other => panic!("say is a sendmsg: {other:?}"),
        };
        assert_eq!(
            arg(say(crate::engine::SayKind::Money, "12.50")),
            "en currency pronounced 12.50"
        );
        assert_eq!(
            arg(say(crate::engine::SayKind::Date, "1795362761")),
            "en current_date pronounced 1795362761"
        );
        assert!(say(crate::engine::SayKind::Money, "12.50 x").is_err());
        assert!(say(crate::engine::SayKind::Money, "-1").is_err());
    }

    #[test]
    fn record_writes_a_checked_path_for_at_most_its_length() {
        let channel = ChannelId::parse("c27d4048-9d23-4e28-8b5c-8db4120b83e2").expect("uuid");
        let record = |path: &str, secs| {
            render(
                &SwitchCommand::Record {
                    channel: channel.clone(),
                    path: path.into(),
                    max: Duration::from_secs(secs),
                },
                "e1",
            )
        };
        assert_eq!(
            record("/var/lib/switchboard/messages/m-1.wav", 60),
            Ok(Wire::Execute {
                uuid: channel.to_string(),
                app: "record",
                arg: "/var/lib/switchboard/messages/m-1.wav 60 200".into(),
                event_uuid: "e1".into(),
            })
        );
        assert!(
            matches!(record("m.wav", 0), Ok(Wire::Execute { arg, .. }) if arg == "m.wav 1 200")
        );
        for bad in [
            "m.wav 5 200",
            "m.wav\nexecute-app-name: system",
            "${x}.wav",
            "",
            "a b",
        ] {
            assert!(record(bad, 5).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn originate_names_the_leg_parks_it_and_shows_the_queue_and_caller_on_the_phone() {
        let wire = originate("+4930123456", "Caller 1001", "user/1001").expect("safe");
        assert_eq!(
            wire,
            Wire::BgApi(
                "originate {origination_uuid=c27d4048-9d23-4e28-8b5c-8db4120b83e2,originate_timeout=20,\
                 switchboard_role=agent,switchboard_call_id=00000000-0000-0000-0000-000000000001,\
                 switchboard_agent_id=1001,switchboard_queue=support,\
                 origination_caller_id_number=+4930123456,origination_caller_id_name='[Support] Caller 1001'}\
                 user/1001 &park()"
                    .into()
            )
        );
    }

    #[test]
    fn presence_is_a_presence_in_event_as_in_the_blf_capture() {
        let presence = |lamp| Presence {
            proto: "agent",
            id: "1001".into(),
            domain: "127.0.0.1".into(),
            lamp,
            status: "On The Phone".into(),
            rpid: "on-the-phone",
            dialog: uuid::Uuid::from_u128(7),
            count: 5,
        };
        let Ok(Wire::SendEvent { name, headers }) =
            render(&SwitchCommand::Presence(presence(Lamp::Lit)), "")
        else {
            panic!("presence is a sendevent")
        };
        assert_eq!(name, "PRESENCE_IN");
        let shown: Vec<String> = headers.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        assert_eq!(
            shown,
            [
                "proto: agent",
                "from: 1001@127.0.0.1",
                "login: 1001@127.0.0.1",
                "event_type: presence",
                "alt_event_type: dialog",
                "event_count: 5",
                "status: On The Phone",
                "rpid: on-the-phone",
                "unique-id: 00000000-0000-0000-0000-000000000007",
                "channel-state: CS_EXECUTE",
                "answer-state: confirmed",
                "presence-call-direction: outbound",
                "force-status: On The Phone",
            ]
        );
        let Ok(Wire::SendEvent { headers, .. }) =
            render(&SwitchCommand::Presence(presence(Lamp::Off)), "")
        else {
            panic!("presence is a sendevent")
        };
        assert!(
            headers.iter().all(|(k, _)| *k != "unique-id"),
            "idle has no dialog"
        );
        let mut hostile = presence(Lamp::Off);
        hostile.status = "x\n\napi fsctl shutdown".into();
        let Ok(Wire::SendEvent { headers, .. }) = render(&SwitchCommand::Presence(hostile), "")
        else {
            panic!("presence is a sendevent")
        };
        assert!(headers.iter().all(|(_, v)| !v.contains('\n')));
        let mut bad_domain = presence(Lamp::Off);
        bad_domain.domain = "a b".into();
        assert!(render(&SwitchCommand::Presence(bad_domain), "").is_err());
    }

    #[test]
    fn overflow_commands_refuse_values_that_would_split_the_command() {
        let channel = ChannelId::parse("c27d4048-9d23-4e28-8b5c-8db4120b83e2").expect("uuid");
        let transfer = |extension: &str, context: &str| {
            render(
                &SwitchCommand::Transfer {
                    channel: channel.clone(),
                    extension: extension.into(),
                    context: context.into(),
                },
                "",
            )
        };
        assert_eq!(
            transfer("+4930123", "default"),
            Ok(Wire::Api(
                "uuid_transfer c27d4048-9d23-4e28-8b5c-8db4120b83e2 +4930123 XML default".into()
            ))
        );
        assert!(transfer("9199 XML public\n\napi fsctl shutdown", "default").is_err());
        assert!(transfer("9199", "default inline").is_err());
        let hangup = render(
            &SwitchCommand::Hangup {
                channel: channel.clone(),
                cause: "USER_BUSY\napi shutdown".into(),
            },
            "",
        );
        assert!(hangup.is_err());
    }

    #[test]
    fn caller_id_cannot_inject_variables_commands_or_legs() {
        let wire = originate(
            "1001}sofia/x,{a=b\n\napi fsctl shutdown",
            "Eve',execute_on_answer='system rm -rf /\r\n",
            "user/1001",
        )
        .expect("sanitized, not rejected");
        let Wire::BgApi(line) = wire else {
            panic!("originate is a bgapi")
        };
        assert!(!line.contains('\n') && !line.contains('\r'));
        assert_eq!(line.matches('{').count(), 1);
        assert_eq!(line.matches('}').count(), 1);
        assert_eq!(line.matches('\'').count(), 2, "only our own quotes: {line}");
        assert!(line.contains("origination_caller_id_number=1001sofiaxabapifsctlshutdown,"));
        assert!(line.ends_with("}user/1001 &park()"));
    }

    /// The command lines of the `ringall`, `transfer` and `moh-break-bridge` captures.
    #[test]
    fn kill_transfer_break_and_voicemail_render_like_the_captured_commands() {
        let uuid = "cfc0b4c4-badd-44be-9976-f12669c3049b";
        let channel = ChannelId::parse(uuid).expect("uuid");
        let r = |c: SwitchCommand| render(&c, "e1").expect("safe");
        assert_eq!(
            r(SwitchCommand::Kill {
                channel: channel.clone(),
                cause: crate::engine::HangupCause::LoseRace,
            }),
            Wire::Api(format!("uuid_kill {uuid} LOSE_RACE"))
        );
        assert_eq!(
            r(SwitchCommand::Hangup {
                channel: channel.clone(),
                cause: "USER_BUSY".into(),
            }),
            Wire::Api(format!("uuid_kill {uuid} USER_BUSY"))
        );
        assert_eq!(
            r(SwitchCommand::Transfer {
                channel: channel.clone(),
                extension: "9199".into(),
                context: "default".into(),
            }),
            Wire::Api(format!("uuid_transfer {uuid} 9199 XML default"))
        );
        assert_eq!(
            r(SwitchCommand::Break {
                channel: channel.clone(),
            }),
            Wire::Api(format!("uuid_break {uuid} all"))
        );
        assert_eq!(
            r(SwitchCommand::Voicemail {
                channel,
                domain: "example.com".into(),
                mailbox: "1001".into(),
            }),
            Wire::Execute {
                uuid: uuid.into(),
                app: "voicemail",
                arg: "default example.com 1001".into(),
                event_uuid: "e1".into(),
            }
        );
    }

    #[test]
    fn dial_strings_with_options_or_several_legs_are_refused() {
        for bad in [
            "user/1001,user/1002",
            "{x=y}user/1001",
            "[x=y]user/1001",
            "user/1001 &bridge(x)",
            "user/1001|user/1002",
            "user/10\n01",
            "",
        ] {
            assert!(originate("1", "n", bad).is_err(), "{bad:?} accepted");
        }
        assert!(originate("1", "n", "sofia/internal/agent1@127.0.0.1:5071").is_ok());
    }

    #[test]
    fn sources_with_a_scheme_outside_the_allowed_streams_never_reach_the_switch() {
        let channel = ChannelId::parse("c27d4048-9d23-4e28-8b5c-8db4120b83e2").expect("uuid");
        for bad in [
            "shell_stream:///usr/bin/id",
            "http://sounds.example.com/a.wav",
            "file_string://a.wav!b.wav",
            "${system(id)}",
        ] {
            for command in [
                SwitchCommand::Play {
                    channel: channel.clone(),
                    source: bad.to_owned(),
                },
                SwitchCommand::PlayHold {
                    channel: channel.clone(),
                    source: bad.to_owned(),
                },
            ] {
                assert!(render(&command, "e").is_err(), "{bad:?} rendered");
            }
        }
        for good in [
            "local_stream://moh",
            "tone_stream://%(200,0,1400)",
            "silence_stream://500",
            "ivr/ivr-welcome.wav",
        ] {
            let play = SwitchCommand::Play {
                channel: channel.clone(),
                source: good.to_owned(),
            };
            assert!(render(&play, "e").is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn hold_music_cannot_add_sendmsg_headers() {
        let channel = ChannelId::parse("c27d4048-9d23-4e28-8b5c-8db4120b83e2").expect("uuid");
        let bad = SwitchCommand::PlayHold {
            channel: channel.clone(),
            source: "moh.wav\nexecute-app-name: system".into(),
        };
        assert!(render(&bad, "e").is_err());
        let good = SwitchCommand::PlayHold {
            channel,
            source: "local_stream://moh".into(),
        };
        assert!(render(&good, "e").is_ok());
    }

    #[test]
    fn every_execute_holds_the_event_lock_so_queued_prompts_play_in_order() {
        let event = Wire::execute_event("playback", "tone_stream://%(200,100,880)", "e1");
        assert_eq!(event.header_str("event-lock"), Some("true"));
        assert_eq!(event.header_str("execute-app-name"), Some("playback"));
    }
}
