//! Store conformance: every test is written once, as an `async fn` taking a fresh `Store`, and
//! runs against SQLite (a new temp file per test) and PostgreSQL (a new database per test, from
//! `DATABASE_URL`; skipped with a notice when it is unset).

use std::path::Path;
use std::time::Duration;

use sqlx::Connection;
use switchboard::config::{DialString, Provisioning, Role, RoutingDefaults, TokenHash, TokenName};
use switchboard::engine::record::FlowOutcome;
use switchboard::engine::{
    AgentId, AgentStatus, CallId, CallOutcome, CallerSkills, ChannelId, Destination,
    EscalationStep, FlowId, Membership, QueueEventKind, QueueId, QueueRouting, Record, SkillLevel,
    StateCause, Strategy, SwitchName, Timestamp,
};
use switchboard::store::{
    AgentRow, AuditEntry, CallRow, EventFilter, QueueRow, Store, StoreError, TokenRow,
};

// ---------------------------------------------------------------------------------------------
// One database per test.

enum Location {
    Sqlite { _dir: tempfile::TempDir },
    Postgres { admin_url: String, database: String },
}

pub(crate) struct TestDb {
    pub(crate) url: String,
    location: Location,
}

impl TestDb {
    pub(crate) fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        // The file does not exist yet: connect must create it.
        let url = format!("sqlite://{}", dir.path().join("switchboard.db").display());
        TestDb {
            url,
            location: Location::Sqlite { _dir: dir },
        }
    }

    /// A new, empty database on the server named by `DATABASE_URL`, dropped when the test ends
    /// (even when it fails), so tests run in parallel and repeatedly.
    pub(crate) async fn postgres() -> Option<TestDb> {
        let Ok(admin_url) = std::env::var("DATABASE_URL") else {
            eprintln!("skipped: DATABASE_URL not set, PostgreSQL conformance tests not run");
            return None;
        };
        let database = format!("switchboard_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .expect("connect to DATABASE_URL");
        sqlx::raw_sql(&format!("CREATE DATABASE \"{database}\""))
            .execute(&mut admin)
            .await
            .expect("create test database");
        let _ = admin.close().await;
        Some(TestDb {
            url: with_database(&admin_url, &database),
            location: Location::Postgres {
                admin_url,
                database,
            },
        })
    }

    pub(crate) async fn connect(&self) -> Store {
        match Store::connect(&self.url).await {
            Ok(store) => store,
            Err(e) => panic!("connect to {}: {e}", self.url),
        }
    }

    /// Applies only the first schema version, as a controller of that version left it.
    async fn migrate_to_the_first_version(&self) {
        sqlx::any::install_default_drivers();
        let backend = if self.url.starts_with("sqlite:") {
            "sqlite"
        } else {
            "postgres"
        };
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations")
                .join(backend)
                .join("0001_initial.sql"),
            dir.path().join("0001_initial.sql"),
        )
        .expect("copy the first migration");
        let migrator = sqlx::migrate::Migrator::new(dir.path())
            .await
            .expect("first migration");
        let mut conn = sqlx::AnyConnection::connect(&with_create_mode(&self.url))
            .await
            .expect("raw connection");
        migrator.run(&mut conn).await.expect("apply 0001");
        let _ = conn.close().await;
    }

    /// Runs SQL behind the store's back (to corrupt a row).
    pub(crate) async fn raw(&self, sql: &str) {
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&self.url)
            .await
            .expect("raw connection");
        sqlx::raw_sql(sql)
            .execute(&mut conn)
            .await
            .expect("raw SQL");
        let _ = conn.close().await;
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Location::Postgres {
            admin_url,
            database,
        } = &self.location
        else {
            return;
        };
        let (admin_url, database) = (admin_url.clone(), database.clone());
        // Drop runs inside the test's runtime: drop the database from a thread of its own.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&admin_url).await.ok()?;
                sqlx::raw_sql(&format!(
                    "DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"
                ))
                .execute(&mut admin)
                .await
                .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("could not drop test database {}", self.url);
        }
    }
}

/// `postgres://user@host:port/db?params` with `db` replaced.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let root = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{root}/{database}?{q}"),
        None => format!("{root}/{database}"),
    }
}

/// `sqlite://path` opens an existing file only, unless asked to create it.
fn with_create_mode(url: &str) -> String {
    if url.starts_with("sqlite:") {
        format!("{url}?mode=rwc")
    } else {
        url.to_owned()
    }
}

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

/// Tests that prepare the database themselves, before any store connects.
macro_rules! conformance_from_scratch {
    ($($test:ident),* $(,)?) => {
        mod sqlite_from_scratch {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(&super::TestDb::sqlite()).await;
                }
            )*
        }
        mod postgres_from_scratch {
            $(
                #[tokio::test]
                async fn $test() {
                    let Some(db) = super::TestDb::postgres().await else { return };
                    super::$test(&db).await;
                }
            )*
        }
    };
}

conformance_from_scratch!(rows_from_the_first_schema_load_with_defaults);

conformance!(
    migrations_apply_twice_without_error,
    routing_settings_memberships_and_skills_round_trip,
    pause_reasons_read_back,
    provisioned_pause_reasons_upsert_by_code,
    an_agents_pin_hash_reads_back_and_verifies,
    deleting_an_agent_drops_its_membership_and_keeps_its_history,
    deleting_a_pause_reason_says_whether_there_was_one,
    provisioning_upsert_is_idempotent_and_replaces_membership,
    applying_the_example_provisioning_file_twice_gives_the_same_rows,
    agent_in_a_missing_queue_is_rejected,
    full_call_history_reads_back,
    open_calls_exclude_ended_calls_and_keep_enqueue_time_and_priority,
    recent_calls_are_newest_first_and_limited,
    an_agents_recent_calls_are_the_ones_it_answered,
    agent_states_survive_reconnecting,
    corrupt_rows_are_errors_not_panics,
    corrupt_routing_settings_are_errors_not_panics,
    a_failing_record_writes_nothing_from_its_batch,
    queue_event_for_an_unknown_call_rejects_the_batch,
    a_second_end_keeps_the_first,
    a_flow_session_reads_back_with_its_steps_and_variables,
    flow_exits_count_where_ended_sessions_left_each_node,
    flow_records_for_an_unknown_session_reject_the_batch,
    a_survey_reads_back_apart_from_the_ivr_before_the_queue,
    tokens_upsert_by_name_and_keep_their_creation_time,
    a_token_under_a_taken_name_is_not_inserted,
    a_token_is_found_by_its_digest_and_deleted_by_name,
    a_corrupt_token_row_is_an_error_not_a_panic,
    audit_entries_read_back_newest_first_from_since,
    cti_events_read_back_in_order_after_a_seq_and_filtered,
);

// ---------------------------------------------------------------------------------------------
// Helpers.

const T0: i64 = 1_700_000_000_000;

fn ts(offset_ms: i64) -> Timestamp {
    Timestamp::from_millis(T0 + offset_ms)
}

fn qid(s: &str) -> QueueId {
    QueueId::new(s).expect("queue id")
}

fn aid(s: &str) -> AgentId {
    AgentId::new(s).expect("agent id")
}

fn new_call() -> CallId {
    CallId::from_uuid(uuid::Uuid::new_v4())
}

fn new_channel() -> ChannelId {
    ChannelId::from_uuid(uuid::Uuid::new_v4())
}

fn queue(id: &str, name: &str) -> QueueRow {
    QueueRow {
        id: qid(id),
        name: name.to_owned(),
        moh: "local_stream://moh".to_owned(),
        wrap_up_ms: 5_000,
        ring_timeout_ms: 20_000,
        busy_backoff_ms: None,
        routing: QueueRouting::default(),
    }
}

/// An agent in `queues`, each at tier 1 with its place in the list as position.
fn agent(id: &str, queues: &[&str]) -> AgentRow {
    AgentRow {
        id: aid(id),
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

fn skill(s: &str) -> SkillLevel {
    s.parse().expect("skill")
}

/// A queue using every routing setting.
fn routed_queue() -> QueueRow {
    let mut q = queue("support", "Support");
    q.busy_backoff_ms = Some(7_500);
    q.routing = QueueRouting {
        strategy: Strategy::BestSkillMatch,
        ring_progressively_every: Duration::from_millis(2_500),
        weight: 3,
        steps: vec![
            EscalationStep {
                after: Duration::ZERO,
                require: vec![skill("spanish:7")],
                prefer: vec![skill("billing:2")],
                max_tier: Some(1),
                caller_skills: CallerSkills::Require,
            },
            EscalationStep {
                after: Duration::from_secs(30),
                require: vec![skill("spanish:3")],
                prefer: Vec::new(),
                max_tier: Some(2),
                caller_skills: CallerSkills::Prefer,
            },
            EscalationStep {
                after: Duration::from_secs(90),
                caller_skills: CallerSkills::Ignore,
                ..EscalationStep::default()
            },
        ],
        max_no_answer: 0,
        reject_backoff: Some(Duration::from_secs(30)),
        no_answer_backoff: Some(Duration::from_secs(15)),
        max_wait: Some(Duration::from_secs(300)),
        on_max_wait: Some(Destination::Queue {
            queue: qid("sales"),
        }),
        on_no_agents: Some(Destination::Voicemail {
            domain: "pbx.example.com".to_owned(),
            mailbox: "1000".to_owned(),
        }),
        abandoned_resume: Some(Duration::from_secs(60)),
        announcements: switchboard::engine::Announcements {
            every: Some(Duration::from_secs(45)),
            prompt: Some("ivr/ivr-thank_you_for_holding.wav".to_owned()),
            position: true,
            wait_time: true,
            ..Default::default()
        },
        exit_keys: vec![switchboard::engine::ExitKey {
            digit: '0',
            destination: Destination::Extension {
                number: "operator".to_owned(),
                context: "default".to_owned(),
            },
        }],
        callback: Some(switchboard::engine::CallbackSettings {
            key: '1',
            dial: "sofia/gateway/pstn/{number}".to_owned(),
            ..Default::default()
        }),
        whisper: Some("switchboard/queue-support.wav".to_owned()),
        thresholds: switchboard::engine::routing::Thresholds {
            waiting: Some(10),
            longest_wait: Some(Duration::from_secs(120)),
            service_level: Some(switchboard::engine::routing::ServiceLevelTarget {
                percent: 80,
                within: Duration::from_secs(20),
                window: Duration::from_secs(1800),
                min_calls: 10,
            }),
        },
        recording: switchboard::engine::recording::RecordingPolicy {
            mode: switchboard::engine::recording::RecordingMode::Percent(20),
            stereo: true,
            template: switchboard::engine::recording::RecordingTemplate::parse(
                "{date}/{queue}/{time}-{call}.wav",
            )
            .expect("template"),
            consent: Some(switchboard::engine::recording::ConsentNotice {
                announcement: "ivr/recorded.wav".into(),
                opt_out_digit: Some('9'),
            }),
            beep_every: Some(Duration::from_secs(15)),
            auto_resume: Duration::from_secs(90),
            retention: Some(Duration::from_secs(86_400 * 30)),
            pause_on_hold: true,
        },
        monitor_notice: Some("tone_stream://%(500,0,440)".into()),
        wrap_up_work: switchboard::engine::wrap_up_work::WrapUpWork {
            disposition_codes: vec![switchboard::engine::wrap_up_work::DispositionCode {
                code: "1".to_owned(),
                label: "Sale".to_owned(),
            }],
            disposition_required: true,
            max_wrap_up: Some(Duration::from_secs(300)),
        },
    };
    q
}

fn entered(call: CallId, channel: &ChannelId, priority: i32, at: i64) -> Record {
    Record::CallEntered {
        call,
        switch: SwitchName::new("fs-1").expect("switch"),
        channel: channel.clone(),
        queue: qid("support"),
        caller_number: "+4930123456".to_owned(),
        caller_name: "Erika Mustermann".to_owned(),
        destination: "5000".to_owned(),
        priority,
        at: ts(at),
    }
}

fn ended(call: CallId, outcome: CallOutcome, cause: &str, at: i64) -> Record {
    Record::CallEnded {
        call,
        outcome,
        hangup_cause: cause.to_owned(),
        talk_ms: None,
        wait_ms: None,
        at: ts(at),
    }
}

fn state(agent: &str, from: AgentStatus, to: AgentStatus, at: i64) -> Record {
    Record::AgentState {
        agent: aid(agent),
        from,
        to,
        cause: StateCause::Routing,
        reason: None,
        at: ts(at),
    }
}

async fn ok<T>(what: &str, result: Result<T, StoreError>) -> T {
    match result {
        Ok(v) => v,
        Err(e) => panic!("{what}: {e}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The suite.

async fn migrations_apply_twice_without_error(store: Store, db: &TestDb) {
    ok("migrate again", store.migrate().await).await;
    store.close().await;
    // A second controller start against the same database.
    let again = db.connect().await;
    ok(
        "upsert after re-migrating",
        again.upsert_queue(&queue("support", "Support")).await,
    )
    .await;
    assert_eq!(ok("list", again.list_queues().await).await.len(), 1);
}

async fn provisioning_upsert_is_idempotent_and_replaces_membership(store: Store, _db: &TestDb) {
    for _ in 0..2 {
        ok(
            "queue",
            store.upsert_queue(&queue("support", "Support")).await,
        )
        .await;
        ok("queue", store.upsert_queue(&queue("sales", "Sales")).await).await;
        ok(
            "agent",
            store
                .upsert_agent(&agent("1001", &["support", "sales"]))
                .await,
        )
        .await;
    }
    assert_eq!(
        ok("list", store.list_queues().await).await,
        vec![queue("sales", "Sales"), queue("support", "Support")]
    );
    assert_eq!(
        ok("agents", store.list_agents().await).await,
        vec![agent("1001", &["support", "sales"])]
    );

    // Membership is replaced, in the new order, not merged.
    ok(
        "agent",
        store.upsert_agent(&agent("1001", &["sales"])).await,
    )
    .await;
    ok(
        "agent",
        store
            .upsert_agent(&agent("1002", &["sales", "support"]))
            .await,
    )
    .await;
    assert_eq!(
        ok("get", store.get_agent(&aid("1001")).await).await,
        Some(agent("1001", &["sales"]))
    );
    assert_eq!(
        ok("get", store.get_agent(&aid("1002")).await).await,
        Some(agent("1002", &["sales", "support"]))
    );

    // Fields are updated by id.
    let mut renamed = queue("support", "Customer care");
    renamed.moh = "local_stream://calm".to_owned();
    renamed.wrap_up_ms = 10_000;
    ok("queue", store.upsert_queue(&renamed).await).await;
    assert_eq!(
        ok("get", store.get_queue(&qid("support")).await).await,
        Some(renamed)
    );
    assert_eq!(ok("get", store.get_queue(&qid("nope")).await).await, None);
    assert_eq!(ok("get", store.get_agent(&aid("nope")).await).await, None);
}

async fn applying_the_example_provisioning_file_twice_gives_the_same_rows(
    store: Store,
    _db: &TestDb,
) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("provisioning.example.toml");
    let provisioning = match Provisioning::load(&path) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    };
    let defaults = RoutingDefaults::default();
    ok(
        "apply",
        store
            .apply_provisioning(&provisioning, &defaults, ts(0))
            .await,
    )
    .await;
    let queues = ok("queues", store.list_queues().await).await;
    let agents = ok("agents", store.list_agents().await).await;
    let tokens = ok("tokens", store.list_tokens().await).await;
    ok(
        "apply again",
        store
            .apply_provisioning(&provisioning, &defaults, ts(1_000))
            .await,
    )
    .await;
    assert_eq!(ok("queues", store.list_queues().await).await, queues);
    assert_eq!(ok("agents", store.list_agents().await).await, agents);
    assert_eq!(ok("tokens", store.list_tokens().await).await, tokens);
    assert_eq!(tokens.len(), provisioning.tokens.len());
    assert!(!tokens.is_empty(), "the example provisions a token");

    assert_eq!(queues.len(), 2);
    let sales = queues
        .iter()
        .find(|q| q.id.as_str() == "sales")
        .expect("sales");
    // What the file leaves out comes from the routing defaults.
    assert_eq!(sales.wrap_up_ms, 5_000);
    assert_eq!(sales.ring_timeout_ms, 20_000);
    assert_eq!(sales.moh, "local_stream://moh");
    assert_eq!(sales.busy_backoff_ms, None);
    assert_eq!(agents.len(), 4);

    // Routing settings, memberships and skills are stored as the file gives them.
    for q in &provisioning.queues {
        let row = queues.iter().find(|r| r.id == q.id).expect("queue row");
        assert_eq!(row.routing, q.routing);
    }
    for a in &provisioning.agents {
        let row = agents.iter().find(|r| r.id == a.id).expect("agent row");
        assert_eq!((&row.queues, &row.skills), (&a.queues, &a.skills));
    }
    assert!(agents.iter().any(|a| a.queues.iter().any(|m| m.tier == 2)));
    assert!(agents.iter().any(|a| !a.skills.is_empty()));
}

async fn agent_in_a_missing_queue_is_rejected(store: Store, _db: &TestDb) {
    ok(
        "queue",
        store.upsert_queue(&queue("support", "Support")).await,
    )
    .await;
    let result = store
        .upsert_agent(&agent("1001", &["support", "missing"]))
        .await;
    assert!(matches!(result, Err(StoreError::Query(_))), "{result:?}");
    assert_eq!(ok("get", store.get_agent(&aid("1001")).await).await, None);
}

async fn full_call_history_reads_back(store: Store, _db: &TestDb) {
    let call = new_call();
    let caller = new_channel();
    let agent_leg = new_channel();
    ok(
        "entered",
        store
            .write(&[
                entered(call, &caller, 3, 0),
                Record::QueueEvent {
                    call,
                    queue: qid("support"),
                    agent: None,
                    kind: QueueEventKind::Enter,
                    detail: String::new(),
                    at: ts(0),
                },
            ])
            .await,
    )
    .await;
    ok(
        "answered",
        store
            .write(&[
                Record::CallAnswered {
                    call,
                    agent: aid("1001"),
                    agent_channel: agent_leg.clone(),
                    wait_ms: 12_500,
                    at: ts(12_500),
                },
                Record::QueueEvent {
                    call,
                    queue: qid("support"),
                    agent: Some(aid("1001")),
                    kind: QueueEventKind::Connect,
                    detail: "wait=12500".to_owned(),
                    at: ts(12_500),
                },
            ])
            .await,
    )
    .await;
    ok(
        "ended",
        store
            .write(&[
                Record::CallEnded {
                    call,
                    outcome: CallOutcome::Completed,
                    hangup_cause: "NORMAL_CLEARING".to_owned(),
                    talk_ms: Some(90_000),
                    wait_ms: None,
                    at: ts(102_500),
                },
                Record::QueueEvent {
                    call,
                    queue: qid("support"),
                    agent: Some(aid("1001")),
                    kind: QueueEventKind::Complete,
                    detail: "talk=90000".to_owned(),
                    at: ts(102_500),
                },
            ])
            .await,
    )
    .await;

    let expected = CallRow {
        id: call,
        switch: SwitchName::new("fs-1").expect("switch"),
        caller_channel: caller,
        queue: qid("support"),
        caller_number: "+4930123456".to_owned(),
        caller_name: "Erika Mustermann".to_owned(),
        destination: "5000".to_owned(),
        priority: 3,
        entered_at: ts(0),
        answered_at: Some(ts(12_500)),
        ended_at: Some(ts(102_500)),
        agent: Some(aid("1001")),
        agent_channel: Some(agent_leg),
        wait_ms: Some(12_500),
        talk_ms: Some(90_000),
        outcome: Some(CallOutcome::Completed),
        hangup_cause: Some("NORMAL_CLEARING".to_owned()),
        hold_ms: None,
        holds: None,
        disposition: None,
    };
    assert_eq!(
        ok("call", store.call(call).await).await,
        Some(expected.clone())
    );
    assert_eq!(
        ok("recent", store.recent_calls(10).await).await,
        vec![expected]
    );
    assert_eq!(ok("call", store.call(new_call()).await).await, None);

    let events = ok("events", store.queue_events(call).await).await;
    let kinds: Vec<_> = events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            QueueEventKind::Enter,
            QueueEventKind::Connect,
            QueueEventKind::Complete
        ]
    );
    assert_eq!(events[1].agent, Some(aid("1001")));
    assert_eq!(events[1].detail, "wait=12500");
    assert_eq!(events[2].at, ts(102_500));
    assert!(ok("events", store.queue_events(new_call()).await)
        .await
        .is_empty());
}

async fn open_calls_exclude_ended_calls_and_keep_enqueue_time_and_priority(
    store: Store,
    _db: &TestDb,
) {
    let (waiting, abandoned, later) = (new_call(), new_call(), new_call());
    ok(
        "write",
        store
            .write(&[
                entered(waiting, &new_channel(), 7, 0),
                entered(abandoned, &new_channel(), 0, 1_000),
                entered(later, &new_channel(), 0, 2_000),
                ended(
                    abandoned,
                    CallOutcome::Abandoned,
                    "ORIGINATOR_CANCEL",
                    5_000,
                ),
            ])
            .await,
    )
    .await;
    let open = ok("open", store.open_calls().await).await;
    let ids: Vec<CallId> = open.iter().map(|c| c.id).collect();
    assert_eq!(ids, [waiting, later], "oldest first, ended call left out");
    assert_eq!(open[0].entered_at, ts(0));
    assert_eq!(open[0].priority, 7);
    assert_eq!(open[0].ended_at, None);

    let gone = ok("call", store.call(abandoned).await)
        .await
        .expect("abandoned call");
    assert_eq!(gone.outcome, Some(CallOutcome::Abandoned));
    assert_eq!(gone.answered_at, None);
    assert_eq!(gone.talk_ms, None);
}

async fn recent_calls_are_newest_first_and_limited(store: Store, _db: &TestDb) {
    let calls: Vec<CallId> = (0..5).map(|_| new_call()).collect();
    let records: Vec<Record> = calls
        .iter()
        .zip(0..)
        .map(|(&c, i)| entered(c, &new_channel(), 0, i * 1_000))
        .collect();
    ok("write", store.write(&records).await).await;
    let recent: Vec<CallId> = ok("recent", store.recent_calls(3).await)
        .await
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(recent, [calls[4], calls[3], calls[2]]);
    assert!(ok("none", store.recent_calls(0).await).await.is_empty());
}

async fn an_agents_recent_calls_are_the_ones_it_answered(store: Store, _db: &TestDb) {
    let calls: Vec<CallId> = (0..4).map(|_| new_call()).collect();
    let mut records: Vec<Record> = calls
        .iter()
        .zip(0..)
        .map(|(&c, i)| entered(c, &new_channel(), 0, i * 1_000))
        .collect();
    // 1001 answers the first, third and fourth; 1002 the second.
    for (&call, agent) in calls.iter().zip(["1001", "1002", "1001", "1001"]) {
        records.push(Record::CallAnswered {
            call,
            agent: aid(agent),
            agent_channel: new_channel(),
            wait_ms: 100,
            at: ts(5_000),
        });
    }
    ok("write", store.write(&records).await).await;
    let mine: Vec<CallId> = ok("1001", store.recent_calls_of_agent(&aid("1001"), 2).await)
        .await
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(mine, [calls[3], calls[2]]);
    let theirs = ok("1002", store.recent_calls_of_agent(&aid("1002"), 10).await).await;
    assert_eq!(theirs.iter().map(|c| c.id).collect::<Vec<_>>(), [calls[1]]);
    assert!(
        ok("nobody", store.recent_calls_of_agent(&aid("9"), 10).await)
            .await
            .is_empty()
    );
}

async fn agent_states_survive_reconnecting(store: Store, db: &TestDb) {
    use AgentStatus::*;
    ok(
        "write",
        store
            .write(&[
                state("1001", LoggedOut, Available, 0),
                state("1002", LoggedOut, Available, 500),
                state("1001", Available, Offered, 10_000),
                state("1001", Offered, OnCall, 14_000),
            ])
            .await,
    )
    .await;
    ok(
        "write",
        store
            .write(&[state("1002", Available, LoggedOut, 60_000)])
            .await,
    )
    .await;
    store.close().await;

    let store = db.connect().await;
    assert_eq!(
        ok("last", store.last_agent_states().await).await,
        vec![
            (aid("1001"), OnCall, ts(14_000)),
            (aid("1002"), LoggedOut, ts(60_000)),
        ]
    );
    let history = ok("history", store.agent_state_changes(&aid("1001"), 2).await).await;
    assert_eq!(history.len(), 2);
    assert_eq!((history[0].from, history[0].to), (Offered, OnCall));
    assert_eq!(history[0].previous_state_ms, Some(4_000));
    assert_eq!(history[1].previous_state_ms, Some(10_000));
    assert_eq!(history[0].cause, StateCause::Routing);
    let first = ok("history", store.agent_state_changes(&aid("1001"), 10).await).await;
    assert_eq!(first.len(), 3);
    assert_eq!(
        first[2].previous_state_ms, None,
        "no earlier row to measure from"
    );
}

async fn corrupt_rows_are_errors_not_panics(store: Store, db: &TestDb) {
    ok(
        "write",
        store
            .write(&[entered(new_call(), &new_channel(), 0, 0)])
            .await,
    )
    .await;
    db.raw(
        "INSERT INTO calls (id, switch, caller_channel, queue_id, caller_number, caller_name, \
         destination, priority, entered_at) \
         VALUES ('not-a-uuid', 'fs-1', 'also-not-a-uuid', 'support', '', '', '', 0, 1)",
    )
    .await;
    let result = store.recent_calls(10).await;
    assert!(
        matches!(&result, Err(StoreError::Corrupt { table: "calls", id, .. }) if id == "not-a-uuid"),
        "{result:?}"
    );
    let result = store.open_calls().await;
    assert!(
        matches!(result, Err(StoreError::Corrupt { .. })),
        "{result:?}"
    );

    db.raw(
        "INSERT INTO agent_state_changes (agent_id, from_status, to_status, cause, at) \
         VALUES ('1001', 'available', 'dancing', 'api', 1)",
    )
    .await;
    let result = store.last_agent_states().await;
    assert!(
        matches!(&result, Err(StoreError::Corrupt { table: "agent_state_changes", reason, .. }) if reason.contains("dancing")),
        "{result:?}"
    );

    db.raw("INSERT INTO agents (id, name, dial_string) VALUES ('1009', 'Eve', '{x=y}user/1009')")
        .await;
    let result = store.get_agent(&aid("1009")).await;
    assert!(
        matches!(&result, Err(StoreError::Corrupt { table: "agents", id, .. }) if id == "1009"),
        "{result:?}"
    );

    db.raw(
        "INSERT INTO agents (id, name, dial_string, skills) \
         VALUES ('1010', 'Mallory', 'user/1010', '[{\"skill\":\"spanish\",\"level\":11}]')",
    )
    .await;
    let result = store.get_agent(&aid("1010")).await;
    assert!(
        matches!(&result, Err(StoreError::Corrupt { table: "agents", reason, .. }) if reason.starts_with("skills")),
        "{result:?}"
    );
}

async fn corrupt_routing_settings_are_errors_not_panics(store: Store, db: &TestDb) {
    ok("queue", store.upsert_queue(&routed_queue()).await).await;
    db.raw("UPDATE queues SET routing = '{\"strategy\":\"fastest\"}' WHERE id = 'support'")
        .await;
    let result = store.list_queues().await;
    assert!(
        matches!(&result, Err(StoreError::Corrupt { table: "queues", id, reason }) if id == "support" && reason.contains("fastest")),
        "{result:?}"
    );

    // A destination goes into a switch command: one that was not checked on its way in is
    // refused on the way out.
    db.raw(
        "UPDATE queues SET routing = \
         '{\"on_no_agents\":{\"kind\":\"extension\",\"number\":\"1000 XML evil\",\"context\":\"default\"}}' \
         WHERE id = 'support'",
    )
    .await;
    let result = store.get_queue(&qid("support")).await;
    assert!(
        matches!(&result, Err(StoreError::Corrupt { table: "queues", reason, .. }) if reason.contains("not allowed")),
        "{result:?}"
    );

    ok("agent", store.upsert_agent(&agent("1001", &[])).await).await;
    db.raw("UPDATE agents SET skills = 'spanish' WHERE id = '1001'")
        .await;
    let result = store.list_agents().await;
    assert!(
        matches!(&result, Err(StoreError::Corrupt { table: "agents", id, .. }) if id == "1001"),
        "{result:?}"
    );
}

async fn a_failing_record_writes_nothing_from_its_batch(store: Store, _db: &TestDb) {
    let (call, stranger) = (new_call(), new_call());
    let result = store
        .write(&[
            entered(call, &new_channel(), 0, 0),
            Record::QueueEvent {
                call,
                queue: qid("support"),
                agent: None,
                kind: QueueEventKind::Enter,
                detail: String::new(),
                at: ts(0),
            },
            state("1001", AgentStatus::Available, AgentStatus::Offered, 10),
            Record::CallAnswered {
                call: stranger,
                agent: aid("1001"),
                agent_channel: new_channel(),
                wait_ms: 10,
                at: ts(10),
            },
        ])
        .await;
    assert!(
        matches!(&result, Err(StoreError::UnknownCall { call, record: "CallAnswered" }) if *call == stranger),
        "{result:?}"
    );
    assert_eq!(ok("call", store.call(call).await).await, None);
    assert!(ok("events", store.queue_events(call).await)
        .await
        .is_empty());
    assert!(ok("states", store.last_agent_states().await)
        .await
        .is_empty());

    let result = store
        .write(&[ended(stranger, CallOutcome::Lost, "", 0)])
        .await;
    assert!(
        matches!(
            result,
            Err(StoreError::UnknownCall {
                record: "CallEnded",
                ..
            })
        ),
        "{result:?}"
    );
}

async fn queue_event_for_an_unknown_call_rejects_the_batch(store: Store, _db: &TestDb) {
    let (call, stranger) = (new_call(), new_call());
    let result = store
        .write(&[
            entered(call, &new_channel(), 0, 0),
            Record::QueueEvent {
                call: stranger,
                queue: qid("support"),
                agent: None,
                kind: QueueEventKind::Enter,
                detail: String::new(),
                at: ts(0),
            },
        ])
        .await;
    assert!(matches!(result, Err(StoreError::Query(_))), "{result:?}");
    assert_eq!(ok("call", store.call(call).await).await, None);

    // Within one batch, a call's events may come before the call itself.
    ok(
        "reordered",
        store
            .write(&[
                Record::QueueEvent {
                    call,
                    queue: qid("support"),
                    agent: None,
                    kind: QueueEventKind::Enter,
                    detail: String::new(),
                    at: ts(0),
                },
                entered(call, &new_channel(), 0, 0),
            ])
            .await,
    )
    .await;
    assert_eq!(ok("events", store.queue_events(call).await).await.len(), 1);
}

async fn a_second_end_keeps_the_first(store: Store, _db: &TestDb) {
    let call = new_call();
    let channel = new_channel();
    ok(
        "write",
        store
            .write(&[
                entered(call, &channel, 0, 0),
                ended(call, CallOutcome::Abandoned, "ORIGINATOR_CANCEL", 1_000),
            ])
            .await,
    )
    .await;
    ok(
        "again",
        store
            .write(&[
                entered(call, &new_channel(), 5, 9_000),
                ended(call, CallOutcome::Lost, "NORMAL_CLEARING", 9_000),
            ])
            .await,
    )
    .await;
    let row = ok("call", store.call(call).await).await.expect("call");
    assert_eq!(row.outcome, Some(CallOutcome::Abandoned));
    assert_eq!(row.ended_at, Some(ts(1_000)));
    assert_eq!(row.entered_at, ts(0));
    assert_eq!(row.caller_channel, channel);
    assert_eq!(row.priority, 0);
    // What the history kept out is not announced again either: one entry, one end.
    let events = ok(
        "events",
        store.events_after(0, &EventFilter::default(), 100).await,
    )
    .await;
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["call.entered", "call.abandoned", "call.ended"]);
}

async fn routing_settings_memberships_and_skills_round_trip(store: Store, _db: &TestDb) {
    let support = routed_queue();
    ok("queue", store.upsert_queue(&support).await).await;
    ok("queue", store.upsert_queue(&queue("sales", "Sales")).await).await;
    assert_eq!(
        ok("get", store.get_queue(&qid("support")).await).await,
        Some(support.clone())
    );

    // Memberships keep the agent's order, whatever their positions.
    let mut alice = agent("1001", &[]);
    alice.queues = vec![
        Membership {
            queue: qid("sales"),
            tier: 2,
            position: 5,
            weight: 3,
        },
        Membership::new(qid("support"), 1),
    ];
    alice.skills = vec![skill("billing:3"), skill("spanish:8")];
    ok("agent", store.upsert_agent(&alice).await).await;
    ok(
        "agent",
        store.upsert_agent(&agent("1002", &["support"])).await,
    )
    .await;
    assert_eq!(
        ok("get", store.get_agent(&aid("1001")).await).await,
        Some(alice.clone())
    );
    assert_eq!(
        ok("list", store.list_agents().await).await,
        vec![alice.clone(), agent("1002", &["support"])]
    );

    // An upsert replaces the settings, back to the defaults too.
    ok(
        "queue",
        store.upsert_queue(&queue("support", "Support")).await,
    )
    .await;
    assert_eq!(
        ok("get", store.get_queue(&qid("support")).await).await,
        Some(queue("support", "Support"))
    );
    alice.skills = vec![skill("spanish:9")];
    alice.queues[0].tier = 1;
    ok("agent", store.upsert_agent(&alice).await).await;
    assert_eq!(
        ok("get", store.get_agent(&aid("1001")).await).await,
        Some(alice)
    );
}

async fn pause_reasons_read_back(store: Store, _db: &TestDb) {
    use AgentStatus::*;
    let paused = |from, to, cause, reason: Option<&str>, at| Record::AgentState {
        agent: aid("1001"),
        from,
        to,
        cause,
        reason: reason.map(str::to_owned),
        at: ts(at),
    };
    ok(
        "write",
        store
            .write(&[
                state("1001", LoggedOut, Available, 0),
                paused(Available, Paused, StateCause::Api, Some("lunch"), 1_000),
                paused(Paused, Available, StateCause::Api, None, 2_000),
                paused(
                    Offered,
                    Paused,
                    StateCause::AutoPause,
                    Some("no-answer"),
                    3_000,
                ),
            ])
            .await,
    )
    .await;
    let history = ok("history", store.agent_state_changes(&aid("1001"), 10).await).await;
    let shown: Vec<_> = history
        .iter()
        .map(|h| (h.to, h.cause, h.reason.as_deref()))
        .collect();
    assert_eq!(
        shown,
        [
            (Paused, StateCause::AutoPause, Some("no-answer")),
            (Available, StateCause::Api, None),
            (Paused, StateCause::Api, Some("lunch")),
            (Available, StateCause::Routing, None),
        ]
    );
    assert_eq!(
        ok("last", store.last_agent_states().await).await,
        vec![(aid("1001"), Paused, ts(3_000))]
    );
    assert_eq!(
        ok("reasons", store.last_pause_reasons().await).await,
        vec![(aid("1001"), "no-answer".to_owned())]
    );
}

async fn rows_from_the_first_schema_load_with_defaults(db: &TestDb) {
    db.migrate_to_the_first_version().await;
    db.raw(
        "INSERT INTO queues (id, name, moh, wrap_up_ms, ring_timeout_ms) VALUES \
         ('support', 'Support', 'local_stream://moh', 5000, 20000), \
         ('sales', 'Sales', 'local_stream://moh', 5000, 20000); \
         INSERT INTO agents (id, name, dial_string) VALUES ('1001', 'Agent 1001', 'user/1001'); \
         INSERT INTO agent_queues (agent_id, queue_id, position) VALUES \
         ('1001', 'support', 0), ('1001', 'sales', 1); \
         INSERT INTO agent_state_changes (agent_id, from_status, to_status, cause, at) \
         VALUES ('1001', 'logged_out', 'available', 'api', 1700000000000);",
    )
    .await;

    let store = db.connect().await;
    assert_eq!(
        ok("queues", store.list_queues().await).await,
        vec![queue("sales", "Sales"), queue("support", "Support")]
    );
    assert_eq!(
        ok("agents", store.list_agents().await).await,
        vec![agent("1001", &["support", "sales"])]
    );
    let history = ok("history", store.agent_state_changes(&aid("1001"), 10).await).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].reason, None);
}

// ---------------------------------------------------------------------------------------------
// SQLite only.

#[tokio::test]
async fn sqlite_file_is_created_in_wal_mode() {
    let db = TestDb::sqlite();
    let _store = db.connect().await;
    let mut conn = sqlx::AnyConnection::connect(&db.url)
        .await
        .expect("raw connection");
    let mode: (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .expect("journal mode");
    assert_eq!(mode.0, "wal");
}

#[tokio::test]
async fn sqlite_in_memory_database_keeps_its_data_across_queries() {
    let store = match Store::connect("sqlite::memory:").await {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    ok(
        "queue",
        store.upsert_queue(&queue("support", "Support")).await,
    )
    .await;
    ok(
        "write",
        store
            .write(&[entered(new_call(), &new_channel(), 0, 0)])
            .await,
    )
    .await;
    assert_eq!(ok("queues", store.list_queues().await).await.len(), 1);
    assert_eq!(ok("open", store.open_calls().await).await.len(), 1);
}

#[tokio::test]
async fn unsupported_url_is_an_error() {
    let result = Store::connect("mysql://root:secret@localhost/sb").await;
    assert!(
        matches!(&result, Err(StoreError::UnsupportedUrl { url }) if !url.contains("secret")),
        "{result:?}"
    );
}

async fn provisioned_pause_reasons_upsert_by_code(store: Store, _db: &TestDb) {
    let reason = |code: &str, name: &str, productive| switchboard::store::PauseReasonRow {
        code: code.to_owned(),
        name: name.to_owned(),
        productive,
    };
    for r in [
        reason("2", "Training", true),
        reason("1", "Lunch", false),
        reason("2", "Training (coached)", true),
    ] {
        ok("upsert", store.upsert_pause_reason(&r).await).await;
    }
    assert_eq!(
        ok("list", store.list_pause_reasons().await).await,
        vec![
            reason("1", "Lunch", false),
            reason("2", "Training (coached)", true)
        ]
    );
}

async fn an_agents_pin_hash_reads_back_and_verifies(store: Store, _db: &TestDb) {
    ok(
        "queue",
        store.upsert_queue(&queue("support", "Support")).await,
    )
    .await;
    let mut a = agent("1001", &["support"]);
    a.pin_hash = Some(switchboard::engine::PinHash::new("4711", [5; 16]));
    ok("agent", store.upsert_agent(&a).await).await;
    let back = ok("list", store.list_agents().await).await;
    let hash = back[0].pin_hash.as_ref().expect("stored");
    assert!(hash.verify("4711") && !hash.verify("1234"));
}

async fn deleting_an_agent_drops_its_membership_and_keeps_its_history(store: Store, _db: &TestDb) {
    for q in [queue("support", "Support"), queue("sales", "Sales")] {
        ok("queue", store.upsert_queue(&q).await).await;
    }
    for a in [
        agent("1001", &["support", "sales"]),
        agent("1002", &["support"]),
    ] {
        ok("agent", store.upsert_agent(&a).await).await;
    }
    let call = new_call();
    ok(
        "history",
        store
            .write(&[
                entered(call, &new_channel(), 0, 0),
                Record::CallAnswered {
                    call,
                    agent: aid("1001"),
                    agent_channel: new_channel(),
                    wait_ms: 1_000,
                    at: ts(1_000),
                },
                state("1001", AgentStatus::Offered, AgentStatus::OnCall, 1_000),
            ])
            .await,
    )
    .await;
    assert!(ok("delete", store.delete_agent(&aid("1001")).await).await);
    assert!(!ok("again", store.delete_agent(&aid("1001")).await).await);
    assert_eq!(ok("get", store.get_agent(&aid("1001")).await).await, None);
    let left: Vec<AgentId> = ok("list", store.list_agents().await)
        .await
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(left, [aid("1002")]);
    let row = ok("call", store.call(call).await).await;
    assert_eq!(row.and_then(|c| c.agent), Some(aid("1001")));
    let changes = ok("changes", store.agent_state_changes(&aid("1001"), 10).await).await;
    assert_eq!(changes.len(), 1);
    // The same id can be provisioned again, with new membership.
    ok(
        "again",
        store.upsert_agent(&agent("1001", &["sales"])).await,
    )
    .await;
    let back = ok("get", store.get_agent(&aid("1001")).await).await;
    assert_eq!(
        back.map(|a| a.queues),
        Some(vec![Membership::new(qid("sales"), 1)])
    );
}

async fn deleting_a_pause_reason_says_whether_there_was_one(store: Store, _db: &TestDb) {
    let reason = |code: &str| switchboard::store::PauseReasonRow {
        code: code.to_owned(),
        name: format!("Reason {code}"),
        productive: false,
    };
    for code in ["1", "lunch"] {
        ok("upsert", store.upsert_pause_reason(&reason(code)).await).await;
    }
    assert!(ok("delete", store.delete_pause_reason("1").await).await);
    assert!(!ok("again", store.delete_pause_reason("1").await).await);
    assert!(!ok("unknown", store.delete_pause_reason("nope").await).await);
    assert_eq!(
        ok("list", store.list_pause_reasons().await).await,
        vec![reason("lunch")]
    );
}

// ---------------------------------------------------------------------------------------------
// IVR history.

fn fid(s: &str) -> FlowId {
    FlowId::new(s).expect("flow id")
}

fn flow_entered(call: CallId, channel: &ChannelId, flow: &str, at: i64) -> Record {
    Record::FlowEntered {
        call,
        switch: SwitchName::new("fs-1").expect("switch"),
        channel: channel.clone(),
        flow: fid(flow),
        entry: "5000".to_owned(),
        caller_number: "+4930123456".to_owned(),
        caller_name: "Erika Mustermann".to_owned(),
        destination: "5000".to_owned(),
        at: ts(at),
    }
}

fn flow_step(call: CallId, flow: &str, node: &str, kind: &str, outcome: &str, at: i64) -> Record {
    Record::FlowStep {
        call,
        flow: fid(flow),
        node: node.to_owned(),
        kind: kind.to_owned(),
        digits: String::new(),
        outcome: outcome.to_owned(),
        survey: false,
        at: ts(at),
    }
}

fn flow_ended(call: CallId, outcome: FlowOutcome, at: i64) -> Record {
    Record::FlowEnded {
        call,
        outcome,
        variables: Vec::new(),
        at: ts(at),
    }
}

async fn a_flow_session_reads_back_with_its_steps_and_variables(store: Store, _db: &TestDb) {
    let call = new_call();
    let channel = new_channel();
    ok(
        "entered",
        store
            .write(&[
                flow_entered(call, &channel, "main", 0),
                flow_step(call, "main", "hours", "schedule", "open", 0),
            ])
            .await,
    )
    .await;
    let open = ok("open", store.flow_session(call).await)
        .await
        .expect("session");
    assert_eq!(open.ended_at, None);
    assert_eq!(open.outcome, None);
    assert!(open.variables.is_empty());
    assert_eq!(open.steps.len(), 1);

    let mut account = flow_step(call, "main", "account", "collect", "next", 4_000);
    if let Record::FlowStep { digits, .. } = &mut account {
        *digits = "123456#".to_owned();
    }
    ok(
        "rest",
        store
            .write(&[
                flow_step(call, "main", "menu", "menu", "2", 2_000),
                account,
                flow_step(call, "main", "lookup", "http", "next", 4_500),
                flow_step(call, "main", "sales", "enqueue", "enqueued", 4_600),
                Record::FlowEnded {
                    call,
                    outcome: FlowOutcome::Enqueued,
                    variables: vec![
                        ("account".to_owned(), "123456".to_owned()),
                        ("tier".to_owned(), "gold, \"vip\"".to_owned()),
                    ],
                    at: ts(4_600),
                },
                entered(call, &channel, 0, 4_600),
            ])
            .await,
    )
    .await;
    let session = ok("session", store.flow_session(call).await)
        .await
        .expect("session");
    assert_eq!(session.call, call);
    assert_eq!(session.caller_channel, channel);
    assert_eq!(session.flow, fid("main"));
    assert_eq!(session.entry, "5000");
    assert_eq!(session.caller_number, "+4930123456");
    assert_eq!(session.entered_at, ts(0));
    assert_eq!(session.ended_at, Some(ts(4_600)));
    assert_eq!(session.outcome, Some(FlowOutcome::Enqueued));
    assert_eq!(
        session.variables.get("account").map(String::as_str),
        Some("123456")
    );
    assert_eq!(
        session.variables.get("tier").map(String::as_str),
        Some("gold, \"vip\"")
    );
    let nodes: Vec<(&str, &str, &str)> = session
        .steps
        .iter()
        .map(|s| (s.node.as_str(), s.kind.as_str(), s.outcome.as_str()))
        .collect();
    assert_eq!(
        nodes,
        [
            ("hours", "schedule", "open"),
            ("menu", "menu", "2"),
            ("account", "collect", "next"),
            ("lookup", "http", "next"),
            ("sales", "enqueue", "enqueued"),
        ]
    );
    assert_eq!(session.steps[2].digits, "123456#");
    assert!(session.steps.windows(2).all(|w| w[0].seq < w[1].seq));
    // The call that reached the queue keeps the session's id.
    assert!(ok("call", store.call(call).await).await.is_some());
    assert_eq!(ok("none", store.flow_session(new_call()).await).await, None);

    // A second end does not rewrite the first.
    ok(
        "again",
        store
            .write(&[flow_ended(call, FlowOutcome::Abandoned, 9_000)])
            .await,
    )
    .await;
    let again = ok("again", store.flow_session(call).await)
        .await
        .expect("session");
    assert_eq!(again.outcome, Some(FlowOutcome::Enqueued));
    assert_eq!(again.variables.len(), 2);
}

async fn flow_exits_count_where_ended_sessions_left_each_node(store: Store, _db: &TestDb) {
    let mut batch = Vec::new();
    // Two callers hang up in the menu, one in the account prompt, one reaches sales.
    for (at, last, kind, outcome) in [
        (0, "menu", "menu", FlowOutcome::Abandoned),
        (1_000, "menu", "menu", FlowOutcome::Abandoned),
        (2_000, "account", "collect", FlowOutcome::Abandoned),
        (3_000, "sales", "enqueue", FlowOutcome::Enqueued),
    ] {
        let call = new_call();
        batch.push(flow_entered(call, &new_channel(), "main", at));
        batch.push(flow_step(call, "main", "welcome", "play", "next", at + 10));
        batch.push(flow_step(call, "main", last, kind, "hangup", at + 20));
        batch.push(flow_ended(call, outcome, at + 30));
    }
    // A caller sent on to another flow leaves there: counted for that flow, not for main.
    let moved = new_call();
    batch.push(flow_entered(moved, &new_channel(), "main", 4_000));
    batch.push(flow_step(moved, "main", "closed", "goto", "next", 4_010));
    batch.push(flow_step(
        moved,
        "after_hours",
        "message",
        "record",
        "hangup",
        4_020,
    ));
    batch.push(flow_ended(moved, FlowOutcome::Abandoned, 4_030));
    // Still in the menu: not an exit yet.
    let waiting = new_call();
    batch.push(flow_entered(waiting, &new_channel(), "main", 5_000));
    batch.push(flow_step(waiting, "main", "menu", "menu", "1", 5_010));
    ok("write", store.write(&batch).await).await;

    let exits = ok("exits", store.flow_exits(&fid("main"), None, None).await).await;
    let shown: Vec<(&str, &str, FlowOutcome, i64)> = exits
        .iter()
        .map(|e| (e.node.as_str(), e.kind.as_str(), e.outcome, e.sessions))
        .collect();
    assert_eq!(
        shown,
        [
            ("menu", "menu", FlowOutcome::Abandoned, 2),
            ("account", "collect", FlowOutcome::Abandoned, 1),
            ("sales", "enqueue", FlowOutcome::Enqueued, 1),
        ]
    );
    let other = ok(
        "after_hours",
        store.flow_exits(&fid("after_hours"), None, None).await,
    )
    .await;
    assert_eq!(other.len(), 1);
    assert_eq!((other[0].node.as_str(), other[0].sessions), ("message", 1));

    // Sessions entered in [1000, 3000) only.
    let window = ok(
        "window",
        store
            .flow_exits(&fid("main"), Some(ts(1_000)), Some(ts(3_000)))
            .await,
    )
    .await;
    let shown: Vec<(&str, i64)> = window
        .iter()
        .map(|e| (e.node.as_str(), e.sessions))
        .collect();
    assert_eq!(shown, [("account", 1), ("menu", 1)]);
    assert!(
        ok("none", store.flow_exits(&fid("survey"), None, None).await)
            .await
            .is_empty()
    );
}

async fn flow_records_for_an_unknown_session_reject_the_batch(store: Store, _db: &TestDb) {
    let (call, stranger) = (new_call(), new_call());
    let ended = store
        .write(&[
            flow_entered(call, &new_channel(), "main", 0),
            flow_ended(stranger, FlowOutcome::Abandoned, 10),
        ])
        .await;
    assert!(
        matches!(
            ended,
            Err(StoreError::UnknownCall {
                record: "FlowEnded",
                ..
            })
        ),
        "{ended:?}"
    );
    let step = store
        .write(&[
            flow_entered(call, &new_channel(), "main", 0),
            flow_step(stranger, "main", "menu", "menu", "1", 5),
        ])
        .await;
    assert!(matches!(step, Err(StoreError::Query(_))), "{step:?}");
    assert_eq!(ok("session", store.flow_session(call).await).await, None);

    // Within one batch, steps may come before their session.
    ok(
        "reordered",
        store
            .write(&[
                flow_step(call, "main", "menu", "menu", "1", 5),
                flow_entered(call, &new_channel(), "main", 0),
            ])
            .await,
    )
    .await;
    let session = ok("session", store.flow_session(call).await)
        .await
        .expect("session");
    assert_eq!(session.steps.len(), 1);
}

async fn a_survey_reads_back_apart_from_the_ivr_before_the_queue(store: Store, _db: &TestDb) {
    let call = new_call();
    let survey_step = |node: &str, kind: &str, outcome: &str, at: i64| Record::FlowStep {
        call,
        flow: fid("poll"),
        node: node.to_owned(),
        kind: kind.to_owned(),
        digits: String::new(),
        outcome: outcome.to_owned(),
        survey: true,
        at: ts(at),
    };
    ok(
        "write",
        store
            .write(&[
                flow_entered(call, &new_channel(), "main", 0),
                flow_step(call, "main", "queue", "enqueue", "enqueued", 10),
                flow_ended(call, FlowOutcome::Enqueued, 10),
                Record::SurveyStarted {
                    call,
                    flow: fid("poll"),
                    agent: AgentId::new("1001").expect("agent"),
                    at: ts(60_000),
                },
                survey_step("rate", "collect", "collected", 63_000),
                survey_step("bye", "hangup", "hung up", 63_010),
                Record::SurveyEnded {
                    call,
                    outcome: FlowOutcome::HungUp,
                    answers: vec![("rating".to_owned(), "4".to_owned())],
                    at: ts(63_010),
                },
            ])
            .await,
    )
    .await;
    let survey = ok("survey", store.call_survey(call).await)
        .await
        .expect("survey");
    assert_eq!(survey.flow, fid("poll"));
    assert_eq!(survey.agent.as_str(), "1001");
    assert_eq!(survey.outcome, Some(FlowOutcome::HungUp));
    assert_eq!(survey.ended_at, Some(ts(63_010)));
    assert_eq!(survey.answers.get("rating").map(String::as_str), Some("4"));
    let nodes: Vec<&str> = survey.steps.iter().map(|s| s.node.as_str()).collect();
    assert_eq!(nodes, ["rate", "bye"]);
    let ivr = ok("session", store.flow_session(call).await)
        .await
        .expect("session");
    assert_eq!(ivr.steps.len(), 1, "the IVR's steps only");

    // Each flow's exits end at its own last step.
    let main = ok("exits", store.flow_exits(&fid("main"), None, None).await).await;
    assert_eq!(
        main.iter()
            .map(|e| (e.node.as_str(), e.sessions))
            .collect::<Vec<_>>(),
        [("queue", 1)]
    );
    let poll = ok("exits", store.flow_exits(&fid("poll"), None, None).await).await;
    assert_eq!(
        poll.iter()
            .map(|e| (e.node.as_str(), e.outcome, e.sessions))
            .collect::<Vec<_>>(),
        [("bye", FlowOutcome::HungUp, 1)]
    );
    assert_eq!(ok("none", store.call_survey(new_call()).await).await, None);
}

fn token_row(name: &str, role: Role, agent: Option<&str>, token: &str, at: i64) -> TokenRow {
    TokenRow {
        name: TokenName::new(name).expect("token name"),
        role,
        agent: agent.map(aid),
        hash: TokenHash::of(token),
        created_at: ts(at),
    }
}

async fn tokens_upsert_by_name_and_keep_their_creation_time(store: Store, _db: &TestDb) {
    let crm = token_row("crm", Role::Integration, None, "sb_first", 0);
    ok("upsert", store.upsert_token(&crm).await).await;
    ok(
        "upsert",
        store
            .upsert_token(&token_row(
                "alice",
                Role::Agent,
                Some("1001"),
                "sb_alice",
                5,
            ))
            .await,
    )
    .await;
    // The file changed the token's role and digest: both replaced, the creation time kept.
    let replaced = token_row("crm", Role::Supervisor, None, "sb_second", 9_000);
    ok("upsert again", store.upsert_token(&replaced).await).await;
    let tokens = ok("list", store.list_tokens().await).await;
    let shown: Vec<_> = tokens
        .iter()
        .map(|t| (t.name.as_str(), t.role, t.agent.clone(), t.created_at))
        .collect();
    assert_eq!(
        shown,
        [
            ("alice", Role::Agent, Some(aid("1001")), ts(5)),
            ("crm", Role::Supervisor, None, ts(0)),
        ]
    );
    assert_eq!(tokens[1].hash, TokenHash::of("sb_second"));
}

async fn a_token_under_a_taken_name_is_not_inserted(store: Store, _db: &TestDb) {
    let first = token_row("crm", Role::Integration, None, "sb_first", 0);
    assert!(ok("insert", store.insert_token(&first).await).await);
    let again = token_row("crm", Role::Admin, None, "sb_second", 1);
    assert!(!ok("insert again", store.insert_token(&again).await).await);
    assert_eq!(ok("list", store.list_tokens().await).await, vec![first]);
}

async fn a_token_is_found_by_its_digest_and_deleted_by_name(store: Store, _db: &TestDb) {
    let crm = token_row("crm", Role::Integration, None, "sb_crm", 0);
    ok("insert", store.insert_token(&crm).await).await;
    assert_eq!(
        ok(
            "by hash",
            store.token_by_hash(&TokenHash::of("sb_crm")).await
        )
        .await,
        Some(crm.clone())
    );
    assert_eq!(
        ok(
            "by hash",
            store.token_by_hash(&TokenHash::of("sb_other")).await
        )
        .await,
        None
    );
    assert!(ok("delete", store.delete_token(&crm.name).await).await);
    assert!(!ok("delete again", store.delete_token(&crm.name).await).await);
    assert!(ok("list", store.list_tokens().await).await.is_empty());
}

async fn a_corrupt_token_row_is_an_error_not_a_panic(store: Store, db: &TestDb) {
    db.raw(
        "INSERT INTO api_tokens (name, role, agent_id, token_sha256, created_at) \
         VALUES ('crm', 'root', NULL, 'not-hex', 0)",
    )
    .await;
    match store.list_tokens().await {
        Err(StoreError::Corrupt { table, id, .. }) => {
            assert_eq!((table, id.as_str()), ("api_tokens", "crm"));
        }
        other => panic!("expected a corrupt row, got {other:?}"),
    }
}

async fn audit_entries_read_back_newest_first_from_since(store: Store, _db: &TestDb) {
    let entry = |at: i64, method: &str, path: &str, status: u16| AuditEntry {
        at: ts(at),
        token: "ops".to_owned(),
        role: Role::Admin,
        method: method.to_owned(),
        path: path.to_owned(),
        status,
    };
    for e in [
        entry(0, "PUT", "/v1/agents/1001", 201),
        entry(1_000, "PUT", "/v1/agents/1001/state", 200),
        entry(1_000, "DELETE", "/v1/tokens/old", 204),
        entry(2_000, "POST", "/v1/flows/reload", 422),
    ] {
        ok("write", store.write_audit(&e).await).await;
    }
    let all = ok("all", store.audit_entries(None, 10).await).await;
    let shown: Vec<_> = all
        .iter()
        .map(|e| (e.at, e.method.as_str(), e.path.as_str(), e.status))
        .collect();
    assert_eq!(
        shown,
        [
            (ts(2_000), "POST", "/v1/flows/reload", 422),
            (ts(1_000), "DELETE", "/v1/tokens/old", 204),
            (ts(1_000), "PUT", "/v1/agents/1001/state", 200),
            (ts(0), "PUT", "/v1/agents/1001", 201),
        ]
    );
    assert!(all
        .iter()
        .all(|e| e.token == "ops" && e.role == Role::Admin));
    assert!(all.windows(2).all(|w| w[0].id > w[1].id));
    let since = ok("since", store.audit_entries(Some(ts(1_000)), 10).await).await;
    assert_eq!(since.len(), 3);
    let limited = ok("limit", store.audit_entries(None, 1).await).await;
    assert_eq!(limited.len(), 1);
    assert_eq!(limited[0].path, "/v1/flows/reload");
}

async fn cti_events_read_back_in_order_after_a_seq_and_filtered(store: Store, _db: &TestDb) {
    use AgentStatus::*;
    assert!(ok("empty", store.last_event().await).await.is_none());
    let (support, sales) = (new_call(), new_call());
    let mut in_sales = entered(sales, &new_channel(), 0, 5);
    if let Record::CallEntered { queue, .. } = &mut in_sales {
        *queue = qid("sales");
    }
    ok(
        "write",
        store
            .write(&[
                entered(support, &new_channel(), 0, 0),
                Record::QueueEvent {
                    call: support,
                    queue: qid("support"),
                    agent: Some(aid("1001")),
                    kind: QueueEventKind::Offer,
                    detail: "leg=x".to_owned(),
                    at: ts(1),
                },
                Record::CallAnswered {
                    call: support,
                    agent: aid("1001"),
                    agent_channel: new_channel(),
                    wait_ms: 2,
                    at: ts(2),
                },
                in_sales,
                state("1002", Available, Paused, 6),
                ended(support, CallOutcome::Completed, "NORMAL_CLEARING", 7),
            ])
            .await,
    )
    .await;
    let read = |filter: EventFilter, after: i64, limit: u32| {
        let store = store.clone();
        async move { ok("events", store.events_after(after, &filter, limit).await).await }
    };
    let all = read(EventFilter::default(), 0, 100).await;
    let types: Vec<&str> = all.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "call.entered",
            "call.offered",
            "call.answered",
            "call.entered",
            "agent.state_changed",
            "call.ended"
        ]
    );
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    for event in &all {
        let body: serde_json::Value = serde_json::from_str(&event.payload).expect("JSON");
        assert_eq!(body["type"], event.event_type.as_str(), "the webhook body");
    }
    let last = ok("last", store.last_event().await)
        .await
        .expect("an event");
    assert_eq!((last.seq, last.at), (all[5].seq, ts(7)));

    let seqs = |events: &[switchboard::store::StoredEvent]| -> Vec<i64> {
        events.iter().map(|e| e.seq).collect()
    };
    let pick = |at: &[usize]| -> Vec<i64> { at.iter().map(|i| all[*i].seq).collect() };
    assert_eq!(
        seqs(&read(EventFilter::default(), all[2].seq, 100).await),
        pick(&[3, 4, 5])
    );
    assert_eq!(
        seqs(&read(EventFilter::default(), 0, 2).await),
        pick(&[0, 1])
    );
    let entered_only = EventFilter {
        types: vec!["call.entered".to_owned()],
        ..EventFilter::default()
    };
    assert_eq!(seqs(&read(entered_only, 0, 100).await), pick(&[0, 3]));
    let sales_calls = EventFilter {
        queues: vec![qid("sales")],
        ..EventFilter::default()
    };
    assert_eq!(seqs(&read(sales_calls.clone(), 0, 100).await), pick(&[3]));
    let sales_and_its_agents = EventFilter {
        members: vec![aid("1002")],
        ..sales_calls
    };
    assert_eq!(
        seqs(&read(sales_and_its_agents, 0, 100).await),
        pick(&[3, 4])
    );
    let agent = EventFilter {
        agent: Some(aid("1001")),
        ..EventFilter::default()
    };
    assert_eq!(seqs(&read(agent, 0, 100).await), pick(&[1, 2, 5]));
}
