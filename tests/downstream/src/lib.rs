//! A crate as a user writes it, outside the library: it depends on `burn-freezeout` under the
//! name `fo`, annotates a model with `#[fo::freezeout]`, and another through a re-export of the
//! library (`crate = path`).

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor};

/// Two 3×3 convolutions as units, a linear classifier as the head.
#[fo::freezeout(head = classify)]
#[derive(Module, Debug)]
pub struct Net {
    #[freezeout(unit)]
    first: Conv2d,
    #[freezeout(unit)]
    second: Conv2d,
    classifier: Linear,
}

impl Net {
    /// On `side`×`side` RGB images, `classes` classes.
    pub fn new(side: usize, classes: usize, device: &Device) -> Self {
        let conv = |c_in, c_out| {
            Conv2dConfig::new([c_in, c_out], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).init(device)
        };
        Self {
            first: conv(3, 4),
            second: conv(4, 4),
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
