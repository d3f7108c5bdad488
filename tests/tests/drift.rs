//! The drift policy in our loop (`fit`, `fit_task`): on a CNN it measures every watched unit on
//! the probe batch at its measuring iterations and freezes on its decisions; a run it cannot
//! measure (no probe batch, a task without a probe) stops before its first iteration with an
//! error that names what is missing.

use burn::tensor::Device;
use burn_freezeout::data::InMemory;
use burn_freezeout::drift::DriftError;
use burn_freezeout::task::{Task, TaskOutput};
use burn_freezeout::train::{self, RunLog, TrainConfig, TrainError};
use burn_freezeout::{AdaptiveConfig, FreezeOutForward, PolicyConfig};
use freezeout_tests::regression::{Regression, Regressor, examples, in_memory};
use freezeout_tests::{TinyNet, fast_schedule, quadrant_data};

/// T = 3 epochs × 6 batches = 18; windows of 3 iterations, a measurement every iteration,
/// patience 2, nothing leaves before iteration 9, a threshold every unit meets: all units start
/// to leave at 9 and are frozen from 9 + 2 + 1 = 12.
fn drift() -> TrainConfig {
    let drift = AdaptiveConfig {
        threshold: 1e9,
        window: 0.17,
        sample_every: 1,
        min_fraction: 0.5,
        ramp: 0.12,
        ..AdaptiveConfig::drift()
    };
    TrainConfig { policy: PolicyConfig::Adaptive(drift), ..fast_schedule() }
}

#[test]
fn a_drift_run_measures_every_watched_unit_and_freezes_on_its_decisions() {
    let device = Device::flex().autodiff();
    let model = TinyNet::new(3, 4, 4, &device);
    let mut log = RunLog::in_memory();
    let outcome =
        train::Fit::new(&drift(), &device).log(&mut log).run(model, &mut quadrant_data(6, 1, 8, 8, 0)).unwrap();
    let of = |kind: &str| log.events.iter().filter(|e| e["event"] == kind).cloned().collect::<Vec<_>>();

    // Windows end at 3, 6, 9: the first holds the drifts 0→1 and 1→2 (the sketch at 0 is the
    // first reference), every unit has a finite, positive measure and signal in each.
    let signals = of("signal");
    assert_eq!(signals.iter().map(|s| s["iteration"].as_u64().unwrap()).take(3).collect::<Vec<_>>(), [3, 6, 9]);
    for s in &signals[..3] {
        let measures: Vec<f64> = serde_json::from_value(s["measures"].clone()).unwrap();
        let values: Vec<f64> = serde_json::from_value(s["signals"].clone()).unwrap();
        assert_eq!((measures.len(), values.len()), (4, 4), "{s}");
        assert!(measures.iter().chain(&values).all(|v| v.is_finite() && *v > 0.0), "{s}");
    }
    // After every unit has started to leave nothing is measured any more.
    assert!(signals[3..].iter().all(|s| s["measures"].as_array().unwrap().iter().all(|m| m.is_null())), "{signals:?}");
    let decided: Vec<(u64, u64)> =
        of("decision").iter().map(|d| (d["iteration"].as_u64().unwrap(), d["unit"].as_u64().unwrap())).collect();
    assert_eq!(decided, [(9, 0), (9, 1), (9, 2), (9, 3)]);
    let freezes: Vec<(u64, u64)> =
        of("freeze").iter().map(|f| (f["iter"].as_u64().unwrap(), f["frozen"].as_u64().unwrap())).collect();
    assert_eq!(freezes, [(12, 4)]);
    assert_eq!(outcome.summary.epochs.last().unwrap().frozen_units, 4);
}

#[test]
fn a_drift_run_without_a_probe_batch_stops_before_it_trains() {
    let device = Device::flex().autodiff();
    let model = TinyNet::new(2, 4, 4, &device);
    let mut data = InMemory { eval: Vec::new(), ..quadrant_data(6, 1, 8, 8, 0) };
    let mut log = RunLog::in_memory();
    let e = train::Fit::new(&drift(), &device).log(&mut log).run(model, &mut data).err().expect("refused");
    assert!(matches!(e, TrainError::Drift(DriftError::NoProbe)), "{e}");
    assert!(e.to_string().contains("DataSource::probe"), "{e}");
    assert!(log.events.iter().all(|e| e["event"] != "iter"), "nothing trained");
}

/// A task that does not say how to probe its model (the default `Task::drift_probe`).
struct NoProbe;

impl<M: FreezeOutForward<2, 2>> Task<M> for NoProbe {
    type Batch = <Regression as Task<M>>::Batch;
    type Input = <Regression as Task<M>>::Input;
    fn batch_len(&self, batch: &Self::Batch) -> usize {
        Task::<M>::batch_len(&Regression, batch)
    }
    fn to_device(&self, batch: Self::Batch, device: &Device) -> Self::Input {
        Task::<M>::to_device(&Regression, batch, device)
    }
    fn forward(&self, model: &M, input: Self::Input) -> TaskOutput {
        Regression.forward(model, input)
    }
}

#[test]
fn a_drift_run_of_a_task_without_a_probe_stops_before_it_trains() {
    let device = Device::flex().autodiff();
    let (train, eval) = (examples(48, 1), examples(8, 2));
    let mut log = RunLog::in_memory();
    let e = train::Fit::new(&drift(), &device)
        .task(&NoProbe)
        .log(&mut log)
        .run(Regressor::new(2, &device), &mut in_memory(&train, &eval, 8))
        .err()
        .expect("refused");
    assert!(matches!(e, TrainError::Drift(DriftError::Unsupported)), "{e}");
    assert!(log.events.iter().all(|e| e["event"] != "iter"), "nothing trained");
}
