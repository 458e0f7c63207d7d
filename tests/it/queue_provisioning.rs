//! Queues provisioned over REST, end to end: a supervisor opens an overflow queue during a
//! storm and moves a waiting caller into it, the queue is changed while callers wait, removed
//! only when nothing holds it, and what was created over REST survives a restart.

use serde_json::{json, Value};
use switchboard::engine::{parse_skill_list, EscalationStep, QueueRouting};
use switchboard::sim::CallSpec;

use crate::harness::{eventually, queue_row, spawn_setup, Agent, Setup, TestApp, ENTRY};

async fn send(
    app: &TestApp,
    client: &reqwest::Client,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = client.request(method, format!("{}{path}", app.base));
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("request")
}

async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.expect("a JSON body")
}

async fn active(app: &TestApp) -> Value {
    let calls: Value = app.get("/v1/calls").await.json().await.expect("JSON");
    calls["active"][0].clone()
}

async fn call_in(app: &TestApp, state: &str) -> String {
    eventually(&format!("the call shows as {state}"), || async {
        active(app).await["state"] == state
    })
    .await;
    active(app).await["id"]
        .as_str()
        .expect("a call id")
        .to_owned()
}

async fn bridged(app: &TestApp, caller: &str) {
    eventually("the caller is bridged to an agent", || async {
        app.sim.channel(caller).and_then(|c| c.bridged_to).is_some()
    })
    .await;
}

async fn queue_ids(app: &TestApp) -> Vec<String> {
    let listed = json_of(app.get("/v1/queues").await).await;
    listed["queues"]
        .as_array()
        .map(|qs| {
            qs.iter()
                .filter_map(|q| q["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn agent_body(id: &str, queues: &[&str]) -> Value {
    json!({
        "name": format!("Agent {id}"),
        "dial_string": format!("user/{id}"),
        "queues": queues,
    })
}

#[tokio::test]
async fn a_supervisor_opens_an_overflow_queue_moves_a_caller_there_and_an_admin_removes_it() {
    use reqwest::Method;
    let app = spawn_setup(Setup {
        queues: vec![queue_row("support", QueueRouting::default())],
        agents: vec![Agent::answering("1001").logged_out()],
        entries: Vec::new(),
    })
    .await;
    app.connected().await;
    let sup = app.client_for("sup", "supervisor", None).await;
    let alice = app.client_for("alice", "agent", Some("1001")).await;
    let storm = json!({ "id": "storm", "name": "Storm", "strategy": "round-robin" });
    let post = |client, body| send(&app, client, Method::POST, "/v1/queues", Some(body));
    assert_eq!(post(&alice, storm.clone()).await.status(), 403);

    // The file's checks, with the file's messages, as problem details.
    let bad = post(
        &sup,
        json!({ "id": "storm", "name": "Storm", "strategy": "fastest" }),
    )
    .await;
    assert_eq!(bad.status(), 422);
    let problem = json_of(bad).await;
    assert!(
        problem.to_string().contains("strategy") && problem.to_string().contains("longest-idle"),
        "{problem}"
    );
    let nowhere = json!({ "id": "storm", "name": "Storm", "on_no_agents": "queue:nowhere" });
    assert_eq!(post(&sup, nowhere).await.status(), 422);
    let unsafe_moh = json!({ "id": "storm", "name": "Storm", "moh": "local_stream://x; hupall" });
    assert_eq!(post(&sup, unsafe_moh).await.status(), 422);
    let bad_id = json!({ "id": "no spaces", "name": "Storm" });
    assert_eq!(post(&sup, bad_id).await.status(), 422);

    let caller = app.sim.place_call(CallSpec::new("4930401", ENTRY));
    let call = call_in(&app, "waiting").await;
    let created = post(&sup, storm.clone()).await;
    assert_eq!(created.status(), 201);
    let body = json_of(created).await;
    assert_eq!(body["id"], "storm");
    assert_eq!(body["wrap_up_ms"], 5_000, "the config's [routing] default");
    assert_eq!(body["ring_timeout_ms"], 20_000);
    assert_eq!(post(&sup, storm).await.status(), 409, "it exists");
    eventually("the storm queue is listed", || async {
        queue_ids(&app).await.contains(&"storm".to_owned())
    })
    .await;

    // Agent 1001 now serves only the storm queue; the caller waits in support until moved.
    let moved_agent = app
        .put_json("/v1/agents/1001", agent_body("1001", &["storm"]))
        .await;
    assert_eq!(moved_agent.status(), 200);
    assert_eq!(app.set_agent_state("1001", "available").await.status(), 200);
    assert_eq!(active(&app).await["state"], "waiting");
    let moved = send(
        &app,
        &sup,
        Method::POST,
        &format!("/v1/calls/{call}/move"),
        Some(json!({ "queue": "storm" })),
    )
    .await;
    assert_eq!(moved.status(), 202);
    bridged(&app, &caller).await;
    eventually("the call is connected in storm", || async {
        let call = active(&app).await;
        call["queue"] == "storm" && call["state"] == "bridged"
    })
    .await;

    // Removing: admins only, and only once nothing holds it.
    let delete = |client| send(&app, client, Method::DELETE, "/v1/queues/storm", None);
    assert_eq!(delete(&sup).await.status(), 403);
    let held = delete(&app.http).await;
    assert_eq!(held.status(), 409);
    assert!(json_of(held).await.to_string().contains(&call));
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
    eventually("the call ends", || async {
        app.running().snapshot().calls.is_empty()
    })
    .await;
    let members = delete(&app.http).await;
    assert_eq!(members.status(), 409);
    assert!(json_of(members).await.to_string().contains("1001"));
    let back = app
        .put_json("/v1/agents/1001", agent_body("1001", &["support"]))
        .await;
    assert_eq!(back.status(), 200);
    // Another queue overflowing to it holds it too.
    let support_to_storm = json!({ "name": "Support", "on_no_agents": "queue:storm" });
    assert_eq!(
        app.put_json("/v1/queues/support", support_to_storm)
            .await
            .status(),
        200
    );
    let overflow = delete(&app.http).await;
    assert_eq!(overflow.status(), 409);
    assert!(json_of(overflow).await.to_string().contains("support"));
    let plain = json!({ "name": "Support" });
    assert_eq!(
        app.put_json("/v1/queues/support", plain).await.status(),
        200
    );
    assert_eq!(delete(&app.http).await.status(), 204);
    assert_eq!(delete(&app.http).await.status(), 404);
    eventually("the storm queue is gone", || async {
        !queue_ids(&app).await.contains(&"storm".to_owned())
    })
    .await;
    assert_eq!(app.get("/v1/queues/storm/provisioning").await.status(), 404);
    let audit = json_of(app.get("/v1/audit").await).await.to_string();
    assert!(
        audit.contains("/v1/queues/storm") && audit.contains("\"POST\""),
        "{audit}"
    );
}

#[tokio::test]
async fn a_queue_changed_over_rest_routes_its_waiting_caller_by_the_new_settings() {
    let spanish = QueueRouting {
        steps: vec![EscalationStep {
            require: parse_skill_list("spanish:5").expect("skills"),
            ..EscalationStep::default()
        }],
        ..QueueRouting::default()
    };
    let app = spawn_setup(Setup {
        queues: vec![queue_row("support", spanish)],
        agents: vec![Agent::answering("1001").skilled("french:9")],
        entries: Vec::new(),
    })
    .await;
    app.connected().await;
    let caller = app.sim.place_call(CallSpec::new("4930402", ENTRY));
    call_in(&app, "waiting").await;
    let changed = app
        .put_json(
            "/v1/queues/support",
            json!({ "name": "Support", "strategy": "random" }),
        )
        .await;
    assert_eq!(changed.status(), 200);
    bridged(&app, &caller).await;
    let read = json_of(app.get("/v1/queues/support/provisioning").await).await;
    assert_eq!(read["routing"]["steps"], json!([]), "{read}");
    let other = app
        .put_json(
            "/v1/queues/support",
            json!({ "id": "sales", "name": "Support" }),
        )
        .await;
    assert_eq!(other.status(), 422);
}

#[tokio::test]
async fn a_queue_created_over_rest_survives_a_restart_and_the_file_wins_for_its_own() {
    let mut app = spawn_setup(Setup {
        queues: vec![queue_row("support", QueueRouting::default())],
        agents: vec![Agent::answering("1001")],
        entries: Vec::new(),
    })
    .await;
    app.connected().await;
    let storm = json!({ "name": "Storm", "wrap_up": "30s", "max_wait": "2m",
                        "on_max_wait": "queue:support" });
    assert_eq!(app.put_json("/v1/queues/storm", storm).await.status(), 201);
    let renamed = json!({ "name": "Renamed over REST" });
    assert_eq!(
        app.put_json("/v1/queues/support", renamed).await.status(),
        200
    );
    app.stop_controller().await;
    app.start_with(
        vec![queue_row("support", QueueRouting::default())],
        &[Agent::answering("1001")],
    )
    .await;
    app.connected().await;
    let read = json_of(app.get("/v1/queues/storm/provisioning").await).await;
    assert_eq!(read["wrap_up_ms"], 30_000);
    assert_eq!(read["routing"]["max_wait"], 120_000, "{read}");
    eventually("the storm queue is listed after the restart", || async {
        queue_ids(&app).await.contains(&"storm".to_owned())
    })
    .await;
    let support = json_of(app.get("/v1/queues/support/provisioning").await).await;
    assert_eq!(
        support["name"],
        queue_row("support", QueueRouting::default()).name
    );
}
