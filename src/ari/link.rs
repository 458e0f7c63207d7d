//! One Asterisk switch: open the event WebSocket, resync, pump events in and commands out over
//! HTTP, watch liveness with `GET /asterisk/ping` (Asterisk sends no pings), reconnect with
//! backoff and jitter.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tracing::{debug, error, info, warn};

use super::client::{AriClient, AriRequest};
use super::plan::{Context, OnError, Step};
use super::render::render;
use super::resync::resync;
use super::state::Shared;
use super::translate::translate;
use super::{AriLinkError, AriSettings};
use crate::engine::{ChannelId, Input, SwitchCommand};
use crate::fence::Fence;
use crate::link::{backoff, lane_of, Outgoing, SwitchInput};
use crate::metrics::Metrics;

/// Command lanes per switch: commands of one call keep their order, calls do not wait for
/// each other.
const LANES: usize = 4;

enum SessionEnd {
    Lost(String),
    /// Another client took our Stasis application: wait the longest backoff before taking it
    /// back, so two controllers pointed at one app do not fight in a tight loop.
    Replaced,
    Stopped,
}

enum ConnectError {
    AuthRejected,
    Retry(String),
}

/// Work for a lane: an engine command, or requests an event asked for.
enum Job {
    Command(Box<Outgoing>),
    Steps(Vec<Step>),
}

pub async fn run(
    settings: AriSettings,
    mut commands: mpsc::Receiver<Outgoing>,
    inputs: mpsc::Sender<SwitchInput>,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
    fence: Fence,
) -> Result<(), AriLinkError> {
    let link = settings.name.to_string();
    metrics.set_switch_link(&link, false);
    let mut attempt: u32 = 0;
    loop {
        // A client (and so a connection pool) per session: a keep-alive connection left
        // half-open by the link's loss must not carry the next session's resync or commands.
        let client = match AriClient::new(&settings.url, &settings.user, &settings.password) {
            Ok(c) => c,
            Err(e) => {
                error!(switch = %settings.name, error = %e, "cannot build the ARI client");
                let _ = stop.wait_for(|s| *s).await;
                return Ok(());
            }
        };
        if *stop.borrow() {
            return Ok(());
        }
        if !fence.check() {
            Metrics::bump(&metrics.commands_fenced);
            warn!(switch = %settings.name, "not the leader: not connecting to the switch");
            let _ = stop.wait_for(|s| *s).await;
            return Ok(());
        }
        let ended = session(
            &settings,
            &client,
            &mut commands,
            &inputs,
            &metrics,
            &mut stop,
            &fence,
        )
        .await;
        metrics.set_switch_link(&link, false);
        match ended {
            Ok(SessionEnd::Stopped) => return Ok(()),
            Ok(SessionEnd::Lost(reason)) => {
                Metrics::bump(&metrics.esl_disconnects);
                warn!(switch = %settings.name, %reason, "ARI connection lost; reconnecting");
                attempt = 0;
            }
            Ok(SessionEnd::Replaced) => {
                Metrics::bump(&metrics.esl_disconnects);
                attempt = 16;
            }
            Err(ConnectError::AuthRejected) => {
                return Err(AriLinkError::AuthRejected {
                    switch: settings.name.clone(),
                    user: settings.user.clone(),
                })
            }
            Err(ConnectError::Retry(reason)) => {
                attempt = attempt.saturating_add(1);
                debug!(switch = %settings.name, %reason, attempt, "ARI connect failed");
                if attempt == 1 || attempt % 10 == 0 {
                    warn!(switch = %settings.name, %reason, attempt, "cannot reach Asterisk; retrying");
                }
            }
        }
        let delay = backoff(attempt, settings.reconnect_max);
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.changed() => {}
        }
    }
}

/// `ws://host:port/ari/events?app=<app>&subscribeAll=true`, from `http://host:port`.
fn events_url(settings: &AriSettings) -> Result<String, ConnectError> {
    let base = settings.url.trim_end_matches('/');
    let ws = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        return Err(ConnectError::Retry(format!("url {base:?} is not http(s)")));
    };
    let app: String = url_encode(&settings.app);
    Ok(format!("{ws}/ari/events?app={app}&subscribeAll=true"))
}

fn url_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open_events(settings: &AriSettings) -> Result<Socket, ConnectError> {
    let url = events_url(settings)?;
    let mut request = url
        .into_client_request()
        .map_err(|e| ConnectError::Retry(e.to_string()))?;
    let credentials = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", settings.user, settings.password));
    let header = format!("Basic {credentials}")
        .parse()
        .map_err(|_| ConnectError::Retry("credentials do not fit a header".into()))?;
    request.headers_mut().insert("Authorization", header);
    let connect = tokio_tungstenite::connect_async(request);
    match tokio::time::timeout(Duration::from_secs(5), connect).await {
        Err(_) => Err(ConnectError::Retry("WebSocket handshake timed out".into())),
        Ok(Ok((socket, _))) => Ok(socket),
        Ok(Err(tungstenite::Error::Http(response))) if response.status().as_u16() == 401 => {
            Err(ConnectError::AuthRejected)
        }
        Ok(Err(tungstenite::Error::Http(response))) => Err(ConnectError::Retry(format!(
            "WebSocket refused: {}",
            response.status()
        ))),
        Ok(Err(e)) => Err(ConnectError::Retry(e.to_string())),
    }
}

async fn send_input(inputs: &mpsc::Sender<SwitchInput>, input: Input) -> bool {
    inputs
        .send(SwitchInput {
            input,
            received: Instant::now(),
        })
        .await
        .is_ok()
}

async fn session(
    settings: &AriSettings,
    client: &AriClient,
    commands: &mut mpsc::Receiver<Outgoing>,
    inputs: &mpsc::Sender<SwitchInput>,
    metrics: &Arc<Metrics>,
    stop: &mut watch::Receiver<bool>,
    fence: &Fence,
) -> Result<SessionEnd, ConnectError> {
    let mut socket = open_events(settings).await?;
    Metrics::bump(&metrics.esl_connects);
    let ctx = Context {
        switch: settings.name.clone(),
        app: settings.app.clone(),
        recordings_dir: settings.recordings_dir.clone(),
    };
    let tables = Shared::default();

    // Commands decided before this connection existed refer to a world the resync replaces.
    while commands.try_recv().is_ok() {
        Metrics::bump(&metrics.commands_discarded_on_reconnect);
    }
    if !send_input(
        inputs,
        Input::ResyncStarted {
            switch: ctx.switch.clone(),
        },
    )
    .await
    {
        return Ok(SessionEnd::Stopped);
    }
    let listed = match resync(client, fence, &ctx, &tables).await {
        Ok(listed) => listed,
        Err(e) => {
            let _ = socket.close(None).await;
            return Ok(SessionEnd::Lost(format!("resync failed: {e}")));
        }
    };
    info!(switch = %settings.name, channels = listed.channels.len(), "connected and resynced");
    metrics.set_switch_link(&settings.name.to_string(), true);
    let resynced = Input::SwitchResynced {
        switch: ctx.switch.clone(),
        channels: listed.channels,
    };
    if !send_input(inputs, resynced).await {
        return Ok(SessionEnd::Stopped);
    }
    if let Some(users) = listed.registered {
        let input = Input::RegistrationsListed {
            switch: ctx.switch.clone(),
            users,
        };
        if !send_input(inputs, input).await {
            return Ok(SessionEnd::Stopped);
        }
    }

    let mut lanes = Vec::new();
    let mut executors = JoinSet::new();
    for _ in 0..LANES {
        let (tx, rx) = mpsc::channel::<Job>(4096);
        executors.spawn(execute(
            ctx.clone(),
            client.clone(),
            tables.clone(),
            rx,
            inputs.clone(),
            metrics.clone(),
            fence.clone(),
        ));
        lanes.push(tx);
    }

    let (pong_tx, mut pong_rx) = mpsc::channel::<Registration>(4);
    let period = (settings.liveness_timeout / 3).max(Duration::from_millis(50));
    let app_path = format!("/applications/{}", url_encode(&settings.app));
    executors.spawn(ping(
        client.clone(),
        fence.clone(),
        period,
        app_path,
        pong_tx,
    ));
    // Heard from Asterisk at all (an event, a frame, an HTTP answer), and over the WebSocket.
    let (mut last_heard, mut last_on_socket) = (Instant::now(), Instant::now());
    // Asterisk answers our WebSocket pings (RFC 6455; *assumed*: no capture shows a ping from
    // the client): once it has, a socket silent past the timeout is dead even while HTTP
    // answers, as when a firewall dropped the idle connection.
    let mut answers_pings = false;
    let mut tick = tokio::time::interval(period);

    let end = loop {
        tokio::select! {
            biased;
            _ = stop.changed() => break SessionEnd::Stopped,
            frame = socket.next() => {
                let text = match frame {
                    None => break SessionEnd::Lost("WebSocket closed".into()),
                    Some(Err(e)) => break SessionEnd::Lost(format!("WebSocket error: {e}")),
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(_))) => break SessionEnd::Lost("WebSocket closed by Asterisk".into()),
                    Some(Ok(other)) => {
                        answers_pings |= matches!(other, Message::Pong(_));
                        (last_heard, last_on_socket) = (Instant::now(), Instant::now());
                        continue;
                    }
                };
                (last_heard, last_on_socket) = (Instant::now(), Instant::now());
                Metrics::bump(&metrics.events_received);
                let translation = tables.with(|t| translate(&ctx, t, text.as_str()));
                if let Some(what) = translation.malformed {
                    Metrics::bump(&metrics.events_malformed);
                    warn!(switch = %settings.name, %what, "event of ours is malformed");
                }
                let mut engine_gone = false;
                for input in translation.inputs {
                    if !send_input(inputs, input).await {
                        engine_gone = true;
                        break;
                    }
                }
                if engine_gone {
                    break SessionEnd::Stopped;
                }
                for (affinity, steps) in translation.followups {
                    if steps.is_empty() {
                        continue;
                    }
                    if lanes[lane_of(&affinity, lanes.len())].send(Job::Steps(steps)).await.is_err() {
                        break;
                    }
                }
                if translation.replaced {
                    error!(switch = %settings.name, app = %settings.app,
                        "another ARI client took our Stasis application over; reconnecting");
                    break SessionEnd::Replaced;
                }
            }
            outgoing = commands.recv() => {
                let Some(outgoing) = outgoing else { break SessionEnd::Stopped };
                let lane = lane_of(&outgoing.affinity, lanes.len());
                if lanes[lane].send(Job::Command(Box::new(outgoing))).await.is_err() {
                    break SessionEnd::Lost("command lane closed".into());
                }
            }
            Some(registration) = pong_rx.recv() => match registration {
                Registration::Registered => last_heard = Instant::now(),
                Registration::Gone => break SessionEnd::Lost(format!(
                    "Asterisk no longer has the application {:?} (GET /applications: 404): our WebSocket is gone on its side",
                    settings.app
                )),
            },
            _ = tick.tick() => {
                if last_heard.elapsed() > settings.liveness_timeout {
                    break SessionEnd::Lost(format!(
                        "no event and no answer to ping for {:?}",
                        settings.liveness_timeout
                    ));
                }
                if answers_pings && last_on_socket.elapsed() > settings.liveness_timeout {
                    break SessionEnd::Lost(format!(
                        "the WebSocket answered no ping for {:?}",
                        settings.liveness_timeout
                    ));
                }
                if fence.permits() {
                    let ping = socket.send(Message::Ping(Vec::new().into()));
                    if !matches!(tokio::time::timeout(period, ping).await, Ok(Ok(()))) {
                        break SessionEnd::Lost("WebSocket ping not sent".into());
                    }
                }
            }
            Some(done) = executors.join_next() => {
                let reason = match done {
                    Ok(reason) => reason,
                    Err(e) => format!("task failed: {e}"),
                };
                break SessionEnd::Lost(reason);
            }
        }
    };
    executors.abort_all();
    // A deposed leader leaves without a word: dropping the socket closes it.
    if fence.permits() {
        let _ = tokio::time::timeout(Duration::from_secs(1), socket.close(None)).await;
    }
    Ok(end)
}

/// What `GET /applications/<app>` said of our application.
enum Registration {
    /// 200: Asterisk is there and has our application (its WebSocket, as Asterisk sees it).
    Registered,
    /// 404: Asterisk is there but our application is gone (capture `connect`: an application
    /// exists only while its WebSocket is open), so callers' `Stasis()` fails.
    Gone,
}

/// Asks `GET /applications/<app>` every `period`: each answer proves Asterisk alive, and a
/// 404 that our WebSocket is gone on its side, whatever our end of it still believes.
async fn ping(
    client: AriClient,
    fence: Fence,
    period: Duration,
    app_path: String,
    pong: mpsc::Sender<Registration>,
) -> String {
    loop {
        tokio::time::sleep(period).await;
        if !fence.permits() {
            continue;
        }
        let request = AriRequest::get(app_path.clone());
        let registration = match tokio::time::timeout(period * 2, client.send(&request)).await {
            Ok(Ok(reply)) if reply.is_success() => Registration::Registered,
            Ok(Ok(reply)) if reply.status == 404 => Registration::Gone,
            _ => continue,
        };
        if pong.send(registration).await.is_err() {
            return "liveness watch gone".into();
        }
    }
}

/// One command lane: renders and sends what the engine decided, in order, and reports
/// refusals.
async fn execute(
    ctx: Context,
    client: AriClient,
    tables: Shared,
    mut rx: mpsc::Receiver<Job>,
    inputs: mpsc::Sender<SwitchInput>,
    metrics: Arc<Metrics>,
    fence: Fence,
) -> String {
    while let Some(job) = rx.recv().await {
        let (command, steps) = match job {
            Job::Steps(steps) => (None, steps),
            Job::Command(out) => {
                let out = *out;
                let rendered = tables.with(|t| render(&ctx, t, &out.command));
                match rendered {
                    Ok(steps) => (Some(out), steps),
                    Err(e) => {
                        Metrics::bump(&metrics.commands_refused_unsafe);
                        warn!(switch = %ctx.switch, error = %e, "command refused before sending");
                        let mut refusal = vec![Input::CommandFailed {
                            switch: ctx.switch.clone(),
                            command: out.command.clone(),
                            reply: e.to_string(),
                        }];
                        if let Some(leg) = originated_leg(&out.command) {
                            tables.with(|t| t.channels.remove(leg));
                            refusal.push(Input::OriginateFailed {
                                switch: ctx.switch.clone(),
                                leg: leg.clone(),
                                cause: "USER_NOT_REGISTERED".into(),
                            });
                        }
                        for input in refusal {
                            if !send_input(&inputs, input).await {
                                return "engine gone".into();
                            }
                        }
                        continue;
                    }
                }
            }
        };
        if let Err(reason) = run_steps(
            &ctx,
            &client,
            &tables,
            command.as_ref(),
            steps,
            &inputs,
            &metrics,
            &fence,
        )
        .await
        {
            return reason;
        }
    }
    "command queue closed".into()
}

fn originated_leg(command: &SwitchCommand) -> Option<&ChannelId> {
    match command {
        SwitchCommand::Originate { leg, .. }
        | SwitchCommand::Monitor { leg, .. }
        | SwitchCommand::ConferenceDial { leg, .. }
        | SwitchCommand::Dial { leg, .. } => Some(leg),
        _ => None,
    }
}

/// Runs a plan; a step that fails with `Report` ends it. `Err` only when the engine is gone.
#[allow(clippy::too_many_arguments)]
async fn run_steps(
    ctx: &Context,
    client: &AriClient,
    tables: &Shared,
    command: Option<&Outgoing>,
    steps: Vec<Step>,
    inputs: &mpsc::Sender<SwitchInput>,
    metrics: &Metrics,
    fence: &Fence,
) -> Result<(), String> {
    for step in steps {
        let (request, on_error) = match step {
            Step::Emit(input) => {
                if !send_input(inputs, input).await {
                    return Err("engine gone".into());
                }
                continue;
            }
            Step::Request { request, on_error } => (request, on_error),
        };
        if !fence.check() {
            Metrics::bump(&metrics.commands_fenced);
            warn!(switch = %ctx.switch, path = %request.path, "not the leader: request not sent");
            return Ok(());
        }
        Metrics::bump(&metrics.commands_sent);
        let failure = match client.send(&request).await {
            Ok(reply) if reply.is_success() => {
                if let (Some(out), OnError::Originate { .. }) = (command, &on_error) {
                    if let Some(at) = out.caused_by {
                        metrics.routing_latency.record(at.elapsed());
                    }
                }
                continue;
            }
            Ok(reply) => (Some(reply.status), reply.failure_text()),
            Err(e) => (None, e.to_string()),
        };
        Metrics::bump(&metrics.commands_failed);
        let (status, text) = failure;
        debug!(switch = %ctx.switch, method = %request.method, path = %request.path, reply = %text, "ARI refused a request");
        if status.is_some() {
            forget_refused_playback(client, tables, fence, &request).await;
        }
        let mut report = Vec::new();
        match on_error {
            OnError::Ignore => continue,
            OnError::Report => {
                if let Some(out) = command {
                    report.push(Input::CommandFailed {
                        switch: ctx.switch.clone(),
                        command: out.command.clone(),
                        reply: text,
                    });
                } else {
                    warn!(switch = %ctx.switch, path = %request.path, reply = %text, "a follow-up request failed");
                }
            }
            OnError::Originate { leg } => {
                tables.with(|t| t.channels.remove(&leg));
                if status.is_none() && fence.check() {
                    // No answer is not no call: Asterisk may have placed it, and the phone
                    // would ring on with nobody to bridge it. The id is ours, so ending it
                    // cannot end anyone else's channel (a 404 when there is none).
                    let _ = client
                        .send(
                            &AriRequest::delete(format!("/channels/{leg}"))
                                .param("reason_code", "16"),
                        )
                        .await;
                }
                // 500 {"error":"Allocation failed"}: no such endpoint or no contact
                // (README: originate-unknown); no channel event follows.
                let cause = match status {
                    Some(500) => "USER_NOT_REGISTERED",
                    Some(400) => "INVALID_NUMBER_FORMAT",
                    _ => "NORMAL_TEMPORARY_FAILURE",
                };
                report.push(Input::OriginateFailed {
                    switch: ctx.switch.clone(),
                    leg,
                    cause: cause.into(),
                });
            }
        }
        for input in report {
            if !send_input(inputs, input).await {
                return Err("engine gone".into());
            }
        }
        return Ok(());
    }
    Ok(())
}

/// A playback Asterisk refused to start will never finish: it is forgotten, and a channel
/// waiting to be hung up after its prompts is hung up once none is left. (After a transport
/// error it is kept: the playback may have started, and its end will come.)
async fn forget_refused_playback(
    client: &AriClient,
    tables: &Shared,
    fence: &Fence,
    request: &AriRequest,
) {
    let Some((_, playback)) = request.query.iter().find(|(name, _)| *name == "playbackId") else {
        return;
    };
    let hang_up = tables.with(|t| {
        let channel = t.playbacks.remove(playback)?.channel;
        let last = t.playbacks_of(&channel).is_empty();
        (last && t.hangup_after_prompts.remove(&channel)).then_some(channel)
    });
    if let Some(channel) = hang_up.filter(|_| fence.check()) {
        let _ = client
            .send(&AriRequest::delete(format!("/channels/{channel}")).param("reason_code", "16"))
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn an_https_ari_url_opens_the_event_websocket_over_tls() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let first_byte = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut byte = [0u8; 1];
            socket.read_exact(&mut byte).await.expect("read");
            byte[0]
        });
        let settings = AriSettings {
            name: crate::engine::SwitchName::new("ast").expect("name"),
            url: format!("https://127.0.0.1:{port}"),
            user: "switchboard".into(),
            password: "secret".into(),
            app: "switchboard".into(),
            liveness_timeout: Duration::from_secs(5),
            reconnect_max: Duration::from_secs(1),
            recordings_dir: "/var/spool/asterisk/recording".into(),
            recordings_mount: None,
        };
        let opened = open_events(&settings).await;
        // 0x16: a TLS handshake record (the ClientHello), not `GET /ari/events` in the clear.
        let first_byte = tokio::time::timeout(Duration::from_secs(5), first_byte)
            .await
            .expect("the WebSocket connects at all")
            .expect("the server side");
        assert_eq!(first_byte, 0x16);
        let Err(ConnectError::Retry(why)) = opened else {
            panic!("nothing speaks TLS there, so the connect fails");
        };
        assert!(!why.contains("TLS support not compiled"), "{why}");
    }
}
