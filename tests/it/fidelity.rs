//! Fidelity of the simulator against the real FreeSWITCH captures in
//! `../shared/esl-traces`: (a) every capture decodes cleanly with the ESL client crate,
//! (b) the simulator replays the captured scenarios with the same per-channel event
//! sequences and key headers, (c) the auth/exit exchanges are byte-identical.
//!
//! Events compared per channel: everything the simulator models. Excluded names (the
//! simulator does not model the media/SIP machinery behind them):
//! CODEC (codec negotiation), CALL_UPDATE (SIP caller-id updates), MEDIA_BUG_START/STOP,
//! RECORD_START/STOP (uuid_record), RE_SCHEDULE (scheduler), MODULE_UNLOAD (module
//! teardown), API (no Unique-ID, and its delivery order is irregular on the real switch),
//! HEARTBEAT (timer-driven, not part of a call).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use freeswitch_esl_tokio::{EslClient, EslConnectOptions, EventOverflow};
use switchboard::sim::{wire, CallSpec, PhoneBehavior, PhoneSpec, SimConfig, SimHandle, Simulator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const EXCLUDED: &[&str] = &[
    "CODEC",
    "CALL_UPDATE",
    "MEDIA_BUG_START",
    "MEDIA_BUG_STOP",
    "RECORD_START",
    "RECORD_STOP",
    "RE_SCHEDULE",
    "MODULE_UNLOAD",
    "API",
    "HEARTBEAT",
];

fn traces_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/esl-traces");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipped: traces not found at {}", dir.display());
        None
    }
}

// ---- an independent framer and decoder ------------------------------------------------

#[derive(Clone, Debug)]
struct Frame {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Decoded event headers (plain: URL-decoded; json: string values) and event body.
    event: Option<(Vec<(String, String)>, String)>,
}

impl Frame {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn ev(&self, name: &str) -> Option<&str> {
        self.event
            .as_ref()
            .and_then(|(h, _)| h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()))
    }
    fn ev_body(&self) -> &str {
        self.event.as_ref().map(|(_, b)| b.as_str()).unwrap_or("")
    }
}

fn url_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

fn decode_event(ct: &str, body: &[u8]) -> Option<(Vec<(String, String)>, String)> {
    match ct {
        "text/event-plain" => {
            let text = String::from_utf8_lossy(body);
            let (head, rest) = text.split_once("\n\n").unwrap_or((&text, ""));
            let headers = head
                .split('\n')
                .filter_map(|l| l.split_once(": "))
                .map(|(k, v)| (k.to_string(), url_decode(v)))
                .collect();
            Some((headers, rest.to_string()))
        }
        "text/event-json" => {
            let v: serde_json::Value = serde_json::from_slice(body).ok()?;
            let obj = v.as_object()?;
            let headers = obj
                .iter()
                .filter(|(k, _)| k.as_str() != "_body")
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect();
            let b = obj
                .get("_body")
                .and_then(|b| b.as_str())
                .unwrap_or("")
                .to_string();
            Some((headers, b))
        }
        _ => None,
    }
}

/// Splits complete frames off `buf`; returns them and leaves any partial frame.
fn take_frames(buf: &mut Vec<u8>) -> Vec<Frame> {
    let mut out = Vec::new();
    while let Some(end) = buf.windows(2).position(|w| w == b"\n\n") {
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let headers: Vec<(String, String)> = head
            .split('\n')
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let len = headers
            .iter()
            .find(|(k, _)| k == "Content-Length")
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(0);
        if buf.len() < end + 2 + len {
            break;
        }
        let body = buf[end + 2..end + 2 + len].to_vec();
        buf.drain(..end + 2 + len);
        let ct = headers
            .iter()
            .find(|(k, _)| k == "Content-Type")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let event = decode_event(&ct, &body);
        out.push(Frame {
            headers,
            body,
            event,
        });
    }
    out
}

fn frames_of(bytes: &[u8]) -> (Vec<Frame>, usize) {
    let mut buf = bytes.to_vec();
    let frames = take_frames(&mut buf);
    (frames, buf.len())
}

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

async fn start_default() -> SimHandle {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    Simulator::start(l, SimConfig::default())
        .await
        .expect("start sim")
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

/// A raw ESL connection that records every frame it receives.
struct Recorder {
    writer: OwnedWriteHalf,
    frames: Arc<Mutex<Vec<Frame>>>,
    bump: watch::Receiver<usize>,
}

impl Recorder {
    async fn connect(addr: std::net::SocketAddr, format: &str) -> Recorder {
        let s = TcpStream::connect(addr).await.expect("connect");
        let (mut rd, writer) = s.into_split();
        let frames = Arc::new(Mutex::new(Vec::new()));
        let (tx, bump) = watch::channel(0usize);
        let f2 = frames.clone();
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut chunk = vec![0u8; 65536];
            loop {
                match rd.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        buf.extend_from_slice(&chunk[..n]);
                        let new = take_frames(&mut buf);
                        let len = {
                            let mut g = f2.lock().expect("frames lock");
                            g.extend(new);
                            g.len()
                        };
                        let _ = tx.send(len);
                    }
                }
            }
        });
        let mut r = Recorder {
            writer,
            frames,
            bump,
        };
        r.wait(|fs| !fs.is_empty()).await;
        r.send("auth ClueCon\n\n").await;
        r.send(&format!("event {format} ALL\n\n")).await;
        r
    }

    fn replies(&self) -> usize {
        self.snapshot()
            .iter()
            .filter(|f| {
                matches!(
                    f.header("Content-Type"),
                    Some("command/reply") | Some("api/response")
                )
            })
            .count()
    }

    fn snapshot(&self) -> Vec<Frame> {
        self.frames.lock().expect("frames lock").clone()
    }

    async fn wait(&mut self, mut cond: impl FnMut(&[Frame]) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if cond(&self.snapshot()) {
                return;
            }
            if tokio::time::timeout_at(deadline, self.bump.changed())
                .await
                .is_err()
            {
                panic!("timed out waiting for a frame");
            }
        }
    }

    /// Sends a command and waits for its reply.
    async fn send(&mut self, text: &str) -> Frame {
        let before = self.replies();
        self.writer.write_all(text.as_bytes()).await.expect("write");
        self.wait(|fs| {
            fs.iter()
                .filter(|f| {
                    matches!(
                        f.header("Content-Type"),
                        Some("command/reply") | Some("api/response")
                    )
                })
                .count()
                > before
        })
        .await;
        self.snapshot()
            .into_iter()
            .filter(|f| {
                matches!(
                    f.header("Content-Type"),
                    Some("command/reply") | Some("api/response")
                )
            })
            .nth(before)
            .expect("reply")
    }

    async fn wait_event(&mut self, name: &str, uuid: &str) {
        self.wait(|fs| {
            fs.iter()
                .any(|f| f.ev("Event-Name") == Some(name) && f.ev("Unique-ID") == Some(uuid))
        })
        .await;
    }
}

enum Step {
    Phone(&'static str, PhoneBehavior),
    /// Place the next caller (number, destination).
    Call(&'static str, &'static str),
    /// Wait for an event on the n-th caller / on the outbound leg.
    WaitCaller(usize, &'static str),
    WaitAgent(&'static str),
    /// Send the next captured command (auth/event/uuid_record skipped).
    Tx,
    HangupCaller(usize, &'static str),
    HangupAgent(&'static str),
    WaitIdle,
}

fn captured_commands(dir: &std::path::Path, timeline: &str) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join(timeline)).expect("timeline");
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["kind"] == "tx" && v["conn"] == "c1")
        .filter_map(|v| v["data"].as_str().map(str::to_string))
        .filter(|d| {
            !d.starts_with("auth ") && !d.starts_with("event ") && !d.contains("uuid_record")
        })
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

/// Per-channel sequences of "NAME key=value…" with uuids mapped through `map`.
fn sequences(frames: &[Frame], map: &HashMap<String, String>) -> HashMap<String, Vec<String>> {
    let m = |s: &str| map.get(s).cloned().unwrap_or_else(|| s.to_string());
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for f in frames {
        let Some(name) = f.ev("Event-Name") else {
            continue;
        };
        if EXCLUDED.contains(&name) {
            continue;
        }
        let owner = if name == "BACKGROUND_JOB" {
            // Attach the job to the leg it originated.
            let arg = f.ev("Job-Command-Arg").unwrap_or("");
            match arg
                .split("origination_uuid=")
                .nth(1)
                .and_then(|r| r.split([',', '}']).next())
            {
                Some(u) => u.to_string(),
                None => continue,
            }
        } else {
            match f.ev("Unique-ID") {
                Some(u) => m(u),
                None => continue,
            }
        };
        let mut item = name.to_string();
        let mut add = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                item.push_str(&format!(" {k}={v}"));
            }
        };
        add("Answer-State", f.ev("Answer-State").map(str::to_string));
        add("Hangup-Cause", f.ev("Hangup-Cause").map(str::to_string));
        if name == "CHANNEL_STATE" {
            add("Channel-State", f.ev("Channel-State").map(str::to_string));
        }
        add("Application", f.ev("Application").map(str::to_string));
        add(
            "Application-Response",
            f.ev("Application-Response").map(str::to_string),
        );
        if f.ev("Application") != Some("park") {
            add(
                "Application-UUID",
                f.ev("Application-UUID").map(str::to_string),
            );
        }
        add("Other-Leg-Unique-ID", f.ev("Other-Leg-Unique-ID").map(&m));
        add("Bridge-A-Unique-ID", f.ev("Bridge-A-Unique-ID").map(&m));
        add("Bridge-B-Unique-ID", f.ev("Bridge-B-Unique-ID").map(&m));
        if name == "BACKGROUND_JOB" {
            add("Job-Command", f.ev("Job-Command").map(str::to_string));
            add("body", Some(f.ev_body().trim_end().to_string()));
        }
        out.entry(owner).or_default().push(item);
    }
    out
}

async fn replay(name: &str, format: &str, steps: &[Step]) {
    let Some(dir) = traces_dir() else { return };
    let capture = std::fs::read(dir.join(format!("{name}.{format}.c1.rx"))).expect("capture");
    let (cap_frames, _) = frames_of(&capture);
    let mut cmds = captured_commands(&dir, &format!("{name}.{format}.timeline.jsonl")).into_iter();
    let (cap_in, _) = channels_in_order(&cap_frames);

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
                callers.push(sim.place_call(spec));
            }
            Step::WaitCaller(i, ev) => rec.wait_event(ev, &callers[*i]).await,
            Step::WaitAgent(ev) => {
                if agent_uuid.is_empty() {
                    agent_uuid = agent(&sim).expect("an agent leg");
                }
                rec.wait_event(ev, &agent_uuid).await;
            }
            Step::Tx => {
                let mut c = cmds.next().expect("another captured command");
                for (i, cap) in cap_in.iter().enumerate() {
                    if let Some(ours) = callers.get(i) {
                        c = c.replace(cap.as_str(), ours);
                    }
                }
                // Keep the no-answer wait short; timing is not what is compared.
                c = c.replace("originate_timeout=5}", "originate_timeout=1}");
                let reply = rec.send(&c).await;
                if let Some(j) = reply.header("Job-UUID") {
                    job_replies.push(j.to_string());
                }
            }
            Step::HangupCaller(i, cause) => {
                assert!(sim.hangup(&callers[*i], cause));
            }
            Step::HangupAgent(cause) => {
                let a = agent(&sim).expect("an agent leg");
                assert!(sim.hangup(&a, cause));
            }
            Step::WaitIdle => {
                assert!(
                    sim.wait_until(Duration::from_secs(10), |s| s.channels().is_empty())
                        .await,
                    "channels left"
                );
            }
        }
    }
    // Wait until every channel's CS_DESTROY arrived.
    let mut all: Vec<String> = callers.clone();
    if !agent_uuid.is_empty() {
        all.push(agent_uuid.clone());
    }
    for u in &all {
        rec.wait(|fs| {
            fs.iter().any(|f| {
                f.ev("Unique-ID") == Some(u.as_str()) && f.ev("Channel-State") == Some("CS_DESTROY")
            })
        })
        .await;
    }
    let sim_frames = rec.snapshot();
    // Map the captured caller uuids to ours; agent uuids are reused verbatim.
    let map: HashMap<String, String> = cap_in
        .iter()
        .cloned()
        .zip(callers.iter().cloned())
        .collect();
    let expected = sequences(&cap_frames, &map);
    let actual = sequences(&sim_frames, &HashMap::new());
    let mut keys: Vec<&String> = expected.keys().collect();
    keys.sort();
    for k in keys {
        let exp = &expected[k];
        let act = actual.get(k).cloned().unwrap_or_default();
        assert_eq!(
            &act, exp,
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

async fn inbound_park(format: &str) {
    replay(
        "inbound-park",
        format,
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

async fn originate_bridge(format: &str) {
    replay(
        "originate-bridge-record",
        format,
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

async fn originate_busy(format: &str) {
    replay(
        "originate-busy",
        format,
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

async fn originate_noanswer(format: &str) {
    replay(
        "originate-noanswer",
        format,
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

async fn caller_abandon(format: &str) {
    replay(
        "caller-abandon",
        format,
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
