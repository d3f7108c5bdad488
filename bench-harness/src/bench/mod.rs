//! Step-time benchmarks: one step per frozen fraction ([`speed`]) and a whole scheduled run
//! ([`scheduled`]), reported through a [`Reporter`].

#[cfg(feature = "learner")]
pub mod ddp;
#[cfg(feature = "learner")]
pub mod images;
mod report;
pub mod scheduled;
pub mod speed;

pub use report::Reporter;
