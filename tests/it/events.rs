//! The live event stream end to end: a real HTTP client reads `GET /v1/events` as
//! Server-Sent Events while calls go through the simulator: the snapshot first, a call's
//! events in order, the queue filter, resuming with `Last-Event-ID` without gap or duplicate,
//! an agent's token held to its own events, and bad requests as problem details.

use std::time::Duration;

use serde_json::{json, Value};
use switchboard::engine::QueueRouting;
use switchboard::sim::{CallSpec, EntryPoint};

use crate::harness::{client_with, queue_row, spawn_setup, Agent, Setup, TestApp, ENTRY};

/// One Server-Sent Event as the client parsed it.
#[derive(Debug, Clone, PartialEq)]
struct Sse {
    id: i64,
    event: String,
    data: Value,
}

impl Sse {
    fn call(&self) -> &str {
        self.data["data"]["call"]["id"].as_str().unwrap_or_default()
    }

    fn agent(&self) -> &str {
        self.data["data"]["agent"]["id"]
            .as_str()
            .unwrap_or_default()
    }
}

/// An open `text/event-stream` response, parsed as it arrives.
struct EventStream {
    response: reqwest::Response,
    buffer: Vec<u8>,
}

impl EventStream {
    async fn open(client: &reqwest::Client, app: &TestApp, query: &str) -> Self {
        Self::open_after(client, app, query, None).await
    }

    async fn open_after(
        client: &reqwest::Client,
        app: &TestApp,
        query: &str,
        last_event_id: Option<i64>,
    ) -> Self {
        let mut request = client.get(format!("{}/v1/events{query}", app.base));
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id.to_string());
        }
        let response = request.send().await.expect("request");
        assert_eq!(response.status(), 200, "{query}");
        assert_eq!(
            response.headers()["content-type"],
            "text/event-stream",
            "{query}"
        );
        Self {
            response,
            buffer: Vec::new(),
        }
    }

    /// The next event (keep-alive comments skipped); fails the test after a deadline.
    async fn next(&mut self) -> Sse {
        tokio::time::timeout(Duration::from_secs(10), self.read())
            .await
            .expect("an event within 10 s")
    }

    async fn read(&mut self) -> Sse {
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.buffer.drain(..end + 2).collect();
                let block = String::from_utf8(block).expect("UTF-8");
                let (mut id, mut event, mut data) = (None, None, String::new());
                for line in block.lines() {
                    match line.split_once(':') {
                        Some(("id", v)) => id = Some(v.trim().parse::<i64>().expect("a seq")),
                        Some(("event", v)) => event = Some(v.trim().to_owned()),
                        Some(("data", v)) => data.push_str(v.strip_prefix(' ').unwrap_or(v)),
                        _ => {}
                    }
                }
                if let (Some(id), Some(event)) = (id, event) {
                    let data = serde_json::from_str(&data).expect("JSON data");
                    return Sse { id, event, data };
                }
                continue;
            }
            let chunk = self
                .response
                .chunk()
                .await
                .expect("the stream stays readable")
                .expect("the stream stays open");
            self.buffer.extend_from_slice(&chunk);
        }
    }

    /// Waits for the server to end the stream (what is still buffered is dropped).
    async fn closed(&mut self) {
        let end = async { while let Ok(Some(_)) = self.response.chunk().await {} };
        tokio::time::timeout(Duration::from_secs(10), end)
            .await
            .expect("the stream ends within 10 s");
    }

    /// Events up to and including the first that `last` accepts.
    async fn until(&mut self, last: impl Fn(&Sse) -> bool) -> Vec<Sse> {
        let mut got = Vec::new();
        loop {
            let event = self.next().await;
            let done = last(&event);
            got.push(event);
            if done {
                return got;
            }
        }
    }
}

fn ended(call: &str) -> impl Fn(&Sse) -> bool + '_ {
    move |e| e.event == "call.ended" && e.call() == call
}

/// The events of `call`, by type.
fn of_call(events: &[Sse], call: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.call() == call)
        .map(|e| e.event.clone())
        .collect()
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|v| v["id"].as_str().expect("an id").to_owned())
        .collect()
}

const SALES: &str = "5001";

/// `support` (agents 1001 and 1002) on 5000, `sales` (agent 1003) on 5001.
async fn app() -> TestApp {
    let app = spawn_setup(Setup {
        queues: vec![
            queue_row("support", QueueRouting::default()),
            queue_row("sales", QueueRouting::default()),
        ],
        agents: vec![
            Agent::answering("1001"),
            Agent::answering("1002"),
            Agent::answering("1003").in_queues(&["sales"]),
        ],
        entries: vec![EntryPoint {
            number: SALES.into(),
            variables: vec![("switchboard_queue".into(), "sales".into())],
        }],
    })
    .await;
    app.connected().await;
    app
}

fn caller(number: &str, to: &str, talk: Duration) -> CallSpec {
    CallSpec {
        talk_time: Some(talk),
        ..CallSpec::new(number, to)
    }
}

/// Places a call and returns its id, read from `events`.
async fn place(app: &TestApp, events: &mut EventStream, number: &str, to: &str) -> String {
    app.sim
        .place_call(caller(number, to, Duration::from_millis(300)));
    let entered = events
        .until(|e| e.event == "call.entered" && e.data["data"]["call"]["caller_number"] == number)
        .await;
    entered
        .last()
        .map(|e| e.call().to_owned())
        .expect("the call entered")
}

#[tokio::test]
async fn a_new_wallboard_gets_the_snapshot_first_then_a_calls_events_in_order() {
    let mut app = app().await;
    let mut events = EventStream::open(&app.http, &app, "").await;
    let snapshot = events.next().await;
    assert_eq!(snapshot.event, "snapshot");
    assert_eq!(snapshot.data["type"], "snapshot");
    let data = &snapshot.data["data"];
    assert_eq!(ids(&data["queues"]), ["sales", "support"]);
    assert_eq!(ids(&data["agents"]), ["1001", "1002", "1003"]);
    assert!(data["agents"][0]["time_in_state_ms"].is_number(), "{data}");
    assert_eq!(data["calls"], json!([]));

    let call = place(&app, &mut events, "+4930111", ENTRY).await;
    let seen = events.until(ended(&call)).await;
    assert_eq!(
        of_call(&seen, &call),
        ["call.offered", "call.answered", "call.ended"],
        "after call.entered"
    );
    let offer = seen
        .iter()
        .find(|e| e.event == "call.offered")
        .expect("an offer");
    assert_eq!(offer.data["type"], "call.offered", "the webhook body");
    assert!(offer.data["id"]
        .as_str()
        .is_some_and(|id| id.starts_with("evt_")));
    assert_eq!(offer.data["data"]["call"]["queue"], "support");
    assert!(
        ["1001", "1002"].contains(&offer.agent()),
        "{:?}",
        offer.data
    );
    assert!(seen.iter().all(|e| e.id > snapshot.id));
    assert!(seen.windows(2).all(|w| w[0].id < w[1].id), "ids increase");

    // An open stream does not hold up a stop; it ends, and the client reconnects later.
    tokio::time::timeout(Duration::from_secs(10), app.stop_controller())
        .await
        .expect("the controller stops with a stream open");
    events.closed().await;
}

#[tokio::test]
async fn a_queue_filter_leaves_out_other_queues_calls_and_agents() {
    let app = app().await;
    let mut everything = EventStream::open(&app.http, &app, "").await;
    let mut sales = EventStream::open(&app.http, &app, "?queue=sales").await;
    let snapshot = sales.next().await;
    assert_eq!(snapshot.event, "snapshot");
    assert_eq!(ids(&snapshot.data["data"]["queues"]), ["sales"]);
    assert_eq!(ids(&snapshot.data["data"]["agents"]), ["1003"]);

    let support_call = place(&app, &mut everything, "+4930111", ENTRY).await;
    everything.until(ended(&support_call)).await;
    let sales_call = place(&app, &mut everything, "+4930222", SALES).await;
    let seen = sales.until(ended(&sales_call)).await;
    assert_eq!(
        of_call(&seen, &sales_call),
        [
            "call.entered",
            "call.offered",
            "call.answered",
            "call.ended"
        ]
    );
    assert!(
        seen.iter().all(|e| e.call() != support_call),
        "no support call events: {seen:?}"
    );
    let agents: Vec<&str> = seen
        .iter()
        .filter(|e| e.event == "agent.state_changed")
        .map(Sse::agent)
        .collect();
    assert!(agents.contains(&"1003"), "the queue's agent: {seen:?}");
    assert!(agents.iter().all(|a| *a == "1003"), "{agents:?}");
}

#[tokio::test]
async fn resuming_with_last_event_id_replays_exactly_the_missed_events() {
    let app = app().await;
    let mut full = EventStream::open(&app.http, &app, "").await;
    let first = full.next().await;
    let mut interrupted = EventStream::open(&app.http, &app, "").await;
    assert_eq!(interrupted.next().await.event, "snapshot");

    app.sim
        .place_call(caller("+4930333", ENTRY, Duration::from_millis(300)));
    let before = interrupted.until(|e| e.event == "call.offered").await;
    let last_seen = before.last().expect("an offer").id;
    let call = before.last().expect("an offer").call().to_owned();
    drop(interrupted);
    let everything = full.until(ended(&call)).await;
    assert_eq!(first.event, "snapshot");
    let missed: Vec<Sse> = everything
        .into_iter()
        .filter(|e| e.id > last_seen)
        .collect();
    assert!(!missed.is_empty());

    let mut resumed = EventStream::open_after(&app.http, &app, "", Some(last_seen)).await;
    let replayed = resumed.until(ended(&call)).await;
    assert_eq!(replayed, missed, "no snapshot, no gap, no duplicate");

    let query = format!("?last_event_id={last_seen}");
    let mut by_query = EventStream::open(&app.http, &app, &query).await;
    assert_eq!(by_query.next().await, missed[0]);
}

#[tokio::test]
async fn an_agents_token_streams_only_its_own_events_and_never_another_agents() {
    let app = app().await;
    let made: Value = app
        .http
        .post(format!("{}/v1/tokens", app.base))
        .json(&json!({ "name": "alice", "role": "agent", "agent": "1001" }))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
    let alice = client_with(made["token"].as_str().expect("a token"));
    let other = alice
        .get(format!("{}/v1/events?agent=1002", app.base))
        .send()
        .await
        .expect("request");
    assert_eq!(other.status(), 403);
    assert_eq!(other.headers()["content-type"], "application/problem+json");

    let mut everything = EventStream::open(&app.http, &app, "").await;
    let mut own = EventStream::open(&alice, &app, "?agent=1001").await;
    let snapshot = own.next().await;
    assert_eq!(ids(&snapshot.data["data"]["agents"]), ["1001"]);
    // Two callers at once: one for each support agent.
    app.sim
        .place_call(caller("+4930444", ENTRY, Duration::from_secs(1)));
    app.sim
        .place_call(caller("+4930555", ENTRY, Duration::from_secs(1)));
    let mut answered_by = Vec::new();
    while answered_by.len() < 2 {
        let event = everything.next().await;
        if event.event == "call.answered" {
            answered_by.push((event.agent().to_owned(), event.call().to_owned()));
        }
    }
    let theirs = answered_by
        .iter()
        .find(|(agent, _)| agent == "1002")
        .map(|(_, call)| call.clone())
        .expect("1002 answered one");
    for (_, call) in &answered_by {
        everything.until(ended(call)).await;
    }
    // A last change of alice's own, after everything else.
    let paused = app
        .put_json(
            "/v1/agents/1001/state",
            json!({ "state": "paused", "reason": "break" }),
        )
        .await;
    assert_eq!(paused.status(), 200);
    let seen = own
        .until(|e| e.event == "agent.state_changed" && e.data["data"]["details"]["to"] == "paused")
        .await;
    assert!(seen.iter().any(|e| e.event == "call.answered"), "{seen:?}");
    assert!(
        seen.iter().all(|e| e.agent() == "1001"),
        "only alice's: {seen:?}"
    );
    assert!(seen.iter().all(|e| e.call() != theirs));
}

#[tokio::test]
async fn bad_filters_and_a_bad_last_event_id_are_problem_details() {
    let app = app().await;
    for (query, status) in [
        ("?types=call.rang", 422),
        ("?types=call.offered,agent.logged_in", 422),
        ("?queue=nosuch", 422),
        ("?agent=9999", 422),
        ("?since=1", 400),
        ("?last_event_id=evt_1", 400),
    ] {
        let reply = app.get(&format!("/v1/events{query}")).await;
        assert_eq!(reply.status(), status, "{query}");
        assert_eq!(
            reply.headers()["content-type"],
            "application/problem+json",
            "{query}"
        );
    }
    let reply = app
        .http
        .get(format!("{}/v1/events", app.base))
        .header("last-event-id", "yesterday")
        .send()
        .await
        .expect("request");
    assert_eq!(reply.status(), 400);
    let anonymous = reqwest::get(format!("{}/v1/events", app.base))
        .await
        .expect("request");
    assert_eq!(anonymous.status(), 401);
}
