//! `Provisioning`: queues, agents, pause reasons and API tokens declared in a TOML file,
//! applied idempotently at start so admins can keep their contact-center setup in git.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

use super::dial_string::{check_dial_template, DialString};
use super::error::{read_capped, shown};
use super::error::{ConfigError, Source};
use super::evaluation::{evaluation_forms, EvaluationForm, RawForm};
use super::tokens::{
    check_token_agent, ProvisionedToken, Role, RoleError, TokenHash, TokenHashError, TokenName,
};
use super::values::{
    bounded, positive_bounded, DisplayName, HoldMusic, HumanDuration, MediaSource,
};
use super::webhooks::{webhooks, RawWebhook};
use crate::engine::recording::{
    ConsentNotice, RecordingMode, RecordingPolicy, RecordingTemplate, DEFAULT_AUTO_RESUME,
};
use crate::engine::routing::{
    self, Announcements, CallbackSettings, DestinationError, ExitKey, RoutingError,
    ServiceLevelTarget, Thresholds,
};
use crate::engine::wrap_up_work::{DispositionCode, WrapUpWork};
use crate::engine::{
    AgentId, CallerSkills, Destination, EscalationStep, Membership, QueueId, QueueRouting,
    SkillLevel, Strategy,
};

/// What callers hear while they wait, when a queue does not say.
pub const DEFAULT_HOLD_MUSIC: &str = "local_stream://moh";

/// The service level is judged over the last half hour unless the file says otherwise.
pub const DEFAULT_SERVICE_LEVEL_WINDOW: Duration = Duration::from_secs(30 * 60);

/// Fewer calls than this in the window are too few to judge a service level by.
pub const DEFAULT_SERVICE_LEVEL_MIN_CALLS: u32 = 10;

/// Most further attempts a callback may make when the customer does not answer.
pub const MAX_CALLBACK_RETRIES: u32 = 10;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Provisioning {
    pub queues: Vec<ProvisionedQueue>,
    pub agents: Vec<ProvisionedAgent>,
    pub pause_reasons: Vec<ProvisionedPauseReason>,
    /// API tokens, by their digests (`[[token]]`).
    pub tokens: Vec<ProvisionedToken>,
    /// CRM webhook subscriptions (`[[webhook]]`), enabled.
    pub webhooks: Vec<crate::cti::subscription::Subscription>,
    /// `[webhook_settings] allow_private_targets`: receivers may be on loopback, link-local
    /// and private addresses (off: only public ones, see `cti::subscription::refused_address`).
    pub allow_private_webhook_targets: bool,
    /// What supervisors score recordings with (`[[evaluation_form]]`); empty when the file
    /// declares none (the API then offers the standard form).
    pub evaluation_forms: Vec<EvaluationForm>,
}

/// A reason an agent may pause for: `code` is what the phone sends (digits) or the API names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedPauseReason {
    pub code: String,
    pub name: String,
    /// Time in this pause counts as work (training, back office).
    pub productive: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProvisionedQueue {
    pub id: QueueId,
    pub name: String,
    /// Hold music source; [`DEFAULT_HOLD_MUSIC`] when the file does not set one.
    pub moh: String,
    /// `None`: use `[routing] wrap_up` from the config.
    pub wrap_up: Option<Duration>,
    /// `None`: use `[routing] ring_timeout` from the config.
    pub ring_timeout: Option<Duration>,
    /// `None`: use `[routing] busy_backoff` from the config.
    pub busy_backoff: Option<Duration>,
    pub routing: QueueRouting,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProvisionedAgent {
    pub id: AgentId,
    pub name: String,
    pub dial_string: DialString,
    /// The queues this agent serves, in the order given.
    pub queues: Vec<Membership>,
    /// One entry per skill, sorted by skill (see `routing::canonical`).
    pub skills: Vec<SkillLevel>,
    /// For hot-desking; made with `switchboard hash-pin`.
    pub pin_hash: Option<crate::engine::PinHash>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProvisioning {
    #[serde(default, rename = "queue")]
    pub(super) queues: Vec<RawQueue>,
    #[serde(default, rename = "agent")]
    agents: Vec<RawAgent>,
    #[serde(default, rename = "pause_reason")]
    pause_reasons: Vec<RawPauseReason>,
    #[serde(default, rename = "token", alias = "tokens")]
    tokens: Vec<RawToken>,
    #[serde(default, rename = "webhook", alias = "webhooks")]
    webhooks: Vec<RawWebhook>,
    #[serde(default)]
    webhook_settings: RawWebhookSettings,
    #[serde(default, rename = "evaluation_form")]
    evaluation_forms: Vec<RawForm>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawWebhookSettings {
    #[serde(default)]
    allow_private_targets: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    name: Spanned<String>,
    role: Spanned<String>,
    agent: Option<Spanned<AgentId>>,
    sha256: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPauseReason {
    code: Spanned<String>,
    name: DisplayName,
    #[serde(default)]
    productive: bool,
}

/// Whether `code` may name a pause reason: what a phone can send as digits, or a short word
/// for the API (`lunch`, `training`), safe in URLs, logs and channel variables.
pub fn is_pause_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 32
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawQueue {
    id: Spanned<QueueId>,
    name: DisplayName,
    moh: Option<HoldMusic>,
    wrap_up: Option<Spanned<HumanDuration>>,
    ring_timeout: Option<Spanned<HumanDuration>>,
    strategy: Option<Spanned<String>>,
    weight: Option<Spanned<u32>>,
    ring_progressively_every: Option<Spanned<HumanDuration>>,
    max_no_answer: Option<u32>,
    busy_backoff: Option<Spanned<HumanDuration>>,
    reject_backoff: Option<Spanned<HumanDuration>>,
    no_answer_backoff: Option<Spanned<HumanDuration>>,
    max_wait: Option<Spanned<HumanDuration>>,
    on_max_wait: Option<Spanned<String>>,
    on_no_agents: Option<Spanned<String>>,
    abandoned_resume: Option<Spanned<HumanDuration>>,
    #[serde(default, rename = "step")]
    steps: Vec<RawStep>,
    announcements: Option<RawAnnouncements>,
    #[serde(default)]
    exit_keys: RawExitKeys,
    callback: Option<RawCallback>,
    whisper: Option<Spanned<MediaSource>>,
    thresholds: Option<Spanned<RawThresholds>>,
    recording: Option<Spanned<RawRecording>>,
    /// A tone or prompt the agent hears when a supervisor starts monitoring the call.
    monitor_notice: Option<Spanned<MediaSource>>,
    /// `[{ code = "1", label = "Sale" }, ...]`: what agents may say the call ended as.
    disposition_codes: Option<Spanned<Vec<RawDispositionCode>>>,
    disposition_required: Option<bool>,
    /// The longest a wrap-up may run once extended.
    max_wrap_up: Option<Spanned<HumanDuration>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDispositionCode {
    code: String,
    label: String,
}

/// `[queue.recording]`: `mode` is required; `percent` goes with `mode = "percent"` only.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecording {
    mode: Spanned<String>,
    percent: Option<Spanned<i64>>,
    #[serde(default)]
    stereo: bool,
    template: Option<Spanned<String>>,
    /// The recording notice, played on entering the queue.
    consent: Option<Spanned<MediaSource>>,
    /// Goes with `consent`: the key that declines recording.
    opt_out_digit: Option<Spanned<String>>,
    beep_every: Option<Spanned<HumanDuration>>,
    auto_resume: Option<Spanned<HumanDuration>>,
    retention: Option<Spanned<HumanDuration>>,
    /// Pause a recording in progress while the call is on hold.
    #[serde(default)]
    pause_on_hold: bool,
}

/// `[queue.thresholds]`: service-level alarms (`queue.threshold` events).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThresholds {
    waiting: Option<Spanned<u32>>,
    longest_wait: Option<Spanned<HumanDuration>>,
    service_level: Option<Spanned<RawServiceLevel>>,
}

/// `service_level = { percent = 80, within = "20s" }`, judged over `window` (30 minutes by
/// default) once `min_calls` (10) are in it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServiceLevel {
    percent: Spanned<u8>,
    within: Spanned<HumanDuration>,
    window: Option<Spanned<HumanDuration>>,
    min_calls: Option<u32>,
}

/// `[queue.announcements]`: `every` is required, the section exists to say something.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAnnouncements {
    every: Spanned<HumanDuration>,
    prompt: Option<MediaSource>,
    #[serde(default)]
    position: bool,
    position_prompt: Option<Spanned<MediaSource>>,
    #[serde(default)]
    wait_time: bool,
    wait_prompt: Option<Spanned<MediaSource>>,
    language: Option<Spanned<String>>,
}

/// `[queue.exit_keys]`: key to destination, in the order written.
#[derive(Default)]
struct RawExitKeys(Vec<(Spanned<String>, Spanned<String>)>);

impl<'de> Deserialize<'de> for RawExitKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Keys;
        impl<'de> Visitor<'de> for Keys {
            type Value = RawExitKeys;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table of keys and destinations, like \"0\" = \"extension:operator\"")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut keys = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    keys.push(entry);
                }
                Ok(RawExitKeys(keys))
            }
        }
        deserializer.deserialize_map(Keys)
    }
}

/// `[queue.callback]`: `dial` is required; the rest defaults to [`CallbackSettings::default`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCallback {
    key: Option<Spanned<String>>,
    dial: Spanned<String>,
    offer_prompt: Option<MediaSource>,
    confirm_prompt: Option<MediaSource>,
    confirm_timeout: Option<Spanned<HumanDuration>>,
    retries: Option<Spanned<u32>>,
    retry_delay: Option<Spanned<HumanDuration>>,
    ring_timeout: Option<Spanned<HumanDuration>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    after: Spanned<HumanDuration>,
    #[serde(default)]
    require: Vec<Spanned<String>>,
    #[serde(default)]
    prefer: Vec<Spanned<String>>,
    max_tier: Option<Spanned<u8>>,
    caller_skills: Option<CallerSkills>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgent {
    id: Spanned<AgentId>,
    name: DisplayName,
    dial_string: DialString,
    #[serde(default)]
    skills: Vec<Spanned<String>>,
    #[serde(default)]
    queues: Vec<Spanned<MembershipEntry>>,
    pin_hash: Option<Spanned<String>>,
}

/// An entry of an agent's `queues`: a queue id, or a table that also sets tier, position and
/// weight. The same in the file and in the REST API's JSON.
pub enum MembershipEntry {
    Queue(QueueId),
    Table(MembershipTable),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MembershipTable {
    queue: QueueId,
    tier: Option<u8>,
    position: Option<u32>,
    weight: Option<u32>,
}

impl<'de> Deserialize<'de> for MembershipEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entry;
        impl<'de> Visitor<'de> for Entry {
            type Value = MembershipEntry;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a queue id or a table like { queue = \"sales\", tier = 2 }")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                QueueId::new(v)
                    .map(MembershipEntry::Queue)
                    .map_err(E::custom)
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                MembershipTable::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(MembershipEntry::Table)
            }
        }
        deserializer.deserialize_any(Entry)
    }
}

impl Provisioning {
    pub fn load(path: &Path) -> Result<Provisioning, ConfigError> {
        let text = read_capped(path, "the provisioning file")?;
        Self::parse(&text, path)
    }

    /// Parses and validates provisioning text; `file` only names it in errors. `env:NAME`
    /// webhook secrets are read from the process environment.
    pub fn parse(text: &str, file: impl AsRef<Path>) -> Result<Provisioning, ConfigError> {
        Self::parse_with_env(text, file, &|name| std::env::var(name).ok())
    }

    /// [`Provisioning::parse`] with the environment given.
    pub fn parse_with_env(
        text: &str,
        file: impl AsRef<Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Provisioning, ConfigError> {
        let src = Source {
            file: file.as_ref(),
            text,
        };
        let raw: RawProvisioning = toml::from_str(text).map_err(|e| src.toml_error(&e))?;

        let mut queue_ids = HashSet::new();
        let mut queues = Vec::with_capacity(raw.queues.len());
        let mut overflows = Vec::new();
        for (i, q) in raw.queues.into_iter().enumerate() {
            let id_span = q.id.span();
            let id = q.id.get_ref().clone();
            if !queue_ids.insert(id.clone()) {
                return Err(src.error_at(
                    Some(id_span),
                    format!("queue[{i}].id"),
                    format!("queue {:?} is declared twice", id.as_str()),
                ));
            }
            let (queue, found) = parse_queue(&src, i, q)?;
            queues.push(queue);
            overflows.extend(found);
        }
        check_overflows(&src, &queues, &overflows)?;

        let mut agent_ids = HashSet::new();
        let mut agents = Vec::with_capacity(raw.agents.len());
        for (i, a) in raw.agents.into_iter().enumerate() {
            let id_span = a.id.span();
            let id = a.id.into_inner();
            if !agent_ids.insert(id.clone()) {
                return Err(src.error_at(
                    Some(id_span),
                    format!("agent[{i}].id"),
                    format!("agent {:?} is declared twice", id.as_str()),
                ));
            }
            let pin_hash = match a.pin_hash {
                Some(hash) => {
                    let span = hash.span();
                    match hash.into_inner().parse::<crate::engine::PinHash>() {
                        Ok(h) => Some(h),
                        Err(e) => {
                            return Err(src.error_at(
                                Some(span),
                                format!("agent[{i}].pin_hash"),
                                e.to_string(),
                            ))
                        }
                    }
                }
                None => None,
            };
            agents.push(ProvisionedAgent {
                pin_hash,
                id,
                name: a.name.0,
                dial_string: a.dial_string,
                queues: memberships(&src, i, a.queues, &queue_ids)?,
                skills: agent_skills(&src, i, a.skills)?,
            });
        }

        let mut codes = HashSet::new();
        let mut pause_reasons = Vec::with_capacity(raw.pause_reasons.len());
        for (i, r) in raw.pause_reasons.into_iter().enumerate() {
            let span = r.code.span();
            let code = r.code.into_inner();
            if !is_pause_code(&code) {
                return Err(src.error_at(
                    Some(span),
                    format!("pause_reason[{i}].code"),
                    "must be 1-32 letters, digits, '-', '_' or '.'",
                ));
            }
            if !codes.insert(code.clone()) {
                return Err(src.error_at(
                    Some(span),
                    format!("pause_reason[{i}].code"),
                    format!("pause reason {code:?} is declared twice"),
                ));
            }
            pause_reasons.push(ProvisionedPauseReason {
                code,
                name: r.name.0,
                productive: r.productive,
            });
        }

        Ok(Provisioning {
            queues,
            agents,
            pause_reasons,
            tokens: tokens(&src, raw.tokens, &agent_ids)?,
            webhooks: webhooks(
                &src,
                raw.webhooks,
                &queue_ids,
                env,
                raw.webhook_settings.allow_private_targets,
            )?,
            allow_private_webhook_targets: raw.webhook_settings.allow_private_targets,
            evaluation_forms: evaluation_forms(&src, raw.evaluation_forms)?,
        })
    }
}

/// `[[token]]`s: valid names, roles and digests, unique names and digests, and an agent exactly
/// for `agent` tokens, who must be declared in this file: REST refuses a token for an agent
/// that does not exist, and the file is held to the same rule at load (and by `check`).
fn tokens(
    src: &Source<'_>,
    raw: Vec<RawToken>,
    agent_ids: &HashSet<AgentId>,
) -> Result<Vec<ProvisionedToken>, ConfigError> {
    let mut names = HashSet::new();
    let mut hashes = HashSet::new();
    let mut tokens = Vec::with_capacity(raw.len());
    for (i, t) in raw.into_iter().enumerate() {
        let key = |field: &str| format!("token[{i}].{field}");
        let name_span = t.name.span();
        let name = TokenName::new(t.name.into_inner())
            .map_err(|e| src.error_at(Some(name_span.clone()), key("name"), e.to_string()))?;
        if !names.insert(name.clone()) {
            return Err(src.error_at(
                Some(name_span),
                key("name"),
                format!("token {:?} is declared twice", name.as_str()),
            ));
        }
        let role_span = t.role.span();
        let role: Role = t.role.into_inner().parse().map_err(|e: RoleError| {
            src.error_at(Some(role_span.clone()), key("role"), e.to_string())
        })?;
        let agent_span = t.agent.as_ref().map(Spanned::span);
        let agent = t.agent.map(Spanned::into_inner);
        check_token_agent(role, agent.as_ref()).map_err(|message| match agent_span.clone() {
            Some(span) => src.error_at(Some(span), key("agent"), message),
            None => src.error_at(Some(role_span), key("agent"), message),
        })?;
        if let Some(agent) = agent.as_ref().filter(|a| !agent_ids.contains(*a)) {
            return Err(src.error_at(
                agent_span,
                key("agent"),
                format!(
                    "agent {} is not declared in this file: add an [[agent]] with this id",
                    shown(agent.as_str())
                ),
            ));
        }
        let hash_span = t.sha256.span();
        let hash: TokenHash = t.sha256.get_ref().parse().map_err(|e: TokenHashError| {
            src.error_at(Some(hash_span.clone()), key("sha256"), e.to_string())
        })?;
        if !hashes.insert(hash) {
            return Err(src.error_at(
                Some(hash_span),
                key("sha256"),
                "another token has the same sha256: each token must be its own",
            ));
        }
        tokens.push(ProvisionedToken {
            name,
            role,
            agent,
            hash,
        });
    }
    Ok(tokens)
}

/// A queue destination found in the file: which queue, which key, where, and where it leads.
pub(super) struct Overflow {
    from: usize,
    pub(super) key: String,
    span: Range<usize>,
    pub(super) to: QueueId,
}

pub(super) fn parse_queue(
    src: &Source<'_>,
    i: usize,
    q: RawQueue,
) -> Result<(ProvisionedQueue, Vec<Overflow>), ConfigError> {
    let key = |name: &str| format!("queue[{i}].{name}");
    let positive = |d: Option<Spanned<HumanDuration>>, name: &str| {
        d.map(|d| positive(src, key(name), d)).transpose()
    };
    let at_most = |d: Option<Spanned<HumanDuration>>, name: &str| {
        d.map(|d| bounded(src, key(name), d)).transpose()
    };
    let defaults = QueueRouting::default();

    let strategy = match q.strategy {
        Some(s) => s
            .get_ref()
            .parse::<Strategy>()
            .map_err(|e| src.error_at(Some(s.span()), key("strategy"), e.to_string()))?,
        None => defaults.strategy,
    };
    let weight = match q.weight {
        Some(w) if *w.get_ref() == 0 => {
            return Err(src.error_at(Some(w.span()), key("weight"), "must be at least 1"))
        }
        Some(w) => w.into_inner(),
        None => defaults.weight,
    };
    let max_wait = positive(q.max_wait, "max_wait")?;

    let mut overflows = Vec::new();
    let mut destination = |raw: Option<Spanned<String>>, name: &str| {
        let Some(raw) = raw else { return Ok(None) };
        let span = raw.span();
        let parsed: Destination = raw.get_ref().parse().map_err(|e: DestinationError| {
            src.error_at(Some(span.clone()), key(name), e.to_string())
        })?;
        if let Destination::Queue { queue } = &parsed {
            if queue == q.id.get_ref() {
                return Err(src.error_at(
                    Some(span),
                    key(name),
                    format!("queue {:?} cannot overflow to itself", queue.as_str()),
                ));
            }
            overflows.push(Overflow {
                from: i,
                key: key(name),
                span,
                to: queue.clone(),
            });
        }
        Ok(Some(parsed))
    };
    let on_max_wait_span = q.on_max_wait.as_ref().map(Spanned::span);
    let on_max_wait = destination(q.on_max_wait, "on_max_wait")?;
    let on_no_agents = destination(q.on_no_agents, "on_no_agents")?;
    let mut exit_keys: Vec<(ExitKey, Range<usize>)> = Vec::with_capacity(q.exit_keys.0.len());
    for (raw_key, raw_destination) in q.exit_keys.0 {
        let digit = phone_key(raw_key.get_ref()).ok_or_else(|| {
            src.error_at(
                Some(raw_key.span()),
                key("exit_keys"),
                format!(
                    "{} is not a key a caller can press: use one of 0-9, * or #",
                    shown(raw_key.get_ref())
                ),
            )
        })?;
        let name = format!("exit_keys.{digit}");
        if let Some(destination) = destination(Some(raw_destination), &name)? {
            exit_keys.push((ExitKey { digit, destination }, raw_key.span()));
        }
    }
    if on_max_wait.is_some() && max_wait.is_none() {
        return Err(src.error_at(
            on_max_wait_span,
            key("on_max_wait"),
            "on_max_wait needs max_wait (how long callers wait before they go there)",
        ));
    }

    let whisper = match q.whisper {
        Some(w) if w.get_ref().0.starts_with("say:") => {
            return Err(src.error_at(
                Some(w.span()),
                key("whisper"),
                "a whisper is a recording (such as a file saying the queue's name): `say:` \
                 needs a text-to-speech engine on the agent's channel",
            ))
        }
        other => other.map(|w| w.into_inner().0),
    };
    let callback = match q.callback {
        Some(raw) => Some(callback(src, i, raw, &exit_keys)?),
        None => None,
    };
    let recording = match q.recording {
        Some(raw) => {
            let mut taken: Vec<(char, String)> = exit_keys
                .iter()
                .map(|(k, _)| (k.digit, format!("an exit key (to {})", k.destination)))
                .collect();
            if let Some(c) = &callback {
                taken.push((c.key, "the callback key".to_owned()));
            }
            recording(src, i, raw, &taken)?
        }
        None => RecordingPolicy::default(),
    };
    let routing = QueueRouting {
        strategy,
        ring_progressively_every: positive(q.ring_progressively_every, "ring_progressively_every")?
            .unwrap_or(defaults.ring_progressively_every),
        weight,
        steps: steps(src, i, q.steps)?,
        max_no_answer: q.max_no_answer.unwrap_or(defaults.max_no_answer),
        reject_backoff: at_most(q.reject_backoff, "reject_backoff")?,
        no_answer_backoff: at_most(q.no_answer_backoff, "no_answer_backoff")?,
        max_wait,
        on_max_wait,
        on_no_agents,
        abandoned_resume: positive(q.abandoned_resume, "abandoned_resume")?,
        announcements: match q.announcements {
            Some(raw) => announcements(src, i, raw)?,
            None => defaults.announcements,
        },
        callback,
        exit_keys: exit_keys.into_iter().map(|(k, _)| k).collect(),
        whisper,
        thresholds: match q.thresholds {
            Some(raw) => thresholds(src, i, raw)?,
            None => Thresholds::default(),
        },
        recording,
        monitor_notice: q.monitor_notice.map(|n| n.into_inner().0),
        wrap_up_work: wrap_up_work(
            src,
            key("disposition_codes"),
            q.disposition_codes,
            q.disposition_required,
            at_most(q.max_wrap_up, "max_wrap_up")?,
        )?,
    };
    let queue = ProvisionedQueue {
        id: q.id.into_inner(),
        name: q.name.0,
        moh: q.moh.map_or_else(|| DEFAULT_HOLD_MUSIC.to_owned(), |m| m.0),
        wrap_up: at_most(q.wrap_up, "wrap_up")?,
        ring_timeout: positive(q.ring_timeout, "ring_timeout")?,
        busy_backoff: at_most(q.busy_backoff, "busy_backoff")?,
        routing,
    };
    Ok((queue, overflows))
}

/// A queue's disposition codes and wrap-up limit, checked by `wrap_up_work::check` (the same
/// check REST makes).
fn wrap_up_work(
    src: &Source<'_>,
    key: String,
    codes: Option<Spanned<Vec<RawDispositionCode>>>,
    required: Option<bool>,
    max_wrap_up: Option<Duration>,
) -> Result<WrapUpWork, ConfigError> {
    let span = codes.as_ref().map(Spanned::span);
    let work = WrapUpWork {
        disposition_codes: codes
            .map(Spanned::into_inner)
            .unwrap_or_default()
            .into_iter()
            .map(|c| DispositionCode {
                code: c.code,
                label: c.label,
            })
            .collect(),
        disposition_required: required.unwrap_or(false),
        max_wrap_up,
    };
    crate::engine::wrap_up_work::check(&work).map_err(|e| src.error_at(span, key, e))?;
    Ok(work)
}

/// One of the keys of a phone's keypad: `0`-`9`, `*` or `#`.
fn phone_key(s: &str) -> Option<char> {
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii_digit() || c == '*' || c == '#' => Some(c),
        _ => None,
    }
}

/// A duration that must not be zero.
/// `[queue.thresholds]`: at least one limit, each one that can be crossed.
/// `[queue.recording]`: a known mode, a percent from 0 to 100 exactly when the mode is
/// `percent`, and a template [`RecordingTemplate::parse`] accepts.
///
/// `consent` is the notice; `opt_out_digit` goes with it and must be a phone key that is not
/// already an exit or callback key. `beep_every`, `auto_resume` and `retention` must not be
/// zero.
fn recording(
    src: &Source<'_>,
    queue: usize,
    raw: Spanned<RawRecording>,
    taken_keys: &[(char, String)],
) -> Result<RecordingPolicy, ConfigError> {
    let key = |name: &str| format!("queue[{queue}].recording.{name}");
    let raw = raw.into_inner();
    let mode_span = raw.mode.span();
    let mode = match raw.mode.get_ref().as_str() {
        "always" => RecordingMode::Always,
        "never" => RecordingMode::Never,
        "on_demand" => RecordingMode::OnDemand,
        "percent" => match &raw.percent {
            Some(p) => match u8::try_from(*p.get_ref()) {
                Ok(share) if share <= 100 => RecordingMode::Percent(share),
                _ => {
                    return Err(src.error_at(
                        Some(p.span()),
                        key("percent"),
                        "must be from 0 to 100",
                    ))
                }
            },
            None => {
                return Err(src.error_at(
                    Some(mode_span),
                    key("mode"),
                    "mode = \"percent\" needs percent = 0..100 (the share of calls recorded)",
                ))
            }
        },
        other => {
            return Err(src.error_at(
                Some(mode_span),
                key("mode"),
                format!(
                    "unknown recording mode {}: use \"always\", \"never\", \"percent\" or \"on_demand\"",
                    shown(other)
                ),
            ))
        }
    };
    if let (Some(p), false) = (&raw.percent, matches!(mode, RecordingMode::Percent(_))) {
        return Err(src.error_at(
            Some(p.span()),
            key("percent"),
            "percent goes with mode = \"percent\" only",
        ));
    }
    let template = match raw.template {
        Some(t) => RecordingTemplate::parse(t.get_ref())
            .map_err(|e| src.error_at(Some(t.span()), key("template"), e.to_string()))?,
        None => RecordingTemplate::default(),
    };
    let opt_out_digit = match raw.opt_out_digit {
        Some(d) => {
            let digit = phone_key(d.get_ref()).ok_or_else(|| {
                src.error_at(
                    Some(d.span()),
                    key("opt_out_digit"),
                    format!(
                        "{} is not a key a caller can press: use one of 0-9, * or #",
                        shown(d.get_ref())
                    ),
                )
            })?;
            if let Some((_, what)) = taken_keys.iter().find(|(k, _)| *k == digit) {
                return Err(src.error_at(
                    Some(d.span()),
                    key("opt_out_digit"),
                    format!("{digit:?} is already {what}; pick another key"),
                ));
            }
            if raw.consent.is_none() {
                return Err(src.error_at(
                    Some(d.span()),
                    key("opt_out_digit"),
                    "opt_out_digit needs consent (the notice that tells the caller which key \
                     declines recording)",
                ));
            }
            Some(digit)
        }
        None => None,
    };
    let consent = raw.consent.map(|c| ConsentNotice {
        announcement: c.into_inner().0,
        opt_out_digit,
    });
    let beep_every = match raw.beep_every {
        Some(d) => Some(positive(src, key("beep_every"), d)?),
        None => None,
    };
    let auto_resume = match raw.auto_resume {
        Some(d) => positive(src, key("auto_resume"), d)?,
        None => DEFAULT_AUTO_RESUME,
    };
    let retention = match raw.retention {
        Some(d) => Some(positive(src, key("retention"), d)?),
        None => None,
    };
    Ok(RecordingPolicy {
        mode,
        stereo: raw.stereo,
        template,
        consent,
        beep_every,
        auto_resume,
        retention,
        pause_on_hold: raw.pause_on_hold,
    })
}

fn thresholds(
    src: &Source<'_>,
    queue: usize,
    raw: Spanned<RawThresholds>,
) -> Result<Thresholds, ConfigError> {
    let key = |name: &str| format!("queue[{queue}].thresholds.{name}");
    let span = raw.span();
    let raw = raw.into_inner();
    if let Some(w) = &raw.waiting {
        if *w.get_ref() == 0 {
            return Err(src.error_at(
                Some(w.span()),
                key("waiting"),
                "must be at least 1 (the alarm is raised when more callers than this wait)",
            ));
        }
    }
    let service_level = match raw.service_level {
        Some(sl) => {
            let sl = sl.into_inner();
            let percent = *sl.percent.get_ref();
            if !(1..=100).contains(&percent) {
                return Err(src.error_at(
                    Some(sl.percent.span()),
                    key("service_level.percent"),
                    "must be from 1 to 100",
                ));
            }
            let within = positive(src, key("service_level.within"), sl.within)?;
            let window = match sl.window {
                Some(w) => {
                    let w_span = w.span();
                    let window = positive(src, key("service_level.window"), w)?;
                    if window <= within {
                        return Err(src.error_at(
                            Some(w_span),
                            key("service_level.window"),
                            "must be longer than `within`",
                        ));
                    }
                    window
                }
                None => DEFAULT_SERVICE_LEVEL_WINDOW.max(within * 2),
            };
            Some(ServiceLevelTarget {
                percent,
                within,
                window,
                min_calls: sl
                    .min_calls
                    .unwrap_or(DEFAULT_SERVICE_LEVEL_MIN_CALLS)
                    .max(1),
            })
        }
        None => None,
    };
    let thresholds = Thresholds {
        waiting: raw.waiting.map(Spanned::into_inner),
        longest_wait: raw
            .longest_wait
            .map(|d| positive(src, key("longest_wait"), d))
            .transpose()?,
        service_level,
    };
    if !thresholds.any() {
        return Err(src.error_at(
            Some(span),
            format!("queue[{queue}].thresholds"),
            "set at least one of waiting, longest_wait or service_level",
        ));
    }
    Ok(thresholds)
}

fn positive(
    src: &Source<'_>,
    key: String,
    d: Spanned<HumanDuration>,
) -> Result<Duration, ConfigError> {
    positive_bounded(src, key, d)
}

/// `[queue.announcements]`. An announcement must say something (a prompt, the position or the
/// wait), and a `position_prompt` or `wait_prompt` needs its part switched on: either mistake
/// would leave callers hearing less than the file suggests.
fn announcements(
    src: &Source<'_>,
    queue: usize,
    raw: RawAnnouncements,
) -> Result<Announcements, ConfigError> {
    let key = |name: &str| format!("queue[{queue}].announcements.{name}");
    let every_span = raw.every.span();
    let every = positive(src, key("every"), raw.every)?;
    if raw.prompt.is_none() && !raw.position && !raw.wait_time {
        return Err(src.error_at(
            Some(every_span),
            key("every"),
            "announcements have nothing to say: set prompt, position = true or wait_time = true",
        ));
    }
    let only_with =
        |prompt: Option<Spanned<MediaSource>>, on: bool, name: &str, part: &str| match prompt {
            Some(p) if !on => Err(src.error_at(
                Some(p.span()),
                key(name),
                format!("{name} is only played with {part} = true"),
            )),
            other => Ok(other.map(|p| p.into_inner().0)),
        };
    let position_prompt = only_with(
        raw.position_prompt,
        raw.position,
        "position_prompt",
        "position",
    )?;
    let wait_prompt = only_with(raw.wait_prompt, raw.wait_time, "wait_prompt", "wait_time")?;
    let language = match raw.language {
        Some(l) if !is_language(l.get_ref()) => {
            return Err(src.error_at(
                Some(l.span()),
                key("language"),
                format!(
                    "{} is not a language: use 2 to 8 letters or _, such as en, de or pt_BR",
                    shown(l.get_ref())
                ),
            ))
        }
        Some(l) => l.into_inner(),
        None => Announcements::default().language,
    };
    Ok(Announcements {
        every: Some(every),
        prompt: raw.prompt.map(|p| p.0),
        position: raw.position,
        position_prompt,
        wait_time: raw.wait_time,
        wait_prompt,
        language,
    })
}

/// A language for FreeSWITCH's `say`: 2 to 8 ASCII letters or `_`, starting and ending with a
/// letter (`en`, `de`, `pt_BR`).
pub(crate) fn is_language(s: &str) -> bool {
    (2..=8).contains(&s.len())
        && s.chars().all(|c| c.is_ascii_alphabetic() || c == '_')
        && !s.starts_with('_')
        && !s.ends_with('_')
}

/// `[queue.callback]`: its key must be a phone key that is not also an exit key, the dial
/// template must pass [`check_dial_template`], durations must not be zero and retries are at
/// most [`MAX_CALLBACK_RETRIES`].
fn callback(
    src: &Source<'_>,
    queue: usize,
    raw: RawCallback,
    exit_keys: &[(ExitKey, Range<usize>)],
) -> Result<CallbackSettings, ConfigError> {
    let key = |name: &str| format!("queue[{queue}].callback.{name}");
    let defaults = CallbackSettings::default();
    let digit = match &raw.key {
        Some(k) => phone_key(k.get_ref()).ok_or_else(|| {
            src.error_at(
                Some(k.span()),
                key("key"),
                format!(
                    "{} is not a key a caller can press: use one of 0-9, * or #",
                    shown(k.get_ref())
                ),
            )
        })?,
        None => defaults.key,
    };
    if let Some((exit, exit_span)) = exit_keys.iter().find(|(e, _)| e.digit == digit) {
        return Err(match &raw.key {
            Some(k) => src.error_at(
                Some(k.span()),
                key("key"),
                format!(
                    "{digit:?} is already an exit key (to {}); pick another key",
                    exit.destination
                ),
            ),
            None => src.error_at(
                Some(exit_span.clone()),
                format!("queue[{queue}].exit_keys.{digit}"),
                format!(
                    "{digit:?} is also the callback key (callback.key defaults to {digit:?}); \
                     pick another key or set callback.key"
                ),
            ),
        });
    }
    let dial_span = raw.dial.span();
    let dial = raw.dial.into_inner();
    check_dial_template(&dial)
        .map_err(|e| src.error_at(Some(dial_span), key("dial"), e.to_string()))?;
    let retries = match raw.retries {
        Some(r) if *r.get_ref() > MAX_CALLBACK_RETRIES => {
            return Err(src.error_at(
                Some(r.span()),
                key("retries"),
                format!("at most {MAX_CALLBACK_RETRIES} further attempts"),
            ))
        }
        Some(r) => r.into_inner(),
        None => defaults.retries,
    };
    let duration = |d: Option<Spanned<HumanDuration>>, name: &str, default: Duration| match d {
        Some(d) => positive(src, key(name), d),
        None => Ok(default),
    };
    Ok(CallbackSettings {
        key: digit,
        dial,
        offer_prompt: raw.offer_prompt.map(|p| p.0),
        confirm_prompt: raw.confirm_prompt.map(|p| p.0),
        confirm_timeout: duration(
            raw.confirm_timeout,
            "confirm_timeout",
            defaults.confirm_timeout,
        )?,
        retries,
        retry_delay: duration(raw.retry_delay, "retry_delay", defaults.retry_delay)?,
        ring_timeout: duration(raw.ring_timeout, "ring_timeout", defaults.ring_timeout)?,
    })
}

fn steps(
    src: &Source<'_>,
    queue: usize,
    raw: Vec<RawStep>,
) -> Result<Vec<EscalationStep>, ConfigError> {
    let mut steps: Vec<EscalationStep> = Vec::with_capacity(raw.len());
    for (j, step) in raw.into_iter().enumerate() {
        let key = |name: &str| format!("queue[{queue}].step[{j}].{name}");
        let after_span = step.after.span();
        let after = bounded(src, key("after"), step.after)?;
        match steps.last() {
            None if !after.is_zero() => {
                return Err(src.error_at(
                    Some(after_span),
                    key("after"),
                    "the first step must start at \"0s\"",
                ))
            }
            Some(previous) if after <= previous.after => {
                return Err(src.error_at(
                    Some(after_span),
                    key("after"),
                    format!(
                        "steps must be in order: {} is not after the previous step's {}",
                        humantime::format_duration(after),
                        humantime::format_duration(previous.after),
                    ),
                ))
            }
            _ => {}
        }
        let max_tier = match step.max_tier {
            Some(t) if *t.get_ref() == 0 => {
                return Err(src.error_at(
                    Some(t.span()),
                    key("max_tier"),
                    "must be at least 1 (tiers count from 1)",
                ))
            }
            other => other.map(Spanned::into_inner),
        };
        steps.push(EscalationStep {
            after,
            require: skill_list(src, &key("require"), step.require)?,
            prefer: skill_list(src, &key("prefer"), step.prefer)?,
            max_tier,
            caller_skills: step.caller_skills.unwrap_or_default(),
        });
    }
    Ok(steps)
}

/// An entry of a list (an agent's skills or queues, a step's skills) that is refused: which
/// one, counted from 0, and why. The file turns it into a line, the REST API into a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedEntry {
    pub index: usize,
    pub message: String,
}

/// Parses skills in the order written; a skill named twice is an error.
fn parse_skills<'a>(
    raw: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<SkillLevel>, RefusedEntry> {
    let mut skills: Vec<SkillLevel> = Vec::new();
    for (index, text) in raw.into_iter().enumerate() {
        let refused = |message: String| RefusedEntry { index, message };
        let skill: SkillLevel = text
            .parse()
            .map_err(|e: RoutingError| refused(e.to_string()))?;
        if skills.iter().any(|k| k.skill == skill.skill) {
            return Err(refused(format!(
                "skill {:?} is listed twice",
                skill.skill.as_str()
            )));
        }
        skills.push(skill);
    }
    Ok(skills)
}

/// An agent's skills (`spanish:7`, `billing`), checked as in the provisioning file and put in
/// canonical order.
pub fn check_agent_skills<'a>(
    raw: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<SkillLevel>, RefusedEntry> {
    let mut skills = parse_skills(raw)?;
    routing::canonical(&mut skills);
    Ok(skills)
}

/// An agent's queues, checked as in the provisioning file: tier and weight at least 1, each
/// queue once and `known`; an unknown queue's message ends with `unknown` ("is not declared
/// in this file"). Plain entries get tier 1 and their place in the list as position.
pub fn check_memberships(
    raw: impl IntoIterator<Item = MembershipEntry>,
    known: impl Fn(&QueueId) -> bool,
    unknown: &str,
) -> Result<Vec<Membership>, RefusedEntry> {
    let mut served: Vec<Membership> = Vec::new();
    for (index, entry) in raw.into_iter().enumerate() {
        let refused = |message: String| RefusedEntry { index, message };
        let place = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let membership = match entry {
            MembershipEntry::Queue(queue) => Membership::new(queue, place),
            MembershipEntry::Table(t) => {
                if t.tier == Some(0) || t.weight == Some(0) {
                    let what = if t.tier == Some(0) { "tier" } else { "weight" };
                    return Err(refused(format!(
                        "{what} must be at least 1 (queue {:?})",
                        t.queue.as_str()
                    )));
                }
                Membership {
                    tier: t.tier.unwrap_or(1),
                    position: t.position.unwrap_or(place),
                    weight: t.weight.unwrap_or(1),
                    queue: t.queue,
                }
            }
        };
        if !known(&membership.queue) {
            return Err(refused(format!(
                "queue {:?} {unknown}",
                membership.queue.as_str()
            )));
        }
        if served.iter().any(|m| m.queue == membership.queue) {
            return Err(refused(format!(
                "queue {:?} is listed twice",
                membership.queue.as_str()
            )));
        }
        served.push(membership);
    }
    Ok(served)
}

/// A list of the file, checked by `check`; a refused entry is reported at its own line.
fn spanned_list<T, R>(
    src: &Source<'_>,
    key: &str,
    raw: Vec<Spanned<T>>,
    check: impl FnOnce(Vec<T>) -> Result<R, RefusedEntry>,
) -> Result<R, ConfigError> {
    let spans: Vec<Range<usize>> = raw.iter().map(Spanned::span).collect();
    let values = raw.into_iter().map(Spanned::into_inner).collect();
    check(values).map_err(|e| src.error_at(spans.get(e.index).cloned(), key, e.message))
}

fn skill_list(
    src: &Source<'_>,
    key: &str,
    raw: Vec<Spanned<String>>,
) -> Result<Vec<SkillLevel>, ConfigError> {
    spanned_list(src, key, raw, |texts: Vec<String>| {
        parse_skills(texts.iter().map(String::as_str))
    })
}

fn agent_skills(
    src: &Source<'_>,
    agent: usize,
    raw: Vec<Spanned<String>>,
) -> Result<Vec<SkillLevel>, ConfigError> {
    spanned_list(
        src,
        &format!("agent[{agent}].skills"),
        raw,
        |texts: Vec<String>| check_agent_skills(texts.iter().map(String::as_str)),
    )
}

fn memberships(
    src: &Source<'_>,
    agent: usize,
    raw: Vec<Spanned<MembershipEntry>>,
    queue_ids: &HashSet<QueueId>,
) -> Result<Vec<Membership>, ConfigError> {
    spanned_list(src, &format!("agent[{agent}].queues"), raw, |entries| {
        check_memberships(
            entries,
            |q| queue_ids.contains(q),
            "is not declared in this file",
        )
    })
}

/// Every queue destination must name another queue of the file, and following them must never
/// come back to where it started (a caller would bounce between the queues forever).
fn check_overflows(
    src: &Source<'_>,
    queues: &[ProvisionedQueue],
    overflows: &[Overflow],
) -> Result<(), ConfigError> {
    let index: HashMap<&QueueId, usize> =
        queues.iter().enumerate().map(|(i, q)| (&q.id, i)).collect();
    let mut edges: Vec<Vec<(usize, &Overflow)>> = vec![Vec::new(); queues.len()];
    for o in overflows {
        let Some(&to) = index.get(&o.to) else {
            return Err(src.error_at(
                Some(o.span.clone()),
                o.key.clone(),
                format!("queue {:?} is not declared in this file", o.to.as_str()),
            ));
        };
        edges[o.from].push((to, o));
    }

    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    fn visit<'a>(
        node: usize,
        edges: &[Vec<(usize, &'a Overflow)>],
        marks: &mut [Mark],
        path: &mut Vec<usize>,
    ) -> Option<(&'a Overflow, Vec<usize>)> {
        marks[node] = Mark::OnPath;
        path.push(node);
        for &(to, edge) in &edges[node] {
            match marks[to] {
                Mark::OnPath => {
                    let start = path.iter().position(|&n| n == to).unwrap_or(0);
                    let mut cycle = path[start..].to_vec();
                    cycle.push(to);
                    return Some((edge, cycle));
                }
                Mark::New => {
                    if let Some(found) = visit(to, edges, marks, path) {
                        return Some(found);
                    }
                }
                Mark::Done => {}
            }
        }
        path.pop();
        marks[node] = Mark::Done;
        None
    }

    let mut marks = vec![Mark::New; queues.len()];
    for start in 0..queues.len() {
        if marks[start] != Mark::New {
            continue;
        }
        if let Some((edge, cycle)) = visit(start, &edges, &mut marks, &mut Vec::new()) {
            let shown: Vec<&str> = cycle.iter().map(|&n| queues[n].id.as_str()).collect();
            return Err(src.error_at(
                Some(edge.span.clone()),
                edge.key.clone(),
                format!(
                    "overflow loop: {}; a caller would go round forever",
                    shown.join(" -> ")
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BRIEF: &str = r#"
[[queue]]
id = "support"
name = "Support"
strategy = "longest-idle-agent"
weight = 2
ring_progressively_every = "5s"
max_no_answer = 3
busy_backoff = "10s"
reject_backoff = "30s"
no_answer_backoff = "15s"
max_wait = "5m"
on_max_wait = "queue:sales"
on_no_agents = "voicemail:1000@pbx.example.com"
abandoned_resume = "60s"
[[queue.step]]
after = "0s"
require = ["spanish:7"]
prefer = ["billing"]
max_tier = 1
caller_skills = "require"
[[queue.step]]
after = "30s"
require = ["spanish:3"]
[[queue.step]]
after = "90s"
caller_skills = "ignore"

[[queue]]
id = "sales"
name = "Sales"

[[agent]]
id = "1001"
name = "Alice"
dial_string = "user/1001"
skills = ["spanish:8", "billing:3"]
queues = ["support", { queue = "sales", tier = 2, position = 5, weight = 3 }]
"#;

    /// A queue with everything a waiting caller can hear or press, and a second queue.
    const WAITING: &str = r#"
[[queue]]
id = "support"
name = "Support"
[queue.announcements]
every = "45s"
prompt = "ivr/ivr-thank_you_for_holding.wav"
position = true
position_prompt = "ivr/ivr-you_are_number.wav"
wait_time = true
wait_prompt = "ivr/ivr-estimated_wait.wav"
language = "en"
[queue.exit_keys]
"0" = "extension:operator@default"
"9" = "voicemail:1000@pbx.example.com"
[queue.callback]
key = "1"
dial = "sofia/gateway/pstn/{number}"
offer_prompt = "ivr/callback-offer.wav"
confirm_prompt = "ivr/callback-confirmed.wav"
confirm_timeout = "10s"
retries = 2
retry_delay = "2m"
ring_timeout = "30s"

[[queue]]
id = "sales"
name = "Sales"
"#;

    fn parse(text: &str) -> Provisioning {
        match Provisioning::parse(text, "p.toml") {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        }
    }

    /// The error for `text` with `from` replaced by `to`, as (line, key, message).
    fn rejected(text: &str, from: &str, to: &str) -> (Option<usize>, String, String) {
        assert!(text.contains(from), "{from:?} is not in the text");
        let changed = text.replacen(from, to, 1);
        match Provisioning::parse(&changed, "p.toml") {
            Ok(_) => panic!("accepted {to:?}"),
            Err(e) => (e.line, e.key, e.message),
        }
    }

    /// The 1-based line of the first line of `text` that contains `needle`.
    fn line_of(text: &str, needle: &str) -> Option<usize> {
        text.lines().position(|l| l.contains(needle)).map(|i| i + 1)
    }

    fn skill(s: &str) -> SkillLevel {
        match s.parse() {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    fn qid(s: &str) -> QueueId {
        match QueueId::new(s) {
            Ok(q) => q,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn the_documented_format_parses_into_routing_settings() {
        let p = parse(BRIEF);
        let support = &p.queues[0];
        assert_eq!(support.busy_backoff, Some(Duration::from_secs(10)));
        let secs = |s| Some(Duration::from_secs(s));
        assert_eq!(
            support.routing,
            QueueRouting {
                strategy: Strategy::LongestIdleAgent,
                ring_progressively_every: Duration::from_secs(5),
                weight: 2,
                steps: vec![
                    EscalationStep {
                        after: Duration::ZERO,
                        require: vec![skill("spanish:7")],
                        prefer: vec![skill("billing:1")],
                        max_tier: Some(1),
                        caller_skills: CallerSkills::Require,
                    },
                    EscalationStep {
                        after: Duration::from_secs(30),
                        require: vec![skill("spanish:3")],
                        ..EscalationStep::default()
                    },
                    EscalationStep {
                        after: Duration::from_secs(90),
                        caller_skills: CallerSkills::Ignore,
                        ..EscalationStep::default()
                    },
                ],
                max_no_answer: 3,
                reject_backoff: secs(30),
                no_answer_backoff: secs(15),
                max_wait: secs(300),
                on_max_wait: Some(Destination::Queue {
                    queue: qid("sales")
                }),
                on_no_agents: Some(Destination::Voicemail {
                    domain: "pbx.example.com".into(),
                    mailbox: "1000".into(),
                }),
                abandoned_resume: secs(60),
                ..QueueRouting::default()
            }
        );
        assert_eq!(p.queues[1].routing, QueueRouting::default());
        assert_eq!(p.queues[1].busy_backoff, None);

        let alice = &p.agents[0];
        assert_eq!(alice.skills, [skill("billing:3"), skill("spanish:8")]);
        assert_eq!(
            alice.queues,
            [
                Membership::new(qid("support"), 1),
                Membership {
                    queue: qid("sales"),
                    tier: 2,
                    position: 5,
                    weight: 3
                },
            ]
        );
    }

    #[test]
    fn plain_queue_entries_get_tier_one_and_their_place_in_the_list() {
        let p = parse(&BRIEF.replace(
            r#"queues = ["support", { queue = "sales", tier = 2, position = 5, weight = 3 }]"#,
            r#"queues = [{ queue = "sales" }, "support"]"#,
        ));
        assert_eq!(
            p.agents[0].queues,
            [
                Membership::new(qid("sales"), 1),
                Membership::new(qid("support"), 2)
            ]
        );
    }

    #[test]
    fn strategy_aliases_are_accepted() {
        for (alias, strategy) in [
            ("linear", Strategy::TopDown),
            ("ringall", Strategy::RingAll),
            ("rrmemory", Strategy::RoundRobin),
        ] {
            let p = parse(&BRIEF.replace("longest-idle-agent", alias));
            assert_eq!(p.queues[0].routing.strategy, strategy);
        }
    }

    #[test]
    fn an_unknown_strategy_lists_the_valid_names() {
        let (line, key, message) = rejected(BRIEF, "longest-idle-agent", "fastest");
        assert_eq!(line, line_of(BRIEF, "strategy"));
        assert_eq!(key, "queue[0].strategy");
        assert!(message.contains("\"fastest\""), "{message}");
        for name in Strategy::NAMES {
            assert!(message.contains(name), "{message}");
        }
    }

    #[test]
    fn a_queue_weight_of_zero_is_rejected() {
        let (line, key, message) = rejected(BRIEF, "weight = 2", "weight = 0");
        assert_eq!(
            (line, key.as_str()),
            (line_of(BRIEF, "weight = 2"), "queue[0].weight")
        );
        assert!(message.contains("at least 1"), "{message}");
    }

    #[test]
    fn zero_durations_that_would_fire_at_once_are_rejected() {
        for (from, to, name) in [
            ("max_wait = \"5m\"", "max_wait = \"0s\"", "max_wait"),
            (
                "ring_progressively_every = \"5s\"",
                "ring_progressively_every = \"0s\"",
                "ring_progressively_every",
            ),
            (
                "abandoned_resume = \"60s\"",
                "abandoned_resume = \"0s\"",
                "abandoned_resume",
            ),
        ] {
            let (line, key, _) = rejected(BRIEF, from, to);
            assert_eq!(
                (line, key),
                (line_of(BRIEF, from), format!("queue[0].{name}"))
            );
        }
    }

    #[test]
    fn on_max_wait_without_max_wait_is_rejected() {
        let (line, key, message) = rejected(BRIEF, "max_wait = \"5m\"\n", "");
        assert_eq!(line, line_of(BRIEF, "on_max_wait").map(|l| l - 1));
        assert_eq!(key, "queue[0].on_max_wait");
        assert!(message.contains("max_wait"), "{message}");
    }

    #[test]
    fn an_overflow_to_an_unknown_queue_names_the_line() {
        let (line, key, message) = rejected(BRIEF, "queue:sales", "queue:billing");
        assert_eq!(line, line_of(BRIEF, "on_max_wait"));
        assert_eq!(key, "queue[0].on_max_wait");
        assert_eq!(message, "queue \"billing\" is not declared in this file");
    }

    #[test]
    fn an_overflow_to_the_queue_itself_is_rejected() {
        let (line, key, message) =
            rejected(BRIEF, "voicemail:1000@pbx.example.com", "queue:support");
        assert_eq!(line, line_of(BRIEF, "on_no_agents"));
        assert_eq!(key, "queue[0].on_no_agents");
        assert!(message.contains("itself"), "{message}");
    }

    #[test]
    fn an_overflow_loop_between_queues_is_rejected_where_it_closes() {
        let looped = BRIEF.replace(
            "id = \"sales\"\nname = \"Sales\"\n",
            "id = \"sales\"\nname = \"Sales\"\non_no_agents = \"queue:support\"\n",
        );
        let err = Provisioning::parse(&looped, "p.toml").err();
        let Some(err) = err else {
            panic!("accepted an overflow loop")
        };
        assert_eq!(err.line, line_of(&looped, "queue:support"));
        assert_eq!(err.key, "queue[1].on_no_agents");
        assert!(err.message.contains("support -> sales -> support"), "{err}");
    }

    #[test]
    fn a_longer_overflow_loop_is_rejected_and_a_chain_is_not() {
        let queue = |id: &str, to: &str| {
            format!("[[queue]]\nid = \"{id}\"\nname = \"{id}\"\non_no_agents = \"{to}\"\n")
        };
        let chain = [
            queue("a", "queue:b"),
            queue("b", "queue:c"),
            queue("c", "hangup"),
        ]
        .concat();
        assert!(Provisioning::parse(&chain, "p.toml").is_ok());
        let looped = chain.replace("\"hangup\"", "\"queue:a\"");
        let err = Provisioning::parse(&looped, "p.toml").err();
        assert!(
            err.as_ref().is_some_and(
                |e| e.key == "queue[2].on_no_agents" && e.message.contains("a -> b -> c -> a")
            ),
            "{err:?}"
        );
    }

    #[test]
    fn destinations_that_could_inject_into_the_switch_are_rejected() {
        for bad in [
            "extension:1000 XML evil",
            "extension:1000@default&api",
            "extension:-both",
            "voicemail:1000@pbx.example.com;x",
            "voicemail:{x=y}1000@pbx.example.com",
            "hangup:normal_clearing",
            "hangup:NORMAL CLEARING",
        ] {
            let (line, key, message) = rejected(BRIEF, "voicemail:1000@pbx.example.com", bad);
            assert_eq!(line, line_of(BRIEF, "on_no_agents"), "{bad}");
            assert_eq!(key, "queue[0].on_no_agents", "{bad}");
            assert!(message.contains("not allowed"), "{bad}: {message}");
        }
    }

    #[test]
    fn a_destination_of_an_unknown_kind_shows_the_forms() {
        let (_, key, message) = rejected(BRIEF, "queue:sales", "transfer:1000");
        assert_eq!(key, "queue[0].on_max_wait");
        assert!(
            message.contains("voicemail:<mailbox>@<domain>"),
            "{message}"
        );
    }

    #[test]
    fn extension_and_hangup_destinations_take_their_defaults() {
        let p = parse(
            &BRIEF
                .replace("queue:sales", "extension:5100")
                .replace("voicemail:1000@pbx.example.com", "hangup"),
        );
        let routing = &p.queues[0].routing;
        assert_eq!(
            routing.on_max_wait,
            Some(Destination::Extension {
                number: "5100".into(),
                context: "default".into()
            })
        );
        assert_eq!(
            routing.on_no_agents,
            Some(Destination::Hangup {
                cause: "NORMAL_CLEARING".into()
            })
        );
    }

    #[test]
    fn the_first_step_must_start_at_zero() {
        let (line, key, message) = rejected(BRIEF, "after = \"0s\"", "after = \"5s\"");
        assert_eq!(line, line_of(BRIEF, "after = \"0s\""));
        assert_eq!(key, "queue[0].step[0].after");
        assert!(message.contains("\"0s\""), "{message}");
    }

    #[test]
    fn steps_out_of_order_are_rejected_at_the_later_step() {
        for to in ["after = \"20s\"", "after = \"30s\""] {
            let (line, key, message) = rejected(BRIEF, "after = \"90s\"", to);
            assert_eq!(line, line_of(BRIEF, "after = \"90s\""), "{to}");
            assert_eq!(key, "queue[0].step[2].after");
            assert!(message.contains("in order"), "{message}");
        }
    }

    #[test]
    fn a_step_max_tier_of_zero_is_rejected() {
        let (line, key, _) = rejected(BRIEF, "max_tier = 1", "max_tier = 0");
        assert_eq!(line, line_of(BRIEF, "max_tier"));
        assert_eq!(key, "queue[0].step[0].max_tier");
    }

    #[test]
    fn a_bad_step_value_names_the_step_within_its_queue() {
        let (line, key, _) = rejected(BRIEF, "after = \"90s\"", "after = \"later\"");
        assert_eq!(line, line_of(BRIEF, "after = \"90s\""));
        assert_eq!(key, "queue[0].step[2].after");
        let (line, key, message) = rejected(
            BRIEF,
            "caller_skills = \"ignore\"",
            "caller_skills = \"drop\"",
        );
        assert_eq!(line, line_of(BRIEF, "caller_skills = \"ignore\""));
        assert_eq!(key, "queue[0].step[2].caller_skills");
        assert!(message.contains("require"), "{message}");
        let (_, key, _) = rejected(BRIEF, "max_tier = 1", "max_teir = 1");
        assert_eq!(key, "queue[0].step[0].max_teir");
    }

    #[test]
    fn a_bad_step_skill_names_the_step_and_list() {
        let (line, key, message) = rejected(
            BRIEF,
            "require = [\"spanish:3\"]",
            "require = [\"spanish:high\"]",
        );
        assert_eq!(line, line_of(BRIEF, "require = [\"spanish:3\"]"));
        assert_eq!(key, "queue[0].step[1].require");
        assert!(message.contains("\"high\""), "{message}");
        let (_, key, message) = rejected(
            BRIEF,
            "prefer = [\"billing\"]",
            "prefer = [\"billing\", \"billing:4\"]",
        );
        assert_eq!(key, "queue[0].step[0].prefer");
        assert!(message.contains("twice"), "{message}");
    }

    #[test]
    fn agent_skills_with_a_bad_level_or_syntax_are_rejected() {
        for bad in [
            "spanish:0",
            "spanish:11",
            "spanish:",
            ":3",
            "span ish:3",
            "spanish:7:2",
        ] {
            let (line, key, _) = rejected(BRIEF, "\"spanish:8\"", &format!("{bad:?}"));
            assert_eq!(line, line_of(BRIEF, "skills = ["), "{bad}");
            assert_eq!(key, "agent[0].skills", "{bad}");
        }
    }

    #[test]
    fn a_skill_listed_twice_on_an_agent_is_rejected() {
        let (line, key, message) = rejected(BRIEF, "\"billing:3\"", "\"billing:3\", \"spanish:2\"");
        assert_eq!(line, line_of(BRIEF, "skills = ["));
        assert_eq!(key, "agent[0].skills");
        assert_eq!(message, "skill \"spanish\" is listed twice");
    }

    #[test]
    fn membership_tier_and_weight_must_be_at_least_one() {
        for (from, to) in [("tier = 2", "tier = 0"), ("weight = 3", "weight = 0")] {
            let (line, key, message) = rejected(BRIEF, from, to);
            assert_eq!(line, line_of(BRIEF, "queues = ["), "{to}");
            assert_eq!(key, "agent[0].queues");
            assert!(message.contains("at least 1"), "{message}");
        }
    }

    #[test]
    fn membership_tables_reject_unknown_keys_and_unknown_queues() {
        let (line, key, message) = rejected(BRIEF, "tier = 2", "tir = 2");
        assert_eq!(
            (line, key.as_str()),
            (line_of(BRIEF, "queues = ["), "agent[0].queues")
        );
        assert!(message.contains("unknown field `tir`"), "{message}");
        let (_, _, message) = rejected(BRIEF, "{ queue = \"sales\"", "{ queue = \"billing\"");
        assert_eq!(message, "queue \"billing\" is not declared in this file");
        let (_, _, message) = rejected(BRIEF, "{ queue = \"sales\"", "{ queue = \"support\"");
        assert_eq!(message, "queue \"support\" is listed twice");
        let (_, key, _) = rejected(BRIEF, "\"support\", {", "42, {");
        assert_eq!(key, "agent[0].queues");
    }

    #[test]
    fn announcements_exit_keys_and_callback_parse_into_routing_settings() {
        let p = parse(WAITING);
        let routing = &p.queues[0].routing;
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(
            routing.announcements,
            Announcements {
                every: Some(Duration::from_secs(45)),
                prompt: some("ivr/ivr-thank_you_for_holding.wav"),
                position: true,
                position_prompt: some("ivr/ivr-you_are_number.wav"),
                wait_time: true,
                wait_prompt: some("ivr/ivr-estimated_wait.wav"),
                language: "en".into(),
            }
        );
        assert_eq!(
            routing.exit_keys,
            [
                ExitKey {
                    digit: '0',
                    destination: Destination::Extension {
                        number: "operator".into(),
                        context: "default".into()
                    }
                },
                ExitKey {
                    digit: '9',
                    destination: Destination::Voicemail {
                        domain: "pbx.example.com".into(),
                        mailbox: "1000".into()
                    }
                },
            ]
        );
        assert_eq!(
            routing.callback,
            Some(CallbackSettings {
                key: '1',
                dial: "sofia/gateway/pstn/{number}".into(),
                offer_prompt: some("ivr/callback-offer.wav"),
                confirm_prompt: some("ivr/callback-confirmed.wav"),
                confirm_timeout: Duration::from_secs(10),
                retries: 2,
                retry_delay: Duration::from_secs(120),
                ring_timeout: Duration::from_secs(30),
            })
        );
        assert_eq!(p.queues[1].routing, QueueRouting::default());
    }

    #[test]
    fn the_example_file_announces_offers_exit_keys_and_a_callback() {
        let text = include_str!("../../provisioning.example.toml");
        let p = parse(text);
        let support = &p.queues[0].routing;
        let a = &support.announcements;
        assert_eq!(a.every, Some(Duration::from_secs(45)));
        assert_eq!(
            a.prompt.as_deref(),
            Some("ivr/ivr-thank_you_for_holding.wav")
        );
        assert!(a.position && a.wait_time);
        assert_eq!(
            a.position_prompt.as_deref(),
            Some("ivr/ivr-you_are_number.wav")
        );
        assert_eq!(a.wait_prompt.as_deref(), Some("ivr/ivr-estimated_wait.wav"));
        assert_eq!(a.language, "en");
        assert_eq!(
            support.whisper.as_deref(),
            Some("switchboard/queue-support.wav")
        );
        let keys: Vec<String> = support
            .exit_keys
            .iter()
            .map(|k| format!("{}={}", k.digit, k.destination))
            .collect();
        assert_eq!(
            keys,
            [
                "0=extension:operator@default",
                "9=voicemail:2000@pbx.example.com"
            ]
        );
        let callback = support.callback.as_ref();
        assert_eq!(
            callback,
            Some(&CallbackSettings {
                key: '1',
                dial: "sofia/gateway/pstn/{number}".into(),
                offer_prompt: Some("switchboard/callback-offer.wav".into()),
                confirm_prompt: Some("switchboard/callback-confirmed.wav".into()),
                confirm_timeout: Duration::from_secs(10),
                retries: 2,
                retry_delay: Duration::from_secs(120),
                ring_timeout: Duration::from_secs(30),
            })
        );
        assert_eq!(
            callback.map(|c| c.dial_string("+15550100")),
            Some("sofia/gateway/pstn/+15550100".to_owned())
        );
        let sales = &p.queues[1].routing;
        assert_eq!(sales.announcements, Announcements::default());
        assert!(sales.exit_keys.is_empty() && sales.callback.is_none());
        assert_eq!(support.recording.mode, RecordingMode::Percent(20));
        assert_eq!(sales.recording.mode, RecordingMode::Never);
    }

    #[test]
    fn a_callback_with_only_a_dial_template_takes_the_defaults() {
        let start = WAITING.find("key = \"1\"").unwrap_or(0);
        let end = WAITING.find("\n\n[[queue]]").unwrap_or(0);
        let minimal = WAITING
            .replace(
                &WAITING[start..end],
                "dial = \"user/{number}@pbx.example.com\"",
            )
            .replace("\"9\" = ", "\"#\" = ");
        let p = parse(&minimal);
        assert_eq!(
            p.queues[0].routing.callback,
            Some(CallbackSettings {
                dial: "user/{number}@pbx.example.com".into(),
                ..CallbackSettings::default()
            })
        );
    }

    #[test]
    fn announcements_without_every_are_rejected_at_their_table() {
        let (line, key, message) = rejected(WAITING, "every = \"45s\"\n", "");
        assert_eq!(line, line_of(WAITING, "[queue.announcements]"));
        assert_eq!(key, "queue[0].announcements");
        assert!(message.contains("`every`"), "{message}");
    }

    #[test]
    fn announcements_with_nothing_to_say_are_rejected_at_every() {
        let silent = WAITING
            .replace("prompt = \"ivr/ivr-thank_you_for_holding.wav\"\n", "")
            .replace("position_prompt = \"ivr/ivr-you_are_number.wav\"\n", "")
            .replace("wait_prompt = \"ivr/ivr-estimated_wait.wav\"\n", "")
            .replace("position = true", "position = false")
            .replace("wait_time = true", "wait_time = false");
        let err = Provisioning::parse(&silent, "p.toml").err();
        let Some(err) = err else {
            panic!("accepted silent announcements")
        };
        assert_eq!(err.line, line_of(&silent, "every = "));
        assert_eq!(err.key, "queue[0].announcements.every");
        assert!(err.message.contains("nothing to say"), "{err}");
        // Any one of the three is enough.
        let position_only = silent.replace("position = false", "position = true");
        assert!(Provisioning::parse(&position_only, "p.toml").is_ok());
    }

    #[test]
    fn a_position_or_wait_prompt_whose_part_is_off_is_rejected() {
        for (part, prompt) in [
            ("position", "position_prompt"),
            ("wait_time", "wait_prompt"),
        ] {
            let (line, key, message) = rejected(
                WAITING,
                &format!("{part} = true"),
                &format!("{part} = false"),
            );
            assert_eq!(line, line_of(WAITING, &format!("{prompt} = ")), "{part}");
            assert_eq!(key, format!("queue[0].announcements.{prompt}"));
            assert!(message.contains(&format!("{part} = true")), "{message}");
        }
    }

    #[test]
    fn a_language_that_say_would_not_know_is_rejected() {
        for ok in ["de", "pt_BR", "fr"] {
            let p = parse(&WAITING.replace("language = \"en\"", &format!("language = {ok:?}")));
            assert_eq!(p.queues[0].routing.announcements.language, ok);
        }
        for bad in ["e", "e n", "en1", "_en", "en_", "english_uk", "en;x", ""] {
            let (line, key, message) =
                rejected(WAITING, "language = \"en\"", &format!("language = {bad:?}"));
            assert_eq!(line, line_of(WAITING, "language = "), "{bad:?}");
            assert_eq!(key, "queue[0].announcements.language", "{bad:?}");
            assert!(message.contains("pt_BR"), "{message}");
        }
    }

    #[test]
    fn prompts_that_could_break_the_playback_command_are_rejected() {
        for (from, name) in [
            (
                "\"ivr/ivr-thank_you_for_holding.wav\"",
                "announcements.prompt",
            ),
            (
                "\"ivr/ivr-you_are_number.wav\"",
                "announcements.position_prompt",
            ),
            (
                "\"ivr/ivr-estimated_wait.wav\"",
                "announcements.wait_prompt",
            ),
            ("\"ivr/callback-offer.wav\"", "callback.offer_prompt"),
            ("\"ivr/callback-confirmed.wav\"", "callback.confirm_prompt"),
        ] {
            for bad in [
                "\"a b.wav\"",
                "\"a.wav\\napi shutdown\"",
                "\"{x=y}a.wav\"",
                "\"\"",
            ] {
                let (line, key, _) = rejected(WAITING, from, bad);
                assert_eq!(line, line_of(WAITING, from), "{name} {bad}");
                assert_eq!(key, format!("queue[0].{name}"), "{bad}");
            }
        }
    }

    /// A queue that whispers its name to the agent who answers.
    const WHISPERING: &str = r#"
[[queue]]
id = "support"
name = "Support"
whisper = "switchboard/queue-support.wav"
"#;

    #[test]
    fn a_whisper_is_a_prompt_in_the_routing_settings() {
        let p = parse(WHISPERING);
        assert_eq!(
            p.queues[0].routing.whisper.as_deref(),
            Some("switchboard/queue-support.wav")
        );
        assert_eq!(parse(MINIMAL_QUEUE).queues[0].routing.whisper, None);
    }

    const MINIMAL_QUEUE: &str = r#"
[[queue]]
id = "support"
name = "Support"
"#;

    #[test]
    fn a_whisper_that_could_break_the_playback_command_is_rejected_at_its_line() {
        for bad in [
            "\"a b.wav\"",
            "\"a.wav\\napi shutdown\"",
            "\"{x=y}a.wav\"",
            "\"\"",
            "\"say:Support\"",
        ] {
            let (line, key, _) = rejected(WHISPERING, "\"switchboard/queue-support.wav\"", bad);
            assert_eq!(line, line_of(WHISPERING, "whisper = "), "{bad}");
            assert_eq!(key, "queue[0].whisper", "{bad}");
        }
    }

    const ALARMED: &str = r#"
[[queue]]
id = "support"
name = "Support"

[queue.thresholds]
waiting = 10
longest_wait = "2m"
service_level = { percent = 80, within = "20s", window = "15m", min_calls = 5 }
"#;

    #[test]
    fn queue_thresholds_are_read_with_the_service_level_window_defaulting_to_half_an_hour() {
        let t = &parse(ALARMED).queues[0].routing.thresholds;
        assert_eq!(t.waiting, Some(10));
        assert_eq!(t.longest_wait, Some(Duration::from_secs(120)));
        let sl = t.service_level.as_ref().expect("a service level");
        assert_eq!(
            (sl.percent, sl.within, sl.window, sl.min_calls),
            (80, Duration::from_secs(20), Duration::from_secs(900), 5)
        );
        let defaulted = ALARMED.replace(", window = \"15m\", min_calls = 5", "");
        let sl = parse(&defaulted).queues[0]
            .routing
            .thresholds
            .service_level
            .clone();
        let sl = sl.expect("a service level");
        assert_eq!(
            (sl.window, sl.min_calls),
            (DEFAULT_SERVICE_LEVEL_WINDOW, 10)
        );
        assert!(!parse(MINIMAL_QUEUE).queues[0].routing.thresholds.any());
    }

    #[test]
    fn queue_thresholds_that_can_never_be_crossed_are_rejected_at_their_line() {
        let line = line_of(ALARMED, "service_level = ");
        for (from, to, key) in [
            ("waiting = 10", "waiting = 0", "queue[0].thresholds.waiting"),
            (
                "longest_wait = \"2m\"",
                "longest_wait = \"0s\"",
                "queue[0].thresholds.longest_wait",
            ),
            (
                "percent = 80",
                "percent = 0",
                "queue[0].thresholds.service_level.percent",
            ),
            (
                "percent = 80",
                "percent = 101",
                "queue[0].thresholds.service_level.percent",
            ),
            (
                "window = \"15m\"",
                "window = \"10s\"",
                "queue[0].thresholds.service_level.window",
            ),
        ] {
            let (at, k, _) = rejected(ALARMED, from, to);
            assert_eq!(k, key, "{to}");
            if key.contains("service_level") {
                assert_eq!(at, line, "{to}");
            } else {
                assert_eq!(at, line_of(ALARMED, from), "{to}");
            }
        }
        let empty = "[[queue]]\nid = \"support\"\nname = \"Support\"\n\n[queue.thresholds]\n";
        let (_, key, message) = rejected(empty, "[queue.thresholds]", "[queue.thresholds]");
        assert_eq!(key, "queue[0].thresholds");
        assert!(message.contains("at least one"), "{message}");
    }

    const RECORDED: &str = r#"
[[queue]]
id = "support"
name = "Support"

[queue.recording]
mode = "percent"
percent = 20
stereo = true
template = "{date}/{queue}/{time}-{call}.wav"
"#;

    #[test]
    fn a_queue_recording_policy_is_read_and_defaults_to_never() {
        let policy = &parse(RECORDED).queues[0].routing.recording;
        assert_eq!(policy.mode, RecordingMode::Percent(20));
        assert!(policy.stereo);
        assert_eq!(policy.template.as_str(), "{date}/{queue}/{time}-{call}.wav");
        let always = RECORDED
            .replace("mode = \"percent\"\npercent = 20\n", "mode = \"always\"\n")
            .replace("template = \"{date}/{queue}/{time}-{call}.wav\"\n", "")
            .replace("stereo = true\n", "");
        let policy = &parse(&always).queues[0].routing.recording;
        assert_eq!(policy.mode, RecordingMode::Always);
        assert!(!policy.stereo);
        assert_eq!(policy.template, RecordingTemplate::default());
        let on_demand = always.replace("\"always\"", "\"on_demand\"");
        assert_eq!(
            parse(&on_demand).queues[0].routing.recording.mode,
            RecordingMode::OnDemand
        );
        assert_eq!(
            parse(MINIMAL_QUEUE).queues[0].routing.recording,
            RecordingPolicy::default()
        );
    }

    #[test]
    fn a_bad_recording_policy_is_rejected_at_its_line_and_key() {
        for (from, to, key, needle) in [
            (
                "\"percent\"",
                "\"sometimes\"",
                "mode",
                "unknown recording mode",
            ),
            ("percent = 20", "percent = 101", "percent", "0 to 100"),
            ("percent = 20", "percent = -1", "percent", "0 to 100"),
            ("\"percent\"", "\"always\"", "percent", "goes with"),
            ("percent = 20", "", "mode", "needs percent"),
            (
                "{time}-{call}.wav",
                "../{call}.wav",
                "template",
                "relative path",
            ),
            (
                "{time}-{call}.wav",
                "{call} x.wav",
                "template",
                "not allowed",
            ),
            (
                "{time}-{call}.wav",
                "{call};.wav",
                "template",
                "not allowed",
            ),
            ("{time}-{call}.wav", "{time}.wav", "template", "{call}"),
            (
                "{time}-{call}.wav",
                "{caller}.wav",
                "template",
                "unknown placeholder",
            ),
        ] {
            let (line, k, message) = rejected(RECORDED, from, to);
            assert_eq!(k, format!("queue[0].recording.{key}"), "{to}");
            assert!(message.contains(needle), "{to}: {message}");
            let at = if key == "percent" && to.is_empty() {
                line_of(RECORDED, "mode = ")
            } else {
                line_of(&RECORDED.replacen(from, to, 1), &format!("{key} = "))
            };
            assert_eq!(line, at, "{to}");
        }
        let (_, key, _) = rejected(RECORDED, "stereo = true", "stereo = true\nformat = \"mp3\"");
        assert!(key.contains("recording"), "{key}");
    }

    #[test]
    fn zero_waiting_durations_are_rejected() {
        for (from, name) in [
            ("every = \"45s\"", "announcements.every"),
            ("confirm_timeout = \"10s\"", "callback.confirm_timeout"),
            ("retry_delay = \"2m\"", "callback.retry_delay"),
            ("ring_timeout = \"30s\"", "callback.ring_timeout"),
        ] {
            let (name_part, _) = from.split_once(" = ").unwrap_or_default();
            let (line, key, message) = rejected(WAITING, from, &format!("{name_part} = \"0s\""));
            assert_eq!(line, line_of(WAITING, from), "{name}");
            assert_eq!(key, format!("queue[0].{name}"));
            assert_eq!(message, "must be more than zero");
        }
    }

    #[test]
    fn exit_keys_must_be_keys_of_a_phone_keypad() {
        for bad in ["10", "a", "A", "", " 1", "**"] {
            let (line, key, message) = rejected(WAITING, "\"9\" = ", &format!("{bad:?} = "));
            assert_eq!(line, line_of(WAITING, "\"9\" = "), "{bad:?}");
            assert_eq!(key, "queue[0].exit_keys", "{bad:?}");
            assert!(message.contains("0-9, * or #"), "{message}");
        }
        let p = parse(
            &WAITING
                .replace("\"0\" = ", "\"*\" = ")
                .replace("\"9\" = ", "\"#\" = "),
        );
        let digits: Vec<char> = p.queues[0]
            .routing
            .exit_keys
            .iter()
            .map(|k| k.digit)
            .collect();
        assert_eq!(digits, ['*', '#']);
    }

    #[test]
    fn exit_key_destinations_are_checked_like_overflows() {
        let (line, key, message) = rejected(
            WAITING,
            "extension:operator@default",
            "extension:0 XML evil",
        );
        assert_eq!(line, line_of(WAITING, "\"0\" = "));
        assert_eq!(key, "queue[0].exit_keys.0");
        assert!(message.contains("not allowed"), "{message}");
        let (_, key, message) = rejected(WAITING, "extension:operator@default", "dial:0");
        assert_eq!(key, "queue[0].exit_keys.0");
        assert!(message.contains("hangup[:<cause>]"), "{message}");
    }

    #[test]
    fn an_exit_key_to_an_unknown_queue_is_rejected() {
        let (line, key, message) = rejected(WAITING, "extension:operator@default", "queue:billing");
        assert_eq!(line, line_of(WAITING, "\"0\" = "));
        assert_eq!(key, "queue[0].exit_keys.0");
        assert_eq!(message, "queue \"billing\" is not declared in this file");
        // To another queue of the file it is fine.
        let p = parse(&WAITING.replace("extension:operator@default", "queue:sales"));
        assert_eq!(
            p.queues[0].routing.exit_keys[0].destination,
            Destination::Queue {
                queue: qid("sales")
            }
        );
    }

    #[test]
    fn an_exit_key_to_the_queue_itself_is_rejected() {
        let (line, key, message) =
            rejected(WAITING, "voicemail:1000@pbx.example.com", "queue:support");
        assert_eq!(line, line_of(WAITING, "\"9\" = "));
        assert_eq!(key, "queue[0].exit_keys.9");
        assert!(message.contains("itself"), "{message}");
    }

    #[test]
    fn an_overflow_loop_through_an_exit_key_is_rejected() {
        let looped = WAITING
            .replace("extension:operator@default", "queue:sales")
            .replace(
                "id = \"sales\"\nname = \"Sales\"\n",
                "id = \"sales\"\nname = \"Sales\"\non_no_agents = \"queue:support\"\n",
            );
        let err = Provisioning::parse(&looped, "p.toml").err();
        let Some(err) = err else {
            panic!("accepted a loop through an exit key")
        };
        assert_eq!(err.line, line_of(&looped, "\"queue:support\""));
        assert_eq!(err.key, "queue[1].on_no_agents");
        assert!(err.message.contains("support -> sales -> support"), "{err}");
    }

    #[test]
    fn the_callback_key_must_be_a_phone_key() {
        for bad in ["12", "x", ""] {
            let (line, key, message) = rejected(WAITING, "key = \"1\"", &format!("key = {bad:?}"));
            assert_eq!(line, line_of(WAITING, "key = \"1\""), "{bad:?}");
            assert_eq!(key, "queue[0].callback.key");
            assert!(message.contains("0-9, * or #"), "{message}");
        }
    }

    #[test]
    fn a_callback_key_that_is_also_an_exit_key_is_rejected_at_the_callback_key() {
        let (line, key, message) = rejected(WAITING, "key = \"1\"", "key = \"9\"");
        assert_eq!(line, line_of(WAITING, "key = \"1\""));
        assert_eq!(key, "queue[0].callback.key");
        assert!(
            message.contains("already an exit key (to voicemail:1000@pbx.example.com)"),
            "{message}"
        );
    }

    #[test]
    fn the_default_callback_key_clashing_with_an_exit_key_is_rejected_at_the_exit_key() {
        let text = WAITING
            .replace("key = \"1\"\n", "")
            .replace("\"9\" = ", "\"*\" = ");
        let err = Provisioning::parse(&text, "p.toml").err();
        let Some(err) = err else {
            panic!("accepted * as exit key and default callback key")
        };
        assert_eq!(err.line, line_of(&text, "\"*\" = "));
        assert_eq!(err.key, "queue[0].exit_keys.*");
        assert!(err.message.contains("defaults to '*'"), "{err}");
    }

    #[test]
    fn a_dial_template_without_the_number_is_rejected() {
        let (line, key, message) = rejected(
            WAITING,
            "sofia/gateway/pstn/{number}",
            "sofia/gateway/pstn/5551234",
        );
        assert_eq!(line, line_of(WAITING, "dial = "));
        assert_eq!(key, "queue[0].callback.dial");
        assert!(message.contains("no {number}"), "{message}");
    }

    #[test]
    fn a_dial_template_that_could_add_options_or_legs_is_rejected() {
        for bad in [
            "sofia/gateway/pstn/{number},user/1001",
            "sofia/gateway/pstn/{number}|user/1001",
            "{ignore_early_media=true}sofia/gateway/pstn/{number}",
            "[leg_timeout=1]sofia/gateway/pstn/{number}",
            "sofia/gateway/pstn/{number} &bridge(user/1001)",
            "sofia/gateway/pstn/'{number}'",
            "sofia/gateway/pstn/{number}\\napi shutdown",
            "sofia/gateway/{number}/x",
            "error/{number}",
        ] {
            let (line, key, message) = rejected(
                WAITING,
                "\"sofia/gateway/pstn/{number}\"",
                &format!("{bad:?}"),
            );
            assert_eq!(line, line_of(WAITING, "dial = "), "{bad:?}");
            assert_eq!(key, "queue[0].callback.dial", "{bad:?}");
            assert!(message.contains("not a safe dial template"), "{message}");
        }
    }

    #[test]
    fn callback_retries_are_capped() {
        let text = WAITING.replace("retries = 2", &format!("retries = {MAX_CALLBACK_RETRIES}"));
        assert!(Provisioning::parse(&text, "p.toml").is_ok());
        let (line, key, message) = rejected(
            WAITING,
            "retries = 2",
            &format!("retries = {}", MAX_CALLBACK_RETRIES + 1),
        );
        assert_eq!(line, line_of(WAITING, "retries = "));
        assert_eq!(key, "queue[0].callback.retries");
        assert!(message.contains("at most"), "{message}");
    }

    #[test]
    fn a_callback_without_a_dial_template_is_rejected_at_its_table() {
        let (line, key, message) =
            rejected(WAITING, "dial = \"sofia/gateway/pstn/{number}\"\n", "");
        assert_eq!(line, line_of(WAITING, "[queue.callback]"));
        assert_eq!(key, "queue[0].callback");
        assert!(message.contains("`dial`"), "{message}");
    }

    #[test]
    fn unknown_keys_in_the_waiting_tables_are_rejected_with_their_key() {
        for (from, to, expected) in [
            ("every = ", "evry = ", "queue[0].announcements.evry"),
            (
                "ring_timeout = ",
                "ring_time = ",
                "queue[0].callback.ring_time",
            ),
        ] {
            let (line, key, message) = rejected(WAITING, from, to);
            assert_eq!(line, line_of(WAITING, from), "{to}");
            assert_eq!(key, expected);
            assert!(message.contains("unknown field"), "{message}");
        }
        let (line, key, _) = rejected(WAITING, "[queue.callback]", "[queue.call_back]");
        assert_eq!(line, line_of(WAITING, "[queue.callback]"));
        assert_eq!(key, "queue[0].call_back");
    }

    #[test]
    fn pause_reasons_are_read_with_their_productivity_and_duplicates_name_their_line() {
        let ok = parse(
            "[[pause_reason]]\ncode = \"1\"\nname = \"Lunch\"\n\n\
             [[pause_reason]]\ncode = \"2\"\nname = \"Training\"\nproductive = true\n",
        );
        assert_eq!(ok.pause_reasons.len(), 2);
        assert!(!ok.pause_reasons[0].productive && ok.pause_reasons[1].productive);
        let text = "[[pause_reason]]\ncode = \"1\"\nname = \"Lunch\"\n\n\
                    [[pause_reason]]\ncode = \"1\"\nname = \"Again\"\n";
        match Provisioning::parse(text, "p.toml") {
            Err(e) => {
                assert_eq!(e.key, "pause_reason[1].code");
                assert_eq!(e.line, Some(6));
            }
            Ok(_) => panic!("accepted a duplicate pause reason"),
        }
        let bad = "[[pause_reason]]\ncode = \"lunch break\"\nname = \"Lunch\"\n";
        assert!(Provisioning::parse(bad, "p.toml").is_err());
    }

    const HASH_A: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const HASH_B: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn token(name: &str, role: &str, agent: Option<&str>, sha256: &str) -> String {
        let agent = agent.map_or(String::new(), |a| format!("agent = \"{a}\"\n"));
        format!("[[token]]\nname = \"{name}\"\nrole = \"{role}\"\n{agent}sha256 = \"{sha256}\"\n\n")
    }

    fn token_error(text: &str) -> (Option<usize>, String, String) {
        match Provisioning::parse(text, "p.toml") {
            Err(e) => (e.line, e.key, e.message),
            Ok(_) => panic!("accepted {text}"),
        }
    }

    #[test]
    fn tokens_are_read_with_their_role_agent_and_digest() {
        let text = format!(
            "{}{}[[agent]]\nid = \"1001\"\nname = \"Alice\"\ndial_string = \"user/1001\"\n",
            token("crm", "integration", None, HASH_A),
            token("alice", "agent", Some("1001"), HASH_B)
        );
        let p = parse(&text);
        assert_eq!(p.tokens.len(), 2);
        assert_eq!(p.tokens[0].name.as_str(), "crm");
        assert_eq!(p.tokens[0].role, Role::Integration);
        assert_eq!(p.tokens[0].agent, None);
        assert_eq!(p.tokens[0].hash.to_hex(), HASH_A);
        assert_eq!(p.tokens[1].role, Role::Agent);
        assert_eq!(
            p.tokens[1].agent.as_ref().map(AgentId::as_str),
            Some("1001")
        );
        // The brief's spelling of the table is accepted too.
        let plural = token("crm", "admin", None, HASH_A).replace("[[token]]", "[[tokens]]");
        assert_eq!(parse(&plural).tokens.len(), 1);
    }

    #[test]
    fn a_token_entry_that_is_wrong_names_its_line_and_key() {
        let twice = format!(
            "{}{}",
            token("crm", "admin", None, HASH_A),
            token("crm", "admin", None, HASH_B)
        );
        let (line, key, message) = token_error(&twice);
        assert_eq!((line, key.as_str()), (Some(7), "token[1].name"));
        assert!(message.contains("declared twice"), "{message}");

        let same_hash = format!(
            "{}{}",
            token("a", "admin", None, HASH_A),
            token("b", "admin", None, HASH_A)
        );
        assert_eq!(token_error(&same_hash).1, "token[1].sha256");

        let (line, key, message) = token_error(&token("crm", "root", None, HASH_A));
        assert_eq!((line, key.as_str()), (Some(3), "token[0].role"));
        assert!(message.contains("supervisor"), "{message}");

        let (line, key, _) = token_error(&token("crm", "agent", None, HASH_A));
        assert_eq!((line, key.as_str()), (Some(3), "token[0].agent"));
        let (line, key, _) = token_error(&token("crm", "admin", Some("1001"), HASH_A));
        assert_eq!((line, key.as_str()), (Some(4), "token[0].agent"));

        let (line, key, _) = token_error(&token("crm", "admin", None, "sb_not-a-digest"));
        assert_eq!((line, key.as_str()), (Some(4), "token[0].sha256"));
        assert_eq!(
            token_error(&token("a b", "admin", None, HASH_A)).1,
            "token[0].name"
        );

        let unknown = token("crm", "admin", None, HASH_A).replace("sha256", "token");
        assert_eq!(token_error(&unknown).1, "token[0].token");
    }

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn webhook_file(webhook: &str) -> String {
        format!("[[queue]]\nid = \"support\"\nname = \"Support\"\n\n[[webhook]]\n{webhook}")
    }

    fn webhook_error(webhook: &str) -> (Option<usize>, String, String) {
        let env = |name: &str| (name == "CRM_SECRET").then(|| SECRET.to_owned());
        match Provisioning::parse_with_env(&webhook_file(webhook), "p.toml", &env) {
            Err(e) => (e.line, e.key, e.message),
            Ok(_) => panic!("accepted {webhook}"),
        }
    }

    #[test]
    fn webhooks_are_read_with_their_filters_and_secrets_from_the_file_or_the_environment() {
        let text = webhook_file(&format!(
            "name = \"crm\"\nurl = \"https://crm.example.com/hooks\"\n\
             events = [\"call.offered\", \"call.ended\"]\nqueues = [\"support\"]\n\
             secrets = [\"{SECRET}\", \"env:CRM_SECRET\"]\n"
        ));
        let env = |name: &str| (name == "CRM_SECRET").then(|| SECRET.to_owned());
        let p = match Provisioning::parse_with_env(&text, "p.toml", &env) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(p.webhooks.len(), 1);
        let w = &p.webhooks[0];
        assert_eq!(w.name, "crm");
        assert_eq!(w.events, ["call.offered", "call.ended"]);
        assert_eq!(w.queues[0].as_str(), "support");
        assert_eq!(w.secrets, [SECRET, SECRET]);
        assert!(!format!("{w:?}").contains(SECRET), "Debug shows a secret");
    }

    #[test]
    fn a_webhook_to_a_metadata_loopback_or_private_address_is_refused_unless_the_file_allows_it() {
        let webhook = format!(
            "name = \"crm\"\nurl = \"http://169.254.169.254/latest/meta-data/\"\n\
             events = [\"call.offered\"]\nsecrets = [\"{SECRET}\"]\n"
        );
        let (line, key, message) = webhook_error(&webhook);
        assert_eq!(
            (line, key.as_str()),
            (Some(7), "webhook[0].url"),
            "{message}"
        );
        assert!(message.contains("link-local"), "{message}");
        let loopback = webhook.replace("169.254.169.254", "127.0.0.1:9000");
        let (line, key, _) = webhook_error(&loopback);
        assert_eq!((line, key.as_str()), (Some(7), "webhook[0].url"));
        let allowed = format!(
            "[webhook_settings]\nallow_private_targets = true\n\n{}",
            webhook_file(&loopback)
        );
        let p = match Provisioning::parse(&allowed, "p.toml") {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        };
        assert!(p.allow_private_webhook_targets);
        assert_eq!(p.webhooks[0].url, "http://127.0.0.1:9000/latest/meta-data/");
    }

    #[test]
    fn a_webhook_entry_that_is_wrong_names_its_line_and_key() {
        let good = format!(
            "name = \"crm\"\nurl = \"https://crm.example.com/hooks\"\n\
             events = [\"call.offered\"]\nsecrets = [\"{SECRET}\"]\n"
        );
        let (line, key, message) = webhook_error(&good.replace("https://", "ftp://"));
        assert_eq!((line, key.as_str()), (Some(7), "webhook[0].url"));
        assert!(message.contains("http:// or https://"), "{message}");
        let (line, key, message) = webhook_error(&good.replace("call.offered", "call.rang"));
        assert_eq!((line, key.as_str()), (Some(8), "webhook[0].events"));
        assert!(
            message.contains("\"call.rang\" is not an event type"),
            "{message}"
        );
        let (line, key, message) =
            webhook_error(&good.replace("secrets", "queues = [\"sales\"]\nsecrets"));
        assert_eq!((line, key.as_str()), (Some(9), "webhook[0].queues"));
        assert!(message.contains("no queue \"sales\""), "{message}");
        let (line, key, _) = webhook_error(&good.replace(SECRET, "hunter2"));
        assert_eq!((line, key.as_str()), (Some(9), "webhook[0].secrets"));
        let (line, key, message) = webhook_error(&good.replace(SECRET, "env:MISSING"));
        assert_eq!((line, key.as_str()), (Some(9), "webhook[0].secrets"));
        assert!(message.contains("\"MISSING\" is not set"), "{message}");
        let (_, key, message) = webhook_error(&good.replace(&format!("\"{SECRET}\""), ""));
        assert_eq!(key, "webhook[0].secrets");
        assert!(message.contains("at least one secret"), "{message}");
        let twice = format!("{good}\n[[webhook]]\n{good}");
        let (line, key, message) = webhook_error(&twice);
        assert_eq!((line, key.as_str()), (Some(12), "webhook[1].name"));
        assert!(message.contains("declared twice"), "{message}");
    }
}
