//! Disposition codes and wrap-up over REST on the simulator: codes checked against the
//! queue's list, an agent only on its own call, a required code holding the agent in wrap-up,
//! the code on the call's history row, in `GET /v1/calls/{id}`, in `call.ended` (given on the
//! call) and `call.wrapped_up`; wrap-up extended up to the queue's maximum.

use std::time::Duration;

use serde_json::{json, Value};
use sqlx::{Connection, Row};
use switchboard::engine::wrap_up_work::{DispositionCode, WrapUpWork};
use switchboard::engine::QueueRouting;
use switchboard::sim::CallSpec;
use switchboard::store::QueueRow;

use crate::harness::{
    client_with, eventually, queue_row, spawn_setup, Agent, Setup, TestApp, ENTRY,
};

fn support(wrap_up_ms: i64, required: bool) -> Vec<QueueRow> {
    let mut queue = queue_row(
        "support",
        QueueRouting {
            wrap_up_work: WrapUpWork {
                disposition_codes: vec![
                    DispositionCode {
                        code: "1".into(),
                        label: "Sale".into(),
                    },
                    DispositionCode {
                        code: "2".into(),
                        label: "No sale".into(),
                    },
                ],
                disposition_required: required,
                max_wrap_up: Some(Duration::from_secs(60)),
            },
            ..QueueRouting::default()
        },
    );
    queue.wrap_up_ms = wrap_up_ms;
    vec![queue]
}

async fn app(wrap_up_ms: i64, required: bool) -> TestApp {
    let app = spawn_setup(Setup {
        queues: support(wrap_up_ms, required),
        agents: vec![
            Agent::answering("1001"),
            Agent::answering("1002").logged_out(),
        ],
        entries: Vec::new(),
    })
    .await;
    app.connected().await;
    app
}

async fn token(app: &TestApp, name: &str, agent: &str) -> reqwest::Client {
    let made: Value = app
        .http
        .post(format!("{}/v1/tokens", app.base))
        .json(&json!({ "name": name, "role": "agent", "agent": agent }))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
    client_with(made["token"].as_str().expect("a token"))
}

async fn status(app: &TestApp, agent: &str) -> Value {
    let shown: Value = app
        .get(&format!("/v1/agents/{agent}"))
        .await
        .json()
        .await
        .expect("JSON");
    shown["status"].clone()
}

/// The call's id once its caller talks to 1001.
async fn connected(app: &TestApp, caller: &str) -> String {
    eventually("the call is bridged", || async {
        let calls: Value = app.get("/v1/calls").await.json().await.expect("JSON");
        calls["active"][0]["state"] == "bridged"
            && app
                .sim
                .channel(caller)
                .is_some_and(|c| c.bridged_to.is_some())
    })
    .await;
    let calls: Value = app.get("/v1/calls").await.json().await.expect("JSON");
    calls["active"][0]["id"]
        .as_str()
        .expect("a call id")
        .to_owned()
}

async fn dispose(
    client: &reqwest::Client,
    app: &TestApp,
    call: &str,
    code: &str,
) -> reqwest::Response {
    client
        .put(format!("{}/v1/calls/{call}/disposition", app.base))
        .json(&json!({ "code": code }))
        .send()
        .await
        .expect("request")
}

async fn cti_events(app: &TestApp, call: &str, kind: &str) -> Vec<Value> {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&app.database_url)
        .await
        .expect("the controller's database");
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

#[tokio::test]
async fn a_required_code_holds_the_agent_in_wrap_up_until_its_agent_gives_one() {
    let app = app(0, true).await;
    let alice = token(&app, "alice", "1001").await;
    let bob = token(&app, "bob", "1002").await;
    let queues: Value = app.get("/v1/queues").await.json().await.expect("JSON");
    assert!(queues.to_string().contains("\"No sale\""), "{queues}");

    let caller = app.sim.place_call(CallSpec::new("4930401", ENTRY));
    let call = connected(&app, &caller).await;
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
    eventually("the agent is in wrap-up", || async {
        status(&app, "1001").await == "wrap_up"
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(status(&app, "1001").await, "wrap_up", "held for a code");
    let refused = app
        .put_json("/v1/agents/1001/state", json!({ "state": "available" }))
        .await;
    assert_eq!(refused.status(), 409);

    assert_eq!(dispose(&bob, &app, &call, "1").await.status(), 403);
    let unknown = dispose(&alice, &app, &call, "9").await;
    assert_eq!(unknown.status(), 400);
    let text = unknown.text().await.expect("text");
    assert!(text.contains("No sale"), "{text}");
    assert_eq!(dispose(&alice, &app, &call, "a b").await.status(), 400);

    let taken = dispose(&alice, &app, &call, "2").await;
    assert_eq!(taken.status(), 200);
    let body: Value = taken.json().await.expect("JSON");
    assert_eq!(
        (body["agent"].as_str(), body["queue"].as_str()),
        (Some("1001"), Some("support"))
    );
    eventually("the agent is available again", || async {
        status(&app, "1001").await == "available"
    })
    .await;
    eventually("call.wrapped_up is announced", || async {
        !cti_events(&app, &call, "call.wrapped_up").await.is_empty()
    })
    .await;
    let wrapped = &cti_events(&app, &call, "call.wrapped_up").await[0];
    assert_eq!(wrapped["data"]["details"]["disposition"], "2");
    assert_eq!(wrapped["data"]["call"]["disposition"], "2");
    assert_eq!(wrapped["data"]["agent"]["id"], "1001");
    let shown: Value = app
        .get(&format!("/v1/calls/{call}"))
        .await
        .json()
        .await
        .expect("JSON");
    assert!(
        shown.to_string().contains("\"disposition\":\"2\""),
        "{shown}"
    );
    // Wrapped up: no more codes.
    assert_eq!(dispose(&alice, &app, &call, "1").await.status(), 403);
    assert_eq!(
        dispose(&app.http, &app, &call, "1").await.status(),
        409,
        "a supervisor learns it is over"
    );
}

#[tokio::test]
async fn a_code_given_on_the_call_by_a_supervisor_is_in_call_ended() {
    let app = app(0, false).await;
    let caller = app.sim.place_call(CallSpec::new("4930402", ENTRY));
    let call = connected(&app, &caller).await;
    assert_eq!(dispose(&app.http, &app, &call, "1").await.status(), 200);
    // The history writer has the code before the hangup's batch.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
    eventually("call.ended and call.wrapped_up are announced", || async {
        !cti_events(&app, &call, "call.ended").await.is_empty()
            && !cti_events(&app, &call, "call.wrapped_up").await.is_empty()
    })
    .await;
    let ended = &cti_events(&app, &call, "call.ended").await[0];
    assert_eq!(ended["data"]["call"]["disposition"], "1");
    assert_eq!(status(&app, "1001").await, "available");
}

#[tokio::test]
async fn an_agent_extends_its_wrap_up_up_to_the_queues_maximum() {
    let app = app(1_000, false).await;
    let alice = token(&app, "alice", "1001").await;
    let caller = app.sim.place_call(CallSpec::new("4930403", ENTRY));
    connected(&app, &caller).await;
    let extend = |client: &reqwest::Client, agent: &str, seconds: u64| {
        let request = client
            .post(format!("{}/v1/agents/{agent}/wrap-up", app.base))
            .json(&json!({ "extend_seconds": seconds }));
        async move { request.send().await.expect("request") }
    };
    assert_eq!(
        extend(&alice, "1001", 30).await.status(),
        409,
        "not in wrap-up"
    );
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
    eventually("the agent is in wrap-up", || async {
        status(&app, "1001").await == "wrap_up"
    })
    .await;
    assert_eq!(extend(&alice, "1002", 30).await.status(), 403);
    assert_eq!(extend(&alice, "1001", 0).await.status(), 400);
    let reply = extend(&alice, "1001", 600).await;
    assert_eq!(reply.status(), 200);
    let body: Value = reply.json().await.expect("JSON");
    assert!(
        body["until"].as_str().is_some_and(|u| !u.is_empty()),
        "{body}"
    );
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        status(&app, "1001").await,
        "wrap_up",
        "extended past its 1 s"
    );
    let ended = app
        .put_json("/v1/agents/1001/state", json!({ "state": "available" }))
        .await;
    assert_eq!(ended.status(), 200);
    assert_eq!(status(&app, "1001").await, "available");
}

#[tokio::test]
async fn a_code_keyed_in_from_the_agents_phone_ends_a_held_wrap_up() {
    use switchboard::sim::EntryPoint;
    let code = |number: &str, digits: &str| EntryPoint {
        number: number.into(),
        variables: [
            ("switchboard_feature", "disposition"),
            ("switchboard_reason", digits),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect(),
    };
    let app = spawn_setup(Setup {
        queues: support(0, true),
        agents: vec![Agent::answering("1001")],
        entries: vec![code("*277", "7"), code("*272", "2")],
    })
    .await;
    app.connected().await;
    let caller = app.sim.place_call(CallSpec::new("4930404", ENTRY));
    let call = connected(&app, &caller).await;
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
    eventually("the agent is in wrap-up", || async {
        status(&app, "1001").await == "wrap_up"
    })
    .await;
    let wrong = app.sim.place_call(CallSpec::new("1001", "*277"));
    eventually("the wrong code is refused", || async {
        app.sim
            .played_on(&wrong)
            .iter()
            .any(|p| p.contains("invalid_entry"))
    })
    .await;
    assert_eq!(status(&app, "1001").await, "wrap_up");
    app.sim.place_call(CallSpec::new("1001", "*272"));
    eventually("the agent is available again", || async {
        status(&app, "1001").await == "available"
    })
    .await;
    eventually("the code is on the call", || async {
        cti_events(&app, &call, "call.wrapped_up")
            .await
            .first()
            .is_some_and(|e| e["data"]["details"]["disposition"] == "2")
    })
    .await;
}
