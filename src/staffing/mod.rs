//! Staffing: how many agents an interval's calls need for a service-level target, and what a
//! given number of agents gives (service level, ASA, probability of waiting, occupancy).
//!
//! Pure functions over plain numbers, so the live statistics, the reports and the REST
//! calculator (`api::staffing`) share one definition. Two models: Erlang C (M/M/n, callers
//! never give up: the classic workforce-planning answer, which overstates the staff a queue
//! with abandonment needs) and Erlang A (M/M/n+M, Palm's model with exponential patience,
//! estimated from the history with [`estimate_patience`]). Both are computed by recursions over
//! the agents (Erlang B's, and the birth-death chain's in log space), never with factorials or
//! powers, so thousands of Erlangs are fine. See `docs/staffing.md`.

mod erlang_a;
mod erlang_c;

use std::time::Duration;

pub use erlang_a::PATIENCE_TAIL_LIMIT;
pub use erlang_c::erlang_b;

/// The calls of one interval: how many were offered, over how long, and their average handle
/// time (talk + hold + wrap-up).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Demand {
    pub offered: u64,
    pub interval: Duration,
    pub aht: Duration,
}

impl Demand {
    /// The offered load in Erlangs: arrivals per second times the handle time in seconds.
    pub fn traffic(&self) -> f64 {
        let interval = self.interval.as_secs_f64();
        if interval <= 0.0 {
            return 0.0;
        }
        self.offered as f64 / interval * self.aht.as_secs_f64()
    }
}

/// The service level to reach: `percent` of the offered calls answered within `within`, and,
/// optionally, no agent busier than `max_occupancy` (a fraction, 0-1) of the time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    pub percent: f64,
    pub within: Duration,
    pub max_occupancy: Option<f64>,
}

/// Which queueing model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Model {
    /// M/M/n: every caller waits as long as it takes.
    ErlangC,
    /// M/M/n+M: callers hang up after an exponential patience with this mean.
    ErlangA { patience: Duration },
}

impl Model {
    /// Erlang A when the callers' mean patience is known (see [`estimate_patience`]), Erlang C
    /// otherwise.
    pub fn for_patience(patience: Option<Duration>) -> Model {
        match patience {
            Some(patience) if !patience.is_zero() => Model::ErlangA { patience },
            _ => Model::ErlangC,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Model::ErlangC => "erlang_c",
            Model::ErlangA { .. } => "erlang_a",
        }
    }
}

/// What a number of agents gives an interval's demand (in steady state).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    pub agents: u32,
    /// The offered load, Erlangs.
    pub traffic: f64,
    /// The share (0-1) of offered calls answered within the target time.
    pub service_level: f64,
    /// Average speed of answer: the mean wait of the calls answered.
    pub asa: Duration,
    /// The share (0-1) of the agents' time spent handling calls.
    pub occupancy: f64,
    /// The share (0-1) of calls that find every agent busy.
    pub probability_of_waiting: f64,
    /// The share (0-1) of offered calls that hang up before an answer (always 0 in Erlang C).
    pub abandon_rate: f64,
}

/// Why a question has no answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StaffingError {
    #[error("the interval must be longer than zero")]
    EmptyInterval,
    #[error("the average handle time must be longer than zero")]
    NoHandleTime,
    #[error(
        "percent must be above 0 and below 100 (Erlang models never answer every call at once)"
    )]
    BadPercent,
    #[error("max_occupancy must be above 0 and at most 1")]
    BadOccupancy,
    #[error("patience must be longer than zero")]
    NoPatience,
    #[error(
        "too large to compute as Erlang A (callers so patient that the queue would grow past \
         {PATIENCE_TAIL_LIMIT}, or a target time very long for the rates): use Erlang C"
    )]
    TooLargeForErlangA,
    #[error("{0} agents cannot take the offered load without a queue that grows for ever")]
    Overloaded(u32),
    #[error("more than {0} agents would be needed")]
    TooManyAgents(u32),
}

/// The most agents a plan looks at.
pub const MAX_AGENTS: u32 = 1_000_000;

fn check_demand(demand: &Demand) -> Result<(), StaffingError> {
    if demand.interval.is_zero() {
        return Err(StaffingError::EmptyInterval);
    }
    if demand.aht.is_zero() {
        return Err(StaffingError::NoHandleTime);
    }
    Ok(())
}

fn check_model(model: Model) -> Result<(), StaffingError> {
    match model {
        Model::ErlangA { patience } if patience.is_zero() => Err(StaffingError::NoPatience),
        _ => Ok(()),
    }
}

/// What `agents` agents give `demand`, calls counted as met when answered within `within`.
pub fn evaluate(
    demand: &Demand,
    agents: u32,
    within: Duration,
    model: Model,
) -> Result<Plan, StaffingError> {
    check_demand(demand)?;
    check_model(model)?;
    let traffic = demand.traffic();
    if demand.offered == 0 {
        return Ok(idle(agents));
    }
    let aht = demand.aht.as_secs_f64();
    let within = within.as_secs_f64();
    match model {
        Model::ErlangC => erlang_c::evaluate(traffic, agents, aht, within)
            .ok_or(StaffingError::Overloaded(agents)),
        Model::ErlangA { patience } => {
            erlang_a::evaluate(traffic, agents, aht, patience.as_secs_f64(), within)
                .ok_or(StaffingError::TooLargeForErlangA)
        }
    }
}

/// The fewest agents that meet `target` for `demand`, with what they give.
pub fn plan(demand: &Demand, target: &Target, model: Model) -> Result<Plan, StaffingError> {
    check_demand(demand)?;
    check_model(model)?;
    if !(target.percent > 0.0 && target.percent < 100.0) {
        return Err(StaffingError::BadPercent);
    }
    if let Some(cap) = target.max_occupancy {
        if !(cap > 0.0 && cap <= 1.0) {
            return Err(StaffingError::BadOccupancy);
        }
    }
    if demand.offered == 0 {
        return Ok(idle(0));
    }
    let traffic = demand.traffic();
    let goal = target.percent / 100.0;
    let aht = demand.aht.as_secs_f64();
    let within = target.within.as_secs_f64();
    // The occupancy cap is a floor on the agents: traffic / agents <= cap (Erlang C's
    // occupancy; Erlang A's is lower, as abandoned calls take no handle time).
    let floor = match target.max_occupancy {
        Some(cap) => {
            let needed = (traffic / cap - 1e-9).ceil().max(0.0);
            if needed > f64::from(MAX_AGENTS) {
                return Err(StaffingError::TooManyAgents(MAX_AGENTS));
            }
            needed as u32
        }
        None => 0,
    };
    let erlang_c = erlang_c::plan(traffic, aht, within, goal, floor)
        .ok_or(StaffingError::TooManyAgents(MAX_AGENTS))?;
    match model {
        Model::ErlangC => Ok(erlang_c),
        Model::ErlangA { patience } => erlang_a::plan(
            traffic,
            aht,
            patience.as_secs_f64(),
            within,
            goal,
            floor,
            erlang_c.agents,
        )
        .ok_or(StaffingError::TooLargeForErlangA),
    }
}

/// The mean patience of a queue's callers from its history: the maximum-likelihood estimate
/// for exponential patience with censoring, i.e. the time all callers spent waiting (answered
/// ones' waits are patience not used up, abandoned ones' are patience ended) over the number
/// that abandoned. `None` without an abandon (patience then looks unbounded: use Erlang C).
pub fn estimate_patience(abandoned: u64, total_wait: Duration) -> Option<Duration> {
    if abandoned == 0 {
        return None;
    }
    Some(total_wait / u32::try_from(abandoned).unwrap_or(u32::MAX))
}

fn idle(agents: u32) -> Plan {
    Plan {
        agents,
        traffic: 0.0,
        service_level: 1.0,
        asa: Duration::ZERO,
        occupancy: 0.0,
        probability_of_waiting: 0.0,
        abandon_rate: 0.0,
    }
}

/// Seconds as a `Duration`, clamped to what one can hold (a NaN or negative is zero).
fn seconds(s: f64) -> Duration {
    if s.is_finite() && s > 0.0 {
        Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX)
    } else if s == f64::INFINITY {
        Duration::MAX
    } else {
        Duration::ZERO
    }
}

#[cfg(test)]
mod tests;
