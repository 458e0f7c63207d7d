//! Switch events in, engine inputs out: the only place that knows FreeSWITCH's header names.

use freeswitch_esl_tokio::{EslEvent, EslEventType};
use serde_json::Value;
use tracing::warn;

use crate::engine::io::FlowCall;
use crate::engine::routing::{parse_skill_list, SkillLevel};
use crate::engine::{
    AgentId, CallId, ChannelId, ChannelRole, ChannelSnapshot, Feature, Input, ParkedCall, QueueId,
    SwitchName,
};

/// The events the engine needs; everything else is not subscribed to, to keep the wire quiet.
///
/// `CUSTOM` must come last: FreeSWITCH (`mod_event_socket`) takes every word after `CUSTOM` as
/// a subclass name, and delivers a CUSTOM event only if its `Event-Subclass` is one of them.
pub const SUBSCRIBED_EVENTS: &str = "CHANNEL_PARK CHANNEL_ANSWER CHANNEL_HANGUP \
     CHANNEL_EXECUTE_COMPLETE BACKGROUND_JOB HEARTBEAT SHUTDOWN DTMF PRESENCE_PROBE RECORD_STOP \
     CHANNEL_HOLD CHANNEL_UNHOLD CUSTOM \
     sofia::register sofia::unregister sofia::expire";

/// What an event means for us.
#[derive(Debug, Clone, PartialEq)]
// Built once per event and moved on at once; boxing the input would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
pub enum Translated {
    Input(Input),
    /// The switch is going down; its channels go with it.
    Shutdown,
    /// Liveness only.
    Heartbeat,
    /// Not ours, or nothing to do.
    Ignored,
    /// An event of ours that lacks what we need: counted and logged, never dropped silently.
    Malformed(String),
}

/// A caller is a channel our dialplan parked for a queue (`switchboard_queue`) or for an IVR
/// flow (`switchboard_flow`).
fn role_of(event: &EslEvent) -> Option<ChannelRole> {
    match event.variable_str("switchboard_role") {
        Some("agent") => Some(ChannelRole::Agent),
        _ if event.variable_str("switchboard_queue").is_some()
            || event.variable_str("switchboard_flow").is_some() =>
        {
            Some(ChannelRole::Caller)
        }
        _ => None,
    }
}

/// Legs we originated: an agent's phone ringing for a call, or a callback's customer.
fn ours_originated(event: &EslEvent) -> bool {
    matches!(
        event.variable_str("switchboard_role"),
        Some("agent" | "callback" | "monitor")
    )
}

/// The SIP users a channel involves: the phone it runs on (`sofia/<profile>/<user>@...`), the
/// registered user that placed it, the user it dialled. An agent whose phone is among them is
/// busy on this call.
fn phone_users(event: &EslEvent) -> Vec<String> {
    let from_channel_name = event
        .header_str("Channel-Name")
        .and_then(|name| name.strip_prefix("sofia/"))
        .and_then(|rest| rest.split_once('/'))
        .and_then(|(_, user)| user.split('@').next())
        .map(str::to_owned);
    let mut users: Vec<String> = from_channel_name
        .into_iter()
        .chain(event.header_str("Caller-Username").map(str::to_owned))
        .chain(event.variable_str("dialed_user").map(str::to_owned))
        .filter(|u| !u.is_empty())
        .collect();
    users.sort();
    users.dedup();
    users
}

fn channel_of(event: &EslEvent) -> Result<ChannelId, String> {
    let raw = event.header_str("Unique-ID").ok_or("no Unique-ID")?;
    ChannelId::parse(raw).map_err(|e| e.to_string())
}

pub fn translate(switch: &SwitchName, event: &EslEvent) -> Translated {
    match event.event_type() {
        Some(EslEventType::ChannelPark) => park(switch, event),
        Some(EslEventType::PresenceProbe) => presence_probe(switch, event),
        Some(EslEventType::ChannelAnswer) => match channel_of(event) {
            Ok(channel) if ours_originated(event) => Translated::Input(Input::ChannelAnswered {
                switch: switch.clone(),
                channel,
            }),
            Ok(channel) => match super::transfer::bridged_by_dialplan(event) {
                Some(partner) => Translated::Input(Input::BridgedLegAnswered {
                    switch: switch.clone(),
                    channel,
                    partner,
                    users: phone_users(event),
                }),
                None => Translated::Input(Input::ChannelInUse {
                    switch: switch.clone(),
                    channel,
                    users: phone_users(event),
                }),
            },
            Err(e) => Translated::Malformed(format!("CHANNEL_ANSWER: {e}")),
        },
        Some(EslEventType::ChannelHangup) if event.variable_str("transfer_to").is_some() => {
            match super::transfer::leg_transferred(switch, event) {
                Ok(input) => Translated::Input(input),
                Err(e) => Translated::Malformed(e),
            }
        }
        Some(EslEventType::ChannelHangup) => match channel_of(event) {
            Ok(channel) => Translated::Input(Input::ChannelHungUp {
                switch: switch.clone(),
                channel,
                cause: event
                    .header_str("Hangup-Cause")
                    .unwrap_or("UNSPECIFIED")
                    .to_owned(),
            }),
            Err(e) => Translated::Malformed(format!("CHANNEL_HANGUP: {e}")),
        },
        Some(EslEventType::ChannelExecuteComplete) => execute_complete(switch, event),
        Some(EslEventType::BackgroundJob) => background_job(switch, event),
        Some(EslEventType::Dtmf) => dtmf(switch, event),
        Some(EslEventType::RecordStop) => record_stop(switch, event),
        Some(EslEventType::Custom) => custom(switch, event),
        Some(EslEventType::ChannelHold) => super::hold::hold(switch, event, true),
        Some(EslEventType::ChannelUnhold) => super::hold::hold(switch, event, false),
        Some(EslEventType::Heartbeat) => Translated::Heartbeat,
        Some(EslEventType::Shutdown) => Translated::Shutdown,
        _ => Translated::Ignored,
    }
}

fn park(switch: &SwitchName, event: &EslEvent) -> Translated {
    if let Some(feature) = event.variable_str("switchboard_feature") {
        return feature_code(switch, event, feature);
    }
    if role_of(event) != Some(ChannelRole::Caller) {
        return Translated::Ignored;
    }
    let channel = match channel_of(event) {
        Ok(c) => c,
        Err(e) => return Translated::Malformed(format!("CHANNEL_PARK: {e}")),
    };
    if event.variable_str("switchboard_queue").is_none() {
        return flow_call(switch, event, channel);
    }
    let raw_queue = event.variable_str("switchboard_queue").unwrap_or_default();
    let queue = match QueueId::new(raw_queue) {
        Ok(q) => q,
        Err(e) => return Translated::Malformed(format!("CHANNEL_PARK {channel}: {e}")),
    };
    let priority = match event.variable_str("switchboard_priority") {
        None => 0,
        Some(p) => match p.trim().parse::<i32>() {
            Ok(p) => p,
            Err(_) => {
                return Translated::Malformed(format!(
                    "CHANNEL_PARK {channel}: switchboard_priority {p:?} is not an integer"
                ))
            }
        },
    };
    Translated::Input(Input::CallParked(ParkedCall {
        skills: caller_skills(&channel, event),
        switch: switch.clone(),
        channel,
        queue,
        caller_number: event
            .header_str("Caller-Caller-ID-Number")
            .unwrap_or_default()
            .to_owned(),
        caller_name: event
            .header_str("Caller-Caller-ID-Name")
            .unwrap_or_default()
            .to_owned(),
        destination: event
            .header_str("Caller-Destination-Number")
            .unwrap_or_default()
            .to_owned(),
        priority,
    }))
}

/// A caller parked for an IVR flow: `switchboard_flow` names one of the flows' entry points.
/// Which flow that is, if any, is the engine's to decide (flows are reloaded while running).
fn flow_call(switch: &SwitchName, event: &EslEvent, channel: ChannelId) -> Translated {
    let entry = event
        .variable_str("switchboard_flow")
        .map(str::trim)
        .unwrap_or_default();
    if entry.is_empty() {
        return Translated::Malformed(format!("CHANNEL_PARK {channel}: switchboard_flow is empty"));
    }
    let header = |name: &str| event.header_str(name).unwrap_or_default().to_owned();
    Translated::Input(Input::FlowCall(FlowCall {
        switch: switch.clone(),
        channel,
        entry: entry.to_owned(),
        caller_number: header("Caller-Caller-ID-Number"),
        caller_name: header("Caller-Caller-ID-Name"),
        destination: header("Caller-Destination-Number"),
    }))
}

/// The skills the dialplan asked for (`switchboard_skills`, e.g. `spanish:7,billing`). A value
/// we cannot read must not cost the caller their place: the call is queued without skills and
/// the problem is logged.
fn caller_skills(channel: &ChannelId, event: &EslEvent) -> Vec<SkillLevel> {
    let Some(raw) = event.variable_str("switchboard_skills") else {
        return Vec::new();
    };
    match parse_skill_list(raw) {
        Ok(skills) => skills,
        Err(e) => {
            warn!(%channel, value = %raw, error = %e, "switchboard_skills unreadable; queueing without skills");
            Vec::new()
        }
    }
}

/// CUSTOM events: only the phone registration ones (`sofia::register`, `sofia::unregister`,
/// `sofia::expire`) are ours.
fn custom(switch: &SwitchName, event: &EslEvent) -> Translated {
    let (registered, cause) = match event.header_str("Event-Subclass") {
        Some("sofia::register") => (true, "register"),
        Some("sofia::unregister") => (false, "unregister"),
        Some("sofia::expire") => (false, "expire"),
        _ => return Translated::Ignored,
    };
    // register/unregister carry `from-user` and `username`; expire has `user` and `username`.
    let user = ["from-user", "username", "user"]
        .iter()
        .filter_map(|h| event.header_str(h))
        .map(str::trim)
        .find(|u| !u.is_empty());
    match user {
        Some(user) => Translated::Input(Input::PhoneRegistration {
            switch: switch.clone(),
            user: user.to_owned(),
            registered,
            cause: cause.to_owned(),
        }),
        None => Translated::Malformed(format!("sofia::{cause} without from-user/username")),
    }
}

/// An agent's feature code, parked by our dialplan. The phone is the authenticated SIP user
/// that placed the call (never the caller ID, which a phone can set to anything).
fn feature_code(switch: &SwitchName, event: &EslEvent, feature: &str) -> Translated {
    let channel = match channel_of(event) {
        Ok(c) => c,
        Err(e) => return Translated::Malformed(format!("CHANNEL_PARK: {e}")),
    };
    let Some(feature) = Feature::parse(feature) else {
        return Translated::Malformed(format!(
            "CHANNEL_PARK {channel}: switchboard_feature {feature:?} is not a feature"
        ));
    };
    let user = event
        .header_str("Caller-Username")
        .or_else(|| event.variable_str("sip_from_user"))
        .filter(|u| !u.is_empty());
    let Some(user) = user else {
        return Translated::Malformed(format!(
            "CHANNEL_PARK {channel}: a feature code from a channel without a SIP user"
        ));
    };
    let variable = |name: &str| {
        event
            .variable_str(name)
            .map(str::to_owned)
            .filter(|v| !v.is_empty())
    };
    Translated::Input(Input::FeatureCode {
        switch: switch.clone(),
        channel,
        feature,
        user: user.to_owned(),
        // Only a code that could be provisioned; anything else counts as no code.
        reason: variable("switchboard_reason").filter(|r| crate::config::is_pause_code(r)),
        agent_number: variable("switchboard_agent_number"),
        pin: variable("switchboard_pin").map(crate::engine::pin::Pin),
        destination: event
            .header_str("Caller-Destination-Number")
            .unwrap_or_default()
            .to_owned(),
        context: event
            .header_str("Caller-Context")
            .unwrap_or("default")
            .to_owned(),
    })
}

/// A phone subscribed to one of our BLF names (`agent+<id>@…` or `queue+<id>@…`); other
/// probes (ordinary users' presence) are none of ours.
fn presence_probe(switch: &SwitchName, event: &EslEvent) -> Translated {
    let Some(to) = event.header_str("to") else {
        return Translated::Ignored;
    };
    let user = to.split('@').next().unwrap_or_default();
    match user.split_once('+') {
        Some((proto @ ("agent" | "queue"), id)) if !id.is_empty() => {
            Translated::Input(Input::PresenceProbe {
                switch: switch.clone(),
                proto: proto.to_owned(),
                id: id.to_owned(),
            })
        }
        _ => Translated::Ignored,
    }
}

/// A key the caller pressed. DTMF events carry no channel variables, so whether the channel
/// is ours is for the engine to decide.
fn dtmf(switch: &SwitchName, event: &EslEvent) -> Translated {
    let channel = match channel_of(event) {
        Ok(c) => c,
        Err(e) => return Translated::Malformed(format!("DTMF: {e}")),
    };
    let raw = event.header_str("DTMF-Digit").unwrap_or_default();
    let mut chars = raw.chars();
    match (chars.next(), chars.next()) {
        (Some(d), None) if matches!(d, '0'..='9' | '*' | '#' | 'A'..='D' | 'a'..='d') => {
            Translated::Input(Input::Dtmf {
                switch: switch.clone(),
                channel,
                digit: d.to_ascii_uppercase(),
            })
        }
        // The value is not repeated: keys pressed on a call never reach a log.
        _ => Translated::Malformed(format!(
            "DTMF {channel}: DTMF-Digit is not one key ({} characters)",
            raw.chars().count()
        )),
    }
}

/// The switch stopped recording one of our channels: `uuid_record` (asked to, at the
/// channel's hangup, at its limit, on an error) or a flow's `record`; which recording it
/// was, if any, is the engine's to tell from the path. RECORD_START needs no translation:
/// the engine counts a recording from the moment it asks for it.
fn record_stop(switch: &SwitchName, event: &EslEvent) -> Translated {
    if role_of(event).is_none() && !ours_originated(event) {
        return Translated::Ignored;
    }
    let channel = match channel_of(event) {
        Ok(c) => c,
        Err(e) => return Translated::Malformed(format!("RECORD_STOP: {e}")),
    };
    match event
        .header_str("Record-File-Path")
        .filter(|p| !p.is_empty())
    {
        Some(path) => Translated::Input(Input::RecordingStopped {
            switch: switch.clone(),
            channel,
            path: path.to_owned(),
        }),
        None => Translated::Malformed(format!("RECORD_STOP {channel}: no Record-File-Path")),
    }
}

/// An application finished on a channel. Only our channels (callers parked for a queue, agent
/// and callback legs we originated) are reported: the event carries the channel's variables,
/// so the check costs nothing, and the switch completes applications on every call it runs.
fn execute_complete(switch: &SwitchName, event: &EslEvent) -> Translated {
    if role_of(event).is_none() && !ours_originated(event) {
        return Translated::Ignored;
    }
    let channel = match channel_of(event) {
        Ok(c) => c,
        Err(e) => return Translated::Malformed(format!("CHANNEL_EXECUTE_COMPLETE: {e}")),
    };
    let Some(application) = event.header_str("Application").filter(|a| !a.is_empty()) else {
        return Translated::Malformed(format!(
            "CHANNEL_EXECUTE_COMPLETE {channel}: no Application"
        ));
    };
    Translated::Input(Input::MediaDone {
        switch: switch.clone(),
        channel,
        application: application.to_owned(),
        data: event
            .header_str("Application-Data")
            .unwrap_or_default()
            .to_owned(),
        response: event
            .header_str("Application-Response")
            .unwrap_or_default()
            .to_owned(),
    })
}

/// A failed originate of ours: it ends an offer even when no channel was ever created
/// (`-ERR USER_NOT_REGISTERED` comes with no channel events at all), but not a leg already
/// answered (the engine judges). The leg is found by the `origination_uuid` we put in the
/// command, which the job echoes in `Job-Command-Arg`.
fn background_job(switch: &SwitchName, event: &EslEvent) -> Translated {
    if event.header_str("Job-Command") != Some("originate") {
        return Translated::Ignored;
    }
    let body = event.body().unwrap_or_default().trim();
    let arg = event.header_str("Job-Command-Arg").unwrap_or_default();
    if !arg.contains("switchboard_role=agent")
        && !arg.contains("switchboard_role=callback")
        && !arg.contains("switchboard_role=monitor")
    {
        return Translated::Ignored;
    }
    let Some(cause) = body.strip_prefix("-ERR") else {
        if body.starts_with("+OK") {
            if let Some(leg) = origination_uuid(arg) {
                return Translated::Input(Input::OriginateReturned {
                    switch: switch.clone(),
                    leg,
                });
            }
        }
        return Translated::Ignored;
    };
    let Some(leg) = origination_uuid(arg) else {
        return Translated::Malformed(format!("BACKGROUND_JOB without origination_uuid: {arg}"));
    };
    Translated::Input(Input::OriginateFailed {
        switch: switch.clone(),
        leg,
        cause: cause.trim().to_owned(),
    })
}

fn origination_uuid(arg: &str) -> Option<ChannelId> {
    let start = arg.find("origination_uuid=")? + "origination_uuid=".len();
    let rest = &arg[start..];
    let end = rest.find([',', '}', ']']).unwrap_or(rest.len());
    ChannelId::parse(&rest[..end]).ok()
}

/// The users in `show registrations as json` (`{"row_count":0}` when empty).
pub fn registered_users(show_registrations_json: &str) -> Result<Vec<String>, String> {
    show_column(show_registrations_json, "show registrations", "reg_user")
}

/// The UUIDs in `show channels as json` (`{"row_count":0}` when empty).
pub fn channel_uuids(show_channels_json: &str) -> Result<Vec<String>, String> {
    show_column(show_channels_json, "show channels", "uuid")
}

/// One column of a `show … as json` listing; `what` names the listing in errors.
fn show_column(json: &str, what: &str, column: &str) -> Result<Vec<String>, String> {
    let value: Value =
        serde_json::from_str(json.trim()).map_err(|e| format!("{what}: not JSON: {e}"))?;
    let Some(rows) = value.get("rows") else {
        return Ok(Vec::new());
    };
    let rows = rows
        .as_array()
        .ok_or_else(|| format!("{what}: rows is not a list"))?;
    Ok(rows
        .iter()
        .filter_map(|r| r.get(column).and_then(Value::as_str).map(str::to_owned))
        .collect())
}

/// One channel from `uuid_dump <uuid> json`, if it is one of ours.
pub fn snapshot_from_dump(dump_json: &str) -> Result<Option<ChannelSnapshot>, String> {
    let value: Value =
        serde_json::from_str(dump_json.trim()).map_err(|e| format!("uuid_dump: not JSON: {e}"))?;
    let get = |k: &str| value.get(k).and_then(Value::as_str);
    let role = match (
        get("variable_switchboard_role"),
        get("variable_switchboard_queue").or_else(|| get("variable_switchboard_flow")),
    ) {
        (Some("agent"), _) => ChannelRole::Agent,
        (_, Some(_)) => ChannelRole::Caller,
        _ => return Ok(None),
    };
    let channel = ChannelId::parse(get("Unique-ID").ok_or("uuid_dump: no Unique-ID")?)
        .map_err(|e| e.to_string())?;
    let answered =
        get("Answer-State") == Some("answered") || get("Channel-Call-State") == Some("ACTIVE");
    let bridged_to = get("variable_bridge_uuid")
        .or_else(|| get("variable_signal_bond"))
        .or_else(|| get("Other-Leg-Unique-ID"))
        .and_then(|u| ChannelId::parse(u).ok());
    Ok(Some(ChannelSnapshot {
        channel,
        role,
        answered,
        bridged_to,
        queue: get("variable_switchboard_queue").and_then(|q| QueueId::new(q).ok()),
        flow_entry: get("variable_switchboard_flow")
            .filter(|e| !e.is_empty())
            .map(str::to_owned),
        agent: get("variable_switchboard_agent_id").and_then(|a| AgentId::new(a).ok()),
        call: get("variable_switchboard_call_id").and_then(|c| CallId::parse(c).ok()),
        caller_number: get("Caller-Caller-ID-Number")
            .unwrap_or_default()
            .to_owned(),
        caller_name: get("Caller-Caller-ID-Name").unwrap_or_default().to_owned(),
        destination: get("Caller-Destination-Number")
            .unwrap_or_default()
            .to_owned(),
        stored: None,
        stored_flow: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `vendor/freeswitch-types` finds known header names by length instead of one by one;
    /// the name it keeps must be the one the crate's own `FromStr` chooses, in every casing.
    #[test]
    fn header_names_are_normalized_as_the_crates_own_parser_names_them() {
        use freeswitch_esl_tokio::{normalize_header_key, EventHeader};
        let as_the_crate_did = |raw: &str| match raw.parse::<EventHeader>() {
            Ok(header) => header.as_str().to_owned(),
            Err(_) => normalize_header_key(raw),
        };
        for header in EventHeader::ALL {
            let wire = header.as_str();
            for raw in [
                wire.to_owned(),
                wire.to_ascii_lowercase(),
                wire.to_ascii_uppercase(),
            ] {
                assert_eq!(normalize_header_key(&raw), as_the_crate_did(&raw), "{raw}");
            }
        }
        for raw in [
            "variable_sip_h_X-Queue",
            "unique-ids",
            "x-custom-header",
            "",
        ] {
            assert_eq!(normalize_header_key(raw), as_the_crate_did(raw), "{raw}");
        }
    }

    fn event(headers: &[(&str, &str)], body: Option<&str>) -> EslEvent {
        let mut e = EslEvent::new();
        for (k, v) in headers {
            e.set_header(*k, *v);
        }
        if let Some(b) = body {
            e.set_body(b);
        }
        e
    }

    fn sw() -> SwitchName {
        SwitchName::new("fs1").expect("name")
    }

    #[test]
    fn a_failed_originate_of_ours_ends_the_agent_leg() {
        let e = event(
            &[
                ("Event-Name", "BACKGROUND_JOB"),
                ("Job-Command", "originate"),
                (
                    "Job-Command-Arg",
                    "{origination_uuid=c27d4048-9d23-4e28-8b5c-8db4120b83e2,originate_timeout=5,switchboard_role=agent}user/1019 &park()",
                ),
            ],
            Some("-ERR USER_NOT_REGISTERED\n"),
        );
        assert_eq!(
            translate(&sw(), &e),
            Translated::Input(Input::OriginateFailed {
                switch: sw(),
                leg: ChannelId::parse("c27d4048-9d23-4e28-8b5c-8db4120b83e2").expect("uuid"),
                cause: "USER_NOT_REGISTERED".into()
            })
        );
    }

    #[test]
    fn a_returned_originate_of_ours_names_its_leg() {
        // `bridge-before-and-after-job` part B: the job's body is `+OK <leg>`.
        let e = event(
            &[
                ("Event-Name", "BACKGROUND_JOB"),
                ("Job-Command", "originate"),
                (
                    "Job-Command-Arg",
                    "{origination_uuid=c27d4048-9d23-4e28-8b5c-8db4120b83e2,originate_timeout=5,switchboard_role=agent}user/1019 &park()",
                ),
            ],
            Some("+OK c27d4048-9d23-4e28-8b5c-8db4120b83e2\n"),
        );
        assert_eq!(
            translate(&sw(), &e),
            Translated::Input(Input::OriginateReturned {
                switch: sw(),
                leg: ChannelId::parse("c27d4048-9d23-4e28-8b5c-8db4120b83e2").expect("uuid"),
            })
        );
    }

    #[test]
    fn an_answered_channel_that_is_not_our_leg_names_the_phones_it_involves() {
        let e = event(
            &[
                ("Event-Name", "CHANNEL_ANSWER"),
                ("Unique-ID", "82b63871-1946-4fc7-963b-b5675def037e"),
                ("Channel-Name", "sofia/internal/1001@pbx.example.com"),
                ("Caller-Username", "1001"),
                ("variable_dialed_user", "1002"),
            ],
            None,
        );
        assert_eq!(
            translate(&sw(), &e),
            Translated::Input(Input::ChannelInUse {
                switch: sw(),
                channel: ChannelId::parse("82b63871-1946-4fc7-963b-b5675def037e").expect("uuid"),
                users: vec!["1001".into(), "1002".into()],
            })
        );
        let ours = event(
            &[
                ("Event-Name", "CHANNEL_ANSWER"),
                ("Unique-ID", "82b63871-1946-4fc7-963b-b5675def037e"),
                ("Channel-Name", "sofia/internal/1001@pbx.example.com"),
                ("variable_switchboard_role", "agent"),
            ],
            None,
        );
        assert!(matches!(
            translate(&sw(), &ours),
            Translated::Input(Input::ChannelAnswered { .. })
        ));
    }

    #[test]
    fn a_hangup_after_a_refer_is_a_transfer_and_a_dialplan_bridged_answer_names_its_partner() {
        let hangup = event(
            &[
                ("Event-Name", "CHANNEL_HANGUP"),
                ("Unique-ID", "922c2f1a-05a3-41c1-a8f0-e7bb12e85ac9"),
                ("Hangup-Cause", "NORMAL_CLEARING"),
                (
                    "variable_transfer_to",
                    "blind:90167103-3616-4f23-b560-4256403b7ca9",
                ),
            ],
            None,
        );
        assert!(matches!(
            translate(&sw(), &hangup),
            Translated::Input(Input::LegTransferred(_))
        ));
        let answer = event(
            &[
                ("Event-Name", "CHANNEL_ANSWER"),
                ("Unique-ID", "6e9acbb0-9df8-41dd-9c1f-db9b74323f7e"),
                ("Channel-Name", "sofia/internal/1002@127.0.0.1:5312"),
                ("Call-Direction", "outbound"),
                ("Other-Type", "originator"),
                (
                    "Other-Leg-Unique-ID",
                    "8a4e68ed-ec15-4952-ab11-a7d8eddfbacf",
                ),
            ],
            None,
        );
        assert!(matches!(
            translate(&sw(), &answer),
            Translated::Input(Input::BridgedLegAnswered { .. })
        ));
    }

    #[test]
    fn a_feature_code_names_the_phone_that_dialled_it_not_its_caller_id() {
        let e = event(
            &[
                ("Event-Name", "CHANNEL_PARK"),
                ("Unique-ID", "82b63871-1946-4fc7-963b-b5675def037e"),
                ("Caller-Username", "1001"),
                ("Caller-Caller-ID-Number", "1999"),
                ("variable_switchboard_feature", "pause"),
                ("variable_switchboard_reason", "2"),
            ],
            None,
        );
        assert_eq!(
            translate(&sw(), &e),
            Translated::Input(Input::FeatureCode {
                switch: sw(),
                channel: ChannelId::parse("82b63871-1946-4fc7-963b-b5675def037e").expect("uuid"),
                feature: Feature::Pause,
                user: "1001".into(),
                reason: Some("2".into()),
                agent_number: None,
                pin: None,
                destination: String::new(),
                context: "default".into(),
            })
        );
        let unknown = event(
            &[
                ("Event-Name", "CHANNEL_PARK"),
                ("Unique-ID", "82b63871-1946-4fc7-963b-b5675def037e"),
                ("Caller-Username", "1001"),
                ("variable_switchboard_feature", "self_destruct"),
            ],
            None,
        );
        assert!(matches!(
            translate(&sw(), &unknown),
            Translated::Malformed(_)
        ));
    }

    #[test]
    fn registered_users_are_read_from_show_registrations() {
        let json = r#"{"row_count":1,"rows":[{"reg_user":"1001","realm":"127.0.0.1","token":"x","url":"sofia/internal/sip:1001@127.0.0.1:5081","expires":"1","network_ip":"127.0.0.1","network_port":"5081","network_proto":"udp","hostname":"vm","metadata":""}]}"#;
        assert_eq!(registered_users(json), Ok(vec!["1001".to_owned()]));
        assert_eq!(registered_users("{\"row_count\": 0}\n"), Ok(Vec::new()));
        assert!(registered_users("-ERR").is_err());
    }

    #[test]
    fn a_park_without_our_queue_variable_is_not_ours() {
        let e = event(
            &[
                ("Event-Name", "CHANNEL_PARK"),
                ("Unique-ID", "82b63871-1946-4fc7-963b-b5675def037e"),
            ],
            None,
        );
        assert_eq!(translate(&sw(), &e), Translated::Ignored);
    }

    #[test]
    fn a_park_with_a_bad_priority_is_reported_not_guessed() {
        let e = event(
            &[
                ("Event-Name", "CHANNEL_PARK"),
                ("Unique-ID", "82b63871-1946-4fc7-963b-b5675def037e"),
                ("variable_switchboard_queue", "support"),
                ("variable_switchboard_priority", "high"),
            ],
            None,
        );
        assert!(matches!(translate(&sw(), &e), Translated::Malformed(_)));
    }

    fn park_with_skills(skills: &str) -> EslEvent {
        event(
            &[
                ("Event-Name", "CHANNEL_PARK"),
                ("Unique-ID", "82b63871-1946-4fc7-963b-b5675def037e"),
                ("variable_switchboard_queue", "support"),
                ("variable_switchboard_skills", skills),
            ],
            None,
        )
    }

    fn parked(t: Translated) -> ParkedCall {
        match t {
            Translated::Input(Input::CallParked(p)) => p,
            other => panic!("not a parked call: {other:?}"),
        }
    }

    #[test]
    fn a_park_carries_the_skills_the_dialplan_asked_for() {
        let p = parked(translate(&sw(), &park_with_skills("spanish:7,billing")));
        let shown: Vec<String> = p.skills.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["billing:1", "spanish:7"]);
    }

    #[test]
    fn unreadable_skills_still_queue_the_caller_without_skills() {
        for bad in ["spanish:11", "spanish:high", ":3", "spa nish"] {
            let p = parked(translate(&sw(), &park_with_skills(bad)));
            assert!(p.skills.is_empty(), "{bad:?} gave {:?}", p.skills);
            assert_eq!(p.queue, QueueId::new("support").expect("id"));
        }
        let none = event(
            &[
                ("Event-Name", "CHANNEL_PARK"),
                ("Unique-ID", "82b63871-1946-4fc7-963b-b5675def037e"),
                ("variable_switchboard_queue", "support"),
            ],
            None,
        );
        assert!(parked(translate(&sw(), &none)).skills.is_empty());
    }

    #[test]
    fn a_dtmf_event_is_a_key_press_on_its_channel() {
        let uuid = "dbf418f3-6ec5-4e66-bded-bbb3e335adca";
        let key = |digit: &str| {
            translate(
                &sw(),
                &event(
                    &[
                        ("Event-Name", "DTMF"),
                        ("Unique-ID", uuid),
                        ("DTMF-Digit", digit),
                        ("DTMF-Duration", "2240"),
                        ("DTMF-Source", "RTP"),
                    ],
                    None,
                ),
            )
        };
        for (raw, digit) in [("1", '1'), ("#", '#'), ("*", '*'), ("d", 'D')] {
            assert_eq!(
                key(raw),
                Translated::Input(Input::Dtmf {
                    switch: sw(),
                    channel: ChannelId::parse(uuid).expect("uuid"),
                    digit,
                })
            );
        }
        for bad in ["", "12", "x"] {
            assert!(matches!(key(bad), Translated::Malformed(_)), "{bad:?}");
        }
        let anonymous = event(&[("Event-Name", "DTMF"), ("DTMF-Digit", "1")], None);
        assert!(matches!(
            translate(&sw(), &anonymous),
            Translated::Malformed(_)
        ));
    }

    fn registration_event(subclass: &str, headers: &[(&str, &str)]) -> EslEvent {
        let mut all = vec![("Event-Name", "CUSTOM"), ("Event-Subclass", subclass)];
        all.extend_from_slice(headers);
        event(&all, None)
    }

    fn registration(user: &str, registered: bool, cause: &str) -> Translated {
        Translated::Input(Input::PhoneRegistration {
            switch: sw(),
            user: user.into(),
            registered,
            cause: cause.into(),
        })
    }

    #[test]
    fn sofia_register_means_the_phone_is_registered() {
        let e = registration_event(
            "sofia::register",
            &[
                ("profile-name", "internal"),
                ("from-user", "1001"),
                ("from-host", "127.0.0.1"),
                ("username", "1001"),
                ("expires", "120"),
            ],
        );
        assert_eq!(translate(&sw(), &e), registration("1001", true, "register"));
    }

    #[test]
    fn sofia_unregister_means_the_phone_left() {
        let e = registration_event(
            "sofia::unregister",
            &[
                ("username", "1001"),
                ("from-user", "1001"),
                ("expires", "0"),
            ],
        );
        assert_eq!(
            translate(&sw(), &e),
            registration("1001", false, "unregister")
        );
    }

    #[test]
    fn sofia_expire_names_the_user_without_from_user() {
        // As captured: `user` and `username`, no `from-user`.
        let e = registration_event(
            "sofia::expire",
            &[
                ("call-id", "1-28190@127.0.0.1"),
                ("user", "1001"),
                ("username", "1001"),
                ("expires", "1795362761"),
            ],
        );
        assert_eq!(translate(&sw(), &e), registration("1001", false, "expire"));
        let only_user = registration_event("sofia::expire", &[("user", "1002")]);
        assert_eq!(
            translate(&sw(), &only_user),
            registration("1002", false, "expire")
        );
    }

    #[test]
    fn a_registration_event_without_a_user_is_malformed() {
        let e = registration_event("sofia::register", &[("from-user", ""), ("expires", "120")]);
        assert!(matches!(translate(&sw(), &e), Translated::Malformed(_)));
    }

    #[test]
    fn other_custom_events_are_not_ours() {
        for subclass in [
            "sofia::pre_register",
            "sofia::register_attempt",
            "callcenter::info",
        ] {
            let e = registration_event(subclass, &[("from-user", "1001")]);
            assert_eq!(translate(&sw(), &e), Translated::Ignored, "{subclass}");
        }
    }

    #[test]
    fn registration_subclasses_are_subscribed_after_custom() {
        let words: Vec<&str> = SUBSCRIBED_EVENTS.split_whitespace().collect();
        let custom = words.iter().position(|w| *w == "CUSTOM").expect("CUSTOM");
        let subclasses = &words[custom + 1..];
        assert_eq!(
            subclasses,
            ["sofia::register", "sofia::unregister", "sofia::expire"]
        );
        assert!(words[..custom].iter().all(|w| !w.contains("::")));
    }

    fn execute_complete(headers: &[(&str, &str)]) -> EslEvent {
        let mut all = vec![
            ("Event-Name", "CHANNEL_EXECUTE_COMPLETE"),
            ("Unique-ID", "98970e4f-fc9a-4fe4-adde-4df8dfdc101a"),
        ];
        all.extend_from_slice(headers);
        event(&all, None)
    }

    #[test]
    fn a_playback_ending_on_our_agent_leg_is_reported_with_its_response() {
        // Headers as in the moh-break-bridge capture.
        let e = execute_complete(&[
            ("variable_switchboard_role", "agent"),
            ("variable_current_application", "playback"),
            ("Application", "playback"),
            ("Application-Data", "ivr/support.wav"),
            ("Application-Response", "FILE PLAYED"),
            ("Application-UUID", "df685432-520e-4405-8d19-a781580aaaec"),
        ]);
        assert_eq!(
            translate(&sw(), &e),
            Translated::Input(Input::MediaDone {
                switch: sw(),
                channel: ChannelId::parse("98970e4f-fc9a-4fe4-adde-4df8dfdc101a").expect("uuid"),
                application: "playback".into(),
                data: "ivr/support.wav".into(),
                response: "FILE PLAYED".into(),
            })
        );
    }

    #[test]
    fn an_application_ending_on_a_caller_is_reported_even_without_data() {
        // `park` completes without Application-Data, with the last response of the channel.
        let e = execute_complete(&[
            ("variable_switchboard_queue", "support"),
            ("Application", "park"),
            ("Application-Response", "PLAYBACK ERROR"),
        ]);
        assert!(matches!(
            translate(&sw(), &e),
            Translated::Input(Input::MediaDone { application, response, .. })
                if application == "park" && response == "PLAYBACK ERROR"
        ));
    }

    #[test]
    fn applications_ending_on_channels_that_are_not_ours_are_ignored() {
        let e = execute_complete(&[("Application", "playback")]);
        assert_eq!(translate(&sw(), &e), Translated::Ignored);
    }

    #[test]
    fn an_execute_complete_of_ours_without_an_application_is_malformed() {
        let e = execute_complete(&[("variable_switchboard_role", "agent")]);
        assert!(matches!(translate(&sw(), &e), Translated::Malformed(_)));
    }

    #[test]
    fn execute_complete_is_subscribed_before_custom() {
        let words: Vec<&str> = SUBSCRIBED_EVENTS.split_whitespace().collect();
        let at = |name: &str| words.iter().position(|w| *w == name);
        assert!(at("CHANNEL_EXECUTE_COMPLETE") < at("CUSTOM"));
        assert!(at("CHANNEL_EXECUTE_COMPLETE").is_some());
    }

    #[test]
    fn dtmf_is_subscribed() {
        assert!(SUBSCRIBED_EVENTS.split(' ').any(|e| e == "DTMF"));
    }

    #[test]
    fn a_malformed_key_is_reported_without_its_value() {
        let e = event(
            &[
                ("Event-Name", "DTMF"),
                ("Unique-ID", "82b63871-1946-4fc7-963b-b5675def037e"),
                ("DTMF-Digit", "4111"),
            ],
            None,
        );
        match translate(&sw(), &e) {
            Translated::Malformed(what) => assert!(!what.contains("4111"), "{what}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn record_stop_of_our_caller_is_the_recording_stopped_with_its_path() {
        let words: Vec<&str> = SUBSCRIBED_EVENTS.split_whitespace().collect();
        let at = |name: &str| words.iter().position(|w| *w == name);
        assert!(at("RECORD_STOP").is_some() && at("RECORD_STOP") < at("CUSTOM"));
        // Headers as in the record-pause-mask capture, on a caller of ours.
        let path = "/var/lib/freeswitch/recordings/2026-11-23/support/a.wav";
        let stop = |variables: &[(&'static str, &'static str)]| {
            let mut all = vec![
                ("Event-Name", "RECORD_STOP"),
                ("Unique-ID", "926d4e8c-2500-4589-b401-0d8e3a5ff73c"),
                ("variable_record_ms", "8000"),
                ("Record-File-Path", path),
                ("Record-Completion-Cause", "success-maxtime"),
            ];
            all.extend_from_slice(variables);
            event(&all, None)
        };
        assert_eq!(
            translate(&sw(), &stop(&[("variable_switchboard_queue", "support")])),
            Translated::Input(Input::RecordingStopped {
                switch: sw(),
                channel: ChannelId::parse("926d4e8c-2500-4589-b401-0d8e3a5ff73c").expect("uuid"),
                path: path.to_owned(),
            })
        );
        assert_eq!(translate(&sw(), &stop(&[])), Translated::Ignored);
    }

    fn flow_park(variables: &[(&str, &str)]) -> EslEvent {
        let mut all = vec![
            ("Event-Name", "CHANNEL_PARK"),
            ("Unique-ID", "82b63871-1946-4fc7-963b-b5675def037e"),
            ("Caller-Caller-ID-Number", "+4930123456"),
            ("Caller-Caller-ID-Name", "Ada Lovelace"),
            ("Caller-Destination-Number", "5000"),
        ];
        all.extend_from_slice(variables);
        event(&all, None)
    }

    #[test]
    fn a_park_for_a_flow_is_a_flow_call_with_its_entry_point_and_caller() {
        let e = flow_park(&[("variable_switchboard_flow", "5000")]);
        assert_eq!(
            translate(&sw(), &e),
            Translated::Input(Input::FlowCall(FlowCall {
                switch: sw(),
                channel: ChannelId::parse("82b63871-1946-4fc7-963b-b5675def037e").expect("uuid"),
                entry: "5000".into(),
                caller_number: "+4930123456".into(),
                caller_name: "Ada Lovelace".into(),
                destination: "5000".into(),
            }))
        );
    }

    #[test]
    fn a_queue_or_a_feature_code_wins_over_a_flow_variable() {
        let queued = flow_park(&[
            ("variable_switchboard_flow", "5000"),
            ("variable_switchboard_queue", "support"),
        ]);
        assert!(matches!(
            translate(&sw(), &queued),
            Translated::Input(Input::CallParked(_))
        ));
        let feature = flow_park(&[
            ("variable_switchboard_flow", "5000"),
            ("variable_switchboard_feature", "pause"),
            ("Caller-Username", "1001"),
        ]);
        assert!(matches!(
            translate(&sw(), &feature),
            Translated::Input(Input::FeatureCode { .. })
        ));
    }

    #[test]
    fn a_park_for_an_empty_flow_name_is_malformed() {
        let e = flow_park(&[("variable_switchboard_flow", " ")]);
        assert!(matches!(translate(&sw(), &e), Translated::Malformed(_)));
    }

    #[test]
    fn an_application_ending_on_a_flow_caller_is_reported() {
        let e = execute_complete(&[
            ("variable_switchboard_flow", "5000"),
            ("Application", "play_and_get_digits"),
            ("Application-Response", "FILE PLAYED"),
        ]);
        assert!(matches!(
            translate(&sw(), &e),
            Translated::Input(Input::MediaDone { application, .. })
                if application == "play_and_get_digits"
        ));
    }

    #[test]
    fn a_flow_caller_found_in_a_resync_is_a_caller_without_a_queue() {
        let dump = r#"{"Unique-ID":"82b63871-1946-4fc7-963b-b5675def037e","Answer-State":"answered","variable_switchboard_flow":"5000","Caller-Caller-ID-Number":"1001"}"#;
        let snap = snapshot_from_dump(dump).expect("json").expect("ours");
        assert_eq!(snap.role, ChannelRole::Caller);
        assert_eq!(snap.queue, None);
        assert!(snap.answered);
    }

    #[test]
    fn an_empty_channel_list_has_no_rows() {
        assert_eq!(channel_uuids("{\"row_count\": 0}\n"), Ok(vec![]));
    }
}
