//! The training loop: one place where an iteration happens.
//!
//! Per iteration `j`: freeze the units whose budget is spent, the task's forward and loss (the
//! model freeze-aware), backward (no work for the frozen prefix), per-unit learning rates, the
//! optimizer (default: SGD, Nesterov momentum, dampening 0, coupled weight decay) — timed
//! between two device syncs; with the prefix cache on, the cache's lookups and writes are
//! timed with the step. A baseline run (no freezing, one global cosine) goes through the
//! same loop. The loop is generic over the [`Task`] (what a batch is, the loss, the metric);
//! [`fit`] is image classification, [`fit_task`] any task.

pub mod checkpoint;
mod config;
mod data;
mod log;
mod optim;
mod outcome;
mod state;
mod step;
pub(crate) mod task;

pub use checkpoint::{CheckpointError, Checkpointing, Manifest, PartialEpoch};
pub use config::TrainConfig;
pub use data::{Crop, DataSource, HostBatch, InMemory, Samples};
pub use log::{RunLog, write_atomic};
pub use optim::OptimizerKind;
pub use outcome::{EpochStats, Outcome, RunSummary, TrainError};
pub use step::{StepResult, Stepper};
pub use task::{CacheStep, Classification, ProbeStep, Task, TaskOutput, UnitProbe};

use crate::cache::PrefixCache;
use crate::{FreezeOut, FreezeOutForward};
use burn::module::Module;
use burn::tensor::Device;
use state::{Event, Started};
use std::path::PathBuf;
use std::time::Instant;

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
    /// After the update of iteration `iter` (of `total`) and its checkpoint, if one was due.
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

/// The training loop of any [`Task`], with checkpoints and resume: per iteration, the
/// driver's freeze, the step, the log, the driver's advance, a checkpoint when one is due and
/// `observe`; per epoch, the evaluation and a checkpoint.
#[allow(clippy::too_many_arguments)]
pub fn fit_with<M, D, T>(
    model: M,
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
    let per_epoch = data.train_batches_per_epoch();
    let Started { mut model, units, mut driver, mut stepper, mut state } =
        state::start(model, per_epoch, config, device, log, &options)?;
    let total = driver.policy().total_iterations();
    let checkpoints = options.checkpoint.as_ref();
    let every = checkpoints.map_or(0, |c| c.every);
    // The frozen-prefix cache (derived data: empty at the start and after a resume).
    let samples = data.samples();
    let mut cache = state::cache(config, samples.as_deref(), &state, driver.frozen_units())?;
    // A drift policy's probe (derived data: its measurements live in the policy's state).
    let mut probe = state::drift_probe(task, &*data, &model, &driver, device)?;

    while state.epoch < config.epochs {
        let epoch_start = Instant::now();
        for batch in data.train_epoch_from(state.epoch, state.batch) {
            model = state::freeze_logged(&mut driver, model, &units, log)?;
            let (j, frozen, n) = (driver.iteration(), driver.frozen_units(), task.batch_len(&batch));
            // Dropout masks come from the device RNG, seeded from (run seed, iteration): a
            // resumed run draws the masks an uninterrupted one would.
            device.seed(state::iteration_seed(config.seed, j));
            let (next, mut step) = match cache.as_mut() {
                None => stepper.step(model, task, task.to_device(batch, device), &mut driver),
                Some(cache) => {
                    let step = CacheStep { cache, samples: samples.as_deref(), epoch: state.epoch, device };
                    stepper.step_cached(model, task, batch, step, &mut driver)?
                }
            };
            model = next;
            if state::diverged(config, step.loss) {
                // A final checkpoint (for inspection) and a summary marked "diverged", so
                // tables show the run instead of dropping it.
                let head_lr = driver.lr(units.len());
                driver.advance();
                state.batch += 1;
                state::save_checkpoint(checkpoints, &model, &stepper, log, state.manifest(&driver, checkpoints))?;
                log.flush()?;
                log.write_json("summary.json", &state.summary(false, config, units.len(), total))?;
                let epoch = state.epoch;
                return Err(TrainError::Diverged { loss: step.loss, iteration: j, epoch, frozen, head_lr });
            }
            if let Some(probe) = probe.as_mut() {
                // The drift policy's measurement of the updated model, timed with the step.
                let measured = Instant::now();
                probe.observe(&model, &mut driver)?;
                step.seconds += measured.elapsed().as_secs_f64();
            }
            let (loss, step_ms, epoch) = (step.loss, step.seconds * 1e3, state.epoch);
            log.event(&Event::Iter { iter: j, epoch, loss, metric: step.metric, batch: n, step_ms, frozen })?;
            state.record(&step, n);
            driver.advance();
            if every > 0 && driver.iteration() % every == 0 && state.batch < per_epoch {
                state::save_checkpoint(checkpoints, &model, &stepper, log, state.manifest(&driver, checkpoints))?;
            }
            observe(Progress::Step { iter: j, total, epoch, loss, step_ms, frozen }, &model);
        }
        let test_error = evaluate(&model, data, task, device);
        let cache_stats = cache.as_mut().map(PrefixCache::take_stats);
        let stats = state.finish_epoch(test_error, epoch_start, driver.frozen_units(), cache_stats);
        log.event(&Event::Epoch(&stats))?;
        log.flush()?;
        observe(Progress::Epoch(&stats), &model);
        state::save_checkpoint(checkpoints, &model, &stepper, log, state.manifest(&driver, checkpoints))?;
    }

    let summary = state.summary(true, config, units.len(), total);
    log.write_json("summary.json", &summary)?;
    Ok(Outcome { model, summary })
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
