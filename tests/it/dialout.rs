//! External numbers over REST end to end on the simulator: a blind transfer to a number (rung
//! first, the caller bridged to it on answer, the agent's part ends as a blind transfer), a
//! consult with a number completed (attended), a busy number (the caller stays with its
//! agent), and the refusals (no template: 409; a bad number: 400; another agent's call: 403).
//! The external party is a simulated phone reached through `user/{number}`; the invariant
//! check at drop compares the history with what the switch did.

use std::time::Duration;

use serde_json::{json, Value};
use sqlx::{Connection, Row};
use switchboard::engine::{ExternalDial, QueueRouting};
use switchboard::sim::{CallSpec, PhoneBehavior, PhoneSpec};

use crate::harness::{
    client_with, eventually, queue_row, spawn_setup, Agent, Setup, TestApp, ENTRY,
};

const ANSWERING: &str = "5551234";
const BUSY: &str = "5550486";

async fn app(template: bool) -> TestApp {
    let queues = vec![queue_row("support", QueueRouting::default())];
    let agents = || vec![Agent::answering("1001"), Agent::answering("1002")];
    let mut app = spawn_setup(Setup {
        queues: queues.clone(),
        agents: agents(),
        entries: Vec::new(),
    })
    .await;
    app.sim.add_phone(PhoneSpec {
        user: ANSWERING.into(),
        behavior: PhoneBehavior::Answer {
            after: Duration::from_millis(200),
        },
        hangup_after_talk: None,
    });
    app.sim.add_phone(PhoneSpec {
        user: BUSY.into(),
        behavior: PhoneBehavior::Busy,
        hangup_after_talk: None,
    });
    if template {
        app.stop_controller().await;
        app.external_dial = Some(ExternalDial {
            template: "user/{number}".into(),
            allowed_prefixes: vec!["555".into()],
        });
        app.start_with(queues, &agents()).await;
    }
    app.connected().await;
    app
}

async fn token(app: &TestApp, name: &str, agent: &str) -> reqwest::Client {
    let made: Value = app
        .http
        .post(format!("{}/v1/tokens", app.base))
        .json(&json!({ "name": name, "role": "agent", "agent": agent }))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
    client_with(made["token"].as_str().expect("a token"))
}

async fn post(app: &TestApp, client: &reqwest::Client, path: &str, body: Value) -> u16 {
    client
        .post(format!("{}{path}", app.base))
        .json(&body)
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

/// The call the caller is connected with, its id, its agent and the agent's leg.
async fn connected(app: &TestApp, caller: &str) -> (String, String, String) {
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
    let agent = calls["active"][0]["agent"]
        .as_str()
        .expect("an agent")
        .to_owned();
    let leg = app
        .sim
        .channel(caller)
        .and_then(|c| c.bridged_to)
        .expect("an agent leg");
    (id, agent, leg)
}

/// `(kind, detail)` of the call's consult and transfer queue events, and its outcome.
async fn history(app: &TestApp, call: &str) -> (Vec<(String, String)>, Option<String>) {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&app.database_url)
        .await
        .expect("the controller's database");
    let events = sqlx::query(
        "SELECT kind, detail FROM queue_events WHERE call_id = $1 \
         AND kind IN ('consult', 'transfer') ORDER BY id",
    )
    .bind(call)
    .fetch_all(&mut conn)
    .await
    .expect("queue events")
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect();
    let outcome = sqlx::query("SELECT outcome FROM calls WHERE id = $1")
        .bind(call)
        .fetch_optional(&mut conn)
        .await
        .expect("call row")
        .and_then(|r| r.get::<Option<String>, _>(0));
    (events, outcome)
}

async fn no_calls(app: &TestApp) {
    eventually("the call has ended", || async {
        let calls: Value = app.get("/v1/calls").await.json().await.expect("JSON");
        calls["active"].as_array().is_some_and(|a| a.is_empty())
    })
    .await;
}

#[tokio::test]
async fn an_agent_transfers_its_caller_blind_to_an_external_number() {
    let app = app(true).await;
    let caller = app.sim.place_call(CallSpec::new("4930301", ENTRY));
    let (call, agent, a_leg) = connected(&app, &caller).await;
    let other = if agent == "1001" { "1002" } else { "1001" };
    let own = token(&app, "own", &agent).await;
    let stranger = token(&app, "stranger", other).await;
    let transfer = format!("/v1/calls/{call}/transfer");

    let to = |n: &str| json!({ "to": "number", "number": n });
    assert_eq!(post(&app, &stranger, &transfer, to(ANSWERING)).await, 403);
    for bad in [
        "",
        "55",
        "555 1234",
        "5551234@evil",
        "555}&park()",
        "4930555",
    ] {
        assert_eq!(post(&app, &own, &transfer, to(bad)).await, 400, "{bad:?}");
    }
    assert_eq!(post(&app, &own, &transfer, to(ANSWERING)).await, 202);
    eventually("the caller talks to the external party", || async {
        let partner = app.sim.channel(&caller).and_then(|c| c.bridged_to);
        partner.is_some_and(|p| p != a_leg) && app.sim.channel(&a_leg).is_none()
    })
    .await;
    eventually("the agent's part has ended", || async {
        let (events, _) = history(&app, &call).await;
        events.iter().any(|(k, _)| k == "transfer")
    })
    .await;
    // Still the same call, out of the agents' hands, until the caller leaves.
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
    no_calls(&app).await;
    eventually("the call ended as transferred", || async {
        history(&app, &call).await.1.as_deref() == Some("transferred")
    })
    .await;
    let (events, _) = history(&app, &call).await;
    let transfer = &events.last().expect("a transfer").1;
    assert!(
        transfer.starts_with(&format!(
            "kind=blind from={agent} to=number:{ANSWERING} by=token:own"
        )),
        "{events:?}"
    );
    let audit: Value = app.get("/v1/audit").await.json().await.expect("JSON");
    assert!(audit
        .to_string()
        .contains(&format!("/v1/calls/{call}/transfer")));
}

#[tokio::test]
async fn a_consult_with_an_external_number_is_shown_then_completed() {
    let app = app(true).await;
    let caller = app.sim.place_call(CallSpec::new("4930302", ENTRY));
    let (call, agent, a_leg) = connected(&app, &caller).await;
    let own = token(&app, "own", &agent).await;
    let consult = format!("/v1/calls/{call}/consult");

    assert_eq!(
        post(
            &app,
            &own,
            &consult,
            json!({ "agent": "1002", "number": ANSWERING })
        )
        .await,
        400
    );
    assert_eq!(post(&app, &own, &consult, json!({})).await, 400);
    assert_eq!(
        post(&app, &own, &consult, json!({ "number": "12" })).await,
        400
    );
    // (Not wider: the first agent's talk is measured from its re-bridge on the switch.)
    app.sim.set_originate_return(Duration::from_millis(500));
    assert_eq!(
        post(&app, &own, &consult, json!({ "number": ANSWERING })).await,
        202
    );
    eventually("the agent talks to the external party", || async {
        let view: Value = app
            .get(&format!("/v1/calls/{call}"))
            .await
            .json()
            .await
            .expect("JSON");
        view["consult"]["phase"] == "talking" && view["consult"]["number"] == ANSWERING
    })
    .await;
    let view: Value = app
        .get(&format!("/v1/calls/{call}"))
        .await
        .json()
        .await
        .expect("JSON");
    let k = view["consult"]["channel"]
        .as_str()
        .expect("a leg")
        .to_owned();
    // Completed at once, while the switch is still bridging the agent to the number (its
    // originate returns half a second after the answer here): the controller sends the completion
    // once the originate has returned (issue 17).
    assert_eq!(
        post(&app, &own, &format!("{consult}/complete"), json!({})).await,
        202
    );
    assert_ne!(
        app.sim.channel(&a_leg).and_then(|c| c.bridged_to),
        Some(k.clone()),
        "the completion was not sent inside the window"
    );
    eventually("the caller talks to the external party", || async {
        app.sim
            .channel(&caller)
            .and_then(|c| c.bridged_to)
            .is_some_and(|p| p != a_leg)
            && app.sim.channel(&a_leg).is_none()
    })
    .await;
    // The external party hangs up: the caller goes with it and the call ends once.
    let external = app
        .sim
        .channel(&caller)
        .and_then(|c| c.bridged_to)
        .expect("bridged");
    assert!(app.sim.hangup(&external, "NORMAL_CLEARING"));
    no_calls(&app).await;
    eventually("the call ended as transferred", || async {
        history(&app, &call).await.1.as_deref() == Some("transferred")
    })
    .await;
    let (events, _) = history(&app, &call).await;
    assert!(
        events.iter().any(|(k, d)| k == "transfer"
            && d.starts_with(&format!(
                "kind=attended from={agent} to=number:{ANSWERING} by=token:own"
            ))),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_busy_number_leaves_the_caller_with_its_agent() {
    let app = app(true).await;
    let caller = app.sim.place_call(CallSpec::new("4930303", ENTRY));
    let (call, _agent, a_leg) = connected(&app, &caller).await;
    let transfer = format!("/v1/calls/{call}/transfer");
    let body = json!({ "to": "number", "number": BUSY });
    assert_eq!(post(&app, &app.http, &transfer, body).await, 202);
    eventually("the busy number is given up", || async {
        let (events, _) = history(&app, &call).await;
        events
            .iter()
            .any(|(_, d)| d.starts_with("step=ended") && d.contains("USER_BUSY"))
    })
    .await;
    assert_eq!(
        app.sim.channel(&caller).and_then(|c| c.bridged_to),
        Some(a_leg)
    );
    let calls: Value = app.get("/v1/calls").await.json().await.expect("JSON");
    assert_eq!(calls["active"][0]["state"], "bridged");
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
    no_calls(&app).await;
}

#[tokio::test]
async fn without_a_template_external_numbers_are_refused_with_409() {
    let app = app(false).await;
    let caller = app.sim.place_call(CallSpec::new("4930304", ENTRY));
    let (call, _agent, _leg) = connected(&app, &caller).await;
    let transfer = json!({ "to": "number", "number": ANSWERING });
    assert_eq!(
        post(
            &app,
            &app.http,
            &format!("/v1/calls/{call}/transfer"),
            transfer
        )
        .await,
        409
    );
    let consult = json!({ "number": ANSWERING });
    assert_eq!(
        post(
            &app,
            &app.http,
            &format!("/v1/calls/{call}/consult"),
            consult
        )
        .await,
        409
    );
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
    no_calls(&app).await;
}
