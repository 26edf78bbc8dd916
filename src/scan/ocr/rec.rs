//! Recogniser and direction-classifier inputs: a text-line crop resized to height 48 keeping
//! its aspect ratio, normalised to −1..=1 and padded with zeros on the right, as PP-OCR's
//! `resize_norm_img`. Batches group crops of similar aspect ratio so little of each input is
//! padding.

use crate::error::{Error, Result};
use crate::scan::image::RgbImage;
use crate::scan::resize::{resize_into_planes, Normalize};
use std::borrow::Borrow;

/// Input height of PP-OCRv3/v4 recognisers and of the direction classifier.
pub const REC_HEIGHT: usize = 48;
/// Narrowest recogniser input (PP-OCR's `rec_img_shape` width).
pub const REC_MIN_WIDTH: usize = 320;
/// Widest recogniser input; longer lines are squeezed (their aspect ratio is not kept).
pub const REC_MAX_WIDTH: usize = 3200;
/// The direction classifier's fixed input width.
pub const CLS_WIDTH: usize = 192;
/// Recogniser input widths are rounded up to a multiple of this (each width needs its own
/// engine plan; planning a new width is cheap, the engine keeps the graph typed with the
/// width open).
pub const WIDTH_STEP: usize = 32;
/// Zero columns the recogniser gets right of its widest crop. PP-OCRv4 reads the end of a
/// line worse without them: on the 400 test lines of benches/ocr (compressed models, one line
/// a batch) character accuracy was 96.52 % with widths rounded up to 32 and no margin,
/// 97.55 % with a margin of 48, 98.04 % with 96, and 97.71 % with the earlier rounding up to
/// a multiple of 160 (a margin of 0–159).
pub const REC_RIGHT_MARGIN: usize = 2 * REC_HEIGHT;

/// Width a `w × h` crop takes once resized to [`REC_HEIGHT`], capped at `max_width`.
pub fn resized_width(w: usize, h: usize, max_width: usize) -> usize {
    let exact = (REC_HEIGHT as f64 * w as f64 / h.max(1) as f64).ceil() as usize;
    exact.clamp(1, max_width.max(1))
}

/// The padded input width for a batch whose widest crop is `w × h`: its width at height 48
/// plus [`REC_RIGHT_MARGIN`], at least [`REC_MIN_WIDTH`], rounded up to [`WIDTH_STEP`].
pub fn batch_width(w: usize, h: usize) -> usize {
    let want = (resized_width(w, h, REC_MAX_WIDTH) + REC_RIGHT_MARGIN).max(REC_MIN_WIDTH);
    want.div_ceil(WIDTH_STEP).saturating_mul(WIDTH_STEP).min(REC_MAX_WIDTH)
}

/// Resizes and normalises crops into one `[n, 3, REC_HEIGHT, pad_width]` batch.
pub fn batch(crops: &[&RgbImage], pad_width: usize) -> Result<Vec<f32>> {
    if pad_width == 0 || pad_width > REC_MAX_WIDTH {
        return Err(Error::InvalidArgument(format!("recogniser width {pad_width} (1..={REC_MAX_WIDTH})")));
    }
    let item = 3 * REC_HEIGHT * pad_width;
    let mut out = vec![0f32; crops.len() * item];
    for (crop, dst) in crops.iter().zip(out.chunks_exact_mut(item)) {
        let w = resized_width(crop.width, crop.height, pad_width);
        resize_into_planes(crop, w, REC_HEIGHT, pad_width, REC_HEIGHT, Normalize::SYMMETRIC, dst);
    }
    Ok(out)
}

/// Indices of `crops` in order of aspect ratio (narrowest first).
fn by_aspect<C: Borrow<RgbImage>>(crops: &[C]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..crops.len()).collect();
    order.sort_by(|&a, &b| {
        let r = |i: usize| {
            let c: &RgbImage = crops[i].borrow();
            c.width as f64 / c.height.max(1) as f64
        };
        r(a).total_cmp(&r(b))
    });
    order
}

/// Indices of `crops` grouped into batches of at most `size`, in order of aspect ratio.
pub fn batches_by_width<C: Borrow<RgbImage>>(crops: &[C], size: usize) -> Vec<Vec<usize>> {
    by_aspect(crops).chunks(size.max(1)).map(<[usize]>::to_vec).collect()
}

/// Most a recogniser batch's padded width may exceed its narrowest crop's (by
/// [`batch_width`]): on a page, a fixed six crops per batch put the short lines (a title, a
/// page number) in a batch padded to a full line's width.
pub const MAX_BATCH_WIDTH_RATIO: f64 = 1.3;

/// Indices of `crops` grouped for the recogniser: in order of aspect ratio, at most `size` a
/// batch, and a new batch once a crop's padded width exceeds [`MAX_BATCH_WIDTH_RATIO`]
/// times that of the batch's first (narrowest) crop. On text/0052 of the scene set (27
/// lines) this makes 28,064 input columns, against 30,432 for six crops a batch.
pub fn batches_for_recogniser<C: Borrow<RgbImage>>(crops: &[C], size: usize) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let width = |i: usize| {
        let c: &RgbImage = crops[i].borrow();
        batch_width(c.width, c.height) as f64
    };
    for i in by_aspect(crops) {
        match out.last_mut() {
            Some(b) if b.len() < size.max(1) && width(i) <= MAX_BATCH_WIDTH_RATIO * width(b[0]) => b.push(i),
            _ => out.push(vec![i]),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn white(w: usize, h: usize) -> RgbImage {
        RgbImage::new(w, h, vec![255; w * h * 3]).unwrap()
    }

    #[test]
    fn keeps_the_aspect_ratio_and_pads_with_zeros() {
        assert_eq!(resized_width(100, 20, 320), 240);
        assert_eq!(resized_width(1000, 20, 320), 320);
        assert_eq!(resized_width(1, 200, 320), 1);
        let x = batch(&[&white(100, 20)], 320).unwrap();
        assert_eq!(x.len(), 3 * 48 * 320);
        for c in 0..3 {
            let row = &x[c * 48 * 320 + 10 * 320..][..320];
            assert!(row[..240].iter().all(|&v| (v - 1.0).abs() < 1e-6));
            assert!(row[240..].iter().all(|&v| v == 0.0));
        }
    }

    #[test]
    fn batch_widths_are_bucketed() {
        assert_eq!(batch_width(10, 48), 320);
        assert_eq!(batch_width(330, 48), 448);
        assert_eq!(batch_width(100_000, 48), REC_MAX_WIDTH);
        assert!(batch(&[&white(4, 4)], 0).is_err());
    }

    #[test]
    fn recogniser_batches_keep_short_lines_apart() {
        // Aspect ratios 2, 4, 20, 21, 21, 22 and 27 at height 48: widths 96 and 192 (with the
        // margin) pad to 320, the others to 1056..1392.
        let crops: Vec<RgbImage> = [20, 21, 2, 27, 4, 21, 22].iter().map(|&r| white(24 * r, 24)).collect();
        let batches = batches_for_recogniser(&crops, 3);
        assert_eq!(batches, vec![vec![2, 4], vec![0, 1, 5], vec![6, 3]]);
        assert_eq!(batches_for_recogniser(&crops, 1).len(), 7);
        assert!(batches_for_recogniser::<RgbImage>(&[], 6).is_empty());
    }

    #[test]
    fn batches_sorted_by_aspect() {
        let crops = vec![white(300, 30), white(30, 30), white(100, 30), white(900, 30)];
        assert_eq!(batches_by_width(&crops, 3), vec![vec![1, 2, 0], vec![3]]);
    }
}
