//! ARI events in, engine inputs out: the only place that knows ARI's event shapes. Where
//! Asterisk leaves work to its client (hanging up a bridged partner, playing hold music again,
//! connecting a supervisor), the translation also gives the requests that do it, run in the
//! lane of the channel concerned.

use serde_json::Value;
use tracing::warn;

use super::bridges::{conference_bridge, connect_monitor, orphaned};
use super::media::cause_name;
use super::plan::{hangup, play, Context, Step};
use super::state::{ChannelInfo, PlaybackPurpose, RecordingPurpose, Role, Tables};
use super::transfer;
use crate::engine::io::FlowCall;
use crate::engine::routing::parse_skill_list;
use crate::engine::{ChannelId, Feature, Input, ParkedCall, QueueId};

/// What one event means.
#[derive(Debug, Default, PartialEq)]
pub struct Translation {
    pub inputs: Vec<Input>,
    /// Requests to run, each list in the lane of its channel.
    pub followups: Vec<(ChannelId, Vec<Step>)>,
    /// Another client took our application over (`ApplicationReplaced`).
    pub replaced: bool,
    /// An event of ours that lacks what we need: counted and logged.
    pub malformed: Option<String>,
}

impl Translation {
    fn malformed(what: impl Into<String>) -> Self {
        Self {
            malformed: Some(what.into()),
            ..Self::default()
        }
    }
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn channel_id(event: &Value) -> Result<ChannelId, String> {
    ChannelId::parse(str_at(event, "/channel/id")).map_err(|e| e.to_string())
}

/// The endpoint of a channel named `PJSIP/<endpoint>-<8 hex>`.
pub fn endpoint_of_name(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("PJSIP/")?;
    let (endpoint, _) = rest.rsplit_once('-')?;
    (!endpoint.is_empty()).then_some(endpoint)
}

pub fn translate(ctx: &Context, tables: &mut Tables, text: &str) -> Translation {
    let event: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return Translation::malformed(format!("not JSON: {e}")),
    };
    match str_at(&event, "/type") {
        "StasisStart" => stasis_start(ctx, tables, &event),
        "StasisEnd" => stasis_end(tables, &event),
        "ChannelStateChange" => state_change(ctx, tables, &event),
        "ChannelHangupRequest" => hangup_request(tables, &event),
        "ChannelDestroyed" => destroyed(ctx, tables, &event),
        "ChannelDtmfReceived" => dtmf(ctx, &event),
        "ChannelHold" | "ChannelUnhold" => match channel_id(&event) {
            // assumed: a phone's own hold arrives as ChannelHold/ChannelUnhold (no capture).
            Ok(channel) => Translation {
                inputs: vec![Input::LegHold {
                    switch: ctx.switch.clone(),
                    channel,
                    held: str_at(&event, "/type") == "ChannelHold",
                }],
                ..Translation::default()
            },
            Err(e) => Translation::malformed(format!("hold: {e}")),
        },
        "PlaybackFinished" if !tables.is_duplicate(text) => playback_finished(ctx, tables, &event),
        "RecordingFinished" | "RecordingFailed" if !tables.is_duplicate(text) => {
            recording_finished(ctx, tables, &event)
        }
        "EndpointStateChange" => endpoint_state(ctx, &event),
        "BridgeBlindTransfer" if !tables.is_duplicate(text) => {
            inputs_only(transfer::blind(&ctx.switch, tables, &event))
        }
        "BridgeAttendedTransfer" if !tables.is_duplicate(text) => {
            inputs_only(transfer::attended(&ctx.switch, tables, &event))
        }
        "ApplicationReplaced" => Translation {
            replaced: true,
            ..Translation::default()
        },
        _ => Translation::default(),
    }
}

fn inputs_only(input: Option<Input>) -> Translation {
    Translation {
        inputs: input.into_iter().collect(),
        ..Translation::default()
    }
}

/// `args` of a StasisStart, empty strings counting as absent.
fn args(event: &Value) -> Vec<String> {
    event
        .get("args")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|v| v.as_str().unwrap_or_default().trim().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn stasis_start(ctx: &Context, tables: &mut Tables, event: &Value) -> Translation {
    let channel = match channel_id(event) {
        Ok(c) => c,
        Err(e) => return Translation::malformed(format!("StasisStart: {e}")),
    };
    if !str_at(event, "/replace_channel/id").is_empty() {
        return match transfer::stand_in(tables, &channel, event) {
            Some(()) => Translation::default(),
            None => refuse(
                channel,
                "StasisStart replacing a leg of no bridge of ours".into(),
            ),
        };
    }
    let args = args(event);
    let up = str_at(event, "/channel/state") == "Up";
    let kind = args.first().map(String::as_str).unwrap_or_default();
    match kind {
        "queue" | "flow" => {
            if let Some((stand_in, caller)) =
                transfer::transferee_of_local(tables, str_at(event, "/channel/name"))
            {
                return transferred_caller_enters(
                    ctx, tables, event, &args, channel, stand_in, caller,
                );
            }
            caller_enters(ctx, tables, event, &args, channel, up)
        }
        "feature" => caller_enters(ctx, tables, event, &args, channel, up),
        "agent" | "dial" | "monitor" | "conference" => {
            let info = tables.channels.entry(channel.clone()).or_insert_with(|| {
                ChannelInfo::new(Role::Conference {
                    name: String::new(),
                })
            });
            info.in_stasis = true;
            info.answered = true;
            let role = info.role.clone();
            let mut followups = Vec::new();
            match role {
                Role::Monitor { target, mode, .. } => {
                    let steps = connect_monitor(ctx, tables, &channel, &target, mode);
                    followups.push((channel.clone(), steps));
                }
                Role::Conference { name } if !name.is_empty() => {
                    if let Ok(bridge) = conference_bridge(&name) {
                        tables.join(&bridge, std::slice::from_ref(&channel));
                        followups.push((
                            channel.clone(),
                            vec![
                                Step::Request {
                                    request: super::client::AriRequest::post("/bridges")
                                        .param("type", "mixing")
                                        .param("bridgeId", bridge.clone())
                                        .param("name", name.clone()),
                                    on_error: super::plan::OnError::Ignore,
                                },
                                Step::Request {
                                    request: super::client::AriRequest::post(format!(
                                        "/bridges/{bridge}/addChannel"
                                    ))
                                    .param("channel", channel.to_string()),
                                    on_error: super::plan::OnError::Report,
                                },
                            ],
                        ));
                    }
                }
                _ => {}
            }
            Translation {
                inputs: vec![
                    Input::ChannelAnswered {
                        switch: ctx.switch.clone(),
                        channel: channel.clone(),
                    },
                    Input::OriginateReturned {
                        switch: ctx.switch.clone(),
                        leg: channel,
                    },
                ],
                followups,
                ..Translation::default()
            }
        }
        "snoop" => Translation {
            followups: super::bridges::snoop_started(tables, &channel)
                .into_iter()
                .collect(),
            ..Translation::default()
        },
        _ => refuse(
            channel,
            format!("StasisStart with args {args:?} is not ours"),
        ),
    }
}

/// What a caller's `queue`, `flow` or `feature` StasisStart means.
fn entry_input(
    ctx: &Context,
    channel: &ChannelId,
    event: &Value,
    args: &[String],
) -> Result<Input, String> {
    match args.first().map(String::as_str).unwrap_or_default() {
        "queue" => parked_call(ctx, channel, event, &args[1..]),
        "flow" => flow_call(ctx, channel, event, &args[1..]),
        _ => feature_code(ctx, channel, event, &args[1..]),
    }
}

/// A caller our dialplan handed to the app (a queue, a flow or a feature code).
fn caller_enters(
    ctx: &Context,
    tables: &mut Tables,
    event: &Value,
    args: &[String],
    channel: ChannelId,
    up: bool,
) -> Translation {
    let kind = args.first().map(String::as_str).unwrap_or_default();
    let parked = match entry_input(ctx, &channel, event, args) {
        Ok(input) => input,
        Err(e) => return refuse(channel, format!("StasisStart {kind}: {e}")),
    };
    let mut info = ChannelInfo::new(Role::Caller {
        parked: (kind != "feature").then(|| Box::new(parked.clone())),
    });
    info.in_stasis = true;
    info.answered = up;
    tables.channels.insert(channel, info);
    Translation {
        inputs: vec![parked],
        ..Translation::default()
    }
}

/// The `;2` half of a phone's transfer reached one of our entry points: the transferred
/// caller is parked there itself, under its own caller ID (see `transfer`).
fn transferred_caller_enters(
    ctx: &Context,
    tables: &mut Tables,
    event: &Value,
    args: &[String],
    local: ChannelId,
    stand_in: ChannelId,
    caller: ChannelId,
) -> Translation {
    let mut parked = match entry_input(ctx, &caller, event, args) {
        Ok(input) => input,
        Err(e) => return refuse(local, format!("a transfer to {args:?}: {e}")),
    };
    let before = match super::bridges::park_input(tables, &caller) {
        Some(Input::CallParked(p)) => Some((p.caller_number, p.caller_name)),
        Some(Input::FlowCall(f)) => Some((f.caller_number, f.caller_name)),
        _ => None,
    };
    if let Some((number, name)) = before {
        match &mut parked {
            Input::CallParked(p) => (p.caller_number, p.caller_name) = (number, name),
            Input::FlowCall(f) => (f.caller_number, f.caller_name) = (number, name),
            _ => {}
        }
    }
    Translation {
        followups: transfer::park_again(tables, &local, &stand_in, &caller, parked),
        ..Translation::default()
    }
}

/// A channel handed to the app that is not ours, or whose args we cannot read: hung up, with
/// a warning, never a crash.
fn refuse(channel: ChannelId, why: String) -> Translation {
    warn!(%channel, %why, "hanging up a channel the app cannot take");
    Translation {
        followups: vec![(channel.clone(), vec![hangup(&channel, 16)])],
        ..Translation::default()
    }
}

fn caller_parts(event: &Value) -> (String, String, String) {
    (
        str_at(event, "/channel/caller/number").to_owned(),
        str_at(event, "/channel/caller/name").to_owned(),
        str_at(event, "/channel/dialplan/exten").to_owned(),
    )
}

/// `queue,<queue id>[,<priority>[,<skills>]]`.
fn parked_call(
    ctx: &Context,
    channel: &ChannelId,
    event: &Value,
    args: &[String],
) -> Result<Input, String> {
    let queue = args.first().filter(|q| !q.is_empty()).ok_or("no queue")?;
    let queue = QueueId::new(queue.as_str()).map_err(|e| e.to_string())?;
    let priority = match args.get(1).filter(|p| !p.is_empty()) {
        None => 0,
        Some(p) => p.parse::<i32>().unwrap_or_else(|_| {
            warn!(%channel, priority = %p, "priority is not an integer; queueing at 0");
            0
        }),
    };
    let skills = match args.get(2).filter(|s| !s.is_empty()) {
        None => Vec::new(),
        Some(raw) => parse_skill_list(raw).unwrap_or_else(|e| {
            warn!(%channel, value = %raw, error = %e, "skills unreadable; queueing without skills");
            Vec::new()
        }),
    };
    let (caller_number, caller_name, destination) = caller_parts(event);
    Ok(Input::CallParked(ParkedCall {
        switch: ctx.switch.clone(),
        channel: channel.clone(),
        queue,
        caller_number,
        caller_name,
        destination,
        priority,
        skills,
    }))
}

/// `flow,<entry point>`.
fn flow_call(
    ctx: &Context,
    channel: &ChannelId,
    event: &Value,
    args: &[String],
) -> Result<Input, String> {
    let entry = args
        .first()
        .filter(|e| !e.is_empty())
        .ok_or("no entry point")?;
    let (caller_number, caller_name, destination) = caller_parts(event);
    Ok(Input::FlowCall(FlowCall {
        switch: ctx.switch.clone(),
        channel: channel.clone(),
        entry: entry.clone(),
        caller_number,
        caller_name,
        destination,
    }))
}

/// `feature,<feature>[,<reason or code>[,<agent number>,<pin>]]`. The phone is the endpoint
/// the channel runs on (never its caller ID, which a phone can set).
fn feature_code(
    ctx: &Context,
    channel: &ChannelId,
    event: &Value,
    args: &[String],
) -> Result<Input, String> {
    let raw = args.first().map(String::as_str).unwrap_or_default();
    let feature = Feature::parse(raw).ok_or_else(|| format!("{raw:?} is not a feature"))?;
    let user = endpoint_of_name(str_at(event, "/channel/name"))
        .ok_or("a feature code from a channel that is no PJSIP phone")?;
    let arg = |i: usize| args.get(i).filter(|v| !v.is_empty()).cloned();
    Ok(Input::FeatureCode {
        switch: ctx.switch.clone(),
        channel: channel.clone(),
        feature,
        user: user.to_owned(),
        reason: arg(1).filter(|r| crate::config::is_pause_code(r)),
        agent_number: arg(2),
        pin: arg(3).map(crate::engine::pin::Pin),
        destination: str_at(event, "/channel/dialplan/exten").to_owned(),
        context: str_at(event, "/channel/dialplan/context").to_owned(),
    })
}

/// Partners a leaving channel leaves alone in our bridge (see [`orphaned`]).
fn leave_bridge(tables: &mut Tables, channel: &ChannelId) -> Vec<(ChannelId, Vec<Step>)> {
    match tables.leave(channel) {
        Some((bridge, left)) => {
            let steps = orphaned(tables, &bridge, &left);
            vec![(channel.clone(), steps)]
        }
        None => Vec::new(),
    }
}

fn stasis_end(tables: &mut Tables, event: &Value) -> Translation {
    let Ok(channel) = channel_id(event) else {
        return Translation::default();
    };
    if let Some(info) = tables.channel_mut(&channel) {
        info.in_stasis = false;
    }
    Translation {
        followups: leave_bridge(tables, &channel),
        ..Translation::default()
    }
}

fn state_change(ctx: &Context, tables: &mut Tables, event: &Value) -> Translation {
    if str_at(event, "/channel/state") != "Up" {
        return Translation::default();
    }
    let Ok(channel) = channel_id(event) else {
        return Translation::default();
    };
    if tables
        .channels
        .get(&channel)
        .is_some_and(|c| c.role.originated() || matches!(c.role, Role::Snoop | Role::Local))
    {
        return Translation::default();
    }
    let Some(user) = endpoint_of_name(str_at(event, "/channel/name")) else {
        return Translation::default();
    };
    if let Some(info) = tables.channel_mut(&channel) {
        info.answered = true;
    }
    tables.in_use.insert(channel.clone());
    Translation {
        inputs: vec![Input::ChannelInUse {
            switch: ctx.switch.clone(),
            channel,
            users: vec![user.to_owned()],
        }],
        ..Translation::default()
    }
}

/// The `AST_SOFTHANGUP_SHUTDOWN` flag bit of a soft hangup request (`restart` capture:
/// `{cause 4, soft}` for every channel at `core restart now`).
const SOFTHANGUP_SHUTDOWN: u64 = 4;

/// A soft hangup request's `cause` is a flag bit, not a Q.850 cause (README): only the
/// shutdown bit says something the ChannelDestroyed that follows does not (its cause is 0, as
/// for a plain BYE). The channel ends as FreeSWITCH reports a channel at its `shutdown`.
fn hangup_request(tables: &mut Tables, event: &Value) -> Translation {
    let shutdown = event.get("soft").and_then(Value::as_bool) == Some(true)
        && event.get("cause").and_then(Value::as_u64) == Some(SOFTHANGUP_SHUTDOWN);
    if shutdown {
        if let Some(info) = channel_id(event)
            .ok()
            .and_then(|channel| tables.channel_mut(&channel))
        {
            info.hangup_cause
                .get_or_insert_with(|| "SYSTEM_SHUTDOWN".to_owned());
        }
    }
    Translation::default()
}

fn destroyed(ctx: &Context, tables: &mut Tables, event: &Value) -> Translation {
    let channel = match channel_id(event) {
        Ok(c) => c,
        Err(e) => return Translation::malformed(format!("ChannelDestroyed: {e}")),
    };
    let code = event.get("cause").and_then(Value::as_u64).unwrap_or(0);
    let tech = event
        .get("tech_cause")
        .and_then(Value::as_u64)
        .and_then(|t| u16::try_from(t).ok());
    let mut followups = leave_bridge(tables, &channel);
    let info = tables.channels.remove(&channel);
    let cause = info
        .as_ref()
        .and_then(|i| i.hangup_cause.clone())
        .unwrap_or_else(|| cause_name(u16::try_from(code).unwrap_or(0), tech));
    tables.in_use.remove(&channel);
    tables.hangup_after_prompts.remove(&channel);
    tables.playbacks.retain(|_, p| p.channel != channel);
    if let Some(snoop) = tables.snoops.remove(&channel) {
        tables.bridges.remove(&snoop.bridge);
        followups.push((
            channel.clone(),
            vec![
                hangup(&snoop.snoop, 16),
                Step::Request {
                    request: super::client::AriRequest::delete(format!(
                        "/bridges/{}",
                        snoop.bridge
                    )),
                    on_error: super::plan::OnError::Ignore,
                },
            ],
        ));
    }
    tables.transferred_from.remove(&channel);
    tables.local_pairs.retain(|_, c| c != &channel);
    if info
        .as_ref()
        .is_some_and(|i| matches!(i.role, Role::Snoop | Role::Local))
    {
        return Translation {
            followups,
            ..Translation::default()
        };
    }
    let mut inputs = vec![Input::ChannelHungUp {
        switch: ctx.switch.clone(),
        channel: channel.clone(),
        cause: cause.clone(),
    }];
    if info.is_some_and(|i| i.role.originated() && !i.answered) {
        inputs.push(Input::OriginateFailed {
            switch: ctx.switch.clone(),
            leg: channel,
            cause,
        });
    }
    Translation {
        inputs,
        followups,
        ..Translation::default()
    }
}

fn dtmf(ctx: &Context, event: &Value) -> Translation {
    let channel = match channel_id(event) {
        Ok(c) => c,
        Err(e) => return Translation::malformed(format!("ChannelDtmfReceived: {e}")),
    };
    let raw = str_at(event, "/digit");
    let mut chars = raw.chars();
    match (chars.next(), chars.next()) {
        (Some(d), None) if matches!(d, '0'..='9' | '*' | '#' | 'A'..='D' | 'a'..='d') => {
            Translation {
                inputs: vec![Input::Dtmf {
                    switch: ctx.switch.clone(),
                    channel,
                    digit: d.to_ascii_uppercase(),
                }],
                ..Translation::default()
            }
        }
        _ => Translation::malformed(format!(
            "ChannelDtmfReceived {channel}: digit is not one key"
        )),
    }
}

fn playback_finished(ctx: &Context, tables: &mut Tables, event: &Value) -> Translation {
    let id = str_at(event, "/playback/id");
    let Some(info) = tables.playbacks.remove(id) else {
        return Translation::default();
    };
    let done = str_at(event, "/playback/state") != "failed";
    let channel = info.channel.clone();
    let mut translation = Translation::default();
    match info.purpose {
        PlaybackPurpose::Prompt { application, data } => {
            translation.inputs.push(Input::MediaDone {
                switch: ctx.switch.clone(),
                channel: channel.clone(),
                application: application.to_owned(),
                data,
                response: if done {
                    "FILE PLAYED"
                } else {
                    "FILE NOT FOUND"
                }
                .to_owned(),
            });
        }
        PlaybackPurpose::Loop { source, media }
            if done && tables.channels.contains_key(&channel) =>
        {
            let step = play(
                tables,
                &channel,
                &media,
                PlaybackPurpose::Loop {
                    source,
                    media: media.clone(),
                },
            );
            translation.followups.push((channel.clone(), vec![step]));
        }
        _ => {}
    }
    let prompts_left = tables
        .playbacks
        .values()
        .any(|p| p.channel == channel && matches!(p.purpose, PlaybackPurpose::Prompt { .. }));
    if !prompts_left && tables.hangup_after_prompts.remove(&channel) {
        translation
            .followups
            .push((channel.clone(), vec![hangup(&channel, 16)]));
    }
    translation
}

fn recording_finished(ctx: &Context, tables: &mut Tables, event: &Value) -> Translation {
    let name = str_at(event, "/recording/name");
    let Some(info) = tables.recordings.remove(name) else {
        return Translation::default();
    };
    let input = match info.purpose {
        RecordingPurpose::Message { path } => Input::MediaDone {
            switch: ctx.switch.clone(),
            channel: info.channel,
            application: "record".into(),
            data: path,
            response: "_none_".into(),
        },
        RecordingPurpose::Session { path } => Input::RecordingStopped {
            switch: ctx.switch.clone(),
            channel: info.channel,
            path,
        },
    };
    Translation {
        inputs: vec![input],
        ..Translation::default()
    }
}

/// A PJSIP endpoint going `online` or `offline` (its contact registered or gone): the phone's
/// registration, as FreeSWITCH's `sofia::register`/`sofia::unregister` give it. *Assumed*: no
/// capture shows the event (the rig's contacts were static).
fn endpoint_state(ctx: &Context, event: &Value) -> Translation {
    if str_at(event, "/endpoint/technology") != "PJSIP" {
        return Translation::default();
    }
    let user = str_at(event, "/endpoint/resource");
    let registered = match str_at(event, "/endpoint/state") {
        "online" => true,
        "offline" => false,
        _ => return Translation::default(),
    };
    if user.is_empty() {
        return Translation::malformed("EndpointStateChange without a resource");
    }
    Translation {
        inputs: vec![Input::PhoneRegistration {
            switch: ctx.switch.clone(),
            user: user.to_owned(),
            registered,
            cause: if registered { "register" } else { "unregister" }.to_owned(),
        }],
        ..Translation::default()
    }
}
