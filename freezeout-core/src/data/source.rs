//! Batches on the host and the sources that yield them: what the prefix cache and the
//! training loop read.

use crate::UnitTensor;
use burn::tensor::{Device, Int, Tensor, TensorData};

/// One batch on the host: images NCHW as `f32` (already normalised) and class labels; for the
/// prefix cache ([`crate::cache`]) also each image's sample id and augmentation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HostBatch {
    /// `n · c · h · w` values, NCHW.
    pub images: Vec<f32>,
    /// `[n, c, h, w]`.
    pub shape: [usize; 4],
    /// `n` labels in `0..classes`.
    pub labels: Vec<i64>,
    /// `n` sample ids (the training set's index of each image: the cache's key), or empty (a
    /// source without ids; the cache refuses it).
    pub ids: Vec<u64>,
    /// `n` augmentations drawn for the images, or empty (not augmented, or not said).
    pub crops: Vec<Crop>,
}

/// A batch the prefix cache ([`crate::cache`]) can serve: a sample id per row (the cache's key)
/// and the rows' model input. [`HostBatch`] (images) and
/// [`TokenBatch`](crate::data::text::TokenBatch) (token ids) are ones; a task of yours with
/// its own batch type implements it to use the cache.
pub trait CachedBatch {
    /// Number of rows (samples).
    fn len(&self) -> usize;
    /// Whether the batch has no row.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// One sample id per row: the training set's index of each sample (empty: none, and the
    /// cache refuses the batch).
    fn ids(&self) -> &[u64];
    /// Rows `rows` as the model's input (that of unit 0) on `device`.
    fn input_rows(&self, rows: &[usize], device: &Device) -> UnitTensor;
    /// The augmentation drawn for each row (images: their crops, which the cache's `shift`
    /// mode takes in feature space); empty (the default) where there is none.
    fn crops(&self) -> &[Crop] {
        &[]
    }
}

impl CachedBatch for HostBatch {
    fn len(&self) -> usize {
        self.labels.len()
    }
    fn ids(&self) -> &[u64] {
        &self.ids
    }
    fn input_rows(&self, rows: &[usize], device: &Device) -> UnitTensor {
        let per: usize = self.shape[1..].iter().product();
        let values = rows.iter().flat_map(|&r| self.images[r * per..(r + 1) * per].iter().copied()).collect();
        let shape = [rows.len(), self.shape[1], self.shape[2], self.shape[3]];
        Tensor::<4>::from_data(TensorData::new(values, shape), device).into()
    }
    fn crops(&self) -> &[Crop] {
        &self.crops
    }
}

/// The random augmentation of one training image: a crop of the zero-padded image at offset
/// `(dx, dy)` (the padding itself being the centre) and an optional horizontal flip.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Crop {
    /// Column offset of the crop in the padded image, `0..=2·pad`.
    pub dx: u8,
    /// Row offset of the crop in the padded image, `0..=2·pad`.
    pub dy: u8,
    /// Flipped left to right after the crop.
    pub flip: bool,
}

impl HostBatch {
    /// A batch without sample ids or augmentations.
    pub fn new(images: Vec<f32>, shape: [usize; 4], labels: Vec<i64>) -> Self {
        Self { images, shape, labels, ids: Vec::new(), crops: Vec::new() }
    }

    /// With these sample ids (one per image).
    pub fn with_ids(self, ids: Vec<u64>) -> Self {
        Self { ids, ..self }
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The images and labels as tensors on `device`.
    pub fn to_device(self, device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
        let n = self.len();
        let images = Tensor::<4>::from_data(TensorData::new(self.images, self.shape), device);
        let targets = Tensor::<1, Int>::from_data(TensorData::new(self.labels, [n]), device);
        (images, targets)
    }
}

/// A source of training and evaluation batches of type `B` (image classification:
/// [`HostBatch`]; any other task: its [`Task::Batch`](crate::task::Task::Batch)).
///
/// The number of iterations of a run, and so every unit's budget, is
/// `epochs × train_batches_per_epoch()`: it comes from the data, not from a constant.
pub trait DataSource<B: 'static = HostBatch> {
    /// Number of training batches in every epoch.
    fn train_batches_per_epoch(&self) -> usize;
    /// The training batches of epoch `epoch` (shuffled and augmented as the source decides;
    /// the same epoch gives the same batches for the same seed).
    fn train_epoch(&mut self, epoch: usize) -> Box<dyn Iterator<Item = B> + '_>;
    /// The batches of epoch `epoch` from batch `start` on (to resume mid-epoch). The default
    /// builds and drops the first `start`.
    fn train_epoch_from(&mut self, epoch: usize, start: usize) -> Box<dyn Iterator<Item = B> + '_> {
        Box::new(self.train_epoch(epoch).skip(start))
    }
    /// The held-out batches (no augmentation), or none.
    fn eval_batches(&mut self) -> Box<dyn Iterator<Item = B> + '_>;
    /// For the prefix cache ([`crate::cache`]): a handle that rebuilds training samples by id.
    /// `None` (the default): the cache can run only in `reuse` mode without exact resume.
    fn samples(&self) -> Option<Box<dyn Samples<B>>> {
        None
    }
    /// For the drift signal ([`crate::drift`]): a fixed batch held out from training, the same
    /// at every call (only its inputs are used). `None` (the default): a drift policy is refused.
    fn probe(&self) -> Option<B> {
        None
    }
}

/// Training samples rebuilt by id, for the prefix cache: what its modes need beyond the batch
/// itself. Owned (not borrowing the source), so the loop can use it inside an epoch.
pub trait Samples<B = HostBatch>: Send {
    /// Whether a sample's input is the same in every epoch (no random augmentation): what the
    /// `exact` mode requires.
    fn repeats_exactly(&self) -> bool;
    /// The samples `ids`, in that order, as epoch `epoch` drew them (their augmentation of that
    /// epoch): `reuse` replays one epoch's draws with it, so a resumed run replays the same.
    /// `None` (the default): every epoch draws a sample alike, so a batch's own rows are the
    /// draw of any epoch.
    fn drawn(&self, epoch: usize, ids: &[u64]) -> Option<B> {
        let _ = (epoch, ids);
        None
    }
    /// The samples `ids` unaugmented, zero-padded by the crop's range on each side, and that
    /// padding (`shift` mode); `None` (the default) when the source has no random crop.
    fn padded(&self, ids: &[u64]) -> Option<(HostBatch, usize)> {
        let _ = ids;
        None
    }
}

/// Fixed batches in memory, the same every epoch (for tests and synthetic benchmarks). With
/// sample ids in its batches, the prefix cache can run on it in every mode but `shift`.
#[derive(Clone, Debug)]
pub struct InMemory<B = HostBatch> {
    /// Training batches.
    pub train: Vec<B>,
    /// Held-out batches.
    pub eval: Vec<B>,
}

impl<B: Clone + 'static> DataSource<B> for InMemory<B> {
    fn train_batches_per_epoch(&self) -> usize {
        self.train.len()
    }
    fn train_epoch(&mut self, _epoch: usize) -> Box<dyn Iterator<Item = B> + '_> {
        Box::new(self.train.iter().cloned())
    }
    fn eval_batches(&mut self) -> Box<dyn Iterator<Item = B> + '_> {
        Box::new(self.eval.iter().cloned())
    }
    /// The first held-out batch.
    fn probe(&self) -> Option<B> {
        self.eval.first().cloned()
    }
    /// Every epoch gives the same batches: their inputs repeat exactly.
    fn samples(&self) -> Option<Box<dyn Samples<B>>> {
        Some(Box::new(Repeating))
    }
}

/// [`Samples`] of a source whose every epoch draws the same inputs.
struct Repeating;

impl<B> Samples<B> for Repeating {
    fn repeats_exactly(&self) -> bool {
        true
    }
}
