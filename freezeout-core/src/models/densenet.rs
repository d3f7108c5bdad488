//! DenseNet-BC (Huang et al.) for 32×32 inputs: bottleneck layers, compression 0.5.
//!
//! Units: the first convolution (unit 0), every dense layer and every transition, in forward
//! order; BN + classifier is the head. DenseNet-BC-76-12 has `N = 39` units.

use super::layers::{avg_pool2, bn, conv, global_avg_pool, linear, pointwise};
use crate::freezeout;
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, Linear};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// BN-ReLU-conv1×1(4k)-BN-ReLU-conv3×3(k), output concatenated to the input.
#[derive(Module, Debug)]
pub struct DenseLayer {
    bn1: BatchNorm,
    conv1: Conv2d,
    bn2: BatchNorm,
    conv2: Conv2d,
}

impl DenseLayer {
    fn new(c_in: usize, growth: usize, device: &Device) -> Self {
        Self {
            bn1: bn(c_in, device),
            conv1: conv(c_in, 4 * growth, 1, 1, device),
            bn2: bn(4 * growth, device),
            conv2: conv(4 * growth, growth, 3, 1, device),
        }
    }

    /// `[n, c, h, w] → [n, c + k, h, w]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let h = pointwise(&self.conv1, relu(self.bn1.forward(x.clone())));
        let h = self.conv2.forward(relu(self.bn2.forward(h)));
        Tensor::cat(vec![x, h], 1)
    }
}

/// BN-ReLU-conv1×1 (compression) then 2×2 average pooling.
#[derive(Module, Debug)]
pub struct Transition {
    bn: BatchNorm,
    conv: Conv2d,
}

impl Transition {
    fn new(c_in: usize, c_out: usize, device: &Device) -> Self {
        Self { bn: bn(c_in, device), conv: conv(c_in, c_out, 1, 1, device) }
    }

    /// `[n, c, h, w] → [n, c/2, h/2, w/2]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        avg_pool2(pointwise(&self.conv, relu(self.bn.forward(x))))
    }
}

/// DenseNet-BC with three dense blocks.
#[freezeout(head = classify)]
#[derive(Module, Debug)]
pub struct DenseNet {
    #[freezeout(unit)]
    stem: Conv2d,
    #[freezeout(unit)]
    block1: Vec<DenseLayer>,
    #[freezeout(unit)]
    trans1: Transition,
    #[freezeout(unit)]
    block2: Vec<DenseLayer>,
    #[freezeout(unit)]
    trans2: Transition,
    #[freezeout(unit)]
    block3: Vec<DenseLayer>,
    bn: BatchNorm,
    fc: Linear,
}

impl DenseNet {
    /// DenseNet-BC of depth `depth` (`(depth − 4) / 6` layers per block) and growth `growth`.
    pub fn new(depth: usize, growth: usize, classes: usize, device: &Device) -> Self {
        let per_block = (depth - 4) / 6;
        let mut c = 2 * growth;
        let stem = conv(3, c, 3, 1, device);
        let block = |c: &mut usize| -> Vec<DenseLayer> {
            (0..per_block)
                .map(|_| {
                    let layer = DenseLayer::new(*c, growth, device);
                    *c += growth;
                    layer
                })
                .collect()
        };
        let block1 = block(&mut c);
        let trans1 = Transition::new(c, c / 2, device);
        c /= 2;
        let block2 = block(&mut c);
        let trans2 = Transition::new(c, c / 2, device);
        c /= 2;
        let block3 = block(&mut c);
        Self { stem, block1, trans1, block2, trans2, block3, bn: bn(c, device), fc: linear(c, classes, None, device) }
    }

    fn classify(&self, x: Tensor<4>) -> Tensor<2> {
        self.fc.forward(global_avg_pool(relu(self.bn.forward(x))))
    }
}
