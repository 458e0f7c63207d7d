//! A queue given over REST as JSON, checked exactly as the provisioning file's `[[queue]]` is.
//!
//! The body is written out as the TOML of one `[[queue]]` entry and read back by the file's
//! own parser (`provisioning::parse_queue`), so REST and the file share every rule and every
//! message; only the key loses its `queue[0].` prefix, and a line number means nothing here.
//! What spans queues is checked against the queues that exist: every queue it sends callers
//! to must exist, and following those must never come back to it.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use super::error::Source;
use super::provisioning::{parse_queue, ProvisionedQueue, RawProvisioning};
use crate::engine::QueueId;

/// Why a queue body was refused: the field (as the body names it) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct QueueEntryError {
    pub field: String,
    pub message: String,
}

const PREFIX: &str = "queue[0]";

fn refused(key: &str, message: impl Into<String>) -> QueueEntryError {
    let field = key
        .strip_prefix(PREFIX)
        .map(|rest| rest.trim_start_matches('.'))
        .unwrap_or(key);
    QueueEntryError {
        field: if field.is_empty() { "body" } else { field }.to_owned(),
        message: message.into(),
    }
}

/// `null` means "not set", as an absent key does (TOML has no null).
fn without_nulls(value: Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::Object(map) => Some(Value::Object(
            map.into_iter()
                .filter_map(|(k, v)| without_nulls(v).map(|v| (k, v)))
                .collect(),
        )),
        Value::Array(items) => Some(Value::Array(
            items.into_iter().filter_map(without_nulls).collect(),
        )),
        other => Some(other),
    }
}

/// Checks a queue body (`id` included) as the file's `[[queue]]`. `known` holds every other
/// queue that exists, with the queues each sends callers to (`overflow_targets`).
pub fn queue_from_json(
    body: Map<String, Value>,
    known: &BTreeMap<QueueId, Vec<QueueId>>,
) -> Result<ProvisionedQueue, QueueEntryError> {
    let Some(entry) = without_nulls(Value::Object(body)) else {
        return Err(refused("", "expected a JSON object"));
    };
    let document = Value::Object(Map::from_iter([(
        "queue".to_owned(),
        Value::Array(vec![entry]),
    )]));
    let text = toml::to_string(&document)
        .map_err(|e| refused("", format!("cannot be read as a queue: {e}")))?;
    let src = Source {
        file: Path::new("body"),
        text: &text,
    };
    let mut raw: RawProvisioning = toml::from_str(&text).map_err(|e| {
        let e = src.toml_error(&e);
        refused(&e.key, e.message)
    })?;
    let Some(raw_queue) = raw.queues.pop() else {
        return Err(refused("", "expected a queue"));
    };
    let (queue, overflows) =
        parse_queue(&src, 0, raw_queue).map_err(|e| refused(&e.key, e.message))?;
    for o in &overflows {
        if !known.contains_key(&o.to) {
            return Err(refused(
                &o.key,
                format!("queue {:?} is not provisioned", o.to.as_str()),
            ));
        }
    }
    let targets: Vec<QueueId> = overflows.iter().map(|o| o.to.clone()).collect();
    if let Some((key, path)) = loop_through(&queue.id, &overflows, &targets, known) {
        let shown: Vec<&str> = path.iter().map(QueueId::as_str).collect();
        return Err(refused(
            key,
            format!(
                "overflow loop: {}; a caller would go round forever",
                shown.join(" -> ")
            ),
        ));
    }
    Ok(queue)
}

/// The first way back to `start` from its own destinations, with the key that begins it.
/// The other queues had no loop among them before, so a new loop passes through `start`.
fn loop_through<'a>(
    start: &QueueId,
    overflows: &'a [super::provisioning::Overflow],
    targets: &[QueueId],
    known: &BTreeMap<QueueId, Vec<QueueId>>,
) -> Option<(&'a str, Vec<QueueId>)> {
    let next = |q: &QueueId| -> Vec<QueueId> {
        if q == start {
            targets.to_vec()
        } else {
            known.get(q).cloned().unwrap_or_default()
        }
    };
    for o in overflows {
        // Depth-first from this destination, remembering the path.
        let mut stack: Vec<Vec<QueueId>> = vec![vec![start.clone(), o.to.clone()]];
        let mut seen: Vec<QueueId> = Vec::new();
        while let Some(path) = stack.pop() {
            let Some(last) = path.last() else { continue };
            if last == start {
                return Some((o.key.as_str(), path));
            }
            if seen.contains(last) {
                continue;
            }
            seen.push(last.clone());
            for to in next(last) {
                let mut longer = path.clone();
                longer.push(to);
                stack.push(longer);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn qid(s: &str) -> QueueId {
        QueueId::new(s).expect("queue id")
    }

    fn body(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    fn known(entries: &[(&str, &[&str])]) -> BTreeMap<QueueId, Vec<QueueId>> {
        entries
            .iter()
            .map(|(q, to)| (qid(q), to.iter().map(|t| qid(t)).collect()))
            .collect()
    }

    #[test]
    fn a_full_body_reads_as_the_file_reads_it() {
        let q = queue_from_json(
            body(json!({
                "id": "storm", "name": "Storm overflow", "strategy": "round-robin",
                "wrap_up": "10s", "max_wait": "2m", "on_max_wait": "queue:support",
                "exit_keys": {"0": "extension:operator"},
                "step": [{"after": "0s", "require": ["spanish:3"]}],
                "announcements": {"every": "30s", "prompt": "ivr/hold.wav"},
                "callback": null,
            })),
            &known(&[("support", &[])]),
        )
        .expect("valid");
        assert_eq!(q.id, qid("storm"));
        assert_eq!(q.wrap_up, Some(std::time::Duration::from_secs(10)));
        assert_eq!(q.routing.steps.len(), 1);
        assert_eq!(q.routing.exit_keys.len(), 1);
    }

    #[test]
    fn the_file_messages_come_back_without_the_entry_prefix() {
        let e = queue_from_json(
            body(json!({"id": "storm", "name": "Storm", "strategy": "fastest"})),
            &known(&[]),
        )
        .expect_err("bad strategy");
        assert_eq!(e.field, "strategy");
        assert!(e.message.contains("longest-idle"), "{}", e.message);
        let e = queue_from_json(
            body(json!({"id": "storm", "name": "Storm", "colour": "red"})),
            &known(&[]),
        )
        .expect_err("unknown field");
        assert!(e.message.contains("colour"), "{e}");
        let e = queue_from_json(
            body(json!({"id": "storm", "name": "Storm", "on_max_wait": "queue:sales"})),
            &known(&[]),
        )
        .expect_err("on_max_wait needs max_wait");
        assert_eq!(e.field, "on_max_wait");
    }

    #[test]
    fn destinations_must_exist_and_never_loop_back() {
        let e = queue_from_json(
            body(json!({"id": "storm", "name": "Storm", "on_no_agents": "queue:nowhere"})),
            &known(&[("support", &[])]),
        )
        .expect_err("unknown target");
        assert_eq!(e.field, "on_no_agents");
        assert!(e.message.contains("not provisioned"), "{e}");
        let e = queue_from_json(
            body(json!({"id": "storm", "name": "Storm", "on_no_agents": "queue:support"})),
            &known(&[
                ("support", &["sales"]),
                ("sales", &["storm"]),
                ("storm", &[]),
            ]),
        )
        .expect_err("loop");
        assert_eq!(
            e.message,
            "overflow loop: storm -> support -> sales -> storm; a caller would go round forever"
        );
        let e = queue_from_json(
            body(json!({"id": "storm", "name": "Storm", "on_no_agents": "queue:storm"})),
            &known(&[]),
        )
        .expect_err("itself");
        assert!(e.message.contains("itself"), "{e}");
    }
}
