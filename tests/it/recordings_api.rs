//! Recordings over REST against the real controller: search by each filter and its cursor, the
//! agent's limits, the audio from a mount of the switch's recordings (whole, by range, and
//! every reason there is none), paths that would leave the mount, and evaluations. Recordings
//! are written through the store's history write path, as the engine's records are.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use switchboard::config::{BearerToken, Criterion, EvaluationForm, Role};
use switchboard::engine::recording::{Consent, RecordingAction};
use switchboard::engine::{AgentId, CallId, QueueId, Record, RecordingId, SwitchName};

use crate::harness::{client_with, provisioned_token, spawn_app, TestApp};
use crate::store_recordings::Rec;

/// A controller whose tokens, switch mount and evaluation forms are set, with a client per
/// role: a supervisor, agents 1001 and 1002, and an integration.
struct Setup {
    app: TestApp,
    sup: reqwest::Client,
    alice: reqwest::Client,
    bob: reqwest::Client,
    crm: reqwest::Client,
}

async fn setup(mount: Option<&Path>, forms: Vec<EvaluationForm>) -> Setup {
    let mut app = spawn_app(Vec::new(), Duration::ZERO).await;
    let (sup, alice, bob, crm) = (
        BearerToken::generate(),
        BearerToken::generate(),
        BearerToken::generate(),
        BearerToken::generate(),
    );
    app.tokens = vec![
        provisioned_token("sup", Role::Supervisor, None, &sup),
        provisioned_token("alice", Role::Agent, Some("1001"), &alice),
        provisioned_token("bob", Role::Agent, Some("1002"), &bob),
        provisioned_token("crm", Role::Integration, None, &crm),
    ];
    app.recordings_mount = mount.map(Path::to_path_buf);
    app.evaluation_forms = forms;
    app.stop_controller().await;
    app.start_controller(&[], Duration::ZERO).await;
    Setup {
        sup: client_with(sup.expose()),
        alice: client_with(alice.expose()),
        bob: client_with(bob.expose()),
        crm: client_with(crm.expose()),
        app,
    }
}

impl Setup {
    async fn write(&self, records: &[Record]) {
        self.app
            .running()
            .store
            .write(records)
            .await
            .expect("history write");
    }

    async fn get(&self, client: &reqwest::Client, path: &str) -> reqwest::Response {
        client
            .get(format!("{}{path}", self.app.base))
            .send()
            .await
            .expect("request")
    }

    async fn json(&self, client: &reqwest::Client, path: &str) -> (u16, Value) {
        let response = self.get(client, path).await;
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON"))
    }

    async fn post(&self, client: &reqwest::Client, path: &str, body: Value) -> (u16, Value) {
        let response = client
            .post(format!("{}{path}", self.app.base))
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON"))
    }

    /// The ids a search lists, in order.
    async fn found(&self, client: &reqwest::Client, query: &str) -> Vec<String> {
        let (status, body) = self.json(client, &format!("/v1/recordings?{query}")).await;
        assert_eq!(status, 200, "{query}: {body}");
        ids(&body)
    }
}

fn ids(body: &Value) -> Vec<String> {
    body["recordings"]
        .as_array()
        .expect("recordings")
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_owned())
        .collect()
}

fn id_of(rec: &Rec) -> String {
    rec.id.to_string()
}

/// 16-bit mono PCM at 8 kHz: a real WAV file, header and samples.
fn wav(samples: usize) -> Vec<u8> {
    let data_len = u32::try_from(samples * 2).expect("small");
    let mut out = Vec::with_capacity(44 + samples * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16_u32.to_le_bytes());
    out.extend_from_slice(&1_u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1_u16.to_le_bytes()); // mono
    out.extend_from_slice(&8_000_u32.to_le_bytes());
    out.extend_from_slice(&16_000_u32.to_le_bytes()); // bytes per second
    out.extend_from_slice(&2_u16.to_le_bytes()); // block align
    out.extend_from_slice(&16_u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for i in 0..samples {
        let sample = i16::try_from(i % 2_000).expect("small") - 1_000;
        out.extend_from_slice(&sample.to_le_bytes());
    }
    out
}

/// Puts `bytes` where the recording's file is under `mount`.
fn place(mount: &Path, rec: &Rec, bytes: &[u8]) {
    let file = mount.join(rec.relative_path());
    std::fs::create_dir_all(file.parent().expect("a folder")).expect("folders");
    std::fs::write(file, bytes).expect("write the recording");
}

/// The problem's `type`, after checking its status and media type.
async fn problem(response: reqwest::Response, status: u16) -> String {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.expect("JSON");
    body["type"].as_str().expect("a type").to_owned()
}

fn declined(agent: &str, caller: &str) -> (RecordingId, Record) {
    let id = RecordingId::from_uuid(uuid::Uuid::new_v4());
    let record = Record::RecordingDeclined {
        recording: id,
        call: CallId::from_uuid(uuid::Uuid::new_v4()),
        switch: SwitchName::new("sim").expect("switch"),
        queue: QueueId::new("support").expect("queue"),
        agent: Some(AgentId::new(agent).expect("agent")),
        caller_number: caller.into(),
        destination: "5000".into(),
        consent: Consent::default(),
        retain_until: None,
        at: switchboard::engine::Timestamp::from_millis(1_700_000_100_000),
    };
    (id, record)
}

fn quality_form() -> EvaluationForm {
    let criterion = |name: &str, max| Criterion {
        name: name.to_owned(),
        max,
        description: None,
    };
    EvaluationForm {
        name: "quality".into(),
        criteria: vec![criterion("greeting", 5), criterion("resolution", 10)],
    }
}

#[tokio::test]
async fn recordings_are_found_by_each_filter_and_time_range_newest_first() {
    let s = setup(None, Vec::new()).await;
    // T0 is 2023-11-14T22:13:20Z.
    let a = Rec::new("1001", "support", "+15550001", 0);
    let b = Rec::new("1002", "support", "+15550002", 60_000);
    let mut c = Rec::new("1001", "sales", "+15550003", 120_000);
    c.dialled = "+15550001";
    let d = Rec::new("1002", "sales", "+15550001", 180_000);
    s.write(&[
        a.started(),
        b.started(),
        c.started(),
        d.started(),
        a.stopped(5_000, 5_000),
        c.stopped(5_000, 5_000),
    ])
    .await;
    let (a, b, c, d) = (id_of(&a), id_of(&b), id_of(&c), id_of(&d));
    let app = &s.app.http;
    assert_eq!(
        s.found(app, "").await,
        [d.as_str(), c.as_str(), b.as_str(), a.as_str()]
    );
    assert_eq!(
        s.found(app, "since=2023-11-14T22:14:20Z&until=2023-11-14T22:16:20Z")
            .await,
        [c.as_str(), b.as_str()]
    );
    assert_eq!(
        s.found(app, "since=1700000060000&until=1700000180000")
            .await,
        [c.as_str(), b.as_str()]
    );
    assert_eq!(
        s.found(app, "since=2023-11-14T23:14:20%2B01:00").await,
        [d.as_str(), c.as_str(), b.as_str()]
    );
    assert_eq!(s.found(app, "agent=1001").await, [c.as_str(), a.as_str()]);
    assert_eq!(s.found(app, "queue=sales").await, [d.as_str(), c.as_str()]);
    assert_eq!(
        s.found(app, "number=%2B15550001").await,
        [d.as_str(), c.as_str(), a.as_str()]
    );
    let b_call = {
        let (_, body) = s.json(app, &format!("/v1/recordings/{b}")).await;
        body["call"].as_str().expect("call").to_owned()
    };
    assert_eq!(s.found(app, &format!("call={b_call}")).await, [b.as_str()]);
    assert_eq!(
        s.found(app, "status=stopped").await,
        [c.as_str(), a.as_str()]
    );
    assert_eq!(
        s.found(app, "status=recording&queue=sales").await,
        [d.as_str()]
    );
    assert!(s.found(app, "number=999").await.is_empty());

    for bad in [
        "since=yesterday",
        "until=2023-11-14",
        "since=1700000180000&until=1700000060000",
        "status=lost",
        "agent=no%20one",
        "queue=a/b",
        "call=42",
        "call=",
        "before=nonsense",
        "number=",
        "colour=red",
        "limit=many",
    ] {
        let response = s.get(app, &format!("/v1/recordings?{bad}")).await;
        assert_eq!(
            problem(response, 400).await,
            "/problems/bad-request",
            "{bad}"
        );
    }
}

#[tokio::test]
async fn pages_follow_the_next_cursor_to_the_last_one() {
    let s = setup(None, Vec::new()).await;
    let recs: Vec<Rec> = (0..5)
        .map(|i| Rec::new("1001", "support", "+15550001", i * 1_000))
        .collect();
    let records: Vec<Record> = recs.iter().map(Rec::started).collect();
    s.write(&records).await;
    let mut seen = Vec::new();
    let mut query = "limit=2".to_owned();
    let mut pages = 0;
    loop {
        let (status, body) = s
            .json(&s.app.http, &format!("/v1/recordings?{query}"))
            .await;
        assert_eq!(status, 200, "{body}");
        pages += 1;
        seen.extend(ids(&body));
        match body["next"].as_str() {
            Some(next) => query = format!("limit=2&before={next}"),
            None => break,
        }
        assert!(pages < 10, "the cursor does not advance");
    }
    assert_eq!(pages, 3);
    let newest_first: Vec<String> = recs.iter().rev().map(id_of).collect();
    assert_eq!(seen, newest_first);
}

#[tokio::test]
async fn an_agent_token_reaches_only_its_own_agents_recordings() {
    let mount = tempfile::tempdir().expect("mount");
    let s = setup(Some(mount.path()), Vec::new()).await;
    let mine = Rec::new("1001", "support", "+15550001", 0);
    let theirs = Rec::new("1002", "support", "+15550002", 1_000);
    s.write(&[
        mine.started(),
        theirs.started(),
        mine.stopped(2_000, 2_000),
        theirs.stopped(2_000, 2_000),
    ])
    .await;
    place(mount.path(), &mine, &wav(800));
    place(mount.path(), &theirs, &wav(800));

    assert_eq!(s.found(&s.alice, "").await, [id_of(&mine)]);
    assert_eq!(s.found(&s.alice, "agent=1001").await, [id_of(&mine)]);
    assert_eq!(s.found(&s.bob, "").await, [id_of(&theirs)]);
    assert_eq!(s.found(&s.sup, "").await.len(), 2);
    assert_eq!(s.found(&s.crm, "").await.len(), 2);
    let asked_for_another = s.get(&s.alice, "/v1/recordings?agent=1002").await;
    assert_eq!(problem(asked_for_another, 403).await, "/problems/forbidden");

    let mine_path = format!("/v1/recordings/{}", mine.id);
    let theirs_path = format!("/v1/recordings/{}", theirs.id);
    let unknown_path = format!("/v1/recordings/{}", uuid::Uuid::new_v4());
    for suffix in ["", "/audio", "/evaluations"] {
        let own = s.get(&s.alice, &format!("{mine_path}{suffix}")).await;
        assert_eq!(own.status(), 200, "own{suffix}");
        for other in [&theirs_path, &unknown_path] {
            let refused = s.get(&s.alice, &format!("{other}{suffix}")).await;
            assert_eq!(
                problem(refused, 403).await,
                "/problems/forbidden",
                "{other}{suffix}"
            );
        }
        let sup = s.get(&s.sup, &format!("{theirs_path}{suffix}")).await;
        assert_eq!(sup.status(), 200, "supervisor{suffix}");
    }
    // A supervisor gets the 404 an agent may not learn.
    let unknown = s.get(&s.sup, &unknown_path).await;
    assert_eq!(problem(unknown, 404).await, "/problems/not-found");

    let evaluation = json!({
        "form": "standard",
        "scores": {"greeting": 5, "understanding": 5, "resolution": 10, "courtesy": 5, "compliance": 5},
    });
    let path = format!("{mine_path}/evaluations");
    let (status, _) = s.post(&s.alice, &path, evaluation.clone()).await;
    assert_eq!(status, 403, "an agent does not score itself");
    let (status, _) = s.post(&s.crm, &path, evaluation.clone()).await;
    assert_eq!(status, 403, "an integration reads only");
    let (status, body) = s.post(&s.sup, &path, evaluation).await;
    assert_eq!(status, 201, "{body}");
    let (_, listed) = s.json(&s.alice, &path).await;
    assert_eq!(listed["evaluations"][0]["evaluator"], "sup");
}

#[tokio::test]
async fn a_recordings_metadata_has_rfc_3339_times_intervals_and_where_its_audio_is() {
    let mount = tempfile::tempdir().expect("mount");
    let s = setup(Some(mount.path()), Vec::new()).await;
    let rec = Rec::new("1001", "support", "+15550001", 0);
    s.write(&[
        rec.started(),
        rec.changed(RecordingAction::Pause, 10_000),
        rec.changed(RecordingAction::Resume, 15_000),
        rec.changed(RecordingAction::Mask, 20_000),
        rec.stopped(30_000, 25_000),
    ])
    .await;
    let (status, body) = s
        .json(&s.app.http, &format!("/v1/recordings/{}", rec.id))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], id_of(&rec));
    assert_eq!(body["status"], "stopped");
    assert_eq!(body["started_at"], "2023-11-14T22:13:20Z");
    assert_eq!(body["stopped_at"], "2023-11-14T22:13:50Z");
    assert_eq!(body["duration_ms"], 25_000);
    assert_eq!(body["agent"], "1001");
    assert_eq!(body["queue"], "support");
    assert_eq!(body["caller_number"], "+15550001");
    assert_eq!(body["reason"], "always");
    assert_eq!(body["started_by"], "policy");
    assert_eq!(body["stopped_by"], "switch");
    assert_eq!(body["stereo"], true);
    assert_eq!(body["relative_path"], rec.relative_path());
    assert_eq!(
        body["consent"],
        json!({"notice_at": "2023-11-14T22:13:15Z", "opted_out_at": null, "opted_out": false})
    );
    assert_eq!(body["legal_hold"], false);
    assert_eq!(body["changes"][0]["action"], "pause");
    assert_eq!(body["changes"][0]["actor"], "token:sup");
    assert_eq!(body["changes"][0]["at"], "2023-11-14T22:13:30Z");
    assert_eq!(
        body["paused"],
        json!([{"start_ms": 10_000, "end_ms": 15_000, "file_offset_ms": 10_000}])
    );
    assert_eq!(
        body["masked"],
        json!([{"start_ms": 20_000, "end_ms": 30_000, "file_offset_ms": 15_000}])
    );
    assert_eq!(body["audio"], format!("/v1/recordings/{}/audio", rec.id));
    assert_eq!(body["evaluations"], json!([]));

    let (status, body) = s.json(&s.app.http, "/v1/recordings/not-an-id").await;
    assert_eq!(
        (status, body["type"].as_str()),
        (400, Some("/problems/bad-request"))
    );
}

#[tokio::test]
async fn the_audio_streams_whole_and_by_byte_range_from_the_switchs_mount() {
    let mount = tempfile::tempdir().expect("mount");
    let s = setup(Some(mount.path()), Vec::new()).await;
    let rec = Rec::new("1001", "support", "+15550001", 0);
    s.write(&[rec.started(), rec.stopped(10_000, 10_000)]).await;
    // Ten seconds at 8 kHz: bigger than one chunk of the reply.
    let file = wav(80_000);
    place(mount.path(), &rec, &file);
    let path = format!("/v1/recordings/{}/audio", rec.id);
    let http = &s.app.http;

    let whole = s.get(http, &path).await;
    assert_eq!(whole.status(), 200);
    let headers = whole.headers().clone();
    assert_eq!(headers["content-type"], "audio/wav");
    assert_eq!(headers["content-length"], file.len().to_string());
    assert_eq!(headers["accept-ranges"], "bytes");
    let body = whole.bytes().await.expect("body");
    assert_eq!(body.as_ref(), file.as_slice());
    assert_eq!(&body[..4], b"RIFF");

    let ranged = |range: &'static str| {
        http.get(format!("{}{path}", s.app.base))
            .header("Range", range)
            .send()
    };
    let header = ranged("bytes=0-43").await.expect("request");
    assert_eq!(header.status(), 206);
    assert_eq!(
        header.headers()["content-range"],
        format!("bytes 0-43/{}", file.len())
    );
    assert_eq!(header.headers()["content-length"], "44");
    assert_eq!(header.bytes().await.expect("body").as_ref(), &file[..44]);

    let middle = ranged("bytes=100000-100009").await.expect("request");
    assert_eq!(middle.status(), 206);
    assert_eq!(
        middle.bytes().await.expect("body").as_ref(),
        &file[100_000..100_010]
    );
    let tail = ranged("bytes=-10").await.expect("request");
    assert_eq!(tail.status(), 206);
    assert_eq!(
        tail.bytes().await.expect("body").as_ref(),
        &file[file.len() - 10..]
    );
    let from = ranged("bytes=160000-").await.expect("request");
    assert_eq!(from.status(), 206);
    assert_eq!(from.bytes().await.expect("body").as_ref(), &file[160_000..]);

    let past = ranged("bytes=999999-").await.expect("request");
    assert_eq!(
        past.headers()["content-range"],
        format!("bytes */{}", file.len())
    );
    assert_eq!(problem(past, 416).await, "/problems/range-not-satisfiable");
    // Several ranges at once are answered whole.
    let several = ranged("bytes=0-1,5-6").await.expect("request");
    assert_eq!(several.status(), 200);
    assert_eq!(several.bytes().await.expect("body").len(), file.len());

    let head = http
        .head(format!("{}{path}", s.app.base))
        .send()
        .await
        .expect("request");
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], file.len().to_string());
}

#[tokio::test]
async fn without_audio_the_problem_says_why() {
    let mount = tempfile::tempdir().expect("mount");
    let with_mount = setup(Some(mount.path()), Vec::new()).await;
    let http = &with_mount.app.http;
    let missing = Rec::new("1001", "support", "+15550001", 0);
    let running = Rec::new("1001", "support", "+15550001", 1_000);
    let (refused, declined_record) = declined("1001", "+15550001");
    with_mount
        .write(&[
            missing.started(),
            missing.stopped(1_000, 1_000),
            running.started(),
            declined_record,
        ])
        .await;
    let audio = |id: String| format!("/v1/recordings/{id}/audio");
    let cases = [
        (id_of(&missing), 404, "/problems/recording-file-missing"),
        (id_of(&running), 409, "/problems/recording-in-progress"),
        (
            refused.to_string(),
            409,
            "/problems/recording-without-audio",
        ),
        (uuid::Uuid::new_v4().to_string(), 404, "/problems/not-found"),
    ];
    for (id, status, kind) in cases {
        let response = with_mount.get(http, &audio(id)).await;
        assert_eq!(problem(response, status).await, kind);
    }
    let (_, body) = with_mount
        .json(http, &format!("/v1/recordings/{}", running.id))
        .await;
    assert_eq!(body["audio"], Value::Null, "not served while recording");

    // The same file, but the controller has no mount of the switch's recordings.
    let metadata_only = setup(None, Vec::new()).await;
    let stopped = Rec::new("1001", "support", "+15550001", 0);
    metadata_only
        .write(&[stopped.started(), stopped.stopped(1_000, 1_000)])
        .await;
    place(mount.path(), &stopped, &wav(100));
    let response = metadata_only
        .get(&metadata_only.app.http, &audio(id_of(&stopped)))
        .await;
    assert_eq!(
        problem(response, 409).await,
        "/problems/recording-metadata-only"
    );
    let (_, body) = metadata_only
        .json(
            &metadata_only.app.http,
            &format!("/v1/recordings/{}", stopped.id),
        )
        .await;
    assert_eq!(body["audio"], Value::Null);
}

#[tokio::test]
async fn a_stored_path_that_would_leave_the_mount_is_refused() {
    let outside = tempfile::tempdir().expect("outside");
    let secret = b"not a recording: somebody's private file";
    std::fs::write(outside.path().join("secret.wav"), secret).expect("secret");
    let root = tempfile::tempdir().expect("root");
    let mount = root.path().join("mount");
    std::fs::create_dir(&mount).expect("mount");
    std::fs::write(root.path().join("beside.wav"), secret).expect("beside");
    let s = setup(Some(&mount), Vec::new()).await;

    let escape = |relative: String| {
        let rec = Rec::new("1001", "support", "+15550001", 0);
        let mut started = rec.started();
        if let Record::RecordingStarted { relative_path, .. } = &mut started {
            *relative_path = relative;
        }
        (rec, started)
    };
    let absolute = outside.path().join("secret.wav").display().to_string();
    let (up, up_record) = escape("../beside.wav".into());
    let (abs, abs_record) = escape(absolute);
    let (odd, odd_record) = escape("a b/secret.wav".into());
    // A link inside the mount that points out of it.
    let linked = Rec::new("1001", "support", "+15550001", 0);
    let link = mount.join(linked.relative_path());
    std::fs::create_dir_all(link.parent().expect("folder")).expect("folders");
    std::os::unix::fs::symlink(outside.path().join("secret.wav"), &link).expect("symlink");
    s.write(&[
        up_record,
        up.stopped(1_000, 1_000),
        abs_record,
        abs.stopped(1_000, 1_000),
        odd_record,
        odd.stopped(1_000, 1_000),
        linked.started(),
        linked.stopped(1_000, 1_000),
    ])
    .await;
    for rec in [&up, &abs, &odd, &linked] {
        let response = s
            .get(&s.app.http, &format!("/v1/recordings/{}/audio", rec.id))
            .await;
        assert_eq!(
            problem(response, 409).await,
            "/problems/recording-path-refused",
            "{}",
            rec.id
        );
    }
}

#[tokio::test]
async fn evaluations_are_checked_against_their_form_and_totalled() {
    let s = setup(None, vec![quality_form()]).await;
    let rec = Rec::new("1001", "support", "+15550001", 0);
    let (refused, declined_record) = declined("1001", "+15550001");
    s.write(&[rec.started(), rec.stopped(1_000, 1_000), declined_record])
        .await;
    let (status, forms) = s.json(&s.alice, "/v1/evaluation-forms").await;
    assert_eq!(status, 200);
    assert_eq!(
        forms,
        json!({"forms": [{"name": "quality", "criteria": [
            {"name": "greeting", "max": 5},
            {"name": "resolution", "max": 10},
        ]}]})
    );

    let path = format!("/v1/recordings/{}/evaluations", rec.id);
    let refusals = [
        (
            json!({"form": "standard", "scores": {"greeting": 1}}),
            "form",
        ),
        (
            json!({"form": "quality", "scores": {"greeting": 4}}),
            "scores.resolution",
        ),
        (
            json!({"form": "quality", "scores": {"greeting": 4, "resolution": 7, "tone": 1}}),
            "scores.tone",
        ),
        (
            json!({"form": "quality", "scores": {"greeting": 6, "resolution": 7}}),
            "scores.greeting",
        ),
        (
            json!({"form": "quality", "scores": {"greeting": -1, "resolution": 7}}),
            "scores.greeting",
        ),
        (
            json!({"form": "quality", "scores": {"greeting": 1, "resolution": 7}, "notes": "x".repeat(4_001)}),
            "notes",
        ),
    ];
    for (body, field) in refusals {
        let (status, problem) = s.post(&s.sup, &path, body.clone()).await;
        assert_eq!(status, 422, "{body}: {problem}");
        assert_eq!(problem["type"], "/problems/invalid-field");
        assert_eq!(problem["field"], field, "{body}");
    }
    for malformed in [
        json!({"form": "quality"}),
        json!({"form": "quality", "scores": {"greeting": 2.5, "resolution": 7}}),
        json!({"form": "quality", "scores": {}, "stars": 5}),
    ] {
        let (status, _) = s.post(&s.sup, &path, malformed.clone()).await;
        assert_eq!(status, 400, "{malformed}");
    }

    let (status, kept) = s
        .post(
            &s.sup,
            &path,
            json!({"form": "quality", "scores": {"resolution": 7, "greeting": 4}, "notes": "Confirm the address."}),
        )
        .await;
    assert_eq!(status, 201, "{kept}");
    assert_eq!(
        (kept["total"].as_i64(), kept["max_total"].as_i64()),
        (Some(11), Some(15))
    );
    assert_eq!(kept["evaluator"], "sup");
    assert_eq!(kept["form"], "quality");
    assert_eq!(
        kept["scores"],
        json!([
            {"criterion": "greeting", "score": 4, "max": 5},
            {"criterion": "resolution", "score": 7, "max": 10},
        ])
    );
    assert!(kept["at"].as_str().is_some_and(|t| t.ends_with('Z')));
    let (status, again) = s
        .post(
            &s.app.http,
            &path,
            json!({"form": "quality", "scores": {"resolution": 10, "greeting": 5}}),
        )
        .await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(again["evaluator"], "test-admin");
    assert_eq!(again["notes"], "");

    let (status, listed) = s.json(&s.crm, &path).await;
    assert_eq!(status, 200);
    assert_eq!(listed["recording"], id_of(&rec));
    assert_eq!(listed["evaluations"].as_array().map(Vec::len), Some(2));
    assert_eq!(listed["evaluations"][0], kept);
    let (_, detail) = s.json(&s.crm, &format!("/v1/recordings/{}", rec.id)).await;
    let summary: Vec<(i64, i64)> = detail["evaluations"]
        .as_array()
        .expect("summaries")
        .iter()
        .map(|e| {
            (
                e["total"].as_i64().unwrap_or(-1),
                e["max_total"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(summary, [(11, 15), (15, 15)]);
    assert!(detail["evaluations"][0].get("notes").is_none());

    let good = json!({"form": "quality", "scores": {"resolution": 7, "greeting": 4}});
    let (status, body) = s
        .post(
            &s.sup,
            &format!("/v1/recordings/{refused}/evaluations"),
            good.clone(),
        )
        .await;
    assert_eq!(
        (status, body["type"].as_str()),
        (409, Some("/problems/conflict"))
    );
    let (status, _) = s
        .post(
            &s.sup,
            &format!("/v1/recordings/{}/evaluations", uuid::Uuid::new_v4()),
            good,
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn without_forms_in_the_file_the_standard_form_is_offered() {
    let s = setup(None, Vec::new()).await;
    let (status, body) = s.json(&s.bob, "/v1/evaluation-forms").await;
    assert_eq!(status, 200);
    let forms = body["forms"].as_array().expect("forms");
    assert_eq!(forms.len(), 1);
    assert_eq!(forms[0]["name"], "standard");
    let criteria: Vec<&str> = forms[0]["criteria"]
        .as_array()
        .expect("criteria")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(
        criteria,
        [
            "greeting",
            "understanding",
            "resolution",
            "courtesy",
            "compliance"
        ]
    );
}

/// The members of `reply` that the document's schema `name` does not list, and the required
/// members it lacks.
fn differences(document: &Value, name: &str, reply: &Value) -> (Vec<String>, Vec<String>) {
    let schema = &document["components"]["schemas"][name];
    let properties = schema["properties"].as_object().expect("properties");
    let members = reply.as_object().expect("an object");
    let unknown = members
        .keys()
        .filter(|k| !properties.contains_key(*k))
        .cloned()
        .collect();
    let missing = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|r| !members.contains_key(*r))
        .map(str::to_owned)
        .collect();
    (unknown, missing)
}

#[tokio::test]
async fn recording_replies_have_the_members_their_schemas_name() {
    let s = setup(None, Vec::new()).await;
    let rec = Rec::new("1001", "support", "+15550001", 0);
    s.write(&[rec.started(), rec.changed(RecordingAction::Mask, 1_000)])
        .await;
    let (_, document) = s.json(&s.app.http, "/v1/openapi.json").await;
    let schema_of = |path: &str, method: &str, status: &str| {
        document["paths"][path][method]["responses"][status]["content"]["application/json"]
            ["schema"]["$ref"]
            .as_str()
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
            .expect("a named schema")
            .to_owned()
    };
    let none = (Vec::new(), Vec::new());
    let (_, list) = s.json(&s.app.http, "/v1/recordings").await;
    assert_eq!(
        differences(&document, &schema_of("/v1/recordings", "get", "200"), &list),
        none
    );
    assert_eq!(
        differences(&document, "RecordingRow", &list["recordings"][0]),
        none
    );
    let (_, one) = s
        .json(&s.app.http, &format!("/v1/recordings/{}", rec.id))
        .await;
    assert_eq!(
        differences(
            &document,
            &schema_of("/v1/recordings/{id}", "get", "200"),
            &one
        ),
        none
    );
    let path = format!("/v1/recordings/{}/evaluations", rec.id);
    let scores =
        json!({"greeting": 1, "understanding": 2, "resolution": 3, "courtesy": 4, "compliance": 5});
    let (status, kept) = s
        .post(&s.sup, &path, json!({"form": "standard", "scores": scores}))
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        differences(
            &document,
            &schema_of("/v1/recordings/{id}/evaluations", "post", "201"),
            &kept
        ),
        none
    );
    let (_, listed) = s.json(&s.app.http, &path).await;
    assert_eq!(
        differences(
            &document,
            &schema_of("/v1/recordings/{id}/evaluations", "get", "200"),
            &listed
        ),
        none
    );
    let (_, forms) = s.json(&s.app.http, "/v1/evaluation-forms").await;
    assert_eq!(
        differences(
            &document,
            &schema_of("/v1/evaluation-forms", "get", "200"),
            &forms
        ),
        none
    );
}
