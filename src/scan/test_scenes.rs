//! Synthetic camera scenes for the scan tests: textured backgrounds, warped pages, rendered
//! codes and text-like strokes, all deterministic.

use crate::scan::geometry::{in_convex_quad, rect_to_quad, Point};
use crate::scan::image::RgbImage;
use rxing::{BarcodeFormat, MultiFormatWriter, Writer};

/// A small deterministic generator (xorshift).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A mid-grey textured background (wood-like stripes and noise).
pub fn background(w: usize, h: usize, seed: u64) -> RgbImage {
    let mut rng = Rng(seed | 1);
    let mut data = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            let stripe = ((x as f64 * 0.07 + (y as f64 * 0.013).sin() * 6.0).sin() * 18.0) as i32;
            let n = (rng.next() % 17) as i32 - 8;
            let v = (90 + stripe + n).clamp(0, 255) as u8;
            data.extend_from_slice(&[v.saturating_add(25), v, v.saturating_sub(20)]);
        }
    }
    RgbImage::new(w, h, data).unwrap()
}

fn invert(m: &[f64; 9]) -> [f64; 9] {
    let [a, b, c, d, e, f, g, h, i] = *m;
    let (co_a, co_b, co_c) = (e * i - f * h, f * g - d * i, d * h - e * g);
    let det = a * co_a + b * co_b + c * co_c;
    [
        co_a / det,
        (c * h - b * i) / det,
        (b * f - c * e) / det,
        co_b / det,
        (a * i - c * g) / det,
        (c * d - a * f) / det,
        co_c / det,
        (b * g - a * h) / det,
        (a * e - b * d) / det,
    ]
}

/// Draws `src` into `dst` warped onto `quad` (tl, tr, br, bl), nearest-neighbour with 2×2
/// supersampling.
pub fn paste(dst: &mut RgbImage, src: &RgbImage, quad: &[Point; 4]) {
    let m = invert(&rect_to_quad(src.width as f64, src.height as f64, quad).unwrap());
    let xs = quad.iter().map(|p| p[0]);
    let ys = quad.iter().map(|p| p[1]);
    let (x0, x1) = (xs.clone().fold(f64::MAX, f64::min).max(0.0) as usize, xs.fold(0.0, f64::max) as usize);
    let (y0, y1) = (ys.clone().fold(f64::MAX, f64::min).max(0.0) as usize, ys.fold(0.0, f64::max) as usize);
    for y in y0..=y1.min(dst.height - 1) {
        for x in x0..=x1.min(dst.width - 1) {
            let mut acc = [0u32; 3];
            let mut n = 0;
            for (dx, dy) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)] {
                let p = [x as f64 + dx, y as f64 + dy];
                if !in_convex_quad(quad, p) {
                    continue;
                }
                let d = m[6] * p[0] + m[7] * p[1] + m[8];
                let (u, v) = ((m[0] * p[0] + m[1] * p[1] + m[2]) / d, (m[3] * p[0] + m[4] * p[1] + m[5]) / d);
                let (u, v) = (u.clamp(0.0, src.width as f64 - 1.0), v.clamp(0.0, src.height as f64 - 1.0));
                let px = src.pixel(u as usize, v as usize);
                for k in 0..3 {
                    acc[k] += u32::from(px[k]);
                }
                n += 1;
            }
            // Edge pixels blend with what is underneath by the share of samples inside.
            if n > 0 {
                let i = (y * dst.width + x) * 3;
                for (d, a) in dst.data[i..i + 3].iter_mut().zip(acc) {
                    *d = ((u32::from(*d) * (4 - n) + a / n * n) / 4) as u8;
                }
            }
        }
    }
}

/// A plain image of one colour.
pub fn flat(w: usize, h: usize, rgb: [u8; 3]) -> RgbImage {
    RgbImage::new(w, h, rgb.iter().copied().cycle().take(w * h * 3).collect()).unwrap()
}

/// Fills an axis-aligned rectangle.
pub fn fill_rect(img: &mut RgbImage, x0: usize, y0: usize, w: usize, h: usize, rgb: [u8; 3]) {
    for y in y0..(y0 + h).min(img.height) {
        for x in x0..(x0 + w).min(img.width) {
            let i = (y * img.width + x) * 3;
            img.data[i..i + 3].copy_from_slice(&rgb);
        }
    }
}

/// A white page with rows of text-like "words": letter strokes of random heights (x-height,
/// ascenders, descenders) and widths.
pub fn text_page(w: usize, h: usize, seed: u64) -> RgbImage {
    let mut img = flat(w, h, [244, 242, 236]);
    let mut rng = Rng(seed | 1);
    let line_h = h / 28;
    let xh = (line_h / 3).max(2);
    let mut y = h / 12;
    while y + line_h < h - h / 12 {
        let mut x = w / 10;
        while x < w - w / 10 {
            let word = (rng.uniform(0.04, 0.14) * w as f64) as usize;
            let end = (x + word).min(w - w / 10);
            while x < end {
                let (stroke, kind) = (1 + (rng.next() % 2) as usize, rng.next() % 6);
                let (top, height) = match kind {
                    0 => (y, xh * 2),      // ascender
                    1 => (y + xh, xh * 2), // descender
                    2 => (y + xh, 1),      // a bar of "e", "t"
                    _ => (y + xh, xh),
                };
                fill_rect(&mut img, x, top, stroke, height, [30, 30, 40]);
                x += stroke + 1 + (rng.next() % 3) as usize;
            }
            x += w / 50;
        }
        y += line_h;
    }
    img
}

/// A code rendered by rxing's writers, `module` pixels per module, with a white quiet zone.
pub fn code_image(format: BarcodeFormat, text: &str, width: i32, height: i32) -> RgbImage {
    let m = MultiFormatWriter.encode(text, &format, width, height).unwrap();
    let (w, h) = (m.width() as usize, m.height() as usize);
    let q = 16;
    let mut img = flat(w + 2 * q, h + 2 * q, [255, 255, 255]);
    for y in 0..h {
        for x in 0..w {
            if m.get(x as u32, y as u32) {
                fill_rect(&mut img, x + q, y + q, 1, 1, [0, 0, 0]);
            }
        }
    }
    img
}
