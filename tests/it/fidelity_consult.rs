//! A consult transfer driven from ESL in the simulator against `api-transfer-and-hold` part D
//! (Batch 4): `uuid_setvar <C> park_after_bridge true`, `originate {origination_uuid=K}user/1002
//! &park()`, `uuid_bridge <A> <K>` (the caller is pulled out of its bridge and parked),
//! `uuid_broadcast <C> local_stream://moh aleg`, then `uuid_bridge <C> <K>` (the agent leg,
//! left alone, hangs up; the caller's music stops and it is bridged to K). Every leg's events
//! from the first `uuid_bridge` on are compared, without `Other-Leg-Unique-ID` (the switch's
//! choice of which old or new partner it names differs from event to event).

use std::time::Duration;

use switchboard::sim::{
    CallSpec, Dialplan, PhoneBehavior, PhoneSpec, SimConfig, SimHandle, Simulator,
};
use tokio::net::TcpListener;

use crate::capture::{frames_at, sequences, traces_dir, Frame, Keys, Recorder, UuidMap};

/// Part D of the capture: from the first `uuid_setvar` reply to the `uuid_exists` after the
/// final bridge.
const PART_D: (usize, usize) = (1_500_150, 1_855_446);

fn captured() -> Option<Vec<Frame>> {
    let dir = traces_dir()?;
    let bytes = std::fs::read(dir.join("api-transfer-and-hold.plain.c1.rx")).expect("capture");
    Some(
        frames_at(&bytes)
            .into_iter()
            .filter(|(off, _)| *off >= PART_D.0 && *off < PART_D.1)
            .map(|(_, f)| f)
            .collect(),
    )
}

/// The frames from K's CHANNEL_UNPARK (the first `uuid_bridge`'s first event) on.
fn from_first_rebridge(frames: &[Frame], k: &str) -> Vec<Frame> {
    let start = frames
        .iter()
        .position(|f| f.ev("Event-Name") == Some("CHANNEL_UNPARK") && f.ev("Unique-ID") == Some(k))
        .expect("K unparked");
    frames[start..].to_vec()
}

fn without_other_leg(
    seqs: std::collections::HashMap<String, Vec<String>>,
) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = seqs
        .into_iter()
        .map(|(leg, items)| {
            let items = items
                .into_iter()
                // PRESENCE_IN: the phones' lamps, compared elsewhere. `COMMAND`: the switch's
                // PRIVATE_COMMAND frame after a broadcast's playback stops starts with the
                // queued command's own `Event-Name: COMMAND` header; PRIVATE_COMMAND is never
                // compared (see `capture::EXCLUDED`).
                .filter(|i| !i.starts_with("PRESENCE_IN") && !i.starts_with("COMMAND "))
                .map(|i| {
                    i.split(' ')
                        .filter(|w| !w.starts_with("Other-Leg-Unique-ID="))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            (leg, items)
        })
        .collect();
    out.sort();
    out
}

async fn start() -> (SimHandle, Recorder) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let config = SimConfig {
        dialplan: Dialplan::Bare,
        ..SimConfig::default()
    };
    let sim = Simulator::start(l, config).await.expect("start sim");
    for (user, ms) in [("1001", 300), ("1002", 500)] {
        sim.add_phone(PhoneSpec {
            user: user.to_string(),
            behavior: PhoneBehavior::Answer {
                after: Duration::from_millis(ms),
            },
            hangup_after_talk: None,
        });
    }
    let rec = Recorder::connect(sim.esl_addr(), "plain").await;
    (sim, rec)
}

#[tokio::test]
async fn a_consult_then_its_completion_give_the_captured_events() {
    let Some(real) = captured() else {
        return;
    };
    let (sim, mut rec) = start().await;
    let mut spec = CallSpec::new("2404", "5000");
    spec.caller_name = "Caller 2404".to_string();
    let c = sim.place_call(spec);
    rec.wait_event("CHANNEL_PARK", &c).await;
    rec.send(&format!("api uuid_answer {c}\n\n")).await;
    let a = "0b1d2c3e-4f50-4a6b-8c7d-9e0f1a2b3c4d";
    rec.send(&format!(
        "bgapi originate {{origination_uuid={a}}}user/1001 &park()\n\n"
    ))
    .await;
    rec.wait_event("CHANNEL_PARK", a).await;
    rec.send(&format!("api uuid_bridge {c} {a}\n\n")).await;
    rec.wait_event("CHANNEL_BRIDGE", &c).await;

    let reply = rec
        .send(&format!("api uuid_setvar {c} park_after_bridge true\n\n"))
        .await;
    assert_eq!(reply.reply_text(), "+OK\n");
    let k = "1c2d3e4f-5061-4728-9a0b-1c2d3e4f5061";
    rec.send(&format!(
        "bgapi originate {{origination_uuid={k}}}user/1002 &park()\n\n"
    ))
    .await;
    rec.wait_event("CHANNEL_PARK", k).await;
    let reply = rec.send(&format!("api uuid_bridge {a} {k}\n\n")).await;
    assert_eq!(reply.reply_text(), format!("+OK {k}\n"));
    rec.wait_event("CHANNEL_PARK", &c).await;
    rec.wait_event("CHANNEL_BRIDGE", a).await;
    let reply = rec
        .send(&format!(
            "api uuid_broadcast {c} local_stream://moh aleg\n\n"
        ))
        .await;
    assert_eq!(reply.reply_text(), "+OK Message sent\n");
    rec.wait_event("PLAYBACK_START", &c).await;
    tokio::time::sleep(Duration::from_millis(60)).await;
    let reply = rec.send(&format!("api uuid_bridge {c} {k}\n\n")).await;
    assert_eq!(reply.reply_text(), format!("+OK {k}\n"));
    rec.wait_event("CHANNEL_BRIDGE", &c).await;
    rec.wait(|fs| {
        fs.iter()
            .any(|f| f.ev("Unique-ID") == Some(a) && f.ev("Channel-State") == Some("CS_DESTROY"))
    })
    .await;
    rec.wait(|fs| {
        let k_media = |f: &&Frame| {
            f.ev("Unique-ID") == Some(k) && f.ev("Channel-State") == Some("CS_EXCHANGE_MEDIA")
        };
        fs.iter().filter(k_media).count() >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(60)).await;
    let ours = rec.snapshot();
    assert!(sim.hangup(&c, "NORMAL_CLEARING"));

    let real_c = "a53922fb-1669-4e1c-82b4-a3641349e6be";
    let real_a = "fa1b1e45-3a19-48e9-9c67-5022d440931d";
    let real_k = "91b5117f-2334-4e1b-926f-0d287e30d1ef";
    let mut map = UuidMap::default();
    map.insert(real_c, &c);
    map.insert(real_a, a);
    map.insert(real_k, k);
    let keys = Keys {
        app_uuids: &[],
        extra: &[],
        unowned: None,
    };
    let expected = without_other_leg(sequences(&from_first_rebridge(&real, real_k), &map, &keys));
    let actual = without_other_leg(sequences(
        &from_first_rebridge(&ours, k),
        &UuidMap::default(),
        &keys,
    ));
    assert_eq!(actual.len(), expected.len(), "legs differ: {actual:#?}");
    for ((leg, exp), (our_leg, act)) in expected.iter().zip(&actual) {
        assert_eq!(leg, our_leg);
        assert_eq!(act, exp, "events of {leg} differ");
    }
}
