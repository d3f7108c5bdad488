//! `paper-repro`: reproduce the FreezeOut paper (Brock et al. 2017) on Burn.

mod cmd;

use burn_freezeout::device::on_compute_pool;
use clap::{Parser, Subcommand};

/// Reproduce "FreezeOut: Accelerate Training by Progressively Freezing Layers" on Burn.
///
/// Without a subcommand: the quick table (`table --preset quick`).
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Print the schedule a run would get: per-unit freeze point, budget and initial LR.
    Schedule(cmd::schedule::Args),
    /// Train one model (FreezeOut, an adaptive policy or the baseline) and write its log and
    /// summary.
    Train(Box<cmd::train::Args>),
    /// Check or download CIFAR data.
    #[command(subcommand)]
    Data(cmd::data::Command),
    /// List the model presets with units, parameters and cost.
    Models,
    /// Step time with 0/25/50/75% of units frozen on random data, and the simulated saving.
    Speed(cmd::speed::Args),
    /// Run (or resume) a grid of runs and write the paper's tables and plots.
    Table(cmd::table::Args),
    /// FreezeOut under burn-train's data-parallel strategies (DDP, multi-device): step time and
    /// gradients all-reduced per frozen prefix (a build with --features ddp).
    Ddp(cmd::ddp::Args),
}

fn main() {
    let cli = Cli::parse();
    // Every command runs on a thread of the pool flex computes on (a faster step on the CPU:
    // `on_compute_pool`), whose threads get the main thread's stack size.
    let _ = rayon::ThreadPoolBuilder::new().stack_size(8 << 20).build_global();
    if let Some(Command::Speed(args)) = &cli.command
        && args.outside_pool
    {
        exit_on_error(cmd::speed::run(args));
        return;
    }
    exit_on_error(on_compute_pool(move || match cli.command {
        Some(Command::Schedule(args)) => cmd::schedule::run(&args),
        Some(Command::Train(args)) => cmd::train::run(&args),
        Some(Command::Data(c)) => cmd::data::run(&c),
        Some(Command::Models) => cmd::models::run(),
        Some(Command::Speed(args)) => cmd::speed::run(&args),
        Some(Command::Table(args)) => cmd::table::run(&args),
        Some(Command::Ddp(args)) => cmd::ddp::run(&args),
        None => cmd::main_job(),
    }));
}

fn exit_on_error(result: anyhow::Result<()>) {
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
