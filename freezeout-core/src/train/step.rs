//! One training iteration: freeze-aware forward, cross-entropy, backward, per-unit learning
//! rates, SGD — timed between two device syncs. The training loop and the speed benchmarks
//! both step through here.

use super::TrainConfig;
use crate::schedule::Schedule;
use crate::{FreezeOut, FreezeOutForward, head_param_ids};
use burn::module::ParamGroup;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::lr_scheduler::module_lr_scheduler::{ModuleLearningRate, ModuleLrScheduler};
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

/// The optimizer, the loss and the per-unit parameter groups of a run.
pub struct Stepper {
    optim: ModuleOptimizer,
    loss_fn: CrossEntropyLoss,
    groups: Vec<ParamGroup>,
    head: ParamGroup,
    device: Device,
}

impl Stepper {
    /// For `model` (its units' parameter groups are read once here).
    pub fn new<M: FreezeOut>(model: &M, config: &TrainConfig, device: &Device) -> Self {
        Self {
            optim: config.optimizer(),
            loss_fn: CrossEntropyLossConfig::new().init(device),
            groups: model.units().into_iter().map(|u| ParamGroup::from_ids(u.param_ids)).collect(),
            head: ParamGroup::from_ids(head_param_ids(model)),
            device: device.clone(),
        }
    }

    /// The optimizer (its state is what a checkpoint saves).
    pub fn optimizer(&self) -> &ModuleOptimizer {
        &self.optim
    }

    /// Replaces the optimizer (with one loaded from a checkpoint).
    pub fn set_optimizer(&mut self, optim: ModuleOptimizer) {
        self.optim = optim;
    }

    /// Iteration `j` with `frozen` units frozen (the model must already be frozen that far).
    pub fn step<M: FreezeOutForward<4, 2>>(
        &mut self,
        model: M,
        images: Tensor<4>,
        targets: Tensor<1, Int>,
        schedule: &Schedule,
        j: u64,
        frozen: usize,
    ) -> (M, StepResult) {
        self.device.sync().ok();
        let t = Instant::now();
        let logits = model.forward_freezeout(images);
        let wrong = count_errors(logits.clone().detach(), targets.clone());
        let loss = self.loss_fn.forward(logits, targets);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let lrs = self.lrs(schedule, j, frozen);
        let model = self.optim.step(lrs, model, grads);
        let loss: f32 = loss.into_scalar();
        let wrong = wrong.into_scalar::<i64>() as usize;
        self.device.sync().ok();
        (model, StepResult { loss, wrong, seconds: t.elapsed().as_secs_f64() })
    }

    /// The rates of iteration `j`: one group per active unit, the head's rate for the rest.
    fn lrs(&self, schedule: &Schedule, j: u64, frozen: usize) -> ModuleLearningRate {
        let head = schedule.lr(schedule.num_units(), j);
        let mut lrs = ModuleLrScheduler::new(head);
        // Frozen units get no gradient, hence no update: they need no rate.
        for (i, group) in self.groups.iter().enumerate().skip(frozen) {
            lrs = lrs.with_group(group.clone(), schedule.lr(i, j));
        }
        lrs.with_group(self.head.clone(), head).step()
    }
}

/// Number of wrong top-1 predictions (stays on the device until read).
pub(super) fn count_errors(logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1, Int> {
    let [n, _] = logits.dims();
    let predicted = logits.argmax(1).reshape([n]);
    predicted.not_equal(targets).int().sum()
}
