//! The whisper to the agent before the caller is connected.

use super::*;

const WHISPER: &str = "switchboard/queue-support.wav";

fn whispering(strategy: Strategy, agents: &[&str]) -> Bench {
    let mut b = Bench::with(
        vec![queue(
            "support",
            QueueRouting {
                strategy,
                whisper: Some(WHISPER.into()),
                ..QueueRouting::default()
            },
        )],
        agents
            .iter()
            .map(|id| agent(id, &["support"], ""))
            .collect(),
    );
    for (at, id) in agents.iter().enumerate() {
        b.set_state(at as i64, id, RequestedState::Available);
    }
    b
}

fn call_state(b: &mut Bench) -> Option<&'static str> {
    b.engine.snapshot(ts(0)).calls.first().map(|c| c.state)
}

#[test]
fn the_agent_hears_the_whisper_and_the_caller_is_bridged_when_it_ends() {
    let mut b = whispering(Strategy::LongestIdleAgent, &["a"]);
    b.enqueue(100, 1, "support", 0, "");
    b.answer(300, "a");
    assert_eq!(call_state(&mut b), Some("whispering"));
    assert_eq!(b.status("a"), AgentStatus::OnCall);
    // The caller's hold music and the agent leg's park finishing change nothing.
    b.media_done(310, chan(1), "playback", "FILE PLAYED");
    b.media_done(320, b.leg_of("a"), "park", "_none_");
    b.media_done(2_300, b.leg_of("a"), "playback", "FILE PLAYED");
    assert_eq!(call_state(&mut b), Some("bridged"));
    b.agent_hangs_up(12_300, "a", "NORMAL_CLEARING");
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
        @300 a answered
          play id1 switchboard/queue-support.wav
          timer 30300ms whisper ends
          store agent a offered -> on_call
        @310 chan1 playback done: FILE PLAYED
        @320 id1 park done: _none_
        @2300 id1 playback done: FILE PLAYED
          break chan1
          bridge chan1 id1
          store call answered by a after 200ms
          store queue connect a wait_ms=200 whisper_ms=2000
        @12300 id1 hung up NORMAL_CLEARING
          store queue complete a by=agent talk_ms=12000
          store call ended completed NORMAL_CLEARING talk=Some(12000)
          store agent a on_call -> available
    "#]]);
    assert_eq!(b.engine.counters().answered, 1);
}

#[test]
fn a_whisper_the_switch_cannot_find_connects_the_caller_at_once() {
    let mut b = whispering(Strategy::LongestIdleAgent, &["a"]);
    b.enqueue(100, 1, "support", 0, "");
    b.answer(300, "a");
    b.media_done(300, b.leg_of("a"), "playback", "FILE NOT FOUND");
    assert_eq!(call_state(&mut b), Some("bridged"));
    assert!(b.trace.iter().any(|l| l == "  bridge chan1 id1"));
}

#[test]
fn a_whisper_refused_by_the_switch_connects_the_caller_at_once() {
    let mut b = whispering(Strategy::LongestIdleAgent, &["a"]);
    b.enqueue(100, 1, "support", 0, "");
    b.answer(300, "a");
    let effects = b.engine.handle(
        ts(310),
        Input::CommandFailed {
            switch: sw(),
            command: SwitchCommand::Play {
                channel: b.leg_of("a"),
                source: WHISPER.into(),
            },
            reply: "-ERR invalid session id".into(),
        },
    );
    b.record(310, "play refused", effects);
    assert_eq!(call_state(&mut b), Some("bridged"));
    assert!(b.trace.iter().any(|l| l == "  bridge chan1 id1"));
}

#[test]
fn the_caller_hanging_up_during_the_whisper_abandons_and_the_agent_is_free_at_once() {
    let mut b = Bench::with(
        vec![queue(
            "support",
            QueueRouting {
                whisper: Some(WHISPER.into()),
                ..QueueRouting::default()
            },
        )],
        vec![agent("a", &["support"], "")],
    );
    // A wrap-up that the agent does not get: it never talked to the caller.
    if let Some(q) = b.engine.queues.get_mut(&qid("support")) {
        q.settings.wrap_up = Duration::from_secs(30);
    }
    b.set_state(0, "a", RequestedState::Available);
    b.enqueue(100, 1, "support", 0, "");
    b.answer(300, "a");
    b.hangup(1_000, chan(1), "NORMAL_CLEARING");
    // The switch then reports the killed agent leg and its whisper: nothing more happens.
    b.media_done(1_010, b.leg_of("a"), "playback", "PLAYBACK ERROR");
    b.agent_hangs_up(1_020, "a", "NORMAL_CLEARING");
    b.advance(40_000);
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
        @300 a answered
          play id1 switchboard/queue-support.wav
          timer 30300ms whisper ends
          store agent a offered -> on_call
        @1000 chan1 hung up NORMAL_CLEARING
          kill id1 NORMAL_CLEARING
          store queue abandon - wait_ms=900
          store call ended abandoned NORMAL_CLEARING talk=None
          store agent a on_call -> available
        @1010 id1 playback done: PLAYBACK ERROR
        @1020 id1 hung up NORMAL_CLEARING
    "#]]);
    assert_eq!(b.engine.counters().abandoned, 1);
    assert_eq!(b.engine.counters().answered, 0);
    assert_eq!(b.status("a"), AgentStatus::Available);
}

#[test]
fn the_agent_hanging_up_during_the_whisper_sends_the_caller_back_to_its_place() {
    let mut b = whispering(Strategy::TopDown, &["a", "b"]);
    b.enqueue(100, 1, "support", 0, "");
    b.enqueue(200, 2, "support", 0, "");
    b.answer(300, "a");
    b.agent_hangs_up(1_000, "a", "NORMAL_CLEARING");
    b.check(expect![[r#"
        @0 a requests Available
          store agent a logged_out -> available
        @1 b requests Available
          store agent b logged_out -> available
        @100 chan1 parked for support
          store call entered support from 493012341
          store queue enter - priority=0
          store agent a available -> offered
          store queue offer a leg=id1
          originate id1 to a via user/a
          timer 25100ms ring timeout id1
          answer chan1
          hold chan1 local_stream://support
        @200 chan2 parked for support
          store call entered support from 493012342
          store queue enter - priority=0
          store agent b available -> offered
          store queue offer b leg=id2
          originate id2 to b via user/b
          timer 25200ms ring timeout id2
          answer chan2
          hold chan2 local_stream://support
        @300 a answered
          play id1 switchboard/queue-support.wav
          timer 30300ms whisper ends
          store agent a offered -> on_call
        @1000 id1 hung up NORMAL_CLEARING
          store queue ring_no_answer a NORMAL_CLEARING in whisper
          store agent a on_call -> available
          timer 11000ms back-off of a ends
    "#]]);
    // The caller waits again, still on hold music, ahead of anyone who came later.
    assert_eq!(call_state(&mut b), Some("waiting"));
    assert!(b.engine.calls.values().all(|c| c.on_hold));
    b.enqueue(2_000, 3, "support", 0, "");
    b.advance(11_000);
    assert_eq!(b.rung.last().map(String::as_str), Some("a"));
    let rung_for = b
        .engine
        .calls
        .values()
        .find(|c| {
            matches!(&c.state, model::CallState::Ringing { rings, .. }
                if rings.iter().any(|r| r.agent.as_str() == "a"))
        })
        .map(|c| c.caller.clone());
    assert_eq!(rung_for, Some(chan(1)));
}

#[test]
fn a_whisper_whose_end_is_never_reported_connects_the_caller_at_the_guard_timer() {
    let mut b = whispering(Strategy::LongestIdleAgent, &["a"]);
    b.enqueue(100, 1, "support", 0, "");
    b.answer(300, "a");
    b.advance(30_300);
    // A late report of the whisper's end changes nothing.
    b.media_done(30_400, b.leg_of("a"), "playback", "FILE PLAYED");
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
        @300 a answered
          play id1 switchboard/queue-support.wav
          timer 30300ms whisper ends
          store agent a offered -> on_call
        @30300 WhisperEnds fired
          break id1
          break chan1
          bridge chan1 id1
          store call answered by a after 200ms
          store queue connect a wait_ms=200 whisper_ms=30000
        @30400 id1 playback done: FILE PLAYED
    "#]]);
}

#[test]
fn the_guard_timer_of_an_earlier_whisper_does_not_cut_a_later_one_short() {
    let mut b = whispering(Strategy::LongestIdleAgent, &["a", "b"]);
    b.enqueue(100, 1, "support", 0, "");
    b.answer(300, "a");
    b.agent_hangs_up(1_000, "a", "NORMAL_CLEARING");
    b.answer(20_000, "b");
    // The first whisper's guard fires while b hears the second one.
    b.advance(30_300);
    assert_eq!(call_state(&mut b), Some("whispering"));
    b.advance(50_000);
    assert_eq!(call_state(&mut b), Some("bridged"));
}

#[test]
fn ring_all_losers_are_released_when_one_agent_answers_into_the_whisper() {
    let mut b = whispering(Strategy::RingAll, &["a", "b"]);
    b.enqueue(100, 1, "support", 0, "");
    b.answer(300, "b");
    b.check(expect![[r#"
        @0 a requests Available
          store agent a logged_out -> available
        @1 b requests Available
          store agent b logged_out -> available
        @100 chan1 parked for support
          store call entered support from 493012341
          store queue enter - priority=0
          store agent a available -> offered
          store queue offer a leg=id1
          originate id1 to a via user/a
          timer 25100ms ring timeout id1
          store agent b available -> offered
          store queue offer b leg=id2
          originate id2 to b via user/b
          timer 25100ms ring timeout id2
          answer chan1
          hold chan1 local_stream://support
        @300 b answered
          play id2 switchboard/queue-support.wav
          timer 30300ms whisper ends
          store agent b offered -> on_call
          kill id1 LOSE_RACE
          store agent a offered -> available
    "#]]);
}

fn resync(b: &mut Bench, at: i64, channels: Vec<ChannelSnapshot>) {
    let effects = b.engine.handle(
        ts(at),
        Input::SwitchResynced {
            switch: sw(),
            channels,
        },
    );
    b.record(at, "resync", effects);
}

fn snapshot(channel: ChannelId, role: ChannelRole) -> ChannelSnapshot {
    ChannelSnapshot {
        channel,
        role,
        answered: true,
        bridged_to: None,
        queue: Some(qid("support")),
        agent: None,
        call: None,
        caller_number: String::new(),
        caller_name: String::new(),
        destination: String::new(),
        stored: None,
        flow_entry: None,
        stored_flow: None,
    }
}

#[test]
fn a_resync_during_the_whisper_plays_it_again_and_the_guard_still_holds() {
    let mut b = whispering(Strategy::LongestIdleAgent, &["a"]);
    b.enqueue(100, 1, "support", 0, "");
    b.answer(300, "a");
    let leg = b.leg_of("a");
    resync(
        &mut b,
        5_000,
        vec![
            snapshot(chan(1), ChannelRole::Caller),
            snapshot(leg.clone(), ChannelRole::Agent),
        ],
    );
    b.media_done(6_000, leg, "playback", "FILE PLAYED");
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
        @300 a answered
          play id1 switchboard/queue-support.wav
          timer 30300ms whisper ends
          store agent a offered -> on_call
        @5000 resync
          break id1
          play id1 switchboard/queue-support.wav
        @6000 id1 playback done: FILE PLAYED
          break chan1
          bridge chan1 id1
          store call answered by a after 200ms
          store queue connect a wait_ms=200 whisper_ms=5700
    "#]]);
}

#[test]
fn a_resync_that_finds_the_whispering_agent_leg_gone_puts_the_caller_back_in_line() {
    let mut b = whispering(Strategy::LongestIdleAgent, &["a"]);
    b.enqueue(100, 1, "support", 0, "");
    b.answer(300, "a");
    resync(&mut b, 5_000, vec![snapshot(chan(1), ChannelRole::Caller)]);
    assert_eq!(call_state(&mut b), Some("waiting"));
    assert!(b
        .trace
        .iter()
        .any(|l| l == "  store queue ring_no_answer a CHANNEL_LOST in whisper"));
}

#[test]
fn a_resync_that_finds_the_caller_gone_during_the_whisper_frees_the_agent() {
    let mut b = whispering(Strategy::LongestIdleAgent, &["a"]);
    b.enqueue(100, 1, "support", 0, "");
    b.answer(300, "a");
    let leg = b.leg_of("a");
    resync(&mut b, 5_000, vec![snapshot(leg, ChannelRole::Agent)]);
    assert!(b.engine.calls.is_empty());
    assert_eq!(b.status("a"), AgentStatus::Available);
    assert!(b.trace.iter().any(|l| l == "  kill id1 NORMAL_CLEARING"));
}

#[test]
fn a_callback_agent_hears_the_whisper_before_the_ringback() {
    let mut b = Bench::with(
        vec![queue(
            "support",
            QueueRouting {
                whisper: Some(WHISPER.into()),
                callback: Some(CallbackSettings {
                    key: '1',
                    dial: "sofia/gateway/pstn/{number}".into(),
                    ..CallbackSettings::default()
                }),
                ..QueueRouting::default()
            },
        )],
        vec![agent("a", &["support"], "")],
    );
    b.enqueue(100, 1, "support", 0, "");
    b.press(1_000, 1, "1#");
    b.set_state(2_000, "a", RequestedState::Available);
    b.answer(2_100, "a");
    let after_answer: Vec<&str> = b
        .trace
        .iter()
        .skip_while(|l| !l.starts_with("@2100"))
        .map(String::as_str)
        .filter(|l| l.contains("play") || l.contains("hold") || l.contains("dial"))
        .collect();
    assert_eq!(
        after_answer,
        [
            "  play id1 switchboard/queue-support.wav",
            "  hold id1 tone_stream://%(2000,4000,440,480);loops=-1",
            "  dial id2 via sofia/gateway/pstn/493012341",
        ]
    );
}
