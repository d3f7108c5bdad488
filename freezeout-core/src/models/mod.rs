//! The paper's models, annotated with `#[freezeout]`, with the reference's unit indexing and
//! initialisation, a Vision Transformer, a character-level language model, and their presets.

mod densenet;
mod gpt;
mod layers;
pub mod spec;
mod vgg;
mod vit;
mod wrn;

pub use densenet::{DenseLayer, DenseNet, Transition};
pub use gpt::{CausalBlock, CharGpt, GPT_CONTEXT, TokenEmbed};
pub use layers::pointwise;
pub use vgg::{Vgg, VggLayer};
pub use vit::{PatchEmbed, VIT_HEAD_WIDTH, VIT_MLP_RATIO, VIT_PATCH, Vit, VitBlock};
pub use wrn::{WideBlock, WideResNet};

use crate::{FreezeOut, FreezeOutForward};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use spec::ArchSpec;
use std::fmt;
use std::str::FromStr;

/// A model family and size, named like the paper (`densenet-bc-76-12`, `wrn-40-4`, `vgg16`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Preset {
    /// DenseNet-BC of depth `depth` and growth rate `growth` (`depth ≡ 4 mod 6`).
    DenseNetBc {
        /// Depth `L`.
        depth: usize,
        /// Growth rate `k`.
        growth: usize,
    },
    /// Wide ResNet WRN-depth-width (`depth ≡ 4 mod 6`).
    Wrn {
        /// Depth.
        depth: usize,
        /// Width multiplier.
        width: usize,
    },
    /// VGG-16 with BatchNorm.
    Vgg16,
    /// Vision Transformer ViT-depth-width: patches of [`VIT_PATCH`] pixels, `depth` pre-norm
    /// blocks of width `width` (a multiple of [`VIT_HEAD_WIDTH`]), a mean-pooled head.
    Vit {
        /// Blocks.
        depth: usize,
        /// Width of the tokens.
        width: usize,
    },
    /// Character-level language model GPT-depth-width ([`CharGpt`]): `depth` causal blocks of
    /// width `width` (a multiple of [`VIT_HEAD_WIDTH`]) over windows of [`GPT_CONTEXT`] bytes.
    /// It trains on text, not images: build it with [`Preset::build_text`].
    Gpt {
        /// Blocks.
        depth: usize,
        /// Width of the embeddings.
        width: usize,
    },
}

impl Preset {
    /// The presets listed by `paper-repro models`.
    pub const LISTED: [Preset; 9] = [
        Preset::DenseNetBc { depth: 40, growth: 12 },
        Preset::DenseNetBc { depth: 76, growth: 12 },
        Preset::DenseNetBc { depth: 100, growth: 12 },
        Preset::Wrn { depth: 40, width: 4 },
        Preset::Wrn { depth: 28, width: 10 },
        Preset::Vgg16,
        Preset::Vit { depth: 6, width: 128 },
        Preset::Vit { depth: 6, width: 192 },
        Preset::Gpt { depth: 4, width: 128 },
    ];

    /// The layer-by-layer description (pure arithmetic); `classes` is the vocabulary of a
    /// language model.
    pub fn spec(self, classes: usize) -> ArchSpec {
        match self {
            Preset::DenseNetBc { depth, growth } => spec::densenet_bc(depth, growth, classes),
            Preset::Wrn { depth, width } => spec::wide_resnet(depth, width, classes),
            Preset::Vgg16 => spec::vgg16(classes),
            Preset::Vit { depth, width } => spec::vit(depth, width, classes),
            Preset::Gpt { depth, width } => spec::gpt(depth, width, classes),
        }
    }

    /// Whether every unit's output is a feature map `[c, h, w]` (a CNN's), so the cache's
    /// `shift` mode can crop it; a ViT's are tokens.
    pub fn outputs_feature_maps(self) -> bool {
        !matches!(self, Preset::Vit { .. } | Preset::Gpt { .. })
    }

    /// Whether it is a language model (trains on text, [`build_text`](Self::build_text)).
    pub fn is_text(self) -> bool {
        matches!(self, Preset::Gpt { .. })
    }

    /// Builds the model on `device` and hands it to `f` (the model types differ per family).
    ///
    /// # Panics
    /// For a language model ([`is_text`](Self::is_text)): use [`build_text`](Self::build_text).
    pub fn build<F: WithModel>(self, classes: usize, dropout: f64, device: &Device, f: F) -> F::Output {
        match self {
            Preset::DenseNetBc { depth, growth } => f.run(DenseNet::new(depth, growth, classes, device)),
            Preset::Wrn { depth, width } => f.run(WideResNet::new(depth, width, dropout, classes, device)),
            Preset::Vgg16 => f.run(Vgg::new(classes, device)),
            Preset::Vit { depth, width } => f.run(Vit::new(depth, width, dropout, classes, device)),
            Preset::Gpt { .. } => panic!("{self} is a language model: build it with Preset::build_text"),
        }
    }

    /// Builds a language model on `device` for a `vocab`-id alphabet and hands it to `f`.
    ///
    /// # Panics
    /// For an image model: use [`build`](Self::build).
    pub fn build_text<R>(self, vocab: usize, dropout: f64, device: &Device, f: impl FnOnce(CharGpt) -> R) -> R {
        match self {
            Preset::Gpt { depth, width } => f(CharGpt::new(vocab, GPT_CONTEXT, depth, width, dropout, device)),
            _ => panic!("{self} is an image model: build it with Preset::build"),
        }
    }
}

/// Something to do with a freshly built model of any family.
pub trait WithModel {
    /// The result.
    type Output;
    /// Does it.
    fn run<M: FreezeOut + FreezeOutForward<4, 2> + 'static>(self, model: M) -> Self::Output;
}

/// Why a preset name is not understood.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "unknown model `{0}`: expected densenet-bc-L-k (L = 4 mod 6, e.g. densenet-bc-76-12), \
     wrn-D-W (D = 4 mod 6, e.g. wrn-40-4), vgg16, vit-D-W (D blocks of width W, a multiple of 32, e.g. vit-6-128) \
     or gpt-D-W (a language model, e.g. gpt-4-128)"
)]
pub struct UnknownPreset(pub String);

impl FromStr for Preset {
    type Err = UnknownPreset;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || UnknownPreset(s.to_string());
        let nums = |rest: &str| -> Option<(usize, usize)> {
            let (a, b) = rest.split_once('-')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        };
        let valid_depth = |d: usize| d >= 10 && (d - 4).is_multiple_of(6);
        if s == "vgg16" || s == "vgg-16" {
            Ok(Preset::Vgg16)
        } else if let Some(rest) = s.strip_prefix("densenet-bc-") {
            let (depth, growth) = nums(rest).ok_or_else(err)?;
            (valid_depth(depth) && growth > 0).then_some(Preset::DenseNetBc { depth, growth }).ok_or_else(err)
        } else if let Some(rest) = s.strip_prefix("wrn-") {
            let (depth, width) = nums(rest).ok_or_else(err)?;
            (valid_depth(depth) && width > 0).then_some(Preset::Wrn { depth, width }).ok_or_else(err)
        } else if let Some((family, rest)) = s.split_once('-').filter(|(f, _)| ["vit", "gpt"].contains(f)) {
            let (depth, width) = nums(rest).ok_or_else(err)?;
            let valid = depth > 0 && width > 0 && width.is_multiple_of(VIT_HEAD_WIDTH);
            let preset = if family == "vit" { Preset::Vit { depth, width } } else { Preset::Gpt { depth, width } };
            valid.then_some(preset).ok_or_else(err)
        } else {
            Err(err())
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Preset::DenseNetBc { depth, growth } => write!(f, "densenet-bc-{depth}-{growth}"),
            Preset::Wrn { depth, width } => write!(f, "wrn-{depth}-{width}"),
            Preset::Vgg16 => f.write_str("vgg16"),
            Preset::Vit { depth, width } => write!(f, "vit-{depth}-{width}"),
            Preset::Gpt { depth, width } => write!(f, "gpt-{depth}-{width}"),
        }
    }
}

impl TryFrom<String> for Preset {
    type Error = UnknownPreset;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Preset> for String {
    fn from(p: Preset) -> String {
        p.to_string()
    }
}
