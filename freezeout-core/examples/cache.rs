//! The frozen-prefix cache in your own training loop: a WRN-10-1 on random CIFAR-shaped images,
//! trained with FreezeOut by a hand-written loop whose frozen units run forward once per sample
//! instead of every epoch. The lines marked `// cache` are all the cache adds to the FreezeOut
//! loop of `examples/own_loop.rs`.
//!
//! `cargo run --release -p burn-freezeout --example cache`

use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::{Device, Int, Tensor, TensorData};
use burn_freezeout::cache::{CacheConfig, CacheMode, PrefixCache};
use burn_freezeout::data::DataSource;
use burn_freezeout::data::{Loader, Split};
use burn_freezeout::models::WideResNet;
use burn_freezeout::{FreezeOut, FreezeOutDriver, FreezeOutForward, ScheduleConfig};
use rand::{Rng, SeedableRng};

fn random_split(n: usize, seed: u64) -> Split {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    Split {
        images: (0..n * 3072).map(|_| rng.random()).collect(),
        labels: (0..n).map(|_| rng.random_range(0..10)).collect(),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let device = Device::flex().autodiff();
    let epochs = 6;
    let mut data = Loader::new(random_split(400, 1), random_split(100, 2), 50, 0);
    let mut model = WideResNet::new(10, 1, 0.0, 10, &device);
    let mut optim = SgdConfig::new().init();
    let total = (epochs * data.train_batches_per_epoch()) as u64;
    let mut freezeout = FreezeOutDriver::new(&model, ScheduleConfig { t0: 0.5, ..ScheduleConfig::default() }, total)?;
    // `shift`: the random crop and flip of the data pipeline survive the cache.
    let mut cache = PrefixCache::new(CacheConfig::new(CacheMode::Shift).with_mem(1 << 30))?; // cache
    let samples = data.samples(); // cache: the padded images of a sample, by id

    for epoch in 0..epochs {
        let started = std::time::Instant::now();
        for batch in data.train_epoch(epoch) {
            model = freezeout.freeze(model);
            let n = batch.len();
            let targets = Tensor::<1, Int>::from_data(TensorData::new(batch.labels.clone(), [n]), &device);
            let (x, unit) = cache.input(&model, &batch, samples.as_deref(), 0, &device)?; // cache: was the images
            let logits = model.forward_from(x, unit).expect("a generated forward"); // cache: was forward(images)
            let loss = burn::nn::loss::CrossEntropyLossConfig::new().init(&device).forward(logits, targets);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(freezeout.learning_rates(), model, grads);
            freezeout.advance();
        }
        let stats = cache.take_stats(); // cache
        println!(
            "epoch {epoch}: {:.1} s, {} of {} units frozen; cache: {} entries, {:.1} MiB, hit rate {:.0}%",
            started.elapsed().as_secs_f64(),
            model.frozen_units(),
            model.num_units(),
            stats.entries,
            stats.bytes as f64 / (1 << 20) as f64,
            100.0 * stats.hit_rate()
        );
    }
    Ok(())
}
