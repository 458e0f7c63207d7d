//! Registration awareness: an agent whose phone is not registered gets no offers and comes
//! back to where it was when the phone registers again.

use super::*;

fn registration(b: &mut Bench, at: i64, user: &str, registered: bool, cause: &str) {
    let effects = b.engine.handle(
        ts(at),
        Input::PhoneRegistration {
            switch: sw(),
            user: user.into(),
            registered,
            cause: cause.into(),
        },
    );
    b.record(at, &format!("{user} {cause}"), effects);
}

#[test]
fn an_unregistered_agent_is_unreachable_and_gets_calls_again_once_registered() {
    let mut b = Bench::new(&["1001"], 0);
    b.available(0, "1001");
    registration(&mut b, 100, "1001", false, "unregister");
    assert_eq!(b.status("1001"), AgentStatus::Unreachable);
    b.park(200, 1, "111");
    assert!(b.rung.is_empty());
    registration(&mut b, 5_000, "1001", true, "register");
    assert_eq!(b.rung, ["1001"]);
    b.check(expect![[r#"
        @0 1001 available
          store agent 1001 logged_out -> available
        @100 1001 unregister
          store agent 1001 available -> unreachable (unregister)
        @200 chan1 parked
          store call entered support from 111
          store queue enter - priority=0
          answer chan1
          hold chan1 local_stream://moh
        @5000 1001 register
          store agent 1001 unreachable -> available
          store agent 1001 available -> offered
          store queue offer 1001 leg=id1
          originate id1 to 1001 via user/1001
          timer 30000ms ring timeout id1
    "#]]);
}

#[test]
fn a_paused_agent_whose_registration_expires_comes_back_paused() {
    let mut b = Bench::new(&["1001"], 0);
    b.set_state(
        0,
        "1001",
        RequestedState::Paused {
            reason: "lunch".into(),
        },
    );
    registration(&mut b, 100, "1001", false, "expire");
    registration(&mut b, 9_000, "1001", true, "register");
    let agent = &b.engine.agents[&aid("1001")];
    assert_eq!(agent.state.reason(), Some("lunch"));
    b.check(expect![[r#"
        @0 1001 requests Paused { reason: "lunch" }
          store agent 1001 logged_out -> paused (lunch)
        @100 1001 expire
          store agent 1001 paused -> unreachable (expire)
        @9000 1001 register
          store agent 1001 unreachable -> paused (lunch)
    "#]]);
}

#[test]
fn an_agent_on_a_call_finishes_it_and_is_unreachable_after() {
    let mut b = Bench::new(&["1001"], 0);
    b.available(0, "1001");
    b.park(100, 1, "111");
    b.answer_leg(300, 1);
    registration(&mut b, 1_000, "1001", false, "expire");
    assert_eq!(b.status("1001"), AgentStatus::OnCall);
    b.hangup(5_000, b.leg(1), "NORMAL_CLEARING");
    assert_eq!(b.status("1001"), AgentStatus::Unreachable);
    b.check(expect![[r#"
        @0 1001 available
          store agent 1001 logged_out -> available
        @100 chan1 parked
          store call entered support from 111
          store queue enter - priority=0
          store agent 1001 available -> offered
          store queue offer 1001 leg=id1
          originate id1 to 1001 via user/1001
          timer 25100ms ring timeout id1
          answer chan1
          hold chan1 local_stream://moh
        @300 leg 1 answered
          break chan1
          bridge chan1 id1
          store call answered by 1001 after 200ms
          store queue connect 1001 wait_ms=200
          store agent 1001 offered -> on_call
        @1000 1001 expire
        @5000 id1 hung up NORMAL_CLEARING
          store queue complete 1001 by=agent talk_ms=4700
          store call ended completed NORMAL_CLEARING talk=Some(4700)
          store agent 1001 on_call -> unreachable (unregistered)
    "#]]);
}

#[test]
fn a_ringing_agent_whose_phone_unregisters_loses_the_offer_to_the_next_agent() {
    let mut b = Bench::new(&["1001", "1002"], 0);
    b.available(0, "1001");
    b.available(1, "1002");
    b.park(100, 1, "111");
    registration(&mut b, 200, "1001", false, "unregister");
    assert_eq!(b.rung, ["1001", "1002"]);
    assert_eq!(b.status("1001"), AgentStatus::Unreachable);
}

#[test]
fn a_supervisor_choice_made_while_unreachable_applies_when_the_phone_returns() {
    let mut b = Bench::new(&["1001"], 0);
    b.available(0, "1001");
    registration(&mut b, 100, "1001", false, "unregister");
    b.set_state(
        200,
        "1001",
        RequestedState::Paused {
            reason: "training".into(),
        },
    );
    assert_eq!(b.status("1001"), AgentStatus::Unreachable);
    registration(&mut b, 300, "1001", true, "register");
    assert_eq!(
        b.engine.agents[&aid("1001")].state.reason(),
        Some("training")
    );
}

#[test]
fn a_phone_missing_from_the_registrations_listed_at_connect_is_unreachable() {
    let mut b = Bench::new(&["1001", "1002"], 0);
    b.available(0, "1001");
    b.available(1, "1002");
    let effects = b.engine.handle(
        ts(100),
        Input::RegistrationsListed {
            switch: sw(),
            users: vec!["1002".into()],
        },
    );
    b.record(100, "registrations listed", effects);
    assert_eq!(b.status("1001"), AgentStatus::Unreachable);
    assert_eq!(b.status("1002"), AgentStatus::Available);
    registration(&mut b, 200, "1001", true, "register");
    assert_eq!(b.status("1001"), AgentStatus::Available);
}

#[test]
fn a_phone_registered_on_another_switch_stays_reachable_when_one_switch_drops_it() {
    let mut b = Bench::new(&["1001"], 0);
    b.available(0, "1001");
    let other = SwitchName::new("fs2").expect("name");
    let effects = b.engine.handle(
        ts(50),
        Input::PhoneRegistration {
            switch: other,
            user: "1001".into(),
            registered: true,
            cause: "register".into(),
        },
    );
    b.record(50, "1001 registers on fs2", effects);
    registration(&mut b, 100, "1001", false, "unregister");
    assert_eq!(b.status("1001"), AgentStatus::Available);
}
