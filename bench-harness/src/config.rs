//! One run's settings: from a TOML file (`deny_unknown_fields`) and/or flags; the resolved
//! config is written next to the run's results.

use anyhow::{Context, bail};
use freezeout_core::data::CifarKind;
use freezeout_core::device::{DeviceKind, FloatKind};
use freezeout_core::models::Preset;
use freezeout_core::train::{OptimizerKind, TrainConfig};
use freezeout_core::{AdaptiveConfig, Scaling, ScheduleConfig};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Everything that decides one training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    /// Model preset (`densenet-bc-76-12`, `wrn-40-4`, `vgg16`, ...).
    pub model: Preset,
    /// `cifar10` or `cifar100`.
    pub dataset: CifarKind,
    /// Epochs.
    pub epochs: usize,
    /// Batch size (the paper: 50).
    pub batch_size: usize,
    /// Base learning rate α.
    pub lr: f64,
    /// FreezeOut t0 (pre-scaled).
    pub t0: f64,
    /// `linear`, `squared` or `cubic`.
    pub scaling: Scaling,
    /// Scale initial LRs by 1/t_i.
    pub scale_lr: bool,
    /// No freezing (one global cosine).
    pub baseline: bool,
    /// The adaptive policy instead of FreezeOut's schedule (`[adaptive]` in TOML; absent: the
    /// schedule). Not with `baseline`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adaptive: Option<AdaptiveConfig>,
    /// Seed of initialisation and data order.
    pub seed: u64,
    /// Hold out the last `val` training images and evaluate on them instead of the test set.
    pub val: usize,
    /// Use only the first `train_limit` training images (quick runs).
    pub train_limit: Option<usize>,
    /// Use only the first `test_limit` evaluation images (quick runs).
    pub test_limit: Option<usize>,
    /// WRN dropout probability.
    pub dropout: f64,
    /// `sgd` (Nesterov momentum, the paper's), `adam` or `adamw`.
    pub optimizer: OptimizerKind,
    /// SGD momentum (Nesterov).
    pub momentum: f64,
    /// Weight decay.
    pub weight_decay: f64,
    /// `cpu` or `cuda`.
    pub device: DeviceKind,
    /// Float type of every tensor: `f32` (the paper), `flex32`, `bf16` or `f16` (no f32 master
    /// weights: a measurement of what lower precision costs, not mixed precision).
    pub float: FloatKind,
    /// Checkpoint every this many iterations (0: only at epoch ends, which always checkpoint).
    pub checkpoint_every: u64,
    /// Complete checkpoints kept.
    pub keep_checkpoints: usize,
    /// Stop as diverged when a batch loss exceeds this (non-finite losses always stop).
    pub max_loss: Option<f64>,
}

impl Default for RunConfig {
    /// The paper's setting on the reference model.
    fn default() -> Self {
        let t = TrainConfig::default();
        Self {
            model: Preset::DenseNetBc { depth: 76, growth: 12 },
            dataset: CifarKind::Cifar10,
            epochs: 100,
            batch_size: 50,
            lr: t.schedule.base_lr,
            t0: t.schedule.t0,
            scaling: t.schedule.scaling,
            scale_lr: t.schedule.scale_lr,
            baseline: false,
            adaptive: None,
            seed: 0,
            val: 0,
            train_limit: None,
            test_limit: None,
            dropout: 0.0,
            optimizer: t.optimizer,
            momentum: t.momentum,
            weight_decay: t.weight_decay,
            device: DeviceKind::Cpu,
            float: FloatKind::F32,
            checkpoint_every: 1000,
            keep_checkpoints: 2,
            max_loss: None,
        }
    }
}

impl RunConfig {
    /// Reads a TOML file; unknown fields and bad values are errors naming the file.
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
        toml::from_str(&text).with_context(|| format!("{}: invalid run config", path.display()))
    }

    /// Checks ranges that the types do not (`t0`, epochs, batch size, rates).
    pub fn validate(&self) -> anyhow::Result<()> {
        if !(self.t0 > 0.0 && self.t0 <= 1.0) {
            bail!("t0 = {} is outside (0, 1]: e.g. t0 = 0.8", self.t0);
        }
        if self.epochs == 0 {
            bail!("epochs = 0: a run needs at least one epoch");
        }
        if self.batch_size == 0 {
            bail!("batch_size = 0: the paper uses 50");
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            bail!("lr = {} must be a positive number (the paper uses 0.1)", self.lr);
        }
        if !(0.0..1.0).contains(&self.dropout) {
            bail!("dropout = {} must be in [0, 1)", self.dropout);
        }
        if self.baseline && self.adaptive.is_some() {
            bail!("baseline = true and an [adaptive] policy are both set: pick one (--policy baseline or --policy adaptive)");
        }
        if let Some(a) = &self.adaptive {
            a.check_ranges()?;
        }
        if self.keep_checkpoints == 0 {
            bail!("keep_checkpoints = 0: keep at least one checkpoint");
        }
        if !(0.0..1.0).contains(&self.momentum) || self.weight_decay < 0.0 {
            bail!("momentum must be in [0, 1) and weight_decay ≥ 0");
        }
        Ok(())
    }

    /// The training-loop part.
    pub fn train_config(&self) -> TrainConfig {
        TrainConfig {
            epochs: self.epochs,
            schedule: ScheduleConfig { t0: self.t0, scaling: self.scaling, scale_lr: self.scale_lr, base_lr: self.lr },
            baseline: self.baseline,
            adaptive: self.adaptive,
            optimizer: self.optimizer,
            momentum: self.momentum,
            weight_decay: self.weight_decay,
            seed: self.seed,
            max_loss: self.max_loss,
        }
    }

    /// The run directory's default name: the settings a reader looks for (model, dataset,
    /// strategy, float type, epochs, seed), then a short hash of every setting that changes the
    /// result ([`result_hash`](Self::result_hash)), so two different configs never share a
    /// directory.
    pub fn run_name(&self) -> String {
        let mode = if self.baseline {
            "baseline".to_string()
        } else if let Some(a) = &self.adaptive {
            format!("adaptive-th{}", a.threshold)
        } else {
            format!("{}{}-t{}", self.scaling, if self.scale_lr { "" } else { "-unscaled" }, self.t0)
        };
        let float = if self.float == FloatKind::F32 { String::new() } else { format!("-{}", self.float) };
        let optim = if self.optimizer == OptimizerKind::Sgd { String::new() } else { format!("-{}", self.optimizer) };
        format!(
            "{}-{}-{}{}{}-e{}-s{}-{}",
            self.model,
            self.dataset.name(),
            mode,
            optim,
            float,
            self.epochs,
            self.seed,
            &self.result_hash()[..8]
        )
    }

    /// A hash of every setting that changes what the run computes: all fields but how often it
    /// checkpoints and how many checkpoints it keeps.
    pub fn result_hash(&self) -> String {
        let normalized = RunConfig { checkpoint_every: 0, keep_checkpoints: 1, ..self.clone() };
        let text = toml::to_string_pretty(&normalized).expect("a run config serializes");
        freezeout_core::train::checkpoint::hash_text(&text)
    }

    /// The settings in which `other` differs from `self`, as `field: ours → theirs`, sorted by
    /// field name (empty when equal).
    pub fn diff(&self, other: &RunConfig) -> Vec<String> {
        let table = |c: &RunConfig| match toml::Value::try_from(c).expect("a run config serializes") {
            toml::Value::Table(t) => t,
            _ => unreachable!("a struct serializes to a table"),
        };
        let (a, b) = (table(self), table(other));
        let shown = |v: Option<&toml::Value>| v.map_or("(unset)".to_string(), |v| v.to_string());
        a.keys()
            .chain(b.keys().filter(|k| !a.contains_key(*k)))
            .filter(|k| a.get(*k) != b.get(*k))
            .map(|k| format!("{k}: {} → {}", shown(a.get(k)), shown(b.get(k))))
            .collect()
    }

    /// The warning for initial rates above [`freezeout_core::HIGH_RATE_FACTOR`] × `lr` (LR
    /// scaling with a tiny `t0`), naming the unit, for the model's real unit names; `None` for
    /// the paper's settings. `train` and `table` print it and go on.
    pub fn rate_warning(&self) -> Option<String> {
        if self.baseline || self.adaptive.is_some() {
            return None;
        }
        let spec = self.model.spec(self.dataset.classes());
        let names: Vec<String> = spec.units.iter().map(|u| u.name.clone()).collect();
        // The rates do not depend on T: any positive length gives the same α_i.
        let schedule = freezeout_core::Schedule::freezeout(self.train_config().schedule, names.len(), 1).ok()?;
        schedule.high_rate_warning(&names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_that_compute_differently_get_different_run_names() {
        let base = RunConfig { model: Preset::Wrn { depth: 10, width: 1 }, epochs: 2, ..RunConfig::default() };
        let variants = [
            RunConfig { epochs: 1, ..base.clone() },
            RunConfig { batch_size: 64, ..base.clone() },
            RunConfig { train_limit: Some(500), ..base.clone() },
            RunConfig { test_limit: Some(200), ..base.clone() },
            RunConfig { lr: 0.05, ..base.clone() },
            RunConfig { float: FloatKind::Bf16, ..base.clone() },
            RunConfig { val: 5000, ..base.clone() },
            RunConfig { weight_decay: 5e-4, ..base.clone() },
            RunConfig { optimizer: OptimizerKind::AdamW, ..base.clone() },
            RunConfig { adaptive: Some(AdaptiveConfig::default()), ..base.clone() },
            RunConfig { adaptive: Some(AdaptiveConfig { min_fraction: 0.6, ..AdaptiveConfig::default() }), ..base.clone() },
        ];
        let mut names: Vec<String> = variants.iter().map(RunConfig::run_name).collect();
        names.push(base.run_name());
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n, "{names:?}");
        assert!(base.run_name().starts_with("wrn-10-1-cifar10-cubic-t0.8-e2-s0-"), "{}", base.run_name());
        // A config without a policy section hashes as before the adaptive policy existed, so
        // earlier runs keep their directories.
        assert!(!toml::to_string(&base).unwrap().contains("adaptive"));
        // How often a run checkpoints does not change its result, nor its name.
        let same = RunConfig { checkpoint_every: 7, keep_checkpoints: 5, ..base.clone() };
        assert_eq!(same.run_name(), base.run_name());
    }

    #[test]
    fn diff_names_each_changed_setting() {
        let a = RunConfig { epochs: 2, ..RunConfig::default() };
        let b = RunConfig { epochs: 1, train_limit: Some(300), ..a.clone() };
        assert_eq!(a.diff(&b), vec!["epochs: 2 → 1".to_string(), "train_limit: (unset) → 300".to_string()]);
        assert!(a.diff(&a).is_empty());
    }

    #[test]
    fn an_adaptive_section_takes_defaults_for_missing_fields_and_refuses_unknown_ones() {
        let c: RunConfig = toml::from_str("[adaptive]\nthreshold = 0.1\n").unwrap();
        assert_eq!(c.adaptive, Some(AdaptiveConfig { threshold: 0.1, ..AdaptiveConfig::default() }));
        c.validate().unwrap();
        let e = toml::from_str::<RunConfig>("[adaptive]\nthreshhold = 0.1\n").unwrap_err().to_string();
        assert!(e.contains("unknown field `threshhold`"), "{e}");
        let both = RunConfig { baseline: true, ..c.clone() };
        assert!(both.validate().unwrap_err().to_string().contains("pick one"));
        let bad = RunConfig { adaptive: Some(AdaptiveConfig { ramp: 0.0, ..AdaptiveConfig::default() }), ..c };
        assert!(bad.validate().unwrap_err().to_string().contains("ramp = 0"));
    }
}
