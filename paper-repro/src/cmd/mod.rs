//! The subcommands.

pub mod data;
pub mod ddp;
pub mod models;
pub mod schedule;
pub mod speed;
pub mod table;
pub mod train;

/// What `cargo run --release -p paper-repro` does without a subcommand: the quick table.
pub fn main_job() -> anyhow::Result<()> {
    table::run(&table::Args {
        preset: bench_harness::table::TablePreset::Quick,
        seeds: vec![0],
        data: None,
        out: None,
        device: burn_freezeout::device::DeviceKind::Cpu,
        overwrite: false,
        step_times: Vec::new(),
        finished_only: false,
    })
}
