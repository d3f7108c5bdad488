//! The input pipeline: u8 images in memory, a seeded shuffle per epoch, the paper's
//! augmentation (random 32×32 crop of the 4-pixel zero-padded image, horizontal flip with
//! p = 0.5), per-dataset mean/std normalisation, and batches built on a background thread so
//! the training step never waits for them.

use super::cifar::{IMAGE_BYTES, Split};
use super::{Crop, DataSource, HostBatch, Samples};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;
use std::sync::mpsc::sync_channel;

const SIDE: usize = 32;
/// Padding of the random crop (pixels on each side).
pub const PAD: usize = 4;
/// Images in the drift policy's probe batch when the loader is given none of its own.
pub const PROBE_IMAGES: usize = 50;
/// Batches prepared ahead of the training step.
const PREFETCH: usize = 4;

/// Per-channel mean and standard deviation of pixel values scaled to `[0, 1]`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Normalization {
    /// Channel means.
    pub mean: [f32; 3],
    /// Channel standard deviations.
    pub std: [f32; 3],
}

impl Normalization {
    /// Computed from the images of `split` (the training images, as the reference's constants
    /// were).
    pub fn of(split: &Split) -> Self {
        let (mut sum, mut sq) = ([0f64; 3], [0f64; 3]);
        for image in split.images.chunks_exact(IMAGE_BYTES) {
            for (c, plane) in image.chunks_exact(SIDE * SIDE).enumerate() {
                for &p in plane {
                    let v = p as f64 / 255.0;
                    sum[c] += v;
                    sq[c] += v * v;
                }
            }
        }
        let n = (split.len() * SIDE * SIDE).max(1) as f64;
        let mean = sum.map(|s| s / n);
        let std = [0, 1, 2].map(|c| (sq[c] / n - mean[c] * mean[c]).max(1e-12).sqrt() as f32);
        Self { mean: mean.map(|m| m as f32), std }
    }
}

/// Batches from CIFAR splits; implements [`DataSource`].
#[derive(Clone)]
pub struct Loader {
    train: Arc<Split>,
    eval: Arc<Split>,
    batch: usize,
    eval_batch: usize,
    seed: u64,
    augment: bool,
    norm: Normalization,
    probe: Option<Arc<Split>>,
}

impl Loader {
    /// `batch`-sized training batches of `train` (normalised with `train`'s statistics) and
    /// held-out batches of `eval`.
    pub fn new(train: Split, eval: Split, batch: usize, seed: u64) -> Self {
        let norm = Normalization::of(&train);
        Self {
            train: Arc::new(train),
            eval: Arc::new(eval),
            batch: batch.max(1),
            eval_batch: 200,
            seed,
            augment: true,
            norm,
            probe: None,
        }
    }

    /// Images held out from training as the drift policy's probe batch (its
    /// [`DataSource::probe`]; normalised with the training statistics, centred, not flipped).
    /// Without it the probe is the first [`PROBE_IMAGES`] evaluation images (their inputs only).
    pub fn with_probe(mut self, images: Split) -> Self {
        self.probe = Some(Arc::new(images));
        self
    }

    /// Turns augmentation off (then training batches are only shuffled).
    pub fn without_augmentation(mut self) -> Self {
        self.augment = false;
        self
    }

    /// The normalisation in use.
    pub fn normalization(&self) -> Normalization {
        self.norm
    }

    /// Number of training images.
    pub fn train_len(&self) -> usize {
        self.train.len()
    }

    /// The image order of `epoch` (a permutation, the same for the same seed and epoch).
    pub fn order(&self, epoch: usize) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.train.len() as u32).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(mix(self.seed, epoch as u64, u64::MAX)));
        order
    }

    /// Builds training batch `b` of `epoch` (deterministic for the seed); its ids are the
    /// images' indices in the training split, its crops the augmentation drawn for each.
    pub fn train_batch(&self, epoch: usize, b: usize, order: &[u32]) -> HostBatch {
        let idx = &order[b * self.batch..((b + 1) * self.batch).min(order.len())];
        let crops = self.crops(epoch, b, idx.len());
        self.images_of(idx.iter().map(|&i| i as usize), &crops)
    }

    /// The augmentations of the first `n` images of batch `b` of `epoch`, drawn in order from
    /// the batch's own stream.
    fn crops(&self, epoch: usize, b: usize, n: usize) -> Vec<Crop> {
        let mut rng = ChaCha8Rng::seed_from_u64(mix(self.seed, epoch as u64, b as u64));
        let centre = Crop { dx: PAD as u8, dy: PAD as u8, flip: false };
        (0..n)
            .map(|_| match self.augment {
                true => Crop {
                    dx: rng.random_range(0..=2 * PAD) as u8,
                    dy: rng.random_range(0..=2 * PAD) as u8,
                    flip: rng.random_bool(0.5),
                },
                false => centre,
            })
            .collect()
    }

    /// Training images `idx` with augmentations `crops`, as a batch (ids: the indices).
    fn images_of(&self, idx: impl ExactSizeIterator<Item = usize>, crops: &[Crop]) -> HostBatch {
        let mut images = vec![0f32; idx.len() * IMAGE_BYTES];
        let mut batch = HostBatch::default();
        for ((out, i), c) in images.chunks_exact_mut(IMAGE_BYTES).zip(idx).zip(crops) {
            write_image(out, self.train.image(i), c.dx as usize, c.dy as usize, c.flip, &self.norm);
            batch.labels.push(self.train.labels[i] as i64);
            batch.ids.push(i as u64);
        }
        let shape = [batch.ids.len(), 3, SIDE, SIDE];
        HostBatch { images, shape, crops: if self.augment { crops.to_vec() } else { Vec::new() }, ..batch }
    }

    fn eval_batch(&self, start: usize) -> HostBatch {
        centred(&self.eval, start..(start + self.eval_batch).min(self.eval.len()), &self.norm)
    }
}

/// Images `range` of `split`, centred (no crop offset, no flip) and normalised with `norm`.
fn centred(split: &Split, range: std::ops::Range<usize>, norm: &Normalization) -> HostBatch {
    let n = range.len();
    let mut images = vec![0f32; n * IMAGE_BYTES];
    for (out, i) in images.chunks_exact_mut(IMAGE_BYTES).zip(range.clone()) {
        write_image(out, split.image(i), PAD, PAD, false, norm);
    }
    let labels = split.labels[range].iter().map(|&l| l as i64).collect();
    HostBatch::new(images, [n, 3, SIDE, SIDE], labels)
}

/// The loader's [`Samples`]: a sample's draw in any epoch (its place in that epoch's order, its
/// batch's stream), and the zero-padded images for the `shift` cache.
impl Samples for Loader {
    fn repeats_exactly(&self) -> bool {
        !self.augment
    }

    fn drawn(&self, epoch: usize, ids: &[u64]) -> Option<HostBatch> {
        let mut place = vec![0usize; self.train.len()];
        for (p, &i) in self.order(epoch).iter().enumerate() {
            place[i as usize] = p;
        }
        let crops: Vec<Crop> = ids
            .iter()
            .map(|&id| {
                let p = place[id as usize];
                self.crops(epoch, p / self.batch, p % self.batch + 1)[p % self.batch]
            })
            .collect();
        Some(self.images_of(ids.iter().map(|&i| i as usize), &crops))
    }

    fn padded(&self, ids: &[u64]) -> Option<(HostBatch, usize)> {
        if !self.augment {
            return None;
        }
        const WIDE: usize = SIDE + 2 * PAD;
        let mut batch = HostBatch { shape: [ids.len(), 3, WIDE, WIDE], ..HostBatch::default() };
        batch.images = vec![0f32; ids.len() * 3 * WIDE * WIDE];
        for (out, &id) in batch.images.chunks_exact_mut(3 * WIDE * WIDE).zip(ids) {
            let src = self.train.image(id as usize);
            for c in 0..3 {
                let (scale, shift) = (1.0 / (255.0 * self.norm.std[c]), -self.norm.mean[c] / self.norm.std[c]);
                let plane = &mut out[c * WIDE * WIDE..(c + 1) * WIDE * WIDE];
                plane.fill(shift);
                for y in 0..SIDE {
                    for x in 0..SIDE {
                        plane[(y + PAD) * WIDE + x + PAD] = src[c * SIDE * SIDE + y * SIDE + x] as f32 * scale + shift;
                    }
                }
            }
            batch.labels.push(self.train.labels[id as usize] as i64);
            batch.ids.push(id);
        }
        Some((batch, PAD))
    }
}

/// Crop at offset `(dx, dy)` of the zero-padded image (`PAD` = centre), optional flip,
/// normalise. Padding is zero in pixel space, as torchvision's `RandomCrop(32, padding=4)`.
fn write_image(out: &mut [f32], src: &[u8], dx: usize, dy: usize, flip: bool, norm: &Normalization) {
    for c in 0..3 {
        let (scale, shift) = (1.0 / (255.0 * norm.std[c]), -norm.mean[c] / norm.std[c]);
        let plane = &src[c * SIDE * SIDE..(c + 1) * SIDE * SIDE];
        let out = &mut out[c * SIDE * SIDE..(c + 1) * SIDE * SIDE];
        for y in 0..SIDE {
            let sy = (y + dy) as isize - PAD as isize;
            let row = &mut out[y * SIDE..(y + 1) * SIDE];
            if !(0..SIDE as isize).contains(&sy) {
                row.fill(shift);
                continue;
            }
            let src_row = &plane[sy as usize * SIDE..(sy as usize + 1) * SIDE];
            for (x, o) in row.iter_mut().enumerate() {
                let xs = if flip { SIDE - 1 - x } else { x };
                let sx = (xs + dx) as isize - PAD as isize;
                *o = if (0..SIDE as isize).contains(&sx) { src_row[sx as usize] as f32 * scale + shift } else { shift };
            }
        }
    }
}

/// A 64-bit mix of the seed, the epoch and the batch (SplitMix64 finaliser).
pub(super) fn mix(seed: u64, epoch: u64, batch: u64) -> u64 {
    let mut z = seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ batch.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl DataSource for Loader {
    fn train_batches_per_epoch(&self) -> usize {
        self.train.len().div_ceil(self.batch)
    }

    fn train_epoch(&mut self, epoch: usize) -> Box<dyn Iterator<Item = HostBatch> + '_> {
        self.train_epoch_from(epoch, 0)
    }

    fn train_epoch_from(&mut self, epoch: usize, start: usize) -> Box<dyn Iterator<Item = HostBatch> + '_> {
        let (tx, rx) = sync_channel(PREFETCH);
        let this = self.clone();
        let batches = self.train_batches_per_epoch();
        std::thread::spawn(move || {
            let order = this.order(epoch);
            for b in start..batches {
                if tx.send(this.train_batch(epoch, b, &order)).is_err() {
                    return; // the consumer stopped early
                }
            }
        });
        Box::new(rx.into_iter())
    }

    fn samples(&self) -> Option<Box<dyn Samples>> {
        Some(Box::new(self.clone()))
    }

    fn probe(&self) -> Option<HostBatch> {
        let split = self.probe.as_deref().unwrap_or(&self.eval);
        let n = if self.probe.is_some() { split.len() } else { split.len().min(PROBE_IMAGES) };
        (n > 0).then(|| centred(split, 0..n, &self.norm))
    }

    fn eval_batches(&mut self) -> Box<dyn Iterator<Item = HostBatch> + '_> {
        let this = &*self;
        Box::new((0..self.eval.len()).step_by(self.eval_batch).map(move |s| this.eval_batch(s)))
    }
}
