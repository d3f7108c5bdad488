//! `paper-repro ddp` (feature `ddp`): FreezeOut under burn-train's data-parallel strategies on
//! random images, each worker's optimizer steps timed and their gradients counted per frozen
//! prefix (bench-harness `bench::ddp`; the GPU script `scripts/gpu-ddp.sh`).

use burn_freezeout::device::DeviceKind;
use burn_freezeout::models::Preset;
use std::path::PathBuf;

/// How the `Learner` spreads the work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StrategyArg {
    /// One device.
    Single,
    /// burn-train's multi-device strategy (one optimizer, on the first device).
    Multi,
    /// burn-train's DDP (one worker per device, NCCL all-reduce: CUDA only).
    Ddp,
}

/// Options of `paper-repro ddp`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The model preset.
    #[arg(long, default_value = "wrn-10-1")]
    pub model: Preset,
    /// Examples per device and step.
    #[arg(long, default_value_t = 50)]
    pub batch: usize,
    /// Images per epoch, all devices together (a multiple of workers × batch).
    #[arg(long, default_value_t = 1000)]
    pub images: usize,
    /// Epochs.
    #[arg(long, default_value_t = 2)]
    pub epochs: usize,
    /// single, multi or ddp.
    #[arg(long, value_enum, default_value = "ddp")]
    pub strategy: StrategyArg,
    /// cpu or cuda (ddp: cuda only).
    #[arg(long, default_value = "cuda")]
    pub device: DeviceKind,
    /// Devices: CUDA devices 0..N, or the CPU device N times.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// burn-train's experiment directory (checkpoints off; its logs and metrics).
    #[arg(long, default_value = "ddp-run")]
    pub dir: PathBuf,
    /// Also write the report as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Runs the subcommand.
#[cfg(feature = "ddp")]
pub fn run(args: &Args) -> anyhow::Result<()> {
    use bench_harness::bench::ddp::{self, DdpConfig, Strategy};
    let strategy = match args.strategy {
        StrategyArg::Single => Strategy::Single,
        StrategyArg::Multi => Strategy::Multi,
        StrategyArg::Ddp => Strategy::Ddp,
    };
    let config = DdpConfig {
        model: args.model,
        batch: args.batch,
        images: args.images,
        epochs: args.epochs,
        strategy,
        device: args.device,
        workers: args.workers,
    };
    let report = ddp::run(&config, &args.dir)?;
    print!("{}", report.table());
    if let Some(path) = &args.json {
        burn_freezeout::train::write_atomic(path, serde_json::to_string_pretty(&report)?.as_bytes())?;
    }
    Ok(())
}

/// Runs the subcommand: not in this build.
#[cfg(not(feature = "ddp"))]
pub fn run(args: &Args) -> anyhow::Result<()> {
    let _ = args;
    anyhow::bail!(
        "paper-repro ddp: this binary was built without burn-train's Learner: rebuild with `--features ddp` \
         (and `--features cuda,ddp` for DDP on CUDA)"
    )
}
