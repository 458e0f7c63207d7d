//! `Config`: the controller's own settings (`switchboard serve --config F`): where to listen,
//! which database, which switches, routing defaults.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::asterisk::{
    check_ari_user, check_stasis_app, AriUrl, AsteriskSwitchConfig,
    DEFAULT_ASTERISK_RECORDINGS_DIR, DEFAULT_STASIS_APP,
};
use super::error::{read_capped, shown};
use super::error::{ConfigError, Source};
use super::values::{
    bounded, is_hostname, positive_bounded, redact_url, HumanDuration, MediaSource, Secret,
};
use crate::engine::recording::{has_bad_folder, is_path_char};
use crate::engine::{PhoneOutcome, PhonePrompts, SwitchName};

const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
const DEFAULT_DATABASE_URL: &str = "sqlite://switchboard.db";
const DEFAULT_HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(60);
const DEFAULT_RECONNECT_MAX: Duration = Duration::from_secs(30);
const DEFAULT_PURGE_EVERY: Duration = Duration::from_secs(3600);
/// Where FreeSWITCH packages keep recordings.
pub const DEFAULT_RECORDINGS_DIR: &str = "/var/lib/freeswitch/recordings";

/// Environment variable that replaces `[database] url` (it may carry a password).
pub const DATABASE_URL_ENV: &str = "SWITCHBOARD_DATABASE_URL";

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    /// The provisioning file, resolved against the config file's directory; `None` when the
    /// config names none (everything is provisioned over the API).
    pub provisioning: Option<PathBuf>,
    /// The IVR flows: a directory of flow files (or one file), resolved like `provisioning`.
    pub flows: Option<PathBuf>,
    /// The FreeSWITCH switches (`[[switch]]` without `kind`, or `kind = "freeswitch"`).
    pub switches: Vec<SwitchConfig>,
    /// The Asterisk switches (`[[switch]] kind = "asterisk"`); their names are unique together
    /// with those of `switches`.
    pub asterisk_switches: Vec<AsteriskSwitchConfig>,
    pub routing: RoutingDefaults,
    /// The SIP domain phones subscribe BLF keys in (`agent+<id>@<domain>`); `None`: presence
    /// is not published.
    pub presence_domain: Option<String>,
    /// An agent logged in at one phone who logs in at another: moves there (true) or is
    /// refused (false).
    pub hot_desk_moves: bool,
    /// What agents hear after a feature code (`[agents.prompts]` over the stock defaults).
    pub phone_prompts: PhonePrompts,
    /// Where a log-in from a phone no agent has is sent to ask for the agent number and PIN
    /// (`None`: refused).
    pub hot_desk_extension: Option<String>,
    /// `[recordings]`: how the recordings' retention is enforced.
    pub recordings: RecordingsConfig,
    /// `[ha]`: this controller in a pair on PostgreSQL.
    pub ha: super::HaConfig,
    /// `[transfer] external_dial` (and `allowed_prefixes`): external numbers for REST
    /// transfers and consults; `None`: refused.
    pub external_dial: Option<crate::engine::ExternalDial>,
    /// `[stats]`: the time zone, rolling window and default targets of supervisors' numbers.
    pub stats: super::StatsConfig,
}

/// `[recordings]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordingsConfig {
    /// How often the retention purge runs (`purge_every`, 1 h by default).
    pub purge_every: Duration,
}

impl Default for RecordingsConfig {
    fn default() -> Self {
        Self {
            purge_every: DEFAULT_PURGE_EVERY,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    pub listen: SocketAddr,
    /// Whether requests need a bearer token (`[http] auth`, on unless set to `false`).
    pub auth: bool,
    /// `[http] header_timeout`: a request's head must arrive within this.
    pub header_timeout: Option<Duration>,
    /// `[http] idle_timeout`: a connection with nothing read or written this long is closed.
    pub idle_timeout: Option<Duration>,
    /// `[http] max_connections`: connections served at once.
    pub max_connections: Option<usize>,
}

#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseConfig {
    /// `sqlite://path` or `postgres://…`; may hold a password, so `Debug` redacts it.
    pub url: String,
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &redact_url(&self.url))
            .finish()
    }
}

/// One FreeSWITCH the controller drives over inbound ESL.
#[derive(Debug, Clone, PartialEq)]
pub struct SwitchConfig {
    pub name: SwitchName,
    pub esl: EslAddress,
    pub password: Secret,
    /// Declare the connection dead after this long without a heartbeat event.
    pub heartbeat_timeout: Duration,
    /// The longest wait between reconnection attempts (the backoff's ceiling).
    pub reconnect_max: Duration,
    /// Where recordings are written on the switch's own disk (recording templates are
    /// relative to it). Safe path characters only: it goes into `uuid_record` commands.
    pub recordings_dir: String,
    /// Where the controller can read that directory (a mount), for downloads; `None`: it
    /// cannot, and recordings are metadata only.
    pub recordings_mount: Option<PathBuf>,
    /// `[switch.reach]`: how this switch dials users registered on each other switch, as a
    /// checked template whose `{user}` is the agent's SIP user.
    pub reach: Vec<(SwitchName, String)>,
}

impl SwitchConfig {
    /// The environment variable that overrides this switch's password (either kind).
    pub fn password_env_var(name: &SwitchName) -> String {
        let upper: String = name
            .as_str()
            .chars()
            .map(|c| match c {
                '-' | '.' => '_',
                c => c.to_ascii_uppercase(),
            })
            .collect();
        format!("SWITCHBOARD_SWITCH_{upper}_PASSWORD")
    }
}

/// Defaults for queues that do not set their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoutingDefaults {
    /// Time an agent gets after a call before the next offer.
    pub wrap_up: Duration,
    /// How long an agent's phone rings before the offer goes elsewhere.
    pub ring_timeout: Duration,
    /// How long an agent whose phone said busy is left alone.
    pub busy_backoff: Duration,
}

impl Default for RoutingDefaults {
    fn default() -> Self {
        Self {
            wrap_up: Duration::from_secs(5),
            ring_timeout: Duration::from_secs(20),
            busy_backoff: Duration::from_secs(10),
        }
    }
}

/// An ESL endpoint, `host:port` (an IPv6 address in brackets).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct EslAddress {
    pub host: String,
    pub port: u16,
}

impl fmt::Display for EslAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl std::str::FromStr for EslAddress {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, String> {
        let not = |why: &str| {
            if why.is_empty() {
                format!("{} is not host:port", shown(value))
            } else {
                format!("{} is not host:port: {why}", shown(value))
            }
        };
        let (host, port) = if let Some(rest) = value.strip_prefix('[') {
            let (ip, port) = rest
                .split_once("]:")
                .ok_or_else(|| not("an IPv6 address needs [addr]:port"))?;
            ip.parse::<Ipv6Addr>()
                .map_err(|_| not("not an IPv6 address in brackets"))?;
            (ip, port)
        } else {
            let (host, port) = value.rsplit_once(':').ok_or_else(|| not(""))?;
            if host.contains(':') {
                return Err(not("write an IPv6 address as [addr]:port"));
            }
            if host.parse::<IpAddr>().is_err() && !is_hostname(host) {
                return Err(not("the host is not a hostname or an IP address"));
            }
            (host, port)
        };
        let port = match port.parse::<u16>() {
            Ok(p) if p > 0 && port.bytes().all(|b| b.is_ascii_digit()) => p,
            _ => return Err(not("the port is not a number from 1 to 65535")),
        };
        Ok(Self {
            host: host.to_owned(),
            port,
        })
    }
}

impl TryFrom<String> for EslAddress {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        value.parse()
    }
}

/// The most `[http] max_connections` may say: more than the file descriptors a process has.
const MAX_HTTP_CONNECTIONS: u64 = 1_000_000;

/// `[http] listen`: an IP address and a port (no host names: we bind it).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "String")]
struct ListenAddr(SocketAddr);

impl TryFrom<String> for ListenAddr {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        value.parse().map(ListenAddr).map_err(|_| {
            format!(
                "{} is not an IP address and port like \"127.0.0.1:8080\"",
                shown(&value)
            )
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    provisioning: Option<PathBuf>,
    flows: Option<PathBuf>,
    #[serde(default)]
    http: RawHttp,
    #[serde(default)]
    database: RawDatabase,
    #[serde(default, rename = "switch")]
    switches: Vec<RawSwitch>,
    #[serde(default)]
    routing: RawRouting,
    #[serde(default)]
    presence: RawPresence,
    #[serde(default)]
    agents: RawAgents,
    #[serde(default)]
    recordings: RawRecordings,
    #[serde(default)]
    ha: super::ha::RawHa,
    #[serde(default)]
    transfer: super::transfer::RawTransfer,
    #[serde(default)]
    stats: super::stats::RawStats,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecordings {
    purge_every: Option<Spanned<HumanDuration>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgents {
    hot_desk: Option<HotDesk>,
    hot_desk_extension: Option<Spanned<String>>,
    #[serde(default)]
    prompts: HashMap<String, Spanned<String>>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum HotDesk {
    Move,
    Refuse,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPresence {
    domain: Option<Spanned<String>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    listen: Option<ListenAddr>,
    auth: Option<bool>,
    header_timeout: Option<Spanned<HumanDuration>>,
    idle_timeout: Option<Spanned<HumanDuration>>,
    max_connections: Option<Spanned<u64>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    url: Option<Spanned<String>>,
}

/// Which switch software a `[[switch]]` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum SwitchKind {
    #[default]
    FreeSwitch,
    Asterisk,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSwitch {
    name: Spanned<SwitchName>,
    kind: Option<Spanned<SwitchKind>>,
    esl: Option<Spanned<EslAddress>>,
    ari: Option<Spanned<String>>,
    user: Option<Spanned<String>>,
    app: Option<Spanned<String>>,
    password: Option<Secret>,
    heartbeat_timeout: Option<Spanned<HumanDuration>>,
    reconnect_max: Option<Spanned<HumanDuration>>,
    recordings_dir: Option<Spanned<String>>,
    recordings_mount: Option<PathBuf>,
    #[serde(default)]
    reach: std::collections::BTreeMap<String, Spanned<String>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRouting {
    wrap_up: Option<Spanned<HumanDuration>>,
    ring_timeout: Option<Spanned<HumanDuration>>,
    busy_backoff: Option<Spanned<HumanDuration>>,
}

impl Config {
    /// Reads and validates the config file; switch passwords and the database URL may be
    /// overridden from the environment.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = read_capped(path, "the config file")?;
        Self::parse(&text, path, |name| std::env::var(name).ok())
    }

    /// Parses config text. `file` names it in errors and anchors the relative provisioning
    /// path; `env` looks up environment overrides (injected so tests need not touch the
    /// process environment).
    pub fn parse(
        text: &str,
        file: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let src = Source { file, text };
        let raw: RawConfig = toml::from_str(text).map_err(|e| src.toml_error(&e))?;

        let listen = match raw.http.listen {
            Some(ListenAddr(addr)) => addr,
            None => DEFAULT_LISTEN
                .parse()
                .map_err(|_| src.error_without_line("http.listen", "bad built-in default"))?,
        };

        let url = match (env(DATABASE_URL_ENV), raw.database.url) {
            (Some(url), _) => {
                check_database_url(&url).map_err(|m| {
                    src.error_without_line("database.url", format!("{DATABASE_URL_ENV}: {m}"))
                })?;
                url
            }
            (None, Some(url)) => {
                check_database_url(url.get_ref())
                    .map_err(|m| src.error_at(Some(url.span()), "database.url", m))?;
                url.into_inner()
            }
            (None, None) => DEFAULT_DATABASE_URL.to_owned(),
        };

        let beside_config = |p: PathBuf| {
            if p.is_relative() {
                file.parent().unwrap_or(Path::new("")).join(p)
            } else {
                p
            }
        };
        let provisioning = raw.provisioning.map(beside_config);
        let flows = raw.flows.map(beside_config);

        if raw.switches.is_empty() {
            return Err(src.error_without_line("switch", "at least one [[switch]] is required"));
        }
        let mut seen: HashMap<String, (usize, SwitchName)> = HashMap::new();
        let mut switches = Vec::with_capacity(raw.switches.len());
        let mut asterisk_switches = Vec::new();
        let names: Vec<String> = raw
            .switches
            .iter()
            .map(|sw| sw.name.get_ref().as_str().to_owned())
            .collect();
        for (i, sw) in raw.switches.into_iter().enumerate() {
            let kind = sw.kind.as_ref().map(|k| *k.get_ref()).unwrap_or_default();
            check_keys_of_kind(&src, i, kind, &sw)?;
            let name_span = sw.name.span();
            let name = sw.name.into_inner();
            let env_var = SwitchConfig::password_env_var(&name);
            if let Some((first, other)) = seen.get(&env_var) {
                let message = if *other == name {
                    format!(
                        "switch name {} is already used by switch[{first}]",
                        shown(name.as_str())
                    )
                } else {
                    format!(
                        "switch names {} (switch[{first}]) and {} would share the password variable {env_var}",
                        shown(other.as_str()),
                        shown(name.as_str())
                    )
                };
                return Err(src.error_at(Some(name_span), format!("switch[{i}].name"), message));
            }
            seen.insert(env_var.clone(), (i, name.clone()));

            let password = match (env(&env_var), sw.password) {
                (Some(p), _) => {
                    Secret::check(&p).map_err(|m| {
                        src.error_without_line(
                            format!("switch[{i}].password"),
                            format!("{env_var}: {m}"),
                        )
                    })?;
                    Secret::new(p)
                }
                (None, Some(p)) => p,
                (None, None) => {
                    return Err(src.error_at(
                        Some(name_span),
                        format!("switch[{i}].password"),
                        format!("no password: set it here or in {env_var}"),
                    ))
                }
            };
            let heartbeat_timeout = positive(&src, sw.heartbeat_timeout, i, "heartbeat_timeout")?
                .unwrap_or(DEFAULT_HEARTBEAT_TIMEOUT);
            let reconnect_max = positive(&src, sw.reconnect_max, i, "reconnect_max")?
                .unwrap_or(DEFAULT_RECONNECT_MAX);
            let recordings_dir = match sw.recordings_dir {
                Some(dir) => {
                    check_recordings_dir(dir.get_ref()).map_err(|message| {
                        src.error_at(
                            Some(dir.span()),
                            format!("switch[{i}].recordings_dir"),
                            message,
                        )
                    })?;
                    dir.into_inner().trim_end_matches('/').to_owned()
                }
                None => match kind {
                    SwitchKind::FreeSwitch => DEFAULT_RECORDINGS_DIR.to_owned(),
                    SwitchKind::Asterisk => DEFAULT_ASTERISK_RECORDINGS_DIR.to_owned(),
                },
            };
            let reach = super::reach::routes(&src, i, &name, &names, sw.reach)?;
            let recordings_mount = sw.recordings_mount.map(beside_config);
            match kind {
                SwitchKind::FreeSwitch => {
                    let Some(esl) = sw.esl else {
                        return Err(src.error_at(
                            Some(name_span),
                            format!("switch[{i}].esl"),
                            "no esl address: a FreeSWITCH switch needs esl = \"host:port\" \
                             (or kind = \"asterisk\" with ari = \"http://host:port\")",
                        ));
                    };
                    switches.push(SwitchConfig {
                        name,
                        esl: esl.into_inner(),
                        password,
                        heartbeat_timeout,
                        reconnect_max,
                        recordings_dir,
                        recordings_mount,
                        reach,
                    });
                }
                SwitchKind::Asterisk => {
                    let (ari, user, app) =
                        asterisk_keys(&src, i, name_span, sw.ari, sw.user, sw.app)?;
                    asterisk_switches.push(AsteriskSwitchConfig {
                        name,
                        ari,
                        user,
                        password,
                        app,
                        heartbeat_timeout,
                        reconnect_max,
                        recordings_dir,
                        recordings_mount,
                        reach,
                    });
                }
            }
        }

        let defaults = RoutingDefaults::default();
        let ring_timeout = match raw.routing.ring_timeout {
            Some(d) => positive_bounded(&src, "routing.ring_timeout".into(), d)?,
            None => defaults.ring_timeout,
        };
        let routing = RoutingDefaults {
            wrap_up: match raw.routing.wrap_up {
                Some(d) => bounded(&src, "routing.wrap_up".into(), d)?,
                None => defaults.wrap_up,
            },
            ring_timeout,
            busy_backoff: match raw.routing.busy_backoff {
                Some(d) => bounded(&src, "routing.busy_backoff".into(), d)?,
                None => defaults.busy_backoff,
            },
        };

        let presence_domain = match raw.presence.domain {
            Some(domain) => {
                let span = domain.span();
                let domain = domain.into_inner();
                let ok = !domain.is_empty()
                    && domain.len() <= 253
                    && domain
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'));
                if !ok {
                    return Err(src.error_at(
                        Some(span),
                        "presence.domain",
                        "must be a domain name or IP address (letters, digits, '.' and '-')",
                    ));
                }
                Some(domain)
            }
            None => None,
        };
        let hot_desk_extension = match raw.agents.hot_desk_extension {
            None => Some(crate::engine::HOT_DESK_EXTENSION.to_owned()),
            Some(ext) if ext.get_ref().is_empty() => None,
            Some(ext) => {
                crate::engine::routing::check_value("hot-desk extension", ext.get_ref(), 32)
                    .map_err(|e| {
                        src.error_at(
                            Some(ext.span()),
                            "agents.hot_desk_extension",
                            format!("{e}; it must be an extension of the feature dialplan, or \"\" to refuse"),
                        )
                    })?;
                Some(ext.into_inner())
            }
        };
        let ha = raw.ha.resolve(&src, listen)?;
        let external_dial = raw.transfer.resolve(&src)?;
        let stats = raw.stats.resolve(&src)?;
        let recordings = match raw.recordings.purge_every {
            Some(d) => RecordingsConfig {
                purge_every: positive_bounded(&src, "recordings.purge_every".into(), d)?,
            },
            None => RecordingsConfig::default(),
        };
        let mut phone_prompts = PhonePrompts::default();
        let mut prompts: Vec<_> = raw.agents.prompts.into_iter().collect();
        prompts.sort_by_key(|(_, source)| source.span().start);
        for (key, source) in prompts {
            let span = source.span();
            let name = format!("agents.prompts.{key}");
            let Some(outcome) = PhoneOutcome::parse(&key) else {
                let known: Vec<&str> = PhoneOutcome::ALL.iter().map(|o| o.as_str()).collect();
                return Err(src.error_at(
                    Some(span),
                    name,
                    format!("no such prompt; the prompts are {}", known.join(", ")),
                ));
            };
            let source = source.into_inner();
            if !source.is_empty() {
                MediaSource::try_from(source.clone())
                    .map_err(|message| src.error_at(Some(span), name, message))?;
            }
            phone_prompts.set(outcome, source);
        }
        let http_duration = |d: Option<Spanned<HumanDuration>>, key: &str| {
            d.map(|d| positive_bounded(&src, format!("http.{key}"), d))
                .transpose()
        };
        let header_timeout = http_duration(raw.http.header_timeout, "header_timeout")?;
        let idle_timeout = http_duration(raw.http.idle_timeout, "idle_timeout")?;
        let max_connections = match raw.http.max_connections {
            Some(n) if (1..=MAX_HTTP_CONNECTIONS).contains(n.get_ref()) => {
                usize::try_from(*n.get_ref()).ok()
            }
            Some(n) => {
                return Err(src.error_at(
                    Some(n.span()),
                    "http.max_connections",
                    format!("must be from 1 to {MAX_HTTP_CONNECTIONS}"),
                ))
            }
            None => None,
        };
        Ok(Config {
            http: HttpConfig {
                listen,
                auth: raw.http.auth.unwrap_or(true),
                header_timeout,
                idle_timeout,
                max_connections,
            },
            database: DatabaseConfig { url },
            provisioning,
            flows,
            switches,
            asterisk_switches,
            routing,
            presence_domain,
            hot_desk_moves: raw.agents.hot_desk != Some(HotDesk::Refuse),
            phone_prompts,
            hot_desk_extension,
            recordings,
            ha,
            external_dial,
            stats,
        })
    }
}

/// Refuses the keys of the other kind of switch (`esl` on an Asterisk; `ari`, `user` or `app`
/// on a FreeSWITCH) at their line, before anything else about the switch is checked.
fn check_keys_of_kind(
    src: &Source<'_>,
    index: usize,
    kind: SwitchKind,
    sw: &RawSwitch,
) -> Result<(), ConfigError> {
    let foreign = match kind {
        SwitchKind::FreeSwitch => [
            ("ari", sw.ari.as_ref().map(Spanned::span)),
            ("user", sw.user.as_ref().map(Spanned::span)),
            ("app", sw.app.as_ref().map(Spanned::span)),
        ]
        .into_iter()
        .find_map(|(key, span)| span.map(|s| (key, s))),
        SwitchKind::Asterisk => sw.esl.as_ref().map(|e| ("esl", e.span())),
    };
    let Some((key, span)) = foreign else {
        return Ok(());
    };
    let message = match kind {
        SwitchKind::FreeSwitch => format!(
            "{key} is a key of an Asterisk switch: add kind = \"asterisk\" to this [[switch]], \
             or remove {key} (a FreeSWITCH switch is reached with esl = \"host:port\")"
        ),
        SwitchKind::Asterisk => "an Asterisk switch is reached over ARI, not ESL: remove esl and \
             set ari = \"http://host:port\", user and password (ari.conf)"
            .to_owned(),
    };
    Err(src.error_at(Some(span), format!("switch[{index}].{key}"), message))
}

/// The keys only an Asterisk switch has: its ARI address and user (required) and its Stasis
/// application (`switchboard` unless set).
fn asterisk_keys(
    src: &Source<'_>,
    index: usize,
    name_span: std::ops::Range<usize>,
    ari: Option<Spanned<String>>,
    user: Option<Spanned<String>>,
    app: Option<Spanned<String>>,
) -> Result<(AriUrl, String, String), ConfigError> {
    let key = |k: &str| format!("switch[{index}].{k}");
    let ari = match ari {
        Some(ari) => ari
            .get_ref()
            .parse::<AriUrl>()
            .map_err(|message| src.error_at(Some(ari.span()), key("ari"), message))?,
        None => {
            return Err(src.error_at(
                Some(name_span),
                key("ari"),
                "no ari address: an Asterisk switch needs ari = \"http://host:port\" \
                 (http.conf's bindaddr and bindport, e.g. \"http://127.0.0.1:8088\")",
            ))
        }
    };
    let user =
        match user {
            Some(user) => {
                check_ari_user(user.get_ref())
                    .map_err(|message| src.error_at(Some(user.span()), key("user"), message))?;
                user.into_inner()
            }
            None => return Err(src.error_at(
                Some(name_span),
                key("user"),
                "no user: an Asterisk switch needs the ari.conf user, e.g. user = \"switchboard\"",
            )),
        };
    let app = match app {
        Some(app) => {
            check_stasis_app(app.get_ref())
                .map_err(|message| src.error_at(Some(app.span()), key("app"), message))?;
            app.into_inner()
        }
        None => DEFAULT_STASIS_APP.to_owned(),
    };
    Ok((ari, user, app))
}

fn positive(
    src: &Source<'_>,
    value: Option<Spanned<HumanDuration>>,
    index: usize,
    key: &str,
) -> Result<Option<Duration>, ConfigError> {
    value
        .map(|d| positive_bounded(src, format!("switch[{index}].{key}"), d))
        .transpose()
}

/// An absolute path of non-empty folders made of letters, digits, `-`, `_` and `.`, without
/// `.` or `..` folders: it is put into ESL commands and ARI recording names as is.
fn check_recordings_dir(dir: &str) -> Result<(), String> {
    let Some(relative) = dir.strip_prefix('/') else {
        return Err(
            "must be an absolute path on the switch, like /var/lib/freeswitch/recordings or \
             /var/spool/asterisk/recording"
                .into(),
        );
    };
    if let Some(c) = dir.chars().find(|c| !is_path_char(*c)) {
        return Err(format!(
            "{c:?} is not allowed: use letters, digits, '-', '_', '.' and '/'"
        ));
    }
    let relative = relative.trim_end_matches('/');
    if relative.is_empty() || has_bad_folder(relative) {
        return Err("must be a folder below / without empty, '.' or '..' parts".into());
    }
    Ok(())
}

fn check_database_url(url: &str) -> Result<(), String> {
    if url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://")
    {
        Ok(())
    } else {
        Err(format!(
            "{} is not a database URL: expected sqlite://<path> or postgres://…",
            shown(&redact_url(url))
        ))
    }
}
