use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{Embedding, Linear};
use burn::tensor::{Int, Tensor};
use burn_freezeout::{FreezeOutForward, freezeout};

#[derive(Module, Debug)]
struct Patches {
    conv: Conv2d,
}

impl Patches {
    fn forward(&self, x: Tensor<4>) -> Tensor<3> {
        let y = self.conv.forward(x);
        let [n, c, h, w] = y.dims();
        y.reshape([n, c, h * w]).swap_dims(1, 2)
    }
}

#[derive(Module, Debug)]
struct Block {
    linear: Linear,
}

impl Block {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        x.clone() + self.linear.forward(x)
    }
}

// A ViT's shape: the first unit maps the image (rank 4) to tokens (rank 3).
#[freezeout(head = classify)]
#[derive(Module, Debug)]
struct Vit {
    #[freezeout(unit, output = 3)]
    embed: Patches,
    #[freezeout(unit)]
    blocks: Vec<Block>,
    fc: Linear,
}

impl Vit {
    fn classify(&self, x: Tensor<3>) -> Tensor<2> {
        self.fc.forward(x.mean_dim(1).squeeze_dim(1))
    }
}

// A language model's shape: token ids (`Int`, rank 2) to embeddings (rank 3), logits per token.
#[freezeout(head = logits, input = Tensor<2, Int>, output = 3)]
#[derive(Module, Debug)]
struct Lm {
    #[freezeout(unit, output = 3)]
    embed: Embedding,
    #[freezeout(unit)]
    blocks: [Block; 2],
    out: Linear,
}

impl Lm {
    fn logits(&self, x: Tensor<3>) -> Tensor<3> {
        self.out.forward(x)
    }
}

fn main() {
    fn assert_forward<M: FreezeOutForward<I, O, K>, const I: usize, const O: usize, K: burn::tensor::kind::Autodiff + Send + 'static>() {}
    assert_forward::<Vit, 4, 2, burn::tensor::Float>();
    assert_forward::<Lm, 2, 3, Int>();
    let _: fn(&Vit, Tensor<4>) -> Tensor<3> = Vit::forward_units;
    let _: fn(&Lm, Tensor<2, Int>) -> Tensor<3> = Lm::forward;
}
