use std::time::Duration;

use proptest::prelude::*;

use super::*;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn close(actual: f64, expected: f64, tolerance: f64) {
    assert!(
        (actual - expected).abs() <= tolerance,
        "{actual} is not {expected} ± {tolerance}"
    );
}

/// Call Centre Helper, "Erlang C Formula – Made Simple With an Easy Worked Example"
/// (callcentrehelper.com/erlang-c-formula-example-121281.htm): 100 calls in 30 minutes, AHT
/// 3 minutes, target 80 % in 20 s. Traffic 10 Erlangs; 14 agents: probability of waiting
/// 17.41 %, service level 88.84 %, ASA 7.8 s, occupancy 71.4 %; 13 agents fall short (79.6 %).
#[test]
fn call_centre_helper_worked_example_needs_14_agents_for_80_in_20() {
    let demand = Demand {
        offered: 100,
        interval: secs(30 * 60),
        aht: secs(180),
    };
    close(demand.traffic(), 10.0, 1e-12);
    let at_14 = evaluate(&demand, 14, secs(20), Model::ErlangC).expect("14 agents");
    close(at_14.probability_of_waiting, 0.1741, 0.00005);
    close(at_14.service_level, 0.8884, 0.00005);
    close(at_14.asa.as_secs_f64(), 7.8, 0.05);
    close(at_14.occupancy, 0.714, 0.0005);
    let at_13 = evaluate(&demand, 13, secs(20), Model::ErlangC).expect("13 agents");
    close(at_13.service_level, 0.7956, 0.00005);
    let target = Target {
        percent: 80.0,
        within: secs(20),
        max_occupancy: None,
    };
    let plan = plan(&demand, &target, Model::ErlangC).expect("a plan");
    assert_eq!(plan.agents, 14);
    assert_eq!(plan, at_14);
    // The article's 85 % occupancy cap needs 12, so it does not bind here.
    let capped = Target {
        max_occupancy: Some(0.85),
        ..target
    };
    assert_eq!(
        super::plan(&demand, &capped, Model::ErlangC)
            .expect("plan")
            .agents,
        14
    );
}

/// Westbay Engineers' "The Erlang-C formula" step-by-step example (erlang.com): 360 calls per
/// half hour, 4-minute calls, 55 agents, 15 s target. Traffic 48 Erlangs, occupancy 87.3 %,
/// probability of waiting 23.9 %, ASA 8.2 s, service level 84.6 %; the four-digit values below
/// were recomputed independently with the textbook factorial form in double precision.
#[test]
fn westbay_step_by_step_example_with_55_agents() {
    let demand = Demand {
        offered: 360,
        interval: secs(30 * 60),
        aht: secs(240),
    };
    close(demand.traffic(), 48.0, 1e-12);
    let plan = evaluate(&demand, 55, secs(15), Model::ErlangC).expect("55 agents");
    close(plan.occupancy, 0.8727, 0.00005);
    close(plan.probability_of_waiting, 0.2387, 0.00005);
    close(plan.asa.as_secs_f64(), 8.18, 0.005);
    close(plan.service_level, 0.8459, 0.00005);
}

/// The Erlang B table traffic-engineering texts print (the 1 % grade-of-service column): the
/// traffic that `n` lines carry at 1 % blocking. Erlang C is computed from the same recursion.
#[test]
fn erlang_b_matches_the_published_one_percent_table() {
    for (lines, erlangs) in [
        (1, 0.0101),
        (5, 1.36),
        (10, 4.46),
        (20, 12.03),
        (50, 37.90),
        (100, 84.06),
    ] {
        close(erlang_b(lines, erlangs), 0.01, 0.00003);
    }
}

/// The common M/M/c exercise (one call a minute, 3-minute calls, 5 agents), worked by hand
/// with the textbook factorial form: 3 Erlangs, C(5, 3) = (3⁵/5!·5/2) / (1 + 3 + 4.5 + 4.5 +
/// 3.375 + 5.0625) = 5.0625 / 21.4375 = 0.2362, so 76.4 % are answered at once and the mean
/// wait is C·AHT/(n − A) = 0.354 minutes.
#[test]
fn textbook_mm5_with_three_erlangs() {
    let demand = Demand {
        offered: 60,
        interval: secs(3600),
        aht: secs(180),
    };
    let plan = evaluate(&demand, 5, Duration::ZERO, Model::ErlangC).expect("5 agents");
    close(plan.probability_of_waiting, 0.2362, 0.00005);
    close(plan.service_level, 0.7638, 0.00005);
    close(plan.asa.as_secs_f64() / 60.0, 0.2362 * 3.0 / 2.0, 0.0001);
}

#[test]
fn thousands_of_erlangs_are_computed_without_overflow() {
    // 20,000 calls of 5 minutes in 15 minutes: 6,667 Erlangs.
    let demand = Demand {
        offered: 20_000,
        interval: secs(15 * 60),
        aht: secs(300),
    };
    let target = Target {
        percent: 80.0,
        within: secs(20),
        max_occupancy: None,
    };
    let plan = plan(&demand, &target, Model::ErlangC).expect("a plan");
    let traffic = demand.traffic();
    // Square-root staffing: n ≈ A + β·√A with β around 0.5-1 for such a target.
    assert!(f64::from(plan.agents) > traffic);
    assert!(f64::from(plan.agents) < traffic + 2.0 * traffic.sqrt());
    assert!(plan.service_level.is_finite() && plan.service_level >= 0.8);
    assert!(plan.occupancy > 0.98, "{}", plan.occupancy);
    let patient = plan_a(&demand, &target, 180);
    assert!(patient.agents <= plan.agents);
    assert!(patient.service_level >= 0.8);
}

fn plan_a(demand: &Demand, target: &Target, patience: u64) -> Plan {
    plan(
        demand,
        target,
        Model::ErlangA {
            patience: secs(patience),
        },
    )
    .expect("an Erlang A plan")
}

/// With patience equal to the handle time (θ = μ) every call in the system leaves at the same
/// rate, so the number in the system is Poisson(A), as in M/M/∞: an arrival waits with
/// probability P(X ≥ n) and the share abandoning is E[(X − n)⁺] / A.
#[test]
fn erlang_a_with_patience_equal_to_handle_time_is_poisson() {
    let demand = Demand {
        offered: 100,
        interval: secs(1800),
        aht: secs(180),
    };
    let (traffic, agents) = (10.0f64, 12u32);
    let plan = evaluate(
        &demand,
        agents,
        secs(20),
        Model::ErlangA {
            patience: secs(180),
        },
    )
    .expect("plan");
    let mut p = (-traffic).exp();
    let (mut tail, mut excess) = (0.0, 0.0);
    for k in 0..400u32 {
        if k >= agents {
            tail += p;
            excess += p * f64::from(k - agents);
        }
        p *= traffic / f64::from(k + 1);
    }
    close(plan.probability_of_waiting, tail, 1e-9);
    close(plan.abandon_rate, excess / traffic, 1e-9);
}

#[test]
fn erlang_a_abandons_follow_littles_law() {
    // P(abandon) = θ·E[queue] / λ for any patience.
    let (traffic, agents, aht, patience) = (10.0, 11u32, 180.0, 90.0);
    let pi = erlang_a::distribution(traffic, agents, 1.0 / aht, 1.0 / patience).expect("pi");
    let queue: f64 = pi
        .iter()
        .enumerate()
        .skip(agents as usize)
        .map(|(k, p)| (k - agents as usize) as f64 * p)
        .sum();
    let demand = Demand {
        offered: 100,
        interval: secs(1800),
        aht: secs(180),
    };
    let plan = evaluate(
        &demand,
        agents,
        secs(20),
        Model::ErlangA { patience: secs(90) },
    )
    .expect("plan");
    close(
        plan.abandon_rate,
        (queue / patience) / (traffic / aht),
        1e-9,
    );
    close(pi.iter().sum::<f64>(), 1.0, 1e-12);
}

#[test]
fn erlang_a_with_very_patient_callers_is_erlang_c() {
    let demand = Demand {
        offered: 100,
        interval: secs(1800),
        aht: secs(180),
    };
    let c = evaluate(&demand, 14, secs(20), Model::ErlangC).expect("C");
    let a = evaluate(
        &demand,
        14,
        secs(20),
        Model::ErlangA {
            patience: secs(10_000_000),
        },
    )
    .expect("A");
    close(a.probability_of_waiting, c.probability_of_waiting, 1e-4);
    close(a.service_level, c.service_level, 1e-4);
    close(a.asa.as_secs_f64(), c.asa.as_secs_f64(), 0.01);
    assert!(a.abandon_rate < 1e-4);
}

#[test]
fn erlang_a_service_level_runs_from_answered_at_once_to_answered_at_all() {
    let demand = Demand {
        offered: 100,
        interval: secs(1800),
        aht: secs(180),
    };
    let model = Model::ErlangA {
        patience: secs(120),
    };
    let now = evaluate(&demand, 11, Duration::ZERO, model).expect("plan");
    close(now.service_level, 1.0 - now.probability_of_waiting, 1e-12);
    let ever = evaluate(&demand, 11, secs(100_000), model).expect("plan");
    close(ever.service_level, 1.0 - ever.abandon_rate, 1e-6);
}

#[test]
fn abandonment_lowers_the_staff_erlang_c_asks_for() {
    let demand = Demand {
        offered: 100,
        interval: secs(1800),
        aht: secs(180),
    };
    let target = Target {
        percent: 80.0,
        within: secs(20),
        max_occupancy: None,
    };
    let c = plan(&demand, &target, Model::ErlangC).expect("C");
    let a = plan_a(&demand, &target, 60);
    assert!(a.agents < c.agents, "{} !< {}", a.agents, c.agents);
    // A discrete-event simulation of this queue (400,000 calls, FCFS, exponential patience
    // with a 60 s mean) gave: service level 86.1 %, 7.5 % abandoned, ASA 3.50 s, 24.0 % waited.
    assert_eq!(a.agents, 12);
    close(a.service_level, 0.861, 0.005);
    close(a.abandon_rate, 0.0751, 0.003);
    close(a.asa.as_secs_f64(), 3.50, 0.1);
    close(a.probability_of_waiting, 0.2397, 0.005);
    // Erlang A also staffs a load Erlang C cannot: fewer agents than Erlangs.
    let overloaded = evaluate(&demand, 9, secs(20), Model::ErlangA { patience: secs(60) })
        .expect("A takes any load");
    assert!(overloaded.abandon_rate > 0.1);
    assert_eq!(
        evaluate(&demand, 10, secs(20), Model::ErlangC),
        Err(StaffingError::Overloaded(10))
    );
}

#[test]
fn the_occupancy_cap_adds_agents_when_it_binds() {
    let demand = Demand {
        offered: 100,
        interval: secs(1800),
        aht: secs(180),
    };
    let target = Target {
        percent: 50.0,
        within: secs(60),
        max_occupancy: Some(0.7),
    };
    let plan = plan(&demand, &target, Model::ErlangC).expect("plan");
    assert_eq!(plan.agents, 15); // 10 / 0.7 = 14.3
    assert!(plan.occupancy <= 0.7);
}

#[test]
fn bad_questions_get_errors_and_no_calls_need_no_agents() {
    let demand = Demand {
        offered: 100,
        interval: secs(1800),
        aht: secs(180),
    };
    let target = |percent| Target {
        percent,
        within: secs(20),
        max_occupancy: None,
    };
    assert_eq!(
        plan(&demand, &target(100.0), Model::ErlangC),
        Err(StaffingError::BadPercent)
    );
    assert_eq!(
        plan(&demand, &target(0.0), Model::ErlangC),
        Err(StaffingError::BadPercent)
    );
    let empty = Demand {
        interval: Duration::ZERO,
        ..demand
    };
    assert_eq!(
        plan(&empty, &target(80.0), Model::ErlangC),
        Err(StaffingError::EmptyInterval)
    );
    let quiet = Demand {
        offered: 0,
        ..demand
    };
    assert_eq!(
        plan(&quiet, &target(80.0), Model::ErlangC)
            .expect("plan")
            .agents,
        0
    );
    assert_eq!(
        plan(
            &demand,
            &target(80.0),
            Model::ErlangA {
                patience: Duration::ZERO
            }
        ),
        Err(StaffingError::NoPatience)
    );
}

#[test]
fn patience_is_the_total_wait_over_the_abandons() {
    assert_eq!(
        Model::for_patience(estimate_patience(0, secs(500))),
        Model::ErlangC
    );
    assert_eq!(
        Model::for_patience(estimate_patience(5, secs(500))),
        Model::ErlangA {
            patience: secs(100)
        }
    );
    assert_eq!(estimate_patience(0, secs(500)), None);
    assert_eq!(
        estimate_patience(4, secs(500)),
        Some(Duration::from_millis(125_000))
    );
}

fn any_demand() -> impl Strategy<Value = Demand> {
    (1u64..2_000, 300u64..=3_600, 10u64..900).prop_map(|(offered, interval, aht)| Demand {
        offered,
        interval: secs(interval),
        aht: secs(aht),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn more_agents_never_lower_the_service_level_nor_raise_the_wait(
        demand in any_demand(),
        within in 0u64..120,
        patience in prop::option::of(10u64..600),
        extra in 0u32..30,
    ) {
        let model = patience.map_or(Model::ErlangC, |p| Model::ErlangA { patience: secs(p) });
        let first = demand.traffic().floor() as u32 + 1 + extra;
        let fewer = evaluate(&demand, first, secs(within), model).expect("plan");
        let more = evaluate(&demand, first + 1, secs(within), model).expect("plan");
        prop_assert!(more.service_level >= fewer.service_level - 1e-9);
        prop_assert!(more.asa <= fewer.asa + Duration::from_micros(1));
        prop_assert!(more.probability_of_waiting <= fewer.probability_of_waiting + 1e-9);
        prop_assert!(more.occupancy <= fewer.occupancy + 1e-12);
        for p in [fewer, more] {
            prop_assert!((0.0..=1.0).contains(&p.service_level));
            prop_assert!((0.0..=1.0).contains(&p.probability_of_waiting));
            prop_assert!((0.0..=1.0).contains(&p.abandon_rate));
        }
    }

    #[test]
    fn a_plan_is_the_fewest_agents_that_meet_the_target(
        demand in any_demand(),
        percent in 50.0f64..95.0,
        within in 5u64..60,
        patience in prop::option::of(10u64..600),
    ) {
        let model = patience.map_or(Model::ErlangC, |p| Model::ErlangA { patience: secs(p) });
        let target = Target { percent, within: secs(within), max_occupancy: None };
        let plan = plan(&demand, &target, model).expect("plan");
        prop_assert!(plan.service_level >= percent / 100.0);
        if plan.agents > 0 {
            match evaluate(&demand, plan.agents - 1, secs(within), model) {
                Ok(fewer) => prop_assert!(fewer.service_level < percent / 100.0),
                Err(StaffingError::Overloaded(_)) => {}
                Err(e) => prop_assert!(false, "{e}"),
            }
        }
        if patience.is_some() {
            let c = super::plan(&demand, &target, Model::ErlangC).expect("C");
            prop_assert!(plan.agents <= c.agents);
        }
    }
}
