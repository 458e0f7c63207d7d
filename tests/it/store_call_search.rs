//! Call search on both databases (`Store::search_calls`, behind `GET /v1/calls?...`): each
//! filter alone and together, a queue matching the calls that overflowed into it, a number
//! exactly or by prefix (wildcards in it taken literally), calls in progress found with a null
//! outcome, and a cursor that walks the whole history once, newest first, ties included, while
//! new calls arrive. Runs on SQLite and, when `DATABASE_URL` is set, on PostgreSQL (see `store`).

use switchboard::engine::{
    AgentId, CallId, CallOutcome, ChannelId, QueueEventKind, QueueId, Record, SwitchName, Timestamp,
};
use switchboard::store::{CallCursor, CallSearch, NumberFilter, OutcomeFilter, Store};

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

fn queue(id: &str) -> QueueId {
    QueueId::new(id).expect("queue")
}

fn agent(id: &str) -> AgentId {
    AgentId::new(id).expect("agent")
}

/// A call's id from a small number, so the expected orders read easily (and ids sort by it).
fn call_id(n: u32) -> CallId {
    CallId::parse(&format!("00000000-0000-4000-8000-{n:012}")).expect("call id")
}

struct Call {
    n: u32,
    queue: &'static str,
    number: &'static str,
    at: i64,
    /// The agent who answered, if one did.
    agent: Option<&'static str>,
    /// How it ended; `None`: still going on.
    outcome: Option<CallOutcome>,
    /// The queue it overflowed into, if it did.
    moved_to: Option<&'static str>,
}

fn records(c: &Call) -> Vec<Record> {
    let call = call_id(c.n);
    let mut out = vec![
        Record::CallEntered {
            call,
            switch: SwitchName::new("fs-1").expect("switch"),
            channel: ChannelId::from_uuid(uuid::Uuid::new_v4()),
            queue: queue(c.queue),
            caller_number: c.number.to_owned(),
            caller_name: String::new(),
            destination: "5000".to_owned(),
            priority: 0,
            at: ts(c.at),
        },
        Record::QueueEvent {
            call,
            queue: queue(c.queue),
            agent: None,
            kind: QueueEventKind::Enter,
            detail: String::new(),
            at: ts(c.at),
        },
    ];
    if let Some(to) = c.moved_to {
        out.push(Record::CallPlaced {
            call,
            queue: queue(to),
            priority: 0,
            skills: Vec::new(),
            hops: 1,
            waiting_since: ts(c.at),
            at: ts(c.at + 500),
        });
    }
    if let Some(a) = c.agent {
        out.push(Record::CallAnswered {
            call,
            agent: agent(a),
            agent_channel: ChannelId::from_uuid(uuid::Uuid::new_v4()),
            wait_ms: 1_000,
            at: ts(c.at + 1_000),
        });
    }
    if let Some(outcome) = c.outcome {
        out.push(Record::CallEnded {
            call,
            outcome,
            hangup_cause: "NORMAL_CLEARING".to_owned(),
            talk_ms: c.agent.map(|_| 5_000),
            wait_ms: c.agent.is_none().then_some(1_000),
            at: ts(c.at + 6_000),
        });
    }
    out
}

/// Ten calls over four hours: queues, agents, outcomes and numbers mixed.
fn history() -> Vec<Call> {
    use CallOutcome::{Abandoned, Completed, Transferred};
    let call = |n, queue, number, hour: i64, agent, outcome, moved_to| Call {
        n,
        queue,
        number,
        at: hour * 3_600_000 + i64::from(n) * 1_000,
        agent,
        outcome,
        moved_to,
    };
    vec![
        call(
            1,
            "support",
            "+4930111",
            0,
            Some("1001"),
            Some(Completed),
            None,
        ),
        call(
            2,
            "sales",
            "+4930222",
            0,
            Some("1002"),
            Some(Completed),
            None,
        ),
        call(3, "support", "+4940333", 1, None, Some(Abandoned), None),
        call(
            4,
            "support",
            "+4930111",
            1,
            Some("1002"),
            Some(Transferred),
            Some("billing"),
        ),
        call(
            5,
            "billing",
            "+49_30x",
            2,
            Some("1001"),
            Some(Completed),
            None,
        ),
        call(6, "sales", "+4930666", 2, None, Some(Abandoned), None),
        call(
            7,
            "support",
            "+4930777",
            3,
            Some("1001"),
            Some(Completed),
            None,
        ),
        call(8, "billing", "+49x30y", 3, None, Some(Abandoned), None),
        call(9, "support", "+4930999", 3, Some("1002"), None, None),
        call(10, "sales", "+4930111", 3, None, None, None),
    ]
}

async fn filled(store: &Store) {
    let all: Vec<Record> = history().iter().flat_map(records).collect();
    store.write(&all).await.expect("write the history");
}

/// The calls a search finds, by their small numbers, in the order it gives them.
async fn found(store: &Store, search: CallSearch) -> Vec<u32> {
    let page = store.search_calls(&search).await.expect("search");
    page.calls
        .iter()
        .map(|c| {
            let id = c.id.to_string();
            id.rsplit('-')
                .next()
                .and_then(|n| n.parse().ok())
                .expect("a test call id")
        })
        .collect()
}

async fn each_filter_finds_its_calls_newest_first(store: Store) {
    filled(&store).await;
    let all = found(&store, CallSearch::default()).await;
    assert_eq!(all, [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
    let hour = 3_600_000;
    let range = CallSearch {
        from: Some(ts(hour)),
        to: Some(ts(3 * hour)),
        ..CallSearch::default()
    };
    assert_eq!(found(&store, range).await, [6, 5, 4, 3]);
    let by_agent = CallSearch {
        agent: Some(agent("1001")),
        ..CallSearch::default()
    };
    assert_eq!(found(&store, by_agent).await, [7, 5, 1]);
    let abandoned = CallSearch {
        outcome: Some(OutcomeFilter::Ended(CallOutcome::Abandoned)),
        ..CallSearch::default()
    };
    assert_eq!(found(&store, abandoned).await, [8, 6, 3]);
    let active = CallSearch {
        outcome: Some(OutcomeFilter::Active),
        ..CallSearch::default()
    };
    assert_eq!(found(&store, active).await, [10, 9]);
    let exact = CallSearch {
        number: Some(NumberFilter::Exact("+4930111".into())),
        ..CallSearch::default()
    };
    assert_eq!(found(&store, exact).await, [10, 4, 1]);
    let together = CallSearch {
        number: Some(NumberFilter::Exact("+4930111".into())),
        queue: Some(queue("support")),
        from: Some(ts(hour)),
        ..CallSearch::default()
    };
    assert_eq!(found(&store, together).await, [4]);
    let agent_and_outcome = CallSearch {
        agent: Some(agent("1002")),
        outcome: Some(OutcomeFilter::Ended(CallOutcome::Transferred)),
        ..CallSearch::default()
    };
    assert_eq!(found(&store, agent_and_outcome).await, [4]);
    let nobody = CallSearch {
        agent: Some(agent("1003")),
        ..CallSearch::default()
    };
    assert!(found(&store, nobody).await.is_empty());
}

async fn a_number_prefix_matches_the_start_only_and_takes_wildcards_literally(store: Store) {
    filled(&store).await;
    let prefix = |p: &str| CallSearch {
        number: Some(NumberFilter::Prefix(p.into())),
        ..CallSearch::default()
    };
    assert_eq!(found(&store, prefix("+4930")).await, [10, 9, 7, 6, 4, 2, 1]);
    assert_eq!(found(&store, prefix("+4940")).await, [3]);
    // `_` is not "any character": +49x30y does not start with "+49_".
    assert_eq!(found(&store, prefix("+49_")).await, [5]);
    assert!(found(&store, prefix("+49%")).await.is_empty());
    assert!(found(&store, prefix("4930")).await.is_empty());
    // Upper and lower case differ (SQLite's LIKE would not tell them apart).
    assert!(found(&store, prefix("+49X")).await.is_empty());
    assert_eq!(found(&store, prefix("+49x")).await, [8]);
}

async fn a_queue_finds_the_calls_that_entered_it_and_those_that_overflowed_into_it(store: Store) {
    filled(&store).await;
    let in_queue = |q: &str| CallSearch {
        queue: Some(queue(q)),
        ..CallSearch::default()
    };
    assert_eq!(found(&store, in_queue("support")).await, [9, 7, 4, 3, 1]);
    assert_eq!(found(&store, in_queue("billing")).await, [8, 5, 4]);
    assert_eq!(found(&store, in_queue("sales")).await, [10, 6, 2]);
    // A page of a queue's search is full from both sides of the merge, and pages on.
    let first = store
        .search_calls(&CallSearch {
            queue: Some(queue("billing")),
            limit: 2,
            ..CallSearch::default()
        })
        .await
        .expect("first page");
    assert_eq!(first.calls.len(), 2);
    let next = store
        .search_calls(&CallSearch {
            queue: Some(queue("billing")),
            limit: 2,
            after: first.next,
            ..CallSearch::default()
        })
        .await
        .expect("second page");
    assert_eq!(next.calls.len(), 1);
    assert_eq!(next.calls[0].id, call_id(4));
    assert_eq!(next.next, None);
}

async fn a_cursor_walks_every_call_once_while_new_calls_arrive(store: Store) {
    // 25 calls, five at each of five instants: ties are settled by id.
    let calls: Vec<Call> = (1..=25)
        .map(|n| Call {
            n,
            queue: if n % 2 == 0 { "support" } else { "sales" },
            number: "+4930555",
            at: i64::from((n - 1) / 5) * 60_000,
            agent: Some("1001"),
            outcome: Some(CallOutcome::Completed),
            moved_to: None,
        })
        .collect();
    let all: Vec<Record> = calls.iter().flat_map(records).collect();
    store.write(&all).await.expect("write");
    let mut seen = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = store
            .search_calls(&CallSearch {
                from: Some(ts(0)),
                limit: 4,
                after,
                ..CallSearch::default()
            })
            .await
            .expect("page");
        pages += 1;
        seen.extend(page.calls.iter().map(|c| c.id));
        if pages == 2 {
            // Calls that arrive meanwhile are newer: on pages before the cursor, not after it.
            let newer = Call {
                n: 26,
                queue: "support",
                number: "+4930555",
                at: 10 * 60_000,
                agent: None,
                outcome: None,
                moved_to: None,
            };
            store.write(&records(&newer)).await.expect("a new call");
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    // Newest first: the later instant first, and within an instant the higher id first.
    let expected: Vec<CallId> = (1..=25).rev().map(call_id).collect();
    assert_eq!(seen, expected);
    assert_eq!(pages, 7);
    // With an end to the range: the cursor before it, and a cursor past it, page alike.
    let before_three = |after| CallSearch {
        to: Some(ts(3 * 60_000)),
        limit: 4,
        after,
        ..CallSearch::default()
    };
    let first = store.search_calls(&before_three(None)).await.expect("page");
    assert_eq!(first.calls[0].id, call_id(15));
    let second = store
        .search_calls(&before_three(first.next))
        .await
        .expect("page");
    assert_eq!(second.calls[0].id, call_id(11));
    let past_the_end = CallCursor {
        entered_at: ts(4 * 60_000),
        id: call_id(21),
    };
    let from_past = store
        .search_calls(&before_three(Some(past_the_end)))
        .await
        .expect("page");
    assert_eq!(from_past.calls[0].id, call_id(15));
    // A filtered walk stops at the end too: 13 sales calls in pages of 5.
    let mut sales = 0;
    let mut after = None;
    loop {
        let page = store
            .search_calls(&CallSearch {
                queue: Some(queue("sales")),
                limit: 5,
                after,
                ..CallSearch::default()
            })
            .await
            .expect("sales page");
        sales += page.calls.len();
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(sales, 13);
}

mod sqlite {
    macro_rules! on_sqlite {
        ($($test:ident),*) => {$(
            #[tokio::test]
            async fn $test() {
                let db = crate::store::TestDb::sqlite();
                super::$test(db.connect().await).await;
            }
        )*};
    }
    on_sqlite!(
        each_filter_finds_its_calls_newest_first,
        a_number_prefix_matches_the_start_only_and_takes_wildcards_literally,
        a_queue_finds_the_calls_that_entered_it_and_those_that_overflowed_into_it,
        a_cursor_walks_every_call_once_while_new_calls_arrive
    );
}

mod postgres {
    macro_rules! on_postgres {
        ($($test:ident),*) => {$(
            #[tokio::test]
            async fn $test() {
                let Some(db) = crate::store::TestDb::postgres().await else { return };
                super::$test(db.connect().await).await;
            }
        )*};
    }
    on_postgres!(
        each_filter_finds_its_calls_newest_first,
        a_number_prefix_matches_the_start_only_and_takes_wildcards_literally,
        a_queue_finds_the_calls_that_entered_it_and_those_that_overflowed_into_it,
        a_cursor_walks_every_call_once_while_new_calls_arrive
    );
}
