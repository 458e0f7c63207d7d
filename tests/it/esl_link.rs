//! The ESL adapter against the simulator: what a switch's events become as engine inputs.

use std::sync::Arc;
use std::time::Duration;

use switchboard::engine::{ChannelId, Input, SwitchCommand, SwitchName};
use switchboard::esl::{run_switch, Outgoing, SwitchInput, SwitchSettings};
use switchboard::metrics::Metrics;
use switchboard::sim::{
    CallSpec, EntryPoint, PhoneBehavior, PhoneSpec, SimConfig, SimHandle, Simulator,
};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

struct Link {
    sim: SimHandle,
    inputs: mpsc::Receiver<SwitchInput>,
    commands: mpsc::Sender<Outgoing>,
    _stop: watch::Sender<bool>,
}

async fn link(skills: &str) -> Link {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let config = SimConfig {
        entry_points: vec![EntryPoint {
            number: "5000".into(),
            variables: vec![
                ("switchboard_queue".into(), "support".into()),
                ("switchboard_skills".into(), skills.into()),
            ],
        }],
        ..SimConfig::default()
    };
    let sim = Simulator::start(listener, config).await.expect("sim");
    let settings = SwitchSettings {
        name: SwitchName::new("fs1").expect("name"),
        host: "127.0.0.1".into(),
        port: sim.esl_addr().port(),
        password: "ClueCon".into(),
        liveness_timeout: Duration::from_secs(60),
        reconnect_max: Duration::from_secs(1),
        command_connections: 1,
        recordings_dir: switchboard::config::DEFAULT_RECORDINGS_DIR.into(),
        recordings_mount: None,
    };
    let (in_tx, inputs) = mpsc::channel(64);
    let (commands, cmd_rx) = mpsc::channel(64);
    let (stop, stop_rx) = watch::channel(false);
    tokio::spawn(run_switch(
        settings,
        cmd_rx,
        in_tx,
        Arc::new(Metrics::default()),
        stop_rx,
    ));
    Link {
        sim,
        inputs,
        commands,
        _stop: stop,
    }
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

#[tokio::test]
async fn a_parked_caller_brings_its_skills_and_its_keys_reach_the_engine() {
    let mut link = link("spanish:7,billing").await;
    next_input(&mut link, |i| matches!(i, Input::SwitchResynced { .. })).await;
    let uuid = link.sim.place_call_pressing(
        CallSpec::new("2001", "5000"),
        vec![(Duration::from_millis(50), "7#".into())],
    );
    let channel = ChannelId::parse(&uuid).expect("uuid");
    let parked = next_input(&mut link, |i| matches!(i, Input::CallParked(_))).await;
    let Input::CallParked(p) = parked else {
        unreachable!()
    };
    assert_eq!(p.channel, channel);
    let skills: Vec<String> = p.skills.iter().map(ToString::to_string).collect();
    assert_eq!(skills, ["billing:1", "spanish:7"]);

    link.commands
        .send(Outgoing {
            affinity: channel.clone(),
            command: SwitchCommand::Answer {
                channel: channel.clone(),
            },
            caused_by: None,
        })
        .await
        .expect("command");
    let mut keys = Vec::new();
    while keys.len() < 2 {
        if let Input::Dtmf {
            channel: c, digit, ..
        } = next_input(&mut link, |i| matches!(i, Input::Dtmf { .. })).await
        {
            assert_eq!(c, channel);
            keys.push(digit);
        }
    }
    assert_eq!(keys, ['7', '#']);
}

#[tokio::test]
async fn a_caller_with_unreadable_skills_is_still_queued() {
    let mut link = link("spanish:eleven").await;
    next_input(&mut link, |i| matches!(i, Input::SwitchResynced { .. })).await;
    let uuid = link.sim.place_call(CallSpec::new("2002", "5000"));
    let Input::CallParked(p) = next_input(&mut link, |i| matches!(i, Input::CallParked(_))).await
    else {
        unreachable!()
    };
    assert_eq!(p.channel.to_string(), uuid);
    assert!(p.skills.is_empty());
}

#[tokio::test]
async fn phone_registration_changes_reach_the_engine() {
    let mut link = link("").await;
    link.sim.add_phone(PhoneSpec {
        user: "1001".into(),
        behavior: PhoneBehavior::Answer {
            after: Duration::from_millis(10),
        },
        hangup_after_talk: None,
    });
    next_input(&mut link, |i| matches!(i, Input::SwitchResynced { .. })).await;
    let registration = |i: &Input| matches!(i, Input::PhoneRegistration { .. });
    let expected = |registered: bool, cause: &str| Input::PhoneRegistration {
        switch: SwitchName::new("fs1").expect("name"),
        user: "1001".into(),
        registered,
        cause: cause.into(),
    };

    assert!(link.sim.unregister_phone("1001"));
    assert_eq!(
        next_input(&mut link, registration).await,
        expected(false, "unregister")
    );
    assert!(link.sim.register_phone("1001"));
    assert_eq!(
        next_input(&mut link, registration).await,
        expected(true, "register")
    );
    assert!(link.sim.expire_phone("1001"));
    assert_eq!(
        next_input(&mut link, registration).await,
        expected(false, "expire")
    );
}
