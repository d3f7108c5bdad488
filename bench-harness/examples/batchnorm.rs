//! Does a BatchNorm whose statistics need no transpose beat Burn's on the CPU backend?
//!
//! Burn 0.22.1's default `batch_norm_train` (which flex does not override) computes the mean
//! and the variance each through `swap_dims(0, 1)` + `reshape([C, N·H·W])`: two transposed
//! copies of the activation per forward, two more in its backward. The candidate reduces over
//! N and H·W of the NCHW activation in place (`reshape([N, C, H·W])`, free) with ordinary tensor
//! ops that autodiff differentiates. Forward + backward of one BatchNorm in training mode, both
//! on the same input, in turns; median of the rounds, ratio from one run.
//!
//! `cargo run --release -p bench-harness --example batchnorm [-- ROUNDS]` (results: PERF.md,
//! "BatchNorm without transposes")

use burn::nn::{BatchNorm, BatchNormConfig};
use burn::tensor::{Device, Distribution, Tensor};
use std::time::Instant;

/// BatchNorm in training mode with NCHW-native statistics (the same math as Burn's).
fn native(bn: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let flat = x.reshape([n, c, h * w]);
    let mean = flat.clone().mean_dim(2).mean_dim(0);
    let centered = flat - mean;
    let var = centered.clone().powi_scalar(2).mean_dim(2).mean_dim(0);
    let scale = var.add_scalar(bn.epsilon).sqrt().recip() * bn.gamma.val().reshape([1, c, 1]);
    (centered * scale + bn.beta.val().reshape([1, c, 1])).reshape([n, c, h, w])
}

fn time(device: &Device, f: impl Fn() -> Tensor<4>) -> f64 {
    device.sync().ok();
    let t = Instant::now();
    let y = f();
    let grads = (y.clone() * y).sum().backward();
    drop(grads);
    device.sync().ok();
    t.elapsed().as_secs_f64() * 1e3
}

fn main() {
    let rounds: usize = std::env::args().nth(1).map_or(7, |r| r.parse().expect("ROUNDS is a number"));
    let device = Device::flex().autodiff();
    println!("| shape | Burn ms | native ms | native ÷ Burn | max |Δ| forward |");
    println!("|---|---|---|---|---|");
    // DenseNet-BC-40-12 at batch 50: block inputs of each stage, the bottleneck width, WRN-16-2.
    for [n, c, h, w] in [
        [50, 24, 32, 32],
        [50, 96, 32, 32],
        [50, 168, 32, 32],
        [50, 48, 32, 32],
        [50, 132, 16, 16],
        [50, 150, 8, 8],
        [50, 32, 32, 32],
        [50, 64, 16, 16],
    ] {
        let bn = BatchNormConfig::new(c).init(&device);
        let x = Tensor::<4>::random([n, c, h, w], Distribution::Normal(0.5, 2.0), &device).require_grad();
        let diff: f32 = (bn.forward(x.clone()) - native(&bn, x.clone())).abs().max().into_scalar();
        let (mut burn, mut ours) = (Vec::new(), Vec::new());
        for _ in 0..rounds + 1 {
            burn.push(time(&device, || bn.forward(x.clone())));
            ours.push(time(&device, || native(&bn, x.clone())));
        }
        let median = |v: &mut Vec<f64>| {
            v.remove(0); // warm-up
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (b, o) = (median(&mut burn), median(&mut ours));
        println!("| [{n}, {c}, {h}, {w}] | {b:.2} | {o:.2} | {:.2} | {diff:.1e} |", o / b);
    }
}
