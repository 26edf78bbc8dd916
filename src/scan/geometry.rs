//! Plane geometry the scanner needs: convex hulls, minimum-area rotated rectangles
//! (rotating calipers), quadrilateral corner order and the homography that maps a rectangle
//! onto a quadrilateral (perspective crops).

/// A point in image coordinates (x right, y down).
pub type Point = [f64; 2];

fn cross(o: Point, a: Point, b: Point) -> f64 {
    (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
}

fn dist(a: Point, b: Point) -> f64 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}

/// Convex hull (Andrew's monotone chain), counter-clockwise in a y-up frame, without
/// collinear points. Fewer than three distinct points come back as they are (deduplicated).
pub fn convex_hull(points: &[Point]) -> Vec<Point> {
    let mut p: Vec<Point> = points.iter().copied().filter(|q| q[0].is_finite() && q[1].is_finite()).collect();
    p.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    p.dedup();
    if p.len() < 3 {
        return p;
    }
    let mut hull: Vec<Point> = Vec::with_capacity(2 * p.len());
    for pass in 0..2 {
        let start = hull.len();
        let iter: Box<dyn Iterator<Item = &Point>> =
            if pass == 0 { Box::new(p.iter()) } else { Box::new(p.iter().rev()) };
        for &q in iter {
            while hull.len() >= start + 2 && cross(hull[hull.len() - 2], hull[hull.len() - 1], q) <= 0.0 {
                hull.pop();
            }
            hull.push(q);
        }
        hull.pop();
    }
    hull
}

/// A rotated rectangle: centre, side lengths along its own axes, and the unit direction of
/// its `width` side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RotatedRect {
    pub center: Point,
    pub width: f64,
    pub height: f64,
    pub dir: Point,
}

impl RotatedRect {
    /// Its four corners.
    pub fn corners(&self) -> [Point; 4] {
        let (u, v) = (self.dir, [-self.dir[1], self.dir[0]]);
        let (hw, hh) = (self.width / 2.0, self.height / 2.0);
        let c = self.center;
        let at = |a: f64, b: f64| [c[0] + u[0] * a + v[0] * b, c[1] + u[1] * a + v[1] * b];
        [at(-hw, -hh), at(hw, -hh), at(hw, hh), at(-hw, hh)]
    }

    /// The same rectangle grown by `d` on every side.
    pub fn grown(&self, d: f64) -> RotatedRect {
        RotatedRect { width: self.width + 2.0 * d, height: self.height + 2.0 * d, ..*self }
    }

    pub fn short_side(&self) -> f64 {
        self.width.min(self.height)
    }
}

/// The smallest-area rectangle containing `points` (one side of it lies on a hull edge).
/// `None` for no points; one point or a segment give a degenerate (zero-sided) rectangle.
pub fn min_area_rect(points: &[Point]) -> Option<RotatedRect> {
    let hull = convex_hull(points);
    match hull.len() {
        0 => return None,
        1 => return Some(RotatedRect { center: hull[0], width: 0.0, height: 0.0, dir: [1.0, 0.0] }),
        _ => {}
    }
    let mut best: Option<(f64, RotatedRect)> = None;
    for i in 0..hull.len() {
        let (a, b) = (hull[i], hull[(i + 1) % hull.len()]);
        let len = dist(a, b);
        if len == 0.0 {
            continue;
        }
        let u = [(b[0] - a[0]) / len, (b[1] - a[1]) / len];
        let v = [-u[1], u[0]];
        let (mut lo_u, mut hi_u, mut lo_v, mut hi_v) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for q in &hull {
            let (pu, pv) = (q[0] * u[0] + q[1] * u[1], q[0] * v[0] + q[1] * v[1]);
            lo_u = lo_u.min(pu);
            hi_u = hi_u.max(pu);
            lo_v = lo_v.min(pv);
            hi_v = hi_v.max(pv);
        }
        let area = (hi_u - lo_u) * (hi_v - lo_v);
        if best.as_ref().is_none_or(|(a, _)| area < *a) {
            let (cu, cv) = ((lo_u + hi_u) / 2.0, (lo_v + hi_v) / 2.0);
            let center = [u[0] * cu + v[0] * cv, u[1] * cu + v[1] * cv];
            best = Some((area, RotatedRect { center, width: hi_u - lo_u, height: hi_v - lo_v, dir: u }));
        }
    }
    best.map(|(_, r)| r)
}

/// Orders four corners as top-left, top-right, bottom-right, bottom-left: the two leftmost
/// points are the left side (upper one first), the other two the right side.
pub fn order_corners(mut p: [Point; 4]) -> [Point; 4] {
    p.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    let (l0, l1) = if p[0][1] <= p[1][1] { (p[0], p[1]) } else { (p[1], p[0]) };
    let (r0, r1) = if p[2][1] <= p[3][1] { (p[2], p[3]) } else { (p[3], p[2]) };
    [l0, r0, r1, l1]
}

/// Area of a simple polygon (shoelace, absolute value).
pub fn polygon_area(p: &[Point]) -> f64 {
    let n = p.len();
    (0..n).map(|i| p[i][0] * p[(i + 1) % n][1] - p[(i + 1) % n][0] * p[i][1]).sum::<f64>().abs() / 2.0
}

/// Perimeter of a closed polygon.
pub fn polygon_perimeter(p: &[Point]) -> f64 {
    (0..p.len()).map(|i| dist(p[i], p[(i + 1) % p.len()])).sum()
}

/// Whether `q` lies inside (or on) the convex quadrilateral `quad` (either winding).
pub fn in_convex_quad(quad: &[Point; 4], q: Point) -> bool {
    let s: Vec<f64> = (0..4).map(|i| cross(quad[i], quad[(i + 1) % 4], q)).collect();
    s.iter().all(|&v| v >= -1e-9) || s.iter().all(|&v| v <= 1e-9)
}

/// Side lengths of the rectangle a quadrilateral (tl, tr, br, bl) is straightened into: the
/// longer of each pair of opposite sides.
pub fn quad_size(q: &[Point; 4]) -> (f64, f64) {
    (dist(q[0], q[1]).max(dist(q[3], q[2])), dist(q[0], q[3]).max(dist(q[1], q[2])))
}

/// The homography taking the rectangle `(0,0) (w,0) (w,h) (0,h)` onto `quad` (tl, tr, br,
/// bl), as a row-major 3×3 matrix with `m[8] = 1`; `None` when the quadrilateral is
/// degenerate.
pub fn rect_to_quad(w: f64, h: f64, quad: &[Point; 4]) -> Option<[f64; 9]> {
    let src = [[0.0, 0.0], [w, 0.0], [w, h], [0.0, h]];
    // Eight equations in the unknowns m0..m7: for each pair (x, y) → (u, v):
    // u = (m0 x + m1 y + m2) / (m6 x + m7 y + 1), v = (m3 x + m4 y + m5) / (m6 x + m7 y + 1).
    let mut a = [[0f64; 9]; 8];
    for i in 0..4 {
        let ([x, y], [u, v]) = (src[i], quad[i]);
        a[2 * i] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
        a[2 * i + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
    }
    // Gaussian elimination with partial pivoting.
    for col in 0..8 {
        let pivot = (col..8).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        let pivot_row = a[col];
        for (r, row) in a.iter_mut().enumerate() {
            if r != col {
                let f = row[col] / pivot_row[col];
                for (v, p) in row.iter_mut().zip(pivot_row).skip(col) {
                    *v -= f * p;
                }
            }
        }
    }
    let mut m = [0f64; 9];
    for i in 0..8 {
        m[i] = a[i][8] / a[i][i];
    }
    m[8] = 1.0;
    m.iter().all(|v| v.is_finite()).then_some(m)
}

/// Applies a homography to a point.
pub fn project(m: &[f64; 9], p: Point) -> Point {
    let d = m[6] * p[0] + m[7] * p[1] + m[8];
    [(m[0] * p[0] + m[1] * p[1] + m[2]) / d, (m[3] * p[0] + m[4] * p[1] + m[5]) / d]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    #[test]
    fn hull_drops_inner_and_collinear_points() {
        let pts = [[0.0, 0.0], [2.0, 0.0], [1.0, 0.0], [2.0, 2.0], [0.0, 2.0], [1.0, 1.0], [0.0, 2.0]];
        let h = convex_hull(&pts);
        assert_eq!(h.len(), 4);
        assert!(close(polygon_area(&h), 4.0));
        assert!(close(polygon_perimeter(&h), 8.0));
    }

    #[test]
    fn min_area_rect_of_a_rotated_rectangle() {
        // A 10 × 2 rectangle turned by 30°.
        let (c, s) = (30f64.to_radians().cos(), 30f64.to_radians().sin());
        let pts: Vec<Point> = [[-5.0, -1.0], [5.0, -1.0], [5.0, 1.0], [-5.0, 1.0], [0.0, 0.5]]
            .iter()
            .map(|p| [100.0 + c * p[0] - s * p[1], 50.0 + s * p[0] + c * p[1]])
            .collect();
        let r = min_area_rect(&pts).unwrap();
        let (long, short) = (r.width.max(r.height), r.width.min(r.height));
        assert!(close(long, 10.0) && close(short, 2.0), "{r:?}");
        assert!(close(r.center[0], 100.0) && close(r.center[1], 50.0));
        assert!(close(polygon_area(&r.corners()), 20.0));
        let g = r.grown(1.0);
        assert!(close(g.short_side(), 4.0));
        assert_eq!(min_area_rect(&[]), None);
        assert_eq!(min_area_rect(&[[1.0, 1.0]]).unwrap().width, 0.0);
    }

    #[test]
    fn corners_ordered_and_inside_test() {
        let q = order_corners([[10.0, 9.0], [0.0, 0.0], [0.0, 10.0], [11.0, 1.0]]);
        assert_eq!(q, [[0.0, 0.0], [11.0, 1.0], [10.0, 9.0], [0.0, 10.0]]);
        assert!(in_convex_quad(&q, [5.0, 5.0]));
        assert!(!in_convex_quad(&q, [12.0, 5.0]));
        assert_eq!(quad_size(&q).1, 10.0);
    }

    #[test]
    fn homography_maps_the_corners() {
        let quad = [[10.0, 20.0], [110.0, 25.0], [105.0, 70.0], [12.0, 60.0]];
        let m = rect_to_quad(50.0, 20.0, &quad).unwrap();
        for (p, q) in [[0.0, 0.0], [50.0, 0.0], [50.0, 20.0], [0.0, 20.0]].iter().zip(quad) {
            let r = project(&m, *p);
            assert!(close(r[0], q[0]) && close(r[1], q[1]), "{r:?} vs {q:?}");
        }
        assert!(rect_to_quad(50.0, 20.0, &[[0.0, 0.0]; 4]).is_none());
    }
}
