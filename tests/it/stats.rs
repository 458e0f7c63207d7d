//! Live statistics end to end: calls placed through the simulator (one answered, one abandoned
//! before an agent was free) show in `GET /v1/stats/queues` and `/v1/stats/agents` as they
//! happened, the same after a controller restart, and an agent's token sees only its agent.

use std::time::Duration;

use serde_json::Value;
use switchboard::config::{BearerToken, Role};
use switchboard::engine::QueueRouting;
use switchboard::sim::CallSpec;
use switchboard::store::QueueRow;

use crate::harness::{
    client_with, eventually, provisioned_token, queue_row, spawn_setup, Agent, Setup, TestApp,
    ENTRY,
};

fn support() -> Vec<QueueRow> {
    let mut support = queue_row("support", QueueRouting::default());
    support.name = "Support".into();
    vec![support]
}

fn agents() -> Vec<Agent> {
    vec![Agent::answering("1001").hanging_up_after(Duration::from_millis(300))]
}

pub(crate) async fn json(app: &TestApp, path: &str) -> Value {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.expect("JSON")
}

async fn support_stats(app: &TestApp) -> Value {
    let body = json(app, "/v1/stats/queues").await;
    body["queues"]
        .as_array()
        .and_then(|q| q.iter().find(|q| q["queue"] == "support").cloned())
        .expect("support in the stats")
}

/// One call answered by 1001 (who hangs up after 300 ms), then, with 1001 logged out, one
/// caller who gives up after 500 ms (a short abandon).
pub(crate) async fn answered_then_abandoned(app: &TestApp) {
    app.sim.place_call(CallSpec::new("111", ENTRY));
    let snapshot_agent = || async {
        app.running()
            .snapshot()
            .agents
            .iter()
            .find(|a| a.id.as_str() == "1001")
            .map(|a| (a.status.as_str(), a.calls_answered))
    };
    eventually("1001 answered and is free again", || async {
        snapshot_agent().await == Some(("available", 1))
    })
    .await;
    assert_eq!(
        app.set_agent_state("1001", "logged_out").await.status(),
        200
    );
    let mut impatient = CallSpec::new("222", ENTRY);
    impatient.patience = Some(Duration::from_millis(500));
    app.sim.place_call(impatient);
    let store = app.running().store.clone();
    eventually("both calls are over in the history", || async {
        store
            .recent_calls(10)
            .await
            .is_ok_and(|calls| calls.len() == 2 && calls.iter().all(|c| c.ended_at.is_some()))
    })
    .await;
}

#[tokio::test]
async fn live_numbers_match_the_calls_placed_and_survive_a_controller_restart() {
    let mut app = spawn_setup(Setup {
        queues: support(),
        agents: agents(),
        entries: Vec::new(),
    })
    .await;
    app.connected().await;
    answered_then_abandoned(&app).await;

    eventually("the stats count both calls", || async {
        support_stats(&app).await["today"]["offered"] == 2
    })
    .await;
    let before = support_stats(&app).await;
    let today = &before["today"];
    assert_eq!(today["answered"], 1, "{today}");
    assert_eq!(today["answered_within_target"], 1, "{today}");
    assert_eq!(today["abandoned"], 1, "{today}");
    assert_eq!(today["short_abandoned"], 1, "{today}");
    assert_eq!(today["abandoned_after_target"], 0, "{today}");
    // The short abandon is left out: 1 of 1.
    assert_eq!(today["service_level_percent"], 100.0, "{today}");
    assert!(
        today["asa_ms"].as_i64().is_some_and(|ms| ms < 5_000),
        "{today}"
    );
    assert!(
        today["aht_ms"].as_i64().is_some_and(|ms| ms >= 300),
        "{today}"
    );
    assert_eq!(
        before["window"]["offered"], 2,
        "the last 15 minutes hold both"
    );
    // "Needed now" from the window's two calls and their handle time, by Erlang C: a
    // fraction of an Erlang needs one agent; the agent has logged out since.
    let staffing = &before["staffing"];
    assert_eq!(staffing["model"], "erlang_c", "{staffing}");
    assert_eq!(staffing["needed_now"], 1, "{staffing}");
    assert_eq!(staffing["logged_in"], 0, "{staffing}");
    assert_eq!(before["waiting"], 0);
    assert_eq!(before["agents"]["logged_out"], 1);
    assert_eq!(before["agents"]["logged_in"], 0);
    assert_eq!(before["target"]["within_ms"], 20_000);
    assert_eq!(before["thresholds"]["waiting"], Value::Null);
    let agents_body = json(&app, "/v1/stats/agents").await;
    let agent = &agents_body["agents"][0];
    assert_eq!(agent["agent"], "1001");
    assert_eq!(agent["state"], "logged_out");
    assert_eq!(agent["today"]["handled"], 1, "{agent}");
    assert!(
        agent["today"]["talk_ms"]
            .as_i64()
            .is_some_and(|ms| ms >= 250),
        "{agent}"
    );

    // A restarted controller on the same database, with an agent's token this time.
    let token = BearerToken::generate();
    app.tokens.push(provisioned_token(
        "desk-1001",
        Role::Agent,
        Some("1001"),
        &token,
    ));
    app.stop_controller().await;
    app.start_with(support(), &agents()).await;
    app.connected().await;
    let after = support_stats(&app).await;
    for key in [
        "offered",
        "answered",
        "answered_within_target",
        "abandoned",
        "short_abandoned",
        "asa_ms",
        "aht_ms",
        "longest_answered_wait_ms",
    ] {
        assert_eq!(after["today"][key], before["today"][key], "{key}");
    }
    let again = json(&app, "/v1/stats/agents").await;
    assert_eq!(again["agents"][0]["today"]["handled"], 1);

    let desk = client_with(token.expose());
    let own: Value = desk
        .get(format!("{}/v1/stats/agents", app.base))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
    assert_eq!(own["agents"].as_array().map(Vec::len), Some(1));
    let queues = desk
        .get(format!("{}/v1/stats/queues", app.base))
        .send()
        .await
        .expect("request");
    assert_eq!(queues.status(), 403, "queues' numbers are supervisors'");
}

#[tokio::test]
async fn the_event_stream_carries_the_live_numbers_to_clients_that_ask_for_them() {
    let app = spawn_setup(Setup {
        queues: support(),
        agents: agents(),
        entries: Vec::new(),
    })
    .await;
    app.connected().await;
    let mut response = app.get("/v1/events?types=queue.stats,agent.stats").await;
    assert_eq!(response.status(), 200);
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !(text.contains("event: queue.stats") && text.contains("event: agent.stats")) {
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .expect("the live numbers within 15 s")
            .expect("read")
            .expect("the stream goes on");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let data = text
        .lines()
        .skip_while(|l| *l != "event: queue.stats")
        .find_map(|l| l.strip_prefix("data: "))
        .expect("its data");
    let event: Value = serde_json::from_str(data).expect("JSON");
    assert_eq!(event["type"], "queue.stats");
    assert_eq!(event["data"]["queue"], "support");
    assert_eq!(event["data"]["today"]["offered"], 0);
    // An unknown type beside them is still refused.
    let plain = app.get("/v1/events?types=queue.stats,nonsense").await;
    assert_eq!(plain.status(), 422);
}
