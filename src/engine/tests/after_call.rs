//! "After this call": a pause or log-out asked for during a call waits for the call and its
//! wrap-up, can be replaced or cancelled, and survives a restart through the resync.

use super::*;
use crate::engine::StateRequestOutcome;

impl Bench {
    fn after_call(
        &mut self,
        at: i64,
        agent: &str,
        state: RequestedState,
        wait_out_wrap_up: bool,
    ) -> Result<StateRequestOutcome, CommandError> {
        let label = format!("{agent} asks {state:?} after the call");
        let (outcome, effects) =
            self.engine
                .request_state_after_call(ts(at), &aid(agent), state, wait_out_wrap_up)?;
        self.record(at, &format!("{label}: {}", outcome.as_str()), effects);
        Ok(outcome)
    }
}

fn lunch() -> RequestedState {
    RequestedState::Paused {
        reason: "lunch".into(),
    }
}

/// 1001 answers a caller; the queue has 30 s of wrap-up.
fn on_a_call() -> Bench {
    let mut b = Bench::new(&["1001"], 30_000);
    b.available(0, "1001");
    b.park(100, 1, "111");
    b.answer_leg(200, 1);
    b.trace.clear();
    b
}

#[test]
fn a_pause_asked_for_on_a_call_waits_for_the_call_and_its_wrap_up() {
    let mut b = on_a_call();
    assert_eq!(
        b.after_call(1_000, "1001", lunch(), false),
        Ok(StateRequestOutcome::Pending)
    );
    assert_eq!(b.status("1001"), AgentStatus::OnCall);
    let shown = b.engine.after_call_of(&aid("1001")).expect("pending");
    assert_eq!(
        (shown.status, shown.reason.as_deref()),
        (AgentStatus::Paused, Some("lunch"))
    );
    b.hangup(5_000, chan(1), "NORMAL_CLEARING");
    assert_eq!(b.status("1001"), AgentStatus::WrapUp);
    b.advance(40_000);
    assert_eq!(b.status("1001"), AgentStatus::Paused);
    assert_eq!(b.engine.after_call_of(&aid("1001")), None);
    b.check(expect![[r#"
        @1000 1001 asks Paused { reason: "lunch" } after the call: pending
          store agent 1001 after call: paused (lunch) pending
        @5000 chan1 hung up NORMAL_CLEARING
          store queue complete 1001 by=caller talk_ms=4800
          store call ended completed NORMAL_CLEARING talk=Some(4800)
          store agent 1001 on_call -> wrap_up
          timer 35000ms wrap-up of 1001 ends
        @35000 WrapUpEnds fired
          store agent 1001 after call: paused (lunch) applied
          store agent 1001 wrap_up -> paused (lunch)
    "#]]);
}

#[test]
fn a_later_request_replaces_the_pending_one_and_available_cancels_it() {
    let mut b = on_a_call();
    b.after_call(1_000, "1001", lunch(), false)
        .expect("pending");
    assert_eq!(
        b.after_call(2_000, "1001", RequestedState::LoggedOut, false),
        Ok(StateRequestOutcome::Pending)
    );
    assert_eq!(
        b.engine.after_call_of(&aid("1001")).map(|v| v.status),
        Some(AgentStatus::LoggedOut)
    );
    assert_eq!(
        b.after_call(3_000, "1001", RequestedState::Available, false),
        Ok(StateRequestOutcome::Cancelled)
    );
    b.hangup(5_000, chan(1), "NORMAL_CLEARING");
    b.advance(40_000);
    assert_eq!(b.status("1001"), AgentStatus::Available);
    // With nothing pending, `available` on a call is refused as it always was.
    b.park(41_000, 2, "222");
    b.answer_leg(41_200, 2);
    assert!(matches!(
        b.after_call(42_000, "1001", RequestedState::Available, false),
        Err(CommandError::Conflict { .. })
    ));
}

#[test]
fn a_log_out_after_a_call_without_wrap_up_applies_at_the_hangup() {
    let mut b = Bench::new(&["1001"], 0);
    b.available(0, "1001");
    b.park(100, 1, "111");
    b.answer_leg(200, 1);
    b.after_call(1_000, "1001", RequestedState::LoggedOut, false)
        .expect("pending");
    // A second caller waits meanwhile: the agent leaving must not be offered it.
    b.park(2_000, 2, "222");
    b.hangup(5_000, chan(1), "NORMAL_CLEARING");
    assert_eq!(b.status("1001"), AgentStatus::LoggedOut);
    assert_eq!(b.rung.len(), 1, "the waiting caller is not offered to 1001");
}

#[test]
fn in_wrap_up_a_pause_cuts_it_short_unless_asked_to_wait_it_out() {
    let mut b = on_a_call();
    b.hangup(5_000, chan(1), "NORMAL_CLEARING");
    assert_eq!(
        b.after_call(6_000, "1001", lunch(), true),
        Ok(StateRequestOutcome::Pending)
    );
    assert_eq!(b.status("1001"), AgentStatus::WrapUp);
    b.advance(40_000);
    assert_eq!(b.status("1001"), AgentStatus::Paused);

    let mut b = on_a_call();
    b.hangup(5_000, chan(1), "NORMAL_CLEARING");
    assert_eq!(
        b.after_call(6_000, "1001", lunch(), false),
        Ok(StateRequestOutcome::Applied)
    );
    assert_eq!(b.status("1001"), AgentStatus::Paused);
}

#[test]
fn ending_wrap_up_from_the_phone_takes_the_pending_state() {
    let mut b = on_a_call();
    b.after_call(1_000, "1001", lunch(), false)
        .expect("pending");
    b.hangup(5_000, chan(1), "NORMAL_CLEARING");
    let effects = b.engine.handle(
        ts(6_000),
        Input::FeatureCode {
            switch: sw(),
            channel: chan(901),
            feature: Feature::EndWrapUp,
            user: "1001".into(),
            reason: None,
            agent_number: None,
            pin: None,
            destination: String::new(),
            context: "default".into(),
        },
    );
    b.record(6_000, "1001 dials end-wrap-up", effects);
    assert_eq!(b.status("1001"), AgentStatus::Paused);
    assert_eq!(b.engine.after_call_of(&aid("1001")), None);
}

#[test]
fn a_pause_from_the_phone_in_wrap_up_drops_what_waited() {
    let mut b = on_a_call();
    b.after_call(1_000, "1001", RequestedState::LoggedOut, false)
        .expect("pending");
    b.hangup(5_000, chan(1), "NORMAL_CLEARING");
    let effects = b.engine.handle(
        ts(6_000),
        Input::FeatureCode {
            switch: sw(),
            channel: chan(901),
            feature: Feature::Pause,
            user: "1001".into(),
            reason: None,
            agent_number: None,
            pin: None,
            destination: String::new(),
            context: "default".into(),
        },
    );
    b.record(6_000, "1001 dials pause", effects);
    assert_eq!(b.status("1001"), AgentStatus::Paused);
    assert_eq!(b.engine.after_call_of(&aid("1001")), None);
    b.advance(40_000);
    assert_eq!(
        b.status("1001"),
        AgentStatus::Paused,
        "not logged out later"
    );
}

#[test]
fn a_restored_pending_state_waits_for_the_resync_and_applies_to_an_agent_on_no_call() {
    let mut b = Bench::new(&["1001", "1002"], 0);
    b.available(0, "1001");
    b.available(0, "1002");
    b.engine.restore_after_call(&aid("1001"), lunch(), ts(0));
    assert_eq!(b.status("1001"), AgentStatus::Available);
    let effects = b.engine.handle(
        ts(1_000),
        Input::SwitchResynced {
            switch: sw(),
            channels: Vec::new(),
        },
    );
    b.record(1_000, "resynced", effects);
    assert_eq!(b.status("1001"), AgentStatus::Paused);
    assert_eq!(b.status("1002"), AgentStatus::Available);
}
