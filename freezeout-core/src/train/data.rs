//! What the training loop reads: batches on the host, turned into tensors in the loop.

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
}

/// A source of training and evaluation batches.
///
/// The number of iterations of a run, and so every unit's budget, is
/// `epochs × train_batches_per_epoch()`: it comes from the data, not from a constant.
pub trait DataSource {
    /// Number of training batches in every epoch.
    fn train_batches_per_epoch(&self) -> usize;
    /// The training batches of epoch `epoch` (shuffled and augmented as the source decides;
    /// the same epoch gives the same batches for the same seed).
    fn train_epoch(&mut self, epoch: usize) -> Box<dyn Iterator<Item = HostBatch> + '_>;
    /// The batches of epoch `epoch` from batch `start` on (to resume mid-epoch). The default
    /// builds and drops the first `start`.
    fn train_epoch_from(&mut self, epoch: usize, start: usize) -> Box<dyn Iterator<Item = HostBatch> + '_> {
        Box::new(self.train_epoch(epoch).skip(start))
    }
    /// The held-out batches (no augmentation), or none.
    fn eval_batches(&mut self) -> Box<dyn Iterator<Item = HostBatch> + '_>;
    /// Number of classes.
    fn num_classes(&self) -> usize;
}

/// Fixed batches in memory, the same every epoch (for tests and synthetic benchmarks).
#[derive(Clone, Debug)]
pub struct InMemory {
    /// Training batches.
    pub train: Vec<HostBatch>,
    /// Held-out batches.
    pub eval: Vec<HostBatch>,
    /// Number of classes.
    pub classes: usize,
}

impl DataSource for InMemory {
    fn train_batches_per_epoch(&self) -> usize {
        self.train.len()
    }
    fn train_epoch(&mut self, _epoch: usize) -> Box<dyn Iterator<Item = HostBatch> + '_> {
        Box::new(self.train.iter().cloned())
    }
    fn eval_batches(&mut self) -> Box<dyn Iterator<Item = HostBatch> + '_> {
        Box::new(self.eval.iter().cloned())
    }
    fn num_classes(&self) -> usize {
        self.classes
    }
}
