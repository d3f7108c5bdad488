//! The downstream crate trains its model with the library's loop: the renamed dependency's
//! generated code is the library's, freezing included.

use burn::tensor::Device;
use downstream_fixture::Net;
use fo::FreezeOut;
use fo::data::{HostBatch, InMemory};
use fo::train::{Fit, TrainConfig};

#[test]
fn a_model_annotated_through_a_renamed_dependency_trains_and_freezes() {
    let device = Device::flex().autodiff();
    let model = Net::new(8, 2, &device);
    assert_eq!(model.num_units(), 2);
    // Class 1: bright images, class 0: dark ones.
    let batch = |seed: usize| {
        let labels: Vec<i64> = (0..4).map(|i| ((i + seed) % 2) as i64).collect();
        let images = labels.iter().flat_map(|&l| vec![if l == 1 { 1.0 } else { -1.0 }; 3 * 8 * 8]).collect();
        HostBatch::new(images, [4, 3, 8, 8], labels)
    };
    let mut data = InMemory { train: (0..4).map(batch).collect(), eval: vec![batch(0)] };
    let config = TrainConfig { epochs: 3, ..TrainConfig::default() };
    let outcome = Fit::new(&config, &device).run(model, &mut data).unwrap();
    assert_eq!(outcome.summary.total_iterations, 12);
    // Cubic, t0 0.8: unit 0 trains through iteration ⌊0.512 · 12⌋ = 6, unit 1 through
    // ⌊0.729 · 12⌋ = 8; both are frozen at the end.
    assert_eq!(outcome.model.frozen_units(), 2);
    assert_eq!(outcome.summary.epochs.last().map(|e| e.frozen_units), Some(2));
}

#[test]
fn a_model_annotated_through_a_reexport_runs_the_librarys_forward() {
    use fo::FreezeOutForward;
    let device = Device::flex();
    let model = downstream_fixture::Reexported::new(4, 3, &device);
    assert_eq!(model.num_units(), 1);
    let logits = model.forward_freezeout(burn::tensor::Tensor::<4>::ones([2, 3, 4, 4], &device));
    assert_eq!(logits.dims(), [2, 3]);
    assert_eq!(model.freeze_units(1).frozen_units(), 1);
}
