//! VGG-16 with BatchNorm for 32×32 inputs (the reference's configuration).
//!
//! Units: the 13 convolution layers (conv-BN-ReLU, with the 2×2 max-pool that follows five of
//! them); the classifier is the head. The reference code never freezes VGG (its iteration
//! counter is never incremented); here it is frozen like every other model.

use super::layers::{bn, conv, linear};
use crate::freezeout;
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, Dropout, DropoutConfig, Initializer, Linear};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// Output channels of the 13 layers; `true` where a max-pool follows.
const LAYERS: [(usize, bool); 13] = [
    (64, false),
    (64, true),
    (128, false),
    (128, true),
    (256, false),
    (256, false),
    (256, true),
    (512, false),
    (512, false),
    (512, true),
    (512, false),
    (512, false),
    (512, true),
];

/// conv3×3-BN-ReLU, optionally followed by 2×2 max-pooling.
#[derive(Module, Debug)]
pub struct VggLayer {
    conv: Conv2d,
    bn: BatchNorm,
    pool: Option<MaxPool2d>,
}

impl VggLayer {
    /// The layer.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = relu(self.bn.forward(self.conv.forward(x)));
        match &self.pool {
            Some(pool) => pool.forward(y),
            None => y,
        }
    }
}

/// VGG-16-BN with the reference's classifier (two 512-wide hidden layers with BN and dropout).
#[freezeout(head = classify)]
#[derive(Module, Debug)]
pub struct Vgg {
    #[freezeout(unit)]
    features: Vec<VggLayer>,
    fc1: Linear,
    bn1: BatchNorm,
    fc2: Linear,
    bn2: BatchNorm,
    bn3: BatchNorm,
    dropout: Dropout,
    fc3: Linear,
}

impl Vgg {
    /// VGG-16-BN for `classes` classes.
    pub fn new(classes: usize, device: &Device) -> Self {
        let mut c_in = 3;
        let features = LAYERS
            .iter()
            .map(|&(c_out, pool)| {
                let layer = VggLayer {
                    conv: conv(c_in, c_out, 3, 1, device),
                    bn: bn(c_out, device),
                    pool: pool.then(|| MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init()),
                };
                c_in = c_out;
                layer
            })
            .collect();
        let small = || Some(Initializer::Normal { mean: 0.0, std: 0.01 });
        Self {
            features,
            fc1: linear(512, 512, small(), device),
            bn1: bn(512, device),
            fc2: linear(512, 512, small(), device),
            bn2: bn(512, device),
            bn3: bn(512, device),
            dropout: DropoutConfig::new(0.5).init(),
            fc3: linear(512, classes, small(), device),
        }
    }

    fn classify(&self, x: Tensor<4>) -> Tensor<2> {
        let [n, c, h, w] = x.dims();
        let x = x.reshape([n, c * h * w]);
        let x = self.dropout.forward(relu(self.bn1.forward(self.fc1.forward(x))));
        let x = relu(self.bn2.forward(self.fc2.forward(x)));
        let x = self.dropout.forward(self.bn3.forward(x));
        self.fc3.forward(x)
    }
}
