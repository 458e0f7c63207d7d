//! `sofia/gateway/<name>/<user>` between two simulators: how one switch reaches a phone
//! registered on another (the controller's `[switch.reach]` routes).
//!
//! No capture shows a gateway call, so this model is minimal and assumed throughout:
//! - an originate naming a gateway no simulator is linked under fails at once with
//!   `-ERR INVALID_GATEWAY` and no channel (FreeSWITCH's sofia refuses an unknown gateway
//!   before the session is set up);
//! - on the originating switch (A) the leg is an outbound `sofia/…` channel as for a direct
//!   SIP URI; it rings (CHANNEL_PROGRESS) when the far phone rings, answers when it answers,
//!   and its originate returns as for any answered `sofia/…` leg;
//! - the far switch runs the shipped `dialplans/switchboard-reach.xml`: a called number
//!   `switchboard-<user>` rings `<user>` (a bare `<user>` does too);
//! - on the far switch (B) the call is one inbound channel, `sofia/external/<caller>@…`
//!   (`dialed_user` = the called user), standing for both B's inbound leg and the leg its
//!   dialplan bridges to the phone: it rings and answers with the phone's behaviour and hangs
//!   up when the phone's talk time ends;
//! - failures before an answer reach A as the SIP status B's bridge would answer, mapped
//!   the way the `originate-failures` capture maps them: a phone not registered on B gives
//!   480 (`NO_USER_RESPONSE` on A), busy 486 (`USER_BUSY`), a rejection 603
//!   (`CALL_REJECTED`); B then makes no channel. A phone that never answers rings until A's
//!   `originate_timeout` (`NO_ANSWER` on A, `ORIGINATOR_CANCEL` on B);
//! - a hangup on either side hangs up the other (`NORMAL_CLEARING`, or `ORIGINATOR_CANCEL`
//!   for B's unanswered channel), as a BYE or CANCEL would.
//!
//! The two cores never lock each other: what one side tells the other is queued here and
//! delivered by `Shared` once the sender's lock is released.

use std::collections::{HashMap, HashSet};
use std::sync::Weak;

use super::{new_uuid, Channel, Core, Dir, Initiator, Profile, Shared, Timer, HOST_IP};
use crate::sim::endpoints::PhoneBehavior;

/// `sofia/gateway/<name>/<user>` -> (name, user); None for any other endpoint.
pub(super) fn parse(dial: &str) -> Option<(String, String)> {
    let rest = dial.strip_prefix("sofia/gateway/")?;
    let (name, user) = rest.split_once('/')?;
    let user = user.split('@').next().unwrap_or_default();
    (!name.is_empty() && !user.is_empty()).then(|| (name.to_owned(), user.to_owned()))
}

/// What `dialplans/switchboard-reach.xml` expects before the user.
const REACH_PREFIX: &str = "switchboard-";

/// What one switch tells the other about a gateway call, keyed by A's leg.
#[derive(Debug, Clone)]
pub(crate) enum Msg {
    /// A to B: an INVITE for `user`.
    Invite {
        leg: String,
        user: String,
        cid_number: String,
        cid_name: Option<String>,
    },
    /// B to A: the phone rings (180).
    Ringing { leg: String },
    /// B to A: the phone answered (200).
    Answered { leg: String },
    /// B to A: the call failed before an answer, with B's SIP status.
    Failed {
        leg: String,
        cause: &'static str,
        status: &'static str,
        phrase: &'static str,
    },
    /// Either way: the other side hung up (BYE or CANCEL).
    Bye { leg: String },
}

/// Where a message goes.
pub(crate) enum Dest {
    /// The simulator linked under this gateway name.
    Gateway(String),
    /// The simulator a call came from.
    Peer(Weak<Shared>),
}

/// One switch's gateways and the calls crossing them.
#[derive(Default)]
pub(crate) struct Gateways {
    /// Gateway names linked to another simulator.
    names: HashSet<String>,
    /// A side: our leg -> the gateway it went out through.
    outgoing: HashMap<String, String>,
    /// B side: our channel -> (A's leg, A's switch).
    incoming: HashMap<String, (String, Weak<Shared>)>,
    /// B side: A's leg -> our channel.
    by_leg: HashMap<String, String>,
    outbox: Vec<(Dest, Msg)>,
}

impl Gateways {
    pub(crate) fn link(&mut self, name: &str) {
        self.names.insert(name.to_owned());
    }

    /// A restarted switch has no calls: the links stay, the calls across them are forgotten
    /// (the other side hears nothing, as after a crash).
    pub(crate) fn forget_calls(&mut self) {
        self.outgoing.clear();
        self.incoming.clear();
        self.by_leg.clear();
    }

    pub(crate) fn take_outbox(&mut self) -> Vec<(Dest, Msg)> {
        std::mem::take(&mut self.outbox)
    }
}

impl Core {
    /// Checks the gateway of an originate before any channel exists.
    pub(super) fn gateway_known(&self, name: &str) -> Result<(), String> {
        if self.gateways.names.contains(name) {
            Ok(())
        } else {
            Err("-ERR INVALID_GATEWAY\n".to_owned())
        }
    }

    /// A: the leg `uuid` (already created) calls `user` through gateway `name`.
    pub(super) fn gateway_invite(&mut self, uuid: &str, name: &str, user: &str) {
        let Some(ch) = self.channels.get(uuid) else {
            return;
        };
        let msg = Msg::Invite {
            leg: uuid.to_owned(),
            user: user.to_owned(),
            cid_number: ch.profile.cid_number.clone(),
            cid_name: ch.profile.cid_name.clone(),
        };
        self.gateways
            .outgoing
            .insert(uuid.to_owned(), name.to_owned());
        self.gateways
            .outbox
            .push((Dest::Gateway(name.to_owned()), msg));
    }

    /// Whether `uuid` is B's side of a gateway call (it answers as its phone does, but runs
    /// no originate of ours).
    pub(super) fn is_gateway_incoming(&self, uuid: &str) -> bool {
        self.gateways.incoming.contains_key(uuid)
    }

    /// A message from the other switch.
    pub(crate) fn gateway_in(&mut self, from: Weak<Shared>, msg: Msg) {
        if !self.up {
            return;
        }
        match msg {
            Msg::Invite {
                leg,
                user,
                cid_number,
                cid_name,
            } => self.gateway_incoming(from, leg, &user, cid_number, cid_name),
            Msg::Ringing { leg } => {
                if self.gateways.outgoing.contains_key(&leg) {
                    self.ring(&leg);
                }
            }
            Msg::Answered { leg } => {
                if self.gateways.outgoing.contains_key(&leg) {
                    self.phone_answer(&leg);
                }
            }
            Msg::Failed {
                leg,
                cause,
                status,
                phrase,
            } => {
                if self.gateways.outgoing.remove(&leg).is_some() {
                    self.timer(
                        std::time::Duration::from_millis(20),
                        Timer::LegFail {
                            uuid: leg,
                            cause,
                            status,
                            phrase,
                        },
                    );
                }
            }
            Msg::Bye { leg } => {
                if self.gateways.outgoing.remove(&leg).is_some() {
                    self.hangup(&leg, "NORMAL_CLEARING", Initiator::Remote, None);
                } else if let Some(ours) = self.gateways.by_leg.remove(&leg) {
                    self.gateways.incoming.remove(&ours);
                    let answered = self.channels.get(&ours).is_some_and(|c| c.answered_us != 0);
                    let cause = if answered {
                        "NORMAL_CLEARING"
                    } else {
                        "ORIGINATOR_CANCEL"
                    };
                    self.hangup(&ours, cause, Initiator::Remote, None);
                }
            }
        }
    }

    /// B: an INVITE for `user` from the switch `from`.
    fn gateway_incoming(
        &mut self,
        from: Weak<Shared>,
        leg: String,
        user: &str,
        cid_number: String,
        cid_name: Option<String>,
    ) {
        let user = user.strip_prefix(REACH_PREFIX).unwrap_or(user);
        let behavior = self
            .phones
            .get(user)
            .map_or(PhoneBehavior::Unregistered, |p| p.effective_behavior());
        let failed = |cause, status, phrase| Msg::Failed {
            leg: leg.clone(),
            cause,
            status,
            phrase,
        };
        let refusal = match behavior {
            PhoneBehavior::Unregistered => {
                Some(failed("NO_USER_RESPONSE", "480", "Temporarily Unavailable"))
            }
            PhoneBehavior::Busy => Some(failed("USER_BUSY", "486", "Busy Here")),
            PhoneBehavior::Reject => Some(failed("CALL_REJECTED", "603", "Decline")),
            PhoneBehavior::NoAnswer | PhoneBehavior::Answer { .. } => None,
        };
        if let Some(refusal) = refusal {
            self.gateways.outbox.push((Dest::Peer(from), refusal));
            return;
        }
        let uuid = new_uuid();
        self.sessions_since_startup += 1;
        self.session_id += 1;
        let now = self.now_us();
        let name = format!("sofia/external/{cid_number}@{HOST_IP}");
        let profile = Profile {
            username: None,
            dialplan: Some("XML"),
            cid_name: cid_name.clone(),
            cid_number: cid_number.clone(),
            orig_cid_name: cid_name,
            orig_cid_number: cid_number.clone(),
            callee_name: None,
            callee_number: None,
            network_addr: Some(HOST_IP.to_owned()),
            ani: cid_number,
            destination: user.to_owned(),
            source: "mod_sofia",
            transfer_source: None,
            context: "public".to_owned(),
            index: 1,
            created_us: now,
        };
        let mut ch = Channel {
            phone: Some(user.to_owned()),
            ..Channel::new(&uuid, name.clone(), Dir::Inbound, profile)
        };
        ch.set_var("direction", "inbound");
        ch.set_var("uuid", uuid.clone());
        ch.set_var("call_uuid", uuid.clone());
        ch.set_var("session_id", self.session_id.to_string());
        ch.set_var("channel_name", name);
        ch.set_var("sofia_profile_name", "external");
        ch.set_var("sip_req_user", user.to_owned());
        ch.set_var("sip_to_user", user.to_owned());
        ch.set_var("dialed_user", user.to_owned());
        self.channels.insert(uuid.clone(), ch);
        self.changed = true;
        self.gateways
            .incoming
            .insert(uuid.clone(), (leg.clone(), from.clone()));
        self.gateways.by_leg.insert(leg.clone(), uuid.clone());

        self.set_state(&uuid, "CS_INIT", 1);
        self.with_chan(&uuid, |c| c.state_num = 2);
        self.chan_event(&uuid, "CHANNEL_CREATE", &[], &[]);
        self.set_state(&uuid, "CS_ROUTING", 2);
        self.set_state(&uuid, "CS_EXECUTE", 4);
        self.ring(&uuid);
        self.gateways
            .outbox
            .push((Dest::Peer(from), Msg::Ringing { leg }));
        if let PhoneBehavior::Answer { after } = behavior {
            self.timer(after, Timer::PhoneAnswer(uuid));
        }
    }

    /// B: the phone answered the gateway call: the channel answers and A hears of it.
    pub(super) fn gateway_answered(&mut self, uuid: &str) {
        let now = self.now_us();
        let Some((leg, from)) = self.gateways.incoming.get(uuid).cloned() else {
            return;
        };
        let Some(ch) = self.channels.get_mut(uuid) else {
            return;
        };
        if ch.answered_us != 0 || ch.hangup_cause.is_some() {
            return;
        }
        ch.media = true;
        ch.answered_us = now;
        ch.answer_state = "answered";
        let phone = ch.phone.clone();
        self.chan_event(uuid, "CHANNEL_ANSWER", &[], &[]);
        self.set_callstate(uuid, "ACTIVE");
        self.changed = true;
        if let Some(d) = phone
            .and_then(|p| self.phones.get(&p))
            .and_then(|p| p.hangup_after_talk)
        {
            self.timer(d, Timer::RemoteHangup(uuid.to_owned()));
        }
        self.gateways
            .outbox
            .push((Dest::Peer(from), Msg::Answered { leg }));
    }

    /// Either side: a channel of a gateway call hung up; the other side hears of it.
    pub(super) fn gateway_hung_up(&mut self, uuid: &str) {
        if let Some(name) = self.gateways.outgoing.remove(uuid) {
            let bye = Msg::Bye {
                leg: uuid.to_owned(),
            };
            self.gateways.outbox.push((Dest::Gateway(name), bye));
        }
        if let Some((leg, from)) = self.gateways.incoming.remove(uuid) {
            self.gateways.by_leg.remove(&leg);
            self.gateways
                .outbox
                .push((Dest::Peer(from), Msg::Bye { leg }));
        }
    }
}

impl Core {
    /// `sofia status gateway <name>` (what `doctor` asks of a route's gateway): a linked
    /// gateway's status block, `Invalid Gateway!` for any other name. Assumed (no capture):
    /// the shape of mod_sofia's answers, reduced to the lines `doctor` reads.
    pub(super) fn sofia_status_gateway(&self, arg: &str) -> String {
        let Some(name) = arg.strip_prefix("status gateway ").map(str::trim) else {
            return "-ERR Usage: sofia status gateway <name>\n".to_owned();
        };
        if self.gateways.names.contains(name) {
            format!(
                "=================================================================================================\n\
                 Name    \t{name}\nProfile \texternal\nScheme  \tDigest\nRealm   \t{name}\n\
                 Username\tswitchboard\nPassword\tyes\nState   \tNOREG\nStatus  \tUP\n\
                 =================================================================================================\n"
            )
        } else {
            "Invalid Gateway!\n".to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn a_gateway_dial_string_names_the_gateway_and_the_user() {
        assert_eq!(
            parse("sofia/gateway/fs2/1001"),
            Some(("fs2".to_owned(), "1001".to_owned()))
        );
        assert_eq!(parse("sofia/internal/1001@10.0.0.2"), None);
        assert_eq!(parse("sofia/gateway/fs2/"), None);
    }
}
