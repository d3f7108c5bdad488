//! The frozen-prefix cache under the `Learner` ([`FreezeOutModel::with_cache`](super::FreezeOutModel::with_cache)).

use super::CachedTrainStep;
use crate::FreezeOutForward;
use crate::cache::{CacheError, CacheStats, PrefixCache};
use crate::data::{CachedBatch, Samples};
use burn::tensor::kind::Autodiff;
use burn::train::{TrainOutput, TrainStep};
use std::any::Any;
use std::sync::{Arc, Mutex, PoisonError};

/// The cache of a wrapped model, shared by its clones (the `Learner` clones its model every
/// step) and its forks (data-parallel workers take turns at it: the frozen prefix is the same
/// on every replica, and an entry is a sample's), and the step that runs it, made where the
/// model's types are known (the model and batch reach it as `&dyn Any`).
#[derive(Clone)]
pub(super) struct LearnerCache {
    cache: Arc<Mutex<PrefixCache>>,
    step: ErasedStep,
}

/// A model's cached step on one of its batches, giving its `TrainOutput`.
type ErasedStep = fn(&dyn Any, Box<dyn Any>, &mut PrefixCache) -> Result<Box<dyn Any>, CacheError>;

/// The `Learner`'s loader cannot rebuild a sample by id, so it promises what `exact` needs:
/// inputs that repeat ([`FreezeOutModel::with_cache`](super::FreezeOutModel::with_cache)).
struct Promised;

impl<B> Samples<B> for Promised {
    fn repeats_exactly(&self) -> bool {
        true
    }
}

impl LearnerCache {
    /// A cache for model `M`'s step on its batches.
    pub(super) fn new<M, const I: usize, const O: usize, K>(cache: PrefixCache) -> Self
    where
        M: CachedTrainStep + FreezeOutForward<I, O, K> + 'static,
        M::Input: CachedBatch,
        K: Autodiff + Send + 'static,
    {
        fn step<M, const I: usize, const O: usize, K>(
            model: &dyn Any,
            batch: Box<dyn Any>,
            cache: &mut PrefixCache,
        ) -> Result<Box<dyn Any>, CacheError>
        where
            M: CachedTrainStep + FreezeOutForward<I, O, K> + 'static,
            M::Input: CachedBatch,
            K: Autodiff + Send + 'static,
        {
            let model = model.downcast_ref::<M>().expect("the cache runs the model it was made for");
            let batch = *batch.downcast::<M::Input>().expect("the cache runs the model's own batches");
            let device = model.devices().into_iter().next().expect("a model with parameters");
            let (x, unit) = cache.input(model, &batch, Some(&Promised), 0, &device)?;
            Ok(Box::new(model.step_from(batch, x, unit)))
        }
        Self { cache: Arc::new(Mutex::new(cache)), step: step::<M, I, O, K> }
    }

    /// `model`'s step on `batch` through the cache.
    ///
    /// # Panics
    /// Where the cache cannot run on the batch (no sample ids, a shape that varies): the
    /// `Learner` has no error path from a step.
    pub(super) fn step<M: TrainStep + 'static>(&self, model: &M, batch: M::Input) -> TrainOutput<M::Output> {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let output = (self.step)(model as &dyn Any, Box::new(batch), &mut cache)
            .unwrap_or_else(|e| panic!("FreezeOut (FreezeOutModel::with_cache): {e}"));
        *output.downcast().expect("the cache's step gives the model's output")
    }

    /// What the cache did since the last call.
    pub(super) fn take_stats(&self) -> CacheStats {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner).take_stats()
    }
}

impl std::fmt::Debug for LearnerCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("PrefixCache")
            .field("mode", &cache.config().mode)
            .field("entries", &cache.entries())
            .field("bytes", &cache.bytes())
            .finish()
    }
}
