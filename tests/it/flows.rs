//! End-to-end call flows: the real controller against the simulator over TCP, SQLite on disk.

use std::sync::atomic::Ordering;
use std::time::Duration;

use switchboard::engine::{AgentStatus, CallOutcome};
use switchboard::sim::{CallSpec, PhoneBehavior};

use crate::harness::{eventually, spawn_app, Agent, TestApp, ENTRY};

fn caller(number: &str) -> CallSpec {
    CallSpec {
        caller_number: number.into(),
        caller_name: format!("Caller {number}"),
        destination: ENTRY.into(),
        patience: None,
        talk_time: None,
    }
}

async fn wait_bridged(app: &TestApp, caller_uuid: &str) -> String {
    let sim = app.sim.clone();
    let uuid = caller_uuid.to_owned();
    eventually("the caller is bridged", || {
        let (sim, uuid) = (sim.clone(), uuid.clone());
        async move { sim.channel(&uuid).is_some_and(|c| c.bridged_to.is_some()) }
    })
    .await;
    app.sim
        .channel(caller_uuid)
        .and_then(|c| c.bridged_to)
        .expect("bridged")
}

async fn agent_status(app: &TestApp, agent: &str) -> Option<AgentStatus> {
    app.running()
        .snapshot()
        .agents
        .iter()
        .find(|a| a.id.as_str() == agent)
        .map(|a| a.status)
}

async fn wait_agent(app: &TestApp, agent: &'static str, status: AgentStatus) {
    eventually(
        &format!("agent {agent} is {}", status.as_str()),
        || async move { agent_status(app, agent).await == Some(status) },
    )
    .await;
}

async fn wait_call_outcome(app: &TestApp, outcome: CallOutcome) -> switchboard::store::CallRow {
    let store = app.running().store.clone();
    eventually(&format!("a call ends {}", outcome.as_str()), || {
        let store = store.clone();
        async move {
            store
                .recent_calls(10)
                .await
                .map(|calls| calls.iter().any(|c| c.outcome == Some(outcome)))
                .unwrap_or(false)
        }
    })
    .await;
    store
        .recent_calls(10)
        .await
        .expect("read calls")
        .into_iter()
        .find(|c| c.outcome == Some(outcome))
        .expect("the call")
}

/// The history is written behind the engine; wait until the answered call is on record.
async fn wait_answered_row(app: &TestApp) -> switchboard::store::CallRow {
    let store = app.running().store.clone();
    eventually("the answered call is on record", || {
        let store = store.clone();
        async move {
            store
                .recent_calls(1)
                .await
                .map(|calls| calls.first().is_some_and(|c| c.agent.is_some()))
                .unwrap_or(false)
        }
    })
    .await;
    store.recent_calls(1).await.expect("calls").remove(0)
}

#[tokio::test]
async fn a_call_reaches_an_available_agent_and_is_bridged() {
    let app = spawn_app(vec![Agent::answering("1001")], Duration::ZERO).await;
    app.connected().await;
    let uuid = app.sim.place_call(caller("+4930123456"));
    let agent_leg = wait_bridged(&app, &uuid).await;
    let leg = app.sim.channel(&agent_leg).expect("agent leg exists");
    assert!(leg.is_outbound_leg);
    assert!(leg
        .variables
        .iter()
        .any(|(k, v)| k == "switchboard_agent_id" && v == "1001"));
    wait_agent(&app, "1001", AgentStatus::OnCall).await;
    let call = wait_answered_row(&app).await;
    assert_eq!(
        app.running()
            .store
            .recent_calls(5)
            .await
            .expect("calls")
            .len(),
        1
    );
    assert_eq!(call.agent.as_ref().map(|a| a.as_str()), Some("1001"));
    assert_eq!(call.caller_number, "+4930123456");
}

#[tokio::test]
async fn a_busy_agent_is_skipped_and_the_next_one_gets_the_call() {
    let app = spawn_app(
        vec![
            Agent::answering("1001").with(PhoneBehavior::Busy),
            Agent::answering("1002"),
        ],
        Duration::ZERO,
    )
    .await;
    app.connected().await;
    let uuid = app.sim.place_call(caller("111"));
    wait_bridged(&app, &uuid).await;
    wait_agent(&app, "1002", AgentStatus::OnCall).await;
    let store = &app.running().store;
    let call = wait_answered_row(&app).await;
    assert_eq!(call.agent.as_ref().map(|a| a.as_str()), Some("1002"));
    let events = store.queue_events(call.id).await.expect("events");
    let kinds: Vec<String> = events
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e.kind.as_str(),
                e.agent.as_ref().map(|a| a.as_str()).unwrap_or("-")
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "enter -",
            "offer 1001",
            "ring_no_answer 1001",
            "offer 1002",
            "connect 1002"
        ]
    );
    assert!(events[2].detail.contains("USER_BUSY"), "{:?}", events[2]);
}

#[tokio::test]
async fn with_no_agent_free_the_caller_waits_and_is_routed_once_an_agent_is_made_available() {
    let app = spawn_app(vec![Agent::answering("1001").logged_out()], Duration::ZERO).await;
    app.connected().await;
    let uuid = app.sim.place_call(caller("222"));
    eventually("the caller waits in the queue", || async {
        app.running().snapshot().waiting() == 1
    })
    .await;
    let answered = app.sim.channel(&uuid).expect("caller").answered;
    assert!(
        answered,
        "the waiting caller is answered and hears hold music"
    );
    let response = app.set_agent_state("1001", "available").await;
    assert_eq!(response.status(), 200);
    wait_bridged(&app, &uuid).await;
}

#[tokio::test]
async fn a_caller_hanging_up_while_waiting_is_recorded_as_abandoned() {
    let app = spawn_app(vec![Agent::answering("1001").logged_out()], Duration::ZERO).await;
    app.connected().await;
    let uuid = app.sim.place_call(caller("333"));
    eventually("the caller waits", || async {
        app.running().snapshot().waiting() == 1
    })
    .await;
    assert!(app.sim.hangup(&uuid, "NORMAL_CLEARING"));
    let call = wait_call_outcome(&app, CallOutcome::Abandoned).await;
    assert_eq!(call.hangup_cause.as_deref(), Some("NORMAL_CLEARING"));
    let events = app
        .running()
        .store
        .queue_events(call.id)
        .await
        .expect("events");
    assert_eq!(events.last().map(|e| e.kind.as_str()), Some("abandon"));
    let waited = call
        .wait_ms
        .expect("an abandoned call's history keeps its wait");
    assert_eq!(
        events.last().map(|e| e.detail.clone()),
        Some(format!("wait_ms={waited}"))
    );
}

#[tokio::test]
async fn caller_hangup_while_agent_rings_cancels_the_agent_leg() {
    let app = spawn_app(
        vec![Agent::answering("1001").with(PhoneBehavior::NoAnswer)],
        Duration::ZERO,
    )
    .await;
    app.connected().await;
    let uuid = app.sim.place_call(caller("444"));
    wait_agent(&app, "1001", AgentStatus::Offered).await;
    let leg = {
        let sim = app.sim.clone();
        eventually("the agent leg rings", || {
            let sim = sim.clone();
            async move { sim.channels().iter().any(|c| c.is_outbound_leg) }
        })
        .await;
        app.sim
            .channels()
            .into_iter()
            .find(|c| c.is_outbound_leg)
            .expect("agent leg")
            .uuid
    };
    assert!(app.sim.hangup(&uuid, "NORMAL_CLEARING"));
    let sim = app.sim.clone();
    eventually("the ringing agent leg is killed", || {
        let (sim, leg) = (sim.clone(), leg.clone());
        async move { sim.channel(&leg).is_none() }
    })
    .await;
    wait_agent(&app, "1001", AgentStatus::Available).await;
    wait_call_outcome(&app, CallOutcome::Abandoned).await;
}

#[tokio::test]
async fn agent_hangup_ends_the_call_then_wrap_up_then_available() {
    let app = spawn_app(
        vec![Agent::answering("1001").hanging_up_after(Duration::from_millis(200))],
        Duration::from_millis(700),
    )
    .await;
    app.connected().await;
    let uuid = app.sim.place_call(caller("555"));
    wait_bridged(&app, &uuid).await;
    wait_agent(&app, "1001", AgentStatus::WrapUp).await;
    let call = wait_call_outcome(&app, CallOutcome::Completed).await;
    assert!(call.talk_ms.is_some());
    let sim = app.sim.clone();
    eventually("the switch hangs up the caller after the agent", || {
        let (sim, uuid) = (sim.clone(), uuid.clone());
        async move { sim.channel(&uuid).is_none() }
    })
    .await;
    wait_agent(&app, "1001", AgentStatus::Available).await;
}

#[tokio::test]
async fn after_an_esl_drop_the_controller_reconnects_resyncs_and_routes_the_parked_call() {
    let app = spawn_app(vec![Agent::answering("1001").logged_out()], Duration::ZERO).await;
    app.connected().await;
    let uuid = app.sim.place_call(caller("666"));
    eventually("the caller waits", || async {
        app.running().snapshot().waiting() == 1
    })
    .await;
    let call_before = app.running().snapshot().calls[0].id;
    app.sim.drop_connections().await;
    let metrics = app.running().metrics.clone();
    eventually("the controller reconnects", || {
        let m = metrics.clone();
        async move { m.esl_connects.load(Ordering::Relaxed) >= 2 }
    })
    .await;
    assert_eq!(
        app.running().snapshot().waiting(),
        1,
        "the call survived the drop"
    );
    assert_eq!(app.set_agent_state("1001", "available").await.status(), 200);
    wait_bridged(&app, &uuid).await;
    let call = app.running().store.recent_calls(5).await.expect("calls");
    assert_eq!(call.len(), 1, "no duplicate call row");
    assert_eq!(call[0].id, call_before);
}

#[tokio::test]
async fn a_caller_waiting_through_a_controller_restart_keeps_its_place_and_is_routed() {
    let mut app = spawn_app(vec![Agent::answering("1001").logged_out()], Duration::ZERO).await;
    app.connected().await;
    let uuid = app.sim.place_call(caller("777"));
    eventually("the caller waits", || async {
        app.running().snapshot().waiting() == 1
    })
    .await;
    let before = app.running().snapshot().calls[0].clone();
    app.stop_controller().await;
    assert!(
        app.sim.channel(&uuid).is_some(),
        "the call lives on in the switch"
    );
    app.start_controller(&[Agent::answering("1001").logged_out()], Duration::ZERO)
        .await;
    app.connected().await;
    eventually("the restarted controller adopts the caller", || async {
        app.running().snapshot().waiting() == 1
    })
    .await;
    let after = app.running().snapshot().calls[0].clone();
    assert_eq!(after.id, before.id);
    assert_eq!(after.entered_at, before.entered_at);
    assert_eq!(app.set_agent_state("1001", "available").await.status(), 200);
    wait_bridged(&app, &uuid).await;
}

#[tokio::test]
async fn rest_errors_are_problem_details() {
    let app = spawn_app(vec![Agent::answering("1001")], Duration::ZERO).await;
    let missing = app.get("/v1/agents/9999").await;
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    let body: serde_json::Value = missing.json().await.expect("json");
    assert_eq!(body["status"], 404);
    let bad = app
        .put_json(
            "/v1/agents/1001/state",
            serde_json::json!({ "state": "dancing" }),
        )
        .await;
    assert_eq!(bad.status(), 400);
    let malformed = app
        .http
        .put(format!("{}/v1/agents/1001/state", app.base))
        .body("{not json")
        .send()
        .await
        .expect("request");
    assert_eq!(malformed.status(), 400);
    let injected = app.get("/v1/agents/1001%20all").await;
    assert_eq!(injected.status(), 400);
    assert_eq!(app.get("/healthz").await.status(), 200);
    let queues: serde_json::Value = app.get("/v1/queues").await.json().await.expect("json");
    assert_eq!(queues["queues"][0]["id"], "support");
}

#[tokio::test]
async fn a_wrong_esl_password_exits_with_code_78_and_says_why() {
    let sim = crate::harness::start_sim().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = crate::harness::serve_config(dir.path(), &sim, "WrongPassword");
    let output = tokio::time::timeout(
        Duration::from_secs(20),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .env_remove("SWITCHBOARD_SWITCH_FS1_PASSWORD")
            .output(),
    )
    .await
    .expect("serve gives up quickly")
    .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(78), "stderr: {stderr}");
    assert!(stderr.contains("authentication failed"), "stderr: {stderr}");
    assert!(
        !stderr.contains("WrongPassword"),
        "the password is never logged"
    );
}

#[tokio::test]
async fn sigterm_stops_serve_cleanly_like_ctrl_c() {
    use tokio::io::AsyncBufReadExt;
    let sim = crate::harness::start_sim().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = crate::harness::serve_config(dir.path(), &sim, "ClueCon");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("serve starts");
    let mut lines = tokio::io::BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut log = String::new();
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            log.push_str(&line);
            log.push('\n');
            if line.contains("switchboard is running") {
                return;
            }
        }
    })
    .await
    .expect("serve comes up");
    let pid = child.id().expect("pid").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(line)) = lines.next_line().await {
            log.push_str(&line);
            log.push('\n');
        }
        child.wait().await.expect("waits")
    })
    .await
    .expect("serve stops on SIGTERM");
    assert!(status.success(), "exit {status:?}; log:\n{log}");
    assert!(
        log.contains("SIGTERM") && log.contains("stopped"),
        "log:\n{log}"
    );
}
