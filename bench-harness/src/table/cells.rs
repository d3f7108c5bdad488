//! A grid's cells: what each cell's run directory holds, running or continuing the cells, and
//! what each finished cell measured and predicts.

use crate::cost::{self, CostModel};
use crate::run::RunConfig;
use burn_freezeout::PolicyConfig;
use burn_freezeout::cache::{CacheFloat, CacheMode};
use burn_freezeout::train::RunSummary;
use serde::Serialize;
use std::path::Path;

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
    /// Milliseconds of each epoch's training steps at step times measured on an idle machine
    /// ([`StepTimes`](super::StepTimes)), when the table was given them.
    pub idle_epoch_ms: Option<Vec<f64>>,
}

impl Row {
    /// Milliseconds of the run's training steps at step times measured on an idle machine.
    pub fn idle_ms(&self) -> Option<f64> {
        self.idle_epoch_ms.as_ref().map(|e| e.iter().sum())
    }
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

/// Every iteration of a finished cell: its `log.jsonl` (with step times) when `run_dir` has
/// one; else, for a policy fixed before the run (a schedule or a fine-tuning policy), the frozen
/// prefix the policy gives each iteration, which is the one the run took (no step times). So a
/// table rebuilds from a cell's `config.toml` and `summary.json` alone, the two files a
/// repository keeps of a run. An adaptive run's prefixes are only in its log: its error names it.
pub fn cell_iterations(config: &RunConfig, summary: &RunSummary, run_dir: &Path) -> anyhow::Result<Vec<IterRecord>> {
    if run_dir.join("log.jsonl").exists() || config.policy.adaptive().is_some() {
        return iterations(run_dir);
    }
    let policy = config.train_config().policy(summary.num_units, summary.total_iterations)?;
    Ok((0..summary.total_iterations)
        .map(|iter| IterRecord { iter, frozen: policy.frozen_prefix(iter), step_ms: None })
        .collect())
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
    let mean_unfrozen = crate::stats::mean(&unfrozen);
    Some(1.0 - total / (iterations.len() as f64 * mean_unfrozen))
}

/// Name of a cell's strategy, with its inputs if not augmented and its prefix cache if any
/// (`cubic-scaled+cache-reuse`, `baseline+noaug`).
pub fn strategy(c: &RunConfig) -> String {
    let policy = match c.policy {
        PolicyConfig::Baseline => "baseline".into(),
        PolicyConfig::Adaptive(_) | PolicyConfig::Gradual(_) => c.policy.name().into(),
        PolicyConfig::Backbone(b) => format!("backbone-u{}", b.epoch),
        PolicyConfig::FreezeOut => format!("{}-{}", c.scaling, if c.scale_lr { "scaled" } else { "unscaled" }),
    };
    let policy = match c.layer_decay {
        Some(gamma) => format!("{policy}+lld{gamma}"),
        None => policy,
    };
    let policy = if c.augment { policy } else { format!("{policy}+noaug") };
    match (c.cache.mode, c.cache.float) {
        (CacheMode::Off, _) => policy,
        (mode, CacheFloat::F32) => format!("{policy}+cache-{mode}"),
        (mode, float) => format!("{policy}+cache-{mode}-{float}"),
    }
}

/// FreezeOut's `t0` of a cell (none for the baseline and the adaptive policy).
pub fn t0_of(c: &RunConfig) -> Option<f64> {
    (c.policy == PolicyConfig::FreezeOut).then_some(c.t0)
}

/// The adaptive (or drift) policy's threshold of a cell (none for the other policies).
pub fn threshold_of(c: &RunConfig) -> Option<f64> {
    c.policy.adaptive().map(|a| a.threshold)
}

/// A cell's knob along its strategy's line: [`t0_of`] or [`threshold_of`] (none for the
/// baseline).
pub fn setting_of(c: &RunConfig) -> Option<f64> {
    t0_of(c).or(threshold_of(c))
}

/// Predictions of a cell from its schedule (same units and iterations as the run); an
/// adaptive or fine-tuning run's from the frozen prefix it took, iteration by iteration (its
/// `log.jsonl` in `run_dir`), which no formula gives before the adaptive run.
pub fn predictions(config: &RunConfig, summary: &RunSummary, run_dir: &Path) -> anyhow::Result<(Option<f64>, f64)> {
    predictions_from(config, summary, || cell_iterations(config, summary, run_dir))
}

/// [`predictions`] with the run's iterations read only if needed (adaptive and fine-tuning runs).
fn predictions_from(
    config: &RunConfig,
    summary: &RunSummary,
    iterations: impl FnOnce() -> anyhow::Result<Vec<IterRecord>>,
) -> anyhow::Result<(Option<f64>, f64)> {
    if config.policy.is_baseline() {
        return Ok((Some(0.0), 0.0));
    }
    let spec = config.model.spec(config.num_classes());
    let costs = CostModel::from_spec(&spec);
    if config.policy != PolicyConfig::FreezeOut {
        // An adaptive or fine-tuning policy: the prefixes the run took.
        let its = iterations()?;
        let spent: f64 = its.iter().map(|it| costs.step(it.frozen)).sum();
        return Ok((None, 1.0 - spent / (its.len().max(1) as f64 * costs.step(0))));
    }
    let schedule = config.train_config().schedule(spec.units.len(), summary.total_iterations)?;
    Ok((cost::reference_saving(&schedule, &costs.forward_costs()), costs.predicted_saving(&schedule)))
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
    match crate::run::finished(dir) {
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
        let its = cell_iterations(config, &summary, &dir);
        let own_saving = its.as_ref().ok().and_then(|its| own_saving(its));
        let (reference_saving, predicted_saving) = predictions_from(config, &summary, || its)?;
        rows.push(Row {
            config: config.clone(),
            strategy: strategy(config),
            summary,
            reference_saving,
            predicted_saving,
            own_saving,
            idle_epoch_ms: None,
        });
    }
    Ok(rows)
}

/// Ten untimed-for-the-table steps of `config`'s model at its batch size, so the first timed
/// run of a process does not pay the allocator's and the caches' warm-up; returns the median
/// step time (ms), which calibrates the grid's time estimate ([`crate::run::Estimate`]).
pub fn warm_up(config: &RunConfig) -> anyhow::Result<f64> {
    if config.model.is_text() {
        // The step benchmark runs image models: a language model's first run calibrates.
        return Ok(crate::run::Estimate::assumed_step_ms(config));
    }
    let report = crate::bench::speed::measure(&crate::bench::speed::SpeedConfig {
        model: config.model,
        classes: config.num_classes(),
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
