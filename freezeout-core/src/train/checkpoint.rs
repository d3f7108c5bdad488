//! Checkpoints: the model, the optimizer state (per parameter, so per unit), the schedule
//! position (iteration, epoch, batch, frozen units), the epoch statistics so far and the log's
//! length, with a manifest (format version, step, config hash, crate versions).
//!
//! A checkpoint is written into a temporary directory next to the others (files fsynced, a
//! `COMPLETE` marker last), renamed to `step-<iteration>` and the parent directory fsynced; only
//! directories with the marker count. The newest `keep` complete checkpoints are kept. The data
//! order needs no state: batches are a pure function of (seed, epoch, batch index).

use super::EpochStats;
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

/// Version of the checkpoint layout; a different one is refused on resume.
pub const FORMAT_VERSION: u32 = 1;
const MARKER: &str = "COMPLETE";
const MANIFEST: &str = "manifest.json";
const MODEL: &str = "model.bpk";
const OPTIM: &str = "optimizer.bpk";
const CONFIG: &str = "config.toml";
/// Test hook (feature `fault-injection`, for this crate's tests only): with this variable set,
/// a checkpoint write fails with "no space left on device" after the model file.
#[cfg(feature = "fault-injection")]
pub const FAULT_ENV: &str = "FREEZEOUT_FAULT_CHECKPOINT_ENOSPC";

/// Sums of the epoch in progress (so a resumed epoch reports the same statistics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PartialEpoch {
    /// Σ loss × batch size.
    pub loss_sum: f64,
    /// The task's metric summed (classification: wrong predictions).
    pub errors: f64,
    /// Examples seen.
    pub seen: usize,
    /// Seconds of steps.
    pub step_seconds: f64,
}

/// What a checkpoint records besides the tensors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`FORMAT_VERSION`] of the writer.
    pub format_version: u32,
    /// The iteration to run next.
    pub next_iteration: u64,
    /// Its epoch.
    pub epoch: usize,
    /// Batches of that epoch already done.
    pub batch_in_epoch: usize,
    /// Frozen units at the checkpoint.
    pub frozen_units: usize,
    /// Hash of the run's config (a changed config is refused unless forced).
    pub config_hash: String,
    /// Versions of the crates that wrote it.
    pub crate_versions: BTreeMap<String, String>,
    /// Length of `log.jsonl` at the checkpoint (a resumed run truncates the log to it).
    pub log_bytes: u64,
    /// Finished epochs.
    pub epochs: Vec<EpochStats>,
    /// The epoch in progress.
    pub partial: PartialEpoch,
    /// Seconds of steps of all finished epochs.
    pub step_total: f64,
    /// Wall-clock seconds of the run so far.
    pub wall_seconds: f64,
    /// An adaptive policy's state (absent for a schedule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<crate::policy::AdaptiveState>,
}

/// Where and how often to checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpointing {
    /// `run-dir/checkpoints`.
    pub dir: PathBuf,
    /// Every this many iterations (0: only at epoch ends).
    pub every: u64,
    /// Complete checkpoints kept.
    pub keep: usize,
    /// The run's config as text: each checkpoint keeps a copy ([`config_of`]) and its hash
    /// (the manifest's `config_hash`), so a resume with another config can name what differs.
    pub config: String,
}

impl Checkpointing {
    /// The hash of [`config`](Self::config) that manifests record.
    pub fn config_hash(&self) -> String {
        hash_text(&self.config)
    }
}

/// A checkpoint problem, naming the path and what to do.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Writing failed; earlier checkpoints are untouched.
    #[error(
        "cannot write the checkpoint of iteration {iteration} in {dir}: {err}; the previous checkpoint{kept} is intact"
    )]
    Write {
        /// The checkpoint's iteration.
        iteration: u64,
        /// The checkpoint directory.
        dir: PathBuf,
        /// What failed.
        err: String,
        /// The newest complete checkpoint, as text (" (none yet)" if none).
        kept: String,
    },
    /// No complete checkpoint to resume from.
    #[error("{0}: no complete checkpoint (directories step-* with a COMPLETE marker) to resume from")]
    None(PathBuf),
    /// A checkpoint that cannot be read.
    #[error("{path}: corrupt checkpoint ({what}); delete this directory to resume from the one before")]
    Corrupt {
        /// The checkpoint.
        path: PathBuf,
        /// What cannot be read.
        what: String,
    },
    /// An adaptive run resumed from a checkpoint without the policy's state.
    #[error(
        "{0}: the checkpoint holds no adaptive-policy state (it was written by a run with another policy): resume with the run's own config"
    )]
    NoPolicyState(PathBuf),
    /// Written by another format version.
    #[error("{path}: checkpoint format {found}, this build reads {expected}")]
    Version {
        /// The checkpoint.
        path: PathBuf,
        /// Its format version.
        found: u32,
        /// The version this build reads.
        expected: u32,
    },
}

/// A stable 64-bit FNV-1a hash (as hex) of `text`, for config hashes.
pub fn hash_text(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Versions recorded in manifests.
pub fn crate_versions() -> BTreeMap<String, String> {
    BTreeMap::from([
        (env!("CARGO_PKG_NAME").to_string(), env!("CARGO_PKG_VERSION").to_string()),
        ("burn".to_string(), "0.22.1".to_string()),
    ])
}

fn complete_checkpoints(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("step-")))
                .filter(|p| p.join(MARKER).is_file())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

fn fsync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Writes a checkpoint; returns its directory.
pub fn save<M: Module>(
    cp: &Checkpointing,
    model: &M,
    optim: &ModuleOptimizer,
    manifest: &Manifest,
) -> Result<PathBuf, CheckpointError> {
    let iteration = manifest.next_iteration;
    let fail = |err: String| {
        let kept =
            complete_checkpoints(&cp.dir).last().map_or(" (none yet)".to_string(), |p| format!(" {}", p.display()));
        CheckpointError::Write { iteration, dir: cp.dir.clone(), err, kept }
    };
    fs::create_dir_all(&cp.dir).map_err(|e| fail(e.to_string()))?;
    let tmp = tempfile::Builder::new().prefix(".tmp-").tempdir_in(&cp.dir).map_err(|e| fail(e.to_string()))?;
    // Fold BatchNorm's pending running statistics in (shared state), so the file holds the
    // newest ones; training numerics do not change (training mode reads them synced anyway).
    let _ = model.valid();
    model.clone().save_file(tmp.path().join(MODEL)).map_err(|e| fail(format!("model: {e}")))?;
    #[cfg(feature = "fault-injection")]
    if std::env::var_os(FAULT_ENV).is_some() {
        return Err(fail(std::io::Error::from_raw_os_error(28).to_string()));
    }
    optim.save(tmp.path().join(OPTIM)).map_err(|e| fail(format!("optimizer: {e}")))?;
    let json = serde_json::to_vec_pretty(manifest).map_err(|e| fail(e.to_string()))?;
    fs::write(tmp.path().join(MANIFEST), json).map_err(|e| fail(e.to_string()))?;
    fs::write(tmp.path().join(CONFIG), &cp.config).map_err(|e| fail(e.to_string()))?;
    for name in [MODEL, OPTIM, MANIFEST, CONFIG] {
        File::open(tmp.path().join(name)).and_then(|f| f.sync_all()).map_err(|e| fail(e.to_string()))?;
    }
    File::create(tmp.path().join(MARKER)).and_then(|f| f.sync_all()).map_err(|e| fail(e.to_string()))?;
    fsync_dir(tmp.path());
    let target = cp.dir.join(format!("step-{iteration:012}"));
    if target.exists() {
        fs::remove_dir_all(&target).map_err(|e| fail(e.to_string()))?;
    }
    let staged = tmp.keep();
    fs::rename(&staged, &target).map_err(|e| {
        let _ = fs::remove_dir_all(&staged);
        fail(e.to_string())
    })?;
    fsync_dir(&cp.dir);
    rotate(&cp.dir, &cp.config_hash(), cp.keep, &target);
    Ok(target)
}

/// Deletes this run's complete checkpoints beyond the newest `keep` (the one just written,
/// `current`, always stays). Only checkpoints whose manifest carries `config_hash` count: a
/// checkpoint of another config (another run's files, or this run's before a forced config
/// change) is never deleted to make room, nor counted against `keep`.
fn rotate(dir: &Path, config_hash: &str, keep: usize, current: &Path) {
    let ours: Vec<PathBuf> = complete_checkpoints(dir)
        .into_iter()
        .filter(|p| read_manifest(p).is_ok_and(|m| m.config_hash == config_hash))
        .filter(|p| p != current)
        .collect();
    for old in &ours[..ours.len().saturating_sub(keep.max(1) - 1)] {
        let _ = fs::remove_dir_all(old);
    }
}

fn read_manifest(path: &Path) -> Result<Manifest, CheckpointError> {
    let corrupt = |what: String| CheckpointError::Corrupt { path: path.to_path_buf(), what };
    let text = fs::read_to_string(path.join(MANIFEST)).map_err(|e| corrupt(format!("{MANIFEST}: {e}")))?;
    serde_json::from_str(&text).map_err(|e| corrupt(format!("{MANIFEST}: {e}")))
}

/// The config text checkpoint `path` was written for (`None` for checkpoints written before
/// they kept one).
pub fn config_of(path: &Path) -> Option<String> {
    fs::read_to_string(path.join(CONFIG)).ok()
}

/// Whether `path` is a complete checkpoint (a `step-N` directory with its marker).
pub fn is_complete(path: &Path) -> bool {
    path.join(MARKER).is_file()
}

/// The model file of checkpoint `path` (Burn's burnpack format).
pub fn model_file(path: &Path) -> PathBuf {
    path.join(MODEL)
}

/// The newest complete checkpoint under `dir` and its manifest.
pub fn latest(dir: &Path) -> Result<(PathBuf, Manifest), CheckpointError> {
    let path = complete_checkpoints(dir).pop().ok_or_else(|| CheckpointError::None(dir.to_path_buf()))?;
    let manifest = read_manifest(&path)?;
    if manifest.format_version != FORMAT_VERSION {
        return Err(CheckpointError::Version { path, found: manifest.format_version, expected: FORMAT_VERSION });
    }
    Ok((path, manifest))
}

/// Loads the model and optimizer state of checkpoint `path` into `model` and `optim`.
pub fn load<M: Module>(path: &Path, model: M, optim: ModuleOptimizer) -> Result<(M, ModuleOptimizer), CheckpointError> {
    let corrupt = |what: String| CheckpointError::Corrupt { path: path.to_path_buf(), what };
    let model = model.try_load_file(path.join(MODEL)).map_err(|e| corrupt(format!("{MODEL}: {e}")))?;
    let optim = optim.load(path.join(OPTIM)).map_err(|e| corrupt(format!("{OPTIM}: {e}")))?;
    Ok((model, optim))
}
