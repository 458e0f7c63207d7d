//! The history benchmark: `cargo bench --bench history`.
//!
//! Fills a store with a month of a contact center's history (1 million calls by default:
//! several queues, 120 agents, a daily curve, abandons with their waits, transfers, holds,
//! overflows between queues, wrap-up), written as the engine's records through the store's
//! normal history write path (`Store::write`, what the history writer calls), so every table
//! derived from records (calls, queue events, agent state changes, holds, the outbox) is filled.
//! Then it times call searches (`GET /v1/calls` with filters and a cursor) and prints a table.
//!
//! The month: 4 queues (support 45 %, sales 25 %, billing 20 %, retention 10 % of calls), 120
//! agents in all of them, logged in all month, the agent free soonest taking the next call;
//! weekdays busier than weekends, a morning and an afternoon peak; talk 20 s plus an
//! exponential 100 s, 15 % of calls held once, 6 % transferred out, 5-30 s wrap-up; callers'
//! patience 15 s plus an exponential 2 min (one in ten gives up within 2-10 s), so abandons
//! (about 6 %) come at the peaks; support callers waiting over a minute overflow to billing
//! half the time. Seeded: every fill is the same month.
//!
//! On PostgreSQL the fill writes [`POSTGRES_STREAMS`] transactions side by side (each agent's
//! records, and each call's, in one of them, in order), so CTI event ids interleave across
//! them within a round; SQLite takes one writer at a time and gets them one after another.
//!
//! The filled SQLite file is kept under `target/bench-history/`, named after [`FILL_VERSION`]
//! and the number of calls, so a second run skips the fill; PostgreSQL (when `DATABASE_URL` is
//! set) gets a database of its own, named the same way and kept too. Change `FILL_VERSION` when
//! the generator changes, or the history write path fills a new table (a cached fill gets the
//! new migrations but not the rows a write would have put in the new table).
//!
//! `SWITCHBOARD_BENCH_CALLS=<n>` fills a smaller (or larger) month; `--quick`,
//! `SWITCHBOARD_BENCH_QUICK=1` or a run without cargo bench's `--bench` argument (such as
//! `cargo test --benches`) fills 20,000 calls. `-- --sqlite` or `-- --postgres` runs one backend.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use sqlx::Connection;
use switchboard::config::{Provisioning, RoutingDefaults};
use switchboard::engine::{
    AgentId, AgentStatus, CallId, CallOutcome, ChannelId, HoldBy, QueueEventKind, QueueId, Record,
    StateCause, SwitchName, Timestamp,
};
use switchboard::stats::intervals::time_zone;
use switchboard::stats::{Interval, Period, Targets};
use switchboard::store::reports::{agent_intervals, queue_intervals};
use switchboard::store::{CallCursor, CallSearch, NumberFilter, OutcomeFilter, Store};

/// What a fill holds; a cached fill of another version is not reused.
const FILL_VERSION: &str = "v2";

/// 2026-11-01T00:00:00Z: the month starts at midnight UTC.
const MONTH_START_MS: i64 = 1_793_491_200_000;
const DAYS: i64 = 30;
const DAY_MS: i64 = 86_400_000;

const QUEUES: [(&str, u64); 4] = [
    ("support", 45),
    ("sales", 25),
    ("billing", 20),
    ("retention", 10),
];
/// Agents, all logged in all month: 120 keep a 1-million-call month at about 5-8 % abandons
/// and 15 s ASA (busy at the peaks, idle at night).
const AGENTS: usize = 120;

/// Records per `Store::write`: one transaction each.
const RECORDS_PER_WRITE: usize = 50_000;

/// PostgreSQL takes several history transactions at once (SQLite one at a time): the fill
/// writes this many side by side, each keeping its agents' state changes in order.
const POSTGRES_STREAMS: usize = 4;

// ---------------------------------------------------------------------------------------------
// A seeded generator, so every fill is the same month.

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// Exponential with this mean.
    fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn uuid(&mut self) -> uuid::Uuid {
        let bits = (u128::from(self.next()) << 64) | u128::from(self.next());
        uuid::Builder::from_random_bytes(bits.to_le_bytes()).into_uuid()
    }
}

/// Share of a day's calls in each hour (a contact center's curve: quiet at night, a morning
/// peak around 10:00 and a second one after lunch).
const HOURLY: [f64; 24] = [
    0.4, 0.3, 0.2, 0.2, 0.3, 0.6, 1.5, 3.5, 6.5, 8.5, 9.0, 8.5, 7.0, 7.0, 8.0, 8.0, 7.0, 5.5, 4.0,
    3.0, 2.5, 1.8, 1.2, 0.8,
];

/// Weekends get less than weekdays.
fn day_weight(day: i64) -> f64 {
    // 2026-11-01 is a Sunday.
    match day % 7 {
        0 => 0.45,
        6 => 0.6,
        _ => 1.15,
    }
}

fn pick<'a>(rng: &mut Rng, weighted: &[(&'a str, u64)]) -> &'a str {
    let total: u64 = weighted.iter().map(|(_, w)| w).sum();
    let mut at = rng.below(total);
    for (name, w) in weighted {
        if at < *w {
            return name;
        }
        at -= w;
    }
    weighted[0].0
}

/// The arrival times of a month's `calls`, in order: each day gets its share by weekday, each
/// hour its share of the curve, uniform within the hour.
fn arrivals(rng: &mut Rng, calls: u64) -> Vec<i64> {
    let day_total: f64 = (0..DAYS).map(day_weight).sum();
    let hour_total: f64 = HOURLY.iter().sum();
    let mut times = Vec::with_capacity(calls as usize);
    for day in 0..DAYS {
        for (hour, share) in HOURLY.iter().enumerate() {
            let n = (calls as f64 * day_weight(day) / day_total * share / hour_total).round();
            let start = MONTH_START_MS + day * DAY_MS + hour as i64 * 3_600_000;
            for _ in 0..n as u64 {
                times.push(start + rng.below(3_600_000) as i64);
            }
        }
    }
    times.sort_unstable();
    times
}

// ---------------------------------------------------------------------------------------------
// The month, call by call.

struct Month {
    rng: Rng,
    agents: Vec<AgentId>,
    /// When each agent is free again (the end of its wrap-up), earliest first.
    free: BinaryHeap<Reverse<(i64, usize)>>,
    switch: SwitchName,
    /// A caller number seen in the month, to search for.
    sample_number: Option<String>,
    calls: u64,
    answered: u64,
    abandoned: u64,
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

fn queue_id(name: &str) -> QueueId {
    QueueId::new(name).unwrap_or_else(|e| panic!("queue {name}: {e}"))
}

impl Month {
    fn new(seed: u64) -> Month {
        let agents: Vec<AgentId> = (0..AGENTS)
            .map(|i| AgentId::new(format!("{}", 2001 + i)).expect("agent id"))
            .collect();
        let free = (0..AGENTS)
            .map(|i| Reverse((MONTH_START_MS, i)))
            .collect::<BinaryHeap<_>>();
        Month {
            rng: Rng(seed),
            agents,
            free,
            switch: SwitchName::new("fs-1").expect("switch"),
            sample_number: None,
            calls: 0,
            answered: 0,
            abandoned: 0,
        }
    }

    fn state(
        &self,
        agent: usize,
        from: AgentStatus,
        to: AgentStatus,
        at: i64,
        out: &mut Vec<Record>,
    ) {
        out.push(Record::AgentState {
            agent: self.agents[agent].clone(),
            from,
            to,
            cause: StateCause::Routing,
            reason: None,
            at: ts(at),
        });
    }

    fn event(
        call: CallId,
        queue: &QueueId,
        agent: Option<&AgentId>,
        kind: QueueEventKind,
        detail: String,
        at: i64,
        out: &mut Vec<Record>,
    ) {
        out.push(Record::QueueEvent {
            call,
            queue: queue.clone(),
            agent: agent.cloned(),
            kind,
            detail,
            at: ts(at),
        });
    }

    /// One call arriving at `arrival`, with the records the engine writes for it, in order.
    /// Agents serve every queue; the one free soonest takes the call; a caller whose patience
    /// runs out first abandons. Returns what the call's records must stay in order with: the
    /// agent who answered (its state changes), else the call alone.
    fn call(&mut self, arrival: i64, out: &mut Vec<Record>) -> usize {
        self.calls += 1;
        let call = CallId::from_uuid(self.rng.uuid());
        let mut queue = queue_id(pick(&mut self.rng, &QUEUES));
        let caller_number = format!("+4930{:07}", self.rng.below(400_000));
        if self.sample_number.is_none() {
            self.sample_number = Some(caller_number.clone());
        }
        out.push(Record::CallEntered {
            call,
            switch: self.switch.clone(),
            channel: ChannelId::from_uuid(self.rng.uuid()),
            queue: queue.clone(),
            caller_number,
            caller_name: String::new(),
            destination: "5000".to_owned(),
            priority: 0,
            at: ts(arrival),
        });
        Self::event(
            call,
            &queue,
            None,
            QueueEventKind::Enter,
            String::new(),
            arrival,
            out,
        );
        let Some(Reverse((free_at, agent))) = self.free.pop() else {
            return self.calls as usize;
        };
        let ring_ms = 2_000 + self.rng.below(6_000) as i64;
        let offered_at = free_at.max(arrival);
        let answer_at = offered_at + ring_ms;
        // One caller in ten gives up within seconds (a short abandon); the others wait on.
        let patience = if self.rng.chance(0.1) {
            2_000.0 + self.rng.below(8_000) as f64
        } else {
            15_000.0 + self.rng.exp(120_000.0)
        };
        let wait_ms = answer_at - arrival;
        if wait_ms as f64 > patience {
            // Gone before an agent answered; a short abandon now and then.
            self.free.push(Reverse((free_at, agent)));
            self.abandoned += 1;
            let end = arrival + patience as i64;
            Self::event(
                call,
                &queue,
                None,
                QueueEventKind::Abandon,
                format!("wait={}", end - arrival),
                end,
                out,
            );
            out.push(Record::CallEnded {
                call,
                outcome: CallOutcome::Abandoned,
                hangup_cause: "NORMAL_CLEARING".to_owned(),
                talk_ms: None,
                wait_ms: Some(end - arrival),
                at: ts(end),
            });
            return self.calls as usize;
        }
        // A long wait overflows a support caller to billing (keeping its place).
        if queue.as_str() == "support" && wait_ms > 60_000 && self.rng.chance(0.5) {
            let moved = arrival + 60_000;
            let to = queue_id("billing");
            Self::event(
                call,
                &queue,
                None,
                QueueEventKind::Overflow,
                "reason=max_wait to=queue:billing".to_owned(),
                moved,
                out,
            );
            out.push(Record::CallPlaced {
                call,
                queue: to.clone(),
                priority: 0,
                skills: Vec::new(),
                hops: 1,
                waiting_since: ts(arrival),
                at: ts(moved),
            });
            Self::event(
                call,
                &to,
                None,
                QueueEventKind::Enter,
                String::new(),
                moved,
                out,
            );
            queue = to;
        }
        self.answered += 1;
        let agent_id = self.agents[agent].clone();
        let leg = ChannelId::from_uuid(self.rng.uuid());
        self.state(
            agent,
            AgentStatus::Available,
            AgentStatus::Offered,
            offered_at,
            out,
        );
        Self::event(
            call,
            &queue,
            Some(&agent_id),
            QueueEventKind::Offer,
            format!("leg={leg}"),
            offered_at,
            out,
        );
        out.push(Record::CallAnswered {
            call,
            agent: agent_id.clone(),
            agent_channel: leg.clone(),
            wait_ms,
            at: ts(answer_at),
        });
        Self::event(
            call,
            &queue,
            Some(&agent_id),
            QueueEventKind::Connect,
            format!("wait={wait_ms} leg={leg}"),
            answer_at,
            out,
        );
        self.state(
            agent,
            AgentStatus::Offered,
            AgentStatus::OnCall,
            answer_at,
            out,
        );
        let talk_ms = 20_000 + self.rng.exp(100_000.0) as i64;
        if self.rng.chance(0.15) {
            let held = answer_at + talk_ms / 3;
            let held_ms = 10_000 + self.rng.exp(40_000.0) as i64;
            out.push(Record::CallHeld {
                call,
                queue: queue.clone(),
                agent: Some(agent_id.clone()),
                by: HoldBy::AgentPhone,
                at: ts(held),
            });
            out.push(Record::CallResumed {
                call,
                queue: queue.clone(),
                agent: Some(agent_id.clone()),
                by: HoldBy::AgentPhone,
                held_ms,
                total_ms: held_ms,
                holds: 1,
                at: ts(held + held_ms.min(talk_ms / 2)),
            });
        }
        let end = answer_at + talk_ms;
        let transferred = self.rng.chance(0.06);
        if transferred {
            Self::event(
                call,
                &queue,
                Some(&agent_id),
                QueueEventKind::Transfer,
                format!("kind=blind from={agent_id} to=9199 by={agent_id} talk_ms={talk_ms}"),
                end,
                out,
            );
        }
        Self::event(
            call,
            &queue,
            Some(&agent_id),
            QueueEventKind::Complete,
            format!("talk={talk_ms}"),
            end,
            out,
        );
        out.push(Record::CallEnded {
            call,
            outcome: if transferred {
                CallOutcome::Transferred
            } else {
                CallOutcome::Completed
            },
            hangup_cause: "NORMAL_CLEARING".to_owned(),
            talk_ms: Some(talk_ms),
            wait_ms: None,
            at: ts(end),
        });
        let wrap_up_ms = 5_000 + self.rng.below(25_000) as i64;
        self.state(agent, AgentStatus::OnCall, AgentStatus::WrapUp, end, out);
        out.push(Record::CallWrappedUp {
            call,
            agent: agent_id,
            queue: queue.clone(),
            disposition: None,
            wrap_up_ms,
            at: ts(end + wrap_up_ms),
        });
        self.state(
            agent,
            AgentStatus::WrapUp,
            AgentStatus::Available,
            end + wrap_up_ms,
            out,
        );
        self.free.push(Reverse((end + wrap_up_ms, agent)));
        agent
    }
}

fn provisioning() -> Provisioning {
    let mut text = String::new();
    for (queue, _) in QUEUES {
        text.push_str(&format!(
            "[[queue]]\nid = \"{queue}\"\nname = \"{queue}\"\nwrap_up = \"15s\"\n\n"
        ));
    }
    for i in 0..AGENTS {
        let id = 2001 + i;
        text.push_str(&format!(
            "[[agent]]\nid = \"{id}\"\nname = \"Agent {id}\"\ndial_string = \"user/{id}\"\n\
             queues = [\"support\", \"sales\", \"billing\", \"retention\"]\n\n"
        ));
    }
    Provisioning::parse(&text, "bench-provisioning.toml").expect("bench provisioning")
}

// ---------------------------------------------------------------------------------------------
// Filling a store.

struct Fill {
    calls: u64,
    records: u64,
    took: Duration,
}

async fn fill(store: &Store, calls: u64, streams: usize) -> (Fill, String) {
    let started = Instant::now();
    store
        .apply_provisioning(
            &provisioning(),
            &RoutingDefaults::default(),
            ts(MONTH_START_MS),
        )
        .await
        .expect("provision queues and agents");
    let mut month = Month::new(18);
    let times = arrivals(&mut month.rng, calls);
    // Each round's records go to `streams` transactions written at once, split so that an
    // agent's state changes (and a call's records) stay in one, in order.
    let mut batches: Vec<Vec<Record>> = vec![Vec::new(); streams];
    let mut pending = 0usize;
    let mut records = 0u64;
    let mut last_report = Instant::now();
    let mut one = Vec::with_capacity(32);
    for (n, at) in times.iter().enumerate() {
        let key = month.call(*at, &mut one);
        pending += one.len();
        batches[key % streams].append(&mut one);
        let last = n + 1 == times.len();
        if pending >= RECORDS_PER_WRITE * streams || last {
            records += pending as u64;
            pending = 0;
            let writes = batches
                .iter()
                .filter(|b| !b.is_empty())
                .map(|batch| store.write(batch));
            for written in futures_util::future::join_all(writes).await {
                written.expect("write a history batch");
            }
            batches.iter_mut().for_each(Vec::clear);
            if last_report.elapsed() > Duration::from_secs(30) {
                let rate = n as f64 / started.elapsed().as_secs_f64();
                eprintln!("  {n} calls written ({rate:.0} calls/s)");
                last_report = Instant::now();
            }
        }
    }
    eprintln!(
        "  {} calls: {} answered, {} abandoned ({:.1} %), {records} records, {:.0} s",
        month.calls,
        month.answered,
        month.abandoned,
        100.0 * month.abandoned as f64 / month.calls.max(1) as f64,
        started.elapsed().as_secs_f64()
    );
    let fill = Fill {
        calls: month.calls,
        records,
        took: started.elapsed(),
    };
    (fill, month.sample_number.unwrap_or_default())
}

// ---------------------------------------------------------------------------------------------
// Timing searches.

struct Timing {
    what: String,
    rows: usize,
    median: Duration,
    worst: Duration,
}

const ROUNDS: usize = 15;

/// Runs `search` [`ROUNDS`] times after one warm-up: the median and the slowest.
async fn time_search(store: &Store, what: &str, search: &CallSearch) -> Timing {
    let mut rows = store
        .search_calls(search)
        .await
        .expect("search")
        .calls
        .len();
    let mut took = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let started = Instant::now();
        rows = store
            .search_calls(search)
            .await
            .expect("search")
            .calls
            .len();
        took.push(started.elapsed());
    }
    took.sort();
    Timing {
        what: what.to_owned(),
        rows,
        median: took[ROUNDS / 2],
        worst: took[ROUNDS - 1],
    }
}

async fn time_searches(store: &Store, sample_number: &str) -> Vec<Timing> {
    let month = (ts(MONTH_START_MS), ts(MONTH_START_MS + DAYS * DAY_MS));
    let day = |d: i64| {
        (
            ts(MONTH_START_MS + d * DAY_MS),
            ts(MONTH_START_MS + (d + 1) * DAY_MS),
        )
    };
    let page = |f: &dyn Fn(&mut CallSearch)| {
        let mut search = CallSearch {
            from: Some(month.0),
            to: Some(month.1),
            limit: 50,
            ..CallSearch::default()
        };
        f(&mut search);
        search
    };
    let support = QueueId::new("support").expect("queue");
    let retention = QueueId::new("retention").expect("queue");
    let billing = QueueId::new("billing").expect("queue");
    let agent = AgentId::new("2042").expect("agent");
    // A cursor in the middle of the month, as a client paging back from today reaches it.
    let middle = CallCursor {
        entered_at: ts(MONTH_START_MS + 15 * DAY_MS + 10 * 3_600_000),
        id: CallId::from_uuid(uuid::Uuid::max()),
    };
    let searches: Vec<(&str, CallSearch)> = vec![
        ("month, no other filter, first page", page(&|_| {})),
        ("one day (the 16th), first page", {
            let (from, to) = day(15);
            page(&|s| {
                s.from = Some(from);
                s.to = Some(to);
            })
        }),
        (
            "queue support, month, first page",
            page(&|s| s.queue = Some(support.clone())),
        ),
        ("queue retention, one day, first page", {
            let (from, to) = day(15);
            page(&|s| {
                s.queue = Some(retention.clone());
                s.from = Some(from);
                s.to = Some(to);
            })
        }),
        (
            "queue billing (overflow included), month",
            page(&|s| s.queue = Some(billing.clone())),
        ),
        (
            "agent 2042, month, first page",
            page(&|s| s.agent = Some(agent.clone())),
        ),
        (
            "agent 2042, month, 1,000 calls",
            page(&|s| {
                s.agent = Some(agent.clone());
                s.limit = 1000;
            }),
        ),
        (
            "number exact, month",
            page(&|s| s.number = Some(NumberFilter::Exact(sample_number.to_owned()))),
        ),
        (
            "number prefix +4930000012* (a few calls), month",
            page(&|s| s.number = Some(NumberFilter::Prefix("+4930000012".to_owned()))),
        ),
        (
            "number prefix +4930001* (about 25,000 calls), month",
            page(&|s| s.number = Some(NumberFilter::Prefix("+4930001".to_owned()))),
        ),
        (
            "number prefix +4930* (every call), month",
            page(&|s| s.number = Some(NumberFilter::Prefix("+4930".to_owned()))),
        ),
        (
            "abandoned in support, month",
            page(&|s| {
                s.queue = Some(support.clone());
                s.outcome = Some(OutcomeFilter::Ended(CallOutcome::Abandoned));
            }),
        ),
        (
            "transferred, month",
            page(&|s| s.outcome = Some(OutcomeFilter::Ended(CallOutcome::Transferred))),
        ),
        (
            "active (none left)",
            page(&|s| s.outcome = Some(OutcomeFilter::Active)),
        ),
        (
            "cursor mid-month, no other filter",
            page(&|s| s.after = Some(middle)),
        ),
        (
            "cursor mid-month, queue support",
            page(&|s| {
                s.after = Some(middle);
                s.queue = Some(support.clone());
            }),
        ),
        (
            "cursor mid-month, agent 2042",
            page(&|s| {
                s.after = Some(middle);
                s.agent = Some(agent.clone());
            }),
        ),
    ];
    let mut timings = Vec::new();
    for (what, search) in &searches {
        timings.push(time_search(store, what, search).await);
    }
    // The legacy answer (no filter): the most recent calls.
    let mut took = Vec::new();
    for _ in 0..ROUNDS {
        let started = Instant::now();
        store.recent_calls(50).await.expect("recent calls");
        took.push(started.elapsed());
    }
    took.sort();
    timings.push(Timing {
        what: "no filter: recent 50 (today's answer)".to_owned(),
        rows: 50,
        median: took[ROUNDS / 2],
        worst: took[ROUNDS - 1],
    });
    timings
}

// ---------------------------------------------------------------------------------------------
// The month-by-day reports, as `GET /v1/reports/queues|agents?interval=1d` reads them: the
// store's 15-minute buckets folded into the days of a time zone (`store::reports`).
async fn time_reports(store: &Store, from: Timestamp, to: Timestamp) -> Vec<Timing> {
    let paris = time_zone("Europe/Paris").expect("zone");
    let days =
        Period::cut(&paris, from.as_millis(), to.as_millis(), Interval::Day).expect("period");
    let targets = BTreeMap::new();
    let mut timings = Vec::new();
    let mut took = Vec::with_capacity(ROUNDS);
    let mut rows = 0;
    for _ in 0..=ROUNDS {
        let started = Instant::now();
        let by_queue = queue_intervals(store, &days, &targets, Targets::default(), None)
            .await
            .expect("queue report");
        took.push(started.elapsed());
        rows = by_queue.values().map(Vec::len).sum();
    }
    timings.push(timing("month by day, queue report", rows, took));
    let mut took = Vec::with_capacity(ROUNDS);
    for _ in 0..=ROUNDS {
        let started = Instant::now();
        let by_agent = agent_intervals(store, &days, to.as_millis(), None)
            .await
            .expect("agent report");
        took.push(started.elapsed());
        rows = by_agent.values().map(Vec::len).sum();
    }
    timings.push(timing("month by day, agent report", rows, took));
    timings
}

/// The median and the slowest of `took` after its first (warm-up) round.
fn timing(what: &str, rows: usize, mut took: Vec<Duration>) -> Timing {
    took.remove(0);
    took.sort();
    Timing {
        what: what.to_owned(),
        rows,
        median: took[took.len() / 2],
        worst: took[took.len() - 1],
    }
}
// ---------------------------------------------------------------------------------------------

fn print_table(backend: &str, fill: &FillSummary, timings: &[Timing]) {
    println!();
    println!("## {backend}: a month of history, {} calls", fill.calls);
    println!();
    println!(
        "fill: {} records through Store::write in {:.0} s ({:.0} calls/s){}; database {:.2} GB",
        fill.records,
        fill.seconds,
        fill.calls as f64 / fill.seconds.max(0.001),
        if fill.cached { " (cached fill)" } else { "" },
        fill.bytes as f64 / 1e9
    );
    println!();
    println!("| search | rows | median | slowest of {ROUNDS} |");
    println!("|---|---|---|---|");
    for t in timings {
        println!(
            "| {} | {} | {:.1} ms | {:.1} ms |",
            t.what,
            t.rows,
            t.median.as_secs_f64() * 1e3,
            t.worst.as_secs_f64() * 1e3
        );
    }
}

/// What a fill left, read back from its marker when the fill is cached.
struct FillSummary {
    calls: u64,
    records: u64,
    seconds: f64,
    bytes: u64,
    cached: bool,
    sample_number: String,
}

impl FillSummary {
    fn marker(&self) -> String {
        format!(
            "{} {} {:.1} {}",
            self.calls, self.records, self.seconds, self.sample_number
        )
    }

    fn from_marker(text: &str) -> Option<FillSummary> {
        let mut parts = text.split_whitespace();
        Some(FillSummary {
            calls: parts.next()?.parse().ok()?,
            records: parts.next()?.parse().ok()?,
            seconds: parts.next()?.parse().ok()?,
            sample_number: parts.next()?.to_owned(),
            bytes: 0,
            cached: true,
        })
    }

    fn of(fill: &Fill, sample_number: String) -> FillSummary {
        FillSummary {
            calls: fill.calls,
            records: fill.records,
            seconds: fill.took.as_secs_f64(),
            bytes: 0,
            cached: false,
            sample_number,
        }
    }
}

async fn run(backend: &str, store: &Store, summary: FillSummary) {
    let timings = time_searches(store, &summary.sample_number).await;
    let mut all = timings;
    all.extend(
        time_reports(
            store,
            ts(MONTH_START_MS),
            ts(MONTH_START_MS + DAYS * DAY_MS),
        )
        .await,
    );
    print_table(backend, &summary, &all);
}

async fn run_sqlite(calls: u64) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-history");
    std::fs::create_dir_all(&dir).expect("bench dir");
    let file = dir.join(format!("history-{FILL_VERSION}-{calls}.db"));
    let marker = dir.join(format!("history-{FILL_VERSION}-{calls}.done"));
    let url = format!("sqlite://{}", file.display());
    let cached = std::fs::read_to_string(&marker)
        .ok()
        .and_then(|t| FillSummary::from_marker(&t));
    let (store, mut summary) = match cached {
        Some(summary) => {
            eprintln!("sqlite: reusing the filled {}", file.display());
            (
                Store::connect(&url)
                    .await
                    .expect("open the filled SQLite file"),
                summary,
            )
        }
        None => {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
            }
            eprintln!("sqlite: filling {} with {calls} calls", file.display());
            let store = Store::connect(&url).await.expect("create the SQLite file");
            let (fill, sample) = fill(&store, calls, 1).await;
            let summary = FillSummary::of(&fill, sample);
            std::fs::write(&marker, summary.marker()).expect("write the fill marker");
            (store, summary)
        }
    };
    summary.bytes = ["", "-wal"]
        .iter()
        .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", file.display())).ok())
        .map(|m| m.len())
        .sum();
    run("SQLite", &store, summary).await;
    store.close().await;
}

async fn run_postgres(admin_url: &str, calls: u64) {
    let database = format!("switchboard_bench_history_{FILL_VERSION}_{calls}");
    let mut admin = sqlx::PgConnection::connect(admin_url)
        .await
        .expect("connect to DATABASE_URL");
    let url = with_database(admin_url, &database);
    let exists: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&database)
        .fetch_optional(&mut admin)
        .await
        .expect("look for the bench database");
    let mut cached = None;
    if exists.is_some() {
        if let Ok(mut conn) = sqlx::PgConnection::connect(&url).await {
            let marker: Option<(String,)> = sqlx::query_as("SELECT summary FROM bench_fill")
                .fetch_optional(&mut conn)
                .await
                .ok()
                .flatten();
            cached = marker.and_then(|(t,)| FillSummary::from_marker(&t));
            let _ = conn.close().await;
        }
    }
    let (store, summary) = match cached {
        Some(summary) => {
            eprintln!("postgres: reusing the filled database {database}");
            (
                Store::connect(&url).await.expect("open the bench database"),
                summary,
            )
        }
        None => {
            sqlx::raw_sql(&format!(
                "DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"
            ))
            .execute(&mut admin)
            .await
            .expect("drop an unfinished bench database");
            sqlx::raw_sql(&format!("CREATE DATABASE \"{database}\""))
                .execute(&mut admin)
                .await
                .expect("create the bench database");
            eprintln!("postgres: filling {database} with {calls} calls");
            let store = Store::connect(&url).await.expect("open the bench database");
            let (fill, sample) = fill(&store, calls, POSTGRES_STREAMS).await;
            let summary = FillSummary::of(&fill, sample);
            let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
            // What autovacuum would do soon after such a load: fresh planner statistics.
            sqlx::raw_sql("VACUUM ANALYZE")
                .execute(&mut conn)
                .await
                .expect("analyze");
            sqlx::raw_sql("CREATE TABLE bench_fill (summary TEXT NOT NULL)")
                .execute(&mut conn)
                .await
                .expect("marker table");
            sqlx::query("INSERT INTO bench_fill (summary) VALUES ($1)")
                .bind(summary.marker())
                .execute(&mut conn)
                .await
                .expect("marker");
            let _ = conn.close().await;
            (store, summary)
        }
    };
    let size: (i64,) = sqlx::query_as("SELECT pg_database_size($1)")
        .bind(&database)
        .fetch_one(&mut admin)
        .await
        .expect("database size");
    let _ = admin.close().await;
    let mut summary = summary;
    summary.bytes = u64::try_from(size.0).unwrap_or(0);
    run("PostgreSQL", &store, summary).await;
    store.close().await;
}

/// `postgres://user@host:port/db?params` with `db` replaced.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let root = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{root}/{database}?{q}"),
        None => format!("{root}/{database}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick")
        || std::env::var("SWITCHBOARD_BENCH_QUICK").is_ok()
        || !args.iter().any(|a| a == "--bench");
    let calls: u64 = std::env::var("SWITCHBOARD_BENCH_CALLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(if quick { 20_000 } else { 1_000_000 });
    let only_sqlite = args.iter().any(|a| a == "--sqlite");
    let only_postgres = args.iter().any(|a| a == "--postgres");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        if !only_postgres {
            run_sqlite(calls).await;
        }
        if !only_sqlite {
            match std::env::var("DATABASE_URL") {
                Ok(url) => run_postgres(&url, calls).await,
                Err(_) => eprintln!("PostgreSQL skipped: DATABASE_URL is not set"),
            }
        }
    });
}
