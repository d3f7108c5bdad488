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
