//! FreezeOut under burn-train's data-parallel strategies, measured (`paper-repro ddp`, feature
//! `learner`): a preset trained by the `Learner` on random images with FreezeOut's default
//! schedule, each optimizer step of the main worker traced ([`FreezeOutModel::with_step_trace`]):
//! per frozen prefix, the median step time and the gradients the step held — what DDP
//! all-reduced — beside [`comm::exchanged`]'s prediction from the architecture.
//!
//! Strategies: `single` (one device), `multi` (`ExecutionStrategy::MultiDevice`, one optimizer
//! on the first device; on the CPU, the CPU device several times), `ddp`
//! (`ExecutionStrategy::ddp`: one worker per device, gradients all-reduced through NCCL, CUDA
//! only in Burn 0.22.1).

use super::images;
use crate::comm;
use burn::tensor::Device;
use burn::tensor::distributed::{DistributedConfig, ReduceOperation};
use burn::train::metric::LossMetric;
use burn::train::{
    ClassificationOutput, ExecutionStrategy, InferenceStep, Learner, MultiDeviceOptim, SupervisedTraining, TrainStep,
};
use burn_freezeout::device::DeviceKind;
use burn_freezeout::learner::{FreezeOutModel, ImageBatch, StepTrace};
use burn_freezeout::models::{DenseNet, Preset, Vgg, Vit, WideResNet};
use burn_freezeout::train::TrainConfig;
use burn_freezeout::{FreezeOut, GradientCensus, ScheduleConfig};
use serde::Serialize;
use std::path::Path;

/// How the `Learner` spreads the work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// One device.
    Single,
    /// `ExecutionStrategy::MultiDevice` with `OptimMainDevice`.
    Multi,
    /// `ExecutionStrategy::ddp` (CUDA).
    Ddp,
}

/// What to run.
#[derive(Clone, Debug, Serialize)]
pub struct DdpConfig {
    /// The model.
    pub model: Preset,
    /// Examples per device and step.
    pub batch: usize,
    /// Images per epoch (all devices together).
    pub images: usize,
    /// Epochs.
    pub epochs: usize,
    /// The strategy.
    pub strategy: Strategy,
    /// The backend.
    pub device: DeviceKind,
    /// Devices (workers).
    pub workers: usize,
}

/// The steps of one frozen prefix.
#[derive(Clone, Debug, Serialize)]
pub struct Phase {
    /// Units frozen.
    pub frozen_units: usize,
    /// Steps run with it (on the main worker).
    pub steps: usize,
    /// Median seconds of those steps, from the end of one to the end of the next (device
    /// synchronised); the phase's first step is left out (it starts after a freeze).
    pub median_s: Option<f64>,
    /// The gradients a step held: what the strategy exchanged.
    pub gradients: Option<GradientCensus>,
    /// What the architecture says a step exchanges with this prefix frozen.
    pub predicted: comm::Exchange,
}

/// What a run measured.
#[derive(Clone, Debug, Serialize)]
pub struct DdpReport {
    /// The configuration.
    pub config: DdpConfig,
    /// Optimizer steps per worker.
    pub iterations: u64,
    /// One entry per frozen prefix, in order.
    pub phases: Vec<Phase>,
}

/// Why a run cannot start.
#[derive(Debug, thiserror::Error)]
pub enum DdpError {
    /// DDP on a backend without collectives.
    #[error(
        "--strategy ddp needs collectives, which Burn 0.22.1 implements only on CUDA (NCCL): on {0} \
         `ExecutionStrategy::ddp` panics (\"Distributed operations are not supported for device ..\"); \
         use --device cuda, or --strategy multi"
    )]
    NoCollectives(DeviceKind),
    /// Uneven splits.
    #[error(
        "--images {images} does not split into {workers} workers × whole batches of {batch}: every DDP worker \
         must take the same number of steps (burn's split_dataloader gives the last one the remainder); use a \
         multiple of {}",
        workers * batch
    )]
    Uneven {
        /// Images.
        images: usize,
        /// Workers.
        workers: usize,
        /// Batch.
        batch: usize,
    },
    /// No device.
    #[error(transparent)]
    Device(#[from] burn_freezeout::device::DeviceError),
    /// More than one worker on one device under the single strategy.
    #[error("--strategy single runs one worker: drop --workers {0}")]
    SingleWorkers(usize),
    /// The Learner stopped.
    #[error("the Learner stopped: {0}")]
    Learner(String),
    /// A language model where the benchmark trains on images.
    #[error("--model {0}: a language model; the data-parallel benchmark trains image models")]
    TextModel(Preset),
}

/// Trains `config.model` under `config.strategy` in `dir` and reports its phases.
pub fn run(config: &DdpConfig, dir: &Path) -> Result<DdpReport, DdpError> {
    let workers = config.workers.max(1);
    if config.model.is_text() {
        return Err(DdpError::TextModel(config.model));
    }
    if config.strategy == Strategy::Ddp && config.device != DeviceKind::Cuda {
        return Err(DdpError::NoCollectives(config.device));
    }
    if config.strategy == Strategy::Single && workers > 1 {
        return Err(DdpError::SingleWorkers(workers));
    }
    let (images, batch) = (config.images, config.batch);
    if images == 0 || batch == 0 || !images.is_multiple_of(workers * batch) {
        return Err(DdpError::Uneven { images, workers, batch });
    }
    let devices = devices(config.device, workers)?;
    let device = devices[0].clone();
    let strategy = match config.strategy {
        Strategy::Single => ExecutionStrategy::single(device.clone()),
        Strategy::Multi => ExecutionStrategy::multi(devices.clone(), MultiDeviceOptim::OptimMainDevice),
        Strategy::Ddp => {
            ExecutionStrategy::ddp(devices.clone(), DistributedConfig { all_reduce_op: ReduceOperation::Mean })
        }
    };
    let iterations = (config.epochs * images / (workers * batch)) as u64;
    let run = Run { config, strategy, dir, iterations };
    let classes = 10;
    let trace = match config.model {
        Preset::DenseNetBc { depth, growth } => run.go(DenseNet::new(depth, growth, classes, &device), &device),
        Preset::Wrn { depth, width } => run.go(WideResNet::new(depth, width, 0.0, classes, &device), &device),
        Preset::Vgg16 => run.go(Vgg::new(classes, &device), &device),
        Preset::Vit { depth, width } => run.go(Vit::new(depth, width, 0.0, classes, &device), &device),
        Preset::Gpt { .. } => unreachable!("refused above"),
    }?;
    let spec = config.model.spec(classes);
    Ok(DdpReport { config: config.clone(), iterations, phases: phases(&trace, &spec) })
}

/// The devices of `kind`, `workers` of them (the CPU device repeated; CUDA devices 0..).
fn devices(kind: DeviceKind, workers: usize) -> Result<Vec<Device>, DdpError> {
    let first = kind.autodiff()?;
    Ok((0..workers)
        .map(|i| match kind {
            #[cfg(feature = "cuda")]
            DeviceKind::Cuda => Device::cuda(i).autodiff(),
            _ => {
                let _ = i;
                first.clone()
            }
        })
        .collect())
}

struct Run<'a> {
    config: &'a DdpConfig,
    strategy: ExecutionStrategy,
    dir: &'a Path,
    iterations: u64,
}

impl Run<'_> {
    fn go<M>(self, model: M, device: &Device) -> Result<Vec<StepTrace>, DdpError>
    where
        M: FreezeOut
            + TrainStep<Input = ImageBatch, Output = ClassificationOutput>
            + InferenceStep<Input = ImageBatch, Output = ClassificationOutput>
            + burn::module::ModuleDisplay
            + 'static,
    {
        let train = TrainConfig::default();
        let wrapped = FreezeOutModel::new(model, ScheduleConfig::default(), self.iterations)
            .expect("the default schedule over a positive run")
            .with_step_trace();
        let learner = Learner::new(wrapped.clone(), train.optimizer(), wrapped.lr_scheduler());
        let c = self.config;
        let result = SupervisedTraining::new(
            self.dir,
            images::loader(images::random(c.images, device), c.batch),
            images::loader(images::random(c.batch, device), c.batch),
        )
        .metrics((LossMetric::new(),))
        .with_training_strategy(self.strategy.into())
        .num_epochs(c.epochs)
        .launch(learner);
        if let Some(error) = result.error {
            return Err(DdpError::Learner(error.to_string()));
        }
        Ok(result.model.trace())
    }
}

/// The trace grouped by frozen prefix.
fn phases(trace: &[StepTrace], spec: &burn_freezeout::models::spec::ArchSpec) -> Vec<Phase> {
    let mut phases: Vec<Phase> = Vec::new();
    let mut times: Vec<Vec<f64>> = Vec::new();
    for step in trace {
        if phases.last().is_none_or(|p| p.frozen_units != step.frozen_units) {
            phases.push(Phase {
                frozen_units: step.frozen_units,
                steps: 0,
                median_s: None,
                gradients: step.gradients,
                predicted: comm::exchanged(spec, step.frozen_units),
            });
            times.push(Vec::new());
        } else if let Some(s) = step.seconds {
            times.last_mut().expect("a phase").push(s);
        }
        phases.last_mut().expect("a phase").steps += 1;
    }
    for (phase, mut t) in phases.iter_mut().zip(times) {
        t.sort_by(f64::total_cmp);
        phase.median_s = t.get(t.len() / 2).copied();
    }
    phases
}

impl DdpReport {
    /// The report as a table: one row per frozen prefix.
    pub fn table(&self) -> String {
        let c = &self.config;
        let mut out = format!(
            "{} under {:?} on {} × {}, batch {} per device, {} images × {} epochs: {} optimizer steps per worker\n\
             | frozen units | steps | median step (ms) | gradients exchanged per step (measured) | predicted |\n|---|---|---|---|---|\n",
            c.model,
            c.strategy,
            c.workers.max(1),
            c.device,
            c.batch,
            c.images,
            c.epochs,
            self.iterations
        );
        for p in &self.phases {
            let measured = p
                .gradients
                .map(|g| format!("{:.2} MB / {} tensors", g.bytes as f64 / 1e6, g.tensors))
                .unwrap_or_else(|| "-".into());
            out += &format!(
                "| {} | {} | {} | {} | {:.2} MB / {} tensors |\n",
                p.frozen_units,
                p.steps,
                p.median_s.map(|s| format!("{:.1}", 1e3 * s)).unwrap_or_else(|| "-".into()),
                measured,
                p.predicted.bytes as f64 / 1e6,
                p.predicted.tensors
            );
        }
        out
    }
}
