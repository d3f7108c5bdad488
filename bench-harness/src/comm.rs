//! Data-parallel training on paper: what the gradient all-reduce costs per step, and what
//! FreezeOut's frozen prefix takes out of it.
//!
//! Under burn-train's DDP every worker all-reduces the gradient of every parameter that has
//! one, one tensor at a time, as the backward pass produces it (burn-backend 0.22.1
//! `distributed/server.rs`: one `all_reduce` per parameter, no bucketing). A frozen unit's
//! parameters have no gradient (the `parallel` integration test counts them), so with the
//! first `k` units frozen a step exchanges the gradients of units `k..` and the head only:
//! [`exchanged`]. A ring all-reduce of `n` bytes over `p` workers moves `2 (p − 1) / p · n`
//! bytes through each worker's link (Patarasuk & Yuan 2009; nccl-tests' `busbw`), plus a fixed
//! cost per call: [`Link::allreduce_seconds`]. A step is the compute of [`CostModel::step`] at
//! a stated throughput plus that exchange ([`DataParallel`]), either after the backward pass
//! (`Overlap::None`) or hidden under it as far as it goes (`Overlap::Full`); summed over a
//! schedule's iterations it gives the saving at scale beside the single-device FLOP saving.

use crate::cost::{CostModel, saving};
use burn_freezeout::Schedule;
use burn_freezeout::models::spec::{ArchSpec, Layer};

/// A link between workers, as the ring all-reduce sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Link {
    /// Short name, for tables.
    pub name: &'static str,
    /// Bytes per second each way, per worker.
    pub bytes_per_s: f64,
    /// Seconds of every all-reduce call regardless of its size.
    pub call_s: f64,
    /// Seconds per hop of the ring, per call (`2 (p − 1)` hops).
    pub hop_s: f64,
    /// Where the bandwidth comes from.
    pub source: &'static str,
}

/// A100 SXM: NVLink 3, 600 GB/s per GPU both ways together, 300 GB/s each way.
pub const A100_NVLINK: Link = Link {
    name: "A100 NVLink",
    bytes_per_s: 300e9,
    call_s: 10e-6,
    hop_s: 0.5e-6,
    source: "NVIDIA A100 Tensor Core GPU datasheet: NVLink 600 GB/s (bidirectional)",
};

/// H100 SXM: NVLink 4, 900 GB/s per GPU both ways together, 450 GB/s each way.
pub const H100_NVLINK: Link = Link {
    name: "H100 NVLink",
    bytes_per_s: 450e9,
    call_s: 10e-6,
    hop_s: 0.5e-6,
    source: "NVIDIA H100 Tensor Core GPU datasheet: NVLink 900 GB/s (bidirectional)",
};

/// 100 Gb/s Ethernet between machines: 12.5 GB/s each way, per worker.
pub const ETHERNET_100G: Link = Link {
    name: "100 Gb/s Ethernet",
    bytes_per_s: 12.5e9,
    call_s: 20e-6,
    hop_s: 5e-6,
    source: "IEEE 802.3 100GBASE: 100 Gb/s = 12.5 GB/s each way",
};

impl Link {
    /// Seconds of one ring all-reduce of `bytes` over `workers`, in `calls` calls (one per
    /// tensor); 0 for one worker.
    pub fn allreduce_seconds(&self, bytes: u64, calls: usize, workers: usize) -> f64 {
        if workers < 2 {
            return 0.0;
        }
        let p = workers as f64;
        let hops = 2.0 * (p - 1.0);
        hops / p * bytes as f64 / self.bytes_per_s + calls as f64 * (self.call_s + hops * self.hop_s)
    }
}

/// A GPU's throughput on a training step, as assumed (not measured here).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gpu {
    /// Short name.
    pub name: &'static str,
    /// Floating-point operations per second a training step reaches.
    pub flops: f64,
    /// Where the figure comes from.
    pub source: &'static str,
}

/// A100 SXM at 40% of its dense TF32 peak (156 TFLOP/s).
pub const A100: Gpu =
    Gpu { name: "A100", flops: 0.4 * 156e12, source: "A100 datasheet: TF32 156 TFLOP/s dense; 40% assumed" };

/// H100 SXM at 40% of its dense TF32 peak (494.7 TFLOP/s; 989 with sparsity).
pub const H100: Gpu =
    Gpu { name: "H100", flops: 0.4 * 494.7e12, source: "H100 datasheet: TF32 989 TFLOP/s with sparsity; 40% assumed" };

/// What a step all-reduces with the first `k` units frozen: the gradients of units `k..` and
/// of the head (f32, one call per parameter tensor).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Exchange {
    /// Parameter tensors (all-reduce calls).
    pub tensors: usize,
    /// Bytes.
    pub bytes: u64,
}

/// The exchange of a step of `spec` with its first `k` units frozen.
pub fn exchanged(spec: &ArchSpec, k: usize) -> Exchange {
    let layers = spec.units[k.min(spec.units.len())..].iter().flat_map(|u| &u.layers).chain(&spec.head);
    layers.fold(Exchange::default(), |e, l| Exchange {
        tensors: e.tensors + tensors(l),
        bytes: e.bytes + 4 * l.params() as u64,
    })
}

/// Parameter tensors of a layer: a convolution's weight (no bias), BatchNorm's and LayerNorm's
/// scale and shift, a linear layer's weight and bias, a table.
fn tensors(layer: &Layer) -> usize {
    match layer {
        Layer::Conv { .. } | Layer::Table { .. } | Layer::Embedding { .. } => 1,
        Layer::Bn { .. } | Layer::Norm { .. } | Layer::Linear { .. } | Layer::Dense { .. } => 2,
        Layer::Attention { .. } => 0,
    }
}

/// Whether the all-reduce waits for the backward pass or hides under it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overlap {
    /// Compute, then exchange.
    None,
    /// The longer of the two (an upper bound on what overlapping can give).
    Full,
}

/// Data-parallel training of one model: its FLOP cost and exchange, on `workers` GPUs joined
/// by `link`, `batch` examples per GPU.
#[derive(Clone, Debug)]
pub struct DataParallel {
    spec: ArchSpec,
    cost: CostModel,
    /// Examples per GPU and step.
    pub batch: usize,
    /// The GPU.
    pub gpu: Gpu,
    /// Workers.
    pub workers: usize,
    /// The ring's slowest link.
    pub link: Link,
}

impl DataParallel {
    /// `spec` trained on `workers` × `gpu` over `link`, `batch` examples per GPU.
    pub fn new(spec: &ArchSpec, batch: usize, gpu: Gpu, workers: usize, link: Link) -> Self {
        Self { spec: spec.clone(), cost: CostModel::from_spec(spec), batch, gpu, workers, link }
    }

    /// Seconds of a step's compute with `k` units frozen (2 FLOPs per multiply-accumulate).
    pub fn compute_seconds(&self, k: usize) -> f64 {
        2.0 * self.cost.step(k) * self.batch as f64 / self.gpu.flops
    }

    /// Seconds of a step's all-reduce with `k` units frozen.
    pub fn exchange_seconds(&self, k: usize) -> f64 {
        let e = exchanged(&self.spec, k);
        self.link.allreduce_seconds(e.bytes, e.tensors, self.workers)
    }

    /// Seconds of a step with `k` units frozen.
    pub fn step_seconds(&self, k: usize, overlap: Overlap) -> f64 {
        let (c, x) = (self.compute_seconds(k), self.exchange_seconds(k));
        match overlap {
            Overlap::None => c + x,
            Overlap::Full => c.max(x),
        }
    }

    /// The wall-clock saving of `schedule` over the same run without freezing.
    pub fn predicted_saving(&self, schedule: &Schedule, overlap: Overlap) -> f64 {
        saving(schedule, |k| self.step_seconds(k, overlap))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn_freezeout::models::spec::{UnitSpec, wide_resnet};
    use burn_freezeout::{Scaling, ScheduleConfig};

    /// A ring over `p` workers moves `2 (p − 1) / p` of the buffer through each link, and one
    /// worker exchanges nothing.
    #[test]
    fn the_ring_moves_two_p_minus_one_over_p_of_the_buffer() {
        let link = Link { name: "", bytes_per_s: 1e9, call_s: 0.0, hop_s: 0.0, source: "" };
        assert_eq!(link.allreduce_seconds(1_000_000_000, 1, 1), 0.0);
        assert!((link.allreduce_seconds(1_000_000_000, 1, 2) - 1.0).abs() < 1e-12);
        assert!((link.allreduce_seconds(1_000_000_000, 1, 8) - 1.75).abs() < 1e-12);
        let calls = Link { call_s: 1e-5, hop_s: 1e-6, ..link };
        assert!((calls.allreduce_seconds(0, 3, 4) - 3.0 * (1e-5 + 6e-6)).abs() < 1e-15);
    }

    /// The exchange drops each frozen unit's parameters and tensors, never the head's.
    #[test]
    fn freezing_a_unit_takes_its_parameters_out_of_the_exchange() {
        let spec = ArchSpec {
            units: vec![
                UnitSpec { name: "a".into(), layers: vec![Layer::Conv { c_in: 3, c_out: 4, k: 3, hw: 8 }] },
                UnitSpec { name: "b".into(), layers: vec![Layer::Bn { c: 4, hw: 8 }] },
            ],
            head: vec![Layer::Linear { d_in: 4, d_out: 10 }],
        };
        assert_eq!(exchanged(&spec, 0), Exchange { tensors: 5, bytes: 4 * (108 + 8 + 50) });
        assert_eq!(exchanged(&spec, 1), Exchange { tensors: 4, bytes: 4 * (8 + 50) });
        assert_eq!(exchanged(&spec, 2), Exchange { tensors: 2, bytes: 4 * 50 });
        assert_eq!(exchanged(&spec, 2), exchanged(&spec, 9));
    }

    /// On one GPU the prediction is the FLOP prediction; with a compute too fast to matter it
    /// is the saving of the exchange alone; in between, each step is the sum of both.
    #[test]
    fn the_prediction_is_the_flop_one_on_one_gpu_and_the_exchange_one_without_compute() {
        let spec = wide_resnet(28, 10, 10);
        let schedule = Schedule::freezeout(
            ScheduleConfig { t0: 0.5, scaling: Scaling::Cubic, ..Default::default() },
            spec.units.len(),
            1000,
        )
        .unwrap();
        let flops = CostModel::from_spec(&spec).predicted_saving(&schedule);
        let one = DataParallel::new(&spec, 64, A100, 1, ETHERNET_100G);
        assert!((one.predicted_saving(&schedule, Overlap::None) - flops).abs() < 1e-12);
        let instant = Gpu { flops: f64::INFINITY, ..A100 };
        let bound = DataParallel::new(&spec, 64, instant, 64, ETHERNET_100G);
        let exchange_only = saving(&schedule, |k| bound.exchange_seconds(k));
        assert!((bound.predicted_saving(&schedule, Overlap::None) - exchange_only).abs() < 1e-12);
        let both = DataParallel::new(&spec, 64, A100, 64, ETHERNET_100G);
        assert_eq!(both.step_seconds(3, Overlap::None), both.compute_seconds(3) + both.exchange_seconds(3));
        assert_eq!(both.step_seconds(3, Overlap::Full), both.compute_seconds(3).max(both.exchange_seconds(3)));
    }
}
