//! `[[webhook]]` in the provisioning file: CRM subscriptions kept in git with the rest of the
//! contact center. A secret is written as `whsec_…` or, to keep it out of the file, as
//! `env:NAME` (read from the environment when the file is loaded).

use std::collections::HashSet;

use serde::Deserialize;
use toml::Spanned;

use super::error::{ConfigError, Source};
use crate::cti::signing::Secret;
use crate::cti::subscription::{self, Subscription};
use crate::engine::QueueId;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWebhook {
    name: Spanned<String>,
    url: Spanned<String>,
    events: Spanned<Vec<String>>,
    #[serde(default)]
    queues: Vec<Spanned<QueueId>>,
    secrets: Spanned<Vec<Spanned<String>>>,
}

/// Where a secret comes from: `env:NAME` (the environment) or the text itself.
pub(super) fn resolve_secret(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let value = match text.strip_prefix("env:") {
        Some(name) => env(name).ok_or_else(|| {
            format!("the environment variable {name:?} is not set (it should hold a whsec_ secret)")
        })?,
        None => text.to_owned(),
    };
    Secret::parse(&value).map_err(|e| match text.strip_prefix("env:") {
        Some(name) => format!("the environment variable {name:?}: {e}"),
        None => e.to_string(),
    })?;
    Ok(value)
}

/// `[[webhook]]`s: valid unique names, URLs (not to a loopback, link-local or private address
/// written as an IP unless `[webhook_settings] allow_private_targets`) and event types, queues the file declares, and at
/// least one secret (the file is where a receiver's secret is agreed; nothing is generated).
pub(super) fn webhooks(
    src: &Source<'_>,
    raw: Vec<RawWebhook>,
    queues: &HashSet<QueueId>,
    env: &dyn Fn(&str) -> Option<String>,
    allow_private_targets: bool,
) -> Result<Vec<Subscription>, ConfigError> {
    let mut names = HashSet::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, w) in raw.into_iter().enumerate() {
        let key = |field: &str| format!("webhook[{i}].{field}");
        let at = |span: std::ops::Range<usize>, field: &str, message: String| {
            src.error_at(Some(span), key(field), message)
        };
        let name_span = w.name.span();
        let name = w.name.into_inner();
        subscription::check_name(&name).map_err(|e| at(name_span.clone(), "name", e))?;
        if !names.insert(name.clone()) {
            return Err(at(
                name_span,
                "name",
                format!("webhook {name:?} is declared twice"),
            ));
        }
        let url_span = w.url.span();
        let url = w.url.into_inner();
        subscription::check_target(&url, allow_private_targets)
            .map_err(|e| at(url_span, "url", e))?;
        let events_span = w.events.span();
        let events = w.events.into_inner();
        subscription::check_events(&events).map_err(|e| at(events_span, "events", e))?;
        let mut filter = Vec::with_capacity(w.queues.len());
        for q in w.queues {
            let span = q.span();
            let queue = q.into_inner();
            if !queues.contains(&queue) {
                return Err(at(
                    span,
                    "queues",
                    format!("no queue {:?} is declared in this file", queue.as_str()),
                ));
            }
            filter.push(queue);
        }
        let secrets_span = w.secrets.span();
        let raw_secrets = w.secrets.into_inner();
        if raw_secrets.is_empty() {
            return Err(at(
                secrets_span,
                "secrets",
                "give at least one secret (make one with `switchboard webhook secret`, or \
                 write env:NAME to read it from the environment)"
                    .to_owned(),
            ));
        }
        let mut secrets = Vec::with_capacity(raw_secrets.len());
        for s in raw_secrets {
            let span = s.span();
            secrets.push(resolve_secret(s.get_ref(), env).map_err(|e| at(span, "secrets", e))?);
        }
        out.push(Subscription {
            name,
            url,
            events,
            queues: filter,
            secrets,
            enabled: true,
            disabled_reason: None,
        });
    }
    Ok(out)
}
