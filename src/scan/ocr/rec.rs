//! Recogniser and direction-classifier inputs: a text-line crop resized to height 48 keeping
//! its aspect ratio, normalised to −1..=1 and padded with zeros on the right, as PP-OCR's
//! `resize_norm_img`. Batches group crops of similar aspect ratio so little of each input is
//! padding.

use super::ctc::{greedy_decode, Charset, Decoded};
use crate::engine::{F32Tensor, Model};
use crate::error::{Error, Result};
use crate::scan::image::RgbImage;
use crate::scan::resize::{resize_into_planes, Normalize};

/// Input height of PP-OCRv3/v4 recognisers and of the direction classifier.
pub const REC_HEIGHT: usize = 48;
/// Narrowest recogniser input (PP-OCR's `rec_img_shape` width).
pub const REC_MIN_WIDTH: usize = 320;
/// Widest recogniser input; longer lines are squeezed (their aspect ratio is not kept).
pub const REC_MAX_WIDTH: usize = 3200;
/// The direction classifier's fixed input width.
pub const CLS_WIDTH: usize = 192;
/// Recogniser input widths are rounded up to a multiple of this, so a few plans serve all
/// lines.
pub const WIDTH_STEP: usize = 160;

/// Width a `w × h` crop takes once resized to [`REC_HEIGHT`], capped at `max_width`.
pub fn resized_width(w: usize, h: usize, max_width: usize) -> usize {
    let exact = (REC_HEIGHT as f64 * w as f64 / h.max(1) as f64).ceil() as usize;
    exact.clamp(1, max_width.max(1))
}

/// The padded input width for a batch whose widest crop is `w × h`.
pub fn batch_width(w: usize, h: usize) -> usize {
    let want = resized_width(w, h, REC_MAX_WIDTH).max(REC_MIN_WIDTH);
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

/// Indices of `crops` grouped into batches of at most `size`, in order of aspect ratio.
pub fn batches_by_width(crops: &[RgbImage], size: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..crops.len()).collect();
    order.sort_by(|&a, &b| {
        let r = |i: usize| crops[i].width as f64 / crops[i].height.max(1) as f64;
        r(a).total_cmp(&r(b))
    });
    order.chunks(size.max(1)).map(<[usize]>::to_vec).collect()
}

/// Reads one crop with a recogniser alone — no batching, no direction classifier, the
/// character list from the model's `character` metadata. For comparing recognisers (the
/// examples); the pipeline batches crops ([`super::Ocr::read_line`]).
pub fn read_crop(model: &mut Model, img: &RgbImage) -> Result<Decoded> {
    let width = batch_width(img.width, img.height);
    let x = batch(&[img], width)?;
    let out = model.run(vec![F32Tensor::new(vec![1, 3, REC_HEIGHT, width], x)?])?;
    let probs = out.first().ok_or_else(|| Error::Model("the recogniser returned no output".into()))?;
    let classes = probs.shape.last().copied().unwrap_or(0);
    let characters = model
        .metadata("character")
        .ok_or_else(|| Error::Model("the recogniser has no `character` metadata".into()))?;
    greedy_decode(&probs.data, &Charset::from_metadata(characters, classes)?)
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
        assert_eq!(batch_width(330, 48), 480);
        assert_eq!(batch_width(100_000, 48), REC_MAX_WIDTH);
        assert!(batch(&[&white(4, 4)], 0).is_err());
    }

    #[test]
    fn batches_sorted_by_aspect() {
        let crops = vec![white(300, 30), white(30, 30), white(100, 30), white(900, 30)];
        assert_eq!(batches_by_width(&crops, 3), vec![vec![1, 2, 0], vec![3]]);
    }
}
