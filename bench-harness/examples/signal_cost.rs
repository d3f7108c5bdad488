//! What the adaptive policy's signal costs: one gradient-norm sample (every unit's gradient norm,
//! one device read: `FreezeOutDriver::observe_gradients`) against one training step of the same
//! model at batch 50 on the CPU, measured in the same run; the cost per iteration is the sample
//! divided by `sample_every` (default 5).
//!
//! `cargo run --release -p bench-harness --example signal_cost [-- MODEL...]` (default: wrn-10-1
//! densenet-bc-40-12)

use burn::optim::GradientsParams;
use burn::tensor::{Device, Distribution, Int, Tensor};
use burn_freezeout::device::DeviceKind;
use burn_freezeout::models::{Preset, WithModel};
use burn_freezeout::policy::Policy;
use burn_freezeout::task::{Classification, Task};
use burn_freezeout::train::{Stepper, TrainConfig};
use burn_freezeout::{Adaptive, AdaptiveConfig, FreezeOut, FreezeOutDriver, FreezeOutForward, Schedule};
use std::time::Instant;

const STEPS: usize = 10;
const SAMPLES: usize = 30;

/// `(median step ms, median sample ms)`.
struct SignalCost(Device);

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

impl WithModel for SignalCost {
    type Output = (f64, f64);
    fn run<M: FreezeOut + FreezeOutForward<4, 2> + 'static>(self, mut model: M) -> (f64, f64) {
        let device = self.0;
        let images = Tensor::<4>::random([50, 3, 32, 32], Distribution::Normal(0.0, 1.0), &device);
        let targets = Tensor::<1, Int>::random([50], Distribution::Uniform(0.0, 10.0), &device);
        let n = model.num_units();
        // Steps with a baseline schedule: no signal.
        let schedule = Schedule::baseline(0.01, n, 1_000_000).expect("a valid baseline");
        let mut driver = FreezeOutDriver::with_schedule(&model, schedule).expect("the model's units");
        let mut stepper = Stepper::new(&TrainConfig::default(), &device);
        let mut steps = Vec::new();
        for i in 0..STEPS + 2 {
            let (next, r) = stepper.step(model, &Classification, (images.clone(), targets.clone()), &mut driver);
            model = next;
            driver.advance();
            if i >= 2 {
                steps.push(r.seconds * 1e3);
            }
        }
        // Samples on one batch's gradients, by a policy that samples every iteration.
        let config = AdaptiveConfig { sample_every: 1, ..AdaptiveConfig::default() };
        let policy = Policy::from(Adaptive::new(config, 0.1, n, 1_000_000).expect("a valid policy"));
        let mut adaptive = FreezeOutDriver::with_policy(&model, policy).expect("the model's units");
        let loss = Classification.forward(&model, (images, targets)).loss;
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let mut samples = Vec::new();
        for _ in 0..SAMPLES + 2 {
            device.sync().ok();
            let t = Instant::now();
            adaptive.observe_gradients(&model, &grads);
            device.sync().ok();
            samples.push(t.elapsed().as_secs_f64() * 1e3);
        }
        (median(steps), median(samples[2..].to_vec()))
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let models: Vec<Preset> = if args.is_empty() {
        vec![Preset::Wrn { depth: 10, width: 1 }, Preset::DenseNetBc { depth: 40, growth: 12 }]
    } else {
        args.iter().map(|a| a.parse()).collect::<Result<_, _>>().map_err(|e| anyhow::anyhow!("{e}"))?
    };
    let device = DeviceKind::Cpu.autodiff_with(Default::default())?;
    let every = AdaptiveConfig::default().sample_every as f64;
    println!(
        "| model | step, batch 50 (ms) | one gradient-norm sample (ms) | sample ÷ step | per iteration at sample_every {every} |"
    );
    println!("|---|---|---|---|---|");
    for model in models {
        let (step, sample) = model.build(10, 0.0, &device, SignalCost(device.clone()));
        println!(
            "| {model} | {step:.1} | {sample:.2} | {:.2} % | {:.3} % |",
            100.0 * sample / step,
            100.0 * sample / step / every
        );
    }
    Ok(())
}
