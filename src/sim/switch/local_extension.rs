//! The stock dialplan's way to a phone (`10xx`), for a caller transferred there
//! (`phone-blind-transfer` part B): in `public`, `public_extensions` runs `transfer <user> XML
//! default`; in `default`, `Local_Extension` runs its `export`/`bind_meta_app`/`set`/`hash`
//! applications (each a CHANNEL_EXECUTE / CHANNEL_EXECUTE_COMPLETE pair), then `bridge
//! user/<user>@<domain>`: the caller goes RING_WAIT and a new leg D rings the phone, carrying
//! `Other-Leg-Unique-ID` = the caller and `originating_leg_uuid` from its creation on. When the
//! phone answers, the caller gets CHANNEL_BRIDGE (Bridge-A = caller, Bridge-B = D); with
//! `hangup_after_bridge=true`, the caller is hung up when D hangs up.
//!
//! A phone's own call to another phone (the consultation call `B` of `phone-attended-transfer`)
//! takes the same way from `default`; it is answered when the phone it rings answers (the
//! capture's early media on `B` while `D` rings is not modelled).
//!
//! What the simulator decides where the capture is silent: only a phone that answers is
//! bridged this way (a busy, rejecting or unregistered phone falls back to the other
//! extensions' answer and silence; the stock voicemail after `continue_on_fail` is not
//! modelled); the `bridge` application's CHANNEL_EXECUTE_COMPLETE is fired only for a
//! replaced consultation (`refer`), not when the bridge ends by a hangup.

use super::dialplan::Dialplan;
use super::{new_uuid, Channel, Core, Dir, Profile, HOST_IP};
use crate::sim::PhoneBehavior;

/// The vanilla directory's `callgroup` of users 1000-1019.
const CALLGROUP: &str = "techsupport";

impl Core {
    /// Runs the stock way to phone `destination` if the channel's destination is a phone the
    /// simulator has (and that answers). Returns false when it is not one.
    pub(super) fn bridge_to_phone(&mut self, uuid: &str) -> bool {
        if self.dialplan != Dialplan::Stock {
            return false;
        }
        let Some(ch) = self.channels.get(uuid) else {
            return false;
        };
        let user = ch.profile.destination.clone();
        let context = ch.profile.context.clone();
        let answers = self.phones.get(&user).map(|p| p.effective_behavior());
        let Some(PhoneBehavior::Answer { after }) = answers else {
            return false;
        };
        if context == "public" {
            let data = format!("{user} XML default");
            let app = self.dialplan_execute(uuid, "transfer", &data);
            self.new_transfer_profile(uuid, &user, "XML", "default");
            self.complete_app(uuid, &app, None);
            self.route(uuid);
            self.set_callstate(uuid, "ACTIVE");
            self.set_state(uuid, "CS_EXECUTE", 4);
        }
        self.local_extension(uuid, &user);
        let bridge = format!("user/{user}@{HOST_IP}");
        let app = self.dialplan_execute(uuid, "bridge", &bridge);
        self.with_chan(uuid, |c| c.app = Some(app));
        self.set_callstate(uuid, "RING_WAIT");
        let leg = self.bridge_leg(uuid, &user);
        self.timer(after, super::Timer::PhoneAnswer(leg));
        true
    }

    /// `Local_Extension` of the vanilla `default.xml`, up to its `bridge`.
    fn local_extension(&mut self, uuid: &str, user: &str) {
        let Some(ch) = self.channels.get(uuid) else {
            return;
        };
        let number = ch.profile.cid_number.clone();
        let stamp = jiff::Timestamp::from_microsecond(i64::try_from(self.now_us()).unwrap_or(0))
            .map(|t| t.strftime("%Y-%m-%d-%H-%M-%S").to_string())
            .unwrap_or_default();
        let recordings = "/opt/switch/freeswitch/var/lib/freeswitch/recordings";
        let apps: [(&str, String); 16] = [
            ("export", format!("dialed_extension={user}")),
            (
                "bind_meta_app",
                "1 b s execute_extension::dx XML features".into(),
            ),
            (
                "bind_meta_app",
                format!("2 b s record_session::{recordings}/{number}.{stamp}.wav"),
            ),
            (
                "bind_meta_app",
                "3 b s execute_extension::cf XML features".into(),
            ),
            (
                "bind_meta_app",
                "4 b s execute_extension::att_xfer XML features".into(),
            ),
            ("set", "ringback=%(2000,4000,440,480)".into()),
            ("set", "transfer_ringback=local_stream://moh".into()),
            ("set", "call_timeout=30".into()),
            ("set", "hangup_after_bridge=true".into()),
            ("set", "continue_on_fail=true".into()),
            (
                "hash",
                format!("insert/{HOST_IP}-call_return/{user}/{number}"),
            ),
            (
                "hash",
                format!("insert/{HOST_IP}-last_dial_ext/{user}/{uuid}"),
            ),
            ("set", format!("called_party_callgroup={CALLGROUP}")),
            (
                "hash",
                format!("insert/{HOST_IP}-last_dial_ext/{CALLGROUP}/{uuid}"),
            ),
            (
                "hash",
                format!("insert/{HOST_IP}-last_dial_ext/global/{uuid}"),
            ),
            (
                "hash",
                format!("insert/{HOST_IP}-last_dial/{CALLGROUP}/{uuid}"),
            ),
        ];
        for (name, data) in &apps {
            let set = match (*name, data.split_once('=')) {
                ("set" | "export", Some((k, v))) => Some((k.to_string(), v.to_string())),
                _ => None,
            };
            self.dialplan_app(uuid, name, data, |c| {
                if let Some((k, v)) = set {
                    c.set_var(&k, v);
                }
            });
        }
    }

    /// The `bridge` application's leg to the phone: created and ringing.
    fn bridge_leg(&mut self, caller: &str, user: &str) -> String {
        let uuid = new_uuid();
        let (cid_name, cid_number) = self
            .channels
            .get(caller)
            .map(|c| (c.profile.cid_name.clone(), c.profile.cid_number.clone()))
            .unwrap_or_default();
        let name = format!("sofia/internal/{user}@{HOST_IP}");
        let now = self.now_us();
        let profile = Profile {
            username: None,
            dialplan: None,
            cid_name: cid_name.clone(),
            cid_number: cid_number.clone(),
            orig_cid_name: cid_name,
            orig_cid_number: cid_number.clone(),
            callee_name: Some("Outbound Call".to_string()),
            callee_number: Some(user.to_string()),
            network_addr: None,
            ani: cid_number,
            destination: user.to_string(),
            source: "mod_sofia",
            transfer_source: None,
            context: "default".to_string(),
            index: 1,
            created_us: now,
        };
        let mut ch = Channel {
            phone: Some(user.to_string()),
            other_leg: Some(caller.to_string()),
            ..Channel::new(&uuid, name.clone(), Dir::Outbound, profile)
        };
        self.session_id += 1;
        self.sessions_since_startup += 1;
        for (k, v) in [
            ("direction", "outbound".to_string()),
            ("is_outbound", "true".to_string()),
            ("uuid", uuid.clone()),
            ("call_uuid", caller.to_string()),
            ("session_id", self.session_id.to_string()),
            ("sip_profile_name", "internal".to_string()),
            ("channel_name", name),
            ("dialed_user", user.to_string()),
            ("dialed_domain", HOST_IP.to_string()),
            ("originator", caller.to_string()),
            ("originating_leg_uuid", caller.to_string()),
            ("signal_bond", caller.to_string()),
        ] {
            ch.set_var(k, v);
        }
        self.channels.insert(uuid.clone(), ch);
        self.changed = true;
        self.chan_event(&uuid, "CHANNEL_OUTGOING", &[], &[]);
        self.set_state(&uuid, "CS_INIT", 1);
        self.with_chan(&uuid, |c| c.state_num = 2);
        self.chan_event(&uuid, "CHANNEL_CREATE", &[], &[]);
        self.chan_event(&uuid, "CHANNEL_ORIGINATE", &[], &[]);
        self.set_state(&uuid, "CS_ROUTING", 2);
        self.set_state(&uuid, "CS_CONSUME_MEDIA", 7);
        self.ring(&uuid);
        uuid
    }

    /// The phone answered a `bridge` application's leg: the caller is bridged to it. False
    /// for any other leg.
    pub(super) fn bridge_leg_answered(&mut self, leg: &str) -> bool {
        let Some(caller) = self.channels.get(leg).and_then(|c| {
            if c.job.is_some() {
                None
            } else {
                c.var("originating_leg_uuid").map(str::to_string)
            }
        }) else {
            return false;
        };
        let live = self
            .channels
            .get(&caller)
            .is_some_and(|c| c.hangup_cause.is_none() && c.bridged_to.is_none());
        if !live {
            self.hangup(leg, "ORIGINATOR_CANCEL", super::Initiator::Local, None);
            return true;
        }
        // A phone's own call (a consultation) is answered when the phone it rings answers.
        self.answer_inbound(&caller);
        self.set_callstate(&caller, "ACTIVE");
        self.dialplan_bridged(&caller, leg);
        true
    }

    /// The `bridge` application joins the caller (A) and its leg (B): CHANNEL_BRIDGE on A only.
    pub(super) fn dialplan_bridged(&mut self, a: &str, b: &str) {
        let now = self.now_us();
        let name_of = |core: &Core, u: &str| {
            core.channels
                .get(u)
                .map(|c| c.name.clone())
                .unwrap_or_default()
        };
        let (a_name, b_name) = (name_of(self, a), name_of(self, b));
        self.counters
            .bridged
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        for (me, other, other_name, is_a) in [(a, b, &b_name, true), (b, a, &a_name, false)] {
            let source = format!("{}:{}:uuid_br:{other}", now / 1_000_000, new_uuid());
            self.with_chan(me, |c| {
                c.other_leg = Some(other.to_string());
                c.bridged_to = Some(other.to_string());
                c.bridge_a = is_a;
                c.bridged_us = now;
                c.set_var("bridge_channel", other_name.clone());
                c.set_var("bridge_uuid", other);
                c.set_var("signal_bond", other);
                c.push_transfer(source);
            });
        }
        for (me, other) in [(a, b), (b, a)] {
            let mut snap = self.channels.get(other).cloned().map(Box::new);
            if let Some(s) = snap.as_mut() {
                s.other_snap = None;
                s.vars = Vec::new();
            }
            self.with_chan(me, |c| c.other_snap = snap);
        }
        self.recordings_hear_media(a);
        self.recordings_hear_media(b);
        self.chan_event(
            a,
            "CHANNEL_BRIDGE",
            &[
                ("Bridge-A-Unique-ID", a.to_string()),
                ("Bridge-B-Unique-ID", b.to_string()),
            ],
            &[],
        );
        self.set_state(b, "CS_EXCHANGE_MEDIA", 5);
        self.changed = true;
    }
}
