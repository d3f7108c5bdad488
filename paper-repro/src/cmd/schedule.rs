//! `paper-repro schedule`: the schedule a user would get, as a table or JSON.

use anyhow::Context;
use burn_freezeout::{Scaling, Schedule, ScheduleConfig};
use serde::Serialize;

/// Options of `paper-repro schedule`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Freeze fraction of the first unit, before scaling (cubic 0.8 freezes it at 0.512).
    #[arg(long, default_value_t = 0.8)]
    pub t0: f64,
    /// How t_i grows with the unit index: linear, squared or cubic.
    #[arg(long, default_value = "cubic")]
    pub scaling: Scaling,
    /// Same initial LR for every unit (no 1/t_i scaling).
    #[arg(long)]
    pub no_scale_lr: bool,
    /// Base learning rate α.
    #[arg(long, default_value_t = 0.1)]
    pub lr: f64,
    /// Number of units N (names unit0..); the head is extra.
    #[arg(long, conflicts_with = "model")]
    pub units: Option<usize>,
    /// A model preset instead of --units.
    #[arg(long)]
    pub model: Option<String>,
    /// Epochs of the run.
    #[arg(long, default_value_t = 100)]
    pub epochs: u64,
    /// Iterations per epoch (batches per epoch of the data loader; CIFAR train at batch 50 = 1000).
    #[arg(long, default_value_t = 1000)]
    pub iters_per_epoch: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct UnitRow<'a> {
    index: usize,
    name: &'a str,
    t: f64,
    max_iter: u64,
    lr0: f64,
}

#[derive(Serialize)]
struct Output<'a> {
    units: Vec<UnitRow<'a>>,
    reference_speedup: Option<f64>,
}

/// Runs the subcommand.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let (names, costs): (Vec<String>, Option<Vec<f64>>) = match (&args.model, args.units) {
        (Some(model), _) => {
            let spec = model.parse::<burn_freezeout::models::Preset>()?.spec(10);
            let names = spec.units.iter().map(|u| u.name.clone()).collect();
            (names, Some(spec.units.iter().map(|u| u.macs() as f64).collect()))
        }
        (None, Some(n)) => ((0..n).map(|i| format!("unit{i}")).collect(), None),
        (None, None) => anyhow::bail!("give --units N (or --model NAME)"),
    };
    let config = ScheduleConfig { t0: args.t0, scaling: args.scaling, scale_lr: !args.no_scale_lr, base_lr: args.lr };
    let total = args.epochs.checked_mul(args.iters_per_epoch).context("--epochs × --iters-per-epoch overflows")?;
    let schedule = Schedule::freezeout(config, names.len(), total)?;
    if let Some(w) = schedule.high_rate_warning(&names) {
        eprintln!("{w}");
    }
    let reference_speedup = costs.as_deref().and_then(|c| bench_harness::cost::reference_saving(&schedule, c));
    let rows: Vec<UnitRow> = schedule
        .units()
        .iter()
        .zip(&names)
        .map(|(p, name)| UnitRow { index: p.index, name, t: p.t, max_iter: p.max_iter, lr0: p.lr0 })
        .collect();
    if args.json {
        let out = Output { units: rows, reference_speedup };
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "FreezeOut schedule: {} scaling, t0 = {} (first unit freezes at {:.1}% of training), LR scaling {}, base LR {}",
        config.scaling,
        config.t0,
        100.0 * schedule.units()[0].t,
        if config.scale_lr { "on" } else { "off" },
        config.base_lr
    );
    println!(
        "{} units + head, {} iterations ({} epochs × {} iterations)\n",
        names.len(),
        total,
        args.epochs,
        args.iters_per_epoch
    );
    let width = names.iter().map(String::len).max().unwrap_or(4).max(4);
    println!("{:>5}  {:<width$}  {:>10}  {:>14}  {:>12}", "index", "name", "t", "last iter", "initial LR");
    for r in &rows {
        println!("{:>5}  {:<width$}  {:>10.6}  {:>14}  {:>12.7}", r.index, r.name, r.t, r.max_iter, r.lr0);
    }
    let head = schedule.head();
    println!(
        "{:>5}  {:<width$}  {:>10.6}  {:>14}  {:>12.7}  (never frozen)",
        head.index, "head", head.t, head.max_iter, head.lr0
    );
    match reference_speedup {
        Some(s) => println!("\nreference formula speed-up: {:.1}%", 100.0 * s),
        None => println!("\nreference formula speed-up: n/a (per-unit costs are known only for --model presets)"),
    }
    Ok(())
}
