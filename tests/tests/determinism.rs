//! Same seed, same run. Alone in its own test binary on purpose: Burn's RNG is global to the
//! process, so a test running beside it on another thread (the test harness runs a binary's
//! tests in parallel) could draw from it between the seed and the model's initialisation; in
//! `freezing.rs` this test failed about one run in ten that way.

use burn::tensor::Device;
use burn_freezeout::train::{self, RunLog};
use freezeout_tests::{TinyNet, fast_schedule, logged, quadrant_data};

#[test]
fn same_seed_same_run_on_cpu() {
    let run = || {
        let device = Device::flex().autodiff();
        device.seed(7);
        let model = TinyNet::new(2, 4, 4, &device);
        let mut data = quadrant_data(3, 1, 8, 8, 9);
        let mut log = RunLog::in_memory();
        train::Fit::new(&fast_schedule(), &device).log(&mut log).run(model, &mut data).unwrap();
        logged(&log, "iter", "loss")
    };
    let first = run();
    assert!(first.len() > 1, "the run logged its iterations");
    assert_eq!(first, run());
}
