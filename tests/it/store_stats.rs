//! Statistics' facts on both databases: each metric's definition over visits written as the
//! engine writes them (answered within the target or not, short and late abandons, a caller
//! still waiting, hold and wrap-up, a transfer, an overflow counted in both queues), calls
//! counted in the interval they were offered in across midnight and a DST day of the zone, agents'
//! time split across intervals, and the same numbers read by a controller started afterwards.

use std::collections::BTreeMap;
use std::time::Instant;

use switchboard::engine::{
    AgentId, AgentStatus, CallId, CallOutcome, ChannelId, HoldBy, QueueEventKind, QueueId, Record,
    StateCause, SwitchName, Timestamp,
};
use switchboard::stats::agents::fold_states;
use switchboard::stats::intervals::{parse_instant, time_zone};
use switchboard::stats::{AgentTotals, Interval, Period, QueueBucket, QueueTotals};
use switchboard::store::Store;

use crate::store::TestDb;

const S: i64 = 1_000;
const MIN: i64 = 60 * S;
const WITHIN: i64 = 20 * S;
const SHORT: i64 = 5 * S;

fn at(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>().expect("time").as_millisecond()
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

fn agent(id: &str) -> AgentId {
    AgentId::new(id).expect("agent")
}

/// Writes one call's records the way the engine does, one batch per step.
struct Call {
    id: CallId,
}

impl Call {
    async fn enter(store: &Store, queue: &str, at: i64) -> Call {
        let id = CallId::from_uuid(uuid::Uuid::new_v4());
        let channel = ChannelId::parse(&uuid::Uuid::new_v4().to_string()).expect("uuid");
        store
            .write(&[
                Record::CallEntered {
                    call: id,
                    switch: SwitchName::new("fs-1").expect("switch"),
                    channel,
                    queue: QueueId::new(queue).expect("queue"),
                    caller_number: "+4930123456".to_owned(),
                    caller_name: "Erika".to_owned(),
                    destination: "5000".to_owned(),
                    priority: 0,
                    at: ts(at),
                },
                event(id, queue, None, QueueEventKind::Enter, "priority=0", at),
            ])
            .await
            .expect("enter");
        Call { id }
    }

    async fn event(
        &self,
        store: &Store,
        queue: &str,
        who: Option<&str>,
        kind: QueueEventKind,
        detail: &str,
        at: i64,
    ) {
        store
            .write(&[event(self.id, queue, who, kind, detail, at)])
            .await
            .expect("event");
    }

    async fn answer(&self, store: &Store, queue: &str, who: &str, at: i64) {
        let leg = ChannelId::parse(&uuid::Uuid::new_v4().to_string()).expect("uuid");
        store
            .write(&[
                Record::CallAnswered {
                    call: self.id,
                    agent: agent(who),
                    agent_channel: leg,
                    wait_ms: 0,
                    at: ts(at),
                },
                event(
                    self.id,
                    queue,
                    Some(who),
                    QueueEventKind::Connect,
                    "wait_ms=0",
                    at,
                ),
            ])
            .await
            .expect("answer");
    }

    async fn hold(&self, store: &Store, queue: &str, who: &str, held_ms: i64, at: i64) {
        store
            .write(&[Record::CallResumed {
                call: self.id,
                queue: QueueId::new(queue).expect("queue"),
                agent: Some(agent(who)),
                by: HoldBy::AgentPhone,
                held_ms,
                total_ms: held_ms,
                holds: 1,
                at: ts(at),
            }])
            .await
            .expect("hold");
    }

    async fn complete(&self, store: &Store, queue: &str, who: &str, talk_ms: i64, at: i64) {
        store
            .write(&[
                event(
                    self.id,
                    queue,
                    Some(who),
                    QueueEventKind::Complete,
                    &format!("by=caller talk_ms={talk_ms}"),
                    at,
                ),
                self.ended(CallOutcome::Completed, Some(talk_ms), at),
            ])
            .await
            .expect("complete");
    }

    async fn wrapped_up(&self, store: &Store, queue: &str, who: &str, wrap_up_ms: i64, at: i64) {
        store
            .write(&[Record::CallWrappedUp {
                call: self.id,
                agent: agent(who),
                queue: QueueId::new(queue).expect("queue"),
                disposition: None,
                wrap_up_ms,
                at: ts(at),
            }])
            .await
            .expect("wrap-up");
    }

    async fn abandon(&self, store: &Store, queue: &str, wait_ms: i64, at: i64) {
        store
            .write(&[
                event(
                    self.id,
                    queue,
                    None,
                    QueueEventKind::Abandon,
                    &format!("wait_ms={wait_ms}"),
                    at,
                ),
                self.ended(CallOutcome::Abandoned, None, at),
            ])
            .await
            .expect("abandon");
    }

    fn ended(&self, outcome: CallOutcome, talk_ms: Option<i64>, at: i64) -> Record {
        Record::CallEnded {
            call: self.id,
            outcome,
            hangup_cause: "NORMAL_CLEARING".to_owned(),
            talk_ms,
            wait_ms: None,
            at: ts(at),
        }
    }

    async fn end(&self, store: &Store, outcome: CallOutcome, at: i64) {
        store
            .write(&[self.ended(outcome, None, at)])
            .await
            .expect("end");
    }
}

fn event(
    call: CallId,
    queue: &str,
    who: Option<&str>,
    kind: QueueEventKind,
    detail: &str,
    at: i64,
) -> Record {
    Record::QueueEvent {
        call,
        queue: QueueId::new(queue).expect("queue"),
        agent: who.map(agent),
        kind,
        detail: detail.to_owned(),
        at: ts(at),
    }
}

/// Per queue, per interval of `period`: the store's buckets folded as the API folds them.
async fn report(store: &Store, period: &Period) -> BTreeMap<String, Vec<QueueBucket>> {
    let rows = store
        .queue_buckets(period.from, period.to, WITHIN, SHORT, None)
        .await
        .expect("buckets");
    let mut out: BTreeMap<String, Vec<QueueBucket>> = BTreeMap::new();
    for row in rows {
        let intervals = out
            .entry(row.queue)
            .or_insert_with(|| vec![QueueBucket::default(); period.len()]);
        intervals[period.index_of(row.bucket)].add(&row.sums);
    }
    out
}

/// A whole period's totals of one queue.
async fn totals(store: &Store, queue: &str, from: i64, to: i64) -> QueueTotals {
    let period = Period::whole(from, to);
    let b = report(store, &period)
        .await
        .remove(queue)
        .map(|v| v[0])
        .unwrap_or_default();
    QueueTotals::from_bucket(&b)
}

async fn each_metric_follows_its_definition(store: Store, _db: &TestDb) {
    let t0 = at("2026-12-07T08:00:00Z");
    // Answered after 15 s (within 20 s), held 5 s, 60 s connected, 10 s of wrap-up.
    let a = Call::enter(&store, "support", t0 + 10 * S).await;
    a.answer(&store, "support", "1001", t0 + 25 * S).await;
    a.hold(&store, "support", "1001", 5 * S, t0 + 40 * S).await;
    a.complete(&store, "support", "1001", 60 * S, t0 + 85 * S)
        .await;
    a.wrapped_up(&store, "support", "1001", 10 * S, t0 + 95 * S)
        .await;
    // A short abandon (3 s) and a late one (30 s).
    let b = Call::enter(&store, "support", t0 + 20 * S).await;
    b.abandon(&store, "support", 3 * S, t0 + 23 * S).await;
    let c = Call::enter(&store, "support", t0 + 30 * S).await;
    c.abandon(&store, "support", 30 * S, t0 + 60 * S).await;
    // Still waiting.
    Call::enter(&store, "support", t0 + 40 * S).await;
    // Answered after 30 s, then transferred out after 10 s of talk.
    let e = Call::enter(&store, "support", t0 + 50 * S).await;
    e.answer(&store, "support", "1002", t0 + 80 * S).await;
    e.event(
        &store,
        "support",
        Some("1002"),
        QueueEventKind::Transfer,
        "kind=blind from=1002 to=number:5551234 by=1002 talk_ms=10000",
        t0 + 90 * S,
    )
    .await;
    e.end(&store, CallOutcome::Transferred, t0 + 200 * S).await;

    let t = totals(&store, "support", t0, t0 + 3_600 * S).await;
    assert_eq!(
        (t.offered, t.answered, t.answered_within_target, t.abandoned),
        (5, 2, 1, 2)
    );
    assert_eq!((t.short_abandoned, t.abandoned_after_target), (1, 1));
    assert_eq!((t.still_waiting, t.transfers_out), (1, 1));
    // 4 visits have a result; the short abandon is left out of the headline.
    assert_eq!(t.service_level_percent, Some(33.3)); // 1 / 3
    assert_eq!(t.service_level_offered_percent, Some(25.0)); // 1 / 4
    assert_eq!(t.service_level_answered_percent, Some(50.0)); // 1 / 2
    assert_eq!(t.service_level_abandons_after_target_percent, Some(33.3)); // 1 / 3
    assert_eq!(t.asa_ms, Some(22_500));
    assert_eq!(t.longest_answered_wait_ms, Some(30_000));
    // (60 s + 10 s connected + 10 s wrap-up) / 2 handled; talk excludes the 5 s on hold.
    assert_eq!(t.aht_ms, Some(40_000));
    assert_eq!((t.talk_ms, t.hold_ms, t.wrap_ms), (65_000, 5_000, 10_000));
    assert_eq!(t.abandon_rate_percent, Some(50.0));
}

async fn a_call_counts_where_it_was_offered_across_midnight_in_the_zone(
    store: Store,
    _db: &TestDb,
) {
    let paris = time_zone("Europe/Paris").expect("zone");
    // 23:59:50 in Paris on the 6th, answered at 00:00:20 on the 7th.
    let late = Call::enter(&store, "support", at("2026-12-06T22:59:50Z")).await;
    late.answer(&store, "support", "1001", at("2026-12-06T23:00:20Z"))
        .await;
    late.complete(
        &store,
        "support",
        "1001",
        30 * S,
        at("2026-12-06T23:00:50Z"),
    )
    .await;
    // 00:14:59 and 00:15:00 on the 7th: two quarter hours.
    Call::enter(&store, "support", at("2026-12-06T23:14:59Z")).await;
    Call::enter(&store, "support", at("2026-12-06T23:15:00Z")).await;

    let days = Period::cut(
        &paris,
        parse_instant("2026-12-06", &paris, false).expect("from"),
        parse_instant("2026-12-07", &paris, true).expect("to"),
        Interval::Day,
    )
    .expect("period");
    let by_day = &report(&store, &days).await["support"];
    assert_eq!((by_day[0].offered, by_day[0].answered), (1, 1));
    assert_eq!(by_day[0].answered_within, 0, "30 s of wait");
    assert_eq!((by_day[1].offered, by_day[1].answered), (2, 0));

    let quarters = Period::cut(
        &paris,
        at("2026-12-06T23:00:00Z"),
        at("2026-12-06T23:30:00Z"),
        Interval::Quarter,
    )
    .expect("period");
    let by_quarter = &report(&store, &quarters).await["support"];
    assert_eq!(
        by_quarter.iter().map(|b| b.offered).collect::<Vec<_>>(),
        [1, 1]
    );
}

async fn a_dst_day_in_the_zone_has_23_hours(store: Store, _db: &TestDb) {
    let paris = time_zone("Europe/Paris").expect("zone");
    // 00:30 (UTC+1) and 23:30 (UTC+2) on 29 March 2026 are the same day; 00:10 on the 30th is not.
    Call::enter(&store, "support", at("2026-03-28T23:30:00Z")).await;
    Call::enter(&store, "support", at("2026-03-29T21:30:00Z")).await;
    Call::enter(&store, "support", at("2026-03-29T22:10:00Z")).await;
    let day = |d: &str, end| parse_instant(d, &paris, end).expect("date");
    let days = Period::cut(
        &paris,
        day("2026-03-29", false),
        day("2026-03-30", true),
        Interval::Day,
    )
    .expect("period");
    let by_day = &report(&store, &days).await["support"];
    assert_eq!(by_day.iter().map(|b| b.offered).collect::<Vec<_>>(), [2, 1]);
    let hours = Period::cut(
        &paris,
        day("2026-03-29", false),
        day("2026-03-29", true),
        Interval::Hour,
    )
    .expect("period");
    assert_eq!(hours.len(), 23);
    let by_hour = &report(&store, &hours).await["support"];
    assert_eq!((by_hour[0].offered, by_hour[22].offered), (1, 1));
}

async fn an_overflow_and_a_transfer_into_a_queue_count_in_both_queues(store: Store, _db: &TestDb) {
    let t0 = at("2026-12-07T10:00:00Z");
    // Overflowed from support after 30 s, answered in backup 10 s later.
    let a = Call::enter(&store, "support", t0).await;
    a.event(
        &store,
        "support",
        None,
        QueueEventKind::Timeout,
        "wait_ms=30000",
        t0 + 30 * S,
    )
    .await;
    a.event(
        &store,
        "support",
        None,
        QueueEventKind::Overflow,
        "reason=max_wait to=queue:backup",
        t0 + 30 * S,
    )
    .await;
    a.event(
        &store,
        "backup",
        None,
        QueueEventKind::Enter,
        "priority=0 from=support",
        t0 + 30 * S,
    )
    .await;
    a.answer(&store, "backup", "2001", t0 + 40 * S).await;
    a.complete(&store, "backup", "2001", 20 * S, t0 + 60 * S)
        .await;
    // Answered in support, transferred by the agent into backup, answered there.
    let b = Call::enter(&store, "support", t0 + MIN).await;
    b.answer(&store, "support", "1001", t0 + MIN + 5 * S).await;
    b.event(
        &store,
        "support",
        Some("1001"),
        QueueEventKind::Transfer,
        "kind=blind from=1001 to=queue:backup by=1001 talk_ms=15000",
        t0 + MIN + 20 * S,
    )
    .await;
    b.event(
        &store,
        "backup",
        None,
        QueueEventKind::Enter,
        "priority=0 transferred since_ms=20000",
        t0 + MIN + 20 * S,
    )
    .await;
    b.answer(&store, "backup", "2001", t0 + MIN + 25 * S).await;
    b.complete(&store, "backup", "2001", 30 * S, t0 + MIN + 55 * S)
        .await;

    let support = totals(&store, "support", t0, t0 + 3_600 * S).await;
    assert_eq!(
        (
            support.offered,
            support.answered,
            support.overflowed,
            support.transfers_out
        ),
        (2, 1, 1, 1)
    );
    assert_eq!(support.service_level_offered_percent, Some(50.0));
    assert_eq!(support.talk_ms, 15_000);
    let backup = totals(&store, "backup", t0, t0 + 3_600 * S).await;
    assert_eq!(
        (
            backup.offered,
            backup.answered,
            backup.answered_within_target
        ),
        (2, 2, 2)
    );
    // Each queue's wait runs from the call's entry into that queue.
    assert_eq!(backup.asa_ms, Some(7_500));
    assert_eq!(backup.talk_ms, 50_000);
}

async fn agents_time_is_split_across_intervals(store: Store, _db: &TestDb) {
    let t0 = at("2026-12-07T08:00:00Z");
    let change = |to: AgentStatus, reason: Option<&str>, at: i64| Record::AgentState {
        agent: agent("1001"),
        from: AgentStatus::LoggedOut,
        to,
        cause: StateCause::Api,
        reason: reason.map(str::to_owned),
        at: ts(at),
    };
    store
        .write(&[
            change(AgentStatus::Available, None, t0 - 60 * MIN),
            change(AgentStatus::Offered, None, t0 + 50 * MIN),
            change(AgentStatus::OnCall, None, t0 + 51 * MIN),
            change(AgentStatus::WrapUp, None, t0 + 70 * MIN),
            change(AgentStatus::Available, None, t0 + 75 * MIN),
            change(AgentStatus::Paused, Some("lunch"), t0 + 90 * MIN),
        ])
        .await
        .expect("states");
    let call = Call::enter(&store, "support", t0 + 49 * MIN).await;
    call.event(
        &store,
        "support",
        Some("1002"),
        QueueEventKind::RingNoAnswer,
        "NO_ANSWER",
        t0 + 50 * MIN,
    )
    .await;
    call.answer(&store, "support", "1001", t0 + 51 * MIN).await;
    call.hold(&store, "support", "1001", 2 * MIN, t0 + 60 * MIN)
        .await;

    let period =
        Period::cut(&jiff::tz::TimeZone::UTC, t0, t0 + 120 * MIN, Interval::Hour).expect("period");
    let changes = store
        .state_changes_between(period.from, period.to, None)
        .await
        .expect("changes");
    assert_eq!(
        changes[0].at,
        t0 - 60 * MIN,
        "the state the period began in"
    );
    let mut folded = fold_states(&changes, &period, t0 + 24 * 60 * MIN);
    for row in store
        .agent_buckets(period.from, period.to, None)
        .await
        .expect("agent buckets")
    {
        folded
            .entry((row.agent, period.index_of(row.bucket)))
            .or_default()
            .add(&row.counts);
    }
    let first = AgentTotals::from_bucket(&folded[&("1001".to_owned(), 0)]);
    let second = AgentTotals::from_bucket(&folded[&("1001".to_owned(), 1)]);
    assert_eq!(first.handled, 1);
    assert_eq!((first.talk_ms, first.hold_ms), (7 * MIN, 2 * MIN));
    assert_eq!(first.available_ms, 50 * MIN);
    assert_eq!(first.ringing_ms, MIN);
    assert_eq!(second.talk_ms, 10 * MIN);
    assert_eq!(second.wrap_ms, 5 * MIN);
    assert_eq!(second.paused_ms_by_reason["lunch"], 30 * MIN);
    assert_eq!(second.logged_in_ms, 60 * MIN);
    let missed = AgentTotals::from_bucket(&folded[&("1002".to_owned(), 0)]);
    assert_eq!(missed.missed_offers, 1);
}

async fn a_new_controller_reads_the_same_numbers(store: Store, db: &TestDb) {
    let t0 = at("2026-12-07T08:00:00Z");
    let a = Call::enter(&store, "support", t0).await;
    a.answer(&store, "support", "1001", t0 + 5 * S).await;
    let b = Call::enter(&store, "support", t0 + 10 * S).await;
    let before = totals(&store, "support", t0, t0 + 3_600 * S).await;
    assert_eq!(
        (before.offered, before.answered, before.still_waiting),
        (2, 1, 1)
    );
    drop(store);
    // The next controller on the same database: the call answered before goes on and ends.
    let store = db.connect().await;
    assert_eq!(totals(&store, "support", t0, t0 + 3_600 * S).await, before);
    a.complete(&store, "support", "1001", 40 * S, t0 + 45 * S)
        .await;
    b.abandon(&store, "support", 50 * S, t0 + 60 * S).await;
    let after = totals(&store, "support", t0, t0 + 3_600 * S).await;
    assert_eq!(
        (
            after.offered,
            after.answered,
            after.abandoned,
            after.still_waiting
        ),
        (2, 1, 1, 0)
    );
    assert_eq!((after.asa_ms, after.aht_ms), (Some(5_000), Some(40_000)));
}

/// A month of a million calls in ten queues (80 % answered within 0-39 s, the rest abandoned),
/// written straight into `queue_visits`, then the month-by-day report the way the API asks for
/// it. Ignored by default (it fills a database): `cargo test --release --test it -- --ignored
/// a_month_by_day`; the figures are in the README.
async fn a_month_by_day_over_a_million_calls_is_fast(store: Store, db: &TestDb) {
    const CALLS: i64 = 1_000_000;
    let t0 = at("2026-11-01T00:00:00Z");
    let month_ms = 30 * 24 * 3_600 * S;
    let step = month_ms / CALLS;
    let columns = "call_id, queue_id, entered_at, bucket, ended_at, outcome, wait_ms, \
                   agent_id, answered_at, talk_ms, hold_ms, wrap_ms";
    let values = format!(
        "'c' || i, 'q' || (i % 10), {t0} + i * {step}, \
         (({t0} + i * {step}) / 900000) * 900000, {t0} + i * {step} + 200000, \
         CASE WHEN i % 10 < 8 THEN 'answered' ELSE 'abandoned' END, (i % 40) * 1000, \
         CASE WHEN i % 10 < 8 THEN 'a' || (i % 200) END, \
         CASE WHEN i % 10 < 8 THEN {t0} + i * {step} + (i % 40) * 1000 END, \
         CASE WHEN i % 10 < 8 THEN 180000 END, CASE WHEN i % 7 = 0 THEN 20000 ELSE 0 END, \
         CASE WHEN i % 10 < 8 THEN 10000 END"
    );
    let fill = Instant::now();
    if db.url.starts_with("sqlite:") {
        db.raw(&format!(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {CALLS} - 1) \
             INSERT INTO queue_visits ({columns}) SELECT {values} FROM n"
        ))
        .await;
    } else {
        db.raw(&format!(
            "INSERT INTO queue_visits ({columns}) SELECT {values} \
             FROM generate_series(0::BIGINT, {CALLS} - 1) AS n(i); ANALYZE queue_visits"
        ))
        .await;
    }
    eprintln!(
        "{}: {CALLS} visits written in {:?}",
        db.url.split(':').next().unwrap_or(""),
        fill.elapsed()
    );
    let paris = time_zone("Europe/Paris").expect("zone");
    let started = Instant::now();
    let days = Period::cut(
        &paris,
        parse_instant("2026-11-01", &paris, false).expect("from"),
        parse_instant("2026-11-30", &paris, true).expect("to"),
        Interval::Day,
    )
    .expect("period");
    let by_queue = report(&store, &days).await;
    let elapsed = started.elapsed();
    let offered: i64 = by_queue.values().flatten().map(|b| b.offered).sum();
    eprintln!(
        "{}: month by day over {offered} visits in {elapsed:?}",
        db.url.split(':').next().unwrap_or("")
    );
    assert_eq!(by_queue.len(), 10);
    assert_eq!(by_queue["q0"].len(), 30);
    assert!(offered >= CALLS - 2_000, "{offered}");
    assert!(elapsed < std::time::Duration::from_secs(2), "{elapsed:?}");
}

mod month {
    #[tokio::test]
    #[ignore = "fills a database with a million calls; run with --ignored --release"]
    async fn a_month_by_day_over_a_million_calls_on_sqlite() {
        let db = super::TestDb::sqlite();
        let store = db.connect().await;
        super::a_month_by_day_over_a_million_calls_is_fast(store, &db).await;
    }

    #[tokio::test]
    #[ignore = "fills a database with a million calls; run with --ignored --release"]
    async fn a_month_by_day_over_a_million_calls_on_postgres() {
        let Some(db) = super::TestDb::postgres().await else {
            return;
        };
        let store = db.connect().await;
        super::a_month_by_day_over_a_million_calls_is_fast(store, &db).await;
    }
}

macro_rules! both {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    let db = super::TestDb::sqlite();
                    let store = db.connect().await;
                    super::$test(store, &db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $test() {
                    let Some(db) = super::TestDb::postgres().await else { return };
                    let store = db.connect().await;
                    super::$test(store, &db).await;
                }
            )*
        }
    };
}

both!(
    each_metric_follows_its_definition,
    a_call_counts_where_it_was_offered_across_midnight_in_the_zone,
    a_dst_day_in_the_zone_has_23_hours,
    an_overflow_and_a_transfer_into_a_queue_count_in_both_queues,
    agents_time_is_split_across_intervals,
    a_new_controller_reads_the_same_numbers,
);
