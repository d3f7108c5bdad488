//! Step time with 0%, 50% and 90% of the units frozen (WRN-16-2, batch 32, CPU), and the
//! ratios to the unfrozen step. `cargo bench -p bench-harness`.

use bench_harness::bench::speed::{self, SpeedConfig};
use burn_freezeout::device::DeviceKind;
use burn_freezeout::models::Preset;
use criterion::{Criterion, criterion_group, criterion_main};

fn freeze_fractions(c: &mut Criterion) {
    let config = SpeedConfig {
        model: Preset::Wrn { depth: 16, width: 2 },
        classes: 10,
        batch: 32,
        iters: 5,
        warmup: 1,
        fractions: vec![0.0, 0.5, 0.9],
        device: DeviceKind::Cpu,
        verbose: false,
        schedule_iters: 0,
        float: Default::default(),
    };
    let mut group = c.benchmark_group("freezeout_step");
    group.sample_size(10);
    let mut last = None;
    group.bench_function("wrn-16-2 batch 32, 0/50/90% frozen", |b| {
        b.iter(|| last = Some(speed::measure(&config).expect("benchmark runs")))
    });
    group.finish();
    if let Some(report) = last {
        println!("\n{}", speed::render(&report));
    }
}

criterion_group!(benches, freeze_fractions);
criterion_main!(benches);
