//! What a controller restart keeps, end to end: the controller is stopped while callers live
//! on in the simulated switch, and a new one on the same database adopts them where they
//! were (see `docs/operations.md`, "What a controller restart keeps"). The invariant check at
//! drop proves no overflow was replayed (a timeout or overflow only from the queue last
//! entered, no second enter into the same queue).

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use switchboard::engine::{Destination, QueueEventKind, QueueId, QueueRouting};
use switchboard::sim::CallSpec;
use switchboard::store::QueueRow;

use crate::harness::{eventually, queue_row, spawn_setup, Agent, Setup, TestApp, ENTRY};
use crate::ivr::{app_serving, caller, ended_session, keys, step, steps};

/// Stops the controller and starts a new one on the same database and switch.
async fn restart(app: &mut TestApp, queues: Vec<QueueRow>, agents: &[Agent]) {
    app.stop_controller().await;
    app.start_with(queues, agents).await;
    app.connected().await;
}

/// Waits until `n` callers wait in the published snapshot, and returns their views.
async fn waiting(app: &TestApp, n: usize) -> Vec<switchboard::engine::snapshot::CallView> {
    eventually(&format!("{n} callers wait"), || async {
        app.running().snapshot().waiting() == n
    })
    .await;
    app.running().snapshot().calls.iter().cloned().collect()
}

fn view_of<'a>(
    calls: &'a [switchboard::engine::snapshot::CallView],
    number: &str,
) -> &'a switchboard::engine::snapshot::CallView {
    calls
        .iter()
        .find(|c| c.caller_number == number)
        .expect("the caller's call")
}

async fn patch_call(app: &TestApp, call: &str, body: Value) {
    let response = app
        .http
        .patch(format!("{}/v1/calls/{call}", app.base))
        .json(&body)
        .send()
        .await
        .expect("request");
    assert!(response.status().is_success(), "{response:?}");
}

async fn wait_bridged(app: &TestApp, uuid: &str) {
    let sim = app.sim.clone();
    eventually("the caller is bridged", || {
        let (sim, uuid) = (sim.clone(), uuid.to_owned());
        async move { sim.channel(&uuid).is_some_and(|c| c.bridged_to.is_some()) }
    })
    .await;
}

fn support() -> Vec<QueueRow> {
    vec![queue_row("support", QueueRouting::default())]
}

#[tokio::test]
async fn a_priority_raised_before_a_restart_still_puts_the_caller_ahead() {
    let agents = [Agent::answering("1001").logged_out()];
    let mut app = spawn_setup(Setup {
        queues: support(),
        agents: vec![Agent::answering("1001").logged_out()],
        entries: Vec::new(),
    })
    .await;
    app.connected().await;
    let first = app.sim.place_call(CallSpec::new("111", ENTRY));
    waiting(&app, 1).await;
    let second = app.sim.place_call(CallSpec::new("222", ENTRY));
    let calls = waiting(&app, 2).await;
    let raised = view_of(&calls, "222").id.to_string();
    patch_call(&app, &raised, json!({ "priority": 9 })).await;

    restart(&mut app, support(), &agents).await;
    let calls = waiting(&app, 2).await;
    assert_eq!(
        view_of(&calls, "222").priority,
        9,
        "the raised priority is kept"
    );
    assert_eq!(app.set_agent_state("1001", "available").await.status(), 200);
    wait_bridged(&app, &second).await;
    assert!(
        app.sim
            .channel(&first)
            .is_some_and(|c| c.bridged_to.is_none()),
        "the earlier, lower-priority caller waits"
    );
}

#[tokio::test]
async fn skills_given_before_a_restart_still_keep_the_caller_from_unskilled_agents() {
    let agents = [
        Agent::answering("1001").logged_out(),
        Agent::answering("1002").skilled("spanish:5").logged_out(),
    ];
    let mut app = spawn_setup(Setup {
        queues: support(),
        agents: vec![
            Agent::answering("1001").logged_out(),
            Agent::answering("1002").skilled("spanish:5").logged_out(),
        ],
        entries: Vec::new(),
    })
    .await;
    app.connected().await;
    let uuid = app.sim.place_call(CallSpec::new("111", ENTRY));
    let calls = waiting(&app, 1).await;
    let call = calls[0].id;
    patch_call(&app, &call.to_string(), json!({ "skills": "spanish:3" })).await;

    restart(&mut app, support(), &agents).await;
    let calls = waiting(&app, 1).await;
    assert_eq!(
        calls[0]
            .skills
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["spanish:3"]
    );
    // Offers are decided when an agent becomes available: 1001 first, and passed over.
    assert_eq!(app.set_agent_state("1001", "available").await.status(), 200);
    assert_eq!(app.set_agent_state("1002", "available").await.status(), 200);
    wait_bridged(&app, &uuid).await;
    let offers: Vec<String> = app
        .running()
        .store
        .queue_events(call)
        .await
        .expect("events")
        .into_iter()
        .filter(|e| e.kind == QueueEventKind::Offer)
        .filter_map(|e| e.agent.map(|a| a.to_string()))
        .collect();
    assert_eq!(
        offers,
        ["1002"],
        "only the skilled agent was offered the call"
    );
}

#[tokio::test]
async fn a_caller_that_overflowed_before_a_restart_stays_in_the_new_queue_with_no_repeated_events()
{
    let queues = || {
        vec![
            queue_row(
                "support",
                QueueRouting {
                    max_wait: Some(Duration::from_secs(1)),
                    on_max_wait: Some(Destination::Queue {
                        queue: QueueId::new("backup").expect("id"),
                    }),
                    ..QueueRouting::default()
                },
            ),
            queue_row("backup", QueueRouting::default()),
        ]
    };
    let agents = [Agent::answering("2001").in_queues(&["backup"]).logged_out()];
    let mut app = spawn_setup(Setup {
        queues: queues(),
        agents: vec![Agent::answering("2001").in_queues(&["backup"]).logged_out()],
        entries: Vec::new(),
    })
    .await;
    app.connected().await;
    let uuid = app.sim.place_call(CallSpec::new("111", ENTRY));
    eventually("the caller overflows into backup", || async {
        app.running()
            .snapshot()
            .calls
            .iter()
            .any(|c| c.queue.as_str() == "backup")
    })
    .await;
    let before = app.running().snapshot().calls[0].clone();

    restart(&mut app, queues(), &agents).await;
    let calls = waiting(&app, 1).await;
    assert_eq!(calls[0].queue.as_str(), "backup");
    assert_eq!(calls[0].entered_at, before.entered_at);
    assert_eq!(app.set_agent_state("2001", "available").await.status(), 200);
    wait_bridged(&app, &uuid).await;
    let kinds: Vec<String> = app
        .running()
        .store
        .queue_events(before.id)
        .await
        .expect("events")
        .into_iter()
        .filter(|e| {
            matches!(
                e.kind,
                QueueEventKind::Enter | QueueEventKind::Timeout | QueueEventKind::Overflow
            )
        })
        .map(|e| format!("{} {}", e.kind.as_str(), e.queue))
        .collect();
    assert_eq!(
        kinds,
        [
            "enter support",
            "timeout support",
            "overflow support",
            "enter backup"
        ]
    );
}

#[tokio::test]
async fn a_conversation_through_a_restart_counts_its_talk_time_from_the_answer() {
    let mut app = spawn_setup(Setup {
        queues: support(),
        agents: vec![Agent::answering("1001")],
        entries: Vec::new(),
    })
    .await;
    app.connected().await;
    let uuid = app.sim.place_call(CallSpec::new("111", ENTRY));
    wait_bridged(&app, &uuid).await;
    let bridged = Instant::now();
    eventually("the snapshot shows the call", || async {
        !app.running().snapshot().calls.is_empty()
    })
    .await;
    let call = app.running().snapshot().calls[0].id;
    // Talk long enough before the restart that a talk time restarted at adoption would be
    // seconds short (the invariant check compares it with the switch's agent leg too).
    tokio::time::sleep(Duration::from_secs(2)).await;

    restart(&mut app, support(), &[Agent::answering("1001")]).await;
    eventually("the conversation is adopted", || async {
        app.running().snapshot().agents_busy() == 1
    })
    .await;
    let agent_leg = app
        .sim
        .channel(&uuid)
        .and_then(|c| c.bridged_to)
        .expect("still bridged");
    assert!(app.sim.hangup(&agent_leg, "NORMAL_CLEARING"));
    let talked = i64::try_from(bridged.elapsed().as_millis()).expect("small");
    let store = app.running().store.clone();
    eventually("the call ends in the history", || async {
        store
            .call(call)
            .await
            .ok()
            .flatten()
            .is_some_and(|c| c.ended_at.is_some())
    })
    .await;
    let row = store.call(call).await.expect("read").expect("the call");
    let talk_ms = row.talk_ms.expect("talk time");
    assert!(
        talk_ms >= 2_000 && talk_ms <= talked + 1_000,
        "talk_ms={talk_ms}, the test saw {talked} ms"
    );
}

#[tokio::test]
async fn a_caller_who_abandoned_before_a_restart_resumes_their_place_after_it() {
    let queues = || {
        vec![queue_row(
            "support",
            QueueRouting {
                abandoned_resume: Some(Duration::from_secs(300)),
                ..QueueRouting::default()
            },
        )]
    };
    let agents = [Agent::answering("1001").logged_out()];
    let mut app = spawn_setup(Setup {
        queues: queues(),
        agents: vec![Agent::answering("1001").logged_out()],
        entries: Vec::new(),
    })
    .await;
    app.connected().await;
    let gone = app.sim.place_call(CallSpec::new("111", ENTRY));
    let first = waiting(&app, 1).await[0].clone();
    assert!(app.sim.hangup(&gone, "NORMAL_CLEARING"));
    let store = app.running().store.clone();
    eventually("the abandon is in the history", || async {
        store
            .call(first.id)
            .await
            .ok()
            .flatten()
            .is_some_and(|c| c.ended_at.is_some())
    })
    .await;

    restart(&mut app, queues(), &agents).await;
    app.sim.place_call(CallSpec::new("111", ENTRY));
    let back = waiting(&app, 1).await[0].clone();
    assert_ne!(back.id, first.id, "a new call");
    assert_eq!(back.entered_at, first.entered_at, "with the old place");
    let events = app
        .running()
        .store
        .queue_events(back.id)
        .await
        .expect("events");
    assert!(
        events.iter().any(|e| e.kind == QueueEventKind::Resume),
        "{events:?}"
    );
}

const ASK_THEN_MENU: &str = r#"
[node.start]
kind = "collect"
prompt = "silence_stream://100"
max_digits = 4
timeout = "5s"
variable = "account"
next = "menu"
on_failure = "bye"

[node.menu]
kind = "menu"
prompt = "silence_stream://200"
timeout = "30s"
on_invalid = "bye"
on_no_input = "bye"
[node.menu.options]
1 = "check"

[node.check]
kind = "condition"
otherwise = "bye"
[[node.check.when]]
variable = "account"
equals = "4711"
next = "known"

[node.known]
kind = "hangup"
cause = "NORMAL_CLEARING"

[node.bye]
kind = "hangup"
cause = "CALL_REJECTED"
"#;

#[tokio::test]
async fn a_caller_mid_menu_through_a_restart_goes_on_at_the_menu_with_the_earlier_answers() {
    let (mut app, _flows) = app_serving(ASK_THEN_MENU).await;
    let uuid = app
        .sim
        .place_call_pressing(caller(), keys(&[(300, "4711")]));
    let sim = app.sim.clone();
    eventually("the caller reaches the menu", || {
        let (sim, uuid) = (sim.clone(), uuid.clone());
        async move { sim.played_on(&uuid).len() >= 2 }
    })
    .await;
    let store = app.running().store.clone();
    let call = {
        let channel = switchboard::engine::ChannelId::parse(&uuid).expect("uuid");
        let session = store
            .flow_session_of_channel(&channel)
            .await
            .expect("read")
            .expect("a session");
        eventually("the history knows the caller waits at the menu", || async {
            store
                .flow_place(session.call)
                .await
                .ok()
                .flatten()
                .is_some_and(|p| p.node == "menu")
        })
        .await;
        session.call
    };

    restart(&mut app, support(), &[Agent::answering("1001")]).await;
    eventually("the menu prompt plays again", || {
        let (sim, uuid) = (sim.clone(), uuid.clone());
        async move { sim.played_on(&uuid).len() >= 3 }
    })
    .await;
    assert_eq!(
        sim.played_on(&uuid).last().map(String::as_str),
        Some("silence_stream://200"),
        "the menu's prompt, not the flow's first"
    );
    assert!(app.sim.send_dtmf(&uuid, "1"));
    let session = ended_session(&app, &uuid).await;
    assert_eq!(session["call"], call.to_string(), "the same session");
    assert_eq!(
        steps(&session),
        [
            step("start", "collected"),
            step("menu", "1"),
            step("check", "account = 4711"),
            step("known", "hung up"),
        ],
        "{session}"
    );
    assert_eq!(session["variables"]["account"], "4711");
}
