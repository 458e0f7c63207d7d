//! REST call control: hang-ups, blind transfers of connected calls to a queue or an agent
//! (through `park` inline, `api-transfer-and-hold` part E), and moves, offers and removals of
//! waiting callers.

use std::time::Duration;

use expect_test::expect;

use super::*;
use crate::engine::redirect::{RedirectAction, RedirectError, TransferTarget};
use crate::engine::routing::Destination;

impl Bench {
    fn redirect(&mut self, at: i64, action: RedirectAction) -> Result<(), RedirectError> {
        let call = self.only_call();
        let label = format!("sup asks {}", action.name());
        let effects = self
            .engine
            .redirect(ts(at), call, action, "token:sup".into())?;
        self.record(at, &label, effects);
        Ok(())
    }

    /// The caller's CHANNEL_PARK after `uuid_transfer <C> park inline` (its dialplan queue
    /// variable unchanged).
    fn parked_again(&mut self, at: i64, channel: u32) {
        self.enqueue(at, channel, "support", 0, "");
    }
}

fn two_queues() -> Bench {
    let mut sales = queue("sales", QueueRouting::default());
    sales.wrap_up = Duration::from_secs(5);
    let mut support = queue("support", QueueRouting::default());
    support.wrap_up = Duration::from_secs(5);
    Bench::with(
        vec![support, sales],
        vec![
            agent("1001", &["support"], ""),
            agent("1002", &["sales"], ""),
            agent("1003", &["support"], ""),
        ],
    )
}

fn connected() -> Bench {
    let mut b = two_queues();
    b.available(0, "1001");
    b.enqueue(100, 1, "support", 0, "");
    b.answer(1_100, "1001");
    b
}

#[test]
fn a_connected_call_hung_up_over_rest_completes_once_by_the_token() {
    let mut b = connected();
    b.redirect(5_000, RedirectAction::Hangup).expect("accepted");
    b.hangup(5_020, chan(1), "NORMAL_CLEARING");
    let leg = b.leg_of("1001");
    b.hangup(5_040, leg, "NORMAL_CLEARING");
    b.check(expect![[r#"
        @0 1001 available
          store agent 1001 logged_out -> available
        @100 chan1 parked for support
          store call entered support from 493012341
          store queue enter - priority=0
          store agent 1001 available -> offered
          store queue offer 1001 leg=id1
          originate id1 to 1001 via user/1001
          timer 25100ms ring timeout id1
          answer chan1
          hold chan1 local_stream://support
        @1100 1001 answered
          break chan1
          bridge chan1 id1
          store call answered by 1001 after 1000ms
          store queue connect 1001 wait_ms=1000
          store agent 1001 offered -> on_call
        @5000 sup asks hangup
          kill chan1 NORMAL_CLEARING
        @5020 chan1 hung up NORMAL_CLEARING
          store queue complete 1001 by=token:sup talk_ms=3920
          store call ended completed NORMAL_CLEARING talk=Some(3920)
          store agent 1001 on_call -> wrap_up
          timer 10020ms wrap-up of 1001 ends
        @5040 id1 hung up NORMAL_CLEARING
    "#]]);
}

#[test]
fn a_waiting_call_hung_up_over_rest_leaves_as_overflowed() {
    let mut b = two_queues();
    b.enqueue(100, 1, "support", 0, "");
    b.redirect(5_000, RedirectAction::Hangup).expect("accepted");
    b.hangup(5_020, chan(1), "NORMAL_CLEARING");
    assert!(b.engine.calls.is_empty());
    b.check(expect![[r#"
        @100 chan1 parked for support
          store call entered support from 493012341
          store queue enter - priority=0
          answer chan1
          hold chan1 local_stream://support
        @5000 sup asks hangup
          store queue overflow - reason=hangup by=token:sup to=hangup:NORMAL_CLEARING
          break chan1
          hangup chan1 NORMAL_CLEARING
          store call ended overflowed NORMAL_CLEARING talk=None
        @5020 chan1 hung up NORMAL_CLEARING
    "#]]);
}

#[test]
fn a_blind_transfer_to_a_queue_parks_the_caller_and_requeues_it_with_its_first_entry_time() {
    let mut b = connected();
    b.redirect(
        11_100,
        RedirectAction::Transfer(TransferTarget::Queue {
            queue: qid("sales"),
            keep_place: true,
        }),
    )
    .expect("accepted");
    assert_eq!(
        b.status("1001"),
        AgentStatus::OnCall,
        "until its leg is gone"
    );
    let leg = b.leg_of("1001");
    b.hangup(11_120, leg, "NORMAL_CLEARING");
    assert_eq!(b.status("1001"), AgentStatus::WrapUp);
    b.parked_again(11_140, 1);
    b.available(12_000, "1002");
    b.answer(13_000, "1002");
    b.hangup(23_000, chan(1), "NORMAL_CLEARING");
    assert_eq!(b.engine.counters.offered, 1, "one call");
    b.check(expect![[r#"
        @0 1001 available
          store agent 1001 logged_out -> available
        @100 chan1 parked for support
          store call entered support from 493012341
          store queue enter - priority=0
          store agent 1001 available -> offered
          store queue offer 1001 leg=id1
          originate id1 to 1001 via user/1001
          timer 25100ms ring timeout id1
          answer chan1
          hold chan1 local_stream://support
        @1100 1001 answered
          break chan1
          bridge chan1 id1
          store call answered by 1001 after 1000ms
          store queue connect 1001 wait_ms=1000
          store agent 1001 offered -> on_call
        @11100 sup asks transfer
          requeue reason chan1 transfer
          park inline chan1
        @11120 id1 hung up NORMAL_CLEARING
          store queue transfer 1001 kind=blind from=1001 to=queue:sales by=token:sup talk_ms=10020
          store agent 1001 on_call -> wrap_up
          timer 16120ms wrap-up of 1001 ends
        @11140 chan1 parked for support
          store queue enter - priority=0 transferred since_ms=11040
          hold chan1 local_stream://sales
          store call placed sales priority=0 skills= hops=0 since=100ms
        @12000 1002 available
          store agent 1002 logged_out -> available
          store agent 1002 available -> offered
          store queue offer 1002 leg=id2
          originate id2 to 1002 via user/1002
          timer 37000ms ring timeout id2
        @13000 1002 answered
          break chan1
          bridge chan1 id2
          store call answered by 1002 after 12900ms
          store queue connect 1002 wait_ms=12900
          store agent 1002 offered -> on_call
        @23000 chan1 hung up NORMAL_CLEARING
          store queue complete 1002 by=caller talk_ms=10000
          store call ended completed NORMAL_CLEARING talk=Some(10000)
          store agent 1002 on_call -> wrap_up
          timer 28000ms wrap-up of 1002 ends
    "#]]);
}

#[test]
fn a_transfer_to_a_queue_that_resets_the_place_waits_from_the_transfer() {
    let mut b = connected();
    b.redirect(
        11_100,
        RedirectAction::Transfer(TransferTarget::Queue {
            queue: qid("sales"),
            keep_place: false,
        }),
    )
    .expect("accepted");
    let leg = b.leg_of("1001");
    b.hangup(11_120, leg, "NORMAL_CLEARING");
    b.parked_again(11_140, 1);
    let call = b.engine.calls.values().next().expect("requeued");
    assert_eq!(call.wait_key.entered_at, ts(11_120));
    assert_eq!(call.queue, qid("sales"));
}

#[test]
fn a_transfer_to_an_agent_rings_only_that_agent_and_falls_back_to_the_queue() {
    let mut b = connected();
    b.available(2_000, "1003");
    b.available(2_000, "1002");
    // 1002 is not in `support`, yet it is rung: a direct call.
    b.redirect(
        11_100,
        RedirectAction::Transfer(TransferTarget::Agent {
            agent: aid("1002"),
            timeout: Some(Duration::from_secs(10)),
            fallback: None,
        }),
    )
    .expect("accepted");
    let leg = b.leg_of("1001");
    b.hangup(11_120, leg, "NORMAL_CLEARING");
    b.parked_again(11_140, 1);
    assert_eq!(b.status("1002"), AgentStatus::Offered);
    assert_eq!(b.status("1003"), AgentStatus::Available, "rings only 1002");
    // Nobody answers: the ring times out and the call goes to its queue, where 1003 waits.
    let leg = b.leg_of("1002");
    b.timer(26_140, Timer::RingTimeout { leg });
    assert_eq!(b.status("1003"), AgentStatus::Offered);
    b.answer(27_000, "1003");
    b.hangup(37_000, chan(1), "NORMAL_CLEARING");
    b.check(expect![[r#"
        @0 1001 available
          store agent 1001 logged_out -> available
        @100 chan1 parked for support
          store call entered support from 493012341
          store queue enter - priority=0
          store agent 1001 available -> offered
          store queue offer 1001 leg=id1
          originate id1 to 1001 via user/1001
          timer 25100ms ring timeout id1
          answer chan1
          hold chan1 local_stream://support
        @1100 1001 answered
          break chan1
          bridge chan1 id1
          store call answered by 1001 after 1000ms
          store queue connect 1001 wait_ms=1000
          store agent 1001 offered -> on_call
        @2000 1003 available
          store agent 1003 logged_out -> available
        @2000 1002 available
          store agent 1002 logged_out -> available
        @11100 sup asks transfer
          requeue reason chan1 transfer
          park inline chan1
        @11120 id1 hung up NORMAL_CLEARING
          store queue transfer 1001 kind=blind from=1001 to=agent:1002 by=token:sup talk_ms=10020
          store agent 1001 on_call -> wrap_up
          timer 16120ms wrap-up of 1001 ends
        @11140 chan1 parked for support
          store queue enter - priority=0 transferred since_ms=11040
          store agent 1002 available -> offered
          store queue offer 1002 leg=id2
          originate id2 to 1002 via user/1002
          timer 26140ms ring timeout id2
          hold chan1 local_stream://support
          store call placed support priority=0 skills= hops=0 since=100ms
        @26140 timer fired
          kill id2 NO_ANSWER
          store queue ring_no_answer 1002 NO_ANSWER
          store agent 1002 offered -> available
          timer 36140ms back-off of 1002 ends
          store agent 1003 available -> offered
          store queue offer 1003 leg=id3
          originate id3 to 1003 via user/1003
          timer 51140ms ring timeout id3
        @27000 1003 answered
          break chan1
          bridge chan1 id3
          store call answered by 1003 after 26900ms
          store queue connect 1003 wait_ms=26900
          store agent 1003 offered -> on_call
        @37000 chan1 hung up NORMAL_CLEARING
          store queue complete 1003 by=caller talk_ms=10000
          store call ended completed NORMAL_CLEARING talk=Some(10000)
          store agent 1003 on_call -> wrap_up
          timer 42000ms wrap-up of 1003 ends
    "#]]);
}

#[test]
fn a_transfer_to_an_agent_who_answers_puts_that_agent_on_the_same_call() {
    let mut b = connected();
    b.available(2_000, "1002");
    b.redirect(
        11_100,
        RedirectAction::Transfer(TransferTarget::Agent {
            agent: aid("1002"),
            timeout: None,
            fallback: None,
        }),
    )
    .expect("accepted");
    let leg = b.leg_of("1001");
    b.hangup(11_120, leg, "NORMAL_CLEARING");
    b.parked_again(11_140, 1);
    let call = b.only_call();
    b.answer(12_000, "1002");
    assert_eq!(b.status("1002"), AgentStatus::OnCall);
    assert!(b.engine.is_agent_on_call(call, &aid("1002")));
    b.hangup(20_000, chan(1), "NORMAL_CLEARING");
    assert_eq!(b.status("1001"), AgentStatus::WrapUp);
    assert_eq!(b.status("1002"), AgentStatus::WrapUp);
}

#[test]
fn transfers_are_refused_when_they_cannot_be_carried_out() {
    let mut b = two_queues();
    b.available(0, "1001");
    b.enqueue(100, 1, "support", 0, "");
    // Ringing, not connected.
    assert!(matches!(
        b.redirect(
            200,
            RedirectAction::Transfer(TransferTarget::Queue {
                queue: qid("sales"),
                keep_place: true
            })
        ),
        Err(RedirectError::NotConnected(_))
    ));
    b.answer(1_100, "1001");
    let to_agent = |agent: &str| {
        RedirectAction::Transfer(TransferTarget::Agent {
            agent: aid(agent),
            timeout: None,
            fallback: None,
        })
    };
    assert!(matches!(
        b.redirect(2_000, to_agent("1002")),
        Err(RedirectError::AgentNotAvailable { .. })
    ));
    assert!(matches!(
        b.redirect(2_000, to_agent("1001")),
        Err(RedirectError::SameAgent(_))
    ));
    assert!(matches!(
        b.redirect(2_000, to_agent("nobody")),
        Err(RedirectError::UnknownAgent(_))
    ));
    assert!(matches!(
        b.redirect(
            2_000,
            RedirectAction::Transfer(TransferTarget::Queue {
                queue: qid("nowhere"),
                keep_place: true
            })
        ),
        Err(RedirectError::UnknownQueue(_))
    ));
    assert!(matches!(
        b.redirect(
            2_000,
            RedirectAction::Move {
                queue: qid("sales"),
                keep_place: true
            }
        ),
        Err(RedirectError::NotWaiting(_))
    ));
    b.redirect(
        3_000,
        RedirectAction::Transfer(TransferTarget::Queue {
            queue: qid("sales"),
            keep_place: true,
        }),
    )
    .expect("accepted");
    assert!(matches!(
        b.redirect(
            3_000,
            RedirectAction::Transfer(TransferTarget::Queue {
                queue: qid("sales"),
                keep_place: true
            })
        ),
        Err(RedirectError::AlreadyTransferring(_))
    ));
}

#[test]
fn a_transfer_to_an_extension_sends_the_caller_away_until_it_hangs_up() {
    let mut b = connected();
    b.redirect(
        11_100,
        RedirectAction::Transfer(TransferTarget::Extension {
            number: "9199".into(),
            context: "default".into(),
        }),
    )
    .expect("accepted");
    let leg = b.leg_of("1001");
    b.hangup(11_120, leg, "NORMAL_CLEARING");
    assert!(b.engine.calls.is_empty());
    b.hangup(40_000, chan(1), "NORMAL_CLEARING");
    b.check(expect![[r#"
        @0 1001 available
          store agent 1001 logged_out -> available
        @100 chan1 parked for support
          store call entered support from 493012341
          store queue enter - priority=0
          store agent 1001 available -> offered
          store queue offer 1001 leg=id1
          originate id1 to 1001 via user/1001
          timer 25100ms ring timeout id1
          answer chan1
          hold chan1 local_stream://support
        @1100 1001 answered
          break chan1
          bridge chan1 id1
          store call answered by 1001 after 1000ms
          store queue connect 1001 wait_ms=1000
          store agent 1001 offered -> on_call
        @11100 sup asks transfer
          transfer chan1 to 9199@default
        @11120 id1 hung up NORMAL_CLEARING
          store queue transfer 1001 kind=blind from=1001 to=extension:9199@default by=token:sup talk_ms=10020
          store agent 1001 on_call -> wrap_up
          timer 16120ms wrap-up of 1001 ends
        @40000 chan1 hung up NORMAL_CLEARING
          store call ended transferred NORMAL_CLEARING talk=Some(10020)
    "#]]);
}

#[test]
fn a_waiting_caller_moves_to_another_queue_keeping_or_resetting_its_place() {
    let mut b = two_queues();
    b.enqueue(100, 1, "support", 0, "");
    b.redirect(
        5_000,
        RedirectAction::Move {
            queue: qid("sales"),
            keep_place: true,
        },
    )
    .expect("accepted");
    let call = b.engine.calls.values().next().expect("waiting");
    assert_eq!(
        (call.queue.clone(), call.wait_key.entered_at),
        (qid("sales"), ts(100))
    );
    b.redirect(
        6_000,
        RedirectAction::Move {
            queue: qid("support"),
            keep_place: false,
        },
    )
    .expect("accepted");
    let call = b.engine.calls.values().next().expect("waiting");
    assert_eq!(
        (call.queue.clone(), call.wait_key.entered_at),
        (qid("support"), ts(6_000))
    );
    b.available(7_000, "1001");
    assert_eq!(b.status("1001"), AgentStatus::Offered);
    b.check(expect![[r#"
        @100 chan1 parked for support
          store call entered support from 493012341
          store queue enter - priority=0
          answer chan1
          hold chan1 local_stream://support
        @5000 sup asks move
          store queue overflow - reason=move by=token:sup place=keep to=queue:sales
          store queue enter - priority=0 from=support
          store call placed sales priority=0 skills= hops=1 since=100ms
          break chan1
          hold chan1 local_stream://sales
        @6000 sup asks move
          store queue overflow - reason=move by=token:sup place=reset to=queue:support
          store queue enter - priority=0 from=sales
          store call placed support priority=0 skills= hops=2 since=6000ms
          break chan1
          hold chan1 local_stream://support
        @7000 1001 available
          store agent 1001 logged_out -> available
          store agent 1001 available -> offered
          store queue offer 1001 leg=id1
          originate id1 to 1001 via user/1001
          timer 32000ms ring timeout id1
    "#]]);
}

#[test]
fn a_waiting_caller_offered_to_a_named_agent_rings_only_them_then_waits_on() {
    let mut b = two_queues();
    b.available(0, "1002");
    b.enqueue(100, 1, "support", 0, "");
    b.redirect(
        5_000,
        RedirectAction::Offer {
            agent: aid("1002"),
            timeout: Some(Duration::from_secs(8)),
        },
    )
    .expect("accepted");
    assert_eq!(b.status("1002"), AgentStatus::Offered);
    b.agent_hangs_up(6_000, "1002", "CALL_REJECTED");
    let call = b.engine.calls.values().next().expect("waiting");
    assert_eq!(call.state, crate::engine::model::CallState::Waiting);
    b.available(7_000, "1001");
    assert_eq!(b.status("1001"), AgentStatus::Offered);
    b.check(expect![[r#"
        @0 1002 available
          store agent 1002 logged_out -> available
        @100 chan1 parked for support
          store call entered support from 493012341
          store queue enter - priority=0
          answer chan1
          hold chan1 local_stream://support
        @5000 sup asks offer
          store agent 1002 available -> offered
          store queue offer 1002 leg=id1
          originate id1 to 1002 via user/1002
          timer 18000ms ring timeout id1
        @6000 id1 hung up CALL_REJECTED
          store queue ring_no_answer 1002 CALL_REJECTED
          store agent 1002 offered -> available
          timer 16000ms back-off of 1002 ends
        @7000 1001 available
          store agent 1001 logged_out -> available
          store agent 1001 available -> offered
          store queue offer 1001 leg=id2
          originate id2 to 1001 via user/1001
          timer 32000ms ring timeout id2
    "#]]);
}

#[test]
fn a_waiting_caller_removed_to_an_extension_leaves_the_queue() {
    let mut b = two_queues();
    b.enqueue(100, 1, "support", 0, "");
    assert!(matches!(
        b.redirect(
            5_000,
            RedirectAction::Remove {
                destination: Destination::Extension {
                    number: "-bad".into(),
                    context: "default".into()
                }
            }
        ),
        Err(RedirectError::BadDestination(_))
    ));
    b.redirect(
        5_000,
        RedirectAction::Remove {
            destination: "extension:9199@default".parse().expect("parsed"),
        },
    )
    .expect("accepted");
    assert!(b.engine.calls.is_empty());
    b.check(expect![[r#"
        @100 chan1 parked for support
          store call entered support from 493012341
          store queue enter - priority=0
          answer chan1
          hold chan1 local_stream://support
        @5000 sup asks remove
          store queue overflow - reason=removed by=token:sup to=extension:9199@default
          break chan1
          transfer chan1 to 9199@default
          store call ended overflowed TRANSFER talk=None
    "#]]);
}

const FLOW: &str = r#"
start = "menu"
entry_points = ["5000"]

[node.menu]
kind = "menu"
prompt = "ivr/menu.wav"
timeout = "5s"
retries = 0
on_invalid = "bye"
on_no_input = "bye"
[node.menu.options]
1 = "sales"

[node.sales]
kind = "enqueue"
queue = "sales"

[node.bye]
kind = "hangup"
cause = "NORMAL_CLEARING"
"#;

fn with_flow() -> Bench {
    let mut b = connected();
    let flow = crate::flow::parse_flow(FLOW, std::path::Path::new("main.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    b.engine
        .set_flows(crate::flow::FlowSet::new(vec![flow]).unwrap_or_else(|e| panic!("{e}")));
    b
}

fn to_flow(entry: &str) -> RedirectAction {
    RedirectAction::Transfer(TransferTarget::Flow {
        entry: entry.into(),
    })
}

#[test]
fn a_transfer_to_a_flow_runs_it_under_the_same_call_id_into_a_queue() {
    let mut b = with_flow();
    assert!(matches!(
        b.redirect(11_000, to_flow("9999")),
        Err(RedirectError::BadDestination(_))
    ));
    let call = b.only_call();
    b.redirect(11_100, to_flow("5000")).expect("accepted");
    let leg = b.leg_of("1001");
    b.hangup(11_120, leg, "NORMAL_CLEARING");
    b.parked_again(11_140, 1);
    b.press(12_000, 1, "1");
    b.available(13_000, "1002");
    b.answer(14_000, "1002");
    assert!(b.engine.is_agent_on_call(call, &aid("1002")));
    b.hangup(24_000, chan(1), "NORMAL_CLEARING");
    b.check(expect![[r#"
        @0 1001 available
          store agent 1001 logged_out -> available
        @100 chan1 parked for support
          store call entered support from 493012341
          store queue enter - priority=0
          store agent 1001 available -> offered
          store queue offer 1001 leg=id1
          originate id1 to 1001 via user/1001
          timer 25100ms ring timeout id1
          answer chan1
          hold chan1 local_stream://support
        @1100 1001 answered
          break chan1
          bridge chan1 id1
          store call answered by 1001 after 1000ms
          store queue connect 1001 wait_ms=1000
          store agent 1001 offered -> on_call
        @11100 sup asks transfer
          requeue reason chan1 transfer
          park inline chan1
        @11120 id1 hung up NORMAL_CLEARING
          store queue transfer 1001 kind=blind from=1001 to=flow:5000 by=token:sup talk_ms=10020
          store agent 1001 on_call -> wrap_up
          timer 16120ms wrap-up of 1001 ends
        @11140 chan1 parked for support
          store flow entered main via 5000 from 493012341
          play chan1 ivr/menu.wav
          store flow waits at menu []
        @12000 chan1 pressed 1
          break chan1
          store flow step menu (menu) keys="1" -> 1
          store flow step sales (enqueue) keys="" -> enqueued
          store flow ended enqueued []
          store call entered sales from 493012341
          store queue enter - priority=0
          hold chan1 local_stream://sales
        @13000 1002 available
          store agent 1002 logged_out -> available
          store agent 1002 available -> offered
          store queue offer 1002 leg=id2
          originate id2 to 1002 via user/1002
          timer 38000ms ring timeout id2
        @14000 1002 answered
          break chan1
          bridge chan1 id2
          store call answered by 1002 after 2000ms
          store queue connect 1002 wait_ms=2000
          store agent 1002 offered -> on_call
        @24000 chan1 hung up NORMAL_CLEARING
          store queue complete 1002 by=caller talk_ms=10000
          store call ended completed NORMAL_CLEARING talk=Some(10000)
          store agent 1002 on_call -> wrap_up
          timer 29000ms wrap-up of 1002 ends
    "#]]);
}

#[test]
fn a_caller_transferred_to_a_flow_who_hangs_up_there_ends_its_call_once_as_transferred() {
    let mut b = with_flow();
    b.redirect(11_100, to_flow("5000")).expect("accepted");
    let leg = b.leg_of("1001");
    b.hangup(11_120, leg, "NORMAL_CLEARING");
    b.parked_again(11_140, 1);
    b.hangup(12_000, chan(1), "NORMAL_CLEARING");
    b.check(expect![[r#"
        @0 1001 available
          store agent 1001 logged_out -> available
        @100 chan1 parked for support
          store call entered support from 493012341
          store queue enter - priority=0
          store agent 1001 available -> offered
          store queue offer 1001 leg=id1
          originate id1 to 1001 via user/1001
          timer 25100ms ring timeout id1
          answer chan1
          hold chan1 local_stream://support
        @1100 1001 answered
          break chan1
          bridge chan1 id1
          store call answered by 1001 after 1000ms
          store queue connect 1001 wait_ms=1000
          store agent 1001 offered -> on_call
        @11100 sup asks transfer
          requeue reason chan1 transfer
          park inline chan1
        @11120 id1 hung up NORMAL_CLEARING
          store queue transfer 1001 kind=blind from=1001 to=flow:5000 by=token:sup talk_ms=10020
          store agent 1001 on_call -> wrap_up
          timer 16120ms wrap-up of 1001 ends
        @11140 chan1 parked for support
          store flow entered main via 5000 from 493012341
          play chan1 ivr/menu.wav
          store flow waits at menu []
        @12000 chan1 hung up NORMAL_CLEARING
          store flow step menu (menu) keys="" -> caller hung up
          store flow ended abandoned []
          store call ended transferred NORMAL_CLEARING talk=Some(10020)
    "#]]);
}

#[test]
fn a_caller_a_flow_hangs_up_after_a_transfer_ends_its_call_at_its_hangup() {
    let mut b = with_flow();
    b.redirect(11_100, to_flow("5000")).expect("accepted");
    let leg = b.leg_of("1001");
    b.hangup(11_120, leg, "NORMAL_CLEARING");
    b.parked_again(11_140, 1);
    b.press(12_000, 1, "7");
    b.hangup(12_020, chan(1), "NORMAL_CLEARING");
    b.check(expect![[r#"
        @0 1001 available
          store agent 1001 logged_out -> available
        @100 chan1 parked for support
          store call entered support from 493012341
          store queue enter - priority=0
          store agent 1001 available -> offered
          store queue offer 1001 leg=id1
          originate id1 to 1001 via user/1001
          timer 25100ms ring timeout id1
          answer chan1
          hold chan1 local_stream://support
        @1100 1001 answered
          break chan1
          bridge chan1 id1
          store call answered by 1001 after 1000ms
          store queue connect 1001 wait_ms=1000
          store agent 1001 offered -> on_call
        @11100 sup asks transfer
          requeue reason chan1 transfer
          park inline chan1
        @11120 id1 hung up NORMAL_CLEARING
          store queue transfer 1001 kind=blind from=1001 to=flow:5000 by=token:sup talk_ms=10020
          store agent 1001 on_call -> wrap_up
          timer 16120ms wrap-up of 1001 ends
        @11140 chan1 parked for support
          store flow entered main via 5000 from 493012341
          play chan1 ivr/menu.wav
          store flow waits at menu []
        @12000 chan1 pressed 7
          break chan1
          store flow step menu (menu) keys="7" -> invalid
          store flow step bye (hangup) keys="" -> hung up
          hangup chan1 NORMAL_CLEARING
          store flow ended hung_up []
        @12020 chan1 hung up NORMAL_CLEARING
          store call ended transferred NORMAL_CLEARING talk=Some(10020)
    "#]]);
}

#[test]
fn a_held_call_transferred_ends_its_hold_with_the_agent_leg() {
    let mut b = connected();
    let call = b.only_call();
    let leg = b.leg_of("1001");
    let effects = b
        .engine
        .request_hold(call, true, crate::engine::HoldBy::Token("sup".into()))
        .expect("held");
    b.record(5_000, "sup asks hold", effects);
    let effects = b.engine.handle(
        ts(5_020),
        Input::LegHold {
            switch: sw(),
            channel: leg.clone(),
            held: true,
        },
    );
    b.record(5_020, "agent leg held", effects);
    b.redirect(
        11_100,
        RedirectAction::Transfer(TransferTarget::Queue {
            queue: qid("sales"),
            keep_place: true,
        }),
    )
    .expect("accepted");
    b.hangup(11_120, leg, "NORMAL_CLEARING");
    b.check(expect![[r#"
        @0 1001 available
          store agent 1001 logged_out -> available
        @100 chan1 parked for support
          store call entered support from 493012341
          store queue enter - priority=0
          store agent 1001 available -> offered
          store queue offer 1001 leg=id1
          originate id1 to 1001 via user/1001
          timer 25100ms ring timeout id1
          answer chan1
          hold chan1 local_stream://support
        @1100 1001 answered
          break chan1
          bridge chan1 id1
          store call answered by 1001 after 1000ms
          store queue connect 1001 wait_ms=1000
          store agent 1001 offered -> on_call
        @5000 sup asks hold
          hold music of id1 local_stream://support
          uuid_hold id1
        @5020 agent leg held
          store call held by token:sup
        @11100 sup asks transfer
          requeue reason chan1 transfer
          park inline chan1
        @11120 id1 hung up NORMAL_CLEARING
          store call resumed by token:sup held=6100ms total=6100ms holds=1
          store queue transfer 1001 kind=blind from=1001 to=queue:sales by=token:sup talk_ms=10020
          store agent 1001 on_call -> wrap_up
          timer 16120ms wrap-up of 1001 ends
    "#]]);
}
