//! FreezeOut under burn-train's `Learner` (feature `learner`): your `TrainStep` /
//! `InferenceStep`, metrics, renderer, checkpointers and resume stay as they are.
//!
//! [`FreezeOutModel`] wraps a `#[freezeout]` model that implements `TrainStep` and
//! `InferenceStep`; [`FreezeOutModel::lr_scheduler`] is the `ModuleLrScheduler` to hand to
//! `Learner::new`: the head's cosine as its base and one group per unit with that unit's
//! FreezeOut rate. Per optimizer step the wrapper lets your `optimize` run, then advances the
//! [`FreezeOutDriver`] they share and freezes the units whose budget is spent, before the next
//! forward pass, exactly where our loop (`Fit`) freezes them. The driver's position is the scheduler's
//! state, so it is written into burn-train's checkpoints and restored on resume.
//!
//! ```ignore
//! let model = FreezeOutModel::new(model, ScheduleConfig::default(), epochs * batches_per_epoch)?; // +
//! let learner = Learner::new(model.clone(), optim, model.lr_scheduler());   // was: (model, optim, lr)
//! let result = SupervisedTraining::new(dir, train, valid).num_epochs(epochs).launch(learner);
//! let model = result.model.into_inner();                                     // +
//! ```
//!
//! The built-in models implement `TrainStep` and `InferenceStep` here: the image models
//! (DenseNet-BC, WRN, VGG, ViT) on [`ImageBatch`]es, the byte-level GPT on [`TextBatch`]es.
//!
//! The frozen-prefix cache runs here too ([`FreezeOutModel::with_cache`], `exact` mode): once
//! units are frozen, each training sample's frozen prefix is computed once and kept, keyed on
//! the batch's sample ids, and the model's [`CachedTrainStep`] starts from the first unit that
//! trains; the run computes what it computes without the cache (`tests/tests/learner_cache.rs`).
//!
//! Any freezing [`Policy`] works the same way ([`FreezeOutModel::with_policy`]): the adaptive
//! one reads the gradients in `optimize`, the drift one measures its probe batch there after
//! the update ([`FreezeOutModel::with_drift_probe`]), and their state rides in the scheduler's
//! record too.
//!
//! An iteration is an optimizer step: with `grads_accumulation(k)`, count `batches / k` per
//! epoch; under a data-parallel strategy, `batches / devices` per epoch (per worker).
//!
//! Execution strategies: single device; `ExecutionStrategy::MultiDevice` (one optimizer, the
//! same hook, `optimize_multi` for `OptimSharded`); DDP, where burn-train clones the `Learner`
//! per device and forks each clone's model on the worker's thread: a fork is a position of its
//! own, the scheduler follows its thread's worker, every worker counts its own steps and takes
//! the same freezes at the same step, and workers that disagree stop the run
//! (`tests/tests/parallel.rs`; DDP itself needs CUDA in Burn 0.22.1). A frozen unit's
//! parameters have no gradient, so they leave DDP's all-reduce;
//! [`FreezeOutModel::with_step_trace`] records what each step exchanged.

use crate::cache::{CacheConfig, CacheError, CacheMode, CacheStats, PrefixCache};
use crate::data::CachedBatch;
use crate::drift::{DriftError, DriftProbe};
use crate::policy::{AdaptiveState, Policy};
use crate::{
    DriverState, FreezeEvent, FreezeOut, FreezeOutDriver, FreezeOutForward, GradientCensus, Schedule, ScheduleConfig,
    ScheduleError, gradient_census,
};
use burn::module::{Module, ParamGroup};
use burn::optim::lr_scheduler::module_lr_scheduler::{ModuleLearningRate, ModuleLrScheduler};
use burn::optim::lr_scheduler::{LrScheduler, LrSchedulerRecord};
use burn::optim::{GradientsParams, ModuleOptimizer, MultiGradientsParams};
use burn::tensor::Tensor;
use burn::tensor::kind::Autodiff;
use burn::train::{InferenceStep, TrainOutput, TrainStep};
use serde::Serialize;
use std::any::Any;

mod cache;
mod shared;
mod steps;

use cache::LearnerCache;
use shared::SharedDriver;
pub use steps::{CachedTrainStep, ImageBatch, TextBatch, classification_output};

/// A `#[freezeout]` model trained by burn-train's `Learner` with FreezeOut.
///
/// Clones share one position (the `Learner` clones its model every step); a fork
/// (`Module::fork`, what every burn-train strategy does once per worker) has its own, so
/// that each DDP worker counts its own optimizer steps. The parameters are the wrapped model's,
/// under the field `model` in records. Build it with [`new`](Self::new), hand
/// [`lr_scheduler`](Self::lr_scheduler) to `Learner::new`, and take the trained model back with
/// [`into_inner`](Self::into_inner).
#[derive(Module, Debug)]
pub struct FreezeOutModel<M: Module> {
    model: M,
    driver: SharedDriver,
    #[module(skip)]
    probe: Option<LearnerProbe>,
    #[module(skip)]
    cache: Option<LearnerCache>,
}

/// A drift policy's probe under the `Learner`, with its measurement of the wrapped model (made
/// where the model is known to run unit by unit, [`FreezeOutModel::with_drift_probe`]; the
/// model reaches it as `&dyn Any`, since Burn's derive refuses a skipped field that names the
/// model's type). Each clone is a probe of its own (a fork measures on its own device).
struct LearnerProbe(Box<dyn ErasedProbe>);

trait ErasedProbe: Send {
    fn observe(&mut self, model: &dyn Any, driver: &mut FreezeOutDriver) -> Result<(), DriftError>;
    fn boxed(&self) -> Box<dyn ErasedProbe>;
    fn len(&self) -> usize;
}

/// A probe of rank-`D` inputs of kind `K` and the measurement of the model it was made for.
#[derive(Clone)]
struct TypedProbe<const D: usize, K: Autodiff + Send + 'static> {
    probe: DriftProbe<D, K>,
    observe: fn(&dyn Any, &mut DriftProbe<D, K>, &mut FreezeOutDriver) -> Result<(), DriftError>,
}

impl<const D: usize, K: Autodiff + Send + 'static> ErasedProbe for TypedProbe<D, K> {
    fn observe(&mut self, model: &dyn Any, driver: &mut FreezeOutDriver) -> Result<(), DriftError> {
        (self.observe)(model, &mut self.probe, driver)
    }
    fn boxed(&self) -> Box<dyn ErasedProbe> {
        Box::new(self.clone())
    }
    fn len(&self) -> usize {
        self.probe.len()
    }
}

impl Clone for LearnerProbe {
    fn clone(&self) -> Self {
        Self(self.0.boxed())
    }
}

impl std::fmt::Debug for LearnerProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DriftProbe").field("examples", &self.0.len()).finish()
    }
}

impl<M: FreezeOut> FreezeOutModel<M> {
    /// FreezeOut with `config` over a run of `total_iterations` optimizer steps (epochs ×
    /// batches per epoch of the training loader).
    pub fn new(model: M, config: ScheduleConfig, total_iterations: u64) -> Result<Self, ScheduleError> {
        let schedule = Schedule::freezeout(config, model.num_units(), total_iterations)?;
        Self::with_schedule(model, schedule)
    }

    /// Follows `schedule` (a baseline schedule freezes nothing and gives every unit the global
    /// cosine: the same training without FreezeOut, for comparison).
    pub fn with_schedule(model: M, schedule: Schedule) -> Result<Self, ScheduleError> {
        Self::with_policy(model, schedule.into())
    }

    /// Follows `policy`: a schedule, or the [`Adaptive`](crate::Adaptive) policy, which reads
    /// the gradients in `optimize` (under DDP the all-reduced ones, the same on every worker;
    /// `optimize_multi`, i.e. `MultiDeviceOptim::OptimSharded`, refuses it).
    ///
    /// The model is brought to the policy's prefix of the first iteration here (a fine-tuning
    /// policy freezes units from the start).
    pub fn with_policy(model: M, policy: Policy) -> Result<Self, ScheduleError> {
        let mut driver = FreezeOutDriver::with_policy(&model, policy)?;
        let model = driver.freeze(model);
        Ok(Self { model, driver: SharedDriver::new(driver), probe: None, cache: None })
    }

    /// The drift policy's probe batch: `input`, the model's input for a batch held out from
    /// training (images: NCHW, normalised as the training batches are, not augmented; a
    /// language model: token ids), measured after every optimizer step the policy asks for. A
    /// drift policy needs it; other policies ignore it. An error for a hand-written forward,
    /// which cannot be split into units.
    pub fn with_drift_probe<const D: usize, const O: usize, K>(self, input: Tensor<D, K>) -> Result<Self, DriftError>
    where
        M: FreezeOutForward<D, O, K> + 'static,
        K: Autodiff + Send + 'static,
    {
        fn observe<M, const D: usize, const O: usize, K>(
            model: &dyn Any,
            probe: &mut DriftProbe<D, K>,
            driver: &mut FreezeOutDriver,
        ) -> Result<(), DriftError>
        where
            M: FreezeOutForward<D, O, K> + 'static,
            K: Autodiff + Send + 'static,
        {
            let model = model.downcast_ref::<M>().expect("the probe measures the model it was made for");
            driver.observe_drift(model, probe)
        }
        let mut probe = DriftProbe::new(input);
        probe.check(&self.model)?;
        let probe = TypedProbe { probe, observe: observe::<M, D, O, K> };
        Ok(Self { probe: Some(LearnerProbe(Box::new(probe))), ..self })
    }

    /// The same model, its training steps run through the frozen-prefix cache: once units are
    /// frozen, each training sample's frozen prefix is computed once (keyed on the batch's
    /// sample ids, [`CachedBatch::ids`]), advanced as more units freeze, and the step starts
    /// from the first unit that trains ([`CachedTrainStep::step_from`]). Only the `exact` mode:
    /// it is for training batches whose inputs repeat exactly (a sample id always gives the
    /// same input: no random augmentation), which you promise by asking for it; the run then
    /// computes what it computes without the cache. Validation steps run as they do without it.
    /// The cache lives in host memory within `config`'s budget, is not in checkpoints, and is
    /// rebuilt after a resume; data-parallel workers share it (one at a time).
    ///
    /// ```ignore
    /// let model = FreezeOutModel::new(model, ScheduleConfig::default(), total)?
    ///     .with_cache(CacheConfig::new(CacheMode::Exact))?;
    /// ```
    ///
    /// An error for `reuse` and `shift` (they rebuild a sample by id with its augmentation,
    /// which a `Learner`'s data loader cannot) or an unusable budget. A step the cache cannot
    /// run (a batch without sample ids, a hand-written forward) panics with the reason: the
    /// `Learner` has no error path from a step.
    pub fn with_cache<const I: usize, const O: usize, K>(self, config: CacheConfig) -> Result<Self, CacheError>
    where
        M: CachedTrainStep + FreezeOutForward<I, O, K> + 'static,
        M::Input: CachedBatch,
        K: Autodiff + Send + 'static,
    {
        match config.mode {
            CacheMode::Exact => {}
            CacheMode::Off => return Ok(Self { cache: None, ..self }),
            mode => return Err(CacheError::LearnerMode(mode)),
        }
        let cache = LearnerCache::new::<M, I, O, K>(PrefixCache::new(config)?);
        Ok(Self { cache: Some(cache), ..self })
    }

    /// The learning-rate scheduler for `Learner::new`: the head's rate as the base (it is what
    /// burn-train's `LearningRateMetric` shows), and one group per unit, matched by parameter
    /// path so that it survives a checkpoint's parameter ids, with the unit's FreezeOut rate
    /// (0 once frozen). Its record holds the driver's position.
    ///
    /// # Panics
    /// With a drift policy and no [`with_drift_probe`](Self::with_drift_probe).
    pub fn lr_scheduler(&self) -> ModuleLrScheduler {
        if self.probe.is_none() && self.driver.lock().policy().uses_drift() {
            panic!("FreezeOut: {} (FreezeOutModel::with_drift_probe)", DriftError::NoProbe);
        }
        self.driver.start_run();
        let mut scheduler = ModuleLrScheduler::new(Rate { driver: self.driver.clone(), unit: None });
        for unit in self.model.units() {
            let rate = Rate { driver: self.driver.clone(), unit: Some(unit.index) };
            scheduler = scheduler.with_group(ParamGroup::from_paths(unit.param_paths), rate);
        }
        scheduler
    }
}

impl<M: Module> FreezeOutModel<M> {
    fn from_parts(model: M, driver: SharedDriver) -> Self {
        Self { model, driver, probe: None, cache: None }
    }

    /// The wrapped model.
    pub fn inner(&self) -> &M {
        &self.model
    }

    /// The wrapped model, as trained (its frozen units frozen).
    pub fn into_inner(self) -> M {
        self.model
    }

    /// The driver's position: the next optimizer step and the frozen prefix.
    pub fn state(&self) -> DriverState {
        self.driver.lock().state()
    }

    /// The policy (with an adaptive policy's decisions so far).
    pub fn policy(&self) -> Policy {
        self.driver.lock().policy().clone()
    }

    /// Every freeze so far (since the start, or since the resume), in order.
    pub fn events(&self) -> Vec<FreezeEvent> {
        self.driver.lock().events().to_vec()
    }

    /// The same model, every optimizer step of each worker traced from now on: its duration
    /// (device synchronised) and the gradients it held, i.e. what a data-parallel strategy
    /// all-reduced. Read them with [`trace`](Self::trace) on the trained model.
    pub fn with_step_trace(self) -> Self {
        Self { driver: self.driver.traced(), ..self }
    }

    /// What the prefix cache did since the last call (its entries, bytes, lookups and hits);
    /// `None` without [`with_cache`](Self::with_cache).
    pub fn take_cache_stats(&self) -> Option<CacheStats> {
        self.cache.as_ref().map(LearnerCache::take_stats)
    }

    /// This worker's traced steps, in order (empty unless [`with_step_trace`](Self::with_step_trace)).
    pub fn trace(&self) -> Vec<StepTrace> {
        self.driver.trace()
    }
}

/// One traced optimizer step of one worker.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepTrace {
    /// The iteration.
    pub iteration: u64,
    /// Units frozen during it.
    pub frozen_units: usize,
    /// The gradients it held (`None` under `optimize_multi`, whose gradients are per device).
    pub gradients: Option<GradientCensus>,
    /// Seconds since the end of the worker's previous step (`None` for its first).
    pub seconds: Option<f64>,
}

impl<M: FreezeOut + TrainStep + 'static> TrainStep for FreezeOutModel<M> {
    type Input = M::Input;
    type Output = M::Output;

    fn step(&self, item: Self::Input) -> TrainOutput<Self::Output> {
        let driver = self.driver.lock();
        let restored;
        let model = if driver.is_behind(&self.model) {
            // Parameters just loaded from a checkpoint: this step already runs with the
            // restored prefix (the next optimizer step brings the model itself there).
            restored = driver.bring(self.model.clone());
            &restored
        } else {
            &self.model
        };
        drop(driver);
        match &self.cache {
            Some(cache) => cache.step(model, item),
            None => model.step(item),
        }
    }

    fn optimize(self, optim: &mut ModuleOptimizer, lr: ModuleLearningRate, grads: GradientsParams) -> Self {
        self.driver.lock().observe_gradients(&self.model, &grads);
        let census = self.driver.is_traced().then(|| gradient_census(&self.model, &grads));
        let (model, mut probe, cache) = (self.model.optimize(optim, lr, grads), self.probe, self.cache);
        if let Some(p) = probe.as_mut() {
            // The drift policy's measurement of the updated model, before the driver advances.
            p.0.observe(&model as &dyn Any, &mut self.driver.lock()).unwrap_or_else(|e| panic!("FreezeOut: {e}"));
        }
        FreezeOutModel { probe, cache, ..self.driver.advance(model, census) }
    }

    fn optimize_multi(self, optim: &mut ModuleOptimizer, lr: ModuleLearningRate, grads: MultiGradientsParams) -> Self {
        if self.driver.lock().policy().adaptive().is_some() {
            panic!(
                "FreezeOut: the adaptive policy reads the gradients in `optimize`, and \
                 `MultiDeviceOptim::OptimSharded` steps through `optimize_multi`, where they are split by device: \
                 train it with `MultiDeviceOptim::OptimMainDevice` (or DDP), or use a schedule"
            );
        }
        let (probe, cache) = (self.probe, self.cache);
        FreezeOutModel { probe, cache, ..self.driver.advance(self.model.optimize_multi(optim, lr, grads), None) }
    }
}

impl<M: Module + InferenceStep> InferenceStep for FreezeOutModel<M> {
    type Input = M::Input;
    type Output = M::Output;

    fn step(&self, item: Self::Input) -> Self::Output {
        self.model.step(item)
    }
}

/// One group's rate at the driver's iteration: unit `i`'s, or the head's (`None`), whose record
/// carries the driver's position.
#[derive(Clone)]
struct Rate {
    driver: SharedDriver,
    unit: Option<usize>,
}

const ITERATION: &str = "freezeout_iteration";
const FROZEN: &str = "freezeout_frozen_units";

impl LrScheduler for Rate {
    fn step(&mut self) -> f64 {
        let driver = self.driver.resolve();
        let driver = driver.lock();
        driver.lr(self.unit.unwrap_or(driver.num_units()))
    }

    fn to_record(&self) -> LrSchedulerRecord {
        if self.unit.is_some() {
            return LrSchedulerRecord::new();
        }
        let driver = self.driver.resolve();
        let driver = driver.lock();
        let state = driver.state();
        let record = LrSchedulerRecord::new()
            .with_scalar(ITERATION, state.iteration)
            .with_scalar(FROZEN, state.frozen_units as u64);
        match driver.policy_state() {
            Some(adaptive) => state_to_record(record, &adaptive),
            None => record,
        }
    }

    fn load_record(&mut self, record: LrSchedulerRecord) {
        if self.unit.is_some() {
            return;
        }
        let (Some(iteration), Some(frozen)) = (record.scalar::<u64>(ITERATION), record.scalar::<u64>(FROZEN)) else {
            panic!(
                "this learning-rate scheduler checkpoint holds no FreezeOut position ({ITERATION}, {FROZEN}): \
                 it was not written by FreezeOutModel::lr_scheduler; resume from a checkpoint of the FreezeOut run"
            );
        };
        let driver = self.driver.resolve();
        let mut driver = driver.lock();
        let policy = driver.policy();
        let expected = policy.frozen_prefix(iteration);
        if policy.unfreezes() && frozen as usize != expected {
            // A fine-tuning policy's prefix is a function of the step: a position that is not
            // the policy's was written by another run, and this worker would train other units
            // than its peers until its next step.
            panic!(
                "this learning-rate scheduler checkpoint holds iteration {iteration} with {frozen} units frozen, and \
                 the {} policy freezes {expected} there: it was written by a run with another policy; resume with \
                 the run's own policy and checkpoint",
                policy.kind()
            );
        }
        driver.restore_state(DriverState { iteration, frozen_units: frozen as usize });
        if let Some(a) = driver.policy().adaptive() {
            let state = state_from_record(&record).unwrap_or_else(|why| {
                panic!(
                    "this learning-rate scheduler checkpoint holds no adaptive-policy state ({why}): it was written \
                     by a run with another policy (or by an earlier version of this library, whose records held it otherwise); resume with the run's own policy"
                )
            });
            if state.units.len() != a.num_units() {
                panic!(
                    "this learning-rate scheduler checkpoint holds an adaptive-policy state of {} units, the model \
                     has {}: resume the run with its own model",
                    state.units.len(),
                    a.num_units()
                );
            }
            driver.restore_policy_state(state);
        }
    }
}

/// The record's keys of the policy state: `freezeout_policy_state.len` (bytes) and
/// `freezeout_policy_state.<k>` (the `k`-th 8 bytes, little-endian).
const POLICY_STATE: &str = "freezeout_policy_state";

/// An adaptive policy's state in the scheduler's record: its JSON, the one codec a checkpoint of
/// our loop uses too ([`AdaptiveState`]'s serde form), in the record's only value type, 8 bytes
/// to a scalar.
fn state_to_record(record: LrSchedulerRecord, state: &AdaptiveState) -> LrSchedulerRecord {
    bytes_to_record(record, &serde_json::to_vec(state).expect("the policy state is plain data"))
}

/// `bytes` under the [`POLICY_STATE`] keys.
fn bytes_to_record(mut record: LrSchedulerRecord, bytes: &[u8]) -> LrSchedulerRecord {
    record = record.with_scalar(&format!("{POLICY_STATE}.len"), bytes.len() as u64);
    for (k, chunk) in bytes.chunks(8).enumerate() {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        record = record.with_scalar(&format!("{POLICY_STATE}.{k}"), u64::from_le_bytes(word));
    }
    record
}

/// The state [`state_to_record`] stored, or why there is none (no state, a gap, or JSON that is
/// not a state: serde's message names the missing or bad field).
fn state_from_record(record: &LrSchedulerRecord) -> Result<AdaptiveState, String> {
    let len = record.scalar::<u64>(&format!("{POLICY_STATE}.len")).ok_or(format!("no {POLICY_STATE}.len"))? as usize;
    let mut bytes = Vec::with_capacity(len + 8);
    for k in 0..len.div_ceil(8) {
        let word = record.scalar::<u64>(&format!("{POLICY_STATE}.{k}")).ok_or(format!("no {POLICY_STATE}.{k}"))?;
        bytes.extend_from_slice(&word.to_le_bytes());
    }
    bytes.truncate(len);
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Sketch, UnitSignal};

    fn state() -> AdaptiveState {
        let unit = |i: u64| UnitSignal {
            sum: 0.1 + i as f64 / 3.0,
            samples: i,
            previous: Some(1e-300),
            ramp_start: (i == 1).then_some(40),
            rates: 0.3,
            below: 2,
            sketch: Some(Sketch { iteration: 25, values: vec![f32::MIN_POSITIVE, -0.0, 1.0 / 3.0, f32::MAX] }),
        };
        AdaptiveState { window: 7, units: vec![unit(0), unit(1), UnitSignal::default()] }
    }

    /// The record holds the state the checkpoint's codec writes, and gives back every field to
    /// the bit (the sums and the sketch's floats included).
    #[test]
    fn the_record_gives_back_the_state_its_codec_wrote() {
        let record = state_to_record(LrSchedulerRecord::new().with_scalar("other", 1u64), &state());
        assert_eq!(state_from_record(&record), Ok(state()));
        let json = serde_json::to_vec(&state()).unwrap();
        assert_eq!(record.scalar::<u64>(&format!("{POLICY_STATE}.len")), Some(json.len() as u64));
    }

    /// A record without the state, with a gap, or whose state lacks a field is an error naming
    /// what is missing.
    #[test]
    fn a_record_missing_a_part_of_the_state_names_it() {
        let e = state_from_record(&LrSchedulerRecord::new()).unwrap_err();
        assert!(e.contains("freezeout_policy_state.len"), "{e}");
        let record = state_to_record(LrSchedulerRecord::new(), &state());
        let mut gap = LrSchedulerRecord::new();
        for key in ["len", "0", "2"] {
            let key = format!("{POLICY_STATE}.{key}");
            gap = gap.with_scalar(&key, record.scalar::<u64>(&key).unwrap());
        }
        let e = state_from_record(&gap).unwrap_err();
        assert!(e.contains("freezeout_policy_state.1"), "{e}");
        let without_sum = r#"{"window":1,"units":[{"samples":2,"previous":null,"ramp_start":null}]}"#;
        let e = state_from_record(&bytes_to_record(LrSchedulerRecord::new(), without_sum.as_bytes())).unwrap_err();
        assert!(e.contains("missing field `sum`"), "{e}");
    }
}
