//! Starting a run: fresh, or from a checkpoint; and what the loop builds beside the model
//! (the prefix cache, a drift policy's probe).

use super::checkpoint::Manifest;
use super::checkpoint::{self, CheckpointError};
use super::event::Event;
use super::position::RunState;
use super::{RunLog, Stepper, TrainConfig, TrainError};
use crate::cache::PrefixCache;
use crate::data::{DataSource, Samples};
use crate::drift::DriftError;
use crate::task::{ProbeStep, Task};
use crate::{DriverState, FreezeOut, FreezeOutDriver, UnitInfo};
use burn::tensor::Device;
use std::path::PathBuf;

/// A run ready for its first iteration (or the checkpoint's next one).
pub(super) struct Started<M> {
    pub(super) model: M,
    pub(super) units: Vec<UnitInfo>,
    pub(super) driver: FreezeOutDriver,
    pub(super) stepper: Stepper,
    pub(super) state: RunState,
}

/// Builds the driver and the optimizer for `model`, or restores both (and the model) from the
/// checkpoint in `options.resume`; logs the start or the resume.
pub(super) fn start<M: FreezeOut>(
    model: M,
    per_epoch: usize,
    config: &TrainConfig,
    device: &Device,
    log: &mut RunLog,
    resume: Option<&(PathBuf, Manifest)>,
) -> Result<Started<M>, TrainError> {
    let mut stepper = Stepper::new(config, device);
    // A resumed run loads the checkpoint first: loading restores the parameter ids that the
    // optimizer state and the per-unit LR groups are keyed by.
    let model = match resume {
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
    let (model, state) = match resume {
        None => {
            let units = units.iter().map(|u| (u.index, u.name.as_str(), u.num_params)).collect();
            log.event(&Event::Start { config, units, schedule: driver.policy().schedule() })?;
            (model, RunState::fresh(config.epochs))
        }
        Some((path, m)) => {
            let model =
                driver.restore(model, DriverState { iteration: m.next_iteration, frozen_units: m.frozen_units });
            match (&m.policy, driver.policy().adaptive()) {
                (Some(state), Some(_)) => driver.restore_policy_state(state.clone()),
                (None, Some(_)) => return Err(CheckpointError::NoPolicyState(path.clone()).into()),
                _ => {}
            }
            log.event(&Event::Resume { iter: m.next_iteration, checkpoint: path })?;
            (model, RunState::from_manifest(m))
        }
    };
    Ok(Started { model, units, driver, stepper, state })
}

/// The run's prefix cache (`None` when off), checked against the data; a resumed `reuse` run
/// replays the draws of the epoch of its first freeze, as before the interruption.
pub(super) fn cache<B>(
    config: &TrainConfig,
    samples: Option<&dyn Samples<B>>,
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
