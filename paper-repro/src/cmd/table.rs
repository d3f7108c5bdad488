//! `paper-repro table`: the paper's tables (runs or resumes the grid), plus the plots.

use bench_harness::plot;
use bench_harness::run::{Estimate, RunConfig, estimate_seconds};
use bench_harness::table::{self, CellState, GridEvent, TablePreset};
use burn_freezeout::data;
use burn_freezeout::{Schedule, ScheduleConfig};
use std::path::{Path, PathBuf};

/// Options of `paper-repro table`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The grid to run (each preset's cells and running time are listed below).
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
    /// cpu or cuda (tch / tch-cuda: Burn's LibTorch backend, in a build with --features tch;
    /// wgpu: Burn's wgpu backend, --features wgpu).
    #[arg(long, default_value = "cpu")]
    pub device: burn_freezeout::device::DeviceKind,
    /// Cells whose directory holds a run of another config: delete it and run the cell again
    /// (without this flag such a grid is refused before anything runs).
    #[arg(long)]
    pub overwrite: bool,
    /// Also give each line's saving at the step times `paper-repro speed --json FILE` measured
    /// on an otherwise idle machine, for every frozen prefix of each of the grid's models, from
    /// one file or several (runs that shared the cores with other work have their step seconds
    /// inflated by it).
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub step_times: Vec<PathBuf>,
    /// Write the tables and plots from the cells finished so far and train nothing (a grid that
    /// another process is still running, or one stopped part way): the title counts the cells.
    #[arg(long, conflicts_with = "overwrite")]
    pub finished_only: bool,
}

/// Runs the subcommand.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let name = clap::ValueEnum::to_possible_value(&args.preset).expect("every preset has a name");
    let name = name.get_name();
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("results").join(name));
    let data_dir = data::data_dir(args.data.clone());
    let mut cells = table::grid(args.preset, &args.seeds);
    for c in &mut cells {
        c.device = args.device;
        // A fine-tuning cell starts from a cell of the same table: its `init` is relative to it.
        if let Some(init) = c.init.as_mut().filter(|p| p.is_relative()) {
            *init = out.join(&*init);
        }
    }
    // Every cell's directory is checked before any training: another config's run is refused.
    let mut states = table::plan(&cells, &out, args.overwrite)?;
    let mut title = format!("FreezeOut, preset {name}");
    if args.finished_only {
        let total = cells.len();
        (cells, states) = cells.into_iter().zip(states).filter(|(_, s)| matches!(s, CellState::Done(_))).unzip();
        if cells.is_empty() {
            anyhow::bail!(
                "--finished-only: no cell of preset {name} (seeds {:?}) has finished in {}; run the table without \
                 --finished-only to train them",
                args.seeds,
                out.display()
            );
        }
        if cells.len() < total {
            title += &format!(" ({} of {total} cells finished)", cells.len());
        }
    }
    let todo: Vec<&RunConfig> =
        cells.iter().zip(&states).filter(|(_, s)| !matches!(s, CellState::Done(_))).map(|(c, _)| c).collect();
    println!(
        "paper-repro table --preset {name}: {} runs into {} ({} to train)",
        cells.len(),
        out.display(),
        todo.len()
    );
    print_plan(&cells, &states);
    // Calibrated on this machine before the first run, then from the runs themselves.
    let mut estimate = Estimate { factor: 1.0 };
    if let Some(first) = todo.first() {
        // Fail early, before any training, if the data is not there.
        match first.dataset.cifar() {
            Some(kind) => drop(data::load(&data_dir, kind)?),
            None => drop(burn_freezeout::data::text::Corpus::load(&data_dir)?),
        }
        // Warm up (the first timed run should not pay for it) and calibrate.
        let measured = table::warm_up(first)?;
        estimate = Estimate::from_step(first, measured);
        let total: f64 = todo.iter().map(|c| estimate.seconds(c)).sum();
        println!(
            "expected time on this machine's {}: about {:.0} min for {} runs (calibrated here: a {} batch-{} step took \
             {measured:.0} ms, the cost model assumed {:.0} ms; updated after each run)\n",
            args.device,
            total / 60.0,
            todo.len(),
            first.model,
            first.batch_size,
            Estimate::assumed_step_ms(first),
        );
    }
    std::fs::create_dir_all(&out)?;
    // Whole runs recalibrate the estimate; a continued run covers only part of its estimate,
    // so it does not.
    let (mut assumed_done, mut actual_done) = (0.0, 0.0);
    let mut remaining = todo.iter().map(|c| estimate_seconds(c)).sum::<f64>();
    let rows = table::run_grid(&cells, &states, &data_dir, &out, |event| match event {
        GridEvent::Cell { index, total, config, state } => {
            let kept = if matches!(state, CellState::Done(_)) { " (finished earlier: kept)" } else { "" };
            eprintln!("[{}/{total}] {}{kept}", index + 1, config.run_name());
        }
        GridEvent::Trained { index, seconds, resumed } => {
            let assumed = estimate_seconds(&cells[index]);
            remaining = (remaining - assumed).max(0.0);
            if !resumed {
                assumed_done += assumed;
                actual_done += seconds;
                estimate = Estimate::from_runs(assumed_done, actual_done);
            }
            eprintln!("  took {:.1} min; about {:.0} min left", seconds / 60.0, estimate.factor * remaining / 60.0);
        }
    })?;
    let mut rows = rows;
    if !args.step_times.is_empty() {
        let mut times = Vec::new();
        for path in &args.step_times {
            times.extend(table::StepTimes::load(path)?);
        }
        table::apply_step_times(&mut rows, &times, &out)?;
    }
    let lines = table::write(&out, &title, &rows)?;
    write_plots(&out, &cells[0], &rows, &lines, args.seeds[0], args.seeds.len() > 1)?;
    println!("{}", std::fs::read_to_string(out.join("results.md"))?);
    println!(
        "wrote {0}/results.md, results.csv, results.json, design_curve.svg, lr_curves.svg, frozen_fraction.svg, \
         time_to_accuracy.svg",
        out.display()
    );
    Ok(())
}

/// A line's points: `(minutes, test error %)`.
type Curve = Vec<(f64, f64)>;

/// The time-to-accuracy plot's lines: the runs of the grid's most common length (a table's
/// main grid, not a pretraining run beside it), one line per strategy, each epoch's test error
/// and the minutes of training steps up to it (at the idle machine's step times when the table
/// has them) averaged over the seeds.
fn time_to_accuracy(rows: &[table::Row]) -> (String, Vec<(String, Curve)>) {
    let mut by_epochs: std::collections::BTreeMap<usize, usize> = Default::default();
    for r in rows {
        *by_epochs.entry(r.config.epochs).or_default() += 1;
    }
    let Some((&epochs, _)) = by_epochs.iter().max_by_key(|&(e, n)| (*n, std::cmp::Reverse(*e))) else {
        return (String::new(), Vec::new());
    };
    let mut lines: Vec<(String, Vec<Curve>)> = Vec::new();
    for r in rows.iter().filter(|r| r.config.epochs == epochs) {
        let label = label(r, rows);
        // At the idle machine's step times when the table has them, else as the run measured.
        let seconds: Vec<f64> = match &r.idle_epoch_ms {
            Some(ms) => ms.iter().map(|ms| ms / 1e3).collect(),
            None => r.summary.epochs.iter().map(|e| e.step_seconds).collect(),
        };
        let mut minutes = 0.0;
        let mut points = Vec::new();
        for (e, s) in r.summary.epochs.iter().zip(seconds) {
            minutes += s / 60.0;
            if let Some(err) = e.test_error {
                points.push((minutes, 100.0 * err));
            }
        }
        match lines.iter_mut().find(|(l, _)| *l == label) {
            Some((_, seeds)) => seeds.push(points),
            None => lines.push((label, vec![points])),
        }
    }
    let mean = |seeds: &[Curve]| -> Curve {
        let n = seeds.iter().map(Vec::len).min().unwrap_or(0);
        (0..n)
            .map(|i| {
                let k = seeds.len() as f64;
                (seeds.iter().map(|s| s[i].0).sum::<f64>() / k, seeds.iter().map(|s| s[i].1).sum::<f64>() / k)
            })
            .collect()
    };
    let runs: Vec<_> = lines.iter().map(|(l, seeds)| (l.clone(), mean(seeds))).filter(|(_, p)| !p.is_empty()).collect();
    let model = models(rows.iter().filter(|r| r.config.epochs == epochs));
    (format!("Test error against training time, {model}, {epochs} epochs (mean over seeds)"), runs)
}

/// The models of a table's rows, in order (`densenet-bc-40-12 and wrn-10-1`).
fn models<'a>(rows: impl IntoIterator<Item = &'a table::Row>) -> String {
    let mut models: Vec<String> = Vec::new();
    for r in rows {
        let m = r.config.model.to_string();
        if !models.contains(&m) {
            models.push(m);
        }
    }
    models.join(" and ")
}

/// A row's line in a plot: its strategy and setting, and its model when the table has several.
fn label(row: &table::Row, rows: &[table::Row]) -> String {
    let label = table::setting_of(&row.config).map_or(row.strategy.clone(), |s| format!("{} {s}", row.strategy));
    match rows.iter().any(|r| r.config.model != row.config.model) {
        true => format!("{} {label}", row.config.model),
        false => label,
    }
}

/// Each cell's name, and what happens to it (kept, continued, run again), with any rate warning.
fn print_plan(cells: &[RunConfig], states: &[CellState]) {
    for (c, state) in cells.iter().zip(states) {
        let what = match state {
            CellState::Done(_) => " — finished earlier: kept",
            CellState::Unfinished => " — unfinished: continued from its newest checkpoint",
            CellState::Conflict(_) => " — held another run: deleted (--overwrite) and run again",
            CellState::Fresh => "",
        };
        println!(
            "  {}  ({} epochs{}){what}",
            c.run_name(),
            c.epochs,
            c.train_limit.map_or(String::new(), |n| {
                let samples = if c.dataset.cifar().is_some() { "train images" } else { "train windows" };
                format!(", first {n} {samples}")
            })
        );
        if let Some(w) = c.rate_warning() {
            eprintln!("{}: {w}", c.run_name());
        }
    }
}

/// The design curve, the LR curves of the default schedule on the grid's model, the frozen
/// fraction over time (a schedule's cells of the first seed, as every seed freezes alike; an
/// adaptive policy's cells of every seed, as each run decides for itself) and, with runs of
/// several lengths, Δ error against the length.
fn write_plots(
    out: &Path,
    first: &RunConfig,
    rows: &[table::Row],
    lines: &[table::Line],
    seed: u64,
    several_seeds: bool,
) -> anyhow::Result<()> {
    plot::design_curve(&out.join("design_curve.svg"), lines)?;
    let spec = first.model.spec(first.num_classes());
    let schedule = Schedule::freezeout(ScheduleConfig::default(), spec.units.len(), rows[0].summary.total_iterations)?;
    let title = format!("Per-unit learning rates, {} (cubic, t0 = 0.8, scaled)", first.model);
    plot::lr_curves(&out.join("lr_curves.svg"), &schedule, &title)?;
    let mut runs = Vec::new();
    for row in rows.iter().filter(|r| r.config.seed == seed || r.config.policy.adaptive().is_some()) {
        let dir = table::cell_dir(out, &row.config);
        let n = row.summary.num_units.max(1) as f64;
        let t = row.summary.total_iterations.max(1) as f64;
        let points = table::cell_iterations(&row.config, &row.summary, &dir)?
            .into_iter()
            .map(|it| (it.iter as f64 / t, it.frozen as f64 / n))
            .collect();
        let mut label = label(row, rows);
        if row.config.policy.adaptive().is_some() && several_seeds {
            label += &format!(" (seed {})", row.config.seed);
        }
        runs.push((label, points));
    }
    let title = format!("Units frozen over the run, {}", models(rows));
    plot::frozen_fraction(&out.join("frozen_fraction.svg"), &title, &runs)?;
    let (title, runs) = time_to_accuracy(rows);
    if !runs.is_empty() {
        plot::time_to_accuracy(&out.join("time_to_accuracy.svg"), &title, &runs)?;
    }
    // Runs of several lengths (the length preset): Δ error against epochs and its extrapolation.
    let points = table::trend::points(rows);
    if table::trend::lengths(&points).len() > 1 {
        plot::length_trend(&out.join("length_trend.svg"), &points)?;
        println!("wrote {}", out.join("length_trend.svg").display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::time_to_accuracy;
    use bench_harness::run::RunConfig;
    use bench_harness::table::{Row, grid, strategy};
    use burn_freezeout::train::{EpochStats, RunSummary};

    /// A row of `config` whose epochs took `seconds` each and ended at `errors`.
    fn row(config: &RunConfig, seconds: f64, errors: &[f64]) -> Row {
        let epochs = errors
            .iter()
            .enumerate()
            .map(|(epoch, &e)| EpochStats {
                epoch,
                train_loss: 1.0,
                train_error: 0.5,
                test_error: Some(e),
                step_seconds: seconds,
                wall_seconds: seconds + 1.0,
                frozen_units: 0,
                cache: None,
            })
            .collect();
        let summary = RunSummary {
            status: "finished".into(),
            config: config.train_config(),
            num_units: 4,
            total_iterations: 10,
            test_error: errors.last().copied(),
            step_seconds: seconds * errors.len() as f64,
            wall_seconds: (seconds + 1.0) * errors.len() as f64,
            epochs,
            cpu: None,
        };
        Row {
            config: config.clone(),
            strategy: strategy(config),
            summary,
            reference_saving: None,
            predicted_saving: 0.0,
            own_saving: None,
            idle_epoch_ms: None,
        }
    }

    /// The transfer table's plot: the fine-tuning runs only (not the pretraining beside them),
    /// one line per strategy with each epoch's minutes and error averaged over the seeds; the
    /// SVG names every line.
    #[test]
    fn time_to_accuracy_averages_each_strategy_over_seeds_and_leaves_the_pretraining_out() {
        let cells = grid(bench_harness::table::TablePreset::Transfer, &[0, 1]);
        let (pretraining, full, probe, full_1) = (&cells[0], &cells[1], &cells[3], &cells[12]);
        let rows = [
            row(pretraining, 120.0, &[0.3; 15]),
            row(full, 60.0, &[0.20, 0.10]),
            row(full_1, 30.0, &[0.30, 0.20]),
            // At the idle machine's step times: a minute an epoch, not the run's 6 s.
            Row { idle_epoch_ms: Some(vec![60e3, 60e3]), ..row(probe, 6.0, &[0.40, 0.35]) },
        ];
        // (Only two epochs recorded here: the plot takes what the summaries hold.)
        let (title, runs) = time_to_accuracy(&rows);
        assert!(title.contains("wrn-10-1, 6 epochs"), "{title}");
        assert_eq!(runs.len(), 2, "{runs:?}");
        assert_eq!(runs[0], ("baseline+noaug".to_string(), vec![(0.75, 25.0), (1.5, 15.0)]));
        assert_eq!(runs[1].0, "backbone-u6+noaug");
        assert!((runs[1].1[1].0 - 2.0).abs() < 1e-12 && (runs[1].1[1].1 - 35.0).abs() < 1e-9);
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("time_to_accuracy.svg");
        bench_harness::plot::time_to_accuracy(&path, &title, &runs).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.contains("baseline+noaug") && svg.contains("backbone-u6+noaug"));
    }

    /// A table of two models (DenseNet with WRN-10-1 beside it) keeps each model's runs on
    /// lines of their own, named by the model.
    #[test]
    fn time_to_accuracy_keeps_each_models_runs_apart() {
        let cells = grid(bench_harness::table::TablePreset::Densenet, &[0]);
        let (dense, wrn) = (&cells[0], &cells[10]);
        assert_eq!((dense.model.to_string(), wrn.model.to_string()), ("densenet-bc-40-12".into(), "wrn-10-1".into()));
        let rows = [row(dense, 60.0, &[0.40]), row(wrn, 6.0, &[0.30])];
        let (title, runs) = time_to_accuracy(&rows);
        assert!(title.contains("densenet-bc-40-12 and wrn-10-1, 6 epochs"), "{title}");
        let expected = [
            ("densenet-bc-40-12 baseline".to_string(), vec![(1.0, 40.0)]),
            ("wrn-10-1 baseline".to_string(), vec![(0.1, 30.0)]),
        ];
        assert_eq!(runs, expected);
    }
}
