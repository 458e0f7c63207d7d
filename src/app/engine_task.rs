//! The one task that owns the engine: applies inputs in arrival order and carries out effects.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};
use tracing::{error, warn};

use super::clock::Clock;
use super::http::HttpRunner;
use crate::engine::recording::{RecordingAction, RecordingActor};
use crate::engine::{
    AgentId, AgentSettings, CallId, CallRecordingView, CallUpdate, CommandError, Effect, Engine,
    Input, Provisioned, Record, RecordingControlError, RequestedState, Snapshot, StoredCall,
    StoredFlow, SwitchName, Timer, Timestamp,
};
use crate::esl::{Outgoing, SwitchInput, SwitchLink};
use crate::flow::FlowSet;
use crate::metrics::Metrics;
use crate::store::Store;

/// How often the published snapshot is refreshed at most.
const PUBLISH_EVERY: Duration = Duration::from_millis(100);
/// Inputs applied before effects are flushed, to batch history writes under load.
const BATCH: usize = 256;

pub enum EngineRequest {
    SetAgentState {
        agent: AgentId,
        state: RequestedState,
        reply: oneshot::Sender<Result<(), CommandError>>,
    },
    /// A state asked for over REST that may wait for the agent's call (`engine::after_call`).
    SetAgentStateAfterCall {
        agent: AgentId,
        state: RequestedState,
        after_call: bool,
        reply: oneshot::Sender<Result<crate::engine::StateRequestOutcome, CommandError>>,
    },
    /// Gives a call a disposition code. With `agent`, only if that agent handles the call.
    SetDisposition {
        call: CallId,
        code: String,
        agent: Option<AgentId>,
        reply: oneshot::Sender<Result<crate::engine::DispositionSet, crate::engine::WrapUpError>>,
    },
    /// Lengthens an agent's wrap-up, up to its queue's maximum; replies when it now ends.
    ExtendWrapUp {
        agent: AgentId,
        by: Duration,
        reply: oneshot::Sender<Result<crate::engine::Timestamp, crate::engine::WrapUpError>>,
    },
    UpdateCall {
        call: CallId,
        update: CallUpdate,
        reply: oneshot::Sender<Result<(), CommandError>>,
    },
    /// Starts, stops, pauses, resumes, masks or unmasks a call's recording. With `agent`, only
    /// if that agent is the one on the call.
    ControlRecording {
        call: CallId,
        action: RecordingAction,
        by: RecordingActor,
        agent: Option<AgentId>,
        reply: oneshot::Sender<Result<RecordingControlled, RecordingControlError>>,
    },
    /// Holds a connected call or takes it off hold. With `agent`, only if that agent is the
    /// one on the call.
    Hold {
        call: CallId,
        held: bool,
        by: crate::engine::HoldBy,
        agent: Option<AgentId>,
        reply: oneshot::Sender<Result<(), crate::engine::HoldError>>,
    },
    /// Hangs up, transfers, moves, offers or removes a call (see `engine::redirect`). With
    /// `agent`, only if that agent is the one on the call.
    Redirect {
        call: CallId,
        action: crate::engine::RedirectAction,
        by: String,
        agent: Option<AgentId>,
        reply: oneshot::Sender<Result<(), crate::engine::RedirectError>>,
    },
    /// Starts a consult transfer, or completes, cancels or swaps one. With `agent`, only if
    /// that agent is the one on the call.
    Consult {
        call: CallId,
        asked: crate::engine::ConsultAsked,
        by: crate::engine::HoldBy,
        agent: Option<AgentId>,
        reply: oneshot::Sender<Result<(), crate::engine::ConsultError>>,
    },
    /// Adds a party to a call's conference or drops one. With `agent`, only if that agent is
    /// the one on the call.
    Conference {
        call: CallId,
        asked: crate::engine::ConferenceAsked,
        by: crate::engine::HoldBy,
        agent: Option<AgentId>,
        reply: oneshot::Sender<Result<(), crate::engine::ConferenceError>>,
    },
    /// Starts, changes or ends a supervisor's monitoring session.
    Monitor {
        request: crate::engine::MonitorRequest,
        reply: oneshot::Sender<Result<crate::engine::MonitorView, crate::engine::MonitorError>>,
    },
    /// Adds or replaces an agent (already stored).
    ProvisionAgent {
        settings: AgentSettings,
        reply: oneshot::Sender<Provisioned>,
    },
    /// Logs an agent out and forgets it, unless it is ringing or on a call.
    DeprovisionAgent {
        agent: AgentId,
        reply: oneshot::Sender<Result<(), CommandError>>,
    },
    /// Replaces the pause reason codes agents may give.
    SetPauseReasons {
        codes: Vec<String>,
        reply: oneshot::Sender<()>,
    },
    /// Replaces the flows new callers run (already checked); callers in a flow keep theirs.
    ReloadFlows {
        flows: FlowSet,
        reply: oneshot::Sender<()>,
    },
    /// Adds or replaces a queue (already stored) and routes its waiting callers again.
    ProvisionQueue {
        settings: Box<crate::engine::QueueSettings>,
        reply: oneshot::Sender<()>,
    },
    /// Removes a queue, unless calls, members or another queue's overflow still hold it.
    RemoveQueue {
        queue: crate::engine::QueueId,
        reply: oneshot::Sender<Result<(), crate::engine::QueueRemovalError>>,
    },
}

/// A recording request carried out: the recording, and what it is now (`None`: stopped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordingControlled {
    pub recording: crate::engine::RecordingId,
    pub now: Option<CallRecordingView>,
}

/// Hands a checked flow set to the engine.
pub(super) fn set_engine_flows(engine: &mut Engine, flows: FlowSet) {
    engine.set_flows(flows);
}

/// What the API and the demo hold: a way to ask, and the latest published state.
#[derive(Clone)]
pub struct EngineHandle {
    requests: mpsc::Sender<EngineRequest>,
    snapshot: watch::Receiver<Arc<Snapshot>>,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineGone {
    #[error("the engine has stopped")]
    Stopped,
}

impl EngineHandle {
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.borrow().clone()
    }

    pub fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.snapshot.clone()
    }

    pub async fn set_agent_state(
        &self,
        agent: AgentId,
        state: RequestedState,
    ) -> Result<Result<(), CommandError>, EngineGone> {
        self.ask(|reply| EngineRequest::SetAgentState {
            agent,
            state,
            reply,
        })
        .await
    }

    /// A state asked for over REST: applied at once, or kept until the agent's call and
    /// wrap-up end.
    pub async fn set_agent_state_after_call(
        &self,
        agent: AgentId,
        state: RequestedState,
        after_call: bool,
    ) -> Result<Result<crate::engine::StateRequestOutcome, CommandError>, EngineGone> {
        self.ask(|reply| EngineRequest::SetAgentStateAfterCall {
            agent,
            state,
            after_call,
            reply,
        })
        .await
    }

    /// Gives a call a disposition code from its queue's list.
    pub async fn set_disposition(
        &self,
        call: CallId,
        code: String,
        agent: Option<AgentId>,
    ) -> Result<Result<crate::engine::DispositionSet, crate::engine::WrapUpError>, EngineGone> {
        self.ask(|reply| EngineRequest::SetDisposition {
            call,
            code,
            agent,
            reply,
        })
        .await
    }

    /// Lengthens an agent's wrap-up.
    pub async fn extend_wrap_up(
        &self,
        agent: AgentId,
        by: Duration,
    ) -> Result<Result<crate::engine::Timestamp, crate::engine::WrapUpError>, EngineGone> {
        self.ask(|reply| EngineRequest::ExtendWrapUp { agent, by, reply })
            .await
    }

    /// Changes the priority or skills of a call in a queue.
    pub async fn update_call(
        &self,
        call: CallId,
        update: CallUpdate,
    ) -> Result<Result<(), CommandError>, EngineGone> {
        self.ask(|reply| EngineRequest::UpdateCall {
            call,
            update,
            reply,
        })
        .await
    }

    /// Controls a call's recording; `agent`: the request is an agent's, for its own call only.
    pub async fn control_recording(
        &self,
        call: CallId,
        action: RecordingAction,
        by: RecordingActor,
        agent: Option<AgentId>,
    ) -> Result<Result<RecordingControlled, RecordingControlError>, EngineGone> {
        self.ask(|reply| EngineRequest::ControlRecording {
            call,
            action,
            by,
            agent,
            reply,
        })
        .await
    }

    /// Holds a call or resumes it; `agent`: the request is an agent's, for its own call only.
    pub async fn hold(
        &self,
        call: CallId,
        held: bool,
        by: crate::engine::HoldBy,
        agent: Option<AgentId>,
    ) -> Result<Result<(), crate::engine::HoldError>, EngineGone> {
        self.ask(|reply| EngineRequest::Hold {
            call,
            held,
            by,
            agent,
            reply,
        })
        .await
    }

    /// Hangs up, transfers or moves a call; `agent`: the request is an agent's, for its own
    /// call only.
    pub async fn redirect(
        &self,
        call: CallId,
        action: crate::engine::RedirectAction,
        by: String,
        agent: Option<AgentId>,
    ) -> Result<Result<(), crate::engine::RedirectError>, EngineGone> {
        self.ask(|reply| EngineRequest::Redirect {
            call,
            action,
            by,
            agent,
            reply,
        })
        .await
    }

    /// A consult transfer asked over REST; `agent`: the request is an agent's, for its own
    /// call only.
    pub async fn consult(
        &self,
        call: CallId,
        asked: crate::engine::ConsultAsked,
        by: crate::engine::HoldBy,
        agent: Option<AgentId>,
    ) -> Result<Result<(), crate::engine::ConsultError>, EngineGone> {
        self.ask(|reply| EngineRequest::Consult {
            call,
            asked,
            by,
            agent,
            reply,
        })
        .await
    }

    /// A conference request over REST; `agent`: the request is an agent's, for its own call.
    pub async fn conference(
        &self,
        call: CallId,
        asked: crate::engine::ConferenceAsked,
        by: crate::engine::HoldBy,
        agent: Option<AgentId>,
    ) -> Result<Result<(), crate::engine::ConferenceError>, EngineGone> {
        self.ask(|reply| EngineRequest::Conference {
            call,
            asked,
            by,
            agent,
            reply,
        })
        .await
    }

    /// Starts, changes or ends a supervisor's monitoring session.
    pub async fn monitor(
        &self,
        request: crate::engine::MonitorRequest,
    ) -> Result<Result<crate::engine::MonitorView, crate::engine::MonitorError>, EngineGone> {
        self.ask(|reply| EngineRequest::Monitor { request, reply })
            .await
    }

    /// Adds or replaces an agent in the running engine; a replaced agent keeps its state.
    pub async fn provision_agent(
        &self,
        row: crate::store::AgentRow,
    ) -> Result<Provisioned, EngineGone> {
        let settings = super::agent_settings(row);
        self.ask(|reply| EngineRequest::ProvisionAgent { settings, reply })
            .await
    }

    /// Adds or replaces a queue in the running engine (see `Engine::upsert_queue`).
    pub async fn provision_queue(
        &self,
        row: crate::store::QueueRow,
        busy_backoff: std::time::Duration,
    ) -> Result<(), EngineGone> {
        let settings = Box::new(super::queue_settings(row, busy_backoff));
        self.ask(|reply| EngineRequest::ProvisionQueue { settings, reply })
            .await
    }

    /// Removes a queue from the running engine (see `Engine::remove_queue`).
    pub async fn remove_queue(
        &self,
        queue: crate::engine::QueueId,
    ) -> Result<Result<(), crate::engine::QueueRemovalError>, EngineGone> {
        self.ask(|reply| EngineRequest::RemoveQueue { queue, reply })
            .await
    }

    /// Logs an agent out (cause `api`) and removes it from the running engine.
    pub async fn deprovision_agent(
        &self,
        agent: AgentId,
    ) -> Result<Result<(), CommandError>, EngineGone> {
        self.ask(|reply| EngineRequest::DeprovisionAgent { agent, reply })
            .await
    }

    /// Replaces the pause reason codes agents may give (none: any code).
    pub async fn set_pause_reasons(&self, codes: Vec<String>) -> Result<(), EngineGone> {
        self.ask(|reply| EngineRequest::SetPauseReasons { codes, reply })
            .await
    }

    /// Replaces the flows new callers run. The set must be checked (see `Flows::reload`).
    pub async fn reload_flows(&self, flows: FlowSet) -> Result<(), EngineGone> {
        self.ask(|reply| EngineRequest::ReloadFlows { flows, reply })
            .await
    }

    /// Sends a request to the engine task and waits for its answer.
    async fn ask<T>(
        &self,
        request: impl FnOnce(oneshot::Sender<T>) -> EngineRequest,
    ) -> Result<T, EngineGone> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(request(reply))
            .await
            .map_err(|_| EngineGone::Stopped)?;
        answer.await.map_err(|_| EngineGone::Stopped)
    }
}

pub struct EngineTask {
    pub engine: Engine,
    pub clock: Clock,
    pub store: Store,
    pub links: HashMap<SwitchName, SwitchLink>,
    pub history: mpsc::Sender<Vec<Record>>,
    pub metrics: Arc<Metrics>,
    /// Where PRESENCE_PROBEs go (the presence publisher), when presence is on.
    pub probes: Option<mpsc::UnboundedSender<(String, String)>>,
    /// Runs flows' HTTP requests off this task; replies come back as inputs.
    pub http: HttpRunner,
    /// Switches resynced since this controller started: only the first resync of each looks
    /// for calls the history holds open from before (later, the engine knows its own calls).
    pub resynced: std::collections::HashSet<SwitchName>,
}

pub fn channels() -> (mpsc::Sender<EngineRequest>, mpsc::Receiver<EngineRequest>) {
    mpsc::channel(1024)
}

impl EngineTask {
    pub fn handle(
        requests: mpsc::Sender<EngineRequest>,
        snapshot: watch::Receiver<Arc<Snapshot>>,
    ) -> EngineHandle {
        EngineHandle { requests, snapshot }
    }

    pub async fn run(
        mut self,
        mut inputs: mpsc::Receiver<SwitchInput>,
        mut requests: mpsc::Receiver<EngineRequest>,
        publish: watch::Sender<Arc<Snapshot>>,
        mut stop: watch::Receiver<bool>,
        initial: Vec<Effect>,
    ) {
        let mut timers: BinaryHeap<Reverse<(Timestamp, Timer)>> = BinaryHeap::new();
        let mut records = Vec::new();
        let now = Instant::now();
        self.apply(initial, Some(now), &mut timers, &mut records)
            .await;
        self.flush(&mut records).await;
        let mut last_publish = Instant::now() - PUBLISH_EVERY;
        let mut dirty = true;
        loop {
            let next_timer = timers
                .peek()
                .map(|Reverse((at, _))| self.clock.instant_of(*at));
            let publish_at = dirty.then(|| last_publish + PUBLISH_EVERY);
            let wake = match (next_timer, publish_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let turn = tokio::select! {
                biased;
                _ = stop.changed() => break,
                first = inputs.recv() => {
                    let Some(first) = first else { break };
                    let turn = Instant::now();
                    self.on_input(first, &mut timers, &mut records).await;
                    for _ in 1..BATCH {
                        match inputs.try_recv() {
                            Ok(more) => self.on_input(more, &mut timers, &mut records).await,
                            Err(_) => break,
                        }
                    }
                    dirty = true;
                    turn
                }
                request = requests.recv() => {
                    let Some(request) = request else { break };
                    let turn = Instant::now();
                    self.on_request(request, &mut timers, &mut records).await;
                    dirty = true;
                    turn
                }
                _ = sleep_until(wake) => Instant::now(),
            };
            let now = self.clock.now();
            while timers.peek().is_some_and(|Reverse((at, _))| *at <= now) {
                if let Some(Reverse((_, timer))) = timers.pop() {
                    let effects = self.engine.handle(now, Input::TimerFired(timer));
                    self.apply(effects, Some(Instant::now()), &mut timers, &mut records)
                        .await;
                    dirty = true;
                }
            }
            self.flush(&mut records).await;
            if dirty && last_publish.elapsed() >= PUBLISH_EVERY {
                let started = Instant::now();
                publish.send_replace(Arc::new(self.engine.snapshot(self.clock.now())));
                self.metrics.engine_publish.record(started.elapsed());
                last_publish = Instant::now();
                dirty = false;
            }
            self.metrics.engine_turn.record(turn.elapsed());
        }
        self.flush(&mut records).await;
        publish.send_replace(Arc::new(self.engine.snapshot(self.clock.now())));
    }

    async fn on_input(
        &mut self,
        mut arrival: SwitchInput,
        timers: &mut BinaryHeap<Reverse<(Timestamp, Timer)>>,
        records: &mut Vec<Record>,
    ) {
        let mut forgotten = Vec::new();
        if let Input::SwitchResynced { switch, channels } = &mut arrival.input {
            forgotten = self.remember_stored_calls(switch, channels).await;
            if !self.resynced.insert(switch.clone()) {
                forgotten.clear();
            }
        }
        if let Input::PresenceProbe { proto, id, .. } = arrival.input {
            if let Some(probes) = &self.probes {
                let _ = probes.send((proto, id));
            }
            return;
        }
        let now = self.clock.at(arrival.received);
        // Before the resync, which ends (as lost) the calls it knows whose caller is gone.
        let mut effects = self.engine.close_forgotten_calls(now, &forgotten);
        effects.extend(self.engine.handle(now, arrival.input));
        self.apply(effects, Some(arrival.received), timers, records)
            .await;
    }

    /// Calls adopted after a controller restart keep their original place: the store knows
    /// when they entered and with what priority. Returns the calls open in the history on
    /// `switch` whose caller it no longer has (see `Engine::close_forgotten_calls`).
    async fn remember_stored_calls(
        &self,
        switch: &SwitchName,
        channels: &mut [crate::engine::ChannelSnapshot],
    ) -> Vec<CallId> {
        let mut forgotten = Vec::new();
        // The adopted calls must be on record before we look them up.
        // Where calls stand if they moved or changed since they entered; without it they
        // are adopted as they entered.
        let mut places: HashMap<_, _> = match self.store.open_call_places().await {
            Ok(places) => places.into_iter().collect(),
            Err(e) => {
                error!(error = %e, "cannot read where open calls stand; adopting them as they entered");
                HashMap::new()
            }
        };
        match self.store.open_calls().await {
            Ok(open) => {
                let listed: std::collections::HashSet<&str> =
                    channels.iter().map(|c| c.channel.as_str()).collect();
                forgotten = open
                    .iter()
                    .filter(|c| &c.switch == switch && !listed.contains(c.caller_channel.as_str()))
                    .map(|c| c.id)
                    .collect();
                let by_channel: HashMap<String, _> = open
                    .into_iter()
                    .map(|c| (c.caller_channel.to_string(), c))
                    .collect();
                for snap in channels.iter_mut() {
                    if let Some(row) = by_channel.get(snap.channel.as_str()) {
                        let transferred = match row.answered_at {
                            Some(_) => self.stored_transfer(row.id).await,
                            None => None,
                        };
                        snap.stored = Some(StoredCall {
                            call: row.id,
                            entered_at: row.entered_at,
                            priority: row.priority,
                            answered_at: row.answered_at,
                            place: places.remove(&row.id),
                            transferred,
                        });
                        // A flow enqueued it: the channel does not name the queue.
                        if snap.queue.is_none() {
                            snap.queue = Some(row.queue.clone());
                        }
                    }
                }
            }
            Err(e) => error!(error = %e, "cannot read open calls for resync; adopting as new"),
        }
        for snap in channels.iter_mut().filter(|s| s.flow_entry.is_some()) {
            match self.store.flow_session_of_channel(&snap.channel).await {
                Ok(Some(row)) => {
                    let waiting_at = match row.outcome {
                        Some(_) => None,
                        None => match self.store.flow_place(row.call).await {
                            Ok(place) => place.map(|p| (p.flow, p.node)),
                            Err(e) => {
                                error!(error = %e, channel = %snap.channel, "cannot read where a caller's flow waits; it starts again");
                                None
                            }
                        },
                    };
                    snap.stored_flow = Some(StoredFlow {
                        call: row.call,
                        flow: row.flow,
                        outcome: row.outcome,
                        variables: row.variables.into_iter().collect(),
                        waiting_at,
                    })
                }
                Ok(None) => {}
                Err(e) => {
                    error!(error = %e, channel = %snap.channel, "cannot read a caller's flow session for resync")
                }
            }
        }
        forgotten
    }

    /// Whether an answered call's agent transferred it away (its last queue event is a
    /// `transfer`), and with what talk time.
    async fn stored_transfer(&self, call: CallId) -> Option<crate::engine::StoredTransfer> {
        let events = match self.store.queue_events(call).await {
            Ok(events) => events,
            Err(e) => {
                error!(error = %e, %call, "cannot read a call's queue events for resync");
                return None;
            }
        };
        let last = events.last()?;
        if last.kind != crate::engine::QueueEventKind::Transfer {
            return None;
        }
        let talk_ms = last
            .detail
            .split_whitespace()
            .find_map(|w| w.strip_prefix("talk_ms="))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Some(crate::engine::StoredTransfer { talk_ms })
    }

    async fn on_request(
        &mut self,
        request: EngineRequest,
        timers: &mut BinaryHeap<Reverse<(Timestamp, Timer)>>,
        records: &mut Vec<Record>,
    ) {
        let received = Instant::now();
        let now = self.clock.at(received);
        // The requester may have gone away; the change stands either way.
        match request {
            EngineRequest::SetAgentState {
                agent,
                state,
                reply,
            } => {
                let result = self.engine.set_agent_state(now, &agent, state);
                let answer = self.apply_result(result, received, timers, records).await;
                let _ = reply.send(answer);
            }
            EngineRequest::SetAgentStateAfterCall {
                agent,
                state,
                after_call,
                reply,
            } => {
                let answer = match self
                    .engine
                    .request_state_after_call(now, &agent, state, after_call)
                {
                    Ok((outcome, effects)) => {
                        self.apply(effects, Some(received), timers, records).await;
                        Ok(outcome)
                    }
                    Err(e) => Err(e),
                };
                let _ = reply.send(answer);
            }
            EngineRequest::SetDisposition {
                call,
                code,
                agent,
                reply,
            } => {
                let answer = match self
                    .engine
                    .set_disposition(now, call, &code, agent.as_ref())
                {
                    Ok((set, effects)) => {
                        self.apply(effects, Some(received), timers, records).await;
                        Ok(set)
                    }
                    Err(e) => Err(e),
                };
                let _ = reply.send(answer);
            }
            EngineRequest::ExtendWrapUp { agent, by, reply } => {
                let answer = match self.engine.extend_wrap_up(now, &agent, by) {
                    Ok((until, effects)) => {
                        self.apply(effects, Some(received), timers, records).await;
                        Ok(until)
                    }
                    Err(e) => Err(e),
                };
                let _ = reply.send(answer);
            }
            EngineRequest::UpdateCall {
                call,
                update,
                reply,
            } => {
                let result = self.engine.update_call(now, call, update);
                let answer = self.apply_result(result, received, timers, records).await;
                let _ = reply.send(answer);
            }
            EngineRequest::ControlRecording {
                call,
                action,
                by,
                agent,
                reply,
            } => {
                let result = self
                    .refuse_others_call(call, agent, |call, agent| {
                        RecordingControlError::NotTheAgentsCall { call, agent }
                    })
                    .and_then(|()| self.engine.control_recording(now, call, action, by));
                let answer = match result {
                    Ok((recording, effects)) => {
                        self.apply(effects, Some(received), timers, records).await;
                        Ok(RecordingControlled {
                            recording,
                            now: self.engine.recording_of(call),
                        })
                    }
                    Err(e) => Err(e),
                };
                let _ = reply.send(answer);
            }
            EngineRequest::Hold {
                call,
                held,
                by,
                agent,
                reply,
            } => {
                let result = self
                    .refuse_others_call(call, agent, |call, agent| {
                        crate::engine::HoldError::NotTheAgentsCall { call, agent }
                    })
                    .and_then(|()| self.engine.request_hold(call, held, by));
                let answer = self.apply_result(result, received, timers, records).await;
                let _ = reply.send(answer);
            }
            EngineRequest::Redirect {
                call,
                action,
                by,
                agent,
                reply,
            } => {
                let result = self
                    .refuse_others_call(call, agent, |call, agent| {
                        crate::engine::RedirectError::NotTheAgentsCall { call, agent }
                    })
                    .and_then(|()| self.engine.redirect(now, call, action, by));
                let answer = self.apply_result(result, received, timers, records).await;
                let _ = reply.send(answer);
            }
            EngineRequest::Consult {
                call,
                asked,
                by,
                agent,
                reply,
            } => {
                let result = self
                    .refuse_others_call(call, agent, |call, agent| {
                        crate::engine::ConsultError::NotTheAgentsCall { call, agent }
                    })
                    .and_then(|()| self.engine.consult(now, call, asked, by));
                let answer = self.apply_result(result, received, timers, records).await;
                let _ = reply.send(answer);
            }
            EngineRequest::Conference {
                call,
                asked,
                by,
                agent,
                reply,
            } => {
                // A conference's parties may act on it as its agent may.
                let party = agent.filter(|agent| !self.engine.is_conference_party(call, agent));
                let result = self
                    .refuse_others_call(call, party, |call, agent| {
                        crate::engine::ConferenceError::NotTheAgentsCall { call, agent }
                    })
                    .and_then(|()| self.engine.conference(now, call, asked, by));
                let answer = self.apply_result(result, received, timers, records).await;
                let _ = reply.send(answer);
            }
            EngineRequest::Monitor { request, reply } => {
                let answer = match self.engine.monitor(now, request) {
                    Ok((view, effects)) => {
                        self.apply(effects, Some(received), timers, records).await;
                        Ok(view)
                    }
                    Err(e) => Err(e),
                };
                let _ = reply.send(answer);
            }
            EngineRequest::ProvisionAgent { settings, reply } => {
                let (outcome, effects) = self.engine.upsert_agent(now, settings);
                self.apply(effects, Some(received), timers, records).await;
                let _ = reply.send(outcome);
            }
            EngineRequest::DeprovisionAgent { agent, reply } => {
                let result = self.engine.deprovision_agent(now, &agent);
                let answer = self.apply_result(result, received, timers, records).await;
                let _ = reply.send(answer);
            }
            EngineRequest::ProvisionQueue { settings, reply } => {
                let effects = self.engine.upsert_queue(now, *settings);
                self.apply(effects, Some(received), timers, records).await;
                let _ = reply.send(());
            }
            EngineRequest::RemoveQueue { queue, reply } => {
                let _ = reply.send(self.engine.remove_queue(&queue));
            }
            EngineRequest::SetPauseReasons { codes, reply } => {
                self.engine.set_pause_reasons(codes);
                let _ = reply.send(());
            }
            EngineRequest::ReloadFlows { flows, reply } => {
                set_engine_flows(&mut self.engine, flows);
                let _ = reply.send(());
            }
        }
    }

    /// Carries out the effects of an accepted request; a refusal changes nothing.
    /// An agent's request about a call that is not its own is refused before anything else,
    /// so it learns nothing of other calls; `agent` is `None` for supervisors and admins.
    fn refuse_others_call<E>(
        &self,
        call: CallId,
        agent: Option<AgentId>,
        refused: impl FnOnce(CallId, AgentId) -> E,
    ) -> Result<(), E> {
        match agent {
            Some(agent) if !self.engine.is_agent_on_call(call, &agent) => Err(refused(call, agent)),
            _ => Ok(()),
        }
    }

    async fn apply_result<E>(
        &mut self,
        result: Result<Vec<Effect>, E>,
        received: Instant,
        timers: &mut BinaryHeap<Reverse<(Timestamp, Timer)>>,
        records: &mut Vec<Record>,
    ) -> Result<(), E> {
        let effects = result?;
        self.apply(effects, Some(received), timers, records).await;
        Ok(())
    }

    async fn apply(
        &mut self,
        effects: Vec<Effect>,
        caused_by: Option<Instant>,
        timers: &mut BinaryHeap<Reverse<(Timestamp, Timer)>>,
        records: &mut Vec<Record>,
    ) {
        for effect in effects {
            match effect {
                Effect::Switch {
                    switch,
                    affinity,
                    command,
                } => match self.links.get(&switch) {
                    Some(link) => {
                        let out = Outgoing {
                            affinity,
                            command,
                            caused_by,
                        };
                        if link.commands.send(out).await.is_err() {
                            warn!(%switch, "switch link stopped; command dropped");
                        }
                    }
                    None => warn!(%switch, "command for a switch that is not configured"),
                },
                Effect::Persist(record) => records.push(record),
                Effect::Http(request) => self.http.run(request),
                Effect::SetTimer { at, timer } => timers.push(Reverse((at, timer))),
            }
        }
    }

    async fn flush(&mut self, records: &mut Vec<Record>) {
        if records.is_empty() {
            return;
        }
        let batch = std::mem::take(records);
        self.metrics
            .history_records_handed
            .fetch_add(batch.len() as u64, std::sync::atomic::Ordering::Relaxed);
        if self.history.send(batch).await.is_err() {
            error!("history writer stopped; records lost");
            Metrics::bump(&self.metrics.store_errors);
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
