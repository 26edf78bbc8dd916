//! Text detection around PP-OCR's DB (differentiable binarisation) detector: the input
//! (resized so text is large enough, sides multiples of 32, normalised) and the
//! post-processing of its probability map into rotated text boxes — binarise, dilate,
//! connected regions, minimum-area rectangle, mean-probability box score, unclip (grow the box
//! by `area × ratio / perimeter`), back to image coordinates.

use crate::error::{Error, Result};
use crate::scan::geometry::{in_convex_quad, min_area_rect, order_corners, Point, RotatedRect};
use crate::scan::image::RgbImage;
use crate::scan::resize::{resize_into_planes, Normalize};
use serde::Serialize;

/// Detector settings (defaults: RapidOCR's for PP-OCRv4, except the longest side: 960
/// rather than 2000 — on the generated pages of benches/ocr it read as well or better, at a
/// third of the time and memory; docs/BENCHMARKS.md).
#[derive(Debug, Clone, Copy)]
pub struct DetOptions {
    /// The shorter side is scaled up to at least this.
    pub min_side: usize,
    /// The longer side is scaled down to at most this (bounds time and memory).
    pub max_side: usize,
    /// Probability above which a pixel is text.
    pub threshold: f32,
    /// Mean probability inside a box below which it is dropped.
    pub box_threshold: f32,
    /// How much a box grows: by `area × ratio / perimeter` on each side.
    pub unclip_ratio: f64,
    /// Most boxes kept (the largest regions).
    pub max_candidates: usize,
    /// Dilate the binary map by one pixel (joins broken strokes).
    pub dilate: bool,
}

impl Default for DetOptions {
    fn default() -> DetOptions {
        DetOptions {
            min_side: 736,
            max_side: 960,
            threshold: 0.3,
            box_threshold: 0.5,
            unclip_ratio: 1.6,
            max_candidates: 1000,
            dilate: true,
        }
    }
}

/// A detected text region: corners (top-left, top-right, bottom-right, bottom-left) in image
/// pixels, and the mean text probability inside it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TextBox {
    pub corners: [Point; 4],
    pub score: f32,
}

/// The detector input size for a `w × h` image: scaled so the shorter side is at least
/// `min_side` and the longer at most `max_side`, each side rounded to a multiple of 32.
pub fn input_size(w: usize, h: usize, opts: &DetOptions) -> (usize, usize) {
    let (short, long) = (w.min(h).max(1) as f64, w.max(h).max(1) as f64);
    let mut scale = 1.0f64;
    if short < opts.min_side as f64 {
        scale = opts.min_side as f64 / short;
    }
    if long * scale > opts.max_side as f64 {
        scale = opts.max_side as f64 / long;
    }
    let side = |v: usize| (((v as f64 * scale) / 32.0).round() as usize).max(1) * 32;
    (side(w), side(h))
}

/// The normalised `[3, h, w]` input (BGR, −1..=1) for the detector, and its size.
pub fn preprocess(img: &RgbImage, opts: &DetOptions) -> (Vec<f32>, usize, usize) {
    let (w, h) = input_size(img.width, img.height, opts);
    let mut x = vec![0f32; 3 * w * h];
    resize_into_planes(img, w, h, w, h, Normalize::SYMMETRIC, &mut x);
    (x, w, h)
}

/// Binary text mask of the probability map, optionally dilated by a 2×2 square (each pixel
/// also takes its left, upper and upper-left neighbours).
fn binarize(prob: &[f32], w: usize, h: usize, opts: &DetOptions) -> Vec<bool> {
    let bits: Vec<bool> = prob.iter().map(|&p| p > opts.threshold).collect();
    if !opts.dilate {
        return bits;
    }
    let mut out = bits.clone();
    for y in 0..h {
        for x in 0..w {
            let at = |xx: usize, yy: usize| bits[yy * w + xx];
            out[y * w + x] = at(x, y)
                || (x > 0 && at(x - 1, y))
                || (y > 0 && at(x, y - 1))
                || (x > 0 && y > 0 && at(x - 1, y - 1));
        }
    }
    out
}

/// 8-connected regions of `mask`: for each, its pixel count and, per row it covers, the
/// leftmost and rightmost pixel (enough for the convex hull).
fn regions(mask: &[bool], w: usize, h: usize) -> Vec<(usize, Vec<Point>)> {
    let mut label = vec![u32::MAX; mask.len()];
    let mut out = Vec::new();
    let mut stack = Vec::new();
    for start in 0..mask.len() {
        if !mask[start] || label[start] != u32::MAX {
            continue;
        }
        let id = out.len() as u32;
        label[start] = id;
        stack.push(start);
        // Per row: (min x, max x).
        let mut rows: std::collections::BTreeMap<usize, (usize, usize)> = Default::default();
        let mut count = 0usize;
        while let Some(i) = stack.pop() {
            count += 1;
            let (x, y) = (i % w, i / w);
            let e = rows.entry(y).or_insert((x, x));
            e.0 = e.0.min(x);
            e.1 = e.1.max(x);
            for dy in -1i64..=1 {
                for dx in -1i64..=1 {
                    let (nx, ny) = (x as i64 + dx, y as i64 + dy);
                    if nx < 0 || ny < 0 || nx >= w as i64 || ny >= h as i64 {
                        continue;
                    }
                    let j = ny as usize * w + nx as usize;
                    if mask[j] && label[j] == u32::MAX {
                        label[j] = id;
                        stack.push(j);
                    }
                }
            }
        }
        let pts =
            rows.iter().flat_map(|(&y, &(a, b))| [[a as f64, y as f64], [b as f64, y as f64]]).collect();
        out.push((count, pts));
    }
    out
}

/// Mean probability inside the rectangle (pixel centres within its corners).
fn box_score(prob: &[f32], w: usize, h: usize, r: &RotatedRect) -> f32 {
    let c = r.corners();
    let (lo_x, hi_x) = c.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p[0]), b.max(p[0])));
    let (lo_y, hi_y) = c.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p[1]), b.max(p[1])));
    let x0 = lo_x.floor().clamp(0.0, (w - 1) as f64) as usize;
    let x1 = hi_x.ceil().clamp(0.0, (w - 1) as f64) as usize;
    let y0 = lo_y.floor().clamp(0.0, (h - 1) as f64) as usize;
    let y1 = hi_y.ceil().clamp(0.0, (h - 1) as f64) as usize;
    let (mut sum, mut n) = (0f64, 0usize);
    for y in y0..=y1 {
        for x in x0..=x1 {
            if in_convex_quad(&c, [x as f64, y as f64]) {
                sum += f64::from(prob[y * w + x]);
                n += 1;
            }
        }
    }
    if n == 0 {
        0.0
    } else {
        (sum / n as f64) as f32
    }
}

/// Text boxes from the detector's probability map (`h × w`, the input size), scaled back to
/// an `img_w × img_h` image.
pub fn postprocess(
    prob: &[f32],
    w: usize,
    h: usize,
    img_w: usize,
    img_h: usize,
    opts: &DetOptions,
) -> Result<Vec<TextBox>> {
    if w == 0 || h == 0 || prob.len() != w * h {
        return Err(Error::Model(format!("detector map of {} values for {w}x{h}", prob.len())));
    }
    let mask = binarize(prob, w, h, opts);
    let mut regs = regions(&mask, w, h);
    regs.sort_by_key(|r| std::cmp::Reverse(r.0));
    regs.truncate(opts.max_candidates);
    let (sx, sy) = (img_w as f64 / w as f64, img_h as f64 / h as f64);
    let mut boxes = Vec::new();
    for (_, pts) in regs {
        let Some(rect) = min_area_rect(&pts) else { continue };
        if rect.short_side() < 3.0 {
            continue;
        }
        let score = box_score(prob, w, h, &rect);
        if score < opts.box_threshold {
            continue;
        }
        // Unclip: a rectangle offset by d keeps its orientation and grows by 2d per side.
        let (rw, rh) = (rect.width, rect.height);
        let d = rw * rh * opts.unclip_ratio / (2.0 * (rw + rh));
        let grown = rect.grown(d);
        if grown.short_side() < 5.0 {
            continue;
        }
        let corners = grown
            .corners()
            .map(|p| [(p[0] * sx).clamp(0.0, img_w as f64), (p[1] * sy).clamp(0.0, img_h as f64)]);
        let corners = order_corners(corners);
        let side = |a: Point, b: Point| (a[0] - b[0]).hypot(a[1] - b[1]);
        if side(corners[0], corners[1]) <= 3.0 || side(corners[0], corners[3]) <= 3.0 {
            continue;
        }
        boxes.push(TextBox { corners, score });
    }
    Ok(boxes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_sizes() {
        let o = DetOptions::default();
        // Small images are scaled up towards a 736 short side, within the 960 long side.
        assert_eq!(input_size(368, 100, &o), (960, 256));
        assert_eq!(input_size(300, 200, &o), (960, 640));
        assert_eq!(input_size(200, 736, &o), (256, 960));
        // Long side capped (each side rounded to a multiple of 32).
        assert_eq!(input_size(4000, 3000, &o), (960, 736));
        let wide = DetOptions { max_side: 2000, ..o };
        assert_eq!(input_size(4000, 3000, &wide), (2016, 1504));
        assert_eq!(input_size(1000, 800, &wide), (992, 800));
    }

    #[test]
    fn finds_two_bars_with_scores_and_unclip() {
        let (w, h) = (64, 32);
        let mut prob = vec![0.0f32; w * h];
        // Bar A: x 4..=40, y 4..=9 (p 0.9); bar B: x 10..=50, y 20..=25 (p 0.4: a weak region).
        for y in 4..=9 {
            for x in 4..=40 {
                prob[y * w + x] = 0.9;
            }
        }
        for y in 20..=25 {
            for x in 10..=50 {
                prob[y * w + x] = 0.4;
            }
        }
        let o = DetOptions { dilate: false, ..DetOptions::default() };
        let boxes = postprocess(&prob, w, h, 128, 64, &o).unwrap();
        assert_eq!(boxes.len(), 1, "{boxes:?}");
        let b = &boxes[0];
        assert!((b.score - 0.9).abs() < 1e-3);
        // Region 36 × 5 (pixel centres), grown by d = 36·5·1.6 / 82 ≈ 3.51 per side, then ×2.
        let d = 36.0 * 5.0 * 1.6 / 82.0;
        let want_x0 = (4.0 - d) * 2.0;
        assert!((b.corners[0][0] - want_x0).abs() < 1e-6, "{:?}", b.corners);
        assert!((b.corners[2][1] - (9.0 + d) * 2.0).abs() < 1e-6);
        // Box threshold lowered: both.
        let o2 = DetOptions { box_threshold: 0.3, ..o };
        assert_eq!(postprocess(&prob, w, h, 128, 64, &o2).unwrap().len(), 2);
    }

    #[test]
    fn tiny_regions_and_bad_maps() {
        let mut prob = vec![0.0f32; 100];
        prob[55] = 1.0;
        assert!(postprocess(&prob, 10, 10, 10, 10, &DetOptions::default()).unwrap().is_empty());
        assert!(postprocess(&prob, 10, 9, 10, 10, &DetOptions::default()).is_err());
    }
}
