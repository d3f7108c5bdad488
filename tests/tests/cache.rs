//! The frozen-prefix cache: `exact` trains bit for bit as the uncached run (a fine-tuning
//! run's frozen backbone too, computed once per sample, its entries dropped when the backbone
//! trains again), an entry advances without the image to the prefix recomputed from it, the
//! budget holds, `shift`'s crop in feature space is the true prefix output inside the window,
//! and what the cache cannot do is refused naming the flag.

use burn::module::Module;
use burn::tensor::Device;
use burn_freezeout::FreezeOut;
use burn_freezeout::cache::{CacheConfig, CacheFloat, CacheMode, PrefixCache};
use burn_freezeout::data::Loader;
use burn_freezeout::data::{DataSource, InMemory};
use burn_freezeout::train::{self, RunLog, TrainConfig};
use burn_freezeout::{BackboneConfig, PolicyConfig};
use freezeout_tests::{
    TinyNet, assert_exact_cache_is_exact, fast_schedule, host, logged, module_values, quadrant_data, random_split,
};

/// Five epochs of the fast schedule: all four units of a 3-block TinyNet freeze, the last at
/// 82.5% of the run, and every sample is revisited after each freeze.
fn config(cache: CacheConfig) -> TrainConfig {
    TrainConfig { epochs: 5, cache, ..fast_schedule() }
}

#[test]
fn exact_cache_trains_bit_for_bit_as_the_uncached_run() {
    let device = Device::flex().autodiff();
    device.seed(3);
    let model = TinyNet::new(3, 4, 4, &device);
    let run = |cache: CacheConfig| {
        let mut data = quadrant_data(4, 2, 8, 8, 5);
        let mut log = RunLog::in_memory();
        // A copy through the record: clones of a module share their BatchNorm running
        // statistics, and the first run would start the second from its own.
        let fresh = TinyNet::new(3, 4, 4, &device).load_record(model.clone().into_record());
        let out = train::Fit::new(&config(cache), &device).log(&mut log).run(fresh, &mut data).unwrap();
        (logged(&log, "iter", "loss"), module_values(&out.model), out.summary)
    };
    let (_, summary) = assert_exact_cache_is_exact(20, run);
    // It did cache: by the last epoch every lookup hits, at the full prefix.
    let last = summary.epochs.last().unwrap().cache.expect("a cached run records its cache per epoch");
    assert_eq!((last.boundary, last.entries, last.lookups, last.hits), (4, 32, 32, 32), "{last:?}");
    assert!(summary.epochs[0].cache.unwrap().lookups == 0 && last.bytes == 32 * 4 * 8 * 8 * 4);
}

/// The backbone policy (every unit frozen for 3 epochs of 5, then all train) with `exact`: the
/// linear probe's epochs compute each sample's backbone once (the first) and then only the
/// head; when the backbone trains again the entries are dropped; the run is the uncached one,
/// bit for bit.
#[test]
fn a_frozen_backbone_is_computed_once_per_sample_and_dropped_when_it_trains() {
    let device = Device::flex().autodiff();
    device.seed(6);
    let model = TinyNet::new(3, 4, 4, &device);
    let backbone = PolicyConfig::Backbone(BackboneConfig { epoch: 3, ..BackboneConfig::default() });
    let run = |cache: CacheConfig| {
        let mut data = quadrant_data(4, 2, 8, 8, 5);
        let mut log = RunLog::in_memory();
        let fresh = TinyNet::new(3, 4, 4, &device).load_record(model.clone().into_record());
        let config = TrainConfig { policy: backbone, ..config(cache) };
        let out = train::Fit::new(&config, &device).log(&mut log).run(fresh, &mut data).unwrap();
        (logged(&log, "iter", "loss"), module_values(&out.model), out.summary)
    };
    let (_, summary) = assert_exact_cache_is_exact(20, run);
    let epochs: Vec<_> = summary.epochs.iter().map(|e| e.cache.expect("a cached run records its cache")).collect();
    let counts: Vec<_> = epochs.iter().map(|c| (c.boundary, c.lookups, c.hits, c.entries, c.dropped)).collect();
    assert_eq!(
        counts,
        [(4, 32, 0, 32, 0), (4, 32, 32, 32, 0), (4, 32, 32, 32, 0), (0, 0, 0, 0, 32), (0, 0, 0, 0, 0)],
        "(boundary, lookups, hits, entries, dropped) per epoch"
    );
}

#[test]
fn an_entry_advances_without_the_image_to_the_prefix_recomputed_from_it() {
    let device = Device::flex().autodiff();
    device.seed(4);
    let model = TinyNet::new(3, 4, 4, &device);
    let batch = quadrant_data(1, 0, 6, 8, 7).train.remove(0);
    let images = || batch.clone().to_device(&device).0;
    for (mode, float, tolerance) in [
        (CacheMode::Exact, CacheFloat::F32, 0.0),
        (CacheMode::Reuse, CacheFloat::F32, 0.0),
        (CacheMode::Exact, CacheFloat::Bf16, 1e-2),
    ] {
        let mut cache = PrefixCache::new(CacheConfig::new(mode).with_float(float)).unwrap();
        let samples = InMemory { train: vec![batch.clone()], eval: vec![] }.samples();
        // Unit 0 frozen: every sample misses, and its entry is the stem's output.
        let one = model.clone().freeze_units(1);
        let (x, unit) = cache.input(&one, &batch, samples.as_deref(), 0, &device).unwrap();
        assert_eq!(unit, 1);
        assert_eq!(host(x), host(one.forward_unit_range(images(), 0..1)), "a miss is the prefix itself");
        // Units 0..3 frozen: the entries advance through units 1 and 2 only.
        let three = model.clone().freeze_units(3);
        let (x, unit) = cache.input(&three, &batch, samples.as_deref(), 0, &device).unwrap();
        let stats = cache.take_stats();
        assert_eq!((unit, stats.hits, stats.stored, stats.entries), (3, 6, 12, 6), "{stats:?}");
        let (advanced, recomputed) = (host(x), host(three.forward_unit_range(images(), 0..3)));
        let worst = advanced.iter().zip(&recomputed).map(|(a, b)| (a - b).abs() / b.abs().max(1.0)).fold(0.0, f32::max);
        assert!(worst <= tolerance, "{mode} {float}: advanced differs from recomputed by {worst}");
        // The stored entry is the advanced one (rounded to bf16 where stored so): a third
        // lookup returns it.
        let (again, _) = cache.input(&three, &batch, samples.as_deref(), 0, &device).unwrap();
        let worst =
            host(again).iter().zip(&advanced).map(|(a, b)| (a - b).abs() / b.abs().max(1.0)).fold(0.0, f32::max);
        assert!(worst <= tolerance / 2.0, "{mode} {float}: stored differs from computed by {worst}");
        assert_eq!(cache.take_stats().stored, 0, "hits at the boundary write nothing");
    }
}

#[test]
fn a_budget_below_the_data_caches_what_fits_and_computes_the_rest() {
    let device = Device::flex().autodiff();
    device.seed(5);
    let model = TinyNet::new(2, 4, 4, &device).freeze_units(2);
    let batch = quadrant_data(1, 0, 8, 8, 9).train.remove(0);
    let entry = 4 * 8 * 8 * 4; // [4, 8, 8] f32
    let mut cache = PrefixCache::new(CacheConfig::new(CacheMode::Exact).with_mem(3 * entry + 10)).unwrap();
    let samples = InMemory { train: vec![batch.clone()], eval: vec![] }.samples();
    for _ in 0..2 {
        let (x, _) = cache.input(&model, &batch, samples.as_deref(), 0, &device).unwrap();
        assert_eq!(host(x), host(model.forward_unit_range(batch.clone().to_device(&device).0, 0..2)));
    }
    let stats = cache.take_stats();
    assert_eq!((stats.entries, stats.bytes, stats.hits, stats.refused), (3, 3 * entry, 3, 10), "{stats:?}");
}

/// The largest difference between `a` and `b` (`[n, c, 32, 32]`) at pixels at least `margin`
/// from the border, and anywhere.
fn differences(a: &[f32], b: &[f32], margin: usize) -> (f32, f32) {
    let (mut inside, mut anywhere) = (0f32, 0f32);
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let (row, col) = (i / 32 % 32, i % 32);
        let d = (x - y).abs();
        anywhere = anywhere.max(d);
        if (margin..32 - margin).contains(&row) && (margin..32 - margin).contains(&col) {
            inside = inside.max(d);
        }
    }
    (inside, anywhere)
}

#[test]
fn shift_takes_the_augmented_crop_in_feature_space_exact_inside_the_window() {
    let device = Device::flex().autodiff();
    device.seed(6);
    let model = TinyNet::new(2, 4, 10, &device);
    let mut loader = Loader::new(random_split(16, 1), random_split(4, 2), 8, 3);
    let samples = loader.samples();
    let batch = loader.train_epoch(0).next().unwrap();
    assert_eq!(batch.ids.len(), 8);
    assert!(batch.crops.iter().any(|c| c.flip) && batch.crops.iter().any(|c| (c.dx, c.dy) != (4, 4)));
    // Each frozen 3×3 convolution widens the border where zero padding differs by one pixel.
    for (k, margin) in [(1, 1), (2, 2)] {
        let frozen = model.clone().freeze_units(k);
        let mut cache = PrefixCache::new(CacheConfig::new(CacheMode::Shift)).unwrap();
        let (x, unit) = cache.input(&frozen, &batch, samples.as_deref(), 0, &device).unwrap();
        let truth = host(frozen.forward_unit_range(batch.clone().to_device(&device).0, 0..k));
        let (inside, anywhere) = differences(&host(x), &truth, margin);
        assert_eq!(unit, k);
        assert!(inside < 1e-5, "k = {k}: inside the window the crop is the prefix's output ({inside})");
        assert!(anywhere > 1e-3, "k = {k}: along the border it is not ({anywhere})");
        // Both maps of a sample are built only as its flips are drawn: 8 entries, one map each.
        let stats = cache.take_stats();
        assert_eq!((stats.entries, stats.stored), (8, 8));
        assert_eq!(stats.bytes, 8 * 4 * 40 * 40 * 4, "maps of the padded image");
    }
}

#[test]
fn the_cache_refuses_what_it_cannot_do_and_names_the_flag() {
    let device = Device::flex().autodiff();
    device.seed(8);
    let model = TinyNet::new(2, 4, 10, &device);
    let fail = |data: &mut dyn DataSource, cache: CacheConfig| -> String {
        let config = TrainConfig { epochs: 3, cache, ..fast_schedule() };
        match train::Fit::new(&config, &device).run(model.clone(), data) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{cache:?} must be refused"),
        }
    };
    let mut augmented = Loader::new(random_split(16, 1), random_split(4, 2), 8, 3);
    let e = fail(&mut augmented, CacheConfig::new(CacheMode::Exact));
    assert!(e.starts_with("--cache exact: the training inputs are randomly augmented"), "{e}");
    let e = fail(&mut quadrant_data(2, 1, 4, 8, 1), CacheConfig::new(CacheMode::Shift));
    assert!(e.starts_with("--cache shift: the data source gives no padded images"), "{e}");
    let mut without_ids = quadrant_data(2, 1, 4, 8, 1);
    without_ids.train.iter_mut().for_each(|b| b.ids.clear());
    let e = fail(&mut without_ids, CacheConfig::new(CacheMode::Reuse));
    assert!(e.starts_with("--cache reuse: the training batches carry no sample ids"), "{e}");
    // Images of two sizes: the prefix's output shape differs between samples.
    let mut sizes = quadrant_data(2, 1, 4, 8, 1);
    sizes.train[1] = quadrant_data(1, 0, 4, 6, 2).train.remove(0).with_ids(vec![4, 5, 6, 7]);
    let e = fail(&mut sizes, CacheConfig::new(CacheMode::Exact));
    assert!(e.starts_with("--cache: the input of unit ") && e.contains("[4, 8, 8]") && e.contains("[4, 6, 6]"), "{e}");
    let e = fail(&mut quadrant_data(2, 1, 4, 8, 1), CacheConfig::new(CacheMode::Exact).with_mem(0));
    assert!(e.starts_with("--cache-mem: a budget of 0 bytes"), "{e}");
}
