//! The real switch answers an originate whose leg we bridged before the job returned with
//! `-ERR ORIGINATOR_CANCEL`, while the leg stays up and bridged (Batch 3 captures
//! `switchboard-basic`, `bridge-before-and-after-job`). Only the leg's own hangup ends it.

use super::*;

#[test]
fn a_late_originator_cancel_for_a_bridged_leg_changes_nothing() {
    let mut b = Bench::new(&["1001"], 2_000);
    b.available(0, "1001");
    b.park(100, 1, "2001");
    b.answer_leg(1_100, 1);
    b.originate_failed(1_121, 1, "ORIGINATOR_CANCEL");
    assert_eq!(b.status("1001"), AgentStatus::OnCall);
    b.hangup(4_300, chan(1), "NORMAL_CLEARING");
    assert_eq!(b.engine.counters().late_originate_failures, 1);
    b.check(expect![[r#"
        @0 1001 available
          store agent 1001 logged_out -> available
        @100 chan1 parked
          store call entered support from 2001
          store queue enter - priority=0
          store agent 1001 available -> offered
          store queue offer 1001 leg=id1
          originate id1 to 1001 via user/1001
          timer 25100ms ring timeout id1
          answer chan1
          hold chan1 local_stream://moh
        @1100 leg 1 answered
          break chan1
          bridge chan1 id1
          store call answered by 1001 after 1000ms
          store queue connect 1001 wait_ms=1000
          store agent 1001 offered -> on_call
        @1121 originate of leg 1 failed ORIGINATOR_CANCEL
        @4300 chan1 hung up NORMAL_CLEARING
          store queue complete 1001 by=caller talk_ms=3200
          store call ended completed NORMAL_CLEARING talk=Some(3200)
          store agent 1001 on_call -> wrap_up
          timer 6300ms wrap-up of 1001 ends
    "#]]);
}

#[test]
fn a_failed_originate_of_a_leg_that_never_answered_ends_the_offer() {
    let mut b = Bench::new(&["1001", "1002"], 0);
    b.available(0, "1001");
    b.available(10, "1002");
    b.park(100, 1, "2003");
    b.originate_failed(140, 1, "USER_NOT_REGISTERED");
    assert_ne!(b.status("1001"), AgentStatus::Offered);
    assert_eq!(b.status("1002"), AgentStatus::Offered);
}

#[test]
fn the_agent_hanging_up_after_a_late_originator_cancel_completes_the_call_once() {
    let mut b = Bench::new(&["1001"], 0);
    b.available(0, "1001");
    b.park(100, 1, "2001");
    b.answer_leg(1_100, 1);
    b.originate_failed(1_121, 1, "ORIGINATOR_CANCEL");
    b.hangup(4_100, b.leg(1), "NORMAL_CLEARING");
    b.hangup(4_120, chan(1), "NORMAL_CLEARING");
    let ends = b
        .trace
        .iter()
        .filter(|l| l.contains("store call ended"))
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(
        ends,
        ["  store call ended completed NORMAL_CLEARING talk=Some(3000)"]
    );
}
