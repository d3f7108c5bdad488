//! Burn's wgpu backend (feature `wgpu`; CI runs it on Mesa's software Vulkan driver): a user's
//! model trains there with FreezeOut as on the CPU. The same units freeze at the same
//! iterations, every loss is within [`LOSS_TOLERANCE`] of the CPU's, frozen parameters do not
//! change, and the prefix cache's upload path (entries kept in host memory, each batch's hits
//! sent to the device) trains as the uncached run does.
//!
//! CubeCL's autotune and kernel compilation are bounded by this crate's `cubecl.toml` (autotune
//! level `minimal`), read from the test's working directory.

#![cfg(feature = "wgpu")]

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::tensor::{Device, Tensor};
use downstream_fixture::Net;
use fo::cache::{CacheConfig, CacheMode};
use fo::data::{HostBatch, InMemory};
use fo::device::DeviceKind;
use fo::train::{Fit, Progress, RunLog, RunSummary, TrainConfig};
use fo::{FreezeOut, Scaling, ScheduleConfig, head_param_ids};
use std::collections::HashMap;

/// The largest difference allowed between a loss on wgpu and the same iteration's loss on the
/// CPU, relative to the CPU's. The backends sum in different orders (flex's convolutions against
/// CubeCL's kernels), and the difference compounds over the updates. The task keeps every loss
/// between 0.1 and 2, so the bound is tight in absolute terms too.
const LOSS_TOLERANCE: f32 = 1e-3;

/// Iterations: five epochs of four batches.
const TOTAL: u64 = 20;

/// A linear schedule from t0 = 0.3 (LR scaling on): unit 0 trains through iteration 6 and unit 1
/// through iteration 13 of 20, then each is frozen.
fn config(cache: CacheConfig) -> TrainConfig {
    let schedule = ScheduleConfig { t0: 0.3, scaling: Scaling::Linear, scale_lr: true, base_lr: 0.02 };
    TrainConfig { epochs: 5, schedule, cache, ..TrainConfig::default() }
}

/// `batches` batches of eight 8×8 RGB images of 4 classes (the class's quadrant slightly
/// brighter, under strong deterministic noise: learnable, but not to a vanishing loss),
/// numbered by `ids` as the prefix cache needs.
fn quadrants(batches: usize, seed: u64) -> Vec<HostBatch> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut noise = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 3.0
    };
    (0..batches)
        .map(|b| {
            let labels: Vec<i64> = (0..8).map(|i| ((i * 3 + b) % 4) as i64).collect();
            let mut images = Vec::with_capacity(8 * 3 * 64);
            for &class in &labels {
                for _channel in 0..3 {
                    for y in 0..8 {
                        for x in 0..8 {
                            let quadrant = (y >= 4) as i64 * 2 + (x >= 4) as i64;
                            images.push(if quadrant == class { 0.2 } else { 0.0 } + noise());
                        }
                    }
                }
            }
            let ids = (0..8).map(|i| (b * 8 + i) as u64).collect();
            HostBatch::new(images, [8, 3, 8, 8], labels).with_ids(ids)
        })
        .collect()
}

/// Every float parameter's values by id.
fn snapshot(model: &Net) -> HashMap<ParamId, Vec<f32>> {
    struct Snap(HashMap<ParamId, Vec<f32>>);
    impl ModuleVisitor for Snap {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            self.0.insert(p.id, p.val().into_data().iter::<f32>().collect());
        }
    }
    let mut s = Snap(HashMap::new());
    model.visit(&mut s);
    s.0
}

/// What one run gave: every iteration's loss, the freeze events `(iteration, frozen units)`,
/// the parameters right after each unit's last trained iteration, the final parameters and the
/// summary.
struct Run {
    losses: Vec<f32>,
    freezes: Vec<(u64, u64)>,
    at_freeze: HashMap<usize, HashMap<ParamId, Vec<f32>>>,
    last: HashMap<ParamId, Vec<f32>>,
    summary: RunSummary,
}

/// Trains a copy of `initial` (a CPU model) on `device`.
fn run(initial: &Net, device: &Device, cache: CacheConfig) -> Run {
    let config = config(cache);
    // A copy through the record (clones of a module share their BatchNorm running statistics,
    // and one run would start the next from its own), forked to the device: its parameters are
    // leaves of the device's own autodiff graph (`to_device` would record the move in the CPU's).
    let cpu = Device::flex().autodiff();
    let model = Net::new(8, 4, &cpu).load_record(initial.clone().into_record()).fork(device);
    let mut data = InMemory { train: quadrants(4, 1), eval: quadrants(1, 2) };
    let schedule = config.schedule(model.num_units(), TOTAL).unwrap();
    let mut log = RunLog::in_memory();
    let mut at_freeze = HashMap::new();
    let out = Fit::new(&config, device)
        .log(&mut log)
        .observe(|p, m: &Net| {
            let Progress::Step { iter, .. } = p else { return };
            for (i, plan) in schedule.units().iter().enumerate() {
                if plan.max_iter == iter {
                    at_freeze.insert(i, snapshot(m));
                }
            }
        })
        .run(model, &mut data)
        .unwrap();
    let events = |name: &str| log.events.iter().filter(|e| e["event"] == name).cloned().collect::<Vec<_>>();
    Run {
        losses: events("iter").iter().map(|e| e["loss"].as_f64().unwrap() as f32).collect(),
        freezes: events("freeze").iter().map(|e| (e["iter"].as_u64().unwrap(), e["frozen"].as_u64().unwrap())).collect(),
        at_freeze,
        last: snapshot(&out.model),
        summary: out.summary,
    }
}

fn wgpu() -> Device {
    DeviceKind::Wgpu.autodiff().expect("built with the wgpu feature")
}

fn initial() -> Net {
    let cpu = Device::flex().autodiff();
    cpu.seed(3);
    Net::new(8, 4, &cpu)
}

/// `a` within [`LOSS_TOLERANCE`] of `b` at every iteration; the largest difference.
fn assert_losses_close(a: &[f32], b: &[f32], what: &str) -> f32 {
    assert_eq!(a.len(), b.len(), "{what}: iterations");
    let mut largest = 0.0f32;
    for (j, (x, y)) in a.iter().zip(b).enumerate() {
        let allowed = LOSS_TOLERANCE * y.abs();
        assert!(x.is_finite() && (x - y).abs() <= allowed, "{what}: iteration {j}: loss {x} against {y}");
        largest = largest.max((x - y).abs());
    }
    eprintln!("{what}: largest loss difference {largest:e} over {} iterations", a.len());
    largest
}

#[test]
fn wgpu_trains_as_the_cpu_does_and_frozen_units_stay_unchanged() {
    let model = initial();
    let cpu = run(&model, &Device::flex().autodiff(), CacheConfig::default());
    let gpu = run(&model, &wgpu(), CacheConfig::default());

    assert_eq!(gpu.freezes, cpu.freezes, "the same units freeze at the same iterations");
    assert_eq!(gpu.freezes, vec![(7, 1), (14, 2)], "both units froze after their budgets");
    assert_eq!(gpu.losses.len() as u64, TOTAL);
    assert_losses_close(&gpu.losses, &cpu.losses, "wgpu against the CPU");
    assert!(gpu.losses.last() < gpu.losses.first(), "it learned: {:?}", gpu.losses);

    // Every unit's parameters are at the end what they were right after its last trained
    // iteration, bit for bit, on the device; before that it trained.
    let first = snapshot(&model);
    for unit in model.units() {
        for id in &unit.param_ids {
            assert_eq!(gpu.at_freeze[&unit.index][id], gpu.last[id], "unit {} changed after it froze", unit.name);
        }
        assert!(unit.param_ids.iter().any(|id| first[id] != gpu.last[id]), "unit {} never trained", unit.name);
    }
    // The head trained to the end.
    assert!(head_param_ids(&model).iter().any(|id| gpu.at_freeze[&1][id] != gpu.last[id]));
}

#[test]
fn the_prefix_cache_uploads_its_entries_to_wgpu_and_trains_as_without_it() {
    let model = initial();
    let device = wgpu();
    let plain = run(&model, &device, CacheConfig::default());
    let cached = run(&model, &device, CacheConfig::new(CacheMode::Exact));
    assert_eq!(cached.freezes, plain.freezes);
    assert_losses_close(&cached.losses, &plain.losses, "cached against uncached, both on wgpu");
    // It did cache: in the last epoch every lookup hit, at the full prefix (the entries live in
    // host memory; each batch's hits went up to the device).
    let last = cached.summary.epochs.last().and_then(|e| e.cache).expect("a cached run records its cache");
    assert_eq!((last.boundary, last.entries, last.lookups, last.hits), (2, 32, 32, 32), "{last:?}");
}
