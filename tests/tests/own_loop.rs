//! FreezeOut in a hand-written loop through `FreezeOutDriver`: the same freezes and rates as
//! `fit`, frozen parameters and their optimizer state bit-identical under SGD, Adam and AdamW,
//! an exact restore, and under gradual unfreezing a unit trained again from fresh optimizer
//! state.

use burn::module::ParamId;
use burn::nn::loss::{MseLoss, Reduction};
use burn::optim::{AdamConfig, AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Distribution, Tensor};
use burn_freezeout::train::{self, RunLog};
use burn_freezeout::{DriverState, Finetune, FinetuneKind, FreezeOut, FreezeOutDriver, GradualConfig, Schedule};
use burn_pack::Reader;
use freezeout_tests::regression::{FEATURES, Regressor};
use freezeout_tests::{TinyNet, fast_schedule, quadrant_data};
use std::collections::BTreeMap;

/// Optimizer state tensors by name, as bytes.
type OptimizerState = BTreeMap<String, Vec<u8>>;

/// The optimizer's state of the parameters `ids`.
fn optimizer_state(optim: &ModuleOptimizer, ids: &[ParamId]) -> OptimizerState {
    let bytes = optim.to_record().into_bytes().unwrap();
    let tensors = Reader::from_bytes(bytes).unwrap().into_tensors().unwrap();
    let mut state = BTreeMap::new();
    for tensor in tensors {
        let (name, _, _, id, bytes) = tensor.into_parts().unwrap();
        if id.is_some_and(|id| ids.contains(&ParamId::from(id))) {
            state.insert(name, bytes.to_vec());
        }
    }
    state
}

/// Trains the regressor for `total` iterations with a fast schedule; after each iteration
/// checks that every frozen unit's weights and its optimizer state (momentum, Adam's moments)
/// equal the ones it froze with.
fn train_regressor(mut optim: ModuleOptimizer, total: u64) -> Vec<(u64, usize)> {
    let device = Device::flex().autodiff();
    device.seed(3);
    let mut model = Regressor::new(2, &device);
    let mut driver = FreezeOutDriver::new(&model, fast_schedule().schedule, total).unwrap();
    let units = model.units();
    // Each frozen unit's first weight and optimizer state when it froze.
    let mut frozen: Vec<(Vec<f32>, OptimizerState)> = Vec::new();
    let mut frozen_at = Vec::new();
    for j in 0..total {
        assert_eq!(driver.iteration(), j);
        model = driver.freeze(model);
        while frozen.len() < driver.frozen_units() {
            let i = frozen.len();
            frozen_at.push((j, i));
            let state = optimizer_state(&optim, &units[i].param_ids);
            assert!(j == 0 || !state.is_empty(), "unit {i} has optimizer state when it freezes");
            frozen.push((model.unit_weight(i), state));
        }
        let x = Tensor::<2>::random([32, FEATURES], Distribution::Normal(0.0, 1.0), &device);
        let y = x.clone().sum_dim(1).sin();
        let loss = MseLoss::new().forward(model.forward(x), y, Reduction::Mean);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(driver.learning_rates(), model, grads);
        driver.advance();
        for (i, (weights, state)) in frozen.iter().enumerate() {
            assert_eq!(&model.unit_weight(i), weights, "unit {i} changed after it froze (iteration {j})");
            assert_eq!(
                &optimizer_state(&optim, &units[i].param_ids),
                state,
                "unit {i}'s optimizer state changed after it froze (iteration {j})"
            );
        }
    }
    assert_eq!(model.frozen_units(), driver.frozen_units());
    frozen_at
}

/// Gradual unfreezing in a hand-written loop: a unit frozen from the first step has no
/// optimizer state until the step it trains again, so its momentum starts at zero there (what
/// the policy documents), and that first update is fresh momentum's: `w − lr·(g + μ·g)` under
/// Nesterov SGD with dampening 0 (no weight decay here). Its later steps carry the momentum on.
#[test]
fn a_unit_trained_again_starts_from_fresh_optimizer_state() {
    let device = Device::flex().autodiff();
    device.seed(5);
    let (epochs, per_epoch, momentum) = (4, 3, 0.9);
    let total = epochs * per_epoch;
    let mut model = Regressor::new(2, &device);
    let kind = FinetuneKind::Gradual(GradualConfig::default());
    let policy = Finetune::new(kind, 0.05, 3, epochs as usize, total).unwrap().into();
    let mut driver = FreezeOutDriver::with_policy(&model, policy).unwrap();
    let sgd =
        burn::optim::momentum::MomentumConfig::new().with_momentum(momentum).with_dampening(0.0).with_nesterov(true);
    let mut optim = burn::optim::SgdConfig::new().with_momentum(Some(sgd)).init();
    let units = model.units();
    let weight =
        |m: &Regressor, i: usize| if i == 0 { m.input.weight.clone() } else { m.hidden[i - 1].linear.weight.clone() };
    let mut checked = Vec::new();
    for j in 0..total {
        model = driver.freeze(model);
        let k = driver.frozen_units();
        assert_eq!((k, model.frozen_units()), (3 - (j / per_epoch).min(3) as usize, k), "iteration {j}");
        let x = Tensor::<2>::random([16, FEATURES], Distribution::Normal(0.0, 1.0), &device);
        let y = x.clone().sum_dim(1).sin();
        let loss = MseLoss::new().forward(model.forward(x), y, Reduction::Mean);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        // Units in the prefix: no state. Units out of it without state: this is their first step.
        for (i, unit) in units.iter().enumerate() {
            let fresh = optimizer_state(&optim, &unit.param_ids).is_empty();
            assert!(i >= k || fresh, "unit {i}, frozen since the start, has optimizer state at {j}");
        }
        let first: Vec<(usize, Vec<f32>, Vec<f32>, f64)> = (k..3)
            .filter(|&i| optimizer_state(&optim, &units[i].param_ids).is_empty())
            .map(|i| {
                let w = weight(&model, i);
                let g = grads.get::<2>(w.id).expect("a unit out of the prefix has a gradient");
                (i, model.unit_weight(i), g.into_data().try_to_vec::<f32>().unwrap(), driver.lr(i))
            })
            .collect();
        model = optim.step(driver.learning_rates(), model, grads);
        for (i, before, g, lr) in first {
            let after = model.unit_weight(i);
            for ((a, b), g) in after.iter().zip(&before).zip(&g) {
                let fresh = b - (lr * (1.0 + momentum)) as f32 * g;
                assert!(
                    (a - fresh).abs() <= 1e-6 * (1.0 + fresh.abs()),
                    "unit {i} at {j}: {a} vs fresh momentum's {fresh}"
                );
            }
            checked.push((j, i));
        }
        driver.advance();
    }
    assert_eq!(checked, [(3, 2), (6, 1), (9, 0)], "each unit's first step, at its unfreeze");
}

#[test]
fn frozen_units_stay_bit_identical_under_every_optimizer() {
    let total = 40;
    let schedule = Schedule::freezeout(fast_schedule().schedule, 3, total).unwrap();
    let expected: Vec<(u64, usize)> = (0..3).filter_map(|i| schedule.freeze_iteration(i).map(|j| (j, i))).collect();
    assert_eq!(expected.len(), 3, "every unit freezes within the run");
    let sgd = train::TrainConfig::default().optimizer();
    // Weight decay on: a frozen unit must not even decay.
    let adam = AdamConfig::new().with_weight_decay(Some(burn::optim::decay::WeightDecayConfig::new(1e-2))).init();
    let adamw = AdamWConfig::new().with_weight_decay(0.1).init();
    for (name, optim) in [("sgd", sgd), ("adam", adam), ("adamw", adamw)] {
        assert_eq!(train_regressor(optim, total), expected, "{name}: freezes at the schedule's iterations");
    }
}

/// FreezeOut's rate of unit `i` of `n` (`i = n`: the head) at iteration `j` of `total`, from
/// the paper's formulas written out here (linear scaling, LR scaling on), not from the crate:
/// `t_i = t0 + (1 − t0)·i/n`, frozen for `j > t_i·T`, else `½·(α/t_i)·(1 + cos(π·j/(t_i·T)))`.
fn paper_rate(t0: f64, alpha: f64, i: usize, n: usize, j: u64, total: u64) -> f64 {
    let t = if i == n { 1.0 } else { t0 + (1.0 - t0) * i as f64 / n as f64 };
    let budget = t * total as f64;
    if i < n && j as f64 > budget {
        return 0.0;
    }
    0.5 * (alpha / t) * (1.0 + (std::f64::consts::PI * j as f64 / budget).cos())
}

#[test]
fn fit_freezes_at_the_papers_iterations_with_the_papers_rates() {
    let device = Device::flex().autodiff();
    device.seed(5);
    let config = fast_schedule();
    let mut data = quadrant_data(6, 2, 8, 8, 1);
    let mut log = RunLog::in_memory();
    let out = train::Fit::new(&config, &device).log(&mut log).run(TinyNet::new(3, 4, 4, &device), &mut data).unwrap();
    let total = out.summary.total_iterations;
    assert_eq!(total, 18, "3 epochs of 6 batches");
    let fit_events: Vec<(u64, u64, Vec<f64>)> = log
        .events
        .iter()
        .filter(|e| e["event"] == "freeze")
        .map(|e| {
            (
                e["iter"].as_u64().unwrap(),
                e["frozen"].as_u64().unwrap(),
                serde_json::from_value(e["lrs"].clone()).unwrap(),
            )
        })
        .collect();
    // 4 units, t0 = 0.3 linear: budgets 5.4, 8.55, 11.7, 14.85 of 18, so the units freeze before
    // iterations 6, 9, 12 and 15, one at a time.
    let (t0, alpha) = (config.schedule.t0, config.schedule.base_lr);
    let expected: Vec<(u64, u64)> = vec![(6, 1), (9, 2), (12, 3), (15, 4)];
    assert_eq!(fit_events.iter().map(|e| (e.0, e.1)).collect::<Vec<_>>(), expected);
    for (j, _, lrs) in &fit_events {
        assert_eq!(lrs.len(), 5, "every unit's rate and the head's");
        for (i, &lr) in lrs.iter().enumerate() {
            let paper = paper_rate(t0, alpha, i, 4, *j, total);
            assert!((lr - paper).abs() <= 1e-12 * paper.max(1e-3), "unit {i} at {j}: {lr} vs the paper's {paper}");
        }
    }
    // Every iteration logs the prefix the paper's budgets give.
    for e in log.events.iter().filter(|e| e["event"] == "iter") {
        let j = e["iter"].as_u64().unwrap();
        let frozen = (0..4).filter(|&i| paper_rate(t0, alpha, i, 4, j, total) == 0.0).count() as u64;
        assert_eq!(e["frozen"].as_u64().unwrap(), frozen, "iteration {j}");
    }
    assert_eq!(out.model.frozen_units(), 4);

    // Restored half-way, a driver continues exactly like the uninterrupted one.
    let mut a = FreezeOutDriver::new(&TinyNet::new(3, 4, 4, &device), config.schedule, total).unwrap();
    let mut m = TinyNet::new(3, 4, 4, &device);
    for _ in 0..total / 2 {
        m = a.freeze(m);
        a.advance();
    }
    let state: DriverState = a.state();
    let mut b = FreezeOutDriver::new(&TinyNet::new(3, 4, 4, &device), config.schedule, total).unwrap();
    let mut m2 = b.restore(TinyNet::new(3, 4, 4, &device), state);
    assert_eq!(m2.frozen_units(), m.frozen_units());
    for _ in total / 2..total {
        m = a.freeze(m);
        m2 = b.freeze(m2);
        assert_eq!((a.iteration(), a.frozen_units()), (b.iteration(), b.frozen_units()));
        for i in 0..=3 {
            assert_eq!(a.lr(i), b.lr(i));
        }
        a.advance();
        b.advance();
    }
    assert_eq!(m.frozen_units(), m2.frozen_units());
}
