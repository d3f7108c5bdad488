//! How long a run will take on this machine: the cost model's estimate, calibrated by what this
//! machine measured.

use super::RunConfig;

/// Training throughput assumed for time estimates before anything was measured here, in
/// multiply-accumulates per second of a full training step (forward + backward ≈ 3× forward):
/// a 2-core CPU with the release build (bench-harness/PERF.md); the GPU figure is a rough
/// placeholder. [`Estimate`] corrects it with what this machine measures.
fn macs_per_second(device: burn_freezeout::device::DeviceKind) -> f64 {
    use burn_freezeout::device::DeviceKind;
    match device {
        DeviceKind::Cpu | DeviceKind::Ndarray | DeviceKind::Tch => 20e9,
        DeviceKind::Cuda | DeviceKind::TchCuda | DeviceKind::Wgpu => 2e12,
    }
}

/// Wall-clock estimate of a run (training steps and evaluations) from the model's forward cost
/// at the assumed throughput, uncalibrated; [`Estimate::seconds`] calibrates it.
pub fn estimate_seconds(config: &RunConfig) -> f64 {
    let spec = config.model.spec(config.num_classes());
    let fwd = spec.macs();
    let train = config.train_limit.unwrap_or(50_000 - config.val) as f64;
    let eval = config.test_limit.unwrap_or(if config.val > 0 { config.val } else { 10_000 }) as f64;
    let macs = config.epochs as f64 * (3.0 * train + eval) * fwd as f64;
    macs / macs_per_second(config.device)
}

/// Run-time estimates calibrated on the machine they run on: the cost model's estimate times
/// the ratio of what this machine measured to what the model assumed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// Measured time ÷ assumed time.
    pub factor: f64,
}

impl Estimate {
    /// Step time (ms) the cost model assumes for `config`'s model at its batch size.
    pub fn assumed_step_ms(config: &RunConfig) -> f64 {
        let macs = config.model.spec(config.num_classes()).macs() as f64;
        1e3 * 3.0 * macs * config.batch_size as f64 / macs_per_second(config.device)
    }

    /// Calibrated from one timed step of `config`'s model and batch on this machine.
    pub fn from_step(config: &RunConfig, measured_ms: f64) -> Self {
        Self { factor: measured_ms / Self::assumed_step_ms(config) }
    }

    /// Recalibrated from whole runs: runs the cost model put at `assumed` seconds (uncalibrated,
    /// [`estimate_seconds`]) took `actual` seconds.
    pub fn from_runs(assumed: f64, actual: f64) -> Self {
        Self { factor: actual / assumed }
    }

    /// The calibrated estimate of `config`'s run, in seconds.
    pub fn seconds(&self, config: &RunConfig) -> f64 {
        self.factor * estimate_seconds(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_estimate_scales_with_what_this_machine_measured() {
        let config = RunConfig {
            model: burn_freezeout::models::Preset::Wrn { depth: 10, width: 1 },
            epochs: 5,
            train_limit: Some(15_000),
            test_limit: Some(2_000),
            ..RunConfig::default()
        };
        let assumed = Estimate::assumed_step_ms(&config);
        // A machine twice as slow as assumed doubles the estimate.
        let e = Estimate::from_step(&config, 2.0 * assumed);
        assert!((e.seconds(&config) / estimate_seconds(&config) - 2.0).abs() < 1e-12);
        // Whole runs that took 3× their estimate recalibrate to 3×.
        let e = Estimate::from_runs(100.0, 300.0);
        assert!((e.seconds(&config) - 3.0 * estimate_seconds(&config)).abs() < 1e-9);
    }
}
