//! Call recording: the queue's policy on answer, control on demand, pause and mask with
//! auto-resume, the beep, consent and opt-out, and every way a recording ends.

use super::*;
use crate::engine::recording::{
    ConsentNotice, RecordingAction, RecordingActor, RecordingMode, RecordingPolicy,
};

const NOTICE: &str = "switchboard/this-call-may-be-recorded.wav";

fn policy(mode: RecordingMode) -> RecordingPolicy {
    RecordingPolicy {
        mode,
        ..RecordingPolicy::default()
    }
}

/// One queue with `recording`, agent `a` available, recordings under `/rec` on the switch.
fn recorded(recording: RecordingPolicy) -> Bench {
    let mut b = Bench::with(
        vec![queue(
            "support",
            QueueRouting {
                recording,
                ..QueueRouting::default()
            },
        )],
        vec![agent("a", &["support"], "")],
    );
    b.engine.set_recordings_dir(sw(), "/rec/");
    b.set_state(0, "a", RequestedState::Available);
    b
}

/// A caller connected to agent `a` at 1000 (parked at 100).
fn connected(recording: RecordingPolicy) -> Bench {
    let mut b = recorded(recording);
    b.enqueue(100, 1, "support", 0, "");
    b.answer(1_000, "a");
    b
}

fn call_id(b: &Bench) -> CallId {
    b.only_call()
}

fn control(
    b: &mut Bench,
    at: i64,
    action: RecordingAction,
    who: &str,
) -> Result<RecordingId, RecordingControlError> {
    let call = call_id(b);
    let (id, effects) =
        b.engine
            .control_recording(ts(at), call, action, RecordingActor::Token(who.into()))?;
    b.record(at, &format!("{who} asks {}", action.as_str()), effects);
    Ok(id)
}

fn ok(b: &mut Bench, at: i64, action: RecordingAction) -> RecordingId {
    control(b, at, action, "sup").expect("allowed")
}

/// The records the engine emitted about recordings, in order.
fn recording_records(effects: &[Effect]) -> Vec<&Record> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Persist(
                r @ (Record::RecordingStarted { .. }
                | Record::RecordingDeclined { .. }
                | Record::RecordingChanged { .. }
                | Record::RecordingStopped { .. }),
            ) => Some(r),
            _ => None,
        })
        .collect()
}

#[test]
fn a_queue_that_records_always_starts_on_answer_in_stereo_and_stops_when_the_agent_hangs_up() {
    let mut b = connected(RecordingPolicy {
        stereo: true,
        retention: Some(Duration::from_secs(86_400)),
        ..policy(RecordingMode::Always)
    });
    b.agent_hangs_up(31_000, "a", "NORMAL_CLEARING");
    // The switch reports the stop the engine asked for: old news.
    let late = b.engine.handle(
        ts(31_010),
        Input::RecordingStopped {
            switch: sw(),
            channel: chan(1),
            path: format!("/rec/1970-01-01/support/{}.wav", "x"),
        },
    );
    assert!(late.is_empty());
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
          record stereo chan1
          uuid_record chan1 start /rec/1970-01-01/support/id2.wav limit 14400s
          store recording started (always) by policy
          store agent a offered -> on_call
        @31000 id1 hung up NORMAL_CLEARING
          uuid_record chan1 stop /rec/1970-01-01/support/id2.wav
          store recording stopped by policy after 30000ms
          store queue complete a by=agent talk_ms=30000
          store call ended completed NORMAL_CLEARING talk=Some(30000)
          store agent a on_call -> available
    "#]]);
}

#[test]
fn queues_that_record_never_or_on_demand_do_not_record_on_answer() {
    for mode in [RecordingMode::Never, RecordingMode::OnDemand] {
        let b = connected(policy(mode));
        assert!(
            !b.trace.iter().any(|l| l.contains("uuid_record")),
            "{mode:?}: {:#?}",
            b.trace
        );
        assert!(b.engine.recording_of(call_id(&b)).is_none());
    }
}

/// `calls` callers answered one after the other by the same agent; which of them (by order)
/// were recorded.
fn sampled(seed: u64, share: u8, calls: u32) -> Vec<u32> {
    let mut engine = Engine::new(seed);
    engine.provision_queue(queue(
        "support",
        QueueRouting {
            recording: policy(RecordingMode::Percent(share)),
            ..QueueRouting::default()
        },
    ));
    engine.provision_agent(ts(0), agent("a", &["support"], ""), AgentStatus::Available);
    let mut picked = Vec::new();
    for n in 0..calls {
        let at = i64::from(n) * 1_000 + 1;
        let effects = engine.handle(
            ts(at),
            Input::CallParked(ParkedCall {
                switch: sw(),
                channel: chan(n + 1),
                queue: qid("support"),
                caller_number: "100".into(),
                caller_name: String::new(),
                destination: "5000".into(),
                priority: 0,
                skills: Vec::new(),
            }),
        );
        let leg = effects
            .iter()
            .find_map(|e| match e {
                Effect::Switch {
                    command: SwitchCommand::Originate { leg, .. },
                    ..
                } => Some(leg.clone()),
                _ => None,
            })
            .expect("the agent is rung");
        let answered = engine.handle(
            ts(at + 100),
            Input::ChannelAnswered {
                switch: sw(),
                channel: leg.clone(),
            },
        );
        if !recording_records(&answered).is_empty() {
            picked.push(n);
        }
        engine.handle(
            ts(at + 500),
            Input::ChannelHungUp {
                switch: sw(),
                channel: leg,
                cause: "NORMAL_CLEARING".into(),
            },
        );
    }
    picked
}

#[test]
fn a_sampled_share_is_drawn_from_the_seed_repeatably_and_comes_close_to_the_share() {
    let first = sampled(11, 30, 1_000);
    assert_eq!(
        first,
        sampled(11, 30, 1_000),
        "the same seed draws the same calls"
    );
    assert_ne!(first, sampled(12, 30, 1_000), "another seed draws others");
    assert!(
        (250..=350).contains(&first.len()),
        "30% of 1000 calls, drawn: {}",
        first.len()
    );
    assert!(sampled(11, 0, 100).is_empty());
    assert_eq!(sampled(11, 100, 100).len(), 100);
}

#[test]
fn the_caller_hears_the_notice_before_the_hold_music_and_the_opt_out_key_declines_recording() {
    let mut b = recorded(RecordingPolicy {
        consent: Some(ConsentNotice {
            announcement: NOTICE.into(),
            opt_out_digit: Some('9'),
        }),
        retention: Some(Duration::from_secs(3_600)),
        ..policy(RecordingMode::Always)
    });
    // The agent is busy elsewhere: the caller waits and presses the key (twice).
    b.set_state(10, "a", RequestedState::Paused { reason: "x".into() });
    b.enqueue(100, 1, "support", 0, "");
    b.media_done_of(1_500, chan(1), "playback", NOTICE, "FILE PLAYED");
    b.press(2_000, 1, "9");
    b.press(2_500, 1, "9");
    b.set_state(3_000, "a", RequestedState::Available);
    b.answer(3_500, "a");
    let call = call_id(&b);
    let consent = b.engine.calls[&call].consent;
    assert_eq!(consent.notice_at, Some(ts(100)));
    assert_eq!(consent.opted_out_at, Some(ts(2_000)));
    assert_eq!(
        control(&mut b, 4_000, RecordingAction::Start, "sup"),
        Err(RecordingControlError::DeclinedByCaller(call))
    );
    b.check(expect![[r#"
        @0 a requests Available
          store agent a logged_out -> available
        @10 a requests Paused { reason: "x" }
          store agent a available -> paused (x)
        @100 chan1 parked for support
          store call entered support from 493012341
          store queue enter - priority=0
          answer chan1
          play chan1 switchboard/this-call-may-be-recorded.wav
          hold chan1 local_stream://support
        @1500 chan1 playback done: FILE PLAYED
        @2000 chan1 pressed 9
        @2500 chan1 pressed 9
        @3000 a requests Available
          store agent a paused -> available
          store agent a available -> offered
          store queue offer a leg=id1
          originate id1 to a via user/a
          timer 28000ms ring timeout id1
        @3500 a answered
          break chan1
          bridge chan1 id1
          store call answered by a after 3400ms
          store queue connect a wait_ms=3400
          store recording declined
          store agent a offered -> on_call
    "#]]);
}

#[test]
fn a_caller_moved_to_another_queue_keeps_its_notice_and_its_opt_out() {
    let consent = |mode| RecordingPolicy {
        consent: Some(ConsentNotice {
            announcement: NOTICE.into(),
            opt_out_digit: Some('9'),
        }),
        ..policy(mode)
    };
    let mut b = Bench::with(
        vec![
            queue(
                "first",
                QueueRouting {
                    recording: consent(RecordingMode::OnDemand),
                    max_wait: Some(Duration::from_secs(10)),
                    on_max_wait: Some(Destination::Queue {
                        queue: qid("second"),
                    }),
                    ..QueueRouting::default()
                },
            ),
            queue(
                "second",
                QueueRouting {
                    recording: consent(RecordingMode::Always),
                    ..QueueRouting::default()
                },
            ),
        ],
        vec![agent("a", &["second"], "")],
    );
    b.enqueue(100, 1, "first", 0, "");
    b.media_done_of(900, chan(1), "playback", NOTICE, "FILE PLAYED");
    b.press(1_000, 1, "9");
    b.advance(10_100);
    b.set_state(11_000, "a", RequestedState::Available);
    b.answer(12_000, "a");
    let notices = b.trace.iter().filter(|l| l.contains(NOTICE)).count();
    assert_eq!(notices, 1, "{:#?}", b.trace);
    assert!(b.trace.iter().any(|l| l.contains("recording declined")));
    assert!(!b.trace.iter().any(|l| l.contains("uuid_record")));
}

#[test]
fn a_queue_that_never_records_plays_no_notice_and_its_opt_out_key_is_an_ordinary_key() {
    let mut b = recorded(RecordingPolicy {
        consent: Some(ConsentNotice {
            announcement: NOTICE.into(),
            opt_out_digit: Some('9'),
        }),
        ..policy(RecordingMode::Never)
    });
    b.set_state(10, "a", RequestedState::Paused { reason: "x".into() });
    b.enqueue(100, 1, "support", 0, "");
    b.press(2_000, 1, "9");
    assert!(!b.trace.iter().any(|l| l.contains(NOTICE)));
    let call = call_id(&b);
    assert_eq!(b.engine.calls[&call].consent, Default::default());
}

#[test]
fn a_recording_on_demand_is_started_and_stopped_by_request_and_refusals_say_why() {
    let mut b = recorded(policy(RecordingMode::OnDemand));
    b.enqueue(100, 1, "support", 0, "");
    let call = call_id(&b);
    assert_eq!(
        control(&mut b, 200, RecordingAction::Start, "sup"),
        Err(RecordingControlError::NotConnected(call))
    );
    b.answer(1_000, "a");
    assert_eq!(
        control(&mut b, 1_500, RecordingAction::Pause, "sup"),
        Err(RecordingControlError::NotRecording(call))
    );
    let first = ok(&mut b, 2_000, RecordingAction::Start);
    assert_eq!(
        control(&mut b, 2_100, RecordingAction::Start, "sup"),
        Err(RecordingControlError::AlreadyRecording {
            call,
            recording: first
        })
    );
    assert_eq!(
        control(&mut b, 2_200, RecordingAction::Resume, "sup"),
        Err(RecordingControlError::NotPaused(first))
    );
    assert_eq!(
        control(&mut b, 2_300, RecordingAction::Unmask, "sup"),
        Err(RecordingControlError::NotMasked(first))
    );
    assert_eq!(ok(&mut b, 5_000, RecordingAction::Stop), first);
    // Recorded again: a file of its own.
    let second = ok(&mut b, 6_000, RecordingAction::Start);
    assert_ne!(first, second);
    let unknown = CallId::from_uuid(uuid::Uuid::from_u128(1));
    assert_eq!(
        b.engine.control_recording(
            ts(7_000),
            unknown,
            RecordingAction::Stop,
            RecordingActor::Token("sup".into())
        ),
        Err(RecordingControlError::UnknownCall(unknown))
    );
    assert!(b.engine.is_agent_on_call(call, &aid("a")));
    assert!(!b.engine.is_agent_on_call(call, &aid("b")));
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
        @2000 sup asks start
          uuid_record chan1 start /rec/1970-01-01/support/id2.wav limit 14400s
          store recording started (on_demand) by token:sup
        @5000 sup asks stop
          uuid_record chan1 stop /rec/1970-01-01/support/id2.wav
          store recording stopped by token:sup after 3000ms
        @6000 sup asks start
          uuid_record chan1 start /rec/1970-01-01/support/id2-2.wav limit 14400s
          store recording started (on_demand) by token:sup
    "#]]);
}

#[test]
fn pauses_and_masks_are_kept_with_their_offsets_and_leave_paused_time_out_of_the_duration() {
    let mut b = connected(policy(RecordingMode::Always));
    ok(&mut b, 2_000, RecordingAction::Pause);
    let call = call_id(&b);
    let view = b.engine.recording_of(call).expect("recording");
    assert!(view.paused && !view.masked);
    assert_eq!(b.engine.snapshot(ts(2_000)).calls[0].recording, Some(view));
    assert_eq!(
        control(&mut b, 2_500, RecordingAction::Pause, "sup"),
        Err(RecordingControlError::AlreadyPaused(view.id))
    );
    ok(&mut b, 5_000, RecordingAction::Resume);
    ok(&mut b, 6_000, RecordingAction::Mask);
    assert_eq!(
        control(&mut b, 6_500, RecordingAction::Mask, "sup"),
        Err(RecordingControlError::AlreadyMasked(view.id))
    );
    ok(&mut b, 8_000, RecordingAction::Unmask);
    ok(&mut b, 9_000, RecordingAction::Pause);
    // Still paused when the caller hangs up: 10 s of wall time, 3 s and 2 s of it paused.
    b.hangup(11_000, chan(1), "NORMAL_CLEARING");
    assert!(b.engine.recording_of(call).is_none());
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
          uuid_record chan1 start /rec/1970-01-01/support/id2.wav limit 14400s
          store recording started (always) by policy
          store agent a offered -> on_call
        @2000 sup asks pause
          uuid_record chan1 pause /rec/1970-01-01/support/id2.wav
          store recording pause by token:sup at +1000ms
          timer 182000ms recording auto-resume
        @5000 sup asks resume
          uuid_record chan1 resume /rec/1970-01-01/support/id2.wav
          store recording resume by token:sup at +4000ms
        @6000 sup asks mask
          uuid_record chan1 mask /rec/1970-01-01/support/id2.wav
          store recording mask by token:sup at +5000ms
          timer 186000ms recording auto-resume
        @8000 sup asks unmask
          uuid_record chan1 unmask /rec/1970-01-01/support/id2.wav
          store recording unmask by token:sup at +7000ms
        @9000 sup asks pause
          uuid_record chan1 pause /rec/1970-01-01/support/id2.wav
          store recording pause by token:sup at +8000ms
          timer 189000ms recording auto-resume
        @11000 chan1 hung up NORMAL_CLEARING
          store recording stopped by switch after 5000ms
          store queue complete a by=caller talk_ms=10000
          store call ended completed NORMAL_CLEARING talk=Some(10000)
          store agent a on_call -> available
    "#]]);
}

#[test]
fn a_paused_or_masked_recording_resumes_by_itself_and_earlier_timers_go_stale() {
    let mut b = connected(RecordingPolicy {
        auto_resume: Duration::from_secs(10),
        ..policy(RecordingMode::Always)
    });
    ok(&mut b, 2_000, RecordingAction::Pause);
    // Resumed by hand before the timer: the timer of the pause is stale.
    ok(&mut b, 5_000, RecordingAction::Resume);
    ok(&mut b, 6_000, RecordingAction::Mask);
    ok(&mut b, 7_000, RecordingAction::Pause);
    // The mask is due first (16 000), the pause at 17 000.
    b.advance(20_000);
    let call = call_id(&b);
    let view = b.engine.recording_of(call).expect("recording");
    assert!(!view.paused && !view.masked);
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
          uuid_record chan1 start /rec/1970-01-01/support/id2.wav limit 14400s
          store recording started (always) by policy
          store agent a offered -> on_call
        @2000 sup asks pause
          uuid_record chan1 pause /rec/1970-01-01/support/id2.wav
          store recording pause by token:sup at +1000ms
          timer 12000ms recording auto-resume
        @5000 sup asks resume
          uuid_record chan1 resume /rec/1970-01-01/support/id2.wav
          store recording resume by token:sup at +4000ms
        @6000 sup asks mask
          uuid_record chan1 mask /rec/1970-01-01/support/id2.wav
          store recording mask by token:sup at +5000ms
          timer 16000ms recording auto-resume
        @7000 sup asks pause
          uuid_record chan1 pause /rec/1970-01-01/support/id2.wav
          store recording pause by token:sup at +6000ms
          timer 16000ms recording auto-resume
        @16000 RecordingAutoResume fired
          uuid_record chan1 unmask /rec/1970-01-01/support/id2.wav
          store recording unmask by auto_resume at +15000ms
          timer 17000ms recording auto-resume
        @17000 RecordingAutoResume fired
          uuid_record chan1 resume /rec/1970-01-01/support/id2.wav
          store recording resume by auto_resume at +16000ms
    "#]]);
}

#[test]
fn the_beep_sounds_while_recording_is_silent_while_paused_and_stops_with_the_recording() {
    let mut b = connected(RecordingPolicy {
        beep_every: Some(Duration::from_secs(15)),
        ..policy(RecordingMode::Always)
    });
    b.advance(16_000);
    ok(&mut b, 20_000, RecordingAction::Pause);
    b.advance(31_000);
    ok(&mut b, 35_000, RecordingAction::Stop);
    b.advance(100_000);
    let beeps = b.trace.iter().filter(|l| l.contains("beep chan1")).count();
    assert_eq!(beeps, 1, "{:#?}", b.trace);
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
          uuid_record chan1 start /rec/1970-01-01/support/id2.wav limit 14400s
          store recording started (always) by policy
          timer 16000ms recording beep
          store agent a offered -> on_call
        @16000 RecordingBeep fired
          beep chan1
          timer 31000ms recording beep
        @20000 sup asks pause
          uuid_record chan1 pause /rec/1970-01-01/support/id2.wav
          store recording pause by token:sup at +19000ms
          timer 200000ms recording auto-resume
        @31000 RecordingBeep fired
          timer 46000ms recording beep
        @35000 sup asks stop
          uuid_record chan1 stop /rec/1970-01-01/support/id2.wav
          store recording stopped by token:sup after 19000ms
    "#]]);
}

#[test]
fn a_recording_ends_once_by_the_caller_hanging_up_by_record_stop_or_by_a_refused_start() {
    // The caller hangs up: the switch stops the recording itself; its RECORD_STOP is old news.
    let mut b = connected(policy(RecordingMode::Always));
    b.hangup(11_000, chan(1), "NORMAL_CLEARING");
    let stops = |b: &Bench| {
        b.trace
            .iter()
            .filter(|l| l.contains("recording stopped"))
            .count()
    };
    assert_eq!(stops(&b), 1);
    assert!(!b.trace.iter().any(|l| l.contains("uuid_record chan1 stop")));

    // RECORD_STOP of a recording the engine did not stop: the switch's limit, or an error.
    let mut b = connected(policy(RecordingMode::Always));
    let path = b
        .engine
        .recordings_paths()
        .into_iter()
        .next()
        .expect("a recording");
    let effects = b.engine.handle(
        ts(5_000),
        Input::RecordingStopped {
            switch: sw(),
            channel: chan(1),
            path: path.clone(),
        },
    );
    b.record(5_000, "RECORD_STOP", effects);
    b.hangup(6_000, chan(1), "NORMAL_CLEARING");
    assert_eq!(stops(&b), 1, "{:#?}", b.trace);
    assert!(b
        .trace
        .iter()
        .any(|l| l.contains("stopped by switch after 4000ms")));

    // The switch refuses to start: failed at once, with its reply.
    let mut b = connected(policy(RecordingMode::Always));
    let effects = b.engine.handle(
        ts(1_050),
        Input::CommandFailed {
            switch: sw(),
            command: SwitchCommand::SessionRecord {
                channel: chan(1),
                action: RecordingAction::Start,
                path,
                limit: Some(RECORDING_LIMIT),
            },
            reply: "-ERR Cannot record session!".into(),
        },
    );
    let records = recording_records(&effects);
    assert!(
        matches!(
            records.as_slice(),
            [Record::RecordingStopped { error: Some(e), by: RecordingActor::Switch, duration_ms: 50, .. }]
                if e == "-ERR Cannot record session!"
        ),
        "{records:#?}"
    );
    b.hangup(6_000, chan(1), "NORMAL_CLEARING");
    assert!(!b.trace.iter().any(|l| l.contains("recording stopped")));
}

#[test]
fn a_failed_bridge_stops_the_recording_it_started() {
    let mut b = connected(policy(RecordingMode::Always));
    let leg = b.leg_of("a");
    let effects = b.engine.handle(
        ts(1_100),
        Input::CommandFailed {
            switch: sw(),
            command: SwitchCommand::Bridge {
                caller: chan(1),
                agent_leg: leg,
            },
            reply: "-ERR Invalid uuid".into(),
        },
    );
    b.record(1_100, "bridge refused", effects);
    assert!(b.engine.recording_of(call_id(&b)).is_none());
    assert!(b.trace.iter().any(|l| l.contains("uuid_record chan1 stop")));
}

#[test]
fn keys_pressed_while_the_recording_is_paused_or_masked_are_dropped_unseen() {
    let mut b = connected(policy(RecordingMode::Always));
    let leg = b.leg_of("a");
    assert!(!b.engine.dtmf_is_private(&chan(1)));
    ok(&mut b, 2_000, RecordingAction::Pause);
    assert!(b.engine.dtmf_is_private(&chan(1)));
    assert!(b.engine.dtmf_is_private(&leg));
    ok(&mut b, 3_000, RecordingAction::Resume);
    ok(&mut b, 4_000, RecordingAction::Mask);
    assert!(b.engine.dtmf_is_private(&chan(1)));
    ok(&mut b, 5_000, RecordingAction::Unmask);
    assert!(!b.engine.dtmf_is_private(&chan(1)));
}

#[test]
fn a_callback_customer_who_answers_is_recorded_by_the_queue_policy() {
    let mut b = Bench::with(
        vec![queue(
            "support",
            QueueRouting {
                recording: policy(RecordingMode::Always),
                callback: Some(CallbackSettings {
                    dial: "sofia/gateway/pstn/{number}".into(),
                    ..CallbackSettings::default()
                }),
                ..QueueRouting::default()
            },
        )],
        vec![agent("a", &["support"], "")],
    );
    b.enqueue(100, 1, "support", 0, "");
    b.press(1_000, 1, "*#");
    b.set_state(2_000, "a", RequestedState::Available);
    b.answer(3_000, "a");
    let customer = b.leg_of("customer");
    let effects = b.engine.handle(
        ts(8_000),
        Input::ChannelAnswered {
            switch: sw(),
            channel: customer.clone(),
        },
    );
    let records = recording_records(&effects);
    assert!(
        matches!(records.as_slice(), [Record::RecordingStarted { channel, .. }] if *channel == customer),
        "{records:#?}"
    );
}

#[test]
fn an_agent_who_answers_during_the_consent_notice_is_connected_when_it_ends() {
    let mut b = recorded(RecordingPolicy {
        consent: Some(ConsentNotice {
            announcement: NOTICE.into(),
            opt_out_digit: None,
        }),
        ..policy(RecordingMode::Always)
    });
    b.enqueue(100, 1, "support", 0, "");
    b.answer(900, "a");
    assert!(
        !b.trace.iter().any(|l| l.contains("bridge chan1")),
        "a bridge would cut the notice short: {:#?}",
        b.trace
    );
    // Another prompt ending (a broken IVR prompt, say) is not the notice.
    b.media_done_of(950, chan(1), "playback", "ivr/menu.wav", "FILE PLAYED");
    assert!(!b.trace.iter().any(|l| l.contains("bridge chan1")));
    b.media_done_of(2_100, chan(1), "playback", NOTICE, "FILE PLAYED");
    let after: Vec<&String> = b
        .trace
        .iter()
        .skip_while(|l| !l.starts_with("@2100"))
        .collect();
    assert!(
        after.iter().any(|l| l.contains("break chan1"))
            && after.iter().any(|l| l.contains("bridge chan1"))
            && after
                .iter()
                .any(|l| l.contains("uuid_record") || l.contains("record")),
        "connected and recorded once the notice ended: {after:#?}"
    );
    assert!(
        after
            .iter()
            .any(|l| l.contains("answered by a after 800ms")),
        "the answer is dated when the agent picked up: {after:#?}"
    );
}
