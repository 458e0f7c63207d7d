//! Where a call arrives and what the dialplan runs before it parks, as the Batch 3
//! captures show (`switchboard-*`, `bridge-before-and-after-job`).
//!
//! The Batch 3 rig is a vanilla `make samples` switch with the project's files installed
//! (`dialplans/switchboard.xml` in `public/`, `dialplans/switchboard-features.xml` in
//! `default/`). A caller from outside comes in on the `external` profile (no `presence_id`,
//! so no PRESENCE_IN for its channel) and runs the stock `public` context: `set
//! outside_call=true`, `export RFC2822_DATE=${strftime(...)}` (the expansion fires an API event
//! `strftime` between the export's CHANNEL_EXECUTE and CHANNEL_EXECUTE_COMPLETE), then its
//! extension's `set`s, then `park`. A registered phone dials on `internal`
//! (`sofia/internal/<user>@<domain>`, `presence_id` `<user>@<domain>`) into the `default`
//! context, whose stock `global` extension runs three `hash insert`s and the same export
//! first. Every one of these applications is a CHANNEL_EXECUTE / CHANNEL_EXECUTE_COMPLETE pair
//! (`Application-Response: _none_`, the call still ringing), all before CHANNEL_PARK.
//!
//! The Batch 1-2 rig (`Dialplan::Bare`) had a bare `park` extension: callers come in on
//! `internal` into `public`, with a `presence_id`, and an entry point's variables are set
//! without any event.
//!
//! What no capture shows, and the simulator decides:
//! - a caller is a phone dialing when its number is one of the phones the simulator has
//!   (`add_phone`), registered or not (the switch authenticates a call against the directory,
//!   not the registration);
//! - a channel entering the dialplan again (`uuid_transfer`, a loopback leg) runs the stock
//!   preamble of the context it is sent to (`public` or `default`; none for any other context)
//!   before the extension, whether or not the extension is an entry point; `${domain_name}` of
//!   a channel that has none (an outside caller sent to `default`) expands to nothing;
//! - the `global` extension's 10 s `sleep` while `default_password` is `1234` is not modelled
//!   (the Batch 3 rig changed the password); nor is `${call_debug}`'s `info`.

use super::{new_uuid, App, Channel, Core, HOST_IP};
use crate::sim::wire;

/// What runs before an entry point's `set`s and `park`, and where callers arrive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Dialplan {
    /// The stock configuration with the project's dialplan files (the Batch 3 rig): outside
    /// callers arrive on the `external` profile in context `public` (`set outside_call=true`,
    /// `export RFC2822_DATE=…`); a phone's calls arrive on `internal` in context `default`
    /// (three `hash insert`s, the export). Each entry point variable is a `set` with its
    /// CHANNEL_EXECUTE / CHANNEL_EXECUTE_COMPLETE.
    #[default]
    Stock,
    /// A bare `park` extension (the Batch 1-2 rig): every caller arrives on `internal` in
    /// context `public`, and an entry point's variables are set without events.
    Bare,
}

/// Where an inbound call arrives.
pub(super) struct Arrival {
    /// The SIP profile: `internal` or `external`.
    pub(super) profile: &'static str,
    pub(super) context: &'static str,
    pub(super) name: String,
    pub(super) presence_id: Option<String>,
    /// A registered phone (directory user) places the call.
    pub(super) phone: bool,
}

/// The stock dialplan's `${strftime(...)}` argument for `RFC2822_DATE`.
const RFC2822_FORMAT: &str = "%a, %d %b %Y %T %z";

impl Core {
    /// Where a call from `caller` arrives; `from_uri` is `<caller>@<host>:<port>`.
    pub(super) fn arrival(&self, caller: &str, from_uri: &str) -> Arrival {
        let phone = self.dialplan == Dialplan::Stock && self.phones.contains_key(caller);
        match (self.dialplan, phone) {
            (Dialplan::Bare, _) => Arrival {
                profile: "internal",
                context: "public",
                name: format!("sofia/internal/{from_uri}"),
                presence_id: Some(format!("{caller}@{HOST_IP}")),
                phone: false,
            },
            (Dialplan::Stock, true) => Arrival {
                profile: "internal",
                context: "default",
                name: format!("sofia/internal/{caller}@{HOST_IP}"),
                presence_id: Some(format!("{caller}@{HOST_IP}")),
                phone: true,
            },
            (Dialplan::Stock, false) => Arrival {
                profile: "external",
                context: "public",
                name: format!("sofia/external/{from_uri}"),
                presence_id: None,
                phone: false,
            },
        }
    }

    /// The directory's variables on a call a phone places (its user's `user_context` is
    /// `default`).
    pub(super) fn directory_vars(c: &mut Channel, user: &str) {
        c.set_var("number_alias", user);
        c.set_var("requested_user_name", user);
        c.set_var("requested_domain_name", HOST_IP);
        c.set_var("user_context", "default");
        c.set_var("effective_caller_id_number", user);
        c.set_var("user_name", user);
        c.set_var("domain_name", HOST_IP);
    }

    /// The channel enters the dialplan at its destination: the stock extensions of its
    /// context (with `Dialplan::Stock`), then, for an entry point, its variables. Returns
    /// whether the destination is an entry point (the caller then parks).
    pub(super) fn enter_dialplan(&mut self, uuid: &str) -> bool {
        let Some(ch) = self.channels.get(uuid) else {
            return false;
        };
        let destination = ch.profile.destination.clone();
        if self.dialplan == Dialplan::Stock {
            let context = ch.profile.context.clone();
            self.stock_extensions(uuid, &context);
        }
        let Some(vars) = self.entry_points.get(&destination).cloned() else {
            return false;
        };
        for (k, v) in vars {
            match self.dialplan {
                Dialplan::Stock => {
                    let arg = format!("{k}={v}");
                    self.dialplan_app(uuid, "set", &arg, |c| c.set_var(&k, v));
                }
                Dialplan::Bare => self.with_chan(uuid, |c| c.set_var(&k, v)),
            }
        }
        true
    }

    /// The stock `public.xml` (`outside_call`) or `default.xml` (`global`) extension.
    fn stock_extensions(&mut self, uuid: &str, context: &str) {
        let Some(ch) = self.channels.get(uuid) else {
            return;
        };
        match context {
            "public" => {
                self.dialplan_app(uuid, "set", "outside_call=true", |c| {
                    c.set_var("outside_call", "true")
                });
            }
            "default" => {
                let domain = ch.var("domain_name").unwrap_or("").to_string();
                let number = ch.profile.cid_number.clone();
                let destination = ch.profile.destination.clone();
                for data in [
                    format!("insert/{domain}-spymap/{number}/{uuid}"),
                    format!("insert/{domain}-last_dial/{number}/{destination}"),
                    format!("insert/{domain}-last_dial/global/{uuid}"),
                ] {
                    self.dialplan_app(uuid, "hash", &data, |_| {});
                }
            }
            _ => return,
        }
        self.export_date(uuid);
    }

    /// `export RFC2822_DATE=${strftime(%a, %d %b %Y %T %z)}`: the expansion runs the
    /// `strftime` API (its API event comes between the export's two events).
    fn export_date(&mut self, uuid: &str) {
        let gmt = wire::date_gmt(self.now_us());
        let date = match gmt.strip_suffix(" GMT") {
            Some(d) => format!("{d} +0000"),
            None => gmt,
        };
        let arg = format!("RFC2822_DATE={date}");
        let app = self.dialplan_execute(uuid, "export", &arg);
        let seq = self.next_seq();
        self.api_event(seq, "strftime", RFC2822_FORMAT);
        self.with_chan(uuid, |c| {
            c.set_var("RFC2822_DATE", date);
            let exported = match c.var("export_vars") {
                Some(v) if !v.split(',').any(|n| n == "RFC2822_DATE") => {
                    format!("{v},RFC2822_DATE")
                }
                Some(v) => v.to_string(),
                None => "RFC2822_DATE".to_string(),
            };
            c.set_var("export_vars", exported);
        });
        self.complete_app(uuid, &app, None);
    }

    /// One dialplan application that does its work at once (`set`, `hash`): CHANNEL_EXECUTE,
    /// `effect`, CHANNEL_EXECUTE_COMPLETE (`_none_`).
    pub(super) fn dialplan_app(
        &mut self,
        uuid: &str,
        name: &str,
        arg: &str,
        effect: impl FnOnce(&mut Channel),
    ) {
        let app = self.dialplan_execute(uuid, name, arg);
        self.with_chan(uuid, effect);
        self.complete_app(uuid, &app, None);
    }

    /// CHANNEL_EXECUTE of a dialplan application (not one on top of park: nothing of the
    /// channel's running applications or queued messages changes).
    pub(super) fn dialplan_execute(&mut self, uuid: &str, name: &str, arg: &str) -> App {
        let app = App {
            name: name.to_string(),
            arg: arg.to_string(),
            uuid: new_uuid(),
        };
        self.with_chan(uuid, |c| {
            c.vars.retain(|(k, _)| k != "current_application_response");
            c.set_var("current_application_data", arg);
            c.set_var("current_application", name);
        });
        let post = [
            ("Application", app.name.clone()),
            ("Application-Data", app.arg.clone()),
            ("Application-UUID", app.uuid.clone()),
        ];
        self.chan_event(uuid, "CHANNEL_EXECUTE", &[], &post);
        self.changed = true;
        app
    }
}
