//! Wide ResNet WRN-d-w (Zagoruyko & Komodakis) with pre-activation basic blocks.
//!
//! Units: the first convolution (unit 0) and every residual block; BN + classifier is the head.
//! WRN-40-4 has `N = 19` units, WRN-28-10 `N = 13`.

use super::layers::{bn, conv, global_avg_pool, linear};
use crate::freezeout;
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, Dropout, DropoutConfig, Linear};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// BN-ReLU-conv3×3(stride)-BN-ReLU-dropout-conv3×3, plus the identity or a 1×1 projection of
/// the pre-activated input.
#[derive(Module, Debug)]
pub struct WideBlock {
    bn1: BatchNorm,
    conv1: Conv2d,
    bn2: BatchNorm,
    dropout: Dropout,
    conv2: Conv2d,
    shortcut: Option<Conv2d>,
}

impl WideBlock {
    fn new(c_in: usize, c_out: usize, stride: usize, dropout: f64, device: &Device) -> Self {
        Self {
            bn1: bn(c_in, device),
            conv1: conv(c_in, c_out, 3, stride, device),
            bn2: bn(c_out, device),
            dropout: DropoutConfig::new(dropout).init(),
            conv2: conv(c_out, c_out, 3, 1, device),
            shortcut: (c_in != c_out || stride != 1).then(|| conv(c_in, c_out, 1, stride, device)),
        }
    }

    /// The residual block.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let o = relu(self.bn1.forward(x.clone()));
        let h = self.conv1.forward(o.clone());
        let h = self.conv2.forward(self.dropout.forward(relu(self.bn2.forward(h))));
        let skip = match &self.shortcut {
            Some(proj) => proj.forward(o),
            None => x,
        };
        h + skip
    }
}

/// WRN-depth-width for 32×32 inputs.
#[freezeout(head = classify)]
#[derive(Module, Debug)]
pub struct WideResNet {
    #[freezeout(unit)]
    stem: Conv2d,
    #[freezeout(unit)]
    group1: Vec<WideBlock>,
    #[freezeout(unit)]
    group2: Vec<WideBlock>,
    #[freezeout(unit)]
    group3: Vec<WideBlock>,
    bn: BatchNorm,
    fc: Linear,
}

impl WideResNet {
    /// WRN-`depth`-`width` (`(depth − 4) / 6` blocks per group), dropout probability `dropout`.
    pub fn new(depth: usize, width: usize, dropout: f64, classes: usize, device: &Device) -> Self {
        let n = (depth - 4) / 6;
        let widths = [16, 16 * width, 32 * width, 64 * width];
        let group = |c_in: usize, c_out: usize, stride: usize| -> Vec<WideBlock> {
            (0..n)
                .map(|i| {
                    let (c, s) = if i == 0 { (c_in, stride) } else { (c_out, 1) };
                    WideBlock::new(c, c_out, s, dropout, device)
                })
                .collect()
        };
        Self {
            stem: conv(3, widths[0], 3, 1, device),
            group1: group(widths[0], widths[1], 1),
            group2: group(widths[1], widths[2], 2),
            group3: group(widths[2], widths[3], 2),
            bn: bn(widths[3], device),
            fc: linear(widths[3], classes, None, device),
        }
    }

    fn classify(&self, x: Tensor<4>) -> Tensor<2> {
        self.fc.forward(global_avg_pool(relu(self.bn.forward(x))))
    }
}
