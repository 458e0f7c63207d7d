//! The webhook worker: posts the outbox's due deliveries, signed, and records each attempt.
//!
//! It runs apart from the engine and reads only the database, so a receiver that is slow or
//! down never slows routing: what is not delivered waits in the outbox, not in memory. It is
//! woken after each history batch commits (a screen-pop leaves within milliseconds of its
//! offer) and polls every half second for retries that fell due.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use thiserror::Error;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{debug, warn};

use super::clock::Clock;
use crate::cti::retry;
use crate::cti::signing::{sign, Secret};
use crate::cti::subscription::{refused_address, url_host};
use crate::store::{AttemptResult, DeliveryRow, Store, Subscription};

/// Deliveries posted at once, across receivers.
const MAX_IN_FLIGHT: usize = 32;
const POLL: Duration = Duration::from_millis(500);
/// A receiver's reply is read up to this size (it is only logged).
const MAX_REPLY: usize = 4 * 1024;

/// A receiver the worker will not post to.
#[derive(Debug, Error)]
pub enum RefusedTarget {
    #[error(
        "{host} resolves to {ip}, {why}; webhooks go to public addresses unless the \
         provisioning file sets [webhook_settings] allow_private_targets = true"
    )]
    Private {
        host: String,
        ip: std::net::IpAddr,
        why: &'static str,
    },
    #[error("cannot resolve {host}: {source}")]
    Lookup {
        host: String,
        source: std::io::Error,
    },
}

/// The addresses of `host`, refused as a whole when any of them is loopback, link-local,
/// private or otherwise not public ([`refused_address`]): a name that also resolves inside
/// the network is not posted to. The worker connects only to the addresses this returned, so
/// a name cannot resolve to a public address here and to a private one for the connection.
pub async fn public_addresses(host: &str) -> Result<Vec<SocketAddr>, RefusedTarget> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
        .await
        .map_err(|source| RefusedTarget::Lookup {
            host: host.to_owned(),
            source,
        })?
        .collect();
    if let Some((ip, why)) = addrs
        .iter()
        .find_map(|a| refused_address(a.ip()).map(|why| (a.ip(), why)))
    {
        return Err(RefusedTarget::Private {
            host: host.to_owned(),
            ip,
            why,
        });
    }
    Ok(addrs)
}

/// The worker's resolver when private targets are not allowed.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = public_addresses(&host).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// A receiver URL whose host is an IP address in a refused range (names are checked by the
/// resolver as each delivery connects).
fn refused_literal(url: &str) -> Option<String> {
    let ip = url_host(url)?.parse::<std::net::IpAddr>().ok()?;
    refused_address(ip).map(|why| {
        format!(
            "{ip} is {why}; webhooks go to public addresses unless the provisioning file sets \
             [webhook_settings] allow_private_targets = true"
        )
    })
}

/// An error with its causes, so a refusal by the resolver is named in the delivery's error.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// Posts due deliveries until `stop`. Unless `allow_private_targets`, receivers on loopback,
/// link-local and private addresses are refused at each delivery (a literal IP before sending,
/// a name when it is resolved).
pub async fn run(
    store: Store,
    clock: Clock,
    mut wake: watch::Receiver<u64>,
    mut stop: watch::Receiver<bool>,
    allow_private_targets: bool,
) {
    let builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")));
    let builder = if allow_private_targets {
        builder
    } else {
        builder.dns_resolver(Arc::new(PublicOnly))
    };
    let client = match builder.build() {
        Ok(client) => client,
        Err(e) => {
            warn!(error = %e, "cannot build the webhook HTTP client; webhooks are not delivered");
            return;
        }
    };
    let mut in_flight: HashSet<i64> = HashSet::new();
    let mut attempts: JoinSet<(i64, AttemptResult)> = JoinSet::new();
    // Which delivery each attempt task posts, so one that panics frees its slot.
    let mut tasks: HashMap<tokio::task::Id, i64> = HashMap::new();
    let mut retry_due = None;
    loop {
        if in_flight.len() < MAX_IN_FLIGHT {
            let now = clock.now();
            let due = match store.due_deliveries(now, MAX_IN_FLIGHT as u32 * 2).await {
                Ok(due) => due,
                Err(e) => {
                    warn!(error = %e, "cannot read due webhook deliveries");
                    Vec::new()
                }
            };
            if !due.is_empty() {
                let subscriptions: HashMap<String, Subscription> = match store.subscriptions().await
                {
                    Ok(all) => all.into_iter().map(|s| (s.name.clone(), s)).collect(),
                    Err(e) => {
                        warn!(error = %e, "cannot read webhook subscriptions");
                        HashMap::new()
                    }
                };
                for delivery in due {
                    if in_flight.len() >= MAX_IN_FLIGHT || in_flight.contains(&delivery.id) {
                        continue;
                    }
                    let Some(subscription) = subscriptions.get(&delivery.subscription) else {
                        continue;
                    };
                    if !subscription.enabled {
                        continue;
                    }
                    in_flight.insert(delivery.id);
                    let (client, subscription) = (client.clone(), subscription.clone());
                    let delivery_id = delivery.id;
                    let task = attempts.spawn(async move {
                        let id = delivery.id;
                        let result = attempt(
                            &client,
                            &subscription,
                            &delivery,
                            clock,
                            allow_private_targets,
                        )
                        .await;
                        (id, result)
                    });
                    tasks.insert(task.id(), delivery_id);
                }
            }
        }
        // A retry due before the next poll (a screen-pop's) is tried on time.
        let sleep = retry_due
            .take()
            .map(|at| clock.instant_of(at))
            .map_or(POLL, |at| {
                at.saturating_duration_since(std::time::Instant::now())
            })
            .min(POLL);
        let finished = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            Ok(()) = wake.changed() => None,
            () = tokio::time::sleep(sleep) => None,
            Some(done) = attempts.join_next_with_id(), if !attempts.is_empty() => match done {
                Ok((task, finished)) => {
                    tasks.remove(&task);
                    Some(finished)
                }
                Err(e) => {
                    // Not recorded: the delivery is still due and is tried again.
                    if let Some(id) = tasks.remove(&e.id()) {
                        in_flight.remove(&id);
                        warn!(delivery = id, error = %e, "a webhook attempt failed unexpectedly");
                    }
                    None
                }
            },
        };
        if let Some((id, result)) = finished {
            in_flight.remove(&id);
            if let AttemptResult::Failed {
                retry_at: Some(at), ..
            } = &result
            {
                retry_due =
                    Some(retry_due.map_or(*at, |due: crate::engine::Timestamp| due.min(*at)));
            }
            if let Err(e) = store.delivery_attempted(id, clock.now(), &result).await {
                warn!(error = %e, delivery = id, "cannot record a webhook attempt");
            }
        }
    }
    // Attempts under way finish or are dropped; what was not recorded is retried next start.
    attempts.abort_all();
}

/// One signed POST of one delivery, and what it means for the next.
async fn attempt(
    client: &reqwest::Client,
    subscription: &Subscription,
    delivery: &DeliveryRow,
    clock: Clock,
    allow_private_targets: bool,
) -> AttemptResult {
    let secrets: Vec<Secret> = subscription
        .secrets
        .iter()
        .filter_map(|s| Secret::parse(s).ok())
        .collect();
    let sent_at = clock.now();
    let headers = sign(
        &delivery.event_id,
        sent_at.as_millis() / 1000,
        &delivery.payload,
        &secrets,
    );
    let refused = (!allow_private_targets)
        .then(|| refused_literal(&subscription.url))
        .flatten();
    let reply = match refused {
        Some(why) => return failed_attempt(delivery, clock, None, why),
        None => {
            client
                .post(&subscription.url)
                .timeout(retry::timeout(delivery.class))
                .header("content-type", "application/json")
                .header("webhook-id", &headers.id)
                .header("webhook-timestamp", &headers.timestamp)
                .header("webhook-signature", &headers.signature)
                .body(delivery.payload.clone())
                .send()
                .await
        }
    };
    let failed =
        |status: Option<u16>, error: String| failed_attempt(delivery, clock, status, error);
    match reply {
        Ok(reply) if reply.status().is_success() => {
            debug!(delivery = delivery.id, event = %delivery.event_id, "webhook delivered");
            AttemptResult::Delivered {
                status: reply.status().as_u16(),
            }
        }
        Ok(reply) if reply.status() == reqwest::StatusCode::GONE => {
            warn!(subscription = %subscription.name, "the receiver answered 410 Gone; subscription disabled");
            AttemptResult::Gone
        }
        Ok(reply) => {
            let status = reply.status().as_u16();
            let body = reply.text().await.unwrap_or_default();
            let mut end = body.len().min(MAX_REPLY);
            while !body.is_char_boundary(end) {
                end -= 1;
            }
            failed(Some(status), format!("HTTP {status}: {}", &body[..end]))
        }
        Err(e) if e.is_timeout() => failed(None, "timed out".to_owned()),
        Err(e) => failed(
            None,
            format!("cannot reach the receiver: {}", with_causes(&e)),
        ),
    }
}

fn failed_attempt(
    delivery: &DeliveryRow,
    clock: Clock,
    status: Option<u16>,
    error: String,
) -> AttemptResult {
    let attempts = u32::try_from(delivery.attempts)
        .unwrap_or(u32::MAX)
        .saturating_add(1);
    let jitter = rand::rng().random::<f64>();
    AttemptResult::Failed {
        status,
        error,
        retry_at: retry::next_attempt(delivery.class, attempts, clock.now(), jitter),
        give_up: retry::give_up(delivery.class),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_receiver_name_that_resolves_to_loopback_is_refused_at_delivery() {
        let refused = public_addresses("localhost").await;
        match refused {
            Err(RefusedTarget::Private { ip, .. }) => assert!(ip.is_loopback(), "{ip}"),
            other => panic!("localhost was not refused: {other:?}"),
        }
        let message = refused_literal("http://169.254.169.254/latest/meta-data/");
        assert!(
            message.as_deref().is_some_and(|m| m.contains("link-local")),
            "{message:?}"
        );
        assert_eq!(refused_literal("https://203.0.113.7/hooks"), None);
        assert_eq!(refused_literal("https://crm.example.com/hooks"), None);
    }
}
