//! Faults on purpose, on the database: PostgreSQL going away in the middle of a history batch,
//! seen through a TCP proxy of the test's own between the controller and the server (the
//! machine's server is shared with other tests and is never restarted).
//!
//! The proxy forwards bytes both ways. Armed, it waits for the next `COMMIT` a client sends,
//! lets the server have it, swallows the server's answer, then cuts every connection and
//! refuses new ones for a while: the writer's transaction is in, but the writer cannot know.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::faults::{bridged, caller, nothing_lost};
use crate::harness::{spawn_app, Agent};
use crate::store::TestDb;

pub(crate) struct Proxy {
    pub(crate) addr: SocketAddr,
    state: Arc<ProxyState>,
    task: tokio::task::JoinHandle<()>,
}

struct ProxyState {
    upstream: SocketAddr,
    /// Cut everything after the next COMMIT's answer.
    armed: AtomicBool,
    /// How long new connections are refused after the cut.
    outage: Mutex<Duration>,
    refuse_until: Mutex<Option<Instant>>,
    /// Bumped on every cut; connection pumps end when it changes.
    cuts: watch::Sender<u64>,
    /// Connections cut so far.
    cut_connections: Mutex<usize>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    pub(crate) async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let state = Arc::new(ProxyState {
            upstream,
            armed: AtomicBool::new(false),
            outage: Mutex::new(Duration::ZERO),
            refuse_until: Mutex::new(None),
            cuts: watch::channel(0).0,
            cut_connections: Mutex::new(0),
        });
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let refused = shared
                    .refuse_until
                    .lock()
                    .expect("lock")
                    .is_some_and(|until| Instant::now() < until);
                if refused {
                    drop(client);
                    continue;
                }
                tokio::spawn(pump(shared.clone(), client));
            }
        });
        Proxy { addr, state, task }
    }

    /// Cuts every connection right after the database answered the next COMMIT (the answer
    /// never reaches the client), and refuses connections for `outage` after that.
    fn cut_after_next_commit(&self, outage: Duration) {
        *self.state.outage.lock().expect("lock") = outage;
        self.state.armed.store(true, Ordering::SeqCst);
    }

    /// Cuts every connection now and refuses new ones for `outage` (the database "goes away").
    pub(crate) fn cut_now(&self, outage: Duration) {
        *self.state.outage.lock().expect("lock") = outage;
        self.state.cut();
    }

    fn cuts(&self) -> u64 {
        *self.state.cuts.borrow()
    }
}

impl ProxyState {
    fn cut(&self) {
        let outage = *self.outage.lock().expect("lock");
        *self.refuse_until.lock().expect("lock") = Some(Instant::now() + outage);
        self.cuts.send_modify(|n| *n += 1);
    }
}

async fn pump(state: Arc<ProxyState>, client: TcpStream) {
    let Ok(server) = TcpStream::connect(state.upstream).await else {
        return;
    };
    let mut cuts = state.cuts.subscribe();
    cuts.borrow_and_update();
    let (mut client_rd, mut client_wr) = client.into_split();
    let (mut server_rd, mut server_wr) = server.into_split();
    // Set when this connection's COMMIT went through: its answer is swallowed.
    let holding = Arc::new(AtomicBool::new(false));
    let up = {
        let (state, holding) = (state.clone(), holding.clone());
        async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match client_rd.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                let chunk = &buf[..n];
                if chunk.windows(6).any(|w| w == b"COMMIT")
                    && state.armed.swap(false, Ordering::SeqCst)
                {
                    holding.store(true, Ordering::SeqCst);
                }
                if server_wr.write_all(chunk).await.is_err() {
                    return;
                }
            }
        }
    };
    let down = {
        let (state, holding) = (state.clone(), holding.clone());
        async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match server_rd.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                if holding.load(Ordering::SeqCst) {
                    // The COMMIT's answer: the transaction is in; the client never learns it.
                    state.cut();
                    return;
                }
                if client_wr.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    };
    tokio::select! {
        _ = up => {}
        _ = down => {}
        _ = cuts.changed() => {}
    }
    *state.cut_connections.lock().expect("lock") += 1;
}

/// `url` with its host and port replaced by `addr`.
pub(crate) fn through(url: &str, addr: SocketAddr) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let user = authority.rsplit_once('@').map(|(u, _)| format!("{u}@"));
    format!("postgres://{}{addr}/{path}", user.unwrap_or_default())
}

pub(crate) fn upstream_of(url: &str) -> SocketAddr {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    };
    let host = host.replace("localhost", "127.0.0.1");
    host.parse()
        .expect("DATABASE_URL names host:port as an address")
}

#[tokio::test]
async fn postgresql_lost_at_commit_and_away_for_seconds_loses_no_history_and_doubles_none() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let proxy = Proxy::start(upstream_of(&db.url)).await;
    let agents = || {
        vec![
            Agent::answering("1001").hanging_up_after(Duration::from_millis(300)),
            Agent::answering("1002").hanging_up_after(Duration::from_millis(300)),
        ]
    };
    let mut app = spawn_app(agents(), Duration::ZERO).await;
    app.stop_controller().await;
    app.database_url = through(&db.url, proxy.addr);
    app.start_controller(&agents(), Duration::ZERO).await;
    app.connected().await;

    let mut callers = vec![app.sim.place_call(caller("+4930200001"))];
    let leg = bridged(&app, &callers[0]).await;
    assert!(!leg.is_empty());
    // The next history batch commits, its answer is lost, and the database stays away for
    // longer than the writer used to retry (about 6 s) before abandoning a batch.
    proxy.cut_after_next_commit(Duration::from_secs(8));
    callers.push(app.sim.place_call(caller("+4930200002")));
    let cut = tokio::time::timeout(Duration::from_secs(10), async {
        while proxy.cuts() == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(cut.is_ok(), "no history batch was committed");
    // The engine goes on routing while the database is away.
    let during: Vec<String> = (3..=5)
        .map(|i| app.sim.place_call(caller(&format!("+493020000{i}"))))
        .collect();
    for c in &during {
        bridged(&app, c).await;
    }
    assert!(
        proxy
            .state
            .refuse_until
            .lock()
            .expect("lock")
            .is_some_and(|u| Instant::now() < u),
        "the calls were routed while the database was still away"
    );
    callers.extend(during);
    nothing_lost(&app, &callers).await;
    assert!(
        app.running().metrics.store_errors.load(Ordering::Relaxed) >= 1,
        "the writer saw the outage"
    );
    no_row_twice(&app.database_url).await;
    app.stop_controller().await;
    // The invariant check at drop blocks this runtime, which serves the proxy: it reads the
    // database directly.
    app.database_url = db.url.clone();
    drop(app);
    drop(proxy);
    drop(db);
}

/// No queue event, agent state change or CTI event appears twice (same call or agent, kind,
/// time; an agent's changes within one millisecond differ in their states), and every agent
/// state change has its one CTI event: a batch written again after its COMMIT went unanswered
/// would double them.
async fn no_row_twice(url: &str) {
    use sqlx::Row;
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(url)
        .await
        .expect("connect");
    for (table, key) in [
        ("queue_events", "call_id, kind, detail, at"),
        (
            "agent_state_changes",
            "agent_id, from_status, to_status, at",
        ),
        (
            "cti_events WHERE type <> 'agent.state_changed'",
            "type, call_id, at",
        ),
    ] {
        let n: i64 = sqlx::query(&format!(
            "SELECT COUNT(*) AS n FROM (SELECT {key} FROM {table} GROUP BY {key} \
             HAVING COUNT(*) > 1) AS doubled"
        ))
        .fetch_one(&mut conn)
        .await
        .expect("count")
        .get("n");
        assert_eq!(n, 0, "rows of {table} written twice");
    }
    let changes: i64 = sqlx::query("SELECT COUNT(*) AS n FROM agent_state_changes")
        .fetch_one(&mut conn)
        .await
        .expect("count")
        .get("n");
    let events: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM cti_events WHERE type = 'agent.state_changed'")
            .fetch_one(&mut conn)
            .await
            .expect("count")
            .get("n");
    assert_eq!(changes, events, "one agent.state_changed event per change");
}
