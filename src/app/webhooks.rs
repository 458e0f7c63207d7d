//! The webhook worker: posts the outbox's due deliveries, signed, and records each attempt.
//!
//! It runs apart from the engine and reads only the database, so a receiver that is slow or
//! down never slows routing: what is not delivered waits in the outbox, not in memory. It is
//! woken after each history batch commits (a screen-pop leaves within milliseconds of its
//! offer) and polls every half second for retries that fell due.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use rand::Rng;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{debug, warn};

use super::clock::Clock;
use crate::cti::retry;
use crate::cti::signing::{sign, Secret};
use crate::store::{AttemptResult, DeliveryRow, Store, Subscription};

/// Deliveries posted at once, across receivers.
const MAX_IN_FLIGHT: usize = 32;
const POLL: Duration = Duration::from_millis(500);
/// A receiver's reply is read up to this size (it is only logged).
const MAX_REPLY: usize = 4 * 1024;

pub async fn run(
    store: Store,
    clock: Clock,
    mut wake: watch::Receiver<u64>,
    mut stop: watch::Receiver<bool>,
) {
    let client = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
        .build()
    {
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
                        (id, attempt(&client, &subscription, &delivery, clock).await)
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
    let reply = client
        .post(&subscription.url)
        .timeout(retry::timeout(delivery.class))
        .header("content-type", "application/json")
        .header("webhook-id", &headers.id)
        .header("webhook-timestamp", &headers.timestamp)
        .header("webhook-signature", &headers.signature)
        .body(delivery.payload.clone())
        .send()
        .await;
    let failed = |status: Option<u16>, error: String| {
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
    };
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
        Err(e) => failed(None, format!("cannot reach the receiver: {e}")),
    }
}
