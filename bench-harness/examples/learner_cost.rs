//! What training under burn-train's `Learner` costs against our `fit`: WRN-10-1, batch 50,
//! on the CPU backend, the default FreezeOut schedule over the run, the same host batch every
//! iteration, one held-out batch; rounds alternate the two so drift hits both alike. The
//! Learner runs as a user would run it (loss and accuracy metrics, burn's data loader and
//! event processing, the CLI renderer), without checkpointers; `fit` as `paper-repro` runs it
//! (log in memory). Printed: wall-clock per iteration of each and their ratio.
//!
//! `cargo run --release -p bench-harness --features learner --example learner_cost [-- STEPS ROUNDS]`

use bench_harness::bench::images;
use burn::tensor::{Device, Distribution, Int, Tensor};
use burn::train::metric::{AccuracyMetric, LossMetric};
use burn::train::renderer::CliMetricsRenderer;
use burn::train::{Learner, SupervisedTraining};
use burn_freezeout::data::{HostBatch, InMemory};
use burn_freezeout::learner::FreezeOutModel;
use burn_freezeout::models::WideResNet;
use burn_freezeout::train::{self, TrainConfig};
use std::time::Instant;

const BATCH: usize = 50;
const CLASSES: usize = 10;

fn random_batch(device: &Device) -> HostBatch {
    let plain = device.clone().without_autodiff();
    let images = Tensor::<4>::random([BATCH, 3, 32, 32], Distribution::Normal(0.0, 1.0), &plain);
    let labels = Tensor::<1, Int>::random([BATCH], Distribution::Uniform(0.0, CLASSES as f64), &plain);
    HostBatch::new(
        images.into_data().iter::<f32>().collect(),
        [BATCH, 3, 32, 32],
        labels.into_data().iter::<i64>().collect(),
    )
}

/// `batch`'s examples, `times` over.
fn items(batch: &HostBatch, times: usize) -> Vec<images::ImageItem> {
    let one = images::items_of(batch);
    (0..times).flat_map(|_| one.iter().cloned()).collect()
}

fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse()).collect::<Result<_, _>>()?;
    let (steps, rounds) = (args.first().copied().unwrap_or(30), args.get(1).copied().unwrap_or(3));
    let device = Device::flex().autodiff();
    let model = WideResNet::new(10, 1, 0.0, CLASSES, &device);
    let host = random_batch(&device);
    let config = TrainConfig { epochs: 1, ..TrainConfig::default() };
    let dir = tempfile::tempdir()?;

    let (mut fit_ms, mut learner_ms) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let mut data = InMemory { train: vec![host.clone(); steps], eval: vec![host.clone()] };
        let t = Instant::now();
        train::Fit::new(&config, &device).run(model.clone(), &mut data)?;
        fit_ms.push(t.elapsed().as_secs_f64() * 1e3 / steps as f64);

        let wrapped = FreezeOutModel::new(model.clone(), config.schedule, steps as u64)?;
        let learner = Learner::new(wrapped.clone(), config.optimizer(), wrapped.lr_scheduler());
        let train_loader = images::loader(items(&host, steps), BATCH);
        let valid_loader = images::loader(items(&host, 1), BATCH);
        let t = Instant::now();
        let result = SupervisedTraining::new(dir.path().join(format!("round-{round}")), train_loader, valid_loader)
            .metrics((AccuracyMetric::new(), LossMetric::new()))
            .renderer(Box::new(CliMetricsRenderer::new()))
            .num_epochs(1)
            .launch(learner);
        learner_ms.push(t.elapsed().as_secs_f64() * 1e3 / steps as f64);
        if let Some(error) = result.error {
            anyhow::bail!("the Learner stopped: {error}");
        }
        eprintln!(
            "round {round}: fit {:.1} ms/iteration, Learner {:.1} ms/iteration",
            fit_ms[round], learner_ms[round]
        );
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let ratios: Vec<String> = fit_ms.iter().zip(&learner_ms).map(|(f, l)| format!("{:.3}", l / f)).collect();
    let (f, l) = (median(&mut fit_ms), median(&mut learner_ms));
    println!(
        "WRN-10-1, batch {BATCH}, {steps} iterations, {rounds} rounds: fit {f:.1} ms/iteration, Learner {l:.1} ms/iteration \
         (medians); Learner / fit = {:.3} (per round: {})",
        l / f,
        ratios.join(", ")
    );
    Ok(())
}
