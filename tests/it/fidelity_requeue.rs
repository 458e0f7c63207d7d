//! `uuid_transfer <C> park inline` in the simulator against `api-transfer-and-hold` part E:
//! after `uuid_setvar <C> requeue_reason agent_requeue`, the bridged agent leg hangs up, the
//! caller runs `park` inline in its own context and its CHANNEL_PARK carries the variable (how
//! a REST transfer brings the caller back to the controller to be queued again).

use std::time::Duration;

use switchboard::sim::{CallSpec, Dialplan, PhoneBehavior, PhoneSpec, SimConfig, Simulator};
use tokio::net::TcpListener;

use crate::capture::{frames_at, sequences, traces_dir, Frame, Keys, Recorder, UuidMap};

/// Part E, from the `uuid_setvar` up to the `uuid_getvar` 3 s later.
const PART_E: (usize, usize) = (2_189_731, 2_270_357);
const KEYS: &[&str] = &[
    "Channel-Call-State",
    "Caller-Dialplan",
    "Caller-Context",
    "variable_requeue_reason",
];

fn captured() -> Option<Vec<Frame>> {
    let dir = traces_dir()?;
    let bytes = std::fs::read(dir.join("api-transfer-and-hold.plain.c1.rx")).expect("the capture");
    Some(
        frames_at(&bytes)
            .into_iter()
            .filter(|(off, _)| *off >= PART_E.0 && *off < PART_E.1)
            .map(|(_, f)| f)
            .collect(),
    )
}

fn leg_of(frames: &[Frame], direction: &str) -> String {
    frames
        .iter()
        .find(|f| f.ev("Call-Direction") == Some(direction) && f.ev("Unique-ID").is_some())
        .and_then(|f| f.ev("Unique-ID"))
        .expect("a leg")
        .to_string()
}

#[tokio::test]
async fn park_inline_hangs_up_the_agent_leg_and_parks_the_caller_again_like_the_capture() {
    let Some(real) = captured() else {
        return;
    };
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let config = SimConfig {
        dialplan: Dialplan::Bare,
        ..SimConfig::default()
    };
    let sim = Simulator::start(l, config).await.expect("start sim");
    sim.add_phone(PhoneSpec {
        user: "1001".to_string(),
        behavior: PhoneBehavior::Answer {
            after: Duration::from_millis(300),
        },
        hangup_after_talk: None,
    });
    let mut rec = Recorder::connect(sim.esl_addr(), "plain").await;
    let mut spec = CallSpec::new("2405", "5000");
    spec.caller_name = "Caller 2405".into();
    let caller = sim.place_call(spec);
    rec.wait_event("CHANNEL_PARK", &caller).await;
    rec.send(&format!("api uuid_answer {caller}\n\n")).await;
    let agent = "4611fa49-4c8a-4bd5-bb91-bbdb3f0b0126".to_string();
    rec.send(&format!(
        "bgapi originate {{origination_uuid={agent}}}user/1001 &park()\n\n"
    ))
    .await;
    rec.wait_event("CHANNEL_PARK", &agent).await;
    rec.send(&format!("api uuid_bridge {caller} {agent}\n\n"))
        .await;
    rec.wait_event("CHANNEL_BRIDGE", &caller).await;
    let start = rec.snapshot().len();

    let reply = rec
        .send(&format!(
            "api uuid_setvar {caller} requeue_reason agent_requeue\n\n"
        ))
        .await;
    assert_eq!(reply.reply_text(), "+OK\n");
    let reply = rec
        .send(&format!("api uuid_transfer {caller} park inline\n\n"))
        .await;
    assert_eq!(reply.reply_text(), "+OK\n");
    rec.wait(|fs| {
        fs.iter().any(|f| {
            f.ev("Unique-ID") == Some(agent.as_str()) && f.ev("Channel-State") == Some("CS_DESTROY")
        })
    })
    .await;
    let reply = rec
        .send(&format!("api uuid_getvar {caller} requeue_reason\n\n"))
        .await;
    assert_eq!(reply.reply_text(), "agent_requeue");
    let ours: Vec<Frame> = rec.snapshot()[start..].to_vec();

    let mut map = UuidMap::default();
    map.insert(&leg_of(&real, "inbound"), &caller);
    map.insert(&leg_of(&real, "outbound"), &agent);
    let keys = Keys {
        app_uuids: &[],
        extra: KEYS,
        unowned: None,
    };
    // The real switch also sends PRESENCE_IN for a `user/` leg it originated (DOWN, RINGING,
    // HANGUP, here and in parts A and C); the simulator sends it for inbound legs only, a gap
    // of its own that this comparison leaves out.
    let no_presence = |frames: &[Frame]| -> Vec<Frame> {
        frames
            .iter()
            .filter(|f| f.ev("Event-Name") != Some("PRESENCE_IN"))
            .cloned()
            .collect()
    };
    let expected = sequences(&no_presence(&real), &map, &keys);
    let actual = sequences(&no_presence(&ours), &UuidMap::default(), &keys);
    for (leg, exp) in &expected {
        let act = actual.get(leg).cloned().unwrap_or_default();
        assert_eq!(&act, exp, "part E: the events of {leg} differ");
    }
    assert_eq!(actual.len(), expected.len(), "part E: legs differ");
    let parked = ours
        .iter()
        .find(|f| f.ev("Event-Name") == Some("CHANNEL_PARK"))
        .expect("the caller parked again");
    assert_eq!(parked.ev("Caller-Destination-Number"), Some("5000"));
    assert_eq!(parked.ev("Other-Leg-Unique-ID"), None);
    // Another inline application is not modelled: refused, not faked.
    let reply = rec
        .send(&format!(
            "api uuid_transfer {caller} conference:x inline\n\n"
        ))
        .await;
    assert!(reply.reply_text().starts_with("-ERR"));
    rec.send(&format!("api uuid_kill {caller}\n\n")).await;
}
