//! Call recording end to end: the real controller records calls on the simulator by each
//! queue's policy, controls them over REST with role limits, plays the consent notice and
//! honours the opt-out key, resumes paused recordings by itself, beeps, and never lets keys
//! pressed during a pause reach a log, an event, the history or a webhook.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use sqlx::{Column, Connection, Row};
use switchboard::engine::recording::{ConsentNotice, RecordingMode, RecordingPolicy};
use switchboard::engine::QueueRouting;
use switchboard::sim::{CallSpec, SessionRecordingView};

use crate::harness::{
    client_with, eventually, queue_row, spawn_setup, Agent, Setup, TestApp, ENTRY,
};

const NOTICE: &str = "switchboard/calls-are-recorded.wav";

fn policy(mode: RecordingMode) -> RecordingPolicy {
    RecordingPolicy {
        mode,
        ..RecordingPolicy::default()
    }
}

async fn recorded_app(recording: RecordingPolicy, agents: Vec<Agent>) -> TestApp {
    let app = spawn_setup(Setup {
        queues: vec![queue_row(
            "support",
            QueueRouting {
                recording,
                ..QueueRouting::default()
            },
        )],
        agents,
        entries: Vec::new(),
    })
    .await;
    app.connected().await;
    app
}

/// One row of `recordings`, the columns a test looks at.
#[derive(Debug, Clone)]
struct RecordingRow {
    id: String,
    call: String,
    path: Option<String>,
    relative_path: Option<String>,
    stereo: i64,
    reason: String,
    started_by: String,
    status: String,
    stopped_by: Option<String>,
    duration_ms: Option<i64>,
    started_at: i64,
    stopped_at: Option<i64>,
    notice_at: Option<i64>,
    opted_out_at: Option<i64>,
}

async fn connection(app: &TestApp) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    sqlx::AnyConnection::connect(&app.database_url)
        .await
        .expect("the controller's database")
}

async fn recordings(app: &TestApp) -> Vec<RecordingRow> {
    let mut conn = connection(app).await;
    let rows = sqlx::query(
        "SELECT id, call_id, path, relative_path, stereo, reason, started_by, status, \
         stopped_by, duration_ms, started_at, stopped_at, notice_at, opted_out_at \
         FROM recordings ORDER BY started_at, id",
    )
    .fetch_all(&mut conn)
    .await
    .expect("recordings");
    rows.iter()
        .map(|r| RecordingRow {
            id: r.get(0),
            call: r.get(1),
            path: r.get(2),
            relative_path: r.get(3),
            stereo: r.get(4),
            reason: r.get(5),
            started_by: r.get(6),
            status: r.get(7),
            stopped_by: r.get(8),
            duration_ms: r.get(9),
            started_at: r.get(10),
            stopped_at: r.get(11),
            notice_at: r.get(12),
            opted_out_at: r.get(13),
        })
        .collect()
}

/// `(action, actor)` of a recording's changes, in order.
async fn changes(app: &TestApp, recording: &str) -> Vec<(String, String)> {
    let mut conn = connection(app).await;
    sqlx::query("SELECT action, actor FROM recording_changes WHERE recording_id = $1 ORDER BY id")
        .bind(recording)
        .fetch_all(&mut conn)
        .await
        .expect("changes")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// Waits for the one recording row and returns it once `done` holds for it.
async fn recording_where(
    app: &TestApp,
    what: &str,
    done: fn(&RecordingRow) -> bool,
) -> RecordingRow {
    eventually(what, || async {
        recordings(app).await.first().is_some_and(done)
    })
    .await;
    recordings(app).await.remove(0)
}

/// The caller's bridged agent leg, once there is one.
async fn bridged(app: &TestApp, caller: &str) -> String {
    eventually("the caller is bridged to an agent", || async {
        app.sim
            .channel(caller)
            .is_some_and(|c| c.bridged_to.is_some())
    })
    .await;
    app.sim
        .channel(caller)
        .and_then(|c| c.bridged_to)
        .expect("an agent leg")
}

/// The recordings the simulator finished on `caller`.
fn recorded_on(app: &TestApp, caller: &str) -> Vec<SessionRecordingView> {
    app.sim
        .recorded()
        .into_iter()
        .filter(|(on, _)| on == caller)
        .map(|(_, r)| r)
        .collect()
}

async fn control(
    client: &reqwest::Client,
    app: &TestApp,
    call: &str,
    action: &str,
) -> reqwest::Response {
    client
        .post(format!("{}/v1/calls/{call}/recording", app.base))
        .json(&json!({ "action": action }))
        .send()
        .await
        .expect("request")
}

async fn control_ok(app: &TestApp, call: &str, action: &str) -> Value {
    let reply = control(&app.http, app, call, action).await;
    assert_eq!(reply.status(), 200, "{action}");
    reply.json().await.expect("JSON")
}

/// The id of the one active call, once it is connected.
async fn connected_call(app: &TestApp) -> String {
    eventually("the call shows as bridged", || async {
        let calls: Value = app.get("/v1/calls").await.json().await.expect("JSON");
        calls["active"][0]["state"] == "bridged"
    })
    .await;
    let calls: Value = app.get("/v1/calls").await.json().await.expect("JSON");
    calls["active"][0]["id"]
        .as_str()
        .expect("a call id")
        .to_owned()
}

#[tokio::test]
async fn a_queue_that_records_always_records_the_call_in_stereo_under_the_switchs_folder_until_the_agent_hangs_up(
) {
    let app = recorded_app(
        RecordingPolicy {
            stereo: true,
            retention: Some(Duration::from_secs(86_400)),
            ..policy(RecordingMode::Always)
        },
        vec![Agent::answering("1001").hanging_up_after(Duration::from_millis(600))],
    )
    .await;
    let caller = app.sim.place_call(CallSpec::new("4930111", ENTRY));
    let row = recording_where(&app, "the recording has stopped", |r| r.status == "stopped").await;
    let files = recorded_on(&app, &caller);
    assert_eq!(files.len(), 1, "{files:?}");
    let file = &files[0];
    assert_eq!(file.channels, 2, "stereo");
    assert_eq!(row.path.as_deref(), Some(file.path.as_str()));
    let relative = row.relative_path.clone().expect("relative path");
    assert_eq!(
        file.path,
        format!("{}/{relative}", switchboard::config::DEFAULT_RECORDINGS_DIR)
    );
    let (date, rest) = relative.split_once('/').expect("a date folder");
    assert_eq!(date.len(), 10, "{date}");
    assert_eq!(rest, format!("support/{}.wav", row.call));
    assert_eq!(row.stereo, 1);
    assert_eq!(row.reason, "always");
    assert_eq!(row.started_by, "policy");
    // The agent hung up: the controller stopped the recording (the caller goes on alone).
    assert_eq!(row.stopped_by.as_deref(), Some("policy"));
    let duration = row.duration_ms.expect("a duration");
    let wall = row.stopped_at.expect("stopped") - row.started_at;
    assert_eq!(duration, wall, "nothing was paused");
}

#[tokio::test]
async fn queues_that_never_record_or_sample_no_one_record_nothing_and_one_that_samples_everyone_does(
) {
    for (mode, recorded) in [
        (RecordingMode::Never, false),
        (RecordingMode::Percent(0), false),
        (RecordingMode::Percent(100), true),
    ] {
        let app = recorded_app(
            policy(mode),
            vec![Agent::answering("1001").hanging_up_after(Duration::from_millis(300))],
        )
        .await;
        let caller = app.sim.place_call(CallSpec::new("4930112", ENTRY));
        bridged(&app, &caller).await;
        eventually("the call is over", || async {
            app.sim
                .channel(&caller)
                .is_none_or(|c| c.bridged_to.is_none())
        })
        .await;
        if recorded {
            let row = recording_where(&app, "the sampled recording stops", |r| {
                r.status == "stopped"
            })
            .await;
            assert_eq!(row.reason, "sampled");
            assert_eq!(recorded_on(&app, &caller).len(), 1);
        } else {
            // The call's history is written with the same batches a recording would be.
            eventually("the call has ended in the history", || async {
                let calls: Value = app.get("/v1/calls").await.json().await.expect("JSON");
                calls["recent"][0]["ended_at"].is_number()
            })
            .await;
            assert!(recordings(&app).await.is_empty(), "{mode:?}");
            assert!(recorded_on(&app, &caller).is_empty(), "{mode:?}");
        }
    }
}

#[tokio::test]
async fn a_recording_on_demand_is_started_paused_resumed_and_stopped_over_rest_and_its_file_leaves_the_pause_out(
) {
    let app = recorded_app(
        policy(RecordingMode::OnDemand),
        vec![Agent::answering("1001")],
    )
    .await;
    let caller = app.sim.place_call(CallSpec::new("4930113", ENTRY));
    let call = connected_call(&app).await;
    assert!(app
        .sim
        .channel(&caller)
        .expect("caller")
        .recordings
        .is_empty());

    let started = control_ok(&app, &call, "start").await;
    assert_eq!(started["action"], "start");
    assert_eq!(started["call"], call.as_str());
    assert_eq!(started["active"], true);
    let recording = started["recording"].as_str().expect("an id").to_owned();
    eventually("the switch records", || async {
        app.sim.channel(&caller).expect("caller").recordings.len() == 1
    })
    .await;
    let paused = control_ok(&app, &call, "pause").await;
    assert_eq!(
        (paused["paused"].clone(), paused["masked"].clone()),
        (json!(true), json!(false))
    );
    eventually("the snapshot shows the pause", || async {
        let calls: Value = app.get("/v1/calls").await.json().await.expect("JSON");
        calls["active"][0]["recording"]["paused"] == true
            && calls["active"][0]["recording"]["id"] == recording.as_str()
    })
    .await;
    assert!(app.sim.channel(&caller).expect("caller").recordings[0].paused);
    tokio::time::sleep(Duration::from_millis(400)).await;
    control_ok(&app, &call, "resume").await;
    control_ok(&app, &call, "mask").await;
    control_ok(&app, &call, "unmask").await;
    let stopped = control_ok(&app, &call, "stop").await;
    assert_eq!(stopped["active"], false);
    eventually("the switch stopped the file", || async {
        recorded_on(&app, &caller).len() == 1
    })
    .await;

    let row = recording_where(&app, "the recording is stopped", |r| r.status == "stopped").await;
    assert_eq!(row.id, recording);
    assert_eq!(row.reason, "on_demand");
    assert_eq!(row.started_by, "token:test-admin");
    assert_eq!(row.stopped_by.as_deref(), Some("token:test-admin"));
    let wall = row.stopped_at.expect("stopped") - row.started_at;
    let duration = row.duration_ms.expect("duration");
    assert!(
        duration <= wall - 400,
        "{duration} of {wall} ms, 400 paused"
    );
    let file = &recorded_on(&app, &caller)[0];
    assert_eq!(file.paused_intervals.len(), 1);
    assert_eq!(file.masked_intervals.len(), 1);
    let written = i64::try_from(file.written.as_millis()).expect("small");
    let file_wall = written
        + i64::try_from((file.paused_intervals[0].to - file.paused_intervals[0].from).as_millis())
            .expect("small");
    assert!(written <= file_wall - 400, "the file leaves the pause out");
    assert_eq!(
        changes(&app, &recording).await,
        ["pause", "resume", "mask", "unmask"]
            .map(|a| (a.to_owned(), "token:test-admin".to_owned()))
    );
}

#[tokio::test]
async fn an_agent_controls_the_recording_of_its_own_call_only_and_a_supervisor_of_any() {
    let app = recorded_app(
        policy(RecordingMode::Always),
        vec![
            Agent::answering("1001"),
            Agent::answering("1002").logged_out(),
        ],
    )
    .await;
    let token = |name: &'static str, role: &'static str, agent: Option<&'static str>| {
        let app = &app;
        async move {
            let made: Value = app
                .http
                .post(format!("{}/v1/tokens", app.base))
                .json(&json!({ "name": name, "role": role, "agent": agent }))
                .send()
                .await
                .expect("request")
                .json()
                .await
                .expect("JSON");
            client_with(made["token"].as_str().expect("a token"))
        }
    };
    let alice = token("alice", "agent", Some("1001")).await;
    let bob = token("bob", "agent", Some("1002")).await;
    let sup = token("sup", "supervisor", None).await;
    let crm = token("crm", "integration", None).await;
    app.sim.place_call(CallSpec::new("4930114", ENTRY));
    let call = connected_call(&app).await;
    let nobody = "0b5e3c1e-8d3f-4f5e-9a49-8f1d2b7c6a10";

    // Another agent's call is 403, and so is a call that does not exist.
    for target in [call.as_str(), nobody] {
        let refused = control(&bob, &app, target, "pause").await;
        assert_eq!(refused.status(), 403, "{target}");
        assert_eq!(
            refused.headers()["content-type"],
            "application/problem+json"
        );
    }
    assert_eq!(control(&crm, &app, &call, "pause").await.status(), 403);
    let reply = control(&alice, &app, &call, "pause").await;
    assert_eq!(reply.status(), 200);
    let conflict = control(&alice, &app, &call, "pause").await;
    assert_eq!(conflict.status(), 409);
    assert_eq!(
        conflict.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = conflict.json().await.expect("JSON");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("already paused")),
        "{problem}"
    );
    assert_eq!(control(&sup, &app, &call, "resume").await.status(), 200);
    assert_eq!(control(&sup, &app, nobody, "pause").await.status(), 404);
    assert_eq!(control(&sup, &app, &call, "rewind").await.status(), 400);

    let row = recording_where(&app, "the recording is in the history", |_| true).await;
    // The history writer keeps changes apart from the replies: wait for both.
    eventually("both changes are in the history", || async {
        changes(&app, &row.id).await.len() == 2
    })
    .await;
    assert_eq!(
        changes(&app, &row.id).await,
        [
            ("pause".to_owned(), "token:alice".to_owned()),
            ("resume".to_owned(), "token:sup".to_owned())
        ]
    );
}

#[tokio::test]
async fn the_caller_hears_the_notice_and_the_opt_out_key_leaves_a_declined_row_and_no_file() {
    let app = recorded_app(
        RecordingPolicy {
            consent: Some(ConsentNotice {
                announcement: NOTICE.into(),
                opt_out_digit: Some('9'),
            }),
            ..policy(RecordingMode::Always)
        },
        vec![Agent::answering("1001")
            .logged_out()
            .hanging_up_after(Duration::from_millis(300))],
    )
    .await;
    let caller = app.sim.place_call_pressing(
        CallSpec::new("4930115", ENTRY),
        vec![(Duration::from_millis(200), "9".into())],
    );
    eventually("the controller heard the opt-out key", || async {
        let calls: Value = app.get("/v1/calls").await.json().await.expect("JSON");
        calls["active"][0]["consent"]["opted_out_at"].is_number()
    })
    .await;
    let heard = app.sim.played_on(&caller);
    assert_eq!(
        heard.first().map(String::as_str),
        Some(NOTICE),
        "the notice comes before the hold music: {heard:?}"
    );
    assert_eq!(app.set_agent_state("1001", "available").await.status(), 200);
    let call = connected_call(&app).await;
    let refused = control(&app.http, &app, &call, "start").await;
    assert_eq!(refused.status(), 409, "the caller declined");
    let row = recording_where(&app, "the declined row", |r| r.status == "declined").await;
    assert_eq!(row.call, call);
    assert!(row.path.is_none());
    assert!(row.notice_at.is_some());
    assert!(row.opted_out_at >= row.notice_at);
    eventually("the call is over", || async {
        app.sim
            .channel(&caller)
            .is_none_or(|c| c.bridged_to.is_none())
    })
    .await;
    assert!(recorded_on(&app, &caller).is_empty());
    assert_eq!(recordings(&app).await.len(), 1);
}

#[tokio::test]
async fn a_paused_recording_resumes_by_itself_after_the_queues_auto_resume() {
    let app = recorded_app(
        RecordingPolicy {
            auto_resume: Duration::from_millis(300),
            ..policy(RecordingMode::Always)
        },
        vec![Agent::answering("1001")],
    )
    .await;
    let caller = app.sim.place_call(CallSpec::new("4930116", ENTRY));
    let call = connected_call(&app).await;
    control_ok(&app, &call, "pause").await;
    control_ok(&app, &call, "mask").await;
    let row = recording_where(&app, "the recording is in the history", |_| true).await;
    eventually("the recording resumed and unmasked by itself", || async {
        changes(&app, &row.id).await.len() == 4
    })
    .await;
    let mut by_timer = changes(&app, &row.id).await.split_off(2);
    by_timer.sort();
    assert_eq!(
        by_timer,
        [
            ("resume".to_owned(), "auto_resume".to_owned()),
            ("unmask".to_owned(), "auto_resume".to_owned())
        ]
    );
    let live = app.sim.channel(&caller).expect("caller").recordings;
    assert!(!live[0].paused && !live[0].masked, "{live:?}");
}

#[tokio::test]
async fn a_recorded_call_hears_the_periodic_beep() {
    let app = recorded_app(
        RecordingPolicy {
            beep_every: Some(Duration::from_millis(200)),
            ..policy(RecordingMode::Always)
        },
        vec![Agent::answering("1001")],
    )
    .await;
    let caller = app.sim.place_call(CallSpec::new("4930117", ENTRY));
    bridged(&app, &caller).await;
    eventually("two beeps on the caller", || async {
        app.sim
            .broadcasts()
            .iter()
            .filter(|b| {
                b.uuid == caller && b.path.starts_with("tone_stream://") && b.legs == "both"
            })
            .count()
            >= 2
    })
    .await;
}

/// Everything the controller logs, at every level.
#[derive(Clone, Default)]
struct CapturedLog(Arc<Mutex<Vec<u8>>>);

impl Write for CapturedLog {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLog {
    fn text(&self) -> String {
        String::from_utf8_lossy(
            &self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
        .into_owned()
    }
}

/// Every text value of every table of the controller's database, one per line.
async fn everything_stored(app: &TestApp) -> String {
    let mut conn = connection(app).await;
    let tables: Vec<String> = sqlx::query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name NOT LIKE '_sqlx%'",
    )
    .fetch_all(&mut conn)
    .await
    .expect("tables")
    .iter()
    .map(|r| r.get(0))
    .collect();
    assert!(tables.iter().any(|t| t == "flow_steps") && tables.iter().any(|t| t == "cti_events"));
    let mut out = String::new();
    for table in tables {
        let rows = sqlx::query(&format!("SELECT * FROM {table}"))
            .fetch_all(&mut conn)
            .await
            .expect("rows");
        for row in rows {
            for column in row.columns() {
                if let Ok(Some(text)) = row.try_get::<Option<String>, _>(column.ordinal()) {
                    out.push_str(&format!("{table}.{}: {text}\n", column.name()));
                }
            }
        }
    }
    out
}

/// Set in the process of its own that the log-capturing test runs in.
const ALONE_IN_ITS_PROCESS: &str = "SWITCHBOARD_TEST_ALONE_IN_ITS_PROCESS";

/// Runs `test` (a name in this binary) again in a child process where it is the only test,
/// and fails if it fails there. A scoped subscriber in a binary whose other tests log on
/// their own threads loses events now and then: tracing's per-callsite interest and its
/// global level hint are recomputed by whichever thread registers last, and two such
/// recomputations can race. Alone in its process the test sets the global subscriber.
fn in_a_process_of_its_own(test: &str) {
    let exe = std::env::current_exe().expect("the test binary's path");
    let output = std::process::Command::new(exe)
        .args([test, "--exact", "--test-threads=1", "--nocapture"])
        .env(ALONE_IN_ITS_PROCESS, "1")
        .output()
        .expect("the test binary runs again");
    let ran = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && ran.contains("1 passed"),
        "{test} failed in its own process:\n{ran}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn keys_pressed_while_a_recording_is_paused_reach_no_log_event_history_or_webhook() {
    if std::env::var_os(ALONE_IN_ITS_PROCESS).is_none() {
        in_a_process_of_its_own(
            "recording::keys_pressed_while_a_recording_is_paused_reach_no_log_event_history_or_webhook",
        );
        return;
    }
    // Alone in this process: everything the controller logs, down to TRACE, on any thread.
    let log = CapturedLog::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber here");

    let app = recorded_app(
        policy(RecordingMode::Always),
        vec![Agent::answering("1001")],
    )
    .await;
    let caller = app.sim.place_call(CallSpec::new("4930118", ENTRY));
    let call = connected_call(&app).await;
    let agent_leg = bridged(&app, &caller).await;
    control_ok(&app, &call, "pause").await;
    // A card number read out on the keypad, by the caller, then a code by the agent.
    const CARD: &str = "4929731846205518";
    const CODE: &str = "83705129";
    assert!(app.sim.send_dtmf(&caller, CARD));
    assert!(app.sim.send_dtmf(&agent_leg, CODE));
    control_ok(&app, &call, "mask").await;
    assert!(app.sim.send_dtmf(&caller, "#*"));
    // The agent hangs up: its events come after the keys on the same connection, so once the
    // recording has stopped the controller has seen every key.
    assert!(app.sim.hangup(&agent_leg, "NORMAL_CLEARING"));
    recording_where(&app, "the recording has stopped", |r| r.status == "stopped").await;
    eventually("the call is on record as ended", || async {
        let calls: Value = app.get("/v1/calls").await.json().await.expect("JSON");
        calls["recent"][0]["ended_at"].is_number()
    })
    .await;

    let logged = log.text();
    // The capture works: the controller's own commands for this call are in it.
    assert!(
        logged.contains(&format!("uuid_record {caller} pause")),
        "nothing of the controller was captured"
    );
    for line in logged.lines() {
        let lower = line.to_ascii_lowercase();
        let about_the_call = line.contains(&caller) || line.contains(&agent_leg);
        assert!(
            !(about_the_call && (lower.contains("dtmf") || lower.contains("digit"))),
            "a key reached the log: {line}"
        );
        assert!(!line.contains(CARD) && !line.contains(CODE), "{line}");
    }
    let stored = everything_stored(&app).await;
    assert!(stored.contains(&call), "the call's history was read");
    for secret in [CARD, CODE, "#*"] {
        assert!(
            !stored.lines().any(|l| l.contains(secret)),
            "{secret} reached the database:\n{stored}"
        );
    }
}

/// How long after the consent notice began to play on `caller` `happened` became true.
async fn after_the_notice(
    app: &TestApp,
    caller: &str,
    what: &str,
    happened: impl Fn(&TestApp, &str) -> bool,
) -> Duration {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut notice_at = None;
    loop {
        if notice_at.is_none() && app.sim.played_on(caller).iter().any(|p| p == NOTICE) {
            notice_at = Some(std::time::Instant::now());
        }
        if happened(app, caller) {
            let notice_at = notice_at.expect("the notice played first");
            return notice_at.elapsed();
        }
        assert!(std::time::Instant::now() < deadline, "no {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A message sent while a playback runs would run inside it on the real switch: the hold music
/// sent right after the consent notice must wait for the notice to finish, not cut it short
/// (capture `sendmsg-event-lock`).
#[tokio::test]
async fn the_hold_music_starts_only_once_the_consent_notice_has_played_whole() {
    let app = recorded_app(
        RecordingPolicy {
            consent: Some(ConsentNotice {
                announcement: NOTICE.into(),
                opt_out_digit: None,
            }),
            ..policy(RecordingMode::Always)
        },
        vec![Agent::answering("1001").logged_out()],
    )
    .await;
    let caller = app.sim.place_call(CallSpec::new("4930117", ENTRY));
    let after_notice = after_the_notice(&app, &caller, "the hold music", |app, caller| {
        app.sim
            .played_on(caller)
            .iter()
            .any(|p| p.starts_with("local_stream://"))
    })
    .await;
    // The simulator plays a prompt file for 400 ms.
    assert!(
        after_notice >= Duration::from_millis(300),
        "the hold music began {after_notice:?} after the notice"
    );
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
}

/// An agent free at once answers before the notice has played: the bridge waits for its end, or
/// it would cut the notice short and the call would be recorded without it.
#[tokio::test]
async fn an_agent_answering_during_the_consent_notice_is_connected_when_it_has_played() {
    let app = recorded_app(
        RecordingPolicy {
            consent: Some(ConsentNotice {
                announcement: NOTICE.into(),
                opt_out_digit: None,
            }),
            ..policy(RecordingMode::Always)
        },
        vec![Agent::answering("1001")],
    )
    .await;
    let caller = app.sim.place_call(CallSpec::new("4930118", ENTRY));
    let after_notice = after_the_notice(&app, &caller, "the bridge", |app, caller| {
        app.sim
            .channel(caller)
            .is_some_and(|c| c.bridged_to.is_some())
    })
    .await;
    // The simulator plays a prompt file for 400 ms; the agent answered after 50 ms.
    assert!(
        after_notice >= Duration::from_millis(300),
        "bridged {after_notice:?} after the notice began"
    );
    recording_where(&app, "the policy's recording", |r| r.status == "recording").await;
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
}
