//! The CPU a run computed on, recorded in its summary: Burn's CPU kernels take different float
//! paths on different instruction sets, so results are bit-identical only on the same CPU type.

use serde::{Deserialize, Serialize};

/// The processor's model name and the vector instruction sets that change the CPU kernels' float
/// paths.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuInfo {
    /// The model name as the operating system reports it (`/proc/cpuinfo` on Linux), else the
    /// architecture.
    pub model: String,
    /// The instruction sets found among those that matter to the kernels (e.g. `avx2`, `fma`,
    /// `avx512f`), in a fixed order.
    pub features: Vec<String>,
}

impl CpuInfo {
    /// The machine this process runs on.
    pub fn current() -> Self {
        let model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| std::env::consts::ARCH.to_string());
        Self { model, features: features() }
    }

    /// One line: the model name and its instruction sets, e.g. `Intel(R) Xeon(R) (avx2 fma avx512f)`.
    pub fn label(&self) -> String {
        format!("{} ({})", self.model, self.features.join(" "))
    }
}

/// The instruction sets among `$f` that `$detect` (the architecture's `is_*_feature_detected`)
/// finds, in the order given.
macro_rules! detected {
    ($detect:ident: $($f:tt),*) => {{
        let mut found = Vec::new();
        $(if std::arch::$detect!($f) {
            found.push($f.to_string());
        })*
        found
    }};
}

#[cfg(target_arch = "x86_64")]
fn features() -> Vec<String> {
    detected!(is_x86_feature_detected: "sse4.2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512bf16", "avx512fp16")
}

#[cfg(target_arch = "aarch64")]
fn features() -> Vec<String> {
    detected!(is_aarch64_feature_detected: "neon", "fp16", "bf16", "sve", "sve2")
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn features() -> Vec<String> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::CpuInfo;

    #[test]
    fn the_current_cpu_has_a_model_and_its_label_names_each_feature() {
        let cpu = CpuInfo::current();
        assert!(!cpu.model.is_empty());
        let label = cpu.label();
        assert!(label.starts_with(&cpu.model), "{label}");
        assert!(cpu.features.iter().all(|f| label.contains(f.as_str())), "{label}");
    }
}
