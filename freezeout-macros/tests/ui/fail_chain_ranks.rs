use burn::module::Module;
use burn::nn::Linear;
use burn_freezeout::freezeout;

// The elements of a Vec run one after another: they cannot change the rank.
#[freezeout(head = classify)]
#[derive(Module, Debug)]
struct ChangesInVec {
    #[freezeout(unit, output = 3)]
    blocks: Vec<Linear>,
    fc: Linear,
}

// Only a single module can take the model's token ids.
#[freezeout(head = classify, input = Tensor<2, Int>, output = 3)]
#[derive(Module, Debug)]
struct TokensIntoVec {
    #[freezeout(unit)]
    blocks: Vec<Linear>,
    fc: Linear,
}

// Not a tensor type.
#[freezeout(head = classify, input = Vec<2>)]
#[derive(Module, Debug)]
struct BadInput {
    #[freezeout(unit)]
    a: Linear,
}

// `output` on a field that is not a unit.
#[freezeout(head = classify)]
#[derive(Module, Debug)]
struct OutputWithoutUnit {
    #[freezeout(unit)]
    a: Linear,
    #[freezeout(output = 3)]
    b: Linear,
}

fn main() {}
