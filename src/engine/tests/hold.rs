//! Hold: from the agent's phone, the caller's phone and REST; totals, the end of a held call,
//! the recording paused on hold, and what REST refuses.

use super::*;
use crate::engine::hold::{HoldBy, HoldError};
use crate::engine::recording::{RecordingMode, RecordingPolicy};

fn bench(recording: RecordingPolicy) -> Bench {
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
    b.talking("a", "support");
    b
}

fn connected() -> Bench {
    bench(RecordingPolicy::default())
}

impl Bench {
    /// CHANNEL_HOLD (`held`) or CHANNEL_UNHOLD on `channel`.
    fn leg_hold(&mut self, at: i64, channel: ChannelId, held: bool) {
        let label = format!(
            "{} {}",
            self.name(channel.as_str()),
            if held { "held" } else { "unheld" }
        );
        let effects = self.engine.handle(
            ts(at),
            Input::LegHold {
                switch: sw(),
                channel,
                held,
            },
        );
        self.record(at, &label, effects);
    }

    fn request_hold(&mut self, at: i64, held: bool) -> Result<(), HoldError> {
        let call = self.only_call();
        let effects = self
            .engine
            .request_hold(call, held, HoldBy::Token("sup".into()))?;
        let what = if held { "hold" } else { "resume" };
        self.record(at, &format!("sup asks {what}"), effects);
        Ok(())
    }
}

#[test]
fn holds_from_the_agents_phone_are_counted_and_totalled_and_the_talk_time_spans_them() {
    let mut b = connected();
    let leg = b.leg_of("a");
    b.leg_hold(5_000, leg.clone(), true);
    b.leg_hold(9_000, leg.clone(), false);
    b.leg_hold(12_000, leg.clone(), true);
    // A second hold event while held (the caller's phone too) changes nothing.
    b.leg_hold(12_500, chan(1), true);
    b.leg_hold(14_000, leg, false);
    let call = b.only_call();
    let view = b.engine.hold_view(call).expect("held");
    assert_eq!(
        (view.holds, view.hold_ms, view.held_since),
        (2, 6_000, None)
    );
    b.agent_hangs_up(20_000, "a", "NORMAL_CLEARING");
    assert_eq!(b.engine.agent_hold_ms(&aid("a")), 6_000);
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
        @5000 id1 held
          store call held by agent_phone
        @9000 id1 unheld
          store call resumed by agent_phone held=4000ms total=4000ms holds=1
        @12000 id1 held
          store call held by agent_phone
        @12500 chan1 held
        @14000 id1 unheld
          store call resumed by agent_phone held=2000ms total=6000ms holds=2
        @20000 id1 hung up NORMAL_CLEARING
          store queue complete a by=agent talk_ms=19000
          store call ended completed NORMAL_CLEARING talk=Some(19000)
          store agent a on_call -> available
    "#]]);
}

#[test]
fn a_call_ending_on_hold_closes_the_hold_before_its_end() {
    let mut b = connected();
    let call = call_of(&b);
    b.leg_hold(5_000, chan(1), true);
    b.hangup(8_000, chan(1), "NORMAL_CLEARING");
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
        @5000 chan1 held
          store call held by caller_phone
        @8000 chan1 hung up NORMAL_CLEARING
          store queue complete a by=caller talk_ms=7000
          store call resumed by caller_phone held=3000ms total=3000ms holds=1
          store call ended completed NORMAL_CLEARING talk=Some(7000)
          store agent a on_call -> available
    "#]]);
    assert_eq!(b.engine.hold_view(call), None);
}

#[test]
fn rest_hold_holds_the_agent_leg_with_the_queues_music_and_the_switch_event_is_recorded_as_the_requesters(
) {
    let mut b = connected();
    b.request_hold(5_000, true).expect("allowed");
    assert_eq!(
        b.request_hold(5_001, false),
        Err(HoldError::NotHeld(call_of(&b)))
    );
    let leg = b.leg_of("a");
    b.leg_hold(5_100, leg.clone(), true);
    assert_eq!(
        b.request_hold(6_000, true),
        Err(HoldError::AlreadyHeld(call_of(&b)))
    );
    b.request_hold(7_000, false).expect("allowed");
    b.leg_hold(7_100, leg, false);
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
        @5000 sup asks hold
          hold music of id1 local_stream://support
          uuid_hold id1
        @5100 id1 held
          store call held by token:sup
        @7000 sup asks resume
          uuid_hold off id1
        @7100 id1 unheld
          store call resumed by token:sup held=2000ms total=2000ms holds=1
    "#]]);
}

fn call_of(b: &Bench) -> CallId {
    b.only_call()
}

#[test]
fn rest_hold_of_a_call_not_connected_is_refused() {
    let mut b = Bench::with(
        vec![queue("support", QueueRouting::default())],
        vec![agent("a", &["support"], "")],
    );
    b.enqueue(100, 1, "support", 0, "");
    let call = call_of(&b);
    assert_eq!(
        b.engine
            .request_hold(call, true, HoldBy::Token("sup".into())),
        Err(HoldError::NotConnected(call))
    );
    let unknown = CallId::from_uuid(uuid::Uuid::nil());
    assert_eq!(
        b.engine
            .request_hold(unknown, true, HoldBy::Token("sup".into())),
        Err(HoldError::UnknownCall(unknown))
    );
}

#[test]
fn a_queue_that_pauses_recordings_on_hold_pauses_and_resumes_the_recording() {
    let mut b = bench(RecordingPolicy {
        mode: RecordingMode::Always,
        pause_on_hold: true,
        ..RecordingPolicy::default()
    });
    let leg = b.leg_of("a");
    b.leg_hold(5_000, leg.clone(), true);
    let call = call_of(&b);
    assert!(b.engine.recording_of(call).expect("recording").paused);
    b.leg_hold(9_000, leg, false);
    assert!(!b.engine.recording_of(call).expect("recording").paused);
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
        @5000 id1 held
          store call held by agent_phone
          uuid_record chan1 pause /rec/1970-01-01/support/id2.wav
          store recording pause by hold at +4000ms
        @9000 id1 unheld
          store call resumed by agent_phone held=4000ms total=4000ms holds=1
          uuid_record chan1 resume /rec/1970-01-01/support/id2.wav
          store recording resume by hold at +8000ms
    "#]]);
}

#[test]
fn a_queue_that_does_not_pause_on_hold_keeps_recording() {
    let mut b = bench(RecordingPolicy {
        mode: RecordingMode::Always,
        ..RecordingPolicy::default()
    });
    let leg = b.leg_of("a");
    b.leg_hold(5_000, leg, true);
    assert!(
        !b.engine
            .recording_of(call_of(&b))
            .expect("recording")
            .paused
    );
}

#[test]
fn hold_events_of_a_leg_not_connected_are_ignored() {
    let mut b = Bench::with(
        vec![queue("support", QueueRouting::default())],
        vec![agent("a", &["support"], "")],
    );
    b.enqueue(100, 1, "support", 0, "");
    let effects = b.engine.handle(
        ts(200),
        Input::LegHold {
            switch: sw(),
            channel: chan(1),
            held: true,
        },
    );
    assert!(effects.is_empty());
}

#[test]
fn a_refused_uuid_hold_leaves_the_next_phone_hold_to_the_phone() {
    let mut b = connected();
    b.request_hold(5_000, true).expect("allowed");
    let leg = b.leg_of("a");
    let refused = b.engine.handle(
        ts(5_010),
        Input::CommandFailed {
            switch: sw(),
            command: SwitchCommand::Hold {
                channel: leg.clone(),
                on: true,
            },
            reply: "-ERR No such channel!".into(),
        },
    );
    b.record(5_010, "uuid_hold refused", refused);
    b.leg_hold(8_000, leg, true);
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
        @5000 sup asks hold
          hold music of id1 local_stream://support
          uuid_hold id1
        @5010 uuid_hold refused
        @8000 id1 held
          store call held by agent_phone
    "#]]);
}
