//! One training run end to end: data, model, the loop, the run directory.

use crate::config::RunConfig;
use anyhow::{Context, bail};
use freezeout_core::data::{self, Loader, Split};
use freezeout_core::models::WithModel;
use freezeout_core::train::{self, Checkpointing, FitOptions, Progress, RunLog, RunSummary, checkpoint};
use freezeout_core::{FreezeOut, FreezeOutForward};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::Path;

/// Trains `config` on the data under `data_dir`, writing `config.toml`, `log.jsonl`,
/// checkpoints and `summary.json` into `out`.
pub fn run(config: &RunConfig, data_dir: &Path, out: &Path) -> anyhow::Result<RunSummary> {
    config.validate()?;
    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create the run directory", out.display()))?;
    let resolved = toml::to_string_pretty(config)?;
    train::write_atomic(&out.join("config.toml"), resolved.as_bytes())
        .with_context(|| format!("{}: cannot write config.toml (is the directory writable?)", out.display()))?;
    execute(config, &resolved, data_dir, out, None)
}

/// Continues the run in `dir` from its newest complete checkpoint. `requested` (the config the
/// user asked for) must equal the run's `config.toml` unless `force`.
pub fn resume(dir: &Path, requested: Option<&RunConfig>, force: bool, data_dir: &Path) -> anyhow::Result<RunSummary> {
    let saved_path = dir.join("config.toml");
    if !saved_path.is_file() {
        bail!("{}: missing: {} is not a run directory (it has no config.toml)", saved_path.display(), dir.display());
    }
    let saved = RunConfig::from_file(&saved_path)?;
    let config = match requested {
        Some(r) if *r != saved && !force => bail!(
            "the requested config differs from {}: pass --force to resume with the new one",
            saved_path.display()
        ),
        Some(r) => r.clone(),
        None => saved.clone(),
    };
    config.validate()?;
    let resolved = toml::to_string_pretty(&config)?;
    let (path, manifest) = checkpoint::latest(&dir.join("checkpoints"))?;
    if manifest.config_hash != checkpoint::hash_text(&toml::to_string_pretty(&saved)?) && !force {
        bail!("{}: written for another config than {} (hash differs): pass --force to resume anyway", path.display(), saved_path.display());
    }
    if config != saved {
        train::write_atomic(&saved_path, resolved.as_bytes())?;
    }
    // The log continues from the checkpoint: lines of the interrupted attempt after it go.
    let log_path = dir.join("log.jsonl");
    let file = std::fs::OpenOptions::new().write(true).open(&log_path).with_context(|| format!("{}: cannot open", log_path.display()))?;
    if file.metadata()?.len() < manifest.log_bytes {
        bail!("{}: shorter than the checkpoint says ({} bytes): the log was edited or lost", log_path.display(), manifest.log_bytes);
    }
    file.set_len(manifest.log_bytes)?;
    file.sync_all()?;
    eprintln!("resuming {} from {} (iteration {}, {} units frozen)", dir.display(), path.display(), manifest.next_iteration, manifest.frozen_units);
    execute(&config, &resolved, data_dir, dir, Some((path, manifest)))
}

fn execute(
    config: &RunConfig,
    resolved: &str,
    data_dir: &Path,
    out: &Path,
    resume: Option<(std::path::PathBuf, checkpoint::Manifest)>,
) -> anyhow::Result<RunSummary> {
    let device = config.device.autodiff_with(config.float)?;
    config.device.announce_first_steps();
    let cifar = data::load(data_dir, config.dataset)?;
    let (train, eval) = splits(config, cifar.train, cifar.test)?;
    let loader = Loader::new(train, eval, config.dataset.classes(), config.batch_size, config.seed);
    let mut log = RunLog::create(out)?;
    let options = FitOptions {
        checkpoint: Some(Checkpointing {
            dir: out.join("checkpoints"),
            every: config.checkpoint_every,
            keep: config.keep_checkpoints,
            config_hash: checkpoint::hash_text(resolved),
        }),
        resume,
    };
    device.seed(config.seed);
    config.model.build(
        config.dataset.classes(),
        config.dropout,
        &device,
        Train { config, loader, device: &device, log: &mut log, options },
    )
}

/// Applies `--val`, `--train-limit`, `--test-limit`.
fn splits(config: &RunConfig, mut train: Split, test: Split) -> anyhow::Result<(Split, Split)> {
    let mut eval = if config.val > 0 {
        if config.val >= train.len() {
            bail!("val = {} leaves no training images (the train split has {})", config.val, train.len());
        }
        train.split_off_last(config.val)
    } else {
        test
    };
    if let Some(n) = config.train_limit {
        train.truncate(n);
    }
    if let Some(n) = config.test_limit {
        eval.truncate(n);
    }
    if config.batch_size > train.len() {
        bail!("batch_size = {} is larger than the {} training images", config.batch_size, train.len());
    }
    Ok((train, eval))
}

struct Train<'a> {
    config: &'a RunConfig,
    loader: Loader,
    device: &'a burn::tensor::Device,
    log: &'a mut RunLog,
    options: FitOptions,
}

impl WithModel for Train<'_> {
    type Output = anyhow::Result<RunSummary>;
    fn run<M: FreezeOut + FreezeOutForward<4, 2> + 'static>(mut self, model: M) -> Self::Output {
        let name = self.config.run_name();
        let tc = self.config.train_config();
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ({eta})")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            bar.set_prefix(name.clone());
            bar
        });
        let mut last_print = std::time::Instant::now();
        let out = train::fit_with(model, &mut self.loader, &tc, self.device, self.log, self.options, |p, _| match p {
            Progress::Step { iter, total, epoch, loss, step_ms, frozen } => match &bar {
                Some(bar) => {
                    bar.set_length(total);
                    bar.set_position(iter + 1);
                    bar.set_message(format!("epoch {epoch} loss {loss:.3} {step_ms:.0} ms/step, {frozen} frozen"));
                }
                None if last_print.elapsed().as_secs() >= 10 || iter == 0 => {
                    last_print = std::time::Instant::now();
                    eprintln!("{name}: iter {}/{total} epoch {epoch} loss {loss:.4} {step_ms:.1} ms/step frozen {frozen}", iter + 1);
                }
                None => {}
            },
            Progress::Epoch(e) => {
                let line = format!(
                    "{name}: epoch {} train loss {:.4} train err {:.2}% test err {} ({:.1} s, {} frozen)",
                    e.epoch,
                    e.train_loss,
                    100.0 * e.train_error,
                    e.test_error.map_or("n/a".into(), |t| format!("{:.2}%", 100.0 * t)),
                    e.wall_seconds,
                    e.frozen_units
                );
                match &bar {
                    Some(bar) => bar.println(line),
                    None => eprintln!("{line}"),
                }
            }
        });
        if let Some(bar) = &bar {
            bar.finish_and_clear();
        }
        Ok(out?.summary)
    }
}

/// Training throughput assumed for time estimates, in multiply-accumulates per second of a
/// full training step (forward + backward ≈ 3× forward). Calibrated on the 2-core CPU machine
/// with the release build (see bench-harness/PERF.md); the GPU figure is a rough placeholder.
fn macs_per_second(device: freezeout_core::device::DeviceKind) -> f64 {
    use freezeout_core::device::DeviceKind;
    match device {
        DeviceKind::Cpu | DeviceKind::Ndarray | DeviceKind::Tch => 20e9,
        DeviceKind::Cuda | DeviceKind::TchCuda | DeviceKind::Wgpu => 2e12,
    }
}

/// Rough wall-clock estimate of a run (training steps and evaluations), from the model's
/// forward cost, for telling the user up front how long a grid will take.
pub fn estimate_seconds(config: &RunConfig) -> f64 {
    let spec = config.model.spec(config.dataset.classes());
    let fwd = spec.macs();
    let train = config.train_limit.unwrap_or(50_000 - config.val) as f64;
    let eval = config.test_limit.unwrap_or(if config.val > 0 { config.val } else { 10_000 }) as f64;
    let macs = config.epochs as f64 * (3.0 * train + eval) * fwd as f64;
    macs / macs_per_second(config.device)
}
