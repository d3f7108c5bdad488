//! One run's settings: from a TOML file (`deny_unknown_fields`) and/or flags; the resolved
//! config is written next to the run's results.
//!
//! [`RunConfig::default`] is the one block of defaults: the command line shows them in its
//! help and applies its flags over them (or over a config file).

use anyhow::{Context, bail};
use burn_freezeout::cache::{CacheConfig, CacheMode};
use burn_freezeout::data::CifarKind;
use burn_freezeout::data::text::VOCAB;
use burn_freezeout::device::{DeviceKind, FloatKind};
use burn_freezeout::models::Preset;
use burn_freezeout::policy::{BackboneConfig, GradualConfig, PolicyFields};
use burn_freezeout::train::{OptimizerKind, TrainConfig};
use burn_freezeout::{AdaptiveConfig, PolicyConfig, Scaling, ScheduleConfig};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What a run trains on: CIFAR-10 or CIFAR-100 images (`--data`: their directory or archive),
/// or a text for a language model (`--data`: a UTF-8 file, plain or gzip; windows of
/// [`GPT_CONTEXT`](burn_freezeout::models::GPT_CONTEXT) bytes, the last 10 % held out).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dataset {
    /// CIFAR-10.
    Cifar10,
    /// CIFAR-100.
    Cifar100,
    /// A text.
    Text,
}

impl Dataset {
    /// The CIFAR kind, for image data.
    pub fn cifar(self) -> Option<CifarKind> {
        match self {
            Dataset::Cifar10 => Some(CifarKind::Cifar10),
            Dataset::Cifar100 => Some(CifarKind::Cifar100),
            Dataset::Text => None,
        }
    }

    /// The model's outputs: the classes, or a language model's vocabulary (bytes).
    pub fn classes(self) -> usize {
        self.cifar().map_or(VOCAB, CifarKind::classes)
    }

    /// The name on the command line and in run names.
    pub fn name(self) -> &'static str {
        self.cifar().map_or("text", CifarKind::name)
    }
}

impl From<CifarKind> for Dataset {
    fn from(kind: CifarKind) -> Self {
        match kind {
            CifarKind::Cifar10 => Dataset::Cifar10,
            CifarKind::Cifar100 => Dataset::Cifar100,
        }
    }
}

impl std::str::FromStr for Dataset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(Dataset::Text),
            _ => s.parse::<CifarKind>().map(Dataset::from).map_err(|_| {
                format!("unknown dataset `{s}`: expected cifar10, cifar100 or text (a UTF-8 file for a language model)")
            }),
        }
    }
}

/// Everything that decides one training run.
///
/// In TOML the policy is stored as run directories have always stored it: `baseline = true`
/// for the baseline, an `[adaptive]` table for the adaptive policy, neither for FreezeOut (and
/// a `[backbone]` or `[gradual]` table for the fine-tuning policies, `layer_decay` when set); so
/// earlier runs keep their names and hashes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(into = "RunConfigFile", try_from = "RunConfigFile")]
pub struct RunConfig {
    /// Model preset (`densenet-bc-76-12`, `wrn-40-4`, `vgg16`, `vit-6-128`, ...).
    pub model: Preset,
    /// `cifar10`, `cifar100` or `text`.
    pub dataset: Dataset,
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
    /// What decides freezing: FreezeOut's schedule (`t0`, `scaling`, `scale_lr`), the
    /// baseline, an adaptive or a fine-tuning policy.
    pub policy: PolicyConfig,
    /// Layer-wise rate decay `γ` on the policy's rates (LLRD); in TOML only when set.
    pub layer_decay: Option<f64>,
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
    /// The frozen-prefix cache (`off`: the paper's behaviour; in TOML a `[cache]` table, only
    /// when on).
    pub cache: CacheConfig,
    /// Random crop and flip of the training images (the paper's; in TOML only when off). Off,
    /// the inputs repeat exactly every epoch and the cache's `exact` mode can run.
    pub augment: bool,
    /// Trained weights to start from instead of random ones ([`burn_freezeout::weights::load`]:
    /// a run directory, a checkpoint, a Burn record or PyTorch's weights); in TOML only when set.
    pub init: Option<PathBuf>,
    /// With `init`: a new head of this many classes (the data's), the units read from `init`
    /// and the head fresh; in TOML only when set.
    pub new_head: Option<usize>,
    /// Train and evaluate on these classes of the dataset only, relabelled `0..k` in this order
    /// (CIFAR-10's `[5, 6, 7, 8, 9]`: a 5-class task); in TOML only when set.
    pub classes: Option<Vec<u8>>,
}

impl Default for RunConfig {
    /// The paper's setting on the reference model.
    fn default() -> Self {
        let t = TrainConfig::default();
        Self {
            model: Preset::DenseNetBc { depth: 76, growth: 12 },
            dataset: Dataset::Cifar10,
            epochs: 100,
            batch_size: 50,
            lr: t.schedule.base_lr,
            t0: t.schedule.t0,
            scaling: t.schedule.scaling,
            scale_lr: t.schedule.scale_lr,
            policy: t.policy,
            layer_decay: t.layer_decay,
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
            cache: t.cache,
            augment: true,
            init: None,
            new_head: None,
            classes: None,
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
        self.policy.check_ranges()?;
        if let Some(gamma) = self.layer_decay {
            burn_freezeout::policy::check_layer_decay(gamma).context("--layer-decay")?;
        }
        if self.keep_checkpoints == 0 {
            bail!("keep_checkpoints = 0: keep at least one checkpoint");
        }
        if !(0.0..1.0).contains(&self.momentum) || self.weight_decay < 0.0 {
            bail!("momentum must be in [0, 1) and weight_decay ≥ 0");
        }
        if !self.cache.is_off() {
            self.cache.budget()?;
        }
        let text = self.dataset == Dataset::Text;
        match (text, self.model.is_text()) {
            (true, false) => bail!(
                "--dataset text trains a language model, and {} is an image model: use --model gpt-D-W (e.g. gpt-4-128)",
                self.model
            ),
            (false, true) => bail!(
                "--model {}: a language model, which trains on text: add --dataset text and --data FILE (a UTF-8 text)",
                self.model
            ),
            _ => {}
        }
        if text && self.val > 0 {
            bail!("val = {}: a text holds out its last 10% already; drop --val", self.val);
        }
        match (&self.init, self.new_head) {
            (None, Some(_)) => bail!("--new-head replaces the head of trained weights: add --init PATH"),
            (Some(path), _) if !path.exists() => {
                return Err(burn_freezeout::weights::WeightsError::NotFound(path.clone()).into());
            }
            (_, Some(n)) if n != self.num_classes() => bail!(
                "--new-head {n}: the data has {} classes ({}); give --new-head {}",
                self.num_classes(),
                self.data_name(),
                self.num_classes()
            ),
            _ => {}
        }
        if let Some(classes) = &self.classes {
            let all = self.dataset.classes();
            if text {
                bail!("--classes selects image classes; a text has none: drop --classes");
            }
            if let Some(c) = classes.iter().find(|&&c| c as usize >= all) {
                bail!("--classes: {c} is no class of {} (0..{})", self.dataset.name(), all - 1);
            }
            let mut seen = classes.clone();
            seen.sort_unstable();
            seen.dedup();
            if seen.len() != classes.len() || classes.len() < 2 {
                bail!("--classes {}: give two or more distinct classes, e.g. --classes 5-9", classes_text(classes));
            }
        }
        // A text's windows repeat exactly; images are augmented unless `augment` is off.
        if self.cache.mode == CacheMode::Exact && self.augment && !text {
            return Err(burn_freezeout::cache::CacheError::NotRepeating.into());
        }
        Ok(())
    }

    /// Outputs of the model's head: the selected classes' count, else the dataset's
    /// ([`Dataset::classes`]: a text's byte ids).
    pub fn num_classes(&self) -> usize {
        self.classes.as_ref().map_or(self.dataset.classes(), Vec::len)
    }

    /// The data in words: `cifar10`, or `cifar10 classes 5-9`.
    pub fn data_name(&self) -> String {
        match &self.classes {
            Some(c) => format!("{} classes {}", self.dataset.name(), classes_text(c)),
            None => self.dataset.name().to_string(),
        }
    }

    /// What `init` gives the head: a fresh one with `new_head`, else the trained one.
    pub fn head(&self) -> burn_freezeout::weights::Head {
        match self.new_head {
            Some(_) => burn_freezeout::weights::Head::Fresh,
            None => burn_freezeout::weights::Head::Trained,
        }
    }

    /// The training-loop part.
    pub fn train_config(&self) -> TrainConfig {
        TrainConfig {
            epochs: self.epochs,
            schedule: ScheduleConfig { t0: self.t0, scaling: self.scaling, scale_lr: self.scale_lr, base_lr: self.lr },
            policy: self.policy,
            layer_decay: self.layer_decay,
            optimizer: self.optimizer,
            momentum: self.momentum,
            weight_decay: self.weight_decay,
            seed: self.seed,
            max_loss: self.max_loss,
            cache: self.cache,
        }
    }

    /// The run directory's default name: the settings a reader looks for (model, dataset,
    /// strategy, float type, epochs, seed), then a short hash of every setting that changes the
    /// result ([`result_hash`](Self::result_hash)), so two different configs never share a
    /// directory.
    pub fn run_name(&self) -> String {
        let mode = match &self.policy {
            PolicyConfig::Baseline => "baseline".to_string(),
            PolicyConfig::Adaptive(a) => format!("{}-th{}", self.policy.run_tag(), a.threshold),
            PolicyConfig::FreezeOut => {
                format!("{}{}-t{}", self.scaling, if self.scale_lr { "" } else { "-unscaled" }, self.t0)
            }
            PolicyConfig::Backbone(b) => format!("backbone-u{}", b.epoch),
            PolicyConfig::Gradual(_) => "gradual".to_string(),
        };
        let decay = self.layer_decay.map_or(String::new(), |g| format!("-lld{g}"));
        let float = if self.float == FloatKind::F32 { String::new() } else { format!("-{}", self.float) };
        let optim = if self.optimizer == OptimizerKind::Sgd { String::new() } else { format!("-{}", self.optimizer) };
        let cache = match self.cache.mode {
            CacheMode::Off => String::new(),
            mode => format!("-cache-{mode}"),
        };
        let augment = if self.augment { "" } else { "-noaug" };
        let classes = self.classes.as_ref().map_or(String::new(), |c| format!("-c{}", classes_text(c)));
        let init = match (&self.init, self.new_head) {
            (None, _) => "",
            (Some(_), None) => "-init",
            (Some(_), Some(_)) => "-init-newhead",
        };
        format!(
            "{}-{}{}{}-{}{}{}{}{}{}-e{}-s{}-{}",
            self.model,
            self.dataset.name(),
            classes,
            init,
            mode,
            decay,
            cache,
            augment,
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
        burn_freezeout::train::checkpoint::hash_text(&text)
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

    /// The warning for initial rates above [`burn_freezeout::HIGH_RATE_FACTOR`] × `lr` (LR
    /// scaling with a tiny `t0`), naming the unit, for the model's real unit names; `None` for
    /// the paper's settings. `train` and `table` print it and go on.
    pub fn rate_warning(&self) -> Option<String> {
        if self.policy != PolicyConfig::FreezeOut {
            return None;
        }
        let spec = self.model.spec(self.num_classes());
        let names: Vec<String> = spec.units.iter().map(|u| u.name.clone()).collect();
        // The rates do not depend on T: any positive length gives the same α_i.
        let schedule = burn_freezeout::Schedule::freezeout(self.train_config().schedule, names.len(), 1).ok()?;
        schedule.high_rate_warning(&names)
    }
}

/// Classes as the command line gives them: runs of consecutive ones as ranges (`5-9`, `0,2,4`).
pub fn classes_text(classes: &[u8]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < classes.len() {
        let mut j = i;
        while j + 1 < classes.len() && classes[j + 1] == classes[j].wrapping_add(1) {
            j += 1;
        }
        parts.push(if j > i + 1 { format!("{}-{}", classes[i], classes[j]) } else { classes[i].to_string() });
        if j == i + 1 {
            parts.push(classes[j].to_string());
        }
        i = j + 1;
    }
    parts.join(",")
}

/// Parses `--classes`: class numbers and ranges, comma-separated (`5-9`, `0,2,4`, `0-2,7`).
pub fn parse_classes(text: &str) -> Result<Vec<u8>, String> {
    let mut classes = Vec::new();
    for part in text.split(',') {
        let number = |s: &str| {
            s.trim().parse::<u8>().map_err(|_| format!("`{s}` is not a class number (e.g. --classes 5-9 or 0,2,4)"))
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (number(a)?, number(b)?);
                if a > b {
                    return Err(format!("`{part}`: a range runs upwards (e.g. 5-9)"));
                }
                classes.extend(a..=b);
            }
            None => classes.push(number(part)?),
        }
    }
    Ok(classes)
}

/// [`RunConfig`] as `config.toml` stores it: the field names, order and defaults run
/// directories have always had (its TOML text is what a run's name and hash are made of).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RunConfigFile {
    model: Preset,
    dataset: Dataset,
    epochs: usize,
    batch_size: usize,
    lr: f64,
    t0: f64,
    scaling: Scaling,
    scale_lr: bool,
    baseline: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    adaptive: Option<AdaptiveConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    backbone: Option<BackboneConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gradual: Option<GradualConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    layer_decay: Option<f64>,
    seed: u64,
    val: usize,
    train_limit: Option<usize>,
    test_limit: Option<usize>,
    dropout: f64,
    optimizer: OptimizerKind,
    momentum: f64,
    weight_decay: f64,
    device: DeviceKind,
    float: FloatKind,
    checkpoint_every: u64,
    keep_checkpoints: usize,
    max_loss: Option<f64>,
    #[serde(skip_serializing_if = "is_true")]
    augment: bool,
    #[serde(skip_serializing_if = "CacheConfig::is_off")]
    cache: CacheConfig,
    #[serde(skip_serializing_if = "Option::is_none")]
    init: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    new_head: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    classes: Option<Vec<u8>>,
}

fn is_true(b: &bool) -> bool {
    *b
}

impl Default for RunConfigFile {
    fn default() -> Self {
        RunConfig::default().into()
    }
}

/// The conversions between [`RunConfig`] and [`RunConfigFile`]: every field but the policy is
/// copied as it is (the list is written once; a field missing from it, or from either struct,
/// does not compile), the policy goes to and from its [`PolicyFields`].
macro_rules! file_form {
    ($($field:ident),* $(,)?) => {
        impl From<RunConfig> for RunConfigFile {
            fn from(c: RunConfig) -> Self {
                let PolicyFields { baseline, adaptive, backbone, gradual } = c.policy.to_fields();
                Self { baseline, adaptive, backbone, gradual, $($field: c.$field),* }
            }
        }

        impl TryFrom<RunConfigFile> for RunConfig {
            type Error = burn_freezeout::policy::PolicyClash;
            fn try_from(f: RunConfigFile) -> Result<Self, Self::Error> {
                let fields = PolicyFields { baseline: f.baseline, adaptive: f.adaptive, backbone: f.backbone, gradual: f.gradual };
                Ok(Self { policy: PolicyConfig::from_fields(fields)?, $($field: f.$field),* })
            }
        }
    };
}

file_form!(
    model,
    dataset,
    epochs,
    batch_size,
    lr,
    t0,
    scaling,
    scale_lr,
    layer_decay,
    seed,
    val,
    train_limit,
    test_limit,
    dropout,
    optimizer,
    momentum,
    weight_decay,
    device,
    float,
    checkpoint_every,
    keep_checkpoints,
    max_loss,
    cache,
    augment,
    init,
    new_head,
    classes,
);

#[cfg(test)]
mod tests {
    use super::*;
    use burn_freezeout::cache::CacheFloat;

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
            RunConfig { init: Some("runs/pretrained".into()), ..base.clone() },
            RunConfig { init: Some("runs/pretrained".into()), new_head: Some(10), ..base.clone() },
            RunConfig { classes: Some(vec![5, 6, 7, 8, 9]), ..base.clone() },
            RunConfig { classes: Some(vec![0, 1, 2, 3, 4]), ..base.clone() },
            RunConfig { weight_decay: 5e-4, ..base.clone() },
            RunConfig { optimizer: OptimizerKind::AdamW, ..base.clone() },
            RunConfig { policy: PolicyConfig::Adaptive(AdaptiveConfig::default()), ..base.clone() },
            RunConfig {
                policy: PolicyConfig::Adaptive(AdaptiveConfig { min_fraction: 0.6, ..AdaptiveConfig::default() }),
                ..base.clone()
            },
            RunConfig { policy: PolicyConfig::Baseline, ..base.clone() },
            RunConfig { cache: CacheConfig::new(CacheMode::Reuse), ..base.clone() },
            RunConfig { cache: CacheConfig::new(CacheMode::Shift), ..base.clone() },
            RunConfig { cache: CacheConfig::new(CacheMode::Shift).with_float(CacheFloat::Bf16), ..base.clone() },
            RunConfig { augment: false, ..base.clone() },
            RunConfig { augment: false, cache: CacheConfig::new(CacheMode::Exact), ..base.clone() },
        ];
        let mut names: Vec<String> = variants.iter().map(RunConfig::run_name).collect();
        names.push(base.run_name());
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n, "{names:?}");
        assert!(base.run_name().starts_with("wrn-10-1-cifar10-cubic-t0.8-e2-s0-"), "{}", base.run_name());
        // A config without a policy section (or a cache) hashes as before the adaptive policy
        // (and the cache) existed, so earlier runs keep their directories.
        assert!(!toml::to_string(&base).unwrap().contains("adaptive"));
        assert!(!toml::to_string(&base).unwrap().contains("cache"));
        assert!(!toml::to_string(&base).unwrap().contains("augment"));
        let exact = RunConfig { augment: false, cache: CacheConfig::new(CacheMode::Exact), ..base.clone() };
        assert!(exact.run_name().starts_with("wrn-10-1-cifar10-cubic-t0.8-cache-exact-noaug-e2-s0-"));
        let text = toml::to_string_pretty(&exact).unwrap();
        assert_eq!(toml::from_str::<RunConfig>(&text).unwrap(), exact, "{text}");
        exact.validate().unwrap();
        let e = RunConfig { augment: true, ..exact }.validate().unwrap_err().to_string();
        assert!(e.starts_with("--cache exact: the training inputs are randomly augmented"), "{e}");
        let cached = RunConfig { cache: CacheConfig::new(CacheMode::Reuse), ..base.clone() };
        assert!(
            cached.run_name().starts_with("wrn-10-1-cifar10-cubic-t0.8-cache-reuse-e2-s0-"),
            "{}",
            cached.run_name()
        );
        let text = toml::to_string_pretty(&cached).unwrap();
        assert!(text.ends_with("[cache]\nmode = \"reuse\"\nfloat = \"f32\"\n"), "{text}");
        assert_eq!(toml::from_str::<RunConfig>(&text).unwrap(), cached);
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
        assert_eq!(c.policy, PolicyConfig::Adaptive(AdaptiveConfig { threshold: 0.1, ..AdaptiveConfig::default() }));
        c.validate().unwrap();
        let e = toml::from_str::<RunConfig>("[adaptive]\nthreshhold = 0.1\n").unwrap_err().to_string();
        assert!(e.contains("unknown field `threshhold`"), "{e}");
        let e = toml::from_str::<RunConfig>("baseline = true\n[adaptive]\nthreshold = 0.1\n").unwrap_err().to_string();
        assert!(e.contains("pick one"), "{e}");
        let bad = RunConfig {
            policy: PolicyConfig::Adaptive(AdaptiveConfig { ramp: 0.0, ..AdaptiveConfig::default() }),
            ..c
        };
        assert!(bad.validate().unwrap_err().to_string().contains("ramp = 0"));
    }

    /// `config.toml` files written by `paper-repro train` before `PolicyConfig` existed (the
    /// release of 2026-12-02, WRN-10-1 quick setting): they read back, serialize back byte for
    /// byte, and keep the run names (and so the hashes) that release gave them.
    #[test]
    fn configs_written_before_the_policy_type_keep_their_text_names_and_hashes() {
        const FREEZEOUT: &str = r#"model = "wrn-10-1"
dataset = "cifar10"
epochs = 5
batch_size = 50
lr = 0.1
t0 = 0.8
scaling = "cubic"
scale_lr = true
baseline = false
seed = 0
val = 0
train_limit = 15000
test_limit = 2000
dropout = 0.0
optimizer = "sgd"
momentum = 0.9
weight_decay = 0.0001
device = "cpu"
float = "f32"
checkpoint_every = 1000
keep_checkpoints = 2
"#;
        const BASELINE: &str = r#"model = "wrn-10-1"
dataset = "cifar10"
epochs = 5
batch_size = 50
lr = 0.1
t0 = 0.8
scaling = "cubic"
scale_lr = true
baseline = true
seed = 0
val = 0
train_limit = 15000
test_limit = 2000
dropout = 0.0
optimizer = "sgd"
momentum = 0.9
weight_decay = 0.0001
device = "cpu"
float = "f32"
checkpoint_every = 1000
keep_checkpoints = 2
"#;
        const ADAPTIVE: &str = r#"model = "wrn-10-1"
dataset = "cifar10"
epochs = 5
batch_size = 50
lr = 0.1
t0 = 0.8
scaling = "cubic"
scale_lr = true
baseline = false
seed = 0
val = 0
train_limit = 15000
test_limit = 2000
dropout = 0.0
optimizer = "sgd"
momentum = 0.9
weight_decay = 0.0001
device = "cpu"
float = "f32"
checkpoint_every = 1000
keep_checkpoints = 2

[adaptive]
threshold = 0.02
window = 0.05
sample_every = 5
min_fraction = 0.4
ramp = 0.05
"#;
        for (text, policy, name) in [
            (FREEZEOUT, PolicyConfig::FreezeOut, "wrn-10-1-cifar10-cubic-t0.8-e5-s0-c718a542"),
            (BASELINE, PolicyConfig::Baseline, "wrn-10-1-cifar10-baseline-e5-s0-cf969f55"),
            (
                ADAPTIVE,
                PolicyConfig::Adaptive(AdaptiveConfig { threshold: 0.02, ..AdaptiveConfig::default() }),
                "wrn-10-1-cifar10-adaptive-th0.02-e5-s0-3d40cd4a",
            ),
        ] {
            let config: RunConfig = toml::from_str(text).unwrap();
            assert_eq!(config.policy, policy);
            assert_eq!(toml::to_string_pretty(&config).unwrap(), text, "written back byte for byte");
            assert_eq!(config.run_name(), name);
        }
    }

    /// `--classes` reads numbers and upward ranges, and writes them back the same way; a
    /// selection is relabelled in its order.
    #[test]
    fn classes_parse_print_and_select() {
        assert_eq!(parse_classes("5-9"), Ok(vec![5, 6, 7, 8, 9]));
        assert_eq!(parse_classes("0,2,4"), Ok(vec![0, 2, 4]));
        assert_eq!(parse_classes("0-2,7,8"), Ok(vec![0, 1, 2, 7, 8]));
        for text in ["5-9", "0,2,4", "0-2,7,8", "3,4"] {
            assert_eq!(classes_text(&parse_classes(text).unwrap()), text);
        }
        assert!(parse_classes("9-5").unwrap_err().contains("a range runs upwards"));
        assert!(parse_classes("five").unwrap_err().contains("`five` is not a class number"));
        let split = burn_freezeout::data::Split {
            images: (0..6u8).flat_map(|i| vec![i; burn_freezeout::data::cifar::IMAGE_BYTES]).collect(),
            labels: vec![0, 5, 7, 5, 9, 1],
        };
        let selected = split.select_classes(&[9, 5]);
        assert_eq!(selected.labels, [1, 1, 0], "class 9 is 0, class 5 is 1, in the split's order");
        assert_eq!((0..3).map(|i| selected.image(i)[0]).collect::<Vec<_>>(), [1, 3, 4], "their images");
    }
}
