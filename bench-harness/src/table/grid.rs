//! The grids of runs: which cells a preset holds.

use crate::run::RunConfig;
use burn_freezeout::cache::{CacheConfig, CacheMode};
use burn_freezeout::data::CifarKind;
use burn_freezeout::models::Preset;
use burn_freezeout::train::OptimizerKind;
use burn_freezeout::{AdaptiveConfig, BackboneConfig, GradualConfig, PolicyConfig, Scaling};
use std::path::PathBuf;

/// Which grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TablePreset {
    /// WRN-10-1 on the first 15,000 CIFAR-10 training images for 5 epochs (test: the first
    /// 2,000 test images), the baseline and FreezeOut (cubic scaled, linear unscaled) at t0 0.5,
    /// 0.7 and 0.9. Runs: about 25 min on a 2-core x86-64 CPU with AVX-512 (a WRN-10-1 step
    /// 0.15 s), about 50 min on a 2-core AVX2-only one (0.3 s); the job times ten steps first
    /// and prints its own estimate.
    Quick,
    /// The paper: DenseNet-BC-76-12, WRN-40-4, VGG-16 on CIFAR-10 and CIFAR-100, 100 epochs,
    /// batch 50, linear and cubic, scaled and unscaled, t0 0.5 to 0.9, and the baseline. Hours
    /// per run on a GPU; not practical on a CPU.
    Paper,
    /// Freezing policies in the quick setting: the baseline, FreezeOut cubic-scaled t0 0.8 and
    /// linear-unscaled t0 0.9, and the gradient-norm policy at thresholds 0.02, 0.05 and 0.1.
    /// Runs: about 25 min per seed on a 2-core AVX-512 CPU, twice that on a 2-core AVX2-only one.
    Policies,
    /// The drift policy in the quick setting: the baseline, FreezeOut cubic-scaled t0 0.8 and
    /// linear-unscaled t0 0.9, and the drift policy at thresholds 0.5, 1 and 2. Runs: about 25
    /// min per seed on a 2-core AVX-512 CPU, twice that on a 2-core AVX2-only one.
    Drift,
    /// The frozen-prefix cache in the quick setting: the baseline, and FreezeOut cubic-scaled
    /// t0 0.8 and linear-unscaled t0 0.9, each with the cache off, reuse and shift. Runs: about
    /// 25 min per seed on a 2-core AVX-512 CPU, twice that on a 2-core AVX2-only one.
    Cache,
    /// The cache on a short DenseNet-BC-40-12 setting (the first 500 CIFAR-10 training images,
    /// 8 epochs; test: the first 1,000): the same cells as cache. Runs: about 25 min per seed
    /// on a 2-core AVX-512 CPU.
    CacheDensenet,
    /// The paper's headline family: DenseNet-BC-40-12 on the first 5,000 CIFAR-10 training
    /// images for 6 epochs (test: the first 1,000). The first seed: the baseline and FreezeOut
    /// on the paper's grid (cubic scaled and linear unscaled at t0 0.5, 0.7, 0.9, and cubic
    /// scaled 0.8); every further seed: the baseline, cubic scaled 0.8 and linear unscaled 0.9;
    /// each seed's two FreezeOut defaults also with the cache's reuse mode; and WRN-10-1 on the
    /// same images (baseline, cubic scaled 0.8, linear unscaled 0.9), the abstract's other
    /// family beside it. Runs: about 2 h for the first seed and 1.2 h for each further one on a
    /// 2-core AVX-512 CPU (a DenseNet step 1 s at batch 50), up to 3 times that on a 2-core
    /// AVX2-only one.
    Densenet,
    /// FreezeOut's cost in error against the length of training: the quick setting's images
    /// for 5, 10, 20 and 40 epochs, the baseline, cubic scaled t0 0.8 and linear unscaled t0
    /// 0.9, shorter runs first. Runs, per seed on a 2-core AVX-512 CPU: about 1 h up to 20
    /// epochs (1.5 h measured with other work on the machine), then 1.1 h for the 40-epoch runs
    /// (measured on an otherwise idle machine); twice that on a 2-core AVX2-only one.
    Length,
    /// FreezeOut on a Vision Transformer, ViT-6-128, on the first 5,000 CIFAR-10 training
    /// images for 10 epochs (test: the first 1,000), AdamW at a peak rate of 0.001. Per seed,
    /// with the paper's augmentation: the baseline, cubic scaled t0 0.8 and linear unscaled t0
    /// 0.9, each FreezeOut setting also with the cache's reuse mode; without augmentation: the
    /// same with the exact cache. Runs: about 1.5 h per seed on a 2-core AVX-512 CPU.
    Vit,
    /// FreezeOut on a character-level language model, GPT-4-128, on the first 5,000 training
    /// windows of 64 bytes of the text given with --data (The Devil's Dictionary has 5,393)
    /// for 10 epochs (held out: the first 500 windows of its last 10%), AdamW at a peak rate of
    /// 0.001: per seed, the baseline, cubic scaled t0 0.8 and linear unscaled t0 0.9, each
    /// FreezeOut setting also with the cache's exact mode. Runs: about 40 min per seed on a
    /// 2-core AVX-512 CPU.
    Text,
    /// Fine-tuning, on the two halves of CIFAR-10: WRN-10-1 pretrained on classes 0–4 (all
    /// 25,000 images, 15 epochs, no freezing; one run, seed 0), then fine-tuned with a new 5-way
    /// head on the first 10,000 training images of classes 5–9 for 6 epochs without
    /// augmentation (test: the 5,000 test images of 5–9), SGD at 0.02. Per seed: full
    /// fine-tuning, layer-wise rate decay 0.75, a linear probe (with and without the exact
    /// cache), the frozen backbone (Lightning's, trained from epoch 1), gradual unfreezing
    /// (ULMFiT's), FreezeOut cubic scaled t0 0.8 and linear unscaled t0 0.9 (each with and
    /// without the exact cache), and cubic scaled t0 0.5 with the exact cache. A fine-tuning cell's `init` is the pretraining cell's run
    /// directory, relative to the table's. Runs: about 40 min for the pretraining and 1 h per
    /// seed on a 2-core AVX-512 CPU.
    Transfer,
}

/// The training images of [`TablePreset::Densenet`].
pub const DENSENET_IMAGES: usize = 5_000;

/// The epochs of [`TablePreset::Densenet`].
pub const DENSENET_EPOCHS: usize = 6;

/// The transformer presets' peak learning rate, with AdamW (transformers are trained with
/// Adam-type optimizers; the paper's SGD at 0.1 is its CNNs'). FreezeOut anneals each unit's
/// rate from it as for SGD.
pub const TRANSFORMER_LR: f64 = 1e-3;

/// The transformer presets' (decoupled) weight decay with AdamW.
pub const TRANSFORMER_WEIGHT_DECAY: f64 = 0.01;

/// The model of [`TablePreset::Vit`].
pub const VIT_MODEL: Preset = Preset::Vit { depth: 6, width: 128 };

/// The training images of [`TablePreset::Vit`].
pub const VIT_IMAGES: usize = 5_000;

/// The epochs of [`TablePreset::Vit`].
pub const VIT_EPOCHS: usize = 10;

/// The model of [`TablePreset::Text`].
pub const TEXT_MODEL: Preset = Preset::Gpt { depth: 4, width: 128 };

/// The epochs of [`TablePreset::Text`].
pub const TEXT_EPOCHS: usize = 10;

/// The training windows of [`TablePreset::Text`].
pub const TEXT_WINDOWS: usize = 5_000;

/// The training lengths of [`TablePreset::Length`], in epochs.
pub const LENGTH_EPOCHS: [usize; 4] = [5, 10, 20, 40];

/// The model of [`TablePreset::Transfer`]: WRN-10-1, whose step (0.12 s at batch 50 on a 2-core
/// AVX-512 CPU, against 0.42 s for WRN-16-2: bench-harness/PERF.md) keeps the grid to hours.
pub const TRANSFER_MODEL: Preset = Preset::Wrn { depth: 10, width: 1 };

/// The fine-tuning runs' base rate (SGD, Nesterov 0.9) in [`TablePreset::Transfer`].
pub const TRANSFER_LR: f64 = 0.02;

/// The training images (of classes 5–9) of [`TablePreset::Transfer`]'s fine-tuning runs.
pub const TRANSFER_IMAGES: usize = 10_000;

/// The epochs of [`TablePreset::Transfer`]'s fine-tuning runs.
pub const TRANSFER_EPOCHS: usize = 6;

/// [`TablePreset::Transfer`]'s pretraining run: classes 0–4, no freezing, seed 0.
pub fn transfer_pretraining() -> RunConfig {
    RunConfig {
        model: TRANSFER_MODEL,
        epochs: 15,
        classes: Some(vec![0, 1, 2, 3, 4]),
        policy: PolicyConfig::Baseline,
        ..RunConfig::default()
    }
}

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
                    // WRN-10-1 at the same setting: the abstract's other family, side by side.
                    let wrn = RunConfig { model: Preset::Wrn { depth: 10, width: 1 }, ..cell.clone() };
                    cells.push(RunConfig { policy: PolicyConfig::Baseline, ..wrn.clone() });
                    for (scaling, scale_lr, t0) in defaults {
                        cells.push(RunConfig { scaling, scale_lr, t0, ..wrn.clone() });
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
            TablePreset::Vit => {
                let base = RunConfig {
                    model: VIT_MODEL,
                    epochs: VIT_EPOCHS,
                    train_limit: Some(VIT_IMAGES),
                    test_limit: Some(1_000),
                    ..transformer_training()
                };
                for &seed in seeds {
                    for (augment, mode) in [(true, CacheMode::Reuse), (false, CacheMode::Exact)] {
                        cells.extend(with_and_without_cache(RunConfig { seed, augment, ..base.clone() }, mode));
                    }
                }
                return cells;
            }
            TablePreset::Transfer => {
                let pretraining = transfer_pretraining();
                let base = RunConfig {
                    model: TRANSFER_MODEL,
                    epochs: TRANSFER_EPOCHS,
                    lr: TRANSFER_LR,
                    classes: Some(vec![5, 6, 7, 8, 9]),
                    train_limit: Some(TRANSFER_IMAGES),
                    augment: false,
                    init: Some(PathBuf::from("runs").join(pretraining.run_name())),
                    new_head: Some(5),
                    ..RunConfig::default()
                };
                cells.push(pretraining);
                let exact = CacheConfig::new(CacheMode::Exact);
                let probe =
                    PolicyConfig::Backbone(BackboneConfig { epoch: TRANSFER_EPOCHS, ..BackboneConfig::default() });
                for &seed in seeds {
                    let cell = RunConfig { seed, ..base.clone() };
                    cells.push(RunConfig { policy: PolicyConfig::Baseline, ..cell.clone() });
                    cells.push(RunConfig { policy: PolicyConfig::Baseline, layer_decay: Some(0.75), ..cell.clone() });
                    cells.push(RunConfig { policy: probe, ..cell.clone() });
                    cells.push(RunConfig { policy: probe, cache: exact, ..cell.clone() });
                    cells.push(RunConfig { policy: PolicyConfig::Backbone(BackboneConfig::default()), ..cell.clone() });
                    cells.push(RunConfig { policy: PolicyConfig::Gradual(GradualConfig::default()), ..cell.clone() });
                    cells.extend(with_and_without_cache(cell.clone(), CacheMode::Exact).into_iter().skip(1));
                    // Earlier freezing, with the cache only (its error is the uncached run's).
                    cells.push(RunConfig { scaling: Scaling::Cubic, scale_lr: true, t0: 0.5, cache: exact, ..cell });
                }
                return cells;
            }
            TablePreset::Text => {
                let base = RunConfig {
                    model: TEXT_MODEL,
                    dataset: crate::run::Dataset::Text,
                    epochs: TEXT_EPOCHS,
                    train_limit: Some(TEXT_WINDOWS),
                    test_limit: Some(500),
                    ..transformer_training()
                };
                for &seed in seeds {
                    cells.extend(with_and_without_cache(RunConfig { seed, ..base.clone() }, CacheMode::Exact));
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
                let cell = RunConfig { model, dataset: dataset.into(), seed, ..base.clone() };
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

/// The transformer presets' optimizer: AdamW at [`TRANSFORMER_LR`], weight decay
/// [`TRANSFORMER_WEIGHT_DECAY`]; everything else the defaults.
fn transformer_training() -> RunConfig {
    RunConfig {
        optimizer: OptimizerKind::AdamW,
        lr: TRANSFORMER_LR,
        weight_decay: TRANSFORMER_WEIGHT_DECAY,
        ..RunConfig::default()
    }
}

/// `cell`'s baseline, then FreezeOut cubic-scaled t0 0.8 and linear-unscaled t0 0.9 without
/// the cache, then both with the cache in `mode`.
fn with_and_without_cache(cell: RunConfig, mode: CacheMode) -> Vec<RunConfig> {
    let defaults = [(Scaling::Cubic, true, 0.8), (Scaling::Linear, false, 0.9)];
    let mut cells = vec![RunConfig { policy: PolicyConfig::Baseline, ..cell.clone() }];
    for mode in [CacheMode::Off, mode] {
        for (scaling, scale_lr, t0) in defaults {
            let cache = CacheConfig { mode, ..cell.cache };
            cells.push(RunConfig { scaling, scale_lr, t0, cache, ..cell.clone() });
        }
    }
    cells
}
