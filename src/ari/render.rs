//! Engine commands as ARI requests. Every value from a caller, the API or a file is checked
//! here (ids by their types, everything else by charset) and sent as a URL-encoded query
//! value or a JSON string, never spliced into a path unchecked. Rendering also records in the
//! tables what the requests will create (our ids), before they are sent: the events they
//! cause may arrive before the responses.

use std::time::Duration;

use serde_json::{json, Map, Value};
use tracing::debug;

use super::bridges::{
    bridge_pair, conference_bridge, connect_monitor, create_conference, hold, park_input,
};
use super::client::AriRequest;
use super::media::{
    cause_code, media_of, sanitize_name, sanitize_number, sanitize_variable_value, unsafe_value,
    word, Refused, MAX_LEG_VARIABLES,
};
use super::plan::{
    channel_path, hangup, ignore, new_id, play, report, start_media, Context, OnError, Step,
};
use super::state::{
    ChannelInfo, PlaybackInfo, PlaybackPurpose, RecordingInfo, RecordingPurpose, Role, Tables,
};
use crate::engine::monitor::MonitorMode;
use crate::engine::recording::RecordingAction;
use crate::engine::{ChannelId, Lamp, SayKind, SwitchCommand};

/// The ARI endpoint for a dial string: `user/<name>[@domain]` is the phone registered as
/// `<name>` (`PJSIP/<name>`); `PJSIP/<endpoint>` and `PJSIP/<number>@<endpoint>` go as they
/// are; FreeSWITCH's `sofia/…` and `loopback/…` have no meaning here.
pub fn endpoint_of(dial: &str) -> Result<String, Refused> {
    let safe = |s: &str| {
        !s.is_empty()
            && s.len() <= 128
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-'))
    };
    if let Some(target) = dial.strip_prefix("user/") {
        let name = target.split('@').next().unwrap_or_default();
        return if safe(name) {
            Ok(format!("PJSIP/{name}"))
        } else {
            Err(unsafe_value("dial string", dial))
        };
    }
    if let Some(target) = dial.strip_prefix("PJSIP/") {
        let ok = match target.split_once('@') {
            Some((number, endpoint)) => safe(number) && safe(endpoint),
            None => safe(target),
        };
        return if ok {
            Ok(dial.to_owned())
        } else {
            Err(unsafe_value("dial string", dial))
        };
    }
    if dial.starts_with("sofia/") || dial.starts_with("loopback/") {
        return Err(Refused::Unsupported(format!("the dial string {dial:?}")));
    }
    Err(unsafe_value("dial string", dial))
}

/// A value for a channel variable: JSON quotes it, but control characters never reach a
/// dialplan.
fn variable_value(value: &str) -> String {
    sanitize_variable_value(value)
}

fn variable_name(name: &str) -> Result<&str, Refused> {
    let mut chars = name.chars();
    let ok = name.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(name)
    } else {
        Err(unsafe_value("variable name", name))
    }
}

/// `"Name" <number>` for `callerId`; `name` is already sanitized (no quote, no `<`).
fn caller_id(name: &str, number: &str) -> Option<String> {
    let number = sanitize_number(number);
    match (name.is_empty(), number.is_empty()) {
        (true, true) => None,
        (true, false) => Some(format!("<{number}>")),
        (false, true) => Some(format!("\"{name}\"")),
        (false, false) => Some(format!("\"{name}\" <{number}>")),
    }
}

struct Originate<'a> {
    leg: &'a ChannelId,
    dial: &'a str,
    timeout: Duration,
    app_args: String,
    caller_id: Option<String>,
    variables: Map<String, Value>,
    role: Role,
}

fn originate(ctx: &Context, tables: &mut Tables, o: Originate<'_>) -> Result<Vec<Step>, Refused> {
    let endpoint = endpoint_of(o.dial)?;
    let mut request = AriRequest::post("/channels")
        .param("endpoint", endpoint)
        .param("app", ctx.app.clone())
        .param("appArgs", o.app_args)
        .param("channelId", o.leg.to_string())
        .param("timeout", o.timeout.as_secs().max(1).to_string());
    if let Some(id) = o.caller_id {
        request = request.param("callerId", id);
    }
    let request = request.json(json!({ "variables": Value::Object(o.variables) }));
    tables
        .channels
        .insert(o.leg.clone(), ChannelInfo::new(o.role));
    Ok(vec![Step::Request {
        request,
        on_error: OnError::Originate { leg: o.leg.clone() },
    }])
}

fn vars(pairs: &[(&str, String)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::String(variable_value(v))))
        .collect()
}

/// The recording name for a path on the switch: below the recordings directory, without
/// `.wav`.
pub fn recording_name(recordings_dir: &str, path: &str) -> Result<String, Refused> {
    let dir = recordings_dir.trim_end_matches('/');
    let relative = path
        .strip_prefix(dir)
        .and_then(|r| r.strip_prefix('/'))
        .unwrap_or(path.trim_start_matches('/'));
    let name = relative.strip_suffix(".wav").unwrap_or(relative);
    let ok = !name.is_empty()
        && name.len() <= 256
        && crate::engine::recording::is_safe_relative_path(name);
    if ok {
        Ok(name.to_owned())
    } else {
        Err(unsafe_value("recording path", path))
    }
}

/// What a `Say` plays, as close as ARI's `number:`/`digits:` media allow.
fn say_media(kind: SayKind, text: &str) -> Result<String, Refused> {
    let digits = |s: &str| !s.is_empty() && s.len() <= 32 && s.chars().all(|c| c.is_ascii_digit());
    match kind {
        SayKind::Number if digits(text) => Ok(format!("number:{text}")),
        SayKind::Digits if digits(text) => Ok(format!("digits:{text}")),
        SayKind::Duration if digits(text) => {
            let seconds: u64 = text.parse().map_err(|_| unsafe_value("say text", text))?;
            Ok(match (seconds / 60, seconds % 60) {
                (0, s) => format!("number:{s},sound:seconds"),
                (m, 0) => format!("number:{m},sound:minutes"),
                (m, s) => format!("number:{m},sound:minutes,number:{s},sound:seconds"),
            })
        }
        SayKind::Money => {
            let (units, cents) = text.split_once('.').unwrap_or((text, ""));
            if !digits(units) || !(cents.is_empty() || digits(cents)) {
                return Err(unsafe_value("say text", text));
            }
            Ok(if cents.is_empty() || cents.chars().all(|c| c == '0') {
                format!("number:{units}")
            } else {
                format!("number:{units},sound:point,digits:{cents}")
            })
        }
        SayKind::Date => Err(Refused::Unsupported("saying a date".into())),
        _ => Err(unsafe_value("say text", text)),
    }
}

/// The device state our BLF hints watch for a lamp.
fn device_state(lamp: Lamp) -> &'static str {
    match lamp {
        Lamp::Off => "NOT_INUSE",
        Lamp::Blinking => "RINGING",
        Lamp::Lit => "INUSE",
    }
}

/// Renders one engine command into the steps that carry it out.
pub fn render(
    ctx: &Context,
    tables: &mut Tables,
    command: &SwitchCommand,
) -> Result<Vec<Step>, Refused> {
    Ok(match command {
        SwitchCommand::Answer { channel } => {
            vec![report(AriRequest::post(format!(
                "{}/answer",
                channel_path(channel)
            )))]
        }
        SwitchCommand::PlayHold { channel, source } => {
            vec![start_media(tables, channel, source, |media| {
                PlaybackPurpose::Loop {
                    source: source.clone(),
                    media,
                }
            })?]
        }
        SwitchCommand::Break { channel } => {
            let mut steps = vec![ignore(AriRequest::delete(format!(
                "{}/moh",
                channel_path(channel)
            )))];
            for id in tables.playbacks_of(channel) {
                if let Some(p) = tables.playbacks.get(&id) {
                    if matches!(p.purpose, PlaybackPurpose::Loop { .. }) {
                        tables.playbacks.remove(&id);
                    }
                }
                steps.push(ignore(AriRequest::delete(format!("/playbacks/{id}"))));
            }
            steps
        }
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
            let caller = match sanitize_name(caller_name) {
                name if name.is_empty() => sanitize_number(caller_number),
                name => name,
            };
            let label = sanitize_name(queue_name);
            let shown = match (label.is_empty(), caller.is_empty()) {
                (true, _) => caller,
                (false, true) => format!("[{label}]"),
                (false, false) => format!("[{label}] {caller}"),
            };
            let mut map = vars(&[
                ("SWITCHBOARD_ROLE", "agent".into()),
                ("SWITCHBOARD_CALL", call.to_string()),
                ("SWITCHBOARD_AGENT", agent.to_string()),
                ("SWITCHBOARD_QUEUE", queue.to_string()),
            ]);
            for (name, value) in variables.iter().take(MAX_LEG_VARIABLES) {
                let name = variable_name(name)?;
                map.insert(
                    format!("SWITCHBOARD_VAR_{name}"),
                    Value::String(variable_value(value)),
                );
            }
            originate(
                ctx,
                tables,
                Originate {
                    leg,
                    dial: dial_string,
                    timeout: *timeout,
                    app_args: format!("agent,{agent},{call}"),
                    caller_id: caller_id(&shown, caller_number),
                    variables: map,
                    role: Role::Agent {
                        agent: agent.clone(),
                        call: *call,
                        queue: queue.clone(),
                    },
                },
            )?
        }
        SwitchCommand::Bridge { caller, agent_leg } => {
            bridge_pair(tables, caller, agent_leg, &format!("call-{caller}"))
        }
        SwitchCommand::ParkAfterBridge { channel } => {
            if let Some(info) = tables.channel_mut(channel) {
                info.park_after_bridge = true;
            }
            Vec::new()
        }
        SwitchCommand::SetParkAfterBridge { channel, on } => {
            if let Some(info) = tables.channel_mut(channel) {
                info.park_after_bridge = *on;
            }
            Vec::new()
        }
        SwitchCommand::Kill { channel, cause } => {
            let code = cause_code(cause.as_str());
            remember_cause(tables, channel, cause.as_str());
            vec![hangup(channel, code)]
        }
        SwitchCommand::Hangup { channel, cause } => {
            let code = cause_code(cause);
            remember_cause(tables, channel, cause);
            vec![hangup(channel, code)]
        }
        SwitchCommand::Transfer {
            channel,
            extension,
            context,
        } => vec![report(
            AriRequest::post(format!("{}/continue", channel_path(channel)))
                .param(
                    "context",
                    word("dialplan context", context, "._-")?.to_owned(),
                )
                .param(
                    "extension",
                    word("extension", extension, "*#+._-")?.to_owned(),
                )
                .param("priority", "1"),
        )],
        SwitchCommand::Voicemail {
            channel, mailbox, ..
        } => vec![report(
            AriRequest::post(format!("{}/continue", channel_path(channel)))
                .param("context", "switchboard-voicemail")
                .param("extension", word("mailbox", mailbox, "._-")?.to_owned())
                .param("priority", "1"),
        )],
        SwitchCommand::Record { channel, path, max } => {
            let name = recording_name(&ctx.recordings_dir, path)?;
            tables.recordings.insert(
                name.clone(),
                RecordingInfo {
                    channel: channel.clone(),
                    purpose: RecordingPurpose::Message { path: path.clone() },
                },
            );
            vec![report(
                AriRequest::post(format!("{}/record", channel_path(channel)))
                    .param("name", name)
                    .param("format", "wav")
                    .param("maxDurationSeconds", max.as_secs().max(1).to_string())
                    // assumed: FreeSWITCH's `record` stops after 3 s of silence; ARI's
                    // maxSilenceSeconds does the same (no capture shows it).
                    .param("maxSilenceSeconds", "3")
                    .param("terminateOn", "#")
                    .param("ifExists", "overwrite")
                    .param("beep", "true"),
            )]
        }
        SwitchCommand::Play { channel, source } => {
            vec![start_media(tables, channel, source, |_| {
                PlaybackPurpose::Prompt {
                    application: "playback",
                    data: source.clone(),
                }
            })?]
        }
        SwitchCommand::Say {
            channel,
            language,
            kind,
            text,
        } => {
            let language = word("say language", language, "_")?.to_owned();
            let media = say_media(*kind, text)?;
            let data = format!("{language} {} {text}", kind.as_args());
            let mut step = play(
                tables,
                channel,
                &media,
                PlaybackPurpose::Prompt {
                    application: "say",
                    data,
                },
            );
            if let Step::Request { request, .. } = &mut step {
                request.query.push(("lang", language));
            }
            vec![step]
        }
        SwitchCommand::HangupAfterPrompts { channel } => {
            let pending = tables.playbacks_of(channel).iter().any(|id| {
                tables
                    .playbacks
                    .get(id)
                    .is_some_and(|p| matches!(p.purpose, PlaybackPurpose::Prompt { .. }))
            });
            if pending {
                tables.hangup_after_prompts.insert(channel.clone());
                Vec::new()
            } else {
                vec![hangup(channel, 16)]
            }
        }
        SwitchCommand::Presence(p) => {
            let id = word("presence id", &p.id, "._-")?;
            let proto = word("presence proto", p.proto, "")?;
            vec![report(
                AriRequest::put(format!("/deviceStates/Stasis:switchboard-{proto}-{id}"))
                    .param("deviceState", device_state(p.lamp)),
            )]
        }
        SwitchCommand::SessionRecord {
            channel,
            action,
            path,
            limit,
        } => {
            let name = recording_name(&ctx.recordings_dir, path)?;
            // A name with folders is one path segment: `/` is sent as `%2F`, which ARI decodes.
            let live = format!("/recordings/live/{}", name.replace('/', "%2F"));
            match action {
                RecordingAction::Start => {
                    tables.recordings.insert(
                        name.clone(),
                        RecordingInfo {
                            channel: channel.clone(),
                            purpose: RecordingPurpose::Session { path: path.clone() },
                        },
                    );
                    // A channel in a bridge cannot be recorded (README: record): the call's
                    // bridge is.
                    let target = match tables.bridge_of(channel) {
                        Some(bridge) => format!("/bridges/{bridge}/record"),
                        None => format!("{}/record", channel_path(channel)),
                    };
                    vec![report(
                        AriRequest::post(target)
                            .param("name", name)
                            .param("format", "wav")
                            .param(
                                "maxDurationSeconds",
                                limit.map(|l| l.as_secs()).unwrap_or(0).to_string(),
                            )
                            .param("ifExists", "overwrite")
                            .param("beep", "false")
                            .param("terminateOn", "none"),
                    )]
                }
                RecordingAction::Stop => vec![report(AriRequest::post(format!("{live}/stop")))],
                RecordingAction::Pause => vec![report(AriRequest::post(format!("{live}/pause")))],
                RecordingAction::Resume => {
                    vec![report(AriRequest::delete(format!("{live}/pause")))]
                }
                RecordingAction::Mask => vec![report(AriRequest::post(format!("{live}/mute")))],
                RecordingAction::Unmask => vec![report(AriRequest::delete(format!("{live}/mute")))],
            }
        }
        SwitchCommand::RecordStereo { channel } => {
            debug!(%channel, "stereo recording is not available on Asterisk: recording in mono");
            Vec::new()
        }
        SwitchCommand::Beep { channel } => {
            let id = new_id();
            tables.playbacks.insert(
                id.clone(),
                PlaybackInfo {
                    channel: channel.clone(),
                    purpose: PlaybackPurpose::Quiet,
                },
            );
            let path = match tables.bridge_of(channel) {
                Some(bridge) => format!("/bridges/{bridge}/play"),
                None => format!("{}/play", channel_path(channel)),
            };
            vec![ignore(
                AriRequest::post(path)
                    .param("media", "sound:beep")
                    .param("playbackId", id),
            )]
        }
        SwitchCommand::HoldMusic { channel, source } => {
            media_of(source)?;
            if let Some(info) = tables.channel_mut(channel) {
                info.hold_music = Some(source.clone());
            }
            Vec::new()
        }
        SwitchCommand::Hold { channel, on } => hold(ctx, tables, channel, *on)?,
        SwitchCommand::RequeueReason { reason, .. } => {
            word("requeue reason", reason, "_")?;
            Vec::new()
        }
        SwitchCommand::ParkInline { channel } => {
            let mut steps = Vec::new();
            if let Some((bridge, left)) = tables.leave(channel) {
                steps.push(ignore(
                    AriRequest::post(format!("/bridges/{bridge}/removeChannel"))
                        .param("channel", channel.to_string()),
                ));
                for partner in &left {
                    tables.leave(partner);
                    steps.push(hangup(partner, 16));
                }
                steps.push(ignore(AriRequest::delete(format!("/bridges/{bridge}"))));
            }
            if let Some(input) = park_input(tables, channel) {
                steps.push(Step::Emit(input));
            }
            steps
        }
        SwitchCommand::Broadcast { channel, source } => {
            vec![start_media(tables, channel, source, |_| {
                PlaybackPurpose::Quiet
            })?]
        }
        SwitchCommand::Monitor {
            leg,
            call,
            target,
            mode,
            dial_string,
            timeout,
        } => originate(
            ctx,
            tables,
            Originate {
                leg,
                dial: dial_string,
                timeout: *timeout,
                app_args: format!("monitor,{call}"),
                caller_id: None,
                variables: vars(&[
                    ("SWITCHBOARD_ROLE", "monitor".into()),
                    ("SWITCHBOARD_CALL", call.to_string()),
                ]),
                role: Role::Monitor {
                    target: target.clone(),
                    mode: *mode,
                    call: *call,
                },
            },
        )?,
        SwitchCommand::MonitorKey { leg, digit } => {
            let mode = match digit {
                '0' => MonitorMode::Listen,
                '1' => MonitorMode::Whisper,
                '3' => MonitorMode::Barge,
                _ => return Err(unsafe_value("monitor key", &digit.to_string())),
            };
            let target = match tables.channels.get_mut(leg).map(|c| &mut c.role) {
                Some(Role::Monitor {
                    target, mode: m, ..
                }) => {
                    *m = mode;
                    target.clone()
                }
                _ => {
                    return Err(Refused::Unsupported(format!(
                        "a key to {leg}, which monitors nothing"
                    )))
                }
            };
            connect_monitor(ctx, tables, leg, &target, mode)
        }
        SwitchCommand::TakeOver { caller, leg } => {
            let Some(bridge) = tables.bridge_of(caller) else {
                return Err(Refused::Unsupported(format!(
                    "taking over {caller}, which is in no bridge"
                )));
            };
            let mut steps = Vec::new();
            if let Some(old) = tables.snoops.remove(leg) {
                steps.push(hangup(&old.snoop, 16));
                steps.push(ignore(AriRequest::delete(format!(
                    "/bridges/{}",
                    old.bridge
                ))));
                tables.bridges.remove(&old.bridge);
            }
            let agents: Vec<ChannelId> = tables
                .bridges
                .get(&bridge)
                .map(|m| {
                    m.iter()
                        .filter(|c| *c != caller && *c != leg)
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            if let Some(info) = tables.channel_mut(leg) {
                info.bridge = None;
            }
            tables.join(&bridge, std::slice::from_ref(leg));
            steps.push(report(
                AriRequest::post(format!("/bridges/{bridge}/addChannel"))
                    .param("channel", leg.to_string()),
            ));
            for agent in agents {
                tables.leave(&agent);
                steps.push(hangup(&agent, 16));
            }
            steps
        }
        SwitchCommand::ConferenceJoin { channel, name } => {
            let bridge = conference_bridge(name)?;
            let mut members = vec![channel.clone()];
            if let Some(partner) = tables.partner_of(channel) {
                members.push(partner);
            }
            let old = tables.bridge_of(channel);
            tables.join(&bridge, &members);
            let mut steps = vec![
                create_conference(&bridge, name),
                report(
                    AriRequest::post(format!("/bridges/{bridge}/addChannel")).param(
                        "channel",
                        members
                            .iter()
                            .map(ChannelId::to_string)
                            .collect::<Vec<_>>()
                            .join(","),
                    ),
                ),
            ];
            if let Some(old) = old.filter(|o| *o != bridge) {
                if !tables.bridges.contains_key(&old) {
                    steps.push(ignore(AriRequest::delete(format!("/bridges/{old}"))));
                }
            }
            steps
        }
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
            conference_bridge(name)?;
            let mut pairs = vec![
                (
                    "SWITCHBOARD_ROLE",
                    if agent.is_some() {
                        "agent"
                    } else {
                        "conference"
                    }
                    .to_owned(),
                ),
                ("SWITCHBOARD_CALL", call.to_string()),
                ("SWITCHBOARD_QUEUE", queue.to_string()),
            ];
            if let Some(agent) = agent {
                pairs.push(("SWITCHBOARD_AGENT", agent.to_string()));
            }
            originate(
                ctx,
                tables,
                Originate {
                    leg,
                    dial: dial_string,
                    timeout: *timeout,
                    app_args: format!("conference,{name}"),
                    caller_id: caller_id(&sanitize_name(caller_name), caller_number),
                    variables: vars(&pairs),
                    role: Role::Conference { name: name.clone() },
                },
            )?
        }
        SwitchCommand::Dial {
            leg,
            call,
            queue,
            dial_string,
            timeout,
        } => originate(
            ctx,
            tables,
            Originate {
                leg,
                dial: dial_string,
                timeout: *timeout,
                app_args: format!("dial,{call}"),
                caller_id: None,
                variables: vars(&[
                    ("SWITCHBOARD_ROLE", "callback".into()),
                    ("SWITCHBOARD_CALL", call.to_string()),
                    ("SWITCHBOARD_QUEUE", queue.to_string()),
                ]),
                role: Role::Callback {
                    call: *call,
                    queue: queue.clone(),
                },
            },
        )?,
    })
}

fn remember_cause(tables: &mut Tables, channel: &ChannelId, cause: &str) {
    if let Some(info) = tables.channel_mut(channel) {
        info.hangup_cause.get_or_insert_with(|| cause.to_owned());
    }
}
