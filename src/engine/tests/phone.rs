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
            agent_number: None,
            pin: None,
            destination: String::new(),
            context: "default".into(),
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
          play chan901 ivr/ivr-you_are_now_logged_in.wav
          hangup chan901 after prompts
        @1000 1001 dials pause
          answer chan902
          play chan902 tone_stream://%(250,250,480,620);loops=3
          play chan902 ivr/ivr-that_was_an_invalid_entry.wav
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
          play chan905 ivr/ivr-you_are_now_logged_out.wav
          hangup chan905 after prompts
    "#]]);
}

#[test]
fn a_phone_no_agent_uses_is_refused() {
    let mut b = Bench::new(&["1001"], 0);
    dial(&mut b, 0, 901, "2999", Feature::Ready, None);
    assert_eq!(heard(&b), ["refused", "ivr/ivr-phone_not_configured.wav"]);
    b.engine.set_hot_desk_extension(None);
    dial(&mut b, 100, 902, "2999", Feature::Login, None);
    assert_eq!(heard(&b), ["refused", "ivr/ivr-phone_not_configured.wav"]);
}

#[test]
fn a_log_in_from_a_phone_no_agent_has_asks_for_the_agent_number_and_pin() {
    let mut b = Bench::new(&["1001"], 0);
    dial(&mut b, 0, 901, "2999", Feature::Login, None);
    dial(&mut b, 100, 902, "1001", Feature::Login, None);
    // Back from *21 without digits: refused, not sent round again.
    let effects = b.engine.handle(
        ts(200),
        Input::FeatureCode {
            switch: sw(),
            channel: chan(903),
            feature: Feature::Login,
            user: "2999".into(),
            reason: None,
            agent_number: None,
            pin: None,
            destination: "*21".into(),
            context: "default".into(),
        },
    );
    b.record(200, "2999 comes back from *21 with nothing keyed", effects);
    b.check(expect![[r#"
        @0 2999 dials login
          transfer chan901 to *21@default
        @100 1001 dials login
          store agent 1001 logged_out -> available
          answer chan902
          play chan902 tone_stream://%(200,100,880);%(400,0,1320)
          play chan902 ivr/ivr-you_are_now_logged_in.wav
          hangup chan902 after prompts
        @200 2999 comes back from *21 with nothing keyed
          answer chan903
          play chan903 tone_stream://%(250,250,480,620);loops=3
          play chan903 ivr/ivr-phone_not_configured.wav
          hangup chan903 after prompts
    "#]]);
}

/// What the last feature call played after answering: the tone (as `done` or `refused`),
/// then the prompt if any.
fn heard(b: &Bench) -> Vec<String> {
    let start = b
        .trace
        .iter()
        .rposition(|l| l.contains(" answer chan"))
        .unwrap_or(0);
    b.trace[start..]
        .iter()
        .filter_map(|l| l.trim().strip_prefix("play "))
        .filter_map(|l| l.split_once(' ').map(|(_, source)| source))
        .map(|source| match source {
            crate::engine::phone::CONFIRM_TONE => "done".to_owned(),
            crate::engine::phone::REFUSE_TONE => "refused".to_owned(),
            other => other.to_owned(),
        })
        .collect()
}

#[test]
fn every_refusal_says_why_with_its_own_prompt() {
    let mut b = Bench::new(&["1001", "1002"], 30_000);
    b.engine.set_pause_reasons(["1".to_owned()]);
    with_pin(&mut b, "1001", "4711");
    hot_desk(&mut b, 0, 901, "2002", "9999", "4711");
    assert_eq!(
        heard(&b),
        ["refused", "ivr/ivr-pin_or_extension_is-invalid.wav"],
        "unknown agent"
    );
    hot_desk(&mut b, 100, 902, "2002", "1001", "0000");
    assert_eq!(
        heard(&b),
        ["refused", "ivr/ivr-pin_or_extension_is-invalid.wav"],
        "wrong PIN sounds like an unknown agent"
    );
    dial(&mut b, 200, 903, "1002", Feature::Login, None);
    hot_desk(&mut b, 300, 904, "1002", "1001", "4711");
    assert_eq!(
        heard(&b),
        ["refused", "ivr/ivr-access_denied.wav"],
        "1002 is logged in at that phone"
    );
    dial(&mut b, 400, 905, "1001", Feature::Login, None);
    b.engine.set_hot_desk_move(false);
    hot_desk(&mut b, 500, 906, "2002", "1001", "4711");
    assert_eq!(
        heard(&b),
        ["refused", "ivr/ivr-not_have_permission.wav"],
        "logged in at 1001 and moving is off"
    );
    dial(&mut b, 600, 907, "1001", Feature::Pause, Some("7"));
    assert_eq!(
        heard(&b),
        ["refused", "ivr/ivr-that_was_an_invalid_entry.wav"]
    );
    dial(&mut b, 700, 908, "1001", Feature::EndWrapUp, None);
    assert_eq!(heard(&b), ["refused"], "not in wrap-up: the tone says it");
    b.park(800, 1, "111");
    b.answer_leg(900, 1);
    let on_call = b.trace.iter().any(|l| l.contains("-> on_call"));
    assert!(on_call);
    let agent = if b.status("1001") == AgentStatus::OnCall {
        "1001"
    } else {
        "1002"
    };
    dial(&mut b, 1_000, 909, agent, Feature::Logout, None);
    assert_eq!(heard(&b), ["refused", "ivr/ivr-user_busy.wav"]);
    dial(&mut b, 1_100, 910, agent, Feature::Pause, Some("1"));
    assert_eq!(heard(&b), ["refused", "ivr/ivr-user_busy.wav"]);
}

#[test]
fn prompts_can_be_replaced_or_left_to_the_tone_alone() {
    let mut b = Bench::new(&["1001"], 0);
    let mut prompts = PhonePrompts::default();
    prompts.set(PhoneOutcome::LoggedIn, "custom/welcome-back.wav".to_owned());
    prompts.set(PhoneOutcome::LoggedOut, String::new());
    b.engine.set_phone_prompts(prompts);
    dial(&mut b, 0, 901, "1001", Feature::Login, None);
    assert_eq!(heard(&b), ["done", "custom/welcome-back.wav"]);
    dial(&mut b, 100, 902, "1001", Feature::Logout, None);
    assert_eq!(heard(&b), ["done"]);
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

fn hot_desk(b: &mut Bench, at: i64, channel: u32, phone: &str, agent: &str, pin: &str) {
    let effects = b.engine.handle(
        ts(at),
        Input::FeatureCode {
            switch: sw(),
            channel: chan(channel),
            feature: Feature::Login,
            user: phone.into(),
            reason: None,
            agent_number: Some(agent.into()),
            pin: Some(pin::Pin(pin.into())),
            destination: "*21".into(),
            context: "default".into(),
        },
    );
    b.record(at, &format!("{agent} logs in at {phone}"), effects);
}

fn with_pin(b: &mut Bench, agent: &str, pin: &str) {
    let mut settings = b.engine.agents[&aid(agent)].settings.clone();
    settings.pin = Some(PinHash::new(pin, [3; 16]));
    let effects = b
        .engine
        .provision_agent(ts(0), settings, AgentStatus::LoggedOut);
    assert!(effects.is_empty());
}

#[test]
fn an_agent_hot_desks_at_another_phone_and_calls_ring_there_until_logout() {
    let mut b = Bench::new(&["1001"], 0);
    with_pin(&mut b, "1001", "4711");
    hot_desk(&mut b, 0, 901, "2002", "1001", "0000");
    assert_eq!(b.status("1001"), AgentStatus::LoggedOut, "wrong PIN");
    hot_desk(&mut b, 100, 902, "2002", "1001", "4711");
    assert_eq!(b.status("1001"), AgentStatus::Available);
    b.park(200, 1, "111");
    b.answer_leg(300, 1);
    b.hangup(1_000, b.leg(1), "NORMAL_CLEARING");
    // From the hot-desk phone, log out: the agent's own phone is theirs again.
    dial(&mut b, 2_000, 903, "2002", Feature::Logout, None);
    assert_eq!(b.status("1001"), AgentStatus::LoggedOut);
    dial(&mut b, 3_000, 904, "1001", Feature::Login, None);
    b.park(4_000, 2, "222");
    b.check(expect![[r#"
        @0 1001 logs in at 2002
          answer chan901
          play chan901 tone_stream://%(250,250,480,620);loops=3
          play chan901 ivr/ivr-pin_or_extension_is-invalid.wav
          hangup chan901 after prompts
        @100 1001 logs in at 2002
          store agent 1001 logged_out -> available
          answer chan902
          play chan902 tone_stream://%(200,100,880);%(400,0,1320)
          play chan902 ivr/ivr-you_are_now_logged_in.wav
          hangup chan902 after prompts
        @200 chan1 parked
          store call entered support from 111
          store queue enter - priority=0
          store agent 1001 available -> offered
          store queue offer 1001 leg=id1
          originate id1 to 1001 via user/2002
          timer 25200ms ring timeout id1
          answer chan1
          hold chan1 local_stream://moh
        @300 leg 1 answered
          break chan1
          bridge chan1 id1
          store call answered by 1001 after 100ms
          store queue connect 1001 wait_ms=100
          store agent 1001 offered -> on_call
        @1000 id1 hung up NORMAL_CLEARING
          store queue complete 1001 by=agent talk_ms=700
          store call ended completed NORMAL_CLEARING talk=Some(700)
          store agent 1001 on_call -> available
        @2000 2002 dials logout
          store agent 1001 available -> logged_out
          answer chan903
          play chan903 tone_stream://%(200,100,880);%(400,0,1320)
          play chan903 ivr/ivr-you_are_now_logged_out.wav
          hangup chan903 after prompts
        @3000 1001 dials login
          store agent 1001 logged_out -> available
          answer chan904
          play chan904 tone_stream://%(200,100,880);%(400,0,1320)
          play chan904 ivr/ivr-you_are_now_logged_in.wav
          hangup chan904 after prompts
        @4000 chan2 parked
          store call entered support from 222
          store queue enter - priority=0
          store agent 1001 available -> offered
          store queue offer 1001 leg=id2
          originate id2 to 1001 via user/1001
          timer 29000ms ring timeout id2
          answer chan2
          hold chan2 local_stream://moh
    "#]]);
}

#[test]
fn hot_desking_moves_an_agent_between_phones_or_is_refused_when_moving_is_off() {
    let mut b = Bench::new(&["1001"], 0);
    with_pin(&mut b, "1001", "4711");
    hot_desk(&mut b, 0, 901, "2002", "1001", "4711");
    hot_desk(&mut b, 100, 902, "3003", "1001", "4711");
    b.park(200, 1, "111");
    assert!(
        b.trace.iter().any(|l| l.contains("via user/3003")),
        "moved to 3003"
    );
    b.engine.set_hot_desk_move(false);
    hot_desk(&mut b, 300, 903, "2002", "1001", "4711");
    assert_eq!(
        heard(&b),
        ["refused", "ivr/ivr-user_busy.wav"],
        "refused while ringing at 3003"
    );
}

#[test]
fn an_agent_without_a_pin_cannot_hot_desk() {
    let mut b = Bench::new(&["1001"], 0);
    hot_desk(&mut b, 0, 901, "2002", "1001", "");
    assert_eq!(b.status("1001"), AgentStatus::LoggedOut);
}
