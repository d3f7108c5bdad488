//! FreezeOut in a hand-written loop through `FreezeOutDriver`: the same freezes and rates as
//! `fit`, frozen parameters bit-identical under SGD, Adam and AdamW, and an exact restore.

use burn::module::Module;
use burn::nn::loss::{MseLoss, Reduction};
use burn::nn::{Linear, LinearConfig, Relu};
use burn::optim::{AdamConfig, AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use freezeout_core::train::{self, RunLog};
use freezeout_core::{DriverState, FreezeOut, FreezeOutDriver, Schedule, freezeout};
use freezeout_tests::{TinyNet, fast_schedule, quadrant_data};

#[derive(Module, Debug)]
struct Layer {
    linear: Linear,
    act: Relu,
}

impl Layer {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.act.forward(self.linear.forward(x))
    }
}

/// A non-image model: an MLP regressor on rank-2 input.
#[freezeout(head = predict, input = 2, output = 2)]
#[derive(Module, Debug)]
struct Regressor {
    #[freezeout(unit)]
    input: Linear,
    #[freezeout(unit)]
    hidden: Vec<Layer>,
    output: Linear,
}

impl Regressor {
    fn new(device: &Device) -> Self {
        Self {
            input: LinearConfig::new(4, 16).init(device),
            hidden: (0..2).map(|_| Layer { linear: LinearConfig::new(16, 16).init(device), act: Relu::new() }).collect(),
            output: LinearConfig::new(16, 1).init(device),
        }
    }

    fn predict(&self, x: Tensor<2>) -> Tensor<2> {
        self.output.forward(x)
    }
}

fn values(t: Tensor<2>) -> Vec<f32> {
    let data: TensorData = t.into_data();
    data.try_to_vec::<f32>().unwrap()
}

/// Trains the regressor for `total` iterations with a fast schedule; after each iteration
/// checks that every frozen unit's weights equal the ones it froze with.
fn train_regressor(mut optim: ModuleOptimizer, total: u64) -> Vec<(u64, usize)> {
    let device = Device::flex().autodiff();
    device.seed(3);
    let mut model = Regressor::new(&device);
    let mut driver = FreezeOutDriver::new(&model, fast_schedule().schedule, total).unwrap();
    let mut frozen_weights: Vec<Vec<f32>> = Vec::new();
    let mut frozen_at = Vec::new();
    let unit_weight = |m: &Regressor, i: usize| -> Vec<f32> {
        if i == 0 { values(m.input.weight.val()) } else { values(m.hidden[i - 1].linear.weight.val()) }
    };
    for j in 0..total {
        assert_eq!(driver.iteration(), j);
        model = driver.freeze(model);
        while frozen_weights.len() < driver.frozen_units() {
            frozen_at.push((j, frozen_weights.len()));
            frozen_weights.push(unit_weight(&model, frozen_weights.len()));
        }
        let x = Tensor::<2>::random([32, 4], Distribution::Normal(0.0, 1.0), &device);
        let y = x.clone().sum_dim(1).sin();
        let loss = MseLoss::new().forward(model.forward(x), y, Reduction::Mean);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(driver.learning_rates(), model, grads);
        driver.advance();
        for (i, w) in frozen_weights.iter().enumerate() {
            assert_eq!(&unit_weight(&model, i), w, "unit {i} changed after it froze (iteration {j})");
        }
    }
    assert_eq!(model.frozen_units(), driver.frozen_units());
    frozen_at
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

#[test]
fn the_driver_freezes_and_rates_exactly_as_fit_does() {
    let device = Device::flex().autodiff();
    device.seed(5);
    let config = fast_schedule();
    let mut data = quadrant_data(6, 2, 8, 8, 1);
    let mut log = RunLog::in_memory();
    let model = TinyNet::new(3, 4, 4, &device);
    let fresh = model.clone();
    let out = train::fit(model, &mut data, &config, &device, &mut log).unwrap();
    let total = out.summary.total_iterations;
    let fit_events: Vec<(u64, u64, Vec<f64>)> = log
        .events
        .iter()
        .filter(|e| e["event"] == "freeze")
        .map(|e| (e["iter"].as_u64().unwrap(), e["frozen"].as_u64().unwrap(), serde_json::from_value(e["lrs"].clone()).unwrap()))
        .collect();
    assert!(fit_events.len() >= 3, "{fit_events:?}");

    // The same schedule driven by hand, no model updates: the same freezes with the same rates.
    let mut driver = FreezeOutDriver::new(&fresh, config.schedule, total).unwrap();
    let mut model = fresh;
    for _ in 0..total {
        model = driver.freeze(model);
        driver.advance();
    }
    let ours: Vec<(u64, u64, Vec<f64>)> = driver.events().iter().map(|e| (e.iteration, e.to as u64, e.lrs.clone())).collect();
    assert_eq!(ours, fit_events);
    assert_eq!(model.frozen_units(), out.model.frozen_units());

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
