//! Spawns the real controller and the simulator on port 0, with a fresh SQLite file per test.

use std::future::Future;
use std::time::{Duration, Instant};

use switchboard::app::{self, AuthOptions, Running, StartOptions};
use switchboard::config::{BearerToken, DialString, ProvisionedToken, Role, TokenName};
use switchboard::engine::{
    parse_skill_list, AgentId, Membership, QueueId, QueueRouting, SwitchName,
};
use switchboard::esl::SwitchSettings;
use switchboard::sim::{EntryPoint, PhoneBehavior, PhoneSpec, SimConfig, SimHandle, Simulator};
use switchboard::store::{AgentRow, QueueRow};
use tokio::net::TcpListener;

pub const ENTRY: &str = "5000";

pub struct TestApp {
    pub running: Option<Running>,
    pub sim: SimHandle,
    pub base: String,
    /// Sends the admin token (`admin_token`) with every request.
    pub http: reqwest::Client,
    /// Provisioned as the `test-admin` token at every start, so tests that are not about
    /// authentication need not think of it.
    pub admin_token: BearerToken,
    /// Tokens provisioned at start besides `test-admin`.
    pub tokens: Vec<ProvisionedToken>,
    /// `[[webhook]]`s, as the provisioning file would give them.
    pub webhooks: Vec<switchboard::store::Subscription>,
    /// `[webhook_settings] allow_private_targets`: on, since the tests' receivers listen on
    /// 127.0.0.1; a test of the refusal turns it off.
    pub allow_private_webhook_targets: bool,
    /// `[http] auth` (true unless a test turns it off).
    pub auth: bool,
    pub database_url: String,
    /// Publish BLF presence in this domain (the controller's `[presence] domain`).
    pub presence_domain: Option<String>,
    /// Pause reasons provisioned at start.
    pub pause_reasons: Vec<switchboard::store::PauseReasonRow>,
    /// `[agents] hot_desk = "move"` (true, the default) or `"refuse"`.
    pub hot_desk_moves: bool,
    /// The IVR flows directory given at start.
    pub flows: Option<std::path::PathBuf>,
    /// The simulated switch's `recordings_mount` (none: recordings are metadata only).
    pub recordings_mount: Option<std::path::PathBuf>,
    /// `[[evaluation_form]]`s (none: the standard form).
    pub evaluation_forms: Vec<switchboard::config::EvaluationForm>,
    /// `[recordings] purge_every`; none (the default here): the purge runs only when asked.
    pub purge_every: Option<Duration>,
    /// `[transfer] external_dial` for the controller (set before `start_with`).
    pub external_dial: Option<switchboard::engine::ExternalDial>,
    /// The switch's own record of channels, checked against the history when the app is
    /// dropped (see `invariants`).
    pub ledger: Option<crate::invariants::Ledger>,
    /// A second switch the controller drives as well (see `two_switches`).
    pub second: Option<SecondSwitch>,
    /// The simulated Asterisk the controller drives instead of `sim` (see `kinds`): `sim` is
    /// then a FreeSWITCH simulator nobody connects to.
    pub ari: Option<switchboard::sim_ari::AriSimHandle>,
    pub _dir: tempfile::TempDir,
}

/// The second simulated switch of a two-switch test, checked like the first when the app is
/// dropped, and the `[switch.reach]` routes (from, to, template) the controller is given.
pub struct SecondSwitch {
    pub name: &'static str,
    pub sim: SimHandle,
    pub ledger: Option<crate::invariants::Ledger>,
    pub reach: Vec<(SwitchName, SwitchName, String)>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let Some(ledger) = self.ledger.take() else {
            return;
        };
        let mut broken =
            crate::invariants::violations(&ledger, &self.database_url, &self.sim.recorded());
        if let Some(second) = self.second.as_mut() {
            if let Some(ledger) = second.ledger.take() {
                broken.extend(crate::invariants::violations(
                    &ledger,
                    &self.database_url,
                    &second.sim.recorded(),
                ));
            }
        }
        assert!(
            broken.is_empty(),
            "what must always hold did not:\n{}",
            broken.join("\n")
        );
    }
}

pub struct Agent {
    pub id: &'static str,
    pub behavior: PhoneBehavior,
    pub hangup_after_talk: Option<Duration>,
    pub logged_in: bool,
    /// Queues served, in order (default: `support`).
    pub queues: Vec<&'static str>,
    /// Skills such as `"spanish:7,billing"`.
    pub skills: &'static str,
    /// A PIN for hot-desking (stored hashed).
    pub pin: Option<&'static str>,
}

impl Agent {
    pub fn answering(id: &'static str) -> Self {
        Self {
            id,
            behavior: PhoneBehavior::Answer {
                after: Duration::from_millis(50),
            },
            hangup_after_talk: None,
            logged_in: true,
            queues: vec!["support"],
            skills: "",
            pin: None,
        }
    }

    pub fn with_pin(mut self, pin: &'static str) -> Self {
        self.pin = Some(pin);
        self
    }

    pub fn in_queues(mut self, queues: &[&'static str]) -> Self {
        self.queues = queues.to_vec();
        self
    }

    pub fn skilled(mut self, skills: &'static str) -> Self {
        self.skills = skills;
        self
    }

    pub fn with(mut self, behavior: PhoneBehavior) -> Self {
        self.behavior = behavior;
        self
    }

    pub fn logged_out(mut self) -> Self {
        self.logged_in = false;
        self
    }

    pub fn hanging_up_after(mut self, talk: Duration) -> Self {
        self.hangup_after_talk = Some(talk);
        self
    }
}

/// A client that sends `token` as its bearer token with every request.
pub fn client_with(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
        .expect("token as a header");
    headers.insert(reqwest::header::AUTHORIZATION, value);
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("client")
}

fn admin_client(token: &BearerToken) -> reqwest::Client {
    client_with(token.expose())
}

/// A `[[token]]` for `token`, as the provisioning file would give it.
pub fn provisioned_token(
    name: &str,
    role: Role,
    agent: Option<&str>,
    token: &BearerToken,
) -> ProvisionedToken {
    ProvisionedToken {
        name: TokenName::new(name).expect("token name"),
        role,
        agent: agent.map(|a| AgentId::new(a).expect("agent id")),
        hash: token.hash(),
    }
}

pub async fn start_sim() -> SimHandle {
    start_sim_with(Vec::new()).await
}

/// A simulator whose dialplan parks `5000` for `support`, plus `entries`.
pub async fn start_sim_with(entries: Vec<EntryPoint>) -> SimHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind sim");
    let mut entry_points = vec![EntryPoint {
        number: ENTRY.into(),
        variables: vec![("switchboard_queue".into(), "support".into())],
    }];
    entry_points.extend(entries);
    Simulator::start(
        listener,
        SimConfig {
            heartbeat_interval: Duration::from_secs(1),
            entry_points,
            ..SimConfig::default()
        },
    )
    .await
    .expect("start sim")
}

/// A queue as the controller is given it: 3 s ring timeout, no wrap-up unless set.
pub fn queue_row(id: &str, routing: QueueRouting) -> QueueRow {
    QueueRow {
        id: QueueId::new(id).expect("id"),
        name: id.to_owned(),
        moh: "local_stream://moh".into(),
        wrap_up_ms: 0,
        ring_timeout_ms: 3_000,
        busy_backoff_ms: None,
        routing,
    }
}

/// A controller and simulator with several queues and more dialplan entries.
pub struct Setup {
    pub queues: Vec<QueueRow>,
    pub agents: Vec<Agent>,
    pub entries: Vec<EntryPoint>,
}

pub async fn spawn_setup(setup: Setup) -> TestApp {
    spawn_setup_with_presence(setup, None).await
}

/// As `spawn_setup`, publishing BLF presence in `domain` when given.
pub async fn spawn_setup_with_presence(setup: Setup, domain: Option<&str>) -> TestApp {
    let sim = start_sim_with(setup.entries).await;
    for a in &setup.agents {
        sim.add_phone(PhoneSpec {
            user: a.id.into(),
            behavior: a.behavior.clone(),
            hangup_after_talk: a.hangup_after_talk,
        });
    }
    let sim_addr = sim.esl_addr();
    let ledger = crate::invariants::Ledger::listen(sim_addr).await;
    let mut app = TestApp::unstarted(sim, ledger);
    app.presence_domain = domain.map(str::to_owned);
    app.start_with(setup.queues, &setup.agents).await;
    app
}

pub async fn spawn_app(agents: Vec<Agent>, wrap_up: Duration) -> TestApp {
    let sim = start_sim().await;
    for a in &agents {
        sim.add_phone(PhoneSpec {
            user: a.id.into(),
            behavior: a.behavior.clone(),
            hangup_after_talk: a.hangup_after_talk,
        });
    }
    let sim_addr = sim.esl_addr();
    let ledger = crate::invariants::Ledger::listen(sim_addr).await;
    let mut app = TestApp::unstarted(sim, ledger);
    app.start_controller(&agents, wrap_up).await;
    app
}

impl TestApp {
    /// A test app around `sim`, with a fresh SQLite file and the defaults every test starts
    /// from; the controller is not started yet.
    pub fn unstarted(sim: SimHandle, ledger: crate::invariants::Ledger) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let database_url = format!("sqlite://{}", dir.path().join("test.db").display());
        let admin_token = BearerToken::generate();
        TestApp {
            running: None,
            sim,
            base: String::new(),
            http: admin_client(&admin_token),
            admin_token,
            tokens: Vec::new(),
            webhooks: Vec::new(),
            allow_private_webhook_targets: true,
            auth: true,
            database_url,
            presence_domain: None,
            pause_reasons: Vec::new(),
            hot_desk_moves: true,
            flows: None,
            recordings_mount: None,
            evaluation_forms: Vec::new(),
            purge_every: None,
            external_dial: None,
            ledger: Some(ledger),
            second: None,
            ari: None,
            _dir: dir,
        }
    }

    pub async fn start_controller(&mut self, agents: &[Agent], wrap_up: Duration) {
        let mut support = queue_row("support", QueueRouting::default());
        support.name = "Support".into();
        support.wrap_up_ms = i64::try_from(wrap_up.as_millis()).expect("small");
        self.start_with(vec![support], agents).await;
    }

    pub async fn start_with(&mut self, queues: Vec<QueueRow>, agents: &[Agent]) {
        let http = TcpListener::bind("127.0.0.1:0").await.expect("bind http");
        let running = app::start(StartOptions {
            http,
            database_url: self.database_url.clone(),
            asterisk: self
                .ari
                .as_ref()
                .map(|ari| crate::kinds::ari_settings(ari, self.recordings_mount.clone()))
                .into_iter()
                .collect(),
            switches: std::iter::once(SwitchSettings {
                name: SwitchName::new("sim").expect("name"),
                host: "127.0.0.1".into(),
                port: self.sim.esl_addr().port(),
                password: "ClueCon".into(),
                liveness_timeout: Duration::from_secs(5),
                reconnect_max: Duration::from_millis(300),
                command_connections: 2,
                recordings_dir: switchboard::config::DEFAULT_RECORDINGS_DIR.into(),
                recordings_mount: self.recordings_mount.clone(),
            })
            .filter(|_| self.ari.is_none())
            .chain(self.second.as_ref().map(|second| SwitchSettings {
                name: SwitchName::new(second.name).expect("name"),
                host: "127.0.0.1".into(),
                port: second.sim.esl_addr().port(),
                password: "ClueCon".into(),
                liveness_timeout: Duration::from_secs(5),
                reconnect_max: Duration::from_millis(300),
                command_connections: 2,
                recordings_dir: switchboard::config::DEFAULT_RECORDINGS_DIR.into(),
                recordings_mount: None,
            }))
            .collect(),
            queues,
            agents: agents
                .iter()
                .map(|a| AgentRow {
                    id: AgentId::new(a.id).expect("id"),
                    name: format!("Agent {}", a.id),
                    dial_string: DialString::parse(&format!("user/{}", a.id)).expect("dial"),
                    queues: a
                        .queues
                        .iter()
                        .zip(1..)
                        .map(|(q, position)| {
                            Membership::new(QueueId::new(*q).expect("id"), position)
                        })
                        .collect(),
                    skills: parse_skill_list(a.skills).expect("skills"),
                    pin_hash: a
                        .pin
                        .map(|pin| switchboard::engine::PinHash::new(pin, [9; 16])),
                })
                .collect(),
            log_in: agents
                .iter()
                .filter(|a| a.logged_in)
                .map(|a| AgentId::new(a.id).expect("id"))
                .collect(),
            busy_backoff: Duration::from_secs(60),
            seed: 0,
            presence_domain: self.presence_domain.clone(),
            pause_reasons: self.pause_reasons.clone(),
            hot_desk_moves: self.hot_desk_moves,
            phone_prompts: Default::default(),
            hot_desk_extension: Some(switchboard::engine::HOT_DESK_EXTENSION.to_owned()),
            flows: self.flows.clone(),
            auth: AuthOptions {
                enabled: self.auth,
                tokens: std::iter::once(provisioned_token(
                    "test-admin",
                    Role::Admin,
                    None,
                    &self.admin_token,
                ))
                .chain(self.tokens.iter().cloned())
                .collect(),
            },
            webhooks: self.webhooks.clone(),
            allow_private_webhook_targets: self.allow_private_webhook_targets,
            evaluation_forms: self.evaluation_forms.clone(),
            purge_every: self.purge_every,
            http_limits: Default::default(),
            reach: self
                .second
                .as_ref()
                .map(|second| second.reach.clone())
                .unwrap_or_default(),
            routing_defaults: Default::default(),
            external_dial: self.external_dial.clone(),
            stats: Default::default(),
        })
        .await
        .expect("start controller");
        self.base = format!("http://{}", running.http_addr);
        self.running = Some(running);
    }

    pub fn running(&self) -> &Running {
        self.running.as_ref().expect("controller running")
    }

    pub async fn stop_controller(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.expect("clean stop");
        }
    }

    /// A client holding a new token of `role` (for `agent`, with an agent's role), made over
    /// the API with the harness's admin token.
    pub async fn client_for(&self, name: &str, role: &str, agent: Option<&str>) -> reqwest::Client {
        let made: serde_json::Value = self
            .http
            .post(format!("{}/v1/tokens", self.base))
            .json(&serde_json::json!({ "name": name, "role": role, "agent": agent }))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("JSON");
        client_with(made["token"].as_str().expect("a token"))
    }

    /// An agent's status as `GET /v1/agents/{id}` shows it (empty for an unknown agent).
    pub async fn agent_status(&self, agent: &str) -> String {
        let body: serde_json::Value = self
            .get(&format!("/v1/agents/{agent}"))
            .await
            .json()
            .await
            .expect("json");
        body["status"].as_str().unwrap_or_default().to_owned()
    }

    /// `GET /v1/calls/{id}`: the call's history row, its queue events and what is live of it.
    pub async fn call_view(&self, call: &str) -> serde_json::Value {
        self.get(&format!("/v1/calls/{call}"))
            .await
            .json()
            .await
            .expect("JSON")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request")
    }

    pub async fn put_json(&self, path: &str, body: serde_json::Value) -> reqwest::Response {
        self.http
            .put(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    pub async fn set_agent_state(&self, agent: &str, state: &str) -> reqwest::Response {
        self.put_json(
            &format!("/v1/agents/{agent}/state"),
            serde_json::json!({ "state": state }),
        )
        .await
    }

    /// Waits until the controller is connected and has resynced (an initial snapshot exists).
    pub async fn connected(&self) {
        let metrics = self.running().metrics.clone();
        eventually("the controller connects to the switch", || {
            let m = metrics.clone();
            async move { m.esl_connects.load(std::sync::atomic::Ordering::Relaxed) >= 1 }
        })
        .await;
    }
}

/// Waits until the snapshot shows `agent` in `status`.
pub async fn wait_status(app: &TestApp, agent: &str, status: switchboard::engine::AgentStatus) {
    eventually(&format!("{agent} is {}", status.as_str()), || async move {
        app.running()
            .snapshot()
            .agents
            .iter()
            .any(|a| a.id.as_str() == agent && a.status == status)
    })
    .await;
}

/// Polls `condition` until it holds, failing the test with `what` after a deadline. No test
/// sleeps to synchronise: each waits for the state it needs.
pub async fn eventually<F, Fut>(what: &str, condition: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if condition().await {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The shipped feature-code dialplan (`dialplans/switchboard-features.xml`) as simulator entry
/// points for `numbers`: a number takes the first extension whose `destination_number`
/// expression matches it, with the variables its `set` actions give (`$1` filled from the
/// match). `collected` stands in for what its `play_and_get_digits` would read from the caller.
/// Panics when an extension does not end in `park` (the controller would never see the call).
pub fn shipped_feature_codes(numbers: &[&str], collected: &[(&str, &str)]) -> Vec<EntryPoint> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/dialplans/switchboard-features.xml"
    );
    let xml = std::fs::read_to_string(path).expect("the shipped dialplan");
    let extension =
        regex::Regex::new(r#"(?s)<extension name="([^"]+)">(.*?)</extension>"#).expect("regex");
    let expression = regex::Regex::new(r#"expression="([^"]+)""#).expect("regex");
    let action = regex::Regex::new(r#"<action application="([a-z_]+)"(?: data="([^"]*)")?\s*/>"#)
        .expect("regex");
    /// An extension's name, its destination pattern and its actions (application, data).
    type Extension = (String, regex::Regex, Vec<(String, String)>);
    let extensions: Vec<Extension> = extension
        .captures_iter(&xml)
        .map(|ext| {
            let (name, body) = (ext[1].to_owned(), &ext[2]);
            let pattern = expression
                .captures(body)
                .map(|c| c[1].to_owned())
                .unwrap_or_else(|| panic!("extension {name} has no expression"));
            let pattern = regex::Regex::new(&pattern).expect("the dialplan's regex");
            let actions = action
                .captures_iter(body)
                .map(|a| {
                    (
                        a[1].to_owned(),
                        a.get(2).map_or(String::new(), |d| d.as_str().to_owned()),
                    )
                })
                .collect::<Vec<_>>();
            assert_eq!(
                actions.last().map(|(app, _)| app.as_str()),
                Some("park"),
                "extension {name} must end in park"
            );
            (name, pattern, actions)
        })
        .collect();
    numbers
        .iter()
        .map(|number| {
            let (name, captures, actions) = extensions
                .iter()
                .find_map(|(name, pattern, actions)| {
                    pattern.captures(number).map(|c| (name, c, actions))
                })
                .unwrap_or_else(|| panic!("no extension of the shipped dialplan matches {number}"));
            let mut variables = Vec::new();
            for (app, data) in actions {
                match app.as_str() {
                    "set" => {
                        let (key, value) = data.split_once('=').expect("set k=v");
                        let mut value = value.to_owned();
                        for i in 1..captures.len() {
                            let group = captures.get(i).map_or("", |m| m.as_str());
                            value = value.replace(&format!("${i}"), group);
                        }
                        variables.push((key.to_owned(), value));
                    }
                    "play_and_get_digits" => {
                        let var = data.split(' ').nth(7).expect("pagd variable");
                        let (_, digits) =
                            collected
                                .iter()
                                .find(|(k, _)| *k == var)
                                .unwrap_or_else(|| {
                                    panic!("{name} collects {var}: say what the caller keys")
                                });
                        variables.push((var.to_owned(), (*digits).to_owned()));
                    }
                    "answer" | "park" => {}
                    other => panic!("{name}: the simulator cannot stand in for {other}"),
                }
            }
            EntryPoint {
                number: (*number).to_owned(),
                variables,
            }
        })
        .collect()
}

/// A `serve` config in `dir` for the simulator, with one queue; returns its path.
pub fn serve_config(
    dir: &std::path::Path,
    sim: &switchboard::sim::SimHandle,
    password: &str,
) -> std::path::PathBuf {
    let config = dir.join("switchboard.toml");
    std::fs::write(
        dir.join("provisioning.toml"),
        "[[queue]]\nid = \"support\"\nname = \"Support\"\n",
    )
    .expect("write");
    std::fs::write(
        &config,
        format!(
            "provisioning = \"provisioning.toml\"\n[http]\nlisten = \"127.0.0.1:0\"\n[database]\nurl = \"sqlite://{}\"\n[[switch]]\nname = \"fs1\"\nesl = \"{}\"\npassword = \"{password}\"\n",
            dir.join("db.sqlite").display(),
            sim.esl_addr()
        ),
    )
    .expect("write");
    config
}

/// `<queue> <kind>` of each queue event in a `GET /v1/calls/{id}` body, in order.
pub fn queue_event_kinds(body: &serde_json::Value) -> Vec<String> {
    body["queue_events"]
        .as_array()
        .expect("queue events")
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["queue"].as_str().unwrap_or(""),
                e["kind"].as_str().unwrap_or("")
            )
        })
        .collect()
}
