//! `GET /v1/events`: the CTI events as Server-Sent Events, for wallboards and agents' desktops.
//!
//! A stream reads the outbox table (`cti_events`), never the engine, so it sends exactly what
//! webhooks send and a slow client holds up nothing but itself: it is read a page at a time as
//! the client takes it, and woken by the history writer's count of committed batches (a
//! `watch`, which never blocks the writer). A new client first gets a `snapshot` of queues,
//! agents and calls, so a wallboard is complete at once; a client that comes back with
//! `Last-Event-ID` gets what it missed from the table instead. A reconnecting browser's
//! `EventSource` sends that header by itself.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use futures_util::stream::{self, Stream, StreamExt};
use serde_json::json;
use tokio::sync::watch;
use tracing::warn;

use super::{involves, wall_clock_ms, with_time_in_state, ApiState, Principal, Problem};
use crate::app::EngineHandle;
use crate::cti::subscription::check_events;
use crate::cti::EVENT_TYPES;
use crate::engine::{AgentId, QueueId, Snapshot};
use crate::store::{EventFilter, EventMark, Store, StoredEvent};

/// Live-only types: each queue's or agent's live numbers (`GET /v1/stats/...` entries), sent
/// every [`STATS_EVERY`] to a stream whose `types` names them, never stored in the outbox.
pub(super) const STATS_TYPES: [&str; 2] = ["queue.stats", "agent.stats"];
/// How often the live numbers are sent.
const STATS_EVERY: Duration = Duration::from_secs(5);

/// Events read from the table at once; the stream holds no more than this.
const PAGE: u32 = 500;
/// A comment line this often keeps proxies from closing a quiet stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// The engine publishes its snapshot at most every 100 ms after a change: a snapshot older
/// than the newest event is replaced by the next one, due within this.
const SNAPSHOT_WAIT: Duration = Duration::from_millis(250);

/// The query string as the OpenAPI document describes it; the handler reads the raw pairs,
/// because `queue` may repeat.
#[derive(schemars::JsonSchema)]
#[allow(dead_code)]
pub(super) struct EventsQuery {
    /// Only these queues' events (a comma list; the parameter may repeat).
    queue: Option<String>,
    /// Only this agent's events (an agent's own token may name only itself).
    agent: Option<String>,
    /// Only these event types (a comma list). `queue.stats` and `agent.stats` (never sent
    /// otherwise) ask for each queue's and agent's live numbers every 5 s.
    types: Option<String>,
    /// Resume after this event id, for clients that cannot send the `Last-Event-ID` header.
    last_event_id: Option<String>,
}

/// What the query string asks for.
#[derive(Debug, Default)]
struct Wanted {
    types: Vec<String>,
    queues: Vec<QueueId>,
    agent: Option<AgentId>,
    last_event_id: Option<String>,
}

/// Comma lists, and parameters that may repeat.
fn items(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn wanted(pairs: &[(String, String)]) -> Result<Wanted, Problem> {
    let mut wanted = Wanted::default();
    for (key, value) in pairs {
        match key.as_str() {
            "types" => {
                for t in items(value) {
                    if STATS_TYPES.contains(&t) {
                        wanted.types.push(t.to_owned());
                        continue;
                    }
                    check_events(&[t]).map_err(|e| Problem::invalid("types", e))?;
                    wanted.types.push(t.to_owned());
                }
            }
            "queue" => {
                for q in items(value) {
                    let queue = QueueId::new(q).map_err(|e| Problem::invalid("queue", e))?;
                    wanted.queues.push(queue);
                }
            }
            "agent" => {
                if wanted.agent.is_some() {
                    return Err(Problem::bad_request("give \"agent\" once"));
                }
                let agent = AgentId::new(value.trim()).map_err(|e| Problem::invalid("agent", e))?;
                wanted.agent = Some(agent);
            }
            "last_event_id" => wanted.last_event_id = Some(value.clone()),
            other => {
                return Err(Problem::bad_request(format!(
                    "unknown parameter {other:?}; the parameters are \"queue\", \"agent\", \
                     \"types\" and \"last_event_id\""
                )))
            }
        }
    }
    wanted.types.sort();
    wanted.types.dedup();
    wanted.queues.sort();
    wanted.queues.dedup();
    Ok(wanted)
}

/// The `seq` to resume after: the `Last-Event-ID` header, else `?last_event_id=` (the header
/// wins: a reconnecting `EventSource` keeps its URL and sends the header).
fn resume_after(headers: &HeaderMap, query: Option<&str>) -> Result<Option<i64>, Problem> {
    let raw = match headers.get("last-event-id") {
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| Problem::bad_request("Last-Event-ID must be an event's id"))?,
        ),
        None => query,
    };
    raw.map(|id| {
        id.trim()
            .parse::<i64>()
            .ok()
            .filter(|seq| *seq >= 0)
            .ok_or_else(|| {
                Problem::bad_request(format!(
                    "Last-Event-ID {id:?} is not an id this stream sent (a number)"
                ))
            })
    })
    .transpose()
}

/// The agent whose events alone the request gets: an agent's token is held to its own.
fn only_agent(who: &Principal, asked: Option<AgentId>) -> Result<Option<AgentId>, Problem> {
    match who.only_agent() {
        None => Ok(asked),
        Some(Some(me)) if asked.as_ref().is_none_or(|a| a == me) => Ok(Some(me.clone())),
        Some(_) => Err(Problem::forbidden(format!(
            "token {:?} is an agent's: it streams only that agent's events",
            who.token
        ))),
    }
}

/// `GET /v1/events?queue=..&agent=..&types=..`: see the module documentation.
pub(super) async fn stream(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, Problem> {
    let Query(pairs) = query.map_err(|e| Problem::bad_request(e.body_text()))?;
    let wanted = wanted(&pairs)?;
    let agent = only_agent(&who, wanted.agent.clone())?;
    let resume = resume_after(&headers, wanted.last_event_id.as_deref())?;
    let current = state.engine.snapshot();
    if let Some(unknown) = wanted
        .queues
        .iter()
        .find(|q| !current.queues.iter().any(|v| &v.id == *q))
    {
        return Err(Problem::invalid("queue", format!("no queue {unknown}")));
    }
    if let Some(unknown) = agent.as_ref().filter(|a| current.agents.get(a).is_none()) {
        return Err(Problem::invalid("agent", format!("no agent {unknown}")));
    }
    let members = current
        .agents
        .iter()
        .filter(|a| a.queues.iter().any(|q| wanted.queues.contains(q)))
        .map(|a| a.id.clone())
        .collect();
    let filter = EventFilter {
        types: wanted.types,
        queues: wanted.queues,
        members,
        agent,
    };
    let newest = state
        .store
        .last_event()
        .await
        .map_err(|e| Problem::internal(&e))?;
    let newest_seq = newest.map_or(0, |m| m.seq);
    // An id beyond the newest event is from a database since replaced: start afresh.
    let (after, snapshot) = match resume {
        Some(seq) if seq <= newest_seq => (seq, None),
        _ => {
            let snapshot = snapshot_covering(&state.engine, newest).await;
            (
                newest_seq,
                Some(snapshot_event(&snapshot, &filter, newest_seq)),
            )
        }
    };
    let numbers = Numbers {
        queues: who.only_agent().is_none() && filter.types.iter().any(|t| t == "queue.stats"),
        agents: filter.types.iter().any(|t| t == "agent.stats"),
        in_queues: filter.queues.clone(),
        agent: filter.agent.clone(),
        state: state.clone(),
    };
    let tail = Tail {
        store: state.store.clone(),
        // Silent monitoring stays silent: an agent's desktop never learns of it.
        hide_monitoring: who.only_agent().is_some(),
        filter,
        after,
        page: VecDeque::new(),
        read_now: true,
        batches: state.outbox_batches.clone(),
    };
    let events = stream::select(
        stream::iter(snapshot.map(Ok)).chain(tail.into_stream()),
        numbers.into_stream(),
    );
    Ok((
        // Proxies that buffer responses (nginx) would hold the events back.
        [("x-accel-buffering", "no")],
        Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)),
    )
        .into_response())
}

/// A snapshot that shows everything up to `newest`, read before it: events after `newest`
/// follow it, and any it already shows are sent again rather than missed (they carry their
/// ids, by which a client drops them).
async fn snapshot_covering(engine: &EngineHandle, newest: Option<EventMark>) -> Arc<Snapshot> {
    let mut published = engine.subscribe();
    let snapshot = published.borrow_and_update().clone();
    let Some(newest) = newest else {
        return snapshot;
    };
    // Events are stamped with the engine's time when it made them: a snapshot taken later
    // shows them. An older one is replaced by the next, unless the engine has nothing newer.
    if snapshot.at.is_some_and(|at| at > newest.at) {
        return snapshot;
    }
    let _ = tokio::time::timeout(SNAPSHOT_WAIT, published.changed()).await;
    engine.snapshot()
}

/// The `snapshot` event: queues, agents and calls as the filter narrows them.
fn snapshot_event(snapshot: &Snapshot, filter: &EventFilter, seq: i64) -> Event {
    let in_queues = |q: &QueueId| filter.queues.is_empty() || filter.queues.contains(q);
    let now = wall_clock_ms();
    let queues: Vec<_> = snapshot
        .queues
        .iter()
        .filter(|q| in_queues(&q.id))
        .collect();
    let agents: Vec<_> = snapshot
        .agents
        .iter()
        .filter(|a| filter.agent.as_ref().is_none_or(|me| *me == a.id))
        .filter(|a| filter.queues.is_empty() || a.queues.iter().any(in_queues))
        .map(|a| with_time_in_state(a, now))
        .collect();
    let calls: Vec<_> = snapshot
        .calls
        .iter()
        .filter(|c| in_queues(&c.queue))
        .filter(|c| filter.agent.as_ref().is_none_or(|me| involves(c, me)))
        .collect();
    let timestamp = snapshot.at.and_then(crate::cti::rfc3339);
    let body = json!({
        "type": "snapshot",
        "timestamp": timestamp,
        "data": { "queues": queues, "agents": agents, "calls": calls },
    });
    Event::default()
        .id(seq.to_string())
        .event("snapshot")
        .data(body.to_string())
}

/// The events after `after`, read a page at a time as the client takes them.
struct Tail {
    store: Store,
    /// Leave out `monitor.*` events (an agent's token).
    hide_monitoring: bool,
    filter: EventFilter,
    after: i64,
    page: VecDeque<StoredEvent>,
    /// Read the table without waiting: at the start, and after a full page.
    read_now: bool,
    batches: watch::Receiver<u64>,
}

impl Tail {
    fn into_stream(self) -> impl Stream<Item = Result<Event, Infallible>> {
        stream::unfold(self, |mut tail| async move {
            let event = tail.next_event().await?;
            Some((Ok(event), tail))
        })
    }

    /// The next event; `None` when the controller stops or the table cannot be read (the
    /// client reconnects with the last id it got).
    async fn next_event(&mut self) -> Option<Event> {
        loop {
            while let Some(stored) = self.page.pop_front() {
                self.after = stored.seq;
                if self.hide_monitoring && stored.event_type.starts_with("monitor.") {
                    continue;
                }
                if let Some(event) = sse_event(stored) {
                    return Some(event);
                }
            }
            if self.read_now {
                self.batches.borrow_and_update();
            } else if self.batches.changed().await.is_err() {
                return None;
            }
            match self
                .store
                .events_after(self.after, &self.filter, PAGE)
                .await
            {
                Ok(page) => {
                    self.read_now = page.len() >= PAGE as usize;
                    self.page = page.into();
                }
                Err(e) => {
                    warn!(error = %e, after = self.after, "cannot read events for a live stream; ending it");
                    return None;
                }
            }
        }
    }
}

/// The periodic `queue.stats` and `agent.stats` events of one stream (queues' numbers never
/// to an agent's token). They carry no id: a client resuming gets the next ones anyway.
struct Numbers {
    queues: bool,
    agents: bool,
    in_queues: Vec<QueueId>,
    agent: Option<AgentId>,
    state: ApiState,
}

impl Numbers {
    fn into_stream(self) -> impl Stream<Item = Result<Event, Infallible>> {
        let start = tokio::time::Instant::now() + STATS_EVERY;
        let ticks = tokio::time::interval_at(start, STATS_EVERY);
        stream::unfold(
            (self, ticks, VecDeque::new()),
            |(numbers, mut ticks, mut pending)| async move {
                if !numbers.queues && !numbers.agents {
                    return None;
                }
                loop {
                    if let Some(event) = pending.pop_front() {
                        return Some((Ok(event), (numbers, ticks, pending)));
                    }
                    ticks.tick().await;
                    // The history writer gone: the controller stops, and so does the stream.
                    if numbers.state.outbox_batches.has_changed().is_err() {
                        return None;
                    }
                    pending.extend(numbers.events().await);
                }
            },
        )
    }

    async fn events(&self) -> Vec<Event> {
        let now = wall_clock_ms();
        let timestamp = jiff::Timestamp::from_millisecond(now)
            .ok()
            .map(|t| t.to_string());
        let event = |kind: &str, data: serde_json::Value| {
            let body = json!({ "type": kind, "timestamp": timestamp, "data": data });
            Event::default().event(kind).data(body.to_string())
        };
        let mut out = Vec::new();
        if self.queues {
            match super::stats::queue_entries(&self.state, now).await {
                Ok(entries) => out.extend(
                    entries
                        .into_iter()
                        .filter(|q| {
                            self.in_queues.is_empty()
                                || self.in_queues.iter().any(|id| q["queue"] == id.as_str())
                        })
                        .map(|q| event("queue.stats", q)),
                ),
                Err(e) => warn!(detail = %e.detail, "cannot compute queue.stats for a live stream"),
            }
        }
        if self.agents {
            let only = self.agent.as_ref().map(Some);
            match super::stats::agent_entries(&self.state, only, now).await {
                Ok(entries) => out.extend(entries.into_iter().map(|a| event("agent.stats", a))),
                Err(e) => warn!(detail = %e.detail, "cannot compute agent.stats for a live stream"),
            }
        }
        out
    }
}

/// `id: <seq>`, `event: <type>`, `data: <the webhook body>`.
fn sse_event(stored: StoredEvent) -> Option<Event> {
    if !EVENT_TYPES.contains(&stored.event_type.as_str()) {
        warn!(seq = stored.seq, event_type = %stored.event_type, "skipping an event of an unknown type");
        return None;
    }
    Some(
        Event::default()
            .id(stored.seq.to_string())
            .event(stored.event_type)
            .data(stored.payload),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Role;

    fn pairs(query: &[(&str, &str)]) -> Vec<(String, String)> {
        query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn queues_repeat_or_come_as_a_list_and_types_must_be_known() {
        let got = wanted(&pairs(&[
            ("queue", "support,sales"),
            ("queue", "support"),
            ("types", "call.offered, call.ended"),
        ]))
        .unwrap_or_else(|e| panic!("{e:?}"));
        let queues: Vec<&str> = got.queues.iter().map(QueueId::as_str).collect();
        assert_eq!(queues, ["sales", "support"]);
        assert_eq!(got.types, ["call.ended", "call.offered"]);
        let refused = wanted(&pairs(&[("types", "call.rang")])).map(|_| ());
        assert!(matches!(refused, Err(p) if p.status == 422));
        let refused = wanted(&pairs(&[("since", "1")])).map(|_| ());
        assert!(matches!(refused, Err(p) if p.status == 400));
    }

    #[test]
    fn the_last_event_id_header_wins_over_the_query_and_must_be_a_number() {
        let mut headers = HeaderMap::new();
        assert_eq!(resume_after(&headers, None).ok(), Some(None));
        assert_eq!(resume_after(&headers, Some("7")).ok(), Some(Some(7)));
        headers.insert(
            "last-event-id",
            "42".parse().unwrap_or_else(|e| panic!("{e}")),
        );
        assert_eq!(resume_after(&headers, Some("7")).ok(), Some(Some(42)));
        headers.insert(
            "last-event-id",
            "evt_1".parse().unwrap_or_else(|e| panic!("{e}")),
        );
        assert!(matches!(resume_after(&headers, None), Err(p) if p.status == 400));
        assert!(matches!(resume_after(&HeaderMap::new(), Some("-1")), Err(p) if p.status == 400));
    }

    #[test]
    fn an_agents_token_is_held_to_its_own_agent() {
        let id = |s: &str| AgentId::new(s).unwrap_or_else(|e| panic!("{e}"));
        let alice = Principal {
            token: "alice".to_owned(),
            role: Role::Agent,
            agent: Some(id("1001")),
        };
        assert_eq!(only_agent(&alice, None).ok(), Some(Some(id("1001"))));
        assert_eq!(
            only_agent(&alice, Some(id("1001"))).ok(),
            Some(Some(id("1001")))
        );
        assert!(matches!(only_agent(&alice, Some(id("1002"))), Err(p) if p.status == 403));
        let wallboard = Principal {
            role: Role::Supervisor,
            agent: None,
            ..alice
        };
        assert_eq!(only_agent(&wallboard, None).ok(), Some(None));
        assert_eq!(
            only_agent(&wallboard, Some(id("1002"))).ok(),
            Some(Some(id("1002")))
        );
    }
}
