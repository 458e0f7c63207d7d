//! An active/standby pair of `serve` processes on one PostgreSQL database (issue 16): election,
//! takeover after SIGKILL and after SIGSTOP (fencing), the standby's API, changes seen at once,
//! and one controller per SQLite file. Real processes, since the faults are signals; each
//! reaches the simulator through a proxy of its own, so the test sees what each one sends.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use switchboard::config::BearerToken;
use switchboard::sim::{CallSpec, EntryPoint, PhoneSpec, SimHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::harness::{start_sim, start_sim_with, ENTRY};
use crate::store::TestDb;

const LEASE: &str = "2s";
/// How long agent 1002's phone rings before it answers.
const RING_MS: u64 = 5_000;
/// The number whose callers run the `ivr` flow.
const IVR: &str = "7000";
/// A menu that waits long for a key: 2 hangs up.
const FLOW: &str = r#"start = "start"
entry_points = ["ivr"]

[node.start]
kind = "menu"
prompt = "silence_stream://300"
invalid_prompt = "silence_stream://100"
no_input_prompt = "silence_stream://100"
timeout = "30s"
retries = 2
on_invalid = "bye"
on_no_input = "bye"
[node.start.options]
2 = "bye"

[node.bye]
kind = "hangup"
"#;

/// A TCP proxy that counts the bytes its client sends, and can cut the line: from then on
/// nothing passes either way, but no connection is closed (a network partition, not a crash).
struct Proxy {
    addr: SocketAddr,
    sent: Arc<AtomicU64>,
    cut: Arc<AtomicBool>,
}

/// Copies `from` to `to` until either closes or the line is cut, counting into `counter`.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    counter: Option<Arc<AtomicU64>>,
    cut: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    while let Ok(n) = from.read(&mut buf).await {
        if n == 0 {
            break;
        }
        if cut.load(Ordering::SeqCst) {
            // Hold both ends open, forever silent.
            std::future::pending::<()>().await;
        }
        if let Some(counter) = &counter {
            counter.fetch_add(n as u64, Ordering::SeqCst);
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

async fn proxy_to(target: SocketAddr) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let addr = listener.local_addr().expect("proxy addr");
    let sent = Arc::new(AtomicU64::new(0));
    let cut = Arc::new(AtomicBool::new(false));
    let (counter, line) = (sent.clone(), cut.clone());
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            if line.load(Ordering::SeqCst) {
                // New connections hang too, as over a dead route.
                tokio::spawn(async move {
                    let _held = client;
                    std::future::pending::<()>().await;
                });
                continue;
            }
            let Ok(server) = TcpStream::connect(target).await else {
                continue;
            };
            let (client_rx, client_tx) = client.into_split();
            let (server_rx, server_tx) = server.into_split();
            tokio::spawn(pump(
                client_rx,
                server_tx,
                Some(counter.clone()),
                line.clone(),
            ));
            tokio::spawn(pump(server_rx, client_tx, None, line.clone()));
        }
    });
    Proxy { addr, sent, cut }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// One `serve` process of the pair.
struct Controller {
    child: tokio::process::Child,
    base: String,
    log: PathBuf,
    exited: Arc<AtomicBool>,
}

impl Controller {
    fn pid(&self) -> i32 {
        self.child
            .id()
            .and_then(|p| i32::try_from(p).ok())
            .expect("pid")
    }

    fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([signal, &self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill {signal}");
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

struct Pair {
    dir: tempfile::TempDir,
    db: TestDb,
    sim: SimHandle,
    admin: BearerToken,
    http: reqwest::Client,
}

impl Pair {
    async fn new() -> Option<Pair> {
        let db = TestDb::postgres().await?;
        let sim = start_sim_with(vec![EntryPoint {
            number: IVR.into(),
            variables: vec![("switchboard_flow".into(), "ivr".into())],
        }])
        .await;
        // 1002 rings long enough for a takeover to happen while it rings.
        for (user, after) in [("1001", 100), ("1002", RING_MS), ("1003", 100)] {
            sim.add_phone(PhoneSpec::answering(user, Duration::from_millis(after)));
            sim.register_phone(user);
        }
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("flows")).expect("flows dir");
        std::fs::write(dir.path().join("flows/ivr.toml"), FLOW).expect("write flow");
        let admin = BearerToken::generate();
        std::fs::write(
            dir.path().join("provisioning.toml"),
            format!(
                "[[queue]]\nid = \"support\"\nname = \"Support\"\n\n\
                 [[agent]]\nid = \"1001\"\nname = \"A\"\ndial_string = \"user/1001\"\nqueues = [\"support\"]\n\n\
                 [[agent]]\nid = \"1002\"\nname = \"B\"\ndial_string = \"user/1002\"\nqueues = [\"support\"]\n\n\
                 [[agent]]\nid = \"1003\"\nname = \"C\"\ndial_string = \"user/1003\"\nqueues = [\"support\"]\n\n\
                 [[token]]\nname = \"test-admin\"\nrole = \"admin\"\nsha256 = \"{}\"\n",
                admin.hash().to_hex()
            ),
        )
        .expect("write provisioning");
        Some(Pair {
            dir,
            db,
            sim,
            admin,
            http: reqwest::Client::new(),
        })
    }

    /// Starts `serve` named `name`, reaching the simulator through `proxy`.
    fn start(&self, name: &str, proxy: &Proxy) -> Controller {
        self.start_on(name, proxy, &self.db.url)
    }

    /// As `start`, with the database at `database_url`.
    fn start_on(&self, name: &str, proxy: &Proxy, database_url: &str) -> Controller {
        let port = free_port();
        let config = self.dir.path().join(format!("{name}.toml"));
        std::fs::write(
            &config,
            format!(
                "provisioning = \"provisioning.toml\"\nflows = \"flows\"\n\
                 [http]\nlisten = \"127.0.0.1:{port}\"\n\
                 [database]\nurl = \"{}\"\n\
                 [[switch]]\nname = \"fs1\"\nesl = \"{}\"\npassword = \"ClueCon\"\n\
                 [ha]\nname = \"{name}\"\nlease = \"{LEASE}\"\n",
                database_url, proxy.addr
            ),
        )
        .expect("write config");
        let log = self.dir.path().join(format!("{name}.log"));
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", "switchboard=info")
            .env_remove("DATABASE_URL")
            .env_remove("SWITCHBOARD_SWITCH_FS1_PASSWORD")
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .kill_on_drop(true)
            .spawn()
            .expect("serve starts");
        Controller {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
            exited: Arc::new(AtomicBool::new(false)),
        }
    }

    async fn health(&self, c: &Controller) -> Option<Value> {
        let reply = self
            .http
            .get(format!("{}/healthz", c.base))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .ok()?;
        reply.json().await.ok()
    }

    /// Waits until `c` has `role` and knows who leads.
    async fn wait_role(&self, c: &Controller, role: &str, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            if let Some(h) = self.health(c).await {
                if h["role"] == role && h["leader"]["name"].is_string() {
                    return h;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{} never became {role}; log:\n{}",
                c.base,
                c.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn get(&self, c: &Controller, path: &str, token: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", c.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    async fn log_in(&self, c: &Controller, agent: &str) {
        let reply = self
            .http
            .put(format!("{}/v1/agents/{agent}/state", c.base))
            .bearer_auth(self.admin.expose())
            .json(&serde_json::json!({ "state": "available" }))
            .send()
            .await
            .expect("log in");
        assert!(reply.status().is_success(), "{}", reply.status());
    }

    async fn wait_until(&self, what: &str, within: Duration, mut check: impl FnMut() -> bool) {
        let deadline = Instant::now() + within;
        while !check() {
            assert!(Instant::now() < deadline, "never: {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn wait_exit(c: &mut Controller, within: Duration) -> std::process::ExitStatus {
    let status = tokio::time::timeout(within, c.child.wait())
        .await
        .unwrap_or_else(|_| panic!("{} did not exit; log:\n{}", c.base, c.log()))
        .expect("wait");
    c.exited.store(true, Ordering::SeqCst);
    status
}

#[tokio::test]
async fn ha_a_second_controller_waits_as_standby_sees_the_leaders_changes_at_once_and_names_the_leader_for_writes(
) {
    let Some(pair) = Pair::new().await else {
        return;
    };
    let proxy_a = proxy_to(pair.sim.esl_addr()).await;
    let proxy_b = proxy_to(pair.sim.esl_addr()).await;
    let a = pair.start("a", &proxy_a);
    let health = pair.wait_role(&a, "leader", Duration::from_secs(30)).await;
    assert_eq!(health["leader"]["name"], "a", "{health}");
    let b = pair.start("b", &proxy_b);
    let health = pair.wait_role(&b, "standby", Duration::from_secs(30)).await;
    assert_eq!(health["leader"]["name"], "a", "{health}");
    assert_eq!(health["leader"]["url"], a.base.as_str(), "{health}");
    let admin = pair.admin.expose().to_owned();

    // A token made on the leader is accepted by the standby at once (LISTEN/NOTIFY).
    let made: Value = pair
        .http
        .post(format!("{}/v1/tokens", a.base))
        .bearer_auth(&admin)
        .json(&serde_json::json!({ "name": "wallboard", "role": "supervisor" }))
        .send()
        .await
        .expect("create token")
        .json()
        .await
        .expect("token json");
    let wallboard = made["token"].as_str().expect("token").to_owned();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let reply = pair.get(&b, "/v1/pause-reasons", &wallboard).await;
        if reply.status() == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the standby never accepted the leader's new token: {}",
            reply.status()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A pause reason made on the leader is in the standby's memory at once too.
    let reply = pair
        .http
        .put(format!("{}/v1/pause-reasons/coffee", a.base))
        .bearer_auth(&admin)
        .json(&serde_json::json!({ "name": "Coffee" }))
        .send()
        .await
        .expect("put pause reason");
    assert!(reply.status().is_success(), "{}", reply.status());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let reasons: Value = pair
            .get(&b, "/v1/pause-reasons", &admin)
            .await
            .json()
            .await
            .expect("pause reasons");
        if reasons["pause_reasons"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["code"] == "coffee"))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the standby never saw the new pause reason: {reasons}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Stored reads on the standby; writes and live state answered 503 naming the leader.
    let reply = pair.get(&b, "/v1/tokens", &admin).await;
    assert_eq!(reply.status(), 200);
    let reply = pair.get(&b, "/v1/calls", &admin).await;
    assert_eq!(reply.status(), 503);
    let reply = pair
        .http
        .put(format!("{}/v1/pause-reasons/lunch", b.base))
        .bearer_auth(&admin)
        .json(&serde_json::json!({ "name": "Lunch" }))
        .send()
        .await
        .expect("put on standby");
    assert_eq!(reply.status(), 503);
    assert_eq!(
        reply
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let problem: Value = reply.json().await.expect("problem");
    assert_eq!(problem["leader"]["url"], a.base.as_str(), "{problem}");
    assert_eq!(problem["status"], 503, "{problem}");
    // The standby has said nothing to the switch.
    assert_eq!(proxy_b.sent.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn ha_the_standby_takes_over_a_killed_leader_within_5s_and_every_call_survives_once() {
    let Some(pair) = Pair::new().await else {
        return;
    };
    let proxy_a = proxy_to(pair.sim.esl_addr()).await;
    let proxy_b = proxy_to(pair.sim.esl_addr()).await;
    let mut a = pair.start("a", &proxy_a);
    pair.wait_role(&a, "leader", Duration::from_secs(30)).await;
    let b = pair.start("b", &proxy_b);
    pair.wait_role(&b, "standby", Duration::from_secs(30)).await;
    let sim = &pair.sim;

    // Bridged: 1001 with the first caller.
    pair.log_in(&a, "1001").await;
    let bridged = sim.place_call(CallSpec::new("+15550001", ENTRY));
    pair.wait_until("the first caller bridged", Duration::from_secs(15), || {
        sim.channel(&bridged)
            .is_some_and(|v| v.bridged_to.is_some())
    })
    .await;
    // Ringing: 1002's phone rings for the second caller.
    pair.log_in(&a, "1002").await;
    let ringing = sim.place_call(CallSpec::new("+15550002", ENTRY));
    pair.wait_until("1002 rings", Duration::from_secs(15), || {
        sim.stats().originates == 2
    })
    .await;
    // Waiting: no agent is free for the third. In an IVR: the fourth, in a menu.
    let waiting = sim.place_call(CallSpec::new("+15550003", ENTRY));
    let ivr = sim.place_call(CallSpec::new("+15550004", IVR));
    pair.wait_until(
        "the waiting and IVR callers answered",
        Duration::from_secs(10),
        || {
            [&waiting, &ivr]
                .iter()
                .all(|c| sim.channel(c).is_some_and(|v| v.answered))
        },
    )
    .await;
    pair.wait_until(
        "the IVR caller hears the menu",
        Duration::from_secs(10),
        || !sim.played_on(&ivr).is_empty(),
    )
    .await;

    a.signal("-KILL");
    let killed = Instant::now();
    wait_exit(&mut a, Duration::from_secs(5)).await;
    let health = pair.wait_role(&b, "leader", Duration::from_secs(10)).await;
    let took = killed.elapsed();
    assert!(took < Duration::from_secs(5), "takeover took {took:?}");
    assert_eq!(health["leader"]["name"], "b", "{health}");
    assert_eq!(health["epoch"], 2, "{health}");
    let admin = pair.admin.expose().to_owned();

    // The new leader knows every queued call.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let calls: Value = pair
            .get(&b, "/v1/calls", &admin)
            .await
            .json()
            .await
            .expect("calls");
        let n = calls["active"].as_array().map_or(0, Vec::len);
        if n >= 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new leader does not know the queued calls: {calls}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The ringing leg is adopted, not originated again: 1002 answers and is bridged.
    pair.wait_until(
        "the ringing caller bridged to 1002",
        Duration::from_secs(15),
        || {
            sim.channel(&ringing)
                .is_some_and(|v| v.bridged_to.is_some())
        },
    )
    .await;
    assert_eq!(sim.stats().originates, 2, "an agent was originated twice");
    for caller in [&bridged, &ringing, &waiting, &ivr] {
        assert!(sim.channel(caller).is_some(), "a caller was dropped");
    }
    // The IVR caller's key reaches the new leader's flow, which hangs up as the flow says.
    assert!(sim.send_dtmf(&ivr, "2"));
    pair.wait_until(
        "the IVR caller hung up by its flow",
        Duration::from_secs(15),
        || sim.channel(&ivr).is_none(),
    )
    .await;

    // A newly logged-in agent takes the waiting caller, through the new leader.
    pair.log_in(&b, "1003").await;
    pair.wait_until(
        "the waiting caller bridged by the new leader",
        Duration::from_secs(15),
        || {
            sim.channel(&waiting)
                .is_some_and(|v| v.bridged_to.is_some())
        },
    )
    .await;
    assert_eq!(sim.stats().originates, 3);
    for caller in [&bridged, &ringing, &waiting] {
        sim.hangup(caller, "NORMAL_CLEARING");
    }

    // History: every queued call entered and ended once, under the call id it had.
    let store = pair.db.connect().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let calls = store.recent_calls(10).await.expect("calls");
        let queued = calls
            .iter()
            .filter(|c| c.caller_number != "+15550004")
            .count();
        if queued == 3 && calls.iter().all(|c| c.ended_at.is_some()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "history incomplete: {calls:?}\nlog b:\n{}",
            b.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(proxy_b.sent.load(Ordering::SeqCst) > 0);
}

#[tokio::test]
async fn ha_a_leader_paused_past_its_lease_is_replaced_and_sends_nothing_after_it_resumes() {
    let Some(pair) = Pair::new().await else {
        return;
    };
    let proxy_a = proxy_to(pair.sim.esl_addr()).await;
    let proxy_b = proxy_to(pair.sim.esl_addr()).await;
    let mut a = pair.start("a", &proxy_a);
    pair.wait_role(&a, "leader", Duration::from_secs(30)).await;
    let b = pair.start("b", &proxy_b);
    pair.wait_role(&b, "standby", Duration::from_secs(30)).await;
    let admin = pair.admin.expose().to_owned();
    let reply = pair
        .http
        .put(format!("{}/v1/agents/1001/state", a.base))
        .bearer_auth(&admin)
        .json(&serde_json::json!({ "state": "available" }))
        .send()
        .await
        .expect("log in");
    assert!(reply.status().is_success());
    // The log-in is in the history before the pause (what a leader had not committed when it
    // stopped is lost: its successor starts from the database and the switch).
    let store = pair.db.connect().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while store
        .last_agent_states()
        .await
        .expect("agent states")
        .is_empty()
    {
        assert!(Instant::now() < deadline, "the log-in was never written");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    a.signal("-STOP");
    let paused = Instant::now();
    // A caller arrives while the leader is paused: the events queue up on its connection.
    let caller = pair.sim.place_call(CallSpec::new("+15550009", ENTRY));
    pair.wait_role(&b, "leader", Duration::from_secs(15)).await;
    assert!(
        paused.elapsed() < Duration::from_secs(8),
        "takeover of a paused leader took {:?}",
        paused.elapsed()
    );
    let sim = &pair.sim;
    pair.wait_until(
        "the new leader bridges the caller",
        Duration::from_secs(15),
        || sim.channel(&caller).is_some_and(|v| v.bridged_to.is_some()),
    )
    .await;
    let originates = pair.sim.stats().originates;

    let sent_before_resume = proxy_a.sent.load(Ordering::SeqCst);
    a.signal("-CONT");
    let status = wait_exit(&mut a, Duration::from_secs(10)).await;
    assert!(!status.success(), "a deposed leader exits non-zero");
    let log = a.log();
    assert!(
        log.contains("lost leadership of epoch 1"),
        "the deposed leader does not say why it exits:\n{log}"
    );
    assert_eq!(
        proxy_a.sent.load(Ordering::SeqCst),
        sent_before_resume,
        "the deposed leader wrote to the switch after it resumed; log:\n{log}"
    );
    assert_eq!(pair.sim.stats().originates, originates);
    pair.sim.hangup(&caller, "NORMAL_CLEARING");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let calls = store.recent_calls(10).await.expect("calls");
        if calls.len() == 1 && calls[0].ended_at.is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "history: {calls:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn ha_a_leader_cut_off_from_the_database_stops_commanding_and_the_standby_takes_over() {
    let Some(pair) = Pair::new().await else {
        return;
    };
    let esl_a = proxy_to(pair.sim.esl_addr()).await;
    let esl_b = proxy_to(pair.sim.esl_addr()).await;
    let db: reqwest::Url = pair.db.url.parse().expect("database url");
    let db_target: SocketAddr = format!(
        "{}:{}",
        db.host_str().expect("host"),
        db.port().unwrap_or(5432)
    )
    .parse()
    .expect("database address");
    let db_proxy = proxy_to(db_target).await;
    let mut through_proxy = db.clone();
    through_proxy
        .set_port(Some(db_proxy.addr.port()))
        .expect("port");
    let mut a = pair.start_on("a", &esl_a, through_proxy.as_str());
    pair.wait_role(&a, "leader", Duration::from_secs(30)).await;
    let b = pair.start("b", &esl_b);
    pair.wait_role(&b, "standby", Duration::from_secs(30)).await;
    pair.log_in(&a, "1001").await;
    let sim = &pair.sim;
    let caller = sim.place_call(CallSpec::new("+15550007", ENTRY));
    pair.wait_until("the caller bridged", Duration::from_secs(15), || {
        sim.channel(&caller).is_some_and(|v| v.bridged_to.is_some())
    })
    .await;
    // The bridge is in the history before the cut.
    let store = pair.db.connect().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while store
        .recent_calls(1)
        .await
        .expect("calls")
        .first()
        .is_none_or(|c| c.answered_at.is_none())
    {
        assert!(Instant::now() < deadline, "the answer was never written");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    db_proxy.cut.store(true, Ordering::SeqCst);
    let cut = Instant::now();
    pair.wait_role(&b, "leader", Duration::from_secs(15)).await;
    let took = cut.elapsed();
    assert!(took < Duration::from_secs(5), "takeover took {took:?}");
    // From the takeover on, the cut-off leader writes nothing to the switch, and it exits.
    let sent_at_takeover = esl_a.sent.load(Ordering::SeqCst);
    let status = wait_exit(&mut a, Duration::from_secs(10)).await;
    assert!(!status.success());
    assert_eq!(esl_a.sent.load(Ordering::SeqCst), sent_at_takeover);
    assert!(
        a.log().contains("lost leadership of epoch 1"),
        "log a:\n{}",
        a.log()
    );
    // The caller hangs up during the takeover (before or after the new leader's resync): the
    // call ends once in the history either way.
    assert!(sim.channel(&caller).is_some_and(|v| v.bridged_to.is_some()));
    sim.hangup(&caller, "NORMAL_CLEARING");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let calls = store.recent_calls(10).await.expect("calls");
        if calls.len() == 1 && calls[0].ended_at.is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "history: {calls:?}\nlog b:\n{}",
            b.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(sim.stats().originates, 1);
}

#[tokio::test]
async fn a_second_serve_on_one_sqlite_file_is_refused_with_the_reason() {
    let sim = start_sim().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = crate::harness::serve_config(dir.path(), &sim, "ClueCon");
    let spawn = |log: &Path| {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", "switchboard=info")
            .env_remove("DATABASE_URL")
            .env_remove("SWITCHBOARD_SWITCH_FS1_PASSWORD")
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(log).expect("log"))
            .kill_on_drop(true)
            .spawn()
            .expect("serve starts")
    };
    let first_log = dir.path().join("first.log");
    let mut first = spawn(&first_log);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&first_log)
        .unwrap_or_default()
        .contains("switchboard is running")
    {
        assert!(Instant::now() < deadline, "the first serve never ran");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let second_log = dir.path().join("second.log");
    let mut second = spawn(&second_log);
    let status = tokio::time::timeout(Duration::from_secs(30), second.wait())
        .await
        .expect("the second serve exits")
        .expect("wait");
    assert_eq!(status.code(), Some(78));
    let log = std::fs::read_to_string(&second_log).unwrap_or_default();
    assert!(
        log.contains("another controller is using")
            && log.contains("db.sqlite")
            && log.contains("use PostgreSQL for a standby"),
        "{log}"
    );
    let _ = first.kill().await;
}

#[tokio::test]
async fn ha_a_deposed_leaders_history_batch_is_refused_and_its_lease_no_longer_renews() {
    use switchboard::engine::QueueRouting;
    use switchboard::engine::{CallId, ChannelId, QueueId, Record, SwitchName, Timestamp};
    use switchboard::store::{LeaderConnection, StoreError};

    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let store = db.connect().await;
    store
        .upsert_queue(&crate::harness::queue_row(
            "support",
            QueueRouting::default(),
        ))
        .await
        .expect("queue");
    let entered = |n: u128| Record::CallEntered {
        call: CallId::from_uuid(uuid::Uuid::from_u128(n)),
        switch: SwitchName::new("fs1").expect("switch"),
        channel: ChannelId::from_uuid(uuid::Uuid::from_u128(n)),
        queue: QueueId::new("support").expect("queue"),
        caller_number: "555".into(),
        caller_name: "Caller".into(),
        destination: "5000".into(),
        priority: 0,
        at: Timestamp::from_millis(1_000),
    };
    let lease = Duration::from_secs(2);
    let mut first = LeaderConnection::connect(&db.url).await.expect("connect");
    assert!(first.try_lock().await.expect("lock"));
    let mine = first.claim("a", "http://a", lease).await.expect("claim");
    store
        .fenced(mine)
        .write(&[entered(1)])
        .await
        .expect("the leader writes");

    // A second controller: the lock is held, so it cannot lead until the holder is gone.
    let mut second = LeaderConnection::connect(&db.url).await.expect("connect");
    assert!(!second.try_lock().await.expect("lock"));
    assert_eq!(second.evict_holder().await.expect("evict"), 1);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !second.try_lock().await.expect("lock") {
        assert!(
            Instant::now() < deadline,
            "the evicted holder kept the lock"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let next = second.claim("b", "http://b", lease).await.expect("claim");
    assert_eq!(next, mine + 1);

    match store.fenced(mine).write(&[entered(2)]).await {
        Err(StoreError::Deposed { mine: m, current }) => assert_eq!((m, current), (mine, next)),
        other => panic!("a deposed leader's batch was not refused: {other:?}"),
    }
    store
        .fenced(next)
        .write(&[entered(3)])
        .await
        .expect("the new leader writes");
    assert!(!second.renew(mine, lease).await.expect("renew"));
    assert!(second.renew(next, lease).await.expect("renew"));
    let calls = store.recent_calls(10).await.expect("calls");
    assert_eq!(calls.len(), 2, "{calls:?}");
}
