//! The store's part of `/metrics` and `/readyz` on both backends: the webhook outbox's backlog
//! (pending deliveries and the oldest one's event time) and the ping.

use switchboard::engine::{CallId, CallOutcome, ChannelId, QueueId, Record, SwitchName, Timestamp};
use switchboard::store::{AttemptResult, DeliveryFilter, Store, Subscription};

use crate::store::TestDb;

macro_rules! conformance {
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

conformance!(the_outbox_backlog_counts_pending_deliveries_and_dates_the_oldest_event);

const T0: i64 = 1_700_000_000_000;

fn entered(call: CallId, at: i64) -> Record {
    Record::CallEntered {
        call,
        switch: SwitchName::new("sim").expect("switch"),
        channel: ChannelId::from_uuid(uuid::Uuid::new_v4()),
        queue: QueueId::new("support").expect("queue"),
        caller_number: "+4930123456".to_owned(),
        caller_name: "Erika Mustermann".to_owned(),
        destination: "5000".to_owned(),
        priority: 0,
        at: Timestamp::from_millis(at),
    }
}

fn ended(call: CallId, at: i64) -> Record {
    Record::CallEnded {
        call,
        outcome: CallOutcome::Completed,
        hangup_cause: "NORMAL_CLEARING".to_owned(),
        talk_ms: Some(1_000),
        wait_ms: None,
        at: Timestamp::from_millis(at),
    }
}

async fn the_outbox_backlog_counts_pending_deliveries_and_dates_the_oldest_event(
    store: Store,
    _db: &TestDb,
) {
    store.ping().await.expect("the database answers");
    assert_eq!(store.outbox_backlog().await.expect("backlog"), (0, None));
    store
        .put_subscription(&Subscription {
            name: "crm".to_owned(),
            url: "http://crm.example.com/hook".to_owned(),
            events: vec!["call.entered".to_owned(), "call.ended".to_owned()],
            queues: Vec::new(),
            secrets: vec!["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned()],
            enabled: true,
            disabled_reason: None,
        })
        .await
        .expect("subscribe");
    let (first, second) = (
        CallId::from_uuid(uuid::Uuid::new_v4()),
        CallId::from_uuid(uuid::Uuid::new_v4()),
    );
    store
        .write(&[entered(first, T0), ended(first, T0 + 5_000)])
        .await
        .expect("write");
    store
        .write(&[entered(second, T0 + 10_000)])
        .await
        .expect("write");
    assert_eq!(
        store.outbox_backlog().await.expect("backlog"),
        (3, Some(Timestamp::from_millis(T0)))
    );
    // Once the first call's events are delivered, the oldest pending one is the second's.
    let first_calls = store
        .deliveries(&DeliveryFilter {
            call: Some(first),
            limit: 10,
            ..DeliveryFilter::default()
        })
        .await
        .expect("deliveries");
    assert_eq!(first_calls.len(), 2);
    for d in first_calls {
        store
            .delivery_attempted(
                d.id,
                Timestamp::from_millis(T0 + 20_000),
                &AttemptResult::Delivered { status: 200 },
            )
            .await
            .expect("delivered");
    }
    assert_eq!(
        store.outbox_backlog().await.expect("backlog"),
        (1, Some(Timestamp::from_millis(T0 + 10_000)))
    );
}
