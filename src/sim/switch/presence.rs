//! `sendevent` (the controller publishing BLF lamps as PRESENCE_IN) and the PRESENCE_PROBE a
//! phone's subscription to `agent+<id>` or `queue+<id>` causes.
//!
//! Both are laid out as captured (`presence-states`, `switchboard-feature-codes`): the fired
//! event starts with `Command: sendevent PRESENCE_IN` and the client's headers in the client's
//! order and case (its own `Event-Name` included), then `Event-UUID` (the uuid of the `+OK
//! <uuid>` reply), then the switch's common block; the probe carries `login: internal`,
//! `sip_profile`, and `expires` twice. Every PRESENCE_IN fired also reaches the watching
//! phones (`watchers`).

use super::watchers::{full_entity, LiveCall, WatchKind};
use super::{event_bit, new_uuid, ConnId, Core, HOST_IP};
use crate::sim::wire::{self, Command, Event};

/// Where the real switch fires these from (as captured).
const SENDEVENT_ORIGIN: (&str, &str, &str) = ("mod_event_socket.c", "parse_command", "2275");
const PROBE_ORIGIN: (&str, &str, &str) = (
    "sofia_presence.c",
    "sofia_presence_handle_sip_i_subscribe",
    "4351",
);

impl Core {
    /// mod_event_socket answers `+OK <Event-UUID>` whatever the name; an event name the
    /// simulator does not model is fired to nobody.
    pub(super) fn sendevent(&mut self, conn: ConnId, rest: &str, cmd: &Command) {
        let name = rest
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let sent: Vec<(String, String)> = cmd
            .headers
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("Content-Length"))
            .cloned()
            .collect();
        let event_uuid = new_uuid();
        self.reply(conn, wire::command_reply(&format!("+OK {event_uuid}")));
        if self.sent_events.len() == super::SENT_EVENTS_KEPT {
            self.sent_events.pop_front();
        }
        self.sent_events.push_back((
            name.clone(),
            sent.iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("Event-Name"))
                .cloned()
                .collect(),
        ));
        self.changed = true;
        let seq = self.next_seq();
        let Some(event_name) = super::EVENT_NAMES.iter().find(|n| **n == name) else {
            return;
        };
        // A Unique-ID of a live channel hands the event to that session, which fires it
        // with its channel data and without the common block (`presence-blf` combo 13).
        let session = sent
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("unique-id"))
            .and_then(|(_, u)| self.channels.get(u))
            .filter(|c| c.hangup_cause.is_none())
            .map(|c| c.uuid.clone());
        if *event_name == "PRESENCE_IN" {
            let live = session
                .as_ref()
                .and_then(|u| self.channels.get(u))
                .map(|c| LiveCall {
                    destination: c.profile.destination.clone(),
                    caller_name: c.profile.cid_name.clone().unwrap_or_default(),
                    caller_number: c.profile.cid_number.clone(),
                });
            self.watchers.presence_in(&sent, live.as_ref());
        }
        let bit = event_bit(event_name).unwrap_or(0);
        if !self.wanted(bit) {
            return;
        }
        let mut ev = Event::with_capacity(sent.len() + 64);
        ev.add("Command", cmd.line.clone());
        for (k, v) in sent {
            ev.add(k, v);
        }
        ev.add("Event-UUID", event_uuid);
        match session.as_ref().and_then(|u| self.channels.get(u)) {
            Some(ch) => self.channel_data(ch, &mut ev),
            None => {
                let base = self.base_event(event_name, seq, SENDEVENT_ORIGIN);
                ev.headers.extend(base.headers);
            }
        }
        self.dispatch(bit, &ev);
    }

    /// A phone registered as `user` subscribes to `entity` (`agent+1001`): the switch sends
    /// it nothing and fires PRESENCE_PROBE.
    pub(crate) fn subscribe_watcher(&mut self, user: &str, entity: &str, kind: WatchKind) {
        let entity = full_entity(entity, HOST_IP);
        let call_id = format!("{}@{HOST_IP}", new_uuid());
        self.watchers
            .subscribe(user, &entity, kind, call_id.clone());
        self.probe(user, &entity, kind, super::watchers::EXPIRES, &call_id);
    }

    /// The phone unsubscribes (`Expires: 0`): a last NOTIFY `terminated;reason=noresource`
    /// and a PRESENCE_PROBE with `expires: 0`. False if it was not subscribed.
    pub(crate) fn unsubscribe_watcher(
        &mut self,
        user: &str,
        entity: &str,
        kind: WatchKind,
    ) -> bool {
        let entity = full_entity(entity, HOST_IP);
        let ended = self.watchers.unsubscribe(user, &entity, kind);
        for call_id in &ended {
            self.probe(user, &entity, kind, 0, call_id);
        }
        !ended.is_empty()
    }

    /// The first BLF subscription of a phone (a dialog watcher), as `probe_presence` always did.
    pub(crate) fn probe_presence(&mut self, watcher: &str, target: &str) {
        self.subscribe_watcher(watcher, target, WatchKind::Dialog);
    }

    fn probe(&mut self, user: &str, entity: &str, kind: WatchKind, expires: u64, call_id: &str) {
        let proto = entity
            .split('@')
            .next()
            .and_then(|name| name.split_once('+'))
            .map_or("sip", |(proto, _)| proto)
            .to_owned();
        let seq = self.next_seq();
        let bit = event_bit("PRESENCE_PROBE").unwrap_or(0);
        if !self.wanted(bit) {
            return;
        }
        let mut ev = self.base_event("PRESENCE_PROBE", seq, PROBE_ORIGIN);
        ev.add("proto", proto);
        ev.add("login", "internal");
        ev.add("sip_profile", "internal");
        ev.add("from", format!("{user}@{HOST_IP}"));
        ev.add("to", entity.to_owned());
        ev.add("proto-specific-event-name", kind.event_name());
        ev.add("expires", expires.to_string());
        ev.add("event_type", "presence");
        ev.add("alt_event_type", "dialog");
        ev.add("expires", expires.to_string());
        ev.add("sub-call-id", call_id.to_owned());
        self.dispatch(bit, &ev);
    }

    pub(crate) fn sent_events(&self) -> Vec<(String, Vec<(String, String)>)> {
        self.sent_events.iter().cloned().collect()
    }

    pub(crate) fn watcher_notifies(
        &self,
        user: &str,
        entity: &str,
    ) -> Vec<super::watchers::Notify> {
        self.watchers.notifies(user, &full_entity(entity, HOST_IP))
    }

    pub(crate) fn lamp(&self, entity: &str) -> Option<super::watchers::PhoneLamp> {
        self.watchers.lamp(&full_entity(entity, HOST_IP))
    }
}
