//! "After this call" over REST on the simulator: a pause asked for while the agent talks is
//! accepted as pending (202), shown on the agent, announced as `agent.after_call`, and taken
//! when the call and its wrap-up end; a log-out asked for during a call survives a controller
//! restart and is taken after the adopted call ends.

use std::time::Duration;

use serde_json::{json, Value};
use sqlx::{Connection, Row};
use switchboard::engine::QueueRouting;
use switchboard::sim::CallSpec;
use switchboard::store::QueueRow;

use crate::harness::{
    client_with, eventually, queue_row, spawn_setup, Agent, Setup, TestApp, ENTRY,
};

fn support(wrap_up_ms: i64) -> Vec<QueueRow> {
    let mut queue = queue_row("support", QueueRouting::default());
    queue.wrap_up_ms = wrap_up_ms;
    vec![queue]
}

async fn agent(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/v1/agents/{id}"))
        .await
        .json()
        .await
        .expect("JSON")
}

async fn bridged_leg(app: &TestApp, caller: &str) -> String {
    eventually("the caller is bridged", || async {
        app.sim
            .channel(caller)
            .is_some_and(|c| c.bridged_to.is_some())
    })
    .await;
    eventually("the agent shows on the call", || async {
        agent(app, "1001").await["status"] == "on_call"
    })
    .await;
    app.sim
        .channel(caller)
        .and_then(|c| c.bridged_to)
        .expect("an agent leg")
}

/// The payloads of the agent's `agent.after_call` events, in order.
async fn after_call_events(app: &TestApp) -> Vec<Value> {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&app.database_url)
        .await
        .expect("the controller's database");
    sqlx::query("SELECT payload FROM cti_events WHERE type = 'agent.after_call' ORDER BY seq")
        .fetch_all(&mut conn)
        .await
        .expect("cti events")
        .iter()
        .map(|r| serde_json::from_str(&r.get::<String, _>(0)).expect("JSON payload"))
        .collect()
}

#[tokio::test]
async fn a_pause_asked_for_during_a_call_is_pending_until_the_call_and_its_wrap_up_end() {
    let app = spawn_setup(Setup {
        queues: support(400),
        agents: vec![
            Agent::answering("1001"),
            Agent::answering("1002").logged_out(),
        ],
        entries: Vec::new(),
    })
    .await;
    app.connected().await;
    let caller = app.sim.place_call(CallSpec::new("4930301", ENTRY));
    bridged_leg(&app, &caller).await;

    // Another agent may not ask it for 1001.
    let made: Value = app
        .http
        .post(format!("{}/v1/tokens", app.base))
        .json(&json!({ "name": "bob", "role": "agent", "agent": "1002" }))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
    let bob = client_with(made["token"].as_str().expect("a token"));
    let refused = bob
        .put(format!("{}/v1/agents/1001/state", app.base))
        .json(&json!({ "state": "paused", "reason": "lunch" }))
        .send()
        .await
        .expect("request");
    assert_eq!(refused.status(), 403);

    let reply = app
        .put_json(
            "/v1/agents/1001/state",
            json!({ "state": "paused", "reason": "lunch" }),
        )
        .await;
    assert_eq!(reply.status(), 202);
    let body: Value = reply.json().await.expect("JSON");
    assert_eq!(
        (body["outcome"].as_str(), body["pending"].as_bool()),
        (Some("pending"), Some(true))
    );
    eventually("the agent shows the pause pending", || async {
        let shown = agent(&app, "1001").await;
        shown["status"] == "on_call" && shown["after_call"]["status"] == "paused"
    })
    .await;
    assert_eq!(agent(&app, "1001").await["after_call"]["reason"], "lunch");

    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
    eventually("the agent is in wrap-up, then paused", || async {
        agent(&app, "1001").await["status"] == "paused"
    })
    .await;
    let shown = agent(&app, "1001").await;
    assert_eq!(shown["reason"], "lunch");
    assert!(shown["after_call"].is_null(), "{shown}");
    let states: Value = app
        .get("/v1/agents/1001/states")
        .await
        .json()
        .await
        .expect("JSON");
    let text = states.to_string();
    assert!(text.contains("wrap_up"), "wrap-up came first: {text}");

    eventually("both after-call events are announced", || async {
        after_call_events(&app).await.len() == 2
    })
    .await;
    let events = after_call_events(&app).await;
    let details: Vec<(Value, Value)> = events
        .iter()
        .map(|e| {
            (
                e["data"]["details"]["pending"].clone(),
                e["data"]["details"]["applied"].clone(),
            )
        })
        .collect();
    assert_eq!(
        details,
        [(json!(true), json!(false)), (json!(false), json!(true))],
        "{events:?}"
    );
    assert_eq!(events[0]["data"]["agent"]["id"], "1001");
    assert_eq!(events[0]["data"]["details"]["state"], "paused");
}

#[tokio::test]
async fn available_cancels_a_pending_log_out_and_is_refused_with_nothing_pending() {
    let app = spawn_setup(Setup {
        queues: support(0),
        agents: vec![Agent::answering("1001")],
        entries: Vec::new(),
    })
    .await;
    app.connected().await;
    let caller = app.sim.place_call(CallSpec::new("4930302", ENTRY));
    bridged_leg(&app, &caller).await;
    let available = json!({ "state": "available" });
    assert_eq!(
        app.put_json("/v1/agents/1001/state", available.clone())
            .await
            .status(),
        409
    );
    let reply = app
        .put_json("/v1/agents/1001/state", json!({ "state": "logged_out" }))
        .await;
    assert_eq!(reply.status(), 202);
    let reply = app.put_json("/v1/agents/1001/state", available).await;
    assert_eq!(reply.status(), 200);
    let body: Value = reply.json().await.expect("JSON");
    assert_eq!(body["outcome"], "cancelled");
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
    eventually("the agent is available again", || async {
        agent(&app, "1001").await["status"] == "available"
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(agent(&app, "1001").await["status"], "available");
}

#[tokio::test]
async fn a_log_out_pending_through_a_controller_restart_is_taken_after_the_adopted_call() {
    let mut app = spawn_setup(Setup {
        queues: support(0),
        agents: vec![Agent::answering("1001")],
        entries: Vec::new(),
    })
    .await;
    app.connected().await;
    let caller = app.sim.place_call(CallSpec::new("4930303", ENTRY));
    bridged_leg(&app, &caller).await;
    let reply = app
        .put_json("/v1/agents/1001/state", json!({ "state": "logged_out" }))
        .await;
    assert_eq!(reply.status(), 202);
    eventually("the pending log-out is written", || async {
        after_call_events(&app).await.len() == 1
    })
    .await;

    app.stop_controller().await;
    app.start_with(support(0), &[Agent::answering("1001")])
        .await;
    app.connected().await;
    eventually("the adopted call shows the log-out pending", || async {
        let shown = agent(&app, "1001").await;
        shown["status"] == "on_call" && shown["after_call"]["status"] == "logged_out"
    })
    .await;
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
    eventually("the agent is logged out after the call", || async {
        agent(&app, "1001").await["status"] == "logged_out"
    })
    .await;
}
