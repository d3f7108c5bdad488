//! The subcommands.

pub mod schedule;

/// What `cargo run --release -p paper-repro` does without a subcommand.
pub fn main_job() -> anyhow::Result<()> {
    anyhow::bail!(
        "the paper's tables (`table --preset quick`) are not implemented yet; \
         available now: `paper-repro schedule` (see --help)"
    )
}
