//! The frozen-prefix cache under burn-train's `Learner` (`FreezeOutModel::with_cache`, `exact`):
//! a ViT on images and a byte-level GPT on text windows, each trained by the `Learner` with the
//! cache and without it from the same weights, on the same batches, end with the same
//! parameters, bit for bit, after the same freezes; the cache served the frozen prefix (its
//! hits), within its budget; a cached run stopped and resumed (a new process: a new model, an
//! empty cache) ends as the whole uncached run. What the cache cannot run is refused, named.

use bench_harness::bench::images::{ImageItem, items_of, loader};
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::data::dataset::InMemDataset;
use burn::module::ModuleDisplay;
use burn::tensor::{Device, Int, Tensor, TensorData};
use burn::train::metric::LossMetric;
use burn::train::{ClassificationOutput, InferenceStep, Learner, SupervisedTraining, TrainStep};
use burn_freezeout::cache::{CacheConfig, CacheMode, CacheStats};
use burn_freezeout::data::CachedBatch;
use burn_freezeout::data::text::VOCAB;
use burn_freezeout::learner::{CachedTrainStep, FreezeOutModel, ImageBatch, TextBatch};
use burn_freezeout::models::{CharGpt, Vit};
use burn_freezeout::train::TrainConfig;
use burn_freezeout::{FreezeEvent, FreezeOut};
use freezeout_tests::{fast_schedule, module_values, quadrant_task};
use std::path::Path;
use std::sync::Arc;

const BATCH: usize = 8;
const BATCHES: usize = 4;
const EPOCHS: usize = 5;
const TOTAL: u64 = (EPOCHS * BATCHES) as u64;

/// Linear t0 = 0.3 over 20 iterations: a 3-unit model's units freeze at iterations 7, 11 and
/// 16, so a stop after epoch 2 (iteration 8) has one unit frozen and the cache filled.
fn config() -> TrainConfig {
    TrainConfig { epochs: EPOCHS, ..fast_schedule() }
}

/// What a run ends with: its freezes, its model's parameters and buffers, and its cache's stats.
type Ended = (Vec<FreezeEvent>, Vec<f32>, Option<CacheStats>);

/// Trains `model` under the Learner for `epochs` of the `EPOCHS`-epoch run, with `cache`,
/// checkpointing into `dir`; `resume`: from the checkpoint of that epoch.
fn learner_run<M>(
    model: M,
    cache: CacheConfig,
    (train, valid): Loaders<<M as TrainStep>::Input>,
    dir: &Path,
    epochs: usize,
    resume: Option<usize>,
) -> Ended
where
    M: Runnable,
    <M as TrainStep>::Input: CachedBatch,
{
    let config = config();
    let policy = config.policy(model.num_units(), TOTAL).unwrap();
    let wrapped = M::with_cache(FreezeOutModel::with_policy(model, policy).unwrap(), cache);
    let learner = Learner::new(wrapped.clone(), config.optimizer(), wrapped.lr_scheduler());
    let mut training = SupervisedTraining::new(dir, train, valid)
        .metrics((LossMetric::new(),))
        .with_default_checkpointers()
        .num_epochs(epochs);
    if let Some(epoch) = resume {
        training = training.checkpoint(epoch);
    }
    let result = training.launch(learner);
    assert!(result.error.is_none(), "the Learner stopped on an error: {:?}", result.error);
    let m = result.model;
    (m.events(), module_values(m.inner()), m.take_cache_stats())
}

/// A training and a held-out loader.
type Loaders<B> = (Arc<dyn DataLoader<B>>, Arc<dyn DataLoader<B>>);

/// A built-in model the Learner trains here, and `with_cache` for it (its input rank and kind
/// are the model's).
trait Runnable:
    FreezeOut
    + CachedTrainStep<Output = ClassificationOutput>
    + InferenceStep<Input = <Self as TrainStep>::Input, Output = ClassificationOutput>
    + ModuleDisplay
    + Clone
    + 'static
{
    fn with_cache(model: FreezeOutModel<Self>, cache: CacheConfig) -> FreezeOutModel<Self>;
}

impl Runnable for Vit {
    fn with_cache(model: FreezeOutModel<Self>, cache: CacheConfig) -> FreezeOutModel<Self> {
        model.with_cache::<4, 2, _>(cache).unwrap()
    }
}

impl Runnable for CharGpt {
    fn with_cache(model: FreezeOutModel<Self>, cache: CacheConfig) -> FreezeOutModel<Self> {
        model.with_cache::<2, 3, _>(cache).unwrap()
    }
}

/// The quadrant task's images with their ids, in batches of `BATCH`, in order every epoch.
fn images() -> Loaders<ImageBatch> {
    let items =
        |batches, seed| quadrant_task(batches, BATCH, 32, seed).iter().flat_map(items_of).collect::<Vec<ImageItem>>();
    (loader(items(BATCHES, 5), BATCH), loader(items(1, 6), BATCH))
}

/// One text window: its id, `CONTEXT` input bytes and their next bytes.
#[derive(Clone, Debug)]
struct Window {
    id: u64,
    bytes: Vec<i64>,
}

const CONTEXT: usize = 16;

#[derive(Clone)]
struct WindowBatcher;

impl Batcher<Window, TextBatch> for WindowBatcher {
    fn batch(&self, items: Vec<Window>, device: &Device) -> TextBatch {
        let n = items.len();
        let ids = |part: std::ops::Range<usize>| {
            let values = items.iter().flat_map(|w| w.bytes[part.clone()].to_vec()).collect::<Vec<_>>();
            Tensor::<2, Int>::from_data(TensorData::new(values, [n, CONTEXT]), device)
        };
        TextBatch { tokens: ids(0..CONTEXT), targets: ids(1..CONTEXT + 1), ids: items.iter().map(|w| w.id).collect() }
    }
}

/// Windows of a pseudo-random text of a small alphabet, with their ids.
fn text() -> Loaders<TextBatch> {
    let windows = |n: usize, seed: u64| {
        let mut state = seed;
        (0..n as u64)
            .map(|id| {
                let bytes = (0..=CONTEXT)
                    .map(|_| {
                        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        b"abcde fgh"[(state >> 60) as usize % 9] as i64
                    })
                    .collect();
                Window { id, bytes }
            })
            .collect::<Vec<_>>()
    };
    let build = |items| DataLoaderBuilder::new(WindowBatcher).batch_size(BATCH).build(InMemDataset::new(items));
    (build(windows(BATCHES * BATCH, 1)), build(windows(BATCH, 2)))
}

/// Without the cache and with it, from the same weights: the same freezes, the same final
/// values; returns the cached run's stats.
fn cached_equals_uncached<M>(
    model: M,
    data: impl Fn() -> Loaders<<M as TrainStep>::Input>,
    cache: CacheConfig,
) -> CacheStats
where
    M: Runnable,
    <M as TrainStep>::Input: CachedBatch,
{
    let (plain_dir, cached_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let plain = learner_run(model.clone(), CacheConfig::default(), data(), plain_dir.path(), EPOCHS, None);
    let cached = learner_run(model, cache, data(), cached_dir.path(), EPOCHS, None);
    let iterations = |e: &[FreezeEvent]| e.iter().map(|e| (e.iteration, e.to)).collect::<Vec<_>>();
    assert_eq!(iterations(&plain.0), [(7, 1), (11, 2), (16, 3)]);
    assert_eq!(cached.0, plain.0, "the same freezes with the same rates");
    assert!(cached.1 == plain.1, "the same final parameters and buffers, bit for bit");
    assert_eq!(plain.2, None);
    cached.2.expect("a cached run has stats")
}

#[test]
fn a_cached_learner_run_trains_a_vit_bit_for_bit_as_the_uncached_one() {
    let device = Device::flex().autodiff();
    device.seed(3);
    let stats = cached_equals_uncached(Vit::new(2, 32, 0.0, 4, &device), images, CacheConfig::new(CacheMode::Exact));
    // Iterations 7..19 look up 8 samples each (13 steps); the first 4 steps miss (each sample's
    // first visit with a frozen unit), the 9 from iteration 11 on hit (entries advanced).
    assert_eq!((stats.boundary, stats.entries, stats.lookups, stats.hits), (3, 32, 13 * 8, 9 * 8), "{stats:?}");
    assert_eq!(stats.bytes, 32 * 64 * 32 * 4, "one [64 tokens, 32] entry per sample");
}

#[test]
fn a_cached_learner_run_within_a_budget_of_half_the_samples_is_still_exact() {
    let device = Device::flex().autodiff();
    device.seed(4);
    let entry = 64 * 32 * 4;
    let stats = cached_equals_uncached(
        Vit::new(2, 32, 0.0, 4, &device),
        images,
        CacheConfig::new(CacheMode::Exact).with_mem(16 * entry),
    );
    assert_eq!(stats.entries, 16, "{stats:?}");
    assert!(stats.refused > 0 && stats.hits > 0, "{stats:?}");
}

#[test]
fn a_cached_learner_run_trains_a_char_gpt_bit_for_bit_as_the_uncached_one() {
    let device = Device::flex().autodiff();
    device.seed(5);
    let stats = cached_equals_uncached(
        CharGpt::new(VOCAB, CONTEXT, 2, 32, 0.0, &device),
        text,
        CacheConfig::new(CacheMode::Exact),
    );
    assert_eq!((stats.boundary, stats.entries, stats.lookups, stats.hits), (3, 32, 13 * 8, 9 * 8), "{stats:?}");
}

/// Stopped after epoch 2 (one unit frozen, the cache full), resumed into a new model with an
/// empty cache: the end of the whole uncached run.
#[test]
fn a_cached_learner_run_resumed_ends_as_the_whole_uncached_run() {
    let device = Device::flex().autodiff();
    device.seed(6);
    let model = Vit::new(2, 32, 0.0, 4, &device);
    let whole_dir = tempfile::tempdir().unwrap();
    let whole = learner_run(model.clone(), CacheConfig::default(), images(), whole_dir.path(), EPOCHS, None);
    let dir = tempfile::tempdir().unwrap();
    let exact = CacheConfig::new(CacheMode::Exact);
    let first = learner_run(model, exact, images(), dir.path(), 2, None);
    assert_eq!(first.0.iter().map(|e| e.to).collect::<Vec<_>>(), [1], "one unit frozen at the stop");
    assert!(first.2.is_some_and(|s| s.entries > 0), "the cache held entries at the stop");
    let resumed = learner_run(Vit::new(2, 32, 0.0, 4, &device), exact, images(), dir.path(), EPOCHS, Some(2));
    assert_eq!(resumed.0, whole.0.into_iter().filter(|e| e.iteration > 8).collect::<Vec<_>>());
    assert!(resumed.1 == whole.1, "the same final parameters and buffers, bit for bit");
    assert!(resumed.2.is_some_and(|s| s.hits > 0), "the resumed run's cache served it");
}

#[test]
fn the_learner_refuses_the_modes_that_rebuild_samples() {
    let device = Device::flex().autodiff();
    for mode in [CacheMode::Reuse, CacheMode::Shift] {
        let model = FreezeOutModel::new(Vit::new(2, 32, 0.0, 4, &device), Default::default(), TOTAL).unwrap();
        let e = model.with_cache::<4, 2, _>(CacheConfig::new(mode)).unwrap_err().to_string();
        assert!(e.starts_with(&format!("FreezeOutModel::with_cache: the {mode} mode rebuilds a sample")), "{e}");
        assert!(e.contains("CacheMode::Exact"), "{e}");
    }
}

/// A frozen prefix and a batch without ids: the step stops, naming what is missing.
#[test]
fn a_cached_step_on_a_batch_without_ids_stops_naming_them() {
    let device = Device::flex().autodiff();
    let model = FreezeOutModel::new(Vit::new(2, 32, 0.0, 4, &device).freeze_units(1), Default::default(), TOTAL)
        .unwrap()
        .with_cache::<4, 2, _>(CacheConfig::new(CacheMode::Exact))
        .unwrap();
    let (train, _) = images();
    let mut batch = train.iter().next().unwrap().unwrap();
    batch.ids.clear();
    let step = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| TrainStep::step(&model, batch)));
    let panic = step.err().expect("the step stops");
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(
        message.starts_with(
            "FreezeOut (FreezeOutModel::with_cache): --cache exact: the training batches carry no sample ids"
        ),
        "{message}"
    );
}
