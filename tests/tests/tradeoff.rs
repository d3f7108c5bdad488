//! The speed/accuracy trade-off, all deterministic (no wall-clock): the predicted savings per
//! schedule against formulas written out here, the units frozen per iteration against the
//! paper's budgets, and the accuracy of a short seeded CPU run against its baseline.

use bench_harness::cost::{CostModel, MeasuredCost, reference_calc_speedup, reference_saving};
use burn::tensor::Device;
use burn_freezeout::models::Preset;
use burn_freezeout::train::{self, TrainConfig};
use burn_freezeout::{PolicyConfig, Scaling, Schedule, ScheduleConfig};
use freezeout_tests::{TinyNet, quadrant_data};

fn cfg(t0: f64, scaling: Scaling) -> ScheduleConfig {
    ScheduleConfig { t0, scaling, ..ScheduleConfig::default() }
}

#[test]
fn predicted_savings_per_schedule() {
    let spec = Preset::DenseNetBc { depth: 76, growth: 12 }.spec(10);
    let costs = CostModel::from_spec(&spec);
    let n = spec.units.len();
    let saving = |c: ScheduleConfig| {
        let s = Schedule::freezeout(c, n, 100_000).unwrap();
        (costs.predicted_saving(&s), reference_saving(&s, &costs.forward_costs()).unwrap())
    };
    // The reference code's own number for its default.
    assert_eq!((1000.0 * reference_calc_speedup(12, 12, 0.8, Scaling::Cubic)).round(), 178.0);
    // The reference formula on our schedule, against the same formula written out here from
    // the units' forward costs and t_i = (0.8 + 0.2·i/N)³. It counts transitions as units (the
    // reference code does not: 17.8% above).
    let forward: Vec<f64> = spec.units.iter().map(|u| u.macs() as f64).collect();
    let by_hand =
        forward.iter().enumerate().map(|(i, c)| c * (1.0 - (0.8 + 0.2 * i as f64 / n as f64).powi(3))).sum::<f64>()
            / (2.0 * forward.iter().sum::<f64>());
    let (ours, reference) = saving(cfg(0.8, Scaling::Cubic));
    assert!((reference - by_hand).abs() < 1e-12, "{reference} vs {by_hand}");
    assert!(reference > 0.17 && reference < 0.178, "{reference}: below the reference code's 17.8%");
    // The FLOP model counts the backward pass per layer: a frozen unit saves 2/3 of its cost,
    // not 1/2, so it predicts more than the reference formula.
    assert!(ours > reference && ours < 1.5 * reference, "{ours} vs {reference}");
    // Lower t0 and linear scaling freeze earlier: more saving, monotonically.
    let mut prev = 0.0;
    for t0 in [0.9, 0.8, 0.7, 0.6, 0.5] {
        let (s, _) = saving(cfg(t0, Scaling::Cubic));
        assert!(s > prev, "t0 {t0}: {s} <= {prev}");
        prev = s;
        assert!(saving(cfg(t0, Scaling::Linear)).0 < s, "cubic freezes earlier than linear");
    }
    // A baseline saves nothing, whatever the cost model.
    let base = Schedule::baseline(0.1, n, 1000).unwrap();
    assert!(costs.predicted_saving(&base).abs() < 1e-12);
    let measured = MeasuredCost { points: vec![(0, 3.0), (n, 1.0)] };
    assert!(measured.predicted_saving(&base).abs() < 1e-12);
}

#[test]
fn units_frozen_per_iteration() {
    // DenseNet-BC-76-12 (N = 39), the reference default over 100 epochs of 1000 iterations.
    let s = Schedule::freezeout(ScheduleConfig::default(), 39, 100_000).unwrap();
    let events: Vec<(u64, usize)> =
        (0..39).filter_map(|i| Some((s.freeze_iteration(i)?, s.frozen_prefix(s.freeze_iteration(i)?)))).collect();
    assert_eq!(events.len(), 39, "every unit freezes before the end");
    assert_eq!(events[0], (51_201, 1));
    assert_eq!(events[1].0, 52_191); // ⌊(157/195)³ · 100000⌋ + 1
    assert_eq!(events[38], (98_470, 39));
    assert!(events.windows(2).all(|w| w[0].0 < w[1].0 && w[1].1 == w[0].1 + 1));
    assert_eq!(s.frozen_prefix(51_200), 0);
    assert_eq!(s.frozen_prefix(99_999), 39);
}

#[test]
fn short_seeded_run_stays_within_a_band_of_its_baseline() {
    let run = |baseline: bool| {
        let device = Device::flex().autodiff();
        device.seed(21);
        let model = TinyNet::new(3, 8, 4, &device);
        let mut data = quadrant_data(8, 4, 16, 8, 77);
        let config = TrainConfig {
            epochs: 6,
            policy: if baseline { PolicyConfig::Baseline } else { PolicyConfig::FreezeOut },
            schedule: ScheduleConfig { t0: 0.5, base_lr: 0.05, ..ScheduleConfig::default() },
            ..TrainConfig::default()
        };
        let out = train::Fit::new(&config, &device).run(model, &mut data).unwrap();
        out.summary.test_error.unwrap()
    };
    let (freezeout, baseline) = (run(false), run(true));
    eprintln!("quadrant task: FreezeOut (cubic t0 0.5) test error {freezeout:.3}, baseline {baseline:.3}");
    // Stated band: within 5 points of the baseline, both well below chance (0.75).
    assert!((freezeout - baseline).abs() <= 0.05, "{freezeout} vs {baseline}");
    assert!(baseline < 0.2 && freezeout < 0.2);
}
