use burn::module::Module;
use burn::nn::Linear;
use burn_freezeout::freezeout;

#[freezeout]
#[derive(Module, Debug)]
struct Net {
    a: Linear,
    b: Linear,
}

fn main() {}
