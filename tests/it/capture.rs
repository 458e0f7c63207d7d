//! Reading the real switch's captures in `../shared/esl-traces` and talking raw ESL to the
//! simulator, for the tests that compare the two (`fidelity`, `replay`): an independent
//! framer and decoder, the timeline, a recording raw connection, the mapping of the
//! capture's uuids onto the simulator's, and the per-channel event sequences compared.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

/// Event names never compared: the simulator does not model the media/SIP machinery
/// behind them, or they belong to no call (see `fidelity`'s module doc).
pub const EXCLUDED: &[&str] = &[
    "CODEC",
    "CALL_UPDATE",
    "RE_SCHEDULE",
    "MODULE_UNLOAD",
    "API",
    "HEARTBEAT",
    "PRIVATE_COMMAND",
];

pub fn traces_dir() -> Option<PathBuf> {
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
pub struct Frame {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Decoded event headers (plain: URL-decoded; json: string values) and event body.
    pub event: Option<(Vec<(String, String)>, String)>,
}

impl Frame {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn ev(&self, name: &str) -> Option<&str> {
        self.event
            .as_ref()
            .and_then(|(h, _)| h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()))
    }
    /// The body as text (an event frame's whole event, a reply's text, a notice).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// An event's headers (plain: URL-decoded), none for other frames.
    pub fn event_headers(&self) -> Vec<(String, String)> {
        self.event
            .as_ref()
            .map(|(h, _)| h.clone())
            .unwrap_or_default()
    }
    /// An event's `Event-Name`.
    pub fn name(&self) -> Option<&str> {
        self.ev("Event-Name")
    }
    pub fn ev_body(&self) -> &str {
        self.event.as_ref().map(|(_, b)| b.as_str()).unwrap_or("")
    }
    /// A command's answer (`command/reply`, `api/response`), not an event or a notice.
    pub fn is_reply(&self) -> bool {
        matches!(
            self.header("Content-Type"),
            Some("command/reply") | Some("api/response")
        )
    }
    /// What a reply says: `Reply-Text`, or an api/response's body.
    pub fn reply_text(&self) -> String {
        match self.header("Content-Type") {
            Some("api/response") => String::from_utf8_lossy(&self.body).into_owned(),
            _ => self.header("Reply-Text").unwrap_or("").to_string(),
        }
    }
}

pub fn url_decode(s: &str) -> String {
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

/// The frame at the front of `buf` and how many bytes it takes; None while incomplete.
fn split_frame(buf: &[u8]) -> Option<(Frame, usize)> {
    let end = buf.windows(2).position(|w| w == b"\n\n")?;
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
        return None;
    }
    let body = buf[end + 2..end + 2 + len].to_vec();
    let ct = headers
        .iter()
        .find(|(k, _)| k == "Content-Type")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let event = decode_event(&ct, &body);
    let frame = Frame {
        headers,
        body,
        event,
    };
    Some((frame, end + 2 + len))
}

/// Splits complete frames off `buf`; returns them and leaves any partial frame.
pub fn take_frames(buf: &mut Vec<u8>) -> Vec<Frame> {
    let (frames, used): (Vec<Frame>, usize) = {
        let mut out = Vec::new();
        let mut used = 0;
        while let Some((f, n)) = split_frame(&buf[used..]) {
            out.push(f);
            used += n;
        }
        (out, used)
    };
    buf.drain(..used);
    frames
}

/// The frames of a byte stream and the length of a trailing partial frame.
pub fn frames_of(bytes: &[u8]) -> (Vec<Frame>, usize) {
    let mut buf = bytes.to_vec();
    let frames = take_frames(&mut buf);
    (frames, buf.len())
}

/// The frames of a byte stream with the offsets where they end.
pub fn frames_ending_at(bytes: &[u8]) -> Vec<(usize, Frame)> {
    let mut out = Vec::new();
    let mut used = 0;
    while let Some((f, n)) = split_frame(&bytes[used..]) {
        used += n;
        out.push((used, f));
    }
    out
}

/// The frames of a byte stream with the offsets where they start.
pub fn frames_at(bytes: &[u8]) -> Vec<(usize, Frame)> {
    let mut start = 0;
    frames_ending_at(bytes)
        .into_iter()
        .map(|(end, f)| (std::mem::replace(&mut start, end), f))
        .collect()
}

// ---- the timeline ----------------------------------------------------------------------

/// One line of `<name>.timeline.jsonl`, in time order.
#[derive(Clone, Debug)]
pub enum Entry {
    /// A connection to the switch opens.
    Open { conn: String },
    /// Bytes `[offset, offset + len)` of `<conn>.rx` arrive.
    Rx { conn: String, end: usize },
    /// The client sends `data` after `rx_offset` bytes of `<conn>.rx` had arrived.
    Tx {
        conn: String,
        rx_offset: usize,
        data: String,
    },
    /// The client closes the connection.
    Close { conn: String },
    /// A remark of the capture tool.
    Note(String),
}

pub fn timeline(dir: &Path, file: &str) -> Vec<Entry> {
    let text = std::fs::read_to_string(dir.join(file)).expect("timeline");
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            let conn = v["conn"].as_str().unwrap_or("").to_string();
            let num = |k: &str| v[k].as_u64().map(|n| n as usize);
            Some(match v["kind"].as_str()? {
                "open" => Entry::Open { conn },
                "rx" => Entry::Rx {
                    conn,
                    end: num("offset")? + num("len")?,
                },
                "tx" => Entry::Tx {
                    conn,
                    rx_offset: num("rx_offset")?,
                    data: v["data"].as_str()?.to_string(),
                },
                "close" => Entry::Close { conn },
                "note" => Entry::Note(v["text"].as_str()?.to_string()),
                _ => return None,
            })
        })
        .collect()
}

// ---- a raw ESL connection that records what it receives ---------------------------------

/// Waits until `cond` holds, re-checking whenever `changes` moves; false at `deadline`.
pub async fn wait_for(
    changes: &watch::Sender<u64>,
    deadline: Instant,
    mut cond: impl FnMut() -> bool,
) -> bool {
    let mut rx = changes.subscribe();
    loop {
        if cond() {
            return true;
        }
        if tokio::time::timeout_at(deadline, rx.changed())
            .await
            .is_err()
        {
            return cond();
        }
    }
}

/// A raw ESL connection that records every frame it receives.
pub struct Recorder {
    writer: Option<OwnedWriteHalf>,
    frames: Arc<Mutex<Vec<Frame>>>,
    changes: Arc<watch::Sender<u64>>,
    reader: tokio::task::JoinHandle<()>,
}

impl Recorder {
    /// Connects; every read bumps `changes` (one sender may serve several connections).
    pub async fn open(addr: SocketAddr, changes: Arc<watch::Sender<u64>>) -> Recorder {
        let s = TcpStream::connect(addr).await.expect("connect");
        let (mut rd, writer) = s.into_split();
        let frames = Arc::new(Mutex::new(Vec::new()));
        let (f2, c2) = (frames.clone(), changes.clone());
        let reader = tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut chunk = vec![0u8; 65536];
            loop {
                match rd.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        buf.extend_from_slice(&chunk[..n]);
                        let new = take_frames(&mut buf);
                        f2.lock().expect("frames lock").extend(new);
                        c2.send_modify(|n| *n += 1);
                    }
                }
            }
        });
        Recorder {
            writer: Some(writer),
            frames,
            changes,
            reader,
        }
    }

    /// Connected, authenticated and subscribed to `event <format> ALL`.
    pub async fn connect(addr: SocketAddr, format: &str) -> Recorder {
        Recorder::subscribed(addr, format, "ALL").await
    }

    /// Connected, authenticated and subscribed to `event <format> <names>`.
    pub async fn subscribed(addr: SocketAddr, format: &str, names: &str) -> Recorder {
        let mut r = Recorder::open(addr, Arc::new(watch::Sender::new(0))).await;
        r.wait(|fs| !fs.is_empty()).await;
        let auth = r.send("auth ClueCon\n\n").await;
        assert_eq!(auth.header("Reply-Text"), Some("+OK accepted"));
        r.send(&format!("event {format} {names}\n\n")).await;
        r
    }

    pub fn snapshot(&self) -> Vec<Frame> {
        self.frames.lock().expect("frames lock").clone()
    }

    fn replies(&self) -> usize {
        self.snapshot().iter().filter(|f| f.is_reply()).count()
    }

    /// Sends `text` as it is, without waiting for anything.
    pub async fn write(&mut self, text: &str) {
        let w = self.writer.as_mut().expect("connection open");
        w.write_all(text.as_bytes()).await.expect("write");
    }

    /// Closes the socket as a killed process would; nothing received after counts.
    pub fn close(&mut self) {
        self.writer = None;
        self.reader.abort();
    }

    pub async fn wait_until(
        &self,
        deadline: Instant,
        mut cond: impl FnMut(&[Frame]) -> bool,
    ) -> bool {
        wait_for(&self.changes, deadline, || cond(&self.snapshot())).await
    }

    /// Waits up to 10 s for `cond`, else panics.
    pub async fn wait(&mut self, cond: impl FnMut(&[Frame]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        assert!(
            self.wait_until(deadline, cond).await,
            "timed out waiting for a frame"
        );
    }

    /// Sends a command and waits for its reply.
    pub async fn send(&mut self, text: &str) -> Frame {
        let before = self.replies();
        self.write(text).await;
        self.wait(|fs| fs.iter().filter(|f| f.is_reply()).count() > before)
            .await;
        self.snapshot()
            .into_iter()
            .filter(|f| f.is_reply())
            .nth(before)
            .expect("reply")
    }

    /// Sends a command and returns its reply's text.
    pub async fn ask(&mut self, text: &str) -> String {
        self.send(text).await.reply_text()
    }

    pub async fn wait_event(&mut self, name: &str, uuid: &str) {
        self.event(name, uuid).await;
    }

    /// Waits for the first event `name` of channel `uuid` and returns it.
    pub async fn event(&mut self, name: &str, uuid: &str) -> Frame {
        let is = |f: &Frame| f.name() == Some(name) && f.ev("Unique-ID") == Some(uuid);
        self.wait(|fs| fs.iter().any(is)).await;
        self.snapshot()
            .into_iter()
            .find(is)
            .expect("the event waited for")
    }

    /// Waits for the BACKGROUND_JOB of `job_uuid` and returns its body.
    pub async fn job(&mut self, job_uuid: &str) -> String {
        let is = |f: &Frame| f.ev("Job-UUID") == Some(job_uuid) && f.name().is_some();
        self.wait(|fs| fs.iter().any(is)).await;
        let job = self.snapshot().into_iter().find(is).expect("the job");
        job.ev_body().to_string()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

// ---- the capture's uuids as the simulator's ------------------------------------------------

/// Which of the simulator's uuids stands for each uuid the real switch chose; uuids the
/// client chose (agent legs, sendmsg `Event-UUID`s, call ids) are the same on both sides.
#[derive(Clone, Debug, Default)]
pub struct UuidMap(HashMap<String, String>);

fn uuids(text: &str) -> Vec<&str> {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
            .expect("uuid regex")
    })
    .find_iter(text)
    .map(|m| m.as_str())
    .collect()
}

impl UuidMap {
    pub fn insert(&mut self, captured: &str, ours: &str) {
        self.0.insert(captured.to_string(), ours.to_string());
    }

    /// The simulator's uuid for a captured one (itself when the client chose it).
    pub fn get(&self, captured: &str) -> String {
        self.0
            .get(captured)
            .cloned()
            .unwrap_or_else(|| captured.to_string())
    }

    /// `text` with every captured uuid replaced by the simulator's.
    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_string();
        for u in uuids(text) {
            if let Some(ours) = self.0.get(u) {
                out = out.replace(u, ours);
            }
        }
        out
    }

    /// Learns the uuids the real switch made up in a reply (Job-UUIDs, sendevent's
    /// Event-UUIDs): each one not yet known and not in `sent` (the client's own) stands for
    /// the uuid at the same place in the simulator's reply.
    pub fn learn(&mut self, captured: &str, ours: &str, sent: &str) {
        for (c, o) in uuids(captured).into_iter().zip(uuids(ours)) {
            if !self.0.contains_key(c) && !sent.contains(c) {
                self.insert(c, o);
            }
        }
    }
}

// ---- per-channel event sequences ---------------------------------------------------------

/// What `sequences` records besides the event name.
pub struct Keys<'a> {
    /// Application-UUIDs we chose (sendmsg `Event-UUID`s); others are the switch's own.
    pub app_uuids: &'a [String],
    /// Headers compared besides the common ones.
    pub extra: &'a [&'a str],
    /// The sequence that events of no channel (PRESENCE_PROBE, …) go to; None: dropped.
    pub unowned: Option<&'a str>,
}

/// The `Event-UUID`s of the sendmsg commands among `commands` (any case of the name).
pub fn our_app_uuids<'a>(commands: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    commands
        .into_iter()
        .filter(|c| c.starts_with("sendmsg"))
        .flat_map(|c| c.lines())
        .filter_map(|l| l.split_once(": "))
        .filter(|(k, _)| k.eq_ignore_ascii_case("Event-UUID"))
        .map(|(_, v)| v.to_string())
        .collect()
}

/// `transfer_history` without its epochs and random uuids: `uuid_br:<peer>|bl_xfer:…`.
fn normalized_history(h: &str, map: &UuidMap) -> String {
    let list = h.strip_prefix("ARRAY::").unwrap_or(h);
    list.split("|:")
        .map(|entry| {
            let what = entry.splitn(3, ':').nth(2).unwrap_or("");
            match what.split_once(':') {
                Some((kind, target)) => format!("{kind}:{}", map.get(target)),
                None => what.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("|")
}

/// The channel an event belongs to: its Unique-ID, or for BACKGROUND_JOB the leg its
/// originate named (`origination_uuid`); None for an event of no channel.
pub fn owner(f: &Frame) -> Option<&str> {
    if f.ev("Event-Name") == Some("BACKGROUND_JOB") {
        return f
            .ev("Job-Command-Arg")?
            .split("origination_uuid=")
            .nth(1)?
            .split([',', '}', ']'])
            .next();
    }
    f.ev("Unique-ID")
}

/// An event as compared: its name (or CUSTOM subclass) and key headers, uuids mapped.
fn item(f: &Frame, map: &UuidMap, keys: &Keys<'_>) -> String {
    let name = f.ev("Event-Name").unwrap_or("");
    let mut item = match f.ev("Event-Subclass") {
        Some(s) if name == "CUSTOM" => format!("CUSTOM {s}"),
        _ => name.to_string(),
    };
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
    if let Some(u) = f.ev("Application-UUID") {
        if keys.app_uuids.iter().any(|k| k == u) {
            add("Application-UUID", Some(u.to_string()));
        }
    }
    add(
        "Other-Leg-Unique-ID",
        f.ev("Other-Leg-Unique-ID").map(|u| map.get(u)),
    );
    add(
        "Bridge-A-Unique-ID",
        f.ev("Bridge-A-Unique-ID").map(|u| map.get(u)),
    );
    add(
        "Bridge-B-Unique-ID",
        f.ev("Bridge-B-Unique-ID").map(|u| map.get(u)),
    );
    add(
        "Playback-File-Path",
        f.ev("Playback-File-Path").map(str::to_string),
    );
    add(
        "Playback-Status",
        f.ev("Playback-Status").map(str::to_string),
    );
    add("DTMF-Digit", f.ev("DTMF-Digit").map(str::to_string));
    for k in keys.extra {
        let v = f.ev(k);
        match *k {
            "variable_transfer_history" => add(k, v.map(|h| normalized_history(h, map))),
            // The date the switch's clock read.
            "Application-Data" if v.is_some_and(|v| v.starts_with("RFC2822_DATE=")) => {
                add(k, Some("RFC2822_DATE=<date>".to_string()))
            }
            // Values that embed a captured uuid (a recording's path) name ours.
            _ => add(k, v.map(|v| map.apply(v))),
        }
    }
    if name == "BACKGROUND_JOB" {
        add("Job-Command", f.ev("Job-Command").map(str::to_string));
        add("body", Some(map.apply(f.ev_body().trim_end())));
    }
    item
}

/// Whether an event is compared at all (media bugs only as `uuid_record`'s).
pub fn compared(f: &Frame) -> bool {
    let Some(name) = f.ev("Event-Name") else {
        return false;
    };
    let foreign_bug =
        name.starts_with("MEDIA_BUG_") && f.ev("Media-Bug-Function") != Some("session_record");
    !EXCLUDED.contains(&name) && !foreign_bug
}

/// Per-channel sequences of "NAME key=value…" with uuids mapped through `map`.
pub fn sequences(frames: &[Frame], map: &UuidMap, keys: &Keys<'_>) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for f in frames.iter().filter(|f| compared(f)) {
        let stream = match (owner(f), keys.unowned) {
            (Some(u), _) => map.get(u),
            (None, Some(s)) if f.ev("Event-Name") != Some("BACKGROUND_JOB") => s.to_string(),
            _ => continue,
        };
        out.entry(stream).or_default().push(item(f, map, keys));
    }
    out
}
