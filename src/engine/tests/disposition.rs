//! Disposition codes and the end of after-call work: a code given on the call or in wrap-up,
//! checked against the queue's list, announced with `call.wrapped_up`; a required code holds
//! the agent in wrap-up; wrap-up extended up to the queue's maximum.

use std::time::Duration;

use super::*;
use crate::engine::wrap_up_work::{DispositionCode, WrapUpWork};
use crate::engine::WrapUpError;

fn bench(wrap_up_ms: u64, required: bool) -> (Bench, CallId) {
    let mut support = queue(
        "support",
        QueueRouting {
            wrap_up_work: WrapUpWork {
                disposition_codes: vec![
                    DispositionCode {
                        code: "1".into(),
                        label: "Sale".into(),
                    },
                    DispositionCode {
                        code: "2".into(),
                        label: "No sale".into(),
                    },
                ],
                disposition_required: required,
                max_wrap_up: Some(Duration::from_secs(60)),
            },
            ..QueueRouting::default()
        },
    );
    support.wrap_up = Duration::from_millis(wrap_up_ms);
    let mut b = Bench::with(
        vec![support],
        vec![agent("a", &["support"], ""), agent("b", &["support"], "")],
    );
    b.set_state(0, "a", RequestedState::Available);
    b.enqueue(100, 1, "support", 0, "");
    b.answer(1_000, "a");
    b.trace.clear();
    let call = b.only_call();
    (b, call)
}

impl Bench {
    fn dispose(
        &mut self,
        at: i64,
        call: CallId,
        code: &str,
        agent: Option<&str>,
    ) -> Result<DispositionSetShown, WrapUpError> {
        let agent = agent.map(aid);
        let (set, effects) = self
            .engine
            .set_disposition(ts(at), call, code, agent.as_ref())?;
        self.record(at, &format!("disposition {code}"), effects);
        Ok(DispositionSetShown(set.agent.to_string()))
    }
}

#[derive(Debug, PartialEq)]
struct DispositionSetShown(String);

#[test]
fn a_code_given_during_the_call_is_announced_when_wrap_up_ends() {
    let (mut b, call) = bench(10_000, false);
    assert_eq!(
        b.dispose(2_000, call, "1", Some("a")),
        Ok(DispositionSetShown("a".into()))
    );
    b.agent_hangs_up(5_000, "a", "NORMAL_CLEARING");
    b.advance(20_000);
    assert_eq!(b.status("a"), AgentStatus::Available);
    assert_eq!(b.wrap_ups, ["a 1 10000"]);
}

#[test]
fn a_code_in_wrap_up_replaces_the_earlier_one_and_codes_are_checked() {
    let (mut b, call) = bench(10_000, false);
    b.agent_hangs_up(5_000, "a", "NORMAL_CLEARING");
    assert!(matches!(
        b.dispose(6_000, call, "9", None),
        Err(WrapUpError::UnknownCode { .. })
    ));
    assert!(matches!(
        b.dispose(6_000, call, "1", Some("b")),
        Err(WrapUpError::NotTheAgentsCall { .. })
    ));
    b.dispose(6_000, call, "1", None).expect("taken");
    b.dispose(7_000, call, "2", None).expect("taken");
    b.advance(20_000);
    assert_eq!(b.wrap_ups, ["a 2 10000"]);
    // Once wrapped up, the call takes no more codes.
    assert_eq!(
        b.dispose(21_000, call, "1", None),
        Err(WrapUpError::NotHandled(call))
    );
}

#[test]
fn a_required_code_holds_the_agent_in_wrap_up_until_it_is_given() {
    let (mut b, call) = bench(0, true);
    b.agent_hangs_up(5_000, "a", "NORMAL_CLEARING");
    b.advance(5_000);
    assert_eq!(b.status("a"), AgentStatus::WrapUp, "no code yet");
    // Neither REST nor the wrap-up's end make the agent available.
    assert!(b
        .engine
        .request_state_after_call(ts(6_000), &aid("a"), RequestedState::Available, false)
        .is_err());
    b.advance(60_000);
    assert_eq!(b.status("a"), AgentStatus::WrapUp);
    // A second caller waits meanwhile.
    b.enqueue(61_000, 2, "support", 0, "");
    assert_eq!(b.rung, ["a"]);
    b.dispose(62_000, call, "2", None).expect("taken");
    assert_eq!(
        b.status("a"),
        AgentStatus::Offered,
        "the waiting caller at once"
    );
    assert_eq!(b.wrap_ups, ["a 2 57000"]);
}

#[test]
fn a_pending_pause_waits_for_a_required_code_too() {
    let (mut b, call) = bench(1_000, true);
    b.engine
        .request_state_after_call(
            ts(2_000),
            &aid("a"),
            RequestedState::Paused {
                reason: "lunch".into(),
            },
            false,
        )
        .expect("pending");
    b.agent_hangs_up(5_000, "a", "NORMAL_CLEARING");
    b.advance(10_000);
    assert_eq!(b.status("a"), AgentStatus::WrapUp);
    b.dispose(11_000, call, "1", None).expect("taken");
    assert_eq!(b.status("a"), AgentStatus::Paused);
}

#[test]
fn wrap_up_is_extended_up_to_the_queues_maximum() {
    let (mut b, _) = bench(10_000, false);
    b.agent_hangs_up(5_000, "a", "NORMAL_CLEARING");
    let (until, effects) = b
        .engine
        .extend_wrap_up(ts(6_000), &aid("a"), Duration::from_secs(20))
        .expect("extended");
    b.record(6_000, "a extends wrap-up by 20s", effects);
    assert_eq!(until, ts(35_000));
    let (until, effects) = b
        .engine
        .extend_wrap_up(ts(7_000), &aid("a"), Duration::from_secs(600))
        .expect("extended");
    b.record(7_000, "a extends wrap-up by 600s", effects);
    assert_eq!(until, ts(65_000), "at most 60 s from the start of wrap-up");
    b.advance(30_000);
    assert_eq!(b.status("a"), AgentStatus::WrapUp, "the old end is stale");
    b.advance(65_000);
    assert_eq!(b.status("a"), AgentStatus::Available);
    assert_eq!(
        b.engine
            .extend_wrap_up(ts(66_000), &aid("a"), Duration::from_secs(5))
            .map(|(t, _)| t),
        Err(WrapUpError::NotInWrapUp(aid("a")))
    );
}

fn dial_code(b: &mut Bench, at: i64, agent: &str, code: Option<&str>) {
    let effects = b.engine.handle(
        ts(at),
        Input::FeatureCode {
            switch: sw(),
            channel: chan(900 + u32::try_from(at / 1_000).expect("small")),
            feature: Feature::Disposition,
            user: agent.into(),
            reason: code.map(str::to_owned),
            agent_number: None,
            pin: None,
            destination: String::new(),
            context: "default".into(),
        },
    );
    b.record(at, &format!("{agent} dials disposition {code:?}"), effects);
}

#[test]
fn a_code_keyed_in_from_the_phone_is_checked_and_ends_a_held_wrap_up() {
    let (mut b, _) = bench(0, true);
    dial_code(&mut b, 2_000, "a", Some("1"));
    b.agent_hangs_up(5_000, "a", "NORMAL_CLEARING");
    assert_eq!(b.status("a"), AgentStatus::Available, "given on the call");
    assert_eq!(b.wrap_ups, ["a 1 0"]);

    let (mut b, _) = bench(0, true);
    b.agent_hangs_up(5_000, "a", "NORMAL_CLEARING");
    b.advance(5_000);
    dial_code(&mut b, 6_000, "a", Some("7"));
    assert_eq!(b.status("a"), AgentStatus::WrapUp, "7 is not a code");
    dial_code(&mut b, 7_000, "a", Some("2"));
    assert_eq!(b.status("a"), AgentStatus::Available);
    dial_code(&mut b, 8_000, "b", Some("2"));
    let heard: Vec<&String> = b.trace.iter().filter(|l| l.contains("play")).collect();
    assert!(
        heard.iter().any(|l| l.contains("invalid_entry")),
        "{:#?}",
        b.trace
    );
}
