//! What the run log says: one JSON line per event (start or resume, an adaptive policy's
//! signals and decisions, each freeze or unfreeze, each iteration, each epoch).

use super::{EpochStats, RunLog, TrainConfig, TrainError};
use crate::policy::{Decision, WindowSignal};
use crate::schedule::Schedule;
use crate::{FreezeOut, FreezeOutDriver, UnitInfo};
use serde::Serialize;
use std::path::Path;

/// One line of the log.
#[derive(Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(super) enum Event<'a> {
    Start {
        config: &'a TrainConfig,
        units: Vec<(usize, &'a str, usize)>,
        schedule: Option<&'a Schedule>,
    },
    /// An adaptive policy's signal at the end of a window.
    Signal(&'a WindowSignal),
    /// An adaptive policy's decision: a unit starts to leave training.
    Decision {
        #[serde(flatten)]
        decision: &'a Decision,
        name: &'a str,
    },
    Iter {
        iter: u64,
        epoch: usize,
        loss: f32,
        metric: f64,
        batch: usize,
        step_ms: f64,
        frozen: usize,
    },
    Freeze {
        iter: u64,
        frozen: usize,
        units: Vec<&'a str>,
        lrs: Vec<f64>,
    },
    /// Units trained again (a fine-tuning policy's prefix shrank): `units`, `frozen` left.
    Unfreeze {
        iter: u64,
        frozen: usize,
        units: Vec<&'a str>,
        lrs: Vec<f64>,
    },
    Resume {
        iter: u64,
        checkpoint: &'a Path,
    },
    Epoch(&'a EpochStats),
}

/// The driver's freeze of the current iteration, with what it decided in the log: an adaptive
/// policy's new signals and decisions, then the freeze itself.
pub(super) fn freeze_logged<M: FreezeOut>(
    driver: &mut FreezeOutDriver,
    model: M,
    units: &[UnitInfo],
    log: &mut RunLog,
) -> Result<M, TrainError> {
    let logged = |d: &FreezeOutDriver| {
        let (signals, decisions) = d.policy().adaptive().map_or((0, 0), |a| (a.signals().len(), a.decisions().len()));
        (d.events().len(), signals, decisions)
    };
    let (freezes, signals, decisions) = logged(driver);
    let model = driver.freeze(model);
    if let Some(a) = driver.policy().adaptive() {
        for s in &a.signals()[signals..] {
            log.event(&Event::Signal(s))?;
        }
        for d in &a.decisions()[decisions..] {
            log.event(&Event::Decision { decision: d, name: &units[d.unit].name })?;
        }
    }
    for e in &driver.events()[freezes..] {
        let units = e.units.iter().map(String::as_str).collect();
        let (iter, frozen, lrs) = (e.iteration, e.to, e.lrs.clone());
        log.event(&match e.is_unfreeze() {
            false => Event::Freeze { iter, frozen, units, lrs },
            true => Event::Unfreeze { iter, frozen, units, lrs },
        })?;
    }
    Ok(model)
}
