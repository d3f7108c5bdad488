//! FreezeOut in your own Burn training loop: an MLP regressor on rank-2 input, trained with
//! Adam by a hand-written loop. The lines marked `// FreezeOut` are all that FreezeOut adds.
//!
//! `cargo run --release -p burn-freezeout --example own_loop`

use burn::module::Module;
use burn::nn::loss::{MseLoss, Reduction};
use burn::nn::{Linear, LinearConfig, Relu};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Distribution, Tensor};
use burn_freezeout::{FreezeOut, FreezeOutDriver, ScheduleConfig, freezeout};

#[derive(Module, Debug)]
struct Layer {
    linear: Linear,
    act: Relu,
}

impl Layer {
    fn new(width: usize, device: &Device) -> Self {
        Self { linear: LinearConfig::new(width, width).init(device), act: Relu::new() }
    }

    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.act.forward(self.linear.forward(x))
    }
}

/// Units: the input layer and each hidden layer; the head: the output layer.
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
    fn new(features: usize, width: usize, depth: usize, device: &Device) -> Self {
        Self {
            input: LinearConfig::new(features, width).init(device),
            hidden: (0..depth).map(|_| Layer::new(width, device)).collect(),
            output: LinearConfig::new(width, 1).init(device),
        }
    }

    fn predict(&self, x: Tensor<2>) -> Tensor<2> {
        self.output.forward(x)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let device = Device::flex().autodiff();
    let (epochs, batches, batch) = (4u64, 25u64, 64);
    let mut model = Regressor::new(8, 32, 3, &device);
    let mut optim = AdamConfig::new().init();
    let loss_fn = MseLoss::new();
    let weights = Tensor::<2>::random([8, 1], Distribution::Normal(0.0, 1.0), &device);

    let mut freezeout =
        FreezeOutDriver::new(&model, ScheduleConfig { base_lr: 1e-2, ..ScheduleConfig::default() }, epochs * batches)?; // FreezeOut
    for epoch in 0..epochs {
        let mut total = 0.0;
        for _ in 0..batches {
            let x = Tensor::<2>::random([batch, 8], Distribution::Normal(0.0, 1.0), &device);
            let y = x.clone().matmul(weights.clone()).sin();
            model = freezeout.freeze(model); // FreezeOut
            let loss = loss_fn.forward(model.forward(x), y, Reduction::Mean);
            total += loss.clone().into_scalar::<f32>();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(freezeout.learning_rates(), model, grads); // FreezeOut (was: a rate)
            freezeout.advance(); // FreezeOut
        }
        println!(
            "epoch {epoch}: mean loss {:.4}, {} of {} units frozen",
            total / batches as f32,
            model.frozen_units(),
            model.num_units()
        );
    }
    for e in freezeout.events() {
        println!("iteration {}: froze {:?}", e.iteration, e.units);
    }
    Ok(())
}
