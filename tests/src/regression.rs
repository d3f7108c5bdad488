//! A non-image fixture: an MLP regressor on rank-2 input, trainable by `fit_task` (as a
//! [`Task`]) and by burn-train's `Learner` (`TrainStep` / `InferenceStep`), on the same batches
//! in the same order. Both compute the loss with [`squared_errors`], so their runs can be
//! compared bit for bit.

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::data::dataset::InMemDataset;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig, Relu};
use burn::tensor::{Device, Tensor, TensorData};
use burn::train::{InferenceStep, RegressionOutput, TrainOutput, TrainStep};
use burn_freezeout::data::InMemory;
use burn_freezeout::drift::DriftProbe;
use burn_freezeout::task::{ProbeStep, Task, TaskOutput, UnitProbe};
use burn_freezeout::{FreezeOutForward, freezeout};
use rand::{Rng, SeedableRng};
use std::sync::Arc;

/// Input features.
pub const FEATURES: usize = 4;

/// Linear → ReLU.
#[derive(Module, Debug)]
pub struct Layer {
    /// The weights.
    pub linear: Linear,
    act: Relu,
}

impl Layer {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.act.forward(self.linear.forward(x))
    }
}

/// Units: the input layer and each hidden layer; the head: the output layer.
#[freezeout(head = predict, input = 2, output = 2)]
#[derive(Module, Debug)]
pub struct Regressor {
    /// Unit 0.
    #[freezeout(unit)]
    pub input: Linear,
    /// Units 1..
    #[freezeout(unit)]
    pub hidden: Vec<Layer>,
    output: Linear,
}

impl Regressor {
    /// `FEATURES` → 16 → (`depth` hidden layers of 16) → 1.
    pub fn new(depth: usize, device: &Device) -> Self {
        Self {
            input: LinearConfig::new(FEATURES, 16).init(device),
            hidden: (0..depth)
                .map(|_| Layer { linear: LinearConfig::new(16, 16).init(device), act: Relu::new() })
                .collect(),
            output: LinearConfig::new(16, 1).init(device),
        }
    }

    fn predict(&self, x: Tensor<2>) -> Tensor<2> {
        self.output.forward(x)
    }

    /// The first weight tensor of unit `i`, as values.
    pub fn unit_weight(&self, i: usize) -> Vec<f32> {
        let w = if i == 0 { self.input.weight.val() } else { self.hidden[i - 1].linear.weight.val() };
        w.into_data().try_to_vec::<f32>().unwrap()
    }

    /// Every parameter's values, in visiting order.
    pub fn all_values(&self) -> Vec<Vec<f32>> {
        struct Values(Vec<Vec<f32>>);
        impl burn::module::ModuleVisitor for Values {
            fn visit_float<const D: usize>(&mut self, p: &burn::module::Param<Tensor<D>>) {
                self.0.push(p.val().into_data().try_to_vec::<f32>().unwrap());
            }
        }
        let mut v = Values(Vec::new());
        self.visit(&mut v);
        v.0
    }
}

/// One example.
#[derive(Clone, Debug)]
pub struct Example {
    /// Features.
    pub x: [f32; FEATURES],
    /// Target.
    pub y: f32,
}

/// `n` examples of `y = sin(Σx)` with normal features, from `seed`.
pub fn examples(n: usize, seed: u64) -> Vec<Example> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let x: [f32; FEATURES] = std::array::from_fn(|_| rng.random_range(-2.0f32..2.0));
            Example { x, y: x.iter().sum::<f32>().sin() }
        })
        .collect()
}

/// A batch on the host: `n · FEATURES` features and `n` targets.
pub type HostRows = (Vec<f32>, Vec<f32>);

fn rows(items: &[Example]) -> HostRows {
    (items.iter().flat_map(|e| e.x).collect(), items.iter().map(|e| e.y).collect())
}

/// A batch on the device.
#[derive(Clone, Debug)]
pub struct Rows {
    /// `[n, FEATURES]`.
    pub x: Tensor<2>,
    /// `[n, 1]`.
    pub y: Tensor<2>,
}

fn to_device((x, y): HostRows, device: &Device) -> Rows {
    let n = y.len();
    Rows {
        x: Tensor::from_data(TensorData::new(x, [n, FEATURES]), device),
        y: Tensor::from_data(TensorData::new(y, [n, 1]), device),
    }
}

/// The prediction and the squared errors: the loss is their mean, MSE their mean too.
pub fn squared_errors<M: FreezeOutForward<2, 2>>(model: &M, rows: Rows) -> (Tensor<2>, Tensor<2>) {
    let prediction = model.forward_freezeout(rows.x);
    let squared = (prediction.clone() - rows.y).powi_scalar(2);
    (prediction, squared)
}

/// Regression as a `fit_task` task: mean squared error, reported as the metric too.
pub struct Regression;

impl<M: FreezeOutForward<2, 2>> Task<M> for Regression {
    type Batch = HostRows;
    type Input = Rows;
    fn batch_len(&self, batch: &HostRows) -> usize {
        batch.1.len()
    }
    fn to_device(&self, batch: HostRows, device: &Device) -> Rows {
        to_device(batch, device)
    }
    fn forward(&self, model: &M, rows: Rows) -> TaskOutput {
        let (_, squared) = squared_errors(model, rows);
        TaskOutput { loss: squared.clone().mean(), metric: squared.detach().sum() }
    }
    /// The drift policy's probe: the rows' features.
    fn drift_probe(&self, batch: HostRows, device: &Device) -> Option<Box<dyn ProbeStep<M>>> {
        Some(Box::new(UnitProbe::<2, 2>(DriftProbe::new(to_device(batch, device).x))))
    }
}

/// `train` and `eval` in `batch`-sized batches, in order, for `fit_task`.
pub fn in_memory(train: &[Example], eval: &[Example], batch: usize) -> InMemory<HostRows> {
    InMemory { train: train.chunks(batch).map(rows).collect(), eval: eval.chunks(batch).map(rows).collect() }
}

/// The drift policy's probe input of [`in_memory`]'s data (its first held-out batch's
/// features, as `DataSource::probe` gives them to `fit_task`), for a `Learner` run.
pub fn probe_input(eval: &[Example], batch: usize, device: &Device) -> Tensor<2> {
    to_device(rows(&eval[..batch.min(eval.len())]), device).x
}

/// Batches examples for burn's data loader.
#[derive(Clone, Copy, Debug, Default)]
pub struct RowBatcher;

impl Batcher<Example, Rows> for RowBatcher {
    fn batch(&self, items: Vec<Example>, device: &Device) -> Rows {
        to_device(rows(&items), device)
    }
}

/// A burn data loader of `items` in `batch`-sized batches, in order (the same batches as
/// [`in_memory`]).
pub fn loader(items: &[Example], batch: usize) -> Arc<dyn DataLoader<Rows>> {
    DataLoaderBuilder::new(RowBatcher).batch_size(batch).build(InMemDataset::new(items.to_vec()))
}

impl TrainStep for Regressor {
    type Input = Rows;
    type Output = RegressionOutput;

    fn step(&self, rows: Rows) -> TrainOutput<RegressionOutput> {
        let targets = rows.y.clone();
        let (prediction, squared) = squared_errors(self, rows);
        let loss = squared.mean();
        TrainOutput::new(self, loss.backward(), RegressionOutput::new(loss, prediction, targets))
    }
}

impl InferenceStep for Regressor {
    type Input = Rows;
    type Output = RegressionOutput;

    fn step(&self, rows: Rows) -> RegressionOutput {
        let targets = rows.y.clone();
        let (prediction, squared) = squared_errors(self, rows);
        RegressionOutput::new(squared.mean(), prediction, targets)
    }
}
