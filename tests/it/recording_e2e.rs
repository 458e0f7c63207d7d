//! Recordings end to end with real files: the simulated switch writes each recording's WAV
//! below a folder standing for its disk, the controller mounts the switch's recordings folder
//! from there, and a recording paused over REST is found, described and downloaded as exactly
//! the switch's file (without the pause), then purged or erased with its file. A controller
//! restart in the middle of a recording leaves the row to be closed by the call's end.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};
use switchboard::engine::recording::{RecordingMode, RecordingPolicy};
use switchboard::engine::QueueRouting;
use switchboard::sim::{CallSpec, SessionRecordingView};
use switchboard::store::QueueRow;

use crate::harness::{eventually, queue_row, spawn_setup, Agent, Setup, TestApp, ENTRY};

/// The controller's `support` queue recording by `recording`.
fn support(recording: RecordingPolicy) -> Vec<QueueRow> {
    vec![queue_row(
        "support",
        QueueRouting {
            recording,
            ..QueueRouting::default()
        },
    )]
}

fn always(retention: Option<Duration>) -> RecordingPolicy {
    RecordingPolicy {
        mode: RecordingMode::Always,
        retention,
        ..RecordingPolicy::default()
    }
}

fn agents() -> Vec<Agent> {
    vec![Agent::answering("1001")]
}

/// A controller and a switch whose disk is a real folder: the switch's `recordings_dir` (the
/// default) is mounted on the controller from below it, as an admin would mount it over NFS.
/// Returns the mount.
async fn app_on_disk(recording: RecordingPolicy) -> (TestApp, PathBuf) {
    let mut app = spawn_setup(Setup {
        queues: support(recording.clone()),
        agents: agents(),
        entries: Vec::new(),
    })
    .await;
    let disk = app._dir.path().join("switch-disk");
    let mount = disk.join(
        switchboard::config::DEFAULT_RECORDINGS_DIR
            .trim_start_matches('/')
            .trim_end_matches('/'),
    );
    std::fs::create_dir_all(&mount).expect("the switch's recordings folder");
    app.sim.set_disk_root(Some(disk));
    app.stop_controller().await;
    app.recordings_mount = Some(mount.clone());
    app.start_with(support(recording), &agents()).await;
    app.connected().await;
    (app, mount)
}

async fn json_at(app: &TestApp, path: &str) -> Value {
    let reply = app.get(path).await;
    assert_eq!(reply.status(), 200, "{path}");
    reply.json().await.expect("JSON")
}

async fn post(app: &TestApp, path: &str, body: Value) -> Value {
    let reply = app
        .http
        .post(format!("{}{path}", app.base))
        .json(&body)
        .send()
        .await
        .expect("request");
    assert!(reply.status().is_success(), "{path}: {}", reply.status());
    reply.json().await.expect("JSON")
}

/// The id of the one active call, once it is connected.
async fn connected_call(app: &TestApp) -> String {
    eventually("the call shows as bridged", || async {
        let calls = json_at(app, "/v1/calls").await;
        calls["active"][0]["state"] == "bridged"
    })
    .await;
    let calls = json_at(app, "/v1/calls").await;
    calls["active"][0]["id"]
        .as_str()
        .expect("a call id")
        .to_owned()
}

async fn switch_records(app: &TestApp, caller: &str) {
    eventually("the switch records the caller", || async {
        app.sim
            .channel(caller)
            .is_some_and(|c| c.recordings.len() == 1)
    })
    .await;
}

async fn control(app: &TestApp, call: &str, action: &str) {
    post(
        app,
        &format!("/v1/calls/{call}/recording"),
        json!({ "action": action }),
    )
    .await;
}

/// The call's recording, once `GET /v1/recordings?call=` finds it in `status`.
async fn found(app: &TestApp, call: &str, status: &str) -> Value {
    let query = format!("/v1/recordings?call={call}");
    eventually(&format!("the call's recording is {status}"), || async {
        json_at(app, &query).await["recordings"][0]["status"] == status
    })
    .await;
    let page = json_at(app, &query).await;
    assert_eq!(
        page["recordings"].as_array().map(Vec::len),
        Some(1),
        "{page}"
    );
    page["recordings"][0].clone()
}

/// The simulator's one finished recording on `caller`.
fn recorded_on(app: &TestApp, caller: &str) -> SessionRecordingView {
    let mut files: Vec<SessionRecordingView> = app
        .sim
        .recorded()
        .into_iter()
        .filter(|(on, _)| on == caller)
        .map(|(_, r)| r)
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.remove(0)
}

/// Milliseconds of audio in a mono 8 kHz 16-bit WAV.
fn wav_ms(bytes: &[u8]) -> i64 {
    assert_eq!(&bytes[..4], b"RIFF");
    assert_eq!(&bytes[8..12], b"WAVE");
    assert_eq!(u16::from_le_bytes([bytes[22], bytes[23]]), 1, "mono");
    let rate = u32::from_le_bytes([bytes[24], bytes[25], bytes[26], bytes[27]]);
    assert_eq!(rate, 8000);
    let data = u32::from_le_bytes([bytes[40], bytes[41], bytes[42], bytes[43]]);
    assert_eq!(
        data as usize,
        bytes.len() - 44,
        "the data chunk is the rest"
    );
    i64::from(data) / 16
}

/// From a recording's start to its stop, read from its RFC 3339 times.
fn wall_ms(recording: &Value) -> i64 {
    let at = |key: &str| {
        let text = recording[key].as_str().expect("RFC 3339");
        text.parse::<jiff::Timestamp>()
            .expect("a time")
            .as_millisecond()
    };
    at("stopped_at") - at("started_at")
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).expect("small")
}

/// The engine times a recording by its own clock, the switch by its own: they differ by the
/// time commands and events take to cross the socket, never by the pause.
const CLOCKS_APART_MS: i64 = 500;
const PAUSE: Duration = Duration::from_millis(1500);

/// A call answered, recorded, paused over REST for `PAUSE`, resumed and hung up by the
/// caller; returns the caller's channel and the call's id once the recording is stopped.
async fn paused_call(app: &TestApp, number: &str) -> (String, String) {
    let caller = app.sim.place_call(CallSpec::new(number, ENTRY));
    let call = connected_call(app).await;
    switch_records(app, &caller).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    control(app, &call, "pause").await;
    tokio::time::sleep(PAUSE).await;
    control(app, &call, "resume").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
    found(app, &call, "stopped").await;
    (caller, call)
}

#[tokio::test]
async fn a_recording_paused_over_rest_downloads_as_the_switchs_own_file_without_the_pause_and_the_purge_deletes_it(
) {
    let (app, mount) = app_on_disk(always(Some(Duration::from_millis(1)))).await;
    let (caller, call) = paused_call(&app, "4930555").await;
    let listed = found(&app, &call, "stopped").await;
    let id = listed["id"].as_str().expect("an id").to_owned();

    let detail = json_at(&app, &format!("/v1/recordings/{id}")).await;
    assert_eq!(detail["caller_number"], "4930555");
    assert_eq!(detail["stopped_by"], "switch", "the caller hung up");
    assert_eq!(detail["changes"].as_array().map(Vec::len), Some(2));
    let paused = detail["paused"].as_array().expect("paused intervals");
    assert_eq!(paused.len(), 1, "{detail}");
    let (start, end) = (
        paused[0]["start_ms"].as_i64().expect("start"),
        paused[0]["end_ms"].as_i64().expect("an end"),
    );
    assert!(end - start >= millis(PAUSE), "{detail}");
    assert_eq!(
        paused[0]["file_offset_ms"], start,
        "nothing was paused before"
    );
    let duration = detail["duration_ms"].as_i64().expect("a duration");
    let wall = wall_ms(&detail);
    assert_eq!(
        duration,
        wall - (end - start),
        "the pause is not in the duration"
    );
    let relative = detail["relative_path"].as_str().expect("a relative path");
    assert!(detail["audio"].is_string(), "{detail}");

    // The file is the switch's, below the mount at the same relative path, dated.
    let on_switch = recorded_on(&app, &caller);
    assert_eq!(detail["path"], on_switch.path.as_str());
    let file = app
        .sim
        .disk_file(&on_switch.path)
        .expect("on the switch's disk");
    assert_eq!(file, mount.join(relative));
    let (date, rest) = relative.split_once('/').expect("a date folder");
    assert_eq!(date.len(), 10, "{date}");
    assert_eq!(rest, format!("support/{call}.wav"));
    let written = std::fs::read(&file).expect("the switch's file");

    let audio = app.get(&format!("/v1/recordings/{id}/audio")).await;
    assert_eq!(audio.status(), 200);
    assert_eq!(audio.headers()["content-type"], "audio/wav");
    let served = audio.bytes().await.expect("the audio");
    assert!(
        served == written,
        "the download is the switch's file, byte for byte"
    );
    let audio_ms = wav_ms(&served);
    assert_eq!(
        audio_ms,
        millis(on_switch.written),
        "as long as the switch wrote"
    );
    assert!(
        (audio_ms - duration).abs() <= CLOCKS_APART_MS,
        "file {audio_ms} ms, recording {duration} ms"
    );
    assert!(audio_ms < wall - millis(PAUSE) + CLOCKS_APART_MS);

    // Kept a millisecond: the next purge deletes the real file and leaves the audit.
    let report = post(&app, "/v1/recordings/purge", json!({})).await;
    assert_eq!(report["recordings_removed"], 1, "{report}");
    assert_eq!(report["files_deleted"], 1, "{report}");
    assert!(!file.exists(), "the file is gone from the switch's disk");
    assert_eq!(app.get(&format!("/v1/recordings/{id}")).await.status(), 404);
    let audit = json_at(&app, "/v1/data-removals?kind=purge").await;
    let removal = &audit["removals"][0];
    assert_eq!(removal["recording"], id.as_str(), "{audit}");
    assert_eq!(removal["call"], call.as_str(), "{audit}");
    assert_eq!(removal["detail"]["file"], "deleted", "{audit}");
}

#[tokio::test]
async fn an_erasure_by_the_callers_number_deletes_its_recordings_files_and_spares_another_callers()
{
    let (app, mount) = app_on_disk(always(None)).await;
    let mut files = Vec::new();
    for number in ["4930666", "4930777"] {
        let caller = app.sim.place_call(CallSpec::new(number, ENTRY));
        let call = connected_call(&app).await;
        switch_records(&app, &caller).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
        let recording = found(&app, &call, "stopped").await;
        let relative = recording["relative_path"].as_str().expect("relative");
        let file = mount.join(relative);
        assert!(file.is_file(), "{}", file.display());
        files.push((recording["id"].as_str().expect("id").to_owned(), file));
        eventually("the call has ended", || async {
            json_at(&app, "/v1/calls").await["active"]
                .as_array()
                .is_some_and(Vec::is_empty)
        })
        .await;
    }
    let report = post(&app, "/v1/erasures", json!({ "caller_number": "4930666" })).await;
    assert_eq!(report["recordings_removed"], 1, "{report}");
    assert_eq!(report["files_deleted"], 1, "{report}");
    let [(erased, erased_file), (kept, kept_file)] = files.as_slice() else {
        panic!("two recordings");
    };
    assert!(!erased_file.exists(), "the erased caller's file is gone");
    assert!(kept_file.is_file(), "the other caller's file stays");
    assert_eq!(
        app.get(&format!("/v1/recordings/{erased}")).await.status(),
        404
    );
    let audio = app.get(&format!("/v1/recordings/{kept}/audio")).await;
    assert_eq!(audio.status(), 200);
    let audit = json_at(&app, "/v1/data-removals?kind=erasure").await;
    let removals = audit["removals"].as_array().expect("removals");
    assert!(
        removals.iter().any(|r| r["recording"] == erased.as_str()),
        "{audit}"
    );
    assert!(!audit.to_string().contains("4930666"), "{audit}");
}

#[tokio::test]
async fn a_recording_in_progress_through_a_controller_restart_is_closed_when_the_call_ends() {
    let (mut app, mount) = app_on_disk(always(Some(Duration::from_secs(86_400)))).await;
    let caller = app.sim.place_call(CallSpec::new("4930888", ENTRY));
    let call = connected_call(&app).await;
    switch_records(&app, &caller).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    control(&app, &call, "pause").await;
    let open = found(&app, &call, "recording").await;
    let id = open["id"].as_str().expect("id").to_owned();

    // The controller goes; the switch goes on recording (still paused) under the new one.
    app.stop_controller().await;
    app.start_with(
        support(always(Some(Duration::from_secs(86_400)))),
        &agents(),
    )
    .await;
    app.connected().await;
    eventually(
        "the restarted controller adopts the bridged call",
        || async { json_at(&app, "/v1/calls").await["active"][0]["id"] == call.as_str() },
    )
    .await;
    assert_eq!(
        json_at(&app, &format!("/v1/recordings/{id}")).await["status"],
        "recording",
        "nothing knows the recording stopped"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));

    let closed = found(&app, &call, "stopped").await;
    assert_eq!(closed["id"], id.as_str());
    assert_eq!(closed["stopped_by"], "switch");
    assert!(closed["error"].is_null());
    assert!(
        closed["retain_until"].is_string(),
        "the queue's retention dates it"
    );
    let detail = json_at(&app, &format!("/v1/recordings/{id}")).await;
    let paused = &detail["paused"][0];
    assert_eq!(
        paused["end_ms"],
        wall_ms(&detail),
        "the pause ran to the end"
    );
    assert_eq!(
        detail["duration_ms"], paused["start_ms"],
        "the duration is the time before the pause"
    );
    // The pause ran to the end: the file holds the time before it, as the row says.
    let on_switch = recorded_on(&app, &caller);
    let duration = detail["duration_ms"].as_i64().expect("a duration");
    assert!(
        (millis(on_switch.written) - duration).abs() <= CLOCKS_APART_MS,
        "file {:?}, row {duration} ms",
        on_switch.written
    );
    let relative = detail["relative_path"].as_str().expect("relative");
    assert!(mount.join(relative).is_file());
    let audio = app.get(&format!("/v1/recordings/{id}/audio")).await;
    assert_eq!(audio.status(), 200);
    let audio_ms = wav_ms(&audio.bytes().await.expect("audio"));
    assert_eq!(audio_ms, millis(on_switch.written));
    assert_eq!(
        json_at(&app, &format!("/v1/recordings?call={call}")).await["recordings"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "the restarted controller started no second recording"
    );
}
