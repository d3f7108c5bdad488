//! Measuring FreezeOut's speed-up and reproducing the paper's tables, in four parts a reader
//! can name:
//!
//! * [`run`]: the run-directory application behind `paper-repro train` (a [`run::RunConfig`],
//!   one directory per run, resume, time estimates);
//! * [`bench`](mod@bench): step-time benchmarks (per frozen fraction, and a whole scheduled run);
//! * [`table`]: the paper's tables (grids of runs, their cells, the report), with [`plot`];
//! * [`cost`]: every cost model (the reference formula, our FLOP prediction, measured step
//!   times), [`comm`], the data-parallel exchange beside them, and [`stats`], the statistics
//!   they share.

#![warn(missing_docs)]

pub mod bench;
pub mod comm;
pub mod cost;
pub mod plot;
pub mod run;
pub mod stats;
pub mod table;
