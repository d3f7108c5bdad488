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
pub use gpt::{CausalBlock, CharGpt, TokenEmbed};
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
}

impl Preset {
    /// The presets listed by `paper-repro models`.
    pub const LISTED: [Preset; 8] = [
        Preset::DenseNetBc { depth: 40, growth: 12 },
        Preset::DenseNetBc { depth: 76, growth: 12 },
        Preset::DenseNetBc { depth: 100, growth: 12 },
        Preset::Wrn { depth: 40, width: 4 },
        Preset::Wrn { depth: 28, width: 10 },
        Preset::Vgg16,
        Preset::Vit { depth: 6, width: 128 },
        Preset::Vit { depth: 6, width: 192 },
    ];

    /// The layer-by-layer description (pure arithmetic).
    pub fn spec(self, classes: usize) -> ArchSpec {
        match self {
            Preset::DenseNetBc { depth, growth } => spec::densenet_bc(depth, growth, classes),
            Preset::Wrn { depth, width } => spec::wide_resnet(depth, width, classes),
            Preset::Vgg16 => spec::vgg16(classes),
            Preset::Vit { depth, width } => spec::vit(depth, width, classes),
        }
    }

    /// Whether every unit's output is a feature map `[c, h, w]` (a CNN's), so the cache's
    /// `shift` mode can crop it; a ViT's are tokens.
    pub fn outputs_feature_maps(self) -> bool {
        !matches!(self, Preset::Vit { .. })
    }

    /// Builds the model on `device` and hands it to `f` (the model types differ per family).
    pub fn build<F: WithModel>(self, classes: usize, dropout: f64, device: &Device, f: F) -> F::Output {
        match self {
            Preset::DenseNetBc { depth, growth } => f.run(DenseNet::new(depth, growth, classes, device)),
            Preset::Wrn { depth, width } => f.run(WideResNet::new(depth, width, dropout, classes, device)),
            Preset::Vgg16 => f.run(Vgg::new(classes, device)),
            Preset::Vit { depth, width } => f.run(Vit::new(depth, width, dropout, classes, device)),
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
     wrn-D-W (D = 4 mod 6, e.g. wrn-40-4), vgg16 or vit-D-W (D blocks of width W, a multiple of 32, e.g. vit-6-128)"
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
        } else if let Some(rest) = s.strip_prefix("vit-") {
            let (depth, width) = nums(rest).ok_or_else(err)?;
            let valid = depth > 0 && width > 0 && width.is_multiple_of(VIT_HEAD_WIDTH);
            valid.then_some(Preset::Vit { depth, width }).ok_or_else(err)
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
