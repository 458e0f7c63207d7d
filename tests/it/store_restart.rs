//! Store conformance for what a restarted controller reads back: where open calls stand
//! (`CallPlaced`), where an open IVR session waits (`FlowWaiting`), and the abandoned callers
//! the resume memory is rebuilt from. Each test runs on SQLite and, when `DATABASE_URL` is
//! set, on PostgreSQL (see `store`).

use switchboard::engine::record::FlowOutcome;
use switchboard::engine::{
    parse_skill_list, CallId, CallOutcome, ChannelId, FlowId, QueueId, Record, StoredPlace,
    SwitchName, Timestamp,
};
use switchboard::store::{FlowPlace, Store};

use crate::store::TestDb;

macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    let db = TestDb::sqlite();
                    let store = db.connect().await;
                    super::$test(store).await;
                }
            )*
            use super::TestDb;
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $test() {
                    let Some(db) = TestDb::postgres().await else { return };
                    let store = db.connect().await;
                    super::$test(store).await;
                }
            )*
            use super::TestDb;
        }
    };
}

conformance!(
    a_calls_latest_placement_reads_back_until_it_ends,
    an_open_flow_session_reads_back_its_node_and_variables,
    abandoned_callers_read_back_until_they_call_the_queue_again,
);

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

fn id(n: u128) -> CallId {
    CallId::from_uuid(uuid::Uuid::from_u128(n))
}

fn channel(n: u128) -> ChannelId {
    ChannelId::parse(&uuid::Uuid::from_u128(n).to_string()).expect("uuid")
}

fn qid(q: &str) -> QueueId {
    QueueId::new(q).expect("queue id")
}

fn entered(call: u128, queue: &str, number: &str, at: i64) -> Record {
    Record::CallEntered {
        call: id(call),
        switch: SwitchName::new("fs1").expect("switch"),
        channel: channel(call),
        queue: qid(queue),
        caller_number: number.into(),
        caller_name: "Ada".into(),
        destination: "5000".into(),
        priority: 0,
        at: ts(at),
    }
}

fn placed(call: u128, queue: &str, priority: i32, skills: &str, hops: u32, since: i64) -> Record {
    Record::CallPlaced {
        call: id(call),
        queue: qid(queue),
        priority,
        skills: parse_skill_list(skills).expect("skills"),
        hops,
        waiting_since: ts(since),
        at: ts(since + 1),
    }
}

fn ended(call: u128, outcome: CallOutcome, at: i64) -> Record {
    Record::CallEnded {
        call: id(call),
        outcome,
        hangup_cause: "NORMAL_CLEARING".into(),
        talk_ms: None,
        wait_ms: Some(1),
        at: ts(at),
    }
}

async fn write(store: &Store, records: &[Record]) {
    if let Err(e) = store.write(records).await {
        panic!("write: {e}");
    }
}

async fn a_calls_latest_placement_reads_back_until_it_ends(store: Store) {
    write(
        &store,
        &[
            entered(1, "support", "111", 1_000),
            placed(1, "support", 5, "", 0, 1_000),
            placed(1, "backup", 5, "spanish:3,billing", 1, 1_000),
            entered(2, "support", "222", 2_000),
            entered(3, "support", "333", 3_000),
            placed(3, "support", 1, "", 0, 3_000),
            ended(3, CallOutcome::Abandoned, 4_000),
            // Too late: the call has ended, its row stays as it was.
            placed(3, "backup", 7, "", 1, 3_000),
        ],
    )
    .await;
    let places = store.open_call_places().await.expect("places");
    assert_eq!(
        places,
        [(
            id(1),
            StoredPlace {
                queue: qid("backup"),
                priority: 5,
                skills: parse_skill_list("billing,spanish:3").expect("skills"),
                hops: 1,
                waiting_since: ts(1_000),
            }
        )],
        "only the open call that moved; the other stands as it entered"
    );
}

async fn an_open_flow_session_reads_back_its_node_and_variables(store: Store) {
    let flow = FlowId::new("main").expect("flow");
    let waiting = |node: &str, variables: &[(&str, &str)], at: i64| Record::FlowWaiting {
        call: id(1),
        flow: flow.clone(),
        node: node.into(),
        variables: variables
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        at: ts(at),
    };
    write(
        &store,
        &[
            Record::FlowEntered {
                call: id(1),
                switch: SwitchName::new("fs1").expect("switch"),
                channel: channel(1),
                flow: flow.clone(),
                entry: "5000".into(),
                caller_number: "111".into(),
                caller_name: "Ada".into(),
                destination: "5000".into(),
                at: ts(1_000),
            },
            waiting("account", &[], 1_000),
            waiting("menu", &[("account", "42")], 2_000),
        ],
    )
    .await;
    assert_eq!(
        store.flow_place(id(1)).await.expect("place"),
        Some(FlowPlace {
            flow: flow.clone(),
            node: "menu".into()
        })
    );
    let session = store
        .flow_session_of_channel(&channel(1))
        .await
        .expect("session")
        .expect("a session");
    assert_eq!(
        session.variables.get("account").map(String::as_str),
        Some("42"),
        "the answers so far"
    );
    write(
        &store,
        &[Record::FlowEnded {
            call: id(1),
            outcome: FlowOutcome::HungUp,
            variables: vec![("account".into(), "42".into())],
            at: ts(3_000),
        }],
    )
    .await;
    assert_eq!(store.flow_place(id(1)).await.expect("place"), None);
}

async fn abandoned_callers_read_back_until_they_call_the_queue_again(store: Store) {
    write(
        &store,
        &[
            // Abandoned in the queue it overflowed into, with a raised priority.
            entered(1, "support", "111", 1_000),
            placed(1, "backup", 4, "", 1, 1_000),
            ended(1, CallOutcome::Abandoned, 9_000),
            // Abandoned, then called the same queue again: its memory was used.
            entered(2, "support", "222", 2_000),
            ended(2, CallOutcome::Abandoned, 3_000),
            entered(3, "support", "222", 5_000),
            // Abandoned too long ago.
            entered(4, "support", "444", 100),
            ended(4, CallOutcome::Abandoned, 200),
            // Completed: nothing to resume.
            entered(5, "support", "555", 2_000),
            ended(5, CallOutcome::Completed, 8_000),
        ],
    )
    .await;
    let abandoned = store.abandoned_since(ts(1_000), 100).await.expect("read");
    let seen: Vec<_> = abandoned
        .iter()
        .map(|a| {
            (
                a.queue.as_str(),
                a.caller_number.as_str(),
                a.waiting_since.as_millis(),
                a.priority,
                a.ended_at.as_millis(),
            )
        })
        .collect();
    assert_eq!(seen, [("backup", "111", 1_000, 4, 9_000)]);
}
