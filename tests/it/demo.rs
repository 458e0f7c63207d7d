//! `switchboard demo` as its users run it, for a few seconds: its callers go through the
//! embedded IVR flow and reach the simulated agents, and the history says so.

use std::time::{Duration, Instant};

use switchboard::app::demo::{self, DemoOptions};

#[tokio::test]
async fn the_demos_flow_callers_reach_agents_with_what_they_keyed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let report = demo::run_in(
        DemoOptions {
            // Callers 1 and 3 are in by 1 s and with an agent about 3 s later; the rest is
            // margin for a busy machine. Twelve agents leave some free for them.
            duration: Some(Duration::from_secs(6)),
            listen: "127.0.0.1:0".parse().expect("address"),
            agents: 12,
            rate: 4.0,
            switch: demo::DemoSwitch::Freeswitch,
        },
        dir.path(),
    )
    .await
    .expect("the demo runs and stops cleanly");
    assert!(started.elapsed() < Duration::from_secs(12), "{report:?}");
    assert!(report.ivr_callers >= 2, "{report:?}");
    assert!(report.ivr_to_agent >= 1, "{report:?}");
    assert!(
        report.answered > report.ivr_to_agent,
        "queue callers too: {report:?}"
    );

    // The demo's own database: the first IVR caller (caller 1) pressed 1, the second (caller 3)
    // typed an account number; both were answered by an agent, the second with its number kept.
    let pool = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        dir.path().join("switchboard.db").display()
    ))
    .await
    .expect("open the demo's database");
    let sessions: Vec<Session> = sqlx::query_as(
        "SELECT f.caller_name, f.outcome, f.variables, c.answered_at \
         FROM flow_sessions f LEFT JOIN calls c ON c.id = f.call_id WHERE f.flow_id = 'demo'",
    )
    .fetch_all(&pool)
    .await
    .expect("query");
    pool.close().await;
    let session = |name: &str| {
        sessions
            .iter()
            .find(|s| s.0 == name)
            .unwrap_or_else(|| panic!("{name} did not enter the flow: {sessions:?}"))
    };
    let (_, outcome, variables, answered) = session("Caller 1");
    assert_eq!(outcome.as_deref(), Some("enqueued"));
    assert_eq!(variables.as_deref(), Some("{}"));
    assert!(answered.is_some(), "{sessions:?}");
    let (_, outcome, variables, answered) = session("Caller 3");
    assert_eq!(outcome.as_deref(), Some("enqueued"));
    assert!(
        variables
            .as_deref()
            .is_some_and(|v| v.contains("\"account\"")),
        "{sessions:?}"
    );
    assert!(answered.is_some(), "{sessions:?}");

    // The support queue recorded its calls in stereo, after the notice; the callers hung up
    // as the demo ended, so each recording is over and its file is on the switch's disk,
    // where the controller's mount reads it.
    assert!(report.recordings >= 1, "{report:?}");
    let pool = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        dir.path().join("switchboard.db").display()
    ))
    .await
    .expect("open the demo's database");
    let recordings: Vec<Recording> = sqlx::query_as(
        "SELECT status, relative_path, stereo, notice_at, duration_ms FROM recordings",
    )
    .fetch_all(&pool)
    .await
    .expect("query");
    pool.close().await;
    assert_eq!(recordings.len() as u64, report.recordings, "{recordings:?}");
    let mount = dir.path().join("switch-disk/var/lib/freeswitch/recordings");
    for (status, relative, stereo, notice_at, duration) in &recordings {
        assert_eq!(status, "stopped", "{recordings:?}");
        assert_eq!(*stereo, 1);
        assert!(notice_at.is_some(), "the caller heard the notice first");
        let file = mount.join(relative.as_deref().expect("a file"));
        let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert_eq!(&bytes[..4], b"RIFF");
        assert_eq!(u16::from_le_bytes([bytes[22], bytes[23]]), 2, "stereo");
        let file_ms = (bytes.len() as i64 - 44) / 32;
        let duration = duration.expect("a duration");
        // The controller and the switch time it apart, by a socket's crossing (up to a second
        // when the machine is busy with other builds).
        assert!(
            (file_ms - duration).abs() <= 1_000,
            "{file_ms} vs {duration} ms"
        );
    }
}

/// One recording in the demo's database: status, relative path, stereo, notice, duration.
type Recording = (String, Option<String>, i64, Option<i64>, Option<i64>);

/// One flow session in the demo's database: the caller's name, the outcome, the variables (a
/// JSON object) and when an agent answered the call.
type Session = (String, Option<String>, Option<String>, Option<i64>);

#[tokio::test]
async fn the_demo_runs_on_a_simulated_asterisk_and_its_callers_reach_agents() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = demo::run_in(
        DemoOptions {
            duration: Some(Duration::from_secs(6)),
            listen: "127.0.0.1:0".parse().expect("address"),
            agents: 12,
            rate: 4.0,
            switch: demo::DemoSwitch::Asterisk,
        },
        dir.path(),
    )
    .await
    .expect("the demo runs on Asterisk and stops cleanly");
    assert!(report.ivr_callers >= 2, "{report:?}");
    assert!(report.ivr_to_agent >= 1, "{report:?}");
    assert!(
        report.answered > report.ivr_to_agent,
        "queue callers too: {report:?}"
    );
    assert!(report.recordings >= 1, "{report:?}");
    let pool = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        dir.path().join("switchboard.db").display()
    ))
    .await
    .expect("open the demo's database");
    let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM calls WHERE ended_at IS NULL")
        .fetch_one(&pool)
        .await
        .expect("query");
    let account: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM flow_sessions WHERE variables LIKE '%\"account\"%'",
    )
    .fetch_one(&pool)
    .await
    .expect("query");
    pool.close().await;
    assert_eq!(open, 0, "every call ended as the demo stopped");
    assert!(account >= 1, "an IVR caller's account number was kept");
}
