//! Bridges the client creates: joining (also moving from another bridge), leaving,
//! destroying, and the technology Asterisk reports for what is inside.

use super::{Bridge, Core, Origin};
use crate::sim_ari::wire::ari_timestamp;

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BridgeError {
    /// `500 Internal Error` (an unknown type).
    BadType,
    /// `409 Bridge with id '<id>' already exists`.
    Exists(String),
}

const BRIDGE_TYPES: [&str; 6] = [
    "mixing",
    "holding",
    "dtmf_events",
    "proxy_media",
    "video_sfu",
    "video_single",
];

impl Core {
    pub fn create_bridge(
        &mut self,
        id: Option<&str>,
        kind: Option<&str>,
        name: Option<&str>,
    ) -> Result<String, BridgeError> {
        let kind = kind.unwrap_or("mixing");
        if !kind.split(',').all(|k| BRIDGE_TYPES.contains(&k)) {
            return Err(BridgeError::BadType);
        }
        let id = match id {
            Some(id) => {
                if self.bridges.iter().any(|b| b.id == id) {
                    return Err(BridgeError::Exists(id.to_string()));
                }
                id.to_string()
            }
            None => uuid::Uuid::new_v4().to_string(),
        };
        let holding = kind.split(',').any(|k| k == "holding");
        self.bridges.push(Bridge {
            id: id.clone(),
            bridge_type: kind.to_string(),
            name: name.unwrap_or("").to_string(),
            channels: Vec::new(),
            creationtime: ari_timestamp(),
            subscribed: Default::default(),
            technology: if holding {
                "holding_bridge"
            } else {
                "simple_bridge"
            },
            dialplan: false,
        });
        self.bridge_event("BridgeCreated", &id, None);
        Ok(id)
    }

    pub fn bridge(&self, id: &str) -> Option<&Bridge> {
        self.bridges.iter().find(|b| b.id == id)
    }

    fn retech(&mut self, bridge: &str) {
        let pjsip = |c: &String| {
            self.channels
                .get(c)
                .is_some_and(|ch| !matches!(ch.origin, Origin::Snoop { .. }))
        };
        let Some(b) = self.bridges.iter().find(|b| b.id == bridge) else {
            return;
        };
        if b.technology == "holding_bridge" {
            return;
        }
        let n = b.channels.len();
        let all_pjsip = b.channels.iter().all(pjsip);
        let tech = match n {
            0 | 1 => "simple_bridge",
            2 if all_pjsip => "native_rtp",
            2 => "simple_bridge",
            _ => "softmix",
        };
        if let Some(b) = self.bridges.iter_mut().find(|b| b.id == bridge) {
            b.technology = tech;
        }
    }

    /// Adds a channel (taking it out of its current bridge first, even the same one).
    pub fn add_to_bridge(&mut self, bridge: &str, channel: &str) {
        let old = self.channels.get(channel).and_then(|c| c.bridge.clone());
        if let Some(old) = old {
            self.leave_bridge(channel, &old);
        }
        let subscribed = self
            .channels
            .get(channel)
            .map(|c| c.subscribed.clone())
            .unwrap_or_default();
        if let Some(b) = self.bridges.iter_mut().find(|b| b.id == bridge) {
            b.channels.push(channel.to_string());
            b.subscribed.extend(subscribed);
        }
        if let Some(c) = self.channels.get_mut(channel) {
            c.bridge = Some(bridge.to_string());
            c.moh = None;
        }
        self.retech(bridge);
        self.bridge_event("ChannelEnteredBridge", bridge, Some(channel));
        self.stats.bridged += 1;
        let members = self
            .bridge(bridge)
            .map(|b| b.channels.clone())
            .unwrap_or_default();
        if members.len() == 2 {
            for (me, other) in [(&members[1], &members[0]), (&members[0], &members[1])] {
                let (peer_name, peer_call) = match self.channels.get(other) {
                    Some(o) => (o.name.clone(), o.protocol_id.clone()),
                    None => continue,
                };
                self.varset(me, "BRIDGEPEER", &peer_name);
                self.varset(me, "BRIDGEPVTCALLID", &peer_call);
            }
        }
        self.caller_bridged(channel);
    }

    /// Takes a channel out of a bridge: ChannelLeftBridge shows the bridge without it.
    pub fn leave_bridge(&mut self, channel: &str, bridge: &str) {
        if let Some(b) = self.bridges.iter_mut().find(|b| b.id == bridge) {
            b.channels.retain(|c| c != channel);
        }
        self.retech(bridge);
        self.bridge_event("ChannelLeftBridge", bridge, Some(channel));
        if let Some(c) = self.channels.get_mut(channel) {
            if c.bridge.as_deref() == Some(bridge) {
                c.bridge = None;
            }
        }
    }

    pub fn destroy_bridge(&mut self, bridge: &str) -> bool {
        let Some(b) = self.bridge(bridge).cloned() else {
            return false;
        };
        for c in &b.channels {
            self.leave_bridge(c, bridge);
        }
        self.recordings_on_target_gone(&format!("bridge:{bridge}"));
        self.bridge_event("BridgeDestroyed", bridge, None);
        self.bridges.retain(|x| x.id != bridge);
        true
    }
}
