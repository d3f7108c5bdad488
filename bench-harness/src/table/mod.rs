//! The paper's tables: a grid of runs (model × dataset × strategy × t0, plus the baseline),
//! resumable cell by cell, written as `results.md`, `results.csv` and `results.json`.
//!
//! * [`grid`]: which cells a preset holds;
//! * cells ([`plan`], [`run_grid`]): what each cell's directory holds, running or continuing
//!   it, and each finished cell's [`Row`] (measured and predicted savings);
//! * the report ([`lines`], [`claims`], [`write`](fn@write)): rows aggregated over seeds, beside the
//!   paper's claims;
//! * [`trend`]: with runs of several lengths, Δ error against the length and its extrapolation.

mod cells;
mod grid;
mod report;
mod step_times;
pub mod trend;

pub use crate::stats::Stat;
pub use cells::{
    CellState, GridEvent, IterRecord, Row, cell_dir, cell_iterations, cell_state, iterations, own_saving, plan,
    predictions, run_grid, setting_of, strategy, t0_of, threshold_of, warm_up,
};
pub use grid::{
    DENSENET_EPOCHS, DENSENET_IMAGES, DRIFT_THRESHOLDS, LENGTH_EPOCHS, POLICY_THRESHOLDS, TEXT_EPOCHS, TEXT_MODEL,
    TEXT_WINDOWS, TRANSFER_EPOCHS, TRANSFER_IMAGES, TRANSFER_LR, TRANSFER_MODEL, TRANSFORMER_LR,
    TRANSFORMER_WEIGHT_DECAY, TablePreset, VIT_EPOCHS, VIT_IMAGES, VIT_MODEL, grid, transfer_pretraining,
};
pub use report::{Claim, Line, claims, lines, write};
pub use step_times::{StepTimes, apply as apply_step_times};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::CostModel;
    use crate::run::RunConfig;
    use burn_freezeout::train::RunSummary;
    use burn_freezeout::{AdaptiveConfig, PolicyConfig};
    use std::path::Path;

    /// A finished run's summary for `config` (test error 0.5, no epochs).
    pub(super) fn summary(config: &RunConfig) -> RunSummary {
        RunSummary {
            status: "finished".into(),
            config: config.train_config(),
            num_units: 5,
            total_iterations: 10,
            test_error: Some(0.5),
            step_seconds: 1.0,
            wall_seconds: 2.0,
            epochs: Vec::new(),
            cpu: None,
        }
    }

    /// A table row for `config` with `summary`: FLOP-predicted saving 0.1, nothing else measured.
    pub(super) fn row(config: &RunConfig, summary: RunSummary) -> Row {
        Row {
            config: config.clone(),
            strategy: strategy(config),
            summary,
            reference_saving: None,
            predicted_saving: 0.1,
            own_saving: None,
            idle_epoch_ms: None,
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
        assert!(
            e.contains(&dir.display().to_string()) && e.contains("epochs: 5 → 2") && e.contains("--overwrite"),
            "{e}"
        );
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
        assert!(quick.iter().all(|c| c.policy.adaptive().is_none()));
        let cells = grid(TablePreset::Policies, &[0, 1]);
        let named: Vec<(String, Option<f64>, u64)> =
            cells.iter().map(|c| (strategy(c), setting_of(c), c.seed)).collect();
        let mut expected = Vec::new();
        for seed in [0, 1] {
            expected.push(("baseline".to_string(), None, seed));
            expected.push(("cubic-scaled".to_string(), Some(0.8), seed));
            expected.push(("linear-unscaled".to_string(), Some(0.9), seed));
            for t in POLICY_THRESHOLDS {
                expected.push(("gradient-norm".to_string(), Some(t), seed));
            }
        }
        assert_eq!(named, expected);
        let drift = grid(TablePreset::Drift, &[0]);
        let drifts: Vec<(String, Option<f64>)> = drift.iter().map(|c| (strategy(c), setting_of(c))).skip(3).collect();
        assert_eq!(drifts, DRIFT_THRESHOLDS.map(|t| ("drift".to_string(), Some(t))));
        assert!(
            drift[3..].iter().all(|c| c.policy.adaptive().is_some_and(|a| a.signal == burn_freezeout::Signal::Drift))
        );
        assert_eq!(&drift[..3], &cells[..3], "the same baseline and FreezeOut cells");
        // The same setting as the quick preset's cells.
        assert!(cells.iter().all(
            |c| (c.model, c.epochs, c.train_limit, c.test_limit) == (quick[0].model, 5, Some(15_000), Some(2_000))
        ));
    }

    /// DenseNet: the paper's grid (and the default) for the first seed, the baseline and the
    /// two FreezeOut defaults for the others, each default also with `reuse`; one setting.
    #[test]
    fn the_densenet_grid_holds_the_papers_grid_for_its_first_seed() {
        use burn_freezeout::cache::CacheMode;
        let cells = grid(TablePreset::Densenet, &[0, 1]);
        let named: Vec<(String, Option<f64>, CacheMode, u64)> =
            cells.iter().map(|c| (strategy(c), setting_of(c), c.cache.mode, c.seed)).collect();
        let cell = |s: &str, t: Option<f64>, mode, seed| (s.to_string(), t, mode, seed);
        let mut expected = vec![cell("baseline", None, CacheMode::Off, 0)];
        for s in ["cubic-scaled", "linear-unscaled"] {
            expected.extend([0.5, 0.7, 0.9].map(|t| cell(s, Some(t), CacheMode::Off, 0)));
        }
        expected.push(cell("cubic-scaled", Some(0.8), CacheMode::Off, 0));
        expected.push(cell("cubic-scaled+cache-reuse", Some(0.8), CacheMode::Reuse, 0));
        expected.push(cell("linear-unscaled+cache-reuse", Some(0.9), CacheMode::Reuse, 0));
        expected.push(cell("baseline", None, CacheMode::Off, 1));
        expected.push(cell("cubic-scaled", Some(0.8), CacheMode::Off, 1));
        expected.push(cell("linear-unscaled", Some(0.9), CacheMode::Off, 1));
        expected.push(cell("cubic-scaled+cache-reuse", Some(0.8), CacheMode::Reuse, 1));
        expected.push(cell("linear-unscaled+cache-reuse", Some(0.9), CacheMode::Reuse, 1));
        // Each seed ends with WRN-10-1's baseline and two defaults on the same setting.
        let wrn = |seed| {
            [("baseline", None), ("cubic-scaled", Some(0.8)), ("linear-unscaled", Some(0.9))]
                .map(|(s, t)| cell(s, t, CacheMode::Off, seed))
        };
        expected.splice(10..10, wrn(0));
        expected.extend(wrn(1));
        assert_eq!(named, expected);
        let models: Vec<String> = cells.iter().map(|c| c.model.to_string()).collect();
        let is_wrn = |i: usize| (10..13).contains(&i) || i >= 18;
        assert!(models.iter().enumerate().all(|(i, m)| m == if is_wrn(i) { "wrn-10-1" } else { "densenet-bc-40-12" }));
        assert!(
            cells
                .iter()
                .all(|c| (c.epochs, c.train_limit, c.test_limit)
                    == (DENSENET_EPOCHS, Some(DENSENET_IMAGES), Some(1_000)))
        );
    }

    /// ViT: per seed, the augmented cells with `reuse`, then the unaugmented ones with `exact`,
    /// each against its own baseline; one setting.
    #[test]
    fn the_vit_grid_pairs_each_cache_with_the_inputs_it_needs() {
        use burn_freezeout::cache::CacheMode;
        let cells = grid(TablePreset::Vit, &[0, 1]);
        assert_eq!(cells.len(), 20);
        let named: Vec<String> = cells[..10].iter().map(strategy).collect();
        let expected = [
            "baseline",
            "cubic-scaled",
            "linear-unscaled",
            "cubic-scaled+cache-reuse",
            "linear-unscaled+cache-reuse",
            "baseline+noaug",
            "cubic-scaled+noaug",
            "linear-unscaled+noaug",
            "cubic-scaled+noaug+cache-exact",
            "linear-unscaled+noaug+cache-exact",
        ];
        assert_eq!(named, expected);
        assert!(cells.iter().all(|c| c.validate().is_ok() && (c.cache.mode != CacheMode::Exact || !c.augment)));
        assert!(cells.iter().all(|c| (c.model, c.epochs, c.train_limit, c.test_limit)
            == (VIT_MODEL, VIT_EPOCHS, Some(VIT_IMAGES), Some(1_000))));
        assert!(cells[10..].iter().all(|c| c.seed == 1));
    }

    /// Transfer: the pretraining on classes 0–4 once (the run name of the directory a
    /// `paper-repro train --model wrn-10-1 --baseline --epochs 15 --classes 0-4` makes), then per
    /// seed the fine-tuning policies and FreezeOut on classes 5–9 from its run directory, with a
    /// new 5-way head, unaugmented, the cache `exact`.
    #[test]
    fn the_transfer_grid_pretrains_once_and_fine_tunes_from_it_with_every_policy() {
        let cells = grid(TablePreset::Transfer, &[0, 1]);
        let pretraining = &cells[0];
        assert_eq!(pretraining.run_name(), "wrn-10-1-cifar10-c0-4-baseline-e15-s0-5ee36011");
        let named: Vec<String> = cells[1..12].iter().map(strategy).collect();
        let expected = [
            "baseline+noaug",
            "baseline+lld0.75+noaug",
            "backbone-u6+noaug",
            "backbone-u6+noaug+cache-exact",
            "backbone-u1+noaug",
            "gradual+noaug",
            "cubic-scaled+noaug",
            "linear-unscaled+noaug",
            "cubic-scaled+noaug+cache-exact",
            "linear-unscaled+noaug+cache-exact",
            "cubic-scaled+noaug+cache-exact",
        ];
        assert_eq!((named.as_slice(), cells.len()), (&expected.map(String::from)[..], 23));
        assert_eq!((cells[9].t0, cells[11].t0), (0.8, 0.5));
        let init = std::path::Path::new("runs").join(pretraining.run_name());
        // Valid once the pretraining's directory is there (the table resolves `init` against
        // its own directory).
        let table = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(table.path().join(&init)).unwrap();
        pretraining.validate().unwrap();
        for c in &cells[1..] {
            RunConfig { init: Some(table.path().join(&init)), ..c.clone() }.validate().unwrap();
            assert_eq!(
                (c.init.as_deref(), c.new_head, c.classes.as_deref()),
                (Some(init.as_path()), Some(5), Some(&[5, 6, 7, 8, 9][..]))
            );
            assert_eq!(
                (c.epochs, c.train_limit, c.augment, c.lr),
                (TRANSFER_EPOCHS, Some(TRANSFER_IMAGES), false, TRANSFER_LR)
            );
        }
        let names: std::collections::HashSet<String> = cells.iter().map(RunConfig::run_name).collect();
        assert_eq!(names.len(), cells.len(), "every cell a directory of its own");
        assert!(cells[12..].iter().all(|c| c.seed == 1));
    }

    /// With step times from an idle machine, each line's saving against its baseline's time at
    /// them is a column of the table (and of the CSV); without them there is no such column.
    #[test]
    fn savings_at_idle_step_times_are_a_column_when_given() {
        let cells = grid(TablePreset::Transfer, &[0]);
        let rows: Vec<Row> = [(&cells[1], 1000.0), (&cells[7], 800.0)]
            .into_iter()
            .map(|(c, ms)| Row { idle_epoch_ms: Some(vec![ms / 2.0, ms / 2.0]), ..row(c, summary(c)) })
            .collect();
        let tmp = tempfile::tempdir().unwrap();
        let lines = write(tmp.path(), "t", &rows).unwrap();
        let cubic = lines.iter().find(|l| l.strategy == "cubic-scaled+noaug").unwrap();
        assert!((cubic.idle_saving.unwrap().mean - 0.2).abs() < 1e-12);
        let md = std::fs::read_to_string(tmp.path().join("results.md")).unwrap();
        assert!(md.contains("at idle step times |") && md.contains("| 20.00 |"), "{md}");
        let csv = std::fs::read_to_string(tmp.path().join("results.csv")).unwrap();
        assert!(csv.lines().next().unwrap().contains("idle_saving"), "{csv}");
        let plain: Vec<Row> = rows.into_iter().map(|r| Row { idle_epoch_ms: None, ..r }).collect();
        write(tmp.path(), "t", &plain).unwrap();
        let md = std::fs::read_to_string(tmp.path().join("results.md")).unwrap();
        assert!(!md.contains("idle"), "{md}");
    }

    /// Text: per seed the baseline, the two FreezeOut defaults, and both with `exact`, all on
    /// the language model and the text.
    #[test]
    fn the_text_grid_trains_the_language_model_with_and_without_the_exact_cache() {
        use crate::run::Dataset;
        let cells = grid(TablePreset::Text, &[0, 1]);
        let named: Vec<String> = cells[..5].iter().map(strategy).collect();
        let expected =
            ["baseline", "cubic-scaled", "linear-unscaled", "cubic-scaled+cache-exact", "linear-unscaled+cache-exact"];
        assert_eq!((named.as_slice(), cells.len()), (&expected.map(String::from)[..], 10));
        let setting = (TEXT_MODEL, Dataset::Text, TEXT_EPOCHS, Some(TEXT_WINDOWS));
        assert!(cells.iter().all(|c| c.validate().is_ok() && (c.model, c.dataset, c.epochs, c.train_limit) == setting));
        // The table reports a language model's loss in nats, not as a percentage.
        let rows: Vec<Row> = cells[..2]
            .iter()
            .zip([2.5, 2.5625])
            .map(|(c, loss)| row(c, RunSummary { test_error: Some(loss), ..summary(c) }))
            .collect();
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), "t", &rows).unwrap();
        let md = std::fs::read_to_string(tmp.path().join("results.md")).unwrap();
        assert!(md.contains("| 2.5625 | +0.0625 |") && !md.contains("256.25"), "{md}");
        // The paper's claims are about its CNNs: a language model's table has none to set beside.
        assert!(!md.contains("claims"), "{md}");
    }

    /// Length: every length for every seed, shorter runs first, each on the quick setting's
    /// images with the baseline and the two FreezeOut defaults.
    #[test]
    fn the_length_grid_runs_shorter_lengths_first() {
        let cells = grid(TablePreset::Length, &[0, 1]);
        let named: Vec<(usize, u64, String)> = cells.iter().map(|c| (c.epochs, c.seed, strategy(c))).collect();
        let mut expected = Vec::new();
        for epochs in LENGTH_EPOCHS {
            for seed in [0, 1] {
                for s in ["baseline", "cubic-scaled", "linear-unscaled"] {
                    expected.push((epochs, seed, s.to_string()));
                }
            }
        }
        assert_eq!(named, expected);
        let quick = grid(TablePreset::Quick, &[0]);
        assert_eq!(cells[0], quick[0], "the 5-epoch baseline is the quick table's cell");
        assert!(
            cells.iter().all(|c| (c.model, c.train_limit, c.test_limit) == (quick[0].model, Some(15_000), Some(2_000)))
        );
    }

    /// Lines of different lengths stay apart, each against the baseline of its own length; a
    /// table whose runs come from two CPUs says so.
    #[test]
    fn each_length_is_its_own_line_against_its_own_baseline_and_mixed_cpus_are_named() {
        use burn_freezeout::train::CpuInfo;
        let cells: Vec<RunConfig> = grid(TablePreset::Length, &[0]).into_iter().take(6).collect();
        let rows: Vec<Row> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let cpu = CpuInfo { model: format!("cpu {}", i / 3), features: vec!["avx2".into()] };
                let error =
                    0.5 - 0.1 * (c.epochs / 5) as f64 + if c.policy.is_baseline() { 0.0 } else { 0.01 * i as f64 };
                row(c, RunSummary { test_error: Some(error), cpu: Some(cpu), ..summary(c) })
            })
            .collect();
        let lines = lines(&rows);
        assert_eq!(lines.len(), 6, "3 strategies × 2 lengths");
        for l in &lines {
            let row = rows.iter().find(|r| r.config.epochs == l.epochs && r.strategy == l.strategy).unwrap();
            let base = rows.iter().find(|r| r.config.epochs == l.epochs && r.config.policy.is_baseline()).unwrap();
            let expected = row.summary.test_error.unwrap() - base.summary.test_error.unwrap();
            assert!((l.delta_error.unwrap() - expected).abs() < 1e-12, "{l:?}");
        }
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), "t", &rows).unwrap();
        let md = std::fs::read_to_string(tmp.path().join("results.md")).unwrap();
        assert!(md.contains("**The runs come from 2 CPUs** (3 on cpu 0 (avx2); 3 on cpu 1 (avx2))"), "{md}");
        // Only the paper's claims about this grid's models: WRN's and the two defaults'.
        let claims: Vec<&str> = md.lines().filter(|l| l.starts_with("| WRN:") || l.starts_with("| ~10%")).collect();
        assert!(claims.len() == 2 && !md.contains("DenseNet:") && !md.contains("not measured"), "{md}");
        write(tmp.path(), "t", &rows[..3]).unwrap();
        let md = std::fs::read_to_string(tmp.path().join("results.md")).unwrap();
        assert!(!md.contains("CPUs**"), "{md}");
    }

    /// A claim quotes the saving at idle step times when the table has them (ranking by it),
    /// else the runs' own, and with neither says so instead of a number.
    #[test]
    fn a_claim_quotes_the_idle_saving_then_the_own_and_never_an_unmeasured_one() {
        let cells: Vec<RunConfig> = grid(TablePreset::Length, &[0]).into_iter().take(3).collect();
        // baseline, cubic-scaled 0.8, linear-unscaled 0.9: (error, idle ms, own saving)
        let measured = [(0.30, 1000.0, None), (0.30, 800.0, Some(0.1)), (0.29, 900.0, Some(0.3))];
        let rows: Vec<Row> = cells
            .iter()
            .zip(measured)
            .map(|(c, (error, ms, own))| Row {
                idle_epoch_ms: Some(vec![ms]),
                own_saving: own,
                ..row(c, RunSummary { test_error: Some(error), ..summary(c) })
            })
            .collect();
        let wrn = |rows: &[Row]| claims(&lines(rows)).into_iter().find(|c| c.claim.starts_with("WRN")).unwrap().ours;
        let ours = wrn(&rows);
        assert!(ours.starts_with("best: 20.0% saving at idle step times with cubic-scaled t0 0.8"), "{ours}");
        let no_idle: Vec<Row> = rows.iter().map(|r| Row { idle_epoch_ms: None, ..r.clone() }).collect();
        let ours = wrn(&no_idle);
        assert!(ours.starts_with("best: 30.0% saving measured (own) with linear-unscaled t0 0.9"), "{ours}");
        let neither: Vec<Row> = no_idle.into_iter().map(|r| Row { own_saving: None, ..r }).collect();
        let ours = wrn(&neither);
        assert!(ours.starts_with("best: no measured saving (no step times, no step log) with"), "{ours}");
    }

    #[test]
    fn an_adaptive_runs_prediction_follows_the_prefix_it_froze() {
        let tmp = tempfile::tempdir().unwrap();
        let config = RunConfig {
            policy: PolicyConfig::Adaptive(AdaptiveConfig::default()),
            ..grid(TablePreset::Quick, &[0])[0].clone()
        };
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

    /// The cells of the quick and policies grids keep the directory names the release before
    /// `PolicyConfig` gave them (printed by its `paper-repro table --preset P --seeds 0 1`), so
    /// a grid run before continues where it stopped.
    #[test]
    fn grid_cells_keep_the_run_names_of_earlier_releases() {
        let names = |preset| grid(preset, &[0, 1]).iter().map(RunConfig::run_name).collect::<Vec<_>>();
        assert_eq!(
            names(TablePreset::Quick),
            [
                "wrn-10-1-cifar10-baseline-e5-s0-cf969f55",
                "wrn-10-1-cifar10-cubic-t0.5-e5-s0-8b0a41a9",
                "wrn-10-1-cifar10-cubic-t0.7-e5-s0-6eff4037",
                "wrn-10-1-cifar10-cubic-t0.9-e5-s0-d9018dec",
                "wrn-10-1-cifar10-linear-unscaled-t0.5-e5-s0-f53062c5",
                "wrn-10-1-cifar10-linear-unscaled-t0.7-e5-s0-1634e4e4",
                "wrn-10-1-cifar10-linear-unscaled-t0.9-e5-s0-6a4011b4",
                "wrn-10-1-cifar10-baseline-e5-s1-f380aa49",
                "wrn-10-1-cifar10-cubic-t0.5-e5-s1-a81411cc",
                "wrn-10-1-cifar10-cubic-t0.7-e5-s1-0fd50391",
                "wrn-10-1-cifar10-cubic-t0.9-e5-s1-c01f5211",
                "wrn-10-1-cifar10-linear-unscaled-t0.5-e5-s1-b65513e3",
                "wrn-10-1-cifar10-linear-unscaled-t0.7-e5-s1-58852942",
                "wrn-10-1-cifar10-linear-unscaled-t0.9-e5-s1-ad17f2ed"
            ]
        );
        assert_eq!(
            names(TablePreset::Policies),
            [
                "wrn-10-1-cifar10-baseline-e5-s0-cf969f55",
                "wrn-10-1-cifar10-cubic-t0.8-e5-s0-c718a542",
                "wrn-10-1-cifar10-linear-unscaled-t0.9-e5-s0-6a4011b4",
                "wrn-10-1-cifar10-adaptive-th0.02-e5-s0-3d40cd4a",
                "wrn-10-1-cifar10-adaptive-th0.05-e5-s0-5b66a565",
                "wrn-10-1-cifar10-adaptive-th0.1-e5-s0-9479a012",
                "wrn-10-1-cifar10-baseline-e5-s1-f380aa49",
                "wrn-10-1-cifar10-cubic-t0.8-e5-s1-dffae11d",
                "wrn-10-1-cifar10-linear-unscaled-t0.9-e5-s1-ad17f2ed",
                "wrn-10-1-cifar10-adaptive-th0.02-e5-s1-87e5ff67",
                "wrn-10-1-cifar10-adaptive-th0.05-e5-s1-0d370d6a",
                "wrn-10-1-cifar10-adaptive-th0.1-e5-s1-825458d3"
            ]
        );
        // The drift preset shares the policies preset's baseline and FreezeOut runs.
        assert_eq!(
            names(TablePreset::Drift),
            [
                "wrn-10-1-cifar10-baseline-e5-s0-cf969f55",
                "wrn-10-1-cifar10-cubic-t0.8-e5-s0-c718a542",
                "wrn-10-1-cifar10-linear-unscaled-t0.9-e5-s0-6a4011b4",
                "wrn-10-1-cifar10-drift-th0.5-e5-s0-d3b24b7a",
                "wrn-10-1-cifar10-drift-th1-e5-s0-e3a2c649",
                "wrn-10-1-cifar10-drift-th2-e5-s0-88768a4a",
                "wrn-10-1-cifar10-baseline-e5-s1-f380aa49",
                "wrn-10-1-cifar10-cubic-t0.8-e5-s1-dffae11d",
                "wrn-10-1-cifar10-linear-unscaled-t0.9-e5-s1-ad17f2ed",
                "wrn-10-1-cifar10-drift-th0.5-e5-s1-f0ea70e3",
                "wrn-10-1-cifar10-drift-th1-e5-s1-f1510c0d",
                "wrn-10-1-cifar10-drift-th2-e5-s1-d5f4de24"
            ]
        );
    }

    /// `table --help` states each preset's numbers in plain text (no rustdoc links), and they are
    /// the numbers the grid uses.
    #[test]
    fn each_presets_help_states_the_numbers_its_grid_uses() {
        use clap::ValueEnum;
        let help = |p: TablePreset| p.to_possible_value().unwrap().get_help().unwrap().to_string();
        for p in TablePreset::value_variants() {
            assert!(!help(*p).contains("[`"), "{p:?}: {}", help(*p));
        }
        let number = |v: f64| format!("{v}");
        assert!(POLICY_THRESHOLDS.iter().all(|&t| help(TablePreset::Policies).contains(&number(t))));
        assert!(DRIFT_THRESHOLDS.iter().all(|&t| help(TablePreset::Drift).contains(&number(t))));
        assert!(LENGTH_EPOCHS.iter().all(|&e| help(TablePreset::Length).contains(&format!("{e}"))));
        let densenet = help(TablePreset::Densenet);
        let images = format!("{},{:03}", DENSENET_IMAGES / 1000, DENSENET_IMAGES % 1000);
        assert!(densenet.contains(&images) && densenet.contains(&format!("{DENSENET_EPOCHS} epochs")), "{densenet}");
        let vit = help(TablePreset::Vit);
        let images = format!("{},{:03}", VIT_IMAGES / 1000, VIT_IMAGES % 1000);
        let model = VIT_MODEL.to_string().replace("vit", "ViT");
        assert!(
            vit.contains(&images) && vit.contains(&format!("{VIT_EPOCHS} epochs")) && vit.contains(&model),
            "{vit}"
        );
        let text = help(TablePreset::Text);
        let windows = format!("{},{:03}", TEXT_WINDOWS / 1000, TEXT_WINDOWS % 1000);
        let model = TEXT_MODEL.to_string().replace("gpt", "GPT");
        let named = [windows, format!("{TEXT_EPOCHS} epochs"), model, format!("{TRANSFORMER_LR}")];
        assert!(named.iter().all(|n| text.contains(n.as_str())), "{text}");
    }
}
