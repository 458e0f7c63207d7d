//! External numbers over REST: a consult with a number (complete, cancel, swap) and a blind
//! transfer to a number (rung first, bridged on answer; busy or unanswered: the caller stays
//! with its agent).

use expect_test::expect;

use super::consult::connected;
use super::*;
use crate::engine::consult::{ConsultAction, ConsultAsked, ConsultError, ConsultPhase};
use crate::engine::dialout::ExternalDial;
use crate::engine::redirect::{RedirectAction, RedirectError, TransferTarget};

fn dial(prefixes: &[&str]) -> Option<ExternalDial> {
    Some(ExternalDial {
        template: "sofia/gateway/pstn/{number}".into(),
        allowed_prefixes: prefixes.iter().map(|p| (*p).to_owned()).collect(),
    })
}

/// Agent `a` talks to caller chan1; external numbers go through the `pstn` gateway.
fn bench() -> Bench {
    let mut b = connected();
    b.engine.set_external_dial(dial(&[]));
    b
}

impl Bench {
    fn consult_number(&mut self, at: i64, number: &str) -> Result<(), ConsultError> {
        self.consult_asked(
            at,
            ConsultAsked::Number {
                number: number.into(),
            },
        )
    }

    fn consult_act(&mut self, at: i64, action: ConsultAction) {
        self.consult_asked(at, ConsultAsked::Action(action))
            .expect("allowed");
    }

    fn transfer_to_number(&mut self, at: i64, number: &str) -> Result<(), RedirectError> {
        let call = self.only_call();
        let action = RedirectAction::Transfer(TransferTarget::Number {
            number: number.into(),
        });
        let effects = self
            .engine
            .redirect(ts(at), call, action, "token:sup".into())?;
        self.record(at, &format!("sup asks transfer to {number}"), effects);
        Ok(())
    }

    fn consult_phase(&self) -> Option<ConsultPhase> {
        let call = *self.engine.calls.keys().next()?;
        self.engine.consult_view(call).map(|c| c.phase)
    }
}

#[test]
fn a_consult_with_a_number_completes_and_the_call_ends_once_when_the_caller_leaves() {
    let mut b = bench();
    let a_leg = b.leg_of("a");
    b.trace.clear();
    b.consult_number(2_000, "+4930555123").expect("consult");
    assert_eq!(b.consult_phase(), Some(ConsultPhase::Ringing));
    let call = b.only_call();
    let view = b.engine.consult_view(call).expect("view");
    assert_eq!(view.target, None);
    assert_eq!(view.number.as_deref(), Some("+4930555123"));
    // The external party is nobody's agent: `b` stays available.
    assert_eq!(b.status("b"), AgentStatus::Available);
    b.answer_then_job(3_000, "customer", 20);
    assert_eq!(b.consult_phase(), Some(ConsultPhase::Talking));
    b.consult_act(4_000, ConsultAction::Swap);
    b.consult_act(4_500, ConsultAction::Swap);
    b.consult_act(5_000, ConsultAction::Complete);
    b.hangup(5_020, a_leg, "NORMAL_CLEARING");
    assert_eq!(b.consult_phase(), None);
    assert_eq!(b.status("a"), AgentStatus::Available);
    // The external party hangs up: the switch hangs the caller up with it.
    b.hangup(9_000, b.leg_of("customer"), "NORMAL_CLEARING");
    b.hangup(9_010, chan(1), "NORMAL_CLEARING");
    assert!(b.engine.calls.is_empty());
    b.check(expect![[r#"
        @2000 sup asks consult with number +4930555123
          store queue consult a step=start to=number:+4930555123 leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 by=token:sup
          dial id2 via sofia/gateway/pstn/+4930555123
        @3000 customer answered
          park chan1 after bridge
          park_after_bridge id1 true
          bridge id1 id2
          broadcast chan1 local_stream://support
          store queue consult a step=answered to=number:+4930555123 leg=11aabecb-86be-4a3f-9a21-1e6a663bd373
        @3020 customer's originate -ERR ORIGINATOR_CANCEL
        @4000 sup asks consult swap
          park_after_bridge id2 true
          bridge chan1 id1
          broadcast id2 local_stream://support
          store queue consult a step=swap to=number:+4930555123 leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 by=token:sup
        @4500 sup asks consult swap
          park_after_bridge id2 false
          bridge id1 id2
          broadcast chan1 local_stream://support
          store queue consult a step=swap to=number:+4930555123 leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 by=token:sup
        @5000 sup asks consult complete
          park_after_bridge id1 false
          park_after_bridge chan1 false
          park_after_bridge id2 false
          bridge chan1 id2
          store queue consult a step=complete to=number:+4930555123 leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 by=token:sup
        @5020 id1 hung up NORMAL_CLEARING
          store queue transfer a kind=attended from=a to=number:+4930555123 by=token:sup talk_ms=4020
          store agent a on_call -> available
        @9000 id2 hung up NORMAL_CLEARING
        @9010 chan1 hung up NORMAL_CLEARING
          store call ended transferred NORMAL_CLEARING talk=Some(4020)
    "#]]);
}

#[test]
fn a_consult_with_a_number_can_be_cancelled_while_it_rings_or_talks() {
    let mut b = bench();
    b.trace.clear();
    b.consult_number(2_000, "5551234").expect("consult");
    b.consult_act(2_500, ConsultAction::Cancel);
    b.originate_failed(2_510, b.legs.len(), "ORIGINATOR_CANCEL");
    assert_eq!(b.consult_phase(), None);
    b.consult_number(3_000, "5551234").expect("again");
    b.answer_then_job(3_500, "customer", 20);
    b.consult_act(4_000, ConsultAction::Cancel);
    b.hangup(4_010, b.leg_of("customer"), "NORMAL_CLEARING");
    assert_eq!(b.consult_phase(), None);
    assert_eq!(b.status("a"), AgentStatus::OnCall);
    b.check(expect![[r#"
        @2000 sup asks consult with number 5551234
          store queue consult a step=start to=number:5551234 leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 by=token:sup
          dial id2 via sofia/gateway/pstn/5551234
        @2500 sup asks consult cancel
          kill id2 ORIGINATOR_CANCEL
          store queue consult a step=cancel to=number:5551234 leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 by=token:sup
        @2510 originate of leg 2 failed ORIGINATOR_CANCEL
          store queue consult a step=ended to=number:5551234 leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 cause=ORIGINATOR_CANCEL
        @3000 sup asks consult with number 5551234
          store queue consult a step=start to=number:5551234 leg=febe023d-51d6-4c53-b6d0-c233a1c4cb77 by=token:sup
          dial id3 via sofia/gateway/pstn/5551234
        @3500 customer answered
          park chan1 after bridge
          park_after_bridge id1 true
          bridge id1 id3
          broadcast chan1 local_stream://support
          store queue consult a step=answered to=number:5551234 leg=febe023d-51d6-4c53-b6d0-c233a1c4cb77
        @3520 customer's originate -ERR ORIGINATOR_CANCEL
        @4000 sup asks consult cancel
          park_after_bridge id1 false
          park_after_bridge chan1 false
          bridge chan1 id1
          store queue consult a step=cancel to=number:5551234 leg=febe023d-51d6-4c53-b6d0-c233a1c4cb77 by=token:sup
        @4010 id3 hung up NORMAL_CLEARING
          store queue consult a step=ended to=number:5551234 leg=febe023d-51d6-4c53-b6d0-c233a1c4cb77 cause=NORMAL_CLEARING
    "#]]);
}

#[test]
fn a_blind_transfer_to_a_number_rings_it_then_hands_the_caller_over() {
    let mut b = bench();
    let a_leg = b.leg_of("a");
    b.trace.clear();
    b.transfer_to_number(2_000, "+4930555123")
        .expect("transfer");
    // While it rings the caller still talks to the agent.
    assert_eq!(b.status("a"), AgentStatus::OnCall);
    b.answer_then_job(6_000, "customer", 20);
    assert_eq!(b.consult_phase(), Some(ConsultPhase::Completing));
    b.hangup(6_020, a_leg, "NORMAL_CLEARING");
    assert_eq!(b.status("a"), AgentStatus::Available);
    b.hangup(20_000, chan(1), "NORMAL_CLEARING");
    b.hangup(20_010, b.leg_of("customer"), "NORMAL_CLEARING");
    assert!(b.engine.calls.is_empty());
    b.check(expect![[r#"
        @2000 sup asks transfer to +4930555123
          store queue consult a step=blind to=number:+4930555123 leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 by=token:sup
          dial id2 via sofia/gateway/pstn/+4930555123
        @6000 customer answered
          park_after_bridge id1 false
          park_after_bridge chan1 false
          park_after_bridge id2 false
          bridge chan1 id2
          store queue consult a step=answered to=number:+4930555123 leg=11aabecb-86be-4a3f-9a21-1e6a663bd373
        @6020 customer's originate -ERR ORIGINATOR_CANCEL
        @6020 id1 hung up NORMAL_CLEARING
          store queue transfer a kind=blind from=a to=number:+4930555123 by=token:sup talk_ms=5020
          store agent a on_call -> available
        @20000 chan1 hung up NORMAL_CLEARING
          store call ended transferred NORMAL_CLEARING talk=Some(5020)
        @20010 id2 hung up NORMAL_CLEARING
    "#]]);
}

#[test]
fn a_busy_or_unanswered_number_leaves_the_caller_with_its_agent() {
    let mut b = bench();
    b.trace.clear();
    b.transfer_to_number(2_000, "5551234").expect("transfer");
    b.originate_failed(2_300, b.legs.len(), "USER_BUSY");
    assert_eq!(b.consult_phase(), None);
    assert_eq!(b.status("a"), AgentStatus::OnCall);
    b.transfer_to_number(3_000, "5551234").expect("again");
    b.originate_failed(33_000, b.legs.len(), "NO_ANSWER");
    assert_eq!(b.status("a"), AgentStatus::OnCall);
    b.agent_hangs_up(40_000, "a", "NORMAL_CLEARING");
    b.check(expect![[r#"
        @2000 sup asks transfer to 5551234
          store queue consult a step=blind to=number:5551234 leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 by=token:sup
          dial id2 via sofia/gateway/pstn/5551234
        @2300 originate of leg 2 failed USER_BUSY
          store queue consult a step=ended to=number:5551234 leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 cause=USER_BUSY
        @3000 sup asks transfer to 5551234
          store queue consult a step=blind to=number:5551234 leg=febe023d-51d6-4c53-b6d0-c233a1c4cb77 by=token:sup
          dial id3 via sofia/gateway/pstn/5551234
        @33000 originate of leg 3 failed NO_ANSWER
          store queue consult a step=ended to=number:5551234 leg=febe023d-51d6-4c53-b6d0-c233a1c4cb77 cause=NO_ANSWER
        @40000 id1 hung up NORMAL_CLEARING
          store queue complete a by=agent talk_ms=39000
          store call ended completed NORMAL_CLEARING talk=Some(39000)
          store agent a on_call -> available
    "#]]);
}

#[test]
fn numbers_are_refused_without_a_template_or_outside_the_format_and_prefixes() {
    let mut b = connected();
    assert_eq!(
        b.consult_number(2_000, "5551234"),
        Err(ConsultError::NoExternalDial)
    );
    assert_eq!(
        b.transfer_to_number(2_000, "5551234"),
        Err(RedirectError::NoExternalDial)
    );
    b.engine.set_external_dial(dial(&["+49"]));
    for bad in [
        "",
        "12",
        "555 1234",
        "+49 30",
        "5551234@evil",
        "+4930}&park()",
        "+3312345",
    ] {
        assert!(
            matches!(
                b.consult_number(2_000, bad),
                Err(ConsultError::BadNumber(_))
            ),
            "{bad:?}"
        );
        assert!(
            matches!(
                b.transfer_to_number(2_000, bad),
                Err(RedirectError::BadDestination(_))
            ),
            "{bad:?}"
        );
    }
    b.consult_number(2_000, "+4930555123").expect("allowed");
    assert_eq!(
        b.transfer_to_number(2_100, "+4930555123"),
        Err(RedirectError::AlreadyTransferring(b.only_call()))
    );
}
