//! `loopback/<exten>[/<context>]` endpoints: a minimal model of mod_loopback, because the
//! controller's dial strings allow them (agents and callbacks can be reached through the
//! dialplan).
//!
//! As captured (`dtmf-collect`, `{origination_uuid=<A>}loopback/9199/default &park()`): the
//! originate makes a pair, `loopback/<exten>-a` (the originated leg, with the uuid we chose,
//! CHANNEL_UUID first because its uuid is replaced) and `loopback/<exten>-b` (inbound,
//! `Caller-Source: mod_loopback`, running `<exten>` in `<context>`); each carries
//! `loopback_leg` (A/B) and `other_loopback_leg_uuid`. When B answers, A answers (A's
//! CHANNEL_ANSWER comes between B's `answer` EXECUTE and B's own CHANNEL_ANSWER), the job
//! returns `+OK <A>`, and A runs its application (`park`). Killing A hangs up B.
//!
//! Assumed (not captured): the B leg runs the simulator's dialplan: an entry point parks it
//! unanswered with its variables (A then rings until B is answered with `uuid_answer`, or
//! until `originate_timeout`), any other extension answers and plays `silence_stream://-1`
//! (the captured 9199). The pair is hung up together when one side ends through an ESL
//! command or `SimHandle::hangup`; an end caused by a simulator timer (an originate timeout,
//! a caller's talk time) reaches the other side at the next command.

use std::time::Duration;

use super::{new_uuid, Channel, Core, Dir, Initiator, Job, Profile, Timer};
use crate::sim::OriginateRequest;

/// `loopback/<exten>[/<context>]` -> (exten, context); None for any other endpoint.
pub(super) fn parse(dial: &str) -> Option<(String, String)> {
    let rest = dial.strip_prefix("loopback/")?;
    let (exten, context) = rest.split_once('/').unwrap_or((rest, "default"));
    (!exten.is_empty()).then(|| (exten.to_owned(), context.to_owned()))
}

fn leg(uuid: &str, name: String, dir: Dir, exten: &str, context: &str, now: u64) -> Channel {
    let profile = Profile {
        username: None,
        dialplan: Some("xml"),
        cid_name: None,
        cid_number: "0000000000".to_owned(),
        orig_cid_name: None,
        orig_cid_number: "0000000000".to_owned(),
        callee_name: Some("Outbound Call".to_owned()),
        callee_number: Some(context.to_owned()),
        network_addr: None,
        ani: "0000000000".to_owned(),
        destination: exten.to_owned(),
        source: "mod_loopback",
        transfer_source: None,
        context: context.to_owned(),
        index: 1,
        created_us: now,
    };
    Channel::new(uuid, name, dir, profile)
}

impl Core {
    /// Originates a loopback pair for `req` (whose dial string `parse` accepted).
    pub(super) fn originate_loopback(
        &mut self,
        req: &OriginateRequest,
        exten: &str,
        context: &str,
        job: Job,
    ) -> Result<(), String> {
        let chosen = req.var("origination_uuid").map(str::to_owned);
        let a = chosen.clone().unwrap_or_else(new_uuid);
        if self.channels.contains_key(&a) {
            return Err("-ERR DESTINATION_OUT_OF_ORDER\n".to_owned());
        }
        let b = new_uuid();
        let now = self.now_us();
        let timeout = req
            .var("originate_timeout")
            .and_then(|t| t.parse::<u64>().ok())
            .map_or(Duration::from_secs(60), Duration::from_secs);

        self.sessions_since_startup += 1;
        self.session_id += 1;
        let name_a = format!("loopback/{exten}-a");
        let mut ch = leg(&a, name_a.clone(), Dir::Outbound, exten, context, now);
        ch.set_var("direction", "outbound");
        ch.set_var("is_outbound", "true");
        ch.set_var("session_id", self.session_id.to_string());
        ch.set_var("read_codec", "L16");
        ch.set_var("read_rate", "8000");
        ch.set_var("write_codec", "L16");
        ch.set_var("write_rate", "8000");
        ch.set_var("channel_name", name_a);
        ch.set_var("uuid", a.clone());
        ch.set_var("call_uuid", a.clone());
        for (k, v) in &req.vars {
            ch.set_var(k, v.clone());
        }
        ch.set_var("originate_early_media", "true");
        ch.set_var("originate_endpoint", "loopback");
        ch.set_var("other_loopback_leg_uuid", b.clone());
        ch.set_var("loopback_leg", "A");
        ch.job = Some(job);
        self.channels.insert(a.clone(), ch);
        self.loopbacks.insert(a.clone(), b.clone());
        self.changed = true;

        if chosen.is_some() {
            let old = new_uuid();
            self.chan_event(&a, "CHANNEL_UUID", &[("Old-Unique-ID", old)], &[]);
        }
        self.chan_event(&a, "CHANNEL_OUTGOING", &[], &[]);
        self.set_state(&a, "CS_INIT", 1);
        self.with_chan(&a, |c| c.state_num = 2);

        self.session_id += 1;
        self.sessions_since_startup += 1;
        let name_b = format!("loopback/{exten}-b");
        let mut ch = leg(&b, name_b.clone(), Dir::Inbound, exten, context, now);
        ch.set_var("direction", "inbound");
        ch.set_var("uuid", b.clone());
        ch.set_var("call_uuid", b.clone());
        ch.set_var("session_id", self.session_id.to_string());
        ch.set_var("channel_name", name_b);
        ch.set_var("read_codec", "L16");
        ch.set_var("read_rate", "8000");
        ch.set_var("write_codec", "L16");
        ch.set_var("write_rate", "8000");
        ch.set_var("origination_uuid", a.clone());
        ch.set_var("other_loopback_leg_uuid", a.clone());
        ch.set_var("loopback_leg", "B");
        self.channels.insert(b.clone(), ch);

        self.chan_event(&a, "CHANNEL_CREATE", &[], &[]);
        self.chan_event(&a, "CHANNEL_ORIGINATE", &[], &[]);
        self.set_state(&a, "CS_ROUTING", 2);
        self.set_state(&a, "CS_CONSUME_MEDIA", 7);

        self.set_state(&b, "CS_INIT", 1);
        self.with_chan(&b, |c| c.state_num = 2);
        self.chan_event(&b, "CHANNEL_CREATE", &[], &[]);
        self.with_chan(&b, |c| c.state = "CS_ROUTING");
        self.set_callstate(&b, "RINGING");
        self.set_state(&b, "CS_ROUTING", 2);
        self.set_state(&b, "CS_EXECUTE", 4);

        if self.enter_dialplan(&b) {
            self.park(&b);
            self.timer(timeout, Timer::OriginateTimeout(a));
        } else {
            self.start_app(&b, "answer", "", new_uuid(), false);
            self.answer_loopback_leg(&a);
            self.answer_loopback_leg(&b);
            self.finish_app(&b, None);
            let silence = "silence_stream://-1";
            self.start_app(&b, "playback", silence, new_uuid(), false);
            self.start_playing(&b, silence);
            self.a_leg_runs(&a);
        }
        Ok(())
    }

    fn answer_loopback_leg(&mut self, uuid: &str) {
        let now = self.now_us();
        let Some(ch) = self.channels.get_mut(uuid) else {
            return;
        };
        if ch.answered_us != 0 || ch.hangup_cause.is_some() {
            return;
        }
        ch.media = true;
        ch.answered_us = now;
        ch.answer_state = "answered";
        self.chan_event(uuid, "CHANNEL_ANSWER", &[], &[]);
        self.set_callstate(uuid, "ACTIVE");
        self.changed = true;
    }

    /// The originate returns and A runs its application (the simulator parks it).
    fn a_leg_runs(&mut self, a: &str) {
        self.finish_job(a, &format!("+OK {a}\n"));
        self.set_state(a, "CS_EXECUTE", 4);
        self.park(a);
    }

    /// `uuid_answer` of a parked B leg: its A leg answers and the originate returns.
    pub(super) fn loopback_answered(&mut self, uuid: &str) {
        let Some(a) = self
            .channels
            .get(uuid)
            .filter(|c| c.var("loopback_leg") == Some("B") && c.answered_us != 0)
            .and_then(|c| c.var("other_loopback_leg_uuid"))
            .map(str::to_owned)
        else {
            return;
        };
        if self
            .channels
            .get(&a)
            .is_some_and(|c| c.answered_us == 0 && c.hangup_cause.is_none())
        {
            self.answer_loopback_leg(&a);
            self.a_leg_runs(&a);
        }
    }

    /// `uuid_send_dtmf <uuid> <digits>`: the digits go out of `uuid` towards its far end;
    /// on a loopback leg the far end is the other leg, which receives them as DTMF events
    /// (`dtmf-collect`). Reply as captured (`+OK <uuid> sent DTMF <digits>.`); the errors are
    /// mod_commands' (`-ERR Cannot locate session!`, `-USAGE: <uuid> <dtmf_data>`).
    pub(super) fn uuid_send_dtmf(&mut self, arg: &str) -> (String, super::session_record::After) {
        let mut words = arg.split_whitespace();
        let (Some(uuid), Some(digits)) = (words.next(), words.next()) else {
            return ("-USAGE: <uuid> <dtmf_data>\n".to_owned(), None);
        };
        let Some(ch) = self.channels.get(uuid).filter(|c| c.hangup_cause.is_none()) else {
            return ("-ERR Cannot locate session!\n".to_owned(), None);
        };
        let reply = format!("+OK {uuid} sent DTMF {digits}.\n");
        let Some(other) = ch
            .var("other_loopback_leg_uuid")
            .filter(|_| ch.var("loopback_leg").is_some())
            .map(str::to_owned)
        else {
            return (reply, None);
        };
        let digits = digits.to_owned();
        (
            reply,
            Some(Box::new(move |core: &mut Core| {
                core.dtmf(&other, &digits);
            })),
        )
    }

    /// Hangs up the live side of every pair whose other side has ended.
    pub(crate) fn sync_loopback(&mut self) {
        if self.loopbacks.is_empty() {
            return;
        }
        let live = |core: &Core, u: &str| {
            core.channels
                .get(u)
                .is_some_and(|c| c.hangup_cause.is_none())
        };
        let mut ended = Vec::new();
        let mut orphans = Vec::new();
        for (a, b) in &self.loopbacks {
            match (live(self, a), live(self, b)) {
                (true, false) => orphans.push(a.clone()),
                (false, true) => orphans.push(b.clone()),
                (false, false) => ended.push(a.clone()),
                (true, true) => {}
            }
        }
        for a in ended {
            self.loopbacks.remove(&a);
        }
        for u in orphans {
            self.hangup(&u, "NORMAL_CLEARING", Initiator::Local, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_dial_strings_name_an_extension_and_a_context() {
        assert_eq!(
            parse("loopback/9199/default"),
            Some(("9199".into(), "default".into()))
        );
        assert_eq!(
            parse("loopback/5000"),
            Some(("5000".into(), "default".into()))
        );
        assert_eq!(parse("loopback/"), None);
        assert_eq!(parse("user/1001"), None);
    }
}
