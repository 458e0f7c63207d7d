//! Agents added, replaced and removed while the engine runs (the REST API's provisioning).

use super::*;
use crate::engine::model::AgentState;
use crate::engine::Provisioned;

fn remove(b: &mut Bench, at: i64, agent: &str) {
    let effects = b
        .engine
        .deprovision_agent(ts(at), &aid(agent))
        .expect("removable");
    b.record(at, &format!("{agent} removed"), effects);
}

fn support_agent(id: &str) -> AgentSettings {
    agent(id, &["support"], "")
}

#[test]
fn a_removed_agent_is_logged_out_and_leaves_no_trace_in_pools_counts_or_phones() {
    let mut b = Bench::new(&["1001", "1002"], 0);
    b.available(0, "1001");
    b.available(10, "1002");
    remove(&mut b, 20, "1001");
    assert!(!b.engine.agents.contains_key(&aid("1001")));
    let support = &b.engine.queues[&qid("support")];
    assert_eq!((support.members, support.logged_in), (1, 1));
    for pool in b.engine.pools.iter().flatten() {
        assert!(pool.idle.iter().all(|k| k.agent != aid("1001")));
    }
    assert!(!b.engine.phone_users.contains_key("1001"));
    assert_eq!(b.engine.phone_users.get("1002"), Some(&aid("1002")));
    // The next call goes to the agent who is left.
    b.park(100, 1, "4930123");
    b.check(expect![[r#"
        @0 1001 available
          store agent 1001 logged_out -> available
        @10 1002 available
          store agent 1002 logged_out -> available
        @20 1001 removed
          store agent 1001 available -> logged_out
        @100 chan1 parked
          store call entered support from 4930123
          store queue enter - priority=0
          store agent 1002 available -> offered
          store queue offer 1002 leg=id1
          originate id1 to 1002 via user/1002
          timer 25100ms ring timeout id1
          answer chan1
          hold chan1 local_stream://moh
    "#]]);
}

#[test]
fn an_agent_ringing_or_on_a_call_cannot_be_removed() {
    let mut b = Bench::new(&["1001"], 0);
    b.available(0, "1001");
    b.park(100, 1, "4930123");
    let refused = b.engine.deprovision_agent(ts(200), &aid("1001"));
    assert!(
        matches!(
            &refused,
            Err(CommandError::Conflict {
                status: "offered",
                ..
            })
        ),
        "{refused:?}"
    );
    b.answer_leg(300, 1);
    let refused = b.engine.deprovision_agent(ts(400), &aid("1001"));
    assert!(
        matches!(
            &refused,
            Err(CommandError::Conflict {
                status: "on_call",
                ..
            })
        ),
        "{refused:?}"
    );
    assert_eq!(b.status("1001"), AgentStatus::OnCall);
    assert_eq!(
        b.engine.deprovision_agent(ts(500), &aid("nobody")),
        Err(CommandError::UnknownAgent(aid("nobody")))
    );
}

#[test]
fn a_queue_losing_its_last_logged_in_agent_by_removal_sends_callers_on() {
    let mut b = Bench::with(
        vec![queue(
            "support",
            QueueRouting {
                on_no_agents: Some(Destination::Hangup {
                    cause: "USER_BUSY".into(),
                }),
                ..QueueRouting::default()
            },
        )],
        vec![support_agent("1001")],
    );
    b.set_state(0, "1001", RequestedState::Paused { reason: "1".into() });
    b.enqueue(100, 1, "support", 0, "");
    assert_eq!(
        b.engine.calls.len(),
        1,
        "a paused agent keeps callers waiting"
    );
    remove(&mut b, 200, "1001");
    assert!(b.trace.iter().any(|l| l.contains("hangup chan1 USER_BUSY")));
}

#[test]
fn replacing_an_agent_keeps_its_state_and_creating_one_says_so() {
    let mut b = Bench::new(&["1001"], 0);
    b.available(0, "1001");
    let (outcome, _) = b
        .engine
        .upsert_agent(ts(10), agent("1001", &["support"], "spanish:7"));
    assert_eq!(outcome, Provisioned::Replaced);
    assert_eq!(b.status("1001"), AgentStatus::Available);
    assert_eq!(b.engine.agents[&aid("1001")].settings.skills.len(), 1);
    let (outcome, effects) = b.engine.upsert_agent(ts(20), support_agent("1002"));
    assert_eq!(outcome, Provisioned::Created);
    assert!(effects.is_empty());
    assert_eq!(b.status("1002"), AgentStatus::LoggedOut);
    assert_eq!(b.engine.queues[&qid("support")].members, 2);
}

#[test]
fn a_removed_agents_pending_wrap_up_timer_does_not_end_a_new_agents_pause() {
    let mut b = Bench::new(&["1001"], 5_000);
    b.available(0, "1001");
    b.park(100, 1, "4930123");
    b.answer_leg(300, 1);
    b.hangup(1_000, b.leg(1), "NORMAL_CLEARING");
    assert_eq!(b.status("1001"), AgentStatus::WrapUp);
    remove(&mut b, 1_100, "1001");
    let stale = b
        .timers
        .iter()
        .find_map(|(_, t)| match t {
            Timer::WrapUpEnds { epoch, .. } => Some(*epoch),
            _ => None,
        })
        .expect("a wrap-up timer is pending");
    b.engine.upsert_agent(ts(1_200), support_agent("1001"));
    // Each pause is one state change: an epoch counted from zero again would reach the old
    // timer's.
    let mut at = 1_300;
    loop {
        let reason = format!("r{at}");
        b.set_state(at, "1001", RequestedState::Paused { reason });
        at += 10;
        if b.engine.agents[&aid("1001")].epoch >= stale {
            break;
        }
    }
    b.advance(10_000);
    assert!(matches!(
        b.engine.agents[&aid("1001")].state,
        AgentState::Paused { .. }
    ));
}
