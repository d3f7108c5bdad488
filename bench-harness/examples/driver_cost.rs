//! What FreezeOut itself costs per iteration: the driver's freeze check and per-unit rates
//! (`FreezeOutDriver::freeze` + `learning_rates` + `advance`) over a whole 100-epoch schedule of
//! WRN-10-1, against one WRN-10-1 training step at batch 50, measured in the same run.
//!
//! `cargo run --release -p bench-harness --example driver_cost`

use bench_harness::bench::speed::{self, SpeedConfig};
use burn_freezeout::device::DeviceKind;
use burn_freezeout::models::{Preset, WithModel};
use burn_freezeout::{FreezeOut, FreezeOutDriver, FreezeOutForward, ScheduleConfig};
use std::hint::black_box;
use std::time::Instant;

/// Microseconds per iteration of the driver over `TOTAL` iterations (every freeze included).
struct DriverCost;

const TOTAL: u64 = 100_000;

impl WithModel for DriverCost {
    type Output = f64;
    fn run<M: FreezeOut + FreezeOutForward<4, 2> + 'static>(self, mut model: M) -> f64 {
        let mut driver = FreezeOutDriver::new(&model, ScheduleConfig::default(), TOTAL).expect("a valid schedule");
        let t = Instant::now();
        for _ in 0..TOTAL {
            model = driver.freeze(model);
            black_box(driver.learning_rates());
            driver.advance();
        }
        assert_eq!(driver.events().len(), model.num_units(), "every unit froze once");
        1e6 * t.elapsed().as_secs_f64() / TOTAL as f64
    }
}

fn main() -> anyhow::Result<()> {
    let model = Preset::Wrn { depth: 10, width: 1 };
    let device = DeviceKind::Cpu.autodiff_with(Default::default())?;
    let driver_us = model.build(10, 0.0, &device, DriverCost);
    let report = speed::measure(&SpeedConfig {
        model,
        classes: 10,
        batch: 50,
        iters: 10,
        warmup: 2,
        fractions: vec![0.0],
        device: DeviceKind::Cpu,
        verbose: false,
        schedule_iters: 0,
        float: Default::default(),
    })?;
    let step_ms = report.points[0].mean_ms;
    println!("driver: {driver_us:.2} µs per iteration (mean over {TOTAL} iterations, every freeze included)");
    println!("{model} batch-50 step on cpu: {step_ms:.1} ms (mean of 10 after 2 warm-up)");
    println!("driver / step: {:.5}%", 100.0 * driver_us / (1e3 * step_ms));
    Ok(())
}
