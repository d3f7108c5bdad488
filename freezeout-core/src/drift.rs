//! Representation drift on a probe batch: the measurement behind the adaptive policy's drift
//! signal ([`Signal::Drift`](crate::policy::Signal::Drift); after Egeria's "training
//! plasticity", EuroSys 2023, at the granularity of FreezeOut's units).
//!
//! A [`DriftProbe`] holds a fixed batch of held-out inputs. Every time the policy asks, it runs
//! the model (inference mode: BatchNorm on its running statistics, no autodiff) through its
//! units on that batch and keeps, per unit, a **sketch** of the unit's output: `k` =
//! 256 numbers, `s_m = Σ_{p ≡ m (mod k)} σ_p y_p` over the output's flattened
//! values `y_p`, with fixed random signs `σ_p = ±1` (a CountSketch). The sketch is linear and
//! preserves squared norms in expectation, so `‖s(y) − s(y')‖ / ‖s(y)‖` estimates the relative
//! L2 change `‖y − y'‖ / ‖y‖` of the unit's output between two measurements with a relative
//! error of about `1/√(2k)` (4.4 % at `k = 256`) of the change itself, whatever the output's
//! size.
//!
//! Why a sketch: the reference a measurement is compared with is then `k` numbers per unit, so
//! it is part of the policy's state like any other number — saved in checkpoints and in
//! burn-train's scheduler record, restored exactly — instead of a copy of the model or of every
//! unit's activations on the probe (for WRN-10-1 on 50 images, 9 MB) that a killed run would
//! otherwise lose. The device reads `k` values per unit per measurement.
//!
//! What is measured: the output of the prefix `0..=i` (unit `i`'s output as the model computes
//! it), so unit `i`'s drift includes the drift of the units before it. That is the quantity a
//! prefix freeze needs: units leave in forward order, and once `0..i` are frozen it is unit
//! `i`'s own drift on a fixed input. The frozen prefix's output on the probe never changes:
//! the probe keeps it and runs only the units after it.
//!
//! In your own loop, the drift policy needs one more line after the optimizer step
//! ([`FreezeOutDriver::observe_drift`](crate::FreezeOutDriver::observe_drift)); our loop ([`Fit`](crate::train::Fit))
//! takes the probe from the data source ([`DataSource::probe`](crate::data::DataSource::probe)),
//! burn-train's `Learner` from `FreezeOutModel::with_drift_probe`:
//!
//! ```
//! use burn::tensor::{Device, Distribution, Tensor};
//! use burn_freezeout::drift::DriftProbe;
//! use burn_freezeout::models::WideResNet;
//! use burn_freezeout::{AdaptiveConfig, FreezeOutDriver, PolicyConfig, ScheduleConfig};
//!
//! let device = Device::flex().autodiff();
//! let model = WideResNet::new(10, 1, 0.0, 10, &device);
//! // The drift policy for a run of 1000 iterations, and a probe of held-out images.
//! let policy = PolicyConfig::Adaptive(AdaptiveConfig::drift()).build(ScheduleConfig::default(), None, 4, 10, 1000)?;
//! let mut freezeout = FreezeOutDriver::with_policy(&model, policy)?;
//! let held_out = Tensor::<4>::random([8, 3, 32, 32], Distribution::Normal(0.0, 1.0), &device);
//! let mut probe = DriftProbe::new(held_out);
//! // ... freeze, forward, backward, optimizer step of iteration 0, then:
//! freezeout.observe_drift(&model, &mut probe)?; // a measurement every `sample_every` (25) iterations
//! freezeout.advance();
//! // The measurement is part of the policy's state, which checkpoints save.
//! assert!(freezeout.policy_state().is_some());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::{FreezeOutForward, UnitTensor};
use burn::tensor::kind::Autodiff;
use burn::tensor::{Device, Float, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use std::ops::Range;

/// Why the drift signal cannot run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DriftError {
    /// The data source gives no probe batch.
    #[error(
        "the drift policy needs a probe batch held out from training, and the data source gives none \
         (DataSource::probe): give the loader one (Loader::with_probe) or choose another policy"
    )]
    NoProbe,
    /// The task cannot run the model unit by unit on a probe.
    #[error(
        "the drift policy needs a task that runs the model unit by unit on a probe (Task::drift_probe); this one does not"
    )]
    Unsupported,
    /// The model's forward is hand-written.
    #[error(
        "the drift policy runs the units one by one on the probe: the model's forward must be generated \
         by #[freezeout] (not `manual`)"
    )]
    ManualForward,
}

/// Numbers per unit in a sketch (`k`).
pub(crate) const SKETCH_WIDTH: usize = 256;

/// The seed of the sketch's signs (fixed: a resumed run, and every worker, sketches alike).
const SIGN_SEED: u64 = 0x5eed_d21f;

/// A fixed probe batch and the sketching of each unit's output on it (see the module docs).
#[derive(Clone, Debug)]
pub struct DriftProbe<const D: usize, K: Autodiff + Send + 'static = Float> {
    input: Tensor<D, K>,
    signs: Option<Tensor<1>>,
    /// The frozen prefix's length and its output on the probe (inference device).
    frozen: Option<(usize, UnitTensor)>,
}

impl<const D: usize, K: Autodiff + Send + 'static> DriftProbe<D, K> {
    /// A probe of `input` (held out from training, normalised as training batches are, not
    /// augmented; or token ids, `K = Int`). It is moved to the inference device of its device.
    pub fn new(input: Tensor<D, K>) -> Self {
        let inference = input.device().without_autodiff();
        Self { input: input.without_autodiff().to_device(&inference), signs: None, frozen: None }
    }

    /// Number of probe examples (the input's first dimension).
    pub fn len(&self) -> usize {
        self.input.dims()[0]
    }

    /// Whether the probe has no example.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the probe can run on `model`: an error for a hand-written forward, which cannot
    /// be split into units (one unit is run on the probe).
    pub fn check<M, const O: usize>(&mut self, model: &M) -> Result<(), DriftError>
    where
        M: FreezeOutForward<D, O, K>,
    {
        self.sketches(model, 0..1).map(drop).ok_or(DriftError::ManualForward)
    }

    /// The sketch of every unit of `units`' output on the probe, in order (`None` where the
    /// model's forward is hand-written and cannot be split into units). The model runs in
    /// inference mode; its frozen prefix's output is computed once and kept.
    pub fn sketches<M, const O: usize>(&mut self, model: &M, units: Range<usize>) -> Option<Vec<Vec<f32>>>
    where
        M: FreezeOutForward<D, O, K>,
    {
        if units.is_empty() {
            return Some(Vec::new());
        }
        // `valid()` clears the trainable flags: the frozen prefix is read from the model itself.
        let frozen = model.frozen_units().min(units.start);
        let valid = model.valid();
        // A model on another device (a data-parallel worker's fork) takes the probe there.
        if let Some(device) = valid.devices().into_iter().next().filter(|d| *d != self.input.device()) {
            *self = Self::new(self.input.clone().to_device(&device));
        }
        let (mut x, from) = match &self.frozen {
            Some((f, x)) if *f == frozen => (x.clone(), frozen),
            _ => (self.input.clone().into(), 0),
        };
        let mut sums = Vec::with_capacity(units.len());
        for i in from..units.end {
            if i == frozen && from < frozen {
                self.frozen = Some((frozen, x.clone()));
            }
            x = valid.forward_unit_range(x, i..i + 1)?;
            if i >= units.start {
                sums.push(self.sketch(x.clone()));
            }
        }
        if frozen == 0 {
            self.frozen = None;
        }
        let values: Vec<f32> = Tensor::cat(sums, 0).into_data().iter::<f32>().collect();
        Some(values.chunks_exact(SKETCH_WIDTH).map(<[f32]>::to_vec).collect())
    }

    /// The sketch of `y` (any shape: a unit's output), as `k` values on the device.
    fn sketch(&mut self, y: UnitTensor) -> Tensor<1> {
        let y: Tensor<1> = y.flatten().into_tensor();
        let n = y.dims()[0];
        let padded = n.div_ceil(SKETCH_WIDTH) * SKETCH_WIDTH;
        let device = y.device();
        let signs = self.signs(padded, &device);
        let flat = y * signs.slice(0..n);
        let flat = if padded > n { Tensor::cat(vec![flat, Tensor::zeros([padded - n], &device)], 0) } else { flat };
        flat.reshape([padded / SKETCH_WIDTH, SKETCH_WIDTH]).sum_dim(0).reshape([SKETCH_WIDTH])
    }

    /// At least `n` fixed random signs (the same prefix whatever the length asked).
    fn signs(&mut self, n: usize, device: &Device) -> Tensor<1> {
        match &self.signs {
            Some(s) if s.dims()[0] >= n => s.clone(),
            _ => {
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(SIGN_SEED);
                let values: Vec<f32> = (0..n).map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 }).collect();
                let signs = Tensor::<1>::from_data(TensorData::new(values, [n]), device);
                self.signs = Some(signs.clone());
                signs
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FreezeOut;
    use crate::models::WideResNet;
    use crate::policy::relative_change;
    use burn::module::{Module, ModuleMapper, Param};
    use burn::tensor::Distribution;

    fn probe(device: &Device) -> DriftProbe<4> {
        DriftProbe::new(Tensor::random([4, 3, 32, 32], Distribution::Normal(0.0, 1.0), device))
    }

    /// Adds Gaussian noise of standard deviation `.1` to every weight of the parameters in the
    /// set `.0` (a change that is not along the output itself, unlike a rescaling).
    struct Perturb(std::collections::HashSet<burn::module::ParamId>, f64);
    impl ModuleMapper for Perturb {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            if !self.0.contains(&param.id) {
                return param;
            }
            let (id, tensor, mapper) = param.consume();
            let noise = Tensor::random(tensor.shape(), Distribution::Normal(0.0, self.1), &tensor.device());
            Param::from_mapped_value(id, tensor + noise, mapper)
        }
    }

    /// The sketch's change estimates the exact relative L2 change of a unit's output (within
    /// four times its standard error 1/√(2k) of the change; fixed signs of +1 instead of random
    /// ones miss by half), and lands where the change is: nothing before the changed unit moves,
    /// the changed unit and those after it do.
    #[test]
    fn the_sketch_estimates_the_relative_change_of_each_units_output() {
        let device = Device::flex().autodiff();
        device.seed(7);
        let model = WideResNet::new(10, 1, 0.0, 10, &device);
        let mut probe = probe(&device);
        let before = probe.sketches(&model, 0..4).unwrap();
        assert_eq!((before.len(), before[0].len()), (4, SKETCH_WIDTH));
        assert_eq!(probe.sketches(&model, 0..4).unwrap(), before, "the same model sketches the same");

        let ids = model.units()[2].param_ids.iter().copied().collect();
        let changed = model.clone().map(&mut Perturb(ids, 0.05));
        let after = probe.sketches(&changed, 0..4).unwrap();
        let estimated: Vec<f64> = after.iter().zip(&before).map(|(a, b)| relative_change(a, b)).collect();
        assert_eq!(&estimated[..2], &[0.0, 0.0], "units before the change");

        // The exact change of each unit's output, on the same probe input.
        let (a, b) = (model.valid(), changed.valid());
        let x = probe.input.clone();
        for (i, estimate) in estimated.iter().enumerate() {
            let ya: Tensor<4> = a.forward_unit_range(x.clone(), 0..i + 1).into_tensor();
            let yb: Tensor<4> = b.forward_unit_range(x.clone(), 0..i + 1).into_tensor();
            // `relative_change(now, before)`: the change over the norm of `now`, the changed model's output.
            let exact =
                ((ya - yb.clone()).square().sum().into_scalar::<f64>() / yb.square().sum().into_scalar::<f64>()).sqrt();
            if i < 2 {
                assert_eq!(exact, 0.0);
            } else {
                assert!(exact > 0.01, "unit {i} changed: {exact}");
                let error = (estimate - exact).abs() / exact;
                assert!(
                    error < 4.0 / (2.0 * SKETCH_WIDTH as f64).sqrt(),
                    "unit {i}: sketch {estimate} vs exact {exact}"
                );
            }
        }
    }

    /// A frozen prefix is run once and kept: sketches after freezing equal the sketches of the
    /// same units computed from the probe input through the whole model.
    #[test]
    fn the_frozen_prefix_is_kept_and_gives_the_same_sketches() {
        let device = Device::flex().autodiff();
        let model = WideResNet::new(10, 1, 0.0, 10, &device);
        let input = probe(&device).input;
        let reference = DriftProbe::new(input.clone()).sketches(&model, 0..4).unwrap();
        let frozen = model.freeze_units(2);
        let mut kept = DriftProbe::new(input);
        let first = kept.sketches(&frozen, 2..4).unwrap();
        assert!(kept.frozen.as_ref().is_some_and(|(f, _)| *f == 2), "the prefix's output is kept");
        assert_eq!(kept.sketches(&frozen, 2..4).unwrap(), first, "from the kept output, the same sketches");
        assert_eq!(&reference[2..], &first[..]);
    }
}
