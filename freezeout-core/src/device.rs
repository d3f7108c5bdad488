//! Choosing the backend at run time: the pure-Rust CPU backend (`flex`, always built), CUDA
//! (feature `cuda`), Burn's deprecated `ndarray` CPU backend (feature `ndarray`), Burn's
//! LibTorch backend on CPU or CUDA (feature `tch`, linked against an installed PyTorch), or
//! Burn's wgpu backend (feature `wgpu`: CubeCL, the runtime under burn-cuda, on wgpu's default
//! adapter: GPUs other than NVIDIA's, or Mesa's CPU driver lavapipe). `ndarray` and `tch` are
//! kept to measure them against `flex` and burn-cuda; lavapipe lets CubeCL's compile, autotune
//! and cache be measured without a GPU: see `bench-harness/PERF.md`.

use burn::tensor::{Device, FloatDType};
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
    /// Burn's older pure-Rust CPU backend (`ndarray`, deprecated in 0.22); feature `ndarray`.
    Ndarray,
    /// Burn's LibTorch backend on the CPU; feature `tch`.
    Tch,
    /// Burn's LibTorch backend on NVIDIA GPU 0; feature `tch` and a CUDA build of PyTorch.
    #[serde(rename = "tch-cuda")]
    TchCuda,
    /// Burn's wgpu backend on the default adapter (CubeCL kernels, autotune and fusion, as on
    /// CUDA); feature `wgpu`.
    Wgpu,
}

impl DeviceKind {
    /// Every backend, in the order error messages list them.
    pub const ALL: [DeviceKind; 6] = [
        DeviceKind::Cpu,
        DeviceKind::Cuda,
        DeviceKind::Ndarray,
        DeviceKind::Tch,
        DeviceKind::TchCuda,
        DeviceKind::Wgpu,
    ];

    /// The name the CLI takes and prints (the same as in config files).
    pub fn name(self) -> &'static str {
        match self {
            DeviceKind::Cpu => "cpu",
            DeviceKind::Cuda => "cuda",
            DeviceKind::Ndarray => "ndarray",
            DeviceKind::Tch => "tch",
            DeviceKind::TchCuda => "tch-cuda",
            DeviceKind::Wgpu => "wgpu",
        }
    }
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DeviceKind {
    type Err = DeviceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| DeviceError::Unknown(s.to_string()))
    }
}

/// The floating-point type of a run's tensors (parameters, activations, gradients).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FloatKind {
    /// IEEE single precision.
    #[default]
    F32,
    /// f32 storage, relaxed compute (CubeCL may use TF32-like tensor-core paths): the
    /// counterpart of PyTorch's default TF32 convolutions on NVIDIA GPUs.
    Flex32,
    /// bfloat16 everywhere (not mixed precision: no f32 master weights).
    Bf16,
    /// IEEE half precision everywhere.
    F16,
}

impl FloatKind {
    /// Every float type, in the order error messages list them.
    pub const ALL: [FloatKind; 4] = [FloatKind::F32, FloatKind::Flex32, FloatKind::Bf16, FloatKind::F16];

    /// The name the CLI takes and prints (the same as in config files).
    pub fn name(self) -> &'static str {
        match self {
            FloatKind::F32 => "f32",
            FloatKind::Flex32 => "flex32",
            FloatKind::Bf16 => "bf16",
            FloatKind::F16 => "f16",
        }
    }

    fn dtype(self) -> FloatDType {
        match self {
            FloatKind::F32 => FloatDType::F32,
            FloatKind::Flex32 => FloatDType::Flex32,
            FloatKind::Bf16 => FloatDType::BF16,
            FloatKind::F16 => FloatDType::F16,
        }
    }
}

impl fmt::Display for FloatKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FloatKind {
    type Err = DeviceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| DeviceError::UnknownFloat(s.to_string()))
    }
}

/// "`a`, `b` or `c`": the names an error message offers.
fn choices(names: impl IntoIterator<Item = &'static str>) -> String {
    let names: Vec<String> = names.into_iter().map(|n| format!("`{n}`")).collect();
    match names.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// Why a device cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// Not a known backend name.
    #[error("unknown device `{0}`: expected {expected}", expected = choices(DeviceKind::ALL.map(DeviceKind::name)))]
    Unknown(String),
    /// Not a known float type name.
    #[error("unknown float type `{0}`: expected {expected}", expected = choices(FloatKind::ALL.map(FloatKind::name)))]
    UnknownFloat(String),
    /// The backend cannot use the float type, or the device already has another one.
    #[error("cannot use {float} on {device}: {reason} (the float type is chosen once per process, before any tensor)")]
    Float {
        /// The float type asked for.
        float: FloatKind,
        /// The backend.
        device: DeviceKind,
        /// Burn's reason.
        reason: String,
    },
    /// CUDA asked for, but this binary was built without it.
    #[error(
        "this binary was built without CUDA: rebuild with `--features cuda` \
         (offline: docs/backends.md, section CUDA) or use `--device cpu`"
    )]
    CudaNotBuilt,
    /// CUDA asked for, but a library it needs cannot be loaded on this machine.
    #[error("CUDA is not usable here: {library} cannot be loaded ({fix}); or use `--device cpu`")]
    CudaLibraryMissing {
        /// The shared library (`libcuda.so` / `libnvrtc.so`).
        library: &'static str,
        /// What to install or set.
        fix: &'static str,
    },
    /// The `ndarray` backend asked for, but this binary was built without it.
    #[error(
        "this binary was built without the ndarray backend: rebuild with `--features ndarray` or use `--device cpu`"
    )]
    NdarrayNotBuilt,
    /// The wgpu backend asked for, but this binary was built without it.
    #[error("this binary was built without the wgpu backend: rebuild with `--features wgpu` or use `--device cpu`")]
    WgpuNotBuilt,
    /// A LibTorch device asked for, but this binary was built without it.
    #[error(
        "this binary was built without the LibTorch backend: rebuild with `--features tch` \
         (docs/backends.md, section LibTorch, says how to link an installed PyTorch) or use `--device cpu`"
    )]
    TchNotBuilt,
    /// `tch-cuda` asked for, but LibTorch sees no CUDA device.
    #[error(
        "LibTorch sees no CUDA device: load its CUDA library (LD_PRELOAD=<torch>/lib/libtorch_cuda.so), \
         check the NVIDIA driver, or use `--device tch`"
    )]
    TchNoCuda,
}

impl DeviceKind {
    /// What a user should know before the first step on this backend: on CubeCL's backends
    /// (CUDA, wgpu), kernels are compiled and convolutions autotuned on first use, which on a
    /// cold cache takes long enough to look like a hang.
    pub fn first_step_note(self) -> Option<&'static str> {
        match self {
            DeviceKind::Cuda | DeviceKind::Wgpu => Some(
                "the first steps compile and autotune kernels (on a cold cache this can take \
                 minutes for DenseNet's many convolution shapes); CubeCL keeps the tuning results \
                 on disk (on CUDA the compiled kernels too), so later runs start fast",
            ),
            DeviceKind::Cpu | DeviceKind::Ndarray | DeviceKind::Tch | DeviceKind::TchCuda => None,
        }
    }

    /// Prints [`first_step_note`](Self::first_step_note) to stderr, once per process.
    pub fn announce_first_steps(self) {
        static ONCE: std::sync::Once = std::sync::Once::new();
        if let Some(note) = self.first_step_note() {
            ONCE.call_once(|| eprintln!("{self}: {note}"));
        }
    }

    /// The plain (inference) device of this backend.
    pub fn device(self) -> Result<Device, DeviceError> {
        match self {
            DeviceKind::Cpu => Ok(Device::flex()),
            #[cfg(feature = "cuda")]
            DeviceKind::Cuda => {
                cuda_libraries_present()?;
                Ok(Device::cuda(0))
            }
            #[cfg(not(feature = "cuda"))]
            DeviceKind::Cuda => Err(DeviceError::CudaNotBuilt),
            #[cfg(feature = "ndarray")]
            #[allow(deprecated)] // measured against flex on purpose (bench-harness/PERF.md)
            DeviceKind::Ndarray => Ok(Device::ndarray()),
            #[cfg(not(feature = "ndarray"))]
            DeviceKind::Ndarray => Err(DeviceError::NdarrayNotBuilt),
            #[cfg(feature = "tch")]
            #[allow(deprecated)] // measured against flex and burn-cuda on purpose (bench-harness/PERF.md)
            DeviceKind::Tch => Ok(Device::libtorch()),
            #[cfg(feature = "tch")]
            #[allow(deprecated)]
            DeviceKind::TchCuda => match tch::Cuda::is_available() {
                true => Ok(Device::libtorch_cuda(0)),
                false => Err(DeviceError::TchNoCuda),
            },
            #[cfg(not(feature = "tch"))]
            DeviceKind::Tch | DeviceKind::TchCuda => Err(DeviceError::TchNotBuilt),
            #[cfg(feature = "wgpu")]
            DeviceKind::Wgpu => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
            #[cfg(not(feature = "wgpu"))]
            DeviceKind::Wgpu => Err(DeviceError::WgpuNotBuilt),
        }
    }

    /// The training device of this backend: the plain device with autodiff.
    pub fn autodiff(self) -> Result<Device, DeviceError> {
        Ok(self.device()?.autodiff())
    }

    /// The training device with `float` as the type of every float tensor made on it. Burn
    /// fixes a device's float type once per process, at its first tensor.
    pub fn autodiff_with(self, float: FloatKind) -> Result<Device, DeviceError> {
        let mut device = self.device()?;
        if device.settings().float_dtype != float.dtype() {
            device.configure(float.dtype()).map_err(|e| DeviceError::Float {
                float,
                device: self,
                reason: e.to_string(),
            })?;
        }
        Ok(device.autodiff())
    }
}

/// Whether the CUDA driver and NVRTC (cubecl compiles kernels with it) can be loaded. cudarc
/// would panic in a background thread on first use instead; asked once per process.
#[cfg(feature = "cuda")]
fn cuda_libraries_present() -> Result<(), DeviceError> {
    use std::sync::OnceLock;
    static FOUND: OnceLock<(bool, bool)> = OnceLock::new();
    // SAFETY: both only try `dlopen` on cudarc's candidate names and drop the handle.
    let (driver, nvrtc) = *FOUND
        .get_or_init(|| unsafe { (cudarc::driver::sys::is_culib_present(), cudarc::nvrtc::sys::is_culib_present()) });
    if !driver {
        return Err(DeviceError::CudaLibraryMissing {
            library: "the NVIDIA driver library (libcuda.so)",
            fix: "install the NVIDIA driver, or put its directory on LD_LIBRARY_PATH",
        });
    }
    if !nvrtc {
        return Err(DeviceError::CudaLibraryMissing {
            library: "CUDA's runtime compiler (libnvrtc.so)",
            fix: "install the CUDA toolkit and put its lib64 directory on LD_LIBRARY_PATH, with CUDA_PATH set",
        });
    }
    Ok(())
}

/// Runs `f` on a thread of the CPU backend's thread pool and returns what it returns: call your
/// training loop through it on the CPU.
///
/// `flex` (the default CPU backend) computes each op on rayon's global pool, one thread per
/// core. A loop driven from any other thread hands every op to the pool and sleeps until it is
/// done, and between ops its own serial work (autodiff bookkeeping, the driver, small ops) runs
/// beside pool threads still spinning for work: one thread more than there are cores. Run on a
/// pool thread, the loop computes its share of each op itself. Measured on 2 cores
/// (DenseNet-BC-40-12 and WRN-16-2, batch 50, 0 and 50 % frozen, `bench-harness/PERF.md`): a
/// training step 11–28 % faster, with bit-identical results. On other backends the loop merely
/// runs on another thread (not measured there). Panics in `f` propagate.
/// `paper-repro` runs every command this way; the pool's size follows `RAYON_NUM_THREADS`.
///
/// ```
/// use burn_freezeout::device::on_compute_pool;
///
/// let steps = on_compute_pool(|| {
///     // build the model, then: for batch in data { train step }
///     3
/// });
/// assert_eq!(steps, 3);
/// ```
pub fn on_compute_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    // `scope` runs its closure on a thread of the global pool (in place when already on one).
    rayon::scope(|_| f())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One name per variant serves the CLI (parse and print), config files (serde) and the
    /// error messages.
    #[test]
    fn names_round_trip_and_match_config_files_and_errors() {
        for k in DeviceKind::ALL {
            assert_eq!(k.to_string().parse::<DeviceKind>().unwrap(), k);
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{k}\""));
        }
        for k in FloatKind::ALL {
            assert_eq!(k.to_string().parse::<FloatKind>().unwrap(), k);
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{k}\""));
        }
        assert_eq!(
            "gpu".parse::<DeviceKind>().unwrap_err().to_string(),
            "unknown device `gpu`: expected `cpu`, `cuda`, `ndarray`, `tch`, `tch-cuda` or `wgpu`"
        );
        assert_eq!(
            "fp8".parse::<FloatKind>().unwrap_err().to_string(),
            "unknown float type `fp8`: expected `f32`, `flex32`, `bf16` or `f16`"
        );
    }

    /// The closure runs on a thread of rayon's global pool, the pool flex computes on, and its
    /// result comes back; from a pool thread it runs in place.
    #[test]
    fn on_compute_pool_runs_on_a_thread_of_the_global_pool() {
        assert_eq!(rayon::current_thread_index(), None, "the test thread is not a pool thread");
        let (index, threads) = on_compute_pool(|| (rayon::current_thread_index(), rayon::current_num_threads()));
        assert!(index.is_some());
        assert_eq!(threads, rayon::current_num_threads());
        let here = on_compute_pool(|| on_compute_pool(|| std::thread::current().id()) == std::thread::current().id());
        assert!(here);
    }
}
