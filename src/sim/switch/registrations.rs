//! Phone registrations (mod_sofia's `internal` profile): REGISTER, REGISTER with
//! `Expires: 0`, and the registration thread expiring a phone that went silent. Emits the
//! events of the `register` capture (CUSTOM `sofia::*`, MESSAGE_QUERY, PRESENCE_IN) and
//! answers `show registrations`.

use std::time::Duration;

use super::{Core, Phone, HOST_IP};
use crate::sim::endpoints::PhoneBehavior;
use crate::sim::wire::{self, Event};

/// `network-port` of the first phone added; later phones get the next ports.
pub(super) const FIRST_PHONE_PORT: u16 = 5081;
/// `Expires` the simulated phones register with (the capture's sipp phone used 120).
const REGISTER_EXPIRES: u64 = 120;
/// mod_sofia's default `sip-expires-late-margin`: a registration is kept (and shown) this
/// long past its `Expires`.
const EXPIRES_LATE_MARGIN: u64 = 60;
const PROFILE: &str = "internal";
const USER_AGENT: &str = "switchboard-sim-phone";
const REG_FILE: &str = "sofia_reg.c";
const REG_TOKEN_FN: &str = "sofia_reg_handle_register_token";

/// One phone's SIP registration state.
#[derive(Clone, Debug)]
pub(super) struct Registration {
    pub(super) registered: bool,
    /// When the current registration was made (switch clock, µs).
    pub(super) registered_us: u64,
    /// Whether the switch has seen a REGISTER from this phone (MWI query only on the first).
    queried_mwi: bool,
    call_id: String,
    port: u16,
}

impl Phone {
    /// What an INVITE to this phone does right now.
    pub(super) fn effective_behavior(&self) -> PhoneBehavior {
        if self.reg.registered {
            self.behavior.clone()
        } else {
            PhoneBehavior::Unregistered
        }
    }
}

/// The user's directory variables as the vanilla directory has them, in the capture's order.
fn directory_variables(user: &str) -> Vec<(&'static str, String)> {
    vec![
        ("sip_number_alias", user.to_string()),
        ("sip_auth_username", user.to_string()),
        ("sip_auth_realm", HOST_IP.to_string()),
        ("number_alias", user.to_string()),
        ("user_name", user.to_string()),
        ("domain_name", HOST_IP.to_string()),
        ("record_stereo", "true".to_string()),
        ("default_areacode", "918".to_string()),
        ("transfer_fallback_extension", "operator".to_string()),
        ("toll_allow", "domestic,international,local".to_string()),
        ("accountcode", user.to_string()),
        ("user_context", "default".to_string()),
        ("effective_caller_id_name", format!("Extension {user}")),
        ("effective_caller_id_number", user.to_string()),
        ("outbound_caller_id_name", "FreeSWITCH".to_string()),
        ("outbound_caller_id_number", "0000000000".to_string()),
        ("callgroup", "techsupport".to_string()),
    ]
}

/// A snapshot of what the events need about one phone.
struct RegView {
    user: String,
    call_id: String,
    port: String,
    contact: String,
}

impl Core {
    /// A phone as `add_phone` creates it: registered (silently) unless its behaviour is
    /// `Unregistered`, in which case it rings without answering once it registers.
    pub(super) fn new_phone(
        &mut self,
        behavior: PhoneBehavior,
        hangup_after_talk: Option<Duration>,
    ) -> Phone {
        let port = self.next_phone_port;
        self.next_phone_port = self.next_phone_port.wrapping_add(1).max(1024);
        self.next_token += 1;
        let registered = behavior != PhoneBehavior::Unregistered;
        let behavior = if registered {
            behavior
        } else {
            PhoneBehavior::NoAnswer
        };
        Phone {
            behavior,
            hangup_after_talk,
            reg: Registration {
                registered,
                registered_us: self.now_us(),
                queried_mwi: registered,
                call_id: format!("{}-{}@{HOST_IP}", self.next_token, port),
                port,
            },
        }
    }

    fn reg_view(&self, user: &str) -> Option<RegView> {
        let p = self.phones.get(user)?;
        Some(RegView {
            user: user.to_string(),
            call_id: p.reg.call_id.clone(),
            port: p.reg.port.to_string(),
            contact: format!("\"\" <sip:{user}@{HOST_IP}:{}>", p.reg.port),
        })
    }

    /// Fires an event with an explicit origin; CUSTOM events get `Event-Subclass` first.
    fn fire_from(
        &mut self,
        name: &'static str,
        subclass: Option<&'static str>,
        seq: u64,
        origin: (&'static str, &'static str, &'static str),
        build: impl FnOnce(&mut Event),
    ) {
        let bit = super::event_bit(name).unwrap_or(0);
        if !self.wanted(bit) {
            return;
        }
        let mut ev = self.base_event(name, seq, origin);
        if let Some(sub) = subclass {
            ev.headers
                .insert(0, ("Event-Subclass".into(), sub.to_string()));
        }
        build(&mut ev);
        self.dispatch(bit, &ev);
    }

    /// `sofia::pre_register` then `sofia::register_attempt` (`auth-result: RENEWED`), as
    /// for every REGISTER; the sequence number in between goes to an event nobody sees.
    fn register_preamble(&mut self, r: &RegView, expires: &str) {
        let seq = self.next_seq();
        let common = |ev: &mut Event| {
            ev.add("profile-name", PROFILE);
            ev.add("from-user", r.user.clone());
            ev.add("from-host", HOST_IP);
            ev.add("contact", r.contact.clone());
            ev.add("call-id", r.call_id.clone());
            ev.add("rpid", "unknown");
            ev.add("status", "Registered(UDP)");
            ev.add("expires", expires);
            ev.add("to-user", r.user.clone());
            ev.add("to-host", HOST_IP);
            ev.add("network-ip", HOST_IP);
            ev.add("network-port", r.port.clone());
        };
        self.fire_from(
            "CUSTOM",
            Some("sofia::pre_register"),
            seq,
            (REG_FILE, REG_TOKEN_FN, "1810"),
            |ev| {
                common(ev);
                ev.add("user-agent", USER_AGENT);
            },
        );
        self.next_seq();
        let seq = self.next_seq();
        self.fire_from(
            "CUSTOM",
            Some("sofia::register_attempt"),
            seq,
            (REG_FILE, REG_TOKEN_FN, "1606"),
            |ev| {
                common(ev);
                ev.add("username", r.user.clone());
                ev.add("realm", HOST_IP);
                ev.add("user-agent", USER_AGENT);
                ev.add("auth-result", "RENEWED");
            },
        );
    }

    /// The phone sends REGISTER (`Expires: 120`): pre_register, register_attempt,
    /// `sofia::register` and, on its very first REGISTER, MESSAGE_QUERY. False if there is
    /// no such phone.
    pub(crate) fn register_phone(&mut self, user: &str) -> bool {
        let Some(r) = self.reg_view(user) else {
            return false;
        };
        let expires = REGISTER_EXPIRES.to_string();
        self.register_preamble(&r, &expires);
        let seq = self.next_seq();
        self.fire_from(
            "CUSTOM",
            Some("sofia::register"),
            seq,
            (REG_FILE, REG_TOKEN_FN, "2059"),
            |ev| {
                ev.add("profile-name", PROFILE);
                ev.add("from-user", r.user.clone());
                ev.add("from-host", HOST_IP);
                ev.add("presence-hosts", HOST_IP);
                ev.add("contact", r.contact.clone());
                ev.add("call-id", r.call_id.clone());
                ev.add("rpid", "unknown");
                ev.add("status", "Registered(UDP)");
                ev.add("expires", expires.clone());
                ev.add("to-user", r.user.clone());
                ev.add("to-host", HOST_IP);
                ev.add("network-ip", HOST_IP);
                ev.add("network-port", r.port.clone());
                ev.add("username", r.user.clone());
                ev.add("realm", HOST_IP);
                ev.add("user-agent", USER_AGENT);
                for (k, v) in directory_variables(&r.user) {
                    ev.add(k, v);
                }
            },
        );
        let now = self.now_us();
        let first = match self.phones.get_mut(user) {
            Some(p) => {
                p.reg.registered = true;
                p.reg.registered_us = now;
                !std::mem::replace(&mut p.reg.queried_mwi, true)
            }
            None => false,
        };
        if first {
            let seq = self.next_seq();
            self.fire_from(
                "MESSAGE_QUERY",
                None,
                seq,
                (REG_FILE, REG_TOKEN_FN, "2168"),
                |ev| {
                    ev.add("Message-Account", format!("sip:{}@{HOST_IP}", r.user));
                    ev.add("VM-Sofia-Profile", PROFILE);
                    ev.add("VM-Call-ID", r.call_id.clone());
                },
            );
        }
        self.changed = true;
        true
    }

    /// The phone sends REGISTER with `Expires: 0`: pre_register, register_attempt,
    /// PRESENCE_IN (`status: Unregistered`), `sofia::unregister`. False (and nothing
    /// happens) if there is no such phone or it is not registered.
    pub(crate) fn unregister_phone(&mut self, user: &str) -> bool {
        if !self.phones.get(user).is_some_and(|p| p.reg.registered) {
            return false;
        }
        let Some(r) = self.reg_view(user) else {
            return false;
        };
        self.register_preamble(&r, "0");
        let seq = self.next_seq();
        self.fire_from(
            "PRESENCE_IN",
            None,
            seq,
            (REG_FILE, REG_TOKEN_FN, "2103"),
            |ev| {
                ev.add("proto", "sip");
                ev.add("rpid", "unknown");
                ev.add("login", format!("sip:mod_sofia@{HOST_IP}:5060"));
                ev.add("user-agent", USER_AGENT);
                ev.add("from", format!("{}@{HOST_IP}", r.user));
                ev.add("status", "Unregistered");
                ev.add("presence-source", "register");
                ev.add("event_type", "presence");
            },
        );
        let seq = self.next_seq();
        self.fire_from(
            "CUSTOM",
            Some("sofia::unregister"),
            seq,
            (REG_FILE, REG_TOKEN_FN, "2213"),
            |ev| {
                ev.add("profile-name", PROFILE);
                ev.add("username", r.user.clone());
                ev.add("from-user", r.user.clone());
                ev.add("from-host", HOST_IP);
                ev.add("contact", r.contact.clone());
                ev.add("call-id", r.call_id.clone());
                ev.add("rpid", "unknown");
                ev.add("realm", HOST_IP);
                ev.add("network-ip", HOST_IP);
                ev.add("network-port", r.port.clone());
                ev.add("user-agent", USER_AGENT);
                ev.add("expires", "0");
                for (k, v) in directory_variables(&r.user) {
                    ev.add(k, v);
                }
            },
        );
        if let Some(p) = self.phones.get_mut(user) {
            p.reg.registered = false;
        }
        self.changed = true;
        true
    }

    /// The registration thread drops the phone's registration (it stopped refreshing):
    /// `sofia::expire` (`expires` = the absolute time it was due, Expires + late margin),
    /// then PRESENCE_IN (`rpid: away`). False (nothing happens) if the phone is unknown or
    /// not registered.
    pub(crate) fn expire_phone(&mut self, user: &str) -> bool {
        let due = match self.phones.get(user) {
            Some(p) if p.reg.registered => {
                p.reg.registered_us / 1_000_000 + REGISTER_EXPIRES + EXPIRES_LATE_MARGIN
            }
            _ => return false,
        };
        let Some(r) = self.reg_view(user) else {
            return false;
        };
        let seq = self.next_seq();
        self.fire_from(
            "CUSTOM",
            Some("sofia::expire"),
            seq,
            (REG_FILE, "sofia_reg_del_callback", "726"),
            |ev| {
                ev.add("profile-name", PROFILE);
                ev.add("call-id", r.call_id.clone());
                ev.add("user", r.user.clone());
                ev.add("username", r.user.clone());
                ev.add("host", HOST_IP);
                ev.add("contact", r.contact.clone());
                ev.add("expires", due.to_string());
                ev.add("user-agent", USER_AGENT);
                ev.add("realm", HOST_IP);
                ev.add("network-ip", HOST_IP);
                ev.add("network-port", r.port.clone());
            },
        );
        let seq = self.next_seq();
        self.fire_from(
            "PRESENCE_IN",
            None,
            seq,
            (REG_FILE, "sofia_reg_del_callback", "741"),
            |ev| {
                ev.add("proto", "sip");
                ev.add("rpid", "away");
                ev.add("login", format!("sip:mod_sofia@{HOST_IP}:5060"));
                // Sic: the switch puts the old status where the user agent belongs.
                ev.add("user-agent", "Registered(UDP)");
                ev.add("from", format!("{}@{HOST_IP}", r.user));
                ev.add("status", "Unregistered");
                ev.add("event_type", "presence");
            },
        );
        if let Some(p) = self.phones.get_mut(user) {
            p.reg.registered = false;
        }
        self.changed = true;
        true
    }

    /// Whether `user` is registered; `None` for an unknown phone.
    pub(crate) fn phone_registered(&self, user: &str) -> Option<bool> {
        self.phones.get(user).map(|p| p.reg.registered)
    }

    /// `show registrations [as json]`: one row per registered phone, by user.
    pub(super) fn show_registrations(&self, arg: &str) -> String {
        let json = arg
            .split_whitespace()
            .collect::<Vec<_>>()
            .ends_with(&["as", "json"]);
        let mut users: Vec<(&String, &Phone)> = self
            .phones
            .iter()
            .filter(|(_, p)| p.reg.registered)
            .collect();
        users.sort_by(|a, b| a.0.cmp(b.0));
        let rows: Vec<Vec<(&str, String)>> = users
            .iter()
            .map(|(user, p)| {
                let expires =
                    p.reg.registered_us / 1_000_000 + REGISTER_EXPIRES + EXPIRES_LATE_MARGIN;
                vec![
                    ("reg_user", user.to_string()),
                    ("realm", HOST_IP.to_string()),
                    ("token", p.reg.call_id.clone()),
                    (
                        "url",
                        format!("sofia/{PROFILE}/sip:{user}@{HOST_IP}:{}", p.reg.port),
                    ),
                    ("expires", expires.to_string()),
                    ("network_ip", HOST_IP.to_string()),
                    ("network_port", p.reg.port.to_string()),
                    ("network_proto", "udp".to_string()),
                    ("hostname", self.hostname.clone()),
                    ("metadata", String::new()),
                ]
            })
            .collect();
        if json {
            if rows.is_empty() {
                return "{\"row_count\": 0}\n".to_string();
            }
            let mut out = Vec::with_capacity(300 * rows.len());
            out.extend_from_slice(format!("{{\"row_count\":{},\"rows\":[", rows.len()).as_bytes());
            for (i, row) in rows.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.push(b'{');
                for (j, (k, v)) in row.iter().enumerate() {
                    if j > 0 {
                        out.push(b',');
                    }
                    wire::json_string_into(&mut out, k);
                    out.push(b':');
                    wire::json_string_into(&mut out, v);
                }
                out.push(b'}');
            }
            out.extend_from_slice(b"]}");
            return String::from_utf8_lossy(&out).into_owned();
        }
        let mut out = String::new();
        let names: Vec<&str> = [
            "reg_user",
            "realm",
            "token",
            "url",
            "expires",
            "network_ip",
            "network_port",
            "network_proto",
            "hostname",
            "metadata",
        ]
        .to_vec();
        out.push_str(&names.join(","));
        out.push('\n');
        for row in &rows {
            let vals: Vec<&str> = row.iter().map(|(_, v)| v.as_str()).collect();
            out.push_str(&vals.join(","));
            out.push('\n');
        }
        out.push_str(&format!("\n{} total.\n", rows.len()));
        out
    }
}
