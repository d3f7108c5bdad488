//! Character-level text for a language model: a corpus read from a plain-text or gzip file
//! (dictzip's `.dz` is gzip), its bytes as token ids (UTF-8 code units: for ASCII text, one
//! per character; a vocabulary of [`VOCAB`] whatever the text), fixed windows as samples.
//!
//! A sample is a window of `context + 1` characters: the model reads the first `context` and
//! predicts each next one. Windows do not overlap and never change, so the inputs repeat
//! exactly every epoch: the prefix cache's `exact` mode applies. The first 90 % of the text
//! trains, the rest is held out.
//!
//! ```
//! use burn_freezeout::data::DataSource;
//! use burn_freezeout::data::text::{Corpus, TextLoader};
//!
//! let corpus = Corpus::new("the cat sat on the mat. ".repeat(40));
//! let mut data = TextLoader::new(&corpus, 16, 8, 0)?;
//! let batch = data.train_epoch(0).next().unwrap();
//! assert_eq!((batch.len(), batch.context), (8, 16));
//! assert_eq!(&batch.tokens[1..16], &batch.targets[..15]); // each target is the next character
//! # Ok::<(), burn_freezeout::data::text::TextError>(())
//! ```

use super::pipeline::mix;
use super::{CachedBatch, DataSource, Samples};
use crate::UnitTensor;
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Token ids: the 256 byte values.
pub const VOCAB: usize = 256;

/// The held-out share of the text (its end).
pub const VALIDATION_FRACTION: f64 = 0.1;

/// Why a text cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    /// The file cannot be read.
    #[error("{path}: cannot read the text ({source}); pass the path of a plain-text or gzip file")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not UTF-8.
    #[error(
        "{path}: not UTF-8 text (invalid byte at offset {offset}); convert it first, e.g. `iconv -f latin1 -t utf-8`"
    )]
    Encoding {
        /// The file (`-` for text given in memory).
        path: PathBuf,
        /// The first invalid byte.
        offset: usize,
    },
    /// Too short for one training and one held-out window.
    #[error(
        "{path}: {chars} characters, too few for windows of {window} characters (at least {needed}: one to train on and \
         one held out of 10%); use a longer text or a shorter context"
    )]
    TooShort {
        /// The file (`-` for text given in memory).
        path: PathBuf,
        /// Its characters.
        chars: usize,
        /// A window's characters (the context and the next one).
        window: usize,
        /// The fewest characters that work.
        needed: usize,
    },
}

/// A UTF-8 text as token ids: its bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Corpus {
    /// Where it came from (`-`: given in memory).
    pub path: PathBuf,
    /// The text's bytes: token ids in `0..VOCAB`.
    pub tokens: Vec<u8>,
}

impl Corpus {
    /// A corpus of `text`.
    pub fn new(text: impl Into<String>) -> Self {
        Self { path: PathBuf::from("-"), tokens: text.into().into_bytes() }
    }

    /// Reads `path`: plain UTF-8 text, or gzip-compressed (as dictzip's `.dz` files are).
    pub fn load(path: &Path) -> Result<Self, TextError> {
        let read = |source| TextError::Read { path: path.to_path_buf(), source };
        let raw = std::fs::read(path).map_err(read)?;
        let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
            let mut out = Vec::new();
            flate2::read::MultiGzDecoder::new(&raw[..]).read_to_end(&mut out).map_err(read)?;
            out
        } else {
            raw
        };
        let text = String::from_utf8(bytes)
            .map_err(|e| TextError::Encoding { path: path.to_path_buf(), offset: e.utf8_error().valid_up_to() })?;
        Ok(Self { path: path.to_path_buf(), tokens: text.into_bytes() })
    }
}

/// A batch of windows: `n` rows of `context` token ids, each row's targets the same window
/// shifted by one character, and each row's sample id (its window's index).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TokenBatch {
    /// `n · context` input ids, row-major.
    pub tokens: Vec<i64>,
    /// `n · context` target ids: each input's next character.
    pub targets: Vec<i64>,
    /// Characters a row reads.
    pub context: usize,
    /// `n` sample ids.
    pub ids: Vec<u64>,
}

impl TokenBatch {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.tokens.len() / self.context.max(1)
    }

    /// Whether it has no row.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Inputs and targets on `device`, `[n, context]` each.
    pub fn to_device(&self, device: &Device) -> (Tensor<2, Int>, Tensor<2, Int>) {
        (self.ids_on(&self.tokens, device), self.targets(device))
    }

    /// The targets on `device`, `[n, context]`.
    pub fn targets(&self, device: &Device) -> Tensor<2, Int> {
        self.ids_on(&self.targets, device)
    }

    fn ids_on(&self, ids: &[i64], device: &Device) -> Tensor<2, Int> {
        Tensor::<2, Int>::from_data(TensorData::new(ids.to_vec(), [self.len(), self.context]), device)
    }
}

impl CachedBatch for TokenBatch {
    fn len(&self) -> usize {
        TokenBatch::len(self)
    }
    fn ids(&self) -> &[u64] {
        &self.ids
    }
    fn input_rows(&self, rows: &[usize], device: &Device) -> UnitTensor {
        let c = self.context;
        let values: Vec<i64> = rows.iter().flat_map(|&r| self.tokens[r * c..(r + 1) * c].iter().copied()).collect();
        Tensor::<2, Int>::from_data(TensorData::new(values, [rows.len(), c]), device).into()
    }
}

/// Training and held-out windows of a corpus, in batches; each epoch shuffles the training
/// windows (the same order for the same seed and epoch).
#[derive(Clone, Debug)]
pub struct TextLoader {
    train: Vec<u8>,
    eval: Vec<u8>,
    context: usize,
    batch: usize,
    seed: u64,
    windows: usize,
}

impl TextLoader {
    /// Windows of `context + 1` characters of `corpus` in batches of `batch`, shuffled with
    /// `seed`.
    pub fn new(corpus: &Corpus, context: usize, batch: usize, seed: u64) -> Result<Self, TextError> {
        let window = context + 1;
        let n = corpus.tokens.len();
        let held_out = ((n as f64 * VALIDATION_FRACTION) as usize).max(window);
        let needed = (window * 10).max(2 * window);
        if context == 0 || batch == 0 || n < needed || n - held_out < window {
            let path = corpus.path.clone();
            return Err(TextError::TooShort { path, chars: n, window, needed });
        }
        let (train, eval) = corpus.tokens.split_at(n - held_out);
        let mut loader = Self {
            train: train.to_vec(),
            eval: eval.to_vec(),
            context,
            batch,
            seed,
            windows: (train.len() - 1) / context,
        };
        loader.windows = loader.windows.max(1);
        Ok(loader)
    }

    /// Uses only the first `train` training windows and the first `eval` held-out ones, where
    /// given (quick runs).
    pub fn with_limits(mut self, train: Option<usize>, eval: Option<usize>) -> Self {
        if let Some(n) = train {
            self.windows = self.windows.min(n.max(1));
        }
        if let Some(n) = eval {
            self.eval.truncate((n.max(1) * self.context + 1).min(self.eval.len()));
        }
        self
    }

    /// Number of training windows (samples).
    pub fn train_len(&self) -> usize {
        self.windows
    }

    fn batch_of(&self, text: &[u8], starts: &[usize], ids: Vec<u64>) -> TokenBatch {
        let c = self.context;
        let mut batch = TokenBatch { context: c, ids, ..TokenBatch::default() };
        for &s in starts {
            batch.tokens.extend(text[s..s + c].iter().map(|&t| i64::from(t)));
            batch.targets.extend(text[s + 1..s + c + 1].iter().map(|&t| i64::from(t)));
        }
        batch
    }

    /// The training windows' order in `epoch`.
    fn order(&self, epoch: usize) -> Vec<u64> {
        let mut order: Vec<u64> = (0..self.windows as u64).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(mix(self.seed, epoch as u64, u64::MAX)));
        order
    }
}

impl DataSource<TokenBatch> for TextLoader {
    fn train_batches_per_epoch(&self) -> usize {
        self.windows.div_ceil(self.batch)
    }

    fn train_epoch(&mut self, epoch: usize) -> Box<dyn Iterator<Item = TokenBatch> + '_> {
        let order = self.order(epoch);
        let batches: Vec<Vec<u64>> = order.chunks(self.batch).map(<[u64]>::to_vec).collect();
        Box::new(batches.into_iter().map(move |ids| {
            let starts: Vec<usize> = ids.iter().map(|&i| i as usize * self.context).collect();
            self.batch_of(&self.train, &starts, ids)
        }))
    }

    fn eval_batches(&mut self) -> Box<dyn Iterator<Item = TokenBatch> + '_> {
        let starts: Vec<usize> = (0..(self.eval.len() - 1) / self.context).map(|i| i * self.context).collect();
        let batches: Vec<Vec<usize>> = starts.chunks(self.batch).map(<[usize]>::to_vec).collect();
        Box::new(batches.into_iter().map(move |s| self.batch_of(&self.eval, &s, Vec::new())))
    }

    /// The windows never change: their inputs repeat exactly (`exact` can run).
    fn samples(&self) -> Option<Box<dyn Samples<TokenBatch>>> {
        Some(Box::new(Windows))
    }

    /// The first held-out batch.
    fn probe(&self) -> Option<TokenBatch> {
        let starts: Vec<usize> =
            (0..self.batch.min((self.eval.len() - 1) / self.context)).map(|i| i * self.context).collect();
        Some(self.batch_of(&self.eval, &starts, Vec::new()))
    }
}

/// The windows' [`Samples`]: fixed, the same in every epoch.
struct Windows;

impl Samples<TokenBatch> for Windows {
    fn repeats_exactly(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every training window once per epoch, in an order of the seed and the epoch; targets
    /// are the inputs shifted by one; bad text names the file and the fix.
    #[test]
    fn windows_cover_the_text_once_per_epoch_and_bad_text_is_refused() {
        let text: String = (0..2000).map(|i| char::from(b'a' + (i * 7 % 26) as u8)).collect();
        let corpus = Corpus::new(text.clone());
        let mut data = TextLoader::new(&corpus, 32, 10, 3).unwrap();
        let n = data.train_len();
        assert_eq!(n, (1800 - 1) / 32);
        let epoch = |data: &mut TextLoader, e| data.train_epoch(e).flat_map(|b| b.ids).collect::<Vec<u64>>();
        let (mut a, b) = (epoch(&mut data, 0), epoch(&mut data, 1));
        assert_ne!(a, b, "each epoch its own order");
        assert_eq!(a, epoch(&mut data, 0), "the same for the same epoch");
        a.sort_unstable();
        assert_eq!(a, (0..n as u64).collect::<Vec<_>>());
        let batch = data.train_epoch(0).next().unwrap();
        let row = |v: &[i64], r: usize| v[r * 32..(r + 1) * 32].to_vec();
        let start = batch.ids[0] as usize * 32;
        let chars: Vec<i64> = text[start..start + 33].bytes().map(i64::from).collect();
        assert_eq!((row(&batch.tokens, 0), row(&batch.targets, 0)), (chars[..32].to_vec(), chars[1..].to_vec()));
        assert!(data.eval_batches().all(|b| b.ids.is_empty() && !b.is_empty()));

        let e = TextLoader::new(&Corpus::new("short"), 32, 10, 0).unwrap_err().to_string();
        assert!(e.starts_with("-: 5 characters, too few for windows of 33 characters"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let e = Corpus::load(&dir.path().join("missing.txt")).unwrap_err().to_string();
        assert!(e.contains("missing.txt: cannot read the text"), "{e}");
        let latin1 = dir.path().join("latin1.txt");
        std::fs::write(&latin1, b"caf\xe9 au lait").unwrap();
        let e = Corpus::load(&latin1).unwrap_err().to_string();
        assert!(e.contains("latin1.txt: not UTF-8 text (invalid byte at offset 3)"), "{e}");
        let gz = dir.path().join("text.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut enc, text.as_bytes()).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        assert_eq!(Corpus::load(&gz).unwrap().tokens, corpus.tokens, "gzip reads as the plain text");
    }
}
