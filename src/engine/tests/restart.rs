//! A controller restart: a new engine adopts callers from what the old one persisted (the
//! records are carried over as the store would read them back) and finds them where they were.

use super::ivr::{flow_caller, ivr};
use super::*;
use crate::engine::restart::Abandoned;

/// The standing the last `CallPlaced` of `effects` reports, as the store reads it back.
fn placed(effects: &[Effect]) -> Option<StoredPlace> {
    effects.iter().rev().find_map(|e| match e {
        Effect::Persist(Record::CallPlaced {
            queue,
            priority,
            skills,
            hops,
            waiting_since,
            ..
        }) => Some(StoredPlace {
            queue: queue.clone(),
            priority: *priority,
            skills: skills.clone(),
            hops: *hops,
            waiting_since: *waiting_since,
        }),
        _ => None,
    })
}

/// A caller the store knows, parked for `queue`, as a restarted controller's resync lists it.
fn stored_caller(
    channel: u32,
    queue: &str,
    call: CallId,
    entered_at: i64,
    place: Option<StoredPlace>,
) -> ChannelSnapshot {
    ChannelSnapshot {
        channel: chan(channel),
        role: ChannelRole::Caller,
        answered: true,
        bridged_to: None,
        queue: Some(qid(queue)),
        agent: None,
        call: None,
        caller_number: format!("49301234{channel}"),
        caller_name: format!("Caller {channel}"),
        destination: "5000".into(),
        stored: Some(StoredCall {
            call,
            entered_at: ts(entered_at),
            priority: 0,
            answered_at: None,
            place,
            transferred: None,
        }),
        flow_entry: None,
        stored_flow: None,
    }
}

fn resync(b: &mut Bench, at: i64, channels: Vec<ChannelSnapshot>) {
    let effects = b.engine.handle(
        ts(at),
        Input::SwitchResynced {
            switch: sw(),
            channels,
        },
    );
    b.record(at, "a restarted controller resyncs", effects);
}

fn call_on(b: &Bench, channel: u32) -> CallId {
    b.engine
        .calls
        .values()
        .find(|c| c.caller == chan(channel))
        .map(|c| c.id)
        .expect("a call on the channel")
}

fn ringing(b: &Bench) -> Vec<ChannelId> {
    b.engine
        .calls
        .values()
        .filter(|c| matches!(c.state, model::CallState::Ringing { .. }))
        .map(|c| c.caller.clone())
        .collect()
}

#[test]
fn a_priority_raised_before_a_restart_still_puts_the_caller_ahead() {
    let two = || {
        Bench::with(
            vec![queue("support", QueueRouting::default())],
            vec![agent("a", &["support"], "")],
        )
    };
    let mut old = two();
    old.enqueue(1_000, 1, "support", 0, "");
    old.enqueue(2_000, 2, "support", 0, "");
    let (first, second) = (call_on(&old, 1), call_on(&old, 2));
    let effects = old
        .engine
        .update_call(
            ts(3_000),
            second,
            CallUpdate {
                priority: Some(9),
                skills: None,
            },
        )
        .expect("a waiting call");
    let raised = placed(&effects);
    assert_eq!(raised.as_ref().map(|p| p.priority), Some(9));

    let mut new = two();
    resync(
        &mut new,
        60_000,
        vec![
            stored_caller(1, "support", first, 1_000, None),
            stored_caller(2, "support", second, 2_000, raised),
        ],
    );
    new.set_state(61_000, "a", RequestedState::Available);
    assert_eq!(ringing(&new), [chan(2)], "the raised caller goes first");
}

#[test]
fn skills_given_before_a_restart_still_keep_the_caller_from_unskilled_agents() {
    let bench = || {
        Bench::with(
            vec![queue("support", QueueRouting::default())],
            vec![
                agent("plain", &["support"], ""),
                agent("spanish", &["support"], "spanish:5"),
            ],
        )
    };
    let mut old = bench();
    old.enqueue(1_000, 1, "support", 0, "spanish:3");
    let call = call_on(&old, 1);
    let mut new = bench();
    resync(
        &mut new,
        60_000,
        vec![stored_caller(
            1,
            "support",
            call,
            1_000,
            Some(StoredPlace {
                queue: qid("support"),
                priority: 0,
                skills: parse_skill_list("spanish:3").expect("skills"),
                hops: 0,
                waiting_since: ts(1_000),
            }),
        )],
    );
    new.set_state(61_000, "plain", RequestedState::Available);
    assert!(ringing(&new).is_empty(), "no offer to an unskilled agent");
    new.set_state(62_000, "spanish", RequestedState::Available);
    assert_eq!(new.rung, ["spanish"]);
}

#[test]
fn a_caller_that_overflowed_before_a_restart_stays_in_the_new_queue_without_overflowing_again() {
    let bench = || {
        Bench::with(
            vec![
                queue(
                    "support",
                    QueueRouting {
                        max_wait: Some(Duration::from_secs(60)),
                        on_max_wait: Some(Destination::Queue {
                            queue: qid("backup"),
                        }),
                        ..QueueRouting::default()
                    },
                ),
                queue(
                    "backup",
                    QueueRouting {
                        max_wait: Some(Duration::from_secs(600)),
                        ..QueueRouting::default()
                    },
                ),
            ],
            vec![agent("a", &["support"], ""), agent("x", &["backup"], "")],
        )
    };
    let mut old = bench();
    old.enqueue(1_000, 1, "support", 0, "");
    let call = call_on(&old, 1);
    let effects = old.engine.handle(
        ts(61_000),
        Input::TimerFired(Timer::MaxWait { call, hops: 0 }),
    );
    let moved = placed(&effects);
    assert_eq!(
        moved.as_ref().map(|p| (p.queue.as_str(), p.hops)),
        Some(("backup", 1))
    );

    let mut new = bench();
    resync(
        &mut new,
        70_000,
        vec![stored_caller(1, "support", call, 1_000, moved)],
    );
    new.advance(80_000);
    new.check(expect![[r#"
        @70000 a restarted controller resyncs
          timer 601000ms max wait
    "#]]);
    let adopted = &new.engine.calls[&call];
    assert_eq!((adopted.queue.as_str(), adopted.hops), ("backup", 1));
    assert_eq!(adopted.wait_key.entered_at, ts(1_000));
    new.set_state(81_000, "x", RequestedState::Available);
    assert_eq!(new.rung, ["x"], "the backup queue's agent takes it");
}

#[test]
fn a_bridged_call_adopted_after_a_restart_counts_talk_time_from_its_answer() {
    let mut b = Bench::with(
        vec![queue("support", QueueRouting::default())],
        vec![agent("a", &["support"], "")],
    );
    let call = CallId::from_uuid(uuid::Uuid::from_u128(7));
    let mut caller = stored_caller(1, "support", call, 1_000, None);
    caller.bridged_to = Some(chan(2));
    if let Some(stored) = caller.stored.as_mut() {
        stored.answered_at = Some(ts(10_000));
    }
    let agent_leg = ChannelSnapshot {
        channel: chan(2),
        role: ChannelRole::Agent,
        answered: true,
        bridged_to: Some(chan(1)),
        queue: Some(qid("support")),
        agent: Some(aid("a")),
        call: Some(call),
        caller_number: String::new(),
        caller_name: String::new(),
        destination: String::new(),
        stored: None,
        flow_entry: None,
        stored_flow: None,
    };
    resync(&mut b, 70_000, vec![caller, agent_leg]);
    b.hangup(100_000, chan(2), "NORMAL_CLEARING");
    assert!(
        b.trace
            .iter()
            .any(|l| l.contains("store call ended completed NORMAL_CLEARING talk=Some(90000)")),
        "{}",
        b.trace.join("\n")
    );
}

fn resuming_bench() -> Bench {
    Bench::with(
        vec![queue(
            "support",
            QueueRouting {
                abandoned_resume: Some(Duration::from_secs(60)),
                ..QueueRouting::default()
            },
        )],
        vec![agent("a", &["support"], "")],
    )
}

#[test]
fn the_resume_memory_restored_after_a_restart_gives_a_returning_caller_its_place() {
    let mut b = resuming_bench();
    let caller = "493012341".to_owned();
    let restored = b.engine.restore_abandoned(
        ts(40_000),
        vec![
            Abandoned {
                queue: qid("support"),
                caller_number: caller.clone(),
                waiting_since: ts(1_000),
                priority: 4,
                ended_at: ts(10_000),
            },
            // Its window is over: forgotten.
            Abandoned {
                queue: qid("support"),
                caller_number: "493012342".into(),
                waiting_since: ts(0),
                priority: 0,
                ended_at: ts(-30_000),
            },
        ],
    );
    assert_eq!(restored, 1);
    assert_eq!(
        b.engine.resume_memory_since(ts(40_000)),
        Some(ts(-20_000)),
        "the store is asked back as far as the longest window"
    );
    b.enqueue(50_000, 1, "support", 0, "");
    let call = &b.engine.calls[&call_on(&b, 1)];
    assert_eq!(call.wait_key.entered_at, ts(1_000));
    assert_eq!(call.wait_key.priority.0, 4);
    assert!(b
        .trace
        .iter()
        .any(|l| l.contains("store queue resume - since_ms=49000")));
    assert!(b
        .trace
        .iter()
        .any(|l| l.contains("store call placed support priority=4")));
    b.enqueue(55_000, 2, "support", 0, "");
    assert_eq!(
        b.engine.calls[&call_on(&b, 2)].wait_key.entered_at,
        ts(55_000)
    );
}

#[test]
fn a_flow_caller_adopted_after_a_restart_goes_on_at_its_node_with_its_answers() {
    let mut b = ivr(&[("main", ASK_THEN_MENU)]);
    b.flow_call(0, 1, "5000");
    b.done(1_000, 1, "playback");
    b.press(2_000, 1, "42#");
    let waited = b
        .trace
        .iter()
        .rev()
        .find(|l| l.contains("store flow waits at"))
        .cloned();
    assert_eq!(
        waited.as_deref(),
        Some("  store flow waits at menu [(\"account\", \"42\")]")
    );
    let call = b.engine.flow_sessions[&chan(1)].call;

    let mut new = ivr(&[("main", ASK_THEN_MENU)]);
    let mut caller = flow_caller(1, None);
    caller.stored_flow = Some(StoredFlow {
        call,
        flow: FlowId::new("main").expect("flow id"),
        outcome: None,
        variables: vec![("account".into(), "42".into())],
        waiting_at: Some((FlowId::new("main").expect("flow id"), "menu".into())),
    });
    let effects = new.engine.handle(
        ts(60_000),
        Input::SwitchResynced {
            switch: sw(),
            channels: vec![caller],
        },
    );
    new.record(60_000, "a restarted controller resyncs", effects);
    new.done(61_000, 1, "playback");
    new.press(62_000, 1, "1");
    new.check(expect![[r#"
        @60000 a restarted controller resyncs
          play chan1 ivr/menu.wav
          store flow waits at menu [("account", "42")]
        @61000 chan1 playback done: _none_
          timer 66000ms flow waits on chan1
        @62000 chan1 pressed 1
          store flow step menu (menu) keys="1" -> 1
          store flow step check (condition) keys="" -> account = 42
          store flow step known (hangup) keys="" -> hung up
          hangup chan1 NORMAL_CLEARING
          store flow ended hung_up [("account", "42")]
    "#]]);
}

#[test]
fn an_http_request_in_flight_at_a_restart_is_sent_again_if_a_get_and_takes_its_error_branch_if_a_post(
) {
    for (method, expected) in [
        ("GET", "http Get http://crm.example.com/a/42 "),
        ("POST", "store flow step ask (http) keys=\"\" -> error"),
    ] {
        let flow = HTTP_NODE.replace("METHOD", method);
        let mut b = ivr(&[("main", &flow)]);
        let mut caller = flow_caller(1, None);
        caller.stored_flow = Some(StoredFlow {
            call: CallId::from_uuid(uuid::Uuid::from_u128(5)),
            flow: FlowId::new("main").expect("flow id"),
            outcome: None,
            variables: vec![("account".into(), "42".into())],
            waiting_at: Some((FlowId::new("main").expect("flow id"), "ask".into())),
        });
        resync(&mut b, 60_000, vec![caller]);
        assert!(
            b.trace
                .iter()
                .any(|l| l.trim_start() == expected.trim_end() || l.trim_start() == expected),
            "{method}: {}",
            b.trace.join("\n")
        );
        let sent = b.trace.iter().any(|l| l.contains("http "));
        assert_eq!(sent, method == "GET", "{method}");
    }
}

#[test]
fn a_flow_node_a_reload_removed_starts_the_flow_again() {
    let mut b = ivr(&[("main", ASK_THEN_MENU)]);
    let mut caller = flow_caller(1, Some((3, None)));
    if let Some(stored) = caller.stored_flow.as_mut() {
        stored.waiting_at = Some((FlowId::new("main").expect("flow id"), "gone".into()));
    }
    resync(&mut b, 60_000, vec![caller]);
    assert!(b
        .trace
        .iter()
        .any(|l| l.contains("play chan1 ivr/account.wav")));
}

const ASK_THEN_MENU: &str = r##"
start = "account"
entry_points = ["5000"]

[node.account]
kind = "collect"
prompt = "ivr/account.wav"
max_digits = 8
terminator = "#"
timeout = "5s"
variable = "account"
next = "menu"
on_failure = "bye"

[node.menu]
kind = "menu"
prompt = "ivr/menu.wav"
timeout = "5s"
on_invalid = "bye"
on_no_input = "bye"
[node.menu.options]
1 = "check"

[node.check]
kind = "condition"
otherwise = "bye"
[[node.check.when]]
variable = "account"
equals = "42"
next = "known"

[node.known]
kind = "hangup"
cause = "NORMAL_CLEARING"

[node.bye]
kind = "hangup"
cause = "NORMAL_CLEARING"
"##;

const HTTP_NODE: &str = r#"
start = "ask"
entry_points = ["5000"]

[node.ask]
kind = "http"
method = "METHOD"
url = "http://crm.example.com/a/{{account}}"
timeout = "2s"
next = "bye"
on_error = "sorry"

[node.sorry]
kind = "play"
file = "ivr/sorry.wav"
next = "bye"

[node.bye]
kind = "hangup"
"#;
