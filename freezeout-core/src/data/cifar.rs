//! Readers for the official *binary* CIFAR-10 and CIFAR-100 files, validated strictly.
//!
//! Accepts the extracted directory (`cifar-10-batches-bin/`, `cifar-100-binary/`), a directory
//! holding it or the official archive, or the `.tar.gz` archive itself. An archive is extracted
//! once into a cache directory next to it (atomically: into a temporary directory, then
//! renamed); if that directory is not writable it is read straight from the archive instead.

use flate2::read::GzDecoder;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Bytes of one image (3 × 32 × 32, channel-major: 1024 R, 1024 G, 1024 B).
pub const IMAGE_BYTES: usize = 3 * 32 * 32;

/// Which dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CifarKind {
    /// 10 classes, 5 train files + 1 test file.
    Cifar10,
    /// 100 fine classes (20 coarse), `train.bin` + `test.bin`.
    Cifar100,
}

/// One file of the binary layout.
struct FileSpec {
    name: &'static str,
    train: bool,
    records: usize,
}

impl CifarKind {
    /// Number of (fine) classes.
    pub fn classes(self) -> usize {
        match self {
            CifarKind::Cifar10 => 10,
            CifarKind::Cifar100 => 100,
        }
    }

    /// Name used on the command line (`cifar10`, `cifar100`).
    pub fn name(self) -> &'static str {
        match self {
            CifarKind::Cifar10 => "cifar10",
            CifarKind::Cifar100 => "cifar100",
        }
    }

    /// The name people write (`CIFAR-10`, `CIFAR-100`).
    pub fn title(self) -> &'static str {
        match self {
            CifarKind::Cifar10 => "CIFAR-10",
            CifarKind::Cifar100 => "CIFAR-100",
        }
    }

    /// Both datasets.
    pub const ALL: [CifarKind; 2] = [CifarKind::Cifar10, CifarKind::Cifar100];

    /// Directory the official archive extracts to.
    pub fn dir_name(self) -> &'static str {
        match self {
            CifarKind::Cifar10 => "cifar-10-batches-bin",
            CifarKind::Cifar100 => "cifar-100-binary",
        }
    }

    /// File name of the official archive.
    pub fn archive_name(self) -> &'static str {
        match self {
            CifarKind::Cifar10 => "cifar-10-binary.tar.gz",
            CifarKind::Cifar100 => "cifar-100-binary.tar.gz",
        }
    }

    /// Label bytes before the pixels of each record (CIFAR-100: coarse, then fine).
    fn label_bytes(self) -> usize {
        match self {
            CifarKind::Cifar10 => 1,
            CifarKind::Cifar100 => 2,
        }
    }

    /// Bytes of one record.
    pub fn record_bytes(self) -> usize {
        self.label_bytes() + IMAGE_BYTES
    }

    fn files(self) -> &'static [FileSpec] {
        const C10: &[FileSpec] = &[
            FileSpec { name: "data_batch_1.bin", train: true, records: 10_000 },
            FileSpec { name: "data_batch_2.bin", train: true, records: 10_000 },
            FileSpec { name: "data_batch_3.bin", train: true, records: 10_000 },
            FileSpec { name: "data_batch_4.bin", train: true, records: 10_000 },
            FileSpec { name: "data_batch_5.bin", train: true, records: 10_000 },
            FileSpec { name: "test_batch.bin", train: false, records: 10_000 },
        ];
        const C100: &[FileSpec] = &[
            FileSpec { name: "train.bin", train: true, records: 50_000 },
            FileSpec { name: "test.bin", train: false, records: 10_000 },
        ];
        match self {
            CifarKind::Cifar10 => C10,
            CifarKind::Cifar100 => C100,
        }
    }

    /// Images per class in the train and test splits.
    pub fn per_class(self) -> (usize, usize) {
        (50_000 / self.classes(), 10_000 / self.classes())
    }

    /// The official archive's published MD5.
    pub fn official_md5(self) -> &'static str {
        match self {
            CifarKind::Cifar10 => "c32a1d4ab5d03f1284b67883e8d87530",
            CifarKind::Cifar100 => "03b5dce01913d631647c71ecec9e9cb8",
        }
    }

    /// The official download address.
    pub fn url(self) -> &'static str {
        match self {
            CifarKind::Cifar10 => "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
            CifarKind::Cifar100 => "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
        }
    }
}

impl std::str::FromStr for CifarKind {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cifar10" | "cifar-10" => Ok(CifarKind::Cifar10),
            "cifar100" | "cifar-100" => Ok(CifarKind::Cifar100),
            other => Err(DataError::UnknownDataset(other.to_string())),
        }
    }
}

/// Images (`n × 3072` bytes, CHW) and fine labels of one split.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Split {
    /// Pixels, `IMAGE_BYTES` per image.
    pub images: Vec<u8>,
    /// Fine labels.
    pub labels: Vec<u8>,
}

impl Split {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    /// Bytes of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.images[i * IMAGE_BYTES..(i + 1) * IMAGE_BYTES]
    }
    /// The images of `classes` only, in their order, relabelled by their place in `classes`
    /// (`[5, 6, 7, 8, 9]`: class 5 becomes 0): a task of `classes.len()` classes, e.g. the
    /// second half of CIFAR-10 to fine-tune on after training on the first.
    pub fn select_classes(&self, classes: &[u8]) -> Split {
        let mut out = Split::default();
        for (i, label) in self.labels.iter().enumerate() {
            if let Some(new) = classes.iter().position(|c| c == label) {
                out.images.extend_from_slice(self.image(i));
                out.labels.push(new as u8);
            }
        }
        out
    }
    /// Images per class.
    pub fn class_counts(&self, classes: usize) -> Vec<usize> {
        let mut counts = vec![0; classes];
        for &l in &self.labels {
            counts[l as usize] += 1;
        }
        counts
    }
    /// Keeps only the first `n` images (no-op if there are fewer).
    pub fn truncate(&mut self, n: usize) {
        self.labels.truncate(n);
        self.images.truncate(n.min(self.labels.len()) * IMAGE_BYTES);
    }
    /// Splits off the last `n` images (the reference holds out the last 5,000 for validation).
    pub fn split_off_last(&mut self, n: usize) -> Split {
        let at = self.len().saturating_sub(n);
        Split { images: self.images.split_off(at * IMAGE_BYTES), labels: self.labels.split_off(at) }
    }
}

/// A validated dataset.
#[derive(Clone, Debug)]
pub struct Cifar {
    /// Which one.
    pub kind: CifarKind,
    /// 50,000 training images.
    pub train: Split,
    /// 10,000 test images.
    pub test: Split,
    /// Where it was read from.
    pub source: PathBuf,
}

/// A problem with the data, naming the file, what was expected and what was found.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// Nothing usable at the path.
    #[error(
        "{path}: no {title} data here (looked for {dir}/ and {archive}). Put the official binary \
         archive there (`paper-repro data fetch {name}` downloads it when online) or pass --data",
        title = kind.title()
    )]
    NotFound {
        /// Where it looked.
        path: PathBuf,
        /// The dataset asked for.
        kind: CifarKind,
        /// The directory name it looked for.
        dir: &'static str,
        /// The archive name it looked for.
        archive: &'static str,
        /// The dataset's name on the command line.
        name: &'static str,
    },
    /// The other dataset where this one was asked for.
    #[error(
        "{path}: this is {found_title} data ({found_dir}), not {expected_title}: pass --dataset {found_name} to use \
         it, or point --data at the {expected_title} data",
        found_title = found.title(),
        found_dir = found.dir_name(),
        expected_title = expected.title(),
        found_name = found.name()
    )]
    OtherDataset {
        /// The data found.
        path: PathBuf,
        /// The dataset it holds.
        found: CifarKind,
        /// The dataset asked for.
        expected: CifarKind,
    },
    /// A readable archive that is not the official one.
    #[error(
        "{file}: a readable .tar.gz archive, but not the official {archive}: it holds no {dir}/ (its first \
         members: {first})"
    )]
    ArchiveContent {
        /// The archive.
        file: PathBuf,
        /// The official archive's name.
        archive: &'static str,
        /// The directory the official archive holds.
        dir: &'static str,
        /// Its first members.
        first: String,
    },
    /// A file of the layout is missing.
    #[error("{file}: missing (a {title} binary directory has {expected})", title = kind.title())]
    Missing {
        /// The missing file.
        file: PathBuf,
        /// The dataset.
        kind: CifarKind,
        /// The files the layout has.
        expected: String,
    },
    /// A file has the wrong size.
    #[error(
        "{file}: expected exactly {expected} bytes ({records} records of {record} bytes), found {found}: the file is truncated or not the binary version"
    )]
    WrongSize {
        /// The file.
        file: PathBuf,
        /// Its size in bytes.
        expected: u64,
        /// Records it should hold.
        records: usize,
        /// Bytes per record.
        record: usize,
        /// Its actual size in bytes.
        found: u64,
    },
    /// A label out of range.
    #[error("{file}: record {record} has {which} label {label}, expected 0..{classes}: the file is corrupt")]
    BadLabel {
        /// The file.
        file: PathBuf,
        /// The record (0-based).
        record: usize,
        /// `fine` or `coarse`.
        which: &'static str,
        /// The label found.
        label: u8,
        /// Number of classes.
        classes: usize,
    },
    /// Unbalanced classes: a short or mixed-up dataset.
    #[error("{source_path}: {split} split has {found} images of class {class}, expected {expected}")]
    ClassCount {
        /// The data.
        source_path: PathBuf,
        /// `train` or `test`.
        split: &'static str,
        /// The class.
        class: usize,
        /// Images per class expected.
        expected: usize,
        /// Images of the class found.
        found: usize,
    },
    /// An unreadable archive.
    #[error("{file}: not a readable .tar.gz archive: {msg}")]
    Archive {
        /// The archive.
        file: PathBuf,
        /// What the reader said.
        msg: String,
    },
    /// I/O.
    #[error("{file}: {err}")]
    Io {
        /// The file.
        file: PathBuf,
        /// The error.
        err: io::Error,
    },
    /// Unknown dataset name.
    #[error("unknown dataset `{0}`: expected cifar10 or cifar100")]
    UnknownDataset(String),
}

fn io_err(file: &Path) -> impl FnOnce(io::Error) -> DataError + '_ {
    move |err| DataError::Io { file: file.to_path_buf(), err }
}

/// Where a dataset's files come from.
enum Source {
    Dir(PathBuf),
    Archive(PathBuf),
}

/// Finds the data of `kind` at `path`: the binary directory itself, a directory containing it
/// or the archive, or the archive file.
fn locate(path: &Path, kind: CifarKind) -> Result<Source, DataError> {
    if path.is_file() {
        return Ok(Source::Archive(path.to_path_buf()));
    }
    if let Some(source) = locate_dir(path, kind) {
        return Ok(source);
    }
    if let Some(found) = identify(path).into_iter().find(|&k| k != kind) {
        return Err(DataError::OtherDataset { path: path.to_path_buf(), found, expected: kind });
    }
    Err(DataError::NotFound {
        path: path.to_path_buf(),
        kind,
        dir: kind.dir_name(),
        archive: kind.archive_name(),
        name: kind.name(),
    })
}

/// `kind`'s data in or below the directory `path`, if any.
fn locate_dir(path: &Path, kind: CifarKind) -> Option<Source> {
    // The binary directory itself: named like it, or holding any file of the layout.
    let has_files = |d: &Path| {
        d.file_name().is_some_and(|n| n == kind.dir_name()) || kind.files().iter().any(|f| d.join(f.name).exists())
    };
    if !path.is_dir() {
        return None;
    }
    if has_files(path) {
        return Some(Source::Dir(path.to_path_buf()));
    }
    let inner = path.join(kind.dir_name());
    if inner.is_dir() {
        return Some(Source::Dir(inner));
    }
    let cached = cache_dir(&path.join(kind.archive_name())).join(kind.dir_name());
    if cached.is_dir() {
        return Some(Source::Dir(cached));
    }
    let archive = path.join(kind.archive_name());
    archive.is_file().then_some(Source::Archive(archive))
}

/// Which datasets are at `path` (a directory as [`load`] accepts it, or an archive), judged
/// from what is there (directory and file names, an archive's first members), not from the
/// path's own spelling. Reads no more of an archive than its first members.
pub fn identify(path: &Path) -> Vec<CifarKind> {
    if path.is_file() {
        return archive_kind(path).ok().flatten().into_iter().collect();
    }
    CifarKind::ALL.into_iter().filter(|&k| locate_dir(path, k).is_some()).collect()
}

/// The dataset of an archive, from its extraction cache or its first members (`None`: a
/// readable archive holding neither); an error only for an unreadable one.
fn archive_kind(archive: &Path) -> Result<Option<CifarKind>, DataError> {
    if let Some(k) = CifarKind::ALL.into_iter().find(|k| cache_dir(archive).join(k.dir_name()).is_dir()) {
        return Ok(Some(k));
    }
    Ok(first_members(archive, 16)?.iter().find_map(|m| {
        CifarKind::ALL.into_iter().find(|k| Path::new(m).components().any(|c| c.as_os_str() == k.dir_name()))
    }))
}

/// The paths of an archive's first `n` members.
fn first_members(archive: &Path, n: usize) -> Result<Vec<String>, DataError> {
    let bad = |msg: String| DataError::Archive { file: archive.to_path_buf(), msg };
    let file = File::open(archive).map_err(io_err(archive))?;
    let mut tar = tar::Archive::new(GzDecoder::new(file));
    let mut names = Vec::new();
    for entry in tar.entries().map_err(|e| bad(e.to_string()))?.take(n) {
        let entry = entry.map_err(|e| bad(e.to_string()))?;
        names.push(entry.path().map_err(|e| bad(e.to_string()))?.to_string_lossy().into_owned());
    }
    if names.is_empty() {
        return Err(bad("it has no members".into()));
    }
    Ok(names)
}

/// The cache directory next to an archive: `foo.tar.gz` → `foo.extracted/`.
fn cache_dir(archive: &Path) -> PathBuf {
    let name = archive.file_name().and_then(|n| n.to_str()).unwrap_or("archive");
    let stem = name.trim_end_matches(".tar.gz").trim_end_matches(".tgz");
    archive.with_file_name(format!("{stem}.extracted"))
}

/// Loads and validates `kind` from `path` (see the module docs for what `path` may be).
pub fn load(path: &Path, kind: CifarKind) -> Result<Cifar, DataError> {
    let source = locate(path, kind)?;
    if let Source::Archive(archive) = &source
        && let Some(found) = archive_kind(archive)?.filter(|&k| k != kind)
    {
        return Err(DataError::OtherDataset { path: archive.clone(), found, expected: kind });
    }
    let files = match source {
        Source::Dir(dir) => read_dir_files(&dir, kind)?,
        // A read-only location (no write bits, even for root): read the members from the archive.
        Source::Archive(archive) if read_only_parent(&archive) => read_archive_files(&archive, kind)?,
        Source::Archive(archive) => read_dir_files(&extract_cached(&archive, kind)?, kind)?,
    };
    assemble(path, kind, files)
}

fn read_only_parent(file: &Path) -> bool {
    let parent = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::metadata(parent).map(|m| m.permissions().readonly()).unwrap_or(true)
}

/// `(file path for messages, bytes)` for each file of the layout, in order.
type Files = Vec<(PathBuf, Vec<u8>)>;

fn read_dir_files(dir: &Path, kind: CifarKind) -> Result<Files, DataError> {
    kind.files()
        .iter()
        .map(|spec| {
            let file = dir.join(spec.name);
            if !file.is_file() {
                return Err(missing(&file, kind));
            }
            let bytes = fs::read(&file).map_err(io_err(&file))?;
            Ok((file, bytes))
        })
        .collect()
}

fn missing(file: &Path, kind: CifarKind) -> DataError {
    let expected = kind.files().iter().map(|f| f.name).collect::<Vec<_>>().join(", ");
    DataError::Missing { file: file.to_path_buf(), kind, expected }
}

/// Extracts the archive into its cache directory (once; atomically).
fn extract_cached(archive: &Path, kind: CifarKind) -> Result<PathBuf, DataError> {
    let cache = cache_dir(archive);
    let target = cache.join(kind.dir_name());
    if target.is_dir() {
        return Ok(target);
    }
    let parent = archive.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new().prefix(".extracting-").tempdir_in(parent).map_err(io_err(parent))?;
    let file = File::open(archive).map_err(io_err(archive))?;
    tar::Archive::new(GzDecoder::new(file))
        .unpack(tmp.path())
        .map_err(|e| DataError::Archive { file: archive.to_path_buf(), msg: e.to_string() })?;
    if !tmp.path().join(kind.dir_name()).is_dir() {
        return Err(not_official(archive, kind));
    }
    let staged = tmp.keep();
    match fs::rename(&staged, &cache) {
        Ok(()) => Ok(target),
        // Another process finished first: use its copy.
        Err(_) if target.is_dir() => {
            let _ = fs::remove_dir_all(&staged);
            Ok(target)
        }
        Err(e) => {
            let _ = fs::remove_dir_all(&staged);
            Err(io_err(&cache)(e))
        }
    }
}

/// The error for a readable archive without `kind`'s directory.
fn not_official(archive: &Path, kind: CifarKind) -> DataError {
    let first = first_members(archive, 4).map(|m| m.join(", ")).unwrap_or_default();
    DataError::ArchiveContent { file: archive.to_path_buf(), archive: kind.archive_name(), dir: kind.dir_name(), first }
}

fn read_archive_files(archive: &Path, kind: CifarKind) -> Result<Files, DataError> {
    let bad = |msg: String| DataError::Archive { file: archive.to_path_buf(), msg };
    let file = File::open(archive).map_err(io_err(archive))?;
    let mut found: Vec<Option<Vec<u8>>> = vec![None; kind.files().len()];
    let mut tar = tar::Archive::new(GzDecoder::new(file));
    for entry in tar.entries().map_err(|e| bad(e.to_string()))? {
        let mut entry = entry.map_err(|e| bad(e.to_string()))?;
        let path = entry.path().map_err(|e| bad(e.to_string()))?.into_owned();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
        if let Some(i) = kind.files().iter().position(|f| f.name == name) {
            let mut bytes = Vec::with_capacity(entry.size() as usize);
            entry.read_to_end(&mut bytes).map_err(|e| bad(e.to_string()))?;
            found[i] = Some(bytes);
        }
    }
    kind.files()
        .iter()
        .zip(found)
        .map(|(spec, bytes)| {
            let shown = archive.join(kind.dir_name()).join(spec.name);
            bytes.map(|b| (shown.clone(), b)).ok_or_else(|| missing(&shown, kind))
        })
        .collect()
}

/// Parses one file of `records` records of `kind`, checking its size and every label; `file`
/// is only used in messages. Never panics, whatever the bytes.
pub fn parse_records(kind: CifarKind, file: &Path, bytes: &[u8], records: usize) -> Result<Split, DataError> {
    let record = kind.record_bytes();
    let expected = (records * record) as u64;
    if bytes.len() as u64 != expected {
        return Err(DataError::WrongSize {
            file: file.to_path_buf(),
            expected,
            records,
            record,
            found: bytes.len() as u64,
        });
    }
    let mut split = Split { images: Vec::with_capacity(records * IMAGE_BYTES), labels: Vec::with_capacity(records) };
    for (r, rec) in bytes.chunks_exact(record).enumerate() {
        if kind == CifarKind::Cifar100 && rec[0] >= 20 {
            return Err(DataError::BadLabel {
                file: file.to_path_buf(),
                record: r,
                which: "coarse",
                label: rec[0],
                classes: 20,
            });
        }
        let label = rec[kind.label_bytes() - 1];
        if label as usize >= kind.classes() {
            let which = if kind == CifarKind::Cifar100 { "fine" } else { "class" };
            return Err(DataError::BadLabel {
                file: file.to_path_buf(),
                record: r,
                which,
                label,
                classes: kind.classes(),
            });
        }
        split.labels.push(label);
        split.images.extend_from_slice(&rec[kind.label_bytes()..]);
    }
    Ok(split)
}

/// Validates sizes, labels and class counts, and builds the splits.
fn assemble(source: &Path, kind: CifarKind, files: Files) -> Result<Cifar, DataError> {
    let (mut train, mut test) = (Split::default(), Split::default());
    for (spec, (file, bytes)) in kind.files().iter().zip(files) {
        let part = parse_records(kind, &file, &bytes, spec.records)?;
        let split = if spec.train { &mut train } else { &mut test };
        split.images.extend_from_slice(&part.images);
        split.labels.extend_from_slice(&part.labels);
    }
    let (per_train, per_test) = kind.per_class();
    for (name, split, expected) in [("train", &train, per_train), ("test", &test, per_test)] {
        for (class, &found) in split.class_counts(kind.classes()).iter().enumerate() {
            if found != expected {
                return Err(DataError::ClassCount {
                    source_path: source.to_path_buf(),
                    split: name,
                    class,
                    expected,
                    found,
                });
            }
        }
    }
    Ok(Cifar { kind, train, test, source: source.to_path_buf() })
}
