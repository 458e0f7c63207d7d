//! Wiring: builds the store, the engine task, the switch links and the HTTP server, and stops
//! them together. The only place that knows how the parts fit.

mod clock;
pub mod demo;
mod engine_task;
mod flows;
mod history_writer;
pub mod http;
pub mod leadership;
pub mod presence;
pub mod retention;
pub mod signals;
mod webhooks;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tracing::{error, info, warn};

pub use clock::Clock;
pub use engine_task::{EngineGone, EngineHandle, EngineRequest, RecordingControlled};
pub use flows::{Flows, ReloadError};
pub use http::{HttpClientError, HttpRunner};

use crate::ari::AriSettings;
use crate::engine::{AgentSettings, AgentStatus, Engine, QueueSettings, RequestedState, Snapshot};
use crate::esl::{run_fenced_switch, LinkError, SwitchSettings};
use crate::fence::Fence;
use crate::link::SwitchLink;
use crate::metrics::Metrics;
use crate::store::{AgentRow, QueueRow, Store, StoreError};

#[derive(Debug, Error)]
pub enum AppError {
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Link(#[from] LinkError),
    #[error(transparent)]
    AriLink(#[from] crate::ari::AriLinkError),
    #[error("HTTP server: {0}")]
    Http(std::io::Error),
    /// The flows do not pass their checks: the controller does not start.
    #[error(transparent)]
    Flows(#[from] crate::config::ConfigError),
    #[error(transparent)]
    HttpClient(#[from] HttpClientError),
    /// This controller led a pair and lost the leadership (see `leadership`).
    #[error("lost the leadership of epoch {epoch}: {reason}")]
    Deposed { epoch: i64, reason: String },
}

/// Everything `start` needs; `serve` builds it from the config file, `demo` and the tests
/// from their own defaults.
pub struct StartOptions {
    pub http: TcpListener,
    pub database_url: String,
    pub switches: Vec<SwitchSettings>,
    /// Asterisk switches (`[[switch]] kind = "asterisk"`), driven over ARI beside the
    /// FreeSWITCH ones.
    pub asterisk: Vec<AriSettings>,
    /// Applied to the store idempotently before the engine loads from it.
    pub queues: Vec<QueueRow>,
    pub agents: Vec<AgentRow>,
    /// How long an agent whose phone was busy or did not answer sits out, for queues whose row
    /// does not set `busy_backoff_ms`.
    pub busy_backoff: Duration,
    /// Agents to log in at start (the demo's simulated agents).
    pub log_in: Vec<crate::engine::AgentId>,
    pub seed: u64,
    /// The SIP domain of BLF subscriptions (`agent+<id>@<domain>`); `None`: no presence.
    pub presence_domain: Option<String>,
    /// Applied to the store like queues and agents.
    pub pause_reasons: Vec<crate::store::PauseReasonRow>,
    /// An agent logging in at a second phone moves there (else is refused).
    pub hot_desk_moves: bool,
    /// What agents hear after a feature code.
    pub phone_prompts: crate::engine::PhonePrompts,
    /// Where a log-in from a phone no agent has is sent for the agent number and PIN.
    pub hot_desk_extension: Option<String>,
    /// The IVR flows directory (or one file); checked against the provisioned queues at start
    /// and on `POST /v1/flows/reload`. `None`: no flows.
    pub flows: Option<std::path::PathBuf>,
    /// Whether the API needs tokens, and the provisioned ones.
    pub auth: AuthOptions,
    /// The provisioning file's `[[webhook]]`s: applied at start, the file wins for the names
    /// it lists (and re-enables one a `410 Gone` had disabled).
    pub webhooks: Vec<crate::store::Subscription>,
    /// `[webhook_settings] allow_private_targets`: subscriptions and deliveries may reach
    /// loopback, link-local and private addresses (the test harness's local receivers).
    pub allow_private_webhook_targets: bool,
    /// The provisioning file's `[[evaluation_form]]`s; none: the standard form.
    pub evaluation_forms: Vec<crate::config::EvaluationForm>,
    /// How often the retention purge runs (`[recordings] purge_every`); `None`: only when
    /// asked (`POST /v1/recordings/purge`).
    pub purge_every: Option<Duration>,
    /// The HTTP server's header and idle timeouts and connection limit.
    pub http_limits: crate::api::HttpLimits,
    /// `[switch.reach]`: (from, to, template) routes for agents registered on another switch
    /// than the caller's.
    pub reach: Vec<(crate::engine::SwitchName, crate::engine::SwitchName, String)>,
    /// `[routing]`: the wrap-up and ring timeout of queues created over REST that set none
    /// (their `busy_backoff` falls back to `busy_backoff` above, as the file's queues do).
    pub routing_defaults: crate::config::RoutingDefaults,
    /// `[transfer] external_dial`: external numbers for REST transfers and consults.
    pub external_dial: Option<crate::engine::ExternalDial>,
    /// `[stats]`: the time zone, window and default targets of supervisors' numbers.
    pub stats: crate::config::StatsConfig,
}

/// `[http] auth` and the provisioning file's `[[token]]`s.
#[derive(Debug, Clone)]
pub struct AuthOptions {
    /// Requests need a bearer token (the default); `false` opens the API to anyone who
    /// reaches it, for a lab.
    pub enabled: bool,
    /// Applied to the store like agents: the file wins for the names it lists.
    pub tokens: Vec<crate::config::ProvisionedToken>,
}

impl Default for AuthOptions {
    fn default() -> Self {
        Self {
            enabled: true,
            tokens: Vec::new(),
        }
    }
}

pub struct Running {
    pub http_addr: SocketAddr,
    /// The admin token made at this start because there was none (printed once on stdout).
    pub bootstrap_token: Option<crate::config::BearerToken>,
    pub engine: EngineHandle,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<Result<(), AppError>>,
}

impl Running {
    /// Waits until a part fails for good (a rejected ESL password) or `stop` is called.
    pub async fn wait(&mut self) -> Result<(), AppError> {
        while let Some(done) = self.tasks.join_next().await {
            match done {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e),
                Err(e) => error!(error = %e, "task ended abnormally"),
            }
        }
        Ok(())
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.engine.snapshot()
    }

    /// Stops every part, letting the engine flush its history.
    pub async fn stop(mut self) -> Result<(), AppError> {
        let _ = self.stop.send(true);
        let mut first_error = None;
        while let Some(done) = self.tasks.join_next().await {
            if let Ok(Err(e)) = done {
                first_error.get_or_insert(e);
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

pub async fn start(options: StartOptions) -> Result<Running, AppError> {
    let (mut running, leader) = prepare(options, leadership::View::single()).await?;
    leader
        .start(&mut running.tasks, Fence::open(), None)
        .await?;
    Ok(running)
}

/// What every controller runs, leader or standby: the store with provisioning applied, the
/// flows, the tokens, and the HTTP server. Returns the parts only a leader starts.
pub(crate) async fn prepare(
    options: StartOptions,
    view: watch::Receiver<leadership::View>,
) -> Result<(Running, LeaderPart), AppError> {
    let StartOptions {
        http: listener,
        database_url,
        switches,
        asterisk,
        queues,
        agents,
        busy_backoff,
        log_in,
        seed,
        presence_domain,
        pause_reasons,
        hot_desk_moves,
        phone_prompts,
        hot_desk_extension,
        flows,
        auth,
        webhooks,
        allow_private_webhook_targets,
        evaluation_forms,
        purge_every,
        http_limits,
        reach,
        routing_defaults,
        external_dial,
        stats,
    } = options;
    let clock = Clock::start();
    let metrics = Arc::new(Metrics::default());
    let store = Store::connect(&database_url).await?;
    for queue in &queues {
        store.upsert_queue(queue).await?;
    }
    for agent in &agents {
        store.upsert_agent(agent).await?;
    }
    for reason in &pause_reasons {
        store.upsert_pause_reason(reason).await?;
    }
    let pause_reasons = store.list_pause_reasons().await?;
    let provisioned: std::collections::HashSet<_> = store
        .list_queues()
        .await?
        .into_iter()
        .map(|q| q.id)
        .collect();
    // A few small files, read once before anything runs.
    let flows = Arc::new(Flows::load(flows, &provisioned)?);
    let (auth, bootstrap_token) = auth_at_start(&store, &auth, clock.now()).await?;
    for webhook in &webhooks {
        store.put_subscription(webhook).await?;
    }

    let (stop, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let recording_mounts: crate::api::RecordingMounts = switches
        .iter()
        .filter_map(|s| Some((s.name.clone(), s.recordings_mount.clone()?)))
        .chain(
            asterisk
                .iter()
                .filter_map(|s| Some((s.name.clone(), s.recordings_mount.clone()?))),
        )
        .collect();
    // Counts committed history batches: wakes the webhook worker and every live event stream,
    // and never blocks the writer. Dropped with the writer, which ends the streams.
    let (outbox_written, outbox_batches) = watch::channel(0_u64);
    let (requests_tx, requests_rx) = engine_task::channels();
    let (publish, snapshot_rx) = watch::channel(Arc::new(Snapshot::default()));
    let handle = engine_task::EngineTask::handle(requests_tx, snapshot_rx);
    let pause_reasons = Arc::new(std::sync::RwLock::new(pause_reasons));

    let http_addr = listener.local_addr().map_err(AppError::Http)?;
    let state = crate::api::ApiState::new(
        handle.clone(),
        store.clone(),
        metrics.clone(),
        pause_reasons.clone(),
        flows.clone(),
        auth,
        outbox_batches.clone(),
    )
    .with_recording_mounts(recording_mounts.clone())
    .with_evaluation_forms(evaluation_forms)
    .with_private_webhook_targets(allow_private_webhook_targets)
    .with_leadership(view)
    .with_routing_defaults(crate::config::RoutingDefaults {
        busy_backoff,
        ..routing_defaults
    })
    .with_stats(stats);
    let shared_auth = state.shared_auth();
    let router = crate::api::router(state);
    let mut http_stop = stop_rx.clone();
    let http_metrics = metrics.clone();
    tasks.spawn(async move {
        crate::api::serve(listener, router, http_limits, http_metrics, async move {
            let _ = http_stop.wait_for(|s| *s).await;
        })
        .await
        .map_err(AppError::Http)
    });
    info!(%http_addr, "switchboard is running");

    let leader = LeaderPart {
        clock,
        metrics: metrics.clone(),
        store: store.clone(),
        switches,
        asterisk,
        busy_backoff,
        log_in,
        seed,
        presence_domain,
        hot_desk_moves,
        phone_prompts,
        hot_desk_extension,
        allow_private_webhook_targets,
        purge_every,
        reach,
        external_dial,
        recording_mounts,
        flows,
        pause_reasons,
        auth: shared_auth,
        requests: requests_rx,
        publish,
        snapshots: handle.subscribe(),
        outbox_written,
        outbox_batches,
        stop: stop_rx,
    };
    let running = Running {
        http_addr,
        bootstrap_token,
        engine: handle,
        store,
        metrics,
        stop,
        tasks,
    };
    Ok((running, leader))
}

/// The parts only the leader runs: the engine, the switch links, the history writer, the
/// webhook worker, presence and the purge. A standby keeps them until it takes over.
pub(crate) struct LeaderPart {
    clock: Clock,
    metrics: Arc<Metrics>,
    store: Store,
    switches: Vec<SwitchSettings>,
    asterisk: Vec<AriSettings>,
    busy_backoff: Duration,
    log_in: Vec<crate::engine::AgentId>,
    seed: u64,
    presence_domain: Option<String>,
    hot_desk_moves: bool,
    phone_prompts: crate::engine::PhonePrompts,
    hot_desk_extension: Option<String>,
    allow_private_webhook_targets: bool,
    purge_every: Option<Duration>,
    reach: Vec<(crate::engine::SwitchName, crate::engine::SwitchName, String)>,
    external_dial: Option<crate::engine::ExternalDial>,
    recording_mounts: crate::api::RecordingMounts,
    flows: Arc<Flows>,
    pause_reasons: Arc<std::sync::RwLock<Vec<crate::store::PauseReasonRow>>>,
    auth: Arc<crate::api::Auth>,
    requests: mpsc::Receiver<EngineRequest>,
    publish: watch::Sender<Arc<Snapshot>>,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    outbox_written: watch::Sender<u64>,
    outbox_batches: watch::Receiver<u64>,
    stop: watch::Receiver<bool>,
}

impl LeaderPart {
    /// The store, the tokens and the pause reasons this controller serves, for the change
    /// listener of a pair.
    pub(crate) fn shared(&self) -> leadership::Shared {
        leadership::Shared {
            store: self.store.clone(),
            auth: self.auth.clone(),
            pause_reasons: self.pause_reasons.clone(),
            flows: self.flows.clone(),
        }
    }

    /// Loads the engine from the store (a takeover is a controller restart: the links' resync
    /// adopts what the switches still have) and starts the leader's tasks in `tasks`. `epoch`:
    /// history batches are written only while it is the database's.
    pub(crate) async fn start(
        self,
        tasks: &mut JoinSet<Result<(), AppError>>,
        fence: Fence,
        epoch: Option<i64>,
    ) -> Result<(), AppError> {
        let LeaderPart {
            clock,
            metrics,
            store,
            switches,
            asterisk,
            busy_backoff,
            log_in,
            seed,
            presence_domain,
            hot_desk_moves,
            phone_prompts,
            hot_desk_extension,
            allow_private_webhook_targets,
            purge_every,
            reach,
            external_dial,
            recording_mounts,
            flows,
            pause_reasons,
            auth: _,
            requests: requests_rx,
            publish,
            snapshots,
            outbox_written,
            outbox_batches,
            stop: stop_rx,
        } = self;
        let reasons = store.list_pause_reasons().await?;
        let now = clock.now();
        let mut engine = Engine::new(rand::random());
        if seed != 0 {
            engine = Engine::new(seed);
        }
        engine.set_pause_reasons(reasons.iter().map(|r| r.code.clone()));
        engine.set_hot_desk_move(hot_desk_moves);
        engine.set_phone_prompts(phone_prompts);
        engine.set_hot_desk_extension(hot_desk_extension);
        for switch in &switches {
            engine.set_recordings_dir(switch.name.clone(), &switch.recordings_dir);
        }
        for switch in &asterisk {
            engine.set_recordings_dir(switch.name.clone(), &switch.recordings_dir);
        }
        for (from, to, template) in &reach {
            engine.set_route(from.clone(), to.clone(), template);
        }
        engine.set_external_dial(external_dial);
        engine_task::set_engine_flows(&mut engine, crate::flow::FlowSet::clone(&flows.current()));
        for queue in store.list_queues().await? {
            engine.provision_queue(queue_settings(queue, busy_backoff));
        }
        let kept: HashMap<_, _> = store
            .last_agent_states()
            .await?
            .into_iter()
            .map(|(agent, status, _)| (agent, status))
            .collect();
        let paused: HashMap<_, _> = store.last_pause_reasons().await?.into_iter().collect();
        // A set: a contact center of 100,000 agents logged in at start was O(n²) here.
        let log_in: std::collections::HashSet<_> = log_in.iter().collect();
        let mut initial = Vec::new();
        for agent in store.list_agents().await? {
            let id = agent.id.clone();
            let kept_status = kept.get(&id).copied().unwrap_or(AgentStatus::LoggedOut);
            let status = match kept_status {
                _ if log_in.contains(&id) => AgentStatus::Available,
                AgentStatus::LoggedOut => AgentStatus::LoggedOut,
                AgentStatus::Paused => AgentStatus::Paused,
                _ => AgentStatus::Available,
            };
            // A paused agent comes back paused with its reason (provisioned logged out first).
            let provisioned = match status {
                AgentStatus::Paused => AgentStatus::LoggedOut,
                other => other,
            };
            initial.extend(engine.provision_agent(now, agent_settings(agent), provisioned));
            if status == AgentStatus::Paused {
                let reason = paused
                    .get(&id)
                    .cloned()
                    .unwrap_or_else(|| "restored".to_owned());
                let restored = RequestedState::Paused { reason };
                if let Ok(effects) = engine.set_agent_state(now, &id, restored) {
                    initial.extend(effects);
                }
            }
        }

        // A pause or log-out asked for during a call waits for the resync to see that call.
        for pending in store.pending_after_call().await? {
            let state = match pending.status {
                AgentStatus::Paused => RequestedState::Paused {
                    reason: pending.reason.unwrap_or_else(|| "restored".to_owned()),
                },
                _ => RequestedState::LoggedOut,
            };
            engine.restore_after_call(&pending.agent, state, pending.since);
        }

        initial.extend(engine.start_threshold_checks(now));

        // Callbacks have no channel for a resync to find: the history brings them back, with
        // the place and priority they last had.
        let places: HashMap<_, _> = store.open_call_places().await?.into_iter().collect();
        for call in store.open_calls().await? {
            let events = store.queue_events(call.id).await?;
            if let Some(mut pending) = pending_callback(&call, &events) {
                if let Some(place) = places.get(&call.id) {
                    pending.priority = place.priority;
                    pending.entered_at = place.waiting_since;
                }
                initial.extend(engine.restore_callback(now, pending));
            }
        }

        // Callers who abandoned recently enough to resume have no channel either (read at the
        // takeover, so a standby misses none that abandoned while it waited).
        if let Some(since) = engine.resume_memory_since(now) {
            let abandoned = store
                .abandoned_since(
                    since,
                    u32::try_from(crate::engine::MAX_RESUMABLE).unwrap_or(u32::MAX),
                )
                .await?;
            engine.restore_abandoned(now, abandoned);
        }

        let (inputs_tx, inputs_rx) = mpsc::channel(65_536);
        let mut links = HashMap::new();
        // One link task per switch, whichever its kind: each gets its command lane and sends
        // its inputs to the engine task.
        let mut link = |name: &crate::engine::SwitchName| {
            let (commands_tx, commands_rx) = mpsc::channel(65_536);
            links.insert(
                name.clone(),
                SwitchLink {
                    name: name.clone(),
                    commands: commands_tx,
                },
            );
            let parts = (inputs_tx.clone(), metrics.clone(), stop_rx.clone());
            (commands_rx, parts, fence.clone())
        };
        for settings in switches {
            let (commands, (inputs, metrics, stop), fence) = link(&settings.name);
            tasks.spawn(async move {
                run_fenced_switch(settings, commands, inputs, metrics, stop, fence)
                    .await
                    .map_err(AppError::from)
            });
        }
        for settings in asterisk {
            let (commands, (inputs, metrics, stop), fence) = link(&settings.name);
            tasks.spawn(async move {
                crate::ari::run_fenced_switch(settings, commands, inputs, metrics, stop, fence)
                    .await
                    .map_err(AppError::from)
            });
        }
        // Replies to flows' HTTP requests are inputs like the switches' events.
        let http = HttpRunner::new(http::MAX_IN_FLIGHT, inputs_tx.clone())?;
        drop(inputs_tx);
        let presence_lanes: Vec<_> = links.values().map(|l| l.commands.clone()).collect();

        let (history_tx, history_rx) = mpsc::channel(1024);
        let writer_store = match epoch {
            Some(epoch) => store.fenced(epoch),
            None => store.clone(),
        };
        let history =
            history_writer::spawn(writer_store, history_rx, metrics.clone(), outbox_written)
                .map_err(AppError::Http)?;
        {
            let (store, stop, wake) = (store.clone(), stop_rx.clone(), outbox_batches);
            tasks.spawn(async move {
                webhooks::run(store, clock, wake, stop, allow_private_webhook_targets).await;
                Ok(())
            });
        }

        if let Some(every) = purge_every {
            let (store, mounts, stop) = (store.clone(), recording_mounts, stop_rx.clone());
            tasks.spawn(async move {
                retention::run(store, mounts, clock, every, stop).await;
                Ok(())
            });
        }

        let (probes_tx, probes_rx) = tokio::sync::mpsc::unbounded_channel();
        publish.send_replace(Arc::new(engine.snapshot(now)));
        let task = engine_task::EngineTask {
            engine,
            clock,
            store,
            links,
            history: history_tx,
            metrics: metrics.clone(),
            probes: presence_domain.as_ref().map(|_| probes_tx),
            http,
            resynced: Default::default(),
        };
        let engine_stop = stop_rx.clone();
        tasks.spawn(async move {
            task.run(inputs_rx, requests_rx, publish, engine_stop, initial)
                .await;
            // The engine dropped its sender: the writer drains what is left, then ends.
            let _ = history.await;
            Ok(())
        });

        if let Some(domain) = presence_domain {
            let mut stop = stop_rx;
            tasks.spawn(async move {
                tokio::select! {
                    () = presence::publish(snapshots, presence_lanes, domain, pause_reasons, metrics, probes_rx) => {}
                    _ = stop.wait_for(|s| *s) => {}
                }
                Ok(())
            });
        }
        Ok(())
    }
}

/// Applies the provisioned tokens and, when auth is on and no admin token exists (a fresh
/// install, or a file that provisions only other roles), makes the `bootstrap` admin token, so
/// a fresh install is never open and never locked. The token is printed on stdout this once
/// (the log says so, without the token) and only its digest is kept.
async fn auth_at_start(
    store: &Store,
    options: &AuthOptions,
    now: crate::engine::Timestamp,
) -> Result<(crate::api::Auth, Option<crate::config::BearerToken>), AppError> {
    use crate::config::{BearerToken, Role, TokenName};
    use crate::store::TokenRow;
    for token in &options.tokens {
        store
            .upsert_token(&TokenRow::from_provisioned(token, now))
            .await?;
    }
    let mut tokens = store.list_tokens().await?;
    let mut bootstrap = None;
    if !options.enabled {
        warn!(
            "API authentication is off ([http] auth = false): anyone who reaches the HTTP port \
             may read and change everything; use this in a lab only"
        );
    } else if !tokens.iter().any(|t| t.role == Role::Admin) {
        let token = BearerToken::generate();
        // "bootstrap", or "bootstrap-N" when a token of another role has the name.
        let mut attempt = 0;
        let row = loop {
            let row = TokenRow {
                name: TokenName::bootstrap(attempt),
                role: Role::Admin,
                agent: None,
                hash: token.hash(),
                created_at: now,
            };
            if store.insert_token(&row).await? {
                break row;
            }
            attempt += 1;
        };
        let name = row.name.clone();
        tokens.push(row);
        println!(
            "\n\
             ==========================================================================\n\
             No admin API token existed, so Switchboard made one named \"{name}\".\n\
             It is shown this once and stored only as a hash:\n\
             \n    {}\n\n\
             Send it as \"Authorization: Bearer <token>\". Make your own tokens\n\
             (POST /v1/tokens, or [[token]] in the provisioning file), then delete\n\
             this one: DELETE /v1/tokens/{name}\n\
             ==========================================================================\n",
            token.expose()
        );
        warn!(
            token = %name,
            "no admin API token existed: made one and printed it on standard output, this once \
             (the log never shows it); make your own tokens and delete it"
        );
        bootstrap = Some(token);
    }
    Ok((crate::api::Auth::new(options.enabled, &tokens), bootstrap))
}

/// Turns the config and provisioning files into start options (binds the HTTP listener).
pub async fn options_from_config(
    config: &crate::config::Config,
    provisioning: &crate::config::Provisioning,
) -> std::io::Result<StartOptions> {
    let http = TcpListener::bind(config.http.listen).await?;
    let defaults = config.routing;
    let queues = provisioning
        .queues
        .iter()
        .map(|q| QueueRow::from_provisioned(q, &defaults))
        .collect();
    let agents = provisioning
        .agents
        .iter()
        .map(AgentRow::from_provisioned)
        .collect();
    let switches = config
        .switches
        .iter()
        .map(|s| SwitchSettings {
            name: s.name.clone(),
            host: s.esl.host.clone(),
            port: s.esl.port,
            password: s.password.expose().to_owned(),
            liveness_timeout: s.heartbeat_timeout,
            reconnect_max: s.reconnect_max,
            command_connections: 2,
            recordings_dir: s.recordings_dir.clone(),
            recordings_mount: s.recordings_mount.clone(),
        })
        .collect();
    Ok(StartOptions {
        http,
        database_url: config.database.url.clone(),
        switches,
        asterisk: config
            .asterisk_switches
            .iter()
            .map(|s| AriSettings {
                name: s.name.clone(),
                url: s.ari.to_string(),
                user: s.user.clone(),
                password: s.password.expose().to_owned(),
                app: s.app.clone(),
                liveness_timeout: s.heartbeat_timeout,
                reconnect_max: s.reconnect_max,
                recordings_dir: s.recordings_dir.clone(),
                recordings_mount: s.recordings_mount.clone(),
            })
            .collect(),
        queues,
        agents,
        log_in: Vec::new(),
        busy_backoff: defaults.busy_backoff,
        seed: 0,
        presence_domain: config.presence_domain.clone(),
        hot_desk_moves: config.hot_desk_moves,
        phone_prompts: config.phone_prompts.clone(),
        hot_desk_extension: config.hot_desk_extension.clone(),
        flows: config.flows.clone(),
        pause_reasons: provisioning
            .pause_reasons
            .iter()
            .map(crate::store::PauseReasonRow::from_provisioned)
            .collect(),
        auth: AuthOptions {
            enabled: config.http.auth,
            tokens: provisioning.tokens.clone(),
        },
        webhooks: provisioning.webhooks.clone(),
        allow_private_webhook_targets: provisioning.allow_private_webhook_targets,
        evaluation_forms: provisioning.evaluation_forms.clone(),
        purge_every: Some(config.recordings.purge_every),
        http_limits: http_limits(&config.http),
        reach: config
            .switches
            .iter()
            .map(|s| (&s.name, &s.reach))
            .chain(config.asterisk_switches.iter().map(|s| (&s.name, &s.reach)))
            .flat_map(|(from, reach)| {
                reach
                    .iter()
                    .map(|(to, template)| (from.clone(), to.clone(), template.clone()))
            })
            .collect(),
        routing_defaults: defaults,
        external_dial: config.external_dial.clone(),
        stats: config.stats.clone(),
    })
}

/// The HTTP server's limits: the built-in defaults, with what `[http]` sets.
fn http_limits(http: &crate::config::HttpConfig) -> crate::api::HttpLimits {
    let defaults = crate::api::HttpLimits::default();
    crate::api::HttpLimits {
        header_read_timeout: http.header_timeout.unwrap_or(defaults.header_read_timeout),
        idle_timeout: http.idle_timeout.unwrap_or(defaults.idle_timeout),
        max_connections: http.max_connections.unwrap_or(defaults.max_connections),
    }
}

fn duration(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

fn queue_settings(row: QueueRow, busy_backoff: Duration) -> QueueSettings {
    QueueSettings {
        id: row.id,
        name: row.name,
        moh: row.moh,
        wrap_up: duration(row.wrap_up_ms),
        ring_timeout: duration(row.ring_timeout_ms),
        busy_backoff: row.busy_backoff_ms.map_or(busy_backoff, duration),
        routing: row.routing,
    }
}

fn agent_settings(row: AgentRow) -> AgentSettings {
    let mut skills = row.skills;
    crate::engine::routing::canonical(&mut skills);
    AgentSettings {
        id: row.id,
        name: row.name,
        dial_string: row.dial_string.as_str().to_owned(),
        queues: row.queues,
        skills,
        pin: row.pin_hash,
    }
}

/// An open call whose last callback request was never connected, as the engine restores it.
fn pending_callback(
    call: &crate::store::CallRow,
    events: &[crate::store::QueueEventRow],
) -> Option<crate::engine::PendingCallback> {
    use crate::engine::QueueEventKind;
    let requested = events
        .iter()
        .rposition(|e| e.kind == QueueEventKind::CallbackRequested)?;
    let after = &events[requested + 1..];
    if after.iter().any(|e| {
        matches!(
            e.kind,
            QueueEventKind::Connect | QueueEventKind::CallbackConnected
        )
    }) {
        return None;
    }
    let request = &events[requested];
    let number = request.detail.strip_prefix("number=")?.to_owned();
    let attempts = after
        .iter()
        .filter(|e| e.kind == QueueEventKind::CallbackAttempted)
        .count();
    Some(crate::engine::PendingCallback {
        call: call.id,
        switch: call.switch.clone(),
        channel: call.caller_channel.clone(),
        queue: request.queue.clone(),
        caller_number: call.caller_number.clone(),
        caller_name: call.caller_name.clone(),
        destination: call.destination.clone(),
        entered_at: call.entered_at,
        priority: call.priority,
        number,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Provisioning, RoutingDefaults};

    fn example() -> Provisioning {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("provisioning.example.toml");
        match Provisioning::load(&path) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn provisioned_routing_reaches_the_engine_settings() {
        let p = example();
        let defaults = RoutingDefaults::default();
        let mut support = QueueRow::from_provisioned(&p.queues[0], &defaults);
        let settings = queue_settings(support.clone(), Duration::from_secs(12));
        assert_eq!(settings.routing, p.queues[0].routing);
        assert_eq!(settings.busy_backoff, Duration::from_secs(12));

        support.busy_backoff_ms = Some(2_500);
        let settings = queue_settings(support, Duration::from_secs(12));
        assert_eq!(settings.busy_backoff, Duration::from_millis(2_500));

        let carla = agent_settings(AgentRow::from_provisioned(&p.agents[2]));
        assert_eq!(carla.queues, p.agents[2].queues);
        assert_eq!(carla.skills, p.agents[2].skills);
        assert_eq!(carla.level(&p.agents[2].skills[0].skill), 9);
    }
}
