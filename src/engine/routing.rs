//! How a queue picks agents: strategies, skills with proficiency, escalation steps and where
//! callers go when they cannot be served. Plain, serializable settings: the config parses them
//! from TOML, the store keeps them as JSON, the engine reads them.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::ids::{QueueId, SkillId};
use super::recording::RecordingPolicy;

/// A proficiency level, 1 (novice) to 10 (expert).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Proficiency(u8);

impl Proficiency {
    pub const MIN: Proficiency = Proficiency(1);
    pub const MAX: Proficiency = Proficiency(10);

    pub fn new(level: u8) -> Result<Self, RoutingError> {
        if (1..=10).contains(&level) {
            Ok(Self(level))
        } else {
            Err(RoutingError::Proficiency(level.to_string()))
        }
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for Proficiency {
    type Error = RoutingError;
    fn try_from(level: u8) -> Result<Self, Self::Error> {
        Self::new(level)
    }
}

impl From<Proficiency> for u8 {
    fn from(p: Proficiency) -> u8 {
        p.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RoutingError {
    #[error("proficiency must be a whole number from 1 to 10, not {0:?}")]
    Proficiency(String),
    #[error("a skill is written `name` or `name:level` (level 1-10), not {0:?}")]
    SkillSyntax(String),
    #[error("{0}")]
    SkillName(String),
    #[error("unknown strategy {0:?}; expected one of {list}", list = Strategy::NAMES.join(", "))]
    Strategy(String),
}

/// A skill an agent holds, or one a call asks for with a minimum level.
///
/// Written `spanish:7` (or `spanish` for level 1, i.e. "has the skill at all").
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SkillLevel {
    pub skill: SkillId,
    pub level: Proficiency,
}

impl FromStr for SkillLevel {
    type Err = RoutingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (name, level) = match s.split_once([':', '=']) {
            Some((name, level)) => {
                let level = level.trim_start_matches('=').trim();
                let level: u8 = level
                    .parse()
                    .map_err(|_| RoutingError::Proficiency(level.to_owned()))?;
                (
                    name.trim().trim_end_matches(['>', '=']),
                    Proficiency::new(level)?,
                )
            }
            None => (s, Proficiency::MIN),
        };
        if name.is_empty() {
            return Err(RoutingError::SkillSyntax(s.to_owned()));
        }
        let skill = SkillId::new(name).map_err(|e| RoutingError::SkillName(e.to_string()))?;
        Ok(SkillLevel { skill, level })
    }
}

impl fmt::Display for SkillLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.skill, self.level.0)
    }
}

/// Parses a comma-separated skill list such as `spanish:7, billing` (used by channel
/// variables and API fields). Empty input is an empty list.
pub fn parse_skill_list(s: &str) -> Result<Vec<SkillLevel>, RoutingError> {
    let mut skills: Vec<SkillLevel> = s
        .split(',')
        .filter(|part| !part.trim().is_empty())
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    canonical(&mut skills);
    Ok(skills)
}

/// Sorts by skill and keeps the highest level of a skill named twice.
pub fn canonical(skills: &mut Vec<SkillLevel>) {
    skills.sort_by(|a, b| a.skill.cmp(&b.skill).then(b.level.cmp(&a.level)));
    skills.dedup_by(|later, first| later.skill == first.skill);
}

/// How a queue chooses among the agents who may take a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// The agent idle the longest.
    #[default]
    LongestIdleAgent,
    /// Members in position order, starting after the agent offered last time.
    RoundRobin,
    /// Members in position order, always from the top (`linear` in app_queue).
    TopDown,
    /// By tier, then position.
    SequentiallyByAgentOrder,
    /// Every eligible agent rings; the first to answer takes the call, the others are cancelled.
    RingAll,
    /// Rings in position order, adding one more agent every `ring_progressively_every`.
    RingProgressively,
    /// The agent with the least talk time since start.
    AgentWithLeastTalkTime,
    /// The agent who answered the fewest calls since start.
    AgentWithFewestCalls,
    Random,
    /// Random, weighted by the membership's `weight`.
    WeightedRandom,
    /// Highest proficiency on the call's skills first, longest idle among equals.
    BestSkillMatch,
}

impl Strategy {
    pub const NAMES: [&'static str; 11] = [
        "longest-idle-agent",
        "round-robin",
        "top-down",
        "sequentially-by-agent-order",
        "ring-all",
        "ring-progressively",
        "agent-with-least-talk-time",
        "agent-with-fewest-calls",
        "random",
        "weighted-random",
        "best-skill-match",
    ];

    pub const ALL: [Strategy; 11] = [
        Strategy::LongestIdleAgent,
        Strategy::RoundRobin,
        Strategy::TopDown,
        Strategy::SequentiallyByAgentOrder,
        Strategy::RingAll,
        Strategy::RingProgressively,
        Strategy::AgentWithLeastTalkTime,
        Strategy::AgentWithFewestCalls,
        Strategy::Random,
        Strategy::WeightedRandom,
        Strategy::BestSkillMatch,
    ];

    pub fn as_str(self) -> &'static str {
        let index = Self::ALL.iter().position(|s| *s == self).unwrap_or(0);
        Self::NAMES[index]
    }

    /// Whether one offer may ring several agents at once.
    pub fn rings_many(self) -> bool {
        matches!(self, Strategy::RingAll | Strategy::RingProgressively)
    }
}

impl FromStr for Strategy {
    type Err = RoutingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // mod_callcenter and app_queue spellings are accepted too.
        let alias = match s {
            "linear" => "top-down",
            "leastrecent" => "longest-idle-agent",
            "fewestcalls" => "agent-with-fewest-calls",
            "ringall" => "ring-all",
            "rrmemory" => "round-robin",
            "wrandom" => "weighted-random",
            other => other,
        };
        Self::NAMES
            .iter()
            .position(|n| *n == alias)
            .map(|i| Self::ALL[i])
            .ok_or_else(|| RoutingError::Strategy(s.to_owned()))
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a step does with the skills the caller asked for (from the dialplan, the IVR or the CRM).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallerSkills {
    /// The caller's skills are required, on top of the step's own.
    #[default]
    Require,
    /// The caller's skills only rank agents who hold them first.
    Prefer,
    /// The caller's skills no longer matter.
    Ignore,
}

/// One stage of a queue's escalation: from `after` into the wait, these requirements hold.
/// The first step starts at zero; each later one relaxes (or changes) what an agent needs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EscalationStep {
    #[serde(with = "millis")]
    pub after: Duration,
    pub require: Vec<SkillLevel>,
    pub prefer: Vec<SkillLevel>,
    /// Only members whose tier is at most this may take the call (tiers as in mod_callcenter).
    pub max_tier: Option<u8>,
    pub caller_skills: CallerSkills,
}

/// Where a caller goes when a queue gives up on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Destination {
    /// Another queue; the caller keeps its original enqueue time and priority.
    Queue { queue: QueueId },
    /// A dialplan extension on the switch (a number, an IVR, an operator).
    Extension { number: String, context: String },
    /// A voicemail box.
    Voicemail { domain: String, mailbox: String },
    /// Hang up with this cause (a Q.850 name such as `NO_ANSWER` or `USER_BUSY`).
    Hangup { cause: String },
}

impl Destination {
    /// The dialplan context of `extension:<number>` when none is given.
    pub const DEFAULT_CONTEXT: &'static str = "default";
    /// The cause of a bare `hangup`.
    pub const DEFAULT_HANGUP_CAUSE: &'static str = "NORMAL_CLEARING";

    /// Checks that every value can go into a switch command as it is: extensions, contexts,
    /// mailboxes and domains hold letters, digits and `*#+._-` (not leading `-`, which
    /// `uuid_transfer` would read as a flag); a cause holds uppercase letters and `_`.
    pub fn check(&self) -> Result<(), DestinationError> {
        match self {
            Destination::Queue { .. } => Ok(()),
            Destination::Extension { number, context } => {
                check_value("extension", number, 64)?;
                check_value("context", context, 64)
            }
            Destination::Voicemail { domain, mailbox } => {
                check_value("mailbox", mailbox, 64)?;
                check_value("domain", domain, 253)
            }
            Destination::Hangup { cause } => {
                if cause.len() > 64 {
                    return Err(DestinationError::TooLong {
                        part: "hangup cause",
                        max: 64,
                    });
                }
                if cause.is_empty() || !cause.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
                    return Err(DestinationError::Unsafe {
                        part: "hangup cause",
                        value: cause.clone(),
                        allowed: "a Q.850 cause name such as NO_ANSWER (uppercase letters and _)",
                    });
                }
                Ok(())
            }
        }
    }
}

/// A value that goes into a switch command as one token (an extension, a context, a mailbox):
/// letters, digits and `* # + . _ -`, not starting with `-`, at most `max` bytes.
pub fn check_value(part: &'static str, value: &str, max: usize) -> Result<(), DestinationError> {
    let safe =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '*' | '#' | '+' | '.' | '_' | '-');
    if value.len() > max {
        return Err(DestinationError::TooLong { part, max });
    }
    if value.is_empty() || value.starts_with('-') || !value.chars().all(safe) {
        return Err(DestinationError::Unsafe {
            part,
            value: value.to_owned(),
            allowed: "letters, digits and * # + . _ - (not first)",
        });
    }
    Ok(())
}

/// A destination that does not parse, or whose values are not safe in a switch command.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DestinationError {
    #[error(
        "{0:?} is not a destination; expected queue:<id>, extension:<number>[@<context>], \
         voicemail:<mailbox>@<domain> or hangup[:<cause>]"
    )]
    Syntax(String),
    #[error("{0}")]
    Queue(String),
    #[error("{part} is longer than {max} characters")]
    TooLong { part: &'static str, max: usize },
    #[error("{part} {value:?} is not allowed: use {allowed}")]
    Unsafe {
        part: &'static str,
        value: String,
        allowed: &'static str,
    },
}

impl FromStr for Destination {
    type Err = DestinationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, rest) = match s.split_once(':') {
            Some((kind, rest)) => (kind, Some(rest)),
            None => (s, None),
        };
        let syntax = || DestinationError::Syntax(s.to_owned());
        let destination = match (kind, rest) {
            ("queue", Some(id)) => Destination::Queue {
                queue: QueueId::new(id).map_err(|e| DestinationError::Queue(e.to_string()))?,
            },
            ("extension", Some(rest)) => {
                let (number, context) = rest
                    .split_once('@')
                    .unwrap_or((rest, Self::DEFAULT_CONTEXT));
                Destination::Extension {
                    number: number.to_owned(),
                    context: context.to_owned(),
                }
            }
            ("voicemail", Some(rest)) => {
                let (mailbox, domain) = rest.split_once('@').ok_or_else(syntax)?;
                Destination::Voicemail {
                    domain: domain.to_owned(),
                    mailbox: mailbox.to_owned(),
                }
            }
            ("hangup", cause) => Destination::Hangup {
                cause: cause.unwrap_or(Self::DEFAULT_HANGUP_CAUSE).to_owned(),
            },
            _ => return Err(syntax()),
        };
        destination.check()?;
        Ok(destination)
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Queue { queue } => write!(f, "queue:{queue}"),
            Destination::Extension { number, context } => write!(f, "extension:{number}@{context}"),
            Destination::Voicemail { domain, mailbox } => write!(f, "voicemail:{mailbox}@{domain}"),
            Destination::Hangup { cause } => write!(f, "hangup:{cause}"),
        }
    }
}

/// The routing part of a queue's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct QueueRouting {
    pub strategy: Strategy,
    /// For `ring-progressively`: how long before one more agent is added.
    #[serde(with = "millis")]
    pub ring_progressively_every: Duration,
    /// An agent in several queues takes calls of the heavier queue first at equal priority.
    pub weight: u32,
    /// Escalation steps in order of `after`; none means one step without requirements.
    pub steps: Vec<EscalationStep>,
    /// Consecutive unanswered offers before the agent is paused (`0`: never).
    pub max_no_answer: u32,
    /// Sit-out after a rejected offer; `None`: the queue's busy back-off.
    #[serde(with = "opt_millis")]
    pub reject_backoff: Option<Duration>,
    /// Sit-out after an unanswered offer; `None`: the queue's busy back-off.
    #[serde(with = "opt_millis")]
    pub no_answer_backoff: Option<Duration>,
    /// Longest a caller waits before `on_max_wait`.
    #[serde(with = "opt_millis")]
    pub max_wait: Option<Duration>,
    pub on_max_wait: Option<Destination>,
    /// Where callers go when no member is logged in (on entry, or when the last one leaves).
    pub on_no_agents: Option<Destination>,
    /// A caller who hangs up and calls again within this window gets its place back.
    #[serde(with = "opt_millis")]
    pub abandoned_resume: Option<Duration>,
    /// What callers hear while they wait, besides the hold music.
    pub announcements: Announcements,
    /// Keys that take the caller out of the queue, each to its destination.
    pub exit_keys: Vec<ExitKey>,
    /// Virtual hold: a key that asks for a call back instead of waiting on the line.
    pub callback: Option<CallbackSettings>,
    /// A prompt played to the agent who answers (typically the queue's name), before the
    /// caller is connected; `None`: the caller is connected at once.
    pub whisper: Option<String>,
    /// Service-level alarms (`queue.threshold` events).
    pub thresholds: Thresholds,
    /// Which calls are recorded, mono or stereo, and the file names.
    pub recording: RecordingPolicy,
    /// What the agent hears when a supervisor starts monitoring the call (a tone or a
    /// prompt, `uuid_broadcast <agent leg> <source> aleg`); `None`: nothing (see `monitor`).
    pub monitor_notice: Option<String>,
    /// Disposition codes, whether one is required, how far wrap-up may be extended.
    pub wrap_up_work: super::wrap_up_work::WrapUpWork,
}

/// When a queue is in trouble: each limit set raises a `queue.threshold` alarm when crossed
/// and clears it when the queue is back within it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Thresholds {
    /// More callers than this waiting (not yet answered, ringing included).
    pub waiting: Option<u32>,
    /// The longest-waiting caller has waited longer than this.
    #[serde(with = "opt_millis")]
    pub longest_wait: Option<Duration>,
    pub service_level: Option<ServiceLevelTarget>,
}

impl Thresholds {
    pub fn any(&self) -> bool {
        self.waiting.is_some() || self.longest_wait.is_some() || self.service_level.is_some()
    }
}

/// "`percent` % of calls answered within `within`", over the calls that ended waiting in the
/// last `window`: answered ones count, and those abandoned after `within` (callers who hung
/// up sooner are not held against the queue). Judged once `min_calls` are in the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceLevelTarget {
    pub percent: u8,
    #[serde(with = "millis")]
    pub within: Duration,
    #[serde(with = "millis")]
    pub window: Duration,
    pub min_calls: u32,
}

/// Periodic announcements to waiting callers: a prompt, then their position and the estimated
/// wait, then the hold music again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Announcements {
    /// How often (first after this long in the queue); `None`: never.
    #[serde(with = "opt_millis")]
    pub every: Option<Duration>,
    /// A sound file (or any playback source) played first, e.g. a "thank you for holding".
    pub prompt: Option<String>,
    /// Say "you are caller number N" (`position_prompt`, then the number).
    pub position: bool,
    pub position_prompt: Option<String>,
    /// Say the estimated wait (`wait_prompt`, then the time, rounded up to a minute).
    pub wait_time: bool,
    pub wait_prompt: Option<String>,
    /// Language for FreeSWITCH's `say` (`en`, `de`, `fr`...).
    pub language: String,
}

impl Default for Announcements {
    fn default() -> Self {
        Self {
            every: None,
            prompt: None,
            position: false,
            position_prompt: None,
            wait_time: false,
            wait_prompt: None,
            language: "en".to_owned(),
        }
    }
}

/// A digit a waiting caller may press to leave the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitKey {
    pub digit: char,
    pub destination: Destination,
}

/// Virtual hold: the caller presses `key`, confirms the number (its caller ID by default, or
/// digits typed and ended with `#`), hangs up and keeps its place; when its turn comes the
/// agent is rung first, then the customer is called and bridged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CallbackSettings {
    pub key: char,
    /// How the customer is dialled; `{number}` is replaced by the digits to call
    /// (e.g. `sofia/gateway/pstn/{number}`).
    pub dial: String,
    /// Played when the key is pressed: "press # to be called back on" (the caller ID is then
    /// said digit by digit) "or type another number and #".
    pub offer_prompt: Option<String>,
    /// Played once the number is confirmed, before the caller is hung up.
    pub confirm_prompt: Option<String>,
    /// How long the caller has to confirm or type a number; then the caller ID is taken.
    #[serde(with = "millis")]
    pub confirm_timeout: Duration,
    /// Further attempts after the first when the customer does not answer.
    pub retries: u32,
    #[serde(with = "millis")]
    pub retry_delay: Duration,
    /// How long the customer's phone rings per attempt.
    #[serde(with = "millis")]
    pub ring_timeout: Duration,
}

impl Default for CallbackSettings {
    fn default() -> Self {
        Self {
            key: '*',
            dial: String::new(),
            offer_prompt: None,
            confirm_prompt: None,
            confirm_timeout: Duration::from_secs(10),
            retries: 2,
            retry_delay: Duration::from_secs(120),
            ring_timeout: Duration::from_secs(30),
        }
    }
}

impl CallbackSettings {
    /// The dial string for `number` (digits and a leading `+` only, checked by the caller).
    pub fn dial_string(&self, number: &str) -> String {
        self.dial.replace("{number}", number)
    }
}

impl Default for QueueRouting {
    fn default() -> Self {
        Self {
            strategy: Strategy::default(),
            ring_progressively_every: Duration::from_secs(5),
            weight: 1,
            steps: Vec::new(),
            max_no_answer: 3,
            reject_backoff: None,
            no_answer_backoff: None,
            max_wait: None,
            on_max_wait: None,
            on_no_agents: None,
            abandoned_resume: None,
            announcements: Announcements::default(),
            exit_keys: Vec::new(),
            callback: None,
            whisper: None,
            thresholds: Thresholds::default(),
            recording: RecordingPolicy::default(),
            monitor_notice: None,
            wrap_up_work: super::wrap_up_work::WrapUpWork::default(),
        }
    }
}

/// An agent's place in one queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub queue: QueueId,
    /// 1 is the first tier; escalation steps may admit later tiers.
    #[serde(default = "one_u8")]
    pub tier: u8,
    /// Order within the queue for top-down, round-robin and ring-progressively.
    #[serde(default)]
    pub position: u32,
    /// Share of calls under weighted-random.
    #[serde(default = "one_u32")]
    pub weight: u32,
}

impl Membership {
    pub fn new(queue: QueueId, position: u32) -> Self {
        Self {
            queue,
            tier: 1,
            position,
            weight: 1,
        }
    }
}

fn one_u8() -> u8 {
    1
}

fn one_u32() -> u32 {
    1
}

pub(crate) mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

pub(crate) mod opt_millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skill_levels_parse_in_the_spellings_admins_write() {
        for (text, skill, level) in [
            ("spanish:7", "spanish", 7),
            ("spanish>=7", "spanish", 7),
            ("spanish=7", "spanish", 7),
            ("billing", "billing", 1),
        ] {
            let parsed: SkillLevel = text.parse().unwrap();
            assert_eq!(parsed.skill.as_str(), skill);
            assert_eq!(parsed.level.get(), level);
        }
        assert!("spanish:0".parse::<SkillLevel>().is_err());
        assert!("spanish:11".parse::<SkillLevel>().is_err());
        assert!(":3".parse::<SkillLevel>().is_err());
        assert!("sp anish:3".parse::<SkillLevel>().is_err());
    }

    #[test]
    fn a_skill_list_keeps_the_highest_level_of_a_repeated_skill() {
        let list = parse_skill_list("spanish:3, billing, spanish:7,").unwrap();
        let shown: Vec<String> = list.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["billing:1", "spanish:7"]);
    }

    #[test]
    fn destinations_parse_with_their_defaults_and_round_trip() {
        for (text, shown) in [
            ("queue:sales", "queue:sales"),
            ("extension:1000", "extension:1000@default"),
            ("extension:*98@features", "extension:*98@features"),
            (
                "voicemail:1000@pbx.example.com",
                "voicemail:1000@pbx.example.com",
            ),
            ("hangup", "hangup:NORMAL_CLEARING"),
            ("hangup:USER_BUSY", "hangup:USER_BUSY"),
        ] {
            let parsed: Destination = text.parse().unwrap();
            assert_eq!(parsed.to_string(), shown);
            assert_eq!(shown.parse::<Destination>(), Ok(parsed));
        }
    }

    #[test]
    fn destinations_that_could_inject_into_a_switch_command_are_rejected() {
        for bad in [
            "extension:1000 XML evil",
            "extension:1000@default\napi shutdown",
            "extension:-both",
            "extension:1000@",
            "extension:",
            "voicemail:1000",
            "voicemail:1000@pbx example.com",
            "voicemail:{x=y}1000@pbx",
            "hangup:normal_clearing",
            "hangup:NO ANSWER",
            "hangup:",
            "queue:sa les",
            "transfer:1000",
        ] {
            assert!(bad.parse::<Destination>().is_err(), "{bad:?} accepted");
        }
        let stored = Destination::Hangup {
            cause: "X;api".into(),
        };
        assert!(stored.check().is_err());
    }

    #[test]
    fn routing_settings_stored_before_the_whisper_existed_load_without_one() {
        let mut stored = serde_json::to_value(QueueRouting::default()).expect("json");
        if let Some(fields) = stored.as_object_mut() {
            fields.remove("whisper");
        }
        let loaded: QueueRouting = serde_json::from_value(stored).expect("loads");
        assert_eq!(loaded.whisper, None);
        let with = QueueRouting {
            whisper: Some("switchboard/queue-support.wav".into()),
            ..QueueRouting::default()
        };
        let json = serde_json::to_string(&with).expect("json");
        assert_eq!(serde_json::from_str::<QueueRouting>(&json).ok(), Some(with));
    }

    #[test]
    fn every_strategy_name_round_trips() {
        for s in Strategy::ALL {
            assert_eq!(s.as_str().parse::<Strategy>(), Ok(s));
        }
        assert_eq!("linear".parse::<Strategy>(), Ok(Strategy::TopDown));
        assert!("fastest".parse::<Strategy>().is_err());
    }
}
