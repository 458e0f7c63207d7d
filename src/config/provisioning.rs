//! `Provisioning`: queues and agents declared in a TOML file, applied idempotently at start so
//! admins can keep their contact-center setup in git.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::dial_string::DialString;
use super::error::{ConfigError, Source};
use super::values::{DisplayName, HoldMusic, HumanDuration};
use crate::engine::{AgentId, QueueId};

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
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProvisionedAgent {
    pub id: AgentId,
    pub name: String,
    pub dial_string: DialString,
    /// The queues this agent serves, in the order given.
    pub queues: Vec<QueueId>,
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
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgent {
    id: Spanned<AgentId>,
    name: DisplayName,
    dial_string: DialString,
    #[serde(default)]
    queues: Vec<Spanned<QueueId>>,
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
        for (i, q) in raw.queues.into_iter().enumerate() {
            let id_span = q.id.span();
            let id = q.id.into_inner();
            if !queue_ids.insert(id.clone()) {
                return Err(src.error_at(
                    Some(id_span),
                    format!("queue[{i}].id"),
                    format!("queue {:?} is declared twice", id.as_str()),
                ));
            }
            let ring_timeout = match q.ring_timeout {
                Some(d) if d.get_ref().0.is_zero() => {
                    return Err(src.error_at(
                        Some(d.span()),
                        format!("queue[{i}].ring_timeout"),
                        "must be more than zero",
                    ))
                }
                other => other.map(|d| d.into_inner().0),
            };
            queues.push(ProvisionedQueue {
                id,
                name: q.name.0,
                moh: q.moh.map_or_else(|| DEFAULT_HOLD_MUSIC.to_owned(), |m| m.0),
                wrap_up: q.wrap_up.map(|d| d.0),
                ring_timeout,
            });
        }

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
            let mut served = Vec::with_capacity(a.queues.len());
            for q in a.queues {
                let span = q.span();
                let queue = q.into_inner();
                if !queue_ids.contains(&queue) {
                    return Err(src.error_at(
                        Some(span),
                        format!("agent[{i}].queues"),
                        format!("queue {:?} is not declared in this file", queue.as_str()),
                    ));
                }
                if served.contains(&queue) {
                    return Err(src.error_at(
                        Some(span),
                        format!("agent[{i}].queues"),
                        format!("queue {:?} is listed twice", queue.as_str()),
                    ));
                }
                served.push(queue);
            }
            agents.push(ProvisionedAgent {
                id,
                name: a.name.0,
                dial_string: a.dial_string,
                queues: served,
            });
        }

        Ok(Provisioning { queues, agents })
    }
}
