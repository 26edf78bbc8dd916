//! Whether the paper continues past a quadrilateral the page finder returned: then it is a
//! frame, a box or a fold on a larger sheet, not the sheet's own outline.
//!
//! Why: a flat scan or a close photo of a page has no desk around the paper, and the page
//! finder then takes the strongest rectangle in it: an infobox frame on a 300-dpi print
//! (benches/real ocrmypdf_epson: 14 % of the frame, the rest of the page unread) or the
//! band between a curved book page's fold and its shadow (page_dewarp_boston_cooking: 24–41 %).
//! A real page's outline has something else around it (a desk, a hand, the dark of a
//! scanner lid) on most of its length; a box on a page has the same paper on both sides.
//! Paper is the brightest thing near an edge, so each side is probed on both sides at a
//! short distance, with the brightest pixel of a small window (text and rules inside the
//! window do not count).

use crate::scan::geometry::Point;
use crate::scan::luma::Luma;

/// Probes per side.
const PROBES: usize = 15;
/// Largest difference, in grey levels, between the brightest pixels on the two sides of an
/// edge for the paper to continue across it. At 24, white forms on a pale lavender desk and a
/// label inside its coloured frame (generated scenes form/0007, 0013, barcode/0017) lost
/// their pages; the same paper across a frame differs by a few levels.
const SAME_PAPER_LEVELS: i32 = 8;
/// Share of a side's probes that must see the same paper on both sides.
const SIDE_CONTINUES: f64 = 0.7;
/// Sides past which the paper continues that make the quad a region of a page.
const SIDES_FOR_INNER: usize = 2;

/// The brightest pixel in the `(2r+1)²` window at `p`, or `None` where the window leaves the image.
fn brightest(luma: &Luma, p: Point, r: usize) -> Option<i32> {
    let (x, y) = (p[0].round(), p[1].round());
    let r_f = r as f64;
    if x < r_f || y < r_f || x + r_f >= luma.width as f64 || y + r_f >= luma.height as f64 {
        return None;
    }
    let (x, y) = (x as usize, y as usize);
    let mut best = 0;
    for yy in y - r..=y + r {
        for xx in x - r..=x + r {
            best = best.max(luma.at(xx, yy));
        }
    }
    Some(i32::from(best))
}

/// Whether the same paper lies on both sides of at least [`SIDES_FOR_INNER`] sides of `quad`
/// (corners in `luma`'s pixels, in order around the quad).
pub fn lies_on_larger_paper(luma: &Luma, quad: &[Point; 4]) -> bool {
    let diag = (luma.width as f64).hypot(luma.height as f64);
    let d = (0.01 * diag).max(6.0);
    let r = ((d / 3.0) as usize).max(2);
    let centre = [quad.iter().map(|p| p[0]).sum::<f64>() / 4.0, quad.iter().map(|p| p[1]).sum::<f64>() / 4.0];
    let mut continuing = 0;
    for s in 0..4 {
        let (a, b) = (quad[s], quad[(s + 1) % 4]);
        let (ex, ey) = (b[0] - a[0], b[1] - a[1]);
        let len = ex.hypot(ey);
        if len < 1.0 {
            continue;
        }
        let mut n = [ey / len, -ex / len];
        let mid = [0.5 * (a[0] + b[0]), 0.5 * (a[1] + b[1])];
        if (mid[0] - centre[0]) * n[0] + (mid[1] - centre[1]) * n[1] < 0.0 {
            n = [-n[0], -n[1]];
        }
        let (mut probed, mut same) = (0usize, 0usize);
        for k in 1..=PROBES {
            let t = k as f64 / (PROBES + 1) as f64;
            let p = [a[0] + t * ex, a[1] + t * ey];
            let inside = brightest(luma, [p[0] - d * n[0], p[1] - d * n[1]], r);
            let outside = brightest(luma, [p[0] + d * n[0], p[1] + d * n[1]], r);
            if let (Some(i), Some(o)) = (inside, outside) {
                probed += 1;
                same += usize::from((i - o).abs() <= SAME_PAPER_LEVELS);
            }
        }
        if probed * 3 >= PROBES && same as f64 >= SIDE_CONTINUES * probed as f64 {
            continuing += 1;
        }
    }
    continuing >= SIDES_FOR_INNER
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(w: usize, h: usize, fill: u8) -> Luma {
        Luma { width: w, height: h, data: vec![fill; w * h] }
    }

    fn rect(l: &mut Luma, x0: usize, y0: usize, x1: usize, y1: usize, v: u8) {
        for y in y0..y1 {
            for x in x0..x1 {
                l.data[y * l.width + x] = v;
            }
        }
    }

    const QUAD: [Point; 4] = [[100.0, 100.0], [500.0, 100.0], [500.0, 400.0], [100.0, 400.0]];

    #[test]
    fn a_page_on_a_desk_is_a_page() {
        let mut l = image(600, 500, 90); // desk
        rect(&mut l, 100, 100, 500, 400, 235); // paper
        assert!(!lies_on_larger_paper(&l, &QUAD));
        // a pale desk, 15 levels under the paper
        let mut l = image(600, 500, 225);
        rect(&mut l, 100, 100, 500, 400, 240);
        assert!(!lies_on_larger_paper(&l, &QUAD));
    }

    #[test]
    fn a_framed_box_on_a_page_is_not() {
        let mut l = image(600, 500, 240); // the whole frame is paper
                                          // the box's frame (2 px rules) and lines of text on both sides of it
        for (x0, y0, x1, y1) in
            [(100, 99, 500, 101), (100, 399, 500, 401), (99, 100, 101, 400), (499, 100, 501, 400)]
        {
            rect(&mut l, x0, y0, x1, y1, 20);
        }
        for y in (20..480).step_by(14) {
            rect(&mut l, 30, y, 570, y + 4, 30);
        }
        assert!(lies_on_larger_paper(&l, &QUAD));
    }

    #[test]
    fn a_page_filling_the_frame_or_on_white_on_one_side_is_still_a_page() {
        // Out of the frame on every side: nothing to probe.
        let l = image(600, 500, 240);
        assert!(!lies_on_larger_paper(&l, &[[2.0, 2.0], [598.0, 2.0], [598.0, 498.0], [2.0, 498.0]]));
        // A white sheet beside the page on one side only.
        let mut l = image(600, 500, 90);
        rect(&mut l, 100, 100, 600, 400, 235);
        assert!(!lies_on_larger_paper(&l, &QUAD));
    }
}
