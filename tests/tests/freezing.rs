//! Proof on CPU that `#[freezeout]` + the training loop implement FreezeOut: frozen units stop
//! changing, get no gradients and cost no backward work, and the model still learns.

use burn::module::{Module, ParamId};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};
use burn_freezeout::train::{self, OptimizerKind, RunLog, TrainConfig};
use burn_freezeout::{FreezeOut, FreezeOutForward, PolicyConfig, ScheduleConfig, head_param_ids};
use freezeout_tests::{TinyNet, Tracking, fast_schedule, quadrant_data, quadrant_task, snapshot};
use std::collections::HashMap;

fn device() -> Device {
    let device = Device::flex().autodiff();
    device.seed(7);
    device
}

/// Ids of the parameters that have a gradient (looked up with each parameter's own rank).
fn ids_with_gradient<M: Module>(model: &M, grads: &GradientsParams) -> Vec<ParamId> {
    struct Find<'a>(&'a GradientsParams, Vec<ParamId>);
    impl burn::module::ModuleVisitor for Find<'_> {
        fn visit_float<const D: usize>(&mut self, p: &burn::module::Param<Tensor<D>>) {
            if self.0.get::<D>(p.id).is_some() {
                self.1.push(p.id);
            }
        }
    }
    let mut f = Find(grads, Vec::new());
    model.visit(&mut f);
    f.1
}

#[test]
fn units_metadata_names_indices_and_param_counts() {
    let model = TinyNet::new(3, 8, 4, &device());
    let units = model.units();
    let names: Vec<_> = units.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["stem", "blocks.0", "blocks.1", "blocks.2"]);
    assert_eq!(model.num_units(), 4);
    assert!(units.iter().enumerate().all(|(i, u)| u.index == i));
    // stem: 3·8·9 weights + 8 bias; block: 8·8·9 conv (no bias) + 2·8 BN (running stats excluded).
    let counts: Vec<_> = units.iter().map(|u| u.num_params).collect();
    assert_eq!(counts, [224, 592, 592, 592]);
    // head: BN 2·8 + linear 8·4 + 4.
    assert_eq!(burn_freezeout::trainable_params(&model), 224 + 3 * 592 + 16 + 36);
    assert_eq!(head_param_ids(&model).len(), 4);
    assert_eq!(model.frozen_units(), 0);
}

#[test]
fn frozen_units_get_no_gradients_and_the_rest_do() {
    let device = device();
    let data = quadrant_task(1, 8, 8, 1);
    for k in 0..=4 {
        let model = TinyNet::new(3, 8, 4, &device).freeze_units(k);
        assert_eq!(model.frozen_units(), k);
        let (x, y) = data[0].clone().to_device(&device);
        let loss = CrossEntropyLossConfig::new().init(&device).forward(model.forward(x), y);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let with_grad = ids_with_gradient(&model, &grads);
        for unit in model.units() {
            for id in &unit.param_ids {
                assert_eq!(with_grad.contains(id), unit.index >= k, "unit {} with {k} frozen", unit.name);
            }
        }
        assert!(head_param_ids(&model).iter().all(|id| with_grad.contains(id)), "head has grads");
    }
}

#[test]
fn backward_work_shrinks_as_units_freeze() {
    // Counted, not timed: a block whose output is not tracked by autodiff gets no backward
    // work. Frozen blocks run on the inner backend (no autodiff bookkeeping at all), so with k
    // frozen units the blocks are: the frozen ones inner, then the active ones tracked.
    let device = device();
    let batch = quadrant_task(1, 4, 8, 2).remove(0);
    let blocks = 6;
    for k in 0..=blocks + 1 {
        let model = TinyNet::new(blocks, 4, 4, &device).freeze_units(k);
        let (x, _) = batch.clone().to_device(&device);
        let _ = model.forward(x);
        // Unit 0 is the stem; blocks are units 1..=6.
        let frozen_blocks = k.saturating_sub(1).min(blocks);
        let mut expected = vec![Tracking::Inner; frozen_blocks];
        expected.resize(blocks, Tracking::Tracked);
        assert_eq!(model.take_probe(), expected, "{k} frozen units");
    }
}

#[test]
fn frozen_parameters_stay_bit_identical_to_the_end() {
    // Weight decay is on for each: a frozen unit gets no step, no decay, no moment update.
    for optimizer in OptimizerKind::ALL {
        let lr = if optimizer == OptimizerKind::Sgd { 0.05 } else { 1e-3 };
        let config = TrainConfig {
            optimizer,
            schedule: ScheduleConfig { base_lr: lr, ..fast_schedule().schedule },
            weight_decay: 1e-2,
            ..fast_schedule()
        };
        frozen_parameters_stay_bit_identical_with(config);
    }
}

fn frozen_parameters_stay_bit_identical_with(config: TrainConfig) {
    let device = device();
    let model = TinyNet::new(4, 8, 4, &device);
    let initial = snapshot(&model);
    let mut data = quadrant_data(4, 1, 8, 8, 3);
    let total = config.epochs as u64 * 4;
    let schedule = config.schedule(model.num_units(), total).unwrap();
    let units = model.units();
    let mut at_freeze: HashMap<usize, HashMap<ParamId, Vec<f32>>> = HashMap::new();
    let mut frozen_seen = Vec::new();
    let out = train::Fit::new(&config, &device)
        .observe(|p, m: &TinyNet| {
            let train::Progress::Step { iter: j, .. } = p else { return };
            // Right after the last iteration in which unit i trains.
            for (i, plan) in schedule.units().iter().enumerate() {
                if plan.max_iter == j {
                    at_freeze.insert(i, snapshot(m));
                }
            }
            frozen_seen.push(m.frozen_units());
        })
        .run(model, &mut data)
        .unwrap();
    let last = snapshot(&out.model);
    let frozen_at_end = schedule.frozen_prefix(total - 1);
    assert!(frozen_at_end >= 3, "the schedule must freeze most units, froze {frozen_at_end}");
    assert_eq!(frozen_seen.last().copied(), Some(frozen_at_end));
    for unit in &units[..frozen_at_end] {
        let snap = &at_freeze[&unit.index];
        for id in &unit.param_ids {
            assert_eq!(snap[id], last[id], "{}: unit {} changed after freezing", config.optimizer, unit.name);
            assert_ne!(initial[id], last[id], "{}: unit {} never trained", config.optimizer, unit.name);
        }
    }
    // The head trained to the end.
    for id in head_param_ids(&out.model) {
        assert_ne!(at_freeze[&0][&id], last[&id]);
    }
}

#[test]
fn loss_falls_and_the_task_is_learned() {
    let device = device();
    let model = TinyNet::new(2, 8, 4, &device);
    let mut data = quadrant_data(8, 4, 16, 8, 11);
    let config = TrainConfig {
        epochs: 8,
        schedule: ScheduleConfig { base_lr: 0.05, ..ScheduleConfig::default() },
        ..TrainConfig::default()
    };
    let mut log = RunLog::in_memory();
    let out = train::Fit::new(&config, &device).log(&mut log).run(model, &mut data).unwrap();
    let epochs = &out.summary.epochs;
    let (first, last) = (epochs[0].train_loss, epochs[7].train_loss);
    let test_error = out.summary.test_error.unwrap();
    eprintln!("train loss {first:.3} -> {last:.3}, test error {test_error:.3}");
    assert!(last < 0.5 * first, "loss {first} -> {last}");
    assert!(test_error < 0.25, "test error {test_error} (chance 0.75)");
    // The log has the start, every iteration, the freeze events and every epoch.
    let count = |kind: &str| log.events.iter().filter(|e| e["event"] == kind).count();
    assert_eq!((count("start"), count("iter"), count("epoch")), (1, 64, 8));
    assert!(count("freeze") >= 1);
}

#[test]
fn baseline_uses_the_same_loop_and_never_freezes() {
    let device = device();
    let model = TinyNet::new(2, 8, 4, &device);
    let mut data = quadrant_data(3, 1, 8, 8, 5);
    let config = TrainConfig { epochs: 2, policy: PolicyConfig::Baseline, ..fast_schedule() };
    let mut log = RunLog::in_memory();
    let out = train::Fit::new(&config, &device).log(&mut log).run(model, &mut data).unwrap();
    assert_eq!(out.model.frozen_units(), 0);
    assert!(log.events.iter().all(|e| e["event"] != "freeze"));
    assert!(log.events.iter().filter(|e| e["event"] == "iter").all(|e| e["frozen"] == 0));
}

#[test]
fn the_generated_forward_is_the_units_then_the_head_in_inference_and_for_every_frozen_prefix() {
    let device = device();
    let inference = device.clone().without_autodiff();
    let model = TinyNet::new(3, 4, 4, &device);
    let (x, _) = quadrant_task(1, 2, 8, 4).remove(0).to_device(&inference);
    // The inference copy (BatchNorm on running statistics) against the same modules by hand.
    let expected = model.valid().forward_by_hand(x.clone()).into_data();
    for k in 0..=model.num_units() {
        let got = model.clone().freeze_units(k).valid().forward_freezeout(x.clone()).into_data();
        got.assert_approx_eq::<f32>(&expected, burn::tensor::Tolerance::absolute(1e-6));
    }
    // On the training device, with nothing frozen, the generated forward is the same chain too.
    let (x, _) = quadrant_task(1, 2, 8, 4).remove(0).to_device(&device);
    let expected = model.forward_by_hand(x.clone()).into_data();
    model.forward_freezeout(x).into_data().assert_approx_eq::<f32>(&expected, burn::tensor::Tolerance::absolute(1e-6));
}

#[test]
fn a_diverging_run_stops_with_the_iteration_and_leaves_a_diverged_summary() {
    let device = device();
    let model = TinyNet::new(2, 4, 4, &device);
    let mut data = quadrant_data(4, 1, 8, 8, 13);
    let config = TrainConfig {
        epochs: 3,
        schedule: ScheduleConfig { base_lr: 1e12, ..ScheduleConfig::default() },
        ..TrainConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let mut log = RunLog::create(dir.path()).unwrap();
    let err = match train::Fit::new(&config, &device).log(&mut log).run(model, &mut data) {
        Ok(_) => panic!("a learning rate of 1e12 must diverge"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("at iteration") && err.contains("frozen units") && err.contains("LR"), "{err}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["status"], "diverged");
    assert!(summary["test_error"].is_null());
}

mod empty_unit {
    use burn::module::Module;
    use burn::nn::{Linear, LinearConfig, Relu};
    use burn::tensor::{Device, Tensor};
    use burn_freezeout::freezeout;

    /// A unit without parameters (a bare activation) is a configuration error.
    #[freezeout(head = head)]
    #[derive(Module, Debug)]
    pub struct WithEmptyUnit {
        #[freezeout(unit)]
        act: Relu,
        fc: Linear,
    }

    impl WithEmptyUnit {
        pub fn new(device: &Device) -> Self {
            Self { act: Relu::new(), fc: LinearConfig::new(3, 4).init(device) }
        }
        fn head(&self, x: Tensor<4>) -> Tensor<2> {
            let [n, c, _, _] = x.dims();
            self.fc.forward(x.mean_dim(3).mean_dim(2).reshape([n, c]))
        }
    }
}

#[test]
fn a_unit_without_parameters_is_refused_by_name() {
    let device = device();
    let mut data = quadrant_data(2, 1, 4, 8, 1);
    let model = empty_unit::WithEmptyUnit::new(&device);
    let err = match train::Fit::new(&fast_schedule(), &device).run(model, &mut data) {
        Ok(_) => panic!("a parameter-less unit must be refused"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("unit 0 (`act`) has no trainable parameters"), "{err}");
}

#[test]
fn a_loss_above_the_bound_stops_the_run_as_diverged() {
    let device = device();
    let model = TinyNet::new(2, 4, 4, &device);
    let mut data = quadrant_data(4, 1, 8, 8, 13);
    let config = TrainConfig { max_loss: Some(0.5), ..fast_schedule() };
    let err = match train::Fit::new(&config, &device).run(model, &mut data) {
        Ok(_) => panic!("a 4-class loss starts near 1.4 > 0.5"),
        Err(e) => e.to_string(),
    };
    assert!(err.starts_with("diverged: loss is") && err.contains("iteration 0"), "{err}");
}
