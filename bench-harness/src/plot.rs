//! SVG plots: the design curve (test error vs measured saving per strategy), the per-unit
//! learning-rate curves of a schedule (the paper's Figure 1), the frozen fraction of the
//! units over a run, and Δ error against the length of training with its extrapolation.

use crate::table::Line;
use crate::table::trend::{self, PAPER_EPOCHS, TrendPoint};
use burn_freezeout::Schedule;
use plotters::prelude::*;
use plotters::style::{Palette, Palette99};
use std::path::Path;

const COLORS: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
];

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("plotting failed: {e}")
}

/// One point of the design curve: a line's mean saving and error (%), each with its standard
/// deviation over seeds (0 for one seed).
#[derive(Clone, Debug, PartialEq)]
struct DesignPoint {
    strategy: String,
    saving: f64,
    saving_std: f64,
    error: f64,
    error_std: f64,
}

/// The design curve's points: every line with a finite error and (but for the baseline, at 0)
/// a measured saving ([`Line::quoted_saving`]). A table of several models has a series per
/// model and strategy.
fn design_points(lines: &[Line]) -> Vec<DesignPoint> {
    let several_models = lines.iter().any(|l| l.model != lines[0].model);
    lines
        .iter()
        .filter_map(|l| {
            let (saving, saving_std) = match l.setting() {
                None => (0.0, 0.0),
                Some(_) => l.quoted_saving().map(|(s, _)| (s.mean, s.std))?,
            };
            Some(DesignPoint {
                strategy: if several_models { format!("{} {}", l.model, l.strategy) } else { l.strategy.clone() },
                saving: 100.0 * saving,
                saving_std: 100.0 * saving_std,
                error: 100.0 * l.test_error.mean,
                error_std: 100.0 * l.test_error.std,
            })
        })
        .filter(|p| p.saving.is_finite() && p.error.is_finite())
        .collect()
}

/// Test error (%) against measured saving (%, at the idle machine's step times where the table
/// has them, else against each run's own unfrozen steps), one series per strategy (and model),
/// the baseline at 0; with several seeds each point has error bars of one standard deviation
/// both ways.
pub fn design_curve(path: &Path, lines: &[Line]) -> anyhow::Result<()> {
    let pts = design_points(lines);
    let (mut x0, mut x1, mut y0, mut y1) = (0.0f64, 1.0f64, f64::INFINITY, f64::NEG_INFINITY);
    for p in &pts {
        x0 = x0.min(p.saving - p.saving_std);
        x1 = x1.max(p.saving + p.saving_std);
        y0 = y0.min(p.error - p.error_std);
        y1 = y1.max(p.error + p.error_std);
    }
    if !y0.is_finite() {
        (y0, y1) = (0.0, 100.0);
    }
    let pad = ((y1 - y0) * 0.1).max(0.5);
    let root = SVGBackend::new(path, (800, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("FreezeOut design curve: test error vs measured saving (± 1 sd over seeds)", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d((x0 - 2.0)..(x1 + 2.0), (y0 - pad)..(y1 + pad))
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("measured saving of training-step time (%; at idle step times where given)")
        .y_desc("test error (%)")
        .draw()
        .map_err(err)?;
    let mut strategies: Vec<String> = pts.iter().map(|p| p.strategy.clone()).collect();
    strategies.sort();
    strategies.dedup();
    for (i, s) in strategies.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let mut series: Vec<&DesignPoint> = pts.iter().filter(|p| &p.strategy == s).collect();
        series.sort_by(|a, b| a.saving.total_cmp(&b.saving));
        chart
            .draw_series(LineSeries::new(series.iter().map(|p| (p.saving, p.error)), color.stroke_width(2)))
            .map_err(err)?
            .label(s.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        chart.draw_series(series.iter().map(|p| Circle::new((p.saving, p.error), 4, color.filled()))).map_err(err)?;
        let bars = series.iter().filter(|p| p.error_std > 0.0 || p.saving_std > 0.0);
        chart
            .draw_series(bars.clone().map(|p| {
                ErrorBar::new_vertical(p.saving, p.error - p.error_std, p.error, p.error + p.error_std, color, 6)
            }))
            .map_err(err)?;
        chart
            .draw_series(bars.map(|p| {
                ErrorBar::new_horizontal(p.error, p.saving - p.saving_std, p.saving, p.saving + p.saving_std, color, 6)
            }))
            .map_err(err)?;
    }
    chart.configure_series_labels().border_style(BLACK).background_style(WHITE.mix(0.8)).draw().map_err(err)?;
    root.present().map_err(err)
}

/// The colour of unit `i` of `n` in [`lr_curves`]: from blue (the first unit) to red (the
/// last); the head is black.
fn unit_color(i: usize, n: usize) -> RGBColor {
    if i == n {
        return BLACK;
    }
    let f = i as f64 / n.saturating_sub(1).max(1) as f64;
    RGBColor((230.0 * f) as u8, 60, (230.0 * (1.0 - f)) as u8)
}

/// Learning rate of every unit (and the head) over the run, as in the paper's Figure 1; the
/// legend names the first, middle and last unit's colours (the others lie between) and the head.
pub fn lr_curves(path: &Path, schedule: &Schedule, title: &str) -> anyhow::Result<()> {
    let total = schedule.total_iterations;
    let n = schedule.num_units();
    let max_lr = (0..=n).map(|i| schedule.lr(i, 0)).fold(0.0, f64::max);
    let root = SVGBackend::new(path, (800, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(0.0..1.0f64, 0.0..max_lr * 1.05)
        .map_err(err)?;
    chart.configure_mesh().x_desc("fraction of training").y_desc("learning rate").draw().map_err(err)?;
    let steps = 400u64;
    let labelled = [0, n / 2, n.saturating_sub(1)];
    for i in 0..=n {
        let color = unit_color(i, n);
        let width = if i == n { 3 } else { 1 };
        let curve = (0..=steps).map(|s| {
            let j = (s * total.saturating_sub(1)) / steps;
            (j as f64 / total as f64, schedule.lr(i, j))
        });
        let series = chart.draw_series(LineSeries::new(curve, color.stroke_width(width))).map_err(err)?;
        let label = if i == n {
            Some("head (never frozen)".to_string())
        } else if labelled.contains(&i) {
            let which = if i == 0 {
                " (first)"
            } else if i + 1 == n {
                " (last)"
            } else {
                ""
            };
            Some(format!("unit {i}{which}"))
        } else {
            None
        };
        if let Some(label) = label {
            series
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(width)));
        }
    }
    chart.configure_series_labels().border_style(BLACK).background_style(WHITE.mix(0.8)).draw().map_err(err)?;
    root.present().map_err(err)
}

/// The frozen fraction of the units over the run, one line per labelled run (`(fraction of
/// training, fraction of units frozen)` points).
pub fn frozen_fraction(path: &Path, title: &str, runs: &[(String, Vec<(f64, f64)>)]) -> anyhow::Result<()> {
    let axes = Axes { x: (0.0, 1.0), y: (0.0, 1.05), labels: ("fraction of training", "fraction of units frozen") };
    labelled_lines(path, title, &axes, runs, SeriesLabelPosition::UpperLeft, false)
}

/// A chart's ranges and axis labels.
struct Axes {
    x: (f64, f64),
    y: (f64, f64),
    labels: (&'static str, &'static str),
}

/// One line per labelled run on `axes`, with a legend at `legend` (and a dot at each point
/// with `markers`).
fn labelled_lines(
    path: &Path,
    title: &str,
    axes: &Axes,
    runs: &[(String, Vec<(f64, f64)>)],
    legend: SeriesLabelPosition,
    markers: bool,
) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (800, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(axes.x.0..axes.x.1, axes.y.0..axes.y.1)
        .map_err(err)?;
    chart.configure_mesh().x_desc(axes.labels.0).y_desc(axes.labels.1).draw().map_err(err)?;
    for (i, (label, points)) in runs.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(err)?
            .label(label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        if markers {
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled()))).map_err(err)?;
        }
    }
    chart
        .configure_series_labels()
        .position(legend)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}

/// Time to accuracy: test error (%) against the minutes of training steps so far, after each
/// epoch, one line per labelled run (`(minutes, test error %)` points).
pub fn time_to_accuracy(path: &Path, title: &str, runs: &[(String, Vec<(f64, f64)>)]) -> anyhow::Result<()> {
    let points = || runs.iter().flat_map(|(_, p)| p.iter());
    let x1 = points().map(|p| p.0).fold(0.0, f64::max) * 1.05;
    let (y0, y1) = points().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.1), b.max(p.1)));
    if !(x1 > 0.0 && y0 <= y1) {
        anyhow::bail!("{}: no run with a test error per epoch", path.display());
    }
    let pad = ((y1 - y0) * 0.05).max(0.5);
    let axes = Axes { x: (0.0, x1), y: (y0 - pad, y1 + pad), labels: ("minutes of training steps", "test error (%)") };
    labelled_lines(path, title, &axes, runs, SeriesLabelPosition::UpperRight, true)
}

/// Δ test error (points) against epochs, one series per schedule with error bars of one
/// standard error over the seeds, each schedule's fit `c + d / E` (dashed where it extrapolates,
/// to the paper's 100 epochs) with its 95% band, and the baseline's zero.
pub fn length_trend(path: &Path, points: &[TrendPoint]) -> anyhow::Result<()> {
    let fits = trend::fits(points);
    let curve = |f: &trend::TrendFit, from: f64, band: f64| -> Vec<(f64, f64)> {
        (0..=60)
            .map(|i| from + (PAPER_EPOCHS as f64 - from) * i as f64 / 60.0)
            .map(|e| {
                let (y, se) = f.at(e);
                (e, 100.0 * (y + band * 1.96 * se))
            })
            .collect()
    };
    let mut ys: Vec<f64> = vec![0.0];
    for (ps, f) in &fits {
        ys.extend(
            ps.iter().flat_map(|p| [p.delta.mean - p.delta.sem(), p.delta.mean + p.delta.sem()].map(|v| 100.0 * v)),
        );
        if let Some(f) = f {
            let from = ps[0].epochs as f64;
            ys.extend(curve(f, from, -1.0).into_iter().chain(curve(f, from, 1.0)).map(|(_, y)| y));
        }
    }
    let (y0, y1) = ys.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &y| (a.min(y), b.max(y)));
    let pad = ((y1 - y0) * 0.1).max(0.25);
    let root = SVGBackend::new(path, (800, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "FreezeOut's Δ test error against the length of training (± 1 s.e.; fit c + d/E, 95% band)",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(0.0..(PAPER_EPOCHS as f64 + 5.0), (y0 - pad)..(y1 + pad))
        .map_err(err)?;
    chart.configure_mesh().x_desc("epochs").y_desc("Δ test error vs baseline (points)").draw().map_err(err)?;
    chart
        .draw_series(LineSeries::new([(0.0, 0.0), (PAPER_EPOCHS as f64 + 5.0, 0.0)], BLACK.stroke_width(1)))
        .map_err(err)?;
    for (i, (ps, f)) in fits.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let label = ps[0].setting.map_or(ps[0].strategy.clone(), |s| format!("{} {s}", ps[0].strategy));
        let data: Vec<(f64, f64)> = ps.iter().map(|p| (p.epochs as f64, 100.0 * p.delta.mean)).collect();
        chart
            .draw_series(LineSeries::new(data.clone(), color.stroke_width(2)))
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        chart.draw_series(data.iter().map(|&p| Circle::new(p, 4, color.filled()))).map_err(err)?;
        chart
            .draw_series(ps.iter().filter(|p| p.delta.n > 1).map(|p| {
                let (x, m, s) = (p.epochs as f64, 100.0 * p.delta.mean, 100.0 * p.delta.sem());
                ErrorBar::new_vertical(x, m - s, m, m + s, color, 6)
            }))
            .map_err(err)?;
        if let Some(f) = f {
            let from = ps[0].epochs as f64;
            chart.draw_series(DashedLineSeries::new(curve(f, from, 0.0), 6, 4, color.stroke_width(2))).map_err(err)?;
            for band in [-1.0, 1.0] {
                chart
                    .draw_series(DashedLineSeries::new(curve(f, from, band), 2, 4, color.mix(0.6).stroke_width(1)))
                    .map_err(err)?;
            }
        }
    }
    chart.configure_series_labels().border_style(BLACK).background_style(WHITE.mix(0.8)).draw().map_err(err)?;
    root.present().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Stat;

    fn line(strategy: &str, t0: Option<f64>, error: &[f64], own: &[f64]) -> Line {
        Line {
            model: "wrn-10-1".into(),
            dataset: "cifar10".into(),
            strategy: strategy.into(),
            epochs: 5,
            t0,
            threshold: None,
            test_error: Stat::of(error).unwrap(),
            delta_error: None,
            delta_error_relative: None,
            reference_saving: None,
            predicted_saving: 0.0,
            measured_saving: None,
            own_saving: Stat::of(own),
            idle_saving: None,
            wall_seconds: Stat::of(&[1.0]).unwrap(),
            cache_mib: None,
            hit_rate: None,
        }
    }

    /// A saving at idle step times is the one plotted; each model of a table is its own series.
    #[test]
    fn design_points_take_the_idle_saving_and_keep_models_apart() {
        let mut dense = line("cubic-scaled", Some(0.8), &[0.31], &[0.10]);
        dense.idle_saving = Stat::of(&[0.25]);
        let wrn = Line { model: "wrn-10-1".into(), ..line("cubic-scaled", Some(0.8), &[0.30], &[0.5]) };
        let dense = Line { model: "densenet-bc-40-12".into(), ..dense };
        let pts = design_points(&[dense, wrn]);
        let series: Vec<(&str, f64)> = pts.iter().map(|p| (p.strategy.as_str(), p.saving)).collect();
        assert_eq!(series, [("densenet-bc-40-12 cubic-scaled", 25.0), ("wrn-10-1 cubic-scaled", 50.0)]);
    }

    #[test]
    fn design_points_carry_one_standard_deviation_over_seeds() {
        let lines = [
            line("baseline", None, &[0.30, 0.32], &[]),
            line("cubic-scaled", Some(0.8), &[0.31, 0.35], &[0.10, 0.20]),
            line("cubic-scaled", Some(0.5), &[0.40], &[]),
        ];
        let pts = design_points(&lines);
        assert_eq!(pts.len(), 2, "a FreezeOut line without a measured saving is left out");
        assert_eq!((pts[0].strategy.as_str(), pts[1].strategy.as_str()), ("baseline", "cubic-scaled"));
        assert_eq!((pts[0].saving, pts[0].saving_std), (0.0, 0.0), "the baseline sits at 0");
        assert!((pts[0].error - 31.0).abs() < 1e-9 && (pts[0].error_std - 2f64.sqrt()).abs() < 1e-9);
        assert!((pts[1].saving - 15.0).abs() < 1e-9 && (pts[1].saving_std - 50f64.sqrt()).abs() < 1e-9);
        assert!((pts[1].error_std - 8f64.sqrt()).abs() < 1e-9);
    }

    #[test]
    fn the_length_trend_draws_every_schedule_and_its_fit() {
        let point = |strategy: &str, epochs: usize, d: &[f64]| TrendPoint {
            strategy: strategy.into(),
            setting: Some(0.8),
            epochs,
            delta: Stat::of(d).unwrap(),
        };
        let pts = vec![
            point("cubic-scaled", 5, &[0.02, 0.025]),
            point("cubic-scaled", 10, &[0.01, 0.012]),
            point("cubic-scaled", 20, &[0.008, 0.01]),
            point("linear-unscaled", 5, &[0.0, 0.001]),
            point("linear-unscaled", 10, &[-0.004, 0.0]),
        ];
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("length.svg");
        length_trend(&path, &pts).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(
            svg.contains("cubic-scaled 0.8") && svg.contains("linear-unscaled 0.8"),
            "both schedules in the legend"
        );
        // The fitted schedule's curve reaches the paper's 100 epochs; the other has no fit.
        assert_eq!(trend::fits(&pts).iter().map(|(_, f)| f.is_some()).collect::<Vec<_>>(), [true, false]);
    }

    #[test]
    fn lr_curves_run_from_blue_first_to_red_last_with_a_black_head() {
        assert_eq!(unit_color(0, 5), RGBColor(0, 60, 230));
        assert_eq!(unit_color(4, 5), RGBColor(230, 60, 0));
        assert_eq!(unit_color(5, 5), BLACK);
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("lr.svg");
        let schedule = Schedule::freezeout(burn_freezeout::ScheduleConfig::default(), 5, 100).unwrap();
        lr_curves(&path, &schedule, "test").unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        for label in ["unit 0 (first)", "unit 2", "unit 4 (last)", "head (never frozen)"] {
            assert!(svg.contains(label), "legend names {label}");
        }
    }
}
