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
                            note(&shared, &mut bridges, &mut devices, &event);
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

fn note(
    legs: &Mutex<HashMap<String, Leg>>,
    bridges: &mut HashMap<String, Vec<String>>,
    devices: &mut HashMap<String, Vec<String>>,
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
            if let Some(device) = event["channel"]["name"].as_str().and_then(device_of) {
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
            if let [other] = members.as_slice() {
                let other = other.clone();
                Leg::bridge(&mut legs, &id, &other, now);
            }
            members.push(id);
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
