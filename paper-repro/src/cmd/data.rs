//! `paper-repro data verify|fetch`.

use anyhow::{Context, bail};
use burn_freezeout::data::DataSource;
use burn_freezeout::data::{self, CifarKind, Loader};
use md5::{Digest, Md5};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// `data` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Validate a dataset (directory or archive) and print counts per split and class, and the
    /// input pipeline's throughput.
    Verify {
        /// Directory or .tar.gz (default $FREEZEOUT_DATA, else ./data).
        path: Option<PathBuf>,
        /// cifar10 or cifar100 (default: what the path holds, both if it holds both).
        #[arg(long)]
        dataset: Option<CifarKind>,
    },
    /// Download the official archive and check its published MD5 (needs a network).
    Fetch {
        /// cifar10 or cifar100.
        dataset: CifarKind,
        /// Target directory (default $FREEZEOUT_DATA, else ./data).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

/// Runs the subcommand.
pub fn run(cmd: &Command) -> anyhow::Result<()> {
    match cmd {
        Command::Verify { path, dataset } => verify(&data::data_dir(path.clone()), *dataset),
        Command::Fetch { dataset, dir } => fetch(*dataset, &data::data_dir(dir.clone())),
    }
}

/// The dataset(s) at `path`: what is there (directory names, files, archive members), else a
/// guess from the path's spelling (whose load then says what is missing).
fn kinds_at(path: &Path) -> Vec<CifarKind> {
    let found = data::cifar::identify(path);
    if !found.is_empty() {
        return found;
    }
    let s = path.to_string_lossy();
    vec![if s.contains("100") { CifarKind::Cifar100 } else { CifarKind::Cifar10 }]
}

fn verify(path: &Path, dataset: Option<CifarKind>) -> anyhow::Result<()> {
    for kind in dataset.map_or_else(|| kinds_at(path), |k| vec![k]) {
        verify_one(path, kind)?;
    }
    Ok(())
}

fn verify_one(path: &Path, kind: CifarKind) -> anyhow::Result<()> {
    let t = Instant::now();
    let cifar = data::load(path, kind)?;
    println!("{} at {}: valid ({:.1} s to read and check)", kind.name(), path.display(), t.elapsed().as_secs_f64());
    for (name, split) in [("train", &cifar.train), ("test", &cifar.test)] {
        let counts = split.class_counts(kind.classes());
        let (lo, hi) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        println!("  {name:5}: {:>6} images, {} classes, {lo}..{hi} per class", split.len(), kind.classes());
        if kind == CifarKind::Cifar10 {
            let per: Vec<String> = counts.iter().enumerate().map(|(c, n)| format!("{c}:{n}")).collect();
            println!("         {}", per.join(" "));
        }
    }
    // Throughput of the augmented input pipeline (one epoch at batch 50, background thread).
    let mut loader = Loader::new(cifar.train, cifar.test, 50, 0);
    let n = loader.train_len();
    let t = Instant::now();
    let images: usize = loader.train_epoch(0).map(|b| b.len()).sum();
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(images, n);
    println!(
        "  input pipeline: {images} augmented images in {secs:.2} s = {:.0} images/s (crop + flip + normalise, batch 50)",
        images as f64 / secs
    );
    Ok(())
}

fn fetch(kind: CifarKind, dir: &Path) -> anyhow::Result<()> {
    let target = dir.join(kind.archive_name());
    if target.is_file() {
        println!("{} already exists; checking it", target.display());
        return verify(dir, Some(kind));
    }
    eprintln!("downloading {} ...", kind.url());
    let agent = ureq::AgentBuilder::new().timeout_connect(Duration::from_secs(10)).build();
    let response = match agent.get(kind.url()).call() {
        Ok(r) => r,
        Err(e) => bail!(
            "cannot download {} ({e}). Offline? Copy the official {} to {} (or pass --data / set {} to where it is)",
            kind.url(),
            kind.archive_name(),
            dir.display(),
            data::DATA_ENV
        ),
    };
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    let (mut reader, mut hasher, mut buf) = (response.into_reader(), Md5::new(), vec![0u8; 1 << 20]);
    loop {
        let n = reader.read(&mut buf).context("download interrupted")?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        std::io::Write::write_all(&mut tmp, &buf[..n])?;
    }
    let md5 = format!("{:x}", hasher.finalize());
    if md5 != kind.official_md5() {
        bail!("downloaded archive has MD5 {md5}, the official one is {}: not saved", kind.official_md5());
    }
    tmp.as_file().sync_all()?;
    tmp.persist(&target).map_err(|e| e.error)?;
    println!("saved {} (MD5 {md5} verified)", target.display());
    verify(dir, Some(kind))
}
