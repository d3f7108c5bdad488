//! The paper's tables: a grid of runs (model × dataset × strategy × t0, plus the baseline),
//! resumable cell by cell, written as `results.md`, `results.csv` and `results.json`.

use crate::config::RunConfig;
use crate::cost::CostModel;
use freezeout_core::data::CifarKind;
use freezeout_core::models::Preset;
use freezeout_core::train::{RunSummary, write_atomic};
use freezeout_core::{AdaptiveConfig, Scaling, Schedule};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Which grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TablePreset {
    /// Small enough for a 2-core CPU in about 45 minutes of runs (machines differ by up to 3×;
    /// the job calibrates its estimate): WRN-10-1 on the first 15,000 CIFAR-10 training images
    /// for 5 epochs (test: first 2,000 test images), the baseline and FreezeOut (cubic scaled,
    /// linear unscaled) at t0 ∈ {0.5, 0.7, 0.9}.
    Quick,
    /// The paper: DenseNet-BC-76-12, WRN-40-4, VGG-16 on CIFAR-10 and CIFAR-100, 100 epochs,
    /// batch 50, {linear, cubic} × {scaled, unscaled} × t0 ∈ {0.5, …, 0.9} + baseline.
    Paper,
    /// Freezing policies compared in the quick setting (WRN-10-1, first 15,000 CIFAR-10
    /// images, 5 epochs): the baseline, FreezeOut cubic-scaled t0 0.8 and linear-unscaled t0
    /// 0.9, and the adaptive policy at thresholds [`POLICY_THRESHOLDS`] (about 25 minutes of
    /// runs per seed on a 2-core CPU).
    Policies,
}

/// The adaptive policy's thresholds in [`TablePreset::Policies`].
pub const POLICY_THRESHOLDS: [f64; 3] = [0.02, 0.05, 0.1];

/// The settings of every cell of a grid, baselines first.
pub fn grid(preset: TablePreset, seeds: &[u64]) -> Vec<RunConfig> {
    let mut cells = Vec::new();
    type Strategy = (Scaling, bool);
    let (models, datasets, strategies, t0s, base): (Vec<Preset>, Vec<CifarKind>, Vec<Strategy>, Vec<f64>, RunConfig) =
        match preset {
            TablePreset::Quick => (
                vec![Preset::Wrn { depth: 10, width: 1 }],
                vec![CifarKind::Cifar10],
                vec![(Scaling::Cubic, true), (Scaling::Linear, false)],
                vec![0.5, 0.7, 0.9],
                RunConfig { epochs: 5, train_limit: Some(15_000), test_limit: Some(2_000), ..RunConfig::default() },
            ),
            TablePreset::Paper => (
                vec![
                    Preset::DenseNetBc { depth: 76, growth: 12 },
                    Preset::Wrn { depth: 40, width: 4 },
                    Preset::Vgg16,
                ],
                vec![CifarKind::Cifar10, CifarKind::Cifar100],
                vec![(Scaling::Linear, true), (Scaling::Linear, false), (Scaling::Cubic, true), (Scaling::Cubic, false)],
                vec![0.5, 0.6, 0.7, 0.8, 0.9],
                RunConfig::default(),
            ),
            TablePreset::Policies => {
                let base = RunConfig {
                    model: Preset::Wrn { depth: 10, width: 1 },
                    epochs: 5,
                    train_limit: Some(15_000),
                    test_limit: Some(2_000),
                    ..RunConfig::default()
                };
                for &seed in seeds {
                    let cell = RunConfig { seed, ..base.clone() };
                    cells.push(RunConfig { baseline: true, ..cell.clone() });
                    cells.push(RunConfig { scaling: Scaling::Cubic, scale_lr: true, t0: 0.8, ..cell.clone() });
                    cells.push(RunConfig { scaling: Scaling::Linear, scale_lr: false, t0: 0.9, ..cell.clone() });
                    for threshold in POLICY_THRESHOLDS {
                        let adaptive = AdaptiveConfig { threshold, ..AdaptiveConfig::default() };
                        cells.push(RunConfig { adaptive: Some(adaptive), ..cell.clone() });
                    }
                }
                return cells;
            }
        };
    for &model in &models {
        for &dataset in &datasets {
            for &seed in seeds {
                let cell = RunConfig { model, dataset, seed, ..base.clone() };
                cells.push(RunConfig { baseline: true, ..cell.clone() });
                for &(scaling, scale_lr) in &strategies {
                    for &t0 in &t0s {
                        cells.push(RunConfig { scaling, scale_lr, t0, ..cell.clone() });
                    }
                }
            }
        }
    }
    cells
}

/// One finished cell with its predictions.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// The run's settings.
    pub config: RunConfig,
    /// `linear-scaled`, `cubic-unscaled`, ..., `adaptive` or `baseline`.
    pub strategy: String,
    /// What the run measured.
    pub summary: RunSummary,
    /// Reference formula `Σ c_i (1 − t_i) / (2 Σ c_i)` (× 1.3 for linear).
    pub reference_saving: Option<f64>,
    /// Our FLOP-model prediction.
    pub predicted_saving: f64,
    /// `1 − Σ step times / (T × mean step time of the run's own unfrozen iterations)`:
    /// the saving measured within the run, immune to drift between runs on a noisy machine.
    pub own_saving: Option<f64>,
}

/// One iteration of a run, as its `log.jsonl` records it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IterRecord {
    /// Iteration (0-based).
    pub iter: u64,
    /// Frozen units during it.
    pub frozen: usize,
    /// Device-synchronised step time, if recorded.
    pub step_ms: Option<f64>,
}

/// Every iteration of a run, from its `log.jsonl` (errors name the file and line).
pub fn iterations(run_dir: &Path) -> anyhow::Result<Vec<IterRecord>> {
    let path = run_dir.join("log.jsonl");
    let text = std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("{}: cannot read ({e})", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| anyhow::anyhow!("{}:{}: not JSON ({e})", path.display(), n + 1))?;
        if v["event"] == "iter" {
            let (Some(iter), Some(frozen)) = (v["iter"].as_u64(), v["frozen"].as_u64()) else {
                anyhow::bail!("{}:{}: an iter event without iter/frozen", path.display(), n + 1);
            };
            out.push(IterRecord { iter, frozen: frozen as usize, step_ms: v["step_ms"].as_f64() });
        }
    }
    Ok(out)
}

/// The self-normalised saving of a run from its iterations (see [`Row::own_saving`]); `None`
/// without unfrozen iterations or step times.
pub fn own_saving(iterations: &[IterRecord]) -> Option<f64> {
    let (mut total, mut unfrozen) = (0.0, Vec::new());
    for it in iterations {
        let ms = it.step_ms?;
        total += ms;
        if it.frozen == 0 {
            unfrozen.push(ms);
        }
    }
    if unfrozen.is_empty() {
        return None;
    }
    let mean_unfrozen = crate::speed::mean(&unfrozen);
    Some(1.0 - total / (iterations.len() as f64 * mean_unfrozen))
}

/// Name of a cell's strategy.
pub fn strategy(c: &RunConfig) -> String {
    if c.baseline {
        "baseline".into()
    } else if c.adaptive.is_some() {
        "adaptive".into()
    } else {
        format!("{}-{}", c.scaling, if c.scale_lr { "scaled" } else { "unscaled" })
    }
}

/// A cell's knob along its strategy's line: t0 for FreezeOut, the threshold for the adaptive
/// policy, none for the baseline.
pub fn setting(c: &RunConfig) -> Option<f64> {
    match (&c.adaptive, c.baseline) {
        (_, true) => None,
        (Some(a), false) => Some(a.threshold),
        (None, false) => Some(c.t0),
    }
}

/// Predictions of a cell from its schedule (same units and iterations as the run); an
/// adaptive run's from the frozen prefix it took, iteration by iteration (its `log.jsonl` in
/// `run_dir`), which no formula gives before the run.
pub fn predictions(config: &RunConfig, summary: &RunSummary, run_dir: &Path) -> anyhow::Result<(Option<f64>, f64)> {
    predictions_from(config, summary, || iterations(run_dir))
}

/// [`predictions`] with the run's iterations read only if needed (adaptive runs).
fn predictions_from(
    config: &RunConfig,
    summary: &RunSummary,
    iterations: impl FnOnce() -> anyhow::Result<Vec<IterRecord>>,
) -> anyhow::Result<(Option<f64>, f64)> {
    if config.baseline {
        return Ok((Some(0.0), 0.0));
    }
    let spec = config.model.spec(config.dataset.classes());
    let costs = CostModel::from_spec(&spec);
    if config.adaptive.is_some() {
        let its = iterations()?;
        let spent: f64 = its.iter().map(|it| costs.step(it.frozen)).sum();
        return Ok((None, 1.0 - spent / (its.len().max(1) as f64 * costs.step(0))));
    }
    let schedule = Schedule::freezeout(config.train_config().schedule, spec.units.len(), summary.total_iterations)?;
    Ok((schedule.reference_speedup(&costs.forward_costs()), costs.predicted_saving(&schedule)))
}

/// What a cell's run directory already holds.
#[derive(Clone, Debug)]
pub enum CellState {
    /// Nothing: the cell runs from the start.
    Fresh,
    /// A finished (or diverged) run of the same config: kept, not run again.
    Done(Box<RunSummary>),
    /// An unfinished run of the same config: continued from its newest checkpoint.
    Unfinished,
    /// A run of another config, or files that are not a run of this one: never taken as done,
    /// never deleted without `overwrite`. The text says what differs.
    Conflict(String),
}

/// The directory of a cell under a grid's output directory.
pub fn cell_dir(out: &Path, config: &RunConfig) -> std::path::PathBuf {
    out.join("runs").join(config.run_name())
}

/// What `dir` holds for a cell of `config`.
pub fn cell_state(dir: &Path, config: &RunConfig) -> CellState {
    if crate::run::run_files(dir).is_empty() {
        return CellState::Fresh;
    }
    let saved_path = dir.join("config.toml");
    let saved = match RunConfig::from_file(&saved_path) {
        Ok(saved) => saved,
        Err(e) => return CellState::Conflict(format!("{e:#}")),
    };
    if saved != *config {
        return CellState::Conflict(format!("made with another config ({})", config.diff(&saved).join(", ")));
    }
    let summary = std::fs::read_to_string(dir.join("summary.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<RunSummary>(&text).ok())
        .filter(|s| s.status == "finished" || s.status == "diverged");
    match summary {
        Some(summary) => CellState::Done(Box::new(summary)),
        None => CellState::Unfinished,
    }
}

/// The state of every cell, checked before anything runs: a cell whose directory holds
/// another config's run is an error naming each such directory, unless `overwrite` (then it
/// runs from the start, its old files deleted when it does).
pub fn plan(cells: &[RunConfig], out: &Path, overwrite: bool) -> anyhow::Result<Vec<CellState>> {
    let states: Vec<CellState> = cells.iter().map(|c| cell_state(&cell_dir(out, c), c)).collect();
    let conflicts: Vec<String> = cells
        .iter()
        .zip(&states)
        .filter_map(|(c, s)| match s {
            CellState::Conflict(why) => Some(format!("  {}: {why}", cell_dir(out, c).display())),
            _ => None,
        })
        .collect();
    if !conflicts.is_empty() && !overwrite {
        anyhow::bail!(
            "{} cell(s) of this grid hold a run that is not theirs, so they are not taken as done:\n{}\n\
             pass --overwrite to delete those runs and run the cells again, or move them away (or choose another --out)",
            conflicts.len(),
            conflicts.join("\n")
        );
    }
    Ok(states)
}

/// What [`run_grid`] reports as it goes.
#[derive(Clone, Copy, Debug)]
pub enum GridEvent<'a> {
    /// Cell `index` (of `total`) is next; `state` says whether it is kept, continued or run.
    Cell {
        /// Position in the grid.
        index: usize,
        /// Cells in the grid.
        total: usize,
        /// The cell's settings.
        config: &'a RunConfig,
        /// What its directory held.
        state: &'a CellState,
    },
    /// Cell `index` was trained (or continued) and took `seconds`.
    Trained {
        /// Position in the grid.
        index: usize,
        /// Wall-clock seconds of the cell.
        seconds: f64,
        /// Continued from a checkpoint (so `seconds` covers only part of the run).
        resumed: bool,
    },
}

/// Runs every cell of `cells` under `out/runs/` in the states [`plan`] found: finished cells
/// are kept, unfinished ones continued from their newest checkpoint, the rest trained (a
/// conflicting directory's old run deleted first, which `plan` only allows with `overwrite`).
pub fn run_grid(
    cells: &[RunConfig],
    states: &[CellState],
    data_dir: &Path,
    out: &Path,
    mut report: impl FnMut(GridEvent),
) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for (i, (config, state)) in cells.iter().zip(states).enumerate() {
        let dir = cell_dir(out, config);
        report(GridEvent::Cell { index: i, total: cells.len(), config, state });
        let started = std::time::Instant::now();
        let result = match state {
            CellState::Done(summary) => Ok((**summary).clone()),
            CellState::Unfinished => crate::run::resume(&dir, Some(config), false, data_dir),
            CellState::Fresh | CellState::Conflict(_) => {
                crate::run::run(config, data_dir, &dir, matches!(state, CellState::Conflict(_)))
            }
        };
        let summary = match result {
            Ok(summary) => summary,
            // A diverged run is a result: it stays in the table, marked.
            Err(e) => match cell_state(&dir, config) {
                CellState::Done(summary) if summary.status == "diverged" => {
                    eprintln!("{}: {e:#}", config.run_name());
                    *summary
                }
                _ => return Err(e),
            },
        };
        if !matches!(state, CellState::Done(_)) {
            let resumed = matches!(state, CellState::Unfinished);
            report(GridEvent::Trained { index: i, seconds: started.elapsed().as_secs_f64(), resumed });
        }
        // The log is read once for both the measured saving and an adaptive run's prediction.
        let its = iterations(&dir);
        let own_saving = its.as_ref().ok().and_then(|its| own_saving(its));
        let (reference_saving, predicted_saving) = predictions_from(config, &summary, || its)?;
        rows.push(Row { config: config.clone(), strategy: strategy(config), summary, reference_saving, predicted_saving, own_saving });
    }
    Ok(rows)
}

/// Ten untimed-for-the-table steps of `config`'s model at its batch size, so the first timed
/// run of a process does not pay the allocator's and the caches' warm-up; returns the median
/// step time (ms), which calibrates the grid's time estimate ([`crate::run::Estimate`]).
pub fn warm_up(config: &RunConfig) -> anyhow::Result<f64> {
    let report = crate::speed::measure(&crate::speed::SpeedConfig {
        model: config.model,
        classes: config.dataset.classes(),
        batch: config.batch_size,
        iters: 10,
        warmup: 0,
        fractions: vec![0.0],
        device: config.device,
        verbose: false,
        schedule_iters: 0,
        float: config.float,
    })?;
    Ok(report.points[0].median_ms)
}

/// Mean, standard deviation (n − 1) and n.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Stat {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (0 for n = 1).
    pub std: f64,
    /// Number of values.
    pub n: usize,
}

impl Stat {
    fn of(values: &[f64]) -> Option<Stat> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mean = crate::speed::mean(values);
        let var = if n > 1 { values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64 } else { 0.0 };
        Some(Stat { mean, std: var.sqrt(), n })
    }

    fn pct(&self) -> String {
        if self.n > 1 {
            format!("{:.2} ± {:.2}", 100.0 * self.mean, 100.0 * self.std)
        } else {
            format!("{:.2}", 100.0 * self.mean)
        }
    }
}

/// One line of the table: a cell aggregated over seeds.
#[derive(Clone, Debug, Serialize)]
pub struct Line {
    /// Model.
    pub model: String,
    /// Dataset.
    pub dataset: String,
    /// Strategy.
    pub strategy: String,
    /// t0, or the adaptive policy's threshold ([`setting`]; `None` for the baseline).
    pub t0: Option<f64>,
    /// Test error.
    pub test_error: Stat,
    /// Test error minus the baseline's (same model, dataset; means).
    pub delta_error: Option<f64>,
    /// Δ error relative to the baseline's error.
    pub delta_error_relative: Option<f64>,
    /// Reference formula saving.
    pub reference_saving: Option<f64>,
    /// Our FLOP-model saving (mean over the seeds).
    pub predicted_saving: f64,
    /// `1 − step time / baseline step time` (seconds of training steps, device-synchronised).
    pub measured_saving: Option<Stat>,
    /// The run's saving against its own unfrozen step time ([`Row::own_saving`]).
    pub own_saving: Option<Stat>,
    /// Wall-clock seconds of the run (data and evaluation included).
    pub wall_seconds: Stat,
}

/// Aggregates rows over seeds and compares each with its baseline.
pub fn lines(rows: &[Row]) -> Vec<Line> {
    let mut groups: BTreeMap<(String, String, String, String), Vec<&Row>> = BTreeMap::new();
    for r in rows {
        let t0 = setting(&r.config).map_or(String::new(), |t| format!("{t}"));
        groups
            .entry((r.config.model.to_string(), r.config.dataset.name().to_string(), r.strategy.clone(), t0))
            .or_default()
            .push(r);
    }
    let baseline_of = |model: &str, dataset: &str, seed: u64| {
        rows.iter().find(|r| {
            r.config.baseline && r.config.model.to_string() == model && r.config.dataset.name() == dataset && r.config.seed == seed
        })
    };
    let mut out = Vec::new();
    for ((model, dataset, strategy, _), rs) in groups {
        let errors: Vec<f64> = rs.iter().filter_map(|r| r.summary.test_error).collect();
        let test_error = Stat::of(&errors).unwrap_or(Stat { mean: f64::NAN, std: 0.0, n: 0 });
        let base_errors: Vec<f64> =
            rs.iter().filter_map(|r| baseline_of(&model, &dataset, r.config.seed)?.summary.test_error).collect();
        let base = Stat::of(&base_errors);
        let savings: Vec<f64> = rs
            .iter()
            .filter_map(|r| {
                let b = baseline_of(&model, &dataset, r.config.seed)?;
                Some(1.0 - r.summary.step_seconds / b.summary.step_seconds)
            })
            .collect();
        let walls: Vec<f64> = rs.iter().map(|r| r.summary.wall_seconds).collect();
        let own: Vec<f64> = rs.iter().filter_map(|r| r.own_saving).collect();
        let first = rs[0];
        out.push(Line {
            model,
            dataset,
            strategy,
            t0: setting(&first.config),
            delta_error: base.map(|b| test_error.mean - b.mean),
            delta_error_relative: base.filter(|b| b.mean > 0.0).map(|b| (test_error.mean - b.mean) / b.mean),
            test_error,
            reference_saving: first.reference_saving,
            // A schedule's prediction is the same for every seed; an adaptive run's follows
            // the prefix that seed's run froze: the mean.
            predicted_saving: rs.iter().map(|r| r.predicted_saving).sum::<f64>() / rs.len() as f64,
            measured_saving: Stat::of(&savings),
            own_saving: Stat::of(&own),
            wall_seconds: Stat::of(&walls).expect("at least one row"),
        });
    }
    out
}

/// A claim of the paper and what this grid says about it.
#[derive(Clone, Debug, Serialize)]
pub struct Claim {
    /// The paper's statement.
    pub claim: &'static str,
    /// Our numbers.
    pub ours: String,
}

/// Sets our numbers beside the paper's claims.
pub fn claims(lines: &[Line]) -> Vec<Claim> {
    let best = |filter: &dyn Fn(&Line) -> bool, ok: &dyn Fn(&Line) -> bool| -> String {
        let cands: Vec<&Line> = lines.iter().filter(|l| l.t0.is_some() && filter(l)).collect();
        if cands.is_empty() {
            return "not measured (no such cells in this grid)".into();
        }
        let saving = |l: &Line| l.own_saving.map_or(f64::NEG_INFINITY, |s| s.mean);
        let describe = |l: &Line| {
            format!(
                "{:.1}% measured saving (own) with {} t0 {} ({} {}): Δ error {:+.2} pts ({:+.1}% relative), n = {}",
                100.0 * saving(l),
                l.strategy,
                l.t0.unwrap_or(1.0),
                l.model,
                l.dataset,
                100.0 * l.delta_error.unwrap_or(f64::NAN),
                100.0 * l.delta_error_relative.unwrap_or(f64::NAN),
                l.test_error.n
            )
        };
        match cands.iter().filter(|l| ok(l)).max_by(|a, b| saving(a).total_cmp(&saving(b))) {
            Some(l) => format!("best: {}", describe(l)),
            None => {
                let delta = |l: &Line| l.delta_error.unwrap_or(f64::INFINITY);
                let closest = cands.iter().min_by(|a, b| delta(a).total_cmp(&delta(b))).expect("non-empty");
                format!("no cell meets the error condition; closest: {}", describe(closest))
            }
        }
    };
    let rel = |l: &Line| l.delta_error_relative.unwrap_or(f64::INFINITY);
    let abs = |l: &Line| l.delta_error.unwrap_or(f64::INFINITY);
    vec![
        Claim {
            claim: "DenseNet: up to 20% saving within 3% relative error increase",
            ours: best(&|l| l.model.starts_with("densenet"), &|l| rel(l) <= 0.03),
        },
        Claim { claim: "WRN: 20% saving with no loss in accuracy", ours: best(&|l| l.model.starts_with("wrn"), &|l| abs(l) <= 0.0) },
        Claim { claim: "VGG: no gain (no saving without an error cost)", ours: best(&|l| l.model.starts_with("vgg"), &|l| abs(l) <= 0.0) },
        Claim {
            claim: "~10% saving at no error cost for scaled cubic and unscaled linear",
            ours: best(&|l| l.strategy == "cubic-scaled" || l.strategy == "linear-unscaled", &|l| abs(l) <= 0.0),
        },
    ]
}

fn opt_pct(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |v| format!("{:.1}", 100.0 * v))
}

/// Writes `results.md`, `results.csv` and `results.json` into `out` (atomically).
pub fn write(out: &Path, title: &str, rows: &[Row]) -> anyhow::Result<Vec<Line>> {
    let lines = lines(rows);
    let claims = claims(&lines);
    let mut md = format!("# {title}\n\nErrors and savings in %. Savings are 1 − time / time without freezing, over the \
        device-synchronised seconds of the training steps. `vs baseline`: against the baseline run (same seed, data order, \
        device; sensitive to drift between runs on a shared machine). `own`: against the run's own unfrozen steps \
        (mean), which cancels that drift. `reference`: the reference code's formula; `predicted`: our FLOP model. \
        n = seeds. `t0 / θ`: FreezeOut's t0, or the adaptive policy's threshold.\n\n");
    md += "| model | dataset | strategy | t0 / θ | test error | Δ error (abs) | Δ error (rel) | reference | predicted | measured (own) | measured (vs baseline) | wall-clock s | n |\n";
    md += "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record([
        "model", "dataset", "strategy", "t0", "test_error", "test_error_std", "delta_error", "delta_error_relative",
        "reference_saving", "predicted_saving", "own_saving", "own_saving_std", "measured_saving", "measured_saving_std",
        "wall_seconds", "n",
    ])?;
    for l in &lines {
        md += &format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {} | {} | {:.0} | {} |\n",
            l.model,
            l.dataset,
            l.strategy,
            l.t0.map_or("—".into(), |t| format!("{t}")),
            if l.test_error.n == 0 { "diverged".into() } else { l.test_error.pct() },
            l.delta_error.map_or("—".into(), |d| format!("{:+.2}", 100.0 * d)),
            l.delta_error_relative.map_or("—".into(), |d| format!("{:+.1}", 100.0 * d)),
            opt_pct(l.reference_saving),
            100.0 * l.predicted_saving,
            l.own_saving.map_or("n/a".into(), |s| s.pct()),
            l.measured_saving.map_or("n/a".into(), |s| s.pct()),
            l.wall_seconds.mean,
            l.test_error.n
        );
        let f = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v}"));
        csv.write_record([
            l.model.clone(),
            l.dataset.clone(),
            l.strategy.clone(),
            f(l.t0),
            format!("{}", l.test_error.mean),
            format!("{}", l.test_error.std),
            f(l.delta_error),
            f(l.delta_error_relative),
            f(l.reference_saving),
            format!("{}", l.predicted_saving),
            f(l.own_saving.map(|s| s.mean)),
            f(l.own_saving.map(|s| s.std)),
            f(l.measured_saving.map(|s| s.mean)),
            f(l.measured_saving.map(|s| s.std)),
            format!("{}", l.wall_seconds.mean),
            format!("{}", l.test_error.n),
        ])?;
    }
    md += "\n## Beside the paper's claims\n\n| the paper | this grid |\n|---|---|\n";
    for c in &claims {
        md += &format!("| {} | {} |\n", c.claim, c.ours);
    }
    write_atomic(&out.join("results.md"), md.as_bytes())?;
    write_atomic(&out.join("results.csv"), &csv.into_inner()?)?;
    let json = serde_json::json!({ "title": title, "lines": lines, "claims": claims, "runs": rows });
    write_atomic(&out.join("results.json"), serde_json::to_string_pretty(&json)?.as_bytes())?;
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(config: &RunConfig) -> RunSummary {
        RunSummary {
            status: "finished".into(),
            config: config.train_config(),
            num_units: 5,
            total_iterations: 10,
            test_error: Some(0.5),
            step_seconds: 1.0,
            wall_seconds: 2.0,
            epochs: Vec::new(),
        }
    }

    fn write_run(dir: &Path, config: &RunConfig, finished: bool) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("config.toml"), toml::to_string_pretty(config).unwrap()).unwrap();
        std::fs::write(dir.join("log.jsonl"), "").unwrap();
        if finished {
            std::fs::write(dir.join("summary.json"), serde_json::to_vec(&summary(config)).unwrap()).unwrap();
        }
    }

    #[test]
    fn a_cell_holding_another_configs_run_is_not_done_and_refused_without_overwrite() {
        let tmp = tempfile::tempdir().unwrap();
        let cells = grid(TablePreset::Quick, &[0]);
        let (done, unfinished, conflict) = (&cells[0], &cells[1], &cells[2]);
        write_run(&cell_dir(tmp.path(), done), done, true);
        write_run(&cell_dir(tmp.path(), unfinished), unfinished, false);
        // The third cell's directory holds a finished run with 2 epochs instead of 5.
        let other = RunConfig { epochs: 2, ..conflict.clone() };
        write_run(&cell_dir(tmp.path(), conflict), &other, true);

        let e = plan(&cells, tmp.path(), false).unwrap_err().to_string();
        let dir = cell_dir(tmp.path(), conflict);
        assert!(e.contains(&dir.display().to_string()) && e.contains("epochs: 5 → 2") && e.contains("--overwrite"), "{e}");
        assert!(dir.join("summary.json").is_file(), "nothing deleted without --overwrite");

        let states = plan(&cells, tmp.path(), true).unwrap();
        assert!(matches!(states[0], CellState::Done(_)));
        assert!(matches!(states[1], CellState::Unfinished));
        assert!(matches!(&states[2], CellState::Conflict(why) if why.contains("epochs")));
        assert!(states[3..].iter().all(|s| matches!(s, CellState::Fresh)));
    }

    #[test]
    fn the_policies_grid_holds_each_policy_and_the_quick_grid_is_unchanged() {
        let quick = grid(TablePreset::Quick, &[0]);
        assert_eq!(quick.len(), 7, "baseline + 2 strategies × 3 t0");
        assert!(quick.iter().all(|c| c.adaptive.is_none()));
        let cells = grid(TablePreset::Policies, &[0, 1]);
        let named: Vec<(String, Option<f64>, u64)> = cells.iter().map(|c| (strategy(c), setting(c), c.seed)).collect();
        let mut expected = Vec::new();
        for seed in [0, 1] {
            expected.push(("baseline".to_string(), None, seed));
            expected.push(("cubic-scaled".to_string(), Some(0.8), seed));
            expected.push(("linear-unscaled".to_string(), Some(0.9), seed));
            for t in POLICY_THRESHOLDS {
                expected.push(("adaptive".to_string(), Some(t), seed));
            }
        }
        assert_eq!(named, expected);
        // The same setting as the quick preset's cells.
        assert!(cells.iter().all(|c| (c.model, c.epochs, c.train_limit, c.test_limit) == (quick[0].model, 5, Some(15_000), Some(2_000))));
    }

    #[test]
    fn an_adaptive_runs_prediction_follows_the_prefix_it_froze() {
        let tmp = tempfile::tempdir().unwrap();
        let config = RunConfig { adaptive: Some(AdaptiveConfig::default()), ..grid(TablePreset::Quick, &[0])[0].clone() };
        let config = RunConfig { baseline: false, ..config };
        let events = [(0, 0), (1, 0), (2, 1), (3, 2)]
            .map(|(j, k)| format!("{{\"event\":\"iter\",\"iter\":{j},\"frozen\":{k},\"step_ms\":1.0}}\n"))
            .concat();
        std::fs::write(tmp.path().join("log.jsonl"), format!("{{\"event\":\"start\"}}\n{events}")).unwrap();
        let (reference, predicted) = predictions(&config, &summary(&config), tmp.path()).unwrap();
        let costs = CostModel::from_spec(&config.model.spec(10));
        let expected = 1.0 - (2.0 * costs.step(0) + costs.step(1) + costs.step(2)) / (4.0 * costs.step(0));
        assert_eq!(reference, None, "no formula predicts an adaptive run");
        assert!((predicted - expected).abs() < 1e-12 && predicted > 0.0, "{predicted} vs {expected}");
        std::fs::write(tmp.path().join("log.jsonl"), "{\"event\":\"iter\"}\n").unwrap();
        let e = predictions(&config, &summary(&config), tmp.path()).unwrap_err().to_string();
        assert!(e.contains("log.jsonl:1") && e.contains("iter/frozen"), "{e}");
    }
}
