//! Originates: the new leg, its ringing and answer as the phone behaves, and the
//! originate job's reply (`api` at once, `bgapi` as a BACKGROUND_JOB).

use super::*;

impl Core {
    /// Starts an originate. Returns the immediate failure text (no channel created) if any.
    pub(super) fn originate(&mut self, arg: &str, job: Job) -> Result<(), String> {
        self.counters.originates.fetch_add(1, Ordering::Relaxed);
        let req = match parse_originate(arg) {
            Ok(r) => r,
            Err(_) => {
                return Err("-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]\n".to_string())
            }
        };
        if let Some((exten, context)) = loopback::parse(&req.dial) {
            return self.originate_loopback(&req, &exten, &context, job);
        }
        let target = Target::parse(&req.dial);
        let gateway = gateway::parse(&req.dial);
        if let Some((name, _)) = &gateway {
            if let Err(e) = self.gateway_known(name) {
                self.counters
                    .originate_failures
                    .fetch_add(1, Ordering::Relaxed);
                return Err(e);
            }
        }
        let phone_state = target
            .user()
            .and_then(|u| self.phones.get(u))
            .map(|p| p.effective_behavior());
        let (user, host) = match &target {
            Target::Unsupported(_) if gateway.is_some() => gateway
                .clone()
                .map(|(name, user)| (user, name))
                .unwrap_or_default(),
            Target::Unsupported(_) => {
                self.counters
                    .originate_failures
                    .fetch_add(1, Ordering::Relaxed);
                return Err("-ERR CHAN_NOT_IMPLEMENTED\n".to_string());
            }
            Target::User { user, domain } => {
                if matches!(phone_state, None | Some(PhoneBehavior::Unregistered)) {
                    self.counters
                        .originate_failures
                        .fetch_add(1, Ordering::Relaxed);
                    return Err("-ERR USER_NOT_REGISTERED\n".to_string());
                }
                (user.clone(), domain.clone())
            }
            Target::Sofia { user, host, .. } => (user.clone(), host.clone()),
        };
        let uuid = req
            .var("origination_uuid")
            .map(str::to_string)
            .unwrap_or_else(new_uuid);
        if self.channels.contains_key(&uuid) {
            self.counters
                .originate_failures
                .fetch_add(1, Ordering::Relaxed);
            return Err("-ERR DESTINATION_OUT_OF_ORDER\n".to_string());
        }
        let timeout = req
            .var("originate_timeout")
            .and_then(|t| t.parse::<u64>().ok())
            .map(Duration::from_secs)
            .unwrap_or(Duration::from_secs(60));
        self.sessions_since_startup += 1;
        self.session_id += 1;
        let name = format!("sofia/internal/{user}@{host}");
        let now = self.now_us();
        let cid_number = req
            .var("origination_caller_id_number")
            .unwrap_or("0000000000")
            .to_string();
        let cid_name = req.var("origination_caller_id_name").map(str::to_string);
        let profile = Profile {
            username: None,
            dialplan: None,
            cid_name: cid_name.clone(),
            cid_number: cid_number.clone(),
            orig_cid_name: cid_name,
            orig_cid_number: cid_number.clone(),
            callee_name: Some("Outbound Call".to_string()),
            callee_number: Some(user.clone()),
            network_addr: None,
            ani: cid_number,
            destination: user.clone(),
            source: "src/switch_ivr_originate.c",
            transfer_source: None,
            context: "default".to_string(),
            index: 1,
            created_us: now,
        };
        let mut ch = Channel {
            job: Some(job),
            phone: Some(user.clone()),
            race: originate_job::Race::new(matches!(target, Target::User { .. })),
            ..Channel::new(&uuid, name.clone(), Dir::Outbound, profile)
        };
        ch.set_var("direction", "outbound");
        ch.set_var("is_outbound", "true");
        ch.set_var("uuid", uuid.clone());
        ch.set_var("call_uuid", uuid.clone());
        ch.set_var("session_id", self.session_id.to_string());
        ch.set_var("sip_profile_name", "internal");
        ch.set_var("channel_name", name);
        ch.set_var("sip_destination_url", format!("sip:{user}@{host}"));
        for (k, v) in &req.vars {
            ch.set_var(k, v.clone());
        }
        ch.set_var("originate_early_media", "true");
        ch.set_var("originate_endpoint", "sofia");
        ch.set_var("sip_req_uri", format!("{user}@{host}"));
        ch.set_var("sofia_profile_name", "internal");
        if req.app != "park" {
            ch.set_var(
                "originate_application",
                format!("{}({})", req.app, req.app_arg),
            );
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

        if let Some((name, user)) = gateway {
            self.with_chan(&uuid, |c| c.phone = None);
            self.timer(timeout, Timer::OriginateTimeout(uuid.clone()));
            self.gateway_invite(&uuid, &name, &user);
            return Ok(());
        }
        let fail = |cause, status, phrase| Timer::LegFail {
            uuid: uuid.clone(),
            cause,
            status,
            phrase,
        };
        match phone_state {
            None | Some(PhoneBehavior::Unregistered) => self.timer(
                Duration::from_millis(5),
                fail("NORMAL_TEMPORARY_FAILURE", "503", "Service Unavailable"),
            ),
            Some(PhoneBehavior::Busy) => self.timer(
                Duration::from_millis(20),
                fail("USER_BUSY", "486", "Busy Here"),
            ),
            Some(PhoneBehavior::Reject) => self.timer(
                Duration::from_millis(20),
                fail("CALL_REJECTED", "603", "Decline"),
            ),
            Some(PhoneBehavior::NoAnswer) => {
                self.ring(&uuid);
                self.timer(timeout, Timer::OriginateTimeout(uuid.clone()));
            }
            Some(PhoneBehavior::Answer { after }) => {
                self.ring(&uuid);
                self.timer(timeout, Timer::OriginateTimeout(uuid.clone()));
                self.timer(after, Timer::PhoneAnswer(uuid.clone()));
            }
        }
        Ok(())
    }

    pub(super) fn ring(&mut self, uuid: &str) {
        let now = self.now_us();
        self.with_chan(uuid, |c| {
            c.profile.network_addr = Some(HOST_IP.to_string());
            c.progress_us = now;
        });
        self.chan_event(uuid, "CHANNEL_PROGRESS", &[], &[]);
        self.set_callstate(uuid, "RINGING");
    }

    pub(super) fn phone_answer(&mut self, uuid: &str) {
        if self.is_gateway_incoming(uuid) {
            return self.gateway_answered(uuid);
        }
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
        ch.set_var("sip_call_id", new_uuid());
        ch.set_var("read_codec", "PCMU");
        ch.set_var("write_codec", "PCMU");
        let phone = ch.phone.clone();
        self.counters
            .answered_by_phones
            .fetch_add(1, Ordering::Relaxed);
        self.chan_event(uuid, "CHANNEL_ANSWER", &[], &[]);
        self.set_callstate(uuid, "ACTIVE");
        if self.bridge_leg_answered(uuid) {
            self.changed = true;
            return;
        }
        self.leg_answered(uuid);
        self.changed = true;
        if let Some(d) = phone
            .and_then(|p| self.phones.get(&p))
            .and_then(|p| p.hangup_after_talk)
        {
            self.timer(d, Timer::RemoteHangup(uuid.to_string()));
        }
    }

    /// Delivers an originate result: BACKGROUND_JOB (after its API event) or the
    /// deferred `api originate` reply.
    pub(super) fn finish_job(&mut self, uuid: &str, result: &str) {
        let Some(job) = self.channels.get_mut(uuid).and_then(|c| c.job.take()) else {
            return;
        };
        if !result.starts_with("+OK") {
            self.counters
                .originate_failures
                .fetch_add(1, Ordering::Relaxed);
        }
        self.api_event(job.api_seq, "originate", &job.arg);
        if let Some(conn) = job.api_conn {
            self.reply(conn, wire::api_response(result));
            if let Some(c) = self.conns.get(&conn) {
                let _ = c.tx.send(Out::Resume);
            }
        }
        if let Some(job_uuid) = job.job_uuid {
            self.background_job(&job_uuid, "originate", &job.arg, result);
        }
    }

    pub(super) fn background_job(&mut self, job_uuid: &str, cmd: &str, arg: &str, result: &str) {
        if self.job_held_back(job_uuid, cmd, arg, result) {
            return;
        }
        self.fire_background_job(job_uuid, cmd, arg, result);
    }

    pub(super) fn fire_background_job(
        &mut self,
        job_uuid: &str,
        cmd: &str,
        arg: &str,
        result: &str,
    ) {
        self.fire("BACKGROUND_JOB", None, |ev| {
            ev.add("Job-UUID", job_uuid);
            ev.add("Job-Command", cmd);
            if !arg.is_empty() {
                ev.add("Job-Command-Arg", arg);
            }
            ev.body = Some(result.to_string());
        });
    }

    pub(super) fn api_event(&mut self, seq: u64, cmd: &str, arg: &str) {
        self.fire("API", Some(seq), |ev| {
            ev.add("API-Command", cmd);
            if !arg.is_empty() {
                ev.add("API-Command-Argument", arg);
            }
        });
    }
}
