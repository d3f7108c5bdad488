//! Starting from trained weights (fine-tuning): [`load`] reads a run directory or checkpoint of
//! ours, a Burn record, or weights trained in PyTorch into a `#[freezeout]` model of the same
//! architecture, through Burn's own readers (`burn-store`). With [`Head::Fresh`] only the units
//! are read and the head keeps the values it was built with: a new head for a new task
//! (`paper-repro train --init PATH --new-head CLASSES`).
//!
//! ```no_run
//! use burn::tensor::Device;
//! use burn_freezeout::models::WideResNet;
//! use burn_freezeout::weights::{self, Head};
//!
//! let device = Device::flex().autodiff();
//! // Trained on 10 classes (a run directory of ours); fine-tuned on 5: the units read, a new head.
//! let model = WideResNet::new(16, 2, 0.0, 5, &device);
//! let (model, loaded) = weights::load(model, "runs/pretrain".as_ref(), Head::Fresh)?;
//! println!("{} tensors from {}", loaded.tensors, loaded.file.display());
//! # Ok::<(), weights::WeightsError>(())
//! ```
//!
//! What the file must hold: one tensor per parameter and buffer (BatchNorm's running
//! statistics) of the part read, under the model's own paths (`blocks.0.conv.weight`) and of
//! its shapes; anything else is an error naming the first such parameter. PyTorch files
//! (`.pt`, `.pth`, and `.safetensors`, which is read as PyTorch writes it) are converted as
//! burn-store does (`weight`/`bias` of a norm to `gamma`/`beta`, linear weights transposed);
//! their `num_batches_tracked` counters have no Burn counterpart and are left out.

use crate::FreezeOut;
use crate::train::checkpoint;
use burn_store::{
    ApplyError, ApplyResult, BurnpackStore, ModuleSnapshot, ModuleStore, PathFilter, PyTorchToBurnAdapter,
    PytorchStore, SafetensorsStore,
};
use std::path::{Path, PathBuf};

/// What the trained weights give the head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Head {
    /// The head is read too: the same task (to continue, or to fine-tune on more of its data).
    Trained,
    /// Only the units are read; the head (every parameter outside the units) keeps the values
    /// the model was built with: a new head, e.g. for another number of classes.
    Fresh,
}

/// What [`load`] read.
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded {
    /// The weights file (a run directory's newest checkpoint's, where a directory was given).
    pub file: PathBuf,
    /// Tensors read into the model.
    pub tensors: usize,
    /// The head's tensors left as built ([`Head::Fresh`]), by path.
    pub fresh: Vec<String>,
}

/// Why trained weights cannot be read into the model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WeightsError {
    /// Nothing at the path.
    #[error("--init {0}: no such file or directory")]
    NotFound(PathBuf),
    /// A directory that is neither a run directory nor a checkpoint.
    #[error(
        "--init {0}: a directory without a complete checkpoint; give a run directory (its newest checkpoint is \
         read), a checkpoint directory (step-N, with its COMPLETE marker) or a weights file (.bpk, .pt, .pth, \
         .safetensors)"
    )]
    NoCheckpoint(PathBuf),
    /// A file of no known format.
    #[error(
        "--init {0}: unknown weights format (by its extension); expected .bpk (Burn), .pt or .pth (PyTorch) or \
         .safetensors"
    )]
    Format(PathBuf),
    /// The file cannot be read.
    #[error("--init {file}: cannot read the weights: {why}")]
    Read {
        /// The file.
        file: PathBuf,
        /// The reader's message.
        why: String,
    },
    /// A tensor whose shape differs from the parameter's.
    #[error("--init {file}: `{param}` has shape {found:?} there, {expected:?} in the model{hint}")]
    Shape {
        /// The file.
        file: PathBuf,
        /// The first such parameter, in the model's order.
        param: String,
        /// The model's shape.
        expected: Vec<usize>,
        /// The file's.
        found: Vec<usize>,
        /// How to fix it, where known.
        hint: String,
    },
    /// A parameter the file has no tensor for.
    #[error("--init {file}: no tensor for the model's `{param}`{unused}")]
    Missing {
        /// The file.
        file: PathBuf,
        /// The first such parameter, in the model's order.
        param: String,
        /// The file's tensors that match no parameter, as a hint ("" if none).
        unused: String,
    },
    /// A tensor of the file that matches no parameter of the model.
    #[error(
        "--init {file}: `{tensor}` matches no parameter of the model (another architecture, or names that \
         differ: the model's paths are its field names, `blocks.0.conv.weight`)"
    )]
    Unused {
        /// The file.
        file: PathBuf,
        /// The first such tensor.
        tensor: String,
    },
}

/// Reads the trained weights at `path` into `model` (of the same architecture; with
/// [`Head::Fresh`], of any head). `path`: a run directory of ours (its newest complete
/// checkpoint: the final model of a finished run), a checkpoint directory (`step-N`), a Burn
/// record (`.bpk`, [`Module::save_file`](burn::module::Module::save_file)), or PyTorch's
/// weights (`.pt` / `.pth`: a `state_dict`; `.safetensors`). Every tensor is checked: a missing,
/// extra or differently shaped one is an error naming the first, and `model` is not returned.
pub fn load<M: FreezeOut>(model: M, path: &Path, head: Head) -> Result<(M, Loaded), WeightsError> {
    let file = weights_file(path)?;
    let mut model = model;
    let paths: Vec<String> = model.collect(None, None, false).into_iter().map(|t| t.name).collect();
    let units: Vec<String> = model.units().into_iter().map(|u| u.name).collect();
    let in_units = |p: &str| units.iter().any(|u| p.strip_prefix(u.as_str()).is_some_and(|rest| rest.starts_with('.')));
    let read: Vec<String> = paths.iter().filter(|p| head == Head::Trained || in_units(p)).cloned().collect();
    let filter = PathFilter::new().with_full_paths(read.iter().cloned());
    let fail = |why: String| WeightsError::Read { file: file.clone(), why };
    let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("");
    let result = match ext {
        "bpk" => apply(&mut model, BurnpackStore::from_file(&file).filter(filter).validate(false).allow_partial(true)),
        "pt" | "pth" => {
            apply(&mut model, PytorchStore::from_file(&file).filter(filter).validate(false).allow_partial(true))
        }
        "safetensors" => apply(
            &mut model,
            SafetensorsStore::from_file(&file)
                .with_from_adapter(PyTorchToBurnAdapter)
                .filter(filter)
                .validate(false)
                .allow_partial(true),
        ),
        _ => return Err(WeightsError::Format(file)),
    }
    .map_err(fail)?;
    let head_paths: Vec<&String> = paths.iter().filter(|p| !in_units(p)).collect();
    check(&file, &read, &paths, &head_paths, &result, head)?;
    let fresh = paths.into_iter().filter(|p| !read.contains(p)).collect();
    Ok((model, Loaded { file, tensors: result.applied.len(), fresh }))
}

fn apply<M: ModuleSnapshot, S: ModuleStore>(model: &mut M, mut store: S) -> Result<ApplyResult, String> {
    model.load_from(&mut store).map_err(|e| e.to_string())
}

/// The weights file `path` names: itself, a checkpoint's model, or a run's newest checkpoint's.
fn weights_file(path: &Path) -> Result<PathBuf, WeightsError> {
    if !path.exists() {
        return Err(WeightsError::NotFound(path.to_path_buf()));
    }
    if !path.is_dir() {
        return Ok(path.to_path_buf());
    }
    if checkpoint::is_complete(path) {
        return Ok(checkpoint::model_file(path));
    }
    match checkpoint::latest(&path.join("checkpoints")) {
        Ok((newest, _)) => Ok(checkpoint::model_file(&newest)),
        Err(_) => Err(WeightsError::NoCheckpoint(path.to_path_buf())),
    }
}

/// Every tensor of `read` applied, and nothing in the file that matches no parameter, in the
/// model's order (`paths`): the first problem is the error.
fn check(
    file: &Path,
    read: &[String],
    paths: &[String],
    head_paths: &[&String],
    result: &ApplyResult,
    head: Head,
) -> Result<(), WeightsError> {
    // PyTorch's BatchNorm counts its updates; Burn's has no such buffer.
    let unused: Vec<&String> = result.unused.iter().filter(|t| !t.ends_with("num_batches_tracked")).collect();
    for p in paths.iter().filter(|p| read.contains(p)) {
        let shape = result.errors.iter().find_map(|e| match e {
            ApplyError::ShapeMismatch { path, expected, found } if path == p => Some((expected, found)),
            _ => None,
        });
        if let Some((expected, found)) = shape {
            let hint = match head_paths.contains(&p) {
                true => "; a head for another task starts fresh with --new-head CLASSES (weights::Head::Fresh)".into(),
                false => String::new(),
            };
            return Err(WeightsError::Shape {
                file: file.to_path_buf(),
                param: p.clone(),
                expected: expected.to_vec(),
                found: found.to_vec(),
                hint,
            });
        }
        if !result.applied.contains(p) {
            let unused = match unused.len() {
                0 => String::new(),
                n => format!(
                    "; the file has {n} tensor(s) the model does not, e.g. `{}` (names that differ?)",
                    unused[0]
                ),
            };
            return Err(WeightsError::Missing { file: file.to_path_buf(), param: p.clone(), unused });
        }
    }
    if let Some(e) = result.errors.first() {
        return Err(WeightsError::Read { file: file.to_path_buf(), why: e.to_string() });
    }
    // With a fresh head the file's own head is expected to go unread.
    match unused.first() {
        Some(t) if head == Head::Trained => {
            Err(WeightsError::Unused { file: file.to_path_buf(), tensor: (*t).clone() })
        }
        _ => Ok(()),
    }
}
