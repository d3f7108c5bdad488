//! Units of a model and what freezing one means.
//!
//! A unit is frozen when all its trainable parameters stop requiring gradients and its
//! BatchNorm/Dropout layers switch to inference mode ([`Module::freeze`]). Then:
//! * the optimizer gets no gradient for it: no update, no weight decay, no momentum;
//! * with an untracked input, Burn's autodiff records no backward step for its ops, and the
//!   first active unit computes only its weight gradients: no backward work for the prefix.
//!
//! The frozen state lives in the parameters themselves, so a model needs no extra field and
//! survives `clone`, `valid()`/`train()` and checkpoints with its freeze state.

use crate::UnitTensor;
use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::tensor::kind::Autodiff;
use burn::tensor::{Float, Tensor};

/// One unit as reported at run time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitInfo {
    /// Position in forward order.
    pub index: usize,
    /// Readable name: the field name, with `.i` for elements of a `Vec`/array field.
    pub name: String,
    /// Number of trainable scalars (BatchNorm running statistics excluded).
    pub num_params: usize,
    /// Ids of its trainable parameters.
    pub param_ids: Vec<ParamId>,
    /// Paths of its trainable parameters from the model's root, as Burn's optimizers see them
    /// (`blocks.3.conv.weight`): they stay valid when a checkpoint's record replaces the ids.
    pub param_paths: Vec<String>,
}

/// Implemented by `#[freezeout]` for a module whose unit fields are marked.
pub trait FreezeOut: Module + Sized {
    /// The units in forward order (`Vec` lengths are known only at run time).
    fn units(&self) -> Vec<UnitInfo>;
    /// Number of units `N`; the head is everything else.
    fn num_units(&self) -> usize;
    /// Length of the frozen prefix: leading units none of whose parameters requires a gradient.
    /// On a device without autodiff every unit counts as frozen.
    fn frozen_units(&self) -> usize;
    /// Freezes units `0..k` ([`Module::freeze`]: no gradients, BatchNorm/Dropout in inference
    /// mode). Units already frozen stay frozen; FreezeOut never unfreezes.
    fn freeze_units(self, k: usize) -> Self;
    /// Makes the frozen prefix exactly `k` units long: freezes units `0..k` as
    /// [`freeze_units`](Self::freeze_units) does, and trains the frozen units from `k` on again
    /// ([`Module::unfreeze`]: gradients, BatchNorm/Dropout in training mode). A fine-tuning
    /// policy's prefix shrinks this way. A unit only partly frozen (some of its parameters) is
    /// not frozen, and stays as it is.
    fn set_frozen_units(self, k: usize) -> Self;
}

/// The freeze-aware forward pass, from a rank-`I` input of kind `K` (`Float` unless given:
/// token ids are `Int`) to a rank-`O` output. `#[freezeout(head = ..)]` generates it; with
/// `manual`, implement it yourself.
///
/// Between units the tensor may change rank (a ViT's patch embedding maps the image to tokens):
/// the range forward takes and gives a [`UnitTensor`], a tensor of any rank and kind.
pub trait FreezeOutForward<const I: usize, const O: usize, K: Autodiff + Send + 'static = Float>: FreezeOut {
    /// Units (frozen prefix untracked), then the head.
    fn forward_freezeout(&self, x: Tensor<I, K>) -> Tensor<O>;

    /// Only the units of `range` on `x`, the input of unit `range.start` (frozen ones
    /// untracked): the output is the input of unit `range.end`. The prefix cache
    /// ([`crate::cache`]) computes and advances its entries with it. `None` where the forward
    /// is hand-written (`#[freezeout(manual)]`): the cache cannot split it.
    fn forward_unit_range(&self, x: UnitTensor, range: std::ops::Range<usize>) -> Option<UnitTensor> {
        let _ = (x, range);
        None
    }

    /// The forward from unit `unit` on, `x` being that unit's input (a cache entry): units
    /// `unit..N` (frozen ones untracked), then the head. `None` with a hand-written forward.
    fn forward_from(&self, x: UnitTensor, unit: usize) -> Option<Tensor<O>> {
        let _ = (x, unit);
        None
    }
}

/// Ids of the head's parameters: every trainable parameter that belongs to no unit.
pub fn head_param_ids<M: FreezeOut>(model: &M) -> Vec<ParamId> {
    let in_units: std::collections::HashSet<ParamId> = model.units().into_iter().flat_map(|u| u.param_ids).collect();
    private::params(model).into_iter().filter(|p| !in_units.contains(&p.id)).map(|p| p.id).collect()
}

/// Number of trainable scalars of a module (BatchNorm running statistics excluded), as
/// PyTorch's `sum(p.numel() for p in m.parameters())` counts them.
pub fn trainable_params<M: Module>(module: &M) -> usize {
    private::params(module).iter().map(|p| p.numel).sum()
}

#[allow(missing_docs)] // support code for the generated code, not a stable API
pub mod private {
    //! Helpers called by the generated code.
    use super::*;

    /// Buffers of Burn's layers: visited like parameters but never trained.
    const BUFFERS: &[&str] = &["running_mean", "running_var"];

    pub(crate) struct ParamView {
        pub id: ParamId,
        /// Path below the visited module (`conv.weight`).
        pub path: String,
        pub numel: usize,
        pub require_grad: bool,
    }

    #[derive(Default)]
    struct Collect {
        path: Vec<String>,
        out: Vec<ParamView>,
    }

    impl ModuleVisitor for Collect {
        fn enter_module(&mut self, name: &str, _container: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if self.path.last().is_some_and(|leaf| BUFFERS.contains(&leaf.as_str())) {
                return;
            }
            self.out.push(ParamView {
                id: param.id,
                path: self.path.join("."),
                numel: param.lazy_shape().num_elements(),
                require_grad: param.is_require_grad(),
            });
        }
    }

    /// The trainable (non-buffer) float parameters of a module.
    pub(crate) fn params<M: Module>(module: &M) -> Vec<ParamView> {
        let mut c = Collect::default();
        module.visit(&mut c);
        c.out
    }

    /// A unit is frozen when none of its trainable parameters requires a gradient.
    pub fn is_frozen<M: Module>(module: &M) -> bool {
        params(module).iter().all(|p| !p.require_grad)
    }

    /// Builds [`UnitInfo`]s in forward order.
    #[derive(Default)]
    pub struct Units(Vec<UnitInfo>);

    impl Units {
        pub fn push<M: Module>(&mut self, name: String, module: &M) {
            let params = params(module);
            self.0.push(UnitInfo {
                index: self.0.len(),
                num_params: params.iter().map(|p| p.numel).sum(),
                param_ids: params.iter().map(|p| p.id).collect(),
                param_paths: params.iter().map(|p| format!("{name}.{}", p.path)).collect(),
                name,
            });
        }
        pub fn finish(self) -> Vec<UnitInfo> {
            self.0
        }
    }

    /// Counts the frozen prefix.
    #[derive(Default)]
    pub struct Prefix {
        len: usize,
        done: bool,
    }

    impl Prefix {
        pub fn unit<M: Module>(&mut self, module: &M) {
            if !self.done && is_frozen(module) {
                self.len += 1;
            } else {
                self.done = true;
            }
        }
        /// Frozen units, counted from the first.
        pub fn len(&self) -> usize {
            self.len
        }
        /// No unit frozen.
        pub fn is_empty(&self) -> bool {
            self.len == 0
        }
    }

    /// Freezes the first `k` units (and, [`exact`](Self::exact), unfreezes the frozen ones
    /// after them).
    pub struct Freezer {
        next: usize,
        k: usize,
        unfreeze: bool,
    }

    impl Freezer {
        pub fn new(k: usize) -> Self {
            Self { next: 0, k, unfreeze: false }
        }
        /// A prefix of exactly `k` frozen units.
        pub fn exact(k: usize) -> Self {
            Self { next: 0, k, unfreeze: true }
        }
        pub fn unit<M: Module>(&mut self, module: M) -> M {
            let index = self.next;
            self.next += 1;
            if index < self.k && !is_frozen(&module) {
                // Burn's BatchNorm keeps its newest running statistics pending (per thread) and
                // reads the previous ones in inference mode; `valid()` folds them in (the state is
                // shared), so a frozen unit uses the statistics of its last training step.
                let _ = module.valid();
                module.freeze()
            } else if self.unfreeze && index >= self.k && is_frozen(&module) {
                module.unfreeze()
            } else {
                module
            }
        }
    }

    /// Detaches `x` if unit `unit` is the last frozen one.
    pub fn freeze_point<const D: usize>(frozen: usize, unit: usize, x: Tensor<D>) -> Tensor<D> {
        if unit + 1 == frozen { x.detach() } else { x }
    }

    /// Threads a tensor through the units in order; each unit may change its rank (and the
    /// first its kind: token ids to embeddings).
    ///
    /// On an autodiff device the frozen prefix runs on the inner backend: each frozen unit as a
    /// `valid()` copy on `x.inner()`, so its ops record nothing at all (not even the empty
    /// backward steps Burn keeps for untracked ops) and keep no activations; the prefix's output
    /// re-enters autodiff untracked. Without autodiff (evaluation) every unit just runs.
    ///
    /// [`Chain::range`] runs only some units: `x` is the input of the range's first unit, and
    /// the output (the input of the unit after the range) is on `x`'s kind of device.
    pub struct Chain {
        x: Option<UnitTensor>,
        next: usize,
        frozen: usize,
        autodiff: bool,
        range: std::ops::Range<usize>,
    }

    impl Chain {
        pub fn new(frozen: usize, x: UnitTensor) -> Self {
            Self::range(frozen, x, 0..usize::MAX)
        }
        pub fn range(frozen: usize, x: UnitTensor, range: std::ops::Range<usize>) -> Self {
            let autodiff = x.is_autodiff();
            Self { x: Some(x), next: 0, frozen, autodiff, range }
        }
        /// The next unit, a map from `Tensor<A, K>` to `Tensor<B>`.
        pub fn step<M: Module, const A: usize, const B: usize, K: Autodiff + Send + 'static>(
            &mut self,
            unit: &M,
            forward: impl FnOnce(&M, Tensor<A, K>) -> Tensor<B>,
        ) {
            let index = self.next;
            self.next += 1;
            if !self.range.contains(&index) {
                return;
            }
            let x = self.x.take().expect("chain holds a tensor between steps");
            let y = if self.autodiff && index < self.frozen {
                let y = UnitTensor::from(forward(&unit.valid(), unit_input(index, x.inner())));
                if index + 1 == self.frozen || index + 1 == self.range.end { y.autodiff() } else { y }
            } else {
                UnitTensor::from(freeze_point(self.frozen, index, forward(unit, unit_input(index, x))))
            };
            self.x = Some(y);
        }
        pub fn finish(self) -> UnitTensor {
            self.x.expect("chain holds a tensor")
        }
    }

    /// Unit `index`'s input as its forward takes it.
    fn unit_input<const A: usize, K: Autodiff + 'static>(index: usize, x: UnitTensor) -> Tensor<A, K> {
        x.try_into_tensor().unwrap_or_else(|x: UnitTensor| {
            panic!("unit {index} takes a Tensor<{A}, {}>, and its input is {x:?}", crate::unit_tensor::kind_name::<K>())
        })
    }
}
