//! Store conformance for supervisor monitoring: a session's `started`, `mode_changed` and
//! `ended` rows read back in order with who, which agent, the modes and why, and each announced
//! as its `monitor.*` event with the details beside the call. Runs on SQLite and, when
//! `DATABASE_URL` is set, on PostgreSQL (see `store`).

use switchboard::engine::monitor::{MonitorEventKind, MonitorMode};
use switchboard::engine::{
    AgentId, CallId, ChannelId, MonitorId, QueueId, Record, SwitchName, Timestamp,
};
use switchboard::store::{EventFilter, Store};

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

conformance!(a_monitoring_session_reads_back_and_is_announced);

/// A row as compared: kind, mode, previous mode, reason, time.
type Seen<'a> = (&'a str, &'a str, Option<&'a str>, Option<&'a str>, i64);

fn monitor(
    kind: MonitorEventKind,
    mode: MonitorMode,
    previous: Option<MonitorMode>,
    reason: Option<&str>,
    at: i64,
) -> Record {
    Record::Monitor {
        monitor: MonitorId::from_uuid(uuid::Uuid::from_u128(9)),
        call: CallId::from_uuid(uuid::Uuid::from_u128(1)),
        queue: QueueId::new("support").expect("queue"),
        agent: AgentId::new("1001").expect("agent"),
        supervisor: "sup".into(),
        kind,
        mode,
        previous,
        reason: reason.map(str::to_owned),
        at: Timestamp::from_millis(at),
    }
}

async fn a_monitoring_session_reads_back_and_is_announced(store: Store) {
    let call = CallId::from_uuid(uuid::Uuid::from_u128(1));
    let records = [
        Record::CallEntered {
            call,
            switch: SwitchName::new("fs1").expect("switch"),
            channel: ChannelId::parse(&uuid::Uuid::from_u128(2).to_string()).expect("uuid"),
            queue: QueueId::new("support").expect("queue"),
            caller_number: "111".into(),
            caller_name: "Ada".into(),
            destination: "5000".into(),
            priority: 0,
            at: Timestamp::from_millis(1_000),
        },
        monitor(
            MonitorEventKind::Started,
            MonitorMode::Listen,
            None,
            None,
            2_000,
        ),
        monitor(
            MonitorEventKind::ModeChanged,
            MonitorMode::Whisper,
            Some(MonitorMode::Listen),
            None,
            3_000,
        ),
        monitor(
            MonitorEventKind::Ended,
            MonitorMode::Whisper,
            None,
            Some("requested"),
            4_000,
        ),
    ];
    if let Err(e) = store.write(&records).await {
        panic!("write: {e}");
    }
    let rows = store.monitor_events(call).await.expect("read back");
    let seen: Vec<Seen<'_>> = rows
        .iter()
        .map(|r| {
            (
                r.kind.as_str(),
                r.mode.as_str(),
                r.previous_mode.as_deref(),
                r.reason.as_deref(),
                r.at,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("started", "listen", None, None, 2_000),
            ("mode_changed", "whisper", Some("listen"), None, 3_000),
            ("ended", "whisper", None, Some("requested"), 4_000),
        ]
    );
    assert!(rows
        .iter()
        .all(|r| r.supervisor == "sup" && r.agent == "1001" && r.queue == "support"));
    let filter = EventFilter {
        types: Vec::new(),
        queues: Vec::new(),
        members: Vec::new(),
        agent: None,
    };
    let events = store.events_after(0, &filter, 100).await.expect("events");
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "call.entered",
            "monitor.started",
            "monitor.mode_changed",
            "monitor.ended"
        ]
    );
    let changed: serde_json::Value = serde_json::from_str(&events[2].payload).expect("JSON");
    let details = &changed["data"]["details"];
    assert_eq!(details["supervisor"], "sup");
    assert_eq!(details["mode"], "whisper");
    assert_eq!(details["previous_mode"], "listen");
    assert_eq!(changed["data"]["call"]["id"], call.to_string());
    assert_eq!(changed["data"]["agent"]["id"], "1001");
}
