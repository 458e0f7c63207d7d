//! ACD routing end to end: ring-all, escalation, overflow, callback and resume, with the real
//! controller against the simulator over TCP and SQLite on disk.

use std::time::Duration;

use switchboard::engine::{
    AgentStatus, CallbackSettings, CallerSkills, Destination, EscalationStep, QueueId,
    QueueRouting, Strategy,
};
use switchboard::engine::{CallId, QueueEventKind};
use switchboard::sim::{CallSpec, EntryPoint, PhoneBehavior};

use crate::harness::{
    eventually, queue_row, spawn_setup, wait_status, Agent, Setup, TestApp, ENTRY,
};

fn answering_after(id: &'static str, ms: u64) -> Agent {
    Agent::answering(id).with(PhoneBehavior::Answer {
        after: Duration::from_millis(ms),
    })
}

/// Waits until the history holds a queue event of `kind`, and returns the call's events as
/// `kind agent` lines.
async fn wait_event(app: &TestApp, kind: QueueEventKind) -> (CallId, Vec<String>) {
    let store = app.running().store.clone();
    let found = || {
        let store = store.clone();
        async move {
            for call in store.recent_calls(20).await.ok()? {
                let events = store.queue_events(call.id).await.ok()?;
                if events.iter().any(|e| e.kind == kind) {
                    let lines = events
                        .iter()
                        .map(|e| {
                            let agent = e.agent.as_ref().map_or("-", |a| a.as_str());
                            format!("{} {agent}", e.kind.as_str())
                        })
                        .collect();
                    return Some((call.id, lines));
                }
            }
            None
        }
    };
    eventually(&format!("a {} event is stored", kind.as_str()), || async {
        found().await.is_some()
    })
    .await;
    found().await.expect("found above")
}

#[tokio::test]
async fn ring_all_bridges_the_first_phone_to_answer_and_frees_the_others() {
    let app = spawn_setup(Setup {
        queues: vec![queue_row(
            "support",
            QueueRouting {
                strategy: Strategy::RingAll,
                ..QueueRouting::default()
            },
        )],
        agents: vec![
            answering_after("1001", 900),
            answering_after("1002", 100),
            answering_after("1003", 600),
        ],
        entries: Vec::new(),
    })
    .await;
    app.connected().await;
    let caller = app.sim.place_call(CallSpec::new("4930111", ENTRY));
    wait_status(&app, "1002", AgentStatus::OnCall).await;
    let bridged = app.sim.channel(&caller).and_then(|c| c.bridged_to);
    let winner = app.sim.channel(bridged.as_deref().unwrap_or_default());
    assert_eq!(
        winner
            .as_ref()
            .and_then(|c| c.variable("switchboard_agent_id")),
        Some("1002")
    );
    wait_status(&app, "1001", AgentStatus::Available).await;
    wait_status(&app, "1003", AgentStatus::Available).await;
    // The losers' legs are gone from the switch: only the caller and the winner remain.
    eventually("the losing legs are hung up", || async {
        app.sim.channels().len() == 2
    })
    .await;
    let (_, events) = wait_event(&app, QueueEventKind::Connect).await;
    assert_eq!(events[0], "enter -");
    assert_eq!(events.iter().filter(|e| e.starts_with("offer")).count(), 3);
    assert_eq!(events.last().map(String::as_str), Some("connect 1002"));
}

#[tokio::test]
async fn a_call_escalates_to_a_less_skilled_agent_after_the_first_step() {
    let step = |after_ms: u64, require: &str| EscalationStep {
        after: Duration::from_millis(after_ms),
        require: switchboard::engine::parse_skill_list(require).expect("skills"),
        caller_skills: CallerSkills::Require,
        ..EscalationStep::default()
    };
    let app = spawn_setup(Setup {
        queues: vec![queue_row(
            "support",
            QueueRouting {
                steps: vec![step(0, "spanish:7"), step(800, "spanish:3")],
                ..QueueRouting::default()
            },
        )],
        agents: vec![
            Agent::answering("1001").skilled("spanish:4"),
            Agent::answering("1002").skilled("german:9"),
        ],
        entries: Vec::new(),
    })
    .await;
    app.connected().await;
    app.sim.place_call(CallSpec::new("4930111", ENTRY));
    let (_, events) = wait_event(&app, QueueEventKind::Connect).await;
    assert_eq!(
        events,
        ["enter -", "escalate -", "offer 1001", "connect 1001"]
    );
}

#[tokio::test]
async fn skills_set_by_the_dialplan_route_to_an_agent_who_has_them() {
    let app = spawn_setup(Setup {
        queues: vec![queue_row("support", QueueRouting::default())],
        agents: vec![
            Agent::answering("1001").skilled("english:9"),
            Agent::answering("1002").skilled("french:6"),
        ],
        entries: vec![EntryPoint {
            number: "5010".into(),
            variables: vec![
                ("switchboard_queue".into(), "support".into()),
                ("switchboard_skills".into(), "french:5".into()),
            ],
        }],
    })
    .await;
    app.connected().await;
    app.sim.place_call(CallSpec::new("4930111", "5010"));
    let (_, events) = wait_event(&app, QueueEventKind::Connect).await;
    assert_eq!(events, ["enter -", "offer 1002", "connect 1002"]);
}

#[tokio::test]
async fn max_wait_overflows_to_the_backup_queue_and_to_an_extension() {
    let app = spawn_setup(Setup {
        queues: vec![
            queue_row(
                "support",
                QueueRouting {
                    max_wait: Some(Duration::from_millis(500)),
                    on_max_wait: Some(Destination::Queue {
                        queue: QueueId::new("backup").expect("id"),
                    }),
                    ..QueueRouting::default()
                },
            ),
            queue_row(
                "backup",
                QueueRouting {
                    max_wait: Some(Duration::from_millis(1_500)),
                    on_max_wait: Some(Destination::Extension {
                        number: "9199".into(),
                        context: "default".into(),
                    }),
                    ..QueueRouting::default()
                },
            ),
        ],
        agents: vec![Agent::answering("2001").in_queues(&["backup"]).logged_out()],
        entries: Vec::new(),
    })
    .await;
    app.connected().await;
    let caller = app.sim.place_call(CallSpec::new("4930111", ENTRY));
    let (_, events) = wait_event(&app, QueueEventKind::Overflow).await;
    assert_eq!(
        events[..4],
        ["enter -", "timeout -", "overflow -", "enter -"]
    );
    // Nobody in backup either: after its own max wait (counted from the first entry) the
    // caller is transferred to the extension.
    eventually("the caller is transferred to 9199", || async {
        app.sim
            .channel(&caller)
            .is_some_and(|c| c.transferred_to.as_deref() == Some("9199"))
    })
    .await;
    let call = app.running().store.recent_calls(1).await.expect("calls");
    eventually("the call is closed as overflowed", || async {
        app.running()
            .store
            .recent_calls(1)
            .await
            .ok()
            .and_then(|c| c.first().and_then(|c| c.outcome))
            .is_some_and(|o| o.as_str() == "overflowed")
    })
    .await;
    assert_eq!(call.len(), 1);
}

#[tokio::test]
async fn a_caller_who_asks_for_a_callback_is_called_back_when_an_agent_is_free() {
    let app = spawn_setup(Setup {
        queues: vec![queue_row(
            "support",
            QueueRouting {
                callback: Some(CallbackSettings {
                    key: '1',
                    dial: "user/{number}".into(),
                    ..CallbackSettings::default()
                }),
                ..QueueRouting::default()
            },
        )],
        agents: vec![
            Agent::answering("1001").logged_out(),
            // The customer's own phone, reachable as user/5551234.
            Agent::answering("5551234").in_queues(&[]).logged_out(),
        ],
        entries: Vec::new(),
    })
    .await;
    app.connected().await;
    let caller = app.sim.place_call_pressing(
        CallSpec::new("5551234", ENTRY),
        vec![(Duration::from_millis(300), "1#".into())],
    );
    wait_event(&app, QueueEventKind::CallbackRequested).await;
    eventually("the caller is hung up after confirming", || async {
        app.sim.channel(&caller).is_none()
    })
    .await;
    assert_eq!(app.set_agent_state("1001", "available").await.status(), 200);
    let (_, events) = wait_event(&app, QueueEventKind::CallbackConnected).await;
    assert_eq!(
        events,
        [
            "enter -",
            "callback_requested -",
            "offer 1001",
            "callback_connected 1001",
            "connect 1001"
        ]
    );
    wait_status(&app, "1001", AgentStatus::OnCall).await;
}

#[tokio::test]
async fn a_caller_who_calls_back_soon_after_hanging_up_gets_its_place_back() {
    let app = spawn_setup(Setup {
        queues: vec![queue_row(
            "support",
            QueueRouting {
                abandoned_resume: Some(Duration::from_secs(60)),
                ..QueueRouting::default()
            },
        )],
        agents: vec![Agent::answering("1001").logged_out()],
        entries: Vec::new(),
    })
    .await;
    app.connected().await;
    let mut first = CallSpec::new("4930111", ENTRY);
    first.patience = Some(Duration::from_millis(200));
    app.sim.place_call(first);
    wait_event(&app, QueueEventKind::Abandon).await;
    app.sim.place_call(CallSpec::new("4930222", ENTRY));
    eventually("the second caller waits", || async {
        app.running().snapshot().waiting() == 1
    })
    .await;
    let again = app.sim.place_call(CallSpec::new("4930111", ENTRY));
    let (_, events) = wait_event(&app, QueueEventKind::Resume).await;
    assert_eq!(events, ["enter -", "resume -"]);
    assert_eq!(app.set_agent_state("1001", "available").await.status(), 200);
    // The returning caller is ahead of the one who came in while it was away.
    eventually("the returning caller is bridged first", || async {
        app.sim
            .channel(&again)
            .is_some_and(|c| c.bridged_to.is_some())
    })
    .await;
}

#[tokio::test]
async fn a_supervisor_raises_a_waiting_callers_priority_and_pauses_an_agent_with_a_reason() {
    let app = spawn_setup(Setup {
        queues: vec![queue_row("support", QueueRouting::default())],
        agents: vec![Agent::answering("1001").logged_out()],
        entries: Vec::new(),
    })
    .await;
    app.connected().await;
    app.sim.place_call(CallSpec::new("4930111", ENTRY));
    let second = app.sim.place_call(CallSpec::new("4930222", ENTRY));
    eventually("both callers wait", || async {
        app.running().snapshot().waiting() == 2
    })
    .await;
    let call = app
        .running()
        .snapshot()
        .calls
        .iter()
        .find(|c| c.caller_number == "4930222")
        .map(|c| c.id)
        .expect("second call");
    let patch = |body: serde_json::Value| {
        app.http
            .patch(format!("{}/v1/calls/{call}", app.base))
            .json(&body)
            .send()
    };
    let refused = patch(serde_json::json!({ "skills": "spanish:11" }))
        .await
        .expect("request");
    assert_eq!(refused.status(), 400);
    let raised = patch(serde_json::json!({ "priority": 7 }))
        .await
        .expect("request");
    assert_eq!(raised.status(), 200);

    let pause = |reason: &str| {
        app.put_json(
            "/v1/agents/1001/state",
            serde_json::json!({ "state": "paused", "reason": reason }),
        )
    };
    assert_eq!(pause("lunch break").await.status(), 400);
    assert_eq!(pause("lunch").await.status(), 200);
    eventually("the pause and its reason are published", || async {
        let agent: serde_json::Value = app
            .get("/v1/agents/1001")
            .await
            .json()
            .await
            .unwrap_or_default();
        agent["status"] == "paused" && agent["reason"] == "lunch"
    })
    .await;
    assert_eq!(app.set_agent_state("1001", "available").await.status(), 200);
    eventually("the raised caller is bridged first", || async {
        app.sim
            .channel(&second)
            .is_some_and(|c| c.bridged_to.is_some())
    })
    .await;
}

#[tokio::test]
async fn a_requested_callback_survives_a_controller_restart() {
    let routing = QueueRouting {
        callback: Some(CallbackSettings {
            key: '1',
            dial: "user/{number}".into(),
            ..CallbackSettings::default()
        }),
        ..QueueRouting::default()
    };
    let agents = || {
        vec![
            Agent::answering("1001").logged_out(),
            Agent::answering("5551234").in_queues(&[]).logged_out(),
        ]
    };
    let mut app = spawn_setup(Setup {
        queues: vec![queue_row("support", routing.clone())],
        agents: agents(),
        entries: Vec::new(),
    })
    .await;
    app.connected().await;
    app.sim.place_call_pressing(
        CallSpec::new("5551234", ENTRY),
        vec![(Duration::from_millis(300), "1#".into())],
    );
    wait_event(&app, QueueEventKind::CallbackRequested).await;
    app.stop_controller().await;
    app.start_with(vec![queue_row("support", routing)], &agents())
        .await;
    app.connected().await;
    eventually("the callback waits in the queue again", || async {
        app.running()
            .snapshot()
            .calls
            .iter()
            .any(|c| c.state == "callback")
    })
    .await;
    assert_eq!(app.set_agent_state("1001", "available").await.status(), 200);
    let (_, events) = wait_event(&app, QueueEventKind::CallbackConnected).await;
    assert_eq!(events.last().map(String::as_str), Some("connect 1001"));
}
