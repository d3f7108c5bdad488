//! One training iteration: freeze-aware forward, cross-entropy, backward, the driver's per-unit
//! learning rates, SGD — timed between two device syncs. The training loop and the speed benchmarks
//! both step through here.

use super::TrainConfig;
use crate::{FreezeOutDriver, FreezeOutForward};
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor};
use std::time::Instant;

/// What one iteration produced.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepResult {
    /// Mean cross-entropy of the batch.
    pub loss: f32,
    /// Wrong top-1 predictions in the batch.
    pub wrong: usize,
    /// Device-synchronised wall-clock of the step.
    pub seconds: f64,
}

/// The optimizer and the loss of a run.
pub struct Stepper {
    optim: ModuleOptimizer,
    loss_fn: CrossEntropyLoss,
    device: Device,
}

impl Stepper {
    /// With `config`'s optimizer.
    pub fn new(config: &TrainConfig, device: &Device) -> Self {
        Self { optim: config.optimizer(), loss_fn: CrossEntropyLossConfig::new().init(device), device: device.clone() }
    }

    /// The optimizer (its state is what a checkpoint saves).
    pub fn optimizer(&self) -> &ModuleOptimizer {
        &self.optim
    }

    /// Replaces the optimizer (with one loaded from a checkpoint).
    pub fn set_optimizer(&mut self, optim: ModuleOptimizer) {
        self.optim = optim;
    }

    /// One iteration at the driver's position with its rates (the driver has already frozen
    /// `model`; advancing it is the caller's).
    pub fn step<M: FreezeOutForward<4, 2>>(
        &mut self,
        model: M,
        images: Tensor<4>,
        targets: Tensor<1, Int>,
        driver: &FreezeOutDriver,
    ) -> (M, StepResult) {
        self.device.sync().ok();
        let t = Instant::now();
        let logits = model.forward_freezeout(images);
        let wrong = count_errors(logits.clone().detach(), targets.clone());
        let loss = self.loss_fn.forward(logits, targets);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let model = self.optim.step(driver.learning_rates(), model, grads);
        let loss: f32 = loss.into_scalar();
        let wrong = wrong.into_scalar::<i64>() as usize;
        self.device.sync().ok();
        (model, StepResult { loss, wrong, seconds: t.elapsed().as_secs_f64() })
    }
}

/// Number of wrong top-1 predictions (stays on the device until read).
pub(super) fn count_errors(logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1, Int> {
    let [n, _] = logits.dims();
    let predicted = logits.argmax(1).reshape([n]);
    predicted.not_equal(targets).int().sum()
}
