//! Store conformance for recordings' reads: search and its cursor, one recording with its
//! changes and intervals, legal holds, evaluations. The rows are written through the history's
//! own write path (`Store::write`), as the engine's records are. Each test runs on SQLite and,
//! when `DATABASE_URL` is set, on PostgreSQL (see `store`).

use switchboard::config::CriterionScore;
use switchboard::engine::recording::{Consent, RecordingAction, RecordingActor, RecordingReason};
use switchboard::engine::{
    AgentId, CallId, CallOutcome, ChannelId, QueueId, QueueRouting, Record, RecordingId,
    SwitchName, Timestamp,
};
use switchboard::store::{
    NewEvaluation, RecordingCursor, RecordingInterval, RecordingSearch, RecordingStatus, Store,
    StoreError,
};

use crate::store::TestDb;

macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    let db = TestDb::sqlite();
                    let store = db.connect().await;
                    super::$test(store, &db).await;
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
                    super::$test(store, &db).await;
                }
            )*
            use super::TestDb;
        }
    };
}

conformance!(
    a_recording_reads_back_with_its_changes_and_intervals,
    a_declined_recording_reads_back_without_a_file,
    search_filters_by_time_agent_queue_number_call_and_status,
    search_pages_newest_first_through_a_cursor,
    a_standing_legal_hold_on_the_recording_or_its_call_shows_and_a_released_one_does_not,
    evaluations_read_back_with_their_totals_and_need_a_recording,
    a_corrupt_recording_row_is_an_error_not_a_panic,
    a_calls_end_closes_its_recordings_left_open_without_the_paused_time,
);

const T0: i64 = 1_700_000_000_000;

fn ts(offset_ms: i64) -> Timestamp {
    Timestamp::from_millis(T0 + offset_ms)
}

/// What varies between the recordings of a test.
#[derive(Clone)]
pub(crate) struct Rec {
    pub id: RecordingId,
    pub call: CallId,
    pub agent: Option<&'static str>,
    pub queue: &'static str,
    pub caller: &'static str,
    pub dialled: &'static str,
    pub at: i64,
}

impl Rec {
    pub fn new(agent: &'static str, queue: &'static str, caller: &'static str, at: i64) -> Self {
        Self {
            id: RecordingId::from_uuid(uuid::Uuid::new_v4()),
            call: CallId::from_uuid(uuid::Uuid::new_v4()),
            agent: Some(agent),
            queue,
            caller,
            dialled: "5000",
            at,
        }
    }

    pub fn relative_path(&self) -> String {
        format!("2023-11-14/{}/{}.wav", self.queue, self.call)
    }

    pub fn started(&self) -> Record {
        Record::RecordingStarted {
            recording: self.id,
            call: self.call,
            switch: SwitchName::new("sim").expect("switch"),
            channel: ChannelId::from_uuid(uuid::Uuid::new_v4()),
            agent_channel: Some(ChannelId::from_uuid(uuid::Uuid::new_v4())),
            queue: Some(QueueId::new(self.queue).expect("queue")),
            agent: self.agent.map(|a| AgentId::new(a).expect("agent")),
            caller_number: self.caller.to_owned(),
            destination: self.dialled.to_owned(),
            path: format!("/var/lib/freeswitch/recordings/{}", self.relative_path()),
            relative_path: self.relative_path(),
            stereo: true,
            reason: RecordingReason::Always,
            by: RecordingActor::Policy,
            consent: Consent {
                notice_at: Some(ts(self.at - 5_000)),
                opted_out_at: None,
            },
            at: ts(self.at),
        }
    }

    pub fn changed(&self, action: RecordingAction, offset_ms: i64) -> Record {
        Record::RecordingChanged {
            recording: self.id,
            action,
            by: RecordingActor::Token("sup".into()),
            offset_ms,
            at: ts(self.at + offset_ms),
        }
    }

    pub fn stopped(&self, after_ms: i64, duration_ms: i64) -> Record {
        Record::RecordingStopped {
            recording: self.id,
            by: RecordingActor::Switch,
            duration_ms,
            error: None,
            retain_until: Some(ts(self.at + after_ms + 86_400_000)),
            at: ts(self.at + after_ms),
        }
    }
}

async fn ok<T>(what: &str, result: Result<T, StoreError>) -> T {
    match result {
        Ok(v) => v,
        Err(e) => panic!("{what}: {e}"),
    }
}

async fn ids(store: &Store, search: &RecordingSearch) -> Vec<RecordingId> {
    ok("search", store.search_recordings(search).await)
        .await
        .recordings
        .into_iter()
        .map(|r| r.id)
        .collect()
}

async fn a_recording_reads_back_with_its_changes_and_intervals(store: Store, _db: &TestDb) {
    let rec = Rec::new("1001", "support", "+15550001", 0);
    ok(
        "write",
        store
            .write(&[
                rec.started(),
                rec.changed(RecordingAction::Pause, 10_000),
                rec.changed(RecordingAction::Resume, 25_000),
                rec.changed(RecordingAction::Mask, 40_000),
            ])
            .await,
    )
    .await;
    let running = ok("read", store.recording(rec.id).await)
        .await
        .expect("the recording");
    assert_eq!(running.recording.status, RecordingStatus::Recording);
    assert_eq!(running.recording.stopped_at, None);
    assert_eq!(
        running.masked,
        vec![RecordingInterval {
            start_ms: 40_000,
            end_ms: None,
            file_offset_ms: 25_000,
        }]
    );

    ok("stop", store.write(&[rec.stopped(60_000, 45_000)]).await).await;
    let detail = ok("read", store.recording(rec.id).await)
        .await
        .expect("the recording");
    let r = &detail.recording;
    assert_eq!((r.id, r.call), (rec.id, rec.call));
    assert_eq!(r.switch.as_str(), "sim");
    assert_eq!(r.agent.as_ref().map(AgentId::as_str), Some("1001"));
    assert_eq!(r.queue.as_ref().map(QueueId::as_str), Some("support"));
    assert_eq!(
        (r.caller_number.as_str(), r.destination.as_str()),
        ("+15550001", "5000")
    );
    assert_eq!(
        r.relative_path.as_deref(),
        Some(rec.relative_path().as_str())
    );
    assert!(r
        .path
        .as_deref()
        .is_some_and(|p| p.ends_with(&rec.relative_path())));
    assert!(r.stereo && r.channel.is_some() && r.agent_channel.is_some());
    assert_eq!(r.reason, Some(RecordingReason::Always));
    assert_eq!(r.started_by, RecordingActor::Policy);
    assert_eq!(r.stopped_by, Some(RecordingActor::Switch));
    assert_eq!(r.status, RecordingStatus::Stopped);
    assert_eq!((r.started_at, r.stopped_at), (ts(0), Some(ts(60_000))));
    assert_eq!(r.duration_ms, Some(45_000));
    assert_eq!(r.consent.notice_at, Some(ts(-5_000)));
    assert!(!r.consent.opted_out);
    assert_eq!(r.retain_until, Some(ts(60_000 + 86_400_000)));
    assert!(!r.legal_hold);
    let actions: Vec<_> = detail
        .changes
        .iter()
        .map(|c| (c.action, c.offset_ms))
        .collect();
    assert_eq!(
        actions,
        [
            (RecordingAction::Pause, 10_000),
            (RecordingAction::Resume, 25_000),
            (RecordingAction::Mask, 40_000),
        ]
    );
    assert_eq!(detail.changes[0].actor, RecordingActor::Token("sup".into()));
    assert_eq!(detail.changes[0].at, ts(10_000));
    assert_eq!(
        detail.paused,
        vec![RecordingInterval {
            start_ms: 10_000,
            end_ms: Some(25_000),
            file_offset_ms: 10_000,
        }]
    );
    // Still masked at the stop: the interval ends there.
    assert_eq!(
        detail.masked,
        vec![RecordingInterval {
            start_ms: 40_000,
            end_ms: Some(60_000),
            file_offset_ms: 25_000,
        }]
    );
    let unknown = RecordingId::from_uuid(uuid::Uuid::new_v4());
    assert!(ok("read", store.recording(unknown).await).await.is_none());
}

async fn a_declined_recording_reads_back_without_a_file(store: Store, _db: &TestDb) {
    let id = RecordingId::from_uuid(uuid::Uuid::new_v4());
    let call = CallId::from_uuid(uuid::Uuid::new_v4());
    ok(
        "write",
        store
            .write(&[Record::RecordingDeclined {
                recording: id,
                call,
                switch: SwitchName::new("sim").expect("switch"),
                queue: QueueId::new("support").expect("queue"),
                agent: Some(AgentId::new("1001").expect("agent")),
                caller_number: "+15550002".into(),
                destination: "5000".into(),
                consent: Consent {
                    notice_at: Some(ts(0)),
                    opted_out_at: Some(ts(3_000)),
                },
                retain_until: None,
                at: ts(20_000),
            }])
            .await,
    )
    .await;
    let detail = ok("read", store.recording(id).await)
        .await
        .expect("the declined row");
    let r = &detail.recording;
    assert_eq!(r.status, RecordingStatus::Declined);
    assert_eq!(
        (r.path.as_deref(), r.relative_path.as_deref()),
        (None, None)
    );
    assert_eq!(r.reason, None);
    assert!(r.consent.opted_out);
    assert_eq!(r.consent.opted_out_at, Some(ts(3_000)));
    assert_eq!(r.duration_ms, Some(0));
    assert!(detail.changes.is_empty() && detail.paused.is_empty() && detail.masked.is_empty());
}

async fn search_filters_by_time_agent_queue_number_call_and_status(store: Store, _db: &TestDb) {
    let a = Rec::new("1001", "support", "+15550001", 0);
    let b = Rec::new("1002", "support", "+15550002", 10_000);
    let mut c = Rec::new("1001", "sales", "+15550003", 20_000);
    c.dialled = "+15550001";
    let d = Rec::new("1002", "sales", "+15550001", 30_000);
    ok(
        "write",
        store
            .write(&[
                a.started(),
                b.started(),
                c.started(),
                d.started(),
                a.stopped(5_000, 5_000),
                c.stopped(5_000, 5_000),
            ])
            .await,
    )
    .await;
    let all = RecordingSearch::default();
    assert_eq!(ids(&store, &all).await, [d.id, c.id, b.id, a.id]);
    let search = |f: fn(&mut RecordingSearch)| {
        let mut s = RecordingSearch::default();
        f(&mut s);
        s
    };
    let window = search(|s| {
        s.since = Some(ts(10_000));
        s.until = Some(ts(30_000));
    });
    assert_eq!(ids(&store, &window).await, [c.id, b.id]);
    let agent = search(|s| s.agent = Some(AgentId::new("1001").expect("agent")));
    assert_eq!(ids(&store, &agent).await, [c.id, a.id]);
    let queue = search(|s| s.queue = Some(QueueId::new("sales").expect("queue")));
    assert_eq!(ids(&store, &queue).await, [d.id, c.id]);
    // The caller's number or the one dialled.
    let number = search(|s| s.number = Some("+15550001".into()));
    assert_eq!(ids(&store, &number).await, [d.id, c.id, a.id]);
    let mut call = RecordingSearch::default();
    call.call = Some(b.call);
    assert_eq!(ids(&store, &call).await, [b.id]);
    let stopped = search(|s| s.status = Some(RecordingStatus::Stopped));
    assert_eq!(ids(&store, &stopped).await, [c.id, a.id]);
    let together = search(|s| {
        s.agent = Some(AgentId::new("1001").expect("agent"));
        s.number = Some("+15550001".into());
        s.since = Some(ts(1));
    });
    assert_eq!(ids(&store, &together).await, [c.id]);
    let nobody = search(|s| s.number = Some("+19999999".into()));
    assert!(ids(&store, &nobody).await.is_empty());
}

async fn search_pages_newest_first_through_a_cursor(store: Store, _db: &TestDb) {
    // Five recordings, two of them started in the same millisecond: the id breaks the tie.
    let mut recs: Vec<Rec> = (0..5)
        .map(|i| Rec::new("1001", "support", "+15550001", i * 1_000))
        .collect();
    recs[3].at = recs[2].at;
    let records: Vec<Record> = recs.iter().map(Rec::started).collect();
    ok("write", store.write(&records).await).await;
    let mut expected: Vec<(i64, RecordingId)> = recs.iter().map(|r| (r.at, r.id)).collect();
    expected.sort_by_key(|(at, id)| std::cmp::Reverse((*at, id.to_string())));
    let expected: Vec<RecordingId> = expected.into_iter().map(|(_, id)| id).collect();

    let mut search = RecordingSearch {
        limit: 2,
        ..RecordingSearch::default()
    };
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = ok("page", store.search_recordings(&search).await).await;
        pages += 1;
        assert!(page.recordings.len() <= 2);
        seen.extend(page.recordings.iter().map(|r| r.id));
        match page.next {
            Some(next) => {
                let last = page.recordings.last().expect("a full page");
                assert_eq!(
                    next,
                    RecordingCursor {
                        started_at: last.started_at,
                        id: last.id
                    }
                );
                search.before = Some(next);
            }
            None => break,
        }
        assert!(pages < 10, "the cursor does not advance");
    }
    assert_eq!(seen, expected);
    assert_eq!(pages, 3);

    // A page that ends exactly at the last recording says there is no next one.
    let exact = RecordingSearch {
        limit: 5,
        ..RecordingSearch::default()
    };
    let page = ok("page", store.search_recordings(&exact).await).await;
    assert_eq!((page.recordings.len(), page.next), (5, None));
}

async fn a_standing_legal_hold_on_the_recording_or_its_call_shows_and_a_released_one_does_not(
    store: Store,
    db: &TestDb,
) {
    let on_recording = Rec::new("1001", "support", "+15550001", 0);
    let on_call = Rec::new("1001", "support", "+15550001", 1_000);
    let released = Rec::new("1001", "support", "+15550001", 2_000);
    let free = Rec::new("1001", "support", "+15550001", 3_000);
    let records: Vec<Record> = [&on_recording, &on_call, &released, &free]
        .iter()
        .map(|r| r.started())
        .collect();
    ok("write", store.write(&records).await).await;
    // Holds are written by the retention slice; here, as rows.
    db.raw(&format!(
        "INSERT INTO legal_holds (recording_id, call_id, reason, placed_by, placed_at) \
         VALUES ('{}', NULL, 'litigation', 'token:legal', 1); \
         INSERT INTO legal_holds (recording_id, call_id, reason, placed_by, placed_at) \
         VALUES (NULL, '{}', 'complaint', 'token:legal', 1); \
         INSERT INTO legal_holds (recording_id, call_id, reason, placed_by, placed_at, \
         released_by, released_at) VALUES ('{}', NULL, 'done', 'token:legal', 1, 'token:legal', 2);",
        on_recording.id, on_call.call, released.id
    ))
    .await;
    for (rec, held) in [
        (&on_recording, true),
        (&on_call, true),
        (&released, false),
        (&free, false),
    ] {
        let detail = ok("read", store.recording(rec.id).await)
            .await
            .expect("the recording");
        assert_eq!(detail.recording.legal_hold, held, "{}", rec.id);
    }
    let page = ok(
        "search",
        store.search_recordings(&RecordingSearch::default()).await,
    )
    .await;
    let held: Vec<RecordingId> = page
        .recordings
        .iter()
        .filter(|r| r.legal_hold)
        .map(|r| r.id)
        .collect();
    assert_eq!(held, [on_call.id, on_recording.id]);
}

async fn evaluations_read_back_with_their_totals_and_need_a_recording(store: Store, _db: &TestDb) {
    let rec = Rec::new("1001", "support", "+15550001", 0);
    ok(
        "write",
        store
            .write(&[rec.started(), rec.stopped(1_000, 1_000)])
            .await,
    )
    .await;
    let score = |criterion: &str, score, max| CriterionScore {
        criterion: criterion.to_owned(),
        score,
        max,
    };
    let first = NewEvaluation {
        recording: rec.id,
        form: "quality".into(),
        evaluator: "sup".into(),
        scores: vec![score("greeting", 4, 5), score("resolution", 7, 10)],
        notes: "Good; confirm the address next time.".into(),
        at: ts(60_000),
    };
    let kept = ok("add", store.add_evaluation(&first).await)
        .await
        .expect("the recording exists");
    assert_eq!((kept.total, kept.max_total), (11, 15));
    let second = NewEvaluation {
        evaluator: "lead".into(),
        scores: vec![score("greeting", 5, 5), score("resolution", 10, 10)],
        notes: String::new(),
        at: ts(70_000),
        ..first.clone()
    };
    ok("add", store.add_evaluation(&second).await)
        .await
        .expect("the recording exists");
    let read = ok("list", store.evaluations(rec.id).await).await;
    assert_eq!(read.len(), 2);
    assert_eq!(read[0], kept);
    assert!(read[0].id < read[1].id);
    assert_eq!((read[1].evaluator.as_str(), read[1].total), ("lead", 15));
    assert_eq!(read[1].scores, second.scores);
    assert_eq!(read[1].at, ts(70_000));

    let nowhere = NewEvaluation {
        recording: RecordingId::from_uuid(uuid::Uuid::new_v4()),
        ..first
    };
    assert_eq!(ok("add", store.add_evaluation(&nowhere).await).await, None);
    assert!(ok("list", store.evaluations(nowhere.recording).await)
        .await
        .is_empty());
}

async fn a_corrupt_recording_row_is_an_error_not_a_panic(store: Store, db: &TestDb) {
    let rec = Rec::new("1001", "support", "+15550001", 0);
    ok("write", store.write(&[rec.started()]).await).await;
    db.raw(&format!(
        "UPDATE recordings SET status = 'exploded' WHERE id = '{}'",
        rec.id
    ))
    .await;
    match store.recording(rec.id).await {
        Err(StoreError::Corrupt { table, reason, .. }) => {
            assert_eq!(table, "recordings");
            assert!(reason.contains("status"), "{reason}");
        }
        other => panic!("expected a corrupt row, got {other:?}"),
    }
    assert!(store
        .search_recordings(&RecordingSearch::default())
        .await
        .is_err());
}

/// A controller restart forgets the recordings in progress: the call's end, written by the
/// next controller, closes them as the switch did, less the pauses in their changes; the
/// queue's retention as provisioned dates them. One the engine ended itself is left alone.
async fn a_calls_end_closes_its_recordings_left_open_without_the_paused_time(
    store: Store,
    _db: &TestDb,
) {
    let mut routing = QueueRouting::default();
    routing.recording.retention = Some(std::time::Duration::from_secs(86_400));
    let mut queue = crate::harness::queue_row("kept-a-day", routing);
    queue.name = "Kept a day".into();
    ok("queue", store.upsert_queue(&queue).await).await;
    let open = Rec::new("1001", "kept-a-day", "+4930111", 0);
    let mut paused_open = Rec::new("1001", "gone-queue", "+4930111", 0);
    paused_open.call = open.call;
    let mut done = Rec::new("1001", "kept-a-day", "+4930111", 0);
    done.call = open.call;
    let entered = Record::CallEntered {
        call: open.call,
        switch: SwitchName::new("sim").expect("switch"),
        channel: ChannelId::from_uuid(uuid::Uuid::new_v4()),
        queue: QueueId::new("kept-a-day").expect("queue"),
        caller_number: "+4930111".into(),
        caller_name: String::new(),
        destination: "5000".into(),
        priority: 0,
        at: ts(-10_000),
    };
    ok(
        "write",
        store
            .write(&[
                entered,
                open.started(),
                open.changed(RecordingAction::Pause, 2_000),
                open.changed(RecordingAction::Resume, 5_000),
                open.changed(RecordingAction::Mask, 6_000),
                paused_open.started(),
                paused_open.changed(RecordingAction::Pause, 4_000),
                done.started(),
                done.stopped(1_000, 1_000),
            ])
            .await,
    )
    .await;
    let before = ok("read", store.recording(open.id).await)
        .await
        .expect("row");
    assert_eq!(before.recording.status, RecordingStatus::Recording);

    ok(
        "end",
        store
            .write(&[Record::CallEnded {
                call: open.call,
                outcome: CallOutcome::Completed,
                hangup_cause: "NORMAL_CLEARING".into(),
                talk_ms: Some(10_000),
                wait_ms: None,
                at: ts(10_000),
            }])
            .await,
    )
    .await;
    let closed = ok("read", store.recording(open.id).await)
        .await
        .expect("row");
    let r = &closed.recording;
    assert_eq!(r.status, RecordingStatus::Stopped);
    assert_eq!(r.stopped_at, Some(ts(10_000)));
    assert_eq!(r.stopped_by, Some(RecordingActor::Switch));
    assert_eq!(r.duration_ms, Some(7_000), "10 s less the 3 s paused");
    assert_eq!(r.error, None);
    assert_eq!(r.retain_until, Some(ts(10_000 + 86_400_000)));
    assert_eq!(
        closed.masked[0].end_ms,
        Some(10_000),
        "the mask ran to the end"
    );

    let closed = ok("read", store.recording(paused_open.id).await)
        .await
        .expect("row");
    let r = &closed.recording;
    assert_eq!(r.status, RecordingStatus::Stopped);
    assert_eq!(
        r.duration_ms,
        Some(4_000),
        "the pause still open ran to the end"
    );
    assert_eq!(r.retain_until, None, "a queue not provisioned keeps it");

    let kept = ok("read", store.recording(done.id).await)
        .await
        .expect("row");
    assert_eq!(
        kept.recording.stopped_at,
        Some(ts(1_000)),
        "the engine's end stands"
    );
    assert_eq!(kept.recording.duration_ms, Some(1_000));
}
