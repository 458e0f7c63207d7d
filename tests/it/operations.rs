//! What operators' tools read, end to end: `/metrics` parsed as Prometheus text while calls
//! wait and connect, `/readyz` as the switch and the database go away and come back, and the
//! staffing calculator over REST.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use crate::faults::{bridged, caller, nothing_lost};
use crate::faults_store::{through, upstream_of, Proxy};
use crate::harness::{client_with, eventually, spawn_app, Agent, TestApp};
use crate::store::TestDb;

/// The samples of a text exposition: `name{labels}` → value. Checks each line's shape on the
/// way: comments are `# HELP`/`# TYPE`, samples are a series and a number.
fn parse(text: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(comment) = line.strip_prefix("# ") {
            assert!(
                comment.starts_with("HELP ") || comment.starts_with("TYPE "),
                "{line}"
            );
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a sample is `series value`");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("not a number: {line}")),
        };
        if let Some((name, labels)) = series.split_once('{') {
            assert!(labels.ends_with('}'), "{line}");
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        }
        assert!(
            samples.insert(series.to_owned(), value).is_none(),
            "{series} twice"
        );
    }
    samples
}

async fn scrape(app: &TestApp) -> BTreeMap<String, f64> {
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    parse(&response.text().await.expect("text"))
}

fn sample(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    *samples
        .get(series)
        .unwrap_or_else(|| panic!("no {series} in the scrape"))
}

async fn ready(app: &TestApp) -> (u16, Value) {
    let response = reqwest::get(format!("{}/readyz", app.base))
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

#[tokio::test]
async fn metrics_follow_a_call_from_waiting_to_connected_with_links_requests_and_the_outbox() {
    let mut app = spawn_app(vec![Agent::answering("1001").logged_out()], Duration::ZERO).await;
    app.connected().await;
    // A receiver that is not there: the delivery stays pending, retrying.
    let subscribed = app
        .put_json(
            "/v1/webhooks/crm",
            json!({ "url": "http://127.0.0.1:9/hook", "events": ["call.entered"] }),
        )
        .await;
    assert!(subscribed.status().is_success(), "{}", subscribed.status());

    let waiting = app.sim.place_call(caller("+4930100001"));
    eventually("the call waits", || async {
        app.running().snapshot().queues[0].waiting == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let samples = scrape(&app).await;
    assert_eq!(
        sample(&samples, "switchboard_queue_waiting{queue=\"support\"}"),
        1.0
    );
    assert!(
        sample(
            &samples,
            "switchboard_queue_longest_wait_seconds{queue=\"support\"}"
        ) >= 0.2
    );
    assert_eq!(
        sample(
            &samples,
            "switchboard_queue_agents{queue=\"support\",state=\"logged_out\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(&samples, "switchboard_agents{state=\"available\"}"),
        0.0
    );
    assert_eq!(
        sample(&samples, "switchboard_esl_link_up{switch=\"sim\"}"),
        1.0
    );
    assert_eq!(sample(&samples, "switchboard_database_up"), 1.0);

    eventually("the queued event's delivery is pending", || async {
        let samples = scrape(&app).await;
        sample(&samples, "switchboard_outbox_pending") >= 1.0
            && sample(&samples, "switchboard_outbox_oldest_pending_age_seconds") > 0.0
    })
    .await;

    assert_eq!(app.set_agent_state("1001", "available").await.status(), 200);
    bridged(&app, &waiting).await;
    eventually("the agent is on the call", || async {
        let samples = scrape(&app).await;
        sample(
            &samples,
            "switchboard_queue_agents{queue=\"support\",state=\"on_call\"}",
        ) == 1.0
            && sample(&samples, "switchboard_queue_waiting{queue=\"support\"}") == 0.0
            && sample(
                &samples,
                "switchboard_queue_longest_wait_seconds{queue=\"support\"}",
            ) == 0.0
    })
    .await;

    // Requests are counted by their route's template, never by the raw path.
    assert_eq!(app.get("/v1/agents/nobody").await.status(), 404);
    assert_eq!(app.get("/v1/agents/nobody-else").await.status(), 404);
    assert_eq!(app.get("/no/such/path").await.status(), 404);
    let samples = scrape(&app).await;
    assert_eq!(
        sample(
            &samples,
            "switchboard_http_requests_total{method=\"GET\",route=\"/v1/agents/{id}\",status=\"404\"}"
        ),
        2.0
    );
    assert_eq!(
        sample(
            &samples,
            "switchboard_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"}"
        ),
        1.0
    );
    assert!(
        sample(
            &samples,
            "switchboard_http_requests_total{method=\"PUT\",route=\"/v1/agents/{id}/state\",status=\"200\"}"
        ) >= 1.0
    );
    assert!(!samples.keys().any(|k| k.contains("nobody")));

    app.sim.hangup(&waiting, "NORMAL_CLEARING");
    nothing_lost(&app, &[waiting]).await;
    app.stop_controller().await;
}

#[tokio::test]
async fn readyz_fails_naming_the_switch_while_its_link_is_down_and_recovers() {
    let mut app = spawn_app(vec![Agent::answering("1001")], Duration::ZERO).await;
    app.connected().await;
    eventually("ready with the switch up", || async {
        ready(&app).await.0 == 200
    })
    .await;
    let (_, body) = ready(&app).await;
    assert_eq!(body["database"], "up");
    assert_eq!(body["switches"]["sim"], "up");

    app.sim.shutdown().await;
    eventually("not ready once the switch is gone", || async {
        ready(&app).await.0 == 503
    })
    .await;
    let response = reqwest::get(format!("{}/readyz", app.base))
        .await
        .expect("request");
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["type"], "/problems/not-ready");
    assert_eq!(body["switches"]["sim"], "down");
    assert_eq!(body["database"], "up");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("no switch is connected (sim down)")),
        "{body}"
    );
    // Liveness is not readiness.
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(
        sample(
            &scrape(&app).await,
            "switchboard_esl_link_up{switch=\"sim\"}"
        ),
        0.0
    );

    app.sim.restart().await.expect("restart the switch");
    eventually("ready again once the switch is back", || async {
        ready(&app).await.0 == 200
    })
    .await;
    app.stop_controller().await;
}

#[tokio::test]
async fn readyz_fails_while_the_sqlite_database_cannot_be_used() {
    let mut app = spawn_app(vec![Agent::answering("1001")], Duration::ZERO).await;
    app.connected().await;
    eventually("ready", || async { ready(&app).await.0 == 200 }).await;
    // The pool every part of the controller shares, closed under it.
    app.running().store.close().await;
    let (status, body) = ready(&app).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["database"], "down");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("the database does not answer")),
        "{body}"
    );
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(sample(&scrape(&app).await, "switchboard_database_up"), 0.0);
    app.stop_controller().await;
}

#[tokio::test]
async fn readyz_fails_while_postgresql_is_cut_off_and_recovers() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let proxy = Proxy::start(upstream_of(&db.url)).await;
    let agents = || vec![Agent::answering("1001")];
    let mut app = spawn_app(agents(), Duration::ZERO).await;
    app.stop_controller().await;
    app.database_url = through(&db.url, proxy.addr);
    app.start_controller(&agents(), Duration::ZERO).await;
    app.connected().await;
    eventually("ready", || async { ready(&app).await.0 == 200 }).await;
    // The outbox's backlog is read from PostgreSQL as well.
    let samples = scrape(&app).await;
    assert_eq!(sample(&samples, "switchboard_database_up"), 1.0);
    assert_eq!(sample(&samples, "switchboard_outbox_pending"), 0.0);

    proxy.cut_now(Duration::from_secs(4));
    let (status, body) = ready(&app).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["database"], "down");
    assert_eq!(body["switches"]["sim"], "up");
    eventually("ready once the database is back", || async {
        ready(&app).await.0 == 200
    })
    .await;
    app.stop_controller().await;
    app.database_url = db.url.clone();
    drop(app);
    drop(proxy);
    drop(db);
}

#[tokio::test]
async fn the_staffing_calculator_plans_the_worked_example_and_refuses_bad_values() {
    let app = spawn_app(vec![Agent::answering("1001")], Duration::ZERO).await;
    let base = "/v1/staffing?offered=100&interval=1800&aht=180&percent=80&within=20";
    let response = app.get(base).await;
    assert_eq!(response.status(), 200);
    let plan: Value = response.json().await.expect("JSON");
    assert_eq!(plan["model"], "erlang_c");
    assert_eq!(plan["agents"], 14);
    assert_eq!(plan["meets_target"], true);
    assert!((plan["traffic_erlangs"].as_f64().expect("number") - 10.0).abs() < 1e-9);
    assert!((plan["service_level"].as_f64().expect("number") - 0.8884).abs() < 1e-4);

    let patient: Value = app
        .get(&format!("{base}&patience=60"))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(patient["model"], "erlang_a");
    assert!(
        patient["agents"].as_u64().expect("agents") < 14,
        "{patient}"
    );
    assert!(patient["abandon_rate"].as_f64().expect("rate") > 0.0);

    let thirteen: Value = app
        .get(&format!("{base}&agents=13"))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(thirteen["agents"], 13);
    assert_eq!(thirteen["meets_target"], false);

    for bad in [
        "/v1/staffing?offered=100&interval=1800&aht=180&percent=100&within=20",
        "/v1/staffing?offered=100&interval=1800&aht=0&percent=80&within=20",
        "/v1/staffing?offered=100&interval=0&aht=180&percent=80&within=20",
        "/v1/staffing?offered=100&interval=1800&aht=180&percent=80&within=-1",
        "/v1/staffing?offered=100&interval=1800&aht=180&percent=80&within=20&patience=0",
        "/v1/staffing?offered=100&interval=1800&aht=180&percent=80&within=20&max_occupancy=120",
        "/v1/staffing?offered=100&interval=1800&aht=180&percent=80&within=20&agents=5",
        "/v1/staffing?offered=-3&interval=1800&aht=180&percent=80&within=20",
        "/v1/staffing?interval=1800&aht=180&percent=80&within=20",
        "/v1/staffing?offered=100&interval=1800&aht=180&percent=80&within=20&colour=red",
    ] {
        let response = app.get(bad).await;
        assert_eq!(response.status(), 400, "{bad}");
        let problem: Value = response.json().await.expect("JSON");
        assert_eq!(problem["type"], "/problems/bad-request", "{bad}");
        assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }

    // Supervisors plan; an agent's token may not.
    let token = app
        .http
        .post(format!("{}/v1/tokens", app.base))
        .json(&json!({ "name": "desk", "role": "agent", "agent": "1001" }))
        .send()
        .await
        .expect("request");
    assert_eq!(token.status(), 201);
    let token: Value = token.json().await.expect("JSON");
    let agent = client_with(token["token"].as_str().expect("token"));
    let refused = agent
        .get(format!("{}{base}", app.base))
        .send()
        .await
        .expect("request");
    assert_eq!(refused.status(), 403);
}
