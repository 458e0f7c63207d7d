//! A conference in the history on both databases: its steps as `conference` queue events, each
//! a `call.conference` event with its details, the party that took the call over as the call's
//! agent after the first one left, and one `call.ended`.

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

fn step(call: CallId, agent: Option<&str>, detail: String, at: i64) -> Record {
    Record::QueueEvent {
        call,
        queue: queue(),
        agent: agent.map(|a| AgentId::new(a).expect("agent")),
        kind: QueueEventKind::Conference,
        detail,
        at: ts(at),
    }
}

async fn a_conference_whose_agent_left_ends_once_with_the_party(store: Store) {
    let call = CallId::from_uuid(uuid::Uuid::new_v4());
    let (first, party) = (leg(), leg());
    let name = format!("sb-{call}");
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
                agent_channel: first.clone(),
                wait_ms: 1_000,
                at: ts(1_000),
            },
            step(
                call,
                Some("1001"),
                format!("step=started name={name} agent_leaves=stay by=token:alice"),
                2_000,
            ),
            step(
                call,
                Some("1001"),
                format!("step=adding party=1002 leg={party} by=token:alice"),
                2_000,
            ),
            step(
                call,
                Some("1002"),
                format!("step=added party=1002 leg={party}"),
                3_000,
            ),
            step(
                call,
                Some("1001"),
                format!("step=agent_left from=1001 to=1002 leg={first} talk_ms=5000"),
                6_000,
            ),
            Record::QueueEvent {
                call,
                queue: queue(),
                agent: Some(AgentId::new("1002").expect("agent")),
                kind: QueueEventKind::Connect,
                detail: format!("conference leg={party}"),
                at: ts(6_000),
            },
            step(call, None, "step=ended agent_leaves=stay".to_owned(), 9_000),
            Record::CallEnded {
                call,
                outcome: CallOutcome::Completed,
                hangup_cause: "NORMAL_CLEARING".to_owned(),
                talk_ms: Some(6_000),
                wait_ms: None,
                at: ts(9_000),
            },
        ])
        .await
        .expect("written");
    let kinds: Vec<QueueEventKind> = store
        .queue_events(call)
        .await
        .expect("queue events")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == QueueEventKind::Conference)
            .count(),
        5
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
    let conference = of("call.conference");
    let steps: Vec<&str> = conference
        .iter()
        .map(|p| p["data"]["details"]["step"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(steps, ["started", "adding", "added", "agent_left", "ended"]);
    assert_eq!(
        conference[0]["data"]["details"]["conference"],
        name.as_str()
    );
    assert_eq!(conference[0]["data"]["details"]["agent_leaves"], "stay");
    assert_eq!(conference[2]["data"]["details"]["party"], "1002");
    assert_eq!(conference[3]["data"]["details"]["to_agent"], "1002");
    assert_eq!(of("call.ended").len(), 1);
}

mod sqlite {
    #[tokio::test]
    async fn a_conference_whose_agent_left_ends_once_with_the_party() {
        let db = super::TestDb::sqlite();
        super::a_conference_whose_agent_left_ends_once_with_the_party(db.connect().await).await;
    }
}

mod postgres {
    #[tokio::test]
    async fn a_conference_whose_agent_left_ends_once_with_the_party() {
        let Some(db) = super::TestDb::postgres().await else {
            return;
        };
        super::a_conference_whose_agent_left_ends_once_with_the_party(db.connect().await).await;
    }
}
