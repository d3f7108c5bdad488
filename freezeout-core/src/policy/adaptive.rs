//! The adaptive policy: a unit freezes when its gradient norm has stopped changing.
//!
//! **Signal.** Every `sample_every` iterations the driver hands the policy each active unit's
//! gradient norm `‖g_i‖` (L2 over the unit's trainable parameters, the batch's gradient before
//! the optimizer). The run is cut into windows of `W = round(window · T)` iterations; at the end
//! of window `k` the policy takes each unit's mean sampled norm `G_i(k)` and its relative change
//! `r_i(k) = |G_i(k) − G_i(k−1)| / G_i(k−1)` (after AutoFreeze, Liu et al. 2021: a layer whose
//! gradient norm has settled has stopped learning much).
//!
//! **Decision.** At the end of a window, the first unit not yet leaving training starts to leave
//! when `r_i(k) < threshold` and at least `min_fraction · T` iterations have run; then the next
//! unit is tested against the same window, and so on: units leave in forward order only, so the
//! frozen set stays a prefix.
//!
//! **Rates.** Every unit that has not started to leave, and the head, follow the baseline's
//! global cosine `½ α (1 + cos(π j / T))`. A unit that starts to leave at iteration `s` anneals
//! from the global rate at `s` to 0 over `R = round(ramp · T)` iterations (a half cosine, no
//! abrupt stop at a high rate) and is frozen from `s + R + 1` on, as FreezeOut's unit is frozen
//! the iteration after its rate reaches 0.
//!
//! Every window's signal ([`WindowSignal`]) and every decision ([`Decision`]: unit, signal,
//! threshold, iteration) is recorded, so a run's log shows why each unit froze. The state
//! ([`AdaptiveState`]) is a few numbers per unit: a checkpoint saves it and a resumed run decides
//! exactly as an uninterrupted one.

use crate::schedule::{ScheduleError, exact};
use num_rational::BigRational;
use num_traits::{ToPrimitive, Zero};
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// The adaptive policy's settings (a missing field takes its default).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdaptiveConfig {
    /// A unit may start to leave when the relative change of its window-mean gradient norm falls
    /// below this.
    pub threshold: f64,
    /// Window length as a fraction of the run (`W = round(window · T)` iterations).
    pub window: f64,
    /// Iterations between two gradient-norm samples (the signal's cost: one norm per
    /// parameter tensor and one device read every `sample_every` iterations).
    pub sample_every: u64,
    /// No unit starts to leave before this fraction of the run.
    pub min_fraction: f64,
    /// Length of a leaving unit's rate ramp to 0, as a fraction of the run.
    pub ramp: f64,
}

impl Default for AdaptiveConfig {
    /// Chosen on WRN-10-1, CIFAR-10 (`bench-harness/POLICIES.md`).
    fn default() -> Self {
        Self { threshold: 0.05, window: 0.05, sample_every: 5, min_fraction: 0.4, ramp: 0.05 }
    }
}

impl AdaptiveConfig {
    /// Checks the ranges for a run of `total` iterations.
    pub fn validate(&self, total: u64) -> Result<(), ScheduleError> {
        self.check_ranges()?;
        let window = iterations(self.window, total);
        if window < self.sample_every {
            return Err(ScheduleError::Adaptive(format!(
                "a window of {window} iterations ({} of {total}) holds no gradient sample every {} iterations: \
                 raise window or lower sample_every",
                self.window, self.sample_every
            )));
        }
        Ok(())
    }

    /// Checks the ranges that do not depend on the run's length.
    pub fn check_ranges(&self) -> Result<(), ScheduleError> {
        let bad = |what: String| Err(ScheduleError::Adaptive(what));
        if !(self.threshold >= 0.0 && self.threshold.is_finite()) {
            return bad(format!("threshold = {} must be a finite number ≥ 0 (e.g. 0.05)", self.threshold));
        }
        if !(self.window > 0.0 && self.window <= 1.0) {
            return bad(format!("window = {} must be in (0, 1]: a fraction of the run (e.g. 0.05)", self.window));
        }
        if !(self.ramp > 0.0 && self.ramp <= 1.0) {
            return bad(format!("ramp = {} must be in (0, 1]: a fraction of the run (e.g. 0.05)", self.ramp));
        }
        if !(0.0..=1.0).contains(&self.min_fraction) {
            return bad(format!("min_fraction = {} must be in [0, 1]", self.min_fraction));
        }
        if self.sample_every == 0 {
            return bad("sample_every = 0: sample at least every window (e.g. 5)".into());
        }
        Ok(())
    }
}

/// `fraction · total` computed exactly from the decimal the user typed (`0.55 · 1500` is 825,
/// where floating point gives 825.0000000000001).
fn of_run(fraction: f64, total: u64) -> BigRational {
    exact::decimal(fraction).unwrap_or_else(BigRational::zero) * BigRational::from_integer(total.into())
}

/// `round(fraction · total)`, at least 1.
fn iterations(fraction: f64, total: u64) -> u64 {
    of_run(fraction, total).round().to_integer().to_u64().unwrap_or(u64::MAX).max(1)
}

/// One unit's part of the state. In JSON the two sums are decimal strings, which Rust parses
/// back to the same bits (serde_json's own float parser is best-effort and could move a resumed
/// run's signal by an ulp).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UnitSignal {
    /// Sum of the gradient norms sampled in the current window.
    #[serde(with = "f64_text")]
    pub sum: f64,
    /// Samples in the current window.
    pub samples: u64,
    /// The previous window's mean norm.
    #[serde(with = "f64_text_option")]
    pub previous: Option<f64>,
    /// The iteration at which the unit started to leave.
    pub ramp_start: Option<u64>,
}

/// `f64` as its shortest round-trip decimal string.
mod f64_text {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v:?}"))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        String::deserialize(d)?.parse().map_err(D::Error::custom)
    }
}

/// `Option<f64>` as [`f64_text`] or null.
mod f64_text_option {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_some(&format!("{v:?}")),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        Option::<String>::deserialize(d)?.map(|t| t.parse().map_err(D::Error::custom)).transpose()
    }
}

/// What a checkpoint saves of an adaptive policy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AdaptiveState {
    /// The window being sampled (0-based).
    pub window: u64,
    /// Per unit, in forward order.
    pub units: Vec<UnitSignal>,
}

/// A unit starting to leave training.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Decision {
    /// The iteration at which its ramp starts (the end of the window that decided).
    pub iteration: u64,
    /// The unit.
    pub unit: usize,
    /// Its signal `r_i(k)`.
    pub change: f64,
    /// The threshold it fell below.
    pub threshold: f64,
    /// The window's mean gradient norm `G_i(k)`.
    pub norm: f64,
    /// The first iteration at which it is frozen.
    pub frozen_from: u64,
}

/// The signal of every unit at the end of one window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WindowSignal {
    /// The first iteration after the window.
    pub iteration: u64,
    /// Each unit's mean sampled gradient norm (`None`: no samples, the unit is leaving).
    pub norms: Vec<Option<f64>>,
    /// Each unit's relative change against the window before.
    pub changes: Vec<Option<f64>>,
}

/// The adaptive policy for `N` units over a run of `T` iterations (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct Adaptive {
    config: AdaptiveConfig,
    base_lr: f64,
    total: u64,
    window: u64,
    ramp: u64,
    min_start: u64,
    state: AdaptiveState,
    decisions: Vec<Decision>,
    signals: Vec<WindowSignal>,
}

impl Adaptive {
    /// The policy of `config` with base rate `base_lr` for `num_units` units over
    /// `total_iterations` iterations.
    pub fn new(
        config: AdaptiveConfig,
        base_lr: f64,
        num_units: usize,
        total_iterations: u64,
    ) -> Result<Self, ScheduleError> {
        if num_units == 0 {
            return Err(ScheduleError::NoUnits);
        }
        if total_iterations == 0 {
            return Err(ScheduleError::NoIterations);
        }
        if !(base_lr > 0.0 && base_lr.is_finite()) {
            return Err(ScheduleError::BadLearningRate(base_lr));
        }
        config.validate(total_iterations)?;
        Ok(Self {
            config,
            base_lr,
            total: total_iterations,
            window: iterations(config.window, total_iterations),
            ramp: iterations(config.ramp, total_iterations),
            min_start: of_run(config.min_fraction, total_iterations).ceil().to_integer().to_u64().unwrap_or(u64::MAX),
            state: AdaptiveState { window: 0, units: vec![UnitSignal::default(); num_units] },
            decisions: Vec::new(),
            signals: Vec::new(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &AdaptiveConfig {
        &self.config
    }

    /// Number of units `N`.
    pub fn num_units(&self) -> usize {
        self.state.units.len()
    }

    /// Total iterations `T`.
    pub fn total_iterations(&self) -> u64 {
        self.total
    }

    /// Window length `W` in iterations.
    pub fn window_iterations(&self) -> u64 {
        self.window
    }

    /// Ramp length `R` in iterations.
    pub fn ramp_iterations(&self) -> u64 {
        self.ramp
    }

    /// The global cosine at iteration `j`: the head's rate, and every unit's until it leaves.
    pub fn global_lr(&self, j: u64) -> f64 {
        0.5 * self.base_lr * (1.0 + (PI * j.min(self.total) as f64 / self.total as f64).cos())
    }

    /// Whether unit `i` has neither started to leave nor frozen.
    fn active(&self, i: usize) -> bool {
        self.state.units[i].ramp_start.is_none()
    }

    /// Whether iteration `j` is a sampling iteration with a unit still to watch.
    pub fn wants_sample(&self, j: u64) -> bool {
        j.is_multiple_of(self.config.sample_every) && (0..self.num_units()).any(|i| self.active(i))
    }

    /// Adds iteration `j`'s gradient norms (`norms[i]` of unit `i`) to the current window;
    /// ignored unless [`wants_sample`](Self::wants_sample)`(j)`. Leaving units are not sampled.
    pub fn observe(&mut self, j: u64, norms: &[f64]) {
        if !self.wants_sample(j) {
            return;
        }
        assert_eq!(norms.len(), self.num_units(), "one gradient norm per unit");
        for (unit, &norm) in self.state.units.iter_mut().zip(norms) {
            if unit.ramp_start.is_none() {
                unit.sum += norm;
                unit.samples += 1;
            }
        }
    }

    /// At the start of iteration `j`: closes every window that ended before `j`, deciding at
    /// each window's end.
    pub fn begin(&mut self, j: u64) {
        while (self.state.window + 1) * self.window <= j {
            let end = (self.state.window + 1) * self.window;
            self.close_window(end);
            self.state.window += 1;
        }
    }

    fn close_window(&mut self, end: u64) {
        let norms: Vec<Option<f64>> =
            self.state.units.iter().map(|u| (u.samples > 0).then(|| u.sum / u.samples as f64)).collect();
        let changes: Vec<Option<f64>> = self
            .state
            .units
            .iter()
            .zip(&norms)
            .map(|(u, now)| match (u.previous, now) {
                (Some(before), Some(now)) if before > 0.0 => Some((now - before).abs() / before),
                _ => None,
            })
            .collect();
        if end >= self.min_start {
            let next = (0..self.num_units()).find(|&i| self.active(i)).unwrap_or(self.num_units());
            for i in next..self.num_units() {
                match changes[i] {
                    Some(change) if change < self.config.threshold => {
                        self.state.units[i].ramp_start = Some(end);
                        self.decisions.push(Decision {
                            iteration: end,
                            unit: i,
                            change,
                            threshold: self.config.threshold,
                            norm: norms[i].unwrap_or(f64::NAN),
                            frozen_from: end + self.ramp + 1,
                        });
                    }
                    _ => break,
                }
            }
        }
        for (unit, now) in self.state.units.iter_mut().zip(&norms) {
            if let Some(now) = now {
                unit.previous = Some(*now);
            }
            unit.sum = 0.0;
            unit.samples = 0;
        }
        self.signals.push(WindowSignal { iteration: end, norms, changes });
    }

    /// Length of the frozen prefix at iteration `j`.
    pub fn frozen_prefix(&self, j: u64) -> usize {
        self.state.units.iter().take_while(|u| u.ramp_start.is_some_and(|s| j > s + self.ramp)).count()
    }

    /// Rate of unit `i` (`i = N`: the head) at iteration `j`; 0 once frozen.
    pub fn lr(&self, i: usize, j: u64) -> f64 {
        let Some(start) = self.state.units.get(i).and_then(|u| u.ramp_start) else {
            return self.global_lr(j);
        };
        if j < start {
            return self.global_lr(j);
        }
        if j > start + self.ramp {
            return 0.0;
        }
        self.global_lr(start) * 0.5 * (1.0 + (PI * (j - start) as f64 / self.ramp as f64).cos())
    }

    /// Every decision so far (since the start, or the restore), in order.
    pub fn decisions(&self) -> &[Decision] {
        &self.decisions
    }

    /// Every closed window's signal so far (since the start, or the restore).
    pub fn signals(&self) -> &[WindowSignal] {
        &self.signals
    }

    /// The state, for a checkpoint.
    pub fn state(&self) -> AdaptiveState {
        self.state.clone()
    }

    /// Continues from a checkpoint's state.
    ///
    /// # Panics
    /// If `state` is for another number of units.
    pub fn restore(&mut self, state: AdaptiveState) {
        assert_eq!(state.units.len(), self.num_units(), "the adaptive state is for another number of units");
        self.state = state;
    }
}
