//! `sendevent` (the controller publishing BLF lamps as PRESENCE_IN) and the PRESENCE_PROBE a
//! phone's subscription to `agent+<id>` or `queue+<id>` causes, as in the `presence-blf`
//! capture: the reply is `+OK <Event-UUID>`, and the event is fired with the headers sent.

use super::{new_uuid, ConnId, Core, HOST_IP};
use crate::sim::wire::{self, Command};

impl Core {
    pub(super) fn sendevent(&mut self, conn: ConnId, rest: &str, cmd: &Command) {
        let name = rest
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
        let headers: Vec<(String, String)> = cmd
            .headers
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("Event-Name"))
            .cloned()
            .collect();
        let Some(event_name) = super::EVENT_NAMES.iter().find(|n| **n == name) else {
            self.reply(conn, wire::command_reply("-ERR invalid event"));
            return;
        };
        let event_uuid = new_uuid();
        self.reply(conn, wire::command_reply(&format!("+OK {event_uuid}")));
        self.sent_events.push((name.clone(), headers.clone()));
        self.changed = true;
        let seq = self.next_seq();
        self.fire(event_name, Some(seq), |ev| {
            for (k, v) in headers {
                ev.add(k, v);
            }
        });
    }

    /// A phone (`watcher`, a registered user) subscribes to `target` (`agent+1001`): the switch
    /// sends the subscriber nothing and fires PRESENCE_PROBE.
    pub(crate) fn probe_presence(&mut self, watcher: &str, target: &str) {
        let proto = target
            .split_once('+')
            .map_or("sip", |(proto, _)| proto)
            .to_owned();
        let (watcher, target) = (watcher.to_owned(), target.to_owned());
        let seq = self.next_seq();
        self.fire("PRESENCE_PROBE", Some(seq), |ev| {
            ev.add("proto", proto);
            ev.add("login", format!("sip:mod_sofia@{HOST_IP}:5060"));
            ev.add("from", format!("{watcher}@{HOST_IP}"));
            ev.add("to", format!("{target}@{HOST_IP}"));
            ev.add("proto-specific-event-name", "dialog");
            ev.add("expires", "600");
            ev.add("sub-call-id", new_uuid());
        });
    }

    pub(crate) fn sent_events(&self) -> Vec<(String, Vec<(String, String)>)> {
        self.sent_events.clone()
    }
}
