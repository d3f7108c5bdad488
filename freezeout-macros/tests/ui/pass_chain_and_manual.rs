use burn::module::Module;
use burn::nn::{Linear, Relu};
use burn::tensor::Tensor;
use burn_freezeout::{FreezeOut, freezeout};

#[derive(Module, Debug)]
struct Layer {
    linear: Linear,
    act: Relu,
}

impl Layer {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.act.forward(self.linear.forward(x))
    }
}

// A chain of units over rank-2 tensors, generated forward.
#[freezeout(head = classify, input = 2, output = 2)]
#[derive(Module, Debug)]
struct Mlp {
    #[freezeout(unit)]
    first: Linear,
    #[freezeout(unit)]
    hidden: Vec<Layer>,
    #[freezeout(unit)]
    pair: [Layer; 2],
    out: Linear,
}

impl Mlp {
    fn classify(&self, x: Tensor<2>) -> Tensor<2> {
        self.out.forward(x)
    }
}

// The escape hatch: a hand-written forward with a skip connection across units.
#[freezeout(manual)]
#[derive(Module, Debug)]
struct Skip {
    #[freezeout(unit)]
    a: Linear,
    #[freezeout(unit)]
    b: Linear,
    head: Linear,
}

impl Skip {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let a = self.freeze_point(0, self.a.forward(x));
        let b = self.freeze_point(1, self.b.forward(a.clone()));
        self.head.forward(a + b)
    }
}

fn main() {
    fn assert_freezeout<M: FreezeOut>() {}
    assert_freezeout::<Mlp>();
    assert_freezeout::<Skip>();
    let _ = (Mlp::forward, Skip::forward);
}
