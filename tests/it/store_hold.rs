//! Hold in the history on both databases: queue events readable back, the call row's total added
//! to at each end of a hold (so an engine that counts from zero again after a restart loses
//! nothing written), `call.held`/`call.resumed` in the outbox, and the total in `call.ended`.

use serde_json::Value;
use switchboard::engine::{
    AgentId, CallId, CallOutcome, ChannelId, HoldBy, QueueEventKind, QueueId, Record, SwitchName,
    Timestamp,
};
use switchboard::store::{EventFilter, Store};

use crate::store::TestDb;

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

fn queue() -> QueueId {
    QueueId::new("support").expect("queue")
}

fn agent() -> Option<AgentId> {
    Some(AgentId::new("1001").expect("agent"))
}

fn held(call: CallId, by: HoldBy, at: i64) -> Record {
    Record::CallHeld {
        call,
        queue: queue(),
        agent: agent(),
        by,
        at: ts(at),
    }
}

fn resumed(call: CallId, by: HoldBy, held_ms: i64, total_ms: i64, holds: u32, at: i64) -> Record {
    Record::CallResumed {
        call,
        queue: queue(),
        agent: agent(),
        by,
        held_ms,
        total_ms,
        holds,
        at: ts(at),
    }
}

async fn holds_are_kept_across_an_engine_restart_and_announced(store: Store) {
    let call = CallId::from_uuid(uuid::Uuid::new_v4());
    let caller = ChannelId::parse(&uuid::Uuid::new_v4().to_string()).expect("uuid");
    let leg = ChannelId::parse(&uuid::Uuid::new_v4().to_string()).expect("uuid");
    store
        .write(&[
            Record::CallEntered {
                call,
                switch: SwitchName::new("fs-1").expect("switch"),
                channel: caller,
                queue: queue(),
                caller_number: "+4930123456".to_owned(),
                caller_name: "Erika".to_owned(),
                destination: "5000".to_owned(),
                priority: 0,
                at: ts(0),
            },
            Record::CallAnswered {
                call,
                agent: AgentId::new("1001").expect("agent"),
                agent_channel: leg,
                wait_ms: 1_000,
                at: ts(1_000),
            },
            held(call, HoldBy::AgentPhone, 5_000),
            resumed(call, HoldBy::AgentPhone, 4_000, 4_000, 1, 9_000),
        ])
        .await
        .expect("first holds");
    // A restarted engine counts from zero: its totals say 1 hold of 2 s.
    store
        .write(&[
            held(call, HoldBy::Token("sup".into()), 12_000),
            resumed(call, HoldBy::Token("sup".into()), 2_000, 2_000, 1, 14_000),
            Record::CallEnded {
                call,
                outcome: CallOutcome::Completed,
                hangup_cause: "NORMAL_CLEARING".to_owned(),
                talk_ms: Some(19_000),
                wait_ms: None,
                at: ts(20_000),
            },
        ])
        .await
        .expect("after the restart");
    let row = store.call(call).await.expect("read").expect("the call");
    assert_eq!((row.hold_ms, row.holds), (Some(6_000), Some(2)));
    let events: Vec<(QueueEventKind, String)> = store
        .queue_events(call)
        .await
        .expect("queue events")
        .into_iter()
        .filter(|e| matches!(e.kind, QueueEventKind::Hold | QueueEventKind::Unhold))
        .map(|e| (e.kind, e.detail))
        .collect();
    assert_eq!(
        events,
        [
            (QueueEventKind::Hold, "by=agent_phone"),
            (QueueEventKind::Unhold, "by=agent_phone held_ms=4000"),
            (QueueEventKind::Hold, "by=token:sup"),
            (QueueEventKind::Unhold, "by=token:sup held_ms=2000"),
        ]
        .map(|(k, d)| (k, d.to_owned()))
    );
    let stream = store
        .events_after(0, &EventFilter::default(), 100)
        .await
        .expect("events");
    let of = |kind: &str| -> Vec<Value> {
        stream
            .iter()
            .filter(|e| e.event_type == kind)
            .map(|e| serde_json::from_str(&e.payload).expect("JSON"))
            .collect()
    };
    let (held, resumed, ended) = (of("call.held"), of("call.resumed"), of("call.ended"));
    assert_eq!((held.len(), resumed.len(), ended.len()), (2, 2, 1));
    assert_eq!(held[1]["data"]["details"]["by"], "token:sup");
    assert_eq!(held[0]["data"]["agent"]["id"], "1001");
    assert_eq!(resumed[0]["data"]["details"]["held_ms"], 4_000);
    assert_eq!(resumed[0]["data"]["call"]["hold_ms"], 4_000);
    assert_eq!(ended[0]["data"]["call"]["hold_ms"], 6_000);
    assert_eq!(ended[0]["data"]["call"]["holds"], 2);
}

mod sqlite {
    #[tokio::test]
    async fn holds_are_kept_across_an_engine_restart_and_announced() {
        let db = super::TestDb::sqlite();
        super::holds_are_kept_across_an_engine_restart_and_announced(db.connect().await).await;
    }
}

mod postgres {
    #[tokio::test]
    async fn holds_are_kept_across_an_engine_restart_and_announced() {
        let Some(db) = super::TestDb::postgres().await else {
            return;
        };
        super::holds_are_kept_across_an_engine_restart_and_announced(db.connect().await).await;
    }
}
