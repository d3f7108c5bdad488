//! The cache's host memory: one entry per sample id, each holding the input of one unit (the
//! boundary) in `f32`, `bf16` or `f16`, within a byte budget.

use super::CacheFloat;
use crate::data::Crop;
use std::collections::HashMap;

/// Which of an entry's maps: the image's, or its mirror image's (the `shift` mode keeps both,
/// since there a crop's flip is taken in feature space).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Map {
    Image,
    Mirror,
}

impl Map {
    /// The map a row with `crop` reads: the mirror's for a flipped crop in `shift` mode, the
    /// image's otherwise (the batch's images are already flipped).
    pub(super) fn of(crop: Crop, shift: bool) -> Self {
        if shift && crop.flip { Map::Mirror } else { Map::Image }
    }
}

/// One sample's cached features: the input of unit `boundary`, as one map or (the `shift`
/// mode) one map per flip of the padded image.
pub(super) struct Entry {
    pub(super) boundary: usize,
    maps: [Option<Values>; 2],
}

impl Entry {
    /// Map `map`, if stored.
    pub(super) fn map(&self, map: Map) -> Option<&Values> {
        self.maps[map as usize].as_ref()
    }

    fn bytes(&self) -> u64 {
        self.maps.iter().flatten().map(Values::bytes).sum()
    }
}

/// Stored values.
pub(super) enum Values {
    F32(Box<[f32]>),
    /// bf16 or f16 bits.
    Half(Box<[u16]>),
}

impl Values {
    pub(super) fn encode(values: &[f32], float: CacheFloat) -> Self {
        match float {
            CacheFloat::F32 => Values::F32(values.into()),
            CacheFloat::Bf16 => Values::Half(values.iter().map(|&v| half::bf16::from_f32(v).to_bits()).collect()),
            CacheFloat::F16 => Values::Half(values.iter().map(|&v| half::f16::from_f32(v).to_bits()).collect()),
        }
    }

    /// Appends the values as `f32` to `out`.
    pub(super) fn decode_into(&self, float: CacheFloat, out: &mut Vec<f32>) {
        match (self, float) {
            (Values::F32(v), _) => out.extend_from_slice(v),
            (Values::Half(v), CacheFloat::F16) => out.extend(v.iter().map(|&b| half::f16::from_bits(b).to_f32())),
            (Values::Half(v), _) => out.extend(v.iter().map(|&b| half::bf16::from_bits(b).to_f32())),
        }
    }

    /// The values as `f32`: borrowed when stored so, else decoded into `scratch`.
    pub(super) fn as_f32<'a>(&'a self, float: CacheFloat, scratch: &'a mut Vec<f32>) -> &'a [f32] {
        match self {
            Values::F32(v) => v,
            Values::Half(_) => {
                scratch.clear();
                self.decode_into(float, scratch);
                scratch
            }
        }
    }

    fn bytes(&self) -> u64 {
        match self {
            Values::F32(v) => 4 * v.len() as u64,
            Values::Half(v) => 2 * v.len() as u64,
        }
    }
}

/// The entries and what they take, never more than the budget.
pub(super) struct Store {
    entries: HashMap<u64, Entry>,
    bytes: u64,
    budget: u64,
}

impl Store {
    pub(super) fn new(budget: u64) -> Self {
        Self { entries: HashMap::new(), bytes: 0, budget }
    }

    pub(super) fn get(&self, id: u64) -> Option<&Entry> {
        self.entries.get(&id)
    }

    /// Stores map `map` of sample `id` at `boundary`: added beside the other map of an entry at
    /// the same boundary, else replacing the entry. Refused (returning `false`, the old entry
    /// kept) when the budget cannot hold it.
    pub(super) fn put(&mut self, id: u64, boundary: usize, map: Map, values: Values) -> bool {
        let flip = map as usize;
        let old = self.entries.get(&id);
        let same = old.is_some_and(|e| e.boundary == boundary);
        let freed = match (old, same) {
            (Some(e), true) => e.maps[flip].as_ref().map_or(0, Values::bytes),
            (Some(e), false) => e.bytes(),
            (None, _) => 0,
        };
        let needed = values.bytes();
        if self.bytes - freed + needed > self.budget {
            return false;
        }
        self.bytes = self.bytes - freed + needed;
        let entry = self.entries.entry(id).or_insert_with(|| Entry { boundary, maps: [None, None] });
        if !same {
            *entry = Entry { boundary, maps: [None, None] };
        }
        entry.maps[flip] = Some(values);
        true
    }

    /// Drops the entries whose boundary is past `k`, and returns how many.
    pub(super) fn drop_beyond(&mut self, k: usize) -> usize {
        let before = self.entries.len();
        let mut freed = 0;
        self.entries.retain(|_, e| {
            let keep = e.boundary <= k;
            if !keep {
                freed += e.bytes();
            }
            keep
        });
        self.bytes -= freed;
        before - self.entries.len()
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn bytes(&self) -> u64 {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The budget holds: an entry that does not fit is refused and the old one kept; a
    /// replacement frees what it replaces; bf16 halves the bytes and rounds to 8 bits of
    /// mantissa.
    #[test]
    fn the_budget_is_never_exceeded_and_replacements_free_their_bytes() {
        let mut s = Store::new(40);
        assert!(s.put(1, 1, Map::Image, Values::encode(&[1.0; 4], CacheFloat::F32)));
        assert!(s.put(2, 1, Map::Image, Values::encode(&[2.0; 4], CacheFloat::F32)));
        assert_eq!(s.bytes(), 32);
        assert!(!s.put(3, 1, Map::Image, Values::encode(&[3.0; 4], CacheFloat::F32)), "48 > 40");
        assert!(s.get(3).is_none());
        // Advancing sample 1 to boundary 2 with a larger map replaces its entry.
        assert!(s.put(1, 2, Map::Image, Values::encode(&[1.5; 6], CacheFloat::F32)));
        assert_eq!((s.bytes(), s.get(1).unwrap().boundary), (40, 2));
        assert!(!s.put(2, 2, Map::Image, Values::encode(&[1.0; 7], CacheFloat::F32)), "40 - 16 + 28 > 40");
        assert_eq!(s.get(2).unwrap().boundary, 1, "the refused advance keeps the old entry");
        // The other flip's map joins the entry at the same boundary.
        let mut s = Store::new(100);
        s.put(7, 3, Map::Image, Values::encode(&[1.0; 2], CacheFloat::F32));
        s.put(7, 3, Map::Mirror, Values::encode(&[2.0; 2], CacheFloat::F32));
        assert_eq!((s.len(), s.bytes()), (1, 16));
        let half = Values::encode(&[1.0, 1.0 + 1.0 / 512.0, -3.0], CacheFloat::Bf16);
        assert_eq!(half.bytes(), 6);
        let mut out = Vec::new();
        half.decode_into(CacheFloat::Bf16, &mut out);
        assert_eq!(out, vec![1.0, 1.0, -3.0]);
    }
}
