//! Erlang C (M/M/n): Poisson arrivals, exponential handle times, `n` agents, callers who wait
//! as long as it takes. The probability of waiting comes from Erlang B's recursion
//! `B(0) = 1, B(k) = A·B(k-1) / (k + A·B(k-1))`, which stays within 0..1 at every step (no
//! factorial, no power of A), then `C = n·B / (n − A·(1 − B))`.

use super::{seconds, Plan, MAX_AGENTS};

/// Erlang B: the share of calls blocked when `agents` lines carry `traffic` Erlangs and
/// there is no queue.
pub fn erlang_b(agents: u32, traffic: f64) -> f64 {
    let mut b = 1.0;
    for k in 1..=agents {
        b = next_b(b, k, traffic);
    }
    b
}

fn next_b(previous: f64, k: u32, traffic: f64) -> f64 {
    let t = traffic * previous;
    t / (f64::from(k) + t)
}

/// Erlang C from Erlang B at the same `agents`: the probability an arriving call waits.
fn erlang_c_from_b(b: f64, agents: u32, traffic: f64) -> f64 {
    let n = f64::from(agents);
    (n * b / (n - traffic * (1.0 - b))).clamp(0.0, 1.0)
}

fn plan_from(b: f64, traffic: f64, agents: u32, aht: f64, within: f64) -> Plan {
    let n = f64::from(agents);
    let waits = erlang_c_from_b(b, agents, traffic);
    let spare = n - traffic;
    Plan {
        agents,
        traffic,
        service_level: (1.0 - waits * (-spare * within / aht).exp()).clamp(0.0, 1.0),
        asa: seconds(waits * aht / spare),
        occupancy: traffic / n,
        probability_of_waiting: waits,
        abandon_rate: 0.0,
    }
}

/// What `agents` give; `None` when they are too few for the load (`agents <= traffic`).
pub(super) fn evaluate(traffic: f64, agents: u32, aht: f64, within: f64) -> Option<Plan> {
    if f64::from(agents) <= traffic {
        return None;
    }
    Some(plan_from(
        erlang_b(agents, traffic),
        traffic,
        agents,
        aht,
        within,
    ))
}

/// The fewest agents, at least `floor`, whose service level reaches `goal` (0-1).
pub(super) fn plan(traffic: f64, aht: f64, within: f64, goal: f64, floor: u32) -> Option<Plan> {
    // Fewer agents than the load never keep up; Erlang B is carried up to the first candidate
    // and then one agent at a time, so a plan costs O(agents) in all.
    let least_stable = (traffic.floor() + 1.0).min(f64::from(MAX_AGENTS)) as u32;
    let start = least_stable.max(floor).max(1);
    let mut b = 1.0;
    for k in 1..=start {
        b = next_b(b, k, traffic);
    }
    let mut agents = start;
    loop {
        let plan = plan_from(b, traffic, agents, aht, within);
        if plan.service_level >= goal {
            return Some(plan);
        }
        if agents >= MAX_AGENTS {
            return None;
        }
        agents += 1;
        b = next_b(b, agents, traffic);
    }
}
