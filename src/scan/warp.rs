//! Perspective crops: the pixels inside a quadrilateral, straightened into an upright
//! rectangle (bilinear sampling, edge pixels repeated outside the image).

use super::geometry::{project, quad_size, rect_to_quad, Point};
use super::image::RgbImage;
use crate::error::{Error, Result};

/// Largest crop side produced.
pub const MAX_CROP_SIDE: usize = 8192;

/// Samples `img` at the real-valued position `(x, y)`, clamping to the border.
fn sample(img: &RgbImage, x: f64, y: f64) -> [u8; 3] {
    let (w, h) = (img.width as f64, img.height as f64);
    let x = x.clamp(0.0, w - 1.0);
    let y = y.clamp(0.0, h - 1.0);
    let (x0, y0) = (x.floor() as usize, y.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(img.width - 1), (y0 + 1).min(img.height - 1));
    let (fx, fy) = (x - x0 as f64, y - y0 as f64);
    let (a, b, c, d) = (img.pixel(x0, y0), img.pixel(x1, y0), img.pixel(x0, y1), img.pixel(x1, y1));
    std::array::from_fn(|k| {
        let top = f64::from(a[k]) + (f64::from(b[k]) - f64::from(a[k])) * fx;
        let bottom = f64::from(c[k]) + (f64::from(d[k]) - f64::from(c[k])) * fx;
        (top + (bottom - top) * fy).round().clamp(0.0, 255.0) as u8
    })
}

/// The quadrilateral `quad` (tl, tr, br, bl) of `img` as an upright `w × h` image, where `w`
/// and `h` are the longer of its opposite sides (at least 1, at most [`MAX_CROP_SIDE`]).
pub fn perspective_crop(img: &RgbImage, quad: &[Point; 4]) -> Result<RgbImage> {
    let (qw, qh) = quad_size(quad);
    if !(qw.is_finite() && qh.is_finite()) {
        return Err(Error::InvalidArgument("crop quadrilateral with non-finite corners".into()));
    }
    perspective_warp(img, quad, qw.round() as usize, qh.round() as usize)
}

/// The quadrilateral `quad` (tl, tr, br, bl) of `img` straightened into a `w × h` image
/// (each side clamped to 1..=[`MAX_CROP_SIDE`]).
pub fn perspective_warp(img: &RgbImage, quad: &[Point; 4], w: usize, h: usize) -> Result<RgbImage> {
    let (w, h) = (w.clamp(1, MAX_CROP_SIDE), h.clamp(1, MAX_CROP_SIDE));
    let m = rect_to_quad(w as f64, h as f64, quad)
        .ok_or_else(|| Error::InvalidArgument("degenerate crop quadrilateral".into()))?;
    let mut data = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            // Pixel centres map to pixel centres.
            let p = project(&m, [x as f64 + 0.5, y as f64 + 0.5]);
            data.extend_from_slice(&sample(img, p[0] - 0.5, p[1] - 0.5));
        }
    }
    RgbImage::new(w, h, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_aligned_crop_copies_pixels() {
        let img = RgbImage::new(6, 4, (0..72).map(|v| v as u8).collect()).unwrap();
        let crop = perspective_crop(&img, &[[1.0, 1.0], [4.0, 1.0], [4.0, 3.0], [1.0, 3.0]]).unwrap();
        assert_eq!((crop.width, crop.height), (3, 2));
        for y in 0..2 {
            for x in 0..3 {
                assert_eq!(crop.pixel(x, y), img.pixel(x + 1, y + 1));
            }
        }
    }

    #[test]
    fn rotated_quad_is_straightened() {
        // A horizontal bar, then cropped by a quad listing it upside down: the crop is turned.
        let mut data = vec![0u8; 20 * 10 * 3];
        for x in 0..20 {
            for c in 0..3 {
                data[(2 * 20 + x) * 3 + c] = 255;
            }
        }
        let img = RgbImage::new(20, 10, data).unwrap();
        let up = perspective_crop(&img, &[[0.0, 0.0], [20.0, 0.0], [20.0, 10.0], [0.0, 10.0]]).unwrap();
        let down = perspective_crop(&img, &[[20.0, 10.0], [0.0, 10.0], [0.0, 0.0], [20.0, 0.0]]).unwrap();
        assert_eq!(up.pixel(5, 2), [255; 3]);
        assert_eq!(down.pixel(5, 7), [255; 3]);
        assert!(perspective_crop(&img, &[[1.0, 1.0]; 4]).is_err());
    }
}
