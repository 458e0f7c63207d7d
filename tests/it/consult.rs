//! Consult transfers over REST end to end on the simulator: start (the target's phone rings,
//! then the caller hears the queue's music while the agent talks to the target), complete
//! (the caller talks to the target under the same call id; the first agent's part ends as an
//! attended transfer), cancel (back to the caller), swap, role checks, the audit log, the
//! consult shown in `GET /v1/calls/{id}` and the history. The invariant check at drop compares
//! the history with what the switch did.

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

async fn post(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = client.post(format!("{}{path}", app.base));
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.expect("request")
}

/// The call connected to 1001: its id and the agent's leg; then 1002 is made available.
async fn connected(app: &TestApp, caller: &str) -> (String, String) {
    eventually("the caller is bridged on the switch", || async {
        app.sim
            .channel(caller)
            .is_some_and(|c| c.bridged_to.is_some())
    })
    .await;
    eventually("the call shows as bridged", || async {
        let calls: Value = app.get("/v1/calls").await.json().await.expect("JSON");
        calls["active"][0]["state"] == "bridged"
    })
    .await;
    let calls: Value = app.get("/v1/calls").await.json().await.expect("JSON");
    let id = calls["active"][0]["id"].as_str().expect("an id").to_owned();
    let leg = app
        .sim
        .channel(caller)
        .and_then(|c| c.bridged_to)
        .expect("an agent leg");
    assert_eq!(app.set_agent_state("1002", "available").await.status(), 200);
    (id, leg)
}

/// `(kind, detail)` of the call's consult and transfer queue events, in order.
async fn consult_events(app: &TestApp, call: &str) -> Vec<(String, String)> {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&app.database_url)
        .await
        .expect("the controller's database");
    sqlx::query(
        "SELECT kind, detail FROM queue_events WHERE call_id = $1 \
         AND kind IN ('consult', 'transfer') ORDER BY id",
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
async fn cti_payloads(app: &TestApp, call: &str, kind: &str) -> Vec<Value> {
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
async fn an_agent_consults_a_colleague_and_completes_the_transfer_under_the_same_call() {
    let app = app().await;
    let alice = app.client_for("alice", "agent", Some("1001")).await;
    let bob = app.client_for("bob", "agent", Some("1002")).await;
    let caller = app.sim.place_call(CallSpec::new("4930301", ENTRY));
    let (call, a_leg) = connected(&app, &caller).await;
    let consult = format!("/v1/calls/{call}/consult");

    // Another agent's call is 403; bad bodies are 400; nothing to complete yet is 409.
    let refused = post(&app, &bob, &consult, Some(json!({ "agent": "1002" }))).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(
        post(&app, &alice, &consult, Some(json!({ "who": "1002" })))
            .await
            .status(),
        400
    );
    assert_eq!(
        post(&app, &alice, &consult, Some(json!({ "agent": "1001" })))
            .await
            .status(),
        400
    );
    assert_eq!(
        post(&app, &alice, &consult, Some(json!({ "agent": "9999" })))
            .await
            .status(),
        404
    );
    assert_eq!(
        post(&app, &alice, &format!("{consult}/complete"), None)
            .await
            .status(),
        409
    );

    let reply = post(&app, &alice, &consult, Some(json!({ "agent": "1002" }))).await;
    assert_eq!(reply.status(), 202);
    let body: Value = reply.json().await.expect("JSON");
    assert_eq!(body["requested"], "consult");
    eventually("the consult is talking", || async {
        app.call_view(&call).await["consult"]["phase"] == "talking"
    })
    .await;
    let k = app.call_view(&call).await["consult"]["channel"]
        .as_str()
        .expect("the consult leg")
        .to_owned();
    eventually(
        "the agent talks to the target, the caller is parked",
        || async {
            app.sim.channel(&a_leg).and_then(|c| c.bridged_to) == Some(k.clone())
                && app
                    .sim
                    .channel(&caller)
                    .is_some_and(|c| c.bridged_to.is_none())
        },
    )
    .await;
    eventually("the caller hears the queue's music", || async {
        app.sim
            .played_on(&caller)
            .iter()
            .any(|p| p == "local_stream://support-hold")
    })
    .await;
    assert_eq!(app.agent_status("1002").await, "on_call");
    // The target sees the call it is consulted on.
    let seen: Value = bob
        .get(format!("{}/v1/calls/{call}", app.base))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
    assert_eq!(seen["call"]["id"], call.as_str());

    assert_eq!(
        post(&app, &alice, &format!("{consult}/complete"), None)
            .await
            .status(),
        202
    );
    eventually("the caller talks to the target", || async {
        app.sim.channel(&caller).and_then(|c| c.bridged_to) == Some(k.clone())
            && app.sim.channel(&a_leg).is_none()
    })
    .await;
    eventually("the call is the target's", || async {
        let view = app.call_view(&call).await;
        let calls: Value = app.get("/v1/calls").await.json().await.expect("JSON");
        calls["active"][0]["agent"] == "1002" && view["consult"].is_null()
    })
    .await;
    assert_ne!(app.agent_status("1001").await, "on_call");
    let events = consult_events(&app, &call).await;
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        ["consult", "consult", "consult", "transfer"],
        "{events:?}"
    );
    assert!(
        events[3]
            .1
            .starts_with("kind=attended from=1001 to=agent:1002 by=token:alice"),
        "{events:?}"
    );
    let steps: Vec<String> = cti_payloads(&app, &call, "call.consult")
        .await
        .iter()
        .map(|p| {
            p["data"]["details"]["step"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(steps, ["start", "answered", "complete"]);
    let transferred = cti_payloads(&app, &call, "call.transferred").await;
    assert_eq!(transferred.len(), 1);
    assert_eq!(transferred[0]["data"]["details"]["kind"], "attended");
    let audit: Value = app.get("/v1/audit").await.json().await.expect("JSON");
    assert!(audit
        .to_string()
        .contains(&format!("/v1/calls/{call}/consult/complete")));

    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
    eventually("the call has ended", || async {
        let calls: Value = app.get("/v1/calls").await.json().await.expect("JSON");
        calls["active"].as_array().is_some_and(|a| a.is_empty())
    })
    .await;
}

#[tokio::test]
async fn a_supervisor_cancels_a_consult_and_swaps_another_and_the_agent_is_back_with_the_caller() {
    let app = app().await;
    let sup = app.client_for("sup", "supervisor", None).await;
    let caller = app.sim.place_call(CallSpec::new("4930302", ENTRY));
    let (call, a_leg) = connected(&app, &caller).await;
    let consult = format!("/v1/calls/{call}/consult");

    // Cancel while talking to the target.
    assert_eq!(
        post(&app, &sup, &consult, Some(json!({ "agent": "1002" })))
            .await
            .status(),
        202
    );
    eventually("the consult is talking", || async {
        app.call_view(&call).await["consult"]["phase"] == "talking"
    })
    .await;
    // The switch has bridged the agent to the target (a bridge asked before the target's
    // originate returned completes only then; see docs/decisions.md).
    eventually("the agent talks to the target", || async {
        let k = app.call_view(&call).await["consult"]["channel"]
            .as_str()
            .map(str::to_owned);
        k.is_some() && app.sim.channel(&a_leg).and_then(|c| c.bridged_to) == k
    })
    .await;
    assert_eq!(
        post(&app, &sup, &consult, Some(json!({ "agent": "1002" })))
            .await
            .status(),
        409
    );
    assert_eq!(
        post(&app, &sup, &format!("{consult}/cancel"), None)
            .await
            .status(),
        202
    );
    eventually(
        "the agent is back with the caller and the target is free",
        || async {
            app.sim.channel(&caller).and_then(|c| c.bridged_to) == Some(a_leg.clone())
                && app.call_view(&call).await["consult"].is_null()
                && app.agent_status("1002").await == "available"
        },
    )
    .await;

    // Swap to the caller and back, then cancel from the caller's side.
    assert_eq!(
        post(&app, &sup, &consult, Some(json!({ "agent": "1002" })))
            .await
            .status(),
        202
    );
    eventually("the second consult is talking", || async {
        app.call_view(&call).await["consult"]["phase"] == "talking"
    })
    .await;
    let k = app.call_view(&call).await["consult"]["channel"]
        .as_str()
        .expect("the consult leg")
        .to_owned();
    eventually("the agent talks to the second target", || async {
        app.sim.channel(&a_leg).and_then(|c| c.bridged_to) == Some(k.clone())
    })
    .await;
    assert_eq!(
        post(&app, &sup, &format!("{consult}/swap"), None)
            .await
            .status(),
        202
    );
    eventually(
        "the agent talks to the caller, the target is parked",
        || async {
            app.sim.channel(&caller).and_then(|c| c.bridged_to) == Some(a_leg.clone())
                && app.sim.channel(&k).is_some_and(|c| c.bridged_to.is_none())
        },
    )
    .await;
    eventually("the target hears the queue's music", || async {
        app.sim
            .played_on(&k)
            .iter()
            .any(|p| p == "local_stream://support-hold")
    })
    .await;
    assert_eq!(
        post(&app, &sup, &format!("{consult}/swap"), None)
            .await
            .status(),
        202
    );
    eventually("the agent talks to the target again", || async {
        app.sim.channel(&a_leg).and_then(|c| c.bridged_to) == Some(k.clone())
    })
    .await;
    assert_eq!(
        post(&app, &sup, &format!("{consult}/swap"), None)
            .await
            .status(),
        202
    );
    eventually("swapped back to the caller", || async {
        app.call_view(&call).await["consult"]["phase"] == "swapped"
            && app.sim.channel(&caller).and_then(|c| c.bridged_to) == Some(a_leg.clone())
    })
    .await;
    assert_eq!(
        post(&app, &sup, &format!("{consult}/cancel"), None)
            .await
            .status(),
        202
    );
    eventually(
        "the target's leg is gone and the agent is with the caller",
        || async {
            app.sim.channel(&k).is_none()
                && app.call_view(&call).await["consult"].is_null()
                && app.agent_status("1002").await == "available"
        },
    )
    .await;
    assert_eq!(app.agent_status("1001").await, "on_call");

    // The agent hangs up: the call ends once, as completed.
    assert!(app.sim.hangup(&a_leg, "NORMAL_CLEARING"));
    eventually("the call has ended", || async {
        let calls: Value = app.get("/v1/calls").await.json().await.expect("JSON");
        calls["active"].as_array().is_some_and(|a| a.is_empty())
    })
    .await;
    assert!(
        app.sim.channel(&caller).is_none(),
        "the caller hung up with the agent"
    );
}
