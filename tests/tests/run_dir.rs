//! A run directory belongs to one run: checkpoint rotation only ever deletes the current
//! run's own older checkpoints, never another config's.

use burn_freezeout::train::TrainConfig;
use burn_freezeout::train::checkpoint::{self, Checkpointing, Manifest, PartialEpoch};
use freezeout_tests::TinyNet;
use std::fs;

fn manifest(step: u64, hash: &str) -> Manifest {
    Manifest {
        format_version: checkpoint::FORMAT_VERSION,
        next_iteration: step,
        epoch: 0,
        batch_in_epoch: step as usize,
        frozen_units: 0,
        config_hash: hash.into(),
        crate_versions: checkpoint::crate_versions(),
        log_bytes: 0,
        epochs: Vec::new(),
        partial: PartialEpoch::default(),
        step_total: 0.0,
        wall_seconds: 0.0,
        policy: None,
    }
}

#[test]
fn rotation_never_deletes_the_current_runs_checkpoints_for_another_runs() {
    let device = burn::tensor::Device::flex().autodiff();
    let model = TinyNet::new(2, 4, 4, &device);
    let optim = TrainConfig::default().optimizer();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("checkpoints");
    // Another run's newer checkpoints (steps 39 and 40) are already there.
    let theirs = Checkpointing { dir: dir.clone(), every: 1, keep: 2, config: "aaaa".into() };
    for step in [39, 40] {
        checkpoint::save(&theirs, &model, &optim, &manifest(step, &theirs.config_hash())).unwrap();
    }
    // Ours, at lower step numbers: keeping "the newest 2 by step" would delete all of ours.
    let ours = Checkpointing { config: "bbbb".into(), ..theirs.clone() };
    for step in [3, 6, 9] {
        checkpoint::save(&ours, &model, &optim, &manifest(step, &ours.config_hash())).unwrap();
    }
    let mut names: Vec<String> =
        fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    let step = |n: u64| format!("step-{n:012}");
    assert_eq!(names, vec![step(6), step(9), step(39), step(40)], "our newest 2 kept, theirs untouched");
}
