//! The few statistics the benchmarks and the tables share.

use serde::Serialize;

/// Median of a non-empty list.
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Mean of a non-empty list.
pub fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// Mean, standard deviation (n − 1) and n.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Stat {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (0 for n = 1).
    pub std: f64,
    /// Number of values.
    pub n: usize,
}

impl Stat {
    /// The statistics of `values`; `None` when there are none.
    pub fn of(values: &[f64]) -> Option<Stat> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mean = mean(values);
        let var = if n > 1 { values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64 } else { 0.0 };
        Some(Stat { mean, std: var.sqrt(), n })
    }

    /// Standard error of the mean (`std / √n`).
    pub fn sem(&self) -> f64 {
        self.std / (self.n.max(1) as f64).sqrt()
    }

    /// As a percentage: `mean ± std` (just the mean for n = 1).
    pub fn pct(&self) -> String {
        Stat { mean: 100.0 * self.mean, std: 100.0 * self.std, n: self.n }.plain(2)
    }

    /// `mean ± std` with `decimals` decimals (just the mean for n = 1).
    pub fn plain(&self, decimals: usize) -> String {
        if self.n > 1 {
            format!("{:.decimals$} ± {:.decimals$}", self.mean, self.std)
        } else {
            format!("{:.decimals$}", self.mean)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_is_the_sample_mean_and_the_n_minus_one_deviation() {
        let s = Stat::of(&[1.0, 2.0, 6.0]).unwrap();
        assert_eq!((s.mean, s.n), (3.0, 3));
        assert!((s.std - 7f64.sqrt()).abs() < 1e-12, "{}", s.std);
        assert!((s.sem() - (7.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(Stat::of(&[0.25]).unwrap().pct(), "25.00");
        assert_eq!(Stat::of(&[]), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
    }
}
