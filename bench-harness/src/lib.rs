//! Measuring FreezeOut's speed-up: cost models (the reference formula, our FLOP prediction and
//! a measured one), step-time benchmarks, the paper's tables and plots.

pub mod config;
pub mod cost;
pub mod plot;
pub mod run;
pub mod scheduled;
pub mod speed;
pub mod table;
