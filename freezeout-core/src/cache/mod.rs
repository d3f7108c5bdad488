//! The frozen-prefix cache: once units `0..k` are frozen (BatchNorm in inference mode, no
//! dropout) their output is a fixed function of the input, so it is computed once per training
//! sample and kept, instead of again every epoch.
//!
//! An entry holds, for one sample id, the input of the first active unit (the *boundary*).
//! When the prefix grows from `k` to `k'`, an entry advances by running units `k..k'` on it,
//! never the image again. A batch mixes hits and misses: the misses run the prefix as without
//! a cache, the hits skip it, and both feed the same active units. Entries live in host memory
//! (on CUDA too: each batch's hits are uploaded), in `f32`, `bf16` or `f16`, within a byte
//! budget; what does not fit is computed as without a cache. When the prefix shrinks (a
//! fine-tuning policy trains unit `k − 1` again), the entries at boundaries past the new prefix
//! are stale and dropped ([`CacheStats::dropped`]); those at or before it stay exact. The cache
//! is derived data: not in checkpoints, rebuilt after a resume.
//!
//! Three modes ([`CacheMode`]) differ in what a cached sample sees of the data augmentation:
//! * `exact`: only for inputs that repeat exactly (no random augmentation); the run computes
//!   what the uncached run computes.
//! * `reuse`: from the first freeze on, every sample's frozen prefix sees one fixed draw of its
//!   augmentation: that of the epoch in which the first unit froze (PipeTransformer's
//!   behaviour, made a function of seed, sample and epoch so a resumed run replays the same).
//! * `shift`: the augmentation survives. The entry is the prefix's output of the whole
//!   zero-padded image (and of its mirror image), and each step takes the step's random crop
//!   of it in feature space (the crop module): exact inside the window where the prefix is
//!   translation-equivariant, an approximation along its border (zero padding) and at odd
//!   offsets past a stride. A sample's frozen prefix always runs on its padded image (a miss
//!   too), so what a step computes does not depend on what the cache holds: a resumed run, or
//!   one with a smaller budget, computes the same. A map costs `(40/32)² ≈ 1.56` prefix
//!   forwards, once per flip drawn.
//!
//! Our loop ([`Fit`](crate::train::Fit)) and `paper-repro train --cache` use it; in your own loop
//! (`examples/cache.rs`):
//!
//! ```ignore
//! let mut cache = PrefixCache::new(CacheConfig::new(CacheMode::Exact))?;
//! let samples = data.samples(); // rebuilds samples by id (`reuse` and `shift` need it)
//! for batch in data.train_epoch(epoch) {
//!     model = freezeout.freeze(model);
//!     let targets = batch.labels.clone();
//!     let (x, unit) = cache.input(&model, &batch, samples.as_deref(), epoch, &device)?;
//!     let logits = model.forward_from(x, unit).expect("a generated forward");
//!     // loss, backward, optimizer step and freezeout.advance() as before
//! }
//! ```

mod budget;
mod crop;
mod store;

use crate::data::{CachedBatch, Crop, Samples};
use crate::unit_tensor::Layout;
use crate::{FreezeOutForward, UnitTensor};
pub use budget::{bytes_text, default_budget, parse_bytes};
use burn::tensor::kind::Autodiff;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use store::{Map, Store, Values};

/// What the cache does with the data augmentation (module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheMode {
    /// No cache: the frozen prefix runs forward every batch (the paper's behaviour).
    #[default]
    Off,
    /// Cache only inputs that repeat exactly: the same results as without the cache.
    Exact,
    /// A cached sample replays one draw of its augmentation (that of the first freeze's epoch).
    Reuse,
    /// Cache the padded image's features and crop them in feature space: augmentation kept.
    Shift,
}

impl CacheMode {
    /// Every mode, as the command line names them.
    pub const NAMES: [&str; 4] = ["off", "exact", "reuse", "shift"];

    /// The name (`off`, `exact`, `reuse`, `shift`).
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

impl std::fmt::Display for CacheMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for CacheMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let modes = [CacheMode::Off, CacheMode::Exact, CacheMode::Reuse, CacheMode::Shift];
        modes
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| format!("unknown cache mode `{s}`: expected {}", CacheMode::NAMES.join(", ")))
    }
}

/// The float type entries are stored in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheFloat {
    /// `f32`: exact.
    #[default]
    F32,
    /// `bf16`: half the memory, 8 bits of mantissa.
    Bf16,
    /// `f16`: half the memory, 11 bits of mantissa, range ±65504.
    F16,
}

impl std::fmt::Display for CacheFloat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(["f32", "bf16", "f16"][*self as usize])
    }
}

impl std::str::FromStr for CacheFloat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [CacheFloat::F32, CacheFloat::Bf16, CacheFloat::F16]
            .into_iter()
            .find(|f| f.to_string() == s)
            .ok_or_else(|| format!("unknown cache float type `{s}`: expected f32, bf16 or f16"))
    }
}

impl CacheFloat {
    /// Bytes per stored value.
    pub fn bytes(self) -> u64 {
        if self == CacheFloat::F32 { 4 } else { 2 }
    }
}

/// The cache's settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// What the cache does with augmentation (`off`: no cache).
    pub mode: CacheMode,
    /// Float type of the stored entries.
    pub float: CacheFloat,
    /// Byte budget of the entries; `None`: [`default_budget`] (40% of the machine's memory).
    pub mem: Option<u64>,
}

impl CacheConfig {
    /// A cache in `mode`, entries in `f32`, the default budget.
    pub fn new(mode: CacheMode) -> Self {
        Self { mode, ..Self::default() }
    }

    /// With entries stored as `float`.
    pub fn with_float(self, float: CacheFloat) -> Self {
        Self { float, ..self }
    }

    /// With a budget of `bytes`.
    pub fn with_mem(self, bytes: u64) -> Self {
        Self { mem: Some(bytes), ..self }
    }

    /// Whether there is no cache.
    pub fn is_off(&self) -> bool {
        self.mode == CacheMode::Off
    }
}

/// Why the cache cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CacheError {
    /// A bad budget (`--cache-mem`).
    #[error("--cache-mem: {0}")]
    Budget(String),
    /// The batch has no sample ids.
    #[error(
        "--cache {0}: the training batches carry no sample ids (CachedBatch::ids: HostBatch::ids, TokenBatch::ids, \
         the Learner's ImageBatch::ids): give each sample its index in the training set, or run with --cache off"
    )]
    NoIds(CacheMode),
    /// `exact` on inputs that do not repeat.
    #[error(
        "--cache exact: the training inputs are randomly augmented, so a cached output would not be the one the \
         step computes; use --cache reuse or --cache shift, or turn the augmentation off (--no-augment)"
    )]
    NotRepeating,
    /// `shift` without a random crop to take in feature space.
    #[error(
        "--cache shift: the data source gives no padded images to crop in feature space (Samples::padded); use \
         --cache exact for unaugmented data or --cache reuse"
    )]
    NoPadding,
    /// `shift` where a boundary's input is not a feature map.
    #[error(
        "--cache shift: the input of unit {boundary} has shape {shape:?} per sample, not a feature map [c, h, w] \
         whose window a crop could take; use --cache reuse (or --cache exact for unaugmented data)"
    )]
    NotAMap {
        /// The boundary.
        boundary: usize,
        /// One sample's shape of its input.
        shape: Vec<usize>,
    },
    /// A prefix output whose shape differs between samples.
    #[error(
        "--cache: the input of unit {boundary} has shape {expected:?} for one sample and {found:?} for another; \
         the cache needs one shape per boundary (run with --cache off)"
    )]
    ShapeVaries {
        /// The boundary.
        boundary: usize,
        /// The shape first seen.
        expected: Vec<usize>,
        /// The shape now.
        found: Vec<usize>,
    },
    /// The model's forward is hand-written.
    #[error(
        "--cache: the model's forward is hand-written (#[freezeout(manual)]), so the cache cannot run its units \
         one range at a time; use the generated forward (#[freezeout(head = ..)]) or --cache off"
    )]
    ManualForward,
    /// `reuse` or `shift` under burn-train's `Learner`.
    #[error(
        "FreezeOutModel::with_cache: the {0} mode rebuilds a sample by id with its augmentation, which a Learner's \
         data loader cannot; use CacheMode::Exact on training batches that repeat exactly (no random augmentation)"
    )]
    LearnerMode(CacheMode),
    /// The task does not support the cache.
    #[error("--cache: this task does not give the cache its inputs (Task::forward_cached); run with --cache off")]
    Unsupported,
}

/// What the cache did since the last [`PrefixCache::take_stats`] (an epoch, in our loop).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CacheStats {
    /// The frozen prefix at the end (the boundary new entries are written at).
    pub boundary: usize,
    /// Entries held at the end.
    pub entries: usize,
    /// Bytes they take.
    pub bytes: u64,
    /// Samples looked up (training samples with at least one unit frozen).
    pub lookups: u64,
    /// Lookups that found an entry (at the boundary, or behind it and advanced).
    pub hits: u64,
    /// Entries written (new or advanced).
    pub stored: u64,
    /// Entries the budget refused.
    pub refused: u64,
    /// Entries dropped because the frozen prefix shrank behind their boundary (a fine-tuning
    /// policy trained a unit before it again).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropped: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl CacheStats {
    /// `hits / lookups` (0 without lookups).
    pub fn hit_rate(&self) -> f64 {
        if self.lookups == 0 { 0.0 } else { self.hits as f64 / self.lookups as f64 }
    }

    /// The share of lookups read at the boundary with no unit run: `(lookups − stored −
    /// refused) / lookups` (0 without lookups). A hit behind the boundary runs the units it
    /// lacks and is stored again, as a miss is: it counts in [`hit_rate`](Self::hit_rate), not here.
    ///
    /// ```
    /// use burn_freezeout::cache::CacheStats;
    /// // An epoch in which every sample found its entry, 75 of 100 behind the boundary.
    /// let epoch = CacheStats { lookups: 100, hits: 100, stored: 75, ..CacheStats::default() };
    /// assert_eq!((epoch.hit_rate(), epoch.read_rate()), (1.0, 0.25));
    /// ```
    pub fn read_rate(&self) -> f64 {
        let computed = self.stored + self.refused;
        if self.lookups == 0 { 0.0 } else { self.lookups.saturating_sub(computed) as f64 / self.lookups as f64 }
    }
}

/// The predicted size of the cache at one boundary.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BoundaryPlan {
    /// Frozen units.
    pub boundary: usize,
    /// Shape of one sample's cached input of unit `boundary` (`[c, h, w]` for a feature map, of
    /// the padded image in `shift` mode; `[tokens, width]` for a transformer's blocks).
    pub shape: Vec<usize>,
    /// Bytes of one entry (both maps in `shift` mode).
    pub entry_bytes: u64,
    /// Bytes of all `samples` entries.
    pub total_bytes: u64,
    /// Entries the budget holds (at most `samples`).
    pub fits: u64,
}

/// The frozen-prefix cache (module docs).
pub struct PrefixCache {
    config: CacheConfig,
    store: Store,
    /// The epoch whose draws `reuse` replays (that of the first freeze).
    reuse_epoch: Option<usize>,
    /// Per boundary and input kind (`true`: padded), the shape of one sample's input of the
    /// boundary's unit, and its tensor type.
    shapes: HashMap<(usize, bool), (Vec<usize>, Layout)>,
    stats: CacheStats,
    /// Whether [`check`](Self::check) passed.
    checked: bool,
    /// The frozen prefix of the last batch.
    prefix: usize,
}

/// One group of a batch's rows, computed together.
struct Group {
    rows: Vec<usize>,
    /// The boundary they start from (0: the input).
    from: usize,
}

impl PrefixCache {
    /// An empty cache; the budget is checked here.
    pub fn new(config: CacheConfig) -> Result<Self, CacheError> {
        let budget = if config.is_off() { 0 } else { config.budget()? };
        Ok(Self {
            config,
            store: Store::new(budget),
            reuse_epoch: None,
            shapes: HashMap::new(),
            stats: CacheStats::default(),
            checked: false,
            prefix: 0,
        })
    }

    /// The settings.
    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// Checks that the cache can run on `samples`' data before the run starts (the `exact`
    /// mode needs inputs that repeat, `shift` padded images).
    pub fn check<B>(&self, samples: Option<&dyn Samples<B>>) -> Result<(), CacheError> {
        match self.config.mode {
            CacheMode::Exact if !samples.is_some_and(|s| s.repeats_exactly()) => Err(CacheError::NotRepeating),
            CacheMode::Shift if samples.and_then(|s| s.padded(&[])).is_none() => Err(CacheError::NoPadding),
            _ => Ok(()),
        }
    }

    /// Sets the epoch whose draws `reuse` replays: that of the first freeze (a resumed run
    /// knows it from its finished epochs). Unset, the first batch with a frozen unit sets it.
    pub fn set_reuse_epoch(&mut self, epoch: usize) {
        self.reuse_epoch = Some(epoch);
    }

    /// Entries held.
    pub fn entries(&self) -> usize {
        self.store.len()
    }

    /// Bytes they take.
    pub fn bytes(&self) -> u64 {
        self.store.bytes()
    }

    /// What the cache did since the last call, and a fresh count.
    pub fn take_stats(&mut self) -> CacheStats {
        let stats = CacheStats { entries: self.store.len(), bytes: self.store.bytes(), ..self.stats };
        self.stats = CacheStats { boundary: self.stats.boundary, ..CacheStats::default() };
        stats
    }

    /// The input of the first active unit for `batch`, and that unit: `(features, k)` to
    /// feed [`FreezeOutForward::forward_from`]. Without a frozen unit (or with the cache off)
    /// it is the batch's input and unit 0. `model` must be the driver's (frozen to its prefix),
    /// `epoch` the epoch in progress (`reuse` replays the draws of the first one with a frozen
    /// unit), `device` the training device; `samples` rebuilds samples by id (`reuse`, `shift`).
    /// Any batch with sample ids ([`CachedBatch`]: images, token ids, yours) and any model
    /// with a generated forward.
    pub fn input<M, B, const I: usize, const O: usize, K>(
        &mut self,
        model: &M,
        batch: &B,
        samples: Option<&dyn Samples<B>>,
        epoch: usize,
        device: &Device,
    ) -> Result<(UnitTensor, usize), CacheError>
    where
        M: FreezeOutForward<I, O, K>,
        B: CachedBatch,
        K: Autodiff + Send + 'static,
    {
        let k = model.frozen_units().min(model.num_units());
        let n = batch.len();
        if k < self.prefix {
            // A unit before these entries' boundaries trains again: their inputs are stale.
            self.stats.dropped += self.store.drop_beyond(k) as u64;
        }
        self.prefix = k;
        self.stats.boundary = k;
        if self.config.is_off() || k == 0 {
            return Ok((batch.input_rows(&(0..n).collect::<Vec<_>>(), device), 0));
        }
        if !self.checked {
            self.check(samples)?;
            self.checked = true;
        }
        let rows = self.rows(batch, samples)?;
        let reuse_epoch = *self.reuse_epoch.get_or_insert(epoch);
        let (window, layout) = self.shape_at(model, k, batch, device)?;
        if rows.shift && window.len() != 3 {
            return Err(CacheError::NotAMap { boundary: k, shape: window });
        }
        // Rows are written straight into the batch's input of unit `k`, group by group.
        let mut x = Boundary::zeros(n, window, layout);
        for group in self.group(&rows, k) {
            if group.from == k {
                self.write_hits(&group, &rows, &mut x);
                continue;
            }
            let source = match group.from {
                0 if rows.shift => Source::Padded,
                0 if self.config.mode == CacheMode::Reuse && epoch != reuse_epoch => Source::Drawn(reuse_epoch),
                0 => Source::Batch,
                _ => Source::Stored,
            };
            let input = self.group_input(&group, &rows, source, batch, samples, device)?;
            self.advance(model, &group, &rows, input, k, &mut x)?;
        }
        Ok((x.into_tensor(device), k))
    }

    /// Each row's id, crop and map (the crop's map in `shift` mode), checked: the batch has ids,
    /// `shift` has padded images to crop.
    fn rows<B: CachedBatch>(&self, batch: &B, samples: Option<&dyn Samples<B>>) -> Result<Rows, CacheError> {
        let n = batch.len();
        if batch.ids().len() != n {
            return Err(CacheError::NoIds(self.config.mode));
        }
        let shift = self.config.mode == CacheMode::Shift;
        let pad = match shift {
            true => samples.and_then(|s| s.padded(&[])).map(|(_, p)| p).ok_or(CacheError::NoPadding)?,
            false => 0,
        };
        let crops: Vec<Crop> = match batch.crops().len() == n {
            true => batch.crops().to_vec(),
            false => vec![Crop { dx: pad as u8, dy: pad as u8, flip: false }; n],
        };
        let maps = crops.iter().map(|&c| Map::of(c, shift)).collect();
        Ok(Rows { ids: batch.ids().to_vec(), crops, maps, shift, pad })
    }

    /// The batch's rows grouped by where they start: the boundary of their entry (a hit), or
    /// 0 (a miss); the lookups and hits counted.
    fn group(&mut self, rows: &Rows, k: usize) -> Vec<Group> {
        self.stats.lookups += rows.ids.len() as u64;
        let mut groups: Vec<Group> = Vec::new();
        for (r, (&id, &map)) in rows.ids.iter().zip(&rows.maps).enumerate() {
            let from = match self.store.get(id) {
                Some(e) if e.boundary <= k && e.map(map).is_some() => e.boundary,
                _ => 0,
            };
            if from > 0 {
                self.stats.hits += 1;
            }
            match groups.iter_mut().find(|g| g.from == from) {
                Some(g) => g.rows.push(r),
                None => groups.push(Group { rows: vec![r], from }),
            }
        }
        groups
    }

    /// Hits at the boundary: their stored maps (their crop's window in `shift` mode) into `x`.
    fn write_hits(&self, group: &Group, rows: &Rows, x: &mut Boundary) {
        let shape = &self.shapes[&(group.from, rows.shift)].0;
        let mut scratch = Vec::new();
        for &r in &group.rows {
            let e = self.store.get(rows.ids[r]).expect("grouped by its entry");
            let map = e.map(rows.maps[r]).expect("grouped by its map").as_f32(self.config.float, &mut scratch);
            x.write(r, map, shape, rows.window_of(r));
        }
    }

    /// The group's input of unit `group.from` on `device`.
    fn group_input<B: CachedBatch>(
        &self,
        group: &Group,
        rows: &Rows,
        source: Source,
        batch: &B,
        samples: Option<&dyn Samples<B>>,
        device: &Device,
    ) -> Result<UnitTensor, CacheError> {
        let ids: Vec<u64> = group.rows.iter().map(|&r| rows.ids[r]).collect();
        let all: Vec<usize> = (0..ids.len()).collect();
        Ok(match source {
            Source::Stored => {
                let mut out = Vec::new();
                for &r in &group.rows {
                    let e = self.store.get(rows.ids[r]).expect("grouped by its entry");
                    e.map(rows.maps[r]).expect("grouped by its map").decode_into(self.config.float, &mut out);
                }
                let (shape, layout) = &self.shapes[&(group.from, rows.shift)];
                let dims: Vec<usize> = std::iter::once(ids.len()).chain(shape.iter().copied()).collect();
                layout.build(TensorData::new(out, dims), device)
            }
            Source::Padded => {
                let (mut p, _) = samples.and_then(|s| s.padded(&ids)).ok_or(CacheError::NoPadding)?;
                let [_, c, h, w] = p.shape;
                for (img, &r) in p.images.chunks_exact_mut(c * h * w).zip(&group.rows) {
                    if rows.maps[r] == Map::Mirror {
                        crop::mirror(img, w);
                    }
                }
                p.input_rows(&all, device)
            }
            // Replay the draw of the reuse epoch (a source whose draws do not change gives none:
            // the batch's own rows are that draw).
            Source::Drawn(epoch) => match samples.and_then(|s| s.drawn(epoch, &ids)) {
                Some(drawn) => drawn.input_rows(&all, device),
                None => batch.input_rows(&group.rows, device),
            },
            Source::Batch => batch.input_rows(&group.rows, device),
        })
    }

    /// Runs units `group.from..k` on `input`, and writes each output into `x` and the store.
    fn advance<M, const I: usize, const O: usize, K>(
        &mut self,
        model: &M,
        group: &Group,
        rows: &Rows,
        input: UnitTensor,
        k: usize,
        x: &mut Boundary,
    ) -> Result<(), CacheError>
    where
        M: FreezeOutForward<I, O, K>,
        K: Autodiff + Send + 'static,
    {
        let y = model.forward_unit_range(input, group.from..k).ok_or(CacheError::ManualForward)?;
        let shape = y.dims()[1..].to_vec();
        self.check_shape(k, rows.shift, &shape, &y)?;
        let per: usize = shape.iter().product();
        let values: Vec<f32> = y.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 after convert");
        for (&r, v) in group.rows.iter().zip(values.chunks_exact(per)) {
            x.write(r, v, &shape, rows.window_of(r));
            match self.store.put(rows.ids[r], k, rows.maps[r], Values::encode(v, self.config.float)) {
                true => self.stats.stored += 1,
                false => self.stats.refused += 1,
            }
        }
        Ok(())
    }

    /// The shape and type of one sample's input of unit `k` (probed once, on the batch's first
    /// row).
    fn shape_at<M, B, const I: usize, const O: usize, K>(
        &mut self,
        model: &M,
        k: usize,
        batch: &B,
        device: &Device,
    ) -> Result<(Vec<usize>, Layout), CacheError>
    where
        M: FreezeOutForward<I, O, K>,
        B: CachedBatch,
        K: Autodiff + Send + 'static,
    {
        if let Some((s, layout)) = self.shapes.get(&(k, false)) {
            return Ok((s.clone(), *layout));
        }
        let probe = batch.input_rows(&[0], device);
        let y = model.forward_unit_range(probe, 0..k).ok_or(CacheError::ManualForward)?;
        let shape = y.dims()[1..].to_vec();
        self.shapes.insert((k, false), (shape.clone(), y.layout()));
        Ok((shape, y.layout()))
    }

    /// Records the shape of boundary `k`'s entries (`y` one of them), or refuses one that differs.
    fn check_shape(&mut self, k: usize, padded: bool, shape: &[usize], y: &UnitTensor) -> Result<(), CacheError> {
        let (expected, _) = self.shapes.entry((k, padded)).or_insert_with(|| (shape.to_vec(), y.layout()));
        if expected != shape {
            return Err(CacheError::ShapeVaries { boundary: k, expected: expected.clone(), found: shape.to_vec() });
        }
        Ok(())
    }

    /// The predicted size of the cache at every boundary `1..=N` for `samples` training
    /// samples of shape `image` (`[c, h, w]`), padded by `pad` in `shift` mode; probed on
    /// `device` (without autodiff) with one zero image.
    pub fn plan<M: FreezeOutForward<4, 2>>(
        config: &CacheConfig,
        model: &M,
        image: [usize; 3],
        pad: usize,
        samples: u64,
        device: &Device,
    ) -> Result<Vec<BoundaryPlan>, CacheError> {
        let budget = config.budget()?;
        let shift = config.mode == CacheMode::Shift;
        let device = device.clone().without_autodiff();
        let model = model.valid();
        if shift {
            // Feature maps at every boundary, checked on the image itself: a model whose units
            // take only that size (a ViT's position embedding) cannot even run the padded one.
            let mut x = UnitTensor::from(Tensor::<4>::zeros([1, image[0], image[1], image[2]], &device));
            for k in 1..=model.num_units() {
                x = model.forward_unit_range(x, k - 1..k).ok_or(CacheError::ManualForward)?;
                if x.rank() != 4 {
                    return Err(CacheError::NotAMap { boundary: k, shape: x.dims()[1..].to_vec() });
                }
            }
        }
        let (h, w) = if shift { (image[1] + 2 * pad, image[2] + 2 * pad) } else { (image[1], image[2]) };
        let mut x = UnitTensor::from(Tensor::<4>::zeros([1, image[0], h, w], &device));
        let mut plans = Vec::new();
        for k in 1..=model.num_units() {
            x = model.forward_unit_range(x, k - 1..k).ok_or(CacheError::ManualForward)?;
            let shape = x.dims()[1..].to_vec();
            let values = shape.iter().product::<usize>() as u64;
            let entry_bytes = values * config.float.bytes() * if shift { 2 } else { 1 };
            plans.push(BoundaryPlan {
                boundary: k,
                shape,
                entry_bytes,
                total_bytes: entry_bytes * samples,
                fits: (budget / entry_bytes.max(1)).min(samples),
            });
        }
        Ok(plans)
    }
}

/// A batch's rows as the cache sees them.
struct Rows {
    ids: Vec<u64>,
    crops: Vec<Crop>,
    /// The map each row reads and writes.
    maps: Vec<Map>,
    /// `shift` mode: entries are maps of the padded image, each row takes its crop's window.
    shift: bool,
    /// The crop's padding (`shift` mode).
    pad: usize,
}

impl Rows {
    /// Row `r`'s window of a padded map: its crop and the padding (`shift` mode), else `None`.
    fn window_of(&self, r: usize) -> Option<(Crop, usize)> {
        self.shift.then_some((self.crops[r], self.pad))
    }
}

/// Where a group's input of its first unit comes from.
enum Source {
    /// Its entries (behind the boundary: advanced).
    Stored,
    /// The padded images, mirrored for a flipped crop (`shift`).
    Padded,
    /// The draws of this epoch, rebuilt by id (`reuse` after its epoch).
    Drawn(usize),
    /// The batch's own images.
    Batch,
}

/// The batch's input of the boundary's unit, being written row by row on the host.
struct Boundary {
    values: Vec<f32>,
    n: usize,
    /// One sample's shape.
    window: Vec<usize>,
    layout: Layout,
}

impl Boundary {
    fn zeros(n: usize, window: Vec<usize>, layout: Layout) -> Self {
        Self { values: vec![0f32; n * window.iter().product::<usize>()], n, window, layout }
    }

    /// Writes row `r`: `map` itself, or (`shift`, with the row's crop and the padding) the
    /// crop's window of the padded map `map` of shape `shape` (`[c, h, w]`).
    fn write(&mut self, r: usize, map: &[f32], shape: &[usize], window_of: Option<(Crop, usize)>) {
        let per_row = self.window.iter().product::<usize>();
        let out = &mut self.values[r * per_row..(r + 1) * per_row];
        match window_of {
            None => out.copy_from_slice(map),
            Some((c, pad)) => {
                let (shape, [_, h, w]) = (map_shape(shape), map_shape(&self.window));
                let (_, x, y) = crop::window(c, pad, [shape[1], shape[2]], [h, w]);
                crop::copy_window(map, shape, (x, y), [h, w], out);
            }
        }
    }

    fn into_tensor(self, device: &Device) -> UnitTensor {
        let dims: Vec<usize> = std::iter::once(self.n).chain(self.window).collect();
        self.layout.build(TensorData::new(self.values, dims), device)
    }
}

/// A feature map's `[c, h, w]` (`shift` mode checks the rank before it writes).
fn map_shape(shape: &[usize]) -> [usize; 3] {
    shape.try_into().expect("shift mode's entries are feature maps")
}

#[cfg(test)]
mod tests {
    use super::*;
    use budget::machine_memory;

    #[test]
    fn byte_counts_read_and_print_with_units() {
        assert_eq!(parse_bytes("4G"), Ok(4 << 30));
        assert_eq!(parse_bytes("512MiB"), Ok(512 << 20));
        assert_eq!(parse_bytes("1.5g"), Ok(3 << 29));
        assert_eq!(parse_bytes("1000"), Ok(1000));
        assert!(parse_bytes("4 parsecs").unwrap_err().contains("unknown unit"));
        assert_eq!(bytes_text(3 << 29), "1.5 GiB");
        assert_eq!("shift".parse::<CacheMode>(), Ok(CacheMode::Shift));
        assert!("on".parse::<CacheMode>().unwrap_err().contains("expected off, exact, reuse, shift"));
    }

    /// The text table's last epoch: every sample found its entry, 4,250 of them behind the
    /// boundary (advanced and stored again), 750 read.
    #[test]
    fn only_entries_at_the_boundary_count_as_reads() {
        let s = CacheStats { lookups: 5000, hits: 5000, stored: 4250, ..CacheStats::default() };
        assert_eq!((s.hit_rate(), s.read_rate()), (1.0, 0.15));
        let refused = CacheStats { lookups: 100, stored: 50, refused: 50, ..CacheStats::default() };
        assert_eq!((refused.hit_rate(), refused.read_rate()), (0.0, 0.0));
        assert_eq!(CacheStats::default().read_rate(), 0.0);
    }

    /// A budget of 0 or above the machine's memory is refused naming the flag.
    #[test]
    fn bad_budgets_name_the_flag() {
        let e = CacheConfig::new(CacheMode::Reuse).with_mem(0).budget().unwrap_err().to_string();
        assert!(e.starts_with("--cache-mem: a budget of 0"), "{e}");
        if let Some(total) = machine_memory() {
            let e = CacheConfig::new(CacheMode::Reuse).with_mem(total + 1).budget().unwrap_err().to_string();
            assert!(e.contains("exceeds this machine's memory"), "{e}");
            assert_eq!(CacheConfig::new(CacheMode::Reuse).budget(), Ok(total / 10 * 4));
        }
    }
}
