//! The float type of a device is fixed once per process, so this file is its own test binary.

use burn::tensor::{DType, Tensor};
use freezeout_core::device::{DeviceError, DeviceKind, FloatKind};

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
/// test above): it trains, evaluates, and its `config.toml` and run name say bf16, so a resumed
/// or compared run cannot silently mix precisions.
#[test]
fn a_bf16_run_trains_end_to_end_and_records_its_float_type() {
    use bench_harness::config::RunConfig;
    use freezeout_core::models::Preset;
    let archive = std::env::var_os("CIFAR10_ARCHIVE").map(std::path::PathBuf::from).unwrap_or_else(|| {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/cifar-10-binary.tar.gz")
    });
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
    let loss = summary.epochs[0].train_loss;
    assert!(loss.is_finite() && loss > 0.0, "train loss {loss}");
    let error = summary.test_error.unwrap();
    assert!((0.0..=1.0).contains(&error), "test error {error}");
}
