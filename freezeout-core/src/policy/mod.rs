//! Freezing policies: what decides, iteration by iteration, the frozen prefix and every active
//! unit's learning rate. Pure (no Burn types), like [`crate::schedule`].
//!
//! A [`Policy`] follows one rule:
//! * a [`Schedule`] fixed before the run — FreezeOut's (exact, unchanged) or the baseline's
//!   (nothing freezes, one global cosine);
//! * [`Adaptive`]: decided during the run from a signal of each unit: its gradient norm, or its
//!   representation drift on a probe batch ([`Signal`]);
//! * [`Finetune`]: a trained model's units frozen at the start and trained again epoch by epoch
//!   (Lightning's backbone fine-tuning, ULMFiT's gradual unfreezing);
//!
//! and, on any of them, an optional layer-wise rate decay (LLRD, [`Policy::with_layer_decay`]):
//! unit `i` at `γ^(N − i)` times the rule's rate.
//!
//! A run's config names its policy with a [`PolicyConfig`], which [`PolicyConfig::build`] turns
//! into a `Policy`.
//!
//! Whatever the policy, the frozen units are a prefix and the head (index `N`) never freezes.
//! Under a schedule or an adaptive policy the prefix only grows; under a fine-tuning policy it
//! shrinks ([`Policy::unfreezes`]). The [`FreezeOutDriver`](crate::FreezeOutDriver) runs a
//! policy in any training loop.

mod adaptive;
mod config;
mod finetune;
#[cfg(test)]
mod tests;

pub use adaptive::{Adaptive, AdaptiveConfig, AdaptiveState, Decision, Signal, WindowSignal, relative_change};
#[cfg(test)]
pub(crate) use adaptive::{Sketch, UnitSignal};
pub use config::{PolicyClash, PolicyConfig, PolicyFields};
pub use finetune::{BackboneConfig, Finetune, FinetuneKind, GradualConfig, check_layer_decay, layer_multiplier};

use crate::schedule::{Schedule, ScheduleError};

/// Why a policy cannot be built.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PolicyError {
    /// The run's schedule settings (t0, learning rate, units, iterations).
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    /// A setting of an adaptive policy out of range (the text names the field and a value that
    /// works).
    #[error("adaptive policy: {0}")]
    Setting(String),
    /// A setting of a fine-tuning policy out of range (the text names the field, its flag and a
    /// value that works).
    #[error("fine-tuning policy: {0}")]
    Finetune(String),
    /// A layer decay outside `(0, 1]`.
    #[error(
        "layer_decay = {0} is outside (0, 1]: unit i trains at γ^(N − i) times the policy's rate \
         (--layer-decay 0.75 is common; 1 is no decay)"
    )]
    LayerDecay(f64),
    /// A schedule fixed before the run was asked of a policy that has none.
    #[error("an adaptive or fine-tuning policy has no FreezeOut schedule fixed before the run")]
    NoSchedule,
}

/// The rule a policy follows.
#[derive(Clone, Debug, PartialEq)]
enum Rule {
    Schedule(Schedule),
    Adaptive(Adaptive),
    Finetune(Finetune),
}

/// What decides the frozen prefix and the rates: a rule (a [`Schedule`], an [`Adaptive`] or a
/// [`Finetune`] policy, each converts `into` one) and an optional layer-wise rate decay.
///
/// ```
/// use burn_freezeout::{GradualConfig, Finetune, FinetuneKind, Policy};
///
/// // ULMFiT's gradual unfreezing of 3 units over 4 epochs of 10 iterations:
/// let gradual = Finetune::new(FinetuneKind::Gradual(GradualConfig::default()), 0.01, 3, 4, 40).unwrap();
/// let policy = Policy::from(gradual);
/// assert_eq!((0..4).map(|e| policy.frozen_prefix(10 * e)).collect::<Vec<_>>(), [3, 2, 1, 0]);
/// assert!(policy.unfreezes());
/// // Unit 2 trains at the head's rate / 2.6 from epoch 1 on.
/// assert!((policy.lr(2, 10) - policy.lr(3, 10) / 2.6).abs() < 1e-12);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    rule: Rule,
    layer_decay: Option<f64>,
}

impl From<Schedule> for Policy {
    fn from(schedule: Schedule) -> Self {
        Policy { rule: Rule::Schedule(schedule), layer_decay: None }
    }
}

impl From<Adaptive> for Policy {
    fn from(adaptive: Adaptive) -> Self {
        Policy { rule: Rule::Adaptive(adaptive), layer_decay: None }
    }
}

impl From<Finetune> for Policy {
    fn from(finetune: Finetune) -> Self {
        Policy { rule: Rule::Finetune(finetune), layer_decay: None }
    }
}

impl Policy {
    /// The same policy, unit `i`'s rate multiplied by `gamma^(N − i)` (layer-wise rate decay,
    /// LLRD; the head keeps its rate). An error for `gamma` outside `(0, 1]`.
    pub fn with_layer_decay(self, gamma: f64) -> Result<Self, PolicyError> {
        finetune::check_layer_decay(gamma)?;
        Ok(Self { layer_decay: Some(gamma), ..self })
    }

    /// The layer-wise rate decay `γ`, if any.
    pub fn layer_decay(&self) -> Option<f64> {
        self.layer_decay
    }

    /// The rule's name: `freezeout`, `baseline`, `adaptive`, `backbone` or `gradual`.
    pub fn kind(&self) -> &'static str {
        match &self.rule {
            Rule::Schedule(s) if s.is_baseline() => "baseline",
            Rule::Schedule(_) => "freezeout",
            Rule::Adaptive(_) => "adaptive",
            Rule::Finetune(f) => match f.kind() {
                FinetuneKind::Backbone(_) => "backbone",
                FinetuneKind::Gradual(_) => "gradual",
            },
        }
    }

    /// Number of units `N` (the head excluded).
    pub fn num_units(&self) -> usize {
        match &self.rule {
            Rule::Schedule(s) => s.num_units(),
            Rule::Adaptive(a) => a.num_units(),
            Rule::Finetune(f) => f.num_units(),
        }
    }

    /// Total iterations `T` of the run.
    pub fn total_iterations(&self) -> u64 {
        match &self.rule {
            Rule::Schedule(s) => s.total_iterations,
            Rule::Adaptive(a) => a.total_iterations(),
            Rule::Finetune(f) => f.total_iterations(),
        }
    }

    /// Whether the frozen prefix can shrink (a fine-tuning policy): then the driver sets the
    /// model's frozen prefix to the policy's exactly, training frozen units again.
    pub fn unfreezes(&self) -> bool {
        matches!(self.rule, Rule::Finetune(_))
    }

    /// Called once at the start of iteration `j`, before [`frozen_prefix`](Self::frozen_prefix):
    /// an adaptive policy closes the signal windows that ended before `j` and decides.
    pub fn begin(&mut self, j: u64) {
        if let Rule::Adaptive(a) = &mut self.rule {
            a.begin(j);
        }
    }

    /// Length of the frozen prefix at iteration `j`.
    pub fn frozen_prefix(&self, j: u64) -> usize {
        match &self.rule {
            Rule::Schedule(s) => s.frozen_prefix(j),
            Rule::Adaptive(a) => a.frozen_prefix(j),
            Rule::Finetune(f) => f.frozen_prefix(j),
        }
    }

    /// Learning rate of unit `i` (`i = N`: the head) at iteration `j`; 0 while frozen. The one
    /// place a rate comes from: the rule's, times the layer decay's multiplier.
    pub fn lr(&self, i: usize, j: u64) -> f64 {
        let rate = match &self.rule {
            Rule::Schedule(s) => s.lr(i, j),
            Rule::Adaptive(a) => a.lr(i, j),
            Rule::Finetune(f) => f.lr(i, j),
        };
        match self.layer_decay {
            Some(gamma) => rate * layer_multiplier(gamma, i, self.num_units()),
            None => rate,
        }
    }

    /// Whether the policy wants the units' gradient norms of iteration `j` (only a
    /// gradient-norm adaptive policy does, every `sample_every` iterations).
    pub fn wants_gradient_norms(&self, j: u64) -> bool {
        self.adaptive().is_some_and(|a| a.signal() == Signal::GradientNorm && a.wants_sample(j))
    }

    /// The units whose output sketches on the probe the policy wants after iteration `j`'s
    /// update (only a drift policy does, every `sample_every` iterations), or `None`.
    pub fn wants_sketches(&self, j: u64) -> Option<std::ops::Range<usize>> {
        self.adaptive().filter(|a| a.signal() == Signal::Drift && a.wants_sample(j)).map(Adaptive::watched)
    }

    /// The sketches asked for by [`wants_sketches`](Self::wants_sketches)`(j)`, in its order.
    pub fn observe_sketches(&mut self, j: u64, sketches: &[Vec<f32>]) {
        if let Rule::Adaptive(a) = &mut self.rule {
            a.observe_sketches(j, sketches);
        }
    }

    /// Whether the policy measures representation drift (and so needs a probe batch).
    pub fn uses_drift(&self) -> bool {
        self.adaptive().is_some_and(|a| a.signal() == Signal::Drift)
    }

    /// The units' gradient norms of iteration `j` (`norms[i]` for unit `i`; frozen units' are
    /// ignored).
    pub fn observe_gradient_norms(&mut self, j: u64, norms: &[f64]) {
        if let Rule::Adaptive(a) = &mut self.rule {
            a.observe(j, norms);
        }
    }

    /// The schedule, for a schedule policy.
    pub fn schedule(&self) -> Option<&Schedule> {
        match &self.rule {
            Rule::Schedule(s) => Some(s),
            _ => None,
        }
    }

    /// The adaptive policy, if it is one.
    pub fn adaptive(&self) -> Option<&Adaptive> {
        match &self.rule {
            Rule::Adaptive(a) => Some(a),
            _ => None,
        }
    }

    /// The fine-tuning policy, if it is one.
    pub fn finetune(&self) -> Option<&Finetune> {
        match &self.rule {
            Rule::Finetune(f) => Some(f),
            _ => None,
        }
    }

    /// What a checkpoint must save besides the position (`None` for a schedule or a
    /// fine-tuning policy: each is a pure function of the iteration).
    pub fn state(&self) -> Option<AdaptiveState> {
        self.adaptive().map(Adaptive::state)
    }

    /// Restores what [`state`](Self::state) saved (ignored by the other rules).
    pub fn restore(&mut self, state: AdaptiveState) {
        if let Rule::Adaptive(a) = &mut self.rule {
            a.restore(state);
        }
    }
}
