//! `paper-repro train`: one run from flags and/or a TOML config.

use bench_harness::config::RunConfig;
use freezeout_core::Scaling;
use freezeout_core::data::{self, CifarKind};
use freezeout_core::device::{DeviceKind, FloatKind};
use freezeout_core::models::Preset;
use freezeout_core::train::OptimizerKind;
use std::path::PathBuf;

/// The `--policy` choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PolicyKind {
    /// FreezeOut's schedule (t0, scaling, LR scaling).
    Freezeout,
    /// Freezing decided during the run from each unit's gradient norm.
    Adaptive,
    /// No freezing.
    Baseline,
}

/// Options of `paper-repro train` (flags override the config file).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A TOML run config (fields as in the `config.toml` a run writes).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Model preset: densenet-bc-L-k, wrn-D-W or vgg16.
    #[arg(long)]
    pub model: Option<Preset>,
    /// cifar10 or cifar100.
    #[arg(long)]
    pub dataset: Option<CifarKind>,
    /// Epochs.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Batch size.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Base learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// FreezeOut t0 (pre-scaled).
    #[arg(long)]
    pub t0: Option<f64>,
    /// linear, squared or cubic.
    #[arg(long)]
    pub scaling: Option<Scaling>,
    /// Same initial LR for every unit.
    #[arg(long)]
    pub no_scale_lr: bool,
    /// No freezing: one global cosine schedule (the same as --policy baseline).
    #[arg(long)]
    pub baseline: bool,
    /// What decides freezing: freezeout (the schedule of --t0/--scaling), adaptive (a unit
    /// freezes when its gradient norm settles; see --threshold) or baseline (no freezing).
    #[arg(long, value_enum)]
    pub policy: Option<PolicyKind>,
    /// Adaptive policy: a unit may leave when the relative change of its window-mean gradient
    /// norm is below this.
    #[arg(long)]
    pub threshold: Option<f64>,
    /// Adaptive policy: window length, as a fraction of the run.
    #[arg(long)]
    pub window: Option<f64>,
    /// Adaptive policy: iterations between gradient-norm samples.
    #[arg(long)]
    pub sample_every: Option<u64>,
    /// Adaptive policy: no unit starts to leave before this fraction of the run.
    #[arg(long)]
    pub min_fraction: Option<f64>,
    /// Adaptive policy: length of a leaving unit's rate ramp to 0, as a fraction of the run.
    #[arg(long)]
    pub ramp: Option<f64>,
    /// Optimizer: sgd (Nesterov momentum, the paper's), adam or adamw, each with FreezeOut's
    /// per-unit rates (Adam and AdamW want a smaller --lr, e.g. 1e-3).
    #[arg(long)]
    pub optimizer: Option<OptimizerKind>,
    /// Seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Hold out the last N training images for evaluation (the reference: 5000).
    #[arg(long)]
    pub val: Option<usize>,
    /// Train on the first N training images only.
    #[arg(long)]
    pub train_limit: Option<usize>,
    /// Evaluate on the first N images only.
    #[arg(long)]
    pub test_limit: Option<usize>,
    /// cpu or cuda (tch / tch-cuda: Burn's LibTorch backend, in a build with `--features tch`;
    /// wgpu: Burn's wgpu backend, `--features wgpu`).
    #[arg(long)]
    pub device: Option<DeviceKind>,
    /// Float type of every tensor: f32 (default), flex32, bf16 or f16 (whole model, no f32
    /// master weights).
    #[arg(long)]
    pub float: Option<FloatKind>,
    /// Data directory or archive (default $FREEZEOUT_DATA, else ./data).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Checkpoint every N iterations (epoch ends always checkpoint).
    #[arg(long)]
    pub checkpoint_every: Option<u64>,
    /// Run directory (default runs/<model>-<dataset>-<strategy>-e<epochs>-s<seed>-<config hash>).
    /// A directory that already holds a run is refused: --resume it, or --overwrite it.
    #[arg(long, conflicts_with = "resume")]
    pub out: Option<PathBuf>,
    /// The run directory already holds a run: delete its files (config, data record, log,
    /// checkpoints, summary) and start again.
    #[arg(long, conflicts_with = "resume")]
    pub overwrite: bool,
    /// Continue the run in this directory from its newest complete checkpoint (from iteration 0
    /// if it has none yet), with the data it recorded unless --data is given.
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
            _ => RunConfig::default(),
        };
        macro_rules! set {
            ($($field:ident),*) => { $( if let Some(v) = self.$field.clone() { c.$field = v; } )* };
        }
        set!(model, dataset, epochs, batch_size, lr, t0, scaling, optimizer, seed, val, device, float, checkpoint_every);
        if self.train_limit.is_some() {
            c.train_limit = self.train_limit;
        }
        if self.test_limit.is_some() {
            c.test_limit = self.test_limit;
        }
        c.scale_lr &= !self.no_scale_lr;
        c.baseline |= self.baseline;
        match (self.policy, self.baseline) {
            (Some(PolicyKind::Adaptive), true) => anyhow::bail!("--baseline and --policy adaptive: pick one policy"),
            (Some(PolicyKind::Baseline), _) => (c.baseline, c.adaptive) = (true, None),
            (Some(PolicyKind::Freezeout), _) => (c.baseline, c.adaptive) = (false, None),
            (Some(PolicyKind::Adaptive), _) => {
                c.baseline = false;
                c.adaptive = Some(c.adaptive.unwrap_or_default());
            }
            (None, true) => c.adaptive = None,
            (None, false) => {}
        }
        let flags = [
            ("--threshold", self.threshold.is_some()),
            ("--window", self.window.is_some()),
            ("--sample-every", self.sample_every.is_some()),
            ("--min-fraction", self.min_fraction.is_some()),
            ("--ramp", self.ramp.is_some()),
        ];
        match &mut c.adaptive {
            Some(a) => {
                a.threshold = self.threshold.unwrap_or(a.threshold);
                a.window = self.window.unwrap_or(a.window);
                a.sample_every = self.sample_every.unwrap_or(a.sample_every);
                a.min_fraction = self.min_fraction.unwrap_or(a.min_fraction);
                a.ramp = self.ramp.unwrap_or(a.ramp);
            }
            None => {
                if let Some((flag, _)) = flags.iter().find(|f| f.1) {
                    anyhow::bail!("{flag} is a setting of the adaptive policy: add --policy adaptive");
                }
            }
        }
        c.validate()?;
        Ok(c)
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
