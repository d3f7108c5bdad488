//! Freezing policies: what decides, iteration by iteration, the frozen prefix and every active
//! unit's learning rate. Pure (no Burn types), like [`crate::schedule`].
//!
//! * [`Policy::Schedule`]: a [`Schedule`] fixed before the run — FreezeOut's (exact, unchanged)
//!   or the baseline's (nothing freezes, one global cosine);
//! * [`Policy::Adaptive`]: [`Adaptive`] decides during the run from a signal of each unit: its
//!   gradient norm, or its representation drift on a probe batch ([`Signal`]).
//!
//! A run's config names its policy with a [`PolicyConfig`], which [`PolicyConfig::build`] turns
//! into a `Policy`.
//!
//! Whatever the policy, the frozen units are a prefix that only grows and the head (index `N`)
//! never freezes. The [`FreezeOutDriver`](crate::FreezeOutDriver) runs a policy in any training
//! loop.

mod adaptive;
mod config;
#[cfg(test)]
mod tests;

pub use adaptive::{Adaptive, AdaptiveConfig, AdaptiveState, Decision, Signal, WindowSignal, relative_change};
#[cfg(test)]
pub(crate) use adaptive::{Sketch, UnitSignal};
pub use config::{PolicyClash, PolicyConfig};

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
    /// A schedule fixed before the run was asked of an adaptive policy.
    #[error("an adaptive policy decides during the run: it has no schedule fixed before it")]
    NoSchedule,
}

/// What decides the frozen prefix and the rates.
#[derive(Clone, Debug, PartialEq)]
pub enum Policy {
    /// A schedule fixed before the run (FreezeOut or the baseline).
    Schedule(Schedule),
    /// Freezing decided during the run from a convergence signal.
    Adaptive(Adaptive),
}

impl From<Schedule> for Policy {
    fn from(schedule: Schedule) -> Self {
        Policy::Schedule(schedule)
    }
}

impl From<Adaptive> for Policy {
    fn from(adaptive: Adaptive) -> Self {
        Policy::Adaptive(adaptive)
    }
}

impl Policy {
    /// Number of units `N` (the head excluded).
    pub fn num_units(&self) -> usize {
        match self {
            Policy::Schedule(s) => s.num_units(),
            Policy::Adaptive(a) => a.num_units(),
        }
    }

    /// Total iterations `T` of the run.
    pub fn total_iterations(&self) -> u64 {
        match self {
            Policy::Schedule(s) => s.total_iterations,
            Policy::Adaptive(a) => a.total_iterations(),
        }
    }

    /// Called once at the start of iteration `j`, before [`frozen_prefix`](Self::frozen_prefix):
    /// an adaptive policy closes the signal windows that ended before `j` and decides.
    pub fn begin(&mut self, j: u64) {
        if let Policy::Adaptive(a) = self {
            a.begin(j);
        }
    }

    /// Length of the frozen prefix at iteration `j`.
    pub fn frozen_prefix(&self, j: u64) -> usize {
        match self {
            Policy::Schedule(s) => s.frozen_prefix(j),
            Policy::Adaptive(a) => a.frozen_prefix(j),
        }
    }

    /// Learning rate of unit `i` (`i = N`: the head) at iteration `j`; 0 once frozen.
    pub fn lr(&self, i: usize, j: u64) -> f64 {
        match self {
            Policy::Schedule(s) => s.lr(i, j),
            Policy::Adaptive(a) => a.lr(i, j),
        }
    }

    /// Whether the policy wants the units' gradient norms of iteration `j` (only a
    /// gradient-norm adaptive policy does, every `sample_every` iterations).
    pub fn wants_gradient_norms(&self, j: u64) -> bool {
        match self {
            Policy::Adaptive(a) => a.signal() == Signal::GradientNorm && a.wants_sample(j),
            Policy::Schedule(_) => false,
        }
    }

    /// The units whose output sketches on the probe the policy wants after iteration `j`'s
    /// update (only a drift policy does, every `sample_every` iterations), or `None`.
    pub fn wants_sketches(&self, j: u64) -> Option<std::ops::Range<usize>> {
        match self {
            Policy::Adaptive(a) if a.signal() == Signal::Drift && a.wants_sample(j) => Some(a.watched()),
            _ => None,
        }
    }

    /// The sketches asked for by [`wants_sketches`](Self::wants_sketches)`(j)`, in its order.
    pub fn observe_sketches(&mut self, j: u64, sketches: &[Vec<f32>]) {
        if let Policy::Adaptive(a) = self {
            a.observe_sketches(j, sketches);
        }
    }

    /// Whether the policy measures representation drift (and so needs a probe batch).
    pub fn uses_drift(&self) -> bool {
        matches!(self, Policy::Adaptive(a) if a.signal() == Signal::Drift)
    }

    /// The units' gradient norms of iteration `j` (`norms[i]` for unit `i`; frozen units' are
    /// ignored).
    pub fn observe_gradient_norms(&mut self, j: u64, norms: &[f64]) {
        if let Policy::Adaptive(a) = self {
            a.observe(j, norms);
        }
    }

    /// The schedule, for a schedule policy.
    pub fn schedule(&self) -> Option<&Schedule> {
        match self {
            Policy::Schedule(s) => Some(s),
            Policy::Adaptive(_) => None,
        }
    }

    /// The adaptive policy, if it is one.
    pub fn adaptive(&self) -> Option<&Adaptive> {
        match self {
            Policy::Adaptive(a) => Some(a),
            Policy::Schedule(_) => None,
        }
    }

    /// What a checkpoint must save besides the position (`None` for a schedule: it is a pure
    /// function of the iteration).
    pub fn state(&self) -> Option<AdaptiveState> {
        self.adaptive().map(Adaptive::state)
    }

    /// Restores what [`state`](Self::state) saved (ignored by a schedule).
    pub fn restore(&mut self, state: AdaptiveState) {
        if let Policy::Adaptive(a) = self {
            a.restore(state);
        }
    }
}
