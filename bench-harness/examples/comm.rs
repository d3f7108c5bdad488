//! The data-parallel communication model as tables (PERF.md, "Data-parallel FreezeOut"):
//! what a step all-reduces with 0/25/50/75% of the units frozen, and the predicted step-time
//! and whole-run savings on 8 and 64 GPUs over NVLink and 100 Gb/s Ethernet.
//!
//! `cargo run --release -p bench-harness --example comm`

use bench_harness::comm::{
    A100, A100_NVLINK, DataParallel, ETHERNET_100G, Gpu, H100, H100_NVLINK, Link, Overlap, exchanged,
};
use bench_harness::cost::CostModel;
use burn_freezeout::models::Preset;
use burn_freezeout::{Schedule, ScheduleConfig};

/// Examples per GPU and step.
const BATCH: usize = 64;
const FRACTIONS: [f64; 4] = [0.0, 0.25, 0.5, 0.75];

fn main() {
    let models = [Preset::DenseNetBc { depth: 100, growth: 12 }, Preset::Wrn { depth: 28, width: 10 }, Preset::Vgg16];
    let clusters: [(Gpu, usize, Link); 5] = [
        (A100, 8, A100_NVLINK),
        (H100, 8, H100_NVLINK),
        (A100, 8, ETHERNET_100G),
        (A100, 64, ETHERNET_100G),
        (H100, 64, ETHERNET_100G),
    ];

    println!("What a step all-reduces (f32 gradients; one call per parameter tensor):\n");
    println!("| model | units | 0% frozen | 25% | 50% | 75% |");
    println!("|---|---|---|---|---|---|");
    for preset in models {
        let spec = preset.spec(10);
        let n = spec.units.len();
        let cells: Vec<String> = FRACTIONS
            .iter()
            .map(|f| {
                let e = exchanged(&spec, frozen(*f, n));
                format!("{:.1} MB / {} tensors", e.bytes as f64 / 1e6, e.tensors)
            })
            .collect();
        println!("| {preset} | {n} | {} |", cells.join(" | "));
    }

    println!(
        "\nPredicted, batch {BATCH} per GPU: a step at 0% frozen (compute + all-reduce, ms), the step-time saving \
         with 25/50/75% of the units frozen, and the whole run's saving under FreezeOut's default schedule \
         (cubic, t0 0.8): one GPU's FLOP saving beside data-parallel with the all-reduce after the backward \
         pass / fully hidden under it.\n"
    );
    println!(
        "| model | GPUs | link | step at 0% (ms) | exchange share | 25% | 50% | 75% | run: 1 GPU | run: serial | run: hidden |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for preset in models {
        let spec = preset.spec(10);
        let n = spec.units.len();
        let schedule = Schedule::freezeout(ScheduleConfig::default(), n, 100_000).expect("the default schedule");
        let flop_saving = CostModel::from_spec(&spec).predicted_saving(&schedule);
        for (gpu, workers, link) in clusters {
            let dp = DataParallel::new(&spec, BATCH, gpu, workers, link);
            let (c, x) = (dp.compute_seconds(0), dp.exchange_seconds(0));
            let full = dp.step_seconds(0, Overlap::None);
            let savings: Vec<String> = FRACTIONS[1..]
                .iter()
                .map(|f| pct(1.0 - dp.step_seconds(frozen(*f, n), Overlap::None) / full))
                .collect();
            println!(
                "| {preset} | {workers} × {} | {} | {:.2} + {:.2} | {} | {} | {} | {} | {} |",
                gpu.name,
                link.name,
                1e3 * c,
                1e3 * x,
                pct(x / (c + x)),
                savings.join(" | "),
                pct(flop_saving),
                pct(dp.predicted_saving(&schedule, Overlap::None)),
                pct(dp.predicted_saving(&schedule, Overlap::Full)),
            );
        }
    }

    println!("\nSources and assumptions:");
    for link in [A100_NVLINK, H100_NVLINK, ETHERNET_100G] {
        println!(
            "- {}: {:.1} GB/s each way ({}); {:.0} µs per call + {:.1} µs per ring hop (assumed, the order of \
             nccl-tests' small-message times)",
            link.name,
            link.bytes_per_s / 1e9,
            link.source,
            link.call_s * 1e6,
            link.hop_s * 1e6
        );
    }
    for gpu in [A100, H100] {
        println!("- {}: {:.0} TFLOP/s on a step ({})", gpu.name, gpu.flops / 1e12, gpu.source);
    }
    println!(
        "- ring all-reduce: 2 (p − 1) / p of the buffer through each link (Patarasuk & Yuan 2009; nccl-tests \
         doc/PERFORMANCE.md, busbw); 64 GPUs: 8 machines, the ring as fast as its slowest link (the network)"
    );
}

/// Units frozen at fraction `f` of `n`.
fn frozen(f: f64, n: usize) -> usize {
    (f * n as f64).round() as usize
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}
