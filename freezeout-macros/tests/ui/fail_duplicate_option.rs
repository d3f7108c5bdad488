use burn::module::Module;
use burn::nn::Linear;
use burn_freezeout::freezeout;

#[freezeout(manual, manual)]
#[derive(Module, Debug)]
struct Net {
    #[freezeout(unit)]
    a: Linear,
    b: Linear,
}

fn main() {}
