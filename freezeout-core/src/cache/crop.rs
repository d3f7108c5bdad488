//! The `shift` mode's geometry: the random crop taken in feature space.
//!
//! The data pipeline crops a 32×32 window at offset `(dx, dy) ∈ [0, 2·pad]²` of the zero-padded
//! image and may flip it. The cache keeps the frozen prefix's output of the whole padded image
//! (and of its mirror image) and takes the same window of it: at a boundary of total stride `S`
//! the window is `1/S` as large and its offset `(d − pad)/S` from the centre, rounded toward the
//! centre. A flipped crop at `dx` is the crop at `2·pad − dx` of the mirrored padded image.

use crate::data::Crop;

/// Offset of the window along one axis of a feature map: `padded` long, the window `window`
/// long, for a crop at `d` of an image padded by `pad`.
pub(super) fn offset(d: u8, pad: usize, padded: usize, window: usize) -> usize {
    let slack = padded.saturating_sub(window) as i64;
    if pad == 0 {
        return (slack / 2) as usize;
    }
    let from_centre = (d as i64 - pad as i64) * slack / (2 * pad as i64);
    (slack / 2 + from_centre).clamp(0, slack) as usize
}

/// The map to read (0: the padded image's, 1: its mirror's) and the window's column and row.
pub(super) fn window(crop: Crop, pad: usize, padded: [usize; 2], window: [usize; 2]) -> (usize, usize, usize) {
    let dx = if crop.flip { (2 * pad) as u8 - crop.dx } else { crop.dx };
    let x = offset(dx, pad, padded[1], window[1]);
    let y = offset(crop.dy, pad, padded[0], window[0]);
    (crop.flip as usize, x, y)
}

/// Copies the `window` (`[h, w]`) at `(x, y)` of the `[c, H, W]` map `map` into `out`
/// (`c · h · w` values).
pub(super) fn copy_window(map: &[f32], shape: [usize; 3], (x, y): (usize, usize), window: [usize; 2], out: &mut [f32]) {
    let [c, h, w] = shape;
    let rows = out.chunks_exact_mut(window[1]);
    let from = map
        .chunks_exact(h * w)
        .take(c)
        .flat_map(|plane| (y..y + window[0]).map(move |r| &plane[r * w + x..r * w + x + window[1]]));
    for (o, src) in rows.zip(from) {
        o.copy_from_slice(src);
    }
}

/// Mirrors NCHW images left to right in place.
pub(super) fn mirror(images: &mut [f32], width: usize) {
    for row in images.chunks_exact_mut(width) {
        row.reverse();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// At stride 1 the window's offset is the crop's; at stride 2 and 4 it is the crop's offset
    /// from the centre divided by the stride, rounded toward the centre (symmetric: as many
    /// crops land left of the centre as right of it).
    #[test]
    fn the_window_follows_the_crop_at_every_stride() {
        for d in 0..=8u8 {
            assert_eq!(offset(d, 4, 40, 32), d as usize);
        }
        let at_stride_2: Vec<usize> = (0..=8).map(|d| offset(d, 4, 20, 16)).collect();
        assert_eq!(at_stride_2, vec![0, 1, 1, 2, 2, 2, 3, 3, 4]);
        let at_stride_4: Vec<usize> = (0..=8).map(|d| offset(d, 4, 10, 8)).collect();
        assert_eq!(at_stride_4, vec![0, 1, 1, 1, 1, 1, 1, 1, 2]);
        // A flipped crop reads the mirror at the mirrored offset.
        let c = Crop { dx: 1, dy: 6, flip: true };
        assert_eq!(window(c, 4, [40, 40], [32, 32]), (1, 7, 6));
    }

    /// The window of the padded map equals the crop of the image when the "prefix" is the
    /// identity: the feature-space crop is the pixel-space crop.
    #[test]
    fn an_identity_prefix_gives_the_pipeline_crop_exactly() {
        let (pad, side) = (2usize, 4usize);
        let wide = side + 2 * pad;
        let padded: Vec<f32> = (0..wide * wide).map(|v| v as f32).collect();
        for (dx, dy) in [(0u8, 0u8), (3, 1), (4, 4)] {
            let mut out = vec![0.0; side * side];
            let (_, x, y) = window(Crop { dx, dy, flip: false }, pad, [wide, wide], [side, side]);
            copy_window(&padded, [1, wide, wide], (x, y), [side, side], &mut out);
            let expected: Vec<f32> = (0..side)
                .flat_map(|r| (0..side).map(move |c| ((r + dy as usize) * wide + c + dx as usize) as f32))
                .collect();
            assert_eq!(out, expected);
            // Flipped: the crop mirrored, read from the mirrored padded image.
            let mut mirrored = padded.clone();
            mirror(&mut mirrored, wide);
            let mut out = vec![0.0; side * side];
            let (m, x, y) = window(Crop { dx, dy, flip: true }, pad, [wide, wide], [side, side]);
            copy_window(&mirrored, [1, wide, wide], (x, y), [side, side], &mut out);
            let mut flipped = expected.clone();
            mirror(&mut flipped, side);
            assert_eq!((m, out), (1, flipped));
        }
    }
}
