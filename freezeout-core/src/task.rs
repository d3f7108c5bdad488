//! What a run trains: how a batch reaches the device, goes through the model to a loss, and
//! which metric the run reports. our loop ([`crate::train`]) trains any [`Task`];
//! [`Classification`] (cross-entropy, top-1 error, NCHW images) is the built-in one that
//! our loop and `paper-repro` use; [`LanguageModel`] (next-character cross-entropy on text
//! windows) is the other built-in one.
//!
//! A regressor on rank-2 input, as a task (the whole of what the loop needs to know):
//!
//! ```
//! use burn::nn::loss::{MseLoss, Reduction};
//! use burn::tensor::{Device, Tensor, TensorData};
//! use burn_freezeout::FreezeOutForward;
//! use burn_freezeout::task::{Task, TaskOutput};
//!
//! /// Batches of `(features, targets)`, row-major, `features.len() = n · 8`.
//! struct Regression;
//!
//! impl<M: FreezeOutForward<2, 2>> Task<M> for Regression {
//!     type Batch = (Vec<f32>, Vec<f32>);
//!     type Input = (Tensor<2>, Tensor<2>);
//!     fn batch_len(&self, batch: &Self::Batch) -> usize {
//!         batch.1.len()
//!     }
//!     fn to_device(&self, (x, y): Self::Batch, device: &Device) -> Self::Input {
//!         let n = y.len();
//!         (Tensor::from_data(TensorData::new(x, [n, 8]), device), Tensor::from_data(TensorData::new(y, [n, 1]), device))
//!     }
//!     fn forward(&self, model: &M, (x, y): Self::Input) -> TaskOutput {
//!         let prediction = model.forward_freezeout(x);
//!         let squared = (prediction - y).powi_scalar(2);
//!         // loss: the batch mean (backward runs from it); metric: summed over the batch (MSE)
//!         TaskOutput { loss: squared.clone().mean(), metric: squared.detach().sum() }
//!     }
//! }
//! ```

use crate::cache::{CacheError, PrefixCache};
use crate::data::text::TokenBatch;
use crate::data::{CachedBatch, HostBatch, Samples};
use crate::drift::{DriftError, DriftProbe};
use crate::{FreezeOutDriver, FreezeOutForward};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::kind::Autodiff;
use burn::tensor::{Device, Float, Int, Tensor, TensorData};

/// What one batch gives: the loss to train on and the metric, both still on the device.
#[derive(Clone, Debug)]
pub struct TaskOutput {
    /// The batch's mean loss, a one-element tensor; on an autodiff device the backward pass
    /// runs from it.
    pub loss: Tensor<1>,
    /// The metric summed over the batch's examples (one element; classification: the number
    /// of wrong top-1 predictions). The run reports its mean per example as the epoch's
    /// `train_error` / `test_error`.
    pub metric: Tensor<1>,
}

/// A training task for model `M`: batches, loss and metric.
///
/// [`DataSource`](crate::data::DataSource)`<Self::Batch>` yields host batches; the loop moves each to
/// the device ([`to_device`](Task::to_device), outside the timed step) and trains on
/// [`forward`](Task::forward)'s loss. Evaluation calls the same `forward` on the inference
/// device with the model in inference mode.
pub trait Task<M> {
    /// A batch as the data source yields it (host memory).
    type Batch: 'static;
    /// The batch on the device.
    type Input;
    /// Number of examples in `batch` (epoch means are weighted by it).
    fn batch_len(&self, batch: &Self::Batch) -> usize;
    /// Moves `batch` to `device`.
    fn to_device(&self, batch: Self::Batch, device: &Device) -> Self::Input;
    /// The model's loss and metric on `input`; freezing is the model's business (call its
    /// freeze-aware forward, e.g. [`FreezeOutForward::forward_freezeout`]).
    fn forward(&self, model: &M, input: Self::Input) -> TaskOutput;

    /// [`forward`](Task::forward) with the prefix cache: the units' input of `batch` from
    /// `cache` ([`PrefixCache::input`]), then [`FreezeOutForward::forward_from`]. The default
    /// refuses ([`CacheError::Unsupported`]); [`Classification`] implements it.
    fn forward_cached(
        &self,
        model: &M,
        batch: Self::Batch,
        cache: CacheStep<'_, Self::Batch>,
    ) -> Result<TaskOutput, CacheError> {
        let _ = (model, batch, cache);
        Err(CacheError::Unsupported)
    }

    /// For a drift policy: the probe of `batch` (the data source's
    /// [`probe`](crate::data::DataSource::probe)) on `device`, which the loop hands the model after
    /// every update. `None` (the default): the task cannot run the model unit by unit, and a
    /// drift policy is refused; [`Classification`] gives a [`UnitProbe`] of its images (any
    /// task whose model is `FreezeOutForward` can do the same with its input tensor).
    fn drift_probe(&self, batch: Self::Batch, device: &Device) -> Option<Box<dyn ProbeStep<M>>> {
        let _ = (batch, device);
        None
    }
}

/// A drift policy's probe in the loop ([`Task::drift_probe`]).
pub trait ProbeStep<M> {
    /// Whether the probe can run on `model` (an error for a hand-written forward).
    fn check(&mut self, model: &M) -> Result<(), DriftError>;
    /// After the update of `driver`'s current iteration: hands the driver the sketches its
    /// policy asks for ([`FreezeOutDriver::observe_drift`]).
    fn observe(&mut self, model: &M, driver: &mut FreezeOutDriver) -> Result<(), DriftError>;
}

/// The [`ProbeStep`] of a model that is [`FreezeOutForward`]`<D, O, K>`: a [`DriftProbe`] of its
/// rank-`D` input of kind `K` (images: `Float`; token ids: `Int`).
#[derive(Clone, Debug)]
pub struct UnitProbe<const D: usize, const O: usize, K: Autodiff + Send + 'static = Float>(pub DriftProbe<D, K>);

impl<M, const D: usize, const O: usize, K> ProbeStep<M> for UnitProbe<D, O, K>
where
    M: FreezeOutForward<D, O, K>,
    K: Autodiff + Send + 'static,
{
    fn check(&mut self, model: &M) -> Result<(), DriftError> {
        self.0.check(model)
    }
    fn observe(&mut self, model: &M, driver: &mut FreezeOutDriver) -> Result<(), DriftError> {
        driver.observe_drift(model, &mut self.0)
    }
}

/// What [`Task::forward_cached`] hands the cache: the cache, the source's [`Samples`], where
/// the run is and the training device.
pub struct CacheStep<'a, B = HostBatch> {
    /// The cache.
    pub cache: &'a mut PrefixCache,
    /// The data source's samples by id ([`DataSource::samples`](crate::data::DataSource::samples)).
    pub samples: Option<&'a dyn Samples<B>>,
    /// The epoch in progress.
    pub epoch: usize,
    /// The training device.
    pub device: &'a Device,
}

impl<B: CachedBatch> CacheStep<'_, B> {
    /// The model's output on `batch` with the cache: the first active unit's input from the
    /// cache ([`PrefixCache::input`]), then [`FreezeOutForward::forward_from`] it.
    pub fn forward<M, const I: usize, const O: usize, K>(self, model: &M, batch: &B) -> Result<Tensor<O>, CacheError>
    where
        M: FreezeOutForward<I, O, K>,
        K: Autodiff + Send + 'static,
    {
        let (x, unit) = self.cache.input(model, batch, self.samples, self.epoch, self.device)?;
        model.forward_from(x, unit).ok_or(CacheError::ManualForward)
    }
}

/// Image classification: NCHW `f32` images ([`HostBatch`]), cross-entropy, top-1 error.
#[derive(Clone, Copy, Debug, Default)]
pub struct Classification;

impl<M: FreezeOutForward<4, 2>> Task<M> for Classification {
    type Batch = HostBatch;
    type Input = (Tensor<4>, Tensor<1, Int>);

    fn batch_len(&self, batch: &HostBatch) -> usize {
        batch.len()
    }

    fn to_device(&self, batch: HostBatch, device: &Device) -> Self::Input {
        batch.to_device(device)
    }

    fn forward(&self, model: &M, (images, targets): Self::Input) -> TaskOutput {
        classify(model.forward_freezeout(images), targets)
    }

    fn forward_cached(&self, model: &M, batch: HostBatch, c: CacheStep<'_>) -> Result<TaskOutput, CacheError> {
        let device = c.device;
        let logits = c.forward(model, &batch)?;
        let n = batch.len();
        Ok(classify(logits, Tensor::<1, Int>::from_data(TensorData::new(batch.labels, [n]), device)))
    }

    fn drift_probe(&self, batch: HostBatch, device: &Device) -> Option<Box<dyn ProbeStep<M>>> {
        Some(Box::new(UnitProbe::<4, 2>(DriftProbe::new(batch.to_device(device).0))))
    }
}

/// Next-character prediction: token-id windows ([`TokenBatch`]) in, logits `[n, context,
/// vocab]` out ([`CharGpt`](crate::models::CharGpt) or any model that is
/// `FreezeOutForward<2, 3, Int>`), the mean cross-entropy over every position as the loss. The
/// metric is each window's mean cross-entropy in nats, so a run's `train_error` / `test_error`
/// are its mean loss per character (bits per character: divide by ln 2). The prefix cache
/// runs on it (`exact`: the windows never change).
#[derive(Clone, Copy, Debug, Default)]
pub struct LanguageModel;

impl<M: FreezeOutForward<2, 3, Int>> Task<M> for LanguageModel {
    type Batch = TokenBatch;
    type Input = (Tensor<2, Int>, Tensor<2, Int>);

    fn batch_len(&self, batch: &TokenBatch) -> usize {
        batch.len()
    }

    fn to_device(&self, batch: TokenBatch, device: &Device) -> Self::Input {
        batch.to_device(device)
    }

    fn forward(&self, model: &M, (tokens, targets): Self::Input) -> TaskOutput {
        next_character(model.forward_freezeout(tokens), targets)
    }

    fn forward_cached(
        &self,
        model: &M,
        batch: TokenBatch,
        c: CacheStep<'_, TokenBatch>,
    ) -> Result<TaskOutput, CacheError> {
        let targets = batch.targets(c.device);
        Ok(next_character(c.forward(model, &batch)?, targets))
    }

    fn drift_probe(&self, batch: TokenBatch, device: &Device) -> Option<Box<dyn ProbeStep<M>>> {
        Some(Box::new(UnitProbe::<2, 3, Int>(DriftProbe::new(batch.to_device(device).0))))
    }
}

/// The language model's loss and metric from the logits.
fn next_character(logits: Tensor<3>, targets: Tensor<2, Int>) -> TaskOutput {
    let n = logits.dims()[0];
    let loss = next_token_cross_entropy(logits, targets);
    // Every window has `t` positions: the mean over all is the mean of the windows' means.
    TaskOutput { metric: loss.clone().detach().mul_scalar(n as f64), loss }
}

/// Classification's loss and metric from the logits.
fn classify(logits: Tensor<2>, targets: Tensor<1, Int>) -> TaskOutput {
    let wrong = count_errors(logits.clone().detach(), targets.clone()).float();
    TaskOutput { loss: cross_entropy(logits, targets), metric: wrong }
}

/// Mean cross-entropy of `logits` `[n, classes]` against `n` class indices: the built-in
/// classification loss, in our loop and under the `Learner` alike.
pub fn cross_entropy(logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
    CrossEntropyLossConfig::new().init(&logits.device()).forward(logits, targets)
}

/// Mean cross-entropy over every position of logits `[n, t, vocab]` against the next tokens
/// `[n, t]`: the built-in language models' loss ([`LanguageModel`], and under the `Learner`).
pub fn next_token_cross_entropy(logits: Tensor<3>, targets: Tensor<2, Int>) -> Tensor<1> {
    let (logits, targets) = positions(logits, targets);
    cross_entropy(logits, targets)
}

/// Every position as one prediction: logits `[n · t, vocab]` and `n · t` targets.
pub(crate) fn positions(logits: Tensor<3>, targets: Tensor<2, Int>) -> (Tensor<2>, Tensor<1, Int>) {
    let [n, t, vocab] = logits.dims();
    (logits.reshape([n * t, vocab]), targets.reshape([n * t]))
}

/// Number of wrong top-1 predictions (stays on the device until read).
fn count_errors(logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1, Int> {
    let [n, _] = logits.dims();
    let predicted = logits.argmax(1).reshape([n]);
    predicted.not_equal(targets).int().sum()
}
