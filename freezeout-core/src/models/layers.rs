//! Layer constructors with the reference initialisation: convolutions He-normal over fan-out
//! (`N(0, 2 / (k·k·out))`, no bias), BatchNorm weight 1 / bias 0, linear biases 0.

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor};

/// `k×k` convolution, stride `stride`, padding `k/2`, no bias, He-normal (fan-out).
pub(crate) fn conv(c_in: usize, c_out: usize, k: usize, stride: usize, device: &Device) -> Conv2d {
    let p = k / 2;
    Conv2dConfig::new([c_in, c_out], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
        .with_bias(false)
        .with_initializer(Initializer::KaimingNormal { gain: std::f64::consts::SQRT_2, fan_out_only: true })
        .init(device)
}

/// `conv.forward(x)` for a 1×1 convolution with stride 1: the same module (weights, records,
/// freezing) and the same math, computed, when a gradient will flow through it, as one matrix
/// product over the channels. Its weight gradient is then a matrix product too, where Burn
/// 0.22's default `conv2d_weight_backward` (which flex keeps) runs a convolution with an H×W
/// kernel over transposed copies of the input and the output gradient: 5× faster on flex at
/// DenseNet-BC's shapes (`bench-harness/PERF.md`, "one op, one shape"). Without a gradient
/// (frozen units, inference) flex's own 1×1 convolution runs, its forward being the faster.
/// Our DenseNets use it for every 1×1 convolution; use it for yours the same way.
///
/// ```
/// use burn::nn::conv::Conv2dConfig;
/// use burn::tensor::{Device, Tensor};
/// use burn_freezeout::models::pointwise;
///
/// let device = Device::flex().autodiff();
/// let conv = Conv2dConfig::new([8, 4], [1, 1]).init(&device); // in your module: self.conv
/// let x = Tensor::<4>::ones([2, 8, 5, 5], &device);
/// let y = pointwise(&conv, x); // instead of conv.forward(x)
/// assert_eq!(y.dims(), [2, 4, 5, 5]);
/// ```
pub fn pointwise(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let [c_out, c_in, kh, kw] = conv.weight.dims();
    assert!(
        [kh, kw] == [1, 1] && conv.stride == [1, 1] && conv.dilation == [1, 1] && conv.groups == 1 && c == c_in,
        "pointwise: a 1×1, stride-1, ungrouped convolution over {c_in} channels, got {kh}×{kw} stride {:?} over {c}",
        conv.stride
    );
    let weight = conv.weight.val();
    if !x.is_require_grad() && !weight.is_require_grad() {
        return conv.forward(x);
    }
    let y = weight.reshape([1, c_out, c_in]).matmul(x.reshape([n, c, h * w]));
    let y = match &conv.bias {
        Some(bias) => y + bias.val().reshape([1, c_out, 1]),
        None => y,
    };
    y.reshape([n, c_out, h, w])
}

/// BatchNorm over `c` channels (weight 1, bias 0, momentum 0.1, ε 1e-5 as in PyTorch).
pub(crate) fn bn(c: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(c).init(device)
}

/// Linear layer with zero bias; `weight` is the weight initialiser (`None`: PyTorch's default,
/// uniform in ±1/√fan_in).
pub(crate) fn linear(d_in: usize, d_out: usize, weight: Option<Initializer>, device: &Device) -> Linear {
    let mut config = LinearConfig::new(d_in, d_out);
    if let Some(init) = weight {
        config = config.with_initializer(init);
    }
    let mut layer = config.init(device);
    layer.bias = Some(Param::from_tensor(Tensor::zeros([d_out], device)));
    layer
}

/// Global average pooling `[n, c, h, w] → [n, c]`.
pub(crate) fn global_avg_pool(x: Tensor<4>) -> Tensor<2> {
    let [n, c, _, _] = x.dims();
    x.mean_dim(3).mean_dim(2).reshape([n, c])
}

/// 2×2 average pooling with stride 2.
pub(crate) fn avg_pool2(x: Tensor<4>) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    x.reshape([n, c, h / 2, 2, w / 2, 2]).mean_dim(5).mean_dim(3).reshape([n, c, h / 2, w / 2])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    fn max_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
        (a - b).abs().max().into_scalar()
    }

    /// `pointwise` is a 1×1 convolution: the same output, input gradient and weight (and bias)
    /// gradient as Burn's `Conv2d::forward` on the same module, to float rounding (sums over
    /// 37 channels, and over 2·5·7 positions for the weight gradient, in another order).
    #[test]
    fn pointwise_equals_the_1x1_convolution_forward_and_backward() {
        let device = Device::flex().autodiff();
        for bias in [false, true] {
            let conv = Conv2dConfig::new([37, 11], [1, 1]).with_bias(bias).init(&device);
            let x = Tensor::<4>::random([2, 37, 5, 7], Distribution::Normal(0.0, 1.0), &device);
            let g = Tensor::<4>::random([2, 11, 5, 7], Distribution::Normal(0.0, 1.0), &device);
            let run = |f: &dyn Fn(Tensor<4>) -> Tensor<4>| {
                let x = x.clone().require_grad();
                let y = f(x.clone());
                let grads = (y.clone() * g.clone()).sum().backward();
                let bias_grad = conv.bias.as_ref().map(|b| b.grad(&grads).expect("bias gradient"));
                (
                    y,
                    x.grad(&grads).expect("input gradient"),
                    conv.weight.grad(&grads).expect("weight gradient"),
                    bias_grad,
                )
            };
            let (y1, dx1, dw1, db1) = run(&|x| conv.forward(x));
            let (y2, dx2, dw2, db2) = run(&|x| pointwise(&conv, x));
            assert!(max_diff(y1, y2) < 1e-5, "bias {bias}: output");
            assert!(max_diff(dx1, dx2) < 1e-5, "bias {bias}: input gradient");
            assert!(max_diff(dw1, dw2) < 1e-4, "bias {bias}: weight gradient");
            if let (Some(b1), Some(b2)) = (db1, db2) {
                assert!(max_diff(b1, b2) < 1e-4, "bias gradient");
            }
        }
    }

    /// Anything but a 1×1, stride-1 convolution is refused, not computed wrongly.
    #[test]
    #[should_panic(expected = "pointwise: a 1×1, stride-1")]
    fn pointwise_refuses_a_3x3_convolution() {
        let device = Device::flex();
        let conv = conv(4, 4, 3, 1, &device);
        let _ = pointwise(&conv, Tensor::zeros([1, 4, 3, 3], &device));
    }
}
