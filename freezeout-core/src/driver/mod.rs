//! The loop-agnostic FreezeOut driver: everything FreezeOut does per iteration, for any
//! training loop (ours, yours, burn-train's).
//!
//! At iteration `j` the driver freezes the units its [`Policy`] says are done
//! ([`FreezeOutDriver::freeze`], recording a [`FreezeEvent`]) and gives the per-unit learning
//! rates of `j` ([`FreezeOutDriver::learning_rates`], a [`ModuleLearningRate`] any Burn optimizer
//! takes); [`FreezeOutDriver::advance`] moves it to `j + 1`. Its position ([`DriverState`], plus
//! an adaptive policy's [`AdaptiveState`]) is saved with a checkpoint and restored with
//! [`FreezeOutDriver::restore`]. Under a fine-tuning policy the prefix shrinks: the same
//! `freeze` trains the units that leave it again. Our loop (`Fit`) runs through it: this module is the one place where
//! the per-iteration freezing logic lives.
//!
//! A hand-written Burn loop gains FreezeOut with four lines (`examples/own_loop.rs`):
//!
//! ```ignore
//! let mut freezeout = FreezeOutDriver::new(&model, ScheduleConfig::default(), epochs * batches)?;
//! for batch in batches {
//!     model = freezeout.freeze(model);                                     // 1
//!     let loss = loss_of(model.forward(batch.inputs), batch.targets);
//!     let grads = GradientsParams::from_grads(loss.backward(), &model);
//!     freezeout.observe_gradients(&model, &grads);                         // (gradient-norm policy only)
//!     model = optim.step(freezeout.learning_rates(), model, grads);        // 2 (was: lr)
//!     freezeout.observe_drift(&model, &mut probe);                         // (drift policy only)
//!     freezeout.advance();                                                 // 3
//! }
//! ```

use crate::drift::{DriftError, DriftProbe};
use crate::policy::{AdaptiveState, Policy};
use crate::schedule::{Schedule, ScheduleConfig, ScheduleError};
use crate::{FreezeOut, FreezeOutForward, head_param_ids};
use burn::module::{ModuleVisitor, Param, ParamGroup, ParamId};
use burn::optim::GradientsParams;
use burn::optim::lr_scheduler::module_lr_scheduler::{ModuleLearningRate, ModuleLrScheduler};
use burn::tensor::Tensor;
use burn::tensor::kind::Autodiff;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Where a driver is: what a checkpoint saves of it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriverState {
    /// The iteration to run next (0-based).
    pub iteration: u64,
    /// Length of the frozen prefix.
    pub frozen_units: usize,
}

/// Units frozen at one iteration, or (under a fine-tuning policy, `to < from`) trained again.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FreezeEvent {
    /// The iteration before which they froze (or unfroze).
    pub iteration: u64,
    /// Frozen units before.
    pub from: usize,
    /// Frozen units after.
    pub to: usize,
    /// Names of the units that froze (`from..to`) or unfroze (`to..from`).
    pub units: Vec<String>,
    /// Every unit's rate (0 when frozen) and the head's, last, at that iteration.
    pub lrs: Vec<f64>,
}

/// FreezeOut for one run of a model: the policy, the units' parameter groups, the position.
#[derive(Clone)]
pub struct FreezeOutDriver {
    policy: Policy,
    names: Vec<String>,
    groups: Vec<ParamGroup>,
    head: ParamGroup,
    state: DriverState,
    events: Vec<FreezeEvent>,
}

/// The policy's kind, the units, the position and the number of freezes (not every parameter
/// id of every group, nor every event).
impl std::fmt::Debug for FreezeOutDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FreezeOutDriver")
            .field("policy", &self.policy.kind())
            .field("units", &self.names.len())
            .field("iteration", &self.state.iteration)
            .field("frozen_units", &self.state.frozen_units)
            .field("freezes", &self.events.len())
            .finish()
    }
}

impl FreezeEvent {
    /// Whether units were trained again (the prefix shrank).
    pub fn is_unfreeze(&self) -> bool {
        self.to < self.from
    }
}

impl FreezeOutDriver {
    /// The FreezeOut schedule of `config` for `model`'s units over a run of `total_iterations`
    /// (epochs × batches per epoch of your data loader).
    pub fn new<M: FreezeOut>(model: &M, config: ScheduleConfig, total_iterations: u64) -> Result<Self, ScheduleError> {
        Self::with_schedule(model, Schedule::freezeout(config, model.num_units(), total_iterations)?)
    }

    /// A driver following `schedule` (a baseline schedule freezes nothing and gives every unit
    /// the global cosine). The model's parameter ids are read here: build the driver after
    /// loading a checkpoint into the model. Units already frozen in `model` count as frozen.
    pub fn with_schedule<M: FreezeOut>(model: &M, schedule: Schedule) -> Result<Self, ScheduleError> {
        Self::with_policy(model, schedule.into())
    }

    /// A driver following `policy` (a schedule, or an [`Adaptive`](crate::Adaptive) policy,
    /// which needs [`observe_gradients`](Self::observe_gradients) every iteration).
    pub fn with_policy<M: FreezeOut>(model: &M, policy: Policy) -> Result<Self, ScheduleError> {
        let units = model.units();
        if units.len() != policy.num_units() {
            return Err(ScheduleError::UnitMismatch { schedule: policy.num_units(), model: units.len() });
        }
        Ok(Self {
            policy,
            names: units.iter().map(|u| u.name.clone()).collect(),
            groups: units.into_iter().map(|u| ParamGroup::from_ids(u.param_ids)).collect(),
            head: ParamGroup::from_ids(head_param_ids(model)),
            state: DriverState { iteration: 0, frozen_units: model.frozen_units() },
            events: Vec::new(),
        })
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Number of units `N`.
    pub fn num_units(&self) -> usize {
        self.policy.num_units()
    }

    /// The iteration to run next.
    pub fn iteration(&self) -> u64 {
        self.state.iteration
    }

    /// Length of the frozen prefix.
    pub fn frozen_units(&self) -> usize {
        self.state.frozen_units
    }

    /// Freezes the units the policy says are done at the current iteration (the head never
    /// freezes) and returns the model; a freeze is recorded in [`events`](Self::events). Under a
    /// schedule or an adaptive policy the prefix only grows (units already frozen in the model
    /// stay frozen); under a fine-tuning policy ([`Policy::unfreezes`]) it is the policy's
    /// exactly, and units leaving it train again ([`FreezeOut::set_frozen_units`]), recorded as
    /// an event with `to < from`. A model behind the driver (one whose parameters were just
    /// loaded from a checkpoint after [`restore_state`](Self::restore_state)) is brought to the
    /// driver's prefix too.
    pub fn freeze<M: FreezeOut>(&mut self, model: M) -> M {
        let j = self.state.iteration;
        self.policy.begin(j);
        let from = self.state.frozen_units;
        let k = match self.policy.unfreezes() {
            true => self.policy.frozen_prefix(j),
            false => self.policy.frozen_prefix(j).max(from),
        };
        if k != from {
            self.events.push(FreezeEvent {
                iteration: j,
                from,
                to: k,
                units: self.names[from.min(k)..from.max(k)].to_vec(),
                lrs: (0..=self.policy.num_units()).map(|i| self.policy.lr(i, j)).collect(),
            });
            self.state.frozen_units = k;
        }
        self.bring(model)
    }

    /// Whether `model`'s frozen prefix is not the driver's: shorter, or (under a fine-tuning
    /// policy) longer.
    pub(crate) fn is_behind<M: FreezeOut>(&self, model: &M) -> bool {
        let (k, frozen) = (self.state.frozen_units, model.frozen_units());
        frozen < k || (self.policy.unfreezes() && frozen != k)
    }

    /// `model` frozen to the driver's prefix: exactly under a fine-tuning policy, at least
    /// otherwise.
    pub(crate) fn bring<M: FreezeOut>(&self, model: M) -> M {
        let k = self.state.frozen_units;
        match self.is_behind(&model) {
            false => model,
            true if self.policy.unfreezes() => model.set_frozen_units(k),
            true => model.freeze_units(k),
        }
    }

    /// The learning rates of the current iteration: one group per active unit, the head's rate
    /// for the head and for any parameter outside the units. Frozen units get no gradient,
    /// hence no update (no weight decay, no momentum): they need no rate.
    pub fn learning_rates(&self) -> ModuleLearningRate {
        let j = self.state.iteration;
        let head = self.policy.lr(self.policy.num_units(), j);
        let mut lrs = ModuleLrScheduler::new(head);
        for (i, group) in self.groups.iter().enumerate().skip(self.state.frozen_units) {
            lrs = lrs.with_group(group.clone(), self.policy.lr(i, j));
        }
        lrs.with_group(self.head.clone(), head).step()
    }

    /// The rate of unit `i` (`i = N`: the head) at the current iteration.
    pub fn lr(&self, i: usize) -> f64 {
        self.policy.lr(i, self.state.iteration)
    }

    /// Hands the current iteration's gradients to the policy, between backward and the
    /// optimizer step. Only an adaptive policy reads them, and only every `sample_every`
    /// iterations (one squared norm per parameter tensor, one device read); otherwise this
    /// does nothing.
    pub fn observe_gradients<M: FreezeOut>(&mut self, model: &M, grads: &GradientsParams) {
        let j = self.state.iteration;
        if self.policy.wants_gradient_norms(j) {
            let norms = unit_gradient_norms(model, grads);
            self.policy.observe_gradient_norms(j, &norms);
        }
    }

    /// Hands the policy the sketches of the model's unit outputs on `probe`, after the
    /// current iteration's update and before [`advance`](Self::advance). Only a drift policy
    /// reads them, every `sample_every` iterations (one inference forward of the probe, one
    /// device read of `k` values per watched unit); otherwise this does nothing.
    /// An error if the model's forward is hand-written (`#[freezeout(manual)]`): it cannot be
    /// split into units.
    pub fn observe_drift<M, const D: usize, const O: usize, K>(
        &mut self,
        model: &M,
        probe: &mut DriftProbe<D, K>,
    ) -> Result<(), DriftError>
    where
        M: FreezeOutForward<D, O, K>,
        K: Autodiff + Send + 'static,
    {
        let j = self.state.iteration;
        if let Some(units) = self.policy.wants_sketches(j) {
            let sketches = probe.sketches(model, units).ok_or(DriftError::ManualForward)?;
            self.policy.observe_sketches(j, &sketches);
        }
        Ok(())
    }

    /// Moves to the next iteration.
    pub fn advance(&mut self) {
        self.state.iteration += 1;
    }

    /// Every freeze since the driver was built (or restored), in order.
    pub fn events(&self) -> &[FreezeEvent] {
        &self.events
    }

    /// The position, for a checkpoint.
    pub fn state(&self) -> DriverState {
        self.state
    }

    /// What an adaptive policy must save besides the position (`None` for a schedule).
    pub fn policy_state(&self) -> Option<AdaptiveState> {
        self.policy.state()
    }

    /// Restores what [`policy_state`](Self::policy_state) saved.
    pub fn restore_policy_state(&mut self, state: AdaptiveState) {
        self.policy.restore(state);
    }

    /// Continues from a checkpoint's `state`: `model` is frozen to its prefix and returned.
    pub fn restore<M: FreezeOut>(&mut self, model: M, state: DriverState) -> M {
        self.restore_state(state);
        self.bring(model)
    }

    /// Continues from a checkpoint's `state` without a model at hand: the next
    /// [`freeze`](Self::freeze) brings the model to the restored prefix. The events recorded so
    /// far (a fine-tuning policy's freeze of the first iteration, taken when the model was
    /// wrapped) are not the restored run's: they are dropped.
    pub fn restore_state(&mut self, state: DriverState) {
        self.state = state;
        self.events.clear();
    }
}

/// The gradients a step holds: what a data-parallel strategy exchanges (burn-train's DDP
/// all-reduces every gradient of a sharded parameter, one tensor at a time).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GradientCensus {
    /// Parameter tensors with a gradient.
    pub tensors: usize,
    /// Their bytes.
    pub bytes: u64,
}

/// Counts the gradients in `grads` of `model`'s parameters (a frozen unit's have none).
///
/// ```
/// use burn::module::Module;
/// use burn::nn::LinearConfig;
/// use burn::optim::GradientsParams;
/// use burn::tensor::{Device, Tensor};
/// use burn_freezeout::gradient_census;
///
/// let device = Device::flex().autodiff();
/// let layer = LinearConfig::new(4, 2).init(&device);
/// let loss = layer.forward(Tensor::<2>::ones([3, 4], &device)).sum();
/// let grads = GradientsParams::from_grads(loss.backward(), &layer);
/// let census = gradient_census(&layer, &grads);
/// assert_eq!((census.tensors, census.bytes), (2, 4 * (4 * 2 + 2))); // weight and bias, f32
///
/// let frozen = layer.clone().freeze();
/// let loss = frozen.forward(Tensor::<2>::ones([3, 4], &device).require_grad()).sum();
/// let grads = GradientsParams::from_grads(loss.backward(), &frozen);
/// assert_eq!(gradient_census(&frozen, &grads).tensors, 0); // nothing to all-reduce
/// ```
pub fn gradient_census<M: burn::module::Module>(model: &M, grads: &GradientsParams) -> GradientCensus {
    struct Census<'a> {
        grads: &'a GradientsParams,
        census: GradientCensus,
    }
    impl ModuleVisitor for Census<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.get::<D>(param.id) {
                self.census.tensors += 1;
                self.census.bytes += (g.shape().num_elements() * g.dtype().size()) as u64;
            }
        }
    }
    let mut census = Census { grads, census: GradientCensus::default() };
    model.visit(&mut census);
    census.census
}

/// Each unit's gradient norm (L2 over its parameters' gradients; 0 for a unit without any,
/// i.e. a frozen one), read from the device once.
fn unit_gradient_norms<M: FreezeOut>(model: &M, grads: &GradientsParams) -> Vec<f64> {
    struct SquaredNorms<'a> {
        unit_of: HashMap<ParamId, usize>,
        grads: &'a GradientsParams,
        sums: Vec<Option<Tensor<1>>>,
    }
    impl ModuleVisitor for SquaredNorms<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let (Some(&i), Some(g)) = (self.unit_of.get(&param.id), self.grads.get::<D>(param.id)) else {
                return;
            };
            let s = g.square().sum();
            self.sums[i] = Some(match self.sums[i].take() {
                Some(sum) => sum + s,
                None => s,
            });
        }
    }
    let units = model.units();
    let unit_of = units.iter().flat_map(|u| u.param_ids.iter().map(move |&id| (id, u.index))).collect();
    let mut visitor = SquaredNorms { unit_of, grads, sums: vec![None; units.len()] };
    model.visit(&mut visitor);
    let present: Vec<usize> = (0..units.len()).filter(|&i| visitor.sums[i].is_some()).collect();
    let mut norms = vec![0.0; units.len()];
    if present.is_empty() {
        return norms;
    }
    let stacked = Tensor::cat(visitor.sums.into_iter().flatten().collect(), 0).into_data();
    for (i, squared) in present.into_iter().zip(stacked.iter::<f64>()) {
        norms[i] = squared.sqrt();
    }
    norms
}

#[cfg(test)]
mod tests;
