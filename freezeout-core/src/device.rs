//! Choosing the backend at run time: the pure-Rust CPU backend (`flex`, always built) or CUDA
//! (feature `cuda`).

use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A backend a run can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    /// Burn's pure-Rust CPU backend (`flex`, SIMD + rayon).
    Cpu,
    /// NVIDIA GPU 0 through Burn's CUDA backend (kernels compiled with NVRTC).
    Cuda,
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeviceKind::Cpu => "cpu",
            DeviceKind::Cuda => "cuda",
        })
    }
}

impl FromStr for DeviceKind {
    type Err = DeviceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cpu" => Ok(DeviceKind::Cpu),
            "cuda" => Ok(DeviceKind::Cuda),
            other => Err(DeviceError::Unknown(other.to_string())),
        }
    }
}

/// Why a device cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// Not a known backend name.
    #[error("unknown device `{0}`: expected `cpu` or `cuda`")]
    Unknown(String),
    /// CUDA asked for, but this binary was built without it.
    #[error(
        "this binary was built without CUDA: rebuild with `--features cuda` \
         (offline: see README, section CUDA) or use `--device cpu`"
    )]
    CudaNotBuilt,
}

impl DeviceKind {
    /// Whether this build can use the backend.
    pub fn available(self) -> bool {
        match self {
            DeviceKind::Cpu => true,
            DeviceKind::Cuda => cfg!(feature = "cuda"),
        }
    }

    /// The plain (inference) device of this backend.
    pub fn device(self) -> Result<Device, DeviceError> {
        match self {
            DeviceKind::Cpu => Ok(Device::flex()),
            #[cfg(feature = "cuda")]
            DeviceKind::Cuda => Ok(Device::cuda(0)),
            #[cfg(not(feature = "cuda"))]
            DeviceKind::Cuda => Err(DeviceError::CudaNotBuilt),
        }
    }

    /// The training device of this backend: the plain device with autodiff.
    pub fn autodiff(self) -> Result<Device, DeviceError> {
        Ok(self.device()?.autodiff())
    }
}
