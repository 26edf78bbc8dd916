//! Turned Aztec codes: finding their bull's-eyes so the decoder can be handed each one
//! upright and centred.
//!
//! Why: rxing's Aztec detector (ZXing's, ported) seeds its search from the middle of the
//! image it is given and samples the bull's-eye along the image axes; a ticket lying 15–20°
//! off upright, or away from the middle of the frame, is not read (2 of the 60 QR-set scenes,
//! both read by zxing-wasm; de-rotated by hand, both read). A bull's-eye is 9 (compact) or 13
//! (full) alternating square rings one module wide around a dark centre module, so along any
//! line through its centre the binarised runs have one length, dark in the middle, whatever
//! the rotation. Rows find such runs, the column and the 45° diagonal through each confirm it
//! (a grid or a checkerboard passes rows and columns, not the diagonal), the gradient
//! directions around it give its rotation, and the decoder gets a square crop around it,
//! turned upright. The search costs about 1 ms on a 1280x720 frame natively, and about 55 ms
//! on the worst texture of the scene set (a fine grid filling a 1920x1080 frame, qr/0002),
//! where every row passes the first two tests.

use crate::scan::geometry::Point;
use crate::scan::luma::Luma;
use rxing::common::BitMatrix;

/// A bull's-eye candidate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bullseye {
    /// Centre in image pixels.
    pub center: Point,
    /// Module size in pixels (along the image rows, so up to √2 larger for a code turned 45°).
    pub module: f64,
    /// Rows that crossed it: more is surer.
    pub votes: usize,
}

/// Runs through the centre that the pattern needs: the centre module and four rings either
/// side. The outermost ring of a compact bull's-eye touches the mode message, whose dark
/// modules merge with it, so only the inner seven runs must be one module long and the two
/// outer (dark) ones at least half a module.
const RUNS: usize = 9;

/// Candidate clusters kept (bounds the work and memory on a texture that passed all three
/// tests everywhere; none of the scene set's textures does).
const MAX_CLUSTERS: usize = 512;

/// Bull's-eye candidates in a binarised image (true = dark), most votes first, at most `max`.
pub fn find(bits: &BitMatrix, max: usize) -> Vec<Bullseye> {
    let (w, h) = (bits.width() as usize, bits.height() as usize);
    let mut hits: Vec<Bullseye> = Vec::new();
    let mut runs: Vec<(usize, usize, bool)> = Vec::new();
    for y in 0..h {
        row_runs(|x| bits.get(x as u32, y as u32), w, &mut runs);
        for i in 0..runs.len() {
            let Some(window) = (i >= RUNS / 2).then(|| runs.get(i - RUNS / 2..=i + RUNS / 2)).flatten()
            else {
                continue;
            };
            if !runs[i].2 {
                continue;
            }
            let Some(module) = even_runs(window) else { continue };
            let cx = runs[i].0 as f64 + runs[i].1 as f64 / 2.0;
            let Some((cy, module_v)) = column_centre(bits, cx as usize, y, h, module) else { continue };
            if module_v < module / 1.5 || module_v > module * 1.5 {
                continue;
            }
            let module = (module + module_v) / 2.0;
            // Rings are squares: along the diagonal they cross the line too (a checkerboard or
            // a grid of stripes passes the row and column tests, not this one).
            let Some(module_d) = diagonal_module(bits, [cx, cy], w, h, module) else { continue };
            if module_d < module / 1.7 || module_d > module * 1.7 {
                continue;
            }
            let near = hits
                .iter()
                .position(|b| (b.center[0] - cx).hypot(b.center[1] - cy) < 1.5 * module.max(b.module));
            match near {
                Some(k) => {
                    let b = &mut hits[k];
                    let n = b.votes as f64;
                    b.center = [(b.center[0] * n + cx) / (n + 1.0), (b.center[1] * n + cy) / (n + 1.0)];
                    b.module = (b.module * n + module) / (n + 1.0);
                    b.votes += 1;
                }
                None if hits.len() < MAX_CLUSTERS => {
                    hits.push(Bullseye { center: [cx, cy], module, votes: 1 })
                }
                None => {}
            }
        }
    }
    // A centre module two or more pixels high is crossed by two or more rows; one row is noise.
    hits.retain(|b| b.votes >= 2);
    hits.sort_by_key(|b| std::cmp::Reverse(b.votes));
    hits.truncate(max);
    hits
}

/// The runs of one line as (start, length, dark).
fn row_runs(dark: impl Fn(usize) -> bool, n: usize, runs: &mut Vec<(usize, usize, bool)>) {
    runs.clear();
    let mut start = 0;
    while start < n {
        let d = dark(start);
        let mut end = start + 1;
        while end < n && dark(end) == d {
            end += 1;
        }
        runs.push((start, end - start, d));
        start = end;
    }
}

/// The module size when `window` (nine runs in line order) fits the pattern: the inner seven
/// one length (each within half a module of their mean; a module of at least 2 pixels), the
/// outer two at least half a module; else `None`.
fn even_runs(window: &[(usize, usize, bool)]) -> Option<f64> {
    let inner = &window[1..window.len() - 1];
    let module = inner.iter().map(|r| r.1).sum::<usize>() as f64 / inner.len() as f64;
    if module < 2.0 {
        return None;
    }
    let even = inner.iter().all(|r| (r.1 as f64 - module).abs() <= 0.5 * module + 0.5);
    let outer = [window[0].1, window[window.len() - 1].1].iter().all(|&l| l as f64 >= 0.5 * module);
    (even && outer).then_some(module)
}

/// The pattern test along a line through a dark pixel: `dark(k)` for the steps `k` in `0..n`,
/// starting at step `at`. No run is followed further than `limit` steps: a run that long is no
/// ring (the outermost dark one, which may merge with the mode message, is only cut there), and
/// texture must not cost a walk across the image. Returns the centre run's middle and the
/// module size, in steps.
fn pattern_through(dark: impl Fn(usize) -> bool, at: usize, n: usize, limit: usize) -> Option<(f64, f64)> {
    if at >= n || !dark(at) {
        return None;
    }
    let mut top = at;
    while top > 0 && at - top <= limit && dark(top - 1) {
        top -= 1;
    }
    let mut bottom = at + 1;
    while bottom < n && bottom - top <= limit && dark(bottom) {
        bottom += 1;
    }
    if bottom - top > limit {
        return None;
    }
    let mut before = Vec::with_capacity(RUNS / 2);
    let mut after = Vec::with_capacity(RUNS / 2);
    let (mut up, mut down) = (top, bottom);
    for ring in 1..=RUNS / 2 {
        if up == 0 || down >= n {
            return None;
        }
        let d = dark(up - 1);
        let start = up;
        while up > 0 && start - up <= limit && dark(up - 1) == d {
            up -= 1;
        }
        let d2 = dark(down);
        let start2 = down;
        while down < n && down - start2 <= limit && dark(down) == d2 {
            down += 1;
        }
        if ring < RUNS / 2 && (start - up > limit || down - start2 > limit) {
            return None;
        }
        before.push((up, start - up, d));
        after.push((start2, down - start2, d2));
    }
    let window: Vec<_> = before.into_iter().rev().chain([(top, bottom - top, true)]).chain(after).collect();
    let module = even_runs(&window)?;
    Some((top as f64 + (bottom - top) as f64 / 2.0, module))
}

/// Longest run followed along a column or diagonal, for a module of `module` pixels along the
/// row: a ring crosses any line through the centre in at most √2 times its width.
fn walk_limit(module: f64) -> usize {
    (2.0 * module).ceil() as usize + 2
}

/// The same test down the column through `x`: the centre of the dark run containing row `y`
/// and the module size.
fn column_centre(bits: &BitMatrix, x: usize, y: usize, h: usize, module: f64) -> Option<(f64, f64)> {
    pattern_through(|yy| bits.get(x as u32, yy as u32), y, h, walk_limit(module))
}

/// The module size along the 45° diagonal through `c` (steps of √2 pixels), when it fits the
/// pattern too.
fn diagonal_module(bits: &BitMatrix, c: Point, w: usize, h: usize, module: f64) -> Option<f64> {
    let (x0, y0) = (c[0] as i64, c[1] as i64);
    // Step k of the diagonal is (x0 - back + k, y0 - back + k); `back` steps before the centre.
    let back = x0.min(y0);
    let n = ((w as i64 - x0).min(h as i64 - y0) + back).max(0) as usize;
    let dark = |k: usize| bits.get((x0 - back + k as i64) as u32, (y0 - back + k as i64) as u32);
    pattern_through(dark, back as usize, n, walk_limit(module)).map(|(_, m)| m * std::f64::consts::SQRT_2)
}

/// The rotation of the rings around a bull's-eye, in radians in (−π/4, π/4]: the dominant
/// gradient direction modulo 90° (angles times four, weighted by gradient strength), within
/// five modules of the centre.
pub fn rotation(img: &Luma, b: &Bullseye) -> f64 {
    let r = (5.0 * b.module).ceil() as i64;
    let (cx, cy) = (b.center[0].round() as i64, b.center[1].round() as i64);
    let (mut c, mut s) = (0.0f64, 0.0f64);
    for y in (cy - r).max(1)..(cy + r).min(img.height as i64 - 1) {
        for x in (cx - r).max(1)..(cx + r).min(img.width as i64 - 1) {
            let (gx, gy) = img.sobel(x as usize, y as usize);
            let (gx, gy) = (f64::from(gx), f64::from(gy));
            let m2 = gx * gx + gy * gy;
            if m2 == 0.0 {
                continue;
            }
            // cos 4φ and sin 4φ from the gradient (gx, gy) = |g| (cos φ, sin φ), weighted by |g|².
            let (c2, s2) = (gx * gx - gy * gy, 2.0 * gx * gy);
            c += (c2 * c2 - s2 * s2) / m2;
            s += 2.0 * c2 * s2 / m2;
        }
    }
    s.atan2(c) / 4.0
}

/// A `2·radius`-pixel square crop centred on `center`, sampled turned by `angle` (the image's
/// content at `angle` comes out upright), bilinear, white outside the image; with the map from
/// crop coordinates back to image coordinates.
pub fn upright_crop(img: &Luma, center: Point, angle: f64, radius: usize) -> (Luma, impl Fn(Point) -> Point) {
    let side = 2 * radius;
    let (sin, cos) = angle.sin_cos();
    let r = radius as f64;
    let to_image = move |p: Point| {
        let (u, v) = (p[0] - r, p[1] - r);
        [center[0] + u * cos - v * sin, center[1] + u * sin + v * cos]
    };
    let mut data = Vec::with_capacity(side * side);
    for y in 0..side {
        for x in 0..side {
            let [sx, sy] = to_image([x as f64 + 0.5, y as f64 + 0.5]);
            data.push(bilinear(img, sx - 0.5, sy - 0.5));
        }
    }
    (Luma { width: side, height: side, data }, to_image)
}

fn bilinear(img: &Luma, x: f64, y: f64) -> u8 {
    if !(x >= 0.0 && y >= 0.0 && x <= (img.width - 1) as f64 && y <= (img.height - 1) as f64) {
        return 255;
    }
    let (x0, y0) = (x.floor() as usize, y.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(img.width - 1), (y0 + 1).min(img.height - 1));
    let (fx, fy) = (x - x0 as f64, y - y0 as f64);
    let p = |x: usize, y: usize| f64::from(img.at(x, y));
    let top = p(x0, y0) * (1.0 - fx) + p(x1, y0) * fx;
    let bottom = p(x0, y1) * (1.0 - fx) + p(x1, y1) * fx;
    (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8
}
