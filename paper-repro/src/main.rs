//! `paper-repro`: reproduce the FreezeOut paper (Brock et al. 2017) on Burn.

mod cmd;

use clap::{Parser, Subcommand};

/// Reproduce "FreezeOut: Accelerate Training by Progressively Freezing Layers" on Burn.
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
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Schedule(args)) => cmd::schedule::run(&args),
        None => cmd::main_job(),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
