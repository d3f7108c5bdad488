use burn::module::Module;
use burn::nn::Linear;
use burn_freezeout::freezeout;

#[freezeout(manual)]
#[derive(Module, Debug)]
struct Net {
    #[freezeout(unti)]
    a: Linear,
    b: Linear,
}

fn main() {}
