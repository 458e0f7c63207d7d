//! The controller the end-to-end benches start (`load`, and `routing`'s `--end-to-end` runs):
//! SQLite in a scratch folder, one simulated FreeSWITCH, no API tokens, nothing else on.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use switchboard::app::{self, AuthOptions, Running, StartOptions};
use switchboard::engine::SwitchName;
use switchboard::esl::SwitchSettings;
use switchboard::store::{AgentRow, QueueRow, Subscription};
use tokio::net::TcpListener;

/// What differs between the benches' controllers.
pub struct Setup {
    pub queues: Vec<QueueRow>,
    /// All logged in at start.
    pub agents: Vec<AgentRow>,
    pub flows: Option<PathBuf>,
    /// Their receivers listen on 127.0.0.1.
    pub webhooks: Vec<Subscription>,
}

/// Starts the controller with its database in `dir`, linked to the simulator's ESL port, and
/// returns once the link is up.
pub async fn start(dir: &Path, esl_port: u16, setup: Setup) -> Running {
    let running = app::start(StartOptions {
        http: TcpListener::bind("127.0.0.1:0").await.expect("bind"),
        database_url: format!("sqlite://{}", dir.join("bench.db").display()),
        asterisk: Vec::new(),
        switches: vec![SwitchSettings {
            name: SwitchName::new("sim").expect("name"),
            host: "127.0.0.1".into(),
            port: esl_port,
            password: "ClueCon".into(),
            liveness_timeout: Duration::from_secs(60),
            reconnect_max: Duration::from_secs(1),
            command_connections: 4,
            recordings_dir: switchboard::config::DEFAULT_RECORDINGS_DIR.into(),
            recordings_mount: None,
        }],
        queues: setup.queues,
        log_in: setup.agents.iter().map(|r| r.id.clone()).collect(),
        agents: setup.agents,
        busy_backoff: Duration::from_secs(1),
        seed: 1,
        presence_domain: None,
        pause_reasons: Vec::new(),
        hot_desk_moves: true,
        phone_prompts: Default::default(),
        hot_desk_extension: Some(switchboard::engine::HOT_DESK_EXTENSION.to_owned()),
        flows: setup.flows,
        // No API request is made: no token to print.
        auth: AuthOptions {
            enabled: false,
            tokens: Vec::new(),
        },
        webhooks: setup.webhooks,
        allow_private_webhook_targets: true,
        evaluation_forms: Vec::new(),
        purge_every: None,
        http_limits: Default::default(),
        reach: Vec::new(),
        routing_defaults: Default::default(),
        external_dial: None,
        stats: Default::default(),
    })
    .await
    .expect("start");
    while running.metrics.esl_connects.load(Ordering::Relaxed) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    running
}
