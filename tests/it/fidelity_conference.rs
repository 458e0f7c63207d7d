//! A three-way conference driven from ESL in the simulator against `three-way-conference`
//! (Batch 4): `uuid_transfer <C> -both conference:xfer3@default inline`, `originate
//! {origination_uuid=T}user/1002 &conference(xfer3@default)`, then phone 1001 leaves (BYE),
//! then 1002, then `uuid_kill <C>`. For every leg, from C's UNBRIDGE on, the channel's states,
//! its applications, its hangup and the conference's member events (with `Member-ID` and
//! `Conference-Size`) are compared, and so are the conference's own `conference-create` and
//! `conference-destroy` and where they fall. Not compared (not modelled, no engine use):
//! `start-talking`, `floor-change`, `play-file-done`, CALL_UPDATE, CODEC, PRESENCE_IN, and the
//! third party's ringing (compared for every originate elsewhere).

use std::time::Duration;

use switchboard::sim::{
    CallSpec, Dialplan, PhoneBehavior, PhoneSpec, SimConfig, SimHandle, Simulator,
};
use tokio::net::TcpListener;

use crate::capture::{frames_at, traces_dir, Frame, Recorder};

const REAL_C: &str = "5054fd9b-1ca5-495d-a2ad-a23f0d7aadfe";
const REAL_A: &str = "7fe0374f-0aaf-4f7f-89e0-a92589fa43ad";
const REAL_T: &str = "71410106-4295-4413-b8a6-941217389767";

fn captured() -> Option<Vec<Frame>> {
    let dir = traces_dir()?;
    let bytes = std::fs::read(dir.join("three-way-conference.plain.c1.rx")).expect("capture");
    Some(frames_at(&bytes).into_iter().map(|(_, f)| f).collect())
}

/// What is compared of the frames from C's UNBRIDGE on: one line per event, the leg named
/// `C`, `A`, `T` (or `-` for the conference's own events).
fn items(frames: &[Frame], c: &str, a: &str, t: &str) -> Vec<String> {
    let start = frames
        .iter()
        .position(|f| {
            f.ev("Event-Name") == Some("CHANNEL_UNBRIDGE") && f.ev("Unique-ID") == Some(c)
        })
        .expect("C unbridged");
    let mut t_started = false;
    let mut out = Vec::new();
    for f in &frames[start..] {
        let Some(name) = f.ev("Event-Name") else {
            continue;
        };
        let leg = match f.ev("Unique-ID") {
            Some(u) if u == c => "C",
            Some(u) if u == a => "A",
            Some(u) if u == t => "T",
            Some(_) => continue,
            None => "-",
        };
        // The third party from its conference on (its ringing is an originate like any other).
        if leg == "T" && name == "CHANNEL_EXECUTE" {
            t_started = true;
        }
        if leg == "T" && !t_started {
            continue;
        }
        let line = match name {
            "CUSTOM" if f.ev("Event-Subclass") == Some("conference::maintenance") => {
                let action = f.ev("Action").unwrap_or_default();
                match action {
                    "conference-create" | "conference-destroy" => format!("- {action}"),
                    "add-member" | "del-member" => format!(
                        "{leg} {action} member={} size={}",
                        f.ev("Member-ID").unwrap_or_default(),
                        f.ev("Conference-Size").unwrap_or_default()
                    ),
                    _ => continue,
                }
            }
            "CHANNEL_STATE" => format!("{leg} state {}", f.ev("Channel-State").unwrap_or_default()),
            "CHANNEL_EXECUTE" | "CHANNEL_EXECUTE_COMPLETE" => format!(
                "{leg} {name} {} {}",
                f.ev("Application").unwrap_or_default(),
                f.ev("Application-Data").unwrap_or_default()
            ),
            "CHANNEL_UNBRIDGE"
            | "CHANNEL_HANGUP"
            | "CHANNEL_HANGUP_COMPLETE"
            | "CHANNEL_DESTROY" => format!("{leg} {name}"),
            _ => continue,
        };
        out.push(line);
    }
    out
}

/// The lines of one leg (and the conference's own), in order.
fn of(items: &[String], leg: &str) -> Vec<String> {
    items
        .iter()
        .filter(|l| l.starts_with(&format!("{leg} ")) || l.starts_with("- "))
        .cloned()
        .collect()
}

async fn start() -> (SimHandle, Recorder) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let config = SimConfig {
        dialplan: Dialplan::Bare,
        ..SimConfig::default()
    };
    let sim = Simulator::start(l, config).await.expect("start sim");
    for (user, ms) in [("1001", 300), ("1002", 400)] {
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
async fn a_three_way_conference_gives_the_captured_events() {
    let Some(real) = captured() else {
        return;
    };
    let (sim, mut rec) = start().await;
    let mut spec = CallSpec::new("2501", "5000");
    spec.caller_name = "Caller 2501".to_string();
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
        .send(&format!(
            "api uuid_transfer {c} -both conference:xfer3@default inline\n\n"
        ))
        .await;
    assert_eq!(reply.reply_text(), "+OK\n");
    let t = "1c2d3e4f-5061-4728-9a0b-1c2d3e4f5061";
    rec.send(&format!(
        "bgapi originate {{origination_uuid={t}}}user/1002 &conference(xfer3@default)\n\n"
    ))
    .await;
    rec.wait(|fs| {
        fs.iter()
            .any(|f| f.ev("Action") == Some("add-member") && f.ev("Unique-ID") == Some(t))
    })
    .await;
    assert_eq!(sim.conference_members("xfer3").len(), 3);
    assert!(sim.hangup(a, "NORMAL_CLEARING"));
    assert!(sim.hangup(t, "NORMAL_CLEARING"));
    let reply = rec.send(&format!("api uuid_kill {c}\n\n")).await;
    assert_eq!(reply.reply_text(), "+OK\n");
    rec.wait(|fs| {
        fs.iter()
            .any(|f| f.ev("Action") == Some("conference-destroy"))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(60)).await;
    let ours = items(&rec.snapshot(), &c, a, t);
    let expected = items(&real, REAL_C, REAL_A, REAL_T);
    assert!(expected.len() > 20, "{expected:#?}");
    assert!(expected.contains(&"C del-member member=1 size=0".to_owned()));
    for leg in ["C", "A", "T"] {
        assert_eq!(of(&ours, leg), of(&expected, leg), "events of {leg} differ");
    }
    assert!(sim.conference_members("xfer3").is_empty());
}
