//! What must hold after every integration test that runs calls, whatever the test was about.
//! Checked when a `TestApp` is dropped, against what the simulated switch really did:
//!
//! - the history's talk time of an answered call is the time its agent leg was up and
//!   bridged on the switch (answer to the first hangup of the pair), and no call is ended in
//!   the history while the switch still has its agent leg up;
//! - no agent is offered a call (a new leg to its phone) while a leg of theirs is answered;
//! - a call times out of and overflows from only the queue it last entered, and never enters
//!   the queue it is already in (a controller restart must not replay an overflow);
//! - a recording the policy started stops when the call ends, and the switch's file is as long
//!   as the recording was running;
//! - an ended call's holds in the history are the holds the switch reported on its caller and
//!   every leg bridged to it (agents before and after a transfer) (CHANNEL_HOLD to CHANNEL_UNHOLD or the leg's hangup), in number and in time.
//! - a call an agent transferred away ends in the history only once its caller has hung up on
//!   the switch (the caller talks on at the transfer target under the same call);
//! - a completed call's agent leg in the history is the leg its caller was last bridged to (one
//!   agent at a time: after a consult transfer, the target's);
//! - a call handed to an external number was handed to that number's leg on the switch, and
//!   ends as `transferred` (see `invariants_dialout`);
//! - a call has two agents of ours up on it at once only in a conference (or a consult, where
//!   the first agent talks to the target while the caller waits; see `invariants_conference`);
//! - monitoring never changes who handles the call: a supervisor's leg is never bridged and
//!   is never a call's agent leg, and each session's history matches its leg (see
//!   `invariants_monitor`).
//!
//! The switch's side is a [`Ledger`]: an ESL connection of its own on the simulator, subscribed
//! like the real-switch listener of the Batch 3 captures, noting when each event arrived. Only
//! calls the history has already ended are judged (a test may stop mid-call).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use freeswitch_esl_tokio::{EslClient, EventFormat};
use switchboard::sim::SessionRecordingView;
use tokio::task::JoinHandle;

/// How far apart the history and the switch may be: both are read off event arrival, on
/// different connections and tasks, in a debug build on a two-core machine running the whole
/// suite at once (the engine's task can lag the listener's by hundreds of milliseconds there).
/// The faults this guards against are of whole calls: a call ended while its leg talks on, a
/// recording stopped at its start.
const TOLERANCE_MS: i64 = 1_000;

const SUBSCRIPTION: &str =
    "CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_BRIDGE CHANNEL_HANGUP CHANNEL_HOLD CHANNEL_UNHOLD";

/// A leg's holds as the switch reported them.
#[derive(Debug, Clone, Default)]
pub(crate) struct HoldTally {
    pub(crate) holds: i64,
    pub(crate) held_ms: i64,
    pub(crate) since: Option<Instant>,
}

/// One channel as the switch reported it.
#[derive(Debug, Clone)]
pub(crate) struct Leg {
    pub(crate) created: Instant,
    /// `switchboard_agent_id` of an agent leg we originated.
    pub(crate) agent: Option<String>,
    pub(crate) answered: Option<Instant>,
    pub(crate) partner: Option<String>,
    /// When a leg already bridged to one partner was bridged to another (the consulted
    /// phone's leg after an attended transfer): its talk for the new call counts from here.
    pub(crate) rebridged: Option<Instant>,
    /// Every leg it was ever bridged to (a caller's agents before and after a transfer).
    pub(crate) partners: Vec<String>,
    pub(crate) hung_up: Option<Instant>,
    pub(crate) hold: HoldTally,
    /// `switchboard_role=monitor`: a supervisor's leg we originated.
    pub(crate) monitor: bool,
    /// `switchboard_call_id` of a leg we originated for a call.
    pub(crate) call: Option<String>,
}

impl Leg {
    pub(crate) fn new(created: Instant) -> Leg {
        Leg {
            created,
            agent: None,
            answered: None,
            partner: None,
            rebridged: None,
            partners: Vec::new(),
            hung_up: None,
            hold: HoldTally::default(),
            monitor: false,
            call: None,
        }
    }

    /// `self` (named `me`) was bridged to `other` just now: both note the other as partner.
    pub(crate) fn bridge(legs: &mut HashMap<String, Leg>, me: &str, other: &str, now: Instant) {
        let leg = legs.entry(me.to_owned()).or_insert_with(|| Leg::new(now));
        if leg.partner.as_deref().is_some_and(|p| p != other) {
            leg.rebridged = Some(now);
        }
        leg.partner = Some(other.to_owned());
        leg.partners.push(other.to_owned());
        let peer = legs
            .entry(other.to_owned())
            .or_insert_with(|| Leg::new(now));
        peer.partners.push(me.to_owned());
        if peer.partner.as_deref().is_some_and(|p| p != me) {
            peer.rebridged = Some(now);
        }
        peer.partner = Some(me.to_owned());
    }

    pub(crate) fn hang_up(&mut self, now: Instant) {
        self.hung_up.get_or_insert(now);
        if let Some(since) = self.hold.since.take() {
            self.hold.held_ms += millis(since, now);
        }
    }
}

/// The switch's own record of channels, kept by a listener connection.
pub struct Ledger {
    legs: Arc<Mutex<HashMap<String, Leg>>>,
    task: JoinHandle<()>,
    /// How many times the listener has (re)connected.
    connects: Arc<std::sync::atomic::AtomicU64>,
}

impl Ledger {
    /// Connects to the simulator and returns once subscribed, so no event of a later call is
    /// missed. Reconnects when the simulator drops its connections or restarts.
    pub async fn listen(addr: SocketAddr) -> Ledger {
        let legs: Arc<Mutex<HashMap<String, Leg>>> = Arc::default();
        let connects: Arc<std::sync::atomic::AtomicU64> = Arc::default();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let shared = legs.clone();
        let counted = connects.clone();
        let task = tokio::spawn(async move {
            let mut ready = Some(ready_tx);
            loop {
                if let Ok((client, mut events)) =
                    EslClient::connect("127.0.0.1", addr.port(), "ClueCon").await
                {
                    if client
                        .subscribe_events_raw(EventFormat::Plain, SUBSCRIPTION)
                        .await
                        .is_ok()
                    {
                        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        if let Some(tx) = ready.take() {
                            let _ = tx.send(());
                        }
                        while let Some(Ok(event)) = events.recv().await {
                            note(&shared, &event);
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        let _ = tokio::time::timeout(Duration::from_secs(10), ready_rx).await;
        Ledger {
            legs,
            task,
            connects,
        }
    }

    /// A ledger kept by `task` in `legs` (see `invariants_ari` for Asterisk's).
    pub(crate) fn kept_by(
        legs: Arc<Mutex<HashMap<String, Leg>>>,
        task: JoinHandle<()>,
        connects: Arc<std::sync::atomic::AtomicU64>,
    ) -> Ledger {
        Ledger {
            legs,
            task,
            connects,
        }
    }

    /// Waits until the listener has (re)connected `n` times in all, so no later event is
    /// missed.
    pub async fn connected_times(&self, n: u64) {
        let connects = self.connects.clone();
        crate::harness::eventually(&format!("the ledger connected {n} times"), || {
            let connects = connects.clone();
            async move { connects.load(std::sync::atomic::Ordering::SeqCst) >= n }
        })
        .await;
    }

    fn legs(&self) -> HashMap<String, Leg> {
        self.legs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn note(legs: &Mutex<HashMap<String, Leg>>, event: &freeswitch_esl_tokio::EslEvent) {
    let now = Instant::now();
    let Some(uuid) = event.header_str("Unique-ID").map(str::to_owned) else {
        return;
    };
    let mut legs = legs.lock().unwrap_or_else(PoisonError::into_inner);
    let leg = legs.entry(uuid.clone()).or_insert_with(|| Leg::new(now));
    match event.header_str("Event-Name") {
        Some("CHANNEL_CREATE") => {
            leg.created = now;
            leg.agent = event
                .header_str("variable_switchboard_agent_id")
                .map(str::to_owned);
            leg.monitor = event.header_str("variable_switchboard_role") == Some("monitor");
            leg.call = event
                .header_str("variable_switchboard_call_id")
                .map(str::to_owned);
        }
        Some("CHANNEL_ANSWER") => {
            leg.answered.get_or_insert(now);
        }
        Some("CHANNEL_BRIDGE") => {
            let other = event
                .header_str("Other-Leg-Unique-ID")
                .or_else(|| event.header_str("Bridge-B-Unique-ID"))
                .map(str::to_owned);
            if let Some(other) = other {
                Leg::bridge(&mut legs, &uuid, &other, now);
            }
        }
        Some("CHANNEL_HANGUP") => leg.hang_up(now),
        Some("CHANNEL_HOLD") if leg.hold.since.is_none() => {
            leg.hold.since = Some(now);
            leg.hold.holds += 1;
        }
        Some("CHANNEL_UNHOLD") => {
            if let Some(since) = leg.hold.since.take() {
                leg.hold.held_ms += millis(since, now);
            }
        }
        _ => {}
    }
}

/// A finished call as the history has it.
struct EndedCall {
    id: String,
    caller_channel: String,
    outcome: Option<String>,
    agent_channel: Option<String>,
    talk_ms: Option<i64>,
    hold_ms: Option<i64>,
    holds: Option<i64>,
}

struct PolicyRecording {
    call_id: String,
    path: Option<String>,
    started_at: i64,
    stopped_at: Option<i64>,
    call_ended_at: i64,
}

/// Reads the history on a runtime of its own: the test's runtime is the one dropping the app.
fn read_history(database_url: &str) -> Result<(Vec<EndedCall>, Vec<PolicyRecording>), String> {
    let url = database_url.to_owned();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async move {
            use sqlx::Row;
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
                .await
                .map_err(|e| e.to_string())?;
            let calls = sqlx::query(
                "SELECT id, caller_channel, outcome, agent_channel, talk_ms, hold_ms, holds FROM calls \
                 WHERE ended_at IS NOT NULL",
            )
            .fetch_all(&mut conn)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|r| EndedCall {
                id: r.get("id"),
                caller_channel: r.get("caller_channel"),
                outcome: r.get("outcome"),
                agent_channel: r.get("agent_channel"),
                talk_ms: r.get("talk_ms"),
                hold_ms: r.get("hold_ms"),
                holds: r.get("holds"),
            })
            .collect();
            let recordings = sqlx::query(
                "SELECT r.call_id, r.path, r.started_at, r.stopped_at, c.ended_at \
                 FROM recordings r JOIN calls c ON c.id = r.call_id \
                 WHERE r.started_by = 'policy' AND r.status NOT IN ('declined', 'failed') \
                 AND c.ended_at IS NOT NULL \
                 AND c.outcome IN ('completed', 'transferred') \
                 AND (r.stopped_by IS NULL OR r.stopped_by IN ('policy', 'switch'))",
            )
            .fetch_all(&mut conn)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|r| PolicyRecording {
                call_id: r.get("call_id"),
                path: r.get("path"),
                started_at: r.get("started_at"),
                stopped_at: r.get("stopped_at"),
                call_ended_at: r.get("ended_at"),
            })
            .collect();
            Ok((calls, recordings))
        })
    })
    .join()
    .map_err(|_| "the history reader panicked".to_owned())?
}

/// `(call, queue, kind)` of every queue event, by call in the order written.
fn read_queue_events(database_url: &str) -> Result<Vec<(String, String, String)>, String> {
    let url = database_url.to_owned();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async move {
            use sqlx::Row;
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
                .await
                .map_err(|e| e.to_string())?;
            let rows = sqlx::query(
                "SELECT call_id, queue_id, kind FROM queue_events \
                 WHERE kind IN ('enter', 'timeout', 'overflow', 'transfer') ORDER BY call_id, id",
            )
            .fetch_all(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
            Ok(rows
                .into_iter()
                .map(|r| (r.get("call_id"), r.get("queue_id"), r.get("kind")))
                .collect())
        })
    })
    .join()
    .map_err(|_| "the queue event reader panicked".to_owned())?
}

/// Each call's timeouts and overflows are from the queue it last entered, and it never enters
/// the queue it is in.
fn queue_violations(events: &[(String, String, String)]) -> Vec<String> {
    let mut broken = Vec::new();
    let mut current: HashMap<&str, &str> = HashMap::new();
    for (call, queue, kind) in events {
        let now_in = current.get(call.as_str()).copied();
        match kind.as_str() {
            "enter" if now_in == Some(queue.as_str()) => {
                broken.push(format!("call {call} entered {queue} again while in it"))
            }
            "enter" => {
                current.insert(call, queue);
            }
            // A transfer takes the call out of the queue it was in: it may come back to it.
            "transfer" if now_in == Some(queue.as_str()) => {
                current.remove(call.as_str());
            }
            _ if now_in != Some(queue.as_str()) => broken.push(format!(
                "call {call}: a {kind} from {queue}, but it was in {}",
                now_in.unwrap_or("no queue")
            )),
            _ => {}
        }
    }
    broken
}

fn millis(from: Instant, to: Instant) -> i64 {
    i64::try_from(to.saturating_duration_since(from).as_millis()).unwrap_or(i64::MAX)
}

/// Every broken promise, one line each (empty: all held).
pub fn violations(
    ledger: &Ledger,
    database_url: &str,
    recorded: &[(String, SessionRecordingView)],
) -> Vec<String> {
    any_sqlx_drivers();
    let legs = ledger.legs();
    let (calls, recordings) = match read_history(database_url) {
        Ok(history) => history,
        Err(e) => return vec![format!("cannot read the history: {e}")],
    };
    let mut broken = match read_queue_events(database_url) {
        Ok(events) => queue_violations(&events),
        Err(e) => vec![format!("cannot read the queue events: {e}")],
    };
    let supervisors: Vec<crate::invariants_monitor::SupervisorLeg> = legs
        .iter()
        .filter(|(_, l)| l.monitor)
        .map(|(uuid, l)| crate::invariants_monitor::SupervisorLeg {
            uuid: uuid.clone(),
            bridged: !l.partners.is_empty(),
            hung_up: l.hung_up.is_some(),
        })
        .collect();
    broken.extend(crate::invariants_monitor::violations(
        &supervisors,
        database_url,
    ));
    broken.extend(crate::invariants_after_call::violations(database_url));
    broken.extend(crate::invariants_queues::violations(database_url));
    let callers = calls
        .iter()
        .map(|c| (c.id.clone(), c.caller_channel.clone()))
        .collect();
    let last_partner = legs
        .iter()
        .map(|(uuid, l)| (uuid.clone(), l.partner.clone()))
        .collect();
    broken.extend(crate::invariants_dialout::violations(
        database_url,
        &callers,
        &last_partner,
    ));
    let agent_legs: Vec<crate::invariants_conference::AgentLeg> = legs
        .iter()
        .filter(|(_, l)| l.agent.is_some() && !l.monitor)
        .filter_map(|(uuid, l)| {
            Some(crate::invariants_conference::AgentLeg {
                uuid: uuid.clone(),
                call: l.call.clone()?,
                answered: l.answered?,
                hung_up: l.hung_up,
            })
        })
        .collect();
    broken.extend(crate::invariants_conference::violations(
        &agent_legs,
        database_url,
    ));
    for call in &calls {
        broken.extend(hold_violation(call, &legs));
        let caller_up = legs
            .get(&call.caller_channel)
            .is_some_and(|l| l.hung_up.is_none());
        // One agent at a time, and the history's the last: a completed call's agent leg is
        // the leg its caller was last bridged to (after a consult transfer, the target's).
        let last_partner = legs
            .get(&call.caller_channel)
            .and_then(|l| l.partner.as_deref());
        if let (Some("completed"), Some(agent_leg), Some(partner)) = (
            call.outcome.as_deref(),
            call.agent_channel.as_deref(),
            last_partner,
        ) {
            if agent_leg != partner {
                broken.push(format!(
                    "call {} ended with agent leg {agent_leg} in the history, but its caller was \
                     last bridged to {partner}",
                    call.id
                ));
            }
        }
        if call.outcome.as_deref() == Some("transferred") && caller_up {
            broken.push(format!(
                "call {} ended in the history as transferred while its caller {} is still up",
                call.id, call.caller_channel
            ));
        }
    }
    for call in &calls {
        let (Some(talk_ms), Some(leg_id)) = (call.talk_ms, call.agent_channel.as_deref()) else {
            continue;
        };
        let Some(leg) = legs.get(leg_id) else {
            continue;
        };
        let Some(answered) = leg.answered else {
            continue;
        };
        let partner_gone = leg
            .partner
            .as_ref()
            .and_then(|p| legs.get(p))
            .and_then(|p| p.hung_up);
        let end = match (leg.hung_up, partner_gone) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => {
                broken.push(format!(
                    "call {} ended in the history (talk_ms={talk_ms}) while the switch still has \
                     its agent leg {leg_id} up",
                    call.id
                ));
                continue;
            }
        };
        let switch_talk = millis(leg.rebridged.unwrap_or(answered), end);
        if (switch_talk - talk_ms).abs() > TOLERANCE_MS {
            broken.push(format!(
                "call {}: the history says talk_ms={talk_ms}, the switch had agent leg {leg_id} \
                 up for {switch_talk} ms",
                call.id
            ));
        }
    }
    let mut by_agent: HashMap<&str, Vec<(&String, &Leg)>> = HashMap::new();
    for (uuid, leg) in &legs {
        if let Some(agent) = leg.agent.as_deref() {
            by_agent.entry(agent).or_default().push((uuid, leg));
        }
    }
    for (agent, mut agent_legs) in by_agent {
        agent_legs.sort_by_key(|(_, leg)| leg.created);
        for (i, (up, first)) in agent_legs.iter().enumerate() {
            let Some(answered) = first.answered else {
                continue;
            };
            for (offered, later) in &agent_legs[i + 1..] {
                let during =
                    later.created > answered && first.hung_up.is_none_or(|h| later.created < h);
                if during {
                    broken.push(format!(
                        "agent {agent} was offered leg {offered} while its leg {up} was up"
                    ));
                }
            }
        }
    }
    for rec in &recordings {
        match rec.stopped_at {
            None => broken.push(format!(
                "call {}: a policy recording is still open after the call ended",
                rec.call_id
            )),
            Some(stopped) if (stopped - rec.call_ended_at).abs() > TOLERANCE_MS => {
                broken.push(format!(
                    "call {}: its policy recording stopped {} ms before the call ended",
                    rec.call_id,
                    rec.call_ended_at - stopped
                ))
            }
            Some(stopped) => {
                let Some(file) = rec
                    .path
                    .as_deref()
                    .and_then(|p| recorded.iter().find(|(_, r)| r.path == p))
                else {
                    continue;
                };
                let paused: i64 = file
                    .1
                    .paused_intervals
                    .iter()
                    .map(|i| i64::try_from((i.to - i.from).as_millis()).unwrap_or(0))
                    .sum();
                let expected = stopped - rec.started_at - paused;
                let written = i64::try_from(file.1.written.as_millis()).unwrap_or(i64::MAX);
                if (written - expected).abs() > TOLERANCE_MS {
                    broken.push(format!(
                        "call {}: the switch's file is {written} ms long, the recording ran \
                         {expected} ms",
                        rec.call_id
                    ));
                }
            }
        }
    }
    broken
}

/// The call's holds in the history against the switch's holds of its caller and agent legs.
fn hold_violation(call: &EndedCall, legs: &HashMap<String, Leg>) -> Option<String> {
    let mut ours: Vec<&str> = vec![call.caller_channel.as_str()];
    ours.extend(call.agent_channel.as_deref());
    if let Some(caller) = legs.get(&call.caller_channel) {
        ours.extend(caller.partners.iter().map(String::as_str));
    }
    ours.sort_unstable();
    ours.dedup();
    let (mut holds, mut held_ms) = (0, 0);
    for leg in ours.into_iter().filter_map(|id| legs.get(id)) {
        holds += leg.hold.holds;
        held_ms += leg.hold.held_ms;
    }
    let (history_holds, history_ms) = (call.holds.unwrap_or(0), call.hold_ms.unwrap_or(0));
    if history_holds != holds {
        return Some(format!(
            "call {}: the history has {history_holds} holds, the switch reported {holds}",
            call.id
        ));
    }
    if (history_ms - held_ms).abs() > TOLERANCE_MS {
        return Some(format!(
            "call {}: the history has hold_ms={history_ms}, the switch held {held_ms} ms",
            call.id
        ));
    }
    None
}

fn any_sqlx_drivers() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(sqlx::any::install_default_drivers);
}
