//! Who may do what, end to end: bearer tokens of each role against the real controller's
//! routes, tokens made and removed over REST and in the provisioning file, the bootstrap token
//! of a fresh install, and the audit log.

use std::time::Duration;

use serde_json::{json, Value};
use switchboard::app::{self, AuthOptions, StartOptions};
use switchboard::config::{BearerToken, Role};
use switchboard::sim::{CallSpec, PhoneBehavior};

use crate::harness::{
    client_with, eventually, provisioned_token, spawn_app, Agent, TestApp, ENTRY,
};

/// A token made over REST by the harness's admin, and a client that sends it.
async fn token_for(app: &TestApp, name: &str, role: &str, agent: Option<&str>) -> reqwest::Client {
    let response = app
        .http
        .post(format!("{}/v1/tokens", app.base))
        .json(&json!({ "name": name, "role": role, "agent": agent }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 201, "creating token {name}");
    let body: Value = response.json().await.expect("JSON");
    client_with(body["token"].as_str().expect("the token is shown"))
}

async fn send(
    client: &reqwest::Client,
    app: &TestApp,
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

async fn status_of(
    client: &reqwest::Client,
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> u16 {
    send(client, app, method, path, body)
        .await
        .status()
        .as_u16()
}

async fn get_json(client: &reqwest::Client, app: &TestApp, path: &str) -> Value {
    let response = send(client, app, reqwest::Method::GET, path, None).await;
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.expect("JSON")
}

fn caller() -> CallSpec {
    CallSpec {
        caller_number: "+4930111222".into(),
        caller_name: "Erika".into(),
        destination: ENTRY.into(),
        patience: None,
        talk_time: None,
    }
}

fn agent_ids(body: &Value) -> Vec<String> {
    body["agents"]
        .as_array()
        .expect("agents")
        .iter()
        .map(|a| a["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn two_agents() -> TestApp {
    let app = spawn_app(
        vec![Agent::answering("1001"), Agent::answering("1002")],
        Duration::ZERO,
    )
    .await;
    app.connected().await;
    app
}

#[tokio::test]
async fn requests_without_a_token_or_with_an_unknown_one_get_401_with_a_bearer_challenge() {
    let app = two_agents().await;
    let anonymous = reqwest::Client::new();
    let response = send(&anonymous, &app, reqwest::Method::GET, "/v1/queues", None).await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer realm=\"switchboard\""
    );
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().await.expect("JSON");
    assert_eq!(problem["status"], 401);
    assert_eq!(problem["type"], "/problems/unauthorized");

    let unknown = client_with(BearerToken::generate().expose());
    let response = send(
        &unknown,
        &app,
        reqwest::Method::PUT,
        "/v1/agents/1001/state",
        Some(json!({"state": "logged_out"})),
    )
    .await;
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap_or_default()
        .to_owned();
    assert!(challenge.contains("invalid_token"), "{challenge}");
    let basic = reqwest::Client::new()
        .get(format!("{}/v1/agents", app.base))
        .basic_auth("admin", Some("secret"))
        .send()
        .await
        .expect("request");
    assert_eq!(basic.status(), 401);
    // The refused change did not happen.
    assert_eq!(
        app.running().snapshot().agents[0].status,
        switchboard::engine::AgentStatus::Available
    );

    // /healthz stays open; an unknown path needs a token before it is a 404.
    assert_eq!(
        status_of(&anonymous, &app, reqwest::Method::GET, "/healthz", None).await,
        200
    );
    assert_eq!(
        status_of(&anonymous, &app, reqwest::Method::GET, "/v1/nope", None).await,
        401
    );
    assert_eq!(
        status_of(&app.http, &app, reqwest::Method::GET, "/v1/nope", None).await,
        404
    );
}

#[tokio::test]
async fn metrics_and_queues_take_any_valid_token() {
    let app = two_agents().await;
    let agent = token_for(&app, "alice", "agent", Some("1001")).await;
    let anonymous = reqwest::Client::new();
    for path in ["/metrics", "/v1/queues", "/v1/pause-reasons"] {
        assert_eq!(
            status_of(&agent, &app, reqwest::Method::GET, path, None).await,
            200,
            "{path}"
        );
        assert_eq!(
            status_of(&anonymous, &app, reqwest::Method::GET, path, None).await,
            401,
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_supervisor_reads_and_acts_on_agents_but_provisions_nothing() {
    let app = two_agents().await;
    let sup = token_for(&app, "floor", "supervisor", None).await;
    use reqwest::Method as M;
    assert_eq!(
        agent_ids(&get_json(&sup, &app, "/v1/agents").await),
        ["1001", "1002"]
    );
    assert_eq!(
        status_of(&sup, &app, M::GET, "/v1/agents/1002/states", None).await,
        200
    );
    assert_eq!(status_of(&sup, &app, M::GET, "/v1/calls", None).await, 200);
    assert_eq!(status_of(&sup, &app, M::GET, "/v1/flows", None).await, 200);
    assert_eq!(
        status_of(
            &sup,
            &app,
            M::PUT,
            "/v1/agents/1002/state",
            Some(json!({"state": "logged_out"}))
        )
        .await,
        200
    );

    for (method, path, body) in [
        (
            M::PUT,
            "/v1/agents/1003",
            Some(json!({"name": "C", "dial_string": "user/1003"})),
        ),
        (M::DELETE, "/v1/agents/1002", None),
        (M::PUT, "/v1/pause-reasons/9", Some(json!({"name": "Nap"}))),
        (M::POST, "/v1/flows/reload", None),
        (M::GET, "/v1/tokens", None),
        (
            M::POST,
            "/v1/tokens",
            Some(json!({"name": "x", "role": "admin"})),
        ),
        (M::GET, "/v1/audit", None),
    ] {
        let response = send(&sup, &app, method.clone(), path, body).await;
        assert_eq!(response.status(), 403, "{method} {path}");
        let problem: Value = response.json().await.expect("JSON");
        assert_eq!(problem["type"], "/problems/forbidden");
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains("supervisor")),
            "{problem}"
        );
    }
    assert!(app
        .running()
        .snapshot()
        .agents
        .iter()
        .any(|a| a.id.as_str() == "1002"));
}

#[tokio::test]
async fn an_integration_reads_everything_and_changes_nothing() {
    let app = two_agents().await;
    let crm = token_for(&app, "crm", "integration", None).await;
    use reqwest::Method as M;
    assert_eq!(
        agent_ids(&get_json(&crm, &app, "/v1/agents").await),
        ["1001", "1002"]
    );
    for path in [
        "/v1/calls",
        "/v1/agents/1001",
        "/v1/agents/1001/provisioning",
        "/v1/flows",
    ] {
        assert_eq!(
            status_of(&crm, &app, M::GET, path, None).await,
            200,
            "{path}"
        );
    }
    app.sim.place_call(caller());
    eventually("the call is active", || async {
        !app.running().snapshot().calls.is_empty()
    })
    .await;
    let call = app.running().snapshot().calls[0].id;
    assert_eq!(
        status_of(&crm, &app, M::GET, &format!("/v1/calls/{call}"), None).await,
        200
    );
    assert_eq!(
        status_of(
            &crm,
            &app,
            M::PATCH,
            &format!("/v1/calls/{call}"),
            Some(json!({"priority": 5}))
        )
        .await,
        403
    );
    assert_eq!(
        status_of(
            &crm,
            &app,
            M::PUT,
            "/v1/agents/1001/state",
            Some(json!({"state": "logged_out"}))
        )
        .await,
        403
    );
    assert_eq!(
        status_of(&crm, &app, M::DELETE, "/v1/tokens/crm", None).await,
        403
    );
}

#[tokio::test]
async fn an_agent_reads_and_changes_only_its_own_agent() {
    let app = two_agents().await;
    let alice = token_for(&app, "alice", "agent", Some("1001")).await;
    use reqwest::Method as M;
    assert_eq!(
        agent_ids(&get_json(&alice, &app, "/v1/agents").await),
        ["1001"]
    );
    assert_eq!(
        get_json(&alice, &app, "/v1/agents/1001").await["id"],
        "1001"
    );
    for path in ["/v1/agents/1001/states", "/v1/agents/1001/provisioning"] {
        assert_eq!(
            status_of(&alice, &app, M::GET, path, None).await,
            200,
            "{path}"
        );
    }
    for path in [
        "/v1/agents/1002",
        "/v1/agents/1002/states",
        "/v1/agents/1002/provisioning",
    ] {
        let response = send(&alice, &app, M::GET, path, None).await;
        assert_eq!(response.status(), 403, "{path}");
        let problem: Value = response.json().await.expect("JSON");
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains("1001")),
            "{problem}"
        );
    }
    assert_eq!(
        status_of(
            &alice,
            &app,
            M::PUT,
            "/v1/agents/1002/state",
            Some(json!({"state": "logged_out"}))
        )
        .await,
        403
    );
    assert_eq!(
        status_of(
            &alice,
            &app,
            M::PUT,
            "/v1/agents/1001/state",
            Some(json!({"state": "paused", "reason": "lunch"}))
        )
        .await,
        200
    );
    eventually("1001 is paused", || async {
        app.running()
            .snapshot()
            .agents
            .iter()
            .any(|a| a.id.as_str() == "1001" && a.status.as_str() == "paused")
    })
    .await;
    let statuses: Vec<(String, String)> = app
        .running()
        .snapshot()
        .agents
        .iter()
        .map(|a| (a.id.as_str().to_owned(), a.status.as_str().to_owned()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("1001".into(), "paused".into()),
            ("1002".into(), "available".into())
        ]
    );
    for (method, path) in [
        (M::PUT, "/v1/agents/1001"),
        (M::DELETE, "/v1/agents/1001"),
        (M::GET, "/v1/flows"),
        (M::GET, "/v1/tokens"),
    ] {
        assert_eq!(
            status_of(&alice, &app, method.clone(), path, Some(json!({}))).await,
            403,
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn an_agent_sees_the_call_its_phone_rings_for_and_no_other_agents() {
    let app = spawn_app(
        vec![
            Agent::answering("1001").with(PhoneBehavior::NoAnswer),
            Agent::answering("1002").logged_out(),
        ],
        Duration::ZERO,
    )
    .await;
    app.connected().await;
    let alice = token_for(&app, "alice", "agent", Some("1001")).await;
    let bob = token_for(&app, "bob", "agent", Some("1002")).await;
    app.sim.place_call(caller());
    eventually("1001's phone rings", || async {
        app.running()
            .snapshot()
            .calls
            .iter()
            .any(|c| c.ringing.iter().any(|a| a.as_str() == "1001"))
    })
    .await;
    let call = app.running().snapshot().calls[0].id;
    let mine = get_json(&alice, &app, "/v1/calls").await;
    assert_eq!(mine["active"][0]["id"], call.to_string());
    assert_eq!(
        status_of(
            &alice,
            &app,
            reqwest::Method::GET,
            &format!("/v1/calls/{call}"),
            None
        )
        .await,
        200
    );
    let theirs = get_json(&bob, &app, "/v1/calls").await;
    assert_eq!(theirs["active"], json!([]));
    assert_eq!(theirs["recent"], json!([]));
    assert_eq!(
        status_of(
            &bob,
            &app,
            reqwest::Method::GET,
            &format!("/v1/calls/{call}"),
            None
        )
        .await,
        403
    );
    // Acting on the call is a supervisor's.
    assert_eq!(
        status_of(
            &alice,
            &app,
            reqwest::Method::PATCH,
            &format!("/v1/calls/{call}"),
            Some(json!({"priority": 9}))
        )
        .await,
        403
    );
}

#[tokio::test]
async fn an_agent_lists_the_calls_it_answered_and_reads_no_one_elses() {
    let app = two_agents().await;
    let alice = token_for(&app, "alice", "agent", Some("1001")).await;
    let bob = token_for(&app, "bob", "agent", Some("1002")).await;
    app.set_agent_state("1002", "logged_out").await;
    app.sim.place_call(caller());
    let store = app.running().store.clone();
    eventually("1001's answer is on record", || {
        let store = store.clone();
        async move {
            store.recent_calls(1).await.is_ok_and(|calls| {
                calls
                    .first()
                    .is_some_and(|c| c.agent.as_ref().map(|a| a.as_str()) == Some("1001"))
            })
        }
    })
    .await;
    let call = store.recent_calls(1).await.expect("calls")[0].id;
    let mine = get_json(&alice, &app, "/v1/calls").await;
    assert_eq!(mine["recent"][0]["id"], call.to_string());
    assert_eq!(mine["recent"].as_array().map(Vec::len), Some(1));
    let theirs = get_json(&bob, &app, "/v1/calls").await;
    assert_eq!(theirs["recent"], json!([]));
    assert_eq!(theirs["active"], json!([]));
    let path = format!("/v1/calls/{call}");
    assert_eq!(get_json(&alice, &app, &path).await["call"]["agent"], "1001");
    assert_eq!(
        status_of(&bob, &app, reqwest::Method::GET, &path, None).await,
        403
    );
    // An unknown call is not told apart from someone else's.
    let unknown = format!("/v1/calls/{}", uuid::Uuid::new_v4());
    assert_eq!(
        status_of(&bob, &app, reqwest::Method::GET, &unknown, None).await,
        403
    );
    assert_eq!(
        status_of(&app.http, &app, reqwest::Method::GET, &unknown, None).await,
        404
    );
}

#[tokio::test]
async fn tokens_are_made_listed_and_removed_over_rest_and_outlive_a_restart() {
    let mut app = two_agents().await;
    use reqwest::Method as M;
    let response = send(
        &app.http,
        &app,
        M::POST,
        "/v1/tokens",
        Some(json!({"name": "floor", "role": "supervisor"})),
    )
    .await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let made: Value = response.json().await.expect("JSON");
    assert_eq!(made["name"], "floor");
    assert_eq!(made["role"], "supervisor");
    let token = made["token"].as_str().expect("token").to_owned();
    assert!(BearerToken::parse(&token).is_ok(), "{token}");
    let floor = client_with(&token);
    assert_eq!(
        status_of(&floor, &app, M::GET, "/v1/agents", None).await,
        200
    );

    let listed = get_json(&app.http, &app, "/v1/tokens").await;
    let names: Vec<(&str, &str)> = listed["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap_or_default(),
                t["role"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(names, [("floor", "supervisor"), ("test-admin", "admin")]);
    let text = listed.to_string();
    let digest = BearerToken::parse(&token).expect("token").hash().to_hex();
    assert!(!text.contains(&token) && !text.contains(&digest), "{text}");
    assert!(listed["tokens"][0].get("sha256").is_none());

    // Refused: a taken name, an agent token without its agent, an agent nobody provisioned,
    // an unknown role.
    for (body, status, field) in [
        (json!({"name": "floor", "role": "admin"}), 409, None),
        (json!({"name": "a", "role": "agent"}), 422, Some("agent")),
        (
            json!({"name": "a", "role": "agent", "agent": "4711"}),
            422,
            Some("agent"),
        ),
        (
            json!({"name": "a", "role": "supervisor", "agent": "1001"}),
            422,
            Some("agent"),
        ),
        (json!({"name": "a", "role": "root"}), 422, Some("role")),
        (json!({"name": "a b", "role": "admin"}), 422, Some("name")),
        (
            json!({"name": "a", "role": "admin", "token": "sb_mine"}),
            400,
            None,
        ),
    ] {
        let response = send(&app.http, &app, M::POST, "/v1/tokens", Some(body.clone())).await;
        assert_eq!(response.status().as_u16(), status, "{body}");
        let problem: Value = response.json().await.expect("JSON");
        if let Some(field) = field {
            assert_eq!(problem["field"], field, "{body}");
        }
    }

    // A token made over REST is stored: it works after a restart.
    app.stop_controller().await;
    app.start_controller(
        &[Agent::answering("1001"), Agent::answering("1002")],
        Duration::ZERO,
    )
    .await;
    assert_eq!(
        status_of(&floor, &app, M::GET, "/v1/agents", None).await,
        200
    );

    assert_eq!(
        status_of(&app.http, &app, M::DELETE, "/v1/tokens/floor", None).await,
        204
    );
    assert_eq!(
        status_of(&floor, &app, M::GET, "/v1/agents", None).await,
        401
    );
    assert_eq!(
        status_of(&app.http, &app, M::DELETE, "/v1/tokens/floor", None).await,
        404
    );
    // The last admin token stays, so the API cannot lock its admins out.
    let response = send(&app.http, &app, M::DELETE, "/v1/tokens/test-admin", None).await;
    assert_eq!(response.status(), 409);
    assert_eq!(
        status_of(&app.http, &app, M::GET, "/v1/tokens", None).await,
        200
    );
}

#[tokio::test]
async fn tokens_of_the_provisioning_file_work_and_the_file_wins_for_their_names() {
    let mut app = two_agents().await;
    let token = BearerToken::generate();
    // Over REST, "crm" is made a supervisor; the file says it is an integration.
    let _ = token_for(&app, "crm", "supervisor", None).await;
    app.tokens = vec![provisioned_token("crm", Role::Integration, None, &token)];
    app.stop_controller().await;
    app.start_controller(
        &[Agent::answering("1001"), Agent::answering("1002")],
        Duration::ZERO,
    )
    .await;
    let crm = client_with(token.expose());
    assert_eq!(
        status_of(&crm, &app, reqwest::Method::GET, "/v1/calls", None).await,
        200
    );
    assert_eq!(
        status_of(
            &crm,
            &app,
            reqwest::Method::PUT,
            "/v1/agents/1001/state",
            Some(json!({"state": "logged_out"}))
        )
        .await,
        403
    );
    let listed = get_json(&app.http, &app, "/v1/tokens").await;
    assert_eq!(listed["tokens"][0]["name"], "crm");
    assert_eq!(listed["tokens"][0]["role"], "integration");
}

async fn bare_start(db: &std::path::Path, auth: AuthOptions) -> app::Running {
    app::start(StartOptions {
        http: tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind"),
        database_url: format!("sqlite://{}", db.join("t.db").display()),
        asterisk: Vec::new(),
        switches: Vec::new(),
        queues: Vec::new(),
        agents: Vec::new(),
        busy_backoff: Duration::from_secs(1),
        log_in: Vec::new(),
        seed: 1,
        presence_domain: None,
        pause_reasons: Vec::new(),
        hot_desk_moves: true,
        phone_prompts: Default::default(),
        hot_desk_extension: None,
        flows: None,
        auth,
        webhooks: Vec::new(),
        allow_private_webhook_targets: false,
        evaluation_forms: Vec::new(),
        purge_every: None,
        http_limits: Default::default(),
        reach: Vec::new(),
        routing_defaults: Default::default(),
        external_dial: None,
        stats: Default::default(),
    })
    .await
    .expect("start")
}

#[tokio::test]
async fn a_fresh_install_makes_one_bootstrap_admin_token_and_is_never_open() {
    let db = tempfile::tempdir().expect("tempdir");
    let running = bare_start(db.path(), AuthOptions::default()).await;
    let base = format!("http://{}", running.http_addr);
    let token = running.bootstrap_token.clone().expect("a bootstrap token");
    assert_eq!(format!("{token:?}"), "BearerToken(..)");
    let anonymous = reqwest::Client::new();
    let open = anonymous
        .get(format!("{base}/v1/agents"))
        .send()
        .await
        .expect("request");
    assert_eq!(open.status(), 401);
    let admin = client_with(token.expose());
    let listed: Value = admin
        .get(format!("{base}/v1/tokens"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
    assert_eq!(listed["tokens"][0]["name"], "bootstrap");
    assert_eq!(listed["tokens"][0]["role"], "admin");
    running.stop().await.expect("stop");

    // The next start finds an admin token: none is made, the first still works.
    let running = bare_start(db.path(), AuthOptions::default()).await;
    assert!(running.bootstrap_token.is_none());
    let base = format!("http://{}", running.http_addr);
    let again = admin
        .get(format!("{base}/v1/tokens"))
        .send()
        .await
        .expect("request");
    assert_eq!(again.status(), 200);
    running.stop().await.expect("stop");
}

#[tokio::test]
async fn a_file_with_no_admin_token_still_gets_a_bootstrap_one() {
    let db = tempfile::tempdir().expect("tempdir");
    let crm = BearerToken::generate();
    let running = bare_start(
        db.path(),
        AuthOptions {
            enabled: true,
            tokens: vec![provisioned_token(
                "bootstrap",
                Role::Integration,
                None,
                &crm,
            )],
        },
    )
    .await;
    let token = running.bootstrap_token.clone().expect("a bootstrap token");
    let base = format!("http://{}", running.http_addr);
    let listed: Value = client_with(token.expose())
        .get(format!("{base}/v1/tokens"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
    // The name is taken by the file's token: the admin token gets the next one.
    assert_eq!(
        listed["tokens"],
        json!([
            {"name": "bootstrap", "role": "integration", "agent": null, "created_at": listed["tokens"][0]["created_at"]},
            {"name": "bootstrap-1", "role": "admin", "agent": null, "created_at": listed["tokens"][1]["created_at"]},
        ])
    );
    running.stop().await.expect("stop");
}

#[tokio::test]
async fn with_auth_off_anyone_may_do_anything_and_is_audited_as_such() {
    let db = tempfile::tempdir().expect("tempdir");
    let running = bare_start(
        db.path(),
        AuthOptions {
            enabled: false,
            tokens: Vec::new(),
        },
    )
    .await;
    assert!(running.bootstrap_token.is_none());
    let base = format!("http://{}", running.http_addr);
    let anonymous = reqwest::Client::new();
    let made = anonymous
        .put(format!("{base}/v1/pause-reasons/1"))
        .json(&json!({"name": "Lunch"}))
        .send()
        .await
        .expect("request");
    assert_eq!(made.status(), 201);
    let audit: Value = anonymous
        .get(format!("{base}/v1/audit"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
    assert_eq!(audit["entries"][0]["token"], "(auth off)");
    assert_eq!(audit["entries"][0]["path"], "/v1/pause-reasons/1");
    running.stop().await.expect("stop");
}

#[tokio::test]
async fn state_changing_requests_are_audited_after_they_complete_without_their_bodies() {
    let app = two_agents().await;
    let sup = token_for(&app, "floor", "supervisor", None).await;
    use reqwest::Method as M;
    let started = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis(),
    )
    .expect("millis");
    let admin_put = send(
        &app.http,
        &app,
        M::PUT,
        "/v1/agents/1003",
        Some(json!({"name": "Carla", "dial_string": "user/1003", "pin": "4711"})),
    )
    .await;
    assert_eq!(admin_put.status(), 201);
    assert_eq!(
        status_of(
            &sup,
            &app,
            M::PUT,
            "/v1/agents/1002/state",
            Some(json!({"state": "logged_out"}))
        )
        .await,
        200
    );
    // A change the engine refuses is audited with its status; a refused token, a read and an
    // unauthenticated request are not.
    assert_eq!(
        status_of(
            &sup,
            &app,
            M::PUT,
            "/v1/agents/9999/state",
            Some(json!({"state": "available"}))
        )
        .await,
        404
    );
    assert_eq!(
        status_of(&sup, &app, M::DELETE, "/v1/agents/1003", None).await,
        403
    );
    assert_eq!(status_of(&sup, &app, M::GET, "/v1/agents", None).await, 200);
    assert_eq!(
        status_of(
            &reqwest::Client::new(),
            &app,
            M::PUT,
            "/v1/agents/1001/state",
            Some(json!({"state": "logged_out"}))
        )
        .await,
        401
    );

    let audit = get_json(&app.http, &app, "/v1/audit").await;
    let entries: Vec<(String, String, String, String, u64)> = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["token"].as_str().unwrap_or_default().to_owned(),
                e["role"].as_str().unwrap_or_default().to_owned(),
                e["method"].as_str().unwrap_or_default().to_owned(),
                e["path"].as_str().unwrap_or_default().to_owned(),
                e["status"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    let row = |t: &str, r: &str, m: &str, p: &str, s: u64| {
        (t.to_owned(), r.to_owned(), m.to_owned(), p.to_owned(), s)
    };
    assert_eq!(
        entries,
        [
            row("floor", "supervisor", "PUT", "/v1/agents/9999/state", 404),
            row("floor", "supervisor", "PUT", "/v1/agents/1002/state", 200),
            row("test-admin", "admin", "PUT", "/v1/agents/1003", 201),
            row("test-admin", "admin", "POST", "/v1/tokens", 201),
        ]
    );
    assert!(audit["entries"][0]["at"].as_i64().expect("at") >= started);
    assert!(!audit.to_string().contains("4711"), "{audit}");
    let limited = get_json(&app.http, &app, "/v1/audit?limit=1").await;
    assert_eq!(limited["entries"].as_array().map(Vec::len), Some(1));
    let later = get_json(&app.http, &app, "/v1/audit?since=99999999999999").await;
    assert_eq!(later["entries"], json!([]));
    assert_eq!(
        status_of(&app.http, &app, M::GET, "/v1/audit?since=yesterday", None).await,
        400
    );
}
