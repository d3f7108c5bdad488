//! Golden values of the reference default and property tests of the schedule's invariants.

use super::*;
use proptest::prelude::*;

fn reference_default() -> Schedule {
    // DenseNet-BC-76-12 has N = 39 units; 100 epochs of 1000 iterations (the reference's numbers).
    Schedule::freezeout(ScheduleConfig::default(), 39, 100 * 1000).unwrap()
}

#[test]
fn golden_reference_default_unit0() {
    let s = reference_default();
    let u0 = &s.units()[0];
    assert_eq!(u0.t, 0.512);
    assert_eq!(u0.budget, 51200.0);
    assert_eq!(u0.max_iter, 51200);
    assert_eq!(u0.lr0, 0.1953125);
    assert_eq!(s.freeze_iteration(0), Some(51201));
    assert_eq!(s.lr(0, 0), 0.1953125);
    assert_eq!(s.lr(0, 51200), 0.0);
    assert!(s.is_frozen(0, 51201) && !s.is_frozen(0, 51200));
}

#[test]
fn golden_reference_default_other_units_match_the_formula() {
    let s = reference_default();
    for (i, u) in s.units().iter().enumerate() {
        // x = 0.8 + 0.2 i / 39 = (156 + i) / 195; the cubes are exact integers in f64, so one
        // division gives the correctly rounded t and α / t = 195³ / (10 (156 + i)³).
        let (num, den) = ((156 + i) as f64, 195.0_f64);
        let t = (num * num * num) / (den * den * den);
        assert_eq!(u.t, t, "unit {i}");
        assert_eq!(u.lr0, (den * den * den) / (10.0 * num * num * num), "unit {i}");
        assert_eq!(u.max_iter as f64, (num * num * num * 100_000.0 / (den * den * den)).floor());
    }
    let head = s.head();
    assert_eq!((head.index, head.t, head.max_iter, head.lr0), (39, 1.0, 100_000, 0.1));
}

#[test]
fn baseline_is_one_global_cosine() {
    let s = Schedule::baseline(0.1, 5, 1000).unwrap();
    assert!(s.is_baseline());
    for j in [0, 1, 499, 500, 999] {
        let global = 0.05 * (1.0 + (PI * j as f64 / 1000.0).cos());
        for i in 0..=5 {
            assert_eq!(s.lr(i, j), global);
            assert!(!s.is_frozen(i, j));
        }
    }
    assert_eq!(s.frozen_prefix(999), 0);
}

#[test]
fn bad_settings_are_rejected_with_the_field_named() {
    let cfg = |t0| ScheduleConfig { t0, ..ScheduleConfig::default() };
    for t0 in [0.0, -0.1, 1.0001, f64::NAN, f64::INFINITY] {
        let err = Schedule::freezeout(cfg(t0), 3, 10).unwrap_err();
        assert!(err.to_string().contains("t0"), "{err}");
    }
    assert_eq!(Schedule::freezeout(cfg(0.5), 0, 10).unwrap_err(), ScheduleError::NoUnits);
    assert_eq!(Schedule::freezeout(cfg(0.5), 3, 0).unwrap_err(), ScheduleError::NoIterations);
    let bad_lr = ScheduleConfig { base_lr: 0.0, ..ScheduleConfig::default() };
    assert!(matches!(Schedule::freezeout(bad_lr, 3, 10), Err(ScheduleError::BadLearningRate(_))));
    assert_eq!("cubic".parse::<Scaling>().unwrap(), Scaling::Cubic);
    assert!("quartic".parse::<Scaling>().unwrap_err().to_string().contains("linear, squared"));
}

fn any_config() -> impl Strategy<Value = ScheduleConfig> {
    (1u32..=1000, prop::sample::select(Scaling::ALL.to_vec()), any::<bool>(), 1u32..=100).prop_map(
        |(t0_milli, scaling, scale_lr, lr_centi)| ScheduleConfig {
            t0: t0_milli as f64 / 1000.0,
            scaling,
            scale_lr,
            base_lr: lr_centi as f64 / 100.0,
        },
    )
}

proptest! {
    #[test]
    fn lr_is_non_increasing_and_reaches_zero_at_the_budget(
        cfg in any_config(), n in 1usize..60, total in 1u64..5000,
    ) {
        let s = Schedule::freezeout(cfg, n, total).unwrap();
        for (i, u) in s.units().iter().enumerate() {
            let mut prev = f64::INFINITY;
            for j in 0..=u.max_iter + 1 {
                let lr = s.lr(i, j);
                prop_assert!(lr >= 0.0 && lr <= prev, "unit {i} iter {j}: {lr} > {prev}");
                prev = lr;
            }
            prop_assert_eq!(s.lr(i, u.max_iter + 1), 0.0);
            if u.budget == u.max_iter as f64 {
                prop_assert_eq!(s.lr(i, u.max_iter), 0.0);
            }
            prop_assert_eq!(s.lr(i, 0), u.lr0);
        }
    }

    #[test]
    fn frozen_set_is_a_growing_prefix_and_the_head_is_never_frozen(
        cfg in any_config(), n in 1usize..60, total in 1u64..3000,
    ) {
        let s = Schedule::freezeout(cfg, n, total).unwrap();
        let mut prev = 0;
        for j in 0..total + 2 {
            let k = s.frozen_prefix(j);
            prop_assert!(k >= prev, "prefix shrank at {j}");
            for i in 0..n {
                prop_assert_eq!(s.is_frozen(i, j), i < k, "unit {} at {} not a prefix", i, j);
            }
            prop_assert!(!s.is_frozen(n, j));
            prev = k;
        }
        prop_assert!(s.lr(n, total - 1) > 0.0 || total == 1);
    }

    #[test]
    fn with_scaling_every_unit_travels_the_same_lr_integral(
        t0_milli in 1u32..=1000, scaling in prop::sample::select(Scaling::ALL.to_vec()),
        n in 1usize..40, total in 100u64..20000,
    ) {
        let cfg = ScheduleConfig { t0: t0_milli as f64 / 1000.0, scaling, scale_lr: true, base_lr: 0.1 };
        let s = Schedule::freezeout(cfg, n, total).unwrap();
        // Continuous integral of ½ α/t (1 + cos(π j / (tT))) over [0, tT] is ½ α T for every unit;
        // the discrete sum over iterations differs from it by at most one step's rate, α / t.
        let target = 0.5 * 0.1 * total as f64;
        for (i, u) in s.units().iter().enumerate() {
            let sum: f64 = (0..=u.max_iter).map(|j| s.lr(i, j)).sum();
            prop_assert!((sum - target).abs() <= u.lr0 + 1e-9 * target,
                "unit {i}: {sum} vs {target} (lr0 {})", u.lr0);
        }
    }

    #[test]
    fn budgets_follow_the_formula(cfg in any_config(), n in 1usize..80, total in 1u64..1_000_000) {
        let s = Schedule::freezeout(cfg, n, total).unwrap();
        for (i, u) in s.units().iter().enumerate() {
            let x = cfg.t0 + (1.0 - cfg.t0) * i as f64 / n as f64;
            let t = cfg.scaling.apply(x);
            prop_assert!((u.t - t).abs() <= 1e-12, "t_{i}: {} vs {t}", u.t);
            prop_assert!((u.budget - t * total as f64).abs() <= 1e-9 * total as f64);
            prop_assert!(u.max_iter as f64 <= u.budget && u.budget < u.max_iter as f64 + 1.0);
            let lr0 = if cfg.scale_lr { cfg.base_lr / t } else { cfg.base_lr };
            prop_assert!((u.lr0 - lr0).abs() <= 1e-12 * lr0);
        }
    }
}

#[test]
fn a_tiny_t0_with_lr_scaling_is_flagged_and_the_paper_settings_are_not() {
    // Cubic t0 = 0.01: t_0 = 1e-6, so α_0 = 0.1 / 1e-6 = 100 000 (10⁶ × α).
    let cfg = ScheduleConfig { t0: 0.01, ..ScheduleConfig::default() };
    let s = Schedule::freezeout(cfg, 4, 1000).unwrap();
    let high = s.high_initial_rates(HIGH_RATE_FACTOR);
    assert_eq!(high[0].index, 0);
    assert!((high[0].lr0 - 100_000.0).abs() < 1e-6, "{}", high[0].lr0);
    let names: Vec<String> = ["stem", "b0", "b1", "b2"].map(String::from).into();
    let w = s.high_rate_warning(&names).unwrap();
    assert!(w.contains("unit 0 (`stem`)") && w.contains("100000") && w.contains("--no-scale-lr"), "{w}");
    // Unscaled: every unit starts at α.
    let flat = Schedule::freezeout(ScheduleConfig { scale_lr: false, ..cfg }, 4, 1000).unwrap();
    assert!(flat.high_rate_warning(&names).is_none());
    // Every strategy of the paper's grid (t0 ≥ 0.5) stays below the bound.
    for scaling in Scaling::ALL {
        for t0 in [0.5, 0.6, 0.7, 0.8, 0.9] {
            let s = Schedule::freezeout(ScheduleConfig { t0, scaling, ..ScheduleConfig::default() }, 39, 1000).unwrap();
            assert!(s.high_rate_warning(&[]).is_none(), "{scaling} t0 {t0}");
        }
    }
    assert!(Schedule::baseline(0.1, 4, 1000).unwrap().high_rate_warning(&[]).is_none());
}

#[test]
fn scalings_print_as_the_command_line_names_them() {
    let names: Vec<String> = Scaling::ALL.iter().map(|s| s.to_string()).collect();
    assert_eq!(names, ["linear", "squared", "cubic"]);
    assert!(Scaling::ALL.iter().all(|s| s.to_string().parse::<Scaling>() == Ok(*s)));
}

#[test]
fn a_freeze_iteration_is_reported_only_inside_the_run() {
    // Linear t0 = 0.5 over 2 units and T = 8: budgets 4 and 6, frozen from 5 and 7 (both < 8).
    let cfg = ScheduleConfig { t0: 0.5, scaling: Scaling::Linear, ..ScheduleConfig::default() };
    let s = Schedule::freezeout(cfg, 2, 8).unwrap();
    assert_eq!((s.freeze_iteration(0), s.freeze_iteration(1), s.freeze_iteration(2)), (Some(5), Some(7), None));
    // T = 7: unit 1's budget is 5.25, so it is first frozen at iteration 6 = T − 1, still inside.
    assert_eq!(Schedule::freezeout(cfg, 2, 7).unwrap().freeze_iteration(1), Some(6));
    let t1 = Schedule::freezeout(cfg, 1, 2).unwrap();
    // One unit, t = 0.5, T = 2: budget 1, frozen from 2 = T: never within the run.
    assert_eq!(t1.freeze_iteration(0), None);
    assert!(!s.is_baseline() && Schedule::baseline(0.1, 2, 8).unwrap().is_baseline());
}

#[test]
fn high_initial_rates_are_those_strictly_above_the_factor() {
    // Linear t0 = 0.5, scaled, over 2 units: α_0 = α/0.5 = 2α and α_1 = α/0.75 = 4α/3.
    let cfg = ScheduleConfig { t0: 0.5, scaling: Scaling::Linear, base_lr: 0.1, ..ScheduleConfig::default() };
    let s = Schedule::freezeout(cfg, 2, 100).unwrap();
    let high = |factor: f64| s.high_initial_rates(factor).iter().map(|p| p.index).collect::<Vec<_>>();
    assert_eq!(high(2.0), Vec::<usize>::new(), "exactly 2α is not above 2α");
    assert_eq!(high(1.9), [0]);
    assert_eq!(high(1.3), [0, 1]);
    assert_eq!(high(1.4), [0]);
}
