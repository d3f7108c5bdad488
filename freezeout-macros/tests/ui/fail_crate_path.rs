use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::Tensor;
use burn_freezeout::freezeout;

// `crate = path` is the path the generated code names the library by: a wrong one is an error
// at that path.
#[freezeout(crate = not_the_library, head = out, input = 2, output = 2)]
#[derive(Module, Debug)]
struct Mlp {
    #[freezeout(unit)]
    first: Linear,
    last: Linear,
}

impl Mlp {
    fn out(&self, x: Tensor<2>) -> Tensor<2> {
        self.last.forward(x)
    }
}

fn main() {}
