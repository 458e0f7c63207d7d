//! Provisioning over REST, end to end: agents and pause reasons created, changed and removed
//! through the HTTP API take effect at once in routing and on the phones, and survive a
//! controller restart.

use std::time::Duration;

use serde_json::{json, Value};
use switchboard::engine::{parse_skill_list, AgentStatus, EscalationStep, QueueRouting};
use switchboard::sim::{CallSpec, EntryPoint, PhoneBehavior, PhoneSpec};

use crate::harness::{
    eventually, queue_row, spawn_setup, wait_status, Agent, Setup, TestApp, ENTRY,
};

/// The agent leg bridged to `caller`, once there is one.
async fn bridged_agent(app: &TestApp, caller: &str) -> String {
    let agent_of = || {
        app.sim
            .channel(caller)
            .and_then(|c| c.bridged_to)
            .and_then(|leg| app.sim.channel(&leg))
            .and_then(|leg| leg.variable("switchboard_agent_id").map(str::to_owned))
    };
    eventually("the caller is bridged to an agent", || async {
        agent_of().is_some()
    })
    .await;
    agent_of().unwrap_or_default()
}

async fn delete(app: &TestApp, path: &str) -> reqwest::Response {
    app.http
        .delete(format!("{}{path}", app.base))
        .send()
        .await
        .expect("request")
}

async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.expect("a JSON body")
}

/// A phone for an agent that is not provisioned yet (the switch knows its user).
fn add_phone(app: &TestApp, user: &str) {
    app.sim.add_phone(PhoneSpec {
        user: user.into(),
        behavior: PhoneBehavior::Answer {
            after: Duration::from_millis(50),
        },
        hangup_after_talk: None,
    });
}

fn feature(number: &str, vars: &[(&str, &str)]) -> EntryPoint {
    EntryPoint {
        number: number.into(),
        variables: vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

fn support(agents: Vec<Agent>, entries: Vec<EntryPoint>) -> Setup {
    Setup {
        queues: vec![queue_row("support", QueueRouting::default())],
        agents,
        entries,
    }
}

fn agent_body(id: &str) -> Value {
    json!({
        "name": format!("Agent {id}"),
        "dial_string": format!("user/{id}"),
        "queues": ["support"],
    })
}

#[tokio::test]
async fn an_agent_created_over_rest_logs_in_from_its_phone_and_takes_a_call() {
    let app = spawn_setup(support(
        Vec::new(),
        vec![feature("*22", &[("switchboard_feature", "login")])],
    ))
    .await;
    app.connected().await;
    add_phone(&app, "1001");
    let created = app.put_json("/v1/agents/1001", agent_body("1001")).await;
    assert_eq!(created.status(), 201);
    let body = json_of(created).await;
    assert_eq!(
        body,
        json!({
            "id": "1001",
            "name": "Agent 1001",
            "dial_string": "user/1001",
            "skills": [],
            "queues": [{ "queue": "support", "tier": 1, "position": 1, "weight": 1 }],
            "has_pin": false,
        })
    );
    wait_status(&app, "1001", AgentStatus::LoggedOut).await;
    app.sim.place_call(CallSpec::new("1001", "*22"));
    wait_status(&app, "1001", AgentStatus::Available).await;
    let caller = app.sim.place_call(CallSpec::new("4930111", ENTRY));
    assert_eq!(bridged_agent(&app, &caller).await, "1001");

    let again = app.put_json("/v1/agents/1001", agent_body("1001")).await;
    assert_eq!(again.status(), 200, "the same PUT replaces");
    let read = json_of(app.get("/v1/agents/1001/provisioning").await).await;
    assert_eq!(read, body);
    wait_status(&app, "1001", AgentStatus::OnCall).await;
}

#[tokio::test]
async fn replacing_an_agents_skills_over_rest_changes_which_calls_it_gets() {
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
    wait_status(&app, "1001", AgentStatus::Available).await;
    let caller = app.sim.place_call(CallSpec::new("4930111", ENTRY));
    eventually("the caller waits for a Spanish speaker", || async {
        app.running().snapshot().waiting() == 1
    })
    .await;
    let mut body = agent_body("1001");
    body["skills"] = json!("french:9,spanish:7");
    let replaced = app.put_json("/v1/agents/1001", body).await;
    assert_eq!(replaced.status(), 200);
    assert_eq!(
        json_of(replaced).await["skills"],
        json!(["french:9", "spanish:7"])
    );
    assert_eq!(bridged_agent(&app, &caller).await, "1001");
}

#[tokio::test]
async fn a_pin_set_over_rest_logs_the_agent_in_at_another_phone_and_is_never_shown() {
    let hot_desk = |number: &str, pin: &str| {
        feature(
            number,
            &[
                ("switchboard_feature", "login"),
                ("switchboard_agent_number", "1001"),
                ("switchboard_pin", pin),
            ],
        )
    };
    let app = spawn_setup(support(
        // The desk phone in the other room.
        vec![Agent::answering("2002").in_queues(&[]).logged_out()],
        vec![hot_desk("*2101", "0000"), hot_desk("*2102", "4711")],
    ))
    .await;
    app.connected().await;
    add_phone(&app, "1001");
    let mut body = agent_body("1001");
    body["pin"] = json!("4711");
    let created = app.put_json("/v1/agents/1001", body).await;
    assert_eq!(created.status(), 201);
    let shown = created.text().await.unwrap_or_default();
    let read = app
        .get("/v1/agents/1001/provisioning")
        .await
        .text()
        .await
        .unwrap_or_default();
    let listed = app.get("/v1/agents").await.text().await.unwrap_or_default();
    for text in [&shown, &read, &listed] {
        assert!(
            !text.contains("4711") && !text.contains("pbkdf2") && !text.contains("\"pin\""),
            "{text}"
        );
    }
    assert!(read.contains("\"has_pin\":true"), "{read}");

    app.sim.place_call(CallSpec::new("2002", "*2101"));
    eventually("the wrong PIN's call ends", || async {
        app.sim.channels().is_empty()
    })
    .await;
    wait_status(&app, "1001", AgentStatus::LoggedOut).await;
    app.sim.place_call(CallSpec::new("2002", "*2102"));
    wait_status(&app, "1001", AgentStatus::Available).await;
    let caller = app.sim.place_call(CallSpec::new("4930111", ENTRY));
    bridged_agent(&app, &caller).await;
    let leg = app
        .sim
        .channel(&caller)
        .and_then(|c| c.bridged_to)
        .and_then(|leg| app.sim.channel(&leg))
        .expect("agent leg");
    assert_eq!(leg.destination, "2002", "rang the hot-desk phone");

    // Left out, the PIN is kept; null clears it.
    let kept = json_of(app.put_json("/v1/agents/1001", agent_body("1001")).await).await;
    assert_eq!(kept["has_pin"], true);
    let mut body = agent_body("1001");
    body["pin"] = Value::Null;
    let cleared = json_of(app.put_json("/v1/agents/1001", body).await).await;
    assert_eq!(cleared["has_pin"], false);
}

#[tokio::test]
async fn an_agent_on_a_call_cannot_be_deleted_and_is_gone_after_it() {
    let app = spawn_setup(support(Vec::new(), Vec::new())).await;
    app.connected().await;
    add_phone(&app, "1001");
    assert_eq!(
        app.put_json("/v1/agents/1001", agent_body("1001"))
            .await
            .status(),
        201
    );
    assert_eq!(app.set_agent_state("1001", "available").await.status(), 200);
    let caller = app.sim.place_call(CallSpec::new("4930111", ENTRY));
    assert_eq!(bridged_agent(&app, &caller).await, "1001");

    let refused = delete(&app, "/v1/agents/1001").await;
    assert_eq!(refused.status(), 409);
    let problem = json_of(refused).await;
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("on_call")),
        "{problem}"
    );

    app.sim.hangup(&caller, "NORMAL_CLEARING");
    wait_status(&app, "1001", AgentStatus::Available).await;
    assert_eq!(delete(&app, "/v1/agents/1001").await.status(), 204);
    eventually("the agent is gone from the snapshot", || async {
        app.get("/v1/agents/1001").await.status() == 404
    })
    .await;
    assert_eq!(app.get("/v1/agents/1001/provisioning").await.status(), 404);
    assert_eq!(delete(&app, "/v1/agents/1001").await.status(), 404);

    let store = &app.running().store;
    let id = switchboard::engine::AgentId::new("1001").expect("id");
    let changes = store.agent_state_changes(&id, 1).await.expect("history");
    assert_eq!(
        (changes[0].to, changes[0].cause.as_str()),
        (AgentStatus::LoggedOut, "api")
    );
    let calls = store.recent_calls(5).await.expect("calls");
    assert_eq!(
        calls[0].agent.as_ref(),
        Some(&id),
        "the call keeps its agent"
    );

    // Calls now wait: nobody serves the queue.
    app.sim.place_call(CallSpec::new("4930222", ENTRY));
    eventually("the next caller waits", || async {
        app.running().snapshot().waiting() == 1
    })
    .await;
}

#[tokio::test]
async fn a_pause_reason_created_over_rest_is_accepted_by_the_api_and_the_phone() {
    let app = spawn_setup(support(
        vec![Agent::answering("1001")],
        vec![feature(
            "*247",
            &[
                ("switchboard_feature", "pause"),
                ("switchboard_reason", "7"),
            ],
        )],
    ))
    .await;
    app.connected().await;
    let coaching = json!({ "name": "Coaching", "productive": true });
    let created = app.put_json("/v1/pause-reasons/7", coaching.clone()).await;
    assert_eq!(created.status(), 201);
    assert_eq!(
        json_of(created).await,
        json!({ "code": "7", "name": "Coaching", "productive": true })
    );
    assert_eq!(
        app.put_json("/v1/pause-reasons/7", coaching).await.status(),
        200
    );
    let lunch = json!({ "name": "Lunch" });
    assert_eq!(
        app.put_json("/v1/pause-reasons/lunch", lunch)
            .await
            .status(),
        201
    );
    let listed = json_of(app.get("/v1/pause-reasons").await).await;
    assert_eq!(listed["pause_reasons"].as_array().map(Vec::len), Some(2));

    let pause = |reason: &'static str| {
        app.put_json(
            "/v1/agents/1001/state",
            json!({ "state": "paused", "reason": reason }),
        )
    };
    assert_eq!(pause("8").await.status(), 400, "not provisioned");
    assert_eq!(pause("lunch").await.status(), 200);
    assert_eq!(app.set_agent_state("1001", "available").await.status(), 200);
    app.sim.place_call(CallSpec::new("1001", "*247"));
    eventually("the phone paused the agent with reason 7", || async {
        app.running()
            .snapshot()
            .agents
            .iter()
            .any(|a| a.status == AgentStatus::Paused && a.reason.as_deref() == Some("7"))
    })
    .await;

    // Removing a reason in use leaves the agent paused; it cannot be given again.
    assert_eq!(delete(&app, "/v1/pause-reasons/7").await.status(), 204);
    assert_eq!(delete(&app, "/v1/pause-reasons/7").await.status(), 404);
    let agent = json_of(app.get("/v1/agents/1001").await).await;
    assert_eq!(
        (&agent["status"], &agent["reason"]),
        (&json!("paused"), &json!("7"))
    );
    assert_eq!(pause("7").await.status(), 400);
    assert_eq!(pause("lunch").await.status(), 200);
}

#[tokio::test]
async fn bad_provisioning_bodies_are_problem_details_that_name_the_field() {
    let app = spawn_setup(support(Vec::new(), Vec::new())).await;
    let with = |field: &str, value: Value| {
        let mut body = agent_body("1001");
        body[field] = value;
        body
    };
    let cases = [
        (with("name", json!("")), "name", "must not be empty"),
        (
            with("dial_string", json!("user/1001,user/1002")),
            "dial_string",
            "not a safe dial string",
        ),
        (with("skills", json!("spanish:11")), "skills[0]", "11"),
        (
            with("skills", json!(["billing", "billing:3"])),
            "skills[1]",
            "listed twice",
        ),
        (with("skills", json!(7)), "skills", "a list of skills"),
        (
            with("queues", json!(["support", "sales"])),
            "queues[1]",
            "queue \"sales\" is not provisioned",
        ),
        (
            with("queues", json!([{ "queue": "support", "tier": 0 }])),
            "queues[0]",
            "tier must be at least 1",
        ),
        (
            with("queues", json!([{ "queue": "support", "colour": "red" }])),
            "queues[0]",
            "unknown field",
        ),
        (with("pin", json!("12")), "pin", "4 to 16 digits"),
        (with("pin", json!("12ab")), "pin", "4 to 16 digits"),
        (
            with("pin_hash", json!("md5$x")),
            "pin_hash",
            "pbkdf2-sha256$",
        ),
        (
            {
                let mut body = with("pin", json!("4711"));
                body["pin_hash"] = Value::Null;
                body
            },
            "pin",
            "not both",
        ),
    ];
    for (body, field, says) in cases {
        let response = app.put_json("/v1/agents/1001", body.clone()).await;
        assert_eq!(response.status(), 422, "{body}");
        assert_eq!(
            response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json")
        );
        let problem = json_of(response).await;
        assert_eq!(problem["field"], field, "{problem}");
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(
            detail.starts_with(&format!("{field}: ")) && detail.contains(says),
            "{problem}"
        );
    }
    for body in [
        json!({ "name": "A", "dial_string": "user/1001", "colour": "red" }),
        json!({ "dial_string": "user/1001" }),
        json!(["not", "an", "object"]),
    ] {
        let response = app.put_json("/v1/agents/1001", body.clone()).await;
        assert_eq!(response.status(), 400, "{body}");
        let problem = json_of(response).await;
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains("body must be")),
            "{problem}"
        );
    }
    let bad_id = app.put_json("/v1/agents/10%2001", agent_body("1001")).await;
    assert_eq!(bad_id.status(), 400);
    assert_eq!(app.get("/v1/agents/1001/provisioning").await.status(), 404);
    assert_eq!(delete(&app, "/v1/agents/1001").await.status(), 404);

    let bad_code = app
        .put_json(
            "/v1/pause-reasons/lunch%20break",
            json!({ "name": "Lunch" }),
        )
        .await;
    assert_eq!(bad_code.status(), 422);
    assert_eq!(json_of(bad_code).await["field"], "code");
    let no_name = app.put_json("/v1/pause-reasons/1", json!({})).await;
    assert_eq!(no_name.status(), 400);
    let empty_name = app
        .put_json("/v1/pause-reasons/1", json!({ "name": " " }))
        .await;
    assert_eq!(json_of(empty_name).await["field"], "name");
    let listed = json_of(app.get("/v1/pause-reasons").await).await;
    assert_eq!(listed["pause_reasons"], json!([]), "nothing was created");
}

#[tokio::test]
async fn agents_and_pause_reasons_provisioned_over_rest_survive_a_restart() {
    let mut app = spawn_setup(support(vec![Agent::answering("1001")], Vec::new())).await;
    app.connected().await;
    add_phone(&app, "3003");
    let mut body = agent_body("3003");
    body["pin"] = json!("4711");
    body["skills"] = json!(["spanish:7"]);
    assert_eq!(app.put_json("/v1/agents/3003", body).await.status(), 201);
    assert_eq!(app.set_agent_state("3003", "available").await.status(), 200);
    assert_eq!(
        app.put_json("/v1/pause-reasons/7", json!({ "name": "Coaching" }))
            .await
            .status(),
        201
    );
    // The start-up provisioning has agent 1001 too: its entry wins at the next start.
    let mut renamed = agent_body("1001");
    renamed["name"] = json!("Renamed over REST");
    assert_eq!(app.put_json("/v1/agents/1001", renamed).await.status(), 200);

    app.stop_controller().await;
    app.start_with(
        vec![queue_row("support", QueueRouting::default())],
        &[Agent::answering("1001")],
    )
    .await;
    app.connected().await;
    let read = json_of(app.get("/v1/agents/3003/provisioning").await).await;
    assert_eq!(read["skills"], json!(["spanish:7"]));
    assert_eq!(read["has_pin"], true);
    wait_status(&app, "3003", AgentStatus::Available).await;
    let reasons = json_of(app.get("/v1/pause-reasons").await).await;
    assert_eq!(reasons["pause_reasons"][0]["code"], "7");
    let pause = app
        .put_json(
            "/v1/agents/3003/state",
            json!({ "state": "paused", "reason": "7" }),
        )
        .await;
    assert_eq!(pause.status(), 200);
    let start_up = json_of(app.get("/v1/agents/1001/provisioning").await).await;
    assert_eq!(start_up["name"], "Agent 1001");
}
