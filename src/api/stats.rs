//! `GET /v1/stats/queues` and `GET /v1/stats/agents`: supervisors' live numbers.
//!
//! The current state (waiting, agents by state) is the engine's published snapshot; the totals
//! for today and the rolling window are the reports' own computation (`reports::queue_intervals`,
//! `reports::agent_intervals`) over `[local midnight, now]` and `[now - window, now]`, so a
//! wallboard and a report never disagree. The store part is computed at most once a second,
//! whatever the number of clients.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::{Extension, Json};
use jiff::tz::TimeZone;
use serde_json::{json, Value};

use super::reports::queue_targets;
use super::{wall_clock_ms, ApiState, Principal, Problem};
use crate::engine::snapshot::{QueueView, Snapshot};
use crate::engine::AgentStatus;
use crate::stats::intervals::day_start;
use crate::stats::{AgentBucket, AgentTotals, Period, QueueBucket, QueueTotals, Targets};
use crate::store::reports::{agent_intervals, queue_intervals};

/// How long the store part of the live numbers is reused.
const CACHE_FOR: Duration = Duration::from_secs(1);

/// `[stats]` as the API uses it.
#[derive(Debug, Clone)]
pub struct StatsSettings {
    pub time_zone: TimeZone,
    pub time_zone_name: String,
    pub window_ms: i64,
    /// The default targets; a queue's `[queue.thresholds] service_level` overrides them.
    pub targets: Targets,
}

impl StatsSettings {
    pub fn from_config(config: &crate::config::StatsConfig) -> StatsSettings {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        StatsSettings {
            // Checked when the config was read; UTC if it somehow is not known.
            time_zone: TimeZone::get(&config.time_zone).unwrap_or(TimeZone::UTC),
            time_zone_name: config.time_zone.clone(),
            window_ms: ms(config.window),
            targets: Targets {
                service_level_percent: config.service_level_percent,
                within_ms: ms(config.service_level_within),
                short_abandon_ms: ms(config.short_abandon),
            },
        }
    }
}

impl Default for StatsSettings {
    fn default() -> Self {
        StatsSettings::from_config(&crate::config::StatsConfig::default())
    }
}

struct Cached<T> {
    made: Instant,
    value: T,
}

/// Queues' totals: today and the window, per queue.
type QueueNumbers = BTreeMap<String, (QueueBucket, QueueBucket)>;

/// The settings and the store part of the live numbers, kept for [`CACHE_FOR`].
pub struct LiveStats {
    pub settings: StatsSettings,
    queues: tokio::sync::Mutex<Option<Cached<QueueNumbers>>>,
    agents: tokio::sync::Mutex<Option<Cached<BTreeMap<String, AgentBucket>>>>,
}

impl LiveStats {
    pub fn new(settings: StatsSettings) -> LiveStats {
        LiveStats {
            settings,
            queues: tokio::sync::Mutex::new(None),
            agents: tokio::sync::Mutex::new(None),
        }
    }

    async fn queue_numbers(
        &self,
        store: &crate::store::Store,
        snapshot: &Snapshot,
        now: i64,
    ) -> Result<QueueNumbers, crate::store::StoreError> {
        let mut cache = self.queues.lock().await;
        if let Some(cached) = cache.as_ref().filter(|c| c.made.elapsed() < CACHE_FOR) {
            return Ok(cached.value.clone());
        }
        let targets = queue_targets(snapshot, self.settings.targets);
        let today = Period::whole(day_start(now, &self.settings.time_zone), now + 1);
        let window = Period::whole(now - self.settings.window_ms, now + 1);
        let default = self.settings.targets;
        let mut today = queue_intervals(store, &today, &targets, default, None).await?;
        let mut window = queue_intervals(store, &window, &targets, default, None).await?;
        let names: Vec<String> = today.keys().chain(window.keys()).cloned().collect();
        let mut numbers = QueueNumbers::new();
        for name in names {
            let first = |v: Option<Vec<QueueBucket>>| {
                v.and_then(|v| v.into_iter().next()).unwrap_or_default()
            };
            let t = first(today.remove(&name));
            let w = first(window.remove(&name));
            numbers.entry(name).or_insert((t, w));
        }
        *cache = Some(Cached {
            made: Instant::now(),
            value: numbers.clone(),
        });
        Ok(numbers)
    }

    async fn agent_numbers(
        &self,
        store: &crate::store::Store,
        now: i64,
    ) -> Result<BTreeMap<String, AgentBucket>, crate::store::StoreError> {
        let mut cache = self.agents.lock().await;
        if let Some(cached) = cache.as_ref().filter(|c| c.made.elapsed() < CACHE_FOR) {
            return Ok(cached.value.clone());
        }
        let today = Period::whole(day_start(now, &self.settings.time_zone), now + 1);
        let numbers: BTreeMap<String, AgentBucket> = agent_intervals(store, &today, now, None)
            .await?
            .into_iter()
            .filter_map(|(agent, v)| Some((agent, v.into_iter().next()?)))
            .collect();
        *cache = Some(Cached {
            made: Instant::now(),
            value: numbers.clone(),
        });
        Ok(numbers)
    }
}

/// A queue's agents by state, as the wallboard counts them.
fn agents_by_state(snapshot: &Snapshot, queue: &QueueView) -> Value {
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    let mut paused_by_reason: BTreeMap<String, u64> = BTreeMap::new();
    for agent in snapshot
        .agents
        .iter()
        .filter(|a| a.queues.contains(&queue.id))
    {
        let key = match agent.status {
            AgentStatus::Available => "available",
            AgentStatus::Offered => "ringing",
            AgentStatus::OnCall => "on_call",
            AgentStatus::WrapUp => "wrap_up",
            AgentStatus::Paused => {
                *paused_by_reason
                    .entry(agent.reason.clone().unwrap_or_default())
                    .or_default() += 1;
                "paused"
            }
            AgentStatus::LoggedOut => "logged_out",
            AgentStatus::Unreachable => "unreachable",
        };
        *counts.entry(key).or_default() += 1;
        if agent.status != AgentStatus::LoggedOut {
            *counts.entry("logged_in").or_default() += 1;
        }
    }
    let count = |k: &str| counts.get(k).copied().unwrap_or(0);
    json!({
        "available": count("available"),
        "ringing": count("ringing"),
        "on_call": count("on_call"),
        "wrap_up": count("wrap_up"),
        "paused": count("paused"),
        "logged_out": count("logged_out"),
        "unreachable": count("unreachable"),
        "logged_in": count("logged_in"),
        "paused_by_reason": paused_by_reason,
    })
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Every queue's live state and its totals for today and the rolling window.
pub(super) async fn queues(State(state): State<ApiState>) -> Result<Json<Value>, Problem> {
    let now = wall_clock_ms();
    let queues = queue_entries(&state, now).await?;
    let live = &state.stats;
    Ok(Json(json!({
        "at": now,
        "time_zone": live.settings.time_zone_name,
        "day_start": day_start(now, &live.settings.time_zone),
        "window_ms": live.settings.window_ms,
        "queues": queues,
    })))
}

/// Each queue's entry of `GET /v1/stats/queues` (and of a `queue.stats` event).
pub(super) async fn queue_entries(state: &ApiState, now: i64) -> Result<Vec<Value>, Problem> {
    let snapshot = state.engine.snapshot();
    let live = &state.stats;
    let numbers = live
        .queue_numbers(&state.store, &snapshot, now)
        .await
        .map_err(|e| Problem::internal(&e))?;
    let targets = queue_targets(&snapshot, live.settings.targets);
    let queues: Vec<Value> = snapshot
        .queues
        .iter()
        .map(|q| {
            let target = targets
                .get(q.id.as_str())
                .copied()
                .unwrap_or(live.settings.targets);
            let (today, window) = numbers.get(q.id.as_str()).cloned().unwrap_or_default();
            let callbacks = snapshot
                .calls
                .iter()
                .filter(|c| c.queue == q.id && c.state == "callback")
                .count();
            let longest = q
                .oldest_wait_since
                .map(|since| (now - since.as_millis()).max(0));
            let t = &q.thresholds;
            json!({
                "queue": q.id,
                "name": q.name,
                "waiting": q.waiting,
                "longest_wait_ms": longest,
                "callbacks_pending": callbacks,
                "agents": agents_by_state(&snapshot, q),
                "target": target,
                "thresholds": {
                    "waiting": t.waiting,
                    "longest_wait_ms": t.longest_wait.map(ms),
                    "service_level_percent": t.service_level.as_ref().map(|s| s.percent),
                },
                "alarms": q.alarms,
                "today": QueueTotals::from_bucket(&today),
                "window": QueueTotals::from_bucket(&window),
                "staffing": staffing_now(&window, live.settings.window_ms, now, &target, q),
            })
        })
        .collect();
    Ok(queues)
}

/// "Needed now: N, logged in: M": the agents the rolling window's calls needed by Erlang C
/// for the queue's target, beside the queue's agents logged in; `null` until a call of the
/// window has been handled.
fn staffing_now(
    window: &QueueBucket,
    window_ms: i64,
    now: i64,
    target: &Targets,
    queue: &QueueView,
) -> Value {
    match crate::stats::needed_now(window, window_ms, now, target) {
        Some(need) => json!({
            "model": need.model,
            "basis": "window",
            "needed_now": need.agents_needed,
            "logged_in": queue.agents_logged_in,
            "traffic_erlangs": need.traffic_erlangs,
            "service_level_percent": need.staffed_service_level_percent,
            "asa_ms": need.staffed_asa_ms,
            "occupancy_percent": need.staffed_occupancy_percent,
        }),
        None => Value::Null,
    }
}

/// Every agent's live state and its totals for today; an agent's token sees its own only.
pub(super) async fn agents(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
) -> Result<Json<Value>, Problem> {
    let now = wall_clock_ms();
    let agents = agent_entries(&state, who.only_agent(), now).await?;
    let live = &state.stats;
    Ok(Json(json!({
        "at": now,
        "time_zone": live.settings.time_zone_name,
        "day_start": day_start(now, &live.settings.time_zone),
        "agents": agents,
    })))
}

/// Each agent's entry of `GET /v1/stats/agents` (and of an `agent.stats` event); `only`: as
/// `Principal::only_agent` says (an agent's token: its own agent, or none).
pub(super) async fn agent_entries(
    state: &ApiState,
    only: Option<Option<&crate::engine::AgentId>>,
    now: i64,
) -> Result<Vec<Value>, Problem> {
    let snapshot = state.engine.snapshot();
    let live = &state.stats;
    let numbers = live
        .agent_numbers(&state.store, now)
        .await
        .map_err(|e| Problem::internal(&e))?;
    let agents: Vec<Value> = snapshot
        .agents
        .iter()
        .filter(|a| only.is_none_or(|me| me == Some(&a.id)))
        .map(|a| {
            let today = numbers.get(a.id.as_str()).cloned().unwrap_or_default();
            let since = a.since.as_millis();
            json!({
                "agent": a.id,
                "name": a.name,
                "state": a.status.as_str(),
                "reason": a.reason,
                "since": since,
                "time_in_state_ms": (now - since).max(0),
                "pending": a.after_call.as_ref().map(|p| json!({
                    "state": p.status.as_str(),
                    "reason": p.reason,
                })),
                "call": a.call,
                "today": AgentTotals::from_bucket(&today),
            })
        })
        .collect();
    Ok(agents)
}
