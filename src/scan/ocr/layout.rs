//! Reading order of detected text boxes. The page's skew is estimated first (the median
//! direction of the long boxes) and box positions are measured along the text lines and
//! across them, so a tilted photo still reads row by row. Boxes whose centres lie within half
//! a line height of each other form one visual row (read left to right), rows run top to
//! bottom, and consecutive rows with a small vertical gap and overlapping horizontal extent
//! form a block (a paragraph, a heading, an address).

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
pub fn reading_order(boxes: &[[Point; 4]]) -> Vec<Placement> {
    let dir = text_direction(boxes);
    let ext: Vec<Extent> = boxes.iter().map(|q| extent(q, dir)).collect();
    let mut order: Vec<usize> = (0..boxes.len()).collect();
    order.sort_by(|&a, &b| ext[a].center_y.total_cmp(&ext[b].center_y));
    // Rows: a box joins the current row when its centre is within half the smaller height of
    // the row's mean centre.
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
    // Blocks: a new one when the gap to the previous row exceeds its line height or the rows
    // do not overlap horizontally.
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
    let mut out = Vec::with_capacity(boxes.len());
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
}
