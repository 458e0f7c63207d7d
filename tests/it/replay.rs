//! Conversation replay: each `switchboard-*` capture of batch 3 (the bytes the controller
//! itself exchanged with a real FreeSWITCH 1.10.12) is replayed against the simulator. The
//! SIP side is set up as the capture's README paragraph says (phones 1001-1003, callers and
//! their hang-ups, keys, BLF subscriptions), then every command the controller wrote goes to
//! the simulator on the same connection (c1-c6, auth and subscription included), each one once
//! the simulator has delivered what the controller had received before it (per channel, the
//! last event's name and application, counted; per connection, the replies). Callers' uuids
//! are the switch's and are mapped in order of appearance; agent legs, sendmsg `Event-UUID`s,
//! call ids and recording paths are the controller's and are used verbatim; Job-UUIDs and
//! sendevent's Event-UUIDs are mapped by the order of the replies that carry them.
//!
//! Compared: per event connection and channel, the events in order (what c1 subscribed to,
//! HEARTBEAT aside) with their key headers (`capture::item`, plus Channel-Call-State,
//! Application-Data, Record-*, Job-UUID and PRESENCE_PROBE's fields), the BACKGROUND_JOB
//! bodies, the order in which channels hang up, and every reply on every connection.
//! Excluded, and why: timing (`Event-Date-*`, `Event-Sequence`, the gaps between events;
//! the real switch and the phones set their own pace, only order is fixed); the order of
//! events of different channels other than hang-ups (it varies from run to run, e.g. the
//! job against the caller's EXECUTE_COMPLETEs in the bridge race); headers and JSON values
//! that belong to the capture machine or the SIP peers (`Core-UUID`, host names and
//! addresses, sipp's ports, Call-IDs and registration expiries, channel names, creation
//! times, the RFC2822_DATE the dialplan exports) and the switch's own Application-UUIDs;
//! in `uuid_dump` only the headers and `switchboard_*` variables the controller reads; the
//! order of `show` rows; the disconnect notice the switch sends after the client has gone
//! (it never reached the client).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use switchboard::sim::{
    CallSpec, EntryPoint, PhoneBehavior, PhoneSpec, SimConfig, Simulator, SoundFiles, WatchKind,
};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::capture::{
    compared, frames_ending_at, our_app_uuids, owner, sequences, timeline, traces_dir, wait_for,
    Entry, Frame, Keys, Recorder, UuidMap,
};

/// How long a step waits for the simulator to deliver what the controller had seen.
const STALL: Duration = Duration::from_secs(12);
/// Quiet time before the controller's sockets close: events the real switch did not send
/// have this long to show up.
const SETTLE: Duration = Duration::from_millis(300);
/// The one prompt the capture rig has (no sound packages: `ivr/*.wav` are missing).
const MENU_PROMPT: &str = "/tmp/switchboard-prompts/menu-prompt.wav";
/// How long it plays: "a long tone/music file"; the caller's key came 1.65 s into it.
const MENU_PROMPT_LENGTH: Duration = Duration::from_secs(30);
/// Headers compared besides `capture::item`'s.
const KEYS: &[&str] = &[
    "Channel-Call-State",
    "Application-Data",
    "Record-File-Path",
    "Record-Completion-Cause",
    "Job-UUID",
    "proto",
    "login",
    "sip_profile",
    "from",
    "to",
    "proto-specific-event-name",
    "expires",
    "event_type",
    "alt_event_type",
];
/// Where events of no channel (PRESENCE_PROBE) are compared.
const NO_CHANNEL: &str = "-";
/// `uuid_dump` headers compared (besides every `variable_switchboard_*`).
const DUMP_KEYS: &[&str] = &[
    "Event-Name",
    "Unique-ID",
    "Call-Direction",
    "Answer-State",
    "Channel-State",
    "Channel-Call-State",
    "Caller-Caller-ID-Name",
    "Caller-Caller-ID-Number",
    "Caller-Destination-Number",
    "Caller-Context",
    "variable_current_application",
    "variable_current_application_data",
    "variable_hangup_after_bridge",
];
/// `show … as json` columns whose values belong to the capture machine, the moment or sipp.
const SHOW_VOLATILE: &[&str] = &[
    "created",
    "created_epoch",
    "name",
    "hostname",
    "token",
    "expires",
    "network_port",
];

// ---- what the SIP side does --------------------------------------------------------------

/// Something the SIP side does during a capture.
enum Sip {
    /// A caller arrives (and presses keys `after` the answer).
    Call(CallSpec, Vec<(Duration, String)>),
    /// A phone subscribes to an entity's presence (`agent+1001`), or ends that subscription.
    Subscribe(&'static str, &'static str, WatchKind),
    Unsubscribe(&'static str, &'static str, WatchKind),
}

/// When it happens: at a timeline note starting with this text, or just before the frame
/// of `conn` that starts at this offset reaches the controller.
enum At {
    Note(String),
    Frame(&'static str, usize),
}

/// One capture and its SIP side.
struct Scenario {
    name: &'static str,
    phones: Vec<PhoneSpec>,
    cues: Vec<(At, Sip)>,
}

fn phone(user: &str, behavior: PhoneBehavior, bye_after_ms: Option<u64>) -> PhoneSpec {
    PhoneSpec {
        user: user.to_string(),
        behavior,
        hangup_after_talk: bye_after_ms.map(Duration::from_millis),
    }
}

fn note(prefix: &str) -> At {
    At::Note(prefix.to_string())
}

fn answers(ms: u64) -> PhoneBehavior {
    PhoneBehavior::Answer {
        after: Duration::from_millis(ms),
    }
}

/// Phones 1001-1003, registered; 1001 as given, the others answer after 1 s.
fn phones(first: PhoneSpec) -> Vec<PhoneSpec> {
    vec![
        first,
        phone("1002", answers(1000), None),
        phone("1003", answers(1000), None),
    ]
}

/// A caller `number` ("Caller <number>") dialing `to`: BYE `talk_ms` after the bridge, or
/// `patience_ms` after arriving if never bridged (the captures give both as "after its ACK";
/// the answer comes ~20 ms after the arrival, so only the order of what follows matters).
fn call(number: &str, to: &str, talk_ms: Option<u64>, patience_ms: Option<u64>) -> Sip {
    let mut spec = CallSpec::new(number, to);
    spec.talk_time = talk_ms.map(Duration::from_millis);
    spec.patience = patience_ms.map(Duration::from_millis);
    Sip::Call(spec, Vec::new())
}

fn sim_config() -> SimConfig {
    let entry = |number: &str, vars: &[(&str, &str)]| EntryPoint {
        number: number.to_string(),
        variables: vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    let mut entry_points = vec![
        entry(
            "5000",
            &[
                ("switchboard_queue", "support"),
                ("hangup_after_bridge", "true"),
            ],
        ),
        entry(
            "5001",
            &[
                ("switchboard_queue", "sales"),
                ("switchboard_priority", "5"),
                ("hangup_after_bridge", "true"),
            ],
        ),
        entry(
            "5003",
            &[
                ("switchboard_flow", "5000"),
                ("playback_terminators", "#"),
                ("hangup_after_bridge", "true"),
            ],
        ),
    ];
    entry_points.extend(crate::harness::shipped_feature_codes(
        &["*22", "*241", "*25", "*23"],
        &[],
    ));
    SimConfig {
        entry_points,
        sound_files: SoundFiles::Only(vec![MENU_PROMPT.to_string()]),
        // Every answered leg of these captures was bridged 1-3 ms after its answer, inside the
        // real switch's ~20 ms before the originate returns. A wider window keeps it inside on
        // a loaded machine running tests in parallel; times are not compared, the order is.
        originate_return: Duration::from_millis(400),
        ..SimConfig::default()
    }
}

// ---- the capture -------------------------------------------------------------------------

/// One step of the replay and what the controller had received before it: bytes of each
/// connection's `.rx`.
struct Step {
    action: Action,
    seen: BTreeMap<String, usize>,
}

enum Action {
    Open(String),
    Send(String, String),
    Close(String),
    Sip(usize),
}

struct Capture {
    name: &'static str,
    entries: Vec<Entry>,
    /// Each connection's frames with the offsets where they end.
    rx: BTreeMap<String, Vec<(usize, Frame)>>,
    /// The uuids the switch gave callers, in order of appearance.
    callers: Vec<String>,
    /// Everything the controller wrote, per connection, in order.
    sent: BTreeMap<String, Vec<String>>,
    app_uuids: Vec<String>,
}

impl Capture {
    fn load(dir: &std::path::Path, name: &'static str) -> Capture {
        let entries = timeline(dir, &format!("{name}.timeline.jsonl"));
        let mut rx = BTreeMap::new();
        let mut sent: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for e in &entries {
            match e {
                Entry::Open { conn } => {
                    let bytes = std::fs::read(dir.join(format!("{name}.{conn}.rx")))
                        .expect("a capture per connection");
                    rx.insert(conn.clone(), frames_ending_at(&bytes));
                }
                Entry::Tx { conn, data, .. } => {
                    sent.entry(conn.clone()).or_default().push(data.clone())
                }
                _ => {}
            }
        }
        let mut callers: Vec<String> = Vec::new();
        for (_, f) in rx.values().flatten() {
            if let (Some(u), Some("inbound")) = (f.ev("Unique-ID"), f.ev("Call-Direction")) {
                if !callers.iter().any(|c| c == u) {
                    callers.push(u.to_string());
                }
            }
        }
        let app_uuids = our_app_uuids(sent.values().flatten().map(String::as_str));
        Capture {
            name,
            entries,
            rx,
            callers,
            sent,
            app_uuids,
        }
    }

    /// The timeline as steps, with the SIP cues where they happen.
    fn plan(&self, cues: &[(At, Sip)]) -> Vec<Step> {
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let mut steps = Vec::new();
        let mut placed = vec![false; cues.len()];
        for e in &self.entries {
            let here = |at: &At| match (at, e) {
                (At::Note(prefix), Entry::Note(text)) => text.starts_with(prefix.as_str()),
                (At::Frame(c, offset), Entry::Rx { conn, end }) => c == conn && offset < end,
                _ => false,
            };
            for (i, (at, _)) in cues.iter().enumerate() {
                if !placed[i] && here(at) {
                    placed[i] = true;
                    steps.push(Step {
                        action: Action::Sip(i),
                        seen: seen.clone(),
                    });
                }
            }
            let action = match e {
                Entry::Note(_) => continue,
                Entry::Rx { conn, end } => {
                    seen.insert(conn.clone(), *end);
                    continue;
                }
                Entry::Open { conn } => Action::Open(conn.clone()),
                Entry::Tx { conn, data, .. } => Action::Send(conn.clone(), data.clone()),
                Entry::Close { conn } => Action::Close(conn.clone()),
            };
            steps.push(Step {
                action,
                seen: seen.clone(),
            });
        }
        assert!(
            placed.iter().all(|p| *p),
            "{}: a SIP cue matches no point of the timeline",
            self.name
        );
        steps
    }

    fn keys(&self) -> Keys<'_> {
        Keys {
            app_uuids: &self.app_uuids,
            extra: KEYS,
            unowned: Some(NO_CHANNEL),
        }
    }

    /// What the simulator has not yet delivered of what the controller had received at
    /// `seen`, on the connections still open; None when it has all of it.
    fn behind(
        &self,
        seen: &BTreeMap<String, usize>,
        open: &BTreeMap<String, Recorder>,
        map: &UuidMap,
    ) -> Option<String> {
        for (conn, rec) in open {
            let upto = seen.get(conn).copied().unwrap_or(0);
            let real: Vec<&Frame> = self.rx[conn]
                .iter()
                .filter(|(end, _)| *end <= upto)
                .map(|(_, f)| f)
                .collect();
            let ours = rec.snapshot();
            let want = real.iter().filter(|f| f.event.is_none()).count();
            let got = ours.iter().filter(|f| f.event.is_none()).count();
            if got < want {
                return Some(format!("{conn}: reply #{} (has {got} replies)", want - 1));
            }
            // Per channel: as many events of the name and application of the last one.
            let mut counts: HashMap<(String, String), usize> = HashMap::new();
            let mut last: HashMap<String, (String, usize)> = HashMap::new();
            for f in real.into_iter().filter(|f| compared(f)) {
                let stream = owner(f).map_or(NO_CHANNEL.to_string(), |u| map.get(u));
                let key = gate_key(f);
                let n = counts.entry((stream.clone(), key.clone())).or_default();
                *n += 1;
                last.insert(stream, (key, *n));
            }
            for (stream, (key, n)) in last {
                let have = ours
                    .iter()
                    .filter(|f| compared(f))
                    .filter(|f| owner(f).unwrap_or(NO_CHANNEL) == stream && gate_key(f) == key)
                    .count();
                if have < n {
                    let label = self.label(&stream, map);
                    return Some(format!("{conn}: {key} #{n} of {label} (has {have})"));
                }
            }
        }
        None
    }

    /// A name for a channel the capture knows: direction, caller id, destination, uuid.
    fn label(&self, stream: &str, map: &UuidMap) -> String {
        if stream == NO_CHANNEL {
            return "events of no channel".to_string();
        }
        let first = self.rx.values().flatten().find_map(|(_, f)| {
            (f.ev("Unique-ID").is_some_and(|u| map.get(u) == stream)).then_some(f)
        });
        match first {
            Some(f) => format!(
                "{} {} -> {} (real {}, sim {stream})",
                f.ev("Call-Direction").unwrap_or("?"),
                f.ev("Caller-Caller-ID-Number").unwrap_or("?"),
                f.ev("Caller-Destination-Number").unwrap_or("?"),
                f.ev("Unique-ID").unwrap_or("?"),
            ),
            None => format!("channel {stream}"),
        }
    }
}

/// What a step waits for per channel: the event's name and application.
fn gate_key(f: &Frame) -> String {
    let name = f.ev("Event-Name").unwrap_or("");
    match f.ev("Application") {
        Some(app) => format!("{name} {app}"),
        None => name.to_string(),
    }
}

// ---- replay ------------------------------------------------------------------------------

async fn replay(scenario: Scenario) {
    let Some(dir) = traces_dir() else { return };
    let cap = Capture::load(&dir, scenario.name);
    let steps = cap.plan(&scenario.cues);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let sim = Simulator::start(listener, sim_config())
        .await
        .expect("start sim");
    sim.install_sound_file_lasting(MENU_PROMPT, MENU_PROMPT_LENGTH);
    for p in scenario.phones {
        sim.add_phone(p);
    }
    let changes = Arc::new(watch::Sender::new(0u64));
    let mut open: BTreeMap<String, Recorder> = BTreeMap::new();
    let mut done: BTreeMap<String, Vec<Frame>> = BTreeMap::new();
    let mut map = UuidMap::default();
    let mut placed = 0;
    let mut problems = Vec::new();
    let mut settled = false;
    for step in &steps {
        let deadline = Instant::now() + STALL;
        let caught_up = wait_for(&changes, deadline, || {
            cap.behind(&step.seen, &open, &map).is_none()
        })
        .await;
        if !caught_up {
            let what = cap.behind(&step.seen, &open, &map).unwrap_or_default();
            problems.push(format!(
                "stalled before {}: the simulator never delivered {what}",
                describe(&step.action, &scenario.cues)
            ));
            break;
        }
        match &step.action {
            Action::Open(conn) => {
                let rec = Recorder::open(sim.esl_addr(), changes.clone()).await;
                open.insert(conn.clone(), rec);
            }
            Action::Send(conn, data) => {
                let rec = open.get_mut(conn).expect("an open connection");
                rec.write(&map.apply(data)).await;
            }
            Action::Close(conn) => {
                if !settled {
                    tokio::time::sleep(SETTLE).await;
                }
                let mut rec = open.remove(conn).expect("an open connection");
                rec.close();
                done.insert(conn.clone(), rec.snapshot());
            }
            Action::Sip(i) => match &scenario.cues[*i].1 {
                Sip::Call(spec, keys) => {
                    let ours = sim.place_call_pressing(spec.clone(), keys.clone());
                    let real = cap.callers.get(placed).unwrap_or_else(|| {
                        panic!("{}: more callers than the capture has", cap.name)
                    });
                    map.insert(real, &ours);
                    placed += 1;
                }
                Sip::Subscribe(user, entity, kind) => sim.subscribe_watcher(user, entity, *kind),
                Sip::Unsubscribe(user, entity, kind) => {
                    assert!(
                        sim.unsubscribe_watcher(user, entity, *kind),
                        "{user} subscribed"
                    )
                }
            },
        }
        settled = matches!(step.action, Action::Close(_));
    }
    for (conn, rec) in &open {
        done.insert(conn.clone(), rec.snapshot());
    }
    problems.extend(compare_replies(&cap, &done, &mut map));
    problems.extend(compare_events(&cap, &done, &map));
    assert!(
        problems.is_empty(),
        "{}: the simulator differs from the real switch:\n{}",
        cap.name,
        problems.join("\n")
    );
}

fn describe(action: &Action, cues: &[(At, Sip)]) -> String {
    match action {
        Action::Open(conn) => format!("opening {conn}"),
        Action::Send(conn, data) => format!("sending {conn} {:?}", first_line(data)),
        Action::Close(conn) => format!("closing {conn}"),
        Action::Sip(i) => match &cues[*i].1 {
            Sip::Call(spec, _) => {
                format!("caller {} dialing {}", spec.caller_number, spec.destination)
            }
            Sip::Subscribe(user, entity, _) => format!("{user} subscribing to {entity}"),
            Sip::Unsubscribe(user, entity, _) => format!("{user} unsubscribing from {entity}"),
        },
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

// ---- comparison --------------------------------------------------------------------------

/// Every reply (and greeting) per connection, in order; learns the switch's made-up uuids.
fn compare_replies(
    cap: &Capture,
    sim: &BTreeMap<String, Vec<Frame>>,
    map: &mut UuidMap,
) -> Vec<String> {
    let all_sent: String = cap.sent.values().flatten().cloned().collect();
    let mut problems = Vec::new();
    for (conn, frames) in &cap.rx {
        let real: Vec<&Frame> = frames
            .iter()
            .map(|(_, f)| f)
            .filter(|f| f.event.is_none())
            .collect();
        let ours: Vec<&Frame> = sim
            .get(conn)
            .map(|fs| fs.iter().filter(|f| f.event.is_none()).collect())
            .unwrap_or_default();
        let sent = cap.sent.get(conn).cloned().unwrap_or_default();
        for (i, r) in real.iter().enumerate() {
            let to = match i {
                0 => "the greeting".to_string(),
                _ => sent
                    .get(i - 1)
                    .map_or("nothing".to_string(), |c| format!("{:?}", first_line(c))),
            };
            let Some(o) = ours.get(i) else {
                problems.push(format!(
                    "{conn}: reply #{i} (to {to}) missing: real {:?}",
                    answer(r, map)
                ));
                break;
            };
            map.learn(&r.reply_text(), &o.reply_text(), &all_sent);
            let (want, got) = (answer(r, map), answer(o, &UuidMap::default()));
            if want != got {
                problems.push(format!(
                    "{conn}: reply #{i} (to {to}) differs: sim {got:?} vs real {want:?}"
                ));
            }
        }
        if ours.len() > real.len() {
            problems.push(format!(
                "{conn}: sim sent {} more non-event frames, first {:?}",
                ours.len() - real.len(),
                answer(ours[real.len()], &UuidMap::default())
            ));
        }
    }
    problems
}

/// A non-event frame as compared: its type and text, JSON reduced to what is not volatile.
fn answer(f: &Frame, map: &UuidMap) -> String {
    let ct = f.header("Content-Type").unwrap_or("");
    let text = f.reply_text();
    let text = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(obj)) if obj.contains_key("row_count") => {
            format!("{} {}", show_table(&obj, map), layout(&text))
        }
        Ok(serde_json::Value::Object(obj)) => dump(&obj, map),
        _ => map.apply(&text),
    };
    format!("{ct}: {text}")
}

/// `{"row_count": 0}\n` vs `{"row_count":1,...}`: spacing and the trailing newline.
fn layout(text: &str) -> String {
    format!(
        "[spaced: {}, newline: {}]",
        text.contains("\": "),
        text.ends_with('\n')
    )
}

/// `show … as json`: the row count and the rows (sorted), volatile columns blanked.
fn show_table(obj: &serde_json::Map<String, serde_json::Value>, map: &UuidMap) -> String {
    let rows = obj.get("rows").and_then(|r| r.as_array());
    let mut rows: Vec<String> = rows
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_object())
        .map(|r| {
            let cols: Vec<String> = r
                .iter()
                .map(|(k, v)| {
                    let v = v.as_str().unwrap_or("");
                    match k.as_str() {
                        k if SHOW_VOLATILE.contains(&k) => format!("{k}=*"),
                        // sipp's port
                        "url" => format!("url={}", v.rsplit_once(':').map_or(v, |(a, _)| a)),
                        _ => format!("{k}={}", map.apply(v)),
                    }
                })
                .collect();
            format!("{{{}}}", cols.join(","))
        })
        .collect();
    rows.sort();
    format!("row_count={} rows={}", obj["row_count"], rows.join(""))
}

/// `uuid_dump … json`: the first key, the headers the controller reads, its variables.
fn dump(obj: &serde_json::Map<String, serde_json::Value>, map: &UuidMap) -> String {
    let first = obj.keys().next().cloned().unwrap_or_default();
    let wanted = DUMP_KEYS.iter().map(|k| k.to_string()).chain(
        obj.keys()
            .filter(|k| k.starts_with("variable_switchboard_"))
            .cloned(),
    );
    let values: Vec<String> = wanted
        .map(|k| {
            format!(
                "{k}={}",
                map.apply(obj.get(&k).and_then(|v| v.as_str()).unwrap_or("<none>"))
            )
        })
        .collect();
    format!("{{first key {first}: {}}}", values.join(", "))
}

/// Per event connection: every channel's events, and the order channels hang up in.
fn compare_events(cap: &Capture, sim: &BTreeMap<String, Vec<Frame>>, map: &UuidMap) -> Vec<String> {
    let keys = cap.keys();
    let mut problems = Vec::new();
    for (conn, frames) in &cap.rx {
        let real: Vec<Frame> = frames.iter().map(|(_, f)| f.clone()).collect();
        if !real.iter().any(|f| f.event.is_some()) {
            continue;
        }
        let ours = sim.get(conn).cloned().unwrap_or_default();
        let want = sequences(&real, map, &keys);
        let got = sequences(&ours, &UuidMap::default(), &keys);
        // The capture's channels in order of appearance, then any the simulator added.
        let mut streams: Vec<String> = Vec::new();
        let appearing = real.iter().chain(&ours).filter(|f| compared(f));
        for f in appearing {
            let s = owner(f).map_or(NO_CHANNEL.to_string(), |u| map.get(u));
            if !streams.contains(&s) {
                streams.push(s);
            }
        }
        for s in &streams {
            let (w, g) = (
                want.get(s).cloned().unwrap_or_default(),
                got.get(s).cloned().unwrap_or_default(),
            );
            if let Some(p) = first_difference(&w, &g) {
                problems.push(format!("{conn} {}: {p}", cap.label(s, map)));
            }
        }
        let (w, g) = (hangups(&real, map), hangups(&ours, &UuidMap::default()));
        if let Some(p) = first_difference(&w, &g) {
            problems.push(format!("{conn} order of CHANNEL_HANGUPs: {p}"));
        }
    }
    problems
}

/// The channels' CHANNEL_HANGUPs in delivery order, as `<uuid> <cause>`.
fn hangups(frames: &[Frame], map: &UuidMap) -> Vec<String> {
    frames
        .iter()
        .filter(|f| f.ev("Event-Name") == Some("CHANNEL_HANGUP"))
        .map(|f| {
            format!(
                "{} {}",
                map.get(f.ev("Unique-ID").unwrap_or("")),
                f.ev("Hangup-Cause").unwrap_or("")
            )
        })
        .collect()
}

/// Where two sequences part: the first differing index and both items there, then the
/// whole of both as a diff (`-` only the real switch, `+` only the simulator).
fn first_difference(real: &[String], sim: &[String]) -> Option<String> {
    let i = (0..real.len().max(sim.len())).find(|i| real.get(*i) != sim.get(*i))?;
    let show = |s: Option<&String>| s.map_or("(nothing)".to_string(), |s| format!("`{s}`"));
    Some(format!(
        "first difference at #{i}: sim {} vs real {}{}",
        show(sim.get(i)),
        show(real.get(i)),
        diff(real, sim)
    ))
}

/// A line diff of two short sequences (longest common subsequence).
fn diff(real: &[String], sim: &[String]) -> String {
    let (n, m) = (real.len(), sim.len());
    // common[i][j]: the longest common subsequence of real[i..] and sim[j..].
    let mut common = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            common[i][j] = if real[i] == sim[j] {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < n || j < m {
        if i < n && j < m && real[i] == sim[j] {
            out.push_str(&format!("\n      {}", real[i]));
            (i, j) = (i + 1, j + 1);
        } else if j == m || (i < n && common[i + 1][j] >= common[i][j + 1]) {
            out.push_str(&format!("\n    - {}", real[i]));
            i += 1;
        } else {
            out.push_str(&format!("\n    + {}", sim[j]));
            j += 1;
        }
    }
    out
}

// ---- the captures ------------------------------------------------------------------------

/// A capture with one caller, who arrives at the note `caller <number>:`.
async fn one_caller(name: &'static str, phones: Vec<PhoneSpec>, caller: Sip) {
    let Sip::Call(spec, _) = &caller else {
        panic!("one_caller takes a call")
    };
    let note = format!("caller {}:", spec.caller_number);
    replay(Scenario {
        name,
        phones,
        cues: vec![(At::Note(note), caller)],
    })
    .await;
}

#[tokio::test]
async fn switchboard_basic_replays_like_the_real_switch() {
    // BYE 4.2 s after the ACK: 3.2 s after the bridge.
    let agent = phone("1001", answers(1000), None);
    let caller = call("2001", "5000", Some(3200), None);
    one_caller("switchboard-basic", phones(agent), caller).await;
}

#[tokio::test]
async fn switchboard_agent_hangup_replays_like_the_real_switch() {
    let agent = phone("1001", answers(800), Some(3000));
    let caller = call("2002", "5000", None, None);
    one_caller("switchboard-agent-hangup", phones(agent), caller).await;
}

#[tokio::test]
async fn switchboard_busy_noanswer_replays_like_the_real_switch() {
    let agents = vec![
        phone("1001", PhoneBehavior::Busy, None),
        phone("1002", PhoneBehavior::NoAnswer, None),
        phone("1003", answers(500), Some(2500)),
    ];
    let caller = call("2003", "5000", None, None);
    one_caller("switchboard-busy-noanswer", agents, caller).await;
}

#[tokio::test]
async fn switchboard_abandon_replays_like_the_real_switch() {
    replay(Scenario {
        name: "switchboard-abandon",
        phones: phones(phone("1001", PhoneBehavior::NoAnswer, None)),
        // Both callers hang up 3 s after their ACK, never bridged.
        cues: vec![
            (note("part a:"), call("2301", "5000", None, Some(3000))),
            (note("part b:"), call("2302", "5000", None, Some(3000))),
        ],
    })
    .await;
}

#[tokio::test]
async fn switchboard_feature_codes_replay_like_the_real_switch() {
    let dial = |code: &str| {
        let at = note(&format!("phone 1001 dials {code}:"));
        (at, call("1001", code, None, None))
    };
    // Watchers of agent+1001: 1002 with Event: dialog, 1003 with Event: presence; each
    // (un)subscription is the PRESENCE_PROBE at that offset of c1.
    let (agent, dialog, presence) = ("agent+1001", WatchKind::Dialog, WatchKind::Presence);
    replay(Scenario {
        name: "switchboard-feature-codes",
        phones: phones(phone("1001", answers(1000), None)),
        cues: vec![
            (At::Frame("c1", 1000), Sip::Subscribe("1002", agent, dialog)),
            (
                At::Frame("c1", 1767),
                Sip::Subscribe("1003", agent, presence),
            ),
            dial("*22"),
            dial("*241"),
            dial("*25"),
            dial("*23"),
            (
                At::Frame("c1", 299_477),
                Sip::Unsubscribe("1003", agent, presence),
            ),
            (
                At::Frame("c1", 300_242),
                Sip::Unsubscribe("1002", agent, dialog),
            ),
        ],
    })
    .await;
}

#[tokio::test]
async fn switchboard_recording_replays_like_the_real_switch() {
    // BYE 5 s after the ACK: 4.5 s after the bridge.
    let agent = phone("1001", answers(500), None);
    let caller = call("2801", "5001", Some(4500), None);
    one_caller("switchboard-recording", phones(agent), caller).await;
}

#[tokio::test]
async fn switchboard_ivr_replays_like_the_real_switch() {
    // Key 2 comes 1.5 s after the ACK, during the (long) menu prompt: c1 has its DTMF event
    // 1.65 s after the caller's CHANNEL_ANSWER.
    let keys = vec![(Duration::from_millis(1650), "2".to_string())];
    let caller = Sip::Call(CallSpec::new("2602", "5003"), keys);
    let agent = phone("1001", answers(500), Some(3000));
    one_caller("switchboard-ivr", phones(agent), caller).await;
}

#[tokio::test]
async fn switchboard_restart_replays_like_the_real_switch() {
    // c1-c3 close as the killed controller's sockets did; c4-c6 find the call still there.
    let agent = phone("1001", answers(500), Some(2500));
    let caller = call("2402", "5000", None, None);
    one_caller("switchboard-restart", phones(agent), caller).await;
}
