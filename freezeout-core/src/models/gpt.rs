//! A character-level GPT-style language model: token and position embeddings, causal pre-norm
//! blocks of Burn's `TransformerEncoderLayer`, a final LayerNorm and the output layer.
//!
//! Units: the embedding (unit 0: token ids, `Int` rank 2, → embeddings, rank 3) and every
//! block; the final LayerNorm and the output layer are the head. Train it with
//! [`LanguageModel`](crate::task::LanguageModel) on [`text`](crate::data::text) windows.

use super::vit::pre_norm_layer;
use crate::freezeout;
use burn::module::{Module, Param};
use burn::nn::attention::generate_autoregressive_mask;
use burn::nn::transformer::TransformerEncoderLayer;
use burn::nn::{Embedding, EmbeddingConfig, Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::{Device, Int, Tensor};

/// The window a `gpt-D-W` preset reads: 64 bytes.
pub const GPT_CONTEXT: usize = 64;

/// Token ids → embeddings plus a learned position embedding, `[n, t]` → `[n, t, width]`.
#[derive(Module, Debug)]
pub struct TokenEmbed {
    tokens: Embedding,
    position: Param<Tensor<3>>,
}

impl TokenEmbed {
    /// `vocab` ids in `width` dimensions, for sequences of up to `context` ids.
    pub fn new(vocab: usize, context: usize, width: usize, device: &Device) -> Self {
        Self {
            tokens: EmbeddingConfig::new(vocab, width).init(device),
            position: Initializer::Normal { mean: 0.0, std: 0.02 }.init([1, context, width], device),
        }
    }

    /// `[n, t]` ids (t at most the context) → `[n, t, width]`.
    pub fn forward(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        let t = ids.dims()[1];
        let position = self.position.val();
        let width = position.dims()[2];
        self.tokens.forward(ids) + position.slice([0..1, 0..t, 0..width])
    }
}

/// A causal pre-norm transformer block: each position attends to itself and those before it.
#[derive(Module, Debug)]
pub struct CausalBlock {
    layer: TransformerEncoderLayer,
}

impl CausalBlock {
    /// A block of width `width` (`width / 32` heads, feed-forward `4 · width`, GELU), dropout
    /// probability `dropout`.
    pub fn new(width: usize, dropout: f64, device: &Device) -> Self {
        Self { layer: pre_norm_layer(width, dropout, device) }
    }

    /// `[n, t, width]` → the same shape.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [n, t, _] = x.dims();
        let mask = generate_autoregressive_mask(n, t, &x.device());
        self.layer.forward(x, None, Some(mask))
    }
}

/// A character-level language model: `depth` causal blocks of width `width` over a context
/// of `context` characters of a `vocab`-character alphabet; logits for each next character.
#[freezeout(head = logits, input = Tensor<2, Int>, output = 3)]
#[derive(Module, Debug)]
pub struct CharGpt {
    #[freezeout(unit, output = 3)]
    embed: TokenEmbed,
    #[freezeout(unit)]
    blocks: Vec<CausalBlock>,
    norm: LayerNorm,
    out: Linear,
}

impl CharGpt {
    /// The model; `dropout` in the blocks.
    pub fn new(vocab: usize, context: usize, depth: usize, width: usize, dropout: f64, device: &Device) -> Self {
        Self {
            embed: TokenEmbed::new(vocab, context, width, device),
            blocks: (0..depth).map(|_| CausalBlock::new(width, dropout, device)).collect(),
            norm: LayerNormConfig::new(width).init(device),
            out: LinearConfig::new(width, vocab).init(device),
        }
    }

    /// `[n, t, width]` → logits `[n, t, vocab]`.
    fn logits(&self, x: Tensor<3>) -> Tensor<3> {
        self.out.forward(self.norm.forward(x))
    }
}
