//! Grey-level images for the classic vision stages (page finding, barcode decoding, checkbox
//! marks): luma from RGB, area-average downscaling and a small blur.

use crate::scan::image::RgbImage;

/// An 8-bit single-channel image, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Luma {
    pub width: usize,
    pub height: usize,
    pub data: Vec<u8>,
}

impl Luma {
    /// BT.601 luma, in integer arithmetic.
    pub fn from_rgb(img: &RgbImage) -> Luma {
        let data = img
            .data
            .chunks_exact(3)
            .map(|p| ((77 * u32::from(p[0]) + 150 * u32::from(p[1]) + 29 * u32::from(p[2]) + 128) >> 8) as u8)
            .collect();
        Luma { width: img.width, height: img.height, data }
    }

    #[inline]
    pub fn at(&self, x: usize, y: usize) -> u8 {
        self.data[y * self.width + x]
    }

    /// Downscaled by an integer `factor` (area average of `factor × factor` blocks; the last
    /// partial row/column of blocks is dropped). `factor` 1 returns a copy.
    pub fn shrink(&self, factor: usize) -> Luma {
        let f = factor.max(1);
        let (w, h) = ((self.width / f).max(1), (self.height / f).max(1));
        if f == 1 {
            return self.clone();
        }
        let mut sums = vec![0u32; w];
        let mut data = Vec::with_capacity(w * h);
        let area = (f * f) as u32;
        for by in 0..h {
            sums.iter_mut().for_each(|s| *s = 0);
            for y in by * f..((by + 1) * f).min(self.height) {
                let row = &self.data[y * self.width..(y + 1) * self.width];
                for (bx, s) in sums.iter_mut().enumerate() {
                    let start = bx * f;
                    let end = (start + f).min(self.width);
                    *s += row[start..end].iter().map(|&v| u32::from(v)).sum::<u32>();
                }
            }
            data.extend(sums.iter().map(|&s| ((s + area / 2) / area) as u8));
        }
        Luma { width: w, height: h, data }
    }

    /// The Sobel gradient (x, y) at an inner pixel (`1 ≤ x < width - 1`, same for y).
    #[inline]
    pub fn sobel(&self, x: usize, y: usize) -> (f32, f32) {
        let p = |x: usize, y: usize| f32::from(self.data[y * self.width + x]);
        let gx = p(x + 1, y - 1) + 2.0 * p(x + 1, y) + p(x + 1, y + 1)
            - p(x - 1, y - 1)
            - 2.0 * p(x - 1, y)
            - p(x - 1, y + 1);
        let gy = p(x - 1, y + 1) + 2.0 * p(x, y + 1) + p(x + 1, y + 1)
            - p(x - 1, y - 1)
            - 2.0 * p(x, y - 1)
            - p(x + 1, y - 1);
        (gx, gy)
    }

    /// The integer factor that brings the longest side to at most `max_side`.
    pub fn factor_for(&self, max_side: usize) -> usize {
        self.width.max(self.height).div_ceil(max_side.max(1)).max(1)
    }

    /// A 3×3 box blur applied twice (≈ a Gaussian of σ ≈ 1), edges repeated.
    pub fn blurred(&self) -> Luma {
        let mut out = self.clone();
        for _ in 0..2 {
            out = out.box3();
        }
        out
    }

    fn box3(&self) -> Luma {
        let (w, h) = (self.width, self.height);
        let mut horiz = vec![0u16; w * h];
        for y in 0..h {
            let row = &self.data[y * w..(y + 1) * w];
            for x in 0..w {
                let (l, r) = (row[x.saturating_sub(1)], row[(x + 1).min(w - 1)]);
                horiz[y * w + x] = u16::from(l) + u16::from(row[x]) + u16::from(r);
            }
        }
        let mut data = vec![0u8; w * h];
        for y in 0..h {
            let (u, d) = (y.saturating_sub(1), (y + 1).min(h - 1));
            for x in 0..w {
                let s =
                    u32::from(horiz[u * w + x]) + u32::from(horiz[y * w + x]) + u32::from(horiz[d * w + x]);
                data[y * w + x] = ((s + 4) / 9) as u8;
            }
        }
        Luma { width: w, height: h, data }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luma_of_primaries() {
        let img = RgbImage::new(3, 1, vec![255, 0, 0, 0, 255, 0, 255, 255, 255]).unwrap();
        let l = Luma::from_rgb(&img);
        assert_eq!(l.data, vec![77, 149, 255]);
    }

    #[test]
    fn shrink_averages_blocks() {
        let l = Luma { width: 5, height: 4, data: (0..20).map(|v| v as u8 * 10).collect() };
        let s = l.shrink(2);
        assert_eq!((s.width, s.height), (2, 2));
        // Block (0,0): 0, 10, 50, 60 → 30.
        assert_eq!(s.at(0, 0), 30);
        assert_eq!(l.factor_for(2), 3);
        assert_eq!(l.shrink(1), l);
    }

    #[test]
    fn blur_keeps_flat_images_flat_and_spreads_a_dot() {
        let mut l = Luma { width: 7, height: 7, data: vec![90; 49] };
        assert_eq!(l.blurred().data, vec![90; 49]);
        l.data[24] = 255;
        let b = l.blurred();
        assert!(b.at(3, 3) < 255 && b.at(3, 3) > b.at(2, 3) && b.at(2, 3) > 90);
    }
}
