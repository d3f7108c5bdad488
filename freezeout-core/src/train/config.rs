//! [`TrainConfig`]: everything that decides a run besides the model and the data.

use super::OptimizerKind;
use crate::cache::CacheConfig;
use crate::policy::{AdaptiveConfig, BackboneConfig, GradualConfig, Policy, PolicyConfig, PolicyError, PolicyFields};
use crate::schedule::{Schedule, ScheduleConfig};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, ModuleOptimizer, SgdConfig};
use serde::{Deserialize, Serialize};

/// Everything that decides a run besides the model and the data.
///
/// In JSON (a run's log and `summary.json`) the policy is stored as runs have always stored it:
/// `baseline` (bool) and, for the adaptive and the fine-tuning policies, `adaptive`, `backbone`
/// or `gradual` (its settings).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(into = "TrainConfigFile", try_from = "TrainConfigFile")]
pub struct TrainConfig {
    /// Number of epochs.
    pub epochs: usize,
    /// FreezeOut settings; `base_lr` is every policy's rate.
    pub schedule: ScheduleConfig,
    /// What decides freezing: FreezeOut's schedule (default), the baseline, an adaptive or a
    /// fine-tuning policy.
    pub policy: PolicyConfig,
    /// Layer-wise rate decay `γ` on the policy's rates (unit `i` at `γ^(N − i)` times its rate;
    /// [`Policy::with_layer_decay`]); `None`: none.
    pub layer_decay: Option<f64>,
    /// The optimizer: SGD with Nesterov momentum (the paper's, default), Adam or AdamW, each
    /// with FreezeOut's per-unit rates.
    pub optimizer: OptimizerKind,
    /// SGD momentum (Nesterov, dampening 0); Adam and AdamW use their default betas.
    pub momentum: f64,
    /// Weight decay: coupled L2 for SGD and Adam, decoupled for AdamW.
    pub weight_decay: f64,
    /// Seed of the model's initialisation and the data order.
    pub seed: u64,
    /// Stop as diverged when a batch loss exceeds this (a non-finite loss always stops).
    pub max_loss: Option<f64>,
    /// The frozen-prefix cache ([`crate::cache`]; default: off, the paper's behaviour).
    pub cache: CacheConfig,
}

impl Default for TrainConfig {
    /// The paper's optimiser: SGD, Nesterov momentum 0.9, weight decay 1e-4, α = 0.1.
    fn default() -> Self {
        Self {
            epochs: 1,
            schedule: ScheduleConfig::default(),
            policy: PolicyConfig::FreezeOut,
            layer_decay: None,
            optimizer: OptimizerKind::Sgd,
            momentum: 0.9,
            weight_decay: 1e-4,
            seed: 0,
            max_loss: None,
            cache: CacheConfig::default(),
        }
    }
}

impl TrainConfig {
    /// The policy of a run of `num_units` units and `total` iterations over the config's epochs,
    /// with its layer decay ([`PolicyConfig::build`]).
    pub fn policy(&self, num_units: usize, total: u64) -> Result<Policy, PolicyError> {
        self.policy.build(self.schedule, self.layer_decay, num_units, self.epochs, total)
    }

    /// The schedule fixed before the run (FreezeOut's or the baseline's) of `num_units` units
    /// and `total` iterations; an error for the adaptive policy.
    pub fn schedule(&self, num_units: usize, total: u64) -> Result<Schedule, PolicyError> {
        self.policy.schedule(self.schedule, num_units, total)
    }

    /// The run's optimizer: SGD with Nesterov momentum and dampening 0 (Burn's default
    /// dampening is 0.1), Adam with coupled L2 decay, or AdamW with decoupled decay.
    pub fn optimizer(&self) -> ModuleOptimizer {
        let decay = (self.weight_decay > 0.0).then(|| WeightDecayConfig::new(self.weight_decay as f32));
        match self.optimizer {
            OptimizerKind::Sgd => {
                let momentum = (self.momentum > 0.0).then(|| {
                    MomentumConfig::new().with_momentum(self.momentum).with_dampening(0.0).with_nesterov(true)
                });
                SgdConfig::new().with_momentum(momentum).with_weight_decay(decay).init()
            }
            OptimizerKind::Adam => AdamConfig::new().with_weight_decay(decay).init(),
            OptimizerKind::AdamW => AdamWConfig::new().with_weight_decay(self.weight_decay as f32).init(),
        }
    }
}

/// [`TrainConfig`] as JSON stores it (field names and order as runs have always written them).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrainConfigFile {
    epochs: usize,
    schedule: ScheduleConfig,
    baseline: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    adaptive: Option<AdaptiveConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    backbone: Option<BackboneConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gradual: Option<GradualConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    layer_decay: Option<f64>,
    #[serde(default)]
    optimizer: OptimizerKind,
    momentum: f64,
    weight_decay: f64,
    seed: u64,
    #[serde(default)]
    max_loss: Option<f64>,
    #[serde(default, skip_serializing_if = "CacheConfig::is_off")]
    cache: CacheConfig,
}

/// The conversions between [`TrainConfig`] and [`TrainConfigFile`]: every field but the policy is
/// copied as it is (the list is written once; a field missing from it, or from either struct,
/// does not compile), the policy goes to and from its [`PolicyFields`].
macro_rules! file_form {
    ($($field:ident),* $(,)?) => {
        impl From<TrainConfig> for TrainConfigFile {
            fn from(c: TrainConfig) -> Self {
                let PolicyFields { baseline, adaptive, backbone, gradual } = c.policy.to_fields();
                Self { baseline, adaptive, backbone, gradual, $($field: c.$field),* }
            }
        }

        impl TryFrom<TrainConfigFile> for TrainConfig {
            type Error = crate::policy::PolicyClash;
            fn try_from(f: TrainConfigFile) -> Result<Self, Self::Error> {
                let fields =
                    PolicyFields { baseline: f.baseline, adaptive: f.adaptive, backbone: f.backbone, gradual: f.gradual };
                Ok(Self { policy: PolicyConfig::from_fields(fields)?, $($field: f.$field),* })
            }
        }
    };
}

file_form!(epochs, schedule, layer_decay, optimizer, momentum, weight_decay, seed, max_loss, cache);

#[cfg(test)]
mod tests {
    use super::*;

    /// Logs and summaries written before `PolicyConfig` existed read back, and every policy
    /// writes the same JSON as then.
    #[test]
    fn json_keeps_the_baseline_and_adaptive_fields_runs_have_always_written() {
        let old = r#"{"epochs":2,"schedule":{"t0":0.8,"scaling":"cubic","scale_lr":true,"base_lr":0.1},"baseline":true,"momentum":0.9,"weight_decay":0.0001,"seed":3}"#;
        let c: TrainConfig = serde_json::from_str(old).unwrap();
        assert_eq!(c, TrainConfig { epochs: 2, seed: 3, policy: PolicyConfig::Baseline, ..TrainConfig::default() });
        let written = serde_json::to_string(&c).unwrap();
        let expected = r#"{"epochs":2,"schedule":{"t0":0.8,"scaling":"cubic","scale_lr":true,"base_lr":0.1},"baseline":true,"optimizer":"sgd","momentum":0.9,"weight_decay":0.0001,"seed":3,"max_loss":null}"#;
        assert_eq!(written, expected);
        let adaptive =
            TrainConfig { policy: PolicyConfig::Adaptive(AdaptiveConfig::default()), ..TrainConfig::default() };
        let json = serde_json::to_value(&adaptive).unwrap();
        assert_eq!((json["baseline"].as_bool(), json["adaptive"]["threshold"].as_f64()), (Some(false), Some(0.05)));
        assert_eq!(serde_json::from_value::<TrainConfig>(json).unwrap(), adaptive);
        let both = old.replace(r#""seed":3"#, r#""seed":3,"adaptive":{"threshold":0.1}"#);
        let e = serde_json::from_str::<TrainConfig>(&both).unwrap_err().to_string();
        assert!(e.contains("pick one policy"), "{e}");
    }
}
