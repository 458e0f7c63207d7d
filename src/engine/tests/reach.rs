//! Agents on any switch: the agent leg is originated on the caller's switch, through the
//! declared route when the phone is registered only on another switch.

use super::*;

fn fs2() -> SwitchName {
    SwitchName::new("fs2").expect("name")
}

/// `user`'s phone registered only on fs2 (fs1 lists the others).
fn registered_on_fs2(b: &mut Bench, user: &str, on_fs1: &[&str]) {
    for (switch, users) in [
        (fs2(), vec![user.to_owned()]),
        (sw(), on_fs1.iter().map(|u| (*u).to_owned()).collect()),
    ] {
        let effects = b
            .engine
            .handle(ts(0), Input::RegistrationsListed { switch, users });
        b.record(0, "registrations listed", effects);
    }
}

fn originates(effects: &[Effect]) -> Vec<(String, String)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Switch {
                switch,
                command: SwitchCommand::Originate { dial_string, .. },
                ..
            } => Some((switch.to_string(), dial_string.clone())),
            _ => None,
        })
        .collect()
}

fn park_effects(b: &mut Bench, at: i64, channel: u32) -> Vec<Effect> {
    b.engine.handle(
        ts(at),
        Input::CallParked(ParkedCall {
            switch: sw(),
            channel: chan(channel),
            queue: qid("support"),
            caller_number: "111".into(),
            caller_name: "Caller 111".into(),
            destination: "5000".into(),
            priority: 0,
            skills: Vec::new(),
        }),
    )
}

#[test]
fn an_agent_registered_only_on_another_switch_is_dialled_through_the_route_on_the_callers() {
    let mut b = Bench::new(&["1001"], 0);
    b.engine.set_route(sw(), fs2(), "sofia/gateway/fs2/{user}");
    registered_on_fs2(&mut b, "1001", &[]);
    b.available(0, "1001");
    let effects = park_effects(&mut b, 100, 1);
    assert_eq!(
        originates(&effects),
        [(SW.to_owned(), "sofia/gateway/fs2/1001".to_owned())]
    );
}

#[test]
fn without_a_route_the_agent_sits_out_saying_why_and_the_next_agent_gets_the_call() {
    let mut b = Bench::new(&["1001", "1002"], 0);
    registered_on_fs2(&mut b, "1001", &["1002"]);
    b.available(0, "1001");
    let effects = park_effects(&mut b, 100, 1);
    assert!(
        originates(&effects).is_empty(),
        "nothing rings: {effects:?}"
    );
    let view = b.engine.snapshot(ts(100));
    let agent = view
        .agents
        .iter()
        .find(|a| a.id.as_str() == "1001")
        .expect("1001");
    assert_eq!(agent.reason.as_deref(), Some("no_route from fs1 to fs2"));
    assert_eq!(agent.registered_on, ["fs2"]);
    assert!(agent.eligible_at.is_some(), "it sits out a back-off");
    assert_eq!(view.waiting(), 1);
    b.available(200, "1002");
    assert_eq!(b.rung, ["1002"]);
}

#[test]
fn ring_progressively_passes_over_an_agent_it_cannot_reach() {
    let mut b = Bench::with(
        vec![queue(
            "support",
            QueueRouting {
                strategy: Strategy::RingProgressively,
                ring_progressively_every: Duration::from_secs(4),
                ..QueueRouting::default()
            },
        )],
        vec![
            agent("a", &["support"], ""),
            agent("b", &["support"], ""),
            agent("c", &["support"], ""),
        ],
    );
    registered_on_fs2(&mut b, "b", &["a", "c"]);
    for id in ["a", "b", "c"] {
        b.set_state(0, id, RequestedState::Available);
    }
    b.enqueue(1_000, 1, "support", 0, "");
    b.advance(9_500);
    assert_eq!(
        b.rung,
        ["a", "c"],
        "b, on fs2 with no route, is passed over"
    );
    assert_eq!(
        b.engine.snapshot(ts(9_500)).agents[1].reason.as_deref(),
        Some("no_route from fs1 to fs2")
    );
}
