//! The switch's own record of channels on the simulated Asterisk, for the invariants checked
//! when a `TestApp` is dropped (see `invariants`): a WebSocket of its own for an application
//! `ledger` with `subscribeAll=true`, which sees every channel and bridge on the system
//! (`connect` capture: its subscription is `__AST_CHANNEL_ALL_TOPIC`), so it does not take the
//! controller's application over.
//!
//! Asterisk's terms for the ledger's: a leg is created at ChannelCreated, answered when its
//! state turns `Up`, bridged when it enters a bridge with exactly one other channel, hung up at
//! ChannelDestroyed; our agent legs carry `SWITCHBOARD_AGENT` / `SWITCHBOARD_CALL` /
//! `SWITCHBOARD_ROLE`, set at the originate and reported as ChannelVarset. Asterisk reports no
//! hold on a channel (`inbound-stasis` capture: `POST /hold` gives only DeviceStateChanged
//! `ONHOLD` of its endpoint), so a hold is the endpoint's device going `ONHOLD` while one
//! channel of it is up, until it leaves that state; a phone's own hold is `ChannelHold`.
//! A phone's transfer puts halves of a Local pair (`Local/…;1`, `;2`) in bridges: a leg
//! bridged to one half is bridged to whoever the other half is bridged to.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::Value;
use switchboard::sim_ari::AriSimHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::invariants::{Ledger, Leg};

/// Connects to the simulated Asterisk and returns once its WebSocket is open, so no event of a
/// later call is missed. Reconnects when the simulator drops its sockets or restarts.
pub async fn listen(ari: &AriSimHandle) -> Ledger {
    let legs: Arc<Mutex<HashMap<String, Leg>>> = Arc::default();
    let connects: Arc<std::sync::atomic::AtomicU64> = Arc::default();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let shared = legs.clone();
    let counted = connects.clone();
    let url = format!(
        "ws://{}/ari/events?app=ledger&subscribeAll=true&api_key=switchboard:ClueCon",
        ari.http_addr()
    );
    let task = tokio::spawn(async move {
        let mut ready = Some(ready_tx);
        let mut bridges: HashMap<String, Vec<String>> = HashMap::new();
        let mut devices: HashMap<String, Vec<String>> = HashMap::new();
        let mut locals = Locals::default();
        loop {
            let request = url
                .as_str()
                .into_client_request()
                .expect("a WebSocket request");
            if let Ok((mut socket, _)) = tokio_tungstenite::connect_async(request).await {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if let Some(tx) = ready.take() {
                    let _ = tx.send(());
                }
                while let Some(Ok(message)) = socket.next().await {
                    if let Message::Text(text) = message {
                        if let Ok(event) = serde_json::from_str::<Value>(&text) {
                            note(&shared, &mut bridges, &mut devices, &mut locals, &event);
                        }
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let _ = tokio::time::timeout(Duration::from_secs(10), ready_rx).await;
    Ledger::kept_by(legs, task, connects)
}

/// `PJSIP/1001` of a channel named `PJSIP/1001-00000004`.
fn device_of(name: &str) -> Option<&str> {
    name.rsplit_once('-').map(|(device, _)| device)
}

/// The halves of Local pairs: each half's id → its other half's id.
#[derive(Default)]
struct Locals {
    by_pair: HashMap<String, Vec<String>>,
    peer: HashMap<String, String>,
}

impl Locals {
    fn created(&mut self, id: &str, name: &str) {
        let Some((pair, _)) = name
            .strip_prefix("Local/")
            .and_then(|rest| rest.rsplit_once(';'))
        else {
            return;
        };
        let halves = self.by_pair.entry(pair.to_owned()).or_default();
        halves.push(id.to_owned());
        if let [one, two] = halves.as_slice() {
            self.peer.insert(one.clone(), two.clone());
            self.peer.insert(two.clone(), one.clone());
        }
    }

    /// The leg `id` stands for: itself, or for a Local half the one leg bridged to its other
    /// half (`None` while that half is in no two-party bridge).
    fn resolve(&self, id: &str, bridges: &HashMap<String, Vec<String>>) -> Option<String> {
        let Some(peer) = self.peer.get(id) else {
            return Some(id.to_owned());
        };
        let members = bridges.values().find(|m| m.contains(peer))?;
        match members.as_slice() {
            [a, b] => {
                let other = if a == peer { b } else { a };
                (!self.peer.contains_key(other)).then(|| other.clone())
            }
            _ => None,
        }
    }
}

fn note(
    legs: &Mutex<HashMap<String, Leg>>,
    bridges: &mut HashMap<String, Vec<String>>,
    devices: &mut HashMap<String, Vec<String>>,
    locals: &mut Locals,
    event: &Value,
) {
    let now = Instant::now();
    let mut legs = legs.lock().unwrap_or_else(PoisonError::into_inner);
    if event["type"] == "DeviceStateChanged" {
        let device = event["device_state"]["name"].as_str().unwrap_or_default();
        let held = event["device_state"]["state"] == "ONHOLD";
        if let Some([channel]) = devices.get(device).map(Vec::as_slice) {
            let hold = &mut legs
                .entry(channel.clone())
                .or_insert_with(|| Leg::new(now))
                .hold;
            match (held, hold.since) {
                (true, None) => {
                    hold.since = Some(now);
                    hold.holds += 1;
                }
                (false, Some(since)) => {
                    hold.since = None;
                    hold.held_ms += i64::try_from(now.saturating_duration_since(since).as_millis())
                        .unwrap_or(0);
                }
                _ => {}
            }
        }
        return;
    }
    let Some(id) = event["channel"]["id"].as_str().map(str::to_owned) else {
        return;
    };
    match event["type"].as_str() {
        Some("ChannelCreated") => {
            legs.entry(id.clone())
                .or_insert_with(|| Leg::new(now))
                .created = now;
            let name = event["channel"]["name"].as_str().unwrap_or_default();
            locals.created(&id, name);
            if let Some(device) = device_of(name).filter(|_| !name.starts_with("Local/")) {
                devices.entry(device.to_owned()).or_default().push(id);
            }
        }
        Some("ChannelVarset") => {
            let leg = legs.entry(id).or_insert_with(|| Leg::new(now));
            let value = event["value"].as_str().unwrap_or_default().to_owned();
            match event["variable"].as_str() {
                Some("SWITCHBOARD_AGENT") => leg.agent = Some(value),
                Some("SWITCHBOARD_CALL") => leg.call = Some(value),
                Some("SWITCHBOARD_ROLE") => leg.monitor = value == "monitor",
                _ => {}
            }
        }
        Some("ChannelStateChange") | Some("StasisStart")
            if event["channel"]["state"].as_str() == Some("Up") =>
        {
            legs.entry(id)
                .or_insert_with(|| Leg::new(now))
                .answered
                .get_or_insert(now);
        }
        // A supervisor listening is bridged to a snoop on the call, never to the call's legs:
        // that is Asterisk's eavesdrop, not a bridge of the call (see `invariants_monitor`).
        Some("ChannelEnteredBridge")
            if event["channel"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("Snoop/")) => {}
        Some("ChannelEnteredBridge") => {
            let Some(bridge) = event["bridge"]["id"].as_str() else {
                return;
            };
            let members = bridges.entry(bridge.to_owned()).or_default();
            members.retain(|c| *c != id);
            let other = match members.as_slice() {
                [other] => Some(other.clone()),
                _ => None,
            };
            members.push(id.clone());
            if let Some(other) = other {
                let ends = (
                    locals.resolve(&id, bridges),
                    locals.resolve(&other, bridges),
                );
                if let (Some(a), Some(b)) = ends {
                    if a != b {
                        Leg::bridge(&mut legs, &a, &b, now);
                    }
                }
            }
        }
        Some("ChannelLeftBridge") => {
            if let Some(members) = event["bridge"]["id"]
                .as_str()
                .and_then(|b| bridges.get_mut(b))
            {
                members.retain(|c| *c != id);
            }
        }
        Some("ChannelDestroyed") => {
            legs.entry(id.clone())
                .or_insert_with(|| Leg::new(now))
                .hang_up(now);
            for members in bridges.values_mut().chain(devices.values_mut()) {
                members.retain(|c| *c != id);
            }
        }
        Some("ChannelHold") => {
            let leg = legs.entry(id).or_insert_with(|| Leg::new(now));
            if leg.hold.since.is_none() {
                leg.hold.since = Some(now);
                leg.hold.holds += 1;
            }
        }
        Some("ChannelUnhold") => {
            let leg = legs.entry(id).or_insert_with(|| Leg::new(now));
            if let Some(since) = leg.hold.since.take() {
                leg.hold.held_ms +=
                    i64::try_from(now.saturating_duration_since(since).as_millis()).unwrap_or(0);
            }
        }
        _ => {}
    }
}
