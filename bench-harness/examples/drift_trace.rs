//! Diagnosis before tuning (POLICIES.md, "The drift signal"): every unit's representation drift
//! ([`burn_freezeout::drift`]) traced over a whole *baseline* run of the quick setting
//! (WRN-10-1, the first 15,000 CIFAR-10 training images, 5 epochs, batch 50, nothing frozen).
//! Every `R` iterations (after the update) the probe — training images 15,000..15,000+P, never
//! trained on — is sketched through every unit and handed to drift policies that only watch:
//! one with threshold 0 (its window signals are the trace: mean drift, and the remaining drift
//! it would compare with a threshold) and one per threshold of the `drift` preset and the
//! default, whose decisions replay the rule on this trace (what it would decide; the run
//! itself freezes nothing). Writes `drift_trace.csv` (per measurement: iteration, the rates
//! summed since the last one, each unit's drift), `drift_windows.csv` (per window: each unit's
//! mean drift and remaining drift) and `signal_trace.svg`, and prints the replay and what the
//! probe cost against the step.
//!
//! `cargo run --release -p bench-harness --example drift_trace -- [DATA] [OUT] [P] [EPOCHS] [SEED]`
//! (defaults: `$FREEZEOUT_DATA`, else `./data`; `results/drift-trace`, 50, 5, 0; `R` is the
//! drift policy's default `sample_every`)

use bench_harness::run::limit_with_probe;
use bench_harness::table::DRIFT_THRESHOLDS;
use burn::tensor::Device;
use burn_freezeout::data::DataSource;
use burn_freezeout::data::{self as cifar, CifarKind, Loader};
use burn_freezeout::drift::DriftProbe;
use burn_freezeout::models::WideResNet;
use burn_freezeout::policy::relative_change;
use burn_freezeout::train::{self, Progress, RunLog, TrainConfig};
use burn_freezeout::{Adaptive, AdaptiveConfig, FreezeOut, PolicyConfig};
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::time::Instant;

const BATCH: usize = 50;
const TRAIN_IMAGES: usize = 15_000;

/// One measurement: the iteration, the rates summed over the updates since the last one, each
/// unit's drift since then.
type Row = (u64, f64, Vec<f64>);

/// One panel: its title and one line of `(iteration, value)` points per unit.
type Panel<'a> = (&'a str, Vec<Vec<(f64, f64)>>);

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.to_string());
    let data = cifar::data_dir(args.first().map(PathBuf::from));
    let out = PathBuf::from(arg(1, "results/drift-trace"));
    let probe_size: usize = arg(2, "50").parse()?;
    let epochs: usize = arg(3, "5").parse()?;
    let seed: u64 = arg(4, "0").parse()?;
    std::fs::create_dir_all(&out)?;

    let mut cifar = cifar::load(&data, CifarKind::Cifar10)?;
    let held_out = limit_with_probe(&mut cifar.train, TRAIN_IMAGES, probe_size).expect("images past the limit");
    cifar.test.truncate(2000);
    let device = Device::flex().autodiff();
    // The probe: held-out training images, normalised with the training statistics, centred
    // (as `paper-repro train` takes it).
    let mut data = Loader::new(cifar.train, cifar.test, BATCH, seed).with_probe(held_out);
    let mut probe = DriftProbe::new(data.probe().expect("a probe").to_device(&device).0);
    let total = (epochs * data.train_batches_per_epoch()) as u64;

    device.seed(seed);
    let model = WideResNet::new(10, 1, 0.0, 10, &device);
    let units: Vec<String> = model.units().into_iter().map(|u| u.name).collect();
    let n = units.len();
    let config = TrainConfig { epochs, seed, policy: PolicyConfig::Baseline, ..TrainConfig::default() };
    let base_lr = config.schedule.base_lr;
    let defaults = AdaptiveConfig::drift();
    let every = defaults.sample_every;
    let watcher = |threshold| Adaptive::new(AdaptiveConfig { threshold, ..defaults }, base_lr, n, total);
    let mut trace = watcher(0.0)?;
    let thresholds: Vec<f64> = [DRIFT_THRESHOLDS.to_vec(), vec![3.0]].concat();
    let mut replays = thresholds.iter().map(|&t| watcher(t)).collect::<Result<Vec<_>, _>>()?;
    let lrs: Vec<f64> = (0..=total).map(|j| trace.global_lr(j)).collect();

    let (mut rows, mut probe_s, mut step_ms): (Vec<Row>, f64, Vec<f64>) = (Vec::new(), 0.0, Vec::new());
    let mut last: Option<(u64, Vec<Vec<f32>>)> = None;
    let mut log = RunLog::in_memory();
    let outcome = train::Fit::new(&config, &device)
        .log(&mut log)
        .observe(|progress, model| {
            let Progress::Step { iter: j, step_ms: ms, .. } = progress else { return };
            step_ms.push(ms);
            if j % every != 0 {
                return;
            }
            let t = Instant::now();
            let sketches = probe.sketches(model, 0..n).expect("WRN's forward is generated");
            probe_s += t.elapsed().as_secs_f64();
            for policy in std::iter::once(&mut trace).chain(replays.iter_mut()) {
                policy.begin(j);
                let watched = policy.watched();
                policy.observe_sketches(j, &sketches[watched]);
            }
            if let Some((before, old)) = &last {
                let drift: Vec<f64> = sketches.iter().zip(old).map(|(a, b)| relative_change(a, b)).collect();
                eprintln!("iteration {j}/{total}: drift {drift:.4?}");
                rows.push((j, lrs[*before as usize + 1..=j as usize].iter().sum(), drift));
            }
            last = Some((j, sketches));
        })
        .run(model, &mut data)?;
    for policy in std::iter::once(&mut trace).chain(replays.iter_mut()) {
        policy.begin(total);
    }

    let mut csv = csv::Writer::from_path(out.join("drift_trace.csv"))?;
    let mut header = vec!["iteration".to_string(), "rate_sum".to_string()];
    header.extend(units.iter().cloned());
    csv.write_record(&header)?;
    for (j, rates, drift) in &rows {
        let mut record = vec![j.to_string(), format!("{rates:.6}")];
        record.extend(drift.iter().map(|d| format!("{d:.6e}")));
        csv.write_record(&record)?;
    }
    csv.flush()?;
    let mut windows = csv::Writer::from_path(out.join("drift_windows.csv"))?;
    let mut header = vec!["window_end".to_string()];
    header.extend(units.iter().map(|u| format!("{u}_drift")));
    header.extend(units.iter().map(|u| format!("{u}_remaining")));
    windows.write_record(&header)?;
    for w in trace.signals() {
        let cell = |v: &Option<f64>| v.map_or(String::new(), |v| format!("{v:.6e}"));
        let mut record = vec![w.iteration.to_string()];
        record.extend(w.measures.iter().chain(&w.signals).map(cell));
        windows.write_record(&record)?;
    }
    windows.flush()?;
    plot(&out.join("signal_trace.svg"), &units, &rows, &trace)?;

    println!(
        "the drift rule replayed on this trace (window {}, patience {}, min_fraction {}):",
        defaults.window, defaults.patience, defaults.min_fraction
    );
    for (t, policy) in thresholds.iter().zip(&replays) {
        let left: Vec<String> = policy
            .decisions()
            .iter()
            .map(|d| {
                format!("{} at {} ({:.0} %)", units[d.unit], d.iteration, 100.0 * d.iteration as f64 / total as f64)
            })
            .collect();
        println!("  threshold {t}: {}", if left.is_empty() { "nothing leaves".to_string() } else { left.join(", ") });
    }
    step_ms.sort_by(f64::total_cmp);
    let median_ms = step_ms[step_ms.len() / 2];
    let measurements = (total / every + 1) as f64;
    let per_iteration_ms = 1e3 * probe_s / total as f64;
    println!(
        "WRN-10-1 baseline seed {seed}, {total} iterations, test error {:.2} %: median step {median_ms:.1} ms; \
         probe ({probe_size} images, every {every} iterations: one inference forward and {n} sketches) \
         {:.1} ms each, {per_iteration_ms:.2} ms per iteration amortised = {:.2} % of the step",
        100.0 * outcome.summary.test_error.unwrap_or(f64::NAN),
        1e3 * probe_s / measurements,
        100.0 * per_iteration_ms / median_ms
    );
    println!("wrote {}, drift_windows.csv and signal_trace.svg", out.join("drift_trace.csv").display());
    Ok(())
}

/// Three panels: each unit's drift per measurement interval, the same per unit of summed rate
/// (plasticity), and each window's remaining drift (the policy's signal).
fn plot(path: &Path, units: &[String], rows: &[Row], trace: &Adaptive) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (900, 1200)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((3, 1));
    let last = rows.last().map_or(1, |r| r.0) as f64;
    let series: [Panel; 3] = [
        (
            "drift per interval of 25 iterations (relative L2 change of the unit's output)",
            (0..units.len()).map(|i| rows.iter().map(|(j, _, d)| (*j as f64, d[i])).collect()).collect(),
        ),
        (
            "drift per unit of summed rate (plasticity)",
            (0..units.len()).map(|i| rows.iter().map(|(j, r, d)| (*j as f64, d[i] / r.max(1e-12))).collect()).collect(),
        ),
        (
            "remaining drift per window (the drift policy's signal)",
            (0..units.len())
                .map(|i| trace.signals().iter().filter_map(|w| Some((w.iteration as f64, w.signals[i]?))).collect())
                .collect(),
        ),
    ];
    for (panel, (title, lines)) in panels.iter().zip(series) {
        let values: Vec<f64> = lines.iter().flatten().map(|p| p.1).filter(|v| *v > 0.0 && v.is_finite()).collect();
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min).max(1e-9);
        let hi = values.iter().copied().fold(0.0, f64::max).max(lo * 10.0);
        let mut chart = ChartBuilder::on(panel)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..last, (lo..hi).log_scale())?;
        chart.configure_mesh().x_desc("iteration").draw()?;
        for (i, (name, points)) in units.iter().zip(lines).enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let points: Vec<(f64, f64)> = points.into_iter().filter(|(_, v)| *v > 0.0 && v.is_finite()).collect();
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))?
                .label(name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        }
        chart.configure_series_labels().border_style(BLACK).background_style(WHITE.mix(0.8)).draw()?;
    }
    root.present()?;
    Ok(())
}
