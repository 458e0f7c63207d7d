//! CTI webhooks end to end: a real local receiver verifies every delivery with the Standard
//! Webhooks reference library (not our signing code), sees the offer pop while the agent's
//! phone still rings, loses nothing while it is down for a while, and sees a replay.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use switchboard::engine::QueueRouting;
use switchboard::sim::{CallSpec, EntryPoint, PhoneBehavior, SimHandle};

use crate::harness::{eventually, queue_row, spawn_setup, Agent, Setup, TestApp};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[derive(Debug, Clone)]
struct Received {
    id: String,
    event_type: String,
    payload: Value,
    /// For `call.offered`: whether the agent's leg was answered when the pop arrived.
    agent_answered: Option<bool>,
}

#[derive(Clone)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    down: Arc<AtomicBool>,
    sim: SimHandle,
}

impl Receiver {
    fn received(&self) -> Vec<Received> {
        self.got.lock().map(|g| g.clone()).unwrap_or_default()
    }
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: String) -> StatusCode {
    if r.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let verifier =
        standardwebhooks::Webhook::new(SECRET).expect("the reference library takes the secret");
    if verifier.verify(body.as_bytes(), &headers).is_err() {
        return StatusCode::UNAUTHORIZED;
    }
    let payload: Value = serde_json::from_str(&body).expect("a JSON payload");
    let event_type = payload["type"].as_str().unwrap_or_default().to_owned();
    let agent_answered = (event_type == "call.offered").then(|| {
        let leg = payload["data"]["details"]["agent_leg"]
            .as_str()
            .unwrap_or_default();
        r.sim.channel(leg).is_some_and(|c| c.answered)
    });
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if let Ok(mut got) = r.got.lock() {
        got.push(Received {
            id,
            event_type,
            payload,
            agent_answered,
        });
    }
    StatusCode::NO_CONTENT
}

async fn start_receiver(sim: SimHandle) -> (String, Receiver) {
    let receiver = Receiver {
        got: Arc::default(),
        down: Arc::default(),
        sim,
    };
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, receiver)
}

async fn app() -> TestApp {
    spawn_setup(Setup {
        queues: vec![queue_row("support", QueueRouting::default())],
        agents: vec![Agent {
            behavior: PhoneBehavior::Answer {
                after: Duration::from_millis(700),
            },
            ..Agent::answering("1001")
        }],
        entries: vec![EntryPoint {
            number: "5000".into(),
            variables: vec![("switchboard_queue".into(), "support".into())],
        }],
    })
    .await
}

async fn subscribe(app: &TestApp, url: &str) {
    let reply = app
        .put_json(
            "/v1/webhooks/crm",
            json!({ "url": url, "events": ["call.entered", "call.offered", "call.answered",
                "call.abandoned", "call.ended", "agent.state_changed"], "queues": ["support"],
                "secrets": [SECRET] }),
        )
        .await;
    assert_eq!(reply.status(), 200);
}

fn caller(number: &str) -> CallSpec {
    CallSpec {
        talk_time: Some(Duration::from_millis(300)),
        ..CallSpec::new(number, "5000")
    }
}

/// The call events the receiver got for `call`, in order, deduplicated by webhook id.
fn call_events(received: &[Received], call: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    received
        .iter()
        .filter(|r| r.payload["data"]["call"]["id"] == call)
        .filter(|r| seen.insert(r.id.clone()))
        .map(|r| r.event_type.clone())
        .collect()
}

#[tokio::test]
async fn a_signed_screen_pop_arrives_while_the_phone_rings_and_the_call_events_follow_in_order() {
    let app = app().await;
    let (url, receiver) = start_receiver(app.sim.clone()).await;
    subscribe(&app, &url).await;
    app.sim.place_call(caller("+4930111"));
    let r = receiver.clone();
    eventually("the call's end is delivered", || {
        let r = r.clone();
        async move { r.received().iter().any(|e| e.event_type == "call.ended") }
    })
    .await;
    let received = receiver.received();
    let offer = received
        .iter()
        .find(|e| e.event_type == "call.offered")
        .expect("an offer pop");
    assert_eq!(
        offer.agent_answered,
        Some(false),
        "the pop came before the answer"
    );
    let data = &offer.payload["data"];
    assert_eq!(data["agent"]["id"], "1001");
    assert_eq!(data["agent"]["extension"], "1001");
    assert_eq!(data["call"]["caller_number"], "+4930111");
    assert_eq!(data["call"]["queue"], "support");
    assert!(offer.id.starts_with("evt_"), "{}", offer.id);
    let call = data["call"]["id"].as_str().expect("call id").to_owned();
    assert_eq!(
        call_events(&received, &call),
        [
            "call.entered",
            "call.offered",
            "call.answered",
            "call.ended"
        ]
    );
    // Agent events pass only subscriptions without a queue filter: this one has one.
    assert!(!received
        .iter()
        .any(|e| e.event_type == "agent.state_changed"));
}

#[tokio::test]
async fn a_receiver_down_for_a_while_gets_everything_later_and_a_replay_sends_it_again() {
    let app = app().await;
    let (url, receiver) = start_receiver(app.sim.clone()).await;
    subscribe(&app, &url).await;
    receiver.down.store(true, Ordering::SeqCst);
    app.sim.place_call(caller("+4930222"));
    let base = app.base.clone();
    let http = app.http.clone();
    let listed = |status: &'static str, event_type: &'static str| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let Ok(reply) = http
                .get(format!("{base}/v1/webhook-deliveries?status={status}"))
                .send()
                .await
            else {
                return false;
            };
            let body: Value = reply.json().await.unwrap_or_default();
            body["deliveries"]
                .as_array()
                .is_some_and(|d| d.iter().any(|d| d["event_type"] == event_type))
        }
    };
    eventually("the call's end waits in the outbox", || {
        listed("pending", "call.ended")
    })
    .await;
    eventually("the pop is given up as missed", || {
        listed("missed", "call.offered")
    })
    .await;
    receiver.down.store(false, Ordering::SeqCst);
    let r = receiver.clone();
    eventually("the call's end is delivered after the outage", || {
        let r = r.clone();
        async move { r.received().iter().any(|e| e.event_type == "call.ended") }
    })
    .await;
    let received = receiver.received();
    let call = received[0].payload["data"]["call"]["id"]
        .as_str()
        .expect("call id")
        .to_owned();
    // The durable events all arrive, in order; the pop was missed while it mattered.
    assert_eq!(
        call_events(&received, &call),
        ["call.entered", "call.answered", "call.ended"]
    );
    let missed: Value = app
        .get("/v1/webhook-deliveries?status=missed")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        missed["deliveries"][0]["event_type"], "call.offered",
        "{missed}"
    );
    assert_eq!(missed["deliveries"][0]["attempts"], 3, "{missed}");

    // A replay sends the missed pop again, under its own id.
    let id = missed["deliveries"][0]["id"].as_i64().expect("id");
    let detail: Value = app
        .get(&format!("/v1/webhook-deliveries/{id}"))
        .await
        .json()
        .await
        .expect("json");
    let event_id = detail["event_id"].as_str().expect("event id").to_owned();
    assert_eq!(detail["payload"]["type"], "call.offered");
    let replayed = app
        .http
        .post(format!("{}/v1/webhook-deliveries/{id}/replay", app.base))
        .send()
        .await
        .expect("replay");
    assert_eq!(replayed.status(), 202);
    let r = receiver.clone();
    eventually("the replayed pop arrives", || {
        let (r, event_id) = (r.clone(), event_id.clone());
        async move { r.received().iter().any(|e| e.id == event_id) }
    })
    .await;
    let counts: HashMap<String, usize> =
        receiver.received().iter().fold(HashMap::new(), |mut m, e| {
            *m.entry(e.id.clone()).or_default() += 1;
            m
        });
    assert!(
        counts.values().all(|n| *n == 1),
        "no duplicates: {counts:?}"
    );
}

#[tokio::test]
async fn a_subscription_with_an_unknown_event_type_or_a_bad_secret_is_refused() {
    let app = app().await;
    let reply = app
        .put_json(
            "/v1/webhooks/crm",
            json!({ "url": "https://crm.example.com/hook", "events": ["call.rang"] }),
        )
        .await;
    assert_eq!(reply.status(), 422);
    let reply = app
        .put_json(
            "/v1/webhooks/crm",
            json!({ "url": "https://crm.example.com/hook", "events": ["call.ended"],
                "secrets": ["hunter2"] }),
        )
        .await;
    assert_eq!(reply.status(), 422);
    let made: Value = app
        .put_json(
            "/v1/webhooks/crm",
            json!({ "url": "https://crm.example.com/hook", "events": ["call.ended"] }),
        )
        .await
        .json()
        .await
        .expect("json");
    assert!(made["secret"]
        .as_str()
        .is_some_and(|s| s.starts_with("whsec_")));
    let listed: Value = app.get("/v1/webhooks").await.json().await.expect("json");
    assert_eq!(
        listed["subscriptions"][0]["secrets"], 1,
        "never the secret itself"
    );
}

#[tokio::test]
async fn a_webhook_from_the_provisioning_file_is_applied_at_start_and_receives_the_calls_events() {
    let mut app = app().await;
    let (url, receiver) = start_receiver(app.sim.clone()).await;
    let provisioning = switchboard::config::Provisioning::parse(
        &format!(
            "[webhook_settings]\nallow_private_targets = true\n\n\
             [[queue]]\nid = \"support\"\nname = \"Support\"\n\n[[webhook]]\nname = \"crm\"\n\
             url = \"{url}\"\nevents = [\"call.offered\", \"call.ended\"]\n\
             queues = [\"support\"]\nsecrets = [\"{SECRET}\"]\n"
        ),
        "provisioning.toml",
    )
    .expect("a valid file");
    app.stop_controller().await;
    app.webhooks = provisioning.webhooks;
    app.allow_private_webhook_targets = provisioning.allow_private_webhook_targets;
    app.start_with(
        vec![queue_row("support", QueueRouting::default())],
        &[Agent::answering("1001")],
    )
    .await;
    app.connected().await;
    let listed: Value = app.get("/v1/webhooks").await.json().await.expect("json");
    assert_eq!(listed["subscriptions"][0]["name"], "crm");
    assert_eq!(listed["subscriptions"][0]["queues"], json!(["support"]));
    app.sim.place_call(caller("+4930222"));
    let r = receiver.clone();
    eventually("the call's end is delivered", || {
        let r = r.clone();
        async move { r.received().iter().any(|e| e.event_type == "call.ended") }
    })
    .await;
    let types: Vec<String> = receiver
        .received()
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    assert_eq!(
        types,
        ["call.offered", "call.ended"],
        "only what it asked for"
    );
}

#[tokio::test]
async fn a_queue_over_its_waiting_threshold_raises_a_queue_threshold_alarm_and_clears_it() {
    let routing = QueueRouting {
        thresholds: switchboard::engine::routing::Thresholds {
            waiting: Some(1),
            ..Default::default()
        },
        ..QueueRouting::default()
    };
    let app = spawn_setup(Setup {
        queues: vec![queue_row("support", routing)],
        agents: vec![Agent::answering("1001").logged_out()],
        entries: vec![EntryPoint {
            number: "5000".into(),
            variables: vec![("switchboard_queue".into(), "support".into())],
        }],
    })
    .await;
    let (url, receiver) = start_receiver(app.sim.clone()).await;
    let reply = app
        .put_json(
            "/v1/webhooks/noc",
            json!({ "url": url, "events": ["queue.threshold"], "queues": ["support"],
                "secrets": [SECRET] }),
        )
        .await;
    assert_eq!(reply.status(), 200);
    let first = app.sim.place_call(CallSpec::new("+4930333", "5000"));
    let second = app.sim.place_call(CallSpec::new("+4930444", "5000"));
    let r = receiver.clone();
    eventually("the alarm is raised", || {
        let r = r.clone();
        async move { !r.received().is_empty() }
    })
    .await;
    let queues: Value = app.get("/v1/queues").await.json().await.expect("json");
    assert_eq!(queues["queues"][0]["alarms"], json!(["waiting"]));
    app.sim.hangup(&first, "NORMAL_CLEARING");
    app.sim.hangup(&second, "NORMAL_CLEARING");
    let r = receiver.clone();
    eventually("the alarm is cleared", || {
        let r = r.clone();
        async move { r.received().len() >= 2 }
    })
    .await;
    let received = receiver.received();
    let details: Vec<Value> = received
        .iter()
        .map(|e| e.payload["data"]["details"].clone())
        .collect();
    assert_eq!(received[0].event_type, "queue.threshold");
    assert_eq!(
        details[0],
        json!({ "queue": "support", "metric": "waiting", "state": "raised", "value": 2, "limit": 1 })
    );
    assert_eq!(details[1]["state"], "cleared");
}

#[tokio::test]
async fn without_the_allowance_metadata_and_loopback_receivers_are_refused_at_subscription_and_at_delivery(
) {
    let mut app = app().await;
    let (url, receiver) = start_receiver(app.sim.clone()).await;
    app.stop_controller().await;
    app.allow_private_webhook_targets = false;
    app.start_with(
        vec![queue_row("support", QueueRouting::default())],
        &[Agent::answering("1001")],
    )
    .await;
    app.connected().await;
    for target in [
        "http://169.254.169.254/latest/meta-data/",
        url.as_str(),
        "http://[::1]:9/hook",
        "http://10.1.2.3/hook",
    ] {
        let reply = app
            .put_json(
                "/v1/webhooks/crm",
                json!({ "url": target, "events": ["call.ended"] }),
            )
            .await;
        assert_eq!(reply.status(), 422, "{target}");
    }
    // A name is resolved at each delivery: `localhost` is loopback, so nothing is posted.
    subscribe(&app, &url.replace("127.0.0.1", "localhost")).await;
    app.sim.place_call(caller("+4930222"));
    let (http, base) = (app.http.clone(), app.base.clone());
    eventually(
        "a delivery to localhost fails as a loopback address",
        || {
            let (http, base) = (http.clone(), base.clone());
            async move {
                let Ok(reply) = http
                    .get(format!("{base}/v1/webhook-deliveries?status=pending"))
                    .send()
                    .await
                else {
                    return false;
                };
                let body: Value = reply.json().await.unwrap_or_default();
                body["deliveries"].as_array().is_some_and(|d| {
                    d.iter().any(|d| {
                        d["last_error"]
                            .as_str()
                            .is_some_and(|e| e.contains("loopback"))
                    })
                })
            }
        },
    )
    .await;
    assert!(receiver.received().is_empty(), "a delivery got through");
}
