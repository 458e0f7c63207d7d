//! Service-level alarms: raised when a queue crosses a threshold, cleared when it is back,
//! judged once a second.

use std::time::Duration;

use super::*;
use crate::engine::routing::{ServiceLevelTarget, Thresholds};

/// One agent (logged out) in `support`, whose thresholds are `thresholds`.
fn bench_with(thresholds: Thresholds) -> Bench {
    let mut b = Bench::new(&["1001"], 0);
    b.engine.provision_queue(QueueSettings {
        id: qid("support"),
        name: "Support".into(),
        moh: "local_stream://moh".into(),
        wrap_up: Duration::ZERO,
        ring_timeout: Duration::from_secs(20),
        busy_backoff: Duration::from_secs(10),
        routing: QueueRouting {
            thresholds,
            ..QueueRouting::default()
        },
    });
    let armed = b.engine.start_threshold_checks(ts(0));
    b.record(0, "threshold checks start", armed);
    b
}

fn check(b: &mut Bench, at: i64) {
    b.timer(at, Timer::Thresholds);
}

/// The alarm lines of the trace.
fn alarms(b: &Bench) -> Vec<String> {
    b.trace
        .iter()
        .filter(|l| l.contains("threshold"))
        .map(|l| l.trim().to_owned())
        .collect()
}

#[test]
fn too_many_callers_waiting_raises_an_alarm_that_clears_when_the_queue_is_back_within_it() {
    let mut b = bench_with(Thresholds {
        waiting: Some(1),
        ..Thresholds::default()
    });
    b.park(100, 1, "111");
    check(&mut b, 1_000);
    b.park(1_100, 2, "222");
    check(&mut b, 2_000);
    check(&mut b, 3_000);
    b.hangup(3_500, chan(1), "ORIGINATOR_CANCEL");
    check(&mut b, 4_000);
    assert_eq!(
        alarms(&b),
        [
            "@0 threshold checks start",
            "timer 1000ms thresholds",
            "timer 2000ms thresholds",
            "store threshold support waiting raised value=2 limit=1",
            "timer 3000ms thresholds",
            "timer 4000ms thresholds",
            "store threshold support waiting cleared value=1 limit=1",
            "timer 5000ms thresholds",
        ]
    );
}

#[test]
fn a_caller_waiting_longer_than_the_limit_raises_the_longest_wait_alarm_until_it_is_served() {
    let mut b = bench_with(Thresholds {
        longest_wait: Some(Duration::from_secs(5)),
        ..Thresholds::default()
    });
    b.park(0, 1, "111");
    check(&mut b, 5_000);
    check(&mut b, 6_000);
    b.available(6_200, "1001");
    b.answer_leg(6_400, 1);
    check(&mut b, 7_000);
    let raised: Vec<String> = alarms(&b)
        .into_iter()
        .filter(|l| l.starts_with("store"))
        .collect();
    assert_eq!(
        raised,
        [
            "store threshold support longest_wait raised value=6000 limit=5000",
            "store threshold support longest_wait cleared value=0 limit=5000",
        ]
    );
    assert!(b.engine.snapshot(ts(7_000)).queues[0].alarms.is_empty());
}

#[test]
fn the_service_level_counts_answers_within_the_target_and_late_abandons_but_not_early_ones() {
    let mut b = bench_with(Thresholds {
        service_level: Some(ServiceLevelTarget {
            percent: 80,
            within: Duration::from_secs(20),
            window: Duration::from_secs(600),
            min_calls: 2,
        }),
        ..Thresholds::default()
    });
    // Hung up after 5 s: not held against the queue.
    b.park(0, 1, "111");
    b.hangup(5_000, chan(1), "ORIGINATOR_CANCEL");
    check(&mut b, 6_000);
    // Hung up after 30 s, and answered after 25 s: 0 of 2 met.
    b.park(6_000, 2, "222");
    b.hangup(36_000, chan(2), "ORIGINATOR_CANCEL");
    b.park(36_000, 3, "333");
    b.available(61_000, "1001");
    b.answer_leg(61_000, 1);
    check(&mut b, 62_000);
    assert_eq!(
        b.engine.snapshot(ts(62_000)).queues[0].alarms,
        ["service_level"]
    );
    let stored: Vec<String> = alarms(&b)
        .into_iter()
        .filter(|l| l.starts_with("store"))
        .collect();
    assert_eq!(
        stored,
        ["store threshold support service_level raised value=0 limit=80"]
    );
    // The window moves on past the bad calls and the alarm stays up while there are too few
    // calls to judge; then well-answered calls bring it back.
    b.hangup(63_000, b.leg(1), "NORMAL_CLEARING");
    for (n, at) in [(4u32, 700_000i64), (5, 701_000), (6, 702_000), (7, 703_000)] {
        b.park(at, n, "444");
        b.answer_leg(at + 100, (n - 2) as usize);
        b.hangup(at + 500, b.leg((n - 2) as usize), "NORMAL_CLEARING");
    }
    check(&mut b, 704_000);
    let stored: Vec<String> = alarms(&b)
        .into_iter()
        .filter(|l| l.starts_with("store"))
        .collect();
    assert_eq!(
        stored.last().map(String::as_str),
        Some("store threshold support service_level cleared value=100 limit=80")
    );
}

#[test]
fn no_timer_is_set_when_no_queue_has_thresholds() {
    let mut b = Bench::new(&["1001"], 0);
    assert!(b.engine.start_threshold_checks(ts(0)).is_empty());
    b.park(0, 1, "111");
    let effects = b
        .engine
        .handle(ts(1_000), Input::TimerFired(Timer::Thresholds));
    assert!(effects.is_empty(), "{effects:?}");
}
