//! One switch: connect, subscribe, resync, pump events in and commands out; reconnect on loss.

use std::sync::Arc;
use std::time::{Duration, Instant};

use freeswitch_esl_tokio::{EslClient, EslConnectOptions, EslError, EslEventStream, EventFormat};
use thiserror::Error;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use super::command::{render, Wire};
use super::translate::{
    channel_uuids, registered_users, snapshot_from_dump, translate, Translated, SUBSCRIBED_EVENTS,
};
use crate::engine::{ChannelId, Input, SwitchCommand, SwitchName};
use crate::fence::Fence;
use crate::link::{backoff, lane_of};
pub use crate::link::{Outgoing, SwitchInput, SwitchLink};
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct SwitchSettings {
    pub name: SwitchName,
    pub host: String,
    pub port: u16,
    pub password: String,
    /// No traffic (not even HEARTBEAT) for this long means the connection is dead.
    pub liveness_timeout: Duration,
    pub reconnect_max: Duration,
    /// Commands go over their own connections, sharded by call, so one slow reply does not
    /// hold up other calls.
    pub command_connections: usize,
    /// Where the switch writes call recordings (absolute, on its own disk).
    pub recordings_dir: String,
    /// Where the controller reads that directory, for downloads and the retention purge;
    /// `None`: it cannot.
    pub recordings_mount: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for SwitchSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SwitchSettings")
            .field("name", &self.name)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("password", &"***")
            .finish()
    }
}

#[derive(Debug, Error)]
pub enum LinkError {
    #[error("switch {switch}: ESL authentication failed ({reason}); check the password")]
    AuthRejected { switch: SwitchName, reason: String },
}

enum SessionEnd {
    Lost(String),
    Stopped,
}

/// Runs one switch until `stop` turns true, as the only controller of its database. Returns an
/// error only for what retrying cannot fix (a wrong password).
pub async fn run_switch(
    settings: SwitchSettings,
    commands: mpsc::Receiver<Outgoing>,
    inputs: mpsc::Sender<SwitchInput>,
    metrics: Arc<Metrics>,
    stop: watch::Receiver<bool>,
) -> Result<(), LinkError> {
    run_fenced_switch(settings, commands, inputs, metrics, stop, Fence::open()).await
}

/// [`run_switch`] for a controller of a pair: nothing is written to the switch (not even a
/// connection's handshake) unless `fence` permits it at that moment.
pub async fn run_fenced_switch(
    settings: SwitchSettings,
    mut commands: mpsc::Receiver<Outgoing>,
    inputs: mpsc::Sender<SwitchInput>,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
    fence: Fence,
) -> Result<(), LinkError> {
    let mut attempt: u32 = 0;
    let link = settings.name.to_string();
    metrics.set_switch_link(&link, false);
    loop {
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
                warn!(switch = %settings.name, %reason, "ESL connection lost; reconnecting");
                attempt = 0;
            }
            Err(EslError::AuthenticationFailed { reason }) => {
                return Err(LinkError::AuthRejected {
                    switch: settings.name.clone(),
                    reason,
                })
            }
            Err(e) => {
                attempt = attempt.saturating_add(1);
                debug!(switch = %settings.name, error = %e, attempt, "ESL connect failed");
                if attempt == 1 || attempt % 10 == 0 {
                    warn!(switch = %settings.name, error = %e, attempt, "cannot reach switch; retrying");
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

async fn connect(settings: &SwitchSettings) -> Result<(EslClient, EslEventStream), EslError> {
    let options = EslConnectOptions::new()
        .with_event_queue_size(65_536)
        .with_connect_timeout(Duration::from_secs(5));
    EslClient::connect_with_options(&settings.host, settings.port, &settings.password, options)
        .await
}

/// The phones registered on the switch, read on a connection of its own: the listing of a
/// switch with tens of thousands of phones can exceed the ESL client's 8 MiB message limit,
/// which ends the connection it arrives on, and it must not take the event connection with it.
/// Without a listing the engine learns registrations from the live events.
async fn list_registrations(settings: &SwitchSettings) -> Option<Vec<String>> {
    let listed = match connect(settings).await {
        Ok((client, _events)) => {
            let listed = client.api("show registrations as json").await;
            let _ = client.disconnect().await;
            listed
        }
        Err(e) => Err(e),
    };
    let listing = match listed {
        Ok(listing) => listing,
        Err(e) => {
            warn!(switch = %settings.name, error = %e, "cannot list registrations; learning them from events");
            return None;
        }
    };
    match registered_users(listing.body().unwrap_or_default()) {
        Ok(users) => Some(users),
        Err(e) => {
            warn!(switch = %settings.name, error = %e, "cannot read registrations");
            None
        }
    }
}

async fn session(
    settings: &SwitchSettings,
    commands: &mut mpsc::Receiver<Outgoing>,
    inputs: &mpsc::Sender<SwitchInput>,
    metrics: &Arc<Metrics>,
    stop: &mut watch::Receiver<bool>,
    fence: &Fence,
) -> Result<SessionEnd, EslError> {
    let (events_client, mut events) = connect(settings).await?;
    events_client.set_liveness_timeout(settings.liveness_timeout);
    events_client
        .subscribe_events_raw(EventFormat::Plain, SUBSCRIBED_EVENTS)
        .await?;

    let mut executors = JoinSet::new();
    let mut lanes = Vec::new();
    for _ in 0..settings.command_connections.max(1) {
        let (client, stream) = connect(settings).await?;
        let (tx, rx) = mpsc::channel::<Outgoing>(4096);
        executors.spawn(execute(
            settings.name.clone(),
            client,
            stream,
            rx,
            inputs.clone(),
            metrics.clone(),
            fence.clone(),
        ));
        lanes.push(tx);
    }
    Metrics::bump(&metrics.esl_connects);

    // Commands decided before this connection existed refer to a world the resync replaces.
    while commands.try_recv().is_ok() {
        Metrics::bump(&metrics.commands_discarded_on_reconnect);
    }
    let started = SwitchInput {
        input: Input::ResyncStarted {
            switch: settings.name.clone(),
        },
        received: Instant::now(),
    };
    if inputs.send(started).await.is_err() {
        return Ok(SessionEnd::Stopped);
    }
    let channels = resync(settings, &events_client).await?;
    info!(switch = %settings.name, channels = channels.len(), "connected and resynced");
    metrics.set_switch_link(&settings.name.to_string(), true);
    let registrations = list_registrations(settings).await;
    if inputs
        .send(SwitchInput {
            input: Input::SwitchResynced {
                switch: settings.name.clone(),
                channels,
            },
            received: Instant::now(),
        })
        .await
        .is_err()
    {
        return Ok(SessionEnd::Stopped);
    }
    if let Some(users) = registrations {
        let listed = SwitchInput {
            input: Input::RegistrationsListed {
                switch: settings.name.clone(),
                users,
            },
            received: Instant::now(),
        };
        if inputs.send(listed).await.is_err() {
            return Ok(SessionEnd::Stopped);
        }
    }

    let end = loop {
        tokio::select! {
            biased;
            _ = stop.changed() => break SessionEnd::Stopped,
            event = events.recv() => {
                let received = Instant::now();
                match event {
                    None => break SessionEnd::Lost(events_client.status_reason()),
                    Some(Err(e)) if e.is_connection_error() => break SessionEnd::Lost(e.to_string()),
                    Some(Err(e)) => {
                        Metrics::bump(&metrics.events_malformed);
                        warn!(switch = %settings.name, error = %e, "undecodable event");
                    }
                    Some(Ok(event)) => {
                        Metrics::bump(&metrics.events_received);
                        match translate(&settings.name, &event) {
                            Translated::Input(input) => {
                                if inputs.send(SwitchInput { input, received }).await.is_err() {
                                    break SessionEnd::Stopped;
                                }
                            }
                            Translated::Malformed(what) => {
                                Metrics::bump(&metrics.events_malformed);
                                warn!(switch = %settings.name, %what, "event of ours is malformed");
                            }
                            Translated::Shutdown => {
                                warn!(switch = %settings.name, "switch is shutting down");
                            }
                            Translated::Heartbeat | Translated::Ignored => {}
                        }
                    }
                }
            }
            outgoing = commands.recv() => {
                let Some(outgoing) = outgoing else { break SessionEnd::Stopped };
                let lane = lane_of(&outgoing.affinity, lanes.len());
                if lanes[lane].send(outgoing).await.is_err() {
                    break SessionEnd::Lost("command connection closed".into());
                }
            }
            Some(done) = executors.join_next() => {
                let reason = match done {
                    Ok(reason) => reason,
                    Err(e) => format!("command task failed: {e}"),
                };
                break SessionEnd::Lost(reason);
            }
        }
    };
    executors.abort_all();
    // A deposed leader leaves without a word: dropping the connection closes it.
    if fence.permits() {
        if let Err(e) = events_client.disconnect().await {
            debug!(error = %e, "disconnect after session end");
        }
    }
    Ok(end)
}

trait StatusReason {
    fn status_reason(&self) -> String;
}

impl StatusReason for EslClient {
    fn status_reason(&self) -> String {
        format!("{:?}", self.status())
    }
}

/// Lists the switch's channels and reads ours by their variables (`show channels` does not
/// carry custom variables; `uuid_dump … json` does).
async fn resync(
    settings: &SwitchSettings,
    client: &EslClient,
) -> Result<Vec<crate::engine::ChannelSnapshot>, EslError> {
    let listing = client.api("show channels as json").await?;
    let uuids = match channel_uuids(listing.body().unwrap_or_default()) {
        Ok(u) => u,
        Err(e) => {
            warn!(switch = %settings.name, error = %e, "cannot read channel list");
            Vec::new()
        }
    };
    let mut snapshots = Vec::new();
    for uuid in uuids {
        let Ok(channel) = ChannelId::parse(&uuid) else {
            continue;
        };
        let dump = client.api(&format!("uuid_dump {channel} json")).await?;
        let body = dump.body().unwrap_or_default();
        if body.starts_with("-ERR") {
            continue;
        }
        match snapshot_from_dump(body) {
            Ok(Some(s)) => snapshots.push(s),
            // Not ours, but it may keep an agent's phone busy: the engine needs to know it lives.
            Ok(None) => snapshots.push(crate::engine::ChannelSnapshot::other(channel, false)),
            Err(e) => warn!(switch = %settings.name, %channel, error = %e, "cannot read channel"),
        }
    }
    Ok(snapshots)
}

/// Refusals that change the engine's view: a bridge that did not happen, a prompt that will
/// never play (a whisper or a flow node the engine waits for: `playback`, `say` or `record`,
/// whether the switch refused it or it was refused here before sending, as a `say` of text
/// such as "1,234.50" is), a recording that never started.
fn engine_hears_refusal(command: &SwitchCommand) -> bool {
    matches!(
        command,
        SwitchCommand::Bridge { .. }
            | SwitchCommand::Play { .. }
            | SwitchCommand::Say { .. }
            | SwitchCommand::Record { .. }
            | SwitchCommand::SessionRecord {
                action: crate::engine::recording::RecordingAction::Start,
                ..
            }
    )
}

/// One command connection: sends what the engine decided, in order, and reports refusals that
/// change the engine's view (see [`engine_hears_refusal`]).
async fn execute(
    switch: SwitchName,
    client: EslClient,
    _stream: EslEventStream,
    mut rx: mpsc::Receiver<Outgoing>,
    inputs: mpsc::Sender<SwitchInput>,
    metrics: Arc<Metrics>,
    fence: Fence,
) -> String {
    while let Some(out) = rx.recv().await {
        let event_uuid = uuid::Uuid::new_v4().to_string();
        let wire = match render(&out.command, &event_uuid) {
            Ok(w) => w,
            Err(e) => {
                Metrics::bump(&metrics.commands_refused_unsafe);
                warn!(%switch, error = %e, "command refused before sending");
                if engine_hears_refusal(&out.command) {
                    let failed = Input::CommandFailed {
                        switch: switch.clone(),
                        command: out.command,
                        reply: e.to_string(),
                    };
                    let arrival = SwitchInput {
                        input: failed,
                        received: Instant::now(),
                    };
                    if inputs.send(arrival).await.is_err() {
                        return "engine gone".into();
                    }
                }
                continue;
            }
        };
        if !fence.check() {
            Metrics::bump(&metrics.commands_fenced);
            warn!(%switch, command = ?out.command, "not the leader: command not sent");
            continue;
        }
        let result = match &wire {
            Wire::Api(line) => client.api(line).await,
            Wire::BgApi(line) => client.bgapi(line).await,
            Wire::Execute {
                uuid,
                app,
                arg,
                event_uuid,
            } => {
                client
                    .sendmsg(Some(uuid), Wire::execute_event(app, arg, event_uuid))
                    .await
            }
            Wire::SendEvent { name, headers } => {
                let mut event = freeswitch_esl_tokio::EslEvent::new();
                event.set_header("Event-Name", *name);
                for (key, value) in headers {
                    event.set_header(*key, value.as_str());
                }
                client.sendevent(event).await
            }
        };
        Metrics::bump(&metrics.commands_sent);
        let reply = match result {
            Ok(reply) => reply,
            Err(e) if e.is_connection_error() => return format!("command connection lost: {e}"),
            Err(e) => {
                Metrics::bump(&metrics.commands_failed);
                warn!(%switch, error = %e, "command failed");
                continue;
            }
        };
        if let (SwitchCommand::Originate { .. }, Some(at)) = (&out.command, out.caused_by) {
            metrics.routing_latency.record(at.elapsed());
        }
        let text = reply
            .body()
            .or_else(|| reply.reply_text())
            .unwrap_or_default()
            .trim()
            .to_owned();
        if text.starts_with("-ERR") || text.starts_with("-USAGE") || text == "-ERROR" {
            Metrics::bump(&metrics.commands_failed);
            debug!(%switch, command = ?out.command, reply = %text, "switch refused command");
            if engine_hears_refusal(&out.command) {
                let failed = Input::CommandFailed {
                    switch: switch.clone(),
                    command: out.command,
                    reply: text,
                };
                if inputs
                    .send(SwitchInput {
                        input: failed,
                        received: Instant::now(),
                    })
                    .await
                    .is_err()
                {
                    return "engine gone".into();
                }
            }
        }
    }
    "command queue closed".into()
}
