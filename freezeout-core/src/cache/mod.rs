//! The frozen-prefix cache: once units `0..k` are frozen (BatchNorm in inference mode, no
//! dropout) their output is a fixed function of the input, so it is computed once per training
//! sample and kept, instead of again every epoch.
//!
//! An entry holds, for one sample id, the input of the first active unit (the *boundary*).
//! When the prefix grows from `k` to `k'`, an entry advances by running units `k..k'` on it,
//! never the image again. A batch mixes hits and misses: the misses run the prefix as without
//! a cache, the hits skip it, and both feed the same active units. Entries live in host memory
//! (on CUDA too: each batch's hits are uploaded), in `f32`, `bf16` or `f16`, within a byte
//! budget; what does not fit is computed as without a cache. The cache is derived data: not in
//! checkpoints, rebuilt after a resume.
//!
//! Three modes ([`CacheMode`]) differ in what a cached sample sees of the data augmentation:
//! * `exact`: only for inputs that repeat exactly (no random augmentation); the run computes
//!   what the uncached run computes.
//! * `reuse`: from the first freeze on, every sample's frozen prefix sees one fixed draw of its
//!   augmentation: that of the epoch in which the first unit froze (PipeTransformer's
//!   behaviour, made a function of seed, sample and epoch so a resumed run replays the same).
//! * `shift`: the augmentation survives. The entry is the prefix's output of the whole
//!   zero-padded image (and of its mirror image), and each step takes the step's random crop
//!   of it in feature space ([`crop`]): exact inside the window where the prefix is
//!   translation-equivariant, an approximation along its border (zero padding) and at odd
//!   offsets past a stride. A sample's frozen prefix always runs on its padded image (a miss
//!   too), so what a step computes does not depend on what the cache holds: a resumed run, or
//!   one with a smaller budget, computes the same. A map costs `(40/32)² ≈ 1.56` prefix
//!   forwards, once per flip drawn.
//!
//! Our [`fit`](crate::train::fit) and `paper-repro train --cache` use it; in your own loop
//! (`examples/cache.rs`):
//!
//! ```ignore
//! let mut cache = PrefixCache::new(CacheConfig::new(CacheMode::Exact))?;
//! let samples = data.samples(); // rebuilds samples by id (`reuse` and `shift` need it)
//! for batch in data.train_epoch(epoch) {
//!     model = freezeout.freeze(model);
//!     let targets = batch.labels.clone();
//!     let (x, unit) = cache.input(&model, batch, samples.as_deref(), epoch, &device)?;
//!     let logits = model.forward_from(x, unit).expect("a generated forward");
//!     // loss, backward, optimizer step and freezeout.advance() as before
//! }
//! ```

mod crop;
mod store;

use crate::FreezeOutForward;
use crate::train::{Crop, HostBatch, Samples};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use store::{Store, Values};

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

    /// The budget in bytes, checked: above 0 and at most the machine's memory.
    pub fn budget(&self) -> Result<u64, CacheError> {
        let total = machine_memory();
        let budget = self.mem.unwrap_or_else(|| default_budget(total));
        if budget == 0 {
            return Err(CacheError::Budget("a budget of 0 bytes holds nothing: give e.g. --cache-mem 4G".into()));
        }
        if let Some(total) = total.filter(|&t| budget > t) {
            return Err(CacheError::Budget(format!(
                "{} exceeds this machine's memory ({}): give at most that, e.g. --cache-mem {}",
                bytes_text(budget),
                bytes_text(total),
                bytes_text(default_budget(Some(total)))
            )));
        }
        Ok(budget)
    }
}

/// The default budget: 40% of the machine's memory (`MemTotal`), 4 GiB where it is unknown.
pub fn default_budget(machine: Option<u64>) -> u64 {
    machine.map_or(4 << 30, |m| m / 10 * 4)
}

/// The machine's memory in bytes (Linux: `/proc/meminfo`), if known.
pub fn machine_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// `bytes` as a short text (`1.5 GiB`).
pub fn bytes_text(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{bytes} B") } else { format!("{v:.1} {}", units[u]) }
}

/// Parses a byte count: `4G`, `512M`, `1.5GiB`, `1000000`.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        u => return Err(format!("`{text}`: unknown unit `{u}` (use e.g. 512M or 4G)")),
    };
    let n: f64 = number.parse().map_err(|_| format!("`{text}` is not a byte count (e.g. 512M or 4G)"))?;
    Ok((n * scale as f64) as u64)
}

/// Why the cache cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CacheError {
    /// A bad budget (`--cache-mem`).
    #[error("--cache-mem: {0}")]
    Budget(String),
    /// The batch has no sample ids.
    #[error(
        "--cache {0}: the training batches carry no sample ids (HostBatch::ids): give each image its index in the \
         training set, or run with --cache off"
    )]
    NoIds(CacheMode),
    /// `exact` on inputs that do not repeat.
    #[error(
        "--cache exact: the training inputs are randomly augmented, so a cached output would not be the one the \
         step computes; use --cache reuse or --cache shift (or turn the augmentation off)"
    )]
    NotRepeating,
    /// `shift` without a random crop to take in feature space.
    #[error(
        "--cache shift: the data source gives no padded images to crop in feature space (Samples::padded); use \
         --cache exact for unaugmented data or --cache reuse"
    )]
    NoPadding,
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
}

impl CacheStats {
    /// `hits / lookups` (0 without lookups).
    pub fn hit_rate(&self) -> f64 {
        if self.lookups == 0 { 0.0 } else { self.hits as f64 / self.lookups as f64 }
    }
}

/// The predicted size of the cache at one boundary.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BoundaryPlan {
    /// Frozen units.
    pub boundary: usize,
    /// Shape of one sample's cached input of unit `boundary` (`[c, h, w]`, of the padded image
    /// in `shift` mode).
    pub shape: [usize; 3],
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
    /// boundary's unit.
    shapes: HashMap<(usize, bool), [usize; 3]>,
    stats: CacheStats,
    /// Whether [`check`](Self::check) passed.
    checked: bool,
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
        })
    }

    /// The settings.
    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// Checks that the cache can run on `samples`' data before the run starts (the `exact`
    /// mode needs inputs that repeat, `shift` padded images).
    pub fn check(&self, samples: Option<&dyn Samples>) -> Result<(), CacheError> {
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
    /// it is the images and unit 0. `model` must be the driver's (frozen to its prefix),
    /// `epoch` the epoch in progress (`reuse` replays the draws of the first one with a frozen
    /// unit), `device` the training device; `samples` rebuilds samples by id (`reuse`, `shift`).
    pub fn input<M: FreezeOutForward<4, 2>>(
        &mut self,
        model: &M,
        batch: HostBatch,
        samples: Option<&dyn Samples>,
        epoch: usize,
        device: &Device,
    ) -> Result<(Tensor<4>, usize), CacheError> {
        let k = model.frozen_units().min(model.num_units());
        if self.config.is_off() || k == 0 {
            return Ok((batch.to_device(device).0, 0));
        }
        if !self.checked {
            self.check(samples)?;
            self.checked = true;
        }
        let n = batch.len();
        if batch.ids.len() != n {
            return Err(CacheError::NoIds(self.config.mode));
        }
        let reuse_epoch = *self.reuse_epoch.get_or_insert(epoch);
        self.stats.boundary = k;
        self.stats.lookups += n as u64;
        let shift = self.config.mode == CacheMode::Shift;
        let pad = match shift {
            true => samples.and_then(|s| s.padded(&[])).map(|(_, p)| p).ok_or(CacheError::NoPadding)?,
            false => 0,
        };
        let crops: Vec<Crop> = match batch.crops.len() == n {
            true => batch.crops.clone(),
            false => vec![Crop { dx: pad as u8, dy: pad as u8, flip: false }; n],
        };
        let image = [batch.shape[1], batch.shape[2], batch.shape[3]];
        let window = self.shape_at(model, k, image, device)?;
        // Rows by where they start: an entry at `b` (or 0: none).
        let mut groups: Vec<Group> = Vec::new();
        for (r, (&id, c)) in batch.ids.iter().zip(&crops).enumerate() {
            let from = match self.store.get(id) {
                Some(e) if e.boundary <= k && e.maps[shift as usize * c.flip as usize].is_some() => e.boundary,
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

        // Rows are written straight into the batch's input of unit `k`.
        let per_row = window.iter().product::<usize>();
        let mut x = vec![0f32; n * per_row];
        let mut scratch = Vec::new();
        for g in groups {
            let ids: Vec<u64> = g.rows.iter().map(|&r| batch.ids[r]).collect();
            let flips: Vec<usize> = g.rows.iter().map(|&r| shift as usize * crops[r].flip as usize).collect();
            if g.from == k {
                // Hits at the boundary: the stored maps (their windows in `shift`).
                let shape = self.shapes[&(k, shift)];
                for ((&r, &id), &f) in g.rows.iter().zip(&ids).zip(&flips) {
                    let e = self.store.get(id).expect("grouped by its entry");
                    let map = e.maps[f].as_ref().expect("grouped by its map").as_f32(self.config.float, &mut scratch);
                    write_row(
                        &mut x[r * per_row..(r + 1) * per_row],
                        map,
                        shape,
                        shift.then_some((crops[r], pad)),
                        window,
                    );
                }
                continue;
            }
            let (input, in_shape) = if g.from > 0 {
                (self.stored(&ids, &flips), self.shapes[&(g.from, shift)])
            } else if shift {
                let (mut p, _) = samples.and_then(|s| s.padded(&ids)).ok_or(CacheError::NoPadding)?;
                let [_, c, h, w] = p.shape;
                for (img, &f) in p.images.chunks_exact_mut(c * h * w).zip(&flips) {
                    if f == 1 {
                        crop::mirror(img, w);
                    }
                }
                (p.images, [c, h, w])
            } else if self.config.mode == CacheMode::Reuse && epoch != reuse_epoch {
                // Replay the draw of the reuse epoch (without a way to, the batch's own:
                // PipeTransformer's behaviour).
                let images = match samples {
                    Some(s) => s.drawn(reuse_epoch, &ids).images,
                    None => rows_of(&batch.images, image.iter().product(), &g.rows),
                };
                (images, image)
            } else {
                (rows_of(&batch.images, image.iter().product(), &g.rows), image)
            };
            // Units `from..k` on the device, the outputs back on the host, stored and written.
            let [c, h, w] = in_shape;
            let input = Tensor::<4>::from_data(TensorData::new(input, [ids.len(), c, h, w]), device);
            let y = model.forward_unit_range(input, g.from..k).ok_or(CacheError::ManualForward)?;
            let [_, c, h, w] = y.dims();
            self.check_shape(k, shift, [c, h, w])?;
            let values: Vec<f32> = y.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 after convert");
            for (((&r, &id), &f), v) in g.rows.iter().zip(&ids).zip(&flips).zip(values.chunks_exact(c * h * w)) {
                write_row(
                    &mut x[r * per_row..(r + 1) * per_row],
                    v,
                    [c, h, w],
                    shift.then_some((crops[r], pad)),
                    window,
                );
                match self.store.put(id, k, f, Values::encode(v, self.config.float)) {
                    true => self.stats.stored += 1,
                    false => self.stats.refused += 1,
                }
            }
        }
        Ok((Tensor::<4>::from_data(TensorData::new(x, [n, window[0], window[1], window[2]]), device), k))
    }

    /// The stored maps of `ids` (map `flips[i]` of each), decoded and concatenated.
    fn stored(&self, ids: &[u64], flips: &[usize]) -> Vec<f32> {
        let mut out = Vec::new();
        for (&id, &f) in ids.iter().zip(flips) {
            let e = self.store.get(id).expect("grouped by its entry");
            e.maps[f].as_ref().expect("grouped by its map").decode_into(self.config.float, &mut out);
        }
        out
    }

    /// The shape of one sample's input of unit `k` for `image`-shaped inputs (probed once with
    /// a zero image).
    fn shape_at<M: FreezeOutForward<4, 2>>(
        &mut self,
        model: &M,
        k: usize,
        image: [usize; 3],
        device: &Device,
    ) -> Result<[usize; 3], CacheError> {
        if let Some(s) = self.shapes.get(&(k, false)) {
            return Ok(*s);
        }
        let probe = Tensor::<4>::zeros([1, image[0], image[1], image[2]], device);
        let y = model.forward_unit_range(probe, 0..k).ok_or(CacheError::ManualForward)?;
        let [_, c, h, w] = y.dims();
        self.shapes.insert((k, false), [c, h, w]);
        Ok([c, h, w])
    }

    /// Records the shape of boundary `k`'s entries, or refuses one that differs.
    fn check_shape(&mut self, k: usize, padded: bool, shape: [usize; 3]) -> Result<(), CacheError> {
        let expected = *self.shapes.entry((k, padded)).or_insert(shape);
        if expected != shape {
            return Err(CacheError::ShapeVaries { boundary: k, expected: expected.to_vec(), found: shape.to_vec() });
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
        let (h, w) = if shift { (image[1] + 2 * pad, image[2] + 2 * pad) } else { (image[1], image[2]) };
        let device = device.clone().without_autodiff();
        let model = model.valid();
        let mut x = Tensor::<4>::zeros([1, image[0], h, w], &device);
        let mut plans = Vec::new();
        for k in 1..=model.num_units() {
            x = model.forward_unit_range(x, k - 1..k).ok_or(CacheError::ManualForward)?;
            let [_, c, h, w] = x.dims();
            let entry_bytes = (c * h * w) as u64 * config.float.bytes() * if shift { 2 } else { 1 };
            plans.push(BoundaryPlan {
                boundary: k,
                shape: [c, h, w],
                entry_bytes,
                total_bytes: entry_bytes * samples,
                fits: (budget / entry_bytes.max(1)).min(samples),
            });
        }
        Ok(plans)
    }
}

/// Writes one sample's input of the boundary's unit into `out`: `map` itself, or (`shift`,
/// with the sample's crop and the padding) the crop's window of the padded map `map`.
fn write_row(out: &mut [f32], map: &[f32], shape: [usize; 3], shift: Option<(Crop, usize)>, window: [usize; 3]) {
    match shift {
        None => out.copy_from_slice(map),
        Some((c, pad)) => {
            let (_, x, y) = crop::window(c, pad, [shape[1], shape[2]], [window[1], window[2]]);
            crop::copy_window(map, shape, (x, y), [window[1], window[2]], out);
        }
    }
}

/// Rows `rows` of `n`-value samples of `values`, concatenated.
fn rows_of(values: &[f32], per: usize, rows: &[usize]) -> Vec<f32> {
    rows.iter().flat_map(|&r| values[r * per..(r + 1) * per].iter().copied()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
