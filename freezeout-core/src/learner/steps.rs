//! The built-in models' steps under the `Learner`: their batch types (on the device, with sample
//! ids for the prefix cache), `TrainStep` / `InferenceStep`, and [`CachedTrainStep`], the step
//! from any unit's input that the cache runs.

use crate::data::CachedBatch;
use crate::task::{cross_entropy, positions};
use crate::{FreezeOutForward, UnitTensor};
use burn::tensor::kind::Autodiff;
use burn::tensor::{Device, Int, Tensor, TensorData};
use burn::train::{ClassificationOutput, InferenceStep, TrainOutput, TrainStep};

/// A `TrainStep` that can start at any unit: the frozen-prefix cache
/// ([`FreezeOutModel::with_cache`](super::FreezeOutModel::with_cache)) hands it the input of the
/// first unit that trains, computed from its entries, in place of the batch's own input.
///
/// The built-in models implement it on [`ImageBatch`] (classification) and [`TextBatch`]
/// (next-byte prediction). Yours, on your batch type (which implements
/// [`CachedBatch`]: its sample ids and its input rows), is your step with the forward pass
/// replaced by [`FreezeOutForward::forward_from`]:
///
/// ```ignore
/// impl CachedTrainStep for MyModel {
///     fn step_from(&self, batch: MyBatch, x: UnitTensor, unit: usize) -> TrainOutput<ClassificationOutput> {
///         let logits = self.forward_from(x, unit).expect("a generated forward");
///         let loss = cross_entropy(logits.clone(), batch.targets.clone());
///         TrainOutput::new(self, loss.backward(), ClassificationOutput::new(loss, logits, batch.targets))
///     }
/// }
/// ```
pub trait CachedTrainStep: TrainStep {
    /// [`TrainStep::step`] on `batch` with `x`, the input of unit `unit`, in place of the
    /// batch's input (unit 0's).
    fn step_from(&self, batch: Self::Input, x: UnitTensor, unit: usize) -> TrainOutput<Self::Output>;
}

/// Images (NCHW) and class labels on the device: the input of the built-in image models'
/// `TrainStep` and `InferenceStep` (cross-entropy, burn-train's `ClassificationOutput`).
#[derive(Clone, Debug)]
pub struct ImageBatch {
    /// `[n, c, h, w]`.
    pub images: Tensor<4>,
    /// `n` class indices.
    pub targets: Tensor<1, Int>,
    /// `n` sample ids: each image's index in the training set, which the prefix cache keys its
    /// entries on (empty: none, and the cache refuses the batch).
    pub ids: Vec<u64>,
}

/// Windows of token ids and their next-token targets on the device: the input of
/// [`CharGpt`](crate::models::CharGpt)'s `TrainStep` and `InferenceStep` (the mean
/// cross-entropy over every position; burn-train's `ClassificationOutput` over positions, so
/// its loss is in nats per token).
#[derive(Clone, Debug)]
pub struct TextBatch {
    /// `[n, context]` input ids.
    pub tokens: Tensor<2, Int>,
    /// `[n, context]` target ids: each input's next token.
    pub targets: Tensor<2, Int>,
    /// `n` sample ids: each window's index in the training set (empty: none).
    pub ids: Vec<u64>,
}

impl CachedBatch for ImageBatch {
    fn len(&self) -> usize {
        self.images.dims()[0]
    }
    fn ids(&self) -> &[u64] {
        &self.ids
    }
    fn input_rows(&self, rows: &[usize], device: &Device) -> UnitTensor {
        select_rows(self.images.clone(), rows, device).into()
    }
}

impl CachedBatch for TextBatch {
    fn len(&self) -> usize {
        self.tokens.dims()[0]
    }
    fn ids(&self) -> &[u64] {
        &self.ids
    }
    fn input_rows(&self, rows: &[usize], device: &Device) -> UnitTensor {
        select_rows(self.tokens.clone(), rows, device).into()
    }
}

/// Rows `rows` of `x`, on `device` (all of them in order: `x` itself).
fn select_rows<const D: usize, K: Autodiff + Send + 'static>(
    x: Tensor<D, K>,
    rows: &[usize],
    device: &Device,
) -> Tensor<D, K> {
    let every = rows.len() == x.dims()[0] && rows.iter().enumerate().all(|(i, &r)| i == r);
    let x = if every {
        x
    } else {
        let index = rows.iter().map(|&r| r as i64).collect::<Vec<_>>();
        let index = Tensor::<1, Int>::from_data(TensorData::new(index, [rows.len()]), &x.device());
        x.select(0, index)
    };
    x.to_device(device)
}

/// The freeze-aware forward pass and the cross-entropy, as burn-train's metrics read them.
pub fn classification_output<M: FreezeOutForward<4, 2>>(model: &M, batch: ImageBatch) -> ClassificationOutput {
    classification(model.forward_freezeout(batch.images), batch.targets)
}

fn classification(logits: Tensor<2>, targets: Tensor<1, Int>) -> ClassificationOutput {
    let loss = cross_entropy(logits.clone(), targets.clone());
    ClassificationOutput::new(loss, logits, targets)
}

/// Next-token prediction as classification over every position: logits `[n, t, vocab]` against
/// targets `[n, t]`, flattened to `n · t` predictions.
fn next_token(logits: Tensor<3>, targets: Tensor<2, Int>) -> ClassificationOutput {
    let (logits, targets) = positions(logits, targets);
    classification(logits, targets)
}

/// `TrainStep`, `CachedTrainStep` and `InferenceStep` of the built-in models, from their output
/// on a batch's input (`$forward`) or on a unit's (`$from`).
macro_rules! steps {
    ($batch:ty, $input:ident, $output:ident, $($model:ty),*) => {$(
        impl TrainStep for $model {
            type Input = $batch;
            type Output = ClassificationOutput;
            fn step(&self, batch: $batch) -> TrainOutput<ClassificationOutput> {
                let output = $output(self.forward_freezeout(batch.$input), batch.targets);
                TrainOutput::new(self, output.loss.backward(), output)
            }
        }

        impl CachedTrainStep for $model {
            fn step_from(&self, batch: $batch, x: UnitTensor, unit: usize) -> TrainOutput<ClassificationOutput> {
                let logits = self.forward_from(x, unit).expect("the built-in models' forward is generated");
                let output = $output(logits, batch.targets);
                TrainOutput::new(self, output.loss.backward(), output)
            }
        }

        impl InferenceStep for $model {
            type Input = $batch;
            type Output = ClassificationOutput;
            fn step(&self, batch: $batch) -> ClassificationOutput {
                $output(self.forward_freezeout(batch.$input), batch.targets)
            }
        }
    )*};
}

steps!(
    ImageBatch,
    images,
    classification,
    crate::models::DenseNet,
    crate::models::WideResNet,
    crate::models::Vgg,
    crate::models::Vit
);
steps!(TextBatch, tokens, next_token, crate::models::CharGpt);
