//! The simulator in the two conversations where the moment a command arrives changes what
//! the real switch does: a `uuid_bridge` before or after an originate returns
//! (`bridge-before-and-after-job`), and `sendmsg` executes sent back to back with and without
//! `event-lock` (`sendmsg-event-lock`). A raw ESL client sends the captured commands, so
//! the header names and their case are exactly the ones the capture sent, and the event
//! order per channel is compared with the capture's. Two more things that depend on time: a
//! `uuid_record` stopped before its first audio frame (`switchboard-recording`) and a prompt
//! installed with its own length, played past the 0.4 s other files last.
//!
//! Names left out of the comparisons: API, HEARTBEAT, CODEC, CALL_UPDATE, RE_SCHEDULE
//! (not part of a call, or the SIP/media machinery), PRIVATE_COMMAND (the simulator does
//! not fire it) and PRESENCE_IN (the captures' callers came through the `external`
//! profile, which fires none at a hangup).

use std::time::Duration;

use switchboard::sim::{
    CallSpec, EntryPoint, PhoneBehavior, PhoneSpec, SimConfig, SimHandle, Simulator,
};
use tokio::net::TcpListener;

use crate::capture::{frames_of, timeline, traces_dir, Entry, Frame, Recorder};

const LEFT_OUT: &[&str] = &[
    "API",
    "HEARTBEAT",
    "CODEC",
    "CALL_UPDATE",
    "RE_SCHEDULE",
    "PRIVATE_COMMAND",
    "PRESENCE_IN",
];

/// What is compared of an event: the name, and for applications and playbacks what tells
/// them apart.
fn key(f: &Frame) -> String {
    let mut k = f.name().unwrap_or("").to_string();
    for h in [
        "Application",
        "Application-Data",
        "Application-Response",
        "Playback-Status",
        "Hangup-Cause",
    ] {
        if let Some(v) = f.ev(h) {
            let v = if uuid::Uuid::parse_str(v).is_ok() {
                "<uuid>"
            } else {
                v
            };
            k.push_str(&format!(" {h}={v}"));
        }
    }
    k
}

/// The events of `uuid` from the first one `from` accepts on, as compared keys.
fn channel_keys(frames: &[Frame], uuid: &str, from: impl Fn(&Frame) -> bool) -> Vec<String> {
    frames
        .iter()
        .filter(|f| f.ev("Unique-ID") == Some(uuid))
        .skip_while(|f| !from(f))
        .filter(|f| !f.name().is_some_and(|n| LEFT_OUT.contains(&n)))
        .map(key)
        .collect()
}

/// A raw ESL client subscribed to `event plain <names>`.
async fn raw(sim: &SimHandle, names: &str) -> Recorder {
    Recorder::subscribed(sim.esl_addr(), "plain", names).await
}

async fn start_sim() -> SimHandle {
    start_sim_returning(SimConfig::default().originate_return).await
}

/// A simulator whose originates return `after` their leg answers (a wider window than the
/// captured 20 ms makes a bridge "on the answer" land inside it on a loaded machine too).
async fn start_sim_returning(after: Duration) -> SimHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let config = SimConfig {
        entry_points: vec![EntryPoint {
            number: "5000".into(),
            variables: vec![
                ("switchboard_queue".into(), "support".into()),
                ("hangup_after_bridge".into(), "true".into()),
            ],
        }],
        originate_return: after,
        ..SimConfig::default()
    };
    Simulator::start(listener, config).await.expect("start")
}

/// A parked, answered caller to 5000.
async fn answered_caller(sim: &SimHandle, raw: &mut Recorder, number: &str) -> String {
    let caller = sim.place_call(CallSpec::new(number, "5000"));
    raw.wait_event("CHANNEL_PARK", &caller).await;
    assert_eq!(
        raw.ask(&format!("api uuid_answer {caller}\n\n")).await,
        "+OK\n"
    );
    raw.wait_event("CHANNEL_ANSWER", &caller).await;
    caller
}

// ---- the captures ----------------------------------------------------------------------

struct Capture {
    frames: Vec<Frame>,
    /// (connection, text) of every command sent, in order.
    sent: Vec<(String, String)>,
    notes: Vec<String>,
}

impl Capture {
    fn read(name: &str, conn: &str) -> Capture {
        let dir = traces_dir().expect("the captures");
        let rx = std::fs::read(dir.join(format!("{name}.{conn}.rx"))).expect("capture");
        let (frames, _) = frames_of(&rx);
        let mut sent = Vec::new();
        let mut notes = Vec::new();
        for entry in timeline(&dir, &format!("{name}.timeline.jsonl")) {
            match entry {
                Entry::Tx { conn, data, .. } => sent.push((conn, data)),
                Entry::Note(text) => notes.push(text),
                _ => {}
            }
        }
        Capture {
            frames,
            sent,
            notes,
        }
    }

    /// The uuid a note `"<part>: <what> <uuid>"` names.
    fn noted_uuid(&self, part: &str, what: &str) -> String {
        let prefix = format!("{part}: {what} ");
        self.notes
            .iter()
            .find_map(|n| n.strip_prefix(&prefix))
            .map(|rest| rest.trim().to_string())
            .unwrap_or_else(|| panic!("no note {prefix}"))
    }

    /// The commands sent that name `uuid`.
    fn sent_for(&self, uuid: &str) -> Vec<String> {
        self.sent
            .iter()
            .filter(|(_, t)| t.contains(uuid))
            .map(|(_, t)| t.clone())
            .collect()
    }
}

// ---- uuid_bridge before and after the originate returns --------------------------------

const BRIDGE_CAPTURE: &str = "bridge-before-and-after-job";
/// The window the bridge-before-the-job tests give themselves.
const RACE_WINDOW: Duration = Duration::from_millis(400);

/// The captured originate of `part`, for our leg and call, and the leg's uuid in it.
fn captured_originate(capture: &Capture, part: &str, leg: &str) -> String {
    let captured_leg = capture.noted_uuid(part, "agent leg origination_uuid");
    capture
        .sent_for(&captured_leg)
        .into_iter()
        .find(|t| t.starts_with("bgapi originate"))
        .expect("the captured originate")
        .replace(&captured_leg, leg)
}

struct Bridged {
    caller: String,
    leg: String,
    job: String,
    bridge_reply: String,
    raw: Recorder,
}

/// Caller parked, answered, on hold music; the agent leg originated as Switchboard does;
/// `uuid_break` + `uuid_bridge` sent on the leg's CHANNEL_ANSWER or only after the job.
async fn bridge_conversation(sim: &SimHandle, part: &str, after_job: bool) -> Bridged {
    let capture = Capture::read(BRIDGE_CAPTURE, "c1");
    sim.add_phone(PhoneSpec {
        user: "1001".into(),
        behavior: PhoneBehavior::Answer {
            after: Duration::from_millis(200),
        },
        hangup_after_talk: None,
    });
    let mut raw = raw(sim, "ALL").await;
    let caller = answered_caller(sim, &mut raw, "2015").await;
    let moh = format!(
        "sendmsg {caller}\nCall-Command: execute\nExecute-App-Name: playback\nExecute-App-Arg: local_stream://moh\nEvent-Uuid: {}\n\n",
        uuid::Uuid::new_v4()
    );
    assert_eq!(raw.ask(&moh).await, "+OK");
    let leg = uuid::Uuid::new_v4().to_string();
    let reply = raw.ask(&captured_originate(&capture, part, &leg)).await;
    let job_uuid = reply
        .strip_prefix("+OK Job-UUID: ")
        .expect("a job")
        .to_string();
    raw.wait_event("CHANNEL_ANSWER", &leg).await;
    let job = if after_job {
        raw.job(&job_uuid).await
    } else {
        String::new()
    };
    assert_eq!(
        raw.ask(&format!("api uuid_break {caller} all\n\n")).await,
        "+OK\n"
    );
    let bridge_reply = raw
        .ask(&format!("api uuid_bridge {caller} {leg}\n\n"))
        .await;
    let job = if after_job {
        job
    } else {
        raw.job(&job_uuid).await
    };
    raw.wait_event("CHANNEL_BRIDGE", &caller).await;
    Bridged {
        caller,
        leg,
        job,
        bridge_reply,
        raw,
    }
}

fn names_of(frames: &[Frame], uuid: &str, app: &str) -> Vec<String> {
    frames
        .iter()
        .filter(|f| f.ev("Unique-ID") == Some(uuid))
        .filter(|f| f.ev("Application") == Some(app) || f.name() == Some("CHANNEL_PARK"))
        .filter_map(|f| f.name().map(str::to_string))
        .collect()
}

/// The events of `part`'s leg and caller from the leg's CHANNEL_ANSWER on, in the capture.
fn captured_sequences(part: &str) -> (Vec<String>, Vec<String>) {
    let capture = Capture::read(BRIDGE_CAPTURE, "c1");
    let leg = capture.noted_uuid(part, "agent leg origination_uuid");
    let caller = capture.noted_uuid(part, "caller channel");
    let answer = capture
        .frames
        .iter()
        .position(|f| f.name() == Some("CHANNEL_ANSWER") && f.ev("Unique-ID") == Some(&leg))
        .expect("the leg's answer");
    let after = &capture.frames[answer..];
    (
        channel_keys(after, &leg, |_| true),
        channel_keys(after, &caller, |_| true),
    )
}

fn sim_sequences(frames: &[Frame], leg: &str, caller: &str) -> (Vec<String>, Vec<String>) {
    let answer = frames
        .iter()
        .position(|f| f.name() == Some("CHANNEL_ANSWER") && f.ev("Unique-ID") == Some(leg))
        .expect("the leg's answer");
    let after = &frames[answer..];
    (
        channel_keys(after, leg, |_| true),
        channel_keys(after, caller, |_| true),
    )
}

#[tokio::test]
async fn a_bridge_before_the_originate_returns_cancels_its_job_and_bridges_the_leg_unparked() {
    let sim = start_sim_returning(RACE_WINDOW).await;
    let Bridged {
        caller,
        leg,
        job,
        bridge_reply,
        mut raw,
    } = bridge_conversation(&sim, "PART A5", false).await;
    assert_eq!(bridge_reply, format!("+OK {leg}\n"));
    assert_eq!(job, "-ERR ORIGINATOR_CANCEL\n");
    assert_eq!(raw.ask(&format!("api uuid_exists {leg}\n\n")).await, "true");
    let view = sim.channel(&leg).expect("the leg is up");
    assert_eq!(view.bridged_to.as_deref(), Some(caller.as_str()));
    assert_eq!(
        names_of(&raw.snapshot(), &leg, "park"),
        Vec::<String>::new(),
        "the leg's &park() never ran"
    );

    assert!(sim.hangup(&caller, "NORMAL_CLEARING"));
    raw.wait_event("CHANNEL_DESTROY", &leg).await;
    raw.wait_event("CHANNEL_DESTROY", &caller).await;
    let frames = raw.snapshot();
    for uuid in [&caller, &leg] {
        let hangup = frames
            .iter()
            .find(|f| f.name() == Some("CHANNEL_HANGUP") && f.ev("Unique-ID") == Some(uuid))
            .expect("a hangup");
        assert_eq!(hangup.ev("Hangup-Cause"), Some("NORMAL_CLEARING"));
    }
    let (want_leg, want_caller) = captured_sequences("PART A5");
    let (got_leg, got_caller) = sim_sequences(&frames, &leg, &caller);
    assert_eq!(got_leg, want_leg, "the leg's events (A5)");
    assert_eq!(got_caller, want_caller, "the caller's events (A5)");
}

#[tokio::test]
async fn a_bridge_after_the_originate_returned_finds_the_leg_parked_and_its_job_ok() {
    let sim = start_sim().await;
    let Bridged {
        caller,
        leg,
        job,
        bridge_reply,
        mut raw,
    } = bridge_conversation(&sim, "PART B", true).await;
    assert_eq!(bridge_reply, format!("+OK {leg}\n"));
    assert_eq!(job, format!("+OK {leg}\n"));
    assert_eq!(
        names_of(&raw.snapshot(), &leg, "park"),
        [
            "CHANNEL_EXECUTE",
            "CHANNEL_PARK",
            "CHANNEL_EXECUTE_COMPLETE"
        ]
    );

    assert!(sim.hangup(&caller, "NORMAL_CLEARING"));
    raw.wait_event("CHANNEL_DESTROY", &leg).await;
    raw.wait_event("CHANNEL_DESTROY", &caller).await;
    // Whether CS_CONSUME_MEDIA comes before the leg's CS_EXCHANGE_MEDIA varies between the
    // capture's parts (A4 has it, B not): states are left out here.
    let no_states = |keys: Vec<String>| -> Vec<String> {
        keys.into_iter()
            .filter(|k| !k.starts_with("CHANNEL_STATE"))
            .collect()
    };
    let (want_leg, want_caller) = captured_sequences("PART B");
    let (got_leg, got_caller) = sim_sequences(&raw.snapshot(), &leg, &caller);
    let (want_leg, got_leg) = (no_states(want_leg), no_states(got_leg));
    assert_eq!(got_leg, want_leg, "the leg's events (B)");
    assert_eq!(got_caller, want_caller, "the caller's events (B)");
}

#[tokio::test]
async fn a_blocking_api_originate_answers_once_the_originate_returns() {
    let sim = start_sim_returning(RACE_WINDOW).await;
    sim.add_phone(PhoneSpec {
        user: "1001".into(),
        behavior: PhoneBehavior::Answer {
            after: Duration::from_millis(50),
        },
        hangup_after_talk: None,
    });
    let mut watcher = raw(&sim, "ALL").await;
    let mut blocked = raw(&sim, "BACKGROUND_JOB").await;
    let caller = answered_caller(&sim, &mut watcher, "2016").await;
    let leg = uuid::Uuid::new_v4().to_string();
    let originate = format!(
        "api originate {{origination_uuid={leg},originate_timeout=10}}user/1001 &park()\n\n"
    );
    let before = blocked.snapshot().iter().filter(|f| f.is_reply()).count();
    blocked.write(&originate).await;
    watcher.wait_event("CHANNEL_ANSWER", &leg).await;
    assert_eq!(
        watcher
            .ask(&format!("api uuid_bridge {caller} {leg}\n\n"))
            .await,
        format!("+OK {leg}\n")
    );
    blocked
        .wait(|fs| fs.iter().filter(|f| f.is_reply()).count() > before)
        .await;
    let reply = blocked
        .snapshot()
        .iter()
        .filter(|f| f.is_reply())
        .nth(before)
        .map(Frame::reply_text);
    assert_eq!(reply.as_deref(), Some("-ERR ORIGINATOR_CANCEL\n"));
    watcher.wait_event("CHANNEL_BRIDGE", &caller).await;
    assert_eq!(
        names_of(&watcher.snapshot(), &leg, "park"),
        Vec::<String>::new()
    );
}

// ---- sendmsg with and without event-lock --------------------------------------------

const SENDMSG_CAPTURE: &str = "sendmsg-event-lock";

/// Replays `part`'s three sendmsgs on a fresh answered caller and compares that caller's
/// events, from the first application on, with the captured caller's.
async fn sendmsg_part(part: &str, caller_number: &str) {
    let capture = Capture::read(SENDMSG_CAPTURE, "c1");
    let captured = capture.noted_uuid(part, &format!("caller {caller_number} channel"));
    let sendmsgs: Vec<String> = capture
        .sent_for(&captured)
        .into_iter()
        .filter(|t| t.starts_with("sendmsg"))
        .collect();
    assert_eq!(sendmsgs.len(), 3, "{part}: three sendmsgs captured");
    let first_app = sendmsgs[0]
        .lines()
        .find_map(|l| l.strip_prefix("Event-Uuid: "))
        .expect("an Event-Uuid")
        .to_string();
    let from_first = |f: &Frame| f.ev("Application-UUID") == Some(first_app.as_str());
    let want = channel_keys(&capture.frames, &captured, from_first);

    let sim = start_sim().await;
    let mut raw = raw(&sim, "ALL").await;
    let caller = answered_caller(&sim, &mut raw, caller_number).await;
    for m in &sendmsgs {
        assert_eq!(raw.ask(&m.replace(&captured, &caller)).await, "+OK");
    }
    raw.wait_event("CHANNEL_DESTROY", &caller).await;
    let got = channel_keys(&raw.snapshot(), &caller, from_first);
    assert_eq!(got, want, "{part}: the caller's events");
}

#[tokio::test]
async fn sendmsg_without_event_lock_nests_and_a_nested_hangup_ends_every_playback_as_played() {
    sendmsg_part("PART A", "2101").await;
}

#[tokio::test]
async fn sendmsg_with_event_lock_waits_for_the_running_application() {
    sendmsg_part("PART B", "2111").await;
}

#[tokio::test]
async fn sendmsg_event_lock_header_is_read_in_any_case() {
    sendmsg_part("PART C", "2121").await;
}

#[tokio::test]
async fn sendmsg_needs_the_lock_only_on_what_others_queue_behind() {
    sendmsg_part("PART D", "2131").await;
}

#[tokio::test]
async fn sendmsg_loops_repeat_an_application_that_holds_the_lock() {
    sendmsg_part("PART E", "2141").await;
}

#[tokio::test]
async fn sendmsg_loops_without_the_lock_end_with_the_nested_hangup() {
    sendmsg_part("PART F", "2151").await;
}

#[tokio::test]
async fn uuid_break_all_drops_the_messages_waiting_behind_the_lock() {
    let sim = start_sim().await;
    let mut raw = raw(&sim, "ALL").await;
    let caller = answered_caller(&sim, &mut raw, "2161").await;
    let (first, second) = (
        uuid::Uuid::new_v4().to_string(),
        uuid::Uuid::new_v4().to_string(),
    );
    for (app_uuid, tone) in [(&first, "880"), (&second, "1320")] {
        let m = format!(
            "sendmsg {caller}\nCall-Command: execute\nExecute-App-Name: playback\nExecute-App-Arg: tone_stream://%(5000,0,{tone})\nEvent-Uuid: {app_uuid}\nevent-lock: true\n\n"
        );
        assert_eq!(raw.ask(&m).await, "+OK");
    }
    raw.wait_event("PLAYBACK_START", &caller).await;
    assert_eq!(
        raw.ask(&format!("api uuid_break {caller} all\n\n")).await,
        "+OK\n"
    );
    let first_done = |f: &Frame| {
        f.name() == Some("CHANNEL_EXECUTE_COMPLETE")
            && f.ev("Application-UUID") == Some(first.as_str())
    };
    raw.wait(|fs| fs.iter().any(first_done)).await;
    let done = raw
        .snapshot()
        .into_iter()
        .find(first_done)
        .expect("the first playback completed");
    assert_eq!(done.ev("Application-Response"), Some("FILE PLAYED"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !raw.snapshot()
            .iter()
            .any(|f| f.ev("Application-UUID") == Some(second.as_str())),
        "the waiting playback never starts"
    );
    assert_eq!(sim.channel(&caller).and_then(|c| c.running_app), None);
}

#[tokio::test]
async fn uuid_break_without_all_lets_the_waiting_message_start() {
    let sim = start_sim().await;
    let mut raw = raw(&sim, "ALL").await;
    let caller = answered_caller(&sim, &mut raw, "2162").await;
    let (first, second) = (
        uuid::Uuid::new_v4().to_string(),
        uuid::Uuid::new_v4().to_string(),
    );
    for (app_uuid, tone) in [(&first, "880"), (&second, "1320")] {
        let m = format!(
            "sendmsg {caller}\nCall-Command: execute\nExecute-App-Name: playback\nExecute-App-Arg: tone_stream://%(5000,0,{tone})\nEvent-Uuid: {app_uuid}\nevent-lock: true\n\n"
        );
        assert_eq!(raw.ask(&m).await, "+OK");
    }
    raw.wait_event("PLAYBACK_START", &caller).await;
    assert_eq!(
        raw.ask(&format!("api uuid_break {caller}\n\n")).await,
        "+OK\n"
    );
    raw.wait(|fs| {
        fs.iter().any(|f| {
            f.name() == Some("CHANNEL_EXECUTE") && f.ev("Application-UUID") == Some(second.as_str())
        })
    })
    .await;
    assert_eq!(
        sim.channel(&caller).and_then(|c| c.running_app).as_deref(),
        Some("playback")
    );
}

#[tokio::test]
async fn a_feature_code_confirmation_runs_nested_and_its_hangup_cuts_the_tone_as_played() {
    let sim = start_sim().await;
    let mut raw = raw(&sim, "ALL").await;
    let caller = answered_caller(&sim, &mut raw, "1001").await;
    let apps = [
        ("playback", "tone_stream://%(200,100,880);%(400,0,1320)"),
        ("playback", "ivr/no-such-ivr-you_are_now_logged_in.wav"),
        ("hangup", "NORMAL_CLEARING"),
    ];
    for (app, arg) in apps {
        let m = format!(
            "sendmsg {caller}\nCall-Command: execute\nExecute-App-Name: {app}\nExecute-App-Arg: {arg}\nEvent-Uuid: {}\n\n",
            uuid::Uuid::new_v4()
        );
        assert_eq!(raw.ask(&m).await, "+OK");
    }
    raw.wait_event("CHANNEL_DESTROY", &caller).await;
    // After the park (before it: the dialplan's `set`s and `export`).
    let completions: Vec<String> = raw
        .snapshot()
        .iter()
        .filter(|f| f.ev("Unique-ID") == Some(caller.as_str()))
        .skip_while(|f| f.name() != Some("CHANNEL_PARK"))
        .filter(|f| {
            matches!(
                f.name(),
                Some("CHANNEL_EXECUTE_COMPLETE") | Some("CHANNEL_HANGUP")
            )
        })
        .map(key)
        .collect();
    // switchboard-feature-codes: the prompt, the hangup, the tone, then park.
    assert_eq!(
        completions,
        [
            "CHANNEL_EXECUTE_COMPLETE Application=playback Application-Data=ivr/no-such-ivr-you_are_now_logged_in.wav Application-Response=FILE NOT FOUND",
            "CHANNEL_HANGUP Hangup-Cause=NORMAL_CLEARING",
            "CHANNEL_EXECUTE_COMPLETE Application=hangup Application-Data=NORMAL_CLEARING Application-Response=_none_ Hangup-Cause=NORMAL_CLEARING",
            "CHANNEL_EXECUTE_COMPLETE Application=playback Application-Data=tone_stream://%(200,100,880);%(400,0,1320) Application-Response=FILE PLAYED Hangup-Cause=NORMAL_CLEARING",
            "CHANNEL_EXECUTE_COMPLETE Application=park Application-Response=FILE PLAYED Hangup-Cause=NORMAL_CLEARING",
        ]
    );
}

// ---- a recording's first audio frame, a prompt's length ------------------------------

/// `uuid_record start`, then `stop` after `after`: the RECORD_STOP.
async fn record_for(raw: &mut Recorder, caller: &str, path: &str, after: Duration) -> Frame {
    let start = format!("api uuid_record {caller} start {path}\n\n");
    assert_eq!(raw.ask(&start).await, "+OK Success\n");
    tokio::time::sleep(after).await;
    let stop = format!("api uuid_record {caller} stop {path}\n\n");
    assert_eq!(raw.ask(&stop).await, "+OK Success\n");
    let stopped =
        |f: &Frame| f.name() == Some("RECORD_STOP") && f.ev("Record-File-Path") == Some(path);
    raw.wait(|fs| fs.iter().any(stopped)).await;
    raw.snapshot()
        .into_iter()
        .find(stopped)
        .expect("RECORD_STOP")
}

#[tokio::test]
async fn a_recording_stopped_before_its_first_audio_frame_is_discarded_as_an_empty_file() {
    let sim = start_sim().await;
    let disk = tempfile::tempdir().expect("tempdir");
    sim.set_disk_root(Some(disk.path().to_path_buf()));
    let mut raw = raw(&sim, "ALL").await;
    let caller = answered_caller(&sim, &mut raw, "2801").await;
    // switchboard-recording: stopped 17-20 ms after the start.
    let empty = "/recordings/empty.wav";
    let stop = record_for(&mut raw, &caller, empty, Duration::ZERO).await;
    for (header, value) in [
        ("Record-Completion-Cause", "empty-file"),
        ("variable_RECORD_DISCARDED", "true"),
        ("variable_record_samples", "0"),
        ("variable_record_ms", "0"),
        ("variable_record_seconds", "0"),
        ("variable_record_file_size", "44"),
        ("variable_record_completion_cause", "empty-file"),
    ] {
        assert_eq!(stop.ev(header), Some(value), "{header}");
    }
    let file = sim.disk_file(empty).expect("a path under the disk root");
    assert!(!file.exists(), "the empty file is discarded");

    // One that outlives its first frame is kept (as in originate-bridge-record).
    let kept = "/recordings/kept.wav";
    let stop = record_for(&mut raw, &caller, kept, Duration::from_millis(100)).await;
    assert_eq!(stop.ev("Record-Completion-Cause"), Some("success-maxtime"));
    assert!(stop
        .ev("variable_record_ms")
        .and_then(|ms| ms.parse::<u64>().ok())
        .is_some_and(|ms| ms >= 100));
    assert!(sim.disk_file(kept).is_some_and(|f| f.exists()));
}

#[tokio::test]
async fn an_installed_prompt_plays_for_its_own_length() {
    let sim = start_sim().await;
    let prompt = "/tmp/switchboard-prompts/menu-prompt.wav";
    sim.install_sound_file_lasting(prompt, Duration::from_millis(900));
    let mut raw = raw(&sim, "ALL").await;
    let caller = answered_caller(&sim, &mut raw, "2602").await;
    let app = uuid::Uuid::new_v4().to_string();
    let play = format!(
        "sendmsg {caller}\nCall-Command: execute\nExecute-App-Name: playback\nExecute-App-Arg: {prompt}\nEvent-Uuid: {app}\n\n"
    );
    let started = tokio::time::Instant::now();
    assert_eq!(raw.ask(&play).await, "+OK");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        sim.channel(&caller).and_then(|c| c.running_app).as_deref(),
        Some("playback"),
        "still playing after 0.5 s (other files play 0.4 s)"
    );
    let completed = |f: &Frame| {
        f.name() == Some("CHANNEL_EXECUTE_COMPLETE") && f.ev("Application-UUID") == Some(&app)
    };
    raw.wait(|fs| fs.iter().any(completed)).await;
    assert!(started.elapsed() >= Duration::from_millis(900));
    let done = raw.snapshot().into_iter().find(completed).expect("done");
    assert_eq!(done.ev("Application-Response"), Some("FILE PLAYED"));
}
