//! The ARI adapter: the only module that speaks to Asterisk (the Asterisk REST Interface:
//! HTTP requests and a WebSocket of events for our Stasis application).
//!
//! It translates ARI events into engine inputs and engine commands into ARI requests, keeps
//! what Asterisk leaves to its client (bridges, hanging up a partner, ending a ringing leg),
//! reconnects and resyncs (lists channels and bridges, adopts ours). Ground truth:
//! `../shared/ari-traces/`.

mod bridges;
mod client;
mod link;
mod media;
mod plan;
pub mod probe;
mod render;
mod resync;
mod state;
mod transfer;
mod translate;

pub use resync::split_arguments;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::sync::{mpsc, watch};

use crate::engine::SwitchName;
use crate::fence::Fence;
use crate::link::{Outgoing, SwitchInput};
use crate::metrics::Metrics;

/// One Asterisk switch (`[[switch]] kind = "asterisk"`).
#[derive(Clone)]
pub struct AriSettings {
    pub name: SwitchName,
    /// Where ARI answers, without `/ari`: `http://127.0.0.1:8088`.
    pub url: String,
    /// The `ari.conf` user and password.
    pub user: String,
    pub password: String,
    /// The Stasis application the dialplan hands callers to (`Stasis(<app>,…)`).
    pub app: String,
    /// Asterisk sends no WebSocket pings: the adapter asks `GET /applications/<app>` and pings
    /// the WebSocket a third of this often, and counts the link dead when nothing answered for
    /// this long, when the socket stopped answering pings it used to answer, or at once when
    /// Asterisk no longer has the application.
    pub liveness_timeout: Duration,
    pub reconnect_max: Duration,
    /// Where Asterisk writes recordings (absolute, on its own disk):
    /// `/var/spool/asterisk/recording` unless `astspooldir` moved it.
    pub recordings_dir: String,
    /// Where the controller reads that directory; `None`: it cannot.
    pub recordings_mount: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for AriSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AriSettings")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("user", &self.user)
            .field("password", &"***")
            .field("app", &self.app)
            .finish()
    }
}

#[derive(Debug, Error)]
pub enum AriLinkError {
    #[error(
        "switch {switch}: ARI refused the user {user:?} (401); check user and password in ari.conf"
    )]
    AuthRejected { switch: SwitchName, user: String },
}

/// Runs one Asterisk switch until `stop` turns true. Nothing is sent to the switch unless
/// `fence` permits it at that moment. Returns an error only for what retrying cannot fix.
pub async fn run_fenced_switch(
    settings: AriSettings,
    commands: mpsc::Receiver<Outgoing>,
    inputs: mpsc::Sender<SwitchInput>,
    metrics: Arc<Metrics>,
    stop: watch::Receiver<bool>,
    fence: Fence,
) -> Result<(), AriLinkError> {
    link::run(settings, commands, inputs, metrics, stop, fence).await
}
