//! Translation of events copied from `shared/ari-traces` and rendering of every command.

use std::time::Duration;

use reqwest::Method;

use super::client::AriRequest;
use super::render::{endpoint_of, recording_name, render, Context, OnError, Step};
use super::state::{ChannelInfo, Role, Tables};
use super::translate::translate;
use crate::engine::monitor::MonitorMode;
use crate::engine::recording::RecordingAction;
use crate::engine::{
    AgentId, CallId, ChannelId, Feature, HangupCause, Input, Lamp, ParkedCall, Presence, QueueId,
    SayKind, SwitchCommand, SwitchName,
};

const CALLER_START: &str = r#"{"type":"StasisStart","timestamp":"2026-12-07T01:39:20.646+0000","args":["queue","support"],"channel":{"id":"1796607560.3","name":"PJSIP/callers-00000003","state":"Ring","protocol_id":"1-6149@127.0.0.1","caller":{"name":"Caller 1002","number":"1002"},"connected":{"name":"","number":""},"accountcode":"","dialplan":{"context":"from-callers","exten":"6000","priority":2,"app_name":"Stasis","app_data":"switchboard,queue,support"},"creationtime":"2026-12-07T01:39:20.645+0000","language":"en"},"asterisk_id":"02:fc:00:00:00:01","application":"switchboard"}"#;

const AGENT_START: &str = r#"{"type":"StasisStart","timestamp":"2026-12-07T01:39:22.158+0000","args":["agent","agent1","1796607560.3"],"channel":{"id":"bee63fa3-e219-4b2a-82ce-851b3b3deceb","name":"PJSIP/agent1-00000004","state":"Up","protocol_id":"87c5fce5-57b0-433e-8057-33190f096ce6","caller":{"name":"Support Queue","number":"6000"},"connected":{"name":"Support","number":"6000"},"accountcode":"","dialplan":{"context":"from-agents","exten":"s","priority":1,"app_name":"Stasis","app_data":"switchboard,agent,agent1,1796607560.3"},"creationtime":"2026-12-07T01:39:21.150+0000","language":"en"},"asterisk_id":"02:fc:00:00:00:01","application":"switchboard"}"#;

const BUSY_DESTROYED: &str = r#"{"type":"ChannelDestroyed","timestamp":"2026-12-07T01:46:22.011+0000","cause":17,"cause_txt":"User busy","tech_cause":486,"channel":{"id":"d551fc03-2821-425f-9345-8039ad8332e2","name":"PJSIP/agent4-00000000","state":"Down","protocol_id":"7dac11c5-5855-45ac-9ed1-1d2a023d3b9c","caller":{"name":"","number":""},"connected":{"name":"","number":""},"accountcode":"","dialplan":{"context":"from-agents","exten":"s","priority":1,"app_name":"AppDial2","app_data":"(Outgoing Line)"},"creationtime":"2026-12-07T01:46:22.007+0000","language":"en"},"asterisk_id":"02:fc:00:00:00:01","application":"switchboard"}"#;

const CALLER_GONE: &str = r#"{"type":"ChannelDestroyed","timestamp":"2026-12-07T01:39:00.289+0000","cause":0,"cause_txt":"Unknown","channel":{"id":"1796607560.3","name":"PJSIP/callers-00000003","state":"Up","protocol_id":"1-6021@127.0.0.1","caller":{"name":"Caller 1001","number":"1001"},"connected":{"name":"","number":""},"accountcode":"","dialplan":{"context":"from-callers","exten":"6000","priority":2,"app_name":"","app_data":""},"creationtime":"2026-12-07T01:38:50.283+0000","language":"en"},"asterisk_id":"02:fc:00:00:00:01","application":"switchboard"}"#;

const CALLER_CANCEL: &str = r#"{"type":"ChannelDestroyed","timestamp":"2026-12-07T01:41:08.705+0000","cause":127,"cause_txt":"Interworking, unspecified","tech_cause":487,"channel":{"id":"1796607665.16","name":"PJSIP/callers-00000010","state":"Ring","protocol_id":"1-7743@127.0.0.1","caller":{"name":"Caller 1003","number":"1003"},"connected":{"name":"","number":""},"accountcode":"","dialplan":{"context":"from-callers","exten":"6000","priority":2,"app_name":"","app_data":""},"creationtime":"2026-12-07T01:41:05.702+0000","language":"en"},"asterisk_id":"02:fc:00:00:00:01","application":"switchboard"}"#;

const DTMF: &str = r##"{"type":"ChannelDtmfReceived","timestamp":"2026-12-07T01:41:20.101+0000","digit":"#","duration_ms":280,"channel":{"id":"1796607677.19","name":"PJSIP/callers-00000013","state":"Up","protocol_id":"1-8084@127.0.0.1","caller":{"name":"Caller 1005","number":"1005"},"connected":{"name":"","number":""},"accountcode":"","dialplan":{"context":"from-callers","exten":"6000","priority":2,"app_name":"Stasis","app_data":"switchboard,queue,support"},"creationtime":"2026-12-07T01:41:17.953+0000","language":"en"},"asterisk_id":"02:fc:00:00:00:01","application":"switchboard"}"##;

const AGENT_UP_OUTSIDE_STASIS: &str = r#"{"type":"ChannelStateChange","timestamp":"2026-12-07T01:42:34.725+0000","channel":{"id":"1796607754.49","name":"PJSIP/agent1-00000026","state":"Up","protocol_id":"38b4bcf6-c171-4514-b277-3dceecf3ee9f","caller":{"name":"Agent One","number":"agent1"},"connected":{"name":"Caller 1013","number":"1013"},"accountcode":"","dialplan":{"context":"from-agents","exten":"6002","priority":1,"app_name":"AppQueue","app_data":"(Outgoing Line)"},"creationtime":"2026-12-07T01:42:34.218+0000","language":"en"},"asterisk_id":"02:fc:00:00:00:01","application":"switchboard"}"#;

fn ctx() -> Context {
    Context {
        switch: SwitchName::new("ast1").expect("name"),
        app: "switchboard".into(),
        recordings_dir: "/var/spool/asterisk/recording".into(),
    }
}

fn ch(id: &str) -> ChannelId {
    ChannelId::parse(id).expect("channel id")
}

fn caller() -> ChannelId {
    ch("1796607560.3")
}

fn agent_leg() -> ChannelId {
    ch("bee63fa3-e219-4b2a-82ce-851b3b3deceb")
}

fn call() -> CallId {
    CallId::from_uuid(uuid::Uuid::from_u128(7))
}

fn requests(steps: &[Step]) -> Vec<&AriRequest> {
    steps
        .iter()
        .filter_map(|s| match s {
            Step::Request { request, .. } => Some(request),
            Step::Emit(_) => None,
        })
        .collect()
}

fn one_request(tables: &mut Tables, command: SwitchCommand) -> AriRequest {
    let steps = render(&ctx(), tables, &command).expect("renders");
    let found = requests(&steps);
    assert_eq!(found.len(), 1, "{command:?} → {steps:?}");
    found[0].clone()
}

fn with_agent_leg(tables: &mut Tables) {
    tables.channels.insert(
        agent_leg(),
        ChannelInfo::new(Role::Agent {
            agent: AgentId::new("agent1").expect("agent"),
            call: call(),
            queue: QueueId::new("support").expect("queue"),
        }),
    );
}

/// A caller and an agent leg bridged as the engine would have them.
fn bridged() -> (Tables, String) {
    let mut tables = Tables::default();
    translate(&ctx(), &mut tables, CALLER_START);
    with_agent_leg(&mut tables);
    translate(&ctx(), &mut tables, AGENT_START);
    let steps = render(
        &ctx(),
        &mut tables,
        &SwitchCommand::Bridge {
            caller: caller(),
            agent_leg: agent_leg(),
        },
    )
    .expect("bridge");
    let bridge = requests(&steps)[0]
        .query_value("bridgeId")
        .expect("bridge id")
        .to_owned();
    (tables, bridge)
}

#[test]
fn a_caller_handed_to_the_queue_is_parked_for_that_queue() {
    let mut tables = Tables::default();
    let t = translate(&ctx(), &mut tables, CALLER_START);
    assert_eq!(
        t.inputs,
        vec![Input::CallParked(ParkedCall {
            switch: ctx().switch,
            channel: caller(),
            queue: QueueId::new("support").expect("queue"),
            caller_number: "1002".into(),
            caller_name: "Caller 1002".into(),
            destination: "6000".into(),
            priority: 0,
            skills: Vec::new(),
        })]
    );
}

#[test]
fn priority_and_skills_come_from_the_stasis_args_and_bad_ones_do_not_lose_the_caller() {
    let event = CALLER_START.replace(
        r#""args":["queue","support"]"#,
        r#""args":["queue","support","5","spanish:7,billing"]"#,
    );
    let mut tables = Tables::default();
    let t = translate(&ctx(), &mut tables, &event);
    let Input::CallParked(parked) = &t.inputs[0] else {
        panic!("{t:?}")
    };
    assert_eq!(parked.priority, 5);
    assert_eq!(parked.skills.len(), 2);
    let bad = CALLER_START.replace(
        r#""args":["queue","support"]"#,
        r#""args":["queue","support","high","!!"]"#,
    );
    let t = translate(&ctx(), &mut tables, &bad);
    let Input::CallParked(parked) = &t.inputs[0] else {
        panic!("{t:?}")
    };
    assert_eq!((parked.priority, parked.skills.len()), (0, 0));
}

#[test]
fn a_channel_handed_to_the_app_for_something_else_is_hung_up_not_parked() {
    let event = CALLER_START.replace(
        r#""args":["queue","support"]"#,
        r#""args":["answered","support"]"#,
    );
    let mut tables = Tables::default();
    let t = translate(&ctx(), &mut tables, &event);
    assert!(t.inputs.is_empty());
    assert_eq!(t.followups.len(), 1);
    let steps = &t.followups[0].1;
    assert_eq!(requests(steps)[0].method, Method::DELETE);
    let no_queue = CALLER_START.replace(r#""args":["queue","support"]"#, r#""args":["queue",""]"#);
    let t = translate(&ctx(), &mut tables, &no_queue);
    assert!(t.inputs.is_empty() && t.followups.len() == 1);
}

#[test]
fn a_flow_call_and_a_feature_code_are_read_from_their_args() {
    let flow = CALLER_START.replace(r#""args":["queue","support"]"#, r#""args":["flow","main"]"#);
    let mut tables = Tables::default();
    let t = translate(&ctx(), &mut tables, &flow);
    assert!(
        matches!(&t.inputs[0], Input::FlowCall(f) if f.entry == "main" && f.destination == "6000")
    );
    let feature = AGENT_UP_OUTSIDE_STASIS.replace(
        r#""type":"ChannelStateChange""#,
        r#""type":"StasisStart","args":["feature","pause","2"]"#,
    );
    let t = translate(&ctx(), &mut tables, &feature);
    assert_eq!(
        t.inputs,
        vec![Input::FeatureCode {
            switch: ctx().switch,
            channel: ch("1796607754.49"),
            feature: Feature::Pause,
            user: "agent1".into(),
            reason: Some("2".into()),
            agent_number: None,
            pin: None,
            destination: "6002".into(),
            context: "from-agents".into(),
        }]
    );
    let hot_desk = AGENT_UP_OUTSIDE_STASIS.replace(
        r#""type":"ChannelStateChange""#,
        r#""type":"StasisStart","args":["feature","login","","1001","4321"]"#,
    );
    let t = translate(&ctx(), &mut tables, &hot_desk);
    assert!(
        matches!(&t.inputs[0], Input::FeatureCode { agent_number: Some(n), pin: Some(p), reason: None, .. } if n == "1001" && p.0 == "4321")
    );
}

#[test]
fn an_answered_agent_leg_is_answered_then_its_originate_returns() {
    let mut tables = Tables::default();
    with_agent_leg(&mut tables);
    let t = translate(&ctx(), &mut tables, AGENT_START);
    assert_eq!(
        t.inputs,
        vec![
            Input::ChannelAnswered {
                switch: ctx().switch,
                channel: agent_leg()
            },
            Input::OriginateReturned {
                switch: ctx().switch,
                leg: agent_leg()
            },
        ]
    );
}

#[test]
fn a_busy_agent_leg_hangs_up_and_fails_its_originate_with_user_busy() {
    let mut tables = Tables::default();
    let leg = ch("d551fc03-2821-425f-9345-8039ad8332e2");
    tables.channels.insert(
        leg.clone(),
        ChannelInfo::new(Role::Agent {
            agent: AgentId::new("agent4").expect("agent"),
            call: call(),
            queue: QueueId::new("support").expect("queue"),
        }),
    );
    let t = translate(&ctx(), &mut tables, BUSY_DESTROYED);
    assert_eq!(
        t.inputs,
        vec![
            Input::ChannelHungUp {
                switch: ctx().switch,
                channel: leg.clone(),
                cause: "USER_BUSY".into()
            },
            Input::OriginateFailed {
                switch: ctx().switch,
                leg,
                cause: "USER_BUSY".into()
            },
        ]
    );
}

#[test]
fn a_caller_hanging_up_outside_a_bridge_is_normal_clearing_and_a_cancel_is_originator_cancel() {
    let mut tables = Tables::default();
    translate(&ctx(), &mut tables, CALLER_START);
    let t = translate(&ctx(), &mut tables, CALLER_GONE);
    assert_eq!(
        t.inputs,
        vec![Input::ChannelHungUp {
            switch: ctx().switch,
            channel: caller(),
            cause: "NORMAL_CLEARING".into()
        }]
    );
    let t = translate(&ctx(), &mut tables, CALLER_CANCEL);
    assert!(
        matches!(&t.inputs[0], Input::ChannelHungUp { cause, .. } if cause == "ORIGINATOR_CANCEL")
    );
}

#[test]
fn a_bridged_caller_hanging_up_hangs_up_its_partner_and_ends_the_bridge() {
    let (mut tables, bridge) = bridged();
    let t = translate(&ctx(), &mut tables, CALLER_GONE);
    let steps: Vec<&Step> = t.followups.iter().flat_map(|(_, s)| s).collect();
    let paths: Vec<String> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Request { request, .. } => Some(format!("{} {}", request.method, request.path)),
            Step::Emit(_) => None,
        })
        .collect();
    assert_eq!(
        paths,
        vec![
            format!("DELETE /channels/{}", agent_leg()),
            format!("DELETE /bridges/{bridge}"),
        ]
    );
    let partner_hangup = requests(&t.followups[0].1)[0];
    assert_eq!(partner_hangup.query_value("reason_code"), Some("16"));
}

#[test]
fn a_partner_marked_park_after_bridge_is_parked_again_not_hung_up() {
    let (mut tables, _) = bridged();
    render(
        &ctx(),
        &mut tables,
        &SwitchCommand::ParkAfterBridge { channel: caller() },
    )
    .expect("mark");
    let agent_gone = CALLER_GONE.replace("1796607560.3", "bee63fa3-e219-4b2a-82ce-851b3b3deceb");
    let t = translate(&ctx(), &mut tables, &agent_gone);
    let steps = &t.followups[0].1;
    assert!(requests(steps)
        .iter()
        .all(|r| r.path != format!("/channels/{}", caller())));
    assert!(steps
        .iter()
        .any(|s| matches!(s, Step::Emit(Input::CallParked(p)) if p.channel == caller())));
}

#[test]
fn dtmf_is_a_key_and_a_non_stasis_phone_going_up_is_in_use() {
    let mut tables = Tables::default();
    let t = translate(&ctx(), &mut tables, DTMF);
    assert_eq!(
        t.inputs,
        vec![Input::Dtmf {
            switch: ctx().switch,
            channel: ch("1796607677.19"),
            digit: '#'
        }]
    );
    let t = translate(&ctx(), &mut tables, AGENT_UP_OUTSIDE_STASIS);
    assert_eq!(
        t.inputs,
        vec![Input::ChannelInUse {
            switch: ctx().switch,
            channel: ch("1796607754.49"),
            users: vec!["agent1".into()]
        }]
    );
    let gone = AGENT_UP_OUTSIDE_STASIS.replace(
        r#""type":"ChannelStateChange""#,
        r#""type":"ChannelDestroyed","cause":16"#,
    );
    let t = translate(&ctx(), &mut tables, &gone);
    assert!(
        matches!(&t.inputs[0], Input::ChannelHungUp { cause, .. } if cause == "NORMAL_CLEARING")
    );
}

#[test]
fn a_prompt_that_played_or_was_missing_ends_as_freeswitch_reports_it() {
    let mut tables = Tables::default();
    translate(&ctx(), &mut tables, CALLER_START);
    let steps = render(
        &ctx(),
        &mut tables,
        &SwitchCommand::Play {
            channel: caller(),
            source: "ivr/ivr-welcome.wav".into(),
        },
    )
    .expect("play");
    let request = requests(&steps)[0].clone();
    assert_eq!(request.path, format!("/channels/{}/play", caller()));
    assert_eq!(request.query_value("media"), Some("sound:ivr/ivr-welcome"));
    let id = request.query_value("playbackId").expect("ours").to_owned();
    let finished = format!(
        r#"{{"type":"PlaybackFinished","timestamp":"2026-12-07T01:41:23.220+0000","playback":{{"id":"{id}","media_uri":"sound:ivr/ivr-welcome","target_uri":"channel:{}","language":"en","state":"failed"}},"asterisk_id":"02:fc:00:00:00:01","application":"switchboard"}}"#,
        caller()
    );
    let t = translate(&ctx(), &mut tables, &finished);
    assert_eq!(
        t.inputs,
        vec![Input::MediaDone {
            switch: ctx().switch,
            channel: caller(),
            application: "playback".into(),
            data: "ivr/ivr-welcome.wav".into(),
            response: "FILE NOT FOUND".into(),
        }]
    );
}

#[test]
fn hangup_after_prompts_waits_for_the_last_prompt() {
    let mut tables = Tables::default();
    translate(&ctx(), &mut tables, CALLER_START);
    let play = render(
        &ctx(),
        &mut tables,
        &SwitchCommand::Play {
            channel: caller(),
            source: "ivr/bye.wav".into(),
        },
    )
    .expect("play");
    let id = requests(&play)[0]
        .query_value("playbackId")
        .expect("id")
        .to_owned();
    let hangup = render(
        &ctx(),
        &mut tables,
        &SwitchCommand::HangupAfterPrompts { channel: caller() },
    )
    .expect("hangup");
    assert!(hangup.is_empty());
    let finished = format!(
        r#"{{"type":"PlaybackFinished","playback":{{"id":"{id}","state":"done"}},"application":"switchboard"}}"#
    );
    let t = translate(&ctx(), &mut tables, &finished);
    assert_eq!(requests(&t.followups[0].1)[0].method, Method::DELETE);
    let now = render(
        &ctx(),
        &mut tables,
        &SwitchCommand::HangupAfterPrompts { channel: caller() },
    )
    .expect("hangup");
    assert_eq!(requests(&now)[0].path, format!("/channels/{}", caller()));
}

#[test]
fn hold_music_from_a_file_plays_again_until_broken_off() {
    let mut tables = Tables::default();
    translate(&ctx(), &mut tables, CALLER_START);
    let steps = render(
        &ctx(),
        &mut tables,
        &SwitchCommand::PlayHold {
            channel: caller(),
            source: "music/waiting.wav".into(),
        },
    )
    .expect("hold");
    let id = requests(&steps)[0]
        .query_value("playbackId")
        .expect("id")
        .to_owned();
    let finished =
        format!(r#"{{"type":"PlaybackFinished","playback":{{"id":"{id}","state":"done"}}}}"#);
    let t = translate(&ctx(), &mut tables, &finished);
    assert!(t.inputs.is_empty());
    let again = requests(&t.followups[0].1)[0].clone();
    assert_eq!(again.query_value("media"), Some("sound:music/waiting"));
    let next = again.query_value("playbackId").expect("id").to_owned();
    let broken = render(
        &ctx(),
        &mut tables,
        &SwitchCommand::Break { channel: caller() },
    )
    .expect("break");
    let paths: Vec<String> = requests(&broken).iter().map(|r| r.path.clone()).collect();
    assert!(paths.contains(&format!("/playbacks/{next}")));
    let finished =
        format!(r#"{{"type":"PlaybackFinished","playback":{{"id":"{next}","state":"done"}}}}"#);
    assert!(translate(&ctx(), &mut tables, &finished)
        .followups
        .is_empty());
}

#[test]
fn duplicate_bridge_recording_events_are_dropped_and_a_session_recording_stops_at_its_path() {
    let (mut tables, bridge) = bridged();
    let path = "/var/spool/asterisk/recording/2026-12-07/support/x.wav";
    let request = one_request(
        &mut tables,
        SwitchCommand::SessionRecord {
            channel: caller(),
            action: RecordingAction::Start,
            path: path.into(),
            limit: Some(Duration::from_secs(3600)),
        },
    );
    assert_eq!(request.path, format!("/bridges/{bridge}/record"));
    assert_eq!(request.query_value("name"), Some("2026-12-07/support/x"));
    assert_eq!(request.query_value("maxDurationSeconds"), Some("3600"));
    let finished = format!(
        r#"{{"type":"RecordingFinished","timestamp":"2026-12-07T01:41:41.758+0000","recording":{{"name":"2026-12-07/support/x","format":"wav","state":"done","target_uri":"bridge:{bridge}","duration":5}},"asterisk_id":"02:fc:00:00:00:01","application":"switchboard"}}"#
    );
    let t = translate(&ctx(), &mut tables, &finished);
    assert_eq!(
        t.inputs,
        vec![Input::RecordingStopped {
            switch: ctx().switch,
            channel: caller(),
            path: path.into()
        }]
    );
    assert!(translate(&ctx(), &mut tables, &finished).inputs.is_empty());
    for (action, method, tail) in [
        (RecordingAction::Pause, Method::POST, "pause"),
        (RecordingAction::Resume, Method::DELETE, "pause"),
        (RecordingAction::Mask, Method::POST, "mute"),
        (RecordingAction::Unmask, Method::DELETE, "mute"),
        (RecordingAction::Stop, Method::POST, "stop"),
    ] {
        let r = one_request(
            &mut tables,
            SwitchCommand::SessionRecord {
                channel: caller(),
                action,
                path: path.into(),
                limit: None,
            },
        );
        assert_eq!(
            (r.method, r.path),
            (
                method,
                format!("/recordings/live/2026-12-07%2Fsupport%2Fx/{tail}")
            )
        );
    }
}

#[test]
fn an_agent_originate_carries_our_ids_variables_and_a_checked_caller_id() {
    let mut tables = Tables::default();
    let command = SwitchCommand::Originate {
        leg: agent_leg(),
        call: call(),
        agent: AgentId::new("1001").expect("agent"),
        queue: QueueId::new("support").expect("queue"),
        dial_string: "user/agent1@pbx.example.com".into(),
        timeout: Duration::from_secs(20),
        caller_number: "1002\"&x".into(),
        caller_name: "Caller\r\n1002".into(),
        queue_name: "Support".into(),
        variables: vec![("account".into(), "A-1\u{7}\"".into())],
    };
    let steps = render(&ctx(), &mut tables, &command).expect("renders");
    let Step::Request { request, on_error } = &steps[0] else {
        panic!("{steps:?}")
    };
    assert_eq!(on_error, &OnError::Originate { leg: agent_leg() });
    assert_eq!(
        (request.method.clone(), request.path.as_str()),
        (Method::POST, "/channels")
    );
    assert_eq!(request.query_value("endpoint"), Some("PJSIP/agent1"));
    assert_eq!(request.query_value("app"), Some("switchboard"));
    assert_eq!(
        request.query_value("appArgs").map(str::to_owned),
        Some(format!("agent,1001,{}", call()))
    );
    assert_eq!(
        request.query_value("channelId").map(str::to_owned),
        Some(agent_leg().to_string())
    );
    assert_eq!(request.query_value("timeout"), Some("20"));
    assert_eq!(
        request.query_value("callerId"),
        Some("\"[Support] Caller 1002\" <1002x>")
    );
    let body = request.body.as_ref().expect("variables");
    assert_eq!(body["variables"]["SWITCHBOARD_ROLE"], "agent");
    assert_eq!(body["variables"]["SWITCHBOARD_AGENT"], "1001");
    assert_eq!(body["variables"]["SWITCHBOARD_VAR_account"], "A-1");
    let bad_name = SwitchCommand::Originate {
        leg: agent_leg(),
        call: call(),
        agent: AgentId::new("1001").expect("agent"),
        queue: QueueId::new("support").expect("queue"),
        dial_string: "user/agent1".into(),
        timeout: Duration::from_secs(20),
        caller_number: String::new(),
        caller_name: String::new(),
        queue_name: String::new(),
        variables: vec![("CALLERID(name)".into(), "x".into())],
    };
    assert!(render(&ctx(), &mut tables, &bad_name).is_err());
}

#[test]
fn dial_strings_become_pjsip_endpoints_and_freeswitch_forms_are_refused() {
    assert_eq!(endpoint_of("user/1001"), Ok("PJSIP/1001".into()));
    assert_eq!(
        endpoint_of("user/1001@pbx.example.com"),
        Ok("PJSIP/1001".into())
    );
    assert_eq!(endpoint_of("PJSIP/agent1"), Ok("PJSIP/agent1".into()));
    assert_eq!(
        endpoint_of("PJSIP/+15551234@trunk"),
        Ok("PJSIP/+15551234@trunk".into())
    );
    for bad in [
        "sofia/internal/1001@host",
        "loopback/100",
        "PJSIP/agent1&app=other",
        "PJSIP/agent1,PJSIP/agent2",
        "PJSIP/",
        "Local/100@default",
        "user/a b",
    ] {
        assert!(endpoint_of(bad).is_err(), "{bad}");
    }
}

#[test]
fn bridging_creates_a_mixing_bridge_of_ours_and_adds_both_legs() {
    let (tables, bridge) = bridged();
    assert_eq!(tables.partner_of(&caller()), Some(agent_leg()));
    let mut tables = Tables::default();
    let steps = render(
        &ctx(),
        &mut tables,
        &SwitchCommand::Bridge {
            caller: caller(),
            agent_leg: agent_leg(),
        },
    )
    .expect("bridge");
    let r = requests(&steps);
    assert_eq!(
        (r[0].method.clone(), r[0].path.as_str()),
        (Method::POST, "/bridges")
    );
    assert_eq!(r[0].query_value("type"), Some("mixing"));
    let id = r[0].query_value("bridgeId").expect("ours");
    assert_ne!(id, bridge);
    assert_eq!(r[1].path, format!("/bridges/{id}/addChannel"));
    assert_eq!(
        r[1].query_value("channel").map(str::to_owned),
        Some(format!("{},{}", caller(), agent_leg()))
    );
}

#[test]
fn every_simple_command_renders_its_request() {
    let mut tables = Tables::default();
    translate(&ctx(), &mut tables, CALLER_START);
    let c = caller();
    type Case = (
        SwitchCommand,
        Method,
        String,
        Vec<(&'static str, &'static str)>,
    );
    let cases: Vec<Case> = vec![
        (
            SwitchCommand::Answer { channel: c.clone() },
            Method::POST,
            format!("/channels/{c}/answer"),
            vec![],
        ),
        (
            SwitchCommand::PlayHold {
                channel: c.clone(),
                source: "local_stream://moh".into(),
            },
            Method::POST,
            format!("/channels/{c}/moh"),
            vec![("mohClass", "default")],
        ),
        (
            SwitchCommand::Kill {
                channel: c.clone(),
                cause: HangupCause::NoAnswer,
            },
            Method::DELETE,
            format!("/channels/{c}"),
            vec![("reason_code", "19")],
        ),
        (
            SwitchCommand::Hangup {
                channel: c.clone(),
                cause: "USER_BUSY".into(),
            },
            Method::DELETE,
            format!("/channels/{c}"),
            vec![("reason_code", "17")],
        ),
        (
            SwitchCommand::Transfer {
                channel: c.clone(),
                extension: "*98".into(),
                context: "from-internal".into(),
            },
            Method::POST,
            format!("/channels/{c}/continue"),
            vec![
                ("context", "from-internal"),
                ("extension", "*98"),
                ("priority", "1"),
            ],
        ),
        (
            SwitchCommand::Voicemail {
                channel: c.clone(),
                domain: "pbx".into(),
                mailbox: "1001".into(),
            },
            Method::POST,
            format!("/channels/{c}/continue"),
            vec![("context", "switchboard-voicemail"), ("extension", "1001")],
        ),
        (
            SwitchCommand::Record {
                channel: c.clone(),
                path: "/var/spool/asterisk/recording/messages/m1.wav".into(),
                max: Duration::from_secs(60),
            },
            Method::POST,
            format!("/channels/{c}/record"),
            vec![
                ("name", "messages/m1"),
                ("format", "wav"),
                ("maxDurationSeconds", "60"),
                ("terminateOn", "#"),
                ("ifExists", "overwrite"),
                ("beep", "true"),
            ],
        ),
        (
            SwitchCommand::Say {
                channel: c.clone(),
                language: "en".into(),
                kind: SayKind::Number,
                text: "42".into(),
            },
            Method::POST,
            format!("/channels/{c}/play"),
            vec![("media", "number:42"), ("lang", "en")],
        ),
        (
            SwitchCommand::Say {
                channel: c.clone(),
                language: "en".into(),
                kind: SayKind::Digits,
                text: "5551234".into(),
            },
            Method::POST,
            format!("/channels/{c}/play"),
            vec![("media", "digits:5551234")],
        ),
        (
            SwitchCommand::Broadcast {
                channel: c.clone(),
                source: "tone_stream://%(200,0,1400)".into(),
            },
            Method::POST,
            format!("/channels/{c}/play"),
            vec![("media", "tone:!1400/200,!0/0")],
        ),
        (
            SwitchCommand::Presence(Presence {
                proto: "agent",
                id: "1001".into(),
                domain: "pbx".into(),
                lamp: Lamp::Blinking,
                status: "Ringing".into(),
                rpid: "on-the-phone",
                dialog: uuid::Uuid::from_u128(1),
                count: 3,
            }),
            Method::PUT,
            "/deviceStates/Stasis:switchboard-agent-1001".into(),
            vec![("deviceState", "RINGING")],
        ),
    ];
    for (command, method, path, query) in cases {
        let r = one_request(&mut tables, command.clone());
        assert_eq!(
            (r.method.clone(), r.path.clone()),
            (method, path),
            "{command:?}"
        );
        for (k, v) in query {
            assert_eq!(r.query_value(k), Some(v), "{command:?} {k}");
        }
    }
}

#[test]
fn values_that_could_inject_are_refused_before_anything_is_sent() {
    let mut tables = Tables::default();
    let c = caller();
    let bad = [
        SwitchCommand::Transfer {
            channel: c.clone(),
            extension: "100&context=x".into(),
            context: "default".into(),
        },
        SwitchCommand::Transfer {
            channel: c.clone(),
            extension: "100".into(),
            context: "a/b".into(),
        },
        SwitchCommand::Play {
            channel: c.clone(),
            source: "../../etc/passwd".into(),
        },
        SwitchCommand::Play {
            channel: c.clone(),
            source: "sound:x,recording:y".into(),
        },
        SwitchCommand::Hangup {
            channel: c.clone(),
            cause: "NORMAL_CLEARING&reason=x".into(),
        },
        SwitchCommand::Say {
            channel: c.clone(),
            language: "en".into(),
            kind: SayKind::Number,
            text: "1,2".into(),
        },
        SwitchCommand::Voicemail {
            channel: c.clone(),
            domain: "d".into(),
            mailbox: "1001/../x".into(),
        },
        SwitchCommand::Record {
            channel: c.clone(),
            path: "/var/spool/asterisk/recording/../../x.wav".into(),
            max: Duration::from_secs(5),
        },
        SwitchCommand::Presence(Presence {
            proto: "agent",
            id: "1001/../x".into(),
            domain: "pbx".into(),
            lamp: Lamp::Off,
            status: String::new(),
            rpid: "unknown",
            dialog: uuid::Uuid::from_u128(1),
            count: 1,
        }),
        SwitchCommand::MonitorKey {
            leg: c.clone(),
            digit: '9',
        },
    ];
    for command in bad {
        assert!(
            render(&ctx(), &mut tables, &command).is_err(),
            "{command:?}"
        );
    }
    assert!(recording_name("/var/spool/asterisk/recording", "/etc/passwd/../x").is_err());
}

#[test]
fn hold_holds_the_leg_plays_its_music_to_the_partner_and_tells_the_engine() {
    let (mut tables, _) = bridged();
    render(
        &ctx(),
        &mut tables,
        &SwitchCommand::HoldMusic {
            channel: agent_leg(),
            source: "local_stream://jazz".into(),
        },
    )
    .expect("music");
    let steps = render(
        &ctx(),
        &mut tables,
        &SwitchCommand::Hold {
            channel: agent_leg(),
            on: true,
        },
    )
    .expect("hold");
    let r = requests(&steps);
    assert_eq!(r[0].path, format!("/channels/{}/hold", agent_leg()));
    assert_eq!(r[1].path, format!("/channels/{}/moh", caller()));
    assert_eq!(r[1].query_value("mohClass"), Some("jazz"));
    assert!(matches!(
        steps.last(),
        Some(Step::Emit(Input::LegHold { held: true, .. }))
    ));
}

#[test]
fn park_inline_takes_the_caller_out_hangs_up_the_partner_and_parks_it_again() {
    let (mut tables, bridge) = bridged();
    let steps = render(
        &ctx(),
        &mut tables,
        &SwitchCommand::ParkInline { channel: caller() },
    )
    .expect("park");
    let r = requests(&steps);
    assert_eq!(r[0].path, format!("/bridges/{bridge}/removeChannel"));
    assert_eq!(r[1].path, format!("/channels/{}", agent_leg()));
    assert!(matches!(
        steps.last(),
        Some(Step::Emit(Input::CallParked(_)))
    ));
    assert_eq!(tables.partner_of(&caller()), None);
}

#[test]
fn a_monitor_leg_answered_snoops_on_the_agent_and_a_key_changes_the_mode() {
    let (mut tables, bridge) = bridged();
    let leg = ch("7a0c7c43-0d0f-4e0b-9a51-0c1b5e0f3d11");
    let command = SwitchCommand::Monitor {
        leg: leg.clone(),
        call: call(),
        target: caller(),
        mode: MonitorMode::Listen,
        dial_string: "user/supervisor".into(),
        timeout: Duration::from_secs(30),
    };
    let r = one_request(&mut tables, command);
    assert_eq!(
        r.query_value("appArgs").map(str::to_owned),
        Some(format!("monitor,{}", call()))
    );
    let answered = AGENT_START
        .replace("bee63fa3-e219-4b2a-82ce-851b3b3deceb", leg.as_str())
        .replace(
            r#""args":["agent","agent1","1796607560.3"]"#,
            r#""args":["monitor","x"]"#,
        );
    let t = translate(&ctx(), &mut tables, &answered);
    assert!(matches!(t.inputs[0], Input::ChannelAnswered { .. }));
    let steps = &t.followups[0].1;
    let r = requests(steps);
    assert_eq!(r[0].path, format!("/channels/{}/snoop", agent_leg()));
    assert_eq!(
        (r[0].query_value("spy"), r[0].query_value("whisper")),
        (Some("both"), Some("none"))
    );
    let whisper = render(
        &ctx(),
        &mut tables,
        &SwitchCommand::MonitorKey {
            leg: leg.clone(),
            digit: '1',
        },
    )
    .expect("key");
    let r = requests(&whisper);
    assert_eq!(r[0].method, Method::DELETE);
    assert!(r.iter().any(|q| q.query_value("whisper") == Some("out")));
    let barge = render(
        &ctx(),
        &mut tables,
        &SwitchCommand::MonitorKey {
            leg: leg.clone(),
            digit: '3',
        },
    )
    .expect("key");
    assert!(requests(&barge)
        .iter()
        .any(|q| q.path == format!("/bridges/{bridge}/addChannel")));
}

#[test]
fn a_conference_join_moves_the_caller_and_its_partner_into_the_named_bridge() {
    let (mut tables, _) = bridged();
    let steps = render(
        &ctx(),
        &mut tables,
        &SwitchCommand::ConferenceJoin {
            channel: caller(),
            name: "call-42".into(),
        },
    )
    .expect("join");
    let r = requests(&steps);
    assert_eq!(r[0].query_value("bridgeId"), Some("conference-call-42"));
    assert_eq!(r[1].path, "/bridges/conference-call-42/addChannel");
    assert_eq!(
        r[1].query_value("channel").map(str::to_owned),
        Some(format!("{},{}", caller(), agent_leg()))
    );
}

#[test]
fn a_leg_we_killed_ends_with_the_cause_the_engine_gave() {
    let mut tables = Tables::default();
    let leg = ch("d551fc03-2821-425f-9345-8039ad8332e2");
    tables.channels.insert(
        leg.clone(),
        ChannelInfo::new(Role::Agent {
            agent: AgentId::new("agent4").expect("agent"),
            call: call(),
            queue: QueueId::new("support").expect("queue"),
        }),
    );
    let r = one_request(
        &mut tables,
        SwitchCommand::Kill {
            channel: leg.clone(),
            cause: HangupCause::OriginatorCancel,
        },
    );
    assert_eq!(r.query_value("reason_code"), Some("16"));
    let destroyed = BUSY_DESTROYED.replace(
        r#""cause":17,"cause_txt":"User busy","tech_cause":486"#,
        r#""cause":16,"cause_txt":"Normal Clearing""#,
    );
    let t = translate(&ctx(), &mut tables, &destroyed);
    assert_eq!(t.inputs.len(), 2);
    for input in &t.inputs {
        assert!(
            matches!(input, Input::ChannelHungUp { cause, .. } | Input::OriginateFailed { cause, .. } if cause == "ORIGINATOR_CANCEL"),
            "{input:?}"
        );
    }
}

#[test]
fn an_endpoint_going_online_or_offline_is_a_phone_registration() {
    let mut tables = Tables::default();
    let online = r#"{"type":"EndpointStateChange","timestamp":"2026-12-07T01:42:34.725+0000","endpoint":{"technology":"PJSIP","resource":"agent1","state":"online","channel_ids":[]},"asterisk_id":"02:fc:00:00:00:01","application":"switchboard"}"#;
    let t = translate(&ctx(), &mut tables, online);
    assert_eq!(
        t.inputs,
        vec![Input::PhoneRegistration {
            switch: ctx().switch,
            user: "agent1".into(),
            registered: true,
            cause: "register".into()
        }]
    );
    let offline = online.replace(r#""state":"online""#, r#""state":"offline""#);
    let t = translate(&ctx(), &mut tables, &offline);
    assert!(matches!(
        &t.inputs[0],
        Input::PhoneRegistration {
            registered: false,
            ..
        }
    ));
}

#[test]
fn dial_conference_dial_take_over_beep_and_the_marks_render_as_documented() {
    let (mut tables, bridge) = bridged();
    let customer = ch("0f0e0d0c-0b0a-4909-8807-060504030201");
    let r = one_request(
        &mut tables,
        SwitchCommand::Dial {
            leg: customer.clone(),
            call: call(),
            queue: QueueId::new("support").expect("queue"),
            dial_string: "PJSIP/+15551234@trunk".into(),
            timeout: Duration::from_secs(30),
        },
    );
    assert_eq!(r.query_value("endpoint"), Some("PJSIP/+15551234@trunk"));
    assert_eq!(
        r.query_value("appArgs").map(str::to_owned),
        Some(format!("dial,{}", call()))
    );
    assert_eq!(
        r.body.as_ref().expect("vars")["variables"]["SWITCHBOARD_ROLE"],
        "callback"
    );

    let party = ch("1f0e0d0c-0b0a-4909-8807-060504030201");
    let r = one_request(
        &mut tables,
        SwitchCommand::ConferenceDial {
            leg: party.clone(),
            call: call(),
            agent: None,
            queue: QueueId::new("support").expect("queue"),
            name: "call-42".into(),
            dial_string: "PJSIP/agent2".into(),
            timeout: Duration::from_secs(30),
            caller_number: "1002".into(),
            caller_name: "Caller 1002".into(),
        },
    );
    assert_eq!(r.query_value("appArgs"), Some("conference,call-42"));
    let answered = AGENT_START
        .replace("bee63fa3-e219-4b2a-82ce-851b3b3deceb", party.as_str())
        .replace(
            r#""args":["agent","agent1","1796607560.3"]"#,
            r#""args":["conference","call-42"]"#,
        );
    let t = translate(&ctx(), &mut tables, &answered);
    let joins = requests(&t.followups[0].1);
    assert_eq!(joins[1].path, "/bridges/conference-call-42/addChannel");

    let beep = one_request(&mut tables, SwitchCommand::Beep { channel: caller() });
    assert_eq!(
        (beep.path.as_str(), beep.query_value("media")),
        (
            format!("/bridges/{bridge}/play").as_str(),
            Some("sound:beep")
        )
    );

    for silent in [
        SwitchCommand::RecordStereo { channel: caller() },
        SwitchCommand::RequeueReason {
            channel: caller(),
            reason: "agent_left".into(),
        },
        SwitchCommand::SetParkAfterBridge {
            channel: caller(),
            on: true,
        },
        SwitchCommand::HoldMusic {
            channel: caller(),
            source: "local_stream://moh".into(),
        },
    ] {
        assert_eq!(
            render(&ctx(), &mut tables, &silent),
            Ok(Vec::new()),
            "{silent:?}"
        );
    }
    assert!(tables
        .channels
        .get(&caller())
        .is_some_and(|c| c.park_after_bridge));

    let supervisor = ch("2f0e0d0c-0b0a-4909-8807-060504030201");
    tables.channels.insert(
        supervisor.clone(),
        ChannelInfo::new(Role::Monitor {
            target: caller(),
            mode: MonitorMode::Listen,
            call: call(),
        }),
    );
    let steps = render(
        &ctx(),
        &mut tables,
        &SwitchCommand::TakeOver {
            caller: caller(),
            leg: supervisor.clone(),
        },
    )
    .expect("take over");
    let r = requests(&steps);
    assert_eq!(r[0].path, format!("/bridges/{bridge}/addChannel"));
    assert_eq!(
        r[0].query_value("channel").map(str::to_owned),
        Some(supervisor.to_string())
    );
    assert_eq!(
        (r[1].method.clone(), r[1].path.clone()),
        (Method::DELETE, format!("/channels/{}", agent_leg()))
    );
    assert_eq!(tables.partner_of(&caller()), Some(supervisor));
}
