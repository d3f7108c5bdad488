//! FreezeOut's cost in error against the length of training (the `length` preset): per
//! schedule and length, the test error minus the same seed's baseline of the same length, and a
//! fit of `Δ(E) = c + d / E` (a cost that settles towards `c` as runs get longer) that
//! extrapolates it to the paper's 100 epochs, with its uncertainty and a check of the model.

use super::report::baseline_of;
use super::{Row, setting_of};
use crate::stats::Stat;
use serde::Serialize;
use std::collections::BTreeMap;

/// The paper's training length, where the extrapolation is read.
pub const PAPER_EPOCHS: usize = 100;

/// One schedule at one length: Δ test error (fraction) over the seeds, each run paired with the
/// baseline of its seed and length.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrendPoint {
    /// The strategy (`cubic-scaled`, ...).
    pub strategy: String,
    /// Its t0.
    pub setting: Option<f64>,
    /// Epochs of the runs.
    pub epochs: usize,
    /// Δ test error over the seeds.
    pub delta: Stat,
}

/// `Δ(E) = c + d / E`, fitted to one schedule's points by least squares with each point weighted
/// by its number of seeds; the seed-to-seed spread (pooled over every point with two seeds or
/// more) is the noise, so the covariance does not rest on the fit's own residuals.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct TrendFit {
    /// The asymptote: Δ for very long runs.
    pub c: f64,
    /// How much more a run of one epoch pays.
    pub d: f64,
    /// Covariance of `(c, d)`.
    pub cov: [[f64; 2]; 2],
    /// The pooled seed-to-seed standard deviation of Δ.
    pub sigma: f64,
    /// χ² of the residuals against that noise over the degrees of freedom (≈ 1 when the model
    /// fits as well as the seeds' spread allows; ≫ 1: the trend is not `c + d / E`).
    pub chi2_dof: f64,
    /// Lengths fitted.
    pub lengths: usize,
}

impl TrendFit {
    /// Δ at `epochs` and its standard error, widened by [`scale`](Self::scale).
    pub fn at(&self, epochs: f64) -> (f64, f64) {
        let x = 1.0 / epochs;
        let var = self.cov[0][0] + 2.0 * x * self.cov[0][1] + x * x * self.cov[1][1];
        (self.c + self.d * x, self.scale() * var.max(0.0).sqrt())
    }

    /// The asymptote's standard error, widened by [`scale`](Self::scale).
    pub fn c_se(&self) -> f64 {
        self.scale() * self.cov[0][0].max(0.0).sqrt()
    }

    /// `√(χ²/dof)` when the points scatter about the curve more than the seeds' spread allows
    /// (χ²/dof > 1), else 1: the factor the standard errors are widened by, so that an interval
    /// rests on the larger of the two noises (the Particle Data Group's scale factor).
    pub fn scale(&self) -> f64 {
        self.chi2_dof.max(1.0).sqrt()
    }
}

/// Every (schedule, length) with at least one run paired with its baseline; baselines and
/// adaptive policies are left out. Sorted by strategy, setting, then length.
pub fn points(rows: &[Row]) -> Vec<TrendPoint> {
    type Key = (String, String, usize);
    let mut groups: BTreeMap<Key, (Option<f64>, Vec<f64>)> = BTreeMap::new();
    for r in rows.iter().filter(|r| !r.config.policy.is_baseline() && r.config.policy.adaptive().is_none()) {
        let (Some(err), Some(base)) = (r.summary.test_error, baseline_of(rows, r).and_then(|b| b.summary.test_error))
        else {
            continue;
        };
        let setting = setting_of(&r.config);
        let key = (r.strategy.clone(), setting.map_or(String::new(), |s| format!("{s}")), r.config.epochs);
        groups.entry(key).or_insert((setting, Vec::new())).1.push(err - base);
    }
    groups
        .into_iter()
        .filter_map(|((strategy, _, epochs), (setting, deltas))| {
            Some(TrendPoint { strategy, setting, epochs, delta: Stat::of(&deltas)? })
        })
        .collect()
}

/// The pooled standard deviation of Δ over every point with two seeds or more; `None` without.
pub fn pooled_sigma(points: &[TrendPoint]) -> Option<f64> {
    let (ss, dof) = points
        .iter()
        .filter(|p| p.delta.n > 1)
        .fold((0.0, 0usize), |(ss, dof), p| (ss + p.delta.std.powi(2) * (p.delta.n - 1) as f64, dof + p.delta.n - 1));
    (dof > 0).then(|| (ss / dof as f64).sqrt())
}

/// The fit of one schedule's points (see [`TrendFit`]); `None` with fewer than three lengths
/// (two points fix the curve exactly and say nothing about whether it is the right one) or
/// without a seed spread to weigh them by.
pub fn fit(points: &[&TrendPoint], sigma: f64) -> Option<TrendFit> {
    if points.len() < 3 || sigma.is_nan() || sigma <= 0.0 {
        return None;
    }
    // Weighted normal equations for y = c + d·x, x = 1/E, weights w = n.
    let (mut sw, mut sx, mut sxx, mut sy, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for p in points {
        let (w, x, y) = (p.delta.n as f64, 1.0 / p.epochs as f64, p.delta.mean);
        sw += w;
        sx += w * x;
        sxx += w * x * x;
        sy += w * y;
        sxy += w * x * y;
    }
    let det = sw * sxx - sx * sx;
    if det.abs() < 1e-12 {
        return None;
    }
    let c = (sxx * sy - sx * sxy) / det;
    let d = (sw * sxy - sx * sy) / det;
    let s2 = sigma * sigma;
    let cov = [[s2 * sxx / det, -s2 * sx / det], [-s2 * sx / det, s2 * sw / det]];
    let chi2: f64 =
        points.iter().map(|p| p.delta.n as f64 * (p.delta.mean - c - d / p.epochs as f64).powi(2) / s2).sum();
    Some(TrendFit { c, d, cov, sigma, chi2_dof: chi2 / (points.len() - 2) as f64, lengths: points.len() })
}

/// Every schedule's points with its fit (if one is possible), in [`points`]' order.
pub fn fits(points: &[TrendPoint]) -> Vec<(Vec<&TrendPoint>, Option<TrendFit>)> {
    let sigma = pooled_sigma(points).unwrap_or(0.0);
    let mut out: Vec<(Vec<&TrendPoint>, Option<TrendFit>)> = Vec::new();
    for p in points {
        match out.last_mut() {
            Some((ps, _)) if (&ps[0].strategy, ps[0].setting) == (&p.strategy, p.setting) => ps.push(p),
            _ => out.push((vec![p], None)),
        }
    }
    for (ps, f) in &mut out {
        *f = fit(ps, sigma);
    }
    out
}

/// The lengths the points cover, shortest first.
pub fn lengths(points: &[TrendPoint]) -> Vec<usize> {
    let mut lengths: Vec<usize> = points.iter().map(|p| p.epochs).collect();
    lengths.sort_unstable();
    lengths.dedup();
    lengths
}

/// The markdown section: Δ per schedule and length (± standard error), the fit and its reading
/// at the paper's 100 epochs, or why there is none. `None` when the rows hold one length only.
pub fn section(points: &[TrendPoint]) -> Option<String> {
    let lengths = lengths(points);
    if lengths.len() < 2 {
        return None;
    }
    let mut md = String::from(
        "\n## Δ error against the length of training\n\nΔ test error (points) of each schedule against the \
         baseline of the same seed and length, mean ± standard error over the seeds (n), and the fit \
         Δ(E) = c + d / E (weights: seeds per point; noise: the seeds' pooled spread) read at the paper's 100 \
         epochs with a 95% interval. χ²/dof ≈ 1: the model fits as well as the seeds' spread allows; above 1 \
         the intervals are widened by √(χ²/dof), the points' own scatter about the curve.\n\n| schedule |",
    );
    for e in &lengths {
        md += &format!(" {e} epochs |");
    }
    md += " Δ at 100 epochs (fit) | c (asymptote) | χ²/dof |\n|---|";
    md += &"---|".repeat(lengths.len() + 3);
    md += "\n";
    for (ps, f) in fits(points) {
        let name = ps[0].setting.map_or(ps[0].strategy.clone(), |s| format!("{} {s}", ps[0].strategy));
        md += &format!("| {name} |");
        for e in &lengths {
            md += &match ps.iter().find(|p| p.epochs == *e) {
                Some(p) if p.delta.n > 1 => {
                    format!(" {:+.2} ± {:.2} (n={}) |", 100.0 * p.delta.mean, 100.0 * p.delta.sem(), p.delta.n)
                }
                Some(p) => format!(" {:+.2} (n=1) |", 100.0 * p.delta.mean),
                None => " — |".into(),
            };
        }
        md += &match f {
            Some(f) => {
                let (at, se) = f.at(PAPER_EPOCHS as f64);
                format!(
                    " {:+.2} ± {:.2} | {:+.2} ± {:.2} | {:.2} |\n",
                    100.0 * at,
                    196.0 * se,
                    100.0 * f.c,
                    196.0 * f.c_se(),
                    f.chi2_dof
                )
            }
            None => " — (fewer than 3 lengths) | — | — |\n".into(),
        };
    }
    Some(md)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(epochs: usize, deltas: &[f64]) -> TrendPoint {
        TrendPoint { strategy: "cubic-scaled".into(), setting: Some(0.8), epochs, delta: Stat::of(deltas).unwrap() }
    }

    #[test]
    fn the_fit_recovers_an_exact_curve_and_its_error_grows_away_from_the_data() {
        // Δ = 0.005 + 0.1 / E, two seeds per point spread ±0.002 around it.
        let pts: Vec<TrendPoint> = [5, 10, 20, 40]
            .map(|e| {
                let y = 0.005 + 0.1 / e as f64;
                point(e, &[y - 0.002, y + 0.002])
            })
            .into();
        let sigma = pooled_sigma(&pts).unwrap();
        assert!((sigma - 0.002 * 2f64.sqrt()).abs() < 1e-12);
        let f = fit(&pts.iter().collect::<Vec<_>>(), sigma).unwrap();
        assert!((f.c - 0.005).abs() < 1e-12 && (f.d - 0.1).abs() < 1e-12, "{f:?}");
        assert!(f.chi2_dof < 1e-12, "a perfect fit");
        let (at, se) = f.at(100.0);
        assert!((at - 0.006).abs() < 1e-12);
        let (_, se_inside) = f.at(10.0);
        assert!(se > se_inside && se > 0.0, "extrapolating is less certain than interpolating");
    }

    #[test]
    fn a_trend_that_is_not_c_plus_d_over_e_shows_in_chi2() {
        // A cost that rises with length: the model cannot follow it.
        let pts: Vec<TrendPoint> =
            [(5, 0.0), (10, 0.03), (20, 0.0), (40, 0.03)].map(|(e, y)| point(e, &[y - 0.001, y + 0.001])).into();
        let f = fit(&pts.iter().collect::<Vec<_>>(), pooled_sigma(&pts).unwrap()).unwrap();
        assert!(f.chi2_dof > 10.0, "{f:?}");
        // Its intervals rest on that scatter, not on the seeds' far smaller spread.
        let unscaled = TrendFit { chi2_dof: 1.0, ..f };
        let ((at, se), (at_unscaled, se_unscaled)) = (f.at(100.0), unscaled.at(100.0));
        assert_eq!(at, at_unscaled);
        assert!((se / se_unscaled - f.chi2_dof.sqrt()).abs() < 1e-9, "{se} {se_unscaled}");
        assert!((f.c_se() / unscaled.c_se() - f.chi2_dof.sqrt()).abs() < 1e-9);
    }

    #[test]
    fn two_lengths_give_no_fit_and_one_length_no_section() {
        let pts = vec![point(5, &[0.02, 0.03]), point(10, &[0.01, 0.0])];
        assert!(fit(&pts.iter().collect::<Vec<_>>(), 0.01).is_none());
        let md = section(&pts).unwrap();
        assert!(
            md.contains("| cubic-scaled 0.8 | +2.50 ± 0.50 (n=2) | +0.50 ± 0.50 (n=2) | — (fewer than 3 lengths)"),
            "{md}"
        );
        assert!(section(&pts[..1]).is_none());
    }
}
