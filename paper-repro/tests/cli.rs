//! The CLI end to end on the real CIFAR-10 archive: exact resume after a crash, and clear
//! errors for hostile inputs with nothing already written lost.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn archive() -> PathBuf {
    let path = std::env::var_os("CIFAR10_ARCHIVE").map(PathBuf::from).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/cifar-10-binary.tar.gz")
    });
    assert!(path.is_file(), "{}: the CIFAR-10 archive is missing (set CIFAR10_ARCHIVE)", path.display());
    path
}

fn repro(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_paper-repro"));
    cmd.args(args).env_remove("FREEZEOUT_ABORT_AFTER_ITERATION");
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
        "train", "--model", "wrn-10-1", "--epochs", "3", "--train-limit", "300", "--test-limit", "200",
        "--checkpoint-every", "4", "--data", data, "--out", out,
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
    let data = archive();
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
    // Old checkpoints are rotated: at most keep_checkpoints (2) complete ones remain.
    let kept = fs::read_dir(killed.join("checkpoints")).unwrap().count();
    assert!(kept <= 2, "{kept} checkpoints kept");
}

#[test]
fn resume_refuses_a_changed_config_and_names_missing_checkpoints() {
    let data = archive();
    let data = data.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let o = repro(&train_args(run.to_str().unwrap(), data), &[("FREEZEOUT_ABORT_AFTER_ITERATION", "5")]);
    assert!(!o.status.success());
    let o = repro(&["train", "--resume", run.to_str().unwrap(), "--data", data, "--lr", "0.05"], &[]);
    assert!(stderr(&o).contains("differs") && stderr(&o).contains("--force"), "{}", stderr(&o));

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
    let data = archive();
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
    let o = repro(&["train", "--resume", run.to_str().unwrap(), "--data", data], &[("FREEZEOUT_FAULT_CHECKPOINT_ENOSPC", "1")]);
    let e = stderr(&o);
    assert!(!o.status.success());
    assert!(e.contains("cannot write the checkpoint of iteration 6") && e.contains("No space left") && e.contains("is intact"), "{e}");
    let after: Vec<_> = fs::read_dir(run.join("checkpoints")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(before, after, "the earlier checkpoint is untouched, no temporary left behind");
    // And the run still resumes from it.
    let o = repro(&["train", "--resume", run.to_str().unwrap(), "--data", data], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(iterations(&run).len(), 18);
}

#[test]
fn hostile_configs_and_outputs_get_clear_errors() {
    let data = archive();
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
    let o = repro(&["train", "--model", "wrn-10-1", "--epochs", "1", "--train-limit", "100", "--data", data, "--out", bad_out.to_str().unwrap()], &[]);
    assert!(stderr(&o).contains("cannot create the run directory") && stderr(&o).contains("file/run"), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(&blocker).unwrap(), "x", "nothing already there is touched");
    // Data that is not there.
    let o = repro(&["train", "--data", tmp.path().to_str().unwrap(), "--out", out], &[]);
    assert!(stderr(&o).contains("no Cifar10 data here") && stderr(&o).contains("--data"), "{}", stderr(&o));
}

#[test]
fn a_diverging_run_leaves_a_final_checkpoint_and_a_diverged_summary() {
    let data = archive();
    let data = data.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let mut args = train_args(run.to_str().unwrap(), data);
    args.extend(["--lr", "1e12"]);
    let o = repro(&args, &[]);
    let e = stderr(&o);
    assert!(!o.status.success() && e.contains("diverged: loss is") && e.contains("frozen units"), "{e}");
    let summary: serde_json::Value = serde_json::from_str(&fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["status"], "diverged");
    assert_eq!(fs::read_dir(run.join("checkpoints")).unwrap().count(), 1, "a final checkpoint");
}
