//! One FreezeOut position per worker of a `Learner`.
//!
//! A [`SharedDriver`] is the driver the wrapped model's clones and its rate schedulers share.
//! burn-train clones the model every step (clones share the position) and forks it once per
//! worker: under DDP each worker thread runs `learner.fork(device)` on its own clone of the
//! `Learner` before its first step (burn-train 0.22.1 `ddp/worker.rs`), the single- and
//! multi-device strategies fork once on the calling thread. [`Module::fork`] therefore gives the
//! model a position of its own, a copy of the one it had, and registers it as the position of
//! this thread's worker; the schedulers, which burn-train steps and checkpoints on the worker's
//! own thread, [`resolve`](SharedDriver::resolve) to it. Without a fork (your own strategy, a
//! test) everything stays on the position the model was built with.
//!
//! The workers of one training run also report their decisions to each other ([`Decisions`]):
//! two that froze different prefixes before the same iteration stop the run with both decisions
//! named. A run is what one [`lr_scheduler`](super::FreezeOutModel::lr_scheduler) call starts:
//! burn-train hands every worker a clone of it, and a later run of the same model (a sweep, a
//! second `launch`) gets a record of its own.
//! Burn cannot tell: its gradient sync server all-reduces each parameter among the devices that
//! registered it (burn-backend 0.22.1 `distributed/server.rs`), so a worker that kept a unit its
//! peers froze would go on updating it from its own gradients alone, and the replicas drift.

use super::{FreezeOutModel, StepTrace};
use crate::{FreezeOut, FreezeOutDriver, GradientCensus};
use burn::module::{Content, Devices, Module, ModuleDisplay, ModuleDisplayDefault, ModuleMapper, ModuleVisitor};
use burn::tensor::Device;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Instant;

/// What the forks of one wrapped model share: the decisions of the workers of its current
/// training run.
#[derive(Default)]
struct Run {
    decisions: Mutex<Arc<Mutex<Decisions>>>,
}

impl Run {
    fn decisions(&self) -> Arc<Mutex<Decisions>> {
        self.decisions.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// The frozen prefix each iteration ran with, as the first worker to reach it reported it.
#[derive(Default)]
struct Decisions {
    taken: BTreeMap<u64, (usize, String)>,
}

/// How many iterations back a decision is kept: data-parallel workers wait for each other at
/// every gradient all-reduce, so none is more than a step ahead of another.
const KEPT: u64 = 1024;

impl Decisions {
    /// Records that `worker` runs iteration `iteration` with `frozen` units frozen; panics if
    /// another worker ran it with another prefix.
    fn report(&mut self, iteration: u64, frozen: usize, worker: &str) {
        match self.taken.get(&iteration) {
            Some((theirs, other)) if *theirs != frozen => panic!(
                "FreezeOut: data-parallel workers disagree on the frozen prefix of iteration {iteration}: {other} \
                 runs it with {theirs} units frozen, {worker} with {frozen}. Every worker must take the same \
                 decision, or their replicas drift apart (Burn all-reduces a parameter among the workers that \
                 have its gradient): give every worker the same policy, the same checkpoint and the same \
                 number of steps"
            ),
            Some(_) => {}
            None => {
                self.taken.insert(iteration, (frozen, worker.to_owned()));
                self.taken.retain(|&j, _| j + KEPT >= iteration);
            }
        }
    }
}

/// A position forked on a thread, and the run it belongs to.
type Fork = (Weak<Run>, Weak<Mutex<FreezeOutDriver>>);

thread_local! {
    /// The positions forked on this thread, by run: this thread's worker's.
    static FORKS: RefCell<Vec<Fork>> = const { RefCell::new(Vec::new()) };
}

/// The driver of a wrapped model: its position (shared by its clones until a fork) and the run
/// it belongs to.
#[derive(Clone)]
pub(crate) struct SharedDriver {
    run: Arc<Run>,
    driver: Arc<Mutex<FreezeOutDriver>>,
    /// The worker, in messages: the device it was forked to (empty before any fork).
    worker: String,
    /// This position's steps, when traced.
    trace: Option<Arc<Mutex<Trace>>>,
    /// The decisions of the training run this fork works for (`None` before a fork: the run's
    /// current ones).
    decisions: Option<Arc<Mutex<Decisions>>>,
}

/// The steps of one worker, and when its last one ended.
#[derive(Default)]
pub(crate) struct Trace {
    pub(crate) steps: Vec<StepTrace>,
    last: Option<Instant>,
}

impl SharedDriver {
    pub(crate) fn new(driver: FreezeOutDriver) -> Self {
        let driver = Arc::new(Mutex::new(driver));
        Self { run: Arc::default(), driver, worker: String::new(), trace: None, decisions: None }
    }

    /// A new training run (a new scheduler): its workers' decisions are checked against each
    /// other, not against an earlier run's.
    pub(crate) fn start_run(&self) {
        *self.run.decisions.lock().unwrap_or_else(PoisonError::into_inner) = Arc::default();
    }

    /// The same position, its steps traced from now on.
    pub(crate) fn traced(self) -> Self {
        Self { trace: Some(Arc::default()), ..self }
    }

    /// The steps traced so far (none if untraced).
    pub(crate) fn trace(&self) -> Vec<StepTrace> {
        self.trace.as_ref().map(|t| t.lock().unwrap_or_else(PoisonError::into_inner).steps.clone()).unwrap_or_default()
    }

    /// Whether steps are traced.
    pub(crate) fn is_traced(&self) -> bool {
        self.trace.is_some()
    }

    /// This position.
    pub(crate) fn lock(&self) -> MutexGuard<'_, FreezeOutDriver> {
        self.driver.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The position of this thread's worker of the run: the last fork made on this thread, or
    /// this one if none is alive.
    pub(crate) fn resolve(&self) -> SharedDriver {
        let forked = FORKS.with_borrow(|forks| {
            forks.iter().find(|(run, _)| run.as_ptr() == Arc::as_ptr(&self.run)).and_then(|(_, d)| d.upgrade())
        });
        match forked {
            Some(driver) => SharedDriver { driver, ..self.clone() },
            None => self.clone(),
        }
    }

    /// A position of its own for the worker of this thread, a copy of this one.
    fn fork(&self, device: &Device) -> SharedDriver {
        let driver = Arc::new(Mutex::new(self.lock().clone()));
        FORKS.with_borrow_mut(|forks| {
            forks.retain(|(run, d)| {
                run.strong_count() > 0 && d.strong_count() > 0 && run.as_ptr() != Arc::as_ptr(&self.run)
            });
            forks.push((Arc::downgrade(&self.run), Arc::downgrade(&driver)));
        });
        SharedDriver {
            run: self.run.clone(),
            driver,
            worker: format!("the worker on {device:?}"),
            trace: self.trace.as_ref().map(|_| Arc::default()),
            decisions: Some(self.run.decisions()),
        }
    }

    /// After the optimizer step: the next iteration, and the units whose budget it has spent
    /// frozen before its forward pass; the decision is checked against the run's other workers.
    /// A traced step (`gradients`: what it held) is timed to its end, the device synchronised.
    pub(crate) fn advance<M: FreezeOut>(self, model: M, gradients: Option<GradientCensus>) -> FreezeOutModel<M> {
        if let Some(trace) = &self.trace {
            if let Some(device) = model.devices().first() {
                device.sync().ok();
            }
            let now = Instant::now();
            let mut trace = trace.lock().unwrap_or_else(PoisonError::into_inner);
            let driver = self.lock();
            let step = StepTrace {
                iteration: driver.iteration(),
                frozen_units: driver.frozen_units(),
                gradients,
                seconds: trace.last.map(|t| (now - t).as_secs_f64()),
            };
            trace.steps.push(step);
            trace.last = Some(now);
        }
        let mut driver = self.lock();
        driver.advance();
        let seen = driver.events().len();
        let model = driver.freeze(model);
        for e in &driver.events()[seen..] {
            log::info!(
                "FreezeOut: {} {:?} before iteration {} ({} of {} units frozen)",
                if e.is_unfreeze() { "unfroze" } else { "froze" },
                e.units,
                e.iteration,
                e.to,
                driver.num_units()
            );
        }
        let (iteration, frozen) = (driver.iteration(), driver.frozen_units());
        drop(driver);
        let worker = if self.worker.is_empty() { "a worker" } else { &self.worker };
        let decisions = self.decisions.clone().unwrap_or_else(|| self.run.decisions());
        decisions.lock().unwrap_or_else(PoisonError::into_inner).report(iteration, frozen, worker);
        FreezeOutModel::from_parts(model, self)
    }
}

/// The driver's short form (burn-train's summary prints a model's fields with it).
impl std::fmt::Debug for SharedDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.driver.try_lock() {
            Ok(driver) => std::fmt::Debug::fmt(&*driver, f),
            Err(_) => f.write_str("FreezeOutDriver { .. }"),
        }
    }
}

/// A module without parameters whose fork is a worker's own position (the rest is a clone).
impl Module for SharedDriver {
    fn collect_devices(&self, devices: Devices) -> Devices {
        devices
    }

    fn fork(self, device: &Device) -> Self {
        SharedDriver::fork(&self, device)
    }

    fn to_device(self, _device: &Device) -> Self {
        self
    }

    fn train(self) -> Self {
        self
    }

    fn valid(&self) -> Self {
        self.clone()
    }

    fn materialize(self) -> Self {
        self
    }

    fn visit<V: ModuleVisitor>(&self, _visitor: &mut V) {}

    fn map<M: ModuleMapper>(self, _mapper: &mut M) -> Self {
        self
    }
}

impl ModuleDisplayDefault for SharedDriver {
    fn content(&self, content: Content) -> Option<Content> {
        content.add_formatted(&format!("{self:?}")).optional()
    }
}

impl ModuleDisplay for SharedDriver {}

#[cfg(test)]
mod tests {
    use super::Decisions;

    /// The same prefix from two workers is one decision; another prefix for an iteration already
    /// decided stops the run, naming both workers and both prefixes.
    #[test]
    fn a_different_decision_for_the_same_iteration_is_refused() {
        let mut decisions = Decisions::default();
        decisions.report(7, 1, "the worker on Cuda(0)");
        decisions.report(7, 1, "the worker on Cuda(1)");
        decisions.report(8, 1, "the worker on Cuda(1)");
        let refused = std::panic::catch_unwind(move || decisions.report(8, 2, "the worker on Cuda(0)"));
        let message = *refused.unwrap_err().downcast::<String>().unwrap();
        assert!(message.contains("iteration 8"), "{message}");
        assert!(message.contains("Cuda(1) runs it with 1 units frozen, the worker on Cuda(0) with 2"), "{message}");
    }

    /// Old decisions are dropped: a long run keeps a bounded record.
    #[test]
    fn decisions_are_kept_for_a_bounded_window() {
        let mut decisions = Decisions::default();
        for j in 0..5 * super::KEPT {
            decisions.report(j, 0, "a worker");
        }
        assert_eq!(decisions.taken.len() as u64, super::KEPT + 1);
    }
}
