//! Fidelity of the simulator against the real FreeSWITCH captures in
//! `../shared/esl-traces`: (a) every capture decodes cleanly with the ESL client crate,
//! (b) the simulator replays the captured scenarios with the same per-channel event
//! sequences and key headers, (c) the auth/exit exchanges are byte-identical.
//!
//! Events compared per channel: everything the simulator models. Excluded names (the
//! simulator does not model the media/SIP machinery behind them):
//! CODEC (codec negotiation), CALL_UPDATE (SIP caller-id updates), MEDIA_BUG_START/STOP
//! other than `uuid_record`'s (`session_record`), RE_SCHEDULE (scheduler), MODULE_UNLOAD (module
//! teardown), API (no Unique-ID, and its delivery order is irregular on the real switch),
//! HEARTBEAT (timer-driven, not part of a call), PRIVATE_COMMAND (the switch's internal
//! notice that a queued sendmsg was taken; irregular: present in `dtmf-collect` and
//! `say-and-missing-file`, absent in `dtmf-rfc2833`).
//!
//! Multi-part captures are compared one part at a time (`Scenario::part`, by `.rx`
//! offset). Application-UUIDs are compared only where we chose them (sendmsg
//! `Event-UUID`); the dialplan's own are random.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use freeswitch_esl_tokio::{EslClient, EslConnectOptions, EventOverflow};
use switchboard::sim::{
    wire, CallSpec, Dialplan, PhoneBehavior, PhoneSpec, SimConfig, SimHandle, Simulator, SoundFiles,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::capture::{
    frames_at, frames_of, our_app_uuids, sequences, timeline, traces_dir, url_decode, Entry, Frame,
    Keys, Recorder, UuidMap, EXCLUDED,
};

// ---- (a) every capture decodes with the client crate -------------------------------

#[tokio::test]
async fn every_capture_decodes_cleanly_with_the_esl_client() {
    let Some(dir) = traces_dir() else { return };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read traces dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rx"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .rx files in {}", dir.display());
    for path in files {
        let bytes = std::fs::read(&path).expect("read capture");
        let (frames, leftover) = frames_of(&bytes);
        assert_eq!(leftover, 0, "{}: trailing partial frame", path.display());
        let expected = frames
            .iter()
            .filter(|f| {
                f.header("Content-Type")
                    .is_some_and(|c| c.starts_with("text/event-"))
            })
            .count();
        // The client is adopted after the handshake: skip the auth/request greeting.
        let skip = if frames
            .first()
            .and_then(|f| f.header("Content-Type"))
            .is_some_and(|c| c == "auth/request")
        {
            "Content-Type: auth/request\n\n".len()
        } else {
            0
        };
        let payload = bytes[skip..].to_vec();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            if let Ok((mut s, _)) = listener.accept().await {
                let _ = s.write_all(&payload).await;
                let _ = s.shutdown().await;
                // Keep the socket until the client is done reading.
                let mut sink = [0u8; 64];
                let _ = tokio::time::timeout(Duration::from_secs(10), s.read(&mut sink)).await;
            }
        });
        let stream = TcpStream::connect(addr).await.expect("connect");
        let options = EslConnectOptions::new()
            .with_event_queue_size(100_000)
            .with_event_overflow(EventOverflow::BlockFor(Duration::from_secs(10)));
        let (client, mut events) =
            EslClient::adopt_stream_with_options(stream, &[], options).expect("adopt");
        let mut decoded = 0usize;
        let mut errors = Vec::new();
        loop {
            match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
                Ok(Some(Ok(_))) => decoded += 1,
                Ok(Some(Err(e))) => errors.push(e.to_string()),
                Ok(None) => break,
                Err(_) => panic!("{}: timed out reading events", path.display()),
            }
        }
        drop(client);
        server.abort();
        assert!(
            errors.is_empty(),
            "{}: decode errors {errors:?}",
            path.display()
        );
        assert_eq!(
            decoded,
            expected,
            "{}: events decoded by the client vs event frames",
            path.display()
        );
    }
}

#[tokio::test]
async fn url_encoding_of_every_plain_value_matches_the_captures() {
    let Some(dir) = traces_dir() else { return };
    for name in [
        "inbound-park.plain.c1.rx",
        "originate-bridge-record.plain.c1.rx",
    ] {
        let bytes = std::fs::read(dir.join(name)).expect("read");
        let (frames, _) = frames_of(&bytes);
        for f in frames.iter().filter(|f| f.event.is_some()) {
            let text = String::from_utf8_lossy(&f.body);
            let head = text.split("\n\n").next().unwrap_or("");
            for line in head.split('\n') {
                if let Some((k, raw)) = line.split_once(": ") {
                    assert_eq!(wire::url_encode(&url_decode(raw)), raw, "{name}: {k}");
                }
            }
        }
    }
}

// ---- (c) byte-level handshake -----------------------------------------------------

async fn raw_exchange(addr: std::net::SocketAddr, sends: &[&str]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    // Greeting first, then one command at a time, each after the previous answer.
    let mut want_frames = 1;
    for (i, cmd) in std::iter::once(&"").chain(sends.iter()).enumerate() {
        if i > 0 {
            s.write_all(cmd.as_bytes()).await.expect("write");
            want_frames += 1;
        }
        while frames_of(&got).0.len() < want_frames {
            match tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return got,
                Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
                Err(_) => panic!("timed out waiting for a reply to {cmd:?}"),
            }
        }
    }
    // Read to EOF (or a short quiet period for connections that stay open).
    loop {
        match tokio::time::timeout(Duration::from_millis(300), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
    got
}

/// The Batch 1-2 rig: a bare `park` extension, callers on `internal` in `public`.
async fn start_default() -> SimHandle {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let config = SimConfig {
        dialplan: Dialplan::Bare,
        ..SimConfig::default()
    };
    Simulator::start(l, config).await.expect("start sim")
}

#[tokio::test]
async fn auth_exit_and_errors_are_byte_identical_to_connect_auth_captures() {
    let Some(dir) = traces_dir() else { return };
    let sim = start_default().await;
    let addr = sim.esl_addr();
    let c1 = raw_exchange(addr, &["auth ClueCon\n\n", "exit\n\n"]).await;
    assert_eq!(
        c1,
        std::fs::read(dir.join("connect-auth.c1.rx")).expect("c1")
    );
    let c2 = raw_exchange(addr, &["auth WrongPassword\n\n"]).await;
    assert_eq!(
        c2,
        std::fs::read(dir.join("connect-auth.c2.rx")).expect("c2")
    );
    let c3 = raw_exchange(addr, &["api status\n\n", "auth ClueCon\n\n"]).await;
    assert_eq!(
        c3,
        std::fs::read(dir.join("connect-auth.c3.rx")).expect("c3")
    );
}

// ---- (b) scenario replay ----------------------------------------------------------

enum Step {
    Phone(&'static str, PhoneBehavior),
    /// Place the next caller (number, destination).
    Call(&'static str, &'static str),
    /// Wait for an event on the n-th caller / on the (first) outbound leg / on a leg
    /// whose uuid the capture's commands chose.
    WaitCaller(usize, &'static str),
    WaitAgent(&'static str),
    WaitLeg(&'static str, &'static str),
    /// Wait until the n-th caller has had this many events of this name.
    WaitCount(usize, &'static str, usize),
    /// Send the next captured command (auth/event skipped).
    Tx,
    /// Like `Tx`, and the reply must equal the captured one (uuids mapped).
    TxSameReply,
    /// Drop the next captured command (the simulator plays its part another way).
    Skip,
    /// `api uuid_answer` for the n-th caller (a command the capture did not need).
    Answer(usize),
    /// The n-th caller presses keys.
    Dtmf(usize, &'static str),
    /// The switch has no sound files; then one is installed.
    NoSounds,
    Install(&'static str),
    HangupCaller(usize, &'static str),
    HangupAgent(&'static str),
    /// Let time pass: a `uuid_record` stopped before its first 20 ms audio frame leaves an
    /// empty file (`switchboard-recording`); the captures' recordings ran 2 s.
    Sleep(Duration),
    WaitIdle,
}

/// A captured command and how many bytes of the capture preceded it.
struct Captured {
    rx_offset: usize,
    data: String,
}

/// The c1 commands of a capture part, auth and subscription aside.
fn captured_commands(
    dir: &std::path::Path,
    timeline_file: &str,
    part: (usize, usize),
) -> Vec<Captured> {
    timeline(dir, timeline_file)
        .into_iter()
        .filter_map(|e| match e {
            Entry::Tx {
                conn,
                rx_offset,
                data,
            } if conn == "c1" => Some(Captured { rx_offset, data }),
            _ => None,
        })
        .filter(|c| c.rx_offset >= part.0 && c.rx_offset < part.1)
        .filter(|c| !c.data.starts_with("auth ") && !c.data.starts_with("event "))
        .collect()
}

/// Channel uuids of a frame list in order of first appearance, split by direction.
fn channels_in_order(frames: &[Frame]) -> (Vec<String>, Vec<String>) {
    let (mut inb, mut outb) = (Vec::new(), Vec::new());
    for f in frames {
        if let (Some(u), Some(d)) = (f.ev("Unique-ID"), f.ev("Call-Direction")) {
            let list = if d == "inbound" { &mut inb } else { &mut outb };
            if !list.iter().any(|x: &String| x == u) {
                list.push(u.to_string());
            }
        }
    }
    (inb, outb)
}

/// Keeps, per channel, only the events from the start of `app` to its completion.
fn clip_to_app(seqs: HashMap<String, Vec<String>>, app: &str) -> HashMap<String, Vec<String>> {
    let tag = format!(" Application={app}");
    seqs.into_iter()
        .filter_map(|(k, v)| {
            let start = v
                .iter()
                .position(|e| e.starts_with("CHANNEL_EXECUTE ") && e.contains(&tag))?;
            let end = v
                .iter()
                .skip(start)
                .position(|e| e.starts_with("CHANNEL_EXECUTE_COMPLETE ") && e.contains(&tag))
                .map(|p| p + start + 1)
                .unwrap_or(v.len());
            Some((k, v[start..end].to_vec()))
        })
        .collect()
}

/// A capture (or one part of it) and how to replay it.
struct Scenario {
    name: &'static str,
    format: &'static str,
    /// `.rx` offsets of the part compared: frames and commands in `[from, to)`.
    part: (usize, usize),
    /// Captured channels played by our n-th caller (when direction order does not say).
    alias: &'static [(&'static str, usize)],
    /// Headers compared besides the common ones.
    extra_keys: &'static [&'static str],
    /// Compare only the events of this application (start to completion).
    only_app: Option<&'static str>,
}

impl Scenario {
    fn new(name: &'static str, format: &'static str) -> Scenario {
        Scenario {
            name,
            format,
            part: (0, usize::MAX),
            alias: &[],
            extra_keys: &[],
            only_app: None,
        }
    }
}

async fn replay(scenario: Scenario, steps: &[Step]) {
    let Some(dir) = traces_dir() else { return };
    let (name, format) = (scenario.name, scenario.format);
    let capture = std::fs::read(dir.join(format!("{name}.{format}.c1.rx"))).expect("capture");
    let all_frames = frames_at(&capture);
    let (lo, hi) = scenario.part;
    let cap_frames: Vec<Frame> = all_frames
        .iter()
        .filter(|(off, _)| *off >= lo && *off < hi)
        .map(|(_, f)| f.clone())
        .collect();
    let cmds = captured_commands(
        &dir,
        &format!("{name}.{format}.timeline.jsonl"),
        scenario.part,
    );
    let app_uuids = our_app_uuids(cmds.iter().map(|c| c.data.as_str()));
    let mut cmds = cmds.into_iter();
    let (cap_in, _) = channels_in_order(&cap_frames);
    // Which captured channel each of our callers plays.
    let n_callers = steps.iter().filter(|s| matches!(s, Step::Call(..))).count();
    let mut plays: Vec<Option<String>> = vec![None; n_callers];
    for (cap, i) in scenario.alias {
        plays[*i] = Some(cap.to_string());
    }
    let mut auto = cap_in
        .iter()
        .filter(|u| !scenario.alias.iter().any(|(a, _)| a == u));
    for slot in plays.iter_mut().filter(|p| p.is_none()) {
        *slot = auto.next().cloned();
    }

    let sim = start_default().await;
    let mut rec = Recorder::connect(sim.esl_addr(), format).await;
    let mut callers: Vec<String> = Vec::new();
    let mut job_replies: Vec<String> = Vec::new();
    let agent = |sim: &SimHandle| {
        sim.channels()
            .into_iter()
            .find(|c| c.is_outbound_leg)
            .map(|c| c.uuid)
    };
    let mut agent_uuid = String::new();
    // The captured caller uuids as ours; agent uuids are reused verbatim.
    let mut map = UuidMap::default();
    for step in steps {
        match step {
            Step::Phone(user, b) => sim.add_phone(PhoneSpec {
                user: user.to_string(),
                behavior: b.clone(),
                hangup_after_talk: None,
            }),
            Step::Call(num, dest) => {
                let mut spec = CallSpec::new(*num, *dest);
                spec.caller_name = format!("Caller {num}");
                let ours = sim.place_call(spec);
                if let Some(Some(cap)) = plays.get(callers.len()) {
                    map.insert(cap, &ours);
                }
                callers.push(ours);
            }
            Step::WaitCaller(i, ev) => rec.wait_event(ev, &callers[*i]).await,
            Step::WaitAgent(ev) => {
                if agent_uuid.is_empty() {
                    agent_uuid = agent(&sim).expect("an agent leg");
                }
                rec.wait_event(ev, &agent_uuid).await;
            }
            Step::WaitLeg(uuid, ev) => rec.wait_event(ev, uuid).await,
            Step::WaitCount(i, ev, n) => {
                let u = callers[*i].clone();
                rec.wait(|fs| {
                    fs.iter()
                        .filter(|f| {
                            f.ev("Event-Name") == Some(*ev) && f.ev("Unique-ID") == Some(u.as_str())
                        })
                        .count()
                        >= *n
                })
                .await;
            }
            Step::Tx | Step::TxSameReply => {
                let cap = cmds.next().expect("another captured command");
                let mut c = map.apply(&cap.data);
                // Keep the no-answer wait short; timing is not what is compared.
                c = c.replace("originate_timeout=5}", "originate_timeout=1}");
                let reply = rec.send(&c).await;
                if let Some(j) = reply.header("Job-UUID") {
                    job_replies.push(j.to_string());
                }
                if matches!(step, Step::TxSameReply) {
                    let real = all_frames
                        .iter()
                        .filter(|(off, _)| *off >= cap.rx_offset)
                        .map(|(_, f)| f)
                        .find(|f| f.is_reply())
                        .expect("captured reply");
                    assert_eq!(
                        reply.reply_text(),
                        map.apply(&real.reply_text()),
                        "{name}.{format}: reply to {c:?}"
                    );
                }
            }
            Step::Skip => {
                cmds.next().expect("a captured command to skip");
            }
            Step::Answer(i) => {
                rec.send(&format!("api uuid_answer {}\n\n", callers[*i]))
                    .await;
            }
            Step::Dtmf(i, keys) => assert!(sim.send_dtmf(&callers[*i], keys)),
            Step::NoSounds => sim.set_sound_files(SoundFiles::Only(Vec::new())),
            Step::Install(path) => sim.install_sound_file(path),
            Step::HangupCaller(i, cause) => {
                assert!(sim.hangup(&callers[*i], cause));
            }
            Step::HangupAgent(cause) => {
                let a = agent(&sim).expect("an agent leg");
                assert!(sim.hangup(&a, cause));
            }
            Step::Sleep(d) => tokio::time::sleep(*d).await,
            Step::WaitIdle => {
                assert!(
                    sim.wait_until(Duration::from_secs(10), |s| s.channels().is_empty())
                        .await,
                    "channels left"
                );
            }
        }
    }
    let keys = Keys {
        app_uuids: &app_uuids,
        extra: scenario.extra_keys,
        unowned: None,
    };
    let mut expected = sequences(&cap_frames, &map, &keys);
    if let Some(app) = scenario.only_app {
        expected = clip_to_app(expected, app);
    }
    assert!(
        !expected.is_empty(),
        "{name}.{format}: nothing to compare in this part of the capture"
    );
    // Wait until every compared channel's CS_DESTROY arrived.
    for u in expected.keys() {
        rec.wait(|fs| {
            fs.iter().any(|f| {
                f.ev("Unique-ID") == Some(u.as_str()) && f.ev("Channel-State") == Some("CS_DESTROY")
            })
        })
        .await;
    }
    let sim_frames = rec.snapshot();
    let mut actual = sequences(&sim_frames, &UuidMap::default(), &keys);
    if let Some(app) = scenario.only_app {
        actual = clip_to_app(actual, app);
    }
    let mut names: Vec<&String> = expected.keys().collect();
    names.sort();
    for k in names {
        let exp = &expected[k];
        let act = actual.get(k).cloned().unwrap_or_default();
        assert!(
            &act == exp,
            "{name}.{format}: event sequence of channel {k} differs\n sim: {act:#?}\n real: {exp:#?}"
        );
    }
    assert_eq!(
        actual.len(),
        expected.len(),
        "{name}.{format}: channel count differs"
    );
    // Job-UUID linkage: every BACKGROUND_JOB carries the Job-UUID of a bgapi reply.
    for f in sim_frames
        .iter()
        .filter(|f| f.ev("Event-Name") == Some("BACKGROUND_JOB"))
    {
        let j = f.ev("Job-UUID").unwrap_or("");
        assert!(job_replies.iter().any(|r| r == j), "unknown Job-UUID {j}");
    }
}

fn answer_after(ms: u64) -> PhoneBehavior {
    PhoneBehavior::Answer {
        after: Duration::from_millis(ms),
    }
}

async fn inbound_park(format: &'static str) {
    replay(
        Scenario::new("inbound-park", format),
        &[
            Step::Call("1001", "5000"),
            Step::WaitCaller(0, "CHANNEL_PARK"),
            Step::Tx, // uuid_answer
            Step::WaitCaller(0, "CHANNEL_ANSWER"),
            Step::Tx, // sendmsg playback tone_stream
            Step::WaitCaller(0, "PLAYBACK_STOP"),
            Step::HangupCaller(0, "NORMAL_CLEARING"),
            Step::WaitIdle,
        ],
    )
    .await;
}

#[tokio::test]
async fn inbound_park_replays_like_the_capture_plain() {
    inbound_park("plain").await;
}

#[tokio::test]
async fn inbound_park_replays_like_the_capture_json() {
    inbound_park("json").await;
}

/// What the recording scenarios compare besides the common headers.
const RECORD_KEYS: &[&str] = &[
    "Record-File-Path",
    "Record-Completion-Cause",
    "Media-Bug-Function",
    "Media-Bug-Target",
];

/// How long the replayed recordings run before the next command (2 s in the captures).
const RECORDING: Duration = Duration::from_millis(100);

async fn originate_bridge(format: &'static str) {
    replay(
        Scenario {
            extra_keys: RECORD_KEYS,
            ..Scenario::new("originate-bridge-record", format)
        },
        &[
            Step::Phone("agent1", answer_after(200)),
            Step::Call("1002", "5000"),
            Step::WaitCaller(0, "CHANNEL_PARK"),
            Step::Tx, // uuid_answer
            Step::WaitCaller(0, "CHANNEL_ANSWER"),
            Step::Tx, // bgapi originate
            Step::WaitAgent("CHANNEL_PARK"),
            Step::Tx, // uuid_bridge
            Step::WaitCaller(0, "CHANNEL_BRIDGE"),
            Step::TxSameReply, // uuid_record start
            Step::WaitCaller(0, "MEDIA_BUG_START"),
            Step::Sleep(RECORDING),
            Step::TxSameReply, // uuid_record stop
            Step::WaitCaller(0, "MEDIA_BUG_STOP"),
            Step::HangupAgent("NORMAL_CLEARING"),
            Step::WaitIdle,
        ],
    )
    .await;
}

#[tokio::test]
async fn originate_bridge_and_agent_hangup_replay_like_the_capture_plain() {
    originate_bridge("plain").await;
}

#[tokio::test]
async fn originate_bridge_and_agent_hangup_replay_like_the_capture_json() {
    originate_bridge("json").await;
}

#[tokio::test]
async fn uuid_record_start_mask_unmask_pause_resume_stop_replay_like_the_capture() {
    replay(
        Scenario {
            extra_keys: RECORD_KEYS,
            ..Scenario::new("record-pause-mask", "plain")
        },
        &[
            Step::Phone("agent1", answer_after(200)),
            Step::Call("1013", "5000"),
            Step::WaitCaller(0, "CHANNEL_PARK"),
            Step::Tx, // uuid_answer
            Step::WaitCaller(0, "CHANNEL_ANSWER"),
            Step::Tx, // bgapi originate
            Step::WaitAgent("CHANNEL_PARK"),
            Step::Tx, // uuid_bridge
            Step::WaitCaller(0, "CHANNEL_BRIDGE"),
            Step::TxSameReply, // start
            Step::WaitCaller(0, "MEDIA_BUG_START"),
            Step::Sleep(RECORDING),
            Step::TxSameReply, // mask
            Step::TxSameReply, // unmask
            Step::TxSameReply, // pause
            Step::TxSameReply, // resume
            Step::TxSameReply, // stop
            Step::WaitCaller(0, "MEDIA_BUG_STOP"),
            Step::Tx, // uuid_kill
            Step::WaitIdle,
        ],
    )
    .await;
}

async fn originate_busy(format: &'static str) {
    replay(
        Scenario::new("originate-busy", format),
        &[
            Step::Phone("agent-busy", PhoneBehavior::Busy),
            Step::Tx,
            Step::WaitAgent("CHANNEL_DESTROY"),
            Step::WaitIdle,
        ],
    )
    .await;
}

#[tokio::test]
async fn originate_busy_replays_like_the_capture_plain() {
    originate_busy("plain").await;
}

#[tokio::test]
async fn originate_busy_replays_like_the_capture_json() {
    originate_busy("json").await;
}

async fn originate_noanswer(format: &'static str) {
    replay(
        Scenario::new("originate-noanswer", format),
        &[
            Step::Phone("agent-noanswer", PhoneBehavior::NoAnswer),
            Step::Tx,
            Step::WaitAgent("CHANNEL_DESTROY"),
            Step::WaitIdle,
        ],
    )
    .await;
}

#[tokio::test]
async fn originate_noanswer_replays_like_the_capture_plain() {
    originate_noanswer("plain").await;
}

#[tokio::test]
async fn originate_noanswer_replays_like_the_capture_json() {
    originate_noanswer("json").await;
}

async fn caller_abandon(format: &'static str) {
    replay(
        Scenario::new("caller-abandon", format),
        &[
            Step::Call("1003", "5000"),
            Step::WaitCaller(0, "CHANNEL_PARK"),
            Step::HangupCaller(0, "ORIGINATOR_CANCEL"),
            Step::WaitCaller(0, "CHANNEL_DESTROY"),
            Step::Call("1004", "5000"),
            Step::WaitCaller(1, "CHANNEL_PARK"),
            Step::Tx, // uuid_answer
            Step::WaitCaller(1, "CHANNEL_ANSWER"),
            Step::Tx, // sendmsg playback local_stream://moh
            Step::WaitCaller(1, "PLAYBACK_START"),
            Step::HangupCaller(1, "NORMAL_CLEARING"),
            Step::WaitIdle,
        ],
    )
    .await;
}

#[tokio::test]
async fn caller_abandon_replays_like_the_capture_plain() {
    caller_abandon("plain").await;
}

#[tokio::test]
async fn caller_abandon_replays_like_the_capture_json() {
    caller_abandon("json").await;
}

// ---- ring-all, transfer, keys and prompts (batch 2 captures) ---------------------------

const RINGALL_U1: &str = "d4e14d70-62f3-4792-b2f2-e3f5972a6040";
const RINGALL_U2: &str = "cfc0b4c4-badd-44be-9976-f12669c3049b";

#[tokio::test]
async fn ring_all_as_separate_originates_kills_the_loser_with_lose_race_like_the_capture() {
    replay(
        Scenario {
            // Part b1: two bgapi originates, uuid_kill <loser> LOSE_RACE on the first answer.
            part: (243_826, 390_161),
            ..Scenario::new("ringall", "plain")
        },
        &[
            Step::Phone("agent1", answer_after(200)),
            Step::Phone("agent2", answer_after(700)),
            Step::Tx, // bgapi originate U1 -> agent1
            Step::Tx, // bgapi originate U2 -> agent2
            Step::WaitLeg(RINGALL_U1, "CHANNEL_ANSWER"),
            Step::TxSameReply, // uuid_kill U2 LOSE_RACE
            Step::WaitLeg(RINGALL_U2, "CHANNEL_DESTROY"),
            Step::WaitLeg(RINGALL_U1, "CHANNEL_PARK"),
            Step::TxSameReply, // uuid_kill U1
            Step::WaitIdle,
        ],
    )
    .await;
}

const TRANSFER_KEYS: &[&str] = &[
    "Caller-Destination-Number",
    "Caller-Context",
    "Caller-Profile-Index",
    "variable_transfer_history",
];

#[tokio::test]
async fn transferring_a_parked_caller_runs_the_extension_like_the_capture() {
    replay(
        Scenario {
            part: (0, 139_387),
            extra_keys: TRANSFER_KEYS,
            ..Scenario::new("transfer", "plain")
        },
        &[
            Step::Call("1015", "5000"),
            Step::WaitCaller(0, "CHANNEL_PARK"),
            Step::TxSameReply, // uuid_transfer <caller> 9199 XML default
            Step::WaitCaller(0, "PLAYBACK_START"),
            Step::TxSameReply, // uuid_kill
            Step::WaitIdle,
        ],
    )
    .await;
}

#[tokio::test]
async fn transferring_a_bridged_caller_hangs_up_the_agent_first_like_the_capture() {
    replay(
        Scenario {
            part: (139_387, usize::MAX),
            extra_keys: TRANSFER_KEYS,
            ..Scenario::new("transfer", "plain")
        },
        &[
            Step::Phone("agent1", answer_after(200)),
            Step::Call("1016", "5000"),
            Step::WaitCaller(0, "CHANNEL_PARK"),
            Step::Tx, // uuid_answer
            Step::WaitCaller(0, "CHANNEL_ANSWER"),
            Step::Tx, // bgapi originate
            Step::WaitAgent("CHANNEL_PARK"),
            Step::TxSameReply, // uuid_bridge
            Step::WaitCaller(0, "CHANNEL_BRIDGE"),
            Step::TxSameReply, // uuid_transfer <caller> 9199 XML default
            Step::WaitCaller(0, "PLAYBACK_START"),
            Step::WaitAgent("CHANNEL_DESTROY"),
            Step::TxSameReply, // uuid_exists <caller> -> true
            Step::TxSameReply, // uuid_exists <agent> -> false
            Step::TxSameReply, // uuid_kill
            Step::WaitIdle,
        ],
    )
    .await;
}

const DTMF_KEYS: &[&str] = &["DTMF-Duration", "DTMF-Source", "variable_pagd_digits"];

#[tokio::test]
async fn rfc2833_keys_complete_play_and_get_digits_like_the_capture() {
    replay(
        Scenario {
            extra_keys: DTMF_KEYS,
            ..Scenario::new("dtmf-rfc2833", "plain")
        },
        &[
            Step::Call("1009", "5000"),
            Step::WaitCaller(0, "CHANNEL_PARK"),
            Step::Tx, // uuid_answer
            Step::WaitCaller(0, "CHANNEL_ANSWER"),
            Step::Tx, // sendmsg play_and_get_digits
            Step::WaitCaller(0, "PLAYBACK_STOP"),
            Step::Dtmf(0, "1"),
            Step::Dtmf(0, "2"),
            Step::Dtmf(0, "3"),
            Step::Dtmf(0, "4"),
            Step::Dtmf(0, "#"),
            Step::WaitCaller(0, "CHANNEL_EXECUTE_COMPLETE"),
            Step::TxSameReply, // uuid_getvar pagd_digits -> 1234
            Step::HangupCaller(0, "NORMAL_CLEARING"),
            Step::WaitIdle,
        ],
    )
    .await;
}

#[tokio::test]
async fn a_key_during_the_prompt_breaks_it_and_collection_goes_on_like_the_capture() {
    // The capture collects on a loopback leg fed by uuid_send_dtmf; here a caller plays
    // that leg and presses the keys itself. Only play_and_get_digits is compared.
    replay(
        Scenario {
            alias: &[("68ecd30c-0df0-454a-9048-c5c8d2a3ecb8", 0)],
            extra_keys: &["variable_pagd_digits"],
            only_app: Some("play_and_get_digits"),
            ..Scenario::new("dtmf-collect", "plain")
        },
        &[
            Step::Call("1009", "5000"),
            Step::WaitCaller(0, "CHANNEL_PARK"),
            Step::Answer(0),
            Step::Skip, // bgapi originate loopback/9199/default
            Step::Tx,   // sendmsg play_and_get_digits
            Step::WaitCaller(0, "PLAYBACK_START"),
            Step::Skip, // uuid_send_dtmf <B leg> 1234#
            Step::Dtmf(0, "1234#"),
            Step::WaitCaller(0, "CHANNEL_EXECUTE_COMPLETE"),
            Step::TxSameReply, // uuid_getvar pagd_digits -> 1234
            Step::TxSameReply, // uuid_kill
            Step::WaitIdle,
        ],
    )
    .await;
}

#[tokio::test]
async fn say_and_missing_files_report_like_the_capture() {
    replay(
        Scenario {
            extra_keys: &["variable_current_application_response"],
            ..Scenario::new("say-and-missing-file", "plain")
        },
        &[
            Step::NoSounds,
            Step::Call("1017", "5000"),
            Step::WaitCaller(0, "CHANNEL_PARK"),
            Step::Tx, // uuid_answer
            Step::WaitCaller(0, "CHANNEL_ANSWER"),
            Step::Tx, // say en number pronounced 42, no prompts
            Step::WaitCount(0, "CHANNEL_EXECUTE_COMPLETE", 1),
            Step::Tx, // playback /tmp/no-such-file.wav
            Step::WaitCount(0, "CHANNEL_EXECUTE_COMPLETE", 2),
            Step::Tx, // playback ivr/no-such-prompt.wav
            Step::WaitCount(0, "CHANNEL_EXECUTE_COMPLETE", 3),
            Step::Install("digits/40.wav"),
            Step::Install("digits/2.wav"),
            Step::Tx, // say en number pronounced 42
            Step::WaitCount(0, "CHANNEL_EXECUTE_COMPLETE", 4),
            Step::TxSameReply, // uuid_kill
            Step::WaitIdle,
        ],
    )
    .await;
}

async fn moh_then_bridge(part: (usize, usize), steps: &[Step]) {
    replay(
        Scenario {
            part,
            ..Scenario::new("moh-break-bridge", "plain")
        },
        steps,
    )
    .await;
}

#[tokio::test]
async fn uuid_break_stops_hold_music_before_the_bridge_like_the_capture() {
    moh_then_bridge(
        (0, 324_797),
        &[
            Step::Phone("agent1", answer_after(200)),
            Step::Call("1010", "5000"),
            Step::WaitCaller(0, "CHANNEL_PARK"),
            Step::Tx, // uuid_answer
            Step::WaitCaller(0, "CHANNEL_ANSWER"),
            Step::Tx, // sendmsg playback local_stream://moh
            Step::WaitCaller(0, "PLAYBACK_START"),
            Step::Tx, // bgapi originate
            Step::WaitAgent("CHANNEL_PARK"),
            Step::TxSameReply, // uuid_break <caller> all
            Step::WaitCaller(0, "CHANNEL_EXECUTE_COMPLETE"),
            Step::TxSameReply, // uuid_bridge
            Step::WaitCaller(0, "CHANNEL_BRIDGE"),
            Step::TxSameReply, // uuid_kill <caller>
            Step::WaitIdle,
        ],
    )
    .await;
}

#[tokio::test]
async fn bridging_over_hold_music_ends_it_with_playback_error_like_the_capture() {
    moh_then_bridge(
        (324_797, usize::MAX),
        &[
            Step::Phone("agent1", answer_after(200)),
            Step::Call("1011", "5000"),
            Step::WaitCaller(0, "CHANNEL_PARK"),
            Step::Tx, // uuid_answer
            Step::WaitCaller(0, "CHANNEL_ANSWER"),
            Step::Tx, // sendmsg playback local_stream://moh
            Step::WaitCaller(0, "PLAYBACK_START"),
            Step::Tx, // bgapi originate
            Step::WaitAgent("CHANNEL_PARK"),
            Step::TxSameReply, // uuid_bridge without uuid_break
            Step::WaitCaller(0, "CHANNEL_BRIDGE"),
            Step::TxSameReply, // uuid_kill <caller>
            Step::WaitIdle,
        ],
    )
    .await;
}

// ---- phone registrations (`register` capture) ------------------------------------------

/// Headers whose values belong to the capture machine, the moment or the sipp phone.
const REGISTER_VOLATILE: &[&str] = &[
    "Core-UUID",
    "FreeSWITCH-Hostname",
    "FreeSWITCH-Switchname",
    "FreeSWITCH-IPv4",
    "FreeSWITCH-IPv6",
    "Event-Date-Local",
    "Event-Date-GMT",
    "Event-Date-Timestamp",
    "Event-Sequence",
    "call-id",
    "VM-Call-ID",
    "network-port",
];

fn event_frames(frames: &[Frame]) -> Vec<&Frame> {
    frames
        .iter()
        .filter(|f| f.event.is_some())
        .filter(|f| !f.ev("Event-Name").is_some_and(|n| EXCLUDED.contains(&n)))
        .collect()
}

fn ev_label(f: &Frame) -> String {
    match f.ev("Event-Subclass") {
        Some(s) => format!("CUSTOM {s}"),
        None => f.ev("Event-Name").unwrap_or("").to_string(),
    }
}

/// `"" <sip:1001@127.0.0.1:5081>` without the phone's port.
fn without_port(contact: &str) -> &str {
    contact.rsplit_once(':').map_or(contact, |(a, _)| a)
}

#[tokio::test]
async fn register_unregister_and_expire_events_match_the_register_capture() {
    let Some(dir) = traces_dir() else { return };
    let captured = std::fs::read(dir.join("register.plain.c1.rx")).expect("read capture");
    let (cap_frames, rest) = frames_of(&captured);
    assert_eq!(rest, 0);
    let cap_events = event_frames(&cap_frames);
    let cap_api: Vec<&Frame> = cap_frames
        .iter()
        .filter(|f| f.header("Content-Type") == Some("api/response"))
        .collect();

    // The capture's scenario: REGISTER, REGISTER again, Expires: 0, REGISTER, expiry.
    let sim = start_default().await;
    sim.add_phone(PhoneSpec {
        user: "1001".into(),
        behavior: PhoneBehavior::Unregistered,
        hangup_after_talk: None,
    });
    let mut s = TcpStream::connect(sim.esl_addr()).await.expect("connect");
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    async fn read_until(s: &mut TcpStream, got: &mut Vec<u8>, buf: &mut [u8], n: usize) {
        while frames_of(got).0.len() < n {
            match tokio::time::timeout(Duration::from_secs(5), s.read(buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => panic!("connection closed"),
                Ok(Ok(k)) => got.extend_from_slice(&buf[..k]),
                Err(_) => panic!("timed out after {} frames", frames_of(got).0.len()),
            }
        }
    }
    read_until(&mut s, &mut got, &mut buf, 1).await;
    s.write_all(b"auth ClueCon\n\n").await.expect("write");
    read_until(&mut s, &mut got, &mut buf, 2).await;
    s.write_all(b"event plain ALL\n\n").await.expect("write");
    read_until(&mut s, &mut got, &mut buf, 3).await;

    assert!(sim.register_phone("1001"));
    read_until(&mut s, &mut got, &mut buf, 7).await;
    s.write_all(b"api show registrations as json\n\n")
        .await
        .expect("write");
    read_until(&mut s, &mut got, &mut buf, 9).await; // reply + API event
    assert!(sim.register_phone("1001"));
    assert!(sim.unregister_phone("1001"));
    assert!(sim.register_phone("1001"));
    assert!(sim.expire_phone("1001"));
    read_until(&mut s, &mut got, &mut buf, 21).await;
    s.write_all(b"api show registrations as json\n\n")
        .await
        .expect("write");
    read_until(&mut s, &mut got, &mut buf, 23).await;

    let (sim_frames, _) = frames_of(&got);
    let sim_events = event_frames(&sim_frames);
    let labels = |evs: &[&Frame]| evs.iter().map(|f| ev_label(f)).collect::<Vec<_>>();
    assert_eq!(labels(&sim_events), labels(&cap_events));

    // Event-Sequence steps within each REGISTER / expiry (gaps included).
    let groups = [0..4, 4..7, 7..11, 11..14, 14..16];
    let seq = |f: &Frame| {
        f.ev("Event-Sequence")
            .and_then(|v| v.parse::<i64>().ok())
            .expect("Event-Sequence")
    };
    for g in groups {
        let steps = |evs: &[&Frame]| {
            evs[g.clone()]
                .windows(2)
                .map(|w| seq(w[1]) - seq(w[0]))
                .collect::<Vec<_>>()
        };
        assert_eq!(steps(&sim_events), steps(&cap_events), "group {g:?}");
    }

    for (i, (ours, theirs)) in sim_events.iter().zip(&cap_events).enumerate() {
        let label = ev_label(theirs);
        let (oh, _) = ours.event.as_ref().expect("event");
        let (th, _) = theirs.event.as_ref().expect("event");
        let names = |h: &[(String, String)]| h.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
        assert_eq!(names(oh), names(th), "header names of #{i} {label}");
        for (k, v) in th {
            let mine = ours.ev(k).unwrap_or("");
            if REGISTER_VOLATILE.contains(&k.as_str()) {
                continue;
            }
            match k.as_str() {
                "user-agent" if v != "Registered(UDP)" => {}
                "contact" => assert_eq!(without_port(mine), without_port(v), "#{i} {label} {k}"),
                // The capture's last REGISTER asked for `Expires: 10`; ours always ask 120.
                "expires" if (11..14).contains(&i) => assert_eq!(mine, "120", "#{i} {label}"),
                "expires" if label == "CUSTOM sofia::expire" => {
                    assert!(mine.parse::<u64>().is_ok(), "#{i} {label} expires {mine}")
                }
                _ => assert_eq!(mine, v, "#{i} {label} {k}"),
            }
        }
    }

    // `show registrations as json`: one row, the capture's keys and values.
    let sim_api: Vec<&Frame> = sim_frames
        .iter()
        .filter(|f| f.header("Content-Type") == Some("api/response"))
        .collect();
    assert_eq!(sim_api.len(), 2);
    let row = |f: &Frame| {
        let v: serde_json::Value = serde_json::from_slice(&f.body).expect("json");
        assert_eq!(v["row_count"], 1);
        v["rows"][0].as_object().expect("row").clone()
    };
    let (ours, theirs) = (row(sim_api[0]), row(cap_api[0]));
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>()
    );
    for k in [
        "reg_user",
        "realm",
        "network_ip",
        "network_proto",
        "metadata",
    ] {
        assert_eq!(ours[k], theirs[k], "{k}");
    }
    let url = |m: &serde_json::Map<String, serde_json::Value>| {
        without_port(m["url"].as_str().unwrap_or("")).to_string()
    };
    assert_eq!(url(&ours), url(&theirs));
    // Registration time + Expires (120) + the late margin (60).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let expires: u64 = ours["expires"]
        .as_str()
        .unwrap_or("")
        .parse()
        .expect("expires");
    assert!(
        (now + 175..=now + 181).contains(&expires),
        "{expires} vs {now}"
    );
    // After the expiry: the capture's empty answer, byte for byte.
    assert_eq!(sim_api[1].body, cap_api[3].body);
}
