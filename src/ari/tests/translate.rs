//! Events from the captures (or shaped like them) into engine inputs and follow-up requests.

use std::time::Duration;

use reqwest::Method;

use super::*;
use crate::ari::plan::Step;
use crate::ari::render::render;
use crate::ari::state::{ChannelInfo, Role, Tables};
use crate::ari::translate::translate;
use crate::engine::monitor::MonitorMode;
use crate::engine::recording::RecordingAction;
use crate::engine::{AgentId, Feature, HangupCause, Input, ParkedCall, QueueId, SwitchCommand};

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
fn a_caller_ended_by_an_asterisk_restart_is_a_system_shutdown_not_a_hangup() {
    // `restart` capture: `{cause 4, soft}` then ChannelDestroyed 0, as for a BYE.
    let shutdown = r#"{"cause":4,"soft":true,"type":"ChannelHangupRequest","timestamp":"2026-12-07T01:42:59.001+0000","channel":{"id":"1796607560.3","name":"PJSIP/callers-00000029","state":"Up","protocol_id":"1-9427@127.0.0.1","caller":{"name":"Caller 1008","number":"1008"},"connected":{"name":"","number":""},"accountcode":"","dialplan":{"context":"from-callers","exten":"6000","priority":2,"app_name":"Stasis","app_data":"switchboard,queue,support"},"creationtime":"2026-12-07T01:42:51.981+0000","language":"en"},"asterisk_id":"02:fc:00:00:00:01","application":"switchboard"}"#;
    let explicit = shutdown.replace(r#""cause":4"#, r#""cause":32"#);
    let mut tables = Tables::default();
    translate(&ctx(), &mut tables, CALLER_START);
    assert!(translate(&ctx(), &mut tables, &explicit).inputs.is_empty());
    assert!(translate(&ctx(), &mut tables, shutdown).inputs.is_empty());
    let t = translate(&ctx(), &mut tables, CALLER_GONE);
    assert!(
        matches!(&t.inputs[0], Input::ChannelHungUp { cause, .. } if cause == "SYSTEM_SHUTDOWN"),
        "{t:?}"
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
    // The supervisor alone joins its bridge now; the snoop joins at its StasisStart, which
    // Asterisk sends after the snoop's 200.
    let snoop = r[0].query_value("snoopId").expect("snoop id").to_owned();
    let joined = r.last().expect("addChannel");
    assert_eq!(joined.query_value("channel"), Some(leg.as_str()));
    let snoop_start = AGENT_START
        .replace("bee63fa3-e219-4b2a-82ce-851b3b3deceb", &snoop)
        .replace(
            r#""args":["agent","agent1","1796607560.3"]"#,
            r#""args":["snoop"]"#,
        );
    let t = translate(&ctx(), &mut tables, &snoop_start);
    let (lane, steps) = &t.followups[0];
    assert_eq!(lane, &leg, "in the supervisor's lane");
    let r = requests(steps);
    assert_eq!(r[0].path, "/bridges");
    assert_eq!(r[1].query_value("channel"), Some(snoop.as_str()));
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
