//! What the training loop reads: batches on the host, turned into tensors in the loop.

use burn::tensor::{Device, Int, Tensor, TensorData};

/// One batch on the host: images NCHW as `f32` (already normalised) and class labels.
#[derive(Clone, Debug, PartialEq)]
pub struct HostBatch {
    /// `n · c · h · w` values, NCHW.
    pub images: Vec<f32>,
    /// `[n, c, h, w]`.
    pub shape: [usize; 4],
    /// `n` labels in `0..classes`.
    pub labels: Vec<i64>,
}

impl HostBatch {
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
/// [`HostBatch`]; any other task: its [`Task::Batch`](super::Task::Batch)).
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
}

/// Fixed batches in memory, the same every epoch (for tests and synthetic benchmarks).
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
}
