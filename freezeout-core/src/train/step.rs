//! One training iteration: the task's forward and loss (the model freeze-aware), backward, the
//! driver's per-unit learning rates, the optimizer — timed between two device syncs. The
//! training loop and the speed benchmarks both step through here.

use super::TrainConfig;
use crate::cache::CacheError;
use crate::task::{CacheStep, Task, TaskOutput};
use crate::{FreezeOut, FreezeOutDriver};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::Device;
use std::time::Instant;

/// What one iteration produced.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepResult {
    /// The batch's mean loss.
    pub loss: f32,
    /// The task's metric summed over the batch (classification: wrong top-1 predictions).
    pub metric: f64,
    /// Device-synchronised wall-clock of the step.
    pub seconds: f64,
}

/// The optimizer of a run, and where its steps are timed.
pub struct Stepper {
    optim: ModuleOptimizer,
    device: Device,
}

impl Stepper {
    /// With `config`'s optimizer.
    pub fn new(config: &TrainConfig, device: &Device) -> Self {
        Self { optim: config.optimizer(), device: device.clone() }
    }

    /// The optimizer (its state is what a checkpoint saves).
    pub fn optimizer(&self) -> &ModuleOptimizer {
        &self.optim
    }

    /// Replaces the optimizer (with one loaded from a checkpoint).
    pub(crate) fn set_optimizer(&mut self, optim: ModuleOptimizer) {
        self.optim = optim;
    }

    /// One iteration of `task` on `input` at the driver's position with its rates (the driver
    /// has already frozen `model`; advancing it is the caller's). The gradients go to the
    /// driver's policy before the update (an adaptive policy samples their norms).
    pub fn step<M: FreezeOut, T: Task<M>>(
        &mut self,
        model: M,
        task: &T,
        input: T::Input,
        driver: &mut FreezeOutDriver,
    ) -> (M, StepResult) {
        let step = self.step_with(model, driver, |m| Ok::<_, std::convert::Infallible>(task.forward(m, input)));
        match step {
            Ok(done) => done,
            Err(never) => match never {},
        }
    }

    /// [`step`](Self::step) with the prefix cache: `batch` (on the host) goes through
    /// [`Task::forward_cached`], the cache's work timed with the step.
    pub fn step_cached<M: FreezeOut, T: Task<M>>(
        &mut self,
        model: M,
        task: &T,
        batch: T::Batch,
        cache: CacheStep<'_, T::Batch>,
        driver: &mut FreezeOutDriver,
    ) -> Result<(M, StepResult), CacheError> {
        self.step_with(model, driver, |m| task.forward_cached(m, batch, cache))
    }

    /// The iteration itself: `forward`'s loss, backward, the driver's rates, the update.
    fn step_with<M: FreezeOut, E>(
        &mut self,
        model: M,
        driver: &mut FreezeOutDriver,
        forward: impl FnOnce(&M) -> Result<TaskOutput, E>,
    ) -> Result<(M, StepResult), E> {
        self.device.sync().ok();
        let t = Instant::now();
        let TaskOutput { loss, metric } = forward(&model)?;
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        driver.observe_gradients(&model, &grads);
        let model = self.optim.step(driver.learning_rates(), model, grads);
        let loss: f32 = loss.into_scalar();
        let metric: f64 = metric.into_scalar::<f64>();
        self.device.sync().ok();
        Ok((model, StepResult { loss, metric, seconds: t.elapsed().as_secs_f64() }))
    }
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
