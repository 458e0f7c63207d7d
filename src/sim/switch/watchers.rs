//! Desk phones watching a BLF name (`agent+1001@…`, `queue+support@…`): what each one receives
//! when the controller publishes a lamp with `sendevent PRESENCE_IN`.
//!
//! Why it exists: the controller only ever *sends* PRESENCE_IN; whether the lamp the agent
//! sees is right depends on how mod_sofia turns those headers into a dialog-info or pidf
//! NOTIFY. The rules here are the `presence-states` and `presence-blf` captures
//! (`presence-states.sip.txt`): a dialog NOTIFY has no `<dialog>` without a Unique-ID, its
//! `<state>` comes from Answer-State and its `version` counts 0, 1, 2… per subscription; the
//! pidf note and activity depend on whether there is a dialog and on `force-status`. Header
//! names are matched without regard to case, and `event_type`, `alt_event_type` and
//! `Channel-State` change nothing, as captured.
//!
//! The switch sends no NOTIFY on SUBSCRIBE (it fires PRESENCE_PROBE and waits for a
//! PRESENCE_IN); an unsubscribe gets one final `terminated;reason=noresource` NOTIFY without
//! a body.

use std::collections::HashMap;
use std::time::Instant;

/// The `Event:` package a phone subscribed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WatchKind {
    /// `Event: dialog` (`application/dialog-info+xml`): a BLF key's lamp.
    Dialog,
    /// `Event: presence` (`application/pidf+xml`): a buddy list's activity and note.
    Presence,
}

impl WatchKind {
    /// The `proto-specific-event-name` of the PRESENCE_PROBE a SUBSCRIBE fires.
    pub fn event_name(self) -> &'static str {
        match self {
            WatchKind::Dialog => "dialog",
            WatchKind::Presence => "presence",
        }
    }
}

/// The `<dialog>` element of a dialog-info NOTIFY.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DialogView {
    /// The PRESENCE_IN's Unique-ID.
    pub id: String,
    /// `recipient` when a Presence-Call-Direction header was sent, else `initiator`.
    pub direction: String,
    /// `early`, `confirmed` or `terminated`.
    pub state: String,
    /// The caller shown as the remote party (`Caller 1003 <sip:1003@…>`) when the Unique-ID
    /// is a live channel's; None otherwise.
    pub remote: Option<String>,
}

/// The live channel a PRESENCE_IN's Unique-ID names, as mod_sofia reads it.
pub(super) struct LiveCall {
    pub destination: String,
    pub caller_name: String,
    pub caller_number: String,
}

/// One NOTIFY a watching phone received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notify {
    pub kind: WatchKind,
    /// `active;expires=<seconds left>`, or `terminated;reason=noresource` for the last one.
    pub subscription_state: String,
    /// The dialog-info `version` (0, 1, 2… per subscription); None for pidf and the final one.
    pub version: Option<u64>,
    /// The dialog shown (dialog kind only); None when the key is idle.
    pub dialog: Option<DialogView>,
    /// The pidf `<rpid:…/>` activity (presence kind only).
    pub activity: Option<String>,
    /// The pidf `<dm:note>` (presence kind only).
    pub note: Option<String>,
    /// The XML body as sent; None for the final NOTIFY.
    pub body: Option<String>,
}

/// What a phone watching an entity shows now, from the latest PRESENCE_IN for it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PhoneLamp {
    /// The BLF key: None = off (idle), `early` = blinking, `confirmed` = lit, `terminated`.
    pub dialog_state: Option<String>,
    /// The pidf activity (`on-the-phone`, `away`, `busy`…), None when there is none.
    pub activity: Option<String>,
    /// The pidf note (`Available`, `On The Phone`, a pause reason…).
    pub note: Option<String>,
}

/// Subscriptions are kept this long (the captured phones sent `Expires: 600`).
pub(super) const EXPIRES: u64 = 600;

/// How many NOTIFYs one subscription remembers (the oldest are forgotten first).
const KEPT: usize = 1024;

struct Watcher {
    user: String,
    entity: String,
    kind: WatchKind,
    call_id: String,
    since: Instant,
    version: u64,
    active: bool,
    received: Vec<Notify>,
}

/// Every subscription the switch holds, with what it was sent, and the current lamps.
#[derive(Default)]
pub(crate) struct Watchers {
    list: Vec<Watcher>,
    lamps: HashMap<String, PhoneLamp>,
}

/// `agent+1001` -> `agent+1001@127.0.0.1`; a name with a domain is kept.
pub(super) fn full_entity(entity: &str, host: &str) -> String {
    if entity.contains('@') {
        entity.to_owned()
    } else {
        format!("{entity}@{host}")
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// The entity a PRESENCE_IN is about: `Proto: agent` + `From: 1001@h` -> `agent+1001@h`. A
/// From that already names the proto, and the protos of the switch's own channels (`sip`,
/// `any`), are taken as they are.
pub(super) fn entity_of(headers: &[(String, String)]) -> Option<String> {
    let from = header(headers, "from")?;
    match header(headers, "proto") {
        Some(p) if !matches!(p, "sip" | "any") && !from.starts_with(&format!("{p}+")) => {
            Some(format!("{p}+{from}"))
        }
        _ => Some(from.to_owned()),
    }
}

/// The dialog a dialog-info NOTIFY shows for these PRESENCE_IN headers.
fn dialog_of(headers: &[(String, String)]) -> Option<DialogView> {
    let id = header(headers, "unique-id")?;
    let state = match header(headers, "answer-state")?
        .to_ascii_lowercase()
        .as_str()
    {
        "ringing" | "early" => "early".to_owned(),
        "answered" | "confirmed" => "confirmed".to_owned(),
        "hangup" | "terminated" => "terminated".to_owned(),
        other => other.to_owned(),
    };
    let direction = if header(headers, "presence-call-direction").is_some() {
        "recipient"
    } else {
        "initiator"
    };
    Some(DialogView {
        id: id.to_owned(),
        direction: direction.to_owned(),
        state,
        remote: None,
    })
}

fn activity_of(rpid: Option<&str>) -> Option<String> {
    rpid.filter(|r| !r.eq_ignore_ascii_case("unknown"))
        .map(str::to_owned)
}

/// The pidf activity and note for these PRESENCE_IN headers (`presence-states` table).
/// A confirmed dialog of a live channel reads `Talk <its destination>` (`presence-blf`
/// combo 13).
fn pidf_of(
    headers: &[(String, String)],
    dialog: Option<&DialogView>,
    live: Option<&LiveCall>,
) -> PhoneLamp {
    let force = header(headers, "force-status");
    let rpid = header(headers, "rpid");
    let (activity, note) = match dialog {
        Some(d) => match (force, d.state.as_str()) {
            (Some(f), "terminated") => (activity_of(rpid), f.to_owned()),
            (Some(f), _) => (Some("on-the-phone".to_owned()), f.to_owned()),
            (None, "confirmed") => (
                Some("on-the-phone".to_owned()),
                live.map_or_else(
                    || "On The Phone".to_owned(),
                    |l| format!("Talk {}", l.destination),
                ),
            ),
            (None, _) => (None, "Available".to_owned()),
        },
        None => (
            activity_of(rpid),
            force
                .or_else(|| header(headers, "status"))
                .unwrap_or("Available")
                .to_owned(),
        ),
    };
    PhoneLamp {
        dialog_state: dialog.map(|d| d.state.clone()),
        activity,
        note: Some(note),
    }
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `agent+1001@h` -> (`1001`, `h`): the agent's own user, shown as the local party.
fn entity_user(entity: &str) -> Option<(&str, &str)> {
    let (name, host) = entity.split_once('@')?;
    Some((name.split_once('+').map_or(name, |(_, user)| user), host))
}

fn dialog_body(
    entity: &str,
    version: u64,
    dialog: Option<&DialogView>,
    live: Option<&LiveCall>,
) -> String {
    let mut body = format!(
        "<?xml version=\"1.0\"?>\n<dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\" \
         version=\"{version}\" state=\"full\" entity=\"sip:{entity}\">\n"
    );
    if let Some(d) = dialog {
        body.push_str(&format!(
            "<dialog id=\"{}\" direction=\"{}\">\n<state>{}</state>\n",
            xml_escape(&d.id),
            d.direction,
            xml_escape(&d.state)
        ));
        if let (Some(l), Some((user, host))) = (live, entity_user(entity)) {
            body.push_str(&format!(
                "<local>\n<identity display=\"{user}\">sip:{user}@{host}</identity>\n\
                 <target uri=\"sip:{user}@{host}\">\n\
                 <param pname=\"+sip.rendering\" pvalue=\"yes\"/>\n</target>\n</local>\n\
                 <remote>\n<identity display=\"{}\">sip:{}@{host}</identity>\n\
                 <target uri=\"sip:**{user}@{host}\"/>\n</remote>\n",
                xml_escape(&l.caller_name),
                xml_escape(&l.caller_number)
            ));
        }
        body.push_str("</dialog>\n");
    }
    body.push_str("</dialog-info>\n");
    body
}

/// Stable per entity, like the switch's (whose derivation is not known: `t6a5ed77e` /
/// `p06360c4a` for `agent+1001@127.0.0.1` in every capture).
fn pidf_ids(entity: &str) -> (String, String) {
    let mut h: u32 = 0x811c_9dc5;
    for b in entity.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    (format!("t{h:08x}"), format!("p{:08x}", h.rotate_left(13)))
}

fn pidf_body(entity: &str, lamp: &PhoneLamp) -> String {
    let (tuple, person) = pidf_ids(entity);
    let mut body = format!(
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?> \n<presence xmlns='urn:ietf:params:xml:ns:pidf' \n\
         xmlns:dm='urn:ietf:params:xml:ns:pidf:data-model' \n\
         xmlns:rpid='urn:ietf:params:xml:ns:pidf:rpid' \n\
         xmlns:c='urn:ietf:params:xml:ns:pidf:cipid' entity='sip:{entity}'>\n \
         <tuple id='{tuple}'>\n  <status>\n   <basic>open</basic>\n  </status>\n </tuple>\n \
         <dm:person id='{person}'>\n"
    );
    if let Some(a) = &lamp.activity {
        body.push_str(&format!(
            "  <rpid:activities>\n   <rpid:{}/>\n  </rpid:activities>\n",
            xml_escape(a)
        ));
    }
    if let Some(n) = &lamp.note {
        body.push_str(&format!("  <dm:note>{}</dm:note>\n", xml_escape(n)));
    }
    body.push_str(" </dm:person>\n</presence>\n");
    body
}

impl Watchers {
    pub(super) fn subscribe(&mut self, user: &str, entity: &str, kind: WatchKind, call_id: String) {
        self.list.push(Watcher {
            user: user.to_owned(),
            entity: entity.to_owned(),
            kind,
            call_id,
            since: Instant::now(),
            version: 0,
            active: true,
            received: Vec::new(),
        });
    }

    /// Ends `user`'s active subscriptions of `kind` to `entity` with their final NOTIFY;
    /// returns their Call-IDs (none if there was no such subscription).
    pub(super) fn unsubscribe(&mut self, user: &str, entity: &str, kind: WatchKind) -> Vec<String> {
        let mut ended = Vec::new();
        for w in self
            .list
            .iter_mut()
            .filter(|w| w.active && w.user == user && w.entity == entity && w.kind == kind)
        {
            w.active = false;
            w.received.push(Notify {
                kind,
                subscription_state: "terminated;reason=noresource".to_owned(),
                version: None,
                dialog: None,
                activity: None,
                note: None,
                body: None,
            });
            ended.push(w.call_id.clone());
        }
        ended
    }

    /// One PRESENCE_IN fired: one NOTIFY to each active watcher of its entity.
    pub(super) fn presence_in(&mut self, headers: &[(String, String)], live: Option<&LiveCall>) {
        let Some(entity) = entity_of(headers) else {
            return;
        };
        let dialog = dialog_of(headers).map(|mut d| {
            d.remote = live.map(|l| {
                format!(
                    "{} <sip:{}@{}>",
                    l.caller_name,
                    l.caller_number,
                    entity.split_once('@').map_or("", |(_, h)| h)
                )
            });
            d
        });
        let lamp = pidf_of(headers, dialog.as_ref(), live);
        for w in self
            .list
            .iter_mut()
            .filter(|w| w.active && w.entity == entity)
        {
            let left = EXPIRES.saturating_sub(w.since.elapsed().as_secs());
            let subscription_state = format!("active;expires={left}");
            let notify = match w.kind {
                WatchKind::Dialog => {
                    let version = w.version;
                    w.version += 1;
                    Notify {
                        kind: w.kind,
                        subscription_state,
                        version: Some(version),
                        body: Some(dialog_body(&entity, version, dialog.as_ref(), live)),
                        dialog: dialog.clone(),
                        activity: None,
                        note: None,
                    }
                }
                WatchKind::Presence => Notify {
                    kind: w.kind,
                    subscription_state,
                    version: None,
                    dialog: None,
                    activity: lamp.activity.clone(),
                    note: lamp.note.clone(),
                    body: Some(pidf_body(&entity, &lamp)),
                },
            };
            if w.received.len() >= KEPT {
                w.received.remove(0);
            }
            w.received.push(notify);
        }
        self.lamps.insert(entity, lamp);
    }

    /// Every NOTIFY `user` received for `entity`, all its subscriptions, oldest first.
    pub(super) fn notifies(&self, user: &str, entity: &str) -> Vec<Notify> {
        self.list
            .iter()
            .filter(|w| w.user == user && w.entity == entity)
            .flat_map(|w| w.received.iter().cloned())
            .collect()
    }

    pub(super) fn lamp(&self, entity: &str) -> Option<PhoneLamp> {
        self.lamps.get(entity).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut h = vec![
            ("Proto".to_owned(), "agent".to_owned()),
            ("From".to_owned(), "1001@127.0.0.1".to_owned()),
        ];
        h.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        h
    }

    #[test]
    fn an_idle_dialog_body_has_the_captured_bytes() {
        let body = dialog_body("agent+1001@127.0.0.1", 0, None, None);
        assert_eq!(body.len(), 153);
        let d = DialogView {
            id: "84bbf0e1-f2ce-4671-8701-4cfd6ec37110".into(),
            direction: "recipient".into(),
            state: "early".into(),
            remote: None,
        };
        assert_eq!(
            dialog_body("agent+1001@127.0.0.1", 4, Some(&d), None).len(),
            257
        );
    }

    #[test]
    fn the_entity_joins_proto_and_from() {
        assert_eq!(
            entity_of(&headers(&[])).as_deref(),
            Some("agent+1001@127.0.0.1")
        );
        let lower = vec![
            ("proto".to_owned(), "queue".to_owned()),
            ("from".to_owned(), "support@127.0.0.1".to_owned()),
        ];
        assert_eq!(
            entity_of(&lower).as_deref(),
            Some("queue+support@127.0.0.1")
        );
    }

    #[test]
    fn ringing_is_shown_as_early_and_a_missing_direction_as_initiator() {
        let d = dialog_of(&headers(&[("Unique-ID", "u"), ("Answer-State", "ringing")]));
        assert_eq!(
            d,
            Some(DialogView {
                id: "u".into(),
                direction: "initiator".into(),
                state: "early".into(),
                remote: None
            })
        );
    }
}

#[cfg(test)]
mod live_tests {
    use super::*;

    #[test]
    fn a_confirmed_dialog_of_a_live_channel_has_the_captured_541_byte_body() {
        let d = DialogView {
            id: "930e6027-ecbe-41f3-aae2-f26c4a57b727".into(),
            direction: "recipient".into(),
            state: "confirmed".into(),
            remote: None,
        };
        let live = LiveCall {
            destination: "5000".into(),
            caller_name: "Caller 1003".into(),
            caller_number: "1003".into(),
        };
        let body = dialog_body("agent+1001@127.0.0.1", 12, Some(&d), Some(&live));
        assert_eq!(body.len(), 541);
    }

    #[test]
    fn a_pidf_body_is_laid_out_like_the_capture() {
        let lamp = PhoneLamp {
            dialog_state: None,
            activity: Some("away".into()),
            note: Some("Paused Lunch".into()),
        };
        let body = pidf_body("agent+1001@127.0.0.1", &lamp);
        // The sipp log shows 494 bytes under `Content-Length: 495`; the missing byte is not
        // visible in the log.
        assert_eq!(body.len(), 494);
        assert!(body.contains("  <rpid:activities>\n   <rpid:away/>\n  </rpid:activities>\n"));
    }
}
