//! Finding the page in a camera frame: the quadrilateral of a sheet of paper, from a
//! downscaled grey frame.
//!
//! Why this way: a page border is four long straight edges with one consistent contrast
//! polarity (paper brighter or darker than what it lies on), while clutter, textures and the
//! text itself give short, scattered or inconsistent edges. So: gradient edges (thinned) →
//! a Hough transform voting only near each edge pixel's own gradient direction → the strongest
//! distinct lines → every quadrilateral from two near-parallel pairs → scored by how much of
//! each side is backed by an edge of the right direction and polarity. A second candidate
//! comes from the largest bright region (Otsu), which survives a weak or textured border; it
//! is scored the same way. A finger over an edge removes only part of a side, so a side needs
//! only part of its length supported. The winner's sides are then refitted at a finer scale.

use crate::scan::geometry::{convex_hull, order_corners, polygon_area, Point};
use crate::scan::luma::Luma;
use serde::Serialize;

/// Page finding settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PageOptions {
    /// Longest side of the downscaled frame the search runs on.
    pub max_side: usize,
    /// Smallest page, as a fraction of the frame area.
    pub min_area: f64,
    /// Smallest mean fraction of the sides backed by edges.
    pub min_support: f64,
    /// Smallest fraction of any one side backed by edges (occlusion, glare).
    pub min_side_support: f64,
}

impl Default for PageOptions {
    fn default() -> PageOptions {
        PageOptions { max_side: 320, min_area: 0.08, min_support: 0.55, min_side_support: 0.3 }
    }
}

/// A page found in a frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PageQuad {
    /// Corners in frame pixels: top-left, top-right, bottom-right, bottom-left.
    pub corners: [Point; 4],
    /// Mean fraction of the four sides backed by a page edge (0..=1).
    pub support: f64,
    /// The page's share of the frame area.
    pub area_fraction: f64,
}

/// Gradients of a (blurred) grey image: Sobel components.
struct Gradients {
    w: usize,
    h: usize,
    gx: Vec<f32>,
    gy: Vec<f32>,
    mag: Vec<f32>,
}

impl Gradients {
    fn new(img: &Luma) -> Gradients {
        let (w, h) = (img.width, img.height);
        let mut gx = vec![0f32; w * h];
        let mut gy = vec![0f32; w * h];
        let mut mag = vec![0f32; w * h];
        if w >= 3 && h >= 3 {
            for y in 1..h - 1 {
                for x in 1..w - 1 {
                    let (sx, sy) = img.sobel(x, y);
                    let i = y * w + x;
                    gx[i] = sx;
                    gy[i] = sy;
                    mag[i] = sx.hypot(sy);
                }
            }
        }
        Gradients { w, h, gx, gy, mag }
    }

    /// The edge threshold: strong enough to skip paper grain and sensor noise, low enough for a
    /// white page on a light desk (half the 85th percentile: printed text, far stronger than a
    /// low-contrast page border, must not set it).
    fn threshold(&self) -> f32 {
        let mut m: Vec<f32> = self.mag.iter().copied().filter(|&v| v > 0.0).collect();
        if m.is_empty() {
            return f32::MAX;
        }
        let k = (m.len() * 85 / 100).min(m.len() - 1);
        m.select_nth_unstable_by(k, f32::total_cmp);
        (0.5 * m[k]).clamp(30.0, 90.0)
    }

    /// Thin edges: pixels above `t` that are local maxima along their gradient direction.
    fn thin_edges(&self, t: f32) -> Vec<usize> {
        let (w, h) = (self.w, self.h);
        let mut out = Vec::new();
        for y in 1..h.saturating_sub(1) {
            for x in 1..w.saturating_sub(1) {
                let i = y * w + x;
                let m = self.mag[i];
                if m < t {
                    continue;
                }
                let (ax, ay) = (self.gx[i].abs(), self.gy[i].abs());
                // Neighbours along the gradient, quantised to 0°, 45°, 90°, 135°.
                let (a, b) = if ay <= 0.414 * ax {
                    (i - 1, i + 1)
                } else if ax <= 0.414 * ay {
                    (i - w, i + w)
                } else if (self.gx[i] > 0.0) == (self.gy[i] > 0.0) {
                    (i - w - 1, i + w + 1)
                } else {
                    (i - w + 1, i + w - 1)
                };
                if m >= self.mag[a] && m >= self.mag[b] {
                    out.push(i);
                }
            }
        }
        out
    }
}

/// A line `x·cos θ + y·sin θ = ρ` (θ the normal's angle in radians, 0..π).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Line {
    theta: f64,
    rho: f64,
    votes: u32,
}

const THETA_BINS: usize = 180;

/// Hough lines: each edge pixel votes for the angles within ±3° of its gradient direction.
fn hough_lines(g: &Gradients, edges: &[usize], max_lines: usize, min_votes: u32) -> Vec<Line> {
    let diag = ((g.w * g.w + g.h * g.h) as f64).sqrt().ceil() as usize;
    // ρ from −w (θ near π) to diag.
    let offset = g.w;
    let rho_bins = offset + diag + 1;
    let mut acc = vec![0u32; THETA_BINS * rho_bins];
    let trig: Vec<(f64, f64)> =
        (0..THETA_BINS).map(|t| (t as f64).to_radians()).map(|a| (a.cos(), a.sin())).collect();
    for &i in edges {
        let (x, y) = ((i % g.w) as f64, (i / g.w) as f64);
        let phi = f64::from(g.gy[i]).atan2(f64::from(g.gx[i])).to_degrees().rem_euclid(180.0);
        let centre = phi.round() as i64;
        for d in -3..=3 {
            let t = (centre + d).rem_euclid(THETA_BINS as i64) as usize;
            let (c, s) = trig[t];
            let r = (x * c + y * s).round() as i64 + offset as i64;
            if (0..rho_bins as i64).contains(&r) {
                acc[t * rho_bins + r as usize] += 1;
            }
        }
    }
    let mut cells: Vec<(u32, usize)> =
        acc.iter().enumerate().filter(|(_, &v)| v >= min_votes).map(|(i, &v)| (v, i)).collect();
    cells.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut lines: Vec<Line> = Vec::new();
    // Text rows give many lines of one direction: at most `PER_DIRECTION` lines within 15° of
    // each other, so the page's other sides still get in.
    const PER_DIRECTION: usize = 6;
    for (votes, i) in cells {
        let (t, r) = (i / rho_bins, i % rho_bins);
        let theta = (t as f64).to_radians();
        let rho = r as f64 - offset as f64;
        let close = lines.iter().any(|l| {
            let dt = angle_diff(l.theta, theta);
            // A line near θ = 0 is the same as one near θ = π with ρ negated.
            let same_rho = if (l.theta - theta).abs() > std::f64::consts::FRAC_PI_2 { -rho } else { rho };
            dt < 6f64.to_radians() && (l.rho - same_rho).abs() < 8.0
        });
        let crowded = lines.iter().filter(|l| angle_diff(l.theta, theta) < 15f64.to_radians()).count();
        if !close && crowded < PER_DIRECTION {
            lines.push(Line { theta, rho, votes });
            if lines.len() == max_lines {
                break;
            }
        }
    }
    lines
}

/// Angle between two line normals, ignoring direction (0..=π/2).
fn angle_diff(a: f64, b: f64) -> f64 {
    let d = (a - b).rem_euclid(std::f64::consts::PI);
    d.min(std::f64::consts::PI - d)
}

fn intersect(a: &Line, b: &Line) -> Option<Point> {
    let (c1, s1, c2, s2) = (a.theta.cos(), a.theta.sin(), b.theta.cos(), b.theta.sin());
    let det = c1 * s2 - s1 * c2;
    if det.abs() < 1e-6 {
        return None;
    }
    Some([(a.rho * s2 - b.rho * s1) / det, (c1 * b.rho - c2 * a.rho) / det])
}

fn is_convex(q: &[Point; 4]) -> bool {
    let mut sign = 0.0;
    for i in 0..4 {
        let (a, b, c) = (q[i], q[(i + 1) % 4], q[(i + 2) % 4]);
        let z = (b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0]);
        if z.abs() < 1e-9 || (sign != 0.0 && z.signum() != sign) {
            return false;
        }
        sign = z.signum();
    }
    true
}

/// A side's length and its unit normal pointing into the quadrilateral (towards `centre`).
fn side_frame(a: Point, b: Point, centre: Point) -> (f64, Point) {
    let len = (b[0] - a[0]).hypot(b[1] - a[1]);
    let (ux, uy) = ((b[0] - a[0]) / len.max(1e-12), (b[1] - a[1]) / len.max(1e-12));
    let mid = [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0];
    let inward = (centre[0] - mid[0]) * -uy + (centre[1] - mid[1]) * ux >= 0.0;
    (len, if inward { [-uy, ux] } else { [uy, -ux] })
}

/// Fractions of each side backed by edges of one polarity (brighter inside, then brighter
/// outside). Samples falling outside the image count neither way; a side mostly outside the
/// image gets no support.
fn side_support(g: &Gradients, q: &[Point; 4], t: f32) -> [[f64; 4]; 2] {
    let centre = [q.iter().map(|p| p[0]).sum::<f64>() / 4.0, q.iter().map(|p| p[1]).sum::<f64>() / 4.0];
    let mut out = [[0.0; 4]; 2];
    for s in 0..4 {
        let (a, b) = (q[s], q[(s + 1) % 4]);
        let (len, [nx, ny]) = side_frame(a, b, centre);
        if len < 4.0 {
            return [[0.0; 4]; 2];
        }
        let n = ((len / 2.0) as usize).clamp(8, 200);
        let (mut inside, mut pos, mut neg) = (0usize, 0usize, 0usize);
        for k in 0..n {
            let f = 0.05 + 0.9 * (k as f64 + 0.5) / n as f64;
            let (px, py) = (a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f);
            if px < 1.0 || py < 1.0 || px >= (g.w - 1) as f64 || py >= (g.h - 1) as f64 {
                continue;
            }
            inside += 1;
            let (mut hit_pos, mut hit_neg) = (false, false);
            for o in -2..=2 {
                let (x, y) = ((px + nx * o as f64).round(), (py + ny * o as f64).round());
                if x < 0.0 || y < 0.0 || x >= g.w as f64 || y >= g.h as f64 {
                    continue;
                }
                let i = y as usize * g.w + x as usize;
                let m = g.mag[i];
                if m < 0.7 * t {
                    continue;
                }
                let along = (f64::from(g.gx[i]) * nx + f64::from(g.gy[i]) * ny) / f64::from(m);
                if along > 0.85 {
                    hit_pos = true;
                } else if along < -0.85 {
                    hit_neg = true;
                }
            }
            pos += usize::from(hit_pos);
            neg += usize::from(hit_neg);
        }
        if inside * 2 < n {
            continue;
        }
        out[0][s] = pos as f64 / inside as f64;
        out[1][s] = neg as f64 / inside as f64;
    }
    out
}

/// Longest page side against its shorter one (mean of opposite sides). A4 is 1.41, a
/// business card 1.75, a long receipt in one photo about 3–4; a line of bold text gives the
/// edge finder a "page" of 8–12 (a 819×88 scanned line of UW-III: 657×54).
pub const MAX_PAGE_ASPECT: f64 = 4.5;

/// A scored candidate in downscaled coordinates.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    quad: [Point; 4],
    score: f64,
    support: f64,
}

fn score(g: &Gradients, q: [Point; 4], t: f32, o: &PageOptions) -> Option<Candidate> {
    let q = order_corners(q);
    if !is_convex(&q) {
        return None;
    }
    let (w, h) = (g.w as f64, g.h as f64);
    let area = polygon_area(&q);
    if area < o.min_area * w * h || area > 1.02 * w * h {
        return None;
    }
    let margin = 0.08 * w.max(h);
    if q.iter().any(|p| p[0] < -margin || p[1] < -margin || p[0] > w + margin || p[1] > h + margin) {
        return None;
    }
    // Corner angles between 45° and 135°: a page seen in perspective, not a sliver.
    for i in 0..4 {
        let (a, b, c) = (q[(i + 3) % 4], q[i], q[(i + 1) % 4]);
        let (v1, v2) = ([a[0] - b[0], a[1] - b[1]], [c[0] - b[0], c[1] - b[1]]);
        let cos = (v1[0] * v2[0] + v1[1] * v2[1]) / (v1[0].hypot(v1[1]) * v2[0].hypot(v2[1]));
        if cos.is_nan() || cos.abs() > 0.71 {
            return None;
        }
    }
    let lens: Vec<f64> =
        (0..4).map(|s| (q[(s + 1) % 4][0] - q[s][0]).hypot(q[(s + 1) % 4][1] - q[s][1])).collect();
    let (across, down) = (lens[0] + lens[2], lens[1] + lens[3]);
    if across.max(down) > MAX_PAGE_ASPECT * across.min(down) {
        return None;
    }
    let sup = side_support(g, &q, t);
    let best = (0..2)
        .map(|p| {
            let fr = sup[p];
            let min = fr.iter().copied().fold(f64::MAX, f64::min);
            let mean = fr.iter().sum::<f64>() / 4.0;
            let backed: f64 = fr.iter().zip(&lens).map(|(f, l)| f * l).sum();
            (min, mean, backed)
        })
        .max_by(|a, b| a.2.total_cmp(&b.2))?;
    let (min, mean, backed) = best;
    if min < o.min_side_support || mean < o.min_support {
        return None;
    }
    Some(Candidate { quad: q, score: backed * mean, support: mean })
}

/// The `p`-th percentile of grey values.
fn percentile(v: &[u8], p: usize) -> u8 {
    let mut hist = [0usize; 256];
    for &x in v {
        hist[x as usize] += 1;
    }
    let target = v.len() * p / 100;
    let mut acc = 0;
    for (i, &c) in hist.iter().enumerate() {
        acc += c;
        if acc > target {
            return i as u8;
        }
    }
    255
}

/// Mean grey level inside a quadrilateral, from a 16 × 16 grid of points mapped into it (the
/// outer sixth of each side left out: borders, shadows and fingers).
fn mean_inside(img: &Luma, q: &[Point; 4]) -> f64 {
    let Some(m) = crate::scan::geometry::rect_to_quad(1.0, 1.0, q) else { return 0.0 };
    let (mut sum, mut n) = (0.0, 0usize);
    for i in 0..16 {
        for j in 0..16 {
            let u = 1.0 / 6.0 + (2.0 / 3.0) * (i as f64 + 0.5) / 16.0;
            let v = 1.0 / 6.0 + (2.0 / 3.0) * (j as f64 + 0.5) / 16.0;
            let p = crate::scan::geometry::project(&m, [u, v]);
            if p[0] >= 0.0 && p[1] >= 0.0 && (p[0] as usize) < img.width && (p[1] as usize) < img.height {
                sum += f64::from(img.at(p[0] as usize, p[1] as usize));
                n += 1;
            }
        }
    }
    if n == 0 {
        0.0
    } else {
        sum / n as f64
    }
}

/// Otsu's threshold of a grey image.
fn otsu(img: &Luma) -> u8 {
    let mut hist = [0u64; 256];
    for &v in &img.data {
        hist[v as usize] += 1;
    }
    let total = img.data.len() as f64;
    let sum_all: f64 = hist.iter().enumerate().map(|(v, &c)| v as f64 * c as f64).sum();
    let (mut w0, mut sum0, mut best, mut best_t) = (0.0, 0.0, -1.0, 128u8);
    for (t, &c) in hist.iter().enumerate() {
        w0 += c as f64;
        sum0 += t as f64 * c as f64;
        let w1 = total - w0;
        if w0 == 0.0 || w1 == 0.0 {
            continue;
        }
        let (m0, m1) = (sum0 / w0, (sum_all - sum0) / w1);
        let between = w0 * w1 * (m0 - m1) * (m0 - m1);
        if between > best {
            best = between;
            best_t = t as u8;
        }
    }
    best_t
}

/// The largest 4-connected region above (or below) Otsu's threshold, as its hull's largest
/// inscribed quadrilateral.
fn region_quads(img: &Luma) -> Vec<[Point; 4]> {
    let t = otsu(img);
    let (w, h) = (img.width, img.height);
    let mut out = Vec::new();
    for bright in [true, false] {
        let fg: Vec<bool> = img.data.iter().map(|&v| (v > t) == bright).collect();
        let mut label = vec![u32::MAX; w * h];
        let (mut best_len, mut best_pts): (usize, Vec<Point>) = (0, Vec::new());
        let mut stack = Vec::new();
        for start in 0..w * h {
            if !fg[start] || label[start] != u32::MAX {
                continue;
            }
            label[start] = start as u32;
            stack.push(start);
            let mut count = 0usize;
            let mut boundary: Vec<Point> = Vec::new();
            while let Some(i) = stack.pop() {
                count += 1;
                let (x, y) = (i % w, i / w);
                let mut edge = x == 0 || y == 0 || x == w - 1 || y == h - 1;
                let mut visit = |j: usize, stack: &mut Vec<usize>| {
                    if fg[j] {
                        if label[j] == u32::MAX {
                            label[j] = start as u32;
                            stack.push(j);
                        }
                    } else {
                        edge = true;
                    }
                };
                if x > 0 {
                    visit(i - 1, &mut stack);
                }
                if x + 1 < w {
                    visit(i + 1, &mut stack);
                }
                if y > 0 {
                    visit(i - w, &mut stack);
                }
                if y + 1 < h {
                    visit(i + w, &mut stack);
                }
                if edge {
                    boundary.push([x as f64 + 0.5, y as f64 + 0.5]);
                }
            }
            if count > best_len {
                best_len = count;
                best_pts = boundary;
            }
        }
        if best_len * 12 < w * h {
            continue;
        }
        if let Some(q) = largest_inscribed_quad(&convex_hull(&best_pts)) {
            out.push(q);
        }
    }
    out
}

/// The quadrilateral of largest area with its corners on the hull's vertices (the hull
/// thinned to at most 48 vertices first).
fn largest_inscribed_quad(hull: &[Point]) -> Option<[Point; 4]> {
    if hull.len() < 4 {
        return None;
    }
    let step = hull.len().div_ceil(48);
    let v: Vec<Point> = hull.iter().step_by(step).copied().collect();
    let n = v.len();
    if n < 4 {
        return None;
    }
    let tri = |a: Point, b: Point, c: Point| {
        ((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])).abs() / 2.0
    };
    let mut best: Option<(f64, [Point; 4])> = None;
    for i in 0..n {
        for k in i + 2..n {
            // The farthest vertex from the diagonal on each side.
            let side = |range: &mut dyn Iterator<Item = usize>| {
                range.map(|j| (tri(v[i], v[k], v[j]), j)).max_by(|a, b| a.0.total_cmp(&b.0))
            };
            let Some((a1, j)) = side(&mut (i + 1..k)) else { continue };
            let Some((a2, l)) = side(&mut (k + 1..n).chain(0..i)) else { continue };
            if best.as_ref().is_none_or(|b| a1 + a2 > b.0) {
                best = Some((a1 + a2, [v[i], v[j], v[k], v[l]]));
            }
        }
    }
    best.map(|b| b.1)
}

/// Finds the page in a grey frame; `None` when nothing page-like is there.
pub fn find_page(frame: &Luma, o: &PageOptions) -> Option<PageQuad> {
    let f = frame.factor_for(o.max_side);
    let small = frame.shrink(f).blurred();
    if small.width < 16 || small.height < 16 {
        return None;
    }
    let g = Gradients::new(&small);
    let t = g.threshold();
    let edges = g.thin_edges(t);
    let min_votes = (small.width.min(small.height) / 8).max(8) as u32;
    let lines = hough_lines(&g, &edges, 18, min_votes);
    let mut cands: Vec<Candidate> = Vec::new();
    let parallel = 35f64.to_radians();
    let mut pairs = Vec::new();
    for i in 0..lines.len() {
        for j in i + 1..lines.len() {
            if angle_diff(lines[i].theta, lines[j].theta) <= parallel {
                pairs.push((i, j));
            }
        }
    }
    for (pi, &(a, b)) in pairs.iter().enumerate() {
        for &(c, d) in &pairs[pi + 1..] {
            if a == c || a == d || b == c || b == d {
                continue;
            }
            if angle_diff(lines[a].theta, lines[c].theta) < 45f64.to_radians() {
                continue;
            }
            let corners = [
                intersect(&lines[a], &lines[c]),
                intersect(&lines[c], &lines[b]),
                intersect(&lines[b], &lines[d]),
                intersect(&lines[d], &lines[a]),
            ];
            if let [Some(p0), Some(p1), Some(p2), Some(p3)] = corners {
                cands.extend(score(&g, [p0, p1, p2, p3], t, o));
            }
        }
    }
    for q in region_quads(&small) {
        cands.extend(score(&g, q, t, o));
    }
    // Paper is light: the page's interior must not be dark against the frame's highlights
    // (a dark book, a phone or a screen-off tablet has four good edges too).
    let bright = percentile(&small.data, 95).max(1);
    cands.retain(|c| {
        let inside = mean_inside(&small, &c.quad);
        inside >= 70.0 && inside >= 0.55 * f64::from(bright)
    });
    let best = cands.into_iter().max_by(|a, b| a.score.total_cmp(&b.score))?;
    let scale = f as f64;
    let corners = best.quad.map(|p| [(p[0] + 0.5) * scale - 0.5, (p[1] + 0.5) * scale - 0.5]);
    let corners = refine(frame, corners, scale).unwrap_or(corners);
    let area = polygon_area(&corners) / (frame.width * frame.height) as f64;
    Some(PageQuad { corners, support: best.support, area_fraction: area.min(1.0) })
}

/// Refits each side at a finer scale (the frame downscaled to at most 640 px, twice the search
/// size): strongest gradient of the side's direction within four coarse pixels of the coarse
/// line, a least-squares line through those points (worst fifth dropped, refitted), then the
/// corners as intersections. `None` (keep the coarse corners) when a side has too few points
/// or a corner would move by more than six coarse pixels.
fn refine(frame: &Luma, q: [Point; 4], coarse: f64) -> Option<[Point; 4]> {
    // 640 px: half-pixel precision of a 1280x720 frame's corners for a quarter of the cost of
    // full resolution (this stage was 80 % of page finding at full resolution).
    let f = frame.factor_for(640).max(1);
    let img = frame.shrink(f).blurred();
    let g = Gradients::new(&img);
    let s = f as f64;
    let to = |p: Point| [(p[0] + 0.5) / s - 0.5, (p[1] + 0.5) / s - 0.5];
    let qf: Vec<Point> = q.iter().map(|&p| to(p)).collect();
    // The coarse line's error: a pixel of ρ and up to a degree of θ over half a side.
    let reach = (coarse / s * 4.0).max(3.0);
    let centre = [qf.iter().map(|p| p[0]).sum::<f64>() / 4.0, qf.iter().map(|p| p[1]).sum::<f64>() / 4.0];
    let mut lines = Vec::with_capacity(4);
    for side in 0..4 {
        let (a, b) = (qf[side], qf[(side + 1) % 4]);
        let (len, [nx, ny]) = side_frame(a, b, centre);
        let n = (len as usize / 3).clamp(8, 300);
        let mut pts: Vec<(Point, f32, f64)> = Vec::new();
        for k in 0..n {
            let t = 0.08 + 0.84 * (k as f64 + 0.5) / n as f64;
            let (px, py) = (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t);
            let mut best: Option<(f32, Point, f64)> = None;
            let steps = (reach * 2.0) as i64;
            for o in -steps..=steps {
                let d = o as f64 / 2.0;
                let (x, y) = ((px + nx * d).round(), (py + ny * d).round());
                if x < 1.0 || y < 1.0 || x >= (g.w - 1) as f64 || y >= (g.h - 1) as f64 {
                    continue;
                }
                let i = y as usize * g.w + x as usize;
                let m = g.mag[i];
                let along =
                    (f64::from(g.gx[i]) * nx + f64::from(g.gy[i]) * ny).abs() / f64::from(m.max(1e-3));
                if along > 0.9 && best.as_ref().is_none_or(|b| m > b.0) {
                    best = Some((m, [x, y], along));
                }
            }
            if let Some((m, p, al)) = best {
                if m > 20.0 {
                    pts.push((p, m, al));
                }
            }
        }
        if pts.len() < n / 3 || pts.len() < 6 {
            return None;
        }
        let mut p: Vec<Point> = pts.iter().map(|x| x.0).collect();
        let mut line = fit_line(&p)?;
        let mut res: Vec<(f64, Point)> =
            p.iter().map(|q| ((q[0] * line.0 + q[1] * line.1 - line.2).abs(), *q)).collect();
        res.sort_by(|a, b| a.0.total_cmp(&b.0));
        res.truncate(res.len() * 4 / 5);
        p = res.into_iter().map(|r| r.1).collect();
        line = fit_line(&p)?;
        lines.push(Line { theta: line.1.atan2(line.0), rho: line.2, votes: 0 });
    }
    let mut out = [[0.0; 2]; 4];
    for i in 0..4 {
        let c = intersect(&lines[(i + 3) % 4], &lines[i])?;
        let back = [(c[0] + 0.5) * s - 0.5, (c[1] + 0.5) * s - 0.5];
        if (back[0] - q[i][0]).hypot(back[1] - q[i][1]) > 6.0 * coarse {
            return None;
        }
        out[i] = back;
    }
    Some(out)
}

/// Total least squares line through points: `(cos θ, sin θ, ρ)` with
/// `x cos θ + y sin θ = ρ`.
fn fit_line(p: &[Point]) -> Option<(f64, f64, f64)> {
    if p.len() < 2 {
        return None;
    }
    let n = p.len() as f64;
    let (mx, my) = (p.iter().map(|q| q[0]).sum::<f64>() / n, p.iter().map(|q| q[1]).sum::<f64>() / n);
    let (mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0);
    for q in p {
        let (dx, dy) = (q[0] - mx, q[1] - my);
        sxx += dx * dx;
        syy += dy * dy;
        sxy += dx * dy;
    }
    // Direction of the line: the principal axis; the normal is perpendicular to it.
    let angle = 0.5 * (2.0 * sxy).atan2(sxx - syy);
    let (c, s) = (-angle.sin(), angle.cos());
    let rho = mx * c + my * s;
    (c.is_finite() && s.is_finite() && rho.is_finite()).then_some((c, s, rho))
}

#[cfg(test)]
mod tests;
