use burn::module::Module;
use burn::nn::Linear;
use freezeout_core::freezeout;

#[freezeout]
#[derive(Module, Debug)]
struct Net(Linear, Linear);

fn main() {}
