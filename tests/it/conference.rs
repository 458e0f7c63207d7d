//! Conferences over REST end to end on the simulator: an agent adds a colleague (the caller
//! and the agent move into a conference of ours, the colleague's phone rings into it), drops
//! it, the call's agent leaves with the others staying (the colleague takes the call) or
//! ending (every leg hung up), role checks, the audit log, the conference shown in
//! `GET /v1/calls/{id}`, the history and `call.conference` events. The invariant check at drop
//! compares the history with what the switch did.

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
            Agent::answering("1003").logged_out(),
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
    assert_eq!(app.set_agent_state("1003", "available").await.status(), 200);
    (id, leg)
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

/// `detail` of the call's conference queue events, in order.
async fn conference_steps(app: &TestApp, call: &str) -> Vec<String> {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&app.database_url)
        .await
        .expect("the controller's database");
    sqlx::query(
        "SELECT detail FROM queue_events WHERE call_id = $1 AND kind = 'conference' ORDER BY id",
    )
    .bind(call)
    .fetch_all(&mut conn)
    .await
    .expect("queue events")
    .iter()
    .map(|r| {
        let d: String = r.get(0);
        d.split_whitespace()
            .next()
            .and_then(|w| w.strip_prefix("step="))
            .unwrap_or_default()
            .to_owned()
    })
    .collect()
}

async fn party_leg(app: &TestApp, call: &str, agent: &str) -> String {
    eventually("the party joined", || async {
        app.call_view(call).await["conference"]["parties"]
            .as_array()
            .is_some_and(|ps| {
                ps.iter()
                    .any(|p| p["agent"] == agent && p["status"] == "joined")
            })
    })
    .await;
    app.call_view(call).await["conference"]["parties"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["agent"] == agent))
        .and_then(|p| p["channel"].as_str())
        .expect("the party's leg")
        .to_owned()
}

async fn call_ended(app: &TestApp) {
    eventually("the call has ended", || async {
        let calls: Value = app.get("/v1/calls").await.json().await.expect("JSON");
        calls["active"].as_array().is_some_and(|a| a.is_empty())
    })
    .await;
}

#[tokio::test]
async fn an_agent_adds_a_colleague_drops_it_and_leaves_and_the_caller_is_hung_up_once() {
    let app = app().await;
    let alice = app.client_for("alice", "agent", Some("1001")).await;
    let bob = app.client_for("bob", "agent", Some("1002")).await;
    let caller = app.sim.place_call(CallSpec::new("4930401", ENTRY));
    let (call, a_leg) = connected(&app, &caller).await;
    let conference = format!("/v1/calls/{call}/conference");

    // Another agent's call is 403; bad bodies are 400; unknown agents 404; nothing to drop 409.
    let refused = post(&app, &bob, &conference, Some(json!({ "agent": "1003" }))).await;
    assert_eq!(refused.status(), 403);
    for bad in [
        json!({ "who": "1002" }),
        json!({ "agent": "1001" }),
        json!({ "agent": "1002", "agent_leaves": "maybe" }),
    ] {
        assert_eq!(
            post(&app, &alice, &conference, Some(bad.clone()))
                .await
                .status(),
            400,
            "{bad}"
        );
    }
    assert_eq!(
        post(&app, &alice, &conference, Some(json!({ "agent": "9999" })))
            .await
            .status(),
        404
    );
    let drop_bob = format!("{}{conference}/parties/1002", app.base);
    assert_eq!(
        alice
            .delete(&drop_bob)
            .send()
            .await
            .expect("request")
            .status(),
        409
    );

    let reply = post(&app, &alice, &conference, Some(json!({ "agent": "1002" }))).await;
    assert_eq!(reply.status(), 202);
    let t = party_leg(&app, &call, "1002").await;
    let name = format!("sb-{call}");
    eventually(
        "the caller, the agent and the colleague are in the conference",
        || async {
            let legs: Vec<String> = app
                .sim
                .conference_members(&name)
                .into_iter()
                .map(|(l, _)| l)
                .collect();
            legs == [caller.clone(), a_leg.clone(), t.clone()]
        },
    )
    .await;
    assert!(app
        .sim
        .channel(&caller)
        .is_some_and(|c| c.bridged_to.is_none()));
    assert_eq!(app.agent_status("1002").await, "on_call");
    let view = app.call_view(&call).await;
    assert_eq!(view["conference"]["name"], name.as_str());
    assert_eq!(view["conference"]["agent_leaves"], "stay");
    // The party sees the call it is in.
    let seen = bob
        .get(format!("{}/v1/calls/{call}", app.base))
        .send()
        .await
        .expect("request");
    assert_eq!(seen.status(), 200);

    let dropped = alice.delete(&drop_bob).send().await.expect("request");
    assert_eq!(dropped.status(), 202);
    eventually("the colleague's leg is gone and it is free", || async {
        app.sim.channel(&t).is_none() && app.agent_status("1002").await == "available"
    })
    .await;
    assert_eq!(app.agent_status("1001").await, "on_call");
    assert!(app.sim.channel(&caller).is_some());

    // The agent leaves: the caller, alone in the conference, is hung up; the call ends once.
    assert!(app.sim.hangup(&a_leg, "NORMAL_CLEARING"));
    call_ended(&app).await;
    eventually("the caller is hung up", || async {
        app.sim.channel(&caller).is_none()
    })
    .await;
    assert_eq!(
        conference_steps(&app, &call).await,
        ["started", "adding", "added", "drop", "left", "ended"]
    );
    let steps: Vec<String> = cti_payloads(&app, &call, "call.conference")
        .await
        .iter()
        .map(|p| {
            p["data"]["details"]["step"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(
        steps,
        ["started", "adding", "added", "drop", "left", "ended"]
    );
    assert_eq!(cti_payloads(&app, &call, "call.ended").await.len(), 1);
    let audit: Value = app.get("/v1/audit").await.json().await.expect("JSON");
    assert!(audit
        .to_string()
        .contains(&format!("/v1/calls/{call}/conference")));
}

#[tokio::test]
async fn the_agent_leaves_and_the_colleague_keeps_the_caller() {
    let app = app().await;
    let sup = app.client_for("sup", "supervisor", None).await;
    let caller = app.sim.place_call(CallSpec::new("4930402", ENTRY));
    let (call, a_leg) = connected(&app, &caller).await;
    let conference = format!("/v1/calls/{call}/conference");
    assert_eq!(
        post(&app, &sup, &conference, Some(json!({ "agent": "1002" })))
            .await
            .status(),
        202
    );
    let t = party_leg(&app, &call, "1002").await;
    // An agent not on the call may not drop anyone (403); the party's own token may read it.
    let carol = app.client_for("carol", "agent", Some("1003")).await;
    let bob = app.client_for("bob", "agent", Some("1002")).await;
    let drop_bob = format!("{}{conference}/parties/1002", app.base);
    assert_eq!(
        carol
            .delete(&drop_bob)
            .send()
            .await
            .expect("request")
            .status(),
        403
    );
    let seen = bob
        .get(format!("{}/v1/calls/{call}", app.base))
        .send()
        .await
        .expect("request");
    assert_eq!(seen.status(), 200);
    assert!(app.sim.hangup(&a_leg, "NORMAL_CLEARING"));
    eventually("the colleague has the call", || async {
        let calls: Value = app.get("/v1/calls").await.json().await.expect("JSON");
        calls["active"][0]["agent"] == "1002"
    })
    .await;
    assert_ne!(app.agent_status("1001").await, "on_call");
    assert!(app.sim.channel(&caller).is_some());
    assert!(app.sim.channel(&t).is_some());
    assert!(app.sim.hangup(&t, "NORMAL_CLEARING"));
    call_ended(&app).await;
    eventually("the caller is hung up", || async {
        app.sim.channel(&caller).is_none()
    })
    .await;
    assert_eq!(cti_payloads(&app, &call, "call.ended").await.len(), 1);
}

#[tokio::test]
async fn in_end_mode_the_agent_leaving_ends_the_call_for_everyone() {
    let app = app().await;
    let sup = app.client_for("sup", "supervisor", None).await;
    let caller = app.sim.place_call(CallSpec::new("4930403", ENTRY));
    let (call, a_leg) = connected(&app, &caller).await;
    let conference = format!("/v1/calls/{call}/conference");
    for agent in ["1002", "1003"] {
        let body = json!({ "agent": agent, "agent_leaves": "end" });
        assert_eq!(
            post(&app, &sup, &conference, Some(body)).await.status(),
            202
        );
        party_leg(&app, &call, agent).await;
    }
    assert_eq!(
        app.call_view(&call).await["conference"]["agent_leaves"],
        "end"
    );
    assert!(app.sim.hangup(&a_leg, "NORMAL_CLEARING"));
    call_ended(&app).await;
    eventually("every leg is gone and every agent is free", || async {
        app.sim.channel(&caller).is_none()
            && app.sim.conference_members(&format!("sb-{call}")).is_empty()
            && app.agent_status("1002").await == "available"
            && app.agent_status("1003").await == "available"
    })
    .await;
    assert_eq!(cti_payloads(&app, &call, "call.ended").await.len(), 1);
}

#[tokio::test]
async fn a_number_joins_through_the_external_dial_template_and_is_dropped() {
    let mut queue = queue_row("support", QueueRouting::default());
    queue.moh = "local_stream://support-hold".to_owned();
    let agents = || {
        vec![
            Agent::answering("1001"),
            // An outside phone, reachable as user/5551234 (not an agent of the queue).
            Agent::answering("5551234").in_queues(&[]).logged_out(),
        ]
    };
    let mut app = spawn_setup(Setup {
        queues: vec![queue.clone()],
        agents: agents(),
        entries: Vec::new(),
    })
    .await;
    app.stop_controller().await;
    app.external_dial = Some(switchboard::engine::ExternalDial {
        template: "user/{number}".into(),
        allowed_prefixes: Vec::new(),
    });
    app.start_with(vec![queue], &agents()).await;
    app.connected().await;
    let alice = app.client_for("alice", "agent", Some("1001")).await;
    let caller = app.sim.place_call(CallSpec::new("4930404", ENTRY));
    eventually("the call shows as bridged", || async {
        let calls: Value = app.get("/v1/calls").await.json().await.expect("JSON");
        calls["active"][0]["state"] == "bridged"
    })
    .await;
    let calls: Value = app.get("/v1/calls").await.json().await.expect("JSON");
    let call = calls["active"][0]["id"].as_str().expect("an id").to_owned();
    let conference = format!("/v1/calls/{call}/conference");
    for bad in [
        json!({ "number": "12;x" }),
        json!({ "agent": "1001", "number": "5551234" }),
        json!({}),
    ] {
        assert_eq!(
            post(&app, &alice, &conference, Some(bad.clone()))
                .await
                .status(),
            400,
            "{bad}"
        );
    }
    let reply = post(
        &app,
        &alice,
        &conference,
        Some(json!({ "number": "5551234" })),
    )
    .await;
    assert_eq!(reply.status(), 202);
    eventually("the number joined", || async {
        app.call_view(&call).await["conference"]["parties"]
            .as_array()
            .is_some_and(|ps| {
                ps.iter()
                    .any(|p| p["number"] == "5551234" && p["status"] == "joined")
            })
    })
    .await;
    let n = app.call_view(&call).await["conference"]["parties"][0]["channel"]
        .as_str()
        .expect("the number's leg")
        .to_owned();
    eventually("three members", || async {
        app.sim.conference_members(&format!("sb-{call}")).len() == 3
    })
    .await;
    let dropped = alice
        .delete(format!("{}{conference}/parties/5551234", app.base))
        .send()
        .await
        .expect("request");
    assert_eq!(dropped.status(), 202);
    eventually("the number's leg is gone", || async {
        app.sim.channel(&n).is_none()
    })
    .await;
    assert_eq!(app.agent_status("1001").await, "on_call");
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
    call_ended(&app).await;
    assert_eq!(
        conference_steps(&app, &call).await,
        ["started", "adding", "added", "drop", "left", "ended"]
    );
}
