//! Hold and unhold in the simulator against the `phone-hold` and `api-transfer-and-hold`
//! (part A) captures: the hold events of both legs, from the first hold to the hangup, and
//! the hold variables at hangup. The call before the hold is the common pattern (park,
//! answer, originate `user/1001`, `uuid_bridge`), compared elsewhere.

use std::time::Duration;

use switchboard::sim::{
    CallSpec, Dialplan, PhoneBehavior, PhoneSpec, SimConfig, SimHandle, Simulator,
};
use tokio::net::TcpListener;

use crate::capture::{frames_at, sequences, traces_dir, Frame, Keys, Recorder, UuidMap};

/// Events a hold touches; the rest of the call is compared by the other replays.
const HOLD_EVENTS: &[&str] = &[
    "CHANNEL_CALLSTATE",
    "CHANNEL_HOLD",
    "CHANNEL_UNHOLD",
    "PRESENCE_IN",
    "CUSTOM",
    "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE",
    "PLAYBACK_START",
    "PLAYBACK_STOP",
];
const HOLD_KEYS: &[&str] = &["Channel-Call-State", "status", "presence-call-info-state"];

/// The hold events from the first CALLSTATE HELD up to the first CHANNEL_HANGUP.
fn hold_window(frames: &[Frame]) -> Vec<Frame> {
    let start = frames
        .iter()
        .position(|f| f.ev("Channel-Call-State") == Some("HELD"))
        .unwrap_or(frames.len());
    frames[start..]
        .iter()
        .take_while(|f| f.ev("Event-Name") != Some("CHANNEL_HANGUP"))
        .filter(|f| f.ev("Event-Name").is_some_and(|n| HOLD_EVENTS.contains(&n)))
        .cloned()
        .collect()
}

fn captured(name: &str, part: (usize, usize)) -> Option<Vec<Frame>> {
    let dir = traces_dir()?;
    let bytes = std::fs::read(dir.join(format!("{name}.plain.c1.rx"))).expect("capture");
    Some(
        frames_at(&bytes)
            .into_iter()
            .filter(|(off, _)| *off >= part.0 && *off < part.1)
            .map(|(_, f)| f)
            .collect(),
    )
}

/// The captured caller (inbound) and agent leg (outbound) of a part.
fn legs(frames: &[Frame]) -> (String, String) {
    let leg = |dir: &str| {
        frames
            .iter()
            .find(|f| f.ev("Call-Direction") == Some(dir) && f.ev("Unique-ID").is_some())
            .and_then(|f| f.ev("Unique-ID"))
            .expect("a leg")
            .to_string()
    };
    (leg("inbound"), leg("outbound"))
}

struct Bridged {
    sim: SimHandle,
    rec: Recorder,
    caller: String,
    agent: String,
}

/// A caller bridged to phone 1001's leg, the way the captures' controller did it.
async fn bridged_call(number: &str) -> Bridged {
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
    let mut spec = CallSpec::new(number, "5000");
    spec.caller_name = format!("Caller {number}");
    let caller = sim.place_call(spec);
    rec.wait_event("CHANNEL_PARK", &caller).await;
    rec.send(&format!("api uuid_answer {caller}\n\n")).await;
    let agent = "0b1d2c3e-4f50-4a6b-8c7d-9e0f1a2b3c4d".to_string();
    rec.send(&format!(
        "bgapi originate {{origination_uuid={agent}}}user/1001 &park()\n\n"
    ))
    .await;
    rec.wait_event("CHANNEL_PARK", &agent).await;
    rec.send(&format!("api uuid_bridge {caller} {agent}\n\n"))
        .await;
    rec.wait_event("CHANNEL_BRIDGE", &caller).await;
    Bridged {
        sim,
        rec,
        caller,
        agent,
    }
}

async fn wait_count(rec: &mut Recorder, uuid: &str, name: &str, n: usize) {
    rec.wait(|fs| {
        fs.iter()
            .filter(|f| f.ev("Event-Name") == Some(name) && f.ev("Unique-ID") == Some(uuid))
            .count()
            >= n
    })
    .await;
}

async fn wait_gone(rec: &mut Recorder, uuids: &[&str]) {
    for u in uuids {
        rec.wait(|fs| {
            fs.iter().any(|f| {
                f.ev("Unique-ID") == Some(*u) && f.ev("Channel-State") == Some("CS_DESTROY")
            })
        })
        .await;
    }
}

fn compare(name: &str, real: &[Frame], ours: &[Frame], map: &UuidMap) {
    let keys = Keys {
        app_uuids: &[],
        extra: HOLD_KEYS,
        unowned: None,
    };
    let expected = sequences(&hold_window(real), map, &keys);
    let actual = sequences(&hold_window(ours), &UuidMap::default(), &keys);
    assert!(!expected.is_empty(), "{name}: no hold in the capture");
    for (leg, exp) in &expected {
        let act = actual.get(leg).cloned().unwrap_or_default();
        assert_eq!(&act, exp, "{name}: hold events of {leg} differ");
    }
    assert_eq!(actual.len(), expected.len(), "{name}: legs differ");
}

fn hangup_complete<'a>(frames: &'a [Frame], uuid: &str) -> &'a Frame {
    frames
        .iter()
        .find(|f| {
            f.ev("Event-Name") == Some("CHANNEL_HANGUP_COMPLETE") && f.ev("Unique-ID") == Some(uuid)
        })
        .expect("CHANNEL_HANGUP_COMPLETE")
}

fn hold_pairs(f: &Frame) -> usize {
    f.ev("variable_hold_events")
        .map(|v| v.matches("},{").count() + 1)
        .unwrap_or(0)
}

#[tokio::test]
async fn a_phone_holding_twice_gives_the_captured_hold_events_and_variables() {
    let Some(real) = captured("phone-hold", (216_735, 523_962)) else {
        return;
    };
    let mut b = bridged_call("2301").await;
    for round in 1..=2 {
        assert!(b.sim.phone_hold(&b.agent), "hold {round}");
        wait_count(&mut b.rec, &b.caller, "PLAYBACK_START", round).await;
        assert!(!b.sim.phone_hold(&b.agent), "a held leg is not held again");
        // The switch's clock moves in 20 ms steps: let the hold last a few.
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(b.sim.phone_unhold(&b.agent), "unhold {round}");
        wait_count(&mut b.rec, &b.agent, "CHANNEL_UNHOLD", round).await;
    }
    assert!(b.sim.hangup(&b.agent, "NORMAL_CLEARING"));
    wait_gone(&mut b.rec, &[&b.caller, &b.agent]).await;

    let (c, a) = legs(&real);
    let mut map = UuidMap::default();
    map.insert(&c, &b.caller);
    map.insert(&a, &b.agent);
    let ours = b.rec.snapshot();
    compare("phone-hold part A", &real, &ours, &map);

    let (real_a, our_a) = (hangup_complete(&real, &a), hangup_complete(&ours, &b.agent));
    assert_eq!(hold_pairs(our_a), hold_pairs(real_a));
    assert!(our_a
        .ev("variable_hold_accum_usec")
        .is_some_and(|v| v.parse::<u64>().is_ok_and(|us| us > 0)));
    let our_c = hangup_complete(&ours, &b.caller);
    assert_eq!(our_c.ev("variable_hold_accum_usec"), Some("0"));
    assert_eq!(our_c.ev("variable_hold_events"), None);
}

#[tokio::test]
async fn the_caller_hears_the_holding_legs_hold_music_like_the_capture() {
    let Some(real) = captured("phone-hold", (523_962, usize::MAX)) else {
        return;
    };
    let mut b = bridged_call("2302").await;
    for (leg, music) in [
        (&b.caller, "tone_stream://%(100,100,350)"),
        (&b.agent, "tone_stream://%(300,300,440)"),
    ] {
        let reply = b
            .rec
            .send(&format!("api uuid_setvar {leg} hold_music {music}\n\n"))
            .await;
        assert_eq!(reply.reply_text(), "+OK\n");
    }
    assert!(b.sim.phone_hold(&b.agent));
    wait_count(&mut b.rec, &b.caller, "PLAYBACK_START", 1).await;
    let first_played = |frames: &[Frame], uuid: &str| {
        frames
            .iter()
            .find(|f| {
                f.ev("Event-Name") == Some("PLAYBACK_START") && f.ev("Unique-ID") == Some(uuid)
            })
            .and_then(|f| f.ev("Playback-File-Path"))
            .map(str::to_string)
    };
    let (c, _) = legs(&real);
    assert_eq!(
        first_played(&b.rec.snapshot(), &b.caller),
        first_played(&real, &c)
    );
    assert!(b.sim.phone_unhold(&b.agent));
    assert!(b.sim.hangup(&b.agent, "NORMAL_CLEARING"));
    wait_gone(&mut b.rec, &[&b.caller, &b.agent]).await;
}

#[tokio::test]
async fn uuid_hold_and_off_on_either_leg_give_the_captured_events() {
    let Some(real) = captured("api-transfer-and-hold", (0, 367_534)) else {
        return;
    };
    let mut b = bridged_call("2401").await;
    let (agent, caller) = (b.agent.clone(), b.caller.clone());
    for (held, partner) in [(&agent, &caller), (&caller, &agent)] {
        let reply = b.rec.send(&format!("api uuid_hold {held}\n\n")).await;
        assert_eq!(reply.reply_text(), "+OK Success\n");
        wait_count(&mut b.rec, partner, "PLAYBACK_START", 1).await;
        let reply = b.rec.send(&format!("api uuid_hold off {held}\n\n")).await;
        assert_eq!(reply.reply_text(), "+OK Success\n");
        wait_count(&mut b.rec, held, "CHANNEL_UNHOLD", 1).await;
    }
    let reply = b
        .rec
        .send("api uuid_hold 00000000-0000-4000-8000-000000000000\n\n")
        .await;
    assert!(reply.reply_text().starts_with("-ERR"));

    let (c, a) = legs(&real);
    let mut map = UuidMap::default();
    map.insert(&c, &b.caller);
    map.insert(&a, &b.agent);
    compare(
        "api-transfer-and-hold part A",
        &real,
        &b.rec.snapshot(),
        &map,
    );
    b.rec.send(&format!("api uuid_kill {caller}\n\n")).await;
    wait_gone(&mut b.rec, &[&caller, &agent]).await;
}
