//! FreezeOut under burn-train's `Learner` (`FreezeOutModel`), on a non-image model (an MLP
//! regressor on rank-2 input) that `fit_task` trains too: for the same config and data order the
//! two freeze the same units at the same iterations with the same rates and end with the same
//! parameters, bit for bit; a Learner run stopped and resumed from burn-train's checkpoint, into
//! a freshly built model (new parameter ids), continues exactly, its frozen units untouched.
//! For FreezeOut's schedule, the adaptive policy, the drift policy (whose state, the last
//! probe sketches included, rides in burn-train's scheduler record) and gradual unfreezing
//! (whose prefix shrinks: units frozen from the first step train again, with fresh optimizer
//! state, and a resume after an unfreeze trains the same set at the same rates).

use burn::tensor::Device;
use burn::train::metric::LossMetric;
use burn::train::{Learner, SupervisedTraining};
use burn_freezeout::learner::FreezeOutModel;
use burn_freezeout::train::{self, RunLog, TrainConfig};
use burn_freezeout::{AdaptiveConfig, FreezeOut, GradualConfig, PolicyConfig};
use freezeout_tests::fast_schedule;
use freezeout_tests::regression::{Example, Regression, Regressor, examples, in_memory, loader, probe_input};
use std::path::Path;

const BATCH: usize = 8;
const BATCHES: usize = 5;
const EPOCHS: usize = 4;
const TOTAL: u64 = (EPOCHS * BATCHES) as u64;

/// SGD (Nesterov, weight decay), linear t0 = 0.3: the units freeze at iterations 7, 11 and 16
/// of 20, so a stop after epoch 2 (iteration 10) falls between two freezes.
fn config() -> TrainConfig {
    TrainConfig { epochs: EPOCHS, ..fast_schedule() }
}

/// The adaptive policy with windows of 3 iterations, a sample every iteration, nothing leaving
/// before iteration 10 and a threshold every unit meets: all three start to leave at the end of
/// the window that ends at 12 (so a stop at 10 falls in the middle of a window whose sums the
/// checkpoint must carry) and are frozen from 12 + 2 + 1 = 15.
fn adaptive_config() -> TrainConfig {
    let adaptive = AdaptiveConfig {
        threshold: 10.0,
        window: 0.15,
        sample_every: 1,
        min_fraction: 0.5,
        ramp: 0.1,
        ..AdaptiveConfig::default()
    };
    TrainConfig { policy: PolicyConfig::Adaptive(adaptive), ..config() }
}

/// The drift policy with the same windows and leaving time: a measurement every iteration on
/// the probe (the first held-out batch), patience 2 and a threshold every unit meets, so all
/// three start to leave at 12 and are frozen from 15; the stop at 10 falls mid-window, with a
/// window's sums and the last sketches in the record.
fn drift_config() -> TrainConfig {
    let drift = AdaptiveConfig {
        threshold: 1e9,
        window: 0.15,
        sample_every: 1,
        min_fraction: 0.5,
        ramp: 0.1,
        ..AdaptiveConfig::drift()
    };
    TrainConfig { policy: PolicyConfig::Adaptive(drift), ..config() }
}

/// ULMFiT's gradual unfreezing with a layer decay on top: the 3 units frozen from the first
/// step, one fewer at iterations 5, 10 and 15, so a stop after epoch 2 (iteration 10) falls
/// right after an unfreeze and before another.
fn gradual_config() -> TrainConfig {
    TrainConfig { policy: PolicyConfig::Gradual(GradualConfig::default()), layer_decay: Some(0.8), ..config() }
}

fn data() -> (Vec<Example>, Vec<Example>) {
    (examples(BATCH * BATCHES, 1), examples(2 * BATCH, 2))
}

/// `(iteration, frozen units after, every unit's rate and the head's)` of each freeze.
type Events = Vec<(u64, usize, Vec<f64>)>;

/// Trains `model` for `epochs` epochs of a `EPOCHS`-epoch run under the Learner, writing
/// burn-train's checkpoints into `dir`; `resume`: continue from the checkpoint of that epoch.
fn learner_run(
    config: &TrainConfig,
    model: Regressor,
    dir: &Path,
    epochs: usize,
    resume: Option<usize>,
) -> FreezeOutModel<Regressor> {
    let (train, valid) = data();
    let policy = config.policy(model.num_units(), TOTAL).unwrap();
    let mut model = FreezeOutModel::with_policy(model, policy).unwrap();
    if config.policy.name() == "drift" {
        model = model.with_drift_probe(probe_input(&valid, BATCH, &Device::flex().autodiff())).unwrap();
    }
    let learner = Learner::new(model.clone(), config.optimizer(), model.lr_scheduler());
    let mut training = SupervisedTraining::new(dir, loader(&train, BATCH), loader(&valid, BATCH))
        .metrics((LossMetric::new(),))
        .with_default_checkpointers()
        .num_epochs(epochs);
    if let Some(epoch) = resume {
        training = training.checkpoint(epoch);
    }
    let result = training.launch(learner);
    assert!(result.error.is_none(), "the Learner stopped on an error: {:?}", result.error);
    result.model
}

fn events_of(model: &FreezeOutModel<Regressor>) -> Events {
    model.events().into_iter().map(|e| (e.iteration, e.to, e.lrs)).collect()
}

#[test]
fn a_learner_run_freezes_and_trains_exactly_as_fit() {
    learner_equals_fit(&config(), &[(7, 1), (11, 2), (16, 3)]);
}

#[test]
fn an_adaptive_learner_run_freezes_and_trains_exactly_as_fit() {
    learner_equals_fit(&adaptive_config(), &[(15, 3)]);
}

#[test]
fn a_drift_learner_run_freezes_and_trains_exactly_as_fit() {
    learner_equals_fit(&drift_config(), &[(15, 3)]);
}

#[test]
fn a_drift_learner_run_resumed_mid_window_continues_exactly() {
    resumed_equals_whole(&drift_config(), 0);
}

#[test]
fn a_learner_run_resumed_from_its_checkpoint_continues_exactly() {
    resumed_equals_whole(&config(), 1);
}

#[test]
fn an_adaptive_learner_run_resumed_mid_window_continues_exactly() {
    resumed_equals_whole(&adaptive_config(), 0);
}

#[test]
fn a_gradual_learner_run_unfreezes_and_trains_exactly_as_fit() {
    learner_equals_fit(&gradual_config(), &[(0, 3), (5, 2), (10, 1), (15, 0)]);
}

#[test]
fn a_gradual_learner_run_resumed_after_an_unfreeze_continues_exactly() {
    resumed_equals_whole(&gradual_config(), 1);
}

fn learner_equals_fit(config: &TrainConfig, freezes: &[(u64, usize)]) {
    let device = Device::flex().autodiff();
    let model = Regressor::new(2, &device);
    let initial: Vec<Vec<f32>> = (0..3).map(|i| model.unit_weight(i)).collect();
    let (train, valid) = data();

    let mut log = RunLog::in_memory();
    let fit = train::Fit::new(config, &device)
        .task(&Regression)
        .log(&mut log)
        .run(model.clone(), &mut in_memory(&train, &valid, BATCH))
        .unwrap();
    assert_eq!(fit.summary.total_iterations, TOTAL);
    let fit_events: Events = log
        .events
        .iter()
        .filter(|e| e["event"] == "freeze" || e["event"] == "unfreeze")
        .map(|e| {
            let lrs = serde_json::from_value(e["lrs"].clone()).unwrap();
            (e["iter"].as_u64().unwrap(), e["frozen"].as_u64().unwrap() as usize, lrs)
        })
        .collect();
    assert_eq!(fit_events.iter().map(|e| (e.0, e.1)).collect::<Vec<_>>(), freezes);
    let mse = fit.summary.test_error.unwrap();
    assert!(mse.is_finite() && mse > 0.0, "the held-out metric is the MSE: {mse}");

    let dir = tempfile::tempdir().unwrap();
    let learned = learner_run(config, model, dir.path(), EPOCHS, None);
    assert_eq!(events_of(&learned), fit_events, "same freezes, same rates");
    assert_eq!(learned.state().iteration, TOTAL);
    // Same rates at every iteration for every unit, same frozen prefix: the same parameters.
    assert_eq!(learned.inner().all_values(), fit.model.all_values());
    if config.policy.finetune().is_some() {
        // Every unit left the prefix before the end: each trained again, from the weights it
        // started with (frozen until then).
        assert_eq!(learned.state().frozen_units, 0);
        for (i, start) in initial.iter().enumerate() {
            assert_ne!(&learned.inner().unit_weight(i), start, "unit {i} trained after its unfreeze");
        }
    }
}

/// Stops after epoch 2 (iteration 10, `frozen` units frozen), resumes into a new model.
fn resumed_equals_whole(config: &TrainConfig, frozen: usize) {
    let device = Device::flex().autodiff();
    let model = Regressor::new(2, &device);
    let whole_dir = tempfile::tempdir().unwrap();
    let whole = learner_run(config, model.clone(), whole_dir.path(), EPOCHS, None);

    let dir = tempfile::tempdir().unwrap();
    let first = learner_run(config, model, dir.path(), 2, None);
    assert_eq!((first.state().iteration, first.state().frozen_units), (10, frozen));
    let frozen_weights = first.inner().unit_weight(0);
    // A new process would build a new model: other initial values, other parameter ids.
    let resumed = learner_run(config, Regressor::new(2, &device), dir.path(), EPOCHS, Some(2));

    assert_eq!(resumed.state(), whole.state());
    let after_stop: Events = events_of(&whole).into_iter().filter(|e| e.0 > 10).collect();
    assert!(!after_stop.is_empty(), "a freeze (or an unfreeze) happens after the stop");
    assert_eq!(events_of(&resumed), after_stop, "the same freezes with the same rates after the resume");
    if frozen > 0 && !whole.policy().unfreezes() {
        assert_eq!(resumed.inner().unit_weight(0), frozen_weights, "unit 0, frozen before the stop, is untouched");
    }
    assert_eq!(resumed.inner().all_values(), whole.inner().all_values());
    assert_eq!(resumed.policy().adaptive().map(|a| a.state()), whole.policy().adaptive().map(|a| a.state()));
    // An adaptive policy's decisions after the stop, with the signal each was taken on: a
    // window's measurements from before the stop (and the drift policy's last sketch) came
    // through the record.
    let decided = |m: &FreezeOutModel<Regressor>| {
        m.policy().adaptive().map(|a| a.decisions().iter().filter(|d| d.iteration > 10).cloned().collect::<Vec<_>>())
    };
    assert_eq!(decided(&resumed), decided(&whole));
}

/// burn-train's `.summary()` prints the model with `Display`, which shows a skipped field with
/// its `Debug`: the driver's must be a line, not every parameter id of every unit.
#[test]
fn the_wrapped_models_display_shows_the_driver_in_one_line() {
    let device = Device::flex().autodiff();
    let model = Regressor::new(2, &device);
    let ids = model.units()[0].param_ids.clone();
    let wrapped = FreezeOutModel::new(model, fast_schedule().schedule, TOTAL).unwrap();
    let shown = wrapped.to_string();
    let driver = shown.lines().find(|l| l.contains("FreezeOutDriver")).expect("the driver is shown");
    assert!(
        driver.contains("policy: \"freezeout\"") && driver.contains("units: 3") && driver.contains("iteration: 0"),
        "{driver}"
    );
    assert!(!shown.contains(&ids[0].to_string()), "no parameter ids in:\n{shown}");
    assert!(shown.len() < 2_000, "{} characters:\n{shown}", shown.len());
}
