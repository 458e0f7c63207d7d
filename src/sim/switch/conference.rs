//! Conferences (capture `three-way-conference`, Batch 4):
//! - `uuid_transfer <C> -both conference:<name>@<profile> inline` (`+OK`): C's UNBRIDGE, then
//!   for C and then its partner A: a new profile (`Caller-Dialplan: inline`, transfer source
//!   `bl_xfer:conference:<name>@<profile>/<context>/inline`, destination kept), CS_ROUTING,
//!   CS_EXECUTE, EXECUTE `conference`, and CUSTOM `conference::maintenance`: `conference-create`
//!   (`Conference-Size: 0`, no Unique-ID) before the first member, then `add-member` with the
//!   leg's channel headers, `Member-ID` (1, 2, ... in joining order) and `Conference-Size`.
//!   Nobody hangs up.
//! - an originate whose application is `conference(<name>@<profile>)`: once it returns, the
//!   leg runs `conference` and is added (`add-member`, the next Member-ID).
//! - a member leaving (BYE or `uuid_kill`): its CHANNEL_HANGUP, `del-member` (same Member-ID,
//!   `Hangup-Cause`), EXECUTE_COMPLETE `conference`, the rest of its hangup; the others are
//!   untouched. After the last member's CHANNEL_DESTROY: `conference-destroy`.
//!
//! Not modelled (no engine use): CALL_UPDATE, CODEC, PRESENCE_IN of the conference,
//! `start-talking`, `floor-change`, `play-file-done`, and `api conference ...`.

use std::collections::HashMap;

use super::{new_uuid, Core};

const SUBCLASS: &str = "conference::maintenance";

/// One conference in progress.
#[derive(Debug, Default)]
pub(crate) struct SimConference {
    uuid: String,
    profile: String,
    next_member: u32,
    /// Members by leg: their Member-ID.
    members: Vec<(String, u32)>,
}

/// Conferences by name.
#[derive(Debug, Default)]
pub(crate) struct Conferences {
    by_name: HashMap<String, SimConference>,
    /// `conference-destroy` waits for its last member's CHANNEL_DESTROY (as captured).
    ending: Vec<(String, Vec<(&'static str, String)>)>,
}

impl Conferences {
    fn of_leg(&self, uuid: &str) -> Option<String> {
        self.by_name
            .iter()
            .find(|(_, c)| c.members.iter().any(|(u, _)| u == uuid))
            .map(|(n, _)| n.clone())
    }

    fn members(&self, name: &str) -> Vec<(String, u32)> {
        self.by_name
            .get(name)
            .map(|c| c.members.clone())
            .unwrap_or_default()
    }
}

/// `<name>@<profile>` (profile `default` when absent), or `None` when malformed.
pub(super) fn parse_target(arg: &str) -> Option<(String, String)> {
    let (name, profile) = arg.split_once('@').unwrap_or((arg, "default"));
    let ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    (ok(name) && ok(profile)).then(|| (name.to_owned(), profile.to_owned()))
}

impl Core {
    /// `uuid_transfer <uuid> -both conference:<target> inline`.
    pub(super) fn transfer_both_to_conference(&mut self, uuid: &str, target: &str) {
        let Some((name, profile)) = parse_target(target) else {
            return;
        };
        let Some(ch) = self.channels.get(uuid) else {
            return;
        };
        if ch.hangup_cause.is_some() {
            return;
        }
        let peer = ch.bridged_to.clone();
        self.changed = true;
        if let Some(peer) = &peer {
            self.unbridge(uuid, peer);
        }
        for leg in std::iter::once(uuid.to_owned()).chain(peer) {
            self.enter_by_transfer(&leg, &name, &profile);
        }
    }

    fn enter_by_transfer(&mut self, leg: &str, name: &str, profile: &str) {
        let Some(ch) = self.channels.get(leg) else {
            return;
        };
        let (destination, context) = (ch.profile.destination.clone(), ch.profile.context.clone());
        let extension = format!("conference:{name}@{profile}");
        self.abort_app(leg, "PLAYBACK ERROR");
        self.unpark(leg);
        self.new_transfer_profile(leg, &extension, "inline", &context);
        self.with_chan(leg, |c| {
            c.profile.dialplan = Some("inline");
            c.profile.destination = destination;
        });
        self.set_state(leg, "CS_ROUTING", 2);
        self.set_state(leg, "CS_EXECUTE", 4);
        self.join_conference(leg, name, profile);
    }

    /// Runs the originate's `conference` application on an answered leg whose originate
    /// returned. `false`: the leg has no such application.
    pub(super) fn start_conference(&mut self, uuid: &str) -> bool {
        let Some(target) = self
            .channels
            .get(uuid)
            .and_then(|c| c.var("originate_application"))
            .and_then(|a| a.strip_prefix("conference(")?.strip_suffix(')'))
            .and_then(parse_target)
        else {
            return false;
        };
        self.join_conference(uuid, &target.0, &target.1);
        true
    }

    fn join_conference(&mut self, leg: &str, name: &str, profile: &str) {
        self.start_app(
            leg,
            "conference",
            &format!("{name}@{profile}"),
            new_uuid(),
            false,
        );
        if !self.conferences.by_name.contains_key(name) {
            let conf = SimConference {
                uuid: new_uuid(),
                profile: profile.to_owned(),
                next_member: 1,
                members: Vec::new(),
            };
            let headers = conf_headers(name, &conf);
            self.conferences.by_name.insert(name.to_owned(), conf);
            self.fire("CUSTOM", None, move |ev| {
                ev.headers
                    .insert(0, ("Event-Subclass".into(), SUBCLASS.to_string()));
                for (k, v) in headers {
                    ev.add(k, v);
                }
                ev.add("Action", "conference-create");
            });
        }
        let Some(conf) = self.conferences.by_name.get_mut(name) else {
            return;
        };
        let id = conf.next_member;
        conf.next_member += 1;
        conf.members.push((leg.to_owned(), id));
        let headers = conf_headers(name, conf);
        self.member_event(leg, headers, id, "add-member", None);
        self.changed = true;
    }

    /// A member's leg hangs up: `del-member` (after its CHANNEL_HANGUP), and the conference's
    /// end after its last member.
    pub(super) fn leave_conference(&mut self, leg: &str) {
        let Some(name) = self.conferences.of_leg(leg) else {
            return;
        };
        let Some(conf) = self.conferences.by_name.get_mut(&name) else {
            return;
        };
        let Some(i) = conf.members.iter().position(|(u, _)| u == leg) else {
            return;
        };
        let (_, id) = conf.members.remove(i);
        let empty = conf.members.is_empty();
        let headers = conf_headers(&name, conf);
        let cause = self
            .channels
            .get(leg)
            .and_then(|c| c.hangup_cause.clone())
            .unwrap_or_else(|| "NORMAL_CLEARING".to_owned());
        self.member_event(leg, headers.clone(), id, "del-member", Some(cause));
        if empty {
            self.conferences.by_name.remove(&name);
            self.conferences.ending.push((leg.to_owned(), headers));
        }
        self.changed = true;
    }

    /// The last member's leg is destroyed: its conference ends (`conference-destroy`).
    pub(super) fn conference_leg_destroyed(&mut self, leg: &str) {
        let Some(i) = self.conferences.ending.iter().position(|(l, _)| l == leg) else {
            return;
        };
        let (_, headers) = self.conferences.ending.remove(i);
        self.fire("CUSTOM", None, move |ev| {
            ev.headers
                .insert(0, ("Event-Subclass".into(), SUBCLASS.to_string()));
            for (k, v) in headers {
                ev.add(k, v);
            }
            ev.add("Action", "conference-destroy");
        });
    }

    fn member_event(
        &mut self,
        leg: &str,
        headers: Vec<(&'static str, String)>,
        id: u32,
        action: &'static str,
        cause: Option<String>,
    ) {
        let mut pre = vec![("Event-Subclass", SUBCLASS.to_string())];
        pre.extend(headers);
        pre.push(("Floor", "false".to_string()));
        let mut post = vec![
            ("Hear", "true".to_string()),
            ("See", "true".to_string()),
            ("Speak", "true".to_string()),
            ("Talking", "false".to_string()),
            ("Mute-Detect", "false".to_string()),
            ("Hold", "false".to_string()),
            ("Member-ID", id.to_string()),
            ("Member-Type", "member".to_string()),
            ("Member-Ghost", "false".to_string()),
            ("Energy-Level", "100".to_string()),
            ("Current-Energy", "0".to_string()),
        ];
        if let Some(cause) = cause {
            post.push(("Hangup-Cause", cause));
        }
        post.push(("Action", action.to_string()));
        self.chan_event(leg, "CUSTOM", &pre, &post);
    }

    /// The conferences in progress, for tests: name and members (leg, Member-ID).
    pub(crate) fn conference_members(&self, name: &str) -> Vec<(String, u32)> {
        self.conferences.members(name)
    }
}

fn conf_headers(name: &str, conf: &SimConference) -> Vec<(&'static str, String)> {
    vec![
        ("Conference-Name", name.to_owned()),
        ("Conference-Domain", super::HOST_IP.to_owned()),
        ("Conference-Size", conf.members.len().to_string()),
        ("Conference-Ghosts", "0".to_owned()),
        ("Conference-Profile-Name", conf.profile.clone()),
        ("Conference-Unique-ID", conf.uuid.clone()),
    ]
}
