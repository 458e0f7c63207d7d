//! Faults on purpose, on the recordings mount: the share gone (unmounted, the NFS server down)
//! or replaced by something that is not a folder. On the controller only downloads, the purge
//! and erasures touch the mount (the switch writes the files), so a full disk is the switch's
//! problem; these are the controller's: a clear problem over REST, the purge and the erasure
//! keeping the rows of files they could not check, and no deletion claimed that did not happen.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};
use switchboard::engine::recording::{RecordingMode, RecordingPolicy};
use switchboard::engine::QueueRouting;

use crate::faults::{bridged, caller, nothing_lost};
use crate::harness::{eventually, queue_row, spawn_setup, Agent, Setup, TestApp};

const NUMBER: &str = "+4930300001";

/// A controller recording every support call, kept 1 ms (due for the purge once over), with
/// the switch's recordings folder mounted from the simulator's disk.
async fn app_on_disk() -> (TestApp, PathBuf) {
    let queues = || {
        vec![queue_row(
            "support",
            QueueRouting {
                recording: RecordingPolicy {
                    mode: RecordingMode::Always,
                    retention: Some(Duration::from_millis(1)),
                    ..RecordingPolicy::default()
                },
                ..QueueRouting::default()
            },
        )]
    };
    let mut app = spawn_setup(Setup {
        queues: queues(),
        agents: vec![Agent::answering("1001")],
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
    app.start_with(queues(), &[Agent::answering("1001")]).await;
    app.connected().await;
    (app, mount)
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

/// The download answers `status` with a problem of `kind` whose detail says something.
async fn audio_problem(app: &TestApp, recording: &str, status: u16, kind: &str) {
    let reply = app.get(&format!("/v1/recordings/{recording}/audio")).await;
    assert_eq!(reply.status(), status);
    assert_eq!(
        reply
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    let problem: Value = reply.json().await.expect("problem");
    assert_eq!(problem["type"], kind, "{problem}");
    assert!(
        problem["detail"].as_str().is_some_and(|d| d.len() > 20),
        "{problem}"
    );
}

/// Nothing in the audit says a file was deleted.
async fn no_deletion_claimed(app: &TestApp) {
    let removals: Value = app
        .get("/v1/data-removals")
        .await
        .json()
        .await
        .expect("removals");
    let claimed: Vec<&Value> = removals["removals"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter(|r| r["detail"]["file"] == "deleted")
                .collect()
        })
        .unwrap_or_default();
    assert!(claimed.is_empty(), "{removals}");
}

#[tokio::test]
async fn a_recordings_mount_gone_or_not_a_folder_answers_problems_and_keeps_what_it_could_not_check(
) {
    let (app, mount) = app_on_disk().await;
    let caller = app.sim.place_call(caller(NUMBER));
    bridged(&app, &caller).await;
    let recording_on = app
        .sim
        .wait_until(Duration::from_secs(10), |sim| {
            sim.channel(&caller)
                .is_some_and(|c| c.recordings.len() == 1)
        })
        .await;
    assert!(recording_on, "the switch records the call");
    // An empty recording leaves no file: let it run a little.
    let written = |app: &TestApp| {
        app.sim
            .channel(&caller)
            .and_then(|c| c.recordings.first().map(|r| r.written))
            .unwrap_or_default()
    };
    while written(&app) < Duration::from_millis(200) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.sim.hangup(&caller, "NORMAL_CLEARING");
    nothing_lost(&app, std::slice::from_ref(&caller)).await;
    eventually("the recording stopped with its file", || async {
        let list: Value = app.get("/v1/recordings").await.json().await.expect("JSON");
        list["recordings"][0]["status"] == "stopped"
    })
    .await;
    let list: Value = app.get("/v1/recordings").await.json().await.expect("JSON");
    let recording = list["recordings"][0]["id"]
        .as_str()
        .expect("recording id")
        .to_owned();
    let audio = app.get(&format!("/v1/recordings/{recording}/audio")).await;
    assert_eq!(audio.status(), 200, "the file is there to begin with");

    // The share goes away.
    let away = mount.with_extension("away");
    std::fs::rename(&mount, &away).expect("unmount");
    audio_problem(
        &app,
        &recording,
        503,
        "/problems/recording-mount-unavailable",
    )
    .await;
    let purge = post(&app, "/v1/recordings/purge", json!({})).await;
    assert_eq!(purge["recordings_removed"], 0, "{purge}");
    assert_eq!(purge["recordings_kept"], 1, "{purge}");
    assert_eq!(
        purge["files_missing"], 0,
        "a mount down is not files gone: {purge}"
    );
    let erasure = post(&app, "/v1/erasures", json!({ "caller_number": NUMBER })).await;
    assert_eq!(erasure["recordings_removed"], 0, "{erasure}");
    assert_eq!(erasure["recordings_kept"], 1, "{erasure}");
    assert_eq!(erasure["files_deleted"], 0, "{erasure}");

    // Something that is not a folder where the share was (a stale mount point).
    std::fs::write(&mount, b"not a folder").expect("a file in its place");
    audio_problem(
        &app,
        &recording,
        503,
        "/problems/recording-mount-unavailable",
    )
    .await;
    let purge = post(&app, "/v1/recordings/purge", json!({})).await;
    assert_eq!(purge["recordings_kept"], 1, "{purge}");
    assert_eq!(purge["recordings_removed"], 0, "{purge}");
    no_deletion_claimed(&app).await;

    // The share is back: the file is served, then the purge removes it and says so.
    std::fs::remove_file(&mount).expect("stale file");
    std::fs::rename(&away, &mount).expect("mounted again");
    let audio = app.get(&format!("/v1/recordings/{recording}/audio")).await;
    assert_eq!(audio.status(), 200);
    let purge = post(&app, "/v1/recordings/purge", json!({})).await;
    assert_eq!(purge["recordings_removed"], 1, "{purge}");
    assert_eq!(purge["files_deleted"], 1, "{purge}");
    let left: Value = app.get("/v1/recordings").await.json().await.expect("JSON");
    assert_eq!(
        left["recordings"].as_array().map(Vec::len),
        Some(0),
        "{left}"
    );
}
