//! Supervisor monitoring in the simulator against the `eavesdrop` capture: for listen
//! (`&eavesdrop`), whisper (`eavesdrop_whisper_aleg=true`) and barge (`&three_way`), the
//! supervisor's leg from its originate to its destruction after `uuid_kill`, event by event,
//! and the media bug the switch puts on the caller (MEDIA_BUG_START when the application
//! starts, MEDIA_BUG_STOP after the leg's CHANNEL_HANGUP). The caller's bridge to the agent
//! is untouched.

use std::time::Duration;

use switchboard::sim::{CallSpec, Dialplan, PhoneBehavior, PhoneSpec, SimConfig, Simulator};
use tokio::net::TcpListener;

use crate::capture::{frames_at, sequences, traces_dir, Frame, Keys, Recorder, UuidMap};

const CAPTURED_CALLER: &str = "bd61181c-f26c-48d9-9687-f788b9996cfc";
const CAPTURED_AGENT: &str = "35f4f585-b330-4852-b8ae-9454d224bcb2";

/// The capture's three supervisor legs: (part start, part end, leg, application, whisper).
const PARTS: [(usize, usize, &str, &str, bool); 3] = [
    (
        190_326,
        313_280,
        "2ec39703-c0e2-4d88-b638-4fc06752645c",
        "eavesdrop",
        false,
    ),
    (
        313_280,
        428_685,
        "a85b8840-54a8-42d1-ac2b-0f8e207a3187",
        "eavesdrop",
        true,
    ),
    (
        428_685,
        545_148,
        "8561d297-4980-4bb8-a0ea-3e69ed79c2c0",
        "three_way",
        false,
    ),
];

fn captured(part: (usize, usize)) -> Option<Vec<Frame>> {
    let dir = traces_dir()?;
    let bytes = std::fs::read(dir.join("eavesdrop.plain.c1.rx")).expect("capture");
    Some(
        frames_at(&bytes)
            .into_iter()
            .filter(|(off, _)| *off >= part.0 && *off < part.1)
            .map(|(_, f)| f)
            .collect(),
    )
}

/// The media bug events on `caller`, as `NAME function target`.
fn bugs(frames: &[Frame], caller: &str, map: &UuidMap) -> Vec<String> {
    frames
        .iter()
        .filter(|f| f.ev("Unique-ID") == Some(caller))
        .filter(|f| {
            f.ev("Event-Name")
                .is_some_and(|n| n.starts_with("MEDIA_BUG_"))
        })
        .map(|f| {
            format!(
                "{} {} {}",
                f.ev("Event-Name").unwrap_or(""),
                f.ev("Media-Bug-Function").unwrap_or(""),
                map.get(f.ev("Media-Bug-Target").unwrap_or(""))
            )
        })
        .collect()
}

/// Where the leg's CHANNEL_HANGUP falls among the caller's bug events and its own
/// EXECUTE_COMPLETE: the order the capture shows.
fn order(frames: &[Frame], leg: &str, caller: &str) -> Vec<&'static str> {
    frames
        .iter()
        .filter_map(|f| {
            let name = f.ev("Event-Name")?;
            let uuid = f.ev("Unique-ID")?;
            match (name, uuid == leg, uuid == caller) {
                ("CHANNEL_EXECUTE", true, _) => Some("execute"),
                ("CHANNEL_HANGUP", true, _) => Some("hangup"),
                ("CHANNEL_EXECUTE_COMPLETE", true, _) => Some("complete"),
                ("MEDIA_BUG_START", _, true) => Some("bug start"),
                ("MEDIA_BUG_STOP", _, true) => Some("bug stop"),
                _ => None,
            }
        })
        .collect()
}

#[tokio::test]
async fn listen_whisper_and_barge_legs_give_the_captured_events() {
    let Some(_) = traces_dir() else {
        return;
    };
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let config = SimConfig {
        dialplan: Dialplan::Bare,
        ..SimConfig::default()
    };
    let sim = Simulator::start(l, config).await.expect("start sim");
    for user in ["1001", "2001"] {
        sim.add_phone(PhoneSpec {
            user: user.to_string(),
            behavior: PhoneBehavior::Answer {
                after: Duration::from_millis(200),
            },
            hangup_after_talk: None,
        });
    }
    let mut rec = Recorder::connect(sim.esl_addr(), "plain").await;
    let mut spec = CallSpec::new("1014", "5000");
    spec.caller_name = "Caller 1014".to_string();
    let caller = sim.place_call(spec);
    rec.wait_event("CHANNEL_PARK", &caller).await;
    rec.send(&format!("api uuid_answer {caller}\n\n")).await;
    let agent = "0b1d2c3e-4f50-4a6b-8c7d-9e0f1a2b3c4d".to_string();
    rec.send(&format!(
        "bgapi originate {{origination_uuid={agent},originate_timeout=10}}user/1001 &park()\n\n"
    ))
    .await;
    rec.wait_event("CHANNEL_PARK", &agent).await;
    rec.send(&format!("api uuid_bridge {caller} {agent}\n\n"))
        .await;
    rec.wait_event("CHANNEL_BRIDGE", &caller).await;

    let keys = Keys {
        app_uuids: &[],
        extra: &["Application-Data"],
        unowned: None,
    };
    for (i, (from, to, real_leg, app, whisper)) in PARTS.into_iter().enumerate() {
        let real = captured((from, to)).expect("capture");
        let leg = format!("5e0b1d2c-3e4f-4a6b-8c7d-9e0f1a2b3c{i:02}");
        let start = rec.snapshot().len();
        let vars = if whisper {
            format!("origination_uuid={leg},originate_timeout=10,eavesdrop_whisper_aleg=true")
        } else {
            format!("origination_uuid={leg},originate_timeout=10")
        };
        rec.send(&format!(
            "bgapi originate {{{vars}}}sofia/internal/2001@127.0.0.1:5073 &{app}({caller})\n\n"
        ))
        .await;
        rec.wait_event("MEDIA_BUG_START", &caller).await;
        rec.wait(|fs| {
            fs[start..].iter().any(|f| {
                f.ev("Event-Name") == Some("MEDIA_BUG_START") && f.ev("Unique-ID") == Some(&caller)
            })
        })
        .await;
        let spying = sim.eavesdrops();
        assert_eq!(spying.len(), 1, "{app}");
        assert_eq!(spying[0].whisper_aleg, whisper, "{app}");
        assert_eq!(
            sim.channel(&caller).and_then(|c| c.bridged_to),
            Some(agent.clone()),
            "the bridge is untouched"
        );
        let reply = rec.send(&format!("api uuid_kill {leg}\n\n")).await;
        assert_eq!(reply.reply_text(), "+OK\n");
        rec.wait(|fs| {
            fs[start..].iter().any(|f| {
                f.ev("Unique-ID") == Some(leg.as_str())
                    && f.ev("Channel-State") == Some("CS_DESTROY")
            })
        })
        .await;
        let ours: Vec<Frame> = rec.snapshot()[start..].to_vec();

        let mut map = UuidMap::default();
        map.insert(real_leg, &leg);
        map.insert(CAPTURED_CALLER, &caller);
        map.insert(CAPTURED_AGENT, &agent);
        let expected = sequences(&real, &map, &keys);
        let actual = sequences(&ours, &UuidMap::default(), &keys);
        assert_eq!(
            actual.get(&leg),
            expected.get(&leg),
            "{app}: the supervisor's leg differs"
        );
        assert_eq!(
            bugs(&ours, &caller, &UuidMap::default()),
            bugs(&real, CAPTURED_CALLER, &map),
            "{app}: the caller's media bug differs"
        );
        assert_eq!(
            order(&ours, &leg, &caller),
            order(&real, real_leg, CAPTURED_CALLER),
            "{app}: order"
        );
        assert!(sim.eavesdrops().is_empty());
    }
    assert_eq!(
        sim.channel(&caller).and_then(|c| c.bridged_to),
        Some(agent.clone())
    );
}
