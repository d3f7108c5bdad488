//! What a run reads: batches on the host and the sources that yield them ([`DataSource`],
//! [`HostBatch`], [`InMemory`]), CIFAR-10/100 (official binary layout) and its input pipeline
//! ([`Loader`]), character-level text ([`text`]). Below both the prefix cache and the training
//! loop, which read these types.

pub mod cifar;
mod pipeline;
mod source;
pub mod text;

pub use cifar::{Cifar, CifarKind, DataError, Split, load};
pub use pipeline::{Loader, Normalization, PAD, PROBE_IMAGES};
pub use source::{CachedBatch, Crop, DataSource, HostBatch, InMemory, Samples};

use std::path::PathBuf;

/// Environment variable naming the data directory (default `./data`; `--data` wins).
pub const DATA_ENV: &str = "FREEZEOUT_DATA";

/// The data location: `explicit` (`--data`), else `$FREEZEOUT_DATA`, else `./data`.
pub fn data_dir(explicit: Option<PathBuf>) -> PathBuf {
    explicit.or_else(|| std::env::var_os(DATA_ENV).map(PathBuf::from)).unwrap_or_else(|| PathBuf::from("data"))
}
