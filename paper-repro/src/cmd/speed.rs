//! `paper-repro speed`: step time with 0/25/50/75% of units frozen on random data at full
//! model size, and the default schedule's saving simulated from those.

use bench_harness::bench::speed::{self, SpeedConfig};
use burn_freezeout::device::{DeviceKind, FloatKind};
use burn_freezeout::models::Preset;
use std::path::PathBuf;

/// Options of `paper-repro speed`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Model presets to measure.
    #[arg(long, num_args = 1.., default_values = ["densenet-bc-40-12"])]
    pub model: Vec<Preset>,
    /// Batch sizes.
    #[arg(long, num_args = 1.., default_values_t = [50])]
    pub batch: Vec<usize>,
    /// Timed iterations per point.
    #[arg(long, default_value_t = 5)]
    pub iters: usize,
    /// Warm-up iterations per point (on cuda / wgpu at least 2: the second step of a new
    /// configuration still compiles kernels: bench-harness/PERF.md).
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// Fractions of units frozen.
    #[arg(long, num_args = 1.., default_values_t = [0.0, 0.25, 0.5, 0.75])]
    pub fractions: Vec<f64>,
    /// Classes of the head (10: CIFAR-10).
    #[arg(long, default_value_t = 10)]
    pub classes: usize,
    /// cpu (flex), cuda; ndarray, tch, tch-cuda or wgpu only in a build with that feature.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceKind,
    /// Float type of every tensor: f32, flex32 (relaxed f32 compute, like PyTorch's TF32
    /// convolutions), bf16 or f16 (the whole model, not mixed precision).
    #[arg(long, default_value = "f32")]
    pub float: FloatKind,
    /// Print every step's time (see compilation/autotune stalls as they happen).
    #[arg(long)]
    pub verbose: bool,
    /// Then train with the default schedule for this many iterations (same batch, timed) and
    /// compare its measured saving with the one predicted from the fixed-prefix step times.
    #[arg(long, default_value_t = 0)]
    pub schedule_iters: u64,
    /// Drive the steps from the main thread instead of a thread of flex's pool, to measure what
    /// running on the pool saves (bench-harness/PERF.md).
    #[arg(long)]
    pub outside_pool: bool,
    /// Also write the reports as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Runs the subcommand.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let mut reports = Vec::new();
    for &model in &args.model {
        for &batch in &args.batch {
            let config = SpeedConfig {
                model,
                classes: args.classes,
                batch,
                iters: args.iters,
                warmup: args.warmup,
                fractions: args.fractions.clone(),
                device: args.device,
                verbose: args.verbose,
                schedule_iters: args.schedule_iters,
                float: args.float,
            };
            let report = speed::measure(&config)?;
            println!("{}", speed::render(&report));
            reports.push(report);
        }
    }
    if let Some(path) = &args.json {
        burn_freezeout::train::write_atomic(path, serde_json::to_string_pretty(&reports)?.as_bytes())?;
    }
    Ok(())
}
