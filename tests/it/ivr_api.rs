//! IVR flows over REST against the running controller: listing, one flow as JSON, drawings,
//! reloads (a broken edit refused, the previous set serving on), a call's IVR session, a flow's
//! sessions and where callers leave it, and a controller that refuses to start on flows that
//! fail a check.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use switchboard::app::{self, AppError, StartOptions};
use switchboard::engine::record::FlowOutcome;
use switchboard::engine::{CallId, ChannelId, FlowId, Record, SwitchName, Timestamp};

use crate::harness::{spawn_app, Agent, TestApp};

const WELCOME: &str = r#"
name = "Welcome line"
start = "menu"
entry_points = ["5000", "welcome"]

[node.menu]
kind = "menu"
prompt = "ivr/ivr-generic_greeting.wav"
timeout = "5s"
on_invalid = "support"
on_no_input = "support"
[node.menu.options]
1 = "support"
9 = "closed"

[node.support]
kind = "enqueue"
queue = "support"

[node.closed]
kind = "goto"
flow = "bye"
"#;

const BYE: &str = r#"
name = "Goodbye"
start = "bye"

[node.bye]
kind = "hangup"
cause = "NORMAL_CLEARING"
"#;

fn write_flows(dir: &Path, files: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).expect("flows dir");
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("write flow");
    }
}

/// A controller serving the two flows above, with the `support` queue provisioned.
async fn app_with_flows() -> (TestApp, tempfile::TempDir) {
    let flows = tempfile::tempdir().expect("tempdir");
    write_flows(
        flows.path(),
        &[("welcome.toml", WELCOME), ("bye.toml", BYE)],
    );
    let mut app = spawn_app(vec![Agent::answering("1001")], Duration::ZERO).await;
    app.stop_controller().await;
    app.flows = Some(flows.path().to_path_buf());
    app.start_controller(&[Agent::answering("1001")], Duration::ZERO)
        .await;
    (app, flows)
}

async fn json(response: reqwest::Response) -> Value {
    response.json().await.expect("json body")
}

async fn post(app: &TestApp, path: &str) -> reqwest::Response {
    app.http
        .post(format!("{}{path}", app.base))
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn the_loaded_flows_are_listed_with_their_entry_points() {
    let (app, _flows) = app_with_flows().await;
    let response = app.get("/v1/flows").await;
    assert_eq!(response.status(), 200);
    let body = json(response).await;
    let flows = body["flows"].as_array().expect("flows");
    let ids: Vec<&str> = flows.iter().filter_map(|f| f["id"].as_str()).collect();
    assert_eq!(ids, ["bye", "welcome"]);
    let welcome = &flows[1];
    assert_eq!(welcome["name"], "Welcome line");
    assert_eq!(
        welcome["entry_points"],
        serde_json::json!(["5000", "welcome"])
    );
    assert_eq!(welcome["nodes"], 3);
    assert!(welcome["file"]
        .as_str()
        .is_some_and(|f| f.ends_with("welcome.toml")));
}

#[tokio::test]
async fn one_flow_reads_as_nodes_with_kind_summary_and_branches() {
    let (app, _flows) = app_with_flows().await;
    let body = json(app.get("/v1/flows/welcome").await).await;
    assert_eq!(body["start"], "menu");
    let nodes = body["nodes"].as_array().expect("nodes");
    let menu = nodes.iter().find(|n| n["id"] == "menu").expect("menu node");
    assert_eq!(menu["kind"], "menu");
    assert_eq!(menu["summary"], "ivr/ivr-generic_greeting.wav");
    assert_eq!(menu["waits_for_caller"], true);
    let branches: Vec<(String, String)> = menu["branches"]
        .as_array()
        .expect("branches")
        .iter()
        .map(|b| {
            (
                b["label"].as_str().unwrap_or_default().to_owned(),
                b["node"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        branches,
        [
            ("1".to_owned(), "support".to_owned()),
            ("9".to_owned(), "closed".to_owned()),
            ("invalid".to_owned(), "support".to_owned()),
            ("no input".to_owned(), "support".to_owned()),
        ]
    );
    let closed = nodes.iter().find(|n| n["id"] == "closed").expect("goto");
    assert_eq!(closed["branches"][0]["flow"], "bye");
    let support = nodes
        .iter()
        .find(|n| n["id"] == "support")
        .expect("enqueue");
    assert_eq!(support["summary"], "queue support");

    let missing = app.get("/v1/flows/nope").await;
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(app.get("/v1/flows/bad%20id").await.status(), 400);
}

#[tokio::test]
async fn a_flow_is_drawn_in_each_format_with_its_content_type() {
    let (app, _flows) = app_with_flows().await;
    for (query, content_type, start) in [
        ("", "image/svg+xml", "<svg"),
        ("?format=svg", "image/svg+xml", "<svg"),
        ("?format=dot", "text/vnd.graphviz", "digraph"),
        ("?format=mermaid", "text/plain; charset=utf-8", "flowchart"),
    ] {
        let response = app.get(&format!("/v1/flows/welcome/diagram{query}")).await;
        assert_eq!(response.status(), 200, "{query}");
        assert_eq!(response.headers()["content-type"], content_type, "{query}");
        let text = response.text().await.expect("text");
        assert!(text.trim_start().starts_with(start), "{query}: {text}");
    }
    let bad = app.get("/v1/flows/welcome/diagram?format=png").await;
    assert_eq!(bad.status(), 400);
    assert_eq!(app.get("/v1/flows/nope/diagram").await.status(), 404);
}

#[tokio::test]
async fn a_reload_that_fails_a_check_is_refused_and_the_previous_flows_serve_on() {
    let (app, flows) = app_with_flows().await;
    // The goto's flow disappears, and a new flow enqueues to a queue nobody provisioned.
    std::fs::remove_file(flows.path().join("bye.toml")).expect("remove");
    let refused = post(&app, "/v1/flows/reload").await;
    assert_eq!(refused.status(), 422);
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
    let problem = json(refused).await;
    assert!(problem["file"]
        .as_str()
        .is_some_and(|f| f.ends_with("welcome.toml")));
    assert!(problem["line"].as_u64().is_some(), "{problem}");
    assert_eq!(problem["field"], "node.closed.flow");
    assert!(problem["detail"]
        .as_str()
        .is_some_and(|d| d.contains("no flow \"bye\"")));
    let ids = json(app.get("/v1/flows").await).await;
    assert_eq!(ids["flows"].as_array().map(Vec::len), Some(2), "{ids}");

    write_flows(
        flows.path(),
        &[
            ("bye.toml", BYE),
            (
                "sales.toml",
                "start = \"q\"\nentry_points = [\"6000\"]\n[node.q]\nkind = \"enqueue\"\nqueue = \"sales\"\n",
            ),
        ],
    );
    let unprovisioned = json(post(&app, "/v1/flows/reload").await).await;
    assert_eq!(unprovisioned["status"], 422);
    assert_eq!(unprovisioned["field"], "node.q.queue");

    std::fs::remove_file(flows.path().join("sales.toml")).expect("remove");
    write_flows(
        flows.path(),
        &[(
            "extra.toml",
            "start = \"bye\"\nentry_points = [\"7000\"]\n[node.bye]\nkind = \"hangup\"\ncause = \"NORMAL_CLEARING\"\n",
        )],
    );
    let reloaded = post(&app, "/v1/flows/reload").await;
    assert_eq!(reloaded.status(), 200);
    let body = json(reloaded).await;
    assert_eq!(body["reloaded"], true);
    let listed = json(app.get("/v1/flows").await).await;
    let ids: Vec<&str> = listed["flows"]
        .as_array()
        .expect("flows")
        .iter()
        .filter_map(|f| f["id"].as_str())
        .collect();
    assert_eq!(ids, ["bye", "extra", "welcome"]);
}

#[tokio::test]
async fn a_reload_without_a_flows_directory_is_a_conflict() {
    let app = spawn_app(vec![Agent::answering("1001")], Duration::ZERO).await;
    let response = post(&app, "/v1/flows/reload").await;
    assert_eq!(response.status(), 409);
    let listed = json(app.get("/v1/flows").await).await;
    assert_eq!(listed["flows"], serde_json::json!([]));
}

fn entered(call: CallId, channel: &ChannelId, at: i64) -> Record {
    Record::FlowEntered {
        call,
        switch: SwitchName::new("sim").expect("switch"),
        channel: channel.clone(),
        flow: FlowId::new("welcome").expect("id"),
        entry: "5000".into(),
        caller_number: "1001".into(),
        caller_name: "Caller".into(),
        destination: "5000".into(),
        at: Timestamp::from_millis(at),
    }
}

fn step(call: CallId, node: &str, kind: &str, outcome: &str, at: i64) -> Record {
    Record::FlowStep {
        call,
        flow: FlowId::new("welcome").expect("id"),
        node: node.into(),
        kind: kind.into(),
        digits: String::new(),
        outcome: outcome.into(),
        survey: false,
        at: Timestamp::from_millis(at),
    }
}

#[tokio::test]
async fn a_call_that_never_reached_a_queue_shows_its_ivr_session() {
    let (app, _flows) = app_with_flows().await;
    let call = CallId::from_uuid(uuid::Uuid::new_v4());
    let channel = ChannelId::from_uuid(uuid::Uuid::new_v4());
    app.running()
        .store
        .write(&[
            entered(call, &channel, 1_000),
            step(call, "menu", "menu", "caller hung up", 3_000),
            Record::FlowEnded {
                call,
                outcome: FlowOutcome::Abandoned,
                variables: vec![("account".into(), "42".into())],
                at: Timestamp::from_millis(3_000),
            },
        ])
        .await
        .expect("write");
    let response = app.get(&format!("/v1/calls/{call}")).await;
    assert_eq!(response.status(), 200);
    let body = json(response).await;
    assert_eq!(body["call"], Value::Null);
    assert_eq!(body["queue_events"], serde_json::json!([]));
    let flow = &body["flow"];
    assert_eq!(flow["flow"], "welcome");
    assert_eq!(flow["entry"], "5000");
    assert_eq!(flow["outcome"], "abandoned");
    assert_eq!(flow["variables"]["account"], "42");
    assert_eq!(flow["steps"][0]["node"], "menu");
    assert_eq!(flow["steps"][0]["outcome"], "caller hung up");

    let unknown = CallId::from_uuid(uuid::Uuid::new_v4());
    assert_eq!(app.get(&format!("/v1/calls/{unknown}")).await.status(), 404);
}

#[tokio::test]
async fn the_exits_report_counts_where_callers_left_a_flow() {
    let (app, _flows) = app_with_flows().await;
    let mut records = Vec::new();
    for (i, (node, kind, outcome)) in [
        ("menu", "menu", FlowOutcome::Abandoned),
        ("menu", "menu", FlowOutcome::Abandoned),
        ("support", "enqueue", FlowOutcome::Enqueued),
    ]
    .into_iter()
    .enumerate()
    {
        let call = CallId::from_uuid(uuid::Uuid::new_v4());
        let at = 1_000 * i64::try_from(i).expect("small");
        records.push(entered(
            call,
            &ChannelId::from_uuid(uuid::Uuid::new_v4()),
            at,
        ));
        records.push(step(call, node, kind, "left", at + 10));
        records.push(Record::FlowEnded {
            call,
            outcome,
            variables: Vec::new(),
            at: Timestamp::from_millis(at + 20),
        });
    }
    app.running().store.write(&records).await.expect("write");
    let body = json(app.get("/v1/flows/welcome/exits").await).await;
    assert_eq!(body["abandoned"], 2);
    assert_eq!(body["exits"][0]["node"], "menu");
    assert_eq!(body["exits"][0]["outcome"], "abandoned");
    assert_eq!(body["exits"][0]["sessions"], 2);
    assert_eq!(body["exits"][1]["node"], "support");
    let windowed = json(
        app.get("/v1/flows/welcome/exits?since=1000&until=2000")
            .await,
    )
    .await;
    assert_eq!(windowed["abandoned"], 1);
    let bad = app.get("/v1/flows/welcome/exits?since=yesterday").await;
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn the_controller_refuses_to_start_on_flows_that_fail_a_check() {
    let flows = tempfile::tempdir().expect("tempdir");
    // `welcome` enqueues to `support`, which this controller does not provision.
    write_flows(
        flows.path(),
        &[("welcome.toml", WELCOME), ("bye.toml", BYE)],
    );
    let db = tempfile::tempdir().expect("tempdir");
    let started = app::start(StartOptions {
        http: tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind"),
        database_url: format!("sqlite://{}", db.path().join("t.db").display()),
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
        flows: Some(flows.path().to_path_buf()),
        auth: Default::default(),
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
    .await;
    match started {
        Err(AppError::Flows(e)) => {
            assert!(e.file.ends_with("welcome.toml"), "{e}");
            assert_eq!(e.key, "node.support.queue");
        }
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("started with a flow naming an unprovisioned queue"),
    }
}

/// Every extension of the shipped dialplan that parks for a flow names an entry point of the
/// shipped flows, and its park reaches the controller as a flow call.
#[test]
fn the_shipped_dialplans_flow_entry_points_are_claimed_by_the_shipped_flows() {
    use switchboard::esl::translate::{translate, Translated};
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let xml = std::fs::read_to_string(root.join("dialplans/switchboard.xml")).expect("dialplan");
    let flows = switchboard::flow::FlowSet::load(&root.join("flows")).expect("shipped flows");
    let extension =
        regex::Regex::new(r#"(?s)<extension name="([^"]+)">(.*?)</extension>"#).expect("regex");
    let set =
        regex::Regex::new(r#"<action application="set" data="([^=]+)=([^"]*)"/>"#).expect("regex");
    let mut found = 0;
    for ext in extension.captures_iter(&xml) {
        let variables: Vec<(String, String)> = set
            .captures_iter(&ext[2])
            .map(|c| (c[1].to_owned(), c[2].to_owned()))
            .collect();
        let Some((_, entry)) = variables.iter().find(|(k, _)| k == "switchboard_flow") else {
            continue;
        };
        found += 1;
        assert!(
            flows.for_entry_point(entry).is_some(),
            "{}: no shipped flow claims entry point {entry:?}",
            &ext[1]
        );
        let mut park = freeswitch_esl_tokio::EslEvent::new();
        park.set_header("Event-Name", "CHANNEL_PARK");
        park.set_header("Unique-ID", "82b63871-1946-4fc7-963b-b5675def037e");
        for (k, v) in &variables {
            park.set_header(format!("variable_{k}"), v.clone());
        }
        let switch = SwitchName::new("fs1").expect("name");
        match translate(&switch, &park) {
            Translated::Input(switchboard::engine::Input::FlowCall(call)) => {
                assert_eq!(&call.entry, entry);
            }
            other => panic!("{}: not a flow call: {other:?}", &ext[1]),
        }
    }
    assert!(found >= 1, "the shipped dialplan has no flow entry point");
}

/// The simulated dialplan's number that parks callers for the `welcome` flow.
const FLOW_NUMBER: &str = "7000";

/// A controller serving the two flows above to callers of `FLOW_NUMBER`, connected to the
/// simulator, with agent 1001 in `support`.
async fn app_with_flow_callers() -> (TestApp, tempfile::TempDir) {
    let flows = tempfile::tempdir().expect("tempdir");
    write_flows(
        flows.path(),
        &[("welcome.toml", WELCOME), ("bye.toml", BYE)],
    );
    let support = || {
        vec![crate::harness::queue_row(
            "support",
            switchboard::engine::QueueRouting::default(),
        )]
    };
    let mut app = crate::harness::spawn_setup(crate::harness::Setup {
        queues: support(),
        agents: vec![Agent::answering("1001")],
        entries: vec![switchboard::sim::EntryPoint {
            number: FLOW_NUMBER.into(),
            variables: vec![("switchboard_flow".into(), "welcome".into())],
        }],
    })
    .await;
    app.stop_controller().await;
    app.flows = Some(flows.path().to_path_buf());
    app.start_with(support(), &[Agent::answering("1001")]).await;
    app.connected().await;
    (app, flows)
}

/// End to end: a caller parked for a flow presses a key, reaches the queue and an agent; its
/// IVR session (steps, outcome, variables) is on the call over REST and in the exits report.
#[tokio::test]
async fn a_caller_goes_through_a_flow_into_the_queue_and_its_session_is_kept() {
    let (app, _flows) = app_with_flow_callers().await;
    let caller = app.sim.place_call_pressing(
        switchboard::sim::CallSpec::new("2040", FLOW_NUMBER),
        vec![(Duration::from_millis(400), "1".into())],
    );
    let sim = app.sim.clone();
    let uuid = caller.clone();
    crate::harness::eventually("the caller reaches the agent", || {
        let (sim, uuid) = (sim.clone(), uuid.clone());
        async move { sim.channel(&uuid).is_some_and(|c| c.bridged_to.is_some()) }
    })
    .await;
    let store = app.running().store.clone();
    crate::harness::eventually("the flow session is on record", || {
        let store = store.clone();
        async move {
            let Ok(calls) = store.recent_calls(5).await else {
                return false;
            };
            match calls.first() {
                Some(call) => store
                    .flow_session(call.id)
                    .await
                    .ok()
                    .flatten()
                    .is_some_and(|s| s.ended_at.is_some()),
                None => false,
            }
        }
    })
    .await;
    let call = store.recent_calls(5).await.expect("calls")[0].id;
    let body = json(app.get(&format!("/v1/calls/{call}")).await).await;
    assert_eq!(body["call"]["queue"], "support");
    assert_eq!(body["flow"]["entry"], "welcome");
    assert_eq!(body["flow"]["outcome"], "enqueued");
    let steps: Vec<(&str, &str)> = body["flow"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            (
                s["node"].as_str().unwrap_or_default(),
                s["outcome"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(steps.first(), Some(&("menu", "1")), "{steps:?}");
    assert_eq!(steps.last().map(|s| s.0), Some("support"), "{steps:?}");
    let exits = json(app.get("/v1/flows/welcome/exits").await).await;
    assert_eq!(exits["exits"][0]["node"], "support");
    assert_eq!(exits["exits"][0]["outcome"], "enqueued");
}

/// The callers of a flow as `GET /v1/flows/welcome/sessions` lists them (with `query`).
async fn listed(app: &TestApp, query: &str) -> Vec<Value> {
    let response = app.get(&format!("/v1/flows/welcome/sessions{query}")).await;
    assert_eq!(response.status(), 200, "{query}");
    json(response).await["sessions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn numbers(sessions: &[Value]) -> Vec<&str> {
    sessions
        .iter()
        .map(|s| s["caller_number"].as_str().unwrap_or_default())
        .collect()
}

/// End to end: one caller hangs up in the menu, the next presses 1 and is enqueued. The flow's
/// sessions list both, newest first, with how each left; `limit`, `since` and `until` narrow
/// the list; the caller who never reached a queue reads by its call id, with only its session.
#[tokio::test]
async fn a_flows_sessions_list_callers_who_hung_up_in_the_menu_and_who_were_enqueued() {
    let (app, _flows) = app_with_flow_callers().await;
    let hangs_up = app
        .sim
        .place_call(switchboard::sim::CallSpec::new("2041", FLOW_NUMBER));
    let (sim, uuid) = (app.sim.clone(), hangs_up.clone());
    crate::harness::eventually("the first caller hears the menu", || {
        let (sim, uuid) = (sim.clone(), uuid.clone());
        async move {
            sim.played_on(&uuid)
                .iter()
                .any(|p| p == "ivr/ivr-generic_greeting.wav")
        }
    })
    .await;
    assert!(app.sim.hangup(&hangs_up, "NORMAL_CLEARING"));
    let (http, base) = (app.http.clone(), app.base.clone());
    crate::harness::eventually("the first session has ended", || {
        let url = format!("{base}/v1/flows/welcome/sessions");
        let http = http.clone();
        async move {
            let Ok(response) = http.get(&url).send().await else {
                return false;
            };
            let body: Value = response.json().await.unwrap_or_default();
            body["sessions"][0]["outcome"] == "abandoned"
        }
    })
    .await;

    let enqueued = app.sim.place_call_pressing(
        switchboard::sim::CallSpec::new("2042", FLOW_NUMBER),
        vec![(Duration::from_millis(400), "1".into())],
    );
    let sim = app.sim.clone();
    crate::harness::eventually("the second caller reaches the agent", || {
        let (sim, uuid) = (sim.clone(), enqueued.clone());
        async move { sim.channel(&uuid).is_some_and(|c| c.bridged_to.is_some()) }
    })
    .await;
    crate::harness::eventually("both sessions have ended", || {
        let url = format!("{base}/v1/flows/welcome/sessions");
        let http = http.clone();
        async move {
            let Ok(response) = http.get(&url).send().await else {
                return false;
            };
            let body: Value = response.json().await.unwrap_or_default();
            body["sessions"]
                .as_array()
                .is_some_and(|s| s.len() == 2 && s.iter().all(|s| !s["outcome"].is_null()))
        }
    })
    .await;

    let sessions = listed(&app, "").await;
    assert_eq!(numbers(&sessions), ["2042", "2041"]);
    let (newer, older) = (&sessions[0], &sessions[1]);
    assert_eq!(newer["outcome"], "enqueued");
    assert_eq!(newer["step_count"], 2, "menu, then the enqueue");
    assert_eq!(newer["entry"], "welcome");
    assert_eq!(newer["destination"], FLOW_NUMBER);
    assert_eq!(newer["caller_name"], "Caller 2042");
    assert_eq!(newer["variables"], serde_json::json!({}));
    assert_eq!(older["outcome"], "abandoned");
    assert_eq!(older["step_count"], 1, "hung up in the menu");
    assert!(older["ended_at"].as_i64() >= older["entered_at"].as_i64());
    let newer_entered = newer["entered_at"].as_i64().expect("entered_at");
    assert!(newer_entered > older["entered_at"].as_i64().expect("entered_at"));

    assert_eq!(numbers(&listed(&app, "?limit=1").await), ["2042"]);
    assert_eq!(
        numbers(&listed(&app, &format!("?since={newer_entered}")).await),
        ["2042"]
    );
    assert_eq!(
        numbers(&listed(&app, &format!("?until={newer_entered}")).await),
        ["2041"]
    );
    let limited = json(app.get("/v1/flows/welcome/sessions?limit=9999").await).await;
    assert_eq!(limited["limit"], 500);
    assert_eq!(
        app.get("/v1/flows/welcome/sessions?limit=all")
            .await
            .status(),
        400
    );

    // The caller who hung up in the menu never reached a queue: it is read by its call id.
    let call = older["call"].as_str().expect("call id");
    let response = app.get(&format!("/v1/calls/{call}")).await;
    assert_eq!(response.status(), 200);
    let body = json(response).await;
    assert_eq!(body["call"], Value::Null);
    assert_eq!(body["queue_events"], serde_json::json!([]));
    assert_eq!(body["flow"]["caller_number"], "2041");
    assert_eq!(body["flow"]["outcome"], "abandoned");
    assert_eq!(body["flow"]["steps"][0]["node"], "menu");
    assert_eq!(body["flow"]["steps"][0]["outcome"], "caller hung up");
}

#[tokio::test]
async fn an_unknown_flow_has_no_sessions_to_list_but_a_retired_one_keeps_its_history() {
    let (app, _flows) = app_with_flows().await;
    let unknown = app.get("/v1/flows/nope/sessions").await;
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        unknown.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(json(unknown).await["status"], 404);
    assert_eq!(app.get("/v1/flows/bad%20id/sessions").await.status(), 400);

    let loaded = json(app.get("/v1/flows/bye/sessions").await).await;
    assert_eq!(loaded["sessions"], serde_json::json!([]));

    // A flow whose file is gone still lists the callers it had.
    let call = CallId::from_uuid(uuid::Uuid::new_v4());
    let mut record = entered(call, &ChannelId::from_uuid(uuid::Uuid::new_v4()), 5);
    if let Record::FlowEntered { flow, .. } = &mut record {
        *flow = FlowId::new("retired").expect("id");
    }
    app.running().store.write(&[record]).await.expect("write");
    let retired = app.get("/v1/flows/retired/sessions").await;
    assert_eq!(retired.status(), 200);
    let body = json(retired).await;
    assert_eq!(body["sessions"][0]["call"], call.to_string());
    assert_eq!(body["sessions"][0]["outcome"], Value::Null);
    assert_eq!(body["sessions"][0]["step_count"], 0);
}
