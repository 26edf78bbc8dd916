//! Reading order of detected text boxes. The page's skew is estimated first (the median
//! direction of the long boxes) and box positions are measured along the text lines and
//! across them, so a tilted photo still reads row by row. Boxes whose centres lie within half
//! a line height of each other form one visual row (read left to right), rows run top to
//! bottom, and consecutive rows with a small vertical gap and overlapping horizontal extent
//! form a block (a paragraph, a heading, an address). Columns of text side by side (a book,
//! a newsletter, a manual) are read one after the other, not row across row.

use crate::scan::geometry::{quad_size, Point};

/// Where a box sits in the reading order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// Index into the input boxes.
    pub index: usize,
    pub row: usize,
    pub block: usize,
}

#[derive(Debug, Clone, Copy)]
struct Extent {
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    center_y: f64,
    height: f64,
}

/// The page's text direction: the median angle of the top edges of boxes at least twice as
/// long as high (words and lines), as a unit vector; horizontal when there are none.
fn text_direction(boxes: &[[Point; 4]]) -> Point {
    let mut angles: Vec<f64> = boxes
        .iter()
        .filter(|q| {
            let (w, h) = quad_size(q);
            w >= 2.0 * h
        })
        .map(|q| (q[1][1] - q[0][1]).atan2(q[1][0] - q[0][0]))
        .filter(|a| a.abs() < std::f64::consts::FRAC_PI_4)
        .collect();
    if angles.is_empty() {
        return [1.0, 0.0];
    }
    angles.sort_by(f64::total_cmp);
    let a = angles[angles.len() / 2];
    [a.cos(), a.sin()]
}

/// The box's extent in the frame turned by `dir` (x along the text, y across it).
fn extent(q: &[Point; 4], dir: Point) -> Extent {
    let along = |p: Point| p[0] * dir[0] + p[1] * dir[1];
    let across = |p: Point| -p[0] * dir[1] + p[1] * dir[0];
    let xs = q.map(along);
    let ys = q.map(across);
    let fold = |v: [f64; 4]| v.iter().fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    let ((left, right), (top, bottom)) = (fold(xs), fold(ys));
    Extent {
        left,
        right,
        top,
        bottom,
        center_y: ys.iter().sum::<f64>() / 4.0,
        height: quad_size(q).1.max(1.0),
    }
}

/// Orders boxes (corners tl, tr, br, bl) for reading; returns them in reading order.
/// Columns of text are read one after the other ([`regions`]); within a region, rows top to
/// bottom, each left to right.
pub fn reading_order(boxes: &[[Point; 4]]) -> Vec<Placement> {
    let dir = text_direction(boxes);
    let ext: Vec<Extent> = boxes.iter().map(|q| extent(q, dir)).collect();
    let mut out = Vec::with_capacity(boxes.len());
    let (mut row_base, mut block_base) = (0, 0);
    for region in regions(&ext, (0..boxes.len()).collect(), 0) {
        let placed = rows_and_blocks(&ext, region);
        let (rows, blocks) = placed.iter().fold((0, 0), |(r, b), p| (r.max(p.row + 1), b.max(p.block + 1)));
        out.extend(placed.into_iter().map(|p| Placement {
            row: p.row + row_base,
            block: p.block + block_base,
            ..p
        }));
        row_base += rows;
        block_base += blocks;
    }
    out
}

/// Smallest gutter between two columns, in median line heights, between the detector's boxes
/// (grown by about 0.8 of their height on each side: a 0.3-inch gutter of a 300-dpi scan is
/// 0.5 line heights between them). The two justified columns of a skewed 300-dpi brochure
/// scan (benches/real ocrmypdf_rotated_skew) leave 0.2–0.3 line heights between the
/// compressed detector's boxes: at 0.3 they were read row across row.
const GUTTER_LINE_HEIGHTS: f64 = 0.15;
/// Median width, in line heights, the boxes on each side of a gutter need for the two sides
/// to be read one after the other as columns of text: table cells, form labels and a date
/// beside a letterhead are shorter, and their rows are read across.
const COLUMN_MIN_LINE_WIDTHS: f64 = 8.0;
/// Fewest boxes on each side of a gutter for the sides to be columns (two rows of words with
/// wide gaps are a row each).
const MIN_COLUMN_LINES: usize = 3;
/// Deepest nesting of column splits.
const MAX_REGION_DEPTH: usize = 8;

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The widest gap (at least `min` wide) between the boxes' horizontal extents, strictly inside
/// them: its middle.
fn widest_gutter(ext: &[Extent], ids: &[usize], min: f64) -> Option<f64> {
    let mut spans: Vec<(f64, f64)> = ids.iter().map(|&i| (ext[i].left, ext[i].right)).collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut reach = spans.first()?.1;
    let mut best: Option<(f64, f64)> = None;
    for &(l, r) in &spans[1..] {
        if l - reach >= min && best.is_none_or(|(w, _)| l - reach > w) {
            best = Some((l - reach, 0.5 * (l + reach)));
        }
        reach = reach.max(r);
    }
    best.map(|(_, x)| x)
}

/// Splits boxes into regions read one after the other: side-by-side columns of text (a gutter
/// at least [`GUTTER_LINE_HEIGHTS`] wide, long lines on both sides), found by cutting the page
/// into horizontal bands (rows that do not overlap), grouping consecutive bands that share a
/// gutter, and splitting those groups at it — so a title or a full-width paragraph above or
/// below two columns stays in its place.
fn regions(ext: &[Extent], ids: Vec<usize>, depth: usize) -> Vec<Vec<usize>> {
    if ids.len() < 4 || depth >= MAX_REGION_DEPTH {
        return vec![ids];
    }
    let h = median(ids.iter().map(|&i| ext[i].height).collect());
    let min_gap = GUTTER_LINE_HEIGHTS * h;
    if let Some(x) = widest_gutter(ext, &ids, min_gap) {
        let centre = |i: usize| 0.5 * (ext[i].left + ext[i].right);
        let (left, right): (Vec<usize>, Vec<usize>) = ids.iter().partition(|&&i| centre(i) < x);
        let long = |side: &[usize]| {
            side.len() >= MIN_COLUMN_LINES
                && median(side.iter().map(|&i| ext[i].right - ext[i].left).collect())
                    >= COLUMN_MIN_LINE_WIDTHS * h
        };
        if long(&left) && long(&right) {
            let mut out = regions(ext, left, depth + 1);
            out.extend(regions(ext, right, depth + 1));
            return out;
        }
    }
    // Bands: boxes whose cores (the middle 70 % of their height: the detector's boxes are
    // grown, and those of tightly set lines overlap) overlap vertically, top to bottom.
    let core = |i: usize| (ext[i].center_y - 0.35 * ext[i].height, ext[i].center_y + 0.35 * ext[i].height);
    let mut order = ids.clone();
    order.sort_by(|&a, &b| core(a).0.total_cmp(&core(b).0));
    let mut bands: Vec<Vec<usize>> = Vec::new();
    let mut bottom = f64::NEG_INFINITY;
    for i in order {
        let (top, bot) = core(i);
        match bands.last_mut() {
            Some(band) if top < bottom => {
                band.push(i);
                bottom = bottom.max(bot);
            }
            _ => {
                bands.push(vec![i]);
                bottom = bot;
            }
        }
    }
    if bands.len() < 2 {
        return vec![ids];
    }
    // Consecutive bands sharing a gutter form one group; runs of bands without one, another.
    let mut groups: Vec<(Vec<usize>, bool)> = Vec::new();
    for band in bands {
        if let Some((group, shared)) = groups.last_mut() {
            let joined: Vec<usize> = group.iter().chain(&band).copied().collect();
            let gutter = widest_gutter(ext, &joined, min_gap).is_some();
            if gutter || (!*shared && widest_gutter(ext, &band, min_gap).is_none()) {
                *group = joined;
                *shared = gutter;
                continue;
            }
        }
        let gutter = widest_gutter(ext, &band, min_gap).is_some();
        groups.push((band, gutter));
    }
    if groups.len() < 2 {
        return vec![ids];
    }
    groups
        .into_iter()
        .flat_map(|(g, shared)| if shared { regions(ext, g, depth + 1) } else { vec![g] })
        .collect()
}

/// Rows and blocks of one region: a box joins the current row when its centre is within half
/// the smaller height of the row's mean centre; a new block starts when the gap to the
/// previous row exceeds its line height or the rows do not overlap horizontally.
fn rows_and_blocks(ext: &[Extent], region: Vec<usize>) -> Vec<Placement> {
    let mut order = region;
    order.sort_by(|&a, &b| ext[a].center_y.total_cmp(&ext[b].center_y));
    let mut rows: Vec<Vec<usize>> = Vec::new();
    for i in order {
        let joins = rows.last().is_some_and(|row| {
            let cy = row.iter().map(|&j| ext[j].center_y).sum::<f64>() / row.len() as f64;
            let h = row.iter().map(|&j| ext[j].height).fold(f64::MAX, f64::min).min(ext[i].height);
            (ext[i].center_y - cy).abs() < 0.5 * h
        });
        if joins {
            rows.last_mut().expect("a row").push(i);
        } else {
            rows.push(vec![i]);
        }
    }
    for row in &mut rows {
        row.sort_by(|&a, &b| ext[a].left.total_cmp(&ext[b].left));
    }
    let span = |row: &[usize]| {
        row.iter().fold((f64::MAX, f64::MIN, f64::MAX, f64::MIN, 0f64), |(l, r, t, b, h), &j| {
            (
                l.min(ext[j].left),
                r.max(ext[j].right),
                t.min(ext[j].top),
                b.max(ext[j].bottom),
                h.max(ext[j].height),
            )
        })
    };
    let mut out = Vec::new();
    let mut block = 0usize;
    for (r, row) in rows.iter().enumerate() {
        if r > 0 {
            let (pl, pr, _, pb, ph) = span(&rows[r - 1]);
            let (l, rr, t, _, h) = span(row);
            let gap = t - pb;
            let overlap = rr.min(pr) - l.max(pl);
            if gap > 1.0 * ph.min(h) || overlap <= 0.0 {
                block += 1;
            }
        }
        out.extend(row.iter().map(|&index| Placement { index, row: r, block }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rect(x: f64, y: f64, w: f64, h: f64) -> [Point; 4] {
        [[x, y], [x + w, y], [x + w, y + h], [x, y + h]]
    }

    #[test]
    fn rows_then_left_to_right_then_blocks() {
        let boxes = [
            rect(300.0, 102.0, 100.0, 20.0), // row 1, right
            rect(10.0, 10.0, 200.0, 20.0),   // row 0
            rect(10.0, 100.0, 200.0, 20.0),  // row 1, left (slightly higher)
            rect(10.0, 40.0, 150.0, 20.0),   // row between, same block as row 0
            rect(10.0, 300.0, 100.0, 30.0),  // far below: new block
        ];
        let p = reading_order(&boxes);
        let idx: Vec<usize> = p.iter().map(|x| x.index).collect();
        assert_eq!(idx, vec![1, 3, 2, 0, 4]);
        let rows: Vec<usize> = p.iter().map(|x| x.row).collect();
        assert_eq!(rows, vec![0, 1, 2, 2, 3]);
        let blocks: Vec<usize> = p.iter().map(|x| x.block).collect();
        assert_eq!(blocks, vec![0, 0, 1, 1, 2]);
        assert!(reading_order(&[]).is_empty());
    }

    #[test]
    fn tilted_page_still_reads_row_by_row() {
        // Two rows of three words on a page turned by 4°: across 1000 px the tilt (70 px) is
        // far more than the line spacing (30 px).
        let (c, s) = (4f64.to_radians().cos(), 4f64.to_radians().sin());
        let turn = |q: [Point; 4]| q.map(|p| [c * p[0] - s * p[1], s * p[0] + c * p[1]]);
        let mut boxes = Vec::new();
        for row in 0..2 {
            for col in 0..3 {
                boxes.push(turn(rect(50.0 + 350.0 * col as f64, 100.0 + 30.0 * row as f64, 300.0, 20.0)));
            }
        }
        let idx: Vec<usize> = reading_order(&boxes).iter().map(|p| p.index).collect();
        assert_eq!(idx, vec![0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn two_columns_under_a_title_read_column_by_column() {
        let mut boxes = vec![rect(50.0, 10.0, 900.0, 30.0)]; // 0: full-width title
        for row in 0..4 {
            let y = 60.0 + 30.0 * row as f64;
            boxes.push(rect(50.0, y, 420.0, 20.0)); // left column: 1, 3, 5, 7
            boxes.push(rect(530.0, y, 420.0, 20.0)); // right column: 2, 4, 6, 8
        }
        boxes.push(rect(50.0, 200.0, 300.0, 20.0)); // 9: left column, one row more
        boxes.push(rect(50.0, 260.0, 900.0, 20.0)); // 10: full-width footer
        let idx: Vec<usize> = reading_order(&boxes).iter().map(|p| p.index).collect();
        assert_eq!(idx, vec![0, 1, 3, 5, 7, 9, 2, 4, 6, 8, 10]);
    }

    #[test]
    fn justified_columns_with_a_narrow_gutter_and_a_skew_read_column_by_column() {
        // Two justified columns of a 300-dpi scan turned by 2°: line boxes 60 px high, 12 px
        // (0.2 line heights) between the columns, a heading in the left column.
        let (c, s) = (2f64.to_radians().cos(), 2f64.to_radians().sin());
        let turn = |q: [Point; 4]| q.map(|p| [c * p[0] - s * p[1], s * p[0] + c * p[1]]);
        let mut boxes = vec![turn(rect(300.0, 1000.0, 400.0, 60.0))]; // 0: left heading
        for row in 0..6 {
            let y = 1045.0 + 42.0 * row as f64;
            boxes.push(turn(rect(300.0, y, 940.0, 60.0))); // left: 1, 3, 5, ...
            boxes.push(turn(rect(1252.0, y - 45.0, 900.0, 60.0))); // right, a row higher: 2, 4, ...
        }
        let idx: Vec<usize> = reading_order(&boxes).iter().map(|p| p.index).collect();
        assert_eq!(idx, vec![0, 1, 3, 5, 7, 9, 11, 2, 4, 6, 8, 10, 12]);
    }

    #[test]
    fn a_table_is_read_row_by_row() {
        // Short cells in aligned columns with wide gaps: rows, not columns.
        let mut boxes = Vec::new();
        for row in 0..5 {
            let y = 40.0 + 30.0 * row as f64;
            boxes.push(rect(50.0, y, 120.0, 20.0));
            boxes.push(rect(400.0, y, 40.0, 20.0));
            boxes.push(rect(600.0, y, 60.0, 20.0));
        }
        let idx: Vec<usize> = reading_order(&boxes).iter().map(|p| p.index).collect();
        assert_eq!(idx, (0..15).collect::<Vec<_>>());
    }
}
