//! Which policy a run follows, as its config holds it: the one type that the command line,
//! `RunConfig` and [`TrainConfig`](crate::train::TrainConfig) carry, and the one place
//! ([`PolicyConfig::build`]) where it becomes a [`Policy`].

use super::PolicyError;
use super::{Adaptive, AdaptiveConfig, Policy, Signal};
use crate::schedule::{Schedule, ScheduleConfig};

/// The freezing policy of a run, with its settings. FreezeOut's own settings (`t0`, scaling,
/// LR scaling, `base_lr`) live in the run's [`ScheduleConfig`]; `base_lr` is every policy's rate.
///
/// ```
/// use burn_freezeout::train::TrainConfig;
/// use burn_freezeout::{AdaptiveConfig, Policy, PolicyConfig};
///
/// // Our loop (`Fit`) with the adaptive policy instead of FreezeOut's schedule:
/// let adaptive = AdaptiveConfig { threshold: 0.1, ..AdaptiveConfig::default() };
/// let config = TrainConfig { epochs: 5, policy: PolicyConfig::Adaptive(adaptive), ..TrainConfig::default() };
/// // What a run of 4 units and 1500 iterations follows (a driver takes it: `FreezeOutDriver::with_policy`).
/// let policy = config.policy(4, 1500).unwrap();
/// assert!(matches!(policy, Policy::Adaptive(_)));
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
}

/// A config that sets both `baseline = true` and an adaptive policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "baseline = true and an [adaptive] policy are both set: pick one policy (--policy baseline, or --policy gradient-norm or drift)"
)]
pub struct PolicyClash;

impl PolicyConfig {
    /// The names on the command line and in run names, in [`Self::name`]'s order.
    pub const NAMES: [&'static str; 4] = ["freezeout", "baseline", "gradient-norm", "drift"];

    /// The policy of a config file's two fields (`baseline`, `[adaptive]`), the form run
    /// directories have always stored; both set is a [`PolicyClash`].
    pub fn from_fields(baseline: bool, adaptive: Option<AdaptiveConfig>) -> Result<Self, PolicyClash> {
        match (baseline, adaptive) {
            (true, Some(_)) => Err(PolicyClash),
            (true, None) => Ok(PolicyConfig::Baseline),
            (false, Some(a)) => Ok(PolicyConfig::Adaptive(a)),
            (false, None) => Ok(PolicyConfig::FreezeOut),
        }
    }

    /// The two fields a config file stores (the inverse of [`from_fields`](Self::from_fields)).
    pub fn to_fields(self) -> (bool, Option<AdaptiveConfig>) {
        match self {
            PolicyConfig::FreezeOut => (false, None),
            PolicyConfig::Baseline => (true, None),
            PolicyConfig::Adaptive(a) => (false, Some(a)),
        }
    }

    /// `freezeout`, `baseline`, `gradient-norm` or `drift`.
    pub fn name(&self) -> &'static str {
        match self {
            PolicyConfig::FreezeOut => Self::NAMES[0],
            PolicyConfig::Baseline => Self::NAMES[1],
            PolicyConfig::Adaptive(a) if a.signal == Signal::Drift => Self::NAMES[3],
            PolicyConfig::Adaptive(_) => Self::NAMES[2],
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

    /// Checks the settings that do not depend on the run's length.
    pub fn check_ranges(&self) -> Result<(), PolicyError> {
        self.adaptive().map_or(Ok(()), AdaptiveConfig::check_ranges)
    }

    /// The schedule fixed before the run (FreezeOut's or the baseline's) of `num_units` units
    /// over `total` iterations; an adaptive policy has none.
    pub fn schedule(&self, schedule: ScheduleConfig, num_units: usize, total: u64) -> Result<Schedule, PolicyError> {
        match self {
            PolicyConfig::FreezeOut => Ok(Schedule::freezeout(schedule, num_units, total)?),
            PolicyConfig::Baseline => Ok(Schedule::baseline(schedule.base_lr, num_units, total)?),
            PolicyConfig::Adaptive(_) => Err(PolicyError::NoSchedule),
        }
    }

    /// The policy of a run of `num_units` units and `total` iterations: the one place where a
    /// config becomes a [`Policy`].
    pub fn build(&self, schedule: ScheduleConfig, num_units: usize, total: u64) -> Result<Policy, PolicyError> {
        match self {
            PolicyConfig::Adaptive(a) => Ok(Adaptive::new(*a, schedule.base_lr, num_units, total)?.into()),
            _ => Ok(self.schedule(schedule, num_units, total)?.into()),
        }
    }
}
