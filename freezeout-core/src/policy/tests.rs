//! The adaptive policy on synthetic gradient-norm traces: decisions against hand-computed
//! expectations, the invariants on random traces, and checkpoint/resume.

use super::*;
use proptest::prelude::*;
use std::f64::consts::PI;

/// T = 100, W = 10, samples at every 5th iteration, nothing starts to leave before 30,
/// ramps of R = 5, threshold 0.1.
fn config() -> AdaptiveConfig {
    AdaptiveConfig {
        threshold: 0.1,
        window: 0.1,
        sample_every: 5,
        min_fraction: 0.3,
        ramp: 0.05,
        ..AdaptiveConfig::default()
    }
}

/// Runs iterations `from..to` as the driver does: `begin`, then the norms if wanted.
fn drive(p: &mut Adaptive, from: u64, to: u64, trace: &impl Fn(u64, usize) -> f64) {
    for j in from..to {
        p.begin(j);
        if p.wants_sample(j) {
            let norms: Vec<f64> = (0..p.num_units()).map(|i| trace(j, i)).collect();
            p.observe(j, &norms);
        }
    }
}

/// Per-window constant norms: unit 0 settles early (change 0.05 at the end of window 1, too
/// early for min_fraction, then 0.026), unit 1 only in window 3 (0.02), unit 2 never changes but
/// must wait for unit 1.
fn trace(j: u64, i: usize) -> f64 {
    let w = (j / 10) as usize;
    let series: [&[f64]; 3] = [&[2.0, 1.9, 1.85, 1.85], &[4.0, 2.0, 1.0, 0.98], &[1.0, 1.0, 1.0, 1.0]];
    series[i][w.min(3)]
}

#[test]
fn decisions_on_a_synthetic_trace_match_the_hand_computed_ones() {
    let mut p = Adaptive::new(config(), 0.1, 3, 100).unwrap();
    assert_eq!((p.window_iterations(), p.ramp_iterations()), (10, 5));
    drive(&mut p, 0, 100, &trace);
    let got: Vec<(u64, usize, u64)> = p.decisions().iter().map(|d| (d.iteration, d.unit, d.frozen_from)).collect();
    // Unit 0: window 1 changed by 0.05 < 0.1 but ended at 20 < 30 = min_fraction · T; window 2
    // (ends at 30) changed by |1.85 − 1.9| / 1.9. Unit 1: window 3 (ends at 40) by 0.02. Unit 2
    // has been below the threshold since window 1 and follows unit 1 at once.
    assert_eq!(got, vec![(30, 0, 36), (40, 1, 46), (40, 2, 46)]);
    let d = p.decisions();
    assert!((d[0].signal - 0.05 / 1.9).abs() < 1e-12, "{}", d[0].signal);
    assert!((d[1].signal - 0.02).abs() < 1e-12, "{}", d[1].signal);
    assert_eq!(d[2].signal, 0.0);
    assert!(d.iter().all(|d| d.threshold == 0.1));
    assert_eq!(d[0].measure, 1.85);
    // The frozen prefix: unit 0 trains through 35 (rate 0 there), frozen from 36.
    let prefix: Vec<usize> = [0, 30, 35, 36, 45, 46, 99].iter().map(|&j| p.frozen_prefix(j)).collect();
    assert_eq!(prefix, vec![0, 0, 0, 1, 1, 3, 3]);
    // Rates: the global cosine, a half-cosine ramp from the rate at the ramp's start, then 0.
    let global = |j: f64| 0.05 * (1.0 + (PI * j / 100.0).cos());
    assert_eq!(p.lr(0, 29), global(29.0));
    assert_eq!(p.lr(0, 30), global(30.0));
    assert!((p.lr(0, 32) - global(30.0) * 0.5 * (1.0 + (PI * 2.0 / 5.0).cos())).abs() < 1e-15);
    assert!(p.lr(0, 35).abs() < 1e-15);
    assert_eq!(p.lr(0, 36), 0.0);
    assert_eq!(p.lr(1, 35), global(35.0));
    assert_eq!(p.lr(3, 99), global(99.0), "the head follows the global cosine");
    // Every window that ended within the run was recorded (9: the one ending at T closes
    // after the last iteration); the leaving units were no longer sampled.
    assert_eq!(p.signals().len(), 9);
    assert_eq!(p.signals()[3].measures, vec![None, Some(0.98), Some(1.0)]);
}

#[test]
fn a_threshold_of_zero_never_freezes_and_is_the_baseline() {
    let mut p = Adaptive::new(AdaptiveConfig { threshold: 0.0, ..config() }, 0.1, 3, 100).unwrap();
    drive(&mut p, 0, 100, &trace);
    let baseline = crate::Schedule::baseline(0.1, 3, 100).unwrap();
    for j in 0..100 {
        assert_eq!(p.frozen_prefix(j), 0);
        for i in 0..=3 {
            assert!((p.lr(i, j) - baseline.lr(i, j)).abs() < 1e-15, "unit {i} at {j}");
        }
    }
}

#[test]
fn a_resumed_policy_decides_exactly_as_an_uninterrupted_one() {
    let mut whole = Adaptive::new(config(), 0.1, 3, 100).unwrap();
    drive(&mut whole, 0, 100, &trace);
    for stop in [0, 7, 25, 30, 33, 41, 99] {
        let mut first = Adaptive::new(config(), 0.1, 3, 100).unwrap();
        drive(&mut first, 0, stop, &trace);
        // The state goes through JSON, as in a checkpoint's manifest.
        let saved: AdaptiveState = serde_json::from_str(&serde_json::to_string(&first.state()).unwrap()).unwrap();
        let mut resumed = Adaptive::new(config(), 0.1, 3, 100).unwrap();
        resumed.restore(saved);
        drive(&mut resumed, stop, 100, &trace);
        assert_eq!(resumed.state(), whole.state(), "stopped at {stop}");
        for j in stop..100 {
            assert_eq!(resumed.frozen_prefix(j), whole.frozen_prefix(j), "stopped at {stop}, iteration {j}");
            for i in 0..=3 {
                assert_eq!(resumed.lr(i, j), whole.lr(i, j));
            }
        }
    }
}

#[test]
fn bad_settings_are_refused_with_the_field_named() {
    let cases = [
        (AdaptiveConfig { threshold: -1.0, ..config() }, "threshold = -1"),
        (AdaptiveConfig { window: 0.0, ..config() }, "window = 0 must be in (0, 1]"),
        (AdaptiveConfig { window: 1.5, ..config() }, "window = 1.5 must be in (0, 1]"),
        (AdaptiveConfig { ramp: 1.5, ..config() }, "ramp = 1.5"),
        (AdaptiveConfig { min_fraction: 2.0, ..config() }, "min_fraction = 2"),
        (AdaptiveConfig { sample_every: 0, ..config() }, "sample_every = 0"),
        (AdaptiveConfig { sample_every: 20, ..config() }, "raise window or lower sample_every"),
    ];
    for (c, field) in cases {
        let err = Adaptive::new(c, 0.1, 3, 100).unwrap_err().to_string();
        assert!(err.contains(field), "{err}");
    }
    // A window of exactly `sample_every` iterations holds one sample: accepted, as given.
    let tight = AdaptiveConfig { window: 0.05, sample_every: 5, ..config() };
    assert_eq!(Adaptive::new(tight, 0.1, 3, 100).unwrap().config(), &tight);
}

proptest! {
    /// On any trace: the frozen set is a prefix that only grows, nothing is frozen before
    /// `min_fraction · T` (plus the ramp), units leave in forward order, every rate is in
    /// `[0, α]`, the head's never 0 before `T`, and a frozen unit's is 0.
    #[test]
    fn any_trace_keeps_the_invariants(
        norms in proptest::collection::vec(0.01f64..10.0, 3 * 40),
        threshold in 0.0f64..1.0,
        min_fraction in 0.0f64..1.0,
    ) {
        let config = AdaptiveConfig { threshold, window: 0.05, sample_every: 2, min_fraction, ramp: 0.1, ..AdaptiveConfig::default() };
        let mut p = Adaptive::new(config, 0.1, 3, 200).unwrap();
        let trace = |j: u64, i: usize| norms[(j as usize / 5 % 40) * 3 + i];
        drive(&mut p, 0, 200, &trace);
        let mut last = 0;
        for j in 0..200 {
            let k = p.frozen_prefix(j);
            prop_assert!(k >= last && k <= 3);
            if k > 0 {
                prop_assert!(j as f64 > min_fraction * 200.0 + 20.0, "frozen at {j}");
            }
            for i in 0..=3 {
                let lr = p.lr(i, j);
                prop_assert!((0.0..=0.1).contains(&lr));
                if i < k {
                    prop_assert_eq!(lr, 0.0);
                }
            }
            prop_assert!(p.lr(3, j) > 0.0);
            last = k;
        }
        let units: Vec<usize> = p.decisions().iter().map(|d| d.unit).collect();
        prop_assert_eq!(units, (0..p.decisions().len()).collect::<Vec<_>>());
    }
}

#[test]
fn the_state_survives_json_bit_for_bit() {
    let unit = UnitSignal {
        sum: 0.1 + 0.2,
        samples: 3,
        previous: Some(1.0 / 3.0),
        ramp_start: Some(7),
        ..UnitSignal::default()
    };
    let state = AdaptiveState {
        window: 4,
        units: vec![unit, UnitSignal { sum: f64::MIN_POSITIVE / 3.0, ..UnitSignal::default() }],
    };
    let back: AdaptiveState = serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
    for (a, b) in back.units.iter().zip(&state.units) {
        assert_eq!(a.sum.to_bits(), b.sum.to_bits());
        assert_eq!(a.previous.map(f64::to_bits), b.previous.map(f64::to_bits));
    }
    assert_eq!(back, state);
}

#[test]
fn fractions_of_the_run_are_the_typed_decimals() {
    // 0.55 · 1500 is 825.0000000000001 in floating point: its ceiling would be 826, which would
    // skip the window ending at 825.
    let config = AdaptiveConfig {
        threshold: 1e9,
        window: 0.05,
        sample_every: 5,
        min_fraction: 0.55,
        ramp: 0.05,
        ..AdaptiveConfig::default()
    };
    let mut p = Adaptive::new(config, 0.1, 2, 1500).unwrap();
    assert_eq!((p.window_iterations(), p.ramp_iterations()), (75, 75));
    drive(&mut p, 0, 1500, &|j, i| 1.0 + (j / 75) as f64 * 0.01 + i as f64);
    let starts: Vec<u64> = p.decisions().iter().map(|d| d.iteration).collect();
    assert_eq!(starts, vec![825, 825]);
}

/// `Policy` hands every call to the policy it holds: driven through `Policy`, an adaptive policy
/// ends with the same decisions, state and rates as the same policy driven directly, and a
/// schedule policy answers exactly as its schedule.
#[test]
fn a_policy_delegates_every_call_to_what_it_holds() {
    let mut direct = Adaptive::new(config(), 0.1, 3, 100).unwrap();
    let mut wrapped: Policy = direct.clone().into();
    assert_eq!((wrapped.num_units(), wrapped.total_iterations()), (3, 100));
    for j in 0..100 {
        direct.begin(j);
        wrapped.begin(j);
        assert_eq!(wrapped.wants_gradient_norms(j), direct.wants_sample(j), "iteration {j}");
        if direct.wants_sample(j) {
            let norms: Vec<f64> = (0..3).map(|i| trace(j, i)).collect();
            direct.observe(j, &norms);
            wrapped.observe_gradient_norms(j, &norms);
        }
        assert_eq!(wrapped.frozen_prefix(j), direct.frozen_prefix(j), "iteration {j}");
        for i in 0..=3 {
            assert_eq!(wrapped.lr(i, j), direct.lr(i, j), "unit {i} at {j}");
        }
    }
    assert!(direct.frozen_prefix(99) > 0, "the trace freezes units");
    assert_eq!(wrapped.adaptive(), Some(&direct));
    assert_eq!(wrapped.schedule(), None);
    assert_eq!(wrapped.state(), Some(direct.state()));
    // Restoring through `Policy` restores the policy it holds.
    let mut fresh: Policy = Adaptive::new(config(), 0.1, 3, 100).unwrap().into();
    fresh.restore(direct.state());
    assert_eq!(fresh.state(), Some(direct.state()));

    let schedule = Schedule::freezeout(crate::ScheduleConfig::default(), 3, 100).unwrap();
    let mut policy: Policy = schedule.clone().into();
    assert_eq!((policy.num_units(), policy.total_iterations()), (3, 100));
    for j in 0..100 {
        policy.begin(j);
        assert!(!policy.wants_gradient_norms(j));
        assert_eq!(policy.frozen_prefix(j), schedule.frozen_prefix(j));
        assert!((0..=3).all(|i| policy.lr(i, j) == schedule.lr(i, j)));
    }
    assert_eq!(schedule.frozen_prefix(99), 3);
    assert_eq!((policy.schedule(), policy.adaptive(), policy.state()), (Some(&schedule), None, None));
}

/// The one place where a config becomes a policy: each `PolicyConfig` builds its own kind, with
/// the run's rate and length; names, field forms and ranges per policy.
#[test]
fn a_policy_config_builds_its_policy_and_round_trips_through_its_fields() {
    use crate::ScheduleConfig;
    let schedule = ScheduleConfig { base_lr: 0.05, ..ScheduleConfig::default() };
    let adaptive = config();
    let none = PolicyFields::default();
    let (backbone, gradual) = (BackboneConfig { epoch: 2, ..BackboneConfig::default() }, GradualConfig::default());
    let cases = [
        (PolicyConfig::FreezeOut, "freezeout", none),
        (PolicyConfig::Baseline, "baseline", PolicyFields { baseline: true, ..none }),
        (PolicyConfig::Adaptive(adaptive), "gradient-norm", PolicyFields { adaptive: Some(adaptive), ..none }),
        (PolicyConfig::Backbone(backbone), "backbone", PolicyFields { backbone: Some(backbone), ..none }),
        (PolicyConfig::Gradual(gradual), "gradual", PolicyFields { gradual: Some(gradual), ..none }),
    ];
    for (policy, name, fields) in cases {
        assert_eq!(policy.name(), name);
        assert!(PolicyConfig::NAMES.contains(&name));
        assert_eq!(policy.to_fields(), fields);
        assert_eq!(PolicyConfig::from_fields(fields), Ok(policy));
        assert_eq!(policy.is_baseline(), name == "baseline");
        assert_eq!(policy.adaptive(), fields.adaptive.as_ref());
        policy.check_ranges().unwrap();
    }
    let clash = PolicyFields { baseline: true, gradual: Some(gradual), ..none };
    assert_eq!(PolicyConfig::from_fields(clash), Err(PolicyClash("baseline = true and [gradual] are both set".into())));
    assert_eq!(
        PolicyConfig::FreezeOut.build(schedule, None, 3, 4, 100).unwrap(),
        Policy::from(Schedule::freezeout(schedule, 3, 100).unwrap())
    );
    assert_eq!(
        PolicyConfig::Baseline.build(schedule, None, 3, 4, 100).unwrap(),
        Policy::from(Schedule::baseline(0.05, 3, 100).unwrap())
    );
    assert_eq!(
        PolicyConfig::Adaptive(adaptive).build(schedule, None, 3, 4, 100).unwrap(),
        Policy::from(Adaptive::new(adaptive, 0.05, 3, 100).unwrap())
    );
    assert_eq!(
        PolicyConfig::Gradual(gradual).build(schedule, Some(0.5), 3, 4, 100).unwrap(),
        Policy::from(Finetune::new(FinetuneKind::Gradual(gradual), 0.05, 3, 4, 100).unwrap())
            .with_layer_decay(0.5)
            .unwrap()
    );
    assert!(PolicyConfig::Adaptive(adaptive).schedule(schedule, 3, 100).is_err(), "no schedule before the run");
    let bad = PolicyConfig::Adaptive(AdaptiveConfig { ramp: 0.0, ..adaptive });
    assert!(bad.check_ranges().unwrap_err().to_string().contains("ramp = 0"));
    let bad = PolicyConfig::Gradual(GradualConfig { divisor: 0.5, ..gradual });
    assert!(bad.check_ranges().unwrap_err().to_string().contains("--divisor"));
    let bad = PolicyConfig::Backbone(BackboneConfig { growth: f64::NAN, ..backbone });
    assert!(bad.check_ranges().unwrap_err().to_string().contains("--growth"));
    let e = PolicyConfig::FreezeOut.build(schedule, Some(1.5), 3, 4, 100).unwrap_err().to_string();
    assert!(e.contains("layer_decay = 1.5") && e.contains("--layer-decay"), "{e}");
}

/// A unit whose gradient norm was 0 in a window has no relative change in the next (not an
/// infinite or NaN one), so its signal reads "none" and it never leaves on it.
#[test]
fn a_change_against_a_zero_norm_is_none() {
    let zero_then_one = |j: u64, i: usize| if i == 0 && j < 10 { 0.0 } else { 1.0 };
    let mut p = Adaptive::new(config(), 0.1, 3, 100).unwrap();
    drive(&mut p, 0, 21, &zero_then_one);
    let second = &p.signals()[1];
    assert_eq!(second.iteration, 20);
    assert_eq!(second.measures[0], Some(1.0));
    assert_eq!(second.signals[0], None, "{second:?}");
    assert_eq!(second.signals[1], Some(0.0));
}

/// A leaving unit's rate is a half cosine from the global rate at its start to 0 over the ramp:
/// the values at each step of the ramp, against the formula (a ramp of 4 iterations, so that
/// its start is no multiple of it).
#[test]
fn a_leaving_units_rate_follows_its_ramp_step_by_step() {
    let mut p = Adaptive::new(AdaptiveConfig { ramp: 0.04, ..config() }, 0.1, 3, 100).unwrap();
    drive(&mut p, 0, 100, &trace);
    let d = p.decisions()[0].clone();
    let (s, r) = (d.iteration, p.ramp_iterations());
    assert!(r == 4 && s % r != 0, "ramp {r} from {s}");
    let start_rate = p.lr(3, s); // the head follows the global cosine
    for k in 0..=r {
        let expected = start_rate * 0.5 * (1.0 + (PI * k as f64 / r as f64).cos());
        let got = p.lr(d.unit, s + k);
        assert!((got - expected).abs() < 1e-15, "step {k} of the ramp: {got} vs {expected}");
    }
    assert!(p.lr(d.unit, s + 1) < start_rate && p.lr(d.unit, s + r + 1) == 0.0);
}

// ---- The drift signal -------------------------------------------------------------------

/// T = 100, W = 20, a measurement every 5th iteration, no minimum, ramps of R = 5, patience 1.
fn drift_config(threshold: f64) -> AdaptiveConfig {
    AdaptiveConfig {
        threshold,
        window: 0.2,
        sample_every: 5,
        min_fraction: 0.0,
        ramp: 0.05,
        patience: 1,
        ..AdaptiveConfig::drift()
    }
}

/// Sketches of width 2 whose relative change is known: unit `i` at iteration `j` is
/// `[1, c_i · j]`, `c_i = 0.01 · (i + 1)`.
fn sketch_of(i: usize, j: u64) -> Vec<f32> {
    vec![1.0, 0.01 * (i + 1) as f32 * j as f32]
}

/// Runs iterations `from..to` as the driver does: `begin`, then (after the update) the
/// sketches of the watched units if wanted.
fn drive_drift(p: &mut Adaptive, from: u64, to: u64, sketch: &impl Fn(usize, u64) -> Vec<f32>) {
    for j in from..to {
        p.begin(j);
        if p.wants_sample(j) {
            let sketches: Vec<Vec<f32>> = p.watched().map(|i| sketch(i, j)).collect();
            p.observe_sketches(j, &sketches);
        }
    }
}

/// A window's signal is the drift per unit of rate seen in it times the rate the rest of the run
/// would still apply, computed here from the formulas: window 0 ends at 20 and holds the drifts
/// of 0→5, 5→10, 10→15 (the measurement at 20 opens window 1).
#[test]
fn the_drift_signal_is_the_plasticity_times_the_remaining_rate() {
    let mut p = Adaptive::new(drift_config(0.0), 0.1, 2, 100).unwrap();
    drive_drift(&mut p, 0, 21, &sketch_of);
    let lr = |t: u64| 0.05 * (1.0 + (PI * t as f64 / 100.0).cos());
    let change = |i: usize, a: u64, b: u64| {
        let (now, then) = (sketch_of(i, b), sketch_of(i, a));
        let d = (now[1] as f64 - then[1] as f64).abs();
        d / (1.0 + (now[1] as f64).powi(2)).sqrt()
    };
    let w = &p.signals()[0];
    assert_eq!(w.iteration, 20);
    for i in 0..2 {
        let drifts = [change(i, 0, 5), change(i, 5, 10), change(i, 10, 15)];
        let rates: f64 = (1..=15).map(lr).sum();
        let remaining: f64 = (20..100).map(lr).sum();
        let expected = drifts.iter().sum::<f64>() / rates * remaining;
        let (measure, signal) = (w.measures[i].unwrap(), w.signals[i].unwrap());
        assert!((measure - drifts.iter().sum::<f64>() / 3.0).abs() < 1e-12, "unit {i}: mean drift {measure}");
        assert!((signal - expected).abs() < 1e-9 * expected, "unit {i}: {signal} vs {expected}");
    }
    assert!(w.signals[1].unwrap() > w.signals[0].unwrap(), "the unit that moves more has more to move");
    assert!(p.decisions().is_empty(), "threshold 0: nothing leaves");
}

/// Only a drift policy takes sketches, only on its measuring iterations, and only of the units
/// still watched; a gradient-norm policy ignores them (and a drift policy ignores norms).
#[test]
fn each_policy_takes_only_its_own_measurements() {
    let mut drift = Adaptive::new(drift_config(0.0), 0.1, 2, 100).unwrap();
    drift.observe(0, &[1.0, 1.0]);
    drift.observe_sketches(3, &[sketch_of(0, 3), sketch_of(1, 3)]);
    assert!(
        drift.state().units.iter().all(|u| u.samples == 0 && u.sketch.is_none()),
        "neither norms nor off-beat sketches"
    );
    drift.observe_sketches(5, &[sketch_of(0, 5), sketch_of(1, 5)]);
    assert_eq!(drift.state().units[1].sketch, Some(Sketch { iteration: 5, values: sketch_of(1, 5) }));
    let policy = Policy::from(drift);
    assert_eq!((policy.wants_sketches(10), policy.wants_sketches(11)), (Some(0..2), None));
    assert!(!policy.wants_gradient_norms(10) && policy.uses_drift());

    let mut norms = Adaptive::new(config(), 0.1, 2, 100).unwrap();
    norms.observe_sketches(5, &[sketch_of(0, 5), sketch_of(1, 5)]);
    assert!(norms.state().units.iter().all(|u| u.sketch.is_none()));
    let policy = Policy::from(norms);
    assert!(policy.wants_sketches(5).is_none() && policy.wants_gradient_norms(5) && !policy.uses_drift());
}

/// With patience 2 a unit leaves only after two windows in a row below the threshold: one
/// window above in between starts the count again. One unit, window means 1, 1.01, 1.5, 1.51,
/// 1.52 (changes —, 0.01, 0.485, 0.0066, 0.0066 against threshold 0.1): patience 1 leaves at the
/// end of window 1 (20), patience 2 at the end of window 4 (50), not at 40.
#[test]
fn patience_counts_consecutive_windows_below_the_threshold() {
    let series = [1.0, 1.01, 1.5, 1.51, 1.52, 1.53];
    let trace = |j: u64, _: usize| series[(j / 10).min(5) as usize];
    let left = |patience| {
        let c = AdaptiveConfig { min_fraction: 0.0, patience, ..config() };
        let mut p = Adaptive::new(c, 0.1, 1, 100).unwrap();
        drive(&mut p, 0, 100, &trace);
        p.decisions().first().map(|d| d.iteration)
    };
    assert_eq!(left(1), Some(20));
    assert_eq!(left(2), Some(50));
    assert_eq!(left(3), Some(60));
}

/// Stopped mid-window, its state written as JSON and read back into a new policy, a drift policy
/// takes the same decisions with the same signals as one that ran through (sketch values are
/// `f32`s that no short decimal writes exactly).
#[test]
fn a_drift_policy_resumed_from_its_json_state_decides_exactly_as_one_that_ran_through() {
    let sketch =
        |i: usize, j: u64| vec![1.0 / 3.0, (j as f32).sqrt() / (7.0 + i as f32), 0.1 * (-(j as f32) / 30.0).exp()];
    let config = drift_config(0.05);
    let mut whole = Adaptive::new(config, 0.1, 3, 100).unwrap();
    drive_drift(&mut whole, 0, 100, &sketch);
    assert!(whole.decisions().len() >= 2, "the trace makes decisions: {:?}", whole.signals());

    let mut first = Adaptive::new(config, 0.1, 3, 100).unwrap();
    drive_drift(&mut first, 0, 37, &sketch);
    let saved = serde_json::to_string(&first.state()).unwrap();
    let mut resumed = Adaptive::new(config, 0.1, 3, 100).unwrap();
    resumed.restore(serde_json::from_str(&saved).unwrap());
    assert_eq!(resumed.state(), first.state());
    drive_drift(&mut resumed, 37, 100, &sketch);
    let after = |p: &Adaptive| p.decisions().iter().filter(|d| d.iteration > 37).cloned().collect::<Vec<_>>();
    assert_eq!(after(&resumed), after(&whole));
    assert_eq!(resumed.state(), whole.state());
    for u in 0..3 {
        assert_eq!(resumed.frozen_prefix(99), whole.frozen_prefix(99));
        assert_eq!(resumed.lr(u, 80).to_bits(), whole.lr(u, 80).to_bits());
    }
}

/// A config file's `[adaptive]` takes the defaults of its signal; a gradient-norm policy with
/// patience 1 is written as before the signals existed (run names and hashes unchanged), any
/// other is written whole; unknown fields and a patience of 0 are refused.
#[test]
fn an_adaptive_config_file_takes_its_signals_defaults() {
    let drift: AdaptiveConfig = serde_json::from_str(r#"{"signal": "drift", "threshold": 2.0}"#).unwrap();
    assert_eq!(drift, AdaptiveConfig { threshold: 2.0, ..AdaptiveConfig::drift() });
    let old: AdaptiveConfig = serde_json::from_str(r#"{"threshold": 0.02}"#).unwrap();
    assert_eq!(old, AdaptiveConfig { threshold: 0.02, ..AdaptiveConfig::default() });
    let written = serde_json::to_value(AdaptiveConfig::default()).unwrap();
    assert_eq!(
        written.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["min_fraction", "ramp", "sample_every", "threshold", "window"]
    );
    for config in [AdaptiveConfig::drift(), AdaptiveConfig { patience: 3, ..AdaptiveConfig::default() }] {
        let text = serde_json::to_string(&config).unwrap();
        assert!(text.contains("signal") && text.contains("patience"), "{text}");
        assert_eq!(serde_json::from_str::<AdaptiveConfig>(&text).unwrap(), config);
    }
    let e = serde_json::from_str::<AdaptiveConfig>(r#"{"signal": "drift", "patiense": 2}"#).unwrap_err().to_string();
    assert!(e.contains("patiense"), "{e}");
    let e = AdaptiveConfig { patience: 0, ..AdaptiveConfig::drift() }.check_ranges().unwrap_err().to_string();
    assert!(e.contains("patience = 0"), "{e}");
    assert_eq!(PolicyConfig::Adaptive(AdaptiveConfig::drift()).name(), "drift");
    assert_eq!(Signal::Drift.name(), "drift");
}

#[test]
fn relative_change_is_the_l2_change_over_the_norm() {
    use super::relative_change;
    assert_eq!(relative_change(&[3.0, 4.0], &[3.0, 4.0]), 0.0);
    assert_eq!(relative_change(&[3.0, 4.0], &[0.0, 0.0]), 1.0);
    assert_eq!(relative_change(&[0.0, 5.0], &[3.0, 1.0]), 1.0);
    assert_eq!(relative_change(&[0.0, 0.0], &[1.0, 1.0]), 0.0);
}

/// The state as a checkpoint written before the drift signal holds it (a gradient-norm policy's
/// unit: no `rates`, `below` or `sketch`) reads back with their documented defaults (0, 0,
/// none), and is written back the same; a unit without `sum` is refused naming it.
#[test]
fn a_policy_state_written_before_the_drift_signal_reads_with_its_documented_defaults() {
    let old = r#"{"window":3,"units":[{"sum":"0.25","samples":4,"previous":"0.5","ramp_start":null}]}"#;
    let state: AdaptiveState = serde_json::from_str(old).unwrap();
    let unit = &state.units[0];
    assert_eq!((unit.sum, unit.samples, unit.previous, unit.ramp_start), (0.25, 4, Some(0.5), None));
    assert_eq!((unit.rates, unit.below, unit.sketch.clone()), (0.0, 0, None));
    assert_eq!(serde_json::to_string(&state).unwrap(), old, "written back as it was read");
    let e = serde_json::from_str::<AdaptiveState>(r#"{"window":3,"units":[{"samples":4}]}"#).unwrap_err();
    assert!(e.to_string().contains("missing field `sum`"), "{e}");
}

/// ULMFiT's gradual unfreezing: one unit fewer frozen each `every` epochs from the top, the
/// head alone in the first epoch; an active unit trains at the head's rate / divisor^(N − i),
/// a frozen one at 0.
#[test]
fn gradual_unfreezing_frees_one_unit_per_epoch_from_the_top_with_discriminative_rates() {
    let (n, epochs, per_epoch) = (3, 5, 10);
    let gradual = |every| {
        let kind = FinetuneKind::Gradual(GradualConfig { every, divisor: 2.6 });
        Policy::from(Finetune::new(kind, 0.01, n, epochs, epochs as u64 * per_epoch).unwrap())
    };
    let policy = gradual(1);
    assert!(policy.unfreezes() && policy.kind() == "gradual");
    let prefixes: Vec<usize> = (0..epochs as u64 * per_epoch).step_by(5).map(|j| policy.frozen_prefix(j)).collect();
    assert_eq!(prefixes, [3, 3, 2, 2, 1, 1, 0, 0, 0, 0]);
    let baseline = Schedule::baseline(0.01, n, epochs as u64 * per_epoch).unwrap();
    for j in 0..epochs as u64 * per_epoch {
        let head = policy.lr(n, j);
        assert_eq!(head, baseline.lr(n, j), "the head follows the run's cosine");
        for i in 0..n {
            let expected = if i < policy.frozen_prefix(j) { 0.0 } else { head / 2.6f64.powi((n - i) as i32) };
            assert!((policy.lr(i, j) - expected).abs() <= 1e-15 * head, "unit {i} at {j}");
        }
    }
    let slow = gradual(2);
    assert_eq!((0..5).map(|e| slow.frozen_prefix(e * per_epoch)).collect::<Vec<_>>(), [3, 3, 2, 2, 1]);
}

/// Lightning's backbone fine-tuning: every unit frozen before `epoch` (the head alone), then
/// all train at initial_ratio × growth^(e − epoch) of the head's rate, capped at it when
/// aligned; with `epoch` at or past the run's end, a linear probe.
#[test]
fn the_backbone_trains_from_its_epoch_at_a_growing_fraction_of_the_heads_rate() {
    let (n, epochs, per_epoch) = (4, 9, 10);
    let total = epochs as u64 * per_epoch;
    let backbone = |config| Policy::from(Finetune::new(FinetuneKind::Backbone(config), 0.1, n, epochs, total).unwrap());
    let aligned = backbone(BackboneConfig { epoch: 2, ..BackboneConfig::default() });
    let free = backbone(BackboneConfig { epoch: 2, align: false, ..BackboneConfig::default() });
    for e in 0..epochs as u64 {
        let j = e * per_epoch + 3;
        let head = aligned.lr(n, j);
        if e < 2 {
            assert_eq!(aligned.frozen_prefix(j), n);
            assert!((0..n).all(|i| aligned.lr(i, j) == 0.0));
            continue;
        }
        assert_eq!(aligned.frozen_prefix(j), 0);
        let ratio = 0.1 * 1.5f64.powi(e as i32 - 2);
        for i in 0..n {
            assert!((aligned.lr(i, j) - head * ratio.min(1.0)).abs() <= 1e-15, "unit {i}, epoch {e}");
            assert!((free.lr(i, j) - head * ratio).abs() <= 1e-15, "unit {i}, epoch {e}");
        }
    }
    // Epoch 8: 0.1 · 1.5⁶ = 1.139: capped at the head's rate, unless not aligned.
    assert!(aligned.lr(0, 83) == aligned.lr(n, 83) && free.lr(0, 83) > free.lr(n, 83));
    let probe = backbone(BackboneConfig { epoch: epochs, ..BackboneConfig::default() });
    assert!((0..total).all(|j| probe.frozen_prefix(j) == n), "a linear probe");
}

/// Layer-wise rate decay multiplies any policy's rate of unit i by γ^(N − i), the head's by 1;
/// the prefix is the policy's.
#[test]
fn layer_decay_scales_any_policys_rates_by_depth() {
    let schedule = Schedule::freezeout(crate::ScheduleConfig::default(), 4, 200).unwrap();
    let decayed = Policy::from(schedule.clone()).with_layer_decay(0.5).unwrap();
    assert_eq!(decayed.layer_decay(), Some(0.5));
    for j in (0..200).step_by(7) {
        assert_eq!(decayed.frozen_prefix(j), schedule.frozen_prefix(j));
        for i in 0..=4 {
            assert_eq!(decayed.lr(i, j), schedule.lr(i, j) * 0.5f64.powi(4 - i as i32), "unit {i} at {j}");
        }
    }
    assert!(Policy::from(schedule.clone()).with_layer_decay(0.0).is_err());
    assert!(Policy::from(schedule).with_layer_decay(1.0).is_ok());
}
