//! How much of a DenseNet-BC training step is the repeated concatenation (each dense layer
//! copies the growing feature map)? Times exactly the `cat`s of one forward pass, with the
//! shapes of the preset, forward and backward (autodiff), against a full training step.
//!
//! `cargo run --release -p bench-harness --example concat_share -- densenet-bc-100-12 50`

use bench_harness::bench::speed::{self, SpeedConfig};
use burn::tensor::{Distribution, Tensor};
use burn_freezeout::device::DeviceKind;
use burn_freezeout::models::Preset;
use burn_freezeout::models::spec::Layer;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let model: Preset = args.first().map_or("densenet-bc-40-12", String::as_str).parse()?;
    let batch: usize = args.get(1).map_or(Ok(50), |b| b.parse())?;
    let Preset::DenseNetBc { growth, .. } = model else { anyhow::bail!("a densenet-bc-L-k preset") };
    let device = DeviceKind::Cpu.autodiff()?;
    // Each dense layer (`blockB.L`) concatenates its input (its first BatchNorm's channels and
    // map size, from the preset's description) with the `growth` channels it makes.
    let shapes: Vec<(usize, usize)> = model
        .spec(10)
        .units
        .iter()
        .filter(|u| u.name.starts_with("block"))
        .map(|u| match u.layers[0] {
            Layer::Bn { c, hw } => Ok((c, hw)),
            other => Err(anyhow::anyhow!("dense layer {} starts with {other:?}, not BatchNorm", u.name)),
        })
        .collect::<anyhow::Result<_>>()?;
    let inputs: Vec<_> = shapes
        .iter()
        .map(|&(c, s)| {
            let x = Tensor::<4>::random([batch, c, s, s], Distribution::Default, &device).require_grad();
            let h = Tensor::<4>::random([batch, growth, s, s], Distribution::Default, &device).require_grad();
            (x, h)
        })
        .collect();
    let mut best = (f64::MAX, f64::MAX);
    for _ in 0..5 {
        device.sync()?;
        let t = Instant::now();
        let outs: Vec<_> = inputs.iter().map(|(x, h)| Tensor::cat(vec![x.clone(), h.clone()], 1)).collect();
        device.sync()?;
        let forward = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let total = outs.into_iter().map(|o| o.sum()).reduce(|a, b| a + b).expect("layers");
        let _grads = total.backward();
        device.sync()?;
        let backward = t.elapsed().as_secs_f64();
        best = (best.0.min(forward), best.1.min(backward));
    }
    let report = speed::measure(&SpeedConfig {
        model,
        classes: 10,
        batch,
        iters: 3,
        warmup: 1,
        fractions: vec![0.0],
        device: DeviceKind::Cpu,
        verbose: false,
        schedule_iters: 0,
        float: Default::default(),
    })?;
    let step = report.points[0].median_ms;
    let (f, b) = (best.0 * 1e3, best.1 * 1e3);
    println!(
        "{model} batch {batch}: {} concatenations: forward {f:.1} ms, backward (with the sums) {b:.1} ms; \
         training step {step:.1} ms (forward {:.1}): concatenation ≤ {:.1}% of the step",
        shapes.len(),
        report.points[0].forward_ms,
        100.0 * (f + b) / step
    );
    Ok(())
}
