//! The CLI end to end on the real CIFAR-10 archive: exact resume after a crash, and clear
//! errors for hostile inputs with nothing already written lost.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repro(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_paper-repro"));
    // The data is always given with --data: none found through the environment.
    cmd.args(args).env_remove("FREEZEOUT_ABORT_AFTER_ITERATION").env_remove(burn_freezeout::data::DATA_ENV);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("paper-repro runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A small run: WRN-10-1, 300 training images at batch 50 (6 iterations per epoch), 3 epochs;
/// the first unit freezes at iteration ⌊0.512 · 18⌋ + 1 = 10.
fn train_args<'a>(out: &'a str, data: &'a str) -> Vec<&'a str> {
    vec![
        "train",
        "--model",
        "wrn-10-1",
        "--epochs",
        "3",
        "--train-limit",
        "300",
        "--test-limit",
        "200",
        "--checkpoint-every",
        "4",
        "--data",
        data,
        "--out",
        out,
    ]
}

/// `(iteration, loss, frozen units)` of every iteration in a run's log.
fn iterations(dir: &Path) -> Vec<(u64, f64, u64)> {
    fs::read_to_string(dir.join("log.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event"] == "iter")
        .map(|v| (v["iter"].as_u64().unwrap(), v["loss"].as_f64().unwrap(), v["frozen"].as_u64().unwrap()))
        .collect()
}

#[test]
fn a_killed_run_resumes_exactly_across_a_freeze_event() {
    let Some(data) = freezeout_tests::cifar10("a_killed_run_resumes_exactly_across_a_freeze_event") else { return };
    let data = data.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (full, killed) = (tmp.path().join("full"), tmp.path().join("killed"));
    // With dropout: its random masks must come out the same after a resume too.
    let config = tmp.path().join("dropout.toml");
    fs::write(&config, "dropout = 0.3\n").unwrap();
    let config = config.to_str().unwrap();
    let (full_args, killed_args) =
        [&full, &killed].map(|out| [train_args(out.to_str().unwrap(), data), vec!["--config", config]].concat()).into();

    let o = repro(&full_args, &[]);
    assert!(o.status.success(), "{}", stderr(&o));

    // Killed (abort: no unwinding, no flushing) after iteration 9; the last checkpoint is the one
    // before iteration 8, so the resumed part re-runs 8 and 9 and crosses the freeze at 10.
    let o = repro(&killed_args, &[("FREEZEOUT_ABORT_AFTER_ITERATION", "9")]);
    assert!(!o.status.success(), "the run must have been killed");
    assert!(!killed.join("summary.json").exists());
    let o = repro(&["train", "--resume", killed.to_str().unwrap(), "--data", data], &[]);
    assert!(o.status.success(), "{}", stderr(&o));

    let (a, b) = (iterations(&full), iterations(&killed));
    assert_eq!(a.len(), 18);
    assert_eq!(a, b, "same losses and frozen units, iteration by iteration");
    assert!(a.iter().any(|&(j, _, f)| j >= 10 && f > 0) && a[9].2 == 0, "a freeze happens after the resume point");
    let summary = |d: &Path| -> serde_json::Value {
        serde_json::from_str(&fs::read_to_string(d.join("summary.json")).unwrap()).unwrap()
    };
    assert_eq!(summary(&full)["test_error"], summary(&killed)["test_error"]);
    // Old checkpoints are rotated: keep_checkpoints (2) complete ones remain, the newest two of
    // 4, 6, 8, 12, 16, 18 (every 4 iterations and at each epoch's end), nothing half-written.
    let mut kept: Vec<String> = fs::read_dir(killed.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    kept.sort();
    assert_eq!(kept, ["step-000000000016", "step-000000000018"], "the newest two checkpoints are kept");

    // Resuming the finished run says so and touches nothing: no new summary, no resume event.
    let files =
        |d: &Path| ["summary.json", "log.jsonl", "config.toml", "data.json"].map(|f| fs::read(d.join(f)).unwrap());
    let modified = |d: &Path| fs::metadata(d.join("summary.json")).unwrap().modified().unwrap();
    let (before, mtime) = (files(&killed), modified(&killed));
    let o = repro(&["train", "--resume", killed.to_str().unwrap(), "--data", data], &[]);
    assert!(o.status.success() && stderr(&o).contains("is a finished run"), "{}", stderr(&o));
    assert!(files(&killed) == before && modified(&killed) == mtime, "a finished run's files are untouched");
}

/// A FreezeOut cell kept as its `config.toml` and `summary.json` alone (what a repository keeps
/// of a run, so that its table can be rebuilt) has, iteration by iteration, the frozen prefixes
/// its run logged.
#[test]
fn a_schedule_cell_without_its_log_has_the_prefixes_the_run_logged() {
    use bench_harness::run::RunConfig;
    use bench_harness::table::cell_iterations;
    let Some(data) = freezeout_tests::cifar10("a_schedule_cell_without_its_log_has_the_prefixes_the_run_logged") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let o = repro(&train_args(run.to_str().unwrap(), data.to_str().unwrap()), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let logged: Vec<u64> = iterations(&run).into_iter().map(|(_, _, frozen)| frozen).collect();
    assert!(logged.iter().any(|&f| f > 0), "the run freezes a unit: {logged:?}");
    let config = RunConfig::from_file(&run.join("config.toml")).unwrap();
    let summary = serde_json::from_str(&fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    fs::remove_file(run.join("log.jsonl")).unwrap();
    let rebuilt: Vec<u64> =
        cell_iterations(&config, &summary, &run).unwrap().into_iter().map(|it| it.frozen as u64).collect();
    assert_eq!(rebuilt, logged);
}

#[test]
fn resume_refuses_a_changed_config_and_names_missing_checkpoints() {
    let Some(data) = freezeout_tests::cifar10("resume_refuses_a_changed_config_and_names_missing_checkpoints") else {
        return;
    };
    let data = data.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let o = repro(&train_args(run.to_str().unwrap(), data), &[("FREEZEOUT_ABORT_AFTER_ITERATION", "5")]);
    assert!(!o.status.success());
    let o = repro(&["train", "--resume", run.to_str().unwrap(), "--data", data, "--lr", "0.05"], &[]);
    assert!(
        stderr(&o).contains("differs") && stderr(&o).contains("lr: 0.1 → 0.05") && stderr(&o).contains("--force"),
        "{}",
        stderr(&o)
    );

    // A hand-edited config.toml: the checkpoint keeps the config it was written for, so the
    // error names the field; nothing is changed.
    let saved = fs::read_to_string(run.join("config.toml")).unwrap();
    fs::write(run.join("config.toml"), saved.replace("epochs = 3", "epochs = 4")).unwrap();
    let log_before = fs::read(run.join("log.jsonl")).unwrap();
    let o = repro(&["train", "--resume", run.to_str().unwrap(), "--data", data], &[]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("written for another config") && stderr(&o).contains("epochs: 3 → 4"),
        "{}",
        stderr(&o)
    );
    assert_eq!(fs::read(run.join("log.jsonl")).unwrap(), log_before, "the log is untouched");
    fs::write(run.join("config.toml"), saved).unwrap();

    // Corrupt the newest checkpoint's manifest: a clear error naming it.
    let cps = run.join("checkpoints");
    let newest = fs::read_dir(&cps).unwrap().map(|e| e.unwrap().path()).max().unwrap();
    fs::write(newest.join("manifest.json"), "{ not json").unwrap();
    let o = repro(&["train", "--resume", run.to_str().unwrap(), "--data", data], &[]);
    assert!(stderr(&o).contains("corrupt checkpoint") && stderr(&o).contains("manifest.json"), "{}", stderr(&o));

    // No checkpoints at all.
    fs::remove_dir_all(&cps).unwrap();
    fs::create_dir(&cps).unwrap();
    let o = repro(&["train", "--resume", run.to_str().unwrap(), "--data", data], &[]);
    assert!(stderr(&o).contains("no complete checkpoint"), "{}", stderr(&o));

    // Not a run directory.
    let o = repro(&["train", "--resume", tmp.path().to_str().unwrap(), "--data", data], &[]);
    assert!(stderr(&o).contains("config.toml") && stderr(&o).contains("not a run directory"), "{}", stderr(&o));
}

#[test]
fn a_full_disk_during_a_checkpoint_loses_nothing_already_written() {
    let Some(data) = freezeout_tests::cifar10("a_full_disk_during_a_checkpoint_loses_nothing_already_written") else {
        return;
    };
    let data = data.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    // First a run killed after iteration 5, leaving the checkpoint before iteration 4 ...
    let o = repro(&train_args(run.to_str().unwrap(), data), &[("FREEZEOUT_ABORT_AFTER_ITERATION", "5")]);
    assert!(!o.status.success());
    let before: Vec<_> = fs::read_dir(run.join("checkpoints")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(before.len(), 1);
    // ... then a resume whose next checkpoint write (the end of epoch 0, before iteration 6)
    // hits "no space left on device".
    let o = repro(
        &["train", "--resume", run.to_str().unwrap(), "--data", data],
        &[("FREEZEOUT_FAULT_CHECKPOINT_ENOSPC", "1")],
    );
    let e = stderr(&o);
    assert!(!o.status.success());
    assert!(
        e.contains("cannot write the checkpoint of iteration 6")
            && e.contains("No space left")
            && e.contains("is intact"),
        "{e}"
    );
    let after: Vec<_> = fs::read_dir(run.join("checkpoints")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(before, after, "the earlier checkpoint is untouched, no temporary left behind");
    // And the run still resumes from it.
    let o = repro(&["train", "--resume", run.to_str().unwrap(), "--data", data], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(iterations(&run).len(), 18);
}

#[test]
fn hostile_configs_and_outputs_get_clear_errors() {
    let Some(data) = freezeout_tests::cifar10("hostile_configs_and_outputs_get_clear_errors") else { return };
    let data = data.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("o");
    let out = out.to_str().unwrap();
    let cases: &[(&str, &str)] = &[
        ("epochs = 3\nlearning_rate = 0.1\n", "unknown field `learning_rate`"),
        ("t0 = 1.5\n", "t0 = 1.5 is outside (0, 1]"),
        ("t0 = 0.0\n", "t0 = 0 is outside (0, 1]"),
        ("epochs = 0\n", "epochs = 0"),
        ("batch_size = 0\n", "batch_size = 0"),
        ("model = \"resnet-50\"\n", "unknown model `resnet-50`"),
        ("dataset = \"mnist\"\n", "unknown variant `mnist`"),
        ("train_limit = 100\nbatch_size = 200\n", "batch_size = 200 is larger than the 100 training images"),
        ("epochs = \"many\"\n", "invalid type"),
    ];
    for (i, (toml, expected)) in cases.iter().enumerate() {
        let path = tmp.path().join(format!("c{i}.toml"));
        fs::write(&path, toml).unwrap();
        let o = repro(&["train", "--config", path.to_str().unwrap(), "--data", data, "--out", out], &[]);
        let e = stderr(&o);
        assert!(!o.status.success() && e.contains(expected), "{toml:?}: {e}");
        assert!(e.contains(path.to_str().unwrap()) || !expected.contains("field"), "names the file: {e}");
    }
    // An output directory that cannot be created (a file is in the way).
    let blocker = tmp.path().join("file");
    fs::write(&blocker, "x").unwrap();
    let bad_out = blocker.join("run");
    let o = repro(
        &[
            "train",
            "--model",
            "wrn-10-1",
            "--epochs",
            "1",
            "--train-limit",
            "100",
            "--data",
            data,
            "--out",
            bad_out.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        stderr(&o).contains("cannot create the run directory") && stderr(&o).contains("file/run"),
        "{}",
        stderr(&o)
    );
    assert_eq!(fs::read_to_string(&blocker).unwrap(), "x", "nothing already there is touched");
    // Data that is not there.
    let o = repro(&["train", "--data", tmp.path().to_str().unwrap(), "--out", out], &[]);
    assert!(stderr(&o).contains("no CIFAR-10 data here") && stderr(&o).contains("--data"), "{}", stderr(&o));
}

#[test]
fn a_diverging_run_leaves_a_final_checkpoint_and_a_diverged_summary() {
    let Some(data) = freezeout_tests::cifar10("a_diverging_run_leaves_a_final_checkpoint_and_a_diverged_summary")
    else {
        return;
    };
    let data = data.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let mut args = train_args(run.to_str().unwrap(), data);
    args.extend(["--lr", "1e12"]);
    let o = repro(&args, &[]);
    let e = stderr(&o);
    assert!(!o.status.success() && e.contains("diverged: loss is") && e.contains("frozen units"), "{e}");
    let summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["status"], "diverged");
    assert_eq!(fs::read_dir(run.join("checkpoints")).unwrap().count(), 1, "a final checkpoint");
}

/// A tiny run: 100 training images at batch 50 (2 iterations per epoch), checkpoints only at
/// epoch ends.
fn tiny_args<'a>(out: &'a str, data: &'a str, epochs: &'a str) -> Vec<&'a str> {
    vec![
        "train",
        "--model",
        "wrn-10-1",
        "--epochs",
        epochs,
        "--train-limit",
        "100",
        "--test-limit",
        "100",
        "--checkpoint-every",
        "0",
        "--data",
        data,
        "--out",
        out,
    ]
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() { stack.push(p) } else { files.push((p.clone(), fs::read(&p).unwrap())) }
        }
    }
    files.sort();
    files
}

#[test]
fn a_run_directory_belongs_to_one_run() {
    let Some(data) = freezeout_tests::cifar10("a_run_directory_belongs_to_one_run") else { return };
    let data = data.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("R");
    let r = run.to_str().unwrap();
    let o = repro(&tiny_args(r, data, "2"), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let before = snapshot(&run);

    // Another config into the same directory: refused, naming it and both ways on; nothing touched.
    let o = repro(&tiny_args(r, data, "1"), &[]);
    let e = stderr(&o);
    assert!(!o.status.success(), "{e}");
    assert!(
        e.contains(&format!("{r} already holds a run"))
            && e.contains(&format!("--resume {r}"))
            && e.contains("--overwrite"),
        "{e}"
    );
    assert_eq!(snapshot(&run), before, "the first run's files are untouched");

    // --overwrite clears the old run first: one run's log, config and checkpoints only.
    let o = repro(&[tiny_args(r, data, "1"), vec!["--overwrite"]].concat(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(iterations(&run).len(), 2, "only the new run's iterations");
    let log = fs::read_to_string(run.join("log.jsonl")).unwrap();
    assert_eq!(log.matches("\"event\":\"start\"").count(), 1, "{log}");
    let config = fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(config.contains("epochs = 1"), "{config}");
    for cp in fs::read_dir(run.join("checkpoints")).unwrap() {
        let manifest: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(cp.unwrap().path().join("manifest.json")).unwrap()).unwrap();
        assert!(manifest["next_iteration"].as_u64().unwrap() <= 2, "a checkpoint of the old run is left: {manifest}");
    }
}

#[test]
fn a_run_stopped_before_its_first_checkpoint_resumes_from_zero_with_its_recorded_data() {
    let Some(data) =
        freezeout_tests::cifar10("a_run_stopped_before_its_first_checkpoint_resumes_from_zero_with_its_recorded_data")
    else {
        return;
    };
    let data = data.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("R");
    let r = run.to_str().unwrap();
    // Killed after iteration 0: the first checkpoint (end of epoch 0, after iteration 1) never came.
    let o = repro(&tiny_args(r, data, "2"), &[("FREEZEOUT_ABORT_AFTER_ITERATION", "0")]);
    assert!(!o.status.success());
    assert!(!run.join("checkpoints").exists() || fs::read_dir(run.join("checkpoints")).unwrap().count() == 0);

    // No --data: the recorded location is used and named; no checkpoint: it starts again.
    let o = repro(&["train", "--resume", r], &[("FREEZEOUT_DATA", "/nonexistent")]);
    let e = stderr(&o);
    assert!(o.status.success(), "{e}");
    assert!(e.contains("no complete checkpoint yet") && e.contains("iteration 0"), "{e}");
    assert!(e.contains(&format!("data: {data}")), "{e}");
    let its: Vec<u64> = iterations(&run).iter().map(|i| i.0).collect();
    assert_eq!(its, vec![0, 1, 2, 3], "one clean run from iteration 0");

    // A recorded location that is gone names the flag to pass.
    fs::write(run.join("data.json"), r#"{ "data": "/gone/cifar-10-binary.tar.gz" }"#).unwrap();
    let o = repro(&["train", "--resume", r], &[]);
    let e = stderr(&o);
    assert!(!o.status.success() && e.contains("/gone/cifar-10-binary.tar.gz") && e.contains("pass --data"), "{e}");
}

#[test]
fn default_run_names_keep_different_configs_apart() {
    let Some(data) = freezeout_tests::cifar10("default_run_names_keep_different_configs_apart") else { return };
    let data = data.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // No --out: runs/<name> under the working directory.
    let run = |epochs: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_paper-repro"));
        cmd.current_dir(tmp.path()).env_remove("FREEZEOUT_ABORT_AFTER_ITERATION").args([
            "train",
            "--model",
            "wrn-10-1",
            "--epochs",
            epochs,
            "--train-limit",
            "100",
            "--test-limit",
            "100",
            "--data",
            data,
        ]);
        cmd.output().unwrap()
    };
    for epochs in ["1", "2"] {
        let o = run(epochs);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let dirs: Vec<_> = fs::read_dir(tmp.path().join("runs")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(dirs.len(), 2, "{dirs:?}");
    let mut lengths: Vec<usize> = dirs.iter().map(|d| iterations(d).len()).collect();
    lengths.sort();
    assert_eq!(lengths, vec![2, 4], "each run kept its own log");
}

#[test]
fn extreme_rates_are_flagged_and_data_mix_ups_name_the_fix() {
    let Some(data) = freezeout_tests::cifar10("extreme_rates_are_flagged_and_data_mix_ups_name_the_fix") else {
        return;
    };
    let data = data.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // Cubic t0 = 0.01 with LR scaling: α_0 = 0.1 / 1e-6 = 100000.
    let o = repro(&["schedule", "--units", "4", "--t0", "0.01"], &[]);
    let e = stderr(&o);
    assert!(
        o.status.success() && e.contains("warning: LR scaling gives unit 0 (`unit0`) an initial rate of 100000"),
        "{e}"
    );
    let nowhere = tmp.path().join("nowhere");
    let o = repro(
        &[
            "train",
            "--model",
            "wrn-10-1",
            "--t0",
            "0.01",
            "--data",
            tmp.path().to_str().unwrap(),
            "--out",
            nowhere.to_str().unwrap(),
        ],
        &[],
    );
    let e = stderr(&o);
    assert!(e.contains("warning: LR scaling gives unit 0 (`") && e.contains("--no-scale-lr"), "{e}");
    assert!(!nowhere.exists(), "a run that cannot start leaves no run directory");
    let o = repro(&["schedule", "--units", "4"], &[]);
    assert!(!stderr(&o).contains("warning"), "the defaults give no warning: {}", stderr(&o));

    // The CIFAR-10 archive given as CIFAR-100.
    let out = tmp.path().join("o");
    let o = repro(&["train", "--dataset", "cifar100", "--data", data, "--out", out.to_str().unwrap()], &[]);
    let e = stderr(&o);
    assert!(!o.status.success() && e.contains("this is CIFAR-10 data") && e.contains("--dataset cifar10"), "{e}");

    // `data verify` judges a directory by what it holds, not by its name: this one (named
    // neither 10 nor 100) holds a truncated CIFAR-100, and the error is CIFAR-100's.
    let holder = tmp.path().join("downloads");
    fs::create_dir_all(holder.join("cifar-100-binary")).unwrap();
    fs::write(holder.join("cifar-100-binary/train.bin"), b"short").unwrap();
    fs::write(holder.join("cifar-100-binary/test.bin"), b"short").unwrap();
    let o = repro(&["data", "verify", holder.to_str().unwrap()], &[]);
    let e = stderr(&o);
    assert!(!o.status.success() && e.contains("cifar-100-binary/train.bin") && e.contains("expected exactly"), "{e}");
}

#[test]
fn adam_and_adamw_runs_resume_exactly_with_their_moments() {
    let Some(data) = freezeout_tests::cifar10("adam_and_adamw_runs_resume_exactly_with_their_moments") else { return };
    let data = data.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    for optimizer in ["adam", "adamw"] {
        let (full, killed) =
            (tmp.path().join(format!("{optimizer}-full")), tmp.path().join(format!("{optimizer}-killed")));
        let (full_s, killed_s) = (full.to_str().unwrap().to_string(), killed.to_str().unwrap().to_string());
        let args = |out: &str| -> Vec<String> {
            [train_args(out, data), vec!["--optimizer", optimizer, "--lr", "0.001"]]
                .concat()
                .into_iter()
                .map(String::from)
                .collect()
        };
        let (full_args, killed_args) = (args(&full_s), args(&killed_s));
        let o = repro(&strs(&full_args), &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        let config = fs::read_to_string(full.join("config.toml")).unwrap();
        assert!(config.contains(&format!("optimizer = \"{optimizer}\"")), "{config}");
        let o = repro(&strs(&killed_args), &[("FREEZEOUT_ABORT_AFTER_ITERATION", "9")]);
        assert!(!o.status.success());
        let o = repro(&["train", "--resume", killed.to_str().unwrap()], &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(iterations(&full), iterations(&killed), "{optimizer}: same losses after the resume");
    }
    let o = repro(&["train", "--optimizer", "rmsprop"], &[]);
    assert!(stderr(&o).contains("unknown optimizer `rmsprop`: expected sgd, adam or adamw"), "{}", stderr(&o));
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The `decision` and `freeze` events of a run's log, as written.
fn decisions(dir: &Path) -> Vec<String> {
    fs::read_to_string(dir.join("log.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"event\":\"decision\"") || l.contains("\"event\":\"freeze\""))
        .map(String::from)
        .collect()
}

#[test]
fn an_adaptive_run_killed_mid_window_resumes_with_the_same_decisions() {
    // Windows of 3 iterations sampled every iteration, nothing leaves before iteration 9, a
    // threshold every unit meets: the decision at the end of the window 6..8 uses samples from
    // before the checkpoint at 8 (6, 7) and after it (8); the units freeze from 9 + 2 + 1 = 12.
    let name = "an_adaptive_run_killed_mid_window_resumes_with_the_same_decisions";
    let Some(data) = freezeout_tests::cifar10(name) else { return };
    let config =
        killed_mid_window_resumes_with_the_same_decisions(&data, &["--policy", "adaptive", "--threshold", "10"]);
    assert!(config.contains("[adaptive]") && config.contains("threshold = 10.0"), "{config}");

    // Adaptive settings without an adaptive policy, or with the baseline, are refused.
    let o = repro(&["train", "--threshold", "0.1"], &[]);
    assert!(
        stderr(&o).contains(
            "--threshold is a setting of the adaptive policies: add --policy gradient-norm or --policy drift"
        ),
        "{}",
        stderr(&o)
    );
    let o = repro(&["train", "--patience", "2"], &[]);
    assert!(stderr(&o).contains("--patience is a setting of the adaptive policies"), "{}", stderr(&o));
    let o = repro(&["train", "--policy", "adaptive", "--baseline"], &[]);
    assert!(stderr(&o).contains("pick one policy"), "{}", stderr(&o));
}

/// The drift policy the same way: its window 6..8 holds drifts measured before the checkpoint
/// at 8 (against the sketches of 5 and 6) and after it (8 against 7, the sketch the checkpoint
/// carries), on the training images past --train-limit; with patience 2 the windows ending at 3
/// and 6 were below the threshold too.
#[test]
fn a_drift_run_killed_mid_window_resumes_with_the_same_decisions() {
    let name = "a_drift_run_killed_mid_window_resumes_with_the_same_decisions";
    let Some(data) = freezeout_tests::cifar10(name) else { return };
    let config = killed_mid_window_resumes_with_the_same_decisions(&data, &["--policy", "drift", "--threshold", "1e9"]);
    assert!(
        config.contains("[adaptive]") && config.contains("signal = \"drift\"") && config.contains("patience = 2"),
        "{config}"
    );
}

/// Runs `policy` whole and killed after iteration 9 then resumed (checkpoint at 8); both take
/// the same decisions, signal values included, and freeze all units from 12. Returns the killed
/// run's `config.toml`.
fn killed_mid_window_resumes_with_the_same_decisions(data: &Path, policy: &[&str]) -> String {
    let data = data.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (full, killed) = (tmp.path().join("full"), tmp.path().join("killed"));
    let windows = ["--window", "0.17", "--sample-every", "1", "--min-fraction", "0.5", "--ramp", "0.12"];
    let flags = [policy, &windows[..]].concat();
    let (full_s, killed_s) = (full.to_str().unwrap(), killed.to_str().unwrap());
    let o = repro(&[train_args(full_s, data), flags.clone()].concat(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = repro(&[train_args(killed_s, data), flags].concat(), &[("FREEZEOUT_ABORT_AFTER_ITERATION", "9")]);
    assert!(!o.status.success(), "the run must have been killed");
    let o = repro(&["train", "--resume", killed.to_str().unwrap(), "--data", data], &[]);
    assert!(o.status.success(), "{}", stderr(&o));

    assert_eq!(iterations(&full), iterations(&killed), "same losses and frozen units, iteration by iteration");
    let (a, b) = (decisions(&full), decisions(&killed));
    assert_eq!(a, b, "the same decisions, signal values included, and the same freezes");
    let first: serde_json::Value = serde_json::from_str(&a[0]).unwrap();
    assert_eq!(
        (first["event"].as_str(), first["iteration"].as_u64(), first["frozen_from"].as_u64()),
        (Some("decision"), Some(9), Some(12))
    );
    let (signal, threshold) = (first["signal"].as_f64().unwrap(), first["threshold"].as_f64().unwrap());
    assert_eq!(threshold, policy[3].parse::<f64>().unwrap(), "{first}");
    assert!(signal > 0.0 && signal < threshold && first["name"].is_string(), "{first}");
    assert!(a.iter().any(|l| l.contains("\"event\":\"freeze\"") && l.contains("\"iter\":12")), "{a:?}");
    fs::read_to_string(killed.join("config.toml")).unwrap()
}

/// `train --help` shows the value every setting takes when no flag or config file sets it.
#[test]
fn train_help_shows_the_defaults_a_run_uses() {
    let o = repro(&["train", "--help"], &[]);
    let help = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", stderr(&o));
    for shown in [
        "[default: densenet-bc-76-12]",
        "[default: 100]",
        "[default: 50]",
        "[default: 0.1]",
        "[default: 0.8]",
        "[default: cubic]",
        "[default: freezeout]",
        "[default: 0.05 (gradient-norm), 1 (drift)]",
        "[default: 5 (gradient-norm), 25 (drift)]",
        "[default: 1 (gradient-norm), 2 (drift)]",
        "[default: sgd]",
        "[default: 1000]",
    ] {
        assert!(help.contains(shown), "{shown} missing from:\n{help}");
    }
}

/// A cached run killed after the first freeze resumes exactly, its cache (not in the
/// checkpoint) rebuilt: `reuse` replays the draws of the first freeze's epoch, `shift`'s
/// entries depend on the sample alone. 6 epochs of 6 iterations: unit 0 freezes at iteration
/// ⌊0.512 · 36⌋ + 1 = 19 (epoch 3); killed after 25, the run resumes from its checkpoint at 24
/// (epoch 4) with an empty cache.
#[test]
fn a_killed_cached_run_resumes_exactly_with_its_cache_rebuilt() {
    let Some(data) = freezeout_tests::cifar10("a_killed_cached_run_resumes_exactly_with_its_cache_rebuilt") else {
        return;
    };
    let data = data.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    for mode in ["reuse", "shift"] {
        let (full, killed) = (tmp.path().join(format!("{mode}-full")), tmp.path().join(format!("{mode}-killed")));
        let args = |out: &Path| {
            let mut a: Vec<String> = train_args(out.to_str().unwrap(), data).into_iter().map(String::from).collect();
            a[4] = "6".into(); // --epochs
            a.extend(["--cache", mode].map(String::from));
            a
        };
        let (full_args, killed_args) = (args(&full), args(&killed));
        let o = repro(&strs(&full_args), &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stderr(&o).contains(&format!("cache: {mode} mode, f32 entries in host memory")), "{}", stderr(&o));
        let o = repro(&strs(&killed_args), &[("FREEZEOUT_ABORT_AFTER_ITERATION", "25")]);
        assert!(!o.status.success(), "the run must have been killed");
        let o = repro(&["train", "--resume", killed.to_str().unwrap(), "--data", data], &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        let (a, b) = (iterations(&full), iterations(&killed));
        assert_eq!(a.len(), 36);
        assert_eq!(a, b, "{mode}: same losses and frozen units, iteration by iteration");
        // The cache was used: the epoch after the first freeze hits entries made in it.
        let epochs: Vec<serde_json::Value> = fs::read_to_string(full.join("log.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| v["event"] == "epoch")
            .collect();
        assert!(epochs[4]["cache"]["hits"].as_u64().unwrap() > 0, "{mode}: {}", epochs[4]);
        assert!(epochs[2]["cache"]["lookups"].as_u64() == Some(0), "nothing frozen before epoch 3");
    }

    // What the cache cannot do is refused before anything is written, naming the flag.
    let out = tmp.path().join("refused");
    let exact = [train_args(out.to_str().unwrap(), data), vec!["--cache", "exact"]].concat();
    let o = repro(&exact, &[]);
    assert!(stderr(&o).contains("--cache exact: the training inputs are randomly augmented"), "{}", stderr(&o));
    assert!(!out.exists(), "a refused run writes nothing");
    let o = repro(&["train", "--cache", "reuse", "--cache-mem", "0"], &[]);
    assert!(stderr(&o).contains("--cache-mem: a budget of 0 bytes"), "{}", stderr(&o));
    let o = repro(&["train", "--cache-float", "bf16"], &[]);
    assert!(stderr(&o).contains("--cache-float is a setting of the prefix cache"), "{}", stderr(&o));
    let o = repro(&["train", "--cache", "on"], &[]);
    assert!(stderr(&o).contains("unknown cache mode `on`: expected off, exact, reuse, shift"), "{}", stderr(&o));
}

/// Trains `args(out, cache)` into `dir`/plain with the cache off and into `dir`/full with
/// `exact`, and again with `exact` into `dir`/killed, killed after iteration `kill_after` and
/// resumed (`--resume` and `resume`). Checks that the cached run is the uncached one and the
/// resumed run the uninterrupted one, iteration by iteration (`iterations` of them, some unit
/// frozen by the end). Returns the plain and full runs' stderr and the full run's directory.
fn exact_cache_matches_and_resumes(
    dir: &Path,
    args: impl Fn(&Path, &str) -> Vec<String>,
    kill_after: &str,
    resume: &[&str],
    iterations_expected: usize,
) -> (String, String, PathBuf) {
    let (plain, full, killed) = (dir.join("plain"), dir.join("full"), dir.join("killed"));
    let o = repro(&strs(&args(&plain, "off")), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stderr_plain = stderr(&o);
    let o = repro(&strs(&args(&full, "exact")), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stderr_full = stderr(&o);
    let o = repro(&strs(&args(&killed, "exact")), &[("FREEZEOUT_ABORT_AFTER_ITERATION", kill_after)]);
    assert!(!o.status.success(), "the run must have been killed");
    let o = repro(&[&["train", "--resume", killed.to_str().unwrap()][..], resume].concat(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (a, b, c) = (iterations(&plain), iterations(&full), iterations(&killed));
    assert_eq!(a.len(), iterations_expected);
    assert!(a.last().unwrap().2 > 0, "units froze");
    assert_eq!(a, b, "the exact cache: the uncached run's losses and frozen units");
    assert_eq!(b, c, "killed and resumed: the uninterrupted run's");
    (stderr_plain, stderr_full, full)
}

/// A ViT (its first unit maps the image to tokens) from the CLI: with unaugmented images the
/// `exact` cache trains as the uncached run, and a cached run killed after the first freeze
/// resumes exactly, its cache rebuilt; `shift`, which crops feature maps, is refused on tokens.
/// 6 epochs of 6 iterations; killed after 25.
#[test]
fn a_killed_cached_vit_run_resumes_exactly_and_matches_the_uncached_run() {
    let Some(data) = freezeout_tests::cifar10("a_killed_cached_vit_run_resumes_exactly_and_matches_the_uncached_run")
    else {
        return;
    };
    let data = data.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let args = |out: &Path, cache: &str| -> Vec<String> {
        let mut a: Vec<String> = train_args(out.to_str().unwrap(), data).into_iter().map(String::from).collect();
        a[2] = "vit-2-32".into(); // --model
        a[4] = "6".into(); // --epochs
        a.extend(["--no-augment", "--cache", cache].map(String::from));
        a
    };
    let resume = ["--data", data];
    let (_, stderr_full, full) = exact_cache_matches_and_resumes(tmp.path(), args, "25", &resume, 36);
    assert!(stderr_full.contains("after unit 0 (embed): [64, 32] per sample"), "{stderr_full}");
    let summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(full.join("summary.json")).unwrap()).unwrap();
    let last = &summary["epochs"][5]["cache"];
    assert!(last["hits"].as_u64().unwrap() > 0, "{last}");

    let mut shift = args(&tmp.path().join("shift"), "shift");
    shift.retain(|a| a != "--no-augment"); // `shift` crops the augmented images' features
    let o = repro(&strs(&shift), &[]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--cache shift: the input of unit 1 has shape [64, 32] per sample"), "{}", stderr(&o));
}

/// A pseudo-English text of `n` bytes, written to `path`.
fn write_text(path: &Path, n: usize) {
    const WORDS: [&str; 12] =
        ["the ", "cat ", "sat ", "on ", "a ", "mat ", "and ", "dog ", "ran ", "far. ", "so ", "it "];
    let mut text = String::new();
    let mut x: u64 = 7;
    while text.len() < n {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        text.push_str(WORDS[(x >> 33) as usize % WORDS.len()]);
    }
    text.truncate(n);
    fs::write(path, text).unwrap();
}

/// A language model from the CLI on a text file: the `exact` cache trains as the uncached run,
/// a cached run killed after a freeze resumes exactly, and bad text or a model of the wrong
/// kind is refused naming the file or the flag. 281 windows of 64 bytes in batches of 16:
/// 18 iterations an epoch, 4 epochs; killed after 40.
#[test]
fn a_language_model_trains_on_text_and_its_killed_cached_run_resumes_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let text = tmp.path().join("text.txt");
    write_text(&text, 20_000);
    let text = text.to_str().unwrap();
    let args = |out: &Path, cache: &str| -> Vec<String> {
        let a = ["train", "--model", "gpt-2-32", "--dataset", "text", "--data", text, "--epochs", "4"];
        let b = ["--batch-size", "16", "--checkpoint-every", "4", "--cache", cache, "--out", out.to_str().unwrap()];
        a.iter().chain(&b).map(|s| s.to_string()).collect()
    };
    let (stderr_plain, _, full) = exact_cache_matches_and_resumes(tmp.path(), args, "40", &[], 72);
    assert!(stderr_plain.contains("bits/byte"), "{stderr_plain}");
    let summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(full.join("summary.json")).unwrap()).unwrap();
    assert!(summary["epochs"][3]["cache"]["hits"].as_u64().unwrap() > 0, "{}", summary["epochs"][3]);

    // Bad input: nothing written, the file or the flag named.
    let out = tmp.path().join("refused");
    let o = repro(&strs(&[&args(&out, "off")[..5], &["--data".into(), "missing.txt".into()]].concat()), &[]);
    assert!(stderr(&o).contains("missing.txt: cannot read the text"), "{}", stderr(&o));
    let latin1 = tmp.path().join("latin1.txt");
    fs::write(&latin1, b"caf\xe9 au lait").unwrap();
    let o = repro(&strs(&[&args(&out, "off")[..5], &["--data".into(), latin1.to_str().unwrap().into()]].concat()), &[]);
    assert!(stderr(&o).contains("latin1.txt: not UTF-8 text (invalid byte at offset 3)"), "{}", stderr(&o));
    let mut image_model = args(&out, "off");
    image_model[2] = "wrn-10-1".into();
    let o = repro(&strs(&image_model), &[]);
    assert!(
        stderr(&o).contains("--dataset text trains a language model, and wrn-10-1 is an image model"),
        "{}",
        stderr(&o)
    );
    let o = repro(&["train", "--model", "gpt-2-32", "--out", out.to_str().unwrap()], &[]);
    assert!(stderr(&o).contains("--model gpt-2-32: a language model, which trains on text"), "{}", stderr(&o));
    assert!(!out.exists(), "a refused run writes nothing");
}

/// `speed` on a language model: its points on random byte windows and the cache's savings
/// predicted for the text table's run lengths (what they are, not how fast: no timed
/// assertion); the scheduled run, image-only, refused by name.
#[test]
fn speed_measures_a_language_model_and_predicts_its_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("speed.json");
    let base = ["speed", "--model", "gpt-2-32", "--batch", "4", "--iters", "1", "--warmup", "0"];
    let o = repro(&[&base[..], &["--fractions", "0", "0.5", "--json", json.to_str().unwrap()]].concat(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let reports: serde_json::Value = serde_json::from_str(&fs::read_to_string(&json).unwrap()).unwrap();
    let report = &reports[0];
    assert_eq!(report["units"], 3, "the embedding and two blocks");
    let points = report["points"].as_array().unwrap();
    assert_eq!(points.iter().map(|p| p["frozen"].as_u64().unwrap()).collect::<Vec<_>>(), [0, 2]);
    assert!(points[1]["flop_ratio"].as_f64().unwrap() < 1.0, "{}", points[1]);
    for p in points {
        let ms = |field: &str| p[field].as_f64().unwrap();
        assert!(ms("skip_mean_ms") > 0.0 && ms("cached_mean_ms") > 0.0 && ms("miss_mean_ms") > 0.0, "{p}");
    }
    let lines = report["cache"].as_array().unwrap();
    let lengths: Vec<(u64, u64)> =
        lines.iter().map(|l| (l["samples"].as_u64().unwrap(), l["epochs"].as_u64().unwrap())).collect();
    assert_eq!(lengths, [(5_000, 10), (5_000, 10), (50_000, 10), (50_000, 10)], "exact/reuse only: tokens are no maps");
    assert!(lines.iter().all(|l| l["mode"] == "exact/reuse"), "{lines:?}");
    let o = repro(&[&base[..], &["--schedule-iters", "2"]].concat(), &[]);
    assert!(stderr(&o).contains("--schedule-iters: the scheduled run trains the image models only"), "{}", stderr(&o));
}

/// `--init` from a finished run: its directory and its last checkpoint give the same run; the
/// weights are the run's (the first loss is no longer a fresh model's); `--new-head` starts the
/// head fresh; what cannot work is refused before anything is written, naming the flag.
#[test]
fn a_run_starts_from_a_finished_runs_weights_with_or_without_a_new_head() {
    let Some(data) = freezeout_tests::cifar10("a_run_starts_from_a_finished_runs_weights") else { return };
    let data = data.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = |name: &str| tmp.path().join(name).to_str().unwrap().to_string();
    let train_model = |model: &str, name: &str, extra: &[&str]| {
        let out = dir(name);
        let mut args = tiny_args(&out, data, "1");
        args[2] = model;
        repro(&[&args[..], extra].concat(), &[])
    };
    let train = |name: &str, extra: &[&str]| train_model("wrn-10-1", name, extra);
    let pre = dir("pre");
    assert!(train("pre", &[]).status.success());
    let last = Path::new(&pre).join("checkpoints/step-000000000002");
    assert!(last.join("COMPLETE").is_file(), "the finished run's last checkpoint");

    let o = train("from-run", &["--init", &pre]);
    assert!(o.status.success(), "{}", stderr(&o));
    let said = format!("tensors from {}/model.bpk", last.display());
    assert!(stderr(&o).contains("init: ") && stderr(&o).contains(&said), "{}", stderr(&o));
    let config = fs::read_to_string(tmp.path().join("from-run/config.toml")).unwrap();
    assert!(config.contains(&format!("init = \"{pre}\"")), "{config}");
    let o = train("from-checkpoint", &["--init", last.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (from_run, from_checkpoint) =
        (iterations(Path::new(&dir("from-run"))), iterations(Path::new(&dir("from-checkpoint"))));
    assert_eq!(from_run, from_checkpoint, "the run directory reads its last checkpoint");
    assert_ne!(from_run[0].1, iterations(Path::new(&pre))[0].1, "the first step sees the trained weights");

    let o = train("new-head", &["--init", &pre, "--new-head", "10"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("the head's 6 tensors start fresh (bn.gamma, bn.beta, "), "{}", stderr(&o));
    assert!(fs::read_to_string(tmp.path().join("new-head/config.toml")).unwrap().contains("new_head = 10"));
    // Fine-tuning on a selection of classes: a 5-way head on CIFAR-10's second half.
    let o = train("second-half", &["--init", &pre, "--classes", "5-9", "--new-head", "5"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let config = bench_harness::run::RunConfig::from_file(&tmp.path().join("second-half/config.toml")).unwrap();
    assert_eq!((config.new_head, config.classes), (Some(5), Some(vec![5, 6, 7, 8, 9])));

    // Refused before anything is written, the flag named.
    let refused_model = |model: &str, extra: &[&str], says: &str| {
        let o = train_model(model, "refused", extra);
        assert!(!o.status.success() && stderr(&o).contains(says), "{says}: {}", stderr(&o));
        assert!(!tmp.path().join("refused").exists(), "a refused run writes nothing");
    };
    let refused = |extra: &[&str], says: &str| refused_model("wrn-10-1", extra, says);
    refused(&["--new-head", "10"], "--new-head replaces the head of trained weights: add --init PATH");
    refused(
        &["--init", &pre, "--new-head", "5"],
        "--new-head 5: the data has 10 classes (cifar10); give --new-head 10",
    );
    refused(&["--init", &dir("nowhere")], "nowhere: no such file or directory");
    let says = "--new-head 10: the data has 5 classes (cifar10 classes 5-9); give --new-head 5";
    refused(&["--init", &pre, "--classes", "5-9", "--new-head", "10"], says);
    refused(&["--classes", "3,3"], "--classes 3,3: give two or more distinct classes");
    refused(&["--classes", "8-12"], "--classes: 10 is no class of cifar10 (0..9)");
    refused(&["--classes", "9-5"], "--classes 9-5: `9-5`: a range runs upwards");
    refused_model("vit-2-32", &["--init", &pre], "--init ");
    refused_model(
        "wrn-10-2",
        &["--init", &pre],
        "model.bpk: `group1.0.conv1.weight` has shape [16, 16, 3, 3] there, [32, 16, 3, 3] in the model",
    );
}

/// The `freeze` and `unfreeze` events of a run's log: `(event, iteration, frozen units after)`.
fn prefix_events(dir: &Path) -> Vec<(String, u64, u64)> {
    fs::read_to_string(dir.join("log.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event"] == "freeze" || v["event"] == "unfreeze")
        .map(|v| (v["event"].as_str().unwrap().to_string(), v["iter"].as_u64().unwrap(), v["frozen"].as_u64().unwrap()))
        .collect()
}

#[test]
fn fine_tuning_runs_killed_after_an_unfreeze_resume_exactly() {
    let Some(data) = freezeout_tests::cifar10("fine_tuning_runs_killed_after_an_unfreeze_resume_exactly") else {
        return;
    };
    let data = data.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let pre = tmp.path().join("pre").to_str().unwrap().to_string();
    let o = repro(&tiny_args(&pre, data, "1"), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Gradual unfreezing of WRN-10-1's 4 units over 3 epochs of 6 iterations: 4 frozen in
    // epoch 0, 3 from iteration 6, 2 from 12. Killed after iteration 9, resumed from the
    // checkpoint before iteration 8 (after the first unfreeze), it crosses the second. The
    // backbone policy with the exact cache: all 4 frozen (the head alone, its input cached) in
    // epoch 0, all train from iteration 6 (the entries dropped).
    let cases: [&[&str]; 2] = [
        &["--policy", "gradual", "--layer-decay", "0.9"],
        &["--policy", "backbone", "--cache", "exact", "--no-augment"],
    ];
    for extra in cases {
        let (full, killed) =
            (tmp.path().join(format!("full{}", extra[1])), tmp.path().join(format!("killed{}", extra[1])));
        let (full_out, killed_out) = (full.to_str().unwrap(), killed.to_str().unwrap());
        let full_args = [train_args(full_out, data), vec!["--init", &pre], extra.to_vec()].concat();
        let killed_args = [train_args(killed_out, data), vec!["--init", &pre], extra.to_vec()].concat();
        let o = repro(&full_args, &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        let o = repro(&killed_args, &[("FREEZEOUT_ABORT_AFTER_ITERATION", "9")]);
        assert!(!o.status.success(), "the run must have been killed");
        let o = repro(&["train", "--resume", killed.to_str().unwrap(), "--data", data], &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        let (a, b) = (iterations(&full), iterations(&killed));
        assert_eq!(a.len(), 18);
        assert_eq!(a, b, "{extra:?}: same losses and frozen units, iteration by iteration");
        let frozen: Vec<u64> = a.iter().map(|&(_, _, f)| f).collect();
        let events = prefix_events(&full);
        let e = |event: &str, j: u64, f: u64| (event.to_string(), j, f);
        if extra[1] == "gradual" {
            assert_eq!(frozen, [[4; 6], [3; 6], [2; 6]].concat());
            assert_eq!(events, [e("freeze", 0, 4), e("unfreeze", 6, 3), e("unfreeze", 12, 2)]);
            assert_eq!(prefix_events(&killed), events, "the resumed part logs the unfreeze it crossed");
        } else {
            assert_eq!(frozen, [[4; 6], [0; 6], [0; 6]].concat());
            assert_eq!(events, [e("freeze", 0, 4), e("unfreeze", 6, 0)]);
            let summary: serde_json::Value =
                serde_json::from_str(&fs::read_to_string(full.join("summary.json")).unwrap()).unwrap();
            let cache = |epoch: usize, field: &str| summary["epochs"][epoch]["cache"][field].as_u64().unwrap();
            // Epoch 0 computes each of the 300 samples' prefix once (no hit: each is seen once);
            // epoch 1 drops the 300 entries at the head, and never looks up again.
            assert_eq!((cache(0, "boundary"), cache(0, "lookups"), cache(0, "entries")), (4, 300, 300));
            assert_eq!((cache(1, "dropped"), cache(1, "entries"), cache(1, "lookups")), (300, 0, 0));
        }
    }
    let o = repro(&["train", "--every", "2"], &[]);
    assert!(stderr(&o).contains("--every is a setting of the gradual policy: add --policy gradual"), "{}", stderr(&o));
    let o = repro(&["train", "--policy", "gradual", "--unfreeze-epoch", "2"], &[]);
    let says = "--unfreeze-epoch is a setting of the backbone policy: add --policy backbone";
    assert!(stderr(&o).contains(says), "{}", stderr(&o));
    let o = repro(&["train", "--layer-decay", "1.5"], &[]);
    assert!(stderr(&o).contains("--layer-decay: layer_decay = 1.5 is outside (0, 1]"), "{}", stderr(&o));
}

/// `table --finished-only` writes the tables from the finished cells, trains nothing (no data
/// needed, an unfinished cell left as it is) and counts the cells in the title; with no finished
/// cell it names the flag.
#[test]
fn a_table_of_the_finished_cells_trains_nothing() {
    use bench_harness::table::{TablePreset, cell_dir, grid};
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().to_str().unwrap();
    let args = ["table", "--preset", "quick", "--finished-only", "--out", out, "--data", "no-such-data"];
    let o = repro(&args, &[]);
    let says = format!("--finished-only: no cell of preset quick (seeds [0]) has finished in {out}");
    assert!(!o.status.success() && stderr(&o).contains(&says), "{}", stderr(&o));

    let cells = grid(TablePreset::Quick, &[0]);
    for (cell, finished) in cells.iter().zip([true, false]) {
        let dir = cell_dir(tmp.path(), cell);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("config.toml"), toml::to_string_pretty(cell).unwrap()).unwrap();
        fs::write(dir.join("log.jsonl"), "").unwrap();
        if finished {
            let summary = burn_freezeout::train::RunSummary {
                status: "finished".into(),
                config: cell.train_config(),
                num_units: 4,
                total_iterations: 1500,
                test_error: Some(0.375),
                step_seconds: 200.0,
                wall_seconds: 230.0,
                epochs: Vec::new(),
                cpu: None,
            };
            fs::write(dir.join("summary.json"), serde_json::to_vec(&summary).unwrap()).unwrap();
        }
    }
    let o = repro(&args, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let md = fs::read_to_string(tmp.path().join("results.md")).unwrap();
    assert!(md.starts_with("# FreezeOut, preset quick (1 of 7 cells finished)"), "{md}");
    assert!(md.contains("| wrn-10-1 | cifar10 | 5 | baseline | — | 37.50 | "), "{md}");
    let unfinished = cell_dir(tmp.path(), &cells[1]);
    let left: Vec<_> = fs::read_dir(&unfinished).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 2, "the unfinished cell holds its config and log only: {left:?}");
    let o = repro(&["table", "--finished-only", "--overwrite"], &[]);
    assert!(stderr(&o).contains("--finished-only") && stderr(&o).contains("--overwrite"), "{}", stderr(&o));
}
