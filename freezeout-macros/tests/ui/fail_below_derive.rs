use burn::module::Module;
use burn::nn::Linear;
use freezeout_core::freezeout;

#[derive(Module, Debug)]
#[freezeout(manual)]
struct Net {
    a: Linear,
    b: Linear,
}

fn main() {}
