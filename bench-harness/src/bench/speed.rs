//! Step-time benchmark on random data at full model size (CIFAR-shaped images, or windows of
//! byte ids for a language model): the same training step as the trainer, with 0%, 25%, 50%,
//! 75% (or any fractions) of the units frozen, and the saving of a whole schedule simulated
//! from those step times.

use super::Reporter;
use super::scheduled::{self, ScheduledRun};
use crate::cost::{self, CacheBuild, CacheCosts, CachePrediction, CostModel, MeasuredCost};
use crate::stats::{mean, median};
use burn::tensor::kind::Autodiff;
use burn::tensor::{Distribution, Int, Tensor};
use burn_freezeout::cache::{CacheConfig, CacheMode, PrefixCache};
use burn_freezeout::data::text::{TokenBatch, VOCAB};
use burn_freezeout::data::{CachedBatch, DataSource, HostBatch, InMemory};
use burn_freezeout::device::{DeviceKind, FloatKind};
use burn_freezeout::models::{CharGpt, GPT_CONTEXT, Preset, WithModel};
use burn_freezeout::task::{
    CacheStep, Classification, LanguageModel, Task, TaskOutput, cross_entropy, next_token_cross_entropy,
};
use burn_freezeout::train::{Stepper, TrainConfig};
use burn_freezeout::{FreezeOut, FreezeOutDriver, FreezeOutForward, Scaling, Schedule, ScheduleConfig, UnitTensor};
use serde::Serialize;
use std::marker::PhantomData;
use std::time::Instant;

/// What to measure.
#[derive(Clone, Debug, Serialize)]
pub struct SpeedConfig {
    /// The model.
    pub model: Preset,
    /// Classes of the head.
    pub classes: usize,
    /// Batch size.
    pub batch: usize,
    /// Timed iterations per point (the median is reported).
    pub iters: usize,
    /// Untimed iterations first (kernel compilation, autotune, allocator warm-up).
    pub warmup: usize,
    /// Fractions of units frozen.
    pub fractions: Vec<f64>,
    /// Backend.
    pub device: DeviceKind,
    /// Float type of every tensor (f32 unless asked).
    pub float: FloatKind,
    /// Print every step's time to stderr (to see compilation/autotune stalls as they happen).
    pub verbose: bool,
    /// After the points, train with the default schedule for this many iterations and measure
    /// its saving ([`super::scheduled`]); 0: skip.
    pub schedule_iters: u64,
}

/// One measured point.
#[derive(Clone, Debug, Serialize)]
pub struct SpeedPoint {
    /// Requested fraction of units frozen.
    pub fraction: f64,
    /// Units frozen (`round(fraction · N)`).
    pub frozen: usize,
    /// Median step time (ms).
    pub median_ms: f64,
    /// Mean step time (ms): what the predicted wall-clock saving is made of (a scheduled run's
    /// measured saving is a ratio of sums, i.e. of means).
    pub mean_ms: f64,
    /// Median time of the training-mode forward pass alone (ms), timed after the steps with the
    /// same model and batch; `median_ms - forward_ms` is backward plus optimizer.
    pub forward_ms: f64,
    /// Mean step time (ms) when the frozen prefix costs nothing: the step fed the prefix's
    /// output, precomputed once (the physical limit of any cache).
    pub skip_mean_ms: f64,
    /// Mean step time (ms) with the prefix cache (`exact`, every sample a hit at the
    /// boundary): the limit plus the cache's own lookups and copies.
    pub cached_mean_ms: f64,
    /// Mean step time (ms) through an empty `exact` cache: every sample a miss, its prefix
    /// computed and stored (a cache's first visits, its boundary's shape probed on one sample
    /// as a new cache's first batch does; what storing costs beyond the forward).
    pub miss_mean_ms: f64,
    /// The first step (ms): includes kernel compilation / autotuning on a GPU.
    pub first_ms: f64,
    /// FLOP-model cost of the step relative to nothing frozen.
    pub flop_ratio: f64,
    /// Largest device memory reserved by the allocator, sampled after each of this point's steps
    /// (MiB; the other points' models and optimizer states are alive too); `None` where the
    /// backend does not report it (CPU).
    pub peak_mib: Option<f64>,
    /// Resident memory of the whole process after this model and batch, all its points' models
    /// and optimizers dropped (MiB, Linux): growing across a sweep would be a leak.
    pub rss_after_mib: Option<f64>,
    /// Device memory still allocated (in use, not just reserved by the pool) at that moment
    /// (MiB); `None` where the backend does not report it (CPU). Growing across a sweep would
    /// be a leak on the device.
    pub in_use_after_mib: Option<f64>,
}

/// The benchmark's result.
#[derive(Clone, Debug, Serialize)]
pub struct SpeedReport {
    /// Settings.
    pub config: SpeedConfig,
    /// Units of the model.
    pub units: usize,
    /// Points in order of `fractions`.
    pub points: Vec<SpeedPoint>,
    /// Saving of the default schedule (cubic, t0 = 0.8, scaled) predicted from FLOPs.
    pub flop_saving: f64,
    /// The same predicted from the measured mean step times (interpolated between the points).
    pub measured_saving: Option<f64>,
    /// The reference formula for the same schedule.
    pub reference_formula: Option<f64>,
    /// The default schedule actually run, if asked for.
    pub scheduled: Option<ScheduledRun>,
    /// Savings predicted with the prefix cache from the measured points (all three step
    /// times interpolated between them), for the schedules and run lengths of `CACHE.md`.
    pub cache: Vec<CacheLine>,
}

/// One predicted run with the prefix cache.
#[derive(Clone, Debug, Serialize)]
pub struct CacheLine {
    /// The schedule (`cubic t0 0.8`, `linear unscaled t0 0.9`).
    pub schedule: String,
    /// Training samples and epochs of the run.
    pub samples: usize,
    /// Epochs.
    pub epochs: usize,
    /// `exact/reuse` or `shift`.
    pub mode: String,
    /// The savings.
    pub prediction: CachePrediction,
}

/// The run lengths the cache is predicted for, `(samples, epochs)`: for an image model the quick
/// setting (15,000 images, 5 epochs) and the paper's (50,000, 100); for a language model the
/// `text` table's (5,000 windows, 10 epochs) and ten times as many windows.
fn run_lengths(model: Preset) -> [(usize, usize); 2] {
    if model.is_text() { [(5_000, 10), (50_000, 10)] } else { [(15_000, 5), (50_000, 100)] }
}

/// The schedules and run lengths the cache is predicted for: FreezeOut's default and linear
/// unscaled t0 0.9 over `lengths`; `shift` only where the boundaries are feature maps (`maps`).
fn cache_lines(
    n: usize,
    batch: usize,
    points: &[SpeedPoint],
    maps: bool,
    lengths: [(usize, usize); 2],
) -> anyhow::Result<Vec<CacheLine>> {
    let interpolated = |f: fn(&SpeedPoint) -> f64| {
        let mut p: Vec<(usize, f64)> = points.iter().map(|p| (p.frozen, f(p))).collect();
        p.sort_by_key(|p| p.0);
        p.dedup_by_key(|p| p.0);
        MeasuredCost { points: p }
    };
    if points.iter().all(|p| p.frozen != 0) || points.len() < 2 {
        return Ok(Vec::new());
    }
    // With nothing frozen the four steps are one computation: one time (the uncached one's)
    // for all four, so the points' noise does not enter the savings.
    let (uncached, mut skipped, mut cached, mut missed) = (
        interpolated(|p| p.mean_ms),
        interpolated(|p| p.skip_mean_ms),
        interpolated(|p| p.cached_mean_ms),
        interpolated(|p| p.miss_mean_ms),
    );
    for other in [&mut skipped, &mut cached, &mut missed] {
        other.points[0].1 = uncached.points[0].1;
    }
    let costs = CacheCosts {
        uncached: &|k| uncached.step(k),
        skipped: &|k| skipped.step(k),
        cached: &|k| cached.step(k),
        missed: &|k| missed.step(k),
    };
    let schedules = [
        ("cubic t0 0.8", ScheduleConfig::default()),
        (
            "linear unscaled t0 0.9",
            ScheduleConfig { t0: 0.9, scaling: Scaling::Linear, scale_lr: false, ..Default::default() },
        ),
    ];
    let mut lines = Vec::new();
    for (samples, epochs) in lengths {
        for (name, config) in schedules {
            let total = (epochs * samples.div_ceil(batch)) as u64;
            let schedule = Schedule::freezeout(config, n, total)?;
            let modes = [("exact/reuse", CacheBuild::Always), ("shift", CacheBuild::Padded { factor: 1.5625 })];
            for (mode, build) in modes.into_iter().take(if maps { 2 } else { 1 }) {
                let prediction = cost::cached_saving(&schedule, samples, batch, &costs, build);
                lines.push(CacheLine { schedule: name.into(), samples, epochs, mode: mode.into(), prediction });
            }
        }
    }
    Ok(lines)
}

/// Runs the benchmark.
pub fn measure(config: &SpeedConfig) -> anyhow::Result<SpeedReport> {
    if config.model.is_text() && config.schedule_iters > 0 {
        anyhow::bail!(
            "--schedule-iters: the scheduled run trains the image models only; measure {} without it",
            config.model
        );
    }
    let device = config.device.autodiff_with(config.float)?;
    config.device.announce_first_steps();
    // A language model's head has one class per byte id.
    let spec = config.model.spec(if config.model.is_text() { VOCAB } else { config.classes });
    let n = spec.units.len();
    let costs = CostModel::from_spec(&spec);
    let steps = config.fractions.len() * (config.warmup + config.iters) + config.schedule_iters as usize;
    let report = Reporter::new(config.verbose, steps as u64, format!("{} batch {}", config.model, config.batch));
    let frozen: Vec<usize> =
        config.fractions.iter().map(|&fraction| ((fraction * n as f64).round() as usize).min(n)).collect();
    device.seed(0);
    let points = Points { config, frozen: &frozen, device: &device, report: &report };
    let timings = match config.model.is_text() {
        true => config.model.build_text(VOCAB, 0.0, &device, |model| points.text(model)),
        false => config.model.build(config.classes, 0.0, &device, points),
    };
    // The models and their optimizer states are dropped: give the pool's pages back.
    device.memory_cleanup();
    let rss_after_mib = resident_mib();
    let in_use_after_mib = device.memory_pool_usage().map(|u| u.bytes_in_use as f64 / MIB);
    let points: Vec<SpeedPoint> = config
        .fractions
        .iter()
        .zip(&frozen)
        .zip(timings)
        .map(|((&fraction, &frozen), t)| {
            let Timings {
                median_ms,
                mean_ms,
                forward_ms,
                skip_mean_ms,
                cached_mean_ms,
                miss_mean_ms,
                first_ms,
                peak_mib,
            } = t;
            let flop_ratio = costs.step(frozen) / costs.step(0);
            SpeedPoint {
                fraction,
                frozen,
                median_ms,
                mean_ms,
                forward_ms,
                skip_mean_ms,
                cached_mean_ms,
                miss_mean_ms,
                first_ms,
                flop_ratio,
                peak_mib,
                rss_after_mib,
                in_use_after_mib,
            }
        })
        .collect();
    // The default schedule over a nominal run (the saving does not depend on T much).
    let schedule = Schedule::freezeout(ScheduleConfig::default(), n, 100_000)?;
    let mut measured: Vec<(usize, f64)> = points.iter().map(|p| (p.frozen, p.mean_ms)).collect();
    measured.sort_by_key(|p| p.0);
    measured.dedup_by_key(|p| p.0);
    let measured =
        (measured.first().map(|p| p.0) == Some(0) && measured.len() >= 2).then_some(MeasuredCost { points: measured });
    let scheduled = match (&measured, config.schedule_iters) {
        (_, 0) => None,
        (Some(cost), iters) => {
            let run = scheduled::run(
                config.model,
                config.classes,
                config.batch,
                iters,
                config.warmup,
                cost,
                &device,
                &report,
            )?;
            device.memory_cleanup();
            Some(run)
        }
        (None, _) => anyhow::bail!(
            "a scheduled run is compared with step times at fixed frozen prefixes: \
             --fractions must include 0 and at least one other fraction"
        ),
    };
    report.finish();
    let maps = config.model.outputs_feature_maps();
    let cache = cache_lines(n, config.batch, &points, maps, run_lengths(config.model))?;
    Ok(SpeedReport {
        config: config.clone(),
        units: n,
        points,
        flop_saving: costs.predicted_saving(&schedule),
        measured_saving: measured.map(|cost| cost.predicted_saving(&schedule)),
        reference_formula: cost::reference_saving(&schedule, &costs.forward_costs()),
        scheduled,
        cache,
    })
}

/// What one point measured (ms, MiB).
struct Timings {
    median_ms: f64,
    mean_ms: f64,
    forward_ms: f64,
    skip_mean_ms: f64,
    cached_mean_ms: f64,
    miss_mean_ms: f64,
    first_ms: f64,
    peak_mib: Option<f64>,
}

/// Bytes per MiB.
const MIB: f64 = 1024.0 * 1024.0;

/// Resident memory of this process (MiB), from `/proc/self/status`; `None` elsewhere.
fn resident_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 =
        status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib / 1024.0)
}

/// All points of one model and batch, stepped in turn (one step of each point, then the next
/// round): slow drift and the machine's bursts of noise hit every point alike, so the ratios
/// between points (which the prediction is made of) do not depend on which point ran first.
/// Measured before this: on 2 CPU cores, points run one after the other gave the first point
/// (0% frozen) a median 15% slower than the same model's unfrozen steps later in the process.
struct Points<'a> {
    config: &'a SpeedConfig,
    frozen: &'a [usize],
    device: &'a burn::tensor::Device,
    report: &'a Reporter,
}

/// One point's model, optimizer and samples while the points take turns.
struct Lane<M> {
    frozen: usize,
    model: Option<M>,
    stepper: Stepper,
    driver: FreezeOutDriver,
    times: Vec<f64>,
    forward: Vec<f64>,
    /// The prefix's output for the batch, and the steps fed it.
    features: UnitTensor,
    skip: Vec<f64>,
    /// An `exact` cache holding the batch, and the steps through it.
    cache: PrefixCache,
    cached: Vec<f64>,
    /// The steps through an empty cache (a new one each step).
    missed: Vec<f64>,
    first: f64,
    peak: Option<u64>,
}

impl WithModel for Points<'_> {
    type Output = Vec<Timings>;
    /// An image classifier on random CIFAR-shaped images.
    fn run<M: FreezeOut + FreezeOutForward<4, 2> + 'static>(self, model: M) -> Self::Output {
        let (c, device) = (self.config, self.device);
        let images = Tensor::<4>::random([c.batch, 3, 32, 32], Distribution::Normal(0.0, 1.0), device);
        let targets = Tensor::<1, Int>::random([c.batch], Distribution::Uniform(0.0, c.classes as f64), device);
        let host = HostBatch::new(
            images.clone().into_data().iter::<f32>().collect(),
            [c.batch, 3, 32, 32],
            targets.clone().into_data().iter::<i64>().collect(),
        )
        .with_ids((0..c.batch as u64).collect());
        self.time(model, &Classification, host, images, targets, cross_entropy)
    }
}

impl Points<'_> {
    /// A language model on random windows of byte ids.
    fn text(self, model: CharGpt) -> Vec<Timings> {
        let (c, device) = (self.config, self.device);
        let ids = || Tensor::<2, Int>::random([c.batch, GPT_CONTEXT], Distribution::Uniform(0.0, VOCAB as f64), device);
        let (tokens, targets) = (ids(), ids());
        let host = TokenBatch {
            tokens: tokens.clone().into_data().iter::<i64>().collect(),
            targets: targets.clone().into_data().iter::<i64>().collect(),
            context: GPT_CONTEXT,
            ids: (0..c.batch as u64).collect(),
        };
        self.time(model, &LanguageModel, host, tokens, targets, next_token_cross_entropy)
    }

    /// Every point's steps on `model` with `task`: on `input` (the batch `host` on the device)
    /// and its `targets`; the skipped steps take `loss` of the model's output.
    fn time<M, T, Tg, const I: usize, const O: usize, K>(
        self,
        model: M,
        task: &T,
        host: T::Batch,
        input: Tensor<I, K>,
        targets: Tg,
        loss: fn(Tensor<O>, Tg) -> Tensor<1>,
    ) -> Vec<Timings>
    where
        M: FreezeOut + FreezeOutForward<I, O, K> + 'static,
        T: Task<M, Input = (Tensor<I, K>, Tg)>,
        T::Batch: CachedBatch + Clone,
        Tg: Clone + 'static,
        K: Autodiff + Send + 'static,
    {
        let (c, device) = (self.config, self.device);
        let train = TrainConfig::default();
        let schedule = Schedule::baseline(0.01, model.num_units(), 1_000_000).expect("valid baseline");
        let samples = InMemory { train: vec![host.clone()], eval: vec![] }.samples();
        let new_cache = || PrefixCache::new(CacheConfig::new(CacheMode::Exact).with_mem(1 << 30)).expect("1 GiB");
        let mut lanes: Vec<Lane<M>> = self
            .frozen
            .iter()
            .map(|&frozen| {
                let model = model.clone().freeze_units(frozen);
                let stepper = Stepper::new(&train, device);
                let driver = FreezeOutDriver::with_schedule(&model, schedule.clone())
                    .expect("the schedule has the model's units");
                let features = model.forward_unit_range(input.clone().into(), 0..frozen).expect("a generated forward");
                let cache = new_cache();
                Lane {
                    frozen,
                    model: Some(model),
                    stepper,
                    driver,
                    times: Vec::new(),
                    forward: Vec::new(),
                    features,
                    skip: Vec::new(),
                    cache,
                    cached: Vec::new(),
                    missed: Vec::new(),
                    first: 0.0,
                    peak: None,
                }
            })
            .collect();
        drop(model);
        for i in 0..c.warmup + c.iters {
            for lane in &mut lanes {
                let model = lane.model.take().expect("a lane holds its model between steps");
                let (next, r) = lane.stepper.step(model, task, (input.clone(), targets.clone()), &mut lane.driver);
                lane.driver.advance();
                lane.model = Some(next);
                if let Some(usage) = device.memory_pool_usage() {
                    lane.peak = Some(lane.peak.unwrap_or(0).max(usage.bytes_reserved));
                }
                self.report.step(
                    format_args!("step {} {} frozen {}", c.model, i, lane.frozen),
                    r.seconds * 1e3,
                    r.loss,
                );
                match i {
                    0 => lane.first = r.seconds * 1e3,
                    i if i >= c.warmup => lane.times.push(r.seconds * 1e3),
                    _ => {}
                }
                // The same step with the prefix skipped, and through the cache.
                let model = lane.model.take().expect("a lane holds its model between steps");
                let skip = Skip::<Tg, I, O, K> { unit: lane.frozen, loss, input: PhantomData };
                let (model, r) =
                    lane.stepper.step(model, &skip, (lane.features.clone(), targets.clone()), &mut lane.driver);
                let step = CacheStep { cache: &mut lane.cache, samples: samples.as_deref(), epoch: 0, device };
                let (model, cached) = lane
                    .stepper
                    .step_cached(model, task, host.clone(), step, &mut lane.driver)
                    .expect("an exact cache of a batch with ids");
                let mut empty = new_cache();
                let step = CacheStep { cache: &mut empty, samples: samples.as_deref(), epoch: 0, device };
                let (model, missed) = lane
                    .stepper
                    .step_cached(model, task, host.clone(), step, &mut lane.driver)
                    .expect("an exact cache of a batch with ids");
                lane.model = Some(model);
                if i >= c.warmup {
                    lane.skip.push(r.seconds * 1e3);
                    lane.cached.push(cached.seconds * 1e3);
                    lane.missed.push(missed.seconds * 1e3);
                }
            }
        }
        // The forward pass alone, in turn as well: the graph is built (training mode, as in a
        // step) and dropped. Burn's autodiff frees a graph that shares the model's parameters
        // only by a backward through it: a dropped forward keeps its saved activations (0.6 GB
        // per DenseNet-BC-40 forward at batch 50, measured), so an untimed backward follows.
        for _ in 0..c.iters.max(1) {
            for lane in &mut lanes {
                let model = lane.model.as_ref().expect("a lane holds its model");
                device.sync().ok();
                let t = Instant::now();
                let output = model.forward_freezeout(input.clone());
                device.sync().ok();
                lane.forward.push(t.elapsed().as_secs_f64() * 1e3);
                let _ = output.sum().backward();
            }
        }
        lanes
            .into_iter()
            .map(|lane| Timings {
                mean_ms: if lane.times.is_empty() { lane.first } else { mean(&lane.times) },
                median_ms: if lane.times.is_empty() { lane.first } else { median(lane.times) },
                forward_ms: median(lane.forward),
                skip_mean_ms: mean(&lane.skip),
                cached_mean_ms: mean(&lane.cached),
                miss_mean_ms: mean(&lane.missed),
                first_ms: lane.first,
                peak_mib: lane.peak.map(|b| b as f64 / MIB),
            })
            .collect()
    }
}

/// The step fed the prefix's output: the units from `unit` on and the head, then `loss`.
/// (`I`, `K`: the model's input, which the model's forward is typed by.)
struct Skip<Tg, const I: usize, const O: usize, K> {
    unit: usize,
    loss: fn(Tensor<O>, Tg) -> Tensor<1>,
    input: PhantomData<([(); I], K)>,
}

impl<M, Tg, const I: usize, const O: usize, K> Task<M> for Skip<Tg, I, O, K>
where
    M: FreezeOutForward<I, O, K>,
    Tg: 'static,
    K: Autodiff + Send + 'static,
{
    type Batch = (UnitTensor, Tg);
    type Input = (UnitTensor, Tg);
    fn batch_len(&self, batch: &Self::Batch) -> usize {
        batch.0.dims()[0]
    }
    fn to_device(&self, batch: Self::Batch, _device: &burn::tensor::Device) -> Self::Input {
        batch
    }
    fn forward(&self, model: &M, (x, targets): Self::Input) -> TaskOutput {
        let output = model.forward_from(x, self.unit).expect("a generated forward");
        let loss = (self.loss)(output, targets);
        TaskOutput { metric: loss.clone().detach(), loss }
    }
}

/// A plain-text table of a report.
pub fn render(report: &SpeedReport) -> String {
    let c = &report.config;
    let mut out = format!(
        "{} (N = {} units), batch {}, {} on {} in {}: median of {} steps after {} warm-up\n",
        c.model, report.units, c.batch, "random data", c.device, c.float, c.iters, c.warmup
    );
    out += "frozen  units  ms/step  vs 0%  FLOP model  forward ms  skipped ms  cached ms  miss ms  first step ms  peak MiB  RSS after MiB  in use after MiB\n";
    let base = report.points.iter().find(|p| p.frozen == 0).map(|p| p.median_ms);
    for p in &report.points {
        let ratio = base.map_or("n/a".to_string(), |b| format!("{:.3}", p.median_ms / b));
        out += &format!(
            "{:>5.0}%  {:>5}  {:>7.1}  {:>5}  {:>10.3}  {:>10.1}  {:>10.1}  {:>9.1}  {:>7.1}  {:>13.1}  {:>8}  {:>13}  {:>16}\n",
            100.0 * p.fraction,
            p.frozen,
            p.median_ms,
            ratio,
            p.flop_ratio,
            p.forward_ms,
            p.skip_mean_ms,
            p.cached_mean_ms,
            p.miss_mean_ms,
            p.first_ms,
            p.peak_mib.map_or("n/a".into(), |m| format!("{m:.0}")),
            p.rss_after_mib.map_or("n/a".into(), |m| format!("{m:.0}")),
            p.in_use_after_mib.map_or("n/a".into(), |m| format!("{m:.1}")),
        );
    }
    out += &format!(
        "default schedule (cubic, t0 0.8): saving predicted from FLOPs {:.1}%, from measured step times {}, reference formula {}\n",
        100.0 * report.flop_saving,
        report.measured_saving.map_or("n/a".into(), |s| format!("{:.1}%", 100.0 * s)),
        report.reference_formula.map_or("n/a".into(), |s| format!("{:.1}%", 100.0 * s)),
    );
    if !report.cache.is_empty() {
        out += "with the prefix cache (from the measured uncached / skipped / cached / miss step times): saving without, with, limit (a frozen unit costs nothing), with/limit\n";
    }
    for l in &report.cache {
        let p = l.prediction;
        out += &format!(
            "  {:<23} {:>6} samples {:>3} epochs  {:<11}  {:>5.1}%  {:>5.1}%  {:>5.1}%  {:.3}\n",
            l.schedule,
            l.samples,
            l.epochs,
            l.mode,
            100.0 * p.uncached,
            100.0 * p.cached,
            100.0 * p.limit,
            p.cached / p.limit
        );
    }
    if let Some(r) = &report.scheduled {
        out += &format!(
            "scheduled run ({} iterations, {} frozen at the end): measured saving {:.1}% vs {:.1}% predicted from the step times above (ratio {:.3}); unfrozen step {:.1} ms\n",
            r.iterations,
            r.frozen_at_end,
            100.0 * r.measured_saving,
            100.0 * r.predicted_saving,
            r.ratio,
            r.unfrozen_mean_ms,
        );
    }
    out
}
