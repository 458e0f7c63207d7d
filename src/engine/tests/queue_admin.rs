//! Queues changed and removed while the engine runs (REST `PUT`/`DELETE /v1/queues/{id}`).

use super::*;
use crate::engine::routing::{CallerSkills, EscalationStep};
use crate::engine::QueueRemovalError;

fn spanish_only() -> QueueRouting {
    QueueRouting {
        steps: vec![EscalationStep {
            after: Duration::ZERO,
            require: parse_skill_list("spanish:7").expect("skills"),
            prefer: Vec::new(),
            max_tier: None,
            caller_skills: CallerSkills::default(),
        }],
        ..QueueRouting::default()
    }
}

#[test]
fn a_changed_queue_routes_its_waiting_callers_by_the_new_settings_at_once() {
    let mut b = Bench::with(
        vec![queue("support", spanish_only())],
        vec![agent("1001", &["support"], "")],
    );
    b.available(0, "1001");
    b.enqueue(100, 1, "support", 0, "");
    b.enqueue(110, 2, "support", 0, "");
    assert_eq!(
        b.status("1001"),
        AgentStatus::Available,
        "no one speaks spanish"
    );
    // The requirement is dropped (and the strategy changed) while both callers wait.
    let effects = b.engine.upsert_queue(
        ts(200),
        queue(
            "support",
            QueueRouting {
                strategy: crate::engine::Strategy::RoundRobin,
                ..QueueRouting::default()
            },
        ),
    );
    b.record(200, "support changed", effects);
    assert_eq!(b.engine.calls.len(), 2, "nothing is lost");
    assert_eq!(b.status("1001"), AgentStatus::Offered);
    b.check(expect![[r#"
        @0 1001 available
          store agent 1001 logged_out -> available
        @100 chan1 parked for support
          store call entered support from 493012341
          store queue enter - priority=0
          answer chan1
          hold chan1 local_stream://support
        @110 chan2 parked for support
          store call entered support from 493012342
          store queue enter - priority=0
          answer chan2
          hold chan2 local_stream://support
        @200 support changed
          store agent 1001 available -> offered
          store queue offer 1001 leg=id1
          originate id1 to 1001 via user/1001
          timer 25200ms ring timeout id1
    "#]]);
}

#[test]
fn a_queue_is_removed_only_when_no_call_member_or_overflow_holds_it() {
    let mut b = Bench::with(
        vec![
            queue("support", QueueRouting::default()),
            queue("storm", QueueRouting::default()),
        ],
        vec![agent("1001", &["support", "storm"], "")],
    );
    b.enqueue(100, 1, "storm", 0, "");
    let calls = b.engine.calls.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        b.engine.remove_queue(&qid("storm")),
        Err(QueueRemovalError::HasCalls {
            queue: qid("storm"),
            calls,
        })
    );
    b.hangup(200, chan(1), "NORMAL_CLEARING");
    assert_eq!(
        b.engine.remove_queue(&qid("storm")),
        Err(QueueRemovalError::HasMembers {
            queue: qid("storm"),
            agents: vec![aid("1001")],
        })
    );
    let (_, effects) = b
        .engine
        .upsert_agent(ts(300), agent("1001", &["support"], ""));
    b.record(300, "1001 leaves storm", effects);
    b.engine.upsert_queue(
        ts(400),
        queue(
            "support",
            QueueRouting {
                on_no_agents: Some(Destination::Queue {
                    queue: qid("storm"),
                }),
                ..QueueRouting::default()
            },
        ),
    );
    assert_eq!(
        b.engine.remove_queue(&qid("storm")),
        Err(QueueRemovalError::OverflowTarget {
            queue: qid("storm"),
            from: qid("support"),
        })
    );
    b.engine
        .upsert_queue(ts(500), queue("support", QueueRouting::default()));
    let before = b.engine.pools_in_use();
    assert_eq!(b.engine.remove_queue(&qid("storm")), Ok(()));
    assert!(!b.engine.has_queue(&qid("storm")));
    assert!(b.engine.pools_in_use() < before, "its pools are freed");
    assert!(b
        .engine
        .pools
        .iter()
        .flatten()
        .all(|p| p.queue != qid("storm")));
    assert!(b.engine.pool_index.keys().all(|(q, _)| q != &qid("storm")));
    assert_eq!(
        b.engine.remove_queue(&qid("storm")),
        Err(QueueRemovalError::Unknown(qid("storm")))
    );
    // Created again, it starts empty and routes.
    b.engine
        .upsert_queue(ts(600), queue("storm", QueueRouting::default()));
    let (_, effects) = b
        .engine
        .upsert_agent(ts(610), agent("1001", &["support", "storm"], ""));
    b.record(610, "1001 back in storm", effects);
    b.available(620, "1001");
    b.enqueue(700, 2, "storm", 0, "");
    assert_eq!(b.status("1001"), AgentStatus::Offered);
}
