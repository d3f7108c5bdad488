//! The float type of a device is fixed once per process, so this file is its own test binary.

use burn::tensor::{DType, Tensor};
use burn_freezeout::device::{DeviceError, DeviceKind, FloatKind};

#[test]
fn a_bf16_device_makes_bf16_tensors_and_refuses_another_float_type_afterwards() {
    let device = DeviceKind::Cpu.autodiff_with(FloatKind::Bf16).unwrap();
    assert_eq!(Tensor::<2>::zeros([2, 2], &device).dtype(), DType::BF16);
    // Asking again for the same type is fine; for another one, a clear error.
    assert!(DeviceKind::Cpu.autodiff_with(FloatKind::Bf16).is_ok());
    let err = DeviceKind::Cpu.autodiff_with(FloatKind::F32).unwrap_err();
    assert!(matches!(err, DeviceError::Float { float: FloatKind::F32, .. }), "{err}");
    assert!(err.to_string().contains("once per process"), "{err}");
    // Names as the CLI takes them.
    assert_eq!("flex32".parse::<FloatKind>().unwrap(), FloatKind::Flex32);
    assert!("fp8".parse::<FloatKind>().unwrap_err().to_string().contains("expected `f32`"));
}

/// A whole `paper-repro train` run in bf16 (the same process, so the same float type as the
/// test above): its `config.toml` and run name say bf16, so a resumed or compared run cannot
/// silently mix precisions; its checkpoint holds bf16 parameters (no silent f32 copy); and the
/// epoch's loss is the batch-weighted mean of the losses it logged, iteration by iteration.
#[test]
fn a_bf16_run_trains_end_to_end_and_records_its_float_type() {
    use bench_harness::run::RunConfig;
    use burn_freezeout::models::Preset;
    let Some(archive) = freezeout_tests::cifar10("a_bf16_run_trains_end_to_end_and_records_its_float_type") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let config = RunConfig {
        model: Preset::Wrn { depth: 10, width: 1 },
        epochs: 1,
        train_limit: Some(300),
        test_limit: Some(100),
        float: FloatKind::Bf16,
        checkpoint_every: 0,
        ..RunConfig::default()
    };
    assert!(config.run_name().contains("-bf16-e"), "{}", config.run_name());
    let summary = bench_harness::run::run(&config, &archive, tmp.path(), false).unwrap();
    let saved = std::fs::read_to_string(tmp.path().join("config.toml")).unwrap();
    assert!(saved.contains("float = \"bf16\""), "{saved}");
    assert_eq!(RunConfig::from_file(&tmp.path().join("config.toml")).unwrap(), config);

    // The epoch-end checkpoint's parameters are bf16, every one.
    let step = std::fs::read_dir(tmp.path().join("checkpoints")).unwrap().next().unwrap().unwrap().path();
    let tensors = burn_pack::Reader::from_file(step.join("model.bpk")).unwrap().into_tensors().unwrap();
    let floats: Vec<(String, DType)> = tensors
        .into_iter()
        .map(|t| t.into_parts().unwrap())
        .filter(|(_, dtype, ..)| dtype.is_float())
        .map(|(name, dtype, ..)| (name, dtype))
        .collect();
    assert!(!floats.is_empty());
    assert!(floats.iter().all(|(_, d)| *d == DType::BF16), "{floats:?}");

    // 6 batches of 50: the epoch's mean loss is the weighted mean of the logged ones.
    let log = std::fs::read_to_string(tmp.path().join("log.jsonl")).unwrap();
    let iters: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["event"] == "iter")
        .collect();
    assert_eq!(iters.len(), 6);
    let weighted: f64 = iters.iter().map(|e| e["loss"].as_f64().unwrap() * e["batch"].as_f64().unwrap()).sum();
    let loss = summary.epochs[0].train_loss;
    assert!(loss.is_finite() && (loss - weighted / 300.0).abs() < 1e-6 * loss, "{loss} vs {}", weighted / 300.0);
    assert_eq!(summary.test_error, summary.epochs[0].test_error);
}
