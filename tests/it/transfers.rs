//! Transfers from desk phones end to end: the simulator's phone sends a blind REFER
//! (`phone-blind-transfer`, `phone-refer-to-queue-entry`) and the controller keeps one call,
//! ends the agent's part as a transfer, and never sends a transferred caller to its survey.
//! The harness's invariant check runs at every test's end.

use std::time::{Duration, Instant};

use serde_json::Value;
use switchboard::engine::QueueRouting;
use switchboard::sim::{CallSpec, EntryPoint};

use crate::harness::{
    eventually, queue_event_kinds, queue_row, spawn_setup, Agent, Setup, TestApp, ENTRY,
};

const SALES_ENTRY: &str = "5010";

fn sales_entry() -> EntryPoint {
    EntryPoint {
        number: SALES_ENTRY.into(),
        variables: vec![("switchboard_queue".into(), "sales".into())],
    }
}

async fn two_queues(entries: Vec<EntryPoint>) -> TestApp {
    spawn_setup(Setup {
        queues: vec![
            queue_row("support", QueueRouting::default()),
            queue_row("sales", QueueRouting::default()),
        ],
        agents: vec![
            Agent::answering("1001"),
            Agent::answering("1002").in_queues(&["sales"]),
        ],
        entries,
    })
    .await
}

/// The agent leg bridged to `caller`, once it is.
async fn bridged_leg(app: &TestApp, caller: &str) -> String {
    let sim = app.sim.clone();
    let uuid = caller.to_owned();
    eventually("the caller is bridged to an agent", || {
        let (sim, uuid) = (sim.clone(), uuid.clone());
        async move { sim.channel(&uuid).is_some_and(|c| c.bridged_to.is_some()) }
    })
    .await;
    app.sim
        .channel(caller)
        .and_then(|c| c.bridged_to)
        .expect("bridged")
}

/// `GET /v1/calls/{id}` of the caller on `uuid`, once its call has ended.
async fn ended_call(app: &TestApp, uuid: &str) -> Value {
    let pool = sqlx::SqlitePool::connect(&app.database_url)
        .await
        .expect("open the test database");
    let deadline = Instant::now() + Duration::from_secs(10);
    let ids = loop {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM calls WHERE caller_channel = ? AND ended_at IS NOT NULL",
        )
        .bind(uuid)
        .fetch_all(&pool)
        .await
        .expect("query");
        if !ids.is_empty() || Instant::now() > deadline {
            break ids;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let all: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM calls WHERE caller_channel = ?")
        .bind(uuid)
        .fetch_one(&pool)
        .await
        .expect("query");
    pool.close().await;
    assert_eq!(ids.len(), 1, "one ended call for the caller");
    assert_eq!(all, 1, "one call for the caller across the transfer");
    app.get(&format!("/v1/calls/{}", ids[0]))
        .await
        .json()
        .await
        .expect("json")
}

async fn cti_types(app: &TestApp, call: &str) -> Vec<String> {
    let pool = sqlx::SqlitePool::connect(&app.database_url)
        .await
        .expect("open the test database");
    let types = sqlx::query_scalar("SELECT type FROM cti_events WHERE call_id = ? ORDER BY seq")
        .bind(call)
        .fetch_all(&pool)
        .await
        .expect("query");
    pool.close().await;
    types
}

#[tokio::test]
async fn a_blind_transfer_from_the_phone_keeps_one_call_ended_as_transferred_by_the_caller() {
    let app = two_queues(Vec::new()).await;
    let caller = app.sim.place_call(CallSpec::new("2101", ENTRY));
    let leg = bridged_leg(&app, &caller).await;
    assert!(app.sim.phone_blind_transfer(&leg, "9199"));
    let sim = app.sim.clone();
    eventually("the caller runs the transfer target", || {
        let (sim, caller) = (sim.clone(), caller.clone());
        async move {
            sim.played_on(&caller)
                .iter()
                .any(|p| p == "silence_stream://-1")
        }
    })
    .await;
    eventually("the transferring agent is free again", || async {
        app.agent_status("1001").await == "available"
    })
    .await;
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
    let body = ended_call(&app, &caller).await;
    assert_eq!(body["call"]["outcome"], "transferred", "{body}");
    assert_eq!(
        queue_event_kinds(&body),
        [
            "support enter",
            "support offer",
            "support connect",
            "support transfer"
        ]
    );
    let transfer = &body["queue_events"][3];
    assert_eq!(transfer["agent"], "1001");
    assert!(
        transfer["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("kind=blind from=1001 to=9199 by=1001")),
        "{transfer}"
    );
    let call = body["call"]["id"].as_str().expect("id").to_owned();
    let types = cti_types(&app, &call).await;
    assert!(types.iter().any(|t| t == "call.transferred"), "{types:?}");
    assert_eq!(types.iter().filter(|t| *t == "call.ended").count(), 1);
}

#[tokio::test]
async fn a_refer_to_a_queue_entry_point_brings_the_same_call_to_that_queues_agent() {
    let app = two_queues(vec![sales_entry()]).await;
    let caller = app.sim.place_call(CallSpec::new("2601", ENTRY));
    let first = bridged_leg(&app, &caller).await;
    assert!(app.sim.phone_blind_transfer(&first, SALES_ENTRY));
    let sim = app.sim.clone();
    eventually("the caller is bridged to the sales agent", || {
        let (sim, caller, first) = (sim.clone(), caller.clone(), first.clone());
        async move {
            sim.channel(&caller)
                .and_then(|c| c.bridged_to)
                .is_some_and(|leg| leg != first)
        }
    })
    .await;
    eventually("the sales agent is on the call", || async {
        app.agent_status("1002").await == "on_call"
    })
    .await;
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
    let body = ended_call(&app, &caller).await;
    assert_eq!(body["call"]["outcome"], "completed", "{body}");
    assert_eq!(body["call"]["agent"], "1002", "{body}");
    assert_eq!(
        queue_event_kinds(&body),
        [
            "support enter",
            "support offer",
            "support connect",
            "support transfer",
            "sales enter",
            "sales offer",
            "sales connect",
            "sales complete"
        ]
    );
}

const SURVEYED_IVR: &str = r#"
start = "start"
entry_points = ["ivr"]

[node.start]
kind = "enqueue"
queue = "support"
survey = "poll"
"#;

const POLL: &str = r#"
start = "rate"

[node.rate]
kind = "collect"
prompt = "silence_stream://100"
max_digits = 1
pattern = "^[1-5]$"
timeout = "5s"
variable = "rating"
next = "bye"
on_failure = "bye"

[node.bye]
kind = "hangup"
"#;

#[tokio::test]
async fn a_caller_transferred_out_of_a_queue_with_a_survey_reaches_the_target_not_the_survey() {
    let flows = tempfile::tempdir().expect("tempdir");
    std::fs::write(flows.path().join("ivr.toml"), SURVEYED_IVR).expect("write flow");
    std::fs::write(flows.path().join("poll.toml"), POLL).expect("write flow");
    let queues = || {
        vec![
            queue_row("support", QueueRouting::default()),
            queue_row("sales", QueueRouting::default()),
        ]
    };
    let agents = || {
        vec![
            Agent::answering("1001"),
            Agent::answering("1002").in_queues(&["sales"]),
        ]
    };
    let mut app = spawn_setup(Setup {
        queues: queues(),
        agents: agents(),
        entries: vec![
            EntryPoint {
                number: "7000".into(),
                variables: vec![("switchboard_flow".into(), "ivr".into())],
            },
            sales_entry(),
        ],
    })
    .await;
    app.stop_controller().await;
    app.flows = Some(flows.path().to_path_buf());
    app.start_with(queues(), &agents()).await;
    app.connected().await;

    let caller = app.sim.place_call(CallSpec::new("2040", "7000"));
    let first = bridged_leg(&app, &caller).await;
    assert_eq!(
        app.sim
            .channel(&caller)
            .and_then(|c| c.variable("park_after_bridge").map(str::to_owned))
            .as_deref(),
        Some("true"),
        "the caller was set up for its survey"
    );
    assert!(app.sim.phone_blind_transfer(&first, SALES_ENTRY));
    let sim = app.sim.clone();
    eventually(
        "the caller is bridged to the transfer target's agent",
        || {
            let (sim, caller, first) = (sim.clone(), caller.clone(), first.clone());
            async move {
                sim.channel(&caller)
                    .and_then(|c| c.bridged_to)
                    .is_some_and(|leg| leg != first)
            }
        },
    )
    .await;
    assert!(
        !app.sim
            .played_on(&caller)
            .iter()
            .any(|p| p == "silence_stream://100"),
        "the survey prompt never played"
    );
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
    let body = ended_call(&app, &caller).await;
    assert_eq!(body["call"]["agent"], "1002", "{body}");
    assert!(body["survey"].is_null(), "no survey: {body}");
    let _ = flows;
}

#[tokio::test]
async fn the_recording_follows_the_caller_to_the_transfer_target_in_the_same_file() {
    use switchboard::engine::recording::{RecordingMode, RecordingPolicy};
    let recorded = QueueRouting {
        recording: RecordingPolicy {
            mode: RecordingMode::Always,
            ..RecordingPolicy::default()
        },
        ..QueueRouting::default()
    };
    let app = spawn_setup(Setup {
        queues: vec![queue_row("support", recorded)],
        agents: vec![Agent::answering("1001")],
        entries: Vec::new(),
    })
    .await;
    app.connected().await;
    let caller = app.sim.place_call(CallSpec::new("2101", ENTRY));
    let leg = bridged_leg(&app, &caller).await;
    let sim = app.sim.clone();
    eventually("the caller is recorded", || {
        let (sim, caller) = (sim.clone(), caller.clone());
        async move {
            sim.channel(&caller)
                .is_some_and(|c| !c.recordings.is_empty())
        }
    })
    .await;
    assert!(app.sim.phone_blind_transfer(&leg, "9199"));
    let transferred_at = Instant::now();
    eventually("the caller runs the transfer target", || {
        let (sim, caller) = (sim.clone(), caller.clone());
        async move {
            sim.played_on(&caller)
                .iter()
                .any(|p| p == "silence_stream://-1")
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after_transfer = i64::try_from(transferred_at.elapsed().as_millis()).expect("small");
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
    let body = ended_call(&app, &caller).await;
    assert_eq!(body["call"]["outcome"], "transferred", "{body}");
    let call = body["call"]["id"].as_str().expect("id").to_owned();
    let pool = sqlx::SqlitePool::connect(&app.database_url)
        .await
        .expect("open the test database");
    let deadline = Instant::now() + Duration::from_secs(10);
    let rows: Vec<(i64, Option<i64>)> = loop {
        let rows: Vec<(i64, Option<i64>)> = sqlx::query_as(
            "SELECT started_at, stopped_at FROM recordings WHERE call_id = ? ORDER BY started_at",
        )
        .bind(&call)
        .fetch_all(&pool)
        .await
        .expect("query");
        if rows.iter().all(|(_, stopped)| stopped.is_some()) || Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    pool.close().await;
    assert_eq!(rows.len(), 1, "one recording, one file: {rows:?}");
    let ended_at = body["call"]["ended_at"].as_i64().expect("ended");
    let stopped_at = rows[0].1.expect("stopped");
    assert!(
        stopped_at >= ended_at - after_transfer / 2,
        "the recording ran on after the transfer, until the caller hung up: {rows:?}, ended {ended_at}"
    );
}

#[tokio::test]
async fn an_agent_whose_phone_receives_a_transferred_caller_is_on_call_for_the_same_call() {
    let app = two_queues(Vec::new()).await;
    let caller = app.sim.place_call(CallSpec::new("2102", ENTRY));
    let first = bridged_leg(&app, &caller).await;
    assert!(app.sim.phone_blind_transfer(&first, "1002"));
    let sim = app.sim.clone();
    eventually("the caller is bridged to phone 1002", || {
        let (sim, caller, first) = (sim.clone(), caller.clone(), first.clone());
        async move {
            sim.channel(&caller)
                .and_then(|c| c.bridged_to)
                .is_some_and(|leg| leg != first)
        }
    })
    .await;
    eventually("agent 1002 is on the call", || async {
        app.agent_status("1002").await == "on_call"
    })
    .await;
    eventually("agent 1001 is free again", || async {
        app.agent_status("1001").await == "available"
    })
    .await;
    let second = app
        .sim
        .channel(&caller)
        .and_then(|c| c.bridged_to)
        .expect("bridged");
    // Phone 1002 hangs up; the switch hangs up the caller (hangup_after_bridge).
    assert!(app.sim.hangup(&second, "NORMAL_CLEARING"));
    let body = ended_call(&app, &caller).await;
    assert_eq!(body["call"]["outcome"], "completed", "{body}");
    assert_eq!(body["call"]["agent"], "1002", "{body}");
    assert_eq!(body["call"]["agent_channel"], second.as_str(), "{body}");
    assert_eq!(
        queue_event_kinds(&body),
        [
            "support enter",
            "support offer",
            "support connect",
            "support transfer",
            "support connect",
            "support complete"
        ]
    );
    eventually("agent 1002 is free again", || async {
        app.agent_status("1002").await == "available"
    })
    .await;
}

#[tokio::test]
async fn after_an_attended_transfer_the_consulted_agent_is_on_call_for_the_same_call() {
    let app = two_queues(Vec::new()).await;
    let caller = app.sim.place_call(CallSpec::new("2201", ENTRY));
    let first = bridged_leg(&app, &caller).await;
    let consult = app
        .sim
        .phone_consult_call(&first, "1002")
        .expect("the agent's phone leg");
    let sim = app.sim.clone();
    eventually("the consultation reaches phone 1002", || {
        let (sim, consult) = (sim.clone(), consult.clone());
        async move {
            sim.channel(&consult)
                .is_some_and(|c| c.bridged_to.is_some())
        }
    })
    .await;
    let target = app
        .sim
        .channel(&consult)
        .and_then(|c| c.bridged_to)
        .expect("bridged");
    eventually(
        "the consulted agent is busy on the consultation",
        || async {
            let body: Value = app
                .get("/v1/agents/1002")
                .await
                .json()
                .await
                .unwrap_or_default();
            body["busy_elsewhere"] == true
        },
    )
    .await;
    assert!(app.sim.phone_attended_transfer(&first, &consult));
    eventually("agent 1002 is on the call", || async {
        app.agent_status("1002").await == "on_call"
    })
    .await;
    eventually("agent 1001 is free again", || async {
        app.agent_status("1001").await == "available"
    })
    .await;
    assert_eq!(
        app.sim.channel(&caller).and_then(|c| c.bridged_to),
        Some(target.clone())
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
    let body = ended_call(&app, &caller).await;
    assert_eq!(body["call"]["outcome"], "completed", "{body}");
    assert_eq!(body["call"]["agent"], "1002", "{body}");
    assert_eq!(body["call"]["agent_channel"], target.as_str(), "{body}");
    assert_eq!(
        queue_event_kinds(&body),
        [
            "support enter",
            "support offer",
            "support connect",
            "support consult",
            "support transfer",
            "support connect",
            "support complete"
        ]
    );
    let transfer = &body["queue_events"][4];
    assert!(
        transfer["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("kind=attended from=1001")),
        "{transfer}"
    );
}

/// The captured attended transfer: the phone holds the caller, consults, then refers; the hold
/// ends with the agent's part (CHANNEL_UNHOLD on the agent leg before its hangup), not with the
/// call.
#[tokio::test]
async fn a_hold_before_an_attended_transfer_ends_with_the_first_agents_part() {
    let app = two_queues(Vec::new()).await;
    let caller = app.sim.place_call(CallSpec::new("2202", ENTRY));
    let first = bridged_leg(&app, &caller).await;
    assert!(
        app.sim.phone_hold(&first),
        "the agent's phone holds the caller"
    );
    let consult = app
        .sim
        .phone_consult_call(&first, "1002")
        .expect("the agent's phone leg");
    let sim = app.sim.clone();
    eventually("the consultation reaches phone 1002", || {
        let (sim, consult) = (sim.clone(), consult.clone());
        async move {
            sim.channel(&consult)
                .is_some_and(|c| c.bridged_to.is_some())
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(app.sim.phone_attended_transfer(&first, &consult));
    eventually("agent 1002 is on the call", || async {
        app.agent_status("1002").await == "on_call"
    })
    .await;
    // The caller talks on with 1002, off hold, for a while before hanging up.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
    let body = ended_call(&app, &caller).await;
    assert_eq!(body["call"]["holds"], 1, "{body}");
    let hold_ms = body["call"]["hold_ms"].as_u64().expect("hold_ms");
    assert!(
        (150..1500).contains(&hold_ms),
        "the hold ended at the transfer, not at the caller's hangup: {hold_ms} ms"
    );
}

/// A caller transferred away before a controller restart is found by the resync as the call
/// it was: not queued again, and its hangup ends the same call as `transferred`, once.
#[tokio::test]
async fn a_caller_transferred_away_stays_transferred_across_a_controller_restart() {
    let mut app = two_queues(Vec::new()).await;
    let caller = app.sim.place_call(CallSpec::new("2103", ENTRY));
    let leg = bridged_leg(&app, &caller).await;
    assert!(app.sim.phone_blind_transfer(&leg, "9199"));
    let sim = app.sim.clone();
    eventually("the caller runs the transfer target", || {
        let (sim, caller) = (sim.clone(), caller.clone());
        async move {
            sim.played_on(&caller)
                .iter()
                .any(|p| p == "silence_stream://-1")
        }
    })
    .await;
    eventually("the transferring agent is free again", || async {
        app.agent_status("1001").await == "available"
    })
    .await;

    app.stop_controller().await;
    app.start_with(
        vec![
            queue_row("support", QueueRouting::default()),
            queue_row("sales", QueueRouting::default()),
        ],
        &[
            Agent::answering("1001"),
            Agent::answering("1002").in_queues(&["sales"]),
        ],
    )
    .await;
    app.connected().await;
    let running = app.running();
    eventually(
        "the restarted controller shows the caller transferred",
        || async {
            running
                .snapshot()
                .calls
                .iter()
                .any(|c| c.channel == caller && c.state == "transferred")
        },
    )
    .await;
    assert_eq!(running.snapshot().waiting(), 0, "not queued again");
    assert_eq!(app.agent_status("1001").await, "available");

    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
    let body = ended_call(&app, &caller).await;
    assert_eq!(body["call"]["outcome"], "transferred", "{body}");
    assert_eq!(
        queue_event_kinds(&body),
        [
            "support enter",
            "support offer",
            "support connect",
            "support transfer"
        ]
    );
    let call = body["call"]["id"].as_str().expect("id").to_owned();
    let types = cti_types(&app, &call).await;
    assert_eq!(types.iter().filter(|t| *t == "call.ended").count(), 1);
}
