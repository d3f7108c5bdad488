//! Images for burn-train's data loaders (feature `learner`): 3×32×32 examples with a label,
//! batched into the built-in models' [`ImageBatch`].

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::data::dataset::InMemDataset;
use burn::tensor::{Device, Distribution, Int, Tensor};
use burn_freezeout::data::HostBatch;
use burn_freezeout::learner::ImageBatch;
use std::sync::Arc;

/// Values of one image.
const PIXELS: usize = 3 * 32 * 32;

/// One example: 3·32·32 values, a label and its sample id.
#[derive(Clone, Debug)]
pub struct ImageItem {
    /// Its index in the training set (the prefix cache's key).
    pub id: u64,
    /// The image, channel-major.
    pub pixels: Vec<f32>,
    /// Its class.
    pub label: i64,
}

/// Batches [`ImageItem`]s into an [`ImageBatch`] on the loader's device.
#[derive(Clone)]
pub struct ImageItemBatcher;

impl Batcher<ImageItem, ImageBatch> for ImageItemBatcher {
    fn batch(&self, items: Vec<ImageItem>, device: &Device) -> ImageBatch {
        let n = items.len();
        let host = HostBatch::new(
            items.iter().flat_map(|i| i.pixels.iter().copied()).collect(),
            [n, 3, 32, 32],
            items.iter().map(|i| i.label).collect(),
        );
        let (images, targets) = host.to_device(device);
        ImageBatch { images, targets, ids: items.iter().map(|i| i.id).collect() }
    }
}

/// `items` in order, in batches of `batch`.
pub fn loader(items: Vec<ImageItem>, batch: usize) -> Arc<dyn DataLoader<ImageBatch>> {
    DataLoaderBuilder::new(ImageItemBatcher).batch_size(batch).build(InMemDataset::new(items))
}

/// The examples of a host batch (its sample ids, or their place in it).
pub fn items_of(batch: &HostBatch) -> Vec<ImageItem> {
    (0..batch.len())
        .map(|i| ImageItem {
            id: batch.ids.get(i).copied().unwrap_or(i as u64),
            pixels: batch.images[i * PIXELS..(i + 1) * PIXELS].to_vec(),
            label: batch.labels[i],
        })
        .collect()
}

/// `n` examples of normal noise with uniform labels of 10 classes, drawn on `device`.
pub fn random(n: usize, device: &Device) -> Vec<ImageItem> {
    let plain = device.clone().without_autodiff();
    let pixels = Tensor::<4>::random([n, 3, 32, 32], Distribution::Normal(0.0, 1.0), &plain);
    let labels = Tensor::<1, Int>::random([n], Distribution::Uniform(0.0, 10.0), &plain);
    items_of(&HostBatch::new(
        pixels.into_data().iter::<f32>().collect(),
        [n, 3, 32, 32],
        labels.into_data().iter::<i64>().collect(),
    ))
}
