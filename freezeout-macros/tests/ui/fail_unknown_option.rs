use burn::module::Module;
use burn::nn::Linear;
use burn_freezeout::freezeout;

#[freezeout(heads = classify)]
#[derive(Module, Debug)]
struct Net {
    #[freezeout(unit)]
    a: Linear,
    b: Linear,
}

fn main() {}
