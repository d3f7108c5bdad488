//! A Vision Transformer (Dosovitskiy et al. 2021) for 32×32 images: a patch embedding, pre-norm
//! blocks of Burn's `TransformerEncoderLayer`, and a mean-pooled head.
//!
//! Units: the patch embedding (unit 0, image → tokens, the rank changing from 4 to 3) and every
//! block; the final LayerNorm and the classifier are the head. `vit-D-W` has `N = D + 1` units.
//! Unlike a CNN's, every block costs the same: freezing the first half of the units saves
//! about half of the step.

use crate::freezeout;
use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::transformer::{TransformerEncoderConfig, TransformerEncoderLayer};
use burn::nn::{Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

/// Side of a patch (pixels); a 32×32 image gives 64 tokens.
pub const VIT_PATCH: usize = 4;
/// Attention heads per block: one per 32 channels.
pub const VIT_HEAD_WIDTH: usize = 32;
/// The feed-forward layer's width, in multiples of the model's.
pub const VIT_MLP_RATIO: usize = 4;

/// Image → tokens: a `p×p` convolution of stride `p` (no bias), flattened to
/// `[batch, tokens, width]`, plus a learned position embedding.
#[derive(Module, Debug)]
pub struct PatchEmbed {
    proj: Conv2d,
    position: Param<Tensor<3>>,
}

impl PatchEmbed {
    /// Patches of `patch` pixels of a `side`×`side` image with `channels` channels, embedded in
    /// `width` dimensions.
    pub fn new(channels: usize, side: usize, patch: usize, width: usize, device: &Device) -> Self {
        let tokens = (side / patch).pow(2);
        Self {
            proj: Conv2dConfig::new([channels, width], [patch, patch])
                .with_stride([patch, patch])
                .with_bias(false)
                .init(device),
            position: Initializer::Normal { mean: 0.0, std: 0.02 }.init([1, tokens, width], device),
        }
    }

    /// `[n, c, h, w]` → `[n, tokens, width]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<3> {
        let y = self.proj.forward(images);
        let [n, width, h, w] = y.dims();
        y.reshape([n, width, h * w]).swap_dims(1, 2) + self.position.val()
    }
}

/// One pre-norm transformer block: Burn's `TransformerEncoderLayer` without masks (every patch
/// attends to every patch).
#[derive(Module, Debug)]
pub struct VitBlock {
    layer: TransformerEncoderLayer,
}

impl VitBlock {
    /// A block of width `width` (`width / 32` heads, feed-forward `4 · width`, GELU), dropout
    /// probability `dropout` on the attention weights and the residual branches.
    pub fn new(width: usize, dropout: f64, device: &Device) -> Self {
        Self { layer: pre_norm_layer(width, dropout, device) }
    }

    /// `[n, tokens, width]` → the same shape.
    pub fn forward(&self, tokens: Tensor<3>) -> Tensor<3> {
        self.layer.forward(tokens, None, None)
    }
}

/// Burn's pre-norm `TransformerEncoderLayer` of width `width`: `width / 32` heads, feed-forward
/// `4 · width`, GELU, dropout probability `dropout` on the attention weights and the residual
/// branches (the blocks of the ViT and of the language model).
pub(super) fn pre_norm_layer(width: usize, dropout: f64, device: &Device) -> TransformerEncoderLayer {
    let config = TransformerEncoderConfig::new(width, VIT_MLP_RATIO * width, (width / VIT_HEAD_WIDTH).max(1), 1)
        .with_norm_first(true)
        .with_dropout(dropout);
    TransformerEncoderLayer::new(&config, device)
}

/// ViT with `depth` blocks of width `width` on 32×32 images, patches of [`VIT_PATCH`] pixels.
#[freezeout(head = classify)]
#[derive(Module, Debug)]
pub struct Vit {
    #[freezeout(unit, output = 3)]
    embed: PatchEmbed,
    #[freezeout(unit)]
    blocks: Vec<VitBlock>,
    norm: LayerNorm,
    fc: Linear,
}

impl Vit {
    /// ViT-`depth`-`width` for `classes` classes, dropout probability `dropout` in the blocks.
    pub fn new(depth: usize, width: usize, dropout: f64, classes: usize, device: &Device) -> Self {
        Self {
            embed: PatchEmbed::new(3, 32, VIT_PATCH, width, device),
            blocks: (0..depth).map(|_| VitBlock::new(width, dropout, device)).collect(),
            norm: LayerNormConfig::new(width).init(device),
            fc: LinearConfig::new(width, classes).init(device),
        }
    }

    /// Final LayerNorm, the mean over the tokens, the classifier.
    fn classify(&self, tokens: Tensor<3>) -> Tensor<2> {
        let [n, _, width] = tokens.dims();
        self.fc.forward(self.norm.forward(tokens).mean_dim(1).reshape([n, width]))
    }
}
