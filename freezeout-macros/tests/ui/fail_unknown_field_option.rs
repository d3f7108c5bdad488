use burn::module::Module;
use burn::nn::Linear;
use freezeout_core::freezeout;

#[freezeout(manual)]
#[derive(Module, Debug)]
struct Net {
    #[freezeout(unti)]
    a: Linear,
    b: Linear,
}

fn main() {}
