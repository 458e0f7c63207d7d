//! Supervisor monitoring end to end on the simulator, over REST: a supervisor's phone rung
//! and joined in listen mode (the switch's eavesdrop on the caller, the bridge untouched),
//! the mode changed by a key without redialling, the session ended, all of it in the history
//! and announced; barge as `three_way`; whisper; the queue's notice to the agent; the
//! supervisor's leg hung up with the call; agents refused (403). The invariant check at
//! drop sees the call handled by its agent only.

use std::time::Duration;

use serde_json::{json, Value};
use sqlx::{Connection, Row};
use switchboard::engine::QueueRouting;
use switchboard::sim::{CallSpec, PhoneBehavior, PhoneSpec};

use crate::harness::{eventually, queue_row, spawn_setup, Agent, Setup, TestApp, ENTRY};

const SUPERVISOR_PHONE: &str = "2001";

async fn app_with(notice: Option<&str>) -> TestApp {
    let queue = queue_row(
        "support",
        QueueRouting {
            monitor_notice: notice.map(str::to_owned),
            ..QueueRouting::default()
        },
    );
    let app = spawn_setup(Setup {
        queues: vec![queue],
        agents: vec![Agent::answering("1001")],
        entries: Vec::new(),
    })
    .await;
    app.sim.add_phone(PhoneSpec {
        user: SUPERVISOR_PHONE.into(),
        behavior: PhoneBehavior::Answer {
            after: Duration::from_millis(50),
        },
        hangup_after_talk: None,
    });
    app.connected().await;
    app
}

/// The connected call's id and its agent's leg.
async fn connected_call(app: &TestApp, caller: &str) -> (String, String) {
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
    let id = calls["active"][0]["id"].as_str().expect("a call id");
    let leg = app
        .sim
        .channel(caller)
        .and_then(|c| c.bridged_to)
        .expect("an agent leg");
    (id.to_owned(), leg)
}

async fn send(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = client.request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("request")
}

async fn connection(app: &TestApp) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    sqlx::AnyConnection::connect(&app.database_url)
        .await
        .expect("the controller's database")
}

async fn cti_types(app: &TestApp, call: &str) -> Vec<String> {
    let mut conn = connection(app).await;
    sqlx::query(
        "SELECT type FROM cti_events WHERE call_id = $1 AND type LIKE 'monitor.%' ORDER BY seq",
    )
    .bind(call)
    .fetch_all(&mut conn)
    .await
    .expect("cti events")
    .iter()
    .map(|r| r.get(0))
    .collect()
}

async fn joined(app: &TestApp, monitor: &str) {
    eventually("the supervisor has joined", || async {
        let list: Value = app.get("/v1/monitors").await.json().await.expect("JSON");
        list["monitors"].as_array().is_some_and(|l| {
            l.iter()
                .any(|m| m["id"] == monitor && m["phase"] == "joined")
        })
    })
    .await;
}

#[tokio::test]
async fn a_supervisor_listens_whispers_and_leaves_without_changing_who_handles_the_call() {
    let app = app_with(None).await;
    let caller = app.sim.place_call(CallSpec::new("4930301", ENTRY));
    let (call, agent_leg) = connected_call(&app, &caller).await;
    let sup = app.client_for("sup", "supervisor", None).await;
    let alice = app.client_for("alice", "agent", Some("1001")).await;

    // An agent never monitors, not even its own call.
    let refused = send(
        &alice,
        reqwest::Method::POST,
        format!("{}/v1/calls/{call}/monitor", app.base),
        Some(json!({ "mode": "listen", "phone": "user/1001" })),
    )
    .await;
    assert_eq!(refused.status(), 403);
    for (body, status) in [
        (json!({ "mode": "shout", "phone": "user/2001" }), 400),
        (
            json!({ "mode": "listen", "phone": "user/2001,user/2002" }),
            400,
        ),
        (json!({ "mode": "listen", "phone": "{x=y}user/2001" }), 400),
    ] {
        let r = send(
            &sup,
            reqwest::Method::POST,
            format!("{}/v1/calls/{call}/monitor", app.base),
            Some(body.clone()),
        )
        .await;
        assert_eq!(r.status(), status, "{body}");
    }
    let unknown = send(
        &sup,
        reqwest::Method::POST,
        format!("{}/v1/calls/{}/monitor", app.base, uuid::Uuid::new_v4()),
        Some(json!({ "mode": "listen", "phone": "user/2001" })),
    )
    .await;
    assert_eq!(unknown.status(), 404);

    let started = send(
        &sup,
        reqwest::Method::POST,
        format!("{}/v1/calls/{call}/monitor", app.base),
        Some(json!({ "mode": "listen", "phone": format!("user/{SUPERVISOR_PHONE}") })),
    )
    .await;
    assert_eq!(started.status(), 202);
    let started: Value = started.json().await.expect("JSON");
    let monitor = started["id"].as_str().expect("an id").to_owned();
    assert_eq!(started["supervisor"], "sup");
    joined(&app, &monitor).await;
    eventually("the switch runs the eavesdrop", || async {
        !app.sim.eavesdrops().is_empty()
    })
    .await;
    let spying = app.sim.eavesdrops();
    assert_eq!(spying.len(), 1);
    assert_eq!(spying[0].leg, monitor);
    assert_eq!(spying[0].target, caller);
    assert_eq!(spying[0].app, "eavesdrop");
    assert!(!spying[0].whisper_aleg);
    // The caller is still bridged to the agent.
    assert_eq!(
        app.sim.channel(&caller).and_then(|c| c.bridged_to),
        Some(agent_leg.clone())
    );

    // Agents may not change or end it either; the same mode is a conflict.
    let r = send(
        &alice,
        reqwest::Method::PATCH,
        format!("{}/v1/monitors/{monitor}", app.base),
        Some(json!({ "mode": "whisper" })),
    )
    .await;
    assert_eq!(r.status(), 403);
    let r = send(
        &sup,
        reqwest::Method::PATCH,
        format!("{}/v1/monitors/{monitor}", app.base),
        Some(json!({ "mode": "listen" })),
    )
    .await;
    assert_eq!(r.status(), 409);
    let r = send(
        &sup,
        reqwest::Method::PATCH,
        format!("{}/v1/monitors/{monitor}", app.base),
        Some(json!({ "mode": "whisper" })),
    )
    .await;
    assert_eq!(r.status(), 200);
    eventually("the key reached the eavesdrop", || async {
        app.sim.eavesdrops().first().is_some_and(|e| e.keys == "1")
    })
    .await;
    let r = send(
        &sup,
        reqwest::Method::DELETE,
        format!("{}/v1/monitors/{monitor}", app.base),
        None,
    )
    .await;
    assert_eq!(r.status(), 202);
    eventually("the supervisor's leg is gone", || async {
        app.sim.channel(&monitor).is_none()
    })
    .await;
    assert_eq!(
        app.sim.channel(&caller).and_then(|c| c.bridged_to),
        Some(agent_leg)
    );
    eventually("the session is in the history", || async {
        let h: Value = app
            .get(&format!("/v1/calls/{call}/monitoring"))
            .await
            .json()
            .await
            .expect("JSON");
        h["events"].as_array().is_some_and(|e| e.len() == 3)
    })
    .await;
    let h: Value = app
        .get(&format!("/v1/calls/{call}/monitoring"))
        .await
        .json()
        .await
        .expect("JSON");
    let kinds: Vec<(&str, &str)> = h["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or(""),
                e["mode"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("started", "listen"),
            ("mode_changed", "whisper"),
            ("ended", "whisper")
        ]
    );
    assert_eq!(h["events"][1]["previous_mode"], "listen");
    assert_eq!(h["events"][2]["reason"], "requested");
    assert_eq!(h["events"][0]["supervisor"], "sup");
    assert_eq!(h["events"][0]["agent"], "1001");
    assert_eq!(
        cti_types(&app, &call).await,
        ["monitor.started", "monitor.mode_changed", "monitor.ended"]
    );
    // The audit log names who asked.
    let audit: Value = app.get("/v1/audit").await.json().await.expect("JSON");
    let audited = audit.to_string();
    assert!(
        audited.contains(&format!("/v1/calls/{call}/monitor")),
        "{audited}"
    );
    assert!(
        audited.contains(&format!("/v1/monitors/{monitor}")),
        "{audited}"
    );

    let calls: Value = app.get("/v1/calls").await.json().await.expect("JSON");
    assert_eq!(calls["active"][0]["agent"], "1001");
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
}

#[tokio::test]
async fn a_barge_is_a_three_way_the_notice_reaches_the_agent_and_the_calls_end_ends_it() {
    let app = app_with(Some("tone_stream://%(500,0,440)")).await;
    let caller = app.sim.place_call(CallSpec::new("4930302", ENTRY));
    let (call, agent_leg) = connected_call(&app, &caller).await;
    let started: Value = send(
        &app.http,
        reqwest::Method::POST,
        format!("{}/v1/calls/{call}/monitor", app.base),
        Some(json!({ "mode": "barge", "phone": format!("user/{SUPERVISOR_PHONE}") })),
    )
    .await
    .json()
    .await
    .expect("JSON");
    let monitor = started["id"].as_str().expect("an id").to_owned();
    joined(&app, &monitor).await;
    eventually("the switch runs three_way", || async {
        app.sim
            .eavesdrops()
            .first()
            .is_some_and(|e| e.app == "three_way")
    })
    .await;
    eventually("the agent heard the notice", || async {
        app.sim.broadcasts().iter().any(|b| {
            b.uuid == agent_leg && b.legs == "aleg" && b.path.starts_with("tone_stream://")
        })
    })
    .await;
    // A barge runs three_way, which takes no keys.
    let r = send(
        &app.http,
        reqwest::Method::PATCH,
        format!("{}/v1/monitors/{monitor}", app.base),
        Some(json!({ "mode": "listen" })),
    )
    .await;
    assert_eq!(r.status(), 409);
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
    eventually("the supervisor's leg went with the call", || async {
        app.sim.channel(&monitor).is_none()
    })
    .await;
    eventually("the session ended in the history", || async {
        let h: Value = app
            .get(&format!("/v1/calls/{call}/monitoring"))
            .await
            .json()
            .await
            .expect("JSON");
        h["events"]
            .as_array()
            .is_some_and(|e| e.last().is_some_and(|l| l["kind"] == "ended"))
    })
    .await;
    eventually("no session is left", || async {
        let list: Value = app.get("/v1/monitors").await.json().await.expect("JSON");
        list["monitors"] == json!([])
    })
    .await;
}

#[tokio::test]
async fn a_whisper_sets_the_captured_variable_and_an_unanswered_phone_leaves_no_session() {
    let app = app_with(None).await;
    app.sim.add_phone(PhoneSpec {
        user: "2002".into(),
        behavior: PhoneBehavior::Busy,
        hangup_after_talk: None,
    });
    let caller = app.sim.place_call(CallSpec::new("4930303", ENTRY));
    let (call, _) = connected_call(&app, &caller).await;
    let busy: Value = send(
        &app.http,
        reqwest::Method::POST,
        format!("{}/v1/calls/{call}/monitor", app.base),
        Some(json!({ "mode": "listen", "phone": "user/2002" })),
    )
    .await
    .json()
    .await
    .expect("JSON");
    let busy = busy["id"].as_str().expect("an id").to_owned();
    eventually("the busy phone's session is gone", || async {
        let list: Value = app.get("/v1/monitors").await.json().await.expect("JSON");
        !list.to_string().contains(&busy)
    })
    .await;
    let started: Value = send(
        &app.http,
        reqwest::Method::POST,
        format!("{}/v1/calls/{call}/monitor", app.base),
        Some(json!({ "mode": "whisper", "phone": format!("user/{SUPERVISOR_PHONE}") })),
    )
    .await
    .json()
    .await
    .expect("JSON");
    let monitor = started["id"].as_str().expect("an id").to_owned();
    joined(&app, &monitor).await;
    eventually("the switch runs the eavesdrop", || async {
        !app.sim.eavesdrops().is_empty()
    })
    .await;
    let e = app.sim.eavesdrops();
    assert!(e[0].whisper_aleg && e[0].app == "eavesdrop", "{e:?}");
    // The supervisor hangs up.
    assert!(app.sim.hangup(&monitor, "NORMAL_CLEARING"));
    eventually("the session ended as the supervisor's", || async {
        let h: Value = app
            .get(&format!("/v1/calls/{call}/monitoring"))
            .await
            .json()
            .await
            .expect("JSON");
        h["events"].as_array().is_some_and(|e| {
            e.len() == 2
                && e[1]["reason"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("supervisor_hung_up"))
        })
    })
    .await;
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
}

/// Reads a `text/event-stream` body as text until `needle` appears (10 s at most).
async fn stream_until(response: &mut reqwest::Response, needle: &str) -> String {
    let mut text = String::new();
    let read = async {
        while !text.contains(needle) {
            match response.chunk().await {
                Ok(Some(chunk)) => text.push_str(&String::from_utf8_lossy(&chunk)),
                _ => break,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("the stream within 10 s");
    text
}

#[tokio::test]
async fn the_monitored_agents_own_event_stream_never_shows_the_monitoring() {
    let app = app_with(None).await;
    let alice = app.client_for("alice", "agent", Some("1001")).await;
    let mut own = alice
        .get(format!("{}/v1/events?agent=1001", app.base))
        .send()
        .await
        .expect("request");
    assert_eq!(own.status(), 200);
    let mut everything = app
        .http
        .get(format!("{}/v1/events", app.base))
        .send()
        .await
        .expect("request");
    let caller = app.sim.place_call(CallSpec::new("4930304", ENTRY));
    let (call, _) = connected_call(&app, &caller).await;
    let started: Value = send(
        &app.http,
        reqwest::Method::POST,
        format!("{}/v1/calls/{call}/monitor", app.base),
        Some(json!({ "mode": "listen", "phone": format!("user/{SUPERVISOR_PHONE}") })),
    )
    .await
    .json()
    .await
    .expect("JSON");
    let monitor = started["id"].as_str().expect("an id").to_owned();
    joined(&app, &monitor).await;
    let seen = stream_until(&mut everything, "event: monitor.started").await;
    assert!(seen.contains(&monitor), "{seen}");
    // A last event of alice's own, after the monitoring's.
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
    let theirs = stream_until(&mut own, "event: call.ended").await;
    assert!(theirs.contains("event: call.answered"), "{theirs}");
    assert!(!theirs.contains("monitor."), "{theirs}");
}

#[tokio::test]
async fn a_supervisor_takes_the_call_over_and_the_agents_part_ends_as_transferred() {
    let app = app_with(None).await;
    let caller = app.sim.place_call(CallSpec::new("4930305", ENTRY));
    let (call, agent_leg) = connected_call(&app, &caller).await;
    let alice = app.client_for("alice", "agent", Some("1001")).await;
    let started: Value = send(
        &app.http,
        reqwest::Method::POST,
        format!("{}/v1/calls/{call}/monitor", app.base),
        Some(json!({ "mode": "whisper", "phone": format!("user/{SUPERVISOR_PHONE}") })),
    )
    .await
    .json()
    .await
    .expect("JSON");
    let monitor = started["id"].as_str().expect("an id").to_owned();
    joined(&app, &monitor).await;
    eventually("the switch runs the eavesdrop", || async {
        !app.sim.eavesdrops().is_empty()
    })
    .await;
    let refused = send(
        &alice,
        reqwest::Method::POST,
        format!("{}/v1/monitors/{monitor}/take-over", app.base),
        None,
    )
    .await;
    assert_eq!(refused.status(), 403);
    let r = send(
        &app.http,
        reqwest::Method::POST,
        format!("{}/v1/monitors/{monitor}/take-over", app.base),
        None,
    )
    .await;
    assert_eq!(r.status(), 202);
    eventually("the caller talks to the supervisor", || async {
        app.sim.channel(&caller).and_then(|c| c.bridged_to) == Some(monitor.clone())
    })
    .await;
    eventually("the agent's leg is gone", || async {
        app.sim.channel(&agent_leg).is_none()
    })
    .await;
    eventually("the agent is available again", || async {
        let a: Value = app.get("/v1/agents/1001").await.json().await.expect("JSON");
        a["status"] == "available"
    })
    .await;
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
    eventually("the call ended as transferred", || async {
        let c: Value = app
            .get(&format!("/v1/calls/{call}"))
            .await
            .json()
            .await
            .expect("JSON");
        c["call"]["outcome"] == "transferred"
    })
    .await;
    let h: Value = app
        .get(&format!("/v1/calls/{call}/monitoring"))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(h["events"][1]["reason"], "took_over", "{h}");
    let c: Value = app
        .get(&format!("/v1/calls/{call}"))
        .await
        .json()
        .await
        .expect("JSON");
    assert!(
        c.to_string().contains("to=supervisor:test-admin"),
        "the transfer names the supervisor: {c}"
    );
}
