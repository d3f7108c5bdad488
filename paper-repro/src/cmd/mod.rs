//! The subcommands.

pub mod data;
pub mod models;
pub mod schedule;
pub mod train;

/// What `cargo run --release -p paper-repro` does without a subcommand.
pub fn main_job() -> anyhow::Result<()> {
    anyhow::bail!(
        "the paper's tables (`table --preset quick`) are not implemented yet; \
         available now: `schedule`, `models`, `data`, `train` (see --help)"
    )
}
