//! IVR flows, run as the first part of a call's life: one session per caller channel, moved
//! on by keys, media completions, HTTP replies and timers.
//!
//! The engine runs them (rather than a task of their own) because a flow ends by handing the
//! caller to a queue under the same call id, and must see hangups, resyncs and keys in the
//! same order as the rest of the call. A node does nothing itself: it emits effects.
//!
//! Rules worth knowing (see `docs/flows.md`, "How a flow runs"):
//! - a prompt is over when the switch reports its application finished (`MediaDone`), counted
//!   per channel, whatever the response text says (EXECUTE_COMPLETE may carry an earlier
//!   app's response);
//! - keys pressed while nothing listens (a `play` node, an `http` request) are typed ahead for
//!   the next menu or collect if it takes keys during its prompt (barge-in), which then skips
//!   its prompt; a menu without barge-in drops them;
//! - every node visited writes a `FlowStep`; leaving the flows writes `FlowEnded`;
//! - a caller enqueued with a `survey` is bridged with `park_after_bridge`: when the agent
//!   hangs up the switch parks it again, and that park starts the survey under the call's id
//!   (`SurveyStarted` … `SurveyEnded` with the answers).

mod resume;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::core::Engine;
use super::ids::{AgentId, CallId, ChannelId, FlowId, SwitchName};
use super::io::{
    ChannelSnapshot, Effect, FlowCall, HangupCause, HttpOutcome, HttpRequest, HttpRequestId,
    ParkedCall, SayKind, SwitchCommand, Timer,
};
use super::model::Call;
use super::record::{FlowOutcome, Record};
use super::recording_session::FlowCaller;
use super::routing::{parse_skill_list, Destination};
use super::time::Timestamp;
use crate::flow::{
    url_origin, Collect, FlowSet, Media, Menu, Node, NodeId, NodeKind, SayAs, Target, Test,
    BUILT_IN,
};

/// How long past its own timeout an HTTP request may take before the flow gives up on it (the
/// app always answers by the timeout; this covers an answer lost on the way).
pub const HTTP_GUARD: Duration = Duration::from_secs(1);
/// How long past `max_length` a recording may run before the flow takes it as finished.
pub const RECORD_GUARD: Duration = Duration::from_secs(5);
/// Nodes one input may pass through without waiting; flow checks refuse loops that never wait,
/// this only bounds a mistake the checks missed.
const MAX_STEPS_PER_INPUT: usize = 256;
/// Keys kept for the next menu or collect, at most.
const MAX_TYPED_AHEAD: usize = 32;
/// A variable's value is cut at this many bytes (CRM replies can be large).
const MAX_VALUE_LEN: usize = 512;
/// What the history shows instead of the keys of a `secret` collect.
const HIDDEN: &str = "***";
/// The cause a caller is hung up with when its flow cannot go on (a destination that renders
/// to something no switch command may carry).
const FLOW_FAILURE_CAUSE: &str = "NORMAL_TEMPORARY_FAILURE";
/// RFC 3986 unreserved characters stay as they are in a URL; everything else is encoded.
const URL_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A caller inside a flow.
#[derive(Debug)]
pub(super) struct FlowSession {
    /// The id the call keeps if it reaches a queue.
    pub(super) call: CallId,
    pub(super) switch: SwitchName,
    channel: ChannelId,
    caller_number: String,
    caller_name: String,
    destination: String,
    /// The flows as they were when the caller arrived: a reload never changes a flow under a
    /// caller.
    flows: Arc<FlowSet>,
    flow: FlowId,
    node: NodeId,
    pub(super) variables: HashMap<String, String>,
    /// Variables set by `secret` collects: usable in templates, never written out.
    secrets: HashSet<String>,
    phase: Phase,
    /// Failed tries at the current menu or collect.
    attempts: u32,
    /// Keys pressed at the current node, for its history step.
    keys: String,
    /// The entry being typed at a collect.
    entry: String,
    /// Keys pressed while nothing listened, for the next menu or collect.
    typed_ahead: String,
    /// Media applications started on the channel whose end the switch has not reported.
    media_pending: u32,
    /// Whether the last retry was for an invalid entry (else for no input): which retry prompt
    /// plays.
    retry_invalid: bool,
    /// Bumped whenever the session waits for something new: a timer of an older wait is stale.
    epoch: u64,
    ended: bool,
    /// Set for a post-call survey: the variables as they were when it began, so its answers
    /// are what it set or changed.
    survey: Option<HashMap<String, String>>,
}

/// Who a session is for and where it starts.
struct Start {
    call: CallId,
    switch: SwitchName,
    channel: ChannelId,
    caller_number: String,
    caller_name: String,
    destination: String,
    flows: Arc<FlowSet>,
    flow: FlowId,
    node: NodeId,
    variables: HashMap<String, String>,
    survey: bool,
}

impl FlowSession {
    fn new(start: Start) -> Self {
        FlowSession {
            call: start.call,
            switch: start.switch,
            channel: start.channel,
            caller_number: start.caller_number,
            caller_name: start.caller_name,
            destination: start.destination,
            flows: start.flows,
            flow: start.flow,
            node: start.node,
            survey: start.survey.then(|| start.variables.clone()),
            variables: start.variables,
            secrets: HashSet::new(),
            phase: Phase::Listening,
            attempts: 0,
            keys: String::new(),
            entry: String::new(),
            typed_ahead: String::new(),
            media_pending: 0,
            retry_invalid: false,
            epoch: 0,
            ended: false,
        }
    }
}

/// A caller whose agent hung up, on its way to its survey: the switch parks it again, and
/// that park starts the survey.
#[derive(Debug)]
pub(super) struct PendingSurvey {
    call: CallId,
    flow: FlowId,
    agent: AgentId,
    switch: SwitchName,
    caller_number: String,
    caller_name: String,
    destination: String,
    variables: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// A prompt plays; what follows when it ends.
    Playing(AfterPrompt),
    /// A menu or collect waits for keys, its timer running.
    Listening,
    Recording {
        path: String,
    },
    Requesting(HttpRequestId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterPrompt {
    /// A `play` node: go on to its `next`.
    Next,
    /// A menu's or collect's prompt: listen for keys.
    Listen,
    /// An invalid or no-input prompt: the node's own prompt follows.
    Prompt,
    /// A `record` node's prompt: start recording.
    Record,
}

/// Media applications whose end moves a flow on.
fn is_media_application(application: &str) -> bool {
    matches!(application, "playback" | "say" | "record")
}

impl Engine {
    /// Replaces the flows new callers run. Callers already in a flow keep the version they
    /// started with.
    pub fn set_flows(&mut self, flows: FlowSet) {
        self.flows = Arc::new(flows);
    }

    pub(super) fn in_flow(&self, channel: &ChannelId) -> bool {
        self.flow_sessions.contains_key(channel)
    }

    /// Channels of callers in a flow, with their switch.
    pub(super) fn flow_channels(&self) -> impl Iterator<Item = (&ChannelId, &SwitchName)> {
        self.flow_sessions.iter().map(|(c, s)| (c, &s.switch))
    }

    /// Takes the session out of the map for the length of one input, so the handlers may use
    /// the whole engine (queues, ids) while changing it; it goes back unless it ended.
    fn with_session(
        &mut self,
        channel: &ChannelId,
        effects: &mut Vec<Effect>,
        act: impl FnOnce(&mut Self, &mut FlowSession, &mut Vec<Effect>),
    ) {
        let Some(mut session) = self.flow_sessions.remove(channel) else {
            return;
        };
        act(self, &mut session, effects);
        if !session.ended {
            self.flow_sessions.insert(channel.clone(), session);
        }
    }

    /// Our dialplan parked a caller for a flow: answer, then run the flow's start node.
    pub(super) fn flow_call(&mut self, now: Timestamp, call: FlowCall, effects: &mut Vec<Effect>) {
        if self.pending_surveys.contains_key(&call.channel) {
            self.start_survey(now, &call.channel, effects);
            return;
        }
        if self.legs.contains_key(&call.channel) || self.in_flow(&call.channel) {
            return;
        }
        let flows = Arc::clone(&self.flows);
        let Some(flow) = flows.for_entry_point(&call.entry) else {
            effects.push(Effect::switch(
                &call.switch,
                &call.channel,
                SwitchCommand::Kill {
                    channel: call.channel.clone(),
                    cause: HangupCause::NoRouteDestination,
                },
            ));
            return;
        };
        let id = CallId::from_uuid(self.new_uuid());
        effects.push(Effect::switch(
            &call.switch,
            &call.channel,
            SwitchCommand::Answer {
                channel: call.channel.clone(),
            },
        ));
        effects.push(Effect::Persist(Record::FlowEntered {
            call: id,
            switch: call.switch.clone(),
            channel: call.channel.clone(),
            flow: flow.id.clone(),
            entry: call.entry.clone(),
            caller_number: call.caller_number.clone(),
            caller_name: call.caller_name.clone(),
            destination: call.destination.clone(),
            at: now,
        }));
        let (flow, node) = (flow.id.clone(), flow.start.clone());
        self.run_session(now, id, call, (flows, flow, node), Vec::new(), effects);
    }

    /// Starts the flow of `call.entry` for an answered caller that already has call id `id`
    /// (a caller transferred into the flow over REST, see `redirect`). False when no loaded
    /// flow claims the entry point.
    pub(super) fn enter_flow_as(
        &mut self,
        now: Timestamp,
        id: CallId,
        call: FlowCall,
        effects: &mut Vec<Effect>,
    ) -> bool {
        let flows = Arc::clone(&self.flows);
        let Some(flow) = flows.for_entry_point(&call.entry) else {
            return false;
        };
        effects.push(Effect::Persist(Record::FlowEntered {
            call: id,
            switch: call.switch.clone(),
            channel: call.channel.clone(),
            flow: flow.id.clone(),
            entry: call.entry.clone(),
            caller_number: call.caller_number.clone(),
            caller_name: call.caller_name.clone(),
            destination: call.destination.clone(),
            at: now,
        }));
        let (flow, node) = (flow.id.clone(), flow.start.clone());
        self.run_session(now, id, call, (flows, flow, node), Vec::new(), effects);
        true
    }

    /// Starts a session at `node` of `flow` and runs it until it waits.
    fn run_session(
        &mut self,
        now: Timestamp,
        id: CallId,
        call: FlowCall,
        (flows, flow, node): (Arc<FlowSet>, FlowId, NodeId),
        variables: Vec<(String, String)>,
        effects: &mut Vec<Effect>,
    ) {
        let channel = call.channel.clone();
        let mut session = new_session(id, call, (flows, flow, node.clone()), variables);
        self.go(now, &mut session, Target::Node(node), effects);
        if !session.ended {
            self.flow_sessions.insert(channel, session);
        }
    }

    /// After a controller restart, a caller our dialplan parked for a flow that is not in a
    /// queue: one never seen (parked while we were away) starts its flow; one whose session
    /// was open goes on at the node it waited at, with its variables, under the same call id
    /// (see `resume`), or starts its flow again when that node is gone; one whose session
    /// enqueued it and whose call is over is left in a park it would wait in forever (its
    /// survey lost): it is hung up.
    /// Callers sent on (transfer, voicemail) are no longer ours.
    pub(super) fn adopt_flow_caller(
        &mut self,
        now: Timestamp,
        switch: &SwitchName,
        snap: &ChannelSnapshot,
        effects: &mut Vec<Effect>,
    ) {
        let Some(entry) = snap.flow_entry.clone() else {
            return;
        };
        if snap.bridged_to.is_some() {
            return;
        }
        let call = FlowCall {
            switch: switch.clone(),
            channel: snap.channel.clone(),
            entry,
            caller_number: snap.caller_number.clone(),
            caller_name: snap.caller_name.clone(),
            destination: snap.destination.clone(),
        };
        let Some(stored) = &snap.stored_flow else {
            self.flow_call(now, call, effects);
            return;
        };
        match stored.outcome {
            None if self.resume_flow(now, call.clone(), stored, effects) => {}
            None => {
                let flows = Arc::clone(&self.flows);
                let flow = flows
                    .get(&stored.flow)
                    .or_else(|| flows.for_entry_point(&call.entry))
                    .map(|f| (f.id.clone(), f.start.clone()));
                match flow {
                    Some((flow, node)) => self.run_session(
                        now,
                        stored.call,
                        call,
                        (flows, flow, node),
                        stored.variables.clone(),
                        effects,
                    ),
                    None => effects.push(Effect::switch(
                        switch,
                        &snap.channel,
                        SwitchCommand::Kill {
                            channel: snap.channel.clone(),
                            cause: HangupCause::NoRouteDestination,
                        },
                    )),
                }
            }
            Some(FlowOutcome::Enqueued) => effects.push(hangup(
                switch,
                &snap.channel,
                Destination::DEFAULT_HANGUP_CAUSE,
            )),
            Some(_) => {}
        }
    }

    /// The agent hung up on a caller enqueued with a survey: it waits for the switch to park
    /// it again (`park_after_bridge`). If its survey flow is gone (a reload removed it), the
    /// caller is hung up, as it would have been without one.
    pub(super) fn survey_after_agent(
        &mut self,
        call: &Call,
        agent: &AgentId,
        effects: &mut Vec<Effect>,
    ) {
        let Some(flow) = call.survey.clone() else {
            return;
        };
        if self.flows.get(&flow).is_none() {
            effects.push(hangup(
                &call.switch,
                &call.caller,
                Destination::DEFAULT_HANGUP_CAUSE,
            ));
            return;
        }
        self.pending_surveys.insert(
            call.caller.clone(),
            PendingSurvey {
                call: call.id,
                flow,
                agent: agent.clone(),
                switch: call.switch.clone(),
                caller_number: call.caller_number.clone(),
                caller_name: call.caller_name.clone(),
                destination: call.destination.clone(),
                variables: call.variables.clone(),
            },
        );
    }

    /// The switch parked a caller after its agent hung up: its survey begins, with what the
    /// caller entered before the queue and who the agent was.
    pub(super) fn start_survey(
        &mut self,
        now: Timestamp,
        channel: &ChannelId,
        effects: &mut Vec<Effect>,
    ) {
        let Some(pending) = self.pending_surveys.remove(channel) else {
            return;
        };
        let flows = Arc::clone(&self.flows);
        let Some(start) = flows.get(&pending.flow).map(|f| f.start.clone()) else {
            effects.push(hangup(
                &pending.switch,
                channel,
                Destination::DEFAULT_HANGUP_CAUSE,
            ));
            return;
        };
        let agent_name = self
            .agents
            .get(&pending.agent)
            .map(|a| a.settings.name.clone())
            .unwrap_or_default();
        let variables = variables_with(
            pending.variables,
            &[
                ("caller_number", &pending.caller_number),
                ("caller_name", &pending.caller_name),
                ("destination_number", &pending.destination),
                ("call_id", &pending.call.to_string()),
                ("agent_id", pending.agent.as_str()),
                ("agent_name", &agent_name),
            ],
        );
        effects.push(Effect::Persist(Record::SurveyStarted {
            call: pending.call,
            flow: pending.flow.clone(),
            agent: pending.agent,
            at: now,
        }));
        let mut session = FlowSession::new(Start {
            call: pending.call,
            switch: pending.switch,
            channel: channel.clone(),
            caller_number: pending.caller_number,
            caller_name: pending.caller_name,
            destination: pending.destination,
            flows,
            flow: pending.flow,
            node: start.clone(),
            variables,
            survey: true,
        });
        self.go(now, &mut session, Target::Node(start), effects);
        if !session.ended {
            self.flow_sessions.insert(channel.clone(), session);
        }
    }

    /// After a reconnect: a caller on its way to a survey that the switch no longer has is
    /// forgotten; one already parked (its park event lost with the link) starts it now.
    pub(super) fn pending_surveys_resync(
        &mut self,
        now: Timestamp,
        switch: &SwitchName,
        present: &HashMap<ChannelId, &ChannelSnapshot>,
        effects: &mut Vec<Effect>,
    ) {
        let mut channels: Vec<ChannelId> = self
            .pending_surveys
            .iter()
            .filter(|(_, p)| &p.switch == switch)
            .map(|(c, _)| c.clone())
            .collect();
        channels.sort();
        for channel in channels {
            match present.get(&channel) {
                None => {
                    self.pending_surveys.remove(&channel);
                }
                Some(snap) if snap.bridged_to.is_none() => {
                    self.start_survey(now, &channel, effects)
                }
                Some(_) => {}
            }
        }
    }

    pub(super) fn flow_dtmf(
        &mut self,
        now: Timestamp,
        channel: &ChannelId,
        digit: char,
        effects: &mut Vec<Effect>,
    ) {
        self.with_session(channel, effects, |engine, s, effects| {
            engine.key(now, s, digit, effects)
        });
    }

    pub(super) fn flow_media_done(
        &mut self,
        now: Timestamp,
        channel: &ChannelId,
        application: &str,
        effects: &mut Vec<Effect>,
    ) {
        if !is_media_application(application) {
            return;
        }
        self.with_session(channel, effects, |engine, s, effects| {
            // A completion with nothing pending belongs to media from before a resync.
            if s.media_pending == 0 {
                return;
            }
            s.media_pending -= 1;
            if s.media_pending == 0 {
                engine.media_ended(now, s, effects);
            }
        });
    }

    /// A prompt or recording the switch refused ends as if it had played.
    pub(super) fn flow_command_failed(
        &mut self,
        now: Timestamp,
        command: &SwitchCommand,
        effects: &mut Vec<Effect>,
    ) {
        let (channel, application) = match command {
            SwitchCommand::Play { channel, .. } => (channel, "playback"),
            SwitchCommand::Say { channel, .. } => (channel, "say"),
            SwitchCommand::Record { channel, .. } => (channel, "record"),
            _ => return,
        };
        self.flow_media_done(now, &channel.clone(), application, effects);
    }

    /// The caller hung up inside the flow: the node it was at is where it left.
    pub(super) fn flow_caller_gone(
        &mut self,
        now: Timestamp,
        channel: &ChannelId,
        effects: &mut Vec<Effect>,
    ) {
        self.with_session(channel, effects, |engine, s, effects| {
            engine.step(now, s, "caller hung up", effects);
            engine.end(now, s, FlowOutcome::Abandoned, effects);
        });
    }

    pub(super) fn flow_http_done(
        &mut self,
        now: Timestamp,
        request: HttpRequestId,
        outcome: HttpOutcome,
        effects: &mut Vec<Effect>,
    ) {
        let Some(channel) = self.http_waits.remove(&request) else {
            return;
        };
        self.with_session(&channel, effects, |engine, s, effects| {
            if s.phase != Phase::Requesting(request) {
                return;
            }
            let flows = Arc::clone(&s.flows);
            let Some(NodeKind::Http(http)) = current(&flows, s).map(|n| &n.kind) else {
                return;
            };
            let reply = match outcome {
                HttpOutcome::Reply { status, body } if (200..300).contains(&status) => {
                    serde_json::from_str::<serde_json::Value>(&body).ok()
                }
                _ => None,
            };
            let Some(reply) = reply else {
                engine.step(now, s, "error", effects);
                engine.go(now, s, Target::Node(http.on_error.clone()), effects);
                return;
            };
            // A pointer the reply does not have leaves its variable as it was (unset unless
            // set before): a condition's `present` test tells the two apart.
            for (variable, pointer) in &http.extract {
                let value = match reply.pointer(pointer) {
                    None | Some(serde_json::Value::Null) => continue,
                    Some(serde_json::Value::String(text)) => text.clone(),
                    Some(other) => other.to_string(),
                };
                s.variables.insert(variable.clone(), capped(&value));
            }
            engine.step(now, s, "ok", effects);
            engine.go(now, s, Target::Node(http.next.clone()), effects);
        });
    }

    pub(super) fn flow_timer(
        &mut self,
        now: Timestamp,
        channel: &ChannelId,
        epoch: u64,
        effects: &mut Vec<Effect>,
    ) {
        self.with_session(channel, effects, |engine, s, effects| {
            if s.epoch != epoch {
                return;
            }
            let flows = Arc::clone(&s.flows);
            let Some(node) = current(&flows, s) else {
                return;
            };
            match (&s.phase, &node.kind) {
                (Phase::Listening, NodeKind::Menu(menu)) => {
                    engine.menu_retry(now, s, menu, false, effects)
                }
                (Phase::Listening, NodeKind::Collect(collect)) if s.entry.is_empty() => {
                    engine.collect_retry(now, s, collect, false, effects)
                }
                (Phase::Listening, NodeKind::Collect(collect)) => {
                    engine.finish_entry(now, s, collect, effects)
                }
                (Phase::Requesting(request), NodeKind::Http(http)) => {
                    engine.http_waits.remove(request);
                    engine.step(now, s, "error", effects);
                    engine.go(now, s, Target::Node(http.on_error.clone()), effects);
                }
                // The switch never said the recording ended: it has, by now.
                (Phase::Recording { .. }, _) => {
                    s.media_pending = 0;
                    engine.media_ended(now, s, effects);
                }
                _ => {}
            }
        });
    }

    /// After a reconnect: a caller the switch no longer has left the flow; one it still has
    /// goes on, its current prompt played again in case the reconnect dropped it (a recording
    /// is not restarted: its guard timer bounds it). Only sessions known when the listing
    /// began are judged.
    pub(super) fn flow_resync(
        &mut self,
        now: Timestamp,
        switch: &SwitchName,
        present: &HashMap<ChannelId, &ChannelSnapshot>,
        judged: Option<&HashSet<ChannelId>>,
        effects: &mut Vec<Effect>,
    ) {
        let mut channels: Vec<ChannelId> = self
            .flow_sessions
            .iter()
            .filter(|(c, s)| &s.switch == switch && judged.is_none_or(|j| j.contains(*c)))
            .map(|(c, _)| c.clone())
            .collect();
        channels.sort();
        for channel in channels {
            let Some(snap) = present.get(&channel) else {
                self.flow_caller_gone(now, &channel, effects);
                continue;
            };
            let answered = snap.answered;
            self.with_session(&channel, effects, |engine, s, effects| {
                if !answered {
                    effects.push(Effect::switch(
                        &s.switch,
                        &s.channel,
                        SwitchCommand::Answer {
                            channel: s.channel.clone(),
                        },
                    ));
                }
                let Phase::Playing(then) = s.phase else {
                    return;
                };
                let flows = Arc::clone(&s.flows);
                let Some(node) = current(&flows, s) else {
                    return;
                };
                let media = match (&node.kind, then) {
                    (NodeKind::Play { media, .. }, _) => Some(media),
                    (NodeKind::Menu(m), AfterPrompt::Listen) => Some(&m.prompt),
                    (NodeKind::Collect(c), AfterPrompt::Listen) => Some(&c.prompt),
                    (NodeKind::Menu(m), AfterPrompt::Prompt) if s.retry_invalid => {
                        m.invalid_prompt.as_ref()
                    }
                    (NodeKind::Menu(m), AfterPrompt::Prompt) => m.no_input_prompt.as_ref(),
                    (NodeKind::Collect(c), AfterPrompt::Prompt) => c.invalid_prompt.as_ref(),
                    (NodeKind::Record { prompt, .. }, _) => prompt.as_ref(),
                    _ => None,
                };
                if let Some(media) = media {
                    s.media_pending = 0;
                    engine.play(s, media, then, effects);
                }
            });
        }
    }

    /// Moves the caller to `target` and runs nodes until one waits (or the caller leaves).
    fn go(
        &mut self,
        now: Timestamp,
        s: &mut FlowSession,
        target: Target,
        effects: &mut Vec<Effect>,
    ) {
        let flows = Arc::clone(&s.flows);
        let mut target = target;
        for _ in 0..MAX_STEPS_PER_INPUT {
            if s.ended {
                return;
            }
            match target {
                Target::Node(node) => s.node = node,
                Target::Flow(flow) => {
                    let Some(start) = flows.get(&flow).map(|f| f.start.clone()) else {
                        self.fail(now, s, "no such flow", effects);
                        return;
                    };
                    s.flow = flow;
                    s.node = start;
                }
            }
            s.keys.clear();
            s.entry.clear();
            s.attempts = 0;
            s.epoch += 1;
            let Some(node) = current(&flows, s) else {
                self.fail(now, s, "no such node", effects);
                return;
            };
            match self.run_node(now, s, node, effects) {
                Some(next) => target = next,
                None => {
                    self.note_waiting(now, s, effects);
                    return;
                }
            }
        }
        self.fail(now, s, "too many steps without waiting", effects);
    }

    /// Starts a node: the ones that decide at once return where to go next.
    fn run_node(
        &mut self,
        now: Timestamp,
        s: &mut FlowSession,
        node: &Node,
        effects: &mut Vec<Effect>,
    ) -> Option<Target> {
        let to = |id: &NodeId| Some(Target::Node(id.clone()));
        match &node.kind {
            NodeKind::Play { media, .. } => {
                self.play(s, media, AfterPrompt::Next, effects);
                None
            }
            NodeKind::Menu(menu) => {
                if menu.barge_in && !s.typed_ahead.is_empty() {
                    self.replay_typed_ahead(now, s, effects);
                } else {
                    s.typed_ahead.clear();
                    self.play(s, &menu.prompt, AfterPrompt::Listen, effects);
                }
                None
            }
            NodeKind::Collect(collect) => {
                if s.typed_ahead.is_empty() {
                    self.play(s, &collect.prompt, AfterPrompt::Listen, effects);
                } else {
                    self.replay_typed_ahead(now, s, effects);
                }
                None
            }
            NodeKind::Schedule {
                schedule,
                on_open,
                on_closed,
            } => {
                let open = schedule.is_open(now);
                self.step(now, s, if open { "open" } else { "closed" }, effects);
                to(if open { on_open } else { on_closed })
            }
            NodeKind::Condition { cases, otherwise } => {
                let (label, next) = cases
                    .iter()
                    .zip(node.kind.branches())
                    .find(|(case, _)| case.tests.iter().all(|t| holds(t, &s.variables)))
                    .map_or(("otherwise".to_owned(), otherwise), |(case, (label, _))| {
                        (label, &case.next)
                    });
                self.step(now, s, &label, effects);
                to(next)
            }
            NodeKind::Recording { action, next } => {
                let caller = FlowCaller {
                    call: s.call,
                    switch: s.switch.clone(),
                    channel: s.channel.clone(),
                    flow: s.flow.clone(),
                    caller_number: s.caller_number.clone(),
                    destination: s.destination.clone(),
                };
                let done = self.flow_recording(now, caller, *action, s.node.as_str(), effects);
                // A flow goes on either way: a PCI step must not strand the caller.
                self.step(
                    now,
                    s,
                    if done.is_ok() { "next" } else { "refused" },
                    effects,
                );
                to(next)
            }
            NodeKind::Set { variables, next } => {
                for (name, template) in variables {
                    let value = template.render(&s.variables, str::to_owned);
                    s.variables.insert(name.clone(), capped(&value));
                }
                self.step(now, s, "next", effects);
                to(next)
            }
            NodeKind::Http(http) => {
                let url = http.url.render(&s.variables, |v| {
                    utf8_percent_encode(v, URL_VALUE).to_string()
                });
                // Variables fill the path and query only (checked when the flow loaded); a
                // rendered URL that would reach another host is not sent.
                if url_origin(&url) != url_origin(http.url.fixed_prefix()) {
                    self.step(now, s, "error", effects);
                    return to(&http.on_error);
                }
                let body = http
                    .body
                    .as_ref()
                    .map(|b| b.render(&s.variables, json_escape));
                self.http_seq += 1;
                let id = HttpRequestId(self.http_seq);
                self.http_waits.insert(id, s.channel.clone());
                s.phase = Phase::Requesting(id);
                effects.push(Effect::Http(HttpRequest {
                    id,
                    method: http.method,
                    url,
                    body,
                    timeout: http.timeout,
                }));
                self.arm(now, s, http.timeout + HTTP_GUARD, effects);
                None
            }
            NodeKind::Record { prompt, .. } => {
                match prompt {
                    Some(prompt) => self.play(s, prompt, AfterPrompt::Record, effects),
                    None => self.start_recording(now, s, effects),
                }
                None
            }
            NodeKind::Goto { flow } => {
                self.step(now, s, "goto", effects);
                Some(Target::Flow(flow.clone()))
            }
            NodeKind::Enqueue(_) if s.survey.is_some() => {
                self.fail(now, s, "a survey cannot enqueue", effects);
                None
            }
            NodeKind::Enqueue(enqueue) => {
                let mut notes = Vec::new();
                let priority = match &enqueue.priority {
                    None => 0,
                    Some(template) => {
                        let text = template.render(&s.variables, str::to_owned);
                        text.trim().parse::<i32>().unwrap_or_else(|_| {
                            notes.push(format!("priority {text:?} is not a number, 0 used"));
                            0
                        })
                    }
                };
                let skills = match &enqueue.skills {
                    None => Vec::new(),
                    Some(template) => {
                        let text = template.render(&s.variables, str::to_owned);
                        parse_skill_list(&text).unwrap_or_else(|e| {
                            notes.push(format!("skills {text:?} ignored: {e}"));
                            Vec::new()
                        })
                    }
                };
                let outcome = std::iter::once("enqueued".to_owned())
                    .chain(notes)
                    .collect::<Vec<_>>()
                    .join("; ");
                self.step(now, s, &outcome, effects);
                self.stop_media(s, effects);
                self.end(now, s, FlowOutcome::Enqueued, effects);
                let parked = ParkedCall {
                    switch: s.switch.clone(),
                    channel: s.channel.clone(),
                    queue: enqueue.queue.clone(),
                    caller_number: s.caller_number.clone(),
                    caller_name: s.caller_name.clone(),
                    destination: s.destination.clone(),
                    priority,
                    skills,
                };
                let variables = public_variables(s);
                self.admit_call(now, Some(s.call), parked, variables, false, effects);
                self.recording_joins_queue(s.call, &enqueue.queue);
                if let Some(call) = self.calls.get_mut(&s.call) {
                    call.survey = enqueue.survey.clone();
                }
                None
            }
            NodeKind::Transfer { destination } => {
                // The same `number[@context]` rules as an overflow to an extension.
                let text = destination.render(&s.variables, str::to_owned);
                match format!("extension:{text}").parse::<Destination>() {
                    Ok(Destination::Extension { number, context }) => {
                        self.step(now, s, "transferred", effects);
                        self.stop_media(s, effects);
                        effects.push(Effect::switch(
                            &s.switch,
                            &s.channel,
                            SwitchCommand::Transfer {
                                channel: s.channel.clone(),
                                extension: number,
                                context,
                            },
                        ));
                        self.end(now, s, FlowOutcome::Transferred, effects);
                    }
                    _ => self.fail(now, s, &format!("cannot transfer to {text:?}"), effects),
                }
                None
            }
            NodeKind::Voicemail { mailbox } => {
                // The same `mailbox@domain` rules as an overflow to voicemail.
                let text = mailbox.render(&s.variables, str::to_owned);
                match format!("voicemail:{text}").parse::<Destination>() {
                    Ok(Destination::Voicemail { domain, mailbox }) => {
                        self.step(now, s, "voicemail", effects);
                        self.stop_media(s, effects);
                        effects.push(Effect::switch(
                            &s.switch,
                            &s.channel,
                            SwitchCommand::Voicemail {
                                channel: s.channel.clone(),
                                domain,
                                mailbox,
                            },
                        ));
                        self.end(now, s, FlowOutcome::Voicemail, effects);
                    }
                    _ => self.fail(
                        now,
                        s,
                        &format!("no voicemail box {text:?} (mailbox@domain)"),
                        effects,
                    ),
                }
                None
            }
            NodeKind::Hangup { cause } => {
                let cause = match (Destination::Hangup {
                    cause: cause.clone(),
                })
                .check()
                {
                    Ok(()) => cause.as_str(),
                    Err(_) => Destination::DEFAULT_HANGUP_CAUSE,
                };
                self.step(now, s, "hung up", effects);
                self.hang_up(s, cause, effects);
                self.end(now, s, FlowOutcome::HungUp, effects);
                None
            }
        }
    }

    /// Keys typed ahead go to the menu or collect that just started, as if pressed now; its
    /// prompt is skipped.
    fn replay_typed_ahead(
        &mut self,
        now: Timestamp,
        s: &mut FlowSession,
        effects: &mut Vec<Effect>,
    ) {
        s.phase = Phase::Listening;
        let keys = std::mem::take(&mut s.typed_ahead);
        let flows = Arc::clone(&s.flows);
        if let Some(NodeKind::Collect(collect)) = current(&flows, s).map(|n| &n.kind) {
            self.arm(now, s, collect.inter_digit_timeout, effects);
        }
        for digit in keys.chars() {
            self.key(now, s, digit, effects);
        }
    }

    /// A key from the caller, wherever the flow is.
    fn key(&mut self, now: Timestamp, s: &mut FlowSession, digit: char, effects: &mut Vec<Effect>) {
        if s.ended {
            return;
        }
        let flows = Arc::clone(&s.flows);
        let Some(node) = current(&flows, s) else {
            return;
        };
        let during_prompt = matches!(
            s.phase,
            Phase::Playing(AfterPrompt::Listen | AfterPrompt::Prompt)
        );
        match (&s.phase, &node.kind) {
            (Phase::Listening, NodeKind::Menu(menu)) => self.menu_key(now, s, menu, digit, effects),
            (_, NodeKind::Menu(menu)) if during_prompt && menu.barge_in => {
                self.stop_media(s, effects);
                s.phase = Phase::Listening;
                self.menu_key(now, s, menu, digit, effects);
            }
            (Phase::Listening, NodeKind::Collect(collect)) => {
                self.collect_key(now, s, collect, digit, effects)
            }
            (_, NodeKind::Collect(collect)) if during_prompt => {
                self.stop_media(s, effects);
                s.phase = Phase::Listening;
                self.collect_key(now, s, collect, digit, effects);
            }
            (Phase::Playing(AfterPrompt::Next) | Phase::Requesting(_), _)
                if s.typed_ahead.len() < MAX_TYPED_AHEAD =>
            {
                s.typed_ahead.push(digit);
            }
            // A menu's prompt without barge-in, a recording and its prompt: keys do not count.
            _ => {}
        }
    }

    fn menu_key(
        &mut self,
        now: Timestamp,
        s: &mut FlowSession,
        menu: &Menu,
        digit: char,
        effects: &mut Vec<Effect>,
    ) {
        s.keys.push(digit);
        match menu.options.get(&digit) {
            Some(next) => {
                self.step(now, s, &digit.to_string(), effects);
                self.go(now, s, Target::Node(next.clone()), effects);
            }
            None => self.menu_retry(now, s, menu, true, effects),
        }
    }

    /// An invalid key or none: another try with the matching prompt, or the way out.
    fn menu_retry(
        &mut self,
        now: Timestamp,
        s: &mut FlowSession,
        menu: &Menu,
        invalid: bool,
        effects: &mut Vec<Effect>,
    ) {
        s.attempts += 1;
        if s.attempts > menu.retries {
            let (label, next) = if invalid {
                ("invalid", &menu.on_invalid)
            } else {
                ("no input", &menu.on_no_input)
            };
            self.step(now, s, label, effects);
            self.go(now, s, Target::Node(next.clone()), effects);
            return;
        }
        let before = if invalid {
            menu.invalid_prompt.as_ref()
        } else {
            menu.no_input_prompt.as_ref()
        };
        s.retry_invalid = invalid;
        match before {
            Some(prompt) => self.play(s, prompt, AfterPrompt::Prompt, effects),
            None => self.play(s, &menu.prompt, AfterPrompt::Listen, effects),
        }
    }

    fn collect_key(
        &mut self,
        now: Timestamp,
        s: &mut FlowSession,
        collect: &Collect,
        digit: char,
        effects: &mut Vec<Effect>,
    ) {
        s.keys.push(digit);
        if Some(digit) == collect.terminator {
            self.finish_entry(now, s, collect, effects);
            return;
        }
        s.entry.push(digit);
        if s.entry.chars().count() >= collect.max_digits as usize {
            self.finish_entry(now, s, collect, effects);
        } else {
            self.arm(now, s, collect.inter_digit_timeout, effects);
        }
    }

    /// The entry is complete (terminator, max digits or inter-digit timeout): kept if long
    /// enough and matching the pattern, else another try.
    fn finish_entry(
        &mut self,
        now: Timestamp,
        s: &mut FlowSession,
        collect: &Collect,
        effects: &mut Vec<Effect>,
    ) {
        let length = s.entry.chars().count();
        let valid = length >= collect.min_digits as usize
            && length <= collect.max_digits as usize
            && collect
                .pattern
                .as_ref()
                .is_none_or(|p| p.is_match(&s.entry));
        if !valid {
            self.collect_retry(now, s, collect, true, effects);
            return;
        }
        let value = std::mem::take(&mut s.entry);
        s.variables.insert(collect.variable.clone(), value);
        if collect.secret || self.recording_is_private(s.call) {
            s.secrets.insert(collect.variable.clone());
        } else {
            s.secrets.remove(&collect.variable);
        }
        self.step(now, s, "collected", effects);
        self.go(now, s, Target::Node(collect.next.clone()), effects);
    }

    fn collect_retry(
        &mut self,
        now: Timestamp,
        s: &mut FlowSession,
        collect: &Collect,
        invalid: bool,
        effects: &mut Vec<Effect>,
    ) {
        s.entry.clear();
        s.attempts += 1;
        if s.attempts > collect.retries {
            self.step(now, s, "failed", effects);
            self.go(now, s, Target::Node(collect.on_failure.clone()), effects);
            return;
        }
        s.retry_invalid = invalid;
        match collect.invalid_prompt.as_ref().filter(|_| invalid) {
            Some(prompt) => self.play(s, prompt, AfterPrompt::Prompt, effects),
            None => self.play(s, &collect.prompt, AfterPrompt::Listen, effects),
        }
    }

    /// The media the session waited for has ended (played, broken off, missing, refused).
    fn media_ended(&mut self, now: Timestamp, s: &mut FlowSession, effects: &mut Vec<Effect>) {
        let flows = Arc::clone(&s.flows);
        let Some(node) = current(&flows, s) else {
            return;
        };
        match (s.phase.clone(), &node.kind) {
            (Phase::Playing(AfterPrompt::Next), NodeKind::Play { next, .. }) => {
                self.step(now, s, "next", effects);
                self.go(now, s, Target::Node(next.clone()), effects);
            }
            (Phase::Playing(AfterPrompt::Listen), NodeKind::Menu(menu)) => {
                s.phase = Phase::Listening;
                self.arm(now, s, menu.timeout, effects);
            }
            (Phase::Playing(AfterPrompt::Listen), NodeKind::Collect(collect)) => {
                s.phase = Phase::Listening;
                self.arm(now, s, collect.timeout, effects);
            }
            (Phase::Playing(AfterPrompt::Prompt), NodeKind::Menu(menu)) => {
                self.play(s, &menu.prompt, AfterPrompt::Listen, effects)
            }
            (Phase::Playing(AfterPrompt::Prompt), NodeKind::Collect(collect)) => {
                self.play(s, &collect.prompt, AfterPrompt::Listen, effects)
            }
            (Phase::Playing(AfterPrompt::Record), NodeKind::Record { .. }) => {
                self.start_recording(now, s, effects)
            }
            (Phase::Recording { path }, NodeKind::Record { variable, next, .. }) => {
                s.variables.insert(variable.clone(), path);
                self.step(now, s, "recorded", effects);
                self.go(now, s, Target::Node(next.clone()), effects);
            }
            _ => {}
        }
    }

    fn start_recording(&mut self, now: Timestamp, s: &mut FlowSession, effects: &mut Vec<Effect>) {
        let flows = Arc::clone(&s.flows);
        let Some(NodeKind::Record { max_length, .. }) = current(&flows, s).map(|n| &n.kind) else {
            return;
        };
        let node: String = s
            .node
            .as_str()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = format!("switchboard/{}-{node}.wav", s.call);
        s.media_pending += 1;
        s.phase = Phase::Recording { path: path.clone() };
        effects.push(Effect::switch(
            &s.switch,
            &s.channel,
            SwitchCommand::Record {
                channel: s.channel.clone(),
                path,
                max: *max_length,
            },
        ));
        self.arm(now, s, *max_length + RECORD_GUARD, effects);
    }

    /// Plays a prompt; the session waits for its end (`then` says what follows).
    fn play(
        &mut self,
        s: &mut FlowSession,
        media: &Media,
        then: AfterPrompt,
        effects: &mut Vec<Effect>,
    ) {
        let channel = s.channel.clone();
        let command = match media {
            Media::File(file) => SwitchCommand::Play {
                channel,
                source: file.clone(),
            },
            Media::Tone(spec) => SwitchCommand::Play {
                channel,
                source: format!("tone_stream://{spec}"),
            },
            Media::Say {
                text,
                what,
                language,
            } => {
                let text = text.render(&s.variables, str::to_owned);
                SwitchCommand::Say {
                    channel,
                    language: language.clone(),
                    kind: say_kind(*what),
                    text: match what {
                        SayAs::Date => date_as_seconds(&text),
                        _ => text,
                    },
                }
            }
        };
        s.epoch += 1;
        s.media_pending += 1;
        s.phase = Phase::Playing(then);
        effects.push(Effect::switch(&s.switch, &s.channel, command));
    }

    /// Stops a prompt still playing (a key barged in, or the caller leaves the flow).
    fn stop_media(&self, s: &FlowSession, effects: &mut Vec<Effect>) {
        if s.media_pending > 0 && matches!(s.phase, Phase::Playing(_)) {
            effects.push(Effect::switch(
                &s.switch,
                &s.channel,
                SwitchCommand::Break {
                    channel: s.channel.clone(),
                },
            ));
        }
    }

    /// Waits `after` for the caller (or a reply); an earlier wait's timer becomes stale.
    fn arm(&self, now: Timestamp, s: &mut FlowSession, after: Duration, effects: &mut Vec<Effect>) {
        s.epoch += 1;
        effects.push(Effect::SetTimer {
            at: now.plus(after),
            timer: Timer::Flow {
                channel: s.channel.clone(),
                epoch: s.epoch,
            },
        });
    }

    /// The history step of the current node.
    fn step(&self, now: Timestamp, s: &FlowSession, outcome: &str, effects: &mut Vec<Effect>) {
        let flows = Arc::clone(&s.flows);
        let node = current(&flows, s);
        // Keys pressed while the call's recording is paused or masked (a card number) are
        // as secret as a PIN.
        let secret = matches!(node.map(|n| &n.kind), Some(NodeKind::Collect(c)) if c.secret)
            || self.recording_is_private(s.call);
        let digits = if secret && !s.keys.is_empty() {
            HIDDEN.to_owned()
        } else {
            s.keys.clone()
        };
        effects.push(Effect::Persist(Record::FlowStep {
            call: s.call,
            flow: s.flow.clone(),
            node: s.node.to_string(),
            kind: node.map_or("unknown", |n| n.kind.name()).to_owned(),
            digits,
            outcome: outcome.to_owned(),
            survey: s.survey.is_some(),
            at: now,
        }));
    }

    fn hang_up(&self, s: &FlowSession, cause: &str, effects: &mut Vec<Effect>) {
        effects.push(hangup(&s.switch, &s.channel, cause));
    }

    /// The flow cannot go on at this node: the caller is hung up, the reason in its history.
    fn fail(
        &mut self,
        now: Timestamp,
        s: &mut FlowSession,
        reason: &str,
        effects: &mut Vec<Effect>,
    ) {
        self.step(now, s, reason, effects);
        self.hang_up(s, FLOW_FAILURE_CAUSE, effects);
        self.end(now, s, FlowOutcome::HungUp, effects);
    }

    /// The caller leaves the flows.
    fn end(
        &mut self,
        now: Timestamp,
        s: &mut FlowSession,
        outcome: FlowOutcome,
        effects: &mut Vec<Effect>,
    ) {
        if let Phase::Requesting(request) = s.phase {
            self.http_waits.remove(&request);
        }
        s.ended = true;
        // A recording the flow started follows an enqueued caller; one leaving our hands
        // (transferred, voicemail, hung up) stops here, and the switch stopped it for one who
        // hung up.
        match outcome {
            FlowOutcome::Enqueued => {}
            FlowOutcome::Abandoned => self.recording_caller_gone(now, s.call, effects),
            FlowOutcome::Transferred | FlowOutcome::Voicemail | FlowOutcome::HungUp => {
                self.recording_bridge_over(now, s.call, effects)
            }
        }
        let record = match &s.survey {
            Some(before) => Record::SurveyEnded {
                call: s.call,
                outcome,
                answers: public_variables(s)
                    .into_iter()
                    .filter(|(name, value)| before.get(name) != Some(value))
                    .collect(),
                at: now,
            },
            None => Record::FlowEnded {
                call: s.call,
                outcome,
                variables: public_variables(s),
                at: now,
            },
        };
        effects.push(Effect::Persist(record));
    }
}

/// A session of `call` at `node` of `flow`, with the variables it carries and the built-ins.
fn new_session(
    id: CallId,
    call: FlowCall,
    (flows, flow, node): (Arc<FlowSet>, FlowId, NodeId),
    variables: Vec<(String, String)>,
) -> FlowSession {
    let known = variables_with(
        variables,
        &[
            ("caller_number", &call.caller_number),
            ("caller_name", &call.caller_name),
            ("destination_number", &call.destination),
            ("entry_point", &call.entry),
            ("call_id", &id.to_string()),
        ],
    );
    FlowSession::new(Start {
        call: id,
        switch: call.switch,
        channel: call.channel,
        caller_number: call.caller_number,
        caller_name: call.caller_name,
        destination: call.destination,
        flows,
        flow,
        node,
        variables: known,
        survey: false,
    })
}

/// A session's variables: the ones it carries, and the built-ins, cut to size.
fn variables_with(
    kept: Vec<(String, String)>,
    built_in: &[(&str, &str)],
) -> HashMap<String, String> {
    let mut variables: HashMap<String, String> = kept.into_iter().collect();
    for (name, value) in built_in {
        variables.insert((*name).to_owned(), capped(value));
    }
    variables
}

/// Hangs up `channel` with `cause` (a Q.850 cause name).
fn hangup(switch: &SwitchName, channel: &ChannelId, cause: &str) -> Effect {
    Effect::switch(
        switch,
        channel,
        SwitchCommand::Hangup {
            channel: channel.clone(),
            cause: cause.to_owned(),
        },
    )
}

fn current<'a>(flows: &'a FlowSet, s: &FlowSession) -> Option<&'a Node> {
    flows.get(&s.flow).and_then(|f| f.node(&s.node))
}

/// What the caller entered and the CRM returned, by name: no built-ins (the history has them
/// already), no secrets.
fn public_variables(s: &FlowSession) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = s
        .variables
        .iter()
        .filter(|(name, _)| !BUILT_IN.contains(&name.as_str()) && !s.secrets.contains(*name))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    out.sort();
    out
}

fn holds(test: &Test, variables: &HashMap<String, String>) -> bool {
    let value = |name: &str| variables.get(name).map(String::as_str);
    let number = |name: &str| value(name).and_then(|v| v.trim().parse::<f64>().ok());
    match test {
        Test::Equals { variable, value: v } => value(variable).unwrap_or("") == v,
        Test::NotEquals { variable, value: v } => value(variable).unwrap_or("") != v,
        Test::Matches { variable, pattern } => pattern.is_match(value(variable).unwrap_or("")),
        Test::LessThan { variable, value: v } => number(variable).is_some_and(|n| n < *v),
        Test::GreaterThan { variable, value: v } => number(variable).is_some_and(|n| n > *v),
        Test::Present { variable } => value(variable).is_some_and(|v| !v.is_empty()),
    }
}

fn say_kind(what: SayAs) -> SayKind {
    match what {
        SayAs::Number => SayKind::Number,
        SayAs::Digits => SayKind::Digits,
        SayAs::Date => SayKind::Date,
        SayAs::Money => SayKind::Money,
        SayAs::Duration => SayKind::Duration,
    }
}

/// `say ... current_date` reads seconds since 1970; a `2026-11-22` date is taken at noon UTC
/// so no time zone moves it to another day.
fn date_as_seconds(text: &str) -> String {
    let text = text.trim();
    if text.parse::<i64>().is_ok() {
        return text.to_owned();
    }
    match text.parse::<jiff::civil::Date>() {
        Ok(date) => date
            .at(12, 0, 0, 0)
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp().as_second().to_string())
            .unwrap_or_else(|_| text.to_owned()),
        Err(_) => text.to_owned(),
    }
}

/// A value as it goes inside a JSON string literal.
fn json_escape(value: &str) -> String {
    let quoted = serde_json::Value::String(value.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

fn capped(value: &str) -> String {
    if value.len() <= MAX_VALUE_LEN {
        return value.to_owned();
    }
    let mut end = MAX_VALUE_LEN;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    value[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_in_a_json_body_are_escaped_and_dates_become_seconds() {
        assert_eq!(json_escape("a\"b\\c\n"), "a\\\"b\\\\c\\n");
        assert_eq!(date_as_seconds("2026-11-22"), "1795348800");
        assert_eq!(date_as_seconds("1795348800"), "1795348800");
        assert_eq!(capped(&"é".repeat(400)).len(), MAX_VALUE_LEN);
    }
}
