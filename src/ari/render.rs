//! Engine commands as ARI requests. Every value from a caller, the API or a file is checked
//! here (ids by their types, everything else by charset) and sent as a URL-encoded query
//! value or a JSON string, never spliced into a path unchecked. Rendering also records in the
//! tables what the requests will create (our ids), before they are sent: the events they
//! cause may arrive before the responses.

use std::time::Duration;

use serde_json::{json, Map, Value};
use tracing::debug;

use super::client::AriRequest;
use super::media::{
    cause_code, media_of, sanitize_name, sanitize_number, sanitize_variable_value, unsafe_value,
    word, Media, Refused, MAX_LEG_VARIABLES,
};
use super::state::{
    ChannelInfo, PlaybackInfo, PlaybackPurpose, RecordingInfo, RecordingPurpose, Role, SnoopInfo,
    Tables,
};
use crate::engine::monitor::MonitorMode;
use crate::engine::recording::RecordingAction;
use crate::engine::{ChannelId, Input, Lamp, SayKind, SwitchCommand, SwitchName};

/// What the adapter needs to know to render.
#[derive(Debug, Clone)]
pub struct Context {
    pub switch: SwitchName,
    pub app: String,
    pub recordings_dir: String,
}

/// What to do when a request fails.
#[derive(Debug, Clone, PartialEq)]
pub enum OnError {
    /// Tell the engine (`CommandFailed`) and skip the rest of the plan.
    Report,
    /// The thing is gone already, or it does not matter: go on.
    Ignore,
    /// An originate: the leg is over before it began (`OriginateFailed`).
    Originate { leg: ChannelId },
}

/// One step of a plan, run in order in the command's lane.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Request {
        request: AriRequest,
        on_error: OnError,
    },
    /// An input the engine would have had from FreeSWITCH, given once the steps before it
    /// succeeded.
    Emit(Input),
}

fn report(request: AriRequest) -> Step {
    Step::Request {
        request,
        on_error: OnError::Report,
    }
}

fn ignore(request: AriRequest) -> Step {
    Step::Request {
        request,
        on_error: OnError::Ignore,
    }
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn channel_path(channel: &ChannelId) -> String {
    format!("/channels/{channel}")
}

/// Hangs a channel up with a Q.850 cause number.
pub fn hangup(channel: &ChannelId, code: u16) -> Step {
    ignore(AriRequest::delete(channel_path(channel)).param("reason_code", code.to_string()))
}

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

/// Starts a source on a channel: a MOH class, or a playback of ours.
fn start_media(
    tables: &mut Tables,
    channel: &ChannelId,
    source: &str,
    purpose: impl FnOnce(String) -> PlaybackPurpose,
) -> Result<Step, Refused> {
    Ok(match media_of(source)? {
        Media::Moh(class) => report(
            AriRequest::post(format!("{}/moh", channel_path(channel))).param("mohClass", class),
        ),
        Media::Uri(uri) => play(tables, channel, &uri, purpose(uri.clone())),
    })
}

pub fn play(
    tables: &mut Tables,
    channel: &ChannelId,
    media: &str,
    purpose: PlaybackPurpose,
) -> Step {
    let id = new_id();
    tables.playbacks.insert(
        id.clone(),
        PlaybackInfo {
            channel: channel.clone(),
            purpose,
        },
    );
    report(
        AriRequest::post(format!("{}/play", channel_path(channel)))
            .param("media", media.to_owned())
            .param("playbackId", id),
    )
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

fn snoop_request(
    target: &ChannelId,
    snoop: &ChannelId,
    mode: MonitorMode,
    app: &str,
) -> AriRequest {
    let whisper = match mode {
        MonitorMode::Whisper => "out",
        _ => "none",
    };
    AriRequest::post(format!("{}/snoop", channel_path(target)))
        .param("spy", "both")
        .param("whisper", whisper)
        .param("app", app.to_owned())
        .param("appArgs", "snoop")
        .param("snoopId", snoop.to_string())
}

/// Connects an answered supervisor leg to what it monitors: a snoop on the agent's leg (the
/// target caller's partner) bridged with the supervisor, or for barge the call's own bridge.
pub fn connect_monitor(
    ctx: &Context,
    tables: &mut Tables,
    leg: &ChannelId,
    target: &ChannelId,
    mode: MonitorMode,
) -> Vec<Step> {
    let mut steps = Vec::new();
    if let Some(old) = tables.snoops.remove(leg) {
        steps.push(hangup(&old.snoop, 16));
        steps.push(ignore(AriRequest::delete(format!(
            "/bridges/{}",
            old.bridge
        ))));
        tables.bridges.remove(&old.bridge);
    }
    if mode == MonitorMode::Barge {
        if let Some(bridge) = tables.bridge_of(target) {
            tables.join(&bridge, std::slice::from_ref(leg));
            steps.push(report(
                AriRequest::post(format!("/bridges/{bridge}/addChannel"))
                    .param("channel", leg.to_string()),
            ));
        }
        return steps;
    }
    let spied = tables.partner_of(target).unwrap_or_else(|| target.clone());
    let snoop = ChannelId::from_uuid(uuid::Uuid::new_v4());
    let bridge = new_id();
    tables
        .channels
        .insert(snoop.clone(), ChannelInfo::new(Role::Snoop));
    tables.snoops.insert(
        leg.clone(),
        SnoopInfo {
            snoop: snoop.clone(),
            bridge: bridge.clone(),
        },
    );
    if let Some(info) = tables.channel_mut(leg) {
        info.bridge = None;
    }
    tables.bridges.insert(bridge.clone(), vec![leg.clone()]);
    steps.push(report(snoop_request(&spied, &snoop, mode, &ctx.app)));
    steps.push(report(
        AriRequest::post("/bridges")
            .param("type", "mixing")
            .param("bridgeId", bridge.clone())
            .param("name", format!("monitor-{leg}")),
    ));
    steps.push(report(
        AriRequest::post(format!("/bridges/{bridge}/addChannel"))
            .param("channel", format!("{leg},{snoop}")),
    ));
    steps
}

/// The bridge a conference of ours lives in.
pub fn conference_bridge(name: &str) -> Result<String, Refused> {
    Ok(format!(
        "conference-{}",
        word("conference name", name, "._-")?
    ))
}

fn create_conference(bridge: &str, name: &str) -> Step {
    // A second create of the same id is a 409: the conference is there already.
    ignore(
        AriRequest::post("/bridges")
            .param("type", "mixing")
            .param("bridgeId", bridge.to_owned())
            .param("name", name.to_owned()),
    )
}

/// What FreeSWITCH's park gives for a leg: a caller's CHANNEL_PARK again; nothing for others.
pub fn park_input(tables: &Tables, channel: &ChannelId) -> Option<Input> {
    match &tables.channels.get(channel)?.role {
        Role::Caller { parked } => parked.as_deref().cloned(),
        _ => None,
    }
}

/// Partners left in a bridge whose other party went: FreeSWITCH hangs them up
/// (hangup_after_bridge) unless marked park_after_bridge, which parks them. The bridge goes
/// once empty.
pub fn orphaned(tables: &mut Tables, bridge: &str, left: &[ChannelId]) -> Vec<Step> {
    // A conference runs on with whoever is left (FreeSWITCH's conference does), until empty.
    if bridge.starts_with("conference-") {
        return if left.is_empty() {
            vec![ignore(AriRequest::delete(format!("/bridges/{bridge}")))]
        } else {
            Vec::new()
        };
    }
    let mut steps = Vec::new();
    for partner in left {
        let park = tables
            .channels
            .get(partner)
            .is_some_and(|c| c.park_after_bridge);
        tables.leave(partner);
        if park {
            steps.push(ignore(
                AriRequest::post(format!("/bridges/{bridge}/removeChannel"))
                    .param("channel", partner.to_string()),
            ));
            if let Some(input) = park_input(tables, partner) {
                steps.push(Step::Emit(input));
            }
        } else {
            steps.push(hangup(partner, 16));
        }
    }
    steps.push(ignore(AriRequest::delete(format!("/bridges/{bridge}"))));
    steps
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
            let code = cause_code(cause.as_str())?;
            remember_cause(tables, channel, cause.as_str());
            vec![hangup(channel, code)]
        }
        SwitchCommand::Hangup { channel, cause } => {
            let code = cause_code(word("hangup cause", cause, "_")?)?;
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

/// Bridges two channels in a new mixing bridge of ours. Partners they leave behind are
/// treated as FreeSWITCH treats a bridge that ends (see [`orphaned`]).
fn bridge_pair(tables: &mut Tables, a: &ChannelId, b: &ChannelId, name: &str) -> Vec<Step> {
    let bridge = new_id();
    let mut left_behind = Vec::new();
    for channel in [a, b] {
        if let Some((old, left)) = tables.leave(channel) {
            let left: Vec<ChannelId> = left.into_iter().filter(|c| c != a && c != b).collect();
            left_behind.push((old, left));
        }
    }
    tables.join(&bridge, &[a.clone(), b.clone()]);
    let mut steps = vec![
        report(
            AriRequest::post("/bridges")
                .param("type", "mixing")
                .param("bridgeId", bridge.clone())
                .param("name", name.to_owned()),
        ),
        report(
            AriRequest::post(format!("/bridges/{bridge}/addChannel"))
                .param("channel", format!("{a},{b}")),
        ),
    ];
    for (old, left) in left_behind {
        steps.extend(orphaned(tables, &old, &left));
    }
    steps
}

fn hold(
    ctx: &Context,
    tables: &mut Tables,
    channel: &ChannelId,
    on: bool,
) -> Result<Vec<Step>, Refused> {
    let hold_path = format!("{}/hold", channel_path(channel));
    let mut steps = vec![report(if on {
        AriRequest::post(hold_path)
    } else {
        AriRequest::delete(hold_path)
    })];
    if let Some(partner) = tables.partner_of(channel) {
        if on {
            let source = tables
                .channels
                .get(channel)
                .and_then(|c| c.hold_music.clone())
                .unwrap_or_else(|| "local_stream://moh".into());
            steps.push(start_media(tables, &partner, &source, |media| {
                PlaybackPurpose::Loop {
                    source: source.clone(),
                    media,
                }
            })?);
        } else {
            steps.push(ignore(AriRequest::delete(format!(
                "{}/moh",
                channel_path(&partner)
            ))));
            for id in tables.playbacks_of(&partner) {
                if tables
                    .playbacks
                    .get(&id)
                    .is_some_and(|p| matches!(p.purpose, PlaybackPurpose::Loop { .. }))
                {
                    tables.playbacks.remove(&id);
                    steps.push(ignore(AriRequest::delete(format!("/playbacks/{id}"))));
                }
            }
        }
    }
    // Asterisk reports no hold of its own (README: inbound-stasis).
    steps.push(Step::Emit(Input::LegHold {
        switch: ctx.switch.clone(),
        channel: channel.clone(),
        held: on,
    }));
    Ok(steps)
}
