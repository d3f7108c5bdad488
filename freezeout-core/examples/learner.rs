//! FreezeOut under burn-train's `Learner`: your model, `TrainStep`, data loaders, metrics,
//! checkpointers and renderer as usual; the lines marked `// FreezeOut` are all it adds.
//!
//! ```sh
//! cargo run --release -p burn-freezeout --features learner --example learner            # synthetic images
//! cargo run --release -p burn-freezeout --features learner --example learner -- \
//!     --cifar data/cifar-10-binary.tar.gz --epochs 20                                     # CIFAR-10
//! ```
//!
//! Metrics, logs and checkpoints go to `runs/learner-example`; `--resume EPOCH` continues from
//! the checkpoint of that epoch. On a terminal burn-train shows its dashboard, else it prints.
//! `--devices N` trains data-parallel under `ExecutionStrategy::MultiDevice` on the CPU device
//! listed N times (on CUDA: `Device::cuda(i)`, or `ExecutionStrategy::ddp`): FreezeOut counts
//! optimizer steps, one per N batches, and the traced steps show the gradients each exchanged.
//! `--cache` runs the frozen-prefix cache (`exact`: these images are not augmented): once a
//! unit is frozen, each image's frozen prefix is computed once, and the run computes what it
//! computes without the cache.

use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::InMemDataset;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::optim::SgdConfig;
use burn::optim::momentum::MomentumConfig;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};
use burn::train::metric::{AccuracyMetric, IterationSpeedMetric, LearningRateMetric, LossMetric};
use burn::train::{
    ClassificationOutput, ExecutionStrategy, InferenceStep, Learner, MultiDeviceOptim, SupervisedTraining, TrainOutput,
    TrainStep,
};
use burn_freezeout::cache::{CacheConfig, CacheMode};
use burn_freezeout::data::{self as cifar, CifarKind, Normalization, Split};
use burn_freezeout::learner::{CachedTrainStep, FreezeOutModel, ImageBatch, classification_output};
use burn_freezeout::task::cross_entropy;
use burn_freezeout::{FreezeOut, FreezeOutForward, ScheduleConfig, UnitTensor, freezeout};

/// conv 3×3 → BatchNorm → ReLU.
#[derive(Module, Debug)]
struct Block {
    conv: Conv2d,
    bn: BatchNorm,
}

impl Block {
    fn new(c_in: usize, c_out: usize, stride: usize, device: &Device) -> Self {
        let conv = Conv2dConfig::new([c_in, c_out], [3, 3])
            .with_stride([stride, stride])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .with_bias(false);
        Self { conv: conv.init(device), bn: BatchNormConfig::new(c_out).init(device) }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        relu(self.bn.forward(self.conv.forward(x)))
    }
}

/// A small CNN. Units: the stem and each block; the head: pooling and the classifier.
#[freezeout(head = classify)]
#[derive(Module, Debug)]
struct Net {
    #[freezeout(unit)]
    stem: Block,
    #[freezeout(unit)]
    blocks: Vec<Block>,
    pool: AdaptiveAvgPool2d,
    fc: Linear,
}

impl Net {
    fn new(classes: usize, device: &Device) -> Self {
        let widths = [16, 32, 32, 64, 64];
        Self {
            stem: Block::new(3, widths[0], 1, device),
            blocks: widths
                .windows(2)
                .map(|w| Block::new(w[0], w[1], if w[0] == w[1] { 1 } else { 2 }, device))
                .collect(),
            pool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            fc: LinearConfig::new(widths[4], classes).init(device),
        }
    }

    fn classify(&self, x: Tensor<4>) -> Tensor<2> {
        let [n, c, _, _] = x.dims();
        self.fc.forward(self.pool.forward(x).reshape([n, c]))
    }
}

impl TrainStep for Net {
    type Input = ImageBatch;
    type Output = ClassificationOutput;
    fn step(&self, batch: ImageBatch) -> TrainOutput<ClassificationOutput> {
        let output = classification_output(self, batch); // the freeze-aware forward and cross-entropy
        TrainOutput::new(self, output.loss.backward(), output)
    }
}

/// With the prefix cache: the same step from the input of the first unit that trains.
impl CachedTrainStep for Net {
    fn step_from(&self, batch: ImageBatch, x: UnitTensor, unit: usize) -> TrainOutput<ClassificationOutput> {
        let logits = self.forward_from(x, unit).expect("a generated forward");
        let loss = cross_entropy(logits.clone(), batch.targets.clone());
        TrainOutput::new(self, loss.backward(), ClassificationOutput::new(loss, logits, batch.targets))
    }
}

impl InferenceStep for Net {
    type Input = ImageBatch;
    type Output = ClassificationOutput;
    fn step(&self, batch: ImageBatch) -> ClassificationOutput {
        classification_output(self, batch)
    }
}

/// One 32×32 RGB image (CHW bytes), its class and its index in its split (the prefix cache's key).
#[derive(Clone, Debug)]
struct Item {
    id: u64,
    pixels: Vec<u8>,
    label: u8,
}

/// Scales to [0, 1] and normalises per channel.
#[derive(Clone)]
struct ImageBatcher(Normalization);

impl Batcher<Item, ImageBatch> for ImageBatcher {
    fn batch(&self, items: Vec<Item>, device: &Device) -> ImageBatch {
        let n = items.len();
        let Normalization { mean, std } = self.0;
        let pixels = items
            .iter()
            .flat_map(|item| {
                item.pixels
                    .chunks(1024)
                    .enumerate()
                    .flat_map(move |(c, plane)| plane.iter().map(move |&p| (p as f32 / 255.0 - mean[c]) / std[c]))
            })
            .collect::<Vec<f32>>();
        let labels = items.iter().map(|item| item.label as i64).collect::<Vec<_>>();
        ImageBatch {
            images: Tensor::from_data(TensorData::new(pixels, [n, 3, 32, 32]), device),
            targets: Tensor::from_data(TensorData::new(labels, [n]), device),
            ids: items.iter().map(|item| item.id).collect(),
        }
    }
}

fn items(split: &Split) -> Vec<Item> {
    (0..split.len()).map(|i| Item { id: i as u64, pixels: split.image(i).to_vec(), label: split.labels[i] }).collect()
}

/// Four classes: which quadrant of the image is bright.
fn synthetic(n: usize, seed: u64) -> Split {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut noise = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 57) as u8
    };
    let mut split = Split::default();
    for i in 0..n {
        let label = (i % 4) as u8;
        for _c in 0..3 {
            for y in 0..32 {
                for x in 0..32 {
                    let quadrant = (y / 16) * 2 + x / 16;
                    split.images.push(noise() + if quadrant == label as usize { 120 } else { 40 });
                }
            }
        }
        split.labels.push(label);
    }
    split
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let epochs: usize = arg("--epochs").map_or(Ok(3), |v| v.parse())?;
    let resume: Option<usize> = arg("--resume").map(|v| v.parse()).transpose()?;
    let devices: usize = arg("--devices").map_or(Ok(1), |v| v.parse())?;
    let cache = args.iter().any(|a| a == "--cache");
    let (batch, classes, train, valid) = match arg("--cifar") {
        Some(path) => {
            let data = cifar::load(path.as_ref(), CifarKind::Cifar10)?;
            (50, 10, data.train, data.test)
        }
        None => (32, 4, synthetic(640, 1), synthetic(128, 2)),
    };
    let batcher = ImageBatcher(Normalization::of(&train));
    // burn splits the training set into one contiguous part per device.
    let batches_per_epoch = (train.len() / devices).div_ceil(batch) as u64;
    let train =
        DataLoaderBuilder::new(batcher.clone()).batch_size(batch).shuffle(0).build(InMemDataset::new(items(&train)));
    let valid = DataLoaderBuilder::new(batcher).batch_size(batch).build(InMemDataset::new(items(&valid)));

    let device = Device::flex().autodiff();
    let model = Net::new(classes, &device);
    let mut model = FreezeOutModel::new(model, ScheduleConfig::default(), epochs as u64 * batches_per_epoch)? // FreezeOut
        .with_step_trace();
    if cache {
        model = model.with_cache(CacheConfig::new(CacheMode::Exact))?; // FreezeOut: the prefix cache
    }
    let momentum = MomentumConfig::new().with_momentum(0.9).with_dampening(0.0).with_nesterov(true);
    let optim = SgdConfig::new().with_momentum(Some(momentum)).init();
    let learner = Learner::new(model.clone(), optim, model.lr_scheduler()); // FreezeOut (was: a rate or scheduler)

    let mut training = SupervisedTraining::new("runs/learner-example", train, valid)
        .metrics((AccuracyMetric::new(), LossMetric::new()))
        .metric_train_numeric(LearningRateMetric::new())
        .metric_train_numeric(IterationSpeedMetric::new())
        .with_default_checkpointers()
        .num_epochs(epochs)
        .summary();
    if devices > 1 {
        let strategy = ExecutionStrategy::multi(vec![device.clone(); devices], MultiDeviceOptim::OptimMainDevice);
        training = training.with_training_strategy(strategy.into());
    }
    if let Some(epoch) = resume {
        training = training.checkpoint(epoch);
    }
    let result = training.launch(learner);
    if let Some(error) = result.error {
        return Err(error.to_string().into());
    }
    let trained = result.model;
    let trace = trained.trace();
    for e in trained.events() {
        let exchanged = trace.iter().find(|s| s.iteration == e.iteration).and_then(|s| s.gradients);
        let mb = exchanged.map_or(0.0, |g| g.bytes as f64 / 1e6);
        println!("iteration {}: froze {:?}; gradients per step now {mb:.3} MB", e.iteration, e.units);
    }
    if let Some(stats) = trained.take_cache_stats() {
        println!(
            "cache: {} entries, {} bytes, {:.1}% of lookups hit",
            stats.entries,
            stats.bytes,
            100.0 * stats.hit_rate()
        );
    }
    let model = trained.into_inner(); // FreezeOut: your model, as trained
    println!("{} units, the head trained to the end", model.num_units());
    Ok(())
}
