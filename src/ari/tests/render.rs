//! Every command into its ARI requests, and refusals of unsafe values.

use std::time::Duration;

use reqwest::Method;

use super::*;
use crate::ari::plan::{OnError, Step};
use crate::ari::render::{endpoint_of, recording_name, render};
use crate::ari::state::{ChannelInfo, Role, Tables};
use crate::ari::translate::translate;
use crate::engine::monitor::MonitorMode;
use crate::engine::{AgentId, HangupCause, Input, Lamp, Presence, QueueId, SayKind, SwitchCommand};

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
    // A hangup is never refused (the channel would stay in Stasis): its cause travels as a
    // number only.
    let hangup = one_request(
        &mut tables,
        SwitchCommand::Hangup {
            channel: c.clone(),
            cause: "NORMAL_CLEARING&reason=x".into(),
        },
    );
    assert_eq!(hangup.query, vec![("reason_code", "16".to_owned())]);
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
