//! The driver against budgets and rates worked out by hand, on a three-unit MLP: linear
//! scaling, t0 = 0.5, LR scaling, α = 0.1, T = 12, so t_i = 0.5, 2/3, 5/6, budgets 6, 8 and 10,
//! and the units are frozen from iterations 7, 9 and 11.

use super::*;
use crate::policy::{Adaptive, AdaptiveConfig};
use crate::{Scaling, freezeout};
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Distribution, Tensor};
use std::f64::consts::PI;

/// Three linear units and a linear head.
#[freezeout(head = head, input = 2, output = 2)]
#[derive(Module, Debug)]
struct Mlp {
    #[freezeout(unit)]
    layers: Vec<Linear>,
    out: Linear,
}

impl Mlp {
    fn new(device: &Device) -> Self {
        Self {
            layers: (0..3).map(|_| LinearConfig::new(4, 4).init(device)).collect(),
            out: LinearConfig::new(4, 1).init(device),
        }
    }
    fn head(&self, x: Tensor<2>) -> Tensor<2> {
        self.out.forward(x)
    }
}

const T: u64 = 12;
const ALPHA: f64 = 0.1;

fn config() -> ScheduleConfig {
    ScheduleConfig { t0: 0.5, scaling: Scaling::Linear, scale_lr: true, base_lr: ALPHA }
}

/// The rate of unit `i` (3: the head) at iteration `j`, from the paper's formula.
fn paper_rate(i: usize, j: u64) -> f64 {
    let t = [0.5, 2.0 / 3.0, 5.0 / 6.0, 1.0][i];
    let budget = t * T as f64;
    if i < 3 && j as f64 > budget {
        return 0.0;
    }
    0.5 * (ALPHA / t) * (1.0 + (PI * j as f64 / budget).cos())
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1e-9)
}

#[test]
fn it_freezes_each_unit_after_its_budget_and_records_the_freeze_with_every_rate() {
    let device = Device::flex().autodiff();
    let mut model = Mlp::new(&device);
    let mut driver = FreezeOutDriver::new(&model, config(), T).unwrap();
    assert_eq!(driver.num_units(), 3);
    let mut prefixes = Vec::new();
    for j in 0..T {
        assert_eq!(driver.iteration(), j);
        model = driver.freeze(model);
        assert_eq!(model.frozen_units(), driver.frozen_units(), "the model is frozen to the driver's prefix");
        prefixes.push(driver.frozen_units());
        for i in 0..=3 {
            assert!(close(driver.lr(i), paper_rate(i, j)), "unit {i} at {j}: {} vs {}", driver.lr(i), paper_rate(i, j));
        }
        driver.advance();
    }
    assert_eq!(prefixes, [0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 3]);
    let events: Vec<(u64, usize, usize, Vec<String>)> =
        driver.events().iter().map(|e| (e.iteration, e.from, e.to, e.units.clone())).collect();
    let names = |i: usize| vec![format!("layers.{i}")];
    assert_eq!(events, [(7, 0, 1, names(0)), (9, 1, 2, names(1)), (11, 2, 3, names(2))]);
    for e in driver.events() {
        assert_eq!(e.lrs.len(), 4);
        assert!(e.lrs.iter().enumerate().all(|(i, &lr)| close(lr, paper_rate(i, e.iteration))), "{e:?}");
    }
}

#[test]
fn learning_rates_give_each_active_unit_its_rate_and_the_head_and_the_rest_the_heads() {
    let device = Device::flex().autodiff();
    let mut model = Mlp::new(&device);
    let mut driver = FreezeOutDriver::new(&model, config(), T).unwrap();
    for _ in 0..8 {
        model = driver.freeze(model);
        driver.advance();
    }
    model = driver.freeze(model);
    assert_eq!((driver.iteration(), driver.frozen_units()), (8, 1));
    let lrs = driver.learning_rates();
    let units = model.units();
    for id in &units[1].param_ids {
        assert!(close(lrs.lr_from_param(*id, None), paper_rate(1, 8)));
    }
    for id in &units[2].param_ids {
        assert!(close(lrs.lr_from_param(*id, None), paper_rate(2, 8)));
    }
    // The head's rate for the head and for everything outside the active units (a frozen unit
    // gets no gradient, so its rate is never used).
    for id in head_param_ids(&model).iter().chain(&units[0].param_ids) {
        assert!(close(lrs.lr_from_param(*id, None), paper_rate(3, 8)));
    }
    assert!(paper_rate(1, 8) != paper_rate(3, 8) && paper_rate(2, 8) != paper_rate(1, 8));
}

#[test]
fn a_restored_driver_continues_exactly_and_refreezes_a_fresh_model() {
    let device = Device::flex().autodiff();
    let (mut a, mut model) = (FreezeOutDriver::new(&Mlp::new(&device), config(), T).unwrap(), Mlp::new(&device));
    for _ in 0..10 {
        model = a.freeze(model);
        a.advance();
    }
    assert_eq!(a.state(), DriverState { iteration: 10, frozen_units: 2 });
    let mut b = FreezeOutDriver::new(&Mlp::new(&device), config(), T).unwrap();
    let fresh = b.restore(Mlp::new(&device), a.state());
    assert_eq!(fresh.frozen_units(), 2, "restore freezes the model to the saved prefix");
    // Without a model at hand: the next freeze brings a fresh model to the prefix.
    let mut c = FreezeOutDriver::new(&Mlp::new(&device), config(), T).unwrap();
    c.restore_state(a.state());
    assert_eq!(c.freeze(Mlp::new(&device)).frozen_units(), 2);
    for _ in 10..T {
        model = a.freeze(model);
        let _ = b.freeze(Mlp::new(&device));
        assert_eq!((a.iteration(), a.frozen_units()), (b.iteration(), b.frozen_units()));
        assert_eq!((0..=3).map(|i| a.lr(i)).collect::<Vec<_>>(), (0..=3).map(|i| b.lr(i)).collect::<Vec<_>>());
        a.advance();
        b.advance();
    }
    assert_eq!(a.frozen_units(), 3);
}

#[test]
fn a_policy_for_another_number_of_units_is_refused() {
    let device = Device::flex().autodiff();
    let schedule = Schedule::freezeout(config(), 4, T).unwrap();
    let e = FreezeOutDriver::with_schedule(&Mlp::new(&device), schedule).unwrap_err();
    assert_eq!(e, ScheduleError::UnitMismatch { schedule: 4, model: 3 });
}

/// A gradient-norm policy that samples at iterations 0, 3, 6, … in windows of half the run.
fn sampling_every_third() -> AdaptiveConfig {
    AdaptiveConfig {
        threshold: 0.05,
        window: 0.5,
        sample_every: 3,
        min_fraction: 0.0,
        ramp: 0.1,
        ..AdaptiveConfig::default()
    }
}

#[test]
fn only_an_adaptive_policy_is_handed_gradient_norms_and_only_when_it_samples() {
    let device = Device::flex().autodiff();
    let adaptive = sampling_every_third();
    let model = Mlp::new(&device);
    let mut driver =
        FreezeOutDriver::with_policy(&model, Adaptive::new(adaptive, ALPHA, 3, T).unwrap().into()).unwrap();
    let grads = |model: &Mlp| {
        let x = Tensor::<2>::random([8, 4], Distribution::Normal(0.0, 1.0), &device);
        GradientsParams::from_grads(model.forward(x).sum().backward(), model)
    };
    let mut model = model;
    for _ in 0..6 {
        model = driver.freeze(model);
        driver.observe_gradients(&model, &grads(&model));
        driver.advance();
    }
    // Samples at iterations 0 and 3 fell in the first window (0..6): two per unit.
    let state = driver.policy_state().expect("an adaptive policy has state");
    assert!(state.units.iter().all(|u| u.samples == 2 && u.sum > 0.0), "{state:?}");
    // Restored into a fresh driver, the policy's state is the one saved.
    let mut restored =
        FreezeOutDriver::with_policy(&Mlp::new(&device), Adaptive::new(adaptive, ALPHA, 3, T).unwrap().into()).unwrap();
    restored.restore_policy_state(state.clone());
    assert_eq!(restored.policy_state(), Some(state));
    // A schedule has no state and takes no samples.
    let mut schedule = FreezeOutDriver::new(&model, config(), T).unwrap();
    schedule.observe_gradients(&model, &grads(&model));
    assert_eq!(schedule.policy_state(), None);
}

#[test]
fn debug_shows_the_position_not_every_parameter_id() {
    let device = Device::flex().autodiff();
    let model = Mlp::new(&device);
    let driver = FreezeOutDriver::new(&model, config(), T).unwrap();
    let shown = format!("{driver:?}");
    assert_eq!(shown, "FreezeOutDriver { policy: \"freezeout\", units: 3, iteration: 0, frozen_units: 0, freezes: 0 }");
    let baseline = FreezeOutDriver::with_schedule(&model, Schedule::baseline(ALPHA, 3, T).unwrap()).unwrap();
    assert!(format!("{baseline:?}").contains("\"baseline\""));
}

#[test]
fn a_sampled_norm_is_the_units_l2_norm_over_all_its_parameters() {
    let device = Device::flex().autodiff();
    let adaptive = sampling_every_third();
    let model = Mlp::new(&device);
    let mut driver =
        FreezeOutDriver::with_policy(&model, Adaptive::new(adaptive, ALPHA, 3, T).unwrap().into()).unwrap();
    let model = driver.freeze(model);
    let x = Tensor::<2>::random([8, 4], Distribution::Normal(0.0, 1.0), &device);
    let grads = GradientsParams::from_grads(model.forward(x).sum().backward(), &model);
    driver.observe_gradients(&model, &grads);
    let squares = |values: Vec<f32>| values.iter().map(|&v| v as f64 * v as f64).sum::<f64>();
    let state = driver.policy_state().unwrap();
    for (i, layer) in model.layers.iter().enumerate() {
        let w = grads.get::<2>(layer.weight.id).unwrap().into_data().try_to_vec::<f32>().unwrap();
        let b = grads.get::<1>(layer.bias.as_ref().unwrap().id).unwrap().into_data().try_to_vec::<f32>().unwrap();
        let expected = (squares(w) + squares(b)).sqrt();
        let got = state.units[i].sum;
        assert!(expected > 0.0 && (got - expected).abs() <= 1e-5 * expected, "unit {i}: {got} vs {expected}");
    }
}
