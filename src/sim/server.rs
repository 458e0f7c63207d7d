//! The ESL server side: the accept loop, one task per connection (auth handshake,
//! command reading, reply delay, writing replies and events in order, the goodbye notice
//! also when the client only half-closes), and the heartbeat ticker.
//!
//! Connection tasks never touch channels directly; they hand commands to the core.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Sleep;

use super::switch::{Core, Flow, Out, Shared};
use super::wire::{self, Command, CommandReader};

/// Starts the accept loop and the heartbeat ticker for a (re)started switch.
pub(crate) fn spawn_runtime(shared: &Arc<Shared>, listener: TcpListener) {
    let accept = tokio::spawn(accept_loop(Arc::clone(shared), listener));
    let hb_shared = Arc::clone(shared);
    let period = shared.heartbeat_interval.max(Duration::from_millis(1));
    let heartbeat = tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            tick.tick().await;
            hb_shared.run(|core| core.heartbeat());
        }
    });
    let mut rt = shared.lock_runtime();
    rt.accept = Some(accept);
    rt.heartbeat = Some(heartbeat);
}

/// Stops accepting (the port refuses connections) and stops the heartbeat.
pub(crate) fn stop_runtime(shared: &Shared) {
    let mut rt = shared.lock_runtime();
    if let Some(h) = rt.accept.take() {
        h.abort();
    }
    if let Some(h) = rt.heartbeat.take() {
        h.abort();
    }
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(serve(Arc::clone(&shared), stream));
            }
            Err(e) => {
                tracing::warn!(error = %e, "sim: accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

fn is_api(cmd: &Command) -> bool {
    cmd.line.starts_with("api ") || cmd.line.starts_with("bgapi ")
}

async fn serve(shared: Arc<Shared>, mut stream: TcpStream) {
    // Latency matters more than packet count on loopback.
    let _ = stream.set_nodelay(true);
    // `apply-inbound-acl` is checked before anything else, as in mod_event_socket.
    let peer = stream.peer_addr().map(|a| a.ip());
    if peer.is_ok_and(|ip| shared.run(|core| core.esl_refuses(ip))) {
        let _ = stream.write_all(&Core::esl_rejection()).await;
        let _ = stream.shutdown().await;
        return;
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    let id = shared.run(|core| core.add_conn(tx.clone()));
    shared.counters.connections.fetch_add(1, Ordering::Relaxed);
    let (mut rd, mut wr) = stream.into_split();
    let _ = tx.send(Out::Data(wire::auth_request()));

    let mut reader = CommandReader::default();
    let mut queue: VecDeque<Command> = VecDeque::new();
    let mut authed = false;
    let mut blocked = false;
    let mut closing = false;
    // The client closed its write side: finish what it sent, then say goodbye (as
    // mod_event_socket's listener does when its read fails) and close.
    let mut eof = false;
    let mut delay: Option<Pin<Box<Sleep>>> = None;
    let mut front_waited = false;
    let mut rbuf = vec![0u8; 16 * 1024];
    let mut wbuf: Vec<u8> = Vec::with_capacity(64 * 1024);

    'conn: loop {
        while !blocked && !closing && delay.is_none() {
            let Some(front) = queue.front() else { break };
            if authed && !front_waited && is_api(front) {
                let us = shared.reply_delay_us.load(Ordering::Relaxed);
                if us > 0 {
                    delay = Some(Box::pin(tokio::time::sleep(Duration::from_micros(us))));
                    break;
                }
            }
            front_waited = false;
            let Some(cmd) = queue.pop_front() else { break };
            if !authed {
                // mod_event_socket's parse_command honours `exit` before the auth check.
                if cmd
                    .line
                    .get(..4)
                    .is_some_and(|v| v.eq_ignore_ascii_case("exit"))
                {
                    let _ = tx.send(Out::Data(wire::command_reply("+OK bye")));
                    let _ = tx.send(Out::Data(wire::disconnect_notice(wire::GOODBYE)));
                    let _ = tx.send(Out::Close);
                    closing = true;
                    continue;
                }
                match cmd.line.strip_prefix("auth ") {
                    Some(pw) if pw.trim() == shared.password => {
                        authed = true;
                        let _ = tx.send(Out::Data(wire::command_reply("+OK accepted")));
                    }
                    Some(_) => {
                        let _ = tx.send(Out::Data(wire::command_reply("-ERR invalid")));
                        let _ = tx.send(Out::Data(wire::disconnect_notice(wire::GOODBYE)));
                        let _ = tx.send(Out::Close);
                        closing = true;
                    }
                    None => {
                        let _ = tx.send(Out::Data(wire::command_reply("-ERR command not found")));
                    }
                }
                continue;
            }
            match shared.run(|core| core.command(id, &cmd)) {
                Flow::Continue => {}
                Flow::Blocked => blocked = true,
                Flow::Close => {
                    let _ = tx.send(Out::Close);
                    closing = true;
                }
                Flow::Shutdown => {
                    stop_runtime(&shared);
                    closing = true;
                }
            }
        }

        if eof && !closing && !blocked && delay.is_none() && queue.is_empty() {
            let _ = tx.send(Out::Data(wire::disconnect_notice(wire::GOODBYE)));
            let _ = tx.send(Out::Close);
            closing = true;
        }

        tokio::select! {
            out = rx.recv() => {
                let mut next = out;
                loop {
                    match next {
                        None => break 'conn,
                        Some(Out::Data(b)) => wbuf.extend_from_slice(&b),
                        Some(Out::Resume) => blocked = false,
                        Some(Out::Close) => {
                            let _ = wr.write_all(&wbuf).await;
                            let _ = wr.shutdown().await;
                            break 'conn;
                        }
                        Some(Out::Abort) => break 'conn,
                        Some(Out::Freeze) => {
                            // Half-open: the socket stays open, silent both ways.
                            loop {
                                match rx.recv().await {
                                    None | Some(Out::Abort) => break 'conn,
                                    Some(_) => {}
                                }
                            }
                        }
                    }
                    match rx.try_recv() {
                        Ok(o) => next = Some(o),
                        Err(_) => break,
                    }
                }
                if !wbuf.is_empty() {
                    if wr.write_all(&wbuf).await.is_err() {
                        break 'conn;
                    }
                    wbuf.clear();
                }
            }
            r = rd.read(&mut rbuf), if !closing && !eof => {
                match r {
                    Ok(0) => eof = true,
                    Err(_) => break 'conn,
                    Ok(n) => {
                        reader.push(&rbuf[..n]);
                        while let Some(c) = reader.next_command() {
                            queue.push_back(c);
                        }
                    }
                }
            }
            _ = async { if let Some(d) = delay.as_mut() { d.await } }, if delay.is_some() => {
                delay = None;
                front_waited = true;
            }
        }
    }
    shared.run(|core| core.remove_conn(id));
}
