//! Where a run is (epoch, batch, sums so far), its checkpoint manifest and summary, and
//! writing a checkpoint of it.

use super::checkpoint::{self, Checkpointing, Manifest, PartialEpoch};
use super::{EpochStats, RunLog, RunSummary, StepResult, Stepper, TrainConfig, TrainError};
use crate::FreezeOutDriver;
use crate::cache::CacheStats;
use burn::module::Module;
use std::time::Instant;

/// Where a run is (the epoch and the batches of it done) and what it has summed so far.
pub(super) struct RunState {
    /// The epoch in progress (or next).
    pub(super) epoch: usize,
    /// Batches of `epoch` done.
    pub(super) batch: usize,
    epochs: Vec<EpochStats>,
    partial: PartialEpoch,
    step_total: f64,
    wall_before: f64,
    started: Instant,
}

impl RunState {
    pub(super) fn fresh(epochs: usize) -> Self {
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

    pub(super) fn from_manifest(m: &Manifest) -> Self {
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
    pub(super) fn record(&mut self, step: &StepResult, n: usize) {
        self.partial.loss_sum += step.loss as f64 * n as f64;
        self.partial.errors += step.metric;
        self.partial.seen += n;
        self.partial.step_seconds += step.seconds;
        self.batch += 1;
    }

    /// Closes the epoch in progress (`test_error` from the evaluation, `frozen_units` at its
    /// end, what the cache did) and moves to the next.
    pub(super) fn finish_epoch(
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
    pub(super) fn manifest(&self, driver: &FreezeOutDriver, checkpointing: Option<&Checkpointing>) -> Manifest {
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
    pub(super) fn summary(&self, finished: bool, config: &TrainConfig, num_units: usize, total: u64) -> RunSummary {
        RunSummary {
            status: if finished { "finished" } else { "diverged" }.into(),
            config: config.clone(),
            num_units,
            total_iterations: total,
            test_error: if finished { self.epochs.last().and_then(|e| e.test_error) } else { None },
            step_seconds: self.step_total + self.partial.step_seconds,
            wall_seconds: self.wall_seconds(),
            epochs: self.epochs.clone(),
            cpu: Some(super::CpuInfo::current()),
        }
    }

    /// The epoch whose draws the `reuse` cache replays: that of the first freeze (the first
    /// finished epoch that ended with a frozen unit, else the one in progress if a unit is
    /// frozen already), `None` before any freeze.
    pub(super) fn first_frozen_epoch(&self, frozen_now: usize) -> Option<usize> {
        let finished = self.epochs.iter().find(|e| e.frozen_units > 0).map(|e| e.epoch);
        finished.or((frozen_now > 0).then_some(self.epoch))
    }

    fn wall_seconds(&self) -> f64 {
        self.wall_before + self.started.elapsed().as_secs_f64()
    }
}

impl RunState {
    /// Writes a checkpoint of `model` and the optimizer at this position, when the run
    /// checkpoints; the log is flushed first so the manifest records its length.
    pub(super) fn save_checkpoint<M: Module>(
        &self,
        checkpointing: Option<&Checkpointing>,
        (model, stepper, driver): (&M, &Stepper, &FreezeOutDriver),
        log: &mut RunLog,
    ) -> Result<(), TrainError> {
        if let Some(cp) = checkpointing {
            log.flush()?;
            let manifest = Manifest { log_bytes: log.bytes()?, ..self.manifest(driver, checkpointing) };
            checkpoint::save(cp, model, stepper.optimizer(), &manifest)?;
        }
        Ok(())
    }
}
