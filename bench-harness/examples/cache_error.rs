//! How far the prefix cache's entries are from the true frozen-prefix output, per boundary, on
//! real CIFAR-10 images with the paper's augmentation:
//! * `shift`: the padded image's features cropped in feature space, against the prefix of the
//!   augmented crop (exact inside the window; zero padding differs along its border, and past a
//!   stride odd crop offsets round toward the centre), in f32 and bf16;
//! * `reuse`: the features of another epoch's draw of the same image, against this epoch's
//!   (the augmentation `reuse` gives up), for scale.
//!
//! Each difference is `|cached − true|` over all elements of 200 images, divided by the mean
//! `|true|`: the mean, the 99.9th percentile and the maximum. The model is a checkpoint of a
//! trained run if one is given (its `checkpoints/step-*` directory), else freshly initialised.
//!
//! `cargo run --release -p bench-harness --example cache_error -- MODEL DATA [CHECKPOINT]`
//! (e.g. `wrn-10-1 data/cifar-10-binary.tar.gz`; results: CACHE.md)

use burn::tensor::{Device, Tensor};
use burn_freezeout::cache::{CacheConfig, CacheFloat, CacheMode, PrefixCache};
use burn_freezeout::data::DataSource;
use burn_freezeout::data::{self, CifarKind, Loader};
use burn_freezeout::models::{Preset, WithModel};
use burn_freezeout::train::{TrainConfig, checkpoint};
use burn_freezeout::{FreezeOut, FreezeOutForward, UnitTensor};
use std::path::PathBuf;

const IMAGES: usize = 200;

struct Measure {
    loader: Loader,
    checkpoint: Option<PathBuf>,
    device: Device,
}

/// `(mean, p99.9, max)` of `|a − b|`, relative to the mean `|b|`.
fn relative(a: &[f32], b: &[f32]) -> (f64, f64, f64) {
    let scale = b.iter().map(|v| v.abs() as f64).sum::<f64>() / b.len() as f64;
    let mut d: Vec<f64> = a.iter().zip(b).map(|(x, y)| (x - y).abs() as f64 / scale).collect();
    d.sort_by(f64::total_cmp);
    let mean = d.iter().sum::<f64>() / d.len() as f64;
    (mean, d[(d.len() as f64 * 0.999) as usize], *d.last().unwrap_or(&0.0))
}

fn host(x: UnitTensor) -> Vec<f32> {
    x.into_data().iter::<f32>().collect()
}

impl WithModel for Measure {
    type Output = anyhow::Result<()>;
    fn run<M: FreezeOut + FreezeOutForward<4, 2> + 'static>(mut self, model: M) -> Self::Output {
        let model = match &self.checkpoint {
            Some(path) => checkpoint::load(path, model, TrainConfig::default().optimizer())?.0,
            None => model,
        };
        let device = &self.device;
        let samples = self.loader.samples();
        let mut batches = self.loader.train_epoch(1);
        let batch = batches.next().expect("a batch");
        drop(batches);
        let replayed = samples.as_deref().and_then(|s| s.drawn(0, &batch.ids)).expect("the loader draws by epoch");
        let names: Vec<String> = model.units().into_iter().map(|u| u.name).collect();
        println!(
            "boundary (after unit)  shape         shift f32 mean / p99.9 / max    shift bf16 mean / max    reuse (another draw) mean"
        );
        for k in 1..=model.num_units() {
            let frozen = model.clone().freeze_units(k);
            let truth =
                host(frozen.forward_unit_range(batch.clone().to_device(device).0.into(), 0..k).expect("generated"));
            let mut shifted = Vec::new();
            for float in [CacheFloat::F32, CacheFloat::Bf16] {
                let mut cache =
                    PrefixCache::new(CacheConfig::new(CacheMode::Shift).with_float(float).with_mem(8 << 30))?;
                cache.input(&frozen, &batch, samples.as_deref(), 0, device)?; // builds the entries
                let (x, _) = cache.input(&frozen, &batch, samples.as_deref(), 0, device)?; // reads them
                shifted.push(relative(&host(x), &truth));
            }
            let other =
                host(frozen.forward_unit_range(replayed.clone().to_device(device).0.into(), 0..k).expect("generated"));
            let reuse = relative(&other, &truth);
            let shape = frozen
                .forward_unit_range(Tensor::<4>::zeros([1, 3, 32, 32], device).into(), 0..k)
                .expect("generated")
                .dims();
            println!(
                "{:>2} ({:<10})  {:<12}  {:.5} / {:.4} / {:.3}          {:.5} / {:.3}          {:.3}",
                k,
                names[k - 1],
                format!("{:?}", &shape[1..]),
                shifted[0].0,
                shifted[0].1,
                shifted[0].2,
                shifted[1].0,
                shifted[1].2,
                reuse.0
            );
        }
        Ok(())
    }
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: cache_error MODEL DATA [CHECKPOINT]";
    let model: Preset = args.next().ok_or_else(|| anyhow::anyhow!(usage))?.parse()?;
    let data_dir = PathBuf::from(args.next().ok_or_else(|| anyhow::anyhow!(usage))?);
    let checkpoint = args.next().map(PathBuf::from);
    let mut cifar = data::load(&data_dir, CifarKind::Cifar10)?;
    cifar.train.truncate(IMAGES * 4);
    let loader = Loader::new(cifar.train, cifar.test, IMAGES, 0);
    let device = Device::flex().autodiff();
    device.seed(0);
    println!(
        "{model}, {IMAGES} CIFAR-10 training images, {}",
        checkpoint.as_ref().map_or("freshly initialised".into(), |p| format!("checkpoint {}", p.display()))
    );
    model.build(10, 0.0, &device.clone(), Measure { loader, checkpoint, device })
}
