//! A consult transfer in the history on both databases: the consult steps and the attended
//! transfer as queue events, the target's answer moving the call's agent (same call id), one
//! `call.transferred` and one `call.ended`, whose agent is the target.

use serde_json::Value;
use switchboard::engine::{
    AgentId, CallId, CallOutcome, ChannelId, QueueEventKind, QueueId, Record, SwitchName, Timestamp,
};
use switchboard::store::{EventFilter, Store};

use crate::store::TestDb;

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

fn queue() -> QueueId {
    QueueId::new("support").expect("queue")
}

fn leg() -> ChannelId {
    ChannelId::parse(&uuid::Uuid::new_v4().to_string()).expect("uuid")
}

fn event(call: CallId, agent: &str, kind: QueueEventKind, detail: &str, at: i64) -> Record {
    Record::QueueEvent {
        call,
        queue: queue(),
        agent: Some(AgentId::new(agent).expect("agent")),
        kind,
        detail: detail.to_owned(),
        at: ts(at),
    }
}

async fn a_completed_consult_is_one_call_ending_with_the_target(store: Store) {
    let call = CallId::from_uuid(uuid::Uuid::new_v4());
    let (first, target) = (leg(), leg());
    store
        .write(&[
            Record::CallEntered {
                call,
                switch: SwitchName::new("fs-1").expect("switch"),
                channel: leg(),
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
                agent_channel: first,
                wait_ms: 1_000,
                at: ts(1_000),
            },
            event(
                call,
                "1001",
                QueueEventKind::Consult,
                "step=start to=1002",
                2_000,
            ),
            event(
                call,
                "1001",
                QueueEventKind::Consult,
                "step=answered to=1002",
                3_000,
            ),
            event(
                call,
                "1001",
                QueueEventKind::Consult,
                "step=complete to=1002",
                5_000,
            ),
            event(
                call,
                "1001",
                QueueEventKind::Transfer,
                "kind=attended from=1001 to=agent:1002 by=token:alice talk_ms=4020",
                5_020,
            ),
            Record::CallAnswered {
                call,
                agent: AgentId::new("1002").expect("agent"),
                agent_channel: target.clone(),
                wait_ms: 1_000,
                at: ts(5_020),
            },
            Record::CallEnded {
                call,
                outcome: CallOutcome::Completed,
                hangup_cause: "NORMAL_CLEARING".to_owned(),
                talk_ms: Some(3_980),
                wait_ms: None,
                at: ts(9_000),
            },
        ])
        .await
        .expect("written");
    let row = store.call(call).await.expect("read").expect("the call");
    assert_eq!(row.agent.as_ref().map(|a| a.as_str()), Some("1002"));
    assert_eq!(row.agent_channel.as_ref(), Some(&target));
    let kinds: Vec<QueueEventKind> = store
        .queue_events(call)
        .await
        .expect("queue events")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            QueueEventKind::Consult,
            QueueEventKind::Consult,
            QueueEventKind::Consult,
            QueueEventKind::Transfer
        ]
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
    let (transferred, ended) = (of("call.transferred"), of("call.ended"));
    assert_eq!((transferred.len(), ended.len()), (1, 1));
    assert_eq!(transferred[0]["data"]["details"]["kind"], "attended");
    assert_eq!(transferred[0]["data"]["details"]["to"], "agent:1002");
    assert_eq!(ended[0]["data"]["agent"]["id"], "1002");
}

mod sqlite {
    #[tokio::test]
    async fn a_completed_consult_is_one_call_ending_with_the_target() {
        let db = super::TestDb::sqlite();
        super::a_completed_consult_is_one_call_ending_with_the_target(db.connect().await).await;
    }
}

mod postgres {
    #[tokio::test]
    async fn a_completed_consult_is_one_call_ending_with_the_target() {
        let Some(db) = super::TestDb::postgres().await else {
            return;
        };
        super::a_completed_consult_is_one_call_ending_with_the_target(db.connect().await).await;
    }
}
