//! The caller's wait: announcements, exit keys and callback.

use super::*;

fn support(routing: QueueRouting) -> Bench {
    Bench::with(
        vec![queue("support", routing)],
        vec![agent("a", &["support"], ""), agent("b", &["support"], "")],
    )
}

#[test]
fn waiting_callers_hear_their_position_and_the_estimated_wait_between_hold_music() {
    let mut b = support(QueueRouting {
        announcements: Announcements {
            every: Some(Duration::from_secs(30)),
            prompt: Some("ivr/ivr-thank_you_for_holding.wav".into()),
            position: true,
            position_prompt: Some("ivr/ivr-you_are_number.wav".into()),
            wait_time: true,
            wait_prompt: Some("ivr/ivr-estimated_wait.wav".into()),
            ..Announcements::default()
        },
        ..QueueRouting::default()
    });
    // One call handled (4 minutes) gives the queue a handle time to estimate from.
    b.set_state(0, "a", RequestedState::Available);
    b.enqueue(100, 1, "support", 0, "");
    b.answer(200, "a");
    b.agent_hangs_up(240_200, "a", "NORMAL_CLEARING");
    b.set_state(240_300, "a", RequestedState::Paused { reason: "x".into() });
    b.enqueue(250_000, 2, "support", 0, "");
    b.enqueue(251_000, 3, "support", 0, "");
    b.trace.clear();
    b.advance(281_000);
    b.check(expect![[r#"
        @280000 Announce fired
          timer 310000ms announce
          break chan2
          play chan2 ivr/ivr-thank_you_for_holding.wav
          play chan2 ivr/ivr-you_are_number.wav
          say chan2 en number pronounced 1
          play chan2 ivr/ivr-estimated_wait.wav
          say chan2 en time_measurement pronounced 240
          hold chan2 local_stream://support
        @281000 Announce fired
          timer 311000ms announce
          break chan3
          play chan3 ivr/ivr-thank_you_for_holding.wav
          play chan3 ivr/ivr-you_are_number.wav
          say chan3 en number pronounced 2
          play chan3 ivr/ivr-estimated_wait.wav
          say chan3 en time_measurement pronounced 480
          hold chan3 local_stream://support
    "#]]);
}

#[test]
fn an_exit_key_takes_the_caller_out_of_the_queue_to_its_destination() {
    let mut b = support(QueueRouting {
        exit_keys: vec![ExitKey {
            digit: '0',
            destination: Destination::Extension {
                number: "operator".into(),
                context: "default".into(),
            },
        }],
        ..QueueRouting::default()
    });
    b.enqueue(100, 1, "support", 0, "");
    b.press(5_000, 1, "50");
    assert!(b.engine.calls.is_empty());
    b.check(expect![[r#"
        @100 chan1 parked for support
          store call entered support from 493012341
          store queue enter - priority=0
          answer chan1
          hold chan1 local_stream://support
        @5000 chan1 pressed 5
        @5000 chan1 pressed 0
          store queue exit_with_key - key=0
          store queue overflow - reason=exit_key to=extension:operator@default
          break chan1
          transfer chan1 to operator@default
          store call ended overflowed TRANSFER talk=None
    "#]]);
}

fn with_callback(retries: u32) -> Bench {
    support(QueueRouting {
        callback: Some(CallbackSettings {
            key: '1',
            dial: "sofia/gateway/pstn/{number}".into(),
            offer_prompt: Some("ivr/callback-offer.wav".into()),
            confirm_prompt: Some("ivr/callback-confirmed.wav".into()),
            retries,
            retry_delay: Duration::from_secs(60),
            ..CallbackSettings::default()
        }),
        ..QueueRouting::default()
    })
}

#[test]
fn a_callback_keeps_the_place_rings_the_agent_first_then_calls_the_customer() {
    let mut b = with_callback(2);
    b.enqueue(100, 1, "support", 0, "");
    b.enqueue(200, 2, "support", 0, "");
    b.press(5_000, 1, "1");
    b.press(7_000, 1, "030555123#");
    // The caller's own hangup after the confirmation changes nothing.
    b.hangup(9_000, chan(1), "NORMAL_CLEARING");
    b.set_state(20_000, "a", RequestedState::Available);
    assert_eq!(b.rung, ["a"], "the callback is first in line");
    b.answer(21_000, "a");
    b.answer(25_000, "customer");
    b.agent_hangs_up(85_000, "a", "NORMAL_CLEARING");
    b.check(expect![[r#"
        @100 chan1 parked for support
          store call entered support from 493012341
          store queue enter - priority=0
          answer chan1
          hold chan1 local_stream://support
        @200 chan2 parked for support
          store call entered support from 493012342
          store queue enter - priority=0
          answer chan2
          hold chan2 local_stream://support
        @5000 chan1 pressed 1
          break chan1
          play chan1 ivr/callback-offer.wav
          say chan1 en number iterated 493012341
          hold chan1 local_stream://support
          timer 15000ms callback confirm
        @7000 chan1 pressed 0
          timer 17000ms callback confirm
        @7000 chan1 pressed 3
          timer 17000ms callback confirm
        @7000 chan1 pressed 0
          timer 17000ms callback confirm
        @7000 chan1 pressed 5
          timer 17000ms callback confirm
        @7000 chan1 pressed 5
          timer 17000ms callback confirm
        @7000 chan1 pressed 5
          timer 17000ms callback confirm
        @7000 chan1 pressed 1
          timer 17000ms callback confirm
        @7000 chan1 pressed 2
          timer 17000ms callback confirm
        @7000 chan1 pressed 3
          timer 17000ms callback confirm
        @7000 chan1 pressed #
          break chan1
          play chan1 ivr/callback-confirmed.wav
          hangup chan1 after prompts
          store queue callback_requested - number=030555123
        @9000 chan1 hung up NORMAL_CLEARING
        @20000 a requests Available
          store agent a logged_out -> available
          store agent a available -> offered
          store queue offer a leg=id1
          originate id1 to a via user/a
          timer 45000ms ring timeout id1
        @21000 a answered
          store agent a offered -> on_call
          hold id1 tone_stream://%(2000,4000,440,480);loops=-1
          dial id2 via sofia/gateway/pstn/030555123
          timer 56000ms ring timeout id2
        @25000 customer answered
          break id1
          bridge id2 id1
          store call answered by a after 24900ms
          store queue callback_connected a attempt=1
          store queue connect a wait_ms=24900
        @85000 id1 hung up NORMAL_CLEARING
          store queue complete a by=agent talk_ms=60000
          store call ended completed NORMAL_CLEARING talk=Some(60000)
          store agent a on_call -> available
          store agent a available -> offered
          store queue offer a leg=id3
          originate id3 to a via user/a
          timer 110000ms ring timeout id3
    "#]]);
}

#[test]
fn a_callback_whose_customer_never_answers_is_retried_then_reported_failed() {
    let mut b = with_callback(1);
    b.enqueue(100, 1, "support", 0, "");
    b.press(1_000, 1, "1");
    // No digits: after the confirmation timeout the caller ID is taken.
    b.advance(11_000);
    b.set_state(12_000, "a", RequestedState::Available);
    b.answer(12_500, "a");
    b.agent_hangs_up(42_500, "customer", "NO_ANSWER");
    b.advance(102_500);
    b.answer(103_000, "a");
    b.agent_hangs_up(133_000, "customer", "USER_BUSY");
    assert!(b.engine.calls.is_empty());
    assert_eq!(b.status("a"), AgentStatus::Available);
    b.check(expect![[r#"
        @100 chan1 parked for support
          store call entered support from 493012341
          store queue enter - priority=0
          answer chan1
          hold chan1 local_stream://support
        @1000 chan1 pressed 1
          break chan1
          play chan1 ivr/callback-offer.wav
          say chan1 en number iterated 493012341
          hold chan1 local_stream://support
          timer 11000ms callback confirm
        @11000 CallbackConfirm fired
          break chan1
          play chan1 ivr/callback-confirmed.wav
          hangup chan1 after prompts
          store queue callback_requested - number=493012341
        @12000 a requests Available
          store agent a logged_out -> available
          store agent a available -> offered
          store queue offer a leg=id1
          originate id1 to a via user/a
          timer 37000ms ring timeout id1
        @12500 a answered
          store agent a offered -> on_call
          hold id1 tone_stream://%(2000,4000,440,480);loops=-1
          dial id2 via sofia/gateway/pstn/493012341
          timer 47500ms ring timeout id2
        @42500 id2 hung up NO_ANSWER
          kill id1 NORMAL_CLEARING
          store queue callback_attempted a attempt=1 number=493012341 cause=NO_ANSWER
          store agent a on_call -> available
          timer 102500ms callback retry after attempt 1
        @102500 CallbackRetry fired
          store agent a available -> offered
          store queue offer a leg=id3
          originate id3 to a via user/a
          timer 127500ms ring timeout id3
        @103000 a answered
          store agent a offered -> on_call
          hold id3 tone_stream://%(2000,4000,440,480);loops=-1
          dial id4 via sofia/gateway/pstn/493012341
          timer 138000ms ring timeout id4
        @133000 id4 hung up USER_BUSY
          kill id3 NORMAL_CLEARING
          store queue callback_failed a attempt=2 number=493012341 cause=USER_BUSY
          store agent a on_call -> available
          store call ended callback_failed USER_BUSY talk=None
    "#]]);
}
