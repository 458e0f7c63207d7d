//! The simulator's blind REFER from a desk phone against `phone-blind-transfer` and
//! `phone-refer-to-queue-entry` (Batch 4): the same events per channel, in the same order, from
//! the agent leg's hangup on, and the variables Switchboard reads (`transfer_to`,
//! `transfer_destination`) with the capture's values.
//!
//! Left out of the comparison, as in `sim_conversations`: API, HEARTBEAT, CODEC, CALL_UPDATE,
//! RE_SCHEDULE, PRIVATE_COMMAND, PRESENCE_IN.

use std::time::Duration;

use switchboard::sim::{
    CallSpec, EntryPoint, PhoneBehavior, PhoneSpec, SimConfig, SimHandle, Simulator,
};
use tokio::net::TcpListener;

use crate::capture::{frames_of, traces_dir, Frame, Recorder};

const LEFT_OUT: &[&str] = &[
    "API",
    "HEARTBEAT",
    "CODEC",
    "CALL_UPDATE",
    "RE_SCHEDULE",
    "PRIVATE_COMMAND",
    "PRESENCE_IN",
];

fn key(f: &Frame) -> String {
    let mut k = f.name().unwrap_or("").to_string();
    if let Some(app) = f.ev("Application") {
        k.push_str(&format!(" {app}"));
    }
    k
}

/// `uuid`'s events from its first `first` on, up to and including the first `last`.
fn sequence(frames: &[Frame], uuid: &str, first: &str, last: &str) -> Vec<String> {
    let mut out = Vec::new();
    for f in frames
        .iter()
        .filter(|f| f.ev("Unique-ID") == Some(uuid))
        .skip_while(|f| f.name() != Some(first))
        .filter(|f| !f.name().is_some_and(|n| LEFT_OUT.contains(&n)))
    {
        out.push(key(f));
        if f.name() == Some(last) {
            break;
        }
    }
    out
}

/// Ours equals the capture's, which is not empty.
fn same(ours: Vec<String>, captured: Vec<String>) {
    assert!(!captured.is_empty(), "nothing captured to compare with");
    assert_eq!(ours, captured);
}

fn captured(name: &str) -> Option<Vec<Frame>> {
    let dir = traces_dir()?;
    let rx = std::fs::read(dir.join(format!("{name}.plain.c1.rx"))).expect("capture");
    Some(frames_of(&rx).0)
}

async fn start(entry_points: Vec<EntryPoint>) -> SimHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let config = SimConfig {
        entry_points,
        ..SimConfig::default()
    };
    let sim = Simulator::start(listener, config).await.expect("simulator");
    sim.add_phone(PhoneSpec {
        user: "1001".into(),
        behavior: PhoneBehavior::Answer {
            after: Duration::from_millis(20),
        },
        hangup_after_talk: None,
    });
    sim
}

/// The controller pattern of every Batch 4 scenario: park, answer, originate, bridge.
async fn bridged(sim: &SimHandle, raw: &mut Recorder) -> (String, String) {
    let caller = sim.place_call(CallSpec::new("2101", "5000"));
    raw.wait_event("CHANNEL_PARK", &caller).await;
    assert_eq!(
        raw.ask(&format!("api uuid_answer {caller}\n\n")).await,
        "+OK\n"
    );
    let leg = uuid::Uuid::new_v4().to_string();
    raw.ask(&format!(
        "bgapi originate {{origination_uuid={leg}}}user/1001 &park()\n\n"
    ))
    .await;
    raw.wait_event("CHANNEL_PARK", &leg).await;
    raw.ask(&format!("api uuid_bridge {caller} {leg}\n\n"))
        .await;
    raw.wait_event("CHANNEL_BRIDGE", &caller).await;
    (caller, leg)
}

fn park_5010() -> Vec<EntryPoint> {
    vec![
        EntryPoint {
            number: "5000".into(),
            variables: vec![],
        },
        EntryPoint {
            number: "5010".into(),
            variables: vec![],
        },
    ]
}

#[tokio::test]
async fn a_phones_blind_refer_hangs_up_the_agent_leg_and_routes_the_caller_like_the_capture() {
    let Some(cap) = captured("phone-blind-transfer") else {
        return;
    };
    let (cap_a, cap_c) = (
        "922c2f1a-05a3-41c1-a8f0-e7bb12e85ac9",
        "90167103-3616-4f23-b560-4256403b7ca9",
    );
    let sim = start(park_5010()).await;
    let mut raw = Recorder::subscribed(sim.esl_addr(), "plain", "ALL").await;
    let (caller, leg) = bridged(&sim, &mut raw).await;
    assert!(sim.phone_blind_transfer(&leg, "9199"));
    raw.wait_event("PLAYBACK_START", &caller).await;
    raw.wait_event("CHANNEL_DESTROY", &leg).await;
    let got = raw.snapshot();
    same(
        sequence(&got, &leg, "CHANNEL_HANGUP", "CHANNEL_DESTROY"),
        sequence(&cap, cap_a, "CHANNEL_HANGUP", "CHANNEL_DESTROY"),
    );
    same(
        sequence(&got, &caller, "CHANNEL_UNBRIDGE", "PLAYBACK_START"),
        sequence(&cap, cap_c, "CHANNEL_UNBRIDGE", "PLAYBACK_START"),
    );
    let hangup = |frames: &[Frame], uuid: &str| {
        frames
            .iter()
            .find(|f| f.name() == Some("CHANNEL_HANGUP") && f.ev("Unique-ID") == Some(uuid))
            .cloned()
            .expect("the agent leg's hangup")
    };
    let (ours, theirs) = (hangup(&got, &leg), hangup(&cap, cap_a));
    assert_eq!(
        ours.ev("variable_transfer_to"),
        Some(format!("blind:{caller}").as_str())
    );
    for name in [
        "Hangup-Cause",
        "variable_transfer_destination",
        "variable_endpoint_disposition",
        "variable_transfer_disposition",
        "variable_transfer_fallback_extension",
    ] {
        assert_eq!(ours.ev(name), theirs.ev(name), "{name}");
    }
    let unbridge = raw.event("CHANNEL_UNBRIDGE", &caller).await;
    assert_eq!(unbridge.ev("Other-Leg-Unique-ID"), None);
    let position = |frames: &[Frame], name: &str, uuid: &str| {
        frames
            .iter()
            .position(|f| f.name() == Some(name) && f.ev("Unique-ID") == Some(uuid))
    };
    assert!(
        position(&got, "CHANNEL_HANGUP", &leg) < position(&got, "CHANNEL_UNBRIDGE", &caller),
        "the agent leg's hangup comes before the caller's unbridge, as captured"
    );
}

#[tokio::test]
async fn a_refer_to_a_queue_entry_point_parks_the_same_caller_again_like_the_capture() {
    let Some(cap) = captured("phone-refer-to-queue-entry") else {
        return;
    };
    let cap_c = "e8636ce9-c8fd-468e-b1eb-34e98897064c";
    let sim = start(park_5010()).await;
    let mut raw = Recorder::subscribed(sim.esl_addr(), "plain", "ALL").await;
    let (caller, leg) = bridged(&sim, &mut raw).await;
    assert!(sim.phone_blind_transfer(&leg, "5010"));
    raw.wait(|fs| {
        fs.iter()
            .filter(|f| f.name() == Some("CHANNEL_PARK") && f.ev("Unique-ID") == Some(&caller))
            .count()
            == 2
    })
    .await;
    let got = raw.snapshot();
    same(
        sequence(&got, &caller, "CHANNEL_UNBRIDGE", "CHANNEL_PARK"),
        sequence(&cap, cap_c, "CHANNEL_UNBRIDGE", "CHANNEL_PARK"),
    );
    let second_park = |frames: &[Frame], uuid: &str| {
        frames
            .iter()
            .filter(|f| f.name() == Some("CHANNEL_PARK") && f.ev("Unique-ID") == Some(uuid))
            .nth(1)
            .cloned()
            .expect("parked again")
    };
    let (ours, theirs) = (second_park(&got, &caller), second_park(&cap, cap_c));
    for name in [
        "Caller-Destination-Number",
        "Caller-Context",
        "Caller-Profile-Index",
        "variable_sip_refer_to",
        "variable_sip_h_Referred-By",
    ] {
        assert_eq!(ours.ev(name), theirs.ev(name), "{name}");
    }
}

#[tokio::test]
async fn a_refer_to_a_phone_runs_the_stock_local_extension_and_bridges_a_new_leg_like_the_capture()
{
    let Some(cap) = captured("phone-blind-transfer") else {
        return;
    };
    let (cap_c, cap_d) = (
        "8a4e68ed-ec15-4952-ab11-a7d8eddfbacf",
        "6e9acbb0-9df8-41dd-9c1f-db9b74323f7e",
    );
    let sim = start(park_5010()).await;
    sim.add_phone(PhoneSpec {
        user: "1002".into(),
        behavior: PhoneBehavior::Answer {
            after: Duration::from_millis(20),
        },
        hangup_after_talk: None,
    });
    let mut raw = Recorder::subscribed(sim.esl_addr(), "plain", "ALL").await;
    let (caller, leg) = bridged(&sim, &mut raw).await;
    assert!(sim.phone_blind_transfer(&leg, "1002"));
    raw.wait(|fs| {
        fs.iter()
            .filter(|f| f.name() == Some("CHANNEL_BRIDGE") && f.ev("Unique-ID") == Some(&caller))
            .count()
            == 2
    })
    .await;
    let got = raw.snapshot();
    same(
        sequence(&got, &caller, "CHANNEL_UNBRIDGE", "CHANNEL_BRIDGE"),
        sequence(&cap, cap_c, "CHANNEL_UNBRIDGE", "CHANNEL_BRIDGE"),
    );
    let d = sim
        .channel(&caller)
        .and_then(|c| c.bridged_to)
        .expect("the caller is bridged to the phone's leg");
    same(
        sequence(&got, &d, "CHANNEL_OUTGOING", "CHANNEL_ANSWER"),
        sequence(&cap, cap_d, "CHANNEL_OUTGOING", "CHANNEL_ANSWER"),
    );
    let answer = raw.event("CHANNEL_ANSWER", &d).await;
    assert_eq!(answer.ev("Other-Leg-Unique-ID"), Some(caller.as_str()));
    assert_eq!(answer.ev("Other-Type"), Some("originator"));
    assert_eq!(answer.ev("Call-Direction"), Some("outbound"));
    let bridge = got
        .iter()
        .filter(|f| f.name() == Some("CHANNEL_BRIDGE") && f.ev("Unique-ID") == Some(&caller))
        .nth(1)
        .expect("bridged to the phone");
    assert_eq!(bridge.ev("Bridge-B-Unique-ID"), Some(d.as_str()));
    // hangup_after_bridge: the phone hangs up, the switch hangs up the caller.
    assert!(sim.hangup(&d, "NORMAL_CLEARING"));
    raw.wait_event("CHANNEL_HANGUP", &caller).await;
}

#[tokio::test]
async fn an_attended_transfer_replaces_the_consultation_and_bridges_the_caller_like_the_capture() {
    let Some(cap) = captured("phone-attended-transfer") else {
        return;
    };
    let (cap_a, cap_b, cap_c, cap_d) = (
        "32ca7e36-2265-49a0-abfc-a8bc031af953",
        "45616be1-7077-4858-80bf-2ccf93b1656e",
        "d5f704b7-9d04-454c-a899-57378e88dee8",
        "2a37edf4-2753-4c9f-b628-c514d6e0cd6d",
    );
    let sim = start(park_5010()).await;
    sim.add_phone(PhoneSpec {
        user: "1002".into(),
        behavior: PhoneBehavior::Answer {
            after: Duration::from_millis(20),
        },
        hangup_after_talk: None,
    });
    let mut raw = Recorder::subscribed(sim.esl_addr(), "plain", "ALL").await;
    let (caller, leg) = bridged(&sim, &mut raw).await;
    let consult = sim.phone_consult_call(&leg, "1002").expect("a phone's leg");
    raw.wait_event("CHANNEL_BRIDGE", &consult).await;
    let target = sim
        .channel(&consult)
        .and_then(|c| c.bridged_to)
        .expect("the consultation reached 1002");
    same(
        sequence(
            &raw.snapshot(),
            &target,
            "CHANNEL_OUTGOING",
            "CHANNEL_ANSWER",
        ),
        sequence(&cap, cap_d, "CHANNEL_OUTGOING", "CHANNEL_ANSWER"),
    );
    assert!(sim.phone_attended_transfer(&leg, &consult));
    raw.wait(|fs| {
        fs.iter()
            .filter(|f| f.name() == Some("CHANNEL_BRIDGE") && f.ev("Unique-ID") == Some(&caller))
            .count()
            == 2
    })
    .await;
    raw.wait_event("CHANNEL_DESTROY", &leg).await;
    let got = raw.snapshot();
    same(
        sequence(&got, &consult, "CHANNEL_UNBRIDGE", "CHANNEL_DESTROY"),
        sequence(&cap, cap_b, "CHANNEL_UNBRIDGE", "CHANNEL_DESTROY"),
    );
    same(
        sequence(&got, &leg, "CHANNEL_HANGUP", "CHANNEL_DESTROY"),
        sequence(&cap, cap_a, "CHANNEL_HANGUP", "CHANNEL_DESTROY"),
    );
    same(
        sequence(&got, &caller, "CHANNEL_UNBRIDGE", "CHANNEL_BRIDGE"),
        sequence(&cap, cap_c, "CHANNEL_UNBRIDGE", "CHANNEL_BRIDGE"),
    );
    let hangup = got
        .iter()
        .find(|f| f.name() == Some("CHANNEL_HANGUP") && f.ev("Unique-ID") == Some(&leg))
        .expect("the agent leg's hangup");
    assert_eq!(
        hangup.ev("variable_transfer_to"),
        Some(format!("att:{target}").as_str())
    );
    assert_eq!(hangup.ev("variable_refer_uuid"), Some(consult.as_str()));
    let replaced = got
        .iter()
        .find(|f| f.name() == Some("CHANNEL_HANGUP") && f.ev("Unique-ID") == Some(&consult))
        .expect("the consultation's hangup");
    assert_eq!(
        replaced.ev("variable_endpoint_disposition"),
        Some("ATTENDED_TRANSFER")
    );
    let unbridge = got
        .iter()
        .find(|f| f.name() == Some("CHANNEL_UNBRIDGE") && f.ev("Unique-ID") == Some(&caller))
        .expect("the caller's unbridge");
    assert_eq!(unbridge.ev("Bridge-B-Unique-ID"), Some(leg.as_str()));
    assert_eq!(unbridge.ev("Other-Leg-Unique-ID"), Some(target.as_str()));
    assert_eq!(
        sim.channel(&caller).and_then(|c| c.bridged_to),
        Some(target.clone())
    );
}
