//! `GET /v1/reports/queues` and `GET /v1/reports/agents`: any period cut into 15-minute,
//! hourly or daily intervals of a time zone, as JSON or CSV, computed from the stored history
//! so any past period can be recomputed with other targets. Column definitions:
//! `docs/statistics.md`.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use jiff::tz::TimeZone;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{wall_clock_ms, ApiState, Problem};
use crate::engine::snapshot::Snapshot;
use crate::stats::intervals::{day_start, local_time, parse_instant, time_zone};
use crate::stats::{
    csv, AgentBucket, AgentTotals, Interval, Period, QueueBucket, QueueTotals, StaffingNeed,
    Targets,
};
use crate::store::reports::{agent_intervals, queue_intervals};

/// The longest `within` or `short_abandon` a report accepts.
const MAX_TARGET_MS: i64 = 24 * 3600 * 1000;

/// Each queue's targets: its `[queue.thresholds] service_level` or the defaults.
pub(super) fn queue_targets(snapshot: &Snapshot, defaults: Targets) -> BTreeMap<String, Targets> {
    snapshot
        .queues
        .iter()
        .map(|q| {
            let target = match &q.thresholds.service_level {
                Some(sl) => Targets {
                    service_level_percent: sl.percent,
                    within_ms: i64::try_from(sl.within.as_millis()).unwrap_or(i64::MAX),
                    short_abandon_ms: defaults.short_abandon_ms,
                },
                None => defaults,
            };
            (q.id.as_str().to_owned(), target)
        })
        .collect()
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct QueueReportQuery {
    /// Start: an RFC 3339 time, or a local date (its midnight). Default: today's midnight.
    from: Option<String>,
    /// End (excluded): an RFC 3339 time, or a local date (the whole day included). Default: now.
    to: Option<String>,
    /// `15m` (a period of at most 31 days), `1h` (366 days) or `1d` (default).
    interval: Option<String>,
    /// Only this queue.
    queue: Option<String>,
    /// Service-level target for every queue (`20s`); default: each queue's own.
    within: Option<String>,
    /// Abandons under this are short (`5s`); default: `[stats] short_abandon`.
    short_abandon: Option<String>,
    /// A tz database zone for the intervals; default: `[stats] time_zone`.
    time_zone: Option<String>,
    /// `json` (default) or `csv`; `Accept: text/csv` also asks for CSV.
    format: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct AgentReportQuery {
    /// Start: an RFC 3339 time, or a local date (its midnight). Default: today's midnight.
    from: Option<String>,
    /// End (excluded): an RFC 3339 time, or a local date (the whole day included). Default: now.
    to: Option<String>,
    /// `15m` (a period of at most 31 days), `1h` (366 days) or `1d` (default).
    interval: Option<String>,
    /// Only this agent.
    agent: Option<String>,
    /// A tz database zone for the intervals; default: `[stats] time_zone`.
    time_zone: Option<String>,
    /// `json` (default) or `csv`; `Accept: text/csv` also asks for CSV.
    format: Option<String>,
}

/// A refused query parameter: 400, naming it.
fn bad(param: &str, detail: impl std::fmt::Display) -> Problem {
    let mut problem = Problem::bad_request(format!("{param}: {detail}"));
    problem.field = Some(param.to_owned());
    problem
}

fn duration_ms(param: &str, value: &str) -> Result<i64, Problem> {
    let d = humantime::parse_duration(value).map_err(|e| {
        bad(
            param,
            format!("{value:?} is not a duration like \"20s\": {e}"),
        )
    })?;
    let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    if ms > MAX_TARGET_MS {
        return Err(bad(param, "at most 24h"));
    }
    Ok(ms)
}

/// The period, its intervals and zone, from the common parameters.
struct Asked {
    tz: TimeZone,
    tz_name: String,
    interval: Interval,
    period: Period,
    csv: bool,
}

/// The parameters both reports take, as given.
impl Asked {
    /// A report row: `figures` with the queue's or agent's `(column, id)`, its name and
    /// interval `i`'s local start and end.
    fn row(
        &self,
        figures: &impl serde::Serialize,
        (column, id): (&str, &str),
        name: Option<&String>,
        i: usize,
    ) -> Value {
        let mut row = serde_json::to_value(figures).unwrap_or_default();
        if let Some(fields) = row.as_object_mut() {
            fields.insert(column.to_owned(), json!(id));
            fields.insert("name".to_owned(), json!(name));
            let start = local_time(self.period.starts[i], &self.tz);
            fields.insert("start".to_owned(), json!(start));
            let end = local_time(self.period.end_of(i), &self.tz);
            fields.insert("end".to_owned(), json!(end));
        }
        row
    }
}

struct Common<'a> {
    from: Option<&'a str>,
    to: Option<&'a str>,
    interval: Option<&'a str>,
    zone: Option<&'a str>,
    format: Option<&'a str>,
}

fn asked(
    state: &ApiState,
    headers: &HeaderMap,
    common: Common<'_>,
    now: i64,
) -> Result<Asked, Problem> {
    let Common {
        from,
        to,
        interval,
        zone,
        format,
    } = common;
    let settings = &state.stats.settings;
    let (tz, tz_name) = match zone {
        Some(name) => (
            time_zone(name).map_err(|e| bad("time_zone", e))?,
            name.to_owned(),
        ),
        None => (settings.time_zone.clone(), settings.time_zone_name.clone()),
    };
    let interval = match interval {
        Some(s) => Interval::parse(s).map_err(|e| bad("interval", e))?,
        None => Interval::Day,
    };
    let from = match from {
        Some(s) => parse_instant(s, &tz, false).map_err(|e| bad("from", e))?,
        None => day_start(now, &tz),
    };
    let to = match to {
        Some(s) => parse_instant(s, &tz, true).map_err(|e| bad("to", e))?,
        None => now + 1,
    };
    let period = Period::cut(&tz, from, to, interval).map_err(|e| match e {
        crate::stats::IntervalError::TooLong { .. } => bad("interval", e),
        other => bad("to", other),
    })?;
    let accepts_csv = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/csv"));
    let csv = match format {
        Some("csv") => true,
        Some("json") => false,
        Some(other) => return Err(bad("format", format!("{other:?} is not json or csv"))),
        None => accepts_csv,
    };
    Ok(Asked {
        tz,
        tz_name,
        interval,
        period,
        csv,
    })
}

fn reply(asked: &Asked, columns: Vec<String>, rows: Vec<Value>, extra: Value) -> Response {
    if asked.csv {
        return (
            [(
                header::CONTENT_TYPE,
                "text/csv; charset=utf-8; header=present",
            )],
            csv::write(&columns, &rows),
        )
            .into_response();
    }
    let mut body = json!({
        "from": local_time(asked.period.from, &asked.tz),
        "to": local_time(asked.period.to, &asked.tz),
        "from_ms": asked.period.from,
        "to_ms": asked.period.to,
        "time_zone": asked.tz_name,
        "interval": asked.interval,
        "columns": columns,
        "rows": rows,
    });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    Json(body).into_response()
}

/// Columns naming the row and its interval.
fn key_columns(first: &str) -> Vec<String> {
    [first, "name", "start", "end"]
        .iter()
        .map(|c| (*c).to_owned())
        .collect()
}

pub(super) async fn queues(
    State(state): State<ApiState>,
    headers: HeaderMap,
    query: Result<Query<QueueReportQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let Query(query) = query.map_err(|e| Problem::bad_request(e.body_text()))?;
    let now = wall_clock_ms();
    let asked = asked(
        &state,
        &headers,
        Common {
            from: query.from.as_deref(),
            to: query.to.as_deref(),
            interval: query.interval.as_deref(),
            zone: query.time_zone.as_deref(),
            format: query.format.as_deref(),
        },
        now,
    )?;
    if let Some(q) = &query.queue {
        crate::engine::QueueId::new(q).map_err(|e| bad("queue", e))?;
    }
    let snapshot = state.engine.snapshot();
    let defaults = state.stats.settings.targets;
    let short = match &query.short_abandon {
        Some(s) => Some(duration_ms("short_abandon", s)?),
        None => None,
    };
    let within = match &query.within {
        Some(s) => Some(duration_ms("within", s)?),
        None => None,
    };
    let mut targets = queue_targets(&snapshot, defaults);
    let mut default = defaults;
    if let Some(ms) = within {
        targets.clear();
        default.within_ms = ms;
    }
    if let Some(ms) = short {
        default.short_abandon_ms = ms;
        for t in targets.values_mut() {
            t.short_abandon_ms = ms;
        }
    }
    let mut data = queue_intervals(
        &state.store,
        &asked.period,
        &targets,
        default,
        query.queue.as_deref(),
    )
    .await
    .map_err(|e| Problem::internal(&e))?;
    // Every queue of the engine has its rows, with or without calls; queues gone since
    // still have theirs when they had calls.
    let names: BTreeMap<String, String> = snapshot
        .queues
        .iter()
        .map(|q| (q.id.as_str().to_owned(), q.name.clone()))
        .collect();
    let mut queues: BTreeSet<String> = data.keys().cloned().collect();
    match &query.queue {
        Some(q) => {
            queues.insert(q.clone());
        }
        None => queues.extend(names.keys().cloned()),
    }
    let mut rows = Vec::new();
    for queue in queues {
        let target = targets.get(&queue).copied().unwrap_or(default);
        let intervals = data
            .remove(&queue)
            .unwrap_or_else(|| vec![QueueBucket::default(); asked.period.len()]);
        for (i, bucket) in intervals.iter().enumerate() {
            let figures = QueueTotals::from_bucket(bucket);
            let mut row = asked.row(&figures, ("queue", &queue), names.get(&queue), i);
            if let Some(fields) = row.as_object_mut() {
                fields.insert("target_within_ms".to_owned(), json!(target.within_ms));
                fields.insert(
                    "short_abandon_ms".to_owned(),
                    json!(target.short_abandon_ms),
                );
                let length = asked.period.end_of(i) - asked.period.starts[i];
                let need = crate::stats::needed(bucket, length, &target);
                let need = serde_json::to_value(need).unwrap_or_default();
                for column in StaffingNeed::COLUMNS {
                    fields.insert(
                        column.to_owned(),
                        need.get(column).cloned().unwrap_or_default(),
                    );
                }
            }
            rows.push(row);
        }
    }
    let mut columns = key_columns("queue");
    columns.extend(["target_within_ms", "short_abandon_ms"].map(str::to_owned));
    columns.extend(QueueTotals::COLUMNS.iter().map(|c| (*c).to_owned()));
    columns.extend(StaffingNeed::COLUMNS.iter().map(|c| (*c).to_owned()));
    Ok(reply(&asked, columns, rows, json!({})))
}

pub(super) async fn agents(
    State(state): State<ApiState>,
    headers: HeaderMap,
    query: Result<Query<AgentReportQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let Query(query) = query.map_err(|e| Problem::bad_request(e.body_text()))?;
    let now = wall_clock_ms();
    let asked = asked(
        &state,
        &headers,
        Common {
            from: query.from.as_deref(),
            to: query.to.as_deref(),
            interval: query.interval.as_deref(),
            zone: query.time_zone.as_deref(),
            format: query.format.as_deref(),
        },
        now,
    )?;
    if let Some(a) = &query.agent {
        crate::engine::AgentId::new(a).map_err(|e| bad("agent", e))?;
    }
    let snapshot = state.engine.snapshot();
    let mut data = agent_intervals(&state.store, &asked.period, now, query.agent.as_deref())
        .await
        .map_err(|e| Problem::internal(&e))?;
    let names: BTreeMap<String, String> = snapshot
        .agents
        .iter()
        .map(|a| (a.id.as_str().to_owned(), a.name.clone()))
        .collect();
    let mut agents: BTreeSet<String> = data.keys().cloned().collect();
    match &query.agent {
        Some(a) => {
            agents.insert(a.clone());
        }
        None => agents.extend(names.keys().cloned()),
    }
    let mut reasons: BTreeSet<String> = BTreeSet::new();
    let mut rows = Vec::new();
    for agent in agents {
        let intervals = data
            .remove(&agent)
            .unwrap_or_else(|| vec![AgentBucket::default(); asked.period.len()]);
        for (i, bucket) in intervals.iter().enumerate() {
            let totals = AgentTotals::from_bucket(bucket);
            let mut row = asked.row(&totals, ("agent", &agent), names.get(&agent), i);
            if let Some(fields) = row.as_object_mut() {
                if asked.csv {
                    for (reason, ms) in &totals.paused_ms_by_reason {
                        reasons.insert(reason.clone());
                        fields.insert(format!("paused_ms:{reason}"), json!(ms));
                    }
                }
            }
            rows.push(row);
        }
    }
    let mut columns = key_columns("agent");
    columns.extend(
        AgentTotals::COLUMNS
            .iter()
            .filter(|c| !asked.csv || **c != "paused_ms_by_reason")
            .map(|c| (*c).to_owned()),
    );
    if asked.csv {
        columns.extend(reasons.iter().map(|r| format!("paused_ms:{r}")));
    }
    Ok(reply(&asked, columns, rows, json!({})))
}
