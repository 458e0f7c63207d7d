//! Conferences over REST: a party added, the party dropped, the call's agent leaving with
//! the others staying or ending, the caller leaving, a party that never answers.

use super::*;
use crate::engine::conference::{AgentLeaves, ConferenceAsked, ConferenceError};
use crate::engine::hold::HoldBy;

/// Agent `a` talks to a caller; `b` and `c` are available.
fn connected() -> Bench {
    let mut b = Bench::with(
        vec![queue("support", QueueRouting::default())],
        vec![
            agent("a", &["support"], ""),
            agent("b", &["support"], ""),
            agent("c", &["support"], ""),
        ],
    );
    b.talking("a", "support");
    b.set_state(1_500, "b", RequestedState::Available);
    b.set_state(1_500, "c", RequestedState::Available);
    b
}

impl Bench {
    fn call(&self) -> CallId {
        self.only_call()
    }

    fn conference(&mut self, at: i64, asked: ConferenceAsked) -> Result<(), ConferenceError> {
        let call = self.call();
        let label = match &asked {
            ConferenceAsked::Add {
                agent,
                agent_leaves,
            } => format!("sup adds {agent} (agent leaves: {})", agent_leaves.as_str()),
            ConferenceAsked::AddNumber {
                number,
                agent_leaves,
            } => format!(
                "sup adds {number} (agent leaves: {})",
                agent_leaves.as_str()
            ),
            ConferenceAsked::Drop { party } => format!("sup drops {party}"),
        };
        let effects = self
            .engine
            .conference(ts(at), call, asked, HoldBy::Token("sup".into()))?;
        self.record(at, &label, effects);
        Ok(())
    }

    fn add(&mut self, at: i64, agent: &str, agent_leaves: AgentLeaves) {
        self.conference(
            at,
            ConferenceAsked::Add {
                agent: aid(agent),
                agent_leaves,
            },
        )
        .expect("added");
    }

    fn drop_party(&mut self, at: i64, agent: &str) {
        self.conference(
            at,
            ConferenceAsked::Drop {
                party: agent.to_string(),
            },
        )
        .expect("dropped");
    }

    fn caller_hangs_up(&mut self, at: i64) {
        self.hangup(at, chan(1), "NORMAL_CLEARING");
    }

    fn parties(&self) -> Vec<(String, &'static str)> {
        let Some(call) = self.engine.calls.keys().next() else {
            return Vec::new();
        };
        self.engine
            .conference_view(*call)
            .map(|c| {
                c.parties
                    .into_iter()
                    .map(|p| (p.agent.map(|a| a.to_string()).unwrap_or_default(), p.status))
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[test]
fn a_party_joins_and_is_dropped_while_the_agent_stays_with_the_caller() {
    let mut b = connected();
    b.add(2_000, "b", AgentLeaves::Stay);
    assert_eq!(b.status("b"), AgentStatus::Offered);
    assert_eq!(b.parties(), vec![("b".to_string(), "ringing")]);
    b.answer(3_000, "b");
    assert_eq!(b.status("b"), AgentStatus::OnCall);
    assert_eq!(b.parties(), vec![("b".to_string(), "joined")]);
    b.drop_party(5_000, "b");
    b.agent_hangs_up(5_020, "b", "NORMAL_CLEARING");
    assert_eq!(b.parties(), Vec::new());
    assert_eq!(b.status("b"), AgentStatus::Available);
    assert_eq!(b.status("a"), AgentStatus::OnCall);
    // The call's agent leaves: the caller, alone in the conference, is hung up; the call ends once.
    b.agent_hangs_up(9_000, "a", "NORMAL_CLEARING");
    b.caller_hangs_up(9_020);
    assert!(b.engine.calls.is_empty());
    assert_eq!(b.status("a"), AgentStatus::Available);
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
        @1500 b requests Available
          store agent b logged_out -> available
        @1500 c requests Available
          store agent c logged_out -> available
        @2000 sup adds b (agent leaves: stay)
          conference chan1 and its agent into sb-1c663cf4-d73c-4c04-970d-3259e4e1cb63
          store queue conference a step=started name=sb-1c663cf4-d73c-4c04-970d-3259e4e1cb63 agent_leaves=stay by=token:sup
          store agent b available -> offered
          store queue conference a step=adding party=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 by=token:sup
          originate id2 to b via user/b into sb-1c663cf4-d73c-4c04-970d-3259e4e1cb63
        @3000 b answered
          store queue conference b step=added party=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373
          store agent b offered -> on_call
        @5000 sup drops b
          store queue conference b step=drop party=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 by=token:sup
          kill id2 NORMAL_CLEARING
        @5020 id2 hung up NORMAL_CLEARING
          store queue conference b step=left party=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 cause=NORMAL_CLEARING
          store agent b on_call -> available
        @9000 id1 hung up NORMAL_CLEARING
          kill chan1 NORMAL_CLEARING
          store queue conference - step=ended agent_leaves=stay
          store queue complete a by=agent talk_ms=8000
          store call ended completed NORMAL_CLEARING talk=Some(8000)
          store agent a on_call -> available
        @9020 chan1 hung up NORMAL_CLEARING
    "#]]);
}

#[test]
fn the_agent_leaves_and_the_others_stay_the_party_takes_the_call() {
    let mut b = connected();
    let call = b.call();
    b.add(2_000, "b", AgentLeaves::Stay);
    b.answer(3_000, "b");
    b.agent_hangs_up(6_000, "a", "NORMAL_CLEARING");
    assert_eq!(b.status("a"), AgentStatus::Available);
    assert_eq!(b.status("b"), AgentStatus::OnCall);
    assert!(b.engine.is_agent_on_call(call, &aid("b")));
    assert!(b.engine.calls.contains_key(&call));
    // The last agent of ours leaves: the caller is hung up.
    b.agent_hangs_up(9_000, "b", "NORMAL_CLEARING");
    b.caller_hangs_up(9_020);
    assert!(b.engine.calls.is_empty());
    assert_eq!(b.status("b"), AgentStatus::Available);
    let text = b.trace.join("\n");
    assert_eq!(text.matches("call ended").count(), 1, "{text}");
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
        @1500 b requests Available
          store agent b logged_out -> available
        @1500 c requests Available
          store agent c logged_out -> available
        @2000 sup adds b (agent leaves: stay)
          conference chan1 and its agent into sb-1c663cf4-d73c-4c04-970d-3259e4e1cb63
          store queue conference a step=started name=sb-1c663cf4-d73c-4c04-970d-3259e4e1cb63 agent_leaves=stay by=token:sup
          store agent b available -> offered
          store queue conference a step=adding party=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 by=token:sup
          originate id2 to b via user/b into sb-1c663cf4-d73c-4c04-970d-3259e4e1cb63
        @3000 b answered
          store queue conference b step=added party=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373
          store agent b offered -> on_call
        @6000 id1 hung up NORMAL_CLEARING
          store queue conference a step=agent_left from=a to=b leg=cb293e67-70eb-4a95-822a-b1ba804098e6 talk_ms=5000
          store queue connect b conference leg=11aabecb-86be-4a3f-9a21-1e6a663bd373
          store agent a on_call -> available
        @9000 id2 hung up NORMAL_CLEARING
          kill chan1 NORMAL_CLEARING
          store queue conference - step=ended agent_leaves=stay
          store queue complete b by=agent talk_ms=6000
          store call ended completed NORMAL_CLEARING talk=Some(6000)
          store agent b on_call -> available
        @9020 chan1 hung up NORMAL_CLEARING
    "#]]);
}

#[test]
fn the_agent_leaves_in_end_mode_and_every_leg_is_hung_up() {
    let mut b = connected();
    b.add(2_000, "b", AgentLeaves::End);
    b.answer(3_000, "b");
    b.add(3_500, "c", AgentLeaves::End);
    b.answer(4_000, "c");
    assert_eq!(b.parties().len(), 2);
    b.agent_hangs_up(6_000, "a", "NORMAL_CLEARING");
    assert!(b.engine.calls.is_empty());
    b.agent_hangs_up(6_020, "b", "NORMAL_CLEARING");
    b.agent_hangs_up(6_030, "c", "NORMAL_CLEARING");
    b.caller_hangs_up(6_040);
    for agent in ["a", "b", "c"] {
        assert_eq!(b.status(agent), AgentStatus::Available, "{agent}");
    }
    assert!(b.engine.conference_legs().is_empty());
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
        @1500 b requests Available
          store agent b logged_out -> available
        @1500 c requests Available
          store agent c logged_out -> available
        @2000 sup adds b (agent leaves: end)
          conference chan1 and its agent into sb-1c663cf4-d73c-4c04-970d-3259e4e1cb63
          store queue conference a step=started name=sb-1c663cf4-d73c-4c04-970d-3259e4e1cb63 agent_leaves=end by=token:sup
          store agent b available -> offered
          store queue conference a step=adding party=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 by=token:sup
          originate id2 to b via user/b into sb-1c663cf4-d73c-4c04-970d-3259e4e1cb63
        @3000 b answered
          store queue conference b step=added party=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373
          store agent b offered -> on_call
        @3500 sup adds c (agent leaves: end)
          store agent c available -> offered
          store queue conference a step=adding party=c leg=febe023d-51d6-4c53-b6d0-c233a1c4cb77 by=token:sup
          originate id3 to c via user/c into sb-1c663cf4-d73c-4c04-970d-3259e4e1cb63
        @4000 c answered
          store queue conference c step=added party=c leg=febe023d-51d6-4c53-b6d0-c233a1c4cb77
          store agent c offered -> on_call
        @6000 id1 hung up NORMAL_CLEARING
          kill id2 NORMAL_CLEARING
          kill id3 NORMAL_CLEARING
          kill chan1 NORMAL_CLEARING
          store queue conference - step=ended agent_leaves=end
          store queue complete a by=agent talk_ms=5000
          store call ended completed NORMAL_CLEARING talk=Some(5000)
          store agent a on_call -> available
        @6020 id2 hung up NORMAL_CLEARING
          store queue conference b step=left party=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 cause=NORMAL_CLEARING
          store agent b on_call -> available
        @6030 id3 hung up NORMAL_CLEARING
          store queue conference c step=left party=c leg=febe023d-51d6-4c53-b6d0-c233a1c4cb77 cause=NORMAL_CLEARING
          store agent c on_call -> available
        @6040 chan1 hung up NORMAL_CLEARING
    "#]]);
}

#[test]
fn the_caller_leaving_hangs_up_every_agent_and_a_party_that_never_answers_is_freed() {
    let mut b = connected();
    b.add(2_000, "b", AgentLeaves::Stay);
    b.answer(3_000, "b");
    b.add(3_500, "c", AgentLeaves::Stay);
    let c_leg = b.leg_of("c");
    let effects = b.engine.handle(
        ts(4_000),
        Input::OriginateFailed {
            switch: sw(),
            leg: c_leg,
            cause: "NO_ANSWER".into(),
        },
    );
    b.record(4_000, "originate of c failed NO_ANSWER", effects);
    assert_eq!(b.status("c"), AgentStatus::Available);
    b.caller_hangs_up(5_000);
    assert!(b.engine.calls.is_empty());
    b.agent_hangs_up(5_020, "b", "NORMAL_CLEARING");
    b.agent_hangs_up(5_030, "a", "NORMAL_CLEARING");
    assert_eq!(b.status("a"), AgentStatus::Available);
    assert_eq!(b.status("b"), AgentStatus::Available);
    assert!(b.engine.conference_legs().is_empty());
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
        @1500 b requests Available
          store agent b logged_out -> available
        @1500 c requests Available
          store agent c logged_out -> available
        @2000 sup adds b (agent leaves: stay)
          conference chan1 and its agent into sb-1c663cf4-d73c-4c04-970d-3259e4e1cb63
          store queue conference a step=started name=sb-1c663cf4-d73c-4c04-970d-3259e4e1cb63 agent_leaves=stay by=token:sup
          store agent b available -> offered
          store queue conference a step=adding party=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 by=token:sup
          originate id2 to b via user/b into sb-1c663cf4-d73c-4c04-970d-3259e4e1cb63
        @3000 b answered
          store queue conference b step=added party=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373
          store agent b offered -> on_call
        @3500 sup adds c (agent leaves: stay)
          store agent c available -> offered
          store queue conference a step=adding party=c leg=febe023d-51d6-4c53-b6d0-c233a1c4cb77 by=token:sup
          originate id3 to c via user/c into sb-1c663cf4-d73c-4c04-970d-3259e4e1cb63
        @4000 originate of c failed NO_ANSWER
          store queue conference c step=left party=c leg=febe023d-51d6-4c53-b6d0-c233a1c4cb77 cause=NO_ANSWER
          store agent c offered -> available
        @5000 chan1 hung up NORMAL_CLEARING
          store queue conference - step=ended by=caller
          kill id2 NORMAL_CLEARING
          kill id1 NORMAL_CLEARING
          store queue complete a by=caller talk_ms=4000
          store call ended completed NORMAL_CLEARING talk=Some(4000)
          store agent a on_call -> available
        @5020 id2 hung up NORMAL_CLEARING
          store queue conference b step=left party=b leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 cause=NORMAL_CLEARING
          store agent b on_call -> available
        @5030 id1 hung up NORMAL_CLEARING
    "#]]);
}

#[test]
fn refusals() {
    let mut b = connected();
    let same = b.conference(
        2_000,
        ConferenceAsked::Add {
            agent: aid("a"),
            agent_leaves: AgentLeaves::Stay,
        },
    );
    assert!(matches!(same, Err(ConferenceError::AlreadyOnCall(_))));
    let unknown = b.conference(2_000, ConferenceAsked::Drop { party: "b".into() });
    assert!(matches!(unknown, Err(ConferenceError::NoConference(_))));
    b.set_state(
        2_100,
        "c",
        RequestedState::Paused {
            reason: "lunch".into(),
        },
    );
    let busy = b.conference(
        2_200,
        ConferenceAsked::Add {
            agent: aid("c"),
            agent_leaves: AgentLeaves::Stay,
        },
    );
    assert!(matches!(busy, Err(ConferenceError::TargetBusy(_))));
    b.add(2_300, "b", AgentLeaves::Stay);
    let twice = b.conference(
        2_400,
        ConferenceAsked::Add {
            agent: aid("b"),
            agent_leaves: AgentLeaves::Stay,
        },
    );
    assert!(matches!(twice, Err(ConferenceError::AlreadyOnCall(_))));
    // In a conference, no consult and no blind transfer (the caller is not bridged).
    let call = b.call();
    let consult = b.engine.consult(
        ts(2_500),
        call,
        crate::engine::consult::ConsultAsked::Start { target: aid("c") },
        HoldBy::Token("sup".into()),
    );
    assert!(matches!(
        consult,
        Err(crate::engine::consult::ConsultError::InConference(_))
    ));
    let transfer = b.engine.redirect(
        ts(2_500),
        call,
        crate::engine::redirect::RedirectAction::Transfer(
            crate::engine::redirect::TransferTarget::Queue {
                queue: qid("support"),
                keep_place: true,
            },
        ),
        "sup".into(),
    );
    assert!(matches!(
        transfer,
        Err(crate::engine::redirect::RedirectError::InConference(_))
    ));
}

#[test]
fn a_number_joins_through_the_external_dial_template_and_the_call_ends_with_the_last_agent() {
    let mut b = Bench::with(
        vec![queue("support", QueueRouting::default())],
        vec![agent("a", &["support"], "")],
    );
    b.engine
        .set_external_dial(Some(crate::engine::ExternalDial {
            template: "sofia/gateway/pstn/{number}".into(),
            allowed_prefixes: Vec::new(),
        }));
    b.set_state(0, "a", RequestedState::Available);
    b.enqueue(100, 1, "support", 0, "");
    b.answer(1_000, "a");
    let bad = b.conference(
        1_500,
        ConferenceAsked::AddNumber {
            number: "12;x".into(),
            agent_leaves: AgentLeaves::Stay,
        },
    );
    assert!(matches!(bad, Err(ConferenceError::BadNumber(_))));
    b.conference(
        2_000,
        ConferenceAsked::AddNumber {
            number: "+4930555".into(),
            agent_leaves: AgentLeaves::Stay,
        },
    )
    .expect("added");
    b.answer(3_000, "number");
    let view = b.engine.conference_view(b.call()).expect("a conference");
    assert_eq!(view.parties[0].number.as_deref(), Some("+4930555"));
    assert_eq!(view.parties[0].status, "joined");
    // The only agent leaves: no agent of ours is left, the number and the caller are hung up.
    b.agent_hangs_up(6_000, "a", "NORMAL_CLEARING");
    assert!(b.engine.calls.is_empty());
    let n_leg = b.leg_of("number");
    b.hangup(6_020, n_leg, "NORMAL_CLEARING");
    b.caller_hangs_up(6_030);
    assert_eq!(b.status("a"), AgentStatus::Available);
    assert!(b.engine.conference_channels().is_empty());
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
        @2000 sup adds +4930555 (agent leaves: stay)
          conference chan1 and its agent into sb-1c663cf4-d73c-4c04-970d-3259e4e1cb63
          store queue conference a step=started name=sb-1c663cf4-d73c-4c04-970d-3259e4e1cb63 agent_leaves=stay by=token:sup
          store queue conference a step=adding party=+4930555 leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 by=token:sup
          originate id2 to number via sofia/gateway/pstn/+4930555 into sb-1c663cf4-d73c-4c04-970d-3259e4e1cb63
        @3000 number answered
          store queue conference - step=added party=+4930555 leg=11aabecb-86be-4a3f-9a21-1e6a663bd373
        @6000 id1 hung up NORMAL_CLEARING
          kill id2 NORMAL_CLEARING
          kill chan1 NORMAL_CLEARING
          store queue conference - step=ended agent_leaves=stay
          store queue complete a by=agent talk_ms=5000
          store call ended completed NORMAL_CLEARING talk=Some(5000)
          store agent a on_call -> available
        @6020 id2 hung up NORMAL_CLEARING
          store queue conference - step=left party=+4930555 leg=11aabecb-86be-4a3f-9a21-1e6a663bd373 cause=NORMAL_CLEARING
        @6030 chan1 hung up NORMAL_CLEARING
    "#]]);
}

#[test]
fn a_number_needs_a_dial_template() {
    let mut b = connected();
    let refused = b.conference(
        2_000,
        ConferenceAsked::AddNumber {
            number: "+4930555".into(),
            agent_leaves: AgentLeaves::Stay,
        },
    );
    assert!(matches!(refused, Err(ConferenceError::NoDialTemplate)));
}
