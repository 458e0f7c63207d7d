//! REST call control end to end on the simulator: hang-up, blind transfer of a connected call
//! to a queue and to an agent (`uuid_transfer <C> park inline`, the caller parked again and
//! requeued under the same call id), and a waiting caller moved, offered to a named agent and
//! removed; role checks (an agent on another's call: 403, agents never move callers). The
//! invariant check at drop compares the history with what the switch did.

use serde_json::{json, Value};
use sqlx::{Connection, Row};
use switchboard::engine::QueueRouting;
use switchboard::sim::CallSpec;

use crate::harness::{
    eventually, queue_event_kinds, queue_row, spawn_setup, Agent, Setup, TestApp, ENTRY,
};

async fn two_queues(agents: Vec<Agent>) -> TestApp {
    let app = spawn_setup(Setup {
        queues: vec![
            queue_row("support", QueueRouting::default()),
            queue_row("sales", QueueRouting::default()),
        ],
        agents,
        entries: Vec::new(),
    })
    .await;
    app.connected().await;
    app
}

async fn ask(
    app: &TestApp,
    client: &reqwest::Client,
    call: &str,
    what: &str,
    body: Value,
) -> reqwest::Response {
    client
        .post(format!("{}/v1/calls/{call}/{what}", app.base))
        .json(&body)
        .send()
        .await
        .expect("request")
}

async fn active(app: &TestApp) -> Value {
    let calls: Value = app.get("/v1/calls").await.json().await.expect("JSON");
    calls["active"][0].clone()
}

/// The one active call once it is in `state`: its id.
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

/// The agent leg bridged to `caller`, once it is and is not `not`.
async fn bridged_leg(app: &TestApp, caller: &str, not: Option<&str>) -> String {
    eventually("the caller is bridged to an agent leg", || async {
        app.sim
            .channel(caller)
            .and_then(|c| c.bridged_to)
            .is_some_and(|leg| Some(leg.as_str()) != not)
    })
    .await;
    app.sim
        .channel(caller)
        .and_then(|c| c.bridged_to)
        .expect("bridged")
}

async fn connection(app: &TestApp) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    sqlx::AnyConnection::connect(&app.database_url)
        .await
        .expect("the controller's database")
}

async fn cti_types(app: &TestApp, call: &str) -> Vec<String> {
    let mut conn = connection(app).await;
    sqlx::query("SELECT type FROM cti_events WHERE call_id = $1 ORDER BY seq")
        .bind(call)
        .fetch_all(&mut conn)
        .await
        .expect("cti events")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// `GET /v1/calls/{id}` once the call has ended.
async fn ended(app: &TestApp, call: &str) -> Value {
    eventually("the call has ended in the history", || async {
        let body: Value = app
            .get(&format!("/v1/calls/{call}"))
            .await
            .json()
            .await
            .expect("json");
        !body["call"]["ended_at"].is_null()
    })
    .await;
    app.get(&format!("/v1/calls/{call}"))
        .await
        .json()
        .await
        .expect("json")
}

fn detail_of<'a>(body: &'a Value, kind: &str) -> &'a str {
    body["queue_events"]
        .as_array()
        .expect("queue events")
        .iter()
        .find(|e| e["kind"] == kind)
        .and_then(|e| e["detail"].as_str())
        .unwrap_or_default()
}

#[tokio::test]
async fn an_agent_hangs_up_its_own_call_over_rest_and_it_ends_once() {
    let app = two_queues(vec![
        Agent::answering("1001"),
        Agent::answering("1002").in_queues(&["sales"]),
    ])
    .await;
    let alice = app.client_for("alice", "agent", Some("1001")).await;
    let bob = app.client_for("bob", "agent", Some("1002")).await;
    let caller = app.sim.place_call(CallSpec::new("4930301", ENTRY));
    let call = call_in(&app, "bridged").await;
    bridged_leg(&app, &caller, None).await;
    let refused = ask(&app, &bob, &call, "hangup", json!({})).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
    let nobody = "0b5e3c1e-8d3f-4f5e-9a49-8f1d2b7c6a10";
    assert_eq!(
        ask(&app, &alice, nobody, "hangup", json!({}))
            .await
            .status(),
        403
    );
    let accepted = ask(&app, &alice, &call, "hangup", json!({})).await;
    assert_eq!(accepted.status(), 202);
    let body = ended(&app, &call).await;
    assert_eq!(body["call"]["outcome"], "completed", "{body}");
    assert!(
        detail_of(&body, "complete").starts_with("by=token:alice"),
        "{body}"
    );
    eventually("the caller is gone from the switch", || async {
        app.sim.channel(&caller).is_none()
    })
    .await;
    let types = cti_types(&app, &call).await;
    assert_eq!(types.iter().filter(|t| *t == "call.ended").count(), 1);
    let audit: Value = app.get("/v1/audit").await.json().await.expect("JSON");
    let hangup_path = format!("/v1/calls/{call}/hangup");
    assert!(
        audit
            .as_array()
            .or_else(|| audit["entries"].as_array())
            .is_some_and(|rows| rows
                .iter()
                .any(|r| r["path"] == hangup_path.as_str() && r["token"] == "alice")),
        "{audit}"
    );
    // A call that is over is no longer there to hang up.
    assert_eq!(
        ask(&app, &alice, &call, "hangup", json!({})).await.status(),
        403
    );
}

#[tokio::test]
async fn a_blind_transfer_to_a_queue_requeues_the_same_call_for_that_queues_agent() {
    let app = two_queues(vec![
        Agent::answering("1001"),
        Agent::answering("1002").in_queues(&["sales"]),
    ])
    .await;
    let alice = app.client_for("alice", "agent", Some("1001")).await;
    let caller = app.sim.place_call(CallSpec::new("4930302", ENTRY));
    let call = call_in(&app, "bridged").await;
    let first = bridged_leg(&app, &caller, None).await;
    let bad = ask(
        &app,
        &alice,
        &call,
        "transfer",
        json!({ "to": "queue", "queue": "nowhere" }),
    )
    .await;
    assert_eq!(bad.status(), 400);
    // Held first: the hold ends with the agent's leg.
    assert_eq!(
        ask(&app, &alice, &call, "hold", json!({})).await.status(),
        202
    );
    eventually("the call shows as held", || async {
        !active(&app).await["hold"]["held_since"].is_null()
    })
    .await;
    let accepted = ask(
        &app,
        &alice,
        &call,
        "transfer",
        json!({ "to": "queue", "queue": "sales" }),
    )
    .await;
    assert_eq!(accepted.status(), 202);
    let second = bridged_leg(&app, &caller, Some(&first)).await;
    assert!(
        app.sim.channel(&first).is_none(),
        "the first agent's leg is gone"
    );
    eventually("the sales agent is on the call", || async {
        app.agent_status("1002").await == "on_call"
    })
    .await;
    assert_eq!(active(&app).await["id"], call.as_str(), "the same call id");
    assert_ne!(app.agent_status("1001").await, "on_call");
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
    let body = ended(&app, &call).await;
    assert_eq!(body["call"]["outcome"], "completed", "{body}");
    assert_eq!(body["call"]["agent"], "1002", "{body}");
    assert_eq!(
        queue_event_kinds(&body),
        [
            "support enter",
            "support offer",
            "support connect",
            "support hold",
            "support unhold",
            "support transfer",
            "sales enter",
            "sales offer",
            "sales connect",
            "sales complete"
        ]
    );
    assert!(
        detail_of(&body, "transfer")
            .starts_with("kind=blind from=1001 to=queue:sales by=token:alice"),
        "{body}"
    );
    let types = cti_types(&app, &call).await;
    assert_eq!(types.iter().filter(|t| *t == "call.transferred").count(), 1);
    assert_eq!(types.iter().filter(|t| *t == "call.ended").count(), 1);
    let _ = second;
}

#[tokio::test]
async fn a_blind_transfer_to_an_agent_rings_only_them_under_the_same_call() {
    let app = two_queues(vec![
        Agent::answering("1001"),
        Agent::answering("1002").in_queues(&["sales"]),
    ])
    .await;
    let sup = app.client_for("sup", "supervisor", None).await;
    let caller = app.sim.place_call(CallSpec::new("4930303", ENTRY));
    let call = call_in(&app, "bridged").await;
    let first = bridged_leg(&app, &caller, None).await;
    let accepted = ask(
        &app,
        &sup,
        &call,
        "transfer",
        json!({ "to": "agent", "agent": "1002", "timeout_s": 20 }),
    )
    .await;
    assert_eq!(accepted.status(), 202);
    bridged_leg(&app, &caller, Some(&first)).await;
    eventually("agent 1002 is on the call", || async {
        app.agent_status("1002").await == "on_call"
    })
    .await;
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
    let body = ended(&app, &call).await;
    assert_eq!(body["call"]["agent"], "1002", "{body}");
    assert!(
        detail_of(&body, "transfer").contains("to=agent:1002 by=token:sup"),
        "{body}"
    );
    // The direct call went through the caller's own queue.
    assert_eq!(
        queue_event_kinds(&body)[4..],
        [
            "support enter",
            "support offer",
            "support connect",
            "support complete"
        ]
    );
}

#[tokio::test]
async fn a_supervisor_moves_offers_and_removes_waiting_callers_and_agents_may_not() {
    let app = two_queues(vec![
        Agent::answering("1001").logged_out(),
        Agent::answering("1002").in_queues(&["sales"]).logged_out(),
    ])
    .await;
    let sup = app.client_for("sup", "supervisor", None).await;
    let alice = app.client_for("alice", "agent", Some("1001")).await;
    let first = app.sim.place_call(CallSpec::new("4930304", ENTRY));
    let call = call_in(&app, "waiting").await;
    for what in ["move", "offer", "remove"] {
        assert_eq!(
            ask(&app, &alice, &call, what, json!({})).await.status(),
            403,
            "{what}"
        );
    }
    // Offered to 1002 (not a member of support), who answers: the same call.
    assert_eq!(
        ask(&app, &sup, &call, "offer", json!({ "agent": "1002" }))
            .await
            .status(),
        409,
        "1002 is logged out"
    );
    assert_eq!(app.set_agent_state("1002", "available").await.status(), 200);
    let offered = ask(
        &app,
        &sup,
        &call,
        "offer",
        json!({ "agent": "1002", "timeout_s": 15 }),
    )
    .await;
    assert_eq!(offered.status(), 202);
    bridged_leg(&app, &first, None).await;
    assert!(app.sim.hangup(&first, "NORMAL_CLEARING"));
    let body = ended(&app, &call).await;
    assert_eq!(body["call"]["agent"], "1002", "{body}");

    // Moved to sales with its place reset, where nobody takes it.
    assert_eq!(
        app.set_agent_state("1002", "logged_out").await.status(),
        200
    );
    let second = app.sim.place_call(CallSpec::new("4930305", ENTRY));
    let call = call_in(&app, "waiting").await;
    let moved = ask(
        &app,
        &sup,
        &call,
        "move",
        json!({ "queue": "sales", "keep_place": false }),
    )
    .await;
    assert_eq!(moved.status(), 202);
    eventually("the call waits in sales", || async {
        active(&app).await["queue"] == "sales"
    })
    .await;
    let bad = ask(
        &app,
        &sup,
        &call,
        "remove",
        json!({ "to": "extension:-9199" }),
    )
    .await;
    assert_eq!(bad.status(), 400);
    let removed = ask(
        &app,
        &sup,
        &call,
        "remove",
        json!({ "to": "extension:9199@default" }),
    )
    .await;
    assert_eq!(removed.status(), 202);
    let body = ended(&app, &call).await;
    assert_eq!(body["call"]["outcome"], "overflowed", "{body}");
    assert_eq!(
        queue_event_kinds(&body),
        [
            "support enter",
            "support overflow",
            "sales enter",
            "sales overflow"
        ]
    );
    eventually("the caller runs the extension", || async {
        app.sim
            .played_on(&second)
            .iter()
            .any(|p| p == "silence_stream://-1")
    })
    .await;
    assert!(app.sim.hangup(&second, "NORMAL_CLEARING"));
}

#[tokio::test]
async fn a_blind_transfer_to_a_flow_runs_it_under_the_same_call_into_its_queue() {
    let flows = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        flows.path().join("xfer.toml"),
        "start = \"sales\"\nentry_points = [\"xfer\"]\n\n[node.sales]\nkind = \"enqueue\"\nqueue = \"sales\"\n",
    )
    .expect("write flow");
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
        entries: Vec::new(),
    })
    .await;
    app.stop_controller().await;
    app.flows = Some(flows.path().to_path_buf());
    app.start_with(queues(), &agents()).await;
    app.connected().await;
    let sup = app.client_for("sup", "supervisor", None).await;
    let caller = app.sim.place_call(CallSpec::new("4930306", ENTRY));
    let call = call_in(&app, "bridged").await;
    let first = bridged_leg(&app, &caller, None).await;
    let unknown = ask(
        &app,
        &sup,
        &call,
        "transfer",
        json!({ "to": "flow", "entry": "nope" }),
    )
    .await;
    assert_eq!(unknown.status(), 400);
    let accepted = ask(
        &app,
        &sup,
        &call,
        "transfer",
        json!({ "to": "flow", "entry": "xfer" }),
    )
    .await;
    assert_eq!(accepted.status(), 202);
    bridged_leg(&app, &caller, Some(&first)).await;
    eventually("agent 1002 is on the call", || async {
        app.agent_status("1002").await == "on_call"
    })
    .await;
    assert_eq!(active(&app).await["id"], call.as_str(), "the same call id");
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
    let body = ended(&app, &call).await;
    assert_eq!(body["call"]["agent"], "1002", "{body}");
    assert_eq!(body["flow"]["entry"], "xfer", "{body}");
    assert!(
        detail_of(&body, "transfer").contains("to=flow:xfer by=token:sup"),
        "{body}"
    );
    let types = cti_types(&app, &call).await;
    assert_eq!(types.iter().filter(|t| *t == "call.ended").count(), 1);
    assert_eq!(types.iter().filter(|t| *t == "call.entered").count(), 1);
}
