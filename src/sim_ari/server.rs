//! The sockets: one TCP listener for HTTP and the `/ari/events` WebSocket upgrade, one task
//! per connection (keep-alive HTTP with Asterisk's 15 s idle close, or a WebSocket), and the
//! timers the core asks for. Restart and dropped sockets are done here.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::core::{Core, Timer, WsOut};
use super::routes;
use super::wire::{self, Request};

/// Asterisk's `session_keep_alive`: an idle keep-alive connection is closed after this.
const KEEP_ALIVE: Duration = Duration::from_millis(15_000);
/// A request (head and body) larger than this ends the connection.
const MAX_REQUEST: usize = 4 * 1024 * 1024;
/// How long events wait when they are to follow the response that caused them.
const EVENTS_AFTER_RESPONSE: Duration = Duration::from_millis(5);
/// How long the port refuses connections during `restart`.
const RESTART_GAP: Duration = Duration::from_millis(300);

pub(crate) struct Shared {
    pub core: Mutex<Core>,
    pub addr: SocketAddr,
    /// Bumped by a restart: timers from before it do nothing.
    pub epoch: AtomicU64,
    accept: Mutex<Option<JoinHandle<()>>>,
    /// Every open connection: `true` for WebSockets.
    conns: Mutex<BTreeMap<u64, (bool, mpsc::UnboundedSender<WsOut>)>>,
    /// The connections `freeze_connections` froze.
    frozen: Mutex<Vec<mpsc::UnboundedSender<WsOut>>>,
    next_conn: AtomicU64,
}

impl Shared {
    pub fn new(core: Core, addr: SocketAddr) -> Arc<Self> {
        Arc::new(Shared {
            core: Mutex::new(core),
            addr,
            epoch: AtomicU64::new(0),
            accept: Mutex::new(None),
            conns: Mutex::new(BTreeMap::new()),
            frozen: Mutex::new(Vec::new()),
            next_conn: AtomicU64::new(1),
        })
    }
}

/// Runs `f` on the core, then starts the timers it queued.
pub(crate) fn with_core<R>(shared: &Arc<Shared>, f: impl FnOnce(&mut Core) -> R) -> R {
    let (result, timers) = {
        let mut core = match shared.core.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        let result = f(&mut core);
        (result, std::mem::take(&mut core.timers))
    };
    let epoch = shared.epoch.load(Ordering::SeqCst);
    for (after, timer) in timers {
        spawn_timer(shared, epoch, after, timer);
    }
    result
}

fn spawn_timer(shared: &Arc<Shared>, epoch: u64, after: Duration, timer: Timer) {
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        tokio::time::sleep(after).await;
        if shared.epoch.load(Ordering::SeqCst) == epoch {
            with_core(&shared, |core| core.fire(timer));
        }
    });
}

pub(crate) fn start_accepting(shared: &Arc<Shared>, listener: TcpListener) {
    let task = tokio::spawn(accept_loop(Arc::clone(shared), listener));
    if let Ok(mut slot) = shared.accept.lock() {
        if let Some(old) = slot.replace(task) {
            old.abort();
        }
    }
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let shared = Arc::clone(&shared);
                tokio::spawn(async move { serve(shared, stream).await });
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

fn register_conn(
    shared: &Arc<Shared>,
    ws: bool,
) -> (
    u64,
    mpsc::UnboundedReceiver<WsOut>,
    mpsc::UnboundedSender<WsOut>,
) {
    let id = shared.next_conn.fetch_add(1, Ordering::SeqCst);
    let (tx, rx) = mpsc::unbounded_channel();
    if let Ok(mut conns) = shared.conns.lock() {
        conns.insert(id, (ws, tx.clone()));
    }
    (id, rx, tx)
}

fn forget_conn(shared: &Arc<Shared>, id: u64) {
    if let Ok(mut conns) = shared.conns.lock() {
        conns.remove(&id);
    }
}

fn mark_websocket(shared: &Arc<Shared>, id: u64) {
    if let Ok(mut conns) = shared.conns.lock() {
        if let Some(slot) = conns.get_mut(&id) {
            slot.0 = true;
        }
    }
}

/// Ends connections without a close frame: WebSockets only, or all.
pub(crate) fn drop_connections(shared: &Arc<Shared>, websockets_only: bool) {
    for tx in connections(shared, websockets_only) {
        let _ = tx.send(WsOut::Fin);
    }
}

/// Every open connection (HTTP and WebSocket) falls silent both ways without being closed;
/// connections made afterwards are served as usual. `drop_connections` closes them.
pub(crate) fn freeze_connections(shared: &Arc<Shared>) {
    let conns = connections(shared, false);
    for tx in &conns {
        let _ = tx.send(WsOut::Freeze);
    }
    if let Ok(mut frozen) = shared.frozen.lock() {
        frozen.extend(conns);
    }
}

/// Closes the connections `freeze_connections` froze, abruptly; the others are left alone.
pub(crate) fn release_frozen(shared: &Arc<Shared>) {
    let frozen = match shared.frozen.lock() {
        Ok(mut f) => std::mem::take(&mut *f),
        Err(_) => Vec::new(),
    };
    for tx in frozen {
        let _ = tx.send(WsOut::Fin);
    }
}

fn connections(shared: &Arc<Shared>, websockets_only: bool) -> Vec<mpsc::UnboundedSender<WsOut>> {
    match shared.conns.lock() {
        Ok(c) => c
            .values()
            .filter(|(ws, _)| *ws || !websockets_only)
            .map(|(_, tx)| tx.clone())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// A frozen connection: nothing more in or out until it is closed (or its task is gone).
async fn stay_silent(rx: &mut mpsc::UnboundedReceiver<WsOut>) {
    while let Some(out) = rx.recv().await {
        if matches!(out, WsOut::Fin) {
            return;
        }
    }
}

/// `core restart now`: hang everything up, drop every socket, refuse connections for a
/// moment, then answer the first request with 503 and start afresh.
pub(crate) async fn restart(shared: &Arc<Shared>) -> std::io::Result<()> {
    with_core(shared, |core| core.shutdown());
    shared.epoch.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(20)).await;
    drop_connections(shared, false);
    if let Ok(mut slot) = shared.accept.lock() {
        if let Some(task) = slot.take() {
            task.abort();
        }
    }
    tokio::time::sleep(RESTART_GAP).await;
    let listener = TcpListener::bind(shared.addr).await?;
    with_core(shared, |core| core.reboot());
    start_accepting(shared, listener);
    Ok(())
}

async fn serve(shared: Arc<Shared>, mut stream: TcpStream) {
    let (conn, mut rx, tx) = register_conn(&shared, false);
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        // One request (head and body).
        let request = loop {
            if let Some(end) = wire::head_end(&buf) {
                match wire::parse_head(&buf[..end]) {
                    Ok((mut req, len)) => {
                        if buf.len() >= end + len {
                            req.body = buf[end..end + len].to_vec();
                            buf.drain(..end + len);
                            break Some(req);
                        }
                    }
                    Err(_) => break None,
                }
            }
            if buf.len() > MAX_REQUEST {
                break None;
            }
            tokio::select! {
                read = tokio::time::timeout(KEEP_ALIVE, stream.read(&mut chunk)) => match read {
                    Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                    _ => break None,
                },
                out = rx.recv() => match out {
                    Some(WsOut::Fin) | None => break None,
                    Some(WsOut::Freeze) => {
                        stay_silent(&mut rx).await;
                        break None;
                    }
                    Some(WsOut::Text(_)) | Some(WsOut::Later(_)) => {}
                },
            }
        };
        let Some(req) = request else {
            break;
        };
        let is_upgrade = req.path == "/ari/events"
            && req
                .header("Upgrade")
                .is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
        if is_upgrade {
            match upgrade(&shared, &req) {
                Upgrade::Refused(bytes) => {
                    if stream.write_all(&bytes).await.is_err() {
                        break;
                    }
                    continue;
                }
                Upgrade::Accepted {
                    bytes,
                    apps,
                    subscribe_all,
                } => {
                    if stream.write_all(&bytes).await.is_err() {
                        break;
                    }
                    mark_websocket(&shared, conn);
                    with_core(&shared, |core| {
                        core.register_apps(conn, &apps, subscribe_all, tx.clone())
                    });
                    websocket(&shared, conn, stream, buf, rx, tx, apps).await;
                    forget_conn(&shared, conn);
                    return;
                }
            }
        }
        let (response, close) = with_core(&shared, |core| {
            if core.booting {
                core.booting = false;
                let mut r =
                    wire::Response::message(503, "Service Unavailable", "Asterisk not booted");
                r.close = true;
                return (r, true);
            }
            if !routes::authorized(core, &req) {
                return (routes::unauthorized(), false);
            }
            (routes::handle(core, &req), false)
        });
        let bytes = response.to_bytes(&wire::http_date());
        if stream.write_all(&bytes).await.is_err() || close {
            break;
        }
    }
    let _ = stream.shutdown().await;
    forget_conn(&shared, conn);
}

enum Upgrade {
    Refused(Vec<u8>),
    Accepted {
        bytes: Vec<u8>,
        apps: Vec<String>,
        subscribe_all: bool,
    },
}

fn upgrade(shared: &Arc<Shared>, req: &Request) -> Upgrade {
    let date = wire::http_date();
    with_core(shared, |core| {
        core.stats.requests += 1;
        if !routes::authorized(core, req) {
            return Upgrade::Refused(routes::unauthorized().to_bytes(&date));
        }
        let apps: Vec<String> = req
            .param("app")
            .unwrap_or("")
            .split(',')
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect();
        let key = req.header("Sec-WebSocket-Key").unwrap_or("");
        if apps.is_empty() || key.is_empty() {
            return Upgrade::Refused(wire::missing_app_responses(&date));
        }
        let subscribe_all = req.param("subscribeAll") == Some("true");
        Upgrade::Accepted {
            bytes: wire::switching_protocols(key),
            apps,
            subscribe_all,
        }
    })
}

async fn websocket(
    shared: &Arc<Shared>,
    conn: u64,
    mut stream: TcpStream,
    mut buf: Vec<u8>,
    mut rx: mpsc::UnboundedReceiver<WsOut>,
    tx: mpsc::UnboundedSender<WsOut>,
    apps: Vec<String>,
) {
    let mut chunk = vec![0u8; 16 * 1024];
    let app = apps.first().cloned().unwrap_or_default();
    'outer: loop {
        while let Some((frame, used)) = wire::decode_frame(&buf) {
            buf.drain(..used);
            match frame.opcode {
                0x8 => {
                    with_core(shared, |core| core.unregister_conn(conn));
                    let _ = stream.write_all(&wire::frame(0x8, &[0x03, 0xe8])).await;
                    break 'outer;
                }
                0x9 => {
                    let _ = stream.write_all(&wire::frame(0xA, &frame.payload)).await;
                }
                0x1 => {
                    let text = String::from_utf8_lossy(&frame.payload).into_owned();
                    let reply = with_core(shared, |core| {
                        routes::rest_over_websocket(core, &text, &app)
                    });
                    let _ = tx.send(WsOut::Text(reply));
                }
                _ => {}
            }
        }
        if buf.len() > MAX_REQUEST {
            break;
        }
        tokio::select! {
            read = stream.read(&mut chunk) => match read {
                Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                _ => break,
            },
            out = rx.recv() => match out {
                Some(WsOut::Text(text)) => {
                    if stream.write_all(&wire::frame(0x1, text.as_bytes())).await.is_err() {
                        break;
                    }
                }
                Some(WsOut::Later(text)) => {
                    tokio::time::sleep(EVENTS_AFTER_RESPONSE).await;
                    if stream.write_all(&wire::frame(0x1, text.as_bytes())).await.is_err() {
                        break;
                    }
                }
                Some(WsOut::Freeze) => {
                    stay_silent(&mut rx).await;
                    break;
                }
                Some(WsOut::Fin) | None => break,
            },
        }
    }
    with_core(shared, |core| core.unregister_conn(conn));
    let _ = stream.shutdown().await;
}
