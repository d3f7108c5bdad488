use burn::module::Module;
use burn::nn::Linear;
use freezeout_core::freezeout;

#[freezeout]
#[derive(Module, Debug)]
struct Net {
    a: Linear,
    b: Linear,
}

fn main() {}
