//! `paper-repro table`: the paper's tables (runs or resumes the grid), plus the plots.

use bench_harness::table::{self, TablePreset};
use bench_harness::{plot, run::estimate_seconds};
use freezeout_core::data;
use freezeout_core::{Schedule, ScheduleConfig};
use std::path::PathBuf;

/// Options of `paper-repro table`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// quick (2-core CPU, ~16 min) or paper (100 epochs, all models, both datasets: GPU hours).
    #[arg(long, value_enum, default_value = "quick")]
    pub preset: TablePreset,
    /// Seeds (several give mean ± std).
    #[arg(long, num_args = 1.., default_values_t = [0])]
    pub seeds: Vec<u64>,
    /// Data directory or archive (default $FREEZEOUT_DATA, else ./data).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Output directory (tables, plots, and every run under runs/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// cpu or cuda (tch / tch-cuda: Burn's LibTorch backend, in a build with `--features tch`;
    /// wgpu: Burn's wgpu backend, `--features wgpu`).
    #[arg(long, default_value = "cpu")]
    pub device: freezeout_core::device::DeviceKind,
}

/// Runs the subcommand.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let name = match args.preset {
        TablePreset::Quick => "quick",
        TablePreset::Paper => "paper",
    };
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("results").join(name));
    let data_dir = data::data_dir(args.data.clone());
    let mut cells = table::grid(args.preset, &args.seeds);
    for c in &mut cells {
        c.device = args.device;
    }
    // Fail early, before any training, if the data is not there.
    let first = &cells[0];
    data::load(&data_dir, first.dataset)?;
    let estimate: f64 = cells.iter().map(estimate_seconds).sum();
    println!("paper-repro table --preset {name}: {} runs into {}", cells.len(), out.display());
    for c in &cells {
        println!("  {}  ({} epochs{})", c.run_name(), c.epochs,
            c.train_limit.map_or(String::new(), |n| format!(", first {n} train images")));
    }
    println!(
        "expected time on this machine's {}: about {:.0} min (from the models' cost; finished runs are skipped)\n",
        args.device,
        estimate / 60.0
    );
    std::fs::create_dir_all(&out)?;
    let rows = table::run_grid(&cells, &data_dir, &out, |i, n, c, done| {
        eprintln!("[{}/{n}] {} {}", i + 1, c.run_name(), if done { "(finished earlier: kept)" } else { "" });
    })?;
    let lines = table::write(&out, &format!("FreezeOut, preset {name}"), &rows)?;
    plot::design_curve(&out.join("design_curve.svg"), &lines)?;
    let c = &cells[0];
    let spec = c.model.spec(c.dataset.classes());
    let schedule = Schedule::freezeout(ScheduleConfig::default(), spec.units.len(), rows[0].summary.total_iterations)?;
    plot::lr_curves(&out.join("lr_curves.svg"), &schedule, &format!("Per-unit learning rates, {} (cubic, t0 = 0.8, scaled)", c.model))?;
    println!("{}", std::fs::read_to_string(out.join("results.md"))?);
    println!("wrote {0}/results.md, results.csv, results.json, design_curve.svg, lr_curves.svg", out.display());
    Ok(())
}
