//! Shared fixtures of the workspace integration tests: a small model annotated with
//! `#[freezeout]` and a learnable synthetic task.

#![warn(missing_docs)]

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use burn_freezeout::cache::{CacheConfig, CacheMode};
use burn_freezeout::data::{HostBatch, InMemory};
use burn_freezeout::train::{RunLog, RunSummary, TrainConfig};
use burn_freezeout::{Scaling, ScheduleConfig, UnitTensor, freezeout};
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub mod regression;

/// How a block's output relates to autodiff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tracking {
    /// Computed on the inner backend: no autodiff bookkeeping at all.
    Inner,
    /// On the autodiff backend but not part of the graph (no backward work).
    Untracked,
    /// Part of the graph: backward work is done for it.
    Tracked,
}

/// Records, for every forward call of a block, how its output relates to autodiff.
pub type TrackLog = Arc<Mutex<Vec<Tracking>>>;

/// conv 3×3 → BatchNorm → ReLU, with a probe of autodiff tracking.
#[derive(Module, Debug)]
pub struct Block {
    conv: Conv2d,
    bn: BatchNorm,
    #[module(skip)]
    probe: TrackLog,
}

impl Block {
    fn new(c_in: usize, c_out: usize, probe: TrackLog, device: &Device) -> Self {
        Self {
            conv: Conv2dConfig::new([c_in, c_out], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_bias(false)
                .init(device),
            bn: BatchNormConfig::new(c_out).init(device),
            probe,
        }
    }

    /// The block's forward pass.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = relu(self.bn.forward(self.conv.forward(x)));
        let tracking = match (y.is_autodiff(), y.is_tracked()) {
            (false, _) => Tracking::Inner,
            (true, false) => Tracking::Untracked,
            (true, true) => Tracking::Tracked,
        };
        self.probe.lock().unwrap().push(tracking);
        y
    }
}

/// A small CNN: a stem conv (unit 0), `blocks` conv blocks (units 1..), and a head
/// (BatchNorm + global average pool + linear) that is never frozen.
#[freezeout(head = head)]
#[derive(Module, Debug)]
pub struct TinyNet {
    #[freezeout(unit)]
    stem: Conv2d,
    #[freezeout(unit)]
    blocks: Vec<Block>,
    bn: BatchNorm,
    fc: Linear,
    #[module(skip)]
    probe: TrackLog,
}

impl TinyNet {
    /// `blocks` blocks of `width` channels, `classes` outputs.
    pub fn new(blocks: usize, width: usize, classes: usize, device: &Device) -> Self {
        let probe = TrackLog::default();
        Self {
            stem: Conv2dConfig::new([3, width], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device),
            blocks: (0..blocks).map(|_| Block::new(width, width, probe.clone(), device)).collect(),
            bn: BatchNormConfig::new(width).init(device),
            fc: LinearConfig::new(width, classes).init(device),
            probe,
        }
    }

    fn head(&self, x: Tensor<4>) -> Tensor<2> {
        let x = relu(self.bn.forward(x));
        let [n, c, _, _] = x.dims();
        self.fc.forward(x.mean_dim(3).mean_dim(2).reshape([n, c]))
    }

    /// The units and the head composed by hand (stem, every block, head), without the
    /// generated freeze-aware forward: the oracle that forward is tested against.
    pub fn forward_by_hand(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.blocks.iter().fold(self.stem.forward(x), |x, block| block.forward(x));
        self.head(x)
    }

    /// Takes what the blocks recorded since the last call, in forward order.
    pub fn take_probe(&self) -> Vec<Tracking> {
        std::mem::take(&mut *self.probe.lock().unwrap())
    }
}

/// Every float parameter's values by id, to compare models bit for bit.
pub fn snapshot<M: Module>(model: &M) -> HashMap<ParamId, Vec<f32>> {
    struct Snap(HashMap<ParamId, Vec<f32>>);
    impl ModuleVisitor for Snap {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            self.0.insert(p.id, p.val().into_data().iter::<f32>().collect());
        }
    }
    let mut s = Snap(HashMap::new());
    model.visit(&mut s);
    s.0
}

/// A learnable 4-class task on `side`×`side` RGB images: the class decides which quadrant is
/// Every float parameter and buffer of a module, in visiting order (two runs that trained
/// alike compare equal bit for bit).
pub fn module_values<M: Module>(m: &M) -> Vec<f32> {
    struct Collect(Vec<f32>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            self.0.extend(p.val().into_data().iter::<f32>());
        }
    }
    let mut c = Collect(Vec::new());
    m.visit(&mut c);
    c.0
}

/// The `field` of every `event` line of a run's log (`logged(&log, "iter", "loss")`).
pub fn logged(log: &RunLog, event: &str, field: &str) -> Vec<serde_json::Value> {
    log.events.iter().filter(|e| e["event"] == event).map(|e| e[field].clone()).collect()
}

/// A tensor's values on the host.
pub fn host(x: impl Into<UnitTensor>) -> Vec<f32> {
    x.into().into_data().iter::<f32>().collect()
}

/// Trains with `run` twice, without the cache and with `exact`, and checks that the cached run
/// is the uncached one: the same loss at each of its `iterations` iterations, the same final
/// parameters and buffers bit for bit. `run` gives a run's losses ([`logged`]), its final
/// model's values ([`module_values`]) and its summary. Returns the summaries, uncached first.
pub fn assert_exact_cache_is_exact(
    iterations: usize,
    run: impl Fn(CacheConfig) -> (Vec<serde_json::Value>, Vec<f32>, RunSummary),
) -> (RunSummary, RunSummary) {
    let (plain_losses, plain_params, plain) = run(CacheConfig::default());
    let (losses, params, cached) = run(CacheConfig::new(CacheMode::Exact));
    assert_eq!(losses.len(), iterations);
    assert_eq!(losses, plain_losses, "the same loss at every iteration");
    assert!(params == plain_params, "the same final parameters and buffers, bit for bit");
    (plain, cached)
}

/// A random `n`-image CIFAR-shaped split (32×32, 3 channels, labels `i mod 10`).
pub fn random_split(n: usize, seed: u64) -> burn_freezeout::data::Split {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let images = (0..n * 3072).map(|_| rng.random()).collect();
    burn_freezeout::data::Split { images, labels: (0..n).map(|i| (i % 10) as u8).collect() }
}

/// bright, under Gaussian noise. Deterministic for a seed.
pub fn quadrant_task(batches: usize, batch: usize, side: usize, seed: u64) -> Vec<HostBatch> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let half = side / 2;
    (0..batches)
        .map(|b| {
            let mut images = Vec::with_capacity(batch * 3 * side * side);
            let mut labels = Vec::with_capacity(batch);
            for _ in 0..batch {
                let class = rng.random_range(0..4usize);
                labels.push(class as i64);
                for _c in 0..3 {
                    for y in 0..side {
                        for x in 0..side {
                            let quadrant = (y >= half) as usize * 2 + (x >= half) as usize;
                            let signal = if quadrant == class { 1.0 } else { -0.3 };
                            let noise: f32 = rng.random_range(-0.8..0.8);
                            images.push(signal + noise);
                        }
                    }
                }
            }
            // Ids: the image's place in the task (what the prefix cache keys on).
            let ids = (0..batch as u64).map(|i| (b * batch) as u64 + i).collect();
            HostBatch::new(images, [batch, 3, side, side], labels).with_ids(ids)
        })
        .collect()
}

/// The quadrant task as a data source: `train` batches to learn from, `eval` held out.
pub fn quadrant_data(train: usize, eval: usize, batch: usize, side: usize, seed: u64) -> InMemory {
    InMemory { train: quadrant_task(train, batch, side, seed), eval: quadrant_task(eval, batch, side, seed + 1) }
}

/// Three epochs with a fast linear schedule (t0 = 0.3): the units of a 4-unit model freeze at
/// 30%, 44%, 58%, 72% and 86% of the run, so short runs see every freeze.
pub fn fast_schedule() -> TrainConfig {
    TrainConfig {
        epochs: 3,
        schedule: ScheduleConfig { t0: 0.3, scaling: Scaling::Linear, scale_lr: true, base_lr: 0.05 },
        ..TrainConfig::default()
    }
}

/// The CIFAR-10 data that data-dependent tests read, found as the CLI finds it: `$FREEZEOUT_DATA`
/// (a directory or the archive), else the workspace's `./data`. `None` when neither holds
/// CIFAR-10: the caller returns, and one line naming `test` and how to provide the data is
/// written straight to the terminal (not captured, so a skip is seen). A `$FREEZEOUT_DATA`
/// that holds no CIFAR-10 is an error, not a skip.
pub fn cifar10(test: &str) -> Option<std::path::PathBuf> {
    use burn_freezeout::data::{CifarKind, DATA_ENV, cifar::identify};
    use std::io::Write;
    let has_cifar10 = |p: &std::path::Path| identify(p).contains(&CifarKind::Cifar10);
    if let Some(path) = std::env::var_os(DATA_ENV).map(std::path::PathBuf::from) {
        assert!(has_cifar10(&path), "{DATA_ENV}={}: no CIFAR-10 there (a directory or the archive)", path.display());
        return Some(path);
    }
    let local = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data");
    if has_cifar10(&local) {
        return Some(local);
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: no CIFAR-10 (set {DATA_ENV} to cifar-10-binary.tar.gz or its directory, or put it in ./data)"
    );
    None
}

/// README's and the guide's code blocks, compiled by `cargo test --workspace --doc` (and run,
/// unless marked `no_run`), so they cannot drift from the API.
#[cfg(doctest)]
mod guide {
    #[doc = include_str!("../../README.md")]
    struct Readme;
    #[doc = include_str!("../../docs/schedule.md")]
    struct Schedule;
    #[doc = include_str!("../../docs/annotating.md")]
    struct Annotating;
    #[doc = include_str!("../../docs/training.md")]
    struct Training;
    #[doc = include_str!("../../docs/data-parallel.md")]
    struct DataParallel;
    #[doc = include_str!("../../docs/policies.md")]
    struct Policies;
    #[doc = include_str!("../../docs/finetuning.md")]
    struct Finetuning;
    #[doc = include_str!("../../docs/cache.md")]
    struct Cache;
    #[doc = include_str!("../../docs/backends.md")]
    struct Backends;
}
