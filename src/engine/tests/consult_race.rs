//! A consult step asked between the target's answer and its originate's return (issue 17):
//! kept and carried out when the job returns, never sent into the window where the switch is
//! still bridging the agent to the target.

use super::consult::connected;
use super::*;
use crate::engine::consult::{ConsultAction, ConsultAsked, ConsultError, ConsultPhase};

#[test]
fn a_completion_asked_before_the_targets_originate_returned_is_sent_when_it_returns() {
    let mut b = connected();
    let a_leg = b.leg_of("a");
    b.start_consult(2_000, "b");
    b.answer(3_000, "b");
    assert_eq!(b.phase(), Some(ConsultPhase::Talking));
    b.act(3_002, ConsultAction::Complete);
    // A second step while one waits is refused.
    assert!(matches!(
        b.consult_asked(3_004, ConsultAsked::Action(ConsultAction::Cancel)),
        Err(ConsultError::StepPending(_))
    ));
    b.job_returns(3_020, "b", "-ERR ORIGINATOR_CANCEL");
    assert_eq!(b.phase(), Some(ConsultPhase::Completing));
    b.hangup(3_040, a_leg, "NORMAL_CLEARING");
    assert_eq!(b.phase(), None);
    assert_eq!(b.status("b"), AgentStatus::OnCall);
    b.agent_hangs_up(9_000, "b", "NORMAL_CLEARING");
    b.check(expect![[r#"
        @0 a requests Available
          store agent a logged_out -> available
        @100 chan1 parked for support
          store call entered support from 493012341
          store queue enter - priority=0
          store agent a available -> offered
          store queue offer a leg=id1
          originate id1 to a via user/a
          timer 25100ms ring timeout id1
          answer chan1
          hold chan1 local_stream://support
        @1000 a answered
          break chan1
          bridge chan1 id1
          store call answered by a after 900ms
          store queue connect a wait_ms=900
          store agent a offered -> on_call
        @1500 b requests Available
          store agent b logged_out -> available
        @2000 sup asks consult with b
          store agent b available -> offered
          store queue consult a step=start to=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 by=token:sup
          originate id2 to b via user/b
        @3000 b answered
          park chan1 after bridge
          park_after_bridge id1 true
          bridge id1 id2
          broadcast chan1 local_stream://support
          store queue consult a step=answered to=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373
          store agent b offered -> on_call
        @3002 sup asks consult complete
        @3020 b's originate -ERR ORIGINATOR_CANCEL
          park_after_bridge id1 false
          park_after_bridge chan1 false
          park_after_bridge id2 false
          bridge chan1 id2
          store queue consult a step=complete to=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 by=token:sup
        @3040 id1 hung up NORMAL_CLEARING
          store queue transfer a kind=attended from=a to=agent:b by=token:sup talk_ms=2040
          store call answered by b after 900ms
          store queue connect b consult leg=11aabecb-86be-4a3f-9a21-1e6a663bd373
          store agent a on_call -> available
        @9000 id2 hung up NORMAL_CLEARING
          store queue complete b by=agent talk_ms=5960
          store call ended completed NORMAL_CLEARING talk=Some(5960)
          store agent b on_call -> available
    "#]]);
}

#[test]
fn a_swap_asked_before_the_targets_originate_returned_is_sent_when_it_returns_ok() {
    let mut b = connected();
    b.start_consult(2_000, "b");
    b.answer(3_000, "b");
    b.act(3_001, ConsultAction::Swap);
    assert_eq!(b.phase(), Some(ConsultPhase::Talking));
    // The job returned `+OK` (the engine's bridge came after it): established all the same.
    b.job_returns(3_020, "b", "+OK");
    assert_eq!(b.phase(), Some(ConsultPhase::Swapped));
    b.act(4_000, ConsultAction::Swap);
    assert_eq!(b.phase(), Some(ConsultPhase::Talking));
    b.check(expect![[r#"
        @0 a requests Available
          store agent a logged_out -> available
        @100 chan1 parked for support
          store call entered support from 493012341
          store queue enter - priority=0
          store agent a available -> offered
          store queue offer a leg=id1
          originate id1 to a via user/a
          timer 25100ms ring timeout id1
          answer chan1
          hold chan1 local_stream://support
        @1000 a answered
          break chan1
          bridge chan1 id1
          store call answered by a after 900ms
          store queue connect a wait_ms=900
          store agent a offered -> on_call
        @1500 b requests Available
          store agent b logged_out -> available
        @2000 sup asks consult with b
          store agent b available -> offered
          store queue consult a step=start to=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 by=token:sup
          originate id2 to b via user/b
        @3000 b answered
          park chan1 after bridge
          park_after_bridge id1 true
          bridge id1 id2
          broadcast chan1 local_stream://support
          store queue consult a step=answered to=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373
          store agent b offered -> on_call
        @3001 sup asks consult swap
        @3020 b's originate +OK
          park_after_bridge id2 true
          bridge chan1 id1
          broadcast id2 local_stream://support
          store queue consult a step=swap to=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 by=token:sup
        @4000 sup asks consult swap
          park_after_bridge id2 false
          bridge id1 id2
          broadcast chan1 local_stream://support
          store queue consult a step=swap to=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 by=token:sup
    "#]]);
}

#[test]
fn a_cancel_asked_before_the_targets_originate_returned_is_sent_when_it_returns() {
    let mut b = connected();
    b.start_consult(2_000, "b");
    b.answer(3_000, "b");
    b.act(3_001, ConsultAction::Cancel);
    assert_eq!(b.phase(), Some(ConsultPhase::Talking));
    b.job_returns(3_020, "b", "-ERR ORIGINATOR_CANCEL");
    assert_eq!(b.phase(), Some(ConsultPhase::Cancelling));
    b.agent_hangs_up(3_040, "b", "NORMAL_CLEARING");
    assert_eq!(b.phase(), None);
    assert_eq!(b.status("b"), AgentStatus::Available);
    b.check(expect![[r#"
        @0 a requests Available
          store agent a logged_out -> available
        @100 chan1 parked for support
          store call entered support from 493012341
          store queue enter - priority=0
          store agent a available -> offered
          store queue offer a leg=id1
          originate id1 to a via user/a
          timer 25100ms ring timeout id1
          answer chan1
          hold chan1 local_stream://support
        @1000 a answered
          break chan1
          bridge chan1 id1
          store call answered by a after 900ms
          store queue connect a wait_ms=900
          store agent a offered -> on_call
        @1500 b requests Available
          store agent b logged_out -> available
        @2000 sup asks consult with b
          store agent b available -> offered
          store queue consult a step=start to=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 by=token:sup
          originate id2 to b via user/b
        @3000 b answered
          park chan1 after bridge
          park_after_bridge id1 true
          bridge id1 id2
          broadcast chan1 local_stream://support
          store queue consult a step=answered to=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373
          store agent b offered -> on_call
        @3001 sup asks consult cancel
        @3020 b's originate -ERR ORIGINATOR_CANCEL
          park_after_bridge id1 false
          park_after_bridge chan1 false
          bridge chan1 id1
          store queue consult a step=cancel to=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 by=token:sup
        @3040 id2 hung up NORMAL_CLEARING
          store queue consult a step=ended to=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 cause=NORMAL_CLEARING
          store agent b on_call -> available
    "#]]);
}

#[test]
fn a_step_kept_for_a_target_that_hangs_up_before_its_originate_returned_is_dropped() {
    let mut b = connected();
    b.start_consult(2_000, "b");
    b.answer(3_000, "b");
    b.act(3_001, ConsultAction::Complete);
    b.agent_hangs_up(3_010, "b", "NORMAL_CLEARING");
    assert_eq!(b.phase(), None);
    b.job_returns(3_020, "b", "-ERR ORIGINATOR_CANCEL");
    assert_eq!(b.status("a"), AgentStatus::OnCall);
    b.check(expect![[r#"
        @0 a requests Available
          store agent a logged_out -> available
        @100 chan1 parked for support
          store call entered support from 493012341
          store queue enter - priority=0
          store agent a available -> offered
          store queue offer a leg=id1
          originate id1 to a via user/a
          timer 25100ms ring timeout id1
          answer chan1
          hold chan1 local_stream://support
        @1000 a answered
          break chan1
          bridge chan1 id1
          store call answered by a after 900ms
          store queue connect a wait_ms=900
          store agent a offered -> on_call
        @1500 b requests Available
          store agent b logged_out -> available
        @2000 sup asks consult with b
          store agent b available -> offered
          store queue consult a step=start to=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 by=token:sup
          originate id2 to b via user/b
        @3000 b answered
          park chan1 after bridge
          park_after_bridge id1 true
          bridge id1 id2
          broadcast chan1 local_stream://support
          store queue consult a step=answered to=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373
          store agent b offered -> on_call
        @3001 sup asks consult complete
        @3010 id2 hung up NORMAL_CLEARING
          park_after_bridge id1 false
          park_after_bridge chan1 false
          bridge chan1 id1
          store queue consult a step=ended to=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 cause=NORMAL_CLEARING
          store agent b on_call -> available
        @3020 b's originate -ERR ORIGINATOR_CANCEL
    "#]]);
}

#[test]
fn a_step_kept_across_a_reconnect_is_sent_when_the_resync_finds_the_agent_bridged_to_the_target() {
    let mut b = connected();
    let a_leg = b.leg_of("a");
    b.start_consult(2_000, "b");
    b.answer(3_000, "b");
    b.act(3_001, ConsultAction::Complete);
    // The link dropped: the originate's BACKGROUND_JOB is lost; the switch lists the agent's
    // leg bridged to the target's.
    let k = b.leg_of("b");
    let snap = |channel: ChannelId, role, bridged_to: Option<ChannelId>| ChannelSnapshot {
        role,
        answered: true,
        bridged_to,
        ..ChannelSnapshot::other(channel, true)
    };
    let started = b
        .engine
        .handle(ts(4_000), Input::ResyncStarted { switch: sw() });
    b.record(4_000, "resync started", started);
    let effects = b.engine.handle(
        ts(4_000),
        Input::SwitchResynced {
            switch: sw(),
            channels: vec![
                snap(chan(1), ChannelRole::Caller, None),
                snap(a_leg.clone(), ChannelRole::Agent, Some(k.clone())),
                snap(k.clone(), ChannelRole::Agent, Some(a_leg.clone())),
            ],
        },
    );
    b.record(4_000, "resynced", effects);
    assert_eq!(b.phase(), Some(ConsultPhase::Completing));
    b.check(expect![[r#"
        @0 a requests Available
          store agent a logged_out -> available
        @100 chan1 parked for support
          store call entered support from 493012341
          store queue enter - priority=0
          store agent a available -> offered
          store queue offer a leg=id1
          originate id1 to a via user/a
          timer 25100ms ring timeout id1
          answer chan1
          hold chan1 local_stream://support
        @1000 a answered
          break chan1
          bridge chan1 id1
          store call answered by a after 900ms
          store queue connect a wait_ms=900
          store agent a offered -> on_call
        @1500 b requests Available
          store agent b logged_out -> available
        @2000 sup asks consult with b
          store agent b available -> offered
          store queue consult a step=start to=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 by=token:sup
          originate id2 to b via user/b
        @3000 b answered
          park chan1 after bridge
          park_after_bridge id1 true
          bridge id1 id2
          broadcast chan1 local_stream://support
          store queue consult a step=answered to=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373
          store agent b offered -> on_call
        @3001 sup asks consult complete
        @4000 resync started
        @4000 resynced
          park_after_bridge id1 false
          park_after_bridge chan1 false
          park_after_bridge id2 false
          bridge chan1 id2
          store queue consult a step=complete to=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 by=token:sup
    "#]]);
}
