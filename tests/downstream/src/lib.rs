//! A crate as a user writes it, outside the library: it depends on `burn-freezeout` under the
//! name `fo`, annotates a model with `#[fo::freezeout]`, and another through a re-export of the
//! library (`crate = path`).

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// A 3×3 convolution, BatchNorm and ReLU.
#[derive(Module, Debug)]
pub struct Block {
    conv: Conv2d,
    bn: BatchNorm,
}

impl Block {
    fn new(c_in: usize, c_out: usize, device: &Device) -> Self {
        Self {
            conv: Conv2dConfig::new([c_in, c_out], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device),
            bn: BatchNormConfig::new(c_out).init(device),
        }
    }

    /// The block's forward pass.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        relu(self.bn.forward(self.conv.forward(x)))
    }
}

/// Two blocks as units, a linear classifier as the head.
#[fo::freezeout(head = classify)]
#[derive(Module, Debug)]
pub struct Net {
    #[freezeout(unit)]
    first: Block,
    #[freezeout(unit)]
    second: Block,
    classifier: Linear,
}

impl Net {
    /// On `side`×`side` RGB images, `classes` classes.
    pub fn new(side: usize, classes: usize, device: &Device) -> Self {
        Self {
            first: Block::new(3, 4, device),
            second: Block::new(4, 4, device),
            classifier: LinearConfig::new(4 * side * side, classes).init(device),
        }
    }

    fn classify(&self, x: Tensor<4>) -> Tensor<2> {
        let [n, c, h, w] = x.dims();
        self.classifier.forward(x.reshape([n, c * h * w]))
    }
}

/// The library as a crate that wraps it might re-export it.
pub mod reexport {
    pub use fo::*;
}

/// Annotated through the re-export: `crate = crate::reexport`.
#[fo::freezeout(crate = crate::reexport, head = classify)]
#[derive(Module, Debug)]
pub struct Reexported {
    #[freezeout(unit)]
    first: Conv2d,
    classifier: Linear,
}

impl Reexported {
    /// On `side`×`side` RGB images, `classes` classes.
    pub fn new(side: usize, classes: usize, device: &Device) -> Self {
        Self {
            first: Conv2dConfig::new([3, 2], [1, 1]).init(device),
            classifier: LinearConfig::new(2 * side * side, classes).init(device),
        }
    }

    fn classify(&self, x: Tensor<4>) -> Tensor<2> {
        let [n, c, h, w] = x.dims();
        self.classifier.forward(x.reshape([n, c * h * w]))
    }
}
