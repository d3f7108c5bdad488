//! The FreezeOut schedule: pure math, no Burn types.
//!
//! Units `i = 0..N-1` in forward order; the head has index `N` and is never frozen.
//!
//! * freeze fraction `t_i = s(t0 + (1 - t0) · i / N)` with `s` = [`Scaling`] (`t0` is given
//!   *pre-scaled*: cubic with `t0 = 0.8` freezes the first unit at `0.512`);
//! * iteration budget `B_i = t_i · T`, `T` the run's total number of iterations (from the data
//!   loader: epochs × batches per epoch);
//! * learning rate at iteration `j` (0-based): `½ · α_i · (1 + cos(π j / B_i))` with
//!   `α_i = α / t_i` when LR scaling is on, else `α`;
//! * unit `i` is frozen at iteration `j` iff `j > B_i`, i.e. from iteration `max_iter + 1` on,
//!   where `max_iter = ⌊B_i⌋` is the last iteration in which it trains.
//!
//! All constants are computed exactly from the decimal inputs (exact rational arithmetic), so the reference
//! default (cubic, `t0 = 0.8`, `N = 39`, `T = 100 000`) gives `t_0 = 0.512`, `max_iter = 51200`,
//! `α_0 = 0.1953125` to the last digit. A baseline (no freezing, one global cosine) is
//! [`Schedule::baseline`]: every unit has `t = 1`.

pub(crate) mod exact;
#[cfg(test)]
mod tests;

use num_rational::BigRational;
use num_traits::{One, Zero};
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;
use std::fmt;
use std::str::FromStr;

/// Initial rates above this multiple of the base rate get a warning
/// ([`Schedule::high_rate_warning`]): `α / t_i` explodes for a tiny `t0`.
pub const HIGH_RATE_FACTOR: f64 = 100.0;

/// How the freeze fraction grows with the unit index (`s` in `t_i = s(x_i)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scaling {
    /// `s(x) = x`
    Linear,
    /// `s(x) = x²`
    Squared,
    /// `s(x) = x³` (the paper's default)
    Cubic,
}

impl Scaling {
    /// All strategies, in the paper's order.
    pub const ALL: [Scaling; 3] = [Scaling::Linear, Scaling::Squared, Scaling::Cubic];

    /// The exponent of `s(x) = x^p`.
    pub fn power(self) -> usize {
        match self {
            Scaling::Linear => 1,
            Scaling::Squared => 2,
            Scaling::Cubic => 3,
        }
    }

    /// `s(x)` in floating point (for plots and cost models; the schedule itself is exact).
    pub fn apply(self, x: f64) -> f64 {
        x.powi(self.power() as i32)
    }

    /// The lowercase name (`linear`, `squared`, `cubic`).
    pub fn name(self) -> &'static str {
        match self {
            Scaling::Linear => "linear",
            Scaling::Squared => "squared",
            Scaling::Cubic => "cubic",
        }
    }
}

impl fmt::Display for Scaling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scaling {
    type Err = ScheduleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scaling::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| ScheduleError::UnknownScaling(s.to_string()))
    }
}

/// The user's FreezeOut settings (everything but the model and the data size).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Freeze fraction of the first unit *before* scaling, in `(0, 1]`.
    pub t0: f64,
    /// The strategy `s`.
    pub scaling: Scaling,
    /// Scale each unit's initial learning rate by `1 / t_i`.
    pub scale_lr: bool,
    /// Base learning rate `α`.
    pub base_lr: f64,
}

impl Default for ScheduleConfig {
    /// The reference default: cubic, `t0 = 0.8`, LR scaling on, `α = 0.1`.
    fn default() -> Self {
        Self { t0: 0.8, scaling: Scaling::Cubic, scale_lr: true, base_lr: 0.1 }
    }
}

/// Why a schedule cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScheduleError {
    /// `t0` outside `(0, 1]`.
    #[error("t0 = {0} is outside (0, 1]: use e.g. --t0 0.8 (the first unit freezes at s(t0) of training)")]
    T0OutOfRange(f64),
    /// Base learning rate not a positive finite number.
    #[error("base learning rate = {0} must be a positive finite number (the paper uses 0.1)")]
    BadLearningRate(f64),
    /// A model without units.
    #[error("the model has no units: mark at least one field #[freezeout(unit)]")]
    NoUnits,
    /// A run of zero iterations.
    #[error("total iterations is 0: the run needs at least one epoch and one batch")]
    NoIterations,
    /// A schedule for another number of units than the model has.
    #[error("the schedule has {schedule} units but the model has {model}: build it from the model's num_units()")]
    UnitMismatch {
        /// Units of the schedule.
        schedule: usize,
        /// Units of the model.
        model: usize,
    },
    /// Unknown strategy name.
    #[error("unknown scaling `{0}`: expected linear, squared or cubic")]
    UnknownScaling(String),
}

/// The plan of one unit (or of the head, whose `t` is 1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnitPlan {
    /// Position in forward order; the head has index `N`.
    pub index: usize,
    /// Freeze fraction `t_i`.
    pub t: f64,
    /// Exact budget `t_i · T` (may be fractional).
    pub budget: f64,
    /// Last iteration (0-based) in which the unit trains: `⌊t_i · T⌋`.
    pub max_iter: u64,
    /// Initial learning rate `α_i`.
    pub lr0: f64,
}

impl UnitPlan {
    /// Whether the unit is frozen at iteration `j`.
    pub fn is_frozen(&self, j: u64) -> bool {
        j > self.max_iter
    }

    /// Learning rate at iteration `j`; 0 once frozen.
    pub fn lr(&self, j: u64) -> f64 {
        if self.is_frozen(j) {
            return 0.0;
        }
        // j ≤ budget, so the phase is in [0, π]: the rate falls monotonically to 0 at the budget.
        0.5 * self.lr0 * (1.0 + (PI * (j as f64 / self.budget)).cos())
    }
}

/// A complete schedule for `N` units and a run of `T` iterations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// The settings it was built from (`None` for a baseline).
    pub config: Option<ScheduleConfig>,
    /// Total iterations `T` of the run.
    pub total_iterations: u64,
    /// `N + 1` plans: the units in forward order, then the head.
    plans: Vec<UnitPlan>,
}

impl Schedule {
    /// The FreezeOut schedule for `num_units` units over `total_iterations` iterations.
    pub fn freezeout(config: ScheduleConfig, num_units: usize, total_iterations: u64) -> Result<Self, ScheduleError> {
        let t0 = exact::decimal(config.t0)
            .filter(|t0| t0 > &BigRational::zero() && t0 <= &BigRational::one())
            .ok_or(ScheduleError::T0OutOfRange(config.t0))?;
        let plans = Self::plans(num_units, total_iterations, config.base_lr, |i| {
            let n = BigRational::from_integer(num_units.into());
            let x = &t0 + (BigRational::one() - &t0) * BigRational::from_integer(i.into()) / n;
            let t = num_traits::pow(x, config.scaling.power());
            (t, config.scale_lr)
        })?;
        Ok(Self { config: Some(config), total_iterations, plans })
    }

    /// No freezing: every unit follows the head's global cosine from `base_lr` to 0.
    pub fn baseline(base_lr: f64, num_units: usize, total_iterations: u64) -> Result<Self, ScheduleError> {
        let plans = Self::plans(num_units, total_iterations, base_lr, |_| (BigRational::one(), false))?;
        Ok(Self { config: None, total_iterations, plans })
    }

    fn plans(
        num_units: usize,
        total_iterations: u64,
        base_lr: f64,
        t_of: impl Fn(usize) -> (BigRational, bool),
    ) -> Result<Vec<UnitPlan>, ScheduleError> {
        if num_units == 0 {
            return Err(ScheduleError::NoUnits);
        }
        if total_iterations == 0 {
            return Err(ScheduleError::NoIterations);
        }
        let alpha = exact::decimal(base_lr)
            .filter(|a| a > &BigRational::zero())
            .ok_or(ScheduleError::BadLearningRate(base_lr))?;
        let total = BigRational::from_integer(total_iterations.into());
        let plan = |index: usize, t: BigRational, scale_lr: bool| {
            let budget = &t * &total;
            let lr0 = if scale_lr { &alpha / &t } else { alpha.clone() };
            UnitPlan {
                index,
                t: exact::to_f64(&t),
                budget: exact::to_f64(&budget),
                max_iter: exact::floor_u64(&budget),
                lr0: exact::to_f64(&lr0),
            }
        };
        let mut plans: Vec<UnitPlan> = (0..num_units)
            .map(|i| {
                let (t, scale_lr) = t_of(i);
                plan(i, t, scale_lr)
            })
            .collect();
        // The head: t = s(1) = 1 for every strategy, so α_N = α either way.
        plans.push(plan(num_units, BigRational::one(), false));
        Ok(plans)
    }

    /// Number of units `N` (the head excluded).
    pub fn num_units(&self) -> usize {
        self.plans.len() - 1
    }

    /// The units' plans in forward order (the head excluded).
    pub fn units(&self) -> &[UnitPlan] {
        &self.plans[..self.num_units()]
    }

    /// The head's plan (index `N`, `t = 1`, never frozen).
    pub fn head(&self) -> &UnitPlan {
        &self.plans[self.num_units()]
    }

    /// Learning rate of unit `i` (`i = N` is the head) at iteration `j`; 0 once frozen.
    pub fn lr(&self, i: usize, j: u64) -> f64 {
        if i == self.num_units() {
            // The head is never frozen: it keeps its (zero) final rate past T.
            return self.head().lr(j.min(self.head().max_iter));
        }
        self.plans[i].lr(j)
    }

    /// Whether unit `i` is frozen at iteration `j` (never for the head, `i = N`).
    pub fn is_frozen(&self, i: usize, j: u64) -> bool {
        i < self.num_units() && self.plans[i].is_frozen(j)
    }

    /// Number of frozen units at iteration `j`. The frozen units are always the first ones
    /// (budgets grow with the index), so this is the length of the frozen prefix.
    pub fn frozen_prefix(&self, j: u64) -> usize {
        self.units().partition_point(|p| p.is_frozen(j))
    }

    /// The first iteration at which unit `i` is frozen (`max_iter + 1`), if within the run.
    pub fn freeze_iteration(&self, i: usize) -> Option<u64> {
        let first = self.units().get(i)?.max_iter.checked_add(1)?;
        (first < self.total_iterations).then_some(first)
    }

    /// The units whose initial rate `α_i` exceeds `factor × α` (LR scaling with a small `t0`:
    /// `α_i = α / t_i`), in forward order. The paper's settings give none above
    /// [`HIGH_RATE_FACTOR`] (cubic `t0 = 0.5`: `α_0 = 8α`).
    pub fn high_initial_rates(&self, factor: f64) -> Vec<&UnitPlan> {
        let base = self.head().lr0;
        self.units().iter().filter(|p| p.lr0 > factor * base).collect()
    }

    /// A warning naming the units whose initial rate is above [`HIGH_RATE_FACTOR`] × the base
    /// rate, or `None`. `names` are the units' names in forward order (indices are used where
    /// a name is missing).
    pub fn high_rate_warning(&self, names: &[String]) -> Option<String> {
        let high = self.high_initial_rates(HIGH_RATE_FACTOR);
        let first = high.first()?;
        let name = |i: usize| names.get(i).map_or(format!("unit {i}"), |n| format!("unit {i} (`{n}`)"));
        let config = self.config.as_ref()?;
        Some(format!(
            "warning: LR scaling gives {} an initial rate of {} ({:.0} × the base rate {}; units above {}×: {} of {}): \
             {} scaling with t0 = {} makes t_{} = {:e}. Raise --t0, pass --no-scale-lr, or pick a milder --scaling",
            name(first.index),
            first.lr0,
            first.lr0 / self.head().lr0,
            self.head().lr0,
            HIGH_RATE_FACTOR,
            high.len(),
            self.num_units(),
            config.scaling,
            config.t0,
            first.index,
            first.t,
        ))
    }

    /// Whether this is a baseline (no freezing) schedule.
    pub fn is_baseline(&self) -> bool {
        self.config.is_none()
    }
}
