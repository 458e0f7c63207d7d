//! Supervisor monitoring: a supervisor listens to a connected call (silent), whispers to the
//! agent (the caller does not hear), or barges in (three-way).
//!
//! The controller rings the supervisor's phone with a leg of its own choosing, which joins the
//! call when answered (capture `eavesdrop`): `originate {origination_uuid=S,…}<phone>
//! &eavesdrop(<caller>)` for listen, the same with `eavesdrop_whisper_aleg=true` for whisper,
//! `&three_way(<caller>)` for barge. The caller↔agent bridge is untouched, so **monitoring
//! never changes who handles the call**. The mode changes without redialling by sending the
//! eavesdrop application a key on the supervisor's leg (`uuid_recv_dtmf S <digit>`: `0`
//! listen, `1` whisper to the other half, i.e. the agent, `3` three-way; assumed, not
//! captured); a session that began as a barge runs `three_way`, which takes no keys, so it
//! keeps its mode. `uuid_kill S` ends a session; the supervisor hanging up ends it too, and so
//! does the call's end (its leg is hung up).
//!
//! A session is in the history (and announced) from the supervisor's answer: `started`, each
//! `mode_changed`, and `ended` with the reason. The supervisor's phone counts as a call
//! elsewhere for an agent using the same phone, from the ring to the hangup.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::core::Engine;
use super::ids::{AgentId, CallId, ChannelId, MonitorId, QueueId, SwitchName};
use super::io::{Effect, HangupCause, SwitchCommand};
use super::model::CallState;
use super::record::Record;
use super::time::Timestamp;

/// How long the supervisor's phone rings before the session is given up.
pub const MONITOR_RING_TIMEOUT: Duration = Duration::from_secs(30);

/// What the supervisor hears and who hears the supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MonitorMode {
    /// Hears both, heard by no one.
    Listen,
    /// Hears both, heard by the agent only (coaching).
    Whisper,
    /// Hears both, heard by both (three-way).
    Barge,
}

impl MonitorMode {
    pub const ALL: [MonitorMode; 3] = [
        MonitorMode::Listen,
        MonitorMode::Whisper,
        MonitorMode::Barge,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MonitorMode::Listen => "listen",
            MonitorMode::Whisper => "whisper",
            MonitorMode::Barge => "barge",
        }
    }

    pub fn parse(s: &str) -> Option<MonitorMode> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// The key the eavesdrop application takes for this mode (mod_dptools: `0` back to
    /// listening, `1` talk to the other half of the call, `3` three-way).
    pub fn key(self) -> char {
        match self {
            MonitorMode::Listen => '0',
            MonitorMode::Whisper => '1',
            MonitorMode::Barge => '3',
        }
    }
}

impl fmt::Display for MonitorMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to a monitoring session (the history's `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MonitorEventKind {
    Started,
    ModeChanged,
    Ended,
}

impl MonitorEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MonitorEventKind::Started => "started",
            MonitorEventKind::ModeChanged => "mode_changed",
            MonitorEventKind::Ended => "ended",
        }
    }

    /// The CTI event announcing it.
    pub fn event_type(self) -> &'static str {
        match self {
            MonitorEventKind::Started => "monitor.started",
            MonitorEventKind::ModeChanged => "monitor.mode_changed",
            MonitorEventKind::Ended => "monitor.ended",
        }
    }
}

/// Ringing or joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MonitorPhase {
    Ringing,
    Joined,
}

/// A monitoring request from the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MonitorRequest {
    /// Ring `phone` (a dial string the API validated) and join `call` in `mode`.
    Start {
        call: CallId,
        mode: MonitorMode,
        /// Who monitors (the API token's name).
        supervisor: String,
        phone: String,
    },
    /// Change a joined session's mode.
    Mode {
        monitor: MonitorId,
        mode: MonitorMode,
    },
    /// End a session (ringing or joined).
    End { monitor: MonitorId },
    /// The supervisor takes the call over: the caller is bridged to the supervisor's leg, the
    /// agent's leg hangs up and the agent's part ends as a transfer to the supervisor.
    TakeOver { monitor: MonitorId },
}

/// Why a monitoring request is refused: 404 for unknown calls and sessions, 409 otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MonitorError {
    #[error("no call {0} in progress")]
    UnknownCall(CallId),
    #[error("call {0} is not connected to an agent: there is nothing to monitor")]
    NotConnected(CallId),
    #[error("no monitoring session {0}")]
    UnknownMonitor(MonitorId),
    #[error("monitoring session {0} has not joined yet: its phone is ringing")]
    NotJoined(MonitorId),
    #[error("monitoring session {0} is already in {1} mode")]
    SameMode(MonitorId, MonitorMode),
    #[error(
        "monitoring session {0} began as a barge (three_way takes no keys): end it and start \
         another to change its mode"
    )]
    BargeIsFixed(MonitorId),
    #[error("monitoring session {0} is ending")]
    Ending(MonitorId),
}

/// What the switch is asked when a supervisor takes a call over.
struct TakingOver {
    agent_leg: ChannelId,
}

/// One session.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Session {
    id: MonitorId,
    call: CallId,
    queue: QueueId,
    agent: AgentId,
    switch: SwitchName,
    caller: ChannelId,
    leg: ChannelId,
    supervisor: String,
    phone: String,
    mode: MonitorMode,
    /// Began as a barge (`three_way`): no keys.
    three_way: bool,
    phase: MonitorPhase,
    requested_at: Timestamp,
    joined_at: Option<Timestamp>,
    /// Why it is being ended (set when we asked the switch to hang the leg up, or to bridge
    /// the caller to it: `took_over`).
    ending: Option<&'static str>,
    /// Taking the call over: the agent's leg, whose hangup completes it.
    taking_over: Option<ChannelId>,
}

/// Sessions in progress.
#[derive(Debug, Default)]
pub(super) struct Monitors {
    sessions: HashMap<MonitorId, Session>,
    by_leg: HashMap<ChannelId, MonitorId>,
    /// Agents' legs whose hangup completes a take over, by session.
    taken_from: HashMap<ChannelId, MonitorId>,
}

impl Monitors {
    /// Whether `channel` is a supervisor's leg of ours.
    pub(super) fn holds(&self, channel: &ChannelId) -> bool {
        self.by_leg.contains_key(channel)
    }

    /// Whether `channel` is an agent's leg a supervisor is taking the call over from.
    pub(super) fn taken_from(&self, channel: &ChannelId) -> bool {
        self.taken_from.contains_key(channel)
    }
}

/// A session as REST shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonitorView {
    pub id: MonitorId,
    pub call: CallId,
    pub queue: QueueId,
    /// The agent on the call.
    pub agent: AgentId,
    pub supervisor: String,
    pub phone: String,
    pub mode: MonitorMode,
    pub phase: MonitorPhase,
    pub requested_at: Timestamp,
    pub joined_at: Option<Timestamp>,
}

impl From<&Session> for MonitorView {
    fn from(s: &Session) -> Self {
        MonitorView {
            id: s.id,
            call: s.call,
            queue: s.queue.clone(),
            agent: s.agent.clone(),
            supervisor: s.supervisor.clone(),
            phone: s.phone.clone(),
            mode: s.mode,
            phase: s.phase,
            requested_at: s.requested_at,
            joined_at: s.joined_at,
        }
    }
}

/// The SIP user of a phone's dial string (`user/1001@domain`, `sofia/internal/1001@host`).
fn phone_user(dial: &str) -> Option<String> {
    let rest = dial.strip_prefix("user/").or_else(|| {
        dial.strip_prefix("sofia/")
            .and_then(|r| r.split_once('/').map(|(_, user)| user))
    })?;
    let user = rest.split('@').next()?;
    (!user.is_empty()).then(|| user.to_owned())
}

impl Engine {
    /// A monitoring request from the API: the session as it stands after it, and what the
    /// switch must do.
    pub fn monitor(
        &mut self,
        now: Timestamp,
        request: MonitorRequest,
    ) -> Result<(MonitorView, Vec<Effect>), MonitorError> {
        let mut effects = Vec::new();
        let id = match request {
            MonitorRequest::Start {
                call,
                mode,
                supervisor,
                phone,
            } => self.start_monitor(now, call, mode, supervisor, phone, &mut effects)?,
            MonitorRequest::Mode { monitor, mode } => {
                self.change_monitor_mode(now, monitor, mode, &mut effects)?;
                monitor
            }
            MonitorRequest::End { monitor } => {
                self.end_monitor(monitor, "requested", &mut effects)?;
                monitor
            }
            MonitorRequest::TakeOver { monitor } => {
                self.supervisor_takes_over(monitor, &mut effects)?;
                monitor
            }
        };
        let view = self
            .monitors
            .sessions
            .get(&id)
            .map(MonitorView::from)
            .ok_or(MonitorError::UnknownMonitor(id))?;
        Ok((view, effects))
    }

    fn start_monitor(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        mode: MonitorMode,
        supervisor: String,
        phone: String,
        effects: &mut Vec<Effect>,
    ) -> Result<MonitorId, MonitorError> {
        let call = self
            .calls
            .get(&call_id)
            .ok_or(MonitorError::UnknownCall(call_id))?;
        let CallState::Bridged { agent, .. } = &call.state else {
            return Err(MonitorError::NotConnected(call_id));
        };
        let (agent, queue, switch, caller) = (
            agent.clone(),
            call.queue.clone(),
            call.switch.clone(),
            call.caller.clone(),
        );
        let id = MonitorId::from_uuid(self.new_uuid());
        let leg = ChannelId::from_uuid(id.as_uuid());
        effects.push(Effect::switch(
            &switch,
            &caller,
            SwitchCommand::Monitor {
                leg: leg.clone(),
                call: call_id,
                target: caller.clone(),
                mode,
                dial_string: phone.clone(),
                timeout: MONITOR_RING_TIMEOUT,
            },
        ));
        // A supervisor who is also an agent is busy from the ring on.
        let users: Vec<String> = phone_user(&phone).into_iter().collect();
        self.call_elsewhere_started(switch.clone(), leg.clone(), &users);
        self.monitors.by_leg.insert(leg.clone(), id);
        self.monitors.sessions.insert(
            id,
            Session {
                id,
                call: call_id,
                queue,
                agent,
                switch,
                caller,
                leg,
                supervisor,
                phone,
                mode,
                three_way: mode == MonitorMode::Barge,
                phase: MonitorPhase::Ringing,
                requested_at: now,
                joined_at: None,
                ending: None,
                taking_over: None,
            },
        );
        Ok(id)
    }

    fn change_monitor_mode(
        &mut self,
        now: Timestamp,
        id: MonitorId,
        mode: MonitorMode,
        effects: &mut Vec<Effect>,
    ) -> Result<(), MonitorError> {
        let session = self
            .monitors
            .sessions
            .get_mut(&id)
            .ok_or(MonitorError::UnknownMonitor(id))?;
        if session.ending.is_some() {
            return Err(MonitorError::Ending(id));
        }
        if session.phase != MonitorPhase::Joined {
            return Err(MonitorError::NotJoined(id));
        }
        if session.mode == mode {
            return Err(MonitorError::SameMode(id, mode));
        }
        if session.three_way {
            return Err(MonitorError::BargeIsFixed(id));
        }
        let previous = session.mode;
        session.mode = mode;
        effects.push(Effect::switch(
            &session.switch,
            &session.caller,
            SwitchCommand::MonitorKey {
                leg: session.leg.clone(),
                digit: mode.key(),
            },
        ));
        let record = monitor_record(
            session,
            MonitorEventKind::ModeChanged,
            Some(previous),
            None,
            now,
        );
        effects.push(Effect::Persist(record));
        Ok(())
    }

    fn end_monitor(
        &mut self,
        id: MonitorId,
        reason: &'static str,
        effects: &mut Vec<Effect>,
    ) -> Result<(), MonitorError> {
        let session = self
            .monitors
            .sessions
            .get_mut(&id)
            .ok_or(MonitorError::UnknownMonitor(id))?;
        if session.ending.is_some() {
            return Err(MonitorError::Ending(id));
        }
        session.ending = Some(reason);
        effects.push(Effect::switch(
            &session.switch,
            &session.caller,
            SwitchCommand::Kill {
                channel: session.leg.clone(),
                cause: HangupCause::NormalClearing,
            },
        ));
        Ok(())
    }

    fn supervisor_takes_over(
        &mut self,
        id: MonitorId,
        effects: &mut Vec<Effect>,
    ) -> Result<(), MonitorError> {
        let session = self
            .monitors
            .sessions
            .get(&id)
            .ok_or(MonitorError::UnknownMonitor(id))?;
        if session.ending.is_some() {
            return Err(MonitorError::Ending(id));
        }
        if session.phase != MonitorPhase::Joined {
            return Err(MonitorError::NotJoined(id));
        }
        let agent_leg = match self.calls.get(&session.call).map(|c| &c.state) {
            Some(CallState::Bridged { leg, .. }) => leg.clone(),
            _ => return Err(MonitorError::NotConnected(session.call)),
        };
        let taking = TakingOver { agent_leg };
        effects.push(Effect::switch(
            &session.switch,
            &session.caller,
            SwitchCommand::TakeOver {
                caller: session.caller.clone(),
                leg: session.leg.clone(),
            },
        ));
        self.monitors
            .taken_from
            .insert(taking.agent_leg.clone(), id);
        if let Some(session) = self.monitors.sessions.get_mut(&id) {
            session.ending = Some("took_over");
            session.taking_over = Some(taking.agent_leg);
        }
        Ok(())
    }

    /// The agent's leg hung up after the caller was bridged to the supervisor: the session
    /// ends (`took_over`), the supervisor's leg is the caller's partner from now on (no longer
    /// a session's), and the agent's part ends as a transfer to the supervisor.
    pub(super) fn monitor_took_over(
        &mut self,
        now: Timestamp,
        agent_leg: &ChannelId,
        cause: &str,
        effects: &mut Vec<Effect>,
    ) {
        let Some(id) = self.monitors.taken_from.remove(agent_leg) else {
            return;
        };
        let Some(session) = self.monitors.sessions.remove(&id) else {
            return;
        };
        self.monitors.by_leg.remove(&session.leg);
        effects.push(Effect::Persist(monitor_record(
            &session,
            MonitorEventKind::Ended,
            None,
            Some("took_over".to_owned()),
            now,
        )));
        self.leg_transferred(
            now,
            super::io::LegTransfer {
                switch: session.switch.clone(),
                leg: agent_leg.clone(),
                kind: super::io::TransferKind::Blind,
                partner: session.caller.clone(),
                destination: format!("supervisor:{}", session.supervisor),
                cause: cause.to_owned(),
            },
            effects,
        );
    }

    /// The switch refused the take over's `uuid_bridge`: the session goes on as it was.
    pub(super) fn take_over_refused(&mut self, leg: &ChannelId) {
        let Some(id) = self.monitors.by_leg.get(leg).copied() else {
            return;
        };
        if let Some(session) = self.monitors.sessions.get_mut(&id) {
            if let Some(agent_leg) = session.taking_over.take() {
                session.ending = None;
                self.monitors.taken_from.remove(&agent_leg);
            }
        }
    }

    /// The supervisor answered: the session has joined the call.
    pub(super) fn monitor_leg_answered(
        &mut self,
        now: Timestamp,
        channel: &ChannelId,
        effects: &mut Vec<Effect>,
    ) {
        let Some(id) = self.monitors.by_leg.get(channel).copied() else {
            return;
        };
        let Some(session) = self.monitors.sessions.get_mut(&id) else {
            return;
        };
        if session.phase == MonitorPhase::Joined {
            return;
        }
        session.phase = MonitorPhase::Joined;
        session.joined_at = Some(now);
        let record = monitor_record(session, MonitorEventKind::Started, None, None, now);
        let (queue, agent_leg, switch, caller) = (
            session.queue.clone(),
            self.calls.get(&session.call).and_then(|c| match &c.state {
                CallState::Bridged { leg, .. } => Some(leg.clone()),
                _ => None,
            }),
            session.switch.clone(),
            session.caller.clone(),
        );
        effects.push(Effect::Persist(record));
        let notice = self
            .queues
            .get(&queue)
            .and_then(|q| q.settings.routing.monitor_notice.clone())
            .filter(|n| !n.is_empty());
        if let (Some(source), Some(agent_leg)) = (notice, agent_leg) {
            effects.push(Effect::switch(
                &switch,
                &caller,
                SwitchCommand::Broadcast {
                    channel: agent_leg,
                    source,
                },
            ));
        }
    }

    /// The supervisor's leg is gone (hung up, killed, or its originate failed): the session
    /// ends, in the history if it had joined.
    pub(super) fn monitor_leg_gone(
        &mut self,
        now: Timestamp,
        channel: &ChannelId,
        cause: &str,
        effects: &mut Vec<Effect>,
    ) {
        let Some(id) = self.monitors.by_leg.remove(channel) else {
            return;
        };
        self.call_elsewhere_ended(now, channel, effects);
        let Some(session) = self.monitors.sessions.remove(&id) else {
            return;
        };
        if let Some(agent_leg) = &session.taking_over {
            self.monitors.taken_from.remove(agent_leg);
        }
        if session.phase != MonitorPhase::Joined {
            return;
        }
        let reason = match session.ending {
            Some(reason) => reason.to_owned(),
            None => format!("supervisor_hung_up cause={cause}"),
        };
        effects.push(Effect::Persist(monitor_record(
            &session,
            MonitorEventKind::Ended,
            None,
            Some(reason),
            now,
        )));
    }

    /// Calls ending in `effects` have their monitoring sessions' legs hung up (the session
    /// ends when the switch reports it).
    pub(super) fn end_monitors_of_ended_calls(&mut self, effects: &mut Vec<Effect>) {
        if self.monitors.sessions.is_empty() {
            return;
        }
        let ended: Vec<CallId> = effects
            .iter()
            .filter_map(|e| match e {
                Effect::Persist(Record::CallEnded { call, .. }) => Some(*call),
                _ => None,
            })
            .collect();
        if ended.is_empty() {
            return;
        }
        let ids: Vec<MonitorId> = self
            .monitors
            .sessions
            .values()
            .filter(|s| ended.contains(&s.call) && s.ending.is_none())
            .map(|s| s.id)
            .collect();
        for id in ids {
            // Known and not ending: cannot be refused.
            let _ = self.end_monitor(id, "call_ended", effects);
        }
    }

    /// Sessions in progress, oldest first.
    pub fn monitor_views(&self) -> Vec<MonitorView> {
        let mut views: Vec<MonitorView> = self
            .monitors
            .sessions
            .values()
            .map(MonitorView::from)
            .collect();
        views.sort_by_key(|v| (v.requested_at, v.id));
        views
    }
}

fn monitor_record(
    session: &Session,
    kind: MonitorEventKind,
    previous: Option<MonitorMode>,
    reason: Option<String>,
    at: Timestamp,
) -> Record {
    Record::Monitor {
        monitor: session.id,
        call: session.call,
        queue: session.queue.clone(),
        agent: session.agent.clone(),
        supervisor: session.supervisor.clone(),
        kind,
        mode: session.mode,
        previous,
        reason,
        at,
    }
}

impl Monitors {
    /// Entry counts, for `sizes`.
    pub(super) fn sizes(&self, out: &mut Vec<(&'static str, usize)>) {
        out.push(("monitors.sessions", self.sessions.len()));
        out.push(("monitors.by_leg", self.by_leg.len()));
    }
}
