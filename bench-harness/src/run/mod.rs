//! One training run end to end: data, model, the loop, the run directory.
//!
//! A run directory belongs to one run: `config.toml` (the resolved config), `data.json` (where
//! its data came from), `log.jsonl`, `checkpoints/` and, once it ends, `summary.json`. A fresh
//! run refuses a directory that already holds any of them unless asked to overwrite, which
//! deletes them first, so two runs' files are never mixed.

mod config;
mod estimate;

pub use config::{Dataset, RunConfig, classes_text, parse_classes};
pub use estimate::{Estimate, estimate_seconds};

use anyhow::{Context, bail};
use burn_freezeout::cache::{CacheConfig, PrefixCache, bytes_text};
use burn_freezeout::data::text::{Corpus, TextLoader, VOCAB};
use burn_freezeout::data::{self, DataSource, Loader, PROBE_IMAGES, Split};
use burn_freezeout::models::{GPT_CONTEXT, WithModel};
use burn_freezeout::task::{Classification, LanguageModel, Task};
use burn_freezeout::train::{self, Checkpointing, EpochStats, Fit, Progress, RunLog, RunSummary, checkpoint};
use burn_freezeout::{FreezeOut, FreezeOutForward, weights};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Test hook of `paper-repro train`: abort the process (no unwinding, no flushing) after this
/// iteration (0-based) and its checkpoint, as a `kill -9` would.
pub const ABORT_ENV: &str = "FREEZEOUT_ABORT_AFTER_ITERATION";

/// The files and directories that make a directory a run directory.
pub const RUN_FILES: [&str; 5] = ["config.toml", "data.json", "log.jsonl", "checkpoints", "summary.json"];

/// Where a run's data came from (`data.json` in its run directory), so `--resume` finds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataRecord {
    /// The data directory or archive, absolute.
    pub data: PathBuf,
}

/// The run files (of [`RUN_FILES`]) present in `dir`; empty when `dir` holds no run.
pub fn run_files(dir: &Path) -> Vec<&'static str> {
    RUN_FILES.into_iter().filter(|f| dir.join(f).exists()).collect()
}

/// Makes `out` ready for a fresh run: refuses a directory that holds a run (naming it and the
/// two ways on), or with `overwrite` deletes that run's files first (nothing else in `out`).
pub fn claim(out: &Path, overwrite: bool) -> anyhow::Result<()> {
    let found = run_files(out);
    if found.is_empty() {
        return Ok(());
    }
    if !overwrite {
        bail!(
            "{0} already holds a run ({1}): continue it with `--resume {0}`, or pass --overwrite to delete it and \
             start again (or choose another --out)",
            out.display(),
            found.join(", ")
        );
    }
    remove_run_files(out, &found).context("--overwrite cannot delete the earlier run")?;
    eprintln!("--overwrite: deleted the earlier run in {}", out.display());
    Ok(())
}

/// Trains `config` on the data under `data_dir`, writing `config.toml`, `data.json`,
/// `log.jsonl`, checkpoints and `summary.json` into `out`. A directory that already holds a run
/// is refused unless `overwrite` (see [`claim`]).
pub fn run(config: &RunConfig, data_dir: &Path, out: &Path, overwrite: bool) -> anyhow::Result<RunSummary> {
    config.validate()?;
    // The data and the trained weights first: a run that cannot start leaves no run directory.
    let data = Data::load(config, data_dir)?;
    check_init(config)?;
    claim(out, overwrite)?;
    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create the run directory", out.display()))?;
    let resolved = toml::to_string_pretty(config)?;
    train::write_atomic(&out.join("config.toml"), resolved.as_bytes())
        .with_context(|| format!("{}: cannot write config.toml (is the directory writable?)", out.display()))?;
    record_data(out, data_dir)?;
    execute(config, &resolved, data, out, None)
}

/// Reads `config.init` into a model built for the check (on the CPU) and drops it: weights that
/// do not fit the model are refused before anything is written.
fn check_init(config: &RunConfig) -> anyhow::Result<()> {
    let Some(path) = &config.init else { return Ok(()) };
    let device = burn::tensor::Device::flex();
    let check = InitCheck { path, head: config.head() };
    match config.model.is_text() {
        true => config.model.build_text(VOCAB, 0.0, &device, |model| check.read(model)),
        false => config.model.build(config.num_classes(), 0.0, &device, check),
    }
}

/// [`check_init`]'s reading, for any model.
struct InitCheck<'a> {
    path: &'a Path,
    head: weights::Head,
}

impl InitCheck<'_> {
    fn read<M: FreezeOut>(self, model: M) -> anyhow::Result<()> {
        weights::load(model, self.path, self.head)?;
        Ok(())
    }
}

impl WithModel for InitCheck<'_> {
    type Output = anyhow::Result<()>;
    fn run<M: FreezeOut + FreezeOutForward<4, 2> + 'static>(self, model: M) -> Self::Output {
        self.read(model)
    }
}

/// A run's data: CIFAR images, or a text.
enum Data {
    Cifar(data::Cifar),
    Text(Corpus),
}

impl Data {
    /// Reads the data `config` trains on from `path` (a CIFAR directory or archive; a text file).
    fn load(config: &RunConfig, path: &Path) -> anyhow::Result<Self> {
        Ok(match config.dataset.cifar() {
            Some(kind) => Data::Cifar(data::load(path, kind)?),
            None => Data::Text(Corpus::load(path)?),
        })
    }
}

fn record_data(out: &Path, data_dir: &Path) -> anyhow::Result<()> {
    let data = std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    let bytes = serde_json::to_vec_pretty(&DataRecord { data })?;
    train::write_atomic(&out.join("data.json"), &bytes)
        .with_context(|| format!("{}: cannot write data.json", out.display()))
}

/// The data location for resuming the run in `dir`: `explicit` (`--data`) if given, else the
/// one its `data.json` recorded (said on stderr), else the default (`$FREEZEOUT_DATA`, `./data`).
/// A recorded location that is gone is an error naming `--data`.
pub fn resume_data(dir: &Path, explicit: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(path) = explicit {
        return Ok(path);
    }
    let record_path = dir.join("data.json");
    let Ok(text) = std::fs::read_to_string(&record_path) else {
        let path = data::data_dir(None);
        eprintln!(
            "{} has no data.json (an older run): using the default data location {}",
            dir.display(),
            path.display()
        );
        return Ok(path);
    };
    let record: DataRecord = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a data record; pass --data PATH", record_path.display()))?;
    if !record.data.exists() {
        bail!(
            "{}: the run's data was at {}, which is gone: pass --data PATH to say where it is now",
            record_path.display(),
            record.data.display()
        );
    }
    eprintln!("data: {} (where the run started, from {})", record.data.display(), record_path.display());
    Ok(record.data)
}

/// Continues the run in `dir` from its newest complete checkpoint, or from iteration 0 when it
/// has none yet (a run stopped before its first checkpoint). `requested` (the config the user
/// asked for) must equal the run's `config.toml` unless `force`.
pub fn resume(dir: &Path, requested: Option<&RunConfig>, force: bool, data_dir: &Path) -> anyhow::Result<RunSummary> {
    let saved_path = dir.join("config.toml");
    if !saved_path.is_file() {
        bail!("{}: missing: {} is not a run directory (it has no config.toml)", saved_path.display(), dir.display());
    }
    let saved = RunConfig::from_file(&saved_path)?;
    if let Some(summary) = finished(dir) {
        if let Some(r) = requested.filter(|r| **r != saved) {
            bail!(
                "{} is a finished run ({}): it cannot continue with another config ({}); start a new run with --out",
                dir.display(),
                summary.status,
                saved.diff(r).join(", ")
            );
        }
        eprintln!("{} is a finished run ({}): nothing to continue, nothing changed", dir.display(), summary.status);
        return Ok(summary);
    }
    let config = match requested {
        Some(r) if *r != saved && !force => bail!(
            "the requested config differs from {} ({}): pass --force to resume with the new one",
            saved_path.display(),
            saved.diff(r).join(", ")
        ),
        Some(r) => r.clone(),
        None => saved.clone(),
    };
    config.validate()?;
    let resolved = toml::to_string_pretty(&config)?;
    let data = Data::load(&config, data_dir)?;
    let latest = match checkpoint::latest(&dir.join("checkpoints")) {
        Ok(found) => Some(found),
        Err(checkpoint::CheckpointError::None(_)) => None,
        Err(e) => return Err(e.into()),
    };
    if let Some((path, manifest)) = &latest
        && !force
    {
        check_written_for(path, manifest, &saved, &saved_path)?;
    }
    if config != saved {
        train::write_atomic(&saved_path, resolved.as_bytes())?;
    }
    record_data(dir, data_dir)?;
    let Some((path, manifest)) = latest else {
        eprintln!(
            "{}: no complete checkpoint yet (the run stopped before its first one): starting it again from \
             iteration 0 with its config.toml",
            dir.display()
        );
        remove_run_files(dir, &["log.jsonl", "summary.json", "checkpoints"])
            .context("cannot clear the run's files for the restart")?;
        return execute(&config, &resolved, data, dir, None);
    };
    truncate_log(dir, &manifest)?;
    eprintln!(
        "resuming {} from {} (iteration {}, {} units frozen)",
        dir.display(),
        path.display(),
        manifest.next_iteration,
        manifest.frozen_units
    );
    execute(&config, &resolved, data, dir, Some((path, manifest)))
}

/// Refuses checkpoint `path` if it was written for another config than `saved` (the run's
/// `config.toml`, hand-edited say), naming the fields that differ from the copy it keeps.
fn check_written_for(
    path: &Path,
    manifest: &checkpoint::Manifest,
    saved: &RunConfig,
    saved_path: &Path,
) -> anyhow::Result<()> {
    if manifest.config_hash == checkpoint::hash_text(&toml::to_string_pretty(saved)?) {
        return Ok(());
    }
    let differs = match checkpoint::config_of(path).map(|text| toml::from_str::<RunConfig>(&text)) {
        Some(Ok(theirs)) => theirs.diff(saved).join(", "),
        _ => "its config hash differs".to_string(),
    };
    bail!(
        "{}: written for another config than {} ({differs}): restore those settings, or pass --force to resume anyway",
        path.display(),
        saved_path.display()
    )
}

/// Cuts the run's log back to the checkpoint's length: the lines of the interrupted attempt
/// after it go.
fn truncate_log(dir: &Path, manifest: &checkpoint::Manifest) -> anyhow::Result<()> {
    let log_path = dir.join("log.jsonl");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&log_path)
        .with_context(|| format!("{}: cannot open", log_path.display()))?;
    if file.metadata()?.len() < manifest.log_bytes {
        bail!(
            "{}: shorter than the checkpoint says ({} bytes): the log was edited or lost",
            log_path.display(),
            manifest.log_bytes
        );
    }
    file.set_len(manifest.log_bytes)?;
    file.sync_all()?;
    Ok(())
}

/// The summary of the run in `dir` if it has ended (finished, or stopped as diverged).
pub fn finished(dir: &Path) -> Option<RunSummary> {
    let text = std::fs::read_to_string(dir.join("summary.json")).ok()?;
    serde_json::from_str::<RunSummary>(&text).ok().filter(|s| s.status == "finished" || s.status == "diverged")
}

/// Deletes the run files `names` (files or directories) in `dir`; missing ones are fine.
fn remove_run_files(dir: &Path, names: &[&str]) -> anyhow::Result<()> {
    for name in names {
        let path = dir.join(name);
        let removed = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
        match removed {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("{}: cannot delete", path.display()));
            }
            _ => {}
        }
    }
    Ok(())
}

fn execute(
    config: &RunConfig,
    resolved: &str,
    data: Data,
    out: &Path,
    resume: Option<(PathBuf, checkpoint::Manifest)>,
) -> anyhow::Result<RunSummary> {
    let device = config.device.autodiff_with(config.float)?;
    config.device.announce_first_steps();
    let mut log = RunLog::create(out)?;
    let checkpointing = Checkpointing {
        dir: out.join("checkpoints"),
        every: config.checkpoint_every,
        keep: config.keep_checkpoints,
        config: resolved.to_string(),
    };
    let train = Train { config, device: &device, log: &mut log, checkpointing, resume };
    match data {
        Data::Cifar(cifar) => {
            let (train_split, eval, probe) = splits(config, cifar.train, cifar.test)?;
            let mut loader = Loader::new(train_split, eval, config.batch_size, config.seed);
            if !config.augment {
                loader = loader.without_augmentation();
            }
            if let Some(probe) = probe {
                loader = loader.with_probe(probe);
            }
            device.seed(config.seed);
            config.model.build(config.num_classes(), config.dropout, &device, Images { train, loader })
        }
        Data::Text(corpus) => {
            let mut loader = TextLoader::new(&corpus, GPT_CONTEXT, config.batch_size, config.seed)?
                .with_limits(config.train_limit, config.test_limit);
            device.seed(config.seed);
            config.model.build_text(VOCAB, config.dropout, &device, |model| {
                train.fit(model, &LanguageModel, &mut loader, Vec::new())
            })
        }
    }
}

/// Keeps the first `limit` training images of `train` and returns the drift policy's probe: the
/// first `probe` images past the limit (never trained on), if there are any.
pub fn limit_with_probe(train: &mut Split, limit: usize, probe: usize) -> Option<Split> {
    let past = train.len().checked_sub(limit).filter(|&n| n > 0)?;
    let mut held_out = train.split_off_last(past);
    held_out.truncate(probe);
    Some(held_out)
}

/// Applies `--val`, `--train-limit`, `--test-limit`; with a training limit, the drift policy's
/// probe is the first [`PROBE_IMAGES`] training images past it (never trained on; without a
/// limit the loader takes the evaluation split's first images, their inputs only).
fn splits(config: &RunConfig, train: Split, test: Split) -> anyhow::Result<(Split, Split, Option<Split>)> {
    let (mut train, test) = match &config.classes {
        Some(c) => (train.select_classes(c), test.select_classes(c)),
        None => (train, test),
    };
    let mut eval = if config.val > 0 {
        if config.val >= train.len() {
            bail!("val = {} leaves no training images (the train split has {})", config.val, train.len());
        }
        train.split_off_last(config.val)
    } else {
        test
    };
    let probe = config.train_limit.and_then(|n| limit_with_probe(&mut train, n, PROBE_IMAGES));
    if let Some(n) = config.test_limit {
        eval.truncate(n);
    }
    if config.batch_size > train.len() {
        bail!("batch_size = {} is larger than the {} training images", config.batch_size, train.len());
    }
    Ok((train, eval, probe))
}

/// What every run has, whatever it trains on.
struct Train<'a> {
    config: &'a RunConfig,
    device: &'a burn::tensor::Device,
    log: &'a mut RunLog,
    checkpointing: Checkpointing,
    resume: Option<(PathBuf, checkpoint::Manifest)>,
}

/// An image model with its CIFAR loader.
struct Images<'a> {
    train: Train<'a>,
    loader: Loader,
}

impl WithModel for Images<'_> {
    type Output = anyhow::Result<RunSummary>;
    fn run<M: FreezeOut + FreezeOutForward<4, 2> + 'static>(mut self, model: M) -> Self::Output {
        let cache = self.train.config.cache;
        let plan =
            if cache.is_off() { Vec::new() } else { cache_plan(&cache, &model, &self.loader, self.train.device)? };
        self.train.fit(model, &Classification, &mut self.loader, plan)
    }
}

impl Train<'_> {
    /// Trains `model` on `data` for `task`, printing `plan` (the cache's) first, then the
    /// progress.
    fn fit<M, T, D>(self, model: M, task: &T, data: &mut D, plan: Vec<String>) -> anyhow::Result<RunSummary>
    where
        M: FreezeOut,
        T: Task<M>,
        D: DataSource<T::Batch>,
    {
        let name = self.config.run_name();
        let tc = self.config.train_config();
        let text = self.config.dataset.cifar().is_none();
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
        for line in plan {
            eprintln!("{line}");
        }
        // Trained weights replace the random ones at the start (a resumed run reads its checkpoint).
        let model = match (&self.config.init, &self.resume) {
            (Some(path), None) => {
                let (model, loaded) = weights::load(model, path, self.config.head())?;
                let fresh = match loaded.fresh.len() {
                    0 => String::new(),
                    n => format!("; the head's {n} tensors start fresh ({})", loaded.fresh.join(", ")),
                };
                eprintln!("init: {} tensors from {}{fresh}", loaded.tensors, loaded.file.display());
                model
            }
            _ => model,
        };
        let mut last_print = std::time::Instant::now();
        let abort_after: Option<u64> = std::env::var(ABORT_ENV).ok().and_then(|v| v.parse().ok());
        let mut fit = Fit::new(&tc, self.device).task(task).log(self.log).checkpoint(self.checkpointing);
        if let Some((path, manifest)) = self.resume {
            fit = fit.resume(path, manifest);
        }
        let out = fit
            .observe(|p, _| match p {
                Progress::Step { iter, .. } if abort_after == Some(iter) => std::process::abort(),
                Progress::Step { iter, total, epoch, loss, step_ms, frozen } => match &bar {
                    Some(bar) => {
                        bar.set_length(total);
                        bar.set_position(iter + 1);
                        bar.set_message(format!("epoch {epoch} loss {loss:.3} {step_ms:.0} ms/step, {frozen} frozen"));
                    }
                    None if last_print.elapsed().as_secs() >= 10 || iter == 0 => {
                        last_print = std::time::Instant::now();
                        eprintln!(
                            "{name}: iter {}/{total} epoch {epoch} loss {loss:.4} {step_ms:.1} ms/step frozen {frozen}",
                            iter + 1
                        );
                    }
                    None => {}
                },
                Progress::Epoch(e) => {
                    let line = format!("{name}: {}", epoch_line(e, text));
                    match &bar {
                        Some(bar) => bar.println(line),
                        None => eprintln!("{line}"),
                    }
                }
            })
            .run(model, data);
        if let Some(bar) = &bar {
            bar.finish_and_clear();
        }
        Ok(out?.summary)
    }
}

/// An epoch's line: the losses and errors (a language model's metric is its loss per byte,
/// also in bits), the time, the frozen units and the cache.
fn epoch_line(e: &EpochStats, text: bool) -> String {
    let cache = e.cache.map_or(String::new(), |c| {
        format!(
            "; cache at unit {}: {} entries, {}, hit rate {:.1}%",
            c.boundary,
            c.entries,
            bytes_text(c.bytes),
            100.0 * c.hit_rate()
        )
    });
    let metric = match text {
        true => format!(
            "held-out loss {}",
            e.test_error.map_or("n/a".into(), |t| format!("{t:.4} ({:.3} bits/byte)", t / std::f64::consts::LN_2))
        ),
        false => format!(
            "train err {:.2}% test err {}",
            100.0 * e.train_error,
            e.test_error.map_or("n/a".into(), |t| format!("{:.2}%", 100.0 * t))
        ),
    };
    format!(
        "epoch {} train loss {:.4} {metric} ({:.1} s, {} frozen{cache})",
        e.epoch, e.train_loss, e.wall_seconds, e.frozen_units
    )
}

/// The cache's predicted size at each boundary, as lines to print before the run.
fn cache_plan<M: FreezeOutForward<4, 2>>(
    cache: &CacheConfig,
    model: &M,
    loader: &Loader,
    device: &burn::tensor::Device,
) -> anyhow::Result<Vec<String>> {
    let samples = loader.train_len() as u64;
    let plans = PrefixCache::plan(cache, model, [3, 32, 32], data::PAD, samples, device)?;
    let names: Vec<String> = model.units().into_iter().map(|u| u.name).collect();
    let mut lines = vec![format!(
        "cache: {} mode, {} entries in host memory, budget {}; predicted size per boundary ({samples} samples):",
        cache.mode,
        cache.float,
        bytes_text(cache.budget()?)
    )];
    for p in plans {
        let fits = if p.fits == samples { "all fit".to_string() } else { format!("{} fit", p.fits) };
        lines.push(format!(
            "  after unit {} ({}): {:?} per sample, {} per entry, {} in all, {fits}",
            p.boundary - 1,
            names[p.boundary - 1],
            p.shape,
            bytes_text(p.entry_bytes),
            bytes_text(p.total_bytes)
        ));
    }
    Ok(lines)
}
