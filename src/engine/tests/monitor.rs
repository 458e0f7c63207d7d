//! Supervisor monitoring: a supervisor's phone rung, joined, switched between modes by a key,
//! ended on request, by its hangup and with the call; refusals; an agent who is the supervisor
//! busy meanwhile; and the call handled by its agent all along.

use super::*;
use crate::engine::monitor::{MonitorError, MonitorMode, MonitorPhase, MonitorRequest};
use crate::engine::MonitorId;

fn bench(notice: Option<&str>) -> Bench {
    let mut b = Bench::with(
        vec![queue(
            "support",
            QueueRouting {
                monitor_notice: notice.map(str::to_owned),
                ..QueueRouting::default()
            },
        )],
        vec![agent("a", &["support"], ""), agent("b", &["support"], "")],
    );
    b.set_state(0, "a", RequestedState::Available);
    b.enqueue(100, 1, "support", 0, "");
    b.answer(1_000, "a");
    b
}

impl Bench {
    fn monitor(&mut self, at: i64, request: MonitorRequest) -> Result<MonitorId, MonitorError> {
        let label = match &request {
            MonitorRequest::Start { mode, phone, .. } => {
                format!("sup monitors ({mode}) via {phone}")
            }
            MonitorRequest::Mode { mode, .. } => format!("sup switches to {mode}"),
            MonitorRequest::End { .. } => "sup ends monitoring".to_owned(),
            MonitorRequest::TakeOver { .. } => "sup takes the call over".to_owned(),
        };
        let (view, effects) = self.engine.monitor(ts(at), request)?;
        self.record(at, &label, effects);
        Ok(view.id)
    }

    fn start(
        &mut self,
        at: i64,
        mode: MonitorMode,
        phone: &str,
    ) -> Result<MonitorId, MonitorError> {
        let call = self
            .engine
            .calls
            .values()
            .find(|c| c.caller == chan(1))
            .map(|c| c.id)
            .expect("the call");
        self.monitor(
            at,
            MonitorRequest::Start {
                call,
                mode,
                supervisor: "sup".into(),
                phone: phone.into(),
            },
        )
    }
}

#[test]
fn a_supervisor_listens_then_whispers_then_leaves_and_the_agent_keeps_the_call() {
    let mut b = bench(None);
    let id = b
        .start(2_000, MonitorMode::Listen, "user/s1")
        .expect("started");
    // Not joined yet: no mode change.
    assert_eq!(
        b.monitor(
            2_100,
            MonitorRequest::Mode {
                monitor: id,
                mode: MonitorMode::Whisper
            }
        ),
        Err(MonitorError::NotJoined(id))
    );
    b.answer_leg(2_500, 2);
    assert_eq!(
        b.monitor(
            3_000,
            MonitorRequest::Mode {
                monitor: id,
                mode: MonitorMode::Listen
            }
        ),
        Err(MonitorError::SameMode(id, MonitorMode::Listen))
    );
    b.monitor(
        4_000,
        MonitorRequest::Mode {
            monitor: id,
            mode: MonitorMode::Whisper,
        },
    )
    .expect("whisper");
    b.monitor(
        5_000,
        MonitorRequest::Mode {
            monitor: id,
            mode: MonitorMode::Barge,
        },
    )
    .expect("barge");
    b.monitor(6_000, MonitorRequest::End { monitor: id })
        .expect("end");
    assert_eq!(
        b.monitor(6_100, MonitorRequest::End { monitor: id }),
        Err(MonitorError::Ending(id))
    );
    let leg = b.leg(2);
    b.hangup(6_200, leg, "NORMAL_CLEARING");
    assert!(b.engine.monitor_views().is_empty());
    assert_eq!(b.status("a"), AgentStatus::OnCall);
    b.agent_hangs_up(9_000, "a", "NORMAL_CLEARING");
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
        @2000 sup monitors (listen) via user/s1
          monitor chan1 (listen) via user/s1 as id2
        @2500 leg 2 answered
          store monitor started by sup listen
        @4000 sup switches to whisper
          key 1 to id2
          store monitor mode_changed by sup whisper (was listen)
        @5000 sup switches to barge
          key 3 to id2
          store monitor mode_changed by sup barge (was whisper)
        @6000 sup ends monitoring
          kill id2 NORMAL_CLEARING
        @6200 id2 hung up NORMAL_CLEARING
          store monitor ended by sup barge (requested)
        @9000 id1 hung up NORMAL_CLEARING
          store queue complete a by=agent talk_ms=8000
          store call ended completed NORMAL_CLEARING talk=Some(8000)
          store agent a on_call -> available
    "#]]);
}

#[test]
fn a_barge_keeps_its_mode_the_notice_reaches_the_agent_and_the_calls_end_hangs_the_supervisor_up() {
    let mut b = bench(Some("tone_stream://%(500,0,440)"));
    let id = b
        .start(2_000, MonitorMode::Barge, "user/s1")
        .expect("started");
    b.answer_leg(2_500, 2);
    assert_eq!(
        b.monitor(
            3_000,
            MonitorRequest::Mode {
                monitor: id,
                mode: MonitorMode::Listen
            }
        ),
        Err(MonitorError::BargeIsFixed(id))
    );
    b.hangup(4_000, chan(1), "NORMAL_CLEARING");
    let leg = b.leg(2);
    b.hangup(4_100, leg, "NORMAL_CLEARING");
    assert!(b.engine.monitor_views().is_empty());
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
        @2000 sup monitors (barge) via user/s1
          monitor chan1 (barge) via user/s1 as id2
        @2500 leg 2 answered
          store monitor started by sup barge
          broadcast id1 tone_stream://%(500,0,440)
        @4000 chan1 hung up NORMAL_CLEARING
          store queue complete a by=caller talk_ms=3000
          store call ended completed NORMAL_CLEARING talk=Some(3000)
          store agent a on_call -> available
          kill id2 NORMAL_CLEARING
        @4100 id2 hung up NORMAL_CLEARING
          store monitor ended by sup barge (call_ended)
    "#]]);
}

#[test]
fn refusals_an_unanswered_phone_and_a_supervisor_who_is_also_an_agent() {
    let mut b = bench(None);
    let unknown = CallId::from_uuid(uuid::Uuid::from_u128(99));
    assert_eq!(
        b.monitor(
            1_500,
            MonitorRequest::Start {
                call: unknown,
                mode: MonitorMode::Listen,
                supervisor: "sup".into(),
                phone: "user/s1".into(),
            }
        ),
        Err(MonitorError::UnknownCall(unknown))
    );
    let nobody = MonitorId::from_uuid(uuid::Uuid::from_u128(98));
    assert_eq!(
        b.monitor(1_600, MonitorRequest::End { monitor: nobody }),
        Err(MonitorError::UnknownMonitor(nobody))
    );
    // Agent b's phone (user/b) is the supervisor's: b is busy while it rings and listens.
    b.set_state(1_700, "b", RequestedState::Available);
    let id = b
        .start(2_000, MonitorMode::Listen, "user/b")
        .expect("started");
    b.enqueue(2_100, 3, "support", 0, "");
    assert_eq!(b.status("b"), AgentStatus::Available);
    assert_eq!(b.engine.monitor_views()[0].phase, MonitorPhase::Ringing);
    b.originate_failed(3_000, 2, "USER_BUSY");
    assert!(b.engine.monitor_views().is_empty());
    let _ = id;
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
        @1700 b requests Available
          store agent b logged_out -> available
        @2000 sup monitors (listen) via user/b
          monitor chan1 (listen) via user/b as id2
        @2100 chan3 parked for support
          store call entered support from 493012343
          store queue enter - priority=0
          answer chan3
          hold chan3 local_stream://support
        @3000 originate of leg 2 failed USER_BUSY
          store agent b available -> offered
          store queue offer b leg=id3
          originate id3 to b via user/b
          timer 28000ms ring timeout id3
    "#]]);
}

#[test]
fn a_supervisor_takes_the_call_over_and_the_agents_part_ends_as_a_transfer() {
    let mut b = bench(None);
    let id = b
        .start(2_000, MonitorMode::Listen, "user/s1")
        .expect("started");
    assert_eq!(
        b.monitor(2_100, MonitorRequest::TakeOver { monitor: id }),
        Err(MonitorError::NotJoined(id))
    );
    b.answer_leg(2_500, 2);
    b.monitor(3_000, MonitorRequest::TakeOver { monitor: id })
        .expect("take over");
    // Refused by the switch: the session goes on and may take over again.
    let caller = chan(1);
    let effects = b.engine.handle(
        ts(3_100),
        Input::CommandFailed {
            switch: sw(),
            command: SwitchCommand::TakeOver {
                caller,
                leg: b.leg(2),
            },
            reply: "-ERR Invalid uuid".into(),
        },
    );
    assert!(effects.is_empty());
    b.monitor(4_000, MonitorRequest::TakeOver { monitor: id })
        .expect("take over");
    // The switch bridges the caller to the supervisor; the agent's leg loses its partner.
    let agent_leg = b.leg_of("a");
    b.hangup(4_050, agent_leg, "NORMAL_CLEARING");
    assert!(b.engine.monitor_views().is_empty());
    assert_eq!(b.status("a"), AgentStatus::Available);
    // The supervisor and the caller talk on; the caller hangs up.
    b.hangup(9_000, chan(1), "NORMAL_CLEARING");
    let leg = b.leg(2);
    b.hangup(9_020, leg, "NORMAL_CLEARING");
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
        @2000 sup monitors (listen) via user/s1
          monitor chan1 (listen) via user/s1 as id2
        @2500 leg 2 answered
          store monitor started by sup listen
        @3000 sup takes the call over
          take over: bridge chan1 id2
        @4000 sup takes the call over
          take over: bridge chan1 id2
        @4050 id1 hung up NORMAL_CLEARING
          store monitor ended by sup listen (took_over)
          store queue transfer a kind=blind from=a to=supervisor:sup by=a talk_ms=3050
          store agent a on_call -> available
        @9000 chan1 hung up NORMAL_CLEARING
          store call ended transferred NORMAL_CLEARING talk=Some(3050)
        @9020 id2 hung up NORMAL_CLEARING
    "#]]);
}
