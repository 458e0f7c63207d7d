//! `GET /v1/calls` with filters and a cursor against the real controller: a live call through
//! the simulator is found by its number while it is going on (null outcome) and after it ends;
//! older history (written through the store's history write path) is searched by queue, range,
//! agent and outcome and paged with `next_cursor`; bad values are 400 problems naming the
//! parameter; the unfiltered answer keeps its shape; an agent's token searches only its own
//! agent's calls.

use std::time::Duration;

use serde_json::Value;
use switchboard::config::{BearerToken, Role};
use switchboard::engine::{
    AgentId, CallId, CallOutcome, ChannelId, QueueId, Record, SwitchName, Timestamp,
};
use switchboard::sim::CallSpec;

use crate::harness::{
    client_with, eventually, provisioned_token, spawn_app, Agent, TestApp, ENTRY,
};

/// 2026-11-02T09:00:00Z, well before the live call.
const PAST: i64 = 1_793_610_000_000;

async fn json(client: &reqwest::Client, app: &TestApp, path: &str) -> (u16, Value) {
    let response = client
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

/// `n` ended calls a minute apart in `queue`, answered by `agent` when given (else abandoned).
fn past_calls(n: u32, queue: &str, agent: Option<&str>, first_at: i64) -> Vec<Record> {
    let mut out = Vec::new();
    for i in 0..n {
        let call = CallId::from_uuid(uuid::Uuid::new_v4());
        let at = first_at + i64::from(i) * 60_000;
        out.push(Record::CallEntered {
            call,
            switch: SwitchName::new("fs-1").expect("switch"),
            channel: ChannelId::from_uuid(uuid::Uuid::new_v4()),
            queue: QueueId::new(queue).expect("queue"),
            caller_number: format!("+4940{i:06}"),
            caller_name: String::new(),
            destination: ENTRY.to_owned(),
            priority: 0,
            at: Timestamp::from_millis(at),
        });
        if let Some(agent) = agent {
            out.push(Record::CallAnswered {
                call,
                agent: AgentId::new(agent).expect("agent"),
                agent_channel: ChannelId::from_uuid(uuid::Uuid::new_v4()),
                wait_ms: 2_000,
                at: Timestamp::from_millis(at + 2_000),
            });
        }
        out.push(Record::CallEnded {
            call,
            outcome: if agent.is_some() {
                CallOutcome::Completed
            } else {
                CallOutcome::Abandoned
            },
            hangup_cause: "NORMAL_CLEARING".to_owned(),
            talk_ms: agent.map(|_| 30_000),
            wait_ms: agent.is_none().then_some(20_000),
            at: Timestamp::from_millis(at + 32_000),
        });
    }
    out
}

fn outcomes(body: &Value) -> Vec<Value> {
    body["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .map(|c| c["outcome"].clone())
        .collect()
}

#[tokio::test]
async fn calls_are_searched_by_filters_and_paged_with_a_cursor_over_rest() {
    let mut app = spawn_app(vec![Agent::answering("1001")], Duration::ZERO).await;
    let (sup, alice) = (BearerToken::generate(), BearerToken::generate());
    app.tokens = vec![
        provisioned_token("sup", Role::Supervisor, None, &sup),
        provisioned_token("alice", Role::Agent, Some("1001"), &alice),
    ];
    app.stop_controller().await;
    app.start_controller(&[], Duration::ZERO).await;
    app.connected().await;
    let (sup, alice) = (client_with(sup.expose()), client_with(alice.expose()));
    let store = app.running().store.clone();
    let mut past = past_calls(5, "support", Some("1001"), PAST);
    past.extend(past_calls(3, "support", None, PAST + 3_600_000));
    past.extend(past_calls(2, "sales", Some("1002"), PAST));
    store.write(&past).await.expect("past calls");

    // A live call: found by its number while it goes on, with no outcome yet.
    let caller = app.sim.place_call(CallSpec {
        caller_number: "+4930111222".into(),
        caller_name: "Erika".into(),
        destination: ENTRY.into(),
        patience: None,
        talk_time: None,
    });
    eventually("the live call is answered and on record", || async {
        let (_, body) = json(&sup, &app, "/v1/calls?number=%2B4930*").await;
        body["calls"][0]["agent"] == "1001" && body["calls"][0]["outcome"].is_null()
    })
    .await;
    let (status, body) = json(&sup, &app, "/v1/calls?number=%2B4930111222").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["calls"].as_array().map(Vec::len), Some(1));
    assert!(body["next_cursor"].is_null());
    let (_, active) = json(&sup, &app, "/v1/calls?outcome=active").await;
    assert_eq!(active["calls"].as_array().map(Vec::len), Some(1));
    // The unfiltered answer keeps its shape: live calls (from the published snapshot, which
    // may trail the history under load) and recent history.
    eventually("the unfiltered answer lists the live call", || async {
        let (_, plain) = json(&sup, &app, "/v1/calls?limit=3").await;
        plain["active"].as_array().map(Vec::len) == Some(1)
    })
    .await;
    let (status, plain) = json(&sup, &app, "/v1/calls?limit=3").await;
    assert_eq!(status, 200);
    assert_eq!(plain["recent"].as_array().map(Vec::len), Some(3));
    assert!(plain.get("calls").is_none());
    app.sim.hangup(&caller, "NORMAL_CLEARING");
    eventually("the live call ends in the history", || async {
        let (_, body) = json(&sup, &app, "/v1/calls?number=%2B4930111222").await;
        body["calls"][0]["outcome"] == "completed"
    })
    .await;

    // The past: a queue over a range, paged two at a time, newest first.
    let range = "from=2026-11-02T00:00:00Z&to=2026-11-03T00:00:00Z";
    let mut path = format!("/v1/calls?queue=support&{range}&limit=3");
    let mut seen: Vec<Value> = Vec::new();
    let mut pages = 0;
    loop {
        let (status, body) = json(&sup, &app, &path).await;
        assert_eq!(status, 200, "{path}: {body}");
        pages += 1;
        seen.extend(body["calls"].as_array().expect("calls").iter().cloned());
        match body["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!("/v1/calls?queue=support&{range}&limit=3&cursor={cursor}")
            }
            None => break,
        }
    }
    assert_eq!((seen.len(), pages), (8, 3));
    let entered: Vec<&str> = seen
        .iter()
        .map(|c| c["entered_at"].as_str().unwrap_or_default())
        .collect();
    let mut sorted = entered.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(entered, sorted, "newest first");
    assert!(seen.iter().all(|c| c["queue"] == "support"));
    let (_, abandoned) = json(&sup, &app, &format!("/v1/calls?outcome=abandoned&{range}")).await;
    assert_eq!(outcomes(&abandoned), vec![Value::from("abandoned"); 3]);
    let (_, by_agent) = json(&sup, &app, "/v1/calls?agent=1002").await;
    assert_eq!(by_agent["calls"].as_array().map(Vec::len), Some(2));

    // An agent's token: its own agent's calls only.
    let (status, mine) = json(&alice, &app, "/v1/calls?queue=support").await;
    assert_eq!(status, 200, "{mine}");
    assert_eq!(mine["calls"].as_array().map(Vec::len), Some(6));
    assert!(mine["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .all(|c| c["agent"] == "1001"));
    let (status, _) = json(&alice, &app, "/v1/calls?agent=1002").await;
    assert_eq!(status, 403);

    // Bad values: 400 problems that name the parameter.
    for (query, names) in [
        ("from=yesterday", "from"),
        ("to=2026-13-01T00:00:00Z", "to"),
        ("from=2026-11-03T00:00:00Z&to=2026-11-02T00:00:00Z", "from"),
        ("outcome=gone", "outcome"),
        ("number=%2B49*30", "number"),
        ("number=*", "number"),
        ("cursor=page-2", "cursor"),
        ("queue=support&limit=0", "limit"),
        ("queue=support&limit=5000", "limit"),
        ("queue=no%20such", "queue"),
        ("agent=%20", "agent"),
        ("limit=many", "limit"),
        ("colour=blue", "colour"),
    ] {
        let response = sup
            .get(format!("{}/v1/calls?{query}", app.base))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status().as_u16(), 400, "{query}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{query}"
        );
        let body: Value = response.json().await.expect("JSON");
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(names), "{query}: {detail}");
    }
}
