//! FreezeOut under burn-train's data-parallel strategies, on the CPU.
//!
//! * `ExecutionStrategy::MultiDevice` runs here with the CPU device listed twice: one optimizer
//!   step per pair of batches (one from each device's half of the data), trained bit for bit as
//!   one device accumulating the same two batches.
//! * DDP cannot start on the CPU (Burn 0.22.1: `Distributed operations are not supported for
//!   device Flex(Cpu)`, from `ExecutionStrategy::ddp`), so its workers are replayed with the
//!   `Learner` calls each DDP worker makes (burn-train 0.22.1 `ddp/worker.rs`, `ddp/epoch.rs`):
//!   a clone of the `Learner` per thread, `fork`, then `train_step`, `lr_step`, `optimizer_step`
//!   per batch of its split (not `grad_sharded`, which the CPU backend refuses too). Without NCCL their gradients are not averaged,
//!   which FreezeOut's decisions do not depend on: each worker counts its own steps and takes
//!   the same freezes as its peer; the scheduler record of one restores both; a worker whose
//!   prefix differs is stopped; a frozen unit's parameters hold no gradient, so the strategy has
//!   nothing of them to all-reduce.

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};
use burn::train::metric::LossMetric;
use burn::train::{ExecutionStrategy, Learner, MultiDeviceOptim, SupervisedTraining};
use burn_freezeout::learner::FreezeOutModel;
use burn_freezeout::{Finetune, FinetuneKind, FreezeOut, GradualConfig, Policy, Schedule, head_param_ids};
use freezeout_tests::fast_schedule;
use freezeout_tests::regression::{Example, Regressor, examples, loader};
use std::collections::HashSet;
use std::path::Path;
use std::thread;

const BATCH: usize = 8;
/// Batches per device and epoch.
const PER_DEVICE: usize = 3;
const EPOCHS: usize = 4;
/// Optimizer steps of the run: one per pair of batches.
const TOTAL: u64 = (EPOCHS * PER_DEVICE) as u64;

/// Two devices' worth of data: device 0 gets the first half, device 1 the second
/// (burn's `split_dataloader` slices the dataset in order).
fn halves() -> (Vec<Example>, Vec<Example>) {
    let all = examples(2 * PER_DEVICE * BATCH, 1);
    let (a, b) = all.split_at(PER_DEVICE * BATCH);
    (a.to_vec(), b.to_vec())
}

fn schedule() -> Schedule {
    Schedule::freezeout(fast_schedule().schedule, 3, TOTAL).unwrap()
}

/// The iterations at which the schedule's frozen prefix grows, with the prefix after.
fn scheduled_freezes() -> Vec<(u64, usize)> {
    let s = schedule();
    (1..TOTAL).filter(|&j| s.frozen_prefix(j) > s.frozen_prefix(j - 1)).map(|j| (j, s.frozen_prefix(j))).collect()
}

fn freezes(model: &FreezeOutModel<Regressor>) -> Vec<(u64, usize)> {
    model.events().iter().map(|e| (e.iteration, e.to)).collect()
}

fn wrapped(model: Regressor) -> FreezeOutModel<Regressor> {
    FreezeOutModel::with_policy(model, Policy::from(schedule())).unwrap()
}

/// ULMFiT's gradual unfreezing of the 3 units over the run: all frozen in epoch 0, one fewer
/// at steps 3, 6 and 9.
fn gradual() -> Policy {
    let kind = FinetuneKind::Gradual(GradualConfig::default());
    Finetune::new(kind, fast_schedule().schedule.base_lr, 3, EPOCHS, TOTAL).unwrap().into()
}

fn launch(
    model: FreezeOutModel<Regressor>,
    train: &[Example],
    strategy: ExecutionStrategy,
    accumulate: Option<usize>,
    dir: &Path,
) -> FreezeOutModel<Regressor> {
    let learner = Learner::new(model.clone(), fast_schedule().optimizer(), model.lr_scheduler());
    let mut training = SupervisedTraining::new(dir, loader(train, BATCH), loader(&examples(2 * BATCH, 2), BATCH))
        .metrics((LossMetric::new(),))
        .with_training_strategy(strategy.into())
        .num_epochs(EPOCHS);
    if let Some(k) = accumulate {
        training = training.grads_accumulation(k);
    }
    let result = training.launch(learner);
    assert!(result.error.is_none(), "the Learner stopped on an error: {:?}", result.error);
    result.model
}

/// MultiDevice (`OptimMainDevice`) steps one optimizer on the sum of both devices' gradients:
/// the same training as one device accumulating batch `i` of each half, so the same freezes at
/// the same optimizer steps, the same rates, and the same parameters, bit for bit.
#[test]
fn a_multi_device_run_trains_exactly_as_one_device_accumulating_the_same_batches() {
    let device = Device::flex().autodiff();
    let model = Regressor::new(2, &device);
    let (a, b) = halves();
    let all: Vec<Example> = a.iter().chain(&b).cloned().collect();
    // One device, the same pairs in turn: batch i of the first half, then batch i of the second.
    let paired: Vec<Example> =
        a.chunks(BATCH).zip(b.chunks(BATCH)).flat_map(|(x, y)| x.iter().chain(y)).cloned().collect();

    let dir = tempfile::tempdir().unwrap();
    let two = ExecutionStrategy::multi(vec![device.clone(), device.clone()], MultiDeviceOptim::OptimMainDevice);
    let multi = launch(wrapped(model.clone()), &all, two, None, dir.path());
    let dir = tempfile::tempdir().unwrap();
    let one = launch(wrapped(model), &paired, ExecutionStrategy::single(device), Some(2), dir.path());

    assert_eq!(freezes(&multi), scheduled_freezes(), "the schedule's freezes, counted in optimizer steps");
    assert_eq!(multi.state().iteration, TOTAL);
    let rates = |m: &FreezeOutModel<Regressor>| m.events().into_iter().map(|e| e.lrs).collect::<Vec<_>>();
    assert_eq!(rates(&multi), rates(&one), "the same rates");
    assert_eq!(multi.inner().all_values(), one.inner().all_values(), "the same parameters");
}

/// `OptimSharded` steps through `optimize_multi`, whose gradients are per device: the adaptive
/// policy, which reads the gradients, is refused there with a message that names the fix.
#[test]
fn the_adaptive_policy_under_sharded_multi_device_optimization_is_refused() {
    let device = Device::flex().autodiff();
    let model = Regressor::new(2, &device);
    let policy = burn_freezeout::train::TrainConfig {
        policy: burn_freezeout::PolicyConfig::Adaptive(burn_freezeout::AdaptiveConfig {
            window: 0.25,
            sample_every: 1,
            ..Default::default()
        }),
        ..fast_schedule()
    }
    .policy(3, TOTAL)
    .unwrap();
    let model = FreezeOutModel::with_policy(model, policy).unwrap();
    let (a, b) = halves();
    let all: Vec<Example> = a.into_iter().chain(b).collect();
    let dir = tempfile::tempdir().unwrap();
    let learner = Learner::new(model.clone(), fast_schedule().optimizer(), model.lr_scheduler());
    let sharded = ExecutionStrategy::multi(vec![device.clone(), device], MultiDeviceOptim::OptimSharded);
    let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        SupervisedTraining::new(dir.path(), loader(&all, BATCH), loader(&examples(BATCH, 2), BATCH))
            .with_training_strategy(sharded.into())
            .num_epochs(1)
            .launch(learner)
    }));
    let message = panic_text(refused.err().expect("refused"));
    assert!(message.contains("OptimSharded") && message.contains("OptimMainDevice"), "{message}");
}

/// One DDP worker as burn-train 0.22.1 runs it, without the all-reduce: its clone of the
/// `Learner`, forked to `device` on its own thread and sharded, stepping through `epochs` epochs
/// of `items`. Returns its model and the scheduler record its checkpointer would write.
fn ddp_worker(
    mut learner: Learner<FreezeOutModel<Regressor>>,
    scheduler: burn::optim::lr_scheduler::module_lr_scheduler::ModuleLrScheduler,
    device: Device,
    items: Vec<Example>,
    epochs: usize,
) -> thread::JoinHandle<(FreezeOutModel<Regressor>, burn::optim::lr_scheduler::LrSchedulerRecord)> {
    thread::spawn(move || {
        learner.fork(&device);
        // (burn-train's worker also calls `learner.grad_sharded()` here, which the CPU backend
        // refuses: "Distributed operations are not supported for tensor kind Flex(..)".)
        let batches = loader(&items, BATCH);
        for _ in 0..epochs {
            for batch in batches.iter() {
                let output = learner.train_step(batch.unwrap());
                learner.lr_step();
                learner.optimizer_step(output.grads);
            }
        }
        // The main worker's checkpointer records its `Learner`'s scheduler on this thread; a
        // clone of the same scheduler resolves to the same position.
        (learner.model(), scheduler.to_record())
    })
}

fn two_workers(
    learner: &Learner<FreezeOutModel<Regressor>>,
    scheduler: &burn::optim::lr_scheduler::module_lr_scheduler::ModuleLrScheduler,
    epochs: usize,
) -> Vec<(FreezeOutModel<Regressor>, burn::optim::lr_scheduler::LrSchedulerRecord)> {
    let device = Device::flex().autodiff();
    let (a, b) = halves();
    let workers: Vec<_> = [a, b]
        .into_iter()
        .map(|half| ddp_worker(learner.clone(), scheduler.clone(), device.clone(), half, epochs))
        .collect();
    workers.into_iter().map(|w| w.join().expect("a worker failed")).collect()
}

/// Each worker counts its own optimizer steps (a run of `EPOCHS × PER_DEVICE` of them) and
/// freezes as the schedule says; the model they were cloned from has not moved. Stopped after
/// two epochs, the main worker's scheduler record restores both workers of a new run, which
/// then take the same freezes as the uninterrupted run.
#[test]
fn ddp_workers_each_own_their_position_and_one_record_restores_them_all() {
    let device = Device::flex().autodiff();
    let model = wrapped(Regressor::new(2, &device));
    let learner = Learner::new(model.clone(), fast_schedule().optimizer(), model.lr_scheduler());

    let whole = two_workers(&learner, &model.lr_scheduler(), EPOCHS);
    for (worker, _) in &whole {
        assert_eq!(freezes(worker), scheduled_freezes());
        assert_eq!(worker.state().iteration, TOTAL, "{TOTAL} steps per worker, not {}", 2 * TOTAL);
    }
    assert_eq!(model.state().iteration, 0, "the model the workers were cloned from has its own position");

    let stopped = two_workers(&learner, &model.lr_scheduler(), 2);
    let stop = stopped[0].0.state();
    assert_eq!(stop.iteration, 2 * PER_DEVICE as u64);
    let record = stopped[0].1.clone();

    // A new process: a new model, the checkpoint's scheduler record loaded before the workers
    // start (burn-train loads checkpoints before the strategy runs).
    let fresh = wrapped(Regressor::new(2, &device));
    let mut resumed = Learner::new(fresh.clone(), fast_schedule().optimizer(), fresh.lr_scheduler());
    resumed.load_model(stopped[0].0.clone().into_record());
    resumed.load_scheduler(record.clone());
    let mut scheduler = fresh.lr_scheduler();
    scheduler = scheduler.load_record(record);
    let after: Vec<(u64, usize)> = scheduled_freezes().into_iter().filter(|&(j, _)| j > stop.iteration).collect();
    assert!(!after.is_empty(), "a freeze happens after the stop");
    for (worker, _) in two_workers(&resumed, &scheduler, EPOCHS - 2) {
        assert_eq!(freezes(&worker), after);
        assert_eq!(worker.state(), whole[0].0.state());
    }
}

/// A worker that runs an iteration with another frozen prefix than its peer (here: restored
/// from a checkpoint with unit 0 frozen, its peer from the start) stops the run with both
/// decisions named, instead of letting the replicas drift apart; the next run of the same model
/// starts a record of its own.
#[test]
fn a_worker_whose_frozen_prefix_differs_from_its_peers_is_stopped() {
    let device = Device::flex().autodiff();
    let model = wrapped(Regressor::new(2, &device));
    let other =
        FreezeOutModel::with_policy(Regressor::new(2, &device).freeze_units(1), Policy::from(schedule())).unwrap();
    let frozen_record = other.lr_scheduler().to_record();
    let (a, b) = halves();
    let learner = Learner::new(model.clone(), fast_schedule().optimizer(), model.lr_scheduler());
    let peer = ddp_worker(learner.clone(), model.lr_scheduler(), device.clone(), a, 1);
    let odd = restored_worker(learner.clone(), device, b, frozen_record.clone());
    let results = [peer.join().map(|_| ()), odd.join()];
    let messages: Vec<String> = results.into_iter().filter_map(|r| r.err()).map(panic_text).collect();
    assert_eq!(messages.len(), 1, "one of the two workers is stopped: {messages:?}");
    assert!(messages[0].contains("disagree on the frozen prefix of iteration 1"), "{}", messages[0]);
    assert!(
        messages[0].contains("with 0 units frozen") || messages[0].contains("with 1 units frozen"),
        "{}",
        messages[0]
    );

    // A later run of the same model (a new scheduler: a sweep, a second `launch`) is checked
    // against its own workers only, not against the one before.
    // Whichever of the two reported iteration 1 first, one of these two runs differs from it.
    let (a, _) = halves();
    let device = Device::flex().autodiff();
    let again = Learner::new(model.clone(), fast_schedule().optimizer(), model.lr_scheduler());
    let (worker, _) = ddp_worker(again, model.lr_scheduler(), device.clone(), a.clone(), 1).join().unwrap();
    assert_eq!(worker.state().iteration, PER_DEVICE as u64);
    let again = Learner::new(model.clone(), fast_schedule().optimizer(), model.lr_scheduler());
    restored_worker(again, device, a, frozen_record).join().expect("a run of its own");
}

/// Under gradual unfreezing every replayed worker trains the units again at the same steps
/// (Lightning unfroze on rank 0 only, #20340): the same unfreezes, the same rates. A worker
/// restored from a position the policy would not be at (a checkpoint of a run that did not
/// unfreeze: a linear probe's) is stopped, naming both prefixes.
#[test]
fn ddp_workers_unfreeze_together_and_a_worker_that_did_not_is_stopped() {
    let device = Device::flex().autodiff();
    let model = FreezeOutModel::with_policy(Regressor::new(2, &device), gradual()).unwrap();
    let learner = Learner::new(model.clone(), fast_schedule().optimizer(), model.lr_scheduler());
    let workers = two_workers(&learner, &model.lr_scheduler(), EPOCHS);
    let unfreezes = [(0, 3), (3, 2), (6, 1), (9, 0)];
    for (worker, _) in &workers {
        assert_eq!(freezes(worker), unfreezes);
    }
    let rates = |m: &FreezeOutModel<Regressor>| m.events().into_iter().map(|e| e.lrs).collect::<Vec<_>>();
    assert_eq!(rates(&workers[0].0), rates(&workers[1].0));

    // A linear probe's position after its first epoch: 3 units frozen at step 3, where gradual
    // unfreezing has 2.
    let kind = FinetuneKind::Backbone(burn_freezeout::BackboneConfig { epoch: EPOCHS, ..Default::default() });
    let probe = Finetune::new(kind, 0.05, 3, EPOCHS, TOTAL).unwrap();
    let probe = FreezeOutModel::with_policy(Regressor::new(2, &device), probe.into()).unwrap();
    let (probed, record) = two_workers(
        &Learner::new(probe.clone(), fast_schedule().optimizer(), probe.lr_scheduler()),
        &probe.lr_scheduler(),
        1,
    )
    .remove(0);
    assert_eq!((probed.state().iteration, probed.state().frozen_units), (3, 3));
    let (a, _) = halves();
    let odd = restored_worker(learner.clone(), device, a, record);
    let message = panic_text(odd.join().expect_err("the worker is stopped"));
    let says = "holds iteration 3 with 3 units frozen, and the gradual policy freezes 2 there";
    assert!(message.contains(says), "{message}");
}

/// A DDP worker (as [`ddp_worker`], one epoch) whose scheduler is restored from `record` on its
/// own thread, after the fork: its position only.
fn restored_worker(
    mut learner: Learner<FreezeOutModel<Regressor>>,
    device: Device,
    items: Vec<Example>,
    record: burn::optim::lr_scheduler::LrSchedulerRecord,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        learner.fork(&device);
        learner.load_scheduler(record);
        for batch in loader(&items, BATCH).iter() {
            let output = learner.train_step(batch.unwrap());
            learner.lr_step();
            learner.optimizer_step(output.grads);
        }
    })
}

/// What the DDP strategy exchanges: burn-train's sharder marks every parameter for the gradient
/// all-reduce (on CUDA; the CPU backend refuses to mark any), and Burn's autodiff registers for
/// it the marked parameters that are steps of the backward graph, then all-reduces each one's
/// gradient (burn-autodiff 0.22.1 `runtime/server.rs`, `distributed.rs`). A frozen unit's
/// parameters require no gradient, are no step of the graph and get none: every traced step
/// holds gradients for exactly the parameters of the units not yet frozen and the head, the
/// bytes the all-reduce carries.
#[test]
fn frozen_units_hold_no_gradient_for_the_all_reduce() {
    gradients_follow_the_prefix(Policy::from(schedule()), 3);
}

/// Under gradual unfreezing a unit that leaves the prefix holds a gradient from its first step
/// on: the all-reduce carries it again.
#[test]
fn units_trained_again_hold_gradients_from_their_unfreeze_on() {
    gradients_follow_the_prefix(gradual(), 0);
}

/// One worker's steps under `policy`, ending with `last` units frozen: each holds gradients for
/// exactly the units outside the prefix and the head.
fn gradients_follow_the_prefix(policy: Policy, last: usize) {
    let device = Device::flex().autodiff();
    let model = FreezeOutModel::with_policy(Regressor::new(2, &device), policy).unwrap().with_step_trace();
    let mut learner = Learner::new(model.clone(), fast_schedule().optimizer(), model.lr_scheduler());
    learner.fork(&device);
    assert!(!all_distributed(&learner.model()), "the CPU backend marks no parameter for an all-reduce");
    let (a, _) = halves();
    let batches = loader(&a, BATCH);
    // Per step, the parameters that the backward pass gave a gradient, read off the gradients
    // themselves (not through the census the trace records).
    let mut with_gradient = Vec::new();
    for _ in 0..EPOCHS {
        for batch in batches.iter() {
            let output = learner.train_step(batch.unwrap());
            with_gradient.push(params_with_gradient(&learner.model(), &output.grads));
            learner.lr_step();
            learner.optimizer_step(output.grads);
        }
    }
    let trained = learner.model();
    let trace = trained.trace();
    assert_eq!(trace.len() as u64, TOTAL);
    let inner = trained.inner();
    let head = head_param_ids(inner);
    assert_eq!(head.len(), 2, "the output layer's weight and bias");
    for (step, got) in trace.iter().zip(&with_gradient) {
        let k = step.frozen_units;
        // Exactly the parameters of the units not yet frozen and of the head hold a gradient.
        let training: HashSet<ParamId> =
            inner.units()[k..].iter().flat_map(|u| u.param_ids.iter().copied()).chain(head.iter().copied()).collect();
        assert_eq!(*got, training, "iteration {}: {k} units frozen", step.iteration);
        // And the trace's census counts those: their tensors and their bytes.
        let g = step.gradients.expect("traced under optimize");
        assert_eq!(g.tensors, training.len(), "iteration {}: {k} units frozen", step.iteration);
        assert_eq!(g.bytes, 4 * trainable_scalars(inner, k), "iteration {}", step.iteration);
    }
    assert_eq!(trace.last().unwrap().frozen_units, last, "the prefix the run ends with");
    let (first, end) = (trace[0].gradients.unwrap().bytes, trace.last().unwrap().gradients.unwrap().bytes);
    assert!(if last > 0 { end < first } else { end > first }, "{first} bytes, then {end}");
}

/// The parameters of `model` that hold a gradient in `grads`.
fn params_with_gradient<M: Module>(model: &M, grads: &GradientsParams) -> HashSet<ParamId> {
    struct With<'a>(&'a GradientsParams, HashSet<ParamId>);
    impl ModuleVisitor for With<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if self.0.get::<D>(param.id).is_some() {
                self.1.insert(param.id);
            }
        }
    }
    let mut with = With(grads, HashSet::new());
    model.visit(&mut with);
    with.1
}

/// Scalars of the units from `k` on and of the head.
fn trainable_scalars(model: &Regressor, k: usize) -> u64 {
    let frozen: std::collections::HashSet<_> =
        model.units()[..k].iter().flat_map(|u| u.param_ids.iter().copied()).collect();
    struct Count<'a>(&'a std::collections::HashSet<burn::module::ParamId>, u64);
    impl ModuleVisitor for Count<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if !self.0.contains(&param.id) {
                self.1 += param.val().shape().num_elements() as u64;
            }
        }
    }
    let mut count = Count(&frozen, 0);
    model.visit(&mut count);
    count.1
}

/// Whether every parameter of `model` is marked for the gradient all-reduce.
fn all_distributed<M: Module>(model: &M) -> bool {
    struct All(bool);
    impl ModuleVisitor for All {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0 &= param.val().is_distributed();
        }
    }
    let mut all = All(true);
    model.visit(&mut all);
    all.0
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p.downcast_ref::<&str>().map(|s| s.to_string()).unwrap_or_default(),
    }
}

/// `paper-repro ddp`'s measurement, on the CPU under MultiDevice (the CPU device twice): every
/// frozen prefix's steps hold exactly the gradients the architecture predicts (the
/// communication model's [`exchanged`](bench_harness::comm::exchanged)), the prefix only grows,
/// and the run counts `epochs × images / (workers × batch)` optimizer steps.
#[test]
fn the_ddp_bench_measures_the_exchange_the_communication_model_predicts() {
    use bench_harness::bench::ddp::{self, DdpConfig, Strategy};
    use burn_freezeout::device::DeviceKind;
    use burn_freezeout::models::Preset;
    let config = DdpConfig {
        model: Preset::Wrn { depth: 10, width: 1 },
        batch: 4,
        images: 48,
        epochs: 2,
        strategy: Strategy::Multi,
        device: DeviceKind::Cpu,
        workers: 2,
    };
    let dir = tempfile::tempdir().unwrap();
    let report = ddp::run(&config, dir.path()).unwrap();
    assert_eq!(report.iterations, 12);
    assert_eq!(report.phases.iter().map(|p| p.steps as u64).sum::<u64>(), 12);
    assert!(report.phases.len() > 2, "the default schedule freezes during the run: {report:?}");
    assert!(report.phases.windows(2).all(|w| w[0].frozen_units < w[1].frozen_units));
    for p in &report.phases {
        let g = p.gradients.expect("counted");
        assert_eq!((g.tensors, g.bytes), (p.predicted.tensors, p.predicted.bytes), "{} units frozen", p.frozen_units);
    }
    let table = report.table();
    assert!(table.contains("12 optimizer steps per worker"), "{table}");

    // DDP needs collectives, which Burn implements on CUDA only: refused before it starts.
    let ddp = DdpConfig { strategy: Strategy::Ddp, ..config };
    let refused = ddp::run(&ddp, dir.path()).unwrap_err().to_string();
    assert!(refused.contains("only on CUDA") && refused.contains("--strategy multi"), "{refused}");
}
