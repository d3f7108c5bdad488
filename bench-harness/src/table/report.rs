//! A grid's results aggregated over seeds, set beside the paper's claims, and written as
//! `results.md`, `results.csv` and `results.json`.

use super::{Row, setting_of, t0_of, threshold_of};
use crate::run::Dataset;
use crate::stats::Stat;
use burn_freezeout::cache::CacheStats;
use burn_freezeout::train::write_atomic;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// One line of the table: a cell aggregated over seeds.
#[derive(Clone, Debug, Serialize)]
pub struct Line {
    /// Model.
    pub model: String,
    /// Dataset.
    pub dataset: String,
    /// Strategy.
    pub strategy: String,
    /// Epochs of the runs.
    pub epochs: usize,
    /// FreezeOut's t0 (FreezeOut lines only).
    pub t0: Option<f64>,
    /// The adaptive policy's threshold (adaptive lines only).
    pub threshold: Option<f64>,
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
    /// `1 − time / baseline time` at step times measured on an idle machine ([`Row::idle_ms`]).
    pub idle_saving: Option<Stat>,
    /// Wall-clock seconds of the run (data and evaluation included).
    pub wall_seconds: Stat,
    /// The prefix cache's largest size at an epoch's end (MiB; cached lines only).
    pub cache_mib: Option<Stat>,
    /// The prefix cache's hits per lookup over the run (cached lines only).
    pub hit_rate: Option<Stat>,
}

impl Line {
    /// The line's knob along its strategy: t0 or the threshold (`None` for the baseline).
    pub fn setting(&self) -> Option<f64> {
        self.t0.or(self.threshold)
    }

    /// The saving the report quotes for this line, and how it was measured: at the idle
    /// machine's step times when the table has them (steadier than a run's own, which shares
    /// the machine's drift), else against the runs' own unfrozen steps; `None` with neither.
    pub fn quoted_saving(&self) -> Option<(Stat, &'static str)> {
        match (self.idle_saving, self.own_saving) {
            (Some(s), _) => Some((s, "at idle step times")),
            (None, Some(s)) => Some((s, "measured (own)")),
            (None, None) => None,
        }
    }
}

/// Aggregates rows over seeds and compares each with its baseline.
pub fn lines(rows: &[Row]) -> Vec<Line> {
    type Key = (String, String, usize, String, String);
    let mut groups: BTreeMap<Key, Vec<&Row>> = BTreeMap::new();
    for r in rows {
        let t0 = setting_of(&r.config).map_or(String::new(), |t| format!("{t}"));
        let (model, dataset) = (r.config.model.to_string(), r.config.dataset.name().to_string());
        groups.entry((model, dataset, r.config.epochs, r.strategy.clone(), t0)).or_default().push(r);
    }
    let mut out = Vec::new();
    for ((model, dataset, epochs, strategy, _), rs) in groups {
        let errors: Vec<f64> = rs.iter().filter_map(|r| r.summary.test_error).collect();
        let test_error = Stat::of(&errors).unwrap_or(Stat { mean: f64::NAN, std: 0.0, n: 0 });
        let base_errors: Vec<f64> = rs.iter().filter_map(|r| baseline_of(rows, r)?.summary.test_error).collect();
        let base = Stat::of(&base_errors);
        let savings: Vec<f64> = rs
            .iter()
            .filter_map(|r| {
                let b = baseline_of(rows, r)?;
                Some(1.0 - r.summary.step_seconds / b.summary.step_seconds)
            })
            .collect();
        let idle: Vec<f64> =
            rs.iter().filter_map(|r| Some(1.0 - r.idle_ms()? / baseline_of(rows, r)?.idle_ms()?)).collect();
        let walls: Vec<f64> = rs.iter().map(|r| r.summary.wall_seconds).collect();
        let own: Vec<f64> = rs.iter().filter_map(|r| r.own_saving).collect();
        let caches: Vec<Vec<CacheStats>> =
            rs.iter().map(|r| r.summary.epochs.iter().filter_map(|e| e.cache).collect()).collect();
        let peaks: Vec<f64> = caches
            .iter()
            .filter(|c| !c.is_empty())
            .map(|c| c.iter().map(|s| s.bytes).max().unwrap_or(0) as f64 / (1u64 << 20) as f64)
            .collect();
        let rates: Vec<f64> = caches
            .iter()
            .filter(|c| c.iter().any(|s| s.lookups > 0))
            .map(|c| c.iter().map(|s| s.hits).sum::<u64>() as f64 / c.iter().map(|s| s.lookups).sum::<u64>() as f64)
            .collect();
        let first = rs[0];
        out.push(Line {
            model,
            dataset,
            strategy,
            epochs,
            t0: t0_of(&first.config),
            threshold: threshold_of(&first.config),
            delta_error: base.map(|b| test_error.mean - b.mean),
            delta_error_relative: base.filter(|b| b.mean > 0.0).map(|b| (test_error.mean - b.mean) / b.mean),
            test_error,
            reference_saving: first.reference_saving,
            // A schedule's prediction is the same for every seed; an adaptive run's follows
            // the prefix that seed's run froze: the mean.
            predicted_saving: rs.iter().map(|r| r.predicted_saving).sum::<f64>() / rs.len() as f64,
            measured_saving: Stat::of(&savings),
            own_saving: Stat::of(&own),
            idle_saving: Stat::of(&idle),
            wall_seconds: Stat::of(&walls).expect("at least one row"),
            cache_mib: Stat::of(&peaks),
            hit_rate: Stat::of(&rates),
        });
    }
    out
}

/// The baseline run among `rows` of `row`'s task (model, dataset, classes, starting weights),
/// length, seed and augmentation: nothing frozen, one cosine, no layer decay.
pub(crate) fn baseline_of<'a>(rows: &'a [Row], row: &Row) -> Option<&'a Row> {
    let c = &row.config;
    rows.iter().find(|b| {
        b.config.policy.is_baseline()
            && b.config.layer_decay.is_none()
            && (b.config.model, b.config.dataset, b.config.epochs, b.config.seed, b.config.augment)
                == (c.model, c.dataset, c.epochs, c.seed, c.augment)
            && (&b.config.classes, &b.config.init, b.config.new_head) == (&c.classes, &c.init, c.new_head)
    })
}

/// A claim of the paper and what this grid says about it.
#[derive(Clone, Debug, Serialize)]
pub struct Claim {
    /// The paper's statement.
    pub claim: &'static str,
    /// Our numbers.
    pub ours: String,
}

/// The paper's model families (CNNs on CIFAR): its claims are about them.
const PAPER_MODELS: [&str; 3] = ["densenet", "wrn", "vgg"];

/// Sets our numbers beside the paper's claims: those about which the grid has FreezeOut cells
/// of the paper's models (none for a ViT's or a language model's grid).
pub fn claims(lines: &[Line]) -> Vec<Claim> {
    let best = |filter: &dyn Fn(&Line) -> bool, ok: &dyn Fn(&Line) -> bool| -> Option<String> {
        let cands: Vec<&Line> = lines
            .iter()
            .filter(|l| l.t0.is_some() && PAPER_MODELS.iter().any(|m| l.model.starts_with(m)) && filter(l))
            .collect();
        if cands.is_empty() {
            return None;
        }
        // A line without a measured saving ranks last.
        let saving = |l: &Line| l.quoted_saving().map_or(f64::NEG_INFINITY, |(s, _)| s.mean);
        let quoted = |l: &Line| match l.quoted_saving() {
            Some((s, how)) => format!("{:.1}% saving {how}", 100.0 * s.mean),
            None => "no measured saving (no step times, no step log)".into(),
        };
        let describe = |l: &Line| {
            format!(
                "{} with {} t0 {} ({} {}): Δ error {:+.2} pts ({:+.1}% relative), n = {}",
                quoted(l),
                l.strategy,
                l.t0.unwrap_or(1.0),
                l.model,
                l.dataset,
                100.0 * l.delta_error.unwrap_or(f64::NAN),
                100.0 * l.delta_error_relative.unwrap_or(f64::NAN),
                l.test_error.n
            )
        };
        Some(match cands.iter().filter(|l| ok(l)).max_by(|a, b| saving(a).total_cmp(&saving(b))) {
            Some(l) => format!("best: {}", describe(l)),
            None => {
                let delta = |l: &Line| l.delta_error.unwrap_or(f64::INFINITY);
                let closest = cands.iter().min_by(|a, b| delta(a).total_cmp(&delta(b))).expect("non-empty");
                format!("no cell meets the error condition; closest: {}", describe(closest))
            }
        })
    };
    let rel = |l: &Line| l.delta_error_relative.unwrap_or(f64::INFINITY);
    let abs = |l: &Line| l.delta_error.unwrap_or(f64::INFINITY);
    [
        (
            "DenseNet: up to 20% saving within 3% relative error increase",
            best(&|l| l.model.starts_with("densenet"), &|l| rel(l) <= 0.03),
        ),
        ("WRN: 20% saving with no loss in accuracy", best(&|l| l.model.starts_with("wrn"), &|l| abs(l) <= 0.0)),
        ("VGG: no gain (no saving without an error cost)", best(&|l| l.model.starts_with("vgg"), &|l| abs(l) <= 0.0)),
        (
            "~10% saving at no error cost for scaled cubic and unscaled linear",
            best(&|l| l.strategy == "cubic-scaled" || l.strategy == "linear-unscaled", &|l| abs(l) <= 0.0),
        ),
    ]
    .into_iter()
    .filter_map(|(claim, ours)| Some(Claim { claim, ours: ours? }))
    .collect()
}

/// Which CPUs the runs computed on, when the table's cells come from more than one (test
/// errors are bit-identical only on one CPU type), or that some runs did not record theirs.
fn cpus_note(rows: &[Row]) -> String {
    let mut cpus: BTreeMap<String, usize> = BTreeMap::new();
    for r in rows {
        *cpus.entry(r.summary.cpu.as_ref().map_or("not recorded".into(), |c| c.label())).or_default() += 1;
    }
    if cpus.len() < 2 {
        return String::new();
    }
    let list: Vec<String> = cpus.iter().map(|(cpu, n)| format!("{n} on {cpu}")).collect();
    format!(
        "**The runs come from {} CPUs** ({}): test errors are comparable only between runs on one CPU type.\n\n",
        cpus.len(),
        list.join("; ")
    )
}

fn opt_pct(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |v| format!("{:.1}", 100.0 * v))
}

/// Writes `results.md`, `results.csv` and `results.json` into `out` (atomically).
pub fn write(out: &Path, title: &str, rows: &[Row]) -> anyhow::Result<Vec<Line>> {
    let lines = lines(rows);
    let claims = claims(&lines);
    let mut md = format!(
        "# {title}\n\nErrors and savings in % (a language model's error: its held-out loss per byte, in nats). Savings are 1 − time / time without freezing, over the \
        device-synchronised seconds of the training steps. `vs baseline`: against the baseline run (same seed, data order, \
        device; sensitive to drift between runs on a shared machine). `own`: against the run's own unfrozen steps \
        (mean), which cancels that drift. `reference`: the reference code's formula; `predicted`: our FLOP model. \
        n = seeds. `t0 / θ`: FreezeOut's t0, or the adaptive policy's threshold.\n\n"
    );
    md += &cpus_note(rows);
    let cached = lines.iter().any(|l| l.cache_mib.is_some());
    let idle = lines.iter().any(|l| l.idle_saving.is_some());
    if idle {
        md += "`at idle step times`: the run's iterations at the step times `paper-repro speed` measured for each frozen \
               prefix on an otherwise idle machine (a cached run's reads of entries at the boundary at the hit step, its misses and advanced entries as uncached steps: for an advance an upper bound), against the baseline's.\n\n";
    }
    md += "| model | dataset | epochs | strategy | t0 / θ | test error | Δ error (abs) | Δ error (rel) | reference | predicted | measured (own) | measured (vs baseline) |";
    md += if idle { " at idle step times |" } else { "" };
    md += " wall-clock s | n |";
    md += if cached { " cache MiB | hit rate |\n" } else { "\n" };
    md += "|---|---|---|---|---|---|---|---|---|---|---|---|";
    md += if idle { "---|" } else { "" };
    md += "---|---|";
    md += if cached { "---|---|\n" } else { "\n" };
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record([
        "model",
        "dataset",
        "epochs",
        "strategy",
        "t0",
        "threshold",
        "test_error",
        "test_error_std",
        "delta_error",
        "delta_error_relative",
        "reference_saving",
        "predicted_saving",
        "own_saving",
        "own_saving_std",
        "measured_saving",
        "measured_saving_std",
        "idle_saving",
        "idle_saving_std",
        "wall_seconds",
        "n",
        "cache_mib",
        "hit_rate",
    ])?;
    for l in &lines {
        md += &format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {} | {} |{} {:.0} | {} |",
            l.model,
            l.dataset,
            l.epochs,
            l.strategy,
            l.setting().map_or("—".into(), |t| format!("{t}")),
            match (l.test_error.n, l.dataset == Dataset::Text.name()) {
                (0, _) => "diverged".into(),
                (_, true) => l.test_error.plain(4),
                (_, false) => l.test_error.pct(),
            },
            l.delta_error.map_or("—".into(), |d| match l.dataset == Dataset::Text.name() {
                true => format!("{d:+.4}"),
                false => format!("{:+.2}", 100.0 * d),
            }),
            l.delta_error_relative.map_or("—".into(), |d| format!("{:+.1}", 100.0 * d)),
            opt_pct(l.reference_saving),
            100.0 * l.predicted_saving,
            l.own_saving.map_or("n/a".into(), |s| s.pct()),
            l.measured_saving.map_or("n/a".into(), |s| s.pct()),
            match idle {
                true => format!(" {} |", l.idle_saving.map_or("n/a".into(), |s| s.pct())),
                false => String::new(),
            },
            l.wall_seconds.mean,
            l.test_error.n
        );
        if cached {
            let mib = l.cache_mib.map_or("—".into(), |m| format!("{:.0}", m.mean));
            md += &format!(" {mib} | {} |", l.hit_rate.map_or("—".into(), |r| r.pct()));
        }
        md += "\n";
        let f = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v}"));
        csv.write_record([
            l.model.clone(),
            l.dataset.clone(),
            format!("{}", l.epochs),
            l.strategy.clone(),
            f(l.t0),
            f(l.threshold),
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
            f(l.idle_saving.map(|s| s.mean)),
            f(l.idle_saving.map(|s| s.std)),
            format!("{}", l.wall_seconds.mean),
            format!("{}", l.test_error.n),
            f(l.cache_mib.map(|s| s.mean)),
            f(l.hit_rate.map(|s| s.mean)),
        ])?;
    }
    if let Some(trend) = super::trend::section(&super::trend::points(rows)) {
        md += &trend;
    }
    if !claims.is_empty() {
        md += "\n## Beside the paper's claims\n\n| the paper | this grid |\n|---|---|\n";
        for c in &claims {
            md += &format!("| {} | {} |\n", c.claim, c.ours);
        }
    }
    write_atomic(&out.join("results.md"), md.as_bytes())?;
    write_atomic(&out.join("results.csv"), &csv.into_inner()?)?;
    let json = serde_json::json!({ "title": title, "lines": lines, "claims": claims, "runs": rows });
    write_atomic(&out.join("results.json"), serde_json::to_string_pretty(&json)?.as_bytes())?;
    Ok(lines)
}
