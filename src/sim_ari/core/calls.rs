//! Calls: callers arriving through the dialplan into Stasis, legs the client originates
//! (`POST /channels`, `/channels/create` + `/dial`) and how phones answer them, the timers
//! that move them on, DTMF, variables and dialplan functions, `continue`.

use std::collections::BTreeSet;
use std::time::Duration;

/// The dialplan context of calls the phones make (the rig's `[from-agents]`).
pub const PHONES_CONTEXT: &str = "from-agents";

use super::hangup::Ending;
use super::{ChanState, Channel, Core, Origin, Timer};
use crate::sim::{CallSpec, PhoneBehavior};
use crate::sim_ari::wire::{ari_timestamp, quote, str_list};

/// What a simulated caller will do, kept until it happens.
#[derive(Clone, Debug, Default)]
pub(crate) struct CallerPlan {
    pub talk_time: Option<Duration>,
    pub dtmf: Vec<(Duration, String)>,
    pub bridged_once: bool,
}

/// A validated originate request.
#[derive(Clone, Debug)]
pub(crate) struct Originate {
    pub endpoint: String,
    pub app: String,
    pub app_args: Vec<String>,
    pub channel_id: Option<String>,
    pub caller_id: Option<(String, String)>,
    pub timeout: Option<Duration>,
    pub variables: Vec<(String, String)>,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum OriginateError {
    /// `500 {"error":"Allocation failed"}`.
    Allocation,
    /// `409 Channel with given unique ID already exists`.
    IdInUse,
}

/// `Name <number>` or a bare number.
pub(crate) fn parse_caller_id(s: &str) -> (String, String) {
    match (s.find('<'), s.rfind('>')) {
        (Some(a), Some(b)) if a < b => (
            s[..a].trim().trim_matches('"').to_string(),
            s[a + 1..b].to_string(),
        ),
        _ => (String::new(), s.trim().to_string()),
    }
}

/// A variable or a dialplan function as `GET …/variable` reads it; None: not set.
/// `Err` for an unknown function is folded into None by callers that do not care.
pub(crate) fn read_variable(ch: &Channel, name: &str) -> Option<String> {
    read_function(ch, name).unwrap_or(None)
}

/// Ok(Some): a value; Ok(None): not set; Err: a function Asterisk cannot read.
pub(crate) fn read_function(ch: &Channel, name: &str) -> Result<Option<String>, ()> {
    match name {
        "CALLERID(num)" | "CALLERID(number)" => return Ok(Some(ch.caller.1.clone())),
        "CALLERID(name)" => return Ok(Some(ch.caller.0.clone())),
        "CHANNEL(name)" => return Ok(Some(ch.name.clone())),
        "CHANNEL(language)" => return Ok(Some("en".to_string())),
        "CHANNEL(uniqueid)" => return Ok(Some(ch.id.clone())),
        "CHANNEL(pjsip,remote_addr)" => return Ok(Some("127.0.0.1:5060".to_string())),
        _ => {}
    }
    if name.contains('(') {
        if let Some(header) = name
            .strip_prefix("PJSIP_HEADER(read,")
            .and_then(|r| r.strip_suffix(')'))
        {
            return match ch.variable(&format!("PJSIP_HEADER({header})")) {
                Some(v) => Ok(Some(v.to_string())),
                None => Err(()),
            };
        }
        return Err(());
    }
    if name.starts_with('_') {
        return Ok(None);
    }
    Ok(ch.variable(name).map(str::to_string))
}

impl Core {
    pub(crate) fn new_channel(
        &mut self,
        id: String,
        name: String,
        endpoint: &str,
        origin: Origin,
    ) -> Channel {
        Channel {
            id,
            name,
            state: ChanState::Down,
            protocol_id: String::new(),
            caller: (String::new(), String::new()),
            connected: (String::new(), String::new()),
            dialplan: (
                String::new(),
                String::new(),
                1,
                String::new(),
                String::new(),
            ),
            creationtime: ari_timestamp(),
            origin,
            endpoint: endpoint.to_string(),
            stasis: None,
            entry: None,
            bridge: None,
            moh: None,
            on_hold: false,
            variables: Vec::new(),
            subscribed: BTreeSet::new(),
            digits: String::new(),
            playing: None,
            dialing: false,
            destroyed: false,
            plan: None,
            stasis_pending: None,
        }
    }

    pub(crate) fn insert_channel(&mut self, ch: Channel) {
        self.channel_order.push(ch.id.clone());
        self.channels.insert(ch.id.clone(), ch);
    }

    pub(crate) fn created_event(&mut self, id: &str) {
        let Some(ch) = self.channels.get(id) else {
            return;
        };
        let body = format!("\"channel\":{}", self.channel_json_with(ch, ""));
        self.emit(super::Event {
            prefix: String::new(),
            kind: "ChannelCreated",
            body,
            layout: super::Layout::Normal,
            channels: vec![id.to_string()],
            bridges: Vec::new(),
            doubled: false,
        });
    }

    pub(crate) fn dialplan_step(&mut self, id: &str, priority: i64, app: &str, data: &str) {
        if let Some(ch) = self.channels.get_mut(id) {
            ch.dialplan.2 = priority;
            ch.dialplan.3 = app.to_string();
            ch.dialplan.4 = data.to_string();
        }
        let fields = format!(
            "\"dialplan_app\":{},\"dialplan_app_data\":{},",
            quote(app),
            quote(data)
        );
        self.channel_event("ChannelDialplan", id, &fields);
    }

    pub fn set_state(&mut self, id: &str, state: ChanState) {
        let Some(ch) = self.channels.get_mut(id) else {
            return;
        };
        if ch.state == state {
            return;
        }
        ch.state = state;
        let endpoint = ch.endpoint.clone();
        self.channel_event("ChannelStateChange", id, "");
        self.refresh_device(&endpoint);
    }

    fn caller_id_event(&mut self, id: &str) {
        self.channel_event(
            "ChannelCallerId",
            id,
            "\"caller_presentation\":0,\"caller_presentation_txt\":\"Presentation Allowed, Not Screened\",",
        );
    }

    /// Sets a variable (or a settable function) as `Set()`/`POST …/variable` do, with its event.
    pub fn set_channel_variable(&mut self, id: &str, name: &str, value: &str) {
        let Some(ch) = self.channels.get_mut(id) else {
            return;
        };
        match name {
            "CALLERID(name)" => {
                ch.caller.0 = value.to_string();
                self.caller_id_event(id);
            }
            "CALLERID(num)" | "CALLERID(number)" => {
                ch.caller.1 = value.to_string();
                self.caller_id_event(id);
            }
            n if n.contains('(') => {
                if let Some(h) = n
                    .strip_prefix("PJSIP_HEADER(add,")
                    .and_then(|r| r.strip_suffix(')'))
                {
                    ch.set_variable(&format!("PJSIP_HEADER({h})"), value);
                }
            }
            n => {
                ch.set_variable(n, value);
                self.varset(id, n, value);
            }
        }
    }

    /// `${NAME}` and `${FUNC(arg)}` replaced by the channel's values, as the dialplan does.
    pub fn expand(&self, id: &str, text: &str) -> String {
        let Some(ch) = self.channels.get(id) else {
            return text.to_string();
        };
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let mut depth = 1;
            let mut end = None;
            for (i, c) in after.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = Some(i);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let Some(end) = end else {
                out.push_str(&rest[start..]);
                return out;
            };
            out.push_str(&read_variable(ch, &after[..end]).unwrap_or_default());
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    // ---- callers -------------------------------------------------------------------------

    pub fn place_call(&mut self, spec: CallSpec, dtmf: Vec<(Duration, String)>) -> String {
        self.place_call_with_headers(spec, dtmf, Vec::new())
    }

    /// A caller whose INVITE carries these SIP headers (`PJSIP_HEADER(read,<name>)`).
    pub fn place_call_with_headers(
        &mut self,
        spec: CallSpec,
        dtmf: Vec<(Duration, String)>,
        headers: Vec<(String, String)>,
    ) -> String {
        self.stats.calls_placed += 1;
        let id = self.next_channel_id(None);
        // A call from one of the phones (an agent dialling a feature code) is that endpoint's
        // channel, in the phones' context (the rig's `from-agents`); anyone else is `callers`.
        let (endpoint, context) = if self.phone(&spec.caller_number).is_some() {
            (spec.caller_number.clone(), PHONES_CONTEXT)
        } else {
            ("callers".to_owned(), "from-callers")
        };
        let name = self.next_channel_name(&endpoint);
        let mut ch = self.new_channel(id.clone(), name, &endpoint, Origin::Inbound);
        ch.state = ChanState::Ring;
        ch.caller = (spec.caller_name.clone(), spec.caller_number.clone());
        ch.dialplan = (
            context.into(),
            spec.destination.clone(),
            1,
            String::new(),
            String::new(),
        );
        for (name, value) in headers {
            ch.set_variable(&format!("PJSIP_HEADER({name})"), &value);
        }
        ch.plan = Some(CallerPlan {
            talk_time: spec.talk_time,
            dtmf,
            bridged_once: false,
        });
        let serial = self.id_counter;
        self.insert_channel(ch);
        self.created_event(&id);
        if let Some(c) = self.channels.get_mut(&id) {
            c.protocol_id = format!("{serial}-sim@127.0.0.1");
        }
        self.varset(&id, "SIPDOMAIN", "127.0.0.1");
        if let Some(p) = spec.patience {
            self.schedule(
                p,
                Timer::CallerGivesUp {
                    channel: id.clone(),
                },
            );
        }
        let entry = self
            .config
            .entry_points
            .iter()
            .position(|e| e.number == spec.destination);
        let Some(index) = entry else {
            // No such extension: Asterisk rejects the INVITE (404); the channel is gone at once.
            self.end_channel(&id, Ending::Delete(1));
            return id;
        };
        if let Some(c) = self.channels.get_mut(&id) {
            c.entry = Some(index);
        }
        self.run_entry(&id, index, 1);
        id
    }

    /// Runs an entry point's dialplan from `priority` on.
    pub fn run_entry(&mut self, id: &str, index: usize, first_priority: i64) {
        let Some(entry) = self.config.entry_points.get(index).cloned() else {
            return;
        };
        if let Some(c) = self.channels.get_mut(id) {
            if c.dialplan.0 != PHONES_CONTEXT {
                c.dialplan.0 = "from-callers".into();
            }
            c.dialplan.1 = entry.number.clone();
        }
        let mut priority = first_priority;
        if entry.answer_first {
            self.dialplan_step(id, priority, "Answer", "");
            self.set_state(id, ChanState::Up);
            self.answered(id);
            priority += 1;
        } else if entry.variables.is_empty() && !entry.app.is_empty() {
            self.dialplan_step(id, priority, "NoOp", "switchboard queue entry");
            priority += 1;
        }
        for (k, v) in &entry.variables {
            let v = self.expand(id, v);
            self.dialplan_step(id, priority, "Set", &format!("{k}={v}"));
            self.set_channel_variable(id, k, &v);
            priority += 1;
        }
        if entry.app.is_empty() {
            // Answer, Wait(30), Hangup: never in Stasis.
            if !entry.answer_first {
                self.dialplan_step(id, priority, "Answer", "");
                self.set_state(id, ChanState::Up);
                self.answered(id);
            }
            // Wait(30): the rig shows no ChannelDialplan for it before a hangup.
            return;
        }
        if entry.answer_first {
            if let Some(c) = self.channels.get_mut(id) {
                c.dialplan.2 = priority;
            }
            let delay = self.stasis_delay;
            self.schedule(
                delay,
                Timer::EnterStasis {
                    channel: id.to_string(),
                },
            );
        } else {
            self.enter_stasis_from_dialplan(id, priority);
        }
    }

    fn enter_stasis_from_dialplan(&mut self, id: &str, priority: i64) {
        let Some(index) = self.channels.get(id).and_then(|c| c.entry) else {
            return;
        };
        let Some(entry) = self.config.entry_points.get(index).cloned() else {
            return;
        };
        let mut data = vec![entry.app.clone()];
        data.extend(entry.args.iter().cloned());
        self.dialplan_step(id, priority, "Stasis", &data.join(","));
        self.start_stasis(id, &entry.app, entry.args.clone());
    }

    /// STASISSTATUS "" then StasisStart; the app subscribes to the channel.
    pub(crate) fn start_stasis(&mut self, id: &str, app: &str, args: Vec<String>) {
        self.varset(id, "STASISSTATUS", "");
        if let Some(c) = self.channels.get_mut(id) {
            c.stasis = Some((app.to_string(), args.clone()));
            if self.apps.iter().any(|a| a.name == app) {
                c.subscribed.insert(app.to_string());
            }
        }
        let fields = format!("\"args\":{},", str_list(&args));
        self.channel_event("StasisStart", id, &fields);
    }

    /// Starts the caller's timers that count from answer (DTMF).
    fn answered(&mut self, id: &str) {
        let Some(plan) = self.channels.get(id).and_then(|c| c.plan.clone()) else {
            return;
        };
        for (at, digits) in plan.dtmf {
            self.schedule(
                at,
                Timer::Dtmf {
                    channel: id.to_string(),
                    digits,
                },
            );
        }
    }

    pub fn answer(&mut self, id: &str) {
        let was_up = self
            .channels
            .get(id)
            .is_some_and(|c| c.state == ChanState::Up);
        if !was_up {
            self.set_state(id, ChanState::Up);
            self.answered(id);
        }
    }

    /// The caller entered a bridge: `talk_time` starts.
    pub fn caller_bridged(&mut self, id: &str) {
        let Some(plan) = self.channels.get_mut(id).and_then(|c| c.plan.as_mut()) else {
            return;
        };
        if plan.bridged_once {
            return;
        }
        plan.bridged_once = true;
        if let Some(t) = plan.talk_time {
            self.schedule(
                t,
                Timer::CallerHangsUp {
                    channel: id.to_string(),
                },
            );
        }
    }

    pub fn dtmf(&mut self, id: &str, digits: &str) -> bool {
        if !self.channels.contains_key(id) {
            return false;
        }
        for digit in digits.chars() {
            if let Some(c) = self.channels.get_mut(id) {
                c.digits.push(digit);
            }
            let fields = format!(
                "\"digit\":{},\"duration_ms\":280,",
                quote(&digit.to_string())
            );
            self.channel_event("ChannelDtmfReceived", id, &fields);
        }
        true
    }

    // ---- originate -------------------------------------------------------------------------

    /// Which endpoint a dial string reaches: Ok(endpoint, dialstring, unreachable).
    fn resolve_endpoint(&self, endpoint: &str) -> Result<(String, String, bool), OriginateError> {
        let Some(rest) = endpoint.strip_prefix("PJSIP/") else {
            return Err(OriginateError::Allocation);
        };
        let (name, uri) = match rest.split_once('/') {
            Some((n, u)) => (n, Some(u)),
            None => (rest, None),
        };
        let Some(phone) = self.phone(name) else {
            return Err(OriginateError::Allocation);
        };
        if uri.is_some() {
            return Ok((name.to_string(), rest.to_string(), true));
        }
        if !phone.registered {
            return Err(OriginateError::Allocation);
        }
        Ok((name.to_string(), name.to_string(), false))
    }

    fn outbound_channel(
        &mut self,
        req: &Originate,
        created: bool,
    ) -> Result<String, OriginateError> {
        if let Some(id) = &req.channel_id {
            if self.channels.contains_key(id) {
                return Err(OriginateError::IdInUse);
            }
        }
        let (endpoint, dialstring, unreachable) = self.resolve_endpoint(&req.endpoint)?;
        self.stats.originates += 1;
        let id = self.next_channel_id(req.channel_id.as_deref());
        let name = self.next_channel_name(&endpoint);
        let origin = Origin::Originated {
            endpoint: endpoint.clone(),
            dialstring,
            created,
            timeout: req.timeout,
            unreachable,
        };
        let mut ch = self.new_channel(id.clone(), name, &endpoint, origin);
        ch.caller = (endpoint.clone(), endpoint.clone());
        ch.dialplan = (
            "from-agents".into(),
            "s".into(),
            1,
            String::new(),
            String::new(),
        );
        ch.protocol_id = uuid::Uuid::new_v4().to_string();
        self.insert_channel(ch);
        self.created_event(&id);
        Ok(id)
    }

    /// `POST /channels`: the leg dials at once; it enters Stasis when answered. Returns the id
    /// and the channel as the 200 shows it (state Down, at dial start).
    pub fn originate(&mut self, req: Originate) -> Result<(String, String), OriginateError> {
        let id = self.outbound_channel(&req, false)?;
        self.dialplan_step(&id, 1, "AppDial2", "(Outgoing Line)");
        if let Some((name, number)) = &req.caller_id {
            if let Some(c) = self.channels.get_mut(&id) {
                c.connected = (name.clone(), number.clone());
            }
            self.channel_event("ChannelConnectedLine", &id, "");
            if let Some(c) = self.channels.get_mut(&id) {
                c.caller = (name.clone(), number.clone());
            }
            self.caller_id_event(&id);
            self.channel_event("ChannelConnectedLine", &id, "");
        }
        for (k, v) in &req.variables {
            self.set_channel_variable(&id, k, v);
        }
        if let Some(c) = self.channels.get_mut(&id).filter(|_| !req.app.is_empty()) {
            c.stasis_pending = Some((req.app.clone(), req.app_args.clone()));
            if self.apps.iter().any(|a| a.name == req.app) {
                c.subscribed.insert(req.app.clone());
            }
        }
        let json = self
            .channels
            .get(&id)
            .map(|c| self.channel_json(c))
            .unwrap_or_default();
        self.start_dial(&id, req.timeout);
        Ok((id, json))
    }

    /// `POST /channels/create`: in Stasis at once (state Down), dials on `/dial`.
    pub fn create(&mut self, req: Originate) -> Result<(String, String), OriginateError> {
        let id = self.outbound_channel(&req, true)?;
        for (k, v) in &req.variables {
            self.set_channel_variable(&id, k, v);
        }
        let mut data = vec![req.app.clone()];
        data.extend(req.app_args.iter().cloned());
        self.dialplan_step(&id, 1, "Stasis", &data.join(","));
        self.start_stasis(&id, &req.app, req.app_args.clone());
        let json = self
            .channels
            .get(&id)
            .map(|c| self.channel_json(c))
            .unwrap_or_default();
        Ok((id, json))
    }

    /// `/dial` on a created channel; Err: not a created channel still Down.
    pub fn dial(&mut self, id: &str, timeout: Option<Duration>) -> Result<(), ()> {
        let ok = self.channels.get(id).is_some_and(|c| {
            matches!(c.origin, Origin::Originated { created: true, .. })
                && c.state == ChanState::Down
                && !c.dialing
        });
        if !ok {
            return Err(());
        }
        self.start_dial(id, timeout);
        Ok(())
    }

    fn start_dial(&mut self, id: &str, timeout: Option<Duration>) {
        let Some(ch) = self.channels.get_mut(id) else {
            return;
        };
        ch.dialing = true;
        let (endpoint, unreachable) = match &ch.origin {
            Origin::Originated {
                endpoint,
                unreachable,
                ..
            } => (endpoint.clone(), *unreachable),
            _ => return,
        };
        self.dial_event(id, "");
        let timeout = timeout.unwrap_or(Duration::from_secs(30));
        self.schedule(
            timeout,
            Timer::OriginateTimeout {
                channel: id.to_string(),
            },
        );
        if unreachable {
            self.schedule(
                Duration::from_secs(32),
                Timer::SipTimerB {
                    channel: id.to_string(),
                },
            );
            return;
        }
        let behavior = self
            .phone(&endpoint)
            .map(|p| p.spec.behavior.clone())
            .unwrap_or(PhoneBehavior::NoAnswer);
        match behavior {
            PhoneBehavior::Busy => {
                self.end_channel(id, Ending::Busy);
            }
            PhoneBehavior::Reject => {
                self.end_channel(id, Ending::Rejected);
            }
            PhoneBehavior::Unregistered => {
                self.end_channel(id, Ending::SipTimeout);
            }
            PhoneBehavior::Answer { after } => {
                self.ringing(id);
                self.schedule(
                    after,
                    Timer::PhoneAnswers {
                        channel: id.to_string(),
                    },
                );
            }
            PhoneBehavior::NoAnswer => self.ringing(id),
        }
    }

    fn ringing(&mut self, id: &str) {
        self.set_state(id, ChanState::Ringing);
        self.dial_event(id, "RINGING");
    }

    fn phone_answers(&mut self, id: &str) {
        let Some(ch) = self.channels.get(id) else {
            return;
        };
        if ch.state == ChanState::Up || ch.destroyed {
            return;
        }
        let endpoint = ch.endpoint.clone();
        self.set_state(id, ChanState::Up);
        self.dial_event(id, "ANSWER");
        let pending = self
            .channels
            .get_mut(id)
            .and_then(|c| c.stasis_pending.take());
        if let Some((app, args)) = pending {
            self.start_stasis(id, &app, args);
        }
        if let Some(consulting) = self.consult_dials.remove(id) {
            self.consultation_answered(&consulting, id);
        }
        let talk = self.phone(&endpoint).and_then(|p| p.spec.hangup_after_talk);
        if let Some(t) = talk {
            self.schedule(
                t,
                Timer::PhoneHangsUp {
                    channel: id.to_string(),
                },
            );
        }
    }

    // ---- timers ----------------------------------------------------------------------------

    pub fn fire(&mut self, timer: Timer) {
        match timer {
            Timer::EnterStasis { channel } => {
                let priority = self.channels.get(&channel).map(|c| c.dialplan.2);
                if let Some(p) = priority {
                    self.enter_stasis_from_dialplan(&channel, p);
                }
            }
            Timer::PhoneAnswers { channel } => self.phone_answers(&channel),
            Timer::PhoneHangsUp { channel } | Timer::CallerHangsUp { channel } => {
                self.far_end_hangup(&channel);
            }
            Timer::CallerGivesUp { channel } => {
                let bridged = self
                    .channels
                    .get(&channel)
                    .and_then(|c| c.plan.as_ref())
                    .is_some_and(|p| p.bridged_once);
                if !bridged {
                    self.far_end_hangup(&channel);
                }
            }
            Timer::OriginateTimeout { channel } => {
                let ringing = self
                    .channels
                    .get(&channel)
                    .is_some_and(|c| c.state != ChanState::Up && c.dialing);
                if ringing {
                    self.end_channel(&channel, Ending::Timeout);
                }
            }
            Timer::SipTimerB { channel } => {
                let waiting = self
                    .channels
                    .get(&channel)
                    .is_some_and(|c| c.state != ChanState::Up);
                if waiting {
                    self.end_channel(&channel, Ending::SipTimeout);
                }
            }
            Timer::PlaybackStep { playback, step } => self.playback_step(&playback, step),
            Timer::RecordingLimit { name, serial } => self.recording_limit(&name, serial),
            Timer::SnoopEntersStasis { channel, app, args } => {
                self.snoop_enters_stasis(&channel, &app, args);
            }
            Timer::Dtmf { channel, digits } => {
                self.dtmf(&channel, &digits);
            }
        }
    }

    // ---- leaving Stasis ----------------------------------------------------------------------

    /// `continue`: back to the dialplan; an entry point there re-enters Stasis with its args,
    /// anything else reaches `Hangup()`.
    pub fn continue_in_dialplan(
        &mut self,
        id: &str,
        context: Option<&str>,
        exten: Option<&str>,
        priority: Option<i64>,
    ) {
        let Some(ch) = self.channels.get(id).cloned() else {
            return;
        };
        if let Some(bridge) = ch.bridge.clone() {
            self.leave_bridge(id, &bridge);
        }
        self.channel_event("StasisEnd", id, "");
        self.varset(id, "STASISSTATUS", "SUCCESS");
        if let Some(c) = self.channels.get_mut(id) {
            c.stasis = None;
            c.subscribed.clear();
        }
        let target = exten.and_then(|e| {
            let ctx_ok = context.is_none_or(|c| c == "from-callers");
            if ctx_ok {
                self.config.entry_points.iter().position(|x| x.number == e)
            } else {
                None
            }
        });
        match target {
            Some(index) => {
                if let Some(c) = self.channels.get_mut(id) {
                    c.entry = Some(index);
                }
                self.run_entry(id, index, priority.unwrap_or(1));
            }
            None => {
                let next = ch.dialplan.2 + 1;
                self.dialplan_step(id, next, "Hangup", "");
                self.end_channel(id, Ending::DialplanHangup);
            }
        }
    }
}
