//! SVG plots: the design curve (test error vs measured saving per strategy), the per-unit
//! learning-rate curves of a schedule (the paper's Figure 1) and the frozen fraction of the
//! units over a run.

use crate::table::Line;
use freezeout_core::Schedule;
use plotters::prelude::*;
use plotters::style::{Palette, Palette99};
use std::path::Path;

const COLORS: [RGBColor; 5] = [RGBColor(31, 119, 180), RGBColor(255, 127, 14), RGBColor(44, 160, 44), RGBColor(214, 39, 40), RGBColor(148, 103, 189)];

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("plotting failed: {e}")
}

/// Test error (%) against measured saving (%, against each run's own unfrozen steps), one series
/// per strategy, the baseline at 0.
pub fn design_curve(path: &Path, lines: &[Line]) -> anyhow::Result<()> {
    let pts: Vec<(String, f64, f64)> = lines
        .iter()
        .filter_map(|l| {
            let saving = if l.t0.is_none() { 0.0 } else { l.own_saving?.mean };
            Some((l.strategy.clone(), 100.0 * saving, 100.0 * l.test_error.mean))
        })
        .filter(|p| p.1.is_finite() && p.2.is_finite())
        .collect();
    let (mut x0, mut x1, mut y0, mut y1) = (0.0f64, 1.0f64, f64::INFINITY, f64::NEG_INFINITY);
    for p in &pts {
        x0 = x0.min(p.1);
        x1 = x1.max(p.1);
        y0 = y0.min(p.2);
        y1 = y1.max(p.2);
    }
    if !y0.is_finite() {
        (y0, y1) = (0.0, 100.0);
    }
    let pad = ((y1 - y0) * 0.1).max(0.5);
    let root = SVGBackend::new(path, (800, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("FreezeOut design curve: test error vs measured saving", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d((x0 - 2.0)..(x1 + 2.0), (y0 - pad)..(y1 + pad))
        .map_err(err)?;
    chart.configure_mesh().x_desc("measured saving of training-step time (%)").y_desc("test error (%)").draw().map_err(err)?;
    let mut strategies: Vec<String> = pts.iter().map(|p| p.0.clone()).collect();
    strategies.sort();
    strategies.dedup();
    for (i, s) in strategies.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let mut series: Vec<(f64, f64)> = pts.iter().filter(|p| &p.0 == s).map(|p| (p.1, p.2)).collect();
        series.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart
            .draw_series(LineSeries::new(series.clone(), color.stroke_width(2)))
            .map_err(err)?
            .label(s.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        chart.draw_series(series.iter().map(|&p| Circle::new(p, 4, color.filled()))).map_err(err)?;
    }
    chart.configure_series_labels().border_style(BLACK).background_style(WHITE.mix(0.8)).draw().map_err(err)?;
    root.present().map_err(err)
}

/// Learning rate of every unit (and the head) over the run, as in the paper's Figure 1.
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
    for i in 0..=n {
        let f = i as f64 / n.max(1) as f64;
        let shade = if i == n { BLACK } else { RGBColor((230.0 * f) as u8, 60, (230.0 * (1.0 - f)) as u8) };
        let curve = (0..=steps).map(|s| {
            let j = (s * total.saturating_sub(1)) / steps;
            (j as f64 / total as f64, schedule.lr(i, j))
        });
        chart.draw_series(LineSeries::new(curve, shade.stroke_width(if i == n { 3 } else { 1 }))).map_err(err)?;
    }
    root.present().map_err(err)
}

/// The frozen fraction of the units over the run, one line per labelled run (`(fraction of
/// training, fraction of units frozen)` points).
pub fn frozen_fraction(path: &Path, title: &str, runs: &[(String, Vec<(f64, f64)>)]) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (800, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(0.0..1.0f64, 0.0..1.05f64)
        .map_err(err)?;
    chart.configure_mesh().x_desc("fraction of training").y_desc("fraction of units frozen").draw().map_err(err)?;
    for (i, (label, points)) in runs.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(err)?
            .label(label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}
