//! Bilinear resizing straight into a normalised network input: every PP-OCR model takes
//! `[3, H, W]` planes in BGR order (the models were trained on OpenCV images) with
//! `(v / 255 − mean) / std`, resized with pixel centres aligned as OpenCV's `INTER_LINEAR`.

use super::image::RgbImage;

/// Per-channel normalisation `(v / 255 − mean) / std`, in B, G, R order.
#[derive(Debug, Clone, Copy)]
pub struct Normalize {
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Normalize {
    /// `(v / 255 − 0.5) / 0.5`: values in −1..=1 (all three PP-OCR models).
    pub const SYMMETRIC: Normalize = Normalize { mean: [0.5; 3], std: [0.5; 3] };
}

/// Source coordinate of destination pixel `d`: `(d + 0.5) · scale − 0.5`, clamped; returns
/// the two neighbours and the weight of the second.
fn axis(d: usize, scale: f64, size: usize) -> (usize, usize, f32) {
    let s = ((d as f64 + 0.5) * scale - 0.5).max(0.0);
    let i0 = (s.floor() as usize).min(size - 1);
    let i1 = (i0 + 1).min(size - 1);
    (i0, i1, (s - i0 as f64).clamp(0.0, 1.0) as f32)
}

/// Resizes `img` to `out_w × out_h` and writes it normalised into the top-left corner of
/// three planes of `plane_h × plane_w` floats (`dst.len() == 3 · plane_h · plane_w`, B then
/// G then R); the rest of `dst` is left as it is (the caller's padding).
pub fn resize_into_planes(
    img: &RgbImage,
    out_w: usize,
    out_h: usize,
    plane_w: usize,
    plane_h: usize,
    norm: Normalize,
    dst: &mut [f32],
) {
    assert!(out_w >= 1 && out_h >= 1 && out_w <= plane_w && out_h <= plane_h);
    assert_eq!(dst.len(), 3 * plane_w * plane_h);
    let (w, h) = (img.width, img.height);
    let plane = plane_w * plane_h;
    let xs: Vec<(usize, usize, f32)> = (0..out_w).map(|x| axis(x, w as f64 / out_w as f64, w)).collect();
    // Per BGR plane: v · a + b == (v / 255 − mean) / std.
    let a: [f32; 3] = std::array::from_fn(|c| 1.0 / (255.0 * norm.std[c]));
    let b: [f32; 3] = std::array::from_fn(|c| -norm.mean[c] / norm.std[c]);
    for y in 0..out_h {
        let (y0, y1, fy) = axis(y, h as f64 / out_h as f64, h);
        let (r0, r1) = (&img.data[y0 * w * 3..][..w * 3], &img.data[y1 * w * 3..][..w * 3]);
        for (x, &(x0, x1, fx)) in xs.iter().enumerate() {
            for rgb in 0..3 {
                let p = |row: &[u8], xx: usize| f32::from(row[xx * 3 + rgb]);
                let top = p(r0, x0) + (p(r0, x1) - p(r0, x0)) * fx;
                let bottom = p(r1, x0) + (p(r1, x1) - p(r1, x0)) * fx;
                let v = top + (bottom - top) * fy;
                let c = 2 - rgb; // BGR planes
                dst[c * plane + y * plane_w + x] = v * a[c] + b[c];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bgr_planes_normalised_and_padding_untouched() {
        let img = RgbImage::new(2, 1, vec![255, 0, 0, 255, 0, 0]).unwrap(); // red
        let mut dst = vec![9.0; 3 * 2 * 4];
        resize_into_planes(&img, 3, 2, 4, 2, Normalize::SYMMETRIC, &mut dst);
        let plane = 8;
        assert_eq!(dst[0], -1.0); // B
        assert_eq!(dst[plane], -1.0); // G
        assert_eq!(dst[2 * plane], 1.0); // R
        assert_eq!(dst[3], 9.0); // column 3 is padding
        assert_eq!(dst[2 * plane + 4 + 2], 1.0);
    }

    #[test]
    fn interpolates_between_neighbours() {
        // Left half black, right half white: the middle of the resized row is grey.
        let (w, h) = (8, 4);
        let data: Vec<u8> = (0..w * h).flat_map(|i| [if i % w < w / 2 { 0 } else { 255 }; 3]).collect();
        let img = RgbImage::new(w, h, data).unwrap();
        let mut dst = vec![0.0; 3 * 4 * 16];
        resize_into_planes(&img, 16, 4, 16, 4, Normalize::SYMMETRIC, &mut dst);
        let row = &dst[16..32];
        assert_eq!(row[0], -1.0);
        assert_eq!(row[15], 1.0);
        assert!(row[7] < row[8] && row[7] > -1.0 && row[8] < 1.0);
    }
}
