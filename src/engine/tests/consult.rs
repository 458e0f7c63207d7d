//! Consult transfers over REST: start, the target answering, complete, cancel, swap, and the
//! caller, the agent or the target hanging up in the middle.

use super::*;
use crate::engine::consult::{ConsultAction, ConsultAsked, ConsultError, ConsultPhase};
use crate::engine::hold::HoldBy;

/// Agent `a` talks to a caller; `b` is available.
pub(super) fn connected() -> Bench {
    let mut b = Bench::with(
        vec![queue("support", QueueRouting::default())],
        vec![agent("a", &["support"], ""), agent("b", &["support"], "")],
    );
    b.talking("a", "support");
    b.set_state(1_500, "b", RequestedState::Available);
    b
}

impl Bench {
    fn consult(&mut self, at: i64, asked: ConsultAsked) -> Result<(), ConsultError> {
        let call = self.only_call();
        let label = match &asked {
            ConsultAsked::Start { target } => format!("sup asks consult with {target}"),
            ConsultAsked::Action(a) => format!("sup asks consult {}", a.as_str()),
            ConsultAsked::Number { number } => format!("sup asks consult with number {number}"),
        };
        let effects = self
            .engine
            .consult(ts(at), call, asked, HoldBy::Token("sup".into()))?;
        self.record(at, &label, effects);
        Ok(())
    }

    pub(super) fn start_consult(&mut self, at: i64, target: &str) {
        self.consult(
            at,
            ConsultAsked::Start {
                target: aid(target),
            },
        )
        .expect("consult");
    }

    pub(super) fn consult_asked(
        &mut self,
        at: i64,
        asked: ConsultAsked,
    ) -> Result<(), ConsultError> {
        self.consult(at, asked)
    }

    pub(super) fn act(&mut self, at: i64, action: ConsultAction) {
        self.consult(at, ConsultAsked::Action(action))
            .expect("allowed");
    }

    /// `agent` answers and, `after` ms later, its originate returns `-ERR ORIGINATOR_CANCEL`
    /// (the engine's bridge on the answer landed before the job returned: Batch 3 A5).
    pub(super) fn answer_then_job(&mut self, at: i64, agent: &str, after: i64) {
        self.answer(at, agent);
        self.job_returns(at + after, agent, "-ERR ORIGINATOR_CANCEL");
    }

    /// The originate of `agent`'s latest leg returns: `+OK` or `-ERR <cause>`.
    pub(super) fn job_returns(&mut self, at: i64, agent: &str, body: &str) {
        let leg = self.leg_of(agent);
        let input = match body.strip_prefix("-ERR ") {
            Some(cause) => Input::OriginateFailed {
                switch: sw(),
                leg,
                cause: cause.into(),
            },
            None => Input::OriginateReturned { switch: sw(), leg },
        };
        let effects = self.engine.handle(ts(at), input);
        self.record(at, &format!("{agent}'s originate {body}"), effects);
    }

    pub(super) fn phase(&self) -> Option<ConsultPhase> {
        let call = *self.engine.calls.keys().next()?;
        self.engine.consult_view(call).map(|c| c.phase)
    }
}

#[test]
fn a_completed_consult_hands_the_caller_to_the_target_under_the_same_call() {
    let mut b = connected();
    let a_leg = b.leg_of("a");
    b.start_consult(2_000, "b");
    assert_eq!(b.phase(), Some(ConsultPhase::Ringing));
    assert_eq!(b.status("b"), AgentStatus::Offered);
    b.answer_then_job(3_000, "b", 20);
    assert_eq!(b.phase(), Some(ConsultPhase::Talking));
    b.act(5_000, ConsultAction::Complete);
    b.hangup(5_020, a_leg, "NORMAL_CLEARING");
    assert_eq!(b.phase(), None);
    // No wrap-up in this queue: available at once.
    assert_eq!(b.status("a"), AgentStatus::Available);
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
        @3020 b's originate -ERR ORIGINATOR_CANCEL
        @5000 sup asks consult complete
          park_after_bridge id1 false
          park_after_bridge chan1 false
          park_after_bridge id2 false
          bridge chan1 id2
          store queue consult a step=complete to=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 by=token:sup
        @5020 id1 hung up NORMAL_CLEARING
          store queue transfer a kind=attended from=a to=agent:b by=token:sup talk_ms=4020
          store call answered by b after 900ms
          store queue connect b consult leg=11aabecb-86be-4a3f-9a21-1e6a663bd373
          store agent a on_call -> available
        @9000 id2 hung up NORMAL_CLEARING
          store queue complete b by=agent talk_ms=3980
          store call ended completed NORMAL_CLEARING talk=Some(3980)
          store agent b on_call -> available
    "#]]);
}

#[test]
fn a_cancelled_consult_puts_the_agent_back_with_the_caller() {
    let mut b = connected();
    b.start_consult(2_000, "b");
    b.answer_then_job(3_000, "b", 20);
    b.act(4_000, ConsultAction::Cancel);
    assert_eq!(b.phase(), Some(ConsultPhase::Cancelling));
    let k = b.leg_of("b");
    b.hangup(4_020, k, "NORMAL_CLEARING");
    assert_eq!(b.phase(), None);
    assert_eq!(b.status("a"), AgentStatus::OnCall);
    assert_eq!(b.status("b"), AgentStatus::Available);
    b.agent_hangs_up(6_000, "a", "NORMAL_CLEARING");
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
        @3020 b's originate -ERR ORIGINATOR_CANCEL
        @4000 sup asks consult cancel
          park_after_bridge id1 false
          park_after_bridge chan1 false
          bridge chan1 id1
          store queue consult a step=cancel to=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 by=token:sup
        @4020 id2 hung up NORMAL_CLEARING
          store queue consult a step=ended to=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 cause=NORMAL_CLEARING
          store agent b on_call -> available
        @6000 id1 hung up NORMAL_CLEARING
          store queue complete a by=agent talk_ms=5000
          store call ended completed NORMAL_CLEARING talk=Some(5000)
          store agent a on_call -> available
    "#]]);
}

#[test]
fn a_consult_cancelled_while_ringing_kills_the_leg_and_frees_the_target() {
    let mut b = connected();
    b.start_consult(2_000, "b");
    b.act(2_500, ConsultAction::Cancel);
    b.originate_failed(2_520, 2, "ORIGINATOR_CANCEL");
    assert_eq!(b.phase(), None);
    assert_eq!(b.status("b"), AgentStatus::Available);
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
        @2500 sup asks consult cancel
          kill id2 ORIGINATOR_CANCEL
          store queue consult a step=cancel to=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 by=token:sup
        @2520 originate of leg 2 failed ORIGINATOR_CANCEL
          store queue consult a step=ended to=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 cause=ORIGINATOR_CANCEL
          store agent b offered -> available
    "#]]);
}

#[test]
fn swap_goes_to_the_caller_and_back_then_completes() {
    let mut b = connected();
    let a_leg = b.leg_of("a");
    b.start_consult(2_000, "b");
    b.answer_then_job(3_000, "b", 20);
    b.act(4_000, ConsultAction::Swap);
    assert_eq!(b.phase(), Some(ConsultPhase::Swapped));
    b.act(5_000, ConsultAction::Swap);
    assert_eq!(b.phase(), Some(ConsultPhase::Talking));
    b.act(6_000, ConsultAction::Swap);
    b.act(7_000, ConsultAction::Complete);
    b.hangup(7_020, a_leg, "NORMAL_CLEARING");
    assert_eq!(b.status("b"), AgentStatus::OnCall);
    b.hangup(9_000, chan(1), "NORMAL_CLEARING");
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
        @3020 b's originate -ERR ORIGINATOR_CANCEL
        @4000 sup asks consult swap
          park_after_bridge id2 true
          bridge chan1 id1
          broadcast id2 local_stream://support
          store queue consult a step=swap to=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 by=token:sup
        @5000 sup asks consult swap
          park_after_bridge id2 false
          bridge id1 id2
          broadcast chan1 local_stream://support
          store queue consult a step=swap to=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 by=token:sup
        @6000 sup asks consult swap
          park_after_bridge id2 true
          bridge chan1 id1
          broadcast id2 local_stream://support
          store queue consult a step=swap to=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 by=token:sup
        @7000 sup asks consult complete
          park_after_bridge id1 false
          park_after_bridge chan1 false
          park_after_bridge id2 false
          bridge chan1 id2
          store queue consult a step=complete to=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 by=token:sup
        @7020 id1 hung up NORMAL_CLEARING
          store queue transfer a kind=attended from=a to=agent:b by=token:sup talk_ms=6020
          store call answered by b after 900ms
          store queue connect b consult leg=11aabecb-86be-4a3f-9a21-1e6a663bd373
          store agent a on_call -> available
        @9000 chan1 hung up NORMAL_CLEARING
          store queue complete b by=caller talk_ms=1980
          store call ended completed NORMAL_CLEARING talk=Some(1980)
          store agent b on_call -> available
    "#]]);
}

#[test]
fn the_target_not_answering_leaves_the_call_as_it_was() {
    let mut b = connected();
    b.start_consult(2_000, "b");
    b.originate_failed(22_000, 2, "NO_ANSWER");
    assert_eq!(b.phase(), None);
    assert_eq!(b.status("b"), AgentStatus::Available);
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
        @22000 originate of leg 2 failed NO_ANSWER
          store queue consult a step=ended to=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 cause=NO_ANSWER
          store agent b offered -> available
    "#]]);
}

#[test]
fn the_target_hanging_up_mid_consult_bridges_the_caller_back_to_the_agent() {
    let mut b = connected();
    b.start_consult(2_000, "b");
    b.answer_then_job(3_000, "b", 20);
    let k = b.leg_of("b");
    b.hangup(4_000, k, "NORMAL_CLEARING");
    assert_eq!(b.phase(), None);
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
        @3020 b's originate -ERR ORIGINATOR_CANCEL
        @4000 id2 hung up NORMAL_CLEARING
          park_after_bridge id1 false
          park_after_bridge chan1 false
          bridge chan1 id1
          store queue consult a step=ended to=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 cause=NORMAL_CLEARING
          store agent b on_call -> available
    "#]]);
}

#[test]
fn the_caller_hanging_up_mid_consult_ends_the_call_once_and_frees_both_agents() {
    let mut b = connected();
    b.start_consult(2_000, "b");
    b.answer_then_job(3_000, "b", 20);
    b.hangup(4_000, chan(1), "NORMAL_CLEARING");
    assert_eq!(b.phase(), None);
    assert!(b.engine.calls.is_empty());
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
        @3020 b's originate -ERR ORIGINATOR_CANCEL
        @4000 chan1 hung up NORMAL_CLEARING
          kill id2 NORMAL_CLEARING
          kill id1 NORMAL_CLEARING
          store agent b on_call -> available
          store queue complete a by=caller talk_ms=3000
          store call ended completed NORMAL_CLEARING talk=Some(3000)
          store agent a on_call -> available
    "#]]);
}

#[test]
fn the_agent_hanging_up_mid_consult_ends_the_call_and_hangs_up_the_parked_caller() {
    let mut b = connected();
    let a_leg = b.leg_of("a");
    b.start_consult(2_000, "b");
    b.answer_then_job(3_000, "b", 20);
    b.hangup(4_000, a_leg, "NORMAL_CLEARING");
    assert!(b.engine.calls.is_empty());
    // The caller's park (park_after_bridge) is not a new caller.
    b.enqueue(4_010, 1, "support", 0, "");
    assert!(b.engine.calls.is_empty());
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
        @3020 b's originate -ERR ORIGINATOR_CANCEL
        @4000 id1 hung up NORMAL_CLEARING
          kill id2 NORMAL_CLEARING
          kill chan1 NORMAL_CLEARING
          store agent b on_call -> available
          store queue complete a by=agent talk_ms=3000
          store call ended completed NORMAL_CLEARING talk=Some(3000)
          store agent a on_call -> available
        @4010 chan1 parked for support
    "#]]);
}

#[test]
fn what_a_consult_request_refuses() {
    let mut b = connected();
    let err = |b: &mut Bench, asked| b.consult(2_000, asked).expect_err("refused");
    assert!(matches!(
        err(&mut b, ConsultAsked::Start { target: aid("a") }),
        ConsultError::SameAgent(_)
    ));
    assert!(matches!(
        err(&mut b, ConsultAsked::Start { target: aid("zz") }),
        ConsultError::UnknownAgent(_)
    ));
    assert!(matches!(
        err(&mut b, ConsultAsked::Action(ConsultAction::Complete)),
        ConsultError::NoConsult(_)
    ));
    b.start_consult(2_000, "b");
    let call = b.only_call();
    assert!(matches!(
        b.engine
            .request_hold(call, true, HoldBy::Token("sup".into())),
        Err(crate::engine::hold::HoldError::Consulting(_))
    ));
    assert!(matches!(
        err(&mut b, ConsultAsked::Start { target: aid("b") }),
        ConsultError::AlreadyConsulting(_)
    ));
    // Not answered yet: nothing to complete or swap.
    assert!(matches!(
        err(&mut b, ConsultAsked::Action(ConsultAction::Complete)),
        ConsultError::WrongPhase { .. }
    ));
    assert!(matches!(
        err(&mut b, ConsultAsked::Action(ConsultAction::Swap)),
        ConsultError::WrongPhase { .. }
    ));
}

#[test]
fn a_busy_target_is_refused() {
    let mut b = connected();
    b.set_state(
        1_600,
        "b",
        RequestedState::Paused {
            reason: "lunch".into(),
        },
    );
    assert!(matches!(
        b.consult(2_000, ConsultAsked::Start { target: aid("b") }),
        Err(ConsultError::TargetBusy(_))
    ));
}

#[test]
fn a_reconnect_mid_consult_keeps_it_and_a_consult_leg_lost_meanwhile_ends_it() {
    let mut b = connected();
    let a_leg = b.leg_of("a");
    b.start_consult(2_000, "b");
    b.answer_then_job(3_000, "b", 20);
    let k = b.leg_of("b");
    let snap = |channel: ChannelId, role, bridged_to: Option<ChannelId>| ChannelSnapshot {
        role,
        answered: true,
        bridged_to,
        ..ChannelSnapshot::other(channel, true)
    };
    let resync = |b: &mut Bench, at: i64, channels: Vec<ChannelSnapshot>| {
        let started = b
            .engine
            .handle(ts(at), Input::ResyncStarted { switch: sw() });
        b.record(at, "resync started", started);
        let effects = b.engine.handle(
            ts(at),
            Input::SwitchResynced {
                switch: sw(),
                channels,
            },
        );
        b.record(at, "resynced", effects);
    };
    // The caller parked, the agent bridged to the target: nothing to do.
    resync(
        &mut b,
        4_000,
        vec![
            snap(chan(1), ChannelRole::Caller, None),
            snap(a_leg.clone(), ChannelRole::Agent, Some(k.clone())),
            snap(k.clone(), ChannelRole::Agent, Some(a_leg.clone())),
        ],
    );
    assert_eq!(b.phase(), Some(ConsultPhase::Talking));
    // The target's leg went while the link was down: the caller is bridged back.
    resync(
        &mut b,
        5_000,
        vec![
            snap(chan(1), ChannelRole::Caller, None),
            snap(a_leg, ChannelRole::Agent, None),
        ],
    );
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
        @3020 b's originate -ERR ORIGINATOR_CANCEL
        @4000 resync started
        @4000 resynced
        @5000 resync started
        @5000 resynced
          park_after_bridge id1 false
          park_after_bridge chan1 false
          store queue consult a step=ended to=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 cause=CHANNEL_LOST
          store agent b on_call -> available
          break chan1
          bridge chan1 id1
    "#]]);
}
