//! Reading the real Asterisk captures in `../shared/ari-traces` and replaying them against the
//! ARI simulator: the timeline's requests and WebSocket frames are sent again (ids of the
//! capture swapped for the simulator's), SIP-side actions (callers arriving, BYE, CANCEL,
//! DTMF) are taken from the capture's own events and done through the simulator's handle at
//! the same moment, and everything received is kept for comparison.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use switchboard::sim::{CallSpec, PhoneBehavior, PhoneSpec};
use switchboard::sim_ari::{AriEntryPoint, AriSimConfig, AriSimHandle, AriSimulator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub fn traces_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/ari-traces"));
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipped: ARI traces not found at {}", dir.display());
        None
    }
}

/// Every capture name (`connect`, `inbound-stasis.all`, …).
pub fn capture_names() -> Vec<String> {
    let Some(dir) = traces_dir() else {
        return Vec::new();
    };
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read traces dir")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".timeline.jsonl").map(str::to_string))
        })
        .collect();
    names.sort();
    names
}

pub fn timeline(name: &str) -> Option<Vec<Value>> {
    let path = traces_dir()?.join(format!("{name}.timeline.jsonl"));
    let text = std::fs::read_to_string(path).expect("read timeline");
    Some(
        text.lines()
            .map(|l| serde_json::from_str(l).expect("timeline line is JSON"))
            .collect(),
    )
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(|x| x.as_str()).unwrap_or("")
}

/// The rig: entry points 6000-6003 and 6009, agents 1-5 and the supervisor (online), agent9
/// (no contact).
pub fn rig_config() -> AriSimConfig {
    let entry = |n: &str, args: &[&str]| AriEntryPoint::stasis(n, "switchboard", args);
    let mut answered = entry("6001", &["answered", "support"]);
    answered.answer_first = true;
    let mut vip = entry("6003", &["queue", "support", "5"]);
    vip.variables = vec![
        ("QUEUE_NAME".into(), "support".into()),
        ("QUEUE_PRIORITY".into(), "5".into()),
        ("__TENANT".into(), "acme".into()),
        ("CALLERID(name)".into(), "VIP ${CALLERID(num)}".into()),
    ];
    let mut wait = AriEntryPoint::stasis("6009", "", &[]);
    wait.answer_first = true;
    AriSimConfig {
        entry_points: vec![
            entry("6000", &["queue", "support"]),
            answered,
            AriEntryPoint::stasis("6002", "", &[]),
            vip,
            wait,
        ],
        ..AriSimConfig::default()
    }
}

/// The phones as the capture's notes describe the sipp agents (others answer after 1 s).
pub fn rig_phones(sim: &AriSimHandle, notes: &[String]) {
    let users = [
        "agent1",
        "agent2",
        "agent3",
        "agent4",
        "agent5",
        "supervisor",
    ];
    for (i, user) in users.iter().enumerate() {
        if *user == "supervisor" {
            sim.add_phone(PhoneSpec {
                user: "agent9".into(),
                behavior: PhoneBehavior::Unregistered,
                hangup_after_talk: None,
            });
        }
        let port = format!("127.0.0.1:{}", 5171 + i);
        let note = notes
            .iter()
            .find(|n| n.starts_with("sipp agent on") && n.contains(&port));
        let mut spec = PhoneSpec::answering(*user, Duration::from_secs(1));
        if let Some(n) = note {
            if n.contains("486") {
                spec.behavior = PhoneBehavior::Busy;
            } else if n.contains("never answers") {
                spec.behavior = PhoneBehavior::NoAnswer;
            } else if let Some(ms) = number_before(n, " ms later 200 OK") {
                spec.behavior = PhoneBehavior::Answer {
                    after: Duration::from_millis(ms),
                };
            }
            if let Some(ms) = number_before(n, " ms after the ACK") {
                spec.hangup_after_talk = Some(Duration::from_millis(ms));
            }
        }
        sim.add_phone(spec);
    }
}

fn number_before(text: &str, marker: &str) -> Option<u64> {
    let end = text.find(marker)?;
    let start = text[..end]
        .rfind(|c: char| !c.is_ascii_digit())
        .map(|p| p + 1)
        .unwrap_or(0);
    text[start..end].parse().ok()
}

/// Stored recordings the rig had from earlier captures: listed, never recorded here.
fn recordings_from_before(entries: &[Value]) -> Vec<String> {
    let recorded: Vec<String> = entries
        .iter()
        .filter(|e| s(e, "kind") == "tx")
        .flat_map(|e| {
            let q = s(e, "query");
            q.split('&')
                .filter_map(|p| {
                    p.strip_prefix("name=")
                        .or_else(|| p.strip_prefix("destinationRecordingName="))
                })
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    let mut out = Vec::new();
    for e in entries.iter().filter(|e| s(e, "kind") == "http_response") {
        let Ok(Value::Array(items)) = serde_json::from_str::<Value>(s(e, "body")) else {
            continue;
        };
        for item in items {
            let keys: Vec<&String> = item
                .as_object()
                .map(|m| m.keys().collect())
                .unwrap_or_default();
            if keys.len() == 2 && item.get("format").is_some() {
                let name = s(&item, "name").to_string();
                if !recorded.contains(&name) && !out.contains(&name) {
                    out.push(name);
                }
            }
        }
    }
    out
}

/// What the capture's SIP side did, found from its events.
#[derive(Clone, Debug)]
enum SipAction {
    Call {
        capture_id: String,
        number: String,
        destination: String,
    },
    Bye {
        capture_id: String,
    },
    Dtmf {
        capture_id: String,
        digit: String,
    },
}

/// The SIP-side actions in timeline order, each at the index of the event showing it.
fn sip_actions(entries: &[Value]) -> BTreeMap<usize, Vec<SipAction>> {
    let mut out: BTreeMap<usize, Vec<SipAction>> = BTreeMap::new();
    let mut seen_channels: Vec<String> = Vec::new();
    let mut seen_events: Vec<(String, String, String)> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if s(e, "kind") != "ws_frame" {
            continue;
        }
        let Ok(ev) = serde_json::from_str::<Value>(s(e, "text")) else {
            continue;
        };
        let kind = s(&ev, "type").to_string();
        let Some(ch) = ev.get("channel").filter(|c| c.is_object()) else {
            continue;
        };
        let id = s(ch, "id").to_string();
        let name = s(ch, "name");
        let key = (
            kind.clone(),
            id.clone(),
            s(&ev, "timestamp").to_string() + s(&ev, "digit"),
        );
        if seen_events.contains(&key) {
            continue;
        }
        seen_events.push(key);
        if name.starts_with("PJSIP/callers-") && !seen_channels.contains(&id) {
            seen_channels.push(id.clone());
            let caller = ch.get("caller").cloned().unwrap_or(Value::Null);
            let exten = ch
                .get("dialplan")
                .map(|d| s(d, "exten").to_string())
                .unwrap_or_default();
            out.entry(i).or_default().push(SipAction::Call {
                capture_id: id.clone(),
                number: s(&caller, "number").to_string(),
                destination: exten,
            });
        }
        let from_far_end = kind == "ChannelHangupRequest"
            && (ev.get("cause").is_none() || ev.get("cause").and_then(|c| c.as_i64()) == Some(127))
            && name.starts_with("PJSIP/callers-");
        if from_far_end {
            out.entry(i).or_default().push(SipAction::Bye {
                capture_id: id.clone(),
            });
        }
        if kind == "ChannelDtmfReceived" {
            out.entry(i).or_default().push(SipAction::Dtmf {
                capture_id: id,
                digit: s(&ev, "digit").to_string(),
            });
        }
    }
    out
}

/// Capture ids → the simulator's.
#[derive(Default, Clone, Debug)]
pub struct IdMap {
    pub pairs: Vec<(String, String)>,
}

impl IdMap {
    pub fn add(&mut self, capture: &str, sim: &str) {
        if capture.is_empty() || capture == sim || self.pairs.iter().any(|(c, _)| c == capture) {
            return;
        }
        self.pairs.push((capture.to_string(), sim.to_string()));
        self.pairs.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
    }

    pub fn get(&self, capture: &str) -> String {
        self.pairs
            .iter()
            .find(|(c, _)| c == capture)
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| capture.to_string())
    }

    /// Replaces every capture id in `text` (not where a digit follows: `…60.3` in `…60.31`).
    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (c, sim) in &self.pairs {
            let mut result = String::new();
            let mut rest = out.as_str();
            while let Some(pos) = rest.find(c.as_str()) {
                let after = rest[pos + c.len()..].chars().next();
                result.push_str(&rest[..pos]);
                if after.is_some_and(|ch| ch.is_ascii_digit()) {
                    result.push_str(c);
                } else {
                    result.push_str(sim);
                }
                rest = &rest[pos + c.len()..];
            }
            result.push_str(rest);
            out = result;
        }
        out
    }
}

/// One HTTP response as received.
#[derive(Clone, Debug)]
pub struct HttpResponse {
    pub status_line: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads one response from the front of `buf` (reading more from `stream` as needed).
pub async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<HttpResponse> {
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4) {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let mut lines = head.split("\r\n");
            let status_line = lines.next().unwrap_or("").to_string();
            let headers: Vec<(String, String)> = lines
                .filter(|l| !l.is_empty())
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.to_string(), v.trim().to_string()))
                .collect();
            let len: usize = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("Content-Length"))
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + len {
                let body = buf[end..end + len].to_vec();
                buf.drain(..end + len);
                return Some(HttpResponse {
                    status_line,
                    headers,
                    body,
                });
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A masked client frame.
pub fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x11u8, 0x22, 0x33, 0x44];
    let mut out = vec![0x80 | opcode];
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// A frame the server sent: (opcode, payload).
pub fn server_frame(buf: &[u8]) -> Option<((u8, Vec<u8>), usize)> {
    if buf.len() < 2 {
        return None;
    }
    assert_eq!(buf[1] & 0x80, 0, "server frames are unmasked");
    assert_eq!(buf[0] & 0x80, 0x80, "server frames have FIN");
    let mut len = (buf[1] & 0x7f) as usize;
    let mut at = 2;
    if len == 126 {
        len = u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?]) as usize;
        at = 4;
    } else if len == 127 {
        let mut a = [0u8; 8];
        a.copy_from_slice(buf.get(2..10)?);
        len = u64::from_be_bytes(a) as usize;
        at = 10;
    }
    let payload = buf.get(at..at + len)?.to_vec();
    Some(((buf[0] & 0x0f, payload), at + len))
}

/// Everything a replay received.
#[derive(Default, Debug)]
pub struct Received {
    /// Per connection (`h1`, `w1`, …): the HTTP responses in order.
    pub responses: BTreeMap<String, Vec<HttpResponse>>,
    /// Per WebSocket connection: the frames in order (opcode, payload).
    pub frames: BTreeMap<String, Vec<(u8, Vec<u8>)>>,
    /// WebSocket connections the server ended (EOF).
    pub eofs: Vec<String>,
    pub ids: IdMap,
}

enum Conn {
    Http {
        stream: TcpStream,
        buf: Vec<u8>,
    },
    Ws {
        write: tokio::net::tcp::OwnedWriteHalf,
        reader: tokio::task::JoinHandle<()>,
    },
}

/// Replays capture `name` against a fresh simulator set up like the rig.
pub async fn replay(name: &str) -> Option<(Vec<Value>, Received, AriSimHandle)> {
    let entries = timeline(name)?;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let sim = AriSimulator::start(listener, rig_config())
        .await
        .expect("start sim");
    let notes: Vec<String> = entries
        .iter()
        .filter(|e| s(e, "kind") == "note")
        .map(|e| s(e, "text").to_string())
        .collect();
    rig_phones(&sim, &notes);
    for name in recordings_from_before(&entries) {
        sim.store_recording(&name, Duration::from_secs(1));
    }
    let actions = sip_actions(&entries);
    let addr = sim.http_addr();
    let received = Arc::new(Mutex::new(Received::default()));
    let mut conns: HashMap<String, Conn> = HashMap::new();
    let t0 = entries
        .first()
        .and_then(|e| e.get("t"))
        .and_then(|t| t.as_f64())
        .unwrap_or(0.0);
    let start = Instant::now();
    let mut restart: Option<tokio::task::JoinHandle<()>> = None;

    for (i, e) in entries.iter().enumerate() {
        let t = e.get("t").and_then(|t| t.as_f64()).unwrap_or(t0) - t0;
        let due = start + Duration::from_secs_f64(t.max(0.0));
        tokio::time::sleep_until(due.into()).await;
        if let Some(list) = actions.get(&i) {
            for a in list {
                do_sip_action(&sim, a, &received);
            }
        }
        let conn_name = s(e, "conn").to_string();
        match s(e, "kind") {
            "note" if s(e, "text").starts_with("running: asterisk -rx 'core restart now'") => {
                let sim = sim.clone();
                restart = Some(tokio::spawn(async move {
                    sim.restart().await.expect("restart");
                }));
            }
            "note" if s(e, "text").starts_with("part B: ari.conf") => {
                sim.set_channelvars(
                    ["QUEUE_NAME", "QUEUE_PRIORITY", "TENANT", "CALLERID(name)"]
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                );
            }
            "note" if s(e, "text").starts_with("ari.conf restored") => {
                sim.set_channelvars(Vec::new())
            }
            "open" => {
                let mut stream = None;
                for _ in 0..50 {
                    if let Ok(s) = TcpStream::connect(addr).await {
                        stream = Some(s);
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let stream = stream.expect("connect to the simulator");
                conns.insert(
                    conn_name.clone(),
                    Conn::Http {
                        stream,
                        buf: Vec::new(),
                    },
                );
            }
            "close" => {
                if let Some(Conn::Ws { reader, .. }) = conns.remove(&conn_name) {
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    reader.abort();
                }
            }
            "tx" => {
                wait_for_events(&entries[..i], &received).await;
            }
            _ => {}
        }
        match s(e, "kind") {
            "tx" if e.get("ws_opcode").is_some() => {
                let Some(Conn::Ws { write, .. }) = conns.get_mut(&conn_name) else {
                    continue;
                };
                let opcode = e.get("ws_opcode").and_then(|o| o.as_u64()).unwrap_or(1) as u8;
                let payload: Vec<u8> =
                    if let Some(hex) = e.get("ws_payload_hex").and_then(|h| h.as_str()) {
                        (0..hex.len() / 2)
                            .filter_map(|k| u8::from_str_radix(&hex[2 * k..2 * k + 2], 16).ok())
                            .collect()
                    } else {
                        let ids = received.lock().expect("lock").ids.clone();
                        ids.apply(s(e, "ws_payload")).into_bytes()
                    };
                let _ = write.write_all(&client_frame(opcode, &payload)).await;
            }
            "tx" => {
                let expected: Vec<&Value> = entries[i + 1..]
                    .iter()
                    .take_while(|x| !(s(x, "kind") == "tx" && s(x, "conn") == conn_name))
                    .filter(|x| s(x, "kind") == "http_response" && s(x, "conn") == conn_name)
                    .collect();
                let ids = received.lock().expect("lock").ids.clone();
                let request = rewrite_request(s(e, "data"), &ids);
                let Some(Conn::Http {
                    mut stream,
                    mut buf,
                }) = conns.remove(&conn_name)
                else {
                    continue;
                };
                if stream.write_all(&request).await.is_err() {
                    continue;
                }
                let mut got = Vec::new();
                for _ in 0..expected.len().max(1) {
                    match read_response(&mut stream, &mut buf).await {
                        Some(r) => got.push(r),
                        None => break,
                    }
                }
                {
                    let mut rec = received.lock().expect("lock");
                    for (cap, ours) in expected.iter().zip(got.iter()) {
                        map_body_ids(&mut rec.ids, s(cap, "body"), &ours.body_text());
                    }
                    rec.responses
                        .entry(conn_name.clone())
                        .or_default()
                        .extend(got.iter().cloned());
                }
                let upgraded = got.iter().any(|r| r.status_line.contains(" 101 "));
                if upgraded {
                    let (mut read, write) = stream.into_split();
                    let received = Arc::clone(&received);
                    let name = conn_name.clone();
                    let reader = tokio::spawn(async move {
                        let mut chunk = vec![0u8; 65536];
                        loop {
                            while let Some((frame, used)) = server_frame(&buf) {
                                buf.drain(..used);
                                received
                                    .lock()
                                    .expect("lock")
                                    .frames
                                    .entry(name.clone())
                                    .or_default()
                                    .push(frame);
                            }
                            match read.read(&mut chunk).await {
                                Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                                _ => {
                                    received.lock().expect("lock").eofs.push(name.clone());
                                    return;
                                }
                            }
                        }
                    });
                    conns.insert(conn_name.clone(), Conn::Ws { write, reader });
                } else {
                    conns.insert(conn_name.clone(), Conn::Http { stream, buf });
                }
            }
            _ => {}
        }
    }
    if let Some(r) = restart {
        let _ = r.await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    for (_, c) in conns.drain() {
        if let Conn::Ws { reader, .. } = c {
            reader.abort();
        }
    }
    let received = std::mem::take(&mut *received.lock().expect("lock"));
    Some((entries, received, sim))
}

/// Waits (up to 0.3 s) until every WebSocket has received as many compared events as the
/// capture had before this point: the client acted on what it had seen.
async fn wait_for_events(before: &[Value], received: &Arc<Mutex<Received>>) {
    let mut want: BTreeMap<String, usize> = BTreeMap::new();
    for e in before.iter().filter(|e| s(e, "kind") == "ws_frame") {
        if let Ok(v) = serde_json::from_str::<Value>(s(e, "text")) {
            if !excluded(&v) {
                *want.entry(s(e, "conn").to_string()).or_default() += 1;
            }
        }
    }
    let deadline = Instant::now() + Duration::from_millis(300);
    loop {
        let done = {
            let rec = received.lock().expect("lock");
            want.iter().all(|(conn, n)| {
                let have = rec
                    .frames
                    .get(conn)
                    .map(|f| {
                        f.iter()
                            .filter(|(op, _)| *op == 1)
                            .filter_map(|(_, p)| serde_json::from_slice::<Value>(p).ok())
                            .filter(|v| !excluded(v))
                            .count()
                    })
                    .unwrap_or(0);
                have >= *n || rec.eofs.contains(conn)
            })
        };
        if done || Instant::now() > deadline {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn do_sip_action(sim: &AriSimHandle, action: &SipAction, received: &Arc<Mutex<Received>>) {
    match action {
        SipAction::Call {
            capture_id,
            number,
            destination,
        } => {
            // channel-vars part B: the rig's caller 1012 sends `X-Customer: C-42`.
            let headers = if number == "1012" {
                vec![("X-Customer".to_string(), "C-42".to_string())]
            } else {
                Vec::new()
            };
            let spec = CallSpec::new(number.clone(), destination.clone());
            let id = sim.place_call_with_headers(spec, headers);
            received.lock().expect("lock").ids.add(capture_id, &id);
        }
        SipAction::Bye { capture_id } => {
            let id = received.lock().expect("lock").ids.get(capture_id);
            sim.hangup(&id);
        }
        SipAction::Dtmf { capture_id, digit } => {
            let id = received.lock().expect("lock").ids.get(capture_id);
            sim.send_dtmf(&id, digit);
        }
    }
}

/// The captured request with ids swapped and Content-Length fixed.
fn rewrite_request(data: &str, ids: &IdMap) -> Vec<u8> {
    let bytes: Vec<u8> = data.chars().map(|c| c as u32 as u8).collect();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let text = ids.apply(&text);
    let Some(end) = text.find("\r\n\r\n") else {
        return text.into_bytes();
    };
    let (head, body) = (&text[..end], &text[end + 4..]);
    let head: Vec<String> = head
        .split("\r\n")
        .map(|l| {
            if l.to_ascii_lowercase().starts_with("content-length:") {
                format!("Content-Length: {}", body.len())
            } else {
                l.to_string()
            }
        })
        .collect();
    format!("{}\r\n\r\n{}", head.join("\r\n"), body).into_bytes()
}

/// Learns ids from a response pair: the top-level `id` of both bodies.
fn map_body_ids(ids: &mut IdMap, capture: &str, ours: &str) {
    let (Ok(c), Ok(o)) = (
        serde_json::from_str::<Value>(capture),
        serde_json::from_str::<Value>(ours),
    ) else {
        return;
    };
    if let (Some(ci), Some(oi)) = (
        c.get("id").and_then(|v| v.as_str()),
        o.get("id").and_then(|v| v.as_str()),
    ) {
        ids.add(ci, oi);
    }
}

// ---- comparison -----------------------------------------------------------------------

/// Keys whose values are compared (others: only present, in order, same JSON type).
const COMPARED_VALUES: [&str; 11] = [
    "state",
    "message",
    "error",
    "format",
    "bridge_type",
    "media_uri",
    "next_media_uri",
    "language",
    "status_code",
    "reason_phrase",
    "ping",
];

/// The JSON's shape: keys in order (recursively), value types, and the compared values.
pub fn shape(v: &Ordered, ids: &IdMap, capture_side: bool) -> String {
    match v {
        Ordered::Obj(fields) => {
            let has = |k: &str| fields.iter().any(|(x, _)| x == k);
            let parts: Vec<String> = fields
                .iter()
                .map(|(k, x)| {
                    let inner = match x {
                        // A recording's 201 says `queued` or `recording`: it races its start.
                        Ordered::Str(sv)
                            if k == "state"
                                && has("target_uri")
                                && has("format")
                                && (sv == "queued" || sv == "recording") =>
                        {
                            "=queued|recording".to_string()
                        }
                        Ordered::Str(sv) if COMPARED_VALUES.contains(&k.as_str()) => {
                            let sv = if capture_side {
                                ids.apply(sv)
                            } else {
                                sv.clone()
                            };
                            format!("={sv:?}")
                        }
                        Ordered::Str(sv)
                            if k == "value" && !sv.contains('/') && !sv.contains(':') =>
                        {
                            format!("={sv:?}")
                        }
                        other => shape(other, ids, capture_side),
                    };
                    format!("{k}{inner}")
                })
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Ordered::Arr(items) => {
            let parts: Vec<String> = items.iter().map(|x| shape(x, ids, capture_side)).collect();
            format!("[{}]", parts.join(","))
        }
        Ordered::Str(_) => ":s".into(),
        Ordered::Num(_) => ":n".into(),
        Ordered::Bool(b) => format!(":{b}"),
        Ordered::Null => ":null".into(),
    }
}

/// An event reduced to what must match: type, key order and the key fields.
pub fn event_signature(ev: &Value, text: &str) -> String {
    let keys = Ordered::parse(text).map(|o| o.keys()).unwrap_or_default();
    let mut fields = Vec::new();
    for k in [
        "cause",
        "cause_txt",
        "soft",
        "tech_cause",
        "dialstatus",
        "args",
        "digit",
        "variable",
    ] {
        if let Some(v) = ev.get(k) {
            fields.push(format!("{k}={v}"));
        }
    }
    if let Some(state) = ev
        .get("channel")
        .or_else(|| ev.get("peer"))
        .and_then(|c| c.get("state"))
    {
        fields.push(format!("state={state}"));
    }
    for p in ["playback", "recording", "device_state"] {
        if let Some(x) = ev.get(p) {
            if let Some(st) = x.get("state") {
                fields.push(format!("{p}.state={st}"));
            }
            if let Some(c) = x.get("cause") {
                fields.push(format!("{p}.cause={c}"));
            }
        }
    }
    format!(
        "{} [{}] {}",
        s(ev, "type"),
        keys.join(","),
        fields.join(" ")
    )
}

/// Which id an event belongs to: the channel (or Dial's peer), else the bridge, playback,
/// recording or device.
pub fn event_group(ev: &Value) -> String {
    if let Some(c) = ev
        .get("channel")
        .or_else(|| ev.get("peer"))
        .filter(|c| c.is_object())
    {
        return format!("channel:{}", s(c, "id"));
    }
    for (k, field) in [
        ("bridge", "id"),
        ("playback", "id"),
        ("recording", "name"),
        ("device_state", "name"),
    ] {
        if let Some(x) = ev.get(k) {
            return format!("{k}:{}", s(x, field));
        }
    }
    match s(ev, "type") {
        "ChannelVarset" => "global".into(),
        other => format!("app:{other}"),
    }
}

/// Events the comparison leaves out (see `fidelity_ari`).
pub fn excluded(ev: &Value) -> bool {
    let kind = s(ev, "type");
    if kind == "ChannelConnectedLine" || kind == "ChannelCallerId" {
        return true;
    }
    if kind == "ChannelVarset" {
        let var = s(ev, "variable");
        return var.starts_with("RTPAUDIOQOS") || var == "BRIDGEPEER" || var == "BRIDGEPVTCALLID";
    }
    if kind == "DeviceStateChanged" {
        let name = ev.get("device_state").map(|d| s(d, "name")).unwrap_or("");
        return !(name.starts_with("PJSIP/") || name.starts_with("Stasis:"));
    }
    false
}

/// JSON with object keys in the order they were written (serde_json's map sorts them, and
/// the order is part of what must match).
#[derive(Clone, Debug, PartialEq)]
pub enum Ordered {
    Obj(Vec<(String, Ordered)>),
    Arr(Vec<Ordered>),
    Str(String),
    Num(String),
    Bool(bool),
    Null,
}

impl Ordered {
    pub fn parse(text: &str) -> Option<Ordered> {
        let chars: Vec<char> = text.chars().collect();
        let mut at = 0;
        let v = parse_value(&chars, &mut at)?;
        skip_ws(&chars, &mut at);
        (at == chars.len()).then_some(v)
    }

    pub fn keys(&self) -> Vec<String> {
        match self {
            Ordered::Obj(fields) => fields.iter().map(|(k, _)| k.clone()).collect(),
            _ => Vec::new(),
        }
    }
}

fn skip_ws(c: &[char], at: &mut usize) {
    while *at < c.len() && c[*at].is_whitespace() {
        *at += 1;
    }
}

fn parse_string(c: &[char], at: &mut usize) -> Option<String> {
    if c.get(*at) != Some(&'"') {
        return None;
    }
    *at += 1;
    let mut out = String::new();
    while let Some(&ch) = c.get(*at) {
        *at += 1;
        match ch {
            '"' => return Some(out),
            '\\' => {
                let esc = *c.get(*at)?;
                *at += 1;
                match esc {
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'u' => {
                        let hex: String = c.get(*at..*at + 4)?.iter().collect();
                        *at += 4;
                        out.push(
                            char::from_u32(u32::from_str_radix(&hex, 16).ok()?).unwrap_or('?'),
                        );
                    }
                    other => out.push(other),
                }
            }
            other => out.push(other),
        }
    }
    None
}

fn parse_value(c: &[char], at: &mut usize) -> Option<Ordered> {
    skip_ws(c, at);
    match *c.get(*at)? {
        '{' => {
            *at += 1;
            let mut fields = Vec::new();
            loop {
                skip_ws(c, at);
                if c.get(*at) == Some(&'}') {
                    *at += 1;
                    return Some(Ordered::Obj(fields));
                }
                let key = parse_string(c, at)?;
                skip_ws(c, at);
                if c.get(*at) != Some(&':') {
                    return None;
                }
                *at += 1;
                let v = parse_value(c, at)?;
                fields.push((key, v));
                skip_ws(c, at);
                match c.get(*at)? {
                    ',' => *at += 1,
                    '}' => {}
                    _ => return None,
                }
            }
        }
        '[' => {
            *at += 1;
            let mut items = Vec::new();
            loop {
                skip_ws(c, at);
                if c.get(*at) == Some(&']') {
                    *at += 1;
                    return Some(Ordered::Arr(items));
                }
                items.push(parse_value(c, at)?);
                skip_ws(c, at);
                match c.get(*at)? {
                    ',' => *at += 1,
                    ']' => {}
                    _ => return None,
                }
            }
        }
        '"' => parse_string(c, at).map(Ordered::Str),
        't' if c.get(*at..*at + 4)? == ['t', 'r', 'u', 'e'] => {
            *at += 4;
            Some(Ordered::Bool(true))
        }
        'f' if c.get(*at..*at + 5)? == ['f', 'a', 'l', 's', 'e'] => {
            *at += 5;
            Some(Ordered::Bool(false))
        }
        'n' if c.get(*at..*at + 4)? == ['n', 'u', 'l', 'l'] => {
            *at += 4;
            Some(Ordered::Null)
        }
        _ => {
            let start = *at;
            while *at < c.len() && (c[*at].is_ascii_digit() || "+-.eE".contains(c[*at])) {
                *at += 1;
            }
            (*at > start).then(|| Ordered::Num(c[start..*at].iter().collect()))
        }
    }
}
