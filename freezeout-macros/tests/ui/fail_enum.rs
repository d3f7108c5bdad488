use burn::module::Module;
use burn::nn::Linear;
use freezeout_core::freezeout;

#[freezeout]
#[derive(Module, Debug)]
enum Net {
    A(Linear),
    B(Linear),
}

fn main() {}
