use burn::module::Module;
use burn::nn::Linear;
use freezeout_core::freezeout;

#[freezeout(head = classify, manual)]
#[derive(Module, Debug)]
struct Net {
    #[freezeout(unit)]
    a: Linear,
    b: Linear,
}

fn main() {}
