//! Issue 17: a consult step sent within milliseconds of the target's answer, before the
//! target's originate returned (the switch is still bridging the agent to the target), must
//! not lose the caller. The simulator's window is widened so the step lands inside it for
//! sure; the engine keeps the step until the originate's BACKGROUND_JOB and sends it then.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sqlx::{Connection, Row};
use switchboard::engine::QueueRouting;
use switchboard::sim::CallSpec;

use crate::harness::{eventually, queue_row, spawn_setup, Agent, Setup, TestApp, ENTRY};

async fn app() -> TestApp {
    let mut queue = queue_row("support", QueueRouting::default());
    queue.moh = "local_stream://support-hold".to_owned();
    let app = spawn_setup(Setup {
        queues: vec![queue],
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

async fn post(app: &TestApp, path: &str, body: Option<Value>) -> reqwest::Response {
    let mut req = app.http.post(format!("{}{path}", app.base));
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.expect("request")
}

/// `(kind, detail)` of the call's transfer queue events and its row's outcome.
async fn history(app: &TestApp, call: &str) -> (Vec<String>, Option<String>) {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&app.database_url)
        .await
        .expect("the controller's database");
    let transfers = sqlx::query(
        "SELECT detail FROM queue_events WHERE call_id = $1 AND kind = 'transfer' ORDER BY id",
    )
    .bind(call)
    .fetch_all(&mut conn)
    .await
    .expect("queue events")
    .iter()
    .map(|r| r.get(0))
    .collect();
    let agent = sqlx::query("SELECT agent_id FROM calls WHERE id = $1")
        .bind(call)
        .fetch_optional(&mut conn)
        .await
        .expect("call row")
        .and_then(|r| r.get::<Option<String>, _>(0));
    (transfers, agent)
}

#[tokio::test]
async fn a_completion_sent_right_after_the_target_answers_transfers_the_caller_to_it() {
    let app = app().await;
    let caller = app.sim.place_call(CallSpec::new("4930309", ENTRY));
    eventually("the call shows as bridged", || async {
        let calls: Value = app.get("/v1/calls").await.json().await.expect("JSON");
        calls["active"][0]["state"] == "bridged"
    })
    .await;
    let calls: Value = app.get("/v1/calls").await.json().await.expect("JSON");
    let call = calls["active"][0]["id"].as_str().expect("an id").to_owned();
    let a_leg = app
        .sim
        .channel(&caller)
        .and_then(|c| c.bridged_to)
        .expect("an agent leg");
    assert_eq!(app.set_agent_state("1002", "available").await.status(), 200);
    // The target's originate returns a second after its answer (captured: about 20 ms).
    app.sim.set_originate_return(Duration::from_secs(1));
    let consult = format!("/v1/calls/{call}/consult");
    assert_eq!(
        post(&app, &consult, Some(json!({ "agent": "1002" })))
            .await
            .status(),
        202
    );
    eventually("the consult leg is known", || async {
        app.call_view(&call).await["consult"]["channel"].is_string()
    })
    .await;
    let k = app.call_view(&call).await["consult"]["channel"]
        .as_str()
        .expect("the consult leg")
        .to_owned();
    // As soon as the target's phone answered: complete (409 while the controller has not
    // seen the answer yet: the consult still rings).
    let deadline = Instant::now() + Duration::from_secs(5);
    while !app.sim.channel(&k).is_some_and(|c| c.answered) {
        assert!(Instant::now() < deadline, "the target never answered");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    loop {
        let status = post(&app, &format!("{consult}/complete"), None)
            .await
            .status();
        if status == 202 {
            break;
        }
        assert_eq!(status, 409);
        assert!(Instant::now() < deadline, "complete never accepted");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // Still inside the window: the switch has not bridged the agent to the target yet.
    assert_ne!(
        app.sim.channel(&a_leg).and_then(|c| c.bridged_to),
        Some(k.clone()),
        "the completion was not sent inside the window"
    );
    eventually("the caller talks to the target", || async {
        app.sim.channel(&caller).and_then(|c| c.bridged_to) == Some(k.clone())
            && app.sim.channel(&a_leg).is_none()
    })
    .await;
    eventually("the call is the target's", || async {
        let calls: Value = app.get("/v1/calls").await.json().await.expect("JSON");
        calls["active"][0]["agent"] == "1002" && app.call_view(&call).await["consult"].is_null()
    })
    .await;
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
    eventually("the call has ended", || async {
        let calls: Value = app.get("/v1/calls").await.json().await.expect("JSON");
        calls["active"].as_array().is_some_and(|a| a.is_empty())
    })
    .await;
    let (transfers, agent) = history(&app, &call).await;
    assert_eq!(transfers.len(), 1, "{transfers:?}");
    assert!(
        transfers[0].starts_with("kind=attended from=1001 to=agent:1002"),
        "{transfers:?}"
    );
    assert_eq!(agent.as_deref(), Some("1002"));
}
