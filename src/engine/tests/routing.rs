//! Strategies, skills, escalation, priorities, eligibility and the caller's way out of a queue.

use super::*;

fn routing(strategy: Strategy) -> QueueRouting {
    QueueRouting {
        strategy,
        ..QueueRouting::default()
    }
}

/// Three agents in `support` at positions 1, 2, 3, made available in the order c, b, a.
fn three_agents(strategy: Strategy) -> Bench {
    let mut b = Bench::with(
        vec![queue("support", routing(strategy))],
        vec![
            agent("a", &["support/1/1/1"], ""),
            agent("b", &["support/1/2/1"], ""),
            agent("c", &["support/1/3/8"], ""),
        ],
    );
    for (at, id) in [(0, "c"), (1, "b"), (2, "a")] {
        b.set_state(at, id, RequestedState::Available);
    }
    b
}

/// A call arrives, the agent rung answers, talks `talk_ms` and hangs up (no wrap-up).
fn serve(b: &mut Bench, at: i64, channel: u32, talk_ms: i64) -> String {
    b.enqueue(at, channel, "support", 0, "");
    let who = b.rung.last().expect("someone rang").clone();
    b.answer(at + 10, &who);
    b.agent_hangs_up(at + 10 + talk_ms, &who, "NORMAL_CLEARING");
    who
}

fn serve_many(strategy: Strategy, calls: u32) -> Vec<String> {
    let mut b = three_agents(strategy);
    (0..calls)
        .map(|i| serve(&mut b, 1_000 * i64::from(i + 1), i + 1, 100))
        .collect()
}

#[test]
fn longest_idle_agent_rotates_through_agents_by_idle_time() {
    assert_eq!(
        serve_many(Strategy::LongestIdleAgent, 4),
        ["c", "b", "a", "c"]
    );
}

#[test]
fn top_down_always_starts_from_the_first_position() {
    assert_eq!(serve_many(Strategy::TopDown, 3), ["a", "a", "a"]);
}

#[test]
fn round_robin_continues_after_the_agent_offered_last() {
    assert_eq!(
        serve_many(Strategy::RoundRobin, 5),
        ["a", "b", "c", "a", "b"]
    );
}

#[test]
fn sequentially_by_agent_order_takes_tiers_before_positions() {
    let mut b = Bench::with(
        vec![queue(
            "support",
            routing(Strategy::SequentiallyByAgentOrder),
        )],
        vec![
            agent("a", &["support/2/1"], ""),
            agent("b", &["support/1/3"], ""),
            agent("c", &["support/1/2"], ""),
        ],
    );
    for id in ["a", "b", "c"] {
        b.set_state(0, id, RequestedState::Available);
    }
    assert_eq!(serve(&mut b, 1_000, 1, 100), "c");
    b.enqueue(2_000, 2, "support", 0, "");
    b.enqueue(2_001, 3, "support", 0, "");
    b.enqueue(2_002, 4, "support", 0, "");
    assert_eq!(b.rung[1..], ["c", "b", "a"]);
}

#[test]
fn fewest_calls_prefers_the_agent_who_answered_least() {
    let mut b = three_agents(Strategy::AgentWithFewestCalls);
    assert_eq!(serve(&mut b, 1_000, 1, 100), "c");
    assert_eq!(serve(&mut b, 2_000, 2, 100), "b");
    assert_eq!(serve(&mut b, 3_000, 3, 100), "a");
    // All have one call; c has been idle longest.
    assert_eq!(serve(&mut b, 4_000, 4, 100), "c");
}

#[test]
fn least_talk_time_prefers_the_agent_who_talked_least() {
    let mut b = three_agents(Strategy::AgentWithLeastTalkTime);
    assert_eq!(serve(&mut b, 1_000, 1, 9_000), "c");
    assert_eq!(serve(&mut b, 11_000, 2, 500), "b");
    assert_eq!(serve(&mut b, 12_000, 3, 3_000), "a");
    assert_eq!(serve(&mut b, 16_000, 4, 100), "b");
    assert_eq!(serve(&mut b, 17_000, 5, 100), "b");
}

#[test]
fn random_gives_every_agent_a_share() {
    let picks = serve_many(Strategy::Random, 300);
    for id in ["a", "b", "c"] {
        let n = picks.iter().filter(|p| *p == id).count();
        assert!((60..=140).contains(&n), "{id} got {n} of 300");
    }
}

#[test]
fn weighted_random_follows_the_membership_weights() {
    // Weights 1, 1 and 8.
    let picks = serve_many(Strategy::WeightedRandom, 400);
    let c = picks.iter().filter(|p| *p == "c").count();
    assert!((260..=370).contains(&c), "c (weight 8) got {c} of 400");
    assert!(picks.iter().any(|p| p == "a") && picks.iter().any(|p| p == "b"));
}

#[test]
fn best_skill_match_picks_the_highest_proficiency_then_the_longest_idle() {
    let mut b = Bench::with(
        vec![queue("support", routing(Strategy::BestSkillMatch))],
        vec![
            agent("a", &["support"], "spanish:3"),
            agent("b", &["support"], "spanish:9"),
            agent("c", &["support"], "spanish:5"),
            agent("d", &["support"], "spanish:9"),
        ],
    );
    for (at, id) in [(0, "d"), (1, "a"), (2, "b"), (3, "c")] {
        b.set_state(at, id, RequestedState::Available);
    }
    for channel in 1..=4 {
        b.enqueue(1_000, channel, "support", 0, "spanish");
    }
    assert_eq!(b.rung, ["d", "b", "c", "a"]);
}

#[test]
fn preferred_skills_rank_agents_who_hold_them_first() {
    let mut b = Bench::with(
        vec![queue(
            "support",
            QueueRouting {
                steps: vec![EscalationStep {
                    prefer: parse_skill_list("billing:5").expect("skills"),
                    ..EscalationStep::default()
                }],
                ..QueueRouting::default()
            },
        )],
        vec![
            agent("a", &["support"], ""),
            agent("b", &["support"], "billing:7"),
        ],
    );
    b.set_state(0, "a", RequestedState::Available);
    b.set_state(1, "b", RequestedState::Available);
    b.enqueue(1_000, 1, "support", 0, "");
    b.enqueue(1_001, 2, "support", 0, "");
    assert_eq!(b.rung, ["b", "a"]);
}

#[test]
fn ring_all_rings_everyone_and_the_first_answer_wins() {
    let mut b = three_agents(Strategy::RingAll);
    b.enqueue(1_000, 1, "support", 0, "");
    b.answer(1_400, "b");
    // The losers' hangups (LOSE_RACE) and a late answer from c change nothing.
    b.answer(1_420, "c");
    b.agent_hangs_up(1_430, "a", "LOSE_RACE");
    b.agent_hangs_up(1_430, "c", "LOSE_RACE");
    assert_eq!(b.status("a"), AgentStatus::Available);
    assert_eq!(b.status("b"), AgentStatus::OnCall);
    assert_eq!(b.status("c"), AgentStatus::Available);
    b.check(expect![[r#"
        @0 c requests Available
          store agent c logged_out -> available
        @1 b requests Available
          store agent b logged_out -> available
        @2 a requests Available
          store agent a logged_out -> available
        @1000 chan1 parked for support
          store call entered support from 493012341
          store queue enter - priority=0
          store agent a available -> offered
          store queue offer a leg=id1
          originate id1 to a via user/a
          timer 26000ms ring timeout id1
          store agent b available -> offered
          store queue offer b leg=id2
          originate id2 to b via user/b
          timer 26000ms ring timeout id2
          store agent c available -> offered
          store queue offer c leg=id3
          originate id3 to c via user/c
          timer 26000ms ring timeout id3
          answer chan1
          hold chan1 local_stream://support
        @1400 b answered
          break chan1
          bridge chan1 id2
          store call answered by b after 400ms
          store queue connect b wait_ms=400
          store agent b offered -> on_call
          kill id1 LOSE_RACE
          store agent a offered -> available
          kill id3 LOSE_RACE
          store agent c offered -> available
        @1420 c answered
        @1430 id1 hung up LOSE_RACE
        @1430 id3 hung up LOSE_RACE
    "#]]);
}

#[test]
fn ring_all_caller_hanging_up_cancels_every_leg() {
    let mut b = three_agents(Strategy::RingAll);
    b.enqueue(1_000, 1, "support", 0, "");
    b.hangup(2_000, chan(1), "ORIGINATOR_CANCEL");
    for id in ["a", "b", "c"] {
        assert_eq!(b.status(id), AgentStatus::Available, "{id}");
    }
    b.check(expect![[r#"
        @0 c requests Available
          store agent c logged_out -> available
        @1 b requests Available
          store agent b logged_out -> available
        @2 a requests Available
          store agent a logged_out -> available
        @1000 chan1 parked for support
          store call entered support from 493012341
          store queue enter - priority=0
          store agent a available -> offered
          store queue offer a leg=id1
          originate id1 to a via user/a
          timer 26000ms ring timeout id1
          store agent b available -> offered
          store queue offer b leg=id2
          originate id2 to b via user/b
          timer 26000ms ring timeout id2
          store agent c available -> offered
          store queue offer c leg=id3
          originate id3 to c via user/c
          timer 26000ms ring timeout id3
          answer chan1
          hold chan1 local_stream://support
        @2000 chan1 hung up ORIGINATOR_CANCEL
          kill id1 ORIGINATOR_CANCEL
          kill id2 ORIGINATOR_CANCEL
          kill id3 ORIGINATOR_CANCEL
          store queue abandon - wait_ms=1000
          store call ended abandoned ORIGINATOR_CANCEL talk=None
          store agent a offered -> available
          store agent b offered -> available
          store agent c offered -> available
    "#]]);
}

#[test]
fn ring_all_keeps_ringing_the_others_when_one_phone_is_busy() {
    let mut b = three_agents(Strategy::RingAll);
    b.enqueue(1_000, 1, "support", 0, "");
    b.agent_hangs_up(1_100, "a", "USER_BUSY");
    assert_eq!(b.status("a"), AgentStatus::Available);
    assert!(matches!(
        b.engine.agents[&aid("a")].state,
        model::AgentState::Backoff { .. }
    ));
    assert_eq!(b.status("b"), AgentStatus::Offered);
    b.answer(1_500, "c");
    assert_eq!(b.status("b"), AgentStatus::Available);
    assert_eq!(b.status("c"), AgentStatus::OnCall);
}

#[test]
fn ring_progressively_adds_one_agent_at_each_interval() {
    let mut b = Bench::with(
        vec![queue(
            "support",
            QueueRouting {
                strategy: Strategy::RingProgressively,
                ring_progressively_every: Duration::from_secs(4),
                ..QueueRouting::default()
            },
        )],
        vec![
            agent("a", &["support"], ""),
            agent("b", &["support"], ""),
            agent("c", &["support"], ""),
        ],
    );
    for id in ["a", "b", "c"] {
        b.set_state(0, id, RequestedState::Available);
    }
    b.enqueue(1_000, 1, "support", 0, "");
    b.advance(9_500);
    assert_eq!(b.rung, ["a", "b", "c"]);
    b.answer(9_600, "b");
    assert_eq!(b.status("a"), AgentStatus::Available);
    assert_eq!(b.status("c"), AgentStatus::Available);
    b.check(expect![[r#"
        @0 a requests Available
          store agent a logged_out -> available
        @0 b requests Available
          store agent b logged_out -> available
        @0 c requests Available
          store agent c logged_out -> available
        @1000 chan1 parked for support
          store call entered support from 493012341
          store queue enter - priority=0
          store agent a available -> offered
          store queue offer a leg=id1
          originate id1 to a via user/a
          timer 26000ms ring timeout id1
          timer 5000ms ring one more
          answer chan1
          hold chan1 local_stream://support
        @5000 RingMore fired
          store agent b available -> offered
          store queue offer b leg=id2
          originate id2 to b via user/b
          timer 30000ms ring timeout id2
          timer 9000ms ring one more
        @9000 RingMore fired
          store agent c available -> offered
          store queue offer c leg=id3
          originate id3 to c via user/c
          timer 34000ms ring timeout id3
          timer 13000ms ring one more
        @9600 b answered
          break chan1
          bridge chan1 id2
          store call answered by b after 8600ms
          store queue connect b wait_ms=8600
          store agent b offered -> on_call
          kill id1 LOSE_RACE
          store agent a offered -> available
          kill id3 LOSE_RACE
          store agent c offered -> available
    "#]]);
}

fn spanish_queue() -> QueueSettings {
    let step = |after: u64, require: &str, caller_skills: CallerSkills| EscalationStep {
        after: Duration::from_secs(after),
        require: parse_skill_list(require).expect("skills"),
        caller_skills,
        ..EscalationStep::default()
    };
    queue(
        "support",
        QueueRouting {
            steps: vec![
                step(0, "spanish:7", CallerSkills::Require),
                step(30, "spanish:3", CallerSkills::Require),
                step(90, "", CallerSkills::Ignore),
            ],
            ..QueueRouting::default()
        },
    )
}

#[test]
fn escalation_relaxes_the_requirement_as_the_wait_grows() {
    let mut b = Bench::with(
        vec![spanish_queue()],
        vec![
            agent("novice", &["support"], "spanish:4"),
            agent("none", &["support"], "german:9"),
        ],
    );
    b.set_state(0, "novice", RequestedState::Available);
    b.set_state(0, "none", RequestedState::Available);
    b.enqueue(1_000, 1, "support", 0, "");
    b.enqueue(2_000, 2, "support", 0, "");
    assert!(b.rung.is_empty(), "nobody speaks Spanish at 7");
    b.advance(31_000);
    assert_eq!(b.rung, ["novice"]);
    b.answer(31_500, "novice");
    b.advance(92_000);
    assert_eq!(b.rung, ["novice", "none"]);
    b.check(expect![[r#"
        @0 novice requests Available
          store agent novice logged_out -> available
        @0 none requests Available
          store agent none logged_out -> available
        @1000 chan1 parked for support
          store call entered support from 493012341
          store queue enter - priority=0
          timer 31000ms escalate to step 2
          answer chan1
          hold chan1 local_stream://support
        @2000 chan2 parked for support
          store call entered support from 493012342
          store queue enter - priority=0
          timer 32000ms escalate to step 2
          answer chan2
          hold chan2 local_stream://support
        @31000 Escalate fired
          store queue escalate - step=2
          timer 91000ms escalate to step 3
          store agent novice available -> offered
          store queue offer novice leg=id1
          originate id1 to novice via user/novice
          timer 56000ms ring timeout id1
        @31500 novice answered
          break chan1
          bridge chan1 id1
          store call answered by novice after 30500ms
          store queue connect novice wait_ms=30500
          store agent novice offered -> on_call
        @32000 Escalate fired
          store queue escalate - step=2
          timer 92000ms escalate to step 3
        @92000 Escalate fired
          store queue escalate - step=3
          store agent none available -> offered
          store queue offer none leg=id2
          originate id2 to none via user/none
          timer 117000ms ring timeout id2
    "#]]);
}

#[test]
fn caller_skills_are_required_until_a_step_ignores_them() {
    let mut b = Bench::with(
        vec![spanish_queue()],
        vec![
            agent("es", &["support"], "spanish:9"),
            agent("es_fr", &["support"], "spanish:8,french:6"),
        ],
    );
    b.set_state(0, "es", RequestedState::Available);
    b.enqueue(1_000, 1, "support", 0, "french:5");
    assert!(b.rung.is_empty(), "es does not speak French");
    b.set_state(2_000, "es_fr", RequestedState::Available);
    assert_eq!(b.rung, ["es_fr"]);
}

#[test]
fn a_higher_priority_caller_is_served_before_older_ones() {
    let mut b = Bench::new(&["a"], 0);
    b.enqueue(100, 1, "support", 0, "");
    b.enqueue(200, 2, "support", 5, "");
    b.enqueue(300, 3, "support", 5, "");
    b.available(1_000, "a");
    let first = b.engine.calls.values().find(|c| c.caller == chan(2));
    assert!(matches!(
        first.map(|c| &c.state),
        Some(model::CallState::Ringing { .. })
    ));
}

#[test]
fn a_priority_raised_while_waiting_moves_the_caller_ahead() {
    let mut b = Bench::new(&["a"], 0);
    b.enqueue(100, 1, "support", 0, "");
    b.enqueue(200, 2, "support", 0, "");
    let second = b
        .engine
        .calls
        .values()
        .find(|c| c.caller == chan(2))
        .map(|c| c.id)
        .expect("call");
    let effects = b
        .engine
        .update_call(
            ts(500),
            second,
            CallUpdate {
                priority: Some(9),
                skills: None,
            },
        )
        .expect("known call");
    b.record(500, "chan2 priority 9", effects);
    b.available(1_000, "a");
    b.check(expect![[r#"
        @100 chan1 parked for support
          store call entered support from 493012341
          store queue enter - priority=0
          answer chan1
          hold chan1 local_stream://moh
        @200 chan2 parked for support
          store call entered support from 493012342
          store queue enter - priority=0
          answer chan2
          hold chan2 local_stream://moh
        @500 chan2 priority 9
          store queue priority - from=0 to=9
          store call placed support priority=9 skills= hops=0 since=200ms
        @1000 a available
          store agent a logged_out -> available
          store agent a available -> offered
          store queue offer a leg=id1
          originate id1 to a via user/a
          timer 26000ms ring timeout id1
    "#]]);
}

#[test]
fn an_agent_in_two_queues_takes_the_heavier_queue_first_at_equal_priority() {
    let mut b = Bench::with(
        vec![
            queue("support", QueueRouting::default()),
            queue(
                "vip",
                QueueRouting {
                    weight: 5,
                    ..QueueRouting::default()
                },
            ),
        ],
        vec![agent("a", &["support", "vip"], "")],
    );
    b.enqueue(100, 1, "support", 0, "");
    b.enqueue(900, 2, "vip", 0, "");
    b.set_state(1_000, "a", RequestedState::Available);
    let ringing = b.engine.calls.values().find(|c| c.caller == chan(2));
    assert!(matches!(
        ringing.map(|c| &c.state),
        Some(model::CallState::Ringing { .. })
    ));
}

#[test]
fn too_many_unanswered_offers_pause_the_agent_with_a_reason() {
    let mut b = Bench::with(
        vec![queue(
            "support",
            QueueRouting {
                max_no_answer: 2,
                no_answer_backoff: Some(Duration::from_secs(1)),
                ..QueueRouting::default()
            },
        )],
        vec![agent("a", &["support"], "")],
    );
    b.set_state(0, "a", RequestedState::Available);
    b.enqueue(100, 1, "support", 0, "");
    b.agent_hangs_up(20_100, "a", "NO_ANSWER");
    b.advance(21_100);
    b.agent_hangs_up(41_200, "a", "NO_ANSWER");
    assert_eq!(b.status("a"), AgentStatus::Paused);
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
        @20100 id1 hung up NO_ANSWER
          store queue ring_no_answer a NO_ANSWER
          store agent a offered -> available
          timer 21100ms back-off of a ends
        @21100 BackoffEnds fired
          store agent a available -> offered
          store queue offer a leg=id2
          originate id2 to a via user/a
          timer 46100ms ring timeout id2
        @41200 id2 hung up NO_ANSWER
          store queue ring_no_answer a NO_ANSWER
          store agent a offered -> paused (no-answer)
          store queue auto_pause a missed=2
    "#]]);
}

#[test]
fn busy_reject_and_no_answer_each_have_their_own_back_off() {
    let mut b = Bench::with(
        vec![queue(
            "support",
            QueueRouting {
                reject_backoff: Some(Duration::from_secs(30)),
                no_answer_backoff: Some(Duration::from_secs(5)),
                ..QueueRouting::default()
            },
        )],
        vec![
            agent("busy", &["support"], ""),
            agent("rejects", &["support"], ""),
            agent("away", &["support"], ""),
        ],
    );
    for (at, id) in [(0, "busy"), (1, "rejects"), (2, "away")] {
        b.set_state(at, id, RequestedState::Available);
    }
    b.enqueue(100, 1, "support", 0, "");
    b.agent_hangs_up(200, "busy", "USER_BUSY");
    b.agent_hangs_up(300, "rejects", "CALL_REJECTED");
    b.agent_hangs_up(400, "away", "NO_ANSWER");
    let until = |id: &str| match b.engine.agents[&aid(id)].state {
        model::AgentState::Backoff { until } => until.as_millis(),
        _ => -1,
    };
    assert_eq!(until("busy"), 10_200);
    assert_eq!(until("rejects"), 30_300);
    assert_eq!(until("away"), 5_400);
}

#[test]
fn an_agent_paused_while_ringing_loses_the_offer_and_the_call_goes_to_the_next() {
    let mut b = Bench::new(&["a", "b"], 0);
    b.available(0, "a");
    b.available(1, "b");
    b.park(100, 1, "111");
    b.set_state(
        500,
        "a",
        RequestedState::Paused {
            reason: "lunch".into(),
        },
    );
    assert_eq!(b.rung, ["a", "b"]);
    b.check(expect![[r#"
        @0 a available
          store agent a logged_out -> available
        @1 b available
          store agent b logged_out -> available
        @100 chan1 parked
          store call entered support from 111
          store queue enter - priority=0
          store agent a available -> offered
          store queue offer a leg=id1
          originate id1 to a via user/a
          timer 25100ms ring timeout id1
          answer chan1
          hold chan1 local_stream://moh
        @500 a requests Paused { reason: "lunch" }
          kill id1 ORIGINATOR_CANCEL
          store agent a offered -> paused (lunch)
          store agent b available -> offered
          store queue offer b leg=id2
          originate id2 to b via user/b
          timer 25500ms ring timeout id2
    "#]]);
}

#[test]
fn an_agent_logged_out_while_wrapping_up_stays_logged_out() {
    let mut b = Bench::new(&["a"], 5_000);
    b.available(0, "a");
    b.park(100, 1, "111");
    b.answer(200, "a");
    b.agent_hangs_up(1_200, "a", "NORMAL_CLEARING");
    b.set_state(2_000, "a", RequestedState::LoggedOut);
    b.advance(10_000);
    assert_eq!(b.status("a"), AgentStatus::LoggedOut);
}

fn overflow_queue(to: Destination) -> QueueRouting {
    QueueRouting {
        max_wait: Some(Duration::from_secs(60)),
        on_max_wait: Some(to),
        ..QueueRouting::default()
    }
}

#[test]
fn max_wait_overflows_to_another_queue_keeping_the_enqueue_time() {
    let mut b = Bench::with(
        vec![
            queue(
                "support",
                overflow_queue(Destination::Queue {
                    queue: qid("backup"),
                }),
            ),
            queue("backup", QueueRouting::default()),
        ],
        vec![agent("a", &["support"], ""), agent("x", &["backup"], "")],
    );
    b.set_state(0, "a", RequestedState::Paused { reason: "x".into() });
    b.enqueue(1_000, 1, "support", 0, "");
    b.advance(61_000);
    b.set_state(70_000, "x", RequestedState::Available);
    b.answer(70_500, "x");
    b.check(expect![[r#"
        @0 a requests Paused { reason: "x" }
          store agent a logged_out -> paused (x)
        @1000 chan1 parked for support
          store call entered support from 493012341
          store queue enter - priority=0
          timer 61000ms max wait
          answer chan1
          hold chan1 local_stream://support
        @61000 MaxWait fired
          store queue timeout - wait_ms=60000
          store queue overflow - reason=max_wait to=queue:backup
          store queue enter - priority=0 from=support
          store call placed backup priority=0 skills= hops=1 since=1000ms
          break chan1
          hold chan1 local_stream://backup
        @70000 x requests Available
          store agent x logged_out -> available
          store agent x available -> offered
          store queue offer x leg=id1
          originate id1 to x via user/x
          timer 95000ms ring timeout id1
        @70500 x answered
          break chan1
          bridge chan1 id1
          store call answered by x after 69500ms
          store queue connect x wait_ms=69500
          store agent x offered -> on_call
    "#]]);
}

#[test]
fn max_wait_can_send_the_caller_to_an_extension_voicemail_or_a_hangup() {
    for destination in [
        Destination::Extension {
            number: "9000".into(),
            context: "default".into(),
        },
        Destination::Voicemail {
            domain: "pbx.example.com".into(),
            mailbox: "1000".into(),
        },
        Destination::Hangup {
            cause: "USER_BUSY".into(),
        },
    ] {
        let mut b = Bench::with(
            vec![queue("support", overflow_queue(destination))],
            vec![agent("a", &["support"], "")],
        );
        b.set_state(0, "a", RequestedState::Paused { reason: "x".into() });
        b.enqueue(1_000, 1, "support", 0, "");
        b.advance(61_000);
        assert!(b.engine.calls.is_empty());
        assert_eq!(b.engine.counters().overflowed, 1);
        let last: Vec<&String> = b.trace.iter().rev().take(4).collect();
        assert!(
            last.iter()
                .any(|l| l.contains("transfer") || l.contains("voicemail") || l.contains("hangup")),
            "{last:?}"
        );
    }
}

#[test]
fn callers_leave_when_no_agent_is_logged_in_on_entry_or_when_the_last_logs_out() {
    let mut b = Bench::with(
        vec![queue(
            "support",
            QueueRouting {
                on_no_agents: Some(Destination::Voicemail {
                    domain: "pbx.example.com".into(),
                    mailbox: "support".into(),
                }),
                ..QueueRouting::default()
            },
        )],
        vec![agent("a", &["support"], "")],
    );
    b.enqueue(100, 1, "support", 0, "");
    b.set_state(200, "a", RequestedState::Paused { reason: "x".into() });
    b.enqueue(300, 2, "support", 0, "");
    b.set_state(400, "a", RequestedState::LoggedOut);
    b.check(expect![[r#"
        @100 chan1 parked for support
          store call entered support from 493012341
          store queue enter - priority=0
          store queue overflow - reason=no_agents to=voicemail:support@pbx.example.com
          voicemail chan1 support@pbx.example.com
          store call ended overflowed VOICEMAIL talk=None
        @200 a requests Paused { reason: "x" }
          store agent a logged_out -> paused (x)
        @300 chan2 parked for support
          store call entered support from 493012342
          store queue enter - priority=0
          answer chan2
          hold chan2 local_stream://support
        @400 a requests LoggedOut
          store agent a paused -> logged_out
          store queue overflow - reason=no_agents to=voicemail:support@pbx.example.com
          break chan2
          voicemail chan2 support@pbx.example.com
          store call ended overflowed VOICEMAIL talk=None
    "#]]);
}

#[test]
fn a_caller_who_calls_back_soon_after_abandoning_gets_its_place_back() {
    let mut b = Bench::with(
        vec![queue(
            "support",
            QueueRouting {
                abandoned_resume: Some(Duration::from_secs(60)),
                ..QueueRouting::default()
            },
        )],
        vec![agent("a", &["support"], "")],
    );
    b.enqueue(1_000, 1, "support", 0, "");
    b.enqueue(5_000, 2, "support", 0, "");
    b.hangup(10_000, chan(1), "NORMAL_CLEARING");
    // Same number as chan1 (the bench derives numbers from the channel): comes back as chan1 again.
    b.enqueue(30_000, 1, "support", 0, "");
    b.set_state(40_000, "a", RequestedState::Available);
    let ringing = b
        .engine
        .calls
        .values()
        .find(|c| matches!(c.state, model::CallState::Ringing { .. }))
        .map(|c| (c.caller.clone(), c.wait_key.entered_at.as_millis()));
    assert_eq!(ringing, Some((chan(1), 1_000)));
}

#[test]
fn an_agent_on_a_call_we_did_not_route_is_not_offered_another() {
    let mut b = Bench::new(&["1001"], 0);
    b.available(0, "1001");
    let personal = chan(900);
    let effects = b.engine.handle(
        ts(50),
        Input::ChannelInUse {
            switch: sw(),
            channel: personal.clone(),
            users: vec!["+4930999".into(), "1001".into()],
        },
    );
    b.record(50, "1001's phone answers a direct call", effects);
    b.park(100, 1, "111");
    assert!(b.rung.is_empty());
    b.hangup(5_000, personal, "NORMAL_CLEARING");
    assert_eq!(b.rung, ["1001"]);
    b.check(expect![[r#"
        @0 1001 available
          store agent 1001 logged_out -> available
        @50 1001's phone answers a direct call
        @100 chan1 parked
          store call entered support from 111
          store queue enter - priority=0
          answer chan1
          hold chan1 local_stream://moh
        @5000 chan900 hung up NORMAL_CLEARING
          store agent 1001 available -> offered
          store queue offer 1001 leg=id1
          originate id1 to 1001 via user/1001
          timer 30000ms ring timeout id1
    "#]]);
}

#[test]
fn the_phone_user_is_read_from_user_and_sofia_dial_strings() {
    let user = |dial: &str| {
        let mut a = agent("x", &[], "");
        a.dial_string = dial.into();
        a.phone_user().map(str::to_owned)
    };
    assert_eq!(user("user/1001@pbx.example.com").as_deref(), Some("1001"));
    assert_eq!(user("user/1001").as_deref(), Some("1001"));
    assert_eq!(
        user("sofia/internal/agent2@127.0.0.1:5072").as_deref(),
        Some("agent2")
    );
    assert_eq!(user("loopback/9199/default"), None);
}
