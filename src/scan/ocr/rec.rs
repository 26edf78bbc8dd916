//! Recogniser input: a text-line crop resized to the model's height keeping its aspect ratio
//! (bilinear, pixel centres aligned as OpenCV's `INTER_LINEAR` does), normalised to
//! `(v / 255 − 0.5) / 0.5` and padded with zeros on the right, as PP-OCR's `resize_norm_img`.

use crate::error::{Error, Result};

/// Input height of PP-OCRv3/v4 recognisers.
pub const REC_HEIGHT: usize = 48;
/// Widest line accepted (pixels of the crop); longer lines must be split by the caller.
pub const MAX_CROP_SIDE: usize = 16_384;

fn invalid(msg: String) -> Error {
    Error::InvalidArgument(msg)
}

/// Width a `w × h` crop takes once resized to [`REC_HEIGHT`], capped at `max_width`.
pub fn resized_width(w: usize, h: usize, max_width: usize) -> usize {
    let exact = (REC_HEIGHT as f64 * w as f64 / h.max(1) as f64).ceil() as usize;
    exact.clamp(1, max_width.max(1))
}

/// Resizes and normalises an interleaved RGB crop (`h × w × 3` bytes) into a CHW tensor
/// `[3, REC_HEIGHT, pad_width]`; returns it and the width the text occupies.
pub fn preprocess(rgb: &[u8], w: usize, h: usize, pad_width: usize) -> Result<(Vec<f32>, usize)> {
    if w == 0 || h == 0 || w > MAX_CROP_SIDE || h > MAX_CROP_SIDE {
        return Err(invalid(format!("text crop of {w}x{h} pixels (1..={MAX_CROP_SIDE} per side)")));
    }
    if rgb.len() != w * h * 3 {
        return Err(invalid(format!("{} bytes for a {w}x{h} RGB crop", rgb.len())));
    }
    if pad_width == 0 || pad_width > MAX_CROP_SIDE {
        return Err(invalid(format!("recogniser width {pad_width}")));
    }
    let rw = resized_width(w, h, pad_width);
    let plane = REC_HEIGHT * pad_width;
    let mut out = vec![0f32; 3 * plane];
    // Source coordinate of destination pixel d: (d + 0.5) · scale − 0.5, clamped to the image.
    let axis = |d: usize, scale: f64, size: usize| -> (usize, usize, f32) {
        let s = ((d as f64 + 0.5) * scale - 0.5).max(0.0);
        let i0 = (s.floor() as usize).min(size - 1);
        let i1 = (i0 + 1).min(size - 1);
        (i0, i1, (s - i0 as f64).clamp(0.0, 1.0) as f32)
    };
    let (sx, sy) = (w as f64 / rw as f64, h as f64 / REC_HEIGHT as f64);
    let xs: Vec<(usize, usize, f32)> = (0..rw).map(|x| axis(x, sx, w)).collect();
    for y in 0..REC_HEIGHT {
        let (y0, y1, fy) = axis(y, sy, h);
        for (x, &(x0, x1, fx)) in xs.iter().enumerate() {
            for c in 0..3 {
                let p = |yy: usize, xx: usize| f32::from(rgb[(yy * w + xx) * 3 + c]);
                let top = p(y0, x0) + (p(y0, x1) - p(y0, x0)) * fx;
                let bottom = p(y1, x0) + (p(y1, x1) - p(y1, x0)) * fx;
                let v = top + (bottom - top) * fy;
                out[c * plane + y * pad_width + x] = (v / 255.0 - 0.5) / 0.5;
            }
        }
    }
    Ok((out, rw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_aspect_ratio_and_pads_with_zeros() {
        assert_eq!(resized_width(100, 20, 320), 240);
        assert_eq!(resized_width(1000, 20, 320), 320);
        assert_eq!(resized_width(1, 200, 320), 1);
        let rgb = vec![255u8; 100 * 20 * 3];
        let (x, used) = preprocess(&rgb, 100, 20, 320).unwrap();
        assert_eq!(used, 240);
        assert_eq!(x.len(), 3 * 48 * 320);
        for c in 0..3 {
            let row = &x[c * 48 * 320 + 10 * 320..][..320];
            assert!(row[..240].iter().all(|&v| (v - 1.0).abs() < 1e-6));
            assert!(row[240..].iter().all(|&v| v == 0.0));
        }
    }

    #[test]
    fn interpolates_between_neighbours() {
        // Left half black, right half white: the middle of the resized row is grey.
        let (w, h) = (8, 48);
        let rgb: Vec<u8> = (0..w * h).flat_map(|i| [if i % w < w / 2 { 0 } else { 255 }; 3]).collect();
        let (x, used) = preprocess(&rgb, w, h, 64).unwrap();
        assert_eq!(used, 8);
        let row = &x[20 * 64..20 * 64 + 8];
        assert_eq!(row[0], -1.0);
        assert_eq!(row[7], 1.0);
        assert!(row[3] < row[4]);
    }

    #[test]
    fn bad_crops_are_errors() {
        assert!(preprocess(&[], 0, 10, 320).is_err());
        assert!(preprocess(&[0; 9], 50_000, 1, 320).is_err());
        assert!(preprocess(&[0; 5], 2, 1, 320).is_err());
        assert!(preprocess(&[0; 6], 2, 1, 0).is_err());
    }
}
