//! Retention, legal holds and erasure. The store's part runs on SQLite and PostgreSQL (as in
//! `store`); the REST routes run against a real controller whose switch has a recordings mount
//! in a temp folder. Data gets in through the store's write path, as the engine writes it, and
//! webhook deliveries arise from those writes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::Connection;
use switchboard::engine::record::FlowOutcome;
use switchboard::engine::recording::{Consent, RecordingAction, RecordingActor, RecordingReason};
use switchboard::engine::{
    AgentId, CallId, CallOutcome, ChannelId, FlowId, QueueId, Record, RecordingId, SwitchName,
    Timestamp,
};
use switchboard::store::{
    AttemptResult, DeliveryFilter, DeliveryStatus, HoldFilter, HoldPlaced, HoldState, HoldTarget,
    RecordingStatus, Removal, RemovalFilter, RemovalKind, Store, StoreError, Subscription,
    ERASED_DELIVERY,
};

use crate::harness::{client_with, eventually, spawn_app, TestApp};
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

conformance!(
    a_legal_hold_stands_until_released_and_placing_it_twice_keeps_the_first,
    the_purge_chooses_finished_expired_recordings_that_no_hold_covers,
    removing_a_recording_takes_its_changes_and_evaluations_and_leaves_an_audit_row,
    erasing_a_call_clears_what_the_caller_entered_stubs_every_event_and_pseudonymises_the_caller,
    a_callers_calls_and_recordings_are_found_by_number_with_their_holds,
);

// ---------------------------------------------------------------------------------------------
// Records, as the engine writes them.

const T0: i64 = 1_700_000_000_000;
const NUMBER: &str = "+4930123456";
const OTHER: &str = "+4940999888";

fn ts(offset_ms: i64) -> Timestamp {
    Timestamp::from_millis(T0 + offset_ms)
}

fn switch() -> SwitchName {
    SwitchName::new("sim").expect("switch")
}

fn new_call() -> CallId {
    CallId::from_uuid(uuid::Uuid::new_v4())
}

fn new_recording() -> RecordingId {
    RecordingId::from_uuid(uuid::Uuid::new_v4())
}

fn channel() -> ChannelId {
    ChannelId::from_uuid(uuid::Uuid::new_v4())
}

fn entered(call: CallId, number: &str, at: Timestamp) -> Record {
    Record::CallEntered {
        call,
        switch: switch(),
        channel: channel(),
        queue: QueueId::new("support").expect("queue"),
        caller_number: number.to_owned(),
        caller_name: "Erika Mustermann".to_owned(),
        destination: "5000".to_owned(),
        priority: 0,
        at,
    }
}

fn ended(call: CallId, at: Timestamp) -> Record {
    Record::CallEnded {
        call,
        outcome: CallOutcome::Completed,
        hangup_cause: "NORMAL_CLEARING".to_owned(),
        talk_ms: Some(1_000),
        wait_ms: None,
        at,
    }
}

/// An IVR session that asked for an account number and kept it, before the queue.
fn ivr(call: CallId, number: &str, account: &str, at: Timestamp) -> Vec<Record> {
    let flow = FlowId::new("main").expect("flow");
    vec![
        Record::FlowEntered {
            call,
            switch: switch(),
            channel: channel(),
            flow: flow.clone(),
            entry: "5000".to_owned(),
            caller_number: number.to_owned(),
            caller_name: "Erika Mustermann".to_owned(),
            destination: "5000".to_owned(),
            at,
        },
        Record::FlowStep {
            call,
            flow,
            node: "account".to_owned(),
            kind: "collect".to_owned(),
            digits: account.to_owned(),
            outcome: "collected".to_owned(),
            survey: false,
            at,
        },
        Record::FlowEnded {
            call,
            outcome: FlowOutcome::Enqueued,
            variables: vec![("account".to_owned(), account.to_owned())],
            at,
        },
    ]
}

/// The survey after the call, with the caller's rating.
fn survey(call: CallId, at: Timestamp) -> Vec<Record> {
    let flow = FlowId::new("survey").expect("flow");
    vec![
        Record::SurveyStarted {
            call,
            flow: flow.clone(),
            agent: AgentId::new("1001").expect("agent"),
            at,
        },
        Record::FlowStep {
            call,
            flow,
            node: "rate".to_owned(),
            kind: "collect".to_owned(),
            digits: "5".to_owned(),
            outcome: "collected".to_owned(),
            survey: true,
            at,
        },
        Record::SurveyEnded {
            call,
            outcome: FlowOutcome::HungUp,
            answers: vec![("rating".to_owned(), "5".to_owned())],
            at,
        },
    ]
}

fn relative_path(call: CallId) -> String {
    format!("2024-01-01/support/{call}.wav")
}

fn started(recording: RecordingId, call: CallId, number: &str, at: Timestamp) -> Record {
    let relative_path = relative_path(call);
    Record::RecordingStarted {
        recording,
        call,
        switch: switch(),
        channel: channel(),
        agent_channel: Some(channel()),
        queue: Some(QueueId::new("support").expect("queue")),
        agent: Some(AgentId::new("1001").expect("agent")),
        caller_number: number.to_owned(),
        destination: "5000".to_owned(),
        path: format!("/var/lib/freeswitch/recordings/{relative_path}"),
        relative_path,
        stereo: false,
        reason: RecordingReason::Always,
        by: RecordingActor::Policy,
        consent: Consent::default(),
        at,
    }
}

fn stopped(recording: RecordingId, retain_until: Option<Timestamp>, at: Timestamp) -> Record {
    Record::RecordingStopped {
        recording,
        by: RecordingActor::Switch,
        duration_ms: 1_000,
        error: None,
        retain_until,
        at,
    }
}

fn declined(
    recording: RecordingId,
    call: CallId,
    retain_until: Option<Timestamp>,
    at: Timestamp,
) -> Record {
    Record::RecordingDeclined {
        recording,
        call,
        switch: switch(),
        queue: QueueId::new("support").expect("queue"),
        agent: None,
        caller_number: NUMBER.to_owned(),
        destination: "5000".to_owned(),
        consent: Consent {
            notice_at: Some(at),
            opted_out_at: Some(at),
        },
        retain_until,
        at,
    }
}

/// A call with one finished recording kept until `retain_until`.
fn recorded_call(
    number: &str,
    retain_until: Option<Timestamp>,
    at: Timestamp,
) -> (CallId, RecordingId, Vec<Record>) {
    let (call, recording) = (new_call(), new_recording());
    let records = vec![
        entered(call, number, at),
        started(recording, call, number, at),
        stopped(recording, retain_until, at),
        ended(call, at),
    ];
    (call, recording, records)
}

async fn ok<T>(what: &str, result: Result<T, StoreError>) -> T {
    match result {
        Ok(v) => v,
        Err(e) => panic!("{what}: {e}"),
    }
}

async fn write(store: &Store, records: &[Record]) {
    ok("write", store.write(records).await).await;
}

/// One number the database gives for `sql`, read behind the store's back.
async fn count(db: &TestDb, sql: &str) -> i64 {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&db.url)
        .await
        .expect("raw connection");
    let n: i64 = sqlx::query_scalar(sql)
        .fetch_one(&mut conn)
        .await
        .expect("count");
    let _ = conn.close().await;
    n
}

fn removal(kind: RemovalKind, at: Timestamp) -> Removal {
    Removal {
        kind,
        recording: None,
        call: None,
        subject: None,
        detail: json!({ "file": "deleted" }),
        actor: "test".to_owned(),
        at,
    }
}

// ---------------------------------------------------------------------------------------------
// The store, on both backends.

async fn a_legal_hold_stands_until_released_and_placing_it_twice_keeps_the_first(
    store: Store,
    _db: &TestDb,
) {
    let (call, recording, records) = recorded_call(NUMBER, None, ts(0));
    write(&store, &records).await;
    let target = HoldTarget::Recording(recording);

    let placed = ok(
        "place",
        store
            .place_legal_hold(target, "case 17", "compliance", ts(10))
            .await,
    )
    .await;
    let HoldPlaced::Placed(hold) = placed else {
        panic!("expected a new hold, got {placed:?}")
    };
    assert_eq!(hold.recording, Some(recording));
    assert_eq!(hold.call, None);
    assert_eq!(
        (hold.reason.as_str(), hold.placed_by.as_str()),
        ("case 17", "compliance")
    );
    assert_eq!(hold.placed_at, ts(10));
    assert_eq!(hold.released_at, None);

    let again = ok(
        "place again",
        store
            .place_legal_hold(target, "case 18", "other", ts(20))
            .await,
    )
    .await;
    assert_eq!(again, HoldPlaced::AlreadyStanding(hold.clone()));

    for unknown in [
        HoldTarget::Recording(new_recording()),
        HoldTarget::Call(new_call()),
    ] {
        let placed = ok(
            "unknown",
            store.place_legal_hold(unknown, "x", "c", ts(0)).await,
        )
        .await;
        assert_eq!(placed, HoldPlaced::UnknownTarget, "{unknown}");
    }
    let on_call = ok(
        "on the call",
        store
            .place_legal_hold(HoldTarget::Call(call), "case 17", "compliance", ts(30))
            .await,
    )
    .await;
    assert!(matches!(on_call, HoldPlaced::Placed(ref h) if h.call == Some(call)));
    assert!(ok("held", store.is_held(new_recording(), call).await).await);

    let standing = |state| HoldFilter {
        state,
        limit: 10,
        ..HoldFilter::default()
    };
    let listed = ok(
        "list",
        store.legal_holds(&standing(HoldState::Standing)).await,
    )
    .await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].call, Some(call), "newest first");

    let released = ok(
        "release",
        store.release_legal_hold(target, "compliance", ts(40)).await,
    )
    .await;
    assert_eq!(released.len(), 1);
    assert_eq!(released[0].id, hold.id);
    assert_eq!(released[0].released_at, Some(ts(40)));
    assert_eq!(released[0].released_by.as_deref(), Some("compliance"));
    let none = ok(
        "release again",
        store.release_legal_hold(target, "compliance", ts(50)).await,
    )
    .await;
    assert!(none.is_empty());

    let only_recording = HoldFilter {
        state: HoldState::All,
        recording: Some(recording),
        limit: 10,
        ..HoldFilter::default()
    };
    let all = ok("of the recording", store.legal_holds(&only_recording).await).await;
    assert_eq!(all.len(), 1);
    let released = ok(
        "released",
        store.legal_holds(&standing(HoldState::Released)).await,
    )
    .await;
    assert_eq!(released.len(), 1);
    assert_eq!(released[0].recording, Some(recording));
}

async fn the_purge_chooses_finished_expired_recordings_that_no_hold_covers(
    store: Store,
    _db: &TestDb,
) {
    let now = ts(5_000);
    let (_, due, records) = recorded_call(NUMBER, Some(ts(1_000)), ts(0));
    write(&store, &records).await;
    // Still recording: never due, whatever happens to the rest of the call.
    let (call, running) = (new_call(), new_recording());
    write(
        &store,
        &[
            entered(call, NUMBER, ts(0)),
            started(running, call, NUMBER, ts(0)),
        ],
    )
    .await;
    let (_, held, records) = recorded_call(NUMBER, Some(ts(1_000)), ts(0));
    write(&store, &records).await;
    let (held_call, of_held_call, records) = recorded_call(NUMBER, Some(ts(2_000)), ts(0));
    write(&store, &records).await;
    let (_, later, records) = recorded_call(NUMBER, Some(ts(10_000)), ts(0));
    write(&store, &records).await;
    let (_, forever, records) = recorded_call(NUMBER, None, ts(0));
    write(&store, &records).await;
    let (declined_call, opted_out) = (new_call(), new_recording());
    write(
        &store,
        &[
            entered(declined_call, NUMBER, ts(0)),
            declined(opted_out, declined_call, Some(ts(3_000)), ts(0)),
        ],
    )
    .await;
    for target in [HoldTarget::Recording(held), HoldTarget::Call(held_call)] {
        ok(
            "hold",
            store.place_legal_hold(target, "case", "c", ts(100)).await,
        )
        .await;
    }

    let chosen = ok("due", store.due_recordings(now, None, 100).await).await;
    let ids: Vec<RecordingId> = chosen.iter().map(|f| f.recording).collect();
    assert_eq!(ids, [due, opted_out], "oldest retention first");
    assert_eq!(chosen[0].relative_path, Some(relative_path(chosen[0].call)));
    assert_eq!(chosen[0].status, RecordingStatus::Stopped);
    assert_eq!(
        chosen[1].relative_path, None,
        "a declined recording has no file"
    );
    assert_eq!(chosen[1].status, RecordingStatus::Declined);
    assert_eq!(ok("held", store.held_due_recordings(now).await).await, 2);

    let first = ok("first page", store.due_recordings(now, None, 1).await).await;
    assert_eq!(first.len(), 1);
    let after = first[0].retain_until.map(|at| (at, first[0].recording));
    assert!(after.is_some());
    let second = ok("second page", store.due_recordings(now, after, 1).await).await;
    assert_eq!(
        second.iter().map(|f| f.recording).collect::<Vec<_>>(),
        [opted_out]
    );

    ok(
        "release",
        store
            .release_legal_hold(HoldTarget::Call(held_call), "c", ts(200))
            .await,
    )
    .await;
    let chosen = ok("due", store.due_recordings(now, None, 100).await).await;
    let ids: Vec<RecordingId> = chosen.iter().map(|f| f.recording).collect();
    assert_eq!(ids, [due, of_held_call, opted_out]);
    assert!(!ids.contains(&running) && !ids.contains(&later) && !ids.contains(&forever));
}

async fn removing_a_recording_takes_its_changes_and_evaluations_and_leaves_an_audit_row(
    store: Store,
    db: &TestDb,
) {
    let (call, recording, records) = recorded_call(NUMBER, Some(ts(1_000)), ts(0));
    write(&store, &records).await;
    write(
        &store,
        &[Record::RecordingChanged {
            recording,
            action: RecordingAction::Pause,
            by: RecordingActor::Token("desk".to_owned()),
            offset_ms: 500,
            at: ts(500),
        }],
    )
    .await;
    db.raw(&format!(
        "INSERT INTO recording_evaluations (recording_id, form, evaluator, scores, total, \
         max_total, notes, at) VALUES ('{recording}', 'quality', 'sup', '[]', 3, 5, '', 0)"
    ))
    .await;
    let (held_call, held, records) = recorded_call(NUMBER, Some(ts(1_000)), ts(0));
    write(&store, &records).await;
    ok(
        "hold",
        store
            .place_legal_hold(HoldTarget::Call(held_call), "case", "c", ts(0))
            .await,
    )
    .await;

    let mut audit = removal(RemovalKind::Purge, ts(5_000));
    audit.recording = Some(recording);
    audit.call = Some(call);
    assert!(ok("remove", store.remove_recording(recording, &audit).await).await);
    assert!(
        !ok(
            "remove again",
            store.remove_recording(recording, &audit).await
        )
        .await,
        "a second pass finds nothing and writes nothing"
    );
    assert!(
        !ok("remove held", store.remove_recording(held, &audit).await).await,
        "a hold wins"
    );
    let table = |t: &str| format!("SELECT COUNT(*) FROM {t} WHERE recording_id = '{recording}'");
    assert_eq!(
        count(
            db,
            &format!("SELECT COUNT(*) FROM recordings WHERE id = '{recording}'")
        )
        .await,
        0
    );
    assert_eq!(count(db, &table("recording_changes")).await, 0);
    assert_eq!(count(db, &table("recording_evaluations")).await, 0);
    assert_eq!(
        count(
            db,
            &format!("SELECT COUNT(*) FROM recordings WHERE id = '{held}'")
        )
        .await,
        1
    );

    let removals = ok(
        "removals",
        store
            .data_removals(&RemovalFilter {
                limit: 10,
                ..RemovalFilter::default()
            })
            .await,
    )
    .await;
    assert_eq!(removals.len(), 1);
    let row = &removals[0];
    assert_eq!(row.kind, RemovalKind::Purge);
    assert_eq!((row.recording, row.call), (Some(recording), Some(call)));
    assert_eq!(row.detail, json!({ "file": "deleted" }));
    assert_eq!((row.actor.as_str(), row.at), ("test", ts(5_000)));

    ok(
        "audit",
        store
            .add_data_removal(&removal(RemovalKind::Erasure, ts(6_000)))
            .await,
    )
    .await;
    let filtered = |kind, since| RemovalFilter {
        since,
        kind,
        limit: 10,
    };
    let erasures = ok(
        "erasures",
        store
            .data_removals(&filtered(Some(RemovalKind::Erasure), None))
            .await,
    )
    .await;
    assert_eq!(erasures.len(), 1);
    let since = ok(
        "since",
        store.data_removals(&filtered(None, Some(ts(5_500)))).await,
    )
    .await;
    assert_eq!(since.len(), 1);
    assert_eq!(since[0].kind, RemovalKind::Erasure);
}

async fn erasing_a_call_clears_what_the_caller_entered_stubs_every_event_and_pseudonymises_the_caller(
    store: Store,
    _db: &TestDb,
) {
    ok(
        "subscribe",
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
            .await,
    )
    .await;
    let (call, other) = (new_call(), new_call());
    for (c, number, account) in [(call, NUMBER, "12345"), (other, OTHER, "67890")] {
        let mut records = ivr(c, number, account, ts(0));
        records.push(entered(c, number, ts(100)));
        records.push(ended(c, ts(200)));
        records.extend(survey(c, ts(300)));
        write(&store, &records).await;
    }
    let deliveries = |c| DeliveryFilter {
        call: Some(c),
        limit: 10,
        ..DeliveryFilter::default()
    };
    let sent = ok("deliveries", store.deliveries(&deliveries(call)).await).await;
    assert_eq!(sent.len(), 2);
    let entered_delivery = sent
        .iter()
        .find(|d| d.event_type == "call.entered")
        .expect("call.entered delivery");
    ok(
        "delivered",
        store
            .delivery_attempted(
                entered_delivery.id,
                ts(150),
                &AttemptResult::Delivered { status: 204 },
            )
            .await,
    )
    .await;

    let mut audit = removal(RemovalKind::Erasure, ts(1_000));
    audit.call = Some(call);
    audit.subject = Some("hash".to_owned());
    audit.detail = json!({});
    let erased = ok("erase", store.erase_call_data(call, &audit).await)
        .await
        .expect("not held");
    assert_eq!(erased.ivr_sessions_cleared, 1);
    assert_eq!(
        erased.ivr_steps_cleared, 2,
        "the IVR's digits and the survey's"
    );
    assert_eq!(erased.surveys_cleared, 1);
    assert_eq!(erased.webhook_deliveries_cancelled, 1);
    assert_eq!(
        erased.webhook_payloads_removed, 2,
        "the delivered event's too"
    );
    assert_eq!(
        erased.calls_pseudonymised, 2,
        "the call and its IVR session"
    );

    // The history keeps the call, under the pseudonym.
    let pseudonym = "erased:hash";
    let row = ok("call", store.call(call).await).await.expect("call");
    assert_eq!(row.caller_number, pseudonym);
    assert_eq!(row.caller_name, pseudonym);

    let session = ok("session", store.flow_session(call).await)
        .await
        .expect("session");
    assert_eq!(session.caller_number, pseudonym);
    assert_eq!(session.caller_name, pseudonym);
    assert!(session.variables.is_empty());
    assert!(session.steps.iter().all(|s| s.digits.is_empty()));
    let answers = ok("survey", store.call_survey(call).await)
        .await
        .expect("survey");
    assert!(answers.answers.is_empty());
    assert!(answers.steps.iter().all(|s| s.digits.is_empty()));

    let after = ok("deliveries", store.deliveries(&deliveries(call)).await).await;
    for d in &after {
        assert!(!d.payload.contains(NUMBER), "{}", d.payload);
        assert!(!d.payload.contains("Erika"), "{}", d.payload);
        if d.id == entered_delivery.id {
            assert_eq!(d.status, DeliveryStatus::Delivered);
            let stub: Value = serde_json::from_str(&d.payload).expect("a JSON payload");
            assert_eq!(stub["erased"], true);
            assert_eq!(stub["type"], "call.entered");
        } else {
            assert_eq!(d.status, DeliveryStatus::Dead);
            assert_eq!(d.last_error.as_deref(), Some(ERASED_DELIVERY));
            assert!(!d.payload.contains(NUMBER), "{}", d.payload);
            assert!(!d.payload.contains("12345"), "{}", d.payload);
            let stub: Value = serde_json::from_str(&d.payload).expect("a JSON payload");
            assert_eq!(stub["erased"], true);
            assert_eq!(stub["type"], "call.ended");
            // An attempt that was in flight does not bring it back.
            ok(
                "late attempt",
                store
                    .delivery_attempted(
                        d.id,
                        ts(1_100),
                        &AttemptResult::Failed {
                            status: Some(503),
                            error: "503".to_owned(),
                            retry_at: Some(ts(2_000)),
                            give_up: DeliveryStatus::Dead,
                        },
                    )
                    .await,
            )
            .await;
            let late = ok("delivery", store.delivery(d.id).await)
                .await
                .expect("delivery");
            assert_eq!(late.status, DeliveryStatus::Dead);
        }
    }

    // The other caller keeps everything.
    let kept = ok("other", store.flow_session(other).await)
        .await
        .expect("session");
    assert_eq!(
        kept.variables.get("account").map(String::as_str),
        Some("67890")
    );
    assert_eq!(kept.steps[0].digits, "67890");
    assert_eq!(kept.caller_number, OTHER);
    let theirs = ok(
        "other deliveries",
        store.deliveries(&deliveries(other)).await,
    )
    .await;
    assert!(theirs
        .iter()
        .all(|d| d.status == DeliveryStatus::Pending && d.payload.contains(OTHER)));

    let again = ok("erase again", store.erase_call_data(call, &audit).await)
        .await
        .expect("not held");
    assert_eq!(again, Default::default(), "nothing is left to erase");
    let removals = ok(
        "removals",
        store
            .data_removals(&RemovalFilter {
                limit: 10,
                ..RemovalFilter::default()
            })
            .await,
    )
    .await;
    assert_eq!(
        removals.len(),
        1,
        "one audit row, for the erasure that removed"
    );
    assert_eq!(removals[0].detail["ivr_sessions_cleared"], 1);
    assert_eq!(removals[0].subject.as_deref(), Some("hash"));

    ok(
        "hold",
        store
            .place_legal_hold(HoldTarget::Call(other), "case", "c", ts(0))
            .await,
    )
    .await;
    assert_eq!(
        ok("erase held", store.erase_call_data(other, &audit).await).await,
        None
    );
    let held = ok("held", store.flow_session(other).await)
        .await
        .expect("session");
    assert_eq!(held.caller_number, OTHER, "a held call is left as it is");
}

async fn a_callers_calls_and_recordings_are_found_by_number_with_their_holds(
    store: Store,
    _db: &TestDb,
) {
    let (queued, recording, records) = recorded_call(NUMBER, None, ts(0));
    write(&store, &records).await;
    // A caller who stayed in the IVR has no `calls` row; one still in it has not ended.
    let ivr_only = new_call();
    write(&store, &ivr(ivr_only, NUMBER, "1", ts(0))).await;
    let open = new_call();
    write(&store, &[entered(open, NUMBER, ts(0))]).await;
    let (_, others, records) = recorded_call(OTHER, None, ts(0));
    write(&store, &records).await;
    ok(
        "hold",
        store
            .place_legal_hold(HoldTarget::Call(queued), "case", "c", ts(0))
            .await,
    )
    .await;

    let mut calls = ok("calls", store.calls_of_caller(NUMBER).await).await;
    calls.sort_by_key(|c| c.call);
    let mut expected = vec![
        (queued, true, false),
        (ivr_only, false, false),
        (open, false, true),
    ];
    expected.sort_by_key(|(c, _, _)| *c);
    assert_eq!(
        calls
            .iter()
            .map(|c| (c.call, c.held, c.open))
            .collect::<Vec<_>>(),
        expected
    );
    let recordings = ok("recordings", store.recordings_of_caller(NUMBER).await).await;
    assert_eq!(recordings.len(), 1);
    assert_eq!(recordings[0].recording, recording);
    assert!(recordings[0].held, "its call is held");
    assert!(!recordings.iter().any(|r| r.recording == others));
    assert!(ok("nobody", store.calls_of_caller("+1").await)
        .await
        .is_empty());
}

// ---------------------------------------------------------------------------------------------
// End to end: the REST routes and the scheduled task, against a running controller.

fn wall_now() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis();
    Timestamp::from_millis(i64::try_from(ms).expect("fits"))
}

const HOUR: i64 = 3_600_000;

/// A controller whose switch `sim` has its recordings folder mounted at the returned path.
async fn app_with_mount(purge_every: Option<Duration>) -> (TestApp, PathBuf) {
    let mut app = spawn_app(Vec::new(), Duration::ZERO).await;
    app.stop_controller().await;
    let mount = app._dir.path().join("recordings");
    std::fs::create_dir_all(&mount).expect("mount");
    app.recordings_mount = Some(mount.clone());
    app.purge_every = purge_every;
    app.start_controller(&[], Duration::ZERO).await;
    (app, mount)
}

fn store(app: &TestApp) -> &Store {
    &app.running().store
}

/// The recording's file under the mount, with some bytes in it.
fn make_file(mount: &Path, call: CallId) -> PathBuf {
    let path = mount.join(relative_path(call));
    std::fs::create_dir_all(path.parent().expect("parent")).expect("folders");
    std::fs::write(&path, b"RIFF....WAVE").expect("file");
    path
}

async fn post(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.http
        .post(format!("{}{path}", app.base))
        .json(&body)
        .send()
        .await
        .expect("request")
}

async fn delete(app: &TestApp, path: &str) -> reqwest::Response {
    app.http
        .delete(format!("{}{path}", app.base))
        .send()
        .await
        .expect("request")
}

async fn json_of(reply: reqwest::Response) -> Value {
    reply.json().await.expect("a JSON body")
}

#[tokio::test]
async fn the_purge_deletes_expired_unheld_recordings_and_their_files_and_keeps_the_rest() {
    let (app, mount) = app_with_mount(None).await;
    let now = wall_now();
    let expired = Some(Timestamp::from_millis(now.as_millis() - HOUR));
    let at = Timestamp::from_millis(now.as_millis() - 2 * HOUR);

    let (call, gone, records) = recorded_call(NUMBER, expired, at);
    write(store(&app), &records).await;
    let gone_file = make_file(&mount, call);
    let (_, missing, records) = recorded_call(NUMBER, expired, at);
    write(store(&app), &records).await;
    let (call, held, records) = recorded_call(NUMBER, expired, at);
    write(store(&app), &records).await;
    let held_file = make_file(&mount, call);
    let (held_call, of_held_call, records) = recorded_call(NUMBER, expired, at);
    write(store(&app), &records).await;
    let of_held_call_file = make_file(&mount, held_call);
    let unexpired = Some(Timestamp::from_millis(now.as_millis() + 24 * HOUR));
    let (call, fresh, records) = recorded_call(NUMBER, unexpired, at);
    write(store(&app), &records).await;
    let fresh_file = make_file(&mount, call);
    // A "file" that cannot be deleted (a folder in its place, which even root cannot unlink).
    let (call, stuck, records) = recorded_call(NUMBER, expired, at);
    write(store(&app), &records).await;
    let stuck_path = mount.join(relative_path(call));
    std::fs::create_dir_all(stuck_path.join("inside")).expect("a folder in the file's place");

    let reply = app
        .put_json(
            &format!("/v1/recordings/{held}/legal-hold"),
            json!({ "reason": "case 2024-17" }),
        )
        .await;
    assert_eq!(reply.status(), 201);
    let hold = json_of(reply).await;
    assert_eq!(hold["placed_by"], "test-admin");
    assert_eq!(hold["reason"], "case 2024-17");
    let reply = app
        .put_json(
            &format!("/v1/calls/{held_call}/legal-hold"),
            json!({ "reason": "case 2024-18" }),
        )
        .await;
    assert_eq!(reply.status(), 201);

    let report = json_of(post(&app, "/v1/recordings/purge", json!({})).await).await;
    assert_eq!(report["recordings_removed"], 2, "{report}");
    assert_eq!(report["files_deleted"], 1, "{report}");
    assert_eq!(report["files_missing"], 1, "{report}");
    assert_eq!(report["files_unreachable"], 0, "{report}");
    assert_eq!(report["recordings_held"], 2, "{report}");
    assert_eq!(
        report["kept"][0]["recording"],
        stuck.to_string(),
        "{report}"
    );
    assert_eq!(report["kept"].as_array().map(Vec::len), Some(1), "{report}");
    assert_eq!(report["recordings_kept"], 1, "{report}");

    assert!(!gone_file.exists());
    assert!(held_file.exists() && of_held_call_file.exists() && fresh_file.exists());
    assert!(stuck_path.exists());
    let left: Vec<RecordingId> = ok("left", store(&app).recordings_of_caller(NUMBER).await)
        .await
        .iter()
        .map(|f| f.recording)
        .collect();
    for kept in [held, of_held_call, fresh, stuck] {
        assert!(left.contains(&kept), "{kept} is kept");
    }
    assert!(!left.contains(&gone) && !left.contains(&missing));

    let audit = json_of(app.get("/v1/data-removals?kind=purge").await).await;
    let removals = audit["removals"].as_array().expect("removals");
    assert_eq!(removals.len(), 2, "{audit}");
    let file_of = |id: RecordingId| {
        removals
            .iter()
            .find(|r| r["recording"] == id.to_string())
            .map(|r| (r["detail"]["file"].clone(), r["actor"].clone()))
    };
    assert_eq!(file_of(gone), Some((json!("deleted"), json!("test-admin"))));
    assert_eq!(
        file_of(missing),
        Some((json!("already_missing"), json!("test-admin")))
    );

    // Released, the recording goes at the next pass.
    let reply = delete(&app, &format!("/v1/recordings/{held}/legal-hold")).await;
    assert_eq!(reply.status(), 200);
    let report = json_of(post(&app, "/v1/recordings/purge", json!({})).await).await;
    assert_eq!(report["recordings_removed"], 1, "{report}");
    assert_eq!(report["recordings_held"], 1, "{report}");
    assert!(!held_file.exists());
    let holds = json_of(app.get("/v1/legal-holds").await).await;
    assert_eq!(holds["legal_holds"].as_array().map(Vec::len), Some(1));
    assert_eq!(holds["legal_holds"][0]["call"], held_call.to_string());
    let released = json_of(app.get("/v1/legal-holds?state=released").await).await;
    assert_eq!(released["legal_holds"][0]["recording"], held.to_string());
}

#[tokio::test]
async fn a_switch_without_a_mount_loses_the_metadata_and_the_audit_says_the_file_was_left() {
    let app = spawn_app(Vec::new(), Duration::ZERO).await;
    let now = wall_now();
    let (_, recording, records) = recorded_call(
        NUMBER,
        Some(Timestamp::from_millis(now.as_millis() - HOUR)),
        Timestamp::from_millis(now.as_millis() - 2 * HOUR),
    );
    write(store(&app), &records).await;
    let report = json_of(post(&app, "/v1/recordings/purge", json!({})).await).await;
    assert_eq!(report["recordings_removed"], 1, "{report}");
    assert_eq!(report["files_unreachable"], 1, "{report}");
    let audit = json_of(app.get("/v1/data-removals").await).await;
    assert_eq!(audit["removals"][0]["recording"], recording.to_string());
    assert_eq!(audit["removals"][0]["detail"]["file"], "not_reachable");
}

#[tokio::test]
async fn a_mount_that_cannot_be_read_keeps_the_metadata_for_the_next_pass() {
    let (app, mount) = app_with_mount(None).await;
    let now = wall_now();
    let (_, recording, records) = recorded_call(
        NUMBER,
        Some(Timestamp::from_millis(now.as_millis() - HOUR)),
        Timestamp::from_millis(now.as_millis() - 2 * HOUR),
    );
    write(store(&app), &records).await;
    // The mount is gone (an NFS share that is down): its files must not pass for deleted.
    std::fs::remove_dir_all(&mount).expect("unmount");
    let report = json_of(post(&app, "/v1/recordings/purge", json!({})).await).await;
    assert_eq!(report["recordings_removed"], 0, "{report}");
    assert_eq!(report["recordings_kept"], 1, "{report}");
    assert!(
        report["kept"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("cannot be read")),
        "{report}"
    );
    let left = ok("left", store(&app).recordings_of_caller(NUMBER).await).await;
    assert_eq!(
        left.iter().map(|f| f.recording).collect::<Vec<_>>(),
        [recording]
    );

    std::fs::create_dir_all(&mount).expect("mounted again");
    let report = json_of(post(&app, "/v1/recordings/purge", json!({})).await).await;
    assert_eq!(report["recordings_removed"], 1, "{report}");
    assert_eq!(report["files_missing"], 1, "{report}");
}

#[tokio::test]
async fn the_scheduled_purge_runs_by_itself_and_signs_as_retention() {
    let (app, mount) = app_with_mount(Some(Duration::from_millis(100))).await;
    let now = wall_now();
    let (call, _, records) = recorded_call(
        NUMBER,
        Some(Timestamp::from_millis(now.as_millis() - HOUR)),
        Timestamp::from_millis(now.as_millis() - 2 * HOUR),
    );
    write(store(&app), &records).await;
    let file = make_file(&mount, call);
    eventually("the scheduled purge deletes the file", || {
        let file = file.clone();
        async move { !file.exists() }
    })
    .await;
    // The rows and their audit go in a transaction after the file.
    eventually("the purge's audit row is written", || async {
        store(&app)
            .data_removals(&RemovalFilter {
                limit: 10,
                ..RemovalFilter::default()
            })
            .await
            .is_ok_and(|rows| !rows.is_empty())
    })
    .await;
    let removals = ok(
        "removals",
        store(&app)
            .data_removals(&RemovalFilter {
                limit: 10,
                ..RemovalFilter::default()
            })
            .await,
    )
    .await;
    assert_eq!(removals.len(), 1);
    assert_eq!(removals[0].actor, "retention");
    assert_eq!(removals[0].call, Some(call));
}

#[tokio::test]
async fn legal_holds_need_a_known_target_a_reason_and_an_admin() {
    let app = spawn_app(Vec::new(), Duration::ZERO).await;
    let (call, recording, records) = recorded_call(NUMBER, None, wall_now());
    write(store(&app), &records).await;
    let path = format!("/v1/recordings/{recording}/legal-hold");

    let unknown = app
        .put_json(
            &format!("/v1/recordings/{}/legal-hold", new_recording()),
            json!({ "reason": "x" }),
        )
        .await;
    assert_eq!(unknown.status(), 404);
    let bad_id = app
        .put_json("/v1/calls/not-a-call/legal-hold", json!({ "reason": "x" }))
        .await;
    assert_eq!(bad_id.status(), 400);
    let no_reason = app.put_json(&path, json!({ "reason": "  " })).await;
    assert_eq!(no_reason.status(), 422);
    let no_body = app.put_json(&path, json!({})).await;
    assert_eq!(no_body.status(), 400);

    let first = app.put_json(&path, json!({ "reason": "case 1" })).await;
    assert_eq!(first.status(), 201);
    let first = json_of(first).await;
    let second = app.put_json(&path, json!({ "reason": "case 2" })).await;
    assert_eq!(second.status(), 200, "a standing hold is not placed twice");
    assert_eq!(json_of(second).await, first);

    let none = delete(&app, &format!("/v1/calls/{call}/legal-hold")).await;
    assert_eq!(none.status(), 404);

    let made = post(
        &app,
        "/v1/tokens",
        json!({ "name": "boss", "role": "supervisor" }),
    )
    .await;
    assert_eq!(made.status(), 201);
    let token = json_of(made).await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let supervisor = client_with(&token);
    for (method, route) in [
        (reqwest::Method::DELETE, path.clone()),
        (reqwest::Method::GET, "/v1/legal-holds".to_owned()),
        (reqwest::Method::POST, "/v1/recordings/purge".to_owned()),
        (reqwest::Method::POST, "/v1/erasures".to_owned()),
        (reqwest::Method::GET, "/v1/data-removals".to_owned()),
    ] {
        let status = supervisor
            .request(method.clone(), format!("{}{route}", app.base))
            .json(&json!({ "caller_number": NUMBER }))
            .send()
            .await
            .expect("request")
            .status();
        assert_eq!(status, 403, "{method} {route}");
    }
    let listed = json_of(app.get("/v1/legal-holds").await).await;
    assert_eq!(listed["legal_holds"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn erasure_removes_a_callers_recordings_ivr_answers_and_undelivered_payloads_and_spares_holds_and_others(
) {
    let (app, mount) = app_with_mount(None).await;
    // A CRM that is down: every delivery waits, pending.
    let down = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", down.local_addr().expect("addr"));
    drop(down);
    let reply = app
        .put_json(
            "/v1/webhooks/crm",
            json!({ "url": url, "events": ["call.entered", "call.ended"] }),
        )
        .await;
    assert_eq!(reply.status(), 200);

    let at = wall_now();
    // The caller's call through the IVR, recorded (kept until erased: no retention).
    let (erased_call, erased_recording, mut records) = recorded_call(NUMBER, None, at);
    records.splice(0..0, ivr(erased_call, NUMBER, "12345", at));
    write(store(&app), &records).await;
    let erased_file = make_file(&mount, erased_call);
    // Another call of theirs, under a legal hold.
    let (held_call, held_recording, mut records) = recorded_call(NUMBER, None, at);
    records.splice(0..0, ivr(held_call, NUMBER, "24680", at));
    write(store(&app), &records).await;
    let held_file = make_file(&mount, held_call);
    let reply = app
        .put_json(
            &format!("/v1/calls/{held_call}/legal-hold"),
            json!({ "reason": "litigation" }),
        )
        .await;
    assert_eq!(reply.status(), 201);
    // Someone else.
    let (other_call, other_recording, mut records) = recorded_call(OTHER, None, at);
    records.splice(0..0, ivr(other_call, OTHER, "67890", at));
    write(store(&app), &records).await;
    let other_file = make_file(&mount, other_call);

    let reply = post(&app, "/v1/erasures", json!({ "caller_number": NUMBER })).await;
    assert_eq!(reply.status(), 200);
    let report = json_of(reply).await;
    let subject: String = Sha256::digest(NUMBER.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(report["subject"], subject);
    assert_eq!(report["recordings_removed"], 1, "{report}");
    assert_eq!(report["recordings_held"], 1, "{report}");
    assert_eq!(report["files_deleted"], 1, "{report}");
    assert_eq!(report["calls"], 2, "{report}");
    assert_eq!(report["calls_held"], 1, "{report}");
    assert_eq!(report["calls_in_progress"], 0, "{report}");
    assert_eq!(report["ivr_sessions_cleared"], 1, "{report}");
    assert_eq!(report["ivr_steps_cleared"], 1, "{report}");
    assert_eq!(report["webhook_deliveries_cancelled"], 2, "{report}");
    assert_eq!(report["webhook_payloads_removed"], 2, "{report}");
    assert_eq!(report["calls_pseudonymised"], 2, "{report}");

    assert!(!erased_file.exists());
    assert!(held_file.exists() && other_file.exists());
    let left: Vec<RecordingId> = ok("left", store(&app).recordings_of_caller(NUMBER).await)
        .await
        .iter()
        .map(|f| f.recording)
        .collect();
    assert_eq!(left, [held_recording]);
    assert!(!left.contains(&erased_recording));
    let others: Vec<RecordingId> = ok("others", store(&app).recordings_of_caller(OTHER).await)
        .await
        .iter()
        .map(|f| f.recording)
        .collect();
    assert_eq!(others, [other_recording]);

    let history = json_of(app.get(&format!("/v1/calls/{erased_call}")).await).await;
    assert_eq!(history["flow"]["variables"], json!({}), "{history}");
    assert_eq!(history["flow"]["steps"][0]["digits"], "", "{history}");
    let held_history = json_of(app.get(&format!("/v1/calls/{held_call}")).await).await;
    assert_eq!(held_history["flow"]["variables"]["account"], "24680");
    let other_history = json_of(app.get(&format!("/v1/calls/{other_call}")).await).await;
    assert_eq!(other_history["flow"]["variables"]["account"], "67890");
    assert_eq!(other_history["flow"]["steps"][0]["digits"], "67890");

    let deliveries = json_of(
        app.get(&format!("/v1/webhook-deliveries?call={erased_call}"))
            .await,
    )
    .await;
    let deliveries = deliveries["deliveries"]
        .as_array()
        .expect("deliveries")
        .clone();
    assert_eq!(deliveries.len(), 2);
    for d in &deliveries {
        assert_eq!(d["status"], "dead", "{d}");
        assert_eq!(d["last_error"], ERASED_DELIVERY, "{d}");
        let one = app
            .get(&format!("/v1/webhook-deliveries/{}", d["id"]))
            .await
            .text()
            .await
            .expect("body");
        assert!(!one.contains(NUMBER) && !one.contains("12345"), "{one}");
        assert!(one.contains("\"erased\":true"), "{one}");
    }
    for kept in [held_call, other_call] {
        let deliveries = json_of(
            app.get(&format!("/v1/webhook-deliveries?call={kept}"))
                .await,
        )
        .await;
        for d in deliveries["deliveries"].as_array().expect("deliveries") {
            assert_ne!(d["status"], "dead", "{d}");
            let one = json_of(
                app.get(&format!("/v1/webhook-deliveries/{}", d["id"]))
                    .await,
            )
            .await;
            assert!(one["payload"]["data"]["call"]["caller_number"].is_string());
        }
    }

    // The audit names the number by its hash, and nothing anywhere keeps the number.
    let audit = app
        .get("/v1/data-removals?kind=erasure")
        .await
        .text()
        .await
        .expect("body");
    assert!(!audit.contains(NUMBER), "{audit}");
    let audit: Value = serde_json::from_str(&audit).expect("json");
    let removals = audit["removals"].as_array().expect("removals");
    assert!(removals
        .iter()
        .all(|r| r["subject"] == subject && r["actor"] == "test-admin"));
    assert!(removals
        .iter()
        .any(|r| r["recording"] == erased_recording.to_string()));
    assert!(removals
        .iter()
        .any(|r| r["call"] == erased_call.to_string() && r["detail"]["ivr_sessions_cleared"] == 1));
    assert!(removals
        .iter()
        .any(|r| r["detail"]["request"]["recordings_removed"] == 1));
    let log = app.get("/v1/audit").await.text().await.expect("body");
    assert!(
        log.contains("/v1/erasures") && !log.contains(NUMBER),
        "{log}"
    );

    let bad = post(&app, "/v1/erasures", json!({ "caller_number": " " })).await;
    assert_eq!(bad.status(), 422);
}

/// Every server-sent event a client replaying from `Last-Event-ID: 0` gets, until the stream
/// falls quiet: the raw `data:` lines, parsed.
async fn replay_from_zero(app: &TestApp) -> Vec<Value> {
    let mut response = app
        .http
        .get(format!("{}/v1/events", app.base))
        .header("last-event-id", "0")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let mut text = String::new();
    while let Ok(Ok(Some(chunk))) =
        tokio::time::timeout(Duration::from_millis(1_500), response.chunk()).await
    {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(|data| serde_json::from_str(data.trim_start()).expect("JSON data"))
        .collect()
}

/// Issue 16, hole 2: an erasure covers every copy. After it, the event stream's replay from
/// the start and the deliveries already made hold nothing of the caller, the call history
/// shows the pseudonym, while a held call of theirs and another caller keep everything.
#[tokio::test]
async fn after_an_erasure_the_replay_and_delivered_events_hold_no_trace_and_history_shows_the_pseudonym(
) {
    let (app, _mount) = app_with_mount(None).await;
    let down = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", down.local_addr().expect("addr"));
    drop(down);
    let reply = app
        .put_json(
            "/v1/webhooks/crm",
            json!({ "url": url, "events": ["call.entered", "call.ended"] }),
        )
        .await;
    assert_eq!(reply.status(), 200);

    let at = wall_now();
    let (erased_call, held_call, other_call) = (new_call(), new_call(), new_call());
    for (call, number, account) in [
        (erased_call, NUMBER, "12345"),
        (held_call, NUMBER, "24680"),
        (other_call, OTHER, "67890"),
    ] {
        let mut records = ivr(call, number, account, at);
        records.push(entered(call, number, at));
        records.push(ended(call, at));
        write(store(&app), &records).await;
    }
    let reply = app
        .put_json(
            &format!("/v1/calls/{held_call}/legal-hold"),
            json!({ "reason": "litigation" }),
        )
        .await;
    assert_eq!(reply.status(), 201);
    // The CRM got the erased call's events before the erasure.
    let filter = DeliveryFilter {
        call: Some(erased_call),
        limit: 10,
        ..DeliveryFilter::default()
    };
    let sent = ok("deliveries", store(&app).deliveries(&filter).await).await;
    assert_eq!(sent.len(), 2);
    for d in &sent {
        let result = AttemptResult::Delivered { status: 204 };
        ok(
            "delivered",
            store(&app).delivery_attempted(d.id, at, &result).await,
        )
        .await;
    }

    let reply = post(&app, "/v1/erasures", json!({ "caller_number": NUMBER })).await;
    assert_eq!(reply.status(), 200);
    let report = json_of(reply).await;
    assert_eq!(report["calls_held"], 1, "{report}");
    assert_eq!(report["calls_pseudonymised"], 2, "{report}");
    let subject = report["subject"].as_str().expect("subject").to_owned();
    let pseudonym = format!("erased:{}", &subject[..16]);

    // (1) The replay from the start: the erased call's events are stubs without the number
    // or the name; only the held call's events still carry the number.
    let events = replay_from_zero(&app).await;
    let stubs: Vec<&Value> = events.iter().filter(|e| e["erased"] == true).collect();
    assert!(stubs.len() >= 2, "{events:?}");
    for event in &events {
        let text = event.to_string();
        let call = event["data"]["call"]["id"].as_str().unwrap_or_default();
        assert_ne!(call, erased_call.to_string(), "{text}");
        if call != held_call.to_string() {
            assert!(!text.contains(NUMBER), "{text}");
            assert!(!text.contains("12345"), "{text}");
        }
    }
    for stub in &stubs {
        assert!(!stub.to_string().contains("Erika"), "{stub}");
    }
    let held_events = events
        .iter()
        .filter(|e| e["data"]["call"]["id"] == held_call.to_string())
        .count();
    let other_events = events
        .iter()
        .filter(|e| e["data"]["call"]["caller_number"] == OTHER)
        .count();
    assert!(held_events >= 2 && other_events >= 2, "{events:?}");

    // (2) What was delivered is kept as delivered, without the caller.
    let delivered = ok("deliveries", store(&app).deliveries(&filter).await).await;
    assert_eq!(delivered.len(), 2);
    for d in &delivered {
        assert_eq!(d.status, DeliveryStatus::Delivered);
        assert!(!d.payload.contains(NUMBER), "{}", d.payload);
        assert!(!d.payload.contains("Erika"), "{}", d.payload);
        assert!(d.payload.contains("\"erased\":true"), "{}", d.payload);
    }

    // (3) The history shows the pseudonym, the same for each erased call of the number.
    let history = json_of(app.get(&format!("/v1/calls/{erased_call}")).await).await;
    let text = history.to_string();
    assert!(!text.contains(NUMBER) && !text.contains("Erika"), "{text}");
    assert!(text.contains(&pseudonym), "{text}");
    let list = app.get("/v1/calls").await.text().await.expect("body");
    assert!(list.contains(&pseudonym), "{list}");
    // (4) and (5): the other caller and the held call keep the number and the name.
    for (kept, number) in [(other_call, OTHER), (held_call, NUMBER)] {
        let history = json_of(app.get(&format!("/v1/calls/{kept}")).await).await;
        let text = history.to_string();
        assert!(text.contains(number) && text.contains("Erika"), "{text}");
        assert!(!text.contains("erased:"), "{text}");
    }
}

/// Issue 16, hole 1: eight erasures at once on SQLite, each of a caller with an IVR call, a
/// recording and its file, while a legal hold is placed and released: none fails with
/// "database is locked", each erases its own caller in full and says so, and the audit has
/// every request's summary.
#[tokio::test]
async fn eight_parallel_erasures_on_sqlite_all_succeed_and_each_is_complete() {
    let (app, mount) = app_with_mount(None).await;
    let at = wall_now();
    let numbers: Vec<String> = (0..8).map(|i| format!("+49301000{i:02}")).collect();
    let mut files = Vec::new();
    for number in &numbers {
        let (call, _, mut records) = recorded_call(number, None, at);
        records.splice(0..0, ivr(call, number, "12345", at));
        write(store(&app), &records).await;
        files.push(make_file(&mount, call));
    }
    let (held_call, _, records) = recorded_call(OTHER, None, at);
    write(store(&app), &records).await;

    let erasures = numbers.iter().map(|number| {
        let app = &app;
        async move { post(app, "/v1/erasures", json!({ "caller_number": number })).await }
    });
    let holds = async {
        let mut statuses = Vec::new();
        for _ in 0..4 {
            let placed = app
                .put_json(
                    &format!("/v1/calls/{held_call}/legal-hold"),
                    json!({ "reason": "litigation" }),
                )
                .await;
            statuses.push(placed.status().as_u16());
            let released = delete(&app, &format!("/v1/calls/{held_call}/legal-hold")).await;
            statuses.push(released.status().as_u16());
        }
        statuses
    };
    let (replies, hold_statuses) = tokio::join!(futures_util::future::join_all(erasures), holds);
    assert!(
        hold_statuses.iter().all(|s| *s < 300),
        "legal holds: {hold_statuses:?}"
    );
    for (number, reply) in numbers.iter().zip(replies) {
        let status = reply.status();
        let body = reply.text().await.expect("body");
        assert_eq!(status, 200, "{number}: {body}");
        let report: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(report["recordings_removed"], 1, "{number}: {report}");
        assert_eq!(report["files_deleted"], 1, "{number}: {report}");
        assert_eq!(report["ivr_sessions_cleared"], 1, "{number}: {report}");
        assert_eq!(report["files_not_deleted"], json!([]), "{number}: {report}");
        let left = ok("left", store(&app).recordings_of_caller(number).await).await;
        assert!(left.is_empty(), "{number}: {left:?}");
    }
    for file in &files {
        assert!(!file.exists(), "{}", file.display());
    }
    let filter = RemovalFilter {
        since: None,
        kind: Some(RemovalKind::Erasure),
        limit: 1000,
    };
    let audit = ok("audit", store(&app).data_removals(&filter).await).await;
    let summaries = audit
        .iter()
        .filter(|r| r.detail.get("request").is_some())
        .count();
    assert_eq!(summaries, 8, "one summary per request");
}

/// Issue 16, hole 1: an erasure whose transaction fails leaves every row and every file as it
/// was, and writes no audit row: it never reports what did not happen.
#[tokio::test]
async fn a_failed_erasure_leaves_rows_files_and_audit_untouched() {
    let (app, mount) = app_with_mount(None).await;
    let at = wall_now();
    let (call, recording, mut records) = recorded_call(NUMBER, None, at);
    records.splice(0..0, ivr(call, NUMBER, "12345", at));
    write(store(&app), &records).await;
    let file = make_file(&mount, call);

    // The summary is the transaction's last write: make it fail.
    let db = app._dir.path().join("test.db");
    let url = format!("sqlite://{}", db.display());
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&url).await.expect("connect");
    sqlx::query(
        "CREATE TRIGGER refuse_summary BEFORE INSERT ON data_removals \
         WHEN NEW.detail LIKE '%\"request\"%' BEGIN SELECT RAISE(ABORT, 'refused'); END",
    )
    .execute(&mut conn)
    .await
    .expect("trigger");

    let reply = post(&app, "/v1/erasures", json!({ "caller_number": NUMBER })).await;
    assert_eq!(reply.status(), 500);
    assert!(file.is_file(), "the file is kept when the rows are");
    let left = ok("left", store(&app).recordings_of_caller(NUMBER).await).await;
    assert_eq!(
        left.iter().map(|f| f.recording).collect::<Vec<_>>(),
        [recording]
    );
    let history = json_of(app.get(&format!("/v1/calls/{call}")).await).await;
    assert_eq!(
        history["flow"]["variables"]["account"], "12345",
        "{history}"
    );
    let filter = RemovalFilter {
        since: None,
        kind: Some(RemovalKind::Erasure),
        limit: 100,
    };
    let audit = ok("audit", store(&app).data_removals(&filter).await).await;
    assert!(audit.is_empty(), "{audit:?}");

    sqlx::query("DROP TRIGGER refuse_summary")
        .execute(&mut conn)
        .await
        .expect("drop");
    let reply = post(&app, "/v1/erasures", json!({ "caller_number": NUMBER })).await;
    assert_eq!(reply.status(), 200);
    assert!(!file.exists());
}
