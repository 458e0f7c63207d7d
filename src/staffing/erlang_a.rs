//! Erlang A (Palm's M/M/n+M): Erlang C's queue whose callers each hang up after an
//! exponential patience of mean `1/θ`. The number of calls in the system is a birth-death
//! chain (arrivals at λ; departures at `min(k, n)·μ + max(k − n, 0)·θ`), whose stationary
//! distribution is summed in log space and cut where its terms fall below e^-45 of the largest.
//!
//! An arrival sees that distribution (PASTA). One that finds `n + i` calls has `i` callers
//! ahead of it; it moves up at rate `r_i = n·μ + i·θ` (an answer or an abandon ahead) and
//! leaves at rate θ. From that chain: the probability of being answered (`s_i`), the mean wait
//! of those answered (`m_i`), both by recursion, and the probability of being answered within
//! the target `T` (`u_i(T)`, the chain's Kolmogorov equations integrated with RK4).

use super::{seconds, Plan, MAX_AGENTS};

/// The longest queue (callers beyond the agents) the stationary distribution is carried to;
/// a load that keeps more callers waiting (very patient callers, far too few agents) is
/// refused rather than computed for ever.
pub const PATIENCE_TAIL_LIMIT: usize = 50_000;

/// The most arithmetic (callers ahead × integration steps) one evaluation may do: a tenth of
/// a second or so of one core, so a whole plan (a binary search) stays within seconds. Beyond
/// it the question is refused rather than left to run.
const WORK_LIMIT: u128 = 50_000_000;

/// How far below the largest term the distribution is cut (natural log).
const CUT: f64 = 45.0;

/// The stationary distribution of the number in the system, normalised, and `n`.
pub(super) fn distribution(traffic: f64, agents: u32, mu: f64, theta: f64) -> Option<Vec<f64>> {
    let lambda = traffic * mu;
    let n = agents as usize;
    let mut logs = Vec::with_capacity(n + 64);
    let mut log = 0.0f64;
    logs.push(log);
    let log_traffic = traffic.ln();
    for k in 1..=n {
        log += log_traffic - (k as f64).ln();
        logs.push(log);
    }
    let mut largest = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let log_lambda = lambda.ln();
    let mut waiting = 0usize;
    loop {
        waiting += 1;
        let rate = f64::from(agents) * mu + waiting as f64 * theta;
        log += log_lambda - rate.ln();
        logs.push(log);
        largest = largest.max(log);
        // Past the mode the terms only fall.
        if rate > lambda && log < largest - CUT {
            break;
        }
        if waiting > PATIENCE_TAIL_LIMIT {
            return None;
        }
    }
    let weights: Vec<f64> = logs.iter().map(|l| (l - largest).exp()).collect();
    let total: f64 = weights.iter().sum();
    Some(weights.into_iter().map(|w| w / total).collect())
}

/// `u_i(T)`: an arrival with `i` callers ahead is answered within `within` seconds.
fn answered_within(
    agents: u32,
    mu: f64,
    theta: f64,
    ahead: usize,
    within: f64,
) -> Option<Vec<f64>> {
    let mut u = vec![0.0; ahead];
    if within <= 0.0 || ahead == 0 {
        return Some(u);
    }
    let base = f64::from(agents) * mu;
    let rate = |i: usize| base + i as f64 * theta;
    let fastest = rate(ahead - 1) + theta;
    // RK4 with a step of at most half the fastest rate's mean time: accurate to ~1e-6 here.
    let steps = (within * fastest * 2.0).ceil().max(20.0);
    if steps * ahead as f64 > WORK_LIMIT as f64 {
        return None;
    }
    let steps = steps as usize;
    let h = within / steps as f64;
    let derivative = |u: &[f64], out: &mut [f64]| {
        for i in 0..u.len() {
            let before = if i == 0 { 1.0 } else { u[i - 1] };
            out[i] = rate(i) * (before - u[i]) - theta * u[i];
        }
    };
    let (mut k1, mut k2, mut k3, mut k4) = (
        vec![0.0; ahead],
        vec![0.0; ahead],
        vec![0.0; ahead],
        vec![0.0; ahead],
    );
    let mut scratch = vec![0.0; ahead];
    for _ in 0..steps {
        derivative(&u, &mut k1);
        for i in 0..ahead {
            scratch[i] = u[i] + h / 2.0 * k1[i];
        }
        derivative(&scratch, &mut k2);
        for i in 0..ahead {
            scratch[i] = u[i] + h / 2.0 * k2[i];
        }
        derivative(&scratch, &mut k3);
        for i in 0..ahead {
            scratch[i] = u[i] + h * k3[i];
        }
        derivative(&scratch, &mut k4);
        for i in 0..ahead {
            u[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
        }
    }
    Some(u)
}

/// What `agents` give; `None` when the queue's tail is too long, or the target time too long
/// for the rates, to compute within [`WORK_LIMIT`].
pub(super) fn evaluate(
    traffic: f64,
    agents: u32,
    aht: f64,
    patience: f64,
    within: f64,
) -> Option<Plan> {
    let mu = 1.0 / aht;
    let theta = 1.0 / patience;
    let pi = distribution(traffic, agents, mu, theta)?;
    let n = agents as usize;
    let served_at_once: f64 = pi[..n].iter().sum();
    let queued = &pi[n..];
    let base = f64::from(agents) * mu;
    // s_i and m_i, from i = 0 up: the answered share and the mean wait of those answered.
    let (mut answered, mut wait_of_answered) = (served_at_once, 0.0);
    let (mut s, mut m) = (1.0, 0.0);
    for (i, p) in queued.iter().enumerate() {
        let forward = base + i as f64 * theta;
        let out = forward + theta;
        s *= forward / out;
        m = s / out + forward / out * m;
        answered += p * s;
        wait_of_answered += p * m;
    }
    let within_target = answered_within(agents, mu, theta, queued.len(), within)?;
    let service_level = served_at_once
        + queued
            .iter()
            .zip(&within_target)
            .map(|(p, u)| p * u)
            .sum::<f64>();
    let answered = answered.clamp(0.0, 1.0);
    Some(Plan {
        agents,
        traffic,
        service_level: service_level.clamp(0.0, 1.0),
        asa: if answered > 0.0 {
            seconds(wait_of_answered / answered)
        } else {
            seconds(0.0)
        },
        occupancy: if agents == 0 {
            0.0
        } else {
            (traffic * answered / f64::from(agents)).min(1.0)
        },
        probability_of_waiting: queued.iter().sum::<f64>().clamp(0.0, 1.0),
        abandon_rate: 1.0 - answered,
    })
}

/// The fewest agents, at least `floor`, that reach `goal`: a binary search (the service level
/// grows with the agents), bracketed by Erlang C's answer `erlang_c_agents`, which is almost
/// always enough since abandons shorten the queue; the bracket is widened when it is not.
pub(super) fn plan(
    traffic: f64,
    aht: f64,
    patience: f64,
    within: f64,
    goal: f64,
    floor: u32,
    erlang_c_agents: u32,
) -> Option<Plan> {
    let meets = |agents: u32| -> Option<(bool, Plan)> {
        let plan = evaluate(traffic, agents, aht, patience, within)?;
        Some((plan.service_level >= goal, plan))
    };
    let mut high = erlang_c_agents.max(floor).max(1);
    let mut best = loop {
        let (ok, plan) = meets(high)?;
        if ok {
            break plan;
        }
        if high >= MAX_AGENTS {
            return None;
        }
        high = high.saturating_mul(2).min(MAX_AGENTS);
    };
    let mut low = floor; // the answer is in low..=high, and `high` meets the goal
    while low < high {
        let mid = low + (high - low) / 2;
        let (ok, plan) = meets(mid)?;
        if ok {
            high = mid;
            best = plan;
        } else {
            low = mid + 1;
        }
    }
    Some(best)
}
