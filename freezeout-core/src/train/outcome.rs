//! What a run gives: its per-epoch numbers, its summary, the trained model, or why it stopped.

use super::{CheckpointError, TrainConfig};
use crate::schedule::ScheduleError;
use serde::{Deserialize, Serialize};

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Bad schedule settings.
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    /// Bad policy settings.
    #[error(transparent)]
    Policy(#[from] crate::policy::PolicyError),
    /// The data gave no batches.
    #[error("the training data has no batches: check the dataset path and the batch size")]
    NoData,
    /// A unit without trainable parameters cannot be frozen meaningfully.
    #[error("unit {index} (`{name}`) has no trainable parameters: merge it into a neighbour unit")]
    EmptyUnit {
        /// Unit index.
        index: usize,
        /// Unit name.
        name: String,
    },
    /// A non-finite loss, or one above `max_loss`.
    #[error(
        "diverged: loss is {loss} at iteration {iteration} (epoch {epoch}) with {frozen} frozen units \
         and head LR {head_lr:.6}: lower --lr or check the data"
    )]
    Diverged {
        /// The loss value.
        loss: f32,
        /// Iteration (0-based).
        iteration: u64,
        /// Epoch (0-based).
        epoch: usize,
        /// Frozen units at that iteration.
        frozen: usize,
        /// The head's learning rate then.
        head_lr: f64,
    },
    /// Writing the log failed.
    #[error("cannot write the run log: {0}")]
    Io(#[from] std::io::Error),
    /// A checkpoint could not be written or read.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The prefix cache cannot run on this model, data or task.
    #[error(transparent)]
    Cache(#[from] crate::cache::CacheError),
    /// The drift signal cannot run on this model, data or task.
    #[error(transparent)]
    Drift(#[from] crate::drift::DriftError),
}

/// Per-epoch numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// Epoch (0-based).
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Training error: the task's metric per example (classification: the fraction
    /// misclassified, under augmentation).
    pub train_error: f64,
    /// Held-out error (the same metric), if there is held-out data.
    pub test_error: Option<f64>,
    /// Seconds spent in training steps (device-synchronised).
    pub step_seconds: f64,
    /// Wall-clock seconds of the epoch, data and evaluation included.
    pub wall_seconds: f64,
    /// Frozen units at the end of the epoch.
    pub frozen_units: usize,
    /// What the prefix cache did in the epoch (runs with a cache).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<crate::cache::CacheStats>,
}

/// The result of a run ([`Fit::run`](super::Fit::run)).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunSummary {
    /// `"finished"`, or `"diverged"` (non-finite loss; `test_error` is then `None`).
    pub status: String,
    /// The config.
    pub config: TrainConfig,
    /// Units `N`.
    pub num_units: usize,
    /// Total iterations `T` (epochs × batches per epoch).
    pub total_iterations: u64,
    /// Final held-out error.
    pub test_error: Option<f64>,
    /// Seconds of all training steps.
    pub step_seconds: f64,
    /// Wall-clock seconds of the run.
    pub wall_seconds: f64,
    /// Per epoch.
    pub epochs: Vec<EpochStats>,
    /// The CPU the run finished on (absent in summaries written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<super::CpuInfo>,
}

/// The trained model and what happened.
pub struct Outcome<M> {
    /// The model after the last iteration.
    pub model: M,
    /// The summary (also written to `summary.json` when the log has a directory).
    pub summary: RunSummary,
}
