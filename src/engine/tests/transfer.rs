//! Transfers from desk phones (Batch 4 captures): the agent's phone sends a REFER, the switch
//! hangs up the agent leg with `transfer_to` and moves the caller itself.

use expect_test::expect;

use super::*;
use crate::engine::io::{LegTransfer, TransferKind};

impl Bench {
    /// The agent's phone sent a REFER: its leg hangs up with `transfer_to`.
    fn phone_transfers(
        &mut self,
        at: i64,
        agent: &str,
        kind: TransferKind,
        to: &str,
        partner: u32,
    ) {
        let leg = self.leg_of(agent);
        let label = format!(
            "{} transferred {} to {to}",
            self.name(leg.as_str()),
            kind.as_str()
        );
        let effects = self.engine.handle(
            ts(at),
            Input::LegTransferred(LegTransfer {
                switch: sw(),
                leg,
                kind,
                partner: chan(partner),
                destination: to.into(),
                cause: "NORMAL_CLEARING".into(),
            }),
        );
        self.record(at, &label, effects);
    }
}

fn two_queues() -> Bench {
    let mut sales = queue("sales", QueueRouting::default());
    sales.wrap_up = std::time::Duration::from_secs(5);
    let mut support = queue("support", QueueRouting::default());
    support.wrap_up = std::time::Duration::from_secs(5);
    Bench::with(
        vec![support, sales],
        vec![
            agent("1001", &["support"], ""),
            agent("1002", &["sales"], ""),
        ],
    )
}

#[test]
fn a_blind_transfer_keeps_one_call_that_ends_as_transferred_when_the_caller_hangs_up() {
    let mut b = two_queues();
    b.available(0, "1001");
    b.enqueue(100, 1, "support", 0, "");
    b.answer(1_100, "1001");
    b.phone_transfers(11_100, "1001", TransferKind::Blind, "9199", 1);
    assert_eq!(b.status("1001"), AgentStatus::WrapUp);
    assert!(
        b.engine.calls.is_empty(),
        "the caller is not waiting anywhere"
    );
    let shown = b.engine.snapshot(ts(12_000));
    assert_eq!(shown.calls.len(), 1, "the transferred call is still shown");
    assert_eq!(shown.calls[0].state, "transferred");
    assert_eq!(shown.calls[0].agent, None);
    b.hangup(41_100, chan(1), "NORMAL_CLEARING");
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
        @11100 id1 transferred blind to 9199
          store queue transfer 1001 kind=blind from=1001 to=9199 by=1001 talk_ms=10000
          store agent 1001 on_call -> wrap_up
          timer 16100ms wrap-up of 1001 ends
        @41100 chan1 hung up NORMAL_CLEARING
          store call ended transferred NORMAL_CLEARING talk=Some(10000)
    "#]]);
}

#[test]
fn a_transfer_into_a_queue_entry_point_is_the_same_caller_with_its_first_entry_time() {
    let mut b = two_queues();
    b.available(0, "1001");
    b.available(0, "1002");
    b.set_state(
        10,
        "1002",
        RequestedState::Paused {
            reason: "lunch".into(),
        },
    );
    b.enqueue(100, 1, "support", 0, "");
    b.answer(1_100, "1001");
    b.phone_transfers(11_100, "1001", TransferKind::Blind, "5010", 1);
    // The switch parks the same caller again, at the queue entry point 5010 (`sales`).
    b.enqueue(11_150, 1, "sales", 0, "");
    b.set_state(12_000, "1002", RequestedState::Available);
    b.answer(13_000, "1002");
    b.hangup(23_000, chan(1), "NORMAL_CLEARING");
    assert_eq!(b.engine.counters.offered, 1, "one call");
    b.check(expect![[r#"
        @0 1001 available
          store agent 1001 logged_out -> available
        @0 1002 available
          store agent 1002 logged_out -> available
        @10 1002 requests Paused { reason: "lunch" }
          store agent 1002 available -> paused (lunch)
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
        @11100 id1 transferred blind to 5010
          store queue transfer 1001 kind=blind from=1001 to=5010 by=1001 talk_ms=10000
          store agent 1001 on_call -> wrap_up
          timer 16100ms wrap-up of 1001 ends
        @11150 chan1 parked for sales
          store queue enter - priority=0 transferred since_ms=11050
          hold chan1 local_stream://sales
          store call placed sales priority=0 skills= hops=0 since=100ms
        @12000 1002 requests Available
          store agent 1002 paused -> available
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
fn an_attended_transfer_ends_the_agents_part_and_the_call_with_the_caller() {
    let mut b = two_queues();
    b.available(0, "1001");
    b.enqueue(100, 1, "support", 0, "");
    b.answer(1_100, "1001");
    b.phone_transfers(21_100, "1001", TransferKind::Attended, "", 9);
    b.hangup(31_100, chan(1), "NORMAL_CLEARING");
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
        @21100 id1 transferred attended to 
          store queue transfer 1001 kind=attended from=1001 to=leg:00000000-0000-4000-8000-000000000009 by=1001 talk_ms=20000
          store agent 1001 on_call -> wrap_up
          timer 26100ms wrap-up of 1001 ends
        @31100 chan1 hung up NORMAL_CLEARING
          store call ended transferred NORMAL_CLEARING talk=Some(20000)
    "#]]);
}

#[test]
fn a_caller_transferred_out_of_a_queue_with_a_survey_goes_to_the_target_not_the_survey() {
    let mut b = super::ivr::ivr(&[("main", super::ivr::SURVEYED), ("poll", super::ivr::POLL)]);
    b.available(0, "1001");
    b.flow_call(100, 1, "5000");
    b.answer(1_000, "1001");
    b.phone_transfers(20_000, "1001", TransferKind::Blind, "5010", 1);
    assert!(
        b.engine.pending_surveys.is_empty(),
        "no survey after a transfer"
    );
    // The caller is parked again at the transfer target, a queue entry point: it queues.
    b.enqueue(20_050, 1, "support", 0, "");
    assert!(!b.in_flow(1), "the caller is not in the survey");
    assert_eq!(b.engine.calls.len(), 1, "the caller waits in the queue");
    b.check(expect![[r#"
        @0 1001 available
          store agent 1001 logged_out -> available
        @100 chan1 parked for flow 5000
          answer chan1
          store flow entered main via 5000 from +4930 123
          store flow step queue (enqueue) keys="" -> enqueued
          store flow ended enqueued []
          store call entered support from +4930 123
          store queue enter - priority=0
          store agent 1001 available -> offered
          store queue offer 1001 leg=id1
          originate id1 to 1001 via user/1001
          timer 25100ms ring timeout id1
          hold chan1 local_stream://moh
        @1000 1001 answered
          break chan1
          park chan1 after bridge
          bridge chan1 id1
          store call answered by 1001 after 900ms
          store queue connect 1001 wait_ms=900
          store agent 1001 offered -> on_call
        @20000 id1 transferred blind to 5010
          store queue transfer 1001 kind=blind from=1001 to=5010 by=1001 talk_ms=19000
          store agent 1001 on_call -> available
        @20050 chan1 parked for support
          store queue enter - priority=0 transferred since_ms=19950
          store agent 1001 available -> offered
          store queue offer 1001 leg=id2
          originate id2 to 1001 via user/1001
          timer 45050ms ring timeout id2
          hold chan1 local_stream://moh
          store call placed support priority=0 skills= hops=0 since=100ms
    "#]]);
}

#[test]
fn an_agent_of_ours_who_receives_a_transferred_caller_is_on_call_for_the_same_call() {
    let mut b = two_queues();
    b.available(0, "1001");
    b.available(0, "1002");
    b.enqueue(100, 1, "support", 0, "");
    b.answer(1_100, "1001");
    b.phone_transfers(11_100, "1001", TransferKind::Blind, "1002", 1);
    // The stock dialplan bridges the caller to user/1002 (leg chan20, Other-Leg = chan1).
    let effects = b.engine.handle(
        ts(13_100),
        Input::BridgedLegAnswered {
            switch: sw(),
            channel: chan(20),
            partner: chan(1),
            users: vec!["1002".into(), "2102".into()],
        },
    );
    b.record(13_100, "chan20 (1002, bridged to chan1) answered", effects);
    assert_eq!(b.status("1002"), AgentStatus::OnCall);
    b.hangup(33_100, chan(20), "NORMAL_CLEARING");
    b.hangup(33_110, chan(1), "NORMAL_CLEARING");
    b.check(expect![[r#"
        @0 1001 available
          store agent 1001 logged_out -> available
        @0 1002 available
          store agent 1002 logged_out -> available
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
        @11100 id1 transferred blind to 1002
          store queue transfer 1001 kind=blind from=1001 to=1002 by=1001 talk_ms=10000
          store agent 1001 on_call -> wrap_up
          timer 16100ms wrap-up of 1001 ends
        @13100 chan20 (1002, bridged to chan1) answered
          store call answered by 1002 after 1000ms
          store queue connect 1002 transferred leg=00000000-0000-4000-8000-000000000020
          store agent 1002 available -> on_call
        @33100 chan20 hung up NORMAL_CLEARING
          store queue complete 1002 by=agent talk_ms=20000
          store call ended completed NORMAL_CLEARING talk=Some(20000)
          store agent 1002 on_call -> wrap_up
          timer 38100ms wrap-up of 1002 ends
        @33110 chan1 hung up NORMAL_CLEARING
    "#]]);
}

#[test]
fn a_transferred_caller_answered_on_a_phone_that_is_no_agents_stays_transferred() {
    let mut b = two_queues();
    b.available(0, "1001");
    b.enqueue(100, 1, "support", 0, "");
    b.answer(1_100, "1001");
    b.phone_transfers(11_100, "1001", TransferKind::Blind, "1009", 1);
    let effects = b.engine.handle(
        ts(13_100),
        Input::BridgedLegAnswered {
            switch: sw(),
            channel: chan(20),
            partner: chan(1),
            users: vec!["1009".into()],
        },
    );
    assert!(effects.is_empty());
    b.hangup(33_100, chan(1), "NORMAL_CLEARING");
    assert!(b.engine.calls.is_empty());
    assert!(!b.engine.transfers.holds(&chan(1)));
}

#[test]
fn after_an_attended_transfer_the_agent_who_was_consulted_is_on_call_for_the_same_call() {
    let mut b = two_queues();
    b.available(0, "1001");
    b.available(0, "1002");
    b.enqueue(100, 1, "support", 0, "");
    b.answer(1_100, "1001");
    // The phone of 1001 calls 1002 to consult (B = chan8, 1002's leg D = chan9): calls the
    // controller did not route.
    for (at, channel, users) in [
        (5_000, 8, vec!["1001".to_owned(), "1002".to_owned()]),
        (5_000, 9, vec!["1002".to_owned()]),
    ] {
        let effects = b.engine.handle(
            ts(at),
            Input::ChannelInUse {
                switch: sw(),
                channel: chan(channel),
                users,
            },
        );
        b.record(at, &format!("chan{channel} answered elsewhere"), effects);
    }
    let shown = b.engine.snapshot(ts(6_000));
    let busy = |id: &str| {
        shown
            .agents
            .iter()
            .find(|a| a.id == aid(id))
            .is_some_and(|a| a.busy_elsewhere)
    };
    assert!(
        !busy("1001"),
        "consulting is part of the call, not a call elsewhere"
    );
    assert!(
        busy("1002"),
        "the consulted phone is on a call we did not route"
    );
    // REFER with Replaces: B is replaced, A hangs up with transfer_to att:<D>.
    b.hangup(21_000, chan(8), "NORMAL_CLEARING");
    b.phone_transfers(21_010, "1001", TransferKind::Attended, "", 9);
    assert_eq!(b.status("1002"), AgentStatus::OnCall);
    b.hangup(41_000, chan(1), "NORMAL_CLEARING");
    b.check(expect![[r#"
        @0 1001 available
          store agent 1001 logged_out -> available
        @0 1002 available
          store agent 1002 logged_out -> available
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
        @5000 chan8 answered elsewhere
          store queue consult 1001 leg=chan8 users=1001,1002
        @5000 chan9 answered elsewhere
        @21000 chan8 hung up NORMAL_CLEARING
        @21010 id1 transferred attended to 
          store queue transfer 1001 kind=attended from=1001 to=leg:00000000-0000-4000-8000-000000000009 by=1001 talk_ms=19910
          store agent 1001 on_call -> wrap_up
          timer 26010ms wrap-up of 1001 ends
          store call answered by 1002 after 1000ms
          store queue connect 1002 transferred leg=00000000-0000-4000-8000-000000000009
          store agent 1002 available -> on_call
        @41000 chan1 hung up NORMAL_CLEARING
          store queue complete 1002 by=caller talk_ms=19990
          store call ended completed NORMAL_CLEARING talk=Some(19990)
          store agent 1002 on_call -> wrap_up
          timer 46000ms wrap-up of 1002 ends
    "#]]);
}

#[test]
fn a_transferred_caller_gone_while_the_controller_was_away_ends_at_the_resync() {
    let mut b = two_queues();
    b.available(0, "1001");
    b.enqueue(100, 1, "support", 0, "");
    b.answer(1_100, "1001");
    b.phone_transfers(11_100, "1001", TransferKind::Blind, "9199", 1);
    b.engine
        .handle(ts(20_000), Input::ResyncStarted { switch: sw() });
    let effects = b.engine.handle(
        ts(20_100),
        Input::SwitchResynced {
            switch: sw(),
            channels: Vec::new(),
        },
    );
    b.record(20_100, "resynced: no channels", effects);
    assert!(!b.engine.transfers.holds(&chan(1)));
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
        @11100 id1 transferred blind to 9199
          store queue transfer 1001 kind=blind from=1001 to=9199 by=1001 talk_ms=10000
          store agent 1001 on_call -> wrap_up
          timer 16100ms wrap-up of 1001 ends
        @20100 resynced: no channels
          store call ended transferred CHANNEL_LOST talk=Some(10000)
    "#]]);
}
