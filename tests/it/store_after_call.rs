//! After-call work in the history on both databases: pending after-call states read back for a
//! restart (the latest row per agent, cancelled and applied ones left out), a call's
//! disposition on its row, in `call.ended` and `call.wrapped_up`, and `agent.after_call` in the
//! outbox.

use serde_json::Value;
use switchboard::engine::{
    AgentId, AgentStatus, CallId, CallOutcome, ChannelId, QueueId, Record, SwitchName, Timestamp,
};
use switchboard::store::{EventFilter, Store};

use crate::store::TestDb;

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

fn aid(id: &str) -> AgentId {
    AgentId::new(id).expect("agent")
}

fn after_call(agent: &str, status: Option<AgentStatus>, applied: bool, at: i64) -> Record {
    Record::AgentAfterCall {
        agent: aid(agent),
        status,
        reason: (status == Some(AgentStatus::Paused)).then(|| "lunch".to_owned()),
        applied,
        at: ts(at),
    }
}

async fn pending_states_and_dispositions_are_kept_and_announced(store: Store) {
    store
        .write(&[
            after_call("1001", Some(AgentStatus::Paused), false, 1_000),
            after_call("1002", Some(AgentStatus::LoggedOut), false, 1_000),
            after_call("1002", None, false, 2_000),
            after_call("1003", Some(AgentStatus::Paused), false, 1_000),
            after_call("1003", Some(AgentStatus::Paused), true, 3_000),
            after_call("1004", Some(AgentStatus::Paused), false, 1_000),
            after_call("1004", Some(AgentStatus::LoggedOut), false, 4_000),
        ])
        .await
        .expect("after-call rows");
    let pending: Vec<(String, AgentStatus, Option<String>, i64)> = store
        .pending_after_call()
        .await
        .expect("pending")
        .into_iter()
        .map(|p| (p.agent.to_string(), p.status, p.reason, p.since.as_millis()))
        .collect();
    assert_eq!(
        pending,
        [
            (
                "1001".to_owned(),
                AgentStatus::Paused,
                Some("lunch".to_owned()),
                1_000
            ),
            ("1004".to_owned(), AgentStatus::LoggedOut, None, 4_000),
        ]
    );

    let call = CallId::from_uuid(uuid::Uuid::new_v4());
    let caller = ChannelId::parse(&uuid::Uuid::new_v4().to_string()).expect("uuid");
    let leg = ChannelId::parse(&uuid::Uuid::new_v4().to_string()).expect("uuid");
    let queue = QueueId::new("support").expect("queue");
    store
        .write(&[
            Record::CallEntered {
                call,
                switch: SwitchName::new("fs-1").expect("switch"),
                channel: caller,
                queue: queue.clone(),
                caller_number: "+4930123456".to_owned(),
                caller_name: "Erika".to_owned(),
                destination: "5000".to_owned(),
                priority: 0,
                at: ts(0),
            },
            Record::CallAnswered {
                call,
                agent: aid("1001"),
                agent_channel: leg,
                wait_ms: 1_000,
                at: ts(1_000),
            },
            Record::CallDisposition {
                call,
                agent: aid("1001"),
                code: "1".to_owned(),
                at: ts(5_000),
            },
            Record::CallEnded {
                call,
                outcome: CallOutcome::Completed,
                hangup_cause: "NORMAL_CLEARING".to_owned(),
                talk_ms: Some(9_000),
                wait_ms: None,
                at: ts(10_000),
            },
            Record::CallDisposition {
                call,
                agent: aid("1001"),
                code: "2".to_owned(),
                at: ts(12_000),
            },
            Record::CallWrappedUp {
                call,
                agent: aid("1001"),
                queue,
                disposition: Some("2".to_owned()),
                wrap_up_ms: 5_000,
                at: ts(15_000),
            },
        ])
        .await
        .expect("a disposed call");
    let row = store.call(call).await.expect("read").expect("the call");
    assert_eq!(row.disposition.as_deref(), Some("2"));
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
    let ended = of("call.ended");
    assert_eq!(ended[0]["data"]["call"]["disposition"], "1");
    let wrapped = of("call.wrapped_up");
    assert_eq!(wrapped.len(), 1);
    assert_eq!(wrapped[0]["data"]["details"]["disposition"], "2");
    assert_eq!(wrapped[0]["data"]["details"]["wrap_up_ms"], 5_000);
    assert_eq!(wrapped[0]["data"]["call"]["disposition"], "2");
    let after = of("agent.after_call");
    assert_eq!(after.len(), 7);
    assert_eq!(after[0]["data"]["details"]["state"], "paused");
    assert_eq!(after[0]["data"]["details"]["pending"], true);
    assert!(
        after[2]["data"]["details"].get("state").is_none(),
        "cancelled: {}",
        after[2]
    );
    assert_eq!(after[4]["data"]["details"]["applied"], true);
}

mod sqlite {
    #[tokio::test]
    async fn pending_states_and_dispositions_are_kept_and_announced() {
        let db = super::TestDb::sqlite();
        super::pending_states_and_dispositions_are_kept_and_announced(db.connect().await).await;
    }
}

mod postgres {
    #[tokio::test]
    async fn pending_states_and_dispositions_are_kept_and_announced() {
        let Some(db) = super::TestDb::postgres().await else {
            return;
        };
        super::pending_states_and_dispositions_are_kept_and_announced(db.connect().await).await;
    }
}
