use burn::module::Module;
use burn::nn::Linear;
use burn_freezeout::freezeout;

#[freezeout]
#[derive(Module, Debug)]
enum Net {
    A(Linear),
    B(Linear),
}

fn main() {}
