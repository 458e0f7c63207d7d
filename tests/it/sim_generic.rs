//! The simulator's generic switch behaviour, checked over raw TCP against the captures: what
//! phones watching a BLF name receive for each PRESENCE_IN (`presence-states`), the
//! PRESENCE_PROBE of a subscription (`switchboard-feature-codes`), mod_event_socket's replies
//! (`-ERR no reply`, `event` keywords, unknown commands, the goodbye on a half-close),
//! loopback originates (`dtmf-collect`) and what the dialplan runs before a call parks (the
//! stock `public` and `default` contexts of the Batch 3 rig, the bare park of Batches 1-2).

use std::collections::VecDeque;
use std::time::Duration;

use switchboard::sim::{
    Dialplan, EntryPoint, Notify, PhoneBehavior, PhoneLamp, PhoneSpec, SimConfig, SimHandle,
    Simulator, WatchKind,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::capture::{take_frames, Frame};
use crate::sim::start_sim;

const DEADLINE: Duration = Duration::from_secs(5);
const AGENT: &str = "agent+1001";

/// A raw ESL client: exact bytes in and out.
struct Raw {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Whole frames read and not yet taken.
    ready: VecDeque<Frame>,
}

impl Raw {
    async fn connect(sim: &SimHandle) -> Raw {
        let stream = TcpStream::connect(sim.esl_addr()).await.expect("connect");
        let mut raw = Raw {
            stream,
            buf: Vec::new(),
            ready: VecDeque::new(),
        };
        assert_eq!(
            raw.frame().await.header("Content-Type"),
            Some("auth/request")
        );
        raw.send("auth ClueCon\n\n").await;
        assert_eq!(raw.frame().await.header("Reply-Text"), Some("+OK accepted"));
        raw
    }

    async fn send(&mut self, text: &str) {
        self.stream.write_all(text.as_bytes()).await.expect("write");
    }

    /// Sends one command and returns the next frame.
    async fn ask(&mut self, text: &str) -> Frame {
        self.send(text).await;
        self.frame().await
    }

    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        let n = tokio::time::timeout(DEADLINE, self.stream.read(&mut chunk))
            .await
            .expect("bytes in time")
            .expect("read");
        self.buf.extend_from_slice(&chunk[..n]);
        n > 0
    }

    async fn frame(&mut self) -> Frame {
        loop {
            if let Some(frame) = self.ready.pop_front() {
                return frame;
            }
            assert!(self.fill().await, "connection closed before a whole frame");
            self.ready.extend(take_frames(&mut self.buf));
        }
    }

    /// The next event named `name`, skipping others.
    async fn event_named(&mut self, name: &str) -> Vec<(String, String)> {
        loop {
            let f = self.frame().await;
            let ev = f.event_headers();
            if ev
                .iter()
                .find(|(k, _)| k == "Event-Name")
                .is_some_and(|(_, v)| v == name)
            {
                return ev;
            }
        }
    }

    /// The next event whose `Event-Name` header (the last one, the switch's) is `name`.
    async fn event_whose_last_name_is(&mut self, name: &str) -> Vec<(String, String)> {
        loop {
            let ev = self.frame().await.event_headers();
            if ev
                .iter()
                .rev()
                .find(|(k, _)| k == "Event-Name")
                .is_some_and(|(_, v)| v == name)
            {
                return ev;
            }
        }
    }
}

fn get<'a>(ev: &'a [(String, String)], name: &str) -> Option<&'a str> {
    ev.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// A `sendevent PRESENCE_IN` written like the controller's, with `extra` header lines.
fn presence_in(status: &str, rpid: &str, extra: &str) -> String {
    format!(
        "sendevent PRESENCE_IN\nEvent-Name: PRESENCE_IN\nProto: agent\nFrom: 1001@127.0.0.1\n\
         Login: 1001@127.0.0.1\nevent_type: presence\nalt_event_type: dialog\nevent_count: 1\n\
         Status: {status}\nRpid: {rpid}\n{extra}\n"
    )
}

const UID: &str = "84bbf0e1-f2ce-4671-8701-4cfd6ec37110";

fn with_state(state: &str) -> String {
    let channel_state = match state {
        "early" => "CS_ROUTING",
        "confirmed" => "CS_EXECUTE",
        _ => "CS_HANGUP",
    };
    format!(
        "Unique-ID: {UID}\nChannel-State: {channel_state}\nAnswer-State: {state}\n\
         Presence-Call-Direction: outbound\n"
    )
}

/// A switch with phones 1002 (dialog) and 1003 (presence) watching `agent+1001`, and a
/// command connection.
async fn watched() -> (SimHandle, Raw) {
    let sim = start_sim().await;
    sim.subscribe_watcher("1002", AGENT, WatchKind::Dialog);
    sim.subscribe_watcher("1003", AGENT, WatchKind::Presence);
    let raw = Raw::connect(&sim).await;
    (sim, raw)
}

/// Sends one PRESENCE_IN; returns the newest dialog and pidf NOTIFY.
async fn publish(sim: &SimHandle, raw: &mut Raw, command: &str) -> (Notify, Notify) {
    let reply = raw.ask(command).await;
    assert!(reply
        .header("Reply-Text")
        .is_some_and(|t| t.starts_with("+OK ")));
    let dialog = sim.notifies("1002", AGENT).pop().expect("a dialog NOTIFY");
    let pidf = sim.notifies("1003", AGENT).pop().expect("a pidf NOTIFY");
    (dialog, pidf)
}

fn pidf(n: &Notify) -> (Option<&str>, Option<&str>) {
    (n.activity.as_deref(), n.note.as_deref())
}

const FOUR: [(&str, &str); 4] = [
    ("Paused Lunch", "away"),
    ("Wrap-up", "busy"),
    ("On The Phone", "on-the-phone"),
    ("Available", "unknown"),
];

#[tokio::test]
async fn without_a_unique_id_the_key_is_idle_and_status_and_rpid_are_the_note_and_activity() {
    let (sim, mut raw) = watched().await;
    let want = [
        (Some("away"), Some("Paused Lunch")),
        (Some("busy"), Some("Wrap-up")),
        (Some("on-the-phone"), Some("On The Phone")),
        (None, Some("Available")),
    ];
    for ((status, rpid), want) in FOUR.iter().zip(want) {
        let (dialog, presence) = publish(&sim, &mut raw, &presence_in(status, rpid, "")).await;
        assert_eq!(dialog.dialog, None, "{status}");
        assert!(dialog
            .body
            .as_deref()
            .is_some_and(|b| !b.contains("<dialog ")));
        assert_eq!(pidf(&presence), want, "{status}");
    }
    assert_eq!(
        sim.lamp(AGENT),
        Some(PhoneLamp {
            dialog_state: None,
            activity: None,
            note: Some("Available".into())
        })
    );
}

#[tokio::test]
async fn an_early_lamp_blinks_and_shows_available_whatever_status_says() {
    let (sim, mut raw) = watched().await;
    for (status, rpid) in FOUR {
        let (dialog, presence) = publish(
            &sim,
            &mut raw,
            &presence_in(status, rpid, &with_state("early")),
        )
        .await;
        let d = dialog.dialog.expect("a dialog");
        assert_eq!((d.id.as_str(), d.state.as_str()), (UID, "early"));
        assert_eq!(d.direction, "recipient");
        assert_eq!(pidf(&presence), (None, Some("Available")), "{status}");
    }
    let (dialog, _) = publish(
        &sim,
        &mut raw,
        &presence_in("Ringing", "active", &with_state("ringing")),
    )
    .await;
    assert_eq!(dialog.dialog.map(|d| d.state).as_deref(), Some("early"));
}

#[tokio::test]
async fn a_confirmed_lamp_is_lit_and_shows_on_the_phone_whatever_status_says() {
    let (sim, mut raw) = watched().await;
    for (status, rpid) in FOUR {
        let (dialog, presence) = publish(
            &sim,
            &mut raw,
            &presence_in(status, rpid, &with_state("confirmed")),
        )
        .await;
        assert_eq!(dialog.dialog.map(|d| d.state).as_deref(), Some("confirmed"));
        assert_eq!(
            pidf(&presence),
            (Some("on-the-phone"), Some("On The Phone")),
            "{status}"
        );
    }
    assert_eq!(
        sim.lamp(AGENT).and_then(|l| l.dialog_state).as_deref(),
        Some("confirmed")
    );
}

#[tokio::test]
async fn a_terminated_lamp_shows_available_whatever_status_says() {
    let (sim, mut raw) = watched().await;
    for (status, rpid) in FOUR {
        let (dialog, presence) = publish(
            &sim,
            &mut raw,
            &presence_in(status, rpid, &with_state("terminated")),
        )
        .await;
        assert_eq!(
            dialog.dialog.map(|d| d.state).as_deref(),
            Some("terminated")
        );
        assert_eq!(pidf(&presence), (None, Some("Available")), "{status}");
    }
}

#[tokio::test]
async fn header_case_event_types_and_channel_state_change_nothing_but_a_missing_direction_is_initiator(
) {
    let (sim, mut raw) = watched().await;
    let confirmed = with_state("confirmed");
    let variants = [
        presence_in("Paused Lunch", "away", &confirmed).replace("alt_event_type: dialog\n", ""),
        presence_in("Paused Lunch", "away", &confirmed)
            .replace("alt_event_type: dialog\n", "")
            .replace("event_type: presence", "event_type: dialog"),
        presence_in("On The Phone", "on-the-phone", &confirmed.to_lowercase())
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| match l.split_once(": ") {
                Some((k, v)) => format!("{}: {v}", k.to_lowercase()),
                None => l.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n\n",
        presence_in(
            "On The Phone",
            "on-the-phone",
            &confirmed.replace("Channel-State: CS_EXECUTE\n", ""),
        ),
    ];
    for command in &variants {
        let (dialog, presence) = publish(&sim, &mut raw, command).await;
        let d = dialog.dialog.expect("a dialog");
        assert_eq!(
            (d.state.as_str(), d.direction.as_str()),
            ("confirmed", "recipient")
        );
        assert_eq!(
            pidf(&presence),
            (Some("on-the-phone"), Some("On The Phone"))
        );
    }
    let (dialog, _) = publish(
        &sim,
        &mut raw,
        &presence_in(
            "On The Phone",
            "on-the-phone",
            &confirmed.replace("Presence-Call-Direction: outbound\n", ""),
        ),
    )
    .await;
    assert_eq!(
        dialog.dialog.map(|d| d.direction).as_deref(),
        Some("initiator")
    );
    let (dialog, presence) = publish(
        &sim,
        &mut raw,
        &presence_in("Paused Lunch", "away", "").replace("alt_event_type: dialog\n", ""),
    )
    .await;
    assert_eq!(dialog.dialog, None);
    assert_eq!(pidf(&presence), (Some("away"), Some("Paused Lunch")));
}

#[tokio::test]
async fn a_confirmed_lamp_with_force_status_shows_the_forced_note() {
    let (sim, mut raw) = watched().await;
    let extra = with_state("confirmed") + "force-status: Paused Lunch\n";
    let (dialog, presence) =
        publish(&sim, &mut raw, &presence_in("Paused Lunch", "away", &extra)).await;
    assert_eq!(dialog.dialog.map(|d| d.state).as_deref(), Some("confirmed"));
    assert_eq!(
        pidf(&presence),
        (Some("on-the-phone"), Some("Paused Lunch"))
    );
}

#[tokio::test]
async fn an_early_lamp_with_force_status_is_on_the_phone_with_the_forced_note() {
    let (sim, mut raw) = watched().await;
    let extra = with_state("early") + "force-status: Ringing\n";
    let (dialog, presence) =
        publish(&sim, &mut raw, &presence_in("Ringing", "active", &extra)).await;
    assert_eq!(dialog.dialog.map(|d| d.state).as_deref(), Some("early"));
    assert_eq!(pidf(&presence), (Some("on-the-phone"), Some("Ringing")));
}

#[tokio::test]
async fn a_terminated_lamp_with_force_status_keeps_the_rpid_as_activity() {
    let (sim, mut raw) = watched().await;
    let extra = with_state("terminated") + "force-status: Wrap-up\n";
    let (dialog, presence) = publish(&sim, &mut raw, &presence_in("Wrap-up", "busy", &extra)).await;
    assert_eq!(
        dialog.dialog.map(|d| d.state).as_deref(),
        Some("terminated")
    );
    assert_eq!(pidf(&presence), (Some("busy"), Some("Wrap-up")));
    assert_eq!(
        sim.lamp(AGENT),
        Some(PhoneLamp {
            dialog_state: Some("terminated".into()),
            activity: Some("busy".into()),
            note: Some("Wrap-up".into())
        })
    );
}

#[tokio::test]
async fn dialog_versions_count_from_zero_per_watcher_and_bodies_match_the_capture() {
    let (sim, mut raw) = watched().await;
    publish(&sim, &mut raw, &presence_in("Available", "unknown", "")).await;
    sim.subscribe_watcher("1003", AGENT, WatchKind::Dialog);
    publish(
        &sim,
        &mut raw,
        &presence_in("Available", "unknown", &with_state("early")),
    )
    .await;
    let versions: Vec<Option<u64>> = sim
        .notifies("1002", AGENT)
        .iter()
        .map(|n| n.version)
        .collect();
    assert_eq!(versions, [Some(0), Some(1)]);
    let late: Vec<Option<u64>> = sim
        .notifies("1003", AGENT)
        .iter()
        .filter(|n| n.kind == WatchKind::Dialog)
        .map(|n| n.version)
        .collect();
    assert_eq!(late, [Some(0)]);
    let first = &sim.notifies("1002", AGENT)[0];
    assert_eq!(
        first.body.as_deref(),
        Some(
            "<?xml version=\"1.0\"?>\n<dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\" \
             version=\"0\" state=\"full\" entity=\"sip:agent+1001@127.0.0.1\">\n</dialog-info>\n"
        )
    );
    assert!(first.subscription_state.starts_with("active;expires="));
    let pidf = sim.notifies("1003", AGENT)[0]
        .body
        .clone()
        .unwrap_or_default();
    assert!(pidf.contains("<basic>open</basic>"));
    assert!(pidf.contains("<dm:note>Available</dm:note>"));
    assert!(!pidf.contains("rpid:activities"));
}

#[tokio::test]
async fn subscribing_sends_no_notify_and_fires_the_captured_presence_probe() {
    let sim = start_sim().await;
    let mut listener = Raw::connect(&sim).await;
    listener.ask("event plain PRESENCE_PROBE\n\n").await;
    sim.subscribe_watcher("1002", AGENT, WatchKind::Dialog);
    sim.subscribe_watcher("1003", "agent+1001@127.0.0.1", WatchKind::Presence);
    assert!(sim.notifies("1002", AGENT).is_empty());
    for kind in ["dialog", "presence"] {
        let frame = listener.frame().await;
        let ev = frame.event_headers();
        let tail: Vec<&str> = ev
            .iter()
            .skip_while(|(k, _)| k != "proto")
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(
            tail,
            [
                "proto",
                "login",
                "sip_profile",
                "from",
                "to",
                "proto-specific-event-name",
                "expires",
                "event_type",
                "alt_event_type",
                "expires",
                "sub-call-id"
            ]
        );
        assert_eq!(get(&ev, "proto"), Some("agent"));
        assert_eq!(get(&ev, "login"), Some("internal"));
        assert_eq!(get(&ev, "proto-specific-event-name"), Some(kind));
        assert_eq!(get(&ev, "expires"), Some("600"));
        assert_eq!(get(&ev, "Event-Calling-File"), Some("sofia_presence.c"));
        assert!(frame.text().contains("\nto: agent%2B1001%40127.0.0.1\n"));
        assert!(get(&ev, "sub-call-id").is_some_and(|c| c.ends_with("@127.0.0.1")));
    }
}

#[tokio::test]
async fn unsubscribing_sends_a_final_noresource_notify_without_body_and_a_probe_with_expires_0() {
    let (sim, mut raw) = watched().await;
    raw.ask("event plain PRESENCE_PROBE\n\n").await;
    publish(&sim, &mut raw, &presence_in("Available", "unknown", "")).await;
    assert!(sim.unsubscribe_watcher("1002", AGENT, WatchKind::Dialog));
    assert!(!sim.unsubscribe_watcher("1002", AGENT, WatchKind::Dialog));
    let last = sim.notifies("1002", AGENT).pop().expect("a final NOTIFY");
    assert_eq!(last.subscription_state, "terminated;reason=noresource");
    assert_eq!(last.body, None);
    let probe = raw.event_named("PRESENCE_PROBE").await;
    let expires: Vec<&str> = probe
        .iter()
        .filter(|(k, _)| k == "expires")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(expires, ["0", "0"]);
    raw.ask(&presence_in("Available", "unknown", "")).await;
    assert_eq!(
        sim.notifies("1002", AGENT).len(),
        2,
        "no NOTIFY after unsubscribe"
    );
    assert_eq!(sim.notifies("1003", AGENT).len(), 2);
}

#[tokio::test]
async fn the_fired_presence_in_starts_with_the_command_and_the_sent_headers() {
    let sim = start_sim().await;
    let mut raw = Raw::connect(&sim).await;
    raw.ask("event plain PRESENCE_IN\n\n").await;
    let reply = raw.ask(&presence_in("Paused Lunch", "away", "")).await;
    let uuid = reply
        .header("Reply-Text")
        .and_then(|t| t.strip_prefix("+OK "))
        .map(str::to_owned)
        .expect("+OK <uuid>");
    let ev = raw.event_whose_last_name_is("PRESENCE_IN").await;
    let names: Vec<&str> = ev.iter().take(13).map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "Command",
            "Event-Name",
            "Proto",
            "From",
            "Login",
            "event_type",
            "alt_event_type",
            "event_count",
            "Status",
            "Rpid",
            "Event-UUID",
            "Event-Name",
            "Core-UUID"
        ]
    );
    assert_eq!(get(&ev, "Command"), Some("sendevent PRESENCE_IN"));
    assert_eq!(get(&ev, "Event-UUID"), Some(uuid.as_str()));
    assert_eq!(get(&ev, "Event-Calling-Function"), Some("parse_command"));
}

#[tokio::test]
async fn an_api_command_with_no_output_answers_err_no_reply() {
    let sim = start_sim().await;
    let mut raw = Raw::connect(&sim).await;
    raw.send("api global_getvar no_such_variable\n\n").await;
    let want: &[u8] = b"Content-Type: api/response\nContent-Length: 14\n\n-ERR no reply\n";
    while raw.buf.len() < want.len() {
        assert!(raw.fill().await);
    }
    assert_eq!(
        String::from_utf8_lossy(&raw.buf[..want.len()]),
        String::from_utf8_lossy(want)
    );
}

#[tokio::test]
async fn a_half_closed_client_still_gets_its_replies_and_the_disconnect_notice() {
    let sim = start_sim().await;
    let mut raw = Raw::connect(&sim).await;
    raw.send("api uuid_exists 00000000-0000-0000-0000-000000000000\n\n")
        .await;
    raw.stream.shutdown().await.expect("half-close");
    assert_eq!(raw.frame().await.text(), "false");
    let notice = raw.frame().await;
    assert_eq!(
        notice.header("Content-Type"),
        Some("text/disconnect-notice")
    );
    assert_eq!(
        notice.text(),
        "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
    );
    assert!(!raw.fill().await, "the switch closes after the notice");
}

#[tokio::test]
async fn unknown_event_names_are_skipped_and_none_known_is_no_keywords_supplied() {
    let sim = start_sim().await;
    let mut raw = Raw::connect(&sim).await;
    let r = raw.ask("event plain NO_SUCH_EVENT\n\n").await;
    assert_eq!(r.header("Reply-Text"), Some("-ERR no keywords supplied"));
    let r = raw
        .ask("event plain NO_SUCH_EVENT channel_park CODEC\n\n")
        .await;
    assert_eq!(
        r.header("Reply-Text"),
        Some("+OK event listener enabled plain")
    );
    let r = raw.ask("event json SWITCH_EVENT_BACKGROUND_JOB\n\n").await;
    assert_eq!(
        r.header("Reply-Text"),
        Some("+OK event listener enabled json")
    );
    sim.place_call(switchboard::sim::CallSpec::new("2001", "5000"));
    let park = raw.frame().await;
    assert_eq!(park.header("Content-Type"), Some("text/event-json"));
    assert!(park.text().contains("\"Event-Name\":\"CHANNEL_PARK\""));
}

#[tokio::test]
async fn unknown_api_bgapi_and_sendevent_names_answer_like_the_switch() {
    let sim = start_sim().await;
    let mut raw = Raw::connect(&sim).await;
    let r = raw.ask("api no_such_command with args\n\n").await;
    assert_eq!(r.text(), "-ERR no_such_command Command not found!\n");
    raw.ask("event plain BACKGROUND_JOB\n\n").await;
    let r = raw.ask("bgapi no_such_command\n\n").await;
    let job = r.header("Job-UUID").map(str::to_owned).expect("Job-UUID");
    let done = raw.frame().await;
    assert!(done.text().contains(&format!("Job-UUID: {job}\n")));
    assert!(done
        .text()
        .ends_with("\n\n-ERR no_such_command Command not found!\n"));
    let r = raw.ask("sendevent NO_SUCH_EVENT\nfoo: bar\n\n").await;
    assert!(r
        .header("Reply-Text")
        .is_some_and(|t| t.starts_with("+OK ") && t.len() == 40));
}

#[tokio::test]
async fn a_loopback_originate_sends_channel_uuid_first_and_parks_the_a_leg() {
    let sim = start_sim().await;
    let mut raw = Raw::connect(&sim).await;
    raw.ask("event plain CHANNEL_UUID CHANNEL_OUTGOING CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_PARK BACKGROUND_JOB\n\n")
        .await;
    let a = "68ecd30c-0df0-454a-9048-c5c8d2a3ecb8";
    raw.ask(&format!(
        "bgapi originate {{origination_uuid={a}}}loopback/9199/default &park()\n\n"
    ))
    .await;
    let mut seen = Vec::new();
    while !seen
        .iter()
        .any(|(n, _): &(String, String)| n == "CHANNEL_PARK")
    {
        let frame = raw.frame().await;
        let ev = frame.event_headers();
        let name = get(&ev, "Event-Name").unwrap_or_default().to_owned();
        let who = get(&ev, "Channel-Name").unwrap_or("job").to_owned();
        if name == "CHANNEL_UUID" {
            assert_eq!(get(&ev, "Unique-ID"), Some(a));
            assert!(get(&ev, "Old-Unique-ID").is_some_and(|o| o != a));
        }
        if name == "BACKGROUND_JOB" {
            assert!(frame.text().ends_with(&format!("\n\n+OK {a}\n")));
        }
        seen.push((name, who));
    }
    let seen: Vec<String> = seen.iter().map(|(n, w)| format!("{n} {w}")).collect();
    assert_eq!(
        seen,
        [
            "CHANNEL_UUID loopback/9199-a",
            "CHANNEL_OUTGOING loopback/9199-a",
            "CHANNEL_CREATE loopback/9199-a",
            "CHANNEL_CREATE loopback/9199-b",
            "CHANNEL_ANSWER loopback/9199-a",
            "CHANNEL_ANSWER loopback/9199-b",
            "BACKGROUND_JOB job",
            "CHANNEL_PARK loopback/9199-a",
        ]
    );
    let b_leg = sim
        .channels()
        .into_iter()
        .find(|c| c.variable("loopback_leg") == Some("B"))
        .expect("the B leg");
    assert_eq!(b_leg.variable("other_loopback_leg_uuid"), Some(a));
    assert_eq!(b_leg.running_app.as_deref(), Some("playback"));
    assert_eq!(
        sim.channel(a)
            .and_then(|c| c.variable("other_loopback_leg_uuid").map(str::to_owned)),
        Some(b_leg.uuid.clone())
    );
}

#[tokio::test]
async fn killing_the_a_leg_of_a_loopback_pair_hangs_up_the_b_leg() {
    let sim = start_sim().await;
    let mut raw = Raw::connect(&sim).await;
    raw.ask("event plain CHANNEL_HANGUP BACKGROUND_JOB\n\n")
        .await;
    let a = "11111111-0df0-454a-9048-c5c8d2a3ecb8";
    raw.ask(&format!(
        "bgapi originate {{origination_uuid={a}}}loopback/9199 &park()\n\n"
    ))
    .await;
    raw.event_named("BACKGROUND_JOB").await;
    assert_eq!(sim.channels().len(), 2);
    let r = raw.ask(&format!("api uuid_kill {a}\n\n")).await;
    assert_eq!(r.text(), "+OK\n");
    let first = raw.event_named("CHANNEL_HANGUP").await;
    assert_eq!(get(&first, "Unique-ID"), Some(a));
    let second = raw.event_named("CHANNEL_HANGUP").await;
    assert_eq!(get(&second, "Channel-Name"), Some("loopback/9199-b"));
    assert_eq!(get(&second, "Hangup-Cause"), Some("NORMAL_CLEARING"));
}

#[tokio::test]
async fn a_loopback_to_an_entry_point_parks_the_b_leg_and_answers_a_when_b_is_answered() {
    let sim = start_sim().await;
    let mut raw = Raw::connect(&sim).await;
    raw.ask("event plain CHANNEL_PARK CHANNEL_ANSWER BACKGROUND_JOB\n\n")
        .await;
    let a = "22222222-0df0-454a-9048-c5c8d2a3ecb8";
    raw.ask(&format!(
        "bgapi originate {{origination_uuid={a},originate_timeout=30}}loopback/5000/public &park()\n\n"
    ))
    .await;
    let park = raw.event_named("CHANNEL_PARK").await;
    assert_eq!(get(&park, "Channel-Name"), Some("loopback/5000-b"));
    assert_eq!(get(&park, "variable_switchboard_queue"), Some("support"));
    assert_eq!(get(&park, "Caller-Context"), Some("public"));
    let b = get(&park, "Unique-ID").map(str::to_owned).expect("B uuid");
    assert_eq!(sim.channel(a).map(|c| c.answered), Some(false));
    let r = raw.ask(&format!("api uuid_answer {b}\n\n")).await;
    assert_eq!(r.text(), "+OK\n");
    let mut answered = Vec::new();
    loop {
        let ev = raw.frame().await.event_headers();
        match get(&ev, "Event-Name") {
            Some("CHANNEL_ANSWER") => {
                answered.push(get(&ev, "Channel-Name").unwrap_or_default().to_owned())
            }
            Some("BACKGROUND_JOB") => break,
            _ => {}
        }
    }
    assert_eq!(answered, ["loopback/5000-b", "loopback/5000-a"]);
    assert_eq!(sim.channel(a).map(|c| c.answered), Some(true));
}

#[tokio::test]
async fn exit_before_auth_says_goodbye_and_closes() {
    let sim = start_sim().await;
    let mut s = TcpStream::connect(sim.esl_addr()).await.expect("connect");
    s.write_all(b"exit\n\n").await.expect("write");
    let mut got = Vec::new();
    let read = tokio::time::timeout(DEADLINE, s.read_to_end(&mut got)).await;
    assert!(read.is_ok(), "the switch closes the connection");
    assert_eq!(
        String::from_utf8_lossy(&got),
        "Content-Type: auth/request\n\nContent-Type: command/reply\nReply-Text: +OK bye\n\n\
         Content-Type: text/disconnect-notice\nContent-Length: 67\n\n\
         Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
    );
}

#[tokio::test]
async fn digits_sent_into_the_b_leg_of_a_loopback_pair_reach_the_a_leg() {
    let sim = start_sim().await;
    let mut raw = Raw::connect(&sim).await;
    raw.ask("event plain DTMF BACKGROUND_JOB\n\n").await;
    let a = "33333333-0df0-454a-9048-c5c8d2a3ecb8";
    raw.ask(&format!(
        "bgapi originate {{origination_uuid={a}}}loopback/9199/default &park()\n\n"
    ))
    .await;
    raw.event_named("BACKGROUND_JOB").await;
    let b = sim
        .channels()
        .into_iter()
        .find(|c| c.variable("loopback_leg") == Some("B"))
        .map(|c| c.uuid)
        .expect("the B leg");
    let r = raw.ask(&format!("api uuid_send_dtmf {b} 12#\n\n")).await;
    assert_eq!(r.text(), format!("+OK {b} sent DTMF 12#.\n"));
    for want in ["1", "2", "#"] {
        let ev = raw.event_named("DTMF").await;
        assert_eq!(get(&ev, "Unique-ID"), Some(a));
        assert_eq!(get(&ev, "DTMF-Digit"), Some(want));
    }
    let r = raw
        .ask("api uuid_send_dtmf 00000000-0000-0000-0000-000000000000 1\n\n")
        .await;
    assert_eq!(r.text(), "-ERR Cannot locate session!\n");
}

#[tokio::test]
async fn a_unique_id_of_a_live_channel_is_fired_by_that_session_and_shows_talk_and_the_caller() {
    let (sim, mut raw) = watched().await;
    let mut listener = Raw::connect(&sim).await;
    listener.ask("event plain PRESENCE_IN\n\n").await;
    let caller = sim.place_call(switchboard::sim::CallSpec::new("1003", "5000"));
    let extra = with_state("confirmed").replace(UID, &caller);
    let (dialog, presence) = publish(
        &sim,
        &mut raw,
        &presence_in("On Call", "on-the-phone", &extra),
    )
    .await;
    let d = dialog.dialog.expect("a dialog");
    assert_eq!(d.state, "confirmed");
    assert_eq!(
        d.remote.as_deref(),
        Some("Caller 1003 <sip:1003@127.0.0.1>")
    );
    assert!(dialog
        .body
        .as_deref()
        .is_some_and(|b| b.contains("<target uri=\"sip:**1001@127.0.0.1\"/>")));
    assert_eq!(pidf(&presence), (Some("on-the-phone"), Some("Talk 5000")));
    let ev = loop {
        let ev = listener.frame().await.event_headers();
        if get(&ev, "Command").is_some() {
            break ev;
        }
    };
    assert_eq!(
        get(&ev, "Event-Name"),
        Some("PRESENCE_IN"),
        "the client's own"
    );
    assert_eq!(ev.iter().filter(|(k, _)| k == "Event-Name").count(), 1);
    assert!(get(&ev, "Core-UUID").is_none() && get(&ev, "Event-Sequence").is_none());
    let after_uuid: Vec<&str> = ev
        .iter()
        .skip_while(|(k, _)| k != "Event-UUID")
        .skip(1)
        .take(2)
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(after_uuid, ["Channel-State", "Channel-Call-State"]);
    assert_eq!(get(&ev, "Caller-Destination-Number"), Some("5000"));
}

// ---- the dialplan before park (Batch 3) --------------------------------------------------

/// Every frame from now until `uuid`'s CHANNEL_PARK (included), read on `raw`.
async fn until_park(raw: &mut Raw, uuid: &str) -> Vec<Frame> {
    let mut frames = Vec::new();
    loop {
        let f = raw.frame().await;
        let park = f.name() == Some("CHANNEL_PARK") && f.ev("Unique-ID") == Some(uuid);
        frames.push(f);
        if park {
            return frames;
        }
    }
}

/// `uuid`'s CHANNEL_EXECUTE/_COMPLETE as `NAME app data response`, and the API events.
fn dialplan_steps(frames: &[Frame], uuid: &str) -> Vec<String> {
    frames
        .iter()
        .filter(|f| f.ev("Unique-ID") == Some(uuid) || f.name() == Some("API"))
        .filter(|f| {
            f.name()
                .is_some_and(|n| n.starts_with("CHANNEL_EXECUTE") || n == "API")
        })
        .map(|f| {
            let data = f.ev("Application-Data").unwrap_or_default();
            let data = match data.split_once("RFC2822_DATE=") {
                Some(_) => "RFC2822_DATE=<date>",
                None => data,
            };
            match f.name() {
                Some("API") => format!("API {}", f.ev("API-Command").unwrap_or_default()),
                name => format!(
                    "{} {} {data} {}",
                    name.unwrap_or_default(),
                    f.ev("Application").unwrap_or_default(),
                    f.ev("Application-Response").unwrap_or_default()
                )
                .trim_end()
                .to_string(),
            }
        })
        .collect()
}

#[tokio::test]
async fn a_caller_from_outside_runs_the_stock_public_context_on_the_external_profile() {
    let sim = start_sim().await;
    let mut raw = Raw::connect(&sim).await;
    raw.ask("event plain ALL\n\n").await;
    let caller = sim.place_call(switchboard::sim::CallSpec::new("2001", "5000"));
    let frames = until_park(&mut raw, &caller).await;
    // bridge-before-and-after-job: the API event of the date's strftime comes in between.
    assert_eq!(
        dialplan_steps(&frames, &caller),
        [
            "CHANNEL_EXECUTE set outside_call=true",
            "CHANNEL_EXECUTE_COMPLETE set outside_call=true _none_",
            "CHANNEL_EXECUTE export RFC2822_DATE=<date>",
            "API strftime",
            "CHANNEL_EXECUTE_COMPLETE export RFC2822_DATE=<date> _none_",
            "CHANNEL_EXECUTE set switchboard_queue=support",
            "CHANNEL_EXECUTE_COMPLETE set switchboard_queue=support _none_",
            "CHANNEL_EXECUTE park",
        ]
    );
    let park = frames.last().expect("the park");
    assert_eq!(park.ev("Caller-Context"), Some("public"));
    assert_eq!(park.ev("Answer-State"), Some("ringing"));
    assert!(park
        .ev("Channel-Name")
        .is_some_and(|n| n.starts_with("sofia/external/2001@127.0.0.1:")));
    assert_eq!(park.ev("Channel-Presence-ID"), None);
    assert_eq!(park.ev("variable_presence_id"), None);
    assert_eq!(park.ev("variable_outside_call"), Some("true"));
    assert_eq!(park.ev("variable_export_vars"), Some("RFC2822_DATE"));
    assert_eq!(park.ev("variable_current_application_data"), None);
    let date = park.ev("variable_RFC2822_DATE").expect("the date");
    assert!(date.ends_with(" +0000") && date.len() == 31, "{date}");
    assert!(
        !frames.iter().any(|f| f.name() == Some("PRESENCE_IN")),
        "no presence_id, no PRESENCE_IN"
    );
    // switchboard-restart: the caller's presence_id column is empty.
    let show = raw.ask("api show channels as json\n\n").await.text();
    assert!(show.contains("\"presence_id\":\"\""), "{show}");
}

#[tokio::test]
async fn a_phone_dialing_runs_the_stock_default_context_on_the_internal_profile() {
    let sim = start_sim().await;
    sim.add_phone(PhoneSpec {
        user: "1001".into(),
        behavior: PhoneBehavior::NoAnswer,
        hangup_after_talk: None,
    });
    let mut raw = Raw::connect(&sim).await;
    raw.ask("event plain ALL\n\n").await;
    let call = sim.place_call(switchboard::sim::CallSpec::new("1001", "5000"));
    let frames = until_park(&mut raw, &call).await;
    let completed: Vec<String> = dialplan_steps(&frames, &call)
        .into_iter()
        .filter(|s| s.starts_with("CHANNEL_EXECUTE_COMPLETE"))
        .collect();
    assert_eq!(
        completed,
        [
            format!("CHANNEL_EXECUTE_COMPLETE hash insert/127.0.0.1-spymap/1001/{call} _none_"),
            "CHANNEL_EXECUTE_COMPLETE hash insert/127.0.0.1-last_dial/1001/5000 _none_".into(),
            format!(
                "CHANNEL_EXECUTE_COMPLETE hash insert/127.0.0.1-last_dial/global/{call} _none_"
            ),
            "CHANNEL_EXECUTE_COMPLETE export RFC2822_DATE=<date> _none_".into(),
            "CHANNEL_EXECUTE_COMPLETE set switchboard_queue=support _none_".into(),
        ]
    );
    let park = frames.last().expect("the park");
    assert_eq!(park.ev("Caller-Context"), Some("default"));
    assert_eq!(park.ev("Caller-Username"), Some("1001"));
    assert_eq!(
        park.ev("Channel-Name"),
        Some("sofia/internal/1001@127.0.0.1")
    );
    assert_eq!(park.ev("Channel-Presence-ID"), Some("1001@127.0.0.1"));
    assert_eq!(park.ev("variable_user_context"), Some("default"));
    assert_eq!(park.ev("variable_outside_call"), None);
}

#[tokio::test]
async fn the_bare_dialplan_of_batches_1_and_2_parks_at_once() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let config = SimConfig {
        entry_points: vec![EntryPoint {
            number: "5000".into(),
            variables: vec![("switchboard_queue".into(), "support".into())],
        }],
        dialplan: Dialplan::Bare,
        ..SimConfig::default()
    };
    let sim = Simulator::start(listener, config).await.expect("start");
    let mut raw = Raw::connect(&sim).await;
    raw.ask("event plain ALL\n\n").await;
    let caller = sim.place_call(switchboard::sim::CallSpec::new("2001", "5000"));
    let frames = until_park(&mut raw, &caller).await;
    assert_eq!(dialplan_steps(&frames, &caller), ["CHANNEL_EXECUTE park"]);
    let park = frames.last().expect("the park");
    assert_eq!(park.ev("Caller-Context"), Some("public"));
    assert_eq!(park.ev("Channel-Presence-ID"), Some("2001@127.0.0.1"));
    assert_eq!(park.ev("variable_switchboard_queue"), Some("support"));
    assert!(frames.iter().any(|f| f.name() == Some("PRESENCE_IN")));
}
