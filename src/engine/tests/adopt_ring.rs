//! A controller starting while an agent's phone rings for a caller (a restart, or the standby
//! of a pair taking over) keeps the ring as the caller's offer.

use super::*;
use crate::engine::model::CallState;

fn stored_caller(channel: ChannelId, call: CallId) -> ChannelSnapshot {
    ChannelSnapshot {
        channel,
        role: ChannelRole::Caller,
        answered: true,
        bridged_to: None,
        queue: Some(QueueId::new("support").expect("id")),
        agent: None,
        call: Some(call),
        caller_number: "555".into(),
        caller_name: "Caller".into(),
        destination: "5000".into(),
        stored: Some(StoredCall {
            call,
            entered_at: ts(1_000),
            priority: 0,
            answered_at: None,
            place: None,
            transferred: None,
        }),
        flow_entry: None,
        stored_flow: None,
    }
}

fn ringing_leg(channel: ChannelId, call: CallId, agent: &str) -> ChannelSnapshot {
    ChannelSnapshot {
        channel,
        role: ChannelRole::Agent,
        answered: false,
        bridged_to: None,
        queue: Some(QueueId::new("support").expect("id")),
        agent: Some(AgentId::new(agent).expect("id")),
        call: Some(call),
        caller_number: String::new(),
        caller_name: String::new(),
        destination: String::new(),
        stored: None,
        flow_entry: None,
        stored_flow: None,
    }
}

#[test]
fn a_restart_keeps_an_agent_ringing_for_an_adopted_caller_without_originating_again() {
    let mut b = Bench::new(&["a"], 0);
    b.available(0, "a");
    let call = CallId::from_uuid(uuid::Uuid::from_u128(42));
    let effects = b.engine.handle(
        ts(60_000),
        Input::SwitchResynced {
            switch: sw(),
            channels: vec![
                stored_caller(chan(9), call),
                ringing_leg(chan(10), call, "a"),
            ],
        },
    );
    for effect in &effects {
        if let Effect::Switch { command, .. } = effect {
            assert!(
                !matches!(
                    command,
                    SwitchCommand::Originate { .. } | SwitchCommand::Kill { .. }
                ),
                "the ringing leg is neither killed nor originated again: {command:?}"
            );
        }
    }
    assert!(matches!(
        b.engine.calls[&call].state,
        CallState::Ringing { ref rings, .. } if rings.len() == 1 && rings[0].leg == chan(10)
    ));

    let effects = b.engine.handle(
        ts(61_000),
        Input::ChannelAnswered {
            switch: sw(),
            channel: chan(10),
        },
    );
    assert!(
        effects.iter().any(|e| matches!(
            e,
            Effect::Switch {
                command: SwitchCommand::Bridge { .. },
                ..
            }
        )),
        "the agent answering is bridged to the caller: {effects:?}"
    );
}

#[test]
fn a_ringing_leg_of_an_agent_who_cannot_take_it_is_killed_and_the_caller_waits() {
    let mut b = Bench::new(&["a"], 0);
    let call = CallId::from_uuid(uuid::Uuid::from_u128(43));
    let effects = b.engine.handle(
        ts(60_000),
        Input::SwitchResynced {
            switch: sw(),
            channels: vec![
                stored_caller(chan(9), call),
                ringing_leg(chan(10), call, "a"),
            ],
        },
    );
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::Switch {
            command: SwitchCommand::Kill { .. },
            ..
        }
    )));
    assert_eq!(b.engine.calls[&call].state, CallState::Waiting);
}
