//! Our training loop: one place where an iteration happens.
//!
//! Per iteration `j`: freeze the units whose budget is spent, the task's forward and loss (the
//! model freeze-aware), backward (no work for the frozen prefix), per-unit learning rates, the
//! optimizer (default: SGD, Nesterov momentum, dampening 0, coupled weight decay) — timed
//! between two device syncs; with the prefix cache on, the cache's lookups and writes are
//! timed with the step. A baseline run (no freezing, one global cosine) goes through the
//! same loop. The loop is generic over the [`Task`] (what a batch is, the loss, the metric);
//! [`Fit`] is its one entry point, image classification unless told another task:
//!
//! ```
//! use burn::tensor::Device;
//! use burn_freezeout::data::{HostBatch, InMemory};
//! use burn_freezeout::models::WideResNet;
//! use burn_freezeout::train::{Fit, Progress, TrainConfig};
//!
//! let device = Device::flex().autodiff();
//! let model = WideResNet::new(10, 1, 0.0, 10, &device);
//! // Two fixed batches of four 32×32 images (a real run reads CIFAR: `data::Loader`).
//! let batch = HostBatch::new(vec![0.5; 4 * 3 * 32 * 32], [4, 3, 32, 32], vec![0, 1, 2, 3]);
//! let mut data = InMemory { train: vec![batch.clone(), batch.clone()], eval: vec![batch] };
//! let config = TrainConfig { epochs: 2, ..TrainConfig::default() };
//! let mut losses = Vec::new();
//! let outcome = Fit::new(&config, &device)
//!     .observe(|p, _model| if let Progress::Step { loss, .. } = p { losses.push(loss) })
//!     .run(model, &mut data)?;
//! assert_eq!((outcome.summary.total_iterations, losses.len()), (4, 4));
//! # Ok::<(), burn_freezeout::train::TrainError>(())
//! ```

pub mod checkpoint;
mod config;
mod cpu;
mod event;
mod log;
mod optim;
mod outcome;
mod position;
mod start;
mod step;

pub use checkpoint::{CheckpointError, Checkpointing, Manifest, PartialEpoch};
pub use config::TrainConfig;
pub use cpu::CpuInfo;
pub use log::{RunLog, write_atomic};
pub use optim::OptimizerKind;
pub use outcome::{EpochStats, Outcome, RunSummary, TrainError};
pub use step::{StepResult, Stepper};

use crate::FreezeOut;
use crate::cache::PrefixCache;
use crate::data::DataSource;
use crate::task::{CacheStep, Classification, Task};
use burn::module::Module;
use burn::tensor::Device;
use event::Event;
use start::Started;
use std::path::PathBuf;
use std::time::Instant;

/// What [`Fit::observe`]'s callback hears as the run goes.
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

/// A run of our training loop: the config and the device, then (all optional) the task, the
/// log, checkpoints, a checkpoint to resume from and a progress callback; [`run`](Fit::run)
/// trains.
///
/// Without [`task`](Fit::task) the task is [`Classification`] (NCHW images, cross-entropy,
/// top-1 error); without [`log`](Fit::log) the log is kept in memory and dropped.
pub struct Fit<'a, M, T = Classification> {
    config: &'a TrainConfig,
    device: &'a Device,
    task: &'a T,
    log: Option<&'a mut RunLog>,
    checkpoint: Option<Checkpointing>,
    resume: Option<(PathBuf, Manifest)>,
    observe: Option<Observer<'a, M>>,
}

/// [`Fit::observe`]'s callback.
type Observer<'a, M> = Box<dyn FnMut(Progress, &M) + 'a>;

impl<'a, M> Fit<'a, M> {
    /// A run of `config` on `device` (which must have autodiff: `Device::flex().autodiff()`).
    pub fn new(config: &'a TrainConfig, device: &'a Device) -> Self {
        Fit { config, device, task: &Classification, log: None, checkpoint: None, resume: None, observe: None }
    }
}

impl<'a, M, T> Fit<'a, M, T> {
    /// Trains `task` instead: the data source then yields its [`Task::Batch`]es.
    pub fn task<U>(self, task: &'a U) -> Fit<'a, M, U> {
        let Fit { config, device, log, checkpoint, resume, observe, .. } = self;
        Fit { config, device, task, log, checkpoint, resume, observe }
    }

    /// Writes the run's events (`log.jsonl`) and its `summary.json` into `log`.
    pub fn log(self, log: &'a mut RunLog) -> Self {
        Fit { log: Some(log), ..self }
    }

    /// Writes checkpoints as `checkpointing` says.
    pub fn checkpoint(self, checkpointing: Checkpointing) -> Self {
        Fit { checkpoint: Some(checkpointing), ..self }
    }

    /// Continues from the checkpoint at `path` whose manifest is `manifest` (see
    /// [`checkpoint::latest`]); the model given to [`run`](Fit::run) must be freshly built with
    /// the same config, and the log already truncated to the manifest's `log_bytes`.
    pub fn resume(self, path: PathBuf, manifest: Manifest) -> Self {
        Fit { resume: Some((path, manifest)), ..self }
    }

    /// Calls `observe` after every iteration's update (and its checkpoint, if one was due) and
    /// after every epoch's evaluation, with the model as it then is. A closure that reads the
    /// model names its type (`|progress, model: &MyNet| ..`): the model is given only to
    /// [`run`](Fit::run).
    pub fn observe(self, observe: impl FnMut(Progress, &M) + 'a) -> Self {
        Fit { observe: Some(Box::new(observe)), ..self }
    }
}

impl<M: FreezeOut, T: Task<M>> Fit<'_, M, T> {
    /// Trains `model` (built on the run's device) on `data`: per iteration, the driver's
    /// freeze, the step, the log, the driver's advance, a checkpoint when one is due and the
    /// callback; per epoch, the evaluation and a checkpoint.
    pub fn run<D>(self, model: M, data: &mut D) -> Result<Outcome<M>, TrainError>
    where
        D: DataSource<T::Batch> + ?Sized,
    {
        let Fit { config, device, task, log, checkpoint, resume, mut observe } = self;
        let mut in_memory = RunLog::in_memory();
        let log = log.unwrap_or(&mut in_memory);
        let mut observe = |p: Progress, m: &M| {
            if let Some(f) = observe.as_mut() {
                f(p, m)
            }
        };
        let per_epoch = data.train_batches_per_epoch();
        let Started { mut model, units, mut driver, mut stepper, mut state } =
            start::start(model, per_epoch, config, device, log, resume.as_ref())?;
        let total = driver.policy().total_iterations();
        let checkpoints = checkpoint.as_ref();
        let every = checkpoints.map_or(0, |c| c.every);
        // The frozen-prefix cache (derived data: empty at the start and after a resume).
        let samples = data.samples();
        let mut cache = start::cache(config, samples.as_deref(), &state, driver.frozen_units())?;
        // A drift policy's probe (derived data: its measurements live in the policy's state).
        let mut probe = start::drift_probe(task, &*data, &model, &driver, device)?;

        while state.epoch < config.epochs {
            let epoch_start = Instant::now();
            for batch in data.train_epoch_from(state.epoch, state.batch) {
                model = event::freeze_logged(&mut driver, model, &units, log)?;
                let (j, frozen, n) = (driver.iteration(), driver.frozen_units(), task.batch_len(&batch));
                // Dropout masks come from the device RNG, seeded from (run seed, iteration): a
                // resumed run draws the masks an uninterrupted one would.
                device.seed(step::iteration_seed(config.seed, j));
                let (next, mut step) = match cache.as_mut() {
                    None => stepper.step(model, task, task.to_device(batch, device), &mut driver),
                    Some(cache) => {
                        let step = CacheStep { cache, samples: samples.as_deref(), epoch: state.epoch, device };
                        stepper.step_cached(model, task, batch, step, &mut driver)?
                    }
                };
                model = next;
                if step::diverged(config, step.loss) {
                    // A final checkpoint (for inspection) and a summary marked "diverged", so
                    // tables show the run instead of dropping it.
                    let head_lr = driver.lr(units.len());
                    driver.advance();
                    state.batch += 1;
                    state.save_checkpoint(checkpoints, (&model, &stepper, &driver), log)?;
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
                    state.save_checkpoint(checkpoints, (&model, &stepper, &driver), log)?;
                }
                observe(Progress::Step { iter: j, total, epoch, loss, step_ms, frozen }, &model);
            }
            let test_error = evaluate(&model, data, task, device);
            let cache_stats = cache.as_mut().map(PrefixCache::take_stats);
            let stats = state.finish_epoch(test_error, epoch_start, driver.frozen_units(), cache_stats);
            log.event(&Event::Epoch(&stats))?;
            log.flush()?;
            observe(Progress::Epoch(&stats), &model);
            state.save_checkpoint(checkpoints, (&model, &stepper, &driver), log)?;
        }

        let summary = state.summary(true, config, units.len(), total);
        log.write_json("summary.json", &summary)?;
        Ok(Outcome { model, summary })
    }
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
