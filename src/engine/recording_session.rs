//! Recordings in progress: when the switch is asked to record a call, and how each recording
//! goes from its start to its one end.
//!
//! A queue's policy starts a recording when the caller is connected to the agent (`connect`,
//! and a callback's customer answering); a supervisor, or the agent on the call, starts,
//! stops, pauses, resumes, masks and unmasks one on demand ([`Engine::control_recording`]).
//! The switch's `session_record` media bug runs on the caller's channel, so it hears both
//! parties and the switch stops it by itself when that channel hangs up.
//!
//! Every recording ends exactly once (`Record::RecordingStopped`): when the agent's leg goes
//! (the engine stops it; the caller may go on to a survey), when the caller hangs up (the
//! switch stops it), on a RECORD_STOP the engine did not ask for (a limit or an error), when
//! the switch refuses the start, or on request. Whatever arrives after the end is ignored.
//! Paused time is left out of the duration, as the switch leaves it out of the file; masked
//! time is in both, as silence. A paused or masked recording resumes by itself after the
//! policy's `auto_resume` (timers carry the recording's epoch, bumped on every change, so a
//! timer from before a later change is stale). While a recording is paused or masked, keys
//! pressed on its call are dropped where they enter the engine ([`Engine::dtmf_is_private`]),
//! so they reach no history, event or webhook.
//!
//! Consent: a caller entering a queue that may record (any mode but `never`) with a notice
//! hears it before the hold music, once per call (an overflow to another queue keeps what the
//! caller heard and said); the opt-out key pressed while waiting turns what the policy would
//! have recorded into a declined recording, and refuses a start on demand.

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;
use thiserror::Error;

use super::core::{millis_between, Engine};
use super::ids::{AgentId, CallId, ChannelId, FlowId, QueueId, RecordingId, SwitchName};
use super::io::{Effect, SwitchCommand, Timer};
use super::model::{CallState, LegOwner};
use super::record::Record;
use super::recording::{
    Consent, ConsentNotice, RecordingAction, RecordingActor, RecordingMode, RecordingNames,
    RecordingPolicy, RecordingReason, RecordingTemplate,
};
use super::time::Timestamp;

/// The switch stops a recording by itself after this long (`uuid_record … start <path>
/// <limit>`): no call lasts that long, and a recording the controller lost track of (a
/// restart) cannot fill the switch's disk.
pub const RECORDING_LIMIT: Duration = Duration::from_secs(4 * 3600);

/// A recording the switch is making.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveRecording {
    pub id: RecordingId,
    pub call: CallId,
    pub switch: SwitchName,
    /// The channel recorded (the caller's), which every command for it names.
    pub caller: ChannelId,
    pub agent_leg: Option<ChannelId>,
    /// None for a recording a flow started, until the caller reaches a queue.
    pub queue: Option<QueueId>,
    pub agent: Option<AgentId>,
    /// On the switch's disk.
    pub path: String,
    /// Under the switch's recordings directory.
    pub relative_path: String,
    pub started_at: Timestamp,
    pub paused_since: Option<Timestamp>,
    pub masked_since: Option<Timestamp>,
    /// Paused time of earlier pauses (the current one, if any, is counted from `paused_since`).
    pub paused_ms: i64,
    /// Bumped on every change; auto-resume timers carry it.
    pub epoch: u64,
    pub beep_every: Option<Duration>,
    pub auto_resume: Duration,
    pub retention: Option<Duration>,
}

impl ActiveRecording {
    fn private(&self) -> bool {
        self.paused_since.is_some() || self.masked_since.is_some()
    }

    /// What the file holds by `now`: the wall time less the paused time.
    fn duration_ms(&self, now: Timestamp) -> i64 {
        let paused = self.paused_ms + self.paused_since.map_or(0, |s| millis_between(s, now));
        (millis_between(self.started_at, now) - paused).max(0)
    }
}

/// The folder (the template's `{queue}`) of recordings a flow starts: `flows/<flow>`.
const FLOW_TEMPLATE: &str = "{date}/flows/{queue}/{recording}.wav";

/// Who and what a new recording is of.
struct Subject {
    call: CallId,
    switch: SwitchName,
    caller: ChannelId,
    agent_leg: Option<ChannelId>,
    queue: Option<QueueId>,
    /// What the template's `{queue}` names: the queue, or the flow.
    folder: QueueId,
    agent: Option<AgentId>,
    caller_number: String,
    destination: String,
    consent: Consent,
}

/// A caller in a flow, as a recording needs it.
pub(super) struct FlowCaller {
    pub(super) call: CallId,
    pub(super) switch: SwitchName,
    pub(super) channel: ChannelId,
    pub(super) flow: FlowId,
    pub(super) caller_number: String,
    pub(super) destination: String,
}

/// The engine's recordings: those in progress, and where each switch keeps its files.
#[derive(Debug, Default)]
pub(super) struct Recordings {
    pub(super) active: super::tracked::Tracked<RecordingId, ActiveRecording>,
    /// The recording in progress of each call (a call has at most one at a time).
    pub(super) by_call: super::tracked::Tracked<CallId, RecordingId>,
    /// Each switch's recordings directory, without a trailing `/`.
    dirs: HashMap<SwitchName, String>,
}

/// A call's recording as the snapshot shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CallRecordingView {
    pub id: RecordingId,
    pub paused: bool,
    pub masked: bool,
}

/// Why a request about a call's recording is refused; the API turns these into problem
/// details (404 for an unknown call, 403 for an agent's request about another's call, 409
/// for the rest).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RecordingControlError {
    #[error("no call {0} in progress")]
    UnknownCall(CallId),
    #[error(
        "call {call} is not agent {agent}'s: an agent controls the recording of its own call only"
    )]
    NotTheAgentsCall { call: CallId, agent: AgentId },
    #[error("call {0} is not connected to an agent: there is nothing to record yet")]
    NotConnected(CallId),
    #[error("call {call} is already being recorded (recording {recording})")]
    AlreadyRecording {
        call: CallId,
        recording: RecordingId,
    },
    #[error("call {0} is not being recorded")]
    NotRecording(CallId),
    #[error("the caller of call {0} declined recording")]
    DeclinedByCaller(CallId),
    #[error("recording {0} is already paused")]
    AlreadyPaused(RecordingId),
    #[error("recording {0} is not paused")]
    NotPaused(RecordingId),
    #[error("recording {0} is already masked")]
    AlreadyMasked(RecordingId),
    #[error("recording {0} is not masked")]
    NotMasked(RecordingId),
}

impl Engine {
    /// Where `switch` writes recordings (absolute, checked by the config); a switch without
    /// one uses the configuration's default.
    pub fn set_recordings_dir(&mut self, switch: SwitchName, dir: &str) {
        let dir = match dir.trim_end_matches('/') {
            "" => "/",
            trimmed => trimmed,
        };
        self.recordings.dirs.insert(switch, dir.to_owned());
    }

    /// The recording in progress on a call, if any.
    pub fn recording_of(&self, call: CallId) -> Option<CallRecordingView> {
        let r = self.active_of(call)?;
        Some(CallRecordingView {
            id: r.id,
            paused: r.paused_since.is_some(),
            masked: r.masked_since.is_some(),
        })
    }

    /// Whether `agent` is the one on `call` (answered it, whispering or talking).
    pub fn is_agent_on_call(&self, call: CallId, agent: &AgentId) -> bool {
        self.calls.get(&call).is_some_and(|c| match &c.state {
            CallState::Bridged { agent: a, .. }
            | CallState::Whispering { agent: a, .. }
            | CallState::CallingBack { agent: a, .. } => a == agent,
            CallState::Waiting | CallState::Ringing { .. } => false,
        })
    }

    /// Starts, stops, pauses, resumes, masks or unmasks the recording of a connected call.
    /// A start on demand works whatever the queue's mode, unless the caller declined.
    pub fn control_recording(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        action: RecordingAction,
        by: RecordingActor,
    ) -> Result<(RecordingId, Vec<Effect>), RecordingControlError> {
        let call = self
            .calls
            .get(&call_id)
            .ok_or(RecordingControlError::UnknownCall(call_id))?;
        let active = self.recordings.by_call.get(&call_id).copied();
        let mut effects = Vec::new();
        let id = match (action, active) {
            (RecordingAction::Start, Some(recording)) => {
                return Err(RecordingControlError::AlreadyRecording {
                    call: call_id,
                    recording,
                })
            }
            (RecordingAction::Start, None) => {
                if !matches!(call.state, CallState::Bridged { .. }) {
                    return Err(RecordingControlError::NotConnected(call_id));
                }
                if call.consent.opted_out_at.is_some() {
                    return Err(RecordingControlError::DeclinedByCaller(call_id));
                }
                self.start_call_recording(now, call_id, RecordingReason::OnDemand, by, &mut effects)
                    .ok_or(RecordingControlError::NotConnected(call_id))?
            }
            (_, None) => return Err(RecordingControlError::NotRecording(call_id)),
            (RecordingAction::Stop, Some(id)) => {
                self.stop_recording(now, id, by, &mut effects);
                id
            }
            (change, Some(id)) => {
                self.change_recording(now, id, change, by, &mut effects)?;
                self.arm_auto_resume(id, &mut effects);
                id
            }
        };
        Ok((id, effects))
    }

    /// The call has just been connected: its queue's policy decides whether it is recorded.
    pub(super) fn record_by_policy(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        effects: &mut Vec<Effect>,
    ) {
        if self.recordings.by_call.contains_key(&call_id) {
            return;
        }
        let Some(call) = self.calls.get(&call_id) else {
            return;
        };
        let Some(policy) = self
            .queues
            .get(&call.queue)
            .map(|q| &q.settings.routing.recording)
        else {
            return;
        };
        let (reason, share) = match policy.mode {
            RecordingMode::Never | RecordingMode::OnDemand => return,
            RecordingMode::Always => (RecordingReason::Always, 100),
            RecordingMode::Percent(share) => (RecordingReason::Sampled, share),
        };
        let retention = policy.retention;
        if call.consent.opted_out_at.is_some() {
            let id = RecordingId::from_uuid(self.new_uuid());
            let Some(call) = self.calls.get(&call_id) else {
                return;
            };
            let CallState::Bridged { agent, .. } = &call.state else {
                return;
            };
            effects.push(Effect::Persist(Record::RecordingDeclined {
                recording: id,
                call: call_id,
                switch: call.switch.clone(),
                queue: call.queue.clone(),
                agent: Some(agent.clone()),
                caller_number: call.caller_number.clone(),
                destination: call.destination.clone(),
                consent: call.consent,
                retain_until: retention.map(|d| now.plus(d)),
                at: now,
            }));
            return;
        }
        if share < 100 && self.rng.next_u64() % 100 >= u64::from(share) {
            return;
        }
        self.start_call_recording(now, call_id, reason, RecordingActor::Policy, effects);
    }

    /// Asks the switch to record the caller's channel of a connected call, and keeps the
    /// recording. `None` when the call is not connected.
    fn start_call_recording(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        reason: RecordingReason,
        by: RecordingActor,
        effects: &mut Vec<Effect>,
    ) -> Option<RecordingId> {
        let call = self.calls.get_mut(&call_id)?;
        let CallState::Bridged { agent, leg, .. } = &call.state else {
            return None;
        };
        let policy = self
            .queues
            .get(&call.queue)
            .map(|q| q.settings.routing.recording.clone())
            .unwrap_or_default();
        // A call recorded again (stopped and started on demand) gets a file of its own.
        let again = call.recordings;
        call.recordings += 1;
        let subject = Subject {
            call: call_id,
            switch: call.switch.clone(),
            caller: call.caller.clone(),
            agent_leg: Some(leg.clone()),
            queue: Some(call.queue.clone()),
            folder: call.queue.clone(),
            agent: Some(agent.clone()),
            caller_number: call.caller_number.clone(),
            destination: call.destination.clone(),
            consent: call.consent,
        };
        Some(self.begin_recording(now, subject, &policy, again, reason, by, effects))
    }

    /// Asks the switch to record `subject`'s caller channel under `policy`, and keeps the
    /// recording. `again` counts the call's earlier recordings (their files keep their names).
    #[allow(clippy::too_many_arguments)]
    fn begin_recording(
        &mut self,
        now: Timestamp,
        subject: Subject,
        policy: &RecordingPolicy,
        again: u32,
        reason: RecordingReason,
        by: RecordingActor,
        effects: &mut Vec<Effect>,
    ) -> RecordingId {
        let id = RecordingId::from_uuid(self.new_uuid());
        let relative = policy.template.render(&RecordingNames {
            at: now,
            queue: &subject.folder,
            call: &subject.call,
            recording: &id,
        });
        let relative = match (again, relative.strip_suffix(".wav")) {
            (0, _) | (_, None) => relative,
            (n, Some(stem)) => format!("{stem}-{}.wav", n + 1),
        };
        let dir = self
            .recordings
            .dirs
            .get(&subject.switch)
            .map_or(crate::config::DEFAULT_RECORDINGS_DIR, String::as_str);
        let path = match dir {
            "/" => format!("/{relative}"),
            dir => format!("{dir}/{relative}"),
        };
        let caller = subject.caller.clone();
        let command = |command| Effect::switch(&subject.switch, &caller, command);
        if policy.stereo {
            effects.push(command(SwitchCommand::RecordStereo {
                channel: caller.clone(),
            }));
        }
        effects.push(command(SwitchCommand::SessionRecord {
            channel: caller.clone(),
            action: RecordingAction::Start,
            path: path.clone(),
            limit: Some(RECORDING_LIMIT),
        }));
        effects.push(Effect::Persist(Record::RecordingStarted {
            recording: id,
            call: subject.call,
            switch: subject.switch.clone(),
            channel: caller.clone(),
            agent_channel: subject.agent_leg.clone(),
            queue: subject.queue.clone(),
            agent: subject.agent.clone(),
            caller_number: subject.caller_number,
            destination: subject.destination,
            path: path.clone(),
            relative_path: relative.clone(),
            stereo: policy.stereo,
            reason,
            by,
            consent: subject.consent,
            at: now,
        }));
        if let Some(every) = policy.beep_every {
            effects.push(Effect::SetTimer {
                at: now.plus(every),
                timer: Timer::RecordingBeep { recording: id },
            });
        }
        let recording = ActiveRecording {
            id,
            call: subject.call,
            switch: subject.switch,
            caller,
            agent_leg: subject.agent_leg,
            queue: subject.queue,
            agent: subject.agent,
            path,
            relative_path: relative,
            started_at: now,
            paused_since: None,
            masked_since: None,
            paused_ms: 0,
            epoch: 0,
            beep_every: policy.beep_every,
            auto_resume: policy.auto_resume,
            retention: policy.retention,
        };
        self.recordings.by_call.insert(subject.call, id);
        self.recordings.active.insert(id, recording);
        id
    }

    /// A flow's `recording` node: starts a recording of the caller in the flow (under the
    /// default policy, filed by flow) or acts on the call's recording in progress.
    pub(super) fn flow_recording(
        &mut self,
        now: Timestamp,
        flow: FlowCaller,
        action: RecordingAction,
        node: &str,
        effects: &mut Vec<Effect>,
    ) -> Result<RecordingId, RecordingControlError> {
        let by = RecordingActor::Flow(node.to_owned());
        let active = self.recordings.by_call.get(&flow.call).copied();
        match (action, active) {
            (RecordingAction::Start, Some(recording)) => {
                Err(RecordingControlError::AlreadyRecording {
                    call: flow.call,
                    recording,
                })
            }
            (RecordingAction::Start, None) => {
                // Flow and queue ids follow the same rules: a flow names its own folder.
                let folder = QueueId::new(flow.flow.as_str())
                    .map_err(|_| RecordingControlError::NotConnected(flow.call))?;
                let policy = RecordingPolicy {
                    template: RecordingTemplate::parse(FLOW_TEMPLATE).unwrap_or_default(),
                    ..RecordingPolicy::default()
                };
                let subject = Subject {
                    call: flow.call,
                    switch: flow.switch,
                    caller: flow.channel,
                    agent_leg: None,
                    queue: None,
                    folder,
                    agent: None,
                    caller_number: flow.caller_number,
                    destination: flow.destination,
                    consent: Consent::default(),
                };
                Ok(self.begin_recording(
                    now,
                    subject,
                    &policy,
                    0,
                    RecordingReason::OnDemand,
                    by,
                    effects,
                ))
            }
            (_, None) => Err(RecordingControlError::NotRecording(flow.call)),
            (RecordingAction::Stop, Some(id)) => {
                self.stop_recording(now, id, by, effects);
                Ok(id)
            }
            (change, Some(id)) => {
                self.change_recording(now, id, change, by, effects)?;
                self.arm_auto_resume(id, effects);
                Ok(id)
            }
        }
    }

    /// The caller a flow started recording reached a queue: that queue's policy now says how
    /// long a pause may last, whether it beeps and how long the file is kept.
    pub(super) fn recording_joins_queue(&mut self, call_id: CallId, queue: &QueueId) {
        let Some(policy) = self
            .queues
            .get(queue)
            .map(|q| &q.settings.routing.recording)
        else {
            return;
        };
        let Some(r) = self
            .recordings
            .by_call
            .get(&call_id)
            .and_then(|id| self.recordings.active.get_mut(id))
        else {
            return;
        };
        if r.queue.is_none() {
            r.queue = Some(queue.clone());
            r.auto_resume = policy.auto_resume;
            r.retention = policy.retention;
        }
    }

    /// Whether the call's recording is paused or masked: keys pressed then are a secret.
    pub(super) fn recording_is_private(&self, call: CallId) -> bool {
        self.active_of(call).is_some_and(ActiveRecording::private)
    }

    /// Pauses, resumes, masks or unmasks a recording in progress (`Start` and `Stop` are not
    /// changes and are refused as such).
    pub(super) fn change_recording(
        &mut self,
        now: Timestamp,
        id: RecordingId,
        action: RecordingAction,
        by: RecordingActor,
        effects: &mut Vec<Effect>,
    ) -> Result<(), RecordingControlError> {
        let Some(r) = self.recordings.active.get_mut(&id) else {
            return Ok(());
        };
        match action {
            RecordingAction::Pause if r.paused_since.is_some() => {
                return Err(RecordingControlError::AlreadyPaused(id))
            }
            RecordingAction::Pause => r.paused_since = Some(now),
            RecordingAction::Resume => {
                let since = r
                    .paused_since
                    .take()
                    .ok_or(RecordingControlError::NotPaused(id))?;
                r.paused_ms += millis_between(since, now);
            }
            RecordingAction::Mask if r.masked_since.is_some() => {
                return Err(RecordingControlError::AlreadyMasked(id))
            }
            RecordingAction::Mask => r.masked_since = Some(now),
            RecordingAction::Unmask => {
                r.masked_since
                    .take()
                    .ok_or(RecordingControlError::NotMasked(id))?;
            }
            RecordingAction::Start | RecordingAction::Stop => return Ok(()),
        }
        r.epoch += 1;
        effects.push(Effect::switch(
            &r.switch,
            &r.caller,
            SwitchCommand::SessionRecord {
                channel: r.caller.clone(),
                action,
                path: r.path.clone(),
                limit: None,
            },
        ));
        effects.push(Effect::Persist(Record::RecordingChanged {
            recording: id,
            action,
            by,
            offset_ms: millis_between(r.started_at, now),
            at: now,
        }));
        Ok(())
    }

    /// A recording still paused or masked resumes by itself when the earlier of the two has
    /// lasted the policy's `auto_resume`.
    fn arm_auto_resume(&self, id: RecordingId, effects: &mut Vec<Effect>) {
        let Some(r) = self.recordings.active.get(&id) else {
            return;
        };
        let earliest = match (r.paused_since, r.masked_since) {
            (Some(p), Some(m)) => p.min(m),
            (Some(since), None) | (None, Some(since)) => since,
            (None, None) => return,
        };
        effects.push(Effect::SetTimer {
            at: earliest.plus(r.auto_resume),
            timer: Timer::RecordingAutoResume {
                recording: id,
                epoch: r.epoch,
            },
        });
    }

    pub(super) fn recording_auto_resume(
        &mut self,
        now: Timestamp,
        id: RecordingId,
        epoch: u64,
        effects: &mut Vec<Effect>,
    ) {
        let Some(r) = self.recordings.active.get(&id).filter(|r| r.epoch == epoch) else {
            return;
        };
        let due = |since: Option<Timestamp>| since.is_some_and(|s| s.plus(r.auto_resume) <= now);
        let (resume, unmask) = (due(r.paused_since), due(r.masked_since));
        for (action, wanted) in [
            (RecordingAction::Resume, resume),
            (RecordingAction::Unmask, unmask),
        ] {
            if wanted {
                // Only what is still paused or masked is changed: neither can be refused.
                let _ = self.change_recording(now, id, action, RecordingActor::AutoResume, effects);
            }
        }
        self.arm_auto_resume(id, effects);
    }

    /// The periodic beep of a recording in progress (none while it is paused: nothing is
    /// being recorded then).
    pub(super) fn recording_beep(
        &mut self,
        now: Timestamp,
        id: RecordingId,
        effects: &mut Vec<Effect>,
    ) {
        let Some(r) = self.recordings.active.get(&id) else {
            return;
        };
        let Some(every) = r.beep_every else {
            return;
        };
        if r.paused_since.is_none() {
            effects.push(Effect::switch(
                &r.switch,
                &r.caller,
                SwitchCommand::Beep {
                    channel: r.caller.clone(),
                },
            ));
        }
        effects.push(Effect::SetTimer {
            at: now.plus(every),
            timer: Timer::RecordingBeep { recording: id },
        });
    }

    /// Asks the switch to stop a recording and ends it.
    fn stop_recording(
        &mut self,
        now: Timestamp,
        id: RecordingId,
        by: RecordingActor,
        effects: &mut Vec<Effect>,
    ) {
        if let Some(r) = self.recordings.active.get(&id) {
            effects.push(Effect::switch(
                &r.switch,
                &r.caller,
                SwitchCommand::SessionRecord {
                    channel: r.caller.clone(),
                    action: RecordingAction::Stop,
                    path: r.path.clone(),
                    limit: None,
                },
            ));
        }
        self.finish_recording(now, id, by, None, effects);
    }

    /// The recording's one end.
    fn finish_recording(
        &mut self,
        now: Timestamp,
        id: RecordingId,
        by: RecordingActor,
        error: Option<String>,
        effects: &mut Vec<Effect>,
    ) {
        let Some(r) = self.recordings.active.remove(&id) else {
            return;
        };
        if self.recordings.by_call.get(&r.call) == Some(&id) {
            self.recordings.by_call.remove(&r.call);
        }
        effects.push(Effect::Persist(Record::RecordingStopped {
            recording: id,
            by,
            duration_ms: r.duration_ms(now),
            error,
            retain_until: r.retention.map(|d| now.plus(d)),
            at: now,
        }));
    }

    /// The agent's leg of the call is gone (the conversation is over, or the bridge failed):
    /// the caller's channel may live on (a survey, or waiting again), so the switch is told to
    /// stop.
    pub(super) fn recording_bridge_over(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        effects: &mut Vec<Effect>,
    ) {
        if let Some(id) = self.recordings.by_call.get(&call_id).copied() {
            self.stop_recording(now, id, RecordingActor::Policy, effects);
        }
    }

    /// The caller's channel is gone: the switch stopped the recording with it.
    pub(super) fn recording_caller_gone(
        &mut self,
        now: Timestamp,
        call_id: CallId,
        effects: &mut Vec<Effect>,
    ) {
        if let Some(id) = self.recordings.by_call.get(&call_id).copied() {
            self.finish_recording(now, id, RecordingActor::Switch, None, effects);
        }
    }

    /// RECORD_STOP: a recording the engine did not stop (its limit, or an error on the
    /// switch) ends here; one already ended is old news.
    pub(super) fn recording_stopped_by_switch(
        &mut self,
        now: Timestamp,
        switch: &SwitchName,
        channel: &ChannelId,
        path: &str,
        effects: &mut Vec<Effect>,
    ) {
        if let Some(id) = self.recording_at(switch, channel, path) {
            self.finish_recording(now, id, RecordingActor::Switch, None, effects);
        }
    }

    /// The switch refused to start a recording: it ends at once, failed, with the reply.
    pub(super) fn recording_start_failed(
        &mut self,
        now: Timestamp,
        switch: &SwitchName,
        channel: &ChannelId,
        path: &str,
        reply: String,
        effects: &mut Vec<Effect>,
    ) {
        if let Some(id) = self.recording_at(switch, channel, path) {
            self.finish_recording(now, id, RecordingActor::Switch, Some(reply), effects);
        }
    }

    fn recording_at(
        &self,
        switch: &SwitchName,
        channel: &ChannelId,
        path: &str,
    ) -> Option<RecordingId> {
        self.recordings
            .active
            .values()
            .find(|r| &r.switch == switch && &r.caller == channel && r.path == path)
            .map(|r| r.id)
    }

    /// The files of the recordings in progress.
    #[cfg(test)]
    pub(super) fn recordings_paths(&self) -> Vec<String> {
        self.recordings
            .active
            .values()
            .map(|r| r.path.clone())
            .collect()
    }

    fn active_of(&self, call: CallId) -> Option<&ActiveRecording> {
        self.recordings
            .by_call
            .get(&call)
            .and_then(|id| self.recordings.active.get(id))
    }

    /// Whether a key pressed on `channel` must be dropped unseen: its call's recording is
    /// paused or masked (a card number being read out).
    pub(super) fn dtmf_is_private(&self, channel: &ChannelId) -> bool {
        let call = match self.legs.get(channel) {
            Some(LegOwner::Caller(call) | LegOwner::Agent { call, .. }) => *call,
            _ => return false,
        };
        self.recording_is_private(call)
    }

    /// The recording notice, when the caller's queue may record and has one and the caller
    /// has not heard it yet: the prompt to play, and the call keeps when it started.
    pub(super) fn consent_notice(&mut self, now: Timestamp, call_id: CallId) -> Option<String> {
        let source = self.consent_notice_due(call_id)?.announcement.clone();
        let call = self.calls.get_mut(&call_id)?;
        call.consent.notice_at = Some(now);
        Some(source)
    }

    /// The notice the caller has yet to hear, if its queue may record and has one.
    pub(super) fn consent_notice_due(&self, call_id: CallId) -> Option<&ConsentNotice> {
        let call = self.calls.get(&call_id)?;
        let policy = &self.queues.get(&call.queue)?.settings.routing.recording;
        if policy.mode == RecordingMode::Never || call.consent.notice_at.is_some() {
            return None;
        }
        policy.consent.as_ref()
    }

    /// Whether the key a waiting caller pressed is its queue's opt-out key; the first press
    /// is kept. The key means nothing else then.
    pub(super) fn consent_opt_out(&mut self, now: Timestamp, call_id: CallId, digit: char) -> bool {
        let Some(call) = self.calls.get_mut(&call_id) else {
            return false;
        };
        let Some(queue) = self.queues.get(&call.queue) else {
            return false;
        };
        let policy = &queue.settings.routing.recording;
        let key = policy.consent.as_ref().and_then(|c| c.opt_out_digit);
        if policy.mode == RecordingMode::Never || key != Some(digit) {
            return false;
        }
        call.consent.opted_out_at.get_or_insert(now);
        true
    }
}

impl Recordings {
    /// Entry counts, for `sizes`.
    pub(super) fn sizes(&self, out: &mut Vec<(&'static str, usize)>) {
        out.push(("recordings.active", self.active.len()));
        out.push(("recordings.by_call", self.by_call.len()));
        out.push(("recordings.dirs", self.dirs.len()));
    }
}
