//! `GET /v1/staffing`: a calculator over `staffing` for supervisors planning an interval: how
//! many agents a number of calls needs for a service-level target (Erlang C, or Erlang A when
//! the callers' patience is given), or, with `agents`, what that many give.

use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::Query;
use axum::Json;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Problem;
use crate::staffing::{self, Demand, Model, Plan, Target};

/// The longest interval, handle time, target time or patience the calculator takes (a day).
const LONGEST_SECONDS: f64 = 86_400.0;
/// The largest offered load it takes, in Erlangs.
const MOST_ERLANGS: f64 = 100_000.0;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct StaffingQuery {
    /// Calls offered in the interval.
    offered: u64,
    /// The interval's length, seconds (900 for 15 minutes, 3600 for an hour).
    interval: f64,
    /// Average handle time (talk + hold + wrap-up), seconds.
    aht: f64,
    /// The service-level target: this percentage of the offered calls (above 0, below 100)...
    percent: f64,
    /// ...answered within this many seconds.
    within: f64,
    /// The callers' mean patience, seconds: when given, Erlang A (callers hang up) instead of
    /// Erlang C (callers wait for ever). See `docs/staffing.md` for estimating it.
    patience: Option<f64>,
    /// No more than this percentage of the agents' time handling calls (above 0, at most 100).
    max_occupancy: Option<f64>,
    /// Evaluate this many agents instead of finding the fewest that meet the target.
    agents: Option<u32>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub(super) struct StaffingReply {
    /// `erlang_c` or `erlang_a`.
    model: &'static str,
    /// The offered load: calls per second × average handle time.
    traffic_erlangs: f64,
    /// The fewest agents that meet the target (or the `agents` asked about).
    agents: u32,
    /// Share (0-1) of the offered calls answered within `within`.
    service_level: f64,
    /// Whether `service_level` reaches `percent` (and occupancy the cap).
    meets_target: bool,
    /// Average speed of answer: the mean wait of answered calls, seconds.
    asa_seconds: f64,
    /// Share (0-1) of the agents' time spent on calls.
    occupancy: f64,
    /// Share (0-1) of calls that find every agent busy.
    probability_of_waiting: f64,
    /// Share (0-1) of offered calls that hang up before an answer (0 under Erlang C).
    abandon_rate: f64,
}

fn seconds(name: &str, value: f64, zero_allowed: bool) -> Result<Duration, Problem> {
    let fits = value.is_finite()
        && value <= LONGEST_SECONDS
        && (value > 0.0 || (zero_allowed && value == 0.0));
    if !fits {
        let least = if zero_allowed { "0" } else { "above 0" };
        return Err(Problem::bad_request(format!(
            "{name} must be a number of seconds, {least} and at most {LONGEST_SECONDS}"
        )));
    }
    Ok(Duration::from_secs_f64(value))
}

pub(super) async fn calculate(
    query: Result<Query<StaffingQuery>, QueryRejection>,
) -> Result<Json<StaffingReply>, Problem> {
    let Query(q) = query.map_err(|e| Problem::bad_request(e.body_text()))?;
    let demand = Demand {
        offered: q.offered,
        interval: seconds("interval", q.interval, false)?,
        aht: seconds("aht", q.aht, false)?,
    };
    if demand.traffic() > MOST_ERLANGS {
        return Err(Problem::bad_request(format!(
            "offered × aht / interval is {:.0} Erlangs; at most {MOST_ERLANGS} are taken",
            demand.traffic()
        )));
    }
    let within = seconds("within", q.within, true)?;
    let model = match q.patience {
        Some(p) => Model::ErlangA {
            patience: seconds("patience", p, false)?,
        },
        None => Model::ErlangC,
    };
    if !q.percent.is_finite() {
        return Err(Problem::bad_request("percent must be a number"));
    }
    let max_occupancy = match q.max_occupancy {
        Some(cap) if cap.is_finite() && cap > 0.0 && cap <= 100.0 => Some(cap / 100.0),
        Some(_) => {
            return Err(Problem::bad_request(
                "max_occupancy must be a percentage above 0 and at most 100",
            ))
        }
        None => None,
    };
    let target = Target {
        percent: q.percent,
        within,
        max_occupancy,
    };
    if !(target.percent > 0.0 && target.percent < 100.0) {
        return Err(Problem::bad_request(
            staffing::StaffingError::BadPercent.to_string(),
        ));
    }
    let agents = q.agents;
    // Erlang A can take a second or so on a large load: off the async workers.
    let plan = tokio::task::spawn_blocking(move || match agents {
        Some(n) => staffing::evaluate(&demand, n, within, model),
        None => staffing::plan(&demand, &target, model),
    })
    .await
    .map_err(|e| Problem::internal(&e))?
    .map_err(|e| Problem::bad_request(e.to_string()))?;
    Ok(Json(reply(&plan, &target, model)))
}

fn reply(plan: &Plan, target: &Target, model: Model) -> StaffingReply {
    let occupancy_ok = target
        .max_occupancy
        .is_none_or(|cap| plan.occupancy <= cap + 1e-12);
    StaffingReply {
        model: model.name(),
        traffic_erlangs: plan.traffic,
        agents: plan.agents,
        service_level: plan.service_level,
        meets_target: plan.service_level >= target.percent / 100.0 && occupancy_ok,
        asa_seconds: plan.asa.as_secs_f64(),
        occupancy: plan.occupancy,
        probability_of_waiting: plan.probability_of_waiting,
        abandon_rate: plan.abandon_rate,
    }
}
