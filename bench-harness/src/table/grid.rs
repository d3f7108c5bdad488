//! The grids of runs: which cells a preset holds.

use crate::run::RunConfig;
use burn_freezeout::cache::{CacheConfig, CacheMode};
use burn_freezeout::data::CifarKind;
use burn_freezeout::models::Preset;
use burn_freezeout::{AdaptiveConfig, PolicyConfig, Scaling};

/// Which grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TablePreset {
    /// Small enough for a 2-core CPU in about 45 minutes of runs (machines differ by up to 3×;
    /// the job calibrates its estimate): WRN-10-1 on the first 15,000 CIFAR-10 training images
    /// for 5 epochs (test: first 2,000 test images), the baseline and FreezeOut (cubic scaled,
    /// linear unscaled) at t0 ∈ {0.5, 0.7, 0.9}.
    Quick,
    /// The paper: DenseNet-BC-76-12, WRN-40-4, VGG-16 on CIFAR-10 and CIFAR-100, 100 epochs,
    /// batch 50, {linear, cubic} × {scaled, unscaled} × t0 ∈ {0.5, …, 0.9} + baseline.
    Paper,
    /// Freezing policies compared in the quick setting (WRN-10-1, first 15,000 CIFAR-10
    /// images, 5 epochs): the baseline, FreezeOut cubic-scaled t0 0.8 and linear-unscaled t0
    /// 0.9, and the gradient-norm policy at thresholds 0.02, 0.05 and 0.1 (about 25 minutes of
    /// runs per seed on a 2-core CPU).
    Policies,
    /// The drift policy compared in the quick setting (the `policies` preset's): the baseline,
    /// FreezeOut cubic-scaled t0 0.8 and linear-unscaled t0 0.9, and the drift policy at
    /// thresholds 0.5, 1 and 2 (about 25 minutes of runs per seed on a 2-core CPU).
    Drift,
    /// The frozen-prefix cache in the quick setting (WRN-10-1, first 15,000 CIFAR-10 images,
    /// 5 epochs): the baseline, and FreezeOut cubic-scaled t0 0.8 and linear-unscaled t0 0.9
    /// each with the cache off, `reuse` and `shift` (about 25 minutes of runs per seed).
    Cache,
    /// The cache on a short DenseNet-BC-40-12 setting (first 500 CIFAR-10 images, 8 epochs;
    /// test: first 1,000): the same cells as `cache` (about 25 minutes per seed).
    CacheDensenet,
    /// The paper's headline family: DenseNet-BC-40-12 on the first 5,000 CIFAR-10 training
    /// images for 6 epochs (test: first 1,000 test images). For the
    /// first seed, the baseline and FreezeOut on the paper's grid (cubic scaled and linear
    /// unscaled at t0 0.5 / 0.7 / 0.9, plus the default cubic scaled 0.8); for every further seed,
    /// the baseline, cubic scaled 0.8 and linear unscaled 0.9; each seed's two FreezeOut defaults
    /// also with the prefix cache's `reuse` mode. Seed 0's 10 runs take about two hours on a
    /// 2-core AVX-512 CPU (a DenseNet step is 1–3 s at batch 50 across 2-core CPUs), each further
    /// seed's 5 about one.
    Densenet,
    /// FreezeOut's cost in error against the length of training: WRN-10-1 on the quick setting's
    /// images (first 15,000 CIFAR-10 training images, first 2,000 test images) for 5, 10, 20
    /// and 40 epochs, the baseline, cubic scaled t0 0.8 and linear unscaled t0 0.9;
    /// shorter runs first. About 1 hour of runs per seed up to 20 epochs, 2.5 hours with the
    /// 40-epoch runs, on a 2-core AVX-512 CPU.
    Length,
}

/// The training images of [`TablePreset::Densenet`].
pub const DENSENET_IMAGES: usize = 5_000;

/// The epochs of [`TablePreset::Densenet`].
pub const DENSENET_EPOCHS: usize = 6;

/// The training lengths of [`TablePreset::Length`], in epochs.
pub const LENGTH_EPOCHS: [usize; 4] = [5, 10, 20, 40];

/// The adaptive policy's thresholds in [`TablePreset::Policies`].
pub const POLICY_THRESHOLDS: [f64; 3] = [0.02, 0.05, 0.1];

/// The drift policy's thresholds in [`TablePreset::Drift`].
pub const DRIFT_THRESHOLDS: [f64; 3] = [0.5, 1.0, 2.0];

/// The settings of every cell of a grid, baselines first.
pub fn grid(preset: TablePreset, seeds: &[u64]) -> Vec<RunConfig> {
    let mut cells = Vec::new();
    type Strategy = (Scaling, bool);
    let (models, datasets, strategies, t0s, base): (Vec<Preset>, Vec<CifarKind>, Vec<Strategy>, Vec<f64>, RunConfig) =
        match preset {
            TablePreset::Quick => (
                vec![Preset::Wrn { depth: 10, width: 1 }],
                vec![CifarKind::Cifar10],
                vec![(Scaling::Cubic, true), (Scaling::Linear, false)],
                vec![0.5, 0.7, 0.9],
                RunConfig { epochs: 5, train_limit: Some(15_000), test_limit: Some(2_000), ..RunConfig::default() },
            ),
            TablePreset::Paper => (
                vec![Preset::DenseNetBc { depth: 76, growth: 12 }, Preset::Wrn { depth: 40, width: 4 }, Preset::Vgg16],
                vec![CifarKind::Cifar10, CifarKind::Cifar100],
                vec![
                    (Scaling::Linear, true),
                    (Scaling::Linear, false),
                    (Scaling::Cubic, true),
                    (Scaling::Cubic, false),
                ],
                vec![0.5, 0.6, 0.7, 0.8, 0.9],
                RunConfig::default(),
            ),
            TablePreset::Cache | TablePreset::CacheDensenet => {
                let base = match preset {
                    TablePreset::Cache => RunConfig {
                        model: Preset::Wrn { depth: 10, width: 1 },
                        epochs: 5,
                        train_limit: Some(15_000),
                        test_limit: Some(2_000),
                        ..RunConfig::default()
                    },
                    _ => RunConfig {
                        model: Preset::DenseNetBc { depth: 40, growth: 12 },
                        epochs: 8,
                        train_limit: Some(500),
                        test_limit: Some(1_000),
                        ..RunConfig::default()
                    },
                };
                for &seed in seeds {
                    let cell = RunConfig { seed, ..base.clone() };
                    cells.push(RunConfig { policy: PolicyConfig::Baseline, ..cell.clone() });
                    for (scaling, scale_lr, t0) in [(Scaling::Cubic, true, 0.8), (Scaling::Linear, false, 0.9)] {
                        for mode in [CacheMode::Off, CacheMode::Reuse, CacheMode::Shift] {
                            let cache = CacheConfig { mode, ..cell.cache };
                            cells.push(RunConfig { scaling, scale_lr, t0, cache, ..cell.clone() });
                        }
                    }
                }
                return cells;
            }
            TablePreset::Densenet => {
                let base = RunConfig {
                    model: Preset::DenseNetBc { depth: 40, growth: 12 },
                    epochs: DENSENET_EPOCHS,
                    train_limit: Some(DENSENET_IMAGES),
                    test_limit: Some(1_000),
                    ..RunConfig::default()
                };
                for (i, &seed) in seeds.iter().enumerate() {
                    let cell = RunConfig { seed, ..base.clone() };
                    cells.push(RunConfig { policy: PolicyConfig::Baseline, ..cell.clone() });
                    let defaults = [(Scaling::Cubic, true, 0.8), (Scaling::Linear, false, 0.9)];
                    // The first seed: the paper's grid and the default; the others: the defaults.
                    let freezeout: Vec<(Scaling, bool, f64)> = match i {
                        0 => [(Scaling::Cubic, true), (Scaling::Linear, false)]
                            .into_iter()
                            .flat_map(|(s, l)| [0.5, 0.7, 0.9].map(|t0| (s, l, t0)))
                            .chain([(Scaling::Cubic, true, 0.8)])
                            .collect(),
                        _ => defaults.to_vec(),
                    };
                    for (scaling, scale_lr, t0) in freezeout {
                        cells.push(RunConfig { scaling, scale_lr, t0, ..cell.clone() });
                    }
                    for (scaling, scale_lr, t0) in defaults {
                        let cache = CacheConfig { mode: CacheMode::Reuse, ..cell.cache };
                        cells.push(RunConfig { scaling, scale_lr, t0, cache, ..cell.clone() });
                    }
                }
                return cells;
            }
            TablePreset::Length => {
                let base = RunConfig {
                    model: Preset::Wrn { depth: 10, width: 1 },
                    train_limit: Some(15_000),
                    test_limit: Some(2_000),
                    ..RunConfig::default()
                };
                for epochs in LENGTH_EPOCHS {
                    for &seed in seeds {
                        let cell = RunConfig { epochs, seed, ..base.clone() };
                        cells.push(RunConfig { policy: PolicyConfig::Baseline, ..cell.clone() });
                        cells.push(RunConfig { scaling: Scaling::Cubic, scale_lr: true, t0: 0.8, ..cell.clone() });
                        cells.push(RunConfig { scaling: Scaling::Linear, scale_lr: false, t0: 0.9, ..cell.clone() });
                    }
                }
                return cells;
            }
            TablePreset::Policies | TablePreset::Drift => {
                let base = RunConfig {
                    model: Preset::Wrn { depth: 10, width: 1 },
                    epochs: 5,
                    train_limit: Some(15_000),
                    test_limit: Some(2_000),
                    ..RunConfig::default()
                };
                for &seed in seeds {
                    let cell = RunConfig { seed, ..base.clone() };
                    cells.push(RunConfig { policy: PolicyConfig::Baseline, ..cell.clone() });
                    cells.push(RunConfig { scaling: Scaling::Cubic, scale_lr: true, t0: 0.8, ..cell.clone() });
                    cells.push(RunConfig { scaling: Scaling::Linear, scale_lr: false, t0: 0.9, ..cell.clone() });
                    let (thresholds, defaults) = match preset {
                        TablePreset::Policies => (POLICY_THRESHOLDS, AdaptiveConfig::default()),
                        _ => (DRIFT_THRESHOLDS, AdaptiveConfig::drift()),
                    };
                    for threshold in thresholds {
                        let adaptive = AdaptiveConfig { threshold, ..defaults };
                        cells.push(RunConfig { policy: PolicyConfig::Adaptive(adaptive), ..cell.clone() });
                    }
                }
                return cells;
            }
        };
    for &model in &models {
        for &dataset in &datasets {
            for &seed in seeds {
                let cell = RunConfig { model, dataset, seed, ..base.clone() };
                cells.push(RunConfig { policy: PolicyConfig::Baseline, ..cell.clone() });
                for &(scaling, scale_lr) in &strategies {
                    for &t0 in &t0s {
                        cells.push(RunConfig { scaling, scale_lr, t0, ..cell.clone() });
                    }
                }
            }
        }
    }
    cells
}
