//! The training loop: one place where an iteration happens.
//!
//! Per iteration `j`: freeze the units whose budget is spent, the task's forward and loss (the
//! model freeze-aware), backward (no work for the frozen prefix), per-unit learning rates, the
//! optimizer (default: SGD, Nesterov momentum, dampening 0, coupled weight decay) — timed
//! between two device syncs. A baseline run (no freezing, one global cosine) goes through the
//! same loop. The loop is generic over the [`Task`] (what a batch is, the loss, the metric);
//! [`fit`] is image classification, [`fit_task`] any task.

pub mod checkpoint;
mod data;
mod log;
mod optim;
mod step;
pub(crate) mod task;

pub use checkpoint::{CheckpointError, Checkpointing, Manifest, PartialEpoch};

pub use data::{DataSource, HostBatch, InMemory};
pub use log::{RunLog, write_atomic};
pub use optim::OptimizerKind;
pub use step::{StepResult, Stepper};
pub use task::{Classification, Task, TaskOutput};

use crate::policy::{Adaptive, AdaptiveConfig, Decision, Policy, WindowSignal};
use crate::schedule::{Schedule, ScheduleConfig, ScheduleError};
use crate::{DriverState, FreezeOut, FreezeOutDriver, FreezeOutForward};
use burn::module::Module;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, ModuleOptimizer, SgdConfig};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Instant;

/// Everything that decides a run besides the model and the data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Number of epochs.
    pub epochs: usize,
    /// FreezeOut settings; `base_lr` is also the baseline's rate.
    pub schedule: ScheduleConfig,
    /// No freezing: every unit follows one global cosine from `base_lr`.
    pub baseline: bool,
    /// Freeze by the adaptive policy instead of FreezeOut's schedule (with `base_lr`; the
    /// schedule's other settings are unused). Not with `baseline`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adaptive: Option<AdaptiveConfig>,
    /// The optimizer: SGD with Nesterov momentum (the paper's, default), Adam or AdamW, each
    /// with FreezeOut's per-unit rates.
    #[serde(default)]
    pub optimizer: OptimizerKind,
    /// SGD momentum (Nesterov, dampening 0); Adam and AdamW use their default betas.
    pub momentum: f64,
    /// Weight decay: coupled L2 for SGD and Adam, decoupled for AdamW.
    pub weight_decay: f64,
    /// Seed of the model's initialisation and the data order.
    pub seed: u64,
    /// Stop as diverged when a batch loss exceeds this (a non-finite loss always stops).
    #[serde(default)]
    pub max_loss: Option<f64>,
}

impl Default for TrainConfig {
    /// The paper's optimiser: SGD, Nesterov momentum 0.9, weight decay 1e-4, α = 0.1.
    fn default() -> Self {
        Self {
            epochs: 1,
            schedule: ScheduleConfig::default(),
            baseline: false,
            adaptive: None,
            optimizer: OptimizerKind::Sgd,
            momentum: 0.9,
            weight_decay: 1e-4,
            seed: 0,
            max_loss: None,
        }
    }
}

impl TrainConfig {
    /// The policy of a run of `num_units` units and `total` iterations: the baseline, the
    /// adaptive policy, or FreezeOut's schedule.
    pub fn policy(&self, num_units: usize, total: u64) -> Result<Policy, ScheduleError> {
        match (self.baseline, self.adaptive) {
            (true, Some(_)) => Err(ScheduleError::Adaptive(
                "both baseline and adaptive are set: pick one policy (--policy baseline or --policy adaptive)".into(),
            )),
            (false, Some(adaptive)) => Ok(Adaptive::new(adaptive, self.schedule.base_lr, num_units, total)?.into()),
            _ => Ok(self.schedule(num_units, total)?.into()),
        }
    }

    /// The schedule (baseline or FreezeOut; `adaptive` is not looked at) of a run of
    /// `num_units` units and `total` iterations.
    pub fn schedule(&self, num_units: usize, total: u64) -> Result<Schedule, ScheduleError> {
        if self.baseline {
            Schedule::baseline(self.schedule.base_lr, num_units, total)
        } else {
            Schedule::freezeout(self.schedule, num_units, total)
        }
    }

    /// The run's optimizer: SGD with Nesterov momentum and dampening 0 (Burn's default
    /// dampening is 0.1), Adam with coupled L2 decay, or AdamW with decoupled decay.
    pub fn optimizer(&self) -> ModuleOptimizer {
        let decay = (self.weight_decay > 0.0).then(|| WeightDecayConfig::new(self.weight_decay as f32));
        match self.optimizer {
            OptimizerKind::Sgd => {
                let momentum = (self.momentum > 0.0).then(|| {
                    MomentumConfig::new().with_momentum(self.momentum).with_dampening(0.0).with_nesterov(true)
                });
                SgdConfig::new().with_momentum(momentum).with_weight_decay(decay).init()
            }
            OptimizerKind::Adam => AdamConfig::new().with_weight_decay(decay).init(),
            OptimizerKind::AdamW => AdamWConfig::new().with_weight_decay(self.weight_decay as f32).init(),
        }
    }
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Bad schedule settings.
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    /// The data gave no batches.
    #[error("the training data has no batches: check the dataset path and the batch size")]
    NoData,
    /// A unit without trainable parameters cannot be frozen meaningfully.
    #[error("unit {index} (`{name}`) has no trainable parameters: merge it into a neighbour unit")]
    EmptyUnit {
        /// Unit index.
        index: usize,
        /// Unit name.
        name: String,
    },
    /// A non-finite loss, or one above `max_loss`.
    #[error(
        "diverged: loss is {loss} at iteration {iteration} (epoch {epoch}) with {frozen} frozen units \
         and head LR {head_lr:.6}: lower --lr or check the data"
    )]
    Diverged {
        /// The loss value.
        loss: f32,
        /// Iteration (0-based).
        iteration: u64,
        /// Epoch (0-based).
        epoch: usize,
        /// Frozen units at that iteration.
        frozen: usize,
        /// The head's learning rate then.
        head_lr: f64,
    },
    /// Writing the log failed.
    #[error("cannot write the run log: {0}")]
    Io(#[from] std::io::Error),
    /// A checkpoint could not be written or read.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

/// Per-epoch numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// Epoch (0-based).
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Training error: the task's metric per example (classification: the fraction
    /// misclassified, under augmentation).
    pub train_error: f64,
    /// Held-out error (the same metric), if there is held-out data.
    pub test_error: Option<f64>,
    /// Seconds spent in training steps (device-synchronised).
    pub step_seconds: f64,
    /// Wall-clock seconds of the epoch, data and evaluation included.
    pub wall_seconds: f64,
    /// Frozen units at the end of the epoch.
    pub frozen_units: usize,
}

/// The result of [`fit`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunSummary {
    /// `"finished"`, or `"diverged"` (non-finite loss; `test_error` is then `None`).
    pub status: String,
    /// The config.
    pub config: TrainConfig,
    /// Units `N`.
    pub num_units: usize,
    /// Total iterations `T` (epochs × batches per epoch).
    pub total_iterations: u64,
    /// Final held-out error.
    pub test_error: Option<f64>,
    /// Seconds of all training steps.
    pub step_seconds: f64,
    /// Wall-clock seconds of the run.
    pub wall_seconds: f64,
    /// Per epoch.
    pub epochs: Vec<EpochStats>,
}

/// One line of the log.
#[derive(Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum Event<'a> {
    Start { config: &'a TrainConfig, units: Vec<(usize, &'a str, usize)>, schedule: Option<&'a Schedule> },
    /// An adaptive policy's signal at the end of a window.
    Signal(&'a WindowSignal),
    /// An adaptive policy's decision: a unit starts to leave training.
    Decision { #[serde(flatten)] decision: &'a Decision, name: &'a str },
    Iter { iter: u64, epoch: usize, loss: f32, metric: f64, batch: usize, step_ms: f64, frozen: usize },
    Freeze { iter: u64, frozen: usize, units: Vec<&'a str>, lrs: Vec<f64> },
    Resume { iter: u64, checkpoint: &'a std::path::Path },
    Epoch(&'a EpochStats),
}

/// The trained model and what happened.
pub struct Outcome<M> {
    /// The model after the last iteration.
    pub model: M,
    /// The summary (also written to `summary.json` when the log has a directory).
    pub summary: RunSummary,
}

/// Trains the image classifier `model` (built on `device`, which must have autodiff) on
/// `data`: [`fit_task`] with [`Classification`].
pub fn fit<M, D>(
    model: M,
    data: &mut D,
    config: &TrainConfig,
    device: &Device,
    log: &mut RunLog,
) -> Result<Outcome<M>, TrainError>
where
    M: FreezeOut + FreezeOutForward<4, 2>,
    D: DataSource + ?Sized,
{
    fit_observed(model, data, config, device, log, |_, _| {})
}

/// Trains `model` on any [`Task`]: `data` yields the task's batches, the task gives the loss
/// and the metric the run reports (as `train_error` / `test_error`).
pub fn fit_task<M, D, T>(
    model: M,
    data: &mut D,
    task: &T,
    config: &TrainConfig,
    device: &Device,
    log: &mut RunLog,
) -> Result<Outcome<M>, TrainError>
where
    M: FreezeOut,
    T: Task<M>,
    D: DataSource<T::Batch> + ?Sized,
{
    fit_with(model, data, task, config, device, log, FitOptions::default(), |_, _| {})
}

/// What [`fit_observed`] reports as the run goes.
#[derive(Clone, Copy, Debug)]
pub enum Progress<'a> {
    /// After the update of iteration `iter` (of `total`).
    Step {
        /// Iteration (0-based).
        iter: u64,
        /// Total iterations of the run.
        total: u64,
        /// Epoch (0-based).
        epoch: usize,
        /// The batch's loss.
        loss: f32,
        /// Device-synchronised step time.
        step_ms: f64,
        /// Frozen units during the step.
        frozen: usize,
    },
    /// After an epoch's evaluation.
    Epoch(&'a EpochStats),
}

/// [`fit`], calling `observe` after every iteration's update and every epoch's evaluation.
pub fn fit_observed<M, D>(
    model: M,
    data: &mut D,
    config: &TrainConfig,
    device: &Device,
    log: &mut RunLog,
    observe: impl FnMut(Progress, &M),
) -> Result<Outcome<M>, TrainError>
where
    M: FreezeOut + FreezeOutForward<4, 2>,
    D: DataSource + ?Sized,
{
    fit_with(model, data, &Classification, config, device, log, FitOptions::default(), observe)
}

/// Checkpointing and resuming for [`fit_with`].
#[derive(Clone, Debug, Default)]
pub struct FitOptions {
    /// Write checkpoints.
    pub checkpoint: Option<Checkpointing>,
    /// Continue from this checkpoint directory (see [`checkpoint::latest`]); the model passed in
    /// must be freshly built with the same config, and the log already truncated to the
    /// checkpoint's `log_bytes`.
    pub resume: Option<(PathBuf, Manifest)>,
}

/// Test hook: abort the process (no unwinding, no flushing) after this iteration.
pub const ABORT_ENV: &str = "FREEZEOUT_ABORT_AFTER_ITERATION";

/// The training loop of any [`Task`], with checkpoints and resume.
#[allow(clippy::too_many_arguments)]
pub fn fit_with<M, D, T>(
    mut model: M,
    data: &mut D,
    task: &T,
    config: &TrainConfig,
    device: &Device,
    log: &mut RunLog,
    options: FitOptions,
    mut observe: impl FnMut(Progress, &M),
) -> Result<Outcome<M>, TrainError>
where
    M: FreezeOut,
    T: Task<M>,
    D: DataSource<T::Batch> + ?Sized,
{
    let run_start = Instant::now();
    // A resumed run loads the checkpoint first: loading restores the parameter ids that the
    // optimizer state and the per-unit LR groups are keyed by.
    let mut loaded_optim = None;
    if let Some((path, m)) = &options.resume {
        let (loaded, optim) = checkpoint::load(path, model, config.optimizer())?;
        model = loaded.freeze_units(m.frozen_units);
        loaded_optim = Some(optim);
    }
    let units = model.units();
    if let Some(u) = units.iter().find(|u| u.num_params == 0) {
        return Err(TrainError::EmptyUnit { index: u.index, name: u.name.clone() });
    }
    let per_epoch = data.train_batches_per_epoch() as u64;
    if per_epoch == 0 {
        return Err(TrainError::NoData);
    }
    let total = config.epochs as u64 * per_epoch;
    let policy = config.policy(units.len(), total)?;
    // FreezeOut itself: which units are frozen and every unit's rate, iteration by iteration.
    let mut driver = FreezeOutDriver::with_policy(&model, policy.clone())?;
    if let Some((_, m)) = &options.resume {
        model = driver.restore(model, DriverState { iteration: m.next_iteration, frozen_units: m.frozen_units });
        match (&m.policy, driver.policy()) {
            (Some(state), Policy::Adaptive(_)) => driver.restore_policy_state(state.clone()),
            (None, Policy::Adaptive(_)) => {
                return Err(CheckpointError::NoPolicyState(path_of(&options)).into());
            }
            _ => {}
        }
    }
    let mut stepper = Stepper::new(config, device);
    if let Some(optim) = loaded_optim {
        stepper.set_optimizer(optim);
    }
    let abort_after: Option<u64> = std::env::var(ABORT_ENV).ok().and_then(|v| v.parse().ok());

    // Where to start: the beginning, or a checkpoint.
    let (first_epoch, mut first_batch, mut epochs, mut step_total, mut partial, wall_before) =
        match &options.resume {
            None => {
                log.event(&Event::Start {
                    config,
                    units: units.iter().map(|u| (u.index, u.name.as_str(), u.num_params)).collect(),
                    schedule: policy.schedule(),
                })?;
                (0usize, 0usize, Vec::with_capacity(config.epochs), 0.0, PartialEpoch::default(), 0.0)
            }
            Some((path, m)) => {
                log.event(&Event::Resume { iter: m.next_iteration, checkpoint: path })?;
                (m.epoch, m.batch_in_epoch, m.epochs.clone(), m.step_total, m.partial, m.wall_seconds)
            }
        };
    let save = |model: &M, stepper: &Stepper, log: &mut RunLog, manifest: Manifest| -> Result<(), TrainError> {
        if let Some(cp) = &options.checkpoint {
            log.flush()?;
            let manifest = Manifest { log_bytes: log.bytes()?, ..manifest };
            checkpoint::save(cp, model, stepper.optimizer(), &manifest)?;
        }
        Ok(())
    };
    let manifest = |j: u64, epoch: usize, batch: usize, frozen: usize, epochs: &[EpochStats], partial, step_total, policy| Manifest {
        format_version: checkpoint::FORMAT_VERSION,
        next_iteration: j,
        epoch,
        batch_in_epoch: batch,
        frozen_units: frozen,
        config_hash: options.checkpoint.as_ref().map(|c| c.config_hash.clone()).unwrap_or_default(),
        crate_versions: checkpoint::crate_versions(),
        log_bytes: 0,
        epochs: epochs.to_vec(),
        partial,
        step_total,
        wall_seconds: wall_before + run_start.elapsed().as_secs_f64(),
        policy,
    };
    let every = options.checkpoint.as_ref().map_or(0, |c| c.every);
    // The final test error is the last finished epoch's (none for a diverged run).
    let run_summary = |status: &str, epochs: Vec<EpochStats>, step_seconds: f64| RunSummary {
        status: status.into(),
        config: config.clone(),
        num_units: units.len(),
        total_iterations: total,
        test_error: if status == "finished" { epochs.last().and_then(|e| e.test_error) } else { None },
        step_seconds,
        wall_seconds: wall_before + run_start.elapsed().as_secs_f64(),
        epochs,
    };

    for epoch in first_epoch..config.epochs {
        let epoch_start = Instant::now();
        let mut batch_index = first_batch;
        for batch in data.train_epoch_from(epoch, first_batch) {
            let j = driver.iteration();
            // Freeze the units the policy says are done (a prefix that only grows).
            // An adaptive policy decides here too: its signals and decisions go to the log.
            let (freezes, (signals, decisions)) = (driver.events().len(), adaptive_logged(&driver));
            model = driver.freeze(model);
            if let Some(a) = driver.policy().adaptive() {
                for s in &a.signals()[signals..] {
                    log.event(&Event::Signal(s))?;
                }
                for d in &a.decisions()[decisions..] {
                    log.event(&Event::Decision { decision: d, name: &units[d.unit].name })?;
                }
            }
            for e in &driver.events()[freezes..] {
                log.event(&Event::Freeze { iter: e.iteration, frozen: e.to, units: e.units.iter().map(String::as_str).collect(), lrs: e.lrs.clone() })?;
            }
            let frozen = driver.frozen_units();
            let n = task.batch_len(&batch);
            let input = task.to_device(batch, device);
            // Dropout masks come from the device RNG, seeded from (run seed, iteration): a
            // resumed run draws the masks an uninterrupted one would.
            device.seed(iteration_seed(config.seed, j));
            let (next, StepResult { loss: loss_value, metric, seconds: dt }) =
                stepper.step(model, task, input, &mut driver);
            model = next;

            if !loss_value.is_finite() || config.max_loss.is_some_and(|bound| loss_value as f64 > bound) {
                // Leave a final checkpoint (for inspection) and a summary marked "diverged", so
                // tables show the run instead of dropping it.
                save(&model, &stepper, log, manifest(j + 1, epoch, batch_index + 1, frozen, &epochs, partial, step_total, driver.policy_state()))?;
                let summary = run_summary("diverged", epochs, step_total + partial.step_seconds);
                log.flush()?;
                log.write_json("summary.json", &summary)?;
                let head_lr = driver.lr(units.len());
                return Err(TrainError::Diverged { loss: loss_value, iteration: j, epoch, frozen, head_lr });
            }
            log.event(&Event::Iter {
                iter: j, epoch, loss: loss_value, metric, batch: n, step_ms: dt * 1e3, frozen,
            })?;
            partial.loss_sum += loss_value as f64 * n as f64;
            partial.errors += metric;
            partial.seen += n;
            partial.step_seconds += dt;
            observe(Progress::Step { iter: j, total, epoch, loss: loss_value, step_ms: dt * 1e3, frozen }, &model);
            driver.advance();
            let j = driver.iteration();
            batch_index += 1;
            let epoch_done = batch_index as u64 == per_epoch;
            if every > 0 && j % every == 0 && !epoch_done {
                save(&model, &stepper, log, manifest(j, epoch, batch_index, frozen, &epochs, partial, step_total, driver.policy_state()))?;
            }
            if abort_after == Some(j - 1) {
                std::process::abort();
            }
        }
        first_batch = 0;
        let test_error = evaluate(&model, data, task, device);
        let stats = EpochStats {
            epoch,
            train_loss: partial.loss_sum / partial.seen.max(1) as f64,
            train_error: partial.errors / partial.seen.max(1) as f64,
            test_error,
            step_seconds: partial.step_seconds,
            wall_seconds: epoch_start.elapsed().as_secs_f64(),
            frozen_units: driver.frozen_units(),
        };
        log.event(&Event::Epoch(&stats))?;
        log.flush()?;
        observe(Progress::Epoch(&stats), &model);
        step_total += partial.step_seconds;
        partial = PartialEpoch::default();
        epochs.push(stats);
        save(&model, &stepper, log, manifest(driver.iteration(), epoch + 1, 0, driver.frozen_units(), &epochs, partial, step_total, driver.policy_state()))?;
    }

    let summary = run_summary("finished", epochs, step_total);
    log.write_json("summary.json", &summary)?;
    Ok(Outcome { model, summary })
}

/// How many of an adaptive policy's signals and decisions are already logged.
fn adaptive_logged(driver: &FreezeOutDriver) -> (usize, usize) {
    driver.policy().adaptive().map_or((0, 0), |a| (a.signals().len(), a.decisions().len()))
}

fn path_of(options: &FitOptions) -> PathBuf {
    options.resume.as_ref().map(|(p, _)| p.clone()).unwrap_or_default()
}

/// The device RNG's seed at iteration `j`: a pure function of the run's seed and `j` (rand's
/// `seed_from_u64` expands it, so neighbouring iterations get unrelated streams).
fn iteration_seed(seed: u64, j: u64) -> u64 {
    use rand::{RngCore, SeedableRng};
    rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ j.wrapping_mul(0x9E37_79B9_7F4A_7C15)).next_u64()
}

/// The task's metric per example on the held-out batches (classification: top-1 error), with
/// the model in inference mode; `None` without held-out data.
pub fn evaluate<M, D, T>(model: &M, data: &mut D, task: &T, device: &Device) -> Option<f64>
where
    M: Module,
    T: Task<M>,
    D: DataSource<T::Batch> + ?Sized,
{
    let model = model.valid();
    let inference = device.clone().without_autodiff();
    let (mut sum, mut seen) = (0.0, 0usize);
    for batch in data.eval_batches() {
        seen += task.batch_len(&batch);
        let input = task.to_device(batch, &inference);
        sum += task.forward(&model, input).metric.into_scalar::<f64>();
    }
    (seen > 0).then(|| sum / seen as f64)
}
