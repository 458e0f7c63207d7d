//! The ARI adapter against the Asterisk simulator: connecting, what ARI events become as
//! engine inputs, commands carried out, reconnects with adoption, and a queue call end to end
//! through the app.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use switchboard::ari::{run_fenced_switch, AriLinkError, AriSettings};
use switchboard::engine::{
    AgentId, CallId, ChannelId, ChannelRole, HangupCause, Input, QueueId, SwitchCommand, SwitchName,
};
use switchboard::fence::Fence;
use switchboard::link::{Outgoing, SwitchInput};
use switchboard::metrics::Metrics;
use switchboard::sim::{CallSpec, PhoneBehavior, PhoneSpec};
use switchboard::sim_ari::{AriEntryPoint, AriSimConfig, AriSimHandle, AriSimulator};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

const QUEUE_NUMBER: &str = "6000";

struct Link {
    sim: AriSimHandle,
    inputs: mpsc::Receiver<SwitchInput>,
    commands: mpsc::Sender<Outgoing>,
    metrics: Arc<Metrics>,
    ended: tokio::task::JoinHandle<Result<(), AriLinkError>>,
    _stop: watch::Sender<bool>,
}

fn settings(sim: &AriSimHandle, password: &str, liveness: Duration) -> AriSettings {
    AriSettings {
        name: SwitchName::new("ast1").expect("name"),
        url: format!("http://{}", sim.http_addr()),
        user: "switchboard".into(),
        password: password.into(),
        app: "switchboard".into(),
        liveness_timeout: liveness,
        reconnect_max: Duration::from_millis(300),
        recordings_dir: "/var/spool/asterisk/recording".into(),
        recordings_mount: None,
    }
}

async fn simulator() -> AriSimHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let config = AriSimConfig {
        entry_points: vec![AriEntryPoint::stasis(
            QUEUE_NUMBER,
            "switchboard",
            &["queue", "support"],
        )],
        ..AriSimConfig::default()
    };
    let sim = AriSimulator::start(listener, config).await.expect("sim");
    sim.add_phone(PhoneSpec::answering("agent1", Duration::from_millis(100)));
    sim
}

async fn link_with(password: &str, liveness: Duration) -> Link {
    let sim = simulator().await;
    let (in_tx, inputs) = mpsc::channel(256);
    let (commands, cmd_rx) = mpsc::channel(64);
    let (stop, stop_rx) = watch::channel(false);
    let metrics = Arc::new(Metrics::default());
    let ended = tokio::spawn(run_fenced_switch(
        settings(&sim, password, liveness),
        cmd_rx,
        in_tx,
        metrics.clone(),
        stop_rx,
        Fence::open(),
    ));
    Link {
        sim,
        inputs,
        commands,
        metrics,
        ended,
        _stop: stop,
    }
}

async fn link() -> Link {
    link_with("ClueCon", Duration::from_secs(5)).await
}

async fn next_input(link: &mut Link, pred: impl Fn(&Input) -> bool) -> Input {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, link.inputs.recv()).await {
            Ok(Some(i)) if pred(&i.input) => return i.input,
            Ok(Some(_)) => {}
            Ok(None) => panic!("adapter stopped"),
            Err(_) => panic!("timed out waiting for an input"),
        }
    }
}

async fn send(link: &Link, affinity: &ChannelId, command: SwitchCommand) {
    link.commands
        .send(Outgoing {
            affinity: affinity.clone(),
            command,
            caused_by: None,
        })
        .await
        .expect("adapter runs");
}

fn originate(leg: &ChannelId, agent: &str) -> SwitchCommand {
    SwitchCommand::Originate {
        leg: leg.clone(),
        call: CallId::from_uuid(uuid::Uuid::new_v4()),
        agent: AgentId::new(agent).expect("agent"),
        queue: QueueId::new("support").expect("queue"),
        dial_string: format!("user/{agent}"),
        timeout: Duration::from_secs(10),
        caller_number: "1001".into(),
        caller_name: "Caller 1001".into(),
        queue_name: "Support".into(),
        variables: vec![("account".into(), "A-17".into())],
    }
}

/// A caller in the queue, answered, with the link resynced: the caller's channel.
async fn parked_caller(link: &mut Link) -> ChannelId {
    next_input(link, |i| matches!(i, Input::SwitchResynced { .. })).await;
    link.sim.place_call(CallSpec::new("1001", QUEUE_NUMBER));
    let Input::CallParked(parked) = next_input(link, |i| matches!(i, Input::CallParked(_))).await
    else {
        unreachable!()
    };
    assert_eq!(parked.queue.as_str(), "support");
    assert_eq!(parked.caller_number, "1001");
    assert_eq!(parked.destination, QUEUE_NUMBER);
    send(
        link,
        &parked.channel,
        SwitchCommand::Answer {
            channel: parked.channel.clone(),
        },
    )
    .await;
    parked.channel
}

#[tokio::test]
async fn a_wrong_password_ends_the_link_with_auth_rejected() {
    let link = link_with("WrongPassword", Duration::from_secs(5)).await;
    let ended = tokio::time::timeout(Duration::from_secs(5), link.ended)
        .await
        .expect("ends at once")
        .expect("no panic");
    assert!(
        matches!(ended, Err(AriLinkError::AuthRejected { .. })),
        "{ended:?}"
    );
    assert_eq!(link.metrics.esl_connects.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn a_queue_caller_is_parked_rung_to_an_agent_bridged_and_its_hangup_ends_the_agent_leg() {
    let mut link = link().await;
    let caller = parked_caller(&mut link).await;
    send(
        &link,
        &caller,
        SwitchCommand::PlayHold {
            channel: caller.clone(),
            source: "local_stream://moh".into(),
        },
    )
    .await;
    let leg = ChannelId::from_uuid(uuid::Uuid::new_v4());
    send(&link, &caller, originate(&leg, "agent1")).await;
    next_input(
        &mut link,
        |i| matches!(i, Input::ChannelAnswered { channel, .. } if *channel == leg),
    )
    .await;
    next_input(
        &mut link,
        |i| matches!(i, Input::OriginateReturned { leg: l, .. } if *l == leg),
    )
    .await;
    let view = link.sim.channel(leg.as_str()).expect("agent leg");
    assert!(
        view.variables
            .iter()
            .any(|(k, v)| k == "SWITCHBOARD_VAR_account" && v == "A-17"),
        "{view:?}"
    );
    send(
        &link,
        &caller,
        SwitchCommand::Break {
            channel: caller.clone(),
        },
    )
    .await;
    send(
        &link,
        &caller,
        SwitchCommand::Bridge {
            caller: caller.clone(),
            agent_leg: leg.clone(),
        },
    )
    .await;
    switchboard_eventually(|| {
        link.sim.bridges().iter().any(|b| {
            b.channels.contains(&caller.to_string()) && b.channels.contains(&leg.to_string())
        })
    })
    .await;
    assert_eq!(link.sim.channel(caller.as_str()).and_then(|c| c.moh), None);

    link.sim.hangup(caller.as_str());
    next_input(
        &mut link,
        |i| matches!(i, Input::ChannelHungUp { channel, .. } if *channel == caller),
    )
    .await;
    let Input::ChannelHungUp { cause, .. } = next_input(
        &mut link,
        |i| matches!(i, Input::ChannelHungUp { channel, .. } if *channel == leg),
    )
    .await
    else {
        unreachable!()
    };
    assert_eq!(cause, "NORMAL_CLEARING");
    switchboard_eventually(|| link.sim.bridges().is_empty()).await;
}

#[tokio::test]
async fn an_unregistered_or_busy_phone_fails_the_originate_with_the_engines_cause() {
    let mut link = link().await;
    let caller = parked_caller(&mut link).await;
    link.sim.add_phone(PhoneSpec {
        user: "agent9".into(),
        behavior: PhoneBehavior::Unregistered,
        hangup_after_talk: None,
    });
    let leg = ChannelId::from_uuid(uuid::Uuid::new_v4());
    send(&link, &caller, originate(&leg, "agent9")).await;
    let Input::OriginateFailed { cause, .. } = next_input(
        &mut link,
        |i| matches!(i, Input::OriginateFailed { leg: l, .. } if *l == leg),
    )
    .await
    else {
        unreachable!()
    };
    assert_eq!(cause, "USER_NOT_REGISTERED");

    link.sim.add_phone(PhoneSpec {
        user: "agent4".into(),
        behavior: PhoneBehavior::Busy,
        hangup_after_talk: None,
    });
    let busy = ChannelId::from_uuid(uuid::Uuid::new_v4());
    send(&link, &caller, originate(&busy, "agent4")).await;
    next_input(&mut link, |i| matches!(i, Input::ChannelHungUp { channel, cause, .. } if *channel == busy && cause == "USER_BUSY")).await;
    next_input(&mut link, |i| matches!(i, Input::OriginateFailed { leg, cause, .. } if *leg == busy && cause == "USER_BUSY")).await;

    let sofia = ChannelId::from_uuid(uuid::Uuid::new_v4());
    let mut command = originate(&sofia, "agent1");
    if let SwitchCommand::Originate { dial_string, .. } = &mut command {
        *dial_string = "sofia/internal/agent1@127.0.0.1".into();
    }
    send(&link, &caller, command).await;
    next_input(&mut link, |i| {
        matches!(
            i,
            Input::CommandFailed {
                command: SwitchCommand::Originate { .. },
                ..
            }
        )
    })
    .await;
}

#[tokio::test]
async fn a_ringing_agent_leg_killed_when_the_caller_leaves_ends_with_the_given_cause() {
    let mut link = link().await;
    let caller = parked_caller(&mut link).await;
    link.sim.add_phone(PhoneSpec {
        user: "agent5".into(),
        behavior: PhoneBehavior::NoAnswer,
        hangup_after_talk: None,
    });
    let leg = ChannelId::from_uuid(uuid::Uuid::new_v4());
    send(&link, &caller, originate(&leg, "agent5")).await;
    switchboard_eventually(|| {
        link.sim
            .channel(leg.as_str())
            .is_some_and(|c| c.state == "Ringing")
    })
    .await;
    link.sim.hangup(caller.as_str());
    next_input(
        &mut link,
        |i| matches!(i, Input::ChannelHungUp { channel, .. } if *channel == caller),
    )
    .await;
    send(
        &link,
        &caller,
        SwitchCommand::Kill {
            channel: leg.clone(),
            cause: HangupCause::OriginatorCancel,
        },
    )
    .await;
    next_input(
        &mut link,
        |i| matches!(i, Input::OriginateFailed { leg: l, .. } if *l == leg),
    )
    .await;
}

#[tokio::test]
async fn dropped_websockets_reconnect_and_the_caller_still_in_stasis_is_adopted() {
    let mut link = link().await;
    let caller = parked_caller(&mut link).await;
    link.sim.drop_websockets().await;
    next_input(&mut link, |i| matches!(i, Input::ResyncStarted { .. })).await;
    let Input::SwitchResynced { channels, .. } =
        next_input(&mut link, |i| matches!(i, Input::SwitchResynced { .. })).await
    else {
        unreachable!()
    };
    let adopted = channels
        .iter()
        .find(|c| c.channel == caller)
        .expect("caller listed");
    assert_eq!(adopted.role, ChannelRole::Caller);
    assert_eq!(adopted.queue.as_ref().map(QueueId::as_str), Some("support"));
    assert!(link.metrics.esl_connects.load(Ordering::Relaxed) >= 2);
    next_input(&mut link, |i| matches!(i, Input::RegistrationsListed { users, .. } if users.contains(&"agent1".to_owned()))).await;
    // Events for the adopted caller resume on the new socket.
    link.sim.send_dtmf(caller.as_str(), "5");
    next_input(
        &mut link,
        |i| matches!(i, Input::Dtmf { channel, digit: '5', .. } if *channel == caller),
    )
    .await;
}

#[tokio::test]
async fn a_restarted_asterisk_ends_its_calls_and_the_link_comes_back_empty() {
    let mut link = link().await;
    let caller = parked_caller(&mut link).await;
    link.sim.restart().await.expect("restart");
    next_input(
        &mut link,
        |i| matches!(i, Input::ChannelHungUp { channel, .. } if *channel == caller),
    )
    .await;
    next_input(&mut link, |i| matches!(i, Input::ResyncStarted { .. })).await;
    let Input::SwitchResynced { channels, .. } =
        next_input(&mut link, |i| matches!(i, Input::SwitchResynced { .. })).await
    else {
        unreachable!()
    };
    assert!(channels.is_empty(), "{channels:?}");
}

#[tokio::test]
async fn an_idle_link_stays_up_on_pings_alone() {
    let mut link = link_with("ClueCon", Duration::from_millis(300)).await;
    next_input(&mut link, |i| matches!(i, Input::SwitchResynced { .. })).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(link.metrics.esl_disconnects.load(Ordering::Relaxed), 0);
    assert_eq!(link.metrics.esl_connects.load(Ordering::Relaxed), 1);
}

#[track_caller]
fn switchboard_eventually(condition: impl Fn() -> bool) -> impl std::future::Future<Output = ()> {
    let caller = std::panic::Location::caller();
    wait_until(condition, caller)
}

async fn wait_until(condition: impl Fn() -> bool, caller: &'static std::panic::Location<'static>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting at {caller}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The controller driving only the Asterisk simulator, with `agent1` logged in to `support`.
async fn app_on_asterisk(
    sim: &AriSimHandle,
    dir: &tempfile::TempDir,
    flows: Option<std::path::PathBuf>,
) -> switchboard::app::Running {
    use switchboard::app::{self, AuthOptions, StartOptions};
    use switchboard::config::DialString;
    use switchboard::engine::{Membership, QueueRouting};
    use switchboard::store::{AgentRow, QueueRow};
    let http = TcpListener::bind("127.0.0.1:0").await.expect("bind http");
    app::start(StartOptions {
        http,
        database_url: format!("sqlite://{}", dir.path().join("test.db").display()),
        switches: Vec::new(),
        asterisk: vec![settings(sim, "ClueCon", Duration::from_secs(5))],
        queues: vec![QueueRow {
            id: QueueId::new("support").expect("id"),
            name: "Support".into(),
            moh: "local_stream://moh".into(),
            wrap_up_ms: 0,
            ring_timeout_ms: 5_000,
            busy_backoff_ms: None,
            routing: QueueRouting::default(),
        }],
        agents: vec![AgentRow {
            id: AgentId::new("agent1").expect("id"),
            name: "Agent One".into(),
            dial_string: DialString::parse("user/agent1").expect("dial"),
            queues: vec![Membership::new(QueueId::new("support").expect("id"), 1)],
            skills: Vec::new(),
            pin_hash: None,
        }],
        log_in: vec![AgentId::new("agent1").expect("id")],
        busy_backoff: Duration::from_secs(60),
        seed: 0,
        presence_domain: None,
        pause_reasons: Vec::new(),
        hot_desk_moves: true,
        phone_prompts: Default::default(),
        hot_desk_extension: None,
        flows,
        auth: AuthOptions {
            enabled: false,
            tokens: Vec::new(),
        },
        webhooks: Vec::new(),
        allow_private_webhook_targets: true,
        evaluation_forms: Vec::new(),
        purge_every: None,
        http_limits: Default::default(),
        reach: Vec::new(),
        routing_defaults: Default::default(),
        external_dial: None,
        stats: Default::default(),
    })
    .await
    .expect("start controller")
}

#[tokio::test]
async fn a_queue_call_on_asterisk_is_answered_by_the_agent_and_ends_cleanly_through_the_app() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let running = app_on_asterisk(&sim, &dir, None).await;
    let metrics = running.metrics.clone();
    switchboard_eventually(|| metrics.esl_connects.load(Ordering::Relaxed) >= 1).await;
    let caller = sim.place_call(CallSpec::new("1001", QUEUE_NUMBER));
    switchboard_eventually(|| {
        sim.bridges().iter().any(|b| {
            b.channels.len() == 2
                && b.channels.contains(&caller)
                && b.channels.iter().any(|c| {
                    sim.channel(c)
                        .is_some_and(|v| v.name.starts_with("PJSIP/agent1-"))
                })
        })
    })
    .await;
    let view = sim.channel(&caller).expect("caller");
    assert_eq!((view.state.as_str(), view.moh), ("Up", None));

    sim.hangup(&caller);
    switchboard_eventually(|| sim.channels().is_empty() && sim.bridges().is_empty()).await;
    running.stop().await.expect("stops cleanly");
}

/// A caller bridged to agent1's answered leg: (caller, agent leg).
async fn bridged_call(link: &mut Link) -> (ChannelId, ChannelId) {
    let caller = parked_caller(link).await;
    let leg = ChannelId::from_uuid(uuid::Uuid::new_v4());
    send(link, &caller, originate(&leg, "agent1")).await;
    next_input(
        link,
        |i| matches!(i, Input::OriginateReturned { leg: l, .. } if *l == leg),
    )
    .await;
    send(
        link,
        &caller,
        SwitchCommand::Bridge {
            caller: caller.clone(),
            agent_leg: leg.clone(),
        },
    )
    .await;
    let (c, l) = (caller.to_string(), leg.to_string());
    switchboard_eventually(|| {
        link.sim
            .bridges()
            .iter()
            .any(|b| b.channels.contains(&c) && b.channels.contains(&l))
    })
    .await;
    (caller, leg)
}

#[tokio::test]
async fn prompts_end_as_played_or_not_found_and_the_caller_is_hung_up_after_the_last() {
    let mut link = link().await;
    let caller = parked_caller(&mut link).await;
    send(
        &link,
        &caller,
        SwitchCommand::Play {
            channel: caller.clone(),
            source: "hello-world.wav".into(),
        },
    )
    .await;
    send(
        &link,
        &caller,
        SwitchCommand::Play {
            channel: caller.clone(),
            source: "ivr/no-such-prompt.wav".into(),
        },
    )
    .await;
    send(
        &link,
        &caller,
        SwitchCommand::HangupAfterPrompts {
            channel: caller.clone(),
        },
    )
    .await;
    // Order-free: the simulator starts a channel's playbacks at once, where Asterisk queues
    // them behind each other.
    let mut ends = Vec::new();
    for _ in 0..2 {
        if let Input::MediaDone { data, response, .. } =
            next_input(&mut link, |i| matches!(i, Input::MediaDone { .. })).await
        {
            ends.push((data, response));
        }
    }
    ends.sort();
    assert_eq!(
        ends,
        vec![
            ("hello-world.wav".to_owned(), "FILE PLAYED".to_owned()),
            (
                "ivr/no-such-prompt.wav".to_owned(),
                "FILE NOT FOUND".to_owned()
            ),
        ]
    );
    next_input(&mut link, |i| matches!(i, Input::ChannelHungUp { channel, cause, .. } if *channel == caller && cause == "NORMAL_CLEARING")).await;
    assert!(link
        .sim
        .played()
        .iter()
        .any(|(_, media)| media == "sound:hello-world"));
}

#[tokio::test]
async fn presence_sets_our_stasis_device_states() {
    let mut link = link().await;
    next_input(&mut link, |i| matches!(i, Input::SwitchResynced { .. })).await;
    let affinity = ChannelId::from_uuid(uuid::Uuid::nil());
    send(
        &link,
        &affinity,
        SwitchCommand::Presence(switchboard::engine::Presence {
            proto: "agent",
            id: "1001".into(),
            domain: "pbx".into(),
            lamp: switchboard::engine::Lamp::Lit,
            status: "On a call".into(),
            rpid: "on-the-phone",
            dialog: uuid::Uuid::from_u128(1),
            count: 1,
        }),
    )
    .await;
    switchboard_eventually(|| {
        link.sim.device_states().contains(&(
            "Stasis:switchboard-agent-1001".to_owned(),
            "INUSE".to_owned(),
        ))
    })
    .await;
}

#[tokio::test]
async fn holding_the_agent_leg_plays_its_hold_music_to_the_caller_and_tells_the_engine() {
    let mut link = link().await;
    let (caller, leg) = bridged_call(&mut link).await;
    send(
        &link,
        &caller,
        SwitchCommand::HoldMusic {
            channel: leg.clone(),
            source: "local_stream://moh".into(),
        },
    )
    .await;
    send(
        &link,
        &caller,
        SwitchCommand::Hold {
            channel: leg.clone(),
            on: true,
        },
    )
    .await;
    next_input(
        &mut link,
        |i| matches!(i, Input::LegHold { channel, held: true, .. } if *channel == leg),
    )
    .await;
    let view = link.sim.channel(leg.as_str()).expect("leg");
    assert!(view.on_hold);
    assert_eq!(
        link.sim.channel(caller.as_str()).and_then(|c| c.moh),
        Some("default".into())
    );
    send(
        &link,
        &caller,
        SwitchCommand::Hold {
            channel: leg.clone(),
            on: false,
        },
    )
    .await;
    next_input(
        &mut link,
        |i| matches!(i, Input::LegHold { channel, held: false, .. } if *channel == leg),
    )
    .await;
    assert_eq!(link.sim.channel(caller.as_str()).and_then(|c| c.moh), None);
}

#[tokio::test]
async fn a_call_recording_records_the_bridge_and_its_stop_names_the_engines_path() {
    let mut link = link().await;
    let (caller, _) = bridged_call(&mut link).await;
    let path = "/var/spool/asterisk/recording/2026-12-07/support/call-1.wav";
    let record = |action| SwitchCommand::SessionRecord {
        channel: caller.clone(),
        action,
        path: path.into(),
        limit: None,
    };
    send(
        &link,
        &caller,
        record(switchboard::engine::recording::RecordingAction::Start),
    )
    .await;
    switchboard_eventually(|| {
        link.sim
            .recordings()
            .iter()
            .any(|r| r.name == "2026-12-07/support/call-1" && r.target.starts_with("bridge:"))
    })
    .await;
    send(
        &link,
        &caller,
        record(switchboard::engine::recording::RecordingAction::Pause),
    )
    .await;
    send(
        &link,
        &caller,
        record(switchboard::engine::recording::RecordingAction::Resume),
    )
    .await;
    send(
        &link,
        &caller,
        record(switchboard::engine::recording::RecordingAction::Stop),
    )
    .await;
    let Input::RecordingStopped {
        channel,
        path: stopped,
        ..
    } = next_input(&mut link, |i| matches!(i, Input::RecordingStopped { .. })).await
    else {
        unreachable!()
    };
    assert_eq!((channel, stopped.as_str()), (caller, path));
}

#[tokio::test]
async fn park_inline_hangs_up_the_agent_and_parks_the_caller_again() {
    let mut link = link().await;
    let (caller, leg) = bridged_call(&mut link).await;
    send(
        &link,
        &caller,
        SwitchCommand::RequeueReason {
            channel: caller.clone(),
            reason: "agent_left".into(),
        },
    )
    .await;
    send(
        &link,
        &caller,
        SwitchCommand::ParkInline {
            channel: caller.clone(),
        },
    )
    .await;
    let (mut parked, mut hung_up) = (false, false);
    while !(parked && hung_up) {
        match next_input(&mut link, |i| {
            matches!(i, Input::CallParked(p) if p.channel == caller)
                || matches!(i, Input::ChannelHungUp { channel, .. } if *channel == leg)
        })
        .await
        {
            Input::CallParked(_) => parked = true,
            _ => hung_up = true,
        }
    }
    assert!(link
        .sim
        .channel(caller.as_str())
        .is_some_and(|c| c.bridge.is_none()));
}

#[tokio::test]
async fn a_supervisor_listens_through_a_snoop_then_barges_into_the_call() {
    let mut link = link().await;
    let (caller, leg) = bridged_call(&mut link).await;
    link.sim.add_phone(PhoneSpec::answering(
        "supervisor",
        Duration::from_millis(50),
    ));
    let supervisor = ChannelId::from_uuid(uuid::Uuid::new_v4());
    send(
        &link,
        &caller,
        SwitchCommand::Monitor {
            leg: supervisor.clone(),
            call: CallId::from_uuid(uuid::Uuid::new_v4()),
            target: caller.clone(),
            mode: switchboard::engine::MonitorMode::Listen,
            dial_string: "user/supervisor".into(),
            timeout: Duration::from_secs(10),
        },
    )
    .await;
    next_input(
        &mut link,
        |i| matches!(i, Input::ChannelAnswered { channel, .. } if *channel == supervisor),
    )
    .await;
    switchboard_eventually(|| {
        link.sim
            .snoops()
            .iter()
            .any(|s| s.spied == leg.as_str() && s.spy == "both" && s.whisper == "none")
    })
    .await;
    // The snoop enters Stasis only after its 200 (capture `snoop`): it is bridged with the
    // supervisor once it has, not refused as a channel outside Stasis.
    switchboard_eventually(|| {
        let snoops = link.sim.snoops();
        link.sim.bridges().iter().any(|b| {
            b.channels.contains(&supervisor.to_string())
                && snoops.iter().any(|s| b.channels.contains(&s.id))
        })
    })
    .await;
    send(
        &link,
        &caller,
        SwitchCommand::MonitorKey {
            leg: supervisor.clone(),
            digit: '3',
        },
    )
    .await;
    switchboard_eventually(|| {
        link.sim.bridges().iter().any(|b| {
            b.channels.contains(&caller.to_string()) && b.channels.contains(&supervisor.to_string())
        })
    })
    .await;
    // The simulator lists every snoop made; the listening one's channel must be gone.
    switchboard_eventually(|| {
        link.sim
            .snoops()
            .iter()
            .all(|s| link.sim.channel(&s.id).is_none())
    })
    .await;
}

#[tokio::test]
async fn a_conference_join_moves_both_parties_into_the_named_bridge() {
    let mut link = link().await;
    let (caller, leg) = bridged_call(&mut link).await;
    send(
        &link,
        &caller,
        SwitchCommand::ConferenceJoin {
            channel: caller.clone(),
            name: "conf-1".into(),
        },
    )
    .await;
    switchboard_eventually(|| {
        link.sim.bridges().iter().any(|b| {
            b.id == "conference-conf-1"
                && b.channels.contains(&caller.to_string())
                && b.channels.contains(&leg.to_string())
        })
    })
    .await;
}

#[tokio::test]
async fn a_bridged_call_is_adopted_after_a_reconnect_and_its_end_still_ends_both_legs() {
    let mut link = link().await;
    let (caller, leg) = bridged_call(&mut link).await;
    link.sim.drop_websockets().await;
    let Input::SwitchResynced { channels, .. } =
        next_input(&mut link, |i| matches!(i, Input::SwitchResynced { .. })).await
    else {
        unreachable!()
    };
    let of = |id: &ChannelId| channels.iter().find(|c| c.channel == *id).expect("listed");
    assert_eq!(
        (of(&caller).role, of(&caller).bridged_to.clone()),
        (ChannelRole::Caller, Some(leg.clone()))
    );
    let agent = of(&leg);
    assert_eq!(
        (agent.role, agent.bridged_to.clone()),
        (ChannelRole::Agent, Some(caller.clone()))
    );
    assert_eq!(agent.agent.as_ref().map(AgentId::as_str), Some("agent1"));
    assert!(agent.call.is_some());
    link.sim.hangup(caller.as_str());
    next_input(&mut link, |i| matches!(i, Input::ChannelHungUp { channel, cause, .. } if *channel == leg && cause == "NORMAL_CLEARING")).await;
}

#[tokio::test]
async fn a_second_client_taking_our_application_drops_the_first_link() {
    let mut first = link().await;
    next_input(&mut first, |i| matches!(i, Input::SwitchResynced { .. })).await;
    let (in_tx, _inputs) = mpsc::channel(256);
    let (_commands, cmd_rx) = mpsc::channel(64);
    let (_stop, stop_rx) = watch::channel(false);
    tokio::spawn(run_fenced_switch(
        settings(&first.sim, "ClueCon", Duration::from_secs(5)),
        cmd_rx,
        in_tx,
        Arc::new(Metrics::default()),
        stop_rx,
        Fence::open(),
    ));
    let metrics = first.metrics.clone();
    switchboard_eventually(|| metrics.esl_disconnects.load(Ordering::Relaxed) >= 1).await;
}

#[tokio::test]
async fn a_closed_fence_sends_nothing_not_even_the_handshake() {
    let sim = simulator().await;
    let (in_tx, _inputs) = mpsc::channel(256);
    let (_commands, cmd_rx) = mpsc::channel(64);
    let (stop, stop_rx) = watch::channel(false);
    let metrics = Arc::new(Metrics::default());
    let task = tokio::spawn(run_fenced_switch(
        settings(&sim, "ClueCon", Duration::from_secs(5)),
        cmd_rx,
        in_tx,
        metrics.clone(),
        stop_rx,
        Fence::closed(),
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sim.stats().requests, 0);
    assert_eq!(metrics.esl_connects.load(Ordering::Relaxed), 0);
    stop.send(true).expect("link runs");
    let ended = tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("stops")
        .expect("no panic");
    assert!(ended.is_ok());
}

#[tokio::test]
async fn a_flow_on_asterisk_plays_its_prompts_in_order_and_hangs_up_after_the_last() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let config = AriSimConfig {
        entry_points: vec![AriEntryPoint::stasis(
            "7000",
            "switchboard",
            &["flow", "greeting"],
        )],
        ..AriSimConfig::default()
    };
    let sim = AriSimulator::start(listener, config).await.expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let flows = dir.path().join("flows");
    std::fs::create_dir(&flows).expect("flows dir");
    std::fs::write(
        flows.join("greeting.toml"),
        "name = \"Greeting\"\nstart = \"hello\"\nentry_points = [\"greeting\"]\n\n\
         [node.hello]\nkind = \"play\"\nfile = \"hello-world.wav\"\nnext = \"bye\"\n\n\
         [node.bye]\nkind = \"hangup\"\ncause = \"NORMAL_CLEARING\"\n",
    )
    .expect("write flow");
    let running = app_on_asterisk(&sim, &dir, Some(flows)).await;
    let metrics = running.metrics.clone();
    switchboard_eventually(|| metrics.esl_connects.load(Ordering::Relaxed) >= 1).await;
    let caller = sim.place_call(CallSpec::new("1002", "7000"));
    switchboard_eventually(|| {
        sim.played()
            .iter()
            .any(|(_, media)| media == "sound:hello-world")
    })
    .await;
    switchboard_eventually(|| sim.channel(&caller).is_none()).await;
    running.stop().await.expect("stops cleanly");
}
