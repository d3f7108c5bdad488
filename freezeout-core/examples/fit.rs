//! FreezeOut with our training loop, `Fit`: a built-in WRN-10-1 on CIFAR-10 (or, without
//! `--cifar`, on synthetic images), the paper's optimizer and the default schedule; the run's log
//! and summary go to `runs/fit-example`.
//!
//! ```sh
//! cargo run --release -p burn-freezeout --example fit                                        # synthetic
//! cargo run --release -p burn-freezeout --example fit -- --cifar data/cifar-10-binary.tar.gz --epochs 2
//! ```
//!
//! Any other task (a regressor, a sequence model) goes through `Fit::task` with a `task::Task`.

use burn_freezeout::FreezeOut;
use burn_freezeout::data::{self, CifarKind, Loader, Split};
use burn_freezeout::models::WideResNet;
use burn_freezeout::train::{Fit, RunLog, TrainConfig};

/// Four classes: which quadrant of the image is bright.
fn synthetic(n: usize) -> Split {
    let mut split = Split::default();
    for i in 0..n {
        let label = (i % 4) as u8;
        for _channel in 0..3 {
            for y in 0..32 {
                for x in 0..32 {
                    let bright = (y / 16) * 2 + x / 16 == label as usize;
                    split.images.push(if bright { 200 } else { 60 } + ((i * 31 + x * 7 + y * 13) % 40) as u8);
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
    let epochs: usize = arg("--epochs").map_or(Ok(2), |v| v.parse())?;
    let (mut loader, classes) = match arg("--cifar") {
        Some(path) => {
            let cifar = data::load(path.as_ref(), CifarKind::Cifar10)?;
            (Loader::new(cifar.train, cifar.test, 50, 0), 10)
        }
        None => (Loader::new(synthetic(400), synthetic(100), 50, 0), 4),
    };

    let device = burn::tensor::Device::flex().autodiff();
    let model = WideResNet::new(10, 1, 0.0, classes, &device);
    let config = TrainConfig { epochs, ..TrainConfig::default() }; // SGD Nesterov, cubic t0 0.8, scaled rates
    let dir = std::path::Path::new("runs/fit-example");
    if dir.join("log.jsonl").exists() {
        return Err(
            format!("{} already holds a run: delete it (or move it away) to start another", dir.display()).into()
        );
    }
    let out = Fit::new(&config, &device).log(&mut RunLog::create(dir)?).run(model, &mut loader)?;

    for e in &out.summary.epochs {
        println!(
            "epoch {}: train loss {:.3}, test error {:.1}%, {} units frozen",
            e.epoch,
            e.train_loss,
            100.0 * e.test_error.unwrap_or(f64::NAN),
            e.frozen_units
        );
    }
    println!(
        "{} of {} units frozen at the end, {:.1} s of steps",
        out.model.frozen_units(),
        out.model.num_units(),
        out.summary.step_seconds
    );
    Ok(())
}
