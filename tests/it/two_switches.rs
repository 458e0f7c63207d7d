//! Agents on any switch: one controller, two simulated switches linked by gateways. A caller
//! on the first (`sim`) reaches an agent whose phone is registered only on the second (`fs2`)
//! through the route the config declares; the bridge stays on the caller's switch.

use std::time::Duration;

use switchboard::engine::{AgentStatus, QueueRouting, SwitchName};
use switchboard::sim::{CallSpec, EntryPoint, PhoneSpec, SimHandle, WatchKind};

use crate::harness::{
    eventually, queue_row, spawn_setup_with_presence, start_sim_with, Agent, SecondSwitch, Setup,
    TestApp, ENTRY,
};

/// Where each agent's phone is registered.
#[derive(Clone, Copy, PartialEq)]
enum On {
    First,
    Second,
    Both,
}

fn routes() -> Vec<(SwitchName, SwitchName, String)> {
    let name = |n: &str| SwitchName::new(n).expect("name");
    vec![
        (
            name("sim"),
            name("fs2"),
            "sofia/gateway/fs2/switchboard-{user}".into(),
        ),
        (
            name("fs2"),
            name("sim"),
            "sofia/gateway/sim/switchboard-{user}".into(),
        ),
    ]
}

fn phone(agent: &Agent) -> PhoneSpec {
    PhoneSpec {
        user: agent.id.into(),
        behavior: agent.behavior.clone(),
        hangup_after_talk: agent.hangup_after_talk,
    }
}

/// The controller drives both switches; `agents` are provisioned, their phones registered
/// where `On` says; the switches reach each other's phones through gateways, and the
/// controller knows the routes when `routed`.
async fn two_switches(agents: Vec<(Agent, On)>, routed: bool, presence: bool) -> TestApp {
    two_switches_with(agents, routed, presence, Vec::new()).await
}

/// As `two_switches`, with more dialplan entries on the second switch.
async fn two_switches_with(
    agents: Vec<(Agent, On)>,
    routed: bool,
    presence: bool,
    fs2_entries: Vec<EntryPoint>,
) -> TestApp {
    let second = start_sim_with(fs2_entries).await;
    let domain = presence.then_some("127.0.0.1");
    let setup = Setup {
        queues: vec![queue_row("support", QueueRouting::default())],
        agents: Vec::new(),
        entries: Vec::new(),
    };
    let mut app = spawn_setup_with_presence(setup, domain).await;
    app.stop_controller().await;
    for (agent, on) in &agents {
        if *on != On::Second {
            app.sim.add_phone(phone(agent));
        }
        if *on != On::First {
            second.add_phone(phone(agent));
        }
    }
    app.sim.link_gateway("fs2", &second);
    second.link_gateway("sim", &app.sim);
    app.second = Some(SecondSwitch {
        name: "fs2",
        ledger: Some(crate::invariants::Ledger::listen(second.esl_addr()).await),
        sim: second,
        reach: if routed { routes() } else { Vec::new() },
    });
    let agents: Vec<Agent> = agents.into_iter().map(|(a, _)| a).collect();
    app.start_with(vec![queue_row("support", QueueRouting::default())], &agents)
        .await;
    app.connected().await;
    app
}

fn fs2(app: &TestApp) -> &SimHandle {
    &app.second.as_ref().expect("a second switch").sim
}

/// Waits until the agent has `status` and its phone is known to be registered on `on`.
async fn ready(app: &TestApp, agent: &str, status: AgentStatus, on: &[&str]) {
    eventually(
        &format!("{agent} is {} on {on:?}", status.as_str()),
        || async move {
            app.running()
                .snapshot()
                .agents
                .iter()
                .any(|a| a.id.as_str() == agent && a.status == status && a.registered_on == on)
        },
    )
    .await;
}

fn agent_status(app: &TestApp, agent: &str) -> Option<(AgentStatus, Option<String>)> {
    app.running()
        .snapshot()
        .agents
        .iter()
        .find(|a| a.id.as_str() == agent)
        .map(|a| (a.status, a.reason.clone()))
}

fn variable<'a>(channel: &'a switchboard::sim::ChannelView, name: &str) -> Option<&'a str> {
    channel
        .variables
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The caller's call: bridged on the first switch to an agent leg dialled through the
/// gateway, the phone's call up on the second. Returns (agent leg, channel on fs2).
async fn bridged_through_the_gateway(app: &TestApp, caller: &str) -> (String, String) {
    eventually("the caller is bridged on its own switch", || async {
        app.sim
            .channel(caller)
            .is_some_and(|c| c.bridged_to.is_some())
    })
    .await;
    let leg = app
        .sim
        .channel(caller)
        .and_then(|c| c.bridged_to)
        .expect("bridged");
    let agent_leg = app.sim.channel(&leg).expect("the agent leg");
    assert_eq!(
        variable(&agent_leg, "switchboard_agent_id"),
        Some("1001"),
        "the agent leg is ours, on the caller's switch"
    );
    assert_eq!(
        variable(&agent_leg, "sip_destination_url"),
        Some("sip:switchboard-1001@fs2"),
        "the agent leg went out through the gateway"
    );
    let far: Vec<_> = fs2(app)
        .channels()
        .into_iter()
        .filter(|c| c.answered && variable(c, "dialed_user") == Some("1001"))
        .collect();
    assert_eq!(far.len(), 1, "the phone's call is up on fs2");
    (leg, far[0].uuid.clone())
}

#[tokio::test]
async fn a_caller_reaches_an_agent_registered_only_on_the_other_switch_and_the_agent_hangs_up() {
    let agent = Agent::answering("1001").hanging_up_after(Duration::from_millis(400));
    let app = two_switches(vec![(agent, On::Second)], true, false).await;
    ready(&app, "1001", AgentStatus::Available, &["fs2"]).await;
    let caller = app.sim.place_call(CallSpec::new("4930111", ENTRY));
    let (leg, far) = bridged_through_the_gateway(&app, &caller).await;
    eventually("the agent is on the call", || async {
        app.running()
            .snapshot()
            .calls
            .iter()
            .any(|c| c.agent.as_ref().is_some_and(|a| a.as_str() == "1001"))
            && agent_status(&app, "1001").is_some_and(|s| s.0 == AgentStatus::OnCall)
    })
    .await;
    let call = app
        .running()
        .snapshot()
        .calls
        .first()
        .map(|c| c.id)
        .expect("the call");
    eventually(
        "the agent's hangup on fs2 ends both legs on the caller's switch",
        || async {
            app.sim.channel(&caller).is_none()
                && app.sim.channel(&leg).is_none()
                && fs2(&app).channel(&far).is_none()
        },
    )
    .await;
    let store = app.running().store.clone();
    eventually("the history has the call answered by 1001", || {
        let store = store.clone();
        let leg = leg.clone();
        async move {
            store.call(call).await.ok().flatten().is_some_and(|row| {
                row.ended_at.is_some()
                    && row.agent.as_ref().map(|a| a.as_str()) == Some("1001")
                    && row.agent_channel.map(|c| c.to_string()) == Some(leg)
                    && row.switch.as_str() == "sim"
                    && row.talk_ms.is_some_and(|t| t > 0)
            })
        }
    })
    .await;
    eventually("the agent is available again", || async {
        agent_status(&app, "1001").is_some_and(|s| s.0 == AgentStatus::Available)
    })
    .await;
}

#[tokio::test]
async fn a_caller_hanging_up_ends_the_agents_call_on_the_other_switch() {
    let app = two_switches(vec![(Agent::answering("1001"), On::Second)], true, false).await;
    ready(&app, "1001", AgentStatus::Available, &["fs2"]).await;
    let caller = app.sim.place_call(CallSpec::new("4930111", ENTRY));
    let (leg, far) = bridged_through_the_gateway(&app, &caller).await;
    assert!(app.sim.hangup(&caller, "NORMAL_CLEARING"));
    eventually("the agent leg and the phone's call on fs2 end", || async {
        app.sim.channel(&leg).is_none() && fs2(&app).channel(&far).is_none()
    })
    .await;
    eventually("the agent is free for the next call", || async {
        app.running().snapshot().agents.iter().any(|a| {
            a.id.as_str() == "1001" && a.status == AgentStatus::Available && !a.busy_elsewhere
        })
    })
    .await;
}

#[tokio::test]
async fn without_a_route_the_agent_on_the_other_switch_sits_out_and_the_caller_gets_the_next() {
    let app = two_switches(
        vec![
            (Agent::answering("1001"), On::Second),
            (Agent::answering("1002").logged_out(), On::First),
        ],
        false,
        false,
    )
    .await;
    ready(&app, "1001", AgentStatus::Available, &["fs2"]).await;
    let caller = app.sim.place_call(CallSpec::new("4930111", ENTRY));
    eventually("1001 sits out for want of a route and says so", || async {
        agent_status(&app, "1001").is_some_and(|(status, reason)| {
            status == AgentStatus::Available
                && reason.as_deref() == Some("no_route from sim to fs2")
        })
    })
    .await;
    assert_eq!(app.running().snapshot().waiting(), 1, "the caller waits");
    assert!(
        app.sim.channels().iter().all(|c| !c.is_outbound_leg),
        "nothing was originated for 1001"
    );
    assert!(fs2(&app).channels().is_empty());
    assert_eq!(app.set_agent_state("1002", "available").await.status(), 200);
    eventually("the caller is bridged to the next agent", || async {
        app.sim.channel(&caller).is_some_and(|c| {
            c.bridged_to
                .as_deref()
                .and_then(|leg| app.sim.channel(leg))
                .is_some_and(|leg| variable(&leg, "switchboard_agent_id") == Some("1002"))
        })
    })
    .await;
}

#[tokio::test]
async fn an_agent_registered_on_both_switches_is_rung_on_the_callers_switch() {
    let app = two_switches(vec![(Agent::answering("1001"), On::Both)], true, false).await;
    ready(&app, "1001", AgentStatus::Available, &["fs2", "sim"]).await;
    let caller = app.sim.place_call(CallSpec::new("4930111", ENTRY));
    eventually("the caller is bridged", || async {
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
        .expect("the agent leg");
    assert_eq!(
        variable(&leg, "sip_destination_url").map(|u| u.starts_with("sip:1001@")),
        Some(true)
    );
    assert!(
        !variable(&leg, "sip_destination_url").is_some_and(|u| u.contains("fs2")),
        "dialled as user/1001 on the caller's switch"
    );
    assert!(
        fs2(&app).channels().is_empty(),
        "nothing crossed the gateway"
    );
}

#[tokio::test]
async fn a_caller_on_the_second_switch_reaches_an_agent_on_the_first() {
    let app = two_switches(vec![(Agent::answering("1001"), On::First)], true, false).await;
    ready(&app, "1001", AgentStatus::Available, &["sim"]).await;
    let caller = fs2(&app).place_call(CallSpec::new("4930111", ENTRY));
    eventually("the caller is bridged on fs2", || async {
        fs2(&app)
            .channel(&caller)
            .is_some_and(|c| c.bridged_to.is_some())
    })
    .await;
    assert!(
        app.sim
            .channels()
            .iter()
            .any(|c| c.answered && variable(c, "dialed_user") == Some("1001")),
        "the phone's call is up on the first switch"
    );
}

#[tokio::test]
async fn blf_lamps_light_on_both_switches_also_after_one_reconnects() {
    let app = two_switches(vec![(Agent::answering("1001"), On::Second)], true, true).await;
    ready(&app, "1001", AgentStatus::Available, &["fs2"]).await;
    app.sim
        .subscribe_watcher("1003", "agent+1001", WatchKind::Presence);
    fs2(&app).subscribe_watcher("1004", "agent+1001", WatchKind::Presence);
    let both_show = |note: &'static str| {
        let app = &app;
        async move {
            eventually(&format!("both switches' phones show {note}"), || async {
                [&app.sim, fs2(app)].iter().all(|sim| {
                    sim.lamp("agent+1001")
                        .is_some_and(|lamp| lamp.note.as_deref() == Some(note))
                })
            })
            .await;
        }
    };
    both_show("Available").await;
    let caller = app.sim.place_call(CallSpec::new("4930111", ENTRY));
    both_show("On The Phone").await;
    app.sim.hangup(&caller, "NORMAL_CLEARING");
    both_show("Available").await;

    let connects = || {
        app.running()
            .metrics
            .esl_connects
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    // fs2 goes away; the agent logs out meanwhile; fs2's phone shows it once fs2 is back.
    fs2(&app).shutdown().await;
    let before = connects();
    assert_eq!(
        app.put_json(
            "/v1/agents/1001/state",
            serde_json::json!({ "state": "logged_out" }),
        )
        .await
        .status(),
        200
    );
    eventually("the first switch's phone shows Logged Out", || async {
        app.sim
            .lamp("agent+1001")
            .is_some_and(|lamp| lamp.note.as_deref() == Some("Logged Out"))
    })
    .await;
    fs2(&app).restart().await.expect("fs2 restarts");
    eventually("the controller reconnects to fs2", || async {
        connects() > before
    })
    .await;
    both_show("Logged Out").await;
}

#[tokio::test]
async fn an_agent_hot_desking_at_a_phone_on_the_other_switch_gets_calls_from_the_first() {
    let hot_desk = EntryPoint {
        number: "*2102".into(),
        variables: vec![
            ("switchboard_feature".into(), "login".into()),
            ("switchboard_agent_number".into(), "1001".into()),
            ("switchboard_pin".into(), "4711".into()),
        ],
    };
    let app = two_switches_with(
        vec![
            (
                Agent::answering("1001").logged_out().with_pin("4711"),
                On::First,
            ),
            // The desk phone in the other building, on the other switch.
            (
                Agent::answering("2002").in_queues(&[]).logged_out(),
                On::Second,
            ),
        ],
        true,
        false,
        vec![hot_desk],
    )
    .await;
    ready(&app, "2002", AgentStatus::LoggedOut, &["fs2"]).await;
    let login = fs2(&app).place_call(CallSpec::new("2002", "*2102"));
    eventually("1001 is logged in from the phone on fs2", || async {
        agent_status(&app, "1001").is_some_and(|s| s.0 == AgentStatus::Available)
    })
    .await;
    eventually(
        "the feature call on fs2 is hung up after its tone",
        || async { fs2(&app).channel(&login).is_none() },
    )
    .await;
    let caller = app.sim.place_call(CallSpec::new("4930111", ENTRY));
    eventually("the call reaches 1001 at the phone on fs2", || async {
        app.sim
            .channel(&caller)
            .and_then(|c| c.bridged_to)
            .and_then(|leg| app.sim.channel(&leg))
            .is_some_and(|leg| {
                variable(&leg, "switchboard_agent_id") == Some("1001")
                    && variable(&leg, "sip_destination_url") == Some("sip:switchboard-2002@fs2")
            })
    })
    .await;
    assert!(fs2(&app)
        .channels()
        .iter()
        .any(|c| c.answered && variable(c, "dialed_user") == Some("2002")));
}

#[tokio::test]
async fn a_call_through_the_gateway_survives_a_controller_restart_and_ends_on_both_switches() {
    let agent = || Agent::answering("1001");
    let mut app = two_switches(vec![(agent(), On::Second)], true, false).await;
    ready(&app, "1001", AgentStatus::Available, &["fs2"]).await;
    let caller = app.sim.place_call(CallSpec::new("4930111", ENTRY));
    let (leg, far) = bridged_through_the_gateway(&app, &caller).await;

    app.stop_controller().await;
    app.start_with(
        vec![queue_row("support", QueueRouting::default())],
        &[agent()],
    )
    .await;
    app.connected().await;
    eventually(
        "the new controller adopts the call with 1001 on it",
        || async { agent_status(&app, "1001").is_some_and(|s| s.0 == AgentStatus::OnCall) },
    )
    .await;
    assert!(fs2(&app).channel(&far).is_some_and(|c| c.answered));

    assert!(fs2(&app).hangup(&far, "NORMAL_CLEARING"));
    eventually(
        "the agent's hangup on fs2 ends the call on the caller's switch",
        || async { app.sim.channel(&caller).is_none() && app.sim.channel(&leg).is_none() },
    )
    .await;
    eventually("the agent is free again", || async {
        app.running().snapshot().agents.iter().any(|a| {
            a.id.as_str() == "1001" && a.status == AgentStatus::Available && !a.busy_elsewhere
        })
    })
    .await;
}
