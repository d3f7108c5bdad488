//! The saving actually measured: the trainer ([`Fit`]) runs the default FreezeOut
//! schedule for `T` iterations on one random CIFAR-shaped batch, freezing units as the schedule
//! says, and every step is timed. Its saving is compared with the one predicted from the step
//! times measured at fixed frozen prefixes ([`MeasuredCost`]) for the same schedule.

use super::Reporter;
use crate::cost::MeasuredCost;
use burn::tensor::{Device, Distribution, Int, Tensor};
use burn_freezeout::data::{DataSource, HostBatch};
use burn_freezeout::models::{Preset, WithModel};
use burn_freezeout::train::{Fit, Progress, TrainConfig};
use burn_freezeout::{FreezeOut, FreezeOutForward};
use serde::Serialize;

/// What a scheduled run measured.
#[derive(Clone, Debug, Serialize)]
pub struct ScheduledRun {
    /// Iterations `T` of the run (every unit's budget is a fraction of it).
    pub iterations: u64,
    /// Iterations at the start (all unfrozen) whose times are left out: compilation, autotune,
    /// allocator growth. They count as ordinary unfrozen steps.
    pub warmup: usize,
    /// Sum of the step times after the warm-up, plus the warm-up counted at the unfrozen mean (ms).
    pub total_ms: f64,
    /// Mean step time of the run's own unfrozen iterations after the warm-up (ms).
    pub unfrozen_mean_ms: f64,
    /// `1 − total_ms / (T × unfrozen mean)`: the wall-clock saving measured within the run.
    /// Means on both sides: a median base against a sum of times would count the machine's
    /// noise (mean above median) as lost saving.
    pub measured_saving: f64,
    /// The saving of the same schedule predicted from the fixed-prefix step times.
    pub predicted_saving: f64,
    /// `measured_saving / predicted_saving` (goal: at least 0.95).
    pub ratio: f64,
    /// Units frozen at the end of the run.
    pub frozen_at_end: usize,
}

/// Runs the default schedule for `iterations` steps of batch `batch` and compares its saving
/// with `predicted` (the fixed-prefix step times); every step goes to `report`.
#[allow(clippy::too_many_arguments)]
pub fn run(
    model: Preset,
    classes: usize,
    batch: usize,
    iterations: u64,
    warmup: usize,
    predicted: &MeasuredCost,
    device: &Device,
    report: &Reporter,
) -> anyhow::Result<ScheduledRun> {
    device.seed(0);
    let host = random_batch(batch, classes, device);
    let data = Repeat { batch: host, times: iterations as usize };
    let steps = model.build(classes, 0.0, device, Trainer { data, device, report })?;
    let warmup = warmup.min(steps.len());
    let unfrozen: Vec<f64> = steps.iter().skip(warmup).filter(|s| s.0 == 0).map(|s| s.1).collect();
    anyhow::ensure!(
        !unfrozen.is_empty() && steps[..warmup].iter().all(|s| s.0 == 0),
        "the scheduled run's {warmup} warm-up steps reach the first freeze: use more iterations"
    );
    let unfrozen_mean_ms = crate::stats::mean(&unfrozen);
    let total_ms = steps[warmup..].iter().map(|s| s.1).sum::<f64>() + warmup as f64 * unfrozen_mean_ms;
    let measured_saving = 1.0 - total_ms / (steps.len() as f64 * unfrozen_mean_ms);
    let schedule = TrainConfig::default().schedule(model.spec(classes).units.len(), iterations)?;
    let predicted_saving = predicted.predicted_saving(&schedule);
    Ok(ScheduledRun {
        iterations,
        warmup,
        total_ms,
        unfrozen_mean_ms,
        measured_saving,
        predicted_saving,
        ratio: measured_saving / predicted_saving,
        frozen_at_end: steps.last().map_or(0, |s| s.0),
    })
}

/// One random batch on the host (normal pixels, uniform labels), made on `device`.
fn random_batch(batch: usize, classes: usize, device: &Device) -> HostBatch {
    let plain = device.clone().without_autodiff();
    let images = Tensor::<4>::random([batch, 3, 32, 32], Distribution::Normal(0.0, 1.0), &plain);
    let labels = Tensor::<1, Int>::random([batch], Distribution::Uniform(0.0, classes as f64), &plain);
    HostBatch::new(
        images.into_data().iter::<f32>().collect(),
        [batch, 3, 32, 32],
        labels.into_data().iter::<i64>().collect(),
    )
}

/// The same batch `times` times: one epoch of `times` iterations, nothing held out.
struct Repeat {
    batch: HostBatch,
    times: usize,
}

impl DataSource for Repeat {
    fn train_batches_per_epoch(&self) -> usize {
        self.times
    }
    fn train_epoch(&mut self, _epoch: usize) -> Box<dyn Iterator<Item = HostBatch> + '_> {
        Box::new(std::iter::repeat_n(&self.batch, self.times).cloned())
    }
    fn eval_batches(&mut self) -> Box<dyn Iterator<Item = HostBatch> + '_> {
        Box::new(std::iter::empty())
    }
}

struct Trainer<'a> {
    data: Repeat,
    device: &'a Device,
    report: &'a Reporter,
}

impl WithModel for Trainer<'_> {
    /// `(frozen units, step ms)` of every iteration.
    type Output = anyhow::Result<Vec<(usize, f64)>>;
    fn run<M: FreezeOut + FreezeOutForward<4, 2> + 'static>(mut self, model: M) -> Self::Output {
        let mut steps = Vec::with_capacity(self.data.times);
        let config = TrainConfig::default();
        Fit::new(&config, self.device)
            .observe(|p, _: &M| {
                if let Progress::Step { iter, frozen, step_ms, loss, .. } = p {
                    self.report.step(format_args!("scheduled {iter} frozen {frozen}"), step_ms, loss);
                    steps.push((frozen, step_ms));
                }
            })
            .run(model, &mut self.data)?;
        Ok(steps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trainer_runs_the_whole_schedule_and_the_prediction_sums_its_prefixes() {
        let device = Device::flex().autodiff();
        let model = Preset::Wrn { depth: 10, width: 1 };
        // Synthetic fixed-prefix step times (ms) at 0, 2 and 4 frozen units.
        let cost = MeasuredCost { points: vec![(0, 4.0), (2, 3.0), (4, 1.0)] };
        let run = run(model, 10, 2, 16, 1, &cost, &device, &Reporter::silent()).unwrap();
        // WRN-10-1 has 4 units; cubic t0 0.8 over 16 iterations gives budgets 16·(0.8 + 0.05 i)³
        // = 8.19, 9.83, 11.66, 13.72: frozen prefixes 0 (iterations 0–8), 1 (9), 2 (10–11),
        // 3 (12–13), 4 (14–15), at 4, 3.5, 3, 2 and 1 ms (interpolated): 51.5 of 64 ms.
        assert_eq!(run.predicted_saving, 1.0 - 51.5 / 64.0);
        assert_eq!((run.iterations, run.frozen_at_end, run.warmup), (16, 4, 1));
        // The measured saving is the run's own: its total against its unfrozen mean.
        let own = 1.0 - run.total_ms / (16.0 * run.unfrozen_mean_ms);
        assert!((run.measured_saving - own).abs() < 1e-12 && run.ratio == run.measured_saving / run.predicted_saving);
    }
}
