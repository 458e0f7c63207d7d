//! The ESL commands of an authenticated connection: `event`, `filter`, `sendmsg`,
//! `bgapi` and `api`, dispatched to the behaviours that run them.

use super::*;

impl Core {
    /// Runs one command of an authenticated connection; replies go out in order with
    /// the events the command causes.
    pub(crate) fn command(&mut self, conn: ConnId, cmd: &Command) -> Flow {
        self.counters.commands.fetch_add(1, Ordering::Relaxed);
        let line = cmd.line.as_str();
        let (verb, rest) = match line.split_once(' ') {
            Some((v, r)) => (v, r.trim()),
            None => (line, ""),
        };
        let flow = self.run_command(conn, cmd, verb, rest);
        self.sync_loopback();
        self.after_command(line);
        flow
    }

    pub(super) fn run_command(
        &mut self,
        conn: ConnId,
        cmd: &Command,
        verb: &str,
        rest: &str,
    ) -> Flow {
        match verb {
            "exit" => {
                self.reply(conn, wire::command_reply("+OK bye"));
                self.reply(conn, wire::disconnect_notice(wire::GOODBYE));
                Flow::Close
            }
            "event" => {
                self.subscribe(conn, rest);
                Flow::Continue
            }
            "noevents" => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.format = None;
                    c.all = false;
                    c.mask = 0;
                    c.subclasses.clear();
                }
                self.reply(
                    conn,
                    wire::command_reply("+OK no longer listening for events"),
                );
                Flow::Continue
            }
            "nixevent" => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    let mut custom = false;
                    for name in rest.split_whitespace() {
                        if custom {
                            c.subclasses.retain(|s| s != name);
                        } else if name == "ALL" {
                            c.all = false;
                            c.mask = 0;
                        } else if let Some(bit) = event_bit(name) {
                            c.mask &= !bit;
                            custom = name == "CUSTOM";
                        }
                    }
                }
                self.reply(conn, wire::command_reply("+OK events nixed"));
                Flow::Continue
            }
            "filter" => {
                self.filter(conn, rest);
                Flow::Continue
            }
            "linger" => {
                self.reply(conn, wire::command_reply("+OK will linger"));
                Flow::Continue
            }
            "nolinger" => {
                self.reply(conn, wire::command_reply("+OK will not linger"));
                Flow::Continue
            }
            "api" => self.api(conn, rest),
            "bgapi" => {
                self.bgapi(conn, rest);
                Flow::Continue
            }
            "sendevent" => {
                self.sendevent(conn, rest, cmd);
                Flow::Continue
            }
            "sendmsg" => {
                let target = if rest.is_empty() {
                    cmd.header("Unique-ID").unwrap_or("").to_string()
                } else {
                    rest.to_string()
                };
                self.sendmsg(conn, &target, cmd);
                Flow::Continue
            }
            _ => {
                self.reply(conn, wire::command_reply("-ERR command not found"));
                Flow::Continue
            }
        }
    }

    pub(super) fn filter(&mut self, conn: ConnId, rest: &str) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let text = if let Some(del) = rest.strip_prefix("delete") {
            let del = del.trim();
            let (h, v) = del.split_once(' ').unwrap_or((del, ""));
            if h == "all" || h.is_empty() {
                c.filters.clear();
                "+OK filter deleted. [all][]".to_string()
            } else {
                c.filters
                    .retain(|(k, val)| !(k == h && (v.is_empty() || val == v)));
                format!("+OK filter deleted. [{h}][{v}]")
            }
        } else {
            match rest.split_once(' ') {
                Some((h, v)) => {
                    c.filters.push((h.to_string(), v.trim().to_string()));
                    format!("+OK filter added. [{h}]=[{}]", v.trim())
                }
                None => "-ERR invalid syntax".to_string(),
            }
        };
        self.reply(conn, wire::command_reply(&text));
    }

    pub(super) fn sendmsg(&mut self, conn: ConnId, uuid: &str, cmd: &Command) {
        if !self.channels.contains_key(uuid) {
            self.reply(
                conn,
                wire::command_reply(&format!("-ERR invalid session id [{uuid}]")),
            );
            return;
        }
        self.reply(conn, wire::command_reply("+OK"));
        match cmd.header("call-command").unwrap_or("") {
            "execute" => {
                let app_uuid = cmd
                    .header("Event-UUID")
                    .map(str::to_string)
                    .unwrap_or_else(new_uuid);
                let msg = sendmsg_queue::Msg::parse(cmd, app_uuid);
                self.deliver(uuid, msg);
            }
            "hangup" => {
                let cause = cmd
                    .header("hangup-cause")
                    .unwrap_or("NORMAL_CLEARING")
                    .to_string();
                self.hangup(uuid, &cause, Initiator::Local, None);
            }
            _ => {}
        }
    }

    pub(super) fn bgapi(&mut self, conn: ConnId, rest: &str) {
        let job_uuid = new_uuid();
        self.reply(conn, wire::bgapi_reply(&job_uuid));
        let (cmd, arg) = match rest.split_once(' ') {
            Some((c, a)) => (c, a.trim()),
            None => (rest, ""),
        };
        if cmd == "originate" {
            let api_seq = self.next_seq();
            let job = Job {
                job_uuid: Some(job_uuid.clone()),
                api_conn: None,
                arg: arg.to_string(),
                api_seq,
            };
            if let Err(text) = self.originate(arg, job) {
                self.api_event(api_seq, "originate", arg);
                self.background_job(&job_uuid, "originate", arg, &text);
            }
            return;
        }
        let api_seq = self.next_seq();
        let (body, after) = self.run_api(cmd, arg, None);
        if let Some(after) = after {
            after(self);
        }
        self.api_event(api_seq, cmd, arg);
        self.background_job(&job_uuid, cmd, arg, &body);
    }

    pub(super) fn api(&mut self, conn: ConnId, rest: &str) -> Flow {
        let (cmd, arg) = match rest.split_once(' ') {
            Some((c, a)) => (c, a.trim()),
            None => (rest, ""),
        };
        let api_seq = self.next_seq();
        if cmd == "originate" {
            let job = Job {
                job_uuid: None,
                api_conn: Some(conn),
                arg: arg.to_string(),
                api_seq,
            };
            return match self.originate(arg, job) {
                Ok(()) => Flow::Blocked,
                Err(text) => {
                    self.reply(conn, wire::api_response(&text));
                    self.api_event(api_seq, cmd, arg);
                    Flow::Continue
                }
            };
        }
        let (body, after) = self.run_api(cmd, arg, Some(conn));
        // mod_event_socket's api_exec: an empty result is sent as `-ERR no reply`.
        let body = if body.is_empty() {
            esl_commands::NO_REPLY.to_string()
        } else {
            body
        };
        self.reply(conn, wire::api_response(&body));
        if let Some(after) = after {
            after(self);
        }
        self.api_event(api_seq, cmd, arg);
        if cmd == "fsctl" && arg == "shutdown" {
            return Flow::Shutdown;
        }
        Flow::Continue
    }

    /// Runs an api command: its reply body, and the work that follows the reply (so the
    /// reply is delivered before the events it causes, as on the real switch).
    #[allow(clippy::type_complexity)]
    pub(super) fn run_api(
        &mut self,
        cmd: &str,
        arg: &str,
        _conn: Option<ConnId>,
    ) -> (String, Option<Box<dyn FnOnce(&mut Core)>>) {
        let mut args = arg.split_whitespace();
        let first = args.next().unwrap_or("").to_string();
        let exists = self
            .channels
            .get(&first)
            .is_some_and(|c| c.hangup_cause.is_none());
        const NO_SUCH: &str = "-ERR No such channel!\n";
        match cmd {
            "status" => (self.status_text(), None),
            "version" => (
                format!(
                    "FreeSWITCH Version {FS_VERSION} (git a88d069 2024-08-02 21:02:27Z 64bit)\n"
                ),
                None,
            ),
            "hostname" => (self.hostname.clone(), None),
            "global_getvar" => match first.as_str() {
                "hostname" => (self.hostname.clone(), None),
                "core_uuid" => (self.core_uuid.clone(), None),
                "default_password" => (self.admin.default_password.clone(), None),
                "hold_music" => (hold::GLOBAL_HOLD_MUSIC.to_string(), None),
                _ => (String::new(), None),
            },
            "uuid_exists" => ((if exists { "true" } else { "false" }).to_string(), None),
            "uuid_answer" => {
                if !exists {
                    return ("-ERROR\n".to_string(), None);
                }
                (
                    "+OK\n".to_string(),
                    Some(Box::new(move |core: &mut Core| {
                        core.answer_inbound(&first);
                        core.loopback_answered(&first);
                    })),
                )
            }
            "uuid_kill" => {
                if !exists {
                    return (NO_SUCH.to_string(), None);
                }
                let cause = args.next().unwrap_or("NORMAL_CLEARING").to_string();
                (
                    "+OK\n".to_string(),
                    Some(Box::new(move |core: &mut Core| {
                        core.hangup(&first, &cause, Initiator::Local, None);
                    })),
                )
            }
            "uuid_break" => {
                let all = args.next().is_some_and(|flag| flag.contains("all"));
                if !exists {
                    return (NO_SUCH.to_string(), None);
                }
                (
                    "+OK\n".to_string(),
                    Some(Box::new(move |core: &mut Core| {
                        core.break_media(&first, all);
                    })),
                )
            }
            "uuid_transfer" => {
                const USAGE: &str =
                    "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n";
                if first.is_empty() {
                    return (USAGE.to_string(), None);
                }
                if !exists {
                    return (NO_SUCH.to_string(), None);
                }
                let mut rest: Vec<String> = args.map(str::to_string).collect();
                let mut target = first.clone();
                match rest.first().map(String::as_str) {
                    Some("-bleg") => {
                        rest.remove(0);
                        match self.channels.get(&first).and_then(|c| c.bridged_to.clone()) {
                            Some(peer) => target = peer,
                            None => return (NO_SUCH.to_string(), None),
                        }
                    }
                    Some("-both") => {
                        let dest = rest.get(1).cloned().unwrap_or_default();
                        let inline = rest.get(2).map(String::as_str) == Some("inline");
                        let target = dest.strip_prefix("conference:").map(str::to_owned);
                        return match target {
                            Some(t) if inline && conference::parse_target(&t).is_some() => (
                                "+OK\n".to_string(),
                                Some(Box::new(move |core: &mut Core| {
                                    core.transfer_both_to_conference(&first, &t)
                                })),
                            ),
                            _ => (
                                "-ERR only -both conference:<name> inline is modelled by the simulator\n"
                                    .to_string(),
                                None,
                            ),
                        };
                    }
                    _ => {}
                }
                let Some(extension) = rest.first().cloned() else {
                    return (USAGE.to_string(), None);
                };
                let dialplan = rest.get(1).cloned().unwrap_or_else(|| "XML".to_string());
                if dialplan == "inline" {
                    if extension != "park" {
                        return (
                            "-ERR only park inline is modelled by the simulator\n".to_string(),
                            None,
                        );
                    }
                    return (
                        "+OK\n".to_string(),
                        Some(Box::new(move |core: &mut Core| {
                            core.transfer_park_inline(&target)
                        })),
                    );
                }
                let context = rest
                    .get(2)
                    .cloned()
                    .unwrap_or_else(|| "default".to_string());
                (
                    "+OK\n".to_string(),
                    Some(Box::new(move |core: &mut Core| {
                        core.transfer(&target, &extension, &dialplan, &context)
                    })),
                )
            }
            "uuid_bridge" if self.is_take_over(&first, args.clone().next()) => {
                let second = args.next().unwrap_or("").to_string();
                (
                    format!("+OK {second}\n"),
                    Some(Box::new(move |core: &mut Core| {
                        core.take_over_bridge(&first, &second)
                    })),
                )
            }
            "uuid_bridge" => {
                let second = args.next().unwrap_or("").to_string();
                // A leg already bridged is pulled out of its bridge (`rebridge`), unless
                // the two are bridged to each other.
                let partners = self
                    .channels
                    .get(&first)
                    .is_some_and(|c| c.bridged_to.as_deref() == Some(second.as_str()));
                let ok_b = self
                    .channels
                    .get(&second)
                    .is_some_and(|c| c.hangup_cause.is_none());
                let ok_a = exists && first != second && !partners;
                if !ok_a || !ok_b {
                    return ("-ERR Invalid uuid\n".to_string(), None);
                }
                (
                    format!("+OK {second}\n"),
                    Some(Box::new(move |core: &mut Core| {
                        core.bridge(&first, &second)
                    })),
                )
            }
            "uuid_setvar" => {
                if !exists {
                    return (NO_SUCH.to_string(), None);
                }
                let rest = arg[first.len()..].trim_start();
                let (name, value) = match rest.split_once(|c: char| c.is_whitespace() || c == '=') {
                    Some((n, v)) => (n.to_string(), Some(v.trim().to_string())),
                    None => (rest.to_string(), None),
                };
                if name.is_empty() {
                    return ("-USAGE: <uuid> <var> [value]\n".to_string(), None);
                }
                self.with_chan(&first, |c| match value {
                    Some(v) if !v.is_empty() => c.set_var(&name, v),
                    _ => c.vars.retain(|(k, _)| k != &name),
                });
                self.changed = true;
                ("+OK\n".to_string(), None)
            }
            "uuid_getvar" => {
                if !exists {
                    return (NO_SUCH.to_string(), None);
                }
                let name = args.next().unwrap_or("");
                let v = self
                    .channels
                    .get(&first)
                    .and_then(|c| c.var(name))
                    .or((name == "hold_music").then_some(hold::GLOBAL_HOLD_MUSIC))
                    .unwrap_or("_undef_")
                    .to_string();
                (v, None)
            }
            "uuid_display" => {
                if !exists {
                    return (NO_SUCH.to_string(), None);
                }
                let rest = arg[first.len()..].trim();
                let (name, number) = rest.split_once('|').unwrap_or((rest, ""));
                self.with_chan(&first, |c| {
                    c.set_var("last_sent_callee_id_name", name);
                    if !number.is_empty() {
                        c.set_var("last_sent_callee_id_number", number);
                    }
                });
                ("+OK Success\n".to_string(), None)
            }
            "uuid_send_dtmf" => self.uuid_send_dtmf(arg),
            "uuid_hold" => (self.uuid_hold(arg), None),
            "uuid_recv_dtmf" => (self.uuid_recv_dtmf(arg), None),
            "uuid_record" => self.uuid_record(arg, exists),
            "uuid_broadcast" => (self.uuid_broadcast(arg, exists), None),
            "uuid_dump" => {
                if !exists {
                    return (NO_SUCH.to_string(), None);
                }
                let json = args.next() == Some("json");
                (self.dump(&first, json), None)
            }
            "show" if first == "registrations" => (self.show_registrations(arg), None),
            "show" => (self.show(arg), None),
            "fsctl" if first == "shutdown" => (
                "+OK\n".to_string(),
                Some(Box::new(|core: &mut Core| core.shutdown())),
            ),
            _ => (self.admin_api(cmd, arg), None),
        }
    }
}
