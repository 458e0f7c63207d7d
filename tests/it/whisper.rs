//! The whisper end to end: the real controller against the simulator over TCP. A second,
//! passive ESL connection watches what the switch does, in the order it does it.

use std::time::Duration;

use freeswitch_esl_tokio::{EslClient, EslEventStream, EventFormat};
use switchboard::engine::{AgentStatus, QueueEventKind, QueueRouting};
use switchboard::sim::CallSpec;

use crate::harness::{eventually, queue_row, spawn_setup, Agent, Setup, TestApp, ENTRY};

const WHISPER: &str = "switchboard/queue-support.wav";

async fn whispering_app() -> TestApp {
    let app = spawn_setup(Setup {
        queues: vec![queue_row(
            "support",
            QueueRouting {
                whisper: Some(WHISPER.into()),
                ..QueueRouting::default()
            },
        )],
        agents: vec![Agent::answering("1001")],
        entries: Vec::new(),
    })
    .await;
    app.connected().await;
    app
}

async fn watch(app: &TestApp) -> (EslClient, EslEventStream) {
    let addr = app.sim.esl_addr();
    let (client, events) = EslClient::connect("127.0.0.1", addr.port(), "ClueCon")
        .await
        .expect("connect a watcher");
    client
        .subscribe_events_raw(
            EventFormat::Plain,
            "CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_BRIDGE",
        )
        .await
        .expect("subscribe");
    (client, events)
}

/// One event as `<name> <caller|agent> <application>`, for the channels of one call.
fn describe(event: &freeswitch_esl_tokio::EslEvent, caller: &str) -> String {
    let name = event.header_str("Event-Name").unwrap_or_default();
    let who = if event.header_str("Unique-ID") == Some(caller) {
        "caller"
    } else {
        "agent"
    };
    let app = event.header_str("Application").unwrap_or_default();
    format!("{name} {who} {app}").trim_end().to_owned()
}

#[tokio::test]
async fn the_agent_hears_the_whisper_before_the_caller_is_bridged_off_hold() {
    let app = whispering_app().await;
    let (_watcher, mut events) = watch(&app).await;
    let caller = app.sim.place_call(CallSpec::new("4930111", ENTRY));

    let mut seen = Vec::new();
    let mut checked_during_whisper = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let event = match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(Ok(event))) => event,
            other => panic!("no bridge after {seen:?}: {other:?}"),
        };
        let line = describe(&event, &caller);
        if line == "CHANNEL_EXECUTE agent playback" {
            assert_eq!(event.header_str("Application-Data"), Some(WHISPER));
            // While the agent hears the whisper, the caller still hears its hold music.
            let agent_leg = event.header_str("Unique-ID").unwrap_or_default();
            let leg = app.sim.channel(agent_leg).expect("agent leg");
            assert_eq!(leg.running_app.as_deref(), Some("playback"));
            assert_eq!(leg.bridged_to, None);
            let held = app.sim.channel(&caller).expect("caller");
            assert_eq!(held.running_app.as_deref(), Some("playback"));
            assert_eq!(held.bridged_to, None);
            checked_during_whisper = true;
        }
        let bridged = line.starts_with("CHANNEL_BRIDGE");
        seen.push(line);
        if bridged {
            break;
        }
    }
    assert!(checked_during_whisper, "no whisper seen: {seen:?}");
    let position = |line: &str| seen.iter().position(|l| l == line);
    let whisper_starts = position("CHANNEL_EXECUTE agent playback");
    let whisper_ends = position("CHANNEL_EXECUTE_COMPLETE agent playback");
    let hold_ends = position("CHANNEL_EXECUTE_COMPLETE caller playback");
    assert!(whisper_starts < whisper_ends, "{seen:?}");
    assert!(
        whisper_ends.is_some() && whisper_ends < hold_ends,
        "the caller left hold before the whisper ended: {seen:?}"
    );
    assert!(hold_ends.is_some(), "{seen:?}");

    let bridged_to = app.sim.channel(&caller).and_then(|c| c.bridged_to);
    let agent = bridged_to.as_deref().and_then(|leg| app.sim.channel(leg));
    assert_eq!(
        agent
            .as_ref()
            .and_then(|a| a.variable("switchboard_agent_id")),
        Some("1001")
    );
    let store = app.running().store.clone();
    let connect = || {
        let store = store.clone();
        async move {
            for call in store.recent_calls(5).await.ok()? {
                let events = store.queue_events(call.id).await.ok()?;
                if let Some(e) = events.iter().find(|e| e.kind == QueueEventKind::Connect) {
                    return Some((call, e.detail.clone()));
                }
            }
            None
        }
    };
    eventually("the connect is stored", || async {
        connect().await.is_some()
    })
    .await;
    let (call, detail) = connect().await.expect("found above");
    assert!(detail.contains("whisper_ms="), "{detail}");
    assert!(call.answered_at.is_some());
}

#[tokio::test]
async fn a_caller_who_hangs_up_during_the_whisper_abandons_and_the_agent_is_free() {
    let app = whispering_app().await;
    let (_watcher, mut events) = watch(&app).await;
    let caller = app.sim.place_call(CallSpec::new("4930111", ENTRY));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(Ok(event)))
                if describe(&event, &caller) == "CHANNEL_EXECUTE agent playback" =>
            {
                break
            }
            Ok(Some(Ok(_))) => {}
            other => panic!("no whisper: {other:?}"),
        }
    }
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
    eventually("only the agent is left, then nobody", || async {
        app.sim.channels().is_empty()
    })
    .await;
    eventually("the agent is available again", || async {
        app.running()
            .snapshot()
            .agents
            .iter()
            .any(|a| a.id.as_str() == "1001" && a.status == AgentStatus::Available)
    })
    .await;
    let store = app.running().store.clone();
    eventually("the call is an abandon", || async {
        let Ok(calls) = store.recent_calls(5).await else {
            return false;
        };
        calls
            .iter()
            .any(|c| c.outcome.map(|o| o.as_str()) == Some("abandoned"))
    })
    .await;
}
