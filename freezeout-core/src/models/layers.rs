//! Layer constructors with the reference initialisation: convolutions He-normal over fan-out
//! (`N(0, 2 / (k·k·out))`, no bias), BatchNorm weight 1 / bias 0, linear biases 0.

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor};

/// `k×k` convolution, stride `stride`, padding `k/2`, no bias, He-normal (fan-out).
pub fn conv(c_in: usize, c_out: usize, k: usize, stride: usize, device: &Device) -> Conv2d {
    let p = k / 2;
    Conv2dConfig::new([c_in, c_out], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
        .with_bias(false)
        .with_initializer(Initializer::KaimingNormal { gain: std::f64::consts::SQRT_2, fan_out_only: true })
        .init(device)
}

/// BatchNorm over `c` channels (weight 1, bias 0, momentum 0.1, ε 1e-5 as in PyTorch).
pub fn bn(c: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(c).init(device)
}

/// Linear layer with zero bias; `weight` is the weight initialiser (`None`: PyTorch's default,
/// uniform in ±1/√fan_in).
pub fn linear(d_in: usize, d_out: usize, weight: Option<Initializer>, device: &Device) -> Linear {
    let mut config = LinearConfig::new(d_in, d_out);
    if let Some(init) = weight {
        config = config.with_initializer(init);
    }
    let mut layer = config.init(device);
    layer.bias = Some(Param::from_tensor(Tensor::zeros([d_out], device)));
    layer
}

/// Global average pooling `[n, c, h, w] → [n, c]`.
pub fn global_avg_pool(x: Tensor<4>) -> Tensor<2> {
    let [n, c, _, _] = x.dims();
    x.mean_dim(3).mean_dim(2).reshape([n, c])
}

/// 2×2 average pooling with stride 2.
pub fn avg_pool2(x: Tensor<4>) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    x.reshape([n, c, h / 2, 2, w / 2, 2]).mean_dim(5).mean_dim(3).reshape([n, c, h / 2, w / 2])
}
