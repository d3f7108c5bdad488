use burn::module::Module;
use burn::nn::Linear;
use burn_freezeout::freezeout;

#[freezeout]
#[derive(Module, Debug)]
struct Net(Linear, Linear);

fn main() {}
