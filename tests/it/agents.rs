//! Agents at desk phones, end to end: registration awareness and BLF lamps through the
//! simulator's real event formats.

use switchboard::engine::{AgentStatus, QueueRouting};
use switchboard::sim::CallSpec;

use crate::harness::{
    eventually, queue_row, spawn_setup, spawn_setup_with_presence, wait_status, Agent, Setup,
    TestApp, ENTRY,
};

fn support(agents: Vec<Agent>) -> Setup {
    Setup {
        queues: vec![queue_row("support", QueueRouting::default())],
        agents,
        entries: Vec::new(),
    }
}

#[tokio::test]
async fn an_agent_whose_phone_unregisters_gets_no_calls_until_it_registers_again() {
    let app = spawn_setup(support(vec![Agent::answering("1001")])).await;
    app.connected().await;
    wait_status(&app, "1001", AgentStatus::Available).await;
    assert!(app.sim.unregister_phone("1001"));
    wait_status(&app, "1001", AgentStatus::Unreachable).await;
    let agent: serde_json::Value = app
        .get("/v1/agents/1001")
        .await
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(agent["reason"], "unregister");
    let caller = app.sim.place_call(CallSpec::new("4930111", ENTRY));
    eventually("the caller waits", || async {
        app.running().snapshot().waiting() == 1
    })
    .await;
    assert!(app.sim.register_phone("1001"));
    eventually("the caller is bridged once the phone is back", || async {
        app.sim
            .channel(&caller)
            .is_some_and(|c| c.bridged_to.is_some())
    })
    .await;
}

#[tokio::test]
async fn an_agent_whose_registration_expires_mid_call_is_unreachable_after_it() {
    let app = spawn_setup(support(vec![Agent::answering("1001")])).await;
    app.connected().await;
    wait_status(&app, "1001", AgentStatus::Available).await;
    let caller = app.sim.place_call(CallSpec::new("4930111", ENTRY));
    wait_status(&app, "1001", AgentStatus::OnCall).await;
    assert!(app.sim.expire_phone("1001"));
    // The call goes on: the expiry changes nothing until it ends (the unreachable state that
    // follows proves the expiry was seen).
    // The agent is on the call at its answer; the bridge follows the originate's return.
    eventually("the caller is bridged to the agent", || async {
        app.sim
            .channel(&caller)
            .is_some_and(|c| c.bridged_to.is_some())
    })
    .await;
    app.sim.hangup(&caller, "NORMAL_CLEARING");
    wait_status(&app, "1001", AgentStatus::Unreachable).await;
}

fn presence_of<'a>(
    events: &'a [(String, Vec<(String, String)>)],
    from: &str,
) -> Vec<&'a [(String, String)]> {
    events
        .iter()
        .filter(|(name, headers)| {
            name == "PRESENCE_IN"
                && headers
                    .iter()
                    .any(|(k, v)| k.eq_ignore_ascii_case("from") && v == from)
        })
        .map(|(_, headers)| headers.as_slice())
        .collect()
}

/// Header names are case-insensitive for FreeSWITCH (the ESL client capitalises some).
fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn blf_lamps_follow_the_agent_and_the_queue_and_a_new_subscriber_gets_the_lamp_again() {
    let app = spawn_setup_with_presence(
        support(vec![Agent::answering("1001").logged_out()]),
        Some("127.0.0.1"),
    )
    .await;
    app.connected().await;
    eventually("the logged-out lamp is published", || async {
        presence_of(&app.sim.sent_events(), "1001@127.0.0.1")
            .iter()
            .any(|h| header(h, "status") == Some("Logged Out"))
    })
    .await;
    app.sim.place_call(CallSpec::new("4930111", ENTRY));
    eventually("the queue lamp blinks with one caller waiting", || async {
        presence_of(&app.sim.sent_events(), "support@127.0.0.1")
            .iter()
            .any(|h| {
                header(h, "proto") == Some("queue")
                    && header(h, "status") == Some("1 waiting")
                    && header(h, "answer-state") == Some("early")
            })
    })
    .await;
    assert_eq!(app.set_agent_state("1001", "available").await.status(), 200);
    eventually("the agent lamp is lit for the call", || async {
        presence_of(&app.sim.sent_events(), "1001@127.0.0.1")
            .iter()
            .any(|h| {
                header(h, "proto") == Some("agent")
                    && header(h, "answer-state") == Some("confirmed")
                    && header(h, "status") == Some("On The Phone")
            })
    })
    .await;
    let before = presence_of(&app.sim.sent_events(), "1001@127.0.0.1").len();
    app.sim.probe_presence("1002", "agent+1001");
    eventually("a new subscriber's probe gets the lamp again", || async {
        presence_of(&app.sim.sent_events(), "1001@127.0.0.1").len() > before
    })
    .await;
}

#[tokio::test]
async fn the_agents_phone_shows_the_queue_and_the_caller_while_it_rings() {
    let mut queue = queue_row("support", QueueRouting::default());
    queue.name = "Support".into();
    let app = spawn_setup(Setup {
        queues: vec![queue],
        agents: vec![Agent::answering("1001")],
        entries: Vec::new(),
    })
    .await;
    app.connected().await;
    let caller = app.sim.place_call(CallSpec::new("4930111", ENTRY));
    eventually("the agent's leg is up", || async {
        app.sim
            .channel(&caller)
            .is_some_and(|c| c.bridged_to.is_some())
    })
    .await;
    let leg = app
        .sim
        .channel(&caller)
        .and_then(|c| c.bridged_to)
        .and_then(|leg| app.sim.channel(&leg))
        .expect("agent leg");
    assert_eq!(
        leg.variable("origination_caller_id_name"),
        Some("[Support] Caller 4930111")
    );
    assert_eq!(
        leg.variable("origination_caller_id_number"),
        Some("4930111")
    );
}

#[tokio::test]
async fn a_pause_must_give_a_provisioned_reason_and_the_reasons_are_listed() {
    let mut app = spawn_setup(support(vec![Agent::answering("1001").logged_out()])).await;
    app.stop_controller().await;
    app.pause_reasons = vec![switchboard::store::PauseReasonRow {
        code: "1".into(),
        name: "Lunch".into(),
        productive: false,
    }];
    app.start_with(
        vec![queue_row("support", QueueRouting::default())],
        &[Agent::answering("1001").logged_out()],
    )
    .await;
    let listed: serde_json::Value = app
        .get("/v1/pause-reasons")
        .await
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(listed["pause_reasons"][0]["name"], "Lunch");
    let pause = |reason: &'static str| {
        app.put_json(
            "/v1/agents/1001/state",
            serde_json::json!({ "state": "paused", "reason": reason }),
        )
    };
    let refused = pause("coffee").await;
    assert_eq!(refused.status(), 400);
    let problem: serde_json::Value = refused.json().await.unwrap_or_default();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("\"1\""),
        "{problem}"
    );
    assert_eq!(pause("1").await.status(), 200);
}

#[tokio::test]
async fn feature_codes_dialled_from_the_agents_phone_log_in_pause_and_log_out() {
    use switchboard::sim::EntryPoint;
    let feature = |number: &str, vars: &[(&str, &str)]| EntryPoint {
        number: number.into(),
        variables: vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    };
    let app = spawn_setup(Setup {
        queues: vec![queue_row("support", QueueRouting::default())],
        agents: vec![Agent::answering("1001").logged_out()],
        entries: vec![
            feature("*22", &[("switchboard_feature", "login")]),
            feature(
                "*241",
                &[
                    ("switchboard_feature", "pause"),
                    ("switchboard_reason", "1"),
                ],
            ),
            feature("*23", &[("switchboard_feature", "logout")]),
        ],
    })
    .await;
    app.connected().await;
    let login = app.sim.place_call(CallSpec::new("1001", "*22"));
    wait_status(&app, "1001", AgentStatus::Available).await;
    heard(&app, &login, "ivr/ivr-you_are_now_logged_in.wav").await;
    app.sim.place_call(CallSpec::new("1001", "*241"));
    wait_status(&app, "1001", AgentStatus::Paused).await;
    let agent: serde_json::Value = app
        .get("/v1/agents/1001")
        .await
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(agent["reason"], "1");
    assert!(
        agent["time_in_state_ms"].as_i64().is_some_and(|ms| ms >= 0),
        "{agent}"
    );
    let logout = app.sim.place_call(CallSpec::new("1001", "*23"));
    wait_status(&app, "1001", AgentStatus::LoggedOut).await;
    heard(&app, &logout, "ivr/ivr-you_are_now_logged_out.wav").await;
    eventually("every feature call was hung up after its tone", || async {
        app.sim.channels().is_empty()
    })
    .await;
    let changes = app
        .running()
        .store
        .agent_state_changes(&switchboard::engine::AgentId::new("1001").expect("id"), 10)
        .await
        .expect("history");
    assert!(
        changes.iter().all(|c| c.cause.as_str() == "phone"),
        "{changes:?}"
    );
}

#[tokio::test]
async fn an_agent_logs_in_at_another_phone_with_a_pin_and_calls_ring_there() {
    use switchboard::sim::EntryPoint;
    let hot_desk = |number: &str, pin: &str| EntryPoint {
        number: number.into(),
        variables: vec![
            ("switchboard_feature".into(), "login".into()),
            ("switchboard_agent_number".into(), "1001".into()),
            ("switchboard_pin".into(), pin.into()),
        ],
    };
    let app = spawn_setup(Setup {
        queues: vec![queue_row("support", QueueRouting::default())],
        agents: vec![
            Agent::answering("1001").logged_out().with_pin("4711"),
            // The desk phone in the other room.
            Agent::answering("2002").in_queues(&[]).logged_out(),
        ],
        entries: vec![hot_desk("*2101", "0000"), hot_desk("*2102", "4711")],
    })
    .await;
    app.connected().await;
    let wrong = app.sim.place_call(CallSpec::new("2002", "*2101"));
    heard(&app, &wrong, "ivr/ivr-pin_or_extension_is-invalid.wav").await;
    eventually("the wrong PIN's call ends", || async {
        app.sim.channels().is_empty()
    })
    .await;
    wait_status(&app, "1001", AgentStatus::LoggedOut).await;
    app.sim.place_call(CallSpec::new("2002", "*2102"));
    wait_status(&app, "1001", AgentStatus::Available).await;
    let caller = app.sim.place_call(CallSpec::new("4930111", ENTRY));
    eventually("the call reaches the agent at the other phone", || async {
        app.sim
            .channel(&caller)
            .and_then(|c| c.bridged_to)
            .and_then(|leg| app.sim.channel(&leg))
            .is_some_and(|leg| leg.variable("switchboard_agent_id") == Some("1001"))
    })
    .await;
    let leg = app
        .sim
        .channel(&caller)
        .and_then(|c| c.bridged_to)
        .and_then(|leg| app.sim.channel(&leg))
        .expect("agent leg");
    assert_eq!(leg.destination, "2002", "rang the hot-desk phone");
}

#[tokio::test]
async fn an_agent_whose_phone_is_not_registered_when_the_controller_connects_is_unreachable() {
    use switchboard::sim::PhoneBehavior;
    let app = spawn_setup(support(vec![
        Agent::answering("1001").with(PhoneBehavior::Unregistered),
        Agent::answering("1002"),
    ]))
    .await;
    app.connected().await;
    wait_status(&app, "1001", AgentStatus::Unreachable).await;
    wait_status(&app, "1002", AgentStatus::Available).await;
}

/// Waits until the feature call `channel` has played `prompt` (after its tone).
async fn heard(app: &TestApp, channel: &str, prompt: &str) {
    eventually(&format!("{channel} heard {prompt}"), || async {
        app.sim.played_on(channel).iter().any(|path| path == prompt)
    })
    .await;
}

#[tokio::test]
async fn hot_desking_is_refused_with_a_prompt_for_an_unknown_agent_and_when_logged_in_elsewhere() {
    use switchboard::sim::EntryPoint;
    let hot_desk = |number: &str, agent: &str| EntryPoint {
        number: number.into(),
        variables: vec![
            ("switchboard_feature".into(), "login".into()),
            ("switchboard_agent_number".into(), agent.into()),
            ("switchboard_pin".into(), "4711".into()),
        ],
    };
    let agents = || {
        vec![
            Agent::answering("1001").with_pin("4711"),
            Agent::answering("2002").in_queues(&[]).logged_out(),
        ]
    };
    let queues = || vec![queue_row("support", QueueRouting::default())];
    let mut app = spawn_setup(Setup {
        queues: queues(),
        agents: agents(),
        entries: vec![hot_desk("*2101", "1001"), hot_desk("*2109", "9999")],
    })
    .await;
    app.stop_controller().await;
    app.hot_desk_moves = false;
    app.start_with(queues(), &agents()).await;
    app.connected().await;
    wait_status(&app, "1001", AgentStatus::Available).await;
    let unknown = app.sim.place_call(CallSpec::new("2002", "*2109"));
    heard(&app, &unknown, "ivr/ivr-pin_or_extension_is-invalid.wav").await;
    let elsewhere = app.sim.place_call(CallSpec::new("2002", "*2101"));
    heard(&app, &elsewhere, "ivr/ivr-not_have_permission.wav").await;
    eventually("both refused calls are hung up", || async {
        app.sim.channels().is_empty()
    })
    .await;
    assert!(
        !app.sim
            .played()
            .iter()
            .any(|(_, p)| p.contains("logged_in")),
        "no one was logged in"
    );
}

#[tokio::test]
async fn every_feature_code_of_the_shipped_dialplan_works_from_the_phone() {
    let entries = crate::harness::shipped_feature_codes(
        &["*21", "*22", "*23", "*241", "*25", "*26", "agent+1001"],
        &[
            ("switchboard_agent_number", "1001"),
            ("switchboard_pin", "4711"),
        ],
    );
    let agents = || {
        vec![
            Agent::answering("1001")
                .logged_out()
                .with_pin("4711")
                .hanging_up_after(std::time::Duration::from_millis(200)),
            Agent::answering("2002").in_queues(&[]).logged_out(),
        ]
    };
    let queues = || {
        let mut support = queue_row("support", QueueRouting::default());
        support.wrap_up_ms = 60_000;
        vec![support]
    };
    let mut app = spawn_setup(Setup {
        queues: queues(),
        agents: agents(),
        entries,
    })
    .await;
    app.stop_controller().await;
    app.pause_reasons = vec![switchboard::store::PauseReasonRow {
        code: "1".into(),
        name: "Lunch".into(),
        productive: false,
    }];
    app.start_with(queues(), &agents()).await;
    app.connected().await;
    let dial = |phone: &str, code: &str| app.sim.place_call(CallSpec::new(phone, code));

    let login = dial("1001", "*22");
    wait_status(&app, "1001", AgentStatus::Available).await;
    heard(&app, &login, "ivr/ivr-you_are_now_logged_in.wav").await;
    dial("1001", "*241");
    wait_status(&app, "1001", AgentStatus::Paused).await;
    dial("1001", "*25");
    wait_status(&app, "1001", AgentStatus::Available).await;
    app.sim.place_call(CallSpec::new("4930111", ENTRY));
    wait_status(&app, "1001", AgentStatus::WrapUp).await;
    dial("1001", "*26");
    wait_status(&app, "1001", AgentStatus::Available).await;
    dial("1001", "agent+1001");
    wait_status(&app, "1001", AgentStatus::Paused).await;
    dial("1001", "agent+1001");
    wait_status(&app, "1001", AgentStatus::Available).await;
    let logout = dial("1001", "*23");
    wait_status(&app, "1001", AgentStatus::LoggedOut).await;
    heard(&app, &logout, "ivr/ivr-you_are_now_logged_out.wav").await;

    // Hot-desking at the phone in the other room, then logging out there; then *22 at a
    // phone no agent has: it is sent to *21, which asks for the agent number and PIN.
    let hot_desk = dial("2002", "*21");
    wait_status(&app, "1001", AgentStatus::Available).await;
    heard(&app, &hot_desk, "ivr/ivr-you_are_now_logged_in.wav").await;
    dial("2002", "*23");
    wait_status(&app, "1001", AgentStatus::LoggedOut).await;
    let unbound = dial("3003", "*22");
    wait_status(&app, "1001", AgentStatus::Available).await;
    heard(&app, &unbound, "ivr/ivr-you_are_now_logged_in.wav").await;
    dial("3003", "*23");
    wait_status(&app, "1001", AgentStatus::LoggedOut).await;

    // The snapshot shows a state before the history writer has committed it.
    let changes = || async {
        let history: serde_json::Value = app
            .get("/v1/agents/1001/states?limit=100")
            .await
            .json()
            .await
            .unwrap_or_default();
        history["changes"].as_array().cloned().unwrap_or_default()
    };
    let phone_changes =
        |changes: &[serde_json::Value]| changes.iter().filter(|c| c["cause"] == "phone").count();
    eventually("the history has every change by phone", || async {
        phone_changes(&changes().await) >= 11
    })
    .await;
    let changes = changes().await;
    let by_phone = phone_changes(&changes);
    assert_eq!(
        by_phone, 11,
        "every code changed the state once: {changes:#?}"
    );
    assert!(
        changes.iter().all(|c| c.get("previous_state_ms").is_some()),
        "each change says how long the state it left lasted"
    );
}

/// What the phone's BLF key and presence text show, as the real switch renders our
/// PRESENCE_IN for its watchers (capture `presence-states`).
#[tokio::test]
async fn a_watching_phone_shows_paused_with_the_reason_name_wrap_up_and_ringing() {
    use switchboard::sim::WatchKind;
    let agent = || {
        Agent::answering("1001")
            .logged_out()
            .with(switchboard::sim::PhoneBehavior::Answer {
                after: std::time::Duration::from_millis(600),
            })
            .hanging_up_after(std::time::Duration::from_millis(200))
    };
    let mut app = spawn_setup_with_presence(support(vec![agent()]), Some("127.0.0.1")).await;
    app.stop_controller().await;
    app.pause_reasons = vec![switchboard::store::PauseReasonRow {
        code: "1".into(),
        name: "Lunch".into(),
        productive: false,
    }];
    let mut queue = queue_row("support", QueueRouting::default());
    queue.wrap_up_ms = 60_000;
    app.start_with(vec![queue], &[agent()]).await;
    app.connected().await;
    app.sim
        .subscribe_watcher("1003", "agent+1001", WatchKind::Presence);
    let shows = |note: &'static str, dialog: Option<&'static str>| {
        let app = &app;
        async move {
            eventually(&format!("the phone shows {note}"), || async {
                app.sim.lamp("agent+1001").is_some_and(|lamp| {
                    lamp.note.as_deref() == Some(note) && lamp.dialog_state.as_deref() == dialog
                })
            })
            .await;
        }
    };
    shows("Logged Out", None).await;
    assert_eq!(
        app.put_json(
            "/v1/agents/1001/state",
            serde_json::json!({ "state": "paused", "reason": "1" }),
        )
        .await
        .status(),
        200
    );
    shows("Paused Lunch", Some("confirmed")).await;
    assert_eq!(app.set_agent_state("1001", "available").await.status(), 200);
    shows("Available", None).await;
    app.sim.place_call(CallSpec::new("4930112", ENTRY));

    shows("Ringing", Some("early")).await;
    shows("On The Phone", Some("confirmed")).await;
    shows("Wrap-up", Some("confirmed")).await;
    let notes: Vec<String> = app
        .sim
        .notifies("1003", "agent+1001")
        .into_iter()
        .filter_map(|n| n.note)
        .collect();
    assert!(
        notes.iter().any(|n| n == "Paused Lunch"),
        "the watcher was sent the pause: {notes:?}"
    );
}

/// The real switch runs a sendmsg sent while a playback runs inside that playback unless the
/// playback holds the event lock: the tone, the prompt and the hangup sent back to back ended the
/// call before the agent heard anything (capture `switchboard-feature-codes`).
#[tokio::test]
async fn a_feature_call_stays_up_until_its_tone_has_played_then_the_switch_hangs_up() {
    use switchboard::sim::EntryPoint;
    let app = spawn_setup(Setup {
        queues: vec![queue_row("support", QueueRouting::default())],
        agents: vec![Agent::answering("1001").logged_out()],
        entries: vec![EntryPoint {
            number: "*22".into(),
            variables: vec![("switchboard_feature".into(), "login".into())],
        }],
    })
    .await;
    app.connected().await;
    let started = std::time::Instant::now();
    let login = app.sim.place_call(CallSpec::new("1001", "*22"));
    wait_status(&app, "1001", AgentStatus::Available).await;
    eventually("the switch hangs up the feature call", || async {
        app.sim.channel(&login).is_none()
    })
    .await;
    let tone = std::time::Duration::from_millis(700);
    assert!(
        started.elapsed() >= tone,
        "the call ended {:?} after it began, before the {tone:?} confirmation tone",
        started.elapsed()
    );
    heard(&app, &login, "ivr/ivr-you_are_now_logged_in.wav").await;
}
