//! One op, one shape, on flex: the convolutions and BatchNorms of DenseNet-BC-40-12 and WRN-16-2
//! at batch 50, forward and each gradient timed alone, and the 1×1 convolution as our models
//! train it (`burn_freezeout::models::pointwise`). `bench-harness/reference/torch_ops.py`
//! runs the same ops and shapes in PyTorch; the two tables side by side are the reproductions
//! in `bench-harness/PERF.md` ("What is inside Burn").
//!
//! Each op: `y = op(x)`, then `(y · g).sum().backward()` with only the input (the data
//! gradient) or only the weight (the weight gradient) tracked; a gradient's time is that step
//! minus the forward's. Median of the rounds after one warm-up, on a thread of flex's pool
//! (as `paper-repro` runs).
//!
//! `cargo run --release -p bench-harness --example op_repro [-- ROUNDS]`

use burn::module::Module;
use burn::nn::BatchNormConfig;
use burn::nn::conv::Conv2dConfig;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Distribution, Tensor};
use burn_freezeout::device::on_compute_pool;
use burn_freezeout::models::pointwise;
use std::time::Instant;

/// Milliseconds of `f` (synchronised), median of `rounds` after one warm-up.
fn median_ms(device: &Device, rounds: usize, f: impl Fn()) -> f64 {
    let mut times: Vec<f64> = (0..=rounds)
        .map(|_| {
            device.sync().ok();
            let t = Instant::now();
            f();
            device.sync().ok();
            t.elapsed().as_secs_f64() * 1e3
        })
        .skip(1)
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn backward(y: Tensor<4>, g: &Tensor<4>) {
    let _grads = (y * g.clone()).sum().backward();
}

/// One row: the forward alone, then the data and the weight gradient each alone (that step
/// minus the forward). `op(x, data_only)` runs the op with only `x` tracked when `data_only`,
/// with only the weight tracked otherwise.
fn gradient_row(
    device: &Device,
    rounds: usize,
    label: &str,
    [n, c, h, w]: [usize; 4],
    out: usize,
    op: impl Fn(Tensor<4>, bool) -> Tensor<4>,
) {
    let x = Tensor::<4>::random([n, c, h, w], Distribution::Normal(0.0, 1.0), device);
    let g = Tensor::<4>::random([n, out, h, w], Distribution::Normal(0.0, 1.0), device);
    let forward = median_ms(device, rounds, || {
        let _ = op(x.clone(), false);
    });
    let data = median_ms(device, rounds, || backward(op(x.clone().require_grad(), true), &g));
    let weights = median_ms(device, rounds, || backward(op(x.clone(), false), &g));
    println!(
        "| {label} | [{n}, {c}, {h}, {w}] → {out} | {forward:.2} | {:.2} | {:.2} |",
        data - forward,
        weights - forward
    );
}

/// Burn's convolution (`k×k`, stride 1, padding `k/2`).
fn conv(device: &Device, rounds: usize, shape: [usize; 4], out: usize, k: usize) {
    let weight = Tensor::<4>::random([out, shape[1], k, k], Distribution::Normal(0.0, 0.1), device);
    let options = || ConvOptions::new([1, 1], [k / 2, k / 2], [1, 1], 1);
    gradient_row(device, rounds, &format!("conv {k}×{k}"), shape, out, |x, data_only| {
        let weight = if data_only { weight.clone() } else { weight.clone().require_grad() };
        conv2d(x, weight, None, options())
    });
}

/// The 1×1 convolution as our models run it when training (`burn_freezeout::models::pointwise`:
/// a matrix product over the channels while a gradient flows; the forward row too, as the
/// weight is tracked there).
fn pointwise_conv(device: &Device, rounds: usize, shape: [usize; 4], out: usize) {
    let config = Conv2dConfig::new([shape[1], out], [1, 1]).with_bias(false);
    // Two modules: Burn shares a lazily initialised parameter between clones, so `no_grad` on a
    // clone would stop the original's weight gradient too.
    let (conv, frozen) = (config.init(device), config.init(device).no_grad());
    gradient_row(device, rounds, "conv 1×1 as a matrix product (`pointwise`)", shape, out, |x, data_only| {
        pointwise(if data_only { &frozen } else { &conv }, x)
    });
}

fn batchnorm(device: &Device, rounds: usize, [n, c, h, w]: [usize; 4]) {
    let bn = BatchNormConfig::new(c).init(device);
    let x = Tensor::<4>::random([n, c, h, w], Distribution::Normal(0.5, 2.0), device);
    let g = Tensor::<4>::random([n, c, h, w], Distribution::Normal(0.0, 1.0), device);
    let forward = median_ms(device, rounds, || {
        let _ = bn.forward(x.clone());
    });
    let step = median_ms(device, rounds, || backward(bn.forward(x.clone().require_grad()), &g));
    println!("| batchnorm (train) | [{n}, {c}, {h}, {w}] | {forward:.2} | {:.2} (input, γ, β) | — |", step - forward);
}

fn main() {
    let rounds: usize = std::env::args().nth(1).map_or(5, |r| r.parse().expect("ROUNDS is a number"));
    on_compute_pool(|| {
        let device = Device::flex().autodiff();
        println!("flex, {} threads, median of {rounds}", rayon::current_num_threads());
        println!("| op | shape | forward ms | data gradient ms | weight gradient ms |");
        println!("|---|---|---|---|---|");
        // DenseNet-BC-40-12, block 1: the widest bottleneck (1×1, 84 → 48) and the 3×3 (48 → 12).
        conv(&device, rounds, [50, 84, 32, 32], 48, 1);
        pointwise_conv(&device, rounds, [50, 84, 32, 32], 48);
        conv(&device, rounds, [50, 48, 32, 32], 12, 3);
        // WRN-16-2, stage 1 and 3: 3×3, 32 → 32 at 32×32 and 128 → 128 at 8×8.
        conv(&device, rounds, [50, 32, 32, 32], 32, 3);
        conv(&device, rounds, [50, 128, 8, 8], 128, 3);
        batchnorm(&device, rounds, [50, 84, 32, 32]);
        batchnorm(&device, rounds, [50, 32, 32, 32]);
    });
}
