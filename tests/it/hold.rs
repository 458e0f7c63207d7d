//! Hold end to end on the simulator: a desk phone's hold key, REST hold and resume with role
//! checks, the history (queue events, the call's total), `call.held` / `call.resumed` events and
//! the hold in `call.ended`, and a recording paused on hold. The invariant check at drop
//! compares the history's holds with the switch's.

use serde_json::{json, Value};
use sqlx::{Connection, Row};
use switchboard::engine::recording::{RecordingMode, RecordingPolicy};
use switchboard::engine::QueueRouting;
use switchboard::sim::CallSpec;

use crate::harness::{
    client_with, eventually, queue_row, spawn_setup, Agent, Setup, TestApp, ENTRY,
};

async fn app_with(recording: RecordingPolicy, moh: &str, agents: Vec<Agent>) -> TestApp {
    let mut queue = queue_row(
        "support",
        QueueRouting {
            recording,
            ..QueueRouting::default()
        },
    );
    queue.moh = moh.to_owned();
    let app = spawn_setup(Setup {
        queues: vec![queue],
        agents,
        entries: Vec::new(),
    })
    .await;
    app.connected().await;
    app
}

async fn connection(app: &TestApp) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    sqlx::AnyConnection::connect(&app.database_url)
        .await
        .expect("the controller's database")
}

/// The one active call once connected: its id and its caller's and agent's legs.
async fn connected_call(app: &TestApp, caller: &str) -> (String, String) {
    eventually("the call shows as bridged", || async {
        let calls: Value = app.get("/v1/calls").await.json().await.expect("JSON");
        calls["active"][0]["state"] == "bridged"
    })
    .await;
    eventually("the caller is bridged on the switch", || async {
        app.sim
            .channel(caller)
            .is_some_and(|c| c.bridged_to.is_some())
    })
    .await;
    let calls: Value = app.get("/v1/calls").await.json().await.expect("JSON");
    let id = calls["active"][0]["id"].as_str().expect("a call id");
    let leg = app
        .sim
        .channel(caller)
        .and_then(|c| c.bridged_to)
        .expect("an agent leg");
    (id.to_owned(), leg)
}

async fn active_call(app: &TestApp) -> Value {
    let calls: Value = app.get("/v1/calls").await.json().await.expect("JSON");
    calls["active"][0].clone()
}

/// `(kind, detail)` of the call's hold queue events, in order.
async fn hold_events(app: &TestApp, call: &str) -> Vec<(String, String)> {
    let mut conn = connection(app).await;
    sqlx::query(
        "SELECT kind, detail FROM queue_events WHERE call_id = $1 \
         AND kind IN ('hold', 'unhold') ORDER BY id",
    )
    .bind(call)
    .fetch_all(&mut conn)
    .await
    .expect("queue events")
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

/// The payloads of the call's CTI events of `kind`, in order.
async fn cti_events(app: &TestApp, call: &str, kind: &str) -> Vec<Value> {
    let mut conn = connection(app).await;
    sqlx::query("SELECT payload FROM cti_events WHERE call_id = $1 AND type = $2 ORDER BY seq")
        .bind(call)
        .bind(kind)
        .fetch_all(&mut conn)
        .await
        .expect("cti events")
        .iter()
        .map(|r| serde_json::from_str(&r.get::<String, _>(0)).expect("JSON payload"))
        .collect()
}

async fn call_totals(app: &TestApp, call: &str) -> (Option<i64>, Option<i64>) {
    let mut conn = connection(app).await;
    let row = sqlx::query("SELECT hold_ms, holds FROM calls WHERE id = $1")
        .bind(call)
        .fetch_one(&mut conn)
        .await
        .expect("the call row");
    (row.get(0), row.get(1))
}

async fn ended(app: &TestApp, call: &str) {
    eventually("the call has ended in the history", || async {
        !cti_events(app, call, "call.ended").await.is_empty()
    })
    .await;
}

#[tokio::test]
async fn a_desk_phone_hold_is_recorded_announced_and_totalled_in_the_call_end() {
    let app = app_with(
        RecordingPolicy::default(),
        "local_stream://moh",
        vec![Agent::answering("1001")],
    )
    .await;
    let caller = app.sim.place_call(CallSpec::new("4930201", ENTRY));
    let (call, leg) = connected_call(&app, &caller).await;
    for round in 1..=2 {
        assert!(app.sim.phone_hold(&leg), "hold {round}");
        eventually("the snapshot shows the call held", || async {
            !active_call(&app).await["hold"]["held_since"].is_null()
        })
        .await;
        assert!(app
            .sim
            .played_on(&caller)
            .iter()
            .any(|p| p == "local_stream://moh"));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(app.sim.phone_unhold(&leg), "unhold {round}");
        eventually("the snapshot shows the hold ended", || async {
            active_call(&app).await["hold"]["holds"] == round
                && active_call(&app).await["hold"]["held_since"].is_null()
        })
        .await;
    }
    let agent: Value = app.get("/v1/agents/1001").await.json().await.expect("JSON");
    assert!(agent["hold_ms"].as_u64().is_some(), "{agent}");
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
    ended(&app, &call).await;

    let events = hold_events(&app, &call).await;
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["hold", "unhold", "hold", "unhold"]);
    assert!(events.iter().all(|(_, d)| d.starts_with("by=agent_phone")));
    let (hold_ms, holds) = call_totals(&app, &call).await;
    assert_eq!(holds, Some(2));
    assert!(hold_ms.is_some_and(|ms| ms >= 100), "{hold_ms:?}");

    let held = cti_events(&app, &call, "call.held").await;
    let resumed = cti_events(&app, &call, "call.resumed").await;
    assert_eq!((held.len(), resumed.len()), (2, 2));
    assert_eq!(held[0]["data"]["details"]["by"], "agent_phone");
    assert_eq!(held[0]["data"]["agent"]["id"], "1001");
    assert_eq!(resumed[1]["data"]["details"]["holds"], 2);
    let end = &cti_events(&app, &call, "call.ended").await[0];
    assert_eq!(end["data"]["call"]["holds"], 2);
    assert_eq!(end["data"]["call"]["hold_ms"], json!(hold_ms));
}

#[tokio::test]
async fn rest_hold_and_resume_by_the_agent_on_the_call_or_a_supervisor_play_the_queues_music() {
    let app = app_with(
        RecordingPolicy::default(),
        "local_stream://support-hold",
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
    let ask = |client: &reqwest::Client, call: &str, what: &str| {
        let url = format!("{}/v1/calls/{call}/{what}", app.base);
        let client = client.clone();
        async move { client.post(url).send().await.expect("request") }
    };
    let caller = app.sim.place_call(CallSpec::new("4930202", ENTRY));
    let (call, leg) = connected_call(&app, &caller).await;
    let nobody = "0b5e3c1e-8d3f-4f5e-9a49-8f1d2b7c6a10";

    // Another agent's call is 403, and so is a call that does not exist.
    for target in [call.as_str(), nobody] {
        let refused = ask(&bob, target, "hold").await;
        assert_eq!(refused.status(), 403, "{target}");
        assert_eq!(
            refused.headers()["content-type"],
            "application/problem+json"
        );
    }
    assert_eq!(ask(&sup, nobody, "hold").await.status(), 404);
    assert_eq!(ask(&alice, &call, "resume").await.status(), 409);

    let reply = ask(&alice, &call, "hold").await;
    assert_eq!(reply.status(), 202);
    let body: Value = reply.json().await.expect("JSON");
    assert_eq!(body["requested"], "hold");
    eventually("the switch holds the agent leg", || async {
        app.sim
            .channel(&leg)
            .and_then(|c| c.variable("hold_music").map(str::to_owned))
            .is_some()
            && hold_events(&app, &call).await.len() == 1
    })
    .await;
    assert!(app
        .sim
        .played_on(&caller)
        .iter()
        .any(|p| p == "local_stream://support-hold"));
    let conflict = ask(&alice, &call, "hold").await;
    assert_eq!(conflict.status(), 409);
    let problem: Value = conflict.json().await.expect("JSON");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("already on hold")),
        "{problem}"
    );

    assert_eq!(ask(&sup, &call, "resume").await.status(), 202);
    eventually("the switch took the call off hold", || async {
        hold_events(&app, &call).await.len() == 2
    })
    .await;
    let events = hold_events(&app, &call).await;
    assert_eq!(events[0].1, "by=token:alice");
    assert!(events[1].1.starts_with("by=token:sup"), "{events:?}");
    let audit: Value = app.get("/v1/audit").await.json().await.expect("JSON");
    assert!(audit
        .to_string()
        .contains(&format!("/v1/calls/{call}/hold")));
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
    ended(&app, &call).await;
    assert_eq!(call_totals(&app, &call).await.1, Some(1));
}

#[tokio::test]
async fn a_waiting_call_cannot_be_held() {
    let app = app_with(
        RecordingPolicy::default(),
        "local_stream://moh",
        vec![Agent::answering("1001").logged_out()],
    )
    .await;
    let caller = app.sim.place_call(CallSpec::new("4930203", ENTRY));
    eventually("the call waits", || async {
        active_call(&app).await["state"] == "waiting"
    })
    .await;
    let call = active_call(&app).await["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let refused = app
        .http
        .post(format!("{}/v1/calls/{call}/hold", app.base))
        .send()
        .await
        .expect("request");
    assert_eq!(refused.status(), 409);
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
}

#[tokio::test]
async fn a_queue_that_pauses_recordings_on_hold_leaves_the_hold_out_of_the_file() {
    let app = app_with(
        RecordingPolicy {
            mode: RecordingMode::Always,
            pause_on_hold: true,
            ..RecordingPolicy::default()
        },
        "local_stream://moh",
        vec![Agent::answering("1001")],
    )
    .await;
    let caller = app.sim.place_call(CallSpec::new("4930204", ENTRY));
    let (call, leg) = connected_call(&app, &caller).await;
    eventually("the recording runs", || async {
        !active_call(&app).await["recording"].is_null()
    })
    .await;
    assert!(app.sim.phone_hold(&leg));
    eventually("the recording is paused", || async {
        active_call(&app).await["recording"]["paused"] == true
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(app.sim.phone_unhold(&leg));
    eventually("the recording runs again", || async {
        active_call(&app).await["recording"]["paused"] == false
    })
    .await;
    // The snapshot shows the resume before the history writer has committed it.
    let mut conn = connection(&app).await;
    let mut actors: Vec<(String, String)> = Vec::new();
    for _ in 0..100 {
        actors = sqlx::query(
            "SELECT c.action, c.actor FROM recording_changes c \
             JOIN recordings r ON r.id = c.recording_id WHERE r.call_id = $1 ORDER BY c.id",
        )
        .bind(&call)
        .fetch_all(&mut conn)
        .await
        .expect("changes")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
        if actors.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        actors,
        [("pause", "hold"), ("resume", "hold")].map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
    ended(&app, &call).await;
    let file = app
        .sim
        .recorded()
        .into_iter()
        .find(|(on, _)| on == &caller)
        .map(|(_, r)| r)
        .expect("a file");
    assert_eq!(file.paused_intervals.len(), 1);
}

#[tokio::test]
async fn a_hold_another_esl_client_makes_with_uuid_hold_is_recorded_too() {
    let app = app_with(
        RecordingPolicy::default(),
        "local_stream://moh",
        vec![Agent::answering("1001")],
    )
    .await;
    let caller = app.sim.place_call(CallSpec::new("4930205", ENTRY));
    let (call, leg) = connected_call(&app, &caller).await;
    let mut other = crate::capture::Recorder::connect(app.sim.esl_addr(), "plain").await;
    let reply = other.send(&format!("api uuid_hold {leg}\n\n")).await;
    assert_eq!(reply.reply_text(), "+OK Success\n");
    eventually("the hold is recorded", || async {
        hold_events(&app, &call).await.len() == 1
    })
    .await;
    let reply = other.send(&format!("api uuid_hold off {leg}\n\n")).await;
    assert_eq!(reply.reply_text(), "+OK Success\n");
    eventually("its end is recorded", || async {
        hold_events(&app, &call).await.len() == 2
    })
    .await;
    other.close();
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
    ended(&app, &call).await;
    assert_eq!(call_totals(&app, &call).await.1, Some(1));
}

#[tokio::test]
async fn holds_before_a_controller_restart_stay_in_the_calls_total() {
    let mut app = app_with(
        RecordingPolicy::default(),
        "local_stream://moh",
        vec![Agent::answering("1001")],
    )
    .await;
    let caller = app.sim.place_call(CallSpec::new("4930206", ENTRY));
    let (call, leg) = connected_call(&app, &caller).await;
    assert!(app.sim.phone_hold(&leg));
    eventually("the hold is recorded", || async {
        hold_events(&app, &call).await.len() == 1
    })
    .await;
    assert!(app.sim.phone_unhold(&leg));
    eventually("its end is recorded", || async {
        hold_events(&app, &call).await.len() == 2
    })
    .await;

    app.stop_controller().await;
    app.start_with(
        vec![queue_row("support", QueueRouting::default())],
        &[Agent::answering("1001")],
    )
    .await;
    app.connected().await;
    eventually("the bridged call is adopted", || async {
        active_call(&app).await["state"] == "bridged"
    })
    .await;
    assert!(app.sim.phone_hold(&leg));
    eventually("the hold after the restart is recorded", || async {
        hold_events(&app, &call).await.len() == 3
    })
    .await;
    assert!(app.sim.phone_unhold(&leg));
    eventually("its end is recorded", || async {
        hold_events(&app, &call).await.len() == 4
    })
    .await;
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
    ended(&app, &call).await;
    assert_eq!(call_totals(&app, &call).await.1, Some(2));
    let end = &cti_events(&app, &call, "call.ended").await[0];
    assert_eq!(end["data"]["call"]["holds"], 2);
}
