//! Savings from step times measured on an otherwise idle machine.
//!
//! A table's runs often share the machine's cores with other work, so their own step seconds
//! drift with the load. `paper-repro speed --json FILE` measures a model's mean step time at
//! each frozen prefix (and through the `exact` cache with every sample a hit) on a quiet
//! machine. A run's time at those step times is then the sum, over its iterations, of the step
//! time at the prefix it ran with (its `log.jsonl`, or for a schedule without one, the schedule's:
//! [`cell_iterations`]). For a cached run the reads come from its
//! epoch's cache numbers: a share `h` of the epoch's lookups is read at the boundary
//! ([`CacheStats::read_rate`](burn_freezeout::cache::CacheStats::read_rate)), and an iteration
//! costs `h × hit + (1 − h) × uncached step`. A miss, and an entry advanced to a deeper boundary,
//! are counted at the uncached step's time (for an advance, which runs only its new units, an
//! upper bound); the copy of its result into the cache is not included.

use super::{IterRecord, Row, cell_dir, cell_iterations};
use anyhow::{Context, bail};
use burn_freezeout::models::Preset;
use std::path::Path;

/// One model's step times at each frozen prefix, at one batch size and head width.
#[derive(Clone, Debug, PartialEq)]
pub struct StepTimes {
    /// The model.
    pub model: Preset,
    /// The batch size.
    pub batch: usize,
    /// Classes of the head (`speed --classes`); a language model's head is its vocabulary
    /// whatever this says.
    pub classes: usize,
    /// Mean step time (ms) with `k` units frozen, `k = 0..=N`.
    pub step_ms: Vec<f64>,
    /// Mean step time (ms) through the `exact` cache, every sample a hit at boundary `k`.
    pub hit_ms: Vec<f64>,
}

impl StepTimes {
    /// The models measured in a `paper-repro speed --json` file. An error names the file, and
    /// the model and prefix a point is missing for (every prefix `0..=N` is needed).
    pub fn load(path: &Path) -> anyhow::Result<Vec<StepTimes>> {
        let text = std::fs::read_to_string(path).with_context(|| format!("--step-times {}", path.display()))?;
        let reports: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("--step-times {}: not JSON", path.display()))?;
        let Some(reports) = reports.as_array() else {
            bail!("--step-times {}: not the list of reports `paper-repro speed --json` writes", path.display());
        };
        reports.iter().map(|r| Self::of_report(r).with_context(|| format!("--step-times {}", path.display()))).collect()
    }

    fn of_report(report: &serde_json::Value) -> anyhow::Result<StepTimes> {
        let field = |v: &serde_json::Value, name: &str| v.get(name).cloned().with_context(|| format!("no `{name}`"));
        let config = field(report, "config")?;
        let model: Preset = serde_json::from_value(field(&config, "model")?)?;
        let batch = field(&config, "batch")?.as_u64().context("`batch` is not a number")? as usize;
        let classes = field(&config, "classes")?.as_u64().context("`classes` is not a number")? as usize;
        let units = field(report, "units")?.as_u64().context("`units` is not a number")? as usize;
        let points = field(report, "points")?;
        let (mut step_ms, mut hit_ms) = (vec![f64::NAN; units + 1], vec![f64::NAN; units + 1]);
        for p in points.as_array().context("`points` is not a list")? {
            let k = field(p, "frozen")?.as_u64().context("`frozen` is not a number")? as usize;
            if k <= units {
                step_ms[k] = field(p, "mean_ms")?.as_f64().context("`mean_ms` is not a number")?;
                hit_ms[k] = field(p, "cached_mean_ms")?.as_f64().context("`cached_mean_ms` is not a number")?;
            }
        }
        if let Some(k) = step_ms.iter().position(|t| t.is_nan()) {
            let fractions: Vec<String> = (0..=units).map(|k| format!("{}", k as f64 / units as f64)).collect();
            bail!(
                "{model} at batch {batch} has no point with {k} of its {units} units frozen: measure every prefix, \
                 paper-repro speed --model {model} --batch {batch} --fractions {} --json FILE",
                fractions.join(" ")
            );
        }
        Ok(StepTimes { model, batch, classes, step_ms, hit_ms })
    }

    /// Milliseconds of each epoch's training steps of a run whose iterations are `its` (of
    /// `epochs` epochs), with `reads[e]` the share of epoch `e`'s lookups read from the cache at
    /// the boundary ([`CacheStats::read_rate`](burn_freezeout::cache::CacheStats::read_rate); 0
    /// without a cache).
    pub fn epoch_ms(&self, its: &[IterRecord], epochs: usize, reads: &[f64]) -> anyhow::Result<Vec<f64>> {
        let per_epoch = (its.len() / epochs.max(1)).max(1);
        let mut ms = vec![0.0; epochs.max(1)];
        for it in its {
            let (Some(&step), Some(&hit)) = (self.step_ms.get(it.frozen), self.hit_ms.get(it.frozen)) else {
                bail!(
                    "iteration {} ran with {} units frozen; {} has {}",
                    it.iter,
                    it.frozen,
                    self.model,
                    self.step_ms.len() - 1
                );
            };
            let epoch = (it.iter as usize / per_epoch).min(ms.len() - 1);
            let h = if it.frozen == 0 { 0.0 } else { reads.get(epoch).copied().unwrap_or(0.0) };
            ms[epoch] += h * hit + (1.0 - h) * step;
        }
        Ok(ms)
    }
}

/// Sets each row's [`Row::idle_epoch_ms`]: its run's epochs' times at the step times measured
/// for its model, batch and classes (a language model's head is its vocabulary: any classes).
/// An error names a model without step times and the command that measures them.
pub fn apply(rows: &mut [Row], times: &[StepTimes], out: &Path) -> anyhow::Result<()> {
    for row in rows.iter_mut() {
        let c = &row.config;
        let classes = c.num_classes();
        let Some(t) = times
            .iter()
            .find(|t| (t.model, t.batch) == (c.model, c.batch_size) && (c.model.is_text() || t.classes == classes))
        else {
            let (head, flag) = match c.model.is_text() {
                true => (String::new(), String::new()),
                false => (format!(" with {classes} classes"), format!(" --classes {classes}")),
            };
            bail!(
                "--step-times: no step times of {} at batch {}{head}: measure them, paper-repro speed --model {} \
                 --batch {}{flag} --fractions 0 0.25 0.5 0.75 1 --json FILE (a fraction for every prefix)",
                c.model,
                c.batch_size,
                c.model,
                c.batch_size
            );
        };
        let its = cell_iterations(c, &row.summary, &cell_dir(out, c))?;
        // Only reads cost a hit's step: a miss, and an entry advanced (its new units run, then
        // stored), count as an uncached step (for an advance an upper bound).
        let reads: Vec<f64> = row.summary.epochs.iter().map(|e| e.cache.map_or(0.0, |s| s.read_rate())).collect();
        row.idle_epoch_ms = Some(t.epoch_ms(&its, c.epochs, &reads)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times() -> StepTimes {
        StepTimes {
            model: Preset::Wrn { depth: 10, width: 1 },
            batch: 50,
            classes: 10,
            step_ms: vec![100.0, 80.0, 50.0],
            hit_ms: vec![100.0, 60.0, 10.0],
        }
    }

    /// Each iteration costs its prefix's step time; in a cached epoch a share of it hits.
    #[test]
    fn a_runs_time_is_its_prefixes_step_times_with_its_hits() {
        let its: Vec<IterRecord> = [0, 0, 1, 2, 2, 2]
            .iter()
            .enumerate()
            .map(|(j, &frozen)| IterRecord { iter: j as u64, frozen, step_ms: None })
            .collect();
        assert_eq!(times().epoch_ms(&its, 3, &[0.0; 3]).unwrap(), [200.0, 130.0, 100.0]);
        // Epoch 1 (iterations 2, 3): half its lookups hit; epoch 2 (4, 5): all.
        let cached = [200.0, (0.5 * 60.0 + 0.5 * 80.0) + (0.5 * 10.0 + 0.5 * 50.0), 20.0];
        assert_eq!(times().epoch_ms(&its, 3, &[0.0, 0.5, 1.0]).unwrap(), cached);
        let deeper = [IterRecord { iter: 0, frozen: 3, step_ms: None }];
        assert!(times().epoch_ms(&deeper, 1, &[]).unwrap_err().to_string().contains("3 units frozen"));
    }

    /// A cached run's epoch costs the hit step only for its reads: the entries it advanced
    /// (found, but behind the boundary) cost an uncached step, as its misses do.
    #[test]
    fn only_a_cached_runs_reads_cost_a_hit() {
        use crate::table::tests::{row, summary};
        use crate::table::{TablePreset, grid};
        use burn_freezeout::cache::CacheStats;
        use burn_freezeout::train::{EpochStats, RunSummary};
        let config = crate::run::RunConfig { epochs: 1, ..grid(TablePreset::Quick, &[0]).remove(1) };
        let tmp = tempfile::tempdir().unwrap();
        let dir = cell_dir(tmp.path(), &config);
        std::fs::create_dir_all(&dir).unwrap();
        // Two iterations with 2 units frozen; all 100 lookups hit, 75 of them advanced.
        let log: String = (0..2).map(|j| format!("{{\"event\":\"iter\",\"iter\":{j},\"frozen\":2}}\n")).collect();
        std::fs::write(dir.join("log.jsonl"), log).unwrap();
        let cache = CacheStats { lookups: 100, hits: 100, stored: 75, ..CacheStats::default() };
        let epoch = EpochStats {
            epoch: 0,
            train_loss: 1.0,
            train_error: 0.5,
            test_error: None,
            step_seconds: 1.0,
            wall_seconds: 1.0,
            frozen_units: 2,
            cache: Some(cache),
        };
        let summary = RunSummary { epochs: vec![epoch], ..summary(&config) };
        let mut rows = vec![row(&config, summary)];
        apply(&mut rows, &[times()], tmp.path()).unwrap();
        // Each step: a quarter read (10 ms), three quarters as uncached (50 ms).
        assert_eq!(rows[0].idle_epoch_ms, Some(vec![2.0 * (0.25 * 10.0 + 0.75 * 50.0)]));
    }

    /// A 5-class run is not costed at a 10-class head's step times: the error names the
    /// `--classes` that measures its own; step times of its head are taken.
    #[test]
    fn step_times_are_those_of_the_runs_head() {
        use crate::table::tests::{row, summary};
        use crate::table::{TablePreset, grid};
        let config = crate::run::RunConfig {
            epochs: 1,
            classes: Some(vec![5, 6, 7, 8, 9]),
            ..grid(TablePreset::Quick, &[0]).remove(0)
        };
        let tmp = tempfile::tempdir().unwrap();
        let dir = cell_dir(tmp.path(), &config);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("log.jsonl"), "{\"event\":\"iter\",\"iter\":0,\"frozen\":1}\n").unwrap();
        let mut rows = vec![row(&config, summary(&config))];
        let e = apply(&mut rows, &[times()], tmp.path()).unwrap_err().to_string();
        assert!(e.contains("with 5 classes") && e.contains("--classes 5"), "{e}");
        assert_eq!(rows[0].idle_epoch_ms, None);
        apply(&mut rows, &[times(), StepTimes { classes: 5, step_ms: vec![90.0, 70.0, 40.0], ..times() }], tmp.path())
            .unwrap();
        assert_eq!(rows[0].idle_epoch_ms, Some(vec![70.0]));
    }

    /// The file `paper-repro speed --json` writes reads back; a missing prefix names the command
    /// that measures every one.
    #[test]
    fn step_times_read_from_the_speed_json_and_a_missing_prefix_is_named() {
        let point =
            |frozen: usize, ms: f64| serde_json::json!({ "frozen": frozen, "mean_ms": ms, "cached_mean_ms": ms / 2.0 });
        let report = |points: Vec<serde_json::Value>| serde_json::json!([{ "config": { "model": "wrn-10-1", "batch": 50, "classes": 10 }, "units": 2, "points": points }]);
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("speed.json");
        std::fs::write(&path, report(vec![point(0, 100.0), point(1, 80.0), point(2, 50.0)]).to_string()).unwrap();
        let loaded = StepTimes::load(&path).unwrap();
        assert_eq!(loaded, vec![StepTimes { hit_ms: vec![50.0, 40.0, 25.0], ..times() }]);
        std::fs::write(&path, report(vec![point(0, 100.0), point(2, 50.0)]).to_string()).unwrap();
        let e = format!("{:#}", StepTimes::load(&path).unwrap_err());
        assert!(e.contains("no point with 1 of its 2 units frozen") && e.contains("--fractions 0 0.5 1"), "{e}");
    }
}
