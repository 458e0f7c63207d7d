//! The end-to-end call scenarios every switch kind must pass: each body runs once against the
//! FreeSWITCH simulator over ESL and once against the Asterisk simulator over ARI, with the
//! same controller, store and API, and the same invariants checked when the app is dropped.

use std::time::Duration;

use serde_json::json;
use switchboard::engine::recording::{ConsentNotice, RecordingMode, RecordingPolicy};
use switchboard::engine::{AgentStatus, CallOutcome, CallbackSettings, QueueRouting, Strategy};
use switchboard::sim::{CallSpec, PhoneBehavior};
use switchboard::store::CallRow;

use crate::harness::{eventually, queue_row, wait_status, Agent, TestApp, ENTRY};
use crate::kinds::{spawn_on, Entry, Kind, KindSetup};

/// `scenario` as two tests, `<scenario>::freeswitch` and `<scenario>::asterisk`.
macro_rules! on_both_switches {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[tokio::test]
            async fn freeswitch() {
                super::$scenario(crate::kinds::Kind::FreeSwitch).await
            }

            #[tokio::test]
            async fn asterisk() {
                super::$scenario(crate::kinds::Kind::Asterisk).await
            }
        }
    )*};
}
pub(crate) use on_both_switches;

on_both_switches!(
    a_queued_caller_is_bridged_to_the_agent_who_answers_and_the_call_completes,
    when_the_agent_hangs_up_the_caller_is_hung_up_too,
    a_caller_who_leaves_while_the_agent_rings_is_abandoned_and_the_ringing_ends,
    a_busy_phone_is_passed_over_for_the_next_agent,
    a_phone_that_rings_out_is_passed_over_for_the_next_agent,
    ring_all_bridges_the_first_phone_to_answer_and_ends_the_others,
    an_ivr_caller_keys_an_account_number_that_reaches_the_agent_leg,
    a_call_hung_up_over_rest_ends_once_with_both_legs_gone,
    calls_survive_a_lost_event_connection_and_end_once,
    a_switch_that_falls_silent_is_reconnected_and_its_calls_go_on,
    calls_survive_a_controller_restart_and_end_once,
    a_switch_restart_ends_its_calls_as_shut_down_and_routing_goes_on,
    a_queue_that_records_every_call_records_it_until_the_end,
    an_agents_blf_key_follows_its_state,
    a_supervisor_listens_without_changing_who_handles_the_call,
    a_consult_transfer_hands_the_caller_to_the_colleague_under_the_same_call,
    a_conference_joins_a_colleague_and_the_call_goes_on_when_it_leaves,
    every_feature_code_works_from_the_agents_phone,
    a_held_call_transferred_to_another_queue_reaches_its_agent_under_the_same_call,
    a_caller_who_asks_for_a_callback_is_called_back_when_an_agent_is_free,
    a_recording_after_the_consent_notice_is_paused_and_masked_over_rest,
);

pub(crate) fn answering(id: &'static str, after_ms: u64) -> Agent {
    Agent::answering(id).with(PhoneBehavior::Answer {
        after: Duration::from_millis(after_ms),
    })
}

async fn support_only(kind: Kind, agents: Vec<Agent>) -> TestApp {
    spawn_on(kind, support_setup(agents)).await
}

fn support_setup(agents: Vec<Agent>) -> KindSetup {
    support_routed(QueueRouting::default(), agents)
}

/// The `support` queue routed as `routing`, with `agents`.
fn support_routed(routing: QueueRouting, agents: Vec<Agent>) -> KindSetup {
    KindSetup {
        queues: vec![queue_row("support", routing)],
        agents,
        ..KindSetup::default()
    }
}

/// The agent's leg `caller` is bridged to, once it is.
pub(crate) async fn bridged_leg(app: &TestApp, caller: &str) -> String {
    eventually("the caller is bridged to an agent's leg", || async move {
        app.partner_of(caller).is_some()
    })
    .await;
    app.partner_of(caller).unwrap_or_default()
}

/// The history's row of the call whose caller is on `caller`, once it has ended.
pub(crate) async fn ended_call(app: &TestApp, caller: &str) -> CallRow {
    let store = app.running().store.clone();
    let find = || {
        let store = store.clone();
        async move {
            store
                .recent_calls(50)
                .await
                .ok()?
                .into_iter()
                .find(|c| c.caller_channel.as_str() == caller && c.ended_at.is_some())
        }
    };
    eventually("the call has ended in the history", || async {
        find().await.is_some()
    })
    .await;
    find().await.expect("found above")
}

pub(crate) async fn no_channels_left(app: &TestApp) {
    eventually("no channel is left on the switch", || async {
        app.channel_count() == 0
    })
    .await;
}

async fn a_queued_caller_is_bridged_to_the_agent_who_answers_and_the_call_completes(kind: Kind) {
    let app = support_only(kind, vec![answering("1001", 50)]).await;
    let caller = app.dial(CallSpec::new("4930111", ENTRY));
    let leg = bridged_leg(&app, &caller).await;
    wait_status(&app, "1001", AgentStatus::OnCall).await;
    assert_ne!(leg, caller);
    assert!(app.far_end_hangs_up(&caller));
    let call = ended_call(&app, &caller).await;
    assert_eq!(call.outcome, Some(CallOutcome::Completed));
    assert_eq!(call.agent.as_ref().map(|a| a.as_str()), Some("1001"));
    assert_eq!(
        call.agent_channel.as_ref().map(|c| c.as_str()),
        Some(leg.as_str())
    );
    // The agent's leg does not outlive its caller, on either switch.
    no_channels_left(&app).await;
    wait_status(&app, "1001", AgentStatus::Available).await;
}

async fn when_the_agent_hangs_up_the_caller_is_hung_up_too(kind: Kind) {
    let app = support_only(
        kind,
        vec![answering("1001", 50).hanging_up_after(Duration::from_millis(300))],
    )
    .await;
    let caller = app.dial(CallSpec::new("4930112", ENTRY));
    bridged_leg(&app, &caller).await;
    let call = ended_call(&app, &caller).await;
    assert_eq!(call.outcome, Some(CallOutcome::Completed));
    no_channels_left(&app).await;
    assert!(!app.is_up(&caller));
}

async fn a_caller_who_leaves_while_the_agent_rings_is_abandoned_and_the_ringing_ends(kind: Kind) {
    let app = support_only(
        kind,
        vec![Agent::answering("1001").with(PhoneBehavior::NoAnswer)],
    )
    .await;
    let mut spec = CallSpec::new("4930113", ENTRY);
    spec.patience = Some(Duration::from_millis(700));
    let caller = app.dial(spec);
    wait_status(&app, "1001", AgentStatus::Offered).await;
    let call = ended_call(&app, &caller).await;
    assert_eq!(call.outcome, Some(CallOutcome::Abandoned));
    // Nothing ends a ringing leg for us on Asterisk: the controller must.
    no_channels_left(&app).await;
    wait_status(&app, "1001", AgentStatus::Available).await;
}

async fn a_busy_phone_is_passed_over_for_the_next_agent(kind: Kind) {
    let app = support_only(
        kind,
        vec![
            Agent::answering("1001").with(PhoneBehavior::Busy),
            answering("1002", 50),
        ],
    )
    .await;
    let caller = app.dial(CallSpec::new("4930114", ENTRY));
    bridged_leg(&app, &caller).await;
    wait_status(&app, "1002", AgentStatus::OnCall).await;
    assert_ne!(agent_status(&app, "1001"), AgentStatus::OnCall);
    app.far_end_hangs_up(&caller);
    let call = ended_call(&app, &caller).await;
    assert_eq!(call.agent.as_ref().map(|a| a.as_str()), Some("1002"));
    no_channels_left(&app).await;
}

async fn a_phone_that_rings_out_is_passed_over_for_the_next_agent(kind: Kind) {
    let mut support = queue_row("support", QueueRouting::default());
    support.ring_timeout_ms = 1_000;
    let app = spawn_on(
        kind,
        KindSetup {
            queues: vec![support],
            agents: vec![
                Agent::answering("1001").with(PhoneBehavior::NoAnswer),
                answering("1002", 50),
            ],
            ..KindSetup::default()
        },
    )
    .await;
    let caller = app.dial(CallSpec::new("4930115", ENTRY));
    bridged_leg(&app, &caller).await;
    wait_status(&app, "1002", AgentStatus::OnCall).await;
    app.far_end_hangs_up(&caller);
    let call = ended_call(&app, &caller).await;
    assert_eq!(call.agent.as_ref().map(|a| a.as_str()), Some("1002"));
    no_channels_left(&app).await;
}

async fn ring_all_bridges_the_first_phone_to_answer_and_ends_the_others(kind: Kind) {
    let routing = QueueRouting {
        strategy: Strategy::RingAll,
        ..QueueRouting::default()
    };
    let agents = vec![
        answering("1001", 900),
        answering("1002", 100),
        answering("1003", 600),
    ];
    let app = spawn_on(kind, support_routed(routing, agents)).await;
    let caller = app.dial(CallSpec::new("4930116", ENTRY));
    bridged_leg(&app, &caller).await;
    wait_status(&app, "1002", AgentStatus::OnCall).await;
    wait_status(&app, "1001", AgentStatus::Available).await;
    wait_status(&app, "1003", AgentStatus::Available).await;
    eventually("only the caller and the winner are left", || async {
        app.channel_count() == 2
    })
    .await;
    app.far_end_hangs_up(&caller);
    ended_call(&app, &caller).await;
    no_channels_left(&app).await;
}

async fn an_ivr_caller_keys_an_account_number_that_reaches_the_agent_leg(kind: Kind) {
    let flows = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        flows.path().join("ivr.toml"),
        r#"start = "start"
entry_points = ["ivr"]

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
    .expect("write the flow");
    let app = spawn_on(
        kind,
        KindSetup {
            entries: vec![Entry::Flow {
                number: "7000",
                entry: "ivr",
            }],
            flows: Some(flows.path().to_path_buf()),
            ..support_setup(vec![answering("1001", 50)])
        },
    )
    .await;
    let caller = app.dial_pressing(
        CallSpec::new("2040", "7000"),
        vec![(Duration::from_millis(300), "12345#".to_owned())],
    );
    let leg = bridged_leg(&app, &caller).await;
    assert_eq!(app.leg_variable(&leg, "account").as_deref(), Some("12345"));
    app.far_end_hangs_up(&caller);
    let call = ended_call(&app, &caller).await;
    assert_eq!(call.outcome, Some(CallOutcome::Completed));
    no_channels_left(&app).await;
}

async fn a_call_hung_up_over_rest_ends_once_with_both_legs_gone(kind: Kind) {
    let app = support_only(kind, vec![answering("1001", 50)]).await;
    let caller = app.dial(CallSpec::new("4930117", ENTRY));
    bridged_leg(&app, &caller).await;
    let call = live_call_id(&app, &caller).await;
    let accepted = app
        .http
        .post(format!("{}/v1/calls/{call}/hangup", app.base))
        .json(&json!({}))
        .send()
        .await
        .expect("request");
    assert_eq!(accepted.status(), 202);
    let ended = ended_call(&app, &caller).await;
    assert_eq!(ended.outcome, Some(CallOutcome::Completed));
    no_channels_left(&app).await;
    wait_status(&app, "1001", AgentStatus::Available).await;
}

async fn calls_survive_a_lost_event_connection_and_end_once(kind: Kind) {
    let app = support_only(
        kind,
        vec![answering("1001", 50), answering("1002", 50).logged_out()],
    )
    .await;
    let talking = app.dial(CallSpec::new("4930118", ENTRY));
    bridged_leg(&app, &talking).await;
    let waiting = app.dial(CallSpec::new("4930119", ENTRY));
    eventually("the second caller waits", || async {
        app.running().snapshot().waiting() == 1
    })
    .await;
    app.drop_switch_connections().await;
    app.connected_times(2).await;
    // The waiting caller kept its place and is offered once an agent is free again.
    app.set_agent_state("1002", "available").await;
    bridged_leg(&app, &waiting).await;
    app.far_end_hangs_up(&talking);
    app.far_end_hangs_up(&waiting);
    let first = ended_call(&app, &talking).await;
    let second = ended_call(&app, &waiting).await;
    assert_eq!(first.outcome, Some(CallOutcome::Completed));
    assert_eq!(second.outcome, Some(CallOutcome::Completed));
    assert_eq!(second.agent.as_ref().map(|a| a.as_str()), Some("1002"));
    no_channels_left(&app).await;
}

/// The id of the live call whose caller is on `caller`, once the snapshot shows it.
async fn live_call_id(app: &TestApp, caller: &str) -> String {
    let find = || {
        app.running()
            .snapshot()
            .calls
            .iter()
            .find(|c| c.channel == caller)
            .map(|c| c.id.to_string())
    };
    eventually("the call is live", || async { find().is_some() }).await;
    find().expect("found above")
}

fn agent_status(app: &TestApp, agent: &str) -> AgentStatus {
    app.running()
        .snapshot()
        .agents
        .iter()
        .find(|a| a.id.as_str() == agent)
        .map(|a| a.status)
        .expect("a known agent")
}

async fn calls_survive_a_controller_restart_and_end_once(kind: Kind) {
    let agents = || vec![answering("1001", 50), answering("1002", 50).logged_out()];
    let mut app = support_only(kind, agents()).await;
    let talking = app.dial(CallSpec::new("4930120", ENTRY));
    let leg = bridged_leg(&app, &talking).await;
    let waiting = app.dial(CallSpec::new("4930121", ENTRY));
    eventually("the second caller waits", || async {
        app.running().snapshot().waiting() == 1
    })
    .await;
    app.stop_controller().await;
    app.start_with(
        vec![queue_row("support", QueueRouting::default())],
        &agents(),
    )
    .await;
    app.connected().await;
    // Adopted: the talking call still has its agent, the waiting caller its place.
    wait_status(&app, "1001", AgentStatus::OnCall).await;
    eventually("the waiting caller is adopted", || async {
        app.running().snapshot().waiting() == 1
    })
    .await;
    app.set_agent_state("1002", "available").await;
    bridged_leg(&app, &waiting).await;
    assert_eq!(app.partner_of(&talking).as_deref(), Some(leg.as_str()));
    app.far_end_hangs_up(&talking);
    app.far_end_hangs_up(&waiting);
    assert_eq!(
        ended_call(&app, &talking).await.outcome,
        Some(CallOutcome::Completed)
    );
    assert_eq!(
        ended_call(&app, &waiting).await.outcome,
        Some(CallOutcome::Completed)
    );
    no_channels_left(&app).await;
}

async fn a_switch_restart_ends_its_calls_as_shut_down_and_routing_goes_on(kind: Kind) {
    let app = support_only(kind, vec![answering("1001", 50), answering("1002", 50)]).await;
    let talking = app.dial(CallSpec::new("4930122", ENTRY));
    bridged_leg(&app, &talking).await;
    app.restart_switch().await;
    let ended = ended_call(&app, &talking).await;
    assert_eq!(ended.outcome, Some(CallOutcome::Completed), "{ended:?}");
    assert_eq!(ended.hangup_cause.as_deref(), Some("SYSTEM_SHUTDOWN"));
    app.connected_times(2).await;
    wait_status(&app, "1001", AgentStatus::Available).await;
    let next = app.dial(CallSpec::new("4930123", ENTRY));
    bridged_leg(&app, &next).await;
    app.far_end_hangs_up(&next);
    assert_eq!(
        ended_call(&app, &next).await.outcome,
        Some(CallOutcome::Completed)
    );
    no_channels_left(&app).await;
}

async fn a_queue_that_records_every_call_records_it_until_the_end(kind: Kind) {
    let routing = QueueRouting {
        recording: RecordingPolicy {
            mode: RecordingMode::Always,
            ..RecordingPolicy::default()
        },
        ..QueueRouting::default()
    };
    let app = spawn_on(kind, support_routed(routing, vec![answering("1001", 50)])).await;
    let caller = app.dial(CallSpec::new("4930124", ENTRY));
    bridged_leg(&app, &caller).await;
    eventually("the recording runs", || async {
        stored_recordings(&app)
            .await
            .iter()
            .any(|s| s == "recording")
    })
    .await;
    app.far_end_hangs_up(&caller);
    ended_call(&app, &caller).await;
    eventually("the recording is stopped in the history", || async {
        stored_recordings(&app).await == ["stopped"]
    })
    .await;
    eventually("the switch finished the recording", || async {
        app.finished_recordings() == 1
    })
    .await;
}

/// The status of every recording in the history.
async fn stored_recordings(app: &TestApp) -> Vec<String> {
    let pool = sqlx::SqlitePool::connect(&app.database_url)
        .await
        .expect("the test database");
    let statuses = sqlx::query_scalar("SELECT status FROM recordings ORDER BY started_at")
        .fetch_all(&pool)
        .await
        .unwrap_or_default();
    pool.close().await;
    statuses
}

async fn an_agents_blf_key_follows_its_state(kind: Kind) {
    let app = spawn_on(
        kind,
        KindSetup {
            presence_domain: Some("127.0.0.1"),
            ..support_setup(vec![answering("1001", 300)])
        },
    )
    .await;
    let shows = |lamp: &'static str| {
        let app = &app;
        async move {
            eventually(&format!("the BLF key of 1001 is {lamp}"), || async {
                app.blf("1001") == Some(lamp)
            })
            .await;
        }
    };
    shows("off").await;
    let caller = app.dial(CallSpec::new("4930125", ENTRY));
    bridged_leg(&app, &caller).await;
    shows("lit").await;
    app.far_end_hangs_up(&caller);
    ended_call(&app, &caller).await;
    shows("off").await;
}

async fn a_supervisor_listens_without_changing_who_handles_the_call(kind: Kind) {
    let app = support_only(kind, vec![answering("1001", 50)]).await;
    app.add_answering_phone("2001");
    let caller = app.dial(CallSpec::new("4930126", ENTRY));
    let leg = bridged_leg(&app, &caller).await;
    let call = live_call_id(&app, &caller).await;
    let started = app
        .http
        .post(format!("{}/v1/calls/{call}/monitor", app.base))
        .json(&json!({ "mode": "listen", "phone": "user/2001" }))
        .send()
        .await
        .expect("request");
    assert_eq!(started.status(), 202);
    let monitor: serde_json::Value = started.json().await.expect("JSON");
    let monitor = monitor["id"].as_str().expect("a monitor id").to_owned();
    eventually("the supervisor has joined", || async {
        let list: serde_json::Value = app.get("/v1/monitors").await.json().await.expect("JSON");
        list["monitors"].as_array().is_some_and(|l| {
            l.iter()
                .any(|m| m["id"] == monitor.as_str() && m["phase"] == "joined")
        })
    })
    .await;
    // The caller still talks to its agent, and to nobody else.
    assert_eq!(app.partner_of(&caller).as_deref(), Some(leg.as_str()));
    app.far_end_hangs_up(&caller);
    let ended = ended_call(&app, &caller).await;
    assert_eq!(ended.outcome, Some(CallOutcome::Completed));
    assert_eq!(
        ended.agent_channel.as_ref().map(|c| c.as_str()),
        Some(leg.as_str())
    );
    no_channels_left(&app).await;
}

/// The agents of the consult and conference scenarios: 1001 takes the call, 1002 is free for it
/// once made available.
fn two_agents() -> Vec<Agent> {
    vec![answering("1001", 50), answering("1002", 50).logged_out()]
}

async fn post(app: &TestApp, path: &str, body: serde_json::Value) -> reqwest::StatusCode {
    app.http
        .post(format!("{}{path}", app.base))
        .json(&body)
        .send()
        .await
        .expect("request")
        .status()
}

async fn a_consult_transfer_hands_the_caller_to_the_colleague_under_the_same_call(kind: Kind) {
    let app = support_only(kind, two_agents()).await;
    let caller = app.dial(CallSpec::new("4930127", ENTRY));
    let first = bridged_leg(&app, &caller).await;
    let call = live_call_id(&app, &caller).await;
    app.set_agent_state("1002", "available").await;
    let consult = format!("/v1/calls/{call}/consult");
    assert_eq!(post(&app, &consult, json!({ "agent": "1002" })).await, 202);
    eventually("the consult is talking", || async {
        app.call_view(&call).await["consult"]["phase"] == "talking"
    })
    .await;
    let target = app.call_view(&call).await["consult"]["channel"]
        .as_str()
        .expect("the consult leg")
        .to_owned();
    eventually(
        "the agent talks to the colleague, the caller waits",
        || async {
            app.partner_of(&first).as_deref() == Some(target.as_str())
                && app.partner_of(&caller).is_none()
        },
    )
    .await;
    assert_eq!(
        post(&app, &format!("{consult}/complete"), json!({})).await,
        202
    );
    eventually("the caller talks to the colleague", || async {
        app.partner_of(&caller).as_deref() == Some(target.as_str())
    })
    .await;
    eventually("the first agent's leg is gone", || async {
        !app.is_up(&first)
    })
    .await;
    app.far_end_hangs_up(&caller);
    let ended = ended_call(&app, &caller).await;
    assert_eq!(ended.outcome, Some(CallOutcome::Completed));
    assert_eq!(ended.agent.as_ref().map(|a| a.as_str()), Some("1002"));
    no_channels_left(&app).await;
}

async fn a_conference_joins_a_colleague_and_the_call_goes_on_when_it_leaves(kind: Kind) {
    let app = support_only(kind, two_agents()).await;
    let caller = app.dial(CallSpec::new("4930128", ENTRY));
    let first = bridged_leg(&app, &caller).await;
    let call = live_call_id(&app, &caller).await;
    app.set_agent_state("1002", "available").await;
    let conference = format!("/v1/calls/{call}/conference");
    assert_eq!(
        post(&app, &conference, json!({ "agent": "1002" })).await,
        202
    );
    eventually("the colleague joined the conference", || async {
        app.call_view(&call).await["conference"]["parties"]
            .as_array()
            .is_some_and(|ps| {
                ps.iter()
                    .any(|p| p["agent"] == "1002" && p["status"] == "joined")
            })
    })
    .await;
    wait_status(&app, "1002", AgentStatus::OnCall).await;
    let dropped = app
        .http
        .delete(format!("{}{conference}/parties/1002", app.base))
        .send()
        .await
        .expect("request");
    assert_eq!(dropped.status(), 202);
    wait_status(&app, "1002", AgentStatus::Available).await;
    assert!(app.is_up(&caller) && app.is_up(&first));
    app.far_end_hangs_up(&caller);
    let ended = ended_call(&app, &caller).await;
    assert_eq!(ended.outcome, Some(CallOutcome::Completed));
    no_channels_left(&app).await;
}

async fn every_feature_code_works_from_the_agents_phone(kind: Kind) {
    let codes = ["*21", "*22", "*23", "*241", "*25", "agent+1001"];
    let app = spawn_on(
        kind,
        KindSetup {
            entries: codes
                .iter()
                .map(|number| Entry::FeatureCode { number })
                .collect(),
            pause_reasons: vec![switchboard::store::PauseReasonRow {
                code: "1".into(),
                name: "Lunch".into(),
                productive: false,
            }],
            ..support_setup(vec![
                Agent::answering("1001").logged_out().with_pin("4711"),
                Agent::answering("2002").in_queues(&[]).logged_out(),
            ])
        },
    )
    .await;
    let dial = |phone: &str, code: &str| app.dial(CallSpec::new(phone, code));
    dial("1001", "*22");
    wait_status(&app, "1001", AgentStatus::Available).await;
    dial("1001", "*241");
    wait_status(&app, "1001", AgentStatus::Paused).await;
    dial("1001", "*25");
    wait_status(&app, "1001", AgentStatus::Available).await;
    dial("1001", "agent+1001");
    wait_status(&app, "1001", AgentStatus::Paused).await;
    dial("1001", "agent+1001");
    wait_status(&app, "1001", AgentStatus::Available).await;
    dial("1001", "*23");
    wait_status(&app, "1001", AgentStatus::LoggedOut).await;
    // Hot-desking at the phone in the other room: its calls ring there.
    dial("2002", "*21");
    wait_status(&app, "1001", AgentStatus::Available).await;
    let caller = app.dial(CallSpec::new("4930129", ENTRY));
    bridged_leg(&app, &caller).await;
    app.far_end_hangs_up(&caller);
    ended_call(&app, &caller).await;
    // Every code's call was answered with its tone or prompt, then hung up by the controller.
    no_channels_left(&app).await;
}

async fn a_held_call_transferred_to_another_queue_reaches_its_agent_under_the_same_call(
    kind: Kind,
) {
    let app = spawn_on(
        kind,
        KindSetup {
            queues: vec![
                queue_row("support", QueueRouting::default()),
                queue_row("sales", QueueRouting::default()),
            ],
            agents: vec![
                answering("1001", 50),
                answering("1002", 50).in_queues(&["sales"]),
            ],
            ..KindSetup::default()
        },
    )
    .await;
    let caller = app.dial(CallSpec::new("4930130", ENTRY));
    let first = bridged_leg(&app, &caller).await;
    let call = live_call_id(&app, &caller).await;
    assert_eq!(
        post(&app, &format!("/v1/calls/{call}/hold"), json!({})).await,
        202
    );
    eventually("the call shows as held", || async {
        let calls: serde_json::Value = app.get("/v1/calls").await.json().await.expect("JSON");
        !calls["active"][0]["hold"]["held_since"].is_null()
    })
    .await;
    let transfer = json!({ "to": "queue", "queue": "sales" });
    assert_eq!(
        post(&app, &format!("/v1/calls/{call}/transfer"), transfer).await,
        202
    );
    eventually("the caller talks to the sales agent", || async {
        app.partner_of(&caller).is_some_and(|leg| leg != first)
    })
    .await;
    wait_status(&app, "1002", AgentStatus::OnCall).await;
    assert!(!app.is_up(&first), "the first agent's leg is gone");
    app.far_end_hangs_up(&caller);
    let ended = ended_call(&app, &caller).await;
    assert_eq!(ended.id.to_string(), call);
    assert_eq!(ended.outcome, Some(CallOutcome::Completed));
    assert_eq!(ended.agent.as_ref().map(|a| a.as_str()), Some("1002"));
    assert_eq!(ended.holds, Some(1));
    no_channels_left(&app).await;
}

async fn a_caller_who_asks_for_a_callback_is_called_back_when_an_agent_is_free(kind: Kind) {
    let routing = QueueRouting {
        callback: Some(CallbackSettings {
            key: '1',
            dial: "user/{number}".into(),
            ..CallbackSettings::default()
        }),
        ..QueueRouting::default()
    };
    let app = spawn_on(
        kind,
        support_routed(
            routing,
            vec![
                answering("1001", 50).logged_out(),
                // The customer's own phone, reachable as user/5551234.
                answering("5551234", 50).in_queues(&[]).logged_out(),
            ],
        ),
    )
    .await;
    let caller = app.dial_pressing(
        CallSpec::new("5551234", ENTRY),
        vec![(Duration::from_millis(300), "1#".to_owned())],
    );
    eventually("the caller is hung up after confirming", || async {
        !app.is_up(&caller)
    })
    .await;
    app.set_agent_state("1001", "available").await;
    wait_status(&app, "1001", AgentStatus::OnCall).await;
    let active = || async {
        let calls: serde_json::Value = app.get("/v1/calls").await.json().await.expect("JSON");
        calls["active"][0].clone()
    };
    eventually("the agent talks to the customer", || async {
        active().await["state"] == "bridged"
    })
    .await;
    let call = active().await["id"]
        .as_str()
        .expect("the callback")
        .to_owned();
    assert_eq!(
        post(&app, &format!("/v1/calls/{call}/hangup"), json!({})).await,
        202
    );
    no_channels_left(&app).await;
    let pool = sqlx::SqlitePool::connect(&app.database_url)
        .await
        .expect("the test database");
    let kinds: Vec<String> =
        sqlx::query_scalar("SELECT kind FROM queue_events WHERE call_id = ? ORDER BY id")
            .bind(&call)
            .fetch_all(&pool)
            .await
            .expect("queue events");
    pool.close().await;
    assert!(
        kinds.iter().any(|k| k == "callback_requested")
            && kinds.iter().any(|k| k == "callback_connected"),
        "{kinds:?}"
    );
}

async fn a_recording_after_the_consent_notice_is_paused_and_masked_over_rest(kind: Kind) {
    let routing = QueueRouting {
        recording: RecordingPolicy {
            mode: RecordingMode::Always,
            consent: Some(ConsentNotice {
                announcement: "silence_stream://200".into(),
                opt_out_digit: Some('9'),
            }),
            ..RecordingPolicy::default()
        },
        ..QueueRouting::default()
    };
    let app = spawn_on(kind, support_routed(routing, vec![answering("1001", 50)])).await;
    let caller = app.dial(CallSpec::new("4930131", ENTRY));
    bridged_leg(&app, &caller).await;
    let call = live_call_id(&app, &caller).await;
    eventually("the recording runs", || async {
        stored_recordings(&app)
            .await
            .iter()
            .any(|s| s == "recording")
    })
    .await;
    let recording = format!("/v1/calls/{call}/recording");
    for (action, paused) in [
        ("pause", true),
        ("resume", false),
        ("mask", false),
        ("unmask", false),
    ] {
        assert_eq!(
            post(&app, &recording, json!({ "action": action })).await,
            200,
            "{action}"
        );
        eventually(&format!("the snapshot shows the {action}"), || async {
            let calls: serde_json::Value = app.get("/v1/calls").await.json().await.expect("JSON");
            calls["active"][0]["recording"]["paused"] == paused
        })
        .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.far_end_hangs_up(&caller);
    ended_call(&app, &caller).await;
    eventually("the recording is stopped in the history", || async {
        stored_recordings(&app).await == ["stopped"]
    })
    .await;
    eventually("the switch kept one pause and one mask", || async {
        app.recorded_pauses_and_masks() == (1, 1)
    })
    .await;
    let pool = sqlx::SqlitePool::connect(&app.database_url)
        .await
        .expect("the test database");
    let notice: Option<i64> = sqlx::query_scalar("SELECT notice_at FROM recordings")
        .fetch_one(&pool)
        .await
        .expect("the recording");
    pool.close().await;
    assert!(notice.is_some(), "the caller heard the notice first");
}

async fn a_switch_that_falls_silent_is_reconnected_and_its_calls_go_on(kind: Kind) {
    let app = support_only(kind, vec![answering("1001", 50)]).await;
    let caller = app.dial(CallSpec::new("4930132", ENTRY));
    let leg = bridged_leg(&app, &caller).await;
    // Neither switch says anything on a half-open connection (Asterisk sends no pings): the
    // controller's own liveness check (5 s here) must find it and connect afresh.
    app.freeze_switch_connections();
    app.connected_times(2).await;
    eventually("the controller has resynced", || async {
        app.get("/readyz").await.status() == 200
    })
    .await;
    app.release_frozen().await;
    assert_eq!(app.partner_of(&caller).as_deref(), Some(leg.as_str()));
    app.far_end_hangs_up(&caller);
    let ended = ended_call(&app, &caller).await;
    assert_eq!(ended.outcome, Some(CallOutcome::Completed));
    no_channels_left(&app).await;
    wait_status(&app, "1001", AgentStatus::Available).await;
}
