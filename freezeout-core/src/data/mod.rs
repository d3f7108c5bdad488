//! CIFAR-10/100 (official binary layout) and the input pipeline.

pub mod cifar;
mod pipeline;

pub use cifar::{Cifar, CifarKind, DataError, Split, load};
pub use pipeline::{Loader, Normalization, PAD, PROBE_IMAGES};

use std::path::PathBuf;

/// Environment variable naming the data directory (default `./data`; `--data` wins).
pub const DATA_ENV: &str = "FREEZEOUT_DATA";

/// The data location: `explicit` (`--data`), else `$FREEZEOUT_DATA`, else `./data`.
pub fn data_dir(explicit: Option<PathBuf>) -> PathBuf {
    explicit.or_else(|| std::env::var_os(DATA_ENV).map(PathBuf::from)).unwrap_or_else(|| PathBuf::from("data"))
}
