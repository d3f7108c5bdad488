use burn::module::Module;
use burn::nn::Linear;
use burn_freezeout::freezeout;

#[derive(Module, Debug)]
#[freezeout(manual)]
struct Net {
    a: Linear,
    b: Linear,
}

fn main() {}
