//! The `switchboard` binary: `serve`, `demo`, `check`, `doctor`, `hash-pin`, `token`, `flow`
//! and `openapi`. Errors become exit codes here.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use switchboard::app::{self, demo, AppError};
use switchboard::config::{
    check_token_agent, BearerToken, Config, ConfigError, Provisioning, Role, TokenName,
};
use switchboard::engine::{AgentId, QueueId};
use switchboard::flow::{parse_flow, render, FlowSet, Format};
use switchboard::logging::{self, LogFormat};

/// Parsing the switch's events allocates thousands of small strings a second; mimalloc serves
/// them with a fraction of glibc malloc's cost (`docs/performance.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// EX_CONFIG: a supervisor should not restart us in a loop for this.
const EXIT_CONFIG: u8 = 78;

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Contact-center control plane for FreeSWITCH"
)]
struct Cli {
    /// How `serve` and `demo` log on standard error: `text` (coloured only on a terminal) or
    /// `json` (one object per line). `RUST_LOG` picks what is logged (default: `info` for
    /// Switchboard with `serve`, `warn` with `demo`).
    #[arg(long, global = true, default_value = "text", value_parser = parse_log_format)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

fn parse_log_format(s: &str) -> Result<LogFormat, String> {
    s.parse()
}

#[derive(Subcommand)]
enum Command {
    /// Run the controller against the FreeSWITCH servers in the config file.
    Serve {
        #[arg(long, default_value = "switchboard.toml")]
        config: PathBuf,
    },
    /// Run a whole contact center on this machine: simulated switch, agents and callers.
    Demo {
        /// Stop by itself after this long (for example `30s`); runs until Ctrl-C otherwise.
        #[arg(long, value_parser = humantime::parse_duration)]
        duration: Option<Duration>,
        /// Where the REST API listens.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Number of simulated agents.
        #[arg(long, default_value_t = 8)]
        agents: usize,
        /// New callers per second.
        #[arg(long, default_value_t = 0.6)]
        rate: f64,
        /// Which switch to simulate: `freeswitch` (over ESL) or `asterisk` (over ARI).
        #[arg(long = "switch", value_enum, default_value_t = demo::DemoSwitch::Freeswitch)]
        switch: demo::DemoSwitch,
    },
    /// Validate a config file (and the provisioning file it names) and exit.
    Check {
        #[arg(long)]
        config: PathBuf,
    },
    /// Connect to each switch of a config file and check its installation: ESL, modules,
    /// dialplan, hold music, recordings folder, phones. Exits 1 when a check fails.
    Doctor {
        #[arg(long)]
        config: PathBuf,
    },
    /// Print the hash of an agent's PIN for `pin_hash` in the provisioning file. The PIN is
    /// read from standard input (one line), so it stays out of the shell history.
    HashPin,
    /// IVR flow files: check them, or draw one.
    Flow {
        #[command(subcommand)]
        action: FlowCommand,
    },
    /// API tokens for the provisioning file's `[[token]]`, which keeps only their SHA-256.
    Token {
        #[command(subcommand)]
        action: TokenCommand,
    },
    /// Print the OpenAPI 3.1 description of the REST API, as `GET /v1/openapi.json` serves it
    /// (to generate a client without a running controller).
    Openapi,
    /// CRM webhooks: make a signing secret for a `[[webhook]]` of the provisioning file.
    Webhook {
        #[command(subcommand)]
        action: WebhookCommand,
    },
}

#[derive(Subcommand)]
enum WebhookCommand {
    /// Print a new `whsec_` secret (give it to the receiver and to `secrets`).
    Secret,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Read a token from standard input (one line) and print the `sha256 = "..."` line for it.
    Hash,
    /// Make a new token: print it, and the `[[token]]` entry for the provisioning file.
    New {
        #[arg(long)]
        name: String,
        /// admin, supervisor, agent or integration.
        #[arg(long)]
        role: String,
        /// The agent a token with role `agent` is bound to.
        #[arg(long)]
        agent: Option<String>,
    },
}

#[derive(Subcommand)]
enum FlowCommand {
    /// Check a flow directory, or one file together with the flows beside it. With
    /// `--config`, also check that every queue a flow enqueues to is provisioned.
    Check {
        path: PathBuf,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Draw one flow file on standard output.
    Render {
        file: PathBuf,
        /// svg, dot or mermaid.
        #[arg(long, default_value = "svg")]
        format: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { config } => check(&config),
        Command::Doctor { config } => doctor(&config).await,
        Command::HashPin => hash_pin(),
        Command::Openapi => openapi(),
        Command::Token {
            action: TokenCommand::Hash,
        } => token_hash(),
        Command::Token {
            action: TokenCommand::New { name, role, agent },
        } => token_new(name, &role, agent),
        Command::Webhook {
            action: WebhookCommand::Secret,
        } => {
            println!("{}", switchboard::cti::signing::Secret::generate());
            ExitCode::SUCCESS
        }
        Command::Flow {
            action: FlowCommand::Check { path, config },
        } => flow_check(&path, config.as_deref()),
        Command::Flow {
            action: FlowCommand::Render { file, format },
        } => flow_render(&file, &format),
        Command::Serve { config } => {
            logging::init(cli.log_format, "info");
            serve(config).await
        }
        Command::Demo {
            duration,
            listen,
            agents,
            rate,
            switch,
        } => {
            // The demo prints its own progress; its log shows what went wrong (the cause of
            // a 500, a lost switch) unless RUST_LOG asks for more.
            logging::init(cli.log_format, "warn");
            let options = demo::DemoOptions {
                duration,
                listen,
                agents,
                rate,
                switch,
            };
            match demo::run(options).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("demo failed: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn hash_pin() -> ExitCode {
    let mut line = String::new();
    if std::io::stdin().read_line(&mut line).is_err() {
        eprintln!("cannot read the PIN from standard input");
        return ExitCode::from(EXIT_CONFIG);
    }
    let pin = line.trim();
    if !switchboard::engine::pin::is_pin(pin) {
        eprintln!("{}", switchboard::engine::pin::PIN_RULE);
        return ExitCode::from(EXIT_CONFIG);
    }
    let salt: [u8; 16] = rand::random();
    println!("{}", switchboard::engine::PinHash::new(pin, salt));
    ExitCode::SUCCESS
}

fn openapi() -> ExitCode {
    match serde_json::to_string_pretty(&switchboard::api::openapi_document()) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot write the OpenAPI document: {e}");
            ExitCode::FAILURE
        }
    }
}

fn token_hash() -> ExitCode {
    let mut line = String::new();
    if std::io::stdin().read_line(&mut line).is_err() {
        eprintln!("cannot read the token from standard input");
        return ExitCode::from(EXIT_CONFIG);
    }
    match BearerToken::parse(line.trim()) {
        Ok(token) => {
            println!("sha256 = \"{}\"", token.hash().to_hex());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

fn token_new(name: String, role: &str, agent: Option<String>) -> ExitCode {
    let checked = (|| -> Result<(TokenName, Role, Option<AgentId>), String> {
        let name = TokenName::new(name).map_err(|e| format!("--name: {e}"))?;
        let role: Role = role.parse().map_err(|e| format!("--role: {e}"))?;
        let agent = agent
            .map(AgentId::new)
            .transpose()
            .map_err(|e| format!("--agent: {e}"))?;
        check_token_agent(role, agent.as_ref()).map_err(|e| format!("--agent: {e}"))?;
        Ok((name, role, agent))
    })();
    let (name, role, agent) = match checked {
        Ok(ok) => ok,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let token = BearerToken::generate();
    let agent_line = agent.map_or(String::new(), |a| format!("agent = \"{a}\"\n"));
    println!(
        "{}\n\n\
         # Give the token above to its holder (it is not stored anywhere), and add this to the\n\
         # provisioning file:\n\
         [[token]]\n\
         name = \"{name}\"\n\
         role = \"{role}\"\n\
         {agent_line}\
         sha256 = \"{}\"",
        token.expose(),
        token.hash().to_hex()
    );
    ExitCode::SUCCESS
}

/// The queues of the provisioning file the config names, if any.
fn provisioned_queues(config: &Config) -> Result<HashSet<QueueId>, ConfigError> {
    Ok(match &config.provisioning {
        Some(file) => Provisioning::load(file)?
            .queues
            .into_iter()
            .map(|q| q.id)
            .collect(),
        None => HashSet::new(),
    })
}

fn flow_check(path: &Path, config: Option<&Path>) -> ExitCode {
    let checked = (|| -> Result<String, ConfigError> {
        // A file is checked as part of its directory: its gotos and surveys name flows there.
        let set_path = match path.parent() {
            Some(dir) if path.is_file() && !dir.as_os_str().is_empty() => dir,
            _ => path,
        };
        // The named file is read whatever its extension (a directory's listing skips it).
        let flows = FlowSet::load_named(path)?;
        let mut report = format!(
            "{}: ok ({} flow(s))",
            set_path.display(),
            flows.flows().count()
        );
        if let Some(config) = config {
            let config = Config::load(config)?;
            flows.check_queues(&provisioned_queues(&config)?)?;
            report.push_str(", every queue provisioned");
        }
        Ok(report)
    })();
    match checked {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

fn flow_render(file: &Path, format: &str) -> ExitCode {
    let Some(format) = Format::parse(format) else {
        eprintln!("--format {format:?}: use svg, dot or mermaid");
        return ExitCode::from(EXIT_CONFIG);
    };
    let flow = std::fs::read_to_string(file)
        .map_err(|e| format!("{}: cannot read: {e}", file.display()))
        .and_then(|text| parse_flow(&text, file).map_err(|e| e.to_string()));
    match flow {
        Ok(flow) => {
            print!("{}", render(&flow, format));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

fn check(path: &std::path::Path) -> ExitCode {
    let config = match Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let queues = match provisioned_queues(&config) {
        Ok(q) => q,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let flows = match &config.flows {
        Some(dir) => match FlowSet::load(dir).and_then(|f| f.check_queues(&queues).map(|()| f)) {
            Ok(f) => f.flows().count(),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(EXIT_CONFIG);
            }
        },
        None => 0,
    };
    println!(
        "{}: ok ({} switch(es), {} queue(s), {flows} flow(s))",
        path.display(),
        config.switches.len() + config.asterisk_switches.len(),
        queues.len()
    );
    for switch in &config.switches {
        println!("  switch {}: FreeSWITCH, esl {}", switch.name, switch.esl);
    }
    for switch in &config.asterisk_switches {
        println!(
            "  switch {}: Asterisk, ari {} (user {}, Stasis app {})",
            switch.name, switch.ari, switch.user, switch.app
        );
    }
    ExitCode::SUCCESS
}

async fn doctor(path: &Path) -> ExitCode {
    let setup = match switchboard::doctor::Setup::load(path) {
        Ok(setup) => setup,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let report = switchboard::doctor::run(&setup, Default::default()).await;
    println!("{report}");
    if report.failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

async fn serve(path: PathBuf) -> ExitCode {
    match serve_inner(path).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let config_problem = e.downcast_ref::<AppError>().is_some_and(|a| {
                matches!(
                    a,
                    AppError::Link(_) | AppError::AriLink(_) | AppError::Flows(_)
                )
            }) || e
                .downcast_ref::<switchboard::store::StoreError>()
                .is_some_and(|s| {
                    matches!(s, switchboard::store::StoreError::SecondController { .. })
                })
                || e.downcast_ref::<switchboard::config::ConfigError>()
                    .is_some();
            tracing::error!("{e:#}");
            eprintln!("switchboard: {e:#}");
            if config_problem {
                ExitCode::from(EXIT_CONFIG)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

async fn serve_inner(path: PathBuf) -> anyhow::Result<()> {
    let config = Config::load(&path)?;
    let provisioning = match &config.provisioning {
        Some(file) => Provisioning::load(file)?,
        None => Provisioning::default(),
    };
    // Held until the process ends: a second `serve` on the same SQLite file is refused.
    let _owner = switchboard::store::claim_sqlite(&config.database.url)?;
    let options = app::options_from_config(&config, &provisioning)
        .await
        .context("cannot listen for HTTP")?;
    let mut signals = app::signals::StopSignals::listen();
    let mut running = match switchboard::store::Backend::from_url(&config.database.url)? {
        switchboard::store::Backend::Postgres => {
            let pair = app::leadership::PairOptions {
                name: config.ha.name.clone(),
                advertise_url: config.ha.advertise_url.clone(),
                lease: config.ha.lease,
            };
            app::leadership::start_pair(options, pair).await?
        }
        switchboard::store::Backend::Sqlite => app::start(options).await?,
    };
    tokio::select! {
        result = running.wait() => result?,
        signal = signals.wait() => {
            tracing::info!(signal, "stopping");
            running.stop().await?;
            tracing::info!("stopped");
        }
    }
    Ok(())
}
