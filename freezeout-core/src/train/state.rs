//! The parts of [`fit_with`](super::fit_with) around its loop: starting a run (fresh, or from a
//! checkpoint), its position and sums ([`RunState`]), what it logs, its checkpoints, and the
//! end of a diverged run.

use super::Samples;
use super::checkpoint::{self, CheckpointError, Checkpointing, Manifest, PartialEpoch};
use super::{DataSource, ProbeStep, Task};
use super::{EpochStats, FitOptions, RunLog, RunSummary, StepResult, Stepper, TrainConfig, TrainError};
use crate::cache::{CacheStats, PrefixCache};
use crate::drift::DriftError;
use crate::policy::{Decision, Policy, WindowSignal};
use crate::schedule::Schedule;
use crate::{DriverState, FreezeOut, FreezeOutDriver, UnitInfo};
use burn::module::Module;
use burn::tensor::Device;
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// One line of the log.
#[derive(Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(super) enum Event<'a> {
    Start {
        config: &'a TrainConfig,
        units: Vec<(usize, &'a str, usize)>,
        schedule: Option<&'a Schedule>,
    },
    /// An adaptive policy's signal at the end of a window.
    Signal(&'a WindowSignal),
    /// An adaptive policy's decision: a unit starts to leave training.
    Decision {
        #[serde(flatten)]
        decision: &'a Decision,
        name: &'a str,
    },
    Iter {
        iter: u64,
        epoch: usize,
        loss: f32,
        metric: f64,
        batch: usize,
        step_ms: f64,
        frozen: usize,
    },
    Freeze {
        iter: u64,
        frozen: usize,
        units: Vec<&'a str>,
        lrs: Vec<f64>,
    },
    Resume {
        iter: u64,
        checkpoint: &'a Path,
    },
    Epoch(&'a EpochStats),
}

/// A run ready for its first iteration (or the checkpoint's next one).
pub(super) struct Started<M> {
    pub model: M,
    pub units: Vec<UnitInfo>,
    pub driver: FreezeOutDriver,
    pub stepper: Stepper,
    pub state: RunState,
}

/// Builds the driver and the optimizer for `model`, or restores both (and the model) from the
/// checkpoint in `options.resume`; logs the start or the resume.
pub(super) fn start<M: FreezeOut>(
    model: M,
    per_epoch: usize,
    config: &TrainConfig,
    device: &Device,
    log: &mut RunLog,
    options: &FitOptions,
) -> Result<Started<M>, TrainError> {
    let mut stepper = Stepper::new(config, device);
    // A resumed run loads the checkpoint first: loading restores the parameter ids that the
    // optimizer state and the per-unit LR groups are keyed by.
    let model = match &options.resume {
        Some((path, m)) => {
            let (loaded, optim) = checkpoint::load(path, model, config.optimizer())?;
            stepper.set_optimizer(optim);
            loaded.freeze_units(m.frozen_units)
        }
        None => model,
    };
    let units = model.units();
    if let Some(u) = units.iter().find(|u| u.num_params == 0) {
        return Err(TrainError::EmptyUnit { index: u.index, name: u.name.clone() });
    }
    if per_epoch == 0 {
        return Err(TrainError::NoData);
    }
    let policy = config.policy(units.len(), config.epochs as u64 * per_epoch as u64)?;
    // FreezeOut itself: which units are frozen and every unit's rate, iteration by iteration.
    let mut driver = FreezeOutDriver::with_policy(&model, policy)?;
    let (model, state) = match &options.resume {
        None => {
            let units = units.iter().map(|u| (u.index, u.name.as_str(), u.num_params)).collect();
            log.event(&Event::Start { config, units, schedule: driver.policy().schedule() })?;
            (model, RunState::fresh(config.epochs))
        }
        Some((path, m)) => {
            let model =
                driver.restore(model, DriverState { iteration: m.next_iteration, frozen_units: m.frozen_units });
            match (&m.policy, driver.policy()) {
                (Some(state), Policy::Adaptive(_)) => driver.restore_policy_state(state.clone()),
                (None, Policy::Adaptive(_)) => return Err(CheckpointError::NoPolicyState(path.clone()).into()),
                _ => {}
            }
            log.event(&Event::Resume { iter: m.next_iteration, checkpoint: path })?;
            (model, RunState::from_manifest(m))
        }
    };
    Ok(Started { model, units, driver, stepper, state })
}

/// Where a run is (the epoch and the batches of it done) and what it has summed so far.
pub(super) struct RunState {
    /// The epoch in progress (or next).
    pub epoch: usize,
    /// Batches of `epoch` done.
    pub batch: usize,
    epochs: Vec<EpochStats>,
    partial: PartialEpoch,
    step_total: f64,
    wall_before: f64,
    started: Instant,
}

impl RunState {
    fn fresh(epochs: usize) -> Self {
        Self {
            epoch: 0,
            batch: 0,
            epochs: Vec::with_capacity(epochs),
            partial: PartialEpoch::default(),
            step_total: 0.0,
            wall_before: 0.0,
            started: Instant::now(),
        }
    }

    fn from_manifest(m: &Manifest) -> Self {
        Self {
            epoch: m.epoch,
            batch: m.batch_in_epoch,
            epochs: m.epochs.clone(),
            partial: m.partial,
            step_total: m.step_total,
            wall_before: m.wall_seconds,
            started: Instant::now(),
        }
    }

    /// Adds one finished iteration of `n` examples to the epoch's sums.
    pub fn record(&mut self, step: &StepResult, n: usize) {
        self.partial.loss_sum += step.loss as f64 * n as f64;
        self.partial.errors += step.metric;
        self.partial.seen += n;
        self.partial.step_seconds += step.seconds;
        self.batch += 1;
    }

    /// Closes the epoch in progress (`test_error` from the evaluation, `frozen_units` at its
    /// end, what the cache did) and moves to the next.
    pub fn finish_epoch(
        &mut self,
        test_error: Option<f64>,
        started: Instant,
        frozen_units: usize,
        cache: Option<CacheStats>,
    ) -> EpochStats {
        let p = std::mem::take(&mut self.partial);
        let stats = EpochStats {
            epoch: self.epoch,
            train_loss: p.loss_sum / p.seen.max(1) as f64,
            train_error: p.errors / p.seen.max(1) as f64,
            test_error,
            step_seconds: p.step_seconds,
            wall_seconds: started.elapsed().as_secs_f64(),
            frozen_units,
            cache,
        };
        self.step_total += p.step_seconds;
        self.epochs.push(stats.clone());
        (self.epoch, self.batch) = (self.epoch + 1, 0);
        stats
    }

    /// The checkpoint manifest of this position (`log_bytes` is filled in when it is written).
    pub fn manifest(&self, driver: &FreezeOutDriver, checkpointing: Option<&Checkpointing>) -> Manifest {
        Manifest {
            format_version: checkpoint::FORMAT_VERSION,
            next_iteration: driver.iteration(),
            epoch: self.epoch,
            batch_in_epoch: self.batch,
            frozen_units: driver.frozen_units(),
            config_hash: checkpointing.map(Checkpointing::config_hash).unwrap_or_default(),
            crate_versions: checkpoint::crate_versions(),
            log_bytes: 0,
            epochs: self.epochs.clone(),
            partial: self.partial,
            step_total: self.step_total,
            wall_seconds: self.wall_seconds(),
            policy: driver.policy_state(),
        }
    }

    /// The run's summary: the final test error is the last finished epoch's (none unless
    /// `finished`).
    pub fn summary(&self, finished: bool, config: &TrainConfig, num_units: usize, total: u64) -> RunSummary {
        RunSummary {
            status: if finished { "finished" } else { "diverged" }.into(),
            config: config.clone(),
            num_units,
            total_iterations: total,
            test_error: if finished { self.epochs.last().and_then(|e| e.test_error) } else { None },
            step_seconds: self.step_total + self.partial.step_seconds,
            wall_seconds: self.wall_seconds(),
            epochs: self.epochs.clone(),
        }
    }

    /// The epoch whose draws the `reuse` cache replays: that of the first freeze (the first
    /// finished epoch that ended with a frozen unit, else the one in progress if a unit is
    /// frozen already), `None` before any freeze.
    pub fn first_frozen_epoch(&self, frozen_now: usize) -> Option<usize> {
        let finished = self.epochs.iter().find(|e| e.frozen_units > 0).map(|e| e.epoch);
        finished.or((frozen_now > 0).then_some(self.epoch))
    }

    fn wall_seconds(&self) -> f64 {
        self.wall_before + self.started.elapsed().as_secs_f64()
    }
}

/// Writes a checkpoint of `model` and the optimizer at `manifest`'s position, when the run
/// checkpoints; the log is flushed first so the manifest records its length.
pub(super) fn save_checkpoint<M: Module>(
    checkpointing: Option<&Checkpointing>,
    model: &M,
    stepper: &Stepper,
    log: &mut RunLog,
    manifest: Manifest,
) -> Result<(), TrainError> {
    if let Some(cp) = checkpointing {
        log.flush()?;
        let manifest = Manifest { log_bytes: log.bytes()?, ..manifest };
        checkpoint::save(cp, model, stepper.optimizer(), &manifest)?;
    }
    Ok(())
}

/// The driver's freeze of the current iteration, with what it decided in the log: an adaptive
/// policy's new signals and decisions, then the freeze itself.
pub(super) fn freeze_logged<M: FreezeOut>(
    driver: &mut FreezeOutDriver,
    model: M,
    units: &[UnitInfo],
    log: &mut RunLog,
) -> Result<M, TrainError> {
    let logged = |d: &FreezeOutDriver| {
        let (signals, decisions) = d.policy().adaptive().map_or((0, 0), |a| (a.signals().len(), a.decisions().len()));
        (d.events().len(), signals, decisions)
    };
    let (freezes, signals, decisions) = logged(driver);
    let model = driver.freeze(model);
    if let Some(a) = driver.policy().adaptive() {
        for s in &a.signals()[signals..] {
            log.event(&Event::Signal(s))?;
        }
        for d in &a.decisions()[decisions..] {
            log.event(&Event::Decision { decision: d, name: &units[d.unit].name })?;
        }
    }
    for e in &driver.events()[freezes..] {
        let units = e.units.iter().map(String::as_str).collect();
        log.event(&Event::Freeze { iter: e.iteration, frozen: e.to, units, lrs: e.lrs.clone() })?;
    }
    Ok(model)
}

/// The run's prefix cache (`None` when off), checked against the data; a resumed `reuse` run
/// replays the draws of the epoch of its first freeze, as before the interruption.
pub(super) fn cache(
    config: &TrainConfig,
    samples: Option<&dyn Samples>,
    state: &RunState,
    frozen_now: usize,
) -> Result<Option<PrefixCache>, TrainError> {
    if config.cache.is_off() {
        return Ok(None);
    }
    let mut cache = PrefixCache::new(config.cache)?;
    cache.check(samples)?;
    if let Some(epoch) = state.first_frozen_epoch(frozen_now) {
        cache.set_reuse_epoch(epoch);
    }
    Ok(Some(cache))
}

/// A drift policy's probe from the data source's probe batch (`None` for any other policy);
/// checked on the model before the first iteration, so that a run that cannot measure stops
/// before it trains.
pub(super) fn drift_probe<M, T, D>(
    task: &T,
    data: &D,
    model: &M,
    driver: &FreezeOutDriver,
    device: &Device,
) -> Result<Option<Box<dyn ProbeStep<M>>>, TrainError>
where
    M: FreezeOut,
    T: Task<M>,
    D: DataSource<T::Batch> + ?Sized,
{
    if !driver.policy().uses_drift() {
        return Ok(None);
    }
    let batch = data.probe().ok_or(DriftError::NoProbe)?;
    let mut probe = task.drift_probe(batch, device).ok_or(DriftError::Unsupported)?;
    probe.check(model)?;
    Ok(Some(probe))
}

/// Whether `loss` stops the run: non-finite, or above the config's `max_loss`.
pub(super) fn diverged(config: &TrainConfig, loss: f32) -> bool {
    !loss.is_finite() || config.max_loss.is_some_and(|bound| loss as f64 > bound)
}

/// The device RNG's seed at iteration `j`: a pure function of the run's seed and `j` (rand's
/// `seed_from_u64` expands it, so neighbouring iterations get unrelated streams).
pub(super) fn iteration_seed(seed: u64, j: u64) -> u64 {
    use rand::{RngCore, SeedableRng};
    rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ j.wrapping_mul(0x9E37_79B9_7F4A_7C15)).next_u64()
}
