use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::Linear;
use burn::tensor::Tensor;
use burn_freezeout::freezeout;

#[derive(Module, Debug)]
struct Patches {
    conv: Conv2d,
}

impl Patches {
    fn forward(&self, x: Tensor<4>) -> Tensor<3> {
        let y = self.conv.forward(x);
        let [n, c, h, w] = y.dims();
        y.reshape([n, c, h * w])
    }
}

#[derive(Module, Debug)]
struct Block {
    linear: Linear,
}

impl Block {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.linear.forward(x)
    }
}

// The patch embedding changes the rank, and the field does not say so (`output = 3`).
#[freezeout(head = classify)]
#[derive(Module, Debug)]
struct Vit {
    #[freezeout(unit)]
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

fn main() {}
