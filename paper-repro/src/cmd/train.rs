//! `paper-repro train`: one run from flags and/or a TOML config.

use bench_harness::run::{Dataset, RunConfig};
use burn_freezeout::cache::{CacheFloat, CacheMode, parse_bytes};
use burn_freezeout::data;
use burn_freezeout::device::{DeviceKind, FloatKind};
use burn_freezeout::models::Preset;
use burn_freezeout::train::OptimizerKind;
use burn_freezeout::{AdaptiveConfig, BackboneConfig, GradualConfig, PolicyConfig, Scaling, Signal};
use std::path::PathBuf;
use std::sync::LazyLock;

/// The `--policy` choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PolicyKind {
    /// FreezeOut's schedule (t0, scaling, LR scaling).
    Freezeout,
    /// Freezing decided during the run from each unit's gradient norm (adaptive, its earlier
    /// name, is accepted too).
    #[value(alias = "adaptive")]
    GradientNorm,
    /// Freezing decided during the run from each unit's representation drift on a probe batch.
    Drift,
    /// No freezing.
    Baseline,
    /// Fine-tuning: every unit frozen until --unfreeze-epoch, then all train (PyTorch Lightning's
    /// BackboneFinetuning).
    Backbone,
    /// Fine-tuning: ULMFiT's gradual unfreezing, one more unit from the top each --every epochs,
    /// with discriminative rates (--divisor).
    Gradual,
}

/// The settings a run uses when neither a config file nor a flag sets them: [`RunConfig`]'s
/// defaults, shown in `--help`.
static DEFAULT: LazyLock<RunConfig> = LazyLock::new(RunConfig::default);

/// The defaults of the adaptive policy's settings (gradient norm).
static ADAPTIVE: LazyLock<AdaptiveConfig> = LazyLock::new(AdaptiveConfig::default);

/// The defaults of the drift policy's settings.
static DRIFT: LazyLock<AdaptiveConfig> = LazyLock::new(AdaptiveConfig::drift);

/// The defaults of the backbone policy's settings.
static BACKBONE: LazyLock<BackboneConfig> = LazyLock::new(BackboneConfig::default);

/// The defaults of the gradual policy's settings.
static GRADUAL: LazyLock<GradualConfig> = LazyLock::new(GradualConfig::default);

/// An adaptive setting's help with both policies' defaults.
fn with_defaults(text: &str, adaptive: impl std::fmt::Display, drift: impl std::fmt::Display) -> String {
    format!("{text} [default: {adaptive} (gradient-norm), {drift} (drift)]")
}

/// `text` with the value a run uses when no flag or config file sets it.
fn with_default(text: &str, value: impl std::fmt::Display) -> String {
    format!("{text} [default: {value}]")
}

/// Options of `paper-repro train` (flags override the config file, which overrides the defaults
/// shown).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A TOML run config (fields as in the config.toml a run writes).
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[arg(long, help = with_default("Model preset: densenet-bc-L-k, wrn-D-W, vgg16, vit-D-W (a Vision Transformer: D blocks of width W, a multiple of 32) or gpt-D-W (a language model on bytes of text, --dataset text)", DEFAULT.model))]
    pub model: Option<Preset>,
    #[arg(long, help = with_default(
        "cifar10, cifar100 or text (a UTF-8 file, plain or gzip, given with --data, for --model gpt-D-W)",
        DEFAULT.dataset.name()
    ))]
    pub dataset: Option<Dataset>,
    #[arg(long, help = with_default("Epochs", DEFAULT.epochs))]
    pub epochs: Option<usize>,
    #[arg(long, help = with_default("Batch size", DEFAULT.batch_size))]
    pub batch_size: Option<usize>,
    #[arg(long, help = with_default("Base learning rate α", DEFAULT.lr))]
    pub lr: Option<f64>,
    #[arg(long, help = with_default("FreezeOut t0 (pre-scaled: cubic 0.8 freezes the first unit at 0.512)", DEFAULT.t0))]
    pub t0: Option<f64>,
    #[arg(long, help = with_default("FreezeOut's scaling of t_i: linear, squared or cubic", DEFAULT.scaling))]
    pub scaling: Option<Scaling>,
    /// Same initial LR for every unit (default: α / t_i, FreezeOut's LR scaling).
    #[arg(long)]
    pub no_scale_lr: bool,
    /// No freezing: one global cosine schedule (the same as --policy baseline).
    #[arg(long)]
    pub baseline: bool,
    /// Train on the images as they are (default: the paper's random crop and flip); the inputs
    /// then repeat every epoch and --cache exact can run.
    #[arg(long)]
    pub no_augment: bool,
    /// Start from trained weights instead of random ones: a run directory (its newest
    /// checkpoint: a finished run's final model), a checkpoint directory (step-N), a Burn record
    /// (.bpk) or PyTorch's weights (.pt, .pth, .safetensors), of the same model.
    #[arg(long, value_name = "PATH")]
    pub init: Option<PathBuf>,
    /// With --init: a new head for a new task, of CLASSES outputs (the data's classes); the units
    /// are read from --init, the head (everything outside the units) starts fresh.
    #[arg(long, value_name = "CLASSES")]
    pub new_head: Option<usize>,
    /// Train and evaluate on these classes only, relabelled 0.. in this order: numbers and
    /// ranges, e.g. 0-4 (CIFAR-10's first half, to pretrain on) or 5-9 (its second, to fine-tune on).
    #[arg(long, value_name = "LIST")]
    pub classes: Option<String>,
    #[arg(long, value_enum, help = with_default(
        "What decides freezing: freezeout (the schedule of --t0/--scaling), gradient-norm (a unit freezes when \
         its gradient norm settles; see --threshold; adaptive is accepted too), drift (a unit freezes when its output on a held-out probe batch \
         would move little more; see --threshold), baseline (no freezing), or, to fine-tune a trained model (--init), \
         backbone (every unit frozen until --unfreeze-epoch: a linear probe, then all train) or gradual (ULMFiT: one more \
         unit from the top each epoch)",
        DEFAULT.policy.name(),
    ))]
    pub policy: Option<PolicyKind>,
    #[arg(long, help = with_defaults(
        "Adaptive policies (gradient-norm, drift): a unit may leave when its signal is below this (gradient-norm: \
         the relative change of its window-mean gradient norm; drift: its remaining drift, the relative change its output would still \
         make, summed over measurements)",
        ADAPTIVE.threshold,
        DRIFT.threshold,
    ))]
    pub threshold: Option<f64>,
    #[arg(long, help = with_defaults("Adaptive policies: window length, as a fraction of the run", ADAPTIVE.window, DRIFT.window))]
    pub window: Option<f64>,
    #[arg(long, help = with_defaults(
        "Adaptive policies: iterations between measurements (gradient norms; probe sketches)",
        ADAPTIVE.sample_every,
        DRIFT.sample_every,
    ))]
    pub sample_every: Option<u64>,
    #[arg(long, help = with_defaults(
        "Adaptive policies: no unit starts to leave before this fraction of the run",
        ADAPTIVE.min_fraction,
        DRIFT.min_fraction,
    ))]
    pub min_fraction: Option<f64>,
    #[arg(long, help = with_defaults(
        "Adaptive policies: length of a leaving unit's rate ramp to 0, as a fraction of the run",
        ADAPTIVE.ramp,
        DRIFT.ramp,
    ))]
    pub ramp: Option<f64>,
    #[arg(long, help = with_defaults(
        "Adaptive policies: consecutive windows a unit's signal must stay below --threshold",
        ADAPTIVE.patience,
        DRIFT.patience,
    ))]
    pub patience: Option<u64>,
    #[arg(long, value_name = "EPOCH", help = with_default(
        "Backbone policy: the epoch (0-based) from which the units train, the head alone before it (at or past --epochs: \
         a linear probe)",
        BACKBONE.epoch,
    ))]
    pub unfreeze_epoch: Option<usize>,
    #[arg(long, help = with_default(
        "Backbone policy: the units' rate in their first epoch, as a fraction of the head's",
        BACKBONE.initial_ratio,
    ))]
    pub initial_ratio: Option<f64>,
    #[arg(long, help = with_default("Backbone policy: that fraction's factor per epoch after it", BACKBONE.growth))]
    pub growth: Option<f64>,
    /// Backbone policy: let the units' rate pass the head's (default: capped at it, Lightning's
    /// should_align).
    #[arg(long)]
    pub no_align: bool,
    #[arg(long, help = with_default("Gradual policy: epochs between two unfreezes", GRADUAL.every))]
    pub every: Option<usize>,
    #[arg(long, help = with_default(
        "Gradual policy: each unit's rate is the next one's divided by this (1: one rate)",
        GRADUAL.divisor,
    ))]
    pub divisor: Option<f64>,
    /// Layer-wise rate decay γ on any policy's rates (LLRD): unit i at γ^(N − i) times its rate,
    /// the head at its own (e.g. 0.75).
    #[arg(long, value_name = "GAMMA")]
    pub layer_decay: Option<f64>,
    #[arg(long, help = with_default(
        "Optimizer: sgd (Nesterov momentum, the paper's), adam or adamw, each with FreezeOut's per-unit rates \
         (Adam and AdamW want a smaller --lr, e.g. 1e-3)",
        DEFAULT.optimizer,
    ))]
    pub optimizer: Option<OptimizerKind>,
    #[arg(long, help = with_default(
        "Frozen-prefix cache: off (the paper: the frozen units run forward every batch), exact (inputs that repeat \
         exactly, i.e. no augmentation: the same results), reuse (a cached sample replays one augmentation draw) or \
         shift (the padded image's features, the random crop taken in feature space: augmentation kept)",
        DEFAULT.cache.mode,
    ))]
    pub cache: Option<CacheMode>,
    #[arg(long, help = with_default("Float type of the cache's entries: f32, bf16 or f16 (half the memory)", DEFAULT.cache.float))]
    pub cache_float: Option<CacheFloat>,
    /// Byte budget of the cache's entries (e.g. 4G, 512M); what does not fit is computed as
    /// without a cache [default: 40% of this machine's memory].
    #[arg(long, value_parser = parse_bytes)]
    pub cache_mem: Option<u64>,
    #[arg(long, help = with_default("Seed of initialisation, data order and dropout", DEFAULT.seed))]
    pub seed: Option<u64>,
    #[arg(long, help = with_default(
        "Hold out the last N training images for evaluation (the reference: 5000; 0: evaluate on the test set)",
        DEFAULT.val,
    ))]
    pub val: Option<usize>,
    /// Train on the first N training images only [default: all].
    #[arg(long)]
    pub train_limit: Option<usize>,
    /// Evaluate on the first N images only [default: all].
    #[arg(long)]
    pub test_limit: Option<usize>,
    #[arg(long, help = with_default(
        "cpu or cuda (tch / tch-cuda: Burn's LibTorch backend, in a build with --features tch; wgpu: Burn's wgpu \
         backend, --features wgpu)",
        DEFAULT.device,
    ))]
    pub device: Option<DeviceKind>,
    #[arg(long, help = with_default(
        "Float type of every tensor: f32, flex32, bf16 or f16 (whole model, no f32 master weights)",
        DEFAULT.float,
    ))]
    pub float: Option<FloatKind>,
    /// Data directory or archive [default: $FREEZEOUT_DATA, else ./data].
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[arg(long, help = with_default("Checkpoint every N iterations (epoch ends always checkpoint)", DEFAULT.checkpoint_every))]
    pub checkpoint_every: Option<u64>,
    /// Run directory [default: runs/MODEL-DATASET-STRATEGY-eEPOCHS-sSEED-HASH].
    /// A directory that already holds a run is refused: --resume it, or --overwrite it.
    #[arg(long, conflicts_with = "resume")]
    pub out: Option<PathBuf>,
    /// The run directory already holds a run: delete its files (config, data record, log,
    /// checkpoints, summary) and start again.
    #[arg(long, conflicts_with = "resume")]
    pub overwrite: bool,
    /// Continue the run in this directory from its newest complete checkpoint (from iteration 0
    /// if it has none yet), with the data it recorded unless --data is given. A finished run is
    /// left as it is.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// With --resume: accept a config different from the run's.
    #[arg(long, requires = "resume")]
    pub force: bool,
}

impl Args {
    /// The config file (or the defaults) with the flags applied.
    pub fn resolve(&self) -> anyhow::Result<RunConfig> {
        let mut c = match (&self.config, &self.resume) {
            (Some(path), _) => RunConfig::from_file(path)?,
            (None, Some(dir)) if dir.join("config.toml").is_file() => RunConfig::from_file(&dir.join("config.toml"))?,
            _ => DEFAULT.clone(),
        };
        macro_rules! set {
            ($($field:ident),*) => { $( if let Some(v) = self.$field.clone() { c.$field = v; } )* };
        }
        set!(
            model,
            dataset,
            epochs,
            batch_size,
            lr,
            t0,
            scaling,
            optimizer,
            seed,
            val,
            device,
            float,
            checkpoint_every
        );
        if self.train_limit.is_some() {
            c.train_limit = self.train_limit;
        }
        if self.test_limit.is_some() {
            c.test_limit = self.test_limit;
        }
        c.scale_lr &= !self.no_scale_lr;
        c.augment &= !self.no_augment;
        if let Some(path) = &self.init {
            // Absolute, so that the run's config.toml names the same file from anywhere.
            c.init = Some(std::path::absolute(path).unwrap_or_else(|_| path.clone()));
        }
        c.new_head = self.new_head.or(c.new_head);
        if let Some(text) = &self.classes {
            c.classes =
                Some(bench_harness::run::parse_classes(text).map_err(|e| anyhow::anyhow!("--classes {text}: {e}"))?);
        }
        c.cache.mode = self.cache.unwrap_or(c.cache.mode);
        c.cache.float = self.cache_float.unwrap_or(c.cache.float);
        c.cache.mem = self.cache_mem.or(c.cache.mem);
        if c.cache.is_off() && (self.cache_float.is_some() || self.cache_mem.is_some()) {
            let flag = if self.cache_mem.is_some() { "--cache-mem" } else { "--cache-float" };
            anyhow::bail!("{flag} is a setting of the prefix cache: add --cache exact, reuse or shift");
        }
        // --baseline is --policy baseline.
        if let Some(kind) = self.policy.filter(|&k| self.baseline && k != PolicyKind::Baseline) {
            let name = clap::ValueEnum::to_possible_value(&kind).map_or(String::new(), |v| v.get_name().to_string());
            anyhow::bail!("--baseline and --policy {name}: pick one policy");
        }
        match self.policy.or(self.baseline.then_some(PolicyKind::Baseline)) {
            Some(PolicyKind::Freezeout) => c.policy = PolicyConfig::FreezeOut,
            Some(PolicyKind::Baseline) => c.policy = PolicyConfig::Baseline,
            Some(kind @ (PolicyKind::GradientNorm | PolicyKind::Drift)) => {
                let signal = if kind == PolicyKind::Drift { Signal::Drift } else { Signal::GradientNorm };
                let kept = c.policy.adaptive().copied().filter(|a| a.signal == signal);
                c.policy = PolicyConfig::Adaptive(kept.unwrap_or_else(|| AdaptiveConfig::of(signal)))
            }
            Some(PolicyKind::Backbone) => {
                c.policy = PolicyConfig::Backbone(match c.policy {
                    PolicyConfig::Backbone(b) => b,
                    _ => BackboneConfig::default(),
                })
            }
            Some(PolicyKind::Gradual) => {
                c.policy = PolicyConfig::Gradual(match c.policy {
                    PolicyConfig::Gradual(g) => g,
                    _ => GradualConfig::default(),
                })
            }
            None => {}
        }
        c.layer_decay = self.layer_decay.or(c.layer_decay);
        let backbone_flags = [
            ("--unfreeze-epoch", self.unfreeze_epoch.is_some()),
            ("--initial-ratio", self.initial_ratio.is_some()),
            ("--growth", self.growth.is_some()),
            ("--no-align", self.no_align),
        ];
        let gradual_flags = [("--every", self.every.is_some()), ("--divisor", self.divisor.is_some())];
        match &mut c.policy {
            PolicyConfig::Backbone(b) => {
                b.epoch = self.unfreeze_epoch.unwrap_or(b.epoch);
                b.initial_ratio = self.initial_ratio.unwrap_or(b.initial_ratio);
                b.growth = self.growth.unwrap_or(b.growth);
                b.align = b.align && !self.no_align;
            }
            _ => refuse_stray(&backbone_flags, "the backbone policy", "--policy backbone")?,
        }
        match &mut c.policy {
            PolicyConfig::Gradual(g) => {
                g.every = self.every.unwrap_or(g.every);
                g.divisor = self.divisor.unwrap_or(g.divisor);
            }
            _ => refuse_stray(&gradual_flags, "the gradual policy", "--policy gradual")?,
        }
        let flags = [
            ("--threshold", self.threshold.is_some()),
            ("--window", self.window.is_some()),
            ("--sample-every", self.sample_every.is_some()),
            ("--min-fraction", self.min_fraction.is_some()),
            ("--ramp", self.ramp.is_some()),
            ("--patience", self.patience.is_some()),
        ];
        match &mut c.policy {
            PolicyConfig::Adaptive(a) => {
                a.threshold = self.threshold.unwrap_or(a.threshold);
                a.window = self.window.unwrap_or(a.window);
                a.sample_every = self.sample_every.unwrap_or(a.sample_every);
                a.min_fraction = self.min_fraction.unwrap_or(a.min_fraction);
                a.ramp = self.ramp.unwrap_or(a.ramp);
                a.patience = self.patience.unwrap_or(a.patience);
            }
            _ => refuse_stray(&flags, "the adaptive policies", "--policy gradient-norm or --policy drift")?,
        }
        c.validate()?;
        Ok(c)
    }
}

/// Refuses the first of `flags` that was given (`(flag, given)`): a setting of `owner`, a policy
/// the run does not follow; the error names the flag that selects it (`add`).
fn refuse_stray(flags: &[(&str, bool)], owner: &str, add: &str) -> anyhow::Result<()> {
    match flags.iter().find(|f| f.1) {
        Some((flag, _)) => anyhow::bail!("{flag} is a setting of {owner}: add {add}"),
        None => Ok(()),
    }
}

/// Runs the subcommand.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let config = args.resolve()?;
    if let Some(w) = config.rate_warning() {
        eprintln!("{w}");
    }
    let (out, summary) = match &args.resume {
        Some(dir) => {
            let data_dir = bench_harness::run::resume_data(dir, args.data.clone())?;
            (dir.clone(), bench_harness::run::resume(dir, Some(&config), args.force, &data_dir)?)
        }
        None => {
            let data_dir = data::data_dir(args.data.clone());
            let out = args.out.clone().unwrap_or_else(|| PathBuf::from("runs").join(config.run_name()));
            eprintln!("training {} into {}", config.run_name(), out.display());
            (out.clone(), bench_harness::run::run(&config, &data_dir, &out, args.overwrite)?)
        }
    };
    println!(
        "{}: test error {} after {} epochs, {:.1} s wall-clock ({:.1} s in steps); results in {}",
        config.run_name(),
        summary.test_error.map_or("n/a".into(), |e| format!("{:.2}%", 100.0 * e)),
        summary.epochs.len(),
        summary.wall_seconds,
        summary.step_seconds,
        out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Args;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn resolve(flags: &[&str]) -> bench_harness::run::RunConfig {
        let flags = std::iter::once("train").chain(flags.iter().copied());
        Cli::try_parse_from(flags).unwrap().args.resolve().unwrap()
    }

    /// `--policy gradient-norm` is the gradient-norm policy's name; `adaptive`, its earlier name,
    /// gives the same config, the same config text and the same run name (so the same hash and
    /// directory) as before the rename.
    #[test]
    fn the_gradient_norm_policy_answers_to_its_old_name_with_the_same_run() {
        let new = resolve(&["--policy", "gradient-norm", "--threshold", "0.02"]);
        let old = resolve(&["--policy", "adaptive", "--threshold", "0.02"]);
        assert_eq!(new, old);
        assert_eq!(toml::to_string_pretty(&new).unwrap(), toml::to_string_pretty(&old).unwrap());
        assert_eq!(new.policy.name(), "gradient-norm");
        let name = new.run_name();
        assert!(name.contains("-cifar10-adaptive-th0.02-"), "{name}");
    }

    /// The fine-tuning flags set their policy's settings and the layer decay, which the config
    /// text stores (as a `[backbone]` / `[gradual]` table and `layer_decay`) and the run name
    /// shows; the text reads back as the same config.
    #[test]
    fn the_fine_tuning_flags_set_their_policy_and_survive_the_config_text() {
        use burn_freezeout::{BackboneConfig, GradualConfig, PolicyConfig};
        let gradual = resolve(&["--policy", "gradual", "--every", "2", "--divisor", "2", "--layer-decay", "0.75"]);
        assert_eq!(gradual.policy, PolicyConfig::Gradual(GradualConfig { every: 2, divisor: 2.0 }));
        assert_eq!(gradual.layer_decay, Some(0.75));
        let backbone = resolve(&[
            "--policy",
            "backbone",
            "--unfreeze-epoch",
            "3",
            "--initial-ratio",
            "0.2",
            "--growth",
            "2",
            "--no-align",
        ]);
        let expected = BackboneConfig { epoch: 3, initial_ratio: 0.2, growth: 2.0, align: false };
        assert_eq!(backbone.policy, PolicyConfig::Backbone(expected));
        for (config, table, name) in
            [(&gradual, "[gradual]", "-gradual-lld0.75-"), (&backbone, "[backbone]", "-backbone-u3-")]
        {
            let text = toml::to_string_pretty(config).unwrap();
            assert!(text.contains(table), "{text}");
            assert_eq!(&toml::from_str::<bench_harness::run::RunConfig>(&text).unwrap(), config);
            assert!(config.run_name().contains(name), "{}", config.run_name());
        }
        // The defaults, and a table that clashes with another policy's.
        assert_eq!(resolve(&["--policy", "gradual"]).policy, PolicyConfig::Gradual(GradualConfig::default()));
        let e =
            toml::from_str::<bench_harness::run::RunConfig>("baseline = true\n[backbone]\nepoch = 2\n").unwrap_err();
        assert!(e.to_string().contains("baseline = true and [backbone] are both set: pick one policy"), "{e}");
    }
}
