//! Store conformance for queues provisioned over REST: a queue created with its routing reads
//! back, is replaced by id, and is deleted with every agent's membership of it (the agents and
//! their other queues stay). Runs on SQLite and, when `DATABASE_URL` is set, on PostgreSQL
//! (see `store`).

use std::time::Duration;

use switchboard::config::DialString;
use switchboard::engine::{AgentId, Destination, Membership, QueueId, QueueRouting, Strategy};
use switchboard::store::{AgentRow, QueueRow, Store};

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

conformance!(a_queue_is_created_replaced_and_deleted_with_its_memberships);

fn qid(s: &str) -> QueueId {
    QueueId::new(s).expect("queue id")
}

fn queue(id: &str, routing: QueueRouting) -> QueueRow {
    QueueRow {
        id: qid(id),
        name: format!("Queue {id}"),
        moh: "local_stream://moh".to_owned(),
        wrap_up_ms: 5_000,
        ring_timeout_ms: 20_000,
        busy_backoff_ms: Some(3_000),
        routing,
    }
}

fn agent(id: &str, queues: &[&str]) -> AgentRow {
    AgentRow {
        id: AgentId::new(id).expect("agent id"),
        name: format!("Agent {id}"),
        dial_string: DialString::parse(&format!("user/{id}")).expect("dial string"),
        queues: queues
            .iter()
            .zip(1..)
            .map(|(q, position)| Membership::new(qid(q), position))
            .collect(),
        skills: Vec::new(),
        pin_hash: None,
    }
}

async fn a_queue_is_created_replaced_and_deleted_with_its_memberships(store: Store) {
    let support = queue("support", QueueRouting::default());
    store.upsert_queue(&support).await.expect("support");
    let storm = queue(
        "storm",
        QueueRouting {
            strategy: Strategy::RoundRobin,
            max_wait: Some(Duration::from_secs(120)),
            on_max_wait: Some(Destination::Queue {
                queue: qid("support"),
            }),
            ..QueueRouting::default()
        },
    );
    store.upsert_queue(&storm).await.expect("storm");
    assert_eq!(
        store.get_queue(&qid("storm")).await.expect("read"),
        Some(storm.clone())
    );
    let mut renamed = storm.clone();
    renamed.name = "Storm".into();
    renamed.routing.strategy = Strategy::Random;
    store.upsert_queue(&renamed).await.expect("replace");
    assert_eq!(
        store.list_queues().await.expect("list"),
        vec![renamed.clone(), support.clone()]
    );

    store
        .upsert_agent(&agent("1001", &["support", "storm"]))
        .await
        .expect("agent");
    assert!(store.delete_queue(&qid("storm")).await.expect("delete"));
    assert!(!store.delete_queue(&qid("storm")).await.expect("again"));
    assert_eq!(store.get_queue(&qid("storm")).await.expect("read"), None);
    assert_eq!(
        store.list_queues().await.expect("list"),
        vec![support.clone()]
    );
    let alice = store
        .get_agent(&AgentId::new("1001").expect("id"))
        .await
        .expect("read")
        .expect("the agent stays");
    assert_eq!(alice.queues, agent("1001", &["support"]).queues);
    // Created again with the same id, it starts with no members.
    store.upsert_queue(&storm).await.expect("again");
    let alice = store.list_agents().await.expect("agents");
    assert_eq!(alice[0].queues.len(), 1);
}
