//! Nothing the engine keeps per call outlives its call (issue 16, the soak's slow growth):
//! calls answered and ended either way, abandoned while waiting and while ringing, recorded
//! by policy, and after all of them every per-call collection is empty again.

use super::*;
use crate::engine::recording::{RecordingMode, RecordingPolicy};

/// Two agents, recordings always on, as in the soak.
fn soak_like() -> Bench {
    let mut b = Bench::with(
        vec![queue(
            "support",
            QueueRouting {
                recording: RecordingPolicy {
                    mode: RecordingMode::Always,
                    ..RecordingPolicy::default()
                },
                ..QueueRouting::default()
            },
        )],
        vec![agent("a", &["support"], ""), agent("b", &["support"], "")],
    );
    b.engine.set_recordings_dir(sw(), "/rec/");
    b.set_state(0, "a", RequestedState::Available);
    b.set_state(0, "b", RequestedState::Available);
    b
}

/// The agent rung last.
fn last_rung(b: &Bench) -> String {
    b.rung.last().cloned().expect("an agent was rung")
}

/// Call `n` at `at`: how it ends depends on `n` (see the module's doc).
fn one_call(b: &mut Bench, at: i64, n: u32) {
    let caller = chan(n);
    b.enqueue(at, n, "support", 0, "");
    let agent = last_rung(b);
    let leg = b.leg_of(&agent);
    match n % 4 {
        // Abandoned while the agent's phone rings: the switch cancels the leg.
        0 => {
            b.hangup(at + 500, caller, "NORMAL_CLEARING");
            b.hangup(at + 510, leg.clone(), "ORIGINATOR_CANCEL");
            let late = b.engine.handle(
                ts(at + 520),
                Input::OriginateFailed {
                    switch: sw(),
                    leg,
                    cause: "ORIGINATOR_CANCEL".into(),
                },
            );
            b.record(at + 520, "originate failed", late);
        }
        // The agent hangs up first, then the caller.
        1 => {
            b.answer(at + 300, &agent);
            b.hangup(at + 2_000, leg, "NORMAL_CLEARING");
            b.hangup(at + 2_010, caller.clone(), "NORMAL_CLEARING");
            recording_stopped(b, at + 2_020, caller);
        }
        // The caller hangs up first, then the switch hangs the agent's leg up.
        _ => {
            b.answer(at + 300, &agent);
            b.hangup(at + 2_000, caller.clone(), "NORMAL_CLEARING");
            b.hangup(at + 2_010, leg, "NORMAL_CLEARING");
            recording_stopped(b, at + 2_020, caller);
        }
    }
    b.advance(at + 60_000);
}

/// The switch's RECORD_STOP for the caller's recording (late news for the engine).
fn recording_stopped(b: &mut Bench, at: i64, channel: ChannelId) {
    let effects = b.engine.handle(
        ts(at),
        Input::RecordingStopped {
            switch: sw(),
            channel,
            path: "/rec/x.wav".into(),
        },
    );
    b.record(at, "recording stopped", effects);
}

#[test]
fn every_per_call_collection_is_empty_after_the_calls_end() {
    let mut b = soak_like();
    let before = b.engine.collection_sizes();
    for n in 1..=40u32 {
        one_call(&mut b, i64::from(n) * 100_000, n);
    }
    let after = b.engine.collection_sizes();
    assert_eq!(
        after.per_call_nonempty(),
        Vec::<(&str, usize)>::new(),
        "left after 40 calls: {}",
        after.line()
    );
    assert_eq!(b.status("a"), AgentStatus::Available);
    assert_eq!(b.status("b"), AgentStatus::Available);
    // Bounded ones did not grow with the calls either.
    assert_eq!(after.line(), before.line());
}
