//! Faults on purpose, on the switch link: ESL dropped right after an originate and right after
//! a `uuid_bridge`, a half-open connection, a garbage frame, replies and jobs arriving late.
//! Each test says what the controller did and ends with [`nothing_lost`]: every call placed has
//! exactly one end in the history, its CTI events are in the outbox, no agent is left busy; the
//! harness's invariant check (history against the switch) runs when the app is dropped.
//! The store, recordings and webhook faults are in `faults_store`, `faults_recordings` and
//! `faults_webhooks`.

use std::sync::atomic::Ordering;
use std::time::Duration;

use switchboard::engine::AgentStatus;
use switchboard::sim::{CallSpec, PhoneBehavior};

use crate::harness::{eventually, spawn_app, Agent, TestApp, ENTRY};

pub(crate) fn caller(number: &str) -> CallSpec {
    CallSpec {
        caller_number: number.into(),
        caller_name: format!("Caller {number}"),
        destination: ENTRY.into(),
        patience: None,
        talk_time: None,
    }
}

/// Waits until the caller is bridged on the switch; returns the agent leg.
pub(crate) async fn bridged(app: &TestApp, caller: &str) -> String {
    let ok = app
        .sim
        .wait_until(Duration::from_secs(20), |sim| {
            sim.channel(caller).is_some_and(|c| c.bridged_to.is_some())
        })
        .await;
    assert!(ok, "the caller {caller} is never bridged");
    app.sim
        .channel(caller)
        .and_then(|c| c.bridged_to)
        .expect("bridged")
}

/// Waits until the controller has connected `n` times in all.
pub(crate) async fn connected_times(app: &TestApp, n: u64) {
    let metrics = app.running().metrics.clone();
    eventually(&format!("the controller has connected {n} times"), || {
        let m = metrics.clone();
        async move { m.esl_connects.load(Ordering::Relaxed) >= n }
    })
    .await;
}

/// Waits until the switch has two listening connections again: the controller's and the
/// invariant ledger's (both reconnect after a fault that broke them).
async fn both_listening(app: &TestApp) {
    let sim = app.sim.clone();
    eventually("the controller and the ledger listen again", || {
        let sim = sim.clone();
        async move { sim.listening_connections() >= 2 }
    })
    .await;
}

/// What must hold after any fault, once the callers are gone: each of `callers` (caller
/// channel uuids) has exactly one call in the history and it ended; each of those calls has one
/// `call.entered` and one `call.ended` CTI event in the outbox; the engine holds no call and no
/// agent is offered a call or on one.
pub(crate) async fn nothing_lost(app: &TestApp, callers: &[String]) {
    let gone = app
        .sim
        .wait_until(Duration::from_secs(20), |sim| {
            callers.iter().all(|c| sim.channel(c).is_none())
        })
        .await;
    assert!(gone, "the callers are still on the switch");
    let running = app.running();
    eventually("the engine holds no call and no agent is busy", || async {
        let snapshot = running.snapshot();
        snapshot.calls.is_empty()
            && snapshot
                .agents
                .iter()
                .all(|a| !matches!(a.status, AgentStatus::Offered | AgentStatus::OnCall))
    })
    .await;
    // The history writer may be retrying after a database outage (its backoff reaches 5 s).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        match history_complete(&app.database_url, callers).await {
            Ok(()) => break,
            Err(e) if std::time::Instant::now() > deadline => panic!("{e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

async fn history_complete(url: &str, callers: &[String]) -> Result<(), String> {
    use sqlx::Row;
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(url)
        .await
        .map_err(|e| e.to_string())?;
    for caller in callers {
        let rows = sqlx::query("SELECT id, ended_at FROM calls WHERE caller_channel = $1")
            .bind(caller.as_str())
            .fetch_all(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        if rows.len() != 1 {
            return Err(format!("{caller}: {} calls in the history", rows.len()));
        }
        let id: String = rows[0].get("id");
        let ended: Option<i64> = rows[0].get("ended_at");
        if ended.is_none() {
            return Err(format!("{caller}: call {id} never ended"));
        }
        for kind in ["call.entered", "call.ended"] {
            let n: i64 = sqlx::query(
                "SELECT COUNT(*) AS n FROM cti_events WHERE call_id = $1 AND type = $2",
            )
            .bind(id.as_str())
            .bind(kind)
            .fetch_one(&mut conn)
            .await
            .map_err(|e| e.to_string())?
            .get("n");
            if n != 1 {
                return Err(format!("{caller}: call {id} has {n} {kind} events"));
            }
        }
    }
    Ok(())
}

#[tokio::test]
async fn an_esl_drop_right_after_the_originate_leaves_the_call_as_the_switch_has_it_and_originates_once(
) {
    let app = spawn_app(vec![Agent::answering("1001")], Duration::ZERO).await;
    app.connected().await;
    app.sim.drop_connections_after("originate");
    let caller = app.sim.place_call(caller("+4930100001"));
    // The switch carried out the originate; the job's reply and result went with the link.
    connected_times(&app, 2).await;
    let leg = bridged(&app, &caller).await;
    assert_eq!(app.sim.stats().originates, 1, "the agent was dialled once");
    let running = app.running();
    let on_call = || {
        let snapshot = running.snapshot();
        snapshot.calls.len() == 1
            && snapshot.calls[0].agent_channel.as_deref() == Some(leg.as_str())
            && snapshot
                .agents
                .iter()
                .any(|a| a.id.as_str() == "1001" && a.status == AgentStatus::OnCall)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !on_call() {
        assert!(
            std::time::Instant::now() < deadline,
            "the engine never had the call bridged to 1001: {:?}\nswitch: {:?}",
            running.snapshot(),
            app.sim.channels()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.sim.hangup(&caller, "NORMAL_CLEARING");
    nothing_lost(&app, &[caller]).await;
}

#[tokio::test]
async fn an_esl_drop_while_the_agent_still_rings_lets_the_resync_find_the_ringing_leg_and_bridge_it_once(
) {
    // The phone answers 1.5 s after it rings: the controller is back and resynced before.
    let app = spawn_app(
        vec![Agent::answering("1001").with(PhoneBehavior::Answer {
            after: Duration::from_millis(1_500),
        })],
        Duration::ZERO,
    )
    .await;
    app.connected().await;
    app.sim.drop_connections_after("originate");
    let caller = app.sim.place_call(caller("+4930100008"));
    connected_times(&app, 2).await;
    assert!(
        app.sim
            .channels()
            .iter()
            .any(|c| c.is_outbound_leg && !c.answered),
        "the agent's phone still rings after the reconnect"
    );
    let leg = bridged(&app, &caller).await;
    assert_eq!(app.sim.stats().originates, 1, "the agent was dialled once");
    let running = app.running();
    eventually("the engine has 1001 on the call", || async {
        let snapshot = running.snapshot();
        snapshot.calls.len() == 1
            && snapshot.calls[0].agent_channel.as_deref() == Some(leg.as_str())
    })
    .await;
    app.sim.hangup(&caller, "NORMAL_CLEARING");
    nothing_lost(&app, &[caller]).await;
}

#[tokio::test]
async fn an_esl_drop_right_after_the_bridge_keeps_the_call_bridged_and_ends_it_once() {
    let app = spawn_app(vec![Agent::answering("1001")], Duration::ZERO).await;
    app.connected().await;
    app.sim.drop_connections_after("uuid_bridge");
    let caller = app.sim.place_call(caller("+4930100002"));
    let leg = bridged(&app, &caller).await;
    connected_times(&app, 2).await;
    let running = app.running();
    eventually(
        "after the resync the engine has 1001 on the call",
        || async {
            let snapshot = running.snapshot();
            snapshot.calls.len() == 1
                && snapshot.calls[0].agent_channel.as_deref() == Some(leg.as_str())
                && snapshot
                    .agents
                    .iter()
                    .any(|a| a.id.as_str() == "1001" && a.status == AgentStatus::OnCall)
        },
    )
    .await;
    assert_eq!(app.sim.stats().originates, 1, "nothing originated twice");
    app.sim.hangup(&leg, "NORMAL_CLEARING");
    nothing_lost(&app, &[caller]).await;
}

#[tokio::test]
async fn a_half_open_link_is_found_by_the_liveness_timeout_and_the_callers_are_routed_after() {
    let app = spawn_app(vec![Agent::answering("1001").logged_out()], Duration::ZERO).await;
    app.connected().await;
    let first = app.sim.place_call(caller("+4930100003"));
    let running = app.running();
    eventually("the first caller waits", || async {
        running.snapshot().waiting() == 1
    })
    .await;
    // The network loses the switch without a FIN: the controller hears nothing more, not even
    // HEARTBEAT, until its liveness timeout (5 s here) gives up on the connection.
    app.sim.freeze_connections();
    let frozen_at = std::time::Instant::now();
    // A caller who arrives meanwhile parks unseen; the resync after the reconnect finds it.
    let second = app.sim.place_call(caller("+4930100004"));
    let metrics = running.metrics.clone();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while metrics.esl_connects.load(Ordering::Relaxed) < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the half-open link was never noticed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        frozen_at.elapsed() >= Duration::from_secs(4),
        "noticed by the liveness timeout, not by a close: {:?}",
        frozen_at.elapsed()
    );
    assert!(metrics.esl_disconnects.load(Ordering::Relaxed) >= 1);
    app.sim.release_frozen();
    both_listening(&app).await;
    eventually("both callers wait after the resync", || async {
        running.snapshot().waiting() == 2
    })
    .await;
    assert_eq!(app.set_agent_state("1001", "available").await.status(), 200);
    let leg = bridged(&app, &first).await;
    app.sim.hangup(&leg, "NORMAL_CLEARING");
    let leg = bridged(&app, &second).await;
    app.sim.hangup(&leg, "NORMAL_CLEARING");
    nothing_lost(&app, &[first, second]).await;
}

#[tokio::test]
async fn a_garbage_frame_drops_that_connection_and_the_controller_reconnects_and_resyncs() {
    let app = spawn_app(vec![Agent::answering("1001")], Duration::ZERO).await;
    app.connected().await;
    let caller = app.sim.place_call(caller("+4930100005"));
    let leg = bridged(&app, &caller).await;
    let running = app.running();
    eventually("1001 is on the call", || async {
        running
            .snapshot()
            .agents
            .iter()
            .any(|a| a.id.as_str() == "1001" && a.status == AgentStatus::OnCall)
    })
    .await;
    app.sim.send_garbage_frame();
    connected_times(&app, 2).await;
    assert!(running.metrics.esl_disconnects.load(Ordering::Relaxed) >= 1);
    both_listening(&app).await;
    let snapshot = running.snapshot();
    assert_eq!(snapshot.calls.len(), 1, "the call survived");
    assert_eq!(
        snapshot.calls[0].agent_channel.as_deref(),
        Some(leg.as_str())
    );
    app.sim.hangup(&leg, "NORMAL_CLEARING");
    let next = app.sim.place_call(self::caller("+4930100006"));
    let leg = bridged(&app, &next).await;
    app.sim.hangup(&leg, "NORMAL_CLEARING");
    nothing_lost(&app, &[caller, next]).await;
}

#[tokio::test]
async fn jobs_arriving_after_later_events_neither_end_a_call_nor_offer_an_agent_twice() {
    // 1001 is busy: its originate fails, and the -ERR job arrives 1.5 s later, after the leg's
    // hangup and after the call went on to 1002, whose own +OK also comes after its bridge.
    let app = spawn_app(
        vec![
            Agent::answering("1001").with(PhoneBehavior::Busy),
            Agent::answering("1002"),
        ],
        Duration::ZERO,
    )
    .await;
    app.connected().await;
    let delay = Duration::from_millis(1_500);
    app.sim.set_job_delay(delay);
    let caller = app.sim.place_call(caller("+4930100007"));
    let leg = bridged(&app, &caller).await;
    assert_eq!(
        app.sim
            .channel(&leg)
            .and_then(|c| c.variable("switchboard_agent_id").map(str::to_owned))
            .as_deref(),
        Some("1002")
    );
    // A negative check: both late jobs must have arrived before the call is judged.
    tokio::time::sleep(delay + Duration::from_millis(500)).await;
    assert!(
        app.sim
            .channel(&caller)
            .is_some_and(|c| c.bridged_to.as_deref() == Some(leg.as_str())),
        "a late job ended the call"
    );
    let snapshot = app.running().snapshot();
    assert_eq!(snapshot.calls.len(), 1);
    assert_eq!(
        snapshot.calls[0].agent_channel.as_deref(),
        Some(leg.as_str())
    );
    assert!(app.sim.stats().originates <= 3, "{:?}", app.sim.stats());
    app.sim.set_job_delay(Duration::ZERO);
    app.sim.hangup(&caller, "NORMAL_CLEARING");
    nothing_lost(&app, &[caller]).await;
}

#[tokio::test]
async fn replies_delayed_behind_events_route_every_caller_once() {
    let app = spawn_app(
        vec![
            Agent::answering("1001").hanging_up_after(Duration::from_millis(300)),
            Agent::answering("1002").hanging_up_after(Duration::from_millis(300)),
        ],
        Duration::ZERO,
    )
    .await;
    app.connected().await;
    // Every api/bgapi reply (uuid_bridge, uuid_answer, the originate's acceptance) comes 400 ms
    // late, while the channels' events flow on at once. The agents hang up 300 ms after they
    // answer: before their late bridge lands, so the bridge fails and the controller must hang
    // up the caller it would otherwise leave parked in silence.
    app.sim.set_reply_delay(Duration::from_millis(400));
    let callers: Vec<String> = (0..4)
        .map(|i| app.sim.place_call(caller(&format!("+49301000{i:02}"))))
        .collect();
    // Each command connection carries its commands one after the other, each 400 ms late:
    // the four calls take several seconds.
    let gone = app
        .sim
        .wait_until(Duration::from_secs(40), |sim| sim.channels().is_empty())
        .await;
    assert!(
        gone,
        "callers still on the switch: {:?}",
        app.sim.channels()
    );
    let store = app.running().store.clone();
    eventually("every caller was answered", || {
        let store = store.clone();
        async move {
            store
                .recent_calls(10)
                .await
                .is_ok_and(|c| c.len() == 4 && c.iter().all(|c| c.talk_ms.is_some()))
        }
    })
    .await;
    let stats = app.sim.stats();
    assert_eq!(stats.originates, 4, "one originate per caller: {stats:?}");
    app.sim.set_reply_delay(Duration::ZERO);
    nothing_lost(&app, &callers).await;
}
