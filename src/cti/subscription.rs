//! What makes a webhook subscription valid, checked the same way whether it comes from the
//! provisioning file or over REST: a name safe in URLs, an http(s) URL with a host, event types
//! that exist.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

use crate::engine::QueueId;

/// The CTI event types (the Standard Webhooks `type`, and the SSE `event`).
pub const EVENT_TYPES: [&str; 17] = [
    "call.entered",
    "call.offered",
    "call.answered",
    "call.held",
    "call.resumed",
    "call.abandoned",
    "call.ended",
    "call.transferred",
    "agent.state_changed",
    "queue.threshold",
    "monitor.started",
    "monitor.mode_changed",
    "monitor.ended",
    "agent.after_call",
    "call.wrapped_up",
    "call.consult",
    "call.conference",
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

/// Why a receiver's address is refused, when it is: loopback, link-local (where cloud metadata
/// services answer, 169.254.169.254), private, shared (carrier-grade NAT), unspecified,
/// multicast or broadcast. A controller sits inside the network; a subscription must not turn it
/// into a way to reach what only the inside can. `[webhooks] allow_private_targets = true` in
/// the provisioning file lifts this, for receivers on the same host or network.
pub fn refused_address(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => refused_v4(v4),
            None => refused_v6(v6),
        },
    }
}

fn refused_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_link_local() {
        Some("a link-local address (cloud metadata lives there)")
    } else if ip.is_private() {
        Some("a private address")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a shared (carrier-grade NAT) address")
    } else if ip.is_unspecified() || a == 0 {
        Some("an unspecified address")
    } else if ip.is_multicast() || ip.is_broadcast() {
        Some("a multicast or broadcast address")
    } else {
        None
    }
}

fn refused_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some("a loopback address")
    } else if first & 0xffc0 == 0xfe80 {
        Some("a link-local address")
    } else if first & 0xfe00 == 0xfc00 {
        Some("a private (unique local) address")
    } else if ip.is_unspecified() {
        Some("an unspecified address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else {
        None
    }
}

/// The host of an http(s) URL (without brackets, port or user part).
pub fn url_host(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let authority = rest.split(['/', '\\', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.strip_prefix('[') {
        Some(bracketed) => bracketed.split_once(']')?.0,
        None => host_port.split(':').next()?,
    };
    (!host.is_empty()).then_some(host)
}

/// A subscription's URL: [`check_url`], and a host written as an IP address must not be in a
/// refused range ([`refused_address`]) unless private targets are allowed. Host names are
/// checked when each delivery resolves them.
pub fn check_target(url: &str, allow_private_targets: bool) -> Result<(), String> {
    check_url(url)?;
    if allow_private_targets {
        return Ok(());
    }
    let literal = url_host(url).and_then(|h| h.parse::<IpAddr>().ok());
    match literal.and_then(|ip| refused_address(ip).map(|why| (ip, why))) {
        Some((ip, why)) => Err(format!(
            "{ip} is {why}; webhooks go to public addresses unless the provisioning file sets \
             [webhooks] allow_private_targets = true"
        )),
        None => Ok(()),
    }
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
    fn loopback_link_local_private_and_shared_targets_are_refused_unless_allowed() {
        for bad in [
            "http://127.0.0.1:8080/hooks",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.5:8080",
            "http://172.16.3.4/",
            "http://172.31.255.255/",
            "https://192.168.1.10/x",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://[::1]:8080/",
            "http://[fe80::1]/",
            "http://[fd00::5]/",
            "http://[::ffff:169.254.169.254]/",
            "http://user@127.0.0.1/",
        ] {
            let refused = check_target(bad, false);
            assert!(refused.is_err(), "{bad} accepted");
            assert!(
                check_target(bad, true).is_ok(),
                "{bad} refused although allowed"
            );
        }
        for good in [
            "https://crm.example.com/hooks",
            "http://203.0.113.7:8080/x",
            "http://172.32.0.1/",
            "http://100.128.0.1/",
            "http://[2001:db8::1]/",
        ] {
            assert_eq!(check_target(good, false), Ok(()), "{good}");
        }
        let message = check_target("http://169.254.169.254/", false).unwrap_err();
        assert!(message.contains("link-local"), "{message}");
        assert!(message.contains("allow_private_targets"), "{message}");
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
