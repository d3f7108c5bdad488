//! The fine-tuning policies: a trained model whose units start frozen and train again, epoch by
//! epoch, the frozen prefix shrinking. Pure, like [`crate::schedule`].
//!
//! Both follow one global cosine: the head's rate is the baseline's `½ α (1 + cos(π j / T))`
//! over the whole run, and every unit that trains gets a multiple of it.
//!
//! * [`BackboneConfig`] — PyTorch Lightning's `BackboneFinetuning`: every unit (the backbone) is
//!   frozen for epochs `0..epoch` (a linear probe: the head trains alone); from `epoch` on all
//!   units train at `initial_ratio × growth^(e − epoch)` times the head's rate in epoch `e`,
//!   capped at the head's rate when `align` is on. With `epoch` at or past the run's epochs the
//!   backbone never trains: a linear probe.
//! * [`GradualConfig`] — ULMFiT's gradual unfreezing with discriminative rates (Howard & Ruder
//!   2018): in epoch `e` the top `e / every` units train (the head alone in the first), one more
//!   from the top each `every` epochs; unit `i` trains at the head's rate divided by
//!   `divisor^(N − i)` (ULMFiT: 2.6).
//!
//! How they differ from the tools they follow (documented side by side in `docs/finetuning.md`):
//! a frozen unit is frozen as FreezeOut freezes it (BatchNorm in inference mode; Lightning's
//! `train_bn = True` keeps a frozen backbone's BatchNorm training); rates are multiples of the
//! run's cosine rather than values set once per epoch; the epochs are the run's own, the
//! iteration `j` in epoch `j / (T / epochs)`.

use super::PolicyError;
use crate::schedule::{Schedule, ScheduleError};
use serde::{Deserialize, Serialize};

/// PyTorch Lightning's `BackboneFinetuning` (module docs). In a config file a missing field
/// takes its default.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackboneConfig {
    /// The epoch (0-based) from which the units train; before it the head trains alone
    /// (Lightning's `unfreeze_backbone_at_epoch`, whose default is 10; ours is 1, for runs of a
    /// few epochs). At or past the run's epochs: a linear probe.
    pub epoch: usize,
    /// The units' rate in their first epoch, as a fraction of the head's (Lightning's
    /// `backbone_initial_ratio_lr`: 0.1).
    pub initial_ratio: f64,
    /// That fraction's factor per epoch after it (Lightning's default `lambda_func`: 1.5).
    pub growth: f64,
    /// Never above the head's rate (Lightning's `should_align`: on).
    pub align: bool,
}

impl Default for BackboneConfig {
    fn default() -> Self {
        Self { epoch: 1, initial_ratio: 0.1, growth: 1.5, align: true }
    }
}

/// ULMFiT's gradual unfreezing with discriminative rates (module docs). In a config file a
/// missing field takes its default.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GradualConfig {
    /// Epochs between two unfreezes (ULMFiT: 1).
    pub every: usize,
    /// Each unit's rate is the next one's divided by this (ULMFiT: 2.6; 1: the head's rate for
    /// all).
    pub divisor: f64,
}

impl Default for GradualConfig {
    fn default() -> Self {
        Self { every: 1, divisor: 2.6 }
    }
}

/// Which fine-tuning policy, with its settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FinetuneKind {
    /// Lightning's `BackboneFinetuning`.
    Backbone(BackboneConfig),
    /// ULMFiT's gradual unfreezing.
    Gradual(GradualConfig),
}

impl FinetuneKind {
    /// Checks the settings that do not depend on the run's length; the error names the field and
    /// a value that works.
    pub fn check_ranges(&self) -> Result<(), PolicyError> {
        let positive = |v: f64| v.is_finite() && v > 0.0;
        match *self {
            FinetuneKind::Backbone(b) if !positive(b.initial_ratio) => Err(PolicyError::Finetune(format!(
                "backbone initial_ratio = {} must be a positive number (--initial-ratio; Lightning's 0.1)",
                b.initial_ratio
            ))),
            FinetuneKind::Backbone(b) if !positive(b.growth) => Err(PolicyError::Finetune(format!(
                "backbone growth = {} must be a positive number (--growth; Lightning's 1.5)",
                b.growth
            ))),
            FinetuneKind::Gradual(g) if g.every == 0 => {
                Err(PolicyError::Finetune("gradual every = 0 must be at least 1 epoch (--every; ULMFiT's 1)".into()))
            }
            FinetuneKind::Gradual(g) if !(g.divisor.is_finite() && g.divisor >= 1.0) => Err(PolicyError::Finetune(
                format!("gradual divisor = {} must be at least 1 (--divisor; ULMFiT's 2.6, 1 for one rate)", g.divisor),
            )),
            _ => Ok(()),
        }
    }
}

/// A fine-tuning policy for one run: which one, and the run's length in epochs.
#[derive(Clone, Debug, PartialEq)]
pub struct Finetune {
    kind: FinetuneKind,
    /// The head's cosine (the baseline's).
    cosine: Schedule,
    /// Iterations per epoch.
    per_epoch: u64,
}

impl Finetune {
    /// `kind` for `num_units` units over `epochs` epochs of `total / epochs` iterations, from the
    /// base rate `base_lr`.
    pub fn new(
        kind: FinetuneKind,
        base_lr: f64,
        num_units: usize,
        epochs: usize,
        total: u64,
    ) -> Result<Self, PolicyError> {
        kind.check_ranges()?;
        let cosine = Schedule::baseline(base_lr, num_units, total)?;
        if epochs == 0 || total < epochs as u64 {
            return Err(ScheduleError::NoIterations.into());
        }
        Ok(Self { kind, cosine, per_epoch: total / epochs as u64 })
    }

    /// Which policy.
    pub fn kind(&self) -> FinetuneKind {
        self.kind
    }

    /// Number of units `N`.
    pub fn num_units(&self) -> usize {
        self.cosine.num_units()
    }

    /// Total iterations `T`.
    pub fn total_iterations(&self) -> u64 {
        self.cosine.total_iterations
    }

    /// The epoch of iteration `j`.
    pub fn epoch(&self, j: u64) -> usize {
        (j / self.per_epoch) as usize
    }

    /// Length of the frozen prefix at iteration `j`: all units before the backbone's epoch, then
    /// none; for gradual unfreezing, one fewer every `every` epochs.
    pub fn frozen_prefix(&self, j: u64) -> usize {
        let (n, e) = (self.num_units(), self.epoch(j));
        match self.kind {
            FinetuneKind::Backbone(b) if e < b.epoch => n,
            FinetuneKind::Backbone(_) => 0,
            FinetuneKind::Gradual(g) => n.saturating_sub(e / g.every),
        }
    }

    /// Rate of unit `i` (`i = N`: the head) at iteration `j`; 0 while frozen.
    pub fn lr(&self, i: usize, j: u64) -> f64 {
        let n = self.num_units();
        let head = self.cosine.lr(n, j);
        if i == n {
            return head;
        }
        if i < self.frozen_prefix(j) {
            return 0.0;
        }
        match self.kind {
            FinetuneKind::Backbone(b) => {
                let ratio = b.initial_ratio * b.growth.powi((self.epoch(j) - b.epoch) as i32);
                head * if b.align { ratio.min(1.0) } else { ratio }
            }
            FinetuneKind::Gradual(g) => head * layer_multiplier(1.0 / g.divisor, i, n),
        }
    }
}

/// The layer-wise multiplier `γ^(N − i)` of unit `i` of `n` (the head, `i = N`: 1): LLRD's, and
/// ULMFiT's discriminative rates with `γ = 1 / 2.6`.
pub fn layer_multiplier(gamma: f64, i: usize, n: usize) -> f64 {
    gamma.powi(n.saturating_sub(i) as i32)
}

/// Checks a layer decay `γ`: in `(0, 1]`.
pub fn check_layer_decay(gamma: f64) -> Result<(), PolicyError> {
    if gamma.is_finite() && gamma > 0.0 && gamma <= 1.0 {
        return Ok(());
    }
    Err(PolicyError::LayerDecay(gamma))
}
