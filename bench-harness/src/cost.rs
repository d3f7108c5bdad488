//! Predicted savings of a schedule.
//!
//! * the *reference formula* `Σ c_i (1 − t_i) / (2 Σ c_i)` (× 1.3 for linear), and the reference
//!   code's own `calc_speedup` for DenseNet-BC, reproduced exactly;
//! * *our FLOP prediction*: forward, data-gradient and weight-gradient multiply-accumulates of
//!   every layer; a frozen unit costs only its forward pass, and the first active unit needs no
//!   data gradient for its first layer (its input is untracked);
//! * a *measured* model: step times at a few frozen-prefix lengths, interpolated, summed over
//!   the schedule's iterations.

use burn_freezeout::models::spec::{ArchSpec, Layer};
use burn_freezeout::{Scaling, Schedule};

/// Per-unit cost in multiply-accumulates per example.
#[derive(Clone, Debug, PartialEq)]
pub struct UnitCost {
    /// Forward.
    pub forward: f64,
    /// Gradient with respect to the unit's input and inner activations.
    pub backward_data: f64,
    /// Gradient with respect to the weights.
    pub backward_weight: f64,
    /// The data gradient of the unit's first layer (skipped when the unit is the first active).
    pub first_layer_data: f64,
}

/// Costs of all units and the head of a model.
#[derive(Clone, Debug, PartialEq)]
pub struct CostModel {
    /// Units in forward order.
    pub units: Vec<UnitCost>,
    /// The head (always trained).
    pub head: UnitCost,
}

fn layer_costs(layers: &[Layer]) -> UnitCost {
    let mut c = UnitCost { forward: 0.0, backward_data: 0.0, backward_weight: 0.0, first_layer_data: 0.0 };
    for (i, l) in layers.iter().enumerate() {
        let m = l.macs() as f64;
        // Matmul-like layers: data and weight gradients each cost one forward; BN: about two
        // passes over the elements for the data gradient, one for its parameters.
        let (data, weight) = if l.is_matmul() { (m, m) } else { (2.0 * m, m) };
        c.forward += m;
        c.backward_data += data;
        c.backward_weight += weight;
        if i == 0 {
            c.first_layer_data = data;
        }
    }
    c
}

impl CostModel {
    /// From a model description.
    pub fn from_spec(spec: &ArchSpec) -> Self {
        Self { units: spec.units.iter().map(|u| layer_costs(&u.layers)).collect(), head: layer_costs(&spec.head) }
    }

    /// Cost of one training step per example with the first `k` units frozen.
    pub fn step(&self, k: usize) -> f64 {
        let forward: f64 = self.units.iter().map(|u| u.forward).sum::<f64>() + self.head.forward;
        let backward: f64 =
            self.units[k.min(self.units.len())..].iter().map(|u| u.backward_data + u.backward_weight).sum::<f64>()
                + self.head.backward_data
                + self.head.backward_weight;
        // The first active unit (or the head) gets an untracked input: no data gradient for its
        // first layer. With nothing frozen that is unit 0, whose input is the image.
        let first = self.units.get(k).unwrap_or(&self.head).first_layer_data;
        forward + backward - first
    }

    /// Predicted saving of `schedule` in wall-clock, if time were proportional to FLOPs.
    pub fn predicted_saving(&self, schedule: &Schedule) -> f64 {
        saving(schedule, |k| self.step(k))
    }

    /// Forward MACs per unit (the `c_i` of the reference formula).
    pub fn forward_costs(&self) -> Vec<f64> {
        self.units.iter().map(|u| u.forward).collect()
    }
}

/// `1 − Σ_j cost(k_j) / (T · cost(0))`, summed interval by interval over the freeze events.
pub fn saving(schedule: &Schedule, cost: impl Fn(usize) -> f64) -> f64 {
    let total = schedule.total_iterations;
    let mut spent = 0.0;
    let (mut j, mut k) = (0u64, schedule.frozen_prefix(0));
    while j < total {
        // Next iteration at which the frozen prefix grows.
        let next = schedule.units()[k..]
            .iter()
            .map(|u| u.max_iter.saturating_add(1))
            .find(|&f| f > j)
            .unwrap_or(total)
            .min(total);
        spent += (next - j) as f64 * cost(k);
        j = next;
        k = schedule.frozen_prefix(j.min(total.saturating_sub(1)));
    }
    1.0 - spent / (total as f64 * cost(0))
}

/// The reference's speed-up estimate of `schedule`, `Σ c_i (1 − t_i) / (2 Σ c_i)` (× 1.3 for
/// linear scaling, as the reference code does), for per-unit forward costs `c_i`. `None` for a
/// baseline, or if the costs do not match the units or sum to 0.
pub fn reference_saving(schedule: &Schedule, costs: &[f64]) -> Option<f64> {
    let config = schedule.config?;
    let total: f64 = costs.iter().sum();
    if costs.len() != schedule.num_units() || total <= 0.0 || !total.is_finite() {
        return None;
    }
    let saved: f64 = costs.iter().zip(schedule.units()).map(|(c, p)| c * (1.0 - p.t)).sum();
    let factor = if config.scaling == Scaling::Linear { 1.3 } else { 1.0 };
    Some(factor * saved / (2.0 * total))
}

/// The reference code's `calc_speedup` for DenseNet-BC (`growth`, `per_block` layers per
/// block), reproduced: conv costs of the first conv and the dense layers only (no transitions),
/// `t_i = s(t0 + (1 − t0) i / len(c))`, × 1.3 for linear. It prints 18% for the default.
pub fn reference_calc_speedup(growth: usize, per_block: usize, t0: f64, scaling: Scaling) -> f64 {
    let hw = [32.0f64 * 32.0, 16.0 * 16.0, 8.0 * 8.0];
    let k = growth as f64;
    let mut c = vec![3.0 * 2.0 * k * hw[0] * 9.0];
    let mut n = 2.0f64;
    for size in hw {
        for _ in 0..per_block {
            c.push(n * 4.0 * k * k * size + 4.0 * 9.0 * k * k * size);
            n += 1.0;
        }
        n = (n * 0.5).floor();
    }
    let len = c.len() as f64;
    let total: f64 = c.iter().sum();
    let with: f64 =
        total + c.iter().enumerate().map(|(i, ci)| ci * scaling.apply(t0 + (1.0 - t0) * i as f64 / len)).sum::<f64>();
    let s = 1.0 - with / (2.0 * total);
    if scaling == Scaling::Linear { 1.3 * s } else { s }
}

/// Step times measured at a few frozen-prefix lengths, interpolated linearly between them.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MeasuredCost {
    /// `(frozen units, seconds per step)`, sorted by frozen units, starting at 0.
    pub points: Vec<(usize, f64)>,
}

impl MeasuredCost {
    /// Seconds per step with `k` frozen units.
    pub fn step(&self, k: usize) -> f64 {
        let p = &self.points;
        match p.iter().position(|&(f, _)| f >= k) {
            Some(0) => p[0].1,
            Some(i) if p[i].0 == k => p[i].1,
            Some(i) => {
                let ((k0, t0), (k1, t1)) = (p[i - 1], p[i]);
                t0 + (t1 - t0) * (k - k0) as f64 / (k1 - k0) as f64
            }
            None => p.last().map_or(0.0, |&(_, t)| t),
        }
    }

    /// Saving of `schedule` predicted from the measured step times.
    pub fn predicted_saving(&self, schedule: &Schedule) -> f64 {
        saving(schedule, |k| self.step(k))
    }
}

/// Step costs for the prefix cache's prediction, each a function of the frozen prefix `k`:
/// without a cache, with the prefix skipped (its output given: the limit), through the cache
/// with every sample a hit at the boundary, and through an empty cache (every sample a miss).
pub struct CacheCosts<'a> {
    /// The step without a cache.
    pub uncached: &'a dyn Fn(usize) -> f64,
    /// The step fed the prefix's output (a frozen unit costs nothing).
    pub skipped: &'a dyn Fn(usize) -> f64,
    /// The step through the cache, every sample a hit at the boundary.
    pub cached: &'a dyn Fn(usize) -> f64,
    /// The step through an empty cache: every sample's prefix computed and stored. What it
    /// costs beyond a hit and the prefix's forward is the cost of storing a batch's entries,
    /// paid again wherever an entry is advanced.
    pub missed: &'a dyn Fn(usize) -> f64,
}

/// How a simulated cache builds its entries.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CacheBuild {
    /// `exact` / `reuse`: every visit stores the entry at the boundary (its cost is the
    /// forward the step runs anyway).
    Always,
    /// `shift`: every sample's frozen prefix runs on its padded image, `factor` (its area over
    /// the image's) times the forward, and the map is stored.
    Padded {
        /// Padded area / image area (`(40/32)² = 1.5625` for CIFAR).
        factor: f64,
    },
}

/// Predicted savings with a prefix cache, against the unfrozen uncached step.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct CachePrediction {
    /// Without a cache (FreezeOut alone).
    pub uncached: f64,
    /// With the cache.
    pub cached: f64,
    /// If a frozen unit cost nothing: the limit.
    pub limit: f64,
}

/// Simulates a run of `schedule` over `samples` training samples in batches of `batch`, each
/// epoch visiting every sample once: at iteration `j` with prefix `k` a batch costs
/// `cached(k)` plus, for each sample whose entry stops at `b < k`, `(1/n)·(F(k) − F(b))` (its
/// prefix from `b` on; `F(k) = uncached(k) − skipped(k)`, the frozen prefix's forward), times the
/// build factor of `shift`. Samples are visited in the same order every epoch
/// (the real order is shuffled; the mean cost is the same).
pub fn cached_saving(
    schedule: &Schedule,
    samples: usize,
    batch: usize,
    costs: &CacheCosts,
    build: CacheBuild,
) -> CachePrediction {
    let per_epoch = samples.div_ceil(batch).max(1) as u64;
    let total = schedule.total_iterations;
    let forward = |k: usize| (costs.uncached)(k) - (costs.skipped)(k);
    let store = |k: usize| ((costs.missed)(k) - (costs.cached)(k) - forward(k)).max(0.0);
    let mut entry = vec![0usize; samples];
    let (mut plain, mut cached, mut limit) = (0.0, 0.0, 0.0);
    for j in 0..total {
        let k = schedule.frozen_prefix(j);
        plain += (costs.uncached)(k);
        limit += (costs.skipped)(k);
        if k == 0 {
            cached += (costs.uncached)(0);
            continue;
        }
        let b0 = (j % per_epoch) as usize * batch;
        let rows = b0..(b0 + batch).min(samples);
        let n = rows.len() as f64;
        let mut step = (costs.cached)(k);
        let factor = match build {
            CacheBuild::Always => 1.0,
            CacheBuild::Padded { factor } => factor,
        };
        for s in rows {
            if entry[s] != k {
                step += (factor * (forward(k) - forward(entry[s])) + store(k)) / n;
                entry[s] = k;
            }
        }
        cached += step;
    }
    let base = total as f64 * (costs.uncached)(0);
    CachePrediction { uncached: 1.0 - plain / base, cached: 1.0 - cached / base, limit: 1.0 - limit / base }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn_freezeout::ScheduleConfig;
    use burn_freezeout::models::Preset;

    #[test]
    fn reference_calc_speedup_is_17_8_percent_for_the_default() {
        // DenseNet-BC-76-12: 12 layers per block; the reference prints round(100 s) = 18%.
        let s = reference_calc_speedup(12, 12, 0.8, Scaling::Cubic);
        assert!((s - 0.177_813_302).abs() < 1e-8, "{s}");
        assert_eq!((100.0 * s).round(), 18.0);
    }

    #[test]
    fn the_reference_formula_weighs_each_unit_by_its_unspent_budget() {
        let s = Schedule::freezeout(ScheduleConfig::default(), 2, 100).unwrap();
        // t = 0.512 and 0.9³ = 0.729; costs 1 and 3: (1 · 0.488 + 3 · 0.271) / 8.
        let got = reference_saving(&s, &[1.0, 3.0]).unwrap();
        assert!((got - (0.488 + 3.0 * 0.271) / 8.0).abs() < 1e-15, "{got}");
        assert_eq!(reference_saving(&s, &[1.0]), None, "one cost per unit");
        assert_eq!(reference_saving(&s, &[0.0, 0.0]), None);
        let lin = ScheduleConfig { scaling: Scaling::Linear, ..ScheduleConfig::default() };
        let got = reference_saving(&Schedule::freezeout(lin, 2, 100).unwrap(), &[1.0, 1.0]).unwrap();
        assert!((got - 1.3 * (0.2 + 0.1) / 4.0).abs() < 1e-15, "{got}");
        assert_eq!(reference_saving(&Schedule::baseline(0.1, 2, 100).unwrap(), &[1.0, 1.0]), None);
    }

    #[test]
    fn frozen_units_cost_only_their_forward() {
        let model = CostModel::from_spec(&Preset::DenseNetBc { depth: 40, growth: 12 }.spec(10));
        let n = model.units.len();
        let all = model.step(0);
        let none = model.step(n);
        let fwd: f64 = model.units.iter().map(|u| u.forward).sum::<f64>() + model.head.forward;
        // With every unit frozen only the forward pass and the head's backward remain.
        let head_bwd = model.head.backward_data + model.head.backward_weight - model.head.first_layer_data;
        assert!((none - (fwd + head_bwd)).abs() < 1e-6 * none);
        // Freezing more never costs more, and training everything is about 3× the forward.
        assert!((0..n).all(|k| model.step(k + 1) <= model.step(k)));
        assert!(all > 2.5 * fwd && all < 3.1 * fwd, "{all} vs {fwd}");
    }

    /// Worked by hand: 2 units, 4 samples in batches of 2 (2 iterations per epoch), 4 epochs;
    /// linear t0 0.5 freezes unit 0 from iteration 5 and unit 1 from 7 (budgets 4 and 6).
    #[test]
    fn the_cache_prediction_pays_each_frozen_unit_once_per_sample() {
        let cfg = ScheduleConfig { t0: 0.5, scaling: Scaling::Linear, ..Default::default() };
        let s = Schedule::freezeout(cfg, 2, 8).unwrap();
        assert_eq!((0..8).map(|j| s.frozen_prefix(j)).collect::<Vec<_>>(), [0, 0, 0, 0, 0, 1, 1, 2]);
        // Step 10 unfrozen; frozen, unit 0's forward costs 2 and unit 1's 1 (the rest of the
        // step 3 and 0); a hit costs 0.5 more than a skipped prefix.
        let uncached = |k: usize| [10.0, 5.0, 3.0][k];
        let skipped = |k: usize| [10.0, 3.0, 0.0][k];
        let cached = |k: usize| skipped(k) + 0.5 * (k > 0) as u8 as f64;
        // An empty cache's step: the hit, the prefix's forward, nothing to store.
        let missed = |k: usize| cached(k) + uncached(k) - skipped(k);
        let costs = CacheCosts { uncached: &uncached, skipped: &skipped, cached: &cached, missed: &missed };
        let p = cached_saving(&s, 4, 2, &costs, CacheBuild::Always);
        // Iterations 0-4: 10 each. 5 (k 1, samples 2, 3 new): 3.5 + 2. 6 (k 1, samples 0, 1
        // new): 3.5 + 2. 7 (k 2, samples 2, 3 at 1): 0.5 + (3 − 2) = 1.5.
        let expected = 1.0 - (50.0 + 5.5 + 5.5 + 1.5) / 80.0;
        assert!((p.cached - expected).abs() < 1e-12, "{p:?}");
        assert!((p.uncached - (1.0 - (50.0 + 5.0 + 5.0 + 3.0) / 80.0)).abs() < 1e-12);
        assert!((p.limit - (1.0 - (50.0 + 3.0 + 3.0) / 80.0)).abs() < 1e-12);
        // `shift`: each frozen forward on the padded image, 1.5625 times the cost.
        let p = cached_saving(&s, 4, 2, &costs, CacheBuild::Padded { factor: 1.5625 });
        let expected = 1.0 - (50.0 + 2.0 * (3.5 + 1.5625 * 2.0) + 0.5 + 1.5625) / 80.0;
        assert!((p.cached - expected).abs() < 1e-12, "{p:?}");
        // Storing a batch's entries costs 0.8 more than its miss's forward: paid by every step
        // that writes entries (5, 6 and the advance at 7), in proportion to the rows written.
        let missed = |k: usize| cached(k) + uncached(k) - skipped(k) + 0.8;
        let costs = CacheCosts { uncached: &uncached, skipped: &skipped, cached: &cached, missed: &missed };
        let p = cached_saving(&s, 4, 2, &costs, CacheBuild::Always);
        let expected = 1.0 - (50.0 + 5.5 + 5.5 + 1.5 + 3.0 * 0.8) / 80.0;
        assert!((p.cached - expected).abs() < 1e-12, "{p:?}");
    }

    #[test]
    fn saving_sums_interval_by_interval() {
        let s = Schedule::freezeout(ScheduleConfig { t0: 0.5, scaling: Scaling::Linear, ..Default::default() }, 2, 10)
            .unwrap();
        // t = 0.5, 0.75: budgets 5 and 7.5; unit 0 frozen from 6, unit 1 from 8 (of 10).
        let cost = |k: usize| [3.0, 2.0, 1.0][k];
        let expected = 1.0 - (6.0 * 3.0 + 2.0 * 2.0 + 2.0 * 1.0) / 30.0;
        assert!((saving(&s, cost) - expected).abs() < 1e-12);
        let m = MeasuredCost { points: vec![(0, 3.0), (2, 1.0)] };
        assert_eq!(m.step(1), 2.0);
        assert!((m.predicted_saving(&s) - expected).abs() < 1e-12);
    }
}
