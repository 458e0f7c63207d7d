//! What makes a webhook subscription valid, checked the same way whether it comes from the
//! provisioning file or over REST: a name safe in URLs, an http(s) URL with a host, event types
//! that exist.

use serde::Serialize;

use crate::engine::QueueId;

/// The CTI event types (the Standard Webhooks `type`, and the SSE `event`).
pub const EVENT_TYPES: [&str; 7] = [
    "call.entered",
    "call.offered",
    "call.answered",
    "call.abandoned",
    "call.ended",
    "agent.state_changed",
    "queue.threshold",
];

/// A webhook subscription. `Debug` leaves the secrets out.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Subscription {
    pub name: String,
    pub url: String,
    /// Event types wanted (see `EVENT_TYPES`).
    pub events: Vec<String>,
    /// Only events of these queues (empty: every queue, and events of no queue).
    pub queues: Vec<QueueId>,
    /// `whsec_<base64>` secrets; every one signs (several while a secret is rotated).
    #[serde(skip)]
    pub secrets: Vec<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("queues", &self.queues)
            .field(
                "secrets",
                &format_args!("[{} redacted]", self.secrets.len()),
            )
            .field("enabled", &self.enabled)
            .finish()
    }
}

pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err("a subscription name is 1 to 64 letters, digits, - or _".to_owned())
    }
}

pub fn check_url(url: &str) -> Result<(), String> {
    let host = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .and_then(|rest| rest.split(['/', '?', '#']).next())
        .filter(|host| !host.is_empty());
    if host.is_none() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must be an http:// or https:// URL with a host".to_owned());
    }
    Ok(())
}

pub fn check_events(events: &[impl AsRef<str>]) -> Result<(), String> {
    if events.is_empty() {
        return Err("name at least one event type".to_owned());
    }
    match events
        .iter()
        .map(AsRef::as_ref)
        .find(|e| !EVENT_TYPES.contains(e))
    {
        Some(unknown) => Err(format!(
            "{unknown:?} is not an event type (the types are {})",
            EVENT_TYPES.join(", ")
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subscription_url_needs_http_or_https_and_a_host() {
        assert!(check_url("https://crm.example.com/hooks").is_ok());
        assert!(check_url("http://10.0.0.5:8080").is_ok());
        assert!(check_url("ftp://crm.example.com").is_err());
        assert!(check_url("https:///path").is_err());
        assert!(check_url("https://crm.example.com/a b").is_err());
    }

    #[test]
    fn unknown_event_types_are_named_in_the_error() {
        assert!(check_events(&["call.offered", "queue.threshold"]).is_ok());
        let error = check_events(&["call.rang"]).unwrap_err();
        assert!(
            error.starts_with("\"call.rang\" is not an event type"),
            "{error}"
        );
        assert!(check_events(&[] as &[&str]).is_err());
    }

    #[test]
    fn subscription_names_are_safe_in_urls() {
        assert!(check_name("crm-main_2").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("a/b").is_err());
        assert!(check_name(&"x".repeat(65)).is_err());
    }
}
