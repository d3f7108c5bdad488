//! The adaptive policy: a unit freezes when a signal says it has stopped learning.
//!
//! **Signals** ([`Signal`]). Every `sample_every` iterations the policy is handed a
//! measurement of every unit still training; the run is cut into windows of
//! `W = round(window · T)` iterations, and at the end of window `k` each unit's window gives
//! one number compared with `threshold`:
//!
//! * [`Signal::GradientNorm`]: the unit's gradient norm `‖g_i‖` (L2 over its trainable
//!   parameters, the batch's gradient before the optimizer). The number is the relative change
//!   `r_i(k) = |G_i(k) − G_i(k−1)| / G_i(k−1)` of the window-mean norm `G_i(k)` (after
//!   AutoFreeze, Liu et al. 2021).
//! * [`Signal::Drift`]: a sketch of the unit's output on a fixed probe batch
//!   ([`crate::drift`]); each measurement gives the unit's drift `d` since the one before (the
//!   relative L2 change of its output) and the rates `η` of the updates in between. The number
//!   is the **remaining drift** `P_i(k) = (Σd / Ση) · Σ_{j ≥ end} η_global(j)`: the drift per
//!   unit of rate seen in the window (the unit's plasticity) times the rate the rest of the run
//!   would still apply — how much more the unit's output would move if it kept training.
//!
//! **Decision.** A unit's count of consecutive windows whose number fell below `threshold`
//! must reach `patience`; at the end of a window, the first unit not yet leaving training
//! starts to leave when its count has and at least `min_fraction · T` iterations have run;
//! then the next unit is tested against the same window, and so on: units leave in forward
//! order only, so the frozen set stays a prefix.
//!
//! **Rates.** Every unit that has not started to leave, and the head, follow the baseline's
//! global cosine `½ α (1 + cos(π j / T))`. A unit that starts to leave at iteration `s` anneals
//! from the global rate at `s` to 0 over `R = round(ramp · T)` iterations (a half cosine, no
//! abrupt stop at a high rate) and is frozen from `s + R + 1` on, as FreezeOut's unit is frozen
//! the iteration after its rate reaches 0.
//!
//! Every window's signal ([`WindowSignal`]) and every decision ([`Decision`]: unit, signal,
//! threshold, iteration) is recorded, so a run's log shows why each unit froze. The state
//! ([`AdaptiveState`]) is a few numbers per unit (with the drift signal, also the last sketch):
//! a checkpoint saves it and a resumed run decides exactly as an uninterrupted one.

use super::PolicyError;
use crate::schedule::{ScheduleError, exact};
use num_rational::BigRational;
use num_traits::{ToPrimitive, Zero};
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// The drift policy's default threshold: a unit leaves once the rest of the run would move its
/// output by less than one relative change in all (on the WRN-10-1 trace, `bench-harness/POLICIES.md`,
/// that is past 65–80 % of the run, the first unit first, the last unit last).
const DRIFT_THRESHOLD: f64 = 1.0;

/// What the adaptive policy's decisions are made from (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Signal {
    /// The relative change of a unit's window-mean gradient norm (the first adaptive policy).
    #[default]
    GradientNorm,
    /// A unit's remaining representation drift on a probe batch ([`crate::drift`]).
    Drift,
}

impl Signal {
    /// `gradient-norm` or `drift`.
    pub fn name(self) -> &'static str {
        match self {
            Signal::GradientNorm => "gradient-norm",
            Signal::Drift => "drift",
        }
    }
}

/// The adaptive policy's settings. In a config file a missing field takes the default of the
/// file's `signal` ([`AdaptiveConfig::default`] or [`AdaptiveConfig::drift`]); a gradient-norm
/// policy with patience 1 is written without `signal` and `patience`, as before they existed.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(into = "AdaptiveFields", from = "AdaptiveFields")]
pub struct AdaptiveConfig {
    /// A unit may start to leave when its signal falls below this (gradient norm: the relative
    /// change of its window mean; drift: its remaining drift).
    pub threshold: f64,
    /// Window length as a fraction of the run (`W = round(window · T)` iterations).
    pub window: f64,
    /// Iterations between two measurements (the signal's cost: gradient norm, one norm per
    /// parameter tensor and one device read; drift, one inference forward of the probe).
    pub sample_every: u64,
    /// No unit starts to leave before this fraction of the run.
    pub min_fraction: f64,
    /// Length of a leaving unit's rate ramp to 0, as a fraction of the run.
    pub ramp: f64,
    /// What the decisions are made from.
    pub signal: Signal,
    /// Consecutive windows a unit's signal must stay below `threshold` before it may leave.
    pub patience: u64,
}

impl Default for AdaptiveConfig {
    /// The gradient-norm policy, chosen on WRN-10-1, CIFAR-10 (`bench-harness/POLICIES.md`).
    fn default() -> Self {
        Self {
            threshold: 0.05,
            window: 0.05,
            sample_every: 5,
            min_fraction: 0.4,
            ramp: 0.05,
            signal: Signal::GradientNorm,
            patience: 1,
        }
    }
}

/// The file form of [`AdaptiveConfig`]: every field optional, defaults by signal.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdaptiveFields {
    #[serde(skip_serializing_if = "Option::is_none")]
    threshold: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    window: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sample_every: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    min_fraction: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ramp: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signal: Option<Signal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    patience: Option<u64>,
}

impl From<AdaptiveConfig> for AdaptiveFields {
    fn from(c: AdaptiveConfig) -> Self {
        let before_signals = c.signal == Signal::GradientNorm && c.patience == 1;
        Self {
            threshold: Some(c.threshold),
            window: Some(c.window),
            sample_every: Some(c.sample_every),
            min_fraction: Some(c.min_fraction),
            ramp: Some(c.ramp),
            signal: (!before_signals).then_some(c.signal),
            patience: (!before_signals).then_some(c.patience),
        }
    }
}

impl From<AdaptiveFields> for AdaptiveConfig {
    fn from(f: AdaptiveFields) -> Self {
        let d = AdaptiveConfig::of(f.signal.unwrap_or_default());
        Self {
            threshold: f.threshold.unwrap_or(d.threshold),
            window: f.window.unwrap_or(d.window),
            sample_every: f.sample_every.unwrap_or(d.sample_every),
            min_fraction: f.min_fraction.unwrap_or(d.min_fraction),
            ramp: f.ramp.unwrap_or(d.ramp),
            signal: d.signal,
            patience: f.patience.unwrap_or(d.patience),
        }
    }
}

impl AdaptiveConfig {
    /// The drift policy's defaults, chosen from the drift traced over a baseline run of
    /// WRN-10-1 on CIFAR-10 (`bench-harness/POLICIES.md`).
    pub fn drift() -> Self {
        Self {
            threshold: DRIFT_THRESHOLD,
            window: 0.05,
            sample_every: 25,
            min_fraction: 0.25,
            ramp: 0.05,
            signal: Signal::Drift,
            patience: 2,
        }
    }

    /// The defaults of `signal`.
    pub fn of(signal: Signal) -> Self {
        match signal {
            Signal::GradientNorm => Self::default(),
            Signal::Drift => Self::drift(),
        }
    }

    /// Checks the ranges for a run of `total` iterations.
    pub fn validate(&self, total: u64) -> Result<(), PolicyError> {
        self.check_ranges()?;
        let window = iterations(self.window, total);
        if window < self.sample_every {
            return Err(PolicyError::Setting(format!(
                "a window of {window} iterations ({} of {total}) holds no measurement every {} iterations: \
                 raise window or lower sample_every",
                self.window, self.sample_every
            )));
        }
        Ok(())
    }

    /// Checks the ranges that do not depend on the run's length.
    pub fn check_ranges(&self) -> Result<(), PolicyError> {
        let bad = |what: String| Err(PolicyError::Setting(what));
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
            return bad("sample_every = 0: measure at least once a window (e.g. 5)".into());
        }
        if self.patience == 0 {
            return bad("patience = 0: a unit needs at least 1 window below the threshold (e.g. 2)".into());
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

/// One unit's part of the state. In JSON the sums are decimal strings, which Rust parses back
/// to the same bits (serde_json's own float parser is best-effort and could move a resumed
/// run's signal by an ulp), and a sketch is its `f32`s' bit patterns. The drift signal's
/// fields (`rates`, `below`, `sketch`) are left out of a gradient-norm policy's state and
/// read back as 0, 0 and none where absent (so states written before them read as they were).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct UnitSignal {
    /// Sum of the measurements of the current window (gradient norms, or drifts).
    #[serde(with = "f64_text")]
    pub(crate) sum: f64,
    /// Measurements in the current window.
    pub(crate) samples: u64,
    /// The previous window's mean gradient norm (gradient-norm signal).
    #[serde(with = "f64_text_option")]
    pub(crate) previous: Option<f64>,
    /// The iteration at which the unit started to leave.
    pub(crate) ramp_start: Option<u64>,
    /// Sum of the unit's rates over the updates the current window's drifts span (drift).
    #[serde(default, with = "f64_text", skip_serializing_if = "is_zero")]
    pub(crate) rates: f64,
    /// Consecutive windows whose signal was below the threshold.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub(crate) below: u64,
    /// The last sketch of the unit's output on the probe and its iteration (drift).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) sketch: Option<Sketch>,
}

/// A sketch of a unit's output on the probe ([`crate::drift`]) and the iteration whose update
/// it followed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Sketch {
    /// The iteration.
    pub(crate) iteration: u64,
    /// The sketch, `f32` values as the device computed them.
    #[serde(with = "f32_bits")]
    pub(crate) values: Vec<f32>,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

/// `Vec<f32>` as the values' bit patterns (exact in any JSON reader).
mod f32_bits {
    use serde::{Deserialize, Deserializer, Serializer};
    pub(super) fn serialize<S: Serializer>(v: &[f32], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|x| x.to_bits()))
    }
    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f32>, D::Error> {
        Ok(Vec::<u32>::deserialize(d)?.into_iter().map(f32::from_bits).collect())
    }
}

/// `f64` as its shortest round-trip decimal string.
mod f64_text {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    pub(super) fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v:?}"))
    }
    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        String::deserialize(d)?.parse().map_err(D::Error::custom)
    }
}

/// `Option<f64>` as [`f64_text`] or null.
mod f64_text_option {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    pub(super) fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_some(&format!("{v:?}")),
            None => s.serialize_none(),
        }
    }
    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        Option::<String>::deserialize(d)?.map(|t| t.parse().map_err(D::Error::custom)).transpose()
    }
}

/// What a checkpoint saves of an adaptive policy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AdaptiveState {
    /// The window being sampled (0-based).
    pub(crate) window: u64,
    /// Per unit, in forward order.
    pub(crate) units: Vec<UnitSignal>,
}

/// A unit starting to leave training.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Decision {
    /// The iteration at which its ramp starts (the end of the window that decided).
    pub iteration: u64,
    /// The unit.
    pub unit: usize,
    /// Its signal in that window (gradient norm: `r_i(k)`; drift: the remaining drift).
    pub signal: f64,
    /// The threshold it fell below.
    pub threshold: f64,
    /// The window's mean measurement (gradient norm: `G_i(k)`; drift: the mean drift between
    /// two measurements).
    pub measure: f64,
    /// The first iteration at which it is frozen.
    pub frozen_from: u64,
}

/// The signal of every unit at the end of one window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WindowSignal {
    /// The first iteration after the window.
    pub iteration: u64,
    /// Each unit's mean measurement (`None`: none, e.g. the unit is leaving).
    pub measures: Vec<Option<f64>>,
    /// Each unit's signal, compared with the threshold.
    pub signals: Vec<Option<f64>>,
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
    ) -> Result<Self, PolicyError> {
        if num_units == 0 {
            return Err(ScheduleError::NoUnits.into());
        }
        if total_iterations == 0 {
            return Err(ScheduleError::NoIterations.into());
        }
        if !(base_lr > 0.0 && base_lr.is_finite()) {
            return Err(ScheduleError::BadLearningRate(base_lr).into());
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
    #[cfg(test)]
    pub(crate) fn window_iterations(&self) -> u64 {
        self.window
    }

    /// Ramp length `R` in iterations.
    #[cfg(test)]
    pub(crate) fn ramp_iterations(&self) -> u64 {
        self.ramp
    }

    /// The global cosine at iteration `j`: the head's rate, and every unit's until it leaves.
    pub fn global_lr(&self, j: u64) -> f64 {
        0.5 * self.base_lr * (1.0 + (PI * j.min(self.total) as f64 / self.total as f64).cos())
    }

    /// The signal.
    pub fn signal(&self) -> Signal {
        self.config.signal
    }

    /// The units still to watch: those that have not started to leave (a suffix, since units
    /// leave in forward order).
    pub fn watched(&self) -> std::ops::Range<usize> {
        let first = self.state.units.iter().take_while(|u| u.ramp_start.is_some()).count();
        first..self.num_units()
    }

    /// Whether iteration `j` is a measuring iteration with a unit still to watch.
    pub(crate) fn wants_sample(&self, j: u64) -> bool {
        j.is_multiple_of(self.config.sample_every) && !self.watched().is_empty()
    }

    /// Adds iteration `j`'s gradient norms (`norms[i]` of unit `i`) to the current window;
    /// ignored unless this is a gradient-norm policy and it samples iteration `j` (every `sample_every` iterations).
    /// Leaving units are not sampled.
    pub fn observe(&mut self, j: u64, norms: &[f64]) {
        if self.config.signal != Signal::GradientNorm || !self.wants_sample(j) {
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

    /// Adds the sketches of the watched units' outputs after iteration `j`'s update
    /// (`sketches[k]` of unit `watched().start + k`): each unit's drift since its last sketch,
    /// and the rates of the updates in between, join the current window. Ignored unless this is
    /// a drift policy and it samples iteration `j` (every `sample_every` iterations).
    pub fn observe_sketches(&mut self, j: u64, sketches: &[Vec<f32>]) {
        if self.config.signal != Signal::Drift || !self.wants_sample(j) {
            return;
        }
        let watched = self.watched();
        assert_eq!(sketches.len(), watched.len(), "one sketch per watched unit");
        for (i, values) in watched.zip(sketches) {
            let rates: f64 = match &self.state.units[i].sketch {
                Some(before) => (before.iteration + 1..=j).map(|t| self.lr(i, t)).sum(),
                None => 0.0,
            };
            let unit = &mut self.state.units[i];
            if let Some(before) = &unit.sketch {
                unit.sum += relative_change(values, &before.values);
                unit.rates += rates;
                unit.samples += 1;
            }
            unit.sketch = Some(Sketch { iteration: j, values: values.clone() });
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

    /// Each unit's window measurement and signal (see the module docs).
    fn window_signals(&self, end: u64) -> (Vec<Option<f64>>, Vec<Option<f64>>) {
        let units = &self.state.units;
        let measures: Vec<Option<f64>> =
            units.iter().map(|u| (u.samples > 0).then(|| u.sum / u.samples as f64)).collect();
        let signals = match self.config.signal {
            Signal::GradientNorm => units
                .iter()
                .zip(&measures)
                .map(|(u, now)| match (u.previous, now) {
                    (Some(before), Some(now)) if before > 0.0 => Some((now - before).abs() / before),
                    _ => None,
                })
                .collect(),
            Signal::Drift => {
                let remaining: f64 = (end..self.total).map(|t| self.global_lr(t)).sum();
                units.iter().map(|u| (u.samples > 0 && u.rates > 0.0).then(|| u.sum / u.rates * remaining)).collect()
            }
        };
        (measures, signals)
    }

    fn close_window(&mut self, end: u64) {
        let (measures, signals) = self.window_signals(end);
        for (unit, signal) in self.state.units.iter_mut().zip(&signals) {
            match signal {
                Some(s) if *s < self.config.threshold => unit.below += 1,
                Some(_) => unit.below = 0,
                None => {}
            }
        }
        if end >= self.min_start {
            for i in self.watched() {
                if self.state.units[i].below < self.config.patience {
                    break;
                }
                self.state.units[i].ramp_start = Some(end);
                self.decisions.push(Decision {
                    iteration: end,
                    unit: i,
                    signal: signals[i].unwrap_or(f64::NAN),
                    threshold: self.config.threshold,
                    measure: measures[i].unwrap_or(f64::NAN),
                    frozen_from: end + self.ramp + 1,
                });
            }
        }
        for (unit, now) in self.state.units.iter_mut().zip(&measures) {
            if let (Signal::GradientNorm, Some(now)) = (self.config.signal, now) {
                unit.previous = Some(*now);
            }
            unit.sum = 0.0;
            unit.rates = 0.0;
            unit.samples = 0;
        }
        self.signals.push(WindowSignal { iteration: end, measures, signals });
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

/// The relative L2 change `‖now − before‖ / ‖now‖` of two sketches of the same unit (summed
/// in `f64`; 0 when `now` is all zeros).
pub fn relative_change(now: &[f32], before: &[f32]) -> f64 {
    assert_eq!(now.len(), before.len(), "two sketches of one width");
    let (mut diff, mut norm) = (0.0, 0.0);
    for (&a, &b) in now.iter().zip(before) {
        let (a, b) = (a as f64, b as f64);
        diff += (a - b) * (a - b);
        norm += a * a;
    }
    if norm > 0.0 { (diff / norm).sqrt() } else { 0.0 }
}
