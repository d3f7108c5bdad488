//! The paper's tables: a grid of runs (model × dataset × strategy × t0, plus the baseline),
//! resumable cell by cell, written as `results.md`, `results.csv` and `results.json`.

use crate::config::RunConfig;
use crate::cost::CostModel;
use anyhow::Context;
use freezeout_core::data::CifarKind;
use freezeout_core::models::Preset;
use freezeout_core::train::{RunSummary, write_atomic};
use freezeout_core::{Scaling, Schedule};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Which grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TablePreset {
    /// Small enough for a 2-core CPU in about 16 minutes: WRN-10-1 on the first 15,000
    /// CIFAR-10 training images for 5 epochs (test: first 2,000 test images), the baseline and
    /// FreezeOut (cubic scaled, linear unscaled) at t0 ∈ {0.5, 0.7, 0.9}.
    Quick,
    /// The paper: DenseNet-BC-76-12, WRN-40-4, VGG-16 on CIFAR-10 and CIFAR-100, 100 epochs,
    /// batch 50, {linear, cubic} × {scaled, unscaled} × t0 ∈ {0.5, …, 0.9} + baseline.
    Paper,
}

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
    /// `linear-scaled`, `cubic-unscaled`, ... or `baseline`.
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

/// The self-normalised saving of a run from its `log.jsonl` (see [`Row::own_saving`]).
pub fn own_saving(run_dir: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(run_dir.join("log.jsonl")).ok()?;
    let (mut total, mut n, mut unfrozen) = (0.0, 0usize, Vec::new());
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        if v["event"] != "iter" {
            continue;
        }
        let ms = v["step_ms"].as_f64()?;
        total += ms;
        n += 1;
        if v["frozen"] == 0 {
            unfrozen.push(ms);
        }
    }
    if unfrozen.is_empty() {
        return None;
    }
    let mean_unfrozen = crate::speed::mean(&unfrozen);
    Some(1.0 - total / (n as f64 * mean_unfrozen))
}

/// Name of a cell's strategy.
pub fn strategy(c: &RunConfig) -> String {
    if c.baseline {
        "baseline".into()
    } else {
        format!("{}-{}", c.scaling, if c.scale_lr { "scaled" } else { "unscaled" })
    }
}

/// Predictions of a cell from its schedule (same units and iterations as the run).
pub fn predictions(config: &RunConfig, summary: &RunSummary) -> anyhow::Result<(Option<f64>, f64)> {
    if config.baseline {
        return Ok((Some(0.0), 0.0));
    }
    let spec = config.model.spec(config.dataset.classes());
    let costs = CostModel::from_spec(&spec);
    let schedule = Schedule::freezeout(config.train_config().schedule, spec.units.len(), summary.total_iterations)?;
    Ok((schedule.reference_speedup(&costs.forward_costs()), costs.predicted_saving(&schedule)))
}

/// Runs (or resumes: cells with a finished `summary.json` and the same `config.toml` are kept)
/// every cell under `out/runs/`, calling `before(i, n, config)` before each.
pub fn run_grid(
    cells: &[RunConfig],
    data_dir: &Path,
    out: &Path,
    mut before: impl FnMut(usize, usize, &RunConfig, bool),
) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let mut warmed = false;
    for (i, config) in cells.iter().enumerate() {
        let dir = out.join("runs").join(config.run_name());
        let summary = match finished(&dir, config) {
            Some(summary) => {
                before(i, cells.len(), config, true);
                summary
            }
            None => {
                before(i, cells.len(), config, false);
                if !warmed {
                    // The first timed run of a process should not pay the allocator's and the
                    // caches' warm-up: 10 untimed steps of the same model first.
                    warm_up(config)?;
                    warmed = true;
                }
                // A half-written earlier attempt is replaced, not appended to.
                if dir.exists() {
                    std::fs::remove_dir_all(&dir).with_context(|| format!("{}: cannot clear", dir.display()))?;
                }
                match crate::run::run(config, data_dir, &dir) {
                    Ok(summary) => summary,
                    // A diverged run is a result: it stays in the table, marked.
                    Err(e) => match finished(&dir, config).filter(|s| s.status == "diverged") {
                        Some(summary) => {
                            eprintln!("{}: {e:#}", config.run_name());
                            summary
                        }
                        None => return Err(e),
                    },
                }
            }
        };
        let (reference_saving, predicted_saving) = predictions(config, &summary)?;
        let own_saving = own_saving(&dir);
        rows.push(Row { config: config.clone(), strategy: strategy(config), summary, reference_saving, predicted_saving, own_saving });
    }
    Ok(rows)
}

fn warm_up(config: &RunConfig) -> anyhow::Result<()> {
    crate::speed::measure(&crate::speed::SpeedConfig {
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
    Ok(())
}

fn finished(dir: &Path, config: &RunConfig) -> Option<RunSummary> {
    let saved: RunConfig = toml::from_str(&std::fs::read_to_string(dir.join("config.toml")).ok()?).ok()?;
    let summary: RunSummary = serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).ok()?).ok()?;
    (saved == *config && (summary.status == "finished" || summary.status == "diverged")).then_some(summary)
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
    /// t0 (`None` for the baseline).
    pub t0: Option<f64>,
    /// Test error.
    pub test_error: Stat,
    /// Test error minus the baseline's (same model, dataset; means).
    pub delta_error: Option<f64>,
    /// Δ error relative to the baseline's error.
    pub delta_error_relative: Option<f64>,
    /// Reference formula saving.
    pub reference_saving: Option<f64>,
    /// Our FLOP-model saving.
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
        let t0 = if r.config.baseline { String::new() } else { format!("{}", r.config.t0) };
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
            t0: (!first.config.baseline).then_some(first.config.t0),
            delta_error: base.map(|b| test_error.mean - b.mean),
            delta_error_relative: base.filter(|b| b.mean > 0.0).map(|b| (test_error.mean - b.mean) / b.mean),
            test_error,
            reference_saving: first.reference_saving,
            predicted_saving: first.predicted_saving,
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
        n = seeds.\n\n");
    md += "| model | dataset | strategy | t0 | test error | Δ error (abs) | Δ error (rel) | reference | predicted | measured (own) | measured (vs baseline) | wall-clock s | n |\n";
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
