//! Bar evidence for 1D reads: how far the bars a 1D decoder read on one scan line extend across
//! it. A 1D reader accepts any row whose widths match a code's patterns and whose check digit
//! passes, and the strokes of a row of text do that now and then (an EAN-13 "9477132837377"
//! in the rows of a 640×480 screenshot of a paragraph). Printed bars are tall: EAN/UPC's
//! nominal height is 0.7 of the symbol's length, Code 128 and Code 39 ask for 0.15 of it (or
//! 6.35 mm), while a text row is a few strokes high against the length of the "code" read in
//! it. So the read's luminance profile is followed sideways, row by row, as long as each row
//! still shows the same bars (correlated with its neighbour, allowing for a tilt of the bars
//! against the scan line, and still as contrasted), and the read counts only when the bars it
//! crossed run for a good fraction of its length.

use crate::scan::geometry::Point;
use crate::scan::luma::Luma;

/// Smallest extent of the bars across the scan line, as a fraction of the read's length (the
/// distance between the decoder's end points), for a 1D read to count ([`bar_extent`]).
/// Measured with the release CLI on every photo of ../shared/data/codes and benches/real
/// (2026-12-07): the 1D codes there reach 0.228–0.6 (0.6 is the cap, `2 × MAX_REACH`; the
/// lowest are small, blurred UPC-A photos), two UPC-E "codes" read in rows of a book page and
/// a manual page 0.155 and 0.163 (dense text rows blur into each other; the second-line test
/// drops those), and an EAN-13 squeezed into a 10 px strip, as high as a text row, stays
/// under 0.1 (asserted in the codes tests). So 0.1 leaves real codes more than twice the margin.
pub const MIN_BAR_EXTENT: f64 = 0.1;

/// Most samples per profile (long reads are sampled more coarsely).
const MAX_SAMPLES: usize = 1024;
/// Correlation two neighbouring rows of bars keep (Pearson, best over the allowed shift).
const MIN_ROW_CORRELATION: f32 = 0.6;
/// Contrast (standard deviation) a row keeps against the scan line's own.
const MIN_ROW_CONTRAST: f32 = 0.4;
/// The profile is followed at most this far either side, as a fraction of the read's length
/// (past [`MIN_BAR_EXTENT`] there is nothing more to learn).
const MAX_REACH: f64 = 0.3;

/// How far, as a fraction of the read's length, the bars crossed by the scan line from `a` to
/// `b` extend across it (both sides together); 0 when the read is degenerate.
pub fn bar_extent(img: &Luma, a: Point, b: Point) -> f64 {
    let len = (b[0] - a[0]).hypot(b[1] - a[1]);
    if !len.is_finite() || len < 8.0 || img.width < 2 || img.height < 2 {
        return 0.0;
    }
    let u = [(b[0] - a[0]) / len, (b[1] - a[1]) / len];
    let n = [-u[1], u[0]];
    // Samples along the line, a little past both end points (the guards or start/stop patterns
    // the end points sit on).
    let (from, to) = (-0.03 * len, 1.03 * len);
    let count = ((to - from).ceil() as usize).clamp(16, MAX_SAMPLES);
    let step = (to - from) / count as f64;
    // A row counts while most of it lies in the image (the rest reads the nearest edge pixel:
    // a code cut by the frame's edge is still a code).
    let profile = |o: f64| -> Option<Vec<f32>> {
        let mut p = Vec::with_capacity(count);
        let mut outside = 0;
        for i in 0..count {
            let t = from + (i as f64 + 0.5) * step;
            let (v, inside) = bilinear(img, a[0] + u[0] * t + n[0] * o, a[1] + u[1] * t + n[1] * o);
            outside += usize::from(!inside);
            p.push(v);
        }
        (2 * outside < count).then_some(p)
    };
    let Some(centre) = profile(0.0) else { return 0.0 };
    let contrast = std_dev(&centre);
    if contrast < 4.0 {
        return 0.0;
    }
    // Rows one pixel apart, at least 1/200 of the length (long codes).
    let row_step = (len / 200.0).max(1.0);
    // A tilt of up to 45° between bars and scan line moves the bars by one row step per row.
    let max_shift = ((row_step / step).ceil() as usize).max(1);
    let reach = MAX_REACH * len;
    let mut extent = 0.0;
    for side in [1.0, -1.0] {
        let mut last = centre.clone();
        let mut o = row_step;
        while o <= reach {
            let Some(row) = profile(side * o) else { break };
            if std_dev(&row) < MIN_ROW_CONTRAST * contrast
                || best_correlation(&last, &row, max_shift) < MIN_ROW_CORRELATION
            {
                break;
            }
            extent += row_step;
            last = row;
            o += row_step;
        }
    }
    extent / len
}

/// The grey level at (x, y), bilinear, and whether (x, y) lies in the image (outside, the
/// nearest pixel's level).
fn bilinear(img: &Luma, x: f64, y: f64) -> (f32, bool) {
    let (xmax, ymax) = ((img.width - 1) as f64, (img.height - 1) as f64);
    let inside = x >= 0.0 && y >= 0.0 && x <= xmax && y <= ymax;
    let (x, y) = (x.clamp(0.0, xmax), y.clamp(0.0, ymax));
    let (x0, y0) = (x.floor() as usize, y.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(img.width - 1), (y0 + 1).min(img.height - 1));
    let (fx, fy) = ((x - x0 as f64) as f32, (y - y0 as f64) as f32);
    let p = |x: usize, y: usize| f32::from(img.at(x, y));
    let top = p(x0, y0) * (1.0 - fx) + p(x1, y0) * fx;
    let bottom = p(x0, y1) * (1.0 - fx) + p(x1, y1) * fx;
    (top * (1.0 - fy) + bottom * fy, inside)
}

fn std_dev(v: &[f32]) -> f32 {
    let n = v.len().max(1) as f32;
    let mean = v.iter().sum::<f32>() / n;
    (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / n).sqrt()
}

/// The Pearson correlation of `a` and `b` shifted against each other by up to `max_shift`
/// samples either way, the best of those (over the overlap; -1 when it is too short).
fn best_correlation(a: &[f32], b: &[f32], max_shift: usize) -> f32 {
    let mut best = -1.0f32;
    for s in -(max_shift as isize)..=max_shift as isize {
        let (x, y) = if s >= 0 {
            (&a[s as usize..], &b[..b.len() - s as usize])
        } else {
            (&a[..a.len() - (-s) as usize], &b[(-s) as usize..])
        };
        if x.len() < 8 {
            continue;
        }
        best = best.max(pearson(x, y));
    }
    best
}

fn pearson(x: &[f32], y: &[f32]) -> f32 {
    let n = x.len() as f32;
    let (mx, my) = (x.iter().sum::<f32>() / n, y.iter().sum::<f32>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0f32, 0.0f32, 0.0f32);
    for (a, b) in x.iter().zip(y) {
        let (da, db) = (a - mx, b - my);
        sxy += da * db;
        sxx += da * da;
        syy += db * db;
    }
    if sxx <= f32::EPSILON || syy <= f32::EPSILON {
        return -1.0;
    }
    sxy / (sxx * syy).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A white image with vertical bars of the given widths (from x = 40) on rows `top..bottom`.
    fn bars(w: usize, h: usize, widths: &[usize], top: usize, bottom: usize) -> Luma {
        let mut data = vec![230u8; w * h];
        let mut x = 40;
        for (i, &bw) in widths.iter().enumerate() {
            if i % 2 == 0 {
                for y in top..bottom {
                    for xx in x..(x + bw).min(w) {
                        data[y * w + xx] = 20;
                    }
                }
            }
            x += bw;
        }
        Luma { width: w, height: h, data }
    }

    const WIDTHS: [usize; 21] = [3, 3, 6, 3, 9, 6, 3, 12, 3, 3, 6, 9, 3, 3, 6, 3, 12, 6, 3, 3, 3];

    #[test]
    fn tall_bars_extend_and_a_thin_row_does_not() {
        let len: usize = WIDTHS.iter().sum();
        // Bars 120 px tall, read across their middle.
        let tall = bars(400, 200, &WIDTHS, 40, 160);
        // 60 px each way, past the reach (0.3 of the 108 px read): the extent is capped there.
        let e = bar_extent(&tall, [40.0, 100.0], [(40 + len) as f64, 100.0]);
        assert!(e > 0.55 && e <= 2.0 * MAX_REACH, "{e}");
        // Bars 24 px tall: 0.22 of the read.
        let short = bars(400, 200, &WIDTHS, 88, 112);
        let e = bar_extent(&short, [40.0, 100.0], [(40 + len) as f64, 100.0]);
        assert!(e > 0.18 && e < 0.24, "{e}");
        // The same widths 8 px high: a row of text-like strokes.
        let thin = bars(400, 200, &WIDTHS, 96, 104);
        let e = bar_extent(&thin, [40.0, 100.0], [(40 + len) as f64, 100.0]);
        assert!(e < MIN_BAR_EXTENT, "{e}");
    }

    #[test]
    fn tilted_bars_still_extend() {
        // The tall bars, read along a line 10° off their normal.
        let tall = bars(400, 300, &WIDTHS, 40, 260);
        let len: f64 = WIDTHS.iter().sum::<usize>() as f64;
        let t = 10f64.to_radians();
        let a = [40.0, 150.0 - 0.5 * len * t.sin()];
        let b = [40.0 + len * t.cos(), 150.0 + 0.5 * len * t.sin()];
        assert!(bar_extent(&tall, a, b) > MIN_BAR_EXTENT * 3.0);
    }

    #[test]
    fn degenerate_reads_have_no_extent() {
        let tall = bars(400, 200, &WIDTHS, 40, 160);
        assert_eq!(bar_extent(&tall, [40.0, 100.0], [42.0, 100.0]), 0.0);
        assert_eq!(bar_extent(&tall, [f64::NAN, 100.0], [200.0, 100.0]), 0.0);
        assert_eq!(bar_extent(&tall, [-5000.0, 100.0], [-900.0, 100.0]), 0.0);
        let flat = Luma { width: 100, height: 100, data: vec![128; 10_000] };
        assert_eq!(bar_extent(&flat, [10.0, 50.0], [90.0, 50.0]), 0.0);
        let tiny = Luma { width: 1, height: 1, data: vec![0] };
        assert_eq!(bar_extent(&tiny, [0.0, 0.0], [50.0, 0.0]), 0.0);
    }
}
