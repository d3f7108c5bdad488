//! Pure descriptions of the presets' layers, unit by unit: parameter counts and forward
//! multiply-accumulates computed by arithmetic, independently of the Burn modules (the tests
//! check one against the other; bench-harness builds its cost models on these).

/// One layer of a unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    /// `k×k` convolution without bias producing an `hw×hw` map.
    Conv {
        /// Input channels.
        c_in: usize,
        /// Output channels.
        c_out: usize,
        /// Kernel size.
        k: usize,
        /// Side of the output map.
        hw: usize,
    },
    /// BatchNorm over `c` channels of an `hw×hw` map (`hw = 1` for vectors).
    Bn {
        /// Channels.
        c: usize,
        /// Side of the map.
        hw: usize,
    },
    /// Fully connected with bias.
    Linear {
        /// Input features.
        d_in: usize,
        /// Output features.
        d_out: usize,
    },
    /// Fully connected with bias, applied to each of `tokens` positions (a transformer's
    /// projections and feed-forward layers).
    Dense {
        /// Input features.
        d_in: usize,
        /// Output features.
        d_out: usize,
        /// Positions per example.
        tokens: usize,
    },
    /// LayerNorm over `d` features (scale and shift) at each of `tokens` positions.
    Norm {
        /// Features.
        d: usize,
        /// Positions per example.
        tokens: usize,
    },
    /// Self-attention's two products (`QKᵀ` and the weighted sum of `V`) over `tokens`
    /// positions of width `d`: no parameters.
    Attention {
        /// Positions per example.
        tokens: usize,
        /// Width (all heads together).
        d: usize,
    },
    /// An embedding: a `vocab × d` table, one row looked up for each of `tokens` ids.
    Embedding {
        /// Ids.
        vocab: usize,
        /// Width.
        d: usize,
        /// Positions per example.
        tokens: usize,
    },
    /// A learned table of `rows × d` values added to the input (a position embedding).
    Table {
        /// Rows (positions).
        rows: usize,
        /// Width.
        d: usize,
    },
}

impl Layer {
    /// Trainable scalars.
    pub fn params(&self) -> usize {
        match *self {
            Layer::Conv { c_in, c_out, k, .. } => c_in * c_out * k * k,
            Layer::Bn { c, .. } => 2 * c,
            Layer::Linear { d_in, d_out } | Layer::Dense { d_in, d_out, .. } => d_in * d_out + d_out,
            Layer::Norm { d, .. } => 2 * d,
            Layer::Attention { .. } => 0,
            Layer::Table { rows, d } => rows * d,
            Layer::Embedding { vocab, d, .. } => vocab * d,
        }
    }

    /// Forward multiply-accumulates per example (convolutions, linear layers and attention's
    /// products; BN, LayerNorm and an added table counted as one per element, pooling, ReLU,
    /// GELU and softmax as free).
    pub fn macs(&self) -> u64 {
        let m = match *self {
            Layer::Conv { c_in, c_out, k, hw } => c_in * c_out * k * k * hw * hw,
            Layer::Bn { c, hw } => c * hw * hw,
            Layer::Linear { d_in, d_out } => d_in * d_out,
            Layer::Dense { d_in, d_out, tokens } => tokens * d_in * d_out,
            Layer::Norm { d, tokens } => d * tokens,
            Layer::Attention { tokens, d } => 2 * tokens * tokens * d,
            Layer::Table { rows, d } => rows * d,
            Layer::Embedding { d, tokens, .. } => tokens * d,
        };
        m as u64
    }

    /// Whether the layer's gradients are matmul-sized jobs (conv, linear, attention).
    pub fn is_matmul(&self) -> bool {
        !matches!(self, Layer::Bn { .. } | Layer::Norm { .. } | Layer::Table { .. } | Layer::Embedding { .. })
    }
}

/// One unit: its name (as `#[freezeout]` reports it) and layers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitSpec {
    /// E.g. `block1.3`.
    pub name: String,
    /// Layers in forward order.
    pub layers: Vec<Layer>,
}

impl UnitSpec {
    /// Trainable scalars of the unit.
    pub fn params(&self) -> usize {
        self.layers.iter().map(Layer::params).sum()
    }
    /// Forward MACs per example.
    pub fn macs(&self) -> u64 {
        self.layers.iter().map(Layer::macs).sum()
    }
}

/// A whole model: units in forward order and the head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchSpec {
    /// The units.
    pub units: Vec<UnitSpec>,
    /// The head's layers.
    pub head: Vec<Layer>,
}

impl ArchSpec {
    /// Trainable scalars of the model.
    pub fn params(&self) -> usize {
        self.units.iter().map(UnitSpec::params).sum::<usize>() + self.head.iter().map(Layer::params).sum::<usize>()
    }

    /// Forward MACs per example of the whole model.
    pub fn macs(&self) -> u64 {
        self.units.iter().map(UnitSpec::macs).sum::<u64>() + self.head.iter().map(Layer::macs).sum::<u64>()
    }
}

/// DenseNet-BC-depth-growth on 32×32 inputs.
pub fn densenet_bc(depth: usize, growth: usize, classes: usize) -> ArchSpec {
    let per_block = (depth - 4) / 6;
    let mut c = 2 * growth;
    let mut units = vec![UnitSpec { name: "stem".into(), layers: vec![conv(3, c, 3, 32)] }];
    for (b, hw) in [32, 16, 8].into_iter().enumerate() {
        for l in 0..per_block {
            let layers = vec![
                Layer::Bn { c, hw },
                conv(c, 4 * growth, 1, hw),
                Layer::Bn { c: 4 * growth, hw },
                conv(4 * growth, growth, 3, hw),
            ];
            units.push(UnitSpec { name: format!("block{}.{l}", b + 1), layers });
            c += growth;
        }
        if b < 2 {
            let layers = vec![Layer::Bn { c, hw }, conv(c, c / 2, 1, hw)];
            units.push(UnitSpec { name: format!("trans{}", b + 1), layers });
            c /= 2;
        }
    }
    ArchSpec { units, head: vec![Layer::Bn { c, hw: 8 }, Layer::Linear { d_in: c, d_out: classes }] }
}

/// WRN-depth-width on 32×32 inputs.
pub fn wide_resnet(depth: usize, width: usize, classes: usize) -> ArchSpec {
    let n = (depth - 4) / 6;
    let widths = [16, 16 * width, 32 * width, 64 * width];
    let mut units = vec![UnitSpec { name: "stem".into(), layers: vec![conv(3, 16, 3, 32)] }];
    let mut c_in = widths[0];
    for (g, hw) in [32, 16, 8].into_iter().enumerate() {
        let c_out = widths[g + 1];
        for i in 0..n {
            let mut layers = vec![
                Layer::Bn { c: c_in, hw: if i == 0 && g > 0 { 2 * hw } else { hw } },
                conv(c_in, c_out, 3, hw),
                Layer::Bn { c: c_out, hw },
                conv(c_out, c_out, 3, hw),
            ];
            if c_in != c_out {
                layers.push(conv(c_in, c_out, 1, hw));
            }
            units.push(UnitSpec { name: format!("group{}.{i}", g + 1), layers });
            c_in = c_out;
        }
    }
    let c = widths[3];
    ArchSpec { units, head: vec![Layer::Bn { c, hw: 8 }, Layer::Linear { d_in: c, d_out: classes }] }
}

/// VGG-16-BN with the reference classifier.
pub fn vgg16(classes: usize) -> ArchSpec {
    let plan = [64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0];
    let (mut c_in, mut hw, mut units) = (3, 32, Vec::new());
    for &c in &plan {
        if c == 0 {
            hw /= 2;
            continue;
        }
        let layers = vec![conv(c_in, c, 3, hw), Layer::Bn { c, hw }];
        units.push(UnitSpec { name: format!("features.{}", units.len()), layers });
        c_in = c;
    }
    let head = vec![
        Layer::Linear { d_in: 512, d_out: 512 },
        Layer::Bn { c: 512, hw: 1 },
        Layer::Linear { d_in: 512, d_out: 512 },
        Layer::Bn { c: 512, hw: 1 },
        Layer::Bn { c: 512, hw: 1 },
        Layer::Linear { d_in: 512, d_out: classes },
    ];
    ArchSpec { units, head }
}

/// ViT-depth-width on 32×32 inputs (patches of [`VIT_PATCH`](super::VIT_PATCH) pixels).
pub fn vit(depth: usize, width: usize, classes: usize) -> ArchSpec {
    let side = 32 / super::VIT_PATCH;
    let tokens = side * side;
    let embed = vec![
        Layer::Conv { c_in: 3, c_out: width, k: super::VIT_PATCH, hw: side },
        Layer::Table { rows: tokens, d: width },
    ];
    let head = vec![Layer::Norm { d: width, tokens }, Layer::Linear { d_in: width, d_out: classes }];
    transformer(embed, depth, width, tokens, head)
}

/// GPT-depth-width on windows of [`GPT_CONTEXT`](super::GPT_CONTEXT) bytes: logits over the
/// `vocab` ids at every position.
pub fn gpt(depth: usize, width: usize, vocab: usize) -> ArchSpec {
    let tokens = super::GPT_CONTEXT;
    let embed = vec![Layer::Embedding { vocab, d: width, tokens }, Layer::Table { rows: tokens, d: width }];
    let head = vec![Layer::Norm { d: width, tokens }, Layer::Dense { d_in: width, d_out: vocab, tokens }];
    transformer(embed, depth, width, tokens, head)
}

/// An embedding unit, `depth` pre-norm blocks of width `width` over `tokens` positions, a head.
fn transformer(embed: Vec<Layer>, depth: usize, width: usize, tokens: usize, head: Vec<Layer>) -> ArchSpec {
    let mlp = super::VIT_MLP_RATIO * width;
    let dense = |d_in, d_out| Layer::Dense { d_in, d_out, tokens };
    let mut units = vec![UnitSpec { name: "embed".into(), layers: embed }];
    for i in 0..depth {
        let layers = vec![
            Layer::Norm { d: width, tokens },
            dense(width, width),
            dense(width, width),
            dense(width, width),
            Layer::Attention { tokens, d: width },
            dense(width, width),
            Layer::Norm { d: width, tokens },
            dense(width, mlp),
            dense(mlp, width),
        ];
        units.push(UnitSpec { name: format!("blocks.{i}"), layers });
    }
    ArchSpec { units, head }
}

fn conv(c_in: usize, c_out: usize, k: usize, hw: usize) -> Layer {
    Layer::Conv { c_in, c_out, k, hw }
}
