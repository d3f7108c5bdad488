use burn::module::Module;
use burn::nn::Linear;
use burn_freezeout::freezeout;

#[freezeout(manual)]
#[derive(Module, Debug)]
struct Net {
    #[freezeout(unit)]
    a: Linear,
    #[freezeout(unit)]
    width: usize,
    b: Linear,
}

fn main() {}
