//! `Provisioning`: queues and agents declared in a TOML file, applied idempotently at start so
//! admins can keep their contact-center setup in git.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

use super::dial_string::DialString;
use super::error::{ConfigError, Source};
use super::values::{DisplayName, HoldMusic, HumanDuration};
use crate::engine::routing::{self, DestinationError, RoutingError};
use crate::engine::{
    AgentId, CallerSkills, Destination, EscalationStep, Membership, QueueId, QueueRouting,
    SkillLevel, Strategy,
};

/// What callers hear while they wait, when a queue does not say.
pub const DEFAULT_HOLD_MUSIC: &str = "local_stream://moh";

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Provisioning {
    pub queues: Vec<ProvisionedQueue>,
    pub agents: Vec<ProvisionedAgent>,
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
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvisioning {
    #[serde(default, rename = "queue")]
    queues: Vec<RawQueue>,
    #[serde(default, rename = "agent")]
    agents: Vec<RawAgent>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQueue {
    id: Spanned<QueueId>,
    name: DisplayName,
    moh: Option<HoldMusic>,
    wrap_up: Option<HumanDuration>,
    ring_timeout: Option<Spanned<HumanDuration>>,
    strategy: Option<Spanned<String>>,
    weight: Option<Spanned<u32>>,
    ring_progressively_every: Option<Spanned<HumanDuration>>,
    max_no_answer: Option<u32>,
    busy_backoff: Option<HumanDuration>,
    reject_backoff: Option<HumanDuration>,
    no_answer_backoff: Option<HumanDuration>,
    max_wait: Option<Spanned<HumanDuration>>,
    on_max_wait: Option<Spanned<String>>,
    on_no_agents: Option<Spanned<String>>,
    abandoned_resume: Option<Spanned<HumanDuration>>,
    #[serde(default, rename = "step")]
    steps: Vec<RawStep>,
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
    queues: Vec<Spanned<RawMembership>>,
}

/// An entry of an agent's `queues`: a queue id, or a table that also sets tier, position and
/// weight.
enum RawMembership {
    Queue(QueueId),
    Table(RawMembershipTable),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMembershipTable {
    queue: QueueId,
    tier: Option<u8>,
    position: Option<u32>,
    weight: Option<u32>,
}

impl<'de> Deserialize<'de> for RawMembership {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entry;
        impl<'de> Visitor<'de> for Entry {
            type Value = RawMembership;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a queue id or a table like { queue = \"sales\", tier = 2 }")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                QueueId::new(v).map(RawMembership::Queue).map_err(E::custom)
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                RawMembershipTable::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawMembership::Table)
            }
        }
        deserializer.deserialize_any(Entry)
    }
}

impl Provisioning {
    pub fn load(path: &Path) -> Result<Provisioning, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            line: None,
            key: String::new(),
            message: format!("cannot read the provisioning file: {e}"),
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates provisioning text; `file` only names it in errors.
    pub fn parse(text: &str, file: impl AsRef<Path>) -> Result<Provisioning, ConfigError> {
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
            agents.push(ProvisionedAgent {
                id,
                name: a.name.0,
                dial_string: a.dial_string,
                queues: memberships(&src, i, a.queues, &queue_ids)?,
                skills: agent_skills(&src, i, a.skills)?,
            });
        }

        Ok(Provisioning { queues, agents })
    }
}

/// A queue destination found in the file: which queue, which key, where, and where it leads.
struct Overflow {
    from: usize,
    key: String,
    span: Range<usize>,
    to: QueueId,
}

fn parse_queue(
    src: &Source<'_>,
    i: usize,
    q: RawQueue,
) -> Result<(ProvisionedQueue, Vec<Overflow>), ConfigError> {
    let key = |name: &str| format!("queue[{i}].{name}");
    let positive = |d: Option<Spanned<HumanDuration>>, name: &str| match d {
        Some(d) if d.get_ref().0.is_zero() => {
            Err(src.error_at(Some(d.span()), key(name), "must be more than zero"))
        }
        other => Ok(other.map(|d| d.into_inner().0)),
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
    if on_max_wait.is_some() && max_wait.is_none() {
        return Err(src.error_at(
            on_max_wait_span,
            key("on_max_wait"),
            "on_max_wait needs max_wait (how long callers wait before they go there)",
        ));
    }

    let routing = QueueRouting {
        strategy,
        ring_progressively_every: positive(q.ring_progressively_every, "ring_progressively_every")?
            .unwrap_or(defaults.ring_progressively_every),
        weight,
        steps: steps(src, i, q.steps)?,
        max_no_answer: q.max_no_answer.unwrap_or(defaults.max_no_answer),
        reject_backoff: q.reject_backoff.map(|d| d.0),
        no_answer_backoff: q.no_answer_backoff.map(|d| d.0),
        max_wait,
        on_max_wait,
        on_no_agents,
        abandoned_resume: positive(q.abandoned_resume, "abandoned_resume")?,
        ..QueueRouting::default()
    };
    let queue = ProvisionedQueue {
        id: q.id.into_inner(),
        name: q.name.0,
        moh: q.moh.map_or_else(|| DEFAULT_HOLD_MUSIC.to_owned(), |m| m.0),
        wrap_up: q.wrap_up.map(|d| d.0),
        ring_timeout: positive(q.ring_timeout, "ring_timeout")?,
        busy_backoff: q.busy_backoff.map(|d| d.0),
        routing,
    };
    Ok((queue, overflows))
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
        let after = step.after.into_inner().0;
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

/// Parses skills in the order written; a skill named twice is an error.
fn skill_list(
    src: &Source<'_>,
    key: &str,
    raw: Vec<Spanned<String>>,
) -> Result<Vec<SkillLevel>, ConfigError> {
    let mut skills: Vec<SkillLevel> = Vec::with_capacity(raw.len());
    for s in raw {
        let span = s.span();
        let skill: SkillLevel = s
            .get_ref()
            .parse()
            .map_err(|e: RoutingError| src.error_at(Some(span.clone()), key, e.to_string()))?;
        if skills.iter().any(|k| k.skill == skill.skill) {
            return Err(src.error_at(
                Some(span),
                key,
                format!("skill {:?} is listed twice", skill.skill.as_str()),
            ));
        }
        skills.push(skill);
    }
    Ok(skills)
}

fn agent_skills(
    src: &Source<'_>,
    agent: usize,
    raw: Vec<Spanned<String>>,
) -> Result<Vec<SkillLevel>, ConfigError> {
    let mut skills = skill_list(src, &format!("agent[{agent}].skills"), raw)?;
    routing::canonical(&mut skills);
    Ok(skills)
}

fn memberships(
    src: &Source<'_>,
    agent: usize,
    raw: Vec<Spanned<RawMembership>>,
    queue_ids: &HashSet<QueueId>,
) -> Result<Vec<Membership>, ConfigError> {
    let key = format!("agent[{agent}].queues");
    let mut served: Vec<Membership> = Vec::with_capacity(raw.len());
    for (index, entry) in (1_u32..).zip(raw) {
        let span = entry.span();
        let membership = match entry.into_inner() {
            RawMembership::Queue(queue) => Membership::new(queue, index),
            RawMembership::Table(t) => {
                if t.tier == Some(0) || t.weight == Some(0) {
                    let what = if t.tier == Some(0) { "tier" } else { "weight" };
                    return Err(src.error_at(
                        Some(span),
                        &key,
                        format!("{what} must be at least 1 (queue {:?})", t.queue.as_str()),
                    ));
                }
                Membership {
                    tier: t.tier.unwrap_or(1),
                    position: t.position.unwrap_or(index),
                    weight: t.weight.unwrap_or(1),
                    queue: t.queue,
                }
            }
        };
        if !queue_ids.contains(&membership.queue) {
            return Err(src.error_at(
                Some(span),
                &key,
                format!(
                    "queue {:?} is not declared in this file",
                    membership.queue.as_str()
                ),
            ));
        }
        if served.iter().any(|m| m.queue == membership.queue) {
            return Err(src.error_at(
                Some(span),
                &key,
                format!("queue {:?} is listed twice", membership.queue.as_str()),
            ));
        }
        served.push(membership);
    }
    Ok(served)
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
}
