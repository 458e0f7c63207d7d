//! Feature codes from the agent's desk phone.

use super::*;

fn dial(b: &mut Bench, at: i64, channel: u32, user: &str, feature: Feature, reason: Option<&str>) {
    let effects = b.engine.handle(
        ts(at),
        Input::FeatureCode {
            switch: sw(),
            channel: chan(channel),
            feature,
            user: user.into(),
            reason: reason.map(str::to_owned),
        },
    );
    b.record(at, &format!("{user} dials {}", feature.as_str()), effects);
}

#[test]
fn an_agent_logs_in_pauses_with_a_reason_and_logs_out_from_the_phone() {
    let mut b = Bench::new(&["1001"], 0);
    b.engine.set_pause_reasons(["1".to_owned(), "2".to_owned()]);
    dial(&mut b, 0, 901, "1001", Feature::Login, None);
    assert_eq!(b.status("1001"), AgentStatus::Available);
    dial(&mut b, 1_000, 902, "1001", Feature::Pause, Some("7"));
    assert_eq!(b.status("1001"), AgentStatus::Available, "no reason 7");
    dial(&mut b, 2_000, 903, "1001", Feature::Pause, Some("2"));
    assert_eq!(b.engine.agents[&aid("1001")].state.reason(), Some("2"));
    dial(&mut b, 3_000, 904, "1001", Feature::Ready, None);
    dial(&mut b, 4_000, 905, "1001", Feature::Logout, None);
    assert_eq!(b.status("1001"), AgentStatus::LoggedOut);
    b.check(expect![[r#"
        @0 1001 dials login
          store agent 1001 logged_out -> available
          answer chan901
          play chan901 tone_stream://%(200,100,880);%(400,0,1320)
          hangup chan901 after prompts
        @1000 1001 dials pause
          answer chan902
          play chan902 tone_stream://%(250,250,480,620);loops=3
          hangup chan902 after prompts
        @2000 1001 dials pause
          store agent 1001 available -> paused (2)
          answer chan903
          play chan903 tone_stream://%(200,100,880);%(400,0,1320)
          hangup chan903 after prompts
        @3000 1001 dials ready
          store agent 1001 paused -> available
          answer chan904
          play chan904 tone_stream://%(200,100,880);%(400,0,1320)
          hangup chan904 after prompts
        @4000 1001 dials logout
          store agent 1001 available -> logged_out
          answer chan905
          play chan905 tone_stream://%(200,100,880);%(400,0,1320)
          hangup chan905 after prompts
    "#]]);
}

#[test]
fn a_phone_no_agent_uses_is_refused() {
    let mut b = Bench::new(&["1001"], 0);
    dial(&mut b, 0, 901, "2999", Feature::Login, None);
    assert!(
        b.trace.iter().any(|l| l.contains("480,620")),
        "refused with the busy tone"
    );
}

#[test]
fn ending_wrap_up_early_makes_the_agent_available_at_once() {
    let mut b = Bench::new(&["1001"], 30_000);
    b.available(0, "1001");
    b.park(100, 1, "111");
    b.answer_leg(200, 1);
    b.hangup(5_000, b.leg(1), "NORMAL_CLEARING");
    assert_eq!(b.status("1001"), AgentStatus::WrapUp);
    dial(&mut b, 6_000, 901, "1001", Feature::EndWrapUp, None);
    assert_eq!(b.status("1001"), AgentStatus::Available);
    dial(&mut b, 7_000, 902, "1001", Feature::EndWrapUp, None);
    assert!(
        b.trace.last().is_some_and(|l| l.contains("hangup")),
        "the call is ended either way"
    );
}

#[test]
fn the_blf_key_toggles_between_available_and_paused() {
    let mut b = Bench::new(&["1001"], 0);
    dial(&mut b, 0, 901, "1001", Feature::Toggle, None);
    assert_eq!(b.status("1001"), AgentStatus::Available);
    dial(&mut b, 1_000, 902, "1001", Feature::Toggle, None);
    assert_eq!(b.status("1001"), AgentStatus::Paused);
    dial(&mut b, 2_000, 903, "1001", Feature::Toggle, None);
    assert_eq!(b.status("1001"), AgentStatus::Available);
}
