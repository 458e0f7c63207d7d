//! IVR flows end to end: the controller runs flows for callers of the simulated switch who
//! press keys on cue (during a prompt, after it, too late), type account numbers, are steered
//! by a real local HTTP server, leave messages, are transferred or hung up, or hang up
//! themselves; each test reads the session the controller kept over REST.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use freeswitch_esl_tokio::{EslClient, EventFormat};
use serde_json::Value;
use switchboard::engine::QueueRouting;
use switchboard::sim::{CallSpec, EntryPoint};

use crate::harness::{eventually, queue_row, spawn_setup, Agent, Setup, TestApp};

/// The number callers dial; the simulated dialplan parks them for the flow entry `ivr`, setting
/// what the shipped dialplan's IVR extension sets (`dialplans/switchboard.xml`, 5003).
const NUMBER: &str = "7000";

/// A controller with the `support` queue and agent 1001, serving `flow` (claiming the entry
/// point `ivr`) from a fresh directory.
pub(crate) async fn app_serving(flow: &str) -> (TestApp, tempfile::TempDir) {
    app_serving_with(flow, &[]).await
}

/// As `app_serving`, with more flows beside it (`(id, text)`, each written as `<id>.toml`).
async fn app_serving_with(flow: &str, others: &[(&str, &str)]) -> (TestApp, tempfile::TempDir) {
    let flows = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        flows.path().join("ivr.toml"),
        format!("start = \"start\"\nentry_points = [\"ivr\"]\n{flow}"),
    )
    .expect("write flow");
    for (id, text) in others {
        std::fs::write(flows.path().join(format!("{id}.toml")), text).expect("write flow");
    }
    let support = || vec![queue_row("support", QueueRouting::default())];
    let mut app = spawn_setup(Setup {
        queues: support(),
        agents: vec![Agent::answering("1001")],
        entries: vec![EntryPoint {
            number: NUMBER.into(),
            variables: vec![
                ("switchboard_flow".into(), "ivr".into()),
                ("playback_terminators".into(), "#".into()),
                ("hangup_after_bridge".into(), "true".into()),
            ],
        }],
    })
    .await;
    app.stop_controller().await;
    app.flows = Some(flows.path().to_path_buf());
    app.start_with(support(), &[Agent::answering("1001")]).await;
    app.connected().await;
    (app, flows)
}

pub(crate) fn caller() -> CallSpec {
    CallSpec::new("2040", NUMBER)
}

pub(crate) fn keys(cues: &[(u64, &str)]) -> Vec<(Duration, String)> {
    cues.iter()
        .map(|(ms, keys)| (Duration::from_millis(*ms), (*keys).to_owned()))
        .collect()
}

/// The call id the controller gave the caller on channel `uuid`, once its session is stored.
async fn call_id_of(app: &TestApp, uuid: &str) -> String {
    let pool = sqlx::SqlitePool::connect(&app.database_url)
        .await
        .expect("open the test database");
    let mut found = None;
    let deadline = Instant::now() + Duration::from_secs(10);
    while found.is_none() {
        found = sqlx::query_scalar::<_, String>(
            "SELECT call_id FROM flow_sessions WHERE caller_channel = ?",
        )
        .bind(uuid)
        .fetch_optional(&pool)
        .await
        .expect("query");
        assert!(Instant::now() < deadline, "no flow session for {uuid}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    pool.close().await;
    found.unwrap_or_default()
}

/// The caller's finished IVR session as `GET /v1/calls/{id}` shows it (the `flow` section).
pub(crate) async fn ended_session(app: &TestApp, uuid: &str) -> Value {
    ended(app, uuid, "flow").await["flow"].clone()
}

/// `GET /v1/calls/{id}` of the caller on `uuid`, once its `part` (`flow`, `survey`) has ended.
async fn ended(app: &TestApp, uuid: &str, part: &'static str) -> Value {
    let call = call_id_of(app, uuid).await;
    let (http, url) = (app.http.clone(), format!("{}/v1/calls/{call}", app.base));
    eventually(&format!("the {part} session has ended"), || {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let Ok(response) = http.get(&url).send().await else {
                return false;
            };
            let body: Value = response.json().await.unwrap_or_default();
            !body[part]["outcome"].is_null()
        }
    })
    .await;
    app.get(&format!("/v1/calls/{call}"))
        .await
        .json()
        .await
        .expect("json")
}

/// The session's steps as (node, outcome).
pub(crate) fn steps(session: &Value) -> Vec<(String, String)> {
    session["steps"]
        .as_array()
        .map(|steps| {
            steps
                .iter()
                .map(|s| {
                    (
                        s["node"].as_str().unwrap_or_default().to_owned(),
                        s["outcome"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn step(node: &str, outcome: &str) -> (String, String) {
    (node.to_owned(), outcome.to_owned())
}

/// A menu with a long prompt: 1 → `one`, 2 → `two`; anything else → `wrong`, nothing →
/// `nobody`. Each way out hangs up, so the steps say where the caller went.
fn menu(prompt: &str, timeout: &str, retries: u32) -> String {
    format!(
        r#"
[node.start]
kind = "menu"
prompt = "{prompt}"
invalid_prompt = "silence_stream://100"
no_input_prompt = "silence_stream://100"
timeout = "{timeout}"
retries = {retries}
on_invalid = "wrong"
on_no_input = "nobody"
[node.start.options]
1 = "one"
2 = "two"

[node.one]
kind = "hangup"

[node.two]
kind = "hangup"

[node.wrong]
kind = "hangup"

[node.nobody]
kind = "hangup"
"#
    )
}

#[tokio::test]
async fn a_key_pressed_during_the_menu_prompt_routes_at_once() {
    let (app, _flows) = app_serving(&menu("silence_stream://5000", "5s", 2)).await;
    let placed = Instant::now();
    let uuid = app.sim.place_call_pressing(caller(), keys(&[(300, "2")]));
    let session = ended_session(&app, &uuid).await;
    assert!(
        placed.elapsed() < Duration::from_secs(4),
        "the caller waited for the prompt to end: {:?}",
        placed.elapsed()
    );
    assert_eq!(session["outcome"], "hung_up");
    assert_eq!(
        steps(&session),
        [step("start", "2"), step("two", "hung up")]
    );
    assert_eq!(session["steps"][0]["digits"], "2");
}

#[tokio::test]
async fn a_key_pressed_after_the_timeouts_and_retries_is_too_late() {
    // Prompt 100 ms, then 300 ms of silence, twice (one retry): over after about 1 s.
    let (app, _flows) = app_serving(&menu("silence_stream://100", "300ms", 1)).await;
    let uuid = app.sim.place_call_pressing(caller(), keys(&[(3_000, "1")]));
    let session = ended_session(&app, &uuid).await;
    assert_eq!(session["outcome"], "hung_up");
    assert_eq!(
        steps(&session).last(),
        Some(&step("nobody", "hung up")),
        "{session}"
    );
    assert!(
        steps(&session).contains(&step("start", "no input")),
        "{session}"
    );
    assert!(
        !steps(&session).iter().any(|(node, _)| node == "one"),
        "{session}"
    );
}

#[tokio::test]
async fn an_invalid_key_then_a_valid_one_routes_by_the_valid_one() {
    let (app, _flows) = app_serving(&menu("silence_stream://100", "3s", 2)).await;
    let uuid = app
        .sim
        .place_call_pressing(caller(), keys(&[(300, "7"), (900, "1")]));
    let session = ended_session(&app, &uuid).await;
    assert_eq!(
        steps(&session),
        [step("start", "1"), step("one", "hung up")],
        "{session}"
    );
    assert_eq!(
        session["steps"][0]["digits"], "71",
        "every key pressed at the menu"
    );
    let heard = app.sim.played_on(&uuid);
    assert_eq!(
        heard,
        [
            "silence_stream://100",
            "silence_stream://100",
            "silence_stream://100"
        ],
        "prompt, invalid prompt, prompt again"
    );
}

#[tokio::test]
async fn an_account_number_ends_at_the_terminator_and_reaches_the_agent_leg() {
    let (app, _flows) = app_serving(
        r#"
[node.start]
kind = "collect"
prompt = "silence_stream://100"
max_digits = 10
timeout = "3s"
variable = "account"
next = "queue"
on_failure = "bye"

[node.queue]
kind = "enqueue"
queue = "support"

[node.bye]
kind = "hangup"
"#,
    )
    .await;
    let uuid = app
        .sim
        .place_call_pressing(caller(), keys(&[(300, "12345#")]));
    let sim = app.sim.clone();
    eventually("the caller is bridged to the agent", || {
        let (sim, uuid) = (sim.clone(), uuid.clone());
        async move { sim.channel(&uuid).is_some_and(|c| c.bridged_to.is_some()) }
    })
    .await;
    let agent_leg = app
        .sim
        .channels()
        .into_iter()
        .find(|c| c.is_outbound_leg)
        .expect("the agent's leg");
    assert_eq!(agent_leg.variable("switchboard_var_account"), Some("12345"));
    let session = ended_session(&app, &uuid).await;
    assert_eq!(session["outcome"], "enqueued");
    assert_eq!(session["variables"]["account"], "12345");
    assert_eq!(
        steps(&session),
        [step("start", "collected"), step("queue", "enqueued")]
    );
    assert_eq!(session["steps"][0]["digits"], "12345#");
}

/// A CRM on 127.0.0.1:0: `/customer` answers `{"customer":{"tier":"gold"}}`, `/later` the same
/// after 500 ms, `/slow` after 5 s.
async fn crm() -> String {
    crm_counting().await.0
}

/// As `crm`, with the number of requests it has received.
async fn crm_counting() -> (String, Arc<AtomicUsize>) {
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    let app = Router::new()
        .route(
            "/customer",
            get(|| async {
                (
                    [("content-type", "application/json")],
                    r#"{"customer":{"tier":"gold"}}"#,
                )
            }),
        )
        .route(
            "/later",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(500)).await;
                (
                    [("content-type", "application/json")],
                    r#"{"customer":{"tier":"gold"}}"#,
                )
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = app.layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            counter.fetch_add(1, Ordering::SeqCst);
            next.run(request)
        },
    ));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), received)
}

/// Asks the CRM at `url` for the caller's tier: gold callers go to `vip`, others to `standard`,
/// an error to `sorry`.
fn tier_lookup(url: &str) -> String {
    format!(
        r#"
[node.start]
kind = "http"
url = "{url}?number={{{{caller_number}}}}"
timeout = "1s"
next = "tier"
on_error = "sorry"
[node.start.extract]
tier = "/customer/tier"

[node.tier]
kind = "condition"
otherwise = "standard"
[[node.tier.when]]
variable = "tier"
equals = "gold"
next = "vip"

[node.vip]
kind = "hangup"

[node.standard]
kind = "hangup"

[node.sorry]
kind = "hangup"
"#
    )
}

#[tokio::test]
async fn a_crm_reply_steers_a_condition() {
    let crm = crm().await;
    let (app, _flows) = app_serving(&tier_lookup(&format!("{crm}/customer"))).await;
    let uuid = app.sim.place_call(caller());
    let session = ended_session(&app, &uuid).await;
    assert_eq!(session["variables"]["tier"], "gold", "{session}");
    let visited: Vec<String> = steps(&session).into_iter().map(|(node, _)| node).collect();
    assert_eq!(visited, ["start", "tier", "vip"], "{session}");
    assert_eq!(session["steps"][0]["outcome"], "ok");
}

#[tokio::test]
async fn a_crm_slower_than_the_timeout_takes_the_error_branch() {
    let crm = crm().await;
    let (app, _flows) = app_serving(&tier_lookup(&format!("{crm}/slow"))).await;
    let placed = Instant::now();
    let uuid = app.sim.place_call(caller());
    let session = ended_session(&app, &uuid).await;
    assert!(
        placed.elapsed() < Duration::from_secs(4),
        "{:?}",
        placed.elapsed()
    );
    assert_eq!(
        steps(&session),
        [step("start", "error"), step("sorry", "hung up")],
        "{session}"
    );
    assert!(session["variables"].get("tier").is_none(), "{session}");
}

#[tokio::test]
async fn a_message_is_recorded_and_its_path_kept_in_the_session() {
    let (app, _flows) = app_serving(
        r#"
[node.start]
kind = "record"
prompt = "silence_stream://100"
max_length = "10s"
variable = "message"
next = "bye"

[node.bye]
kind = "hangup"
"#,
    )
    .await;
    app.sim.set_message_length(Duration::from_millis(300));
    let uuid = app.sim.place_call(caller());
    let session = ended_session(&app, &uuid).await;
    let call = session["call"].as_str().expect("call id");
    assert_eq!(session["outcome"], "hung_up");
    assert_eq!(
        session["variables"]["message"],
        format!("switchboard/{call}-start.wav")
    );
    assert_eq!(
        steps(&session),
        [step("start", "recorded"), step("bye", "hung up")]
    );
}

#[tokio::test]
async fn a_transfer_node_sends_the_caller_to_the_extension() {
    let (app, _flows) = app_serving(
        r#"
[node.start]
kind = "transfer"
destination = "8000"
"#,
    )
    .await;
    let uuid = app.sim.place_call(caller());
    let session = ended_session(&app, &uuid).await;
    assert_eq!(session["outcome"], "transferred");
    assert_eq!(steps(&session), [step("start", "transferred")]);
    let sim = app.sim.clone();
    eventually("the switch transferred the caller", || {
        let (sim, uuid) = (sim.clone(), uuid.clone());
        async move {
            sim.channel(&uuid)
                .and_then(|c| c.transferred_to)
                .is_some_and(|to| to.contains("8000"))
        }
    })
    .await;
}

#[tokio::test]
async fn a_hangup_node_hangs_the_caller_up_with_its_cause() {
    let (app, _flows) = app_serving(
        r#"
[node.start]
kind = "hangup"
cause = "USER_BUSY"
"#,
    )
    .await;
    // A second ESL connection of our own watches the switch, as an operator's tool would.
    let (watcher, mut events) =
        EslClient::connect("127.0.0.1", app.sim.esl_addr().port(), "ClueCon")
            .await
            .expect("connect");
    watcher
        .subscribe_events_raw(EventFormat::Plain, "CHANNEL_HANGUP")
        .await
        .expect("subscribe");
    let uuid = app.sim.place_call(caller());
    let hangup = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.recv().await {
                Some(Ok(ev)) if ev.header_str("Unique-ID") == Some(uuid.as_str()) => break ev,
                Some(Ok(_)) => {}
                other => panic!("event stream: {other:?}"),
            }
        }
    })
    .await
    .expect("the caller is hung up");
    assert_eq!(hangup.header_str("Hangup-Cause"), Some("USER_BUSY"));
    let session = ended_session(&app, &uuid).await;
    assert_eq!(session["outcome"], "hung_up");
    assert_eq!(steps(&session), [step("start", "hung up")]);
}

#[tokio::test]
async fn a_caller_hanging_up_in_a_menu_abandons_there() {
    let (app, _flows) = app_serving(&menu("silence_stream://100", "5s", 2)).await;
    let uuid = app.sim.place_call(caller());
    let sim = app.sim.clone();
    eventually("the caller heard the menu prompt", || {
        let (sim, uuid) = (sim.clone(), uuid.clone());
        async move { !sim.played_on(&uuid).is_empty() }
    })
    .await;
    assert!(app.sim.hangup(&uuid, "NORMAL_CLEARING"));
    let session = ended_session(&app, &uuid).await;
    assert_eq!(session["outcome"], "abandoned");
    assert_eq!(steps(&session), [step("start", "caller hung up")]);
    let exits: Value = app
        .get("/v1/flows/ivr/exits")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(exits["abandoned"], 1, "{exits}");
    assert_eq!(exits["exits"][0]["node"], "start");
    assert_eq!(exits["exits"][0]["outcome"], "abandoned");
    assert_eq!(exits["exits"][0]["sessions"], 1);
}

fn schedule(closed: &str) -> String {
    format!(
        r#"
[node.start]
kind = "schedule"
time_zone = "UTC"
open = ["mon-sun 00:00-24:00"]
closed = [{closed}]
on_open = "open"
on_closed = "closed"

[node.open]
kind = "hangup"

[node.closed]
kind = "hangup"
"#
    )
}

#[tokio::test]
async fn a_schedule_open_all_week_is_closed_on_a_closed_date() {
    let (open_app, _open) = app_serving(&schedule("")).await;
    let uuid = open_app.sim.place_call(caller());
    let session = ended_session(&open_app, &uuid).await;
    assert_eq!(steps(&session)[0], step("start", "open"), "{session}");

    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let (closed_app, _closed) = app_serving(&schedule(&format!("\"{today}\""))).await;
    let uuid = closed_app.sim.place_call(caller());
    let session = ended_session(&closed_app, &uuid).await;
    assert_eq!(steps(&session)[0], step("start", "closed"), "{session}");
}

#[tokio::test]
async fn a_menu_without_barge_in_ignores_keys_during_its_prompt() {
    let flow = menu("silence_stream://800", "3s", 2)
        .replace("retries = 2\n", "retries = 2\nbarge_in = false\n");
    let (app, _flows) = app_serving(&flow).await;
    let uuid = app
        .sim
        .place_call_pressing(caller(), keys(&[(200, "1"), (1_300, "2")]));
    let session = ended_session(&app, &uuid).await;
    assert_eq!(
        steps(&session),
        [step("start", "2"), step("two", "hung up")],
        "{session}"
    );
}

#[tokio::test]
async fn keys_typed_during_a_play_node_are_taken_by_the_next_menu() {
    let flow = format!(
        "[node.start]\nkind = \"play\"\nfile = \"silence_stream://600\"\nnext = \"menu\"\n{}",
        menu("silence_stream://5000", "3s", 2)
            .replace("[node.start]", "[node.menu]")
            .replace("[node.start.options]", "[node.menu.options]")
    );
    let (app, _flows) = app_serving(&flow).await;
    let placed = Instant::now();
    let uuid = app.sim.place_call_pressing(caller(), keys(&[(200, "1")]));
    let session = ended_session(&app, &uuid).await;
    assert!(
        placed.elapsed() < Duration::from_secs(4),
        "{:?}",
        placed.elapsed()
    );
    assert_eq!(
        steps(&session),
        [
            step("start", "next"),
            step("menu", "1"),
            step("one", "hung up")
        ],
        "{session}"
    );
    let heard = app.sim.played_on(&uuid);
    assert_eq!(
        heard,
        ["silence_stream://600"],
        "the menu skipped its prompt"
    );
}

#[tokio::test]
async fn an_entry_without_a_terminator_ends_after_the_inter_digit_timeout() {
    let (app, _flows) = app_serving(
        r#"
[node.start]
kind = "collect"
prompt = "silence_stream://100"
min_digits = 3
max_digits = 10
inter_digit_timeout = "300ms"
timeout = "3s"
pattern = "^[0-9]+$"
variable = "pin"
next = "bye"
on_failure = "failed"

[node.bye]
kind = "hangup"

[node.failed]
kind = "hangup"
"#,
    )
    .await;
    let uuid = app
        .sim
        .place_call_pressing(caller(), keys(&[(300, "12"), (1_000, "345")]));
    let session = ended_session(&app, &uuid).await;
    // "12" is too short: the prompt plays again, then "345" is an entry of its own.
    assert_eq!(session["variables"]["pin"], "345", "{session}");
    assert_eq!(
        steps(&session),
        [step("start", "collected"), step("bye", "hung up")],
        "{session}"
    );
}

#[tokio::test]
async fn a_caller_hanging_up_during_a_crm_request_abandons_there() {
    let (crm, received) = crm_counting().await;
    let (app, _flows) = app_serving(&tier_lookup(&format!("{crm}/slow"))).await;
    let uuid = app.sim.place_call(caller());
    eventually("the CRM has the request", || {
        let received = received.clone();
        async move { received.load(Ordering::SeqCst) == 1 }
    })
    .await;
    assert!(app.sim.hangup(&uuid, "NORMAL_CLEARING"));
    let session = ended_session(&app, &uuid).await;
    assert_eq!(session["outcome"], "abandoned");
    assert_eq!(
        steps(&session),
        [step("start", "caller hung up")],
        "{session}"
    );
}

#[tokio::test]
async fn a_caller_hanging_up_while_recording_abandons_there() {
    let (app, _flows) = app_serving(
        r#"
[node.start]
kind = "record"
prompt = "silence_stream://100"
max_length = "10s"
next = "bye"

[node.bye]
kind = "hangup"
"#,
    )
    .await;
    app.sim.set_message_length(Duration::from_secs(5));
    let uuid = app.sim.place_call(caller());
    let sim = app.sim.clone();
    eventually("the caller is recording", || {
        let (sim, uuid) = (sim.clone(), uuid.clone());
        async move {
            sim.channel(&uuid)
                .and_then(|c| c.running_app)
                .is_some_and(|app| app == "record")
        }
    })
    .await;
    assert!(app.sim.hangup(&uuid, "NORMAL_CLEARING"));
    let session = ended_session(&app, &uuid).await;
    assert_eq!(session["outcome"], "abandoned", "{session}");
    assert_eq!(
        steps(&session),
        [step("start", "caller hung up")],
        "{session}"
    );
}

#[tokio::test]
async fn a_secret_entry_is_hidden_from_the_history_and_the_agent_leg() {
    let (app, _flows) = app_serving(
        r#"
[node.start]
kind = "collect"
prompt = "silence_stream://100"
max_digits = 4
secret = true
variable = "pin"
next = "queue"
on_failure = "bye"

[node.queue]
kind = "enqueue"
queue = "support"

[node.bye]
kind = "hangup"
"#,
    )
    .await;
    let uuid = app
        .sim
        .place_call_pressing(caller(), keys(&[(300, "4711")]));
    let sim = app.sim.clone();
    eventually("the caller is bridged to the agent", || {
        let (sim, uuid) = (sim.clone(), uuid.clone());
        async move { sim.channel(&uuid).is_some_and(|c| c.bridged_to.is_some()) }
    })
    .await;
    let agent_leg = app
        .sim
        .channels()
        .into_iter()
        .find(|c| c.is_outbound_leg)
        .expect("the agent's leg");
    assert_eq!(agent_leg.variable("switchboard_var_pin"), None);
    let session = ended_session(&app, &uuid).await;
    assert!(session["variables"].get("pin").is_none(), "{session}");
    assert_eq!(session["steps"][0]["digits"], "***", "{session}");
    assert!(!session.to_string().contains("4711"), "{session}");
}

#[tokio::test]
async fn a_caller_in_a_menu_goes_on_after_the_switch_link_drops() {
    let (app, _flows) = app_serving(&menu("silence_stream://100", "4s", 0)).await;
    let uuid = app.sim.place_call(caller());
    let sim = app.sim.clone();
    eventually("the caller heard the menu prompt", || {
        let (sim, uuid) = (sim.clone(), uuid.clone());
        async move { !sim.played_on(&uuid).is_empty() }
    })
    .await;
    app.sim.drop_connections().await;
    let metrics = app.running().metrics.clone();
    eventually("the controller reconnects", || {
        let m = metrics.clone();
        async move { m.esl_connects.load(Ordering::Relaxed) >= 2 }
    })
    .await;
    eventually("the prompt is played again", || {
        let (sim, uuid) = (sim.clone(), uuid.clone());
        async move { sim.played_on(&uuid).len() >= 2 }
    })
    .await;
    assert!(app.sim.send_dtmf(&uuid, "2"));
    let session = ended_session(&app, &uuid).await;
    assert_eq!(
        steps(&session),
        [step("start", "2"), step("two", "hung up")],
        "{session}"
    );
}

#[tokio::test]
async fn callers_in_the_same_menu_at_once_go_their_own_ways() {
    let (app, _flows) = app_serving(&menu("silence_stream://300", "3s", 2)).await;
    let first = app.sim.place_call_pressing(caller(), keys(&[(200, "1")]));
    let second = app
        .sim
        .place_call_pressing(CallSpec::new("2041", NUMBER), keys(&[(500, "2")]));
    let third = app.sim.place_call_pressing(
        CallSpec::new("2042", NUMBER),
        keys(&[(100, "9"), (700, "1")]),
    );
    for (uuid, ending) in [(first, "one"), (second, "two"), (third, "one")] {
        let session = ended_session(&app, &uuid).await;
        assert_eq!(
            steps(&session).last().map(|(node, _)| node.as_str()),
            Some(ending),
            "{session}"
        );
    }
}

#[tokio::test]
async fn a_caller_keeps_the_flow_it_started_with_across_a_reload() {
    let (app, flows) = app_serving(&menu("silence_stream://100", "3s", 2)).await;
    let uuid = app.sim.place_call(caller());
    let sim = app.sim.clone();
    eventually("the caller heard the menu prompt", || {
        let (sim, uuid) = (sim.clone(), uuid.clone());
        async move { !sim.played_on(&uuid).is_empty() }
    })
    .await;
    std::fs::write(
        flows.path().join("ivr.toml"),
        "start = \"start\"\nentry_points = [\"ivr\"]\n[node.start]\nkind = \"hangup\"\n",
    )
    .expect("rewrite");
    let reloaded = app
        .http
        .post(format!("{}/v1/flows/reload", app.base))
        .send()
        .await
        .expect("reload");
    assert_eq!(reloaded.status(), 200);
    assert!(app.sim.send_dtmf(&uuid, "2"));
    let session = ended_session(&app, &uuid).await;
    assert_eq!(
        steps(&session),
        [step("start", "2"), step("two", "hung up")],
        "{session}"
    );
    let newcomer = app.sim.place_call(CallSpec::new("2041", NUMBER));
    let session = ended_session(&app, &newcomer).await;
    assert_eq!(steps(&session), [step("start", "hung up")], "{session}");
}

#[tokio::test]
async fn a_key_during_the_no_input_prompt_counts() {
    let flow = menu("silence_stream://100", "300ms", 2).replace(
        "no_input_prompt = \"silence_stream://100\"",
        "no_input_prompt = \"silence_stream://2000\"",
    );
    let (app, _flows) = app_serving(&flow).await;
    // Prompt 0-0.1 s, silence to 0.4 s, then the 2 s no-input prompt: the key falls inside it.
    let uuid = app.sim.place_call_pressing(caller(), keys(&[(1_000, "1")]));
    let session = ended_session(&app, &uuid).await;
    assert_eq!(
        steps(&session),
        [step("start", "1"), step("one", "hung up")],
        "{session}"
    );
}

#[tokio::test]
async fn the_pound_key_ends_a_recording_early() {
    let (app, _flows) = app_serving(
        r#"
[node.start]
kind = "record"
prompt = "silence_stream://100"
max_length = "10s"
next = "bye"

[node.bye]
kind = "hangup"
"#,
    )
    .await;
    app.sim.set_message_length(Duration::from_secs(8));
    let placed = Instant::now();
    let uuid = app.sim.place_call(caller());
    let sim = app.sim.clone();
    eventually("the caller is recording", || {
        let (sim, uuid) = (sim.clone(), uuid.clone());
        async move {
            sim.channel(&uuid)
                .and_then(|c| c.running_app)
                .is_some_and(|app| app == "record")
        }
    })
    .await;
    assert!(app.sim.send_dtmf(&uuid, "#"));
    let session = ended_session(&app, &uuid).await;
    assert!(
        placed.elapsed() < Duration::from_secs(5),
        "{:?}",
        placed.elapsed()
    );
    assert_eq!(
        steps(&session),
        [step("start", "recorded"), step("bye", "hung up")],
        "{session}"
    );
}

#[tokio::test]
async fn keys_typed_during_a_crm_request_are_taken_by_the_next_collect() {
    let (crm, received) = crm_counting().await;
    let (app, _flows) = app_serving(&format!(
        r#"
[node.start]
kind = "http"
url = "{crm}/later"
timeout = "2s"
next = "account"
on_error = "account"

[node.account]
kind = "collect"
prompt = "silence_stream://5000"
max_digits = 10
variable = "account"
next = "bye"
on_failure = "bye"

[node.bye]
kind = "hangup"
"#
    ))
    .await;
    let uuid = app.sim.place_call_pressing(caller(), keys(&[(0, "987#")]));
    let session = ended_session(&app, &uuid).await;
    assert_eq!(received.load(Ordering::SeqCst), 1);
    assert_eq!(session["variables"]["account"], "987", "{session}");
    assert!(
        app.sim.played_on(&uuid).is_empty(),
        "the collect skipped its prompt"
    );
    assert_eq!(
        steps(&session),
        [
            step("start", "ok"),
            step("account", "collected"),
            step("bye", "hung up")
        ],
        "{session}"
    );
}

#[tokio::test]
async fn after_the_agent_hangs_up_the_caller_answers_the_survey_kept_with_the_call() {
    let (app, _flows) = app_serving_with(
        r#"
[node.start]
kind = "enqueue"
queue = "support"
survey = "poll"
"#,
        &[(
            "poll",
            r#"
start = "rate"

[node.rate]
kind = "collect"
prompt = "silence_stream://100"
max_digits = 1
pattern = "^[1-5]$"
timeout = "5s"
variable = "rating"
next = "bye"
on_failure = "bye"

[node.bye]
kind = "hangup"
"#,
        )],
    )
    .await;
    let uuid = app.sim.place_call(caller());
    let sim = app.sim.clone();
    eventually("the caller is bridged to the agent", || {
        let (sim, uuid) = (sim.clone(), uuid.clone());
        async move { sim.channel(&uuid).is_some_and(|c| c.bridged_to.is_some()) }
    })
    .await;
    let agent_leg = app
        .sim
        .channels()
        .into_iter()
        .find(|c| c.is_outbound_leg)
        .expect("the agent's leg");
    assert!(app.sim.hangup(&agent_leg.uuid, "NORMAL_CLEARING"));
    // The switch parks the caller (park_after_bridge) instead of hanging it up; the survey
    // prompt plays on it.
    eventually("the survey prompt plays to the caller", || {
        let (sim, uuid) = (sim.clone(), uuid.clone());
        async move {
            sim.played_on(&uuid)
                .iter()
                .any(|p| p == "silence_stream://100")
        }
    })
    .await;
    assert!(app.sim.send_dtmf(&uuid, "4"));
    eventually("the survey hangs the caller up", || {
        let (sim, uuid) = (sim.clone(), uuid.clone());
        async move { sim.channel(&uuid).is_none() }
    })
    .await;

    let body = ended(&app, &uuid, "survey").await;
    assert_eq!(body["call"]["outcome"], "completed");
    let survey = &body["survey"];
    assert_eq!(survey["flow"], "poll");
    assert_eq!(survey["agent"], "1001");
    assert_eq!(survey["outcome"], "hung_up");
    assert_eq!(survey["answers"], serde_json::json!({ "rating": "4" }));
    assert_eq!(
        steps(survey),
        [step("rate", "collected"), step("bye", "hung up")]
    );
    // The IVR before the queue keeps its own steps; each flow's exits report counts its own.
    assert_eq!(steps(&body["flow"]), [step("start", "enqueued")]);
    let exits: Value = app
        .get("/v1/flows/poll/exits")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(exits["exits"][0]["node"], "bye", "{exits}");
    assert_eq!(exits["exits"][0]["sessions"], 1, "{exits}");
    let exits: Value = app
        .get("/v1/flows/ivr/exits")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(exits["exits"][0]["node"], "start", "{exits}");
}

/// Stops the controller and starts a new one on the same database and switch.
async fn restart_controller(app: &mut TestApp) {
    app.stop_controller().await;
    app.start_with(
        vec![queue_row("support", QueueRouting::default())],
        &[Agent::answering("1001")],
    )
    .await;
    app.connected().await;
}

#[tokio::test]
async fn after_a_controller_restart_callers_in_a_flow_start_it_again_and_new_ones_are_served() {
    let (mut app, _flows) = app_serving(&menu("silence_stream://300", "5s", 2)).await;
    let waiting = app.sim.place_call(caller());
    let sim = app.sim.clone();
    eventually("the caller heard the menu prompt", || {
        let (sim, uuid) = (sim.clone(), waiting.clone());
        async move { !sim.played_on(&uuid).is_empty() }
    })
    .await;
    let call = call_id_of(&app, &waiting).await;
    app.stop_controller().await;
    // Parked while no controller listened: its CHANNEL_PARK went to nobody.
    let newcomer = app.sim.place_call(CallSpec::new("2041", NUMBER));
    restart_controller(&mut app).await;
    eventually("the waiting caller hears the menu again", || {
        let (sim, uuid) = (sim.clone(), waiting.clone());
        async move { sim.played_on(&uuid).len() >= 2 }
    })
    .await;
    eventually("the newcomer hears the menu", || {
        let (sim, uuid) = (sim.clone(), newcomer.clone());
        async move { !sim.played_on(&uuid).is_empty() }
    })
    .await;
    assert!(app.sim.send_dtmf(&waiting, "2"));
    assert!(app.sim.send_dtmf(&newcomer, "2"));
    let session = ended_session(&app, &waiting).await;
    assert_eq!(
        session["call"], call,
        "the same session, under the same call id"
    );
    assert_eq!(
        steps(&session),
        [step("start", "2"), step("two", "hung up")],
        "{session}"
    );
    let session = ended_session(&app, &newcomer).await;
    assert_eq!(session["outcome"], "hung_up", "{session}");
}

#[tokio::test]
async fn after_a_controller_restart_a_caller_a_flow_enqueued_keeps_its_queue_and_variables() {
    let (mut app, _flows) = app_serving(
        r#"
[node.start]
kind = "collect"
prompt = "silence_stream://100"
max_digits = 4
timeout = "3s"
variable = "account"
next = "queue"
on_failure = "queue"

[node.queue]
kind = "enqueue"
queue = "support"
"#,
    )
    .await;
    let away = app
        .put_json(
            "/v1/agents/1001/state",
            serde_json::json!({ "state": "logged_out" }),
        )
        .await;
    assert!(away.status().is_success(), "{away:?}");
    let uuid = app
        .sim
        .place_call_pressing(caller(), keys(&[(300, "4711")]));
    let session = ended_session(&app, &uuid).await;
    assert_eq!(session["outcome"], "enqueued");
    // The new controller logs the agent in (as its start options say) and offers it the call.
    restart_controller(&mut app).await;
    let sim = app.sim.clone();
    eventually("the adopted caller is bridged to the agent", || {
        let (sim, uuid) = (sim.clone(), uuid.clone());
        async move { sim.channel(&uuid).is_some_and(|c| c.bridged_to.is_some()) }
    })
    .await;
    let agent_leg = app
        .sim
        .channels()
        .into_iter()
        .find(|c| c.is_outbound_leg)
        .expect("the agent's leg");
    assert_eq!(agent_leg.variable("switchboard_var_account"), Some("4711"));
    let call = call_id_of(&app, &uuid).await;
    let body: Value = app
        .get(&format!("/v1/calls/{call}"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["call"]["queue"], "support", "{body}");
}
