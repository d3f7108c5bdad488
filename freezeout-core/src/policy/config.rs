//! Which policy a run follows, as its config holds it: the one type that the command line,
//! `RunConfig` and [`TrainConfig`](crate::train::TrainConfig) carry, and the one place
//! ([`PolicyConfig::build`]) where it becomes a [`Policy`].

use super::PolicyError;
use super::{Adaptive, AdaptiveConfig, BackboneConfig, Finetune, FinetuneKind, GradualConfig, Policy, Signal};
use crate::schedule::{Schedule, ScheduleConfig};

/// The freezing policy of a run, with its settings. FreezeOut's own settings (`t0`, scaling,
/// LR scaling, `base_lr`) live in the run's [`ScheduleConfig`]; `base_lr` is every policy's rate.
///
/// ```
/// use burn_freezeout::train::TrainConfig;
/// use burn_freezeout::{AdaptiveConfig, PolicyConfig};
///
/// // Our loop (`Fit`) with the adaptive policy instead of FreezeOut's schedule:
/// let adaptive = AdaptiveConfig { threshold: 0.1, ..AdaptiveConfig::default() };
/// let config = TrainConfig { epochs: 5, policy: PolicyConfig::Adaptive(adaptive), ..TrainConfig::default() };
/// // What a run of 4 units and 1500 iterations follows (a driver takes it: `FreezeOutDriver::with_policy`).
/// let policy = config.policy(4, 1500).unwrap();
/// assert_eq!(policy.kind(), "adaptive");
/// assert_eq!(PolicyConfig::Baseline.name(), "baseline");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum PolicyConfig {
    /// FreezeOut's schedule (the paper's; the default).
    #[default]
    FreezeOut,
    /// No freezing: every unit follows one global cosine from `base_lr`.
    Baseline,
    /// Freezing decided during the run from a signal of each unit ([`AdaptiveConfig::signal`]:
    /// its gradient norm, or its representation drift).
    Adaptive(AdaptiveConfig),
    /// Fine-tuning: every unit frozen until an epoch, then all train (PyTorch Lightning's
    /// `BackboneFinetuning`; [`Finetune`]).
    Backbone(BackboneConfig),
    /// Fine-tuning: ULMFiT's gradual unfreezing, one more unit from the top each epoch, with
    /// discriminative rates ([`Finetune`]).
    Gradual(GradualConfig),
}

/// A config file's policy fields: `baseline = true`, or one of the tables `[adaptive]`,
/// `[backbone]`, `[gradual]`, or none of them (FreezeOut), the form run directories have
/// always stored (the tables of the fine-tuning policies joined later).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PolicyFields {
    /// `baseline = true`.
    pub baseline: bool,
    /// `[adaptive]`.
    pub adaptive: Option<AdaptiveConfig>,
    /// `[backbone]`.
    pub backbone: Option<BackboneConfig>,
    /// `[gradual]`.
    pub gradual: Option<GradualConfig>,
}

/// A config that sets more than one policy (the text names the fields).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}: pick one policy (--policy baseline, gradient-norm, drift, backbone or gradual; none: FreezeOut)")]
pub struct PolicyClash(pub String);

impl PolicyConfig {
    /// The names on the command line and in run names, in [`Self::name`]'s order.
    pub const NAMES: [&'static str; 6] = ["freezeout", "baseline", "gradient-norm", "drift", "backbone", "gradual"];

    /// The policy of a config file's fields ([`PolicyFields`]); more than one set is a
    /// [`PolicyClash`] naming them.
    pub fn from_fields(fields: PolicyFields) -> Result<Self, PolicyClash> {
        let PolicyFields { baseline, adaptive, backbone, gradual } = fields;
        let mut set: Vec<(&str, PolicyConfig)> = Vec::new();
        if baseline {
            set.push(("baseline = true", PolicyConfig::Baseline));
        }
        set.extend(adaptive.map(|a| ("[adaptive]", PolicyConfig::Adaptive(a))));
        set.extend(backbone.map(|b| ("[backbone]", PolicyConfig::Backbone(b))));
        set.extend(gradual.map(|g| ("[gradual]", PolicyConfig::Gradual(g))));
        match set.as_slice() {
            [] => Ok(PolicyConfig::FreezeOut),
            [(_, policy)] => Ok(*policy),
            _ => {
                let names: Vec<&str> = set.iter().map(|(name, _)| *name).collect();
                let are = if names.len() == 2 { "are both set" } else { "are all set" };
                Err(PolicyClash(format!("{} {are}", names.join(" and "))))
            }
        }
    }

    /// The fields a config file stores (the inverse of [`from_fields`](Self::from_fields)).
    pub fn to_fields(self) -> PolicyFields {
        let none = PolicyFields::default();
        match self {
            PolicyConfig::FreezeOut => none,
            PolicyConfig::Baseline => PolicyFields { baseline: true, ..none },
            PolicyConfig::Adaptive(a) => PolicyFields { adaptive: Some(a), ..none },
            PolicyConfig::Backbone(b) => PolicyFields { backbone: Some(b), ..none },
            PolicyConfig::Gradual(g) => PolicyFields { gradual: Some(g), ..none },
        }
    }

    /// `freezeout`, `baseline`, `gradient-norm`, `drift`, `backbone` or `gradual`.
    pub fn name(&self) -> &'static str {
        match self {
            PolicyConfig::FreezeOut => Self::NAMES[0],
            PolicyConfig::Baseline => Self::NAMES[1],
            PolicyConfig::Adaptive(a) if a.signal == Signal::Drift => Self::NAMES[3],
            PolicyConfig::Adaptive(_) => Self::NAMES[2],
            PolicyConfig::Backbone(_) => Self::NAMES[4],
            PolicyConfig::Gradual(_) => Self::NAMES[5],
        }
    }

    /// The policy's part of a run's directory name: [`name`](Self::name), except that the
    /// gradient-norm policy keeps `adaptive`, its name before the drift policy joined it, so
    /// that the directories of earlier runs stay theirs.
    pub fn run_tag(&self) -> &'static str {
        match self {
            PolicyConfig::Adaptive(a) if a.signal == Signal::GradientNorm => "adaptive",
            _ => self.name(),
        }
    }

    /// Whether this is the baseline (nothing freezes).
    pub fn is_baseline(&self) -> bool {
        matches!(self, PolicyConfig::Baseline)
    }

    /// The adaptive policy's settings, if it is one.
    pub fn adaptive(&self) -> Option<&AdaptiveConfig> {
        match self {
            PolicyConfig::Adaptive(a) => Some(a),
            _ => None,
        }
    }

    /// The fine-tuning policy's kind and settings, if it is one.
    pub fn finetune(&self) -> Option<FinetuneKind> {
        match *self {
            PolicyConfig::Backbone(b) => Some(FinetuneKind::Backbone(b)),
            PolicyConfig::Gradual(g) => Some(FinetuneKind::Gradual(g)),
            _ => None,
        }
    }

    /// Checks the settings that do not depend on the run's length.
    pub fn check_ranges(&self) -> Result<(), PolicyError> {
        match (self.adaptive(), self.finetune()) {
            (Some(a), _) => a.check_ranges(),
            (_, Some(f)) => f.check_ranges(),
            _ => Ok(()),
        }
    }

    /// The schedule fixed before the run (FreezeOut's or the baseline's) of `num_units` units
    /// over `total` iterations; an adaptive or fine-tuning policy has none.
    pub fn schedule(&self, schedule: ScheduleConfig, num_units: usize, total: u64) -> Result<Schedule, PolicyError> {
        match self {
            PolicyConfig::FreezeOut => Ok(Schedule::freezeout(schedule, num_units, total)?),
            PolicyConfig::Baseline => Ok(Schedule::baseline(schedule.base_lr, num_units, total)?),
            _ => Err(PolicyError::NoSchedule),
        }
    }

    /// The policy of a run of `num_units` units over `epochs` epochs of `total` iterations in
    /// all (the fine-tuning policies count epochs), each unit's rate decayed by `layer_decay`
    /// ([`Policy::with_layer_decay`]) if given: the one place where a config becomes a
    /// [`Policy`].
    pub fn build(
        &self,
        schedule: ScheduleConfig,
        layer_decay: Option<f64>,
        num_units: usize,
        epochs: usize,
        total: u64,
    ) -> Result<Policy, PolicyError> {
        let policy: Policy = match (self, self.finetune()) {
            (PolicyConfig::Adaptive(a), _) => Adaptive::new(*a, schedule.base_lr, num_units, total)?.into(),
            (_, Some(kind)) => Finetune::new(kind, schedule.base_lr, num_units, epochs, total)?.into(),
            _ => self.schedule(schedule, num_units, total)?.into(),
        };
        match layer_decay {
            Some(gamma) => policy.with_layer_decay(gamma),
            None => Ok(policy),
        }
    }
}
